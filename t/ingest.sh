#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Exactly once through the text path.  An NDJSON file of NREC records,
# each with its own id and its own word (uniqNNNNN), cut into 64K range
# jobs, and a directory of NFILES small text, markdown and HTML files go
# through two workers that claim one job at a time and commit at most 500
# documents at once, while workers are SIGKILLed in the middle of their
# work, KILLS times.  Afterwards the index is
# sound (quirectl check), no lease is left, the index holds NREC + NFILES
# documents, and each record searched for by its word (200 at random, the
# first and the last) is found once, under its id.  A few bad records in
# the file (not JSON, no text, text not a string, nested too deep, too
# long) are dead letters with their reason codes, one per record however
# often their range ran, and the records around them are indexed.
# Submitting the whole file again with another split adds no document
# and no live chunk; compact then purges the copies; delete removes one.
# The merger folds segments into blocks along the way (merge-fold-size
# 64K), so searches read both.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

NREC=20000
NFILES=50
NBAD=5
: "${SEARCH_SAMPLE:=200}"
SAMPLE=$SEARCH_SAMPLE
KILLS=8

# --- The inputs.  Five bad lines sit between good records, far apart.
deep=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "{\"a\": ";
    printf "1"; for (i = 0; i < 300; i++) printf "}" }')
long=$(awk 'BEGIN { for (i = 0; i < 2000; i++) printf "uniqbad5 " }')
awk -v n=$NREC -v deep="$deep" -v long="$long" 'BEGIN {
	srand(1);
	nw = split("alpha bravo charlie delta echo foxtrot golf hotel " \
	    "india juliet kilo lima mike november oscar papa quebec romeo " \
	    "sierra tango uniform victor whiskey xray yankee zulu", w, " ");
	bad[3000] = "this is not json uniqbad1";
	bad[7000] = "{\"id\": \"bad-notext\", \"title\": \"uniqbad2\"}";
	bad[11000] = "{\"id\": \"bad-numtext\", \"text\": 42, \"x\": \"uniqbad3\"}";
	bad[15000] = "{\"id\": \"bad-deep\", \"text\": \"uniqbad4\", \"x\": " \
	    deep "}";
	bad[19000] = "{\"id\": \"bad-long\", \"text\": \"" long "\"}";
	for (i = 1; i <= n; i++) {
		t = "";
		for (k = 0; k < 40; k++)
			t = t w[int(rand() * nw) + 1] " ";
		printf "{\"id\": \"rec-%05d\", \"title\": \"Record %d\", " \
		    "\"group\": \"g%d\", \"text\": \"%suniq%05d %s\"}\n",
		    i, i, i % 7, t, i, t;
		if (i in bad)
			print bad[i];
	}
}' > "$T/records.ndjson"
[ "$(wc -l < "$T/records.ndjson")" -eq $((NREC + NBAD)) ] ||
    fail "the generated file has $(wc -l < "$T/records.ndjson") lines"
# The offset and reason code each bad line must end with.
grep -b -v '^{"id": "rec-' "$T/records.ndjson" |
    awk -F: '{ r = "parse-error" }
	/"bad-deep"/ { r = "too-deep" }
	/"bad-long"/ { r = "line-too-long" }
	{ print $1, r }' | sort -n > "$T/bad.want"
[ "$(wc -l < "$T/bad.want")" -eq $NBAD ] ||
    fail "bad lines: $(cat "$T/bad.want")"

mkdir "$T/files"
i=1
while [ $i -le $NFILES ]; do
	n=$(printf '%02d' $i)
	case $((i % 3)) in
	0)	printf 'Notes %s\n\nThe filetok%s paragraph of a plain text ' \
		    "$n" "$n" > "$T/files/note-$n.txt"
		echo "file, with some words in common: quire index." \
		    >> "$T/files/note-$n.txt" ;;
	1)	printf '# Guide %s\n\nA markdown file with **filetok%s** ' \
		    "$n" "$n" > "$T/files/guide-$n.md"
		printf 'and a list:\n\n- quire\n- index\n' \
		    >> "$T/files/guide-$n.md" ;;
	2)	printf '<!doctype html>\n<html><head><title>Page %s</title>' \
		    "$n" > "$T/files/page-$n.html"
		printf '</head><body><h1>Page %s</h1><p>An HTML page: ' \
		    "$n" >> "$T/files/page-$n.html"
		printf 'filetok%s, quire, index.</p></body></html>\n' \
		    "$n" >> "$T/files/page-$n.html" ;;
	esac
	i=$((i + 1))
