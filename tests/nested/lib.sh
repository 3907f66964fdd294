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

# guest_initrd SCRIPT OUT [FILE...]: the guest initramfs with SCRIPT appended as
# /scenario and each FILE in /bin (a second cpio archive; the kernel unpacks both).
guest_initrd() {
	local dir script=$1 out=$2 f
	shift 2
	dir=$(mktemp -d)
	install -m 0755 "$script" "$dir/scenario"
	mkdir "$dir/bin"
	for f in "$@"; do install -m 0755 "$f" "$dir/bin/"; done
	cp "$GUEST_INITRD" "$out"
	(cd "$dir" && find scenario bin -mindepth 0 | cpio -o -H newc --quiet | gzip) >>"$out"
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

# wait_console PATTERN SECONDS: until the console of the VM whose config is $INI (the
# scenario's) shows PATTERN; on a timeout, says so and shows its last lines.
wait_console() {
	local i
	for i in $(seq $(($2 * 20))); do
		grep -q "$1" "$INI.console" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "    timed out waiting for '$1'"
	show_console "$INI"
	return 1
}

# ---- The stock Debian guest (scenarios with "# disk: debian") ----------------------
# Its root image is this emulated host's /dev/vda; its test agent (guest-images/debian/
# agent) reports on the serial console in lines starting "AGENT " and carries out the
# plan given on its command line, one action per boot.

# agent_lines CONSOLE: the agent's report lines, from wherever they start on a line
# (the guest's serial getty may have printed its login prompt without a newline).
agent_lines() {
	tr -d '\r' <"$1" | grep -o 'AGENT .*'
}

# debian_ini INI VCPUS ON_REBOOT PLAN: a VM config booting Debian's own kernel and
# initramfs with root on virtio-blk, as a user would write it; the run id is INI's name.
# The one addition, rcupdate.rcu_cpu_stall_timeout=300 (the kernel's maximum, default
# 21 s): the test bed runs up to 4 vCPUs on one TCG-emulated CPU, next to another
# emulated host on the same core, and a vCPU can go unscheduled for over 21 s (seen:
# "rcu_preempt kthread timer wakeup didn't happen for 5427 jiffies" at 298 s of a boot
# that took 279 s), which the guest reports as an RCU stall that our machine did not
# cause (interrupts and IPIs are KVM's in-kernel irqchip's).
debian_ini() {
	local ini=$1 vcpus=$2 on_reboot=$3 plan=$4
	{
		echo "[vm]"
		echo "kernel = $DEBIAN_KERNEL"
		echo "initrd = $DEBIAN_INITRD"
		echo "memory = 512M"
		echo "vcpus = $vcpus"
		echo "on_reboot = $on_reboot"
		echo "cmdline = root=/dev/vda ro console=ttyS0 quiet rcupdate.rcu_cpu_stall_timeout=300 minivmm.plan=$plan minivmm.run=$(basename "$ini" .ini)"
		echo "[console]"
		echo "mode = file"
		echo "path = $ini.console"
		echo "[disk.root]"
		echo "path = /dev/vda"
	} >"$ini"
	# The console lives in the result share, so that it can be watched from outside
	# while the guest runs (build/nested/SCENARIO/NAME.console).
	ln -sf "$OUT/$(basename "$ini").console" "$ini.console"
}

# debian_run INI LIMIT: runs minivmm on INI (stderr to INI.err) and notes, for each boot,
# the seconds from minivmm's start (or the previous reboot) to the agent's report, which
# comes once systemd has finished starting up (multi-user). Prints them; returns
# minivmm's exit status.
debian_run() {
	local ini=$1 limit=$2 pid rc n boots=0 restarts=0 starts=()
	starts[1]=$EPOCHREALTIME
	timeout --kill-after=5 "$limit" "$MINIVMM_REPO/build/minivmm" "$ini" 2>"$ini.err" &
	pid=$!
	: >"$ini.times"
	# Once a second: the guest shares this emulated host's one CPU with the polling.
	while kill -0 "$pid" 2>/dev/null; do
		n=$(grep -c "guest rebooted; restarting it" "$ini.err")
		while [ "$restarts" -lt "$n" ]; do
			restarts=$((restarts + 1))
			starts[restarts + 1]=$EPOCHREALTIME
		done
		n=$(agent_lines "$ini.console" 2>/dev/null | grep -c "^AGENT boot ")
		while [ "$boots" -lt "${n:-0}" ]; do
			boots=$((boots + 1))
			echo "$boots $(echo "$EPOCHREALTIME - ${starts[boots]:-${starts[1]}}" | bc)" >>"$ini.times"
			echo "    ($(basename "$ini"): boot $boots reported)"
		done
		sleep 1
	done
	wait "$pid"
	rc=$?
	sed 's/^/    /' "$ini.err"
	agent_lines "$ini.console" | sed 's/^/    /'
	while read -r n secs; do
		printf '    boot %s reached multi-user %.1f s after minivmm (re)started it\n' "$n" "$secs"
	done <"$ini.times"
	return $rc
}

# debian_check INI BOOTS RESTARTS: the agent reported BOOTS boots, each with systemd in
# state "running" (no failed unit) and PAT on, minivmm restarted the guest RESTARTS
# times, and no vCPU triple-faulted or hung.
debian_check() {
	local ini=$1 boots=$2 restarts=$3 n
	n=$(agent_lines "$ini.console" | grep -c "^AGENT boot ")
	[ "$n" = "$boots" ] || { echo "the agent reported $n boots, not $boots"; show_console "$ini"; return 1; }
	n=$(agent_lines "$ini.console" | grep "^AGENT boot " | grep -vc " state=running ")
	[ "$n" = 0 ] || { echo "$n boots did not reach state running"; return 1; }
	n=$(grep -c "guest rebooted; restarting it" "$ini.err")
	[ "$n" = "$restarts" ] || { echo "minivmm restarted the guest $n times, not $restarts"; return 1; }
	! grep -q "triple fault" "$ini.err" || { echo "a triple fault"; return 1; }
	# MTRRs on with WB by default, so the kernel keeps PAT (write-combining).
	n=$(agent_lines "$ini.console" | grep -c "^AGENT info: x86/PAT: Configuration \[0-7\]: WB  WC ")
	[ "$n" = "$boots" ] || { echo "PAT was off in $((boots - n)) boots"; return 1; }
}

# debian_expect INI VCPUS ON_REBOOT PLAN LIMIT BOOTS RESTARTS LAST [CONFIG]: writes the
# config (debian_ini, then the extra CONFIG text), runs it, and checks that minivmm
# exited 0 with the log line LAST after BOOTS boots and RESTARTS restarts (debian_check).
debian_expect() {
	local ini=$1 rc
	debian_ini "$ini" "$2" "$3" "$4"
	printf '%b' "${9:-}" >>"$ini"
	debian_run "$ini" "$5"
	rc=$?
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -qF "$8" "$ini.err" || { echo "no '$8' in minivmm's log"; return 1; }
	debian_check "$ini" "$6" "$7"
}

# debian_warnings INI: every kernel warning the guest logged (journalctl -k -p warning)
# is on the list of known ones that our machine does not cause
# (tests/nested/debian-warnings.allow, one extended regex per line, with why).
debian_warnings() {
	local allow="$MINIVMM_REPO/tests/nested/debian-warnings.allow" w=$1.warnings rc
	grep -v '^#' "$allow" | grep . >"$w.allow"
	agent_lines "$1.console" | sed -n 's/^AGENT kernel-warning: \[ *[0-9.]*\] [^ ]* kernel: //p' |
		sort -u >"$w"
	echo "$(wc -l <"$w") distinct kernel warning lines, checked against $allow"
	grep -vEf "$w.allow" "$w" >"$w.new"
	rc=$?
	[ "$rc" -le 1 ] || { echo "grep could not use $allow"; return 1; }
	[ ! -s "$w.new" ] || { echo "kernel warnings not on the known list:"; sed 's/^/    /' "$w.new"; return 1; }
}
