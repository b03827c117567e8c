#!/usr/bin/python3
# quire: durable document ingestion and search on one Unix box. ISC license.
#
# Drives the dashboard in a real browser for t/dashboard.sh: starts
# chromium headless with a private profile, speaks the DevTools protocol
# to it over a websocket, and uses the page as a person would: types
# into its fields, clicks its buttons, and reads what it shows.  Every
# wait is bounded; the browser's process group is killed on the way out.
# Exits 0 when every check holds, 1 with a message when one does not.

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import websocket

TOTAL_SECONDS = 300
STEP_SECONDS = 60


class Fail(Exception):
    pass


class Browser:
    """A chromium process and a DevTools session on its one page."""

    def __init__(self, chromium, profile):
        self.profile = profile
        self.ws = None
        self.next_id = 0
        self.exceptions = []
        self.console = []
        self.requests = []
        os.makedirs(profile, exist_ok=True)
        try:
            os.unlink(os.path.join(profile, "DevToolsActivePort"))
        except FileNotFoundError:
            pass
        self.log = open(os.path.join(profile, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-sync",
             "--disable-background-networking",
             "--disable-component-update", "--disable-dev-shm-usage",
             "--user-data-dir=" + profile, "--remote-debugging-port=0",
             "--window-size=1280,1800", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)

    def connect(self):
        port = self.devtools_port()
        try:
            with urllib.request.urlopen(
                    "http://127.0.0.1:%d/json/list" % port,
                    timeout=10) as r:
                targets = json.load(r)
        except OSError as e:
            raise Fail("chromium's DevTools on port %d: %s" % (port, e))
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise Fail("chromium shows no page target")
        try:
            self.ws = websocket.create_connection(
                pages[0]["webSocketDebuggerUrl"], timeout=STEP_SECONDS,
                suppress_origin=True)
        except (OSError, websocket.WebSocketException) as e:
            raise Fail("chromium's DevTools websocket: %s" % e)

    def devtools_port(self):
        path = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail("chromium exited with status %d (see %s)" %
                           (self.proc.returncode, self.log.name))
            try:
                with open(path) as f:
                    first = f.readline().strip()
                if first.isdigit():
                    return int(first)
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        raise Fail("chromium wrote no DevToolsActivePort in 30 s")

    def call(self, method, **params):
        self.next_id += 1
        mine = self.next_id
        self.ws.send(json.dumps({"id": mine, "method": method,
                                 "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mine:
                if "error" in msg:
                    raise Fail("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.event(msg)

    def event(self, msg):
        m = msg.get("method")
        p = msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            exc = d.get("exception", {})
            self.exceptions.append(exc.get("description") or d.get("text"))
        elif m == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", ""))
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.console.append(" ".join(str(a.get("value", a.get(
                "description", ""))) for a in p.get("args", [])))

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise Fail("page script %r: %s" % (
                expr, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait(self, expr, what, seconds=STEP_SECONDS):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            v = self.js(expr)
            if v:
                return v
            time.sleep(0.2)
        raise Fail("%s: not seen in %d s" % (what, seconds))

    def click(self, selector):
        box = self.js("""(function () {
            var e = document.querySelector(%s);
            if (e === null) return null;
            e.scrollIntoView({block: "center"});
            var r = e.getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2];
        })()""" % json.dumps(selector))
        if box is None:
            raise Fail("no %s to click" % selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0],
                      y=box[1], button="left",
                      clickCount=0 if kind == "mouseMoved" else 1)

    def type(self, selector, text):
        """Focus the field, select what it holds, type text over it."""
        if not self.js("""(function () {
            var e = document.querySelector(%s);
            if (e === null) return false;
            e.focus(); e.select(); return true;
        })()""" % json.dumps(selector)):
            raise Fail("no %s to type in" % selector)
        self.call("Input.insertText", text=text)

    def choose_file(self, selector, path):
        r = self.call("Runtime.evaluate",
                      expression="document.querySelector(%s)" %
                      json.dumps(selector))
        oid = r.get("result", {}).get("objectId")
        if oid is None:
            raise Fail("no %s to choose a file in" % selector)
        self.call("DOM.setFileInputFiles", files=[path], objectId=oid)

    def key(self, name, code):
        self.call("Input.dispatchKeyEvent", type="keyDown", key=name,
                  code=name, windowsVirtualKeyCode=code,
                  text="\r" if name == "Enter" else "")
        self.call("Input.dispatchKeyEvent", type="keyUp", key=name,
                  code=name, windowsVirtualKeyCode=code)

    def close(self):
        try:
            if self.ws is not None:
                self.ws.settimeout(5)
                self.call("Browser.close")
        except Exception:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


def text_of(b, selector):
    return b.js("(function () { var e = document.querySelector(%s);"
                " return e === null ? null : e.textContent; })()" %
                json.dumps(selector))


def job_rows(b):
    """The page's job rows: [id, state, percent text]."""
    return b.js("""Array.from(document.querySelectorAll(
        "#job-list tbody tr")).map(function (r) {
        return [Number(r.dataset.job), r.dataset.state,
            r.querySelector(".pct").textContent];
    })""")


def submit(command):
    """Run a command that submits a job; its id."""
    out = subprocess.run(command, shell=True, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    check(out.strip().isdigit(), "%s printed %r, not a job id" %
          (command, out))
    return int(out)


def watch_progress(b, jid, seconds=STEP_SECONDS):
    """The percentages the page shows for a job until it is done at
    100%; the job must also show on its worker's row while it runs."""
    seen = []
    on_worker = False
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = b.js("""(function () {
            var r = document.querySelector('#job-list tr[data-job="%d"]');
            var w = Array.from(document.querySelectorAll(
                "#workers tbody tr")).filter(function (e) {
                return e.children[3].textContent === "#%d"; });
            return r === null ? null : [r.dataset.state,
                r.querySelector(".pct").textContent, w.length === 1];
        })()""" % (jid, jid))
        if r is not None:
            if r[0] == "leased" and (not seen or seen[-1] != r[1]):
                seen.append(r[1])
            on_worker = on_worker or r[2]
            if r[0] == "done" and r[1] == "100%":
                seen.append(r[1])
                check(on_worker, "job %d never showed on a worker" % jid)
                return seen
            check(r[0] in ("ready", "leased"),
                  "job %d is %s" % (jid, r[0]))
        time.sleep(0.1)
    raise Fail("job %d: not done at 100%% in %d s (seen %s)" %
               (jid, seconds, seen))


def check(cond, message):
    if not cond:
        raise Fail(message)


def run(a, b):
    b.call("Page.enable")
    b.call("Runtime.enable")
    b.call("Network.enable")
    # Before the page's own script: note what its policy refuses.
    b.call("Page.addScriptToEvaluateOnNewDocument", source="""
        window.quireRefused = [];
        document.addEventListener("securitypolicyviolation", function (e) {
            window.quireRefused.push(e.violatedDirective + " " + e.blockedURI);
        });""")
    b.call("Page.navigate", url=a.url)
    b.wait("document.readyState === 'complete' && "
           "document.getElementById('upload-form') !== null",
           "the page loading")

    if a.token:
        # Without the token, the page says what it needs and nothing
        # else; with it, the event stream goes live.
        b.wait("/access token is needed/.test("
               "document.getElementById('conn').textContent)",
               "the page asking for the access token")
        b.type("#token", a.token)
        b.click("#token-form button[type=submit]")
        check(b.js("sessionStorage.getItem('quire.token')") == a.token,
              "the token is not kept in sessionStorage")
    b.wait("document.getElementById('conn').textContent === 'Live'",
           "the live event stream")
    # The fleet as the status reports it.
    b.wait("document.querySelectorAll('#workers tbody tr').length === %d"
           % a.workers, "%d workers in the fleet table" % a.workers)
    b.wait("/^%d of %d workers running/.test(document.getElementById("
           "'fleet-summary').textContent)" % (a.workers, a.workers),
           "the fleet summary")
    mem = b.js("document.querySelector('#workers tbody tr td.mem')"
               ".textContent")
    check(mem.endswith("KiB") or mem.endswith("MiB"),
          "worker memory shows as %r" % mem)

    # Submit the records through the form.
    records = open(a.records).read()
    nrec = len([l for l in records.splitlines() if l.strip()])
    b.type("#upload-tenant", a.tenant)
    b.type("#upload-text", records)
    b.click("#upload-submit")
    b.wait("/^Accepted %d records/.test(document.getElementById("
           "'upload-result').textContent)" % nrec,
           "the upload accepted")
    check(text_of(b, "#upload-text") == "",
          "the form still holds the records")
    # And a file of records through the form's file field.
    frec = len([l for l in open(a.file).read().splitlines() if l.strip()])
    b.choose_file("#upload-file", os.path.abspath(a.file))
    b.click("#upload-submit")
    b.wait("/^Accepted %d records?/.test(document.getElementById("
           "'upload-result').textContent)" % frec,
           "the file upload accepted")
    check(b.js("document.getElementById('upload-file').files.length") == 0,
          "the form still holds the file")
    nrec += frec
    rows = b.wait("""(function () {
        var r = Array.from(document.querySelectorAll("#job-list tbody tr"));
        return r.length > 0 && r.every(function (e) {
            return e.dataset.state === "done" &&
                e.querySelector(".pct").textContent === "100%";
        }) ? r.length : 0;
    })()""", "every submitted job done at 100%")
    print("dashboard: %d jobs done at 100%%" % rows)
    b.wait("Number(document.querySelector('#counts [data-state=done] dd')"
           ".textContent) >= %d" % rows, "the done count")
    b.wait("Number(document.getElementById('docs-total').textContent) "
           ">= %d" % nrec, "%d documents indexed" % nrec)
    if a.tenants:
        b.wait("""(function () {
            var r = document.querySelector(
                '#tenants tbody tr[data-tenant="%s"]');
            return r !== null &&
                Number(r.querySelector('td:nth-child(5)').textContent) >= 1;
        })()""" % a.tenant, "tenant %s in the tenant table" % a.tenant)

    # A job that runs for seconds: the page shows it running, on its
    # worker too, its progress rising, then done at 100%.
    if a.slow_job:
        sid = submit(a.slow_job)
        seen = watch_progress(b, sid)
        print("dashboard: job %d progress seen: %s" % (sid, " ".join(seen)))
        rising = [int(p[:-1]) for p in seen if p != "100%"]
        check(len(set(rising)) >= 2 and rising == sorted(rising) and
              0 < rising[-1] < 100,
              "job %d's progress did not rise: %s" % (sid, seen))

    # A job that would run for a minute, cancelled with its button: its
    # worker lets it go at once.
    if a.long_job:
        lid = submit(a.long_job)
        b.wait("""(function () {
            var r = document.querySelector('#job-list tr[data-job="%d"]');
            return r !== null && r.dataset.state === "leased";
        })()""" % lid, "job %d running" % lid)
        b.click('#job-list button[data-cancel="%d"]' % lid)
        b.wait("/^Job #%d cancelled \\(it was running\\)/.test("
               "document.getElementById('jobs-result').textContent)" % lid,
               "job %d cancelled while running" % lid)
        b.wait("""(function () {
            var r = document.querySelector('#job-list tr[data-job="%d"]');
            return r.dataset.state === "cancelled" &&
                r.querySelector("button[data-cancel]").hidden &&
                Array.from(document.querySelectorAll("#workers tbody tr"))
                .every(function (e) {
                    return e.children[3].textContent !== "#%d"; });
        })()""" % (lid, lid), "job %d cancelled and off its worker" % lid,
            seconds=10)
        print("dashboard: job %d cancelled while running" % lid)

    # Search, and the snippet with its highlighted word.
    b.type("#search-q", a.query)
    b.key("Enter", 13)
    b.wait("document.querySelectorAll('#hits li').length > 0",
           "hits for %r" % a.query)
    hit = b.js("""(function () {
        var li = document.querySelector("#hits li");
        return { id: li.dataset.id,
            marks: Array.from(li.querySelectorAll(".snippet mark"))
                .map(function (m) { return m.textContent; }),
            snippet: li.querySelector(".snippet").textContent,
            n: document.querySelectorAll("#hits li").length,
            summary: document.getElementById("search-summary")
                .textContent };
    })()""")
    check(hit["id"] == a.hit, "first hit %s, not %s" % (hit["id"], a.hit))
    check(hit["n"] == 1 and hit["summary"].startswith("1 hit"),
          "%d hits: %s" % (hit["n"], hit["summary"]))
    check(hit["marks"] and all(m.lower() == a.mark for m in hit["marks"]),
          "highlighted %r, not %r" % (hit["marks"], a.mark))
    check(a.snippet in hit["snippet"],
          "snippet %r lacks %r" % (hit["snippet"], a.snippet))
    # Markup in a document is shown as text, never made into elements.
    b.type("#search-q", a.markup_query)
    b.key("Enter", 13)
    b.wait("document.querySelector('#hits li') !== null && "
           "document.querySelector('#hits li').dataset.id === %s" %
           json.dumps(a.markup_hit), "the hit for %r" % a.markup_query)
    check(b.js("document.querySelectorAll('#hits li .snippet *:not(mark)')"
               ".length") == 0, "server text became elements")
    check("<b>" in text_of(b, "#hits li .snippet"),
          "the snippet does not show the markup as text")

    # A document the workers refuse, chosen as a file, becomes a dead
    # letter with its reason.
    b.choose_file("#upload-file", os.path.abspath(a.bad))
    b.click("#upload-submit")
    b.wait("/^Accepted as job #[0-9]+\\.$/.test(document.getElementById("
           "'upload-result').textContent)", "the bad document accepted")
    dead = b.wait("""(function () {
        var r = Array.from(document.querySelectorAll("#dead-list tbody tr"))
            .filter(function (e) {
                return e.textContent.indexOf(%s) >= 0; });
        return r.length === 1 ? Number(r[0].dataset.job) : 0;
    })()""" % json.dumps(a.reason), "a dead letter for %r" % a.reason)
    print("dashboard: job %d is a dead letter" % dead)
    check(b.js("document.getElementById('dead-empty').hidden"),
          "the page says there are no dead letters")

    # Retried after the limit is raised, it is done and found.
    if a.before_retry:
        subprocess.run(a.before_retry, shell=True, check=True)
    b.click('#dead-list button[data-retry="%d"]' % dead)
    b.wait("/^Job #%d is ready again/.test(document.getElementById("
           "'dead-result').textContent)" % dead, "the retry acknowledged")
    b.wait("document.querySelector('#dead-list tbody tr[data-job=\"%d\"]')"
           " === null" % dead, "the dead letter gone")
    b.wait("""(function () {
        var r = document.querySelector('#job-list tr[data-job="%d"]');
        return r !== null && r.dataset.state === "done" &&
            r.querySelector(".pct").textContent === "100%%";
    })()""" % dead, "the retried job done")
    b.type("#search-q", a.retry_query)
    b.click("#search-form button[type=submit]")
    b.wait("document.querySelector('#hits li') !== null && "
           "document.querySelector('#hits li').dataset.id === %s" %
           json.dumps(a.retry_hit), "the retried document found")

    shot = b.call("Page.captureScreenshot", format="png",
                  captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    check(png[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG")
    with open(a.screenshot, "wb") as f:
        f.write(png)
    print("dashboard: screenshot %s (%d bytes)" % (a.screenshot, len(png)))

    check(not b.exceptions, "page exceptions: %s" % b.exceptions)
    # Nothing from elsewhere, nothing the page's policy refused.
    origin = a.url.rstrip("/")
    away = [u for u in b.requests
            if not (u == origin or u.startswith(origin + "/") or
                    u.startswith("data:"))]
    check(not away, "requests elsewhere: %s" % away)
    check(len(b.requests) > 10, "only %d requests seen" % len(b.requests))
    refused = b.js("window.quireRefused")
    check(refused == [], "refused by the page's policy: %s" % refused)
    check(not b.console, "page console errors: %s" % b.console)


def too_long(signum, frame):
    raise Fail("the whole run took more than %d s" % TOTAL_SECONDS)


def stopped(signum, frame):
    raise Fail("stopped by signal %d" % signum)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--chromium", default="chromium")
    p.add_argument("--profile", required=True)
    p.add_argument("--screenshot", required=True)
    p.add_argument("--token", default="")
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--tenant", default="default")
    p.add_argument("--tenants", action="store_true",
                   help="the tenant table must show the tenant")
    p.add_argument("--records", required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--slow-job", default="",
                   help="a command that submits a job of some seconds "
                   "and prints its id")
    p.add_argument("--long-job", default="",
                   help="a command that submits a job of a minute and "
                   "prints its id; the page cancels it")
    p.add_argument("--query", required=True)
    p.add_argument("--hit", required=True)
    p.add_argument("--mark", required=True)
    p.add_argument("--snippet", required=True)
    p.add_argument("--markup-query", required=True)
    p.add_argument("--markup-hit", required=True)
    p.add_argument("--bad", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--before-retry", default="")
    p.add_argument("--retry-query", required=True)
    p.add_argument("--retry-hit", required=True)
    a = p.parse_args()

    signal.signal(signal.SIGALRM, too_long)
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    signal.alarm(TOTAL_SECONDS)
    b = None
    try:
        b = Browser(a.chromium, a.profile)
        b.connect()
        run(a, b)
    except (Fail, OSError, ValueError, websocket.WebSocketException) as e:
        print("FAIL: dashboard: %s" % e, file=sys.stderr)
        if b is not None and b.ws is not None:
            try:
                b.ws.settimeout(10)
                print("--- page text:\n%s" % b.js(
                    "document.body.innerText"), file=sys.stderr)
            except Exception:
                pass
            if b.exceptions:
                print("page exceptions: %s" % b.exceptions,
                      file=sys.stderr)
        return 1
    finally:
        if b is not None:
            b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
