#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl host drain: three quired hosts ha, hb and hc (data
# directories, host-names and HTTP ports of their own) on one PostgreSQL
# database (t/lib.sh's pg_start).  hb alone indexes some markdown files
# (titles, headings), then thousands of NDJSON records (a title, text
# and attributes) are spread over the three.  A search over all hosts
# is taken from ha; hb is stopped, and drained offline, from its data
# directory and configuration: it ends drained, the home of nothing,
# its index empty and sound, and each record and file is in exactly one
# of ha's and hc's indexes (read directly); the same search over all
# hosts gives the same hits with the same scores (within 1e-6
# relative), a filter on an attribute the same count; a second run of
# the drain moves nothing and says drained.  A file moved off hb,
# updated, is indexed on its new home only.  Then hc is drained while it
# runs, with ha's workers scaled to 0 so that its moves wait: meanwhile
# hc claims nothing, an update of two of its files and deletes through
# its HTTP API of one file and one record are jobs pinned to hc; when
# ha's workers are back, the drain ends, those jobs were pinned to the
# documents' new home, ha, which holds the second versions, not the
# deleted, and everything else; hc's index is empty.  quirectl check is
# clean on each host.  Skipped where Debian's PostgreSQL binaries are
# absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v curl > /dev/null || skip "no curl"

: "${NREC:=2000}"
NFILE=24
HOSTS="ha hb hc"

pg_start
pg_db

for h in $HOSTS; do
	host $h
	# Every hit rescored (no query here has 1000): a move changes
	# the order of hits of equal BM25, and with them which of them a
	# smaller window would give their bonus.
	write_conf "listen 127.0.0.1:0" "workers 2" "min-workers 0" \
	    "merge no" "queue-backend postgresql" "queue-dsn $DSN" \
	    "host-name $h" "host-expiry 60s" "rank-window 1000"
done
hctl ha db init > /dev/null || fail "db init"

# idle: no job left to run on the shared queue.
idle() {
	hctl ha status --json | jq -e '.jobs.ready == 0 and
	    .jobs.leased == 0 and .jobs.retry == 0' > /dev/null
}
stopped() {
	! test -e "$T/$1/quired.pid"
}
port_of() {
	grep -o "http: listening on 127.0.0.1:[0-9]*" "$T/$1/quired.log" |
	    tail -1 | sed 's/.*://'
}
# ids H WORD: the ids of the documents of H's index with WORD, sorted.
ids() {
	"$QUIRECTL" -D "$T/$1/data" search --json --no-typos -n 10000 "$2" \
	    > "$T/$1.hits" || fail "search on $1: $(cat "$T/$1.hits")"
	jq -r '.hits[].id' "$T/$1.hits" | sort
}

# The files, on hb alone: f0 to f23, each a title and two sections.
mkdir "$T/files"
i=0
while [ $i -lt $NFILE ]; do
	printf '# File %d\n\nfilerec uniqf%d apple cedar.\n\n%s\n\n%s %d, %s\n' \
	    $i $i "## Part two" "berry words of file" $i "and fox." \
	    > "$T/files/f$i.md"
	i=$((i + 1))
done
host hb
start_quired
hctl hb submit "$T/files" > /dev/null || fail "submit the files"
wait_for 30 idle ||
    hfail "files not done: $(hctl hb status --json | jq -c .jobs)"

# The records, through ha, spread over the three.
for h in ha hc; do
	host $h
	start_quired
done
LC_ALL=C awk -v n="$NREC" 'BEGIN { srand(7); split("red green blue", c, " ");
    for (i = 0; i < n; i++) { t = "";
	for (w = 0; w < 25 + i % 20; w++) t = t " w" int(rand() ^ 2 * 3000);
	if (rand() < 0.3) t = t " apple";
	if (rand() < 0.1) t = t " berry cedar";
	if (rand() < 0.05) t = t " the red fox";
	printf "{\"id\":\"d%05d\",\"title\":\"record %d\",", i, i;
	printf "\"color\":\"%s\",\"text\":\"hostrec%s\"}\n", c[i % 3 + 1], t } }' \
    > "$T/d.ndjson"
hctl ha submit --ndjson "$T/d.ndjson" --split 8k > /dev/null ||
    fail "submit the records"
wait_for 120 idle || hfail "records not done: $(hctl ha status --json |
    jq -c .jobs)"
hctl ha status --json | jq -e '.jobs.dead == 0' > /dev/null ||
    hfail "dead letters: $(hctl ha jobs --state dead)"
