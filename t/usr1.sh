#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Log rotation as contrib/quired.logrotate does it: the log file is moved
# away and the supervisor gets SIGUSR1.  Then the supervisor, every worker
# and the merger write to a new file at the old name, a job that fails
# after the rotation is logged there and not in the rotated file, and no
# process keeps the rotated file open.  Children are not dumpable, so
# their descriptors can be read only by root; the last check needs it.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

write_conf "workers 2" "merge yes" "log-level debug"
start_quired
sv=$(quired_pid)

# The merger is the supervisor's child that setproctitle names so.
merger_pid() {
	ps -o pid=,args= --ppid "$sv" | awk '$NF == "merger" { print $1 }'
}
has_merger() {
	[ -n "$(merger_pid)" ]
}
workers_up() {
	[ "$(worker_pids | wc -l)" -eq 2 ]
}
# fds PID: what the process's descriptors point at, one a line.
fds() {
	for _fd in /proc/"$1"/fd/*; do
		readlink "$_fd" 2>/dev/null || true
	done
}
# has_open PID FILE: the process holds FILE open.
has_open() {
	fds "$1" | grep -qx "$2"
}

wait_for 10 has_merger || fail "no merger: $(ps -o pid=,args= --ppid "$sv")"
wait_for 10 workers_up || fail "workers not up: $(ctl workers)"
m=$(merger_pid)
w=$(worker_pids)
readable=0
if [ -r /proc/"$m"/fd ] && ls /proc/"$m"/fd >/dev/null 2>&1; then
	readable=1
	# Before the rotation every child writes to the log: the check
	# below can fail.
	for p in $m $w; do
		wait_for 10 has_open "$p" "$LOG" ||
		    fail "process $p does not hold $LOG: $(fds "$p")"
	done
else
	echo "not root: descriptors of children not checked" >&2
	sleep 1
fi

mv "$LOG" "$LOG.1"
kill -USR1 "$sv"
wait_for 10 grep -q "SIGUSR1: log reopened" "$LOG" ||
    fail "the supervisor did not reopen its log"

# Each child reopens in its loop and says so (at debug level).
for p in $w; do
	wait_for 10 grep -q "worker\[$p\]: child_reopen: log reopened" "$LOG" ||
	    fail "worker $p did not reopen the log"
done
wait_for 10 grep -q "merger\[$m\]: child_reopen: log reopened" "$LOG" ||
    fail "the merger (pid $m) did not reopen the log"

# A worker logs a failed job in the new file only.
ctl submit --debug fail >/dev/null
wait_for 10 grep -q "worker\[[0-9]*\]: job [0-9]* failed: debug failure" \
    "$LOG" || fail "no worker logged the failed job in the new file"
grep -q "job [0-9]* failed" "$LOG.1" &&
    fail "a worker logged into the rotated file"

if [ "$readable" = 1 ]; then
	for p in "$sv" $m $w; do
		fds "$p" | grep -q 'log\.1$' &&
		    fail "process $p still holds the rotated log: $(fds "$p")"
		has_open "$p" "$LOG" ||
		    fail "process $p does not hold the new log: $(fds "$p")"
	done
fi
exit 0
