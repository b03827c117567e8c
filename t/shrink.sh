#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl compact --shrink: refused while quired runs; with it stopped,
# the index's data file loses its free pages (a compact leaves the
# segments' pages free), it and its lock file keep their owner and mode,
# the index passes check and answers every search as before, and
# searches run during the shrink all succeed.  A copy that a shrink
# left behind (index.new) is removed by the next shrink and by quired
# at start.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

records 20000 7
write_conf "workers 2"
start_quired
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"
wait_for 60 sh -c "[ \$(\"$QUIRECTL\" -D '$DATA' status --json |
    jq '.jobs.ready + .jobs.leased + .jobs.retry') = 0 ]" ||
    fail "not done: $(ctl status)"

# Refused while the daemon holds the data directory.
if ctl compact --shrink > "$T/out" 2>&1; then
	fail "a shrink ran beside quired"
fi
grep -q "in use by quired (pid $(quired_pid)); stop it first" "$T/out" ||
    fail "refusal: $(cat "$T/out")"
[ ! -e "$DATA/index.new" ] || fail "the refused shrink left index.new"

sv=$(quired_pid)
kill -TERM "$sv"
wait_for 20 pid_gone "$sv" || fail "quired did not stop"

# What must not change: the total, the scores of the top 20, and which
# documents score above the 20th (among equal scores, the order of
# chunks scored in segments and in blocks may differ).
same='(.hits | map(.score)) as $s | [.total, $s,
    ([.hits[] | select(.score > $s[-1]) | .id] | sort)]'
for w in uniq1 uniq777 w3 w17 "w2*" '"w5 w9"'; do
	ctl search --json --exact -n 20 "$w" | jq -c "$same"
done > "$T/before"
chmod 0604 "$DATA/index/data.mdb"
chmod 0660 "$DATA/index/lock.mdb"
# Run as root, the files of the copy take the index's owner, not root.
if [ "$(id -u)" = 0 ] && id nobody > /dev/null 2>&1; then
	chown -R nobody "$DATA/index"
fi
mode=$(stat -c %a:%u:%g "$DATA/index/data.mdb")
lmode=$(stat -c %a:%u:%g "$DATA/index/lock.mdb")
dmode=$(stat -c %a:%u:%g "$DATA/index")

# A copy left by a shrink cut short goes first.
mkdir "$DATA/index.new"
echo junk > "$DATA/index.new/data.mdb"

# Searches beside the shrink: each finds the index whole, old or new.
(
	i=0
	while [ ! -e "$T/stop" ] && [ $i -lt 2000 ]; do
		"$QUIRECTL" -D "$DATA" search --json uniq5 |
		    jq -e '.hits[0].id == "r5"' > /dev/null ||
		    { echo "search $i failed" > "$T/searchfail"; break; }
		i=$((i + 1))
	done
	echo $i > "$T/searches"
) &
searcher=$!

ctl compact --shrink > "$T/out" 2>&1 || fail "shrink: $(cat "$T/out")"
touch "$T/stop"
wait $searcher
[ ! -e "$T/searchfail" ] || fail "$(cat "$T/searchfail") during the shrink"
line=$(grep '^shrunk: ' "$T/out") || fail "no shrunk line: $(cat "$T/out")"
before=$(echo "$line" | sed 's/^shrunk: \([0-9.]*\) MB to .*/\1/')
after=$(echo "$line" | sed 's/.* MB to \([0-9.]*\) MB$/\1/')
awk -v b="$before" -v a="$after" 'BEGIN { exit !(a < b) }' ||
    fail "not smaller: $line"
[ "$(stat -c %s "$DATA/index/data.mdb")" -le \
    "$(awk -v a="$after" 'BEGIN { printf "%d", a * 1e6 + 1e6 }')" ] ||
    fail "the data file is $(stat -c %s "$DATA/index/data.mdb") bytes"
[ ! -e "$DATA/index.new" ] || fail "index.new left"
[ "$(stat -c %a:%u:%g "$DATA/index/data.mdb")" = "$mode" ] ||
    fail "data.mdb is $(stat -c %a:%u:%g "$DATA/index/data.mdb"), not $mode"
[ "$(stat -c %a:%u:%g "$DATA/index")" = "$dmode" ] ||
    fail "index/ is $(stat -c %a:%u:%g "$DATA/index"), not $dmode"
[ "$(stat -c %a:%u:%g "$DATA/index/lock.mdb")" = "$lmode" ] ||
    fail "lock.mdb is $(stat -c %a:%u:%g "$DATA/index/lock.mdb"), not $lmode"
ctl check > "$T/out" || fail "check after the shrink: $(cat "$T/out")"
for w in uniq1 uniq777 w3 w17 "w2*" '"w5 w9"'; do
	ctl search --json --exact -n 20 "$w" | jq -c "$same"
done > "$T/after"
cmp -s "$T/before" "$T/after" || fail "searches changed: $(diff "$T/before" "$T/after")"

# quired removes what a shrink cut short left, and indexes on.
mkdir "$DATA/index.new"
echo junk > "$DATA/index.new/data.mdb"
start_quired
[ ! -e "$DATA/index.new" ] || fail "quired left index.new"
echo '{"id":"late","text":"latecomer"}' > "$T/late.ndjson"
ctl submit --ndjson "$T/late.ndjson" > /dev/null || fail "submit late"
wait_for 30 sh -c "\"$QUIRECTL\" -D '$DATA' search --json latecomer |
    jq -e '.hits[0].id == \"late\"'" || fail "not indexed after the shrink"
echo "shrink: $line, $(cat "$T/searches") searches beside it"
exit 0
