#!/bin/bash
# Fetch Debian's packaged kernel (without installing it) and lay it out for guest tests:
#   $GUEST_CACHE/linux/{vmlinuz,vmlinux,config,System.map,version,package,modules/}
# vmlinux is the uncompressed ELF taken from the bzImage payload (for PVH boot).
set -eu

PROG=mklinux.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF
usage: $PROG [-f] [-h]
Download Debian's linux-image-*-amd64-unsigned package and extract, into
$GUEST_CACHE/linux/:
  vmlinuz     the bzImage            vmlinux   uncompressed ELF kernel (PVH entry)
  config      kernel .config         version   kernel release (e.g. 6.1.0-56-amd64)
  System.map  as shipped (Debian ships a stub)
  package     the package name       modules/  lib/modules/<release> with modules.dep
  -f  rebuild even if the outputs are cached (the .deb stays cached in $GUEST_CACHE/debs)
  -h  this help
Environment: GUEST_CACHE (default ~/.cache/guest), GUEST_KERNEL_PKG (package to use instead of
the one linux-image-amd64 depends on, plus -unsigned).
EOF
}

parse_force_option "$@"

out=$GUEST_CACHE/linux
debs=$GUEST_CACHE/debs

print_paths() {
	printf 'vmlinuz  %s\nvmlinux  %s\nconfig   %s\nmodules  %s\nversion  %s\n' \
		"$out/vmlinuz" "$out/vmlinux" "$out/config" "$out/modules" "$(cat "$out/version")"
}

outputs_complete() {
	local f
	for f in vmlinuz vmlinux config version package modules/modules.dep; do
		[ -s "$out/$f" ] || return 1
	done
}

