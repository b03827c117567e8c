/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's server: the http child, quired -H N.
 *
 * The supervisor binds the `listen` addresses and starts this child with
 * the N listening sockets on descriptors 4 and up (fleet.c), reaps it and
 * starts another when it dies, so untrusted requests are never parsed in
 * the supervisor.  The child opens the queue and the index itself and
 * serves them with libevent's evhttp; for what only the supervisor knows
 * (status, metrics, the cancel of a running job) it asks over the admin
 * socket (ask.c), which answers in well under a millisecond.  It beats
 * to the supervisor every heartbeat-interval; one that stops beating is
 * killed and replaced.
 *
 * A request goes through, in order:
 *
 *	limits		http-max-header (431; evhttp itself cuts off
 *			headers past four times it, with 400), evhttp's
 *			http-max-body (a larger body gets 413 and is not
 *			read), and http-timeout on a connection that is
 *			idle or slow;
 *	connections	at most http-max-connections open at once, and never
 *			so many that the child has no descriptor left for
 *			the admin socket or a file (HTTP_FD_RESERVE): 503;
 *	path		decoded once; %00, a control character, an empty,
 *			"." or ".." segment, or a path over HTTP_PATH_MAX:
 *			400;
 *	route		the table below: 404 for no path, 405 with Allow
 *			for a path without the method;
 *	token		with http-token-file, a bearer token, compared in
 *			constant time against each one, never logged: 401.
 *			A token may be bound to a tenant: its requests see
 *			and touch that tenant's jobs and documents only.
 *
 * Every reply is JSON ({"error": ..., "code": ...} for errors) but the
 * dashboard's files (GET /, http-web-root), /metrics and the event
 * stream (/v1/events, http_events.c), which answers later and for as
 * long as its client stays (hr_async).
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "quire.h"
#include "http.h"

#define HTTP_FD_RESERVE		32	/* descriptors kept from clients */
#define HTTP_PAUSE_MS		1000	/* no accepts after EMFILE */
#define HTTP_HEADER_HARD	4	/* times http-max-header: evhttp's cap */

static void	 http_dispatch(struct evhttp_request *, void *);

/*
 * Every route: a path of segments, "*" matching one (the id), the
 * methods it takes, and whether it needs a token when tokens are set.
 */
static const struct http_route http_routes[] = {
	{ "/healthz",			HTTP_GET, 0, http_healthz },
	{ "/metrics",			HTTP_GET, 1, http_metrics },
	{ "/v1/status",			HTTP_GET, 1, http_status },
	{ "/v1/search",			HTTP_GET, 1, http_search },
	{ "/v1/events",			HTTP_GET, 1, http_events },
	{ "/",				HTTP_GET, 0, http_static },
	{ "/*",				HTTP_GET, 0, http_static },
};

#define HTTP_NROUTES	(sizeof(http_routes) / sizeof(http_routes[0]))

/* Connections seen, so that each is counted once and uncounted at close. */
struct http_conn {
	RB_ENTRY(http_conn)	 hc_entry;
	struct evhttp_connection *hc_evcon;
};

static int
http_conn_cmp(struct http_conn *a, struct http_conn *b)
{
	return (a->hc_evcon < b->hc_evcon ? -1 : a->hc_evcon > b->hc_evcon);
}

/* sys/tree.h marks the functions a static tree may leave unused so. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

RB_HEAD(http_conns, http_conn);
RB_GENERATE_STATIC(http_conns, http_conn, hc_entry, http_conn_cmp)

static struct http_conns	 http_conns = RB_INITIALIZER(&http_conns);
static struct httpd		 httpd;

/* --- Replies. */

