# The shared-folder tests (virtio-fs, --share), sourced by run-all: they use its run_guest, check,
# expect_refusal, $guest, $kernel, $initrd, $work, $out, $err and $status.  The initrd's
# load.list loads fuse, virtiofs and overlay (scripts/mksysroot.sh).

# fs_value NAME: the guest's "NAME=VALUE" line's value (the last one), carriage return removed.
fs_value() {
    grep -a "^$1=" "$out" | tail -n 1 | sed "s/^$1=//; s/\r$//"
}

# fs_says_read_only NAME: the guest's NAME line is the Read-only file system error.
fs_says_read_only() {
    fs_value "$1" | grep -q 'Read-only file system'
}

# fs_tree DIR: every path under DIR with its type, mode and size, and each file's checksum: what
# a read-only share must leave exactly as it was.
fs_tree() {
    (cd "$1" && find . -printf '%y %m %s %p %l\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# A read-write share: the guest reads a host file (and its size and mode), writes a file, a
# tree of directories and files, renames one and removes another, makes a hard link and a
# symlink; after the guest powers off the host sees all of it.
test_share_read_write() {
    local share=$work/share-rw
    rm -rf "$share" && mkdir -p "$share/sub"
    head -c 3000000 /dev/urandom >"$share/host-file"
    chmod 640 "$share/host-file"
    echo "to be removed" >"$share/sub/gone"
    echo "old name" >"$share/sub/before"
    local host_sum
    host_sum=$(sha256sum "$share/host-file" | cut -d' ' -f1)
    # The guest's script is in the share itself (the kernel's command line is too short for it).
    cat >"$share/.script" <<'GUEST'
echo fs-sum=$(sha256sum /mnt/h/host-file | cut -d' ' -f1)
echo fs-stat=$(stat -c '%s %a' /mnt/h/host-file)
echo "written in the guest" > /mnt/h/guest-file
mkdir -p /mnt/h/tree/a/b && for i in 1 2 3; do echo "file $i" > /mnt/h/tree/a/b/f$i; done
dd if=/dev/zero of=/mnt/h/tree/big bs=64k count=40 2>/dev/null
mv /mnt/h/sub/before /mnt/h/sub/after; rm /mnt/h/sub/gone
ln /mnt/h/guest-file /mnt/h/hard-link; ln -s guest-file /mnt/h/soft-link
echo fs-list=$(ls /mnt/h/sub | tr '\n' ' ')
echo fs-links=$(stat -c %h /mnt/h/guest-file)
GUEST
    local script='mkdir -p /mnt/h; mount -t virtiofs hostdir /mnt/h && echo fs-mounted=yes; sh /mnt/h/.script; sync; umount /mnt/h && echo fs-unmounted=yes'
    run_guest --memory 512M --share "$share,tag=hostdir" -r "$initrd" -c "initcmd=\"$script\"" "$kernel"
    grep -a '^fs-' "$out" | sed 's/\r$//; s/^/    /'
    check "exit status 0 (got $status)" [ $status = 0 ]
    check "the guest mounted the share" [ "$(fs_value fs-mounted)" = yes ]
    check "the guest read the host's file" [ "$(fs_value fs-sum)" = "$host_sum" ]
    check "with its size and mode" [ "$(fs_value fs-stat)" = "3000000 640" ]
    check "the guest's file is on the host" [ "$(cat "$share/guest-file" 2>/dev/null)" = "written in the guest" ]
    check "and its tree" [ "$(cat "$share/tree/a/b/f3" 2>/dev/null)" = "file 3" ]
    check "a 2.5 MiB file of zeros" [ "$(stat -c %s "$share/tree/big" 2>/dev/null)" = 2621440 ]
    check "the rename" [ "$(cat "$share/sub/after" 2>/dev/null)" = "old name" ] && [ ! -e "$share/sub/before" ]
    check "the removal" [ ! -e "$share/sub/gone" ]
    check "the hard link (2 links, seen in the guest too)" \
        [ "$(stat -c %h "$share/guest-file" 2>/dev/null)" = 2 ] && [ "$(fs_value fs-links)" = 2 ]
    check "the symlink" [ "$(readlink "$share/soft-link")" = guest-file ]
    check "the guest unmounted it" [ "$(fs_value fs-unmounted)" = yes ]
}

# A read-only share: reads work, every change fails with EROFS in the guest, and the host's
# directory is exactly as it was.  A symlink in the share that points outside it shows the
# guest nothing of the outside file (the guest resolves it in its own tree).
test_share_read_only_and_outside_symlink() {
    local share=$work/share-ro outside=$work/outside
    rm -rf "$share" "$outside" && mkdir -p "$share/dir" "$outside"
    echo "secret outside the share" >"$outside/secret"
    echo "inside" >"$share/dir/file"
    ln -s "$outside/secret" "$share/absolute-link"
    ln -s ../outside/secret "$share/relative-link"
    ln -s ../../.. "$share/dir/up"
    cat >"$share/.script" <<'GUEST'
echo fs-read=$(cat /mnt/r/dir/file)
sh -c 'echo x > /mnt/r/new' 2>/tmp/e; echo fs-create=$(cat /tmp/e)
sh -c 'echo x >> /mnt/r/dir/file' 2>/tmp/e; echo fs-append=$(cat /tmp/e)
mkdir /mnt/r/d 2>/tmp/e; echo fs-mkdir=$(cat /tmp/e)
rm /mnt/r/dir/file 2>/tmp/e; echo fs-rm=$(cat /tmp/e)
mv /mnt/r/dir /mnt/r/dir2 2>/tmp/e; echo fs-mv=$(cat /tmp/e)
chmod 777 /mnt/r/dir/file 2>/tmp/e; echo fs-chmod=$(cat /tmp/e)
echo fs-absolute=$(cat /mnt/r/absolute-link 2>&1 | grep -c secret)
echo fs-relative=$(cat /mnt/r/relative-link 2>&1 | grep -c secret)
echo fs-up=$(ls /mnt/r/dir/up/ 2>&1 | grep -c outside)
echo fs-readlink=$(readlink /mnt/r/relative-link)
GUEST
    local before
    before=$(fs_tree "$share")
    local script='mkdir -p /mnt/r; mount -t virtiofs ro-tag /mnt/r && echo fs-mounted=yes; sh /mnt/r/.script'
    run_guest --memory 512M --share "$share,tag=ro-tag,ro" -r "$initrd" -c "initcmd=\"$script\"" "$kernel"
    grep -a '^fs-' "$out" | sed 's/\r$//; s/^/    /'
    check "exit status 0 (got $status)" [ $status = 0 ]
    check "the guest mounted the share" [ "$(fs_value fs-mounted)" = yes ]
    check "the guest read a file" [ "$(fs_value fs-read)" = inside ]
    local op
    for op in create append mkdir rm mv chmod; do
        check "$op fails with EROFS (got: $(fs_value fs-$op))" fs_says_read_only fs-$op
    done
    check "the host's directory is unchanged" [ "$(fs_tree "$share")" = "$before" ]
    check "the absolute symlink shows nothing outside" [ "$(fs_value fs-absolute)" = 0 ]
    check "the relative symlink shows nothing outside" [ "$(fs_value fs-relative)" = 0 ]
    check "../../.. from inside shows nothing outside" [ "$(fs_value fs-up)" = 0 ]
    check "readlink gives the link's text" [ "$(fs_value fs-readlink)" = ../outside/secret ]
}

# Two shares, each mounted by its tag (one the default: the directory's name).
test_share_two_tags() {
    local one=$work/first-share two=$work/second
    rm -rf "$one" "$two" && mkdir -p "$one" "$two"
    echo one >"$one/name" && echo two >"$two/name"
    local script='mkdir -p /mnt/1 /mnt/2; mount -t virtiofs first-share /mnt/1; mount -t virtiofs other /mnt/2; echo fs-one=$(cat /mnt/1/name); echo fs-two=$(cat /mnt/2/name)'
    run_guest --memory 512M --share "$one" --share "$two,tag=other" -r "$initrd" \
        -c "initcmd=\"$script\"" "$kernel"
    grep -a '^fs-' "$out" | sed 's/\r$//; s/^/    /'
    check "exit status 0 (got $status)" [ $status = 0 ]
    check "the default tag mounts the first" [ "$(fs_value fs-one)" = one ]
    check "tag=other mounts the second" [ "$(fs_value fs-two)" = two ]
}

test_refuses_bad_share_options() {
    echo "    missing directory"; expect_refusal "$work/no-such-dir" --share "$work/no-such-dir" "$kernel"
    echo "    not a directory";  expect_refusal "not a directory" --share "$kernel" "$kernel"
    echo "    unknown key";      expect_refusal "--share $work,size=1: unknown key 'size'" --share "$work,size=1" "$kernel"
    echo "    duplicate tag";    expect_refusal "tag 'x' is already" --share "$work,tag=x" --share "/tmp,tag=x" "$kernel"
    echo "    tag too long";     expect_refusal "longer than 36" --share "$work,tag=abcdefghijklmnopqrstuvwxyz01234567890" "$kernel"
}

# exec_in DIR ARGS...: run_guest in DIR (the directory --exec hands the command).
exec_in() {
    local dir=$1
    shift
    local here=$PWD guest=$guest
    [[ $guest == /* ]] || guest=$here/$guest
    cd "$dir" || return
    run_guest "$@"
    cd "$here" || return
}

# --exec on the small kernel (virtio-fs and overlayfs built in): the command runs in the
# caller's directory on the host's files, its writes stay in the guest, and its status is
# guest's: 7, then 0 and 255.
test_exec_small_kernel() {
    local dir=$work/exec-cwd
    rm -rf "$dir" && mkdir -p "$dir"
    echo "a file of the caller's" >"$dir/input"
    local script='echo exec-pwd=$(pwd); echo exec-input=$(cat input); echo exec-home=$HOME; echo gone > written-in-guest; echo exec-wrote=$(cat written-in-guest); exit 7'
    exec_in "$dir" --memory 512M --exec "$script" "$small_kernel"
    grep -a '^exec-' "$out" | sed 's/\r$//; s/^/    /'
    check "exit status 7, the command's (got $status)" [ $status = 7 ]
    check "it ran in the caller's directory" [ "$(fs_value exec-pwd)" = "$dir" ]
    check "it read the caller's file" [ "$(fs_value exec-input)" = "a file of the caller's" ]
    check "with the caller's HOME" [ "$(fs_value exec-home)" = "$HOME" ]
    check "its write worked in the guest" [ "$(fs_value exec-wrote)" = gone ]
    check "and never reached the host" [ ! -e "$dir/written-in-guest" ]
    exec_in "$dir" --memory 512M --exec true "$small_kernel"
    check "--exec true: status 0 (got $status)" [ $status = 0 ]
    exec_in "$dir" --memory 512M --exec 'exit 255' "$small_kernel"
    check "--exec 'exit 255': status 255 (got $status)" [ $status = 255 ]
}

# --exec on Debian's kernel, whose virtio-fs, fuse and overlayfs are modules (--modules, here
# the default beside the kernel): a --share of the caller's directory is mounted where it is
# and writable, so what the command writes there is on the host afterwards.
test_exec_debian_kernel_modules_and_share() {
    local dir=$work/exec-share
    rm -rf "$dir" && mkdir -p "$dir"
    local script='echo exec-modules=$(grep -c -e ^virtiofs -e ^overlay /proc/modules); echo from the guest > result; exit 3'
    exec_in "$dir" --memory 512M --share "$dir,tag=work" --exec "$script" "$kernel"
    grep -a '^exec-' "$out" | sed 's/\r$//; s/^/    /'
    check "exit status 3, the command's (got $status)" [ $status = 3 ]
    check "virtiofs and overlay were loaded from the modules" [ "$(fs_value exec-modules)" = 2 ]
    check "the command's file is in the shared directory" [ "$(cat "$dir/result" 2>/dev/null)" = "from the guest" ]
}

test_refuses_bad_exec_options() {
    echo "    -r with --exec";     expect_refusal "-r .*--exec makes the initramfs" --exec true -r "$initrd" "$kernel"
    echo "    --modules alone";    expect_refusal "--modules: only means something with --exec" --modules "$work" "$kernel"
    echo "    not a modules dir";  expect_refusal "$work: not a modules directory" --exec true --modules "$work" "$kernel"
    echo "    a share tagged root"; expect_refusal "tag 'root' is --exec's" --exec true --share "$work,tag=root" "$kernel"
}
