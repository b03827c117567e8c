# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Shared by the shell tests: a private temporary directory, a real quired
# started on it, and helpers to wait for what a user would see.  Every
# test sources this file; nothing here touches a fixed path.

set -eu

: "${QUIRED:=$(pwd)/quired}"
: "${QUIRECTL:=$(pwd)/quirectl}"
: "${TMPDIR:=/tmp}"

T=$(mktemp -d "$TMPDIR/quire-test.XXXXXX")
DATA=$T/data
CONF=$T/quired.conf
LOG=$T/quired.log
PIDFILE=$T/quired.pid

cleanup() {
	cg_remove
	pg_stop
	# A supervisor left stopped (SIGSTOP) hears nothing until continued;
	# one still there after its grace (half a second, or until it is
	# gone) is killed (its title no longer names $T, so the pkill below
	# would miss it).
	# Tests of several daemons keep their pidfiles beneath $T too
	# (PostgreSQL's is not a daemon of ours: pg_stop saw to it).
	_pids=
	for _pid in $(find "$T" -maxdepth 3 -name '*.pid' \
	    ! -name postmaster.pid -exec head -q -n 1 {} + 2>/dev/null |
	    grep -x '[0-9][0-9]*'); do
		case $(tr '\0' ' ' < "/proc/$_pid/cmdline" 2>/dev/null) in
		quired*)	_pids="$_pids $_pid" ;;
		esac
	done
	if [ -n "$_pids" ]; then
		for _pid in $_pids; do
			pkill -CONT -P "$_pid" 2>/dev/null || true
		done
		kill -CONT $_pids 2>/dev/null || true
		kill -QUIT $_pids 2>/dev/null || true
		_i=0
		for _pid in $_pids; do
			while [ $_i -lt 10 ] && kill -0 "$_pid" 2>/dev/null; do
				sleep 0.05
				_i=$((_i + 1))
			done
		done
		kill -9 $_pids 2>/dev/null || true
	fi
	pkill -9 -f "$T/" 2>/dev/null || true
	if [ -n "${QUIRE_TEST_LOCKS:-}" ]; then
		flock -u 8 || true
		flock -u 7 || true
	fi
	if [ "${KEEP:-0}" = 0 ]; then
		rm -rf "$T"
	else
		echo "kept $T" >&2
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Under make check (t/run.sh) a memory test holds make check's locks
# itself, in this shell: the room shared on descriptor 8 from here, as
# any other test holds it, so that what it prepares is built beside the
# others; then, from its cg_make on, the gate (descriptor 7) and the room
# exclusive (tests_alone).  It gives the room up before it waits for the
# gate, so that two memory tests never wait for each other.  Daemons it
# starts share these descriptions: cleanup unlocks them explicitly.
if [ -n "${QUIRE_TEST_LOCKS:-}" ]; then
	exec 7>>"$QUIRE_TEST_LOCKS/tests-gate.lock" \
	    8>>"$QUIRE_TEST_LOCKS/tests-room.lock"
	flock -s 8
fi

tests_alone() {
	[ -n "${QUIRE_TEST_LOCKS:-}" ] || return 0
	flock -u 8
	flock -x 7
	flock -x 8
}

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$LOG" ]; then
		echo "--- last lines of $LOG" >&2
		tail -40 "$LOG" >&2
	fi
	exit 1
}

# Write a configuration: the common lines, then the test's own ($@).
# HTTP is off unless the test has a listen line (the default port would
# be shared by tests running at once).
write_conf() {
	{
		echo "datadir $DATA"
		echo "pidfile $PIDFILE"
		echo "log-file $LOG"
		echo "debug-jobs yes"
		case " $* " in
		*" listen "*)	;;
		*)		echo "listen none" ;;
		esac
		for line in "$@"; do
			echo "$line"
		done
	} > "$CONF"
}

# host NAME: lib.sh's paths (DATA, CONF, LOG, PIDFILE) are those of host
# NAME, in $T/NAME, for tests of several daemons; cleanup stops them all.
host() {
	mkdir -p "$T/$1"
	DATA=$T/$1/data
	CONF=$T/$1/quired.conf
	LOG=$T/$1/quired.log
	PIDFILE=$T/$1/quired.pid
}

