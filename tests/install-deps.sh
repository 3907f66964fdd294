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
set -eu
PKGS="build-essential pkg-config libfdt-dev libseccomp-dev libiniparser-dev libjansson-dev check
      acpica-tools
      linux-source-6.12 bc flex bison libelf-dev libssl-dev xz-utils cpio
      busybox-static qemu-system-x86 qemu-utils e2fsprogs passt clang libclang-rt-14-dev
      gnuplot-nox mmdebstrap"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run as root: apt-get install$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
