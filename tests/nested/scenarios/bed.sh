# The test bed itself: the emulated host has KVM, VFIO (container and cdev), iommufd
# and IOMMU groups, its devices can be bound to vfio-pci, and a tiny KVM guest runs.
# timeout: 240
# bridge: yes

l1() {
	check "/dev/kvm exists" test -c /dev/kvm &&
	check "/dev/vfio/vfio exists" test -c /dev/vfio/vfio &&
	check "/dev/iommu exists" test -c /dev/iommu &&
	check "IOMMU groups exist" test -n "$(ls /sys/kernel/iommu_groups)" &&
	check "NVMe 00:04.0 present" test -e /sys/bus/pci/devices/0000:00:04.0 &&
	check "e1000e 00:05.0 present" test -e /sys/bus/pci/devices/0000:00:05.0 &&
	check "the two edu devices behind the bridge share a group" test \
		"$(readlink /sys/bus/pci/devices/0000:01:01.0/iommu_group)" = \
		"$(readlink /sys/bus/pci/devices/0000:01:02.0/iommu_group)" &&
	check "NVMe binds to vfio-pci" bind_vfio 0000:00:04.0 &&
	check "its group node appears" test -c "/dev/vfio/$(basename "$(readlink \
		/sys/bus/pci/devices/0000:00:04.0/iommu_group)")" &&
	check "its cdev appears" test -n "$(ls /sys/bus/pci/devices/0000:00:04.0/vfio-dev/)" &&
	check "a tiny KVM guest runs" env CK_RUN_SUITE=kvm build/check_minivmm
}
