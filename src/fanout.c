/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * One search over several quire hosts, scored as one index of all their
 * documents would score it: `GET /v1/search?all=1` (http_search.c) and
 * `quirectl search --all` both run it here, on their event loop.
 *
 * The hosts are this one, searched in the process, and its peers, asked
 * over their HTTP API: fanout_peers gives them, the one place the list
 * comes from (at most FANOUT_PEERS_MAX).  On a queue on PostgreSQL they
 * are the hosts of its registry (quire_hosts, queue_pg_hosts) read at
 * the start of each search: a live host is asked at the HTTP address it
 * registered; a dead one (no beat for host-expiry) is missing from the
 * start, not asked, since its documents are in its index alone; a
 * stopped one is no host any more, nor is a drained one, which holds
 * no document (drain.c).  The search-peer lines of the
 * configuration are added, but for an address the registry gave.  A
 * registry that cannot be read fails the search (FANOUT_REGISTRY): which
 * hosts hold documents is then unknown.
 *
 * BM25 needs N, the mean length and each word's df over the whole
 * collection, so a search goes in two rounds, each to every host at
 * once, each over within search-peer-timeout (a timer; evhttp's
 * timeouts, for each silence, are the same):
 *
 *	statistics	GET /v1/search/stats: a host's chunks, tokens and
 *			the df of each of the query's term keys, summed
 *			here (search_global_add);
 *	search		POST /v1/search with the sums ("stats") and
 *			"split": each host's top K = max(offset + n,
 *			rank-window) by BM25 under the sums, each hit with
 *			the rescoring's bonus apart (search_rank.c).
 *
 * The hits are merged as one index ranks them, a chunk that two hosts
 * hold (while a drain moves it) once: by BM25, ties to the lesser id; the first rank-window get their bonus and all are sorted
 * again (a single index rescores its own first rank-window, which are
 * among the hosts' top K); then the page is cut.  A host's df of a
 * prefix sums its own expansions, so a prefix with more than
 * SEARCH_PREFIX_MAX expansions may weigh a little differently than on
 * one index.  Typo correction is off: a correction depends on a host's
 * dictionary, and hosts that corrected a word differently would score
 * different words.  Facets are refused.
 *
 * A host that does not answer a round in time, answers with an error
 * (a wrong token: 401) or with a body that does not parse is left out:
 * the answer says "partial": true and names it in "missing_hosts".  A
 * host missing from the first round is not asked the second, and its
 * figures are not in the sums; one missing from the second only has its
 * figures in the sums, its hits left out.  Bodies are bounded
 * (FANOUT_BODY_MAX) and parsed with yajl; offset + n is at most
 * FANOUT_K_MAX.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <yajl/yajl_tree.h>

#include "quire.h"

#define FANOUT_TOKEN_MAX	128	/* bytes of the peers' token */

enum fanout_phase {
	FANOUT_STATS,
	FANOUT_SEARCH,
	FANOUT_DONE
};

struct fanout_host {
	struct fanout_peer	 fh_peer;	/* fh_local: unused */
	int			 fh_local;
	int			 fh_missing;
	int			 fh_waiting;	/* for its answer, this round */
	struct evhttp_connection *fh_conn;	/* of the request in flight */
	char			 fh_why[128];	/* why it is missing */
	uint64_t		 fh_start;	/* us, the round's request */
	uint64_t		 fh_took;	/* us, both rounds */
	int			 fh_err;	/* evhttp_request_error + 1 */
	struct search_global	*fh_stats;
	struct search_hit	*fh_hits;
	size_t			 fh_nhits;
	uint64_t		 fh_total;
	int			 fh_exact;
	size_t			 fh_shown;	/* its hits on the page */
	struct fanout		*fh_fo;
};

struct fanout {
	struct event_base	*fo_base;
	struct index		*fo_ix;
	struct tokenizer	*fo_tk;
	char			*fo_query;
	struct search_opts	 fo_so;
	char			*fo_filters[SEARCH_FILTERS_MAX];
	size_t			 fo_k;		/* each host's top */
	size_t			 fo_window;
	uint64_t		 fo_timeout_ms;
	char			 fo_token[FANOUT_TOKEN_MAX + 1];
	struct fanout_host	*fo_hosts;
	size_t			 fo_nhosts;
	size_t			 fo_pending;	/* answers awaited this round */
	size_t			 fo_flying;	/* requests not called back */
	struct event		*fo_timer;	/* the round's end */
	int			 fo_freed;	/* once fo_flying is 0 */
	enum fanout_phase	 fo_phase;
	struct search_global	 fo_sum;
	struct search_result	 fo_res;	/* the page */
	uint64_t		 fo_start;	/* us */
	fanout_done_fn		 fo_done;
	void			*fo_arg;
};

static void	 fanout_round(struct fanout *);
static void	 fanout_launch(struct fanout *);
static void	 fanout_release(struct fanout *);

/* "HOST:PORT" or "[v6]:PORT" into fp (name and address both w). */
static int
fanout_addr(const char *w, struct fanout_peer *fp)
{
	const char	*colon, *errstr;
	size_t		 hl;

	memset(fp, 0, sizeof(*fp));
	if ((colon = strrchr(w, ':')) == NULL || colon == w)
		return (-1);
	fp->fp_port = strtonum(colon + 1, 1, 65535, &errstr);
	if (errstr != NULL)
		return (-1);
	hl = colon - w;
	if (w[0] == '[') {
		if (hl < 3 || w[hl - 1] != ']')
			return (-1);
		memcpy(fp->fp_host, w + 1, hl - 2);
		fp->fp_host[hl - 2] = '\0';
	} else {
		if (hl >= sizeof(fp->fp_host) || memchr(w, ':', hl) != NULL)
			return (-1);
		memcpy(fp->fp_host, w, hl);
		fp->fp_host[hl] = '\0';
	}
	if (strlcpy(fp->fp_addr, w, sizeof(fp->fp_addr)) >=
	    sizeof(fp->fp_addr))
		return (-1);
	strlcpy(fp->fp_name, w, sizeof(fp->fp_name));
	return (0);
}

struct fanout_reg {
	struct fanout_peer	*fr_fp;
	size_t			 fr_n;
	size_t			 fr_max;
	uint64_t		 fr_expiry;
	int			 fr_full;
};

/*
 * One host of the registry: a live one by its HTTP address, a dead one
 * (or one without an address) missing with why; neither this host nor
 * a stopped one.
 */
static int
fanout_reg_cb(const struct queue_host *h, void *arg)
{
	struct fanout_reg	*fr = arg;
	struct fanout_peer	*fp;
	const char		*state = queue_host_state(h, fr->fr_expiry);

	/* A drained host holds nothing (drain.c), dead or alive. */
	if (h->qh_self || strcmp(state, "stopped") == 0 || h->qh_drained != 0)
		return (0);
	if (fr->fr_n == fr->fr_max) {
		fr->fr_full = 1;
		return (1);
	}
	fp = &fr->fr_fp[fr->fr_n++];
	if (fanout_addr(h->qh_http, fp) == -1) {
		memset(fp, 0, sizeof(*fp));
		snprintf(fp->fp_why, sizeof(fp->fp_why), "no HTTP address "
		    "in the hosts' registry");
	}
	strlcpy(fp->fp_name, h->qh_name, sizeof(fp->fp_name));
	if (strcmp(state, "dead") == 0)
		snprintf(fp->fp_why, sizeof(fp->fp_why), "dead: no beat for "
		    "%llu.%llu s (host-expiry %llu ms)",
		    (unsigned long long)(h->qh_age / 1000),
		    (unsigned long long)(h->qh_age % 1000 / 100),
		    (unsigned long long)fr->fr_expiry);
	return (0);
}

/*
 * The hosts a search over all asks besides this one, the one place the
 * list comes from: with q on PostgreSQL, the other hosts of the hosts'
 * registry (queue_pg_hosts) that are not stopped, a dead one with
 * fp_why set, not to be asked; then the search-peer lines, HOST:PORT
 * each ([v6]:PORT for an IPv6 address), but for an address the
 * registry gave already.  At most max in all.  The number of hosts, or
 * (size_t)-1 with err set; an error reading the registry begins with
 * FANOUT_REGISTRY.
 */
size_t
fanout_peers(const struct quire_conf *c, struct queue *q,
    struct fanout_peer *fp, size_t max, char *err, size_t errlen)
{
	struct fanout_reg	 fr;
	char			 list[CONF_STR_MAX], *p, *w;
	size_t			 n = 0, i;
	int			 rc;

	if (q != NULL && q->q_conf.qc_backend == QUEUE_BACKEND_PG) {
		memset(&fr, 0, sizeof(fr));
		fr.fr_fp = fp;
		fr.fr_max = max;
		fr.fr_expiry = c->c_host_expiry_ms;
		if ((rc = queue_pg_hosts(q, fanout_reg_cb, &fr)) != 0 &&
		    !fr.fr_full) {
			snprintf(err, errlen, "%s: %s", FANOUT_REGISTRY,
			    queue_strerror(rc));
			return ((size_t)-1);
		}
		if (fr.fr_full)
			goto full;
		n = fr.fr_n;
	}
	strlcpy(list, c->c_search_peers, sizeof(list));
	p = list;
	while ((w = strsep(&p, " \t")) != NULL) {
		if (*w == '\0')
			continue;
		if (n == max)
			goto full;
		if (fanout_addr(w, &fp[n]) == -1) {
			snprintf(err, errlen, "search-peer %s: not HOST:PORT",
			    w);
			return ((size_t)-1);
		}
		for (i = 0; i < n; i++)
			if (strcmp(fp[i].fp_addr, fp[n].fp_addr) == 0)
				break;
		if (i == n)
			n++;
	}
	return (n);
 full:
	snprintf(err, errlen, "at most %zu hosts to search besides this one",
	    max);
	return ((size_t)-1);
}

/* The token of search-peer-token-file: its first line. */
static int
fanout_token(const struct quire_conf *c, char *tok, size_t len, char *err,
    size_t errlen)
{
	ssize_t	 r;
	int	 fd;

	tok[0] = '\0';
	if (c->c_search_peer_token[0] == '\0')
		return (0);
	if ((fd = open(c->c_search_peer_token, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "search-peer-token-file %s: %s",
		    c->c_search_peer_token, strerror(errno));
		return (-1);
	}
	r = read(fd, tok, len - 1);
	close(fd);
	if (r <= 0) {
		snprintf(err, errlen, "search-peer-token-file %s: %s",
		    c->c_search_peer_token, r == 0 ? "empty" :
		    strerror(errno));
		return (-1);
	}
	tok[r] = '\0';
	tok[strcspn(tok, " \t\r\n")] = '\0';
	if (tok[0] == '\0') {
		snprintf(err, errlen, "search-peer-token-file %s: no token",
		    c->c_search_peer_token);
		return (-1);
	}
	return (0);
}

/* --- Reading the answers. */

static yajl_val
fanout_get(yajl_val v, const char *key, yajl_type t)
{
	const char	*path[2] = { key, NULL };

	return (yajl_tree_get(v, path, t));
}

/* A count: a non-negative integer member. */
static int
fanout_count(yajl_val v, const char *key, uint64_t *n)
{
	yajl_val	 x;

	if ((x = fanout_get(v, key, yajl_t_number)) == NULL ||
	    !YAJL_IS_INTEGER(x) || YAJL_GET_INTEGER(x) < 0)
		return (-1);
	*n = YAJL_GET_INTEGER(x);
	return (0);
}

static int
fanout_hex(const char *s, char *out, size_t *len)
{
	size_t		 i, n = strlen(s);
	unsigned int	 x;

	if (n == 0 || n % 2 != 0 || n / 2 > IX_TERM_MAX)
		return (-1);
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &x) != 1 ||
		    strchr("0123456789abcdefABCDEF", s[2 * i]) == NULL ||
		    strchr("0123456789abcdefABCDEF", s[2 * i + 1]) == NULL)
			return (-1);
		out[i] = x;
	}
	*len = n / 2;
	return (0);
}

