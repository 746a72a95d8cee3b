#!/usr/bin/env bash
# Installs the Debian packages the test suite drives, only where missing.
# Keyed by a command on PATH, or by an absolute path (a glob) to a file the package ships.
set -euo pipefail
declare -A packages=(
  [openssl]=openssl
  [curl]=curl
  [csplit]=coreutils
  [jarsigner]=default-jdk-headless
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
  [/usr/lib/postgresql/*/bin/initdb]=postgresql
  [go]=golang-go
  [/usr/share/gocode/src/golang.org/x/mod/sumdb/tlog/tlog.go]=golang-golang-x-mod-dev
  [g++]=build-essential
  [python3]=python3
)
present() {
  if [[ $1 == /* ]]; then compgen -G "$1" >/dev/null; else PATH="$PATH:/usr/sbin" command -v "$1" >/dev/null 2>&1; fi
}
missing=()
for needed in "${!packages[@]}"; do
  present "$needed" || missing+=("${packages[$needed]}")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  # sudo resets the environment: DEBIAN_FRONTEND goes on its command line, or a package's debconf
  # question (tzdata's) would stop the tests for an answer.
  apt_get() {
    if [ "$(id -u)" -eq 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get "$@"
    elif command -v sudo >/dev/null 2>&1; then
      sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
    else
      echo "not root and no sudo: install them as root with apt-get install ${missing[*]}" >&2
      exit 1
    fi
  }
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The server's version differs by release (Debian 12: 15, Ubuntu 24.04: 16): any will do, and
# test/helpers/postgres.ts runs the newest.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo 'no PostgreSQL server: the postgresql package installed no /usr/lib/postgresql/*/bin/initdb' >&2
  exit 1
fi
