#!/usr/bin/env bash
# Installs, idempotently, the Debian packages the git-mirror SSH tests need: openssh-server (the
# tests start their own /usr/sbin/sshd on loopback), openssh-client (ssh, ssh-keygen) and tinyproxy
# (the HTTP CONNECT proxy). Installs only what is missing; never leaves a system sshd/tinyproxy
# running (the tests run their own on free ports). Runs as root, needs no stdin.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
{ command -v ssh >/dev/null && command -v ssh-keygen >/dev/null; } || missing+=(openssh-client)
command -v tinyproxy >/dev/null || [ -x /usr/bin/tinyproxy ] || [ -x /usr/sbin/tinyproxy ] || missing+=(tinyproxy)

# sshd refuses to start without its privilege-separation directory (normally made by systemd).
mkdir -p /run/sshd

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: openssh-server, openssh-client, tinyproxy already present"
  exit 0
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Forbid maintainer scripts from starting services (Debian's policy-rc.d convention) while we install.
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" = 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null

# Belt and braces: if a system daemon started anyway, stop it (ignore "not running").
for svc in ssh tinyproxy; do
  if command -v service >/dev/null; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
echo "install-test-deps: done ($(/usr/sbin/sshd -V 2>&1 | head -1 || true); $(tinyproxy -v 2>&1 | head -1 || true))"
