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
# and the counts per tenant still add up to status's.  The memory
# figures are status's (the reserve as configured) and agree with each
# other.  A worker killed with SIGKILL while it runs a job counts as an
# exit with cause "signal" and its job as released, as status counts it.
# Without promtool its check is skipped, and the test says so.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

NREC=5
NTENANTS=55	# more than METRICS_TENANTS_MAX (50)

write_conf "workers 2" "listen 127.0.0.1:0" "memory-reserve 256M"
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

# promtool (Debian's prometheus package) checks the text format; without
# it that check is skipped, and the test says so, on standard error at
# each text and in its last line.
: "${PROMTOOL:=$(command -v promtool || true)}"
PROMCHECKED=0
promcheck() {
	if [ -n "$PROMTOOL" ] && [ -x "$PROMTOOL" ]; then
		"$PROMTOOL" check metrics < "$T/m" > "$T/lint" 2>&1 ||
		    fail "promtool check metrics: $(cat "$T/lint")"
		PROMCHECKED=$((PROMCHECKED + 1))
	else
		echo "SKIP: no promtool${PROMTOOL:+ at $PROMTOOL}: the text" \
		    "format is not checked (apt-get install prometheus)" >&2
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
# Memory: the limit and the reserve as status gives them (the reserve as
# configured), and one sample's figures consistent with each other.
is quire_memory_limit_bytes "$(status_json .memory.limit)"
if [ "$(status_json .memory.limit_source)" = MemTotal ]; then
	is quire_memory_limit_bytes \
	    "$(awk '$1 == "MemTotal:" { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)"
fi
is quire_memory_reserve_bytes 268435456
is quire_memory_reserve_bytes "$(status_json .memory.reserve)"
awk '$1 ~ /^quire_memory_[a-z_]*$/ { v[$1] = $2 }
    END { l = v["quire_memory_limit_bytes"]; u = v["quire_memory_usage_bytes"]
	h = v["quire_memory_headroom_bytes"]; a = v["quire_memory_available_bytes"]
	if (!(u > 0 && u < l && a > 0 && h > 0 && h <= a && h <= l - u &&
	    v["quire_memory_worker_cap"] >= 1 &&
	    v["quire_memory_pressure"] == 0 &&
	    ("quire_memory_oom_kills_total" in v))) exit 1 }' "$T/m" ||
    fail "memory figures: $(grep '^quire_memory' "$T/m")"
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

# kill -9 of a worker running a job: an exit by signal, and its job
# released (given back to the queue) and run again.
before=$(value 'quire_worker_exits_total{cause="signal"}')
released=$(value 'quire_jobs_finished_total{outcome="released"}')
spin=$(ctl submit --debug "spin 600000")
holder() {
	ctl workers --json | jq -e --argjson j "$spin" \
	    '.workers[] | select(.job == $j and .pid != 0) | .pid'
}
wait_for 10 holder || fail "no worker runs the spin job $spin"
pid=$(holder)
kill -9 "$pid"
wait_for 10 sh -c "\"$QUIRECTL\" -D \"$DATA\" metrics |
    grep -qx 'quire_worker_exits_total{cause=\"signal\"} $((before + 1))'" ||
    fail "the kill is not counted: $(ctl metrics | grep exits_total)"
wait_for 10 sh -c "\"$QUIRECTL\" -D \"$DATA\" metrics |
    grep -qx 'quire_jobs_finished_total{outcome=\"released\"} $((released + 1))'" ||
    fail "the released job is not counted: $(ctl metrics | grep finished_total)"
ctl metrics > "$T/m" || fail "quirectl metrics failed"
is 'quire_jobs_finished_total{outcome="released"}' "$(status_json .totals.released)"
is 'quire_worker_exits_total{cause="stopped"}' 0
ctl job --json "$spin" | jq -e '.crashes == 1 and (.state == "ready" or
    .state == "leased" or .state == "retry")' > /dev/null ||
    fail "the released job: $(ctl job --json "$spin")"
ctl cancel "$spin" > /dev/null || fail "cancel of the spin job"
wait_for 10 sh -c "\"$QUIRECTL\" -D \"$DATA\" metrics |
    grep -qx 'quire_workers_running 3'" || fail "the worker is not back"

if [ "$PROMCHECKED" = 0 ]; then
	echo "ok, but promtool's check of the text format was skipped"
else
	echo "ok, promtool checked $PROMCHECKED texts"
fi
