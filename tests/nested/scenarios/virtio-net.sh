# virtio-net on a tap: the guest reaches the emulated host (ping, then a 1 MiB TCP
# transfer whose checksum must match on both ends), and the virtio console: a guest
# with [console] device = virtio prints on hvc0 and reads what is typed at minivmm.
# Addresses are from 192.0.2.0/24 (TEST-NET-1), on a tap that exists only inside the
# emulated host.
# timeout: 300

net_guest() {
	cat >/tmp/net.sh <<'G'
#!/bin/sh
ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0
echo "GUEST driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)")"
ping -c 3 -W 5 192.0.2.1 | tail -2
dd if=/dev/urandom of=/tmp/blob bs=64k count=16 2>/dev/null
echo "GUEST sent md5 $(md5sum </tmp/blob | cut -d' ' -f1)"
nc 192.0.2.1 5000 </tmp/blob
echo "GUEST nc exit $?"
# Wait until the connection's data is acknowledged (our FIN acked: FIN_WAIT2 or
# TIME_WAIT) before powering off with bytes still in flight.
for i in $(seq 120); do
	awk '$3 ~ /:1388$/ && $4 !~ /^0(5|6)$/ {busy = 1} END {exit !busy}' /proc/net/tcp || break
	sleep 0.5
done
echo "GUEST drained after ${i} polls"
G
	guest_initrd /tmp/net.sh /tmp/net.cpio.gz
}

net_transfer() {
	local ini=/tmp/net.ini sent got
	ip tuntap add tap0 mode tap && ip addr add 192.0.2.1/24 dev tap0 && ip link set tap0 up ||
		return 1
	# busybox nc stops at the end of its stdin, so give it one that stays open.
	sleep 200 | busybox nc -l -p 5000 >/tmp/received &
	vm_ini "$ini" "initrd=/tmp/net.cpio.gz"
	printf '[net.eth0]\ntap = tap0\n' >>"$ini"
	run_vmm 150 "$ini" || { show_console "$ini"; return 1; }
	grep -E "GUEST|packets" "$ini.console" | tr -d '\r'
	sent=$(sed -n 's/.*GUEST sent md5 \([0-9a-f]*\).*/\1/p' "$ini.console" | tr -d '\r')
	got=$(md5sum </tmp/received | cut -d' ' -f1)
	echo "received $(wc -c </tmp/received) bytes, md5 $got"
	grep -q "GUEST driver=virtio_net" "$ini.console" &&
		grep -q " 0% packet loss" "$ini.console" && [ -n "$sent" ] && [ "$sent" = "$got" ] &&
		[ "$(wc -c </tmp/received)" = 1048576 ]
}

virtio_console() {
	local ini=/tmp/hvc.ini out
	vm_ini "$ini" "initrd=$GUEST_INITRD"
	sed -i 's/^mode = file/mode = stdio\ndevice = virtio/; /^path = /d' "$ini"
	sed -i 's/console=ttyS0/console=hvc0/' "$ini"
	out=$( (sleep 8; echo 'echo "HVC=$((6 * 7)) on $(tty)"'; sleep 2; echo 'poweroff -f') |
		run_vmm 120 "$ini" 2>&1)
	echo "$out" | grep -E "HVC=|guest:" | tail -3
	echo "$out" | grep -q 'HVC=42 on /dev/hvc0'
}

l1() {
	net_guest &&
	check "virtio-net: ping and a 1 MiB TCP transfer to the emulated host" net_transfer &&
	check "virtio-console: hvc0 output and input" virtio_console
}
