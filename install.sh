#!/usr/bin/env bash
# Installs siem-agent on a Debian/Ubuntu/RHEL-like host with Node.js 20.18+.
#   install.sh [--prefix DIR] [--cron [--mailto ADDR] | --systemd] [--config PATH] [--user NAME] [--flags "AGENT FLAGS"]
#   install.sh [--prefix DIR] --uninstall
# Idempotent: running it twice with the same arguments changes nothing. --prefix installs under
# another root (the tests use it); users are created and systemd is touched only when it is /.
# --mailto: where cron mails the job's errors and warnings (default root, or the MAILTO already there).
# The cron file is 0600 (it may hold SIEM_AGENT_PROXY_PASSWORD); the unit reads that from
# /etc/default/siem-agent, which install.sh never creates, writes or removes.
set -euo pipefail

PREFIX=/
MODE=none
CONFIG=/etc/siem-agent/config.json
USER_NAME=siem-agent
FLAGS=""
UNINSTALL=0
MAILTO=""
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --cron) MODE=cron; shift ;;
    --systemd) MODE=systemd; shift ;;
    --config) CONFIG="$2"; shift 2 ;;
    --user) USER_NAME="$2"; shift 2 ;;
    --flags) FLAGS="$2"; shift 2 ;;
    --mailto) MAILTO="$2"; shift 2 ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 1 ;;
  esac
done
[ "$MODE" = cron ] || [ "$MODE" = systemd ] || [ "$MODE" = none ] || exit 1
# one word of mail addresses: anything else would be cron syntax in the cron file
check_mailto() { case "$1" in *[!A-Za-z0-9@._+,-]*) echo "install.sh: --mailto: not a mail address list: $1" >&2; exit 1 ;; esac; }
check_mailto "$MAILTO"
PREFIX="${PREFIX%/}"
REAL_ROOT=0; [ -z "$PREFIX" ] && REAL_ROOT=1
APP="$PREFIX/opt/siem-agent"
LINK="$PREFIX/usr/local/bin/siem-agent"
LOGDIR="$PREFIX/var/log/siem-agent"
# Node's cache of the agent's compiled code (Node 22+), private to the user (bin/compile-cache.js)
CACHEDIR="$PREFIX/var/cache/siem-agent"
ETC="$PREFIX/etc/siem-agent"
CRON="$PREFIX/etc/cron.d/siem-agent"
UNITDIR="$PREFIX/etc/systemd/system"
MANIFEST="$PREFIX/var/lib/siem-agent/install.manifest"

step() { echo "install.sh: $*"; }
# writes a file only when its content differs, so a second run changes nothing
put() { # put PATH MODE < content
  local tmp; tmp="$(mktemp)"; cat > "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mkdir -p "$(dirname "$1")"; mv "$tmp" "$1"; step "wrote $1"; fi
  chmod "$2" "$1"
}

if [ "$UNINSTALL" = 1 ]; then
  if [ "$REAL_ROOT" = 1 ] && command -v systemctl >/dev/null 2>&1 && [ -f "$UNITDIR/siem-agent.timer" ]; then
    systemctl disable --now siem-agent.timer >/dev/null 2>&1 || true
  fi
  rm -f "$CRON" "$UNITDIR/siem-agent.service" "$UNITDIR/siem-agent.timer" "$LINK" "$ETC/config.example.json"
  rm -rf "$APP" "$CACHEDIR"
  [ "$REAL_ROOT" = 1 ] && command -v systemctl >/dev/null 2>&1 && systemctl daemon-reload >/dev/null 2>&1 || true
  if [ -f "$MANIFEST" ] && grep -qx "user $USER_NAME" "$MANIFEST" && [ "$REAL_ROOT" = 1 ]; then
    userdel "$USER_NAME" >/dev/null 2>&1 || true
    step "removed user $USER_NAME"
  fi
  rm -f "$MANIFEST"
  rmdir "$(dirname "$MANIFEST")" 2>/dev/null || true
  step "removed the agent, its link, cron/systemd files and its compile cache; kept $ETC (config.json, state files) and $LOGDIR (logs)"
  exit 0
