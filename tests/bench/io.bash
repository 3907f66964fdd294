# shellcheck shell=bash
# Block I/O phases shared by the benchmark scenarios nvme.sh and side-by-side.sh (sourced
# by both, in the emulated host for l1() and here for l0_after(); not a scenario itself,
# hence not named *.sh). The same phases run on every side:
#   - sequential write, then read: 8 passes over the first 32 MiB (256 MiB), busybox dd,
#     1 MiB blocks, O_DIRECT (one pass alone takes 25-50 ms: too short to time);
#   - 4 KiB random read, then write, over the first 64 MiB: build/randio, O_DIRECT, 10 s,
#     one request in flight, completion by interrupt;
#   - 4 KiB random read as above, but polled: io_uring with IORING_SETUP_IOPOLL on the
#     driver's poll queue (nvme.poll_queues=1), no interrupt per request. Where the
#     device has no poll queue (our virtio-blk has one queue) it is reported skipped.
# Sides: "native" (the emulated host's own nvme driver on the NVMe at $IO_BDF, with
# IOMMU translation as Linux sets it up by default, or without: io_native_prepare),
# "passthrough" (that NVMe on vfio-pci in a minivmm guest, [vfio.nvme]) and "virtio-blk"
# (a minivmm guest with a file-backed disk in the emulated host's tmpfs).

IO_BDF=0000:00:04.0
IO_VBLK_IMG=/tmp/io-vblk.img

