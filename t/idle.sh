#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# An idle fleet writes nothing: a worker that finds no job ten times a
# second commits a clean transaction, which LMDB ends without a write or
# an fsync.  A job submitted then is still claimed at once.

. "${TOPSRC:-.}/t/lib.sh"

use_strace
write_conf "workers 2"
start_quired
wait_for 10 status_is .fleet.running 2 || fail "the workers did not start"
sleep 0.5
for w in $(worker_pids); do
	timeout 2 strace -f -c -e trace=fdatasync,fsync,msync,pwrite64,write \
	    -p "$w" > /dev/null 2> "$T/trace.$w" || true
	grep -Eq ' (fdatasync|fsync|msync|pwrite64)$' "$T/trace.$w" &&
	    fail "idle worker $w wrote: $(cat "$T/trace.$w")"
done
printf '{"id":"i1","text":"idle no more"}\n' > "$T/r.ndjson"
t0=$(now_ms)
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"
wait_for 10 status_is .jobs.done 1 || fail "the job was not done"
echo "ok: no write by an idle worker in 2 s; a job done $(( $(now_ms) - t0 )) ms after its submit"
