#!/usr/bin/env bash
# Installs tinyproxy (a real HTTP proxy with CONNECT and basic auth) for the proxy tests.
# The tests start their own instance with a private config; the system service is never used.
set -euo pipefail
if command -v tinyproxy >/dev/null 2>&1; then
  echo "setup-proxy: tinyproxy already installed"
  exit 0
fi
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
echo "setup-proxy: installing tinyproxy"
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tinyproxy >/dev/null
# a package may still have started the system instance: stop it, ours run privately
if pgrep -x tinyproxy >/dev/null 2>&1; then
  (command -v systemctl >/dev/null && systemctl stop tinyproxy) 2>/dev/null || pkill -x tinyproxy || true
fi
[ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
echo "setup-proxy: tinyproxy $(tinyproxy -v 2>&1 | head -1)"
