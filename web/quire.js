/*
 * quire: durable document ingestion and search on one Unix box. ISC license.
 *
 * The dashboard's behaviour.  Everything comes from quired's HTTP API
 * on the same origin:
 *
 *	GET /v1/status		queue counts, fleet, storage (every 2 s)
 *	GET /metrics		per-tenant queue counts, when status has none
 *	GET /v1/events		Server-Sent Events: "job" (state and progress
 *				of every job the token may see) and "status"
 *				(counts, rate, workers; once a second)
 *	GET /v1/jobs/ID		a followed job, while the event stream is down
 *	GET /v1/dead		dead letters; POST /v1/jobs/ID/retry each,
 *				POST /v1/dead/retry all
 *	GET /v1/search		hits with snippets and their match ranges
 *	POST /v1/documents/bulk	NDJSON records; POST /v1/documents a file
 *
 * With an access token, fetch sends it as "Authorization: Bearer"; an
 * EventSource cannot send headers, so the event stream alone carries it
 * as ?access_token=.  The token lives in sessionStorage: this tab only.
 *
 * Text from the server is only ever put in the page as text nodes (no
 * innerHTML), and search highlights are built as <mark> elements from
 * the byte ranges the server gives.  Every list is bounded: the page
 * follows at most MAX_JOBS jobs, shows at most MAX_DEAD dead letters
 * and MAX_HITS hits, and ignores an event bigger than MAX_EVENT.
 */
"use strict";

