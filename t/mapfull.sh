#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The index's map reaches map-max while records are being indexed: the
# workers hold their jobs and retry, status says "storage: map-full" and
# degraded, nothing is counted as a crash or an attempt, and nothing
# goes to the dead letters.  Raising map-max and sending SIGHUP lets
# ingestion finish by itself, with every record searchable.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

N=30000
awk -v n=$N 'BEGIN { srand(5); for (i = 0; i < n; i++) { s = "";
    for (w = 0; w < 50; w++) s = s " w" int(rand() ^ 2 * 40000);
    printf "{\"id\":\"r%d\",\"text\":\"uniq%d%s\"}\n", i, i, s } }' \
    > "$T/r.ndjson"
write_conf "workers 2" "map-size 1M" "map-max 6M" "lease-time 2s" "hang-timeout 1s" "heartbeat-interval 200ms" \
    "max-attempts 1" "max-crashes 1"
start_quired
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"

wait_for 30 status_is .storage.state map-full ||
    fail "no map-full: $(status_json .storage)"
status_is .fleet.degraded true || fail "map-full but not degraded"
ctl status | grep -q '^storage: map-full' || fail "status text: $(ctl status)"
# Held, not failed: longer than a lease, and no sweep takes the jobs.
sleep 3
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters while map-full"
[ "$(status_json .jobs.retry)" = 0 ] || fail "retries while map-full"
[ "$(status_json .fleet.deaths)" = 0 ] || fail "workers died while map-full"
grep -q 'storage: map-full' "$LOG" || fail "not logged"
# One line a second per process at most (a few seconds have passed).
lines=$(grep -c 'map full at' "$LOG")
[ "$lines" -le 40 ] || fail "$lines map-full lines in the log"

sed 's/^map-max .*/map-max 1G/' "$CONF" > "$T/c2" && mv "$T/c2" "$CONF"
kill -HUP "$(quired_pid)"
wait_for 60 status_is .jobs.done 2 || fail "not resumed: $(status_json .jobs)"
wait_for 10 status_is .storage.state ok || fail "$(status_json .storage)"
[ "$(status_json .index.documents)" = $N ] ||
    fail "documents: $(status_json .index.documents), not $N"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters"
status_is .fleet.degraded false || fail "still degraded"
grep -q 'storage: ok again' "$LOG" || fail "recovery not logged"
for i in 0 777 14999 29999; do
	ctl search --json uniq$i | jq -e --arg id r$i \
	    '.hits[0].id == $id' > /dev/null || fail "uniq$i not found"
done
ctl check > /dev/null || fail "check"
echo "mapfull: held at 6M, resumed after map-max 1G, $N records"
