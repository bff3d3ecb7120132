#!/bin/bash
# Fetch Debian's packaged kernel (without installing it) and lay it out for guest tests:
#   $GUEST_CACHE/linux/{vmlinuz,vmlinux,config,System.map,version,package,modules/}
# vmlinux is the uncompressed ELF taken from the bzImage payload (for PVH boot).
# With -s, build a small kernel from Debian's linux-source-6.1 instead (config: allnoconfig plus
# scripts/linux-guest.config, everything built in):
#   $GUEST_CACHE/linux-src/{bzImage,vmlinux,config,version}
set -eu

PROG=mklinux.sh
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	cat <<EOF
usage: $PROG [-s] [-f] [-h]
Download Debian's linux-image-*-amd64-unsigned package and extract, into
$GUEST_CACHE/linux/:
  vmlinuz     the bzImage            vmlinux   uncompressed ELF kernel (PVH entry)
  config      kernel .config         version   kernel release (e.g. 6.1.0-56-amd64)
  System.map  as shipped (Debian ships a stub)
  package     the package name       modules/  lib/modules/<release> with modules.dep
  -s  instead, build a small kernel (no modules) from Debian's linux-source-6.1 package: make
      allnoconfig plus the options in scripts/linux-guest.config, into $GUEST_CACHE/linux-src/:
        bzImage   the bzImage          vmlinux   the ELF kernel (PVH entry)
        config    kernel .config       version   kernel release (e.g. 6.1.192-guest)
      Needs: apt-get install gcc make libc6-dev binutils bc bison flex perl libelf-dev xz-utils
  -f  rebuild even if the outputs are cached (the .deb stays cached in $GUEST_CACHE/debs, and
      with -s the unpacked source in $GUEST_CACHE/linux-source)
  -h  this help
Environment: GUEST_CACHE (default ~/.cache/guest), GUEST_KERNEL_PKG (package to use instead of
the one linux-image-amd64 depends on, plus -unsigned), GUEST_LINUX_SOURCE_PKG (with -s; default
linux-source-6.1).
EOF
}

force=0
from_source=0
while getopts sfh opt; do
	case $opt in
	s) from_source=1 ;;
	f) force=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)

# Dies unless the ELF kernel $1 has the PVH entry note: name "Xen", type 18
# (XEN_ELFNOTE_PHYS32_ENTRY). $2 names it in the message.
check_pvh_note() {
	if command -v readelf >/dev/null 2>&1; then
		readelf -nW "$1" 2>/dev/null | grep -Eq '^[[:space:]]*Xen[[:space:]]+0x[0-9a-f]+[[:space:]].*\(0x00000012\)' ||
			die "$2: vmlinux has no Xen PVH entry note (PT_NOTE Xen type 18)"
	else
		LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$1" ||
			die "$2: vmlinux has no Xen PVH entry note (PT_NOTE Xen type 18)"
	fi
}

