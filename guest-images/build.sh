#!/bin/bash
# Build (or reuse from the cache) every image the test bed needs and print them as
# shell assignments: KERNEL=... HOST_INITRD=... GUEST_INITRD=...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kernel=$("$here/build-kernel.sh")
host=$("$here/build-initramfs.sh" host)
guest=$("$here/build-initramfs.sh" guest)
printf 'KERNEL=%q\nHOST_INITRD=%q\nGUEST_INITRD=%q\n' "$kernel" "$host" "$guest"
