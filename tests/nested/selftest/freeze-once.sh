# Runner self-test: an emulated host that freezes on the first attempt only; the second
# attempt's verdict stands and says that a first one froze.
# timeout: 120
l1() {
	[ "$NESTED_ATTEMPT" = 2 ] && return 0
	kill -STOP "$(cat /tmp/out/heartbeat.pid)"
	sleep 100000
}