(function () {

var TOKEN_KEY = "quire.token";
var MAX_JOBS = 200;
var MAX_DEAD = 200;
var MAX_HITS = 50;
var MAX_EVENT = 65536;
var MAX_TENANTS = 100;
var STATUS_MS = 2000;
var DEAD_MS = 4000;
var METRICS_MS = 5000;
var JOBS_DRAW_MS = 200;
var STATES = ["ready", "leased", "retry", "done", "dead", "cancelled"];
var FINAL = { done: 1, dead: 1, cancelled: 1 };
var STATE_WORDS = { leased: "running", retry: "retrying" };
var WAS_WORDS = { leased: "claimed by a worker", retry: "waiting to retry" };

var jobs = new Map();		/* id -> { id, tenant, state, progress, error } */
var events = null;		/* the EventSource */
var fleet = null;		/* the fleet of the last status */
var memory = {};
var live = false;
var lastTotals = null;		/* { t, completed, enqueued }: job rates */
var lastTenants = null;		/* { t, done: Map } for per-tenant rates */
var tenantsFromStatus = false;
var authNeeded = false;

function $(id) {
	return document.getElementById(id);
}

/* An element with attributes and children; strings become text nodes. */
function el(tag, attrs) {
	var e = document.createElement(tag);
	var k, i, c;

	for (k in attrs || {}) {
		if (k === "class")
			e.className = attrs[k];
		else
			e.setAttribute(k, attrs[k]);
	}
	for (i = 2; i < arguments.length; i++) {
		c = arguments[i];
		if (c === null || c === undefined)
			continue;
		e.appendChild(typeof c === "object" ? c :
		    document.createTextNode(String(c)));
	}
	return e;
}

function clear(e) {
	while (e.firstChild)
		e.removeChild(e.firstChild);
}

function setText(id, text) {
	$(id).textContent = text;
}

/*
 * Make tbody's rows those of keys, in that order: a row for a key it
 * already has is kept and updated, so that a button keeps its focus
 * and a click is not lost to a redraw; make(key) builds a new one,
 * update(row, key) fills it; rows of other keys go.
 */
function syncRows(tb, keys, make, update) {
	var have = new Map(), want = new Set(), i, r, next;

	for (i = 0; i < tb.rows.length; i++)
		have.set(tb.rows[i].getAttribute("data-key"), tb.rows[i]);
	next = tb.firstElementChild;
	for (i = 0; i < keys.length; i++) {
		want.add(keys[i]);
		r = have.get(keys[i]);
		if (r === undefined) {
			r = make(keys[i]);
			r.setAttribute("data-key", keys[i]);
		}
		update(r, keys[i]);
		if (r !== next)
			tb.insertBefore(r, next);
		else
			next = next.nextElementSibling;
	}
	have.forEach(function (row, k) {
		if (!want.has(k))
			tb.removeChild(row);
	});
}

function token() {
	try {
		return sessionStorage.getItem(TOKEN_KEY) || "";
	} catch (e) {
		return "";
	}
}

/*
 * A request to the API; resolves to the parsed JSON (or the text when
 * asText), rejects with an Error carrying the server's message, code
 * and HTTP status.
 */
function api(method, path, body, type, asText) {
	var headers = {};
	var t = token();

	if (t !== "")
		headers.Authorization = "Bearer " + t;
	if (body !== undefined && body !== null)
		headers["Content-Type"] = type || "application/json";
	return fetch(path, { method: method, headers: headers, body: body,
	    cache: "no-store", credentials: "omit" }).then(function (r) {
		return r.text().then(function (text) {
			var data = null, err;

			if (asText && r.ok)
				return text;
			try {
				data = text === "" ? null : JSON.parse(text);
			} catch (e) {
				data = null;
			}
			if (r.status === 401)
				needAuth(data);
			else if (r.ok)
				authNeeded = false;
			if (r.ok)
				return data;
			err = new Error(data && data.error ? data.error :
			    "HTTP " + r.status + " " + r.statusText);
			err.status = r.status;
			err.code = data && data.code ? data.code : "";
			err.data = data;
			throw err;
		});
	});
}

function needAuth(data) {
	authNeeded = true;
	setConn(false, token() === "" ?
	    "An access token is needed: enter it above." :
	    "The access token was refused" +
	    (data && data.error ? ": " + data.error : "."));
}

function setConn(ok, text) {
	var c = $("conn");

	c.className = "conn " + (ok ? "live" : "down");
	c.textContent = text;
}

function fmtInt(n) {
	return typeof n === "number" ? n.toLocaleString("en") : "\u2013";
}

function fmtRate(r) {
	if (typeof r !== "number" || !isFinite(r))
		return "\u2013";
	return r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString("en");
}

function fmtKiB(kb) {
	if (typeof kb !== "number")
		return "\u2013";
	if (kb < 1024)
		return kb + " KiB";
	return (kb / 1024).toFixed(1) + " MiB";
}

function fmtMs(ms) {
	if (typeof ms !== "number")
		return "";
	if (ms < 1000)
		return ms + " ms";
	if (ms < 120000)
		return (ms / 1000).toFixed(1) + " s";
	return Math.round(ms / 60000) + " min";
}

function fmtAge(when) {
	if (typeof when !== "number")
		return "";
	return fmtMs(Math.max(0, Date.now() - when)) + " ago";
}

/* --- Queue counts, rates and the fleet. */

function showCounts(counts) {
	var divs = $("counts").querySelectorAll("div[data-state]");
	var i, s;

	for (i = 0; i < divs.length; i++) {
		s = divs[i].getAttribute("data-state");
		if (typeof counts[s] === "number")
			divs[i].querySelector("dd").textContent =
			    fmtInt(counts[s]);
	}
}

function showStatus(st) {
	var now = Date.now(), f = st.fleet || {}, done;

	showCounts(st.jobs || {});
	setText("docs-total", fmtInt(st.index ? st.index.documents : null));
	setText("storage", st.storage ? st.storage.state +
	    (st.storage.what ? " (" + st.storage.what + ")" : "") : "\u2013");
	done = st.totals || {};
	if (typeof done.completed === "number" &&
	    typeof done.enqueued === "number") {
		if (lastTotals !== null && now > lastTotals.t) {
			setText("jobs-rate", fmtRate((done.completed -
			    lastTotals.completed) * 1000 / (now - lastTotals.t)));
			setText("in-rate", fmtRate((done.enqueued -
			    lastTotals.enqueued) * 1000 / (now - lastTotals.t)));
		}
		lastTotals = { t: now, completed: done.completed,
		    enqueued: done.enqueued };
	}
	if (typeof st.docs_per_s === "number")
		setText("docs-rate", fmtRate(st.docs_per_s));
	fleet = f;
	memory = st.memory || {};
	showFleet(f, memory);
	if (Array.isArray(st.tenants) || (st.tenants &&
	    typeof st.tenants === "object")) {
		tenantsFromStatus = true;
		showTenants(tenantList(st.tenants));
	}
}

function showFleet(f, mem) {
	var tb = $("workers").tBodies[0];
	var ws = Array.isArray(f.workers) ? f.workers : [];
	var parts = [], i, w, job;

	parts.push((f.running !== undefined ? f.running : "?") + " of " +
	    (f.target !== undefined ? f.target : "?") + " workers running");
	if (f.draining)
		parts.push("draining");
	if (f.degraded)
		parts.push("degraded" + (f.degraded_reason ?
		    ": " + f.degraded_reason : ""));
	if (mem.pressure)
		parts.push("memory pressure");
	if (f.merger && f.merger.state)
		parts.push("merger " + f.merger.state);
	setText("fleet-summary", parts.join("; "));
	workersJobs(ws);
	clear(tb);
	for (i = 0; i < ws.length && i < 1024; i++) {
		w = ws[i];
		job = w.job === null || w.job === undefined ? "" :
		    "#" + w.job;
		tb.appendChild(el("tr", { "data-slot": String(w.slot),
		    "data-state": String(w.state) },
		    el("td", { class: "num" }, w.slot),
		    el("td", { class: "num" }, w.pid || ""),
		    el("td", {}, w.state +
			(w.phase && w.phase !== w.state ? " (" + w.phase +
			")" : "")),
		    el("td", {}, job),
		    el("td", { class: "num" }, job === "" ||
			typeof w.progress !== "number" ? "" :
			Math.floor(Math.min(1, Math.max(0, w.progress)) * 100) +
			"%"),
		    el("td", { class: "num" }, fmtMs(w.elapsed_ms)),
		    el("td", { class: "num mem" }, fmtKiB(w.anon_kb)),
		    el("td", { class: "num" }, fmtInt(w.jobs))));
	}
}

/*
 * A worker's job is running, as far as it knows: its progress there is
 * the freshest there is (the workers report it in their heartbeats).
 * A job already seen to end is left as it ended.
 */
function workersJobs(ws) {
	var i, w, j;

	for (i = 0; i < ws.length && i < 1024; i++) {
		w = ws[i];
		if (w.job === null || w.job === undefined)
			continue;
		j = jobs.get(Number(w.job));
		if (j !== undefined && FINAL[j.state])
			continue;
		updateJob({ job: w.job, state: "leased",
		    progress: typeof w.progress === "number" ? w.progress :
		    undefined });
	}
}

/*
 * Per-tenant counts as [{ tenant, counts: { state: n } }], from either
 * an object keyed by tenant or an array of { tenant, ... } objects.
 */
function tenantList(t) {
	var out = [], k, i, o, c, s;

	if (Array.isArray(t)) {
		for (i = 0; i < t.length; i++) {
			o = t[i] || {};
			c = o.jobs || o;
			out.push({ tenant: String(o.tenant || o.name || ""),
			    counts: c });
		}
	} else {
		for (k in t)
			out.push({ tenant: k, counts: t[k] || {} });
	}
	for (i = 0; i < out.length; i++) {
		for (s = 0; s < STATES.length; s++)
			if (typeof out[i].counts[STATES[s]] !== "number")
				out[i].counts[STATES[s]] = 0;
	}
	return out.slice(0, MAX_TENANTS);
}

function showTenants(list) {
	var tb = $("tenants").tBodies[0];
	var now = Date.now(), done = new Map(), i, t, rate;

	list.sort(function (a, b) {
		return a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0;
	});
	clear(tb);
	for (i = 0; i < list.length; i++) {
		t = list[i];
		done.set(t.tenant, t.counts.done);
		rate = null;
		if (lastTenants !== null && now > lastTenants.t &&
		    lastTenants.done.has(t.tenant))
			rate = Math.max(0, t.counts.done -
			    lastTenants.done.get(t.tenant)) * 1000 /
			    (now - lastTenants.t);
		tb.appendChild(el("tr", { "data-tenant": t.tenant },
		    el("th", { scope: "row" }, t.tenant),
		    el("td", { class: "num" }, fmtInt(t.counts.ready)),
		    el("td", { class: "num" }, fmtInt(t.counts.leased)),
		    el("td", { class: "num" }, fmtInt(t.counts.retry)),
		    el("td", { class: "num" }, fmtInt(t.counts.done)),
		    el("td", { class: "num" }, fmtInt(t.counts.dead)),
		    el("td", { class: "num" }, fmtRate(rate))));
	}
	lastTenants = { t: now, done: done };
	$("tenants-empty").hidden = list.length > 0;
}

/*
 * quire_jobs{state="S",tenant="T"} N lines of the Prometheus text, the
 * per-tenant counts when the status has none.  Label values are
 * unescaped as the exposition format escapes them.
 */
function tenantsFromMetrics(text) {
	var re = /^quire_jobs\{([^}]*)\}\s+([0-9.eE+]+)\s*$/;
	var lre = /(\w+)="((?:[^"\\]|\\.)*)"/g;
	var by = new Map(), lines = text.split("\n"), out = [];
	var i, m, l, labels, n;

	for (i = 0; i < lines.length && i < 100000; i++) {
		m = re.exec(lines[i]);
		if (m === null)
			continue;
		labels = {};
		lre.lastIndex = 0;
		while ((l = lre.exec(m[1])) !== null)
			labels[l[1]] = l[2].replace(/\\(.)/g, function (x, c) {
				return c === "n" ? "\n" : c;
			});
		if (labels.tenant === undefined || labels.state === undefined)
			continue;
		if (!by.has(labels.tenant)) {
			if (by.size >= MAX_TENANTS)
				continue;
			by.set(labels.tenant, {});
		}
		n = Number(m[2]);
		by.get(labels.tenant)[labels.state] = n;
	}
	by.forEach(function (c, t) {
		c.tenant = t;
		out.push(c);
	});
	return tenantList(out);
}

