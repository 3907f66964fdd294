# Live migration of a Linux guest between minivmm processes on this emulated host. The
# guest has virtio-blk, virtio-net (a tap) and virtio-rng; it counts, one line every
# 0.3 s or so, and each count writes 256 KiB of random data both into a 4 MiB file in
# its memory (tmpfs) and at the same place on its disk, keeping each block's checksum;
# asked over the network (a TCP port it serves), it re-reads every block from memory
# and from the disk and checks them.
# Live migration over a Unix socket to a second minivmm and on over TCP (127.0.0.1) to
# a third, while the guest writes: each source exits 0, the guest runs on at the
# destination (the consoles, one after the other, hold one unbroken count; no second
# boot), memory and disk data check out, the guest answers ping and TCP, virtio-rng
# reads. The figures (rounds, downtime, total, bytes) from the source logs.
# A destination killed (SIGKILL) midway, and one that stops answering (SIGSTOP, timeout
# 3 s): the source runs on (the count goes on), info and the log say why, the stopped
# destination exits 4 once it runs again.
# A passed-through NVMe (hot-added; the guest writes 2 MiB on it): send-migration is
# refused, naming it; the documented way round: remove-device (the guest ejects it),
# migrate, add-device on the destination: the guest reads back what it wrote.
# A handover the destination takes but whose confirmation is lost (a relay breaks the
# link as GO passes): the source stops and exits 5, the guest runs on the destination.
# Last, the guest stops writing and checks everything a last time; after the VM ends,
# its disk image holds what the guest has in memory, and (l0_after) the emulated NVMe's
# backing file what the guest wrote on it.
# Each destination gets its own API socket, console and tap (two processes cannot
# attach one tap): tap0 and tap1 both carry 192.0.2.1 and the same MAC, and the route
# to the guest (192.0.2.2) follows it to the tap of the minivmm that runs it.
# timeout: 360

GUEST_IP=192.0.2.2
BDF=0000:00:04.0

