#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A slow valid document is not a hung worker.  A PDF of PAGES pages,
# made here, takes seconds to extract and index, many times hang-timeout
# (1s, times CK_TIMEOUT_MULTIPLIER, which the sanitized pass sets as it
# slows every step, the index commit too): its worker keeps sending
# heartbeats from the text path, so it is never killed, and the
# document is searchable afterwards down to its last page.  With job-timeout 2s (a live reload) a longer one is stopped
# by its own worker: a dead letter at once, "time limit 2s exceeded", no
# crash counted, no worker lost, nothing of it in the index, and the
# small documents around it are indexed.  A job that stops sending
# heartbeats past job-timeout (the debug hang, with a hang-timeout far
# longer) is killed by the supervisor after kill-grace and filed with the
# same reason, not as a crashed worker.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

PAGES=${SLOWDOC_PAGES:-5000}
HANG_MS=$((1000 * ${CK_TIMEOUT_MULTIPLIER:-1}))

mkdir "$T/docs"
makepdf slowdocone slowdoclast > "$T/docs/slow.pdf"
# Twice as long (max-pages allows it), so that it outlasts job-timeout 2s
# by a margin now that the text path is faster.
pages=$PAGES
PAGES=$((pages * 2))
makepdf slowdoctwo slowdoctwolast > "$T/docs/slow2.pdf"
PAGES=$pages
for i in 1 2 3 4 5 6; do
	echo "A small note, number $i, with the word smallnote$i." \
	    > "$T/docs/note$i.txt"
done

CONF_COMMON="workers 1|heartbeat-interval 200ms|max-tokens 10000000"
conf() {
	_ifs=$IFS
	IFS='|'
	# shellcheck disable=SC2086
	write_conf $CONF_COMMON "$@"
	IFS=$_ifs
}
conf "hang-timeout ${HANG_MS}ms"
start_quired
sv=$(quired_pid)
wait_for 10 test -n "$(worker_pids)" || fail "no worker"
wpid=$(worker_pids)

# job_over ID: for wait_for; the job is done, dead or cancelled.
job_over() {
	case "$(ctl job --json "$1" | jq -r .state)" in
	done|dead|cancelled)	return 0 ;;
	esac
	return 1
}

# job_ends ID STATE SECONDS: wait for the job's end, which must be STATE.
job_ends() {
	wait_for "$3" job_over "$1" || fail "job $1 did not end in $3 s:" \
	    "$(ctl job --json "$1")"
	[ "$(ctl job --json "$1" | jq -r .state)" = "$2" ] ||
	    fail "job $1 is not $2: $(ctl job --json "$1")"
}

# --- A slow valid document: done, its worker never killed.
t0=$(now_ms)
slow=$(ctl submit "$T/docs/slow.pdf")
job_ends "$slow" done 120
took=$(($(now_ms) - t0))
[ "$took" -ge $((3 * HANG_MS / 2)) ] ||
    fail "the document took $took ms, too fast to test hang-timeout" \
    "${HANG_MS}ms: raise SLOWDOC_PAGES"
ctl job --json "$slow" > "$T/j"
jq -e '.attempts == 0 and .crashes == 0 and .error == null' "$T/j" \
    >/dev/null || fail "slow document: $(cat "$T/j")"
ctl status --json > "$T/st"
jq -e '.fleet.hung == 0 and .fleet.deaths == 0' "$T/st" >/dev/null ||
    fail "a worker died: $(jq -c .fleet "$T/st")"
grep -q "hung: " "$LOG" && fail "a worker was taken for hung"
[ "$(worker_pids)" = "$wpid" ] || fail "the worker was replaced"
ctl search --json slowdoclast > "$T/s"
jq -e --arg p "$T/docs/slow.pdf" '.total == 1 and .hits[0].id == $p' \
    "$T/s" >/dev/null || fail "last page not found: $(cat "$T/s")"

# --- job-timeout 2s, live: the worker stops the job itself.
conf "hang-timeout ${HANG_MS}ms" "job-timeout 2s"
kill -HUP "$sv"
wait_for 10 status_is .fleet.workers[0].generation 1 ||
    fail "reload: $(ctl status --json | jq -c .fleet)"
ctl submit "$T/docs/note1.txt" "$T/docs/note2.txt" "$T/docs/note3.txt" \
    >/dev/null
t0=$(now_ms)
slow2=$(ctl submit "$T/docs/slow2.pdf")
ctl submit "$T/docs/note4.txt" "$T/docs/note5.txt" "$T/docs/note6.txt" \
    >/dev/null
job_ends "$slow2" dead 60
took2=$(($(now_ms) - t0))
ctl job --json "$slow2" > "$T/j"
jq -e '.error == "time limit 2s exceeded" and .crashes == 0 and
    .attempts == 1' "$T/j" >/dev/null || fail "time limit: $(cat "$T/j")"
[ "$took2" -ge 2000 ] || fail "stopped after $took2 ms, before its limit"
wait_for 30 status_is .jobs.done 7 || fail "notes: $(ctl status)"
ctl status --json > "$T/st"
jq -e '.jobs.dead == 1 and .fleet.hung == 0 and .fleet.overtime == 0 and
    .fleet.deaths == 0' "$T/st" >/dev/null || fail "after the time limit: $(cat "$T/st")"
[ "$(worker_pids)" = "$wpid" ] || fail "the worker was replaced"
grep -q "job $slow2 failed: time limit 2s exceeded; dead" "$LOG" ||
    fail "the time limit is not logged"
for i in 1 2 3 4 5 6; do
	ctl search --json "smallnote$i" | jq -e '.total == 1' >/dev/null ||
	    fail "note $i not indexed"
done
ctl search --json slowdoctwo | jq -e '.total == 0' >/dev/null ||
    fail "the stopped document is in the index"

# --- Silent past job-timeout: the supervisor kills it, same reason.
conf "hang-timeout 30s" "lease-time 60s" "job-timeout 1s" "kill-grace 500ms"
kill -HUP "$sv"
wait_for 10 status_is .fleet.workers[0].generation 2 ||
    fail "reload: $(ctl status --json | jq -c .fleet)"
t0=$(now_ms)
hang=$(ctl submit --debug hang)
job_ends "$hang" dead 20
took3=$(($(now_ms) - t0))
ctl job --json "$hang" > "$T/j"
jq -e '.error == "time limit 1s exceeded" and .crashes == 0' "$T/j" \
    >/dev/null || fail "silent job: $(cat "$T/j")"
[ "$took3" -ge 1500 ] && [ "$took3" -lt 10000 ] ||
    fail "silent job killed after $took3 ms, not job-timeout + kill-grace"
grep -q "(pid $wpid): job $hang .* over job-timeout 1s" "$LOG" ||
    fail "the kill is not logged"
wait_for 10 test -n "$(worker_pids)" || fail "no worker after the kill"
ctl status --json > "$T/st"
jq -e '.fleet.hung == 0 and .fleet.overtime == 1 and .fleet.deaths == 1 and
    .fleet.quarantined == 0' "$T/st" >/dev/null ||
    fail "after the kill: $(jq -c .fleet "$T/st")"
[ "$(zombies_of "$sv")" -eq 0 ] || fail "zombies"
echo "slowdoc: $PAGES pages indexed in $took ms with hang-timeout" \
    "${HANG_MS}ms; stopped at job-timeout 2s after $took2 ms; silent job" \
    "killed after $took3 ms"
exit 0
