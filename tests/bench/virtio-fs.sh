# Benchmark (not a test): virtio-fs through virtiofsd (QEMU 7.2's, -o cache=none: every
# read and write goes to the host) next to virtio-blk on a raw image, in a minivmm guest
# and in a QEMU 7.2 guest (-accel kvm, vhost-user-fs-pci on the same virtiofsd, the
# disk as -drive if=virtio,cache=none), same kernel, initramfs, 256 MiB, 1 vCPU. Each
# figure is the median of 3 runs of busybox dd with 1 MiB blocks over 64 MiB:
#   fs_read / fs_write     a 64 MiB file the host wrote, read; one written (fsync)
#   blk_read / blk_write   the disk, O_DIRECT
# Run with tests/bench/run virtio-fs (make bench runs it too).
# timeout: 1500

SHARE=/tmp/bshare
SOCK=/tmp/bvfs.sock
QEMU=/usr/bin/qemu-system-x86_64

measure_script() {
	cat >/tmp/vfsb/scenario <<'G'
#!/bin/sh
med() { sort -n | sed -n 2p; }
rate() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f\n", 64 / (b - a)}'; }
mkdir -p /mnt/s
mount -t virtiofs share /mnt/s || echo "BENCH error mount"
for i in 1 2 3; do
	s=$EPOCHREALTIME; dd if=/mnt/s/host64 of=/dev/null bs=1M 2>/dev/null; e=$EPOCHREALTIME
	rate "$s" "$e" >>/tmp/fr
	s=$EPOCHREALTIME; dd if=/dev/zero of=/mnt/s/w$i bs=1M count=64 conv=fsync 2>/dev/null
	e=$EPOCHREALTIME; rm -f /mnt/s/w$i
	rate "$s" "$e" >>/tmp/fw
	s=$EPOCHREALTIME; dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct 2>/dev/null
	e=$EPOCHREALTIME
	rate "$s" "$e" >>/tmp/bw
	s=$EPOCHREALTIME; dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null
	e=$EPOCHREALTIME
	rate "$s" "$e" >>/tmp/br
done
echo "BENCH fs_read $(med </tmp/fr)"
echo "BENCH fs_write $(med </tmp/fw)"
echo "BENCH blk_read $(med </tmp/br)"
echo "BENCH blk_write $(med </tmp/bw)"
G
	chmod +x /tmp/vfsb/scenario
	cp "$GUEST_INITRD" /tmp/vfsb.cpio.gz
	(cd /tmp/vfsb && echo scenario | cpio -o -H newc --quiet | gzip) >>/tmp/vfsb.cpio.gz
}

# a fresh virtiofsd for each side: it serves one front end and ends with it
virtiofsd_start() {
	rm -f "$SOCK"
	/usr/lib/qemu/virtiofsd --socket-path="$SOCK" -o source="$SHARE" -o sandbox=chroot \
		-o cache=none -f >/tmp/bvfs.log 2>&1 &
	for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
	cat /tmp/bvfs.log
	return 1
}

side_minivmm() {
	local ini=/tmp/vfsb.ini
	virtiofsd_start || return 1
	vm_ini "$ini" "initrd=/tmp/vfsb.cpio.gz" "vcpus=1"
	printf '[fs.share]\nsocket = %s\n[disk.b]\npath = /tmp/vfsb.img\n' "$SOCK" >>"$ini"
	run_vmm 600 "$ini" 2>/tmp/vfsb.err || { cat /tmp/vfsb.err; return 1; }
	grep -a BENCH "$ini.console" | tr -d '\r' | sed 's/^BENCH /minivmm /' >>/tmp/vfsb.res
}

side_qemu() {
	virtiofsd_start || return 1
	timeout -k 5 600 "$QEMU" -accel kvm -m 256M -smp 1 -nographic -no-reboot \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=vfs,path="$SOCK" -device vhost-user-fs-pci,chardev=vfs,tag=share \
		-drive file=/tmp/vfsb.img,if=virtio,format=raw,cache=none \
		-kernel "$KERNEL" -initrd /tmp/vfsb.cpio.gz -append "console=ttyS0 panic=-1 quiet" \
		</dev/null >/tmp/vfsb-qemu.out 2>&1 || { tail -20 /tmp/vfsb-qemu.out; return 1; }
	grep -a BENCH /tmp/vfsb-qemu.out | tr -d '\r' | sed 's/^BENCH /qemu /' >>/tmp/vfsb.res
}

l1() {
	[ -w /run ] || mount -t tmpfs tmpfs /run || return 1
	rm -rf "$SHARE" /tmp/vfsb /tmp/vfsb.res && mkdir -p "$SHARE" /tmp/vfsb
	dd if=/dev/urandom of="$SHARE/host64" bs=1M count=64 2>/dev/null
	truncate -s 128M /tmp/vfsb.img
	measure_script
	side_minivmm && side_qemu || return 1
	cat /tmp/vfsb.res
	! grep -q error /tmp/vfsb.res || return 1
	{
		echo "| MiB/s (median of 3, 64 MiB, dd 1 MiB) | minivmm | QEMU 7.2 |"
		echo "|---|---|---|"
		for m in fs_read fs_write blk_read blk_write; do
			echo "| $m | $(awk -v m="$m" '$1 == "minivmm" && $2 == m {print $3}' /tmp/vfsb.res) |" \
				"$(awk -v m="$m" '$1 == "qemu" && $2 == m {print $3}' /tmp/vfsb.res) |"
		done
	} | tee "$OUT/bench.md"
}