# hctl H ARGS...: quirectl with host H's configuration.
hctl() {
	_h=$1
	shift
	"$QUIRECTL" -f "$T/$_h/quired.conf" "$@"
}

ctl() {
	"$QUIRECTL" -D "$DATA" "$@"
}

# search_ids ARGS...: the ids of `quirectl search --json ARGS`'s hits,
# best first, space separated; $T/hits keeps the JSON.
search_ids() {
	ctl search --json "$@" > "$T/hits" ||
	    fail "search $* failed: $(cat "$T/hits")"
	jq -r '[.hits[].id] | join(" ")' "$T/hits"
}

# Start quired in the background (daemonized) and wait for the socket.
start_quired() {
	"$QUIRED" -f "$CONF" "$@" || fail "quired did not start"
	wait_for 10 test -S "$DATA/control.sock"
	wait_for 10 test -s "$PIDFILE"
}

quired_pid() {
	cat "$PIDFILE"
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	_limit=$(( $1 * 10 ))
	shift
	_i=0
	while ! "$@" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ "$_i" -ge "$_limit" ] && return 1
		sleep 0.1
	done
	return 0
}

# A number from `quirectl status --json`, by jq path (e.g. .jobs.done).
status_json() {
	ctl status --json | jq -r "$1"
}

# status_is PATH VALUE: for wait_for.
status_is() {
	[ "$(status_json "$1")" = "$2" ]
}

# Zombie children of a pid.
zombies_of() {
	ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z' || true
}

# pid_gone PID: the process has exited (a zombie not yet reaped counts).
pid_gone() {
	kill -0 "$1" 2>/dev/null || return 0
	case "$(ps -o stat= -p "$1" 2>/dev/null)" in
	Z*)	return 0 ;;
	esac
	return 1
}

# Milliseconds, for the few bounds the design states in time.
now_ms() {
	date +%s%3N
}

# --- HTTP.  The port the http child listens on, from the supervisor's
# log line "http: listening on 127.0.0.1:PORT" (listen 127.0.0.1:0).
http_port() {
	wait_for 10 grep -q "http: listening on " "$LOG" ||
	    fail "no http listening line in the log"
	grep -o "http: listening on 127.0.0.1:[0-9]*" "$LOG" | tail -1 |
	    sed 's/.*://'
}

# hreq METHOD PATH [CURL-ARGS...]: a request to the http child on
# $HPORT; the body goes to $T/hbody, the headers to $T/hheaders, the
# status code to standard output.
hreq() {
	_m=$1
	_p=$2
	shift 2
	curl -s -o "$T/hbody" -D "$T/hheaders" -w '%{http_code}' -X "$_m" \
	    "$@" "http://127.0.0.1:$HPORT$_p"
}

# http_is CODE METHOD PATH [CURL-ARGS...]: hreq within 30 s, and fail
# unless the reply has that status.
http_is() {
	_want=$1
	_m=$2
	_p=$3
	shift 3
	_got=$(hreq "$_m" "$_p" --max-time 30 "$@") || true
	[ "$_got" = "$_want" ] ||
	    fail "$_m $_p: status $_got, not $_want: $(head -c 300 "$T/hbody")"
}

# A field of the last reply's JSON body, by jq filter.
body() {
	jq -r "$1" < "$T/hbody"
}

# The pid of the http child.
http_pid() {
	pgrep -f "^quired: http" -P "$(quired_pid)" | head -1
}

# Pids of the live workers, one a line.
# traced PID: whether a tracer (strace -p) is attached to PID.
traced() {
	[ "$(awk '$1 == "TracerPid:" { print $2 }' "/proc/$1/status" \
	    2>/dev/null)" -gt 0 ]
}

worker_pids() {
	ctl workers --json |
	    jq -r '.workers[] | select(.slot >= 0 and .pid != 0) | .pid'
}

