# Benchmark (not a test): what a GPU-sized BAR costs at VM start. The emulated host's
# ivshmem-plain device (00:08.0, on vfio-pci) has a 64 GiB prefetchable BAR2 backed by
# a sparse file; each VMM boots the same guest (the test bed's kernel and initramfs,
# 256 MiB, 1 vCPU, a /scenario that returns at once, so init powers off) with and
# without that device passed through, alternating, BENCH_RUNS rounds (default 3) after
# one warm-up each:
#   minivmm: `minivmm vm.ini` with [vfio.iv] host = 0000:00:08.0 or without;
#   QEMU:    Debian's qemu-system-x86_64 -accel kvm -M pc -nodefaults (its default CPU, as
#            the other benchmarks: -cpu host made its guest boot take 140 s here), with
#            -device vfio-pci,host=0000:00:08.0 or without.
# Measured from launching the process to its exit (the guest's power-off), in the
# emulated host; and minivmm's own "first KVM_RUN" mark. l0_after() writes the table to
# $OUT/bench.md, which tests/bench/run prints. Run with
#   tests/bench/run large-bar        (BENCH_RUNS=N; also part of make bench)
# timeout: 1200
# ivshmem: 1

if [ -n "${MINIVMM_REPO:-}" ] && [ -f "$MINIVMM_REPO/build/bench/settings" ]; then
	# shellcheck disable=SC1091
	. "$MINIVMM_REPO/build/bench/settings"
fi
RUNS=${BENCH_RUNS:-3}
QEMU=/usr/bin/qemu-system-x86_64
IV=0000:00:08.0
S=$OUT/samples.txt
CMDLINE="console=ttyS0 panic=-1 quiet"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# boot VMM with|without N: one boot; "SAMPLE lb_VMM_with|without_ms" (and minivmm's first
# KVM_RUN) for rounds 1..RUNS.
boot() {
	local vmm=$1 dev=$2 n=$3 t0 t1 rc con=/tmp/lb-$1-$2.console ini=/tmp/lb-$1-$2.ini
	local -a args
	rm -f "$con"
	if [ "$vmm" = minivmm ]; then
		vm_ini "$ini" "initrd=/tmp/lb.cpio.gz"
		sed -i "s|^path = .*|path = $con|" "$ini"
		[ "$dev" = without ] || printf '[vfio.iv]\nhost = %s\n' "$IV" >>"$ini"
		args=("$MINIVMM_REPO/build/minivmm" "$ini")
	else
		args=("$QEMU" -accel kvm -M pc -m 256 -smp 1 -nodefaults -no-user-config
			-display none -serial "file:$con" -no-reboot -kernel "$KERNEL"
			-initrd /tmp/lb.cpio.gz -append "$CMDLINE")
		[ "$dev" = without ] || args+=(-device "vfio-pci,host=$IV")
	fi
	t0=$(now_ms)
	timeout --kill-after=5 240 "${args[@]}" </dev/null >/tmp/lb-$vmm-$dev.err 2>&1
	rc=$?
	t1=$(now_ms)
	if [ "$rc" != 0 ] || ! grep -q "GUEST up" "$con" 2>/dev/null; then
		echo "    $vmm $dev device: exit $rc; its stderr:"
		tail -15 /tmp/lb-$vmm-$dev.err | sed 's/^/      /'
		return 1
	fi
	echo "    round $n: $vmm $dev the 64 GiB BAR: $((t1 - t0)) ms start to exit"
	[ "$n" = 0 ] && return 0
	echo "SAMPLE lb_${vmm}_${dev}_ms $((t1 - t0))" >>"$S"
	[ "$vmm" = minivmm ] &&
		sed -n 's/.*boot: first KVM_RUN \([0-9.]*\) ms.*/SAMPLE lb_minivmm_'"$dev"'_kvm_run_ms \1/p' \
			/tmp/lb-$vmm-$dev.err >>"$S"
	return 0
}