# io_measure_script FILE: writes the measuring script, run by busybox sh on both sides
# so that both use the same dd and the same clock ($EPOCHREALTIME: busybox's date has no
# %N, and /proc/uptime's 10 ms are too coarse for a 32 MiB dd). Results go to a file
# printed at the end: console output costs the guest port I/O exits, which must not land
# inside a measured phase. Each phase is bracketed by two stats marks when MARK is 1.
# Usage of the script: measure.sh DEVICE RANDIO MARK(0|1) RESULTS
# Output lines:
#   BENCH seq_DIR mib 256 start S end E marks A B
#   BENCH rand_DIR ops N seconds S iops X marks A B
#   BENCH rand_read_poll ops N seconds S iops X marks A B (or BENCH rand_read_poll skipped)
io_measure_script() {
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
	for pass in 1 2 3 4 5 6 7 8; do
		# shellcheck disable=SC2086
		busybox dd $io bs=1M count=32 2>/dev/null || echo "BENCH error seq_$dir pass $pass" >>"$res"
	done
	e=$EPOCHREALTIME; m
	echo "BENCH seq_$dir mib 256 start $s end $e marks $((n - 1)) $n" >>"$res"
done
for dir in read write; do
	m; r=$("$randio" "$dev" $dir 10 2>&1); m
	echo "BENCH rand_$dir $r marks $((n - 1)) $n" >>"$res"
done
if [ "$(cat "/sys/block/${dev#/dev/}/queue/io_poll" 2>/dev/null)" = 1 ]; then
	m; r=$("$randio" "$dev" read 10 4096 1 poll 2>&1); m
	echo "BENCH rand_read_poll $r marks $((n - 1)) $n" >>"$res"
else
	echo "BENCH rand_read_poll skipped" >>"$res"
fi
cat "$res"
M
}

# io_complete RESULTS: all five phases ran (the polled one possibly skipped), and randio
# reported every time it ran.
io_complete() {
	! grep -q "BENCH error" "$1" && [ "$(grep -c '^BENCH' "$1")" = 5 ] &&
		[ "$(grep -c '^BENCH rand_.* iops ' "$1")" -ge 2 ] &&
		[ "$(grep -c '^BENCH rand_.* iops \|^BENCH rand_read_poll skipped' "$1")" = 3 ]
}

# io_nvme_dev: the emulated host's NVMe namespace once its nvme driver has it (the only
# NVMe there; waits up to 30 s, probing is asynchronous and the host is emulated).
io_nvme_dev() {
	local d
	for _ in $(seq 300); do
		for d in /dev/nvme*n1; do
			[ -b "$d" ] && { echo "$d"; return 0; }
		done
		sleep 0.1
	done
	echo "no /dev/nvme*n1" >&2
	return 1
}

# io_bind_nvme: gives $IO_BDF back to the emulated host's nvme driver (after bind_vfio
# from tests/nested/lib.sh), the same way: driver_override, then drivers_probe.
io_bind_nvme() {
	local dev=/sys/bus/pci/devices/$IO_BDF
	[ "$(basename "$(readlink "$dev/driver")")" = nvme ] && return 0
	if [ -e "$dev/driver" ]; then echo "$IO_BDF" >"$dev/driver/unbind"; fi
	echo nvme >"$dev/driver_override"
	echo "$IO_BDF" >/sys/bus/pci/drivers_probe
	for _ in $(seq 100); do
		[ "$(basename "$(readlink "$dev/driver")")" = nvme ] && return 0
		sleep 0.1
	done
	echo "io_bind_nvme: $IO_BDF did not bind to nvme"
	return 1
}

# io_native_prepare DMA|identity: $IO_BDF on the emulated host's nvme driver with one
# poll queue for the polled phase (nvme.poll_queues, read when the driver probes) and
# its IOMMU group's default domain of that type (sysfs iommu_groups/N/type): DMA is
# Linux's default with intel_iommu=on, every request mapped and unmapped in the IOMMU;
# identity is iommu=pt for this device, no translation at all. vfio-pci brings its own
# domain (translated: guest physical to host) whatever this says.
io_native_prepare() {
	local dev=/sys/bus/pci/devices/$IO_BDF g
	g=$(basename "$(readlink "$dev/iommu_group")")
	echo 1 >/sys/module/nvme/parameters/poll_queues || return 1
	if [ -e "$dev/driver" ]; then echo "$IO_BDF" >"$dev/driver/unbind"; fi
	echo "$1" >"/sys/kernel/iommu_groups/$g/type" || return 1
	io_bind_nvme
}

# io_native RESULTS [DMA|identity]: the phases in the emulated host on its nvme driver,
# its IOMMU domain of that type (default DMA). /tmp/io-measure.sh must exist
# (io_measure_script).
io_native() {
	local dev
	io_native_prepare "${2:-DMA}" || return 1
	dev=$(io_nvme_dev) || return 1
	busybox sh /tmp/io-measure.sh "$dev" "$MINIVMM_REPO/build/randio" 0 /tmp/io-native.res |
		tee "$1"
	io_complete "$1"
}

# io_guest passthrough|virtio-blk PREFIX [--set K=V...]: the phases in a minivmm guest
# (256 MiB, one vCPU, nvme.poll_queues=1) with the NVMe $IO_BDF passed through (it must
# be on vfio-pci) or with $IO_VBLK_IMG as a virtio-blk disk (io_vblk_image), under
# MINIVMM_STATS=1 with a stats mark around each phase; further arguments go to minivmm.
# The VMM's log goes to PREFIX.err, the results to PREFIX.txt.
io_guest() {
	local kind=$1 p=$2 ini=/tmp/io-$1.ini dev rc
	shift 2
	case $kind in
	passthrough) dev=/dev/nvme0n1 ;;
	virtio-blk) dev=/dev/vda ;;
	*) echo "io_guest: unknown kind $kind"; return 1 ;;
	esac
	rm -rf /tmp/io-extra && mkdir -p /tmp/io-extra
	cat >/tmp/io-extra/scenario <<G
#!/bin/sh
for i in \$(seq 100); do [ -b $dev ] && break; sleep 0.1; done
[ -b $dev ] || { echo "BENCH error no $dev"; exit 1; }
sh /measure.sh $dev /randio 1 /tmp/bench.res
G
	chmod +x /tmp/io-extra/scenario
	cp /tmp/io-measure.sh /tmp/io-extra/measure.sh
	cp "$MINIVMM_REPO/build/randio" /tmp/io-extra/randio
	cp "$GUEST_INITRD" "/tmp/io-$kind.cpio.gz"
	(cd /tmp/io-extra && printf 'scenario\nmeasure.sh\nrandio\n' | cpio -o -H newc --quiet | gzip) \
		>>"/tmp/io-$kind.cpio.gz"
	vm_ini "$ini" "initrd=/tmp/io-$kind.cpio.gz" "vcpus=1" \
		"cmdline=console=ttyS0 panic=-1 quiet nvme.poll_queues=1"
	case $kind in
	passthrough) printf '[vfio.nvme]\nhost = %s\n' "$IO_BDF" >>"$ini" ;;
	virtio-blk) printf '[disk.bench]\npath = %s\n' "$IO_VBLK_IMG" >>"$ini" ;;
	esac
	rm -f "$ini.console"
	MINIVMM_STATS=1 run_vmm 600 "$@" "$ini" 2>"$p.err"
	rc=$?
	cat "$p.err"
	grep BENCH "$ini.console" | tr -d '\r' | tee "$p.txt"
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	io_complete "$p.txt" &&
		[ "$(grep -c 'stats: mark' "$p.err")" = $((2 * $(grep -c ' marks ' "$p.txt"))) ]
}

