#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The data directory belongs to the service user; root runs quirectl and
# quired on it.  Its owner plants a symbolic link (or a hard link) to a
# file of root's where quire expects a file of its own: ingest.log,
# ingest.pid, lock, debug-jobs.log, queue/ and its LMDB files, index/
# and its LMDB files.  Each time the command fails (or the one write is
# skipped) with a message naming the file and the link, and the file of
# root's is untouched, byte for byte and in its mode.  With the links
# gone, the same ingest works; its configuration is not written into the
# data directory.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

VICTIM=$T/victim
printf 'root:secret:0:0\n' > "$VICTIM"
chmod 600 "$VICTIM"
cp -p "$VICTIM" "$T/victim.orig"
mkdir "$T/docs" "$T/elsewhere"
printf 'hello symbolic world\n' > "$T/docs/doc.txt"

untouched() {
	cmp -s "$VICTIM" "$T/victim.orig" ||
	    fail "$1: the link's target was written: $(cat -v "$VICTIM")"
	[ "$(stat -c %a "$VICTIM")" = 600 ] ||
	    fail "$1: the link's target changed mode"
	[ -z "$(ls -A "$T/elsewhere")" ] ||
	    fail "$1: files were made through a directory link: \
$(ls -A "$T/elsewhere")"
}

# ingest CHECK-NAME MESSAGE: `quirectl ingest` fails, with MESSAGE in its
# error or in ingest.log, and the target is untouched.
ingest_refused() {
	expect_exit 1 timeout 60 "$QUIRECTL" -D "$DATA" ingest -w 1 \
	    "$T/docs/doc.txt"
	if ! grep -q "$2" "$T/err" &&
	    ! grep -q "$2" "$DATA/ingest.log" 2>/dev/null; then
		fail "$1: no \"$2\": $(cat "$T/err")"
	fi
	untouched "$1"
}

mkdir -p "$DATA"

# --- quirectl's own file: ingest.log.
ln -s "$VICTIM" "$DATA/ingest.log"
ingest_refused ingest.log "ingest.log: a symbolic link, not followed"
rm "$DATA/ingest.log"
ln "$VICTIM" "$DATA/ingest.log"
ingest_refused "ingest.log hard link" \
    "ingest.log: a file with other hard links"
rm "$DATA/ingest.log"

# --- quired's files, as the foreground fleet of ingest starts it.
ln -s "$VICTIM" "$DATA/ingest.pid"
ingest_refused ingest.pid "ingest.pid: a symbolic link, not followed"
grep -q "quired did not start" "$T/err" || fail "ingest.pid: $(cat "$T/err")"
rm "$DATA/ingest.pid"
ln -s "$VICTIM" "$DATA/lock"
ingest_refused lock "lock: a symbolic link, not followed"
rm "$DATA/lock"

# --- The LMDB environments: the directories and the files in them.
ln -s "$T/elsewhere" "$DATA/queue"
expect_exit 1 ctl submit "$T/docs/doc.txt"
grep -q "queue: a symbolic link, not followed" "$T/err" ||
    fail "queue/: $(cat "$T/err")"
untouched queue/
rm "$DATA/queue"
mkdir "$DATA/queue"
for f in data.mdb lock.mdb; do
	ln -s "$VICTIM" "$DATA/queue/$f"
	expect_exit 1 ctl submit "$T/docs/doc.txt"
	grep -q "queue/$f: a symbolic link, not followed" "$T/err" ||
	    fail "queue/$f: $(cat "$T/err")"
	untouched "queue/$f"
	rm "$DATA/queue/$f"
done
mkdir "$DATA/index"
ln -s "$VICTIM" "$DATA/index/lock.mdb"
: > "$DATA/index/data.mdb"
expect_exit 3 ctl check
grep -q "index/lock.mdb: a symbolic link, not followed" "$T/err" ||
    fail "index/lock.mdb: $(cat "$T/err")"
untouched index/lock.mdb
rm -r "$DATA/index"
ln -s "$T/elsewhere" "$DATA/index"
ingest_refused index/ "index: a symbolic link, not followed"
rm "$DATA/index" "$DATA/ingest.log"

# --- With the links gone, the ingest works, and leaves no configuration.
expect_exit 0 timeout 60 "$QUIRECTL" -D "$DATA" ingest -w 1 \
    "$T/docs/doc.txt"
grep -q "^done: 1 documents" "$T/out" || fail "ingest: $(cat "$T/out")"
[ ! -e "$DATA/ingest.conf" ] || fail "ingest.conf in the data directory"
untouched "the clean ingest"

# --- A worker's file: debug-jobs.log.  The job is done; the line is not
# written, and the log says why.
ln -s "$VICTIM" "$DATA/debug-jobs.log"
write_conf "workers 1"
start_quired
expect_exit 0 ctl submit --debug noop
wait_for 20 status_is '.jobs.done' 2 || fail "the debug job did not finish"
wait_for 10 grep -q "debug-jobs.log: a symbolic link, not followed" \
    "$LOG" || fail "debug-jobs.log: no message in the log"
untouched debug-jobs.log
exit 0
