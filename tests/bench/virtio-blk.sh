# Benchmark (not a test): virtio-blk in the guest. Sequential write and read of 64 MiB
# (dd, 1 MiB blocks, O_DIRECT), 4 KiB random read and write IOPS (randio, O_DIRECT, 10 s
# each), and the VMM's notification and interrupt counts per request. Run with
#   tests/bench/run virtio-blk
# timeout: 900

l1() {
	local ini=/tmp/bench.ini
	cat >/tmp/bench.sh <<'G'
#!/bin/sh
dev=/dev/vda
t() { cut -d' ' -f1 /proc/uptime; }
s=$(t); dd if=/dev/zero of=$dev bs=1M count=64 oflag=direct 2>/dev/null; e=$(t)
echo "BENCH seq_write_MBps $(echo "$s $e" | awk '{printf "%.1f", 64 / ($2 - $1)}')"
s=$(t); dd if=$dev of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null; e=$(t)
echo "BENCH seq_read_MBps $(echo "$s $e" | awk '{printf "%.1f", 64 / ($2 - $1)}')"
echo "BENCH rand_read_4k $(/randio $dev read 10)"
echo "BENCH rand_write_4k $(/randio $dev write 10)"
G
	# The scenario cpio carries randio beside the script.
	mkdir -p /tmp/extra && cp /tmp/bench.sh /tmp/extra/scenario && chmod +x /tmp/extra/scenario
	cp "$MINIVMM_REPO/build/randio" /tmp/extra/randio
	cp "$GUEST_INITRD" /tmp/bench.cpio.gz
	(cd /tmp/extra && printf 'scenario\nrandio\n' | cpio -o -H newc --quiet | gzip) \
		>>/tmp/bench.cpio.gz
	truncate -s 128M /tmp/bench.img
	vm_ini "$ini" "initrd=/tmp/bench.cpio.gz" "vcpus=1"
	printf '[disk.bench]\npath = /tmp/bench.img\n' >>"$ini"
	MINIVMM_STATS=1 run_vmm 600 "$ini" 2>/tmp/bench.err || { cat /tmp/bench.err; return 1; }
	grep BENCH "$ini.console" | tr -d '\r' | tee "$OUT/bench.txt"
	grep "stats:" /tmp/bench.err | tee -a "$OUT/bench.txt"
}
