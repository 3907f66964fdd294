# PCI hotplug of a passed-through NVMe (00:04.0) into a running guest, through the
# control API (minivmm-ctl) and ACPI (the guest's acpiphp): the guest boots with no
# NVMe; add-device puts it in, the guest's nvme driver binds, and a pattern is written
# at several offsets and read back. remove-device asks the guest to eject it: the guest
# lets it go, minivmm releases it, and this emulated host binds it to its own nvme
# driver and reads the same pattern natively. It goes back to vfio-pci and into the
# guest again, which reads the pattern. Then 20 remove/add cycles: minivmm's fds,
# threads, memslots, GSI routes and RSS (from info) back where they started. Hot-add
# and hot-remove latency (API call to the guest's driver bound or released) printed.
# Then the e1000e (00:05.0) is hot-added: DHCP lease and a TCP exchange; and this host
# unbinds it from vfio-pci while the guest uses it: minivmm asks the guest to eject it
# (the device-request interrupt), the unbind returns within 10 s, the VM runs on.
# A reboot through the API keeps the hot-added NVMe. Last, power-button: the guest's
# input device sees the press and it powers off.
# Bad requests each get an error reply naming the problem, the VM unaffected: a
# device whose IOMMU group is not viable (edu 01:01.0 on vfio-pci while its group mate,
# the e1000e 01:03.0 behind the same bridge, is on its host driver), a
# missing BDF, an mdev UUID that does not exist, garbage, an unknown command. pause
# and resume: the guest's clock is right afterwards.
# timeout: 900
# bridge: nic

CHUNKS="0:1 9:2 31:1"
SOCK=/tmp/ahp.sock
INI=/tmp/ahp.ini

