#!/bin/bash
# Build a busybox initramfs (host or guest flavour) from Debian's busybox-static and
# print the path of the cached .cpio.gz on stdout. Usage: build-initramfs.sh host|guest
# The cache key covers the busybox version, the init script and this script. The
# archive is reproducible: sorted entries, fixed timestamps, root-owned.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}
flavour=${1:?usage: build-initramfs.sh host|guest}
init="$here/init-$flavour"
[ -f "$init" ] || { echo "[initramfs] error: unknown flavour '$flavour'" >&2; exit 1; }
die() { echo "[initramfs] error: $*" >&2; exit 1; }
bb_ver=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
	die "package busybox-static is not installed; run: sudo tests/install-deps.sh"
command -v cpio >/dev/null || die "cpio not found; run: sudo tests/install-deps.sh"

key=$( (echo "$bb_ver"; cat "$init" "$0") | sha256sum | cut -c1-16)
out="$cache/initramfs-$flavour-$key.cpio.gz"
mkdir -p "$cache"
exec 9>"$out.lock"
flock 9
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
echo "[initramfs] building $flavour initramfs (busybox $bb_ver)" >&2
mkdir -p "$cache"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root,usr/bin,usr/sbin,mnt}
cp /bin/busybox "$root/bin/busybox"
for app in $("$root/bin/busybox" --list-full); do
	[ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"
done
install -m 0755 "$init" "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
	gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
