#!/bin/bash
# Build a GPT disk image for Zircon guests (and the protocol probes' disk check):
# $GUEST_CACHE/zircon/zircon.gpt, one partition "SYS-A" of the Zircon system partition type
# 606B000B-B7C7-4653-A7D5-B737332C899D holding an ext2 file system with the files given (by
# default a README saying what the disk is). Made without root: sgdisk on a plain file,
# mke2fs -d from a staging directory, dd into the partition's sectors.
set -eu

PROG=mkgpt.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

SYSTEM_TYPE=606B000B-B7C7-4653-A7D5-B737332C899D
PARTITION_NAME=SYS-A
MIN_DISK_MIB=64

usage() {
	cat <<EOF
usage: $PROG [-f] [-o OUT] [FILE...] | -h
  -o OUT  write the disk image to OUT (default $GUEST_CACHE/zircon/zircon.gpt)
  -f      rebuild even if OUT is cached (same files, same script)
  -h      this help
The image is a GPT disk of at least $MIN_DISK_MIB MiB with one partition, "$PARTITION_NAME",
of type $SYSTEM_TYPE (Zircon system), starting at sector 2048 and
filling the disk, holding an ext2 file system with each FILE (a file or a directory) at its
root under its own name; without FILEs, a README. Needs sgdisk (Debian package gdisk) and
mke2fs (e2fsprogs).
EOF
}

force=0
out=$GUEST_CACHE/zircon/zircon.gpt
while getopts fo:h opt; do
	case $opt in
	f) force=1 ;;
	o) out=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
for file in "$@"; do
	[ -e "$file" ] || die "$file: no such file or directory"
done

need_from_packages sgdisk:gdisk mke2fs:e2fsprogs
need_cmd dd tar md5sum

# Reuse the cached image if this script made it from the same files.
stamp="$(cat "$here/mkgpt.sh" "$here/lib.sh" | md5sum | cut -d' ' -f1)"
if [ $# -gt 0 ]; then
	stamp="$stamp $(tar -P --sort=name --owner=0 --group=0 -cf - "$@" | md5sum | cut -d' ' -f1)"
fi
if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	printf 'gpt      %s\n' "$out"
	exit 0
fi

mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$(dirname "$out")/.mkgpt.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
if [ $# -eq 0 ]; then
	cat >"$work/root/README" <<EOF
A GPT test disk for guest's Zircon guests, made by scripts/mkgpt.sh: one partition,
"$PARTITION_NAME", of the Zircon system type $SYSTEM_TYPE, holding this ext2 file system.
EOF
else
	for file in "$@"; do
		name=$(basename "$file")
		[ ! -e "$work/root/$name" ] || die "$file: two FILEs named $name"
		cp -a "$file" "$work/root/$name"
	done
fi

# The content plus a quarter for the file system's own blocks and 16 MiB free, in whole MiB,
# and at least MIN_DISK_MIB; 2 MiB more for the GPT (the partition starts at 1 MiB, the
# backup table takes the last sectors).
content_kib=$(du -sk "$work/root" | cut -f1)
disk_mib=$(((content_kib + content_kib / 4 + 16 * 1024 + 1023) / 1024 + 2))
[ "$disk_mib" -ge "$MIN_DISK_MIB" ] || disk_mib=$MIN_DISK_MIB
disk=$work/disk.gpt
dd if=/dev/zero of="$disk" bs=1M count=0 seek="$disk_mib" status=none
sgdisk -o -n "1:2048:0" -t "1:$SYSTEM_TYPE" -c "1:$PARTITION_NAME" "$disk" \
	>"$work/sgdisk.log" 2>&1 || die "sgdisk failed: $(tail -n 3 "$work/sgdisk.log")"

# The partition's sectors, as sgdisk placed them (it aligns the end).
sgdisk -i 1 "$disk" >"$work/info" 2>&1 || die "sgdisk -i failed: $(tail -n 3 "$work/info")"
first=$(awk '/^First sector:/ { print $3 }' "$work/info")
last=$(awk '/^Last sector:/ { print $3 }' "$work/info")
type=$(awk '/^Partition GUID code:/ { print $4 }' "$work/info")
if [ -z "$first" ] || [ -z "$last" ]; then
	die "cannot read the partition's sectors from sgdisk -i"
fi
[ "$type" = "$SYSTEM_TYPE" ] || die "the partition's type is $type, not $SYSTEM_TYPE"

size_kib=$(((last - first + 1) / 2))
mke2fs -q -F -t ext2 -b 1024 -m 0 -L "$PARTITION_NAME" -E root_owner=0:0 -d "$work/root" \
	"$work/fs.ext2" "${size_kib}k" >"$work/mke2fs.log" 2>&1 ||
	die "mke2fs -d failed: $(tail -n 3 "$work/mke2fs.log")"
dd if="$work/fs.ext2" of="$disk" bs=512 seek="$first" conv=notrunc status=none

# The table must still be whole (dd wrote only inside the partition).
if ! sgdisk -v "$disk" >"$work/verify.log" 2>&1 ||
	! grep -q 'No problems found' "$work/verify.log"; then
	die "sgdisk -v finds problems: $(tail -n 3 "$work/verify.log")"
fi
mv -f "$disk" "$out"
printf '%s\n' "$stamp" >"$out.stamp"
rm -rf "$work"
trap - EXIT
printf 'gpt      %s\n' "$out"
