#!/bin/bash
# Build (or reuse from the cache) a stock Debian 12 guest the way a user would make one:
# mmdebstrap from Debian's repositories, systemd + udev + dbus, Debian's own
# linux-image-cloud-amd64 kernel and its initramfs-tools initramfs, root on ext4 (the
# guest's virtio-blk disk /dev/vda). Nothing in it is tuned for minivmm except the test
# agent (debian/agent), which acts only when the kernel command line asks it to.
# Prints shell assignments: DEBIAN_KERNEL=... DEBIAN_INITRD=... DEBIAN_ROOT=... (a raw
# ext4 image; use it read-only or through a copy: the scenarios give it to the emulated
# host with QEMU's snapshot=on).
#
# kexec-tools is there for the kexec scenario; LOAD_KEXEC=false keeps `systemctl reboot`
# a real reboot, as Debian's default is.
#
# The cache key covers this script, the agent and the suite; Debian's archive moves on
# (security updates), so a rebuild of the same key may pick newer packages.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}
suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
pkgs=systemd-sysv,udev,dbus,kmod,linux-image-cloud-amd64,initramfs-tools,zstd,e2fsprogs,iproute2,procps,kexec-tools

say() { echo "[debian] $*" >&2; }
die() { echo "[debian] error: $*" >&2; exit 1; }

for tool in mmdebstrap mke2fs; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run: sudo tests/install-deps.sh"
done
[ "$(id -u)" = 0 ] || die "mmdebstrap needs root here (it chroots to run the packages' scripts)"

key=$( (echo "$suite $pkgs"; cat "$0" "$here/debian/agent" "$here/debian/minivmm-agent.service") |
	sha256sum | cut -c1-16)
out="$cache/debian-$key"
mkdir -p "$cache"
exec 9>"$out.lock"
flock 9
print() {
	printf 'DEBIAN_KERNEL=%q\nDEBIAN_INITRD=%q\nDEBIAN_ROOT=%q\n' \
		"$out/vmlinuz" "$out/initrd.img" "$out/root.ext4"
}
if [ -f "$out/root.ext4" ]; then
	print
	exit 0
fi
free_kb=$(df -Pk "$cache" | awk 'NR==2 {print $4}')
[ "$free_kb" -gt 3000000 ] || die "need 3 GB free under $cache, have $((free_kb / 1024)) MB"

work="$cache/debian-$key.build"
# A build that was killed may have left proc, sys or dev mounted inside its root: take
# them down, and never let rm cross into another file system (the host's /dev).
mounts=$(findmnt -rn -o TARGET | grep "^$work/" || true)
[ -z "$mounts" ] || echo "$mounts" | sort -r | xargs umount -l
rm -rf --one-file-system "$work" "$out" && mkdir -p "$work/root"
say "building Debian $suite ($pkgs) into $out (a few minutes; log: $work/mmdebstrap.log)"
# Documentation, manuals and translations are left out to keep the image small; the
# rest is Debian's defaults (including MODULES=most in the initramfs). The initramfs is
# made again once /etc/fstab exists, so that it carries fsck for the root file system
# as on an installed system.
if ! mmdebstrap --variant=minbase --include="$pkgs" \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--customize-hook='echo minivmm-debian >"$1/etc/hostname"' \
	--customize-hook='printf "/dev/vda / ext4 errors=remount-ro 0 1\n" >"$1/etc/fstab"' \
	--customize-hook='chroot "$1" passwd -d root >/dev/null' \
	--customize-hook='sed -i "s/^LOAD_KEXEC=.*/LOAD_KEXEC=false/" "$1/etc/default/kexec"' \
	--customize-hook='chroot "$1" update-initramfs -u >/dev/null 2>&1' \
	--customize-hook="install -m 0755 $here/debian/agent \"\$1/usr/local/sbin/minivmm-agent\"" \
	--customize-hook="install -m 0644 $here/debian/minivmm-agent.service \"\$1/etc/systemd/system/\"" \
	--customize-hook='chroot "$1" systemctl enable minivmm-agent.service' \
	"$suite" "$work/root" "$mirror" >"$work/mmdebstrap.log" 2>&1; then
	tail -20 "$work/mmdebstrap.log" >&2
	die "mmdebstrap failed (log: $work/mmdebstrap.log)"
fi
mkdir -p "$out.tmp"
cp "$(ls "$work"/root/boot/vmlinuz-* | head -1)" "$out.tmp/vmlinuz"
cp "$(ls "$work"/root/boot/initrd.img-* | head -1)" "$out.tmp/initrd.img"
# Room for the journal and the guest's writes: the used size plus 256 MiB.
used_mb=$(du -sm "$work/root" | cut -f1)
mke2fs -q -t ext4 -L debian-root -d "$work/root" "$out.tmp/root.ext4" "$((used_mb + 256))M" >&2
mv "$out.tmp" "$out"
rm -rf --one-file-system "$work"
# Images of other keys are stale (600 MB each): keep only this one.
for old in "$cache"/debian-*; do
	case "$old" in "$out" | "$out".*) ;; *) rm -rf --one-file-system "$old" ;; esac
done
say "done: $(du -sh "$out/root.ext4" | cut -f1) root image"
print