/*
 * {"chunks": N, "live": L, "tokens": T, "terms": [{"key": HEX, "df":
 * n}, ...]} into g ("live" may be left out: N).  0, or -1 with err set.
 */
int
fanout_stats_parse(yajl_val v, struct search_global *g, char *err,
    size_t errlen)
{
	yajl_val	 terms, t, key;
	size_t		 i;

	memset(g, 0, sizeof(*g));
	if (!YAJL_IS_OBJECT(v) || fanout_count(v, "chunks", &g->sg_chunks) ||
	    fanout_count(v, "tokens", &g->sg_tokens) ||
	    (terms = fanout_get(v, "terms", yajl_t_array)) == NULL)
		goto bad;
	if (fanout_count(v, "live", &g->sg_live) == -1)
		g->sg_live = g->sg_chunks;
	if (YAJL_GET_ARRAY(terms)->len > SEARCH_GLOBAL_TERMS) {
		snprintf(err, errlen, "stats: at most %d terms",
		    SEARCH_GLOBAL_TERMS);
		return (-1);
	}
	for (i = 0; i < YAJL_GET_ARRAY(terms)->len; i++) {
		t = YAJL_GET_ARRAY(terms)->values[i];
		if ((key = fanout_get(t, "key", yajl_t_string)) == NULL ||
		    fanout_hex(YAJL_GET_STRING(key), g->sg_terms[i].gt_key,
		    &g->sg_terms[i].gt_len) == -1 ||
		    fanout_count(t, "df", &g->sg_terms[i].gt_df) == -1)
			goto bad;
		g->sg_nterms++;
	}
	return (0);
 bad:
	snprintf(err, errlen, "stats: {\"chunks\": N, \"tokens\": T, "
	    "\"terms\": [{\"key\": HEX, \"df\": N}, ...]} expected");
	return (-1);
}

