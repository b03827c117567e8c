#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The configuration and the manuals agree with the programs: the options
# of quired.conf(5) and of the sample etc/quired.conf are exactly those
# `quired -n -v` prints; `quired -n` accepts the sample and rejects broken
# files with "file:line: message" and exit 1; the commands, options and
# signals of quirectl and quired are those their manuals list; the exit
# statuses the code defines are those the manuals' EXIT STATUS sections
# give, and the files of their FILES sections are the programs' own; and
# the manuals are clean under `mandoc -Tlint` when mandoc is installed.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

MAN=$TOPSRC/man

# same WHAT FILE1 FILE2: two sorted lists of names are equal.
same() {
	sort -u "$2" > "$2.sorted"
	sort -u "$3" > "$3.sorted"
	[ -s "$2.sorted" ] || fail "$1: the first list is empty"
	[ -s "$3.sorted" ] || fail "$1: the second list is empty"
	if ! diff -u "$2.sorted" "$3.sorted" > "$T/diff"; then
		cat "$T/diff" >&2
		fail "$1 differ"
	fi
}

# --- quired.conf(5) and the sample list every option, and only those.
expect_exit 0 "$QUIRED" -n -v -f /dev/null
grep -q '^configuration OK$' "$T/out" || fail "quired -n -v: no OK line"
# The first line, a comment, names the file read.
grep -v '^configuration OK$' "$T/out" | grep -v '^#' |
    awk '{ print $1 }' > "$T/opts.code"
[ "$(wc -l < "$T/opts.code")" -ge 30 ] ||
    fail "quired -n -v printed only $(wc -l < "$T/opts.code") options"
awk '$1 == ".It" && $2 == "Ic" { print $3 }' "$MAN/quired.conf.5" \
    > "$T/opts.man"
same "options of quired -n -v and of quired.conf(5)" \
    "$T/opts.code" "$T/opts.man"
sed -n 's/^#\{0,1\}\([a-z][a-z0-9-]*\)[ 	].*/\1/p' "$TOPSRC/etc/quired.conf" \
    > "$T/opts.sample"
same "options of quired -n -v and of etc/quired.conf" \
    "$T/opts.code" "$T/opts.sample"

# --- The sample is valid as it stands, and uncommented it is the defaults.
expect_exit 0 "$QUIRED" -n -f "$TOPSRC/etc/quired.conf"
[ "$(cat "$T/out")" = "configuration OK" ] ||
    fail "quired -n etc/quired.conf: $(cat "$T/out")"
[ ! -s "$T/err" ] || fail "quired -n etc/quired.conf: $(cat "$T/err")"
# The sample as built, with this build's paths; the comment line that
# names the file read differs.
sed 's/^#\([a-z]\)/\1/' "$(dirname "$QUIRED")/quired.conf.sample" \
    > "$T/uncommented.conf"
expect_exit 0 "$QUIRED" -n -v -f "$T/uncommented.conf"
grep -v '^#' "$T/out" > "$T/uncommented.out"
expect_exit 0 "$QUIRED" -n -v -f /dev/null
grep -v '^#' "$T/out" > "$T/defaults.out"
diff -u "$T/defaults.out" "$T/uncommented.out" >&2 ||
    fail "etc/quired.conf uncommented is not the defaults"