fi

# Node.js 20.18.1 or later
if ! command -v node >/dev/null 2>&1; then
  echo "siem-agent needs Node.js 20.18.1 or later (none found); install a current LTS from your distribution or nodesource" >&2; exit 1
fi
NODE_V="$(node -v)"
IFS=. read -r major minor patch <<<"${NODE_V#v}"
# 20.18.1: what undici 7 declares (package.json engines)
if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && { [ "$minor" -lt 18 ] || { [ "$minor" -eq 18 ] && [ "${patch%%[!0-9]*}" -lt 1 ]; }; }; }; then
  echo "siem-agent needs Node.js 20.18.1 or later (found $NODE_V); install a current LTS from your distribution or nodesource" >&2; exit 1
fi
command -v npm >/dev/null 2>&1 || { echo "siem-agent needs npm (found none)" >&2; exit 1; }
step "Node.js $NODE_V"

# the app: a copy of the project without tests, git or node_modules
mkdir -p "$APP"
for f in package.json package-lock.json README.md config.example.json tsconfig.json; do
  if ! cmp -s "$SRC/$f" "$APP/$f" 2>/dev/null; then cp "$SRC/$f" "$APP/$f"; step "copied $f"; fi
done
for d in bin src scripts; do
  if ! diff -rq "$SRC/$d" "$APP/$d" >/dev/null 2>&1; then rm -rf "${APP:?}/$d"; cp -R "$SRC/$d" "$APP/$d"; step "copied $d/"; fi
done
STAMP="$APP/.build-stamp"
WANT="$(cat "$SRC/package-lock.json" "$SRC/tsconfig.json" | cksum) $(find "$SRC/src" "$SRC/scripts/build.mjs" -type f -exec cksum {} + | sort | cksum)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ] || [ ! -f "$APP/dist/siem-agent.cjs" ]; then
  step "installing dependencies and building (npm ci, npm run build, npm prune --omit=dev)"
  (cd "$APP" && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm run build --silent && npm prune --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$WANT" > "$STAMP"
else
  step "dependencies and build are up to date"
fi
chmod 755 "$APP/bin/siem-agent"

mkdir -p "$(dirname "$LINK")"
if [ "$(readlink "$LINK" 2>/dev/null)" != "../../../opt/siem-agent/bin/siem-agent" ]; then
  ln -sfn ../../../opt/siem-agent/bin/siem-agent "$LINK"; step "linked $LINK"
fi

# the dedicated user (only on a real system)
HAVE_USER=0
if id "$USER_NAME" >/dev/null 2>&1; then HAVE_USER=1
elif [ "$REAL_ROOT" = 1 ]; then
  # with a group of its own (not nogroup or users): the log directory is that group's, for forwarders
  if command -v useradd >/dev/null 2>&1; then useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
  else adduser --system --group --no-create-home --shell /usr/sbin/nologin "$USER_NAME"; fi
  HAVE_USER=1
  mkdir -p "$(dirname "$MANIFEST")"; echo "user $USER_NAME" >> "$MANIFEST"
  step "created system user $USER_NAME"
fi

for d in "$LOGDIR" "$ETC"; do
  [ -d "$d" ] || { mkdir -p "$d"; step "created $d"; }
  chmod 750 "$d"
done
# the logs: the user's and its primary group's, so that a forwarder added to that group
# (usermod -aG siem-agent splunkfwd) reads the FILE output (0640, the agent's group). /etc/siem-agent
# (config.json with the key, the state) stays private: the user's, its group left as it was (root's).
if [ "$HAVE_USER" = 1 ]; then
  USER_GROUP="$(id -gn "$USER_NAME")"
  chown "$USER_NAME:$USER_GROUP" "$LOGDIR"
  chown "$USER_NAME" "$ETC"
  [ "$USER_GROUP" = "$USER_NAME" ] || echo "install.sh: warning: $USER_NAME's primary group is $USER_GROUP, not a group of its own: every member of $USER_GROUP can read $LOGDIR" >&2
fi
if [ -f "$SRC/config.example.json" ]; then put "$ETC/config.example.json" 640 < "$SRC/config.example.json"; fi
[ -d "$CACHEDIR" ] || { mkdir -p "$CACHEDIR"; step "created $CACHEDIR"; }
chmod 700 "$CACHEDIR"
[ "$HAVE_USER" = 1 ] && chown "$USER_NAME" "$CACHEDIR"

case "$CONFIG" in *[[:space:]]*) echo "install.sh: --config $CONFIG: a path with spaces cannot be written into a cron line or a unit; use another" >&2; exit 1 ;; esac
CMD="/usr/local/bin/siem-agent --config $CONFIG${FLAGS:+ $FLAGS}"
# cron ends a command at an unescaped %; systemd expands % (specifiers) and $ in ExecStart. A
# proxy URL with a percent-encoded password has a %.
CRON_CMD="${CMD//%/\\%}"
UNIT_CMD="${CMD//%/%%}"; UNIT_CMD="${UNIT_CMD//\$/\$\$}"
# cron's PATH is /usr/bin:/bin; the agent's shebang needs the node this script found
NODE_PATH_LINE="$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin"

