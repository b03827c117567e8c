#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# I/O errors on the submit path.  strace makes the N-th call of one of
# LMDB's writes or syncs fail with EIO or ENOSPC, once (when=N) and from
# then on (when=N+), for every N until quirectl submit runs through
# without meeting it.  A submission that met an error is not
# acknowledged: quirectl submit exits 1 and says why, and reopened, the
# queue holds exactly the jobs it held before; one that exits 0 has its
# job.  The queue stays sound (quirectl check), and once the fault is
# gone the same submission succeeds.
#
# The workers' side (worker_faults) is separate: the handling of storage
# errors in workers is being reworked, so only what holds whatever it
# does is checked there, and that function is where its cases belong.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
use_strace

strace -f -o /dev/null true 2>/dev/null || skip "ptrace is not permitted"
: "${IOERRORS_MAX:=100}"	# a bound on N, per call
CALLS="writev pwrite64 fdatasync fsync"

awk 'BEGIN { for (i = 1; i <= 5; i++)
    printf "{\"id\":\"base-%d\",\"text\":\"base k%dz\"}\n", i, i }' \
    > "$T/base.ndjson"
awk 'BEGIN { for (i = 1; i <= 5; i++)
    printf "{\"id\":\"new-%d\",\"text\":\"new k%dz\"}\n", i, i }' \
    > "$T/new.ndjson"
ctl ingest -w 1 "$T/base.ndjson" > "$T/out" 2>&1 ||
    fail "base ingest: $(cat "$T/out")"
B=$T/base
cp -a "$DATA" "$B"
W=$T/w

jobs_of() {
	"$QUIRECTL" -D "$W" jobs --limit 1000 --json |
	    jq -c '[.jobs[] | del(.created_ms, .updated_ms)]'
}
rm -rf "$W"; cp -a "$B" "$W"
before=$(jobs_of)
"$QUIRECTL" -D "$W" submit --ndjson "$T/new.ndjson" > /dev/null
after=$(jobs_of)

submit_faults() {
	_err=$1 _plus=$2
	case $_err in
	EIO)	_msg="Input/output error" ;;
	ENOSPC)	_msg="No space left on device" ;;
	esac
	for _call in $CALLS; do
		_n=1
		while :; do
			rm -rf "$W"
			cp -a "$B" "$W"
			_rc=0
			strace -qq -o "$T/trace" -P "$W/queue/data.mdb" \
			    -e trace="$_call" \
			    -e inject="$_call:error=$_err:when=$_n$_plus" \
			    "$QUIRECTL" -D "$W" submit --ndjson \
			    "$T/new.ndjson" > "$T/out" 2> "$T/err" || _rc=$?
			_what="submit, $_err at $_call $_n$_plus"
			if ! grep -q INJECTED "$T/trace"; then
				[ "$_rc" = 0 ] || fail "$_what: exit $_rc" \
				    "without a fault: $(cat "$T/err")"
				[ "$(jobs_of)" = "$after" ] ||
				    fail "$_what: acknowledged, no job"
				break
			fi
			faults=$((faults + 1))
			[ "$_rc" = 1 ] ||
			    fail "$_what: exit $_rc: $(cat "$T/out")"
			grep -q "$_msg" "$T/err" ||
			    fail "$_what: said $(cat "$T/err")"
			[ "$(jobs_of)" = "$before" ] ||
			    fail "$_what: jobs $(jobs_of)"
			"$QUIRECTL" -D "$W" check > "$T/out" 2>&1 ||
			    fail "$_what: check: $(cat "$T/out")"
			# The fault is gone: the same submission succeeds.
			"$QUIRECTL" -D "$W" submit --ndjson "$T/new.ndjson" \
			    > "$T/out" 2>&1 ||
			    fail "$_what: again: $(cat "$T/out")"
			[ "$(jobs_of)" = "$after" ] ||
			    fail "$_what: again: jobs $(jobs_of)"
			_n=$((_n + 1))
			[ "$_n" -le "$IOERRORS_MAX" ] || fail "$_call: no end"
		done
	done
}

