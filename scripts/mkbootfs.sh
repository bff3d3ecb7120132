#!/bin/bash
# Build a Zircon ramdisk container for the guest's -r: a ZBI holding a bootfs of a few named
# files and, with -c, a command line item; made with the project's build/zbi and checked with
# `build/zbi -t`. Default output: $GUEST_CACHE/zircon/bootdata.bin.
set -eu

PROG=mkbootfs.sh
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

usage() {
	cat <<EOF
usage: $PROG [-f] [-o OUT] [-c TEXT] [FILE...] | -h
Write OUT (default $GUEST_CACHE/zircon/bootdata.bin): a ZBI container with a
STORAGE_BOOTFS item holding the FILEs and, with -c, a CMDLINE item holding TEXT.
  FILE      SRC (stored under its base name) or NAME=SRC (stored as NAME, e.g.
            etc/hosts=/etc/hosts). Without FILEs the bootfs holds etc/motd, a line
            saying what made it.
  -c TEXT   add TEXT as a kernel command line item
  -o OUT    write OUT instead
  -f        rebuild even if OUT is cached (it is when made from the same files,
            command line, zbi tool and script)
  -h        this help
Prints OUT's path, and its listing (build/zbi -t) on stderr.
EOF
}

force=0
out=$GUEST_CACHE/zircon/bootdata.bin
cmdline=
have_cmdline=0
while getopts fo:c:h opt; do
	case $opt in
	f) force=1 ;;
	o) out=$OPTARG ;;
	c) cmdline=$OPTARG; have_cmdline=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

need_cmd make md5sum
make -C "$repo" -s build/zbi >&2 || die "cannot build $repo/build/zbi"
zbi=$repo/build/zbi

# name<TAB>source pairs; names become paths in the bootfs.
names=()
sources=()
for arg in "$@"; do
	case $arg in
	*=*) name=${arg%%=*} src=${arg#*=} ;;
	*) name=$(basename "$arg") src=$arg ;;
	esac
	[ -n "$name" ] || die "$arg: empty name"
	case /$name/ in
	//* | */../* | */./* | *//*) die "$arg: the name must be a relative path without . or .." ;;
	esac
	[ -f "$src" ] || die "$src: not a regular file"
	names+=("$name")
	sources+=("$src")
done

# Reuse the cached container if it was made from the same inputs by the same tool and script.
stamp=$(
	{
		cat "$here/mkbootfs.sh" "$here/lib.sh" "$zbi"
		printf 'cmdline %s %s\n' "$have_cmdline" "$cmdline"
		for i in "${!names[@]}"; do
			printf 'file %s\n' "${names[$i]}"
			md5sum <"${sources[$i]}"
		done
	} | md5sum | cut -d' ' -f1
)
if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	"$zbi" -t "$out" >&2
	printf '%s\n' "$out"
	exit 0
fi

mkdir -p "$(dirname "$out")"
stage=$(mktemp -d "$(dirname "$out")/.bootfs.XXXXXX")
trap 'rm -rf "$stage" "$out.tmp"' EXIT
mkdir "$stage/root"
if [ ${#names[@]} -eq 0 ]; then
	mkdir -p "$stage/root/etc"
	printf 'guest: Zircon bootfs made by scripts/mkbootfs.sh for the guest VMM tests\n' \
		>"$stage/root/etc/motd"
fi
for i in "${!names[@]}"; do
	[ ! -e "$stage/root/${names[$i]}" ] || die "${names[$i]}: named twice"
	mkdir -p "$(dirname "$stage/root/${names[$i]}")"
	cp "${sources[$i]}" "$stage/root/${names[$i]}"
done

args=(-o "$out.tmp" --bootfs "$stage/root" --crc)
[ "$have_cmdline" = 0 ] || args+=(--cmdline "$cmdline")
"$zbi" "${args[@]}"
"$zbi" -t "$out.tmp" >&2
mv -f "$out.tmp" "$out"
printf '%s\n' "$stamp" >"$out.stamp"
rm -rf "$stage"
trap - EXIT
printf '%s\n' "$out"
