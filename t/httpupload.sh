#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Uploads over HTTP: one document and NDJSON bulks are accepted only once
# on disk and become searchable; Idempotency-Key makes a repeat a no-op,
# also from four clients at once; a malformed record refuses its whole
# bulk with the line numbers; limits give 413; and a kill -9 of the http
# child in the middle of uploads loses no acknowledged document, and
# another child answers on the same port.

. "${TOPSRC:-.}/t/lib.sh"

command -v curl > /dev/null || { echo "SKIP: no curl"; exit 77; }
write_conf "workers 2" "listen 127.0.0.1:0" "max-document-size 64K" \
    "http-max-body 1M"
start_quired
HPORT=$(http_port)

# ndjson FIRST COUNT [WORD]: records ck-FIRST .. with a word of their own.
ndjson() {
	awk -v a="$1" -v n="$2" -v w="${3:-plain}" 'BEGIN {
	    for (i = a; i < a + n; i++)
		printf "{\"id\":\"up-%d\",\"text\":\"upload %s u%dz\"}\n",
		    i, w, i }'
}

# Hits for a query, all of them.
hits() {
	ctl search --json --exact -n 1000 "$1" | jq '.hits | length'
}

# --- One document, with id, title and type from the query and headers.
echo "a posted document about zebras and their stripes" > "$T/doc.txt"
code=$(hreq POST "/v1/documents?id=doc-1&title=Zebras" \
    -H "Content-Type: text/plain" --data-binary @"$T/doc.txt")
[ "$code" = 202 ] || fail "POST /v1/documents: $code $(cat "$T/hbody")"
job=$(jq -r .job "$T/hbody")
[ "$(jq -r .duplicate "$T/hbody")" = false ] || fail "a new upload is a duplicate"
wait_for 20 status_is .jobs.done 1 || fail "the upload was not indexed"
ctl search --json stripes > "$T/s"
[ "$(jq -r '.hits[0].id' "$T/s")" = doc-1 ] || fail "search: $(cat "$T/s")"
[ "$(jq -r '.hits[0].title' "$T/s")" = Zebras ] || fail "no title: $(cat "$T/s")"
ctl job --json "$job" | jq -e '.state == "done"' > /dev/null ||
    fail "job $job is not done"
[ -z "$(ls "$DATA/spool")" ] || fail "spool not empty: $(ls "$DATA/spool")"

# --- A bulk of 500 records, then the same with its key again.
ndjson 1 500 > "$T/b1"
code=$(hreq POST /v1/documents/bulk -H "Idempotency-Key: bulk-1" \
    --data-binary @"$T/b1")
[ "$code" = 202 ] || fail "bulk: $code $(cat "$T/hbody")"
[ "$(jq .records "$T/hbody")" = 500 ] || fail "records: $(cat "$T/hbody")"
jq -c .jobs "$T/hbody" > "$T/jobs1"
code=$(hreq POST /v1/documents/bulk -H "Idempotency-Key: bulk-1" \
    --data-binary @"$T/b1")
[ "$code" = 200 ] || fail "bulk again: $code $(cat "$T/hbody")"
[ "$(jq -r .duplicate "$T/hbody")" = true ] || fail "not a duplicate"
[ "$(jq -c .jobs "$T/hbody")" = "$(cat "$T/jobs1")" ] ||
    fail "a repeat names other jobs: $(cat "$T/hbody")"
wait_for 30 status_is '.jobs.ready + .jobs.leased + .jobs.retry' 0 ||
    fail "the bulk was not indexed"
[ "$(hits upload)" = 500 ] || fail "bulk: $(hits upload) of 500 records"

# --- Malformed records: the whole body refused, with its lines.
before=$(status_json .totals.enqueued)
{ ndjson 1001 2; echo 'not json'; ndjson 1003 1; echo '[1, 2]'; } > "$T/bad"
code=$(hreq POST /v1/documents/bulk --data-binary @"$T/bad")
[ "$code" = 400 ] || fail "malformed bulk: $code"
[ "$(jq -r .code "$T/hbody")" = bad_ndjson ] || fail "$(cat "$T/hbody")"
[ "$(jq -c .lines "$T/hbody")" = "[3,5]" ] ||
    fail "lines: $(jq -c .lines "$T/hbody")"
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "a refused bulk enqueued jobs"

