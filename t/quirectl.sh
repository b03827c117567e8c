#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl works on a data directory by itself, with no daemon: submit
# walks directories (regular files only: a FIFO or a symlink inside is
# skipped, never opened), cuts an NDJSON file into contiguous byte ranges
# that end on line ends, and honours idempotency keys; jobs, job, cancel,
# retry, purge and status show and change the queue (status exits 4
# without a daemon); usage errors exit 2,
# failures 1.  A short daemon run in the middle makes done and dead jobs
# for cancel, retry and purge to work on.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

RT=$(cd "$T" && pwd -P)		# submit stores resolved paths

njobs() {
	ctl jobs --limit 1000000 --json "$@" | jq '.jobs | length'
}

# --- A data directory without a queue: a clear error, and nothing made.
mkdir "$T/empty"
for cmd in "jobs" "job 1" "status" "status --json" "cancel 1" \
    "retry --dead" "purge --done"; do
	# shellcheck disable=SC2086
	expect_exit 1 "$QUIRECTL" -D "$T/empty" $cmd
	grep -q "no queue in this data directory" "$T/err" ||
	    fail "$cmd on an empty directory: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" -eq 1 ] ||
	    fail "$cmd on an empty directory: more than one line of error"
	[ ! -s "$T/out" ] ||
	    fail "$cmd on an empty directory printed: $(cat "$T/out")"
done
[ ! -e "$T/empty/queue" ] || fail "a read-only command created a queue"

# --- Usage errors exit 2.
expect_exit 2 "$QUIRECTL"
expect_exit 2 "$QUIRECTL" -D "$DATA" frobnicate
expect_exit 2 ctl submit
expect_exit 2 ctl submit --split 1K "$T"
expect_exit 2 ctl submit --priority 10 --debug noop
expect_exit 2 ctl submit --key a --debug noop --count 2
expect_exit 2 ctl jobs --state sleeping
expect_exit 2 ctl jobs --limit 0
expect_exit 2 ctl jobs extra
expect_exit 2 ctl job
expect_exit 2 ctl job abc
expect_exit 2 ctl cancel
expect_exit 2 ctl cancel 0
expect_exit 2 ctl retry
expect_exit 2 ctl purge
expect_exit 2 ctl purge --done --dead
expect_exit 2 ctl purge --done --older-than soon
expect_exit 2 ctl status --yaml
expect_exit 2 ctl scale many
[ ! -e "$DATA/queue" ] || fail "a usage error created a queue"

# --- Directories: nested regular files in name order; a FIFO, a symlink
# to a file and a symlink to a directory are skipped and not read.
mkdir -p "$T/tree/a/b" "$T/tree/c" "$T/outside"
printf 'one\n' > "$T/tree/a/b/deep.txt"
printf 'two two\n' > "$T/tree/a/mid.txt"
printf 'three three three\n' > "$T/tree/c/gone.txt"
printf 'four\n' > "$T/tree/top.txt"
printf 'secret\n' > "$T/outside/secret.txt"
mkfifo "$T/tree/a/fifo"
ln -s "$T/outside/secret.txt" "$T/tree/c/link.txt"
ln -s "$T/outside" "$T/tree/dirlink"
# A FIFO that were opened would block: bound the wait.
expect_exit 0 timeout 30 "$QUIRECTL" -D "$DATA" submit "$T/tree"
[ "$(cat "$T/out")" = \
    "submitted 4 jobs (35 bytes), 0 already known, 3 skipped" ] ||
    fail "submit of a tree said: $(cat "$T/out")"
ctl jobs --json | jq -r '.jobs[] | "\(.source) \(.path) \(.size)"' \
    > "$T/paths"
cat > "$T/want" <<EOF
path $RT/tree/a/b/deep.txt 4
path $RT/tree/a/mid.txt 8
path $RT/tree/c/gone.txt 18
path $RT/tree/top.txt 5
EOF
cmp -s "$T/paths" "$T/want" ||
    fail "jobs from the tree: $(cat "$T/paths")"
grep -q -e secret -e fifo -e link "$T/paths" &&
    fail "a symlink or FIFO became a job"
# Named on the command line, a FIFO is refused, not opened.
expect_exit 1 timeout 30 "$QUIRECTL" -D "$DATA" submit "$T/tree/a/fifo"
grep -q "not a regular file" "$T/err" || fail "FIFO: $(cat "$T/err")"
expect_exit 1 ctl submit "$T/no/such/file"
[ "$(njobs)" -eq 4 ] || fail "failed submits added jobs"

