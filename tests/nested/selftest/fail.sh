# Runner self-test: a failing check is reported with the console's last lines.
# timeout: 60
l1() {
	check "something that is false" false
}
