/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Live progress: GET /v1/events, Server-Sent Events (text/event-stream).
 *
 *	?job=ID		one job's events; the stream ends after its final
 *			state (done, dead or cancelled).
 *	?tenant=T	the events of T's jobs.
 *	neither		every job's events, and the status once a second.
 *
 * A token bound to a tenant sees its own tenant's jobs only, whatever it
 * asks for (another tenant: 403; a job of another tenant: 404), and gets
 * no status events, which describe every tenant.
 *
 *	event: job
 *	data: {"job": ID, "state": S, "progress": 0..1, "tenant": T,
 *	       "error": E}		(error: dead letters only)
 *
 *	event: status
 *	data: {"jobs": {STATE: N, ...}, "docs_per_s": R,
 *	       "workers": [{"slot", "state", "job", "phase", "progress",
 *	       "anon_kb"}, ...], "storage": {"state": S, "what": W}}
 *
 * Polling, shared by every stream: one timer, every EVENTS_POLL_MS and
 * only while a stream is open, asks the supervisor for its status once
 * (the workers' progress, which they report in their heartbeats; the
 * counts) and reads the queue once, in one read transaction
 * (queue_watch): the jobs followed, and, while a stream watches more
 * than one job, the jobs leased now and those enqueued since the last
 * poll.  A job's event goes out when its state or progress changed since
 * the last one, at most one per poll, so at most four a second per job
 * however fast it moves; a job that goes through several states between
 * two polls shows the last.  A final state is always sent, after which
 * the job is no longer followed.
 *
 * Limits: EVENTS_STREAMS_MAX streams at once (503 past it); at most
 * EVENTS_JOBS_MAX jobs followed and EVENTS_SCAN_MAX new ones read per
 * poll (the rest wait for the next: their events come late, not never);
 * a stream whose client does not read, with more than EVENTS_BACKLOG
 * bytes waiting, is closed.  A comment line goes out on a stream that
 * has been quiet for EVENTS_KEEPALIVE_MS, so that proxies and clients
 * see it alive.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <yajl/yajl_tree.h>

#include "quire.h"
#include "http.h"

#define EVENTS_STREAMS_MAX	64
#define EVENTS_POLL_MS		250
#define EVENTS_STATUS_MS	1000
#define EVENTS_KEEPALIVE_MS	15000
#define EVENTS_JOBS_MAX		4096	/* jobs followed at once */
#define EVENTS_SCAN_MAX		1024	/* new or leased jobs read a poll */
#define EVENTS_BACKLOG		(1 << 20)	/* bytes unread by a client */
#define EVENTS_ASK_MS		500	/* the status question */

struct ev_stream {
	TAILQ_ENTRY(ev_stream)	 es_entry;
	struct evhttp_request	*es_req;
	struct evhttp_connection *es_evcon;
	uint64_t		 es_job;	/* job=ID, or 0 */
	char			 es_tenant[JOB_TENANT_MAX + 1];	/* or "" */
	int			 es_status;	/* gets status events */
	uint64_t		 es_wrote;	/* last write, monotonic ms */
};

struct ev_job {
	RB_ENTRY(ev_job)	 ej_entry;
	uint64_t		 ej_id;
	int			 ej_state;
	unsigned		 ej_pm;		/* progress, permille */
	char			 ej_tenant[JOB_TENANT_MAX + 1];
	char			 ej_error[JOB_ERROR_MAX];
	int			 ej_sent_state;	/* -1: nothing sent yet */
	unsigned		 ej_sent_pm;
	int			 ej_seen;	/* read in this poll */
};

/* A running job's progress, from the supervisor's status. */
struct ev_run {
	uint64_t		 er_job;
	unsigned		 er_pm;
};

static int
ev_job_cmp(struct ev_job *a, struct ev_job *b)
{
	return (a->ej_id < b->ej_id ? -1 : a->ej_id > b->ej_id);
}

RB_HEAD(ev_jobs, ev_job);
RB_GENERATE_STATIC(ev_jobs, ev_job, ej_entry, ev_job_cmp)

