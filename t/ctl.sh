#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Everyday quirectl: -f takes the data directory and the socket from the
# daemon's configuration (-D and QUIRE_DATADIR still win); --help, -h and
# --version on both programs, help COMMAND, and the bash completion
# knows every command.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

printf 'hello world\n' > "$T/doc.txt"

# --- Help and version: on stdout, exit 0.
for prog in "$QUIRED" "$QUIRECTL"; do
	name=$(basename "$prog")
	for opt in -h --help; do
		expect_exit 0 "$prog" $opt
		grep -q "^usage: $name " "$T/out" || fail "$name $opt: $(cat "$T/out")"
		[ ! -s "$T/err" ] || fail "$name $opt wrote on stderr"
	done
	expect_exit 0 "$prog" --version
	grep -Eq "^$name [0-9]+\.[0-9]+" "$T/out" ||
	    fail "$name --version: $(cat "$T/out")"
done
expect_exit 1 "$QUIRED" -x
expect_exit 0 "$QUIRECTL" help
"$QUIRECTL" help | sed -n 's/^	\([a-z-]*\).*/\1/p' > "$T/commands"
[ "$(wc -l < "$T/commands")" -ge 19 ] || fail "help lists: $(cat "$T/out")"
while read -r cmd; do
	expect_exit 0 "$QUIRECTL" help "$cmd"
	grep -q "^usage: quirectl $cmd" "$T/out" ||
	    fail "help $cmd: $(cat "$T/out")"
	[ "$(wc -l < "$T/out")" -ge 3 ] || fail "help $cmd says nothing"
	expect_exit 0 "$QUIRECTL" "$cmd" --help
	expect_exit 0 "$QUIRECTL" "$cmd" -h
	grep -q "^usage: quirectl $cmd" "$T/out" || fail "$cmd -h"
done < "$T/commands"
expect_exit 2 "$QUIRECTL" help frobnicate
grep -q "unknown command: frobnicate" "$T/err" || fail "help frobnicate"

# The completion offers the commands help lists, no more, no fewer.
COMPL=$TOPSRC/contrib/quirectl.bash-completion
if command -v bash >/dev/null 2>&1 &&
    [ -f /usr/share/bash-completion/bash_completion ]; then
	bash -c '. /usr/share/bash-completion/bash_completion
		. "$1"
		COMP_WORDS=(quirectl "")
		COMP_CWORD=1
		COMP_LINE="quirectl "
		COMP_POINT=${#COMP_LINE}
		_quirectl quirectl "" quirectl
		printf "%s\n" "${COMPREPLY[@]}"' sh "$COMPL" |
	    sort > "$T/completed"
	sort "$T/commands" | diff - "$T/completed" >&2 ||
	    fail "the completion's commands differ from help's"
	bash -c '. /usr/share/bash-completion/bash_completion
		. "$1"
		COMP_WORDS=(quirectl -D /x jobs --state d)
		COMP_CWORD=5
		COMP_LINE="quirectl -D /x jobs --state d"
		COMP_POINT=${#COMP_LINE}
		_quirectl quirectl d --state
		printf "%s\n" "${COMPREPLY[@]}"' sh "$COMPL" |
	    sort > "$T/completed"
	[ "$(echo $(cat "$T/completed"))" = "dead done" ] ||
	    fail "jobs --state d completes to: $(cat "$T/completed")"
else
	echo "no bash-completion: completion not tried" >&2
fi

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
