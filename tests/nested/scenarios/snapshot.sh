# Snapshot and restore of a Linux guest with virtio-blk, virtio-net (a tap) and
# virtio-rng: the guest counts, one line every 0.5 s by its own clock, and keeps a
# checksummed file on its disk. It is paused and saved through the API, that minivmm
# ends; `minivmm --restore` in a new process resumes it: the count goes on from where
# it was (no second boot), a 1 s sleep takes 1 s, the file is intact, the guest
# answers ping on its network and reads random numbers. Then the restored guest is
# saved and restored once more. Damaged copies of that snapshot (a flipped byte in its
# state, cut memory, another version's header, a guest that saw a CPU feature this host
# lacks) are refused with exit 1 and the message, leaving the disk image and console
# file as they were. A snapshot of a VM with a passed-through device is refused with
# the message naming it.
# timeout: 600

SOCK=/tmp/snap.sock
INI=/tmp/snap.ini

guest_script() {
	cat >/tmp/snap-guest.sh <<'G'
#!/bin/sh
ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0
dd if=/dev/urandom of=/tmp/f bs=64k count=16 2>/dev/null
dd if=/tmp/f of=/dev/vda bs=64k count=16 oflag=direct 2>/dev/null
echo "GUEST file $(md5sum </tmp/f | cut -d' ' -f1)"
echo "GUEST boot"
n=0
while true; do
	n=$((n + 1))
	echo "GUEST count $n $(cut -d' ' -f1 /proc/uptime)"
	if [ -e /tmp/check ] || [ $((n % 10)) = 0 ]; then
		echo "GUEST disk $(dd if=/dev/vda bs=64k count=16 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
		t0=$(cut -d' ' -f1 /proc/uptime); sleep 1; t1=$(cut -d' ' -f1 /proc/uptime)
		echo "GUEST slept $t0 $t1"
		echo "GUEST rng $(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)"
	fi
	sleep 0.5
done
G
	guest_initrd /tmp/snap-guest.sh /tmp/snap.cpio.gz
}

ctl() { "$MINIVMM_REPO/build/minivmm-ctl" "$SOCK" "$@"; }

last_count() { grep "GUEST count" "$INI.console" | tail -1 | tr -d '\r' | cut -d' ' -f3; }

start_vm() {
	ip tuntap add tap0 mode tap && ip addr add 192.0.2.1/24 dev tap0 && ip link set tap0 up ||
		return 1
	truncate -s 16M /tmp/snap-disk.img
	vm_ini "$INI" "initrd=/tmp/snap.cpio.gz"
	printf '[disk.d]\npath = /tmp/snap-disk.img\n[net.eth0]\ntap = tap0\n[rng]\n' >>"$INI"
	printf '[api]\nsocket = %s\n' "$SOCK" >>"$INI"
	run_vmm 500 "$INI" 2>/tmp/snap1.err &
	VMM=$!
	wait_console "GUEST count 4" 180
}

# snap DIR: pause, save into DIR, shut the VM down (exit 0).
snap() {
	local n out
	mkdir -p "$1"
	ctl pause >/dev/null || return 1
	n=$(last_count)
	out=$(ctl snapshot path="$1") || { echo "    $out"; return 1; }
	echo "    saved at count $n in $(echo "$out" | sed -n 's/.*"ms": \([0-9]*\).*/\1/p') ms;" \
		"$(du -sh "$1" | cut -f1) on disk, memory file $(du -h "$1/memory" | cut -f1)"
	echo "$n" >/tmp/snap-count
	ctl shutdown >/dev/null && wait "$VMM"
}

# restore DIR: a new minivmm from the snapshot; the count goes on from the saved one.
restore() {
	local before after
	before=$(cat /tmp/snap-count)
	rm -f "$INI.console"
	"$MINIVMM_REPO/build/minivmm" --restore "$1" 2>/tmp/snap2.err &
	VMM=$!
	wait_console "GUEST count $((before + 3)) " 60 || { cat /tmp/snap2.err; return 1; }
	grep -q "GUEST boot" "$INI.console" && { echo "    the guest booted again"; return 1; }
	after=$(grep "GUEST count" "$INI.console" | head -1 | tr -d '\r' | cut -d' ' -f3)
	echo "    first count after the restore: $after (saved at $before)"
	[ "$after" -gt "$before" ] && [ "$after" -le $((before + 2)) ]
}

