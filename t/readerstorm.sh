#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Stale readers storm: while the same documents are updated round after
# round (write churn: workers index, the merger folds), readers
# (quirectl check and search) and workers are SIGKILLed, STORM_KILLS
# times (100 by default), most inside a read transaction.  At every look
# the index holds no more stale reader slots (pids that are gone) than
# live processes, none once the daemon's sweep has run, and in the end
# the index's and the queue's data files are within 1.25 times their
# size after the same work without kills; every document is indexed once.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

: "${STORM_KILLS:=100}"
: "${STORM_ROUNDS:=10}"
NDOCS=1500
PER=$((STORM_KILLS / STORM_ROUNDS))

rand() {
	od -An -N2 -tu2 /dev/urandom | tr -d ' '
}

# Round $1 of the documents: the same ids, new words.
round_file() {
	awk -v r="$1" -v n=$NDOCS 'BEGIN { srand(r); for (i = 0; i < n; i++) {
	    s = ""; for (w = 0; w < 40; w++) s = s " w" int(rand() * 20000);
	    printf "{\"id\":\"d%d\",\"text\":\"round%d%s\"}\n", i, r, s } }' \
	    > "$T/r$1.ndjson"
}

# Stale slots and live processes, from one status; fails on more stale.
looks=0
maxstale=0
look() {
	ctl status --json > "$T/st" || fail "status failed"
	_stale=0
	for _p in $(jq -r '.readers.index_pids[]' "$T/st"); do
		kill -0 "$_p" 2>/dev/null || _stale=$((_stale + 1))
	done
	# The supervisor, its merger and workers, and this test's readers.
	_live=$(( $(jq '[.fleet.workers[] | select(.pid != 0)] | length' \
	    "$T/st") + 2 + $(jobs -p | wc -l) ))
	[ "$_stale" -le "$_live" ] ||
	    fail "$_stale stale reader slots, $_live live processes"
	[ "$_stale" -le "$maxstale" ] || maxstale=$_stale
	looks=$((looks + 1))
}

# run NAME KILL: the rounds on a data directory of their own, with
# kills or without; prints the sizes of the two data files.
run() {
	DATA=$T/$1
	write_conf "workers 2" "max-crashes 1000"
	start_quired
	wait_for 10 status_is .fleet.running 2 || fail "$1: no workers"
	kills=0
	r=1
	while [ $r -le "$STORM_ROUNDS" ]; do
		ctl submit --ndjson "$T/r$r.ndjson" > /dev/null ||
		    fail "$1: submit round $r"
		i=0
		k0=$kills
		# Until this round's kills are done (a reader may finish
		# first, more often on a busy machine: up to 8 tries a kill),
		# or, without kills, as many tries.
		while [ $((kills - k0)) -lt "$PER" ] && [ $i -lt $((PER * 8)) ] &&
		    { [ "$2" = 1 ] || [ $i -lt "$PER" ]; }; do
			i=$((i + 1))
			if [ $(($(rand) % 4)) -eq 0 ] &&
			    w=$(worker_pids | head -1) && [ -n "$w" ]; then
				if [ "$2" = 1 ] && kill -KILL "$w" 2>/dev/null
				then
					kills=$((kills + 1))
				fi
				continue
			fi
			if [ $(($(rand) % 4)) -ne 0 ]; then
				"$QUIRECTL" -D "$DATA" check >/dev/null 2>&1 &
			else
				"$QUIRECTL" -D "$DATA" search -n 50 \
				    "w$(($(rand) % 2000))*" >/dev/null 2>&1 &
			fi
			p=$!
			# Once it has the index mapped it is in (or a moment
			# from) its read transaction.
			j=0
			while [ $j -lt 100 ] && kill -0 "$p" 2>/dev/null &&
			    ! grep -qs "$DATA/index/data.mdb" "/proc/$p/maps"; do
				j=$((j + 1))
			done
			sleep "0.00$(($(rand) % 10))"
			if [ "$2" = 1 ] && kill -KILL "$p" 2>/dev/null; then
				kills=$((kills + 1))
			fi
			wait "$p" 2>/dev/null || true
			[ "$2" = 1 ] && [ $((i % 5)) = 0 ] && look
		done
		r=$((r + 1))
	done
	wait_for 120 status_is .jobs.done "$STORM_ROUNDS" ||
	    fail "$1: not done: $(ctl status)"
	[ "$2" = 1 ] && look
	# The sweep clears what is left within 5 s.
	if [ "$2" = 1 ]; then
		wait_for 12 sh -c "[ \$(\"$QUIRECTL\" -D '$DATA' status --json |
		    jq '.readers.index') -le 0 ]" ||
		    fail "$1: slots left: $(status_json .readers)"
	fi
	[ "$("$QUIRECTL" -D "$DATA" search --json --exact -n 10000 \
	    "round$STORM_ROUNDS" | jq '([.hits[].id] | unique | length),
	    .total' | tr '\n' ' ')" = "$NDOCS $NDOCS " ] ||
	    fail "$1: not every document once"
	ctl check > "$T/out" || fail "$1: check: $(cat "$T/out")"
	sv=$(quired_pid)
	kill -TERM "$sv"
	wait_for 20 pid_gone "$sv" || fail "$1: quired did not stop"
	ix=$(stat -c %s "$DATA/index/data.mdb")
	q=$(stat -c %s "$DATA/queue/data.mdb")
}

r=1
while [ $r -le "$STORM_ROUNDS" ]; do
	round_file $r
	r=$((r + 1))
done
run calm 0
ix0=$ix q0=$q
run storm 1
[ "$kills" -ge $((STORM_KILLS * 9 / 10)) ] ||
    fail "only $kills kills"
cleared=$(sed -n 's/.*storm\/index: cleared \([0-9]*\) stale.*/\1/p' "$LOG" |
    awk '{ n += $1 } END { print n + 0 }')
echo "readerstorm: $kills kills, $cleared stale index slots cleared," \
    "$looks looks, at most $maxstale stale at once;" \
    "index $ix bytes ($ix0 calm), queue $q ($q0 calm)"
[ $((ix * 100)) -le $((ix0 * 125)) ] ||
    fail "the index grew to $ix bytes, $ix0 without kills"
[ $((q * 100)) -le $((q0 * 125)) ] ||
    fail "the queue grew to $q bytes, $q0 without kills"
exit 0
