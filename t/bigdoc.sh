#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A 6 MB text file, within max-document-size, is indexed with the
# default limits (max-tokens sets no count of its own): one document in
# some thousands of chunks, its first and last words found in its first
# and last chunks; a delete removes all of them.  With a max-tokens
# set below its words, it is a dead letter that says so.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

# About 1.1 million words in 6 MB, in lines of 12 words.
awk 'BEGIN {
	print "aardvark opens the file"
	n = 0
	while (n < 6 * 1024 * 1024) {
		line = "filler"
		for (i = 0; i < 12; i++)
			line = line sprintf(" w%d", (n * 7 + i * 13) % 9973)
		print line
		n += length(line) + 1
	}
	print "zanzibar closes it"
}' > "$T/big.txt"
size=$(wc -c < "$T/big.txt")
[ "$size" -gt 6000000 ] || fail "big.txt is only $size bytes"

write_conf "workers 1"
"$QUIRECTL" -f "$CONF" -D "$DATA" ingest -w 1 "$T/big.txt" > "$T/out" 2>&1 ||
    fail "ingest: $(cat "$T/out")"
grep -q '^done: 1 documents, [0-9]* chunks, 0 failures' "$T/out" ||
    fail "ingest: $(cat "$T/out")"
chunks=$(sed -n 's/^done: 1 documents, \([0-9]*\) chunks.*/\1/p' "$T/out")
[ "$chunks" -gt 1000 ] || fail "only $chunks chunks"

q() {
	"$QUIRECTL" -f "$CONF" -D "$DATA" search --json "$@"
}
q aardvark | jq -e '.total == 1 and .hits[0].chunk == 0' >/dev/null ||
    fail "aardvark: $(q aardvark)"
q zanzibar | jq -e --argjson last "$((chunks - 1))" \
    '.total == 1 and .hits[0].chunk == $last' >/dev/null ||
    fail "zanzibar: $(q zanzibar)"
id=$(q zanzibar | jq -r '.hits[0].id')
[ "$(q aardvark | jq -r '.hits[0].id')" = "$id" ] ||
    fail "the first and last chunks are not one document's"
q filler | jq -e '.total > 100 and ([.hits[].id] | unique == ["'"$id"'"])' \
    >/dev/null || fail "filler: $(q filler)"

# A delete takes every chunk.
expect_exit 0 ctl delete "$id"
for w in aardvark zanzibar filler; do
	q --exact "$w" | jq -e '.total == 0' >/dev/null ||
	    fail "$w found after the delete: $(q "$w")"
done
expect_exit 0 ctl check

# A max-tokens below its words refuses it, and says why.
rm -rf "$DATA"
write_conf "workers 1" "max-tokens 100000"
expect_exit 1 "$QUIRECTL" -f "$CONF" -D "$DATA" ingest -w 1 "$T/big.txt"
ctl jobs --state dead > "$T/out"
grep -q 'too-many-tokens: more than max-tokens 100000' "$T/out" ||
    fail "no too-many-tokens dead letter: $(cat "$T/out")"
exit 0
