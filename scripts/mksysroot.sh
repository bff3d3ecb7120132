#!/bin/bash
# Build the guest's root file systems from Debian's kernel (scripts/mklinux.sh) and busybox-static.
#   -i: $GUEST_CACHE/sysroot/initrd.cpio.gz, a busybox initramfs with the kernel's virtio, pvpanic,
#       ext4, virtiofs and overlay modules. Its /init prints "guest-init: ready", then runs $initcmd (from the kernel
#       command line, e.g. initcmd="echo hi") and powers off, or else a shell on the console.
#       With root=/dev/vdX on the command line it mounts that disk instead and switches to its
#       /init.
#   -r: $GUEST_CACHE/sysroot/rootfs.ext2, the same system as an ext2 disk image (plus fio and
#       iperf3, Debian's builds, when the host has them), made without root privileges
#       (mke2fs -d). Its /init does what the
#       initramfs's does, on a read-write or a read-only root.
set -eu

PROG=mksysroot.sh
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

usage() {
	cat <<EOF
usage: $PROG [-i] [-r] [-f] | -h
  -i  build $GUEST_CACHE/sysroot/initrd.cpio.gz (busybox initramfs + virtio/ext4 modules)
  -r  build $GUEST_CACHE/sysroot/rootfs.ext2: the same busybox system (and modules) as an
      ext2 disk image with 32 MiB free, plus fio and iperf3 and their libraries if the
      host has them (apt-get install fio iperf3); built without root (needs e2fsprogs)
  -f  rebuild even if the output is cached
  -h  this help
-i and -r may be given together (-ir). The kernel comes from $GUEST_CACHE/linux
(scripts/mklinux.sh is run if it is missing).
Guest command line: initcmd="CMD" runs CMD with sh -c and powers off; without it, a shell.
root=/dev/vdX [ro|rw] [rootfstype=TYPE]: the initramfs mounts that disk (read-only unless rw,
as the kernel does) and continues with the disk's /init, e.g. with the -r image as vda:
  root=/dev/vda rw initcmd="..."
The -r image also boots without an initramfs on a kernel with virtio_blk and ext2 built in
(root=/dev/vda rw; /init is also /sbin/init).
EOF
}

force=0
want_initrd=0
want_rootfs=0
while getopts ifrh opt; do
	case $opt in
	i) want_initrd=1 ;;
	r) want_rootfs=1 ;;
	f) force=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }
[ "$want_initrd" = 1 ] || [ "$want_rootfs" = 1 ] ||
	{ printf '%s: nothing to build: give -i and/or -r\n' "$PROG" >&2; usage >&2; exit 2; }

linux=$GUEST_CACHE/linux
if [ ! -s "$linux/version" ] || [ ! -s "$linux/modules/modules.dep" ]; then
	info "kernel not built yet: running mklinux.sh"
	"$here/mklinux.sh" >/dev/null
fi
release=$(cat "$linux/version")

# Modules the guest tests may need; those built into the kernel are skipped.
modules=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
	virtio_blk virtio_console virtio_rng virtio_balloon virtio_net crc32c_generic crc32c_intel
	ext4 pvpanic_pci virtiofs overlay)
fbpaint_source=$(cd "$here/.." && pwd)/tests/guests/fbpaint.c

# Loaded only when the machine has a virtio-gpu (guest -g), since DRM takes a while to load.
graphics_modules=(virtio_gpu virtio_input evdev)

# The busybox system both images share, in the directory $1 (without /init).
populate_root() {
	local root=$1
	mkdir -p "$root"/dev "$root"/proc "$root"/sys "$root"/tmp "$root"/run "$root"/root \
		"$root"/etc "$root"/mnt
	install_busybox "$root"
	install_modules "$linux/modules" "$release" "$root" "${modules[@]}"
	MODULE_LIST=graphics.list install_modules "$linux/modules" "$release" "$root" \
		"${graphics_modules[@]}"
	# The graphics tests' painter (draws into /dev/fb0 through an mmap).
	gcc -static -Os -s -Wall -Wextra -Werror -o "$root/bin/fbpaint" "$fbpaint_source" ||
		die "cannot build fbpaint"
	# busybox udhcpc's hook (where Debian's busybox looks): the interface from the lease.
	mkdir -p "$root/etc/udhcpc"
	cat >"$root/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook (scripts/mksysroot.sh): the lease becomes the interface's address, route and DNS.
case $1 in
deconfig)
	ip addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
	: >/etc/resolv.conf
	for server in $dns; do echo "nameserver $server" >>/etc/resolv.conf; done
	;;
