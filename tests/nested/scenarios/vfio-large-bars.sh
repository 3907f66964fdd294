# GPU-sized BARs: two ivshmem-plain devices on the emulated host, each with a 64 GiB
# prefetchable 64-bit BAR2 backed by a sparse file here (nothing is allocated until
# touched), passed through with the e1000e (00:05.0) and its option ROM.
#   A: one ivshmem and the e1000e, 128 GiB of room for hotplug. The guest sees BAR2 at
#      its full size with its flags, writes a pattern at 0, 32 GiB and 64 GiB - 4 KiB
#      through its resource file (barpoke) and reads it back; reads the e1000e's ROM,
#      which must match the emulated host's sysfs rom; then moves BAR2 by hand (decode
#      off, both halves of the register, decode on) 64 GiB up: the old address goes
#      dark and a word written at the new one lands in the backing file.
#   B: both ivshmem devices at once (128 GiB of BARs), a pattern in each.
#   C: phys_bits = 36 (64 GiB of guest physical addresses): refused, exit 2, with the
#      message naming the device, the BAR and the setting to change.
#   D: one ivshmem at boot with the default 32 GiB of room; hot-adding the second
#      through the API is refused with that message, and the guest runs on.
# l0_after() finds every pattern in the backing files, and checks that they stayed
# sparse.
# timeout: 500
# ivshmem: 2

G64=$((64 << 30))
G32=$((32 << 30))

ivshmem_devs() {
	local d
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1af4:0x1110 ] && basename "$d"
	done
}

guest_script() {
	cat >/tmp/bars-guest.sh <<'G'
#!/bin/sh
run=$(sed -n 's/.*bars.run=\([A-Z]\).*/\1/p' /proc/cmdline)
if [ "$run" = D ]; then
	echo "GUEST waiting"
	sleep 600
fi
# A writes at 0, 32 GiB and 64 GiB - 4 KiB; B 8 bytes further on, so both stay visible.
case $run in A) tag=0xa skew=0 ;; B) tag=0xb skew=8 ;; esac
k=0
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = 0x1af4:0x1110 ] || continue
	k=$((k + 1))
	set -- $(sed -n 3p $d/resource)
	start=$1 end=$2 flags=$3
	echo "GUEST iv$k bar2 size $(printf 0x%x $((end - start + 1))) at $start 64bit $(((flags >> 20) & 1)) pref $(((flags >> 13) & 1))"
	ok=yes
	for off in $skew $(((32 << 30) + skew)) $(((64 << 30) - 4096 + skew)); do
		v=$(printf '0x%x%x%02x%012x' $tag $k 0 $off)
		barpoke $d/resource2 $off $v
		[ "$(barpoke $d/resource2 $off)" = "$(printf '0x%016x' $v)" ] || ok=no
	done
	echo "GUEST iv$k pattern $ok"
	[ "$run" = A ] || continue
	# Move BAR2 64 GiB up by hand, as a guest that disagrees with the placement would.
	new=$((start + (64 << 30)))
	cmd=$(od -An -tu2 -j4 -N2 $d/config | tr -d ' ')
	w16() { printf "$(printf '\\%03o\\%03o' $(($2 & 255)) $(($2 >> 8 & 255)))" | dd of=$d/config bs=1 seek=$(($1)) conv=notrunc 2>/dev/null; }
	w32() { w16 $1 $(($2 & 65535)); w16 $(($1 + 2)) $(($2 >> 16 & 65535)); }
	w16 4 $((cmd & ~2))
	w32 0x18 $(((new & 0xffffffff) | 0xc))
	w32 0x1c $((new >> 32))
	w16 4 $cmd
	devmem $((new + 4096)) 64 0xa1a1a1a1a1a1a1a1
	moved=$(devmem $((new + 4096)) 64)
	old=$(devmem $((start + 4096)) 32)
	echo "GUEST iv$k moved to $(printf 0x%x $new): read back $moved, old address reads $old"
done
nic=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = 0x8086:0x10d3 ] && nic=$d
done
if [ -n "$nic" ]; then
	echo 1 >$nic/rom
	echo "GUEST rom $(md5sum <$nic/rom | cut -d' ' -f1) $(wc -c <$nic/rom) bytes"
	echo 0 >$nic/rom
