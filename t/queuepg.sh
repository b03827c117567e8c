#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The queue's postgresql backend against a real PostgreSQL: a private
# server for this test alone (t/lib.sh's pg_start), the queue's Check
# suite run against it (t/check_queue.c as check_queue pg: the semantic
# tests LMDB's run has too, then the backend's own), then the schema's
# commands: quirectl db init creates it and refuses a second time, db
# migrate on an up-to-date schema says so, and a schema newer than this
# quire's is refused by db migrate; quired -n refuses the backend
# without queue-dsn; the password comes from queue-password-file (mode
# 0600) or PGPASSFILE, and a wrong one is refused without being shown.
# Skipped where Debian's PostgreSQL binaries are absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${CHECK_QUEUE:=$(pwd)/t/check_queue}"
[ -x "$CHECK_QUEUE" ] || fail "no $CHECK_QUEUE: run make check"

pg_start

# The queue's tests on this backend, each in a schema of its own.
QUIRE_TEST_PGDSN=$PGDSN "$CHECK_QUEUE" pg ||
    fail "the queue's suite failed on the postgresql backend"

# quirectl db, on a database of its own.
psql_c "CREATE DATABASE quiredb" > /dev/null
write_conf "queue-backend postgresql" \
    "queue-dsn host=$PGDIR user=quire dbname=quiredb"
"$QUIRED" -n -f "$CONF" > /dev/null || fail "quired -n refused $(cat "$CONF")"
"$QUIRECTL" -f "$CONF" db migrate > "$T/out" 2>&1 &&
    fail "db migrate before db init succeeded: $(cat "$T/out")"
grep -q "no quire schema: run quirectl db init" "$T/out" ||
    fail "db migrate before init: $(cat "$T/out")"
"$QUIRECTL" -f "$CONF" db init > "$T/out" 2>&1 ||
    fail "db init failed: $(cat "$T/out")"
grep -q "created the quire schema, version 6" "$T/out" ||
    fail "db init said: $(cat "$T/out")"
[ "$(psql_c "SELECT version FROM quire_schema" 2>/dev/null)" = "" ] ||
    fail "db init wrote to the database postgres, not quiredb"
PGDB_DSN="host=$PGDIR user=quire dbname=quiredb"
[ "$(cd / && $PGRUN "$PGBIN/psql" -X -q -A -t -d "$PGDB_DSN" \
    -c "SELECT version FROM quire_schema")" = 6 ] ||
    fail "no schema version 6 after db init"
rc=0
"$QUIRECTL" -f "$CONF" db init > "$T/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a second db init exited $rc: $(cat "$T/out")"
grep -q "already has a quire schema" "$T/out" ||
    fail "a second db init said: $(cat "$T/out")"
"$QUIRECTL" -f "$CONF" db migrate > "$T/out" 2>&1 ||
    fail "db migrate failed: $(cat "$T/out")"
grep -q "up to date (version 6)" "$T/out" ||
    fail "db migrate said: $(cat "$T/out")"
(cd / && $PGRUN "$PGBIN/psql" -X -q -d "$PGDB_DSN" \
    -c "UPDATE quire_schema SET version = 7") > /dev/null
rc=0
"$QUIRECTL" -f "$CONF" db migrate > "$T/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "db migrate of a newer schema exited $rc"
grep -q "version 7, newer than this quire's (6)" "$T/out" ||
    fail "db migrate of a newer schema said: $(cat "$T/out")"
rc=0
"$QUIRECTL" -f "$CONF" db > "$T/out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "db without a subcommand exited $rc"
"$QUIRECTL" help | grep -q "db init | migrate" || fail "help has no db"

# The backend without its connection string: quired -n says so.
write_conf "queue-backend postgresql"
"$QUIRED" -n -f "$CONF" > "$T/out" 2>&1 && fail "quired -n took no queue-dsn"
grep -q "queue-backend postgresql needs queue-dsn" "$T/out" ||
    fail "quired -n said: $(cat "$T/out")"

# A password from a private file; a wrong one is refused, never shown.
psql_c "CREATE ROLE qpw LOGIN PASSWORD 'right horse'" > /dev/null
psql_c "CREATE DATABASE qpwdb OWNER qpw" > /dev/null
{
	echo "local all qpw scram-sha-256"
	cat "$PGDIR/data/pg_hba.conf"
} > "$T/hba" && cat "$T/hba" > "$PGDIR/data/pg_hba.conf"
(cd / && $PGRUN "$PGBIN/pg_ctl" -D "$PGDIR/data" reload) > /dev/null
sleep 1
echo "right horse" > "$T/pw"
chmod 0600 "$T/pw"
write_conf "queue-backend postgresql" \
    "queue-dsn host=$PGDIR user=qpw dbname=qpwdb" \
    "queue-password-file $T/pw"
"$QUIRECTL" -f "$CONF" db init > "$T/out" 2>&1 ||
    fail "db init with the password file failed: $(cat "$T/out")"
echo "wrong staple" > "$T/pw"
"$QUIRECTL" -f "$CONF" db migrate > "$T/out" 2>&1 &&
    fail "db migrate with a wrong password succeeded"
grep -q "password authentication failed" "$T/out" ||
    fail "a wrong password: $(cat "$T/out")"
grep -q "staple" "$T/out" && fail "the password was shown: $(cat "$T/out")"
chmod 0644 "$T/pw"
"$QUIRECTL" -f "$CONF" db migrate > "$T/out" 2>&1 &&
    fail "a password file of mode 0644 was used"
grep -q "mode 0644 lets others read it" "$T/out" ||
    fail "a password file of mode 0644: $(cat "$T/out")"
# libpq's own password file works as well.
echo "*:*:*:qpw:right horse" > "$T/pgpass"
chmod 0600 "$T/pgpass"
write_conf "queue-backend postgresql" \
    "queue-dsn host=$PGDIR user=qpw dbname=qpwdb"
PGPASSFILE=$T/pgpass "$QUIRECTL" -f "$CONF" db migrate > "$T/out" 2>&1 ||
    fail "db migrate with PGPASSFILE failed: $(cat "$T/out")"
grep -q "up to date" "$T/out" || fail "db migrate said: $(cat "$T/out")"

echo "PASS: queuepg"
