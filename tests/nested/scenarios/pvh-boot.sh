# The test bed's kernel as an uncompressed ELF vmlinux, booted through its PVH entry
# (no decompression in the guest), with 2 vCPUs and the NVMe (0000:00:04.0) passed
# through: both vCPUs come up, the nvme driver binds and reads the drive, the guest
# powers off (exit 0), and minivmm said which kind of kernel it found. The same guest
# from the bzImage next to it, for the boot times in the log (not asserted: that is
# make bench's job).
# timeout: 400

guest_script() {
	cat >/tmp/pvh-guest.sh <<'G'
#!/bin/sh
for i in $(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
echo "GUEST cpus $(grep -c ^processor /proc/cpuinfo)"
echo "GUEST nvme $(dd if=/dev/nvme0n1 bs=4k count=256 iflag=direct 2>/dev/null | wc -c) bytes read"
echo "GUEST cmdline $(cat /proc/cmdline)"
G
	guest_initrd /tmp/pvh-guest.sh /tmp/pvh.cpio.gz
}

# boot KIND KERNEL
boot() {
	local ini=/tmp/pvh-$1.ini rc
	KERNEL=$2 vm_ini "$ini" "initrd=/tmp/pvh.cpio.gz" "vcpus=2"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n' >>"$ini"
	run_vmm 240 "$ini" 2>/tmp/pvh-$1.err
	rc=$?
	grep "kernel:\|boot:\|timeline\|exit" /tmp/pvh-$1.err | sed 's/^/    /'
	grep GUEST "$ini.console" | tr -d '\r' | sed 's/^/    /'
	[ "$rc" = 0 ] || { echo "    minivmm exited $rc:"; sed 's/^/    /' /tmp/pvh-$1.err; show_console "$ini"; return 1; }
	grep -q "GUEST cpus 2" "$ini.console" && grep -q "GUEST nvme 1048576 bytes read" "$ini.console" &&
		grep -q "GUEST cmdline console=ttyS0 panic=-1 quiet" "$ini.console" ||
		{ show_console "$ini"; return 1; }
}

l1() {
	check "guest initramfs" guest_script &&
		check "the cache has the vmlinux next to the bzImage" test -s "$VMLINUX" &&
		check "NVMe binds to vfio-pci" bind_vfio 0000:00:04.0 &&
		check "vmlinux through PVH: 2 vCPUs, NVMe read, power-off" boot vmlinux "$VMLINUX" &&
		check "minivmm names the kind" grep -q "kernel: vmlinux (ELF, PVH entry 0x" /tmp/pvh-vmlinux.err &&
		check "the bzImage, the same guest" boot bzimage "$KERNEL" &&
		check "minivmm names the kind" grep -q "kernel: bzImage (protocol 2.15)" /tmp/pvh-bzimage.err
}
