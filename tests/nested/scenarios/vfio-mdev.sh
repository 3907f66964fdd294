# A mediated device: the emulated host's kernel has the mtty sample, whose mdevs are
# virtual PCI serial cards (a WCH CH352 look-alike: one 8-byte I/O BAR and one 16550
# per port, INTx, data written to a port loops back to it). We create a dual-port one
# through sysfs (mdev_supported_types/mtty-2/create) and give it to the guest by UUID,
# through the legacy backend (its own IOMMU group, device fd by UUID) and through
# iommufd (its cdev, bound as an emulated device). The guest's 8250_pci driver must
# see both ports, and bytes written to each must come back through it: that takes its
# I/O BARs forwarded to the mdev and its INTx delivered and unmasked (mtty takes no
# unmask eventfd, so minivmm's unmask thread does it). The guest writes less than 16
# bytes at a time, as someone typing would: mtty's 16-entry loop-back ring takes full
# for empty, so a 16-byte burst (what 8250 sends per FIFO load) would vanish.
# Then: an mdev UUID that does not exist is refused, naming the UUID and how to create
# one.
# timeout: 600

UUID=

mtty_create() {
	local types=/sys/class/mdev_bus/mtty/mdev_supported_types
	ls -l /sys/class/mdev_bus/ | sed 's/^/    /'
	ls "$types" | sed 's/^/    type: /'
	UUID=$(cat /proc/sys/kernel/random/uuid)
	echo "$UUID" >"$types/mtty-2/create" || return 1
	echo "    created $UUID: $(readlink /sys/bus/mdev/devices/$UUID)"
	echo "    group $(basename "$(readlink /sys/bus/mdev/devices/$UUID/iommu_group)"), cdev $(ls /sys/bus/mdev/devices/$UUID/vfio-dev)"
	[ -e "/sys/bus/mdev/devices/$UUID/iommu_group" ]
}

guest_script() {
	cat >/tmp/mtty-guest.sh <<'G'
#!/bin/sh
# The mtty function: vendor 0x4348, device 0x3253.
dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x4348 ] && [ "$(cat $d/device)" = 0x3253 ] && dev=${d##*/}
done
[ -n "$dev" ] || { echo "GUEST FAIL: no mtty PCI function"; exit 1; }
echo "GUEST mtty at $dev on $(basename "$(readlink /sys/bus/pci/devices/$dev/driver)")"
ports=
for t in /sys/class/tty/ttyS*; do
	case "$(readlink -f $t)" in */$dev/*) ports="$ports ${t##*/}" ;; esac
done
echo "GUEST ports:$ports"
dmesg | grep "$dev: ttyS" | sed 's/^\[[ 0-9.]*\] */GUEST dmesg: /'
n=0
for p in $ports; do
	exec 3<>/dev/$p
	stty raw -echo <&3
	cat <&3 >/tmp/rx.$p &
	pid=$!
	sent=
	for chunk in "minivmm-$p-" 0123456789 abcdefghij klmnopqrst uvwxyz-end; do
		sent=$sent$chunk
		printf '%s' "$chunk" >&3
		for i in $(seq 50); do [ "$(cat /tmp/rx.$p)" = "$sent" ] && break; sleep 0.1; done
	done
	grep "ttyS" /proc/interrupts | sed 's/^ */GUEST irq: /'
	kill $pid
	exec 3<&-
	if [ "$(cat /tmp/rx.$p)" = "$sent" ]; then
		echo "GUEST $p looped back ${#sent} bytes"
		n=$((n + 1))
	else
		echo "GUEST FAIL: $p sent '$sent', got back '$(cat /tmp/rx.$p)'"
		sed 's/^/GUEST serial: /' /proc/tty/driver/serial
	fi
done
echo "GUEST mtty ports looped back: $n"
G
	guest_initrd /tmp/mtty-guest.sh /tmp/mtty.cpio.gz
}

# run_mtty BACKEND
run_mtty() {
	local ini=/tmp/mtty-$1.ini rc
	vm_ini "$ini" "initrd=/tmp/mtty.cpio.gz"
	printf '[vfio]\nbackend = %s\n[vfio.tty]\nuuid = %s\n' "$1" "$UUID" >>"$ini"
	run_vmm 240 "$ini" 2>"/tmp/mtty-$1.err"
	rc=$?
	sed 's/^/    /' "/tmp/mtty-$1.err"
	grep GUEST "$ini.console" | tr -d '\r' | sed 's/^/    /'
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "vfio: IOMMU backend $1 (as configured)" "/tmp/mtty-$1.err" &&
		grep -q "GUEST mtty ports looped back: 2" "$ini.console" ||
		{ show_console "$ini"; return 1; }
}

no_such_mdev() {
	local ini=/tmp/ghost.ini rc ghost=0b4c8bd8-5ad6-4c1d-9d2e-2f3a4b5c6d7e
	vm_ini "$ini" "initrd=$GUEST_INITRD"
	printf '[vfio.ghost]\nuuid = %s\n' "$ghost" >>"$ini"
	run_vmm 60 "$ini" 2>/tmp/ghost.err
	rc=$?
	sed 's/^/    /' /tmp/ghost.err
	[ "$rc" = 2 ] || { echo "exit status $rc, expected 2"; return 1; }
	grep -Fxq "minivmm: [vfio.ghost] no mediated device $ghost on this host (/sys/bus/mdev/devices/$ghost does not exist); create it with: echo $ghost > /sys/class/mdev_bus/PARENT/mdev_supported_types/TYPE/create, PARENT/TYPE being one of mtty/mtty-1, mtty/mtty-2" /tmp/ghost.err
}

l1() {
	guest_script &&
	check "an mtty-2 mediated device is created through sysfs" mtty_create &&
	check "legacy: the guest sees both serial ports and each loops bytes back" run_mtty legacy &&
	check "iommufd: the same through the mdev's cdev" run_mtty iommufd &&
	check "an mdev UUID that does not exist is refused with how to create it" no_such_mdev
}
