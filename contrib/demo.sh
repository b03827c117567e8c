#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The quick start's main job on the bundled example: ingest the example
# records (a hundred short, distinct notes on Unix tools, libraries and
# techniques) and the project's own documentation into a temporary data
# directory with a foreground fleet of two workers, search them, fold
# the index into blocks, search again and check the index.  Run from the
# top of a built tree.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
QUIRECTL=${QUIRECTL:-$top/quirectl}
dir=$(mktemp -d "${TMPDIR:-/tmp}/quire-demo.XXXXXX")

# A fleet that ingest left behind (it was interrupted) goes too.
cleanup() {
	if [ -s "$dir/data/ingest.pid" ]; then
		kill -TERM "$(cat "$dir/data/ingest.pid")" 2>/dev/null || true
		sleep 1
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ctl() {
	"$QUIRECTL" -D "$dir/data" "$@"
}

echo "# quirectl ingest -w 2 contrib/example/records.ndjson README man"
ctl ingest -w 2 "$top/contrib/example/records.ndjson" "$top/README" \
    "$top/man"
echo
echo "# quirectl search 'deficit round robin'"
ctl search -n 3 'deficit round robin'
echo
echo "# quirectl search '\"memory-mapped\" +transactions'"
ctl search -n 3 '"memory-mapped" +transactions'
echo
echo "# quirectl search 'fsync AND directory'"
ctl search -n 3 'fsync AND directory'
echo
echo "# quirectl compact (fold the segments into blocks), search, check"
ctl compact
ctl search -n 3 'deficit round robin'
ctl check
