#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A member of control-socket-group who is not the daemon's user may read
# the LMDB files but not open them (LMDB writes its lock file even to
# read): status, jobs and search work for it through the running
# daemon, and without a daemon every command says "Permission denied",
# never "no queue".  Needs root, to be another user (setpriv).

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root to act as another user"
command -v setpriv >/dev/null 2>&1 || skip "no setpriv"
getent group nogroup >/dev/null || skip "no group nogroup"
id nobody >/dev/null 2>&1 || skip "no user nobody"

# The test directory must be reachable by nobody.
chmod 755 "$T"
setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$T" ||
    skip "nobody cannot reach $T (TMPDIR)"
# The data directory's group is the socket's; new files take it (setgid).
mkdir "$DATA"
chgrp nogroup "$DATA"
chmod 2750 "$DATA"
write_conf "workers 1" "control-socket-group nogroup" \
    "control-socket-mode 0660"

member() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
	    "$QUIRECTL" -D "$DATA" "$@"
}

printf 'alpha beta\n' > "$T/a.txt"
printf '# Gamma\n\nalpha gamma delta, then alpha again\n' > "$T/b.md"
printf 'alphabet soup\n' > "$T/c.txt"
chmod 644 "$T/a.txt" "$T/b.md" "$T/c.txt"
expect_exit 0 ctl submit "$T/a.txt"
expect_exit 0 ctl submit "$T/b.md" "$T/c.txt"
expect_exit 0 ctl submit --debug fail
[ "$(stat -c %G "$DATA/queue/data.mdb")" = nogroup ] ||
    fail "the queue is not the group's: $(ls -l "$DATA/queue")"

# --- No daemon: permission denied, in one line, for each command.
for cmd in "jobs" "status" "job 1"; do
	# shellcheck disable=SC2086
	expect_exit 1 member $cmd
	grep -q "Permission denied" "$T/err" ||
	    fail "$cmd as a member said: $(cat "$T/err")"
	! grep -q "no queue\|no index" "$T/err" ||
	    fail "$cmd as a member said: $(cat "$T/err")"
	[ "$(wc -l < "$T/err")" -eq 1 ] ||
	    fail "$cmd as a member: more than one line: $(cat "$T/err")"
done

# --- With the daemon: status and jobs, through it.
start_quired
wait_for 30 status_is '.jobs.ready + .jobs.leased + .jobs.retry' 0 ||
    fail "the jobs did not finish: $(ctl status)"
expect_exit 0 member status --json
jq -e '.jobs.done == 3 and .jobs.dead == 1 and .fleet.pid > 0' "$T/out" \
    >/dev/null || fail "status as a member: $(cat "$T/out")"
expect_exit 0 member jobs --json
ctl jobs --json > "$T/direct"
diff "$T/direct" "$T/out" >&2 || fail "jobs --json through the daemon differs"
expect_exit 0 member jobs
ctl jobs > "$T/direct"
diff "$T/direct" "$T/out" >&2 || fail "jobs through the daemon differs"
expect_exit 0 member jobs --state dead --limit 5
[ "$(wc -l < "$T/out")" -eq 2 ] && grep -q "debug:fail" "$T/out" ||
    fail "jobs --state dead as a member: $(cat "$T/out")"
# search through the daemon: the hits root finds in the index, in the
# same words, but for the time it took.
untimed() {
	sed -e 's/"took_ms": [0-9.]*/"took_ms": T/' \
	    -e 's/chunks, [0-9.]* ms$/chunks, T ms/' "$1"
}
set -f
for args in "alpha" "--json alpha" "--json -n 1 --offset 1 alpha*" \
    "-n 2 --offset 1 alpha*" "--json --exact --filter type=markdown alpha" \
    "--json -- gamma -beta" "--json --chunks --facet type alpha*" \
    "--facet type --facet-size 1 --facet source alpha"; do
	# shellcheck disable=SC2086
	expect_exit 0 ctl search $args
	untimed "$T/out" > "$T/direct"
	# shellcheck disable=SC2086
	expect_exit 0 member search $args
	untimed "$T/out" > "$T/member"
	diff "$T/direct" "$T/member" >&2 ||
	    fail "search $args through the daemon differs"
done
set +f
expect_exit 0 member search --json 'alpha*'
jq -e '.total == 3 and .offset == 0 and ([.hits[].id] | length) == 3 and
    ([.hits[].highlights | length] | min) >= 1' "$T/out" >/dev/null ||
    fail "search alpha* as a member: $(cat "$T/out")"
expect_exit 0 member search -n 2 --offset 1 'alpha*'
grep -q '^2\. ' "$T/out" && grep -q '^3\. ' "$T/out" &&
    ! grep -q '^1\. ' "$T/out" ||
    fail "search --offset 1 as a member: $(cat "$T/out")"
# The daemon's bounds, and its errors, as the member sees them.
expect_exit 2 member search -n 1001 alpha
grep -q "at most 1000 through the daemon" "$T/err" ||
    fail "search -n 1001 as a member said: $(cat "$T/err")"
expect_exit 2 member search "$(printf '%01100d' 0)"
grep -q "longer than 1024 bytes" "$T/err" ||
    fail "a long query as a member said: $(cat "$T/err")"
expect_exit 1 member search '"alpha'
grep -q "search: .*quote" "$T/err" ||
    fail "an unbalanced quote as a member said: $(cat "$T/err")"
# A user outside the group gets permission denied, and changes nothing.
for cmd in "jobs" "status" "scale 2" "search alpha"; do
	# shellcheck disable=SC2086
	expect_exit 1 setpriv --reuid=daemon --regid=daemon --clear-groups \
	    "$QUIRECTL" -D "$DATA" $cmd
	grep -q "Permission denied" "$T/err" ||
	    fail "$cmd outside the group said: $(cat "$T/err")"
done

# --- The index, without a daemon: permission denied too.
expect_exit 0 ctl stop
wait_for 20 test ! -e "$DATA/control.sock" || fail "quired did not stop"
expect_exit 1 member search alpha
grep -q "index: Permission denied" "$T/err" ||
    fail "search as a member said: $(cat "$T/err")"
[ "$(wc -l < "$T/err")" -eq 1 ] ||
    fail "search as a member: more than one line: $(cat "$T/err")"

exit 0
