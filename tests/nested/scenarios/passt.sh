# User-mode networking through passt ([net.eth0] passt = SOCKET), with no root at all:
# passt and minivmm both run as nobody (who may open /dev/kvm here), no tap exists. The
# guest gets its address by DHCP from passt (busybox udhcpc), then makes a TCP exchange
# with a listener on the emulated host's loopback, which it reaches at its gateway
# address (passt maps connections to the gateway to the host's 127.0.0.1): an HTTP
# POST of 1 MiB answered with 1 MiB, checksums compared on both ends. Then passt is
# killed: minivmm logs it once, naming the socket and the fix, keeps running, and the
# guest sees its link go down and its traffic fail. passt is started again on the same
# socket: minivmm reconnects (one log line), the guest's link comes back up and a
# second exchange goes through with no reboot and no new lease; the guest powers off
# and minivmm exits 0. A second VM, its passt killed the same way, is stopped by
# SIGTERM (143).
#
# passt needs a host interface with an address and a default route to copy for the
# guest (the emulated host's e1000e on QEMU's user network, 10.0.2.15/24 via 10.0.2.2),
# and a user namespace to confine itself in: the test-bed kernel has them, but the
# kernel refuses one to a chrooted process, and scenarios run chrooted (see unchrooted).
#
# Why HTTP (busybox wget) and not nc: nc half-closes the connection at the end of its
# input, and Debian 12's passt (0.0~git20230309) then stops consuming what the guest
# acknowledges from its socket, so the host's answer reaches the guest as old data
# sent again under new sequence numbers (seen here: 28 MiB "received" for 1 MiB sent;
# newer passt consume in that state too). wget sends its request and reads the answer
# on a connection it never half-closes.
# timeout: 420

DIR=/tmp/passt          # nobody's: the socket, configs, consoles, logs
SOCK=$DIR/passt.socket
PORT=5000

passt_host() {
	local dev
	ip link set lo up || return 1
	dev=$(find /sys/bus/pci/devices/0000:00:05.0/net/ -mindepth 1 -maxdepth 1 -printf '%f\n' | head -1)
	[ -n "$dev" ] || { echo "no network interface on 0000:00:05.0"; return 1; }
	ip link set "$dev" up && ip addr add 10.0.2.15/24 dev "$dev" &&
		ip route add default via 10.0.2.2 dev "$dev" || return 1
	chmod 666 /dev/kvm
	# nobody cannot reach root's files (the image cache may be under /root): its own
	# copies of the kernel, the guest initramfs and minivmm, in a folder it owns.
	mkdir -p "$DIR"
	cp "$KERNEL" "$DIR/bzImage" && cp "$MINIVMM_REPO/build/minivmm" "$DIR/minivmm" || return 1
	guest_script "$DIR/guest.sh" && guest_initrd "$DIR/guest.sh" "$DIR/initrd.cpio.gz" &&
		idle_script "$DIR/idle.sh" && guest_initrd "$DIR/idle.sh" "$DIR/idle.cpio.gz" ||
		return 1
	chown -R nobody:nogroup "$DIR"
	echo "emulated host: $dev 10.0.2.15/24 via 10.0.2.2; passt $(dpkg-query -W -f='${Version}' passt)"
}

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# unchrooted CMD...: CMD in a mount namespace of its own where this machine's root,
# which the scenario is chrooted into (init-host), is moved onto the emulated host's
# "/", as switch_root does: the same files, but a real root, in which the kernel lets
# passt create its user namespace (unshare(CLONE_NEWUSER) is EPERM in a chroot).
# (Out of the chroot first, through init's root: unsharing then copies that root into
# the new namespace, where it can be moved onto; the initramfs has only busybox.)
unchrooted() {
	chroot /proc/1/root /bin/busybox unshare --mount --propagation private \
		/bin/busybox sh -c 'cd /host && mount -o move . / && exec chroot . "$@"' \
		unchrooted "$@"
}

