# virtio-blk end to end: a guest finds two disks by their serials (GET_ID), mounts the
# writable ext2 one, writes a file, syncs and unmounts; after the VM exits the image
# holds exactly that file and is clean. The read-only disk shows up read-only, refuses
# writes through the filesystem and the raw device, and its image is unchanged.
# virtio-rng gives the guest random bytes. Interrupts go through MSI-X; a second boot
# with pci=nomsi reads the file back through INTx.
# timeout: 400

# The file the guest writes, generated the same way on both sides.
expected_text() {
	i=0
	while [ $i -lt 3000 ]; do
		echo "line $i of what the guest wrote through virtio-blk"
		i=$((i + 1))
	done
}

guest_script() {
	{
		echo '#!/bin/sh'
		declare -f expected_text
		cat <<'G'
data= ro=
for d in /sys/block/vd*; do
	n=$(basename "$d")
	echo "GUEST disk $n serial=$(cat "$d/serial") ro=$(cat "$d/ro") sectors=$(cat "$d/size")"
	case "$(cat "$d/serial")" in data) data=/dev/$n ;; ro) ro=/dev/$n ;; esac
done
mkdir -p /mnt/data /mnt/ro
if grep -q pci=nomsi /proc/cmdline; then
	mount -t ext2 -o ro "$data" /mnt/data &&
		echo "GUEST reread $(wc -c </mnt/data/hello.txt) bytes, md5 $(md5sum </mnt/data/hello.txt)"
	echo "GUEST irqs: intx $(grep -c 'IO-APIC.*virtio' /proc/interrupts)"
	exit 0
fi
if mount -t ext2 "$data" /mnt/data; then
	expected_text >/mnt/data/hello.txt
	sync
	echo "GUEST wrote $(wc -c </mnt/data/hello.txt) bytes, md5 $(md5sum </mnt/data/hello.txt)"
	umount /mnt/data && echo "GUEST data unmounted"
fi
if mount -t ext2 -o ro "$ro" /mnt/ro; then
	echo "GUEST ro says: $(cat /mnt/ro/ro.txt)"
	if touch /mnt/ro/new 2>/dev/null; then echo "GUEST ro fs write allowed"; else echo "GUEST ro fs write refused"; fi
	umount /mnt/ro
fi
if dd if=/dev/zero of="$ro" bs=512 count=1 conv=fsync 2>/dev/null; then
	echo "GUEST ro raw write allowed"
else
	echo "GUEST ro raw write refused"
fi
echo "GUEST irqs: msix $(grep -c 'PCI-MSI.*virtio[0-9]*-req' /proc/interrupts)"
echo "GUEST rng $(cat /sys/class/misc/hw_random/rng_current) $(dd if=/dev/hwrng bs=32 count=1 2>/dev/null | wc -c) bytes"
G
	} >/tmp/blk-guest.sh
	guest_initrd /tmp/blk-guest.sh /tmp/blk.cpio.gz
}

make_images() {
	rm -rf /tmp/ro-root && mkdir -p /tmp/ro-root
	echo "read-only content" >/tmp/ro-root/ro.txt
	mke2fs -q -F -t ext2 /tmp/data.img 16M &&
		mke2fs -q -F -t ext2 -d /tmp/ro-root /tmp/ro.img 8M &&
		sha256sum </tmp/ro.img >/tmp/ro.sum
}

# run_guest INI [pci=nomsi]
run_guest() {
	local ini=$1
	vm_ini "$ini" "initrd=/tmp/blk.cpio.gz"
	[ -z "${2:-}" ] || sed -i "s/^cmdline = .*/& $2/" "$ini"
	cat >>"$ini" <<EOF
[disk.data]
path = /tmp/data.img
[disk.ro]
path = /tmp/ro.img
readonly = on
[rng]
EOF
	run_vmm 240 "$ini" || { echo "minivmm exited $?"; show_console "$ini"; return 1; }
	grep GUEST "$ini.console" | tr -d '\r'
	grep -q "GUEST.*md5" "$ini.console" || { show_console "$ini"; return 1; }
}

console_has() { grep -q "$1" /tmp/blk.ini.console; }

# The second boot, on INTx, read the same bytes back.
reread_intx() {
	local sum
	sum=$(md5sum </tmp/expected.txt)
	grep -q "GUEST reread 157890 bytes, md5 $sum" /tmp/intx.ini.console &&
		grep -q "GUEST irqs: intx 3" /tmp/intx.ini.console
}

data_exact() {
	expected_text >/tmp/expected.txt
	debugfs -R 'dump /hello.txt /tmp/got.txt' /tmp/data.img 2>/dev/null &&
		cmp /tmp/expected.txt /tmp/got.txt
}

l1() {
	guest_script &&
	check "ext2 images made" make_images &&
	check "the guest boots with two disks and an rng, and powers off" run_guest /tmp/blk.ini &&
	check "the disks' serials are their names" console_has "serial=data ro=0 sectors=32768" &&
	check "the read-only disk is read-only in the guest" console_has "serial=ro ro=1" &&
	check "the image holds exactly what the guest wrote" data_exact &&
	check "the guest left a clean filesystem" e2fsck -fn /tmp/data.img &&
	check "the read-only disk is readable" console_has "GUEST ro says: read-only content" &&
	check "filesystem writes to it are refused" console_has "GUEST ro fs write refused" &&
	check "raw writes to it are refused" console_has "GUEST ro raw write refused" &&
	check "its image is unchanged" bash -c 'sha256sum </tmp/ro.img | cmp - /tmp/ro.sum' &&
	check "virtio-rng gives random bytes" console_has "GUEST rng virtio_rng.0 32 bytes" &&
	check "both disks interrupt through MSI-X" console_has "GUEST irqs: msix 2" &&
	check "with pci=nomsi the guest boots on INTx" run_guest /tmp/intx.ini pci=nomsi &&
	check "and reads back exactly the same file" reread_intx
}
