# The arm64 test bed, run by this runner beside the x86 scenarios: not an x86 emulated
# host but tests/nested/arm64-smoke.sh, which boots an emulated arm64 host (QEMU virt,
# GICv3 + ITS, SMMUv3, at EL2 so that its KVM works; the test bed's own arm64 kernel)
# and runs the cross-built build-arm64/minivmm in it: power-off and reboot with 1 and 2
# vCPUs and the device tree, virtio console/blk/net, NVMe passed through (MSI-X via the
# ITS, INTx, iommufd), e1000e with DHCP and TCP, a non-viable group, an mtty mdev with
# privileges dropped, hotplug through the API, snapshot, restore and live migration of
# a 2-vCPU guest (vCPU, vGIC and ITS state), seccomp. Its header lists each step and
# what is checked; its log is build/nested/arm64/arm64-smoke.log. make check-arm64
# runs it alone.
# host: arm64
# timeout: 900