# Start quired in the foreground (-d) as a background job of this shell,
# so that `wait "$QPID"` gives its exit status; wait until it answers.
start_quired_fg() {
	"$QUIRED" -d -f "$CONF" "$@" 2>>"$T/quired.stderr" &
	QPID=$!
	wait_for 10 ctl workers || fail "quired -d did not start"
}

# expect_exit STATUS COMMAND...: run COMMAND with its output in $T/out and
# $T/err, and fail unless it exits with STATUS.
expect_exit() {
	_want=$1
	shift
	_rc=0
	"$@" >"$T/out" 2>"$T/err" || _rc=$?
	if [ "$_rc" != "$_want" ]; then
		fail "$* exited $_rc, not $_want: $(cat "$T/err")"
	fi
}

# --- Memory cgroups for the pressure tests.  cg_make NAME LIMIT makes a
# group of the test's own (v2 where the unified hierarchy has the memory
# controller, else v1) and sets CG to its directory; the exit trap kills
# what is left in it and removes it.  Without a writable controller, or
# with QUIRE_MEMORY_TESTS=0, the test is skipped (exit 77).
CG=
CGV=

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# A private PostgreSQL for one test (the queue's postgresql backend):
# Debian's initdb and pg_ctl (/usr/lib/postgresql/VERSION/bin) on a
# cluster in $T/pg, listening on no TCP port, only on a socket in that
# directory, with fsync on; pg_start sets PGDSN, a libpq connection
# string for its database "postgres" as the superuser "quire" (local
# connections are trusted: no one else can reach the socket's
# directory).  As root the server runs as the user postgres, which owns
# the directory.  cleanup stops it, also after a failure.  Without the
# binaries, or with QUIRE_PG_TESTS=0 (CI runs them once, not in every
# pass), the test is skipped.
PGDIR=
PGRUN=
PGBIN=

pg_start() {
	[ "${QUIRE_PG_TESTS:-1}" != 0 ] ||
	    skip "PostgreSQL tests off (QUIRE_PG_TESTS=0)"
	PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V |
	    tail -1)
	if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] ||
	    [ ! -x "$PGBIN/pg_ctl" ]; then
		skip "no PostgreSQL server (initdb, pg_ctl under /usr/lib/postgresql/*/bin): apt-get install postgresql"
	fi
	PGDIR=$T/pg
	mkdir "$PGDIR"
	if [ "$(id -u)" = 0 ]; then
		getent passwd postgres > /dev/null ||
		    skip "running as root and no user postgres to run PostgreSQL"
		chmod 0711 "$T"
		chown postgres "$PGDIR"
		PGRUN="runuser -u postgres --"
	fi
	chmod 0700 "$PGDIR"
	(cd / && $PGRUN "$PGBIN/initdb" -D "$PGDIR/data" -U quire -A trust \
	    -E UTF8 --locale=C > "$T/pg-initdb.log" 2>&1) ||
	    fail "initdb failed: $(tail -5 "$T/pg-initdb.log")"
	(cd / && $PGRUN "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
	    -t 60 -o "-c listen_addresses='' -c unix_socket_directories='$PGDIR' -c fsync=on" \
	    start > "$T/pg-start.log" 2>&1) ||
	    fail "pg_ctl start failed: $(tail -5 "$PGDIR/log" 2>/dev/null)"
	PGDSN="host=$PGDIR user=quire dbname=postgres"
	export PGDSN
}

