/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's searches: GET /v1/search, GET /v1/search/stats, POST
 * /v1/search, and GET /v1/search?all=1 over several hosts.
 *
 * A search runs here, in the http child, with the bounds the admin
 * socket's searches have (CTL_SEARCH_*): the same engine and the same
 * JSON as `quirectl search --json`.  A token bound to a tenant searches
 * that tenant's documents only (a tenant= filter added, another refused),
 * whichever of the four it asks.
 *
 * /v1/search/stats gives what BM25 takes from this index for a query
 * (search_stats), and POST /v1/search takes a search as a JSON body of
 * at most HTTP_SEARCH_BODY_MAX bytes, with such figures summed over
 * several hosts ("stats") to score with, and "split" to have the hits
 * ranked by BM25 with the rescoring's bonus apart: the two rounds of a
 * search over all hosts (fanout.c), which all=1 runs, answering when
 * the last host has (hr_async).  A client that goes away meanwhile is
 * forgotten; the search ends in its own time, bounded by
 * search-peer-timeout.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <yajl/yajl_tree.h>

#include "quire.h"
#include "http.h"

#define HTTP_SEARCH_BODY_MAX	(256 * 1024)	/* POST /v1/search */

/* A search over all hosts, waiting for its answer. */
struct http_all {
	struct http_req		 ha_hr;		/* hr_query emptied */
	struct evhttp_connection *ha_evcon;
	int			 ha_gone;	/* the client left */
};

/* One filter, K=V; a token's tenant may not look at another. */
static int
http_search_filter(struct http_req *hr, struct search_opts *so,
    const char *f)
{
	if (strchr(f, '=') == NULL || so->so_nfilters == SEARCH_FILTERS_MAX) {
		http_error(hr, 400, "bad_parameter", "filter=%s: K=V, "
		    "at most %d", f, SEARCH_FILTERS_MAX);
		return (-1);
	}
	if (hr->hr_tenant != NULL && strncmp(f, "tenant=", 7) == 0 &&
	    strcmp(f + 7, hr->hr_tenant) != 0) {
		http_error(hr, 403, "forbidden", "this token searches "
		    "its own tenant only");
		return (-1);
	}
	so->so_filters[so->so_nfilters++] = f;
	return (0);
}

/* A token's tenant, as a filter of its own. */
static int
http_search_tenant(struct http_req *hr, struct search_opts *so,
    char *tenant, size_t len)
{
	if (hr->hr_tenant == NULL)
		return (0);
	if (so->so_nfilters == SEARCH_FILTERS_MAX) {
		http_error(hr, 400, "bad_parameter", "too many filters");
		return (-1);
	}
	snprintf(tenant, len, "tenant=%s", hr->hr_tenant);
	so->so_filters[so->so_nfilters++] = tenant;
	return (0);
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
		if (strcmp(kv->key, "filter") == 0 &&
		    http_search_filter(hr, so, kv->value) == -1)
			return (-1);
	}
	return (http_search_tenant(hr, so, tenant, len));
}

/* A boolean parameter: anything but "0" and "false" is true. */
static int
http_search_flag(struct http_req *hr, const char *key, int dflt)
{
	const char	*v;

	if ((v = http_query(hr, key)) == NULL)
		return (dflt);
	return (strcmp(v, "0") != 0 && strcmp(v, "false") != 0);
}

/* The options of a search from the query string; -1 after a 400. */
static int
http_search_opts(struct http_req *hr, struct search_opts *so,
    char *tenant, size_t len)
{
	const struct quire_conf	*c = &hr->hr_hd->hd_ch.ch_conf;
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
	so->so_exact = http_search_flag(hr, "exact", so->so_exact);
	so->so_chunks = http_search_flag(hr, "chunks", so->so_chunks);
	if (so->so_typos)
		so->so_typos = http_search_flag(hr, "typos", 1);
	return (http_search_filters(hr, so, tenant, len));
}

/* The query, q=; NULL after a 400. */
static const char *
http_search_q(struct http_req *hr, const char *q)
{
	if (q == NULL || *q == '\0' || strlen(q) > CTL_SEARCH_QUERY_MAX) {
		http_error(hr, 400, "bad_query", "q: a query of 1 to %d bytes",
		    CTL_SEARCH_QUERY_MAX);
		return (NULL);
	}
	return (q);
}

/* The child's tokenizer, made at its first search; NULL after a 500. */
static struct tokenizer *
http_search_tk(struct http_req *hr)
{
	const struct quire_conf	*c = &hr->hr_hd->hd_ch.ch_conf;

	/* One tokenizer for the child's life: its stem cache is 1 MB. */
	if (hr->hr_hd->hd_tk == NULL && (hr->hr_hd->hd_tk =
	    tokenizer_new(c->c_language, c->c_stopwords)) == NULL)
		http_error(hr, 500, "no_stemmer", "language %s: no stemmer",
		    c->c_language);
	return (hr->hr_hd->hd_tk);
}