static struct {
	struct httpd		*ev_hd;
	TAILQ_HEAD(, ev_stream)	 ev_streams;
	int			 ev_nstreams;
	int			 ev_nwide;	/* streams of many jobs */
	struct ev_jobs		 ev_jobs;
	size_t			 ev_njobs;
	uint64_t		 ev_after;	/* the last job id scanned */
	struct event		*ev_timer;
	struct ev_run		 ev_run[QUIRE_WORKERS_MAX];
	size_t			 ev_nrun;
	yajl_val		 ev_status;	/* the last status, or NULL */
	uint64_t		 ev_status_at;	/* last status event */
	uint64_t		 ev_docs;	/* index documents then */
	uint64_t		 ev_now;
} ev = {
	.ev_streams = TAILQ_HEAD_INITIALIZER(ev.ev_streams),
	.ev_jobs = RB_INITIALIZER(&ev.ev_jobs),
};

static void	 http_events_poll(evutil_socket_t, short, void *);

/* --- Writing to the streams. */

static void
http_events_end(struct ev_stream *es)
{
	TAILQ_REMOVE(&ev.ev_streams, es, es_entry);
	ev.ev_nstreams--;
	if (es->es_job == 0)
		ev.ev_nwide--;
	if (es->es_req != NULL)
		evhttp_send_reply_end(es->es_req);
	free(es);
	if (ev.ev_nstreams == 0 && ev.ev_timer != NULL)
		evtimer_del(ev.ev_timer);
}

/* Send text on a stream; -1 when its client is too far behind. */
static int
http_events_write(struct ev_stream *es, const char *event,
    const struct buf *data)
{
	struct evhttp_connection *evcon = es->es_evcon;
	struct evbuffer		*eb;
	struct bufferevent	*bev;

	bev = evhttp_connection_get_bufferevent(evcon);
	if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) >
	    EVENTS_BACKLOG) {
		log_info("http: events: a client %d bytes behind: closed",
		    EVENTS_BACKLOG);
		/* The stream goes first: the connection takes its request. */
		es->es_req = NULL;
		http_events_end(es);
		evhttp_connection_free(evcon);
		return (-1);
	}
	if ((eb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	if (event != NULL)
		evbuffer_add_printf(eb, "event: %s\ndata: %.*s\n\n", event,
		    (int)data->b_len, data->b_data);
	else
		evbuffer_add(eb, data->b_data, data->b_len);
	evhttp_send_reply_chunk(es->es_req, eb);
	evbuffer_free(eb);
	es->es_wrote = ev.ev_now;
	return (0);
}

static void
http_events_job_json(struct buf *b, const struct ev_job *ej)
{
	buf_init(b);
	buf_printf(b, "{\"job\": %llu, \"state\": \"%s\", \"progress\": "
	    "%.3f, \"tenant\": ", (unsigned long long)ej->ej_id,
	    codec_state_name(ej->ej_state), ej->ej_pm / 1000.0);
	show_json_str(b, ej->ej_tenant);
	if (ej->ej_state == JOB_DEAD) {
		buf_addstr(b, ", \"error\": ");
		show_json_str(b, ej->ej_error);
	}
	buf_addstr(b, "}");
}

static int
http_events_final(int state)
{
	return (state == JOB_DONE || state == JOB_DEAD ||
	    state == JOB_CANCELLED);
}

static int
http_events_match(const struct ev_stream *es, const struct ev_job *ej)
{
	if (es->es_job != 0 && es->es_job != ej->ej_id)
		return (0);
	return (es->es_tenant[0] == '\0' ||
	    strcmp(es->es_tenant, ej->ej_tenant) == 0);
}

/* The job's event to every stream that watches it. */
static void
http_events_send_job(struct ev_job *ej)
{
	struct ev_stream	*es, *next;
	struct buf		 b;

	http_events_job_json(&b, ej);
	TAILQ_FOREACH_SAFE(es, &ev.ev_streams, es_entry, next) {
		if (!http_events_match(es, ej) ||
		    http_events_write(es, "job", &b) == -1)
			continue;
		if (es->es_job != 0 && http_events_final(ej->ej_state))
			http_events_end(es);
	}
	buf_free(&b);
	ej->ej_sent_state = ej->ej_state;
	ej->ej_sent_pm = ej->ej_pm;
}

/* What the others were last told of a job, to a new stream. */
static void
http_events_resend(struct ev_stream *es, const struct ev_job *ej)
{
	struct ev_job	 last = *ej;
	struct buf	 b;

	last.ej_state = ej->ej_sent_state;
	last.ej_pm = ej->ej_sent_pm;
	http_events_job_json(&b, &last);
	(void)http_events_write(es, "job", &b);
	buf_free(&b);
}

/* --- The supervisor's status. */

static yajl_val
http_events_get(yajl_val v, const char *a, const char *b)
{
	const char	*path[3];

	path[0] = a;
	path[1] = b;
	path[2] = NULL;
	return (v == NULL ? NULL : yajl_tree_get(v, path, yajl_t_any));
}

static uint64_t
http_events_num(yajl_val v)
{
	return (v != NULL && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0 ?
	    (uint64_t)YAJL_GET_INTEGER(v) : 0);
}

/* Ask for the status; keep it and the running jobs' progress. */
static void
http_events_ask(void)
{
	struct buf	 body;
	yajl_val	 w, job, pm;
	char		 why[256];
	size_t		 i;

	if (ev.ev_status != NULL)
		yajl_tree_free(ev.ev_status);
	ev.ev_status = NULL;
	ev.ev_nrun = 0;
	buf_init(&body);
	if (ask_daemon(ev.ev_hd->hd_ctlpath, CTL_STATUS, 0, "json", &body,
	    EVENTS_ASK_MS, EVENTS_ASK_MS, why, sizeof(why)) != 0)
		log_debug("http: events: the supervisor: %s", why);
	else
		ev.ev_status = yajl_tree_parse(buf_cstr(&body), why,
		    sizeof(why));
	buf_free(&body);
	if ((w = http_events_get(ev.ev_status, "fleet", "workers")) == NULL ||
	    !YAJL_IS_ARRAY(w))
		return;
	for (i = 0; i < w->u.array.len && ev.ev_nrun < QUIRE_WORKERS_MAX;
	    i++) {
		job = http_events_get(w->u.array.values[i], "job", NULL);
		pm = http_events_get(w->u.array.values[i], "progress", NULL);
		if (http_events_num(job) == 0 || pm == NULL ||
		    !YAJL_IS_NUMBER(pm))
			continue;
		ev.ev_run[ev.ev_nrun].er_job = http_events_num(job);
		ev.ev_run[ev.ev_nrun++].er_pm = YAJL_GET_DOUBLE(pm) * 1000 +
		    0.5;
	}
}

/* One worker of the status, as the status event shows it. */
static void
http_events_worker(struct buf *b, yajl_val w)
{
	const char	*keys[] = { "slot", "state", "job", "phase", "progress",
			    "anon_kb" };
	yajl_val	 v;
	size_t		 i;

	buf_addstr(b, "{");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		buf_printf(b, "%s\"%s\": ", i ? ", " : "", keys[i]);
		v = http_events_get(w, keys[i], NULL);
		if (v != NULL && YAJL_IS_STRING(v))
			show_json_str(b, YAJL_GET_STRING(v));
		else if (v != NULL && YAJL_IS_INTEGER(v))
			buf_printf(b, "%lld", YAJL_GET_INTEGER(v));
		else if (v != NULL && YAJL_IS_DOUBLE(v))
			buf_printf(b, "%.3f", YAJL_GET_DOUBLE(v));
		else
			buf_addstr(b, "null");
	}
	buf_addstr(b, "}");
}

