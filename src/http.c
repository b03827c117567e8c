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
 *	connections	at most http-max-connections served at once, and
 *			a request must come within http-timeout or keep a
 *			pace (http_conn.c): 503, or the connection shut;
 *	path		split into segments, each decoded on its own (an
 *			id may hold "/" as %2F); %00, a control character,
 *			an empty, "." or ".." segment, or a path over
 *			HTTP_PATH_MAX: 400;
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

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "quire.h"
#include "http.h"

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
	{ "/v1/search",			HTTP_POST, 1, http_search_post },
	{ "/v1/search/stats",		HTTP_GET, 1, http_search_stats },
	{ "/v1/documents",		HTTP_POST, 1, http_upload },
	{ "/v1/documents/bulk",		HTTP_POST, 1, http_upload_bulk },
	{ "/v1/jobs",			HTTP_GET, 1, http_jobs },
	{ "/v1/jobs/*",			HTTP_GET, 1, http_job },
	{ "/v1/jobs/*",			HTTP_DELETE, 1, http_job_cancel },
	{ "/v1/jobs/*/retry",		HTTP_POST, 1, http_job_retry },
	{ "/v1/dead",			HTTP_GET, 1, http_dead },
	{ "/v1/dead",			HTTP_DELETE, 1, http_dead_purge },
	{ "/v1/dead/retry",		HTTP_POST, 1, http_dead_retry },
	{ "/v1/documents/*",		HTTP_GET, 1, http_document },
	{ "/v1/documents/*",		HTTP_DELETE, 1, http_document_delete },
	{ "/v1/events",			HTTP_GET, 1, http_events },
	{ "/",				HTTP_GET, 0, http_static },
	{ "/*",				HTTP_GET, 0, http_static },
};

#define HTTP_NROUTES	(sizeof(http_routes) / sizeof(http_routes[0]))

static struct httpd		 http_server;

/* --- The path. */

