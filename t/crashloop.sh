#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Crash loop: workers that die at start-up (QUIRED_DEBUG_WORKER_FAIL) are
# restarted with a growing delay, at most ten forks per slot in a minute;
# status says "degraded", the daemon keeps answering quirectl the whole
# time, queued jobs wait unharmed, and kill -TERM still stops it with
# exit status 0.  /healthz is 503, naming the failing worker, while
# status and the jobs still answer over HTTP, and 200 once no worker is
# asked for.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${CRASHLOOP_SECONDS:=20}"

write_conf "workers 2" "listen 127.0.0.1:0"
ctl submit --debug noop --count 3 >/dev/null
QUIRED_DEBUG_WORKER_FAIL=1
export QUIRED_DEBUG_WORKER_FAIL
start_quired_fg
unset QUIRED_DEBUG_WORKER_FAIL
t0=$(now_ms)

# The daemon answers every second of the loop, and is degraded once a
# slot has failed three times in a row (100 + 200 + 400 ms of delay).
while [ $(($(now_ms) - t0)) -lt $((CRASHLOOP_SECONDS * 1000)) ]; do
	ctl status --json > "$T/st" || fail "quirectl status failed"
	jq -e '.fleet.pid' "$T/st" >/dev/null ||
	    fail "no daemon in status: $(cat "$T/st")"
	if [ $(($(now_ms) - t0)) -gt 5000 ]; then
		jq -e '.fleet.degraded == true' "$T/st" >/dev/null ||
		    fail "not degraded after 5 s: $(jq -c .fleet "$T/st")"
	fi
	sleep 1
done
elapsed=$(($(now_ms) - t0))
ctl status --json > "$T/st"
allowed=$((10 * ((elapsed + 59999) / 60000)))
jq -e --argjson max "$allowed" '.fleet.degraded == true and
    .fleet.target == 2 and ([.fleet.workers[] | select(.slot >= 0)] |
    length == 2 and all(.[]; .starts <= $max and .starts >= 5 and
    .failed_starts >= 3 and .jobs == 0))' "$T/st" >/dev/null ||
    fail "after $elapsed ms: $(jq -c .fleet "$T/st")"
jq -e '.jobs.ready == 3 and .jobs.leased == 0 and .jobs.dead == 0' \
    "$T/st" >/dev/null || fail "the queued jobs: $(jq -c .jobs "$T/st")"
grep -q "start-up failure .* (degraded)" "$LOG" ||
    fail "the log does not say degraded"
ctl status | grep -q "degraded" || fail "status text does not say degraded"

# The HTTP API: /healthz 503 with the reason, while reads still answer;
# with no worker asked for (scale 0), no slot fails and it is 200 again.
HPORT=$(http_port)
http_is 503 GET /healthz
[ "$(body .ok)" = false ] &&
    body .why | grep -q '^degraded: worker [01]: [0-9]* start-up failures' &&
    grep -qi '^Retry-After: [0-9]' "$T/hheaders" ||
    fail "/healthz while degraded: $(cat "$T/hheaders" "$T/hbody")"
http_is 200 GET /v1/status
[ "$(body .fleet.degraded)" = true ] || fail "status: $(body .fleet)"
http_is 200 GET "/v1/jobs?state=ready"
[ "$(body '.jobs | length')" = 3 ] || fail "ready jobs: $(cat "$T/hbody")"
ctl scale 0 > /dev/null || fail "scale 0"
healthy() {
	[ "$(hreq GET /healthz)" = 200 ]
}
wait_for 10 healthy || fail "/healthz with no worker asked for: $(cat "$T/hbody")"
[ "$(body .ok)" = true ] || fail "/healthz: $(cat "$T/hbody")"

# It still stops cleanly.
kill -TERM "$QPID"
wait_for 10 pid_gone "$QPID" || fail "quired did not exit on TERM"
rc=0
wait "$QPID" || rc=$?
[ "$rc" -eq 0 ] || fail "quired exited $rc"
[ "$(status_json .jobs.ready)" -eq 3 ] || fail "jobs lost: $(ctl status)"
exit 0
