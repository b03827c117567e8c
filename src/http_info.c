/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's reads of the whole service: /healthz, /v1/status,
 * /metrics and /v1/search.
 *
 * Status and metrics are the supervisor's: they are asked for over the
 * admin socket (ask.c), and the reply relayed as it came, so that the
 * API and quirectl show the same facts.  Both describe every tenant, so
 * a token bound to one tenant may not read them (403).  A supervisor
 * that does not answer within HTTP_ASK_MS gives 503.
 *
 * /healthz needs no token: 200 {"ok": true}, or 503 {"ok": false,
 * "why": ...} with Retry-After when the fleet is degraded (the reason
 * status gives), storage is in a fault (full, map-full, io-error), or an
 * LMDB file has grown past HTTP_MAP_FULL percent of map-max.
 *
 * Uploads are refused (503) while storage is in a fault or a map is
 * nearly full: http_health_tick looks at both every heartbeat.
 *
 * A search runs here, in the http child, with the bounds the admin
 * socket's searches have (CTL_SEARCH_*): the same engine and the same
 * JSON as `quirectl search --json`.  A token bound to a tenant searches
 * that tenant's documents only (a tenant= filter added, another refused).
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
	yajl_val	 v;
	const char	*state;
	char		 which[16];
	int		 pct;

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
		buf_addstr(&out, "{\"ok\": true}\n");
	else {
		buf_addstr(&out, "{\"ok\": false, \"why\": ");
		show_json_str(&out, why);
		buf_addstr(&out, "}\n");
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", "10");
	}
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

/* The filters of a search: filter=K=V, repeated; a tenant's forced. */
static int
http_search_filters(struct http_req *hr, struct search_opts *so,
    char *tenant, size_t len)
{
	struct evkeyval	*kv;

	TAILQ_FOREACH(kv, &hr->hr_query, next) {
		if (strcmp(kv->key, "facet") == 0) {
			if (so->so_nfacets == SEARCH_FACETS_MAX) {
				http_error(hr, 400, "bad_parameter", "facet: "
				    "at most %d", SEARCH_FACETS_MAX);
				return (-1);
			}
			so->so_facets[so->so_nfacets++] = kv->value;
			continue;
		}
		if (strcmp(kv->key, "filter") != 0)
			continue;
		if (strchr(kv->value, '=') == NULL ||
		    so->so_nfilters == SEARCH_FILTERS_MAX) {
			http_error(hr, 400, "bad_parameter", "filter=%s: K=V, "
			    "at most %d", kv->value, SEARCH_FILTERS_MAX);
			return (-1);
		}
		if (hr->hr_tenant != NULL &&
		    strncmp(kv->value, "tenant=", 7) == 0 &&
		    strcmp(kv->value + 7, hr->hr_tenant) != 0) {
			http_error(hr, 403, "forbidden", "this token searches "
			    "its own tenant only");
			return (-1);
		}
		so->so_filters[so->so_nfilters++] = kv->value;
	}
	if (hr->hr_tenant != NULL) {
		if (so->so_nfilters == SEARCH_FILTERS_MAX) {
			http_error(hr, 400, "bad_parameter", "too many filters");
			return (-1);
		}
		snprintf(tenant, len, "tenant=%s", hr->hr_tenant);
		so->so_filters[so->so_nfilters++] = tenant;
	}
	return (0);
}

/* The options of a search from the query string; -1 after a 400. */
static int
http_search_opts(struct http_req *hr, struct search_opts *so,
    char *tenant, size_t len)
{
	const struct quire_conf	*c = &hr->hr_hd->hd_ch.ch_conf;
	const char		*exact, *chunks, *typos;
	long long		 n, off, fn;

	search_opts_defaults(so);
	search_opts_conf(so, c);
	so->so_budget_ms = CTL_SEARCH_BUDGET_MS;
	if (http_query_num(hr, "n", 1, CTL_SEARCH_N_MAX, 10, &n) == -1 ||
	    http_query_num(hr, "offset", 0, CTL_SEARCH_OFFSET_MAX, 0,
	    &off) == -1 || http_query_num(hr, "facet_size", 1,
	    SEARCH_FACET_N_MAX, SEARCH_FACET_N, &fn) == -1)
		return (-1);
	so->so_n = n;
	so->so_offset = off;
	so->so_facet_n = fn;
	if ((exact = http_query(hr, "exact")) != NULL)
		so->so_exact = strcmp(exact, "0") != 0 &&
		    strcmp(exact, "false") != 0;
	if ((chunks = http_query(hr, "chunks")) != NULL)
		so->so_chunks = strcmp(chunks, "0") != 0 &&
		    strcmp(chunks, "false") != 0;
	if (so->so_typos && (typos = http_query(hr, "typos")) != NULL)
		so->so_typos = strcmp(typos, "0") != 0 &&
		    strcmp(typos, "false") != 0;
	return (http_search_filters(hr, so, tenant, len));
}

void
http_search(struct http_req *hr)
{
	const struct quire_conf	*c = &hr->hr_hd->hd_ch.ch_conf;
	struct search_opts	 so;
	struct search_result	 res;
	struct tokenizer	*tk;
	struct buf		 out;
	const char		*q;
	char			 tenant[JOB_TENANT_MAX + 16];

	if ((q = http_query(hr, "q")) == NULL || *q == '\0' ||
	    strlen(q) > CTL_SEARCH_QUERY_MAX) {
		http_error(hr, 400, "bad_query", "q: a query of 1 to %d bytes",
		    CTL_SEARCH_QUERY_MAX);
		return;
	}
	if (http_search_opts(hr, &so, tenant, sizeof(tenant)) == -1)
		return;
	/* One tokenizer for the child's life: its stem cache is 1 MB. */
	if ((tk = hr->hr_hd->hd_tk) == NULL &&
	    (tk = hr->hr_hd->hd_tk = tokenizer_new(c->c_language,
	    c->c_stopwords)) == NULL) {
		http_error(hr, 500, "no_stemmer", "language %s: no stemmer",
		    c->c_language);
		return;
	}
	if (search_run(&hr->hr_hd->hd_ix, tk, q, &so, &res) == -1)
		http_error(hr, res.sr_took_ms >= so.so_budget_ms ? 503 : 400,
		    "search_failed", "search: %s", res.sr_error);
	else {
		buf_init(&out);
		show_search(&out, &res, so.so_offset, 1);
		http_json(hr, 200, &out);
		buf_free(&out);
		search_result_free(&res);
	}
}
