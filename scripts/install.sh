#!/usr/bin/env bash
# Installs what the project needs, idempotently: the npm dependencies (including the Node 22 binary
# that npm scripts run on) exactly as package-lock.json pins them, and openssl (the test control
# plane's certificates) when it is missing. Skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v openssl >/dev/null; then
  echo "install: openssl (Debian package)"
  apt-get update -qq && apt-get install -y -qq openssl >/dev/null
fi

stamp=node_modules/.install-stamp
want=$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/node ]; then
  echo "install: node_modules matches package-lock.json"
else
  echo "install: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
echo "install: node $(node_modules/.bin/node --version)"
