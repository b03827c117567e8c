#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Out of descriptors (defect 7): with its soft RLIMIT_NOFILE lowered under
# what it holds (prlimit), the supervisor does not spin (CPU ticks over
# 2 s stay low), logs the shortage at most once a second, still answers
# status with the descriptor it keeps in reserve, says "degraded" and
# why, and starts the missing worker once the limit is raised again.
# quirectl gives up on a daemon that does not answer: a connect timeout
# (QUIRECTL_CONNECT_TIMEOUT) and a reply timeout (QUIRECTL_TIMEOUT).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

command -v prlimit >/dev/null 2>&1 || skip "no prlimit"
command -v ss >/dev/null 2>&1 || skip "no ss (iproute2)"

# Clock ticks (user + system) the process used so far.
ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

write_conf "workers 2"
start_quired
sv=$(quired_pid)
wait_for 10 status_is .fleet.running 2 || fail "no workers"
nfd=$(ls "/proc/$sv/fd" | wc -l)
lim=$((nfd - 6))
prlimit --pid "$sv" --nofile="$lim": ||
    skip "prlimit cannot change the limit of pid $sv"
lines0=$(wc -l < "$LOG")
# A worker dies: there is no descriptor for its replacement's socket.
victim=$(worker_pids | head -1)
kill -KILL "$victim"
sleep 0.5
# A client connects meanwhile, and more wait in the backlog.
for i in 1 2 3; do
	QUIRECTL_TIMEOUT=10 ctl status > "$T/bg$i" 2>&1 &
done
t0=$(ticks "$sv")
sleep 2
t1=$(ticks "$sv")
wait
hz=$(getconf CLK_TCK)
# A spinning loop burns about 2 s of CPU (2 * hz ticks) here.
[ $((t1 - t0)) -le $((hz / 4)) ] ||
    fail "the supervisor used $((t1 - t0)) ticks of $hz in 2 s"
for i in 1 2 3; do
	grep -q '^fleet: pid' "$T/bg$i" || fail "status $i: $(cat "$T/bg$i")"
done

# status answers (on the reserve descriptor), degraded and why.
ctl status --json > "$T/st" || fail "status failed while short"
jq -e '.fleet.degraded == true and
    (.fleet.degraded_reason | test("out of file descriptors")) and
    .fleet.running == 1' "$T/st" >/dev/null ||
    fail "while short: $(jq -c .fleet "$T/st")"
ctl status | grep -q 'degraded (out of file descriptors' ||
    fail "text status: $(ctl status)"
# At most about a line a second, with how many were held back.
lines=$(($(wc -l < "$LOG") - lines0))
[ "$lines" -le 12 ] || fail "$lines log lines in about 3 s"
grep -q 'Too many open files.*more not logged' "$LOG" ||
    fail "the shortage is not logged"

# The limit goes up: the slot's worker starts, and degraded clears.
prlimit --pid "$sv" --nofile=1024: || fail "cannot raise the limit"
wait_for 40 status_is .fleet.running 2 || fail "no worker after the raise"
wait_for 10 status_is .fleet.degraded false ||
    fail "still degraded: $(ctl status --json | jq -c .fleet)"
status_is .fleet.degraded_reason null || fail "a reason without degraded"

# quirectl's own timeouts, against a daemon that is stopped: the reply,
# then the connection once the backlog is full.
kill -STOP "$sv"
expect_exit 1 env QUIRECTL_TIMEOUT=1 "$QUIRECTL" -D "$DATA" status
grep -q 'no reply within 1s' "$T/err" || fail "reply timeout: $(cat "$T/err")"
i=0
while [ $i -lt 24 ]; do
	QUIRECTL_TIMEOUT=4 QUIRECTL_CONNECT_TIMEOUT=4 ctl workers \
	    >/dev/null 2>&1 &
	i=$((i + 1))
done
# The backlog is full when the listening socket holds more connections
# than its backlog (ss: Recv-Q over Send-Q).
backlog_full() {
	ss -xlH src "$DATA/control.sock" | awk '{ exit !($3 > $4) }'
}
wait_for 30 backlog_full || fail "the backlog did not fill: $(ss -xl)"
expect_exit 1 env QUIRECTL_CONNECT_TIMEOUT=1 "$QUIRECTL" -D "$DATA" status
grep -q 'no connection within 1s' "$T/err" ||
    fail "connect timeout: $(cat "$T/err")"
kill -CONT "$sv"
wait
ctl status >/dev/null || fail "no status after SIGCONT"
expect_exit 2 env QUIRECTL_TIMEOUT=x "$QUIRECTL" -D "$DATA" status
echo "fdlimit: $((t1 - t0)) ticks in 2 s while short, $lines log lines"
exit 0
