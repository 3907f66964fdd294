#!/bin/bash
# Builds kvmtool (lkvm), the peer of the boot-cycle benchmark, from its public source and
# prints the binary's path; or prints why not on stderr and exits 1. The source is a
# checkout of https://git.kernel.org/pub/scm/linux/kernel/git/will/kvmtool.git (or a
# mirror of it) at $KVMTOOL_SRC, by default $cache/kvmtool-src; where there is none, a
# clone is tried (this needs git.kernel.org, which some build machines cannot reach: then
# say where to put a checkout). Built once per source commit, in $cache/kvmtool-COMMIT.
set -uo pipefail
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
if [ ! -x "$out/lkvm" ]; then
	rm -rf "$out.tmp" && git clone -q "$src" "$out.tmp" &&
		make -C "$out.tmp" -j"$(nproc)" lkvm >"$cache/kvmtool-build.log" 2>&1 || {
		echo "kvmtool $commit did not build (last line of $cache/kvmtool-build.log: $(tail -1 "$cache/kvmtool-build.log"))" >&2
		exit 1
	}
	rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out/lkvm"
