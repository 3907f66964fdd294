# Benchmark (not a test): snapshot, restore and live migration, minivmm next to QEMU
# (Debian's qemu-system-x86_64 -accel kvm -M pc -nodefaults) in the same emulated host.
# Both guests: the test bed's kernel and initramfs, 256 MiB, 1 vCPU, the same command
# line, a virtio-blk disk (a 16 MiB raw file in the emulated host's tmpfs) and a
# virtio-net NIC on a tap (modern-only virtio-pci on both; QEMU without VGA, default
# devices or NIC option ROM). The guest (migguest.c, its /scenario) prints "T N P" every
# 20 ms, which the driver stamps as it reaches the console file; a writer in it, started
# through the disk's first sector, stores into every page of a 32 MiB buffer, a pass
# every 20 ms (see below). One Python driver (migrate-bench.py) per VMM, on one
# guest it boots, each measure ROUNDS + 1 times (the first a warm-up, not counted):
#   snapshot: minivmm `pause` + `snapshot path=DIR` on the API socket (request to reply);
#     QEMU `stop` + `migrate exec:cat > FILE` over QMP (request to the MIGRATION event
#     "completed"). QEMU 7.2 has no file: URI, and savevm needs a qcow2 disk and saves
#     into it: a migration stream into a file is what its snapshot-to-a-file is. The VMM
#     then exits;
#   restore: `minivmm --restore DIR`; QEMU the same command line with -incoming defer,
#     then QMP migrate-incoming exec:cat FILE and, once loaded, cont (a stream saved from
#     a stopped VM loads into a paused one; libvirt restores so): from launching the
#     process to the guest's first tick. Also each VMM's VmRSS then, next to the booted
#     VM's;
#   live migration, idle then with the writer on: to a second VMM process over a Unix
#     socket (minivmm --incoming unix:P with its own API socket, console file and tap;
#     QEMU -incoming unix:P), which becomes the source of the next round. Each VMM's own
#     total time, downtime and bytes (minivmm's MIGRATION_COMPLETED event; QEMU's
#     query-migrate: total-time, downtime, ram.transferred and dirty-sync-count), and,
#     the same for both, the guest-observed gap (last tick stamped on the source's
#     console to the first on the destination's) and request to the first tick there.
#     Both with a 300 ms downtime limit (their default); QEMU's 32 MiB/s bandwidth cap
#     lifted. minivmm stops pre-copy after 30 rounds (its max_rounds); QEMU has no such
#     limit, so a QEMU migration that has not converged after 240 s gets its downtime
#     limit raised and is marked so.
# The writer is paced, a pass every 20 ms at most (the whole buffer is still written
# again several times within any pre-copy round): with a writer that never sleeps, the
# emulated host (QEMU 7.2's TCG emulating nested SVM) froze in about one run in three,
# whichever VMM ran the guest: its CPU stuck in the guest's loop for good with its own
# LAPIC timer interrupt pending (IRR 236), neither that nor an NMI ever taken. Paced,
# the freeze is rarer but not gone (it was also seen with the guest idle or halted); the
# runner sees the emulated host's heartbeat stop and runs the benchmark once more.
# l0_after() writes the table to $OUT/bench.md (median, min, max; ratios round by
# round), which tests/bench/run prints. Run with
#   tests/bench/run migrate-bench     (BENCH_RUNS=N for N rounds, default 3; make bench)
# timeout: 900
# memory: 3072

if [ -n "${MINIVMM_REPO:-}" ] && [ -f "$MINIVMM_REPO/build/bench/settings" ]; then
	# shellcheck disable=SC1091
	. "$MINIVMM_REPO/build/bench/settings"
fi
RUNS=${BENCH_RUNS:-3}
QEMU=/usr/bin/qemu-system-x86_64
S=$OUT/samples.txt
HERE=$MINIVMM_REPO/tests/bench

# The guest's initramfs with migguest as /scenario, the disks and the taps.
mb_setup() {
	mkdir -p /tmp/mb &&
		gcc -static -O2 -pthread -o /tmp/mb/migguest "$HERE/migguest.c" &&
		guest_initrd /tmp/mb/migguest /tmp/mb/guest.cpio.gz || return 1
	truncate -s 16M /tmp/mb/disk-minivmm /tmp/mb/disk-qemu || return 1
	for t in mbm0 mbm1 mbq0 mbq1; do
		ip tuntap add "$t" mode tap && ip link set "$t" up || return 1
	done
}

# run_driver VMM: its SAMPLE lines go to $S, all of its output to ours.
run_driver() {
	MB_INITRD=/tmp/mb/guest.cpio.gz MB_DISK=/tmp/mb/disk QEMU=$QEMU \
		python3 "$HERE/migrate-bench.py" run "$1" "$RUNS" >"/tmp/mb/driver-$1.log" 2>&1
	local rc=$?
	grep -v '^SAMPLE' "/tmp/mb/driver-$1.log"
	grep -E '^(SAMPLE|INFO)' "/tmp/mb/driver-$1.log" >>"$S"
	# The VMMs' logs, for a look afterwards (build/nested/migrate-bench/logs).
	mkdir -p "$OUT/logs" && cp /tmp/mb/"$1"*.err /tmp/mb/"$1"*.console /tmp/mb/driver-"$1".log "$OUT/logs/"
	if [ "$rc" != 0 ]; then
		for f in /tmp/mb/"$1"*.err; do
			echo "---- $f, last lines:"
			tail -8 "$f" | sed 's/^/    /'
		done
		for f in /tmp/mb/"$1"*.console; do
			echo "---- $f, last lines:"
			tail -4 "$f" | sed 's/^/    /'
		done
	fi
	return $rc
}

l1() {
	: >"$S"
	check "guest initramfs, disks and taps" mb_setup || return 1
	"$QEMU" --version | head -1 | sed 's/^/INFO qemu /' | tee -a "$S"
	echo "INFO kernel $(uname -r) nproc $(nproc) mem_mib $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024)); $RUNS rounds of each after one warm-up, per VMM" | tee -a "$S"
	# A failure leaves that VMM's rows short or empty ("no data") and says so under the
	# table, rather than leave the table unwritten.
	check "minivmm: snapshot, restore, live migration idle and busy" run_driver minivmm ||
		echo "INFO minivmm FAILED: $(tail -1 /tmp/mb/driver-minivmm.log) (build/nested/migrate-bench/l1-console.log, logs/)" >>"$S"
	check "QEMU: snapshot, restore, live migration idle and busy" run_driver qemu ||
		echo "INFO QEMU FAILED: $(tail -1 /tmp/mb/driver-qemu.log) (build/nested/migrate-bench/l1-console.log, logs/)" >>"$S"
	return 0
}

# Here, after QEMU exits: the table (the format of make bench's, tests/bench/table.py).
l0_after() {
	local accel=TCG
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=KVM; fi
	python3 tests/bench/migrate-bench.py table "$OUT/samples.txt" "$accel" >"$OUT/bench.md.tmp" ||
		return 1
	mv "$OUT/bench.md.tmp" "$OUT/bench.md"
	echo "table in $OUT/bench.md"
}
