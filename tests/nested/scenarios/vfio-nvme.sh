# NVMe passthrough (0000:00:04.0). QEMU's NVMe keeps its MSI-X table and PBA in BAR0
# right after the doorbells, so this is the case where a VMM must map (or forward)
# everything in BAR0 except the table pages. The guest's nvme driver binds, the guest
# writes random data at several offsets with O_DIRECT and reads it back through the
# device; l0_after() checks that the emulated host's backing file ($OUT/nvme.img)
# holds exactly that data, and zeros everywhere else. Then a second VM with
# on_reboot = restart reads the data back, reboots (the VM, device reset included, is
# recreated) and reads it again.
# Through the legacy container backend; vfio-iommufd.sh runs the same with
# VFIO_BACKEND=iommufd.
# timeout: 400

# Offsets and sizes in MiB of the chunks written (the disk is 64 MiB).
CHUNKS="0:2 9:3 31:1 60:4"
VFIO_BACKEND=${VFIO_BACKEND:-legacy}

guest_script() {
	cat >/tmp/nvme-guest.sh <<G
#!/bin/sh
for i in \$(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
if [ ! -b /dev/nvme0n1 ]; then
	echo "GUEST FAIL: no /dev/nvme0n1"; dmesg | grep -i nvme | tail; exit 1
fi
echo "GUEST nvme0n1 size: \$(cat /sys/block/nvme0n1/size) sectors"
grep -m3 nvme /proc/interrupts | sed 's/^/GUEST irq: /'
for c in $CHUNKS; do
	off=\${c%%:*} n=\${c##*:}
	dd if=/dev/urandom of=/tmp/w\$off bs=1M count=\$n 2>/dev/null
	dd if=/tmp/w\$off of=/dev/nvme0n1 bs=1M seek=\$off count=\$n oflag=direct conv=fsync 2>/dev/null ||
		{ echo "GUEST FAIL: write at \$off MiB"; exit 1; }
done
for c in $CHUNKS; do
	off=\${c%%:*} n=\${c##*:}
	dd if=/dev/nvme0n1 of=/tmp/r\$off bs=1M skip=\$off count=\$n iflag=direct 2>/dev/null ||
		{ echo "GUEST FAIL: read at \$off MiB"; exit 1; }
	if cmp -s /tmp/w\$off /tmp/r\$off; then
		echo "GUEST chunk \$off \$n \$(md5sum </tmp/w\$off | cut -d' ' -f1)"
	else
		echo "GUEST FAIL: chunk at \$off MiB reads back different"; exit 1
	fi
done
echo "GUEST nvme done"
G
	guest_initrd /tmp/nvme-guest.sh /tmp/nvme.cpio.gz
	# The disk is the only state that survives the reboot: a marker in a sector that
	# is zero otherwise (19.5 MiB) tells the boots apart; the second boot clears it.
	cat >/tmp/reboot-guest.sh <<G
#!/bin/sh
for i in \$(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
mark=\$(dd if=/dev/nvme0n1 bs=512 skip=40000 count=1 iflag=direct 2>/dev/null | tr -d '\\000')
boot=1; [ "\$mark" = REBOOTED ] && boot=2
for c in $CHUNKS; do
	off=\${c%%:*} n=\${c##*:}
	echo "GUEST boot\$boot chunk \$off \$n \$(dd if=/dev/nvme0n1 bs=1M skip=\$off count=\$n iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
done
if [ \$boot = 1 ]; then
	printf REBOOTED | dd of=/dev/nvme0n1 bs=512 seek=40000 conv=sync oflag=direct 2>/dev/null
	echo "GUEST rebooting"
	reboot -f
fi
dd if=/dev/zero of=/dev/nvme0n1 bs=512 seek=40000 count=1 oflag=direct 2>/dev/null
echo "GUEST second boot done"
G
	guest_initrd /tmp/reboot-guest.sh /tmp/reboot.cpio.gz
}

run_nvme() {
	local ini=/tmp/nvme.ini rc
	vm_ini "$ini" "initrd=/tmp/nvme.cpio.gz"
	printf '[vfio]\nbackend = %s\n[vfio.nvme]\nhost = 0000:00:04.0\n' "$VFIO_BACKEND" >>"$ini"
	run_vmm 240 "$ini" 2>/tmp/nvme.err
	rc=$?
	sed 's/^/    /' /tmp/nvme.err
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "GUEST nvme done" "$ini.console" || { show_console "$ini"; return 1; }
	grep "GUEST" "$ini.console" | tr -d '\r' | sed 's/^/    /'
	# The chunks and their checksums, for l0_after.
	grep "^GUEST chunk" "$ini.console" | tr -d '\r' | cut -d' ' -f3- >"$OUT/chunks"
	[ "$(wc -l <"$OUT/chunks")" = 4 ]
}

run_reboot() {
	local ini=/tmp/reboot.ini rc b
	vm_ini "$ini" "initrd=/tmp/reboot.cpio.gz" "on_reboot=restart"
	printf '[vfio]\nbackend = %s\n[vfio.nvme]\nhost = 0000:00:04.0\n' "$VFIO_BACKEND" >>"$ini"
	run_vmm 240 "$ini" 2>/tmp/reboot.err
	rc=$?
	sed 's/^/    /' /tmp/reboot.err
	grep GUEST "$ini.console" | tr -d '\r' | sed 's/^/    /'
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "guest rebooted; restarting it" /tmp/reboot.err &&
		grep -q "GUEST rebooting" "$ini.console" &&
		grep -q "GUEST second boot done" "$ini.console" || { show_console "$ini"; return 1; }
	for b in 1 2; do
		grep "^GUEST boot$b chunk" "$ini.console" | tr -d '\r' | cut -d' ' -f4- >/tmp/boot$b
		cmp -s /tmp/boot$b "$OUT/chunks" || { echo "boot $b read different data"; return 1; }
	done
}

# The time, and the backend that did it.
dma_time_logged() {
	grep -q "mapped for device DMA in [0-9.]* ms ($VFIO_BACKEND)" /tmp/nvme.err &&
		grep -q "vfio: IOMMU backend $VFIO_BACKEND (as configured)" /tmp/nvme.err
}

back_to_vfio() {
	[ "$(basename "$(readlink /sys/bus/pci/devices/0000:00:04.0/driver)")" = vfio-pci ]
}

l1() {
	guest_script &&
	check "NVMe 00:04.0 binds to vfio-pci" bind_vfio 0000:00:04.0 &&
	check "the guest's nvme driver writes and reads back 10 MiB at 4 offsets" run_nvme &&
	check "the DMA map time is logged" dma_time_logged &&
	check "a guest reboot recreates the VM; both boots read the same data" run_reboot &&
	check "the device is still on vfio-pci afterwards (bind = manual)" back_to_vfio
}

# Runs here, after QEMU exits: the disk image itself must hold exactly what the guest
# wrote, at the offsets it wrote, and nothing else.
l0_after() {
	local img=$OUT/nvme.img off n sum end=0
	[ -s "$OUT/chunks" ] || { echo "no chunk list"; return 1; }
	while read -r off n sum; do
		[ "$(dd if="$img" bs=1M skip="$off" count="$n" 2>/dev/null | md5sum | cut -d' ' -f1)" = "$sum" ] ||
			{ echo "chunk at $off MiB differs in $img"; return 1; }
		if [ "$off" -gt "$end" ]; then
			cmp -s -n $(((off - end) << 20)) <(dd if="$img" bs=1M skip="$end" count=$((off - end)) 2>/dev/null) /dev/zero ||
				{ echo "$img is not zero in [$end, $off) MiB"; return 1; }
		fi
		end=$((off + n))
	done <"$OUT/chunks"
	echo "nvme.img holds the 4 chunks and zeros elsewhere"
}