# --- NDJSON: a few MB with one line longer than the split, cut at 64K.
awk 'BEGIN {
	pad = "abcdefghijklmnopqrstuvwxyz0123456789";
	while (length(pad) < 150000)
		pad = pad pad;
	for (i = 1; i <= 25000; i++) {
		n = i == 12345 ? 150000 : (i * 7919) % 240;
		printf "{\"id\": %d, \"text\": \"%s\"}\n", i, substr(pad, 1, n);
	}
}' > "$T/big.ndjson"
size=$(wc -c < "$T/big.ndjson")
maxline=$(awk '{ if (length($0) + 1 > m) m = length($0) + 1 } END { print m }' \
    "$T/big.ndjson")
[ "$size" -gt 3000000 ] || fail "test file too small: $size"
expect_exit 0 ctl submit --split 64K --ndjson "$T/big.ndjson"
n=$(ctl jobs --limit 1000000 --json |
    jq '[.jobs[] | select(.source == "ndjson")] | length')
grep -q "^submitted $n jobs ($size bytes), 0 already known, 0 skipped\$" \
    "$T/out" || fail "ndjson submit said: $(cat "$T/out") ($n jobs)"
# Each range but the last holds at least 64K and ends on the first line
# end from there, so: size / (64K + longest line) < n <= size / 64K + 1.
[ "$n" -le $((size / 65536 + 1)) ] && \
    [ "$n" -ge $((size / (65536 + maxline))) ] ||
    fail "$n ndjson jobs for $size bytes"
ctl jobs --limit 1000000 --json | jq -r --arg p "$RT/big.ndjson" \
    '.jobs[] | select(.source == "ndjson") |
    if .path != $p then "bad path \(.path)" else "\(.offset) \(.length)" end' |
    sort -n > "$T/ranges"
LC_ALL=C awk '{ pos += length($0) + 1; print pos }' "$T/big.ndjson" \
    > "$T/ends"
LC_ALL=C awk -v size="$size" -v unit=65536 -v n="$n" -v maxline="$maxline" '
	FNR == NR { ends[$1] = 1; next }
	{
		k++
		if ($1 != pos)
			bad = bad sprintf("range %d starts at %s, not %d; ",
			    k, $1, pos)
		pos = $1 + $2
		if (!(pos in ends))
			bad = bad sprintf("range %d ends at %d, mid-line; ",
			    k, pos)
		if (k < n && $2 < unit)
			bad = bad sprintf("range %d is short: %d; ", k, $2)
		if ($2 > unit + maxline)
			bad = bad sprintf("range %d is long: %d; ", k, $2)
	}
	END {
		if (k != n)
			bad = bad sprintf("%d ranges listed, %d jobs; ", k, n)
		if (pos != size)
			bad = bad sprintf("ranges end at %d, file at %d; ",
			    pos, size)
		if (bad != "") {
			print bad
			exit 1
		}
	}' "$T/ends" "$T/ranges" > "$T/check" ||
    fail "ndjson ranges: $(cat "$T/check")"
# The bytes themselves: each range ends with a newline.
while read -r off len; do
	c=$(tail -c +$((off + len)) "$T/big.ndjson" | head -c 1 | od -An -c |
	    tr -d ' ')
	[ "$c" = '\n' ] || fail "byte $((off + len - 1)) is '$c', not a newline"
done < "$T/ranges"

# --- Idempotency keys: the same key names the same job.
printf 'keyed\n' > "$T/keyed.txt"
expect_exit 0 ctl submit --key doc-1 "$T/keyed.txt"
kid=$(cat "$T/out")
case "$kid" in
''|*[!0-9]*)	fail "submit --key printed '$kid', not an id" ;;
esac
expect_exit 0 ctl submit --key doc-1 "$T/keyed.txt"
[ "$(cat "$T/out")" = "$kid (existing)" ] ||
    fail "second submit with a key said: $(cat "$T/out")"
total=$((4 + n + 1))
[ "$(njobs)" -eq "$total" ] || fail "a repeated key added a job"
[ "$(ctl job --json "$kid" | jq -r .key)" = doc-1 ] || fail "key not kept"

