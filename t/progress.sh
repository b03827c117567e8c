#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl's progress bar on a terminal (script(1) gives it one), against
# a running daemon whose event stream it reads.  `submit --follow` of a
# debug job that sleeps 3 s draws the bar in place, its fraction going
# up with an ETA in seconds, and ends at 100% and "finished"; of an
# NDJSON file cut into ten jobs, it counts the documents and a rate in
# docs/s, and ends at 100% of the ten jobs with every record counted.
# `ingest` of a directory of 40 files and 30000 records while the daemon
# runs follows the same stream
# (it says so, the daemon's log shows the stream opened, and it starts no
# fleet of its own) and ends at 100% and "done" with the documents; the
# same directory again, its records changed, counts them all.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v script > /dev/null 2>&1 || skip "no script(1) (util-linux)"

write_conf "listen 127.0.0.1:0" "workers 2" "merge no" "log-level debug"
start_quired
http_port > /dev/null

# ontty NAME COMMAND: COMMAND (one string for sh) on a terminal of its
# own; what it wrote in $T/NAME.tty, its frames one a line in $T/NAME
# (the bar is redrawn after a carriage return, then erased to the end of
# the line).
ontty() {
	SHELL=/bin/sh timeout 120 script -qfec "$2" /dev/null \
	    > "$T/$1.tty" 2>&1 || fail "$2 on a terminal: exit $?: $(cat -v \
	    "$T/$1.tty" | tail -5)"
	tr '\r' '\n' < "$T/$1.tty" | sed 's/\x1b\[K//g' | grep -v '^$' \
	    > "$T/$1"
}

# The frames of the bar: "[####......]  45% 4/10 jobs, 27507 docs,
# 19416 docs/s, ETA 2s".
BAR='^\[[#.]{20}\] +[0-9]{1,3}% [0-9]+/[0-9]+ jobs, [0-9]+ docs, [0-9]+ docs/s, ETA ([0-9]+s|[0-9]+m[0-9]{2}s|-)$'

frames() {
	grep -E "$BAR" "$T/$1" || true
}

# bar_ends NAME JOBS DOCS: the last frame is 100% of JOBS jobs and DOCS
# documents, ETA 0s, every frame is a bar or a line of text, and no
# frame goes backwards.
bar_ends() {
	frames "$1" > "$T/$1.frames"
	[ "$(wc -l < "$T/$1.frames")" -ge 2 ] ||
	    fail "$1: no bar redrawn: $(cat -v "$T/$1.tty")"
	tail -1 "$T/$1.frames" | grep -Eq \
	    "^\[#{20}\] 100% $2/$2 jobs, $3 docs, [0-9]+ docs/s, ETA 0s$" ||
	    fail "$1: the bar does not end at 100%: $(tail -1 "$T/$1.frames")"
	sed 's/^[^]]*] *\([0-9]*\)%.*/\1/' "$T/$1.frames" |
	    awk '$1 < last { exit 1 } { last = $1 }' ||
	    fail "$1: the bar went backwards: $(cat "$T/$1.frames")"
}

# --- submit --follow of a job of 3 s: the fraction goes up, with an ETA.
ontty sleep "'$QUIRECTL' -D '$DATA' submit --follow --debug 'sleep 3000'"
grep -qx "following 1 jobs (the daemon's event stream)" "$T/sleep" ||
    fail "--follow did not read the event stream: $(cat "$T/sleep")"
bar_ends sleep 1 0
frames sleep | grep -Eq '\] +([1-9]|[1-9][0-9])% 0/1 jobs, .* ETA [0-9]+s$' ||
    fail "no frame between 0 and 100% with an ETA: $(cat "$T/sleep.frames")"
tail -1 "$T/sleep" | grep -q '^finished: 1 done, 0 dead letters' ||
    fail "no summary after the bar: $(tail -3 "$T/sleep")"

# --- submit --follow of 60000 records in ten jobs: documents and docs/s.
records 60000 3
ontty ndjson "'$QUIRECTL' -D '$DATA' submit --follow --split 2M \
    --ndjson '$T/r.ndjson'"
grep -qx "following 10 jobs (the daemon's event stream)" "$T/ndjson" ||
    fail "--follow of ten jobs: $(head -3 "$T/ndjson")"
bar_ends ndjson 10 60000
frames ndjson | grep -Eq ' [1-9][0-9]* docs, [1-9][0-9]* docs/s, ' ||
    fail "no frame with documents and a rate: $(cat "$T/ndjson.frames")"
tail -1 "$T/ndjson" | grep -q '^finished: 10 done, 0 dead letters' ||
    fail "no summary after the bar: $(tail -3 "$T/ndjson")"
[ "$(status_json .index.documents)" = 60000 ] ||
    fail "documents: $(status_json .index.documents)"

# --- ingest while the daemon runs: its event stream, no fleet of its own.
mkdir "$T/docs"
records 30000 4
sed 's/"id":"r/"id":"i/' "$T/r.ndjson" > "$T/docs/i.ndjson"
i=0
while [ $i -lt 40 ]; do
	echo "ingested file $i about progress bars" > "$T/docs/f$i.txt"
	i=$((i + 1))
done
streams=$(grep -c 'http: GET /v1/events 200' "$LOG" || true)
ontty ingest "'$QUIRECTL' -D '$DATA' ingest '$T/docs'"
grep -Eq "^ingesting [0-9]+ jobs, [0-9.]+ MB \(the daemon's event stream\)$" \
    "$T/ingest" || fail "ingest did not read the event stream: $(head -3 \
    "$T/ingest")"
jobs=$(sed -n 's/^ingesting \([0-9]*\) jobs.*/\1/p' "$T/ingest")
bar_ends ingest "$jobs" 30040
tail -1 "$T/ingest" | grep -q '^done: 30040 documents, [0-9]* chunks, 0 failures' ||
    fail "ingest's last line: $(tail -3 "$T/ingest")"
[ "$(grep -c 'http: GET /v1/events 200' "$LOG")" -gt "$streams" ] ||
    fail "the daemon's log shows no event stream opened for ingest"
[ ! -e "$DATA/ingest.pid" ] && [ ! -e "$DATA/ingest.log" ] ||
    fail "ingest started a fleet of its own beside the daemon"
[ "$(status_json .index.documents)" = 90040 ] ||
    fail "documents after ingest: $(status_json .index.documents)"

# The same again, its records changed: each counts as indexed, as a new
# one would; the unchanged files do not.
sed 's/"text":"uniq/"text":"changed uniq/' "$T/r.ndjson" |
    sed 's/"id":"r/"id":"i/' > "$T/docs/i.ndjson"
ontty again "'$QUIRECTL' -D '$DATA' ingest '$T/docs'"
tail -1 "$T/again" | grep -q '^done: 30000 documents, [0-9]* chunks, 0 failures' ||
    fail "ingest of changed records: $(tail -3 "$T/again")"
[ "$(status_json .index.documents)" = 90040 ] ||
    fail "documents after changes: $(status_json .index.documents)"

echo "progress: ok"
