#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Several quired hosts on one PostgreSQL queue: three hosts on this
# machine (data directories, host-names and HTTP ports of their own)
# share a private server's database (t/lib.sh's pg_start).  Thousands
# of NDJSON records with unique ids go to the shared queue through one
# host; while they run, one host that holds leases is killed with
# kill -9 (its supervisor's process group: supervisor, workers, merger,
# http).  Within host-expiry plus a few seconds another host releases
# its leases, and the work completes.  Then, across hosts: the ids
# searchable on the three indexes together are exactly the submitted
# ones; no id is on two live hosts; an id on the killed host and on a
# live one comes only from a job whose lease the expiry released (the
# killed host may have committed some of its records and not acked:
# without a document's home host, such a record is indexed again
# elsewhere); quirectl check is clean on each live host; quirectl hosts
# says the killed host is dead, holding nothing, and the others live.
# Skipped where Debian's PostgreSQL binaries are absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${NREC:=4000}"
HOSTS="ha hb hc"
EXPIRY_S=3

pg_start
psql_c "CREATE DATABASE quiredb" > /dev/null
DSN="host=$PGDIR user=quire dbname=quiredb"

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

# hctl H ARGS...: quirectl on host H.
hctl() {
	_h=$1
	shift
	"$QUIRECTL" -f "$T/$_h/quired.conf" "$@"
}

hfail() {
	for _h in $HOSTS; do
		echo "--- $_h" >&2
		tail -15 "$T/$_h/quired.log" >&2 2>/dev/null || true
	done
	fail "$@"
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

# The victim: hb, once it holds leases.
wait_for 30 sh -c "'$QUIRECTL' -f '$T/ha/quired.conf' hosts --json |
    jq -e '.hosts[] | select(.name == \"hb\") | .leased > 0'" ||
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

# Who holds what: live hosts are checked and stopped; then each index
# is read directly.
for h in ha hc; do
	hctl "$h" check > "$T/check" || fail "check on $h: $(cat "$T/check")"
done
hctl hc hosts --json > "$T/hosts"
jq -e '(.hosts[] | select(.name == "hb") | .state == "dead") and
    ([.hosts[] | select(.state == "live")] | map(.name) == ["ha", "hc"])' \
    "$T/hosts" > /dev/null || fail "hosts after the kill: $(cat "$T/hosts")"
hctl hc hosts | grep -q "^hb  *dead " || fail "hosts: $(hctl hc hosts)"
for h in ha hc; do
	kill -TERM "$(cat "$T/$h/quired.pid")"
done
for h in ha hc; do
	wait_for 30 sh -c "! test -e '$T/$h/quired.pid'" || fail "$h did not stop"
done
hctl ha hosts --json | jq -e '[.hosts[] | select(.name != "hb") |
    .state] == ["stopped", "stopped"]' > /dev/null ||
    fail "hosts after stop: $(hctl ha hosts)"

for h in $HOSTS; do
	"$QUIRECTL" -D "$T/$h/data" search --json -n 10000 hostrec \
	    > "$T/$h.hits" || fail "search on $h: $(cat "$T/$h.hits")"
	jq -r '.hits[].id' "$T/$h.hits" | sort > "$T/$h.ids"
	[ "$(sort -u "$T/$h.ids" | wc -l)" = "$(wc -l < "$T/$h.ids")" ] ||
	    fail "an id twice on $h"
done
awk '{ print "h" NR - 1 }' "$T/h.ndjson" | sort > "$T/want"
sort -u "$T/ha.ids" "$T/hb.ids" "$T/hc.ids" > "$T/union"
cmp -s "$T/want" "$T/union" ||
    fail "ids: $(comm -23 "$T/want" "$T/union" | wc -l) missing," \
    "$(comm -13 "$T/want" "$T/union" | wc -l) unknown"
[ -z "$(comm -12 "$T/ha.ids" "$T/hc.ids")" ] ||
    fail "on ha and hc: $(comm -12 "$T/ha.ids" "$T/hc.ids" | head -5)"
[ -s "$T/ha.ids" ] && [ -s "$T/hc.ids" ] ||
    fail "a live host indexed nothing: $(wc -l "$T"/h?.ids)"

# The ids of the jobs the expiry released (a crash each), from their
# byte ranges; any id on hb and a live host is one of them.
hctl ha jobs --state done --limit 100000 --json |
    jq -r '.jobs[] | select(.crashes > 0) | "\(.offset) \(.length)"' \
    > "$T/released"
[ "$held" = 0 ] || [ -s "$T/released" ] ||
    fail "hb held $held leases, but no job counts a crash"
awk 'NR == FNR { off[NR] = $1; len[NR] = $2; n = NR; next }
    { for (i = 1; i <= n; i++)
	if (pos >= off[i] && pos < off[i] + len[i]) print "h" FNR - 1
      pos += length($0) + 1 }' "$T/released" "$T/h.ndjson" |
    sort > "$T/maydup"
cat "$T/ha.ids" "$T/hc.ids" | sort > "$T/live.ids"
comm -12 "$T/hb.ids" "$T/live.ids" > "$T/dups"
[ -z "$(comm -23 "$T/dups" "$T/maydup")" ] ||
    fail "on hb and a live host, not from a released job:" \
    "$(comm -23 "$T/dups" "$T/maydup" | head -5)"
echo "pghosts: $NREC records in $njobs jobs: ha $(wc -l < "$T/ha.ids")," \
    "hb $(wc -l < "$T/hb.ids"), hc $(wc -l < "$T/hc.ids");" \
    "$(wc -l < "$T/released") jobs released from hb," \
    "$(wc -l < "$T/dups") of their records indexed on hb and again elsewhere"
exit 0
