#!/bin/sh
# arm64 smoke test, separate from the x86 scenario runner: boots an emulated arm64 host
# (qemu-system-aarch64, TCG, EL2 so that its KVM works), runs the cross-built
# build-arm64/minivmm in it, and boots arm64 guests in these steps:
#   poweroff  1 vCPU; the guest powers off through PSCI: minivmm exits 0 ("guest
#             powered off"), and the device tree the guest booted with
#             (/sys/firmware/fdt) is byte for byte what --dry-run --dtb wrote;
#   reboot    2 vCPUs (the second started by PSCI CPU_ON: the guest counts 2); the
#             guest reboots through PSCI: exit 0, "guest rebooted (on_reboot = exit)";
#   virtio    1 vCPU, the console on virtio-console and a virtio-blk disk: the guest
#             finds both on the ECAM host bridge, their MSI-X vectors go through the
#             ITS (in /proc/interrupts), what it prints on hvc0 reaches minivmm's
#             console, it reads the pattern the host wrote on the disk and writes its
#             own, which the host then finds in the file; then it powers off.
#   net       1 vCPU and a virtio-net on a tap (which minivmm creates; the emulated
#             host gives it 10.0.0.1): the guest pings 10.0.0.1.
#   nvme      QEMU's default NVMe (MSI-X table and PBA in BAR0 beside the registers),
#             behind the emulated SMMUv3, bound to vfio-pci in the emulated host and
#             passed through by BDF: the guest's nvme driver reads the pattern this
#             script wrote in the backing file and writes one that the script then
#             finds there;
#   nvme-intx the same NVMe with the guest's MSIs off (pci=nomsi): INTx through the GIC,
#             a level irqfd with resample (kept by minivmm until the vGIC exists); the
#             guest reads what the nvme guest wrote and writes again;
#   nvme-iommufd  the same NVMe through the iommufd backend (/dev/iommu and the
#             device's cdev, [vfio] backend = iommufd): the guest reads what nvme-intx
#             wrote and writes again;
#   e1000e    an e1000e on QEMU's user network, passed through with bind = auto
#             (minivmm unbinds it from the emulated host's e1000e driver and gives it
#             back at exit): the guest gets a DHCP lease through it and makes a TCP
#             exchange (10.0.2.100:1234 answers REPLY);
#   nonviable an edu device behind a PCIe root port (no ACS in QEMU's), in one IOMMU
#             group with that port and a virtio-rng there on the emulated host's
#             virtio-pci driver: refused, exit 2, with the message naming the group
#             mate and the fix (devices behind a PCI bridge would not do: QEMU's virt
#             SMMUv3 leaves them untranslated, and minivmm says that instead);
#   mdev      an mtty mediated device (the arm64 kernel has the sample) given by its
#             UUID: the guest finds the mtty PCI function (4348:3253) with its BARs;
#             the same run drops privileges ([security] user = nobody): minivmm's uid
#             is 65534 while the guest runs, and it exits 0;
#   hotplug   no ACPI on this machine, so hotplug is the API plus a PCI rescan: a disk
#             added through the control API (minivmm-ctl add-device) is found by the
#             guest's rescan and read; remove-device without force is refused with the
#             guest-side step; the guest removes it, remove-device force = true takes
#             it away, the guest powers off, exit 0.
#   snapshot  2 vCPUs, the console on virtio-console and a virtio-blk disk (MSI-X through
#             the ITS); the guest counts every 0.5 s or so, writing 64 KiB of random data
#             in its memory and on its disk each time, reading the disk back and
#             timing a sleep 1 every 2nd. Paused and saved through the API (minivmm-ctl pause, snapshot
#             path=DIR), that minivmm shut down (exit 0); `minivmm --restore DIR` in a new
#             process: the count goes on (no second boot), sleep 1 takes 1 s, the disk
#             reads (their interrupts) work and match what the guest has in memory; the
#             restored guest is saved and restored again, the same; a copy of the
#             snapshot with one byte of its state flipped is refused, exit 1, and so
#             are copies whose state says (under a CRC-32 made to match) a vGIC of
#             another size, a vCPU MPIDR this VM has not, more registers than fit.
#   migrate   the same guest, live-migrated while it writes to a second minivmm
#             (--incoming unix:PATH, send-migration): the source exits 0, the counts of
#             both consoles run 1, 2, 3... with no second boot, sleep 1 and the disk as
#             after a restore, the destination exits 0 at shutdown.
# The seccomp filters are on throughout, and shown live: in the reboot guest, with
# seccomp = log, vCPU 0 makes a forbidden call (MINIVMM_SECCOMP_TEST=vcpu: socket(),
# 198 on arm64), which is reported and fails with ENOSYS; at the end the same call with
# seccomp = on gets minivmm killed by SIGSYS (status 159).
# ARM64_SMOKE_SECCOMP=log runs the guests with denied calls reported instead of fatal.
# ARM64_SMOKE_STEPS="snapshot migrate" (names as above; nvme is its three runs, seccomp
# the last one) runs and checks only those steps, in the same emulated host.
# The snapshot and migrate steps and their checks are in arm64-smoke-state.sh.
#
# Kernel for both levels: the test bed's own arm64 Image (guest-images/build-kernel.sh
# arm64: linux-source-6.12 cross-compiled, everything built in, IOMMUFD included,
# which Debian's arm64 kernel lacks), cached like the x86 one; busybox from
# busybox-static:arm64, fetched once with apt-get download into the cache.
#
#   tests/nested/arm64-smoke.sh            (after make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
#   tests/nested/arm64-smoke.sh --bench N  the arm64 boot benchmark instead (make bench):
#             N boot cycles each of minivmm and of kvmtool (cross-built from its public
#             source by tests/bench/kvmtool.sh arm64), alternating, on the same Image,
#             initramfs, memory and vCPU, in the same emulated host; launch to the
#             guest's "userspace reached" line and to the VMM's exit, medians.
# Exit 0: "userspace reached" seen and minivmm exited 0; 1: it did not; 77: skipped
# (something missing, said why). The emulated host's console is kept in
# $CACHE/arm64/smoke.log, or in $ARM64_SMOKE_LOG (the scenario runner gives each checkout
# its own, so that two runs on one machine do not write one file).
set -eu
BENCH=
[ "${1:-}" = --bench ] && BENCH=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${MINIVMM_CACHE:-${HOME:-/root}/.cache/minivmm}/arm64
BIN=${MINIVMM_ARM64_BIN:-$ROOT/build-arm64/minivmm}
TIMEOUT=${ARM64_SMOKE_TIMEOUT:-900}
SECCOMP=${ARM64_SMOKE_SECCOMP:-on} # log: denied calls are reported, not fatal
STEPS=${ARM64_SMOKE_STEPS:-}       # empty: every step
# want STEP: the step is to run (and be checked).
want() { [ -z "$STEPS" ] || echo " $STEPS " | grep -q " $1 "; }
LIBDIRS="/usr/aarch64-linux-gnu/lib /usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu"