# --- job ID and job --json.
expect_exit 0 ctl job "$kid"
grep -q "^id: $kid\$" "$T/out" && grep -q '^state: ready$' "$T/out" &&
    grep -q "^source: path $RT/keyed.txt\$" "$T/out" &&
    grep -q '^key: doc-1$' "$T/out" || fail "job $kid: $(cat "$T/out")"
expect_exit 0 ctl job --json "$kid"
jq -e --argjson id "$kid" --arg p "$RT/keyed.txt" \
    '.id == $id and .state == "ready" and .source == "path" and
    .path == $p and .size == 6 and .attempts == 0 and .crashes == 0 and
    .error == null' "$T/out" >/dev/null || fail "job --json: $(cat "$T/out")"
expect_exit 1 ctl job 999999
grep -q "no such job" "$T/err" || fail "job 999999: $(cat "$T/err")"

# --- cancel: ready -> cancelled, once.
cid=$(ctl jobs --json | jq -r --arg p "$RT/tree/top.txt" \
    '.jobs[] | select(.path == $p) | .id')
expect_exit 0 ctl cancel "$cid"
[ "$(cat "$T/out")" = "$cid cancelled" ] || fail "cancel: $(cat "$T/out")"
[ "$(ctl job --json "$cid" | jq -r .state)" = cancelled ] ||
    fail "job $cid not cancelled"
expect_exit 1 ctl cancel "$cid"
[ "$(wc -l < "$T/err")" -eq 1 ] && [ ! -s "$T/out" ] &&
    grep -q "already finished" "$T/err" ||
    fail "cancel of a cancelled job: $(cat "$T/out" "$T/err")"
expect_exit 1 ctl cancel 999999
expect_exit 1 ctl retry 999999

# --- jobs --state and status.
[ "$(njobs --state cancelled)" -eq 1 ] || fail "jobs --state cancelled"
[ "$(njobs --state ready)" -eq $((total - 1)) ] || fail "jobs --state ready"
[ "$(njobs --state done)" -eq 0 ] || fail "jobs --state done"
[ "$(ctl jobs --state cancelled --json | jq -r '.jobs[0].id')" = "$cid" ] ||
    fail "the cancelled job is not the one listed"
[ "$(ctl jobs --limit 3 --json | jq '.jobs | length')" -eq 3 ] ||
    fail "jobs --limit 3"
expect_exit 0 ctl jobs --state ready
[ "$(wc -l < "$T/out")" -eq $((total - 1 + 1)) ] ||
    fail "jobs --state ready: $(wc -l < "$T/out") lines"
# Without a daemon, status says so in one line and exits 4.
expect_exit 4 ctl status --json
[ "$(cat "$T/err")" = \
    "quirectl: daemon not running: showing the queue only" ] ||
    fail "status without a daemon said: $(cat "$T/err")"
jq -e '(.jobs | keys) == ["cancelled", "dead", "done", "leased", "ready",
    "retry"] and (.totals | keys) == ["completed", "enqueued", "failed",
    "released"]' "$T/out" >/dev/null || fail "status --json: $(cat "$T/out")"
jq -e --argjson r $((total - 1)) --argjson t "$total" \
    '.jobs == {"ready": $r, "leased": 0, "retry": 0, "done": 0, "dead": 0,
    "cancelled": 1} and .totals.enqueued == $t' "$T/out" >/dev/null ||
    fail "status --json counts: $(cat "$T/out")"
expect_exit 4 ctl status
want="jobs: ready $((total - 1)) leased 0 retry 0 done 0 dead 0 cancelled 1"
[ "$(head -1 "$T/out")" = "$want" ] || fail "status: $(cat "$T/out")"

# --- A short daemon run: files are read (done), a vanished file and
# failing debug jobs are dead letters at once (max-attempts 1).
rm "$T/tree/c/gone.txt"
expect_exit 0 ctl submit --debug fail --count 3
write_conf "workers 2" "max-attempts 1"
start_quired
qpid=$(quired_pid)
wait_for 60 status_is '.jobs.ready + .jobs.leased + .jobs.retry' 0 ||
    fail "the daemon did not finish: $(ctl status)"
expect_exit 0 ctl stop
wait_for 20 pid_gone "$qpid" || fail "quired did not stop"
# Offline again from here.
ndone=$((total - 1 - 1))
expect_exit 4 ctl status --json
jq -e --argjson d "$ndone" '.jobs == {"ready": 0, "leased": 0, "retry": 0,
    "done": $d, "dead": 4, "cancelled": 1} and .totals.completed == $d' \
    "$T/out" >/dev/null || fail "after the run: $(cat "$T/out")"
