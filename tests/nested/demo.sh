# The demo (make demo) inside the emulated host: minivmm boots configs/default.ini with
# its console on this terminal. Not a test: run by tests/nested/run --interactive.
# timeout: 3600

l1() {
	"$MINIVMM_REPO/build/minivmm" "$MINIVMM_REPO/configs/default.ini"
}
