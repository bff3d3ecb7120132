# Shared helpers for the image scripts (scripts/*.sh, tests/host/*). Source it; do not run it.
# shellcheck shell=bash

GUEST_CACHE=${GUEST_CACHE:-${HOME:?HOME is not set}/.cache/guest}
PROG=${PROG:-$(basename "$0")}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 1
}

info() {
	printf '%s: %s\n' "$PROG" "$*" >&2
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "needs '$c' (not found in PATH)"
	done
}

# Like need_cmd, for commands (or files, given as absolute paths) that Debian packages provide:
# checks them all and names every missing package at once.
#   need_from_packages COMMAND:PACKAGE...   e.g. bison:bison /usr/include/gelf.h:libelf-dev
need_from_packages() {
	local arg what pkg missing=
	for arg in "$@"; do
		what=${arg%:*}
		pkg=${arg##*:}
		case $what in
		/*) [ -e "$what" ] && continue ;;
		*) command -v "$what" >/dev/null 2>&1 && continue ;;
		esac
		case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
	done
	[ -z "$missing" ] || die "needs Debian packages:$missing (apt-get install$missing)"
}

# Busybox-static binary: the guest initramfs needs a statically linked one.
find_busybox() {
	local b
	for b in ${GUEST_BUSYBOX:-} /bin/busybox /usr/bin/busybox; do
		[ -x "$b" ] || continue
		# A dynamically linked busybox cannot run inside an initramfs without libc.
		if file_is_static "$b"; then
			printf '%s\n' "$b"
			return 0
		fi
	done
	die "needs a statically linked busybox (apt-get install busybox-static)"
}

file_is_static() {
	# ELF with no PT_INTERP program header. Fall back to 'yes' when readelf is missing.
	if command -v readelf >/dev/null 2>&1; then
		! readelf -lW "$1" 2>/dev/null | grep -q 'INTERP'
	else
		return 0
	fi
}

# Resolve a list of module names (kvm_amd, virtio-blk, ...) into the .ko paths (relative to
# MODDIR) that must be loaded, dependencies first, using MODDIR/modules.dep. Names that are not
# modules (built in, or absent) are skipped silently.
#   resolve_modules MODDIR NAME...
resolve_modules() {
	local moddir=$1
	shift
	[ -r "$moddir/modules.dep" ] || die "$moddir/modules.dep missing (run scripts/mklinux.sh -f)"
	printf '%s\n' "$@" | awk -v depfile="$moddir/modules.dep" '
	function norm(s) { sub(/.*\//, "", s); sub(/\.ko(\.[a-z]+)?$/, "", s); gsub(/-/, "_", s); return s }
	function visit(p,   n, i, d) {
		if (p in seen) return
		seen[p] = 1
		n = split(deps[p], d, " ")
		# modules.dep lists the dependencies in reverse load order: walk it from the end.
		for (i = n; i >= 1; i--) visit(d[i])
		print p
	}
	BEGIN {
		while ((getline line < depfile) > 0) {
			c = index(line, ":")
			if (c == 0) continue
			p = substr(line, 1, c - 1)
			deps[p] = substr(line, c + 1)
			path[norm(p)] = p
		}
	}
	{ m = norm($0); if (m in path) visit(path[m]) }'
}

# Copy the resolved modules into DEST (a root tree) under lib/modules/RELEASE, decompressed,
# and write DEST/lib/modules/RELEASE/load.list (load order, one path per line, .ko), or
# the list named by $MODULE_LIST.
#   install_modules MODDIR RELEASE DEST NAME...
install_modules() {
	local moddir=$1 release=$2 dest=$3 rel out
	shift 3
	local list listfile=${MODULE_LIST:-load.list}
	list=$(resolve_modules "$moddir" "$@")
	mkdir -p "$dest/lib/modules/$release"
	: >"$dest/lib/modules/$release/$listfile"
	for rel in $list; do
		out=$dest/lib/modules/$release/${rel%.ko*}.ko
		mkdir -p "$(dirname "$out")"
		case $rel in
		*.ko) cp "$moddir/$rel" "$out" ;;
		*.ko.xz) xz -dc "$moddir/$rel" >"$out" ;;
		*.ko.zst) zstd -q -dc "$moddir/$rel" >"$out" ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$out" ;;
		*) die "$rel: unknown module compression" ;;
		esac
		printf '%s\n' "${rel%.ko*}.ko" >>"$dest/lib/modules/$release/$listfile"
	done
}

# Install busybox into DEST/bin with one symlink per applet.
#   install_busybox DEST
install_busybox() {
	local dest=$1 bb a
	bb=$(find_busybox)
	mkdir -p "$dest/bin" "$dest/sbin" "$dest/usr/bin" "$dest/usr/sbin"
	cp "$bb" "$dest/bin/busybox"
	for a in $("$bb" --list); do
		[ "$a" = busybox ] && continue
		[ -e "$dest/bin/$a" ] || ln -s busybox "$dest/bin/$a"
	done
}

# Pack DEST into a gzip-compressed newc cpio archive at OUT (atomically), with /dev/console.
#   pack_initrd DEST OUT
pack_initrd() {
	local dest=$1 out=$2
	mkdir -p "$(dirname "$out")"
	# Owned by root in the archive whoever runs this; /dev/console is in the archive so that
	# the kernel can open the console for init even before devtmpfs is mounted.
	(
		cd "$dest" || exit 1
		{
			find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0
		} >"$out.tmp.cpio"
	)
	cpio_add_console "$out.tmp.cpio"
	gzip -9 -n <"$out.tmp.cpio" >"$out.tmp"
	rm -f "$out.tmp.cpio"
	mv -f "$out.tmp" "$out"
}

# Append a second newc archive holding the character device dev/console (5,1): the kernel
# unpacks concatenated archives, so this needs neither root nor mknod. DEST must have dev/.
cpio_add_console() {
	local arc=$1
	{
		cpio_entry dev/console $((0x2000 | 0600)) 5 1
		cpio_entry TRAILER!!! 0 0 0
	} >>"$arc"
}

# One empty newc entry: NAME MODE RDEVMAJOR RDEVMINOR. Header is 110 bytes; header+name+NUL is
# padded to a multiple of 4.
cpio_entry() {
	local name=$1 mode=$2 major=$3 minor=$4 pad
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$mode" 0 0 1 0 0 0 0 "$major" "$minor" $((${#name} + 1)) 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + ${#name} + 1) % 4) % 4))
	while [ "$pad" -gt 0 ]; do
		printf '\0'
		pad=$((pad - 1))
	done
}

# Downloaded Debian packages, kept across rebuilds.
debs=${debs:-$GUEST_CACHE/debs}

# The newest cached .deb of package $1 for architecture $2, or nothing.
latest_deb() {
	local f latest=
	for f in "$debs/$1"_*_"$2".deb; do
		[ -f "$f" ] && latest=$f
	done
	printf '%s\n' "$latest"
}

# The cached .deb of package $1 ($2: its architecture), else downloaded with apt-get (needs
# network once). Prints its path.
fetch_deb() {
	local pkg=$1 arch=$2 deb dl
	deb=$(latest_deb "$pkg" "$arch")
	if [ -z "$deb" ]; then
		need_cmd apt-get
		mkdir -p "$debs"
		info "downloading $pkg"
		dl=$(mktemp -d "$debs/.dl.XXXXXX")
		(cd "$dl" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >/dev/null) ||
			{ rm -rf "$dl"; die "apt-get download $pkg failed"; }
		mv "$dl"/*.deb "$debs/"
		rmdir "$dl"
		deb=$(latest_deb "$pkg" "$arch")
		[ -n "$deb" ] || die "apt-get download $pkg left no $debs/${pkg}_*_$arch.deb"
	fi
	printf '%s\n' "$deb"
}

# The [-f] [-h] options of the image scripts: sets force=1 for -f, shows the
# script's usage for -h; anything else is a usage error.
# shellcheck disable=SC2034 # force is the caller's
parse_force_option() {
	force=0
	local opt OPTIND=1
	while getopts fh opt; do
		case $opt in
		f) force=1 ;;
		h) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -eq 0 ] || { usage >&2; exit 2; }
}