static void
fanout_str(yajl_val v, const char *key, char *dst, size_t len)
{
	yajl_val	 s;

	if ((s = fanout_get(v, key, yajl_t_string)) != NULL)
		strlcpy(dst, YAJL_GET_STRING(s), len);
}

/* The snippet with its matches between "**", as the engine marks it. */
static void
fanout_snippet(struct search_hit *h)
{
	struct buf	 b;
	size_t		 i, at = 0, len = strlen(h->sh_text);

	buf_init(&b);
	for (i = 0; i < h->sh_nhl; i++) {
		if (h->sh_hl_off[i] < at ||
		    (size_t)h->sh_hl_off[i] + h->sh_hl_len[i] > len)
			break;
		buf_add(&b, h->sh_text + at, h->sh_hl_off[i] - at);
		buf_addstr(&b, "**");
		buf_add(&b, h->sh_text + h->sh_hl_off[i], h->sh_hl_len[i]);
		buf_addstr(&b, "**");
		at = h->sh_hl_off[i] + h->sh_hl_len[i];
	}
	buf_add(&b, h->sh_text + at, len - at);
	strlcpy(h->sh_snippet, buf_cstr(&b), sizeof(h->sh_snippet));
	buf_free(&b);
}

/* One hit of a peer's answer; -1 if it is not one. */
static int
fanout_hit(yajl_val v, struct search_hit *h)
{
	yajl_val	 x, hl, pair, o, l;
	uint64_t	 n;
	size_t		 i;

	memset(h, 0, sizeof(*h));
	if ((x = fanout_get(v, "id", yajl_t_string)) == NULL ||
	    strlcpy(h->sh_extid, YAJL_GET_STRING(x), sizeof(h->sh_extid)) >=
	    sizeof(h->sh_extid) || fanout_count(v, "chunk", &n) == -1 ||
	    n > UINT32_MAX)
		return (-1);
	h->sh_chunk = n;
	if ((x = fanout_get(v, "score_full", yajl_t_number)) == NULL)
		return (-1);
	h->sh_score = YAJL_GET_DOUBLE(x);
	if ((x = fanout_get(v, "bonus", yajl_t_number)) != NULL)
		h->sh_bonus = YAJL_GET_DOUBLE(x);
	if (fanout_count(v, "matches", &n) == 0 && n <= UINT32_MAX)
		h->sh_matches = n;
	fanout_str(v, "title", h->sh_title, sizeof(h->sh_title));
	fanout_str(v, "heading", h->sh_heading, sizeof(h->sh_heading));
	fanout_str(v, "snippet", h->sh_text, sizeof(h->sh_text));
	if ((hl = fanout_get(v, "highlights", yajl_t_array)) != NULL)
		for (i = 0; i < YAJL_GET_ARRAY(hl)->len &&
		    h->sh_nhl < SEARCH_HL_MAX; i++) {
			pair = YAJL_GET_ARRAY(hl)->values[i];
			if (!YAJL_IS_ARRAY(pair) ||
			    YAJL_GET_ARRAY(pair)->len != 2)
				return (-1);
			o = YAJL_GET_ARRAY(pair)->values[0];
			l = YAJL_GET_ARRAY(pair)->values[1];
			if (!YAJL_IS_INTEGER(o) || !YAJL_IS_INTEGER(l))
				return (-1);
			/* Past a snippet cut short here: not shown. */
			if (YAJL_GET_INTEGER(o) < 0 ||
			    YAJL_GET_INTEGER(l) < 0 ||
			    YAJL_GET_INTEGER(o) + YAJL_GET_INTEGER(l) >
			    (long long)strlen(h->sh_text))
				break;
			h->sh_hl_off[h->sh_nhl] = YAJL_GET_INTEGER(o);
			h->sh_hl_len[h->sh_nhl++] = YAJL_GET_INTEGER(l);
		}
	fanout_snippet(h);
	return (0);
}

