# Benchmark (not a test): the boot cycle, minivmm next to kvmtool and QEMU -M microvm in
# the same emulated host, phase by phase. Every side boots the test bed's kernel with the
# same busybox initramfs, whose /scenario reboots at once (reboot -f): launch, boot to
# init, reboot, exit. 256 MiB, 1 vCPU, command line "console=ttyS0 panic=-1 quiet", the
# console on the VMM's stdout (a pipe the driver stamps as bytes arrive), no disk or NIC,
# every file in the emulated host's tmpfs:
#   minivmm with the bzImage and with the vmlinux (PVH entry, no decompression);
#   kvmtool (lkvm run, bzImage; built from its public source by tests/bench/kvmtool.sh,
#     or not measured, with the reason printed under the table);
#   QEMU -M microvm -nodefaults -no-reboot, with the bzImage and with the vmlinux (PVH).
# Per side: launch to the first console byte, to the init's "userspace reached" line,
# the guest kernel's clock at that line, that line to the VMM's exit, launch to exit; and
# minivmm's own timeline (the "timeline" line it logs at exit: config, guest RAM,
# devices, kernel loaded, first KVM_RUN, first console output, guest userspace, stop
# request, torn down, exit) as phase lengths. One warm-up round, then BENCH_RUNS rounds
# (default 5), each booting every side once in an order that rotates round by round;
# ratios of launch-to-exit to kvmtool's are taken round by round. Run with
#   tests/bench/run boot-cycle      (make bench runs it too)
# timeout: 1200
# memory: 2048

if [ -n "${MINIVMM_REPO:-}" ] && [ -f "$MINIVMM_REPO/build/bench/settings" ]; then
	# shellcheck disable=SC1091
	. "$MINIVMM_REPO/build/bench/settings"
fi
RUNS=${BENCH_RUNS:-5}
S=$OUT/samples.txt

l1() {
	: >"$S"
	# Kernels, initramfs and kvmtool in the emulated host's tmpfs, as files in a
	# host's page cache would be: not read over 9p at every launch.
	mkdir -p /tmp/bc && printf '#!/bin/sh\nreboot -f\n' >/tmp/bc/reboot.sh &&
		guest_initrd /tmp/bc/reboot.sh /tmp/bc/guest.cpio.gz &&
		cp "$KERNEL" /tmp/bc/bzImage && cp "$VMLINUX" /tmp/bc/vmlinux || return 1
	local kvmtool=${LKVM:+$(basename "$(dirname "$LKVM")")}
	if [ -n "${LKVM:-}" ]; then cp "$LKVM" /tmp/bc/lkvm && LKVM=/tmp/bc/lkvm; fi
	echo "INFO emulated host: kernel $(uname -r), nproc $(nproc); $(/usr/bin/qemu-system-x86_64 --version | head -1); kvmtool ${kvmtool:-absent}; $RUNS rounds after one warm-up" |
		tee -a "$S"
	KERNEL=/tmp/bc/bzImage VMLINUX=/tmp/bc/vmlinux BC_INITRD=/tmp/bc/guest.cpio.gz QEMU=/usr/bin/qemu-system-x86_64 LKVM=${LKVM:-} LKVM_WHY=${LKVM_WHY:-} \
		python3 "$MINIVMM_REPO/tests/bench/boot-cycle.py" run "$RUNS" >/tmp/bc/driver.log 2>&1
	local rc=$?
	grep -v '^SAMPLE' /tmp/bc/driver.log
	grep -E '^(SAMPLE|INFO)' /tmp/bc/driver.log >>"$S"
	mkdir -p "$OUT/logs" && cp /tmp/bc/*.err /tmp/bc/*.console "$OUT/logs/" 2>/dev/null
	return $rc
}

# Here, after QEMU exits: the table, which tests/bench/run prints.
l0_after() {
	python3 tests/bench/boot-cycle.py table "$OUT/samples.txt" >"$OUT/bench.md.tmp" || return 1
	mv "$OUT/bench.md.tmp" "$OUT/bench.md"
}
