/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl following jobs to their end (`submit --follow`, `ingest`).
 *
 * When the daemon serves HTTP on an address quirectl can reach over
 * loopback (127.0.0.1 or ::1; a wildcard address is reached there too),
 * it reads the daemon's event stream, GET /v1/events, the one the
 * dashboard reads, so that both show the same facts: each job's state
 * and progress as it changes, and the documents per second once a
 * second.  The stream is opened before the jobs are enqueued, so that
 * it reports every one of them; the queue is still looked at every
 * FOLLOW_CHECK_MS, for jobs the stream has said nothing of (a job
 * submitted before, named again by its key, that ends between two of
 * the stream's polls).  The request is HTTP/1.0, so that the events
 * come as they are, not in chunks, and the end of the stream is the end
 * of the connection.  A token, when the API needs one, comes from
 * QUIRE_TOKEN or a file (its first word).
 *
 * Without a stream (no daemon, no HTTP, a refusal), the queue is read
 * once every FOLLOW_POLL_MS: states, and the progress a running job's
 * lease holds.  Its counts by state, one read, are looked at every
 * FOLLOW_QUICK_MS in between: when no job is ready, leased or waiting
 * for a retry, every job followed has finished, and the end is seen at
 * once rather than up to a second late (a foreground ingest's fleet
 * idles until quirectl sees it).
 *
 * Bounds: an event's line at most FOLLOW_LINE_MAX bytes (a longer one
 * ends the stream, and polling takes over), the response's headers
 * FOLLOW_HEAD_MAX, and FOLLOW_CONNECT_MS to connect and be answered.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "quire.h"

#define FOLLOW_POLL_MS		1000
#define FOLLOW_QUICK_MS		20
#define FOLLOW_CHECK_MS		5000
#define FOLLOW_CONNECT_MS	3000
#define FOLLOW_HEAD_MAX		8192
#define FOLLOW_LINE_MAX		65536
#define FOLLOW_UNKNOWN		JOB_NSTATES

struct follow_job {
	uint64_t	 fj_id;
	uint64_t	 fj_size;
};

static int
follow_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* ctlpath: the daemon's admin socket, for polling; NULL: none. */
void
follow_init(struct follow *fl, const char *ctlpath)
{
	memset(fl, 0, sizeof(*fl));
	fl->fl_ctlpath = ctlpath;
	fl->fl_fd = -1;
	fl->fl_rate = -1;
	buf_init(&fl->fl_in);
}

/*
 * The jobs to follow, as enqueued (a key's job may come twice): each
 * weighs its size in the fraction done, a job of no size one byte.
 */
void
follow_jobs(struct follow *fl, const struct queue_new *qn, size_t n)
{
	struct follow_job	*fj;
	size_t			 i, m = 0;

	fj = xcalloc(n + 1, sizeof(*fj));
	for (i = 0; i < n; i++) {
		fj[i].fj_id = qn[i].qn_id;
		fj[i].fj_size = qn[i].qn_size > 0 ? qn[i].qn_size : 1;
	}
	qsort(fj, n, sizeof(*fj), follow_cmp);
	fl->fl_ids = xcalloc(n + 1, sizeof(*fl->fl_ids));
	fl->fl_size = xcalloc(n + 1, sizeof(*fl->fl_size));
	for (i = 0; i < n; i++)
		if (m == 0 || fl->fl_ids[m - 1] != fj[i].fj_id) {
			fl->fl_ids[m] = fj[i].fj_id;
			fl->fl_size[m] = fj[i].fj_size;
			fl->fl_total += fj[i].fj_size;
			m++;
		}
	free(fj);
	fl->fl_n = m;
	fl->fl_state = xcalloc(m + 1, 1);
	memset(fl->fl_state, FOLLOW_UNKNOWN, m);
	fl->fl_pm = xcalloc(m + 1, sizeof(*fl->fl_pm));
}

void
follow_free(struct follow *fl)
{
	if (fl->fl_fd != -1)
		close(fl->fl_fd);
	fl->fl_fd = -1;
	buf_free(&fl->fl_in);
	free(fl->fl_ids);
	free(fl->fl_size);
	free(fl->fl_state);
	free(fl->fl_pm);
}

static int
follow_final(int state)
{
	return (state == JOB_DONE || state == JOB_DEAD ||
	    state == JOB_CANCELLED);
}