done
FILES=$(cd "$T/files" && pwd -P)	# submit stores resolved paths
REC=$(cd "$T" && pwd -P)/records.ndjson

# search WORD: the JSON answer in $T/hits, with the test's configuration.
search() {
	"$QUIRECTL" -D "$DATA" -f "$CONF" search --json "$1" > "$T/hits" ||
	    fail "search $1 failed"
}

# found_once WORD ID: one hit in all, and it is ID.
found_once() {
	search "$1"
	jq -e --arg id "$2" '.total == 1 and (.hits | length) == 1 and
	    .hits[0].id == $id' "$T/hits" >/dev/null ||
	    fail "$1: not found once as $2: $(cat "$T/hits")"
}

# check_docs: run quirectl check, which must pass; its counts go to
# $idocs and $ichunks.
check_docs() {
	expect_exit 0 ctl check
	set -- $(sed -n \
	    's/^index sound: \([0-9]*\) documents, \([0-9]*\) chunks.*/\1 \2/p' \
	    "$T/out")
	[ $# -eq 2 ] || fail "quirectl check said: $(cat "$T/out")"
	idocs=$1
	ichunks=$2
}

idle() {
	[ "$(status_json '.jobs.ready + .jobs.leased + .jobs.retry')" = 0 ]
}

rand() {
	od -An -N2 -tu2 /dev/urandom | tr -d ' '
}

# --- Phase 1: everything in, through kill -9.  The daemon starts with no
# worker, the jobs are submitted, and two workers are asked for and
# stopped (SIGSTOP), with the merger, as soon as they exist.  Then they
# run in steps of a few milliseconds, stopped in between, and after each
# step a worker that has committed documents, so is in its loop and
# holds a lease, is killed, and its replacement stopped as it starts:
# KILLS kills in the middle of the work however fast the machine is.
# While they are stopped the test reads only /proc and the log (the
# supervisor, or an LMDB reader, may wait for a lock a stopped process
# holds).  Then the rest runs to the end.  Workers stopped for as long as
# a busy machine keeps this script away must not be found hung: only its
# kills count.
write_conf "workers 0" "claim-batch 1" "batch-docs 500" "max-crashes 1000" \
    "max-line 16K" "log-level debug" "merge-fold-size 64K" \
    "hang-timeout 1h" "lease-time 2h"
start_quired
sv=$(quired_pid)
ctl submit --ndjson "$REC" --split 64K > "$T/submit" ||
    fail "submit --ndjson failed"
ctl submit "$T/files" >> "$T/submit" || fail "submit of the files failed"
njobs=$(sed -n 's/^submitted \([0-9]*\) jobs.*/\1/p' "$T/submit" |
    awk '{ n += $1 } END { print n }')
[ "$njobs" -gt $((NFILES + 100)) ] ||
    fail "only $njobs jobs: $(cat "$T/submit")"

# The live children of the supervisor, its workers and the merger, from
# /proc without a process per child.
children() {
	for _p in $(pgrep -P "$sv"); do
		{ read -r _l < "/proc/$_p/stat"; } 2>/dev/null || continue
		_l=${_l##*) }
		case ${_l%% *} in
		Z|X)	;;
		*)	echo "$_p" ;;
		esac
	done
}
# freeze N: stop every child, until there are N of them.
freeze() {
	_i=0
	while :; do
		_c=$(children)
		# shellcheck disable=SC2086
		kill -STOP $_c 2>/dev/null || true
		[ "$(echo $_c | wc -w)" -lt "$1" ] || return 0
		_i=$((_i + 1))
		[ $_i -lt "$2" ] || return 0
		sleep 0.001
	done
}
# Documents committed so far, and the pids of the workers that committed.
committed() {
	sed -n 's/.*: worker [0-9]*: committed \([0-9]*\) documents.*/\1/p' \
	    "$LOG" | awk '{ n += $1 } END { print n + 0 }'
}
committers() {
	sed -n 's/.*worker\[\([0-9]*\)\]: worker [0-9]*: committed .*/\1/p' \
	    "$LOG" | sort -u
}
# If the test fails with the workers stopped, let them go.
trap 'kill -CONT $(children) 2>/dev/null; cleanup' EXIT INT TERM

