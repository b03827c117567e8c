#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl cancel through a running daemon.  One worker claims a batch of
# four debug jobs, a long spin first.  Cancelling a job that waits in that
# batch makes the worker skip it; cancelling the spin stops it at once
# (the design says within 100 ms; here within 2 s, far below the 20 s a
# lease extension would take), and the worker, the same process, goes on
# with the rest of its batch.  So does a PDF that takes seconds to index.  A queued job is cancelled at once; a
# finished job and an unknown id are errors (exit 1).  With no daemon,
# quirectl cancels in the queue itself, as before.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

# job_state ID
job_state() {
	ctl job --json "$1" | jq -r .state
}

# state_is ID STATE: for wait_for.
state_is() {
	[ "$(job_state "$1")" = "$2" ]
}

# The job worker 0 runs, or null.
worker_job() {
	ctl workers --json | jq -r '.workers[] | select(.slot == 0) | .job'
}

worker_runs() {
	[ "$(worker_job)" = "$1" ]
}

no_workers() {
	[ -z "$(worker_pids)" ]
}

worker_not_on() {
	_j=$(worker_job)
	[ -n "$_j" ] && [ "$_j" != "$1" ]
}

# No worker at first, so that the one started later claims all four jobs
# in one batch: the spin first (the oldest), then the others.
write_conf "workers 0" "min-workers 0" "claim-batch 4" "merge no" \
    "lease-time 60s" "max-pages 20000"
start_quired
spin=$(ctl submit --debug "spin 600000")
a=$(ctl submit --debug "sleep 300")
b=$(ctl submit --debug "noop")
c=$(ctl submit --debug "sleep 300")
for id in "$spin" "$a" "$b" "$c"; do
	case "$id" in
	''|*[!0-9]*)	fail "submit printed $id, not a job id" ;;
	esac
done
ctl scale 1 > /dev/null || fail "scale 1"
wait_for 10 worker_runs "$spin" || fail "the worker does not run the spin"
wpid=$(worker_pids)
for id in "$a" "$b" "$c"; do
	[ "$(job_state "$id")" = leased ] ||
	    fail "job $id is $(job_state "$id"), not leased in the batch"
done

# --- A job claimed with the batch, not started: the worker skips it.
expect_exit 0 ctl cancel "$c"
[ "$(cat "$T/out")" = "$c cancelled; worker 0 drops it from its batch" ] ||
    fail "cancel of a waiting job: $(cat "$T/out")"

# --- The running spin: stopped at once, by the same worker.
t0=$(now_ms)
expect_exit 0 ctl cancel "$spin"
[ "$(cat "$T/out")" = "$spin cancelled; worker 0 stops it now" ] ||
    fail "cancel of the running job: $(cat "$T/out")"
wait_for 2 state_is "$spin" cancelled ||
    fail "the spin is $(job_state "$spin") 2 s after its cancel"
wait_for 2 worker_not_on "$spin" ||
    fail "the worker still runs the spin: $(ctl workers)"
ms=$(( $(now_ms) - t0 ))
[ "$(worker_pids)" = "$wpid" ] ||
    fail "the worker is not the same process: $(worker_pids), was $wpid"

# The rest of the batch: a and b complete, c stays cancelled, all by the
# same worker.
wait_for 10 state_is "$a" done || fail "job $a is $(job_state "$a")"
wait_for 10 state_is "$b" done || fail "job $b is $(job_state "$b")"
wait_for 10 status_is .jobs.leased 0 || fail "jobs still leased"
[ "$(job_state "$c")" = cancelled ] || fail "job $c is $(job_state "$c")"
[ "$(worker_pids)" = "$wpid" ] || fail "the worker changed after the batch"
# Only a and b ran to the end (debug-jobs.log has a line per completion).
[ "$(cut -d' ' -f1 "$DATA/debug-jobs.log" | sort -n | tr '\n' ' ')" = \
    "$a $b " ] || fail "completed: $(cat "$DATA/debug-jobs.log")"
status_json .jobs | jq -e '.done == 2 and .cancelled == 2 and .dead == 0' \
    > /dev/null || fail "counts: $(status_json .jobs)"
grep -q "job $spin cancelled while running" "$LOG" ||
    fail "the worker did not log the cancel"

# --- A real document: the text path's progress ticks read the order.
# 15000 pages take the worker several seconds; cancelled as it starts,
# the PDF stops within the bound, and nothing of it is in the index.
PAGES=15000
makepdf cancelpdfword cancelpdflast > "$T/slow.pdf"
pdf=$(ctl submit "$T/slow.pdf")
wait_for 10 worker_runs "$pdf" || fail "the worker does not run the PDF"
t0=$(now_ms)
expect_exit 0 ctl cancel "$pdf"
[ "$(cat "$T/out")" = "$pdf cancelled; worker 0 stops it now" ] ||
    fail "cancel of the PDF: $(cat "$T/out")"
wait_for 2 state_is "$pdf" cancelled ||
    fail "the PDF is $(job_state "$pdf") 2 s after its cancel"
wait_for 2 worker_not_on "$pdf" || fail "the worker still runs the PDF"
pms=$(( $(now_ms) - t0 ))
[ "$(worker_pids)" = "$wpid" ] || fail "the worker changed after the PDF"
ctl search --json cancelpdfword | jq -e '.total == 0' > /dev/null ||
    fail "the cancelled PDF is in the index"

# --- A queued job (no worker to take it): cancelled at once.
ctl scale 0 > /dev/null || fail "scale 0"
wait_for 10 no_workers || fail "the worker did not stop"
q=$(ctl submit --debug "noop")
expect_exit 0 ctl cancel "$q"
[ "$(cat "$T/out")" = "$q cancelled" ] || fail "cancel queued: $(cat "$T/out")"
[ "$(job_state "$q")" = cancelled ] || fail "job $q is $(job_state "$q")"

# --- A finished job, an unknown one: errors, nothing on stdout.
expect_exit 1 ctl cancel "$a"
[ ! -s "$T/out" ] && [ "$(wc -l < "$T/err")" -eq 1 ] &&
    grep -q "cancel $a: job $a has already finished (done)" "$T/err" ||
    fail "cancel of a done job: $(cat "$T/out" "$T/err")"
expect_exit 1 ctl cancel "$q"
grep -q "already finished (cancelled)" "$T/err" ||
    fail "cancel of a cancelled job: $(cat "$T/err")"
expect_exit 1 ctl cancel 999999
grep -q "cancel 999999: no such job 999999" "$T/err" ||
    fail "cancel of an unknown job: $(cat "$T/err")"
[ "$(job_state "$a")" = done ] || fail "job $a changed: $(job_state "$a")"

# --- No daemon: quirectl writes the queue itself.
sv=$(quired_pid)
ctl stop > /dev/null || fail "stop"
wait_for 30 pid_gone "$sv" || fail "the daemon did not stop"
r=$(ctl submit --debug "noop")
expect_exit 0 ctl cancel "$r"
[ "$(cat "$T/out")" = "$r cancelled" ] || fail "cancel offline: $(cat "$T/out")"
[ "$(job_state "$r")" = cancelled ] || fail "job $r is $(job_state "$r")"
expect_exit 1 ctl cancel "$a"
grep -q "cancel $a: job has already finished" "$T/err" ||
    fail "offline cancel of a done job: $(cat "$T/err")"

echo "cancelrun: running jobs stopped ${ms} ms (spin) and ${pms} ms" \
    "(PDF) after quirectl cancel"
exit 0
