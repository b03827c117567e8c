#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl metrics: the daemon's Prometheus text.  Two workers index an
# NDJSON file of NREC records and two files, under two tenants; then the
# text passes promtool's check (when promtool is installed) and says what
# status says: the documents indexed, the done jobs per tenant and in
# all, the input bytes, one job duration and one queue wait per job, the
# fleet's target before and after a scale.  Each histogram's +Inf bucket
# equals its count and no bucket holds less than the one before.  Jobs
# of more tenants than the text names by name fold into tenant="_other",
# and the counts per tenant still add up to status's.  A worker killed
# with SIGKILL counts as an exit with cause "signal".

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

NREC=5
NTENANTS=55	# more than METRICS_TENANTS_MAX (50)

write_conf "workers 2" "listen 127.0.0.1:0"
start_quired
HPORT=$(http_port)

awk -v n=$NREC 'BEGIN { for (i = 1; i <= n; i++)
    printf "{\"id\": \"m%d\", \"text\": \"metric record %d\"}\n", i, i }' \
    > "$T/m.ndjson"
echo "A plain text file about gauges." > "$T/a.txt"
printf '# Counters\n\nA markdown file about counters.\n' > "$T/b.md"
ctl submit --ndjson "$T/m.ndjson" > /dev/null || fail "submit ndjson"
ctl submit "$T/a.txt" > /dev/null || fail "submit a.txt"
ctl submit --tenant blue "$T/b.md" > /dev/null || fail "submit b.md"
JOBS=3
DOCS=$((NREC + 2))
BYTES=$(cat "$T/m.ndjson" "$T/a.txt" "$T/b.md" | wc -c)
wait_for 30 status_is .jobs.done $JOBS ||
    fail "not done: $(status_json .jobs)"

ctl metrics > "$T/m" || fail "quirectl metrics failed"

# value SERIES: the value of one series, exactly as written, or "none".
value() {
	awk -v s="$1" '$1 == s { v = $2 } END { print (v == "" ? "none" : v) }' \
	    "$T/m"
}
# is SERIES WANT
is() {
	_v=$(value "$1")
	[ "$_v" = "$2" ] || fail "$1 is $_v, not $2"
}
# sum PREFIX: the sum of the series whose name and labels begin so.
sum() {
	awk -v p="$1" 'index($1, p) == 1 { s += $2 } END { print s + 0 }' \
	    "$T/m"
}

promcheck() {
	if [ -x "${PROMTOOL:=$(command -v promtool || true)}" ]; then
		"$PROMTOOL" check metrics < "$T/m" > "$T/lint" 2>&1 ||
		    fail "promtool check metrics: $(cat "$T/lint")"
	else
		echo "promtool not installed: the text format is not checked" >&2
	fi
}
promcheck