/* What is known of job id now; pm < 0 leaves its progress as it is. */
static void
follow_set(struct follow *fl, uint64_t id, int state, int pm)
{
	uint64_t	*p;
	size_t		 i;

	if ((p = bsearch(&id, fl->fl_ids, fl->fl_n, sizeof(id),
	    follow_cmp)) == NULL || state < 0 || state >= JOB_NSTATES)
		return;
	i = p - fl->fl_ids;
	if (follow_final(fl->fl_state[i]))
		return;
	fl->fl_state[i] = state;
	if (state == JOB_DONE)
		pm = 1000;
	if (pm >= 0)
		fl->fl_pm[i] = pm > 1000 ? 1000 : pm;
	if (!follow_final(state))
		return;
	fl->fl_final++;
	if (state == JOB_DEAD)
		fl->fl_dead++;
	if (state == JOB_CANCELLED)
		fl->fl_cancelled++;
}

/* The fraction of the whole done, by size: finished and running jobs. */
double
follow_fraction(const struct follow *fl)
{
	double	 sum = 0;
	size_t	 i;

	if (fl->fl_total == 0)
		return (1);
	for (i = 0; i < fl->fl_n; i++)
		sum += (double)fl->fl_size[i] * (follow_final(fl->fl_state[i]) ?
		    1000 : fl->fl_pm[i]);
	return (sum / 1000 / fl->fl_total);
}

/* --- The event stream. */

/* host and port to connect to for a listen address; -1: not loopback. */
static int
follow_addr(const char *name, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char	*colon;

	if ((colon = strrchr(name, ':')) == NULL || colon[1] == '\0')
		return (-1);
	strlcpy(port, colon + 1, plen);
	if (strncmp(name, "127.", 4) == 0 && (size_t)(colon - name) < hlen) {
		memcpy(host, name, colon - name);
		host[colon - name] = '\0';
	} else if (strncmp(name, "0.0.0.0:", 8) == 0)
		strlcpy(host, "127.0.0.1", hlen);
	else if (strncmp(name, "[::1]:", 6) == 0 ||
	    strncmp(name, "[::]:", 5) == 0)
		strlcpy(host, "::1", hlen);
	else
		return (-1);
	return (0);
}

static int
follow_dial(const char *host, const char *port)
{
	struct addrinfo	 hints, *res;
	int		 fd, saved;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		errno = EINVAL;
		return (-1);
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) != -1 && connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
		saved = errno;
		close(fd);
		fd = -1;
		errno = saved;
	}
	freeaddrinfo(res);
	return (fd);
}

/* Read into fl_in, waiting at most ms; -1: the end, or an error. */
static int
follow_fill(struct follow *fl, int ms)
{
	struct pollfd	 pfd;
	char		 buf[8192];
	ssize_t		 n;
	int		 rv;

	pfd.fd = fl->fl_fd;
	pfd.events = POLLIN;
	if ((rv = poll(&pfd, 1, ms)) == -1)
		return (errno == EINTR ? 0 : -1);
	if (rv == 0)
		return (0);
	if ((n = read(fl->fl_fd, buf, sizeof(buf))) == -1)
		return (errno == EINTR || errno == EAGAIN ? 0 : -1);
	if (n == 0)
		return (-1);
	buf_add(&fl->fl_in, buf, n);
	return (1);
}

/* The response's status line and headers: 0 for a 200. */
static int
follow_head(struct follow *fl, char *why, size_t len)
{
	uint64_t	 end = util_mono_ms() + FOLLOW_CONNECT_MS;
	char		*eoh;
	size_t		 skip;
	int		 code;

	for (;;) {
		buf_cstr(&fl->fl_in);
		if ((eoh = strstr(fl->fl_in.b_data, "\r\n\r\n")) != NULL)
			break;
		if (fl->fl_in.b_len > FOLLOW_HEAD_MAX ||
		    util_mono_ms() >= end || follow_fill(fl, 100) == -1) {
			snprintf(why, len, "no answer");
			return (-1);
		}
	}
	if (sscanf(fl->fl_in.b_data, "HTTP/1.%*d %d", &code) != 1 ||
	    code != 200) {
		snprintf(why, len, "HTTP status %s", fl->fl_in.b_len > 12 ?
		    "other than 200" : "missing");
		if (sscanf(fl->fl_in.b_data, "HTTP/1.%*d %d", &code) == 1)
			snprintf(why, len, "HTTP status %d", code);
		return (-1);
	}
	skip = eoh + 4 - fl->fl_in.b_data;
	memmove(fl->fl_in.b_data, eoh + 4, fl->fl_in.b_len - skip);
	fl->fl_in.b_len -= skip;
	return (0);
}

