#!/usr/bin/env bash
# Installs the Debian packages the test suite drives, only where missing.
# Keyed by a command on PATH, or by an absolute path to a file the package ships (libraries).
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
  [ss]=iproute2
  [/usr/share/java/bcprov.jar]=libbcprov-java
  [/usr/share/java/bcpkix.jar]=libbcpkix-java
  [softhsm2-util]=softhsm2
  [pkcs11-tool]=opensc
  [/usr/lib/postgresql/15/bin/initdb]=postgresql
  [go]=golang-go
  [/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog/tlog.go]=golang-golang-x-mod-dev
  [g++]=build-essential
  [python3]=python3
)
present() {
  if [[ $1 == /* ]]; then [ -e "$1" ]; else PATH="$PATH:/usr/sbin" command -v "$1" >/dev/null 2>&1; fi
}
missing=()
for needed in "${!packages[@]}"; do
  present "$needed" || missing+=("${packages[$needed]}")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt_get() { if [ "$(id -u)" -eq 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
  apt_get update -qq
  DEBIAN_FRONTEND=noninteractive apt_get install -y -qq --no-install-recommends "${missing[@]}"
fi
