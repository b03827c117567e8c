#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# One search over several hosts scores as one index of all their
# documents: three quired hosts A, B and C each index a third of a set
# of records, whose words are spread very unevenly over the thirds, and
# a fourth, D, indexes all of them.  A names B and C as search peers.
# For single words, OR, AND, a phrase and a filter, `quirectl search
# --all --json` and GET /v1/search?all=1 on A give D's ids in D's order
# and D's scores within 1e-6 relative, pruned and --exact, in segments
# and again in blocks after a compact; a word only B has is found from
# A, and a record both A and B hold is one hit.  A token bound to a
# tenant on A finds that tenant's documents
# only, on every host.  The two rounds by hand on B: /v1/search/stats
# and POST /v1/search with its figures, and their bounds (65 terms, a
# body over 256 KiB) and tenant checks.  Peers refusing A's token are
# missing, not an error, and so is one that trickles its answer past the
# timeout, never silent for long.  Then C stopped: the answer comes within the
# peers' timeout, partial, naming C and why, with A's and B's hits.
# D takes the records in the order of their ids, so that its ties (to
# the older chunk) fall as the merge's (to the lesser id).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v curl > /dev/null || skip "no curl"

tok=peer-token-0123456789abcdef
toka=acme-token-0123456789abcdef
tokadm=admin-token-0123456789abcdef
printf '%s\n' "$tok" > "$T/tokens"
printf '%s\n%s acme\n' "$tokadm" "$toka" > "$T/tokens.a"
printf '%s\n' "$tok" > "$T/peer.token"
printf 'wrong-token-0123456789abcdef\n' > "$T/wrong.token"
chmod 600 "$T/tokens" "$T/tokens.a" "$T/peer.token" "$T/wrong.token"

# 3000 records, r00000 to r02999, a thousand a share (A, B, C); in each
# share the first 200 are tenant acme's.  Each word's share of records
# differs between the thirds: "apple" is common in A's and rare in B's,
# "berry" the other way, "onlyb" is in four of B's only; "red fox" is a
# phrase in some.  Lengths and counts vary, so that scores seldom tie.
LC_ALL=C awk -v dir="$T" 'BEGIN { srand(7);
    split("0.6 0.03 0.2", pa, " "); split("0.04 0.5 0.1", pb, " ");
    split("0.3 0.3 0.3", pc, " "); split("0.1 0.02 0.4", pd, " ");
    for (i = 0; i < 3000; i++) {
	s = int(i / 1000) + 1; t = "";
	n = 5 + int(rand() * 60);
	for (w = 0; w < n; w++) t = t " f" int(rand() * 700);
	for (k = int(rand() * 3); k >= 0; k--) {
		if (rand() < pa[s]) t = t " apple";
		if (rand() < pb[s]) t = t " berry";
		if (rand() < pc[s]) t = t " cedar";
		if (rand() < pd[s]) t = t " delta";
	}
	if (rand() < 0.15) t = t " the red fox ran";
	if (rand() < 0.15) t = t " a fox in red";
	if (s == 2 && i % 250 == 7) t = t " onlyb";
	f = dir "/" substr("ABC", s, 1) ((i % 1000) < 200 ? ".acme" : ".rest") \
	    ".ndjson";
	printf "{\"id\":\"r%05d\",\"title\":\"record %d\",\"text\":\"%s\"}\n",
	    i, i, t > f } }'

# Start B, C and D, then A with B and C (their ports now known) as peers.
for h in B C D; do
	host $h
	write_conf "listen 127.0.0.1:0" "workers 1" "min-workers 1" \
	    "http-token-file $T/tokens" "merge no"
	start_quired
	eval "PORT_$h=\$(http_port)"
done
host A
write_conf "listen 127.0.0.1:0" "workers 1" "min-workers 1" \
    "http-token-file $T/tokens.a" "merge no" \
    "search-peer 127.0.0.1:$PORT_B" "search-peer 127.0.0.1:$PORT_C" \
    "search-peer-token-file $T/peer.token" "search-peer-timeout 1s"
start_quired
PORT_A=$(http_port)

done_is() {
	[ "$(ctl -D "$T/$1/data" status --json | jq -r .index.documents)" = \
	    "$2" ]
}
# D takes every file in the order of their ids, one at a time, so that
# its chunks are in the order of the ids, as the merge breaks ties.
n=0
for s in A B C; do
	for part in acme rest; do
		f=$T/$s.$part.ndjson
		[ "$part" = acme ] && set -- --tenant acme || set --
		host $s
		ctl submit "$@" --ndjson "$f" > /dev/null ||
		    fail "submit $f to $s"
		host D
		ctl submit "$@" --ndjson "$f" > /dev/null ||
		    fail "submit $f to D"
		n=$((n + $(wc -l < "$f")))
		wait_for 60 done_is D "$n" || fail "D indexed $(ctl status \
		    --json | jq .index.documents) of $n"
	done
done
for s in A B C; do
	wait_for 60 done_is $s 1000 || fail "$s did not index its share"
done