# --- Limits: a document over max-document-size, a body over the max.
head -c 70000 /dev/zero | tr '\0' a > "$T/big"
code=$(hreq POST /v1/documents --data-binary @"$T/big")
[ "$code" = 413 ] || fail "a 70K document: $code, not 413"
[ "$(jq -r .code "$T/hbody")" = too_large ] || fail "$(cat "$T/hbody")"
ndjson 5000 30000 > "$T/huge"
code=$(hreq POST /v1/documents/bulk --data-binary @"$T/huge")
[ "$code" = 413 ] || fail "a body over http-max-body: $code, not 413"
code=$(hreq POST /v1/documents --data-binary "")
[ "$code" = 400 ] || fail "an empty body: $code, not 400"
code=$(hreq POST "/v1/documents?priority=12" --data-binary @"$T/doc.txt")
[ "$code" = 400 ] || fail "priority 12: $code, not 400"
[ -z "$(ls "$DATA/spool")" ] || fail "refused bodies left spool files"

# --- Four clients at once, each sending the same ten keyed bulks.
for k in 0 1 2 3 4 5 6 7 8 9; do
	ndjson $((2000 + k * 10)) 10 conc > "$T/k$k"
done
for c in 1 2 3 4; do
	(
		for k in 0 1 2 3 4 5 6 7 8 9; do
			curl -s -o /dev/null -w '%{http_code}\n' -X POST \
			    -H "Idempotency-Key: conc-$k" \
			    --data-binary @"$T/k$k" \
			    "http://127.0.0.1:$HPORT/v1/documents/bulk"
		done > "$T/c$c.codes"
	) &
done
wait
cat "$T"/c?.codes | sort | uniq -c > "$T/codes"
[ "$(grep -c . "$T/codes")" -le 2 ] && ! grep -qv ' 20[02]$' "$T/codes" ||
    fail "concurrent bulks: $(cat "$T/codes")"
[ "$(awk '$2 == 202 { print $1 }' "$T/codes")" = 10 ] ||
    fail "not exactly ten bulks taken: $(cat "$T/codes")"
wait_for 30 status_is '.jobs.ready + .jobs.leased + .jobs.retry' 0 ||
    fail "the concurrent bulks were not indexed"
[ "$(hits conc)" = 100 ] || fail "concurrent: $(hits conc) of 100 records"

# --- kill -9 of the http child while a client uploads: every bulk that
# got its 202 is indexed, and a new child answers on the same port.
old=$(http_pid)
[ -n "$old" ] || fail "no http child"
(
	i=0
	while [ $i -lt 40 ]; do
		ndjson $((10000 + i * 5)) 5 kill > "$T/u$i"
		# A request the kill cut off fails: not acknowledged.
		code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
		    --max-time 20 --data-binary @"$T/u$i" \
		    "http://127.0.0.1:$HPORT/v1/documents/bulk" || true)
		[ "$code" = 202 ] && echo "$i" >> "$T/acked"
		i=$((i + 1))
	done
) &
uploader=$!
sleep 0.3
kill -9 "$old"
wait "$uploader"
http_up() {
	[ -n "$(http_pid)" ]
}
wait_for 10 http_up || fail "no new http child"
new=$(http_pid)
[ "$new" != "$old" ] || fail "the http child was not replaced"
code=$(hreq GET /healthz)
[ "$code" = 200 ] || fail "/healthz after the kill: $code"
wait_for 30 status_is '.jobs.ready + .jobs.leased + .jobs.retry' 0 ||
    fail "uploads after the kill were not indexed"
acked=$(wc -l < "$T/acked")
[ "$acked" -ge 1 ] || fail "no upload was acknowledged"
for i in $(cat "$T/acked"); do
	for r in 0 1 2 3 4; do
		n=$((10000 + i * 5 + r))
		[ "$(ctl search --json "u${n}z" | jq '.hits | length')" = 1 ] ||
		    fail "acknowledged record up-$n is not indexed once"
	done
done
grep -q "http (pid $old) died: signal 9" "$LOG" ||
    fail "the supervisor did not log the http child's death"
echo "ok: $acked of 40 uploads acknowledged around a kill -9, all indexed"