esac
exit 0
EOF
	chmod 755 "$root/etc/udhcpc/default.script"
	# net-up IFACE: up, then the kernel's word that the link is up (virtio-net reports its link
	# a moment after up, and the kernel takes it up to a second later; until then it drops what
	# is sent, and udhcpc gives up), then a DHCP lease.
	cat >"$root/usr/bin/net-up" <<'EOF'
#!/bin/sh
# net-up [IFACE [UDHCPC-OPTION...]] (scripts/mksysroot.sh): IFACE (default eth0) up, wait up to
# 5 s until its operational state is up, then take a DHCP lease with udhcpc; exit status is
# udhcpc's.
iface=${1:-eth0}
[ $# -gt 0 ] && shift
ip link set "$iface" up || exit 1
tries=0
while [ "$(cat "/sys/class/net/$iface/operstate" 2>/dev/null)" != up ] && [ $tries -lt 50 ]; do
	usleep 100000
	tries=$((tries + 1))
done
exec udhcpc -i "$iface" -s /etc/udhcpc/default.script -n -q -t 10 -T 1 "$@" >/dev/null 2>&1
EOF
	chmod 755 "$root/usr/bin/net-up"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
}

# The initramfs's /init.
write_initrd_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
# guest test initramfs (scripts/mksysroot.sh)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM="${TERM:-linux}"
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
# virtio-gpu (PCI 1af4:1050) present: the display drivers too.
if grep -qx 0x1050 /sys/bus/pci/devices/*/device 2>/dev/null &&
	[ -r "/lib/modules/$release/graphics.list" ]; then
	while read -r m; do
		insmod "/lib/modules/$release/$m" 2>/dev/null
	done <"/lib/modules/$release/graphics.list"
fi

# root=/dev/NAME on the kernel command line: mount that disk (read-only unless "rw", as the
# kernel would) and go on with its /init, which gets this environment (initcmd included). Only
# returns, having said why, when that cannot be done.
switch_to_disk() {
	case $root in
	/dev/*) ;;
	*) echo "guest-init: root=$root: only root=/dev/NAME is supported; staying in the initramfs"; return ;;
	esac
	tries=0
	while [ ! -b "$root" ]; do
		if [ "$tries" -ge 50 ]; then
			echo "guest-init: $root did not appear (virtio_blk not loaded?)"
			return
		fi
		usleep 100000
		tries=$((tries + 1))
	done
	mkdir -p /newroot
	if ! mount ${rootfstype:+-t "$rootfstype"} -o "$rootmode" "$root" /newroot; then
		echo "guest-init: cannot mount $root ($rootmode); staying in the initramfs"
		return
	fi
	if [ ! -x /newroot/init ]; then
		echo "guest-init: $root has no /init; staying in the initramfs"
		umount /newroot
		return
	fi
	# Hand the mounts over to the disk's system (its /dev has no nodes yet: no redirections
	# to /dev/null from here on).
	for dir in /run /tmp /sys /dev /proc; do
		if [ -d "/newroot$dir" ]; then
			mount --move "$dir" "/newroot$dir"
		else
			umount -l "$dir"
		fi
	done
	exec switch_root /newroot /init
}

# The kernel's parameters, one per line, quotes removed (initcmd="..." holds spaces).
params=$(awk '{
	arg = ""; have = 0; quoted = 0
	for (i = 1; i <= length($0); i++) {
		c = substr($0, i, 1)
		if (c == "\"") { quoted = !quoted; have = 1; continue }
		if (!quoted && (c == " " || c == "\t")) { if (have) print arg; arg = ""; have = 0; continue }
		arg = arg c; have = 1
	}
	if (have) print arg
}' /proc/cmdline)
root="" rootmode=ro rootfstype=""
while IFS= read -r param; do
	case $param in
	--) break ;;
	root=*) root=${param#root=} ;;
	rootfstype=*) rootfstype=${param#rootfstype=} ;;
	ro | rw) rootmode=$param ;;
	esac
done <<PARAMS
$params
PARAMS
[ -z "$root" ] || switch_to_disk

echo "guest-init: ready"
if [ -n "${initcmd+set}" ]; then
	sh -c "$initcmd"
else
	setsid cttyhack sh -l
fi
sync
poweroff -f
EOF
	chmod 755 "$1"
}

# The root disk's /init: booted by the kernel directly (init=/init or /sbin/init), when the kernel
# may have mounted devtmpfs on /dev already, or through the initramfs's switch_root, which hands
# over its mounts.
write_rootfs_init() {
	cat >"$1" <<'EOF'
#!/bin/sh
# guest root disk (scripts/mksysroot.sh -r). Works on a read-only root too: it only writes to
# the file systems it mounts.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TERM="${TERM:-linux}"
# No redirection to /dev/null before /dev is mounted: on a read-write root it would create a file.
[ -e /proc/mounts ] || mount -t proc proc /proc
mounted() {
	grep -q "^[^ ]* $1 " /proc/mounts
}
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mounted /dev/pts || mount -t devpts devpts /dev/pts
mounted /tmp || mount -t tmpfs tmpfs /tmp
mounted /run || mount -t tmpfs tmpfs /run
# A read-only root: HOME (/root, empty on the image) becomes a tmpfs, for the shell's history
# and whatever initcmd writes there.
if awk '$2 == "/" { opts = $4 } END { exit !(opts ~ /^ro(,|$)/) }' /proc/mounts; then
	mount -t tmpfs tmpfs /root
fi
release=$(uname -r)
if [ -r "/lib/modules/$release/load.list" ]; then
	while read -r m; do
		insmod "/lib/modules/$release/$m" 2>/dev/null
	done <"/lib/modules/$release/load.list"
fi
# virtio-gpu (PCI 1af4:1050) present: the display drivers too.
if grep -qx 0x1050 /sys/bus/pci/devices/*/device 2>/dev/null &&
	[ -r "/lib/modules/$release/graphics.list" ]; then
	while read -r m; do
		insmod "/lib/modules/$release/$m" 2>/dev/null
	done <"/lib/modules/$release/graphics.list"