/* A peer's hits, at most fo_k of them; -1 if the answer is not one. */
static int
fanout_hits(struct fanout_host *fh, yajl_val v)
{
	yajl_val	 hits, x;
	size_t		 i, n;

	if ((hits = fanout_get(v, "hits", yajl_t_array)) == NULL ||
	    fanout_count(v, "total", &fh->fh_total) == -1)
		return (-1);
	x = fanout_get(v, "total_exact", yajl_t_any);
	fh->fh_exact = x != NULL && YAJL_IS_TRUE(x);
	n = YAJL_GET_ARRAY(hits)->len;
	if (n > fh->fh_fo->fo_k)
		n = fh->fh_fo->fo_k;
	fh->fh_hits = n > 0 ? xcalloc(n, sizeof(*fh->fh_hits)) : NULL;
	for (i = 0; i < n; i++)
		if (fanout_hit(YAJL_GET_ARRAY(hits)->values[i],
		    &fh->fh_hits[i]) == -1)
			return (-1);
	fh->fh_nhits = n;
	return (0);
}

/* --- The requests. */

static void
fanout_missing(struct fanout_host *fh, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
fanout_missing(struct fanout_host *fh, const char *fmt, ...)
{
	va_list	 ap;

	fh->fh_missing = 1;
	va_start(ap, fmt);
	vsnprintf(fh->fh_why, sizeof(fh->fh_why), fmt, ap);
	va_end(ap);
	log_warnx("fanout: search peer %s: %s", fh->fh_peer.fp_name,
	    fh->fh_why);
}

/* Why a request failed, for the answer. */
static void
fanout_error(enum evhttp_request_error e, void *arg)
{
	struct fanout_host	*fh = arg;

	fh->fh_err = (int)e + 1;
}

static const char *
fanout_why(const struct fanout_host *fh)
{
	switch (fh->fh_err - 1) {
	case EVREQ_HTTP_TIMEOUT:
		return ("no answer in time");
	case EVREQ_HTTP_EOF:
		return ("connection closed");
	case EVREQ_HTTP_DATA_TOO_LONG:
		return ("an answer too large");
	case EVREQ_HTTP_INVALID_HEADER:
		return ("a malformed answer");
	default:
		return ("cannot connect");
	}
}

/* A peer's answer to either round. */
static void
fanout_reply(struct evhttp_request *req, void *arg)
{
	struct fanout_host	*fh = arg;
	struct fanout		*fo = fh->fh_fo;
	struct evbuffer		*in;
	yajl_val		 v = NULL;
	char			*body = NULL, err[128];
	size_t			 len;
	int			 code;

	fo->fo_flying--;
	fh->fh_conn = NULL;	/* evhttp frees it after this call */
	if (!fh->fh_waiting) {
		/* Given up on when its round ended. */
		if (fo->fo_freed && fo->fo_flying == 0)
			fanout_release(fo);
		return;
	}
	fh->fh_waiting = 0;
	fh->fh_took += util_mono_us() - fh->fh_start;
	code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (code != 200) {
		if (code == 0)
			fanout_missing(fh, "%s (timeout %llu ms)",
			    fanout_why(fh),
			    (unsigned long long)fo->fo_timeout_ms);
		else
			fanout_missing(fh, "HTTP %d", code);
		goto done;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	body = xmalloc(len + 1);
	evbuffer_remove(in, body, len);
	body[len] = '\0';
	if ((v = yajl_tree_parse(body, NULL, 0)) == NULL) {
		fanout_missing(fh, "an answer that is not JSON");
		goto done;
	}
	if (fo->fo_phase == FANOUT_STATS) {
		fh->fh_stats = xcalloc(1, sizeof(*fh->fh_stats));
		if (fanout_stats_parse(v, fh->fh_stats, err,
		    sizeof(err)) == -1)
			fanout_missing(fh, "%s", err);
	} else if (fanout_hits(fh, v) == -1)
		fanout_missing(fh, "an answer without hits");
 done:
	if (v != NULL)
		yajl_tree_free(v);
	free(body);
	if (--fo->fo_pending == 0)
		fanout_round(fo);
}

/* q and each filter of the search, as a query string. */
static void
fanout_query_string(struct fanout *fo, struct buf *b)
{
	char	*e;
	size_t	 i;

	if ((e = evhttp_uriencode(fo->fo_query, -1, 0)) == NULL)
		fatalx("%s: evhttp_uriencode", __func__);
	buf_printf(b, "q=%s", e);
	free(e);
	for (i = 0; i < fo->fo_so.so_nfilters; i++) {
		if ((e = evhttp_uriencode(fo->fo_so.so_filters[i], -1, 0)) ==
		    NULL)
			fatalx("%s: evhttp_uriencode", __func__);
		buf_printf(b, "&filter=%s", e);
		free(e);
	}
}

/* The second round's body: the query, the sums, the top asked for. */
static void
fanout_search_body(struct fanout *fo, struct buf *b)
{
	size_t	 i;

	buf_addstr(b, "{\"q\": ");
	show_json_str(b, fo->fo_query);
	buf_printf(b, ", \"n\": %zu, \"offset\": 0, \"exact\": %s, "
	    "\"chunks\": %s, \"split\": true, \"filter\": [", fo->fo_k,
	    fo->fo_so.so_exact ? "true" : "false",
	    fo->fo_so.so_chunks ? "true" : "false");
	for (i = 0; i < fo->fo_so.so_nfilters; i++) {
		buf_addstr(b, i ? ", " : "");
		show_json_str(b, fo->fo_so.so_filters[i]);
	}
	buf_addstr(b, "], \"stats\": ");
	show_search_stats(b, &fo->fo_sum);
	buf_addstr(b, "}");
}

/* Ask one peer this round's question. */
static void
fanout_ask(struct fanout *fo, struct fanout_host *fh)
{
	struct evhttp_connection *evcon;
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	struct timeval		 tv;
	struct buf		 b;
	char			 auth[FANOUT_TOKEN_MAX + 16];
	int			 post = fo->fo_phase == FANOUT_SEARCH;

	fh->fh_start = util_mono_us();
	evcon = evhttp_connection_base_new(fo->fo_base, NULL,
	    fh->fh_peer.fp_host, fh->fh_peer.fp_port);
	if (evcon == NULL || (req = evhttp_request_new(fanout_reply,
	    fh)) == NULL) {
		if (evcon != NULL)
			evhttp_connection_free(evcon);
		fanout_missing(fh, "cannot make a request");
		return;
	}
	evhttp_request_set_error_cb(req, fanout_error);
	tv.tv_sec = fo->fo_timeout_ms / 1000;
	tv.tv_usec = (fo->fo_timeout_ms % 1000) * 1000;
	evhttp_connection_set_timeout_tv(evcon, &tv);
	evhttp_connection_set_retries(evcon, 0);
	evhttp_connection_set_max_body_size(evcon, FANOUT_BODY_MAX);
	evhttp_connection_free_on_completion(evcon);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", fh->fh_peer.fp_addr);
	evhttp_add_header(h, "Connection", "close");
	if (fo->fo_token[0] != '\0') {
		snprintf(auth, sizeof(auth), "Bearer %s", fo->fo_token);
		evhttp_add_header(h, "Authorization", auth);
	}
	buf_init(&b);
	if (post) {
		evhttp_add_header(h, "Content-Type", "application/json");
		fanout_search_body(fo, &b);
		evbuffer_add(evhttp_request_get_output_buffer(req), b.b_data,
		    b.b_len);
		buf_free(&b);
		buf_addstr(&b, "/v1/search");
	} else {
		buf_addstr(&b, "/v1/search/stats?");
		fanout_query_string(fo, &b);
	}
	/* On failure, evhttp has freed the request, not the connection. */
	if (evhttp_make_request(evcon, req, post ? EVHTTP_REQ_POST :
	    EVHTTP_REQ_GET, buf_cstr(&b)) == -1) {
		evhttp_connection_free(evcon);
		fanout_missing(fh, "cannot send a request");
	} else {
		fh->fh_waiting = 1;
		fh->fh_conn = evcon;
		fo->fo_pending++;
		fo->fo_flying++;
	}
	buf_free(&b);
}

/* --- The rounds. */

/* This host's figures, or its top under the sums. */
static void
fanout_local(struct fanout *fo, struct fanout_host *fh)
{
	struct search_opts	 so = fo->fo_so;
	struct search_result	 res;
	char			 err[256];

	fh->fh_start = util_mono_us();
	if (fo->fo_phase == FANOUT_STATS) {
		fh->fh_stats = xcalloc(1, sizeof(*fh->fh_stats));
		if (search_stats(fo->fo_ix, fo->fo_tk, fo->fo_query, &so,
		    fh->fh_stats, err, sizeof(err)) == -1)
			fanout_missing(fh, "%s", err);
	} else {
		so.so_global = &fo->fo_sum;
		so.so_split = 1;
		so.so_offset = 0;
		so.so_n = fo->fo_k;
		if (search_run(fo->fo_ix, fo->fo_tk, fo->fo_query, &so,
		    &res) == -1)
			fanout_missing(fh, "%s", res.sr_error);
		else {
			fh->fh_hits = res.sr_hits;
			fh->fh_nhits = res.sr_n;
			fh->fh_total = res.sr_total;
			fh->fh_exact = res.sr_exact;
		}
	}
	fh->fh_took += util_mono_us() - fh->fh_start;
}

/* A hit of the merge, and its host. */
struct fanout_ent {
	struct search_hit	*fe_hit;
	struct fanout_host	*fe_host;
	double			 fe_score;
};

/* Hits as one index ranks them: by score, ties to the lesser id. */
static int
fanout_cmp(const void *a, const void *b)
{
	const struct fanout_ent	*x = a, *y = b;
	int			 c;

	if (x->fe_score != y->fe_score)
		return (x->fe_score > y->fe_score ? -1 : 1);
	if ((c = strcmp(x->fe_hit->sh_extid, y->fe_hit->sh_extid)) != 0)
		return (c);
	return (x->fe_hit->sh_chunk < y->fe_hit->sh_chunk ? -1 :
	    x->fe_hit->sh_chunk > y->fe_hit->sh_chunk);
}

/* By chunk (id, then chunk number), the higher score first. */
static int
fanout_chunk_cmp(const void *a, const void *b)
{
	const struct fanout_ent	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->fe_hit->sh_extid, y->fe_hit->sh_extid)) != 0)
		return (c);
	if (x->fe_hit->sh_chunk != y->fe_hit->sh_chunk)
		return (x->fe_hit->sh_chunk < y->fe_hit->sh_chunk ? -1 : 1);
	if (x->fe_score != y->fe_score)
		return (x->fe_score > y->fe_score ? -1 : 1);
	return (0);
}