static void
http_events_status_json(struct buf *b, double rate)
{
	yajl_val	 w;
	size_t		 i;
	int		 s;

	buf_addstr(b, "{\"jobs\": {");
	for (s = 0; s < JOB_NSTATES; s++)
		buf_printf(b, "%s\"%s\": %llu", s ? ", " : "",
		    codec_state_name(s), (unsigned long long)http_events_num(
		    http_events_get(ev.ev_status, "jobs",
		    codec_state_name(s))));
	buf_printf(b, "}, \"docs_per_s\": %.1f, \"workers\": [", rate);
	w = http_events_get(ev.ev_status, "fleet", "workers");
	for (i = 0; w != NULL && YAJL_IS_ARRAY(w) && i < w->u.array.len;
	    i++) {
		if (i > 0)
			buf_addstr(b, ", ");
		http_events_worker(b, w->u.array.values[i]);
	}
	/* The storage fault that holds the workers, if any (storage.c). */
	buf_addstr(b, "], \"storage\": {\"state\": ");
	w = http_events_get(ev.ev_status, "storage", "state");
	show_json_str(b, w != NULL && YAJL_IS_STRING(w) ?
	    YAJL_GET_STRING(w) : "ok");
	buf_addstr(b, ", \"what\": ");
	w = http_events_get(ev.ev_status, "storage", "what");
	if (w != NULL && YAJL_IS_STRING(w))
		show_json_str(b, YAJL_GET_STRING(w));
	else
		buf_addstr(b, "null");
	buf_addstr(b, "}}");
}

