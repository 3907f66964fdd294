# Runner self-test: a scenario that never finishes must be killed at its timeout.
# timeout: 20
l1() {
	echo "hang: sleeping forever"
	sleep 100000
}