# The hits, an id and a score a line.
pairs='.hits[] | "\(.id) \(.score_full)"'
# agree QUERY [ARGS...]: D, --all on A and all=1 on A say the same.
agree() {
	q=$1
	shift
	host D
	ctl search --json --no-typos -n 20 "$@" -- "$q" > "$T/d.json" ||
	    fail "D: search $q"
	jq -r "$pairs" "$T/d.json" > "$T/d"
	[ -s "$T/d" ] || fail "$q: nothing found on D"
	host A
	ctl -f "$CONF" search --all --json -n 20 "$@" -- "$q" > "$T/a.json" ||
	    fail "A: search --all $q"
	jq -r "$pairs" "$T/a.json" > "$T/a"
	jq -e '.partial == false and (.hosts | length) == 3' "$T/a.json" \
	    > /dev/null || fail "$q: not all hosts: $(jq -c .hosts "$T/a.json")"
	url="/v1/search?all=1&n=20&q=$(jq -rn --arg s "$q" '$s | @uri')"
	for a in "$@"; do
		case $a in
		--exact)	url="$url&exact=1" ;;
		--filter=*)	url="$url&filter=$(jq -rn \
				    --arg s "${a#--filter=}" '$s | @uri')" ;;
		esac
	done
	HPORT=$PORT_A
	http_is 200 GET "$url" -H "Authorization: Bearer $tokadm"
	jq -r "$pairs" "$T/hbody" > "$T/h"
	for got in a h; do
		paste -d ' ' "$T/d" "$T/$got" | awk -v q="$q" -v w="$got" '
		    { if ($1 != $3) { print q ": " w " has " $3 \
			" where D has " $1 " (rank " NR ")"; bad = 1; exit }
		      d = $2 - $4; if (d < 0) d = -d;
		      if (d > 1e-6 * $2) { print q ": " $1 " scores " $4 \
			" on " w ", " $2 " on D"; bad = 1; exit } }
		    END { exit bad }' >&2 || fail "$q: the answers differ"
		[ "$(wc -l < "$T/d")" = "$(wc -l < "$T/$got")" ] ||
		    fail "$q: $(wc -l < "$T/$got") hits on $got, $(wc -l < \
		    "$T/d") on D"
	done
}

queries() {
	for x in "" --exact; do
		agree apple $x
		agree berry $x
		agree delta $x
		agree "apple OR berry" $x
		agree "apple AND cedar" $x
		agree "berry cedar delta" $x
		agree '"red fox"' $x
		agree "cedar" --filter=tenant=acme $x
		agree onlyb $x
	done
}
# In segments, then in blocks.
queries
for h in A B C D; do
	host $h
	expect_exit 0 ctl compact
done
queries

# A word only B holds, found from A: B's four records.
host A
ctl -f "$CONF" search --all --json -- onlyb > "$T/a.json"
[ "$(jq -r '[.hits[].id] | sort | join(" ")' "$T/a.json")" = \
    "r01007 r01257 r01507 r01757" ] || fail "onlyb: $(jq -c '[.hits[].id]' \
    "$T/a.json")"
jq -e '.hosts[] | select(.host == "127.0.0.1:'"$PORT_B"'") | .hits == 4' \
    "$T/a.json" > /dev/null || fail "onlyb: B's hits: $(jq -c .hosts \
    "$T/a.json")"

# A tenant's token sees its tenant's records only, on every host; the
# tenant= filter of another is refused.
HPORT=$PORT_A
http_is 200 GET "/v1/search?all=1&n=1000&q=cedar" \
    -H "Authorization: Bearer $toka"
[ "$(body '[.hits[].id | ltrimstr("r") | tonumber % 1000 < 200] | all')" = \
    true ] || fail "acme's token sees others' records"
[ "$(body '[.hits[].id | ltrimstr("r") | tonumber / 1000 | floor] | unique |
    length')" = 3 ] || fail "acme's token misses hosts: $(body '[.hits[].id]')"
http_is 403 GET "/v1/search?all=1&q=cedar&filter=tenant=other" \
    -H "Authorization: Bearer $toka"
http_is 401 GET "/v1/search?all=1&q=cedar"

# The two rounds by hand on B: its statistics (apple's key is "b" and
# the stem, in hex), a search under them, and the bounds.
HPORT=$PORT_B
http_is 200 GET "/v1/search/stats?q=apple" -H "Authorization: Bearer $tok"
[ "$(body '[.chunks, .live, .tokens > 0, (.terms | map(.key))]' |
    jq -c .)" = '[1000,1000,true,["626170706c"]]' ] ||
    fail "stats: $(cat "$T/hbody")"
dfb=$(body '.terms[0].df')
[ "$dfb" = "$(grep -c apple "$T/B.acme.ndjson" "$T/B.rest.ndjson" |
    awk -F: '{ n += $2 } END { print n }')" ] || fail "B's df of apple: $dfb"
jq -c '{q: "apple", n: 5, split: true, stats: .}' "$T/hbody" > "$T/post"
http_is 200 POST /v1/search -H "Authorization: Bearer $tok" \
    --data-binary @"$T/post"
[ "$(body '.hits | length')" = 5 ] &&
    [ "$(body '[.hits[].bonus | type] | unique | join(" ")')" = number ] ||
    fail "POST /v1/search: $(head -c 300 "$T/hbody")"
jq -c '.stats.terms = [range(65) | {key: "62", df: 1}]' "$T/post" \
    > "$T/post65"
http_is 400 POST /v1/search -H "Authorization: Bearer $tok" \
    --data-binary @"$T/post65"
awk 'BEGIN { printf "{\"q\": \"apple\", \"pad\": \"";
    for (i = 0; i < 300000; i++) printf "x"; print "\"}" }' > "$T/postbig"
