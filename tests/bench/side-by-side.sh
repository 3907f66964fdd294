# Benchmark (not a test): minivmm next to QEMU (Debian's qemu-system-x86_64) in the same
# emulated host (boot, footprint, exit cost, DMA map with 4K pages and hugepages), then
# block I/O in minivmm guests next to the emulated host's own nvme driver (NVMe
# passthrough and virtio-blk; io.bash, the phases of tests/bench/run nvme). Each figure
# is the median of $RUNS runs with min and max. Run with
#   make bench        (or tests/bench/run side-by-side; BENCH_RUNS=N for N rounds)
# Raw samples go to $OUT/samples.txt ("SAMPLE metric value"); l0_after() turns them into
# build/bench/results.csv, the markdown table $OUT/bench.md (tests/bench/run prints it)
# and the chart build/bench/results.png (table.py, chart.py).
# timeout: 2400
# memory: 5120

# BENCH_RUNS and BENCH_EXITS come from tests/bench/run's environment, through the file
# it writes (this runs in the emulated host, which does not inherit that environment).
if [ -n "${MINIVMM_REPO:-}" ] && [ -f "$MINIVMM_REPO/build/bench/settings" ]; then
	# shellcheck disable=SC1091
	. "$MINIVMM_REPO/build/bench/settings"
fi
RUNS=${BENCH_RUNS:-3}
MEM=256M
VCPUS=1
CMDLINE="console=ttyS0 panic=-1 quiet"
QEMU=/usr/bin/qemu-system-x86_64
S=$OUT/samples.txt
# The block I/O phases are shared with nvme.sh.
# shellcheck source=tests/bench/io.bash
. "${BASH_SOURCE[0]%/*}/io.bash"

