#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The query syntax as a user types it into `quirectl search`, on a small
# indexed set (a foreground fleet, no daemon): a query word that begins
# with "-" is the query's, not an option; NOT, AND and OR in capitals
# are operators; a query that cannot mean anything (an unbalanced quote,
# an operator alone, only exclusions) is an error with a message, not
# zero hits; --offset pages through the hits, the same pages with
# --exact; --json gives the snippet plain with the matches as byte
# ranges, the text output marks them with **.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

cat > "$T/pets.ndjson" <<'END'
{"id": "r1", "title": "Garden", "text": "The dog chewed a bone in the garden until dusk."}
{"id": "r2", "title": "Fireside", "text": "The cat and the dog slept by the fire all evening."}
{"id": "r3", "title": "Postman", "text": "A dog barked at the postman twice this morning."}
{"id": "r4", "title": "Mouse", "text": "The cat chased a mouse across the kitchen floor."}
{"id": "r5", "title": "Broth", "text": "Bone broth simmers for a day on a low flame."}
{"id": "r6", "title": "Walk", "text": "Every dog in the park pulled at its lead."}
{"id": "r7", "title": "Show", "text": "The judge gave the dog show prize to a spaniel."}
{"id": "r8", "title": "Sled", "text": "A sled dog team crossed the frozen lake at dawn."}
END
write_conf "workers 1"
expect_exit 0 ctl ingest -w 1 "$T/pets.ndjson"

# ids QUERY-ARGS...: the hits' ids, space separated, best first.
ids() {
	search_ids -n 20 "$@"
}
# same A B: two answers must be equal.
same() {
	[ "$1" = "$2" ] || fail "\"$1\" is not \"$2\""
}
# refused MESSAGE QUERY-ARGS...: search fails, saying MESSAGE.
refused() {
	_msg=$1
	shift
	expect_exit 1 ctl search "$@"
	grep -q -- "$_msg" "$T/err" ||
	    fail "search $* said \"$(cat "$T/err")\", not \"$_msg\""
}

dogs=$(ids dog)
[ "$(echo "$dogs" | wc -w)" = 6 ] || fail "dog: $dogs"
nocat=$(ids dog -- -cat)
[ "$(echo "$nocat" | wc -w)" = 5 ] || fail "dog -cat: $nocat"
case " $nocat " in *" r2 "*) fail "dog -cat found r2" ;; esac

# A "-" in the query is not an option, however the query is typed.
same "$(ids 'dog -cat')" "$nocat"
same "$(ids dog -cat)" "$nocat"
same "$(ids -- -cat dog)" "$nocat"
same "$(ids --exact -- -cat dog)" "$nocat"
refused "every word of the query is excluded" -- -cat
# An option after the query is refused, not searched for as a word.
expect_exit 2 ctl search dog --json
grep -q 'search: --json: options come before the query' "$T/err" ||
    fail "dog --json: $(cat "$T/err")"
refused "every word of the query is excluded" -- '-cat -dog'

# Operators in capitals; in small letters they are words.
same "$(ids 'dog NOT cat')" "$nocat"
same "$(ids 'NOT cat dog')" "$nocat"
same "$(ids 'dog AND bone')" "r1"
same "$(ids 'bone AND dog')" "r1"
same "$(ids 'dog AND NOT cat AND bone')" "r1"
[ "$(ids 'bone OR mouse' | wc -w)" = 3 ] || fail "bone OR mouse"
[ "$(ids 'dog and bone' | wc -w)" = 7 ] || fail "dog and bone: and is a word"
refused "NOT needs a word or a phrase after it" 'dog NOT'
refused "AND needs a word or a phrase before it" 'AND dog'
refused "OR needs a word or a phrase after it" 'dog OR'
refused "AND and OR in one query" 'dog AND bone OR cat'
refused "unbalanced quote" '"sled dog'
refused "unbalanced quote" 'dog "sled'
same "$(ids '"sled dog"')" "r8"

# Pages: the same hits as one long list, in its order, pruned or exact.
all=$(ids dog)
p1=$(ctl search --json -n 2 dog | jq -r '[.hits[].id] | join(" ")')
p2=$(ctl search --json -n 2 --offset 2 dog | jq -r '[.hits[].id] | join(" ")')
p3=$(ctl search --json -n 2 --offset 4 --exact dog |
    jq -r '[.hits[].id] | join(" ")')
p4=$(ctl search --json -n 2 --offset 6 dog | jq -r '[.hits[].id] | join(" ")')
same "$p1 $p2 $p3" "$all"
same "$p4" ""
ctl search -n 2 --offset 2 dog > "$T/out"
grep -q '^3\. ' "$T/out" || fail "page 2 does not count from 3: $(cat "$T/out")"
expect_exit 2 ctl search --offset -1 dog

# JSON: the snippet plain, the matches as [byte offset, length].
ctl search --json 'sled lake' > "$T/hits"
jq -e '.hits[0].snippet == "A sled dog team crossed the frozen lake at dawn."' \
    "$T/hits" >/dev/null || fail "snippet: $(cat "$T/hits")"
jq -e '.hits[0].highlights == [[2, 4], [35, 4]]' "$T/hits" >/dev/null ||
    fail "highlights: $(cat "$T/hits")"
jq -e '[.hits[0] | .snippet as $s | .highlights[] |
    $s[.[0]:.[0] + .[1]]] == ["sled", "lake"]' "$T/hits" >/dev/null ||
    fail "highlights do not point at the matches"
# The text output keeps the emphasis.
ctl search 'sled lake' > "$T/out"
grep -qF 'A **sled** dog team crossed the frozen **lake** at dawn.' \
    "$T/out" || fail "text: $(cat "$T/out")"
exit 0
