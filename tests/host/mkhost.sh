#!/bin/bash
# Build the initramfs of the nested KVM test host (see tests/host/nested):
#   $GUEST_CACHE/host/initrd.cpio.gz: busybox, kvm + kvm_amd, virtio, 9p and overlay modules,
#   and an /init that mounts the caller's root over 9p, runs a command in it and powers off.
set -eu

PROG=mkhost.sh
here=$(cd "$(dirname "$0")" && pwd)
scripts=$(cd "$here/../../scripts" && pwd)
# shellcheck source=scripts/lib.sh
. "$scripts/lib.sh"

usage() {
	cat <<EOF
usage: $PROG [-f] [-h]
Build $GUEST_CACHE/host/initrd.cpio.gz, the nested test host's initramfs, for the kernel in
$GUEST_CACHE/linux (scripts/mklinux.sh is run if it is missing).
  -f  rebuild even if the output is cached
  -h  this help
EOF
}

parse_force_option "$@"

linux=$GUEST_CACHE/linux
if [ ! -s "$linux/version" ] || [ ! -s "$linux/modules/modules.dep" ]; then
	info "kernel not built yet: running mklinux.sh"
	"$scripts/mklinux.sh" >/dev/null
fi
release=$(cat "$linux/version")
out=$GUEST_CACHE/host/initrd.cpio.gz

stamp="$release $(cat "$here/mkhost.sh" "$here/kvm-hold.c" "$scripts/lib.sh" | md5sum | cut -d' ' -f1)"
if [ "$force" = 0 ] && [ -s "$out" ] && [ "$(cat "$out.stamp" 2>/dev/null)" = "$stamp" ]; then
	printf 'initrd   %s\n' "$out"
	exit 0
fi

need_cmd cpio gzip gcc
# Built-in ones (none of these, in Debian's config) are skipped by resolve_modules.
modules=(virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_mmio
	netfs fscache 9pnet 9pnet_virtio 9p overlay irqbypass ccp kvm kvm_amd tun vhost_net)

mkdir -p "$GUEST_CACHE/host"
root=$(mktemp -d "$GUEST_CACHE/host/.root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/dev "$root"/proc "$root"/sys "$root"/host "$root"/tmp "$root"/etc
install_busybox "$root"
gcc -std=gnu11 -Wall -Wextra -Werror -Os -static "$here/kvm-hold.c" -o "$root/bin/kvm-hold" ||
	die "cannot build kvm-hold (gcc with a static libc, from libc6-dev)"
install_modules "$linux/modules" "$release" "$root" "${modules[@]}"

# The kernel command line carries only nested_res=<results dir> (a mktemp path) and
# nested_9p=<mount options>; the command itself is in <results dir>/cmd.sh.
cat >"$root/init" <<'EOF'
#!/bin/sh
# nested KVM test host init (tests/host/mkhost.sh)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
release=$(uname -r)
while read -r m; do
	insmod "/lib/modules/$release/$m" 2>/dev/null
done <"/lib/modules/$release/load.list"
# Loopback, for tests that talk to the VMM over TCP (the VNC display).
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
stty -F "$out" raw -echo 2>/dev/null
fail() {
	echo "nested: test host: $*" >"$out"
	[ -d "/host$nested_res" ] && echo "$*" >"/host$nested_res/error"
	poweroff -f
	exit 1
}
opts="trans=virtio,version=9p2000.L,${nested_9p:-msize=512000,cache=loose}"
mount -t 9p -o "ro,$opts" hostroot /host || fail "cannot mount the host root over 9p"
mount -t proc proc /host/proc
mount -t sysfs sysfs /host/sys
mount -t devtmpfs devtmpfs /host/dev
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
mount -t tmpfs tmpfs /host/dev/shm
mount -t tmpfs tmpfs /host/run
# /tmp: the host's /tmp read-only underneath, writes go to a tmpfs (or a plain tmpfs).
mount -t tmpfs tmpfs /tmp
mkdir -p /tmp/upper /tmp/work
mount -t overlay -o lowerdir=/host/tmp,upperdir=/tmp/upper,workdir=/tmp/work overlay /host/tmp ||
	mount -t tmpfs tmpfs /host/tmp
mkdir -p "/host$nested_res"
mount -t 9p -o "$opts" results "/host$nested_res" || fail "cannot mount the results share"
cat /proc/uptime >"/host$nested_res/up"
[ -c /dev/kvm ] || fail "no /dev/kvm (kvm_amd did not load: $(dmesg | grep -i -m1 -E 'kvm|svm'))"
# One VM held for the host's life keeps virtualization on in every CPU, so the tests' VMs
# come and go without the all-CPU IPIs that QEMU's emulated SVM now and then leaves unanswered.
kvm-hold &
chroot /host /bin/bash "$nested_res/cmd.sh" <"$out" >"$out" 2>&1
echo $? >"/host$nested_res/status"
sync
poweroff -f
EOF
chmod 755 "$root/init"
pack_initrd "$root" "$out"
printf '%s\n' "$stamp" >"$out.stamp"
printf 'initrd   %s\n' "$out"