/* A decoded string without NUL or control bytes, or NULL (freed). */
static char *
http_decode(const char *raw)
{
	char	*dec, *p;
	size_t	 len;

	if ((dec = evhttp_uridecode(raw, 0, &len)) == NULL)
		return (NULL);
	if (len != strlen(dec))
		goto bad;
	for (p = dec; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			goto bad;
	return (dec);
 bad:
	free(dec);
	return (NULL);
}

/*
 * Split the raw path into segments, each decoded on its own, so that an
 * id may hold a "/" as %2F (a document's external id is often a path).
 */
static int
http_segments(struct http_req *hr, const char *raw)
{
	char	 copy[HTTP_PATH_MAX + 1], *p, *seg, *dec;
	size_t	 used = 0, len;

	strlcpy(copy, raw + 1, sizeof(copy));
	p = copy;
	while ((seg = strsep(&p, "/")) != NULL) {
		if (*seg == '\0' && (p != NULL || hr->hr_nseg > 0))
			return (-1);
		if (*seg == '\0')
			continue;
		if (hr->hr_nseg == HTTP_SEGS_MAX || (dec = http_decode(seg)) ==
		    NULL)
			return (-1);
		len = strlen(dec);
		if (len == 0 || strcmp(dec, ".") == 0 ||
		    strcmp(dec, "..") == 0 ||
		    used + len + 1 > sizeof(hr->hr_segbuf)) {
			free(dec);
			return (-1);
		}
		memcpy(hr->hr_segbuf + used, dec, len + 1);
		hr->hr_seg[hr->hr_nseg++] = hr->hr_segbuf + used;
		used += len + 1;
		free(dec);
	}
	return (0);
}

/*
 * Decode the request's path into hr_path and split it into segments.
 * -1 after a 400 on anything a file system or a router could misread.
 */
static int
http_path(struct http_req *hr)
{
	const struct evhttp_uri	*uri;
	const char		*raw, *q;
	char			*dec;

	uri = evhttp_request_get_evhttp_uri(hr->hr_req);
	if (uri == NULL || (raw = evhttp_uri_get_path(uri)) == NULL ||
	    raw[0] != '/' || strlen(raw) > HTTP_PATH_MAX)
		goto bad;
	if ((q = evhttp_uri_get_query(uri)) != NULL &&
	    (strstr(q, "%00") != NULL || evhttp_parse_query_str(q,
	    &hr->hr_query) == -1))
		goto bad;
	if ((dec = http_decode(raw)) == NULL)
		goto bad;
	if (strlcpy(hr->hr_path, dec, sizeof(hr->hr_path)) >=
	    sizeof(hr->hr_path)) {
		free(dec);
		goto bad;
	}
	free(dec);
	if (http_segments(hr, raw) == -1)
		goto bad;
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

/* A 405 naming in Allow the methods (HTTP_GET, ...) of what. */
static void
http_not_allowed(struct http_req *hr, int methods, const char *what)
{
	char	 allow[64] = "";

	if (methods & HTTP_GET)
		strlcat(allow, "GET, HEAD, ", sizeof(allow));
	if (methods & HTTP_POST)
		strlcat(allow, "POST, ", sizeof(allow));
	if (methods & HTTP_DELETE)
		strlcat(allow, "DELETE, ", sizeof(allow));
	allow[strlen(allow) - 2] = '\0';
	evhttp_add_header(evhttp_request_get_output_headers(hr->hr_req),
	    "Allow", allow);
	http_error(hr, 405, "method_not_allowed", "%s takes %s", what, allow);
}

/* The route for the request, or NULL after a 404 or 405. */
static const struct http_route *
http_route(struct http_req *hr)
{
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
	http_not_allowed(hr, found, hr->hr_path);
	return (NULL);
}

/*
 * CONNECT asks for a tunnel, and its target is a host, not a path: this
 * server is no proxy, so it is a 405 naming every method it takes; -1.
 */
static int
http_tunnel(struct http_req *hr)
{
	size_t	 i;
	int	 all = 0;

	if (evhttp_request_get_command(hr->hr_req) != EVHTTP_REQ_CONNECT)
		return (0);
	for (i = 0; i < HTTP_NROUTES; i++)
		all |= http_routes[i].rt_methods;
	http_not_allowed(hr, all, "CONNECT: this server is not a proxy; it");
	return (-1);
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

/* --- Accepts. */

/* Accepts resume a while after EMFILE, instead of spinning on it. */
static void
http_resume(evutil_socket_t fd, short ev, void *arg)
{
	size_t	 i;

	for (i = 0; i < http_server.hd_nlisten; i++)
		evconnlistener_enable(http_server.hd_listen[i]);
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
	for (i = 0; i < http_server.hd_nlisten; i++)
		evconnlistener_disable(http_server.hd_listen[i]);
	tv.tv_sec = HTTP_PAUSE_MS / 1000;
	tv.tv_usec = (HTTP_PAUSE_MS % 1000) * 1000;
	evtimer_add(http_server.hd_pause, &tv);
	if (util_ratelimit(&http_server.hd_accept_rl, &held))
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
	case EVHTTP_REQ_PATCH:	return ("PATCH");
	case EVHTTP_REQ_TRACE:	return ("TRACE");
	case EVHTTP_REQ_CONNECT: return ("CONNECT");
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
	hr.hr_hd = &http_server;
	hr.hr_req = req;
	hr.hr_method_name = http_method_name(req);
	TAILQ_INIT(&hr.hr_query);
	http_server.hd_requests++;
	if (http_conn_request(&hr) == 0 && http_header_size(&hr) == 0 &&
	    http_tunnel(&hr) == 0 && http_path(&hr) == 0 &&
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
	http_health_tick(hd);
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
	/*
	 * Every method evhttp parses, so that the route table answers
	 * each one it does not take with a JSON 405 and Allow, not evhttp
	 * with an HTML 501.
	 */
	evhttp_set_allowed_methods(hd->hd_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
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
	struct httpd		*hd = &http_server;
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
	http_conn_init(hd);
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