fi
echo "guest-init: ready"
if [ -n "${initcmd+set}" ]; then
	sh -c "$initcmd"
else
	setsid cttyhack sh -l
fi
sync
# ext2 has no journal: leave it clean (a no-op on a read-only root).
mount -o remount,ro / 2>/dev/null
poweroff -f
EOF
	chmod 755 "$1"
}

build_initrd() {
	local out=$GUEST_CACHE/sysroot/initrd.cpio.gz stamp root
	# Reuse the cached image if it was built for this kernel by this version of the script.
	stamp="$release $(cat "$here/mksysroot.sh" "$here/lib.sh" "$fbpaint_source" | md5sum | cut -d' ' -f1)"
	if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
		printf 'initrd   %s\n' "$out"
		return 0
	fi
	need_cmd cpio gzip
	mkdir -p "$GUEST_CACHE/sysroot"
	root=$(mktemp -d "$GUEST_CACHE/sysroot/.root.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	populate_root "$root"
	write_initrd_init "$root/init"
	pack_initrd "$root" "$out"
	printf '%s\n' "$stamp" >"$out.stamp"
	rm -rf "$root"
	trap - EXIT
	printf 'initrd   %s\n' "$out"
}

# Copy the program $2 into the root $1 at the same path and, when it is dynamically linked, the
# libraries ldd names (into /usr/lib/x86_64-linux-gnu, which the dynamic loader searches without
# an ld.so.cache) and the loader itself at its own path.
install_dynamic_program() {
	local root=$1 program=$2 deps line lib
	mkdir -p "$root$(dirname "$program")" "$root/usr/lib/x86_64-linux-gnu"
	cp "$program" "$root$program"
	file_is_static "$program" && return 0
	need_cmd ldd
	deps=$(ldd "$program") || die "ldd $program failed"
	case $deps in *"not found"*) die "$program: ldd cannot find all its libraries: $deps" ;; esac
	while IFS= read -r line; do
		# "libz.so.1 => /lib/.../libz.so.1 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)"
		# shellcheck disable=SC2086 # split into words
		set -- $line
		case $1:${3:-} in
		/*) lib=$1; mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib" ;;
		*:/*) cp -L "$3" "$root/usr/lib/x86_64-linux-gnu/$1" ;;
		esac
	done <<<"$deps"
}

build_rootfs() {
	local out=$GUEST_CACHE/sysroot/rootfs.ext2 stamp root content_kib size_kib
	local free_blocks block_size uid program programs=() missing=()
	# Debian's programs the benchmarks run in the guest (bench/blk, bench/net), when the host
	# has them; the image is rebuilt when one changes.
	for program in /usr/bin/fio /usr/bin/iperf3; do
		if [ -x "$program" ]; then programs+=("$program"); else missing+=("${program##*/}"); fi
	done
	stamp="$release $(cat "$here/mksysroot.sh" "$here/lib.sh" "$fbpaint_source" "${programs[@]}" | md5sum | cut -d' ' -f1) programs=${programs[*]:-none}"
	if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
		printf 'rootfs   %s\n' "$out"
		return 0
	fi
	need_from_packages mke2fs:e2fsprogs debugfs:e2fsprogs dumpe2fs:e2fsprogs
	mkdir -p "$GUEST_CACHE/sysroot"
	root=$(mktemp -d "$GUEST_CACHE/sysroot/.rootfs.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	populate_root "$root/tree"
	write_rootfs_init "$root/tree/init"
	ln -s ../init "$root/tree/sbin/init"
	ln -s /proc/mounts "$root/tree/etc/mtab"
	for program in "${programs[@]}"; do
		install_dynamic_program "$root/tree" "$program"
	done
	[ ${#missing[@]} = 0 ] ||
		info "no ${missing[*]} on this host (apt-get install ${missing[*]}): the image has none"

	# The content plus an eighth for the file system's own blocks, plus 32 MiB free.
	content_kib=$(du -sk "$root/tree" | cut -f1)
	size_kib=$(((content_kib + content_kib / 8 + 32 * 1024 + 1023) / 1024 * 1024))
	mke2fs -q -F -t ext2 -b 4096 -I 256 -m 0 -L guest-root -E root_owner=0:0 -d "$root/tree" \
		"$root/rootfs.ext2" "${size_kib}k" >"$root/mke2fs.log" 2>&1 ||
		die "mke2fs -d failed: $(tail -n 3 "$root/mke2fs.log")"
	# What mke2fs cannot make without root: the console device (as in the initramfs) and, when
	# the files are not root's, root as their owner.
	{
		printf 'cd /dev\nmknod console c 5 1\nsif /dev/console mode 020600\n'
		uid=$(id -u)
		if [ "$uid" != 0 ]; then
			(cd "$root/tree" && find . -mindepth 1) | while IFS= read -r f; do
				printf 'sif %s uid 0\nsif %s gid 0\n' "${f#.}" "${f#.}"
			done
		fi
	} >"$root/debugfs.cmds"
	debugfs -w -f "$root/debugfs.cmds" "$root/rootfs.ext2" >"$root/debugfs.log" 2>&1 ||
		die "debugfs failed: $(tail -n 3 "$root/debugfs.log")"
	[ "$(debugfs -R 'stat /dev/console' "$root/rootfs.ext2" 2>/dev/null | grep -c 'Type: character special')" = 1 ] ||
		die "debugfs could not create /dev/console in the image"
	free_blocks=$(dumpe2fs -h "$root/rootfs.ext2" 2>/dev/null | awk -F: '$1 == "Free blocks" { print $2 + 0 }')
	block_size=$(dumpe2fs -h "$root/rootfs.ext2" 2>/dev/null | awk -F: '$1 == "Block size" { print $2 + 0 }')
	[ $((free_blocks * block_size)) -ge $((32 * 1024 * 1024)) ] ||
		die "rootfs.ext2 has only $((free_blocks * block_size / 1024)) KiB free; expected 32 MiB"
	mv -f "$root/rootfs.ext2" "$out"
	printf '%s\n' "$stamp" >"$out.stamp"
	rm -rf "$root"
	trap - EXIT
	printf 'rootfs   %s\n' "$out"
}

[ "$want_initrd" = 0 ] || build_initrd
[ "$want_rootfs" = 0 ] || build_rootfs