# Workers inherit the supervisor's nice 19 (and, with autogroup
# scheduling, its session's), so that on a busy machine this script, not
# they, runs when both can.
renice -n 19 -p "$sv" >/dev/null || fail "renice failed"
[ ! -w "/proc/$sv/autogroup" ] || echo 19 > "/proc/$sv/autogroup"
ctl scale 2 >/dev/null || fail "scale 2 failed"
freeze 3 5000		# two workers and the merger
[ "$(children | wc -l)" -eq 3 ] || fail "no workers: $(ctl workers)"
ndocs=$((NREC + NFILES))
: > "$T/killed"
kills=0
rounds=0
still=0
ms=1
last=$(committed)
while [ $kills -lt $KILLS ]; do
	rounds=$((rounds + 1))
	[ $rounds -le 5000 ] || fail "$kills kills in $rounds rounds"
	pids=$(children)
	# shellcheck disable=SC2086
	kill -CONT $pids 2>/dev/null || true
	sleep "$(printf '0.%03d' $ms)"
	# shellcheck disable=SC2086
	kill -STOP $pids 2>/dev/null || true
	freeze 0 1	# a replacement that started meanwhile
	cdocs=$(committed)
	# A worker killed a moment ago may not have died yet: not again.
	children | sort | comm -23 - "$T/killed" > "$T/alive"
	committers | comm -12 "$T/alive" - > "$T/ready"
	n=$(wc -l < "$T/ready")
	victim=
	if [ "$n" -gt 0 ]; then
		victim=$(sed -n "$(($(rand) % n + 1))p" "$T/ready")
	fi
	# A worker may have gone on its own since it was listed.
	if [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null; then
		kills=$((kills + 1))
		echo "$victim" >> "$T/killed"
		sort -o "$T/killed" "$T/killed"
		# Stop its replacement as it starts, unless the supervisor
		# waits for a lock a stopped worker holds.
		freeze 3 20
	fi
	# Steps that do nothing grow, steps that do much shrink; after ten
	# steps of nothing, ask the daemon (all running) if work is left.
	if [ "$cdocs" -eq "$last" ]; then
		[ $ms -ge 8 ] || ms=$((ms * 2))
		still=$((still + 1))
	else
		[ $((cdocs - last)) -le $((ndocs / 40)) ] || [ $ms -le 1 ] ||
		    ms=$((ms / 2))
		still=0
	fi
	if [ $still -ge 10 ]; then
		# shellcheck disable=SC2046
		kill -CONT $(children) 2>/dev/null || true
		! idle || fail "the work ran out after $kills kills"
		still=0
	fi
	last=$cdocs
	freeze 0 1
done
# shellcheck disable=SC2046
kill -CONT $(children) 2>/dev/null || true
wait_for 300 idle || fail "jobs did not finish: $(ctl status)"
ctl status --json > "$T/st"
jq -e --argjson n "$njobs" --argjson b $NBAD '.jobs == {"ready": 0,
    "leased": 0, "retry": 0, "done": $n, "dead": $b, "cancelled": 0} and
    .fleet.quarantined == 0' "$T/st" >/dev/null ||
    fail "after $kills kills: $(cat "$T/st")"
# Each kill took a worker in the middle of its work, most often holding
# a lease that went back (none is left: above).  Not always: a kill may
# land between an acknowledgement and the next claim, after the commit
# while its meta page is flushed, or after a worker's last ack, which
# claims nothing; and the files' jobs, a small document each, spend much
# of their time there.  At least half the kills release a lease.
jq -e --argjson k $KILLS '.fleet.deaths == $k and
    .fleet.released >= $k / 2' "$T/st" >/dev/null ||
    fail "$KILLS kills, but: $(jq -c .fleet "$T/st")"

check_docs
docs=$idocs
chunks=$ichunks
[ "$docs" -eq $((NREC + NFILES)) ] ||
    fail "$docs documents, not $((NREC + NFILES)): $(cat "$T/out")"