# -s: the kernel built from Debian's kernel source.
build_from_source() {
	local out=$GUEST_CACHE/linux-src srcpkg=${GUEST_LINUX_SOURCE_PKG:-linux-source-6.1}
	local fragment=$here/linux-guest.config srcroot=$GUEST_CACHE/linux-source
	local deb stamp src tarball work build log line name value have start release
	local -a edits

	print_src_paths() {
		printf 'bzImage  %s\nvmlinux  %s\nconfig   %s\nversion  %s\n' \
			"$out/bzImage" "$out/vmlinux" "$out/config" "$(cat "$out/version")"
	}
	[ -r "$fragment" ] || die "$fragment missing"

	deb=$(fetch_deb "$srcpkg" all)
	# The outputs depend on this script, the config fragment and the source package.
	stamp="$(basename "$deb") $(cat "$here/mklinux.sh" "$fragment" | md5sum | cut -d' ' -f1)"
	if [ "$force" = 0 ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ] &&
		[ -s "$out/bzImage" ] && [ -s "$out/vmlinux" ] && [ -s "$out/config" ] && [ -s "$out/version" ]; then
		print_src_paths
		return 0
	fi

	need_from_packages make:make gcc:gcc /usr/include/stdio.h:libc6-dev ld:binutils \
		readelf:binutils bc:bc bison:bison flex:flex perl:perl /usr/include/gelf.h:libelf-dev \
		tar:tar xz:xz-utils dpkg-deb:dpkg md5sum:coreutils

	# The unpacked source, kept between builds: $srcroot/<the .deb's name>/linux-source-*.
	src=$srcroot/$(basename "$deb" .deb)
	if [ ! -d "$src" ]; then
		mkdir -p "$srcroot"
		rm -rf "$srcroot"/.unpack.* "$srcroot"/"${srcpkg}"_*
		work=$(mktemp -d "$srcroot/.unpack.XXXXXX")
		info "unpacking $(basename "$deb")"
		dpkg-deb -x "$deb" "$work/pkg" || { rm -rf "$work"; die "$deb: dpkg-deb -x failed"; }
		set -- "$work"/pkg/usr/src/linux-source-*.tar.*
		{ [ $# -eq 1 ] && [ -f "$1" ]; } ||
			{ rm -rf "$work"; die "$deb: expected exactly one usr/src/linux-source-*.tar.* in it"; }
		tarball=$1
		mkdir "$work/tree"
		tar -xf "$tarball" -C "$work/tree" || { rm -rf "$work"; die "$tarball: tar -x failed"; }
		rm -rf "$work/pkg"
		mv "$work/tree" "$src"
		rmdir "$work"
	fi
	set -- "$src"/linux-source-*/Makefile
	{ [ $# -eq 1 ] && [ -f "$1" ]; } || die "$src: expected one linux-source-*/ tree (delete $src and retry)"
	src=$(dirname "$1")

	# A fresh build directory each time (O=...): the source tree stays clean.
	build=$srcroot/build
	log=$srcroot/build.log
	rm -rf "$build"
	mkdir -p "$build"
	: >"$log"
	kmake() {
		make -C "$src" O="$build" ARCH=x86_64 KBUILD_BUILD_USER=guest KBUILD_BUILD_HOST=guest \
			"$@" >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "make $* failed (log: $log)"; }
	}
	kmake allnoconfig
	# The fragment's lines as scripts/config edits, then olddefconfig fills in the rest.
	edits=()
	while IFS= read -r line; do
		case $line in
		"# CONFIG_"*" is not set")
			name=${line#"# CONFIG_"}
			edits+=(--disable "${name%" is not set"}") ;;
		"#"* | "") ;;
		CONFIG_*=\"*\")
			name=${line%%=*} value=${line#*=}
			value=${value#\"} value=${value%\"}
			edits+=(--set-str "${name#CONFIG_}" "$value") ;;
		CONFIG_*=y) name=${line%%=*}; edits+=(--enable "${name#CONFIG_}") ;;
		CONFIG_*=*) name=${line%%=*}; edits+=(--set-val "${name#CONFIG_}" "${line#*=}") ;;
		*) die "$fragment: cannot read line: $line" ;;
		esac
	done <"$fragment"
	"$src/scripts/config" --file "$build/.config" "${edits[@]}" || die "scripts/config failed"
	kmake olddefconfig
	# An option whose dependencies are not met is dropped silently by olddefconfig: catch it.
	while IFS= read -r line; do
		case $line in
		"# CONFIG_"*" is not set")
			name=${line#"# "}
			name=${name%" is not set"}
			grep -q "^$name=" "$build/.config" || continue ;;
		"#"* | "") continue ;;
		*)
			name=${line%%=*}
			grep -qxF -- "$line" "$build/.config" && continue ;;
		esac
		have=$(grep -E "^(# )?${name}[= ]" "$build/.config") || have="not in .config (its dependencies are off)"
		die "$fragment: '$line' does not hold after olddefconfig: $have"
	done <"$fragment"

	info "building $(basename "$src") with $(nproc) jobs (log: $log)"
	start=$(date +%s)
	kmake -j"$(nproc)" bzImage
	info "built in $(($(date +%s) - start)) s"

	release=$(cat "$build/include/config/kernel.release") || die "no kernel.release in $build"
	check_pvh_note "$build/vmlinux" "$(basename "$src")"
	work=$(mktemp -d "$GUEST_CACHE/.linux-src.XXXXXX")
	chmod 755 "$work"
	cp "$build/arch/x86/boot/bzImage" "$work/bzImage"
	cp "$build/vmlinux" "$work/vmlinux"
	cp "$build/.config" "$work/config"
	printf '%s\n' "$release" >"$work/version"
	printf '%s\n' "$stamp" >"$work/stamp"
	rm -rf "$out"
	mv "$work" "$out"
	cp "$log" "$out/build.log"
	rm -rf "$build" "$log"
	print_src_paths
}

if [ "$from_source" = 1 ]; then
	build_from_source
	exit 0
fi

out=$GUEST_CACHE/linux

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
deb=$(fetch_deb "$pkg" amd64)

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
check_pvh_note "$vmlinux" "$bzname"

rm -rf "$out"
mv "$work/out" "$out"
print_paths
