# Benchmark (not a test): NVMe passthrough against the same drive used natively. In the
# emulated host, with its own nvme driver on /dev/nvme0n1: sequential write and read of
# 32 MiB (dd, 1 MiB blocks, O_DIRECT) and 4 KiB random read and write IOPS (randio,
# O_DIRECT, 10 s each). Then 0000:00:04.0 goes to vfio-pci and a minivmm guest
# (256 MiB, one vCPU, [vfio.nvme]) runs the same four phases, bracketing each with the
# stats mark so the VMM's exits per I/O can be counted. A second, short VM with 1 GiB
# gives the DMA-map time of guest RAM at a second size. l0_after() writes the table to
# $OUT/bench.md, which tests/bench/run prints. Run with
#   tests/bench/run nvme
# timeout: 900
# memory: 3072

# The four phases, for both sides. Run by busybox sh natively too, so that both sides
# use the same dd and the same clock ($EPOCHREALTIME: busybox's date has no %N, and
# /proc/uptime's 10 ms are too coarse for a 32 MiB dd). Results go to a file printed
# at the end: console output costs the guest port I/O exits, which must not land
# inside a measured phase.
# Usage: measure.sh DEVICE RANDIO MARK(0|1) RESULTS
measure_script() {
	cat >"$1" <<'M'
dev=$1 randio=$2 mark=$3 res=$4
n=0
# The stats mark: one byte to port 0x5ff (1535); the VMM logs its exit counters.
m() {
	n=$((n + 1))
	[ "$mark" = 1 ] || return 0
	printf '\001' | busybox dd of=/dev/port bs=1 seek=1535 count=1 2>/dev/null
}
: >"$res"
for dir in write read; do
	io="if=$dev of=/dev/null iflag=direct"
	[ $dir = read ] || io="if=/dev/zero of=$dev oflag=direct"
	m; s=$EPOCHREALTIME
	# shellcheck disable=SC2086
	busybox dd $io bs=1M count=32 2>/dev/null || echo "BENCH error seq_$dir" >>"$res"
	e=$EPOCHREALTIME; m
	echo "BENCH seq_$dir mib 32 start $s end $e marks $((n - 1)) $n" >>"$res"
done
for dir in read write; do
	m; r=$("$randio" "$dev" $dir 10 2>&1); m
	echo "BENCH rand_$dir $r marks $((n - 1)) $n" >>"$res"
done
cat "$res"
M
}

wait_nvme() {
	for _ in $(seq 100); do
		[ -b /dev/nvme0n1 ] && return 0
		sleep 0.1
	done
	echo "no /dev/nvme0n1"
	return 1
}

# complete RESULTS: all four phases ran, and randio reported both times.
complete() {
	! grep -q "BENCH error" "$1" && [ "$(grep -c '^BENCH' "$1")" = 4 ] &&
		[ "$(grep -c '^BENCH rand_.* iops ' "$1")" = 2 ]
}

native() {
	wait_nvme || return 1
	busybox sh /tmp/measure.sh /dev/nvme0n1 "$MINIVMM_REPO/build/randio" 0 /tmp/native.res |
		tee "$OUT/native.txt"
	complete "$OUT/native.txt"
}

