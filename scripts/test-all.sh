#!/usr/bin/env bash
# The one command that runs every test on a fresh machine: installs what the tests need (npm
# packages with the Node 22 binary; Debian's openssh-server and tinyproxy for the SSH upstream and
# CONNECT proxy; kube-apiserver, etcd and kubectl built from the Go module proxy and cached), runs the type check and every suite (unit, constructs, CLI, and integration against
# the real API server), then checks that synthesizing dist/ changes nothing that is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh
bash scripts/install-test-deps.sh
start=$(date +%s)
assets=$(bash scripts/envtest/build.sh | tail -n 1)
echo "envtest: binaries in $assets ($(( $(date +%s) - start ))s)"
export BRANCH_FOLLOWER_ENVTEST_ASSETS="$assets"
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

# One plain closing line for any reader of the log: the vitest totals.
node_modules/.bin/node -e '
  const r = JSON.parse(require("fs").readFileSync(".cache/vitest-results.json", "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));'
