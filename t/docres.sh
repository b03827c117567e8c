#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# One result per document, and facets.  On generated records split into
# several chunks each (chunk-size 64), a search returns each document
# once, its "matches" the number of its chunks that --chunks finds; the
# top documents of a pruned search are those of --exact, in segments
# and again in the block store after a compact; facet counts are the
# numbers of matching records of each value, as counted here from the
# records themselves, and estimated (at most those) when the search
# prunes.  Then the same through HTTP: chunks=1, facet=, facet_size=.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

# 1,200 records of 10 to 49 words w0..w299 (low ones common), a color
# each: enough that searches for the first 30 documents (the rescored
# window) prune.
awk -v n=1200 -v seed=7 'BEGIN { srand(seed); split("red green blue", c, " ")
    for (i = 0; i < n; i++) { s = ""; nw = 10 + int(rand() * 40)
	for (w = 0; w < nw; w++) s = s " w" int(rand() ^ 2 * 300)
	printf "{\"id\":\"r%d\",\"color\":\"%s\",\"text\":\"%s\"}\n", i,
	    c[1 + int(rand() * 3)], s } }' > "$T/r.ndjson"
write_conf "listen 127.0.0.1:0" "workers 1" "chunk-size 64" \
    "chunk-overlap 0" "chunk-min 0"
# ctl with the configuration: its chunk size.
ctl() {
	"$QUIRECTL" -f "$CONF" -D "$DATA" "$@"
}
expect_exit 0 ctl ingest -w 1 "$T/r.ndjson"

# hits ARGS...: id, chunk and matches of each hit, one line of JSON.
hits() {
	ctl search --json "$@" > "$T/hits" ||
	    fail "search $* failed: $(cat "$T/hits")"
	jq -c '[.hits[] | [.id, .chunk, .matches]]' "$T/hits"
}

# Every document once; matches as many as its chunks --chunks finds.
ctl search --json --exact -n 1000 w7 > "$T/docs" || fail "search w7"
ctl search --json --exact --chunks -n 1000 w7 > "$T/chunks" ||
    fail "search --chunks w7"
ndocs=$(jq '.hits | length' "$T/docs")
[ "$(jq -r '.hits[].id' "$T/docs" | sort -u | wc -l)" = "$ndocs" ] ||
    fail "a document came twice: $(jq -c '[.hits[].id]' "$T/docs")"
want=$(grep -cw w7 "$T/r.ndjson")
[ "$ndocs" = "$want" ] || fail "w7: $ndocs documents, not $want"
[ "$(jq '.hits | length' "$T/chunks")" = "$(jq .total "$T/chunks")" ] ||
    fail "--chunks does not give every matching chunk"
[ "$(jq '.hits | length' "$T/chunks")" -gt "$ndocs" ] ||
    fail "no document has two matching chunks: the test proves nothing"
jq -r '.hits[] | "\(.id) \(.matches)"' "$T/docs" | sort > "$T/m1"
jq -r '.hits[].id' "$T/chunks" | sort | uniq -c |
    awk '{ print $2, $1 }' | sort > "$T/m2"
cmp -s "$T/m1" "$T/m2" ||
    fail "matches are not the chunks found: $(diff "$T/m1" "$T/m2")"
jq -e '[.hits[].matches] | all(. == 1)' "$T/chunks" > /dev/null ||
    fail "--chunks: a chunk's matches is not 1"
