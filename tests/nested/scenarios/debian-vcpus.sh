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
	debian_expect /tmp/deb1.ini 1 exit kexec,reboot 900 2 0 \
		"guest rebooted (on_reboot = exit) (exit 0)"
}

four_vcpus() {
	debian_expect /tmp/deb4.ini 4 restart reboot,poweroff 900 2 1 "guest powered off (exit 0)"
}

l1() {
	check "1 vCPU: systemctl kexec boots again; systemctl reboot with on_reboot = exit exits 0" \
		one_vcpu_kexec_then_reboot_exits &&
	check "no kernel warning caused by our machine (1 vCPU)" debian_warnings /tmp/deb1.ini &&
	check "4 vCPUs: systemctl reboot comes back, systemctl poweroff exits 0" four_vcpus &&
	check "no kernel warning caused by our machine (4 vCPUs)" debian_warnings /tmp/deb4.ini
}