/* Run the search and answer with its hits. */
static void
http_search_reply(struct http_req *hr, struct tokenizer *tk, const char *q,
    const struct search_opts *so)
{
	struct search_result	 res;
	struct buf		 out;

	if (search_run(&hr->hr_hd->hd_ix, tk, q, so, &res) == -1) {
		http_error(hr, res.sr_took_ms >= so->so_budget_ms ? 503 : 400,
		    "search_failed", "search: %s", res.sr_error);
		return;
	}
	buf_init(&out);
	show_search(&out, &res, so->so_offset, 1);
	http_json(hr, 200, &out);
	buf_free(&out);
	search_result_free(&res);
}

/* --- Over all hosts. */

static void
http_search_gone(struct evhttp_connection *evcon, void *arg)
{
	struct http_all	*ha = arg;

	ha->ha_gone = 1;
}

static void
http_search_all_done(struct fanout *fo, void *arg)
{
	struct http_all	*ha = arg;
	struct buf	 out;

	if (!ha->ha_gone) {
		evhttp_connection_set_closecb(ha->ha_evcon, NULL, NULL);
		buf_init(&out);
		fanout_show(fo, &out, 1);
		http_json(&ha->ha_hr, 200, &out);
		buf_free(&out);
	}
	fanout_free(fo);
	free(ha);
}

static void
http_search_all(struct http_req *hr, struct tokenizer *tk, const char *q,
    const struct search_opts *so)
{
	struct http_all	*ha;
	char		 err[256];

	ha = xcalloc(1, sizeof(*ha));
	ha->ha_hr = *hr;
	TAILQ_INIT(&ha->ha_hr.hr_query);
	ha->ha_hr.hr_tenant = NULL;	/* its filter is in so already */
	if (fanout_start(hr->hr_hd->hd_base, &hr->hr_hd->hd_ch.ch_conf,
	    &hr->hr_hd->hd_q, &hr->hr_hd->hd_ix, tk, q, so,
	    http_search_all_done, ha, err, sizeof(err)) == NULL) {
		free(ha);
		if (strncmp(err, FANOUT_REGISTRY,
		    strlen(FANOUT_REGISTRY)) == 0)
			http_error(hr, 503, "hosts_unavailable", "all=1: %s",
			    err);
		else
			http_error(hr, 400, "bad_parameter", "all=1: %s", err);
		return;
	}
	ha->ha_evcon = evhttp_request_get_connection(hr->hr_req);
	evhttp_connection_set_closecb(ha->ha_evcon, http_search_gone, ha);
	hr->hr_async = 1;
}

/* --- The routes. */

/* GET /v1/search; all=1 over every host. */
void
http_search(struct http_req *hr)
{
	struct search_opts	 so;
	struct tokenizer	*tk;
	const char		*q;
	char			 tenant[JOB_TENANT_MAX + 16];

	if ((q = http_search_q(hr, http_query(hr, "q"))) == NULL ||
	    http_search_opts(hr, &so, tenant, sizeof(tenant)) == -1 ||
	    (tk = http_search_tk(hr)) == NULL)
		return;
	if (http_search_flag(hr, "all", 0))
		http_search_all(hr, tk, q, &so);
	else
		http_search_reply(hr, tk, q, &so);
}

/* GET /v1/search/stats: what BM25 takes from this index for q. */
void
http_search_stats(struct http_req *hr)
{
	struct search_opts	 so;
	struct search_global	*g;
	struct tokenizer	*tk;
	struct buf		 out;
	const char		*q;
	char			 tenant[JOB_TENANT_MAX + 16], err[256];

	if ((q = http_search_q(hr, http_query(hr, "q"))) == NULL ||
	    http_search_opts(hr, &so, tenant, sizeof(tenant)) == -1 ||
	    (tk = http_search_tk(hr)) == NULL)
		return;
	so.so_typos = 0;
	g = xmalloc(sizeof(*g));
	if (search_stats(&hr->hr_hd->hd_ix, tk, q, &so, g, err,
	    sizeof(err)) == -1)
		http_error(hr, 400, "search_failed", "search: %s", err);
	else {
		buf_init(&out);
		show_search_stats(&out, g);
		buf_addc(&out, '\n');
		http_json(hr, 200, &out);
		buf_free(&out);
	}
	free(g);
}

/* A count of the body, between lo and hi; -1 after a 400. */
static int
http_search_num(struct http_req *hr, yajl_val v, const char *key,
    long long lo, long long hi, size_t *n)
{
	const char	*path[2] = { key, NULL };
	yajl_val	 x;

	if ((x = yajl_tree_get(v, path, yajl_t_any)) == NULL)
		return (0);
	if (!YAJL_IS_INTEGER(x) || YAJL_GET_INTEGER(x) < lo ||
	    YAJL_GET_INTEGER(x) > hi) {
		http_error(hr, 400, "bad_parameter", "%s: a number from %lld "
		    "to %lld", key, lo, hi);
		return (-1);
	}
	*n = YAJL_GET_INTEGER(x);
	return (0);
}

