# Two devices at once (NVMe 00:04.0 and e1000e 00:05.0), a guest reboot with both
# attached, and recovery after SIGKILL: the first boot writes a marker to the NVMe disk,
# gets a DHCP lease and makes a TCP exchange through the e1000e, then reboots
# (on_reboot = restart recreates the VM, devices reset); the second boot finds the
# marker, uses both devices again and powers off. Then a minivmm is killed with SIGKILL
# mid-run, and a new one must get the same devices at once and read the marker.
# timeout: 600

guest_script() {
	cat >/tmp/two.sh <<'G'
#!/bin/sh
cat >/tmp/dhcp.sh <<'D'
#!/bin/sh
case "$1" in bound | renew) ip addr flush dev "$interface"; ip addr add "$ip/${mask:-24}" dev "$interface" ;; esac
exit 0
D
chmod +x /tmp/dhcp.sh
for i in $(seq 100); do [ -e /sys/class/net/eth0 ] && [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
ip link set eth0 up
udhcpc -i eth0 -f -q -n -t 10 -T 2 -s /tmp/dhcp.sh >/dev/null 2>&1 && echo "GUEST lease ok"
echo "GUEST nc: $(echo hi | timeout 30 nc 10.0.2.100 1234)"
marker=$(dd if=/dev/nvme0n1 bs=512 count=1 iflag=direct 2>/dev/null | head -c 6)
echo "GUEST marker=[$marker]"
if [ "$marker" = "BOOT-1" ]; then
	echo "GUEST second boot: both devices work after the reboot"
	poweroff -f
fi
printf 'BOOT-1' | dd of=/dev/nvme0n1 bs=512 conv=sync oflag=direct 2>/dev/null
sync
echo "GUEST first boot: rebooting"
reboot -f
G
	guest_initrd /tmp/two.sh /tmp/two.cpio.gz
}

two_devices_and_reboot() {
	local ini=/tmp/two.ini
	vm_ini "$ini" "initrd=/tmp/two.cpio.gz" "on_reboot=restart"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n[vfio.nic]\nhost = 0000:00:05.0\nbind = auto\n' >>"$ini"
	run_vmm 400 "$ini" 2>/tmp/two.err || { cat /tmp/two.err; show_console "$ini"; return 1; }
	grep GUEST "$ini.console" | tr -d '\r' | sed 's/^/    /'
	[ "$(grep -c 'GUEST lease ok' "$ini.console")" = 2 ] &&
		[ "$(grep -c 'GUEST nc: REPLY' "$ini.console")" = 2 ] &&
		grep -q "GUEST second boot" "$ini.console" || { show_console "$ini"; return 1; }
}

sigkill_then_reuse() {
	local ini=/tmp/kill.ini pid
	vm_ini "$ini" "initrd=/tmp/two.cpio.gz"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n' >>"$ini"
	"$MINIVMM_REPO/build/minivmm" "$ini" 2>/tmp/kill.err &
	pid=$!
	for _ in $(seq 200); do
		grep -q "userspace reached" "$ini.console" 2>/dev/null && break
		sleep 0.2
	done
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	echo "    killed minivmm with SIGKILL after the guest reached userspace"
	# At once: the same device, a new VM, the marker from before still readable.
	vm_ini /tmp/again.ini "initrd=/tmp/two.cpio.gz"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n' >>/tmp/again.ini
	run_vmm 200 /tmp/again.ini 2>/tmp/again.err || { cat /tmp/again.err; return 1; }
	grep -q "GUEST marker=\[BOOT-1\]" /tmp/again.ini.console ||
		{ show_console /tmp/again.ini; return 1; }
}

l1() {
	guest_script &&
	check "NVMe binds to vfio-pci" bind_vfio 0000:00:04.0 &&
	check "NVMe + e1000e together, through a guest reboot" two_devices_and_reboot &&
	check "after SIGKILL the device is usable by a new minivmm at once" sigkill_then_reuse &&
	check "the e1000e is back on its host driver" \
		test "$(basename "$(readlink /sys/bus/pci/devices/0000:00:05.0/driver)")" = e1000e
}
