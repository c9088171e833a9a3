#!/bin/sh
# Runs one test (its command line is this script's arguments) in a network namespace of its own,
# with only a loopback interface, when that is possible (root, and unshare works). The host may
# hold 9443, 7070 or any other WSO2 port for its own reasons; with a namespace per test, tests
# that ctest runs side by side (-j) cannot see each other's ports either, so each one's plan is
# the same as when it runs alone. CARBON_TEST_SHARED_NET=1 runs in the host's namespace; so does
# a user who is not root, and scripts/test.sh then runs the tests one at a time.
if [ "${CARBON_TEST_SHARED_NET:-0}" != 1 ] && [ "$(id -u)" -eq 0 ] && unshare --net true 2>/dev/null; then
    # unshare without --fork execs in place: ctest's timeout still ends the test's own pid.
    exec unshare --net sh -c 'ip link set lo up && exec "$@"' isolated "$@"
fi
exec "$@"
