# The demo (make demo) inside the emulated host: minivmm boots configs/default.ini with
# its console on this terminal, the emulated host's NVMe (00:04.0) passed through
# (the guest's /dev/nvme0n1) and a virtio disk (/dev/vda). Not a test: run by
# tests/nested/run --interactive.
# timeout: 3600

l1() {
	bind_vfio 0000:00:04.0 || echo "demo: the NVMe could not be bound to vfio-pci; going on without it"
	truncate -s 64M /tmp/data.img
	local set=(--set disk.data.path=/tmp/data.img)
	[ "$(basename "$(readlink /sys/bus/pci/devices/0000:00:04.0/driver)")" = vfio-pci ] &&
		set+=(--set vfio.nvme.host=0000:00:04.0)
	echo "demo: the guest has the emulated host's NVMe (passthrough: /dev/nvme0n1) and a"
	echo "demo: virtio disk (/dev/vda); the control socket is /tmp/minivmm-demo.sock here"
	"$MINIVMM_REPO/build/minivmm" "${set[@]}" "$MINIVMM_REPO/configs/default.ini"
}
