#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Live progress: GET /v1/events (Server-Sent Events) and quirectl's
# --follow.  A stream for one job shows it leased with its progress
# going up, then done at 1, and ends; so for a debug job that sleeps and
# for a real document of 25 MB.  The events are coalesced: a job whose
# progress changes twenty times a second gets at most a few events a
# second over its own duration.  A token bound to a tenant sees its own
# jobs and no other tenant's, nor the status; so does ?tenant= with a
# token bound to none.  The whole stream carries
# status events with the workers' progress.  Past 64 streams the API
# answers 503, and a stream whose client went away frees its place.
# `quirectl submit --follow`, not on a terminal, prints a progress line
# a second from the same stream and exits 0, or 1 when a document
# becomes a dead letter.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v curl > /dev/null || skip "no curl"

ANY=events-test-token-any-0123456789
ALPHA=events-test-token-alpha-0123456789
printf '%s\n%s alpha\n' "$ANY" "$ALPHA" > "$T/tokens"
chmod 600 "$T/tokens"
# Workers report every 50 ms, so that only the stream's coalescing keeps
# a job's events to a few a second.
write_conf "listen 127.0.0.1:0" "http-token-file $T/tokens" "workers 1" \
    "max-document-size 64M" "merge no" "heartbeat-interval 50ms"
start_quired
URL=http://127.0.0.1:$(http_port)

# stream NAME TOKEN QUERY: curl the events into $T/NAME in the background,
# at most 60 s; its pid in $SPID.
stream() {
	timeout 60 curl -sN -H "Authorization: Bearer $2" \
	    "$URL/v1/events$3" > "$T/$1" 2> "$T/$1.err" &
	SPID=$!
}

# The "job" events' data of a stream, one JSON object a line.
job_events() {
	awk '/^event: job$/ { j = 1; next }
	    /^data: / { if (j) print substr($0, 7); j = 0 }' "$T/$1"
}

# check_progress NAME ID: leased events with the progress going up, at
# least two of them between 0 and 1, then done at 1 as the last event.
check_progress() {
	job_events "$1" > "$T/$1.jobs"
	[ -s "$T/$1.jobs" ] || fail "$1: no job events: $(cat "$T/$1")"
	jq -e -s --argjson id "$2" '
	    map(select(.job == $id)) as $e |
	    ($e | length) >= 3 and
	    ($e[-1].state == "done" and $e[-1].progress == 1) and
	    ([$e[] | select(.state == "leased" and .progress > 0 and
	      .progress < 1)] | length) >= 2 and
	    ([$e[] | .progress] as $p | [range(1; $p | length) |
	      select($p[.] < $p[. - 1])] | length) == 0 and
	    ([$e[] | select(.state != "leased" and .state != "ready" and
	      .state != "done")] | length) == 0' "$T/$1.jobs" > /dev/null ||
	    fail "$1: events of job $2 do not go leased, up, done at 1: " \
	    "$(cat "$T/$1.jobs")"
}

# --- The whole stream, from the start.
stream all "$ANY" ""
allpid=$SPID
wait_for 5 grep -q '^: quire events' "$T/all" || fail "no whole stream"

# --- A debug job of 2.5 s: its own stream, which ends after done.
id=$(ctl submit --debug "sleep 2500")
stream sleep "$ANY" "?job=$id"
wait "$SPID" || fail "the stream of job $id did not end by itself" \
    "(curl $?): $(cat "$T/sleep.err")"
check_progress sleep "$id"
head -1 "$T/sleep" | grep -q '^: quire events' ||
    fail "the stream does not open with its comment: $(head -3 "$T/sleep")"
# Coalesced: its progress changed twenty times a second, its events were
# at most four a second (one a poll of 250 ms) over the job's own time
# from enqueue to done, with one more for its first state and its last.
n=$(jq -s --argjson id "$id" 'map(select(.job == $id)) | length' \
    "$T/sleep.jobs")
ms=$(ctl job --json "$id" | jq '.updated_ms - .created_ms')
[ "$ms" -ge 2500 ] || fail "job $id took $ms ms, not 2500 at least"
[ "$n" -le $((ms * 5 / 1000 + 2)) ] ||
    fail "$n events for job $id in $ms ms: not coalesced to a few a second"

# --- A real 25 MB document.
awk 'BEGIN { srand(7); for (i = 0; i < 400000; i++) { l = "";
    for (k = 0; k < 8; k++) l = l " w" int(rand() * 50000) "x";
    print l; if (i % 50 == 0) print "" } }' > "$T/big.txt"
big=$(ctl submit "$T/big.txt")
stream big "$ANY" "?job=$big"
running() {
	ctl status --json | jq -e '.fleet.workers[0].progress > 0'
}
wait_for 10 running ||
    fail "status --json shows no progress of the running document"
wait "$SPID" || fail "the stream of job $big did not end (curl $?)"
check_progress big "$big"
[ "$(ctl job --json "$big" | jq -r .state)" = done ] ||
    fail "the document is not done"
wait_for 5 grep -q "\"job\": $big, \"state\": \"done\"" "$T/all" ||
    fail "the whole stream did not show job $big done"
# The status events' data, one JSON object a line.
status_events() {
	awk '/^event: status$/ { s = 1; next }
	    /^data: / { if (s) print substr($0, 7); s = 0 }' "$T/$1"
}
grep -q '^event: status$' "$T/all" || fail "no status event"
status_events all | jq -e -s --argjson id "$id" 'map(.workers[]? |
    select(.job == $id and .progress > 0 and .progress < 1)) | length > 0' \
    > /dev/null || fail "no status event shows the progress of job $id"