skip() {
	echo "arm64-smoke: SKIP: $*" >&2
	exit 77
}

command -v qemu-system-aarch64 >/dev/null || skip "no qemu-system-aarch64 (install-deps: qemu-system-arm)"
command -v cpio >/dev/null || skip "no cpio"
[ -x "$BIN" ] || skip "no $BIN (make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)"
mkdir -p "$CACHE"
cd "$CACHE"

# Debian's packages, fetched once.
fetch() { # PACKAGE: its .deb in the cache
	ls "$1"_*_arm64.deb >/dev/null 2>&1 ||
		apt-get download "$1:arm64" >/dev/null 2>&1 ||
		skip "cannot apt-get download $1:arm64"
}
# Two runs at once (two checkouts, or CI beside a developer's run) take turns here:
# one fetches and unpacks, the other then finds it done (they once unpacked into one
# folder together and both failed).
exec 9>"$CACHE/.fetch.lock"
flock 9
fetch busybox-static
if [ ! -f busybox ]; then
	bx=$(mktemp -d "$CACHE/bx.XXXXXX")
	dpkg-deb -x busybox-static_*_arm64.deb "$bx"
	cp "$bx/bin/busybox" busybox.new && mv busybox.new busybox && rm -rf "$bx"
fi
flock -u 9
KIMG=$("$ROOT/guest-images/build-kernel.sh" arm64) || {
	echo "arm64-smoke: FAIL: the arm64 kernel did not build (see above)"
	exit 1
}

L=${ARM64_SMOKE_LOG:-$CACHE/smoke.log}

# The guest's initramfs: report, then power off or reboot (smoke= on the command line).
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/g/bin" "$W/g/proc" "$W/g/sys" "$W/g/dev"
cp busybox "$W/g/bin/busybox"
mknod "$W/g/dev/console" c 5 1
cat >"$W/g/init" <<'EOS'
#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sys /sys
echo "GUEST-FDT $smoke: $($b sha256sum /sys/firmware/fdt | $b cut -d' ' -f1)"
echo "GUEST-CPUS $smoke: $($b grep -c ^processor /proc/cpuinfo)"
if [ "$smoke" = virtio ]; then
	echo "GUEST-VCON: console on $($b cat /sys/class/tty/console/active)"
	$b mount -t devtmpfs dev /dev
	echo "GUEST-BLK read: $($b dd if=/dev/vda bs=512 skip=4096 count=1 2>/dev/null | $b head -1)"
	echo "guest-wrote-this-on-arm64" | $b dd of=/dev/vda bs=512 seek=2048 conv=fsync 2>/dev/null
