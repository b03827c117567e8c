#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A job that blows the per-worker hard limit (worker-data-limit) fails
# with the reason memory-limit and, after max-crashes attempts, is a dead
# letter; it is never retried forever, and the jobs around it are done.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

[ "${QUIRE_SANITIZERS:-no}" = yes ] &&
    skip "AddressSanitizer builds set no RLIMIT_DATA"
write_conf "workers 2" "worker-data-limit 64M" "max-crashes 2"
ctl submit --debug 'hog 16 10' --count 20 >/dev/null
ctl submit --debug 'hog 200' >/dev/null
ctl submit --debug 'hog 16 10' --count 20 >/dev/null
start_quired

wait_for 30 status_is .jobs.dead 1 || fail "no dead letter: $(ctl status)"
wait_for 30 status_is .jobs.done 40 || fail "the others: $(ctl status)"
ctl jobs --state dead --json | jq '.jobs[0]' > "$T/job"
jq -e '.state == "dead" and .crashes == 2 and
    (.error | startswith("memory-limit"))' "$T/job" >/dev/null ||
    fail "the big job: $(cat "$T/job")"
[ "$(status_json .fleet.memory_limit_exits)" = 2 ] ||
    fail "memory-limit exits: $(status_json .fleet.memory_limit_exits)"
grep -q 'died: memory-limit: worker out of memory' "$LOG" ||
    fail "the log does not say memory-limit"
echo "memlimit: $(jq -r .error "$T/job")"