guest() {
	local ini=/tmp/bench.ini rc
	mkdir -p /tmp/extra
	cat >/tmp/extra/scenario <<'G'
#!/bin/sh
for i in $(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
[ -b /dev/nvme0n1 ] || { echo "BENCH error no /dev/nvme0n1"; exit 1; }
sh /measure.sh /dev/nvme0n1 /randio 1 /tmp/bench.res
G
	chmod +x /tmp/extra/scenario
	cp /tmp/measure.sh /tmp/extra/measure.sh
	cp "$MINIVMM_REPO/build/randio" /tmp/extra/randio
	cp "$GUEST_INITRD" /tmp/bench.cpio.gz
	(cd /tmp/extra && printf 'scenario\nmeasure.sh\nrandio\n' | cpio -o -H newc --quiet | gzip) \
		>>/tmp/bench.cpio.gz
	vm_ini "$ini" "initrd=/tmp/bench.cpio.gz" "vcpus=1"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n' >>"$ini"
	MINIVMM_STATS=1 run_vmm 600 "$ini" 2>"$OUT/guest.err"
	rc=$?
	cat "$OUT/guest.err"
	grep BENCH "$ini.console" | tr -d '\r' | tee "$OUT/guest.txt"
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	complete "$OUT/guest.txt" && [ "$(grep -c 'stats: mark' "$OUT/guest.err")" = 8 ]
}

# Only the DMA map of 1 GiB matters here: the guest powers off as soon as it is up.
dma_1g() {
	local ini=/tmp/dma1g.ini rc
	printf '#!/bin/sh\nexit 0\n' >/tmp/dma1g.sh
	guest_initrd /tmp/dma1g.sh /tmp/dma1g.cpio.gz
	vm_ini "$ini" "initrd=/tmp/dma1g.cpio.gz" "vcpus=1"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n' >>"$ini"
	run_vmm 300 --set vm.memory=1G "$ini" 2>"$OUT/dma1g.err"
	rc=$?
	cat "$OUT/dma1g.err"
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "mapped for device DMA in" "$OUT/dma1g.err"
}

l1() {
	measure_script /tmp/measure.sh &&
		check "native: the emulated host's nvme driver on /dev/nvme0n1" native &&
		check "NVMe 00:04.0 binds to vfio-pci" bind_vfio 0000:00:04.0 &&
		check "guest: the same phases through minivmm passthrough (256 MiB)" guest &&
		check "a 1 GiB guest for the DMA-map time" dma_1g
}

# Runs here after QEMU exits: the table from the raw results in $OUT.
l0_after() {
	local accel=TCG
	# The same test the runner makes to choose QEMU's accelerator.
	if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=KVM; fi
	{
		echo "## NVMe passthrough: native vs minivmm guest"
		echo
		if [ $accel = TCG ]; then
			echo "Emulated host under QEMU **TCG** (no hardware virtualization here; the guest"
			echo "runs under KVM nested inside the emulation): absolute figures are emulation"
			echo "speed, only the ratios and the exit counts mean something."
			echo
		else
			echo "Emulated host under QEMU with KVM; the guest runs under nested KVM."
		fi
		echo "Drive: QEMU NVMe, 64 MiB file-backed, 0000:00:04.0. Native: the emulated host's"
		echo "nvme driver; guest: minivmm, 256 MiB, 1 vCPU, \`[vfio.nvme]\`. One run, $(date -u +%Y-%m-%d)."
		echo "VMM exits: counted by minivmm between two stats marks written by the guest around"
		echo "each phase, less the closing mark's own port write; \"all\" is every return from"
		echo "KVM_RUN (port I/O, MMIO, signals)."
		echo
		awk -v native="$OUT/native.txt" -v guest="$OUT/guest.txt" \
			-v marks="$OUT/guest.err" -v dma1g="$OUT/dma1g.err" -f /dev/stdin <<'A'
# BENCH seq_DIR mib 32 start S end E marks A B
# BENCH rand_DIR ops N seconds S iops X marks A B
function load(file, side,    f) {
	while ((getline line < file) > 0) {
		split(line, f, " ")
		if (f[1] != "BENCH")
			continue
		if (f[2] ~ /^seq_/) {
			val[side, f[2]] = f[4] / (f[8] - f[6])
			ios[side, f[2]] = f[4]
			ma[side, f[2]] = f[10]; mb[side, f[2]] = f[11]
		} else {
			val[side, f[2]] = f[8]
			ios[side, f[2]] = f[4]
			ma[side, f[2]] = f[10]; mb[side, f[2]] = f[11]
		}
	}
	close(file)
}
# minivmm: stats: mark N: exits io=A mmio=B all=C
function load_marks(file,    f, n, kv, i) {
	while ((getline line < file) > 0) {
		if (line ~ /stats: mark [0-9]+:/) {
			split(line, f, " ")
			n = f[4]; sub(":", "", n)
			for (i = 6; i <= 8; i++) {
				split(f[i], kv, "=")
				ex[n, kv[1]] = kv[2]
			}
		}
		if (line ~ /mapped for device DMA in/)
			dma_line(line)
	}
	close(file)
}
# vfio: guest RAM (N MiB in K regions) mapped for device DMA in X ms [(BACKEND)]
function dma_line(line,    f, i, n, mib) {
	n = split(line, f, " ")
	for (i = 1; i <= n; i++) {
		if (f[i] ~ /^\([0-9]+$/)
			mib = substr(f[i], 2)
		if (f[i] == "in" && f[i + 1] ~ /^[0-9.]+$/ && f[i + 2] == "ms") {
			dma[mib] = f[i + 1]
			if (f[i + 3] ~ /^\(.*\)$/)
				backend[mib] = ", " substr(f[i + 3], 2, length(f[i + 3]) - 2)
		}
	}
}
function row(name, key, unit,    fmt) {
	fmt = unit == "IOPS" ? "%.0f" : "%.1f"
	printf "| %s | " fmt " %s | " fmt " %s | %.2f |\n", name, val["n", key], unit,
		val["g", key], unit, val["g", key] / val["n", key]
}
# The second mark's own exit (one port write) is inside the difference; the first's
# is not, so one PIO exit comes off.
function exits(name, key, per,    a, b, io, mmio, all) {
	a = ma["g", key]; b = mb["g", key]
	io = ex[b, "io"] - ex[a, "io"] - 1
	mmio = ex[b, "mmio"] - ex[a, "mmio"]
	all = ex[b, "all"] - ex[a, "all"] - 1
	printf "| VMM exits %s | - | %.4f PIO, %.4f MMIO, %.4f all (%d, %d, %d over %d) | - |\n",
		name, io / ios["g", key], mmio / ios["g", key], all / ios["g", key],
		io, mmio, all, ios["g", key]
}
BEGIN {
	load(native, "n"); load(guest, "g")
	load_marks(marks); load_marks(dma1g)
	print "| metric | native | minivmm guest | ratio |"
	print "|---|---|---|---|"
	row("sequential write, dd 1 MiB x 32, O_DIRECT", "seq_write", "MiB/s")
	row("sequential read, dd 1 MiB x 32, O_DIRECT", "seq_read", "MiB/s")
	row("4 KiB random read, O_DIRECT, 10 s", "rand_read", "IOPS")
	row("4 KiB random write, O_DIRECT, 10 s", "rand_write", "IOPS")
	exits("per 4 KiB random read", "rand_read")
	exits("per 4 KiB random write", "rand_write")
	exits("per MiB, sequential write", "seq_write")
	exits("per MiB, sequential read", "seq_read")
	for (mib = 256; mib <= 1024; mib *= 4)
		if (mib in dma)
			printf "| DMA map of guest RAM, %d MiB | - | %.1f ms (%.0f ms/GiB%s) | - |\n",
				mib, dma[mib], dma[mib] * 1024 / mib, backend[mib]
}
A
	} >"$OUT/bench.md.tmp"
	# Every figure must be there: a missing one would print as 0 or nan.
	if grep -qwiE 'nan|inf' "$OUT/bench.md.tmp" || grep -qE ' 0\.0 (MiB/s|IOPS)' "$OUT/bench.md.tmp" ||
		[ "$(grep -c 'DMA map' "$OUT/bench.md.tmp")" != 2 ]; then
		cat "$OUT/bench.md.tmp"
		echo "incomplete results"
		return 1
	fi
	mv "$OUT/bench.md.tmp" "$OUT/bench.md"
	echo "table in $OUT/bench.md"
}
