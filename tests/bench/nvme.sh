# Benchmark (not a test): NVMe passthrough against the same drive used natively, the
# block I/O phases of tests/bench/io.bash (sequential, 4 KiB random by interrupt and
# polled). First in the emulated host with its own nvme driver; then 0000:00:04.0 goes
# to vfio-pci and a minivmm guest (256 MiB, one vCPU, [vfio.nvme]) runs the same phases,
# bracketing each with the stats mark so the VMM's exits per I/O can be counted. A
# second, short VM with 1 GiB gives the DMA-map time of guest RAM at a second size. One
# round; `make bench` runs the same phases in rounds next to QEMU. l0_after() writes the
# table to
# $OUT/bench.md, which tests/bench/run prints. Run with
#   tests/bench/run nvme
# timeout: 900
# memory: 3072

# The phases, the native run and the guest run are shared with side-by-side.sh.
# shellcheck source=tests/bench/io.bash
. "${BASH_SOURCE[0]%/*}/io.bash"

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
	io_measure_script /tmp/io-measure.sh &&
		check "native: the emulated host's nvme driver on /dev/nvme0n1" io_native "$OUT/native.txt" &&
		check "NVMe 00:04.0 binds to vfio-pci" bind_vfio "$IO_BDF" &&
		check "guest: the same phases through minivmm passthrough (256 MiB)" \
			io_guest passthrough "$OUT/guest" &&
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
		echo "nvme driver, IOMMU DMA domain (Linux's default); guest: minivmm, 256 MiB, 1 vCPU,"
		echo "\`[vfio.nvme]\`. One run, $(date -u +%Y-%m-%d)."
		echo "VMM exits: counted by minivmm between two stats marks written by the guest around"
		echo "each phase, less the closing mark's own port write; \"all\" is every return from"
		echo "KVM_RUN (port I/O, MMIO, signals)."
		echo
		{
			io_samples native "$OUT/native.txt"
			io_samples guest "$OUT/guest.txt" "$OUT/guest.err"
		} >"$OUT/samples.txt"
		awk -v samples="$OUT/samples.txt" -v marks="$OUT/guest.err" -v dma1g="$OUT/dma1g.err" \
			-f /dev/stdin <<'A'
# SAMPLE io_SIDE_PHASE[_ios|_exits_KIND] VALUE (io_samples in io.bash)
function load_samples(file,    f) {
	while ((getline line < file) > 0) {
		split(line, f, " ")
		if (f[1] == "SAMPLE" && f[3] != "NA")
			s[f[2]] = f[3]
	}
	close(file)
}
function load_dma(file) {
	while ((getline line < file) > 0)
		if (line ~ /mapped for device DMA in/)
			dma_line(line)
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
function row(name, key, unit,    fmt, n, g) {
	n = "io_native_" key; g = "io_guest_" key
	if (!(n in s) || !(g in s)) {
		printf "| %s | MISSING | MISSING | - |\n", name
		return
	}
	fmt = unit == "IOPS" ? "%.0f" : "%.1f"
	printf "| %s | " fmt " %s | " fmt " %s | %.2f |\n", name, s[n], unit, s[g], unit, s[g] / s[n]
}
# io_samples has taken the closing mark's own port write off io and all.
function exits(name, key,    g, n) {
	g = "io_guest_" key
	n = s[g "_ios"]
	if (!((g "_exits_all") in s) || n == 0) {
		printf "| VMM exits %s | - | MISSING | - |\n", name
		return
	}
	printf "| VMM exits %s | - | %.4f PIO, %.4f MMIO, %.4f all (%d, %d, %d over %d) | - |\n",
		name, s[g "_exits_io"] / n, s[g "_exits_mmio"] / n, s[g "_exits_all"] / n,
		s[g "_exits_io"], s[g "_exits_mmio"], s[g "_exits_all"], n
}
BEGIN {
	load_samples(samples)
	load_dma(marks); load_dma(dma1g)
	print "| metric | native | minivmm guest | ratio |"
	print "|---|---|---|---|"
	row("sequential write, dd 1 MiB x 256, O_DIRECT", "seq_write", "MiB/s")
	row("sequential read, dd 1 MiB x 256, O_DIRECT", "seq_read", "MiB/s")
	row("4 KiB random read, QD1, interrupt, O_DIRECT, 10 s", "rand_read", "IOPS")
	row("4 KiB random write, QD1, interrupt, O_DIRECT, 10 s", "rand_write", "IOPS")
	row("4 KiB random read, QD1, polled io_uring, O_DIRECT, 10 s", "rand_read_poll", "IOPS")
	exits("per 4 KiB random read", "rand_read")
	exits("per 4 KiB random write", "rand_write")
	exits("per 4 KiB polled random read", "rand_read_poll")
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
	if grep -qwiE 'nan|inf|MISSING' "$OUT/bench.md.tmp" || grep -qE ' 0\.0 (MiB/s|IOPS)' "$OUT/bench.md.tmp" ||
		[ "$(grep -c 'DMA map' "$OUT/bench.md.tmp")" != 2 ]; then
		cat "$OUT/bench.md.tmp"
		echo "incomplete results"
		return 1
	fi
	mv "$OUT/bench.md.tmp" "$OUT/bench.md"
	echo "table in $OUT/bench.md"
}