/*
 * A chunk that two hosts both hold (a document that a drain moves is in
 * its old host's index until its new home has acked it) is one hit, the
 * better scored copy (they score the same under the summed figures).
 * Sorted by chunk, the copies sit side by side.  The new count.
 */
static size_t
fanout_unique(struct fanout_ent *all, size_t n)
{
	size_t	 i, k = 0;

	qsort(all, n, sizeof(*all), fanout_chunk_cmp);
	for (i = 0; i < n; i++) {
		if (k > 0 && all[i].fe_hit->sh_chunk ==
		    all[k - 1].fe_hit->sh_chunk && strcmp(all[i].fe_hit->sh_extid,
		    all[k - 1].fe_hit->sh_extid) == 0)
			continue;
		all[k++] = all[i];
	}
	return (k);
}

/*
 * Merge the hosts' tops: by BM25, the first rank-window with their
 * bonus, sorted again, the page cut.
 */
static void
fanout_merge(struct fanout *fo)
{
	struct search_result	*res = &fo->fo_res;
	struct fanout_host	*fh;
	struct fanout_ent	*all;
	struct search_hit	*h;
	size_t			 i, j, n = 0, k, end, off = fo->fo_so.so_offset;

	res->sr_exact = 1;
	for (i = 0; i < fo->fo_nhosts; i++)
		if (!fo->fo_hosts[i].fh_missing)
			n += fo->fo_hosts[i].fh_nhits;
	all = xcalloc(n + 1, sizeof(*all));
	for (i = 0, n = 0; i < fo->fo_nhosts; i++) {
		fh = &fo->fo_hosts[i];
		if (fh->fh_missing)
			continue;
		res->sr_total += fh->fh_total;
		res->sr_exact &= fh->fh_exact;
		for (j = 0; j < fh->fh_nhits; j++, n++) {
			all[n].fe_hit = &fh->fh_hits[j];
			all[n].fe_host = fh;
			all[n].fe_score = fh->fh_hits[j].sh_score;
		}
	}
	n = fanout_unique(all, n);
	qsort(all, n, sizeof(*all), fanout_cmp);
	k = n < fo->fo_k ? n : fo->fo_k;
	for (i = 0; i < k && i < fo->fo_window; i++)
		all[i].fe_score += all[i].fe_hit->sh_bonus;
	qsort(all, k, sizeof(*all), fanout_cmp);
	end = off + fo->fo_so.so_n < k ? off + fo->fo_so.so_n : k;
	if (end > off) {
		res->sr_hits = xcalloc(end - off, sizeof(*res->sr_hits));
		for (i = off; i < end; i++) {
			h = &res->sr_hits[res->sr_n++];
			*h = *all[i].fe_hit;
			h->sh_score = all[i].fe_score;
			h->sh_bonus = 0.0;
			all[i].fe_host->fh_shown++;
		}
	}
	free(all);
}

