#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Memory pressure, with real memory in a memory cgroup of the test's own
# (2 GiB): six workers each hold 250 MiB (debug "hog" jobs) when a
# process outside the fleet, in the same group, ramps up to 900 MiB.  The
# fleet must shrink before the kernel acts: no process in the group or on
# the machine is OOM-killed, the outside hog lives, no worker dies, no
# job is aborted.  When the hog exits the fleet grows back to six.
# Skipped without root and a writable memory controller.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${MEMHOG:=$(dirname "$QUIRED")/t/memhog}"
cg_make fleet 2G

write_conf "workers 6" "claim-batch 1" "memory-reserve 256M" \
    "memory-hysteresis 128M" "memory-settle 300ms" "memory-dwell 3s" \
    "memory-grow-cooldown 2s" "max-crashes 1" "big-inflight 4G"
ctl submit --debug 'hog 250 1500' --count 3000 >/dev/null
oom_cg=$(cg_oom_kills)
oom_vm=$(vm_oom_kills)
cg_exec "$QUIRED" -d -f "$CONF" 2>>"$T/quired.stderr" &
QPID=$!
wait_for 10 ctl workers || fail "quired did not start"

# six busy workers, each past 200 MiB
six_big() {
	[ "$(ctl workers --json | jq '[.workers[] | select(.state == "busy"
	    and .anon_kb > 200000)] | length')" -ge 6 ]
}
wait_for 30 six_big || fail "six workers do not hold their memory: \
$(ctl workers)"
ctl status --json | jq -e '.memory.limit == 2147483648 and
    (.memory.limit_source | contains("'"$CG"'"))' >/dev/null ||
    fail "status does not show the group's limit: $(ctl status --json |
    jq -c .memory)"
[ "$(status_json .fleet.resizes.memory_down)" = 0 ] ||
    fail "shrank before the hog: $(status_json .fleet.decisions)"

# The outside hog: 900 MiB at 64 MiB/s, held 15 s.
cg_exec "$MEMHOG" -r 64 -d 20 900 > "$T/hog.out" &
HOG=$!
low=6
i=0
while kill -0 "$HOG" 2>/dev/null && [ $i -lt 300 ]; do
	n=$(status_json .fleet.running)
	[ "$n" -lt "$low" ] && low=$n
	sleep 0.1
	i=$((i + 1))
done
wait "$HOG" || fail "the outside hog did not end well (status $?)"
grep -q '^held 900$' "$T/hog.out" || fail "the hog did not get its memory"
[ "$low" -le 4 ] || fail "the fleet did not shrink (lowest $low)"
ctl status --json > "$T/st"
jq -e '.fleet.resizes.memory_down >= 2' "$T/st" >/dev/null ||
    fail "no shrinks counted: $(jq -c .fleet.resizes "$T/st")"
grep -q 'shrink 6->5 reason=' "$LOG" || fail "no shrink line in the log"

# Back to six once the hog is gone.
wait_for 90 status_is .fleet.running 6 ||
    fail "did not grow back: $(ctl status --json | jq -c '.fleet.decisions')"
grep -q 'grow [0-9]->[0-9] reason=calm' "$LOG" || fail "no grow line"

[ "$(cg_oom_kills)" = "$oom_cg" ] || fail "OOM kills in the group"
[ "$(vm_oom_kills)" = "$oom_vm" ] || fail "OOM kills on the machine"
grep -q ' died: ' "$LOG" && fail "a worker died: $(grep ' died: ' "$LOG")"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters"
kill -TERM "$(quired_pid)"	# QPID is the shell around it
wait "$QPID" || fail "quired exited $?"
echo "pressure: lowest $low workers, $(jq -c .fleet.resizes "$T/st")"
