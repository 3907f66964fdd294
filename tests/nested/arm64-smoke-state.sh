# The arm64 smoke test's snapshot and migrate steps (its header says what they do).
# arm64-smoke.sh sources this file twice: in the emulated host, whose init has it at
# /arm64-smoke-state.sh and runs state_steps (with the init's vmm and want), and
# outside afterwards, where state_checks checks their lines in the host's console log
# (with the smoke script's check, has, want and L).

# ---- In the emulated host ----
# Snapshot, restore and live migration of a counting guest (smoke=counter): 2 vCPUs,
# the console on virtio-console and a virtio-blk disk, their MSI-X through the ITS.
sctl() { # SOCKET, then the request
	s=$1
	shift
	/lib/ld-linux-aarch64.so.1 --library-path /lib /bin/minivmm-ctl "$s" "$@"
}
counter_vm() { # DISK SOCKET OUT: boots it in the background, its pid in $cpid
	vmm --set vm.vcpus=2 --set console.device=virtio --set "disk.root.path=$1" \
		--set "api.socket=$2" --set "vm.cmdline=console=hvc0 panic=-1 loglevel=4 smoke=counter" \
		/guest/guest.ini >"$3" 2>"$3.err" &
	cpid=$!
}
wait_for() { # FILE PATTERN SECONDS [TIMES]: until PATTERN is in FILE (TIMES times)
	for _ in $(seq $(($3 * 10))); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "${4:-1}" ] && return 0
		sleep 0.1
	done
	echo "ARM64-SMOKE: no '$2' in $1 after $3 s"
	return 1
}
count_in() { grep "GUEST count" "$1" | tr -d '\r' | cut -d' ' -f3 | sed -n "$2"; }
stop_counter() { # SOCKET NAME: shuts the VM down, says its exit status
	sctl "$1" shutdown >/dev/null
	wait $cpid
	echo "ARM64-SMOKE: $2: minivmm exit $?"
}
snap() { # OUT DIR: pause, snapshot into DIR, shut down; the count saved in DIR.count
	mkdir -p "$2"
	sctl /tmp/snap.sock pause >/dev/null
	count_in "$1" '$p' >"$2.count"
	ms=$(sctl /tmp/snap.sock snapshot path="$2" | sed -n 's/.*"ms": \([0-9]*\).*/\1/p')
	echo "ARM64-SMOKE: snapshot $2: saved at count $(cat "$2.count") in ${ms:-?} ms," \
		"$(du -sk "$2" | cut -f1) KiB on disk"
	stop_counter /tmp/snap.sock "snapshot $2"
}
restore() { # DIR OUT: a new minivmm from the snapshot, until the count is 3 further on
	before=$(cat "$1.count")
	vmm --restore "$1" >"$2" 2>"$2.err" &
	cpid=$!
	wait_for "$2" "GUEST count $((before + 3)) " 120
	echo "ARM64-SMOKE: restore $1: first count $(count_in "$2" 1p) (saved at $before)," \
		"boots again: $(grep -c 'GUEST boot' "$2")"
	# Three timed sleeps: the first may have begun before the save (and the guest's
	# clock runs from the pause to the save).
	wait_for "$2" "GUEST slept" 120 3
}
# guest FILE TAG: the guest's lines, for the checks.
guest() { tr -d '\r' <"$1" | grep 'GUEST' | sed "s/^/ARM64-$2: /"; }
state_steps() {
	if want snapshot; then
		dd if=/dev/zero of=/tmp/snap.img bs=1M count=8 2>/dev/null
		counter_vm /tmp/snap.img /tmp/snap.sock /tmp/c1.out
		wait_for /tmp/c1.out "GUEST count 4 " 300 && snap /tmp/c1.out /tmp/snap1
		guest /tmp/c1.out "SNAP c1"
		restore /tmp/snap1 /tmp/c2.out && snap /tmp/c2.out /tmp/snap2
		grep -o 'first KVM_RUN [0-9.]*' /tmp/c2.out.err | sed 's/^/ARM64-SMOKE: restore 1: /'
		guest /tmp/c2.out "SNAP c2"
		restore /tmp/snap2 /tmp/c3.out
		stop_counter /tmp/snap.sock "restore 2"
		grep -o 'first KVM_RUN [0-9.]*' /tmp/c3.out.err | sed 's/^/ARM64-SMOKE: restore 2: /'
		guest /tmp/c3.out "SNAP c3"
		# A byte of the state flipped (the memory linked, not copied: it is 256 MiB).
		mkdir -p /tmp/bad && cp /tmp/snap2/header /tmp/snap2/state /tmp/snap2/config.ini /tmp/bad/
		ln /tmp/snap2/memory /tmp/bad/memory
		b=$(dd if=/tmp/bad/state bs=1 skip=1000 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
		printf "\\$(printf %o $((b ^ 1)))" | dd of=/tmp/bad/state bs=1 seek=1000 conv=notrunc 2>/dev/null
		vmm --restore /tmp/bad >/dev/null 2>/tmp/bad.err
		echo "ARM64-SMOKE: damaged: minivmm exit $?"
		tail -1 /tmp/bad.err | sed 's/^/ARM64-SMOKE: damaged says: /'
		# Inconsistent states with a good CRC-32 (gzip's trailer has the same one):
		# refused, exit 1, naming what is wrong. The first record is the VM's (the vGIC's
		# interrupt count first), the second vCPU 0's (its MPIDR, mp_state, register count).
		get_u32() { dd if="$1" bs=1 skip="$2" count=4 2>/dev/null | od -An -tu4 | tr -d ' '; }
		crafted() { # WHAT OFFSET VALUE
			rm -rf /tmp/bad && mkdir -p /tmp/bad && cp /tmp/snap2/state /tmp/snap2/config.ini /tmp/bad/
			ln /tmp/snap2/memory /tmp/bad/memory
			printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($3 & 255)) $(($3 >> 8 & 255)) \
				$(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
				dd of=/tmp/bad/state bs=1 seek="$2" conv=notrunc 2>/dev/null
			crc=$(gzip -c /tmp/bad/state | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' ')
			sed "s/^state \([0-9]*\) .*/state \1 $crc/" /tmp/snap2/header >/tmp/bad/header
			vmm --restore /tmp/bad >/dev/null 2>/tmp/bad.err
			echo "ARM64-SMOKE: crafted $1: minivmm exit $?"
			grep -v '^minivmm: stopped' /tmp/bad.err | tail -1 |
				sed "s/^/ARM64-SMOKE: crafted $1 says: /"
		}
		vm_len=$(get_u32 /tmp/snap2/state 4)
		crafted nr_irqs 8 64
		crafted mpidr $((vm_len + 20)) $((0x80000055))
		crafted nr_regs $((vm_len + 32)) 5000
		rm -rf /tmp/bad /tmp/snap1 /tmp/snap2
	fi
	if want migrate; then
		dd if=/dev/zero of=/tmp/mig.img bs=1M count=8 2>/dev/null
		counter_vm /tmp/mig.img /tmp/m1.sock /tmp/m1.out
		src=$cpid
		wait_for /tmp/m1.out "GUEST count 4 " 300
		vmm --incoming unix:/tmp/m2.mig --set api.socket=/tmp/m2.sock >/tmp/m2.out 2>/tmp/m2.err &
		cpid=$!
		wait_for /tmp/m2.err "waiting for a migration on" 60
		echo "ARM64-SMOKE: migrate: send-migration at count $(count_in /tmp/m1.out '$p')"
		sctl /tmp/m1.sock send-migration to=unix:/tmp/m2.mig >/dev/null
		for _ in $(seq 1200); do kill -0 $src 2>/dev/null || break; sleep 0.1; done
		kill -0 $src 2>/dev/null && sctl /tmp/m1.sock shutdown >/dev/null
		wait $src
		echo "ARM64-SMOKE: migrate: source exit $?"
		grep -E "migrat(ing|ed|ion) to|incoming migration" /tmp/m1.out.err /tmp/m2.err |
			sed 's/^/ARM64-SMOKE: migrate: /'
		last=$(count_in /tmp/m1.out '$p')
		wait_for /tmp/m2.out "GUEST count $((last + 3)) " 120 && wait_for /tmp/m2.out "GUEST slept" 120 3
		echo "ARM64-SMOKE: migrate: last count on the source $last, first on the destination" \
			"$(count_in /tmp/m2.out 1p), boots again: $(grep -c 'GUEST boot' /tmp/m2.out)"
		stop_counter /tmp/m2.sock "migrate: destination"
		guest /tmp/m1.out "MIG m1"
		guest /tmp/m2.out "MIG m2"
	fi
}

# ---- Outside, on the log ----
# continued B: the first count after a restore of the count saved in B comes next (one
# or two on: a count may be printed between the pause and the save).
continued() {
	sed -n "s|.*ARM64-SMOKE: restore $1: first count \([0-9]*\) (saved at \([0-9]*\)), boots again: 0.*|\1 \2|p" "$L" |
		tr -d '\r' | awk '{ ok = $1 > $2 && $1 <= $2 + 2 } END { exit !ok }'
}
# slept TAG: the shortest "sleep 1" of that process took 0.9 to 1.6 s (a wrong clock
# makes every one wrong; a busy emulated host only makes some late).
slept() {
	tr -d '\r' <"$L" | awk -v t="ARM64-$1: GUEST slept" 'index($0, t) == 1 {
		d = $NF - $(NF - 1); if (!n++ || d < m) m = d; all = all " " d }
		END { print "arm64-smoke: " t ":" all " s"; exit !(n && m >= 0.9 && m < 1.6) }'
}
# disk_ok TAG: the guest read its disk back at least once, always as its memory has it.
disk_ok() {
	tr -d '\r' <"$L" | awk -v t="ARM64-$1: GUEST disk" 'index($0, t) == 1 {
		n++; if ($(NF - 2) != $NF) bad++ } END { exit !(n && !bad) }'
}
# in_sequence TAG...: the counts of those consoles, one after the other, are 1, 2, 3...
in_sequence() {
	for t in "$@"; do tr -d '\r' <"$L" | grep -a "^ARM64-$t: GUEST count "; done |
		awk '$5 != NR { bad = 1 } END { print "arm64-smoke: counts 1 to " NR; exit bad || !NR }'
}
state_checks() {
	if want snapshot; then
		check "snapshot: 2 vCPUs, virtio-blk and virtio-console MSI-X through the ITS" \
			grep -aq 'ARM64-SNAP c1: GUEST-IRQ counter: .*ITS.*virtio' "$L"
		check "snapshot: pause and snapshot through the API" \
			grep -aq 'ARM64-SMOKE: snapshot /tmp/snap1: saved at count [0-9]* in [0-9]* ms' "$L"
		check "snapshot: minivmm exits 0 after it" has 'ARM64-SMOKE: snapshot /tmp/snap1: minivmm exit 0'
		check "restore: the count goes on, no second boot" continued /tmp/snap1
		check "restore: sleep 1 takes 1 s" slept "SNAP c2"
		check "restore: disk I/O (interrupts through the ITS) and the data check out" disk_ok "SNAP c2"
		check "restore: the restored guest saved again" \
			has 'ARM64-SMOKE: snapshot /tmp/snap2: minivmm exit 0'
		check "restore: and restored again, the count goes on" continued /tmp/snap2
		check "restore: ... sleep 1 takes 1 s" slept "SNAP c3"
		check "restore: ... disk I/O and the data check out" disk_ok "SNAP c3"
		check "restore: ... minivmm exits 0 at shutdown" has 'ARM64-SMOKE: restore 2: minivmm exit 0'
		check "snapshot: a flipped byte in the state refused, exit 1" \
			has 'ARM64-SMOKE: damaged: minivmm exit 1'
		check "snapshot: ... saying so" grep -aq 'damaged says: .*its state is damaged' "$L"
		check "snapshot: a vGIC of another size refused, exit 1, saying so" grep -aq \
			'crafted nr_irqs says: .*the saved vGIC has 64 interrupts, this VM.s has 256' "$L"
		check "snapshot: an unknown vCPU MPIDR refused, exit 1, saying so" grep -aq \
			'crafted mpidr says: .*vCPU 0 was saved with MPIDR 0x80000055' "$L"
		check "snapshot: a register count beyond the bound refused, exit 1, saying so" grep -aq \
			'crafted nr_regs says: .*the state claims 5000 registers, at most 1024 fit' "$L"
		check "snapshot: ... all three with exit 1" \
			test "$(grep -ac 'ARM64-SMOKE: crafted [a-z_]*: minivmm exit 1' "$L")" = 3
	fi
	if want migrate; then
		check "migrate: the source exits 0" has 'ARM64-SMOKE: migrate: source exit 0'
		check "migrate: the destination took the guest" has 'incoming migration complete in'
		check "migrate: one count over both consoles, no second boot" in_sequence "MIG m1" "MIG m2"
		check "migrate: ... no second boot" grep -aq 'first on the destination [0-9]*, boots again: 0' "$L"
		check "migrate: sleep 1 takes 1 s on the destination" slept "MIG m2"
		check "migrate: disk I/O and the data check out on the destination" disk_ok "MIG m2"
		check "migrate: the destination exits 0 at shutdown" \
			has 'ARM64-SMOKE: migrate: destination: minivmm exit 0'
	fi
}
