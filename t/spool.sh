#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Uploaded documents (quirectl submit --stdin, the CLI face of the HTTP
# uploads): a body on standard input is spooled and indexed under the id
# and title given; a second upload of the same id replaces the first; a
# known idempotency key takes nothing; an NDJSON bulk on standard input
# is cut into range jobs of its one spool file and indexed, and one with
# malformed records is refused with their line numbers and nothing
# enqueued; a body over max-document-size or max-bulk-size is refused.
# A document that fails extraction keeps its spool file as a dead letter,
# retry after a reload indexes it from that file; a record of an upload
# read as NDJSON that fails on its own keeps the file for its dead
# letter; purge --dead removes the files of dead letters; a worker killed (-9) in the middle of an upload's
# job loses nothing.  The spool directory is empty once every job is
# done.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

# Files in the spool, temporary ones included.
spooled() {
	find "$DATA/spool" -mindepth 1 | wc -l
}

# Every job finished: none ready, leased or retrying.
all_settled() {
	[ "$(ctl status --json | jq '.jobs.ready + .jobs.leased +
	    .jobs.retry')" = 0 ]
}

settle() {
	wait_for 60 all_settled || fail "jobs did not finish: $(ctl jobs)"
}

job_field() {
	ctl job --json "$1" | jq -r "$2"
}

# search_ids QUERY: the ids of the hits, one a line.
search_ids() {
	ctl search --json -n 50 -- "$1" | jq -r '.hits[].id' | sort
}

docs() {
	status_json .index.documents
}

write_conf "workers 1" "max-tokens 1000"
start_quired

# --- One document, its id and its title.
expect_exit 0 sh -c "printf 'The first upload speaks of zanzibar.\n' |
    '$QUIRECTL' -D '$DATA' submit --stdin --id doc-1 \
    --title 'Quarterly Marmalade'"
J1=$(cat "$T/out")
settle
[ "$(job_field "$J1" .state)" = done ] || fail "job $J1: $(ctl job "$J1")"
[ "$(search_ids zanzibar)" = doc-1 ] || fail "zanzibar: $(search_ids zanzibar)"
[ "$(search_ids marmalade)" = doc-1 ] ||
    fail "title search: $(search_ids marmalade)"
[ "$(ctl search --json zanzibar | jq -r '.hits[0].title')" = \
    "Quarterly Marmalade" ] || fail "title: $(ctl search --json zanzibar)"
[ "$(spooled)" = 0 ] || fail "spool after done: $(ls -a "$DATA/spool")"

# --- The same id again replaces the document.
before=$(docs)
printf 'The second upload speaks of kilimanjaro instead.\n' |
    ctl submit --stdin --id doc-1 --type text/plain >/dev/null ||
    fail "second upload"
settle
[ "$(search_ids kilimanjaro)" = doc-1 ] ||
    fail "kilimanjaro: $(search_ids kilimanjaro)"
[ -z "$(search_ids zanzibar)" ] || fail "the old text is still found"
[ "$(docs)" = "$before" ] || fail "documents $(docs), want $before"

# --- A known key: the same job, nothing new in the spool or the queue.
printf 'keyed body okapi\n' | ctl submit --stdin --id doc-k --key up-1 \
    > "$T/k1" || fail "keyed upload"
njobs=$(ctl jobs --json | jq '.jobs | length')
printf 'keyed body okapi\n' | ctl submit --stdin --id doc-k --key up-1 \
    > "$T/k2" || fail "keyed upload again"
[ "$(cat "$T/k2")" = "$(cat "$T/k1") (existing)" ] ||
    fail "second keyed upload said: $(cat "$T/k2")"
[ "$(ctl jobs --json | jq '.jobs | length')" = "$njobs" ] ||
    fail "a known key enqueued a job"
settle
[ "$(spooled)" = 0 ] || fail "spool after a known key: $(ls "$DATA/spool")"

# --- An NDJSON bulk on standard input, cut into ranges of one file.
NREC=400
awk -v n=$NREC 'BEGIN { for (i = 1; i <= n; i++)
	printf "{\"id\": \"bulk-%03d\", \"title\": \"Bulk %d\", " \
	    "\"text\": \"record number bulkword%03d of a bulk upload " \
	    "with some padding words to make the ranges many\"}\n", i, i, i
}' > "$T/bulk.ndjson"
expect_exit 0 sh -c "'$QUIRECTL' -D '$DATA' submit --stdin --ndjson \
    --split 4K < '$T/bulk.ndjson'"
