# The stock Debian 12 guest (see debian-reboot.sh) with 1 and 4 vCPUs: with 1 vCPU,
# `systemctl kexec` starts the kernel again without a reset and it reaches multi-user,
# then with on_reboot = exit `systemctl reboot` ends minivmm with exit 0; with 4 vCPUs and
# on_reboot = restart, it reboots once and `systemctl poweroff` exits 0. Each boot
# reaches systemd state "running" with no failed unit and no kernel warning that our
# machine causes.
# timeout: 1500
# disk: debian

# Boot 1 kexecs into Debian's kernel again (no reset: minivmm sees nothing), boot 2
# reboots, which with on_reboot = exit ends minivmm.
one_vcpu_kexec_then_reboot_exits() {
	local ini=/tmp/deb1.ini rc
	debian_ini "$ini" 1 exit kexec,reboot
	debian_run "$ini" 900
	rc=$?
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "guest rebooted (on_reboot = exit) (exit 0)" "$ini.err" && debian_check "$ini" 2 0
}

four_vcpus() {
	local ini=/tmp/deb4.ini rc
	debian_ini "$ini" 4 restart reboot,poweroff
	debian_run "$ini" 900
	rc=$?
	[ "$rc" = 0 ] || { echo "minivmm exited $rc"; show_console "$ini"; return 1; }
	grep -q "guest powered off (exit 0)" "$ini.err" && debian_check "$ini" 2 1
}

l1() {
	check "1 vCPU: systemctl kexec boots again; systemctl reboot with on_reboot = exit exits 0" \
		one_vcpu_kexec_then_reboot_exits &&
	check "no kernel warning caused by our machine (1 vCPU)" debian_warnings /tmp/deb1.ini &&
	check "4 vCPUs: systemctl reboot comes back, systemctl poweroff exits 0" four_vcpus &&
	check "no kernel warning caused by our machine (4 vCPUs)" debian_warnings /tmp/deb4.ini
}
