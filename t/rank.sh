#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Ranking as a user sees it in `quirectl search`, on a small indexed set
# (a foreground fleet, no daemon): a word in a document's title outranks
# the same word in a shorter text (title-weight, BM25F); of two chunks
# with the same words, the one where they stand as the query's phrase
# comes first (proximity-weight); a word as typed outranks another word
# of its stem (exact-weight); with heading-weight, a word in the
# headings of a section outranks the same word in another's text.  Each
# setting turned off gives back the order BM25 alone gives, older chunk
# first on ties, so each check can fail; pruned and --exact searches
# agree throughout.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

# Records in order of age: on a tie, the older (first) comes first.
cat > "$T/rank.ndjson" <<'END'
{"id": "titled", "title": "Lighthouse", "text": "An old keeper kept his notes on kiwi lemon mango nectarine olive plum quince rowan sorrel."}
{"id": "text", "title": "Notes", "text": "A lighthouse by the sea."}
{"id": "scattered", "title": "One", "text": "red walls by the fox quince ran past today"}
{"id": "phrase", "title": "Two", "text": "the red fox ran past by quince walls today"}
{"id": "stem", "title": "Three", "text": "walls plaster rowan"}
{"id": "typed", "title": "Four", "text": "walls plastered rowan"}
END
# Two pages whose sections are alike but for where "nesting" is: in a
# heading, or in the text below another one.
mkdir "$T/pages"
printf '# Field guide\n\nSome words on birds and their ways.\n\n## Nesting\n\nThey build in spring, out of twigs and moss.\n' > "$T/pages/a.md"
printf '# Field notes\n\nSome words on birds and their ways.\n\n## Spring\n\nNesting starts, out of twigs and moss.\n' > "$T/pages/b.md"
write_conf "workers 1"
expect_exit 0 ctl ingest -w 1 "$T/rank.ndjson"
expect_exit 0 ctl ingest -w 1 "$T/pages"

# ids QUERY: the hits' ids, best first, pruned; --exact must agree.
ids() {
	ctl -f "$CONF" search --json -n 10 -- "$1" > "$T/hits" ||
	    fail "search $1 failed: $(cat "$T/hits")"
	jq -r '[.hits[].id] | join(" ")' "$T/hits" > "$T/pruned"
	ctl -f "$CONF" search --json --exact -n 10 -- "$1" > "$T/hits" ||
	    fail "search --exact $1 failed: $(cat "$T/hits")"
	jq -r '[.hits[].id] | join(" ")' "$T/hits" > "$T/exact"
	cmp -s "$T/pruned" "$T/exact" || fail "$1: pruned \"$(cat \
	    "$T/pruned")\", --exact \"$(cat "$T/exact")\""
	cat "$T/pruned"
}
# same A B: two answers must be equal.
same() {
	[ "$1" = "$2" ] || fail "\"$1\" is not \"$2\""
}

# The defaults.
same "$(ids lighthouse)" "titled text"
same "$(ids 'red fox')" "phrase scattered"
same "$(ids 'fox red')" "phrase scattered"
same "$(ids plastered)" "typed stem"
same "$(ids plaster)" "stem typed"
same "$(ids nesting)" "$T/pages/b.md $T/pages/a.md"

# Each setting off: BM25's order (the shorter text; ties to the older).
write_conf "workers 1" "title-weight 1"
same "$(ids lighthouse)" "text titled"
write_conf "workers 1" "proximity-weight 0"
same "$(ids 'red fox')" "scattered phrase"
same "$(ids plastered)" "typed stem"
write_conf "workers 1" "exact-weight 0"
same "$(ids plastered)" "stem typed"
same "$(ids 'red fox')" "phrase scattered"
write_conf "workers 1" "heading-weight 1"
same "$(ids nesting)" "$T/pages/a.md $T/pages/b.md"
same "$(ids 'red fox')" "phrase scattered"
write_conf "workers 1" "heading-weight 1" "rank-window 0"
same "$(ids nesting)" "$T/pages/b.md $T/pages/a.md"
write_conf "workers 1" "rank-window 0"
same "$(ids 'red fox')" "scattered phrase"
same "$(ids plastered)" "stem typed"

# Bounds, as quired.conf(5) gives them.
write_conf "workers 1" "rank-window 1001"
expect_exit 1 ctl -f "$CONF" search fox
grep -q "rank-window" "$T/err" || fail "rank-window 1001: $(cat "$T/err")"
exit 0
