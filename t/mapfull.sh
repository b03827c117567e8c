#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The index's map reaches map-max while records are being indexed: the
# workers hold their jobs and retry, status says "storage: map-full" and
# degraded, so does the progress line of the submit --follow that sent
# them, nothing is counted as a crash or an attempt, and nothing goes to
# the dead letters.  Raising map-max and sending SIGHUP lets ingestion
# finish by itself, with every record searchable, and the follow end.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

N=30000
records $N 5
write_conf "workers 2" "map-size 1M" "map-max 6M" "lease-time 2s" \
    "hang-timeout 2s" "heartbeat-interval 200ms" "max-attempts 1" \
    "max-crashes 1" "listen 127.0.0.1:0"
start_quired
HPORT=$(http_port)
# Followed, as a user would: the progress line says why it stalls.
ctl submit --follow --ndjson "$T/r.ndjson" > "$T/follow" 2>&1 &
FOLLOW=$!

# Held, not failed: longer than a lease, and no sweep takes the jobs.
held map-full
# Uploads are refused with Retry-After.
code=$(hreq POST /v1/documents --data-binary "a document" -D "$T/hdr")
[ "$code" = 503 ] || fail "an upload while map-full: $code"
grep -qi '^Retry-After:' "$T/hdr" || fail "503 without Retry-After"
# One line a second per process at most (a few seconds have passed).
lines=$(grep -c 'map full at' "$LOG")
[ "$lines" -le 40 ] || fail "$lines map-full lines in the log"

sed 's/^map-max .*/map-max 1G/' "$CONF" > "$T/c2" && mv "$T/c2" "$CONF"
kill -HUP "$(quired_pid)"
resumed $N 2 0 777 14999 29999
wait "$FOLLOW" || fail "submit --follow: $(tail -3 "$T/follow")"
grep -q 'held: storage map-full (worker [01]: ' "$T/follow" ||
    fail "the follow never said why: $(head -5 "$T/follow")"
tail -2 "$T/follow" | grep -q '^100% 2/2 jobs, .*ETA 0s$' ||
    fail "the last line still held: $(tail -2 "$T/follow")"
tail -1 "$T/follow" | grep -q '^finished: 2 done, 0 dead letters' ||
    fail "the follow ended: $(tail -2 "$T/follow")"
grep -q 'storage: ok again' "$LOG" || fail "recovery not logged"
code=$(hreq GET /healthz)
[ "$code" = 200 ] || fail "/healthz after recovery: $code $(cat "$T/hbody")"
echo "mapfull: held at 6M, resumed after map-max 1G, $N records"
