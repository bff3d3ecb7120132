#!/bin/bash
# Build the guest's root file systems from Debian's kernel (scripts/mklinux.sh) and busybox-static.
#   -i: $GUEST_CACHE/sysroot/initrd.cpio.gz, a busybox initramfs with the kernel's virtio and
#       ext4 modules. Its /init prints "guest-init: ready", then runs $initcmd (from the kernel
#       command line, e.g. initcmd="echo hi") and powers off, or else a shell on the console.
set -eu

PROG=mksysroot.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

usage() {
	cat <<EOF
usage: $PROG -i [-f] | -h
  -i  build $GUEST_CACHE/sysroot/initrd.cpio.gz (busybox initramfs + virtio/ext4 modules)
  -r  ext2 root disk image (not yet supported)
  -f  rebuild even if the output is cached
  -h  this help
The kernel comes from $GUEST_CACHE/linux (scripts/mklinux.sh is run if it is missing).
Guest command line: initcmd="CMD" runs CMD with sh -c and powers off; without it, a shell.
EOF
}

force=0
want_initrd=0
while getopts ifrh opt; do
	case $opt in
	i) want_initrd=1 ;;
	f) force=1 ;;
	r) printf '%s: -r (ext2 root image) is not yet supported\n' "$PROG" >&2; exit 2 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }
[ "$want_initrd" = 1 ] || { printf '%s: nothing to build: give -i\n' "$PROG" >&2; usage >&2; exit 2; }

linux=$GUEST_CACHE/linux
if [ ! -s "$linux/version" ] || [ ! -s "$linux/modules/modules.dep" ]; then
	info "kernel not built yet: running mklinux.sh"
	"$here/mklinux.sh" >/dev/null
fi
release=$(cat "$linux/version")

# Modules the guest tests may need; those built into the kernel are skipped.
modules=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
	virtio_blk virtio_console virtio_rng virtio_balloon virtio_net crc32c_generic crc32c_intel
	ext4)

build_initrd() {
	local out=$GUEST_CACHE/sysroot/initrd.cpio.gz stamp root
	# Reuse the cached image if it was built for this kernel by this version of the script.
	stamp="$release $(cat "$here/mksysroot.sh" "$here/lib.sh" | md5sum | cut -d' ' -f1)"
	if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
		printf 'initrd   %s\n' "$out"
		return 0
	fi
	need_cmd cpio gzip
	mkdir -p "$GUEST_CACHE/sysroot"
	root=$(mktemp -d "$GUEST_CACHE/sysroot/.root.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	mkdir -p "$root"/dev "$root"/proc "$root"/sys "$root"/tmp "$root"/run "$root"/root \
		"$root"/etc "$root"/mnt
	install_busybox "$root"
	install_modules "$linux/modules" "$release" "$root" "${modules[@]}"
	cat >"$root/init" <<'EOF'
#!/bin/sh
# guest test initramfs (scripts/mksysroot.sh)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM=${TERM:-linux}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
release=$(uname -r)
if [ -r "/lib/modules/$release/load.list" ]; then
	while read -r m; do
		insmod "/lib/modules/$release/$m" 2>/dev/null
	done <"/lib/modules/$release/load.list"
fi
echo "guest-init: ready"
if [ -n "${initcmd+set}" ]; then
	sh -c "$initcmd"
else
	setsid cttyhack sh -l
fi
sync
poweroff -f
EOF
	chmod 755 "$root/init"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	pack_initrd "$root" "$out"
	printf '%s\n' "$stamp" >"$out.stamp"
	rm -rf "$root"
	trap - EXIT
	printf 'initrd   %s\n' "$out"
}

build_initrd