hctl ha hosts --json > "$T/hosts"
jq -e '[.hosts[] | select(.name == "hb") | .docs > '$NFILE'] == [true] and
    [.hosts[] | .drain] == [null, null, null]' "$T/hosts" > /dev/null ||
    fail "hosts: $(cat "$T/hosts")"
[ "$(qsql "SELECT count(*) FROM quire_docs")" = $((NREC + NFILE)) ] ||
    fail "home records: $(qsql "SELECT home, count(*) FROM quire_docs
    GROUP BY home")"
hbdocs=$(jq '.hosts[] | select(.name == "hb") | .docs' "$T/hosts")

# The search over all hosts, from ha, before.
QUERIES="apple berry w7 uniqf5"
pairs='.hits[] | "\(.id) \(.score_full)"'
allsearch() {
	_n=0
	for q in $QUERIES '"red fox"' 'filerec berry'; do
		hctl ha search --all --json -n 40 -- "$q" > "$T/a.json" ||
		    fail "search --all $q"
		jq -e '.partial == false' "$T/a.json" > /dev/null ||
		    fail "$q: partial: $(jq -c .hosts "$T/a.json")"
		jq -r "$pairs" "$T/a.json" | sed "s/^/$_n /"
		_n=$((_n + 1))
	done
	hctl ha search --all --json -n 1 --filter color=blue hostrec \
	    > "$T/a.json" || fail "search --all --filter"
	echo "filter $(jq -r .total "$T/a.json")"
}
allsearch > "$T/before"
[ "$(grep -c . "$T/before")" -gt 150 ] ||
    fail "few hits before: $(wc -l < "$T/before")"
grep -q "^filter [1-9]" "$T/before" || fail "filter: $(tail -1 "$T/before")"

# hb stopped, then drained from its data directory.  One of its
# records has no home record, as a document indexed before the queue
# was shared: its move makes one.
kill -TERM "$(cat "$T/hb/quired.pid")"
wait_for 30 stopped hb || fail "hb did not stop"
legacy=$(qsql "DELETE FROM quire_docs WHERE ctid = (SELECT ctid FROM
    quire_docs WHERE home = 'hb' AND convert_from(extid, 'UTF8') LIKE 'd%'
    LIMIT 1) RETURNING convert_from(extid, 'UTF8')")
[ -n "$legacy" ] || fail "no record of hb's to drop"
t0=$(now_ms)
hctl hb host drain hb > "$T/drain" 2>&1 ||
    hfail "host drain hb: $(cat "$T/drain")"
grep -q "^host drain hb: draining .* $hbdocs documents in its index" \
    "$T/drain" &&
    grep -q "^host drain hb: drained: $hbdocs documents moved" "$T/drain" ||
    fail "host drain hb said: $(cat "$T/drain")"
echo "pgdrain: in $(($(now_ms) - t0)) ms, $(tail -1 "$T/drain")"
hctl ha hosts --json > "$T/hosts"
jq -e '.hosts[] | select(.name == "hb") | .drain == "drained" and
    .docs == 0 and .leased == 0 and .state == "stopped"' "$T/hosts" \
    > /dev/null || fail "hosts after the drain: $(cat "$T/hosts")"
hctl ha hosts | grep -q "^hb  *stopped .* drained " ||
    fail "hosts: $(hctl ha hosts)"
[ "$(qsql "SELECT count(*) FROM quire_docs WHERE home = 'hb'")" = 0 ] ||
    fail "hb is still a home"
case $(qsql "SELECT convert_from(home, 'UTF8') FROM quire_docs WHERE
    extid = convert_to('$legacy', 'UTF8')") in
ha|hc)	;;
*)	fail "$legacy has no new home" ;;
esac
"$QUIRECTL" -D "$T/hb/data" check > "$T/check" ||
    fail "check on hb: $(cat "$T/check")"
grep -q "^index sound: 0 documents, 0 chunks, .* 0 dead chunks" \
    "$T/check" || fail "hb's index: $(cat "$T/check")"

# Exactly once: every record and file in one of ha's and hc's indexes.
for h in $HOSTS; do
	ids $h hostrec > "$T/$h.ids"
	ids $h filerec >> "$T/$h.ids"
done
[ ! -s "$T/hb.ids" ] || fail "hb still finds $(wc -l < "$T/hb.ids")"
{ awk '{ print "d" sprintf("%05d", NR - 1) }' "$T/d.ndjson"
  ls "$T/files" | sed "s|^|$T/files/|"; } | sort > "$T/want"