/* The status event, once a second, to the streams that take it. */
static void
http_events_status(void)
{
	struct ev_stream	*es, *next;
	struct buf		 b;
	uint64_t		 docs, dt;
	double			 rate = 0;

	if (ev.ev_status == NULL ||
	    ev.ev_now - ev.ev_status_at < EVENTS_STATUS_MS)
		return;
	docs = http_events_num(http_events_get(ev.ev_status, "index",
	    "documents"));
	dt = ev.ev_now - ev.ev_status_at;
	if (ev.ev_status_at != 0 && docs >= ev.ev_docs && dt > 0)
		rate = (docs - ev.ev_docs) * 1000.0 / dt;
	ev.ev_docs = docs;
	ev.ev_status_at = ev.ev_now;
	buf_init(&b);
	http_events_status_json(&b, rate);
	TAILQ_FOREACH_SAFE(es, &ev.ev_streams, es_entry, next)
		if (es->es_status)
			(void)http_events_write(es, "status", &b);
	buf_free(&b);
}

/* --- The jobs followed. */

static struct ev_job *
http_events_find(uint64_t id)
{
	struct ev_job	 key;

	key.ej_id = id;
	return (RB_FIND(ev_jobs, &ev.ev_jobs, &key));
}

static void
http_events_forget(struct ev_job *ej)
{
	RB_REMOVE(ev_jobs, &ev.ev_jobs, ej);
	ev.ev_njobs--;
	free(ej);
}

/* Follow a job; NULL when EVENTS_JOBS_MAX are followed already. */
static struct ev_job *
http_events_follow(uint64_t id)
{
	struct ev_job	*ej;

	if ((ej = http_events_find(id)) != NULL)
		return (ej);
	if (ev.ev_njobs >= EVENTS_JOBS_MAX)
		return (NULL);
	ej = xcalloc(1, sizeof(*ej));
	ej->ej_id = id;
	ej->ej_sent_state = -1;
	RB_INSERT(ev_jobs, &ev.ev_jobs, ej);
	ev.ev_njobs++;
	return (ej);
}

/* The job as the queue and the supervisor see it now. */
static void
http_events_update(struct ev_job *ej, const struct job *j)
{
	size_t		 i;
	int		 was_leased = ej->ej_state == JOB_LEASED;

	ej->ej_state = j->j_state;
	strlcpy(ej->ej_tenant, j->j_tenant, sizeof(ej->ej_tenant));
	strlcpy(ej->ej_error, j->j_error, sizeof(ej->ej_error));
	ej->ej_seen = 1;
	if (j->j_state == JOB_DONE) {
		ej->ej_pm = 1000;
		return;
	}
	if (j->j_state != JOB_LEASED) {
		ej->ej_pm = 0;
		return;
	}
	for (i = 0; i < ev.ev_nrun; i++)
		if (ev.ev_run[i].er_job == j->j_id) {
			ej->ej_pm = ev.ev_run[i].er_pm;
			return;
		}
	/*
	 * No worker says: the lease's progress, unless more is known (its
	 * worker has finished it, and its ack is on the way).
	 */
	if (!was_leased || j->j_progress > ej->ej_pm)
		ej->ej_pm = j->j_progress < 1000 ? j->j_progress : 999;
}

/* queue_watch's callback: 1 (stop) when no more jobs can be followed. */
static int
http_events_read(const struct job *j, void *arg)
{
	struct ev_job	*ej;

	if ((ej = http_events_follow(j->j_id)) == NULL)
		return (1);
	http_events_update(ej, j);
	return (0);
}

/* Is a stream open that wants this job's events? */
static int
http_events_wanted(const struct ev_job *ej)
{
	struct ev_stream	*es;

	TAILQ_FOREACH(es, &ev.ev_streams, es_entry)
		if (http_events_match(es, ej))
			return (1);
	return (0);
}

/* A job purged while watched: its streams end, having nothing more. */
static void
http_events_gone(uint64_t id)
{
	struct ev_stream	*es, *next;

	TAILQ_FOREACH_SAFE(es, &ev.ev_streams, es_entry, next)
		if (es->es_job == id)
			http_events_end(es);
}

/* Send what changed; forget the jobs that ended or that nobody wants. */
static void
http_events_flush(void)
{
	struct ev_job	*ej, *next;

	RB_FOREACH_SAFE(ej, ev_jobs, &ev.ev_jobs, next) {
		if (ej->ej_seen && (ej->ej_state != ej->ej_sent_state ||
		    ej->ej_pm != ej->ej_sent_pm))
			http_events_send_job(ej);
		if (!ej->ej_seen)
			http_events_gone(ej->ej_id);
		if (!ej->ej_seen || http_events_final(ej->ej_state) ||
		    !http_events_wanted(ej))
			http_events_forget(ej);
	}
}

