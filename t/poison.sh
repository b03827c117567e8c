#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Poison jobs: a job that kills its worker (segv) among 200 good ones is
# quarantined as a dead letter after max-crashes (3) worker deaths, and
# the 199 others are done.  A job that hangs (no heartbeat) has its
# worker logged with wchan evidence and killed within hang-timeout + 1 s
# of the job's start, and is retried until it too is quarantined.  A
# stopped worker is killed without waiting out kill-grace.

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

# --- hang: killed within hang-timeout + 1 s, each of the three times.
hang=$(ctl submit --debug hang)
seen=""
round=0
while [ $round -lt 3 ]; do
	round=$((round + 1))
	pid=""
	i=0
	while [ -z "$pid" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] ||
		    fail "round $round: the hang job did not start"
		tb=$(now_ms)
		ctl workers --json > "$T/w"
		set -- $(jq -r --argjson h "$hang" '.workers[] |
		    select(.job == $h) | "\(.pid) \(.elapsed_ms)"' "$T/w")
		if [ $# -eq 2 ] && ! echo "$seen" | grep -qw "$1"; then
			pid=$1
			start=$((tb - $2))
		else
			sleep 0.05
		fi
	done
	seen="$seen $pid"
	while ! pid_gone "$pid"; do
		[ $(($(now_ms) - start)) -le $((HANG_MS + 1000)) ] ||
		    fail "round $round: worker $pid running the hang job" \
		    "not killed $((HANG_MS + 1000)) ms after the job started"
		sleep 0.05
	done
	took=$(($(now_ms) - start))
	tooks="${tooks:-}${tooks:+, }$took"
	[ "$took" -ge "$HANG_MS" ] ||
	    fail "round $round: killed after $took ms, before hang-timeout"
	wait_for 5 grep -q "(pid $pid) hung: .*job $hang .*wchan " "$LOG" ||
	    fail "round $round: no evidence line for pid $pid"
	if [ $round -lt 3 ]; then
		# Retried: a crash counted, and the job is back in the queue.
		wait_for 5 test "$(ctl job --json "$hang" | jq .crashes)" \
		    -ge $round || fail "round $round: no crash counted"
		ctl job --json "$hang" > "$T/j"
		jq -e '.state == "ready" or .state == "leased"' "$T/j" \
		    >/dev/null || fail "round $round: $(cat "$T/j")"
	fi
done
wait_for 10 status_is .jobs.dead 2 || fail "hang job not quarantined"
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
[ "$took" -le $((HANG_MS + 1000)) ] ||
    fail "the stopped worker was killed after $took ms, past hang-timeout + 1 s"
grep -q "(pid $pid) is stopped; sending SIGKILL" "$LOG" ||
    fail "the stopped worker's kill not logged"
wait_for 20 status_is .jobs.done 200 || fail "the sleep job was not retried"
[ "$(zombies_of "$sv")" -eq 0 ] || fail "zombies"
echo "poison: hung workers gone $tooks ms after the job started;" \
    "a stopped one $took ms after its stop"
exit 0
