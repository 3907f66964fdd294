# Core VMM: the guest boots with 1 and 2 vCPUs, sees its CPUs and memory, prints on
# the serial console, and its poweroff -f ends minivmm with exit 0; a reboot with
# on_reboot = restart boots it again; SIGTERM ends minivmm with 143. (Every reboot
# method of Linux: reboot.sh.)
# timeout: 300

guest_report() {
	cat >/tmp/report.sh <<'G'
#!/bin/sh
echo "GUEST nproc=$(nproc) memtotal_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo) time=$(date +%s)"
echo "GUEST pci=$(ls /sys/bus/pci/devices | tr '\n' ' ')"
echo "GUEST hostbridge_cfg_bytes=$(wc -c </sys/bus/pci/devices/0000:00:00.0/config)"
echo "GUEST rtc=$(cat /sys/class/rtc/rtc0/name 2>/dev/null)"
dmesg | grep -iE 'mmconfig|ecam|PCI0|pci_bus 0000:00: root|BAR' | head -12
poweroff -f
G
	guest_initrd /tmp/report.sh /tmp/report.cpio.gz
}

boot_with() {
	local vcpus=$1 ini=/tmp/vm$1.ini total
	vm_ini "$ini" "vcpus=$vcpus" "initrd=/tmp/report.cpio.gz"
	run_vmm 120 "$ini" || { echo "minivmm exited $?"; show_console "$ini"; return 1; }
	grep -q "GUEST nproc=$vcpus " "$ini.console" || { show_console "$ini"; return 1; }
	total=$(sed -n 's/.*memtotal_kb=\([0-9]*\).*/\1/p' "$ini.console" | tr -d '\r')
	# 256 MiB given; the kernel keeps some for itself, so accept 200..256 MiB.
	[ "$total" -gt 204800 ] && [ "$total" -le 262144 ] || { echo "MemTotal $total kB"; return 1; }
	# PCI through ACPI (PCI0, MCFG): the host bridge, with 4 KiB config space (ECAM).
	grep -q "GUEST hostbridge_cfg_bytes=4096" "$ini.console" || { show_console "$ini"; return 1; }
	# The CMOS RTC, found through ACPI (PNP0B00), is the guest's rtc0.
	grep -q "GUEST rtc=rtc_cmos" "$ini.console" || { show_console "$ini"; return 1; }
}

# The guest's wall clock (from the CMOS RTC / kvmclock) agrees with the host's.
wall_clock() {
	local t now
	t=$(sed -n 's/.* time=\([0-9]*\).*/\1/p' /tmp/vm1.ini.console | tr -d '\r')
	now=$(date +%s)
	echo "guest time $t, host time $now"
	[ -n "$t" ] && [ $((now - t)) -lt 120 ] && [ $((t - now)) -lt 120 ]
}

differ() { ! cmp -s "$1" "$2"; }

reboot_then_sigterm() {
	local ini=/tmp/reboot.ini pid spid rc n=0
	cat >/tmp/reboot.sh <<'G'
#!/bin/sh
echo "GUEST booted; rebooting"
reboot -f
G
	guest_initrd /tmp/reboot.sh /tmp/reboot.cpio.gz
	vm_ini "$ini" "initrd=/tmp/reboot.cpio.gz" "on_reboot=restart"
	# On a pseudo-terminal, so that we can see minivmm restore its settings.
	sed -i 's/^mode = file/mode = stdio/; /^path = /d' "$ini"
	# minivmm runs in the foreground on the pty (so it sees a terminal and makes it raw).
	script -qfec "tty >/tmp/tty; stty -g >/tmp/stty.before;
		sh -c 'echo \$\$ >/tmp/pid; exec $MINIVMM_REPO/build/minivmm $ini';
		echo \$? >/tmp/rc; stty -g >/tmp/stty.after" /tmp/reboot.out </dev/null >/dev/null &
	spid=$!
	for _ in $(seq 240); do
		n=$(grep -c "GUEST booted" /tmp/reboot.out 2>/dev/null)
		[ "${n:-0}" -ge 2 ] && break
		sleep 0.5
	done
	pid=$(cat /tmp/pid)
	stty -F "$(cat /tmp/tty)" -g >/tmp/stty.during
	# What minivmm itself uses beyond guest RAM (a memfd, counted as RssShmem).
	awk '/^(VmRSS|RssAnon|RssFile|RssShmem)/ {printf "%s %s kB  ", $1, $2} END {print ""}' \
		"/proc/$pid/status"
	kill -TERM "$pid"
	for _ in $(seq 300); do [ -s /tmp/stty.after ] && break; sleep 0.2; done
	kill %1 2>/dev/null
	rc=$(cat /tmp/rc 2>/dev/null)
	echo "boots seen: $n, exit status after SIGTERM: $rc"
	[ "${n:-0}" -ge 2 ] && [ "$rc" = 143 ] || { tail -15 /tmp/reboot.out; return 1; }
	check "the terminal was raw while minivmm ran" differ /tmp/stty.before /tmp/stty.during &&
	check "the terminal is restored" cmp /tmp/stty.before /tmp/stty.after
}

# The guest without a scenario gives a shell on ttyS0: input typed on minivmm's stdin
# must reach it (UART receive interrupts) and its output come back.
# Typed only once the shell's prompt is there: input that arrives while the guest still
# boots is not the shell's (a fixed wait of 8 s lost it under load).
console_input() {
	local ini=/tmp/shell.ini out=/tmp/shell.out fifo=/tmp/shell.in pid i
	vm_ini "$ini" "initrd=$GUEST_INITRD"
	sed -i 's/^mode = file/mode = stdio/; /^path = /d' "$ini"
	rm -f "$fifo" && mkfifo "$fifo" || return 1
	run_vmm 120 "$ini" <"$fifo" >"$out" 2>&1 &
	pid=$!
	exec 7>"$fifo"
	for i in $(seq 100); do grep -q '/ # ' "$out" && break; sleep 1; done
	echo 'echo "SUM=$((40 + 2))"' >&7
	for i in $(seq 30); do grep -q 'SUM=42' "$out" && break; sleep 1; done
	echo 'poweroff -f' >&7
	exec 7>&-
	wait "$pid"
	tail -5 "$out"
	grep -q 'SUM=42' "$out"
}

l1() {
	guest_report &&
	check "boots with 1 vCPU, nproc and memory agree, poweroff exits 0" boot_with 1 &&
	check "boots with 2 vCPUs" boot_with 2 &&
	check "the guest's wall clock is the host's" wall_clock &&
	check "console input reaches the guest shell" console_input &&
	check "reboot restarts the guest; SIGTERM exits 143" reboot_then_sigterm
}