# The guest: DHCP, the exchange through the gateway, then (once the host has killed
# passt) the link state and a connection that must fail.
guest_script() {
	cat >"$1" <<'G'
#!/bin/sh
cat >/tmp/dhcp.sh <<'D'
#!/bin/sh
case "$1" in
bound | renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
	;;
esac
exit 0
D
chmod +x /tmp/dhcp.sh
for i in $(seq 100); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
ip link set eth0 up || { echo "GUEST FAIL: no eth0"; exit 1; }
echo "GUEST driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)") carrier=$(cat /sys/class/net/eth0/carrier)"
echo "GUEST features=$(cat /sys/class/net/eth0/device/features) mtu=$(cat /sys/class/net/eth0/mtu)"
udhcpc -i eth0 -f -q -n -t 10 -T 2 -s /tmp/dhcp.sh >/dev/null 2>&1 ||
	{ echo "GUEST FAIL: no DHCP lease"; exit 1; }
gw=$(ip route | awk '/^default/ {print $3}')
echo "GUEST lease: $(ip -4 addr show eth0 | grep -o 'inet [0-9./]*') gateway $gw"
# 1 MiB of text: busybox wget --post-file stops at a NUL byte.
head -c 786432 /dev/urandom | base64 -w 0 >/tmp/blob
echo "GUEST sent $(wc -c </tmp/blob) bytes, md5 $(md5sum </tmp/blob | cut -d' ' -f1)"
timeout 120 wget -q -O /tmp/reply --post-file /tmp/blob "http://$gw:5000/"
echo "GUEST wget exit $?"
echo "GUEST host says: $(head -1 /tmp/reply)"
tail -c +$(($(head -1 /tmp/reply | wc -c) + 1)) /tmp/reply >/tmp/payload
echo "GUEST received $(wc -c </tmp/payload) bytes, md5 $(md5sum </tmp/payload | cut -d' ' -f1)"
echo "GUEST waiting for the link to go down"
for i in $(seq 1200); do [ "$(cat /sys/class/net/eth0/carrier)" = 0 ] && break; sleep 0.1; done
echo "GUEST after the kill: carrier=$(cat /sys/class/net/eth0/carrier) operstate=$(cat /sys/class/net/eth0/operstate)"
if timeout 15 wget -q -O /dev/null "http://$gw:5000/" 2>/dev/null; then
	echo "GUEST after the kill: a connection went through"
else
	echo "GUEST after the kill: no connection (as expected)"
fi
# the host starts passt again on the same socket
for i in $(seq 1200); do [ "$(cat /sys/class/net/eth0/carrier)" = 1 ] && break; sleep 0.1; done
head -c 49152 /dev/urandom | base64 -w 0 >/tmp/blob2
timeout 120 wget -q -O /tmp/reply2 --post-file /tmp/blob2 "http://$gw:5000/"
echo "GUEST after the restart: carrier=$(cat /sys/class/net/eth0/carrier) wget exit $?"
[ "$(head -1 /tmp/reply2 | cut -d' ' -f1)" = "$(md5sum </tmp/blob2 | cut -d' ' -f1)" ] &&
	echo "GUEST after the restart: exchange ok"
G
}

# The second guest: up with an address, then idle until minivmm is stopped.
idle_script() {
	cat >"$1" <<'G'
#!/bin/sh
for i in $(seq 100); do [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
ip link set eth0 up && udhcpc -i eth0 -f -q -n -t 10 -T 2 -s /bin/true >/dev/null 2>&1 &&
	echo "GUEST idle: lease ok" || echo "GUEST idle: no lease"
for i in $(seq 1200); do [ "$(cat /sys/class/net/eth0/carrier)" = 0 ] && break; sleep 0.1; done
echo "GUEST idle: carrier=$(cat /sys/class/net/eth0/carrier)"
sleep 1000
G
}

# The listener on the host's loopback, one HTTP POST: reads the guest's 1 MiB, answers
# with its md5, the byte count and the peer address on one line, then 1 MiB of its own.
listener() {
	python3 - "$PORT" "$DIR/listener.out" <<'P' &
import hashlib, http.server, os, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self):
        want, got, h = int(self.headers.get("Content-Length", "0")), 0, hashlib.md5()
        while got < want:
            d = self.rfile.read(min(65536, want - got))
            if not d:
                break
            h.update(d)
            got += len(d)
        payload = os.urandom(1048576)
        peer = self.client_address[0]
        body = ("%s %d from %s\n" % (h.hexdigest(), got, peer)).encode() + payload
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        with open(sys.argv[2], "w") as f:
            f.write("host received %d bytes from %s, md5 %s\n" % (got, peer, h.hexdigest()))
            f.write("host sent 1048576 bytes, md5 %s\n" % hashlib.md5(payload).hexdigest())

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.timeout = 300
server.handle_request()
P
	LISTENER=$!
}