function pollStatus() {
	return api("GET", "/v1/status").then(function (st) {
		if (!authNeeded)
			setConn(live, live ? "Live" : "Connected; live " +
			    "events unavailable, polling");
		showStatus(st || {});
	}).catch(function (e) {
		if (e.status === 403)
			setText("fleet-summary", "This token sees its own " +
			    "tenant's jobs only: no queue or fleet figures.");
		else if (e.status !== 401)
			setConn(false, "Cannot reach quired: " + e.message);
	});
}

function pollTenants() {
	if (tenantsFromStatus)
		return Promise.resolve();
	return api("GET", "/metrics", null, null, true).then(function (t) {
		showTenants(tenantsFromMetrics(String(t)));
	}).catch(function () {
		/* No metrics: the table stays empty, the counts above stand. */
	});
}

/* --- Jobs and their progress. */

function progressOf(j) {
	if (j.state === "done")
		return 1;
	if (typeof j.progress !== "number" || !isFinite(j.progress))
		return 0;
	return Math.min(1, Math.max(0, j.progress));
}

function trackJob(id, tenant) {
	if (!jobs.has(id))
		jobs.set(id, { id: id, tenant: tenant || "", state: "ready",
		    progress: 0, error: null });
	trimJobs();
}

/* Drop the oldest finished jobs, then the oldest, beyond MAX_JOBS. */
function trimJobs() {
	var it;

	if (jobs.size <= MAX_JOBS)
		return;
	jobs.forEach(function (j, id) {
		if (jobs.size > MAX_JOBS && FINAL[j.state])
			jobs.delete(id);
	});
	it = jobs.keys();
	while (jobs.size > MAX_JOBS)
		jobs.delete(it.next().value);
}

