/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The http child's connections: how many, and how slow.
 *
 * evhttp makes each connection's bufferevent through http_conn_bev, so
 * every accepted connection is known from its first moment, and one
 * reference to the bufferevent is kept: when evhttp lets the connection
 * go it clears the callbacks and drops its own reference, and the next
 * sweep sees that, drops ours (which closes the socket) and forgets it.
 *
 * Two rules, checked by a sweep every HTTP_SWEEP_MS:
 *
 *	cap		past http-max-connections, a connection's request
 *			gets 503 with Retry-After and Connection: close;
 *			past that and the descriptor reserve as well
 *			(HTTP_FD_RESERVE), the connection is shut at once,
 *			so the child always keeps descriptors for the admin
 *			socket and its files;
 *	pace		a connection must finish a request within
 *			http-timeout of its start (its accept, or its last
 *			request), or have sent at least HTTP_MIN_RATE bytes
 *			a second over that time, as the kernel counts them
 *			(TCP_INFO): a slow client that trickles its headers
 *			or body is shut, a fast upload of any size is not.
 *			An event stream, which waits by design, is exempt.
 *
 * evhttp's own http-timeout applies besides, to each read and write.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <netinet/in.h>
#include <linux/tcp.h>	/* tcpi_bytes_received */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "http.h"

#define HTTP_SWEEP_MS		250
#define HTTP_MIN_RATE		1024	/* bytes a second a request must keep */

struct http_conn {
	RB_ENTRY(http_conn)	 hc_entry;
	struct bufferevent	*hc_bev;	/* one reference is ours */
	uint64_t		 hc_since;	/* accept or last request, ms */
	uint64_t		 hc_bytes;	/* bytes received by then */
	int			 hc_stream;	/* an event stream */
	int			 hc_shut;	/* shut by us */
	int			 hc_over;	/* accepted past the cap */
};

static int
http_conn_cmp(struct http_conn *a, struct http_conn *b)
{
	return (a->hc_bev < b->hc_bev ? -1 : a->hc_bev > b->hc_bev);
}

RB_HEAD(http_conns, http_conn);
RB_GENERATE_STATIC(http_conns, http_conn, hc_entry, http_conn_cmp)

static struct http_conns	 http_conns = RB_INITIALIZER(&http_conns);

/* Bytes the kernel has received on fd, or 0. */
static uint64_t
http_conn_received(int fd)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (fd == -1 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return (0);
	return (ti.tcpi_bytes_received);
}

/*
 * Forget the connections evhttp has let go (their callbacks cleared):
 * drop our hold, which frees the bufferevent and closes the socket.
 */
static void
http_conn_reclaim(struct httpd *hd)
{
	struct http_conn	*hc, *next;
	bufferevent_data_cb	 rcb, wcb;
	bufferevent_event_cb	 ecb;
	void			*cbarg;

	RB_FOREACH_SAFE(hc, http_conns, &http_conns, next) {
		bufferevent_getcb(hc->hc_bev, &rcb, &wcb, &ecb, &cbarg);
		if (rcb != NULL || wcb != NULL || ecb != NULL)
			continue;
		RB_REMOVE(http_conns, &http_conns, hc);
		bufferevent_disable(hc->hc_bev, EV_READ | EV_WRITE);
		bufferevent_decref(hc->hc_bev);
		free(hc);
		hd->hd_conns--;
	}
}

/*
 * evhttp's bufferevent for a new connection: count it, keep a hold.  At
 * the cap, the connections closed since the last sweep are forgotten
 * first, so that clients that open one connection a request are not
 * refused for those.
 */
static struct bufferevent *
http_conn_bev(struct event_base *base, void *arg)
{
	struct httpd		*hd = arg;
	struct bufferevent	*bev;
	struct http_conn	*hc;

	if ((size_t)hd->hd_conns >= hd->hd_maxconns)
		http_conn_reclaim(hd);
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) ==
	    NULL)
		return (NULL);
	bufferevent_incref(bev);
	hc = xcalloc(1, sizeof(*hc));
	hc->hc_bev = bev;
	hc->hc_since = util_mono_ms();
	hc->hc_over = (size_t)hd->hd_conns >= hd->hd_maxconns;
	RB_INSERT(http_conns, &http_conns, hc);
	hd->hd_conns++;
	return (bev);
}

