#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quired on the PostgreSQL queue (queue-backend postgresql), against a
# private server (t/lib.sh's pg_start): status names the backend, the
# database and this host, never a password, and the host registers
# itself under the machine's name; files and an NDJSON bulk submitted
# with quirectl to a running daemon, an upload over HTTP, and ingest
# into the daemon and with a foreground fleet are all indexed and
# searchable; jobs, job, cancel, retry and purge work on the queue in
# PostgreSQL; a job enqueued while the workers idle is claimed within
# about a second (they wait on LISTEN/NOTIFY); kill -9 of a worker in a
# job releases that job at the reap (a crash, not an attempt) and it
# then completes exactly once.  Skipped where Debian's PostgreSQL
# binaries are absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

pg_start
pg_db

# quirectl reads the backend from the configuration.
ctl() {
	"$QUIRECTL" -D "$DATA" -f "$CONF" "$@"
}

# host-name and host-expiry have bounds.
write_conf "queue-backend postgresql" "queue-dsn $DSN" "host-name a b"
"$QUIRED" -n -f "$CONF" > "$T/out" 2>&1 && fail "quired -n took host-name a b"
grep -q "host-name: at most 255 bytes, without spaces" "$T/out" ||
    fail "quired -n said: $(cat "$T/out")"
write_conf "queue-backend postgresql" "queue-dsn $DSN" "host-expiry 1s"
"$QUIRED" -n -f "$CONF" > "$T/out" 2>&1 && fail "quired -n took host-expiry 1s"

write_conf "queue-backend postgresql" "queue-dsn $DSN" "workers 2" \
    "max-crashes 5" "max-attempts 2" "backoff 100ms" "listen 127.0.0.1:0"
ctl db init > /dev/null || fail "db init"
start_quired
sv=$(quired_pid)
wait_for 10 status_is .fleet.running 2 || fail "no workers: $(ctl status)"

# Status: the backend and where it is.
status_is .queue.backend postgresql ||
    fail "status: $(ctl status --json | jq -c .queue)"
where=$(status_json .queue.where)
case "$where" in
*"dbname quiredb"*"user quire"*) ;;
*)	fail "queue where: $where" ;;
esac
ctl status | grep -q "^queue: postgresql, host $PGDIR port [0-9]* dbname quiredb user quire; this host $(hostname)$" ||
    fail "status text: $(ctl status | grep queue)"
# The host registered itself, under the machine's name by default.
wait_for 5 sh -c "'$QUIRECTL' -f '$CONF' hosts --json | jq -e '.hosts |
    length == 1 and .[0].state == \"live\" and .[0].self'" ||
    fail "hosts: $(ctl hosts --json)"
[ "$(ctl hosts --json | jq -r '.hosts[0].name')" = "$(hostname)" ] ||
    fail "host name: $(ctl hosts --json)"
[ "$(status_json .readers.queue)" = null ] ||
    fail "LMDB reader slots for a queue on PostgreSQL"
[ ! -e "$DATA/queue/data.mdb" ] || fail "an LMDB queue was made too"

# Files and an NDJSON bulk.
mkdir "$T/docs"
for i in 1 2 3 4 5 6 7 8 9 10; do
	echo "file number $i says pgfile$i and common words" > "$T/docs/f$i.txt"
done
ctl submit "$T/docs" > "$T/out" || fail "submit files: $(cat "$T/out")"
records 300 7
ctl submit --ndjson "$T/r.ndjson" --split 4k > "$T/out" ||
    fail "submit ndjson: $(cat "$T/out")"
njobs=$(ctl status --json | jq '.totals.enqueued')
[ "$njobs" -gt 11 ] || fail "only $njobs jobs enqueued"
wait_for 60 status_is .jobs.done "$njobs" ||
    fail "not all done: $(ctl status --json | jq -c .jobs)"
[ "$(status_json .index.documents)" = 310 ] ||
    fail "documents: $(status_json .index.documents)"
for i in 1 5 10; do
	[ "$(search_ids "pgfile$i")" = "$T/docs/f$i.txt" ] ||
	    fail "pgfile$i: $(cat "$T/hits")"
done
for i in 0 123 299; do
	[ "$(search_ids "uniq$i")" = "r$i" ] || fail "uniq$i: $(cat "$T/hits")"
done
ctl jobs --state done --limit 1000 --json | jq -e --argjson n "$njobs" \
    '.jobs | length == $n' > /dev/null || fail "jobs --state done"
id=$(ctl jobs --state done --limit 1 --json | jq '.jobs[0].id')
ctl job --json "$id" | jq -e --argjson id "$id" '.id == $id and
    .state == "done"' > /dev/null || fail "job $id: $(ctl job "$id")"

