#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The quick start's main job on the bundled example: start quired on a
# temporary data directory, hand it the example records and the project's
# own documentation, wait until every job is finished, show the status,
# and stop the daemon.  Run from the top of a built tree.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
QUIRED=${QUIRED:-$top/quired}
QUIRECTL=${QUIRECTL:-$top/quirectl}
dir=$(mktemp -d "${TMPDIR:-/tmp}/quire-demo.XXXXXX")
trap 'kill -TERM "$(cat "$dir/quired.pid" 2>/dev/null)" 2>/dev/null; sleep 1; rm -rf "$dir"' EXIT

cat > "$dir/quired.conf" <<CONF
datadir $dir/data
pidfile $dir/quired.pid
log-file $dir/quired.log
workers 2
CONF

"$QUIRED" -f "$dir/quired.conf"
i=0
until [ -S "$dir/data/control.sock" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "quired did not start" >&2; exit 1; }
	sleep 0.1
done

"$QUIRECTL" -D "$dir/data" submit --ndjson "$top/contrib/example/records.ndjson"
"$QUIRECTL" -D "$dir/data" submit "$top/README" "$top/man"

# Wait until nothing is ready, leased or waiting for a retry.
i=0
while :; do
	left=$("$QUIRECTL" -D "$dir/data" status --json |
	    sed 's/.*"ready": \([0-9]*\), "leased": \([0-9]*\), "retry": \([0-9]*\).*/\1 \2 \3/')
	[ "$left" = "0 0 0" ] && break
	i=$((i + 1))
	[ $i -lt 600 ] || { echo "jobs did not finish" >&2; exit 1; }
	sleep 0.1
done
"$QUIRECTL" -D "$dir/data" status
"$QUIRECTL" -D "$dir/data" jobs --limit 10
