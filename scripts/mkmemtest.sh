#!/bin/bash
# Fetch Debian's memtest86+ and extract its 64-bit Linux-boot-protocol image: a guest that
# nobody here wrote, booted by the integration tests as QEMU and GRUB boot it.
#   $GUEST_CACHE/memtest/memtest86+x64.bin  (and version: the package's version)
set -eu

PROG=mkmemtest.sh
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF2
usage: $PROG [-f] [-h]
Download Debian's memtest86+ package (cached in $GUEST_CACHE/debs) and extract
$GUEST_CACHE/memtest/memtest86+x64.bin, the bzImage-format build that boots with
  guest --memory 256M -c 'console=ttyS0,115200' memtest86+x64.bin
  -f  extract again even if the output is cached
  -h  this help
EOF2
}

parse_force_option "$@"
out=$GUEST_CACHE/memtest
if [ "$force" = 0 ] && [ -s "$out/memtest86+x64.bin" ] && [ -s "$out/version" ]; then
	printf 'memtest  %s\n' "$out/memtest86+x64.bin"
	exit 0
fi
need_cmd dpkg-deb
deb=$(fetch_deb memtest86+ amd64)
stage=$(mktemp -d "${TMPDIR:-/tmp}/mkmemtest.XXXXXX")
trap 'rm -rf "$stage"' EXIT
dpkg-deb -x "$deb" "$stage"
image=$(find "$stage" -name 'memtest86+x64.bin' -type f | head -n 1)
[ -n "$image" ] || die "$deb has no memtest86+x64.bin"
mkdir -p "$out"
cp "$image" "$out/memtest86+x64.bin.tmp"
mv "$out/memtest86+x64.bin.tmp" "$out/memtest86+x64.bin"
dpkg-deb -f "$deb" Version >"$out/version"
printf 'memtest  %s (memtest86+ %s)\n' "$out/memtest86+x64.bin" "$(cat "$out/version")"