/* A reply with the headers every one carries; body may be NULL. */
void
http_send(struct http_req *hr, int code, const char *type,
    const void *body, size_t len)
{
	struct evkeyvalq	*h;
	struct evbuffer		*eb;

	h = evhttp_request_get_output_headers(hr->hr_req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if ((eb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	if (len > 0)
		evbuffer_add(eb, body, len);
	evhttp_send_reply(hr->hr_req, code, http_reason(code), eb);
	evbuffer_free(eb);
	hr->hr_code = code;
}

/* A JSON reply: the text in b. */
void
http_json(struct http_req *hr, int code, const struct buf *b)
{
	http_send(hr, code, "application/json; charset=utf-8", b->b_data,
	    b->b_len);
}

/* {"error": "...", "code": "..."} with the status code. */
void
http_error(struct http_req *hr, int status, const char *code,
    const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;
	char		 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b);
	buf_addstr(&b, "{\"error\": ");
	show_json_str(&b, msg);
	buf_addstr(&b, ", \"code\": ");
	show_json_str(&b, code);
	buf_addstr(&b, "}\n");
	http_json(hr, status, &b);
	buf_free(&b);
}

const char *
http_reason(int code)
{
	switch (code) {
	case 200:	return ("OK");
	case 201:	return ("Created");
	case 202:	return ("Accepted");
	case 204:	return ("No Content");
	case 400:	return ("Bad Request");
	case 401:	return ("Unauthorized");
	case 403:	return ("Forbidden");
	case 404:	return ("Not Found");
	case 405:	return ("Method Not Allowed");
	case 409:	return ("Conflict");
	case 413:	return ("Payload Too Large");
	case 415:	return ("Unsupported Media Type");
	case 429:	return ("Too Many Requests");
	case 431:	return ("Request Header Fields Too Large");
	case 500:	return ("Internal Server Error");
	case 502:	return ("Bad Gateway");
	case 503:	return ("Service Unavailable");
	default:	return ("Unknown");
	}
}

/* --- Query strings. */

const char *
http_query(struct http_req *hr, const char *key)
{
	return (evhttp_find_header(&hr->hr_query, key));
}

/*
 * A number from the query string, def when it is absent; -1 after a 400
 * when it is not a number from min to max.
 */
int
http_query_num(struct http_req *hr, const char *key, long long min,
    long long max, long long def, long long *out)
{
	const char	*v, *errstr;

	*out = def;
	if ((v = http_query(hr, key)) == NULL)
		return (0);
	*out = strtonum(v, min, max, &errstr);
	if (errstr != NULL) {
		http_error(hr, 400, "bad_parameter", "%s=%s: %s (%lld to %lld)",
		    key, v, errstr, min, max);
		return (-1);
	}
	return (0);
}

/* --- The path. */

/*
 * Decode the request's path into hr_path and split it into segments.
 * -1 after a 400 on anything a file system or a router could misread.
 */
static int
http_path(struct http_req *hr)
{
	const struct evhttp_uri	*uri;
	const char		*raw, *q;
	char			*dec, *p, *seg;
	size_t			 len;

	uri = evhttp_request_get_evhttp_uri(hr->hr_req);
	if (uri == NULL || (raw = evhttp_uri_get_path(uri)) == NULL ||
	    raw[0] != '/' || strlen(raw) > HTTP_PATH_MAX)
		goto bad;
	if ((q = evhttp_uri_get_query(uri)) != NULL &&
	    (strstr(q, "%00") != NULL || evhttp_parse_query_str(q,
	    &hr->hr_query) == -1))
		goto bad;
	if ((dec = evhttp_uridecode(raw, 0, &len)) == NULL)
		goto bad;
	if (len != strlen(dec) || len >= sizeof(hr->hr_path)) {
		free(dec);
		goto bad;
	}
	for (p = dec; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			free(dec);
			goto bad;
		}
	strlcpy(hr->hr_path, dec, sizeof(hr->hr_path));
	free(dec);
	p = hr->hr_segbuf;
	strlcpy(p, hr->hr_path + 1, sizeof(hr->hr_segbuf));
	while ((seg = strsep(&p, "/")) != NULL) {
		if (hr->hr_nseg == HTTP_SEGS_MAX || strcmp(seg, ".") == 0 ||
		    strcmp(seg, "..") == 0 || (*seg == '\0' && (p != NULL ||
		    hr->hr_nseg > 0)))
			goto bad;
		if (*seg != '\0')
			hr->hr_seg[hr->hr_nseg++] = seg;
	}
	return (0);
 bad:
	http_error(hr, 400, "bad_path", "malformed path or query");
	return (-1);
}

/* Does the route's pattern match the path?  The "*" segment is hr_id. */
static int
http_match(struct http_req *hr, const char *pattern)
{
	char		 copy[128], *p, *seg;
	size_t		 i = 0;

	strlcpy(copy, pattern + 1, sizeof(copy));
	p = copy;
	hr->hr_id = NULL;
	while ((seg = strsep(&p, "/")) != NULL) {
		if (*seg == '\0')
			break;
		if (i == hr->hr_nseg)
			return (0);
		if (strcmp(seg, "*") == 0)
			hr->hr_id = hr->hr_seg[i];
		else if (strcmp(seg, hr->hr_seg[i]) != 0)
			return (0);
		i++;
	}
	return (i == hr->hr_nseg);
}

static int
http_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		return (HTTP_GET);
	case EVHTTP_REQ_POST:
		return (HTTP_POST);
	case EVHTTP_REQ_DELETE:
		return (HTTP_DELETE);
	default:
		return (0);
	}
}

