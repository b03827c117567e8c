#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# The dashboard in a real browser: quired with its http child on a
# loopback port of its choosing, a bearer token, and the page of web/
# driven in headless chromium through the DevTools protocol
# (t/dashboard.py).  The page asks for the token and goes live with it,
# shows the fleet, takes NDJSON records typed into its upload form and a
# file chosen in it, shows their jobs done at 100%, follows a job of
# seconds to 100% and cancels a running one with its button, finds a
# document with its query word highlighted (markup in a document stays
# text), lists a too-deep document as a dead letter with its reason,
# and retries it with its button once the limit is raised; it asks
# nothing of another origin.  A screenshot of the page is left in
# t/dashboard.png.

: "${TOPSRC:=$(cd "$(dirname "$0")/.." && pwd)}"
. "$TOPSRC/t/lib.sh"

PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || skip "no chromium (apt-get install chromium)"
[ -x "$PY" ] && "$PY" -c 'import websocket' 2>/dev/null ||
    skip "no python3-websocket (apt-get install python3-websocket)"
command -v curl > /dev/null || skip "no curl"

TOKEN=dash-$$-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s\n' "$TOKEN" > "$T/token"
chmod 600 "$T/token"
write_conf "workers 2" "max-depth 8" "listen 127.0.0.1:0" \
    "http-token-file $T/token" "http-web-root $TOPSRC/web"
start_quired
HPORT=$(http_port)
healthy() {
	[ "$(hreq GET /healthz)" = 200 ]
}
wait_for 10 healthy || fail "no /healthz"
[ "$(hreq GET /)" = 200 ] && grep -q '<title>quire</title>' "$T/hbody" ||
    fail "GET / is not the page"
[ "$(hreq GET /v1/status)" = 401 ] || fail "the API answers without a token"

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
# Nested deeper than max-depth: a dead letter until the limit is raised.
deep=$(printf '{"a": %.0s' $(seq 20))1$(printf '}%.0s' $(seq 20))
echo "{\"title\": \"Deep\", \"text\": \"a zebra crossing\", \"x\": $deep}" \
    > "$T/deep.json"

timeout 360 "$PY" "$TOPSRC/t/dashboard.py" --url "http://127.0.0.1:$HPORT/" \
    --chromium "$CHROMIUM" --profile "$T/chromium" \
    --screenshot "$T/dashboard.png" --token "$TOKEN" --workers 2 \
    --tenant web --tenants --records "$T/records.ndjson" \
    --file "$T/more.ndjson" \
    --slow-job "'$QUIRECTL' -D '$DATA' submit --tenant web --debug 'sleep 4000'" \
    --long-job "'$QUIRECTL' -D '$DATA' submit --tenant web --debug 'sleep 60000'" \
    --query garden --hit g1 --mark garden --snippet "bone in the garden" \
    --markup-query quokka --markup-hit g4 \
    --bad "$T/deep.json" --reason too-deep \
    --before-retry "sed -i 's/^max-depth 8\$/max-depth 256/' '$CONF' &&
	'$QUIRECTL' -D '$DATA' reload" \
    --retry-query zebra --retry-hit deep.json ||
    fail "the dashboard in chromium"

# The screenshot is the build's artifact (renamed into place, so that two
# runs at once each leave a whole one).
mkdir -p t
cp "$T/dashboard.png" "t/dashboard.png.$$" &&
    mv -f "t/dashboard.png.$$" t/dashboard.png || fail "no screenshot"

# What the page showed is what quirectl sees.
[ "$(status_json .jobs.dead)" = 0 ] || fail "dead letters left"
[ "$(status_json .index.documents)" = 7 ] ||
    fail "documents: $(status_json .index.documents)"
ctl search --json zebra | jq -e '.hits[0].id == "deep.json"' > /dev/null ||
    fail "zebra is not found"
ctl search --json heron | jq -e '.hits[0].id == "f1"' > /dev/null ||
    fail "heron, from the uploaded file, is not found"
exit 0
