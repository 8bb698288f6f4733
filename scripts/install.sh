#!/usr/bin/env bash
# Installs what the project needs, idempotently: the npm dependencies (including the Node 22 binary
# that npm scripts run on) exactly as package-lock.json pins them. Skips the install when
# node_modules already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

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