pg_stop() {
	[ -n "$PGDIR" ] && [ -f "$PGDIR/data/postmaster.pid" ] || return 0
	(cd / && $PGRUN "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w \
	    stop > /dev/null 2>&1) || true
}

# pg_db: a database quiredb on the private server for a test's hosts;
# DSN is its connection string.
pg_db() {
	psql_c "CREATE DATABASE quiredb" > /dev/null ||
	    fail "cannot create the database quiredb"
	DSN="host=$PGDIR user=quire dbname=quiredb"
}

# qsql SQL: one statement on the hosts' database, its rows unaligned.
qsql() {
	(cd / && $PGRUN "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
	    -d "$DSN" -c "$1")
}

# hfail MESSAGE: fail, after the last lines of each of $HOSTS' logs.
hfail() {
	for _h in $HOSTS; do
		echo "--- $_h" >&2
		tail -15 "$T/$_h/quired.log" >&2 2>/dev/null || true
	done
	fail "$@"
}

# psql_c SQL: one statement on the private server, its rows unaligned.
psql_c() {
	(cd / && $PGRUN "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
	    -d "$PGDSN" -c "$1")
}

# cg_can: skip now, unless a memory group can be made (a test that
# prepares at length before its cg_make calls it first).
cg_can() {
	[ "${QUIRE_MEMORY_TESTS:-1}" != 0 ] ||
	    skip "memory tests off (QUIRE_MEMORY_TESTS=0)"
	[ "$(id -u)" = 0 ] || skip "memory cgroups need root"
	if grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	then
		CGV=2
	elif [ -w /sys/fs/cgroup/memory ]; then
		CGV=1
	else
		skip "no writable memory cgroup (v2 with memory, or v1)"
	fi
}

cg_make() {
	cg_can
	if [ "$CGV" = 2 ]; then
		CG=/sys/fs/cgroup/quire-test-$$-$1
	else
		CG=/sys/fs/cgroup/memory/quire-test-$$-$1
	fi
	tests_alone
	mkdir "$CG" || skip "cannot create $CG"
	if [ "$CGV" = 2 ]; then
		echo "$2" > "$CG/memory.max"
		echo 0 > "$CG/memory.swap.max" 2>/dev/null || true
	else
		echo "$2" > "$CG/memory.limit_in_bytes"
	fi
}

# cg_exec COMMAND...: run COMMAND inside the group.
cg_exec() {
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@"
}

# OOM kills inside the group.
cg_oom_kills() {
	if [ "$CGV" = 2 ]; then
		awk '$1 == "oom_kill" { print $2 }' "$CG/memory.events"
	else
		awk '$1 == "oom_kill" { print $2 }' "$CG/memory.oom_control"
	fi
}

# Bytes charged to the group, page cache included.
cg_usage() {
	if [ "$CGV" = 2 ]; then
		cat "$CG/memory.current"
	else
		cat "$CG/memory.usage_in_bytes"
	fi
}

vm_oom_kills() {
	awk '$1 == "oom_kill" { print $2 }' /proc/vmstat
}

cg_remove() {
	[ -n "$CG" ] && [ -d "$CG" ] || return 0
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_pids=$(cat "$CG/cgroup.procs" 2>/dev/null)
		[ -z "$_pids" ] && break
		kill -9 $_pids 2>/dev/null || true
		sleep 0.2
	done
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		rmdir "$CG" 2>/dev/null && break
		sleep 0.5
	done
	[ -d "$CG" ] && echo "cannot remove $CG" >&2
	CG=
}

# --- Records for the storage tests.  records N SEED: N NDJSON records
# in $T/r.ndjson, record i with id ri and a word of its own, uniqi, among
# fifty others.
records() {
	awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed);
	    for (i = 0; i < n; i++) { s = "";
		for (w = 0; w < 50; w++) s = s " w" int(rand() ^ 2 * 40000);
		printf "{\"id\":\"r%d\",\"text\":\"uniq%d%s\"}\n", i, i, s } }' \
	    > "$T/r.ndjson"
}