grep -q '^submitted [0-9][0-9]* jobs' "$T/out" ||
    fail "bulk said: $(cat "$T/out")"
nranges=$(sed 's/^submitted \([0-9]*\) jobs.*/\1/' "$T/out")
[ "$nranges" -gt 1 ] || fail "one range for a bulk split at 4K"
[ "$(ctl jobs --json --limit 100000 |
    jq '[.jobs[] | select(.source == "spool" and .length != null) |
    .path] | unique | length')" = 1 ] ||
    fail "the ranges do not share one spool file"
settle
for i in 001 137 400; do
	[ "$(search_ids "bulkword$i")" = "bulk-$i" ] ||
	    fail "bulkword$i: $(search_ids "bulkword$i")"
done
[ "$(ctl search --json -n 1 bulk | jq .total)" -ge $NREC ] ||
    fail "bulk records found: $(ctl search --json -n 1 bulk | jq .total)"

# --- Malformed records: refused, with their lines, and nothing taken.
njobs=$(ctl jobs --json --limit 100000 | jq '.jobs | length')
{
	echo '{"id": "m1", "text": "fine"}'
	echo '{"id": "m2", "text": "fine"}'
	echo 'this is not json'
	echo '{"id": "m4", "text": "fine"}'
	echo ''
	echo '{"id": "m6", "title": "no text field"}'
	echo '{"id": "m7", "text": "fine"}'
} > "$T/bad.ndjson"
expect_exit 1 sh -c "'$QUIRECTL' -D '$DATA' submit --stdin --ndjson \
    < '$T/bad.ndjson'"
grep -q '2 malformed NDJSON records; nothing submitted; lines 3 6$' \
    "$T/err" || fail "refusal said: $(cat "$T/err")"
[ "$(ctl jobs --json --limit 100000 | jq '.jobs | length')" = "$njobs" ] ||
    fail "a refused bulk enqueued jobs"
[ "$(spooled)" = 0 ] || fail "a refused bulk left $(ls -a "$DATA/spool")"

# --- Over the limits (quirectl reads them from a configuration).
cat > "$T/small.conf" <<EOF
datadir $DATA
max-document-size 1K
max-bulk-size 2K
EOF
awk 'BEGIN { for (i = 0; i < 200; i++) print "a line of filler text" }' \
    > "$T/4k.txt"
expect_exit 1 sh -c "'$QUIRECTL' -f '$T/small.conf' -D '$DATA' submit \
    --stdin < '$T/4k.txt'"
grep -q 'larger than max-document-size 1K; nothing submitted' "$T/err" ||
    fail "over max-document-size: $(cat "$T/err")"
expect_exit 1 sh -c "'$QUIRECTL' -f '$T/small.conf' -D '$DATA' submit \
    --stdin --ndjson < '$T/bulk.ndjson'"
grep -q 'larger than max-bulk-size 2K; nothing submitted' "$T/err" ||
    fail "over max-bulk-size: $(cat "$T/err")"
[ "$(ctl jobs --json --limit 100000 | jq '.jobs | length')" = "$njobs" ] ||
    fail "a body over a limit enqueued jobs"
[ "$(spooled)" = 0 ] || fail "a refused body left $(ls -a "$DATA/spool")"
expect_exit 2 ctl submit --stdin --type image/png
expect_exit 2 ctl submit --stdin "$T/4k.txt"
expect_exit 2 ctl submit --id x "$T/4k.txt"

# --- A document that fails keeps its file; retry reads it again.
awk 'BEGIN { for (i = 0; i < 1500; i++) printf "wombat%d ", i; print "" }' \
    > "$T/long.txt"
