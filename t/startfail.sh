#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Failures say what they are.  A start that fails after the pidfile was
# written (queue/ not a directory; queue/ unreadable to the service user)
# exits 1 and leaves no pidfile, daemonized or in the foreground.  A data
# directory that cannot be read is "Permission denied", not "no queue".
# `quirectl check` exits 1 for a damaged index (a tombstone record
# damaged on disk) and 3 for one it cannot read (none, not LMDB,
# permission denied).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

# --- queue/ is a file: the queue cannot be opened after the pidfile.
write_conf "workers 1"
mkdir -p "$DATA"
: > "$DATA/queue"
expect_exit 1 "$QUIRED" -f "$CONF"
[ ! -e "$PIDFILE" ] || fail "a failed start left its pidfile"
grep -q "queue: not a directory" "$LOG" || fail "no reason in the log"
expect_exit 1 "$QUIRED" -d -f "$CONF"
[ ! -e "$PIDFILE" ] || fail "a failed start (-d) left its pidfile"
rm "$DATA/queue"

# --- As the service user, queue/ (the user's, but mode 0) cannot be
# read.  (One of root's is refused before the pidfile: t/user.sh.)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 755 "$T"
	mkdir -m 0 "$DATA/queue"
	chown nobody "$DATA/queue"
	mkdir "$T/run" "$T/logs"
	chown nobody "$T/run" "$T/logs"
	LOG=$T/logs/quired.log
	write_conf "workers 1" "user nobody"
	sed -i "s|^pidfile .*|pidfile $T/run/quired.pid|" "$CONF"
	expect_exit 1 "$QUIRED" -f "$CONF"
	[ ! -s "$T/run/quired.pid" ] ||
	    fail "a failed start as nobody left its pidfile"
	grep -q "queue/data.mdb: Permission denied" "$LOG" ||
	    fail "the log does not say Permission denied"
	rmdir "$DATA/queue"
	chown root "$DATA"
	write_conf "workers 1"

	# quirectl as nobody on a data directory it cannot read.
	ctl submit --debug noop >/dev/null
	chmod 700 "$DATA"
	for cmd in jobs status; do
		expect_exit 1 setpriv --reuid=nobody --regid=nogroup \
		    --clear-groups "$QUIRECTL" -D "$DATA" $cmd
		grep -q "Permission denied" "$T/err" ||
		    fail "$cmd as nobody said: $(cat "$T/err")"
		! grep -q "no queue" "$T/err" ||
		    fail "$cmd as nobody said: $(cat "$T/err")"
	done
	expect_exit 3 setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$QUIRECTL" -D "$DATA" check
	grep -q "Permission denied" "$T/err" ||
	    fail "check as nobody said: $(cat "$T/err")"
	chmod 750 "$DATA"
	rm -rf "$DATA"
fi

# --- check: 3 when the index cannot be read.
mkdir -p "$DATA"
expect_exit 3 ctl check
grep -q "no index in this data directory" "$T/err" ||
    fail "check without an index: $(cat "$T/err")"
mkdir "$DATA/index"
printf 'not an LMDB file at all, but long enough to be read as one\n' \
    > "$DATA/index/data.mdb"
expect_exit 3 ctl check
rm -r "$DATA/index"

# --- check: 1 when the index is damaged.  A document deleted leaves a
# tombstone bitmap; its record's bytes (after the key "tomb", the
# portable format's cookie, 12346 or 12347 little-endian) are damaged
# in the file, as a bad disk would.
mkdir "$T/docs"
printf 'alpha words\n' > "$T/docs/a.txt"
printf 'beta words\n' > "$T/docs/b.txt"
expect_exit 0 timeout 60 "$QUIRECTL" -D "$DATA" ingest -w 1 "$T/docs"
expect_exit 0 ctl check
id=$(ctl search --json beta | jq -r '.hits[0].id')
expect_exit 0 ctl delete "$id"
expect_exit 0 ctl check
perl -0777 -pi -e 's/tomb[\x3a\x3b]\x30/tomb\xff\xff/g' \
    "$DATA/index/data.mdb"
expect_exit 1 ctl check
grep -q "the tombstone bitmap is damaged" "$T/err" ||
    fail "check on a damaged tombstone record: $(cat "$T/err")"
expect_exit 1 ctl search beta
grep -q "tombstone" "$T/err" || fail "search: $(cat "$T/err")"
exit 0
