#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Several quired hosts on one PostgreSQL queue: three hosts on this
# machine (data directories, host-names and HTTP ports of their own)
# share a private server's database (t/lib.sh's pg_start).  Thousands of
# NDJSON records with unique ids go to the shared queue through one
# host; while they run, one host that holds leases and is the home of
# some records (quirectl hosts counts them) is killed with kill -9 (its
# supervisor's process group: supervisor, workers, merger, http).
# Within host-expiry plus a few seconds another host releases its
# leases, and the work completes; quirectl hosts says the killed host is
# dead, holding nothing, and the others live.  Every record then has one
# home host in the database, and quirectl hosts counts each host's.  The
# killed host may have committed records it never acked, which the host
# that ran their jobs again indexed too and became their home:
# restarted, the killed host deletes exactly those from its index (their
# number, counted from its index read while it was down, is the one it
# logs), and its merger then compacts, so that they no longer count in
# its statistics.  A second version of some records, submitted through one host,
# is indexed on each record's home only; a delete through that host's
# HTTP API of records whose home is another host is a job pinned to the
# home (202), of one of its own is done at once (200).  Then, with
# quirectl check clean on each host, each index is read directly: every
# submitted id that was not deleted is in exactly one index; the second
# versions are on their homes, and no index finds the first versions'
# words.  Skipped where Debian's PostgreSQL binaries are absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${NREC:=4000}"
HOSTS="ha hb hc"
EXPIRY_S=3

pg_start
pg_db

# hconf H: host H's configuration, in $T/H.
hconf() {
	mkdir -p "$T/$1"
	cat > "$T/$1/quired.conf" <<-EOC
	datadir $T/$1/data
	pidfile $T/$1/quired.pid
	log-file $T/$1/quired.log
	debug-jobs yes
	listen 127.0.0.1:0
	queue-backend postgresql
	queue-dsn $DSN
	host-name $1
	host-expiry ${EXPIRY_S}s
	workers 2
	claim-batch 2
	EOC
}

for h in $HOSTS; do
	hconf "$h"
done
hctl ha db init > /dev/null || fail "db init"
for h in $HOSTS; do
	"$QUIRED" -f "$T/$h/quired.conf" || hfail "quired $h did not start"
done
for h in $HOSTS; do
	wait_for 10 test -S "$T/$h/data/control.sock" || hfail "no socket $h"
	wait_for 10 sh -c "'$QUIRECTL' -f '$T/$h/quired.conf' status --json |
	    jq -e '.fleet.running == 2'" || hfail "no workers on $h"
done

# Each host registered itself, with its HTTP address as bound.
wait_for 10 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' hosts --json |
    jq -e '[.hosts[] | select(.state == \"live\")] | length == 3'" ||
    hfail "hosts: $(hctl ha hosts)"
hctl hb hosts --json > "$T/hosts"
for h in $HOSTS; do
	port=$(grep -o "http: listening on 127.0.0.1:[0-9]*" \
	    "$T/$h/quired.log" | head -1 | sed 's/.*://')
	jq -e --arg h "$h" --arg a "127.0.0.1:$port" '.hosts[] |
	    select(.name == $h) | .http == $a' "$T/hosts" > /dev/null ||
	    fail "host $h: $(cat "$T/hosts")"
done
jq -e '[.hosts[] | select(.self)] | map(.name) == ["hb"]' "$T/hosts" \
    > /dev/null || fail "hosts: self: $(cat "$T/hosts")"
hctl hc status | grep -q "^queue: postgresql, .*dbname quiredb.*; this host hc$" ||
    fail "status on hc: $(hctl hc status | grep queue)"

# The records: id hN, the word uniqN, a word all share, and some text
# so that a range takes a while.
awk -v n="$NREC" 'BEGIN { srand(11); for (i = 0; i < n; i++) { s = "";
	for (w = 0; w < 120; w++) s = s " w" int(rand() ^ 2 * 40000);
	printf "{\"id\":\"h%d\",\"text\":\"hostrec uniq%d%s\"}\n", i, i, s } }' \
    > "$T/h.ndjson"
hctl ha submit --ndjson "$T/h.ndjson" --split 4k > "$T/submit" ||
    fail "submit: $(cat "$T/submit")"
