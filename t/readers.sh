#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A reader killed inside its transaction (quirectl check stopped, then
# SIGKILLed) leaves a reader slot that pins the index's pages; the daemon
# clears it within its 5 s sweep (or a writer does, at its next write)
# and logs it, and status shows the slot gone.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

awk 'BEGIN { srand(3); for (i = 0; i < 60000; i++) { s = "";
    for (w = 0; w < 60; w++) s = s " w" int(rand() ^ 2 * 50000);
    printf "{\"id\":\"r%d\",\"text\":\"%s\"}\n", i, s } }' > "$T/r.ndjson"
write_conf "workers 1"
ctl ingest -w 2 "$T/r.ndjson" > "$T/ingest.out" 2>&1 ||
    fail "ingest: $(cat "$T/ingest.out")"
start_quired
[ "$(status_json .readers.index)" = 0 ] ||
    fail "readers at rest: $(status_json .readers)"

# Stop a check inside its read transaction, then kill it: stop it every
# few milliseconds and look, so its transaction is caught however long
# the check takes to start on this machine.
i=0 held=false
while [ "$held" != true ]; do
	i=$((i + 1))
	[ $i -le 10 ] || fail "never caught a check inside its transaction"
	"$QUIRECTL" -D "$DATA" check > /dev/null 2>&1 &
	p=$!
	while kill -STOP $p 2>/dev/null &&
	    ! ps -o stat= -p $p | grep -q Z; do
		held=$(ctl status --json | jq --argjson p $p \
		    '.readers.index_pids | index($p) != null')
		[ "$held" = true ] && break
		kill -CONT $p
		sleep 0.01
	done
	kill -9 $p 2>/dev/null
	wait $p 2>/dev/null || true
done
pid_gone $p || fail "the check is still there"
gone() {
	ctl status --json | jq -e --argjson p $p '.readers.index_pids |
	    index($p) == null' > /dev/null
}
wait_for 12 gone || fail "the stale slot stays: $(status_json .readers)"
# Cleared by the supervisor's sweep, or by a writer (the merger) first.
grep -q 'index: cleared 1 stale reader' "$LOG" || fail "not logged"
ctl check > /dev/null || fail "the index is not sound"
echo "readers: caught after $i tries, cleared"
