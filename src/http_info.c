/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's reads of the whole service: /healthz, /v1/status and
 * /metrics.
 *
 * Status and metrics are the supervisor's: they are asked for over the
 * admin socket (ask.c), and the reply relayed as it came, so that the
 * API and quirectl show the same facts.  Both describe every tenant, so
 * a token bound to one tenant may not read them (403).  A supervisor
 * that does not answer within HTTP_ASK_MS gives 503.
 *
 * /healthz needs no token: 200 {"ok": true}, or 503 {"ok": false,
 * "why": ...} with Retry-After when the fleet is degraded (the reason
 * status gives), storage is in a fault (full, map-full, io-error,
 * unreachable, ids-full), an
 * LMDB file has grown past HTTP_MAP_FULL percent of map-max, or, on a
 * queue on PostgreSQL, the database does not answer or this host's
 * heartbeat is failing.  There the answer also names the hosts that are
 * dead ("missing_hosts"): their documents are missing from a search
 * over all hosts, but this host serves what it holds, so a dead host
 * does not make it unhealthy.
 *
 * Uploads are refused (503) while storage is in a fault or a map is
 * nearly full: http_health_tick looks at both every heartbeat.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "quire.h"
#include "http.h"

#define HTTP_MAP_FULL		90	/* percent of map-max: not healthy */

/*
 * Ask the supervisor; 0 with the reply's body in body, ASK_REFUSED with
 * the supervisor's reason in why (nothing sent: the caller says what it
 * means), or -1 after a 503 (no answer).
 */
int
http_ask_why(struct http_req *hr, int cmd, uint64_t num, const char *flags,
    struct buf *body, char *why, size_t whylen)
{
	int	 rv;

	rv = ask_daemon(hr->hr_hd->hd_ctlpath, cmd, num, flags, body,
	    HTTP_ASK_MS, HTTP_ASK_MS, why, whylen);
	if (rv == 0 || rv == ASK_REFUSED)
		return (rv);
	log_warnx("http: the supervisor: %s", why);
	evhttp_add_header(evhttp_request_get_output_headers(hr->hr_req),
	    "Retry-After", "1");
	http_error(hr, 503, "supervisor_unavailable", "the supervisor did "
	    "not answer");
	return (-1);
}

/*
 * Ask the supervisor; 0 with the reply's body in body, or -1 after a
 * 503 (no answer) or a 400 (it refused: the request was wrong).
 */
int
http_ask(struct http_req *hr, int cmd, uint64_t num, const char *flags,
    struct buf *body)
{
	char	 why[CONF_STR_MAX + 128];
	int	 rv;

	rv = http_ask_why(hr, cmd, num, flags, body, why, sizeof(why));
	if (rv == ASK_REFUSED) {
		http_error(hr, 400, "refused", "%s", why);
		return (-1);
	}
	return (rv);
}

/* Facts about every tenant: not for a token bound to one. */
static int
http_all_tenants(struct http_req *hr)
{
	if (hr->hr_tenant == NULL)
		return (0);
	http_error(hr, 403, "forbidden", "a tenant's token cannot read the "
	    "whole service's status");
	return (-1);
}

/* The percentage of map-max an environment's file takes, at most. */
static int
http_map_used(const struct quire_conf *c, char *which, size_t len)
{
	const char		*envs[] = { "queue", "index" };
	char			 path[CONF_STR_MAX + 32];
	struct stat		 st;
	size_t			 i;
	int			 pct, worst = 0;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s/data.mdb", c->c_datadir,
		    envs[i]);
		if (stat(path, &st) == -1 || c->c_mapmax == 0)
			continue;
		pct = (int)((uint64_t)st.st_size * 100 / c->c_mapmax);
		if (pct > worst) {
			worst = pct;
			strlcpy(which, envs[i], len);
		}
	}
	return (worst);
}

/* Why the service is not healthy, from status's JSON; NULL if it is. */
static const char *
http_unhealthy(struct http_req *hr, yajl_val st, char *buf, size_t len)
{
	const char	*dpath[] = { "fleet", "degraded", NULL };
	const char	*rpath[] = { "fleet", "degraded_reason", NULL };
	const char	*spath[] = { "storage", "state", NULL };
	const char	*qpath[] = { "queue", "reachable", NULL };
	const char	*epath[] = { "queue", "error", NULL };
	const char	*bpath[] = { "queue", "beat_failing", NULL };
	yajl_val	 v;
	const char	*state;
	char		 which[16];
	int		 pct;

	if ((v = yajl_tree_get(st, qpath, yajl_t_false)) != NULL) {
		v = yajl_tree_get(st, epath, yajl_t_string);
		snprintf(buf, len, "the queue's database does not answer: %s",
		    v != NULL ? YAJL_GET_STRING(v) : "see status");
		return (buf);
	}
	if (yajl_tree_get(st, bpath, yajl_t_true) != NULL) {
		snprintf(buf, len, "this host's heartbeat to the queue's "
		    "database is failing");
		return (buf);
	}
	if ((v = yajl_tree_get(st, dpath, yajl_t_true)) != NULL) {
		v = yajl_tree_get(st, rpath, yajl_t_string);
		snprintf(buf, len, "degraded: %s", v != NULL ?
		    YAJL_GET_STRING(v) : "see status");
		return (buf);
	}
	if ((v = yajl_tree_get(st, spath, yajl_t_string)) != NULL &&
	    (state = YAJL_GET_STRING(v)) != NULL && strcmp(state, "ok") != 0) {
		snprintf(buf, len, "storage %s", state);
		return (buf);
	}
	if ((pct = http_map_used(&hr->hr_hd->hd_ch.ch_conf, which,
	    sizeof(which))) >= HTTP_MAP_FULL) {
		snprintf(buf, len, "map nearly full: %s at %d%% of map-max",
		    which, pct);
		return (buf);
	}
	return (NULL);
}

