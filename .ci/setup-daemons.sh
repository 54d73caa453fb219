#!/usr/bin/env bash
# Installs the real syslog daemons the tests start privately (own configs, loopback ports, own
# socket paths): syslog-ng from apt, rsyslog unpacked into /opt/siem-agent-test/rsyslog (the two
# conflict as Debian packages). No system daemon is started or touched. Idempotent.
set -euo pipefail
RS_DIR=/opt/siem-agent-test/rsyslog
created_policy=0
cleanup() { [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d; return 0; }
trap cleanup EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi

need=()
command -v syslog-ng >/dev/null 2>&1 || need+=(syslog-ng-core)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v strace >/dev/null 2>&1 || need+=(strace) # the FILE fsync-per-page test watches system calls
command -v logrotate >/dev/null 2>&1 || need+=(logrotate) # the FILE output renamed by logrotate mid-run
for lib in liblognorm5 libfastjson4 libestr0; do
  dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-daemons: apt-get install ${need[*]}"
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "setup-daemons: syslog-ng, openssl and rsyslog's libraries already installed"
fi

if [ ! -x "$RS_DIR/usr/sbin/rsyslogd" ]; then
  echo "setup-daemons: unpacking rsyslog and rsyslog-gnutls into $RS_DIR"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download rsyslog rsyslog-gnutls >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$tmp" && apt-get download rsyslog rsyslog-gnutls >/dev/null)
  }
  mkdir -p "$RS_DIR"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$RS_DIR"; done
  rm -rf "$tmp"
else
  echo "setup-daemons: private rsyslog already unpacked"
fi
missing=$(ldd "$RS_DIR/usr/sbin/rsyslogd" "$RS_DIR"/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so 2>/dev/null | grep 'not found' || true)
if [ -n "$missing" ]; then echo "setup-daemons: rsyslog is missing libraries: $missing"; exit 1; fi

# a package may have started the system daemon despite policy-rc.d: stop it, ours run privately
if pgrep -x syslog-ng >/dev/null 2>&1 && [ -f /run/syslog-ng.pid ]; then
  kill "$(cat /run/syslog-ng.pid)" 2>/dev/null || true
fi
echo "setup-daemons: $(syslog-ng --version 2>/dev/null | head -1); rsyslog $("$RS_DIR/usr/sbin/rsyslogd" -v 2>/dev/null | head -1 | awk '{print $2}')"
