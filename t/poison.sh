#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Poison jobs: a job that kills its worker (segv) among 200 good ones is
# quarantined as a dead letter after max-crashes (3) worker deaths, and
# the 199 others are done.  A job that hangs (no heartbeat) has its
# worker logged with wchan evidence and killed once hang-timeout passes
# without a heartbeat, and is retried until it too is quarantined.  A
# stopped worker is sent SIGKILL at once, without the SIGABRT and
# kill-grace that it could not act on.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

HANG_MS=2000

write_conf "workers 2" "max-crashes 3" "hang-timeout 2s" \
    "heartbeat-interval 200ms"
ctl submit --debug noop --count 100 >/dev/null
segv=$(ctl submit --debug segv)
ctl submit --debug noop --count 99 >/dev/null
start_quired
sv=$(quired_pid)

# --- segv: three worker deaths, then a dead letter.
wait_for 60 status_is '.jobs.done + .jobs.dead' 200 ||
    fail "jobs did not finish: $(ctl status)"
ctl job --json "$segv" > "$T/j"
jq -e '.state == "dead" and .crashes == 3 and
    (.error | contains("crashed worker (signal 11)"))' "$T/j" >/dev/null ||
    fail "segv job: $(cat "$T/j")"
ctl status --json > "$T/st"
jq -e '.jobs == {"ready": 0, "leased": 0, "retry": 0, "done": 199,
    "dead": 1, "cancelled": 0} and .totals.completed == 199 and
    .fleet.deaths == 3 and .fleet.quarantined == 1 and .fleet.running == 2' \
    "$T/st" >/dev/null || fail "after segv: $(cat "$T/st")"
[ "$(grep -c "died: signal 11" "$LOG")" -eq 3 ] || fail "three deaths logged"
grep -q "job $segv quarantined after 3 crashes" "$LOG" ||
    fail "quarantine not logged"
ctl jobs --state done --limit 1000 --json |
    jq -e 'all(.jobs[]; .source == "debug" and .path == "noop")' \
    >/dev/null || fail "a job other than noop is done"
[ "$(awk '{ print $1 }' "$DATA/debug-jobs.log" | sort -u | wc -l)" -eq 199 ] ||
    fail "not every noop job ran"
grep -q "^$segv " "$DATA/debug-jobs.log" && fail "the segv job completed"

# --- hang: found hung once hang-timeout passed without a heartbeat, with
# wchan evidence, and killed; three times, then quarantined.  Each time
# is read from the log's evidence line, so that a busy machine, which
# may delay this script, cannot make it miss a run.
hang=$(ctl submit --debug hang)
wait_for 60 status_is .jobs.dead 2 || fail "hang job not quarantined"
grep "hung: no heartbeat for [0-9]* ms; job $hang (debug hang)" "$LOG" \
    > "$T/hung"
[ "$(wc -l < "$T/hung")" -eq 3 ] ||
    fail "three hung workers logged: $(cat "$T/hung")"
round=0
while read -r line; do
	round=$((round + 1))
	pid=$(echo "$line" | sed 's/.*(pid \([0-9]*\)) hung: .*/\1/')
	ms=$(echo "$line" | sed 's/.*no heartbeat for \([0-9]*\) ms.*/\1/')
	[ "$ms" -ge "$HANG_MS" ] ||
	    fail "round $round: found hung after $ms ms, before hang-timeout"
	tooks="${tooks:-}${tooks:+, }$ms"
	echo "$line" | grep -q "; wchan [a-z_]" ||
	    fail "round $round: no wchan evidence: $line"
	pid_gone "$pid" || fail "round $round: hung worker $pid still runs"
	grep -q "(pid $pid) died: signal 6; released [01] jobs*; .*job $hang" \
	    "$LOG" || fail "round $round: the death of $pid not logged"
done < "$T/hung"
ctl job --json "$hang" > "$T/j"
jq -e '.state == "dead" and .crashes == 3 and
    (.error | contains("crashed worker (signal 6)"))' "$T/j" >/dev/null ||
    fail "hang job: $(cat "$T/j")"
ctl status --json > "$T/st"
jq -e '.fleet.hung == 3 and .fleet.quarantined == 2 and .fleet.running == 2' \
    "$T/st" >/dev/null || fail "after hang: $(jq -c .fleet "$T/st")"

# --- stopped: a worker stopped by SIGSTOP acts on no signal but SIGKILL,
# so it gets SIGKILL as soon as it is found hung, with no kill-grace
# (2 s) spent waiting for a SIGABRT it cannot act on.
slow=$(ctl submit --debug "sleep 3000")
pid=""
while [ -z "$pid" ]; do
	pid=$(ctl workers --json | jq -r --argjson j "$slow" \
	    '.workers[] | select(.job == $j) | .pid')
	[ -n "$pid" ] || sleep 0.05
done
kill -STOP "$pid"
start=$(now_ms)
wait_for 10 pid_gone "$pid" || fail "the stopped worker $pid stays"
took=$(($(now_ms) - start))
grep -q "(pid $pid) is stopped; sending SIGKILL" "$LOG" ||
    fail "the stopped worker's kill not logged"
wait_for 20 status_is .jobs.done 200 || fail "the sleep job was not retried"
[ "$(zombies_of "$sv")" -eq 0 ] || fail "zombies"
echo "poison: hung workers found $tooks ms after their last heartbeat;" \
    "a stopped one killed $took ms after its stop"
exit 0