checks_after() {
	local sum
	wait_console "GUEST slept" 60 || return 1
	for _ in $(seq 60); do
		[ "$(grep -c "GUEST slept" "$INI.console")" -ge 2 ] && break
		sleep 1
	done
	sum=$(grep "GUEST file" /tmp/snap-first.console | head -1 | tr -d '\r' | cut -d' ' -f3)
	grep -q "GUEST disk $sum" "$INI.console" || {
		echo "    disk file differs: written $sum; read back:"
		grep -a "GUEST disk" "$INI.console" | tr -d '\r' | sed 's/^/      /'
		show_console "$INI"
		return 1
	}
	# The shortest of the sleeps since the restore: a wrong clock makes every one wrong,
	# a busy emulated host only makes some late.
	grep "GUEST slept" "$INI.console" | tr -d '\r' |
		awk '{d = $4 - $3; if (NR == 1 || d < m) m = d; all = all " " d}
			END {print "    sleep 1 took" all " s"; exit !(m >= 0.9 && m < 1.6)}' || return 1
	grep -q "GUEST rng 16" "$INI.console" || { echo "    no random numbers"; return 1; }
	busybox ping -c 3 -W 5 192.0.2.2 | tail -2 | sed 's/^/    /'
	busybox ping -c 3 -W 5 192.0.2.2 >/dev/null
}

# refused DIR SED-ON-FILE FILE MESSAGE: a copy of snapshot DIR, damaged, is refused with
# exit 1 and MESSAGE; the disk image and the console file are untouched.
refused() {
	local bad=/tmp/snap-bad disk con code
	rm -rf "$bad" && cp -r --sparse=always "$1" "$bad" || return 1
	eval "$2" || return 1
	disk=$(md5sum </tmp/snap-disk.img) con=$(md5sum <"$INI.console")
	"$MINIVMM_REPO/build/minivmm" --restore "$bad" </dev/null 2>/tmp/snap-bad.err
	code=$?
	echo "    exit $code: $(tail -1 /tmp/snap-bad.err | cut -c1-230)"
	[ "$code" = 1 ] && grep -q "$3" /tmp/snap-bad.err &&
		[ "$disk" = "$(md5sum </tmp/snap-disk.img)" ] &&
		[ "$con" = "$(md5sum <"$INI.console")" ]
}

damaged() {
	refused /tmp/snap2 'printf minivmm | dd of=$bad/state bs=1 seek=100 conv=notrunc 2>/dev/null' \
		"its state is damaged" &&
		refused /tmp/snap2 'truncate -s 1M $bad/memory' "memory file is missing" &&
		refused /tmp/snap2 'sed -i "s/^minivmm-snapshot 2$/minivmm-snapshot 1/" $bad/header' \
			"made by another version (snapshot 1" &&
		refused /tmp/snap2 'sed -i "s/1[.]0[.]edx=\\([0-9a-f]*\\)[0-9a-f]\\{3\\}/1.0.edx=\\1fff/" $bad/header' \
			"features this host's KVM does not offer (.*CPUID 1.0 edx bit 10)"
}

refuses_vfio() {
	local ini=/tmp/snapv.ini out
	bind_vfio 0000:00:04.0 || return 1
	vm_ini "$ini" "initrd=/tmp/snap.cpio.gz"
	printf '[vfio.nvme]\nhost = 0000:00:04.0\n[api]\nsocket = /tmp/snapv.sock\n' >>"$ini"
	run_vmm 200 "$ini" 2>/tmp/snapv.err &
	local pid=$!
	for _ in $(seq 600); do grep -q "GUEST count 2" "$ini.console" 2>/dev/null && break; sleep 0.1; done
	mkdir -p /tmp/snapv
	"$MINIVMM_REPO/build/minivmm-ctl" /tmp/snapv.sock pause >/dev/null
	out=$("$MINIVMM_REPO/build/minivmm-ctl" /tmp/snapv.sock snapshot path=/tmp/snapv 2>&1)
	echo "    $out"
	"$MINIVMM_REPO/build/minivmm-ctl" /tmp/snapv.sock shutdown >/dev/null
	wait "$pid"
	echo "$out" | grep -q "vfio.nvme (vfio-pci) cannot be saved or migrated: its host driver has no VFIO migration support; remove it first"
}

l1() {
	guest_script &&
		check "the guest runs with virtio-blk, virtio-net and virtio-rng" start_vm &&
		cp "$INI.console" /tmp/snap-first.console &&
		check "pause and snapshot through the API; minivmm exits 0" snap /tmp/snap1 &&
		check "restore in a new process: the count goes on, no second boot" \
			restore /tmp/snap1 &&
		check "after it: the disk file intact, sleep 1 takes 1 s, rng reads, ping answers" \
			checks_after &&
		check "the restored guest saved again" snap /tmp/snap2 &&
		check "and restored again" restore /tmp/snap2 &&
		check "its disk and network still work" checks_after &&
		ctl shutdown >/dev/null && wait "$VMM" &&
		check "damaged snapshots refused (exit 1, the message), disk and console untouched" \
			damaged &&
		check "a VM with a passed-through NVMe: snapshot refused, naming it" refuses_vfio
}