function updateJob(d) {
	var id = Number(d.job !== undefined ? d.job : d.id), j;

	if (!Number.isSafeInteger(id) || id <= 0)
		return;
	if (!jobs.has(id))
		trackJob(id, d.tenant);
	j = jobs.get(id);
	/*
	 * Progress only rises within one run: a lower figure for a job
	 * still in the same state is an older one (the queue's record lags
	 * the workers' heartbeats).  A new run starts afresh; a job that
	 * ends shows where it stopped.
	 */
	if (typeof d.state === "string" && d.state !== j.state) {
		j.state = d.state;
		if (!FINAL[d.state])
			j.progress = 0;
	}
	if (typeof d.progress === "number" && d.progress > j.progress)
		j.progress = d.progress;
	if (typeof d.tenant === "string")
		j.tenant = d.tenant;
	if (d.error !== undefined)
		j.error = d.error;
	drawJobsSoon();
}

/* Redraw the job table at most every JOBS_DRAW_MS, however many events. */
var drawTimer = 0;

function drawJobsSoon() {
	if (drawTimer === 0)
		drawTimer = setTimeout(function () {
			drawTimer = 0;
			showJobs();
		}, JOBS_DRAW_MS);
}

function showJobs() {
	var ids = Array.from(jobs.keys()).sort(function (a, b) {
		return b - a;
	}).map(String);

	syncRows($("job-list").tBodies[0], ids, jobRow, jobRowUpdate);
	$("jobs-empty").hidden = ids.length > 0;
}

