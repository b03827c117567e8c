#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Graceful stop: kill -TERM (and then quirectl drain) while jobs run.
# The running jobs finish and are done, the others stay ready, quired
# exits 0 within drain-timeout + 2 s leaving no lease in the queue, and
# a restart finishes the rest.  A drain-timeout shorter than the job
# stops it instead: the job is ready again and no crash is counted.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

JOB_MS=3000		# long enough that no job ends between look and signal,
			# on a loaded machine too
DRAIN=10		# seconds

# The jobs running now, "id id", from one status read; fails unless
# both workers have just started one (so none ends before we act).
running() {
	ctl status --json > "$T/st"
	jq -e --argjson ms $((JOB_MS / 2)) '[.fleet.workers[] |
	    select(.slot >= 0 and .state == "busy" and .elapsed_ms < $ms)] |
	    length == 2' \
	    "$T/st" >/dev/null
}

# stop_and_check HOW: drain by HOW (TERM or ctl) with two jobs running.
stop_and_check() {
	wait_for 20 running || fail "two fresh jobs are not running"
	busy=$(jq -r '[.fleet.workers[] | select(.slot >= 0) | .job] | sort |
	    join(" ")' "$T/st")
	done0=$(jq .jobs.done "$T/st")
	t0=$(now_ms)
	if [ "$1" = TERM ]; then
		kill -TERM "$QPID"
	else
		expect_exit 0 ctl drain
		[ "$(cat "$T/out")" = draining ] ||
		    fail "quirectl drain said: $(cat "$T/out")"
	fi
	# While draining (a second at least, as the jobs are young) it still
	# answers, and says so.
	wait_for 2 status_is .fleet.draining true ||
	    fail "not draining: $(ctl status)"
	wait_for $((DRAIN + 5)) pid_gone "$QPID" || fail "quired did not exit"
	t1=$(now_ms)
	rc=0
	wait "$QPID" || rc=$?
	[ "$rc" -eq 0 ] || fail "quired exited $rc after a drain"
	[ $((t1 - t0)) -le $(((DRAIN + 2) * 1000)) ] ||
	    fail "drain took $((t1 - t0)) ms"
	[ ! -e "$DATA/control.sock" ] || fail "admin socket left behind"
	[ ! -s "$PIDFILE" ] || fail "pidfile left behind"
	# Offline now: the two jobs that were running are done, no lease.
	# (status exits 4: no daemon, the queue alone.)
	expect_exit 4 ctl status --json
	cp "$T/out" "$T/st"
	jq -e --argjson d $((done0 + 2)) '.jobs.leased == 0 and
	    .jobs.done == $d and .jobs.dead == 0' "$T/st" >/dev/null ||
	    fail "after the drain: $(cat "$T/st") (busy: $busy)"
	for id in $busy; do
		[ "$(ctl job --json "$id" | jq -r .state)" = done ] ||
		    fail "job $id was running at the drain but is not done"
	done
}

write_conf "workers 2" "claim-batch 1" "drain-timeout ${DRAIN}s"
ctl submit --debug "sleep $JOB_MS" --count 4 >/dev/null

# kill -TERM.
start_quired_fg
stop_and_check TERM
[ "$(status_json .jobs.ready)" -eq 2 ] || fail "the other jobs are not ready"
# The restart finishes the rest.
start_quired_fg
wait_for 30 status_is .jobs.done 4 || fail "restart did not finish"

# quirectl drain, the same way.
ctl submit --debug "sleep $JOB_MS" --count 4 >/dev/null
stop_and_check ctl
[ "$(status_json .jobs.ready)" -eq 2 ] || fail "the other jobs are not ready"
start_quired_fg
wait_for 30 status_is .jobs.done 8 || fail "restart did not finish"
ctl stop >/dev/null
wait_for 20 pid_gone "$QPID" || fail "quired did not stop"
wait "$QPID" || fail "quired stop: exit status $?"

# A drain-timeout shorter than the job: the job is stopped, ready again,
# and no crash is counted.
DRAIN=1
write_conf "workers 1" "claim-batch 1" "drain-timeout ${DRAIN}s" \
    "kill-grace 1s"
long=$(ctl submit --debug 'sleep 60000')
start_quired_fg
wait_for 10 status_is '.fleet.workers[] | select(.slot == 0) | .job' "$long" ||
    fail "the long job did not start"
t0=$(now_ms)
kill -TERM "$QPID"
wait_for $((DRAIN + 5)) pid_gone "$QPID" || fail "quired did not exit"
t1=$(now_ms)
rc=0
wait "$QPID" || rc=$?
[ "$rc" -eq 0 ] || fail "quired exited $rc after a drain timeout"
[ $((t1 - t0)) -le $(((DRAIN + 2) * 1000)) ] ||
    fail "drain with a timeout took $((t1 - t0)) ms"
ctl job --json "$long" > "$T/j"
jq -e '.state == "ready" and .crashes == 0' "$T/j" >/dev/null ||
    fail "the stopped job: $(cat "$T/j")"
ctl status --json | jq -e '.jobs.leased == 0 and .jobs.done == 8' \
    >/dev/null || fail "after the timeout: $(ctl status)"
grep -q "drain: timeout" "$LOG" || fail "the timeout was not logged"
exit 0
