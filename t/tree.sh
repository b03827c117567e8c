#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Submitting a tree: --exclude and --include (fnmatch, on the base name or
# the path below the tree), gzip files indexed as their contents, files
# of no type quire reads skipped with their path instead of failing,
# `quirectl ingest` exiting 0 with the skipped files reported apart, and
# a log line per failed job that names its file.  An interrupted ingest
# run again resumes: nothing is enqueued twice, nothing dead-lettered,
# and its temporary configuration is gone.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v gzip >/dev/null 2>&1 || skip "no gzip"
RT=$(cd "$T" && pwd -P)
write_conf
mkdir -p "$T/tree/node_modules" "$T/tree/docs" "$T/tmp"
printf 'plain alpha text\n' > "$T/tree/a.txt"
printf '# Title\n\nmarkdown bravo words\n' > "$T/tree/docs/b.md"
printf 'noisy log line\n' > "$T/tree/debug.log"
printf 'vendored charlie\n' > "$T/tree/node_modules/x.txt"
printf 'binary\000data\001\002' > "$T/tree/blob.dat"
printf 'compressed zebraword text\n' | gzip > "$T/tree/c.txt.gz"
printf '<html><head><title>Zipped</title></head><body><p>yakword page' \
    > "$T/tree/d.html"
gzip "$T/tree/d.html"
printf '\037\213garbage that is not deflate' > "$T/tree/broken.gz"

# --- submit: patterns and skipped files, nothing enqueued.
expect_exit 0 ctl submit --include '*.md' "$T/tree"
grep -q "^submitted 1 jobs .*excluded" "$T/out" ||
    fail "submit --include: $(cat "$T/out")"
ctl jobs --json | jq -r '.jobs[].path' > "$T/paths"
[ "$(cat "$T/paths")" = "$RT/tree/docs/b.md" ] ||
    fail "submit --include took: $(cat "$T/paths")"
expect_exit 0 ctl purge --done
rm -rf "$DATA"

# --- ingest: patterns, gzip, skipped files, exit 0.
expect_exit 0 env TMPDIR="$T/tmp" "$QUIRECTL" -D "$DATA" -f "$CONF" \
    ingest -w 1 --exclude '*.log' --exclude node_modules "$T/tree"
for f in blob.dat broken.gz; do
	grep -q "$RT/tree/$f: skipped" "$T/err" ||
	    fail "ingest did not name $f as skipped: $(cat "$T/err")"
done
grep -q "^ingesting 4 jobs.*2 files skipped, 2 excluded" "$T/out" ||
    fail "ingest said: $(cat "$T/out")"
grep -q "^done: 4 documents, [0-9]* chunks, 0 failures" "$T/out" ||
    fail "ingest said: $(cat "$T/out")"
grep -q "^skipped: 2 files" "$T/out" || fail "ingest said: $(cat "$T/out")"
[ "$(ctl jobs --state dead --json | jq '.jobs | length')" = 0 ] ||
    fail "dead letters: $(ctl jobs --state dead)"
for word in alpha bravo zebraword yakword; do
	ctl -f "$CONF" search --json "$word" > "$T/hits"
	[ "$(jq '.hits | length' "$T/hits")" = 1 ] ||
	    fail "search $word: $(cat "$T/hits")"
done
[ "$(ctl search --json zebraword | jq -r '.hits[0].id')" = \
    "$RT/tree/c.txt.gz" ] || fail "a gzip file is not indexed by its name"
[ "$(ctl search --json yakword | jq -r '.hits[0].title')" = "Zipped" ] ||
    fail "a gzip HTML file was not read as HTML"
for word in noisy charlie; do
	[ "$(ctl search --json "$word" | jq '.hits | length')" = 0 ] ||
	    fail "an excluded file was indexed ($word)"
done
[ -z "$(ls -A "$T/tmp")" ] || fail "ingest left $(ls -A "$T/tmp")"

# --- A failure in the log names its file.
printf 'soon gone\n' > "$T/gone.txt"
expect_exit 0 ctl submit "$T/gone.txt"
rm "$T/gone.txt"
write_conf "max-attempts 1"
start_quired
wait_for 30 status_is '.jobs.dead' 1 || fail "the job did not fail"
grep -q "job [0-9]* failed: .*; dead; source $RT/gone.txt" "$LOG" ||
    fail "no log line names the file"
expect_exit 0 ctl stop
wait_for 20 test ! -e "$DATA/control.sock" || fail "quired did not stop"
rm -rf "$DATA"
write_conf

# --- Ctrl-C, then the same command again: it resumes.
mkdir "$T/many"
i=0
while [ $i -lt 1000 ]; do
	printf 'document number %d of many\n' $i > "$T/many/f$i.txt"
	i=$((i + 1))
done
env TMPDIR="$T/tmp" "$QUIRECTL" -D "$DATA" -f "$CONF" ingest -w 1 \
    "$T/many" > "$T/first" 2>&1 &
ipid=$!
wait_for 20 test -S "$DATA/control.sock" || fail "no fleet started"
some_done() {
	[ "$(ctl jobs --state done --limit 1 --json | jq '.jobs | length')" = 1 ]
}
wait_for 20 some_done || true
# It may have finished already: the rerun must hold either way.
kill -INT $ipid 2>/dev/null || true
rc=0
wait $ipid || rc=$?
[ $rc = 130 ] || [ $rc = 0 ] || fail "ingest interrupted exited $rc"
[ $rc = 0 ] || grep -q "^interrupted: " "$T/first" ||
    fail "interrupted ingest said: $(cat "$T/first")"
[ -z "$(ls -A "$T/tmp")" ] || fail "Ctrl-C left $(ls -A "$T/tmp")"
wait_for 20 test ! -e "$DATA/control.sock" || fail "the fleet did not stop"
expect_exit 0 env TMPDIR="$T/tmp" "$QUIRECTL" -D "$DATA" -f "$CONF" \
    ingest -w 2 "$T/many"
grep -q "^done: [0-9]* documents, [0-9]* chunks, 0 failures" "$T/out" ||
    fail "the second ingest said: $(cat "$T/out")"
ctl status --json > "$T/st" 2>/dev/null || true
jq -e '.jobs.done == 1000 and .jobs.dead == 0 and
    .totals.enqueued == 1000 and .index.documents == 1000 and
    .index.dead_chunks == 0' "$T/st" \
    >/dev/null || fail "after the resume: $(cat "$T/st")"
[ -z "$(ls -A "$T/tmp")" ] || fail "ingest left $(ls -A "$T/tmp")"

exit 0
