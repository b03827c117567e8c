#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Typo tolerance as a user sees it: a misspelled word (a deletion, an
# insertion, a substitution, a transposition; two edits in a long word)
# finds the document and the JSON says what it was read as; an exact
# word is not corrected; --no-typos, typos=0 on HTTP and "typos no" in
# the configuration find nothing for the misspelling; a rare word that
# exists keeps its own matches first and gets its correction beside it,
# within one edit even when long; the next readings as near are searched too; quoted words and words
# with a digit are taken as typed.  The same in segments, in the block
# store after quirectl compact, and through the daemon's HTTP search.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

{
	echo '{"id": "k1", "title": "Oops", "text": "The Linux kernel stopped with a panic after the driver update."}'
	echo '{"id": "g1", "title": "Garden", "text": "Tomatoes need sunshine, water and patience in the garden."}'
	echo '{"id": "n1", "title": "Network", "text": "Connections time out when the firewall drops packets."}'
	echo '{"id": "c1", "title": "Popcorn", "text": "Popcorn pops when heated in a pot with oil."}'
	echo '{"id": "rare", "title": "Notes", "text": "A kernle is what the scribe wrote in the margin."}'
	echo '{"id": "clock", "title": "Clock", "text": "The old clock went ticken all night."}'
	# A word too long for variants (28 letters) in one document, and
	# one two edits from it in twelve.
	echo '{"id": "long", "title": "Code", "text": "The code zqxwvutkrpmnbgfdzqxwvutkrpmk is rare."}'
	i=0
	while [ $i -lt 12 ]; do
		echo "{\"id\": \"more$i\", \"title\": \"Build $i\", \"text\": \"Build number $i of the kernel image, taken at night.\"}"
		echo "{\"id\": \"code$i\", \"title\": \"Code $i\", \"text\": \"Code zqxwvotkrpmhbgfdzqxwvutkrpmk number $i.\"}"
		i=$((i + 1))
	done
} > "$T/docs.ndjson"
write_conf "listen 127.0.0.1:0" "workers 1"
expect_exit 0 ctl ingest -w 1 "$T/docs.ndjson"

# hits QUERY-ARGS...: the hits' ids, best first; $T/hits keeps the JSON.
hits() {
	search_ids -n 20 "$@"
}
# corrected WORD: what the last search read WORD as, or "none".
corrected() {
	jq -r --arg w "$1" '.corrected[$w] // "none"' "$T/hits"
}
# finds WORD ID CORRECTION: WORD finds ID, read as CORRECTION.
finds() {
	_ids=$(hits "$1")
	case " $_ids " in
	*" $2 "*)	;;
	*)		fail "$1: found \"$_ids\", not $2" ;;
	esac
	[ "$(corrected "$1")" = "$3" ] ||
	    fail "$1: corrected $(jq -c .corrected "$T/hits"), not to $3"
}

checks() {
	# One edit of each kind, and the stem of the word meant.
	finds panik k1 panic		# substitution
	finds pnic k1 panic		# deletion
	finds paniic k1 panic		# insertion
	finds pnaic k1 panic		# transposition
	finds conections n1 connect
	# Two edits in a long word, not in a short one.
	finds sunshien g1 sunshin
	finds snushien g1 sunshin
	[ -z "$(hits pnaik)" ] || fail "pnaik (two edits, 5 letters) found"
	# An exact word is not corrected.
	finds panic k1 none
	[ "$(jq '.corrected | length' "$T/hits")" = 0 ] ||
	    fail "panic: corrected $(jq -c .corrected "$T/hits")"
	# Words too far from anything stay as typed.
	[ -z "$(hits xyzzyq)" ] || fail "xyzzyq found something"
	[ "$(jq '.corrected | length' "$T/hits")" = 0 ] || fail "xyzzyq corrected"
	# A word with a digit is a number or a name, taken as typed.
	[ -z "$(hits linux9)" ] || fail "linux9 found something"
	# Turned off, or quoted: the misspelling finds nothing.
	[ -z "$(hits --no-typos pnaic)" ] || fail "--no-typos pnaic found"
	[ "$(corrected pnaic)" = none ] || fail "--no-typos corrected pnaic"
	[ -z "$(hits '"pnaic"')" ] || fail "\"pnaic\" found"
	# A rare word that exists: its document first, the correction too.
	_ids=$(hits kernle)
	[ "${_ids%% *}" = rare ] || fail "kernle: $_ids, not rare first"
	[ "$(echo "$_ids" | wc -w)" = 14 ] || fail "kernle: $_ids"
	[ "$(corrected kernle)" = kernel ] || fail "kernle not corrected"
	# A long word the index has is looked up within one edit only; one
	# it does not have, within two.
	[ "$(hits zqxwvutkrpmnbgfdzqxwvutkrpmk)" = long ] ||
	    fail "long rare word: $(hits zqxwvutkrpmnbgfdzqxwvutkrpmk)"
	[ "$(corrected zqxwvutkrpmnbgfdzqxwvutkrpmk)" = none ] ||
	    fail "long rare word corrected by two edits"
	finds zqxwvotkrpmhbgfdzqxwsutkrpjk code0 \
	    zqxwvotkrpmhbgfdzqxwvutkrpmk
	# The likeliest reading first, the others beside it.
	_ids=$(hits tiken)
	[ "$(corrected tiken)" = taken ] || fail "tiken: read as $(corrected tiken)"
	case " $_ids " in
	*" clock "*)	;;
	*)		fail "tiken: \"ticken\" not searched too: $_ids" ;;
	esac
	# The text says what it searched for.
	ctl search pnaic > "$T/out" || fail "search pnaic"
	grep -q '^showing results for "panic" instead of "pnaic"$' "$T/out" ||
	    fail "text output: $(head -3 "$T/out")"
	ctl search kernle > "$T/out" || fail "search kernle"
	grep -q '^showing results for "kernel" and "kernle"$' "$T/out" ||
	    fail "text output: $(head -3 "$T/out")"
}

checks			# in segments
expect_exit 0 ctl compact
checks			# in the block store

# Through the daemon.
start_quired
HPORT=$(http_port)
http_is 200 GET "/v1/search?q=linux+pnaic"
[ "$(body '.hits[0].id')" = k1 ] || fail "http: $(cat "$T/hbody")"
[ "$(body '.corrected.pnaic')" = panic ] || fail "http: $(cat "$T/hbody")"
http_is 200 GET "/v1/search?q=pnaic&typos=0"
[ "$(body '.hits | length')" = 0 ] || fail "typos=0: $(cat "$T/hbody")"
[ "$(body '.corrected | length')" = 0 ] || fail "typos=0: $(cat "$T/hbody")"
ctl stop > /dev/null || fail "stop failed"
wait_for 10 pid_gone "$(cat "$PIDFILE")"

# Turned off in the configuration.
write_conf "typos no"
"$QUIRECTL" -f "$CONF" search --json pnaic > "$T/hits" || fail "typos no"
[ "$(jq '.hits | length' "$T/hits")" = 0 ] || fail "typos no: pnaic found"
write_conf "typo-one-edit 6"
"$QUIRECTL" -f "$CONF" search --json pnaic > "$T/hits" || fail "one-edit 6"
[ "$(jq '.hits | length' "$T/hits")" = 0 ] || fail "one-edit 6: pnaic found"
"$QUIRECTL" -f "$CONF" search --json paniic > "$T/hits" || fail "one-edit 6"
[ "$(corrected paniic)" = panic ] || fail "one-edit 6: paniic not corrected"
exit 0
