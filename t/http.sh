#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The HTTP API against a real quired on a free port, as curl sees it:
# jobs (one, a page, cancel, retry), dead letters (list, retry, purge),
# documents (show, delete), /healthz, /v1/status and /v1/search, and the
# errors (400 on a bad id or %00, 404, 405 with Allow also for TRACE and
# CONNECT, 409, 431; evhttp's own 400 past four times the header limit
# and 413 past the body limit, which enqueues nothing).
# Then with a token file: 401 without or with a wrong token, /healthz
# open, and two tokens bound to tenants a and b that each see, search,
# cancel, retry and purge their own tenant's jobs and documents only,
# and upload for no other tenant (403); no token, good or bad, is in the
# log.  Last, `listen none`: no http child, and status says HTTP is off.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v curl > /dev/null || skip "no curl"

job_state() {
	ctl job --json "$1" | jq -r .state
}

state_is() {
	[ "$(job_state "$1")" = "$2" ]
}

# The path as one percent-encoded segment.
enc() {
	jq -rn --arg s "$1" '$s | @uri'
}

mkdir -p "$T/docs"
echo "alpha bravo the first document" > "$T/docs/a.txt"
echo "charlie delta for tenant a" > "$T/docs/ta.txt"
echo "charlie echo for tenant b" > "$T/docs/tb.txt"

write_conf "listen 127.0.0.1:0" "workers 1" "min-workers 1" \
    "claim-batch 1" "max-attempts 1" "merge no" "http-max-header 1K" \
    "http-max-body 1K"
start_quired
HPORT=$(http_port)

# --- The whole service.
http_is 200 GET /healthz
[ "$(body .ok)" = true ] || fail "healthz: $(cat "$T/hbody")"
http_is 200 GET /v1/status
[ "$(body '.jobs | type')" = object ] || fail "status: $(cat "$T/hbody")"
[ "$(body '.http.listen | join(" ")')" = "127.0.0.1:$HPORT" ] &&
    [ "$(body '.http.pid | type')" = number ] ||
    fail "status without the http child: $(body .http)"
ctl status | grep -q "^http: listening on 127.0.0.1:$HPORT; pid [0-9]*, " ||
    fail "status text: $(ctl status | grep '^http')"

# --- A job.
ja=$(ctl submit "$T/docs/a.txt")
wait_for 10 state_is "$ja" done || fail "job $ja is $(job_state "$ja")"
http_is 200 GET "/v1/jobs/$ja"
[ "$(body .id)" = "$ja" ] && [ "$(body .state)" = done ] &&
    [ "$(body .path)" = "$T/docs/a.txt" ] ||
    fail "job $ja: $(cat "$T/hbody")"
ctl job --json "$ja" | jq -S . > "$T/ctl.json"
jq -S . < "$T/hbody" > "$T/api.json"
cmp -s "$T/ctl.json" "$T/api.json" ||
    fail "GET /v1/jobs/$ja differs from quirectl job --json"
http_is 404 GET /v1/jobs/999999
[ "$(body .code)" = no_such_job ] || fail "unknown job: $(cat "$T/hbody")"
for bad in abc 0 -1 99999999999999999999 1x +1 %201 9223372036854775807; do
	http_is 400 GET "/v1/jobs/$bad"
	[ "$(body .code)" = bad_id ] || fail "id $bad: $(cat "$T/hbody")"
done
http_is 400 GET "/v1/jobs/1%00"
[ "$(body .code)" = bad_path ] || fail "%00: $(cat "$T/hbody")"
http_is 400 GET "/v1/jobs?state=x%00"
http_is 400 GET "/v1/jobs/%2E%2E"

# --- Routing.
http_is 404 GET /v1/nothing
[ "$(body .code)" = not_found ] || fail "404: $(cat "$T/hbody")"
http_is 405 POST "/v1/jobs/$ja"
grep -qi '^Allow: GET, HEAD, DELETE' "$T/hheaders" ||
    fail "405 without the right Allow: $(cat "$T/hheaders")"
http_is 405 PUT /v1/dead
grep -qi '^Allow: GET, HEAD, DELETE' "$T/hheaders" ||
    fail "405 on /v1/dead: $(cat "$T/hheaders")"
http_is 405 GET /v1/dead/retry
grep -qi '^Allow: POST' "$T/hheaders" ||
    fail "405 on /v1/dead/retry: $(cat "$T/hheaders")"