JL=$(ctl submit --stdin --id doc-long < "$T/long.txt") || fail "long doc"
settle
[ "$(job_field "$JL" .state)" = dead ] || fail "job $JL: $(ctl job "$JL")"
job_field "$JL" .error | grep -q '^too-many-tokens' ||
    fail "job $JL: $(job_field "$JL" .error)"
spool_long=$(job_field "$JL" .path)
[ -f "$DATA/spool/$spool_long" ] || fail "the dead letter's file is gone"
write_conf "workers 1"
expect_exit 0 ctl reload
expect_exit 0 ctl retry "$JL"
settle
[ "$(job_field "$JL" .state)" = done ] || fail "retried: $(ctl job "$JL")"
[ "$(search_ids wombat1499)" = doc-long ] ||
    fail "the retried document: $(search_ids wombat1499)"
[ ! -e "$DATA/spool/$spool_long" ] || fail "the retried job kept its file"

# --- An upload read as NDJSON whose bad record fails on its own: the
# record's dead letter reads the same spool file, which stays for it.
JN=$(printf '{"id": "nd-ok", "text": "ocelot"}\nnot json\n' |
    ctl submit --stdin --type application/x-ndjson) || fail "ndjson upload"
settle
[ "$(job_field "$JN" .state)" = done ] || fail "job $JN: $(ctl job "$JN")"
[ "$(search_ids ocelot)" = nd-ok ] || fail "ocelot: $(search_ids ocelot)"
spool_nd=$(job_field "$JN" .path)
ctl jobs --state dead --json | jq -e --arg p "$spool_nd" \
    '[.jobs[] | select(.path == $p and .offset == 34)] | length == 1' \
    >/dev/null || fail "no dead letter for the bad record: $(ctl jobs)"
[ -f "$DATA/spool/$spool_nd" ] || fail "the record's file is gone"

# --- Dead letters' files go when they are purged.
JB=$(printf 'bin\000ary\001\002' | ctl submit --stdin --id doc-bin) ||
    fail "binary doc"
settle
[ "$(job_field "$JB" .state)" = dead ] || fail "job $JB: $(ctl job "$JB")"
spool_bin=$(job_field "$JB" .path)
[ -f "$DATA/spool/$spool_bin" ] || fail "the binary's file is gone"
[ "$(spooled)" = 2 ] || fail "spool: $(ls -a "$DATA/spool")"
expect_exit 0 ctl purge --dead
[ ! -e "$DATA/spool/$spool_bin" ] || fail "purge --dead kept the file"
[ ! -e "$DATA/spool/$spool_nd" ] || fail "purge --dead kept the record's"

# --- kill -9 of the worker in the middle of an upload's job.
awk 'BEGIN { srand(3); for (i = 0; i < 250000; i++)
	printf "line %d of a long upload with words like w%d\n", i,
	    int(rand() * 50000); print "the last line holds quetzalcoatl" }' \
    > "$T/big.txt"
JK=$(ctl submit --stdin --id doc-big --title "Big Upload" < "$T/big.txt") ||
    fail "big doc"
busy_worker() {
	ctl workers --json | jq -e --argjson j "$JK" \
	    '.workers[] | select(.job == $j)' >/dev/null
}
wait_for 30 busy_worker || fail "no worker took job $JK: $(ctl job "$JK")"
wpid=$(ctl workers --json | jq -r --argjson j "$JK" \
    '.workers[] | select(.job == $j) | .pid')
kill -9 "$wpid"
settle
[ "$(job_field "$JK" .state)" = done ] || fail "job $JK: $(ctl job "$JK")"
[ "$(job_field "$JK" .crashes)" = 1 ] ||
    fail "job $JK crashes: $(job_field "$JK" .crashes) (not killed mid-job?)"
[ "$(search_ids quetzalcoatl)" = doc-big ] ||
    fail "the big document: $(search_ids quetzalcoatl)"

# --- Nothing left in the spool once every job is done.
[ "$(spooled)" = 0 ] || fail "spool at the end: $(ls -a "$DATA/spool")"
expect_exit 0 ctl check
exit 0
