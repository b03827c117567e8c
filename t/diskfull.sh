#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A real full disk: the data directory on a small tmpfs, mounted in a
# private mount namespace (root only; skipped otherwise).  Workers whose
# index commits fail hold their jobs and retry; status says "storage:
# full" and degraded; no worker dies, no job is retried or dead; a
# submit while nothing is left is refused with a clear error and leaves
# nothing half done.  When space returns (the tmpfs grows), ingestion
# resumes by itself and every record is searchable.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"

if [ "${QUIRE_IN_NS:-}" != 1 ]; then
	why=
	if [ "$(id -u)" != 0 ]; then
		why="a tmpfs in a mount namespace needs root"
	elif ! unshare -m --propagation private true 2>/dev/null; then
		why="cannot make a mount namespace here"
	fi
	if [ -n "$why" ]; then
		echo "SKIP: $why"
		exit 77
	fi
	QUIRE_IN_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$TOPSRC/t/lib.sh"
mkdir -p "$DATA"
unmount() {
	[ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null
	wait_for 10 test ! -e "$PIDFILE" || true
	umount -l "$DATA" 2>/dev/null || true
	cleanup
}
trap unmount EXIT INT TERM
mount -t tmpfs -o size=20m,mode=0750 tmpfs "$DATA" ||
    skip "cannot mount a tmpfs here"

N=45000
records $N 9
write_conf "workers 2" "lease-time 2s" "hang-timeout 2s" \
    "heartbeat-interval 200ms" "max-attempts 1" "max-crashes 1"
start_quired
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"

wait_for 30 status_is .storage.state full ||
    fail "no storage full: $(status_json .storage)"
status_is .fleet.degraded true || fail "full but not degraded"
ctl status | grep -q '^storage: full' || fail "status text: $(ctl status)"
grep -q 'storage: full' "$LOG" || fail "not logged"

# Take what is left, then ask for a thousand jobs: refused, clearly.
dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null || true
before=$(status_json .totals.enqueued)
expect_exit 1 "$QUIRECTL" -D "$DATA" submit --debug noop --count 1000
grep -q 'storage full' "$T/err" || fail "submit error: $(cat "$T/err")"
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "a refused submit enqueued jobs"

# Held past a lease: nothing swept, retried, dead or crashed.
sleep 3
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters while full"
[ "$(status_json .jobs.retry)" = 0 ] || fail "retries while full"
[ "$(status_json .fleet.deaths)" = 0 ] || fail "workers died while full"
lines=$(grep -c 'No space left' "$LOG")
[ "$lines" -le 40 ] || fail "$lines error lines in the log"

rm -f "$DATA/filler"
mount -o remount,size=200m "$DATA" || fail "remount"
resumed $N 2 0 4321 29999
echo "diskfull: held while full, refused a submit, resumed, $N records"
