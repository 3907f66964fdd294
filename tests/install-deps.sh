#!/bin/sh
# Install what minivmm needs from Debian's packages. Idempotent; run as root.
#   build:   libfdt, libseccomp, iniparser, jansson (the control API's JSON), Check
#            (unit tests), pkg-config, acpica-tools (iasl: the unit tests disassemble
#            the ACPI tables)
#   images:  linux-source-6.12 and its build tools, busybox-static, cpio
#   testbed: qemu-system-x86 (the emulated host), e2fsprogs (ext2 test disks),
#            qemu-utils (qemu-io: the disk-lock test against QEMU's locks), passt
#            (user-mode networking: [net.NAME] passt, the passt scenario)
#   fuzzing: clang and its libFuzzer/sanitizer runtimes (make fuzz)
#   bench:   gnuplot-nox (make bench draws build/bench/results.png)
#   debian:  mmdebstrap (the stock Debian guest of the debian-* scenarios)
#   arm64:   gcc-aarch64-linux-gnu (make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-),
#            the :arm64 -dev libraries that build links, dtc (decompiles the device tree
#            --dry-run writes), and qemu-system-arm (the emulated arm64 host). Bookworm's
#            libfdt-dev is not Multi-Arch: libfdt-dev:arm64 would remove the host's, so
#            the cross build takes libfdt1:arm64 (the library; its headers are the
#            host's, the same for every architecture) and links it by soname (Makefile)
set -eu
PKGS="build-essential pkg-config libfdt-dev libseccomp-dev libiniparser-dev libjansson-dev zlib1g-dev check
      acpica-tools
      linux-source-6.12 bc flex bison libelf-dev libssl-dev xz-utils cpio
      busybox-static qemu-system-x86 qemu-utils e2fsprogs passt clang libclang-rt-14-dev
      gnuplot-nox mmdebstrap
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross device-tree-compiler qemu-system-arm"
# The cross build links these arm64 builds of the libraries above (multiarch: they
# install beside the host's, and only when dpkg knows the arm64 architecture).
ARM64_PKGS="libfdt1:arm64 libseccomp-dev:arm64 libiniparser-dev:arm64 libjansson-dev:arm64 zlib1g-dev:arm64
      check:arm64"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
arm64_missing=""
for p in $ARM64_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		arm64_missing="$arm64_missing $p"
done
[ -z "$missing$arm64_missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing$arm64_missing" >&2
	[ -n "$arm64_missing" ] && echo "install-deps: run as root: dpkg --add-architecture arm64" >&2
	echo "install-deps: run as root: apt-get install$missing$arm64_missing" >&2
	exit 1
fi
echo "install-deps: installing$missing$arm64_missing"
export DEBIAN_FRONTEND=noninteractive
if [ -n "$arm64_missing" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing $arm64_missing >/dev/null