# TRACE too, and CONNECT, whose target is a host: JSON 405s with Allow,
# ended by their length.
http_is 405 TRACE "/v1/jobs/$ja"
grep -qi '^Allow: GET, HEAD, DELETE' "$T/hheaders" &&
    [ "$(body .code)" = method_not_allowed ] ||
    fail "TRACE: $(cat "$T/hheaders" "$T/hbody")"
http_is 405 CONNECT /v1/status
grep -qi '^Allow: GET, HEAD, POST, DELETE' "$T/hheaders" &&
    grep -qi '^Content-Length: ' "$T/hheaders" &&
    [ "$(body .code)" = method_not_allowed ] ||
    fail "CONNECT: $(cat "$T/hheaders" "$T/hbody")"
code=$(curl -s -o /dev/null --max-time 30 -w '%{http_connect}' -p \
    -x "http://127.0.0.1:$HPORT" http://example.invalid/ || true)
[ "$code" = 405 ] || fail "CONNECT example.invalid:80: $code, not 405"

# --- Limits.
big=$(head -c 1500 /dev/zero | tr '\0' x)
http_is 431 GET /v1/status -H "X-Big: $big"
[ "$(body .code)" = headers_too_large ] || fail "431: $(cat "$T/hbody")"
# Past four times http-max-header, evhttp itself refuses: 400.
big=$(head -c 5000 /dev/zero | tr '\0' x)
http_is 400 GET /v1/status -H "X-Big: $big"
# A body past http-max-body: evhttp's 413, and nothing enqueued or kept.
head -c 4096 /dev/zero | tr '\0' x > "$T/bigbody"
before=$(status_json .totals.enqueued)
http_is 413 POST "/v1/documents?id=big" --data-binary "@$T/bigbody"
http_is 413 POST /v1/documents/bulk --data-binary "@$T/bigbody"
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "a body past http-max-body enqueued a job"
[ -z "$(ls "$DATA/spool" 2>/dev/null)" ] ||
    fail "a body past http-max-body was kept: $(ls "$DATA/spool")"

# --- Dead letters and pages.
d1=$(ctl submit --debug "bogus one")
d2=$(ctl submit --debug "bogus two")
wait_for 10 state_is "$d2" dead || fail "job $d2 is $(job_state "$d2")"
wait_for 10 state_is "$d1" dead || fail "job $d1 is $(job_state "$d1")"
http_is 200 GET /v1/dead
[ "$(body '[.jobs[].id] | join(" ")')" = "$d1 $d2" ] &&
    [ "$(body .next)" = null ] || fail "dead: $(cat "$T/hbody")"
[ "$(body '.jobs[0].error')" = "unknown debug command bogus" ] ||
    fail "a dead letter without its reason: $(cat "$T/hbody")"
http_is 200 GET "/v1/jobs?state=dead&limit=1"
[ "$(body '.jobs | length')" = 1 ] && [ "$(body '.jobs[0].id')" = "$d1" ] &&
    [ "$(body .next)" = "$d1" ] || fail "page 1: $(cat "$T/hbody")"
http_is 200 GET "/v1/jobs?state=dead&limit=1&after=$d1"
[ "$(body '.jobs[0].id')" = "$d2" ] && [ "$(body .next)" = null ] ||
    fail "page 2: $(cat "$T/hbody")"
http_is 200 GET "/v1/jobs?limit=2"
[ "$(body '[.jobs[].id] | join(" ")')" = "$ja $d1" ] &&
    [ "$(body .next)" = "$d1" ] || fail "all, page 1: $(cat "$T/hbody")"
http_is 200 GET "/v1/jobs?tenant=default&after=$d1"
[ "$(body '[.jobs[].id] | join(" ")')" = "$d2" ] ||
    fail "tenant default after $d1: $(cat "$T/hbody")"
http_is 200 GET "/v1/jobs?tenant=nobody"
[ "$(body '.jobs | length')" = 0 ] || fail "tenant nobody: $(cat "$T/hbody")"
for q in limit=0 limit=1001 limit=x after=-1 state=bogus tenant=; do
	http_is 400 GET "/v1/jobs?$q"
	[ "$(body .code)" = bad_parameter ] || fail "$q: $(cat "$T/hbody")"
done
http_is 400 GET /v1/dead?limit=5000

# One retried: ready again, then dead again (it fails at once).
http_is 409 POST "/v1/jobs/$ja/retry"
[ "$(body .code)" = not_dead ] || fail "retry of a done job: $(cat "$T/hbody")"
http_is 404 POST /v1/jobs/999999/retry
http_is 200 POST "/v1/jobs/$d1/retry"
[ "$(body .state)" = ready ] && [ "$(body .job)" = "$d1" ] ||
    fail "retry: $(cat "$T/hbody")"
wait_for 10 state_is "$d1" dead || fail "job $d1 is $(job_state "$d1")"
[ "$(ctl job --json "$d1" | jq -r .attempts)" = 1 ] ||
    fail "a retried dead letter did not start afresh"
http_is 200 POST /v1/dead/retry
[ "$(body .retried)" = 2 ] || fail "dead/retry: $(cat "$T/hbody")"
wait_for 10 state_is "$d1" dead || fail "job $d1 is $(job_state "$d1")"
wait_for 10 state_is "$d2" dead || fail "job $d2 is $(job_state "$d2")"
http_is 200 DELETE /v1/dead
[ "$(body .purged)" = 2 ] || fail "purge: $(cat "$T/hbody")"
http_is 200 GET /v1/dead
[ "$(body '.jobs | length')" = 0 ] || fail "dead after purge: $(cat "$T/hbody")"
http_is 404 GET "/v1/jobs/$d1"
http_is 200 DELETE /v1/dead
[ "$(body .purged)" = 0 ] || fail "second purge: $(cat "$T/hbody")"

# --- Cancel: a running job (through the supervisor), a queued one.
spin=$(ctl submit --debug "spin 600000")
wait_for 10 state_is "$spin" leased || fail "the spin is not running"
queued=$(ctl submit --debug "noop")
[ "$(job_state "$queued")" = ready ] || fail "job $queued is not ready"
http_is 200 DELETE "/v1/jobs/$queued"
[ "$(body .cancelled)" = true ] && [ "$(body .was)" = ready ] ||
    fail "cancel of a ready job: $(cat "$T/hbody")"
[ "$(job_state "$queued")" = cancelled ] || fail "$queued not cancelled"
http_is 200 DELETE "/v1/jobs/$spin"
[ "$(body .job)" = "$spin" ] && [ "$(body .was)" = running ] ||
    fail "cancel of the running job: $(cat "$T/hbody")"
wait_for 2 state_is "$spin" cancelled ||
    fail "the spin is $(job_state "$spin") 2 s after its cancel"
http_is 409 DELETE "/v1/jobs/$spin"
[ "$(body .code)" = finished ] || fail "second cancel: $(cat "$T/hbody")"
http_is 409 DELETE "/v1/jobs/$ja"
http_is 404 DELETE /v1/jobs/999999
[ "$(body .code)" = no_such_job ] || fail "cancel unknown: $(cat "$T/hbody")"

# --- Documents and search.
http_is 200 GET "/v1/search?q=alpha"
[ "$(body '.hits | length')" = 1 ] || fail "search: $(cat "$T/hbody")"
ea=$(enc "$T/docs/a.txt")
http_is 200 GET "/v1/documents/$ea"
[ "$(body .id)" = "$T/docs/a.txt" ] && [ "$(body .tenant)" = default ] &&
    [ "$(body .source)" = "$T/docs/a.txt" ] && [ "$(body .job)" = "$ja" ] &&
    [ "$(body .nchunks)" = 1 ] && [ "$(body .truncated)" = false ] ||
    fail "document: $(cat "$T/hbody")"
body '.chunks[0].excerpt' | grep -q "alpha bravo" ||
    fail "no excerpt: $(cat "$T/hbody")"
[ "$(body '.chunks[0].length')" -gt 10 ] || fail "chunk length: $(cat "$T/hbody")"
http_is 404 GET "/v1/documents/$(enc "$T/docs/none.txt")"
[ "$(body .code)" = no_such_document ] || fail "no doc: $(cat "$T/hbody")"
http_is 400 GET "/v1/documents/$(head -c 600 /dev/zero | tr '\0' y)"
http_is 200 DELETE "/v1/documents/$ea"
[ "$(body .deleted)" = true ] || fail "delete: $(cat "$T/hbody")"
http_is 404 GET "/v1/documents/$ea"
http_is 404 DELETE "/v1/documents/$ea"
http_is 200 GET "/v1/search?q=alpha"
[ "$(body '.hits | length')" = 0 ] || fail "deleted, still found"

# --- Tokens.
qpid=$(quired_pid)
ctl stop > /dev/null || fail "stop failed"
wait_for 30 pid_gone "$qpid" || fail "the daemon did not stop"
mv "$LOG" "$LOG.1"	# http_port reads the new daemon's port
tok=0123456789abcdef0123456789abcdef
toka=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
tokb=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
printf '%s\n%s a\n%s b\n' "$tok" "$toka" "$tokb" > "$T/tokens"
chmod 600 "$T/tokens"
write_conf "listen 127.0.0.1:0" "workers 1" "min-workers 1" \
    "claim-batch 1" "max-attempts 1" "merge no" \
    "http-token-file $T/tokens" "log-level debug"
start_quired
HPORT=$(http_port)
A="Authorization: Bearer $toka"
B="Authorization: Bearer $tokb"

http_is 200 GET /healthz
http_is 401 GET "/v1/jobs/$ja"
http_is 401 GET "/v1/jobs/$ja" -H "Authorization: Bearer ${tok}x"
http_is 401 GET "/v1/jobs/$ja" -H "Authorization: Bearer wrongwrongwrongwrong"
http_is 200 GET "/v1/jobs/$ja" -H "Authorization: Bearer $tok"
http_is 200 GET /v1/status -H "Authorization: Bearer $tok"

# --- Tenants.
jta=$(ctl submit --tenant a "$T/docs/ta.txt")
jtb=$(ctl submit --tenant b "$T/docs/tb.txt")
wait_for 10 state_is "$jta" done || fail "job $jta is $(job_state "$jta")"
wait_for 10 state_is "$jtb" done || fail "job $jtb is $(job_state "$jtb")"

http_is 200 GET /v1/jobs -H "$A"
[ "$(body '[.jobs[].id] | join(" ")')" = "$jta" ] ||
    fail "tenant a's list: $(cat "$T/hbody")"
http_is 200 GET /v1/jobs?tenant=a -H "$A"
http_is 403 GET /v1/jobs?tenant=b -H "$A"
http_is 200 GET /v1/jobs -H "$B"
[ "$(body '[.jobs[].id] | join(" ")')" = "$jtb" ] ||
    fail "tenant b's list: $(cat "$T/hbody")"
http_is 200 GET "/v1/jobs/$jta" -H "$A"
http_is 404 GET "/v1/jobs/$jtb" -H "$A"
[ "$(body .code)" = no_such_job ] || fail "a sees b's job: $(cat "$T/hbody")"
http_is 404 GET "/v1/jobs/$ja" -H "$B"
http_is 403 GET /v1/status -H "$A"
http_is 403 GET /metrics -H "$A"
http_is 200 GET /metrics -H "Authorization: Bearer $tok"
grep -q '^quire_jobs{' "$T/hbody" || fail "metrics: $(head -c 300 "$T/hbody")"
http_is 403 GET "/v1/search?q=charlie&filter=tenant%3Db" -H "$A"
http_is 200 GET "/v1/search?q=charlie" -H "$A"
[ "$(body '[.hits[].id] | join(" ")')" = "$T/docs/ta.txt" ] ||
    fail "tenant a's search: $(cat "$T/hbody")"
http_is 200 GET "/v1/search?q=charlie" -H "$B"
[ "$(body '[.hits[].id] | join(" ")')" = "$T/docs/tb.txt" ] ||
    fail "tenant b's search: $(cat "$T/hbody")"
eb=$(enc "$T/docs/tb.txt")
http_is 404 GET "/v1/documents/$eb" -H "$A"
http_is 404 DELETE "/v1/documents/$eb" -H "$A"
http_is 200 GET "/v1/documents/$eb" -H "$B"
[ "$(body .tenant)" = b ] || fail "b's document: $(cat "$T/hbody")"

# An upload with a's token is a's: its job and its document.
echo "foxtrot uploaded by a" > "$T/up.txt"
http_is 202 POST "/v1/documents?id=up-a" -H "$A" -H "Content-Type: text/plain" \
    --data-binary "@$T/up.txt"
ju=$(body .job)
wait_for 10 state_is "$ju" done || fail "upload job $ju is $(job_state "$ju")"
http_is 200 GET "/v1/jobs/$ju" -H "$A"
[ "$(body .tenant)" = a ] || fail "the upload's job: $(cat "$T/hbody")"
http_is 404 GET "/v1/jobs/$ju" -H "$B"
http_is 200 GET /v1/documents/up-a -H "$A"
[ "$(body .tenant)" = a ] && [ "$(body .job)" = "$ju" ] &&
    body '.chunks[0].excerpt' | grep -q foxtrot ||
    fail "the uploaded document: $(cat "$T/hbody")"
http_is 404 GET /v1/documents/up-a -H "$B"
# An upload for another tenant than the token's: 403, nothing taken.
before=$(status_json .totals.enqueued)
http_is 403 POST "/v1/documents?id=up-b&tenant=b" -H "$A" \
    --data-binary "@$T/up.txt"
[ "$(body .code)" = forbidden ] || fail "a's upload for b: $(cat "$T/hbody")"
http_is 403 POST /v1/documents -H "$A" -H "X-Quire-Tenant: b" \
    --data-binary "@$T/up.txt"
http_is 403 POST /v1/documents/bulk -H "$A" -H "X-Quire-Tenant: b" \
    --data-binary '{"id": "bulk-b", "text": "golf"}'
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "an upload for another tenant enqueued a job"
[ -z "$(ls "$DATA/spool")" ] || fail "a refused upload was kept"

# Cancel and retry across tenants: 404, and nothing changes.
sb=$(ctl submit --tenant b --debug "spin 600000")
wait_for 10 state_is "$sb" leased || fail "b's spin is not running"
http_is 404 DELETE "/v1/jobs/$sb" -H "$A"
[ "$(job_state "$sb")" = leased ] || fail "a cancelled b's job"
http_is 200 DELETE "/v1/jobs/$sb" -H "$B"
wait_for 2 state_is "$sb" cancelled || fail "b's spin is $(job_state "$sb")"

da=$(ctl submit --tenant a --debug bogus)
db=$(ctl submit --tenant b --debug bogus)
wait_for 10 state_is "$da" dead || fail "job $da is $(job_state "$da")"
wait_for 10 state_is "$db" dead || fail "job $db is $(job_state "$db")"
http_is 200 GET /v1/dead -H "$A"
[ "$(body '[.jobs[].id] | join(" ")')" = "$da" ] ||
    fail "a's dead letters: $(cat "$T/hbody")"
http_is 404 POST "/v1/jobs/$db/retry" -H "$A"
http_is 200 POST /v1/dead/retry -H "$A"
[ "$(body .retried)" = 1 ] || fail "a's dead/retry: $(cat "$T/hbody")"
wait_for 10 state_is "$da" dead || fail "job $da is $(job_state "$da")"
[ "$(job_state "$db")" = dead ] || fail "a retried b's dead letter"
http_is 200 DELETE /v1/dead -H "$A"
[ "$(body .purged)" = 1 ] || fail "a's purge: $(cat "$T/hbody")"
http_is 404 GET "/v1/jobs/$da" -H "$A"
http_is 200 GET /v1/dead -H "Authorization: Bearer $tok"
[ "$(body '[.jobs[].id] | join(" ")')" = "$db" ] ||
    fail "b's dead letter after a's purge: $(cat "$T/hbody")"

# --- A token rotated: the file changed, then kill -HUP (and nothing else
# in the configuration changed).
tok2=fedcba9876543210fedcba9876543210
printf '%s\n' "$tok2" > "$T/tokens.new"
chmod 600 "$T/tokens.new"
mv "$T/tokens.new" "$T/tokens"
kill -HUP "$(quired_pid)"
rotated() {
	[ "$(hreq GET /v1/status -H "Authorization: Bearer $tok2")" = 200 ]
}
wait_for 10 rotated || fail "the new token is refused after a reload"
http_is 401 GET /v1/status -H "Authorization: Bearer $tok"
http_is 401 GET /v1/jobs -H "$A"

# No token, good or bad, is written to the log, though each request is.
grep -q "http: GET /v1/status 401" "$LOG" || fail "requests are not logged"
for t in "$tok" "$toka" "$tokb" "$tok2" wrongwrongwrongwrong; do
	! grep -F -e "$t" "$LOG" "$LOG.1" > "$T/leak" ||
	    fail "a token in the log: $(head -3 "$T/leak")"
done

# --- listen none: no http child, and status says HTTP is off.
qpid=$(quired_pid)
ctl stop > /dev/null || fail "stop failed"
wait_for 30 pid_gone "$qpid" || fail "the daemon did not stop"
mv "$LOG" "$LOG.2"
write_conf "listen none" "workers 1"
start_quired
wait_for 10 sh -c "ps -o args= --ppid $(quired_pid) | grep -q '^quired: worker'" ||
    fail "no worker started"
ps -o args= --ppid "$(quired_pid)" > "$T/children"
! grep -q '^quired: http' "$T/children" ||
    fail "listen none, yet an http child: $(cat "$T/children")"
status_json .http | jq -e '.listen == [] and .pid == null' > /dev/null ||
    fail "listen none: status says $(status_json .http)"
ctl status | grep -qx "http: off" || fail "status text: $(ctl status | grep http)"
! grep -q "http: listening on " "$LOG" || fail "listen none, yet listening"

echo "http: ok"
