#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The index has used up its chunk ids (t/ixnext moves it to within a few
# of 2^32): the workers hold their jobs and retry, status says "storage:
# ids-full" and degraded, the log says why, nothing is counted as a crash
# or an attempt, nothing goes to the dead letters, and search still
# answers.  What quired(8) says to do then works: stop the daemon, move
# the index aside, start it again; every record is indexed anew.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
: "${IXNEXT:=$(dirname "$QUIRED")/t/ixnext}"

N=3000
records $N 7
write_conf "workers 2" "lease-time 2s" "hang-timeout 2s" \
    "heartbeat-interval 200ms" "max-attempts 1" "max-crashes 1" \
    "listen 127.0.0.1:0"
start_quired
ctl stop > /dev/null || fail "stop"
wait_for 30 pid_gone "$(quired_pid)" || fail "quired did not stop"
"$IXNEXT" "$DATA" 10 || fail "ixnext"

start_quired
HPORT=$(http_port)
[ "$(status_json .index.chunk_ids_left)" = 10 ] ||
    fail "ids left: $(status_json .index)"
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"
held ids-full
[ "$(status_json .index.documents)" = 0 ] ||
    fail "documents while ids-full: $(status_json .index)"
grep -q 'ids used up' "$LOG" || fail "the cause not logged"
# Never a bigger map for it: the map grows only for data.
grep -q 'map grown' "$LOG" && fail "the map grew for ids"
hreq GET /metrics > /dev/null
grep -q '^quire_index_chunk_ids_left 10$' "$T/hbody" ||
    fail "metrics: $(grep chunk_ids "$T/hbody")"

# What quired(8) says: stop, move the index aside, start again.
ctl stop > /dev/null || fail "stop while ids-full"
wait_for 30 pid_gone "$(quired_pid)" || fail "quired did not stop"
mv "$DATA/index" "$T/index.full"
start_quired
resumed $N 1 0 1500 2999
echo "idsfull: held at 10 ids left, resumed in a new index, $N records"
