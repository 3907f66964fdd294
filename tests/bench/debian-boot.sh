# Benchmark (not a test): the stock Debian 12 guest (guest-images/build-debian.sh:
# systemd, Debian's cloud kernel and initramfs, root on virtio-blk) booted by minivmm and
# by QEMU q35 (-accel kvm, SeaBIOS, the same kernel, initramfs, command line, 2 vCPUs,
# 512 MiB and root disk) in the same emulated host, alternately, BENCH_RUNS rounds
# (default 2). Figures: seconds from launch to multi-user (the test agent's report,
# which waits for systemd's start-up to finish), from launch to the process's exit
# after `systemctl poweroff`, and systemd-analyze's own split of the guest's time; the
# kernel's warnings under each (build/nested/debian-boot/warnings-VMM-ROUND.txt, the
# whole console in bm-VMM-ROUND.ini.console), to tell the test bed's from the VMM's.
#   tests/bench/run debian-boot
# timeout: 2400
# disk: debian

if [ -n "${MINIVMM_REPO:-}" ] && [ -f "$MINIVMM_REPO/build/bench/settings" ]; then
	# shellcheck disable=SC1091
	. "$MINIVMM_REPO/build/bench/settings"
fi
RUNS=${BENCH_RUNS:-2}
B=$OUT/bench.txt

# boot_time VMM ROUND: launches one VMM on the Debian guest with plan poweroff; prints
# "multi-user SECONDS exit SECONDS analyze TEXT".
boot_time() {
	local vmm=$1 r=$2 ini=/tmp/bm-$1-$2.ini t0 pid tu=
	debian_ini "$ini" 2 exit poweroff
	t0=$EPOCHREALTIME
	if [ "$vmm" = minivmm ]; then
		"$MINIVMM_REPO/build/minivmm" "$ini" 2>"$ini.err" &
	else
		qemu-system-x86_64 -accel kvm -cpu host -machine q35 -m 512 -smp 2 -nographic \
			-nodefaults -no-reboot -serial "file:$ini.console" \
			-kernel "$DEBIAN_KERNEL" -initrd "$DEBIAN_INITRD" \
			-append "$(sed -n 's/^cmdline = //p' "$ini")" \
			-drive file=/dev/vda,if=virtio,format=raw 2>"$ini.err" &
	fi
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		[ -n "$tu" ] || ! agent_lines "$ini.console" 2>/dev/null | grep -q "^AGENT boot 1 " ||
			tu=$(echo "$EPOCHREALTIME - $t0" | bc)
		sleep 0.5
	done
	wait "$pid"
	echo "$vmm round $r: multi-user ${tu:-none} s, exit $(echo "$EPOCHREALTIME - $t0" | bc) s;" \
		"$(agent_lines "$ini.console" | sed -n 's/^AGENT analyze: //p')"
	echo "BENCH ${vmm}_multi_user_s_round$r ${tu:-none}" >>"$B"
	echo "BENCH ${vmm}_launch_to_exit_s_round$r $(echo "$EPOCHREALTIME - $t0" | bc)" >>"$B"
	echo "BENCH ${vmm}_systemd_analyze_round$r $(agent_lines "$ini.console" |
		sed -n 's/^AGENT analyze: Startup finished in //p' | tr ' ' '_')" >>"$B"
	# The guest's kernel warnings under each VMM, for comparing what is ours.
	agent_lines "$ini.console" | sed -n 's/^AGENT kernel-warning: \[ *[0-9.]*\] [^ ]* kernel: //p' \
		>"$OUT/warnings-$vmm-$r.txt"
	echo "BENCH ${vmm}_kernel_warning_lines_round$r $(wc -l <"$OUT/warnings-$vmm-$r.txt")" >>"$B"
	grep -q "XSAVE consistency problem" "$OUT/warnings-$vmm-$r.txt" &&
		echo "BENCH ${vmm}_xsave_warning_round$r yes" >>"$B"
	grep -q "Marking TSC unstable" "$ini.console" &&
		echo "BENCH ${vmm}_tsc_marked_unstable_round$r yes" >>"$B"
	[ -n "$tu" ]
}

l1() {
	local r
	: >"$B"
	for r in $(seq "$RUNS"); do
		boot_time minivmm "$r" || return 1
		boot_time qemu "$r" || return 1
	done
}
