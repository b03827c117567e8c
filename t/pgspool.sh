#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Uploads on a PostgreSQL queue shared by two hosts, A and B (t/lib.sh's
# pg_start; data directories, host-names and HTTP ports of their own):
# an upload's body goes into the database with its jobs, so whichever
# host claims a job reads it.  With no host running workers, A takes
# NDJSON bulks over HTTP (one of about 2.5 MB, past the database's
# pieces of 1 MB), documents over HTTP, and with quirectl submit --stdin
# a bulk cut into ranges of 32 KB and a document: each is accepted, its
# body is in the database (quire_spool, quire_spool_body) and no longer
# in A's spool.  Then B alone runs workers, and indexes every record
# and document: B's index holds them all, every one has B as its home,
# words of the first, middle and last records of each bulk are found on
# B, none is a dead letter; the database's body rows are gone and
# neither spool holds a file.  A document whose home is A (indexed by
# A's worker, which read its body from the database too), uploaded
# again through B, is a job only A may claim: A indexes the new version
# from the database, B's index never holds it.  Last, the database
# restarted while B's worker waits to read a body (the table of bodies
# locked): the worker waits the fault out, as a storage fault, and says
# so in its log; the job ends done with no attempt counted, no error
# and no dead letter.  Skipped where Debian's PostgreSQL binaries are
# absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v curl > /dev/null || skip "no curl"

pg_start
psql_c "CREATE DATABASE quiredb" > /dev/null
DSN="host=$PGDIR user=quire dbname=quiredb"

# qsql SQL: one statement on the hosts' database, its rows unaligned.
qsql() {
	(cd / && $PGRUN "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
	    -d "$DSN" -c "$1")
}

for h in A B; do
	host $h
	write_conf "listen 127.0.0.1:0" "workers 0" "min-workers 0" \
	    "merge no" "queue-backend postgresql" "queue-dsn $DSN" \
	    "host-name $h"
done
hctl A db init > /dev/null || fail "db init"
for h in A B; do
	host $h
	start_quired
	eval "HPORT_$h=\$(http_port)"
done

hfail() {
	for _h in A B; do
		echo "--- $_h" >&2
		tail -15 "$T/$_h/quired.log" >&2 2>/dev/null || true
	done
	fail "$@"
}

# Files in host H's spool, temporary ones included.
spooled() {
	find "$T/$1/data/spool" -mindepth 1 2>/dev/null | wc -l
}

# Every job of the shared queue finished: none ready, leased or retrying.
settled() {
	[ "$(hctl B status --json | jq '.jobs.ready + .jobs.leased +
	    .jobs.retry')" = 0 ]
}

docs() {
	hctl "$1" status --json | jq -r .index.documents
}

# hits H WORD: the ids host H's index finds for WORD, space separated.
hits() {
	hctl "$1" search --json -n 50 -- "$2" | jq -r '[.hits[].id] | join(" ")'
}

# scale H N: host H runs N workers, once they are up or gone.
scale() {
	hctl "$1" scale "$2" > /dev/null || hfail "scale $1 $2"
	wait_for 20 sh -c "[ \$('$QUIRECTL' -f '$T/$1/quired.conf' workers \
	    --json | jq '[.workers[] | select(.slot >= 0 and .pid != 0)] |
	    length') = $2 ]" || hfail "$1 does not run $2 workers"
}

# ndjson FILE PREFIX N: N records, PREFIX0 to PREFIXN-1, each with a
# word of its own (wPREFIXi) among sixty others.
ndjson() {
	LC_ALL=C awk -v n="$3" -v p="$2" 'BEGIN { srand(7);
	    for (i = 0; i < n; i++) { s = "";
		for (w = 0; w < 60; w++) s = s " f" int(rand() * 5000);
		printf "{\"id\":\"%s%d\",\"text\":\"w%s%d%s\"}\n", p, i, p, i, s
	    } }' > "$1"
}

NBIG=6500
NSMALL=40
NSTDIN=1500
ndjson "$T/big.ndjson" big "$NBIG"
ndjson "$T/small.ndjson" small "$NSMALL"
ndjson "$T/stdin.ndjson" cli "$NSTDIN"
[ "$(wc -c < "$T/big.ndjson")" -gt 2200000 ] ||
    fail "big.ndjson is only $(wc -c < "$T/big.ndjson") bytes"

