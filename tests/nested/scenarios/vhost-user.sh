# vhost-user back ends that Debian ships, driven by minivmm's front end:
#   virtio-fs through virtiofsd (QEMU 7.2's): the guest mounts the tag; a 64 MiB file
#     the host wrote is read with the same checksum, an 8 MiB file the guest writes
#     shows up on the host with its checksum, and a listing, a rename and a delete are
#     seen on both sides (the guest's by the host, then the host's by the guest);
#   virtio-blk through qemu-storage-daemon exporting a qcow2 image: the guest writes a
#     pattern at several offsets; afterwards qemu-img check finds no errors and
#     qemu-io finds the pattern at each;
#   a second disk's back end (a raw image) killed mid-I/O: the guest's reads fail with
#     I/O errors, minivmm says why and runs on; the guest's driver resets the device
#     (unbind, bind) and its reads fail again instead of hanging; minivmm exits 0 when
#     the guest powers off;
#     the qcow2 one's back end then stops cleanly and the checks above run;
#   back ends started again on the same sockets are taken back without a reboot:
#     virtiofsd killed while the tag is unmounted and started anew, the guest mounts
#     the tag again and reads a file the host wrote meanwhile; the killed disk's
#     qemu-storage-daemon started anew, the guest's reads succeed again on the same
#     device and a pattern it writes is in the image;
#   [fs.own] path = DIR: minivmm runs virtiofsd itself; the guest reads the host's file
#     and writes its own there; once minivmm has exited, that virtiofsd and its socket
#     folder are gone.
# timeout: 600

SHARE=/tmp/share
VFS=/tmp/vfs.sock
BLK=/tmp/vblk.sock
KBLK=/tmp/kblk.sock
QCOW=/tmp/disk.qcow2
RAW=/tmp/disk.raw
OWN=/tmp/own
INI=/tmp/vu.ini

guest_script() {
	cat >/tmp/vu-guest.sh <<'G'
#!/bin/sh
mkdir -p /mnt/s
if mount -t virtiofs share /mnt/s; then
	echo "GUEST mounted: $(grep virtiofs /proc/mounts)"
	echo "GUEST host64 $(md5sum </mnt/s/host64 | cut -d' ' -f1) $(wc -c </mnt/s/host64)"
	dd if=/dev/urandom of=/tmp/g8 bs=1M count=8 2>/dev/null
	cp /tmp/g8 /mnt/s/guest8 && sync
	echo "GUEST guest8 $(md5sum </tmp/g8 | cut -d' ' -f1)"
	mv /mnt/s/renameme /mnt/s/renamed && rm /mnt/s/deleteme
	echo "GUEST listing $(ls /mnt/s | tr '\n' ' ')"
	# the host renames and deletes in turn, then leaves hostdone
	echo "GUEST fs ready"
	i=0
	while [ ! -e /mnt/s/hostdone ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
	echo "GUEST sees $(ls /mnt/s | tr '\n' ' ')"
	umount /mnt/s
	# the host kills virtiofsd now and starts another, which writes "again": mount
	# until the tag is served by that one
	echo "GUEST fs unmounted"
	i=0
	while [ $i -lt 240 ]; do
		if err=$(mount -t virtiofs share /mnt/s 2>&1); then
			[ -e /mnt/s/again ] && break
			err="mounted, but: $(ls /mnt/s/again 2>&1); root: $(ls /mnt/s 2>&1 | head -3 | tr '\n' ' ')"
			umount /mnt/s
		fi
		i=$((i + 1))
		sleep 0.5
	done
	echo "GUEST fs remount: $i failed tries, the last: ${err:-none}"
	echo "GUEST fs again: $(cat /mnt/s/again 2>/dev/null) host64 $(md5sum </mnt/s/host64 | cut -d' ' -f1)"
	umount /mnt/s
fi
mkdir -p /mnt/o
if mount -t virtiofs own /mnt/o; then
	echo "GUEST own: $(cat /mnt/o/hello)"
	echo from-the-guest >/mnt/o/fromguest && sync
	umount /mnt/o
fi
# the qcow2 disk (64 MiB) takes the pattern; the raw one (32 MiB) is read until its
# back end is killed
dev= kdev=
for d in $(ls /sys/block | grep vd); do
	case "$(cat /sys/block/$d/size)" in 131072) dev=$d ;; 65536) kdev=$d ;; esac