http_is 413 POST /v1/search -H "Authorization: Bearer $tok" \
    --data-binary @"$T/postbig"
HPORT=$PORT_A
http_is 403 POST /v1/search -H "Authorization: Bearer $toka" \
    -d '{"q": "apple", "filter": ["tenant=other"]}'
http_is 403 GET "/v1/search/stats?q=apple&filter=tenant=other" \
    -H "Authorization: Bearer $toka"

# Peers that refuse the token are missing; A's own hits are there.
sed "s|^search-peer-token-file .*|search-peer-token-file $T/wrong.token|" \
    "$T/A/quired.conf" > "$T/A/wrong.conf"
ctl -f "$T/A/wrong.conf" search --all --json -n 1000 apple > "$T/a.json" ||
    fail "a wrong peer token fails the search"
jq -e '.partial and (.missing_hosts | length) == 2 and
    ([.hits[].id | ltrimstr("r") | tonumber < 1000] | all) and
    (.hits | length) > 0' "$T/a.json" > /dev/null ||
    fail "wrong token: $(jq -c '{partial, missing_hosts, hosts}' "$T/a.json")"

# A peer that trickles its answer, a byte every 200 ms, never silent
# for the timeout: missing all the same once the round's time is up.
if command -v python3 > /dev/null; then
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
while True:
	c, _ = s.accept()
	try:
		for b in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 100:
			c.send(bytes([b]))
			time.sleep(0.2)
	except OSError:
		pass
	c.close()
' > "$T/slow.port" &
	slowpid=$!
	wait_for 10 test -s "$T/slow.port" || fail "no slow peer"
	sed "s|^search-peer 127.0.0.1:$PORT_C\$|search-peer 127.0.0.1:$(cat \
	    "$T/slow.port")|" "$T/A/quired.conf" > "$T/A/slow.conf"
	t0=$(now_ms)
	ctl -f "$T/A/slow.conf" search --all --json apple > "$T/a.json" ||
	    fail "a slow peer fails the search"
	took=$(( $(now_ms) - t0 ))
	kill "$slowpid"
	[ "$took" -lt 6000 ] || fail "a slow peer: the answer took $took ms"
	jq -e '.partial and (.missing_hosts | length) == 1 and
	    ([.hosts[] | select(.missing) | .error] ==
	    ["no answer in time (timeout 1000 ms)"])' "$T/a.json" \
	    > /dev/null || fail "a slow peer: $(jq -c .hosts "$T/a.json")"
fi

# A record that two hosts both hold (as while a drain moves it) is one
# hit, not two.
printf '{"id":"twin","text":"twinword in both"}\n' > "$T/twin.ndjson"
for s in A B; do
	host $s
	ctl submit --ndjson "$T/twin.ndjson" > /dev/null ||
	    fail "submit the twin to $s"
	wait_for 60 done_is $s 1001 || fail "$s did not index the twin"
done
host A
ctl -f "$CONF" search --all --json twinword > "$T/twin.json" ||
    fail "search --all twinword"
jq -e '[.hits[].id] == ["twin"] and .partial == false' "$T/twin.json" \
    > /dev/null || fail "the twin: $(jq -c '[.hits[].id]' "$T/twin.json")"

# C stopped: within the timeout (1 s a round, 2 s at most, with a
# generous margin), partial, C missing, A's and B's hits there.
cpid=$(cat "$T/C/quired.pid")
kill -STOP "$cpid"
pkill -STOP -P "$cpid"
t0=$(now_ms)
http_is 200 GET "/v1/search?all=1&n=1000&q=cedar" \
    -H "Authorization: Bearer $tokadm"
took=$(( $(now_ms) - t0 ))
pkill -CONT -P "$cpid"
kill -CONT "$cpid"
[ "$took" -lt 6000 ] || fail "C stopped: the answer took $took ms"
[ "$(body '.partial')" = true ] &&
    [ "$(body '.missing_hosts | join(" ")')" = "127.0.0.1:$PORT_C" ] ||
    fail "C stopped: $(body '{partial, missing_hosts, hosts}')"
[ "$(body '.hosts[] | select(.missing) | .error')" = \
    "no answer in time (timeout 1000 ms)" ] ||
    fail "C stopped: $(body '.hosts')"
[ "$(body '[.hits[].id | ltrimstr("r") | tonumber / 1000 | floor] | unique |
    join(" ")')" = "0 1" ] || fail "C stopped: hits of $(body '[.hits[].id]')"
exit 0