/* The route for the request, or NULL after a 404 or 405. */
static const struct http_route *
http_route(struct http_req *hr)
{
	struct evkeyvalq	*h;
	char			 allow[64] = "";
	size_t			 i;
	int			 m = http_method(hr->hr_req), found = 0;

	for (i = 0; i < HTTP_NROUTES; i++) {
		if (!http_match(hr, http_routes[i].rt_path))
			continue;
		if (http_routes[i].rt_methods & m)
			return (&http_routes[i]);
		found |= http_routes[i].rt_methods;
	}
	if (!found) {
		http_error(hr, 404, "not_found", "no such resource: %s",
		    hr->hr_path);
		return (NULL);
	}
	if (found & HTTP_GET)
		strlcat(allow, "GET, HEAD, ", sizeof(allow));
	if (found & HTTP_POST)
		strlcat(allow, "POST, ", sizeof(allow));
	if (found & HTTP_DELETE)
		strlcat(allow, "DELETE, ", sizeof(allow));
	allow[strlen(allow) - 2] = '\0';
	h = evhttp_request_get_output_headers(hr->hr_req);
	evhttp_add_header(h, "Allow", allow);
	http_error(hr, 405, "method_not_allowed", "%s takes %s", hr->hr_path,
	    allow);
	return (NULL);
}

/*
 * The request line and headers within http-max-header; -1 after a 431.
 * evhttp itself cuts off, with 400, headers past HTTP_HEADER_HARD times
 * the limit, so that what it holds stays bounded.
 */
static int
http_header_size(struct http_req *hr)
{
	struct evkeyvalq	*h;
	struct evkeyval		*kv;
	size_t			 n;

	n = strlen(evhttp_request_get_uri(hr->hr_req)) + 16;
	h = evhttp_request_get_input_headers(hr->hr_req);
	TAILQ_FOREACH(kv, h, next)
		n += strlen(kv->key) + strlen(kv->value) + 4;
	if (n <= hr->hr_hd->hd_ch.ch_conf.c_http_max_header)
		return (0);
	evhttp_add_header(evhttp_request_get_output_headers(hr->hr_req),
	    "Connection", "close");
	http_error(hr, 431, "headers_too_large", "request line and headers "
	    "of %zu bytes: at most %llu (http-max-header)", n,
	    (unsigned long long)hr->hr_hd->hd_ch.ch_conf.c_http_max_header);
	return (-1);
}

/* --- Connections. */

static void
http_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn	 key, *hc;

	http_events_closed(evcon);
	key.hc_evcon = evcon;
	if ((hc = RB_FIND(http_conns, &http_conns, &key)) != NULL) {
		RB_REMOVE(http_conns, &http_conns, hc);
		free(hc);
		httpd.hd_conns--;
	}
}

/*
 * Count the request's connection the first time it is seen; 0 if it may
 * go on, -1 after a 503 when there are too many.
 */
static int
http_conn(struct http_req *hr)
{
	struct evhttp_connection *evcon;
	struct http_conn	 key, *hc;

	if ((evcon = evhttp_request_get_connection(hr->hr_req)) == NULL)
		return (0);
	key.hc_evcon = evcon;
	if (RB_FIND(http_conns, &http_conns, &key) != NULL)
		return (0);
	if ((size_t)httpd.hd_conns >= httpd.hd_maxconns) {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Connection", "close");
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", "1");
		http_error(hr, 503, "too_many_connections", "%d connections "
		    "open: try again", httpd.hd_conns);
		return (-1);
	}
	hc = xcalloc(1, sizeof(*hc));
	hc->hc_evcon = evcon;
	RB_INSERT(http_conns, &http_conns, hc);
	httpd.hd_conns++;
	evhttp_connection_set_closecb(evcon, http_conn_closed, NULL);
	return (0);
}

