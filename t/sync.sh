#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# What a command reports is on disk.  With sync full (the default),
# quirectl submit has synced the queue's data file after the last write
# of its meta page (or written it through a file opened O_DSYNC) before
# it says the job is submitted, and the job is there (status, with no
# daemon, shows the queue and exits 4).  A worker of quired, which
# writes its meta pages through the data file and syncs them after the
# write lock (quired.conf(5), Durability), syncs each one before it
# writes anything else to either environment: before the ack of the
# documents it committed, before the claim of the next job.

. "${TOPSRC:-.}/t/lib.sh"

use_strace
printf '{"id":"s1","text":"synced"}\n' > "$T/r.ndjson"

# submit_traced SYNC: quirectl submit under strace, the trace in $T/trace.
submit_traced() {
	write_conf "sync $1"
	strace -qq -o "$T/trace" -e trace=openat,pwrite64,fdatasync,fsync,write \
	    "$QUIRECTL" -D "$DATA" -f "$CONF" submit --ndjson "$T/r.ndjson" \
	    > "$T/out" 2>&1 || fail "submit ($1): $(cat "$T/out")"
	grep -q 'queue/data.mdb' "$T/trace" ||
	    fail "no queue/data.mdb in the trace: $(head -20 "$T/trace")"
}

# meta_unsynced: the meta page writes of queue/data.mdb (writes of less
# than a page to its first two pages) that no sync of the same file
# followed before the command's answer on stdout: one line for each.
meta_unsynced() {
	awk '
	/^openat\(.*queue\/data\.mdb"/ {
		fd = $NF; data[fd] = 1; dsync[fd] = /O_DSYNC/; next }
	/^pwrite64\(/ && match($0, /, [0-9]+, [0-9]+\) += /) {
		fd = substr($0, 10) + 0
		split(substr($0, RSTART + 2, RLENGTH), a, /[^0-9]+/)
		if ((fd in data) && a[1] < 4096 && a[2] < 8192 && !dsync[fd])
			pending[fd] = $0
		next }
	/^(fdatasync|fsync)\(/ {
		if ((substr($0, index($0, "(") + 1) + 0) in data)
			for (f in pending)
				delete pending[f]
		next }
	/^write\(1,/ { answered = 1; for (f in pending) print pending[f]
		exit }
	END { if (!answered) print "no answer on stdout" }' "$T/trace"
}

submit_traced full
grep -q '^pwrite64(' "$T/trace" || fail "full: no write traced"
u=$(meta_unsynced)
[ -z "$u" ] || fail "full: a meta page write left unsynced: $u"
expect_exit 4 ctl status --json
[ "$(jq -r .jobs.ready "$T/out")" = 1 ] ||
    fail "full: the job is not ready: $(cat "$T/out")"


# --- A worker: its meta page writes, each synced before the next write.
write_conf "workers 1"
start_quired
wait_for 10 status_is .fleet.running 1 || fail "the worker did not start"
w=$(worker_pids)
# The worker's descriptors opened O_DSYNC (LMDB's own meta page writes).
dsync=
for f in /proc/"$w"/fd/*; do
	case $(readlink "$f") in
	*/data.mdb) n=${f##*/}
		fl=$(awk '$1 == "flags:" { print $2 }' "/proc/$w/fdinfo/$n")
		[ $((0$fl & 010000)) -eq 0 ] || dsync="$dsync $n" ;;
	esac
done
strace -f -qq -y -o "$T/wtrace" -p "$w" \
    -e trace=pwrite64,pwritev,writev,fdatasync,fsync 2>/dev/null &
sp=$!
wait_for 10 traced "$w" || fail "strace -p $w"
records 300 5
ctl submit --ndjson "$T/r.ndjson" > /dev/null || fail "submit"
wait_for 20 status_is .jobs.done 2 || fail "the jobs were not done"
kill "$sp"
wait "$sp" 2>/dev/null || true
# Per thread: a meta page write (less than a page, to the first two) not
# through an O_DSYNC descriptor is pending until that thread syncs a data
# file; any other write to one meanwhile is a fault, as is one left.
awk -v dsync="$dsync" '
BEGIN { n = split(dsync, d, " "); for (i = 1; i <= n; i++) ds[d[i]] = 1 }
$2 !~ /data\.mdb>/ { next }
{ tid = $1; fd = substr($2, index($2, "(") + 1) + 0 }
$2 ~ /^(fdatasync|fsync)\(/ { delete pending[tid]; next }
tid in pending { print "written before the sync: " pending[tid]; bad = 1 }
$2 ~ /^pwrite64\(/ && match($0, /, [0-9]+, [0-9]+\) += /) {
	split(substr($0, RSTART + 2, RLENGTH), a, /[^0-9]+/)
	if (a[1] < 4096 && a[2] < 8192 && !(fd in ds)) {
		pending[tid] = $0; metas++
	}
}
END {
	for (t in pending) { print "never synced: " pending[t]; bad = 1 }
	if (metas == 0) { print "no meta page write through the data file"; bad = 1 }
	if (!bad) print metas
}' "$T/wtrace" > "$T/verdict"
grep -qv '^[0-9]*$' "$T/verdict" &&
    fail "worker: $(head -5 "$T/verdict" | cut -c1-200)"
metas=$(cat "$T/verdict")
echo "ok: quirectl submit syncs the meta page before it answers; a worker synced its $metas meta page writes"
