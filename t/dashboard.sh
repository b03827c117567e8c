#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The dashboard in a real browser: quired with its http child on a free
# loopback port, a bearer token, and the page of web/ driven in headless
# chromium through the DevTools protocol (t/dashboard.py).  The page asks
# for the token and goes live with it, shows the fleet, takes NDJSON
# records typed into its upload form and a file chosen in it, shows
# their jobs done at 100%, finds a document with its query word
# highlighted (markup in a document stays text), lists a too-deep
# document as a dead letter with its reason, and retries it with its
# button once the limit is raised.  A screenshot of the page is left in
# t/dashboard.png.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || skip "no chromium (apt-get install chromium)"
[ -x "$PY" ] && "$PY" -c 'import websocket' 2>/dev/null ||
    skip "no python3-websocket (apt-get install python3-websocket)"

# A loopback port free now; quired binds it a moment later.
free_port() {
	"$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# get PATH: the body of GET http://127.0.0.1:PORT/PATH with the token.
get() {
	"$PY" - "http://127.0.0.1:$PORT/$1" "$TOKEN" <<'END'
import sys, urllib.request
r = urllib.request.Request(sys.argv[1],
    headers={"Authorization": "Bearer " + sys.argv[2]})
sys.stdout.write(urllib.request.urlopen(r, timeout=5).read().decode())
END
}

TOKEN=dash-$$-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s\n' "$TOKEN" > "$T/token"
chmod 600 "$T/token"
PORT=$(free_port)
write_conf "workers 2" "max-depth 8" "http-listen 127.0.0.1:$PORT" \
    "http-token-file $T/token" "http-web-root $TOPSRC/web"
start_quired
wait_for 10 get healthz || fail "no /healthz on port $PORT"
get "" | grep -q '<title>quire</title>' || fail "GET / is not the page"

cat > "$T/records.ndjson" <<'END'
{"id": "g1", "title": "Garden", "text": "The dog chewed a bone in the garden until dusk."}
{"id": "g2", "title": "Fireside", "text": "The cat and the dog slept by the fire all evening."}
{"id": "g3", "title": "Kitchen", "text": "A mouse crossed the kitchen floor at night."}
{"id": "g4", "title": "Markup", "text": "Angle brackets stay text: <b>bold</b> & <script>alert(1)</script> quokka."}
END
cat > "$T/more.ndjson" <<'END'
{"id": "f1", "title": "Heron", "text": "A grey heron stood in the shallows."}
{"id": "f2", "title": "Otter", "text": "An otter slid down the muddy bank."}
END
deep=$(printf '[%.0s' $(seq 20))1$(printf ']%.0s' $(seq 20))
echo "{\"id\": \"deep1\", \"text\": \"a zebra crossing\", \"x\": $deep}" \
    > "$T/bad.ndjson"

rm -f t/dashboard.png
mkdir -p t
timeout 360 "$PY" "$TOPSRC/t/dashboard.py" --url "http://127.0.0.1:$PORT/" \
    --chromium "$CHROMIUM" --profile "$T/chromium" \
    --screenshot "$(pwd)/t/dashboard.png" --token "$TOKEN" --workers 2 \
    --tenant web --tenants --records "$T/records.ndjson" \
    --file "$T/more.ndjson" \
    --query garden --hit g1 --mark garden --snippet "bone in the garden" \
    --markup-query quokka --markup-hit g4 \
    --bad "$T/bad.ndjson" --reason too-deep \
    --before-retry "sed -i 's/^max-depth 8\$/max-depth 256/' '$CONF' &&
	'$QUIRECTL' -D '$DATA' reload" \
    --retry-query zebra --retry-hit deep1 ||
    fail "the dashboard in chromium"

# What the page showed is what quirectl sees.
[ -s t/dashboard.png ] || fail "no screenshot"
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters left"
[ "$(status_json .index.documents)" = 7 ] ||
    fail "documents: $(status_json .index.documents)"
ctl search --json zebra | jq -e '.hits[0].id == "deep1"' > /dev/null ||
    fail "zebra is not found"
ctl search --json heron | jq -e '.hits[0].id == "f1"' > /dev/null ||
    fail "heron, from the uploaded file, is not found"
exit 0
