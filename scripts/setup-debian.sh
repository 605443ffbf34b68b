#!/bin/sh
# setup-debian.sh - install what promptc needs to build and test on Debian 12
# (bookworm): the toolchain, autotools and the libraries it links. Uses sudo
# when not run as root.
set -eu
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential autoconf automake libtool pkg-config ca-certificates \
  libcurl4-openssl-dev libjson-c-dev libarchive-dev libsodium-dev \
  libsqlite3-dev libcunit1-dev libmicrohttpd-dev \
  python3 valgrind binutils minisign abigail-tools >/dev/null
echo "setup-debian: build dependencies installed"