# With the workers quiet, the merger folds the segments into blocks.
folded() {
	[ "$(status_json .index.folded_chunks)" -gt 0 ] &&
	    [ "$(status_json .index.blocks)" -gt 0 ]
}
wait_for 60 folded || fail "nothing folded: $(ctl status)"
check_docs
[ "$idocs" -eq "$docs" ] || fail "after folding: $(cat "$T/out")"

# Each record once, under its id: a random sample, the first, the last.
awk -v n=$NREC -v k=$SAMPLE -v seed="$(rand)" 'BEGIN {
	srand(seed);
	print 1; print n;
	for (i = 0; i < k; i++)
		print int(rand() * n) + 1;
}' > "$T/sample"
while read -r i; do
	id=$(printf '%05d' "$i")
	found_once "uniq$id" "rec-$id"
done < "$T/sample"
found_once uniq00001 rec-00001
jq -e '.hits[0].title == "Record 1"' "$T/hits" >/dev/null ||
    fail "title of rec-00001: $(cat "$T/hits")"

# Each file once, under its path.
for f in "$FILES"/*; do
	n=$(basename "$f" | sed 's/[^0-9]//g')
	found_once "filetok$n" "$f"
done

# The bad records: dead letters with their reason codes, once each.
ctl jobs --state dead --limit 1000 --json > "$T/dead"
jq -r '.jobs[] | "\(.offset) \(.error | split(":")[0])"' "$T/dead" |
    sort -n > "$T/bad.got"
cmp -s "$T/bad.want" "$T/bad.got" ||
    fail "dead letters: want $(cat "$T/bad.want"), got $(cat "$T/bad.got")"
jq -e --arg p "$REC" 'all(.jobs[]; .source == "ndjson" and .path == $p and
    .length > 0 and (.offset as $o | .key | test("^record:[0-9]+:\($o)$")))' \
    "$T/dead" >/dev/null || fail "dead letters: $(cat "$T/dead")"
for w in uniqbad1 uniqbad2 uniqbad3 uniqbad4 uniqbad5; do
	search "$w"
	jq -e '.total == 0' "$T/hits" >/dev/null ||
	    fail "$w, of a bad record, is in the index: $(cat "$T/hits")"
done

# --- Phase 2: the same file again, cut otherwise: nothing new.
ctl submit --ndjson "$REC" --split 200K > "$T/submit2" ||
    fail "second submit failed"
grep -q '^submitted [1-9][0-9]* jobs' "$T/submit2" ||
    fail "second submit: $(cat "$T/submit2")"
wait_for 120 idle || fail "the second submission did not finish: $(ctl status)"
check_docs
[ "$idocs" -eq "$docs" ] && [ "$ichunks" -eq "$chunks" ] ||
    fail "after resubmission: $idocs documents, $ichunks chunks," \
    "not $docs, $chunks"
# Its bad records are filed again, for the new jobs, at the same places.
ctl jobs --state dead --limit 1000 --json |
    jq -r '.jobs[] | "\(.offset) \(.error | split(":")[0])"' | sort -n |
    uniq -c | awk '{ print $1 }' | sort -u > "$T/bad.twice"
[ "$(cat "$T/bad.twice")" = 2 ] ||
    fail "dead letters after resubmission: $(ctl jobs --state dead)"
for i in 1 $NREC $(head -22 "$T/sample" | tail -20); do
	id=$(printf '%05d' "$i")
	found_once "uniq$id" "rec-$id"
done

# --- compact purges the dead copies; delete takes one document out.
expect_exit 0 ctl compact
expect_exit 0 ctl check
want="index sound: $docs documents, $chunks chunks, [0-9]* segments, 0 dead"
grep -q "^$want chunks\$" "$T/out" || fail "after compact: $(cat "$T/out")"
found_once uniq00002 rec-00002
expect_exit 0 ctl delete rec-00002
check_docs
[ "$idocs" -eq $((docs - 1)) ] || fail "after delete: $idocs documents"
search uniq00002
jq -e '.total == 0' "$T/hits" >/dev/null ||
    fail "a deleted record is found: $(cat "$T/hits")"
expect_exit 1 ctl delete rec-00002

[ "$(zombies_of "$sv")" -eq 0 ] || fail "zombie workers"
kill -0 "$sv" || fail "the supervisor died"
echo "ingest: $NREC records and $NFILES files in $njobs jobs, $kills kills"
exit 0