sort "$T/ha.ids" "$T/hc.ids" > "$T/all"
cmp -s "$T/want" "$T/all" ||
    fail "ids: $(comm -23 "$T/want" "$T/all" | wc -l) missing," \
    "$(uniq -d "$T/all" | wc -l) twice, first twice:" \
    "$(uniq -d "$T/all" | head -3 | tr '\n' ' ')"

# The same hits and scores over all hosts: rank by rank the same
# score, each hit's score the same, and the same hits above the last
# score (hits of equal scores rank by the age of their chunks on their
# hosts, which a move changes, so the last ones may be others).
allsearch > "$T/after"
[ "$(wc -l < "$T/before")" = "$(wc -l < "$T/after")" ] ||
    fail "$(wc -l < "$T/after") hits after, $(wc -l < "$T/before") before"
awk '
    function near(a, b) { d = a - b; if (d < 0) d = -d; return d <= 1e-6 * a }
    $1 == "filter" { f[FILENAME] = $2; next }
    FILENAME == ARGV[1] { n0[$1]++; s0[$1, n0[$1]] = $3; b[$1, $2] = $3;
	last[$1] = $3; next }
    { n1[$1]++; if (!near(s0[$1, n1[$1]], $3)) { print "query " $1 \
	" rank " n1[$1] ": score " $3 ", was " s0[$1, n1[$1]]; bad = 1 }
      if (($1, $2) in b) { if (!near(b[$1, $2], $3)) { print $2 \
	" scores " $3 ", was " b[$1, $2]; bad = 1 } }
      else if (!near(last[$1], $3)) { print "query " $1 ": " $2 \
	" is new, scoring " $3; bad = 1 } }
    END { if (f[ARGV[1]] != f[ARGV[2]]) { print "filter: " f[ARGV[2]] \
	", was " f[ARGV[1]]; bad = 1 } exit bad }' "$T/before" "$T/after" >&2 ||
    fail "the search over all hosts changed"

# Run again: nothing to move, drained.
hctl hb host drain hb > "$T/drain" 2>&1 || fail "again: $(cat "$T/drain")"
grep -q "^host drain hb: drained: 0 documents moved" "$T/drain" ||
    fail "host drain hb again said: $(cat "$T/drain")"

# A moved file, updated: on its new home only.
f3=$T/files/f3.md
home3=$(qsql "SELECT convert_from(home, 'UTF8') FROM quire_docs WHERE
    extid = convert_to('$f3', 'UTF8')")
case $home3 in
ha|hc)	;;
*)	fail "f3's home: $home3" ;;
esac
printf '# File 3\n\nfilerec newver of file three.\n' > "$f3"
hctl hc submit "$f3" > /dev/null || fail "submit f3 again"
wait_for 30 idle || hfail "f3's update not done"
for h in ha hc; do
	want=
	[ $h = "$home3" ] && want=$f3
	[ "$(ids $h newver)" = "$want" ] ||
	    fail "newver on $h: $(ids $h newver), f3's home is $home3"
	[ -z "$(ids $h uniqf3)" ] || fail "f3's first version on $h"
done

# hc drained while it runs, its documents changed meanwhile: ha's
# workers are off, so that the moves wait for them.  First some files
# of hc's own, g0 to g3, indexed there alone.
hctl ha scale 0 > /dev/null || fail "scale ha to 0"
wait_for 20 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' status --json |
    jq -e '.fleet.running == 0'" || fail "ha's workers still run"
for i in 0 1 2 3; do
	printf '# G %d\n\nfilerec uniqg%d plums.\n' $i $i > "$T/files/g$i.md"