done
echo "GUEST disks: qcow2 $dev, raw $kdev"
dd if=/dev/zero bs=64k count=1 2>/dev/null | tr '\000' '\253' >/tmp/pat
for off in 0 16 40 63; do
	dd if=/tmp/pat of=/dev/$dev bs=64k seek=$((off * 16)) count=1 oflag=direct conv=fsync 2>/dev/null &&
		echo "GUEST wrote at ${off}M"
done
sync
echo "GUEST reading in a loop"
n=0
while [ $n -lt 600 ]; do
	if ! dd if=/dev/$kdev of=/dev/null bs=64k count=16 iflag=direct 2>/tmp/dd.err; then
		echo "GUEST read error: $(head -1 /tmp/dd.err)"
		break
	fi
	n=$((n + 1))
	[ $((n % 20)) = 0 ] && echo "GUEST reads $n"
	sleep 0.1
done
# the driver resets the device whose back end died (unbind, bind): its requests must
# fail again, not wait for ever
v=$(basename "$(readlink -f /sys/block/$kdev/device)")
timeout 60 sh -c "echo $v >/sys/bus/virtio/drivers/virtio_blk/unbind &&
	echo $v >/sys/bus/virtio/drivers/virtio_blk/bind" || echo "GUEST rebind failed or hung"
nd=$(ls /sys/bus/virtio/devices/$v/block 2>/dev/null)
if [ -n "$nd" ] && ! timeout 60 dd if=/dev/$nd of=/dev/null bs=4k count=1 iflag=direct 2>/tmp/dd2.err; then
	echo "GUEST after a reset: $nd: read error: $(head -1 /tmp/dd2.err)"
else
	echo "GUEST after a reset: ${nd:-no disk}: no error"
fi
# the host starts the back end again: the same device serves again, no reset needed
if [ -n "$nd" ]; then
	i=0
	until dd if=/dev/$nd of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; do
		i=$((i + 1))
		[ $i -ge 240 ] && break
		sleep 0.5
	done
	dd if=/dev/zero bs=64k count=1 2>/dev/null | tr '\000' '\315' >/tmp/pat2
	if dd if=/tmp/pat2 of=/dev/$nd bs=64k seek=100 count=1 oflag=direct conv=fsync 2>/dev/null; then
		echo "GUEST reconnected: $nd wrote at 6400k"
	else
		echo "GUEST reconnected: $nd: no"
	fi
fi
echo "GUEST done"
G
	guest_initrd /tmp/vu-guest.sh /tmp/vu.cpio.gz
}

start_vfsd() {
	/usr/lib/qemu/virtiofsd --socket-path="$VFS" -o source="$SHARE" -o sandbox=chroot \
		-o cache=none -f "$@" >>/tmp/vfs.log 2>&1 &
	VFSD=$!
}

start_kqsd() {
	qemu-storage-daemon --blockdev driver=file,node-name=file,filename="$RAW" \
		--export type=vhost-user-blk,id=exp,node-name=file,addr.type=unix,addr.path="$KBLK",writable=on \
		>>/tmp/kqsd.log 2>&1 &
	KQSD=$!
}

