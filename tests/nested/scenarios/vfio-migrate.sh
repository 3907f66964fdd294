# Live migration of a passed-through device through VFIO migration v2: an mtty mdev
# (a dual-port 16550 card whose driver migrates: STOP_COPY, P2P and PRE_COPY, DMA
# logging) goes with the guest, next to an NVMe that cannot migrate (the procedure:
# remove it, migrate, add it back). The guest sets each port (9600 and 57600 baud,
# raw) and loops bytes through one port, then the other, without pause, so a chunk is
# in the device's FIFO at any moment, and checks that every byte it sent came back, in
# order.
#   1. send-migration with the NVMe on the VM: refused, naming it and the fix;
#   2. the NVMe removed (the guest ejects it); a destination whose mdev is of another
#      type (mtty-1): it refuses the device's pre-copy data, the source runs on; a
#      stream whose device data a relay damages (tests/nested/mig-relay.py flips one
#      bit): the destination refuses it by its CRC-32, naming the device, exits 4, and
#      the source runs on with its device;
#   3. legacy backend -> a destination on iommufd: the ports keep their settings and
#      go on looping (no byte lost at the switchover), the device's pre-copy data was
#      sent before the switchover (the source's log says how much);
#   4. and back, iommufd -> legacy, to a third process;
#   5. a snapshot of that VM, restored in a new process: the mtty goes on too;
#   6. the NVMe added there: the guest finds it with the data it wrote before;
#   7. the downtime of the same guest without the mtty, for comparison.
# timeout: 900

INI=/tmp/vm.ini
NVME=0000:00:04.0

guest_script() {
	cat >/tmp/vmig-guest.sh <<'G'
#!/bin/sh
dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x4348 ] && [ "$(cat $d/device)" = 0x3253 ] && dev=${d##*/}
done
if [ -e /dev/nvme0n1 ]; then
	dd if=/dev/urandom of=/tmp/pat bs=4k count=16 2>/dev/null
	dd if=/tmp/pat of=/dev/nvme0n1 bs=4k count=16 oflag=direct 2>/dev/null
	echo "GUEST nvme wrote $(md5sum </tmp/pat | cut -d' ' -f1)"
fi
if [ -z "$dev" ]; then
	n=0
	while true; do n=$((n + 1)); echo "GUEST idle $n"; sleep 0.5; done
fi
ports=
for t in /sys/class/tty/ttyS*; do
	case "$(readlink -f $t)" in */$dev/*) ports="$ports ${t##*/}" ;; esac
done
set -- $ports
A=$1 B=$2
exec 3<>/dev/$A 4<>/dev/$B
stty -F /dev/$A 9600 raw -echo
stty -F /dev/$B 57600 raw -echo
cat <&3 >/tmp/rx.A &
cat <&4 >/tmp/rx.B &
settings() { stty -F /dev/$1 | tr '\n' ' ' | sed 's/  */ /g'; }
echo "GUEST settings $A: $(settings $A)"
echo "GUEST settings $B: $(settings $B)"
n=0 sa= sb= nvme=yes
while true; do
	n=$((n + 1))
	ca="a$n-" cb="b$n-"
	sa=$sa$ca sb=$sb$cb
	# One port at a time: both share the mtty's one INTx, which it raises once per
	# event and then not until the VMM unmasks it after the guest's EOI; a byte that
	# reaches the second port in that window raises nothing and waits for the next
	# event (mtty has no level semantics), with or without a migration.
	ok=0
	printf '%s' "$ca" >&3
	for i in $(seq 200); do
		[ "$(cat /tmp/rx.A)" = "$sa" ] && { ok=1; break; }
		sleep 0.05
	done
	printf '%s' "$cb" >&4
	for i in $(seq 200); do
		[ "$(cat /tmp/rx.B)" = "$sb" ] && { ok=$((ok + 1)); break; }
		sleep 0.05
	done
	ok=$((ok / 2))
	if [ $ok = 1 ]; then
		echo "GUEST loop $n ok ${#sa} ${#sb} $(stty -F /dev/$A speed) $(stty -F /dev/$B speed)"
	else
		echo "GUEST FAIL loop $n: $A sent ${#sa} got $(wc -c </tmp/rx.A), $B sent ${#sb} got $(wc -c </tmp/rx.B)"
	fi
	if [ $((n % 20)) = 0 ]; then
		echo "GUEST settings $A: $(settings $A)"
		echo "GUEST settings $B: $(settings $B)"
	fi
	if [ -e /dev/nvme0n1 ] && [ $nvme = no ]; then
		sleep 1
		echo "GUEST nvme back $(dd if=/dev/nvme0n1 bs=4k count=16 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
	fi
	[ -e /dev/nvme0n1 ] && nvme=yes || nvme=no
	sleep 0.1