done
hctl hc submit "$T"/files/g?.md > /dev/null || fail "submit g*"
wait_for 30 idle || hfail "g* not done"
upd1=$T/files/g0.md
upd2=$T/files/g1.md
delf=$T/files/g2.md
delr=$(qsql "SELECT convert_from(extid, 'UTF8') FROM quire_docs WHERE
    home = 'hc' AND convert_from(extid, 'UTF8') LIKE 'd%' LIMIT 1")
[ "$(qsql "SELECT count(*) FROM quire_docs WHERE home = 'hc' AND
    convert_from(extid, 'UTF8') LIKE '$T/files/g%'")" = 4 ] ||
    fail "g* not on hc"
hctl hc host drain hc > "$T/drain" 2>&1 &
dpid=$!
wait_for 30 grep -q "moves enqueued" "$T/drain" ||
    hfail "no moves from hc: $(cat "$T/drain")"

for f in "$upd1" "$upd2"; do
	printf '# Updated\n\nfilerec secondver of %s.\n' "$(basename "$f")" \
	    > "$f"
done
hctl hc submit "$upd1" "$upd2" > /dev/null || fail "submit the updates"
HPORT=$(port_of hc)
for id in "$delf" "$delr"; do
	http_is 202 DELETE "/v1/documents/$(jq -rn --arg s "$id" '$s | @uri')"
	[ "$(body .home)" = hc ] || fail "delete $id: $(cat "$T/hbody")"
done
# Pinned to hc, which drains and claims none of them.
pinned() {
	[ "$(qsql "SELECT count(*) FROM quire_jobs WHERE home = 'hc' AND
	    state = 0")" = "$1" ]
}
pinned 4 || fail "pinned to hc: $(qsql "SELECT id, srckind, state,
    convert_from(home, 'UTF8') FROM quire_jobs WHERE state <> 3")"
sleep 1
pinned 4 || fail "hc claimed: $(qsql "SELECT id, srckind, state FROM
    quire_jobs WHERE home = 'hc'")"
hctl ha hosts --json | jq -e '.hosts[] | select(.name == "hc") |
    .drain == "draining" and .state == "live"' > /dev/null ||
    fail "hc not draining: $(hctl ha hosts)"
kill -0 $dpid || fail "the drain of hc ended early: $(cat "$T/drain")"
expect_exit 1 hctl ha host undrain hc
grep -q "its drain has not ended" "$T/err" || fail "undrain hc: $(cat "$T/err")"

hctl ha scale 2 > /dev/null || fail "scale ha to 2"
wait $dpid || hfail "host drain hc: $(cat "$T/drain")"
grep -q "^host drain hc: drained: " "$T/drain" ||
    fail "host drain hc said: $(cat "$T/drain")"
echo "pgdrain: $(tail -1 "$T/drain")"
wait_for 30 idle || hfail "the pinned jobs not done: $(hctl ha status \
    --json | jq -c .jobs)"
hctl ha status --json | jq -e '.jobs.dead == 0' > /dev/null ||
    hfail "dead letters: $(hctl ha jobs --state dead)"
[ "$(qsql "SELECT DISTINCT convert_from(home, 'UTF8') FROM quire_docs")" = \
    ha ] || fail "homes: $(qsql "SELECT home, count(*) FROM quire_docs
    GROUP BY home")"
[ "$(qsql "SELECT count(*) FROM quire_docs")" = $((NREC + NFILE + 2)) ] ||
    fail "home records: $(qsql "SELECT count(*) FROM quire_docs")"

for h in $HOSTS; do
	hctl $h check > "$T/check" 2>&1 || fail "check on $h: $(cat "$T/check")"
done
[ -z "$(ids hc hostrec)$(ids hc filerec)" ] || fail "hc still holds some"
ids ha hostrec > "$T/ha.ids"
ids ha filerec >> "$T/ha.ids"
sort -o "$T/ha.ids" "$T/ha.ids"
printf '%s\n%s\n' "$delf" "$delr" | sort > "$T/gone"
{ ls "$T"/files/g?.md; cat "$T/want"; } | sort | comm -23 - "$T/gone" \
    > "$T/want2"
cmp -s "$T/want2" "$T/ha.ids" ||
    fail "ha: $(comm -23 "$T/want2" "$T/ha.ids" | wc -l) missing," \
    "$(comm -13 "$T/want2" "$T/ha.ids" | tr '\n' ' ') unexpected"
[ "$(ids ha secondver | tr '\n' ' ')" = "$(printf '%s\n%s\n' "$upd1" \
    "$upd2" | sort | tr '\n' ' ')" ] ||
    fail "second versions on ha: $(ids ha secondver)"
for f in "$upd1" "$upd2" "$delf"; do
	n=$(basename "$f" .md)
	[ -z "$(ids ha "uniq$n")" ] || fail "first version of $f on ha"
done
# hb back in service: drained, it may claim jobs again.
hctl ha host undrain hb > "$T/out" || fail "undrain hb"
grep -q "^host undrain hb: it claims jobs again" "$T/out" ||
    fail "undrain hb said: $(cat "$T/out")"
hctl ha hosts --json | jq -e '[.hosts[] | .drain] == [null, null,
    "drained"]' > /dev/null || fail "hosts, hb undrained: $(hctl ha hosts)"
echo "pgdrain: $NREC records and $NFILE files; hb's $hbdocs moved" \
    "offline, hc's while it ran (2 updates and 2 deletes pinned to it" \
    "meanwhile went to ha)"
exit 0
