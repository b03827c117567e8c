#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A search over all hosts of a shared queue asks the hosts its registry
# lists, with no search-peer lines: three quired hosts h1, h2 and h3
# (data directories, host-names and HTTP ports of their own) on one
# PostgreSQL database (t/lib.sh's pg_start), and a fourth, D, on LMDB,
# which indexes every record as the reference.  Each host indexes one
# share of the records: the hosts run one after another, each alone
# with the queue while its share goes through it and is indexed, then
# stopped cleanly (a stopped host is no host to search), so which host
# holds which record is known; then all three run.  The words are
# spread very unevenly over the shares, so that scores summed wrongly
# would show.  On each host, `quirectl search --all --json` and GET
# /v1/search?all=1 give D's ids in D's order and D's scores within 1e-6
# relative; a word only h2 holds is found from h3.  status (text and
# --json) and /v1/status list the three hosts live; /healthz is 200,
# no host missing.  Then h2's process group is killed with kill -9:
# after host-expiry, the search on the others is partial, names h2 in
# missing_hosts (dead, not asked), and still gives their own hits;
# status, hosts and /healthz (still 200) say h2 is dead.  Last, the
# database stopped: /healthz says 503 and why, status says the database
# does not answer, and a search over all hosts is refused (503).
# Skipped where Debian's PostgreSQL binaries are absent.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v curl > /dev/null || skip "no curl"

HOSTS="h1 h2 h3"
EXPIRY_S=3
NSHARE=300

pg_start
pg_db


for h in $HOSTS; do
	host $h
	write_conf "listen 127.0.0.1:0" "workers 1" "min-workers 1" \
	    "merge no" "queue-backend postgresql" "queue-dsn $DSN" \
	    "host-name $h" "host-expiry ${EXPIRY_S}s"
done
host D
write_conf "workers 1" "min-workers 1" "merge no"
hctl h1 db init > /dev/null || fail "db init"

# 900 records, r00000 to r00899, 300 a share (h1, h2, h3).  Each word's
# share of records differs between the shares: "apple" is common in
# h1's and rare in h2's, "berry" the other way, "onlyb" is in four of
# h2's only, "red fox" a phrase in some.
LC_ALL=C awk -v dir="$T" -v ns="$NSHARE" 'BEGIN { srand(5);
    split("0.6 0.03 0.2", pa, " "); split("0.04 0.5 0.1", pb, " ");
    split("0.3 0.3 0.05", pc, " ");
    for (i = 0; i < 3 * ns; i++) {
	s = int(i / ns) + 1; t = "";
	n = 5 + int(rand() * 60);
	for (w = 0; w < n; w++) t = t " f" int(rand() * 500);
	for (k = int(rand() * 3); k >= 0; k--) {
		if (rand() < pa[s]) t = t " apple";
		if (rand() < pb[s]) t = t " berry";
		if (rand() < pc[s]) t = t " cedar";
	}
	if (rand() < 0.15) t = t " the red fox ran";
	if (s == 2 && i % 75 == 7) t = t " onlyb";
	printf "{\"id\":\"r%05d\",\"title\":\"record %d\",\"text\":\"%s\"}\n",
	    i, i, t > (dir "/h" s ".ndjson") } }'

docs_are() {
	[ "$(hctl "$1" status --json | jq -r .index.documents)" = "$2" ]
}
stopped() {
	! test -e "$T/$1/quired.pid"
}

# One host at a time takes its share: alone on the queue, it indexes
# all of it; it stops cleanly before the next one starts (h3 runs on).
for h in $HOSTS; do
	host $h
	start_quired
	hctl $h submit --ndjson "$T/$h.ndjson" > /dev/null ||
	    fail "submit to $h"
	wait_for 60 docs_are $h $NSHARE || fail "$h indexed $(hctl $h \
	    status --json | jq .index.documents) of $NSHARE"
	[ $h = h3 ] && break
	kill -TERM "$(cat "$PIDFILE")"
	wait_for 30 stopped $h || fail "$h did not stop"
done
hctl h3 hosts --json | jq -e '[.hosts[] | .state] ==
    ["stopped", "stopped", "live"]' > /dev/null ||
    fail "hosts: $(hctl h3 hosts)"
for h in h1 h2; do
	host $h
	start_quired
