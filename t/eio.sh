#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# I/O errors injected into the daemon's own writes with strace (root or
# ptrace rights; skipped otherwise), on the LMDB files only:
#  - EIO on every single-page write of a busy worker, for a few
#    seconds, then none: the worker holds its jobs, status says io-error
#    and degraded, no worker dies and no job is retried, and it resumes
#    by itself; when its meta page write failed (MDB_PANIC: LMDB's handle
#    refuses all), it opened its environment again.
#  - ENOSPC once, on the index: "full" for a moment, then ingestion goes
#    on.
#  - EIO on every write of the supervisor while a worker is killed: the
#    release of its leases waits (deferred_releases) and is done when
#    the fault clears, rather than left to expire.
# Every record is indexed once and `quirectl check` passes at the end.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
use_strace

strace -qq -o /dev/null -e trace=none true 2>/dev/null ||
    skip "strace cannot trace here"
if [ "$(id -u)" != 0 ] &&
    [ "$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null)" != 0 ]; then
	skip "attaching to the daemon needs root or ptrace_scope 0"
fi

N=30000
records $N 11
write_conf "workers 1" "lease-time 2s" "hang-timeout 1s" \
    "heartbeat-interval 200ms" "max-attempts 1" "max-crashes 2" \
    "batch-docs 500"

# inject PID ERRNO WHEN [CALLS]: fail that process's writes to the LMDB
# files.  LMDB writes runs of pages with writev and single pages and the
# meta page with pwrite64.
inject() {
	# -f: a worker commits to the index on a thread of its own.
	strace -f -qq -o "$T/inject.trace" -p "$1" -P "$DATA/queue/data.mdb" \
	    -P "$DATA/index/data.mdb" -e trace="${4:-pwrite64,writev}" \
	    -e inject="${4:-pwrite64,writev}":error="$2":when="$3" &
	SP=$!
	sleep 0.5
}

start_quired
w=$(worker_pids)
# A busy worker's lease extensions are small commits.  LMDB writes a run
# of pages with writev, a lone page with pwrite, and the meta page last
# with pwrite (120 bytes).
ctl submit --debug "sleep 4000" > /dev/null || fail "submit sleep"
wait_for 10 status_is '.fleet.workers[0].state' busy || fail "not busy"
inject "$w" EIO 1+ pwrite64
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"
wait_for 20 status_is .storage.state io-error ||
    fail "no io-error: $(status_json .storage)"
status_is .fleet.degraded true || fail "io-error but not degraded"
sleep 3
[ "$(status_json .fleet.deaths)" = 0 ] || fail "the worker died"
[ "$(status_json .jobs.retry)" = 0 ] || fail "retries during the fault"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters during the fault"
kill $SP
t0=$(now_ms)
wait_for 20 status_is .storage.state ok || fail "$(status_json .storage)"
echo "eio: recovered $(( $(now_ms) - t0 )) ms after the fault cleared"
# A failed meta page write (the last, 120 bytes) leaves LMDB's handle
# refusing everything (MDB_PANIC) until it is opened again; a commit
# whose first failed write was a lone data page (pwrite too) failed
# without it.
if grep -q 'pwrite64(.*, 120, [0-9]*) = -1 EIO' "$T/inject.trace"; then
	grep -q 'environment opened again after a fatal error' "$LOG" ||
	    fail "no reopen after MDB_PANIC"
	echo "eio: a meta page write failed; the environment reopened"
else
	echo "eio: every failed commit failed at a data page; no MDB_PANIC"
fi
inject "$w" ENOSPC 3
wait_for 60 status_is .jobs.done 3 || fail "not done: $(status_json .jobs)"
kill $SP 2>/dev/null || true
grep -q 'storage: full' "$LOG" || fail "the ENOSPC was not seen"
[ "$(status_json .index.documents)" = $N ] ||
    fail "documents: $(status_json .index.documents), not $N"

# The supervisor cannot write while a busy worker dies.
ctl submit --debug "sleep 3000" > /dev/null
wait_for 10 status_is '.fleet.workers[0].state' busy || fail "not busy"
inject "$(quired_pid)" EIO 1+
kill -9 "$(worker_pids)"
wait_for 10 status_is .storage.deferred_releases 1 ||
    fail "no deferred release: $(status_json .storage)"
sleep 2
status_is .jobs.leased 1 || fail "the lease went: $(status_json .jobs)"
kill $SP
wait_for 10 status_is .storage.deferred_releases 0 || fail "still deferred"
wait_for 20 status_is .jobs.done 4 || fail "the job: $(status_json .jobs)"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters"
grep -q 'released 1 jobs, 0 quarantined, after the storage came back' \
    "$LOG" || fail "the deferred release was not logged"

resumed $N 4 0 12345 29999
echo "eio: $N records through EIO, ENOSPC and a deferred release"