# --- Uploads to A, while no host runs workers.
HPORT=$HPORT_A
http_is 202 POST /v1/documents/bulk -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$T/big.ndjson"
http_is 202 POST /v1/documents/bulk -H 'Content-Type: application/x-ndjson' \
    --data-binary "@$T/small.ndjson"
for i in 1 2 3; do
	http_is 202 POST "/v1/documents?id=doc$i&title=Upload+$i" \
	    -H 'Content-Type: text/plain' \
	    --data-binary "uploaded document number $i speaks of wdoc$i"
done
hctl A submit --stdin --ndjson --split 32768 < "$T/stdin.ndjson" \
    > "$T/out" || hfail "submit --stdin --ndjson: $(cat "$T/out")"
nranges=$(sed -n 's/^submitted \([0-9]*\) jobs.*/\1/p' "$T/out")
[ "${nranges:-0}" -gt 10 ] || fail "the stdin bulk: $(cat "$T/out")"
echo "a document from standard input speaks of wclidoc" |
    hctl A submit --stdin --id clidoc > /dev/null || hfail "submit --stdin"
nbodies=7
ntotal=$((NBIG + NSMALL + 3 + NSTDIN + 1))
[ "$(qsql "SELECT count(*) FROM quire_spool WHERE size IS NOT NULL")" = \
    $nbodies ] || fail "bodies in the database: $(qsql \
    "SELECT count(*), count(size) FROM quire_spool")"
[ "$(qsql "SELECT sum(length(data)) FROM quire_spool_body")" = \
    "$(qsql "SELECT sum(size) FROM quire_spool")" ] ||
    fail "the bodies' pieces do not add up to their sizes"
[ "$(qsql "SELECT max(size) FROM quire_spool")" = \
    "$(wc -c < "$T/big.ndjson")" ] || fail "the big bulk's size"
[ "$(spooled A)" = 0 ] || fail "A's spool: $(ls -a "$T/A/data/spool")"

# --- B alone runs workers: it reads every body from the database.
scale B 2
wait_for 120 settled || hfail "jobs left: $(hctl B status --json | jq -c .jobs)"
[ "$(docs B)" = $ntotal ] || hfail "B indexed $(docs B) of $ntotal"
[ "$(docs A)" = 0 ] || hfail "A indexed $(docs A)"
[ "$(hctl B status --json | jq .jobs.dead)" = 0 ] ||
    hfail "dead letters: $(hctl B dlq)"
[ "$(qsql "SELECT count(*) FROM quire_docs WHERE home = 'B'::bytea")" = \
    $ntotal ] || hfail "homes: $(qsql "SELECT home, count(*) FROM \
    quire_docs GROUP BY home")"
ids="big0 big3250 big6499 small0 small39 cli0 cli750 cli1499 doc1 doc2 doc3
    clidoc"
q=$(for id in $ids; do printf 'w%s ' $id; done)
[ "$(hctl B search --json -n 50 -- "$q" | jq -r '.hits[].id' | sort)" = \
    "$(printf '%s\n' $ids | sort)" ] ||
    hfail "$q: $(hctl B search -n 50 -- "$q")"
[ "$(qsql "SELECT count(*) FROM quire_spool")" = 0 ] ||
    fail "spool rows left: $(qsql "SELECT count(*) FROM quire_spool")"
[ "$(qsql "SELECT count(*) FROM quire_spool_body")" = 0 ] ||
    fail "body pieces left"
[ "$(spooled A)" = 0 ] || fail "A's spool: $(ls -a "$T/A/data/spool")"
[ "$(spooled B)" = 0 ] || fail "B's spool: $(ls -a "$T/B/data/spool")"

# --- A document whose home is A, uploaded again through B.
scale B 0
scale A 1
http_is 202 POST "/v1/documents?id=homed" -H 'Content-Type: text/plain' \
    --data-binary "the first version says firstver"
wait_for 30 sh -c "[ \$('$QUIRECTL' -f '$T/A/quired.conf' status --json |
    jq .index.documents) = 1 ]" || hfail "A did not index homed"
