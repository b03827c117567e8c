#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Uploads over HTTP: one document and NDJSON bulks are accepted only once
# on disk and become searchable; Idempotency-Key makes a repeat a no-op
# that names the same job (one document or a bulk), and an empty or too
# long key is 400; X-Quire-Id, -Tenant, -Title and -Priority land on the
# job and the document; a body without a type (or with curl's form type)
# is sniffed, and an HTML page is indexed as HTML with its <title>; a
# bulk past 8 MB is cut into several jobs, every record searchable; four
# clients sending the same keyed bulks at once get the same jobs for a
# key, and the queue holds exactly the distinct jobs; a malformed record
# refuses its whole bulk with the line numbers; limits give 413; and a
# kill -9 of the http child in the middle of uploads loses no
# acknowledged document, and another child answers on the same port.

. "${TOPSRC:-.}/t/lib.sh"

command -v curl > /dev/null || { echo "SKIP: no curl"; exit 77; }
write_conf "workers 2" "listen 127.0.0.1:0" "max-document-size 64K" \
    "http-max-body 12M"
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

# --- One document with an Idempotency-Key, twice: the same job, no new one.
echo "a keyed document about okapis" > "$T/keyed.txt"
code=$(hreq POST "/v1/documents?id=keyed-1" -H "Idempotency-Key: doc-key-1" \
    -H "Content-Type: text/plain" --data-binary @"$T/keyed.txt")
[ "$code" = 202 ] || fail "keyed upload: $code $(cat "$T/hbody")"
kjob=$(jq -r .job "$T/hbody")
[ "$(jq -r .duplicate "$T/hbody")" = false ] || fail "$(cat "$T/hbody")"
before=$(status_json .totals.enqueued)
code=$(hreq POST "/v1/documents?id=keyed-1" -H "Idempotency-Key: doc-key-1" \
    -H "Content-Type: text/plain" --data-binary @"$T/keyed.txt")
[ "$code" = 200 ] || fail "keyed upload again: $code $(cat "$T/hbody")"
[ "$(jq -r .job "$T/hbody")" = "$kjob" ] &&
    [ "$(jq -r .duplicate "$T/hbody")" = true ] ||
    fail "a repeated key is not job $kjob's duplicate: $(cat "$T/hbody")"
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "a repeated key enqueued a job"
[ -z "$(ls "$DATA/spool")" ] || fail "a duplicate's body was kept"
# An empty key, or one past 224 bytes, is refused, and nothing kept.
code=$(hreq POST /v1/documents -H "Idempotency-Key;" --data-binary @"$T/keyed.txt")
[ "$code" = 400 ] && [ "$(jq -r .code "$T/hbody")" = bad_parameter ] ||
    fail "an empty Idempotency-Key: $code $(cat "$T/hbody")"
long=$(head -c 225 /dev/zero | tr '\0' k)
code=$(hreq POST /v1/documents/bulk -H "Idempotency-Key: $long" \
    --data-binary '{"id": "x", "text": "y"}')
[ "$code" = 400 ] && [ "$(jq -r .code "$T/hbody")" = bad_parameter ] ||
    fail "an Idempotency-Key of 225 bytes: $code $(cat "$T/hbody")"
[ "$(status_json .totals.enqueued)" = "$before" ] ||
    fail "a bad key enqueued a job"

# --- What a document is, from X-Quire-* headers: id, tenant, title and
# priority on its job and in the index.
echo "a document described by its headers, about tapirs" > "$T/hdr.txt"
code=$(hreq POST /v1/documents -H "X-Quire-Id: hdr-1" \
    -H "X-Quire-Tenant: acme" -H "X-Quire-Title: Tapir Notes" \
    -H "X-Quire-Priority: 7" -H "Content-Type: text/plain" \
    --data-binary @"$T/hdr.txt")
[ "$code" = 202 ] || fail "upload with headers: $code $(cat "$T/hbody")"
hjob=$(jq -r .job "$T/hbody")
wait_for 20 sh -c "\"$QUIRECTL\" -D \"$DATA\" job --json $hjob |
    jq -e '.state == \"done\"'" || fail "job $hjob is not done"
ctl job --json "$hjob" | jq -e '.tenant == "acme" and .priority == 7' \
    > /dev/null || fail "the job's tenant or priority: $(ctl job --json "$hjob")"
code=$(hreq GET /v1/documents/hdr-1)
[ "$code" = 200 ] && [ "$(jq -r .tenant "$T/hbody")" = acme ] &&
    [ "$(jq -r .title "$T/hbody")" = "Tapir Notes" ] &&
    [ "$(jq -r .job "$T/hbody")" = "$hjob" ] ||
    fail "the document from headers: $code $(cat "$T/hbody")"

# --- No Content-Type (or curl's form type, which says nothing): the body
# is sniffed, and an HTML page is indexed as HTML, its title its <title>.
printf '<!DOCTYPE html>\n<html><head><title>Sniffed %s</title></head>\n<body><p>a page about %s</p></body></html>\n' \
    Quagga quaggas > "$T/page1"
