#!/usr/bin/env bash
# Builds the real kube-apiserver, etcd and kubectl the tests run, from the Go module proxy, pinned by
# tools/envtest/go.mod and go.sum. Idempotent: the binaries are cached per version outside the work
# tree (so a fresh clone on the same machine reuses them) and rebuilt only when missing.
#
#   BRANCH_FOLLOWER_ENVTEST_ASSETS=<dir>  use binaries already in <dir> instead (like KUBEBUILDER_ASSETS)
#   BRANCH_FOLLOWER_ENVTEST_CACHE=<dir>   where to cache builds (default: ~/.cache/branch-follower/envtest)
#
# Prints the directory holding the binaries on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
mod="$here/tools/envtest"

if [ -n "${BRANCH_FOLLOWER_ENVTEST_ASSETS:-}" ]; then
  for b in kube-apiserver etcd kubectl; do
    [ -x "$BRANCH_FOLLOWER_ENVTEST_ASSETS/$b" ] || { echo "envtest: $BRANCH_FOLLOWER_ENVTEST_ASSETS/$b is missing or not executable" >&2; exit 1; }
  done
  echo "$BRANCH_FOLLOWER_ENVTEST_ASSETS"
  exit 0
fi

command -v go >/dev/null || { echo "envtest: Go is needed to build kube-apiserver and etcd (https://go.dev/dl/)" >&2; exit 1; }
k8s=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$mod/go.mod")
etcd=$(awk '$1 == "go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2; exit}' "$mod/go.mod")
key=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-12)
cache="${BRANCH_FOLLOWER_ENVTEST_CACHE:-$HOME/.cache/branch-follower/envtest}"
out="$cache/k8s-$k8s-etcd-$etcd-$key"

if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  echo "envtest: cached kube-apiserver $k8s, etcd $etcd" >&2
  echo "$out"
  exit 0
fi

minor=$(echo "$k8s" | cut -d. -f2)
stamp="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  stamp="$stamp -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

staging="$out.partial-$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
start=$(date +%s)
cd "$mod"
for target in k8s.io/kubernetes/cmd/kube-apiserver go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kubectl; do
  name=$(basename "$target"); [ "$name" = v3 ] && name=etcd
  echo "envtest: building $name ($target) ..." >&2
  CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "$stamp" -o "$staging/$name" "$target"
done
rm -rf "$out"
mv "$staging" "$out"
trap - EXIT
echo "envtest: built kube-apiserver $k8s, etcd $etcd, kubectl in $(( $(date +%s) - start ))s" >&2
echo "$out"
