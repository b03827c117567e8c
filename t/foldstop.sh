#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A stop does not wait for a fold.  NREC records are ingested without a
# merger, then quired starts with a small merge-fold-size, so its merger
# folds every segment at once, in many slices.  SIGTERM while it folds:
# the merger stops after the slice under way (its log says the fold was
# paused), the daemon exits, and the index is sound with the fold half
# done.  Started again, the merger takes the fold up where it stopped and
# finishes it: no segment left, every record found once.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

NREC=300000

records $NREC 5
printf 'merge no\n' > "$T/ingest.conf"
ctl -f "$T/ingest.conf" ingest -w 2 "$T/r.ndjson" > "$T/ingest.out" ||
    fail "ingest failed: $(cat "$T/ingest.out")"
segs=$(ctl status --json | jq -r .index.segments)
[ "$segs" -gt 1 ] || fail "$segs segments after the ingest"

write_conf "workers 1" "merge-fold-size 64K" "log-level debug"
start_quired
sv=$(quired_pid)
# Look often: the fold must still be running when the stop comes.
i=0
until grep -q 'merge: folding [0-9]* segments' "$LOG"; do
	i=$((i + 1))
	[ $i -lt 6000 ] || fail "the merger did not start to fold"
	sleep 0.01
done
kill -TERM "$sv"
wait_for 30 pid_gone "$sv" || fail "the daemon did not stop"
grep -q 'merge: folding [0-9]* segments from 1: paused after' "$LOG" ||
    fail "the fold was not cut short: $(grep 'merge:' "$LOG")"
grep -q 'folded in' "$LOG" && fail "the fold both paused and finished"
ctl check > "$T/check" || fail "check after the stop: $(cat "$T/check")"
# The segments of the fold (fewer than the ingest's, if the merger merged
# some first) all there, and no chunk folded yet.
n=$(sed -n 's/.*merge: folding \([0-9]*\) segments from 1$/\1/p' "$LOG" |
    head -n 1)
ctl status --json 2>/dev/null | jq -e --argjson s "$n" '.index |
    .segments >= $s and .folded_chunks == 0' >/dev/null ||
    fail "not a fold half done: $(ctl status 2>&1)"

start_quired
sv=$(quired_pid)
wait_for 60 grep -q 'segments from 1 folded in' "$LOG" ||
    fail "the fold was not taken up again: $(grep 'merge:' "$LOG")"
wait_for 30 status_is .index.segments 0 || fail "segments left: $(ctl status)"
ctl check > "$T/check" || fail "check: $(cat "$T/check")"
grep -q "^index sound: $NREC documents, $NREC chunks, 0 segments" \
    "$T/check" || fail "after the fold: $(cat "$T/check")"
ctl search --json uniq299999 | jq -e '.total == 1' >/dev/null ||
    fail "uniq299999 is not found once"
ctl stop > /dev/null || fail "stop failed"
wait_for 30 pid_gone "$sv" || fail "the daemon did not stop"

echo "foldstop: a fold of $n segments paused by a stop, finished after"
exit 0