fi
echo "GUEST done"
G
	gcc -static -O2 -o /tmp/barpoke "$MINIVMM_REPO/tests/nested/barpoke.c" &&
		guest_initrd /tmp/bars-guest.sh /tmp/bars.cpio.gz /tmp/barpoke
}

bind_all() {
	local d
	for d in $(ivshmem_devs) 0000:00:05.0; do bind_vfio "$d" || return 1; done
}

# run_bars RUN EXTRA_INI...: boots the guest with bars.run=RUN; its GUEST lines and our
# log on our output.
run_bars() {
	local run=$1 ini=/tmp/bars-$1.ini rc
	shift
	vm_ini "$ini" "initrd=/tmp/bars.cpio.gz" "cmdline=console=ttyS0 panic=-1 quiet bars.run=$run" "$@"
	cat /tmp/bars-$run.devs >>"$ini"
	run_vmm 240 "$ini" 2>/tmp/bars-$run.err
	rc=$?
	sed 's/^/    /' /tmp/bars-$run.err
	grep GUEST "$ini.console" 2>/dev/null | tr -d '\r' | sed 's/^/    /'
	return $rc
}

guest_has() { grep -q "$2" "/tmp/bars-$1.ini.console"; }

run_a() {
	local iv1 md5
	iv1=$(ivshmem_devs | head -1)
	printf '[vfio.iv1]\nhost = %s\n[vfio.nic]\nhost = 0000:00:05.0\n' "$iv1" >/tmp/bars-A.devs
	run_bars A "mmio64_hotplug=128G" || return 1
	md5=$(cat /tmp/host-rom.md5)
	guest_has A "GUEST iv1 bar2 size 0x1000000000 at 0x[0-9a-f]* 64bit 1 pref 1" &&
		guest_has A "GUEST iv1 pattern yes" &&
		guest_has A "GUEST iv1 moved to 0x[0-9a-f]*: read back 0xA1A1A1A1A1A1A1A1, old address reads 0xFFFFFFFF" &&
		guest_has A "GUEST rom $md5 " &&
		guest_has A "GUEST done"
}

run_b() {
	local i=0 d
	: >/tmp/bars-B.devs
	for d in $(ivshmem_devs); do
		i=$((i + 1))
		printf '[vfio.iv%d]\nhost = %s\n' $i "$d" >>/tmp/bars-B.devs
	done
	run_bars B || return 1
	guest_has B "GUEST iv1 pattern yes" && guest_has B "GUEST iv2 pattern yes" &&
		guest_has B "GUEST iv2 bar2 size 0x1000000000" &&
		[ "$(grep -o 'bar2 size 0x1000000000 at 0x[0-9a-f]*' /tmp/bars-B.ini.console | sort -u | wc -l)" = 2 ]
}

run_c() {
	local rc
	printf '[vfio.iv1]\nhost = %s\n' "$(ivshmem_devs | head -1)" >/tmp/bars-C.devs
	run_bars C "phys_bits=36"
	rc=$?
	[ "$rc" = 2 ] || { echo "    exit $rc, not 2"; return 1; }
	grep -q "vfio.iv1 ([0-9a-f:.]*): BAR2 (64 GiB, 64-bit prefetchable) does not fit in the 64-bit PCI window \[0x100000000, 0x1000000000): the guest's physical addresses end at 0x1000000000 (\[vm\] phys_bits = 36; this host allows up to" /tmp/bars-C.err
}

# C2: a 64-bit window of a set size ([vm] mmio64 = 32G) refuses the 64 GiB BAR by name.
run_c2() {
	local rc
	cp /tmp/bars-C.devs /tmp/bars-C2.devs
	run_bars C2 "mmio64=32G"
	rc=$?
	[ "$rc" = 2 ] || { echo "    exit $rc, not 2"; return 1; }
	grep -q "vfio.iv1 ([0-9a-f:.]*): BAR2 (64 GiB, 64-bit prefetchable) does not fit in the 64-bit PCI window \[0x100000000, 0x900000000): it is \[vm\] mmio64 = 32G" /tmp/bars-C2.err
}