njobs=$(sed -n 's/^submitted \([0-9]*\) jobs.*/\1/p' "$T/submit")
[ "${njobs:-0}" -gt 50 ] || fail "submit said: $(cat "$T/submit")"

# The victim: hb, once it holds leases and is the home of some records.
wait_for 30 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' hosts --json |
    jq -e '.hosts[] | select(.name == \"hb\") | .leased > 0 and .docs > 0'" ||
    hfail "hb never held a lease: $(hctl ha hosts)"
sv=$(cat "$T/hb/quired.pid")
kill -KILL "-$sv" || fail "kill -9 of hb's process group"
tk=$(now_ms)
wait_for 5 pid_gone "$sv" || fail "hb's supervisor still there"
hctl ha hosts --json > "$T/hosts"
held=$(jq '.hosts[] | select(.name == "hb") | .leased' "$T/hosts")
all=$(hctl ha status --json | jq .jobs)
echo "pghosts: killed hb holding $held leases; jobs $(echo "$all" | jq -c .)"

# Its leases go back within host-expiry and a few seconds.
wait_for $((EXPIRY_S + 10)) sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' \
    hosts --json | jq -e '.hosts[] | select(.name == \"hb\") |
    .leased == 0 and .state == \"dead\"'" ||
    hfail "hb's leases not released: $(hctl ha hosts)"
echo "pghosts: released after $(($(now_ms) - tk)) ms"
grep -q "hosts: hb silent past host-expiry" "$T/ha/quired.log" \
    "$T/hc/quired.log" || [ "$held" = 0 ] ||
    hfail "no host says it released hb's leases"

# The work completes on the others.
wait_for 120 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' status --json |
    jq -e '.jobs.done == $njobs'" ||
    hfail "not all done: $(hctl ha status --json | jq -c .jobs)"
hctl ha status --json | jq -e '.jobs.dead == 0 and .jobs.leased == 0 and
    .jobs.ready == 0 and .jobs.retry == 0' > /dev/null ||
    fail "jobs: $(hctl ha status --json | jq -c .jobs)"

hctl hc hosts --json > "$T/hosts"
jq -e '(.hosts[] | select(.name == "hb") | .state == "dead") and
    ([.hosts[] | select(.state == "live")] | map(.name) == ["ha", "hc"])' \
    "$T/hosts" > /dev/null || fail "hosts after the kill: $(cat "$T/hosts")"
hctl hc hosts | grep -q "^hb  *dead " || fail "hosts: $(hctl hc hosts)"

# Every record has one home, the host whose ack recorded it.
[ "$(qsql "SELECT count(*) FROM quire_docs")" = "$NREC" ] ||
    fail "home records: $(qsql "SELECT count(*) FROM quire_docs")"
qsql "SELECT convert_from(extid, 'UTF8') || ' ' ||
    convert_from(home, 'UTF8') FROM quire_docs" | sort > "$T/homes"
awk '{ print $2 }' "$T/homes" | sort -u | tr '\n' ' ' |
    grep -Eq '^(ha |hb |hc )+$' || fail "homes: $(cut -d' ' -f2 "$T/homes" |
    sort | uniq -c)"
# quirectl hosts counts them.
hctl ha hosts --json > "$T/hosts"
for h in $HOSTS; do
	[ "$(jq --arg h "$h" '.hosts[] | select(.name == $h) | .docs' \
	    "$T/hosts")" = "$(awk -v h="$h" '$2 == h' "$T/homes" | wc -l)" ] ||
	    fail "hosts: docs of $h: $(cat "$T/hosts")"
done

# hb's index, read while it is down: what it committed and never acked,
# indexed again by the host that ran the job after the expiry, has
# another home; hb's start deletes exactly those.
"$QUIRECTL" -D "$T/hb/data" search --json -n 10000 hostrec \
    > "$T/hb.hits" || fail "search on hb: $(cat "$T/hb.hits")"
