#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Live resizing: with jobs running, "workers 8" and kill -HUP grow the
# fleet to 8, "workers 1" and kill -HUP shrink it to 1, and no running
# job is aborted (no crash counted, no dead letter, all done in the end).
# A broken configuration and kill -HUP leave the daemon running on the
# old one, with status naming the file and line, and quired -n gives the
# same verdict.  SIGTTIN and SIGTTOU move the target by one, quirectl
# scale sets it.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

NJOBS=60
RCONF=$(cd "$T" && pwd -P)/quired.conf	# as quired names it

write_conf "workers 2" "claim-batch 1"
ctl submit --debug 'sleep 400' --count $NJOBS >/dev/null
start_quired
sv=$(quired_pid)

# busy N: N workers running jobs.
busy() {
	[ "$(ctl workers --json |
	    jq '[.workers[] | select(.slot >= 0 and .state == "busy")] |
	    length')" -ge "$1" ]
}

# converged N: target and running are N, every worker ready.
converged() {
	ctl status --json > "$T/conv"
	jq -e --argjson n "$1" '.fleet.target == $n and .fleet.running == $n and
	    ([.fleet.workers[] | select(.slot >= 0 and
	    (.state == "idle" or .state == "busy"))] | length) == $n' \
	    "$T/conv" >/dev/null
}

no_crash() {
	ctl jobs --limit 100000 --json |
	    jq -e 'all(.jobs[]; .crashes == 0)' >/dev/null ||
	    fail "a job was aborted: $(ctl jobs --limit 100000 | awk '$6 > 0')"
	[ "$(status_json .jobs.dead)" -eq 0 ] || fail "dead letters"
}

wait_for 10 busy 2 || fail "two workers are not busy"

# Grow.
write_conf "workers 8" "claim-batch 1"
kill -HUP "$sv"
wait_for 15 converged 8 || fail "did not grow to 8: $(cat "$T/conv")"
# Work for all 8 whatever the first two did while the others started.
ctl submit --debug 'sleep 400' --count 16 >/dev/null
NJOBS=$((NJOBS + 16))
wait_for 10 busy 8 || fail "8 workers are not busy"
jq -e '.fleet.reloads == 1 and .fleet.last_reload_error == null' \
    "$T/conv" >/dev/null || fail "reload not counted: $(cat "$T/conv")"

# Shrink: the seven extra workers finish their jobs and leave.
write_conf "workers 1" "claim-batch 1"
kill -HUP "$sv"
wait_for 15 converged 1 || fail "did not shrink to 1: $(cat "$T/conv")"
no_crash
grep -q "died" "$LOG" && fail "a worker died instead of leaving"

# A broken configuration: the daemon keeps the old one.
cp "$CONF" "$T/good.conf"
write_conf "workers 1" "claim-batch 1" "workers banana"
line=$(grep -n banana "$CONF" | cut -d: -f1)
kill -HUP "$sv"
wait_for 10 status_is .fleet.reloads 3 || fail "HUP not seen"
ctl status --json > "$T/st"
jq -e --arg where "$RCONF:$line:" '.fleet.last_reload_error != null and
    (.fleet.last_reload_error | startswith($where)) and
    (.fleet.last_reload_error | contains("banana")) and
    .fleet.target == 1 and .fleet.running == 1' "$T/st" >/dev/null ||
    fail "broken config: $(jq -c .fleet "$T/st")"
kill -0 "$sv" || fail "quired died on a broken configuration"
ctl status | grep -q "^last reload error: $RCONF:$line: " ||
    fail "status text: $(ctl status)"
expect_exit 1 ctl reload
grep -q "$RCONF:$line: workers banana" "$T/err" ||
    fail "quirectl reload: $(cat "$T/err")"
# quired -n: the same verdict, and OK for a good file.
expect_exit 1 "$QUIRED" -n -f "$CONF"
grep -q "^$RCONF:$line: workers banana" "$T/err" ||
    fail "quired -n on a broken file: $(cat "$T/out" "$T/err")"
expect_exit 0 "$QUIRED" -n -f "$T/good.conf"
[ "$(cat "$T/out")" = "configuration OK" ] ||
    fail "quired -n on a good file: $(cat "$T/out" "$T/err")"
# Fixed again, the error clears.
cp "$T/good.conf" "$CONF"
kill -HUP "$sv"
wait_for 10 status_is .fleet.last_reload_error null ||
    fail "a good reload did not clear the error"

# Signals and quirectl scale.
kill -TTIN "$sv"
wait_for 15 converged 2 || fail "TTIN: $(jq -c .fleet "$T/conv")"
kill -TTIN "$sv"
wait_for 15 converged 3 || fail "TTIN again: $(jq -c .fleet "$T/conv")"
kill -TTOU "$sv"
wait_for 15 converged 2 || fail "TTOU: $(jq -c .fleet "$T/conv")"
expect_exit 0 ctl scale 3
[ "$(cat "$T/out")" = "target 3 workers" ] || fail "scale: $(cat "$T/out")"
wait_for 15 converged 3 || fail "scale 3: $(jq -c .fleet "$T/conv")"
expect_exit 1 ctl scale 65
grep -q "outside min-workers 0 and max-workers 64" "$T/err" ||
    fail "scale 65: $(cat "$T/err")"
[ "$(status_json .fleet.target)" -eq 3 ] || fail "scale 65 changed the target"
# A reload that does not change "workers" keeps the run-time target.
kill -HUP "$sv"
wait_for 10 status_is .fleet.reloads 6 || fail "HUP not seen"
[ "$(status_json .fleet.target)" -eq 3 ] || fail "reload reset the target"

# Everything finishes, and nothing was aborted on the way.
wait_for 60 status_is .jobs.done $NJOBS || fail "not all done: $(ctl status)"
no_crash
[ "$(status_json .totals.completed)" -eq $NJOBS ] || fail "completions"
[ "$(status_json .fleet.deaths)" -eq "$(grep -c "exited: exit 0" "$LOG")" ] ||
    fail "a worker left other than by exit 0: $(grep exited "$LOG")"
[ "$(zombies_of "$sv")" -eq 0 ] || fail "zombies"
exit 0
