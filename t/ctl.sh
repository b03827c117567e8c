#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Everyday quirectl: -f takes the data directory and the socket from the
# daemon's configuration (-D and QUIRE_DATADIR still win).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

printf 'hello world\n' > "$T/doc.txt"

# --- -f: the data directory of the configuration, not /var/lib/quire.
write_conf "control-socket $T/admin.sock"
expect_exit 0 "$QUIRECTL" -f "$CONF" submit "$T/doc.txt"
[ -f "$DATA/queue/data.mdb" ] || fail "-f did not use the datadir of $CONF"
expect_exit 0 "$QUIRECTL" -f "$CONF" jobs --json
[ "$(jq '.jobs | length' "$T/out")" = 1 ] ||
    fail "-f CONF jobs: $(cat "$T/out")"
# -D and QUIRE_DATADIR win over the configuration.
expect_exit 0 "$QUIRECTL" -f "$CONF" -D "$T/other" submit "$T/doc.txt"
[ -f "$T/other/queue/data.mdb" ] || fail "-D did not win over -f"
expect_exit 0 env QUIRE_DATADIR="$T/third" "$QUIRECTL" -f "$CONF" \
    submit "$T/doc.txt"
[ -f "$T/third/queue/data.mdb" ] || fail "QUIRE_DATADIR did not win over -f"
# The daemon's control-socket too.
"$QUIRED" -f "$CONF" || fail "quired did not start"
wait_for 10 test -S "$T/admin.sock" || fail "no socket $T/admin.sock"
wait_for 10 test -s "$PIDFILE" || fail "no pidfile"
expect_exit 0 "$QUIRECTL" -f "$CONF" workers --json
jq -e '.workers | length > 0' "$T/out" >/dev/null ||
    fail "-f CONF workers: $(cat "$T/out")"
kill -TERM "$(quired_pid)"
wait_for 20 test ! -e "$PIDFILE" || fail "quired did not stop"

exit 0
