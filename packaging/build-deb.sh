#!/bin/sh
# Builds the .deb: copies the committed tree to a scratch directory, puts
# packaging/debian where dpkg expects it, runs dpkg-buildpackage, and
# leaves the .deb in OUTDIR (default: ./dist).
#
#   packaging/build-deb.sh [OUTDIR]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
"$top/packaging/install-deps.sh" dpkg-dev debhelper lintian
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$work/aria-cachefs-0.1.0
mkdir -p "$src"
# The committed tree only: no build directories, no local files.
git -C "$top" archive --format=tar HEAD | tar -x -C "$src"
cp -r "$src/packaging/debian" "$src/debian"
echo "build-deb: dpkg-buildpackage in $src"
(cd "$src" && dpkg-buildpackage -us -uc -b)
cp "$work"/*.deb "$out"/
echo "build-deb: lintian"
lintian --fail-on error "$out"/aria-cachefs_*.deb
ls -l "$out"/*.deb
