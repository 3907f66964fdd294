#!/bin/bash
# Build (or reuse from the cache) every image the test bed needs and print them as
# shell assignments: KERNEL=... VMLINUX=... HOST_INITRD=... GUEST_INITRD=..., and link the kernel
# and guest initramfs as guest-images/bzImage and guest-images/guest-initrd.cpio.gz.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernel=$("$here/build-kernel.sh")
host=$("$here/build-initramfs.sh" host)
guest=$("$here/build-initramfs.sh" guest)
# Stable names beside this script for configs/default.ini (links into the cache).
ln -sfn "$kernel" "$here/bzImage"
ln -sfn "$guest" "$here/guest-initrd.cpio.gz"
printf 'KERNEL=%q\nVMLINUX=%q\nHOST_INITRD=%q\nGUEST_INITRD=%q\n' "$kernel" \
	"$(dirname "$kernel")/vmlinux" "$host" "$guest"
