#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A file name is the user's, not ours: one with a newline, a forged log
# line after it and a terminal escape sequence goes through submit, a
# worker and the dead-letter queue.  The log keeps one line per message
# (the forged line is not a line of its own) and holds no control byte;
# `quirectl jobs` and `quirectl job` print the name escaped, one line per
# job; `--json` gives the name back byte for byte.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

RT=$(cd "$T" && pwd -P)
ESC=$(printf '\033')
FORGED="2020-01-01 00:00:00.000 quired[1]: forged"
NAME="evil
$FORGED ${ESC}[31mred${ESC}[0m.txt"

mkdir "$T/docs"
printf 'some words\n' > "$T/docs/$NAME"
write_conf "workers 1" "log-level info" "max-attempts 1"
expect_exit 0 ctl submit "$T/docs/$NAME"
id=$(ctl jobs --json | jq -r '.jobs[0].id')
[ "$(ctl jobs --json | jq -r '.jobs[0].path')" = "$RT/docs/$NAME" ] ||
    fail "--json did not give the name back as it is"
# Gone before a worker opens it: the error names it too.
rm "$T/docs/$NAME"

start_quired
wait_for 20 status_is '.jobs.dead' 1 || fail "the job did not fail"
wait_for 10 grep -q "job $id failed" "$LOG" ||
    fail "no log line for the failed job"

# The log: no control byte but the line ends, no forged line.
if LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$LOG"; then
	fail "the log holds control bytes: $(LC_ALL=C grep -n \
	    "$(printf '[\001-\011\013-\037\177]')" "$LOG" | cat -v)"
fi
if grep -q "^$FORGED" "$LOG"; then
	fail "a file name forged a log line"
fi
grep "job $id failed" "$LOG" | grep -qF 'evil\n2020-01-01' ||
    fail "the failure's line does not show the name escaped: $(grep \
    "job $id failed" "$LOG")"
grep -qF '\033[31mred\033[0m.txt' "$LOG" ||
    fail "the escape sequence is not shown escaped"

# The text output: one line per job, no control byte.
expect_exit 0 ctl jobs --state dead
[ "$(wc -l < "$T/out")" -eq 2 ] ||
    fail "jobs printed $(wc -l < "$T/out") lines: $(cat -v "$T/out")"
if LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$T/out"; then
	fail "jobs printed control bytes: $(cat -v "$T/out")"
fi
grep -qF "$RT/docs/evil\\n2020-01-01 00:00:00.000 quired[1]: forged \\033[31mred\\033[0m.txt" \
    "$T/out" || fail "jobs did not print the name escaped: $(cat "$T/out")"
expect_exit 0 ctl job "$id"
if LC_ALL=C grep -q "$(printf '[\001-\011\013-\037\177]')" "$T/out"; then
	fail "job printed control bytes: $(cat -v "$T/out")"
fi
[ "$(grep -c '^error: not-found' "$T/out")" -eq 1 ] ||
    fail "job: $(cat "$T/out")"

# JSON stays JSON, with the name and the error exact; a name that is not
# UTF-8 is shown with U+FFFD for its bad byte.
printf 'latin words\n' > "$T/docs/caf$(printf '\351').txt"
expect_exit 0 ctl submit "$T/docs/caf$(printf '\351').txt"
ctl jobs --json > "$T/json"
# jq would take the bad byte itself: iconv checks the text is UTF-8.
iconv -f UTF-8 -t UTF-8 "$T/json" >/dev/null 2>&1 ||
    fail "jobs --json is not UTF-8: $(cat -v "$T/json")"
jq -e . "$T/json" >/dev/null ||
    fail "jobs --json on a Latin-1 name: $(cat -v "$T/json")"
jq -r '.jobs[].path' "$T/json" |
    grep -qxF "$RT/docs/caf$(printf '\357\277\275').txt" ||
    fail "the Latin-1 name came out as: $(jq -r '.jobs[].path' "$T/json")"

ctl jobs --json > "$T/json"
jq -e . "$T/json" >/dev/null || fail "jobs --json is not JSON"
[ "$(jq -r '.jobs[0].path' "$T/json")" = "$RT/docs/$NAME" ] ||
    fail "--json changed the name"
jq -r '.jobs[0].error' "$T/json" | grep -qF "$FORGED" ||
    fail "--json error: $(jq -r '.jobs[0].error' "$T/json")"
exit 0