fi
if [ "$smoke" = net ]; then
	$b ip link set eth0 up
	$b ip addr add 10.0.0.2/24 dev eth0
	echo "GUEST-NET: $($b ping -c 3 -W 5 10.0.0.1 2>&1 | $b grep 'packets transmitted')"
fi
case "$smoke" in nvme*)
	$b mount -t devtmpfs dev /dev
	for _ in $($b seq 300); do [ -b /dev/nvme0n1 ] && break; $b sleep 0.1; done
	# nvme: the script's pattern, and ours at 2048; nvme-intx: that one, ours at 6144;
	# nvme-iommufd: that one, ours at 10240.
	skip=4096 seek=2048
	[ "$smoke" = nvme-intx ] && skip=2048 seek=6144
	[ "$smoke" = nvme-iommufd ] && skip=6144 seek=10240
	echo "GUEST-NVME $smoke read: $($b dd if=/dev/nvme0n1 bs=512 skip=$skip count=1 2>/dev/null | $b head -1)"
	echo "guest-wrote-this-through-vfio-$smoke" | $b dd of=/dev/nvme0n1 bs=512 seek=$seek conv=fsync 2>/dev/null
	;;
esac
if [ "$smoke" = mdev ]; then
	for d in /sys/bus/pci/devices/*; do
		[ "$($b cat $d/vendor)" = 0x4348 ] && [ "$($b cat $d/device)" = 0x3253 ] &&
			echo "GUEST-MDEV mtty at ${d##*/}, BAR0 $($b head -1 $d/resource)"
	done
	$b sleep 2 # the host looks at minivmm's uid meanwhile
fi
if [ "$smoke" = hotplug ]; then
	$b mount -t devtmpfs dev /dev
	echo "GUEST-HP ready"
	for _ in $($b seq 300); do
		echo 1 >/sys/bus/pci/rescan
		[ -b /dev/vda ] && break
		$b sleep 0.2
	done
	echo "GUEST-HP read: $($b dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | $b head -1)"
	bdf=$($b basename "$($b readlink -f /sys/block/vda/device/..)")
	echo 1 >"/sys/bus/pci/devices/$bdf/remove"
	echo "GUEST-HP removed $bdf: $([ -e /sys/bus/pci/devices/$bdf ] && echo still there || echo gone)"
	$b sleep 600 # until the host's shutdown request
fi
if [ "$smoke" = e1000e ]; then
	printf '#!/bin/busybox sh\n[ "$1" = bound ] && /bin/busybox ip addr add "$ip/${mask:-24}" dev "$interface"\nexit 0\n' >/dhcp.sh
	$b chmod +x /dhcp.sh
	for _ in $($b seq 100); do [ -e /sys/class/net/eth0 ] && break; $b sleep 0.1; done
	echo "GUEST-E1000E driver: $($b basename "$($b readlink /sys/class/net/eth0/device/driver)")"
	$b ip link set eth0 up
	$b udhcpc -i eth0 -f -q -n -t 10 -T 2 -s /dhcp.sh >/dev/null 2>&1
	echo "GUEST-E1000E lease: $($b ip -4 addr show eth0 | $b grep -o 'inet [0-9./]*')"
	echo "GUEST-E1000E nc: $(echo hi | $b timeout 30 $b nc 10.0.2.100 1234)"
	$b grep eth0 /proc/interrupts | $b sed "s/^/GUEST-IRQ $smoke: /"
fi
# The PCI devices' interrupts: through the ITS ("ITS-..." chip) or INTx ("GICv3").
$b grep -E 'virtio|nvme' /proc/interrupts | $b sed "s/^/GUEST-IRQ $smoke: /"
if [ "$smoke" = counter ]; then
	# Snapshot and migration: a count every 0.5 s or so; each count writes 64 KiB of
	# random data into block n % 4 of /f (in RAM) and of the disk; every 2nd reads the
	# disk back (direct I/O: interrupts from virtio-blk), sums both, and times a sleep 1.
	$b mount -t devtmpfs dev /dev
	$b dd if=/dev/urandom of=/f bs=64k count=4 2>/dev/null
	$b dd if=/f of=/dev/vda bs=64k count=4 oflag=direct 2>/dev/null
	echo "GUEST boot, file $($b md5sum </f | $b cut -d' ' -f1)"
	n=0
	while true; do
		n=$((n + 1))
		$b dd if=/dev/urandom of=/w bs=64k count=1 2>/dev/null
		$b dd if=/w of=/f bs=64k seek=$((n % 4)) count=1 conv=notrunc 2>/dev/null
		$b dd if=/w of=/dev/vda bs=64k seek=$((n % 4)) count=1 oflag=direct 2>/dev/null
		echo "GUEST count $n $($b cut -d' ' -f1 /proc/uptime)"
		if [ $((n % 2)) = 0 ]; then
			d=$($b dd if=/dev/vda bs=64k count=4 iflag=direct 2>/dev/null | $b md5sum | $b cut -d' ' -f1)
			echo "GUEST disk $d mem $($b md5sum </f | $b cut -d' ' -f1)"
			# read is the shell's own: only the sleep is a process to start, which
			# takes a while in a guest of an emulated host
			read -r t0 _ </proc/uptime
			$b sleep 1
			read -r t1 _ </proc/uptime
			echo "GUEST slept $t0 $t1"
		fi
		$b sleep 0.5
	done
