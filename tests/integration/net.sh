# The network tests (virtio-net with --net user and --net tap), sourced by run-all: they use its
# run_guest, check, $guest, $kernel, $initrd, $work, $out, $err and $status.
#
# Every byte stays inside the test host: user-mode networking always runs with restrict=on
# (guest -> host traffic goes through guestfwd rules to 127.0.0.1), and the taps get
# link-local addresses (169.254.x.y) inside the test host.

net_peer=tests/integration/net_peer.py

# wait_for_output PATTERN PID SECONDS: until the guest's output matches or it exits.
wait_for_output() {
    local pattern=$1 pid=$2 tenths=$(($3 * 10))
    for _ in $(seq 1 $tenths); do
        grep -aqE "$pattern" "$out" && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_for_file FILE: a peer's "listening" mark, for at most 10 s.
wait_for_file() {
    for _ in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.1; done
    return 1
}

# value NAME: the guest's "NAME=VALUE" line's value (the last one), carriage return removed.
value() {
    grep -a "^$1=" "$out" | tail -n 1 | sed "s/^$1=//; s/\r$//"
}

# --net user,restrict=on: DHCP gives 10.0.2.15 (and, restricted, no router); a guestfwd address
# reaches an HTTP server on the host's 127.0.0.1 (64 MiB, host to guest); a hostfwd reaches a
# server in the guest (4 MiB, guest to host); and a connection to the host that no rule allows
# (10.0.2.2, which without restrict=on is the host's loopback) never arrives.
#
# KNOWN DEFECT, open (issue 10): 64 MiB guest to host through a hostfwd kills the guest now and
# then in the nested test host: a double fault (or a triple fault) with an exception taken at
# entry_SYSCALL_64's first instruction, still on the user stack.  7 of 40 transfers under
# guest, none of 13 under QEMU (same kernel, image and test host).  Until it is understood
# make check sends 4 MiB that way; `make net-soak` sends 64 MiB, for guest and QEMU alike.
test_net_user_restricted() {
    local web=$work/web
    mkdir -p "$web"
    head -c $((64 << 20)) /dev/urandom >"$web/big"
    local down_sum
    down_sum=$(sha256sum "$web/big" | cut -d' ' -f1)
    busybox httpd -f -p 127.0.0.1:18080 -h "$web" &
    local httpd=$!
    rm -f "$work/leak" "$work/watching"
    python3 "$net_peer" watch 127.0.0.1 18082 "$work/watching" "$work/leak" &
    local watcher=$!
    wait_for_file "$work/watching"

    local script
    read -r -d '' script <<'GUEST'
net-up eth0;
echo net-addr=$(ip -4 -o addr show eth0 | awk '{print $4}');
echo net-gateway=$(ip route | awk '/^default/ {print $3}');
echo net-down=$(wget -q -O - http://10.0.2.100/big | sha256sum | cut -d' ' -f1);
if nc -w 5 10.0.2.2 18082 </dev/null; then echo net-leak=connected; else echo net-leak=refused; fi;
dd if=/dev/urandom of=/tmp/up bs=1M count=4 2>/dev/null;
echo net-up=$(sha256sum /tmp/up | cut -d' ' -f1);
echo net-serving; nc -l -p 8080 </tmp/up; echo net-served
GUEST
    script=${script//$'\n'/ }
    local attempt pid fetched
    for attempt in 1 2; do
        timeout -s QUIT -k 5 "$boot_timeout" "$guest" --memory 512M \
            --net "user,restrict=on,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:18080,hostfwd=tcp:127.0.0.1:18081-:8080" \
            -r "$initrd" -c "initcmd=\"$script\"" "$kernel" >"$out" 2>"$err" </dev/null &
        pid=$! fetched=""
        if wait_for_output '^net-serving' $pid 240; then
            fetched=$(python3 "$net_peer" fetch 127.0.0.1 18081 120)
        fi
        wait $pid
        status=$?
        boot_again_after_lost_state $attempt || break
    done
    kill $httpd $watcher 2>/dev/null
    wait $httpd $watcher 2>/dev/null
    echo "    guest: address $(value net-addr), gateway $(value net-gateway)," \
        "leak $(value net-leak); host fetched: ${fetched:-nothing}"
    check "exit status 0 (got $status)" [ $status = 0 ]
    check "DHCP gave 10.0.2.15/24" [ "$(value net-addr)" = 10.0.2.15/24 ]
    check "restrict=on: the lease offers no router (as QEMU's)" [ -z "$(value net-gateway)" ]
    check "64 MiB from the host's HTTP server through guestfwd, intact" \
        [ "$(value net-down)" = "$down_sum" ]
    check "4 MiB from the guest's server through hostfwd, intact" \
        [ "$fetched" = "$((4 << 20)) $(value net-up)" ]
    check "restrict=on: the guest's connection to 10.0.2.2:18082 failed" \
        [ "$(value net-leak)" = refused ]
    check "restrict=on: nothing reached the host's 127.0.0.1:18082" [ ! -s "$work/leak" ]
}

# Two NICs are eth0 and eth1 in --net order, with the given and the default MAC; each gets its
# lease; eth0 taken down and up again by the guest carries traffic again.
test_net_two_nics_and_link_down_up() {
    local web=$work/web2
    mkdir -p "$web"
    echo "hello from the host" >"$web/hello"
    busybox httpd -f -p 127.0.0.1:18083 -h "$web" &
    local httpd=$!
    local script
    read -r -d '' script <<'GUEST'
echo net-mac0=$(cat /sys/class/net/eth0/address); echo net-mac1=$(cat /sys/class/net/eth1/address);
net-up eth1; echo net-addr1=$(ip -4 -o addr show eth1 | awk '{print $4}');
ip link set eth1 down; net-up eth0; echo net-addr0=$(ip -4 -o addr show eth0 | awk '{print $4}');
echo net-get1=$(timeout 20 wget -q -O - http://10.0.2.100/hello);
ip link set eth0 down; echo net-down=$(cat /sys/class/net/eth0/operstate); net-up eth0;
echo net-get2=$(timeout 20 wget -q -O - http://10.0.2.100/hello)
GUEST
    script=${script//$'\n'/ }
    run_guest --memory 512M \
        --net "user,restrict=on,mac=02:aa:bb:cc:dd:01,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:18083" \
        --net "user,restrict=on" -r "$initrd" -c "initcmd=\"$script\"" "$kernel"
    kill $httpd 2>/dev/null
    wait $httpd 2>/dev/null
    grep -a '^net-' "$out" | sed 's/\r$//; s/^/    /'
    check "exit status 0 (got $status)" [ $status = 0 ]
    check "eth0 has the given MAC" [ "$(value net-mac0)" = 02:aa:bb:cc:dd:01 ]
    check "eth1 has a locally administered unicast MAC of its own" \
        sh -c "echo '$(value net-mac1)' | grep -qE '^[0-9a-f][26ae](:[0-9a-f]{2}){5}$' &&
               [ '$(value net-mac1)' != '$(value net-mac0)' ]"
    check "eth1 got its lease" [ "$(value net-addr1)" = 10.0.2.15/24 ]
    check "eth0 got its lease" [ "$(value net-addr0)" = 10.0.2.15/24 ]
    check "eth0 fetched through guestfwd" [ "$(value net-get1)" = "hello from the host" ]
    check "eth0 was down" [ "$(value net-down)" = down ]
    check "eth0 down and up again fetched again" [ "$(value net-get2)" = "hello from the host" ]
}

# tap_transfer VHOST: a tap in the test host (169.254.77.1/24), the guest on 169.254.77.2; 32 MiB
# each way, checked by SHA-256.  Sets tap_vhost_open to yes/no: /dev/vhost-net open in guest.
tap_transfer() {
    local vhost=$1 tap=gtap0
    ip link del "$tap" 2>/dev/null
    ip tuntap add dev "$tap" mode tap
    ip addr add 169.254.77.1/24 dev "$tap"
    ip link set "$tap" up
    rm -f "$work/receiving"
    python3 "$net_peer" receive 169.254.77.1 18090 "$work/receiving" >"$work/received" &
    local receiver=$!
    wait_for_file "$work/receiving"
    local script
    read -r -d '' script <<'GUEST'
ip addr add 169.254.77.2/24 dev eth0; ip link set eth0 up;
dd if=/dev/urandom of=/tmp/up bs=1M count=32 2>/dev/null; echo net-up=$(sha256sum /tmp/up | cut -d' ' -f1);
nc 169.254.77.1 18090 </tmp/up; echo net-sent;
echo net-serving; nc -l -p 8080 </tmp/up; echo net-served
GUEST
    script=${script//$'\n'/ }
    timeout -s QUIT -k 5 "$boot_timeout" "$guest" --memory 512M --net "tap,ifname=$tap,vhost=$vhost" \
        -r "$initrd" -c "initcmd=\"$script\"" "$kernel" >"$out" 2>"$err" </dev/null &
    local pid=$! fetched=""
    tap_vhost_open=no
    if wait_for_output '^net-serving' $pid 240; then
        # timeout's child is the VMM.
        local vmm
        vmm=$(pgrep -P $pid | head -n 1)
        [ -n "$vmm" ] && ls -l "/proc/$vmm/fd" 2>/dev/null | grep -q vhost-net && tap_vhost_open=yes
        fetched=$(python3 "$net_peer" fetch 169.254.77.2 8080 120)
    fi
    wait $pid
    status=$?
    kill $receiver 2>/dev/null
    wait $receiver 2>/dev/null
    ip link del "$tap" 2>/dev/null
    echo "    vhost=$vhost: host received $(cat "$work/received"), fetched ${fetched:-nothing};" \
        "/dev/vhost-net open: $tap_vhost_open"
    check "vhost=$vhost: exit status 0 (got $status)" [ $status = 0 ]
    check "vhost=$vhost: 32 MiB guest to host, intact" \
        [ "$(cat "$work/received")" = "$((32 << 20)) $(value net-up)" ]
    check "vhost=$vhost: 32 MiB host to guest, intact" [ "$fetched" = "$((32 << 20)) $(value net-up)" ]
}

test_net_tap_vhost_and_user_space() {
    tap_transfer on
    check "vhost=on: /dev/vhost-net is open in the VMM" [ $tap_vhost_open = yes ]
    tap_transfer off
    check "vhost=off: /dev/vhost-net is not open" [ $tap_vhost_open = no ]
}

test_refuses_bad_net_options() {
    echo "    unknown key";        expect_refusal "--net user,colour=blue: .*colour" --net user,colour=blue "$kernel"
    echo "    bad MAC";            expect_refusal "mac=" --net user,mac=01:02:03 "$kernel"
    echo "    multicast MAC";      expect_refusal "mac=" --net user,mac=01:00:5e:00:00:01 "$kernel"
    echo "    hostfwd port in use"
    rm -f "$work/busy"
    python3 "$net_peer" watch 127.0.0.1 18085 "$work/busy" "$work/busy.log" &
    local busy=$!
    wait_for_file "$work/busy"
    expect_refusal "hostfwd=tcp:127.0.0.1:18085-:22.*18085" \
        --net user,restrict=on,hostfwd=tcp:127.0.0.1:18085-:22 "$kernel"
    kill $busy 2>/dev/null
    wait $busy 2>/dev/null
    echo "    missing tap";        expect_refusal "ifname=nosuchtap0: no such network interface" --net tap,ifname=nosuchtap0 "$kernel"
    echo "    tap not permitted"
    # A tap owned by someone else, and no CAP_NET_ADMIN: the kernel refuses to attach.
    ip tuntap add dev gtap9 mode tap user 12345
    setpriv --bounding-set=-net_admin --inh-caps=-net_admin "$guest" --net tap,ifname=gtap9 \
        "$kernel" >"$out" 2>"$err" </dev/null
    status=$?
    ip link del gtap9 2>/dev/null
    check "non-zero exit (got $status)" [ $status != 0 ]
    check "exactly one line on stderr" [ "$(grep -vc '^Try ' "$err")" = 1 ]
    check "stderr says ifname=gtap9: not permitted" grep -q "^guest: .*ifname=gtap9: not permitted" "$err"
    echo "    tap without ifname"; expect_refusal "--net tap.*ifname" --net tap "$kernel"
}
