#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Running as a service user (user nobody, group nogroup) on a data
# directory and a log file that root made first, as after a first start
# without "user".  quired refuses to start, with the exact chown to run,
# while the log directory or the data directory is root's; once the
# commands are run it starts, puts its pidfile and socket in a runtime
# directory it makes for the user, reopens the log on SIGUSR1 in the
# supervisor, the workers and the merger after the file was moved away,
# and leaves neither pidfile nor socket after a stop.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

[ "$(id -u)" = 0 ] || skip "running as a service user needs root"
id nobody >/dev/null 2>&1 || skip "no user nobody"
getent group nogroup >/dev/null 2>&1 || skip "no group nogroup"
command -v setpriv >/dev/null 2>&1 || skip "no setpriv"
# The daemon execs itself again as nobody: its path must let it.
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$QUIRED" ||
    skip "nobody cannot run $QUIRED"

chmod 0755 "$T"
mkdir "$T/log"
LOG=$T/log/quired.log
RUN=$T/run
SOCK=$RUN/quired.sock
ctl() {
	"$QUIRECTL" -D "$DATA" -s "$SOCK" "$@"
}

# --- A first start as root makes the data directory and the log.
write_conf "control-socket $SOCK" "runtime-dir $RUN" "merge yes"
"$QUIRED" -f "$CONF" || fail "quired did not start as root"
wait_for 10 test -S "$SOCK" || fail "no socket $SOCK"
[ "$(stat -c %U "$RUN")" = root ] || fail "$RUN is not root's"
pid=$(quired_pid)
ctl submit --debug fail >/dev/null || fail "submit as root"
wait_for 10 grep -q "job [0-9]* failed: debug failure" "$LOG" ||
    fail "no job ran as root"
kill -TERM "$pid"
wait_for 20 pid_gone "$pid" || fail "quired as root did not stop"
[ "$(stat -c %U "$DATA/queue")" = root ] || fail "the queue is not root's"

# --- As nobody: refused, with the command that fixes it, first for the
# log directory and then for the data directory.
PIDFILE=$RUN/quired.pid
write_conf "control-socket $SOCK" "runtime-dir $RUN" "merge yes" \
    "workers 2" "log-level debug" "user nobody" "group nogroup" \
    "control-socket-mode 0640" "control-socket-group nogroup"
expect_exit 1 "$QUIRED" -f "$CONF"
want="quired: log-file $LOG: nobody cannot create files in $T/log, so\
 SIGUSR1 could not reopen the log after a rotation; give the log a\
 directory of its own: as root, run: chown nobody:nogroup $T/log"
[ "$(cat "$T/err")" = "$want" ] ||
    fail "refusal for the log directory: $(cat "$T/err")"
cmd=${want##*run: }
$cmd
expect_exit 1 "$QUIRED" -f "$CONF"
grep -qx "quired: $DATA/[a-z./]* belongs to root, not to nobody; as root,\
 run: chown -R -h nobody:nogroup $DATA" "$T/err" ||
    fail "refusal for the data directory: $(cat "$T/err")"
[ -e "$PIDFILE" ] && fail "a refused start left $PIDFILE"
pgrep -f "$T/" >/dev/null && fail "a refused start left a process"
cmd=$(sed 's/.*run: //' "$T/err")
$cmd

# --- Now it starts, as nobody, with pidfile and socket in the runtime
# directory, which nobody owns.
"$QUIRED" -f "$CONF" || fail "quired did not start as nobody: see $LOG"
wait_for 10 test -S "$SOCK" || fail "no socket $SOCK"
wait_for 10 test -s "$PIDFILE" || fail "no pidfile $PIDFILE"
sv=$(quired_pid)
[ "$(ps -o user= -p "$sv")" = nobody ] ||
    fail "the supervisor runs as $(ps -o user= -p "$sv")"
[ "$(stat -c '%U:%G %a' "$RUN")" = "nobody:nogroup 755" ] ||
    fail "runtime directory: $(stat -c '%U:%G %a' "$RUN")"
[ "$(stat -c %U "$LOG")" = nobody ] || fail "$LOG is $(stat -c %U "$LOG")'s"
[ "$(stat -c '%U:%G %a' "$SOCK")" = "nobody:nogroup 640" ] ||
    fail "admin socket: $(stat -c '%U:%G %a' "$SOCK")"

merger_pid() {
	ps -o pid=,args= --ppid "$sv" | awk '$NF == "merger" { print $1 }'
}
has_merger() {
	[ -n "$(merger_pid)" ]
}
workers_up() {
	[ "$(worker_pids | wc -l)" -eq 2 ]
}
wait_for 10 has_merger || fail "no merger: $(ps -o pid=,args= --ppid "$sv")"
wait_for 10 workers_up || fail "workers not up: $(ctl workers)"
m=$(merger_pid)
w=$(worker_pids)

# --- Log rotation: every process writes to a new file at the old name.
mv "$LOG" "$LOG.1"
kill -USR1 "$sv"
wait_for 10 grep -q "SIGUSR1: log reopened" "$LOG" ||
    fail "the supervisor did not reopen its log: $(grep SIGUSR1 "$LOG.1")"
for p in $w; do
	wait_for 10 grep -q "worker\[$p\]: child_reopen: log reopened" \
	    "$LOG" || fail "worker $p did not reopen the log"
done
wait_for 10 grep -q "merger\[$m\]: child_reopen: log reopened" "$LOG" ||
    fail "the merger (pid $m) did not reopen the log"
grep -q "Permission denied" "$LOG" "$LOG.1" &&
    fail "permission denied: $(grep -h "Permission denied" "$LOG" "$LOG.1")"
# Workers write the queue that root made first.
ctl submit --debug fail >/dev/null || fail "submit as nobody"
wait_for 10 grep -q "worker\[[0-9]*\]: job [0-9]* failed: debug failure" \
    "$LOG" || fail "no worker ran a job as nobody"

# --- A stop leaves neither pidfile nor socket.
kill -TERM "$sv"
wait_for 20 pid_gone "$sv" || fail "quired did not stop"
[ -e "$PIDFILE" ] && fail "the pidfile is left after stop"
[ -e "$SOCK" ] && fail "the socket is left after stop"
grep -q "stopped" "$LOG" || fail "no 'stopped' in the log"
exit 0
