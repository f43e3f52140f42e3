#!/usr/bin/env bash
# Install the Debian packages the project needs, only those missing.
set -euo pipefail
packages=(build-essential pkg-config libevent-dev libjansson-dev libcmocka-dev libcurl4-openssl-dev libsqlite3-dev
          crun runc tini iproute2 procps python3-matplotlib time clang libclang-rt-14-dev clang-format
          skopeo umoci mmdebstrap ansible-core openssh-server)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps: need root to apt-get install ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