/* Sum the figures of the hosts that gave theirs. */
static void
fanout_sum(struct fanout *fo)
{
	struct fanout_host	*fh;
	size_t			 i;

	for (i = 0; i < fo->fo_nhosts; i++) {
		fh = &fo->fo_hosts[i];
		if (!fh->fh_missing && search_global_add(&fo->fo_sum,
		    fh->fh_stats) == -1)
			fanout_missing(fh, "more terms than %d",
			    SEARCH_GLOBAL_TERMS);
	}
}

/*
 * Ask every host that is not missing this round's question: this host
 * at once, the peers by their requests (fanout_reply calls back).
 */
static void
fanout_launch(struct fanout *fo)
{
	struct timeval	 tv;
	size_t		 i;

	fo->fo_pending++;	/* none of the replies ends the round yet */
	for (i = 0; i < fo->fo_nhosts; i++)
		if (!fo->fo_hosts[i].fh_missing && !fo->fo_hosts[i].fh_local)
			fanout_ask(fo, &fo->fo_hosts[i]);
	tv.tv_sec = fo->fo_timeout_ms / 1000;
	tv.tv_usec = (fo->fo_timeout_ms % 1000) * 1000;
	evtimer_add(fo->fo_timer, &tv);
	for (i = 0; i < fo->fo_nhosts; i++)
		if (!fo->fo_hosts[i].fh_missing && fo->fo_hosts[i].fh_local)
			fanout_local(fo, &fo->fo_hosts[i]);
	if (--fo->fo_pending == 0)
		fanout_round(fo);
}