guest_script() {
	cat >/tmp/ahp-guest.sh <<G
#!/bin/sh
here() { [ -b /dev/nvme0n1 ]; }
wait_in() { for i in \$(seq 1200); do here && return 0; sleep 0.05; done; return 1; }
power_wait() {
	dev=
	for e in /sys/class/input/event*; do
		grep -q "Power Button" "\$e/device/name" 2>/dev/null && dev=/dev/input/\$(basename "\$e")
	done
	[ -n "\$dev" ] || { echo "GUEST FAIL: no power button input device"; exit 1; }
	echo "GUEST waiting for the power button on \$dev"
	dd if="\$dev" bs=24 count=1 >/dev/null 2>&1 && echo "GUEST power button pressed"
}
wait_out() { for i in \$(seq 1200); do here || return 0; sleep 0.05; done; return 1; }
# The second boot (the API's reboot, on_reboot = restart) starts with the device that
# was hot-added before it: the data must still be there.
if here; then
	echo "GUEST rebooted with nvme0n1 present"
	for c in $CHUNKS; do
		off=\${c%%:*} n=\${c##*:}
		echo "GUEST boot2 \$off \$n \$(dd if=/dev/nvme0n1 bs=1M skip=\$off count=\$n iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
	done
	power_wait
	exit 0
fi
echo "GUEST ready"
wait_in || { echo "GUEST FAIL: no nvme0n1 after the hot-add"; exit 1; }
echo "GUEST nvme in"
for c in $CHUNKS; do
	off=\${c%%:*} n=\${c##*:}
	dd if=/dev/urandom of=/tmp/w bs=1M count=\$n 2>/dev/null
	dd if=/tmp/w of=/dev/nvme0n1 bs=1M seek=\$off count=\$n oflag=direct conv=fsync 2>/dev/null ||
		{ echo "GUEST FAIL: write at \$off MiB"; exit 1; }
	dd if=/dev/nvme0n1 of=/tmp/r bs=1M skip=\$off count=\$n iflag=direct 2>/dev/null
	cmp -s /tmp/w /tmp/r || { echo "GUEST FAIL: chunk at \$off MiB reads back different"; exit 1; }
	echo "GUEST chunk \$off \$n \$(md5sum </tmp/w | cut -d' ' -f1)"
done
echo "GUEST written"
wait_out || { echo "GUEST FAIL: nvme0n1 still there after the eject request"; exit 1; }
echo "GUEST nvme out"
wait_in || { echo "GUEST FAIL: no nvme0n1 after the second hot-add"; exit 1; }
for c in $CHUNKS; do
	off=\${c%%:*} n=\${c##*:}
	echo "GUEST again \$off \$n \$(dd if=/dev/nvme0n1 bs=1M skip=\$off count=\$n iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
done
echo "GUEST reread"
k=0
while [ \$k -lt 20 ]; do
	wait_out && echo "GUEST cycle \$k out" && wait_in && echo "GUEST cycle \$k in" ||
		{ echo "GUEST FAIL: cycle \$k"; exit 1; }
	k=\$((k + 1))
done
echo "GUEST cycles done"
cat >/tmp/dhcp.sh <<'D'
#!/bin/sh
case "\$1" in bound | renew) ip addr flush dev "\$interface"; ip addr add "\$ip/\${mask:-24}" dev "\$interface" ;; esac
exit 0
D
chmod +x /tmp/dhcp.sh
for i in \$(seq 1200); do [ -e /sys/class/net/eth0 ] && break; sleep 0.05; done
[ -e /sys/class/net/eth0 ] || { echo "GUEST FAIL: no eth0 after the hot-add"; exit 1; }
ip link set eth0 up
udhcpc -i eth0 -f -q -n -t 10 -T 2 -s /tmp/dhcp.sh >/dev/null 2>&1 && echo "GUEST lease ok"
echo "GUEST nc: \$(echo hi | timeout 30 nc 10.0.2.100 1234)"
for i in \$(seq 1200); do [ -e /sys/class/net/eth0 ] || break; sleep 0.05; done
[ -e /sys/class/net/eth0 ] && { echo "GUEST FAIL: eth0 still there"; exit 1; }
echo "GUEST nic gone"
i=0
while [ \$i -lt 80 ]; do echo "GUEST tick \$(date +%s)"; sleep 0.5; i=\$((i + 1)); done
power_wait
G
	guest_initrd /tmp/ahp-guest.sh /tmp/ahp.cpio.gz
}

ctl() { "$MINIVMM_REPO/build/minivmm-ctl" "$SOCK" "$@"; }

# wait_console PATTERN SECONDS
# Waits until info no longer lists vfio.nvme (the guest ejected it).
wait_removed() {
	local i
	for i in $(seq 600); do
		ctl info | grep -q '"vfio.nvme"' || return 0
		sleep 0.05
	done
	echo "    vfio.nvme still there: $(ctl info | tr -d '\n ' | head -c 400)"
	return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

start_vm() {
	vm_ini "$INI" "initrd=/tmp/ahp.cpio.gz" on_reboot=restart
	printf '[api]\nsocket = %s\n' "$SOCK" >>"$INI"
	run_vmm 800 "$INI" 2>/tmp/ahp.err &
	VMM=$!
	wait_console "GUEST ready" 180
}

hot_add() {
	local t0=$(now_ms) out
	out=$(ctl add-device kind=vfio name=nvme host=0000:00:04.0) || { echo "    $out"; return 1; }
	echo "$out" | grep -q '"bdf"' || { echo "    $out"; return 1; }
	wait_console "$1" 120 || return 1
	echo "    hot-add latency: $(($(now_ms) - t0)) ms (add-device to the guest's nvme0n1)"
}

hot_remove() {
	local t0=$(now_ms) out
	out=$(ctl remove-device name=vfio.nvme) || { echo "    $out"; return 1; }
	echo "$out" | grep -q '"pending": true' || { echo "    $out"; return 1; }
	wait_removed || return 1
	echo "    hot-remove latency: $(($(now_ms) - t0)) ms (remove-device to minivmm's release)"
}

# The emulated host's own nvme driver reads what the guest wrote.
native_read() {
	local dev=/sys/bus/pci/devices/0000:00:04.0 c off n i
	# minivmm must have let go of the device: no VFIO fd on it is open any more.
	ls -l /proc/"$VMM"/fd 2>/dev/null | grep -q "/dev/vfio/[0-9]" &&
		{ echo "    minivmm still holds a VFIO group"; return 1; }
	echo 0000:00:04.0 >"$dev/driver/unbind"
	echo >"$dev/driver_override"
	echo 0000:00:04.0 >/sys/bus/pci/drivers_probe
	for i in $(seq 200); do [ -b /dev/nvme0n1 ] && break; sleep 0.05; done
	[ "$(basename "$(readlink "$dev/driver")")" = nvme ] || { echo "    not on nvme"; return 1; }
	for c in $CHUNKS; do
		off=${c%%:*} n=${c##*:}
		grep -q "GUEST chunk $off $n $(dd if=/dev/nvme0n1 bs=1M skip="$off" count="$n" iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)" \
			"$INI.console" || { echo "    chunk at $off MiB differs natively"; return 1; }
	done
	echo "    the host's nvme driver reads the guest's $(echo $CHUNKS | wc -w) chunks"
	bind_vfio 0000:00:04.0
}

reread() {
	local c off n
	wait_console "GUEST reread" 60 || return 1
	for c in $CHUNKS; do
		off=${c%%:*} n=${c##*:}
		sum=$(grep "GUEST chunk $off $n " "$INI.console" | tr -d '\r' | cut -d' ' -f5)
		grep -q "GUEST again $off $n $sum" "$INI.console" || { echo "    chunk $off differs"; return 1; }
	done
}

# fds, threads, memslots, gsi-routes and rss-kib from info, one per line.
resources() {
	ctl info | tr -d ' \n' | sed 's/.*"resources":{\([^}]*\)}.*/\1/' | tr ',' '\n'
}

cycles() {
	local before after k
	before=$(resources)
	# Each step waits for the guest to have seen the last, as a user's script would.
	for k in $(seq 0 19); do
		hot_remove >/dev/null && wait_console "GUEST cycle $k out" 60 &&
			hot_add "GUEST cycle $k in" >/dev/null || { echo "    cycle $k"; return 1; }
	done
	wait_console "GUEST cycles done" 60 || return 1
	after=$(resources)
	echo "    before: $(echo $before)"
	echo "    after:  $(echo $after)"
	# All equal but RSS, which may move by a page or two (allocator, stacks).
	[ "$(echo "$before" | grep -v rss)" = "$(echo "$after" | grep -v rss)" ] || return 1
	local rb=$(echo "$before" | sed -n 's/"rss-kib"://p') ra=$(echo "$after" | sed -n 's/"rss-kib"://p')
	[ $((ra - rb)) -lt 1024 ] || { echo "    RSS grew by $((ra - rb)) KiB"; return 1; }
}

nic_add() {
	local out
	bind_vfio 0000:00:05.0 || return 1
	out=$(ctl add-device kind=vfio name=nic host=0000:00:05.0) || { echo "    $out"; return 1; }
	wait_console "GUEST nc:" 120 || return 1
	grep GUEST "$INI.console" | grep -E 'lease|nc:' | tr -d '\r' | sed 's/^/    /'
	grep -q "GUEST lease ok" "$INI.console" && grep -q "GUEST nc: REPLY" "$INI.console"
}

# The host takes the device back while the guest has it: the unbind waits for
# minivmm, which has the guest eject it.
host_unbind() {
	local t0=$(now_ms) t
	timeout 30 sh -c 'echo 0000:00:05.0 >/sys/bus/pci/drivers/vfio-pci/unbind' ||
		{ echo "    the unbind did not return in 30 s"; return 1; }
	t=$(($(now_ms) - t0))
	echo "    unbind returned after $t ms"
	[ "$t" -lt 10000 ] && wait_console "GUEST nic gone" 30 && ctl ping >/dev/null &&
		! ctl info | grep -q '"vfio.nic"'
}

# expect_error WHAT ARGS...: the request fails with a message containing WHAT.
expect_error() {
	local what=$1 out
	shift
	out=$(ctl "$@" 2>&1) && { echo "    accepted: $*"; return 1; }
	echo "$out" | grep -q "$what" || { echo "    $*: $out"; return 1; }
	echo "    $*: $(echo "$out" | head -c 160)"
}

bad_requests() {
	bind_vfio 0000:01:01.0 &&
		expect_error "IOMMU group .* of 0000:01:01.0 is not viable: 0000:01:03.0" \
			add-device kind=vfio name=edu host=0000:01:01.0 &&
		expect_error "0000:00:1f.7" add-device kind=vfio name=x host=0000:00:1f.7 &&
		expect_error "83b8f4f2-509f-382f-3c1e-e6bfe0fa1009" add-device kind=vfio name=m \
			uuid=83b8f4f2-509f-382f-3c1e-e6bfe0fa1009 &&
		expect_error "CommandNotFound" frobnicate &&
		ctl raw '{"execute": ' | grep -q SyntaxError &&
		ctl raw '[]' | grep -q SyntaxError &&
		ctl ping >/dev/null && grep -q "GUEST tick" "$INI.console"
}

# The guest's clock after a pause of 3 s: what it prints is this host's time.
pause_resume() {
	local host guest
	ctl pause >/dev/null && sleep 3 && ctl resume >/dev/null || return 1
	sleep 1.5
	host=$(date +%s)
	guest=$(grep "GUEST tick" "$INI.console" | tail -1 | tr -d '\r' | cut -d' ' -f3)
	echo "    guest clock $guest, host $host after a 3 s pause"
	[ $((host - guest)) -le 1 ] && [ $((guest - host)) -le 1 ]
}

# A reboot keeps the hot-added NVMe (the VM is rebuilt from the current device set).
reboot_keeps_it() {
	local c off n sum
	ctl info | grep -q '"vfio.nvme"' || { echo "    vfio.nvme not on the VM before"; return 1; }
	ctl reboot >/dev/null || return 1
	wait_console "GUEST rebooted with nvme0n1 present" 120 || return 1
	for c in $CHUNKS; do
		off=${c%%:*} n=${c##*:}
		sum=$(grep "GUEST chunk $off $n " "$INI.console" | tr -d '\r' | cut -d' ' -f5)
		# each chunk's line comes after its read: wait for it, not only the first
		wait_console "GUEST boot2 $off $n " 60 || return 1
		grep -q "GUEST boot2 $off $n $sum" "$INI.console" || { echo "    chunk $off differs"; return 1; }
	done
	ctl info | grep -q '"vfio.nvme"' && grep -q "guest rebooted; restarting it" /tmp/ahp.err
}

power_button() {
	wait_console "GUEST waiting for the power button" 90 || return 1
	ctl power-button >/dev/null
	wait "$VMM"
	local rc=$?
	sed 's/^/    /' /tmp/ahp.err | grep -v '^    minivmm: pci \|device .* added\|device .* removed' | tail -15
	[ "$rc" = 0 ] && grep -q "GUEST power button pressed" "$INI.console"
}

l1() {
	guest_script &&
		check "NVMe binds to vfio-pci" bind_vfio 0000:00:04.0 &&
		check "the guest boots without it, the API answers" start_vm &&
		check "hot-add: the guest's nvme driver binds, writes and reads back" \
			hot_add "GUEST nvme in" &&
		check "the guest wrote its chunks" wait_console "GUEST written" 120 &&
		grep "^GUEST chunk" "$INI.console" | tr -d '\r' | cut -d' ' -f3- >"$OUT/chunks" &&
		check "hot-remove: the guest ejects it, minivmm releases it" hot_remove &&
		check "the guest no longer has it" wait_console "GUEST nvme out" 30 &&
		check "the emulated host's nvme driver reads the pattern" native_read &&
		check "hot-add again: the guest reads the same pattern" hot_add "GUEST again" &&
		check "same data" reread &&
		check "20 remove/add cycles: fds, threads, memslots, GSI routes, RSS as before" cycles &&
		check "hot-add the e1000e: DHCP lease and a TCP exchange" nic_add &&
		check "the host unbinds it: the guest ejects it, the unbind returns in < 10 s" \
			host_unbind &&
		check "bad requests: an error reply each, the VM unaffected" bad_requests &&
		check "pause and resume: the guest's clock is right afterwards" pause_resume &&
		check "reboot: the hot-added NVMe is there after it, with the data" reboot_keeps_it &&
		check "power-button: the guest sees the press and powers off (exit 0)" power_button
}

# Here, after QEMU: the emulated NVMe's backing file holds what the guest wrote.
l0_after() {
	local off n sum
	[ -s "$OUT/chunks" ] || { echo "no chunk list"; return 1; }
	while read -r off n sum; do
		[ "$(dd if="$OUT/nvme.img" bs=1M skip="$off" count="$n" 2>/dev/null | md5sum | cut -d' ' -f1)" = "$sum" ] ||
			{ echo "chunk at $off MiB: not in nvme.img"; return 1; }
	done <"$OUT/chunks"
	echo "nvme.img holds the guest's $(wc -l <"$OUT/chunks") chunks"
}