/*
 * Open the event stream of the daemon's HTTP address name, with token
 * (or NULL).  0, or -1 with why set: then follow_wait polls the queue.
 */
int
follow_connect(struct follow *fl, const char *name, const char *token,
    char *why, size_t len)
{
	char	 host[64], port[16], req[512];
	int	 n;

	if (follow_addr(name, host, sizeof(host), port, sizeof(port)) == -1) {
		snprintf(why, len, "%s is not a loopback address", name);
		return (-1);
	}
	if ((fl->fl_fd = follow_dial(host, port)) == -1) {
		snprintf(why, len, "%s: %s", name, strerror(errno));
		return (-1);
	}
	n = snprintf(req, sizeof(req), "GET /v1/events HTTP/1.0\r\n"
	    "Host: %s\r\nAccept: text/event-stream\r\n%s%s%s\r\n", name,
	    token != NULL ? "Authorization: Bearer " : "",
	    token != NULL ? token : "", token != NULL ? "\r\n" : "");
	if (n >= (int)sizeof(req) || write(fl->fl_fd, req, n) != n ||
	    follow_head(fl, why, len) == -1) {
		if (n >= (int)sizeof(req))
			snprintf(why, len, "token too long");
		explicit_bzero(req, sizeof(req));
		close(fl->fl_fd);
		fl->fl_fd = -1;
		buf_reset(&fl->fl_in);
		return (-1);
	}
	explicit_bzero(req, sizeof(req));
	return (0);
}

static uint64_t
follow_num(yajl_val v, const char *key)
{
	const char	*path[2] = { key, NULL };
	yajl_val	 n;

	if ((n = yajl_tree_get(v, path, yajl_t_number)) == NULL)
		return (0);
	return (YAJL_IS_INTEGER(n) && YAJL_GET_INTEGER(n) > 0 ?
	    (uint64_t)YAJL_GET_INTEGER(n) : 0);
}

/*
 * The storage fault a status (the stream's status event, or the admin
 * socket's status) says holds the workers, as "map-full (worker 0:
 * index commit)"; "" when it says none.
 */
static void
follow_storage(struct follow *fl, yajl_val status)
{
	const char	*spath[] = { "storage", "state", NULL };
	const char	*wpath[] = { "storage", "what", NULL };
	const char	*state, *what;

	state = YAJL_GET_STRING(yajl_tree_get(status, spath, yajl_t_string));
	what = YAJL_GET_STRING(yajl_tree_get(status, wpath, yajl_t_string));
	fl->fl_held[0] = '\0';
	if (state != NULL && strcmp(state, "ok") != 0)
		snprintf(fl->fl_held, sizeof(fl->fl_held), "%s (%s)", state,
		    what != NULL ? what : "?");
}

/* One event: "job" or "status", its data. */
static void
follow_event(struct follow *fl, const char *event, const char *data)
{
	const char	*spath[] = { "state", NULL };
	const char	*ppath[] = { "progress", NULL };
	const char	*rpath[] = { "docs_per_s", NULL };
	yajl_val	 v, s, p;

	if ((v = yajl_tree_parse(data, NULL, 0)) == NULL)
		return;
	if (strcmp(event, "job") == 0) {
		s = yajl_tree_get(v, spath, yajl_t_string);
		p = yajl_tree_get(v, ppath, yajl_t_number);
		if (s != NULL)
			follow_set(fl, follow_num(v, "job"),
			    codec_state_parse(YAJL_GET_STRING(s)), p != NULL ?
			    (int)(YAJL_GET_DOUBLE(p) * 1000 + 0.5) : -1);
	} else if (strcmp(event, "status") == 0) {
		if ((p = yajl_tree_get(v, rpath, yajl_t_number)) != NULL)
			fl->fl_rate = YAJL_GET_DOUBLE(p);
		follow_storage(fl, v);
	}
	yajl_tree_free(v);
}

/* The whole lines read so far; -1 when one is too long. */
static int
follow_lines(struct follow *fl)
{
	char	*p, *nl;
	size_t	 used;

	buf_cstr(&fl->fl_in);
	p = fl->fl_in.b_data;
	while ((nl = memchr(p, '\n', fl->fl_in.b_len - (p -
	    fl->fl_in.b_data))) != NULL) {
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (strncmp(p, "event: ", 7) == 0)
			strlcpy(fl->fl_event, p + 7, sizeof(fl->fl_event));
		else if (strncmp(p, "data: ", 6) == 0)
			follow_event(fl, fl->fl_event, p + 6);
		else if (*p == '\0')
			fl->fl_event[0] = '\0';
		p = nl + 1;
	}
	used = p - fl->fl_in.b_data;
	memmove(fl->fl_in.b_data, p, fl->fl_in.b_len - used);
	fl->fl_in.b_len -= used;
	return (fl->fl_in.b_len > FOLLOW_LINE_MAX ? -1 : 0);
}

