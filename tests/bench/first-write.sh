# The emulated host's cost of a first write into fresh memory, before any guest ran and
# after guests (bzImage, then vmlinux twice) ran in it: what the vmlinux boot's copy of
# its text segment pays in the boot-cycle benchmark (README, Benchmarks). Not minivmm's
# cost: on a host running on hardware there is none of it.
# timeout: 600

guest_script() {
	printf '#!/bin/sh\necho GUEST up\n' >/tmp/fw-guest.sh
	guest_initrd /tmp/fw-guest.sh /tmp/fw.cpio.gz
}

measure() { "$MINIVMM_REPO/build/firstwrite" "$1" | tee -a "$OUT/bench.txt.raw" | sed 's/^/    /'; }

boot() {
	KERNEL=$2 vm_ini "/tmp/fw-$1.ini" "initrd=/tmp/fw.cpio.gz"
	run_vmm 200 "/tmp/fw-$1.ini" 2>"/tmp/fw-$1.err" || { cat "/tmp/fw-$1.err"; return 1; }
	grep "timeline" "/tmp/fw-$1.err" | sed 's/^/    /'
}

# One "BENCH" line per measurement, for tests/bench/run's table.
table() {
	awk '{n = $2 "_" $3 "_" $4; gsub(/-/, "_", n); print "BENCH " n " " $5 " ms"}' \
		"$OUT/bench.txt.raw" >"$OUT/bench.txt"
}

l1() {
	rm -f "$OUT/bench.txt.raw"
	check "guest initramfs" guest_script &&
		check "before any guest" measure before &&
		check "a bzImage guest" boot bz "$KERNEL" &&
		check "after it" measure after-bzImage &&
		check "a vmlinux guest" boot vml "$VMLINUX" &&
		check "after it" measure after-vmlinux &&
		check "the vmlinux guest again" boot vml2 "$VMLINUX" &&
		check "after it" measure after-vmlinux-2 &&
		check "the table" table
}