# A document's best chunk is its snippet: the first of it in --chunks.
first=$(jq -r '.hits[0].id' "$T/docs")
[ "$(jq -c --arg d "$first" '[.hits[] | select(.id == $d)][0] |
    [.chunk, .score]' "$T/chunks")" = \
    "$(jq -c '.hits[0] | [.chunk, .score]' "$T/docs")" ] ||
    fail "the best document's hit is not its best chunk"
ctl search -n 1000 w7 > "$T/out"
grep -q ' matching chunks)$' "$T/out" ||
    fail "the text output does not say how many chunks match"

# Facets: the records of each color that have the word, as jq counts;
# from segments here, from blocks below.
counts() {
	grep -w "$1" "$T/r.ndjson" | jq -s -c \
	    'group_by(.color) | map([.[0].color, length]) |
	    sort_by(-.[1], .[0])'
}
ctl search --json --facet color w7 > "$T/f" || fail "facets of w7"
[ "$(jq -c .facets.color "$T/f")" = "$(counts w7)" ] ||
    fail "w7 in segments: facets $(jq -c .facets "$T/f"), not $(counts w7)"

# Pruned equals --exact, by document, in segments then in blocks.
queries="w1|w7|w1 w2|w3 w50 w100|+w1 w9|\"w0 w1\"|w1*|w5 -w0|w120 w121 w122"
same_as_exact() {
	_pruned=0
	echo "$queries" | tr '|' '\n' > "$T/queries"
	while read -r q; do
		for o in 0 5; do
			a=$(hits -n 10 --offset $o -- "$q")
			jq -e .total_exact "$T/hits" > /dev/null || _pruned=1
			b=$(hits --exact -n 10 --offset $o -- "$q")
			[ "$a" = "$b" ] ||
			    fail "$1: $q (offset $o): $a, --exact $b"
		done
	done < "$T/queries"
	[ "$_pruned" = 1 ] || fail "$1: no search was pruned"
}
same_as_exact segments
expect_exit 0 ctl compact
same_as_exact blocks

for word in w1 w7 w150; do
	ctl search --json --facet color --facet type "$word" > "$T/f" ||
	    fail "facets of $word"
	[ "$(jq -c .facets.color "$T/f")" = "$(counts "$word")" ] ||
	    fail "$word: facets $(jq -c .facets "$T/f"), not $(counts "$word")"
	[ "$(jq -c '.facets.type' "$T/f")" = \
	    "[[\"ndjson\",$(grep -cw "$word" "$T/r.ndjson")]]" ] ||
	    fail "$word: type facet $(jq -c .facets.type "$T/f")"
	jq -e '.facets_estimated == false' "$T/f" > /dev/null ||
	    fail "$word: facets of few postings are estimated"
done
# With a filter, from blocks: the same counts, of the filter's records.
ctl search --json --facet color --filter type=ndjson --filter color=red w1 \
    > "$T/f" || fail "facets with filters"
[ "$(jq -c .facets.color "$T/f")" = \
    "$(counts w1 | jq -c 'map(select(.[0] == "red"))')" ] ||
    fail "facets with filters: $(jq -c .facets "$T/f")"
# --chunks: facets count chunks; --facet-size cuts the list.
ctl search --json --chunks --exact -n 1000 --facet color w7 > "$T/f"
[ "$(jq -c '[.facets.color[][1]] | add' "$T/f")" = "$(jq .total "$T/f")" ] ||
    fail "--chunks: facets do not count chunks: $(jq -c .facets "$T/f")"
ctl search --json --facet color --facet-size 1 w1 > "$T/f"
[ "$(jq -c .facets.color "$T/f")" = "$(counts w1 | jq -c '.[:1]')" ] ||
    fail "--facet-size 1: $(jq -c .facets "$T/f")"
ctl search --facet color w1 > "$T/out"
grep -q "^color: $(counts w1 | jq -r 'map("\(.[0]) \(.[1])") |
    join(", ")')\$" "$T/out" || fail "facets as text: $(cat "$T/out")"
# Pruned, with facet-exact 0: the counts of the matches looked at, at
# most the real ones, and marked estimated.
{ cat "$CONF"; echo "facet-exact 0"; } > "$T/est.conf"
"$QUIRECTL" -f "$T/est.conf" -D "$DATA" search --json --facet color w1 \
    > "$T/f" || fail "facets, pruned"
jq -e '.total_exact == false and .facets_estimated == true' "$T/f" \
    > /dev/null || fail "pruned facets not estimated: $(cat "$T/f")"
counts w1 | jq -e --argjson got "$(jq -c .facets.color "$T/f")" \
    '. as $want | ($got | length) > 0 and ([$got[] | . as [$v, $n] |
    $n <= (($want | map(select(.[0] == $v)))[0][1] // 0)] | all)' \
    > /dev/null ||
    fail "estimated facets $(jq -c .facets "$T/f") pass $(counts w1)"
"$QUIRECTL" -f "$T/est.conf" -D "$DATA" search --json --exact \
    --facet color w1 > "$T/f" || fail "facets, exact"
[ "$(jq -c '[.facets.color, .facets_estimated]' "$T/f")" = \
    "[$(counts w1),false]" ] || fail "--exact facets: $(cat "$T/f")"
expect_exit 2 ctl search --facet color=red w1
expect_exit 2 ctl search --facet-size 0 --facet color w1

# HTTP.
start_quired
HPORT=$(http_port)
http_is 200 GET "/v1/search?q=w7&n=1000&exact=1&chunks=1"
[ "$(body '.hits | length')" = "$(jq '.hits | length' "$T/chunks")" ] ||
    fail "chunks=1: $(body '.hits | length') hits"
http_is 200 GET "/v1/search?q=w7&n=1000"
[ "$(body '.hits | length')" = "$ndocs" ] ||
    fail "by document: $(body '.hits | length') hits, not $ndocs"
jq -r '.hits[] | "\(.id) \(.matches)"' "$T/hbody" | sort > "$T/m3"
cmp -s "$T/m1" "$T/m3" || fail "HTTP matches: $(diff "$T/m1" "$T/m3")"
http_is 200 GET "/v1/search?q=w1&facet=color&facet_size=2"
[ "$(jq -c .facets.color < "$T/hbody")" = "$(counts w1 | jq -c '.[:2]')" ] ||
    fail "facet=color: $(cat "$T/hbody")"
http_is 400 GET "/v1/search?q=w1&facet=color&facet_size=0"
http_is 400 GET "/v1/search?q=w1&facet=a%3Db"
exit 0
