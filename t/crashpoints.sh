#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Crash at every durable step.  strace kills the process at the N-th call
# of one of LMDB's writes and syncs (writev of the pages, pwrite64 of the
# meta page, fdatasync, fsync, msync), for every N until the operation
# runs through without reaching it:
#
#   enqueue   quirectl submit: reopened, the queue lists exactly the jobs
#             it had before the submission, or exactly those after it.
#   cycle     the one worker of a running quired, traced (its calls on the
#             two LMDB data files: not those on its socket), over the claim,
#             index and ack of one job, its supervisor stopped so that
#             nothing repairs the crash: reopened, the index is sound
#             (quirectl check), the job is ready, leased or done, its
#             documents are all indexed or none, a finished job's are
#             all indexed; restarted, quired finishes the job and each
#             document is indexed exactly once, no lease left.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
use_strace

# The daemon of the cycle may be stopped when a check fails.
qp= wp=
cp_cleanup() {
	for _p in $qp $wp; do
		kill -CONT "$_p" 2>/dev/null || true
		kill -KILL "$_p" 2>/dev/null || true
	done
	cleanup
}
trap cp_cleanup EXIT INT TERM

strace -f -o /dev/null true 2>/dev/null || skip "ptrace is not permitted"
: "${CRASHPOINTS_MAX:=200}"	# a bound on N, per call
CALLS="writev pwrite64 fdatasync fsync msync"

docs() {	# docs PREFIX N: an NDJSON file of N documents
	awk -v p="$1" -v n="$2" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"id\":\"%s-%d\",\"text\":\"%s k%s%dz words\"}\n",
	    p, i, p, p, i }'
}

# The base: an index and a queue with work done in them.
docs base 5 > "$T/base.ndjson"
docs newdoc 5 > "$T/new.ndjson"
ctl ingest -w 1 "$T/base.ndjson" > "$T/out" 2>&1 ||
    fail "base ingest: $(cat "$T/out")"
B=$T/base
cp -a "$DATA" "$B"

# The jobs of data directory $1, without their times.
jobs_of() {
	"$QUIRECTL" -D "$1" jobs --limit 1000 --json |
	    jq -c '[.jobs[] | del(.created_ms, .updated_ms)]'
}
# How many documents of the new file data directory $1 finds.
found() {
	"$QUIRECTL" -D "$1" search --json --exact -n 100 newdoc |
	    jq '.total'
}

# run CALL N DIR COMMAND...: run COMMAND on a copy of the base under
# strace, killed at the N-th CALL; status 0: it ran through without
# reaching it; 1: killed.
run() {
	_call=$1 _n=$2 _dir=$3
	shift 3
	rm -rf "$_dir"
	cp -a "$B" "$_dir"
	_rc=0
	timeout 60 strace -qq -o "$T/trace" \
	    -e trace="$_call" -e inject="$_call:signal=KILL:when=$_n" \
	    "$@" > "$T/out" 2>&1 || _rc=$?
	grep -q 'killed by SIGKILL' "$T/trace" && return 1
	[ "$_rc" = 0 ] || fail "$_call $_n: exit $_rc without a kill:" \
	    "$(cat "$T/out")"
	return 0
}

# --- enqueue
W=$T/w
cp -a "$B" "$W"
before=$(jobs_of "$W")
ctl_w() { "$QUIRECTL" -D "$W" "$@"; }
ctl_w submit --ndjson "$T/new.ndjson" > /dev/null
after=$(jobs_of "$W")
[ "$before" != "$after" ] || fail "the submission changed nothing"
kills=0
for call in $CALLS; do
	n=1
	while ! run "$call" "$n" "$W" "$QUIRECTL" -D "$W" submit \
	    --ndjson "$T/new.ndjson"; do
		kills=$((kills + 1))
		now=$(jobs_of "$W") || fail "submit, $call $n: unreadable queue"
		[ "$now" = "$before" ] || [ "$now" = "$after" ] ||
		    fail "submit killed at $call $n: jobs $now"
		"$QUIRECTL" -D "$W" check > "$T/out" 2>&1 ||
		    fail "submit, $call $n: check: $(cat "$T/out")"
		n=$((n + 1))
		[ "$n" -le "$CRASHPOINTS_MAX" ] || fail "$call: no end"
	done
	echo "enqueue: $call: $((n - 1)) crash points"
done
ekills=$kills