done
wait_for 10 sh -c "'$QUIRECTL' -f '$T/h1/quired.conf' hosts --json |
    jq -e '[.hosts[] | select(.state == \"live\")] | length == 3'" ||
    fail "hosts: $(hctl h1 hosts)"

# D takes every share in the order of the ids, one at a time, so that
# its ties (to the older chunk) fall as the merge's (to the lesser id).
host D
start_quired
n=0
for h in $HOSTS; do
	ctl submit --ndjson "$T/$h.ndjson" > /dev/null || fail "submit to D"
	n=$((n + NSHARE))
	wait_for 60 status_is .index.documents $n ||
	    fail "D indexed $(status_json .index.documents) of $n"
done

# Each host's HTTP port, from the registry (what the search asks).
hctl h1 hosts --json > "$T/hosts"
for h in $HOSTS; do
	a=$(jq -r --arg h $h '.hosts[] | select(.name == $h) | .http' \
	    "$T/hosts")
	case $a in
	127.0.0.1:[0-9]*)	eval "PORT_$h=\${a#127.0.0.1:}" ;;
	*)			fail "$h: no HTTP address: $(cat "$T/hosts")" ;;
	esac
done

# The hits, an id and a score a line.
pairs='.hits[] | "\(.id) \(.score_full)"'
# agree H QUERY: D, --all on H and all=1 on H say the same.
agree() {
	h=$1
	q=$2
	ctl search --json --no-typos -n 20 -- "$q" > "$T/d.json" ||
	    fail "D: search $q"
	jq -r "$pairs" "$T/d.json" > "$T/d"
	[ -s "$T/d" ] || fail "$q: nothing found on D"
	hctl $h search --all --json -n 20 -- "$q" > "$T/a.json" ||
	    fail "$h: search --all $q"
	jq -r "$pairs" "$T/a.json" > "$T/a"
	jq -e --arg h $h '.partial == false and .missing_hosts == [] and
	    ([.hosts[].host] | sort) == (["h1", "h2", "h3"] - [$h] +
	    ["local"] | sort)' "$T/a.json" > /dev/null ||
	    fail "$h: $q: not all hosts: $(jq -c .hosts "$T/a.json")"
	eval "HPORT=\$PORT_$h"
	http_is 200 GET \
	    "/v1/search?all=1&n=20&q=$(jq -rn --arg s "$q" '$s | @uri')"
	jq -r "$pairs" "$T/hbody" > "$T/h"
	body '.partial' | grep -qx false || fail "$h: $q: all=1 partial"
	for got in a h; do
		paste -d ' ' "$T/d" "$T/$got" | awk -v q="$q" -v w="$h $got" '
		    { if ($1 != $3) { print q ": " w " has " $3 \
			" where D has " $1 " (rank " NR ")"; bad = 1; exit }
		      d = $2 - $4; if (d < 0) d = -d;
		      if (d > 1e-6 * $2) { print q ": " $1 " scores " $4 \
			" on " w ", " $2 " on D"; bad = 1; exit } }
		    END { exit bad }' >&2 || fail "$h: $q: the answers differ"
		[ "$(wc -l < "$T/d")" = "$(wc -l < "$T/$got")" ] ||
		    fail "$q: $(wc -l < "$T/$got") hits on $h $got," \
		    "$(wc -l < "$T/d") on D"
	done
}
host D
for q in apple berry cedar "apple OR berry" "berry cedar" '"red fox"' \
    onlyb; do
	agree h1 "$q"
done
agree h2 apple
agree h3 "berry cedar"

# A word only h2 holds, found from h3: h2's four records.
hctl h3 search --all --json -- onlyb > "$T/a.json"
[ "$(jq -r '[.hits[].id] | sort | join(" ")' "$T/a.json")" = \
    "r00307 r00382 r00457 r00532" ] || fail "onlyb from h3: $(jq -c \
    '[.hits[].id]' "$T/a.json")"
jq -e '.hosts[] | select(.host == "h2") | .hits == 4' "$T/a.json" \
    > /dev/null || fail "onlyb: h2's hits: $(jq -c .hosts "$T/a.json")"

# Status lists the hosts, all live; /healthz names none missing.
hctl h1 status --json > "$T/st"
jq -e '.queue.reachable and .queue.beat_failing == false and
    ([.queue.hosts[] | "\(.name) \(.state) \(.self)"] ==
    ["h1 live true", "h2 live false", "h3 live false"]) and
    ([.queue.hosts[].beat_age_ms] | max) < 1000 * '$EXPIRY_S \
    "$T/st" > /dev/null || fail "status: $(jq -c .queue "$T/st")"
