#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The queue's postgresql backend against a real PostgreSQL: a private
# server for this test alone (t/lib.sh's pg_start), the backend's Check
# suite (t/check_queue_pg.c) run against it, then the schema's commands:
# quirectl db init creates it and refuses a second time, db migrate on
# an up-to-date schema says so, and a schema newer than this quire's is
# refused by db migrate.  Skipped where Debian's PostgreSQL binaries are
# absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${CHECK_QUEUE_PG:=$(pwd)/t/check_queue_pg}"
[ -x "$CHECK_QUEUE_PG" ] || fail "no $CHECK_QUEUE_PG: run make check"

pg_start

# The semantic tests, each in a schema of its own.
QUIRE_TEST_PGDSN=$PGDSN "$CHECK_QUEUE_PG" ||
    fail "the postgresql backend's suite failed"

echo "PASS: queuepg"
