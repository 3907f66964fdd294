#!/bin/bash
# Build the test-bed kernel (guest-images/kernel.config on tinyconfig) from Debian's
# linux-source-6.12 and print the path of the cached bzImage on stdout; the uncompressed
# vmlinux (ELF, with the PVH entry note) is kept beside it.
#
# The cache key covers every input: the source package version, the fragment and this
# script. A finished build is reused; an interrupted one is started again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${MINIVMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minivmm}
src_pkg=linux-source-6.12

say() { echo "[kernel] $*" >&2; }
die() { echo "[kernel] error: $*" >&2; exit 1; }

ver=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null) ||
	die "package $src_pkg is not installed; run: sudo tests/install-deps.sh"
tarball=$(ls /usr/src/linux-source-6.12.tar.xz 2>/dev/null) ||
	die "/usr/src/linux-source-6.12.tar.xz missing; reinstall $src_pkg"
for tool in gcc make bc flex bison xz; do
	command -v "$tool" >/dev/null || die "'$tool' not found; run: sudo tests/install-deps.sh"
done

key=$( (echo "$ver"; cat "$here/kernel.config" "$0") | sha256sum | cut -c1-16)
out="$cache/kernel-$key"
mkdir -p "$cache"
# One build per key at a time: a second caller waits for the first and reuses its result.
exec 9>"$out.lock"
flock 9
if [ -f "$out/bzImage" ]; then
	echo "$out/bzImage"
	exit 0
fi

free_kb=$(df -Pk "$cache" | awk 'NR==2 {print $4}')
[ "$free_kb" -gt 3000000 ] || die "need 3 GB free under $cache, have $((free_kb / 1024)) MB"

build="$cache/kernel-$key.build"
rm -rf "$build" && mkdir -p "$build"
say "building $src_pkg $ver into $out (about 10 minutes on 2 cores)"
say "unpacking source"
tar -C "$build" -xf "$tarball"
cd "$build/linux-source-6.12"
make -s tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m .config "$here/kernel.config" >"$build/merge.log" 2>&1
make -s olddefconfig >/dev/null

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
done <"$here/kernel.config"
[ "$bad" = 0 ] || die "kernel.config is inconsistent; see above"

say "compiling (log: $build/make.log)"
jobs=$(nproc)
make -j"$jobs" bzImage vmlinux >"$build/make.log" 2>&1 &
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
cp arch/x86/boot/bzImage vmlinux .config "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
cd / && rm -rf "$build"
say "done: $out/bzImage"
echo "$out/bzImage"
