#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# kill -9 storm: while two workers run 250 short jobs, a random worker is
# SIGKILLed every half second (for STORM_SECONDS, 60 by default, or until
# the work is done: some 50 kills).  After each kill a new worker
# replaces it within a second.  In the end every job is done exactly
# once: 250 completions, every id in the debug job log, no lease
# generation run twice, no lease left, no zombie.  max-crashes is high,
# so the kills, which come from outside, quarantine nothing.  Documents
# submitted in small files during the storm are each indexed exactly
# once (t/checker.sh: 0/0/0).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
. "$TOPSRC/t/checker.sh"

: "${STORM_SECONDS:=60}"
NJOBS=250

write_conf "workers 2" "claim-batch 4" "max-crashes 1000"
ctl submit --debug 'sleep 200' --count $NJOBS >/dev/null
start_quired
sv=$(quired_pid)
wait_for 10 status_is .fleet.running 2 || fail "no workers"

rand() {
	od -An -N2 -tu2 /dev/urandom | tr -d ' '
}

kills=0
end=$(($(now_ms) + STORM_SECONDS * 1000))
while [ "$(now_ms)" -lt "$end" ]; do
	t0=$(now_ms)
	ctl status --json > "$T/st"
	[ "$(jq .jobs.done "$T/st")" -lt $((NJOBS + $(chk_jobs))) ] || break
	chk_submit 20 || fail "submit: $(cat "$CHK/submit.out")"
	# Kill only workers that are ready: one killed while starting is a
	# start-up failure, which backs off instead of restarting at once.
	jq -r '.fleet.workers[] | select(.slot >= 0 and .pid != 0 and
	    (.state == "idle" or .state == "busy")) | .pid' "$T/st" > "$T/pids"
	n=$(wc -l < "$T/pids")
	if [ "$n" -gt 0 ]; then
		victim=$(sed -n "$(($(rand) % n + 1))p" "$T/pids")
		tk=$(now_ms)
		kill -KILL "$victim"
		kills=$((kills + 1))
		# A new worker, and two running, within a second.
		while :; do
			ctl workers --json > "$T/w"
			jq -e --argjson v "$victim" '[.workers[] |
			    select(.slot >= 0 and .pid != 0 and .pid != $v)] |
			    length == 2' \
			    "$T/w" >/dev/null && break
			[ $(($(now_ms) - tk)) -le 1000 ] ||
			    fail "kill $kills (pid $victim): no new worker" \
			    "within 1 s: $(cat "$T/w")"
			sleep 0.05
		done
	fi
	left=$((500 - ($(now_ms) - t0)))
	if [ "$left" -gt 0 ]; then
		sleep "$(printf '0.%03d' "$left")"
	fi
done
[ "$kills" -gt 0 ] || fail "no worker was killed"

ALL=$((NJOBS + $(chk_jobs)))
wait_for 120 status_is .jobs.done $ALL ||
    fail "not all jobs done: $(ctl status)"
ctl status --json > "$T/st"
jq -e --argjson n $ALL '.jobs == {"ready": 0, "leased": 0, "retry": 0,
    "done": $n, "dead": 0, "cancelled": 0} and .totals.completed == $n' \
    "$T/st" >/dev/null || fail "final counts: $(cat "$T/st")"
# Every kill was seen, and nothing else died.
jq -e --argjson k "$kills" '.fleet.deaths == $k and .fleet.quarantined == 0 and
    ([.fleet.workers[] | select(.slot >= 0) | .starts] | add) == $k + 2' \
    "$T/st" >/dev/null ||
    fail "$kills kills, but: $(jq -c .fleet "$T/st");" \
    "$(grep -v "died: signal 9" "$LOG")"
grep -q "start-up failure" "$LOG" &&
    fail "a replacement failed to start: $(grep "before ready" "$LOG")"

# Every job ran to completion at least once, each lease at most once.
ctl jobs --state done --limit 100000 --json |
    jq -r '.jobs[] | select(.source == "debug") | .id' | sort -n \
    > "$T/done-ids"
[ "$(wc -l < "$T/done-ids")" -eq $NJOBS ] || fail "done list is short"
[ "$(head -1 "$T/done-ids")" -eq 1 ] &&
    [ "$(tail -1 "$T/done-ids")" -eq $NJOBS ] || fail "unexpected job ids"
awk '{ print $1 }' "$DATA/debug-jobs.log" | sort -nu > "$T/log-ids"
cmp -s "$T/done-ids" "$T/log-ids" ||
    fail "ids done and ids in debug-jobs.log differ"
dups=$(sort "$DATA/debug-jobs.log" | uniq -d | head -5)
[ -z "$dups" ] || fail "a lease generation ran twice: $dups"
# Jobs that were running when their worker was killed count crashes;
# leases went back at the reap, none by expiry (which costs an attempt).
ctl jobs --state done --limit 100000 --json > "$T/done"
crashed=$(jq '[.jobs[].crashes] | add' "$T/done")
[ "$crashed" -le "$kills" ] || fail "$crashed crashes from $kills kills"
[ "$crashed" -gt 0 ] || fail "no kill hit a running job"
jq -e 'all(.jobs[]; .attempts == 0)' "$T/done" >/dev/null ||
    fail "a lease expired instead of being released at the reap"

[ "$(zombies_of "$sv")" -eq 0 ] || fail "zombie workers"
kill -0 "$sv" || fail "the supervisor died"
chk_verify
echo "kill9: $kills kills, $crashed running jobs hit," \
    "$(wc -l < "$DATA/debug-jobs.log") runs for $NJOBS jobs"
exit 0