/* --- The queue. */

/*
 * Without a stream, the running jobs' progress as the daemon's workers
 * report it, and the storage fault that holds them (status over the
 * admin socket), when a daemon answers; the lease's progress, updated
 * more rarely, and no fault otherwise.
 */
static void
follow_workers(struct follow *fl)
{
	const char	*wpath[] = { "fleet", "workers", NULL };
	const char	*ppath[] = { "progress", NULL };
	struct buf	 body;
	yajl_val	 st, w, p;
	char		 why[256];
	size_t		 i;

	buf_init(&body);
	fl->fl_held[0] = '\0';
	if (fl->fl_ctlpath == NULL || ask_daemon(fl->fl_ctlpath, CTL_STATUS,
	    0, "json", &body, FOLLOW_CONNECT_MS, FOLLOW_CONNECT_MS, why,
	    sizeof(why)) != 0 ||
	    (st = yajl_tree_parse(buf_cstr(&body), NULL, 0)) == NULL) {
		buf_free(&body);
		return;
	}
	buf_free(&body);
	follow_storage(fl, st);
	w = yajl_tree_get(st, wpath, yajl_t_array);
	for (i = 0; w != NULL && i < w->u.array.len; i++) {
		p = yajl_tree_get(w->u.array.values[i], ppath, yajl_t_number);
		if (p != NULL)
			follow_set(fl, follow_num(w->u.array.values[i], "job"),
			    JOB_LEASED, (int)(YAJL_GET_DOUBLE(p) * 1000 + 0.5));
	}
	yajl_tree_free(st);
}

/* Look at the jobs not known finished; all of them when polling. */
static void
follow_check(struct follow *fl, struct queue *q)
{
	struct job	 j;
	size_t		 i;
	int		 pm;

	for (i = 0; i < fl->fl_n; i++) {
		if (follow_final(fl->fl_state[i]) ||
		    queue_get(q, fl->fl_ids[i], &j) != 0)
			continue;
		pm = j.j_state == JOB_LEASED ? (int)(j.j_progress < 999 ?
		    j.j_progress : 999) : 0;
		if (fl->fl_fd == -1)
			follow_set(fl, j.j_id, j.j_state, pm);
		else if (follow_final(j.j_state))
			follow_set(fl, j.j_id, j.j_state, -1);
	}
	if (fl->fl_fd == -1)
		follow_workers(fl);
	fl->fl_checked = util_mono_ms();
}

/* Whether the queue holds no job that is yet to finish. */
static int
follow_idle(struct queue *q)
{
	struct queue_stats	 qs;

	if (queue_stats(q, &qs) != 0)
		return (0);
	return (qs.qs_count[JOB_READY] == 0 && qs.qs_count[JOB_LEASED] == 0 &&
	    qs.qs_count[JOB_RETRY] == 0);
}

/*
 * Wait about ms for news of the jobs (events, or a look at the queue
 * when it is time).  1 when every job has finished, else 0.
 */
int
follow_wait(struct follow *fl, struct queue *q, int ms)
{
	uint64_t	 end = util_mono_ms() + ms, now, nap;

	while (fl->fl_final < fl->fl_n && (now = util_mono_ms()) < end) {
		if (fl->fl_fd == -1) {
			nap = end - now < FOLLOW_QUICK_MS ? end - now :
			    FOLLOW_QUICK_MS;
			usleep(nap * 1000);
			if (follow_idle(q)) {
				follow_check(fl, q);
				break;
			}
			continue;
		}
		if (follow_fill(fl, end - now) == -1 ||
		    follow_lines(fl) == -1) {
			warnx("the event stream ended: reading the queue");
			close(fl->fl_fd);
			fl->fl_fd = -1;
			fl->fl_rate = -1;
		}
	}
	if (fl->fl_final < fl->fl_n && util_mono_ms() - fl->fl_checked >=
	    (fl->fl_fd == -1 ? FOLLOW_POLL_MS : FOLLOW_CHECK_MS))
		follow_check(fl, q);
	return (fl->fl_final == fl->fl_n);
}