/* Accepts resume a while after EMFILE, instead of spinning on it. */
static void
http_resume(evutil_socket_t fd, short ev, void *arg)
{
	size_t	 i;

	for (i = 0; i < httpd.hd_nlisten; i++)
		evconnlistener_enable(httpd.hd_listen[i]);
}

static void
http_accept_error(struct evconnlistener *lev, void *arg)
{
	struct timeval	 tv;
	uint64_t	 held;
	size_t		 i;
	int		 err = EVUTIL_SOCKET_ERROR();

	if (err != EMFILE && err != ENFILE && err != ENOBUFS &&
	    err != ENOMEM) {
		log_warnx("http: accept: %s", strerror(err));
		return;
	}
	for (i = 0; i < httpd.hd_nlisten; i++)
		evconnlistener_disable(httpd.hd_listen[i]);
	tv.tv_sec = HTTP_PAUSE_MS / 1000;
	tv.tv_usec = (HTTP_PAUSE_MS % 1000) * 1000;
	evtimer_add(httpd.hd_pause, &tv);
	if (util_ratelimit(&httpd.hd_accept_rl, &held))
		log_warnx("http: accept: %s; accepts paused for %d ms (%llu "
		    "more not logged)", strerror(err), HTTP_PAUSE_MS,
		    (unsigned long long)held);
}

/* --- The request. */

static void
http_log(struct http_req *hr, uint64_t start)
{
	log_debug("http: %s %s %d %llu ms%s%s", hr->hr_method_name,
	    hr->hr_path[0] != '\0' ? hr->hr_path : "-", hr->hr_code,
	    (unsigned long long)(util_mono_ms() - start),
	    hr->hr_tenant != NULL ? " tenant " : "",
	    hr->hr_tenant != NULL ? hr->hr_tenant : "");
}

static const char *
http_method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:	return ("GET");
	case EVHTTP_REQ_HEAD:	return ("HEAD");
	case EVHTTP_REQ_POST:	return ("POST");
	case EVHTTP_REQ_DELETE:	return ("DELETE");
	case EVHTTP_REQ_PUT:	return ("PUT");
	case EVHTTP_REQ_OPTIONS: return ("OPTIONS");
	default:		return ("OTHER");
	}
}

static void
http_dispatch(struct evhttp_request *req, void *arg)
{
	const struct http_route	*rt;
	struct http_req		 hr;
	uint64_t		 start = util_mono_ms();

	memset(&hr, 0, sizeof(hr));
	hr.hr_hd = &httpd;
	hr.hr_req = req;
	hr.hr_method_name = http_method_name(req);
	TAILQ_INIT(&hr.hr_query);
	httpd.hd_requests++;
	if (http_conn(&hr) == 0 && http_header_size(&hr) == 0 &&
	    http_path(&hr) == 0 &&
	    (rt = http_route(&hr)) != NULL &&
	    (!rt->rt_auth || http_auth(&hr) == 0))
		rt->rt_fn(&hr);
	if (hr.hr_code == 0 && !hr.hr_async)
		http_error(&hr, 500, "internal", "no reply");
	http_log(&hr, start);
	evhttp_clear_headers(&hr.hr_query);
}

/* --- Start, limits, the supervisor. */

/* The limits of the configuration, at start and on a reload. */
static void
http_limits(struct httpd *hd)
{
	const struct quire_conf	*c = &hd->hd_ch.ch_conf;
	struct timeval		 tv;
	struct rlimit		 rl;
	size_t			 cap;

	evhttp_set_max_headers_size(hd->hd_http, c->c_http_max_header *
	    HTTP_HEADER_HARD);
	evhttp_set_max_body_size(hd->hd_http, c->c_http_max_body);
	tv.tv_sec = c->c_http_timeout_ms / 1000;
	tv.tv_usec = (c->c_http_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(hd->hd_http, &tv);
	cap = c->c_http_max_conns;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < cap + HTTP_FD_RESERVE + 16)
		cap = rl.rlim_cur > HTTP_FD_RESERVE + 16 ?
		    rl.rlim_cur - HTTP_FD_RESERVE - 16 : 1;
	hd->hd_maxconns = cap;
	http_tokens_load(hd);
}