function jobRow(key) {
	var b = el("button", { type: "button", "data-cancel": key,
	    "aria-label": "Cancel job " + key }, "Cancel");

	b.addEventListener("click", cancelOne);
	return el("tr", { "data-job": key },
	    el("td", { class: "num" }, "#" + key), el("td", {}),
	    el("td", {}),
	    el("td", {}, el("progress", { max: "1", value: "0",
		"aria-label": "job " + key + " progress" }), " ",
		el("span", { class: "pct" })),
	    el("td", {}), el("td", {}, b));
}

function jobRowUpdate(r, key) {
	var j = jobs.get(Number(key)), p = progressOf(j), c = r.cells;

	r.setAttribute("data-state", j.state);
	c[1].textContent = j.tenant;
	c[2].className = "state-" + j.state;
	c[2].textContent = STATE_WORDS[j.state] || j.state;
	c[3].querySelector("progress").value = p;
	c[3].querySelector(".pct").textContent = Math.floor(p * 100) + "%";
	c[4].className = "error";
	c[4].textContent = j.error && j.state !== "done" ? j.error : "";
	c[5].querySelector("button").hidden = FINAL[j.state] === 1;
}

function cancelOne(ev) {
	var b = ev.currentTarget, id = Number(b.getAttribute("data-cancel"));

	b.disabled = true;
	api("DELETE", "/v1/jobs/" + id).then(function (d) {
		setText("jobs-result", "Job #" + id + " cancelled" +
		    (d && d.was ? " (it was " + (WAS_WORDS[d.was] || d.was) +
		    ")." : "."));
		updateJob({ job: id, state: "cancelled" });
	}).catch(function (e) {
		setText("jobs-result", "Job #" + id + " not cancelled: " +
		    e.message);
	}).then(function () {
		b.disabled = false;
	});
}

/*
 * Ask for each followed job that is not finished: at every status poll
 * while the event stream is down, and now and then while it is up (an
 * event may have passed before the stream was open).
 */
var jobPolls = 0;

function pollJobs() {
	var pending = [];

	if (live && jobPolls++ % 5 !== 0)
		return Promise.resolve();
	jobs.forEach(function (j) {
		if (!FINAL[j.state] && pending.length < 20)
			pending.push(j.id);
	});
	return Promise.all(pending.map(function (id) {
		return api("GET", "/v1/jobs/" + id).then(function (d) {
			if (d)
				updateJob(d);
		}).catch(function (e) {
			if (e.status === 404)
				jobs.delete(id);
		});
	})).then(showJobs);
}

/*
 * One stream of every job's events the token may see; for a token that
 * is not bound to a tenant, the status once a second too.
 */