# held STATE: the storage fault STATE holds ingestion, as quired(8)
# says: status (JSON and text) says so, and degraded; longer than a
# lease later, no job was retried or made a dead letter and no worker
# died; the supervisor logged it; /healthz is 503 and names it, and a
# search still answers 200 (on HPORT).
held() {
	wait_for 30 status_is .storage.state "$1" ||
	    fail "no $1: $(status_json .storage)"
	status_is .fleet.degraded true || fail "$1 but not degraded"
	ctl status | grep -q "^storage: $1" || fail "status text: $(ctl status)"
	sleep 3
	[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters while $1"
	[ "$(status_json .jobs.retry)" = 0 ] || fail "retries while $1"
	[ "$(status_json .fleet.deaths)" = 0 ] || fail "workers died while $1"
	grep -q "storage: $1" "$LOG" || fail "$1 not logged"
	_code=$(hreq GET /healthz)
	[ "$_code" = 503 ] || fail "/healthz while $1: $_code"
	jq -r .why "$T/hbody" | grep -q "$1" || fail "why: $(cat "$T/hbody")"
	_code=$(hreq GET "/v1/search?q=anything")
	[ "$_code" = 200 ] || fail "a search while $1: $_code"
}

# resumed N JOBS I...: after a storage fault cleared, the JOBS jobs end
# done, the storage is ok again, the N records are indexed, none is a
# dead letter, each record I is the only hit for its word, and the index
# is sound.
resumed() {
	_n=$1
	_jobs=$2
	shift 2
	wait_for 60 status_is .jobs.done "$_jobs" ||
	    fail "not resumed: $(status_json .jobs)"
	wait_for 10 status_is .storage.state ok ||
	    fail "storage: $(status_json .storage)"
	[ "$(status_json .index.documents)" = "$_n" ] ||
	    fail "documents: $(status_json .index.documents), not $_n"
	[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters"
	status_is .fleet.degraded false || fail "still degraded"
	for _i in "$@"; do
		ctl search --json "uniq$_i" | jq -e --arg id "r$_i" \
		    '.hits[0].id == $id and (.hits | length) == 1' \
		    > /dev/null || fail "uniq$_i is not found once"
	done
	ctl check > /dev/null || fail "check"
}

# --- A slow document.  makepdf WORD LASTWORD: a PDF on stdout,
# uncompressed, Helvetica, $PAGES pages (the test sets PAGES) of 40 lines
# of ten words; WORD on every page, LASTWORD on the last.  5000 pages
# take a worker seconds.
makepdf() {
	LC_ALL=C awk -v npages="$PAGES" -v word="$1" -v last="$2" '
	function out(s) { printf "%s", s; off += length(s) }
	function obj(n, body) { xo[n] = off; out(n " 0 obj\n" body "\nendobj\n") }
	BEGIN {
		nw = split("alpha bravo charlie delta echo foxtrot golf " \
		    "hotel india juliet kilo lima mike november oscar papa " \
		    "quebec romeo sierra tango uniform victor whiskey xray " \
		    "yankee zulu", w, " ");
		out("%PDF-1.4\n");
		obj(1, "<< /Type /Catalog /Pages 2 0 R >>");
		for (i = 0; i < npages; i++)
			kids = kids (4 + 2 * i) " 0 R ";
		obj(2, "<< /Type /Pages /Kids [" kids "] /Count " npages " >>");
		obj(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
		for (i = 0; i < npages; i++) {
			s = "BT /F1 10 Tf 12 TL 40 800 Td\n";
			for (l = 0; l < 40; l++) {
				t = "";
				for (k = 0; k < 10; k++)
					t = t w[(i * 7 + l * 3 + k * 11) % nw + 1] " ";
				if (l == 0)
					t = t word;
				if (l == 0 && i == npages - 1)
					t = t " " last;
				s = s "(" t ") Tj T*\n";
			}
			s = s "ET";
			obj(4 + 2 * i, "<< /Type /Page /Parent 2 0 R /MediaBox " \
			    "[0 0 595 842] /Resources << /Font << /F1 3 0 R >> " \
			    ">> /Contents " (5 + 2 * i) " 0 R >>");
			obj(5 + 2 * i, "<< /Length " length(s) " >>\nstream\n" \
			    s "\nendstream");
		}
		n = 4 + 2 * npages;
		printf "xref\n0 %d\n0000000000 65535 f \n", n;
		for (i = 1; i < n; i++)
			printf "%010d 00000 n \n", xo[i];
		printf "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n" \
		    "%%%%EOF\n", n, off;
	}'
}

# For the tests that trace our programs with strace: skip without it, and
# turn LeakSanitizer off for them, as it cannot look for leaks in a
# process that strace traces (or traced).  Their other sanitizer checks
# stay on; each test probes the strace feature it needs itself.
use_strace() {
	command -v strace >/dev/null 2>&1 || skip "no strace"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	export ASAN_OPTIONS
}