/* The one read of the queue a poll makes. */
static void
http_events_scan(void)
{
	struct ev_job	*ej;
	uint64_t	*ids;
	size_t		 n = 0;
	int		 rc;

	ids = xcalloc(ev.ev_njobs + 1, sizeof(*ids));
	RB_FOREACH(ej, ev_jobs, &ev.ev_jobs) {
		ej->ej_seen = 0;
		ids[n++] = ej->ej_id;
	}
	rc = queue_watch(&ev.ev_hd->hd_q, ids, n, &ev.ev_after,
	    ev.ev_nwide > 0 ? EVENTS_SCAN_MAX : 0, http_events_read, NULL);
	free(ids);
	if (rc != 0) {
		/* Nothing was seen: keep every job for the next poll. */
		log_warnx("http: events: the queue: %s", queue_strerror(rc));
		RB_FOREACH(ej, ev_jobs, &ev.ev_jobs)
			ej->ej_seen = 0;
		return;
	}
	http_events_flush();
}

static void
http_events_keepalive(void)
{
	struct ev_stream	*es, *next;
	struct buf		 b;

	buf_init(&b);
	buf_addstr(&b, ": keep-alive\n\n");
	TAILQ_FOREACH_SAFE(es, &ev.ev_streams, es_entry, next)
		if (ev.ev_now - es->es_wrote >= EVENTS_KEEPALIVE_MS)
			(void)http_events_write(es, NULL, &b);
	buf_free(&b);
}

static void
http_events_poll(evutil_socket_t fd, short what, void *arg)
{
	ev.ev_now = util_mono_ms();
	http_events_ask();
	http_events_scan();
	http_events_status();
	http_events_keepalive();
}

/* --- Opening and closing streams. */

/* The client went away: its stream is no more. */
static void
http_events_closed(struct evhttp_connection *evcon, void *arg)
{
	struct ev_stream	*es, *next;

	TAILQ_FOREACH_SAFE(es, &ev.ev_streams, es_entry, next)
		if (es->es_evcon == evcon) {
			es->es_req = NULL;	/* evhttp frees it */
			http_events_end(es);
		}
}

/* The stream's filters from the query; -1 after a 400 or a 403. */
static int
http_events_filters(struct http_req *hr, struct ev_stream *es)
{
	const char	*t;
	long long	 id;

	if (http_query_num(hr, "job", 1, INT64_MAX, 0, &id) == -1)
		return (-1);
	es->es_job = id;
	if ((t = http_query(hr, "tenant")) != NULL &&
	    (*t == '\0' || strlen(t) > JOB_TENANT_MAX)) {
		http_error(hr, 400, "bad_parameter", "tenant: a name of 1 to "
		    "%d bytes", JOB_TENANT_MAX);
		return (-1);
	}
	if (hr->hr_tenant != NULL && t != NULL &&
	    strcmp(t, hr->hr_tenant) != 0) {
		http_error(hr, 403, "forbidden", "this token sees its own "
		    "tenant's jobs only");
		return (-1);
	}
	if (hr->hr_tenant != NULL)
		t = hr->hr_tenant;
	if (t != NULL)
		strlcpy(es->es_tenant, t, sizeof(es->es_tenant));
	es->es_status = hr->hr_tenant == NULL && es->es_job == 0 && t == NULL;
	return (0);
}

/* The job a job=ID stream watches; NULL after a 404 or a 503. */
static struct ev_job *
http_events_first(struct http_req *hr, struct ev_stream *es)
{
	struct ev_job	*ej;
	struct job	 j;
	int		 rc;

	if ((rc = queue_get(&hr->hr_hd->hd_q, es->es_job, &j)) != 0 ||
	    (es->es_tenant[0] != '\0' &&
	    strcmp(es->es_tenant, j.j_tenant) != 0)) {
		http_error(hr, rc == 0 || rc == QUEUE_ENOENT ? 404 : 503,
		    rc == 0 || rc == QUEUE_ENOENT ? "not_found" : "queue",
		    "job %llu: %s", (unsigned long long)es->es_job, rc == 0 ||
		    rc == QUEUE_ENOENT ? "no such job" : queue_strerror(rc));
		return (NULL);
	}
	if ((ej = http_events_find(es->es_job)) != NULL)
		return (ej);
	if ((ej = http_events_follow(es->es_job)) == NULL) {
		http_error(hr, 503, "too_many_jobs", "%d jobs followed "
		    "already: try again", EVENTS_JOBS_MAX);
		return (NULL);
	}
	/* Its first event goes out at the next poll, to every watcher. */
	http_events_update(ej, &j);
	return (ej);
}

