#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Under "user", root gives the admin socket to the service user after the
# bind, in a directory that user owns.  If the user swaps a hard link to a
# file of root's in at the socket's name meanwhile, root must not give
# that file away.  strace holds the chown back a second (delay_enter) so
# the test can make the swap; the file must still be root's after it.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
use_strace

[ "$(id -u)" = 0 ] || skip "running as a service user needs root"
id nobody >/dev/null 2>&1 || skip "no user nobody"
getent group nogroup >/dev/null 2>&1 || skip "no group nogroup"
strace -f -o /dev/null -e inject=fchownat:delay_enter=1000 true \
    2>/dev/null || skip "strace cannot delay system calls here"
command -v setpriv >/dev/null 2>&1 || skip "no setpriv"
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$QUIRED" ||
    skip "nobody cannot run $QUIRED"

chmod 0755 "$T"
mkdir "$T/log" "$T/run" "$DATA"
chown nobody:nogroup "$T/log" "$T/run" "$DATA"
LOG=$T/log/quired.log
SOCK=$DATA/control.sock
echo secret > "$T/rootfile"
chmod 0600 "$T/rootfile"
write_conf "workers 1" "user nobody" "group nogroup" "runtime-dir $T/run" \
    "pidfile $T/run/quired.pid"
sed -i "s|^pidfile $PIDFILE\$||" "$CONF"
PIDFILE=$T/run/quired.pid

strace -f -o /dev/null -e trace=fchownat \
    -e inject=fchownat:delay_enter=1000000:when=1 \
    "$QUIRED" -d -f "$CONF" 2>>"$T/quired.stderr" &
SPID=$!
wait_for 10 test -S "$SOCK" || fail "no socket $SOCK: $(cat "$T/quired.stderr")"
# The supervisor is now inside the delayed chown of the socket.
rm -f "$SOCK"
ln "$T/rootfile" "$SOCK"
sleep 1.5
[ "$(stat -c %U "$T/rootfile")" = root ] ||
    fail "root gave away its file: $(stat -c %U:%G "$T/rootfile")"
if [ -s "$PIDFILE" ]; then
	kill -TERM "$(cat "$PIDFILE")" 2>/dev/null || true
fi
wait "$SPID" 2>/dev/null || true
exit 0
