#!/bin/bash
# Build the test-bed kernel (guest-images/kernel.config on tinyconfig) from Debian's
# linux-source-6.12 and print the path of the cached bzImage on stdout; the uncompressed
# vmlinux (ELF, with the PVH entry note) is kept beside it.
#   build-kernel.sh arm64: the arm64 one instead (kernel-arm64.config, cross-compiled
#   with aarch64-linux-gnu-), printing the path of its Image.
#
# The cache key covers every input: the source package version, the fragment and this
# script. A finished build is reused; an interrupted one is started again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}
src_pkg=linux-source-6.12
arch=${1:-x86}
case "$arch" in
x86) fragment=$here/kernel.config kmake=() image=arch/x86/boot/bzImage name=kernel ;;
arm64)
	fragment=$here/kernel-arm64.config image=arch/arm64/boot/Image name=kernel-arm64
	kmake=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
	command -v aarch64-linux-gnu-gcc >/dev/null ||
		{ echo "[kernel] error: no aarch64-linux-gnu-gcc; run: sudo tests/install-deps.sh" >&2; exit 1; }
	;;
*) echo "[kernel] error: unknown arch '$arch' (x86 or arm64)" >&2; exit 1 ;;
esac

say() { echo "[kernel] $*" >&2; }
die() { echo "[kernel] error: $*" >&2; exit 1; }

ver=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null) ||
	die "package $src_pkg is not installed; run: sudo tests/install-deps.sh"
tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null) ||
	die "/usr/src/linux-source-6.12.tar.xz missing; reinstall $src_pkg"
for tool in gcc make bc flex bison xz; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run: sudo tests/install-deps.sh"
done

key=$( (echo "$ver"; cat "$fragment" "$0") | sha256sum | cut -c1-16)
out="$cache/$name-$key"
result=$out/$(basename "$image")
mkdir -p "$cache"
# One build per key at a time: a second caller waits for the first and reuses its result.
exec 9>"$out.lock"
flock 9
if [ -f "$result" ]; then
	echo "$result"
	exit 0
fi

free_kb=$(df -Pk "$cache" | awk 'NR==2 {print $4}')
[ "$free_kb" -gt 3000000 ] || die "need 3 GB free under $cache, have $((free_kb / 1024)) MB"

build="$cache/$name-$key.build"
rm -rf "$build" && mkdir -p "$build"
say "building $src_pkg $ver for $arch into $out (10 to 15 minutes on 2 cores)"
say "unpacking source"
tar -C "$build" -xf "$tarball"
cd "$build/linux-source-6.12"
make -s "${kmake[@]}" tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$fragment" >"$build/merge.log" 2>&1
make -s "${kmake[@]}" olddefconfig >/dev/null

# Every option the fragment asks for must have survived dependency resolution.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		! grep -q "^$opt=" .config || { say "$opt should be off"; bad=1; }
	else
		grep -qx "$line" .config || { say "$opt=$val did not stick (a dependency is missing)"; bad=1; }
	fi
done <"$fragment"
[ "$bad" = 0 ] || die "$(basename "$fragment") is inconsistent; see above"

say "compiling (log: $build/make.log)"
jobs=$(nproc)
make -j"$jobs" "${kmake[@]}" "$(basename "$image")" vmlinux >"$build/make.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
while kill -0 $pid 2>/dev/null; do
	sleep 30
	n=$(grep -c '^  CC' "$build/make.log" || true)
	say "... $n files compiled"
done
trap - EXIT
wait $pid || { tail -20 "$build/make.log" >&2; die "compile failed; full log in $build/make.log"; }

mkdir -p "$out.tmp"
cp "$image" vmlinux .config "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
cd / && rm -rf "$build"
say "done: $result"
echo "$result"
