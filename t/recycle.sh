#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Recycling: two workers with max-jobs 50 run 2,000 jobs of 5 ms.
# Workers are replaced between jobs, never two at once (a "replacing"
# line is always followed by that worker's exit before the next one),
# none before it ran max-jobs jobs, every job is done exactly once, and
# no job is aborted.  A worker may run past max-jobs while the other's
# replacement starts, so how many replacements there are depends on how
# fast workers start: the test asks only that both first workers went.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

N=2000
write_conf "workers 2" "max-jobs 50" "max-crashes 1"
ctl submit --debug 'sleep 5' --count $N >/dev/null
start_quired
two_ready() {
	[ "$(ctl workers --json | jq '[.workers[] | select(.state == "idle" or
	    .state == "busy")] | length')" = 2 ]
}
wait_for 10 two_ready || fail "two workers did not start"

low=2
done_all() {
	n=$(ctl workers --json | jq '[.workers[] | select(.state == "idle" or
	    .state == "busy")] | length')
	[ "$n" -lt "$low" ] && low=$n
	[ "$(status_json .jobs.done)" = $N ]
}
wait_for 120 done_all || fail "not all done: $(ctl status)"

# Each job ran once: one line per id in the debug job log.
[ "$(wc -l < "$DATA/debug-jobs.log")" = $N ] ||
    fail "$(wc -l < "$DATA/debug-jobs.log") executions for $N jobs"
[ "$(cut -d' ' -f1 "$DATA/debug-jobs.log" | sort -u | wc -l)" = $N ] ||
    fail "a job ran twice"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters"
ctl jobs --limit 100000 --json | jq -e 'all(.jobs[]; .crashes == 0)' \
    >/dev/null || fail "a job was aborted"

# Never two replacements at once.
awk '
/: replacing \(max-jobs/ {
	if (busy != "") { print "second replacement while " busy; bad = 1 }
	match($0, /; [0-9]+ jobs/)
	if (substr($0, RSTART + 2, RLENGTH - 7) + 0 < 50) {
		print "replaced early: " $0; bad = 1
	}
	match($0, /pid [0-9]+/); busy = substr($0, RSTART + 4, RLENGTH - 4)
	n++
}
/exited: / && busy != "" && index($0, "(pid " busy ")") { busy = "" }
END { if (bad) exit 1; if (n < 2) { print n " replacements"; exit 1 } }
' "$LOG" > "$T/awk.out" || fail "replacements: $(cat "$T/awk.out")"
[ "$(status_json .fleet.replaced)" = "$(grep -c ': replacing (' "$LOG")" ] ||
    fail "status counts $(status_json .fleet.replaced) replacements"
[ "$low" -ge 1 ] || fail "capacity dipped by two"
grep -q ' died: ' "$LOG" && fail "a worker died: $(grep ' died: ' "$LOG")"
echo "recycle: $(status_json .fleet.replaced) replacements"