jq -r '.hits[].id' "$T/hb.hits" | sort > "$T/hb.before"
awk '$2 != "hb" { print $1 }' "$T/homes" | sort > "$T/nothb"
foreign=$(comm -12 "$T/hb.before" "$T/nothb" | wc -l)
"$QUIRED" -f "$T/hb/quired.conf" || hfail "quired hb did not start again"
wait_for 20 grep -q "home: [0-9]* documents of this index have their home" \
    "$T/hb/quired.log" || hfail "hb did not reconcile its index"
deleted=$(sed -n 's/.*home: \([0-9]*\) documents of this index.*/\1/p' \
    "$T/hb/quired.log" | tail -1)
[ "$deleted" = "$foreign" ] ||
    hfail "hb deleted $deleted documents at start, not $foreign"
# Their postings are then merged out (the merger compacts), so that
# they no longer count in hb's statistics: none of its chunks is dead.
if [ "$deleted" -gt 0 ]; then
	wait_for 60 grep -q "merge: compacted after $deleted documents" \
	    "$T/hb/quired.log" || hfail "hb's merger did not compact"
	hctl hb check > "$T/hb.check" || fail "check hb: $(cat "$T/hb.check")"
	grep -q ' 0 dead chunks$' "$T/hb.check" ||
	    fail "hb after its compaction: $(cat "$T/hb.check")"
fi
wait_for 10 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' hosts --json |
    jq -e '[.hosts[] | select(.state == \"live\")] | length == 3'" ||
    hfail "hb not live again: $(hctl ha hosts)"

# A second version of some records, submitted through hc, is indexed on
# each record's home alone: the records whose home is another host
# than the one that claims their range go there as jobs of their own.
# Every 133rd, and one of hb's (back from the dead).
{ awk 'NR % 133 == 1 { print $1 }' "$T/homes"
  awk '$2 == "hb" { print $1; exit }' "$T/homes"; } | sort -u > "$T/upd"
awk '{ printf "{\"id\":\"%s\",\"text\":\"hostrec newver of %s\"}\n", $1,
    $1 }' "$T/upd" > "$T/v2.ndjson"
# Their first versions' own words (uniqN), each in one index now.
old=$(sed 's/^h/uniq/' "$T/upd" | awk '{ printf "%s%s",
    (NR > 1 ? " OR " : ""), $1 }')
n=0
for h in $HOSTS; do
	k=$(hctl "$h" search --json --no-typos -n 1000 "$old" |
	    jq '.hits | length') || fail "search on $h"
	n=$((n + k))
done
[ "$n" = "$(wc -l < "$T/upd")" ] ||
    fail "first versions: $n hits over the hosts, not $(wc -l < "$T/upd")"
hctl hc submit --ndjson "$T/v2.ndjson" > "$T/submit" ||
    fail "submit v2: $(cat "$T/submit")"
# The delete of records whose home is not hc, through hc's HTTP API:
# a job pinned to the home, 202; one of hc's own goes at once, 200.
HPORT=$(grep -o "http: listening on 127.0.0.1:[0-9]*" "$T/hc/quired.log" |
    tail -1 | sed 's/.*://')
{ awk 'NR % 133 == 60 && $2 != "hc" { print $1, $2 }' "$T/homes" | head -6
  awk '$2 == "hb" && ++n == 2 { print $1, $2 }' "$T/homes"; } |
    awk 'NR == FNR { u[$1] = 1; next } !($1 in u)' "$T/upd" - |
    sort -u > "$T/del"
[ "$(wc -l < "$T/del")" -ge 3 ] || fail "few records to delete: $(cat "$T/del")"
while read -r id home; do
	http_is 202 DELETE "/v1/documents/$id"
	[ "$(body .home)" = "$home" ] && [ "$(body .job)" -gt 0 ] ||
	    fail "delete $id: $(cat "$T/hbody")"
done < "$T/del"
own=$(awk 'NR % 133 == 70 && $2 == "hc" { print $1; exit }' "$T/homes")
[ -n "$own" ] || fail "no record of hc's to delete"
http_is 200 DELETE "/v1/documents/$own"
http_is 404 DELETE "/v1/documents/nosuchrecord"
wait_for 60 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' status --json |
    jq -e '.jobs.ready == 0 and .jobs.leased == 0 and .jobs.retry == 0'" ||
    hfail "updates not done: $(hctl ha status --json | jq -c .jobs)"
