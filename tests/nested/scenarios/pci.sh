# PCI as the guest sees it matches what minivmm announced: every function minivmm lists
# at start ("pci 0000:00:01.0 [1af4:1042] ...") is in the guest's /sys with that vendor
# and device, and nothing else is; each has 4 KiB of config space (ECAM, extended
# config); the guest kept the BARs minivmm assigned (no reassignment), within the
# host bridge's windows.
# timeout: 200

l1() {
	local ini=/tmp/pci.ini
	cat >/tmp/pci-guest.sh <<'G'
#!/bin/sh
for d in /sys/bus/pci/devices/*; do
	echo "PCIDEV $(basename "$d") [$(cut -c3- "$d/vendor"):$(cut -c3- "$d/device")] class=$(cat "$d/class") cfg=$(wc -c <"$d/config")"
done
dmesg | grep -iE "BAR .*(assigned|no space|failed)|can't claim" | head -5
echo "GUEST resources: $(grep -c . /proc/iomem)"
G
	guest_initrd /tmp/pci-guest.sh /tmp/pci.cpio.gz
	truncate -s 8M /tmp/pci-disk.img
	vm_ini "$ini" "initrd=/tmp/pci.cpio.gz"
	printf '[disk.d0]\npath = /tmp/pci-disk.img\n[rng]\n' >>"$ini"
	run_vmm 120 "$ini" 2>/tmp/pci.err || { cat /tmp/pci.err; show_console "$ini"; return 1; }
	tr -d '\r' <"$ini.console" | grep -E "PCIDEV|BAR|can't" | tee /tmp/pci.guest
	sed -n 's/^minivmm: pci \(0000:[0-9a-f:.]*\) \(\[[0-9a-f:]*\]\).*/\1 \2/p' /tmp/pci.err |
		sort >/tmp/pci.announced
	sed -n 's/^PCIDEV \([^ ]*\) \(\[[^]]*\]\).*/\1 \2/p' /tmp/pci.guest | grep -v '0000:00:00.0' |
		sort >/tmp/pci.seen
	echo "announced: $(tr '\n' ' ' </tmp/pci.announced)"
	check "the guest sees exactly the functions minivmm announced" cmp /tmp/pci.announced \
		/tmp/pci.seen &&
	check "every function has 4 KiB of config space" \
		test "$(grep -c 'cfg=4096' /tmp/pci.guest)" = "$(grep -c PCIDEV /tmp/pci.guest)" &&
	check "the guest moved or failed no BAR" test -z "$(grep -E 'BAR|claim' /tmp/pci.guest)"
}