fi
echo "userspace reached"
if [ "$smoke" = reboot ]; then $b reboot -f; else $b poweroff -f; fi
EOS
chmod +x "$W/g/init"
(cd "$W/g" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$W/guest.cpio.gz"

# The emulated host's initramfs: busybox, minivmm and the arm64 libraries it needs, the
# guest's kernel, initrd and config.
H="$W/h"
mkdir -p "$H/bin" "$H/lib" "$H/proc" "$H/sys" "$H/dev" "$H/tmp" "$H/guest"
cp busybox "$H/bin/busybox"
cp "$BIN" "$H/bin/minivmm"
CTL=$(dirname "$BIN")/minivmm-ctl
[ -x "$CTL" ] || skip "no $CTL (make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- build-arm64/minivmm-ctl)"
cp "$CTL" "$H/bin/minivmm-ctl"
LKVM=
if [ -n "$BENCH" ]; then
	echo "$BENCH" >"$H/bench"
	if LKVM=$("$ROOT/tests/bench/kvmtool.sh" arm64 2>"$W/kvmtool.why"); then
		cp "$LKVM" "$H/bin/lkvm"
	else
		echo "arm64-bench: no kvmtool: $(cat "$W/kvmtool.why")"
	fi
fi
mknod "$H/dev/console" c 5 1
printf %s "$STEPS" >"$H/steps" # empty: every step
mkdir -p "$H/etc"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >"$H/etc/passwd"
echo "nogroup:x:65534:" >"$H/etc/group"
# The libraries are minivmm's NEEDED entries and theirs, read off the ELF files, so that a
# new dependency cannot leave the host without it (libz did once: exit 127 everywhere).
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
want="ld-linux-aarch64.so.1 $(needed "$BIN") $(needed "$CTL") $([ -z "$LKVM" ] || needed "$LKVM")"
while [ -n "$want" ]; do
	next=""
	for lib in $want; do
		[ -e "$H/lib/$lib" ] && continue
		found=""
		for d in $LIBDIRS; do
			[ -e "$d/$lib" ] && found="$d/$lib" && break
		done
		[ -n "$found" ] || skip "no arm64 $lib (install-deps: the :arm64 libraries)"
		cp -L "$found" "$H/lib/$lib"
		next="$next $(needed "$H/lib/$lib")"
	done
	want="$next"
done
cp "$KIMG" "$H/guest/Image"
cp "$ROOT/tests/nested/arm64-smoke-state.sh" "$H/arm64-smoke-state.sh"
cp "$W/guest.cpio.gz" "$H/guest/initrd.cpio.gz"
cat >"$H/guest/guest.ini" <<EOS
[security]
seccomp = $SECCOMP
[vm]
name = arm64-smoke
memory = 256M
vcpus = 1
kernel = Image
initrd = initrd.cpio.gz
cmdline = "console=ttyS0 panic=-1 loglevel=4 smoke=poweroff"
on_reboot = exit
[console]
mode = stdio
EOS
cat >"$H/init" <<'EOS'
#!/bin/busybox sh
export PATH=/bin LD_LIBRARY_PATH=/lib
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "ARM64-SMOKE: host up at $(cut -d' ' -f1 /proc/uptime) s; $(dmesg | grep -m1 -o 'kvm \[1\]: .*mode' || echo 'no KVM line')"
if [ ! -c /dev/kvm ]; then
	echo "ARM64-SMOKE: no /dev/kvm in the emulated host"
	poweroff -f
fi
vmm() {
	/lib/ld-linux-aarch64.so.1 --library-path /lib /bin/minivmm "$@" </dev/null
}
want() { [ ! -s /steps ] || grep -qw "$1" /steps; }
# The benchmark: launch to "userspace reached" and to exit, each VMM in turn.
bench_one() { # SIDE ROUND COMMAND...
	side=$1 n=$2
	shift 2
	rm -f /tmp/tu
	t0=$(cut -d' ' -f1 /proc/uptime)
	"$@" </dev/null 2>"/tmp/$side.err" | while IFS= read -r l; do
		case "$l" in *"userspace reached"*) cut -d' ' -f1 /proc/uptime >/tmp/tu ;; esac
	done
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "ARM64-BENCH $side $n $t0 $(cat /tmp/tu 2>/dev/null || echo -) $t1"
}
if [ -f /bench ]; then
	for n in $(seq "$(cat /bench)"); do
		bench_one minivmm "$n" vmm /guest/guest.ini
		[ -x /bin/lkvm ] && HOME=/tmp bench_one kvmtool "$n" \
			/lib/ld-linux-aarch64.so.1 --library-path /lib /bin/lkvm run -k /guest/Image \
			-i /guest/initrd.cpio.gz -m 256 -c 1 --irqchip=gicv3-its --console serial \
			-n mode=none -p "console=ttyS0 panic=-1 loglevel=4 smoke=poweroff"
	done
	tail -3 /tmp/kvmtool.err 2>/dev/null | sed 's/^/ARM64-BENCH kvmtool says: /'
	poweroff -f