# --- Broken files: exit 1, nothing on stdout, one "file:line: message".
# bad NAME LINE MESSAGE CONTENT...: each CONTENT argument is a line.
bad() {
	_name=$1
	_line=$2
	_msg=$3
	shift 3
	printf '%s\n' "$@" > "$T/$_name.conf"
	expect_exit 1 "$QUIRED" -n -f "$T/$_name.conf"
	[ ! -s "$T/out" ] || fail "$_name: printed $(cat "$T/out")"
	[ "$(wc -l < "$T/err")" -eq 1 ] ||
	    fail "$_name: not one line of error: $(cat "$T/err")"
	if [ -n "$_line" ]; then
		_want="/$_name.conf:$_line: $_msg"
	else
		_want="/$_name.conf: $_msg"
	fi
	grep -qF -- "$_want" "$T/err" ||
	    fail "$_name: wanted \"...$_want\", got \"$(cat "$T/err")\""
	case "$(cat "$T/err")" in
	/*)	;;
	*)	fail "$_name: the file is not named by its path" ;;
	esac
}

bad unknown 2 "unknown option frobnicate" \
    "# a comment" "frobnicate 1"
bad number 2 "workers many: invalid" \
    "" "workers many"
bad range 3 "claim-batch 5000: too large (1 to 1024)" \
    "workers 2" "# the most is 1024" "claim-batch 5000"
bad range-duration 1 "kill-grace 1h: out of range" \
    "kill-grace 1h"
bad unit 1 "drain-timeout 30y: unknown unit (use ms, s, m, h or d)" \
    "drain-timeout 30y"
bad size-unit 1 "map-size 64X: unknown unit (use K, M, G or T)" \
    "map-size 64X"
bad relative 1 "datadir var/lib/quire: not an absolute path" \
    "datadir var/lib/quire"
bad enum 1 "sync sometimes: unknown value" \
    "sync sometimes"
bad bool 1 "debug-jobs maybe: say yes or no" \
    "debug-jobs maybe"
bad missing 1 "log-level: missing value" \
    "log-level"
# Rules across options are checked once the whole file is read.
bad minmax "" "min-workers 10 above max-workers 5" \
    "workers 7" "min-workers 10" "max-workers 5"
bad outside "" "workers 9 outside min-workers 0 and max-workers 8" \
    "workers 9" "max-workers 8"
bad hang "" "hang-timeout must be at least twice heartbeat-interval" \
    "heartbeat-interval 20s" "hang-timeout 30s"
# HTTP: addresses parse; off the loopback, a token file only the
# service user can read is required.
bad listen-word "" "listen 127.0.0.1: not ADDR:PORT" \
    "listen 127.0.0.1"
bad listen-none "" "listen none: only alone" \
    "listen 127.0.0.1:80 none"
bad listen-public "" "listen 0.0.0.0:8470: off the loopback, http-token-file is required" \
    "listen 127.0.0.1:8470" "listen *:8470"
# quired itself, not only -n, refuses so to start, daemonized or in the
# foreground: exit 1, the reason on standard error, no pidfile, nothing
# made in the data directory, no daemon left.
printf 'datadir %s\npidfile %s\nlisten 127.0.0.1:0\nlisten 0.0.0.0:0\n' \
    "$T/public-data" "$T/public.pid" > "$T/public-start.conf"
for flag in -f -df; do
	expect_exit 1 timeout 30 "$QUIRED" $flag "$T/public-start.conf"
	grep -qF "public-start.conf: listen 0.0.0.0:0: off the loopback, http-token-file is required" \
	    "$T/err" || fail "quired $flag: $(cat "$T/err")"
	[ ! -e "$T/public.pid" ] && [ ! -e "$T/public-data" ] ||
	    fail "quired $flag left a pidfile or a data directory"
	! pgrep -f "$T/public-start.conf" > /dev/null ||
	    fail "quired $flag left a process"
done
printf 'abcdefghijklmnop0123456789\n' > "$T/tokens"
chmod 0644 "$T/tokens"
bad token-mode "" "http-token-file $T/tokens: must be a regular file of mode 0600 owned by uid $(id -u)" \
    "listen *:8470" "http-token-file $T/tokens"
chmod 0600 "$T/tokens"
printf 'listen *:8470\nlisten [::1]:0\nhttp-token-file %s\n' "$T/tokens" \
    > "$T/public.conf"
expect_exit 0 "$QUIRED" -n -v -f "$T/public.conf"
grep -qx "listen \*:8470 \[::1\]:0" "$T/out" ||
    fail "listen lines not kept in order: $(grep ^listen "$T/out")"

# A file that is not there.
expect_exit 1 "$QUIRED" -n -f "$T/nonexistent.conf"
grep -q "nonexistent.conf" "$T/err" || fail "missing file: $(cat "$T/err")"

# Only bounded regular text files: no device, no FIFO (which would block
# a reload), nothing past 1M, no NUL byte.
for f in /dev/zero "$T/fifo.conf" "$T/big.conf" "$T/nul.conf"; do
	case $f in
	*fifo.conf)	mkfifo "$f" ;;
	*big.conf)	head -c 1100000 /dev/zero | tr '\0' '#' > "$f" ;;
	*nul.conf)	printf 'workers 3\nlog-level info\0\n' > "$f" ;;
	esac
	expect_exit 1 timeout 10 "$QUIRED" -n -f "$f"
	[ "$(wc -l < "$T/err")" -eq 1 ] || fail "$f: $(cat "$T/err")"
done
expect_exit 1 "$QUIRED" -n -f /dev/zero
grep -qx "/dev/zero: not a regular file" "$T/err" || fail "$(cat "$T/err")"
expect_exit 1 "$QUIRED" -n -f "$T/fifo.conf"
grep -q "/fifo.conf: not a regular file$" "$T/err" || fail "$(cat "$T/err")"
expect_exit 1 "$QUIRED" -n -f "$T/big.conf"
grep -q "/big.conf: larger than 1M$" "$T/err" || fail "$(cat "$T/err")"
expect_exit 1 "$QUIRED" -n -f "$T/nul.conf"
grep -q "/nul.conf:2: a NUL byte: not a text file$" "$T/err" ||
    fail "$(cat "$T/err")"

# Comments, blank lines, spaces, "" and a repeated option.
printf '%s\n' "  # indented comment" "" "workers   3   # three" \
    "log-file \"\"" "workers 4" > "$T/good.conf"
expect_exit 0 "$QUIRED" -n -v -f "$T/good.conf"
grep -qx 'workers 4' "$T/out" || fail "the last workers does not win"
grep -qx 'log-file ""' "$T/out" || fail '"" is not the empty value'

# --- quirectl: the commands and options of its usage are in quirectl(8).
expect_exit 2 "$QUIRECTL"
[ ! -s "$T/out" ] || fail "quirectl usage went to stdout"
cp "$T/err" "$T/usage.ctl"
grep -q '^usage: quirectl ' "$T/usage.ctl" || fail "quirectl: no usage line"
sed -n '/^commands:/,$p' "$T/usage.ctl" | sed 1d |
    awk '{ print $1 }' > "$T/cmds.code"
[ "$(wc -l < "$T/cmds.code")" -ge 10 ] || fail "quirectl lists few commands"
awk '$1 == ".It" && $2 == "Cm" { print $3 }' "$MAN/quirectl.8" \
    > "$T/cmds.man"
same "commands of quirectl and of quirectl(8)" "$T/cmds.code" "$T/cmds.man"

grep -o -- '--[a-z][a-z-]*' "$T/usage.ctl" > "$T/long.code"
grep -o 'Fl \\-[a-z][a-z-]*' "$MAN/quirectl.8" | sed 's/^Fl \\/-/' \
    > "$T/long.man"
same "command options of quirectl and of quirectl(8)" \
    "$T/long.code" "$T/long.man"

# Single-letter options: from "[-v] [-D datadir]" and "[-dnv]", not
# "[--version]".
flags() {
	sed -n 's/^usage: [a-z]* //p' "$1" | grep -o '\[-[A-Za-z][A-Za-z]*' |
	    sed 's/^\[-//' | fold -w 1
}
man_flags() {
	awk '$1 == ".It" && $2 == "Fl" && $3 ~ /^[A-Za-z]$/ { print $3 }' "$1"
}
flags "$T/usage.ctl" > "$T/flags.code"
man_flags "$MAN/quirectl.8" > "$T/flags.man"
same "options of quirectl and of quirectl(8)" "$T/flags.code" \
    "$T/flags.man"

expect_exit 1 "$QUIRED" -Z
grep -q '^usage: quired ' "$T/err" || fail "quired: no usage line"
cp "$T/err" "$T/usage.d"
flags "$T/usage.d" > "$T/flags.code"
man_flags "$MAN/quired.8" > "$T/flags.man"
same "options of quired and of quired(8)" "$T/flags.code" "$T/flags.man"

# --- The signals the supervisor handles are those quired(8) lists.
sed -n '/sv_signals\[\] = {/,/};/p' "$TOPSRC/src/supervisor.c" |
    grep -o 'SIG[A-Z0-9]*' | grep -v '^SIGPIPE$' > "$T/sigs.code"
sed -n '/^\.Sh SIGNALS/,/^\.Sh /p' "$MAN/quired.8" |
    awk '$1 == ".It" { for (i = 2; i <= NF; i++) if ($i ~ /^SIG/) print $i }' \
    > "$T/sigs.man"
same "signals of quired and of quired(8)" "$T/sigs.code" "$T/sigs.man"
grep -q 'Dv SIGPIPE' "$MAN/quired.8" || fail "quired(8) omits SIGPIPE"

# --- Exit statuses: the numbers of each EXIT STATUS section are those the
# program can return, and the other way round.  quirectl's are its
# CTL_EXIT_* values; quired's are its literal exit()s (the daemon, and the
# parent that waits for it to detach); both end in fatal() (log.c), which
# exits 1, or QUIRE_EXIT_* when memory ran out.
defines() {
	awk -v p="^$1" '$1 == "#define" && $2 ~ p && $3 ~ /^[0-9]+$/ {
		print $3 }' "$2"
}
exits_man() {
	sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$MAN/$1" | sed '1d;$d' |
	    grep -v '^\.Xr' | grep -oE '(^|[^A-Za-z0-9.-])[0-9]+' |
	    grep -oE '[0-9]+'
}
{
	defines CTL_EXIT_ "$TOPSRC/src/quire.h"
	defines QUIRE_EXIT_ "$TOPSRC/src/quire.h"
	echo 1
} > "$T/exits.ctl.code"
[ "$(wc -l < "$T/exits.ctl.code")" -ge 6 ] ||
    fail "few CTL_EXIT_ values: $(cat "$T/exits.ctl.code")"
exits_man quirectl.8 > "$T/exits.ctl.man"
same "exit statuses of quirectl and of quirectl(8)" "$T/exits.ctl.code" \
    "$T/exits.ctl.man"
# Each CTL_EXIT_ is used, not only defined.
for name in $(sed -n 's/^#define[ 	]*\(CTL_EXIT_[A-Z_]*\).*/\1/p' \
    "$TOPSRC/src/quire.h"); do
	cat "$TOPSRC/src/quirectl.c" "$TOPSRC/src/top.c" | grep -q "$name" ||
	    fail "$name is defined and never returned"
done
{
	cat "$TOPSRC/src/quired.c" "$TOPSRC/src/supervisor.c" |
	    grep -oE '\b_?exit\([^;]*\);' | grep -oE '[0-9]+'
	defines QUIRE_EXIT_ "$TOPSRC/src/quire.h"
	echo 1
} > "$T/exits.d.code"
exits_man quired.8 > "$T/exits.d.man"
same "exit statuses of quired and of quired(8)" "$T/exits.d.code" \
    "$T/exits.d.man"

# --- Files: each path of a FILES section is the programs' own.  An
# absolute path is compiled into quired or quirectl (as configure gave
# it) or is a default that quired -n -v prints; DATADIR/ and $TMPDIR/ are
# directories the user chooses, so below them each name must be one the
# programs make, "%s/name" or "name" among their strings.  The other way
# round: each absolute default that quired -n -v prints is in quired(8).
tr '\0' '\n' < "$QUIRED" > "$T/strings"
tr '\0' '\n' < "$QUIRECTL" >> "$T/strings"
expect_exit 0 "$QUIRED" -n -v -f /dev/null
awk '$1 != "#" && $2 ~ /^\/./ { print $2 }' "$T/out" > "$T/defaults"
[ -s "$T/defaults" ] || fail "quired -n -v prints no default path"
cat "$T/defaults" >> "$T/strings"
# The installed manuals carry this build's paths (configure's); the
# sources carry Debian's.
BMAN=$(dirname "$QUIRED")
[ -f "$BMAN/quired.8" ] || BMAN=$MAN
files_man() {
	sed -n '/^\.Sh FILES/,/^\.Sh /p' "$BMAN/$1" |
	    awk '$1 == ".It" && $2 == "Pa" {
		for (i = 3; i <= NF; i++)
			if ($i != "," && $i != "Pa") print $i }'
}
nfiles=0
for page in quired.8 quirectl.8 quired.conf.5; do
	files_man "$page" > "$T/files.$page"
	[ -s "$T/files.$page" ] || fail "$page lists no files"
	while read -r path; do
		nfiles=$((nfiles + 1))
		path=${path%/}
		case $path in
		DATADIR/*|\$TMPDIR/*)
			rest=${path#*/}
			for name in $(echo "$rest" | tr '/' ' '); do
				re=$(printf '%s' "$name" | sed 's/[.]/[.]/g')
				grep -qE "(^|/)$re(/|$)" "$T/strings" ||
				    fail "$page: $path: no $name in programs"
			done
			;;
		*/init.d/quired)
			# The init script: installed by make install-service.
			grep -q 'quired.init.*init.d/quired' \
			    "$TOPSRC/Makefile.am" ||
			    fail "$page: $path is not installed"
			;;
		/*)
			grep -qxF "$path" "$T/strings" ||
			    fail "$page: $path is not a path of the programs"
			;;
		*)
			fail "$page: $path: neither absolute nor under DATADIR"
			;;
		esac
	done < "$T/files.$page"
done
[ "$nfiles" -ge 10 ] || fail "only $nfiles files in the FILES sections"
while read -r path; do
	grep -qxF "$path" "$T/files.quired.8" ||
	    grep -qxF "$path/" "$T/files.quired.8" ||
	    fail "quired(8) FILES omits the default $path"
done < "$T/defaults"

# --- Each manual has the sections of the house style.
sections() {
	_page=$1
	shift
	for _sh in NAME "$@" "SEE ALSO"; do
		grep -qx "\.Sh $_sh" "$MAN/$_page" ||
		    fail "$_page has no $_sh section"
	done
}
sections quired.8 SYNOPSIS DESCRIPTION SIGNALS ENVIRONMENT FILES \
    "EXIT STATUS" EXAMPLES
sections quirectl.8 SYNOPSIS DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" \
    EXAMPLES
sections quired.conf.5 DESCRIPTION FILES EXAMPLES

# --- mandoc finds nothing to say.
if command -v mandoc >/dev/null 2>&1; then
	rc=0
	mandoc -Tlint -W warning "$MAN"/*.[0-9] > "$T/lint" 2>&1 || rc=$?
	if [ "$rc" != 0 ] || [ -s "$T/lint" ]; then
		cat "$T/lint" >&2
		fail "mandoc -Tlint -W warning: exit $rc"
	fi
else
	echo "mandoc is not installed: manuals not linted" >&2
fi

exit 0
