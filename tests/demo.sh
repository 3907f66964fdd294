#!/bin/bash
# `make demo`: boot configs/default.ini. Directly where this CPU has hardware
# virtualization (vmx/svm) and /dev/kvm; otherwise inside the nested test bed (an
# emulated host under QEMU), because KVM without it cannot boot Linux in useful time.
# The guest gives a shell; `exit` or `poweroff -f` stops it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
eval "$("$repo/guest-images/build.sh")"
if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then
	echo "demo: this CPU has hardware virtualization; running minivmm directly" >&2
	# A virtio disk for the guest (/dev/vda), and the control socket to try.
	truncate -s 64M /tmp/minivmm-demo-disk.img
	echo "demo: in another terminal: $repo/build/minivmm-ctl /tmp/minivmm-demo.sock info" >&2
	exec "$repo/build/minivmm" --set disk.data.path=/tmp/minivmm-demo-disk.img \
		"$repo/configs/default.ini"
fi
echo "demo: no vmx/svm in /proc/cpuinfo; running minivmm inside the nested test bed" >&2
exec "$repo/tests/nested/run" --interactive demo