# Storage errors met by a worker, once, on the index: what holds today
# whatever the worker then does.  The daemon goes on answering, the job
# is not acknowledged before its documents are indexed, it ends done
# with each document indexed once, and the index is sound.  Cases of the
# storage-fault handling being reworked (the job put back without an
# attempt or a crash counted, claims paused, "storage: full" in status)
# belong here as well.
qp= wp=
io_cleanup() {
	for _p in $qp $wp; do
		kill -CONT "$_p" 2>/dev/null || true
		kill -KILL "$_p" 2>/dev/null || true
	done
	cleanup
}
trap io_cleanup EXIT INT TERM

worker_idle() {	# (jq -e passes on no input: no daemon yet)
	_o=$("$QUIRECTL" -D "$W" workers --json 2>/dev/null) &&
	    echo "$_o" | jq -e '[.workers[] | select(.slot == 0 and
	    .state == "idle")] | length == 1' >/dev/null
}
new_done() {
	[ "$("$QUIRECTL" -D "$W" jobs --state done --limit 1000 --json |
	    jq --arg p "$T/new.ndjson" '[.jobs[] | select(.path == $p)] |
	    length')" = 1 ]
}

# worker_fault ERRNO CALL: the worker's first CALL on the index fails.
worker_fault() {
	_what="worker, $1 at $2 1"
	rm -rf "$W"
	cp -a "$B" "$W"
	cat > "$T/w.conf" <<EOC
datadir $W
pidfile $PIDFILE
log-file $T/w.log
workers 1
merge no
listen none
EOC
	"$QUIRED" -d -f "$T/w.conf" 2>>"$T/w.stderr" &
	qp=$!
	wait_for 10 worker_idle || fail "$_what: no worker"
	wp=$("$QUIRECTL" -D "$W" workers --json |
	    jq '.workers[] | select(.slot == 0) | .pid')
	# -f: the worker commits on a thread of its own.
	strace -f -qq -o "$T/trace" -P "$W/index/data.mdb" -e trace="$2" \
	    -e inject="$2:error=$1:when=1" -p "$wp" 2>/dev/null &
	_sp=$!
	wait_for 10 traced "$wp" || fail "$_what: strace -p $wp"
	"$QUIRECTL" -D "$W" submit --ndjson "$T/new.ndjson" > /dev/null ||
	    fail "$_what: submit"
	wait_for 30 new_done || fail "$_what: not done: $(ctl_w jobs)"
	grep -q INJECTED "$T/trace" || fail "$_what: no fault injected"
	kill "$_sp" 2>/dev/null || true
	wait "$_sp" 2>/dev/null || true
	"$QUIRECTL" -D "$W" status > /dev/null || fail "$_what: no status"
	[ "$("$QUIRECTL" -D "$W" search --json --exact -n 100 new |
	    jq '([.hits[].id] | unique | length), .total' | tr '\n' ' ')" = \
	    "5 5 " ] || fail "$_what: not each document once"
	"$QUIRECTL" -D "$W" check > "$T/out" 2>&1 ||
	    fail "$_what: check: $(cat "$T/out")"
	kill -TERM "$qp"
	wait "$qp" || fail "$_what: quired exited $?"
	qp= wp=
	wfaults=$((wfaults + 1))
}
ctl_w() { "$QUIRECTL" -D "$W" "$@"; }

wfaults=0
worker_faults() {
	for _e in EIO ENOSPC; do
		for _c in writev fdatasync; do
			worker_fault $_e $_c
		done
	done
}

faults=0
for err in EIO ENOSPC; do
	submit_faults $err ""
	submit_faults $err "+"
done
worker_faults
echo "ioerrors: $faults submissions met an error, none acknowledged;" \
    "$wfaults worker faults, every document indexed once"
exit 0
