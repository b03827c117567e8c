#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The bundled example shows distinct records: every record's id and text
# are its own, and the quick start's demo (contrib/demo.sh) runs to a
# sound index with top hits that are different documents saying
# different things.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

REC=$TOPSRC/contrib/example/records.ndjson
n=$(wc -l < "$REC")
[ "$n" -ge 60 ] || fail "only $n example records"
jq -s -e 'length == ([.[].id] | unique | length) and
    length == ([.[].text] | unique | length) and
    length == ([.[].title] | unique | length)' "$REC" >/dev/null ||
    fail "the example records repeat themselves"

TMPDIR=$T QUIRECTL=$QUIRECTL sh "$TOPSRC/contrib/demo.sh" > "$T/demo" 2>&1 ||
    fail "demo: $(cat "$T/demo")"
grep -q '^index sound: ' "$T/demo" || fail "demo: $(cat "$T/demo")"

# The demo's queries: at least two hits each, no snippet twice.
expect_exit 0 ctl ingest -w 2 "$REC"
for q in 'deficit round robin' '"memory-mapped" +transactions' \
    'fsync AND directory'; do
	ctl search --json -n 3 "$q" > "$T/hits"
	jq -e '(.hits | length) >= 2 and
	    (.hits | length) == ([.hits[].snippet] | unique | length) and
	    (.hits | length) == ([.hits[].id] | unique | length)' \
	    "$T/hits" >/dev/null || fail "$q: $(cat "$T/hits")"
done
exit 0