# where a run writes (the config's directory holds the state unless --state_dir says otherwise; -f,
# --log_file): the unit's ProtectSystem=strict must let it, and the service user must be able to
WRITE_DIRS=("$(dirname "$CONFIG")")
read -ra WORDS <<< "$FLAGS"
for ((i = 0; i < ${#WORDS[@]}; i++)); do
  w="${WORDS[i]}"; v=""
  case "$w" in
    -f|--filename|--state_dir|--log_file|--customfile) v="${WORDS[i+1]:-}" ;;
    --filename=*|--state_dir=*|--log_file=*|--customfile=*) v="${w#*=}" ;;
  esac
  [ -n "$v" ] && [ "${v#/}" != "$v" ] || continue
  case "$w" in --state_dir*) WRITE_DIRS+=("$v") ;; *) WRITE_DIRS+=("$(dirname "$v")") ;; esac
done
RW_PATHS="/etc/siem-agent /var/log/siem-agent"
for d in "${WRITE_DIRS[@]}"; do
  case " $RW_PATHS " in *" $d "*|*" -$d "*) ;; *) RW_PATHS="$RW_PATHS -$d" ;; esac
  if [ "$REAL_ROOT" = 1 ] && [ "$HAVE_USER" = 1 ] && [ -d "$d" ] && command -v runuser >/dev/null 2>&1 && ! runuser -u "$USER_NAME" -- test -w "$d"; then
    echo "install.sh: warning: $USER_NAME cannot write to $d, where the agent will write (put its files under /var/log/siem-agent or /etc/siem-agent, or chown it)" >&2
  fi
done

