# A stock Debian 12 guest (systemd, Debian's own cloud kernel and initramfs, root on
# virtio-blk; guest-images/build-debian.sh) with 2 vCPUs and the emulated host's NVMe
# passed through, as a user would run it: it boots to multi-user, `systemctl reboot`
# twice with on_reboot = restart brings it back each time, `systemctl poweroff` ends
# minivmm with exit 0. Every boot reaches systemd state "running" with no failed unit,
# logs no kernel warning that our machine causes (debian-warnings.allow), and Debian's
# nvme module reads back, after each reboot, the 4 MiB the first boot wrote;
# l0_after() finds them in the emulated host's disk file.
# timeout: 1500
# disk: debian

run_reboots() {
	debian_expect /tmp/deb2.ini 2 restart reboot,reboot,poweroff 1200 3 2 \
		"guest powered off (exit 0)" '[vfio.nvme]\nhost = 0000:00:04.0\n'
}

nvme_data() {
	local c=/tmp/deb2.ini.console w
	w=$(agent_lines "$c" | sed -n 's/^AGENT nvme wrote //p')
	[ -n "$w" ] || { echo "the guest wrote nothing to the NVMe"; return 1; }
	[ "$(agent_lines "$c" | grep -c "^AGENT nvme read $w$")" = 3 ] ||
		{ echo "not every boot read back $w"; return 1; }
	echo "$w" >"$OUT/nvme.md5"
}

l1() {
	check "NVMe 00:04.0 binds to vfio-pci" bind_vfio 0000:00:04.0 &&
	check "2 vCPUs: multi-user, 2 x systemctl reboot (restart), systemctl poweroff exits 0" run_reboots &&
	check "no kernel warning caused by our machine" debian_warnings /tmp/deb2.ini &&
	check "Debian's nvme driver reads back after each reboot what the first boot wrote" nvme_data
}

l0_after() {
	local want
	want=$(cat "$OUT/nvme.md5")
	[ "$(dd if="$OUT/nvme.img" bs=1M skip=8 count=4 2>/dev/null | md5sum | cut -d' ' -f1)" = "$want" ] ||
		{ echo "nvme.img at 8 MiB is not what the guest wrote"; return 1; }
	echo "nvme.img holds the guest's 4 MiB at 8 MiB"
}