sample() { echo "SAMPLE $1 $2" | tee -a "$S"; }
now() { echo "$EPOCHREALTIME"; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", (b - a) * 1000}'; }

# stamp: prefixes each line read with the wall-clock time it arrived.
stamp() { while IFS= read -r l; do echo "$EPOCHREALTIME $l"; done; }

# The guest initramfs with a /scenario that sleeps $1 seconds, then lets init power off.
initrd_sleep() {
	printf '#!/bin/sh\nsleep %s\nexit 0\n' "$1" >/tmp/s$1.sh
	guest_initrd /tmp/s$1.sh /tmp/guest-s$1.cpio.gz
}

# minivmm boot: its own log gives first KVM_RUN and guest userspace after VMM start;
# wall time launch -> exit measured here.
boot_minivmm() {
	local ini=/tmp/boot.ini t0 t1
	vm_ini "$ini" "initrd=/tmp/guest-s0.cpio.gz" "vcpus=$VCPUS"
	t0=$(now)
	run_vmm 120 "$ini" 2>/tmp/boot.err || { cat /tmp/boot.err; show_console "$ini"; return 1; }
	t1=$(now)
	cat /tmp/boot.err
	# minivmm: boot: first KVM_RUN X ms, guest userspace Y ms after VMM start
	sample boot_minivmm_first_run_ms "$(sed -n 's/.*first KVM_RUN \([0-9.]*\) ms.*/\1/p' /tmp/boot.err)"
	sample boot_minivmm_userspace_ms "$(sed -n 's/.*guest userspace \([0-9.]*\) ms.*/\1/p' /tmp/boot.err)"
	sample boot_minivmm_exit_ms "$(ms "$t0" "$t1")"
}

# QEMU boot, machine $1: wall time from launch to the guest's "userspace reached" line
# on the serial console, and to QEMU's exit.
boot_qemu() {
	local m=$1 t0 t1 u
	t0=$(now)
	timeout -k 5 180 "$QEMU" -accel kvm -M "$m" -m "$MEM" -smp "$VCPUS" -nographic -no-reboot \
		-kernel "$KERNEL" -initrd /tmp/guest-s0.cpio.gz -append "$CMDLINE" </dev/null \
		2>/tmp/qemu.err | stamp >/tmp/qemu.out
	t1=$(now)
	u=$(grep -m1 'guest: userspace reached' /tmp/qemu.out | cut -d' ' -f1)
	if [ -z "$u" ]; then
		echo "QEMU -M $m: no 'guest: userspace reached' line"
		tail -5 /tmp/qemu.out /tmp/qemu.err
		sample "boot_qemu_${m}_userspace_ms" NA
		sample "boot_qemu_${m}_exit_ms" NA
		return 0
	fi
	sample "boot_qemu_${m}_userspace_ms" "$(ms "$t0" "$u")"
	sample "boot_qemu_${m}_exit_ms" "$(ms "$t0" "$t1")"
}

# Footprint while the guest idles (its /scenario sleeps): VmRSS, RssAnon, RssShmem (KiB).
rss_of() {
	awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ {printf "%s=%s ", $1, $2}' "/proc/$1/status"
}
footprint_minivmm() {
	local ini=/tmp/fp.ini pid st guest
	vm_ini "$ini" "initrd=/tmp/guest-s8.cpio.gz" "vcpus=$VCPUS"
	"$MINIVMM_REPO/build/minivmm" "$ini" 2>/tmp/fp.err &
	pid=$!
	for _ in $(seq 600); do grep -q 'userspace reached' "$ini.console" 2>/dev/null && break; sleep 0.1; done
	sleep 2
	st=$(rss_of "$pid")
	# Guest RAM is one anonymous mapping of the guest's size (a memfd, in RssShmem, only
	# with vhost-user devices): its resident part, from smaps, is the guest's.
	guest=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {big = 0} /^Size:/ {big = ($2 >= 262144)}
		/^Rss:/ && big {sum += $2} END {print sum + 0}' "/proc/$pid/smaps")
	wait "$pid"
	echo "minivmm: $st guest RAM resident=$guest"
	set -- $st
	for kv in "$@"; do eval "${kv%%:*}=${kv#*=}"; done
	sample fp_minivmm_vmrss_kib "$VmRSS"
	sample fp_minivmm_shmem_kib "$guest"
	sample fp_minivmm_beyond_guest_kib "$((VmRSS - guest))"
}
footprint_qemu() {
	local pid st
	"$QEMU" -accel kvm -M microvm -m "$MEM" -smp "$VCPUS" -nographic -no-reboot \
		-kernel "$KERNEL" -initrd /tmp/guest-s8.cpio.gz -append "$CMDLINE" </dev/null \
		>/tmp/qfp.out 2>&1 &
	pid=$!
	for _ in $(seq 900); do grep -q 'userspace reached' /tmp/qfp.out && break; sleep 0.1; done
	sleep 2
	st=$(rss_of "$pid")
	wait "$pid"
	echo "qemu microvm: $st"
	set -- $st
	for kv in "$@"; do eval "${kv%%:*}=${kv#*=}"; done
	sample fp_qemu_vmrss_kib "$VmRSS"
	sample fp_qemu_anon_kib "$RssAnon"
	sample fp_qemu_file_kib "$RssFile"
}

# Exit cost: the tiny payload with N port or MMIO writes, minus the same with none.
EXITS=${BENCH_EXITS:-20000}
payload_run() {
	local t0 t1
	printf '[vm]\nkernel = /tmp/k%s\nmemory = 32M\n[console]\nmode = none\n' "$1" >/tmp/p$1.ini
	t0=$(now)
	run_vmm 120 /tmp/p$1.ini 2>/dev/null || return 1
	t1=$(now)
	ms "$t0" "$t1"
}
exit_cost() {
	local k base t
	for k in none pio mmio; do python3 "$MINIVMM_REPO/tests/bench/payload.py" $k "$EXITS" /tmp/k$k || return 1; done
	for _ in $(seq "$RUNS"); do
		base=$(payload_run none) || return 1
		for k in pio mmio; do
			t=$(payload_run $k) || return 1
			sample "exit_${k}_us" "$(awk -v a="$base" -v b="$t" -v n="$EXITS" 'BEGIN {printf "%.2f", (b - a) * 1000 / n}')"
		done
	done
}

# DMA map of guest RAM through VFIO (NVMe 00:04.0), tiny payload guest, 4K vs 2M pages.
dma_run() { # SIZE_MIB HUGE(on|off)
	local ini=/tmp/dma.ini v p
	printf '[vm]\nkernel = /tmp/knone\nmemory = %sM\nhugepages = %s\n[console]\nmode = none\n[vfio.nvme]\nhost = 0000:00:04.0\n' \
		"$1" "$2" >"$ini"
	run_vmm 300 "$ini" 2>/tmp/dma.err
	# Newer minivmm faults guest RAM in first and logs that step on its own line
	# ("mem: guest RAM (N MiB) populated in X ms (T threads)"); older ones do not.
	p=$(sed -n 's/.*populated in \([0-9.]*\) ms.*/\1/p' /tmp/dma.err)
	v=$(sed -n 's/.*mapped for device DMA in \([0-9.]*\) ms.*/\1/p' /tmp/dma.err)
	if [ -z "$v" ]; then
		cat /tmp/dma.err
		[ -z "$p" ] || sample "dma_${1}_$2_populate_ms" NA
		sample "dma_${1}_$2_ms" NA
		return 0
	fi
	grep -E 'populated in|mapped for device DMA' /tmp/dma.err
	[ -z "$p" ] || sample "dma_${1}_$2_populate_ms" "$p"
	sample "dma_${1}_$2_ms" "$v"
}
dma() {
	local size
	bind_vfio 0000:00:04.0 || return 1
	for size in 256 1024 2048; do
		echo $((size / 2)) >/proc/sys/vm/nr_hugepages
		echo "nr_hugepages: $(cat /proc/sys/vm/nr_hugepages) (wanted $((size / 2)))"
		for _ in $(seq "$RUNS"); do
			dma_run "$size" off
			dma_run "$size" on
		done
	done
	echo 0 >/proc/sys/vm/nr_hugepages
	# The clear error when hugepages are missing.
	printf '[vm]\nkernel = /tmp/knone\nmemory = 256M\nhugepages = on\n[console]\nmode = none\n' >/tmp/nohuge.ini
	run_vmm 60 /tmp/nohuge.ini 2>&1 | sed 's/^/INFO no hugepages reserved: /' | tee -a "$S"
	return 0
}

# Block I/O, round by round so that each round's ratios pair runs made back to back: the
# NVMe 00:04.0 on the emulated host's nvme driver (native), then on vfio-pci in a minivmm
# guest (passthrough), the same with [vm] cpu_pm = on (pt-pm), then a minivmm guest with a
# virtio-blk disk (a file in the emulated host's tmpfs); the phases are io.bash's, as in
# tests/bench/run nvme. Every round adds
# one sample per key to every side (NA for a side that failed). The guests' VMM logs and
# results stay in $OUT (io-*-ROUND.*).
io_passthrough_round() { bind_vfio "$IO_BDF" && io_guest passthrough "$1"; }
block_io() {
	local i good=0 bad
	io_measure_script /tmp/io-measure.sh && io_vblk_image || return 1
	echo "INFO block I/O: native = the emulated host's nvme driver on QEMU's NVMe (64 MiB file), one poll queue; its IOMMU domain DMA (default, translated) or identity (iommu=pt); guests boot with nvme.poll_queues=1; virtio-blk = minivmm disk on a 64 MiB file in the emulated host's tmpfs" |
		tee -a "$S"
	for i in $(seq "$RUNS"); do
		echo "== block I/O round $i"
		bad=0
		check "native I/O, nvme driver" io_native "$OUT/io-native-$i.txt" DMA || bad=1
		check "native I/O, nvme driver, identity IOMMU domain" \
			io_native "$OUT/io-nativeid-$i.txt" identity || bad=1
		check "NVMe passthrough I/O in a minivmm guest" io_passthrough_round "$OUT/io-pt-$i" || bad=1
		check "the same with cpu_pm = on" io_guest passthrough "$OUT/io-ptpm-$i" --set vm.cpu_pm=on || bad=1
		check "virtio-blk I/O in a minivmm guest" io_guest virtio-blk "$OUT/io-vblk-$i" || bad=1
		io_samples native "$OUT/io-native-$i.txt" | tee -a "$S"
		io_samples nativeid "$OUT/io-nativeid-$i.txt" | tee -a "$S"
		io_samples pt "$OUT/io-pt-$i.txt" "$OUT/io-pt-$i.err" | tee -a "$S"
		io_samples ptpm "$OUT/io-ptpm-$i.txt" "$OUT/io-ptpm-$i.err" | tee -a "$S"
		io_samples vblk "$OUT/io-vblk-$i.txt" "$OUT/io-vblk-$i.err" | tee -a "$S"
		[ "$bad" = 1 ] || good=$((good + 1))
	done
	echo "block I/O: $good of $RUNS rounds complete"
	[ "$good" -gt 0 ]
}

l1() {
	: >"$S"
	initrd_sleep 0 && initrd_sleep 8 || return 1
	"$QEMU" --version | head -1 | sed 's/^/INFO qemu /' | tee -a "$S"
	echo "INFO kernel $(uname -r) nproc $(nproc) mem_mib $(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024))" | tee -a "$S"
	# Warm the caches (9p) once; not counted.
	S=/dev/null boot_minivmm >/dev/null 2>&1
	"$QEMU" --version >/dev/null
	for i in $(seq "$RUNS"); do
		echo "== boot round $i"
		check "minivmm boot" boot_minivmm || return 1
		check "QEMU microvm boot" boot_qemu microvm
		check "QEMU q35 boot" boot_qemu q35
	done
	for _ in $(seq "$RUNS"); do
		check "minivmm footprint" footprint_minivmm
		check "QEMU footprint" footprint_qemu
	done
	check "exit cost" exit_cost
	check "DMA map" dma
	check "block I/O: native, NVMe passthrough, virtio-blk" block_io
	return 0
}

# Here, after QEMU exits: sizes, then the table and the CSV.
l0_after() {
	local csv=build/bench/results.csv
	mkdir -p build/bench
	strip -o build/bench/minivmm.stripped build/minivmm
	{
		cat "$OUT/samples.txt"
		echo "SAMPLE size_minivmm_stripped_kib $(($(stat -c %s build/bench/minivmm.stripped) / 1024))"
		echo "SAMPLE size_qemu_kib $(($(stat -c %s /usr/bin/qemu-system-x86_64) / 1024))"
	} >"$OUT/all.txt"
	rm -f build/bench/results.png
	python3 tests/bench/table.py "$OUT/all.txt" "$csv" build/bench/results.png >"$OUT/bench.md"
	echo "table in $OUT/bench.md, CSV in $csv"
	# tests/bench/run prints these after the table.
	{
		echo "CSV: $PWD/$csv"
		if [ -s build/bench/results.png ]; then
			echo "chart: $PWD/build/bench/results.png"
		else
			echo "chart: not drawn (see $OUT/l0-after.log)"
		fi
	} >"$OUT/files.txt"
}