guest_script() {
	cat >/tmp/mig-guest.sh <<'G'
#!/bin/sh
B=16 # blocks of 256 KiB: 4 MiB in memory (/tmp is a tmpfs) and on /dev/vda
ip link set eth0 up && ip addr add 192.0.2.2/24 dev eth0
# The NVMe, once hot-added: 1 MiB of random data at 3 and at 40 MiB; read back when
# the device comes back after its removal. The node can appear a moment before the
# disk answers (CI once read nothing at 3 MiB and the data at 40 MiB right after), so
# a read that fails is reported on the console and tried again, up to 5 times.
nvme_sums() {
	for off in 3 40; do
		for try in 1 2 3 4 5; do
			dd if=/dev/nvme0n1 of=/tmp/nvr bs=1M skip=$off count=1 iflag=direct 2>/tmp/nvr.err &&
				[ "$(wc -c </tmp/nvr)" = 1048576 ] && break
			echo "GUEST nvme read at $off MiB, try $try: $(tr '\n' ' ' </tmp/nvr.err)" >&2
			sleep 1
		done
		printf '%s:%s ' $off "$(md5sum </tmp/nvr | cut -c1-32)"
	done
}
(
	while [ ! -b /dev/nvme0n1 ]; do sleep 0.5; done
	for off in 3 40; do
		dd if=/dev/urandom of=/tmp/nv bs=64k count=16 2>/dev/null
		dd if=/tmp/nv of=/dev/nvme0n1 bs=1M seek=$off count=1 oflag=direct conv=fsync 2>/dev/null
	done
	echo "GUEST nvme wrote $(nvme_sums)"
	while [ -b /dev/nvme0n1 ]; do sleep 0.2; done
	echo "GUEST nvme gone"
	while [ ! -b /dev/nvme0n1 ]; do sleep 0.2; done
	echo "GUEST nvme back $(nvme_sums)"
) &
# The control port: "verify" or "stop" (stop writing, then verify); the main loop
# does it between two counts and the answer goes back over the connection.
cat >/tmp/ctl.sh <<'C'
#!/bin/sh
read -r cmd
[ "$cmd" = stop ] && touch /tmp/stop
rm -f /tmp/resp
touch /tmp/req
for k in $(seq 600); do [ -e /tmp/resp ] && break; sleep 0.1; done
cat /tmp/resp
C
chmod +x /tmp/ctl.sh
nc -ll -p 5000 -e /tmp/ctl.sh &
dd if=/dev/zero of=/tmp/mem bs=256k count=$B 2>/dev/null
dd if=/tmp/mem of=/dev/vda bs=256k count=$B oflag=direct 2>/dev/null
zero=$(dd if=/dev/zero bs=256k count=1 2>/dev/null | md5sum | cut -c1-32)
i=0
while [ $i -lt $B ]; do echo $zero >/tmp/sum.$i; i=$((i + 1)); done
# Every block in memory and on the disk against its checksum; then the memory file's
# own checksum (the disk's, when they agree) and 16 bytes from virtio-rng.
verify() {
	bad=
	i=0
	while [ $i -lt $B ]; do
		s=$(cat /tmp/sum.$i)
		[ "$(dd if=/tmp/mem bs=256k skip=$i count=1 2>/dev/null | md5sum | cut -c1-32)" = "$s" ] ||
			bad="$bad mem$i"
		[ "$(dd if=/dev/vda bs=256k skip=$i count=1 iflag=direct 2>/dev/null | md5sum | cut -c1-32)" = "$s" ] ||
			bad="$bad disk$i"
		i=$((i + 1))
	done
	echo "verify $n blocks=${bad:-ok} mem=$(md5sum </tmp/mem | cut -c1-32) rng=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | wc -c)"
}
echo "GUEST boot"
n=0
while true; do
	n=$((n + 1))
	if [ ! -e /tmp/stop ]; then
		i=$((n % B))
		dd if=/dev/urandom of=/tmp/w bs=256k count=1 2>/dev/null
		s=$(md5sum </tmp/w | cut -c1-32)
		dd if=/tmp/w of=/tmp/mem bs=256k seek=$i count=1 conv=notrunc 2>/dev/null
		dd if=/tmp/w of=/dev/vda bs=256k seek=$i count=1 oflag=direct 2>/dev/null
		echo $s >/tmp/sum.$i
	fi
	echo "GUEST count $n $(cut -d' ' -f1 /proc/uptime)"
	if [ -e /tmp/req ]; then
		r=$(verify)
		echo "GUEST $r"
		echo "$r" >/tmp/resp.new && mv /tmp/resp.new /tmp/resp
		rm -f /tmp/req
	fi
	sleep 0.3
done
G
	guest_initrd /tmp/mig-guest.sh /tmp/mig.cpio.gz
}

# ctl VM COMMAND...: the API of minivmm number VM (its socket /tmp/migVM.sock).
ctl() {
	local k=$1
	shift
	"$MINIVMM_REPO/build/minivmm-ctl" "/tmp/mig$k.sock" "$@"
}

# Each minivmm K: config /tmp/migK.ini (the first only), console /tmp/migK.ini.console,
# log /tmp/migK.err, pid in PID[K]; INI names the one that runs the guest now
# (wait_console watches its console).
declare -A PID

# count_of K: the last count on minivmm K's console.
count_of() { grep -a "GUEST count" "/tmp/mig$1.ini.console" | tail -1 | tr -d '\r' | cut -d' ' -f3; }

# The guest's control port: sends a command, prints the answer line.
guest_req() { echo "$1" | timeout 90 busybox nc "$GUEST_IP" 5000 | tr -d '\r'; }

nets() {
	local mac
	ip link set lo up && ip tuntap add tap0 mode tap && ip tuntap add tap1 mode tap || return 1
	mac=$(cat /sys/class/net/tap0/address)
	ip link set tap1 address "$mac" || return 1
	for t in tap0 tap1; do
		ip addr add 192.0.2.1/32 dev $t && ip link set $t up || return 1
	done
	ip route add "$GUEST_IP/32" dev tap0 src 192.0.2.1
}

start_vm() {
	INI=/tmp/mig1.ini
	truncate -s 16M /tmp/mig-disk.img
	vm_ini "$INI" "initrd=/tmp/mig.cpio.gz"
	printf '[disk.d]\npath = /tmp/mig-disk.img\n[net.eth0]\ntap = tap0\n[rng]\n' >>"$INI"
	printf '[api]\nsocket = /tmp/mig1.sock\n' >>"$INI"
	run_vmm 400 "$INI" 2>/tmp/mig1.err &
	PID[1]=$!
	wait_console "GUEST count 5 " 180 || { cat /tmp/mig1.err; return 1; }
}

