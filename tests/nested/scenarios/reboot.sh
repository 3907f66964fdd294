# Reboot by every method Linux has (the kernel's reboot= parameter), with 2 vCPUs so that
# the other CPU is stopped first as in a real reboot: bios, efi, acpi, kbd and pci each
# end minivmm with exit 0 (on_reboot = exit); triple exits 3 with on_reboot = exit and
# restarts the guest with on_reboot = restart. bios is where a distribution kernel ends
# up on our hardware-reduced ACPI machine (efi finds no EFI and falls through to it): it
# jumps to F000:FFF0, where minivmm's reset stub is.
# timeout: 420

reboot_methods() {
	local m ini rc n
	cat >/tmp/rb.sh <<'G'
#!/bin/sh
echo "GUEST up"
reboot -f
G
	guest_initrd /tmp/rb.sh /tmp/rb.cpio.gz
	for m in bios efi acpi kbd pci; do
		ini=/tmp/rb-$m.ini
		vm_ini "$ini" vcpus=2 initrd=/tmp/rb.cpio.gz "cmdline=console=ttyS0 panic=-1 quiet reboot=$m"
		run_vmm 60 "$ini" 2>"$ini.err"
		rc=$?
		if [ "$rc" != 0 ] || ! grep -q "guest rebooted (on_reboot = exit) (exit 0)" "$ini.err"; then
			echo "reboot=$m: minivmm exited $rc"
			cat "$ini.err"
			show_console "$ini"
			return 1
		fi
		echo "reboot=$m: guest rebooted, exit 0"
	done
	# A triple fault (reboot=triple) is a reset: exit 3 with on_reboot = exit, a restart
	# with on_reboot = restart (stopped here by timeout after a few boots).
	ini=/tmp/rb-triple.ini
	vm_ini "$ini" vcpus=2 initrd=/tmp/rb.cpio.gz "cmdline=console=ttyS0 panic=-1 quiet reboot=triple"
	run_vmm 60 "$ini" 2>"$ini.err"
	rc=$?
	[ "$rc" = 3 ] && grep -q "stopped: guest triple fault (on_reboot = exit)" "$ini.err" ||
		{ echo "reboot=triple, on_reboot = exit: exit $rc"; cat "$ini.err"; return 1; }
	echo "reboot=triple: exit 3 with on_reboot = exit"
	vm_ini "$ini" vcpus=2 initrd=/tmp/rb.cpio.gz on_reboot=restart \
		"cmdline=console=ttyS0 panic=-1 quiet reboot=triple"
	# Stopped (SIGTERM) once the second boot is up, or after 120 s: a boot takes
	# seconds here, but many more when the machine running the test bed is busy.
	"$MINIVMM_REPO/build/minivmm" "$ini" 2>"$ini.err" &
	pid=$!
	for _ in $(seq 600); do
		[ "$(grep -c "GUEST up" "$ini.console" 2>/dev/null)" -ge 2 ] && break
		sleep 0.2
	done
	kill -TERM "$pid"
	wait "$pid"
	n=$(grep -c "GUEST up" "$ini.console")
	[ "$n" -ge 2 ] && grep -q "guest reset by a triple fault (1 in a row); restarting it" "$ini.err" ||
		{ echo "reboot=triple, on_reboot = restart: $n boots"; cat "$ini.err"; return 1; }
	echo "reboot=triple: $n boots with on_reboot = restart"
}

l1() {
	check "every Linux reboot method (reboot=bios|efi|acpi|kbd|pci|triple) resets" reboot_methods
}
