# QEMU's edu device (0000:01:01.0, behind a PCI bridge, sharing its IOMMU group with
# 0000:01:02.0) passed through with both group members on vfio-pci. No guest driver
# exists for edu, so the guest drives it by hand (devmem on the BAR, its config space
# file): the ID and liveness registers through the mmap'd BAR, a DMA round trip
# through guest RAM (IOMMU mapping at iova = gpa), and an MSI the guest programs into
# the emulated MSI capability (its delivery shows as the guest kernel's "No irq handler for" message).
# timeout: 300
# bridge: yes

guest_script() {
	cat >/tmp/edu-guest.sh <<'G'
#!/bin/sh
dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && dev=$d
done
[ -n "$dev" ] || { echo "GUEST FAIL: no edu device"; exit 1; }
bar=$(head -1 $dev/resource | cut -d' ' -f1)
r32() { printf '0x%08x' "$(devmem $(($bar + $1)) 32)"; }
echo "GUEST edu at $dev BAR0 $bar id $(r32 0)"
devmem $((bar + 4)) 32 0x12345678
echo "GUEST liveness $(r32 4)"
devmem $((bar + 8)) 32 5
sleep 0.2
echo "GUEST factorial $(r32 8)"
# Bus master on (no driver did it), then DMA 32 bytes RAM 0x60000 -> edu buffer
# 0x40000 -> RAM 0x61000. The low 1 MiB is never given to the kernel's allocator.
printf '\006\001' | dd of=$dev/config bs=1 seek=4 conv=notrunc 2>/dev/null
for i in 0 8 16 24; do devmem $((0x60000 + i)) 64 $((0x1122334455660000 + i)); done
for i in 0 8 16 24; do devmem $((0x61000 + i)) 64 0; done
dma() {
	devmem $((bar + 0x80)) 64 $1; devmem $((bar + 0x88)) 64 $2
	devmem $((bar + 0x90)) 64 32; devmem $((bar + 0x98)) 64 $3
	for i in $(seq 50); do [ $(($(devmem $((bar + 0x98)) 32) & 1)) = 0 ] && return 0; sleep 0.1; done
	return 1
}
dma 0x60000 0x40000 1 && dma 0x40000 0x61000 3 || echo "GUEST FAIL: DMA did not complete"
ok=yes
for i in 0 8 16 24; do
	[ "$(devmem $((0x61000 + i)) 64)" = "$(printf '0x%016X' $((0x1122334455660000 + i)))" ] || ok=no
done
echo "GUEST dma round trip $ok"
# MSI: address 0xfee00000, data = vector 0x7d (unused), then enable, then raise.
cap=$(od -An -tu1 -j52 -N1 $dev/config | tr -d ' ')
[ "$(od -An -tx1 -j$cap -N1 $dev/config | tr -d ' ')" = 05 ] || { echo "GUEST FAIL: no MSI cap at $cap"; exit 1; }
printf '\000\000\340\376\000\000\000\000\175\000' | dd of=$dev/config bs=1 seek=$((cap + 4)) conv=notrunc 2>/dev/null
printf '\201\000' | dd of=$dev/config bs=1 seek=$((cap + 2)) conv=notrunc 2>/dev/null
devmem $((bar + 0x60)) 32 1
sleep 0.5
dmesg | grep -q "No irq handler for" && echo "GUEST msi delivered" || echo "GUEST FAIL: no MSI"
devmem $((bar + 0x64)) 32 1
G
	guest_initrd /tmp/edu-guest.sh /tmp/edu.cpio.gz
}

run_edu() {
	local ini=/tmp/edu.ini rc
	vm_ini "$ini" "initrd=/tmp/edu.cpio.gz"
	printf '[vfio.edu]\nhost = 0000:01:01.0\n' >>"$ini"
	run_vmm 240 "$ini" 2>/tmp/edu.err
	rc=$?
	sed 's/^/    /' /tmp/edu.err
	grep GUEST "$ini.console" | tr -d '\r' | sed 's/^/    /'
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "GUEST edu at .* id 0x010000ed" "$ini.console" &&
		grep -q "GUEST liveness 0xedcba987" "$ini.console" &&
		grep -q "GUEST factorial 0x00000078" "$ini.console" &&
		grep -q "GUEST dma round trip yes" "$ini.console" &&
		grep -q "GUEST msi delivered" "$ini.console" ||
		{ show_console "$ini"; return 1; }
}

l1() {
	guest_script &&
	check "edu 01:01.0 binds to vfio-pci" bind_vfio 0000:01:01.0 &&
	check "edu 01:02.0 (same group) binds to vfio-pci" bind_vfio 0000:01:02.0 &&
	check "BAR registers, DMA round trip and MSI work in the guest" run_edu
}