/* As many descriptors as the hard limit allows. */
static void
http_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* A frame from the supervisor: a new configuration, or go. */
static void
http_ipc(evutil_socket_t fd, short ev, void *arg)
{
	struct httpd	*hd = arg;
	struct ipc_msg	 m;
	int		 rv;

	while ((rv = ipc_recv(hd->hd_ch.ch_fd, &hd->hd_ch.ch_ib, &m, 0)) ==
	    1) {
		if (m.m_type == IPC_STOP || m.m_type == IPC_EXIT)
			_exit(0);
		if (m.m_type == IPC_CONFIG && child_config(&hd->hd_ch, &m) == 0)
			http_limits(hd);
	}
	if (rv == -1)
		_exit(0);
}

static void
http_beat(evutil_socket_t fd, short ev, void *arg)
{
	struct httpd	*hd = arg;
	char		 phase[64];

	child_reopen(&hd->hd_ch);
	snprintf(phase, sizeof(phase), "serving %d", hd->hd_conns);
	if (ipc_send(hd->hd_ch.ch_fd, IPC_HEARTBEAT, 0, 0, phase) == -1)
		_exit(0);
}

/* Serve the listening sockets on descriptors 4 .. 4 + n - 1. */
static void
http_serve(struct httpd *hd, int n)
{
	struct evhttp_bound_socket	*bs;
	int				 i;

	if ((hd->hd_http = evhttp_new(hd->hd_base)) == NULL)
		fatalx("http: evhttp_new");
	evhttp_set_allowed_methods(hd->hd_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(hd->hd_http, http_dispatch, hd);
	for (i = 0; i < n; i++) {
		evutil_make_socket_nonblocking(4 + i);
		evutil_make_socket_closeonexec(4 + i);
		if ((bs = evhttp_accept_socket_with_handle(hd->hd_http,
		    4 + i)) == NULL)
			fatalx("http: cannot serve descriptor %d", 4 + i);
		hd->hd_listen[hd->hd_nlisten] =
		    evhttp_bound_socket_get_listener(bs);
		evconnlistener_set_error_cb(hd->hd_listen[hd->hd_nlisten++],
		    http_accept_error);
	}
}

void
http_main(int n)
{
	struct httpd		*hd = &httpd;
	const struct quire_conf	*c;
	struct queue_conf	 qc;
	struct timeval		 tv;

	child_setup(&hd->hd_ch, "http", FLEET_HTTP);
	c = &hd->hd_ch.ch_conf;
	signal(SIGPIPE, SIG_IGN);
	http_nofile();
	config_queue(c, &qc);
	if (queue_open(&hd->hd_q, c->c_datadir, &qc) == -1)
		fatalx("http: cannot open the queue in %s", c->c_datadir);
	if (index_open(&hd->hd_ix, c->c_datadir, c->c_mapsize, c->c_sync) == -1)
		fatalx("http: cannot open the index in %s", c->c_datadir);
	config_control_path(c, hd->hd_ctlpath, sizeof(hd->hd_ctlpath));
	if ((hd->hd_base = event_base_new()) == NULL)
		fatalx("http: event_base_new");
	http_serve(hd, n);
	http_limits(hd);
	hd->hd_pause = evtimer_new(hd->hd_base, http_resume, hd);
	hd->hd_ipc = event_new(hd->hd_base, hd->hd_ch.ch_fd,
	    EV_READ | EV_PERSIST, http_ipc, hd);
	hd->hd_beat = event_new(hd->hd_base, -1, EV_PERSIST, http_beat, hd);
	if (hd->hd_pause == NULL || hd->hd_ipc == NULL || hd->hd_beat == NULL)
		fatalx("http: event_new");
	event_add(hd->hd_ipc, NULL);
	tv.tv_sec = c->c_heartbeat_ms / 1000;
	tv.tv_usec = (c->c_heartbeat_ms % 1000) * 1000;
	event_add(hd->hd_beat, &tv);
	if (ipc_send(hd->hd_ch.ch_fd, IPC_READY, 0, getpid(), NULL) == -1)
		_exit(0);
	event_base_dispatch(hd->hd_base);
	_exit(0);
}
