#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# One owner per data directory: a second quired with its own pidfile and
# socket, or a foreground `quirectl ingest` fleet, is refused on a data
# directory a daemon holds, with the holder's pid; and a daemon never
# takes over (unlinks) a socket on which another daemon answers.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

write_conf "workers 1"
start_quired
sv=$(quired_pid)

# The same data directory, another pidfile and socket.
cat > "$T/two.conf" <<CONF
datadir $DATA
pidfile $T/two.pid
log-file $T/two.log
control-socket $T/two.sock
CONF
expect_exit 1 "$QUIRED" -f "$T/two.conf"
grep -q "quired: $DATA is in use by another quired (pid $sv)" "$T/err" ||
    fail "second daemon: $(cat "$T/err")"
[ ! -e "$T/two.pid" ] || fail "the refused daemon left its pidfile"
ctl status > /dev/null || fail "the first daemon stopped answering"

# A foreground ingest fleet on it is refused too; nothing is lost.
"$QUIRED" -d -f "$T/two.conf" > "$T/out" 2>&1 && fail "foreground fleet ran"
grep -q "is in use by another quired (pid $sv)" "$T/out" ||
    fail "foreground: $(cat "$T/out")"

# Another data directory, the same socket: refused, the socket kept.
cat > "$T/three.conf" <<CONF
datadir $T/data3
pidfile $T/three.pid
log-file $T/three.log
control-socket $DATA/control.sock
CONF
expect_exit 1 "$QUIRED" -f "$T/three.conf"
grep -q "cannot open the admin socket $DATA/control.sock" "$T/err" ||
    fail "third daemon: $(cat "$T/err")"
grep -q "another daemon answers on $DATA/control.sock" "$T/three.log" ||
    fail "third daemon's log: $(cat "$T/three.log")"
test -S "$DATA/control.sock" || fail "the first daemon's socket is gone"
ctl status > /dev/null || fail "the first daemon stopped answering"

# Once the first has gone, the directory is free.
kill -TERM "$sv"
wait_for 10 pid_gone "$sv" || fail "the first daemon did not stop"
"$QUIRED" -f "$T/two.conf" || fail "the directory is still held"
wait_for 10 test -s "$T/two.pid" || fail "no pidfile"
two=$(cat "$T/two.pid")
kill -TERM "$two"
wait_for 10 pid_gone "$two" || fail "the second daemon did not stop"
echo "datadir: one owner"
