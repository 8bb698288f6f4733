#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs what the tests need, runs the
# type check and every suite, then checks that synthesizing dist/ changes nothing that is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
npm test

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  npm run -s synth >/dev/null
  if [ -n "$(git status --porcelain -- dist)" ]; then
    echo "dist/ is not what 'npm run synth' produces from the committed registry:" >&2
    git status --porcelain -- dist >&2
    exit 1
  fi
  echo "synth: dist/ unchanged"
fi
