#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The supervisor dies (kill -9) while workers run jobs: every worker
# exits within 2 s, and a restart gives the orphaned leases back and
# finishes every job, with no crash counted.  A second quired on the
# same pidfile, while the first runs, is refused: exit 1, "already
# running, pid N".  Documents submitted before, while the supervisor is
# dead and after the restart are each indexed once (t/checker.sh: 0/0/0).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
. "$TOPSRC/t/checker.sh"

NJOBS=6

busy2() {
	[ "$(ctl workers --json |
	    jq '[.workers[] | select(.slot >= 0 and .state == "busy")] |
	    length')" -eq 2 ]
}

write_conf "workers 2" "claim-batch 1"
ctl submit --debug 'sleep 1500' --count $NJOBS >/dev/null
chk_submit 50 || fail "submit: $(cat "$CHK/submit.out")"
start_quired
sv=$(quired_pid)
wait_for 10 busy2 || fail "two workers are not busy"

# A second instance is refused, and the first goes on untouched.
expect_exit 1 "$QUIRED" -f "$CONF"
[ "$(cat "$T/err")" = "quired: already running, pid $sv" ] ||
    fail "second instance said: $(cat "$T/out" "$T/err")"
expect_exit 1 "$QUIRED" -d -f "$CONF"
grep -q "already running, pid $sv\$" "$T/err" ||
    fail "second instance (-d) said: $(cat "$T/err")"
[ "$(status_json .fleet.pid)" -eq "$sv" ] || fail "the first one is gone"
[ "$(quired_pid)" -eq "$sv" ] || fail "the pidfile changed"

# Every child of the supervisor, from its table and from the kernel's.
worker_pids > "$T/table"
[ "$(wc -l < "$T/table")" -eq 2 ] || fail "workers: $(cat "$T/table")"
{ cat "$T/table"; ps -o pid= --ppid "$sv"; } | sort -nu > "$T/workers"

t0=$(now_ms)
kill -KILL "$sv"
for w in $(cat "$T/workers"); do
	while ! pid_gone "$w"; do
		[ $(($(now_ms) - t0)) -le 2000 ] ||
		    fail "worker $w outlived its supervisor by 2 s"
		sleep 0.05
	done
done
wait_for 5 pid_gone "$sv" || fail "the supervisor survived kill -9"
# Offline: the dead workers' leases (unless a worker gave its lease back
# in the moment between its supervisor's death and its own).
orphans=$(status_json .jobs.leased)
[ "$orphans" -le 2 ] || fail "leases: $(ctl status)"
[ "$(status_json .jobs.done)" -lt $NJOBS ] || fail "all done already"
chk_submit 50 || fail "submit offline: $(cat "$CHK/submit.out")"

# A restart on the stale pidfile and socket takes the jobs back.
start_quired
wait_for 10 ctl workers || fail "restart does not answer"
sv2=$(status_json .fleet.pid)
[ "$sv2" -ne "$sv" ] || fail "status comes from the old supervisor"
[ "$(quired_pid)" -eq "$sv2" ] || fail "pidfile not rewritten"
chk_submit 50 || fail "submit after: $(cat "$CHK/submit.out")"
ALL=$((NJOBS + $(chk_jobs)))
wait_for 30 status_is .jobs.done $ALL || fail "not finished: $(ctl status)"
ctl status --json > "$T/st"
jq -e --argjson n $ALL '.jobs == {"ready": 0, "leased": 0, "retry": 0,
    "done": $n, "dead": 0, "cancelled": 0}' "$T/st" >/dev/null ||
    fail "after the restart: $(cat "$T/st")"
ctl jobs --limit 1000 --json | jq -e 'all(.jobs[]; .crashes == 0)' \
    >/dev/null || fail "the supervisor's death counted as a crash"
released=$(sed -n 's/.*start-up: released \([0-9]*\) jobs of pid.*/\1/p' \
    "$LOG" | awk '{ n += $1 } END { print n + 0 }')
[ "$released" -eq "$orphans" ] ||
    fail "$orphans orphaned leases, $released released at start-up"
dups=$(sort "$DATA/debug-jobs.log" | uniq -d)
[ -z "$dups" ] || fail "a lease ran twice: $dups"
[ "$(awk '{ print $1 }' "$DATA/debug-jobs.log" | sort -u | wc -l)" -eq \
    $NJOBS ] || fail "not every job ran"
chk_verify
exit 0
