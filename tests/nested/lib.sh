# shellcheck shell=bash
# Helpers for scenarios, sourced inside the emulated host before the scenario file.
# Output of check/fail goes to the emulated host's console, which the runner shows on
# failure.

# check DESCRIPTION COMMAND...: run COMMAND, print "ok: DESCRIPTION" or fail.
check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok: $what"
	else
		echo "FAILED: $what (command: $*)"
		return 1
	fi
}

# bind_vfio BDF: hand one PCI function to vfio-pci (driver_override + drivers_probe).
bind_vfio() {
	local dev=/sys/bus/pci/devices/$1
	[ -e "$dev" ] || { echo "bind_vfio: no device $1"; return 1; }
	if [ -e "$dev/driver" ]; then echo "$1" >"$dev/driver/unbind"; fi
	echo vfio-pci >"$dev/driver_override"
	echo "$1" >/sys/bus/pci/drivers_probe
	[ "$(basename "$(readlink "$dev/driver")")" = vfio-pci ]
}
