#!/bin/bash
# Builds kvmtool (lkvm), the peer of the boot-cycle benchmark, from its public source and
# prints the binary's path; or prints why not on stderr and exits 1. The source is a
# checkout of https://git.kernel.org/pub/scm/linux/kernel/git/will/kvmtool.git (or a
# mirror of it) at $KVMTOOL_SRC, by default $cache/kvmtool-src; where there is none, a
# clone is tried (this needs git.kernel.org, which some build machines cannot reach: then
# say where to put a checkout). Built once per source commit, in $cache/kvmtool-COMMIT.
#   kvmtool.sh arm64: cross-built for arm64 (aarch64-linux-gnu-) into
#   $cache/kvmtool-arm64-COMMIT, for the arm64 boot benchmark (tests/nested/arm64-smoke.sh
#   --bench). It links libfdt1:arm64 by its soname, as minivmm's cross build does.
set -uo pipefail
arch=${1:-x86}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/minivmm
src=${KVMTOOL_SRC:-$cache/kvmtool-src}
url=https://git.kernel.org/pub/scm/linux/kernel/git/will/kvmtool.git
if [ ! -d "$src" ]; then
	mkdir -p "$cache"
	if ! timeout 120 git clone -q --depth 1 "$url" "$src.tmp" 2>"$cache/kvmtool-clone.log"; then
		rm -rf "$src.tmp"
		echo "no kvmtool source: $url could not be cloned ($(tail -1 "$cache/kvmtool-clone.log")); put a checkout at $src or set KVMTOOL_SRC" >&2
		exit 1
	fi
	mv "$src.tmp" "$src"
fi
commit=$(git -C "$src" rev-parse --short=12 HEAD 2>/dev/null) || {
	echo "$src is not a git checkout of kvmtool" >&2
	exit 1
}
out=$cache/kvmtool-$commit
kmake=()
if [ "$arch" = arm64 ]; then
	out=$cache/kvmtool-arm64-$commit
	# No libfdt-dev:arm64 (install-deps says why): -lfdt finds the library through a
	# libfdt.so link of our own; the headers are the host's libfdt-dev's.
	lib=$(ls /usr/lib/aarch64-linux-gnu/libfdt.so.1 2>/dev/null) || {
		echo "no arm64 libfdt (install-deps: libfdt1:arm64)" >&2
		exit 1
	}
	mkdir -p "$cache/kvmtool-arm64-lib" && ln -sfn "$lib" "$cache/kvmtool-arm64-lib/libfdt.so"
	kmake=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
		"CC=aarch64-linux-gnu-gcc -L$cache/kvmtool-arm64-lib")
fi
if [ ! -x "$out/lkvm" ]; then
	rm -rf "$out.tmp" && git clone -q "$src" "$out.tmp" &&
		make -C "$out.tmp" -j"$(nproc)" "${kmake[@]}" lkvm >"$cache/kvmtool-build.log" 2>&1 || {
		echo "kvmtool $commit ($arch) did not build (last line of $cache/kvmtool-build.log: $(tail -1 "$cache/kvmtool-build.log"))" >&2
		exit 1
	}
	rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out/lkvm"
