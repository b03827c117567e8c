#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# PostgreSQL restarted under a running quired (queue-backend postgresql):
# with jobs in flight, the server is stopped (fast shutdown, which ends
# every connection) and started again a few seconds later.  Meanwhile
# status says "storage: unreachable" and the fleet is degraded, and the
# daemon, its workers and quirectl status stay up; once it is back they
# reconnect by themselves, and every record submitted before the stop
# is indexed, each once, none a dead letter, none lost; the log says
# when the connection was lost and when it came back.  A submit while
# the server is down is refused with a clear error, and nothing of it
# is taken.  Skipped where Debian's PostgreSQL binaries are absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

pg_start
psql_c "CREATE DATABASE quiredb" > /dev/null
DSN="host=$PGDIR user=quire dbname=quiredb"

ctl() {
	"$QUIRECTL" -D "$DATA" -f "$CONF" "$@"
}

pg_ctl() {
	(cd / && $PGRUN "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
	    -t 60 -o "-c listen_addresses='' -c unix_socket_directories='$PGDIR' -c fsync=on" \
	    "$@" > "$T/pg-ctl.log" 2>&1) ||
	    fail "pg_ctl $*: $(tail -5 "$PGDIR/log")"
}

# Slow jobs keep work in flight while the server is away: each record
# is its own job, and a few sleep jobs stretch the run.
write_conf "queue-backend postgresql" "queue-dsn $DSN" "workers 2" \
    "listen none" "max-attempts 3" "backoff 100ms"
ctl db init > /dev/null || fail "db init"
start_quired
sv=$(quired_pid)
wait_for 10 status_is .fleet.running 2 || fail "no workers: $(ctl status)"

records 2000 11
ctl submit --ndjson "$T/r.ndjson" --split 4k > "$T/out" ||
    fail "submit: $(cat "$T/out")"
ctl submit --debug "sleep 300" --count 40 > /dev/null ||
    fail "submit sleeps"
njobs=$(ctl status --json | jq '.totals.enqueued')
wait_for 30 sh -c "[ \$('$QUIRECTL' -D '$DATA' -f '$CONF' status --json |
    jq '.jobs.done') -gt 3 ]" || fail "no job done: $(ctl status)"

# The server goes; the daemon notices and says so.
pg_ctl stop -m fast
wait_for 20 status_is .storage.state unreachable ||
    fail "status while PostgreSQL is down: $(ctl status --json | jq -c .storage)"
status_is .fleet.degraded true || fail "the fleet is not degraded"
ctl status > "$T/st" 2>&1 || fail "status failed: $(cat "$T/st")"
grep -q "^storage: unreachable for " "$T/st" ||
    fail "status says: $(cat "$T/st")"
echo '{"id":"late","text":"submitted while the server was down"}' \
    > "$T/late.ndjson"
if ctl submit --ndjson "$T/late.ndjson" > "$T/out" 2>&1; then
	fail "a submit was taken while PostgreSQL was down: $(cat "$T/out")"
fi

grep -q "PostgreSQL" "$T/out" || fail "submit's refusal: $(cat "$T/out")"
sleep 2
kill -0 "$sv" || fail "quired died with the server"
[ "$(ctl workers --json | jq '.workers | length')" -ge 1 ] ||
    fail "no workers while PostgreSQL was down"

# Back: every job completes, once.
pg_ctl start
wait_for 60 status_is .storage.state ok ||
    fail "storage after the restart: $(ctl status --json | jq -c .storage)"
wait_for 120 status_is .jobs.done "$njobs" ||
    fail "not all done after the restart: $(ctl status --json | jq -c .jobs)"
ctl status --json > "$T/st"
jq -e '.jobs.dead == 0 and .jobs.ready == 0 and .jobs.leased == 0 and
    .jobs.retry == 0' "$T/st" > /dev/null ||
    fail "after the restart: $(jq -c .jobs "$T/st")"
[ "$(jq .index.documents "$T/st")" = 2000 ] ||
    fail "documents: $(jq .index.documents "$T/st"), not 2000"
for i in 0 999 1999; do
	[ "$(search_ids "uniq$i")" = "r$i" ] || fail "uniq$i: $(search_ids "uniq$i")"
done
[ "$(search_ids late)" = "" ] || fail "the refused submit was indexed"
ctl check > "$T/out" 2>&1 || fail "check: $(cat "$T/out")"
grep -q "the connection to PostgreSQL is lost" "$LOG" &&
    grep -q "connected to PostgreSQL again after" "$LOG" &&
    grep -q "storage: ok again after .* of unreachable" "$LOG" ||
    fail "the outage is not logged"
echo "pgrestart: $njobs jobs done once across a PostgreSQL restart"
exit 0