# nvme_in K: add-device on minivmm K; the guest writes its data on the NVMe.
nvme_in() {
	local out
	out=$(ctl "$1" add-device kind=vfio name=nvme host=$BDF) || { echo "    $out"; return 1; }
	wait_console "GUEST nvme wrote" 120 || return 1
	grep -a "GUEST nvme wrote" "$INI.console" | tr -d '\r' | sed 's/^/    /'
	grep -aq "GUEST nvme wrote 3:[0-9a-f]\{32\} 40:[0-9a-f]\{32\}" "$INI.console"
}

refused() {
	local out
	out=$(ctl "$1" send-migration to=unix:/tmp/mig9.mig 2>&1) && { echo "    accepted: $out"; return 1; }
	echo "    $out"
	echo "$out" | grep -q "vfio.nvme (vfio-pci) cannot be saved or migrated: its host driver has no VFIO migration support; remove it first (remove-device), and add it back after the restore or on the destination (add-device)" &&
		ctl "$1" info | grep -q '"vfio.nvme"' && ! minfo "$1" | grep -q mig9
}

# nvme_out K: remove-device on minivmm K; the guest ejects the NVMe (DEVICE_DELETED).
nvme_out() {
	local k=$1 out _
	ctl "$k" events >"/tmp/mig$k.events" &
	sleep 0.5
	out=$(ctl "$k" remove-device name=vfio.nvme) || { echo "    $out"; return 1; }
	for _ in $(seq 600); do
		grep -q DEVICE_DELETED "/tmp/mig$k.events" && break
		sleep 0.1
	done
	grep DEVICE_DELETED "/tmp/mig$k.events" | sed 's/^/    /'
	grep -q DEVICE_DELETED "/tmp/mig$k.events" && ! ctl "$k" info | grep -q '"vfio.nvme"' &&
		wait_console "GUEST nvme gone" 30
}