function openEvents() {
	var q = new URLSearchParams(), t = token();

	if (events !== null && events.readyState !== EventSource.CLOSED)
		return;
	if (events !== null)
		events.close();
	if (t !== "")
		q.set("access_token", t);
	events = new EventSource("/v1/events" +
	    (t !== "" ? "?" + q.toString() : ""));
	events.addEventListener("open", function () {
		live = true;
		if (!authNeeded)
			setConn(true, "Live");
	});
	events.addEventListener("error", function () {
		live = false;
		if (!authNeeded)
			setConn(false, "Live events interrupted; polling");
	});
	events.addEventListener("job", function (e) {
		var d = parseEvent(e);

		if (d !== null)
			updateJob(d);
	});
	events.addEventListener("status", function (e) {
		var d = parseEvent(e);

		if (d === null)
			return;
		if (d.jobs)
			showCounts(d.jobs);
		if (typeof d.docs_per_s === "number")
			setText("docs-rate", fmtRate(d.docs_per_s));
		if (Array.isArray(d.workers))
			mergeWorkers(d.workers);
	});
}

/*
 * The workers of a status event (slot, state, job, phase, progress,
 * memory) over those of the last status poll, which also has their
 * pids and counts.
 */
function mergeWorkers(ws) {
	var i, j, w;

	if (fleet === null || !Array.isArray(fleet.workers))
		return;
	for (i = 0; i < ws.length && i < 1024; i++) {
		for (j = 0; j < fleet.workers.length; j++) {
			w = fleet.workers[j];
			if (w.slot !== ws[i].slot)
				continue;
			["state", "job", "phase", "progress",
			    "anon_kb"].forEach(function (k) {
				if (ws[i][k] !== undefined)
					w[k] = ws[i][k];
			});
		}
	}
	showFleet(fleet, memory);
}

function parseEvent(e) {
	if (typeof e.data !== "string" || e.data.length > MAX_EVENT)
		return null;
	try {
		return JSON.parse(e.data);
	} catch (x) {
		return null;
	}
}

/* --- Upload. */


function showUploadResult(text, bad) {
	var r = $("upload-result");

	r.className = bad ? "error" : "";
	r.textContent = text;
}

function submitUpload(ev) {
	var text = $("upload-text").value;
	var file = $("upload-file").files[0];
	var tenant = $("upload-tenant").value.trim();
	var q = new URLSearchParams();
	var req, bulk;

	ev.preventDefault();
	if (tenant !== "")
		q.set("tenant", tenant);
	if (file === undefined && text.trim() === "") {
		showUploadResult("Nothing to submit: type records or " +
		    "choose a file.", true);
		return;
	}
	if (file !== undefined) {
		bulk = /\.(ndjson|jsonl)$/i.test(file.name);
		if (!bulk)
			q.set("id", file.name);
		req = api("POST", (bulk ? "/v1/documents/bulk?" :
		    "/v1/documents?") + q.toString(), file, bulk ?
		    "application/x-ndjson" :
		    file.type || "application/octet-stream");
	} else {
		if (!/\n$/.test(text))
			text += "\n";
		req = api("POST", "/v1/documents/bulk?" + q.toString(), text,
		    "application/x-ndjson");
	}
	$("upload-submit").disabled = true;
	showUploadResult("Submitting\u2026", false);
	req.then(function (d) {
		var ids = d && Array.isArray(d.jobs) ? d.jobs :
		    d && d.job !== undefined ? [d.job] : [];
		var i;

		for (i = 0; i < ids.length; i++)
			trackJob(Number(ids[i]), tenant);
		showJobs();
		showUploadResult(d && d.records !== undefined ?
		    "Accepted " + d.records + " record" +
		    (d.records === 1 ? "" : "s") + " as job" +
		    (ids.length === 1 ? " " : "s ") + ids.map(function (x) {
			return "#" + x;
		    }).join(", ") + "." :
		    "Accepted as job #" + ids.join(", #") +
		    (d && d.duplicate ? " (already submitted)." : "."), false);
		$("upload-text").value = "";
		$("upload-file").value = "";
		pollJobs();
	}).catch(function (e) {
		var msg = "Not accepted: " + e.message;

		if (e.data && Array.isArray(e.data.lines))
			msg += " (line" + (e.data.lines.length === 1 ?
			    " " : "s ") + e.data.lines.slice(0, 20).join(", ") +
			    (e.data.lines.length > 20 ? ", \u2026" : "") + ")";
		showUploadResult(msg, true);
	}).then(function () {
		$("upload-submit").disabled = false;
	});
}

