# The device lifecycle with real passed-through functions: the unit test
# lifecycle/remove_add_vfio runs a tiny KVM guest with the NVMe (00:04.0) passed through
# and removes and re-adds that vfio-pci function 100 times while the guest runs, its
# MSI-X vector programmed each time; the open fds, memslots, GSI routes, threads and bus
# ranges must be back where they were, and the function back at its slot and BARs.
# Through the legacy container and through iommufd, then the e1000e (00:05.0), whose
# BARs and MSI-X differ.
# timeout: 900

# vfio_cycle BDF BACKEND: the unit test on that device; it must run, not skip.
vfio_cycle() {
	local out
	out=$(env CK_RUN_SUITE=lifecycle CK_RUN_CASE=remove_add_vfio MINIVMM_TEST_VFIO="$1" \
		MINIVMM_TEST_VFIO_BACKEND="$2" build/check_minivmm 2>&1)
	echo "$out" | grep -E '^[0-9]+%|:[EF]:|SKIP|IOMMU backend' | sed 's/^/    /'
	echo "$out" | grep -q "vfio: IOMMU backend $2" &&
		echo "$out" | grep -q '^100%: Checks: 1, Failures: 0, Errors: 0' &&
		! echo "$out" | grep -q SKIP
}

l1() {
	check "NVMe binds to vfio-pci" bind_vfio 0000:00:04.0 &&
		check "e1000e binds to vfio-pci" bind_vfio 0000:00:05.0 &&
		check "NVMe removed and added 100 times (legacy)" vfio_cycle 0000:00:04.0 legacy &&
		check "NVMe removed and added 100 times (iommufd)" vfio_cycle 0000:00:04.0 iommufd &&
		check "e1000e removed and added 100 times (legacy)" vfio_cycle 0000:00:05.0 legacy
}