/* Room for a stream, and the timer; -1 after a 503. */
static int
http_events_room(struct http_req *hr)
{
	struct timeval	 tv;

	if (ev.ev_nstreams >= EVENTS_STREAMS_MAX) {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", "1");
		http_error(hr, 503, "too_many_streams", "%d event streams "
		    "open: try again", EVENTS_STREAMS_MAX);
		return (-1);
	}
	if (ev.ev_timer == NULL) {
		ev.ev_hd = hr->hr_hd;
		ev.ev_timer = event_new(hr->hr_hd->hd_base, -1, EV_PERSIST,
		    http_events_poll, NULL);
		if (ev.ev_timer == NULL)
			fatalx("%s: event_new", __func__);
	}
	if (ev.ev_nstreams == 0) {
		tv.tv_sec = 0;
		tv.tv_usec = EVENTS_POLL_MS * 1000;
		evtimer_add(ev.ev_timer, &tv);
	}
	return (0);
}

/* The first wide stream reads the jobs enqueued from now on. */
static int
http_events_wide(struct http_req *hr)
{
	struct queue_stats	 qs;
	int			 rc;

	if (ev.ev_nwide > 0)
		return (0);
	if ((rc = queue_stats(&hr->hr_hd->hd_q, &qs)) != 0) {
		http_error(hr, 503, "queue", "the queue: %s",
		    queue_strerror(rc));
		return (-1);
	}
	ev.ev_after = qs.qs_next_id > 0 ? qs.qs_next_id - 1 : 0;
	return (0);
}

static void
http_events_start(struct http_req *hr, struct ev_stream *es)
{
	struct evkeyvalq	*h;
	struct bufferevent	*bev;
	struct timeval		 tv;
	struct buf		 b;
	uint64_t		 ms;

	h = evhttp_request_get_output_headers(hr->hr_req);
	evhttp_add_header(h, "Content-Type", "text/event-stream; "
	    "charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_send_reply_start(hr->hr_req, 200, "OK");
	hr->hr_code = 200;
	hr->hr_async = 1;
	es->es_req = hr->hr_req;
	es->es_evcon = evhttp_request_get_connection(hr->hr_req);
	/*
	 * A stream's client sends nothing more: no read timeout, but a
	 * client that stops reading still gets http-timeout.
	 */
	ms = hr->hr_hd->hd_ch.ch_conf.c_http_timeout_ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((bev = evhttp_connection_get_bufferevent(es->es_evcon)) != NULL)
		bufferevent_set_timeouts(bev, NULL, &tv);
	evhttp_connection_set_closecb(es->es_evcon, http_events_closed, NULL);
	http_conn_stream(hr);
	TAILQ_INSERT_TAIL(&ev.ev_streams, es, es_entry);
	ev.ev_nstreams++;
	if (es->es_job == 0)
		ev.ev_nwide++;
	ev.ev_now = util_mono_ms();
	buf_init(&b);
	buf_addstr(&b, ": quire events\nretry: 2000\n\n");
	(void)http_events_write(es, NULL, &b);
	buf_free(&b);
}

void
http_events(struct http_req *hr)
{
	struct ev_stream	*es;
	struct ev_job		*ej = NULL;

	es = xcalloc(1, sizeof(*es));
	if (http_events_filters(hr, es) == -1) {
		free(es);
		return;
	}
	if (evhttp_request_get_command(hr->hr_req) == EVHTTP_REQ_HEAD) {
		http_send(hr, 200, "text/event-stream; charset=utf-8", NULL, 0);
		free(es);
		return;
	}
	if (http_events_room(hr) == -1 ||
	    (es->es_job != 0 && (ej = http_events_first(hr, es)) == NULL) ||
	    (es->es_job == 0 && http_events_wide(hr) == -1)) {
		free(es);
		if (ev.ev_nstreams == 0)
			evtimer_del(ev.ev_timer);
		return;
	}
	http_events_start(hr, es);
	/* A job followed already: its last event, to this stream alone. */
	if (ej != NULL && ej->ej_sent_state != -1)
		http_events_resend(es, ej);
}