# Which package: GUEST_KERNEL_PKG, else what the linux-image-amd64 metapackage points at.
pkg=${GUEST_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || dep=
	if [ -n "$dep" ]; then
		pkg=$dep-unsigned
	elif [ -s "$out/package" ]; then
		pkg=$(cat "$out/package")
		info "apt-cache has no linux-image-amd64; using cached $pkg"
	else
		die "cannot find the kernel package (apt-cache depends linux-image-amd64 failed; run apt-get update or set GUEST_KERNEL_PKG)"
	fi
fi

if [ "$force" = 0 ] && outputs_complete && [ "$(cat "$out/package")" = "$pkg" ]; then
	print_paths
	exit 0
fi

need_cmd dpkg-deb od dd
mkdir -p "$debs"

# The .deb: cached, else downloaded with apt-get (needs network once).
latest_deb() {
	local f latest=
	for f in "$debs/${pkg}"_*_amd64.deb; do
		[ -f "$f" ] && latest=$f
	done
	printf '%s\n' "$latest"
}
deb=$(latest_deb)
if [ -z "$deb" ]; then
	need_cmd apt-get
	info "downloading $pkg"
	dl=$(mktemp -d "$debs/.dl.XXXXXX")
	(cd "$dl" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >/dev/null) ||
		{ rm -rf "$dl"; die "apt-get download $pkg failed"; }
	mv "$dl"/*.deb "$debs/"
	rmdir "$dl"
	deb=$(latest_deb)
	[ -n "$deb" ] || die "apt-get download $pkg left no $debs/${pkg}_*_amd64.deb"
fi

work=$(mktemp -d "$GUEST_CACHE/.linux.XXXXXX")
trap 'rm -rf "$work"' EXIT
info "extracting $(basename "$deb")"
dpkg-deb -x "$deb" "$work/pkg" || die "$deb: dpkg-deb -x failed"

set -- "$work"/pkg/lib/modules/*/
{ [ $# -eq 1 ] && [ -d "$1" ]; } || die "$deb: expected exactly one lib/modules/<release> directory"
release=$(basename "$1")
[ -f "$work/pkg/boot/vmlinuz-$release" ] || die "$deb: no boot/vmlinuz-$release"
mkdir -p "$work/out"
cp "$work/pkg/boot/vmlinuz-$release" "$work/out/vmlinuz"
cp "$work/pkg/boot/config-$release" "$work/out/config"
[ -f "$work/pkg/boot/System.map-$release" ] && cp "$work/pkg/boot/System.map-$release" "$work/out/System.map"
printf '%s\n' "$release" >"$work/out/version"
printf '%s\n' "$pkg" >"$work/out/package"

# modules.dep: Debian generates it at install time, so generate it here.
if command -v depmod >/dev/null 2>&1; then
	depmod -b "$work/pkg" "$release" || die "depmod failed"
elif command -v busybox >/dev/null 2>&1; then
	busybox depmod -b "$work/pkg" "$release" || die "busybox depmod failed"
else
	die "needs depmod (kmod) or busybox to write modules.dep"
fi
mv "$work/pkg/lib/modules/$release" "$work/out/modules"

# vmlinux from the bzImage payload (see Documentation/x86/boot.rst).
bz=$work/out/vmlinuz
bzname="$(basename "$deb"): vmlinuz"
u8() { od -An -tu1 -j "$1" -N1 "$bz" | tr -d ' '; }
u32() { od -An -tu4 -j "$1" -N4 "$bz" | tr -d ' '; }
[ "$(dd if="$bz" bs=1 skip=$((0x202)) count=4 status=none)" = HdrS ] || die "$bzname: not a bzImage (no HdrS)"
setup_sects=$(u8 $((0x1f1)))
[ "$setup_sects" -ne 0 ] || setup_sects=4
payload_offset=$(u32 $((0x248)))
payload_length=$(u32 $((0x24c)))
[ "$payload_length" -gt 0 ] || die "$bzname: boot protocol too old (no payload_length)"
start=$(((setup_sects + 1) * 512 + payload_offset))
dd if="$bz" of="$work/payload" bs=1M iflag=skip_bytes,count_bytes skip="$start" \
	count="$payload_length" status=none
magic=$(od -An -tx1 -N6 "$work/payload" | tr -d ' \n')
# The kernel build appends the uncompressed size (4 bytes) to most formats; the decompressors
# below are told to stop at the end of the first stream, or the tail is cut off.
case $magic in
fd377a585a00*) need_cmd xz; xz -dc --single-stream <"$work/payload" >"$work/out/vmlinux" ;;
28b52ffd*) need_cmd zstd; head -c $((payload_length - 4)) "$work/payload" | zstd -q -dc >"$work/out/vmlinux" ;;
1f8b*) need_cmd gzip; gzip -dc <"$work/payload" >"$work/out/vmlinux" 2>/dev/null || [ $? -eq 2 ] ;;
5d00*) need_cmd xz; head -c $((payload_length - 4)) "$work/payload" | xz -dc --format=lzma >"$work/out/vmlinux" ;;
425a68*) need_cmd bzip2; head -c $((payload_length - 4)) "$work/payload" | bzip2 -dc >"$work/out/vmlinux" ;;
02214c18*) need_cmd lz4; head -c $((payload_length - 4)) "$work/payload" | lz4 -dc >"$work/out/vmlinux" ;;
894c5a4f*) need_cmd lzop; head -c $((payload_length - 4)) "$work/payload" | lzop -dc >"$work/out/vmlinux" ;;
7f454c46*) cp "$work/payload" "$work/out/vmlinux" ;;
*) die "$bzname: unknown payload compression (magic $magic)" ;;
esac || die "$bzname: decompressing the payload failed"
rm -f "$work/payload"

vmlinux=$work/out/vmlinux
[ "$(head -c 4 "$vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || die "$bzname: payload is not an ELF file"
# The PVH entry note: name "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY).
if command -v readelf >/dev/null 2>&1; then
	readelf -nW "$vmlinux" 2>/dev/null | grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*\(0x00000012\)' ||
		die "$bzname: vmlinux has no Xen PVH entry note (PT_NOTE Xen type 18)"
else
	LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$vmlinux" ||
		die "$bzname: vmlinux has no Xen PVH entry note (PT_NOTE Xen type 18)"
fi

rm -rf "$out"
mv "$work/out" "$out"
print_paths