# The HTTP child enqueues on the same queue: an upload is indexed.
HPORT=$(http_port)
echo "uploaded over http: pguploaded" > "$T/up.txt"
http_is 202 POST "/v1/documents?id=up-1" -H "Content-Type: text/plain" \
    --data-binary "@$T/up.txt"
ju=$(body .job)
wait_for 10 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $ju |
    jq -e '.state == \"done\"'" || fail "upload job $ju not done"
http_is 200 GET "/v1/jobs/$ju"
[ "$(body .state)" = done ] || fail "GET /v1/jobs/$ju: $(cat "$T/hbody")"
[ "$(search_ids pguploaded)" = up-1 ] || fail "pguploaded: $(cat "$T/hits")"
njobs=$((njobs + 1))

# Idle workers wake on the notification: a job enqueued now is claimed
# in about a second, not at some later poll.
sleep 2
t0=$(now_ms)
id=$(ctl submit --debug 'noop') || fail "submit noop"
wait_for 10 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $id |
    jq -e '.state == \"done\"'" || fail "job $id not done"
[ $(($(now_ms) - t0)) -lt 3000 ] ||
    fail "an idle fleet took $(($(now_ms) - t0)) ms to run a job"

# cancel, retry, purge.
id=$(ctl submit --debug 'sleep 60000') || fail "submit sleep"
wait_for 10 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $id |
    jq -e '.state == \"leased\"'" || fail "job $id not leased"
ctl cancel "$id" > "$T/out" || fail "cancel: $(cat "$T/out")"
wait_for 10 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $id |
    jq -e '.state == \"cancelled\"'" || fail "job $id not cancelled"
id=$(ctl submit --debug 'fail') || fail "submit fail"
wait_for 30 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $id |
    jq -e '.state == \"dead\"'" || fail "job $id not dead: $(ctl job $id)"
ctl retry "$id" > "$T/out" || fail "retry: $(cat "$T/out")"
wait_for 30 sh -c "[ \$(grep -c 'job $id failed: debug failure; dead' \
    '$LOG') = 2 ]" || fail "job $id did not run again after retry"
ctl purge --dead > "$T/out" || fail "purge: $(cat "$T/out")"
status_is .jobs.dead 0 || fail "dead letters left after purge"

# kill -9 of a worker in its job: released at the reap, done once.
id=$(ctl submit --debug 'sleep 1500') || fail "submit sleep"
wait_for 10 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $id |
    jq -e '.state == \"leased\"'" || fail "job $id not leased"
pid=$(ctl job --json "$id" | jq '.lease.pid')
[ "$pid" -gt 0 ] || fail "no lease pid: $(ctl job --json $id)"
kill -9 "$pid"
wait_for 30 sh -c "'$QUIRECTL' -D '$DATA' -f '$CONF' job --json $id |
    jq -e '.state == \"done\"'" || fail "job $id not done after the kill"
ctl job --json "$id" | jq -e '.crashes == 1 and .attempts == 0' \
    > /dev/null || fail "job $id: $(ctl job --json $id)"
[ "$(grep -c "^$id " "$DATA/debug-jobs.log")" = 1 ] ||
    fail "job $id ran $(grep -c "^$id " "$DATA/debug-jobs.log") times"
grep -q "(pid $pid) died: signal 9.*; released 1 job" "$LOG" ||
    fail "no release at the reap: $(grep "pid $pid" "$LOG")"

# ingest into the running daemon.
mkdir "$T/more"
echo "ingested into a daemon: pgingestone" > "$T/more/one.txt"
ctl ingest "$T/more" > "$T/out" 2>&1 || fail "ingest: $(cat "$T/out")"
[ "$(search_ids pgingestone)" = "$T/more/one.txt" ] ||
    fail "pgingestone: $(cat "$T/hits")"

ctl check > "$T/out" || fail "check: $(cat "$T/out")"
kill -TERM "$sv"
wait_for 20 pid_gone "$sv" || fail "quired did not stop"

# ingest without a daemon: a foreground fleet on the same queue.
echo "ingested by a fleet of its own: pgingesttwo" > "$T/more/two.txt"
ctl ingest -w 1 "$T/more" > "$T/out" 2>&1 || fail "ingest: $(cat "$T/out")"
[ "$(search_ids pgingesttwo)" = "$T/more/two.txt" ] ||
    fail "pgingesttwo: $(cat "$T/hits")"
echo "pgdaemon: $njobs jobs on PostgreSQL, 310 documents"
exit 0
