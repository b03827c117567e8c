#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A real full disk: the data directory on a small tmpfs, mounted in a
# private mount namespace (root only; skipped otherwise).  Workers whose
# index commits fail hold their jobs and retry; status says "storage:
# full" and degraded; no worker dies, no job is retried or dead; a
# submit while nothing is left is refused with a clear error and leaves
# nothing half done.  The HTTP API says so too: /healthz is 503 naming
# the full storage, uploads (one document, a bulk) get 503 with
# Retry-After and take nothing, while searches and status answer.  When
# space returns (the tmpfs grows), ingestion resumes by itself, every
# record is searchable, /healthz is 200 and uploads are taken again.

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
    "heartbeat-interval 200ms" "max-attempts 1" "max-crashes 1" \
    "listen 127.0.0.1:0"
start_quired
HPORT=$(http_port)
http_is 200 GET /healthz
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

# The HTTP API: /healthz 503 naming the full storage; uploads 503 with
# Retry-After, nothing taken; searches and status still answer.
healthz_full() {
	[ "$(hreq GET /healthz)" = 503 ] &&
	    body .why | grep -q 'storage full'
}
wait_for 10 healthz_full ||
    fail "/healthz while full: $(cat "$T/hheaders" "$T/hbody")"
[ "$(body .ok)" = false ] && grep -qi '^Retry-After: [0-9]' "$T/hheaders" ||
    fail "/healthz while full: $(cat "$T/hheaders" "$T/hbody")"
before=$(status_json .totals.enqueued)
echo "a document while the disk is full" > "$T/one.txt"
http_is 503 POST "/v1/documents?id=full-1" -H "Content-Type: text/plain" \
    --data-binary "@$T/one.txt"
[ "$(body .code)" = storage_full ] &&
    grep -qi '^Retry-After: [0-9]' "$T/hheaders" ||
    fail "an upload while full: $(cat "$T/hheaders" "$T/hbody")"
head -100 "$T/r.ndjson" | sed 's/"id":"r/"id":"full-/' > "$T/full.ndjson"
http_is 503 POST /v1/documents/bulk --data-binary "@$T/full.ndjson"
[ "$(body .code)" = storage_full ] &&
    grep -qi '^Retry-After: [0-9]' "$T/hheaders" ||
    fail "a bulk while full: $(cat "$T/hheaders" "$T/hbody")"
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "an upload while full enqueued a job"
http_is 200 GET "/v1/search?q=uniq0"
[ "$(body '.hits | type')" = array ] || fail "search: $(cat "$T/hbody")"
http_is 200 GET /v1/status
[ "$(body .storage.state)" = full ] || fail "status: $(body .storage)"

rm -f "$DATA/filler"
mount -o remount,size=200m "$DATA" || fail "remount"
resumed $N 2 0 4321 29999
http_is 200 GET /healthz
[ "$(body .ok)" = true ] || fail "/healthz after space returned: $(cat "$T/hbody")"
code=$(hreq POST "/v1/documents?id=after-1" -H "Content-Type: text/plain" \
    --data-binary "@$T/one.txt")
[ "$code" = 202 ] || fail "an upload after space returned: $code $(cat "$T/hbody")"
echo "diskfull: held while full, refused a submit, resumed, $N records"
