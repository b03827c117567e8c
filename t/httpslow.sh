#!/bin/sh
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Slow and greedy clients: 500 connections that trickle their headers a
# byte at a time, or send nothing, hold no one up: real requests keep
# their answers meanwhile, and the trickling ones are shut once
# http-timeout has passed without a request or the pace a request must
# keep.  Past http-max-connections a request gets 503 with Retry-After.

. "${TOPSRC:-.}/t/lib.sh"

command -v curl > /dev/null || { echo "SKIP: no curl"; exit 77; }
command -v python3 > /dev/null || { echo "SKIP: no python3"; exit 77; }
write_conf "workers 1" "listen 127.0.0.1:0" "http-timeout 2s" \
    "http-max-connections 600"
start_quired
HPORT=$(http_port)

# slow PORT N SECONDS: N connections trickling a header a byte every
# 0.25 s for SECONDS; prints how many the server shut before the end.
cat > "$T/slow.py" <<'PY'
import socket, sys, time
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: q\r\nX-Slow: ")
    s.setblocking(False)
    socks.append(s)
shut = set()
end = time.time() + secs
while time.time() < end:
    for i, s in enumerate(socks):
        if i in shut:
            continue
        try:
            if s.recv(4096) == b"":
                shut.add(i)
                continue
        except BlockingIOError:
            pass
        except OSError:
            shut.add(i)
            continue
        try:
            s.send(b"a")
        except OSError:
            shut.add(i)
    time.sleep(0.25)
print(len(shut))
PY
python3 "$T/slow.py" "$HPORT" 500 6 > "$T/shut" &
slow=$!
sleep 1
# Meanwhile, real requests are answered, each within curl's 5 s.
i=0
while [ $i -lt 20 ]; do
	code=$(hreq GET /healthz --max-time 5)
	[ "$code" = 200 ] || fail "request $i beside 500 slow ones: $code"
	i=$((i + 1))
done
wait "$slow"
[ "$(cat "$T/shut")" -ge 495 ] ||
    fail "only $(cat "$T/shut") of 500 trickling connections were shut"
code=$(hreq GET /healthz --max-time 5)
[ "$code" = 200 ] || fail "after the slow clients: $code"

# --- The cap: 30 connections that stay open, 20 served.
kill -TERM "$(quired_pid)"
wait_for 10 pid_gone "$(quired_pid)" || fail "quired did not stop"
write_conf "workers 1" "listen 127.0.0.1:0" "http-max-connections 20"
: > "$LOG"
start_quired
HPORT=$(http_port)
cat > "$T/cap.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for i in range(n)]
codes = []
for s in socks:
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: q\r\n\r\n")
    s.settimeout(5)
    head = s.recv(4096).decode("latin-1")
    codes.append(head.split(" ")[1] + ("R" if "Retry-After" in head else ""))
print(" ".join(codes))
PY
# One request a connection, one after the other: each closed connection
# is forgotten in time, so the cap refuses none of them.
cat > "$T/churn.py" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
codes = {}
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        data += d
    s.close()
    c = data.split(b" ")[1].decode() if data else "none"
    codes[c] = codes.get(c, 0) + 1
print(" ".join("%s:%d" % kv for kv in sorted(codes.items())))
PY
python3 "$T/churn.py" "$HPORT" 1000 > "$T/churn"
[ "$(cat "$T/churn")" = "200:1000" ] ||
    fail "1000 requests on a connection each, under a cap of 20: $(cat "$T/churn")"
python3 "$T/cap.py" "$HPORT" 30 > "$T/codes"
[ "$(tr ' ' '\n' < "$T/codes" | grep -c '^200$')" = 20 ] ||
    fail "not 20 served of 30: $(cat "$T/codes")"
[ "$(tr ' ' '\n' < "$T/codes" | grep -c '^503R$')" = 10 ] ||
    fail "not 10 refused with Retry-After: $(cat "$T/codes")"
echo "ok: $(cat "$T/shut") of 500 slow connections shut; 20 of 30 served"