rounds() {
	local n vmm dev
	for n in $(seq 0 "$RUNS"); do
		for vmm in minivmm qemu; do
			for dev in without with; do
				boot $vmm $dev "$n" && continue
				[ $vmm = minivmm ] && return 1
				# QEMU's failure leaves its rows empty and says why under the table.
				echo "INFO QEMU $dev the BAR failed: $(tail -1 /tmp/lb-qemu-$dev.err)" >>"$S"
			done
		done
	done
}

l1() {
	: >"$S"
	printf '#!/bin/sh\necho "GUEST up"\n' >/tmp/lb-guest.sh
	guest_initrd /tmp/lb-guest.sh /tmp/lb.cpio.gz || return 1
	"$QEMU" --version | head -1 | sed 's/^/INFO qemu /' | tee -a "$S"
	echo "INFO kernel $(uname -r) nproc $(nproc); BAR2 of $IV: $(($(sed -n 3p /sys/bus/pci/devices/$IV/resource | awk '{print $2 - $1 + 1}') >> 30)) GiB; $RUNS rounds after one warm-up" | tee -a "$S"
	check "ivshmem $IV binds to vfio-pci" bind_vfio "$IV" || return 1
	check "boots with and without the 64 GiB BAR, minivmm and QEMU alternating" rounds
}

l0_after() {
	local accel=TCG
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=KVM; fi
	python3 - "$OUT/samples.txt" "$accel" >"$OUT/bench.md.tmp" <<'T' || return 1
import statistics, sys

samples, info = {}, []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 3 and f[0] == "SAMPLE":
        samples.setdefault(f[1], []).append(float(f[2]))
    elif f and f[0] == "INFO":
        info.append(line[5:].strip())


def ratio(a, b):
    return [x / y for x, y in zip(samples.get(a, []), samples.get(b, [])) if y]


rows = [
    ("minivmm, no passthrough: start to exit", "ms", samples.get("lb_minivmm_without_ms", [])),
    ("minivmm, 64 GiB BAR passed through: start to exit", "ms", samples.get("lb_minivmm_with_ms", [])),
    ("minivmm: with / without (per round)", "x", ratio("lb_minivmm_with_ms", "lb_minivmm_without_ms")),
    ("minivmm, no passthrough: start to first KVM_RUN", "ms", samples.get("lb_minivmm_without_kvm_run_ms", [])),
    ("minivmm, 64 GiB BAR: start to first KVM_RUN", "ms", samples.get("lb_minivmm_with_kvm_run_ms", [])),
    ("QEMU -M pc, no passthrough: start to exit", "ms", samples.get("lb_qemu_without_ms", [])),
    ("QEMU -M pc, 64 GiB BAR passed through: start to exit", "ms", samples.get("lb_qemu_with_ms", [])),
    ("QEMU: with / without (per round)", "x", ratio("lb_qemu_with_ms", "lb_qemu_without_ms")),
    ("64 GiB BAR: minivmm / QEMU start to exit (per round)", "x", ratio("lb_minivmm_with_ms", "lb_qemu_with_ms")),
]


def fmt(x):
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.0f}"


print("## VM start with a 64 GiB BAR passed through: minivmm next to QEMU")
print()
if sys.argv[2] == "TCG":
    print("Emulated host under QEMU **TCG** (the guests run under KVM nested inside the")
    print("emulation): absolute figures are emulation speed, only the ratios mean something.")
print("ivshmem-plain with a 64 GiB BAR2 (sparse file) on vfio-pci; guests 256 MiB, 1 vCPU,")
print("the test bed's kernel and initramfs, powering off as soon as init runs.")
print()
print("| measure | unit | median | min | max | n |")
print("|---|---|---|---|---|---|")
for what, unit, v in rows:
    if v:
        print(f"| {what} | {unit} | {fmt(statistics.median(v))} | {fmt(min(v))} | {fmt(max(v))} | {len(v)} |")
    else:
        print(f"| {what} | {unit} | - | - | - | 0 |")
print()
for i in info:
    print(f"- {i}")
T
	mv "$OUT/bench.md.tmp" "$OUT/bench.md"
	echo "table in $OUT/bench.md"
}