static struct http_conn *
http_conn_find(struct http_req *hr)
{
	struct evhttp_connection *evcon;
	struct http_conn	 key;

	if ((evcon = evhttp_request_get_connection(hr->hr_req)) == NULL)
		return (NULL);
	key.hc_bev = evhttp_connection_get_bufferevent(evcon);
	return (RB_FIND(http_conns, &http_conns, &key));
}

/*
 * A request came in whole: its connection starts a new pace window.  0
 * if it may be served, -1 after a 503 for a connection past the cap.
 */
int
http_conn_request(struct http_req *hr)
{
	struct http_conn	*hc;
	struct evkeyvalq	*h;

	if ((hc = http_conn_find(hr)) == NULL)
		return (0);
	hc->hc_since = util_mono_ms();
	hc->hc_bytes = http_conn_received(bufferevent_getfd(hc->hc_bev));
	if (!hc->hc_over)
		return (0);
	h = evhttp_request_get_output_headers(hr->hr_req);
	evhttp_add_header(h, "Connection", "close");
	evhttp_add_header(h, "Retry-After", "1");
	http_error(hr, 503, "too_many_connections", "%d connections open: "
	    "try again", hr->hr_hd->hd_conns);
	return (-1);
}

/* The request's connection is an event stream: no pace rule. */
void
http_conn_stream(struct http_req *hr)
{
	struct http_conn	*hc;

	if ((hc = http_conn_find(hr)) != NULL)
		hc->hc_stream = 1;
}

/* Shut a connection; evhttp sees the end and lets it go. */
static void
http_conn_shut(struct httpd *hd, struct http_conn *hc, const char *why)
{
	int	 fd = bufferevent_getfd(hc->hc_bev);

	if (fd != -1)
		(void)shutdown(fd, SHUT_RDWR);
	hc->hc_shut = 1;
	hd->hd_shut++;
	log_debug("http: connection shut: %s", why);
}

/* Past the pace: no request within http-timeout and too few bytes. */
static int
http_conn_slow(struct httpd *hd, struct http_conn *hc, uint64_t now)
{
	uint64_t	 bytes, dt = now - hc->hc_since;

	if (hc->hc_stream || dt < hd->hd_ch.ch_conf.c_http_timeout_ms)
		return (0);
	bytes = http_conn_received(bufferevent_getfd(hc->hc_bev));
	if (bytes - hc->hc_bytes >= HTTP_MIN_RATE * dt / 1000) {
		hc->hc_since = now;
		hc->hc_bytes = bytes;
		return (0);
	}
	return (1);
}

static void
http_conn_sweep(evutil_socket_t fd, short ev, void *arg)
{
	struct httpd		*hd = arg;
	struct http_conn	*hc;
	uint64_t		 now = util_mono_ms();
	size_t			 hard = hd->hd_maxconns + HTTP_FD_RESERVE / 2;

	http_conn_reclaim(hd);
	RB_FOREACH(hc, http_conns, &http_conns) {
		if (hc->hc_shut)
			continue;
		if (hc->hc_over && (size_t)hd->hd_conns > hard)
			http_conn_shut(hd, hc, "past the descriptor reserve");
		else if (http_conn_slow(hd, hc, now))
			http_conn_shut(hd, hc, "too slow");
	}
}

/* Count every connection evhttp makes, and sweep them. */
void
http_conn_init(struct httpd *hd)
{
	struct timeval	 tv;

	evhttp_set_bevcb(hd->hd_http, http_conn_bev, hd);
	if ((hd->hd_sweep = event_new(hd->hd_base, -1, EV_PERSIST,
	    http_conn_sweep, hd)) == NULL)
		fatalx("http: event_new");
	tv.tv_sec = 0;
	tv.tv_usec = HTTP_SWEEP_MS * 1000;
	event_add(hd->hd_sweep, &tv);
}
