#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# An installed build agrees with itself.  `make install DESTDIR=...` puts
# the configuration where the installed quired reads it (the path that
# `quired -n -v` names), with the data directory and pidfile the build
# was configured with, and the man pages say the same paths.  A second
# install keeps an edited configuration, and `make uninstall` removes
# the sample but keeps the edited file.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

BUILD=$(dirname "$QUIRED")
[ -f "$BUILD/Makefile" ] || skip "no Makefile in $BUILD"
command -v make >/dev/null 2>&1 || skip "make is not installed"
DEST=$T/dest

# The build's make, free of the flags of a make check that runs us (its
# jobserver and directory messages would mix with what we read).
bmake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
	    "$@"
}

# make VAR: a variable of the build's Makefile, expanded.
mkvar() {
	bmake -C "$BUILD" -f Makefile -f - print-var VAR="$1" <<'EOF'
print-var:
	@echo '$($(VAR))'
EOF
}

install_it() {
	bmake -C "$BUILD" install DESTDIR="$DEST" >"$T/install.out" 2>&1 ||
	    { cat "$T/install.out" >&2; fail "make install DESTDIR=$DEST"; }
}

prefix=$(mkvar prefix)
sbindir=$(mkvar sbindir)
confdir=$(mkvar quireconfdir)
datadir=$(mkvar quiredatadir)
rundir=$(mkvar quirerundir)
mandir=$(mkvar mandir)
[ -n "$prefix" ] && [ -n "$confdir" ] || fail "cannot read the Makefile"
case "$confdir$datadir$rundir" in
*'$'*)	fail "unexpanded path: $confdir $datadir $rundir" ;;
esac

install_it
q=$DEST$sbindir/quired
[ -x "$q" ] || fail "no $q"
[ -x "$DEST$sbindir/quirectl" ] || fail "no quirectl in $DEST$sbindir"

# The installed daemon names the configuration file it reads by default
# (absent: the real one is under DESTDIR), and its default paths are
# the configured ones.
"$q" -n -v >"$T/nv" 2>&1 || fail "installed quired -n -v: $(cat "$T/nv")"
grep -qx "# no $confdir/quired.conf: the defaults" "$T/nv" ||
    fail "quired -n -v does not name $confdir/quired.conf: $(head -1 "$T/nv")"
grep -qx "datadir $datadir" "$T/nv" || fail "datadir is not $datadir"
grep -qx "pidfile $rundir/quired.pid" "$T/nv" ||
    fail "pidfile is not $rundir/quired.pid"

# The configuration is where that binary looks, with the sample.
conf=$DEST$confdir/quired.conf
[ -f "$conf" ] || fail "no $conf"
cmp -s "$conf" "$conf.sample" || fail "quired.conf is not the sample"
grep -q "^#datadir $datadir[[:space:]]" "$conf" ||
    fail "the sample does not show datadir $datadir"
grep -q "^#pidfile $rundir/quired.pid[[:space:]]" "$conf" ||
    fail "the sample does not show pidfile $rundir/quired.pid"
"$q" -n -v -f "$conf" >"$T/nv2" 2>&1 || fail "the sample is refused"
grep -qx "# $conf" "$T/nv2" || fail "quired -n -v -f: $(head -1 "$T/nv2")"

# The man pages carry the same paths, and no other build's.
for m in man8/quired.8 man8/quirectl.8 man5/quired.conf.5 man7/quire-api.7; do
	[ -f "$DEST$mandir/$m" ] || fail "no $DEST$mandir/$m"
done
grep -q "^\.It Pa $confdir/quired.conf\$" "$DEST$mandir/man8/quired.8" ||
    fail "quired(8) FILES does not name $confdir/quired.conf"
grep -q "^\.It Pa $rundir/quired.pid\$" "$DEST$mandir/man8/quired.8" ||
    fail "quired(8) FILES does not name $rundir/quired.pid"
grep -q "^\.It Pa $datadir\$" "$DEST$mandir/man8/quirectl.8" ||
    fail "quirectl(8) does not name $datadir"
if [ "$confdir" != /etc/quire ]; then
	! grep -q '[[:space:]]/etc/quire/' "$DEST$mandir/man8/quired.8" ||
	    fail "quired(8) still names /etc/quire"
fi
if command -v mandoc >/dev/null 2>&1; then
	mandoc -Tlint -W warning "$DEST$mandir/man8/quired.8" \
	    "$DEST$mandir/man8/quirectl.8" "$DEST$mandir/man5/quired.conf.5" \
	    "$DEST$mandir/man7/quire-api.7" ||
	    fail "installed man pages are not clean under mandoc -Tlint"
fi

# An edited configuration survives a second install ...
echo "workers 7" >> "$conf"
cp "$conf" "$T/edited"
install_it
cmp -s "$conf" "$T/edited" || fail "a second make install changed quired.conf"
grep -q "keeping $conf" "$T/install.out" ||
    fail "make install did not say it kept $conf"
"$q" -n -v -f "$conf" | grep -qx "workers 7" ||
    fail "the edited configuration is not read"

# ... and an uninstall, which removes everything else it installed.
bmake -C "$BUILD" uninstall DESTDIR="$DEST" >"$T/uninstall.out" 2>&1 ||
    fail "make uninstall: $(cat "$T/uninstall.out")"
cmp -s "$conf" "$T/edited" || fail "make uninstall removed or changed $conf"
[ ! -e "$conf.sample" ] || fail "make uninstall left $conf.sample"
[ ! -e "$q" ] || fail "make uninstall left $q"
left=$(find "$DEST" -type f ! -path "$conf")
[ -z "$left" ] || fail "make uninstall left: $left"

# The unedited configuration, though, goes with the rest.
rm -rf "$DEST"
install_it
bmake -C "$BUILD" uninstall DESTDIR="$DEST" >"$T/uninstall.out" 2>&1 ||
    fail "make uninstall: $(cat "$T/uninstall.out")"
left=$(find "$DEST" -type f)
[ -z "$left" ] || fail "make uninstall left: $left"

echo "ok: $confdir/quired.conf, $datadir, $rundir/quired.pid"