hctl h1 status | grep -q "^hosts: h1 live (beat [0-9.]* s ago, this host), h2 live (beat [0-9.]* s ago), h3 live" ||
    fail "status: $(hctl h1 status | grep -A1 ^queue)"
HPORT=$PORT_h2
http_is 200 GET /v1/status
[ "$(body '[.queue.hosts[].name] | join(" ")')" = "h1 h2 h3" ] ||
    fail "/v1/status: $(jq -c .queue "$T/hbody")"
http_is 200 GET /healthz
[ "$(jq -c . "$T/hbody")" = '{"ok":true,"missing_hosts":[]}' ] ||
    fail "/healthz: $(cat "$T/hbody")"

# h2 dies with its processes.  After host-expiry it is dead: missing
# from a search without being asked, the others' hits still there.
sv=$(cat "$T/h2/quired.pid")
kill -KILL "-$sv" || fail "kill -9 of h2's process group"
wait_for 5 pid_gone "$sv" || fail "h2's supervisor still there"
wait_for $((EXPIRY_S + 10)) sh -c "'$QUIRECTL' -f '$T/h1/quired.conf' \
    hosts --json | jq -e '.hosts[] | select(.name == \"h2\") |
    .state == \"dead\"'" || fail "h2 not dead: $(hctl h1 hosts)"
hctl h1 search --all --json -n 100 apple > "$T/a.json" ||
    fail "search --all with h2 dead"
jq -e '.partial and .missing_hosts == ["h2"] and
    (.hosts[] | select(.host == "h2") | .missing and
    (.error | startswith("dead: no beat for"))) and
    (.hits | length) == 100 and
    ([.hits[].id | ltrimstr("r") | tonumber / '$NSHARE' | floor] |
    unique) == [0, 2]' "$T/a.json" > /dev/null ||
    fail "h2 dead: $(jq -c '{partial, missing_hosts, hosts,
    ids: [.hits[].id]}' "$T/a.json")"
HPORT=$PORT_h3
http_is 200 GET "/v1/search?all=1&n=5&q=onlyb"
[ "$(jq -c '[.partial, .missing_hosts, .hits]' "$T/hbody")" = \
    '[true,["h2"],[]]' ] || fail "all=1 on h3, h2 dead: $(cat "$T/hbody")"
http_is 200 GET "/v1/search?all=1&n=100&q=berry"
[ "$(body '[.hits[].id | ltrimstr("r") | tonumber / '$NSHARE' | floor] |
    unique | join(" ")')" = "0 2" ] || fail "all=1 on h3: $(cat "$T/hbody")"
hctl h3 status --json | jq -e '[.queue.hosts[] | "\(.name) \(.state)"] ==
    ["h1 live", "h2 dead", "h3 live"]' > /dev/null ||
    fail "status on h3: $(hctl h3 status --json | jq -c .queue)"
hctl h3 status | grep -q "^hosts: .*h2 dead (beat [0-9.]* s ago)" ||
    fail "status on h3: $(hctl h3 status | grep ^hosts)"
hctl h1 hosts | grep -q "^h2  *dead " || fail "hosts: $(hctl h1 hosts)"
http_is 200 GET /healthz
[ "$(jq -c . "$T/hbody")" = '{"ok":true,"missing_hosts":["h2"]}' ] ||
    fail "/healthz, h2 dead: $(cat "$T/hbody")"

# The database gone: this host is not healthy, and says why; a search
# over all hosts cannot know them.
pg_stop
wait_for 10 sh -c "curl -s http://127.0.0.1:$PORT_h3/healthz |
    jq -e '.ok == false'" || fail "/healthz with no database:" \
    "$(curl -s "http://127.0.0.1:$PORT_h3/healthz")"
http_is 503 GET /healthz
body .why | grep -q "database" || fail "/healthz: $(cat "$T/hbody")"
hctl h3 status --json | jq -e '.queue.reachable == false and
    .queue.hosts == null and (.queue.error | length > 0)' > /dev/null ||
    fail "status, no database: $(hctl h3 status --json | jq -c .queue)"
http_is 503 GET "/v1/search?all=1&q=apple"
[ "$(body .code)" = hosts_unavailable ] || fail "all=1: $(cat "$T/hbody")"
exit 0