[ "$(qsql "SELECT home FROM quire_docs WHERE extid = 'homed'::bytea")" = \
    '\x41' ] || hfail "homed's home: $(qsql "SELECT home FROM quire_docs \
    WHERE extid = 'homed'::bytea")"
scale B 2
HPORT=$HPORT_B
http_is 202 POST "/v1/documents?id=homed" -H 'Content-Type: text/plain' \
    --data-binary "the second version says secondver"
jh=$(body .job)
wait_for 30 sh -c "'$QUIRECTL' -f '$T/B/quired.conf' job --json $jh |
    jq -e '.state == \"done\"'" || hfail "job $jh: $(hctl B job $jh)"
[ "$(hits A secondver)" = homed ] || hfail "secondver on A: $(hits A secondver)"
[ -z "$(hits A firstver)" ] || hfail "firstver on A: $(hits A firstver)"
[ -z "$(hits B secondver)" ] || hfail "secondver on B: $(hits B secondver)"
[ "$(docs A)" = 1 ] || hfail "A holds $(docs A) documents"
[ "$(docs B)" = $ntotal ] || hfail "B holds $(docs B) documents"
[ "$(qsql "SELECT count(*) FROM quire_spool")" = 0 ] ||
    fail "spool rows left after homed"
[ "$(spooled A)$(spooled B)" = 00 ] || fail "spool files left after homed"

# --- The database restarted while B's worker waits to read a body.
scale A 0
scale B 0
HPORT=$HPORT_A
http_is 202 POST "/v1/documents?id=faulted" -H 'Content-Type: text/plain' \
    --data-binary "read across a restart of the database: faultword"
jf=$(body .job)
(cd / && PGAPPNAME=locker $PGRUN "$PGBIN/psql" -X -q -d "$DSN" \
    -c "BEGIN" -c "LOCK TABLE quire_spool_body IN ACCESS EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(120)") > /dev/null 2>&1 &
locker=$!
wait_for 10 sh -c "[ \$(cd / && $PGRUN '$PGBIN/psql' -X -q -A -t \
    -d '$DSN' -c \"SELECT count(*) FROM pg_locks l JOIN pg_class c ON
    c.oid = l.relation WHERE c.relname = 'quire_spool_body' AND
    l.mode = 'AccessExclusiveLock' AND l.granted\") = 1 ]" ||
    fail "the lock was not taken"
scale B 1
wait_for 20 sh -c "[ \$(cd / && $PGRUN '$PGBIN/psql' -X -q -A -t \
    -d '$DSN' -c \"SELECT count(*) FROM pg_stat_activity WHERE
    wait_event_type = 'Lock' AND query LIKE '%FROM quire_spool_body%'\") \
    = 1 ]" || hfail "no worker waits for the body"
(cd / && $PGRUN "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 60 \
    restart > "$T/pg-restart.log" 2>&1) ||
    fail "pg_ctl restart: $(cat "$T/pg-restart.log")"
wait "$locker" || true
wait_for 60 sh -c "'$QUIRECTL' -f '$T/B/quired.conf' job --json $jf |
    jq -e '.state == \"done\"'" || hfail "job $jf: $(hctl B job $jf)"
hctl B job --json "$jf" | jq -e '.attempts == 0 and .crashes == 0 and
    (.error // "") == ""' > /dev/null || fail "job $jf: $(hctl B job \
    --json "$jf")"
grep -q "upload read: " "$T/B/quired.log" ||
    hfail "B's worker did not wait the fault out"
[ "$(hits B faultword)" = faulted ] || hfail "faultword: $(hits B faultword)"
[ "$(hctl B status --json | jq .jobs.dead)" = 0 ] ||
    hfail "dead letters: $(hctl B dlq)"
[ "$(qsql "SELECT count(*) FROM quire_spool")" = 0 ] ||
    fail "spool rows left after faulted"
for h in A B; do
	hctl $h check > "$T/out" || fail "check $h: $(cat "$T/out")"
done
echo "pgspool: $ntotal records and documents uploaded to A, indexed by B;" \
    "$nranges ranges from standard input"
exit 0
