#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The index has used up its chunk ids (t/ixnext moves it to within a few
# of 2^32, after some records were indexed, some deleted and some
# replaced): the workers hold their jobs and retry, status says
# "storage: ids-full" and degraded, the log says why, nothing is counted
# as a crash or an attempt, nothing goes to the dead letters, and search
# still answers.  What quired(8) says to do then works: stop the daemon,
# quirectl compact --shrink numbers the live chunks again, start it
# again; the held records are indexed, the deleted stay gone, the
# replaced are found once.  And when that cannot help, moving the index
# aside does: every record is indexed anew.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
: "${IXNEXT:=$(dirname "$QUIRED")/t/ixnext}"

N=3000
records $N 7
head -n 1000 "$T/r.ndjson" > "$T/first.ndjson"
tail -n +1001 "$T/r.ndjson" > "$T/rest.ndjson"
sed -n '151,250p' "$T/r.ndjson" | sed 's/"text":"/"text":"changed /' \
    > "$T/changed.ndjson"
write_conf "workers 2" "lease-time 2s" "hang-timeout 2s" \
    "heartbeat-interval 200ms" "max-attempts 1" "max-crashes 1" \
    "listen 127.0.0.1:0"
start_quired
ctl submit --ndjson "$T/first.ndjson" > /dev/null || fail "submit"
wait_for 60 status_is .jobs.done 1 || fail "first: $(status_json .jobs)"
i=0
while [ $i -lt 100 ]; do
	ctl delete "r$i" > /dev/null || fail "delete r$i"
	i=$((i + 1))
done
ctl submit --ndjson "$T/changed.ndjson" > /dev/null || fail "submit"
wait_for 60 status_is .jobs.done 2 || fail "changed: $(status_json .jobs)"
[ "$(status_json .index.documents)" = 900 ] ||
    fail "documents: $(status_json .index)"
ctl stop > /dev/null || fail "stop"
wait_for 30 pid_gone "$(quired_pid)" || fail "quired did not stop"
"$IXNEXT" "$DATA" 10 || fail "ixnext"

start_quired
HPORT=$(http_port)
[ "$(status_json .index.chunk_ids_left)" = 10 ] ||
    fail "ids left: $(status_json .index)"
ctl submit --ndjson "$T/rest.ndjson" > /dev/null || fail "submit"
held ids-full
[ "$(status_json .index.documents)" = 900 ] ||
    fail "documents while ids-full: $(status_json .index)"
grep -q 'ids used up' "$LOG" || fail "the cause not logged"
[ "$(grep -c 'merge: 10 chunk ids left, fewer than half' "$LOG")" = 1 ] ||
    fail "short ids not said once: $(grep 'chunk ids left' "$LOG")"
# Never a bigger map for it: the map grows only for data.
grep -q 'map grown' "$LOG" && fail "the map grew for ids"
hreq GET /metrics > /dev/null
grep -q '^quire_index_chunk_ids_left 10$' "$T/hbody" ||
    fail "metrics: $(grep chunk_ids "$T/hbody")"

# What quired(8) says: stop, compact --shrink, start again.
ctl stop > /dev/null || fail "stop while ids-full"
wait_for 30 pid_gone "$(quired_pid)" || fail "quired did not stop"
ctl compact --shrink > "$T/shrink.out" || fail "compact --shrink"
grep -q '^chunks numbered again: [0-9]* chunk ids left, 10 before$' \
    "$T/shrink.out" || fail "not numbered again: $(cat "$T/shrink.out")"
ctl check > /dev/null || fail "check after the shrink"
start_quired
resumed $((N - 100)) 3 100 150 249 999 1000 2999
left=$(status_json .index.chunk_ids_left)
[ "$left" -gt 4294000000 ] || fail "ids left after the shrink: $left"
[ "$(grep -c 'chunk ids left, fewer than half' "$LOG")" = 1 ] ||
    fail "short ids said after the shrink"
for i in 0 99; do
	[ "$(ctl search --json "uniq$i" | jq '.hits | length')" = 0 ] ||
	    fail "r$i deleted, but found"
done
ctl search --json "changed uniq200" | jq -e \
    '.hits[0].id == "r200" and .hits[0].snippet != null' > /dev/null ||
    fail "the replaced r200 not found"

# An index whose ids its live chunks hold: moved aside, all anew.
ctl stop > /dev/null || fail "stop"
wait_for 30 pid_gone "$(quired_pid)" || fail "quired did not stop"
mv "$DATA/index" "$T/index.full"
start_quired
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit again"
wait_for 60 status_is .index.documents $N ||
    fail "anew: $(status_json .index)"
ctl check > /dev/null || fail "check of the new index"
echo "idsfull: held at 10 ids left, numbered again by a shrink," \
    "$((N - 100)) records; a new index, $N"