static int
http_search_bool(yajl_val v, const char *key, int dflt)
{
	const char	*path[2] = { key, NULL };
	yajl_val	 x;

	if ((x = yajl_tree_get(v, path, yajl_t_any)) == NULL)
		return (dflt);
	return (YAJL_IS_TRUE(x));
}

/* The body's options, filters and figures into so and g; -1 after a 400. */
static int
http_search_body(struct http_req *hr, yajl_val v, struct search_opts *so,
    struct search_global *g, char *tenant, size_t len)
{
	const char	*fpath[2] = { "filter", NULL };
	const char	*spath[2] = { "stats", NULL };
	yajl_val	 f, st;
	char		 err[256];
	size_t		 i;

	search_opts_defaults(so);
	search_opts_conf(so, &hr->hr_hd->hd_ch.ch_conf);
	so->so_budget_ms = CTL_SEARCH_BUDGET_MS;
	if (http_search_num(hr, v, "n", 1, CTL_SEARCH_N_MAX,
	    &so->so_n) == -1 || http_search_num(hr, v, "offset", 0,
	    CTL_SEARCH_OFFSET_MAX, &so->so_offset) == -1)
		return (-1);
	so->so_exact = http_search_bool(v, "exact", so->so_exact);
	so->so_chunks = http_search_bool(v, "chunks", so->so_chunks);
	so->so_split = http_search_bool(v, "split", 0);
	so->so_typos = so->so_typos && http_search_bool(v, "typos", 1);
	if ((f = yajl_tree_get(v, fpath, yajl_t_any)) != NULL) {
		if (!YAJL_IS_ARRAY(f)) {
			http_error(hr, 400, "bad_parameter", "filter: an "
			    "array of \"K=V\" strings");
			return (-1);
		}
		for (i = 0; i < YAJL_GET_ARRAY(f)->len; i++)
			if (!YAJL_IS_STRING(YAJL_GET_ARRAY(f)->values[i]) ||
			    http_search_filter(hr, so, YAJL_GET_STRING(
			    YAJL_GET_ARRAY(f)->values[i])) == -1) {
				if (hr->hr_code == 0)
					http_error(hr, 400, "bad_parameter",
					    "filter: strings");
				return (-1);
			}
	}
	if ((st = yajl_tree_get(v, spath, yajl_t_any)) != NULL) {
		if (fanout_stats_parse(st, g, err, sizeof(err)) == -1) {
			http_error(hr, 400, "bad_parameter", "%s", err);
			return (-1);
		}
		so->so_global = g;
		so->so_typos = 0;
	}
	return (http_search_tenant(hr, so, tenant, len));
}

/*
 * POST /v1/search: {"q": ..., "n": ..., "offset": ..., "filter": [...],
 * "exact": ..., "chunks": ..., "typos": ..., "split": ..., "stats":
 * {...}}, all but q optional.
 */
void
http_search_post(struct http_req *hr)
{
	const char		*qpath[2] = { "q", NULL };
	struct search_opts	 so;
	struct search_global	*g;
	struct tokenizer	*tk;
	struct evbuffer		*in;
	yajl_val		 v = NULL, qv;
	const char		*q;
	char			*body, err[256];
	char			 tenant[JOB_TENANT_MAX + 16];
	size_t			 len;

	in = evhttp_request_get_input_buffer(hr->hr_req);
	if ((len = evbuffer_get_length(in)) > HTTP_SEARCH_BODY_MAX) {
		http_error(hr, 413, "body_too_large", "a search of at most %d "
		    "bytes", HTTP_SEARCH_BODY_MAX);
		return;
	}
	body = xmalloc(len + 1);
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	g = xcalloc(1, sizeof(*g));
	if ((v = yajl_tree_parse(body, err, sizeof(err))) == NULL ||
	    !YAJL_IS_OBJECT(v))
		http_error(hr, 400, "bad_json", "a JSON object expected");
	else if ((qv = yajl_tree_get(v, qpath, yajl_t_string)) != NULL &&
	    (q = http_search_q(hr, YAJL_GET_STRING(qv))) != NULL &&
	    http_search_body(hr, v, &so, g, tenant, sizeof(tenant)) == 0 &&
	    (tk = http_search_tk(hr)) != NULL)
		http_search_reply(hr, tk, q, &so);
	else if (hr->hr_code == 0)
		(void)http_search_q(hr, NULL);
	if (v != NULL)
		yajl_tree_free(v);
	free(body);
	free(g);
}
