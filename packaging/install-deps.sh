#!/bin/sh
# Installs what aria-cachefs needs to build, run and test on Debian
# (bookworm or newer), or the packages named as arguments. Runs apt-get
# only when something is missing. redis-server, nginx and s3rver (from the
# npm registry, into tests/remote/node_modules) are for the remote-tier
# tests, which start their own on 127.0.0.1.
#
#   packaging/install-deps.sh [PACKAGE...]
set -eu

PKGS="build-essential pkg-config meson ninja-build libfuse3-dev fuse3
librocksdb-dev libzstd-dev llvm-dev libjansson-dev libinih-dev libssl-dev scdoc clang
libclang-rt-dev libcmocka-dev attr libhiredis-dev libcurl4-openssl-dev
redis-server nginx curl nodejs bash-completion fish zsh rsync"

[ $# -eq 0 ] || PKGS="$*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
[ $# -eq 0 ] || exit 0
# npm comes with some builds of nodejs and is a package of its own in
# Debian's.
if ! command -v npm >/dev/null; then
	echo "install-deps: installing: npm"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm
fi
remote_tests=$(cd "$(dirname "$0")/../tests/remote" && pwd)
if [ ! -d "$remote_tests/node_modules/s3rver" ] ||
   [ ! -d "$remote_tests/node_modules/parse-prometheus-text-format" ]; then
	echo "install-deps: installing s3rver and a Prometheus text-format parser (npm ci in tests/remote)"
	(cd "$remote_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -e /dev/fuse ]; then
	echo "install-deps: /dev/fuse is absent; loading the fuse module" >&2
	{ [ "$(id -u)" -eq 0 ] && modprobe fuse; } || sudo modprobe fuse || true
fi
echo "install-deps: all dependencies present"