# start_passt: passt as nobody in the foreground, logging to a file; waits for its socket.
# PASST: passt's own pid (from --pid: $! is a subshell's, with passt below it).
start_passt() {
	rm -f "$SOCK" "$DIR/passt.pid"
	# Full paths: busybox would run its own setpriv.
	unchrooted "$(command -v setpriv)" --reuid=nobody --regid=nogroup --clear-groups \
		"$(command -v passt)" --foreground --socket "$SOCK" --log-file "$DIR/passt.log" \
		--pid "$DIR/passt.pid" >>"$DIR/passt.out" 2>&1 &
	PASST_JOB=$!
	for _ in $(seq 100); do
		[ -S "$SOCK" ] && [ -s "$DIR/passt.pid" ] && PASST=$(cat "$DIR/passt.pid") && return 0
		sleep 0.1
	done
	echo "passt did not create $SOCK"
	cat "$DIR/passt.out" "$DIR/passt.log"
	return 1
}

# vm_config INI INITRD
vm_config() {
	cat >"$1" <<E
[vm]
kernel = $DIR/bzImage
initrd = $2
memory = 256M
cmdline = console=ttyS0 panic=-1 quiet
[console]
mode = file
path = $1.console
[net.eth0]
passt = $SOCK
E
	chown nobody:nogroup "$1"
}

# console_wait INI PATTERN SECONDS
console_wait() {
	for _ in $(seq $(($3 * 10))); do
		grep -q "$2" "$1.console" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "    timed out waiting for '$2'"
	show_console "$1"
	return 1
}

# kill_passt ERRFILE: SIGKILL (as a crash would), then minivmm's one log line.
kill_passt() {
	kill -KILL "$PASST" && { wait "$PASST_JOB"; } 2>/dev/null
	for _ in $(seq 100); do grep -q "lost passt" "$1" && break; sleep 0.1; done
	grep "lost passt" "$1" | sed 's/^/    /'
	[ "$(grep -c "lost passt" "$1")" = 1 ] && grep "lost passt" "$1" | grep -qF "$SOCK" &&
		grep "lost passt" "$1" | grep -qF "passt --socket $SOCK"
}

# uid_of PID: its real uid.
uid_of() {
	awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null
}

# same A B: both set and equal.
same() {
	[ -n "$1" ] && [ "$1" = "$2" ]
}

# offloads_off FEATURES: the bit string the guest's virtio core shows (bit 0 first):
# MTU (3), MAC (5) and STATUS (16) on; CSUM (0), GUEST_CSUM (1), GUEST_TSO4/6 (7, 8)
# and HOST_TSO4/6 (11, 12) off.
offloads_off() {
	local f=$1
	[ "${#f}" -ge 17 ] && [ "${f:3:1}${f:5:1}${f:16:1}" = 111 ] &&
		[ "${f:0:1}${f:1:1}${f:7:1}${f:8:1}${f:11:1}${f:12:1}" = 000000 ]
}

