#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The backup and restore of quired(8)'s EXAMPLES, for real: mdb_copy -c
# of a running daemon's queue, then its index; the copies put in a new
# data directory, where a daemon starts, quirectl check finds the index
# sound, and search, status and jobs show what the original showed.
# Needs mdb_copy (Debian's lmdb-utils).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v mdb_copy >/dev/null 2>&1 || skip "no mdb_copy (lmdb-utils)"

write_conf "workers 2"
printf 'alpha beta\n' > "$T/a.txt"
printf '# Gamma\n\nalpha gamma delta, then alpha again\n' > "$T/b.md"
printf 'alphabet soup\n' > "$T/c.txt"
start_quired
expect_exit 0 ctl submit "$T/a.txt" "$T/b.md" "$T/c.txt"
expect_exit 0 ctl submit --debug fail
wait_for 30 status_is '.jobs.done + .jobs.dead' 4 ||
    fail "the jobs did not finish: $(ctl status)"

# The copy, while the daemon runs: the queue first, so that a job that
# ends between the two copies is run again after a restore, not lost.
BACKUP=$T/backup
mkdir -p "$BACKUP/queue" "$BACKUP/index"
expect_exit 0 mdb_copy -c "$DATA/queue" "$BACKUP/queue"
expect_exit 0 mdb_copy -c "$DATA/index" "$BACKUP/index"
[ -s "$BACKUP/queue/data.mdb" ] && [ -s "$BACKUP/index/data.mdb" ] ||
    fail "mdb_copy made no copy: $(ls -lR "$BACKUP")"
ctl workers >/dev/null || fail "the daemon stopped during the copy"

# What the original shows, then stop it.
untimed() {
	sed -e 's/"took_ms": [0-9.]*/"took_ms": T/' \
	    -e 's/chunks, [0-9.]* ms$/chunks, T ms/' "$1"
}
expect_exit 0 ctl search --json 'alpha*'
jq -e '.total == 3' "$T/out" >/dev/null ||
    fail "the original finds: $(cat "$T/out")"
untimed "$T/out" > "$T/hits.orig"
expect_exit 0 ctl search gamma
untimed "$T/out" > "$T/text.orig"
ctl jobs --json | jq -c '[.jobs[] | [.id, .state, .path]]' > "$T/jobs.orig"
expect_exit 0 ctl drain
wait_for 30 pid_gone "$(quired_pid)" || fail "quired did not stop"

# The restore: the copies in a new data directory, and a daemon on it.
DATA2=$T/restored
mkdir -p "$DATA2/queue" "$DATA2/index"
cp "$BACKUP/queue/data.mdb" "$DATA2/queue/"
cp "$BACKUP/index/data.mdb" "$DATA2/index/"
sed -e "s|^datadir .*|datadir $DATA2|" \
    -e "s|^pidfile .*|pidfile $T/restored.pid|" "$CONF" > "$T/restored.conf"
PIDFILE=$T/restored.pid
"$QUIRED" -f "$T/restored.conf" || fail "quired did not start on the copy"
wait_for 10 test -S "$DATA2/control.sock" || fail "no socket on the copy"
DATA=$DATA2

expect_exit 0 ctl check
grep -q '^index sound: 3 documents' "$T/out" ||
    fail "check of the copy: $(cat "$T/out")"
expect_exit 0 ctl search --json 'alpha*'
untimed "$T/out" > "$T/hits.copy"
diff "$T/hits.orig" "$T/hits.copy" >&2 || fail "the copy finds other hits"
expect_exit 0 ctl search gamma
untimed "$T/out" > "$T/text.copy"
diff "$T/text.orig" "$T/text.copy" >&2 || fail "the copy shows other text"
ctl jobs --json | jq -c '[.jobs[] | [.id, .state, .path]]' > "$T/jobs.copy"
diff "$T/jobs.orig" "$T/jobs.copy" >&2 || fail "the copy has other jobs"
expect_exit 0 ctl status --json
jq -e '.jobs.done == 3 and .jobs.dead == 1 and .fleet.pid > 0' "$T/out" \
    >/dev/null || fail "status of the copy: $(cat "$T/out")"
# The restored queue goes on: its dead letter runs again.
expect_exit 0 ctl retry --dead
grep -q '^1 dead letters ready again' "$T/out" ||
    fail "retry --dead on the copy: $(cat "$T/out")"
expect_exit 0 ctl drain
wait_for 30 pid_gone "$(quired_pid)" || fail "quired on the copy did not stop"

exit 0