case "$MODE" in
  cron)
    # an address given now, else the one in the file already (an admin's edit survives upgrades), else root
    if [ -z "$MAILTO" ] && [ -f "$CRON" ]; then MAILTO="$(sed -n 's/^MAILTO=//p' "$CRON" | head -n 1)"; fi
    MAILTO="${MAILTO:-root}"
    check_mailto "$MAILTO" # the file's, too
    # the admin's environment lines for the agent (README: the proxy password goes here), kept
    # verbatim (cron expands nothing in them: a %, $ or quotes stay as they are) and in their
    # order, before the job line: an upgrade must not drop the password (every run would get 407)
    KEEP=()
    if [ -f "$CRON" ]; then
      while IFS= read -r line || [ -n "$line" ]; do
        name="${line%%=*}"; [ "$name" != "$line" ] || continue
        name="${name#"${name%%[![:space:]]*}"}"; name="${name%"${name##*[![:space:]]}"}" # cron allows "NAME = value"
        case "$name" in SIEM_AGENT_PROXY_PASSWORD) ;; *) case "${name,,}" in https_proxy|http_proxy|no_proxy) ;; *) continue ;; esac ;; esac
        KEEP+=("$line")
      done < "$CRON"
    fi
    rm -f "$UNITDIR/siem-agent.service" "$UNITDIR/siem-agent.timer"
    # 0600, root's: it may hold the proxy password. Debian's cron (cron(8): "must be owned by root,
    # and must not be group- or other-writable") and cronie (mode & 0533 must be 0400) accept it.
    {
      cat <<EOF
# siem-agent: pull CloudSOC logs every 10 minutes (written by install.sh; --uninstall removes it)
# stdout is discarded; stderr (errors and warnings) is mailed by cron to MAILTO (the user itself
# has no mailbox; install.sh --mailto ADDR sets it, and keeps one edited here)
MAILTO=$MAILTO
SHELL=/bin/sh
PATH=$NODE_PATH_LINE
# the user has no home: its compile cache is /var/cache/siem-agent
XDG_CACHE_HOME=/var/cache
# the proxy password for -u (keep it off the command line: ps shows that to every user):
# SIEM_AGENT_PROXY_PASSWORD=... on a line of its own here; this file is 0600, and install.sh keeps
# that line and HTTPS_PROXY/HTTP_PROXY/NO_PROXY ones (moved here, before the job)
EOF
      [ "${#KEEP[@]}" -eq 0 ] || printf '%s\n' "${KEEP[@]}"
      # exec: the shell cron starts would otherwise stay the agent's parent for the whole run, its
      # command line (the job line: a -p password in --flags) shown to every user by ps
      printf '%s\n' "*/10 * * * * $USER_NAME exec $CRON_CMD >/dev/null"
    } | put "$CRON" 600
    ;;
  systemd)
    if [ -f "$CRON" ] && grep -Eiq '^[[:space:]]*(SIEM_AGENT_PROXY_PASSWORD|HTTPS?_PROXY|NO_PROXY)[[:space:]]*=' "$CRON"; then
      echo "install.sh: warning: $CRON, removed now, set SIEM_AGENT_PROXY_PASSWORD or a proxy variable: put it in /etc/default/siem-agent (0600) for the unit" >&2
    fi
    rm -f "$CRON"
    put "$UNITDIR/siem-agent.service" 644 <<EOF
[Unit]
Description=siem-agent: deliver CloudSOC logs to the SIEM (one run)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
User=$USER_NAME
ExecStart=$UNIT_CMD
Environment=PATH=$NODE_PATH_LINE
# the user has no home: its compile cache is /var/cache/siem-agent, which systemd keeps writable
Environment=XDG_CACHE_HOME=/var/cache
# SIEM_AGENT_PROXY_PASSWORD=... (and HTTPS_PROXY ...) go in this file, 0600 root's, not in an
# Environment= line: every user sees those with systemctl show. "-": it may not exist.
EnvironmentFile=-/etc/default/siem-agent
CacheDirectory=siem-agent
CacheDirectoryMode=0700
NoNewPrivileges=yes
ProtectSystem=strict
# where the run writes ("-" : a path that does not exist yet is no error)
ReadWritePaths=$RW_PATHS
PrivateTmp=yes
EOF
    put "$UNITDIR/siem-agent.timer" 644 <<EOF
[Unit]
Description=Run siem-agent every 10 minutes

[Timer]
OnBootSec=2min
OnUnitActiveSec=10min

[Install]
WantedBy=timers.target
EOF
    if [ "$REAL_ROOT" = 1 ] && command -v systemctl >/dev/null 2>&1; then
      systemctl daemon-reload && systemctl enable --now siem-agent.timer >/dev/null && step "enabled siem-agent.timer"
    fi
    ;;
esac
step "done: $("$LINK" -v 2>/dev/null || echo '?'); put the key file at $CONFIG (chmod 600) and run: siem-agent check --config $CONFIG"