backends() {
	rm -rf "$SHARE" && mkdir -p "$SHARE"
	dd if=/dev/urandom of="$SHARE/host64" bs=1M count=64 2>/dev/null
	echo x >"$SHARE/renameme" && echo y >"$SHARE/deleteme"
	echo z >"$SHARE/host-old" && echo w >"$SHARE/host-gone"
	echo "    host64 $(md5sum <"$SHARE/host64" | cut -d' ' -f1)"
	# virtiofsd keeps a lock file under /run/virtiofsd; the host's root is read-only.
	[ -w /run ] || mount -t tmpfs tmpfs /run || return 1
	start_vfsd
	qemu-img create -f qcow2 "$QCOW" 64M >/dev/null || return 1
	qemu-storage-daemon --blockdev driver=file,node-name=file,filename="$QCOW" \
		--blockdev driver=qcow2,node-name=qcow2,file=file \
		--export type=vhost-user-blk,id=exp,node-name=qcow2,addr.type=unix,addr.path="$BLK",writable=on \
		>/tmp/qsd.log 2>&1 &
	QSD=$!
	truncate -s 32M "$RAW"
	start_kqsd
	for _ in $(seq 100); do [ -S "$VFS" ] && [ -S "$BLK" ] && [ -S "$KBLK" ] && return 0; sleep 0.1; done
	cat /tmp/vfs.log /tmp/qsd.log /tmp/kqsd.log
	return 1
}

# until PATTERN on the console, or SECONDS (checked once a second: cheap under TCG)
wait_for() {
	for _ in $(seq "$2"); do
		grep -aq "$1" "$INI.console" 2>/dev/null && return 0
		kill -0 "$VMM" 2>/dev/null || break
		sleep 1
	done
	echo "    no '$1'; minivmm's log and the console:"
	sed 's/^/    /' /tmp/vu.err
	tail -20 "$INI.console" | sed 's/^/    /'
	return 1
}

run_guest() {
	vm_ini "$INI" "initrd=/tmp/vu.cpio.gz"
	printf '[fs.share]\nsocket = %s\n[disk.q]\nvhost_user = %s\n[disk.k]\nvhost_user = %s\n' \
		"$VFS" "$BLK" "$KBLK" >>"$INI"
	rm -rf "$OWN" && mkdir -p "$OWN" && echo hello-from-the-host >"$OWN/hello"
	printf '[fs.own]\npath = %s\nsandbox = chroot\n' "$OWN" >>"$INI"
	run_vmm 500 "$INI" 2>/tmp/vu.err &
	VMM=$!
	wait_for "GUEST fs ready" 240 || return 1
	mv "$SHARE/host-old" "$SHARE/host-new" && rm "$SHARE/host-gone" && touch "$SHARE/hostdone" ||
		return 1
	wait_for "GUEST fs unmounted" 120 || return 1
	kill -9 "$VFSD" && wait "$VFSD" 2>/dev/null
	echo written-meanwhile >"$SHARE/again"
	# Down for a while, as a crashed back end would be: the guest's mounts meanwhile
	# fail, and its requests keep minivmm's device thread busy (they once put the
	# reconnection off until they stopped: the retry clock is now its own).
	sleep 5
	start_vfsd
	wait_for "GUEST fs again" 180 || return 1
	grep -a "GUEST fs remount" "$INI.console" | tr -d '\r' | sed 's/^/    /'
	wait_for "GUEST reads 20" 240 || return 1
	grep -a GUEST "$INI.console" | tr -d '\r' | grep -v "GUEST reads" | sed 's/^/    /'
	grep "vhost-user" /tmp/vu.err | sed 's/^/    /'
}

fs_checks() {
	local g
	g=$(grep -a "GUEST guest8" "$INI.console" | tr -d '\r' | cut -d' ' -f3)
	echo "    host sees guest8 $(md5sum <"$SHARE/guest8" | cut -d' ' -f1), listing: $(ls "$SHARE" | tr '\n' ' ')"
	grep -aq "GUEST host64 $(md5sum <"$SHARE/host64" | cut -d' ' -f1) 67108864" "$INI.console" &&
		grep -aq "GUEST fs again: written-meanwhile host64 $(md5sum <"$SHARE/host64" | cut -d' ' -f1)" \
			"$INI.console" &&
		[ "$(md5sum <"$SHARE/guest8" | cut -d' ' -f1)" = "$g" ] &&
		[ -e "$SHARE/renamed" ] && [ ! -e "$SHARE/renameme" ] && [ ! -e "$SHARE/deleteme" ] &&
		grep -aq "GUEST listing .*renamed" "$INI.console" &&
		grep -a "GUEST sees" "$INI.console" | tr -d '\r' | tr ' ' '\n' >/tmp/vu-sees &&
		grep -qx host-new /tmp/vu-sees && ! grep -qx host-old /tmp/vu-sees &&
		! grep -qx host-gone /tmp/vu-sees
}