/*
 * The round's time is up: the peers that have not answered are missing
 * (a peer that trickles its answer outlasts evhttp's timeouts, which are
 * for each silence); their late answers are dropped.
 */
static void
fanout_late(evutil_socket_t fd, short ev, void *arg)
{
	struct fanout		*fo = arg;
	struct fanout_host	*fh;
	size_t			 i;

	for (i = 0; i < fo->fo_nhosts; i++) {
		fh = &fo->fo_hosts[i];
		if (!fh->fh_waiting)
			continue;
		fh->fh_waiting = 0;
		fh->fh_took += util_mono_us() - fh->fh_start;
		fanout_missing(fh, "no answer in time (timeout %llu ms)",
		    (unsigned long long)fo->fo_timeout_ms);
		fo->fo_pending--;
		/*
		 * Given up on: its connection goes now, with the request
		 * (evhttp calls no callback of a request it frees so), so
		 * that nothing lingers after the answer.
		 */
		if (fh->fh_conn != NULL) {
			evhttp_connection_free(fh->fh_conn);
			fh->fh_conn = NULL;
			fo->fo_flying--;
		}
	}
	if (fo->fo_pending == 0)
		fanout_round(fo);
}

/* A round is over: the next one, or the answer. */
static void
fanout_round(struct fanout *fo)
{
	evtimer_del(fo->fo_timer);
	if (fo->fo_phase == FANOUT_STATS) {
		fanout_sum(fo);
		fo->fo_phase = FANOUT_SEARCH;
		fanout_launch(fo);
		return;
	}
	fanout_merge(fo);
	fo->fo_phase = FANOUT_DONE;
	fo->fo_res.sr_took_ms = (util_mono_us() - fo->fo_start) / 1e3;
	fo->fo_done(fo, fo->fo_arg);
}

static void
fanout_first(evutil_socket_t fd, short ev, void *arg)
{
	fanout_launch(arg);
}

/*
 * Start a search over this host (ix, tk) and its peers on base (q, when
 * not NULL, the queue whose hosts' registry names them); done
 * is called with the fanout when the answer is ready, and may show it
 * (fanout_show) and free it.  NULL with err set if it cannot start.
 */