/*
 * Every heartbeat: whether uploads should be refused for now, from the
 * supervisor's status (a storage fault) and the maps' sizes, so that an
 * upload does not wait on a question to the supervisor.
 */
void
http_health_tick(struct httpd *hd)
{
	const char	*spath[] = { "storage", "state", NULL };
	struct buf	 body;
	yajl_val	 st, v;
	const char	*state;
	char		 why[CONF_STR_MAX + 128], which[16];
	int		 pct;

	hd->hd_refuse[0] = '\0';
	if ((pct = http_map_used(&hd->hd_ch.ch_conf, which,
	    sizeof(which))) >= HTTP_MAP_FULL)
		snprintf(hd->hd_refuse, sizeof(hd->hd_refuse), "map nearly "
		    "full: %s at %d%% of map-max", which, pct);
	buf_init(&body);
	if (ask_daemon(hd->hd_ctlpath, CTL_STATUS, 0, "json", &body,
	    HTTP_ASK_MS, HTTP_ASK_MS, why, sizeof(why)) == 0 &&
	    (st = yajl_tree_parse(buf_cstr(&body), why, sizeof(why))) != NULL) {
		if ((v = yajl_tree_get(st, spath, yajl_t_string)) != NULL &&
		    (state = YAJL_GET_STRING(v)) != NULL &&
		    strcmp(state, "ok") != 0)
			snprintf(hd->hd_refuse, sizeof(hd->hd_refuse),
			    "storage %s", state);
		yajl_tree_free(st);
	}
	buf_free(&body);
}

/*
 * On a shared queue whose hosts status could read, the dead ones but
 * the drained (which hold nothing): ", "missing_hosts": [...]".
 */
static void
http_dead_hosts(yajl_val st, struct buf *out)
{
	const char	*hpath[] = { "queue", "hosts", NULL };
	const char	*npath[] = { "name", NULL };
	const char	*tpath[] = { "state", NULL };
	const char	*dpath[] = { "drain", NULL };
	yajl_val	 hosts, h, name, state, drain;
	const char	*st_s;
	size_t		 i, n = 0;

	if ((hosts = yajl_tree_get(st, hpath, yajl_t_array)) == NULL)
		return;
	buf_addstr(out, ", \"missing_hosts\": [");
	for (i = 0; i < YAJL_GET_ARRAY(hosts)->len; i++) {
		h = YAJL_GET_ARRAY(hosts)->values[i];
		if ((name = yajl_tree_get(h, npath, yajl_t_string)) == NULL ||
		    (state = yajl_tree_get(h, tpath, yajl_t_string)) == NULL ||
		    (st_s = YAJL_GET_STRING(state)) == NULL ||
		    strcmp(st_s, "dead") != 0)
			continue;
		if ((drain = yajl_tree_get(h, dpath, yajl_t_string)) != NULL &&
		    (st_s = YAJL_GET_STRING(drain)) != NULL &&
		    strcmp(st_s, "drained") == 0)
			continue;
		buf_addstr(out, n++ ? ", " : "");
		show_json_str(out, YAJL_GET_STRING(name));
	}
	buf_addstr(out, "]");
}

void
http_healthz(struct http_req *hr)
{
	struct buf	 body, out;
	yajl_val	 st;
	const char	*why;
	char		 err[256], buf[512];

	buf_init(&body);
	if (http_ask(hr, CTL_STATUS, 0, "json", &body) == -1) {
		buf_free(&body);
		return;
	}
	if ((st = yajl_tree_parse(buf_cstr(&body), err, sizeof(err))) == NULL) {
		buf_free(&body);
		http_error(hr, 502, "bad_status", "status: %s", err);
		return;
	}
	why = http_unhealthy(hr, st, buf, sizeof(buf));
	buf_init(&out);
	if (why == NULL)
		buf_addstr(&out, "{\"ok\": true");
	else {
		buf_addstr(&out, "{\"ok\": false, \"why\": ");
		show_json_str(&out, why);
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", "10");
	}
	http_dead_hosts(st, &out);
	buf_addstr(&out, "}\n");
	http_json(hr, why == NULL ? 200 : 503, &out);
	buf_free(&out);
	yajl_tree_free(st);
	buf_free(&body);
}

void
http_status(struct http_req *hr)
{
	struct buf	 body;

	if (http_all_tenants(hr) == -1)
		return;
	buf_init(&body);
	if (http_ask(hr, CTL_STATUS, 0, "json", &body) == 0)
		http_json(hr, 200, &body);
	buf_free(&body);
}

void
http_metrics(struct http_req *hr)
{
	struct buf	 body;

	if (http_all_tenants(hr) == -1)
		return;
	buf_init(&body);
	if (http_ask(hr, CTL_METRICS, 0, "", &body) == 0)
		http_send(hr, 200, "text/plain; version=0.0.4; charset=utf-8",
		    body.b_data, body.b_len);
	buf_free(&body);
}