killed_backend() {
	local rc
	kill -9 "$KQSD"
	wait_for "GUEST read error" 60 || return 1
	grep -a "GUEST read error" "$INI.console" | tr -d '\r' | sed 's/^/    /'
	wait_for "GUEST after a reset" 180 || return 1
	start_kqsd
	wait_for "GUEST done" 240 || return 1
	grep -a "GUEST after a reset\|GUEST rebind\|GUEST reconnected\|GUEST fs again" "$INI.console" |
		tr -d '\r' | sed 's/^/    /'
	wait "$VMM"
	rc=$?
	kill "$KQSD" && wait "$KQSD"
	grep "hung up\|is back" /tmp/vu.err | sed 's/^/    /'
	[ "$rc" = 0 ] && grep -q "hung up" /tmp/vu.err &&
		grep -aq "GUEST after a reset: vd[a-z]*: read error" "$INI.console"
}

# minivmm's own virtiofsd served [fs.own] and is gone with minivmm.
own_fs() {
	grep "fs: virtiofsd" /tmp/vu.err | sed 's/^/    /'
	echo "    $OWN/fromguest: $(cat "$OWN/fromguest" 2>&1); left: $(pgrep -af "[v]irtiofsd --fd=3" | wc -l) virtiofsd, $(ls -d /tmp/minivmm-fs-* 2>/dev/null | wc -l) socket folders"
	grep -aq "GUEST own: hello-from-the-host" "$INI.console" &&
		[ "$(cat "$OWN/fromguest" 2>/dev/null)" = from-the-guest ] &&
		! pgrep -f "[v]irtiofsd --fd=3" >/dev/null && ! ls -d /tmp/minivmm-fs-* >/dev/null 2>&1
}

# Both back ends that were killed are back: minivmm said so for each, and the disk's
# image holds what the guest wrote after its back end came back.
reconnected() {
	local rest
	rest=$(dd if="$RAW" bs=64k skip=100 count=1 2>/dev/null | tr -d '\315' | wc -c)
	echo "    bytes at 6400k of the raw image other than the pattern: $rest"
	[ "$(grep -c "the back end is back" /tmp/vu.err)" = 2 ] &&
		grep -aq "GUEST reconnected: vd[a-z]* wrote at 6400k" "$INI.console" && [ "$rest" = 0 ]
}

qcow_checks() {
	kill "$VFSD" 2>/dev/null
	kill "$QSD" && wait "$QSD" # a clean stop: qemu-storage-daemon flushes the image
	qemu-img check "$QCOW" 2>&1 | sed 's/^/    /'
	qemu-img check "$QCOW" >/dev/null 2>&1 || return 1
	for off in 0 16 40 63; do
		qemu-io -f qcow2 -r -c "read -P 0xab ${off}M 64k" "$QCOW" | head -1 | sed 's/^/    /'
		qemu-io -f qcow2 -r -c "read -P 0xab ${off}M 64k" "$QCOW" >/tmp/qio.out 2>&1
		grep -q "read 65536/65536" /tmp/qio.out && ! grep -q "verification failed" /tmp/qio.out ||
			return 1
	done
}

l1() {
	guest_script &&
		check "virtiofsd and qemu-storage-daemon (qcow2) serve their sockets" backends &&
		check "a guest with [fs.share] and a vhost-user-blk disk runs" run_guest &&
		check "virtio-fs: checksums and listing, rename and delete on both sides" fs_checks &&
		check "the block back end killed mid-I/O: the guest sees errors, minivmm exits 0" \
			killed_backend &&
		check "the qcow2 image is clean and holds the pattern at every offset" qcow_checks &&
		check "back ends started again are reconnected: the tag mounts, the disk writes" \
			reconnected &&
		check "[fs] path: minivmm's virtiofsd shares the folder, and stops with it" own_fs
}
