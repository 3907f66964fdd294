# Runner self-test: an emulated host whose heartbeat stops (its loop stopped here, as a
# frozen emulator stops it) is taken as frozen, re-run once, and failed when it freezes
# again.
# timeout: 120
l1() {
	echo "freeze: attempt $NESTED_ATTEMPT, stopping the heartbeat"
	kill -STOP "$(cat /tmp/out/heartbeat.pid)"
	sleep 100000
}