fi
run() { # NAME, then --set arguments
	name=$1
	shift
	t0=$(cut -d' ' -f1 /proc/uptime)
	vmm "$@" /guest/guest.ini
	rc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo "ARM64-SMOKE: $name: minivmm exit $rc, $t0 -> $t1 s of host uptime"
}
if want poweroff; then
	vmm --dry-run --dtb /tmp/dry.dtb /guest/guest.ini >/dev/null
	echo "ARM64-SMOKE: dry-run FDT: $(sha256sum /tmp/dry.dtb | cut -d' ' -f1)"
	run poweroff
fi
want reboot && MINIVMM_SECCOMP_TEST=vcpu run reboot --set security.seccomp=log \
	--set vm.vcpus=2 --set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=reboot"
if want virtio; then
	dd if=/dev/zero of=/tmp/disk.img bs=1M count=8 2>/dev/null
	echo "host-wrote-this" | dd of=/tmp/disk.img bs=512 seek=4096 conv=notrunc 2>/dev/null
	run virtio --set console.device=virtio --set disk.root.path=/tmp/disk.img \
		--set "vm.cmdline=console=hvc0 panic=-1 loglevel=4 smoke=virtio"
	echo "ARM64-SMOKE: virtio: the disk holds" \
		"'$(dd if=/tmp/disk.img bs=512 skip=2048 count=1 2>/dev/null | head -1)'"
fi
if want net; then
	# minivmm makes tap0 (TUNSETIFF); the host side gets its address once it is there.
	(
		for _ in $(seq 200); do
			ip link set tap0 up 2>/dev/null && ip addr add 10.0.0.1/24 dev tap0 && break
			sleep 0.1
		done
	) &
	run net --set net.eth0.tap=tap0 --set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=net"
fi
if want nvme; then
	# The NVMe: its own IOMMU group behind the SMMUv3, bound to vfio-pci by hand.
	nvme=0000:00:04.0
	echo "$nvme" >"/sys/bus/pci/devices/$nvme/driver/unbind" 2>/dev/null
	echo vfio-pci >"/sys/bus/pci/devices/$nvme/driver_override"
	echo "$nvme" >/sys/bus/pci/drivers_probe
	echo "ARM64-SMOKE: nvme at '$nvme', driver" \
		"$(basename "$(readlink "/sys/bus/pci/devices/$nvme/driver")"), VFIO groups: $(ls /dev/vfio)"
	run nvme --set "vfio.nvme.host=$nvme" --set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=nvme"
	run nvme-intx --set "vfio.nvme.host=$nvme" \
		--set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=nvme-intx pci=nomsi"
	echo "ARM64-SMOKE: iommufd: $(ls /dev/iommu 2>&1), cdevs: $(ls /dev/vfio/devices 2>&1 | tr '\n' ' ')"
	run nvme-iommufd --set "vfio.nvme.host=$nvme" --set vfio.backend=iommufd \
		--set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=nvme-iommufd"
fi
if want e1000e; then
	# The e1000e at 00:05.0, on the emulated host's e1000e driver until minivmm takes it.
	nic=0000:00:05.0
	echo "ARM64-SMOKE: e1000e at $nic on $(basename "$(readlink /sys/bus/pci/devices/$nic/driver)")"
	run e1000e --set "vfio.nic.host=$nic" --set vfio.nic.bind=auto \
		--set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=e1000e"
	echo "ARM64-SMOKE: e1000e: back on $(basename "$(readlink /sys/bus/pci/devices/$nic/driver)")"
