#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# contrib/quired.init, run as root on a temporary configuration (its
# defaults file names the build's programs): LSB exit codes with the
# reason said, start that returns once the daemon answers or fails with
# the daemon's last words, reload seen in `quirectl status`, stop that
# leaves no process, pidfile or socket, the same with `user nobody`;
# and the systemd unit passes `systemd-analyze verify`.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

[ "$(id -u)" = 0 ] || skip "the init script test runs as root"
INIT=$TOPSRC/contrib/quired.init
# Never the system's own defaults file or its systemctl.
QUIRED_DEFAULTS=$T/default
_SYSTEMCTL_SKIP_REDIRECT=true
export QUIRED_DEFAULTS _SYSTEMCTL_SKIP_REDIRECT
# The pidfile in a run-time directory that start must make.
PIDFILE=$T/run/quired.pid
SOCK=$DATA/control.sock

cat > "$QUIRED_DEFAULTS" <<EOF
DAEMON=$QUIRED
QUIRECTL=$QUIRECTL
CONFIG=$CONF
START_TIMEOUT=20
STOP_TIMEOUT=20
EOF

# initd ACTION STATUS: run the script, fail unless it exits with STATUS.
initd() {
	_rc=0
	sh "$INIT" "$1" >"$T/out" 2>"$T/err" || _rc=$?
	[ "$_rc" = "$2" ] ||
	    fail "$1 exited $_rc, not $2: $(cat "$T/out" "$T/err")"
}

# Processes that map a file of the data directory: ours, and only ours
# (quired retitles its processes, so their command lines do not say).
ours() {
	grep -l "$DATA/" /proc/[0-9]*/maps 2>/dev/null || true
}

# stopped: no quired of ours, no pidfile, no socket.
stopped() {
	[ -z "$(ours)" ] || fail "$1: processes left: $(ours)"
	[ ! -e "$PIDFILE" ] || fail "$1: pidfile left"
	[ ! -e "$SOCK" ] || fail "$1: socket left"
}

# cycle: start, status, reload from 1 to 3 workers, stop.
cycle() {
	initd status 3
	grep -q "quired is not running" "$T/out" || fail "status: $(cat "$T/out")"
	initd start 0
	[ -n "$(ours)" ] || fail "start: no process maps $DATA"
	# start returned: the daemon answers now, without waiting.
	ctl workers >/dev/null || fail "start returned before quired answered"
	[ -d "$T/run" ] || fail "start did not make $T/run"
	pid=$(cat "$PIDFILE")
	initd start 0
	grep -q "already running, pid $pid" "$T/out" ||
	    fail "second start: $(cat "$T/out")"
	[ "$(cat "$PIDFILE")" = "$pid" ] || fail "second start replaced quired"
	initd status 0
	grep -q "quired is running, pid $pid" "$T/out" ||
	    fail "status: $(cat "$T/out")"
	ctl status | grep -q "target 1, running 1" ||
	    fail "not 1 worker: $(ctl status)"

	sed -i 's/^workers 1$/workers 3/' "$CONF"
	initd reload 0
	wait_for 20 sh -c "'$QUIRECTL' -D '$DATA' status |
	    grep -q 'target 3, running 3'" ||
	    fail "reload: not 3 workers: $(ctl status)"
	[ "$(cat "$PIDFILE")" = "$pid" ] || fail "reload restarted quired"
	sed -i 's/^workers 3$/workers 1/' "$CONF"

	initd stop 0
	pid_gone "$pid" || fail "stop left pid $pid"
	stopped stop
	initd status 3
	initd stop 0
	grep -q "not running" "$T/out" || fail "stop when stopped: $(cat "$T/out")"
}

write_conf "workers 1"
cycle
initd restart 0
initd status 0
initd stop 0
stopped restart

# --- Failures are said, with LSB's codes.
# A configuration error: not configured (6), status unknown (4).
echo "workers many" >> "$CONF"
initd start 6
grep -q "invalid configuration: .*workers many" "$T/err" ||
    fail "start with a bad configuration: $(cat "$T/out" "$T/err")"
initd status 4
grep -q "workers many" "$T/out" || fail "status: $(cat "$T/out")"
initd reload 6
sed -i '$d' "$CONF"

# The program missing: status 4, start 5, stop 0 (nothing to stop).
cp "$QUIRED_DEFAULTS" "$T/default.good"
echo "DAEMON=$T/no/quired" >> "$QUIRED_DEFAULTS"
initd status 4
grep -q "$T/no/quired is not installed" "$T/out" ||
    fail "status without the program: $(cat "$T/out")"
initd start 5
grep -q "$T/no/quired is not installed" "$T/err" ||
    fail "start without the program: $(cat "$T/out" "$T/err")"
initd stop 0
cp "$T/default.good" "$QUIRED_DEFAULTS"

# Reload when not running: 7.
initd reload 7

# The daemon fails once it has detached (queue/ is a file): start fails
# with the log's last line, and nothing runs.
write_conf "workers 1"
rm -rf "$DATA"
mkdir -p "$DATA"
: > "$DATA/queue"
initd start 1
grep -q "$LOG: .*cannot open the queue" "$T/err" ||
    fail "start of a dying daemon: $(cat "$T/out" "$T/err")"
initd status 3
[ -z "$(ours)" ] || fail "a dying start left processes: $(ours)"
rm -rf "$T/run" "$DATA"

# --- The same cycle as the service user, where it can reach its files.
if id nobody >/dev/null 2>&1; then
	chmod 0755 "$T"
	# The log in a directory of the user's own, for SIGUSR1's reopen.
	mkdir "$T/log"
	chown nobody "$T/log"
	LOG=$T/log/quired.log
	write_conf "workers 1" "user nobody"
	cycle
	[ "$(stat -c %U "$T/run")" = nobody ] ||
	    fail "the run-time directory is not nobody's"
else
	echo "no user nobody: the service user cycle is skipped" >&2
fi

# --- The systemd unit, with the build's programs.
if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s|/usr/sbin/quired|$QUIRED|" "$TOPSRC/contrib/quired.service" \
	    > "$T/quired.service"
	systemd-analyze verify --man=no "$T/quired.service" >"$T/out" 2>&1 ||
	    fail "systemd-analyze verify: $(cat "$T/out")"
else
	echo "no systemd-analyze: the unit is not verified" >&2
fi
echo ok