# io_vblk_image: the virtio-blk guest's disk, 64 MiB like the NVMe's backing file, all
# of it allocated (written, not sparse) in the emulated host's /tmp (tmpfs).
io_vblk_image() {
	dd if=/dev/zero of="$IO_VBLK_IMG" bs=1M count=64 status=none
}

# io_samples SIDE RESULTS [VMM_LOG]: the figures of one side's run as sample lines, one
# for every key even when the run failed (value NA), so that round i of each side stays
# the i-th sample:
#   SAMPLE io_SIDE_PHASE VALUE             MiB/s (seq_write, seq_read) or IOPS (rand_*);
#                                          NA for rand_read_poll where it was skipped
# and with VMM_LOG (the guest's stats marks), per phase:
#   SAMPLE io_SIDE_PHASE_ios N             I/Os: MiB for dd (1 MiB blocks), ops for randio
#   SAMPLE io_SIDE_PHASE_exits_KIND N      KIND io, mmio, all: VMM exits between the
#                                          phase's two marks, less the closing mark's own
#                                          port write (io and all); KIND kvm: every exit
#                                          KVM counted (its own "exits", the stats
#                                          mark's included), whether or not it reached
#                                          the VMM
io_samples() {
	awk -v side="$1" -v res="$2" -v vmmlog="${3:-}" 'BEGIN {
	while ((getline line < res) > 0) {
		n = split(line, f, " ")
		if (f[1] != "BENCH" || f[2] == "error" || f[n - 2] != "marks")
			continue
		k = f[2]
		if (k ~ /^seq_/ && f[3] == "mib" && f[8] > f[6]) {
			val[k] = sprintf("%.1f", f[4] / (f[8] - f[6]))
			ios[k] = f[4]
		} else if (k ~ /^rand_/ && f[3] == "ops" && f[7] == "iops") {
			val[k] = f[8]
			ios[k] = f[4]
		}
		ma[k] = f[n - 1]; mb[k] = f[n]
	}
	# minivmm: stats: mark N: exits io=A mmio=B all=C kvm: exits=D ...
	if (vmmlog != "")
		while ((getline line < vmmlog) > 0)
			if (match(line, /stats: mark [0-9]+: exits io=[0-9]+ mmio=[0-9]+ all=[0-9]+/)) {
				split(substr(line, RSTART, RLENGTH), f, /[ :=]+/)
				ex[f[3], "io"] = f[6]; ex[f[3], "mmio"] = f[8]; ex[f[3], "all"] = f[10]
				if (match(line, /kvm: exits=[0-9]+/))
					ex[f[3], "kvm"] = substr(line, RSTART + 11, RLENGTH - 11)
			}
	split("seq_write seq_read rand_read rand_write rand_read_poll", phases, " ")
	for (i = 1; i <= 5; i++) {
		k = phases[i]
		printf "SAMPLE io_%s_%s %s\n", side, k, (k in val) ? val[k] : "NA"
		if (vmmlog == "")
			continue
		ok = (k in val) && ((ma[k], "all") in ex) && ((mb[k], "all") in ex)
		printf "SAMPLE io_%s_%s_ios %s\n", side, k, ok ? ios[k] : "NA"
		printf "SAMPLE io_%s_%s_exits_io %s\n", side, k,
			ok ? ex[mb[k], "io"] - ex[ma[k], "io"] - 1 : "NA"
		printf "SAMPLE io_%s_%s_exits_mmio %s\n", side, k,
			ok ? ex[mb[k], "mmio"] - ex[ma[k], "mmio"] : "NA"
		printf "SAMPLE io_%s_%s_exits_all %s\n", side, k,
			ok ? ex[mb[k], "all"] - ex[ma[k], "all"] - 1 : "NA"
		ok = ok && ((ma[k], "kvm") in ex) && ((mb[k], "kvm") in ex)
		printf "SAMPLE io_%s_%s_exits_kvm %s\n", side, k,
			ok ? ex[mb[k], "kvm"] - ex[ma[k], "kvm"] : "NA"
	}
}'
}
