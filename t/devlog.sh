#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# With nothing listening on /dev/log and no log-file, log lines are not
# lost: the daemon says once that syslog is unreachable, and the
# supervisor and its workers log to standard error, which it keeps in
# the background when that is a file; status shows the problem.  With
# standard error on /dev/null, status says the messages are lost.
#
# Where /dev/log answers, the test hides it in a private mount namespace
# (root, unshare): it runs itself again there with an empty file bound
# over /dev/log.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"

devlog_answers() {
	[ -S /dev/log ] || return 1
	command -v python3 >/dev/null 2>&1 || return 0
	python3 -c 'import socket; s = socket.socket(socket.AF_UNIX,
socket.SOCK_DGRAM); s.connect("/dev/log")' 2>/dev/null
}

if [ -z "${QUIRE_DEVLOG_HIDDEN:-}" ] && devlog_answers; then
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1; then
		echo "SKIP: /dev/log answers; hiding it needs root and" \
		    "unshare" >&2
		exit 77
	fi
	_empty=$(mktemp "${TMPDIR:-/tmp}/quire-devlog.XXXXXX")
	QUIRE_DEVLOG_HIDDEN=1 unshare -m --propagation private sh -c \
	    'mount --bind "$1" /dev/log && exec sh "$2"' sh "$_empty" "$0"
	_rc=$?
	rm -f "$_empty"
	exit $_rc
fi

. "$TOPSRC/t/lib.sh"
devlog_answers && fail "/dev/log still answers"

write_conf "workers 1"
sed -i '/^log-file /d' "$CONF"
ERR=$T/stderr

# Daemonized, standard error on a file: kept, and it gets the log.
"$QUIRED" -f "$CONF" 2>"$ERR" || fail "quired did not start: $(cat "$ERR")"
wait_for 10 test -S "$DATA/control.sock" || fail "no socket: $(cat "$ERR")"
sv=$(quired_pid)
grep -q "syslog unreachable (/dev/log: [A-Za-z ]*): logging to standard\
 error" "$ERR" || fail "no word about syslog: $(cat "$ERR")"
wait_for 10 grep -q "quired\[$sv\]: started: 1 workers" "$ERR" ||
    fail "the supervisor's log is not on standard error: $(cat "$ERR")"
ctl submit --debug fail >/dev/null
wait_for 10 grep -q "worker\[[0-9]*\]: job [0-9]* failed: debug failure" \
    "$ERR" || fail "the worker's log is not on standard error: $(cat "$ERR")"
ctl status > "$T/status"
grep -q "^log: syslog unreachable (/dev/log: .*): logging to standard\
 error$" "$T/status" || fail "status: $(cat "$T/status")"
status_json .fleet.log_problem | grep -q "^syslog unreachable" ||
    fail "status --json: $(ctl status --json)"

# Said once: not again on SIGUSR1, nor by the workers.
kill -USR1 "$sv"
wait_for 10 grep -q "SIGUSR1: log reopened" "$ERR" ||
    fail "no SIGUSR1 line: $(cat "$ERR")"
[ "$(grep -c "syslog unreachable" "$ERR")" = 1 ] ||
    fail "said more than once: $(grep "syslog unreachable" "$ERR")"
kill -TERM "$sv"
wait_for 20 pid_gone "$sv" || fail "quired did not stop"
grep -q "quired\[$sv\]: stopped" "$ERR" || fail "no 'stopped': $(cat "$ERR")"

# Standard error on /dev/null: status says the messages are lost.
"$QUIRED" -f "$CONF" 2>/dev/null || fail "quired did not start"
wait_for 10 test -S "$DATA/control.sock" || fail "no socket"
ctl status > "$T/status"
grep -q "^log: syslog unreachable (/dev/log: .*): log messages are lost;\
 set log-file$" "$T/status" || fail "status: $(cat "$T/status")"
sv=$(quired_pid)
kill -TERM "$sv"
wait_for 20 pid_gone "$sv" || fail "quired did not stop"
exit 0
