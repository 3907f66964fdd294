# Passthrough set-up errors: each ends minivmm with the right exit status and one exact
# message naming the device and the fix, before anything on the host is changed.
#   - a device bound to its host driver (bind = manual), and one bound to no driver;
#   - an IOMMU group that is not viable: edu 01:01.0 on vfio-pci, while its group mate
#     e1000e 01:03.0 (behind the same conventional PCI bridge) is still on its host
#     driver; with bind = auto for the NVMe in the same config, the NVMe must stay
#     untouched;
#   - a malformed address (a config error: exit 1);
#   - an address with no device behind it.
# timeout: 240
# bridge: nic

# expect_fail CODE MESSAGE INI: minivmm INI exits CODE and prints MESSAGE as a line.
expect_fail() {
	local code=$1 msg=$2 ini=$3 rc
	run_vmm 60 "$ini" 2>/tmp/err.out
	rc=$?
	sed 's/^/    /' /tmp/err.out
	[ "$rc" = "$code" ] || { echo "exit status $rc, expected $code"; return 1; }
	grep -Fxq "$msg" /tmp/err.out || { echo "expected: $msg"; return 1; }
}

ini_with() {
	vm_ini "$1" "initrd=$GUEST_INITRD"
	shift
	printf '%s\n' "$@" >>"$ini"
}

drivers() {
	for d in 0000:00:04.0 0000:01:01.0 0000:01:02.0 0000:01:03.0; do
		echo "$d $(basename "$(readlink /sys/bus/pci/devices/$d/driver)") $(cat /sys/bus/pci/devices/$d/driver_override)"
	done
}

cmds() {
	local u=
	[ "$2" = yes ] && u="echo $1 > /sys/bus/pci/devices/$1/driver/unbind; "
	echo "${u}echo vfio-pci > /sys/bus/pci/devices/$1/driver_override; echo $1 > /sys/bus/pci/drivers_probe"
}

not_bound() {
	local ini=/tmp/e1.ini
	ini_with "$ini" "[vfio.nvme]" "host = 0000:00:04.0"
	expect_fail 2 "minivmm: [vfio.nvme] 0000:00:04.0 is bound to nvme, not vfio-pci; hand it over with: $(cmds 0000:00:04.0 yes) (or set bind = auto in [vfio.nvme])" "$ini"
}

no_driver() {
	local ini=/tmp/e2.ini
	ini_with "$ini" "[vfio.edu2]" "host = 01:02.0"
	expect_fail 2 "minivmm: [vfio.edu2] 0000:01:02.0 is bound to no driver, not vfio-pci; hand it over with: $(cmds 0000:01:02.0 no) (or set bind = auto in [vfio.edu2])" "$ini"
}

not_viable() {
	local ini=/tmp/e3.ini group
	group=$(basename "$(readlink /sys/bus/pci/devices/0000:01:01.0/iommu_group)")
	bind_vfio 0000:01:01.0 || return 1
	[ "$(basename "$(readlink /sys/bus/pci/devices/0000:01:03.0/driver)")" = e1000e ] || return 1
	ini_with "$ini" "[vfio.nvme]" "host = 0000:00:04.0" "bind = auto" "[vfio.edu]" "host = 0000:01:01.0"
	drivers >/tmp/drivers.before
	expect_fail 2 "minivmm: [vfio.edu] IOMMU group $group of 0000:01:01.0 is not viable: 0000:01:03.0 in the same group is bound to e1000e; a group is passed through whole, so give 0000:01:03.0 to vfio-pci too: $(cmds 0000:01:03.0 yes)" "$ini"
}

unchanged() {
	drivers >/tmp/drivers.after
	cmp -s /tmp/drivers.before /tmp/drivers.after || { diff /tmp/drivers.before /tmp/drivers.after; return 1; }
	grep -q "0000:00:04.0 nvme" /tmp/drivers.after
}

malformed() {
	local ini=/tmp/e4.ini line
	ini_with "$ini" "[vfio.bad]" "host = 00:4"
	line=$(grep -n '^host = 00:4$' "$ini" | cut -d: -f1)
	expect_fail 1 "minivmm: $ini:$line: host '00:4' is not a PCI address (use e.g. 0000:00:04.0)" "$ini"
}

absent() {
	local ini=/tmp/e5.ini
	ini_with "$ini" "[vfio.ghost]" "host = 0000:00:09.0"
	expect_fail 2 "minivmm: [vfio.ghost] no PCI device 0000:00:09.0 on this host (/sys/bus/pci/devices/0000:00:09.0 does not exist); lspci -D lists the host's devices" "$ini"
}

l1() {
	check "a device on its host driver is refused with the commands that free it" not_bound &&
	check "a device on no driver is refused likewise" no_driver &&
	check "a group with a member on another driver is refused" not_viable &&
	check "... and the bind = auto NVMe in the same config stayed on nvme" unchanged &&
	check "a malformed address is a config error (exit 1)" malformed &&
	check "an address with no device is refused" absent
}