# Every family has its HELP and TYPE, and every sample a family.
awk '/^# HELP / { h[$3] = 1 } /^# TYPE / { t[$3] = $4 }
    /^[a-z]/ { n = $1; sub(/\{.*/, "", n); b = n;
	sub(/_(bucket|sum|count)$/, "", b);
	if (!(n in t) && !(b in t && t[b] == "histogram")) bad = bad " " n }
    END { for (f in t) if (!(f in h)) bad = bad " " f; print bad }' \
    "$T/m" > "$T/bad"
[ -z "$(tr -d ' ' < "$T/bad")" ] || fail "no HELP or TYPE:$(cat "$T/bad")"

is quire_documents_indexed_total $DOCS

# GET /metrics serves the same text, as Prometheus scrapes it.
cp "$T/m" "$T/m.ctl"
code=$(hreq GET /metrics -D "$T/mhdr")
[ "$code" = 200 ] || fail "GET /metrics: $code"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/mhdr" ||
    fail "GET /metrics: $(grep -i content-type "$T/mhdr")"
cp "$T/hbody" "$T/m"
promcheck
is quire_documents_indexed_total $DOCS
cp "$T/m.ctl" "$T/m"
is quire_index_documents "$(status_json .index.documents)"
is quire_indexed_bytes_total "$BYTES"
is 'quire_jobs{state="done",tenant="default"}' 2
is 'quire_jobs{state="done",tenant="blue"}' 1
is 'quire_jobs{state="ready",tenant="blue"}' 0
[ "$(sum 'quire_jobs{state="done",')" = "$(status_json .jobs.done)" ] ||
    fail "done jobs: $(sum 'quire_jobs{state="done",') in metrics"
is 'quire_jobs_finished_total{outcome="done"}' $JOBS
is 'quire_jobs_finished_total{outcome="dead"}' 0
is quire_jobs_enqueued_total "$(status_json .totals.enqueued)"
is quire_job_duration_seconds_count $JOBS
is quire_job_queue_wait_seconds_count $JOBS
[ "$(value quire_claim_duration_seconds_count)" -ge 1 ] || fail "no claim"
[ "$(value quire_index_commit_duration_seconds_count)" -ge 1 ] ||
    fail "no commit"
for h in quire_job_duration_seconds quire_job_queue_wait_seconds \
    quire_claim_duration_seconds quire_index_commit_duration_seconds; do
	is "${h}_bucket{le=\"+Inf\"}" "$(value "${h}_count")"
	awk -v p="${h}_bucket{" 'index($1, p) == 1 {
	    if ($2 < last) { print $1; exit 1 } last = $2 }' "$T/m" ||
	    fail "$h: a bucket below the one before"
done
is quire_workers_target 2
is quire_workers_target "$(status_json .fleet.target)"
is quire_workers_running 2
is 'quire_workers{state="idle"}' 2

# A scale is a target resize.
ctl scale 3 > /dev/null || fail "scale 3"
ctl metrics > "$T/m" || fail "quirectl metrics failed"
is quire_workers_target 3
is 'quire_fleet_resizes_total{cause="target",direction="up"}' 1
wait_for 10 sh -c "\"$QUIRECTL\" -D \"$DATA\" metrics |
    grep -qx 'quire_workers_running 3'" || fail "no third worker"

# More tenants than are named: the rest under _other, the sums whole.
i=1
while [ $i -le $NTENANTS ]; do
	ctl submit --tenant "t$i" --debug noop > /dev/null ||
	    fail "submit tenant t$i"
	i=$((i + 1))
done
JOBS=$((JOBS + NTENANTS))
wait_for 30 status_is .jobs.done $JOBS ||
    fail "not done: $(status_json .jobs)"
ctl metrics > "$T/m" || fail "quirectl metrics failed"
promcheck
named=$(grep '^quire_jobs{state="done",' "$T/m" | grep -cv 'tenant="_other"')
[ "$named" -le 50 ] || fail "$named tenants named"
[ "$(value 'quire_jobs{state="done",tenant="_other"}')" != none ] ||
    fail "no _other tenant"
[ "$(sum 'quire_jobs{state="done",')" = $JOBS ] ||
    fail "done jobs: $(sum 'quire_jobs{state="done",') in metrics"
is quire_job_duration_seconds_count $JOBS

# kill -9 of a worker: an exit by signal.
before=$(value 'quire_worker_exits_total{cause="signal"}')
pid=$(worker_pids | head -1)
[ -n "$pid" ] || fail "no worker"
kill -9 "$pid"
wait_for 10 sh -c "\"$QUIRECTL\" -D \"$DATA\" metrics |
    grep -qx 'quire_worker_exits_total{cause=\"signal\"} $((before + 1))'" ||
    fail "the kill is not counted: $(ctl metrics | grep exits_total)"
ctl metrics > "$T/m" || fail "quirectl metrics failed"
is 'quire_worker_exits_total{cause="stopped"}' 0
wait_for 10 sh -c "\"$QUIRECTL\" -D \"$DATA\" metrics |
    grep -qx 'quire_workers_running 3'" || fail "the worker is not back"

echo "ok"
