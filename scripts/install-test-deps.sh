#!/usr/bin/env bash
# Installs the Debian packages the test suite drives, only where missing.
set -euo pipefail
declare -A packages=(
  [openssl]=openssl
  [curl]=curl
  [csplit]=coreutils
  [jarsigner]=openjdk-17-jdk-headless
  [osslsigncode]=osslsigncode
  [chronyd]=chrony
  [faketime]=faketime
  [mkfifo]=coreutils
  [promtool]=prometheus
  [strace]=strace
)
missing=()
for command in "${!packages[@]}"; do
  PATH="$PATH:/usr/sbin" command -v "$command" >/dev/null 2>&1 || missing+=("${packages[$command]}")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt_get() { if [ "$(id -u)" -eq 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
  apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}"
fi