exchange() {
	local ini=$DIR/vm.ini rc sent got host_sent payload f ids
	listener
	start_passt || return 1
	vm_config "$ini" "$DIR/initrd.cpio.gz"
	as_nobody timeout --kill-after=5 300 "$DIR/minivmm" "$ini" 2>"$DIR/vm.err" &
	VMM=$!
	console_wait "$ini" "GUEST waiting for the link" 200 || { cat "$DIR/vm.err"; return 1; }
	# The listener is done once the guest has its answer; if the guest never came,
	# it would wait for minutes.
	for _ in $(seq 50); do kill -0 "$LISTENER" 2>/dev/null || break; sleep 0.1; done
	kill "$LISTENER" 2>/dev/null
	wait "$LISTENER"
	sed 's/^/    /' "$DIR/listener.out"
	grep GUEST "$ini.console" | tr -d '\r' | sed 's/^/    /'
	ids="$(uid_of "$PASST") $(uid_of "$(pgrep -x minivmm | head -1)")"
	sent=$(sed -n 's/.*GUEST sent 1048576 bytes, md5 \([0-9a-f]*\).*/\1/p' "$ini.console" | tr -d '\r')
	got=$(sed -n 's/^host received 1048576 bytes from .*, md5 \([0-9a-f]*\)$/\1/p' "$DIR/listener.out")
	host_sent=$(sed -n 's/^host sent 1048576 bytes, md5 \([0-9a-f]*\)$/\1/p' "$DIR/listener.out")
	payload=$(sed -n 's/.*GUEST received 1048576 bytes, md5 \([0-9a-f]*\).*/\1/p' "$ini.console" | tr -d '\r')
	f=$(sed -n 's/.*GUEST features=\([01]*\).*/\1/p' "$ini.console" | tr -d '\r')
	check "passt and minivmm run as nobody (uids: $ids)" [ "$ids" = "65534 65534" ] &&
	check "the guest's DHCP lease from passt (10.0.2.15, gateway 10.0.2.2)" \
		grep -q "GUEST lease: inet 10.0.2.15/24 gateway 10.0.2.2" "$ini.console" &&
	check "guest -> host loopback: 1048576 bytes, md5 $sent on both ends" \
		same "$sent" "$got" &&
	check "host loopback -> guest: 1048576 bytes, md5 $host_sent on both ends" \
		same "$host_sent" "$payload" &&
	check "virtio features: MTU, MAC and STATUS, no checksum or TSO offload ($f)" offloads_off "$f" &&
	check "passt killed: one log line naming the socket and the fix" kill_passt "$DIR/vm.err" &&
	check "minivmm keeps running" kill -0 "$VMM" &&
	check "the guest sees its link go down" \
		console_wait "$ini" "GUEST after the kill: carrier=0" 30 &&
	check "and its traffic fail" \
		console_wait "$ini" "GUEST after the kill: no connection" 60 || return 1
	grep "GUEST after the kill" "$ini.console" | tr -d '\r' | sed 's/^/    /'
	listener
	start_passt || return 1
	console_wait "$ini" "GUEST after the restart: carrier" 120
	grep "GUEST after the restart\|is back" "$ini.console" "$DIR/vm.err" | tr -d '\r' | sed 's/^/    /'
	check "passt started again: minivmm reconnects, link up, a second exchange" \
		grep -q "GUEST after the restart: exchange ok" "$ini.console" &&
		check "... said once, naming the socket" \
			[ "$(grep -c "passt at $SOCK is back: link up" "$DIR/vm.err")" = 1 ] || return 1
	kill "$LISTENER" 2>/dev/null
	wait "$LISTENER"
	wait "$VMM"
	rc=$?
	sed 's/^/    /' "$DIR/vm.err"
	check "the guest powered off and minivmm exited 0 (it exited $rc)" [ "$rc" = 0 ]
}

sigterm() {
	local ini=$DIR/idle.ini rc
	start_passt || return 1
	vm_config "$ini" "$DIR/idle.cpio.gz"
	as_nobody "$DIR/minivmm" "$ini" 2>"$DIR/idle.err" &
	VMM=$!
	console_wait "$ini" "GUEST idle: lease ok" 200 || { cat "$DIR/idle.err"; return 1; }
	check "second VM: passt killed, one log line" kill_passt "$DIR/idle.err" &&
		console_wait "$ini" "GUEST idle: carrier=0" 30 &&
		check "minivmm keeps running" kill -0 "$VMM" || return 1
	sleep 1
	kill -TERM "$VMM"
	wait "$VMM"
	rc=$?
	sed 's/^/    /' "$DIR/idle.err"
	check "SIGTERM stops it: exit 143 (it exited $rc)" [ "$rc" = 143 ]
}

l1() {
	local rc
	check "emulated host: loopback, an interface for passt, /dev/kvm for all" passt_host &&
		exchange && sigterm
	rc=$?
	# What ran, for a look afterwards: build/nested/passt/.
	cp "$DIR"/*.err "$DIR"/*.log "$DIR"/*.out "$DIR"/*.console "$OUT/" 2>/dev/null
	return $rc
}