done
G
	guest_initrd /tmp/vmig-guest.sh /tmp/vmig.cpio.gz
}

mdev() { # TYPE: creates one, prints its UUID
	local u
	u=$(cat /proc/sys/kernel/random/uuid)
	echo "$u" >"/sys/class/mdev_bus/mtty/mdev_supported_types/$1/create" && echo "$u"
}

ctl() { # SOCKET CMD...
	local s=$1
	shift
	"$MINIVMM_REPO/build/minivmm-ctl" "$s" "$@"
}

last_loop() { grep -a "GUEST loop" "$1" | tail -1 | tr -d '\r' | cut -d' ' -f3; }

# wait_loop CONSOLE N SECONDS: until loop N (or later) is reported ok on CONSOLE.
wait_loop() {
	local i n
	for i in $(seq $(($3 * 10))); do
		n=$(last_loop "$1")
		[ -n "$n" ] && [ "$n" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "    no loop $2 on $1 (last: ${n:-none})"
	tail -5 "$1" | sed 's/^/    /'
	return 1
}

start_source() {
	U1=$(mdev mtty-2) && U2=$(mdev mtty-2) && U3=$(mdev mtty-1) || return 1
	echo "    mdevs: $U1 $U2 (mtty-2), $U3 (mtty-1)"
	bind_vfio $NVME || return 1
	vm_ini "$INI" "initrd=/tmp/vmig.cpio.gz"
	printf '[vfio]\nbackend = legacy\n[vfio.tty]\nuuid = %s\n[vfio.nvme]\nhost = %s\n' \
		"$U1" "$NVME" >>"$INI"
	printf '[api]\nsocket = /tmp/s1.sock\n' >>"$INI"
	run_vmm 800 "$INI" 2>/tmp/s1.err &
	SRC=$!
	wait_loop "$INI.console" 3 240 || { cat /tmp/s1.err; return 1; }
	grep "VFIO migration" /tmp/s1.err | sed 's/^/    /'
	grep -a "GUEST settings\|GUEST nvme" "$INI.console" | tr -d '\r' | sed 's/^/    /'
	grep -q "vfio.tty ($U1): VFIO migration: stop-copy, p2p, pre-copy; DMA logging yes" /tmp/s1.err
}

refused_with_nvme() {
	local out
	out=$(ctl /tmp/s1.sock send-migration to=unix:/tmp/never.sock 2>&1)
	echo "    $out"
	echo "$out" | grep -q "vfio.nvme (vfio-pci) cannot be saved or migrated: its host driver has no VFIO migration support; remove it first (remove-device)"
}

remove_nvme() {
	ctl /tmp/s1.sock remove-device name=vfio.nvme >/dev/null || return 1
	for _ in $(seq 300); do
		ctl /tmp/s1.sock info | grep -q '"vfio.nvme"' || return 0
		sleep 0.1
	done
	echo "    the guest did not eject the NVMe"
	return 1
}

# incoming N UUID BACKEND: a destination on /tmp/mN.sock with its own API socket and
# console; its pid in DST.
incoming() {
	rm -f "/tmp/c$1.console"
	timeout --kill-after=5 700 "$MINIVMM_REPO/build/minivmm" --incoming "unix:/tmp/m$1.sock" \
		--set "vfio.tty.uuid=$2" --set "vfio.backend=$3" --set "api.socket=/tmp/s$1.sock" \
		--set "console.path=/tmp/c$1.console" 2>"/tmp/d$1.err" &
	DST=$!
	for _ in $(seq 100); do [ -S "/tmp/m$1.sock" ] && return 0; sleep 0.1; done
	cat "/tmp/d$1.err"
	return 1
}

other_type_refused() {
	local n rc
	incoming 9 "$U3" legacy || return 1
	n=$(last_loop "$INI.console")
	ctl /tmp/s1.sock send-migration to=unix:/tmp/m9.sock >/dev/null || return 1
	wait "$DST"
	rc=$?
	sed 's/^/    dst: /' /tmp/d9.err | grep -v "pci \|api:"
	grep "migration to unix:/tmp/m9.sock failed" /tmp/s1.err | sed 's/^/    src: /'
	[ "$rc" = 4 ] || { echo "    destination exit $rc, expected 4"; return 1; }
	grep -q "the destination refused the guest: vfio.tty ($U3): the device refused its migrated state" /tmp/s1.err &&
		wait_loop "$INI.console" $((n + 3)) 60
}

damaged_refused() {
	local n rc relay
	incoming 8 "$U2" legacy || return 1
	rm -f /tmp/relay.sock
	python3 "$MINIVMM_REPO/tests/nested/mig-relay.py" /tmp/relay.sock /tmp/m8.sock >/tmp/relay.out 2>&1 &
	relay=$!
	for _ in $(seq 100); do [ -S /tmp/relay.sock ] && break; sleep 0.1; done
	n=$(last_loop "$INI.console")
	ctl /tmp/s1.sock send-migration to=unix:/tmp/relay.sock >/dev/null || return 1
	wait "$DST"
	rc=$?
	wait "$relay"
	sed 's/^/    /' /tmp/relay.out
	grep "incoming migration" /tmp/d8.err | sed 's/^/    dst: /'
	grep "migration to unix:/tmp/relay.sock failed" /tmp/s1.err | sed 's/^/    src: /'
	[ "$rc" = 4 ] || { echo "    destination exit $rc, expected 4"; return 1; }
	grep -q "relay: flipped a bit of vfio.tty" /tmp/relay.out &&
		grep -q "the destination refused the guest: the pre-copy data of vfio.tty arrived damaged (CRC-32" /tmp/s1.err &&
		wait_loop "$INI.console" $((n + 3)) 60
}

# migrate FROM-SOCKET FROM-CONSOLE FROM-ERR FROM-PID N UUID BACKEND
migrate() {
	local n rc
	incoming "$5" "$6" "$7" || return 1
	n=$(last_loop "$2")
	ctl "$1" send-migration to="unix:/tmp/m$5.sock" >/dev/null || return 1
	wait "$4"
	rc=$?
	[ "$rc" = 0 ] || { echo "    source exit $rc"; tail -5 "$3"; return 1; }
	grep "round\|pre-copy\|migrated to\|state saved" "$3" | tail -6 | sed 's/^/    src: /'
	grep "incoming\|state\|interrupts" "/tmp/d$5.err" | sed 's/^/    dst: /'
	wait_loop "/tmp/c$5.console" $((n + 5)) 90 || return 1
	grep -q "GUEST loop 1 ok" "/tmp/c$5.console" && { echo "    the guest booted again"; return 1; }
	grep -aq "GUEST FAIL" "/tmp/c$5.console" && { grep -a "GUEST FAIL" "/tmp/c$5.console" | head -3; return 1; }
	grep -a "GUEST loop" "/tmp/c$5.console" | tail -1 | tr -d '\r' | sed 's/^/    /'
	grep -a "GUEST settings" "/tmp/c$5.console" | tail -2 | tr -d '\r' | sed 's/^/    /'
	# Any loop line will do (this console has only the destination's): the last one
	# may still be being written.
	grep -q "vfio.tty ($6): .*pre-copy\|bytes of device data sent in pre-copy" "$3" &&
		grep -a "GUEST loop" "/tmp/c$5.console" | grep -q " ok .* 9600 57600"
}

legacy_to_iommufd() {
	migrate /tmp/s1.sock "$INI.console" /tmp/s1.err "$SRC" 2 "$U2" iommufd && SRC=$DST
}

iommufd_to_legacy() {
	migrate /tmp/s2.sock /tmp/c2.console /tmp/d2.err "$SRC" 3 "$U1" legacy && SRC=$DST
}

snapshot_restore() {
	local n
	mkdir -p /tmp/snap
	ctl /tmp/s3.sock info | grep -o '"migration": "[^"]*"' | sed 's/^/    info: /'
	ctl /tmp/s3.sock pause >/dev/null && ctl /tmp/s3.sock snapshot path=/tmp/snap >/dev/null ||
		return 1
	n=$(last_loop /tmp/c3.console)
	ctl /tmp/s3.sock shutdown >/dev/null
	wait "$SRC"
	timeout --kill-after=5 400 "$MINIVMM_REPO/build/minivmm" --restore /tmp/snap 2>/tmp/r.err &
	SRC=$!
	wait_loop /tmp/c3.console $((n + 5)) 90 || { cat /tmp/r.err; return 1; }
	grep "state saved\|restored" /tmp/d3.err /tmp/r.err | sed 's/^/    /'
	grep -a "GUEST loop" /tmp/c3.console | tail -1 | tr -d '\r' | sed 's/^/    /'
	grep -a "GUEST FAIL\|GUEST loop 1 ok" /tmp/c3.console | head -3 | tr -d '\r' | sed 's/^/    /'
	! grep -aq "GUEST FAIL\|GUEST loop 1 ok" /tmp/c3.console
}

nvme_back() {
	local out
	out=$(ctl /tmp/s3.sock add-device kind=vfio name=nvme host=$NVME 2>&1) || { echo "    $out"; return 1; }
	for _ in $(seq 300); do
		grep -aq "GUEST nvme back" /tmp/c3.console && break
		sleep 0.1
	done
	grep -a "GUEST nvme" "$INI.console" /tmp/c3.console | tr -d '\r' | sed 's/^/    /'
	[ "$(grep -a "GUEST nvme wrote" "$INI.console" | tr -d '\r' | cut -d' ' -f4)" = \
		"$(grep -a "GUEST nvme back" /tmp/c3.console | tail -1 | tr -d '\r' | cut -d' ' -f4)" ]
}

downtimes() {
	local ini=/tmp/plain.ini pid rc
	ctl /tmp/s3.sock shutdown >/dev/null
	wait "$SRC"
	vm_ini "$ini" "initrd=/tmp/vmig.cpio.gz"
	printf '[api]\nsocket = /tmp/p1.sock\n' >>"$ini"
	run_vmm 300 "$ini" 2>/tmp/p1.err &
	pid=$!
	for _ in $(seq 1200); do grep -aq "GUEST idle 3" "$ini.console" 2>/dev/null && break; sleep 0.1; done
	timeout 120 "$MINIVMM_REPO/build/minivmm" --incoming unix:/tmp/p2.sock --set api.socket=/tmp/p2api.sock \
		--set console.path=/tmp/p2.console 2>/tmp/p2.err &
	for _ in $(seq 100); do [ -S /tmp/p2.sock ] && break; sleep 0.1; done
	ctl /tmp/p1.sock send-migration to=unix:/tmp/p2.sock >/dev/null
	wait "$pid"
	rc=$?
	echo "    with the mtty (legacy -> iommufd): $(grep -o 'downtime [0-9]* ms' /tmp/s1.err)"
	echo "    with the mtty (iommufd -> legacy): $(grep -o 'downtime [0-9]* ms' /tmp/d2.err)"
	echo "    without it:                        $(grep -o 'downtime [0-9]* ms' /tmp/p1.err)"
	ctl /tmp/p2api.sock shutdown >/dev/null
	[ "$rc" = 0 ] && grep -q "downtime" /tmp/p1.err
}

l1() {
	guest_script &&
		check "a guest with an mtty (legacy) and an NVMe runs, looping bytes through both ports" \
			start_source &&
		check "send-migration with the NVMe: refused, naming it and the fix" refused_with_nvme &&
		check "the NVMe removed: the guest ejects it" remove_nvme &&
		check "a destination mdev of another type refuses the device's data; the source runs on" \
			other_type_refused &&
		check "device data damaged in the stream: the destination refuses it; the source runs on" \
			damaged_refused &&
		check "legacy -> iommufd: settings kept, bytes loop on, none lost, pre-copy data sent" \
			legacy_to_iommufd &&
		check "iommufd -> legacy, to a third minivmm: the same" iommufd_to_legacy &&
		check "snapshot and restore with the mtty: the ports go on looping" snapshot_restore &&
		check "the NVMe added on the destination: its data is there" nvme_back &&
		check "downtime next to the same guest without the mtty" downtimes
}