[ ! -e "$DATA/control.sock" ] || fail "admin socket left behind"

# cancel of a done job: exit 1, one line.
expect_exit 1 ctl cancel "$kid"
[ "$(wc -l < "$T/err")" -eq 1 ] && [ ! -s "$T/out" ] &&
    grep -q "cancel $kid: job has already finished" "$T/err" ||
    fail "cancel of a done job: $(cat "$T/out" "$T/err")"
[ "$(ctl job --json "$kid" | jq -r .state)" = done ] ||
    fail "cancel changed a done job"
expect_exit 1 ctl retry "$kid"
grep -q "neither dead nor retrying" "$T/err" || fail "retry of a done job"

# --- Dead letters: retry one, purge by age and count, retry the rest.
ctl jobs --state dead --json > "$T/dead"
gid=$(jq -r --arg p "$RT/tree/c/gone.txt" \
    '.jobs[] | select(.path == $p) | .id' "$T/dead")
jq -e --arg p "$RT/tree/c/gone.txt" '[.jobs[] | select(.path == $p and
    (.error | test("No such file")))] | length == 1' "$T/dead" \
    >/dev/null || fail "vanished file: $(cat "$T/dead")"
jq -e '[.jobs[] | select(.source == "debug" and .error == "debug failure" and
    .attempts == 1)] | length == 3' "$T/dead" >/dev/null ||
    fail "failing debug jobs: $(cat "$T/dead")"
expect_exit 0 ctl retry "$gid"
[ "$(cat "$T/out")" = "$gid ready" ] || fail "retry: $(cat "$T/out")"
ctl job --json "$gid" | jq -e '.state == "ready" and .attempts == 0' \
    >/dev/null || fail "retried job: $(ctl job --json "$gid")"
expect_exit 0 ctl purge --dead --older-than 1h
[ "$(cat "$T/out")" = "purged 0 dead jobs" ] ||
    fail "purge --dead --older-than 1h: $(cat "$T/out")"
# The oldest dead letter goes first.
oldest=$(ctl jobs --state dead --json |
    jq '.jobs | sort_by(.updated_ms, .id) | .[0].id')
expect_exit 0 ctl purge --dead --keep 2
[ "$(cat "$T/out")" = "purged 1 dead jobs" ] ||
    fail "purge --dead --keep 2: $(cat "$T/out")"
expect_exit 1 ctl job "$oldest"
[ "$(njobs --state dead)" -eq 2 ] || fail "purge --keep 2 left the wrong count"
expect_exit 0 ctl retry --dead
[ "$(cat "$T/out")" = "2 dead letters ready again" ] ||
    fail "retry --dead: $(cat "$T/out")"
expect_exit 0 ctl retry --dead
[ "$(cat "$T/out")" = "0 dead letters ready again" ] ||
    fail "retry --dead again: $(cat "$T/out")"
ctl jobs --state ready --json | jq -e '(.jobs | length) == 3 and
    all(.jobs[]; .attempts == 0 and .crashes == 0)' >/dev/null ||
    fail "retried jobs: $(ctl jobs --state ready)"

# --- Finished jobs: purge by age keeps young ones, then all go, and
# their idempotency keys with them.
expect_exit 0 ctl purge --done --older-than 1d
[ "$(cat "$T/out")" = "purged 0 finished jobs" ] ||
    fail "purge --done --older-than 1d: $(cat "$T/out")"
expect_exit 0 ctl purge --done
[ "$(cat "$T/out")" = "purged $((ndone + 1)) finished jobs" ] ||
    fail "purge --done: $(cat "$T/out")"
expect_exit 4 ctl status --json
jq -e '.jobs == {"ready": 3, "leased": 0, "retry": 0, "done": 0, "dead": 0,
    "cancelled": 0}' "$T/out" >/dev/null || fail "after purges: $(cat "$T/out")"
expect_exit 1 ctl job "$kid"
expect_exit 1 ctl job "$cid"
expect_exit 0 ctl submit --key doc-1 "$T/keyed.txt"
case "$(cat "$T/out")" in
"$kid"*|*existing*)	fail "a purged key still names its job" ;;
esac

exit 0