printf '<!DOCTYPE html>\n<html><head><title>Sniffed %s</title></head>\n<body><p>a page about %s</p></body></html>\n' \
    Serval servals > "$T/page2"
code=$(hreq POST "/v1/documents?id=sniff-1" -H "Content-Type:" \
    --data-binary @"$T/page1")
[ "$code" = 202 ] || fail "untyped upload: $code $(cat "$T/hbody")"
s1=$(jq -r .job "$T/hbody")
code=$(hreq POST "/v1/documents?id=sniff-2" --data-binary @"$T/page2")
[ "$code" = 202 ] || fail "form-typed upload: $code $(cat "$T/hbody")"
s2=$(jq -r .job "$T/hbody")
for j in "$s1" "$s2"; do
	wait_for 20 sh -c "\"$QUIRECTL\" -D \"$DATA\" job --json $j |
	    jq -e '.state == \"done\"'" || fail "job $j is not done"
done
for n in 1:Quagga 2:Serval; do
	code=$(hreq GET "/v1/documents/sniff-${n%%:*}")
	[ "$code" = 200 ] && [ "$(jq -r .title "$T/hbody")" = "Sniffed ${n#*:}" ] &&
	    [ "$(jq -r .type "$T/hbody")" = html ] ||
	    fail "sniff-${n%%:*} not indexed as HTML: $(cat "$T/hbody")"
	! jq -r '.chunks[].excerpt' "$T/hbody" | grep -q '<' ||
	    fail "sniff-${n%%:*}: markup in the text: $(cat "$T/hbody")"
done

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

# --- A bulk of 30000 records, 10 MB, past the 8 MB a job takes: cut into
# several jobs, every record searchable.
records 30000 5
docs=$(status_json .index.documents)
code=$(hreq POST /v1/documents/bulk --data-binary @"$T/r.ndjson")
[ "$code" = 202 ] || fail "a 10 MB bulk: $code $(cat "$T/hbody")"
[ "$(jq '.records' "$T/hbody")" = 30000 ] &&
    [ "$(jq '.bytes' "$T/hbody")" = "$(wc -c < "$T/r.ndjson")" ] ||
    fail "the 10 MB bulk's reply: $(cat "$T/hbody")"
njobs=$(jq '.jobs | unique | length' "$T/hbody")
[ "$njobs" -ge 2 ] || fail "a 10 MB bulk in $njobs job: $(cat "$T/hbody")"
for j in $(jq '.jobs[]' "$T/hbody"); do
	wait_for 60 sh -c "\"$QUIRECTL\" -D \"$DATA\" job --json $j |
	    jq -e '.state == \"done\"'" || fail "bulk job $j is not done"
done
[ "$(status_json .index.documents)" = $((docs + 30000)) ] ||
    fail "documents: $(status_json .index.documents), not $docs + 30000"
for i in 0 1 14999 15000 29999; do
	ctl search --json "uniq$i" | jq -e --arg id "r$i" \
	    '.hits[0].id == $id and (.hits | length) == 1' > /dev/null ||
	    fail "record r$i of the 10 MB bulk is not found once"
done

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
head -c 13M /dev/zero | tr '\0' '\n' > "$T/huge"
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
before=$(status_json .totals.enqueued)
for c in 1 2 3 4; do
	(
		for k in 0 1 2 3 4 5 6 7 8 9; do
			curl -s -o "$T/c$c.k$k" -w '%{http_code}\n' -X POST \
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
# The four replies for a key name the same jobs; the keys, distinct jobs;
# and the queue took those jobs and no more.
for k in 0 1 2 3 4 5 6 7 8 9; do
	for c in 1 2 3 4; do
		jq -c .jobs "$T/c$c.k$k"
	done | sort -u > "$T/k$k.jobs"
	[ "$(wc -l < "$T/k$k.jobs")" = 1 ] && grep -q '^\[[0-9]' "$T/k$k.jobs" ||
	    fail "the replies for key conc-$k name other jobs:" \
	    "$(cat "$T"/c?.k$k)"
done
cat "$T"/k?.jobs | jq '.[]' | sort -u > "$T/conc.jobs"
[ "$(wc -l < "$T/conc.jobs")" = "$(cat "$T"/k?.jobs | jq '.[]' | wc -l)" ] ||
    fail "two keys were given the same job: $(cat "$T"/k?.jobs)"
[ "$(status_json .totals.enqueued)" = $((before + $(wc -l < "$T/conc.jobs"))) ] ||
    fail "enqueued $(($(status_json .totals.enqueued) - before)) jobs for" \
    "$(wc -l < "$T/conc.jobs") distinct ones"
for j in $(cat "$T/conc.jobs"); do
	ctl job --json "$j" | jq -e '.key | startswith("conc-")' \
	    > /dev/null ||
	    fail "job $j does not carry its key: $(ctl job --json "$j")"
done
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