both_done() {
	status_events all | jq -e -s 'map(select(.jobs.done >= 2 and
	    (.docs_per_s | type) == "number" and .storage.state == "ok" and
	    .storage.what == null)) | length > 0'
}
wait_for 5 both_done || fail "no status event counts 2 jobs done"

# --- A tenant's token: its own jobs only, and no status; the same for
# ?tenant=alpha with a token bound to no tenant.
stream alpha "$ALPHA" ""
alphapid=$SPID
stream talpha "$ANY" "?tenant=alpha"
talphapid=$SPID
wait_for 5 grep -q '^: quire events' "$T/alpha" || fail "no alpha stream"
wait_for 5 grep -q '^: quire events' "$T/talpha" ||
    fail "no ?tenant=alpha stream"
b=$(ctl submit --tenant beta --debug "sleep 300")
a=$(ctl submit --tenant alpha --debug "sleep 300")
wait_for 10 grep -q "\"job\": $a, \"state\": \"done\"" "$T/alpha" ||
    fail "the alpha token's stream did not show alpha's job $a done"
wait_for 10 grep -q "\"job\": $a, \"state\": \"done\"" "$T/talpha" ||
    fail "the ?tenant=alpha stream did not show alpha's job $a done"
wait_for 10 grep -q "\"job\": $b, \"state\": \"done\"" "$T/all" ||
    fail "the whole stream did not show beta's job $b done"
for st in alpha talpha; do
	! grep -q "\"job\": $b," "$T/$st" ||
	    fail "the $st stream saw beta's job $b"
	! grep -q "tenant\": \"beta\"" "$T/$st" || fail "$st saw beta"
	! grep -q '^event: status' "$T/$st" || fail "$st got status events"
done
kill "$talphapid" 2>/dev/null || true
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer \
$ALPHA" "$URL/v1/events?job=$b")
[ "$code" = 404 ] || fail "alpha asking for beta's job $b: $code, not 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer \
$ALPHA" "$URL/v1/events?tenant=beta")
[ "$code" = 403 ] || fail "alpha asking for tenant beta: $code, not 403"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/events")
[ "$code" = 401 ] || fail "no token: $code, not 401"
# A browser's EventSource sends the token in the query.
code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' \
    "$URL/v1/events?access_token=$ANY" || true)
[ "$code" = 200 ] || fail "access_token=: $code, not 200"
kill "$allpid" "$alphapid" 2>/dev/null || true

# --- 64 streams at most; a client that goes frees its place.
pids=
i=0
while [ "$i" -lt 64 ]; do
	curl -sN -H "Authorization: Bearer $ANY" "$URL/v1/events?tenant=t$i" \
	    > "$T/s$i" 2>&1 &
	pids="$pids $!"
	i=$((i + 1))
done
all_open() {
	[ "$(grep -l '^: quire events' "$T"/s[0-9]* | wc -l)" = 64 ]
}
wait_for 10 all_open || fail "64 streams did not open"
curl -s -H "Authorization: Bearer $ANY" "$URL/v1/events?tenant=x" \
    > "$T/full" || true
jq -e '.code == "too_many_streams"' "$T/full" > /dev/null ||
    fail "a 65th stream was not refused: $(cat "$T/full")"
kill $pids 2>/dev/null || true
room() {
	[ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' -H \
	    "Authorization: Bearer $ANY" "$URL/v1/events?tenant=x" ||
	    true)" = 200 ]
}
wait_for 10 room || fail "the streams of clients gone were not freed"

# --- quirectl submit --follow: the event stream, a line a second.
export QUIRE_TOKEN="$ANY"
expect_exit 0 ctl submit --follow --debug "sleep 3000"
head -1 "$T/out" | grep -q "following 1 jobs (the daemon's event stream)" ||
    fail "--follow did not read the event stream: $(cat "$T/out" "$T/err")"
n=$(grep -c '% 0/1 jobs' "$T/out" || true)
[ "$n" -ge 2 ] && [ "$n" -le 6 ] ||
    fail "--follow printed $n progress lines in 3 s: $(cat "$T/out")"
grep -q '^100% 1/1 jobs' "$T/out" || fail "no last line: $(cat "$T/out")"
grep -q '^finished: 1 done, 0 dead letters' "$T/out" ||
    fail "no summary: $(cat "$T/out")"
# A token in a file, a job that becomes a dead letter: exit 1.
unset QUIRE_TOKEN
echo "$ANY" > "$T/mytoken"
printf '%%PDF-1.4\nnot a PDF at all\n' > "$T/bad.pdf"
expect_exit 1 ctl submit --follow --token-file "$T/mytoken" "$T/bad.pdf"
grep -q "following 1 jobs (the daemon's event stream)" "$T/out" ||
    fail "--token-file: no event stream: $(cat "$T/out" "$T/err")"
grep -q '^finished: 0 done, 1 dead letters' "$T/out" ||
    fail "the dead letter is not told: $(cat "$T/out")"
# Without a token the API refuses: quirectl says so and reads the queue.
expect_exit 0 ctl submit --follow --debug "sleep 200"
grep -q "HTTP status 401" "$T/err" ||
    fail "no word of the refused stream: $(cat "$T/err")"
grep -q '^finished: 1 done' "$T/out" || fail "polling: $(cat "$T/out")"
echo "ok"
