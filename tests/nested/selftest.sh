#!/bin/bash
# Checks the nested runner itself: a hung scenario is killed at its timeout and reported
# with its log, a failing one is reported with the check that failed, an emulated host
# whose heartbeat stops is re-run once (and failed if it freezes again), the summary
# counts them, the exit status is non-zero, and no QEMU process is left behind.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(NESTED_SCENARIOS="$repo/tests/nested/selftest" NESTED_FREEZE_SECS=8 \
	"$repo/tests/nested/run" hang fail freeze freeze-once 2>&1)
rc=$?
fails=0
expect() {
	if grep -qF -- "$1" <<<"$out"; then return; fi
	echo "runner-selftest: missing from the runner's output: $1"
	fails=1
}
expect "FAIL hang: timed out after 20s"
expect "hang: sleeping forever"
expect "FAIL fail: l1() exited with status 1"
expect "FAILED: something that is false"
expect "FAIL freeze: the emulated host froze twice (no heartbeat for 8s after"
expect "the emulated host froze on the first attempt, no heartbeat for 8s"
expect "PASS freeze-once"
expect "1 passed, 3 failed"
[ "$rc" != 0 ] || { echo "runner-selftest: runner exited 0 with failures"; fails=1; }
if pgrep -f "build/nested/(hang|fail|freeze|freeze-once)/" >/dev/null; then
	echo "runner-selftest: a QEMU process was left behind"
	fails=1
fi
if [ "$fails" = 0 ]; then
	echo "PASS runner-selftest (hung scenario killed, frozen host re-run once, failures reported)"
else
	echo "FAIL runner-selftest; the runner printed:"
	sed 's/^/    /' <<<"$out"
fi
exit "$fails"
