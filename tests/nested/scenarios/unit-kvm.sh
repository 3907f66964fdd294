# The unit tests that need /dev/kvm (tiny payload guests: console, power-off, reboot,
# seccomp kills, snapshot and restore, migration streams, vCPU lifecycle, CPUID), run in
# the emulated host, which has KVM; and those that need /dev/iommu with the kernel's mock
# IOMMU (iommufd_dirty: IOMMU dirty tracking, CONFIG_IOMMUFD_TEST in the test bed's
# kernel). On a machine without them, such as CI's, make check-unit skips them with that
# reason; here they must run: a test that fails, or one that skips for want of /dev/kvm,
# /dev/iommu or the mock IOMMU, fails the scenario (skips for other reasons, e.g. no
# device bound to vfio-pci, are listed). Needs build/check_minivmm (make check builds it
# first; alone: make build/check_minivmm). The emulated host has no Intel IOMMU here
# (# iommu: none): the mock IOMMU only works as the only one (tests/nested/run says why),
# and none of these tests passes a real device through.
# timeout: 900
# iommu: none

SUITES="api console cpuid iommufd_dirty kvm lifecycle migrate snapshot state vfio_cfg vhost_user vmm vmm_reboot"

l1() {
	local bin=$MINIVMM_REPO/build/check_minivmm s rc bad=0 ran=0
	[ -x "$bin" ] || { echo "no $bin: run make build/check_minivmm first"; return 1; }
	[ -c /dev/kvm ] || { echo "the emulated host has no /dev/kvm"; return 1; }
	# The migration tests listen on 127.0.0.1; the emulated host's loopback starts down.
	ip link set lo up || return 1
	mkdir -p /tmp/unit && cd /tmp/unit || return 1
	for s in $SUITES; do
		MINIVMM_BIN=$MINIVMM_REPO/build/minivmm MINIVMM_CTL=$MINIVMM_REPO/build/minivmm-ctl \
			CK_RUN_SUITE=$s timeout 300 "$bin" >"$OUT/unit-$s.log" 2>&1
		rc=$?
		echo "suite $s: $(grep -E '^[0-9]+%: Checks' "$OUT/unit-$s.log" || echo "no summary (exit $rc)")"
		grep -E '^SKIP' "$OUT/unit-$s.log" | sed 's/^/    /'
		grep -E ':[EF]:' "$OUT/unit-$s.log" | sed 's/^/    /'
		[ "$rc" = 0 ] && grep -qE '^100%: Checks: [1-9]' "$OUT/unit-$s.log" || bad=1
		if grep -E '^SKIP' "$OUT/unit-$s.log" | grep -q '/dev/kvm'; then
			echo "    a test skipped for want of /dev/kvm, which is here"
			bad=1
		fi
		if grep -E '^SKIP' "$OUT/unit-$s.log" | grep -qE '/dev/iommu|mock IOMMU'; then
			echo "    a test skipped for want of /dev/iommu or the mock IOMMU" \
				"(CONFIG_IOMMUFD_TEST), which the test bed's kernel has"
			bad=1
		fi
		# What the mock IOMMU test saw: HWPTs, the pages, the refusal.
		grep -E '^(dirty_pages_tracked|untracked_device_falls_back):' "$OUT/unit-$s.log" |
			sed 's/^/    /'
		n=$(sed -n "s/^[0-9]*%: Checks: \([0-9]*\).*/\1/p" "$OUT/unit-$s.log")
		ran=$((ran + ${n:-0}))
	done
	echo "$ran tests run in ${SUITES// /, }"
	check "the unit tests that need KVM or the mock IOMMU pass in the emulated host" test "$bad" = 0
}