# wait_exit PID SECONDS: its exit status, or 124 (and it is killed) after SECONDS.
wait_exit() {
	local _
	for _ in $(seq $(($2 * 10))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$1" 2>/dev/null && { echo "    pid $1 still runs after $2 s"; kill -KILL "$1"; wait "$1"; return 124; }
	wait "$1"
}

# dest K TAP ADDR [--set ...]: starts minivmm K waiting for a migration on ADDR.
dest() {
	local k=$1 tap=$2 addr=$3 _
	shift 3
	rm -f "/tmp/mig$k.ini.console"
	# Not under run_vmm's timeout: its pid is minivmm's own, for the signals below.
	"$MINIVMM_REPO/build/minivmm" --incoming "$addr" --set "api.socket=/tmp/mig$k.sock" \
		--set "console.path=/tmp/mig$k.ini.console" --set "net.eth0.tap=$tap" "$@" \
		2>"/tmp/mig$k.err" &
	PID[$k]=$!
	for _ in $(seq 300); do
		grep -q "waiting for a migration on" "/tmp/mig$k.err" && return 0
		kill -0 "${PID[$k]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "    minivmm $k does not wait for the migration:"
	sed 's/^/    /' "/tmp/mig$k.err"
	return 1
}

# migrate FROM TO TAP ADDR: live migration from minivmm FROM to a new minivmm TO (on TAP,
# waiting on ADDR) while the guest writes; checks all that must hold afterwards.
migrate() {
	local from=$1 to=$2 tap=$3 addr=$4 out rc before first _
	dest "$to" "$tap" "$addr" || return 1
	ctl "$from" events >"/tmp/mig$from.mevents" &
	sleep 0.3
	before=$(count_of "$from")
	out=$(ctl "$from" send-migration to="$addr") || { echo "    $out"; return 1; }
	# Until the source exits (or says the migration failed: then it runs on).
	for _ in $(seq 1200); do
		kill -0 "${PID[$from]}" 2>/dev/null || break
		grep -q "migration to $addr failed" "/tmp/mig$from.err" && break
		sleep 0.1
	done
	if kill -0 "${PID[$from]}" 2>/dev/null; then
		rc=running
	else
		wait "${PID[$from]}"
		rc=$?
	fi
	grep -E "migrat(ing|ed|ion) to" "/tmp/mig$from.err" | sed 's/^minivmm: /    source: /'
	grep -E "incoming migration" "/tmp/mig$to.err" | sed 's/^minivmm: /    destination: /'
	[ "$rc" = 0 ] || { echo "    the source: exit status $rc"; return 1; }
	sed 's/^/    event: /' "/tmp/mig$from.mevents"
	grep -q '"MIGRATION_COMPLETED"' "/tmp/mig$from.mevents" ||
		{ echo "    no MIGRATION_COMPLETED event"; return 1; }
	grep -q "incoming migration complete in .* ms: the guest runs here" "/tmp/mig$to.err" ||
		{ echo "    the destination did not say so"; return 1; }
	kill -0 "${PID[$to]}" || { echo "    the destination is not running"; return 1; }
	minfo "$to" | sed 's/^/    destination info: /'
	minfo "$to" | grep -q "\"state\": \"received\", \"from\": \"$addr\", \"bytes\": [1-9]" ||
		{ echo "    the destination's info does not say how the guest came"; return 1; }
	ip route replace "$GUEST_IP/32" dev "$tap" src 192.0.2.1
	INI=/tmp/mig$to.ini
	wait_console "GUEST count" 60 || return 1
	first=$(grep -a "GUEST count" "$INI.console" | head -1 | tr -d '\r' | cut -d' ' -f3)
	echo "    count $before when send-migration was called; $(count_of "$from") last on" \
		"the source, $first first on the destination"
	grep -aq "GUEST boot" "$INI.console" && { echo "    the guest booted again"; return 1; }
	return 0
}

# counts_continuous K...: the consoles of minivmms K..., one after the other, hold one
# stream of counts 1, 2, 3, ... with none lost or repeated.
counts_continuous() {
	local k files=()
	for k in "$@"; do files+=("/tmp/mig$k.ini.console"); done
	cat "${files[@]}" | tr -d '\r' | grep -ao "GUEST count [0-9]*" | cut -d' ' -f3 |
		awk 'NR != $1 { print "    count " $1 " at line " NR; bad = 1; exit }
			END { if (!bad) print "    counts 1 to " $1 " in sequence over the consoles"; exit bad }'
}

# checks: the guest verifies its memory and disk data and reads rng; ping answers.
checks() {
	local r rc
	r=$(guest_req verify)
	echo "    guest: $r"
	echo "$r" | grep -q "blocks=ok mem=[0-9a-f]\{32\} rng=16$" || return 1
	busybox ping -c 3 -W 5 "$GUEST_IP" >/tmp/mig-ping
	rc=$?
	tail -2 /tmp/mig-ping | sed 's/^/    /'
	return $rc
}

# figures K: the migration from minivmm K as its log has it.
figures() {
	sed -n 's/^minivmm: migrated to \(.*\)/\1/p' "/tmp/mig$1.err" >>/tmp/mig-figures
}

# still_runs K: the count goes on on minivmm K.
still_runs() {
	local n
	n=$(count_of "$1")
	wait_console "GUEST count $((n + 3)) " 30 || return 1
	echo "    the count went on: $n -> $(count_of "$1")"
}

# Source K, destination killed (SIGKILL) midway: it is stopped first so that the
# migration cannot finish before the kill, killed once the source has sent data.
killed_dest() {
	local k=$1 d=$2 out
	dest "$d" tap1 "unix:/tmp/mig$d.mig" || return 1
	kill -STOP "${PID[$d]}"
	out=$(ctl "$k" send-migration to="unix:/tmp/mig$d.mig") || { echo "    $out"; return 1; }
	sleep 1
	minfo "$k" | sed 's/^/    during: /'
	minfo "$k" | grep -q '"state": "active"' || return 1
	kill -KILL "${PID[$d]}"
	wait "${PID[$d]}"
	migration_failed "$k" "$d" || return 1
	still_runs "$k"
}

# minfo K: the "migration" part of minivmm K's info, on one line.
minfo() { ctl "$1" info | tr -d '\n' | tr -s ' ' | grep -o '"migration": {[^}]*}'; }

# migration_failed K D: info on minivmm K says its migration to D failed and why; so
# does its log.
migration_failed() {
	local k=$1 d=$2 _
	for _ in $(seq 600); do
		ctl "$k" info | grep -q '"state": "failed"' && break
		kill -0 "${PID[$k]}" 2>/dev/null || { echo "    minivmm $k has exited"; return 1; }
		sleep 0.1
	done
	minfo "$k" | sed 's/^/    after: /'
	grep "migration to unix:/tmp/mig$d.mig failed" "/tmp/mig$k.err" | sed 's/^minivmm: /    log: /'
	ctl "$k" info | grep -q '"state": "failed"' &&
		grep -q "migration to unix:/tmp/mig$d.mig failed: .*; the guest runs on here" "/tmp/mig$k.err"
}

# Source K, destination stopped (SIGSTOP) and a 3 s timeout: the source gives up; the
# destination, let run again, finds the stream cut and exits 4.
stopped_dest() {
	local k=$1 d=$2 out rc
	dest "$d" tap1 "unix:/tmp/mig$d.mig" || return 1
	kill -STOP "${PID[$d]}"
	out=$(ctl "$k" send-migration to="unix:/tmp/mig$d.mig" timeout=3) || { echo "    $out"; return 1; }
	migration_failed "$k" "$d" || return 1
	ctl "$k" info | grep -q "stopped answering\|other side stopped" || return 1
	kill -CONT "${PID[$d]}"
	wait_exit "${PID[$d]}" 60
	rc=$?
	tail -2 "/tmp/mig$d.err" | sed 's/^minivmm: /    destination: /'
	[ "$rc" = 4 ] || { echo "    the destination exited $rc, not 4"; return 1; }
	still_runs "$k"
}

# nvme_back FROM K: add-device on minivmm K: the guest finds its NVMe with the data it
# wrote on it when it was on minivmm FROM.
nvme_back() {
	local k=$2 out wrote back
	out=$(ctl "$k" add-device kind=vfio name=nvme host=$BDF) || { echo "    $out"; return 1; }
	wait_console "GUEST nvme back" 120 || return 1
	wrote=$(grep -a "GUEST nvme wrote" "/tmp/mig$1.ini.console" | tr -d '\r' | cut -d' ' -f4-)
	back=$(grep -a "GUEST nvme back" "$INI.console" | tr -d '\r' | cut -d' ' -f4-)
	echo "    written on $1: $wrote"
	echo "    read on $k:    $back"
	grep -a "GUEST nvme read at" "$INI.console" | tr -d '\r' | sed 's/^/    retried: /'
	[ -n "$wrote" ] && [ "$wrote" = "$back" ] || return 1
	echo "$wrote" | tr ' ' '\n' | grep . | tr ':' ' ' >"$OUT/nvme-sums"
}

# unconfirmed K D: migration from minivmm K to a new minivmm D through a relay
# (tests/nested/mig-relay.py --drop-ack) that breaks the link towards the source as the
# handover passes: D gets the guest and runs it, K never hears D's ACK, so it cannot
# know whether the guest runs there; it must stop, saying so, and exit 5 (never two
# copies of one guest running).
unconfirmed() {
	local k=$1 d=$2 rc _
	dest "$d" tap0 "unix:/tmp/mig$d.mig" || return 1
	rm -f /tmp/relay$d.sock
	python3 "$MINIVMM_REPO/tests/nested/mig-relay.py" --drop-ack /tmp/relay$d.sock \
		"/tmp/mig$d.mig" >/tmp/relay$d.out 2>&1 &
	for _ in $(seq 50); do [ -S /tmp/relay$d.sock ] && break; sleep 0.1; done
	ctl "$k" send-migration to="unix:/tmp/relay$d.sock" >/dev/null || return 1
	wait_exit "${PID[$k]}" 120
	rc=$?
	sed 's/^/    /' /tmp/relay$d.out
	grep "migration to unix:/tmp/relay$d.sock" "/tmp/mig$k.err" | sed 's/^minivmm: /    source: /'
	[ "$rc" = 5 ] || { echo "    the source exited $rc, not 5"; return 1; }
	grep -q "did not confirm it .*this side stops so that it never runs twice" "/tmp/mig$k.err" ||
		{ echo "    the source did not say why it stopped"; return 1; }
	grep -q "incoming migration complete in .* ms: the guest runs here" "/tmp/mig$d.err" ||
		{ echo "    the destination did not take the guest"; return 1; }
	ip route replace "$GUEST_IP/32" dev tap0 src 192.0.2.1
	INI=/tmp/mig$d.ini
	wait_console "GUEST count" 60 && still_runs "$d"
}

# The guest stops writing and checks a last time; minivmm K is shut down; the disk
# image holds what the guest's memory file holds.
last_check() {
	local k=$1 r sum img
	r=$(guest_req stop)
	echo "    guest: $r"
	echo "$r" | grep -q "blocks=ok mem=[0-9a-f]\{32\} rng=16$" || return 1
	sum=${r#* mem=}
	sum=${sum%% *}
	ctl "$k" shutdown >/dev/null || return 1
	wait_exit "${PID[$k]}" 60 || { echo "    minivmm $k exited $?"; return 1; }
	img=$(dd if=/tmp/mig-disk.img bs=256k count=16 2>/dev/null | md5sum | cut -c1-32)
	echo "    disk image after the VM ended: $img"
	[ "$img" = "$sum" ]
}

l1() {
	local rc
	steps
	rc=$?
	# The logs and consoles, for a look afterwards (build/nested/migrate/).
	cp /tmp/mig*.err /tmp/mig*.console /tmp/mig*events "$OUT/" 2>/dev/null
	return $rc
}

steps() {
	rm -f /tmp/mig-figures
	guest_script &&
		check "NVMe binds to vfio-pci" bind_vfio "$BDF" &&
		check "tap0 and tap1 for the guest at $GUEST_IP" nets &&
		check "the guest runs with virtio-blk, virtio-net and virtio-rng" start_vm &&
		check "live migration 1 -> 2 over a Unix socket while the guest writes" \
			migrate 1 2 tap1 unix:/tmp/mig2.mig && figures 1 &&
		check "on 2: memory and disk data intact, ping answers, rng reads" checks &&
		check "live migration 2 -> 3 over TCP on 127.0.0.1 while the guest writes" \
			migrate 2 3 tap0 tcp:127.0.0.1:47400 && figures 2 &&
		check "on 3: memory and disk data intact, ping answers, rng reads" checks &&
		check "one count stream over the three consoles, no second boot" counts_continuous 1 2 3 &&
		check "destination killed midway: the source runs on and says why" killed_dest 3 4 &&
		check "destination stopped, timeout 3 s: the source runs on; it exits 4" stopped_dest 3 5 &&
		check "after the failures: memory and disk data intact" checks &&
		check "add-device: the NVMe passed through, the guest writes on it" nvme_in 3 &&
		check "with the NVMe in, send-migration is refused, naming it" refused 3 &&
		check "remove-device: the guest ejects the NVMe (DEVICE_DELETED)" nvme_out 3 &&
		check "live migration 3 -> 6 over a Unix socket" migrate 3 6 tap1 unix:/tmp/mig6.mig &&
		figures 3 &&
		check "handover unconfirmed (the link breaks as GO passes): the source stops, exit 5; the guest runs on 7" \
			unconfirmed 6 7 &&
		check "on 7: memory and disk data intact, ping answers, rng reads" checks &&
		check "add-device on the destination: the guest reads its NVMe data back" nvme_back 3 7 &&
		check "one count stream over the consoles of 1, 2, 3, 6, 7" counts_continuous 1 2 3 6 7 &&
		check "the guest's last check; the disk image holds its data" last_check 7 &&
		echo "migration figures (from the source logs):" && sed 's/^/    /' /tmp/mig-figures &&
		cp /tmp/mig-figures "$OUT/figures"
}

# Here, after QEMU: the emulated NVMe's backing file holds what the guest wrote on it.
l0_after() {
	local off sum
	[ -s "$OUT/nvme-sums" ] || { echo "no NVMe checksums"; return 1; }
	while read -r off sum; do
		[ "$(dd if="$OUT/nvme.img" bs=1M skip="$off" count=1 2>/dev/null | md5sum | cut -d' ' -f1)" = "$sum" ] ||
			{ echo "the MiB at $off: not in nvme.img"; return 1; }
	done <"$OUT/nvme-sums"
	echo "nvme.img holds the guest's $(wc -l <"$OUT/nvme-sums") MiB"
	cat "$OUT/figures"
}