# --- claim, index, ack in the worker of a running quired
# Each run has a directory of its own: a daemon on its way out never
# touches the socket of the next.  fail shows the daemon's log.
LOG=$T/w.log
worker_idle() {	# (jq -e passes on no input: no daemon yet)
	_o=$("$QUIRECTL" -D "$W" workers --json 2>/dev/null) &&
	    echo "$_o" | jq -e '[.workers[] | select(.slot == 0 and
	    .state == "idle")] | length == 1' >/dev/null
}
job_done() {
	[ "$("$QUIRECTL" -D "$W" jobs --state done --limit 1000 --json |
	    jq --arg p "$T/new.ndjson" '[.jobs[] | select(.path == $p)] |
	    length')" = 1 ]
}
job_over() {	# the worker died, or the job is done
	pid_gone "$wp" || job_done
}
kills=0
for call in $CALLS; do
	n=1
	while :; do
		[ -n "$W" ] && rm -rf "$W"
		W=$T/c.$call.$n
		cp -a "$B" "$W"
		cat > "$T/w.conf" <<-EOC
		datadir $W
		pidfile $PIDFILE
		log-file $LOG
		workers 1
		merge no
		listen none
		EOC
		"$QUIRED" -d -f "$T/w.conf" 2>>"$T/w.stderr" &
		qp=$!
		wait_for 10 worker_idle || fail "cycle: no worker"
		wp=$("$QUIRECTL" -D "$W" workers --json |
		    jq '.workers[] | select(.slot == 0) | .pid') ||
		    fail "cycle, $call $n: workers: $(cat "$T/w.stderr")"
		# An idle worker polls the queue in a write transaction;
		# counting starts with the job there, the worker stopped.
		# A worker stopped inside its transaction holds the write
		# lock: the submission waits for it, so try again.
		kill -STOP "$qp"
		i=0
		while :; do
			kill -STOP "$wp"
			timeout 2 "$QUIRECTL" -D "$W" submit --ndjson \
			    "$T/new.ndjson" >/dev/null 2>&1 && break
			kill -CONT "$wp"
			i=$((i + 1))
			[ $i -lt 20 ] || fail "cycle: cannot submit"
			sleep 0.05
		done
		# -f: the worker commits on a thread of its own.
		strace -f -qq -o "$T/trace" -P "$W/queue/data.mdb" \
		    -P "$W/index/data.mdb" -e trace="$call" \
		    -e inject="$call:signal=KILL:when=$n" -p "$wp" 2>/dev/null &
		sp=$!
		wait_for 10 traced "$wp" || fail "cycle: strace -p $wp"
		kill -CONT "$wp"
		wait_for 20 job_over || fail "cycle, $call $n: stuck"
		if ! pid_gone "$wp"; then
			# Through without a kill: the last crash point is passed.
			kill "$sp" 2>/dev/null
			wait "$sp" 2>/dev/null || true
			kill -CONT "$qp"
			kill -TERM "$qp"
			wait "$qp" || fail "cycle: quired exited $?"
			break
		fi
		kills=$((kills + 1))
		wait "$sp" 2>/dev/null || true
		grep -q 'killed by SIGKILL' "$T/trace" ||
		    fail "cycle, $call $n: the worker died unasked"
		kill -KILL "$qp"
		wait "$qp" 2>/dev/null || true
		# Reopened as the crash left it.
		ctl_w check > "$T/out" 2>&1 ||
		    fail "cycle, $call $n: check: $(cat "$T/out")"
		ctl_w jobs --limit 1000 --json | jq --arg p "$T/new.ndjson" \
		    '[.jobs[] | select(.path == $p)]' > "$T/mine" ||
		    fail "cycle, $call $n: unreadable queue"
		jq -e 'length == 1 and (.[0].state == "ready" or
		    .[0].state == "leased" or .[0].state == "done")' \
		    "$T/mine" >/dev/null ||
		    fail "cycle, $call $n: jobs $(cat "$T/mine")"
		f=$(found "$W")
		[ "$f" = 0 ] || [ "$f" = 5 ] ||
		    fail "cycle, $call $n: $f documents of 5 indexed"
		if jq -e '.[0].state == "done"' "$T/mine" >/dev/null; then
			[ "$f" = 5 ] || fail "cycle, $call $n: done, $f indexed"
		fi
		# Restarted, it finishes the job: each document once.  (A
		# job the crash left done is done at once: the daemon must be
		# up before it is stopped.)
		"$QUIRED" -d -f "$T/w.conf" 2>>"$T/w.stderr" &
		qp=$!
		wait_for 20 ctl_w workers ||
		    fail "cycle, $call $n: quired did not start again"
		wait_for 20 job_done ||
		    fail "cycle, $call $n: not done after a restart:" \
		    "$(ctl_w jobs)"
		kill -TERM "$qp"
		wait "$qp" || fail "cycle, $call $n: quired exited $?"
		[ "$("$QUIRECTL" -D "$W" search --json --exact -n 100 \
		    newdoc | jq '([.hits[].id] | unique | length), .total' |
		    tr '\n' ' ')" = "5 5 " ] ||
		    fail "cycle, $call $n: not each document once"
		ctl_w check > "$T/out" 2>&1 ||
		    fail "cycle, $call $n: check after the restart"
		[ "$(ctl_w status --json | jq .jobs.leased)" = 0 ] ||
		    fail "cycle, $call $n: a lease is left"
		n=$((n + 1))
		[ "$n" -le "$CRASHPOINTS_MAX" ] || fail "$call: no end"
	done
	echo "cycle: $call: $((n - 1)) crash points"
done
echo "crashpoints: $ekills kills in enqueue, $kills in the cycle"
exit 0