fi
if want nonviable; then
	# edu 01:00.1 on vfio-pci; its group mate 01:00.0 (a virtio-rng) stays on virtio-pci.
	edu=0000:01:00.1
	echo vfio-pci >/sys/bus/pci/devices/$edu/driver_override
	echo $edu >/sys/bus/pci/drivers_probe
	echo "ARM64-SMOKE: group of $edu: $(ls /sys/bus/pci/devices/$edu/iommu_group/devices | tr '\n' ' ')"
	vmm --set vfio.edu.host=$edu /guest/guest.ini 2>&1 | grep -v '^minivmm: stopped' |
		sed 's/^/ARM64-SMOKE: nonviable says: /'
	vmm --set vfio.edu.host=$edu /guest/guest.ini >/dev/null 2>&1
	echo "ARM64-SMOKE: nonviable: minivmm exit $?"
fi
if want mdev; then
	# An mdev (mtty), with the privileges dropped to nobody once the VM is built.
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create
	vmm --set "vfio.tty.sysfs=/sys/bus/mdev/devices/$uuid" --set security.user=nobody \
		--set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=mdev" /guest/guest.ini \
		>/tmp/mdev.out 2>&1 &
	mp=$!
	uid=
	for _ in $(seq 100); do
		if grep -q "GUEST-MDEV\|GUEST-CPUS" /tmp/mdev.out; then
			for p in /proc/[0-9]*; do
				case "$(tr '\0' ' ' <$p/cmdline 2>/dev/null)" in
				*/bin/minivmm*smoke=mdev*) uid=$(awk '/^Uid:/ {print $2}' $p/status) ;;
				esac
			done
			break
		fi
		sleep 0.1
	done
	wait $mp
	echo "ARM64-SMOKE: mdev: minivmm exit $?, uid while the guest ran: ${uid:-?}"
	grep 'GUEST-MDEV' /tmp/mdev.out
fi
if want hotplug; then
	# Hotplug through the API and a rescan in the guest.
	dd if=/dev/zero of=/tmp/hp.img bs=1M count=4 2>/dev/null
	echo "hotplugged-on-arm64" | dd of=/tmp/hp.img bs=512 seek=100 conv=notrunc 2>/dev/null
	ctl() { /lib/ld-linux-aarch64.so.1 --library-path /lib /bin/minivmm-ctl /tmp/api.sock "$@"; }
	vmm --set api.socket=/tmp/api.sock \
		--set "vm.cmdline=console=ttyS0 panic=-1 loglevel=4 smoke=hotplug" /guest/guest.ini \
		>/tmp/hp.out 2>&1 &
	hp=$!
	for _ in $(seq 600); do grep -q "GUEST-HP ready" /tmp/hp.out && break; sleep 0.1; done
	ctl add-device kind=disk name=hp path=/tmp/hp.img >/dev/null
	echo "ARM64-SMOKE: hotplug: add-device exit $?"
	for _ in $(seq 600); do grep -q "GUEST-HP removed" /tmp/hp.out && break; sleep 0.1; done
	ctl remove-device name=disk.hp 2>&1 | head -1 | sed 's/^/ARM64-SMOKE: hotplug: without force: /'
	ctl remove-device name=disk.hp force=true >/dev/null
	echo "ARM64-SMOKE: hotplug: remove-device force exit $?"
	ctl info | grep -c '"disk.hp"' | sed 's/^/ARM64-SMOKE: hotplug: disk.hp in info after: /'
	ctl shutdown >/dev/null
	wait $hp
	echo "ARM64-SMOKE: hotplug: minivmm exit $?"
	grep 'GUEST-HP' /tmp/hp.out
fi
. /arm64-smoke-state.sh
state_steps
if want seccomp; then
	MINIVMM_SECCOMP_TEST=vcpu vmm --set security.seccomp=on /guest/guest.ini
	echo "ARM64-SMOKE: seccomp-test: minivmm exit $?"
