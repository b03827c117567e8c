#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Slow starts: a worker that takes longer than hang-timeout to be ready
# is not hung while it is within start-timeout; it starts and works.  One
# that is not ready within start-timeout is logged and killed, its slot
# backs off, and no job is charged for it.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

QUIRED_DEBUG_WORKER_SLOW=2500
export QUIRED_DEBUG_WORKER_SLOW
write_conf "workers 1" "heartbeat-interval 100ms" "hang-timeout 1s" \
    "start-timeout 20s"
ctl submit --debug noop --count 5 >/dev/null
start_quired
all_done() { [ "$(status_json .jobs.done)" = 5 ]; }
wait_for 30 all_done || fail "jobs not done: $(ctl status)"
grep -E 'hung|did not start' "$LOG" &&
    fail "a slow start was taken for a hang"
sv=$(quired_pid)
ctl stop > /dev/null || fail "stop failed"
wait_for 30 pid_gone "$sv" || fail "the daemon did not stop"

# Now slower than start-timeout: killed as a failed start, and again.
QUIRED_DEBUG_WORKER_SLOW=20000
write_conf "workers 1" "heartbeat-interval 100ms" "hang-timeout 1s" \
    "start-timeout 1s" "kill-grace 100ms"
ctl submit --debug noop --count 3 >/dev/null
start_quired
two_fails() {
	[ "$(grep -c 'did not start: not ready after [0-9]* ms (start-timeout)' \
	    "$LOG")" -ge 2 ]
}
wait_for 30 two_fails || fail "no start-timeout: $(tail -5 "$LOG")"
grep -q 'hung: no heartbeat' "$LOG" && fail "a starting worker called hung"
[ "$(status_json .jobs.ready)" = 3 ] ||
    fail "jobs not all ready: $(status_json .jobs)"
ctl jobs --json | jq -e 'all(.jobs[]; .crashes == 0)' >/dev/null ||
    fail "a job was charged"
echo "slowstart: slow start waited for, stuck start killed"
