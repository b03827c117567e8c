#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Page cache is not pressure.  An index bigger than a 1 GiB memory cgroup
# is read through in that group and then searched hot from it, so the
# group is full of the index's cached pages; the daemon, with four
# workers in the same group, must see plenty of headroom (the index's
# pages are file-backed and reclaimable) and never shrink.  The index is
# built first, beside other tests (t/run.sh); the rest runs alone.
# Skipped without root and a writable memory controller.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

cg_can

# Records of 150 words drawn from 400,000, skewed toward a few: about
# 2.3 KB of index each, so 540,000 records make 1.2 GB.
awk 'BEGIN { srand(7); for (i = 0; i < 540000; i++) { s = "";
    for (w = 0; w < 150; w++) { n = int(rand() ^ 3 * 400000);
    s = s " w" n "x" (n % 7) }
    printf "{\"id\":\"r%d\",\"title\":\"record %d\",\"text\":\"%s\"}\n",
    i, i, s } }' > "$T/records.ndjson"
write_conf "workers 4" "map-size 2G"
ctl ingest -w 2 "$T/records.ndjson" > "$T/ingest.out" 2>&1 ||
    fail "ingest: $(tail -5 "$T/ingest.out")"
# Fold everything now: a merger folding in the group would take memory
# of its own, which is pressure of the real kind.
ctl compact > "$T/compact.out" 2>&1 ||
    fail "compact: $(tail -5 "$T/compact.out")"
size=$(stat -c %s "$DATA/index/data.mdb")
[ "$size" -gt $((1100 << 20)) ] || fail "the index is only $size bytes"

cg_make cache 1G

cg_exec "$QUIRED" -d -f "$CONF" 2>>"$T/quired.stderr" &
QPID=$!
wait_for 10 ctl workers || fail "quired did not start"
wait_for 10 status_is .fleet.running 4 || fail "four workers did not start"

# Read the whole index from inside the group, then search it hot.  The
# ingest left its pages cached and charged elsewhere: drop them first.
dd if="$DATA/index/data.mdb" iflag=nocache count=0 status=none ||
    fail "cannot drop the index from the page cache"
cg_exec cat "$DATA/index/data.mdb" > /dev/null
full=$(cg_usage)
[ "$full" -gt $((900 << 20)) ] ||
    fail "the group's page cache did not fill: $full bytes"
end=$(($(now_ms) + 15000))
n=0
while [ "$(now_ms)" -lt $end ]; do
	cg_exec "$QUIRECTL" -D "$DATA" search -n 5 "w$((n % 50))x$((n % 7))" \
	    > "$T/search.out" 2>&1 || fail "search: $(cat "$T/search.out")"
	n=$((n + 1))
done
full=$(cg_usage)
[ "$full" -gt $((900 << 20)) ] ||
    fail "the group is not full of the index: $full bytes"
ctl status --json > "$T/st"
jq -e '.memory.limit == 1073741824 and .memory.headroom > 536870912 and
    .memory.cache > 268435456 and .memory.pressure == false and
    .fleet.resizes.memory_down == 0 and .fleet.running == 4' "$T/st" \
    >/dev/null || fail "page cache was taken for pressure: \
$(jq -c '{memory, resizes: .fleet.resizes, d: .fleet.decisions}' "$T/st")"
grep -q 'shrink [0-9]' "$LOG" && fail "it shrank: $(grep shrink "$LOG")"
kill -TERM "$(quired_pid)"	# QPID is the shell around it
wait "$QPID" || fail "quired exited $?"
echo "pagecache: group at $((full >> 20)) MiB, $n searches, no shrink"