fi
poweroff -f
EOS
chmod +x "$H/init"
(cd "$H" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$W/host.cpio.gz"

# The NVMe's backing file: a pattern for the guest to read.
truncate -s 64M "$W/nvme.img"
echo "host-wrote-this-for-nvme" | dd of="$W/nvme.img" bs=512 seek=4096 conv=notrunc 2>/dev/null

start=$(date +%s)
set +e
timeout "$TIMEOUT" qemu-system-aarch64 -M virt,virtualization=on,gic-version=3,iommu=smmuv3 \
	-cpu max,pauth-impdef=on -accel tcg -smp 1 -m 2048 -nographic -no-reboot -nic none \
	-drive file="$W/nvme.img",if=none,id=nv,format=raw -device nvme,drive=nv,serial=nv0,addr=0x4 \
	-netdev "user,id=n0,guestfwd=tcp:10.0.2.100:1234-cmd:echo REPLY" \
	-device e1000e,netdev=n0,addr=0x5 \
	-device pcie-root-port,id=rp1,chassis=1,addr=0x7 \
	-device virtio-rng-pci,bus=rp1,addr=0x0.0,multifunction=on \
	-device edu,bus=rp1,addr=0x0.1,multifunction=on \
	-kernel "$KIMG" -initrd "$W/host.cpio.gz" \
	-append "console=ttyAMA0 panic=-1 rdinit=/init quiet" </dev/null >"$L" 2>&1
qrc=$?
set -e
end=$(date +%s)
for sector in 2048 6144 10240; do
	echo "ARM64-SMOKE: nvme: the backing file holds at $sector" \
		"'$(dd if="$W/nvme.img" bs=512 skip=$sector count=1 2>/dev/null | head -c 64 | tr -d '\0' | head -1)'" >>"$L"
done
grep -a 'ARM64-SMOKE\|GUEST-\|userspace reached\|minivmm:\|ARM64-BENCH' "$L" || true
echo "arm64-smoke: emulated host ran $((end - start)) s (qemu exit $qrc); log: $L"
if [ -n "$BENCH" ]; then
	# Medians per side, in ms, and kvmtool's over minivmm's.
	tr -d '\r' <"$L" | awk -v kvmtool="${LKVM:+$(basename "$(dirname "$LKVM")")}" '
	function med(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$1 == "ARM64-BENCH" && $5 != "-" && NF == 6 {
		k = $2; n[k]++; u[k, n[k]] = ($5 - $4) * 1000; e[k, n[k]] = ($6 - $4) * 1000
	}
	END {
		print "| arm64, emulated host (TCG), same Image + initramfs, 256M, 1 vCPU | runs | launch to userspace (ms) | launch to exit (ms) |"
		print "|---|---|---|---|"
		for (k in n) {
			for (i = 1; i <= n[k]; i++) { uu[i] = u[k, i]; ee[i] = e[k, i] }
			mu[k] = med(uu, n[k]); me[k] = med(ee, n[k])
			printf "| %s | %d | %.0f | %.0f |\n", k == "kvmtool" ? "kvmtool " kvmtool : k, n[k], mu[k], me[k]
		}
		if (("minivmm" in n) && ("kvmtool" in n))
			printf "| minivmm / kvmtool | | %.2f | %.2f |\n", mu["minivmm"] / mu["kvmtool"], me["minivmm"] / me["kvmtool"]
	}' | tee "$CACHE/bench.md"
	grep -q '^| minivmm |' "$CACHE/bench.md" || exit 1
	exit 0
fi
fail=0
check() { # WHAT, then the command that must succeed
	what=$1
	shift
	if "$@"; then echo "arm64-smoke: ok: $what"; else echo "arm64-smoke: FAILED: $what"; fail=1; fi
}
has() { grep -aq "$1" "$L"; }
dry=$(sed -n 's/.*ARM64-SMOKE: dry-run FDT: \([0-9a-f]*\).*/\1/p' "$L")
check "no system call denied (but the test's socket())" \
	sh -c "! grep -a 'seccomp: denied' '$L' | grep -vq 'denied system call 198 '"
if want poweroff; then
	check "poweroff: exit 0" has 'ARM64-SMOKE: poweroff: minivmm exit 0,'
	check "poweroff: guest powered off" has 'minivmm: guest powered off'
	check "poweroff: 1 vCPU" has 'GUEST-CPUS poweroff: 1'
	check "poweroff: guest's device tree is --dry-run's" \
		test -n "$dry" -a "$(sed -n 's/.*GUEST-FDT poweroff: \([0-9a-f]*\).*/\1/p' "$L" | head -1)" = "$dry"
fi
if want reboot; then
	check "reboot: 2 vCPUs" has 'GUEST-CPUS reboot: 2'
	check "reboot: exit 0" has 'ARM64-SMOKE: reboot: minivmm exit 0,'
	check "reboot: guest rebooted" has 'guest rebooted (on_reboot = exit)'
fi
if want virtio; then
	check "virtio: exit 0" has 'ARM64-SMOKE: virtio: minivmm exit 0,'
	check "virtio: the guest's console is virtio-console" has 'GUEST-VCON: console on hvc0'
	check "virtio: MSI-X through the ITS" grep -aq 'GUEST-IRQ virtio: .*ITS.*virtio' "$L"
	check "virtio-blk: the guest read the host's pattern" has 'GUEST-BLK read: host-wrote-this'
	check "virtio-blk: the file holds the guest's pattern" \
		has "ARM64-SMOKE: virtio: the disk holds 'guest-wrote-this-on-arm64'"
fi
if want net; then
	check "net: exit 0" has 'ARM64-SMOKE: net: minivmm exit 0,'
	check "net: the guest pinged the emulated host" has 'GUEST-NET: 3 packets transmitted, 3 packets received'
fi
if want nvme; then
	check "nvme: exit 0" has 'ARM64-SMOKE: nvme: minivmm exit 0,'
	check "nvme: MSI-X through the ITS" grep -aq 'GUEST-IRQ nvme: .*ITS.*nvme' "$L"
	check "nvme: the guest read the host's pattern through VFIO" \
		has 'GUEST-NVME nvme read: host-wrote-this-for-nvme'
	check "nvme: the backing file holds the guest's pattern" \
		has "ARM64-SMOKE: nvme: the backing file holds at 2048 'guest-wrote-this-through-vfio-nvme'"
	check "nvme-intx: exit 0" has 'ARM64-SMOKE: nvme-intx: minivmm exit 0,'
	check "nvme-intx: INTx through the GIC" grep -aq 'GUEST-IRQ nvme-intx: .*GICv3.*Level.*nvme' "$L"
	check "nvme-intx: the guest read the nvme guest's pattern" \
		has 'GUEST-NVME nvme-intx read: guest-wrote-this-through-vfio-nvme'
	check "nvme-intx: the backing file holds its pattern" \
		has "ARM64-SMOKE: nvme: the backing file holds at 6144 'guest-wrote-this-through-vfio-nvme-intx'"
fi
if want reboot; then
	check "seccomp = log: the forbidden call reported" \
		has 'seccomp: denied system call 198 (see asm-generic/unistd.h); it fails with ENOSYS'
	check "seccomp = log: ... and minivmm lived on" has 'vcpu 0 called socket() and lives on (returned -1)'
fi
if want seccomp; then
	check "seccomp: a forbidden call kills minivmm (SIGSYS)" \
		has 'ARM64-SMOKE: seccomp-test: minivmm exit 159'
fi
if want nvme; then
	check "nvme-iommufd: exit 0" has 'ARM64-SMOKE: nvme-iommufd: minivmm exit 0,'
	check "nvme-iommufd: through iommufd" has 'vfio: IOMMU backend iommufd'
	check "nvme-iommufd: the guest read the nvme-intx guest's pattern" \
		has 'GUEST-NVME nvme-iommufd read: guest-wrote-this-through-vfio-nvme-intx'
	check "nvme-iommufd: the backing file holds its pattern" \
		has "ARM64-SMOKE: nvme: the backing file holds at 10240 'guest-wrote-this-through-vfio-nvme-iommufd'"
fi
if want e1000e; then
	check "e1000e: exit 0" has 'ARM64-SMOKE: e1000e: minivmm exit 0,'
	check "e1000e: the guest's e1000e driver has it" has 'GUEST-E1000E driver: e1000e'
	check "e1000e: a DHCP lease through it" has 'GUEST-E1000E lease: inet 10.0.2.'
	check "e1000e: a TCP exchange" has 'GUEST-E1000E nc: REPLY'
	check "e1000e: MSI-X through the ITS" grep -aq 'GUEST-IRQ e1000e: .*ITS.*eth0' "$L"
	check "e1000e: back on the host's driver after exit" has 'ARM64-SMOKE: e1000e: back on e1000e'
fi
if want mdev; then
	check "mdev: exit 0" grep -aq 'ARM64-SMOKE: mdev: minivmm exit 0,' "$L"
	check "mdev: the guest found the mtty function" grep -aq 'GUEST-MDEV mtty at' "$L"
	check "privilege drop: minivmm ran as nobody (65534)" has 'uid while the guest ran: 65534'
fi
if want hotplug; then
	check "hotplug: add-device answered" has 'ARM64-SMOKE: hotplug: add-device exit 0'
	check "hotplug: the guest's rescan found the disk and read it" has 'GUEST-HP read: hotplugged-on-arm64'
	check "hotplug: the guest let it go" grep -aq 'GUEST-HP removed .*: gone' "$L"
	check "hotplug: remove-device without force refused with the guest-side step" \
		has 'hotplug: without force: .*no hotplug controller.*force = true'
	check "hotplug: remove-device force took it away" has 'ARM64-SMOKE: hotplug: remove-device force exit 0'
	check "hotplug: info no longer lists it" has 'ARM64-SMOKE: hotplug: disk.hp in info after: 0'
	check "hotplug: exit 0 after shutdown" has 'ARM64-SMOKE: hotplug: minivmm exit 0'
fi
if want nonviable; then
	check "nonviable: exit 2" has 'ARM64-SMOKE: nonviable: minivmm exit 2'
	check "nonviable: the message names the group mate and the fix" \
		has 'nonviable says: .*IOMMU group .* of 0000:01:00.1 is not viable: 0000:01:00.0 in the same group is bound to virtio-pci'
fi
. "$ROOT/tests/nested/arm64-smoke-state.sh"
state_checks
[ "$fail" = 0 ] && echo "arm64-smoke: PASS" && exit 0
echo "arm64-smoke: FAIL"
exit 1
