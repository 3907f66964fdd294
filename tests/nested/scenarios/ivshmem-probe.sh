# The test bed's GPU-sized BARs: two ivshmem-plain devices whose BAR2 is 64 GiB, backed
# on this machine by sparse files. The emulated host must assign both BARs, give each
# device a viable IOMMU group of its own, and hand them to vfio-pci; a pattern written
# through device 1's sysfs resource2 (at 0, 32 GiB and the last page) must show through
# VFIO's mmap of the same BAR and, after QEMU exits, in the backing file, which must
# still be sparse (nothing allocated but the huge pages around the pages written).
# The log shows the emulated host's 64-bit window, BAR addresses and IOMMU groups.
# timeout: 240
# ivshmem: 2

# The offsets written, and the pattern at each (also read by l0_after; the python
# helpers below write and expect the same bytes).
ivshmem_offsets=(0 $((32 << 30)) $(((64 << 30) - 4096)))
ivshmem_pattern() { printf 'minivmm-ivshmem-probe@%x' "$1"; }

# ivshmem_devices: the ivshmem-plain functions (vendor 0x1af4, device 0x1110), in order.
ivshmem_devices() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ] &&
			basename "$d"
	done
}

# bar2_size BDF: BAR2's size in bytes from sysfs (its third resource line).
bar2_size() {
	local start end
	# A here-string, not a process substitution: the emulated host has no /dev/fd.
	read -r start end _ <<<"$(sed -n 3p "/sys/bus/pci/devices/$1/resource")"
	echo $((end - start + 1))
}

# show_device BDF: what the emulated host gave the device, for the log.
show_device() {
	local dev=/sys/bus/pci/devices/$1 group
	group=$(basename "$(readlink "$dev/iommu_group")")
	echo "    $1: BAR0 $(sed -n 1p "$dev/resource" | cut -d' ' -f1,2)," \
		"BAR2 $(sed -n 3p "$dev/resource" | cut -d' ' -f1,2)," \
		"IOMMU group $group: $(ls "/sys/kernel/iommu_groups/$group/devices" | tr '\n' ' ')"
}

# alone_in_group BDF: no other device shares its IOMMU group (so it is viable on its own).
alone_in_group() {
	local group
	group=$(basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")")
	[ "$(ls "/sys/kernel/iommu_groups/$group/devices")" = "$1" ]
}

# write_pattern BDF: the pattern at each offset through the sysfs resource2 file (memory
# BARs' resource files do not take write(), only mmap), each read back.
write_pattern() {
	python3 - "/sys/bus/pci/devices/$1/resource2" "${ivshmem_offsets[@]}" <<'P'
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_SYNC)
for off in map(int, sys.argv[2:]):
    pat = b"minivmm-ivshmem-probe@%x" % off
    m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=off)
    m[:len(pat)] = pat
    if m[:len(pat)] != pat:
        sys.exit("read back %r at %#x" % (m[:len(pat)], off))
    m.close()
P
}

# vfio_bar2 BDF [OFFSET...]: through the VFIO group API (container, type1 IOMMU, device
# fd) the group is viable, BAR2's region is 64 GiB and mmap-able, and the pattern is at
# each OFFSET of it.
vfio_bar2() {
	local group bdf=$1
	shift
	group=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group")")
	python3 - "$group" "$bdf" "$@" <<'P'
import fcntl, mmap, os, struct, sys
group, bdf, offs = sys.argv[1], sys.argv[2], map(int, sys.argv[3:])
# <linux/vfio.h>: _IO(';', 100 + n)
SET_IOMMU, GROUP_GET_STATUS, GROUP_SET_CONTAINER, GROUP_GET_DEVICE_FD, \
    DEVICE_GET_REGION_INFO = 0x3b66, 0x3b67, 0x3b68, 0x3b6a, 0x3b6c
TYPE1v2, VIABLE, REGION_MMAP = 3, 1, 4
container = os.open("/dev/vfio/vfio", os.O_RDWR)
g = os.open("/dev/vfio/" + group, os.O_RDWR)
_, flags = struct.unpack("II", fcntl.ioctl(g, GROUP_GET_STATUS, struct.pack("II", 8, 0)))
if not flags & VIABLE:
    sys.exit("group %s not viable" % group)
