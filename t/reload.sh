#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A reload reaches every worker.  An option that workers take live
# (log-level) goes to the running workers and the merger over their
# sockets: same processes, new generation.  An option read only at start
# (stopwords) replaces the workers one at a time, between jobs: never
# more than one below the target, no job aborted, and in the end every
# worker and the merger hold the new generation.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

write_conf "workers 4" "claim-batch 1" "max-crashes 1"
ctl submit --debug 'sleep 300' --count 400 >/dev/null
start_quired
sv=$(quired_pid)

ready_n() {
	ctl workers --json | jq '[.workers[] | select((.state == "idle" or
	    .state == "busy") and .replacing == false)] | length'
}
all_on() {
	ctl status --json > "$T/st"
	jq -e --argjson g "$1" '.fleet.generation == $g and
	    ([.fleet.workers[] | select(.pid != 0)] | length) == 4 and
	    all(.fleet.workers[] | select(.pid != 0);
	    .generation == $g and .replacing == false and
	    (.state == "idle" or .state == "busy")) and
	    .fleet.merger.generation == $g' "$T/st" >/dev/null
}
wait_for 10 all_on 0 || fail "not started: $(cat "$T/st")"
pids0=$(worker_pids | sort | tr '\n' ' ')

# Live: same workers, new generation.
write_conf "workers 4" "claim-batch 1" "max-crashes 1" "log-level debug"
kill -HUP "$sv"
wait_for 10 all_on 1 || fail "live reload: $(jq -c .fleet "$T/st")"
[ "$(worker_pids | sort | tr '\n' ' ')" = "$pids0" ] ||
    fail "a live reload replaced workers"

# Respawn: replaced one at a time, never more than one below the target.
write_conf "workers 4" "claim-batch 1" "max-crashes 1" "log-level debug" \
    "stopwords yes"
kill -HUP "$sv"
low=4
i=0
while ! all_on 2; do
	n=$(ready_n)
	[ "$n" -lt "$low" ] && low=$n
	i=$((i + 1))
	[ $i -lt 600 ] || fail "workers not replaced: $(jq -c .fleet "$T/st")"
	sleep 0.05
done
[ "$low" -ge 3 ] || fail "the fleet went $((4 - low)) below its target"
for p in $pids0; do
	pid_gone "$p" || fail "worker $p was not replaced"
done
[ "$(grep -c ': replacing (reload' "$LOG")" = 4 ] ||
    fail "$(grep -c ': replacing (reload' "$LOG") replacements, not 4"
ctl jobs --limit 100000 --json | jq -e 'all(.jobs[]; .crashes == 0)' \
    >/dev/null || fail "a job was aborted"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters"
grep -q ' died: ' "$LOG" && fail "a worker died: $(grep ' died: ' "$LOG")"
echo "reload: lowest $low ready of 4"
