# The iommufd backend ([vfio] backend = iommufd: /dev/iommu, one IOAS, devices opened
# through /dev/vfio/devices/vfioN): the NVMe scenario (vfio-nvme.sh: data written by
# the guest lands exactly in the emulated host's backing file; a guest reboot) and the
# e1000e scenario in MSI-X mode (vfio-e1000e.sh: DHCP and TCP, bind = auto and the
# device given back) run unchanged with VFIO_BACKEND=iommufd, and minivmm's log must
# say iommufd did it. Then backend = auto picks iommufd here (the kernel has iommufd
# and device cdevs), and a device whose cdev cannot be seen is refused with
# backend = iommufd and falls back to legacy with auto.
# timeout: 900

here=$(dirname "${BASH_SOURCE[0]}")
VFIO_BACKEND=iommufd
# guest_script, run_nvme, run_reboot, dma_time_logged, back_to_vfio and l0_after.
. "$here/vfio-nvme.sh"
# The runner calls l0_after only for a file that defines it, so say it here: the
# emulated host's NVMe backing file holds exactly what the guest wrote.
eval "nvme_$(declare -f l0_after)"
l0_after() {
	nvme_l0_after
}

e1000e_msix() {
	(
		. "$here/vfio-e1000e.sh" || exit 1
		guest_script &&
			net_mode msix "" "PCI-MSIX-.*eth0-rx-0" &&
			given_back msix
	)
}

# start_vm INI ERR: runs a VM until its VFIO set-up is done (the DMA map is logged),
# then stops it with SIGTERM; its exit status must be 143 (stopped by SIGTERM).
start_vm() {
	local pid rc i
	"$MINIVMM_REPO/build/minivmm" "$1" 2>"$2" &
	pid=$!
	for i in $(seq 600); do
		grep -q "mapped for device DMA" "$2" && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM $pid 2>/dev/null
	wait $pid
	rc=$?
	sed 's/^/    /' "$2"
	[ "$rc" = 143 ] || { echo "exit status $rc, expected 143"; return 1; }
}

nvme_ini() {
	local ini=$1
	vm_ini "$ini" "initrd=$GUEST_INITRD"
	shift
	printf '%s\n' "$@" "[vfio.nvme]" "host = 0000:00:04.0" >>"$ini"
}

auto_picks_iommufd() {
	local ini=/tmp/auto.ini
	nvme_ini "$ini"
	start_vm "$ini" /tmp/auto.err &&
		grep -Fxq "minivmm: vfio: IOMMU backend iommufd (auto: /dev/iommu and a VFIO device cdev for every device)" /tmp/auto.err
}

# The kernel here has device cdevs; hiding the device's vfio-dev folder under an empty
# tmpfs makes it look like one without.
hide_cdev() {
	mount -t tmpfs none /sys/bus/pci/devices/0000:00:04.0/vfio-dev
}

unhide_cdev() {
	umount /sys/bus/pci/devices/0000:00:04.0/vfio-dev
}

iommufd_refused() {
	local ini=/tmp/nocdev.ini rc
	nvme_ini "$ini" "[vfio]" "backend = iommufd"
	run_vmm 60 "$ini" 2>/tmp/nocdev.err
	rc=$?
	sed 's/^/    /' /tmp/nocdev.err
	[ "$rc" = 2 ] || { echo "exit status $rc, expected 2"; return 1; }
	grep -Fxq "minivmm: [vfio] backend = iommufd, but 0000:00:04.0 has no VFIO device node (/sys/bus/pci/devices/0000:00:04.0/vfio-dev is empty); use backend = legacy" /tmp/nocdev.err
}

auto_falls_back() {
	local ini=/tmp/fallback.ini
	nvme_ini "$ini" "[vfio]" "backend = auto"
	start_vm "$ini" /tmp/fallback.err &&
		grep -Fxq "minivmm: vfio: IOMMU backend legacy (auto: 0000:00:04.0 has no VFIO device cdev)" /tmp/fallback.err &&
		grep -q "mapped for device DMA in [0-9.]* ms (legacy)" /tmp/fallback.err
}

l1() {
	guest_script &&
	check "NVMe 00:04.0 binds to vfio-pci" bind_vfio 0000:00:04.0 &&
	check "/dev/iommu and 00:04.0's cdev exist" test -c /dev/iommu -a -c "/dev/vfio/devices/$(ls /sys/bus/pci/devices/0000:00:04.0/vfio-dev)" &&
	check "iommufd: the guest's nvme driver writes and reads back 10 MiB at 4 offsets" run_nvme &&
	check "iommufd: the DMA map time is logged, with the backend" dma_time_logged &&
	check "iommufd: a guest reboot recreates the VM; both boots read the same data" run_reboot &&
	check "iommufd: the device is still on vfio-pci afterwards" back_to_vfio &&
	check "iommufd: e1000e in MSI-X mode: DHCP lease, TCP exchange, given back" e1000e_msix &&
	check "auto picks iommufd where the kernel has it" auto_picks_iommufd &&
	check "(a device whose vfio-dev folder is hidden)" hide_cdev &&
	check "backend = iommufd on a device without a cdev is refused" iommufd_refused &&
	check "auto falls back to legacy for it" auto_falls_back &&
	check "(vfio-dev visible again)" unhide_cdev
}
