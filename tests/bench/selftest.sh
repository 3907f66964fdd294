#!/bin/bash
# The benchmark's own arithmetic, checked on synthetic samples (selftest-samples.txt) so
# that a change to table.py or chart.py cannot silently skew `make bench`: ratios are
# taken round by round (not as a ratio of medians), a round missing one side drops out
# of the ratio, populate + map adds per run, and the chart is a PNG. Run by make check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0

python3 "$here/table.py" "$here/selftest-samples.txt" "$out/r.csv" >"$out/r.md" 2>"$out/err" ||
	{ echo "FAIL bench selftest: table.py exited $?"; cat "$out/err"; exit 1; }

# expect KEY MEDIAN N: the CSV row with that key (last column) has that median and n.
expect() {
	local got
	got=$(awk -F, -v k="$1" '$NF == k {print $(NF - 5) " " $(NF - 2)}' "$out/r.csv")
	if [ "$got" != "$2 $3" ]; then
		echo "FAIL bench selftest: $1: got '${got:-no row}', want '$2 $3'"
		fail=1
	fi
}
# 100/400 and 300/600: 0.25 and 0.5, median 0.375 (the ratio of medians would be 0.4).
expect boot_ratio_userspace_microvm 0.3750 2
# Round 1 has no passthrough figure: only round 2 pairs, 5000/20000.
expect io_ratio_pt_rand_read 0.2500 1
expect io_pt_rand_read 5000.0000 1
# Exits per op, per round: 0 VMM exits, 80000 KVM exits over 50000 ops.
expect io_exits_pt_rand_read 0.0000 1
expect io_kvm_exits_pt_rand_read 1.6000 1
# populate + map per run (615, 636); the hugepage run 2 is missing, so only run 1
# pairs: 15/2 for the map, 615/282 for the total.
expect dma_256_off_total_ms 625.5000 2
expect dma_256_speedup 7.5000 1
expect dma_256_total_speedup 2.1809 1
# Every markdown row has a CSV row.
if [ "$(grep -c '^| [a-zA-Z]' "$out/r.md")" != "$(($(wc -l <"$out/r.csv")))" ]; then
	echo "FAIL bench selftest: table and CSV disagree on the number of rows"
	fail=1
fi

if command -v gnuplot >/dev/null; then
	if python3 "$here/chart.py" "$out/r.csv" "$out/r.png" 2>"$out/err" &&
		[ "$(head -c 4 "$out/r.png" | od -An -tx1 | tr -d ' ')" = 89504e47 ]; then
		:
	else
		echo "FAIL bench selftest: chart.py made no PNG"
		cat "$out/err"
		fail=1
	fi
else
	echo "SKIP bench selftest chart: gnuplot not installed (tests/install-deps.sh installs gnuplot-nox)"
fi
[ "$fail" = 0 ] && echo "bench selftest: table arithmetic and chart ok"
exit "$fail"
