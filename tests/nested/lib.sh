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

# guest_initrd SCRIPT OUT: the guest initramfs with SCRIPT appended as /scenario (a
# second cpio archive; the kernel unpacks both).
guest_initrd() {
	local dir
	dir=$(mktemp -d)
	install -m 0755 "$1" "$dir/scenario"
	cp "$GUEST_INITRD" "$2"
	(cd "$dir" && echo scenario | cpio -o -H newc --quiet | gzip) >>"$2"
	rm -rf "$dir"
}

# vm_ini OUT KEY=VALUE...: a minimal VM config booting the test-bed kernel, with the
# console in $OUT.console; extra [vm] keys may be given as KEY=VALUE (a cmdline=...
# replaces the default command line).
vm_ini() {
	local out=$1
	shift
	{
		echo "[vm]"
		echo "kernel = $KERNEL"
		echo "memory = 256M"
		case " $* " in
		*" cmdline="*) ;; # the caller's own
		*) echo "cmdline = console=ttyS0 panic=-1 quiet" ;;
		esac
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
		echo "[console]"
		echo "mode = file"
		echo "path = $out.console"
	} >"$out"
}

# run_vmm SECONDS ARGS...: runs minivmm with a time limit, its stderr on our output;
# prints the guest console if it exited non-zero. Returns minivmm's exit status.
run_vmm() {
	local limit=$1 rc
	shift
	timeout --kill-after=5 "$limit" "$MINIVMM_REPO/build/minivmm" "$@"
	rc=$?
	return $rc
}

# show_console INI: the last lines of that VM's console, for a failure report.
show_console() {
	echo "---- guest console ($1.console), last lines:"
	tail -20 "$1.console" | sed 's/^/    /'
}
