#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Replays the fuzz corpus and every past crasher (contrib/fuzz/corpus/T
# and contrib/fuzz/crashers/T) through fuzz target T, for each target.
# The targets are built with replay.c as their main(), or with libFuzzer
# under --enable-fuzz, which runs files named on its command line once
# each as well.  Any crash, sanitizer report or broken invariant fails.

set -u

top=${TOPSRC:-.}
bin=$(dirname "${QUIRED:-./quired}")/contrib/fuzz
targets="text md html json ndjson code pdf tokenize query config codec ipc
	control segment"
fail=0
TMPDIR=${TMPDIR:-/tmp}
export TMPDIR

for t in $targets; do
	if [ ! -x "$bin/fuzz_$t" ]; then
		echo "fuzz-replay: $bin/fuzz_$t is not built"
		fail=1
		continue
	fi
	files=$(find "$top/contrib/fuzz/corpus/$t" \
	    "$top/contrib/fuzz/crashers/$t" -type f 2>/dev/null | sort)
	if [ -z "$files" ]; then
		echo "fuzz-replay: $t: no inputs"
		fail=1
		continue
	fi
	n=$(echo "$files" | wc -l)
	# Names hold no white space: they are content hashes or chosen so.
	# shellcheck disable=SC2086
	if "$bin/fuzz_$t" $files >"$TMPDIR/fuzz-replay.$$" 2>&1; then
		echo "fuzz-replay: $t: $n inputs replayed"
	else
		echo "fuzz-replay: $t: FAILED, exit $?"
		tail -40 "$TMPDIR/fuzz-replay.$$"
		fail=1
	fi
done
rm -f "$TMPDIR/fuzz-replay.$$"
exit $fail