/* --- Dead letters. */

function deadList(d) {
	if (Array.isArray(d))
		return d;
	if (d && Array.isArray(d.jobs))
		return d.jobs;
	if (d && Array.isArray(d.dead))
		return d.dead;
	return [];
}

function sourceOf(j) {
	var s = j.key || j.path || j.source || "";

	return String(s);
}

function pollDead() {
	return api("GET", "/v1/dead").then(function (d) {
		showDead(deadList(d));
	}).catch(function (e) {
		if (e.status !== 401)
			setText("dead-result", "Dead letters: " + e.message);
	});
}

function showDead(list) {
	var shown = list.slice(0, MAX_DEAD), by = new Map(), i, j;

	for (i = 0; i < shown.length; i++) {
		j = shown[i];
		by.set(String(j.id), j);
		if (jobs.has(Number(j.id)))
			updateJob({ job: j.id, state: "dead", error: j.error });
	}
	syncRows($("dead-list").tBodies[0], Array.from(by.keys()),
	    deadRow, function (r, key) {
		var d = by.get(key), c = r.cells;

		c[1].textContent = d.tenant || "";
		c[2].textContent = sourceOf(d);
		c[3].textContent = d.error || d.reason || "";
		c[4].textContent = fmtAge(d.updated_ms);
	});
	$("dead-empty").hidden = list.length > 0 && list.length <= MAX_DEAD;
	$("dead-empty").textContent = list.length > MAX_DEAD ?
	    "The first " + MAX_DEAD + " of " + list.length +
	    " dead letters." : "No dead letters.";
}

function deadRow(key) {
	var b = el("button", { type: "button", "data-retry": key,
	    "aria-label": "Retry job " + key }, "Retry");

	b.addEventListener("click", retryOne);
	return el("tr", { "data-job": key },
	    el("td", { class: "num" }, "#" + key), el("td", {}), el("td", {}),
	    el("td", { class: "error" }), el("td", {}), el("td", {}, b));
}

function retryOne(ev) {
	var b = ev.currentTarget, id = Number(b.getAttribute("data-retry"));

	b.disabled = true;
	api("POST", "/v1/jobs/" + id + "/retry").then(function () {
		setText("dead-result", "Job #" + id + " is ready again.");
		trackJob(id, "");
		updateJob({ job: id, state: "ready", progress: 0 });
		return pollDead();
	}).catch(function (e) {
		b.disabled = false;
		setText("dead-result", "Job #" + id + " not retried: " +
		    e.message);
	});
}

function retryAll() {
	api("POST", "/v1/dead/retry").then(function (d) {
		setText("dead-result", d && typeof d.retried === "number" ?
		    d.retried + " dead letters are ready again." :
		    "The dead letters are ready again.");
		return pollDead();
	}).catch(function (e) {
		setText("dead-result", "Not retried: " + e.message);
	});
}

/* --- Search. */

/*
 * The snippet as text with <mark> around each [byte offset, byte
 * length] range; ranges are UTF-8 byte ranges, so the text is cut as
 * bytes.  Ranges out of order, overlapping or out of bounds are skipped.
 */
function highlighted(snippet, ranges) {
	var p = el("p", { class: "snippet" });
	var bytes = new TextEncoder().encode(snippet);
	var dec = new TextDecoder();
	var pos = 0, i, off, len;

	ranges = Array.isArray(ranges) ? ranges.slice(0, 256) : [];
	ranges.sort(function (a, b) {
		return a[0] - b[0];
	});
	for (i = 0; i < ranges.length; i++) {
		off = Number(ranges[i][0]);
		len = Number(ranges[i][1]);
		if (!(off >= pos && len > 0 && off + len <= bytes.length))
			continue;
		if (off > pos)
			p.appendChild(document.createTextNode(
			    dec.decode(bytes.subarray(pos, off))));
		p.appendChild(el("mark", {},
		    dec.decode(bytes.subarray(off, off + len))));
		pos = off + len;
	}
	if (pos < bytes.length)
		p.appendChild(document.createTextNode(
		    dec.decode(bytes.subarray(pos))));
	return p;
}

