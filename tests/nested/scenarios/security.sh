# Running unprivileged: with [security] user = nobody and chroot = an empty folder,
# minivmm opens everything as root (a virtio-blk image, the NVMe through VFIO), then
# runs the guest as nobody, confined to that folder, with seccomp on; the guest uses
# both devices. /proc shows the ids and the root while it runs.
# timeout: 300

l1() {
	local ini=/tmp/sec.ini pid
	cat >/tmp/sec-guest.sh <<'G'
#!/bin/sh
for i in $(seq 100); do [ -b /dev/nvme0n1 ] && [ -b /dev/vda ] && break; sleep 0.1; done
echo "GUEST vda=$(dd if=/dev/vda bs=5 count=1 2>/dev/null)"
printf 'SECURE' | dd of=/dev/nvme0n1 bs=512 conv=sync oflag=direct 2>/dev/null
echo "GUEST nvme=$(dd if=/dev/nvme0n1 bs=512 count=1 iflag=direct 2>/dev/null | head -c 6)"
sleep 3
G
	guest_initrd /tmp/sec-guest.sh /tmp/sec.cpio.gz
	printf 'HELLO' >/tmp/sec-disk.img && truncate -s 1M /tmp/sec-disk.img
	mkdir -p /tmp/jail
	check "NVMe binds to vfio-pci" bind_vfio 0000:00:04.0 || return 1
	vm_ini "$ini" "initrd=/tmp/sec.cpio.gz"
	printf '[disk.d]\npath = /tmp/sec-disk.img\n[vfio.nvme]\nhost = 0000:00:04.0\n' >>"$ini"
	printf '[security]\nuser = nobody\nchroot = /tmp/jail\n' >>"$ini"
	"$MINIVMM_REPO/build/minivmm" "$ini" 2>/tmp/sec.err &
	pid=$!
	for _ in $(seq 300); do
		grep -q "GUEST nvme" "$ini.console" 2>/dev/null && break
		sleep 0.2
	done
	grep -E '^(Uid|Gid|Seccomp):' "/proc/$pid/status" | tee /tmp/sec.status
	echo "root: $(readlink "/proc/$pid/root")" | tee -a /tmp/sec.status
	wait "$pid"
	echo "exit $?" | tee -a /tmp/sec.status
	grep GUEST "$ini.console" | tr -d '\r'
	check "it ran as nobody (uid and gid, real and saved)" \
		grep -qE "^Uid:\s+65534\s+65534\s+65534" /tmp/sec.status &&
	check "inside the chroot" grep -q "root: /tmp/jail" /tmp/sec.status &&
	check "with a seccomp filter (mode 2)" grep -qE "^Seccomp:\s+2" /tmp/sec.status &&
	check "the guest used the disk and the NVMe" grep -q "GUEST nvme=SECURE" "$ini.console" &&
	check "and powered off (exit 0)" grep -q "exit 0" /tmp/sec.status
}