# D: the API refuses a 64 GiB BAR that the window's room cannot take.
run_d() {
	local ini=/tmp/bars-D.ini sock=/tmp/bars-D.sock pid out rc
	vm_ini "$ini" "initrd=/tmp/bars.cpio.gz" "cmdline=console=ttyS0 panic=-1 quiet bars.run=D"
	printf '[vfio.iv1]\nhost = %s\n[api]\nsocket = %s\n' "$(ivshmem_devs | head -1)" "$sock" >>"$ini"
	"$MINIVMM_REPO/build/minivmm" "$ini" 2>/tmp/bars-D.err &
	pid=$!
	INI=$ini wait_console "GUEST waiting" 120 || { kill -TERM $pid; wait $pid; return 1; }
	out=$("$MINIVMM_REPO/build/minivmm-ctl" "$sock" add-device kind=vfio name=iv2 \
		host="$(ivshmem_devs | sed -n 2p)" 2>&1)
	rc=$?
	echo "    add-device: exit $rc: $out"
	"$MINIVMM_REPO/build/minivmm-ctl" "$sock" ping >/dev/null || rc=0
	kill -TERM $pid
	wait $pid
	grep 'pci: 64-bit window' /tmp/bars-D.err | sed 's/^/    /'
	[ "$rc" != 0 ] && grep -q "vfio.iv2 ([0-9a-f:.]*): BAR2 (64 GiB, 64-bit prefetchable) does not fit in the 64-bit PCI window \[0x100000000, 0x2800000000): \[vm\] mmio64_hotplug = 32G is the room for devices added at run time" <<<"$out"
}

host_rom() {
	local rom=/sys/bus/pci/devices/0000:00:05.0/rom
	echo 1 >$rom && md5sum <$rom | cut -d' ' -f1 >/tmp/host-rom.md5 &&
		echo "    host rom md5 $(cat /tmp/host-rom.md5), $(wc -c <$rom) bytes" && echo 0 >$rom
}

l1() {
	check "guest initramfs with barpoke" guest_script &&
		check "two ivshmem devices with 64 GiB BAR2" \
			test "$(ivshmem_devs | wc -l)" = 2 &&
		check "the e1000e's ROM on the emulated host" host_rom &&
		check "ivshmem devices and e1000e bind to vfio-pci" bind_all &&
		check "A: 64 GiB BAR, pattern, ROM matches the host's, BAR moved by the guest" run_a &&
		check "B: two 64 GiB BARs at once, a pattern in each" run_b &&
		check "C: phys_bits = 36 refuses the 64 GiB BAR with its message, exit 2" run_c &&
		check "C2: mmio64 = 32G refuses the 64 GiB BAR by name, exit 2" run_c2 &&
		check "D: add-device of a 64 GiB BAR beyond the window's room is refused" run_d
}

# The patterns, here in the backing files: A's and B's in iv1, B's in iv2; and the word
# written through the moved BAR at offset 4096 of iv1 (the same memory, found at the
# BAR's new address).
l0_after() {
	local f k off v want run skew
	for k in 1 2; do
		f=$OUT/ivshmem-$k.mem
		[ -f "$f" ] || { echo "no $f"; return 1; }
		for run in a b; do
			[ $k = 2 ] && [ $run = a ] && continue
			skew=0
			[ $run = b ] && skew=8
			for off in $skew $((G32 + skew)) $((G64 - 4096 + skew)); do
				want=$(printf '%x%x%02x%012x' $((0x$run)) $k 0 $off)
				v=$(od -An -tx8 -j$off -N8 "$f" | tr -d ' ')
				[ "$v" = "$want" ] || { echo "$f at $off: $v, not $want"; return 1; }
			done
		done
		echo "$f: patterns found; $(du -k "$f" | cut -f1) KiB allocated"
		[ "$(du -k "$f" | cut -f1)" -lt 65536 ] || { echo "$f is not sparse"; return 1; }
	done
	v=$(od -An -tx8 -j4096 -N8 "$OUT/ivshmem-1.mem" | tr -d ' ')
	[ "$v" = a1a1a1a1a1a1a1a1 ] || { echo "the moved BAR's word is not at 4096: $v"; return 1; }
}
