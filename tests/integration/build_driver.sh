#!/bin/sh
# Build the libcni-based test runtime (tests/integration/driver) offline with
# Debian's Go toolchain in GOPATH mode, against the libcni source shipped by
# golang-github-appc-cni-dev under /usr/share/gocode/src.
#
# Usage: tests/integration/build_driver.sh [OUTPUT]
# Default OUTPUT: tests/integration/.build/cni-driver (gitignored).
# Needs the Debian packages golang-go and golang-github-appc-cni-dev.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build="$here/.build"
out=${1:-"$build/cni-driver"}
libcni=/usr/share/gocode/src/github.com/containernetworking/cni/libcni

command -v go >/dev/null 2>&1 || { echo "build_driver.sh: 'go' not found (install golang-go)" >&2; exit 3; }
[ -d "$libcni" ] || { echo "build_driver.sh: $libcni missing (install golang-github-appc-cni-dev)" >&2; exit 3; }

mkdir -p "$build/gocache" "$(dirname "$out")"
# GOPATH mode: imports resolve from Debian's /usr/share/gocode; no module
# download is possible (GOPROXY=off) and the build cache stays in .build.
# CGO is off so no C compiler is needed and the binary is static.
cd "$here/driver"
env GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
    GOCACHE="$build/gocache" CGO_ENABLED=0 \
    go build -trimpath -o "$out.tmp.$$" .
# Rename into place: concurrent test sessions may be running the old binary.
mv -f "$out.tmp.$$" "$out"
echo "$out"
