#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# run.sh SHELL TEST: how make check runs a test, a shell test with SHELL
# or, with SHELL empty, a program.  Tests run side by side
# (make check's -j), but a memory test, one that makes a memory cgroup
# (cg_make in t/lib.sh), runs alone from its cg_make on: it reads the
# machine's memory pressure and how fast the daemon answers it, which
# any test beside it would disturb.  Two locks in the build's t/
# directory: a memory test takes the gate, then the room, both
# exclusive; any other test passes the gate (so it waits while a memory
# test waits or runs) and holds the room shared while it runs.
# flock(1) holds each lock of the other tests in a process of its own
# and closes it in the test (-o), so that no daemon a test starts holds
# it.  A memory test holds its locks in its own shell (t/lib.sh), for it
# prepares beside the others, holding the room shared, until cg_make.
# Without flock(1) the tests run as they are.

sh=$1
shift
dir=${QUIRED%/*}/t
command -v flock >/dev/null 2>&1 && [ -d "$dir" ] || exec $sh "$@"
if [ -n "$sh" ] && grep -q '^[^#]*cg_make ' "$1"; then
	flock -s "$dir/tests-gate.lock" true
	QUIRE_TEST_LOCKS=$dir
	export QUIRE_TEST_LOCKS
	exec $sh "$@"
fi
flock -s "$dir/tests-gate.lock" true
exec flock -o -s "$dir/tests-room.lock" $sh "$@"