fcntl.ioctl(g, GROUP_SET_CONTAINER, struct.pack("i", container))
fcntl.ioctl(container, SET_IOMMU, TYPE1v2)
# A mutable buffer, so that ioctl() returns the call's result (the fd), not the buffer.
dev = fcntl.ioctl(g, GROUP_GET_DEVICE_FD, bytearray(bdf.encode() + b"\0"), True)
info = fcntl.ioctl(dev, DEVICE_GET_REGION_INFO, struct.pack("IIIIQQ", 32, 0, 2, 0, 0, 0))
_, flags, _, _, size, base = struct.unpack("IIIIQQ", info)
print("    vfio: group %s viable, BAR2 region size %#x flags %#x" % (group, size, flags))
if size != 64 << 30 or not flags & REGION_MMAP:
    sys.exit("BAR2 region: size %#x flags %#x" % (size, flags))
for off in offs:
    pat = b"minivmm-ivshmem-probe@%x" % off
    m = mmap.mmap(dev, 4096, mmap.MAP_SHARED, mmap.PROT_READ, offset=base + off)
    if m[:len(pat)] != pat:
        sys.exit("vfio read %r at %#x" % (m[:len(pat)], off))
    m.close()
P
}

l1() {
	local devs d
	# shellcheck disable=SC2207 # PCI addresses: no blanks, no wildcards
	devs=($(ivshmem_devices))
	echo "    the emulated host's physical address width, 64-bit window and BAR assignment:"
	grep -m1 'address sizes' /proc/cpuinfo | sed 's/^/    /'
	dmesg | grep -E 'root bus resource \[mem 0x[0-9a-f]{9,}|0000:00:0[89].0: BAR 2' | sed 's/^/    /'
	for d in "${devs[@]}"; do show_device "$d"; done
	check "two ivshmem-plain devices (1af4:1110)" test "${#devs[@]}" = 2 || return 1
	for d in "${devs[@]}"; do
		check "$d: BAR2 is 64 GiB" test "$(bar2_size "$d")" = $((64 << 30)) &&
			check "$d: alone in its IOMMU group" alone_in_group "$d" || return 1
	done
	check "${devs[0]}: pattern written through resource2 at 0, 32 GiB, 64 GiB - 4 KiB" \
		write_pattern "${devs[0]}" &&
	check "${devs[0]} binds to vfio-pci" bind_vfio "${devs[0]}" &&
	check "${devs[1]} binds to vfio-pci" bind_vfio "${devs[1]}" &&
	check "${devs[0]}: the pattern reads back through VFIO's mmap of BAR2" \
		vfio_bar2 "${devs[0]}" "${ivshmem_offsets[@]}" &&
	check "${devs[1]}: its VFIO group is viable and BAR2 is 64 GiB" vfio_bar2 "${devs[1]}"
}

# Here, after QEMU exited: the pattern is in ivshmem-1.mem at each offset, and the
# files are still sparse.
l0_after() {
	local off got kib1 kib2
	for off in "${ivshmem_offsets[@]}"; do
		got=$(dd if="$OUT/ivshmem-1.mem" bs=4096 skip=$((off / 4096)) count=1 status=none |
			head -c "$(ivshmem_pattern "$off" | wc -c)")
		[ "$got" = "$(ivshmem_pattern "$off")" ] || { echo "at $off: '$got'"; return 1; }
		echo "ok: ivshmem-1.mem has the pattern at $off"
	done
	# QEMU advises huge pages on all its RAM (ivshmem's BAR included) and this kernel's
	# ext4 takes that as 2 MiB folios for the file, so each page written costs 2 MiB on
	# disk: at most 6 MiB for the three, nothing for the device never written.
	kib1=$(du -k "$OUT/ivshmem-1.mem" | cut -f1)
	kib2=$(du -k "$OUT/ivshmem-2.mem" | cut -f1)
	echo "ivshmem-1.mem: $(du -h --apparent-size "$OUT/ivshmem-1.mem" | cut -f1) apparent, $kib1 KiB allocated"
	echo "ivshmem-2.mem: $(du -h --apparent-size "$OUT/ivshmem-2.mem" | cut -f1) apparent, $kib2 KiB allocated"
	if [ "$kib1" -gt 6144 ] || [ "$kib2" != 0 ]; then
		echo "the backing files are not sparse: $kib1 and $kib2 KiB allocated"
		return 1
	fi
}
