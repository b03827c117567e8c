#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# When a worker's batch closes.  One NDJSON job of NREC records, with a
# document limit it never reaches: with batch-linger 1ms the worker
# commits many times within the job, each commit a segment searchable at
# once; with batch-linger 60s it commits once, at the job's end.  Either
# way every record is indexed once.
#
# And when its job is acked: the records' last batch commits while the
# worker runs the next job (a debug sleep of a minute), and the records'
# job is done, its records searchable, while that one still runs.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

NREC=30000

awk -v n=$NREC 'BEGIN {
	for (i = 1; i <= n; i++)
		printf "{\"id\": \"r%d\", \"text\": \"word%d and some " \
		    "common text to index\"}\n", i, i;
}' > "$T/records.ndjson"
REC=$(cd "$T" && pwd -P)/records.ndjson

# run LINGER: a daemon with one worker and no merger indexes the file as
# one job; prints the worker's commits.
run() {
	write_conf "workers 1" "merge no" "batch-docs 10000000" \
	    "batch-linger $1" "log-level debug"
	start_quired
	ctl submit --ndjson "$REC" --split 64M > "$T/submit" ||
	    fail "submit failed"
	grep -q '^[0-9][0-9]*$' "$T/submit" ||
	    fail "not one job: $(cat "$T/submit")"
	wait_for 120 status_is .jobs.done 1 || fail "the job did not finish"
	commits=$(grep -c ': worker 0: committed ' "$LOG" || true)
	ctl check > "$T/check" || fail "check: $(cat "$T/check")"
	grep -q "^index sound: $NREC documents, $NREC chunks, $commits segments" \
	    "$T/check" || fail "$commits commits, but: $(cat "$T/check")"
	ctl search --json word17 | jq -e '.total == 1 and .hits[0].id == "r17"' \
	    >/dev/null || fail "word17 is not found once"
	sv=$(quired_pid)
	ctl stop > /dev/null || fail "stop failed"
	wait_for 30 pid_gone "$sv" || fail "the daemon did not stop"
	echo "$commits"
}

short=$(run 1ms)
[ "$short" -ge 3 ] || fail "batch-linger 1ms: $short commits for one job"

DATA=$T/data2
LOG=$T/quired2.log
long=$(run 60s)
[ "$long" -eq 1 ] || fail "batch-linger 60s: $long commits for one job"

DATA=$T/data3
LOG=$T/quired3.log
write_conf "workers 1" "claim-batch 1" "merge no"
start_quired
sv=$(quired_pid)
ctl submit --ndjson "$REC" --split 64M > /dev/null || fail "submit failed"
ctl submit --debug 'sleep 60000' > /dev/null || fail "submit failed"
wait_for 60 status_is .jobs.done 1 || fail "the records' job is not done"
[ "$(status_json .jobs.leased)" = 1 ] ||
    fail "the records' job was acked only after the sleep: $(ctl status)"
ctl search --json word29999 | jq -e '.total == 1' >/dev/null ||
    fail "a job is done, its last record not searchable"
kill -KILL "$sv"

echo "batch: one job of $NREC records, $short commits with 1ms, 1 with" \
    "60s; acked while the next job runs"
exit 0
