#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# quirectl top.  Off a terminal, -n 2 prints two snapshots a blank line
# apart, each with the daemon's pid, the queue and one line per live
# worker, and rates from the second on.  On a terminal (script(1) makes
# one) it redraws in place until q or Control-C and leaves the terminal
# in the modes it found.  Without a daemon it says so and exits 1.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

ESC=$(printf '\033')

# A short drain-timeout: the test stops the daemon with jobs running.
write_conf "workers 2" "claim-batch 1" "drain-timeout 1s"
ctl submit --debug 'sleep 600000' --count 6 >/dev/null
start_quired
sv=$(quired_pid)

busy() {
	[ "$(ctl workers --json |
	    jq '[.workers[] | select(.state == "busy")] | length')" -eq 2 ]
}
wait_for 10 busy || fail "two workers are not busy"
worker_pids | sort > "$T/pids"
[ "$(wc -l < "$T/pids")" -eq 2 ] || fail "workers: $(cat "$T/pids")"

# The pids in a snapshot's worker table, sorted, and its busy workers.
table_pids() {
	awk '/^SLOT / { on = 1; next } /^$/ { on = 0 } on { print $2 }' "$1" |
	    sort
}
table_busy() {
	awk '/^SLOT / { on = 1; next } /^$/ { on = 0 }
	    on && $3 == "busy" && $4 ~ /^[0-9]+$/ { n++ } END { print n + 0 }' \
	    "$1"
}

# Snapshots: stdout is a file.
expect_exit 0 ctl top -n 2 -d 0.5
[ -s "$T/err" ] && fail "top wrote on stderr: $(cat "$T/err")"
grep -q "$ESC" "$T/out" && fail "escapes in a snapshot: $(cat -v "$T/out")"
[ "$(grep -c "^quired pid $sv, up " "$T/out")" -eq 2 ] ||
    fail "two headers with pid $sv: $(cat "$T/out")"
[ "$(head -1 "$T/out" | cut -c1-11)" = "quired pid " ] ||
    fail "first line: $(head -1 "$T/out")"
awk -v d="$T/snap" '/^quired pid / { n++ } { print > (d "." n) }' "$T/out"
[ -f "$T/snap.2" ] && [ ! -f "$T/snap.3" ] || fail "not two snapshots"
[ "$(tail -1 "$T/snap.1")" = "" ] || fail "no blank line between snapshots"
for s in 1 2; do
	f=$T/snap.$s
	grep -q "^memory: limit " "$f" || fail "snapshot $s: no memory line"
	grep -q "^jobs: ready [0-9]" "$f" || fail "snapshot $s: no jobs line"
	grep -Eq '^SLOT +PID +STATE +JOB +AGE +ANON +JOBS +GEN +PHASE$' "$f" ||
	    fail "snapshot $s: no worker table: $(cat "$f")"
	table_pids "$f" | cmp -s - "$T/pids" ||
	    fail "snapshot $s: workers $(table_pids "$f" | tr '\n' ' ')," \
	    "not $(tr '\n' ' ' < "$T/pids")"
	[ "$(table_busy "$f")" -eq 2 ] ||
	    fail "snapshot $s: two workers not busy: $(cat "$f")"
done
rate='\([+-][0-9.]+/s\)'
grep -Eq "$rate" "$T/snap.1" && fail "a rate on the first snapshot"
grep -Eq "^jobs: ready [0-9]+ $rate .* done [0-9]+ $rate" "$T/snap.2" ||
    fail "no rates on the second: $(grep ^jobs "$T/snap.2")"

# Bad command lines.
expect_exit 2 ctl top -d 0
expect_exit 2 ctl top -d 1x
expect_exit 2 ctl top -n 0
expect_exit 2 ctl top extra

# On a terminal, until a key: q, then Control-C (the line discipline
# makes it SIGINT).  Each is sent without a newline and stdin is held
# open until stty has run, so that only a terminal in non-canonical mode
# passes q on (at end of file script(1) would send an EOF that pushes it
# through).  stty, run in the same terminal after top, shows the modes
# back.
if command -v script >/dev/null 2>&1; then
	frames() {
		grep -c "$ESC\[H$ESC\[2J" "$T/tty" 2>/dev/null || true
	}
	two_frames() {
		[ "$(frames)" -ge 2 ]
	}
	stty_ran() {
		grep -q icanon "$T/tty"
	}
	for key in q '\003'; do
		: > "$T/tty"
		rc=0
		# The shell's trap keeps it alive through SIGINT to run stty.
		(wait_for 5 two_frames || true
		    printf "$key"
		    wait_for 10 stty_ran) |
		    SHELL=/bin/sh timeout 8 script -qefc "trap : INT;
		    '$QUIRECTL' -D '$DATA' top -d 0.2; rc=\$?; stty -a;
		    exit \$rc" /dev/null > "$T/tty" 2>&1 || rc=$?
		[ "$rc" -eq 0 ] || fail "top on a terminal, key $key: exit" \
		    "$rc$( [ "$rc" -eq 124 ] && echo ', timed out')" \
		    "$(tail -5 "$T/tty" | cat -v)"
		[ "$(frames)" -ge 2 ] || fail "key $key: not redrawn in place"
		for pid in $(cat "$T/pids"); do
			grep -q " $pid " "$T/tty" ||
			    fail "key $key: worker $pid not shown"
		done
		grep -q "$ESC\[?25h" "$T/tty" ||
		    fail "key $key: the cursor is not shown again"
		grep -Eq '(^|[[:space:]])icanon([[:space:]]|$)' "$T/tty" &&
		    grep -Eq '(^|[[:space:]])echo([[:space:]]|$)' "$T/tty" ||
		    fail "key $key: terminal modes not restored:" \
		    "$(grep -E 'icanon|echo' "$T/tty")"
	done
else
	echo "no script(1): top on a terminal not tested" >&2
fi

# No daemon.
kill -TERM "$sv"
wait_for 15 eval '[ ! -f "$PIDFILE" ]' || fail "quired did not stop"
expect_exit 1 ctl top
[ -s "$T/out" ] && fail "top without a daemon printed: $(cat "$T/out")"
grep -q "^quirectl: top: no daemon answers on .*control.sock$" "$T/err" ||
    fail "without a daemon: $(cat "$T/err")"
exit 0