struct fanout *
fanout_start(struct event_base *base, const struct quire_conf *c,
    struct queue *q, struct index *ix, struct tokenizer *tk, const char *query,
    const struct search_opts *so, fanout_done_fn done, void *arg,
    char *err, size_t errlen)
{
	struct fanout		*fo;
	struct fanout_peer	*fp;
	size_t			 i, n;

	if (so->so_nfacets > 0) {
		snprintf(err, errlen, "facets are not counted over all hosts");
		return (NULL);
	}
	if (so->so_offset + so->so_n > FANOUT_K_MAX) {
		snprintf(err, errlen, "offset + n: at most %d over all hosts",
		    FANOUT_K_MAX);
		return (NULL);
	}
	fp = xcalloc(FANOUT_PEERS_MAX, sizeof(*fp));
	if ((n = fanout_peers(c, q, fp, FANOUT_PEERS_MAX, err, errlen)) ==
	    (size_t)-1) {
		free(fp);
		return (NULL);
	}
	fo = xcalloc(1, sizeof(*fo));
	if (fanout_token(c, fo->fo_token, sizeof(fo->fo_token), err,
	    errlen) == -1) {
		free(fp);
		free(fo);
		return (NULL);
	}
	fo->fo_base = base;
	fo->fo_ix = ix;
	fo->fo_tk = tk;
	fo->fo_query = xstrdup(query);
	fo->fo_so = *so;
	fo->fo_so.so_typos = 0;
	for (i = 0; i < so->so_nfilters; i++)
		fo->fo_so.so_filters[i] = fo->fo_filters[i] =
		    xstrdup(so->so_filters[i]);
	fo->fo_window = so->so_window;
	fo->fo_k = so->so_offset + so->so_n;
	if (fo->fo_k < fo->fo_window)
		fo->fo_k = fo->fo_window;
	fo->fo_timeout_ms = c->c_search_peer_timeout_ms;
	fo->fo_done = done;
	fo->fo_arg = arg;
	fo->fo_start = util_mono_us();
	fo->fo_nhosts = n + 1;
	fo->fo_hosts = xcalloc(n + 1, sizeof(*fo->fo_hosts));
	fo->fo_hosts[0].fh_local = 1;
	strlcpy(fo->fo_hosts[0].fh_peer.fp_name, FANOUT_LOCAL,
	    sizeof(fo->fo_hosts[0].fh_peer.fp_name));
	for (i = 0; i <= n; i++) {
		fo->fo_hosts[i].fh_fo = fo;
		if (i == 0)
			continue;
		fo->fo_hosts[i].fh_peer = fp[i - 1];
		/* Dead in the registry: missing, not asked. */
		if (fp[i - 1].fp_why[0] != '\0') {
			fo->fo_hosts[i].fh_missing = 1;
			strlcpy(fo->fo_hosts[i].fh_why, fp[i - 1].fp_why,
			    sizeof(fo->fo_hosts[i].fh_why));
		}
	}
	free(fp);
	fo->fo_phase = FANOUT_STATS;
	if ((fo->fo_timer = evtimer_new(base, fanout_late, fo)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	/* The first round, from the loop: done is never called from here. */
	if (event_base_once(base, -1, EV_TIMEOUT, fanout_first, fo,
	    NULL) == -1)
		fatalx("%s: event_base_once", __func__);
	return (fo);
}

/*
 * The answer: /v1/search's, and the hosts, each with its time and its
 * hits on the page, whether any is missing and which.
 */
void
fanout_show(struct fanout *fo, struct buf *b, int json)
{
	const struct fanout_host	*fh;
	size_t				 i, nmiss = 0;

	show_search(b, &fo->fo_res, fo->fo_so.so_offset, json);
	if (json) {
		/* Its closing "}\n", reopened. */
		if (b->b_len >= 2)
			b->b_len -= 2;
		buf_addstr(b, ", \"hosts\": [");
	} else
		buf_addstr(b, "\nhosts:");
	for (i = 0; i < fo->fo_nhosts; i++) {
		fh = &fo->fo_hosts[i];
		nmiss += fh->fh_missing;
		if (!json) {
			if (fh->fh_missing)
				buf_printf(b, " %s (missing: %s)",
				    fh->fh_peer.fp_name, fh->fh_why);
			else
				buf_printf(b, " %s (%.1f ms, %zu hits)",
				    fh->fh_peer.fp_name, fh->fh_took / 1e3,
				    fh->fh_shown);
			buf_addstr(b, i + 1 < fo->fo_nhosts ? "," : "\n");
			continue;
		}
		buf_addstr(b, i ? ",\n  {\"host\": " : "\n  {\"host\": ");
		show_json_str(b, fh->fh_peer.fp_name);
		buf_printf(b, ", \"took_ms\": %.3f, \"hits\": %zu, "
		    "\"missing\": %s", fh->fh_took / 1e3, fh->fh_shown,
		    fh->fh_missing ? "true" : "false");
		if (fh->fh_missing) {
			buf_addstr(b, ", \"error\": ");
			show_json_str(b, fh->fh_why);
		}
		buf_addstr(b, "}");
	}
	if (!json) {
		if (nmiss > 0)
			buf_printf(b, "partial: %zu of %zu hosts missing\n",
			    nmiss, fo->fo_nhosts);
		return;
	}
	buf_printf(b, "\n], \"partial\": %s, \"missing_hosts\": [",
	    nmiss > 0 ? "true" : "false");
	for (i = 0, nmiss = 0; i < fo->fo_nhosts; i++) {
		fh = &fo->fo_hosts[i];
		if (!fh->fh_missing)
			continue;
		buf_addstr(b, nmiss++ ? ", " : "");
		show_json_str(b, fh->fh_peer.fp_name);
	}
	buf_addstr(b, "]}\n");
}

/* Free the search, now or, with requests given up on, after them. */
void
fanout_free(struct fanout *fo)
{
	fo->fo_freed = 1;
	if (fo->fo_flying == 0)
		fanout_release(fo);
}

static void
fanout_release(struct fanout *fo)
{
	size_t	 i;

	for (i = 0; i < fo->fo_nhosts; i++) {
		free(fo->fo_hosts[i].fh_hits);
		free(fo->fo_hosts[i].fh_stats);
	}
	free(fo->fo_hosts);
	for (i = 0; i < fo->fo_so.so_nfilters; i++)
		free(fo->fo_filters[i]);
	free(fo->fo_query);
	search_result_free(&fo->fo_res);
	event_free(fo->fo_timer);
	free(fo);
}