function search(ev) {
	var q = $("search-q").value.trim();
	var params = new URLSearchParams();
	var ol = $("hits");

	ev.preventDefault();
	if (q === "") {
		setText("search-summary", "Type a query.");
		return;
	}
	params.set("q", q);
	params.set("n", String(MAX_HITS > 20 ? 20 : MAX_HITS));
	if ($("search-exact").checked)
		params.set("exact", "1");
	setText("search-summary", "Searching\u2026");
	api("GET", "/v1/search?" + params.toString()).then(function (r) {
		var hits = r && Array.isArray(r.hits) ?
		    r.hits.slice(0, MAX_HITS) : [];
		var i, h;

		clear(ol);
		for (i = 0; i < hits.length; i++) {
			h = hits[i];
			ol.appendChild(el("li", { "data-id": String(h.id) },
			    el("span", { class: "hit-title" },
				h.title ? h.title : String(h.id)),
			    " ",
			    el("span", { class: "hit-meta" }, String(h.id) +
				(h.heading ? " \u203a " + h.heading : "") +
				(typeof h.score === "number" ?
				" \u00b7 score " + h.score.toFixed(2) : "")),
			    highlighted(String(h.snippet || ""),
				h.highlights)));
		}
		setText("search-summary", (r && typeof r.total === "number" ?
		    (r.total_exact === false ? "about " : "") +
		    fmtInt(r.total) : hits.length) + " hit" +
		    (r && r.total === 1 ? "" : "s") +
		    (r && typeof r.took_ms === "number" ?
		    " in " + r.took_ms + " ms" : "") + ".");
	}).catch(function (e) {
		clear(ol);
		setText("search-summary", "Search failed: " + e.message);
	});
}

/* --- The token. */

function useToken(ev) {
	var v = $("token").value.trim();

	ev.preventDefault();
	try {
		if (v === "")
			sessionStorage.removeItem(TOKEN_KEY);
		else
			sessionStorage.setItem(TOKEN_KEY, v);
	} catch (e) {
		setConn(false, "This browser keeps no session storage.");
	}
	$("token").value = "";
	$("token").placeholder = v === "" ? "" : "(set)";
	authNeeded = false;
	if (events !== null)
		events.close();
	events = null;
	refresh();
}

function forgetToken() {
	try {
		sessionStorage.removeItem(TOKEN_KEY);
	} catch (e) {
		/* nothing kept */
	}
	$("token").placeholder = "";
	if (events !== null)
		events.close();
	events = null;
	refresh();
}

/* --- The loop. */

var timers = { status: 0, dead: 0, metrics: 0 };

function refresh() {
	timers.status = timers.dead = timers.metrics = 0;
	tick();
}

/* Nothing is asked while the page is hidden; it catches up when shown. */
function tick() {
	var now = Date.now();

	if (document.hidden)
		return;
	if (now >= timers.status) {
		timers.status = now + STATUS_MS;
		pollStatus().then(function () {
			if (!authNeeded)
				openEvents();
		});
		pollJobs();
	}
	if (now >= timers.dead) {
		timers.dead = now + DEAD_MS;
		pollDead();
	}
	if (now >= timers.metrics) {
		timers.metrics = now + METRICS_MS;
		pollTenants();
	}
}

function start() {
	$("token-form").addEventListener("submit", useToken);
	$("token-clear").addEventListener("click", forgetToken);
	$("upload-form").addEventListener("submit", submitUpload);
	$("dead-retry-all").addEventListener("click", retryAll);
	$("search-form").addEventListener("submit", search);
	document.addEventListener("visibilitychange", function () {
		if (!document.hidden)
			refresh();
	});
	if (token() !== "")
		$("token").placeholder = "(set)";
	refresh();
	setInterval(tick, 500);
}

document.addEventListener("DOMContentLoaded", start);

})();
