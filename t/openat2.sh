#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# A kernel (or a seccomp profile) without openat2: strace makes every
# openat2 of quired and its children fail with ENOSYS.  Documents are
# still indexed (nested ones too), each at its first attempt, and the log
# says once per process why files are opened another way.  That way
# follows no symbolic link: a directory on the way swapped for a link
# after the submit fails the job as outside-root, and the file the link
# leads to is not indexed.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"
use_strace

strace -f -o /dev/null -e inject=openat2:error=ENOSYS true 2>/dev/null ||
    skip "strace cannot inject errors here"

mkdir -p "$T/docs/sub" "$T/docs/deep/er" "$T/other"
printf 'plain walnut text\n' > "$T/docs/a.txt"
printf 'nested hazel text\n' > "$T/docs/deep/er/d.txt"
printf 'first almond text\n' > "$T/docs/sub/b.txt"
printf 'hidden chestnut text\n' > "$T/other/b.txt"

write_conf "workers 1" "max-attempts 1" "log-level info"
expect_exit 0 ctl submit "$T/docs/a.txt" "$T/docs/deep/er/d.txt" \
    "$T/docs/sub/b.txt"
# After the submit, sub/ becomes a link to other/.
rm -r "$T/docs/sub"
ln -s "$T/other" "$T/docs/sub"

strace -f -o /dev/null -e inject=openat2:error=ENOSYS \
    "$QUIRED" -d -f "$CONF" 2>>"$T/quired.stderr" &
QPID=$!
wait_for 20 ctl workers || fail "quired under strace did not start"
wait_for 30 status_is '.jobs.ready + .jobs.leased + .jobs.retry' 0 ||
    fail "the jobs did not finish: $(ctl status)"

ctl jobs --json > "$T/jobs"
[ "$(jq '[.jobs[] | select(.state == "done")] | length' "$T/jobs")" = 2 ] ||
    fail "not two jobs done: $(jq -c '.jobs[] | [.path, .state, .error]' \
    "$T/jobs")"
jq -e '.jobs[] | select(.path | endswith("/a.txt")) | .state == "done" and
    .attempts <= 1' "$T/jobs" >/dev/null || fail "a.txt: $(cat "$T/jobs")"
jq -r '.jobs[] | select(.state == "dead") | .error' "$T/jobs" > "$T/errors"
grep -q '^outside-root: .*sub/b.txt: a symbolic link on the way' \
    "$T/errors" || fail "sub/b.txt: $(cat "$T/errors")"
! grep -q 'io-error' "$T/errors" || fail "io-errors: $(cat "$T/errors")"
for w in walnut hazel; do
	[ "$(ctl search --json $w | jq '.hits | length')" = 1 ] ||
	    fail "$w is not found"
done
[ "$(ctl search --json chestnut | jq '.hits | length')" = 0 ] ||
    fail "a file behind a link was indexed"
grep -q 'openat2: Function not implemented; files are opened by a walk' \
    "$LOG" || fail "the log does not say why"
# strace ignores TERM: stop quired itself, and strace ends with it.
kill -TERM "$(quired_pid)"
wait "$QPID" || true
exit 0