hctl ha status --json | jq -e '.jobs.dead == 0' > /dev/null ||
    hfail "dead letters: $(hctl ha jobs --state dead)"
grep -q "documents whose home is another host" "$T"/h?/quired.log ||
    hfail "no record of v2 went to its home host"
inlist=$(awk '{ printf "%s\047%s\047", (NR > 1 ? "," : ""), $1 }' "$T/del")
[ -z "$(qsql "SELECT 1 FROM quire_docs WHERE
    convert_from(extid, 'UTF8') IN ($inlist)")" ] ||
    fail "deleted records keep a home record"

# Who holds what: each host is checked and stopped; then each index is
# read directly.
for h in $HOSTS; do
	hctl "$h" check > "$T/check" || fail "check on $h: $(cat "$T/check")"
done
for h in $HOSTS; do
	kill -TERM "$(cat "$T/$h/quired.pid")"
done
for h in $HOSTS; do
	wait_for 30 sh -c "! test -e '$T/$h/quired.pid'" || fail "$h did not stop"
done
hctl ha hosts --json | jq -e '[.hosts[] | .state] ==
    ["stopped", "stopped", "stopped"]' > /dev/null ||
    fail "hosts after stop: $(hctl ha hosts)"

# hsearch H QUERY: the ids of the hits of H's index, sorted.
hsearch() {
	"$QUIRECTL" -D "$T/$1/data" search --json --no-typos -n 10000 "$2" \
	    > "$T/$1.hits" || fail "search on $1: $(cat "$T/$1.hits")"
	jq -r '.hits[].id' "$T/$1.hits" | sort
}

# Exactly once: every submitted id not deleted, in one index.
for h in $HOSTS; do
	hsearch "$h" hostrec > "$T/$h.ids"
	[ "$(sort -u "$T/$h.ids" | wc -l)" = "$(wc -l < "$T/$h.ids")" ] ||
	    fail "an id twice on $h"
done
cut -d' ' -f1 "$T/del" | sort > "$T/gone"
echo "$own" >> "$T/gone"
sort -o "$T/gone" "$T/gone"
awk '{ print "h" NR - 1 }' "$T/h.ndjson" | sort | comm -23 - "$T/gone" \
    > "$T/want"
sort "$T/ha.ids" "$T/hb.ids" "$T/hc.ids" > "$T/all"
cmp -s "$T/want" "$T/all" ||
    fail "ids: $(comm -23 "$T/want" "$T/all" | wc -l) missing," \
    "$(uniq -d "$T/all" | wc -l) on two hosts (first:" \
    "$(uniq -d "$T/all" | head -3 | tr '\n' ' ')), " \
    "$(comm -13 "$T/want" "$T/all" | sort -u | wc -l) unknown"
[ -s "$T/ha.ids" ] && [ -s "$T/hc.ids" ] ||
    fail "a live host indexed nothing: $(wc -l "$T"/h?.ids)"

# The second versions: on their homes only; the first ones nowhere.
for h in $HOSTS; do
	hsearch "$h" newver > "$T/$h.v2"
	awk -v h="$h" 'NR == FNR { u[$1] = 1; next } ($1 in u) && $2 == h {
	    print $1 }' "$T/upd" "$T/homes" | sort > "$T/$h.v2want"
	cmp -s "$T/$h.v2" "$T/$h.v2want" ||
	    fail "second versions on $h: $(tr '\n' ' ' < "$T/$h.v2"), not" \
	    "$(tr '\n' ' ' < "$T/$h.v2want")"
	[ -z "$(hsearch "$h" "$old")" ] ||
	    fail "first versions still on $h: $(hsearch "$h" "$old" | head -3)"
done
echo "pghosts: $NREC records in $njobs jobs: ha $(wc -l < "$T/ha.ids")," \
    "hb $(wc -l < "$T/hb.ids"), hc $(wc -l < "$T/hc.ids");" \
    "$deleted of hb's records had another home, deleted at its start;" \
    "$(wc -l < "$T/upd") updated on their homes" \
    "($(for h in $HOSTS; do echo "$h $(wc -l < "$T/$h.v2")"; done |
    paste -sd ' '))," \
    "$(wc -l < "$T/gone") deleted"
exit 0
