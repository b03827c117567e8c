/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for index.c, search.c and merge.c on real indexes: documents go
 * in as a worker feeds them (ixbatch, words from the English tokenizer,
 * filter terms per chunk), and come out through search_run(),
 * index_get_doc(), index_doc_chunks(), index_stats() and index_check().
 * Covered: the segment layout read back term by term, BM25 scores
 * against values computed here by hand, the query language (OR, +, -,
 * AND, phrases, prefixes, filters, snippets), a document's chunks read
 * back, redelivery, replacement and deletion, merging and compaction
 * (results unchanged, dead chunks purged), and index_check() finding
 * damage done through raw LMDB writes.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <roaring/roaring.h>

#include "quire.h"
#include "tlib.h"




/* An index in a fresh directory, a tokenizer and a batch. */
struct tix {
	char		 t_dir[PATH_MAX];
	struct index	 t_ix;
	struct tokenizer *t_tk;
	struct ixbatch	*t_b;
	uint64_t	 t_job;
	int		 t_nomemo;	/* words by their text only */
	struct {			/* filter terms, as a worker keeps */
		char	 f_term[1024];
		uint64_t f_memo[TOKEN_MEMO];
	}		 t_filters[4];
};

static void
tix_open(struct tix *t)
{
	memset(t, 0, sizeof(*t));
	ck_assert_int_lt(snprintf(t->t_dir, sizeof(t->t_dir), "%s/t.XXXXXX",
	    tlib_top), (int)sizeof(t->t_dir));
	ck_assert_ptr_nonnull(mkdtemp(t->t_dir));
	ck_assert_int_eq(index_open(&t->t_ix, t->t_dir, 0, STORE_SYNC_NONE),
	    0);
	t->t_tk = tokenizer_new("english", 0);
	ck_assert_ptr_nonnull(t->t_tk);
	t->t_b = ixbatch_new();
}

static void
tix_close(struct tix *t)
{
	ixbatch_free(t->t_b);
	tokenizer_free(t->t_tk);
	index_close(&t->t_ix);
	ck_assert_int_eq(tlib_rm_rf(t->t_dir), 0);
	ck_assert_int_eq(access(t->t_dir, F_OK), -1);
}

/*
 * A document as a test writes it.  Chunks are separated by '|'; the
 * title goes with the first chunk, as ingest.c sends it.
 */
struct tdoc {
	const char	*d_id;
	const char	*d_text;
	const char	*d_title;	/* or NULL */
	const char	*d_tenant;	/* NULL: "a" */
	int		 d_type;
	const char	*d_attr;	/* "name=value" or NULL */
	uint64_t	 d_hash;	/* 0: a hash of the text and title */
};

struct tfeed {
	struct ixbatch	*f_b;
	int		 f_field;
	int		 f_nomemo;
};

/* Words go in with their stem cache memos, as a worker sends them. */
static int
feed_token(const struct token *tok, void *arg)
{
	struct tfeed	*f = arg;

	if (f->f_nomemo)
		return (ixbatch_term(f->f_b, f->f_field, tok->t_text,
		    tok->t_len, tok->t_pos) == -1 ? -1 : 0);
	return (ixbatch_term_memo(f->f_b, f->f_field, tok->t_text, tok->t_len,
	    tok->t_pos, tok->t_memo) == -1 ? -1 : 0);
}

/*
 * Filter terms are "name=value" in the filter field, as a worker adds,
 * each of the i'th kind with a memo while it stays the same.
 */
static void
feed_filter(struct tix *t, size_t i, const char *name, const char *value)
{
	char	 term[1024];
	int	 n;

	/* Longer than IX_TERM_MAX is the batch's to cut, as for a worker. */
	n = snprintf(term, sizeof(term), "%s=%s", name, value);
	ck_assert(n > 0 && (size_t)n < sizeof(term));
	if (t->t_nomemo) {
		ck_assert_int_eq(ixbatch_term(t->t_b, IX_FILTER, term, n, 0),
		    0);
		return;
	}
	if (strcmp(t->t_filters[i].f_term, term) != 0) {
		strlcpy(t->t_filters[i].f_term, term,
		    sizeof(t->t_filters[i].f_term));
		memset(t->t_filters[i].f_memo, 0,
		    sizeof(t->t_filters[i].f_memo));
	}
	ck_assert_int_eq(ixbatch_term_memo(t->t_b, IX_FILTER, term, n, 0,
	    t->t_filters[i].f_memo), 0);
}

static uint64_t
text_hash(const char *a, const char *b)
{
	uint64_t	 h = 14695981039346656037ULL;

	for (; *a != '\0'; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	for (; b != NULL && *b != '\0'; b++)
		h = (h ^ (unsigned char)*b) * 1099511628211ULL;
	return (h);
}

static void
add_doc(struct tix *t, const struct tdoc *d)
{
	struct ixdoc_info	 di;
	struct xattr		 xa;
	struct tfeed		 f;
	char			 src[128], name[64];
	const char		*p, *e, *eq;
	size_t			 n;
	int			 first = 1;

	snprintf(src, sizeof(src), "/data/%s", d->d_id);
	memset(&di, 0, sizeof(di));
	di.di_extid = d->d_id;
	di.di_hash = d->d_hash != 0 ? d->d_hash :
	    text_hash(d->d_text, d->d_title);
	di.di_job = ++t->t_job;
	di.di_title = d->d_title;
	di.di_type = d->d_type;
	di.di_tenant = d->d_tenant != NULL ? d->d_tenant : "a";
	di.di_source = src;
	if (d->d_attr != NULL) {
		eq = strchr(d->d_attr, '=');
		ck_assert_ptr_nonnull(eq);
		n = eq - d->d_attr;
		ck_assert_uint_lt(n, sizeof(name));
		memcpy(name, d->d_attr, n);
		name[n] = '\0';
		xa.xa_name = name;
		xa.xa_value = (char *)eq + 1;
		di.di_attrs = &xa;
		di.di_nattrs = 1;
	}
	ck_assert_int_eq(ixbatch_doc(t->t_b, &di), 0);
	f.f_b = t->t_b;
	f.f_nomemo = t->t_nomemo;
	for (p = d->d_text;; p = e + 1) {
		if ((e = strchr(p, '|')) == NULL)
			e = p + strlen(p);
		ck_assert_int_eq(ixbatch_chunk(t->t_b, first ? "" : "More",
		    p, e - p), 0);
		feed_filter(t, 0, "tenant", di.di_tenant);
		feed_filter(t, 1, "type", extract_type_name(d->d_type));
		feed_filter(t, 2, "source", src);
		if (d->d_attr != NULL)
			feed_filter(t, 3, name, xa.xa_value);
		if (first && d->d_title != NULL) {
			f.f_field = IX_TITLE;
			ck_assert_int_eq(tokenizer_run(t->t_tk, d->d_title,
			    strlen(d->d_title), 0, feed_token, &f), 0);
		}
		f.f_field = IX_BODY;
		ck_assert_int_eq(tokenizer_run(t->t_tk, p, e - p, 0,
		    feed_token, &f), 0);
		first = 0;
		if (*e == '\0')
			break;
	}
	ck_assert_int_eq(ixbatch_end_doc(t->t_b), 0);
}

static void
commit(struct tix *t, struct ixcommit *res)
{
	struct ixcommit	 r;

	ck_assert_int_eq(ixbatch_commit(&t->t_ix, t->t_b, res != NULL ? res :
	    &r), 0);
	ixbatch_reset(t->t_b);
}

/* One document in a batch of its own. */
static void
commit_one(struct tix *t, const char *id, const char *text,
    struct ixcommit *res)
{
	struct tdoc	 d;

	memset(&d, 0, sizeof(d));
	d.d_id = id;
	d.d_text = text;
	add_doc(t, &d);
	commit(t, res);
}

static void
stats(struct tix *t, struct ixstats *st)
{
	ck_assert_int_eq(index_stats(&t->t_ix, st), 0);
}

static void
check_ok(struct tix *t)
{
	char	 msg[512];
	int	 rc;

	rc = index_check(&t->t_ix, msg, sizeof(msg));
	ck_assert_msg(rc == 0, "index_check: %d: %s", rc, msg);
	ck_assert_str_eq(msg, "");
}

/* index_check must find a problem and say something with want in it. */
static void
check_fails(struct tix *t, const char *want)
{
	char	 msg[512];

	ck_assert_int_eq(index_check(&t->t_ix, msg, sizeof(msg)), 1);
	ck_assert_msg(strstr(msg, want) != NULL, "index_check said \"%s\", "
	    "expected \"%s\"", msg, want);
}

static void
search(struct tix *t, const char *query, const struct search_opts *so,
    struct search_result *sr)
{
	struct search_opts	 def;
	char			*q;
	int			 rc;

	if (so == NULL) {
		search_opts_defaults(&def);
		def.so_n = 100;
		so = &def;
	}
	/* On the heap, exactly its size: a read past either end shows. */
	q = xstrdup(query);
	rc = search_run(&t->t_ix, t->t_tk, q, so, sr);
	free(q);
	ck_assert_msg(rc == 0, "search \"%s\": %s", query, sr->sr_error);
	ck_assert_uint_le(sr->sr_n, so->so_n);
	ck_assert_uint_ge(sr->sr_total, sr->sr_n);
}

/* The hits' external ids, best first, comma separated; sr is freed. */
static const char *
ids_join(struct search_result *sr)
{
	static char	 out[1024];
	size_t		 i;

	out[0] = '\0';
	for (i = 0; i < sr->sr_n; i++) {
		if (i > 0)
			strlcat(out, ",", sizeof(out));
		ck_assert_uint_lt(strlcat(out, sr->sr_hits[i].sh_extid,
		    sizeof(out)), sizeof(out));
	}
	search_result_free(sr);
	return (out);
}

/*
 * The external ids of a query's hits, a hit per chunk (--chunks), best
 * first, comma separated; up to two filters.  Also checks that the
 * total is the number of hits.
 */
static const char *
ids(struct tix *t, const char *query, const char *f1, const char *f2)
{
	struct search_opts	 so;
	struct search_result	 sr;

	search_opts_defaults(&so);
	so.so_n = 100;
	so.so_chunks = 1;
	if (f1 != NULL)
		so.so_filters[so.so_nfilters++] = f1;
	if (f2 != NULL)
		so.so_filters[so.so_nfilters++] = f2;
	search(t, query, &so, &sr);
	ck_assert_uint_eq(sr.sr_total, sr.sr_n);
	return (ids_join(&sr));
}

/* The score of a document's first hit for a query, or -1. */
static double
score_of(struct tix *t, const char *query, const struct search_opts *so,
    const char *id)
{
	struct search_result	 sr;
	double			 s = -1.0;
	size_t			 i;

	search(t, query, so, &sr);
	for (i = 0; i < sr.sr_n; i++)
		if (strcmp(sr.sr_hits[i].sh_extid, id) == 0) {
			s = sr.sr_hits[i].sh_score;
			break;
		}
	search_result_free(&sr);
	return (s);
}

/* The hits' external ids in byte order, for queries whose ranks tie. */
static const char *
idset(struct tix *t, const char *query, const char *f1, const char *f2)
{
	static char	 out[1024];
	char		 tmp[1024], *v[64], *p, *w;
	size_t		 n = 0, i, j;

	strlcpy(tmp, ids(t, query, f1, f2), sizeof(tmp));
	for (p = tmp; (w = strsep(&p, ",")) != NULL && *w != '\0'; ) {
		ck_assert_uint_lt(n, 64);
		v[n++] = w;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			w = v[j];
			v[j] = v[j - 1];
			v[j - 1] = w;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strlcat(out, ",", sizeof(out));
		strlcat(out, v[i], sizeof(out));
	}
	return (out);
}

struct tstem {
	char	*s_key;
	size_t	 s_len;
	int	 s_n;
};

static int
stem_token(const struct token *tok, void *arg)
{
	struct tstem	*s = arg;

	if (s->s_n++ == 0 && tok->t_len < IX_TERM_MAX - 1) {
		memcpy(s->s_key + 1, tok->t_text, tok->t_len);
		s->s_len = tok->t_len + 1;
	}
	return (0);
}

/* A word as the index holds it: the field byte, then its stem. */
static size_t
term_key(struct tix *t, int field, const char *word, char *key)
{
	struct tstem	 s;

	memset(&s, 0, sizeof(s));
	s.s_key = key;
	key[0] = field;
	ck_assert_int_eq(tokenizer_run(t->t_tk, word, strlen(word), 0,
	    stem_token, &s), 0);
	ck_assert_int_eq(s.s_n, 1);
	ck_assert_uint_gt(s.s_len, 1);
	return (s.s_len);
}

#define TFOLD		(16 << 20)	/* merge-fold-size's default */

/*
 * Compact as quirectl compact does: merge steps (a fold slice or a
 * sweep each) until none is left to do.  How many steps it took.
 */
static int
tix_compact(struct tix *t)
{
	int	 rv, steps = 0;

	while ((rv = merge_step(&t->t_ix, MERGE_ALL, TFOLD, -1)) == 1)
		steps++;
	ck_assert_int_eq(rv, 0);
	return (steps);
}

/*
 * Segments read back in a read transaction: each one's cid range and
 * norms, and one term's postings over all of them.  Nothing is asserted
 * inside the transaction; what went wrong is counted instead.
 */
#define TSEGS		32
#define TPOSTS		64
#define TPOS		8
#define TCIDS		512

struct tread {
	struct index	*r_ix;
	const char	*r_key;		/* or NULL */
	size_t		 r_klen;
	size_t		 r_nsegs;
	size_t		 r_bad;		/* values ixseg_open() refused */
	uint32_t	 r_base[TSEGS];
	uint32_t	 r_nchunks[TSEGS];
	uint64_t	 r_tokens;	/* the headers' word counts, summed */
	uint16_t	 r_norm[TCIDS];	/* by cid */
	uint32_t	 r_df;		/* dictionary frequencies, summed */
	size_t		 r_n;		/* postings read */
	uint32_t	 r_cid[TPOSTS];
	uint32_t	 r_tf[TPOSTS];
	uint32_t	 r_pos[TPOSTS][TPOS];
	int		 r_err;		/* damaged, or more than we hold */
	uint64_t	 r_folded;	/* chunks below are in blocks */
};

static int
read_txn(MDB_txn *txn, void *arg)
{
	struct tread	*r = arg;
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct ixseg	 s;
	struct ixpost	 p;
	struct ixmeta	 m;
	struct ixterminfo ti;
	struct ixbcur	 bc;
	const uint8_t	*pp;
	uint64_t	 d, at;
	int64_t		 f, pos;
	uint32_t	 i, cid;
	int		 rc, rv, op = MDB_FIRST;

	/* The folded postings first: they are the older ones. */
	if ((rc = index_meta_get(txn, r->r_ix, &m)) != 0)
		return (rc);
	r->r_folded = m.m_folded;
	if (r->r_key != NULL && ixblk_terminfo(txn, r->r_ix, r->r_key,
	    r->r_klen, &ti) == 0) {
		r->r_df += ti.ti_df;
		rv = ixbcur_open(&bc, txn, r->r_ix, r->r_key, r->r_klen,
		    m.m_folded);
		while (rv == 1 && (rv = ixbcur_next(&bc)) == 1) {
			if (r->r_n == TPOSTS) {
				r->r_err = 1;
				break;
			}
			r->r_cid[r->r_n] = bc.bc_cid;
			r->r_tf[r->r_n] = bc.bc_tf;
			pp = bc.bc_pos;
			for (i = 0, at = 0; i < bc.bc_tf; i++) {
				if (ix_getvarint(&pp, bc.bc_pend, &d) == -1) {
					r->r_err = 1;
					break;
				}
				at += d;
				if (i < TPOS)
					r->r_pos[r->r_n][i] = at;
			}
			if (bc.bc_cid < TCIDS)
				r->r_norm[bc.bc_cid] = bc.bc_dl;
			r->r_n++;
		}
		if (rv == -1)
			r->r_err = 1;
		ixbcur_close(&bc);
	}
	if ((rc = mdb_cursor_open(txn, index_dbi(r->r_ix, IDB_SEGS), &c))
	    != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (ixseg_open(&s, v.mv_data, v.mv_size) == -1) {
			r->r_bad++;
			continue;
		}
		if (r->r_nsegs == TSEGS) {
			r->r_err = 1;
			break;
		}
		r->r_base[r->r_nsegs] = s.s_hdr->h_base;
		r->r_nchunks[r->r_nsegs] = s.s_hdr->h_nchunks;
		r->r_nsegs++;
		r->r_tokens += s.s_hdr->h_tokens;
		for (i = 0; i < s.s_hdr->h_nchunks; i++) {
			cid = s.s_hdr->h_base + i;
			if (cid < TCIDS)
				r->r_norm[cid] = s.s_norms[i];
		}
		if (r->r_key == NULL ||
		    (f = ixseg_find(&s, r->r_key, r->r_klen)) < 0)
			continue;
		r->r_df += s.s_dict[f].e_df;
		ixpost_init(&p, &s, f);
		while ((rv = ixpost_next(&p)) == 1) {
			if (r->r_n == TPOSTS) {
				r->r_err = 1;
				break;
			}
			r->r_cid[r->r_n] = p.p_cid;
			r->r_tf[r->r_n] = p.p_tf;
			for (i = 0; (pos = ixpost_pos(&p)) != -1; i++)
				if (i < TPOS)
					r->r_pos[r->r_n][i] = pos;
			if (i != p.p_tf)
				r->r_err = 1;
			r->r_n++;
		}
		if (rv == -1)
			r->r_err = 1;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

static void
read_segs(struct tix *t, const char *key, size_t klen, struct tread *r)
{
	memset(r, 0, sizeof(*r));
	r->r_ix = &t->t_ix;
	r->r_key = key;
	r->r_klen = klen;
	ck_assert_int_eq(store_read(&t->t_ix.ix_store, read_txn, r), 0);
	ck_assert_int_eq(r->r_err, 0);
	ck_assert_uint_eq(r->r_bad, 0);
}

/* A word's postings, by the word as a user writes it. */
static void
read_word(struct tix *t, int field, const char *word, struct tread *r)
{
	char	 key[IX_TERM_MAX];
	size_t	 n;

	n = term_key(t, field, word, key);
	read_segs(t, key, n, r);
}

/* Raw writes into one database, to damage the index on purpose. */
struct traw {
	struct index	*w_ix;
	int		 w_db;
	const void	*w_key;
	size_t		 w_klen;
	const void	*w_val;		/* NULL: delete the key */
	size_t		 w_vlen;
};

static int
raw_txn(MDB_txn *txn, void *arg)
{
	struct traw	*w = arg;
	MDB_val		 k, v;

	k.mv_size = w->w_klen;
	k.mv_data = (void *)w->w_key;
	if (w->w_val == NULL)
		return (mdb_del(txn, index_dbi(w->w_ix, w->w_db), &k, NULL));
	v.mv_size = w->w_vlen;
	v.mv_data = (void *)w->w_val;
	return (mdb_put(txn, index_dbi(w->w_ix, w->w_db), &k, &v, 0));
}

static void
raw_write(struct tix *t, int db, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	struct traw	 w;

	w.w_ix = &t->t_ix;
	w.w_db = db;
	w.w_key = key;
	w.w_klen = klen;
	w.w_val = val;
	w.w_vlen = vlen;
	ck_assert_int_eq(store_write(&t->t_ix.ix_store, raw_txn, &w), 0);
}

/* A copy of a stored value, in memory of its own. */
struct tget {
	struct index	*g_ix;
	int		 g_db;
	const void	*g_key;
	size_t		 g_klen;
	void		*g_val;
	size_t		 g_len;
};

static int
get_txn(MDB_txn *txn, void *arg)
{
	struct tget	*g = arg;
	MDB_val		 k, v;
	int		 rc;

	k.mv_size = g->g_klen;
	k.mv_data = (void *)g->g_key;
	if ((rc = mdb_get(txn, index_dbi(g->g_ix, g->g_db), &k, &v)) != 0)
		return (rc);
	g->g_val = xmalloc(v.mv_size);
	memcpy(g->g_val, v.mv_data, v.mv_size);
	g->g_len = v.mv_size;
	return (0);
}

static void *
raw_get(struct tix *t, int db, const void *key, size_t klen, size_t *len)
{
	struct tget	 g;

	memset(&g, 0, sizeof(g));
	g.g_ix = &t->t_ix;
	g.g_db = db;
	g.g_key = key;
	g.g_klen = klen;
	ck_assert_int_eq(store_read(&t->t_ix.ix_store, get_txn, &g), 0);
	*len = g.g_len;
	return (g.g_val);
}

/* The same, or NULL when the key is not there. */
static void *
raw_get_maybe(struct tix *t, int db, const void *key, size_t klen,
    size_t *len)
{
	struct tget	 g;
	int		 rc;

	memset(&g, 0, sizeof(g));
	g.g_ix = &t->t_ix;
	g.g_db = db;
	g.g_key = key;
	g.g_klen = klen;
	rc = store_read(&t->t_ix.ix_store, get_txn, &g);
	ck_assert(rc == 0 || rc == MDB_NOTFOUND);
	*len = g.g_len;
	return (g.g_val);
}

/* Segment encoding and decoding. */

START_TEST(test_segment_layout)
{
	struct tix	 t;
	struct tdoc	 d;
	struct ixcommit	 res;
	struct ixstats	 st;
	struct tread	 r;
	const char	*key;

	tix_open(&t);
	memset(&d, 0, sizeof(d));
	d.d_id = "s1";
	d.d_title = "Fox tales";
	d.d_text = "the quick brown fox jumps over the lazy dog";
	add_doc(&t, &d);
	memset(&d, 0, sizeof(d));
	d.d_id = "s2";
	d.d_tenant = "b";
	d.d_text = "a fox|the fox and the fox";
	add_doc(&t, &d);
	ck_assert_uint_eq(ixbatch_ndocs(t.t_b), 2);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_added, 2);
	ck_assert_uint_eq(res.ic_unchanged, 0);
	ck_assert_uint_eq(res.ic_replaced, 0);
	ck_assert_uint_eq(res.ic_chunks, 3);
	ck_assert_uint_eq(res.ic_seg, 1);
	ck_assert_uint_gt(res.ic_bytes, sizeof(struct ixseghdr));

	/* One segment of cids 1 to 3: s1's chunk, then s2's two. */
	read_word(&t, IX_BODY, "fox", &r);
	ck_assert_uint_eq(r.r_nsegs, 1);
	ck_assert_uint_eq(r.r_base[0], 1);
	ck_assert_uint_eq(r.r_nchunks[0], 3);
	ck_assert_uint_eq(r.r_df, 3);
	ck_assert_uint_eq(r.r_n, 3);
	ck_assert_uint_eq(r.r_cid[0], 1);
	ck_assert_uint_eq(r.r_tf[0], 1);
	ck_assert_uint_eq(r.r_pos[0][0], 3);
	ck_assert_uint_eq(r.r_cid[1], 2);
	ck_assert_uint_eq(r.r_tf[1], 1);
	ck_assert_uint_eq(r.r_pos[1][0], 1);
	ck_assert_uint_eq(r.r_cid[2], 3);
	ck_assert_uint_eq(r.r_tf[2], 2);
	ck_assert_uint_eq(r.r_pos[2][0], 1);
	ck_assert_uint_eq(r.r_pos[2][1], 4);

	/* Positions count from each chunk's start, in order. */
	read_word(&t, IX_BODY, "the", &r);
	ck_assert_uint_eq(r.r_df, 2);
	ck_assert_uint_eq(r.r_n, 2);
	ck_assert_uint_eq(r.r_cid[0], 1);
	ck_assert_uint_eq(r.r_tf[0], 2);
	ck_assert_uint_eq(r.r_pos[0][0], 0);
	ck_assert_uint_eq(r.r_pos[0][1], 6);
	ck_assert_uint_eq(r.r_cid[1], 3);
	ck_assert_uint_eq(r.r_tf[1], 2);
	ck_assert_uint_eq(r.r_pos[1][0], 0);
	ck_assert_uint_eq(r.r_pos[1][1], 3);

	/* Stemmed: "jumps" is held as the stem that "jumping" has too. */
	read_word(&t, IX_BODY, "jumping", &r);
	ck_assert_uint_eq(r.r_n, 1);
	ck_assert_uint_eq(r.r_cid[0], 1);
	ck_assert_uint_eq(r.r_pos[0][0], 4);

	/* The title is a field of its own, on the first chunk. */
	read_word(&t, IX_TITLE, "fox", &r);
	ck_assert_uint_eq(r.r_df, 1);
	ck_assert_uint_eq(r.r_cid[0], 1);
	ck_assert_uint_eq(r.r_pos[0][0], 0);
	read_word(&t, IX_TITLE, "tales", &r);
	ck_assert_uint_eq(r.r_df, 1);
	ck_assert_uint_eq(r.r_pos[0][0], 1);
	read_word(&t, IX_BODY, "tales", &r);
	ck_assert_uint_eq(r.r_df, 0);
	ck_assert_uint_eq(r.r_n, 0);

	/* Filter terms are exact and on every chunk. */
	key = "ftenant=a";
	read_segs(&t, key, strlen(key), &r);
	ck_assert_uint_eq(r.r_df, 1);
	ck_assert_uint_eq(r.r_cid[0], 1);
	key = "ftenant=b";
	read_segs(&t, key, strlen(key), &r);
	ck_assert_uint_eq(r.r_df, 2);
	ck_assert_uint_eq(r.r_cid[0], 2);
	ck_assert_uint_eq(r.r_cid[1], 3);
	key = "fsource=/data/s2";
	read_segs(&t, key, strlen(key), &r);
	ck_assert_uint_eq(r.r_df, 2);
	key = "ftype=text";
	read_segs(&t, key, strlen(key), &r);
	ck_assert_uint_eq(r.r_df, 3);
	key = "bzebra";
	read_segs(&t, key, strlen(key), &r);
	ck_assert_uint_eq(r.r_df, 0);
	ck_assert_uint_eq(r.r_n, 0);

	/*
	 * Norms: a chunk's length in words, its title's included; filter
	 * terms are not words.
	 */
	ck_assert_uint_eq(r.r_norm[1], 9 + 2);
	ck_assert_uint_eq(r.r_norm[2], 2);
	ck_assert_uint_eq(r.r_norm[3], 5);
	ck_assert_uint_eq(r.r_tokens, 18);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);
	ck_assert_uint_eq(st.is_chunks, 3);
	ck_assert_uint_eq(st.is_tokens, 18);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_uint_eq(st.is_segments, 1);
	ck_assert_uint_eq(st.is_next_cid, 4);
	ck_assert_uint_eq(st.is_next_docid, 3);

	/* A second batch is a second segment, its cids following on. */
	commit_one(&t, "s3", "fox fox fox", &res);
	ck_assert_uint_eq(res.ic_seg, 2);
	read_word(&t, IX_BODY, "fox", &r);
	ck_assert_uint_eq(r.r_nsegs, 2);
	ck_assert_uint_eq(r.r_base[1], 4);
	ck_assert_uint_eq(r.r_nchunks[1], 1);
	ck_assert_uint_eq(r.r_df, 4);
	ck_assert_uint_eq(r.r_cid[3], 4);
	ck_assert_uint_eq(r.r_tf[3], 3);
	ck_assert_uint_eq(r.r_pos[3][0], 0);
	ck_assert_uint_eq(r.r_pos[3][1], 1);
	ck_assert_uint_eq(r.r_pos[3][2], 2);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

static int
skip_token(const struct token *tok, void *arg)
{
	(void)tok;
	(void)arg;
	return (0);
}

/* 50,000 distinct words through t's tokenizer, and not into its batch. */
static void
fill_stem_cache(struct tix *t)
{
	struct buf	 text;
	size_t		 i, j, n;

	buf_init(&text);
	for (i = 0; i < 50000; i++) {
		buf_addc(&text, 'q');
		for (n = i, j = 0; j < 4; j++, n /= 26)
			buf_addc(&text, 'a' + n % 26);
		buf_addc(&text, ' ');
	}
	ck_assert_int_eq(tokenizer_run(t->t_tk, text.b_data, text.b_len, 0,
	    skip_token, NULL), 0);
	buf_free(&text);
}

/*
 * Words that carry their term ids in the stem cache's memos, and filter
 * terms in a worker's, make the same segments as terms looked up by
 * their text: in a title and in a body (two terms for one memo), in a
 * second batch (the memos of the first are stale), after a word left the
 * cache, for filters that change from one document to the next.
 */
START_TEST(test_segment_memo)
{
	static const char *const texts[] = {
		"the fox runs|foxes running over the fox",
		"a dog and a fox",
		"running dogs run to the fox den",
	};
	struct tix	 a, b;
	struct tdoc	 d;
	uint8_t		 kb[8];
	void		*sa, *sb;
	size_t		 la, lb, i, batch;
	char		 id[16];

	tix_open(&a);
	tix_open(&b);
	b.t_nomemo = 1;
	for (batch = 0; batch < 3; batch++) {
		for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			memset(&d, 0, sizeof(d));
			snprintf(id, sizeof(id), "m%zu.%zu", batch, i);
			d.d_id = id;
			d.d_title = i == 1 ? "Dog" : "The fox runs";
			d.d_text = texts[(i + batch) % 3];
			d.d_tenant = i == 2 ? "b" : "a";
			d.d_attr = i == 0 ? "lang=en" : "lang=fr";
			add_doc(&a, &d);
			add_doc(&b, &d);
		}
		/* Words enough to take over many of the cache's slots. */
		if (batch == 1)
			fill_stem_cache(&a);
		commit(&a, NULL);
		commit(&b, NULL);
	}
	for (i = 1; i <= 3; i++) {
		util_put_be64(kb, i);
		sa = raw_get(&a, IDB_SEGS, kb, 8, &la);
		sb = raw_get(&b, IDB_SEGS, kb, 8, &lb);
		ck_assert_uint_eq(la, lb);
		ck_assert_int_eq(memcmp(sa, sb, la), 0);
		free(sa);
		free(sb);
	}
	check_ok(&a);
	tix_close(&a);
	tix_close(&b);
}
END_TEST

/*
 * A term's positions are posted in order, equal ones kept, whatever the
 * order its hits came in; the chunk after starts a list of its own.
 */
START_TEST(test_segment_hit_order)
{
	static const uint32_t	 in[] = { 5, 2, 9, 2, 0, 7, 9, 1 };
	static const uint32_t	 want[] = { 0, 1, 2, 2, 5, 7, 9, 9 };
	struct ixdoc_info	 di;
	struct tix		 t;
	struct tread		 r;
	size_t			 i;

	tix_open(&t);
	memset(&di, 0, sizeof(di));
	di.di_extid = "o1";
	di.di_hash = 1;
	di.di_tenant = "a";
	di.di_source = "/data/o1";
	ck_assert_int_eq(ixbatch_doc(t.t_b, &di), 0);
	ck_assert_int_eq(ixbatch_chunk(t.t_b, "", "x", 1), 0);
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		ck_assert_int_eq(ixbatch_term(t.t_b, IX_BODY, "fox", 3, in[i]),
		    0);
		ck_assert_int_eq(ixbatch_term(t.t_b, IX_BODY, "dog", 3, i), 0);
	}
	ck_assert_int_eq(ixbatch_chunk(t.t_b, "", "y", 1), 0);
	ck_assert_int_eq(ixbatch_term(t.t_b, IX_BODY, "fox", 3, 3), 0);
	ck_assert_int_eq(ixbatch_end_doc(t.t_b), 0);
	commit(&t, NULL);
	read_segs(&t, "bfox", 4, &r);
	ck_assert_int_eq(r.r_err, 0);
	ck_assert_uint_eq(r.r_n, 2);
	ck_assert_uint_eq(r.r_tf[0], 8);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_uint_eq(r.r_pos[0][i], want[i]);
	ck_assert_uint_eq(r.r_tf[1], 1);
	ck_assert_uint_eq(r.r_pos[1][0], 3);
	read_segs(&t, "bdog", 4, &r);
	ck_assert_uint_eq(r.r_n, 1);
	ck_assert_uint_eq(r.r_tf[0], 8);
	for (i = 0; i < 8; i++)
		ck_assert_uint_eq(r.r_pos[0][i], i);
	tix_close(&t);
}
END_TEST

/*
 * The dictionary is in byte order when many terms share their first 8
 * bytes (filter terms, long words), in short runs and in long ones.
 */
START_TEST(test_segment_term_order)
{
	struct ixdoc_info	 di;
	struct tix		 t;
	struct tread		 r;
	char			 term[64];
	size_t			 i, k;
	int			 n;

	tix_open(&t);
	memset(&di, 0, sizeof(di));
	di.di_extid = "d1";
	di.di_hash = 1;
	di.di_tenant = "a";
	di.di_source = "/data/d1";
	ck_assert_int_eq(ixbatch_doc(t.t_b, &di), 0);
	ck_assert_int_eq(ixbatch_chunk(t.t_b, "", "x", 1), 0);
	for (i = 0; i < 200; i++) {
		/* 7919 is prime: every k once, out of order. */
		k = i * 7919 % 200;
		n = snprintf(term, sizeof(term), "source=/data/%zu", k);
		ck_assert_int_eq(ixbatch_term(t.t_b, IX_FILTER, term, n, 0),
		    0);
		n = snprintf(term, sizeof(term), "internation%c%zu",
		    'a' + (int)(k % 5), k % 7);
		ck_assert_int_eq(ixbatch_term(t.t_b, IX_BODY, term, n, i), 0);
	}
	ck_assert_int_eq(ixbatch_end_doc(t.t_b), 0);
	commit(&t, NULL);
	check_ok(&t);
	read_segs(&t, "fsource=/data/199", 17, &r);
	ck_assert_uint_eq(r.r_df, 1);
	read_segs(&t, "binternationc3", 14, &r);
	ck_assert_uint_eq(r.r_df, 1);
	tix_close(&t);
}
END_TEST

/* Walk every posting of every term; -1 if any is damaged. */
static int
walk_all(const struct ixseg *s)
{
	struct ixpost	 p;
	uint32_t	 term;
	int		 rv, bad = 0;

	for (term = 0; term < s->s_hdr->h_nterms; term++) {
		ixpost_init(&p, s, term);
		while ((rv = ixpost_next(&p)) == 1)
			while (ixpost_pos(&p) != -1)
				;
		if (rv == -1)
			bad = 1;
	}
	return (bad ? -1 : 0);
}

/* A term's postings as (cid, tf), positions read or skipped. */
static size_t
walk_term(const struct ixseg *s, uint32_t term, int readpos,
    const uint8_t *marks, uint32_t *cid, uint32_t *tf, size_t max)
{
	struct ixpost	 p;
	size_t		 n = 0;
	int		 rv;

	ixpost_init(&p, s, term);
	while ((rv = marks != NULL ? ixpost_next_marked(&p, marks) :
	    ixpost_next(&p)) == 1) {
		ck_assert_uint_lt(n, max);
		cid[n] = p.p_cid;
		tf[n++] = p.p_tf;
		while (readpos && ixpost_pos(&p) != -1)
			;
	}
	ck_assert_int_eq(rv, 0);
	return (n);
}

/*
 * Every posting of every term with all its positions, each read through
 * ixpost_pos or, with bytes, ixpost_posbuf; -1 if a posting is damaged
 * or has fewer positions than its tf.
 */
static int
read_all(const struct ixseg *s, int bytes)
{
	struct ixpost	 p;
	const uint8_t	*b;
	uint32_t	 term, i;
	size_t		 len;
	int		 rv, bad = 0;

	for (term = 0; term < s->s_hdr->h_nterms; term++) {
		ixpost_init(&p, s, term);
		while ((rv = ixpost_next(&p)) == 1) {
			if (bytes) {
				b = ixpost_posbuf(&p, &len);
				bad |= b == NULL || len < p.p_tf;
				continue;
			}
			for (i = 0; ixpost_pos(&p) != -1; i++)
				;
			bad |= i != p.p_tf;
		}
		bad |= rv == -1;
	}
	return (bad ? -1 : 0);
}

/*
 * A QSG2 segment laid out as QSG1, as quire wrote segments before: each
 * posting's positions back after its tf, the dictionary's offsets and
 * the size made to agree.  In memory of its own, *outlen bytes.
 */
static uint8_t *
seg_qsg1(const uint8_t *seg, size_t len, size_t *outlen)
{
	struct ixseg	 s;
	struct ixseghdr	 h;
	struct ixsegterm e;
	struct buf	 post;
	const uint8_t	*d, *dend, *pc, *end = seg + len;
	uint8_t		*out;
	uint64_t	 dl, delta, tf, pos, i;
	uint32_t	*at, t;

	ck_assert_int_eq(memcmp(seg, "QSG2", 4), 0);
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	memcpy(&h, seg, sizeof(h));
	at = xcalloc(h.h_nterms + 1, sizeof(*at));
	buf_init(&post);
	for (t = 0; t < h.h_nterms; t++) {
		d = seg + s.s_dict[t].e_post;
		ck_assert_int_eq(ix_getvarint(&d, end, &dl), 0);
		ck_assert_uint_le(dl, (uint64_t)(end - d));
		dend = pc = d + dl;
		at[t] = post.b_len;
		while (d < dend) {
			ck_assert_int_eq(ix_getvarint(&d, dend, &delta), 0);
			ck_assert_int_eq(ix_getvarint(&d, dend, &tf), 0);
			ix_varint(&post, delta);
			ix_varint(&post, tf);
			for (i = 0; i < tf; i++) {
				ck_assert_int_eq(ix_getvarint(&pc, end, &pos),
				    0);
				ix_varint(&post, pos);
			}
		}
		/* The next term's area starts where the positions end. */
		if (t + 1 < h.h_nterms)
			ck_assert_ptr_eq(pc, seg + s.s_dict[t + 1].e_post);
	}
	memcpy(h.h_magic, "QSG1", 4);
	h.h_size = (h.h_post + post.b_len + 7) & ~7U;
	out = xcalloc(1, h.h_size);
	memcpy(out, seg, h.h_post);
	memcpy(out, &h, sizeof(h));
	for (t = 0; t < h.h_nterms; t++) {
		e = s.s_dict[t];
		e.e_post = h.h_post + at[t];
		memcpy(out + h.h_dict + t * sizeof(e), &e, sizeof(e));
	}
	memcpy(out + h.h_post, post.b_data, post.b_len);
	*outlen = h.h_size;
	buf_free(&post);
	free(at);
	return (out);
}

/*
 * Two segments of the same chunks, one of each layout, give the same
 * postings: every term's cids, tfs and positions, the positions read
 * one by one, as bytes, or some of them not at all (mode 0, 1, 2), and
 * the same postings through marks and runs.
 */
static void
seg_same_posts(const struct ixseg *a, const struct ixseg *b)
{
	struct ixpost	 p, q;
	const uint8_t	*x, *y;
	uint8_t		 marks[1024];
	uint32_t	 t, cid[2][256], tf[2][256];
	size_t		 xl, yl, k, n;
	int64_t		 pa, pb, ra, rb;
	int		 mode, rv;

	ck_assert_uint_eq(a->s_hdr->h_nterms, b->s_hdr->h_nterms);
	ck_assert_uint_le(a->s_hdr->h_nchunks, sizeof(marks));
	for (k = 0; k < a->s_hdr->h_nchunks; k++)
		marks[k] = k % 3 != 1;
	for (t = 0; t < a->s_hdr->h_nterms; t++)
		for (mode = 0; mode < 4; mode++) {
			if (mode == 3) {
				n = walk_term(a, t, 0, marks, cid[0], tf[0],
				    256);
				ck_assert_uint_eq(walk_term(b, t, 0, marks,
				    cid[1], tf[1], 256), n);
				ck_assert_int_eq(memcmp(cid[0], cid[1],
				    n * sizeof(cid[0][0])), 0);
				ck_assert_int_eq(memcmp(tf[0], tf[1],
				    n * sizeof(tf[0][0])), 0);
				continue;
			}
			ixpost_init(&p, a, t);
			ixpost_init(&q, b, t);
			for (k = 0; (rv = ixpost_next(&p)) == 1; k++) {
				ck_assert_int_eq(ixpost_next(&q), 1);
				ck_assert_uint_eq(p.p_cid, q.p_cid);
				ck_assert_uint_eq(p.p_tf, q.p_tf);
				if (mode == 1 || (mode == 2 && k % 3 == 0)) {
					x = ixpost_posbuf(&p, &xl);
					y = ixpost_posbuf(&q, &yl);
					ck_assert_ptr_nonnull(x);
					ck_assert_ptr_nonnull(y);
					ck_assert_uint_eq(xl, yl);
					ck_assert_int_eq(memcmp(x, y, xl), 0);
				} else if (mode == 0 || k % 3 == 1) {
					do {
						pa = ixpost_pos(&p);
						pb = ixpost_pos(&q);
						ck_assert_int_eq(pa, pb);
					} while (pa != -1);
				}
				/* A run, now and then, the same in both. */
				if (mode == 2 && k % 5 == 4) {
					ra = ixpost_run(&p);
					rb = ixpost_run(&q);
					ck_assert_int_eq(ra, rb);
					ck_assert_int_ge(ra, 0);
					ck_assert_uint_eq(p.p_cid, q.p_cid);
				}
			}
			ck_assert_int_eq(rv, 0);
			ck_assert_int_eq(ixpost_next(&q), 0);
		}
}

/*
 * Positions skipped unread, 8 bytes at a time, postings passed over by
 * marks, and runs of a filter's chunks read at a glance, leave the
 * cursor where reading them would: long chunks make many positions, of
 * one byte and of two.
 */
START_TEST(test_segment_skip)
{
	struct tix	 t;
	struct tdoc	 d;
	struct ixseg	 s;
	struct ixpost	 p;
	struct buf	 text;
	uint8_t		 kb[8], *seg, marks[64];
	uint32_t	 cid[3][64], tf[3][64], term;
	size_t		 len, n[3], i, j, k;
	int64_t		 run, runs = 0;
	int		 rv;
	char		 id[16];

	tix_open(&t);
	memset(&text, 0, sizeof(text));
	for (i = 0; i < 40; i++) {
		buf_reset(&text);
		for (j = 0; j < (i % 5) * 300 + 1; j++)
			buf_addstr(&text, j % (i + 2) == 0 ? "fox " : "filler ");
		buf_addstr(&text, i % 3 == 0 ? "dog" : "cat");
		snprintf(id, sizeof(id), "k%zu", i);
		memset(&d, 0, sizeof(d));
		d.d_id = id;
		d.d_text = buf_cstr(&text);
		d.d_attr = i < 30 && i != 12 ? "run=yes" : NULL;
		add_doc(&t, &d);
	}
	commit(&t, NULL);
	util_put_be64(kb, 1);
	seg = raw_get(&t, IDB_SEGS, kb, 8, &len);
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	ck_assert_uint_le(s.s_hdr->h_nchunks, sizeof(marks));
	for (i = 0; i < s.s_hdr->h_nchunks; i++)
		marks[i] = i % 3 == 1;
	for (term = 0; term < s.s_hdr->h_nterms; term++) {
		n[0] = walk_term(&s, term, 1, NULL, cid[0], tf[0], 64);
		n[1] = walk_term(&s, term, 0, NULL, cid[1], tf[1], 64);
		n[2] = walk_term(&s, term, 0, marks, cid[2], tf[2], 64);
		ck_assert_uint_eq(n[0], n[1]);
		for (i = k = 0; i < n[0]; i++) {
			ck_assert_uint_eq(cid[0][i], cid[1][i]);
			ck_assert_uint_eq(tf[0][i], tf[1][i]);
			if (!marks[cid[0][i] - s.s_hdr->h_base])
				continue;
			ck_assert_uint_lt(k, n[2]);
			ck_assert_uint_eq(cid[0][i], cid[2][k]);
			ck_assert_uint_eq(tf[0][i], tf[2][k++]);
		}
		ck_assert_uint_eq(k, n[2]);
		/* A run of chunks read at a glance: the same chunks. */
		ixpost_init(&p, &s, term);
		for (k = 0; (rv = ixpost_next(&p)) == 1; k++) {
			ck_assert_uint_lt(k, n[0]);
			ck_assert_uint_eq(p.p_cid, cid[0][k]);
			ck_assert_int_ge(run = ixpost_run(&p), 0);
			for (j = 0; j < (size_t)run; j++) {
				ck_assert_uint_lt(++k, n[0]);
				ck_assert_uint_eq(cid[0][k], cid[0][k - 1] + 1);
			}
			ck_assert_uint_eq(p.p_cid, cid[0][k]);
			runs += run;
		}
		ck_assert_int_eq(rv, 0);
		ck_assert_uint_eq(k, n[0]);
	}
	/* "f" "run=yes": chunks of k0 to k11, then of k13 to k29. */
	ck_assert_int_ge(runs, 27);
	buf_free(&text);
	free(seg);
	tix_close(&t);
}
END_TEST

START_TEST(test_segment_damage)
{
	struct tix	 t;
	struct ixseg	 s;
	struct ixseghdr	*h;
	uint8_t		 kb[8], *seg, *cut;
	size_t		 len;
	int		 i;

	tix_open(&t);
	for (i = 0; i < 3; i++)
		commit_one(&t, i == 0 ? "a" : i == 1 ? "b" : "c",
		    "some words that make a segment with several terms", NULL);
	util_put_be64(kb, 2);
	seg = raw_get(&t, IDB_SEGS, kb, 8, &len);
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	ck_assert_int_eq(walk_all(&s), 0);

	/* Truncated copies are refused: the size is in the header. */
	cut = xmalloc(len);
	memcpy(cut, seg, len);
	ck_assert_int_eq(ixseg_open(&s, cut, len - 1), -1);
	ck_assert_int_eq(ixseg_open(&s, cut, len / 2), -1);
	ck_assert_int_eq(ixseg_open(&s, cut, sizeof(struct ixseghdr) - 1),
	    -1);
	ck_assert_int_eq(ixseg_open(&s, cut, 0), -1);

	/* So are a bad magic and areas that do not fit. */
	cut[0] = 'X';
	ck_assert_int_eq(ixseg_open(&s, cut, len), -1);
	memcpy(cut, seg, len);
	h = (struct ixseghdr *)cut;
	h->h_post = len + 1;
	ck_assert_int_eq(ixseg_open(&s, cut, len), -1);
	memcpy(cut, seg, len);
	h->h_nchunks = len;
	ck_assert_int_eq(ixseg_open(&s, cut, len), -1);
	memcpy(cut, seg, len);
	h->h_nterms = len;
	ck_assert_int_eq(ixseg_open(&s, cut, len), -1);

	/*
	 * And norms or a dictionary where their fields are not aligned,
	 * though they fit: the padding after the norms gives room.
	 */
	memcpy(cut, seg, len);
	ck_assert_uint_le(h->h_norms + 1 + h->h_nchunks * 2, h->h_dict - 2);
	h->h_dict -= 2;
	ck_assert_int_eq(ixseg_open(&s, cut, len), -1);
	memcpy(cut, seg, len);
	h->h_norms++;
	ck_assert_int_eq(ixseg_open(&s, cut, len), -1);
	free(cut);

	/*
	 * A copy cut inside its postings, the header's size made to agree:
	 * it opens, but reading its postings fails, and never reads past
	 * the end.
	 */
	h = (struct ixseghdr *)seg;
	len = h->h_post + 1;
	cut = xmalloc(len);
	memcpy(cut, seg, len);
	((struct ixseghdr *)cut)->h_size = len;
	ck_assert_int_eq(ixseg_open(&s, cut, len), 0);
	ck_assert_int_eq(walk_all(&s), -1);
	free(cut);

	/* Stored, a damaged segment is skipped by search, found by check. */
	raw_write(&t, IDB_SEGS, kb, 8, seg, h->h_size / 2);
	ck_assert_str_eq(idset(&t, "segment words", NULL, NULL), "a,c");
	check_fails(&t, "segment 2 is damaged");
	free(seg);
	tix_close(&t);
}
END_TEST

/* A QSG2 term's area: where its D is, how long it says the docs are. */
static const uint8_t *
area_docs(const struct ixseg *s, uint32_t term, uint64_t *dl)
{
	const uint8_t	*c, *end = (const uint8_t *)s->s_data + s->s_len;

	c = (const uint8_t *)s->s_data + s->s_dict[term].e_post;
	ck_assert_int_eq(ix_getvarint(&c, end, dl), 0);
	return (c);
}

/*
 * A damaged QSG2 area is found, by the cursor or by the check, and
 * never read past: docs longer or shorter than their postings, D past
 * the segment's end, positions that end before or after the next
 * term's area starts, a segment cut inside the last term's positions.
 */
START_TEST(test_segment_split_damage)
{
	struct tix	 t;
	struct ixseg	 s;
	uint8_t		 kb[8], *seg, *bad, *at;
	const uint8_t	*d;
	uint64_t	 dl;
	uint32_t	 term, last, mid = UINT32_MAX;
	size_t		 len, cut;

	tix_open(&t);
	commit_one(&t, "a", "the fox saw the fox and the dog", NULL);
	util_put_be64(kb, 1);
	seg = raw_get(&t, IDB_SEGS, kb, 8, &len);
	ck_assert_int_eq(memcmp(seg, IXSEG_MAGIC, 4), 0);
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	ck_assert_int_eq(read_all(&s, 0), 0);
	ck_assert_int_eq(read_all(&s, 1), 0);
	check_ok(&t);
	last = s.s_hdr->h_nterms - 1;
	/* "bthe": one posting of tf 3, all one byte, not the last term. */
	for (term = 0; term < last; term++) {
		d = area_docs(&s, term, &dl);
		if (dl == 2 && d[1] == 3)
			mid = term;
	}
	ck_assert_uint_ne(mid, UINT32_MAX);
	bad = xmalloc(len);

	/* Docs a byte longer, or shorter, than the postings. */
	memcpy(bad, seg, len);
	ck_assert_int_eq(ixseg_open(&s, bad, len), 0);
	at = (uint8_t *)area_docs(&s, mid, &dl) - 1;
	*at = 3;
	ck_assert_int_eq(read_all(&s, 0), -1);
	*at = 1;
	ck_assert_int_eq(read_all(&s, 0), -1);

	/* D past the segment's end: the last term's. */
	memcpy(bad, seg, len);
	d = area_docs(&s, last, &dl);
	ck_assert_uint_lt(len - (d - bad), 127);
	*(uint8_t *)(d - 1) = 127;
	ck_assert_int_eq(read_all(&s, 0), -1);
	raw_write(&t, IDB_SEGS, kb, 8, bad, len);
	check_fails(&t, "its postings are damaged");

	/*
	 * A tf one less: the cursor reads what it is told, but the
	 * positions end before the next term's area, which the check
	 * finds; one more, and they run into it.
	 */
	memcpy(bad, seg, len);
	at = (uint8_t *)area_docs(&s, mid, &dl) + 1;
	*at = 2;
	ck_assert_int_eq(read_all(&s, 0), 0);
	raw_write(&t, IDB_SEGS, kb, 8, bad, len);
	check_fails(&t, "its postings are damaged");
	*at = 4;
	ck_assert_int_eq(read_all(&s, 0), 0);
	raw_write(&t, IDB_SEGS, kb, 8, bad, len);
	check_fails(&t, "its postings are damaged");

	/*
	 * Cut inside the last term's positions, the header's size made to
	 * agree, in memory of its own size: the docs read, the positions
	 * do not, and nothing is read past the end.
	 */
	free(bad);
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	d = area_docs(&s, last, &dl);
	cut = d + dl - seg;
	bad = xmalloc(cut);
	memcpy(bad, seg, cut);
	((struct ixseghdr *)bad)->h_size = cut;
	ck_assert_int_eq(ixseg_open(&s, bad, cut), 0);
	ck_assert_int_eq(walk_all(&s), 0);
	ck_assert_int_eq(read_all(&s, 0), -1);
	ck_assert_int_eq(read_all(&s, 1), -1);
	free(bad);

	/* Put back, it is sound again. */
	raw_write(&t, IDB_SEGS, kb, 8, seg, len);
	check_ok(&t);
	free(seg);
	tix_close(&t);
}
END_TEST

/* The one-segment check on a segment in memory: its message, or "". */
static const char *
seg_check(const uint8_t *seg, size_t len)
{
	static char	 msg[256];
	struct ixseg	 s;
	int		 rv;

	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	msg[0] = '\0';
	rv = index_check_seg(&s, 1, msg, sizeof(msg));
	ck_assert_int_eq(rv, msg[0] != '\0');
	return (msg);
}

/*
 * Damage that the cursor reads through, as it must to stay fast, and
 * the check finds: a posting of the same chunk as the one before,
 * postings that start past where the header says, cids or a position
 * past 32 bits, a QSG1 term's positions that end before or after the
 * next term's area starts.
 */
START_TEST(test_segment_check)
{
	struct tix	 t;
	struct tdoc	 d;
	struct ixseg	 s;
	struct ixseghdr	*h;
	struct ixpost	 p;
	uint8_t		 kb[8], *seg, *bad, *old, *wide;
	const uint8_t	*c;
	uint64_t	 dl;
	uint32_t	 term, dup = UINT32_MAX, one = UINT32_MAX;
	size_t		 len, olen, plen, at, wlen;

	tix_open(&t);
	memset(&d, 0, sizeof(d));
	d.d_id = "a";
	d.d_text = "the fox saw the fox and the dog|the dog ran";
	add_doc(&t, &d);
	commit(&t, NULL);
	util_put_be64(kb, 1);
	seg = raw_get(&t, IDB_SEGS, kb, 8, &len);
	ck_assert_str_eq(seg_check(seg, len), "");
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	/* A term of both chunks, its docs one byte each: 0, tf, 1, tf. */
	for (term = 0; term < s.s_hdr->h_nterms; term++) {
		c = area_docs(&s, term, &dl);
		if (dl == 4 && s.s_dict[term].e_df == 2 && c[2] == 1)
			dup = term;
	}
	ck_assert_uint_ne(dup, UINT32_MAX);
	bad = xmalloc(len);

	/* The second posting of the first chunk again. */
	memcpy(bad, seg, len);
	ck_assert_int_eq(ixseg_open(&s, bad, len), 0);
	*(uint8_t *)(area_docs(&s, dup, &dl) + 2) = 0;
	ck_assert_int_eq(walk_all(&s), 0);
	ck_assert_ptr_nonnull(strstr(seg_check(bad, len),
	    "postings are damaged"));
	raw_write(&t, IDB_SEGS, kb, 8, bad, len);
	check_fails(&t, "its postings are damaged");
	raw_write(&t, IDB_SEGS, kb, 8, seg, len);
	check_ok(&t);

	/* The first term's area past where the postings start. */
	memcpy(bad, seg, len);
	h = (struct ixseghdr *)bad;
	ck_assert_uint_le(h->h_post + 8, len);
	h->h_post += 8;
	ck_assert_ptr_nonnull(strstr(seg_check(bad, len),
	    "term 0: its postings are damaged"));

	/* Chunks from the last cid on, and past it. */
	memcpy(bad, seg, len);
	h->h_base = UINT32_MAX - 1;
	ck_assert_str_eq(seg_check(bad, len), "");
	h->h_base = UINT32_MAX;
	ck_assert_ptr_nonnull(strstr(seg_check(bad, len),
	    "its chunks run past the last cid"));

	/*
	 * The last position of the last term 2^32 further, in a varint 4
	 * bytes longer, the header's size made to agree: past 32 bits,
	 * where ixpost_pos would wrap it.
	 */
	ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
	ixpost_init(&p, &s, s.s_hdr->h_nterms - 1);
	while (ixpost_next(&p) == 1)
		;
	ck_assert_ptr_nonnull(c = ixpost_posbuf(&p, &plen));
	at = c + plen - seg;
	ck_assert_uint_lt(seg[at - 1], 0x80);
	wlen = (at + 4 + 7) & ~(size_t)7;
	wide = xcalloc(1, wlen);
	memcpy(wide, seg, at - 1);
	memcpy(wide + at - 1, "\x80\x80\x80\x80\x10", 5);
	wide[at - 1] |= seg[at - 1];
	((struct ixseghdr *)wide)->h_size = wlen;
	ck_assert_int_eq(ixseg_open(&s, wide, wlen), 0);
	ck_assert_int_eq(walk_all(&s), 0);
	ck_assert_ptr_nonnull(strstr(seg_check(wide, wlen),
	    "postings are damaged"));
	free(wide);

	/*
	 * QSG1: a term of one posting with a tf of 2 or more, one byte,
	 * not the last term.  A tf one less ends its positions before
	 * the next term's area, one more reads into it.
	 */
	old = seg_qsg1(seg, len, &olen);
	ck_assert_str_eq(seg_check(old, olen), "");
	ck_assert_int_eq(ixseg_open(&s, old, olen), 0);
	for (term = 0; term + 1 < s.s_hdr->h_nterms; term++) {
		c = old + s.s_dict[term].e_post;
		if (s.s_dict[term].e_df == 1 && c[0] < 0x80 && c[1] >= 2 &&
		    c[1] < 0x7f)
			one = term;
	}
	ck_assert_uint_ne(one, UINT32_MAX);
	old[s.s_dict[one].e_post + 1]--;
	ck_assert_int_eq(walk_all(&s), 0);
	ck_assert_ptr_nonnull(strstr(seg_check(old, olen),
	    "postings are damaged"));
	old[s.s_dict[one].e_post + 1] += 2;
	ck_assert_int_eq(walk_all(&s), 0);
	ck_assert_ptr_nonnull(strstr(seg_check(old, olen),
	    "postings are damaged"));
	free(old);
	free(bad);
	free(seg);
	tix_close(&t);
}
END_TEST

/* BM25. */

static double
idf(double n, double df)
{
	return (log(1.0 + (n - df + 0.5) / (df + 0.5)));
}

static double
tfw(double tf, double dl, double avgdl, double k1, double b)
{
	return (tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl)));
}

/* BM25 alone: the defaults without the rescoring of the first hits. */
static void
bm25_opts(struct search_opts *so)
{
	search_opts_defaults(so);
	so->so_window = 0;
}

/* 4, 6 and 2 words: 12 words in 3 chunks, avgdl 4. */
static void
bm25_corpus(struct tix *t, struct ixcommit *res)
{
	struct tdoc	 d;

	memset(&d, 0, sizeof(d));
	d.d_id = "d1";
	d.d_text = "apple banana apple cherry";
	add_doc(t, &d);
	d.d_id = "d2";
	d.d_text = "banana cherry date elderberry fig grape";
	d.d_attr = "lang=en";
	add_doc(t, &d);
	d.d_id = "d3";
	d.d_text = "apple fig";
	d.d_attr = NULL;
	add_doc(t, &d);
	commit(t, res);
}

START_TEST(test_bm25)
{
	struct tix		 t;
	struct search_opts	 so;
	struct search_result	 sr;
	struct ixstats		 st;
	const double		 k1 = 1.2, b = 0.75, n = 3, avgdl = 12.0 / 3;
	double			 want;

	tix_open(&t);
	bm25_opts(&so);
	bm25_corpus(&t, NULL);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_chunks, 3);
	ck_assert_uint_eq(st.is_tokens, 12);

	/* apple: df 2; tf 2 in d1 (dl 4), tf 1 in d3 (dl 2). */
	search(&t, "apple", &so, &sr);
	ck_assert_uint_eq(sr.sr_total, 2);
	ck_assert_uint_eq(sr.sr_n, 2);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d1");
	ck_assert_str_eq(sr.sr_hits[1].sh_extid, "d3");
	want = idf(n, 2) * tfw(2, 4, avgdl, k1, b);
	ck_assert_double_eq_tol(sr.sr_hits[0].sh_score, want, 1e-4);
	want = idf(n, 2) * tfw(1, 2, avgdl, k1, b);
	ck_assert_double_eq_tol(sr.sr_hits[1].sh_score, want, 1e-4);
	search_result_free(&sr);

	/* fig: the shorter chunk wins at equal tf. */
	search(&t, "fig", &so, &sr);
	ck_assert_uint_eq(sr.sr_n, 2);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d3");
	ck_assert_double_eq_tol(sr.sr_hits[0].sh_score,
	    idf(n, 2) * tfw(1, 2, avgdl, k1, b), 1e-4);
	ck_assert_str_eq(sr.sr_hits[1].sh_extid, "d2");
	ck_assert_double_eq_tol(sr.sr_hits[1].sh_score,
	    idf(n, 2) * tfw(1, 6, avgdl, k1, b), 1e-4);
	search_result_free(&sr);

	/* Two words: a chunk's score is the sum over the words it has. */
	search(&t, "banana date", &so, &sr);
	ck_assert_uint_eq(sr.sr_total, 2);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d2");
	want = idf(n, 2) * tfw(1, 6, avgdl, k1, b) +
	    idf(n, 1) * tfw(1, 6, avgdl, k1, b);
	ck_assert_double_eq_tol(sr.sr_hits[0].sh_score, want, 1e-4);
	ck_assert_str_eq(sr.sr_hits[1].sh_extid, "d1");
	want = idf(n, 2) * tfw(1, 4, avgdl, k1, b);
	ck_assert_double_eq_tol(sr.sr_hits[1].sh_score, want, 1e-4);
	search_result_free(&sr);

	/* k1 and b are the caller's. */
	bm25_opts(&so);
	so.so_k1 = 2.0;
	so.so_b = 0.5;
	want = idf(n, 2) * tfw(2, 4, avgdl, 2.0, 0.5);
	ck_assert_double_eq_tol(score_of(&t, "apple", &so, "d1"), want, 1e-4);
	so.so_b = 0.0;
	ck_assert_double_eq_tol(score_of(&t, "fig", &so, "d3"),
	    score_of(&t, "fig", &so, "d2"), 1e-9);

	/* A new batch moves N, df and avgdl. */
	commit_one(&t, "d4", "apple banana", NULL);
	bm25_opts(&so);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_tokens, 14);
	want = idf(4, 3) * tfw(1, 2, 14.0 / 4, k1, b);
	ck_assert_double_eq_tol(score_of(&t, "apple", &so, "d4"), want,
	    1e-4);
	want = idf(4, 3) * tfw(1, 2, 14.0 / 4, k1, b) + idf(4, 3) *
	    tfw(1, 2, 14.0 / 4, k1, b);
	ck_assert_double_eq_tol(score_of(&t, "banana apple", &so, "d4"),
	    want, 1e-4);
	tix_close(&t);
}
END_TEST

/* The df of a key of g, by its stem; -1 if g lacks it. */
static int64_t
global_df(const struct search_global *g, const char *stem)
{
	size_t	 i, len = strlen(stem);

	for (i = 0; i < g->sg_nterms; i++)
		if (g->sg_terms[i].gt_len == len + 1 &&
		    g->sg_terms[i].gt_key[0] == IX_BODY &&
		    memcmp(g->sg_terms[i].gt_key + 1, stem, len) == 0)
			return (g->sg_terms[i].gt_df);
	return (-1);
}

/*
 * A query's statistics are N, the live chunks, their tokens and each
 * term key's df; a search given them scores as with its own, given
 * other figures it scores with those (BM25 over 6 chunks where apple is
 * in 4), and a term they lack keeps its own df.  With so_split the
 * hits are by BM25 and the rescoring's bonus is apart.
 */
START_TEST(test_bm25_global)
{
	struct tix		 t;
	struct search_opts	 so;
	struct search_result	 sr;
	struct search_global	 g, g2, g3;
	const double		 k1 = 1.2, b = 0.75, avgdl = 12.0 / 3;
	char			 err[256];
	double			 plain, split, bonus;

	tix_open(&t);
	bm25_opts(&so);
	bm25_corpus(&t, NULL);
	ck_assert_int_eq(search_stats(&t.t_ix, t.t_tk, "apple banana", &so,
	    &g, err, sizeof(err)), 0);
	ck_assert_uint_eq(g.sg_chunks, 3);
	ck_assert_uint_eq(g.sg_live, 3);
	ck_assert_uint_eq(g.sg_tokens, 12);
	ck_assert_uint_eq(g.sg_nterms, 2);
	ck_assert_int_eq(global_df(&g, "appl"), 2);
	ck_assert_int_eq(global_df(&g, "banana"), 2);

	/* Its own figures: the same scores. */
	plain = score_of(&t, "apple banana", &so, "d1");
	so.so_global = &g;
	ck_assert_double_eq_tol(score_of(&t, "apple banana", &so, "d1"),
	    plain, 1e-12);

	/* Twice the corpus elsewhere: N 6, apple in 4, avgdl still 4. */
	memset(&g2, 0, sizeof(g2));
	ck_assert_int_eq(search_global_add(&g2, &g), 0);
	ck_assert_int_eq(search_global_add(&g2, &g), 0);
	ck_assert_uint_eq(g2.sg_chunks, 6);
	ck_assert_int_eq(global_df(&g2, "appl"), 4);
	so.so_global = &g2;
	ck_assert_double_eq_tol(score_of(&t, "apple", &so, "d1"),
	    idf(6, 4) * tfw(2, 4, avgdl, k1, b), 1e-6);
	ck_assert_double_ne_tol(score_of(&t, "apple", &so, "d1"),
	    idf(3, 2) * tfw(2, 4, avgdl, k1, b), 1e-3);

	/* banana left out: its df stays 2, of 30 chunks of mean length 2. */
	g3 = g;
	g3.sg_chunks = 30;
	g3.sg_live = 30;
	g3.sg_tokens = 60;
	g3.sg_nterms = 0;
	so.so_global = &g3;
	ck_assert_double_eq_tol(score_of(&t, "banana", &so, "d1"),
	    idf(30, 2) * tfw(1, 4, 2.0, k1, b), 1e-6);

	/* Split: BM25 alone, the bonus apart; together, the plain score. */
	search_opts_defaults(&so);
	plain = score_of(&t, "apple cherry", &so, "d1");
	so.so_split = 1;
	search(&t, "apple cherry", &so, &sr);
	ck_assert_uint_ge(sr.sr_n, 1);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d1");
	split = sr.sr_hits[0].sh_score;
	bonus = sr.sr_hits[0].sh_bonus;
	search_result_free(&sr);
	ck_assert_double_gt(bonus, 0.0);
	ck_assert_double_eq_tol(split, idf(3, 2) * tfw(2, 4, avgdl, k1, b) +
	    idf(3, 2) * tfw(1, 4, avgdl, k1, b), 1e-6);
	ck_assert_double_eq_tol(split + bonus, plain, 1e-6);
	tix_close(&t);
}
END_TEST

/*
 * Dead chunks count in df until the merger purges them, so they count
 * in N as well: a corpus delivered again, unchanged, keeps its ranking
 * and its scores positive, and compaction gives the first scores back.
 * The mean length is that of the live chunks.
 */
START_TEST(test_bm25_dead)
{
	struct tix		 t;
	struct ixcommit		 res;
	struct ixstats		 st;
	struct search_result	 sr;
	struct search_opts	 so;
	const double		 k1 = 1.2, b = 0.75;
	int			 i;

	tix_open(&t);
	bm25_opts(&so);
	bm25_corpus(&t, NULL);
	ck_assert_str_eq(ids(&t, "apple", NULL, NULL), "d1,d3");
	for (i = 0; i < 2; i++) {
		bm25_corpus(&t, &res);
		ck_assert_uint_eq(res.ic_unchanged, 3);
	}
	stats(&t, &st);
	ck_assert_uint_eq(st.is_chunks, 3);
	ck_assert_uint_eq(st.is_dead, 6);
	ck_assert_uint_eq(st.is_tokens, 12);

	/* N 9 chunks in segments, apple in 6 of them, avgdl 12 / 3. */
	search(&t, "apple", &so, &sr);
	ck_assert_uint_eq(sr.sr_total, 2);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d1");
	ck_assert_str_eq(sr.sr_hits[1].sh_extid, "d3");
	ck_assert_double_gt(sr.sr_hits[1].sh_score, 0.0);
	ck_assert_double_eq_tol(sr.sr_hits[0].sh_score,
	    idf(9, 6) * tfw(2, 4, 4, k1, b), 1e-4);
	search_result_free(&sr);
	search(&t, "banana date", &so, &sr);
	ck_assert_uint_eq(sr.sr_n, 2);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d2");
	ck_assert_double_gt(sr.sr_hits[1].sh_score, 0.0);
	search_result_free(&sr);

	tix_compact(&t);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_uint_eq(st.is_tokens, 12);
	ck_assert_double_eq_tol(score_of(&t, "apple", &so, "d1"),
	    idf(3, 2) * tfw(2, 4, 4, k1, b), 1e-4);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

/*
 * Title and text are fields of one BM25 (BM25F): a word's tf in each,
 * times the field's weight, summed before saturation, so that a word in
 * both counts more than in one, but less than the two apart.
 */
START_TEST(test_title_weight)
{
	struct tix		 t;
	struct tdoc		 d;
	struct search_opts	 so;
	double			 k1, b, w;

	tix_open(&t);
	memset(&d, 0, sizeof(d));
	/* Five words each, the title's included: the same dl. */
	d.d_id = "titled";
	d.d_title = "Zebra";
	d.d_text = "kiwi lemon mango nectarine";
	add_doc(&t, &d);
	d.d_id = "body";
	d.d_title = "Other";
	d.d_text = "zebra lemon mango nectarine";
	add_doc(&t, &d);
	d.d_id = "neither";
	d.d_title = "Other";
	d.d_text = "kiwi lemon mango nectarine";
	add_doc(&t, &d);
	d.d_id = "both";
	d.d_title = "Zebra";
	d.d_text = "zebra lemon mango nectarine";
	add_doc(&t, &d);
	commit(&t, NULL);

	ck_assert_str_eq(ids(&t, "zebra", NULL, NULL), "both,titled,body");
	/* BM25 alone, without the rescoring of the first hits. */
	search_opts_defaults(&so);
	so.so_window = 0;
	k1 = so.so_k1;
	b = so.so_b;
	w = idf(4, 2);	/* df: the chunks with it in their text */
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "body"),
	    w * tfw(1, 5, 5, k1, b), 1e-4);
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "titled"),
	    w * tfw(so.so_wtitle, 5, 5, k1, b), 1e-4);
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "both"),
	    w * tfw(so.so_wtitle + 1, 5, 5, k1, b), 1e-4);
	ck_assert_double_lt(score_of(&t, "zebra", &so, "both"),
	    score_of(&t, "zebra", &so, "titled") +
	    score_of(&t, "zebra", &so, "body"));
	so.so_wtitle = 3.0;
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "titled"),
	    w * tfw(3, 5, 5, k1, b), 1e-4);
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "both"),
	    w * tfw(4, 5, 5, k1, b), 1e-4);
	/* The body weight scales body matches only. */
	so.so_wtitle = 1.0;
	so.so_wbody = 0.5;
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "body"),
	    w * tfw(0.5, 5, 5, k1, b), 1e-4);
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "titled"),
	    w * tfw(1, 5, 5, k1, b), 1e-4);
	ck_assert_double_eq_tol(score_of(&t, "zebra", &so, "both"),
	    w * tfw(1.5, 5, 5, k1, b), 1e-4);
	tix_close(&t);
}
END_TEST

/* The ids of a search with these options, best first. */
static const char *
ids_opts(struct tix *t, const char *query, const struct search_opts *so)
{
	struct search_result	 sr;

	search(t, query, so, &sr);
	return (ids_join(&sr));
}

/*
 * The rescoring of the first hits: of chunks BM25 ties (the same words
 * as often, the same length), the query's words in a row come first,
 * then close in the other order, then scattered; the word as typed
 * comes before another word of its stem.  Without it, the ties go to
 * the older chunk; pruned or not, the same order.
 */
START_TEST(test_rank_window)
{
	static const char *const texts[][2] = {
		{ "far", "red kiwi lemon mango nectarine olive plum fox" },
		{ "reversed", "kiwi lemon fox red mango nectarine olive plum" },
		{ "near", "kiwi lemon red fox mango nectarine olive plum" },
		{ "stem", "quince walls plaster rowan" },
		{ "typed", "quince walls plastered rowan" },
	};
	struct tix		 t;
	struct tdoc		 d;
	struct search_opts	 so, ex;
	size_t			 i;

	tix_open(&t);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memset(&d, 0, sizeof(d));
		d.d_id = texts[i][0];
		d.d_title = "Note";
		d.d_text = texts[i][1];
		add_doc(&t, &d);
	}
	commit(&t, NULL);
	search_opts_defaults(&so);
	ex = so;
	ex.so_exact = 1;
	ck_assert_str_eq(ids_opts(&t, "red fox", &so), "near,reversed,far");
	ck_assert_str_eq(ids_opts(&t, "red fox", &ex), "near,reversed,far");
	ck_assert_str_eq(ids_opts(&t, "fox red", &so), "reversed,near,far");
	ck_assert_str_eq(ids_opts(&t, "plastered", &so), "typed,stem");
	ck_assert_str_eq(ids_opts(&t, "plastered", &ex), "typed,stem");
	ck_assert_str_eq(ids_opts(&t, "Plaster", &so), "stem,typed");
	/* Each part on its own; and none, BM25's ties. */
	so.so_wexact = 0.0;
	ck_assert_str_eq(ids_opts(&t, "red fox", &so), "near,reversed,far");
	ck_assert_str_eq(ids_opts(&t, "plastered", &so), "stem,typed");
	so.so_wexact = 0.3;
	so.so_wprox = 0.0;
	ck_assert_str_eq(ids_opts(&t, "red fox", &so), "far,reversed,near");
	ck_assert_str_eq(ids_opts(&t, "plastered", &so), "typed,stem");
	so.so_wprox = 0.5;
	so.so_window = 0;
	ck_assert_str_eq(ids_opts(&t, "red fox", &so), "far,reversed,near");
	ck_assert_str_eq(ids_opts(&t, "plastered", &so), "stem,typed");
	/* Past the window, hits keep BM25's order. */
	so.so_window = 1;
	ck_assert_str_eq(ids_opts(&t, "red fox", &so), "far,reversed,near");
	tix_close(&t);
}
END_TEST

/* The query language. */

static void
add_texts(struct tix *t, const char *const *texts)
{
	struct tdoc	 d;
	char		 id[16];
	int		 i;

	for (i = 0; texts[i] != NULL; i++) {
		memset(&d, 0, sizeof(d));
		snprintf(id, sizeof(id), "d%d", i + 1);
		d.d_id = id;
		d.d_text = texts[i];
		add_doc(t, &d);
	}
	commit(t, NULL);
}

START_TEST(test_query_boolean)
{
	static const char *const texts[] = {
		"alpha beta gamma delta",
		"alpha alpha beta sigma",
		"alpha gamma sigma tau",
		"beta delta omega tau",
		"omega sigma tau kappa",
		NULL
	};
	struct tix		 t;
	struct search_opts	 so;
	struct search_result	 sr;

	tix_open(&t);
	add_texts(&t, texts);

	/* OR by default: more matches and a higher tf rank first. */
	ck_assert_str_eq(ids(&t, "alpha beta", NULL, NULL), "d2,d1,d3,d4");
	ck_assert_str_eq(ids(&t, "alpha OR beta", NULL, NULL),
	    "d2,d1,d3,d4");
	ck_assert_str_eq(ids(&t, "Alpha, BETA!", NULL, NULL), "d2,d1,d3,d4");
	ck_assert_str_eq(ids(&t, "+alpha beta", NULL, NULL), "d2,d1,d3");
	ck_assert_str_eq(ids(&t, "alpha -beta", NULL, NULL), "d3");
	ck_assert_str_eq(ids(&t, "beta -delta", NULL, NULL), "d2");
	ck_assert_str_eq(ids(&t, "alpha AND beta", NULL, NULL), "d2,d1");
	ck_assert_str_eq(ids(&t, "alpha AND beta AND gamma", NULL, NULL),
	    "d1");
	ck_assert_str_eq(ids(&t, "alpha AND kappa", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "+tau +sigma -kappa", NULL, NULL), "d3");
	ck_assert_str_eq(ids(&t, "nothere", NULL, NULL), "");

	/* The total counts every match; the hits stop at so_n. */
	search_opts_defaults(&so);
	so.so_n = 2;
	search(&t, "tau sigma", &so, &sr);
	ck_assert_uint_eq(sr.sr_total, 4);
	ck_assert_uint_eq(sr.sr_n, 2);
	ck_assert_double_ge(sr.sr_hits[0].sh_score, sr.sr_hits[1].sh_score);
	search_result_free(&sr);
	so.so_n = 100;
	search(&t, "tau sigma", &so, &sr);
	ck_assert_uint_eq(sr.sr_n, 4);
	search_result_free(&sr);

	/* An empty query is an error with a reason. */
	ck_assert_int_eq(search_run(&t.t_ix, t.t_tk, "  ", &so, &sr), -1);
	ck_assert_str_eq(sr.sr_error, "empty query");
	ck_assert_int_eq(search_run(&t.t_ix, t.t_tk, "!!", &so, &sr), -1);
	tix_close(&t);
}
END_TEST

/* The query's error for q, which must be refused. */
static const char *
refused(struct tix *t, const char *q)
{
	static struct search_result	 sr;
	struct search_opts		 so;

	search_opts_defaults(&so);
	ck_assert_msg(search_run(&t->t_ix, t->t_tk, q, &so, &sr) == -1,
	    "\"%s\" was not refused", q);
	return (sr.sr_error);
}

START_TEST(test_query_operators)
{
	static const char *const texts[] = {
		"alpha beta gamma delta",
		"alpha alpha beta sigma",
		"alpha gamma sigma tau",
		"beta delta omega tau",
		"omega sigma tau kappa",
		NULL
	};
	struct tix	 t;

	tix_open(&t);
	add_texts(&t, texts);

	/* NOT excludes what follows it, as - does. */
	ck_assert_str_eq(ids(&t, "alpha NOT beta", NULL, NULL), "d3");
	ck_assert_str_eq(ids(&t, "NOT beta alpha", NULL, NULL), "d3");
	ck_assert_str_eq(ids(&t, "alpha AND NOT beta", NULL, NULL), "d3");
	ck_assert_str_eq(ids(&t, "tau NOT \"tau kappa\"", NULL, NULL),
	    "d3,d4");
	/* AND binds its neighbours; a word beside them stays optional. */
	ck_assert_str_eq(ids(&t, "beta AND delta omega", NULL, NULL),
	    "d4,d1");
	ck_assert_str_eq(ids(&t, "omega beta AND delta", NULL, NULL),
	    "d4,d1");
	/* Only in capitals, unsigned and unquoted. */
	ck_assert_str_eq(ids(&t, "kappa not", NULL, NULL), "d5");
	ck_assert_str_eq(ids(&t, "kappa +NOT", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "kappa \"AND\"", NULL, NULL), "d5");

	/* What cannot mean anything is refused, with a reason. */
	ck_assert_str_eq(refused(&t, "alpha NOT"),
	    "NOT needs a word or a phrase after it");
	ck_assert_str_eq(refused(&t, "AND alpha"),
	    "AND needs a word or a phrase before it");
	ck_assert_str_eq(refused(&t, "alpha OR"),
	    "OR needs a word or a phrase after it");
	ck_assert_str_eq(refused(&t, "alpha AND OR beta"),
	    "OR needs a word or a phrase before it");
	ck_assert_str_eq(refused(&t, "alpha NOT NOT beta"),
	    "NOT NOT: say what to exclude after NOT");
	ck_assert_str_eq(refused(&t, "alpha NOT -beta"),
	    "NOT -: say NOT word or -word, not both");
	ck_assert_ptr_nonnull(strstr(refused(&t, "alpha AND beta OR gamma"),
	    "AND and OR in one query"));
	ck_assert_str_eq(refused(&t, "alpha \"beta gamma"),
	    "unbalanced quote: the phrase at byte 6 has no closing quote");
	ck_assert_str_eq(refused(&t, "\""),
	    "unbalanced quote: the phrase at byte 0 has no closing quote");
	ck_assert_str_eq(refused(&t, "-alpha"),
	    "nothing to look for: every word of the query is excluded");
	ck_assert_str_eq(refused(&t, "NOT alpha -\"beta gamma\""),
	    "nothing to look for: every word of the query is excluded");
	tix_close(&t);
}
END_TEST

START_TEST(test_query_phrase)
{
	static const char *const texts[] = {
		"new york city hall",
		"york new city hall",
		"new jersey and york",
		"new|york city",
		NULL
	};
	struct tix	 t;

	tix_open(&t);
	add_texts(&t, texts);
	ck_assert_str_eq(ids(&t, "\"new york\"", NULL, NULL), "d1");
	ck_assert_str_eq(ids(&t, "\"york new\"", NULL, NULL), "d2");
	ck_assert_str_eq(ids(&t, "\"New York City\"", NULL, NULL), "d1");
	ck_assert_str_eq(idset(&t, "\"york city\"", NULL, NULL), "d1,d4");
	ck_assert_str_eq(ids(&t, "\"city new\"", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "\"new city\"", NULL, NULL), "d2");
	ck_assert_str_eq(idset(&t, "\"city hall\"", NULL, NULL), "d1,d2");
	ck_assert_str_eq(ids(&t, "\"jersey york\"", NULL, NULL), "");
	/* An excluded phrase excludes the phrase, not its words. */
	ck_assert_str_eq(ids(&t, "hall -\"new york\"", NULL, NULL), "d2");
	ck_assert_str_eq(idset(&t, "hall -\"jersey city\"", NULL, NULL),
	    "d1,d2");
	ck_assert_str_eq(refused(&t, "-\"new york\""),
	    "nothing to look for: every word of the query is excluded");
	ck_assert_str_eq(ids(&t, "\"new york\" \"city hall\"", NULL, NULL),
	    "d1");
	/* Not across chunks: d4 has "new" and "york" in two. */
	ck_assert_str_eq(idset(&t, "new york", NULL, NULL),
	    "d1,d2,d3,d4,d4");
	/* One quoted word is a word. */
	ck_assert_str_eq(idset(&t, "\"jersey\"", NULL, NULL), "d3");
	tix_close(&t);
}
END_TEST

START_TEST(test_query_prefix)
{
	static const char *const texts[] = {
		"connection pooling for databases",
		"conference schedule and talks",
		"the category of cats",
		"icon connected",
		NULL
	};
	struct tix		 t;
	struct search_result	 sr;

	tix_open(&t);
	add_texts(&t, texts);
	ck_assert_str_eq(ids(&t, "conn*", NULL, NULL), "d4,d1");
	ck_assert_str_eq(ids(&t, "CONN*", NULL, NULL), "d4,d1");
	ck_assert_str_eq(ids(&t, "conf*", NULL, NULL), "d2");
	ck_assert_str_eq(idset(&t, "con*", NULL, NULL), "d1,d2,d4");
	ck_assert_str_eq(ids(&t, "+conn* +pooling", NULL, NULL), "d1");
	ck_assert_str_eq(ids(&t, "conn* -icon", NULL, NULL), "d1");
	ck_assert_str_eq(ids(&t, "categ*", NULL, NULL), "d3");
	/* Not stemmed: "cats" would stem to "cat", a prefix of category. */
	ck_assert_str_eq(ids(&t, "cats*", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "zz*", NULL, NULL), "");
	/* The snippet marks the word as written in the text. */
	search(&t, "pool conn*", NULL, &sr);
	ck_assert_uint_eq(sr.sr_n, 2);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "d1");
	ck_assert_str_eq(sr.sr_hits[0].sh_snippet,
	    "**connection** **pooling** for databases");
	ck_assert_str_eq(sr.sr_hits[1].sh_snippet, "icon **connected**");
	search_result_free(&sr);
	tix_close(&t);
}
END_TEST

/*
 * A prefix with more than SEARCH_PREFIX_MAX words scores as its first
 * SEARCH_PREFIX_MAX words in the whole index do, however they lie:
 * here the even words in one segment and the odd in another, each
 * segment's first words reaching past the index's, then all in blocks.
 */
START_TEST(test_query_prefix_layout)
{
	struct tix	 t;
	struct tdoc	 d;
	char		 id[16], text[32];
	double		 before, after;
	int		 i, half;

	tix_open(&t);
	for (half = 0; half < 2; half++) {
		for (i = half; i < 3 * SEARCH_PREFIX_MAX; i += 2) {
			snprintf(id, sizeof(id), "d%d", i);
			snprintf(text, sizeof(text), "px%03d filler", i);
			memset(&d, 0, sizeof(d));
			d.d_id = id;
			d.d_text = text;
			add_doc(&t, &d);
		}
		commit(&t, NULL);
	}
	before = score_of(&t, "px*", NULL, "d0");
	ck_assert_double_gt(before, 0.0);
	tix_compact(&t);
	after = score_of(&t, "px*", NULL, "d0");
	ck_assert_double_eq_tol(before, after, 1e-9);
	/* The words past the first SEARCH_PREFIX_MAX are not expanded. */
	ck_assert_double_eq(score_of(&t, "px*", NULL, "d190"), -1.0);
	tix_close(&t);
}
END_TEST

START_TEST(test_query_filters)
{
	struct tix	 t;
	struct tdoc	 d;
	char		 big[400];

	tix_open(&t);
	memset(&d, 0, sizeof(d));
	d.d_id = "f1";
	d.d_text = "shared words one";
	d.d_type = DOC_TEXT;
	add_doc(&t, &d);
	d.d_id = "f2";
	d.d_tenant = "b";
	d.d_text = "shared words two";
	add_doc(&t, &d);
	d.d_id = "f3";
	d.d_tenant = NULL;
	d.d_type = DOC_JSON;
	d.d_attr = "src=x";
	d.d_text = "shared words three";
	add_doc(&t, &d);
	d.d_id = "f4";
	d.d_attr = "src=y";
	d.d_text = "shared words|shared four";
	add_doc(&t, &d);
	commit(&t, NULL);

	ck_assert_str_eq(idset(&t, "shared", NULL, NULL), "f1,f2,f3,f4,f4");
	ck_assert_str_eq(idset(&t, "shared", "tenant=a", NULL),
	    "f1,f3,f4,f4");
	ck_assert_str_eq(idset(&t, "shared", "tenant=b", NULL), "f2");
	ck_assert_str_eq(idset(&t, "shared", "type=text", NULL), "f1,f2");
	ck_assert_str_eq(idset(&t, "shared", "type=json", NULL), "f3,f4,f4");
	ck_assert_str_eq(idset(&t, "shared", "tenant=a", "type=text"), "f1");
	ck_assert_str_eq(idset(&t, "shared", "tenant=b", "type=json"), "");
	ck_assert_str_eq(idset(&t, "shared", "src=x", NULL), "f3");
	ck_assert_str_eq(idset(&t, "shared", "src=y", "tenant=a"), "f4,f4");
	ck_assert_str_eq(idset(&t, "shared", "src=z", NULL), "");
	ck_assert_str_eq(idset(&t, "shared", "source=/data/f2", NULL), "f2");
	ck_assert_str_eq(idset(&t, "four", "src=y", NULL), "f4");
	/* Exact: no prefix, no case folding, no partial names. */
	ck_assert_str_eq(idset(&t, "shared", "tenant=", NULL), "");
	ck_assert_str_eq(idset(&t, "shared", "src=X", NULL), "");
	ck_assert_str_eq(idset(&t, "shared", "type=tex", NULL), "");
	/* Filter words are not text. */
	ck_assert_str_eq(idset(&t, "json", NULL, NULL), "");
	ck_assert_str_eq(idset(&t, "tenant", NULL, NULL), "");

	/* A value longer than a term is cut the same way on both sides. */
	memset(&d, 0, sizeof(d));
	memset(big, 'p', sizeof(big) - 1);
	memcpy(big, "path=", 5);
	big[sizeof(big) - 1] = '\0';
	d.d_id = "f5";
	d.d_attr = big;
	d.d_text = "shared";
	add_doc(&t, &d);
	commit(&t, NULL);
	ck_assert_uint_gt(strlen(big), IX_TERM_MAX);
	ck_assert_str_eq(idset(&t, "shared", big, NULL), "f5");
	ck_assert_str_eq(idset(&t, "shared", big, "tenant=a"), "f5");
	tix_close(&t);
}
END_TEST

START_TEST(test_snippets)
{
	struct tix		 t;
	struct tdoc		 d;
	struct search_opts	 chunks;
	struct search_result	 sr;
	struct buf		 text;
	const struct search_hit	*h;
	double			 score;
	uint32_t		 best;
	int			 i;

	search_opts_defaults(&chunks);
	chunks.so_n = 100;
	chunks.so_chunks = 1;

	tix_open(&t);
	/* A first chunk over IX_RAW_MAX bytes, stored compressed. */
	buf_init(&text);
	for (i = 0; i < 70; i++)
		buf_addstr(&text, "filler ");
	buf_addstr(&text, "the Needles are here ");
	for (i = 0; i < 40; i++)
		buf_addstr(&text, "straw ");
	buf_addstr(&text, "|a second chunk with a needle");
	ck_assert_uint_gt(strchr(buf_cstr(&text), '|') - text.b_data,
	    IX_RAW_MAX);
	memset(&d, 0, sizeof(d));
	d.d_id = "hay";
	d.d_title = "Haystack notes";
	d.d_text = buf_cstr(&text);
	add_doc(&t, &d);
	commit(&t, NULL);

	/* By document: once, its best chunk's hit, both chunks matching. */
	search(&t, "needle", &chunks, &sr);
	ck_assert_uint_eq(sr.sr_n, 2);
	best = sr.sr_hits[0].sh_chunk;
	score = sr.sr_hits[0].sh_score;
	ck_assert_uint_eq(sr.sr_hits[0].sh_matches, 1);
	search_result_free(&sr);
	search(&t, "needle", NULL, &sr);
	ck_assert_uint_eq(sr.sr_total, 2);
	ck_assert_uint_eq(sr.sr_n, 1);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "hay");
	ck_assert_uint_eq(sr.sr_hits[0].sh_matches, 2);
	ck_assert_uint_eq(sr.sr_hits[0].sh_chunk, best);
	ck_assert_double_eq(sr.sr_hits[0].sh_score, score);
	search_result_free(&sr);
	search(&t, "needle", &chunks, &sr);
	ck_assert_uint_eq(sr.sr_total, 2);
	ck_assert_uint_eq(sr.sr_n, 2);
	h = sr.sr_hits[0].sh_chunk == 0 ? &sr.sr_hits[0] : &sr.sr_hits[1];
	ck_assert_uint_eq(h->sh_chunk, 0);
	ck_assert_str_eq(h->sh_extid, "hay");
	ck_assert_str_eq(h->sh_title, "Haystack notes");
	ck_assert_str_eq(h->sh_heading, "");
	ck_assert_ptr_nonnull(strstr(h->sh_snippet,
	    "filler the **Needles** are here straw"));
	ck_assert_int_eq(strncmp(h->sh_snippet, "... filler", 10), 0);
	ck_assert_int_eq(strcmp(h->sh_snippet + strlen(h->sh_snippet) - 3,
	    "..."), 0);
	ck_assert_ptr_null(strstr(h->sh_snippet, "**filler**"));
	h = h == &sr.sr_hits[0] ? &sr.sr_hits[1] : &sr.sr_hits[0];
	ck_assert_uint_eq(h->sh_chunk, 1);
	ck_assert_str_eq(h->sh_heading, "More");
	ck_assert_str_eq(h->sh_title, "Haystack notes");
	ck_assert_str_eq(h->sh_snippet, "a second chunk with a **needle**");
	search_result_free(&sr);

	/* Every matched word is marked; excluded ones are not. */
	search(&t, "second needle -straw", NULL, &sr);
	ck_assert_uint_eq(sr.sr_n, 1);
	ck_assert_str_eq(sr.sr_hits[0].sh_snippet,
	    "a **second** chunk with a **needle**");
	/* For a program: the text without marks, the matches as ranges. */
	h = &sr.sr_hits[0];
	ck_assert_str_eq(h->sh_text, "a second chunk with a needle");
	ck_assert_uint_eq(h->sh_nhl, 2);
	ck_assert_uint_eq(h->sh_hl_off[0], 2);
	ck_assert_uint_eq(h->sh_hl_len[0], 6);
	ck_assert_uint_eq(h->sh_hl_off[1], 22);
	ck_assert_uint_eq(h->sh_hl_len[1], 6);
	search_result_free(&sr);
	search(&t, "needle", &chunks, &sr);
	h = sr.sr_hits[0].sh_chunk == 0 ? &sr.sr_hits[0] : &sr.sr_hits[1];
	ck_assert_ptr_null(strstr(h->sh_text, "**"));
	ck_assert_uint_eq(h->sh_nhl, 1);
	ck_assert_int_eq(strncmp(h->sh_text + h->sh_hl_off[0], "Needles ",
	    8), 0);
	ck_assert_uint_eq(h->sh_hl_len[0], 7);
	search_result_free(&sr);
	buf_free(&text);
	tix_close(&t);
}
END_TEST

/* Redelivery, replacement and deletion. */

START_TEST(test_update_unchanged)
{
	struct tix	 t;
	struct tdoc	 d;
	struct ixcommit	 res;
	struct ixstats	 st;
	struct ixdoc	 doc;

	tix_open(&t);
	memset(&d, 0, sizeof(d));
	d.d_id = "u1";
	d.d_text = "redelivered words|and a second chunk";
	d.d_hash = 42;
	add_doc(&t, &d);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_added, 1);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "u1", &doc), 0);
	ck_assert_uint_eq(doc.d_hash, 42);
	ck_assert_uint_eq(doc.d_nchunks, 2);
	ck_assert_uint_eq(doc.d_job, 1);

	/* The same content again: nothing changes but dead chunks. */
	add_doc(&t, &d);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_unchanged, 1);
	ck_assert_uint_eq(res.ic_added, 0);
	ck_assert_uint_eq(res.ic_replaced, 0);
	ck_assert_str_eq(ids(&t, "redelivered", NULL, NULL), "u1");
	ck_assert_str_eq(idset(&t, "chunk words", NULL, NULL), "u1,u1");
	ck_assert_int_eq(index_get_doc(&t.t_ix, "u1", &doc), 0);
	ck_assert_uint_eq(doc.d_job, 1);
	ck_assert_uint_eq(doc.d_cid, 1);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 1);
	ck_assert_uint_eq(st.is_chunks, 2);
	ck_assert_uint_eq(st.is_dead, 2);
	ck_assert_uint_eq(st.is_next_docid, 2);
	check_ok(&t);

	/* Twice in one batch: the second copy is the redelivery. */
	d.d_id = "u2";
	d.d_text = "twice in a batch";
	add_doc(&t, &d);
	add_doc(&t, &d);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_added, 1);
	ck_assert_uint_eq(res.ic_unchanged, 1);
	ck_assert_str_eq(ids(&t, "batch", NULL, NULL), "u2");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);
	ck_assert_uint_eq(st.is_dead, 3);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

/*
 * A batch committed in the background while the next one fills: the
 * second, with a new version of a document of the first, commits after
 * it, so the first's copy is replaced, and both are searchable.
 */
START_TEST(test_commit_background)
{
	struct tix		 t;
	struct tdoc		 d;
	struct ixbatch		*first, *second;
	struct ixcommitter	 cm;
	struct ixcommit		 res;
	struct ixstats		 st;
	uint64_t		 us;

	tix_open(&t);
	memset(&cm, 0, sizeof(cm));
	ck_assert_int_eq(ixbatch_commit_wait(&cm, &res, &us), 0);
	memset(&d, 0, sizeof(d));
	d.d_id = "b1";
	d.d_text = "background commit of the first";
	add_doc(&t, &d);
	d.d_id = "b2";
	d.d_text = "another of the first batch";
	add_doc(&t, &d);
	first = t.t_b;
	ixbatch_commit_start(&cm, &t.t_ix, first);
	second = t.t_b = ixbatch_new();
	d.d_id = "b1";
	d.d_text = "foreground version replaced";
	add_doc(&t, &d);
	ck_assert_int_eq(ixbatch_commit_wait(&cm, &res, &us), 0);
	ck_assert_uint_eq(res.ic_added, 2);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_added, 1);
	ck_assert_uint_eq(res.ic_replaced, 1);
	ck_assert_str_eq(ids(&t, "foreground", NULL, NULL), "b1");
	ck_assert_str_eq(ids(&t, "background", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "another", NULL, NULL), "b2");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);
	check_ok(&t);
	ixbatch_free(first);
	t.t_b = second;
	tix_close(&t);
}
END_TEST

START_TEST(test_update_replaced)
{
	struct tix	 t;
	struct tdoc	 d;
	struct ixcommit	 res;
	struct ixstats	 st;
	struct ixdoc	 doc;

	tix_open(&t);
	memset(&d, 0, sizeof(d));
	d.d_id = "r1";
	d.d_title = "Old title";
	d.d_text = "original text about walruses|more walruses";
	add_doc(&t, &d);
	commit_one(&t, "other", "walruses elsewhere", NULL);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "r1", &doc), 0);
	ck_assert_uint_eq(doc.d_docid, 1);

	memset(&d, 0, sizeof(d));
	d.d_id = "r1";
	d.d_title = "New title";
	d.d_text = "rewritten text about penguins";
	add_doc(&t, &d);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_replaced, 1);
	ck_assert_uint_eq(res.ic_added, 1);
	ck_assert_uint_eq(res.ic_unchanged, 0);
	ck_assert_str_eq(ids(&t, "walruses", NULL, NULL), "other");
	ck_assert_str_eq(ids(&t, "original", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "penguins", NULL, NULL), "r1");
	ck_assert_str_eq(ids(&t, "text", NULL, NULL), "r1");
	ck_assert_int_eq(index_get_doc(&t.t_ix, "r1", &doc), 0);
	ck_assert_uint_eq(doc.d_docid, 3);
	ck_assert_str_eq(doc.d_title, "New title");
	ck_assert_uint_eq(doc.d_nchunks, 1);
	ck_assert_uint_eq(doc.d_hash, text_hash(d.d_text, d.d_title));
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);
	ck_assert_uint_eq(st.is_chunks, 2);
	ck_assert_uint_eq(st.is_dead, 2);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

START_TEST(test_delete)
{
	struct tix	 t;
	struct ixstats	 st, st2;
	struct ixdoc	 doc;

	tix_open(&t);
	commit_one(&t, "k1", "keep this one", NULL);
	commit_one(&t, "x1", "delete this one|in two chunks", NULL);
	commit_one(&t, "k2", "keep this too", NULL);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 3);
	ck_assert_str_eq(idset(&t, "this", NULL, NULL), "k1,k2,x1");

	ck_assert_int_eq(index_delete(&t.t_ix, "x1"), 0);
	ck_assert_str_eq(idset(&t, "this chunks", NULL, NULL), "k1,k2");
	ck_assert_str_eq(ids(&t, "delete", NULL, NULL), "");
	ck_assert_int_eq(index_get_doc(&t.t_ix, "x1", &doc), INDEX_ENOENT);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "k1", &doc), 0);
	stats(&t, &st2);
	ck_assert_uint_eq(st2.is_docs, st.is_docs - 1);
	ck_assert_uint_eq(st2.is_chunks, st.is_chunks - 2);
	ck_assert_uint_eq(st2.is_dead, 2);
	/* Its 6 words no longer count in the mean length. */
	ck_assert_uint_eq(st2.is_tokens, st.is_tokens - 6);
	check_ok(&t);

	/* Gone is gone; unknown ids are not found either. */
	ck_assert_int_eq(index_delete(&t.t_ix, "x1"), INDEX_ENOENT);
	ck_assert_int_eq(index_delete(&t.t_ix, "nosuch"), INDEX_ENOENT);
	ck_assert_int_eq(index_delete(&t.t_ix, ""), INDEX_ENOENT);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "nosuch", &doc),
	    INDEX_ENOENT);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);

	/* The id can come back, as a new document. */
	commit_one(&t, "x1", "delete this one|in two chunks", NULL);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "x1", &doc), 0);
	ck_assert_uint_eq(doc.d_docid, 4);
	ck_assert_str_eq(idset(&t, "delete", NULL, NULL), "x1");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 3);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

/* Several deletes in one transaction; the pages of every document. */
static int
page_cb(const struct ixdoc *d, void *arg)
{
	struct buf	*b = arg;

	if (b->b_len > 0)
		buf_addc(b, ',');
	buf_addstr(b, d->d_extid);
	return (0);
}

START_TEST(test_delete_many)
{
	struct tix	 t;
	struct ixstats	 st;
	struct buf	 b;
	const char	*gone[] = { "d2", "nosuch", "d4", "d2", "" };
	uint64_t	 after = 0, n;
	int		 more;

	tix_open(&t);
	commit_one(&t, "d1", "one doc", NULL);
	commit_one(&t, "d2", "two doc", NULL);
	commit_one(&t, "d3", "three doc", NULL);
	commit_one(&t, "d4", "four doc", NULL);
	buf_init(&b);
	more = index_docs_page(&t.t_ix, &after, 3, page_cb, &b);
	ck_assert_int_eq(more, 1);
	ck_assert_str_eq(buf_cstr(&b), "d1,d2,d3");
	buf_reset(&b);
	ck_assert_int_eq(index_docs_page(&t.t_ix, &after, 3, page_cb, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "d4");

	/* Unknown, repeated and empty ids are left; two go. */
	ck_assert_int_eq(index_delete_many(&t.t_ix, gone, 5, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(idset(&t, "doc", NULL, NULL), "d1,d3");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);
	check_ok(&t);
	after = 0;
	buf_reset(&b);
	ck_assert_int_eq(index_docs_page(&t.t_ix, &after, 3, page_cb, &b), 0);
	ck_assert_str_eq(buf_cstr(&b), "d1,d3");
	buf_free(&b);
	tix_close(&t);
}
END_TEST

struct tchunks {
	char		 tc_text[4][4096];
	char		 tc_heading[4][64];
	uint32_t	 tc_index[4];
	size_t		 tc_n;
};

static int
chunks_cb(const struct ixchunk *ck, void *arg)
{
	struct tchunks	*tc = arg;

	ck_assert_uint_lt(tc->tc_n, 4);
	ck_assert_uint_lt(ck->ck_len, sizeof(tc->tc_text[0]));
	memcpy(tc->tc_text[tc->tc_n], ck->ck_text, ck->ck_len);
	tc->tc_text[tc->tc_n][ck->ck_len] = '\0';
	strlcpy(tc->tc_heading[tc->tc_n], ck->ck_heading,
	    sizeof(tc->tc_heading[0]));
	tc->tc_index[tc->tc_n++] = ck->ck_index;
	return (0);
}

/* A document's chunks read back: short ones raw, long ones compressed. */
START_TEST(test_doc_chunks)
{
	struct tix	 t;
	struct tchunks	 tc;
	struct ixdoc	 doc;
	char		 text[3000];
	size_t		 i;

	tix_open(&t);
	for (i = 0; i < 2000; i++)
		text[i] = "abcdefgh "[i % 9];
	memcpy(text + 2000, "|the end", 9);
	commit_one(&t, "c1", text, NULL);
	commit_one(&t, "c2", "other", NULL);

	memset(&tc, 0, sizeof(tc));
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "c1", 10, &doc, chunks_cb,
	    &tc), 0);
	ck_assert_str_eq(doc.d_extid, "c1");
	ck_assert_uint_eq(doc.d_nchunks, 2);
	ck_assert_uint_eq(tc.tc_n, 2);
	ck_assert_uint_eq(strlen(tc.tc_text[0]), 2000);
	ck_assert(memcmp(tc.tc_text[0], text, 2000) == 0);
	ck_assert_str_eq(tc.tc_text[1], "the end");
	ck_assert_str_eq(tc.tc_heading[0], "");
	ck_assert_str_eq(tc.tc_heading[1], "More");
	ck_assert_uint_eq(tc.tc_index[0], 0);
	ck_assert_uint_eq(tc.tc_index[1], 1);

	/* At most max chunks. */
	memset(&tc, 0, sizeof(tc));
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "c1", 1, &doc, chunks_cb,
	    &tc), 0);
	ck_assert_uint_eq(tc.tc_n, 1);

	memset(&tc, 0, sizeof(tc));
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "nosuch", 10, &doc,
	    chunks_cb, &tc), INDEX_ENOENT);
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "", 10, &doc, chunks_cb,
	    &tc), INDEX_ENOENT);
	ck_assert_int_eq(index_delete(&t.t_ix, "c1"), 0);
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "c1", 10, &doc, chunks_cb,
	    &tc), INDEX_ENOENT);
	ck_assert_uint_eq(tc.tc_n, 0);
	tix_close(&t);
}
END_TEST

/*
 * A document read whole (index_doc_whole: chunks, the whole title, the
 * attributes) and carried by a move's body (move.c) comes back the
 * same, from records of either format; a body cut anywhere is damaged.
 */
struct twhole {
	struct buf	*tw_body;
	const struct ixdoc *tw_doc;
	struct buf	*tw_title;
	struct buf	*tw_attrs;
	int		 tw_begun;
};

static int
whole_cb(const struct ixchunk *ck, void *arg)
{
	struct twhole	*tw = arg;

	if (!tw->tw_begun)
		move_begin(tw->tw_body, "hb", tw->tw_doc, tw->tw_title,
		    tw->tw_attrs, tw->tw_doc->d_nchunks);
	tw->tw_begun = 1;
	move_put_chunk(tw->tw_body, ck);
	return (0);
}

static void
whole_check(struct tix *t, const char *id, const char *title,
    const char *text2)
{
	struct twhole	 tw;
	struct ixdoc	 doc;
	struct move	 mv;
	struct buf	 body, ti, at;
	size_t		 n;

	buf_init(&body);
	buf_init(&ti);
	buf_init(&at);
	memset(&tw, 0, sizeof(tw));
	tw.tw_body = &body;
	tw.tw_doc = &doc;
	tw.tw_title = &ti;
	tw.tw_attrs = &at;
	ck_assert_int_eq(index_doc_whole(&t->t_ix, id, &doc, &ti, &at,
	    whole_cb, &tw), 0);
	ck_assert_uint_eq(ti.b_len, strlen(title));
	ck_assert(memcmp(ti.b_data, title, ti.b_len) == 0);
	ck_assert_uint_eq(strlen(doc.d_title), 255);
	ck_assert_int_eq(move_decode(&mv, &body), 0);
	ck_assert_str_eq(mv.mv_away, "hb");
	ck_assert_uint_eq(mv.mv_hash, doc.d_hash);
	ck_assert_int_eq(mv.mv_doc.xd_type, DOC_JSON);
	ck_assert_str_eq(mv.mv_doc.xd_title, title);
	ck_assert_uint_eq(mv.mv_doc.xd_nattrs, 1);
	ck_assert_str_eq(mv.mv_doc.xd_attrs[0].xa_name, "color");
	ck_assert_str_eq(mv.mv_doc.xd_attrs[0].xa_value, "blue");
	ck_assert_uint_eq(mv.mv_nchunks, 2);
	ck_assert_uint_eq(mv.mv_chunks[0].mc_len, 9);
	ck_assert(memcmp(mv.mv_chunks[0].mc_text, "the first", 9) == 0);
	ck_assert_str_eq(mv.mv_chunks[0].mc_heading, "");
	ck_assert_uint_eq(mv.mv_chunks[1].mc_len, strlen(text2));
	ck_assert(memcmp(mv.mv_chunks[1].mc_text, text2, strlen(text2)) ==
	    0);
	ck_assert_str_eq(mv.mv_chunks[1].mc_heading, "More");
	move_free(&mv);
	for (n = 0; n < body.b_len; n++) {
		struct buf	 cut = body;

		cut.b_len = n;
		ck_assert_msg(move_decode(&mv, &cut) == -1,
		    "%zu bytes of %zu decoded", n, body.b_len);
		move_free(&mv);
	}
	buf_free(&body);
	buf_free(&ti);
	buf_free(&at);
}

START_TEST(test_doc_whole_move)
{
	struct tix	 t;
	struct tdoc	 d;
	char		 title[301], text2[3000], text[3100];
	size_t		 i;

	tix_open(&t);
	for (i = 0; i < 300; i++)
		title[i] = "Title "[i % 6];
	title[300] = '\0';
	for (i = 0; i < sizeof(text2) - 1; i++)
		text2[i] = "second chunk words "[i % 19];
	text2[sizeof(text2) - 1] = '\0';
	snprintf(text, sizeof(text), "the first|%s", text2);
	memset(&d, 0, sizeof(d));
	d.d_id = "w2";
	d.d_title = title;
	d.d_type = DOC_JSON;
	d.d_attr = "color=blue";
	d.d_text = text;
	add_doc(&t, &d);
	commit(&t, NULL);
	whole_check(&t, "w2", title, text2);
	/* A record in the format of before reads the same. */
	ixrec_format = 1;
	d.d_id = "w1";
	add_doc(&t, &d);
	commit(&t, NULL);
	ixrec_format = 2;
	whole_check(&t, "w1", title, text2);
	tix_close(&t);
}
END_TEST

/* Merging. */

#define MBATCHES	20
#define MDOCS		5
#define MWORDS		24

static const char *const mvocab[MWORDS] = {
	"amber", "birch", "cedar", "delta", "ember", "flint", "grove",
	"heath", "iris", "juniper", "kelp", "larch", "maple", "nettle",
	"oak", "pine", "quartz", "reed", "sage", "thorn", "umber", "vine",
	"willow", "yew"
};

static const char *const mqueries[] = {
	"amber", "birch cedar", "+delta ember", "flint -grove",
	"\"heath iris\"", "ma*", "juniper AND kelp", "larch* nettle",
	"oak pine quartz reed", "-sage thorn", "umber vine willow yew",
	"title", "id7", NULL
};

/*
 * The corpus for merging: MBATCHES batches of MDOCS documents, words
 * from mvocab by a fixed pseudo-random sequence, a word of their own
 * ("idN"), some with a title, some in two chunks, two tenants.  Returns
 * the words of every document in words[] (title words included).
 */
static void
merge_corpus(struct tix *t, uint64_t *words)
{
	struct tdoc	 d;
	struct buf	 text;
	char		 id[16], title[32];
	uint32_t	 x = 12345;
	int		 i, j, k, n, doc;

	buf_init(&text);
	for (i = 0; i < MBATCHES; i++) {
		for (j = 0; j < MDOCS; j++) {
			doc = i * MDOCS + j;
			buf_reset(&text);
			snprintf(id, sizeof(id), "id%d", doc);
			buf_addstr(&text, id);
			n = 6 + doc % 11;
			words[doc] = 1 + n;
			for (k = 0; k < n; k++) {
				x = x * 1103515245 + 12345;
				buf_addc(&text, k == n / 2 && doc % 4 == 0 ?
				    '|' : ' ');
				buf_addstr(&text, mvocab[(x >> 16) % MWORDS]);
			}
			memset(&d, 0, sizeof(d));
			d.d_id = id;
			d.d_text = buf_cstr(&text);
			d.d_tenant = doc % 2 ? "a" : "b";
			if (doc % 3 == 0) {
				snprintf(title, sizeof(title), "Title %s",
				    mvocab[doc % MWORDS]);
				d.d_title = title;
				words[doc] += 2;
			}
			add_doc(t, &d);
		}
		commit(t, NULL);
	}
	buf_free(&text);
}

#define MQUERIES	(sizeof(mqueries) / sizeof(mqueries[0]))

struct mresults {
	struct search_result	 mr_r[MQUERIES];	/* the last: filtered */
};

/* Every query, and one with a filter at the end. */
static void
merge_results(struct tix *t, struct mresults *mr)
{
	struct search_opts	 so;
	size_t			 i;

	search_opts_defaults(&so);
	so.so_n = 1000;
	for (i = 0; mqueries[i] != NULL; i++) {
		search(t, mqueries[i], &so, &mr->mr_r[i]);
		ck_assert_uint_gt(mr->mr_r[i].sr_n, 0);
	}
	so.so_filters[so.so_nfilters++] = "tenant=a";
	search(t, "maple oak", &so, &mr->mr_r[i]);
	ck_assert_uint_gt(mr->mr_r[i].sr_n, 0);
}

static void
merge_results_free(struct mresults *mr)
{
	size_t	 i;

	for (i = 0; i < MQUERIES; i++)
		search_result_free(&mr->mr_r[i]);
}

/* The same hits, scores and snippets; with cids, the same chunk ids. */
static void
merge_same_as(const struct mresults *a, const struct mresults *b, int cids)
{
	const struct search_hit	*x, *y;
	size_t			 i, j;

	for (i = 0; i < MQUERIES; i++) {
		ck_assert_uint_eq(a->mr_r[i].sr_total, b->mr_r[i].sr_total);
		ck_assert_uint_eq(a->mr_r[i].sr_n, b->mr_r[i].sr_n);
		for (j = 0; j < a->mr_r[i].sr_n; j++) {
			x = &a->mr_r[i].sr_hits[j];
			y = &b->mr_r[i].sr_hits[j];
			ck_assert_str_eq(x->sh_extid, y->sh_extid);
			if (cids)
				ck_assert_uint_eq(x->sh_cid, y->sh_cid);
			ck_assert_uint_eq(x->sh_chunk, y->sh_chunk);
			ck_assert_double_eq_tol(x->sh_score, y->sh_score,
			    1e-9);
			ck_assert_str_eq(x->sh_snippet, y->sh_snippet);
		}
	}
}

static void
merge_same(const struct mresults *a, const struct mresults *b)
{
	merge_same_as(a, b, 1);
}

/* Typo lookup: the dictionary walk against a brute-force distance. */

#define TYPO_DOCS	40
#define TYPO_WORDS	30	/* per document */
#define TYPO_WLEN	8

struct ttypo {
	struct index		*tt_ix;
	struct search_typo	*tt_ty;
	struct tokenizer	*tt_tk;
	const char		*tt_word;
	int			 tt_done;
	int			 tt_rc;
};

static int
typo_txn(MDB_txn *txn, void *arg)
{
	struct ttypo	*tt = arg;

	tt->tt_rc = search_typo_walk(txn, tt->tt_ix, tt->tt_ty);
	return (0);
}

/* The variants of the word tt_word instead, with tt_tk. */
static int
typo_var_txn(MDB_txn *txn, void *arg)
{
	struct ttypo	*tt = arg;

	tt->tt_rc = search_typo_variants(txn, tt->tt_ix, tt->tt_tk,
	    tt->tt_ty, tt->tt_word, strlen(tt->tt_word), &tt->tt_done);
	return (0);
}

/* Optimal string alignment distance, by the whole table. */
static int
typo_osa(const char *a, const char *b)
{
	int	 d[TYPO_WLEN + 1][TYPO_WLEN + 1], i, j, m, n, v;

	m = strlen(a);
	n = strlen(b);
	for (i = 0; i <= m; i++)
		d[i][0] = i;
	for (j = 0; j <= n; j++)
		d[0][j] = j;
	for (i = 1; i <= m; i++)
		for (j = 1; j <= n; j++) {
			v = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return (d[m][n]);
}

static uint32_t typo_seed;

static void
typo_word(char *w)
{
	int	 n, i;

	typo_seed = typo_seed * 1103515245 + 12345;
	n = 3 + (typo_seed >> 16) % 5;
	for (i = 0; i < n; i++) {
		typo_seed = typo_seed * 1103515245 + 12345;
		w[i] = "abcd"[(typo_seed >> 16) % 4];
	}
	w[n] = '\0';
}

/* Walk for each query word; every stem within edits, with its df. */
static void
typo_compare(struct tix *t, char words[][TYPO_WORDS][TYPO_WLEN])
{
	struct search_typo	*ty;
	struct ttypo		 tt;
	char			 q[TYPO_WLEN], term[TYPO_WLEN];
	uint64_t		 df, exact;
	size_t			 c, found;
	int			 qi, d, w, k, edits, dist, in, want;

	ty = xmalloc(sizeof(*ty));
	typo_seed = 7;
	for (qi = 0; qi < 40; qi++) {
		typo_word(q);
		edits = 1 + qi % 2;
		ck_assert_int_eq(search_typo_init(ty, q, strlen(q), edits), 0);
		tt.tt_ix = &t->t_ix;
		tt.tt_ty = ty;
		ck_assert_int_eq(store_read(&t->t_ix.ix_store, typo_txn, &tt),
		    0);
		ck_assert_int_eq(tt.tt_rc, 0);
		ck_assert_int_eq(ty->ty_cut, 0);
		/* Every stem near enough was found (unless over the cap). */
		found = exact = 0;
		for (d = 0; d < TYPO_DOCS; d++)
			for (w = 0; w < TYPO_WORDS; w++) {
				dist = typo_osa(q, words[d][w]);
				if (dist == 0) {
					for (k = 0, in = 0; k < w; k++)
						in |= strcmp(words[d][k],
						    words[d][w]) == 0;
					exact += !in;
				}
				if (dist == 0 || dist > edits)
					continue;
				/* Counted once: its first place anywhere. */
				for (k = 0, in = 0; k < d * TYPO_WORDS + w; k++)
					in |= strcmp(words[k / TYPO_WORDS]
					    [k % TYPO_WORDS], words[d][w]) == 0;
				found += !in;
			}
		/* Every stem it found: near enough, with its df. */
		for (c = 0; c < ty->ty_n; c++) {
			ck_assert_uint_lt(ty->ty_cand[c].tc_len, TYPO_WLEN);
			memcpy(term, ty->ty_cand[c].tc_term,
			    ty->ty_cand[c].tc_len);
			term[ty->ty_cand[c].tc_len] = '\0';
			dist = typo_osa(q, term);
			ck_assert_msg(dist == ty->ty_cand[c].tc_edits &&
			    dist > 0 && dist <= edits, "%s ~ %s: %d edits, "
			    "said %d", q, term, dist, ty->ty_cand[c].tc_edits);
			for (d = 0, df = 0; d < TYPO_DOCS; d++)
				for (w = 0; w < TYPO_WORDS; w++)
					if (strcmp(words[d][w], term) == 0) {
						df++;
						break;
					}
			/* A full table may have evicted and met it again. */
			if (found < SEARCH_TYPO_CANDS)
				ck_assert_uint_eq(ty->ty_cand[c].tc_df, df);
		}
		ck_assert_uint_eq(ty->ty_exact, exact);
		want = found < SEARCH_TYPO_CANDS ? (int)found :
		    SEARCH_TYPO_CANDS;
		ck_assert_msg((int)ty->ty_n == want, "%s, %d edits: %zu "
		    "found, %zu near", q, edits, ty->ty_n, found);
	}
	free(ty);
}

START_TEST(test_typo_walk)
{
	static char		 words[TYPO_DOCS][TYPO_WORDS][TYPO_WLEN];
	struct tix		 t;
	struct tdoc		 doc;
	struct search_typo	*ty;
	struct ttypo		 tt;
	char			 text[TYPO_WORDS * TYPO_WLEN], id[16];
	int			 d, w;

	tix_open(&t);
	tokenizer_free(t.t_tk);
	t.t_tk = tokenizer_new("none", 0);	/* stems are the words */
	t.t_nomemo = 1;
	typo_seed = 1;
	for (d = 0; d < TYPO_DOCS; d++) {
		text[0] = '\0';
		for (w = 0; w < TYPO_WORDS; w++) {
			typo_word(words[d][w]);
			strlcat(text, words[d][w], sizeof(text));
			strlcat(text, " ", sizeof(text));
		}
		memset(&doc, 0, sizeof(doc));
		snprintf(id, sizeof(id), "d%d", d);
		doc.d_id = id;
		doc.d_text = text;
		add_doc(&t, &doc);
		if (d % 10 == 9)
			commit(&t, NULL);	/* four segments */
	}
	commit_one(&t, "cafe", "Caf\xc3\xa9 au lait", NULL);
	typo_compare(&t, words);	/* in segments */
	tix_compact(&t);
	typo_compare(&t, words);	/* in blocks */

	/* An edit is of a character, not of a byte. */
	ty = xmalloc(sizeof(*ty));
	ck_assert_int_eq(search_typo_init(ty, "cafe", 4, 1), 0);
	tt.tt_ix = &t.t_ix;
	tt.tt_ty = ty;
	ck_assert_int_eq(store_read(&t.t_ix.ix_store, typo_txn, &tt), 0);
	ck_assert_uint_eq(ty->ty_n, 1);
	ck_assert_int_eq(ty->ty_cand[0].tc_edits, 1);
	ck_assert_uint_eq(ty->ty_cand[0].tc_len, 5);
	ck_assert_int_eq(memcmp(ty->ty_cand[0].tc_term, "caf\xc3\xa9", 5), 0);

	/* And the variants of a word of more than ASCII: "cafée". */
	tt.tt_tk = t.t_tk;
	tt.tt_word = "caf\xc3\xa9" "e";
	ck_assert_int_eq(search_typo_init(ty, tt.tt_word, 6, 1), 0);
	ck_assert_int_eq(store_read(&t.t_ix.ix_store, typo_var_txn, &tt), 0);
	ck_assert_int_eq(tt.tt_rc, 0);
	ck_assert_int_eq(tt.tt_done, 1);
	ck_assert_uint_eq(ty->ty_n, 1);
	ck_assert_int_eq(ty->ty_cand[0].tc_edits, 1);
	ck_assert_uint_eq(ty->ty_cand[0].tc_len, 5);
	ck_assert_int_eq(memcmp(ty->ty_cand[0].tc_term, "caf\xc3\xa9", 5), 0);
	free(ty);
	tix_close(&t);
}
END_TEST

START_TEST(test_merge)
{
	static struct mresults	 before, after;
	static uint64_t		 words[MBATCHES * MDOCS];
	struct tix		 t;
	struct ixstats		 st, st2;
	struct tread		 r;
	uint64_t		 total = 0;
	int			 i, steps;

	tix_open(&t);
	merge_corpus(&t, words);
	for (i = 0; i < MBATCHES * MDOCS; i++)
		total += words[i];
	stats(&t, &st);
	ck_assert_uint_eq(st.is_segments, MBATCHES);
	ck_assert_uint_eq(st.is_docs, MBATCHES * MDOCS);
	ck_assert_uint_eq(st.is_tokens, total);
	check_ok(&t);
	merge_results(&t, &before);

	/* Size tiers: runs of 8 small segments merge, 20 -> 13 -> 6. */
	for (steps = 0; (i = merge_step(&t.t_ix, 0, TFOLD, -1)) == 1; steps++) {
		merge_results(&t, &after);
		merge_same(&before, &after);
		merge_results_free(&after);
	}
	ck_assert_int_eq(i, 0);
	ck_assert_int_eq(steps, 2);
	stats(&t, &st2);
	ck_assert_uint_eq(st2.is_segments, 6);
	ck_assert_uint_eq(st2.is_merges, 2);
	check_ok(&t);

	/* Compaction: one segment, folded into blocks. */
	ck_assert_int_lt(tix_compact(&t), 10);
	stats(&t, &st2);
	ck_assert_uint_eq(st2.is_segments, 0);
	ck_assert_uint_eq(st2.is_docs, st.is_docs);
	ck_assert_uint_eq(st2.is_chunks, st.is_chunks);
	ck_assert_uint_eq(st2.is_tokens, st.is_tokens);
	ck_assert_uint_eq(st2.is_next_cid, st.is_next_cid);
	ck_assert_uint_eq(st2.is_folded, st.is_next_cid);
	ck_assert_uint_gt(st2.is_blocks, 0);
	ck_assert_uint_gt(st2.is_terms, 0);
	ck_assert_uint_eq(st2.is_dead, 0);
	read_segs(&t, NULL, 0, &r);
	ck_assert_uint_eq(r.r_nsegs, 0);
	check_ok(&t);
	merge_results(&t, &after);
	merge_same(&before, &after);
	merge_results_free(&after);

	/* Folded postings keep their positions: id42 at 0 in cid order. */
	read_word(&t, IX_BODY, "id42", &r);
	ck_assert_uint_eq(r.r_n, 1);
	ck_assert_uint_eq(r.r_df, 1);
	ck_assert_uint_eq(r.r_pos[0][0], 0);


	/* Nothing more to do, and new batches merge with the big one. */
	ck_assert_int_eq(merge_step(&t.t_ix, MERGE_ALL, TFOLD, -1), 0);
	commit_one(&t, "late", "amber maple", NULL);
	ck_assert_int_eq(merge_step(&t.t_ix, MERGE_ALL, TFOLD, -1), 1);
	ck_assert_int_eq(merge_step(&t.t_ix, MERGE_ALL, TFOLD, -1), 0);
	ck_assert_str_eq(idset(&t, "+amber +maple", "source=/data/late",
	    NULL), "late");
	check_ok(&t);
	merge_results_free(&before);
	tix_close(&t);
}
END_TEST

/*
 * Make the map room bytes bigger than the pages in use, under the store,
 * which still takes it for as big as before.
 */
static void
tix_map_room(struct tix *t, size_t room)
{
	MDB_envinfo	 info;
	MDB_stat	 ms;
	MDB_env		*env = t->t_ix.ix_store.s_env;

	ck_assert_int_eq(mdb_env_info(env, &info), 0);
	ck_assert_int_eq(mdb_env_stat(env, &ms), 0);
	ck_assert_int_eq(mdb_env_set_mapsize(env, (info.me_last_pgno + 1) *
	    ms.ms_psize + room), 0);
}

/*
 * A slice of a fold that fills the map is run again in a bigger one, and
 * the terms its first run had written are written again, none skipped.
 * The map is made small under the store, which still takes it for big
 * and so does not grow it ahead: room for a few of the fold's batches
 * (FMDOCS * FMWORDS terms of one posting each), not for the fold.
 */
#define FMDOCS		2000
#define FMWORDS		50

START_TEST(test_fold_map_full)
{
	struct tix	 t;
	struct tdoc	 d;
	struct buf	 text;
	struct ixstats	 st;
	char		 id[16], w[32];
	uint64_t	 grows;
	int		 i, k;

	tix_open(&t);
	buf_init(&text);
	for (i = 0; i < FMDOCS; i++) {
		buf_reset(&text);
		for (k = 0; k < FMWORDS; k++) {
			snprintf(w, sizeof(w), "%su%dx%d", k > 0 ? " " : "",
			    i, k);
			buf_addstr(&text, w);
		}
		snprintf(id, sizeof(id), "d%d", i);
		memset(&d, 0, sizeof(d));
		d.d_id = id;
		d.d_text = buf_cstr(&text);
		add_doc(&t, &d);
		if (i % 500 == 499)
			commit(&t, NULL);
	}
	buf_free(&text);

	tix_map_room(&t, 1 << 20);
	t.t_ix.ix_store.s_mapsize = 1ULL << 30;
	grows = t.t_ix.ix_store.s_grows;
	tix_compact(&t);
	/* The map was full, and grew: the slice ran twice. */
	ck_assert_uint_gt(t.t_ix.ix_store.s_grows, grows);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_segments, 0);
	ck_assert_uint_eq(st.is_docs, FMDOCS);
	/* A word of every document, each the only hit for it. */
	for (i = 0; i < FMDOCS; i++) {
		snprintf(w, sizeof(w), "u%dx%d", i, i % FMWORDS);
		snprintf(id, sizeof(id), "d%d", i);
		ck_assert_str_eq(ids(&t, w, NULL, NULL), id);
	}
	check_ok(&t);
	tix_close(&t);
}
END_TEST

/*
 * A batch whose commit failed (the map full at map-max) is committed
 * again once there is room, as a worker does after a storage fault.  It
 * holds a document sent again unchanged, deleted meanwhile: the second
 * commit looks again, and indexes it.
 */
START_TEST(test_commit_again)
{
	struct tix	 t;
	struct tdoc	 d;
	struct buf	 text;
	struct ixcommit	 res;
	char		 w[32];
	int		 k;

	tix_open(&t);
	commit_one(&t, "x1", "alpha beta gamma", NULL);
	memset(&d, 0, sizeof(d));
	d.d_id = "x1";
	d.d_text = "alpha beta gamma";
	add_doc(&t, &d);
	/* And a document too big for the room left. */
	buf_init(&text);
	for (k = 0; k < 300000; k++) {
		snprintf(w, sizeof(w), "%sw%d", k > 0 ? " " : "", k);
		buf_addstr(&text, w);
	}
	d.d_id = "y1";
	d.d_text = buf_cstr(&text);
	add_doc(&t, &d);
	buf_free(&text);
	tix_map_room(&t, 1 << 20);
	store_limit(&t.t_ix.ix_store, 1 << 20);
	ck_assert_int_eq(ixbatch_commit(&t.t_ix, t.t_b, &res), MDB_MAP_FULL);
	ck_assert_int_eq(index_delete(&t.t_ix, "x1"), 0);
	ck_assert_str_eq(ids(&t, "alpha", NULL, NULL), "");
	store_limit(&t.t_ix.ix_store, 0);
	ck_assert_int_eq(ixbatch_commit(&t.t_ix, t.t_b, &res), 0);
	ixbatch_reset(t.t_b);
	ck_assert_uint_eq(res.ic_added, 2);
	ck_assert_uint_eq(res.ic_unchanged, 0);
	ck_assert_str_eq(ids(&t, "alpha", NULL, NULL), "x1");
	ck_assert_str_eq(ids(&t, "w299999", NULL, NULL), "y1");
	check_ok(&t);
	tix_close(&t);
}
END_TEST

struct tix_next {
	struct index	*n_ix;
	uint64_t	 n_next;
};

/* The next chunk id n_next, as if the chunks below had been written. */
static int
tix_next_fn(MDB_txn *txn, void *arg)
{
	struct tix_next	*n = arg;
	struct ixmeta	 m;
	int		 rc;

	if ((rc = index_meta_get(txn, n->n_ix, &m)) != 0)
		return (rc);
	m.m_next_cid = n->n_next;
	return (index_meta_put(txn, n->n_ix, &m));
}

static void
tix_next(struct tix *t, uint64_t next)
{
	struct tix_next	 n;

	n.n_ix = &t->t_ix;
	n.n_next = next;
	ck_assert_int_eq(store_write(&t->t_ix.ix_store, tix_next_fn, &n), 0);
}

/*
 * Chunk ids are 32 bits.  The last of them are given out and searched as
 * any others, in segments and folded; a batch that needs more than are
 * left fails with STORE_ENOIDS, as a fault of its own ("ids-full"),
 * without growing the map or keeping anything of it.
 */
START_TEST(test_commit_ids_full)
{
	struct tix	 t;
	struct tdoc	 d;
	struct ixcommit	 res;
	struct ixstats	 st;
	uint64_t	 grows;

	tix_open(&t);
	commit_one(&t, "a", "first words", NULL);
	tix_next(&t, UINT32_MAX - 2);
	/* Two chunks take the last two ids. */
	memset(&d, 0, sizeof(d));
	d.d_id = "b";
	d.d_text = "second words|more second words";
	add_doc(&t, &d);
	commit(&t, NULL);
	ck_assert_str_eq(ids(&t, "second", NULL, NULL), "b,b");
	ck_assert_str_eq(ids(&t, "more", NULL, NULL), "b");
	/* None left for one more. */
	grows = t.t_ix.ix_store.s_grows;
	d.d_id = "c";
	d.d_text = "third words";
	add_doc(&t, &d);
	ck_assert_int_eq(ixbatch_commit(&t.t_ix, t.t_b, &res), STORE_ENOIDS);
	ck_assert_int_eq(store_fault(STORE_ENOIDS), STORE_FAULT_IDS);
	ck_assert_int_eq(t.t_ix.ix_store.s_fault, STORE_FAULT_IDS);
	ck_assert_uint_eq(t.t_ix.ix_store.s_grows, grows);
	ixbatch_reset(t.t_b);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 2);
	ck_assert_str_eq(ids(&t, "third", NULL, NULL), "");
	/* What was written folds and is found as before. */
	tix_compact(&t);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_segments, 0);
	ck_assert_str_eq(ids(&t, "first", NULL, NULL), "a");
	ck_assert_str_eq(ids(&t, "second", NULL, NULL), "b,b");
	ck_assert_str_eq(ids(&t, "more", NULL, NULL), "b");
	check_ok(&t);
	tix_close(&t);
}
END_TEST

/* Shrink t's index (closed by it) and open it again. */
static void
tix_shrink(struct tix *t, struct ixshrink *sh)
{
	int	 dfd;

	dfd = open(t->t_dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(index_shrink(&t->t_ix, dfd, sh), 0);
	close(dfd);
	ck_assert_int_eq(index_open(&t->t_ix, t->t_dir, 0, STORE_SYNC_NONE),
	    0);
}

/*
 * A shrink when chunk ids run short numbers the live chunks again, 1,
 * 2, ... in their order: the ids of deleted and replaced chunks come
 * back, the index checks sound, every search answers as before (hits,
 * scores, snippets), and it takes more.  Not with segments left to
 * fold, and then it says why.
 */
START_TEST(test_shrink_renum)
{
	struct tix		 t;
	struct ixshrink		 sh;
	struct ixstats		 st;
	struct mresults		 before, after;
	uint64_t		 words[MBATCHES * MDOCS];
	char			 id[16];
	int			 i;

	tix_open(&t);
	commit_one(&t, "low1", "maple words at low ids", NULL);
	commit_one(&t, "low2", "oak words at low ids", NULL);
	/* The corpus at the last ids, as after billions of chunks. */
	tix_next(&t, UINT32_MAX - 4 * MBATCHES * MDOCS);
	merge_corpus(&t, words);
	for (i = 3; i < MBATCHES * MDOCS; i += 7) {
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert_int_eq(index_delete(&t.t_ix, id), 0);
	}
	commit_one(&t, "low1", "maple words replaced", NULL);
	stats(&t, &st);
	ck_assert_uint_lt(index_ids_left(st.is_next_cid), 3 * MBATCHES * MDOCS);

	/* Segments to fold: copied as they are. */
	tix_shrink(&t, &sh);
	ck_assert_int_eq(sh.sh_renum, 0);
	ck_assert_ptr_nonnull(strstr(sh.sh_why, "compact first"));
	stats(&t, &st);
	ck_assert_uint_eq(st.is_next_cid, UINT32_MAX - sh.sh_left_before);

	tix_compact(&t);
	merge_results(&t, &before);
	tix_shrink(&t, &sh);
	ck_assert_int_eq(sh.sh_renum, 1);
	ck_assert_str_eq(sh.sh_why, "");
	stats(&t, &st);
	ck_assert_uint_gt(st.is_blocks, 0);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_uint_eq(st.is_next_cid, st.is_chunks + 1);
	ck_assert_uint_eq(sh.sh_left_after, UINT32_MAX - st.is_next_cid);
	check_ok(&t);
	merge_results(&t, &after);
	merge_same_as(&before, &after, 0);
	for (i = 0; i < (int)MQUERIES; i++)
		ck_assert_uint_le(after.mr_r[i].sr_n == 0 ? 0 :
		    after.mr_r[i].sr_hits[0].sh_cid, st.is_chunks);
	merge_results_free(&before);
	merge_results_free(&after);
	ck_assert_str_eq(ids(&t, "replaced", NULL, NULL), "low1");
	ck_assert_str_eq(ids(&t, "id3", NULL, NULL), "");

	/* It takes more, at the ids after them. */
	commit_one(&t, "new1", "walnut words after", NULL);
	ck_assert_str_eq(ids(&t, "walnut", NULL, NULL), "new1");
	tix_compact(&t);
	ck_assert_str_eq(ids(&t, "walnut", NULL, NULL), "new1");
	check_ok(&t);
	tix_close(&t);
}
END_TEST

START_TEST(test_merge_deletes)
{
	static uint64_t		 words[MBATCHES * MDOCS];
	struct tix		 t;
	struct tdoc		 d;
	struct ixstats		 st;
	struct ixcommit		 res;
	struct ixdoc		 doc;
	struct tread		 r;
	char			 id[16];
	uint64_t		 live = 0;
	int			 i;

	tix_open(&t);
	merge_corpus(&t, words);
	/* Delete every tenth, replace one, redeliver one unchanged. */
	for (i = 0; i < MBATCHES * MDOCS; i += 10) {
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert_int_eq(index_delete(&t.t_ix, id), 0);
	}
	memset(&d, 0, sizeof(d));
	d.d_id = "id33";
	d.d_text = "replacement words";
	add_doc(&t, &d);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_replaced, 1);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "id51", &doc), 0);
	d.d_id = "id51";
	d.d_text = "ignored";
	d.d_hash = doc.d_hash;
	add_doc(&t, &d);
	commit(&t, &res);
	ck_assert_uint_eq(res.ic_unchanged, 1);
	for (i = 0; i < MBATCHES * MDOCS; i++)
		if (i % 10 != 0 && i != 33)
			live += words[i];
	live += 2;
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, MBATCHES * MDOCS - 10);
	ck_assert_uint_gt(st.is_dead, 10);
	check_ok(&t);

	ck_assert_int_lt(tix_compact(&t), 10);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_segments, 0);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_uint_eq(st.is_docs, MBATCHES * MDOCS - 10);
	ck_assert_uint_eq(st.is_tokens, live);
	check_ok(&t);

	/* The dead stay invisible, their words gone from the segment. */
	for (i = 0; i < MBATCHES * MDOCS; i += 10) {
		snprintf(id, sizeof(id), "id%d", i);
		ck_assert_str_eq(ids(&t, id, NULL, NULL), "");
		ck_assert_int_eq(index_get_doc(&t.t_ix, id, &doc),
		    INDEX_ENOENT);
		read_word(&t, IX_BODY, id, &r);
		ck_assert_uint_eq(r.r_df, 0);
	}
	ck_assert_str_eq(ids(&t, "id33", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "replacement", NULL, NULL), "id33");
	ck_assert_str_eq(ids(&t, "ignored", NULL, NULL), "");
	ck_assert_str_eq(ids(&t, "id51", NULL, NULL), "id51");
	read_word(&t, IX_BODY, "id51", &r);
	ck_assert_uint_eq(r.r_df, 1);
	read_word(&t, IX_BODY, "ignored", &r);
	ck_assert_uint_eq(r.r_df, 0);
	ck_assert_str_eq(ids(&t, "id7", NULL, NULL), "id7");

	/* A delete after compaction is purged by the next compaction. */
	ck_assert_int_eq(index_delete(&t.t_ix, "id7"), 0);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_dead, 1);
	ck_assert_str_eq(ids(&t, "id7", NULL, NULL), "");
	ck_assert_int_lt(tix_compact(&t), 10);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_uint_eq(st.is_segments, 0);
	ck_assert_uint_gt(st.is_purges, 0);
	ck_assert_uint_eq(st.is_tokens, live - words[7]);
	ck_assert_str_eq(ids(&t, "id7", NULL, NULL), "");
	read_word(&t, IX_BODY, "id7", &r);
	ck_assert_uint_eq(r.r_df, 0);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

/*
 * Segments of the first layout (QSG1), which indexes written before
 * hold, are read as they are: made from the QSG2 segments of a batch,
 * they give the same postings; every other segment of an index so made,
 * it checks sound, and its searches, merges (QSG1 and QSG2 segments
 * together, into QSG2) and fold find what an index of QSG2 segments
 * only finds.
 */
START_TEST(test_segment_qsg1)
{
	static struct mresults	 want, got;
	static uint64_t		 words[MBATCHES * MDOCS];
	struct tix		 t, t2;
	struct ixseg		 s, s1;
	uint8_t			 kb[8], *seg, *old;
	size_t			 len, olen;
	uint64_t		 id;
	int			 i, rv, all;

	tix_open(&t);
	tix_open(&t2);
	merge_corpus(&t, words);
	merge_corpus(&t2, words);
	for (id = 1; id <= MBATCHES; id += 2) {
		util_put_be64(kb, id);
		seg = raw_get(&t, IDB_SEGS, kb, 8, &len);
		old = seg_qsg1(seg, len, &olen);
		ck_assert_int_eq(ixseg_open(&s, seg, len), 0);
		ck_assert_int_eq(ixseg_open(&s1, old, olen), 0);
		ck_assert_int_eq(s.s_split, 1);
		ck_assert_int_eq(s1.s_split, 0);
		seg_same_posts(&s, &s1);
		seg_same_posts(&s1, &s);
		ck_assert_int_eq(read_all(&s1, 0), 0);
		ck_assert_int_eq(read_all(&s1, 1), 0);
		raw_write(&t, IDB_SEGS, kb, 8, old, olen);
		free(seg);
		free(old);
	}
	check_ok(&t);
	merge_results(&t2, &want);
	merge_results(&t, &got);
	merge_same(&want, &got);
	merge_results_free(&got);
	/* Size tiers, then everything folded. */
	for (all = 0; all <= MERGE_ALL; all += MERGE_ALL) {
		for (i = 0; (rv = merge_step(&t.t_ix, all, TFOLD, -1)) == 1; i++)
			ck_assert_int_lt(i, 10);
		ck_assert_int_eq(rv, 0);
		ck_assert_int_gt(i, 0);
		while ((rv = merge_step(&t2.t_ix, all, TFOLD, -1)) == 1)
			;
		ck_assert_int_eq(rv, 0);
		check_ok(&t);
		merge_results(&t, &got);
		merge_same(&want, &got);
		merge_results_free(&got);
		merge_results(&t2, &got);
		merge_same(&want, &got);
		merge_results_free(&got);
	}
	merge_results_free(&want);
	tix_close(&t2);
	tix_close(&t);
}
END_TEST

/* index_check on damage. */

/* Three documents: c1 (docid 1, cid 1), c2 (2; cids 2, 3), c3 (3; 4). */
static void
check_corpus(struct tix *t)
{
	commit_one(t, "c1", "first document", NULL);
	commit_one(t, "c2", "second document|its second chunk", NULL);
	commit_one(t, "c3", "third document", NULL);
	check_ok(t);
}

/* A copy of a chunk record, owned by another document: *len its size. */
static uint8_t *
chunk_owned_by(struct tix *t, const uint8_t *rec, size_t *len,
    uint64_t docid)
{
	struct ixchunk	 ck;
	struct buf	 text, st, out;
	uint64_t	 old;

	buf_init(&text);
	buf_init(&st);
	buf_init(&out);
	memset(&ck, 0, sizeof(ck));
	ck_assert_int_eq(ixrec_chunk_decode(NULL, &t->t_ix, rec, *len, &old,
	    &ck, &text), 0);
	ck_assert_int_eq(ixrec_chunk_text(&t->t_ix, text.b_data, text.b_len,
	    &st), 0);
	ixrec_chunk_encode(&out, docid, ck.ck_index, ck.ck_heading,
	    strlen(ck.ck_heading), st.b_data, st.b_len, 0);
	buf_free(&text);
	buf_free(&st);
	*len = out.b_len;
	return ((uint8_t *)out.b_data);
}

START_TEST(test_check_extid_missing)
{
	struct tix	 t;
	uint8_t		 kb[8];

	tix_open(&t);
	check_corpus(&t);
	raw_write(&t, IDB_EXTIDS, "c1", 2, NULL, 0);
	check_fails(&t, "document 1 (c1): its external id does not resolve");
	/* Put back, the index is sound again. */
	util_put_be64(kb, 1);
	raw_write(&t, IDB_EXTIDS, "c1", 2, kb, 8);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

START_TEST(test_check_extid_other)
{
	struct tix	 t;
	uint8_t		 kb[8];

	tix_open(&t);
	check_corpus(&t);
	util_put_be64(kb, 3);
	raw_write(&t, IDB_EXTIDS, "c1", 2, kb, 8);
	check_fails(&t, "external id c1: document 3 says it is c3");
	raw_write(&t, IDB_EXTIDS, "c1", 2, kb, 4);
	check_fails(&t, "external id c1: bad value");
	tix_close(&t);
}
END_TEST

START_TEST(test_check_chunk_missing)
{
	struct tix	 t;
	uint8_t		 kb[4], *rec, *other;
	size_t		 len;

	tix_open(&t);
	check_corpus(&t);
	util_put_be32(kb, 3);
	rec = raw_get(&t, IDB_CHUNKS, kb, 4, &len);
	raw_write(&t, IDB_CHUNKS, kb, 4, NULL, 0);
	check_fails(&t, "document c2: chunk 3 is missing or not its own");
	/* Back, but owned by another document. */
	other = chunk_owned_by(&t, rec, &len, 1);
	raw_write(&t, IDB_CHUNKS, kb, 4, other, len);
	check_fails(&t, "document c2: chunk 3 is missing or not its own");
	free(other);
	free(rec);
	tix_close(&t);
}
END_TEST

START_TEST(test_check_orphans)
{
	struct tix	 t;
	uint8_t		 kb[8], *rec, *other;
	size_t		 len;

	tix_open(&t);
	check_corpus(&t);
	/* A chunk record whose document does not exist. */
	util_put_be32(kb, 1);
	rec = raw_get(&t, IDB_CHUNKS, kb, 4, &len);
	other = chunk_owned_by(&t, rec, &len, 99);
	util_put_be32(kb, 100);
	raw_write(&t, IDB_CHUNKS, kb, 4, other, len);
	check_fails(&t, "chunk 100: its document 99 is gone");
	/* Cut short, it is damage. */
	raw_write(&t, IDB_CHUNKS, kb, 4, other, 2);
	check_fails(&t, "chunk 100: damaged record");
	raw_write(&t, IDB_CHUNKS, kb, 4, NULL, 0);
	check_ok(&t);
	free(other);
	free(rec);

	/* A document record deleted under its external id. */
	util_put_be64(kb, 3);
	raw_write(&t, IDB_DOCS, kb, 8, NULL, 0);
	check_fails(&t, "external id c3: document 3 is missing");
	tix_close(&t);
}
END_TEST

struct tuntomb {
	struct index	*u_ix;
	uint32_t	 u_cid;
};

static int
untomb_txn(MDB_txn *txn, void *arg)
{
	struct tuntomb		*u = arg;
	roaring_bitmap_t	*r;
	int			 rc;

	if ((rc = index_tomb_get(txn, u->u_ix, &r)) != 0)
		return (rc);
	roaring_bitmap_remove(r, u->u_cid);
	rc = index_tomb_put(txn, u->u_ix, r);
	roaring_bitmap_free(r);
	return (rc);
}

/*
 * A deleted document brought back record by record, behind the index's
 * back: each step leaves one problem fewer, the last one its count.
 */
START_TEST(test_check_undelete)
{
	struct tix	 t;
	struct tuntomb	 u;
	uint8_t		 kb[8], *doc, *chunk;
	size_t		 dlen, clen;

	tix_open(&t);
	check_corpus(&t);
	util_put_be64(kb, 3);
	doc = raw_get(&t, IDB_DOCS, kb, 8, &dlen);
	util_put_be32(kb, 4);
	chunk = raw_get(&t, IDB_CHUNKS, kb, 4, &clen);
	ck_assert_int_eq(index_delete(&t.t_ix, "c3"), 0);
	check_ok(&t);

	util_put_be64(kb, 3);
	raw_write(&t, IDB_DOCS, kb, 8, doc, dlen);
	check_fails(&t, "document 3 (c3): its external id does not resolve");
	raw_write(&t, IDB_EXTIDS, "c3", 2, kb, 8);
	check_fails(&t, "document c3: chunk 4 is dead");
	u.u_ix = &t.t_ix;
	u.u_cid = 4;
	ck_assert_int_eq(store_write(&t.t_ix.ix_store, untomb_txn, &u), 0);
	check_fails(&t, "document c3: chunk 4 is missing or not its own");
	util_put_be32(kb, 4);
	raw_write(&t, IDB_CHUNKS, kb, 4, chunk, clen);
	check_fails(&t, "3 documents, but the count says 2");
	free(doc);
	free(chunk);
	tix_close(&t);
}
END_TEST

/*
 * A damaged tombstone record is damage, not an empty bitmap: check says
 * so, a search fails rather than find the deleted chunks again, and a
 * delete does not write an empty bitmap over it.
 */
START_TEST(test_check_tomb_damaged)
{
	struct tix		 t;
	struct search_opts	 so;
	struct search_result	 sr;
	uint8_t			*tomb, *bad;
	size_t			 len;

	tix_open(&t);
	check_corpus(&t);
	ck_assert_int_eq(index_delete(&t.t_ix, "c2"), 0);
	ck_assert_str_eq(idset(&t, "second", NULL, NULL), "");
	check_ok(&t);
	tomb = raw_get(&t, IDB_META, "tomb", 4, &len);
	ck_assert_uint_gt(len, 1);

	/* Cut short. */
	raw_write(&t, IDB_META, "tomb", 4, tomb, len - 1);
	check_fails(&t, "the tombstone bitmap is damaged");
	search_opts_defaults(&so);
	ck_assert_int_eq(search_run(&t.t_ix, t.t_tk, "second", &so, &sr), -1);
	ck_assert_uint_eq(sr.sr_n, 0);
	ck_assert_msg(strstr(sr.sr_error, "tombstone") != NULL,
	    "search said \"%s\"", sr.sr_error);
	ck_assert_int_ne(index_delete(&t.t_ix, "c1"), 0);

	/* Bytes after a valid bitmap. */
	bad = xcalloc(1, len + 1);
	memcpy(bad, tomb, len);
	raw_write(&t, IDB_META, "tomb", 4, bad, len + 1);
	check_fails(&t, "the tombstone bitmap is damaged");

	/* Put back, nothing came back to life. */
	raw_write(&t, IDB_META, "tomb", 4, tomb, len);
	check_ok(&t);
	ck_assert_str_eq(idset(&t, "second", NULL, NULL), "");
	ck_assert_str_eq(idset(&t, "document", NULL, NULL), "c1,c3");
	free(bad);
	free(tomb);
	tix_close(&t);
}
END_TEST

/* The block store (index_block.c). */

/* A bound covers every pair added to it, and stays a frontier. */
START_TEST(test_block_bound)
{
	static uint32_t	 pairs[400][2];
	struct ixbound	 b;
	uint32_t	 x = 99;
	int		 it, n, i, j;

	for (it = 0; it < 500; it++) {
		memset(&b, 0, sizeof(b));
		n = 1 + it % 400;
		for (i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			pairs[i][0] = 1 + (x >> 16) % (1 + it % 20);
			x = x * 1103515245 + 12345;
			pairs[i][1] = pairs[i][0] + (x >> 16) % 300;
			ixbound_add(&b, pairs[i][0], pairs[i][1]);
			/*
			 * Asserted only on a miss: every ck_assert marks
			 * its place through Check's pipe, and these loops
			 * make millions of checks.
			 */
			for (j = 0; j <= i; j++)
				if (!ixbound_covers(&b, pairs[j][0],
				    pairs[j][1]))
					ck_abort_msg("run %d: (%u, %u) lost "
					    "at %d", it, pairs[j][0],
					    pairs[j][1], i);
			for (j = 1; j < IXB_BOUNDS && b.b_tf[j] != 0; j++)
				if (b.b_tf[j] <= b.b_tf[j - 1] ||
				    b.b_dl[j] <= b.b_dl[j - 1])
					ck_abort_msg("run %d: bound %d not "
					    "above bound %d", it, j, j - 1);
		}
	}
	/* The best pair bounds BM25's term part. */
	memset(&b, 0, sizeof(b));
	ixbound_add(&b, 1, 4);
	ixbound_add(&b, 3, 30);
	ck_assert_double_eq_tol(ixbound_max(&b, 1.2, 0.75, 10.0),
	    fmax(tfw(1, 4, 10, 1.2, 0.75), tfw(3, 30, 10, 1.2, 0.75)), 1e-12);
}
END_TEST

#define BDOCS		3000
#define BWORDS		400

/*
 * A corpus with a long tail: BDOCS documents in 6 batches, words drawn
 * from BWORDS by a skewed pseudo-random sequence (word i about 1/(i+1)
 * as often as word 0), so common words fill many blocks and rare ones
 * have a few postings.
 */
static void
block_word(char *w, size_t len, uint32_t *x)
{
	uint32_t	 r;

	*x = *x * 1103515245 + 12345;
	r = (*x >> 8) % 1000000;
	/* Skewed: small numbers far more often. */
	snprintf(w, len, "w%u", (unsigned)((uint64_t)BWORDS * r / 1000000 *
	    r / 1000000 * r / 1000000));
}

static void
block_corpus(struct tix *t)
{
	struct tdoc	 d;
	struct buf	 text;
	char		 id[16], w[16];
	uint32_t	 x = 7;
	int		 i, k, n;

	buf_init(&text);
	for (i = 0; i < BDOCS; i++) {
		buf_reset(&text);
		snprintf(id, sizeof(id), "b%d", i);
		n = 3 + (i * 7) % 40;
		for (k = 0; k < n; k++) {
			block_word(w, sizeof(w), &x);
			if (k > 0)
				buf_addc(&text, ' ');
			buf_addstr(&text, w);
		}
		memset(&d, 0, sizeof(d));
		d.d_id = id;
		d.d_text = buf_cstr(&text);
		d.d_attr = i % 3 == 0 ? "k=a" : i % 3 == 1 ? "k=b" : NULL;
		if (i % 5 == 0) {
			block_word(w, sizeof(w), &x);
			d.d_title = w;
		}
		add_doc(t, &d);
		if (i % (BDOCS / 6) == BDOCS / 6 - 1)
			commit(t, NULL);
	}
	commit(t, NULL);
	buf_free(&text);
}

/* The block store's format, as the index's meta record says. */
static int
format_txn(MDB_txn *txn, void *arg)
{
	struct tix	*t = arg;
	struct ixmeta	 m;

	ck_assert_int_eq(index_meta_get(txn, &t->t_ix, &m), 0);
	return ((int)m.m_format);
}

static int
tix_format(struct tix *t)
{
	return (store_read(&t->t_ix.ix_store, format_txn, t));
}

/* Count a database's entries. */
struct tcount {
	int		 n_db;
	size_t		 n_entries;
};

static int
count_txn(MDB_txn *txn, void *arg)
{
	struct tcount	*tn = arg;
	MDB_stat	 st;

	ck_assert_int_eq(mdb_stat(txn, tn->n_db, &st), 0);
	tn->n_entries = st.ms_entries;
	return (0);
}

static size_t
db_entries(struct tix *t, int db)
{
	struct tcount	 tn;

	tn.n_db = index_dbi(&t->t_ix, db);
	tn.n_entries = 0;
	ck_assert_int_eq(store_read(&t->t_ix.ix_store, count_txn, &tn), 0);
	return (tn.n_entries);
}

/* Is the word's posting list inline in its terms value?  -1: no entry. */
static int
word_inline(struct tix *t, const char *word)
{
	struct ixterminfo	 ti;
	char			 key[IX_TERM_MAX];
	uint8_t			*raw;
	MDB_val			 v;
	size_t			 n, len;
	int			 rv;

	n = term_key(t, IX_BODY, word, key);
	if ((raw = raw_get_maybe(t, IDB_TERMS, key, n, &len)) == NULL)
		return (-1);
	v.mv_data = raw;
	v.mv_size = len;
	ck_assert_int_eq(ixblk_terminfo_decode(&v, tix_format(t), &ti), 0);
	rv = ti.ti_inline != NULL;
	free(raw);
	return (rv);
}

/* The same hits, in the same order, with the same scores. */
static void
same_hits(const struct search_result *a, const struct search_result *b,
    const char *q)
{
	size_t	 i;

	ck_assert_msg(a->sr_n == b->sr_n, "%s: %zu hits and %zu", q, a->sr_n,
	    b->sr_n);
	for (i = 0; i < a->sr_n; i++) {
		ck_assert_msg(a->sr_hits[i].sh_cid == b->sr_hits[i].sh_cid,
		    "%s: hit %zu: chunk %llu and %llu", q, i,
		    (unsigned long long)a->sr_hits[i].sh_cid,
		    (unsigned long long)b->sr_hits[i].sh_cid);
		ck_assert_msg(fabs(a->sr_hits[i].sh_score -
		    b->sr_hits[i].sh_score) < 1e-9, "%s: hit %zu: score %g "
		    "and %g", q, i, a->sr_hits[i].sh_score,
		    b->sr_hits[i].sh_score);
	}
}

#define BQUERIES	60

/* Random OR queries of 1 to 4 words, common and rare mixed. */
static void
block_queries(char q[BQUERIES][64])
{
	char		 w[16];
	uint32_t	 x = 4242;
	int		 i, k;

	for (i = 0; i < BQUERIES; i++) {
		q[i][0] = '\0';
		for (k = 0; k <= i % 4; k++) {
			block_word(w, sizeof(w), &x);
			if (k > 0)
				strlcat(q[i], " ", 64);
			strlcat(q[i], w, 64);
		}
	}
}

/*
 * A query searched pruned (so, into a) and exhaustively (ex, into b):
 * the same hits; the total exact, or a lower bound when pruned.  1 if
 * pruning skipped work.
 */
static int
same_as_exact(struct tix *t, const char *q, const struct search_opts *so,
    const struct search_opts *ex, struct search_result *a,
    struct search_result *b)
{
	search(t, q, so, a);
	search(t, q, ex, b);
	same_hits(b, a, q);
	ck_assert_int_eq(b->sr_exact, 1);
	if (a->sr_exact) {
		ck_assert_uint_eq(a->sr_total, b->sr_total);
		return (0);
	}
	ck_assert_uint_le(a->sr_total, b->sr_total);
	return (1);
}

/*
 * Folded into blocks, every query finds what it found in segments; with
 * pruning (the default top 10) as without it (--exact); and pruning does
 * skip work on some of them.
 */
START_TEST(test_block_prune)
{
	static struct search_result before[BQUERIES];
	static char		 q[BQUERIES][64];
	struct search_opts	 so, ex;
	struct search_result	 a, b;
	struct ixstats		 st;
	int			 i, pruned = 0;

	struct tix		 t;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	block_queries(q);
	search_opts_defaults(&so);
	ex = so;
	ex.so_exact = 1;
	for (i = 0; i < BQUERIES; i++) {
		search(&t, q[i], &ex, &before[i]);
		ck_assert_int_eq(before[i].sr_exact, 1);
	}
	tix_compact(&t);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_segments, 0);
	/* Long lists; in format 2, rare words are inline. */
	if (_i == 1)
		ck_assert_uint_gt(st.is_blocks, st.is_terms);
	else {
		ck_assert_uint_eq(st.is_blocks, db_entries(&t, IDB_BLOCKS));
		ck_assert_uint_gt(st.is_blocks, 100);
		ck_assert_uint_gt(st.is_terms, st.is_blocks);
		ck_assert_int_eq(word_inline(&t, "w0"), 0);
	}
	check_ok(&t);
	for (i = 0; i < BQUERIES; i++) {
		pruned += same_as_exact(&t, q[i], &so, &ex, &a, &b);
		same_hits(&before[i], &b, q[i]);
		ck_assert_uint_eq(b.sr_total, before[i].sr_total);
		search_result_free(&a);
		search_result_free(&b);
		search_result_free(&before[i]);
	}
	ck_assert_int_gt(pruned, BQUERIES / 4);
	tix_close(&t);
}
END_TEST

/*
 * The same queries over the segments, unmerged: words whose bounds
 * cannot lift a chunk into the top leave the chunks only they have
 * unscored (search_seg_strong), and the hits are those of --exact.
 */
START_TEST(test_segment_prune)
{
	static char		 q[BQUERIES][64];
	struct search_opts	 so, ex;
	struct search_result	 a, b;
	struct ixstats		 st;
	struct tix		 t;
	int			 i, pruned = 0;

	tix_open(&t);
	block_corpus(&t);
	block_queries(q);
	stats(&t, &st);
	ck_assert_uint_gt(st.is_segments, 5);
	search_opts_defaults(&so);
	ex = so;
	ex.so_exact = 1;
	for (i = 0; i < BQUERIES; i++) {
		pruned += same_as_exact(&t, q[i], &so, &ex, &a, &b);
		search_result_free(&a);
		search_result_free(&b);
	}
	ck_assert_int_gt(pruned, BQUERIES / 4);
	tix_close(&t);
}
END_TEST


/* Queries of every class, on block_corpus's words, with their filter. */
static const struct {
	const char	*c_q;
	const char	*c_filter;	/* or NULL */
	const char	*c_filter2;	/* a second one, or NULL */
} block_classes[] = {
	{ "+w0 +w1", NULL, NULL },
	{ "+w1 +w2 +w3", NULL, NULL },
	{ "w2 AND w9", NULL, NULL },
	{ "+w0 +w7 w3", NULL, NULL },
	{ "+w40 +w0", NULL, NULL },
	{ "\"w0 w0\"", NULL, NULL },
	{ "\"w0 w1\"", NULL, NULL },
	{ "\"w1 w0 w2\"", NULL, NULL },
	{ "\"w3 w0\" w5", NULL, NULL },
	{ "+w2 \"w0 w1\"", NULL, NULL },
	{ "w1*", NULL, NULL },
	{ "w*", NULL, NULL },
	{ "w2* w0", NULL, NULL },
	{ "+w3* +w0", NULL, NULL },
	{ "w1 -w0", NULL, NULL },
	{ "w5 w7 -w2", NULL, NULL },
	{ "w0 -\"w1 w2\"", NULL, NULL },
	{ "+w0 -w1", NULL, NULL },
	{ "\"w0 w1\" -w3", NULL, NULL },
	{ "w0", "k=a", NULL },
	{ "w1 w5", "k=b", NULL },
	{ "+w1 +w2", "k=a", NULL },
	{ "\"w0 w1\"", "k=b", NULL },
	{ "w3*", "k=a", NULL },
	{ "w2 -w0", "k=b", NULL },
	{ "+w0 +w2", "k=b", "tenant=a" },
	{ "\"w0 w1\" w4", "tenant=a", "k=a" },
	{ "w0", "k=none", NULL },		/* no chunk has them: no hits */
	{ "w1", "k=a", "k=b" },
	{ NULL, NULL, NULL }
};

/* Pruned (the default top 10) and exhaustive (--exact): the same hits. */
static int
block_classes_check(struct tix *t)
{
	struct search_opts	 so, ex;
	struct search_result	 a, b;
	int			 i, pruned = 0, found = 0;

	for (i = 0; block_classes[i].c_q != NULL; i++) {
		search_opts_defaults(&so);
		if (block_classes[i].c_filter != NULL)
			so.so_filters[so.so_nfilters++] =
			    block_classes[i].c_filter;
		if (block_classes[i].c_filter2 != NULL)
			so.so_filters[so.so_nfilters++] =
			    block_classes[i].c_filter2;
		ex = so;
		ex.so_exact = 1;
		search(t, block_classes[i].c_q, &so, &a);
		search(t, block_classes[i].c_q, &ex, &b);
		same_hits(&b, &a, block_classes[i].c_q);
		ck_assert_int_eq(b.sr_exact, 1);
		ck_assert_uint_le(a.sr_total, b.sr_total);
		pruned += !a.sr_exact;
		found += b.sr_n > 0;
		search_result_free(&a);
		search_result_free(&b);
	}
	/* All but the last two find something. */
	ck_assert_int_eq(found, i - 2);
	return (pruned);
}

/*
 * Required words, phrases, prefixes, exclusions and filters: pruned, the
 * same top 10 as exhaustive search, in segments and folded into blocks,
 * with deleted chunks in both; folded, pruning skips work on most.
 */
START_TEST(test_block_classes)
{
	struct tix	 t;
	struct ixstats	 st;
	char		 id[16];
	int		 i;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	for (i = 0; i < BDOCS; i += 37) {
		snprintf(id, sizeof(id), "b%d", i);
		ck_assert_int_eq(index_delete(&t.t_ix, id), 0);
	}
	(void)block_classes_check(&t);
	tix_compact(&t);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_segments, 0);
	ck_assert_uint_gt(st.is_blocks, _i == 1 ? st.is_terms : 100);
	ck_assert_int_ge(block_classes_check(&t), 22);
	tix_close(&t);
}
END_TEST


/* Walks and seeks of a block cursor over one word. */
struct tcur {
	struct tix	*c_t;
	const char	*c_word;
	uint32_t	*c_cids;	/* the walk */
	size_t		 c_max;
	size_t		 c_n;
	uint32_t	 c_gap;		/* the seeks: step between targets */
	uint32_t	 c_targets[512];
	uint32_t	 c_found[512];	/* 0: past the end */
	size_t		 c_nseeks;
	size_t		 c_seen;
};

static int
walk_txn(MDB_txn *txn, void *arg)
{
	struct tcur	*tc = arg;
	struct ixbcur	 bc;
	char		 key[IX_TERM_MAX];
	size_t		 n;
	int		 rv;

	n = term_key(tc->c_t, IX_BODY, tc->c_word, key);
	tc->c_n = 0;
	rv = ixbcur_open(&bc, txn, &tc->c_t->t_ix, key, n, UINT32_MAX);
	while (rv == 1 && (rv = ixbcur_next(&bc)) == 1) {
		ck_assert_uint_lt(tc->c_n, tc->c_max);
		tc->c_cids[tc->c_n++] = bc.bc_cid;
	}
	ixbcur_close(&bc);
	ck_assert_int_eq(rv, 0);
	return (0);
}

static int
seek_txn(MDB_txn *txn, void *arg)
{
	struct tcur	*tc = arg;
	struct ixbcur	 bc;
	char		 key[IX_TERM_MAX];
	uint32_t	 target = 1;
	size_t		 n;
	int		 rv;

	n = term_key(tc->c_t, IX_BODY, tc->c_word, key);
	rv = ixbcur_open(&bc, txn, &tc->c_t->t_ix, key, n, UINT32_MAX);
	ck_assert_int_eq(rv, 1);
	tc->c_nseeks = tc->c_seen = 0;
	while (tc->c_nseeks < 512 && target < BDOCS + 100) {
		rv = ixbcur_seek(&bc, target);
		ck_assert_int_ne(rv, -1);
		tc->c_targets[tc->c_nseeks] = target;
		tc->c_found[tc->c_nseeks++] = rv == 1 ? bc.bc_cid : 0;
		if (rv == 0)
			break;
		target += tc->c_gap;
	}
	ixbcur_close(&bc);
	return (0);
}

/*
 * Cursors over a folded corpus: seeking to any cid, near or far (past
 * many blocks, into a word's last block), lands where a walk does.
 */
/*
 * Pages: hits offset to offset + n of a query are those of its top
 * offset + n, pruned or not, folded or not.
 */
START_TEST(test_block_offset)
{
	static char		 q[BQUERIES][64];
	struct search_opts	 so, ex;
	struct search_result	 all, page;
	struct tix		 t;
	size_t			 off, i;
	int			 k, fold;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	block_queries(q);
	for (fold = 0; fold < 2; fold++) {
		if (fold)
			tix_compact(&t);
		for (k = 0; k < BQUERIES; k += 7) {
			search_opts_defaults(&ex);
			ex.so_exact = 1;
			ex.so_n = 40;
			search(&t, q[k], &ex, &all);
			for (off = 0; off < 40; off += 10) {
				search_opts_defaults(&so);
				so.so_offset = off;
				so.so_exact = off == 20;
				search(&t, q[k], &so, &page);
				ck_assert_uint_eq(page.sr_n, (all.sr_n > off ?
				    (all.sr_n - off < 10 ? all.sr_n - off :
				    10) : 0));
				for (i = 0; i < page.sr_n; i++) {
					ck_assert_uint_eq(
					    page.sr_hits[i].sh_cid,
					    all.sr_hits[off + i].sh_cid);
					ck_assert_double_eq_tol(
					    page.sr_hits[i].sh_score,
					    all.sr_hits[off + i].sh_score,
					    1e-9);
				}
				search_result_free(&page);
			}
			search_result_free(&all);
		}
	}
	tix_close(&t);
}
END_TEST

START_TEST(test_block_cursor)
{
	static uint32_t		 cids[BDOCS + 1];
	static const char	*words[] = { "w0", "w1", "w3", "w20", NULL };
	struct tcur		 tc;
	struct tix		 t;
	uint32_t		 x = 77, target, want;
	size_t			 n, i, w;
	int			 rv;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	tix_compact(&t);
	for (w = 0; words[w] != NULL; w++) {
		tc.c_t = &t;
		tc.c_word = words[w];
		tc.c_cids = cids;
		tc.c_max = BDOCS + 1;
		tc.c_gap = 0;
		ck_assert_int_eq(store_read(&t.t_ix.ix_store, walk_txn, &tc),
		    0);
		n = tc.c_n;
		ck_assert_uint_gt(n, 0);
		/* Targets rising by gaps of every size, some past the end. */
		for (i = 0; i < 40; i++) {
			x = x * 1103515245 + 12345;
			tc.c_gap = 1 + (x >> 16) % (i % 4 == 0 ? 2000 : 40);
			ck_assert_int_eq(store_read(&t.t_ix.ix_store, seek_txn,
			    &tc), 0);
			for (target = 0, want = 0; tc.c_seen < tc.c_nseeks;
			    tc.c_seen++) {
				target = tc.c_targets[tc.c_seen];
				want = 0;
				for (rv = 0; rv < (int)n; rv++)
					if (cids[rv] >= target) {
						want = cids[rv];
						break;
					}
				ck_assert_msg(tc.c_found[tc.c_seen] == want,
				    "%s: seek %u found %u, not %u", words[w],
				    target, tc.c_found[tc.c_seen], want);
			}
		}
	}
	tix_close(&t);
}
END_TEST

/* A fold cut short: one term of the oldest segment, as a slice leaves it. */
static int
fold_some_txn(MDB_txn *txn, void *arg)
{
	struct index		*ix = arg;
	struct ixmeta		 m;
	struct ixseg		 seg;
	struct ixfold		 res;
	roaring_bitmap_t	*tomb;
	MDB_cursor		*c;
	MDB_val			 k, v;
	struct buf		 from;
	int			 rc, done;

	ck_assert_int_eq(index_meta_get(txn, ix, &m), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, index_dbi(ix, IDB_SEGS), &c), 0);
	ck_assert_int_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
	ck_assert_int_eq(ixseg_open(&seg, v.mv_data, v.mv_size), 0);
	memset(&res, 0, sizeof(res));
	ck_assert_int_eq(index_tomb_get(txn, ix, &tomb), 0);
	buf_init(&from);
	rc = ixfold_run(txn, ix, &seg, 1, tomb, &from, 1, 0, &done, &res);
	roaring_bitmap_free(tomb);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(done, 0);
	ck_assert_uint_gt(from.b_len, 0);
	buf_free(&from);
	m.m_folding = seg.s_hdr->h_base + seg.s_hdr->h_nchunks;
	m.m_blocks += res.f_blocks;
	m.m_terms += res.f_terms;
	mdb_cursor_close(c);
	return (index_meta_put(txn, ix, &m));
}

START_TEST(test_block_fold_resume)
{
	static struct search_result before[BQUERIES];
	static char		 q[BQUERIES][64];
	struct search_opts	 so;
	struct search_result	 a;
	struct ixstats		 st;
	struct tix		 t;
	uint64_t		 segs;
	int			 i;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	block_queries(q);
	search_opts_defaults(&so);
	for (i = 0; i < BQUERIES; i++)
		search(&t, q[i], &so, &before[i]);
	/* Fold the oldest segment, and stop after its first term. */
	ck_assert_int_eq(store_write(&t.t_ix.ix_store, fold_some_txn,
	    &t.t_ix), 0);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_folded, 0);
	ck_assert_uint_ne(st.is_folding, 0);
	segs = st.is_segments;
	ck_assert_uint_gt(st.is_blocks, 0);
	check_ok(&t);		/* a fold under way is sound */
	for (i = 0; i < BQUERIES; i++) {
		search(&t, q[i], &so, &a);
		same_hits(&before[i], &a, q[i]);
		search_result_free(&a);
	}
	/* The merger takes it up again first, even below the fold size. */
	ck_assert_int_eq(merge_step(&t.t_ix, 0, UINT64_MAX, -1), 1);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_folding, 0);
	ck_assert_uint_eq(st.is_folded, 1 + BDOCS / 6);
	ck_assert_uint_eq(st.is_segments, segs - 1);
	ck_assert_int_eq(merge_step(&t.t_ix, 0, UINT64_MAX, -1), 0);
	check_ok(&t);
	for (i = 0; i < BQUERIES; i++) {
		search(&t, q[i], &so, &a);
		same_hits(&before[i], &a, q[i]);
		search_result_free(&a);
		search_result_free(&before[i]);
	}
	tix_close(&t);
}
END_TEST

/* No hit of a common word is a deleted document (every third). */
static void
no_deleted_hits(struct tix *t, uint64_t live)
{
	struct search_opts	 so;
	struct search_result	 sr;
	size_t			 i;

	search_opts_defaults(&so);
	so.so_n = BDOCS;
	so.so_exact = 1;
	search(t, "w0 w1 w2 w3", &so, &sr);
	ck_assert_uint_gt(sr.sr_n, 0);
	ck_assert_uint_le(sr.sr_n, live);
	for (i = 0; i < sr.sr_n; i++)
		ck_assert_msg(atoi(sr.sr_hits[i].sh_extid + 1) % 3 != 0,
		    "%s is deleted", sr.sr_hits[i].sh_extid);
	search_result_free(&sr);
}

/* Deletes in blocks: invisible at once, swept out by the merger. */
START_TEST(test_block_sweep)
{
	struct tix	 t;
	struct ixstats	 st, st2;
	struct ixdoc	 doc;
	char		 id[16];
	int		 i;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	tix_compact(&t);
	stats(&t, &st);
	for (i = 0; i < BDOCS; i += 3) {
		snprintf(id, sizeof(id), "b%d", i);
		ck_assert_int_eq(index_delete(&t.t_ix, id), 0);
	}
	stats(&t, &st2);
	ck_assert_uint_eq(st2.is_dead, (BDOCS + 2) / 3);
	no_deleted_hits(&t, st2.is_docs);
	check_ok(&t);
	/* A third dead is past the merger's quarter: it sweeps unasked. */
	ck_assert_int_eq(merge_step(&t.t_ix, 0, TFOLD, -1), 1);
	stats(&t, &st2);
	ck_assert_uint_eq(st2.is_dead, 0);
	ck_assert_uint_eq(st2.is_purges, st.is_purges + 1);
	ck_assert_uint_le(st2.is_blocks, st.is_blocks);
	ck_assert_uint_eq(st2.is_docs, BDOCS - (BDOCS + 2) / 3);
	ck_assert_int_eq(merge_step(&t.t_ix, 0, TFOLD, -1), 0);
	check_ok(&t);
	no_deleted_hits(&t, st2.is_docs);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "b1", &doc), 0);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "b3", &doc), INDEX_ENOENT);
	tix_close(&t);
}
END_TEST

/* Terms values: varints both ways, the fixed struct of the first stores
 * still read, and a varint value of that struct's size padded apart. */
START_TEST(test_terminfo_codec)
{
	struct ixterminfo	 ti, back;
	uint8_t			 tv[IXB_TERMINFO_MAX];
	MDB_val			 v;
	uint32_t		 x = 5;
	int			 i, j, n32 = 0;

	for (i = 0; i < 20000; i++) {
		memset(&ti, 0, sizeof(ti));
		x = x * 1103515245 + 12345;
		ti.ti_df = (uint64_t)x << (i % 40);
		x = x * 1103515245 + 12345;
		ti.ti_blocks = x >> (i % 32);
		for (j = 0; j < i % (IXB_BOUNDS + 1); j++) {
			x = x * 1103515245 + 12345;
			ti.ti_bound.b_tf[j] = 1 + (x >> 17);
			ti.ti_bound.b_dl[j] = x >> 16;
		}
		v.mv_data = tv;
		v.mv_size = ixblk_terminfo_encode(&ti, 1, tv);
		ck_assert_uint_le(v.mv_size, IXB_TERMINFO_MAX);
		ck_assert_uint_ne(v.mv_size, IXB_TERMINFO_V0);
		n32 += v.mv_size == IXB_TERMINFO_V0 + 1;
		ck_assert_int_eq(ixblk_terminfo_decode(&v, 1, &back), 0);
		ck_assert_mem_eq(&back, &ti, sizeof(ti));
		/* Cut short: damaged, or fewer pairs, never more. */
		v.mv_size -= 1 + i % 3;
		if (v.mv_size > 0 && v.mv_size != IXB_TERMINFO_V0 &&
		    ixblk_terminfo_decode(&v, 1, &back) == 0)
			ck_assert(back.ti_bound.b_tf[IXB_BOUNDS - 1] == 0 ||
			    ti.ti_bound.b_tf[IXB_BOUNDS - 1] != 0);
		/* Format 2: no padding; a term with blocks. */
		ti.ti_blocks += ti.ti_blocks == 0;
		ti.ti_df += ti.ti_df == 0;
		v.mv_size = ixblk_terminfo_encode(&ti, 2, tv);
		n32 += v.mv_size == IXB_TERMINFO_V0;
		ck_assert_int_eq(ixblk_terminfo_decode(&v, 2, &back), 0);
		ck_assert_mem_eq(&back, &ti, sizeof(ti));
	}
	ck_assert_int_gt(n32, 1);	/* the padded size came up */
	/* The fixed struct, as the first stores wrote it. */
	memset(&ti, 0, sizeof(ti));
	ti.ti_df = 7;
	ti.ti_blocks = 1;
	ti.ti_bound.b_tf[0] = 2;
	ti.ti_bound.b_dl[0] = 9;
	v.mv_data = &ti;
	v.mv_size = IXB_TERMINFO_V0;
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 1, &back), 0);
	ck_assert_mem_eq(&back, &ti, sizeof(ti));
	/* More pairs than a bound holds. */
	memset(tv, 1, sizeof(tv));
	v.mv_data = tv;
	v.mv_size = 2 + 2 * (IXB_BOUNDS + 1);
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 1, &back), -1);
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 2, &back), -1);
}
END_TEST

/*
 * Format 2's inline postings in a terms value: read back where they
 * are, and there exactly when the term has no blocks.
 */
START_TEST(test_terminfo_inline)
{
	struct ixterminfo	 ti, back;
	struct ixblkhdr		 h;
	uint8_t			 tv[IXB_TERMVAL_MAX], inl[IXB_INLINE_MAX];
	uint8_t			 body[IXB_INLINE_MAX + 1];
	uint32_t		 first;
	size_t			 len, off;
	MDB_val			 v;

	memset(&ti, 0, sizeof(ti));
	ti.ti_df = 2;
	ixbound_add(&ti.ti_bound, 3, 40);
	/* Two postings at 70000 and 70005: delta, tf, length, positions. */
	memcpy(body, "\x00\x01\x28\x07\x05\x03\x1e\x01\x02\x03", 10);
	len = ixblk_inline_encode(70000, 70005, body, 10, inl);
	ck_assert_uint_eq(len, 3 + 1 + 10);
	v.mv_data = tv;
	v.mv_size = ixblk_termval(&ti, 2, inl, len, tv);
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 2, &back), 0);
	ck_assert_uint_eq(back.ti_df, 2);
	ck_assert_uint_eq(back.ti_blocks, 0);
	ck_assert_ptr_eq(back.ti_inline, tv + v.mv_size - len);
	ck_assert_uint_eq(back.ti_inlinelen, len);
	ck_assert_int_eq(ixblk_inline(&back, &first, &h, &off), 0);
	ck_assert_uint_eq(first, 70000);
	ck_assert_uint_eq(h.bh_last, 70005);
	ck_assert_uint_eq(h.bh_n, 2);
	ck_assert_uint_eq(h.bh_bound.b_tf[0], 3);
	ck_assert_mem_eq(back.ti_inline + off, body, 10);
	/* Too long to be inline. */
	memset(body, 0, sizeof(body));
	ck_assert_uint_eq(ixblk_inline_encode(1, 2, body, IXB_INLINE_MAX - 2,
	    inl), IXB_INLINE_MAX);
	ck_assert_uint_eq(ixblk_inline_encode(1, 2, body, IXB_INLINE_MAX - 1,
	    inl), 0);
	/* No blocks and nothing inline, or both: damaged. */
	v.mv_size = ixblk_terminfo_encode(&ti, 2, tv);
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 2, &back), -1);
	ti.ti_blocks = 1;
	v.mv_size = ixblk_termval(&ti, 2, inl, len, tv);
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 2, &back), -1);
	/* More postings than a block holds. */
	ti.ti_blocks = 0;
	ti.ti_df = IXB_MAX + 1;
	v.mv_size = ixblk_termval(&ti, 2, inl, len, tv);
	ck_assert_int_eq(ixblk_terminfo_decode(&v, 2, &back), 0);
	ck_assert_int_eq(ixblk_inline(&back, &first, &h, &off), -1);
}
END_TEST

/* Block headers, both formats: what goes in comes out; format 2's cut
 * short is damaged. */
START_TEST(test_block_header)
{
	struct ixblkhdr	 h, back;
	uint8_t		 hb[64];
	uint32_t	 x = 11, first;
	size_t		 len, off;
	MDB_val		 v;
	int		 i, j, f;

	for (i = 0; i < 5000; i++) {
		memset(&h, 0, sizeof(h));
		x = x * 1103515245 + 12345;
		first = x >> (i % 32);
		h.bh_n = 1 + i % IXB_MAX;
		x = x * 1103515245 + 12345;
		h.bh_last = first + (x >> (i % 32)) % ((uint64_t)UINT32_MAX -
		    first + 1);
		for (j = 0; j < 1 + i % IXB_BOUNDS; j++) {
			x = x * 1103515245 + 12345;
			ixbound_add(&h.bh_bound, 1 + (x >> 16) % 300, x % 60000);
		}
		for (f = 1; f <= 2; f++) {
			len = ixblk_hdr_encode(f, &h, first, hb);
			ck_assert_uint_le(len, ixblk_hdrmax(f));
			v.mv_data = hb;
			v.mv_size = len;
			ck_assert_int_eq(ixblk_hdr_decode(f, &v, first, &back,
			    &off), 0);
			ck_assert_uint_eq(off, len);
			ck_assert_mem_eq(&back, &h, sizeof(h));
			v.mv_size = len - 1;
			ck_assert_int_eq(ixblk_hdr_decode(f, &v, first, &back,
			    &off), -1);
		}
	}
}
END_TEST

/* A term's block, or its terms value when it is inline, rewritten. */
static void
block_damage(struct tix *t, const char *word, int bound, const char *want)
{
	struct ixterminfo	 ti;
	struct ixblkhdr		 h;
	char			 key[IX_TERM_MAX];
	uint8_t			 bk[IX_TERM_MAX + 5], *blk, *nb;
	uint8_t			 hb[64];
	MDB_val			 v;
	size_t			 n, blen, off, hl;
	uint32_t		 first;
	int			 fmt = tix_format(t);

	n = term_key(t, IX_BODY, word, key);
	blk = raw_get(t, IDB_TERMS, key, n, &blen);
	v.mv_data = blk;
	v.mv_size = blen;
	ck_assert_int_eq(ixblk_terminfo_decode(&v, fmt, &ti), 0);
	if (ti.ti_inline != NULL) {
		/* Inline: a bound above none of them, or a byte cut off. */
		nb = xmalloc(IXB_TERMVAL_MAX);
		memset(&ti.ti_bound, 0, sizeof(ti.ti_bound));
		ixbound_add(&ti.ti_bound, 1, UINT16_MAX);
		hl = ixblk_termval(&ti, fmt, ti.ti_inline, ti.ti_inlinelen, nb);
		if (!bound) {
			memcpy(nb, blk, blen);
			hl = blen - 1;
		}
		raw_write(t, IDB_TERMS, key, n, nb, hl);
		check_fails(t, want);
		raw_write(t, IDB_TERMS, key, n, blk, blen);
		check_ok(t);
		free(nb);
		free(blk);
		return;
	}
	free(blk);
	/* Its first block. */
	memcpy(bk, key, n);
	bk[n] = 0;
	blk = NULL;
	for (first = 1; first < BDOCS + 10 && blk == NULL; first++) {
		util_put_be32(bk + n + 1, first);
		blk = raw_get_maybe(t, IDB_BLOCKS, bk, n + 5, &blen);
	}
	ck_assert_ptr_nonnull(blk);
	first--;
	v.mv_data = blk;
	v.mv_size = blen;
	ck_assert_int_eq(ixblk_hdr_decode(fmt, &v, first, &h, &off), 0);
	if (bound) {
		memset(&h.bh_bound, 0, sizeof(h.bh_bound));
		ixbound_add(&h.bh_bound, 1, UINT16_MAX);
	} else
		h.bh_n++;
	hl = ixblk_hdr_encode(fmt, &h, first, hb);
	nb = xmalloc(hl + blen - off);
	memcpy(nb, hb, hl);
	memcpy(nb + hl, blk + off, blen - off);
	raw_write(t, IDB_BLOCKS, bk, n + 5, nb, hl + blen - off);
	check_fails(t, want);
	raw_write(t, IDB_BLOCKS, bk, n + 5, blk, blen);
	check_ok(t);
	free(nb);
	free(blk);
}

/* index_check on damage to the block store, in either format. */
START_TEST(test_block_check)
{
	struct tix		 t;
	struct ixterminfo	 ti;
	char			 key[IX_TERM_MAX];
	uint8_t			 *raw, bk[4];
	uint8_t			 tv[IXB_TERMVAL_MAX], was[IXB_TERMVAL_MAX];
	MDB_val			 v;
	size_t			 n, len, tl;

	ixblk_format_new = _i;
	tix_open(&t);
	block_corpus(&t);
	commit_one(&t, "rare", "a quokka", NULL);
	tix_compact(&t);
	ck_assert_int_eq(tix_format(&t), _i);
	check_ok(&t);
	n = term_key(&t, IX_BODY, "w0", key);

	/* A term's count off by one. */
	raw = raw_get(&t, IDB_TERMS, key, n, &len);
	ck_assert_uint_le(len, sizeof(was));
	memcpy(was, raw, len);
	v.mv_size = len;
	v.mv_data = was;
	ck_assert_int_eq(ixblk_terminfo_decode(&v, _i, &ti), 0);
	ck_assert_ptr_null(ti.ti_inline);
	ti.ti_df++;
	tl = ixblk_terminfo_encode(&ti, _i, tv);
	raw_write(&t, IDB_TERMS, key, n, tv, tl);
	check_fails(&t, "term w0: ");
	raw_write(&t, IDB_TERMS, key, n, was, len);
	check_ok(&t);

	/* A damaged value. */
	raw_write(&t, IDB_TERMS, key, n, "\x80", 1);
	check_fails(&t, "term w0: ");
	raw_write(&t, IDB_TERMS, key, n, was, len);
	check_ok(&t);

	/* Its entry gone. */
	raw_write(&t, IDB_TERMS, key, n, NULL, 0);
	check_fails(&t, "term w0: blocks but no entry in terms");
	raw_write(&t, IDB_TERMS, key, n, was, len);
	check_ok(&t);
	free(raw);

	/* Its first block's bound below its postings, or a posting more. */
	block_damage(&t, "w0", 1, "above its block's bound");
	block_damage(&t, "w0", 0, "term w0: ");

	/* A rare word's postings, inline in format 2. */
	n = term_key(&t, IX_BODY, "quokka", key);
	raw = raw_get(&t, IDB_TERMS, key, n, &len);
	v.mv_size = len;
	v.mv_data = raw;
	ck_assert_int_eq(ixblk_terminfo_decode(&v, _i, &ti), 0);
	ck_assert_int_eq(ti.ti_inline != NULL, _i == 2);
	free(raw);
	block_damage(&t, "quokka", 1, "above its block's bound");
	block_damage(&t, "quokka", 0, "term quokka: ");

	/* Format 2: the lengths of the first chunks gone. */
	if (_i == 2) {
		util_put_be32(bk, 0);
		raw = raw_get(&t, IDB_NORMS, bk, 4, &len);
		ck_assert_uint_eq(len, IXN_RANGE * 2);
		raw_write(&t, IDB_NORMS, bk, 4, NULL, 0);
		check_fails(&t, "has no length in norms");
		raw_write(&t, IDB_NORMS, bk, 4, raw, len);
		check_ok(&t);
		free(raw);
	} else
		ck_assert_uint_eq(db_entries(&t, IDB_NORMS), 0);
	tix_close(&t);
}
END_TEST

static void
fold_all(struct tix *t)
{

	tix_compact(t);
	check_ok(t);
}

/* Search a word, exhaustive and pruned, folded: what it found unfolded. */
static void
fold_same(struct tix *t, const char *q)
{
	struct search_opts	 so, ex;
	struct search_result	 before, a, b;

	search_opts_defaults(&so);
	so.so_n = 100;
	ex = so;
	ex.so_exact = 1;
	search(t, q, &ex, &before);
	tix_compact(t);
	search(t, q, &so, &a);
	search(t, q, &ex, &b);
	same_hits(&before, &a, q);
	same_hits(&before, &b, q);
	search_result_free(&before);
	search_result_free(&a);
	search_result_free(&b);
	check_ok(t);
}

/*
 * Format 2: a term of a few postings keeps them inline, with no block; a
 * fold that adds to it moves them into blocks when they outgrow
 * IXB_INLINE_MAX, and a sweep rewrites them, or drops the term.
 */
START_TEST(test_block_inline)
{
	struct tix	 t;
	struct ixstats	 st;
	char		 id[16], text[64];
	int		 r, moved = -1;

	tix_open(&t);
	ck_assert_int_eq(tix_format(&t), IXB_FORMAT);
	commit_one(&t, "w1", "a wombat and a quokka", NULL);
	commit_one(&t, "w2", "the wombat sleeps", NULL);
	fold_same(&t, "wombat");
	ck_assert_int_eq(word_inline(&t, "wombat"), 1);
	ck_assert_int_eq(word_inline(&t, "quokka"), 1);
	ck_assert_uint_eq(db_entries(&t, IDB_BLOCKS), 0);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_blocks, 0);
	ck_assert_uint_eq(st.is_terms, db_entries(&t, IDB_TERMS));
	for (r = 0; r < 30; r++) {
		snprintf(id, sizeof(id), "q%d", r);
		snprintf(text, sizeof(text), "quokka %.*s quokka", r % 5 + 1,
		    "more words");
		commit_one(&t, id, text, NULL);
		fold_same(&t, "quokka");
		if (word_inline(&t, "quokka") == 0 && moved == -1)
			moved = r;
		if (moved != -1)
			ck_assert_int_eq(word_inline(&t, "quokka"), 0);
	}
	ck_assert_int_gt(moved, 2);		/* inline a while, then not */
	ck_assert_uint_gt(db_entries(&t, IDB_BLOCKS), 0);
	stats(&t, &st);
	ck_assert_uint_eq(st.is_blocks, db_entries(&t, IDB_BLOCKS));
	ck_assert_uint_eq(st.is_terms, db_entries(&t, IDB_TERMS));
	ck_assert_str_eq(idset(&t, "wombat", NULL, NULL), "w1,w2");

	/*
	 * Swept: one of two postings, then the other, and the term goes
	 * (scores change: the sweep takes the dead out of the counts).
	 */
	ck_assert_int_eq(index_delete(&t.t_ix, "w2"), 0);
	fold_all(&t);
	ck_assert_int_eq(word_inline(&t, "wombat"), 1);
	ck_assert_str_eq(idset(&t, "wombat", NULL, NULL), "w1");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_int_eq(index_delete(&t.t_ix, "w1"), 0);
	fold_all(&t);
	ck_assert_int_eq(word_inline(&t, "wombat"), -1);
	ck_assert_str_eq(idset(&t, "wombat", NULL, NULL), "");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_dead, 0);
	ck_assert_uint_eq(st.is_terms, db_entries(&t, IDB_TERMS));
	tix_close(&t);
}
END_TEST

/*
 * An index of format 1, made as quire made it before, stays in format 1
 * when a quire of format 2 opens it: it folds and sweeps in format 1,
 * and finds what a format-2 index of the same documents finds, with
 * the same scores.
 */
START_TEST(test_block_upgrade)
{
	static char		 q[BQUERIES][64];
	struct search_opts	 so, ex;
	struct search_result	 a, b;
	struct ixblkhdr		 h;
	struct tix		 t, t2;
	char			 key[IX_TERM_MAX];
	uint8_t			 bk[IX_TERM_MAX + 5], *blk, *meta;
	uint32_t		 mf;
	size_t			 n, len;
	int			 i, f;

	block_queries(q);
	for (f = 1; f <= 2; f++) {
		ixblk_format_new = f;
		tix_open(f == 1 ? &t : &t2);
		block_corpus(f == 1 ? &t : &t2);
	}
	/*
	 * Half folded in format 1, its meta record as quire wrote it before
	 * formats (0 where the format is now); then quire is format 2.
	 */
	ck_assert_int_eq(merge_step(&t.t_ix, MERGE_ALL, TFOLD, -1), 1);
	meta = raw_get(&t, IDB_META, "stats", 5, &len);
	ck_assert_uint_ge(len, 8);
	memcpy(&mf, meta + 4, 4);
	ck_assert_uint_eq(mf, 1);		/* m_format */
	memset(meta + 4, 0, 4);
	raw_write(&t, IDB_META, "stats", 5, meta, len);
	free(meta);
	index_close(&t.t_ix);
	ck_assert_int_eq(index_open(&t.t_ix, t.t_dir, 0, STORE_SYNC_NONE), 0);
	ck_assert_int_eq(tix_format(&t), 1);
	for (f = 0; f < 2; f++) {
		commit_one(f == 0 ? &t : &t2, "rare", "a quokka", NULL);
		tix_compact(f == 0 ? &t : &t2);
		ck_assert_int_eq(index_delete(f == 0 ? &t.t_ix : &t2.t_ix,
		    "b5"), 0);
	}
	ck_assert_int_eq(tix_format(&t), 1);
	ck_assert_int_eq(tix_format(&t2), 2);
	/* The rare word: a block of format 1 in one, inline in the other. */
	ck_assert_int_eq(word_inline(&t, "quokka"), 0);
	ck_assert_int_eq(word_inline(&t2, "quokka"), 1);
	n = term_key(&t, IX_BODY, "quokka", key);
	memcpy(bk, key, n);
	bk[n] = 0;
	util_put_be32(bk + n + 1, BDOCS + 1);
	blk = raw_get(&t, IDB_BLOCKS, bk, n + 5, &len);
	ck_assert_uint_gt(len, sizeof(h));
	memcpy(&h, blk, sizeof(h));
	ck_assert_uint_eq(h.bh_n, 1);
	ck_assert_uint_eq(h.bh_last, BDOCS + 1);
	free(blk);
	ck_assert_uint_lt(db_entries(&t2, IDB_BLOCKS),
	    db_entries(&t, IDB_BLOCKS));
	check_ok(&t);
	check_ok(&t2);
	search_opts_defaults(&so);
	ex = so;
	ex.so_exact = 1;
	for (i = 0; i < BQUERIES; i++) {
		search(&t, q[i], &so, &a);
		search(&t2, q[i], &so, &b);
		same_hits(&a, &b, q[i]);
		search_result_free(&a);
		search_result_free(&b);
		search(&t, q[i], &ex, &a);
		search(&t2, q[i], &ex, &b);
		same_hits(&a, &b, q[i]);
		search_result_free(&a);
		search_result_free(&b);
	}
	ck_assert_int_ge(block_classes_check(&t), 1);
	ck_assert_int_ge(block_classes_check(&t2), 1);
	tix_close(&t2);
	tix_close(&t);
}
END_TEST

/* Chunk lengths across the norms' ranges, written in pieces. */
static int
norms_put_txn(MDB_txn *txn, void *arg)
{
	struct tix	*t = arg;
	uint16_t	 dls[300];
	int		 i;

	for (i = 0; i < 300; i++)
		dls[i] = 1000 + i;
	ck_assert_int_eq(ixnorm_put(txn, &t->t_ix, IXN_RANGE - 100, 200, dls),
	    0);
	/* Over part of it again, and on into the next range. */
	ck_assert_int_eq(ixnorm_put(txn, &t->t_ix, IXN_RANGE + 50, 100,
	    dls + 100), 0);
	ck_assert_int_eq(ixnorm_put(txn, &t->t_ix, 7, 0, dls), 0);
	return (0);
}

static int
norms_get_txn(MDB_txn *txn, void *arg)
{
	struct tix	*t = arg;
	struct ixnorm	 nr;
	uint32_t	 cid, dl, want;

	ixnorm_init(&nr, txn, &t->t_ix);
	for (cid = IXN_RANGE - 120; cid < IXN_RANGE + 170; cid++) {
		ck_assert_int_eq(ixnorm_get(&nr, cid, &dl), 0);
		if (cid < IXN_RANGE - 100 || cid >= IXN_RANGE + 150)
			want = 0;
		else if (cid >= IXN_RANGE + 50)
			want = 1000 + 100 + cid - (IXN_RANGE + 50);
		else
			want = 1000 + cid - (IXN_RANGE - 100);
		ck_assert_msg(dl == want, "chunk %u: %u, not %u", cid, dl,
		    want);
	}
	ck_assert_int_eq(ixnorm_get(&nr, 3 * IXN_RANGE, &dl), MDB_NOTFOUND);
	return (0);
}

START_TEST(test_norms)
{
	struct tix	 t;

	tix_open(&t);
	ck_assert_int_eq(store_write(&t.t_ix.ix_store, norms_put_txn, &t), 0);
	ck_assert_int_eq(store_read(&t.t_ix.ix_store, norms_get_txn, &t), 0);
	ck_assert_uint_eq(db_entries(&t, IDB_NORMS), 2);
	tix_close(&t);
}
END_TEST

/* Records: their codecs, the format of before, names, dictionaries. */

START_TEST(test_rec_doc_codec)
{
	struct ixdocrec	 r;
	struct ixdoc	 d;
	struct buf	 b;
	uint8_t		 v[8];
	MDB_val		 mv;
	uint64_t	 id;
	size_t		 i, n;
	const uint64_t	 docids[] = { 1, 255, 256, 65536, 1ULL << 56,
	    UINT64_MAX };

	memset(&r, 0, sizeof(r));
	r.r_hash = 0x0102030405060708ULL;
	r.r_job = 300;
	r.r_type = 3;
	r.r_cid = 70000;
	r.r_nchunks = 2;
	r.r_words = 123456;
	r.r_extid = "doc-1";
	r.r_title = "A title";
	r.r_tenant = "acme";
	r.r_source = "/data/in.ndjson";
	r.r_tenant_ref = 2 * 5;
	r.r_source_ref = 2 * strlen(r.r_source) + 1;
	r.r_attrs = "\x81\xa1k\xa1v";
	r.r_attrslen = 5;
	r.r_attrs_ref = 2 * 5 + 1;
	buf_init(&b);
	ixrec_doc_encode(&b, &r);
	ck_assert_int_eq(ixrec_doc_decode(42, b.b_data, b.b_len, &d), 0);
	ck_assert_uint_eq(d.d_docid, 42);
	ck_assert_uint_eq(d.d_hash, r.r_hash);
	ck_assert_uint_eq(d.d_job, 300);
	ck_assert_int_eq(d.d_type, 3);
	ck_assert_uint_eq(d.d_cid, 70000);
	ck_assert_uint_eq(d.d_nchunks, 2);
	ck_assert_uint_eq(d.d_words, 123456);
	ck_assert_str_eq(d.d_extid, "doc-1");
	ck_assert_str_eq(d.d_title, "A title");
	/* The tenant is interned (id 5), the source written out. */
	ck_assert_uint_eq(d.d_tenant_id, 5);
	ck_assert_str_eq(d.d_tenant, "");
	ck_assert_uint_eq(d.d_source_id, 0);
	ck_assert_str_eq(d.d_source, "/data/in.ndjson");
	/* Cut anywhere, it is damaged; so is a record of nothing. */
	for (n = 0; n < b.b_len; n++)
		ck_assert_msg(ixrec_doc_decode(42, b.b_data, n, &d) == -1,
		    "%zu bytes of %zu decoded", n, b.b_len);
	/* Interned attributes: their id, nothing after it. */
	r.r_attrs_ref = 2 * 9;
	buf_reset(&b);
	ixrec_doc_encode(&b, &r);
	ck_assert_int_eq(ixrec_doc_decode(42, b.b_data, b.b_len, &d), 0);
	ck_assert_uint_eq(d.d_attrs_id, 9);
	buf_addc(&b, 0x80);
	ck_assert_int_eq(ixrec_doc_decode(42, b.b_data, b.b_len, &d), -1);
	r.r_attrs_ref = 2 * 5 + 1;
	/* A name reference to id 0 is damage. */
	r.r_tenant_ref = 0;
	buf_reset(&b);
	ixrec_doc_encode(&b, &r);
	ck_assert_int_eq(ixrec_doc_decode(42, b.b_data, b.b_len, &d), -1);

	/* The format of before: its docid must be the key's. */
	r.r_tenant_ref = 2 * 4 + 1;
	r.r_docid = 42;
	ixrec_format = 1;
	buf_reset(&b);
	ixrec_doc_encode(&b, &r);
	ixrec_format = 2;
	ck_assert_uint_eq((uint8_t)b.b_data[0], 0x8c);	/* a map of 12 */
	ck_assert_int_eq(ixrec_doc_decode(42, b.b_data, b.b_len, &d), 0);
	ck_assert_str_eq(d.d_tenant, "acme");
	ck_assert_str_eq(d.d_source, "/data/in.ndjson");
	ck_assert_uint_eq(d.d_words, 123456);
	ck_assert_uint_eq(d.d_hash, r.r_hash);
	ck_assert_int_eq(ixrec_doc_decode(43, b.b_data, b.b_len, &d), -1);
	ck_assert_int_eq(index_doc_decode(b.b_data, b.b_len, &d), 0);
	ck_assert_int_eq(index_doc_decode(b.b_data, b.b_len / 2, &d), -1);
	buf_free(&b);

	/* External ids' values: the shortest big-endian, or 8 bytes. */
	for (i = 0; i < sizeof(docids) / sizeof(docids[0]); i++) {
		mv.mv_size = ixrec_docid_put(v, docids[i]);
		mv.mv_data = v;
		ck_assert_uint_eq(mv.mv_size, docids[i] < 256 ? 1 :
		    docids[i] < 65536 ? 2 : docids[i] < 16777216 ? 3 : 8);
		ck_assert_int_eq(ixrec_docid_get(&mv, &id), 0);
		ck_assert_uint_eq(id, docids[i]);
	}
	util_put_be64(v, 300);
	mv.mv_data = v;
	mv.mv_size = 8;
	ck_assert_int_eq(ixrec_docid_get(&mv, &id), 0);
	ck_assert_uint_eq(id, 300);
	mv.mv_size = 4;		/* a leading zero byte */
	ck_assert_int_eq(ixrec_docid_get(&mv, &id), -1);
	mv.mv_size = 0;
	ck_assert_int_eq(ixrec_docid_get(&mv, &id), -1);
	mv.mv_size = 9;
	ck_assert_int_eq(ixrec_docid_get(&mv, &id), -1);
}
END_TEST

/* The first byte of a stored record, and its length. */
static int
rec_first(struct tix *t, int db, const void *key, size_t klen, size_t *len)
{
	uint8_t	*v;
	int	 c;

	v = raw_get(t, db, key, klen, len);
	c = v[0];
	free(v);
	return (c);
}

/*
 * An index written in the format of before, through the same code path,
 * is read, searched, checked, updated and deleted from as it was; new
 * documents go in in the current format beside the old ones.
 */
START_TEST(test_rec_old_format)
{
	struct tix	 t;
	struct tdoc	 d;
	struct tchunks	 tc;
	struct ixdoc	 doc;
	struct ixcommit	 res;
	struct ixstats	 st;
	uint8_t		 kb[8];
	char		 text[3000];
	size_t		 i, len;

	tix_open(&t);
	for (i = 0; i < 2000; i++)
		text[i] = "abcdefgh "[i % 9];
	memcpy(text + 2000, "|the end of old", 16);
	ixrec_format = 1;
	commit_one(&t, "old1", text, NULL);
	memset(&d, 0, sizeof(d));
	d.d_id = "old2";
	d.d_text = "an old walrus";
	d.d_title = "Old two";
	d.d_tenant = "b";
	d.d_attr = "lang=en";
	add_doc(&t, &d);
	commit_one(&t, "old3", "another old walrus", NULL);
	commit(&t, NULL);
	ixrec_format = 2;

	util_put_be64(kb, 2);
	ck_assert_int_eq(rec_first(&t, IDB_DOCS, kb, 8, &len), 0x8c);
	util_put_be32(kb, 1);
	ck_assert_int_eq(rec_first(&t, IDB_CHUNKS, kb, 4, &len), 0);
	ck_assert_uint_lt(len, 2000);	/* a zstd frame */
	free(raw_get(&t, IDB_EXTIDS, "old2", 4, &len));
	ck_assert_uint_eq(len, 8);
	check_ok(&t);

	ck_assert_str_eq(idset(&t, "walrus", NULL, NULL), "old2,old3");
	ck_assert_str_eq(ids(&t, "walrus", "tenant=b", NULL), "old2");
	ck_assert_int_eq(index_get_doc(&t.t_ix, "old2", &doc), 0);
	ck_assert_str_eq(doc.d_title, "Old two");
	ck_assert_str_eq(doc.d_tenant, "b");
	ck_assert_str_eq(doc.d_source, "/data/old2");
	memset(&tc, 0, sizeof(tc));
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "old1", 10, &doc, chunks_cb,
	    &tc), 0);
	ck_assert_uint_eq(tc.tc_n, 2);
	ck_assert(memcmp(tc.tc_text[0], text, 2000) == 0);
	ck_assert_str_eq(tc.tc_text[1], "the end of old");
	ck_assert_str_eq(tc.tc_heading[1], "More");

	/* Redelivered: unchanged; changed: replaced, in the new format. */
	commit_one(&t, "old3", "another old walrus", &res);
	ck_assert_uint_eq(res.ic_unchanged, 1);
	commit_one(&t, "old2", "a new walrus", &res);
	ck_assert_uint_eq(res.ic_replaced, 1);
	ck_assert_uint_eq(res.ic_added, 1);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "old2", &doc), 0);
	util_put_be64(kb, doc.d_docid);
	ck_assert_int_eq(rec_first(&t, IDB_DOCS, kb, 8, &len), 0x02);
	free(raw_get(&t, IDB_EXTIDS, "old2", 4, &len));
	ck_assert_uint_eq(len, 1);
	ck_assert_str_eq(idset(&t, "walrus", NULL, NULL), "old2,old3");
	ck_assert_str_eq(ids(&t, "walrus", "tenant=b", NULL), "");
	ck_assert_int_eq(index_delete(&t.t_ix, "old3"), 0);
	ck_assert_int_eq(index_delete(&t.t_ix, "old1"), 0);
	ck_assert_str_eq(ids(&t, "walrus", NULL, NULL), "old2");
	stats(&t, &st);
	ck_assert_uint_eq(st.is_docs, 1);
	check_ok(&t);
	tix_close(&t);
}
END_TEST

static uint32_t
rec_meta32(struct tix *t, const char *key)
{
	uint8_t	*v;
	size_t	 len;
	uint32_t x;

	v = raw_get(t, IDB_META, key, strlen(key), &len);
	ck_assert_uint_eq(len, 4);
	x = util_get_be32(v);
	free(v);
	return (x);
}

/* One chunk of text, its tenant and source as given. */
static void
rec_add(struct tix *t, const char *id, const char *tenant, const char *src,
    const char *text, const char *attr)
{
	struct ixdoc_info	 di;
	struct xattr		 xa;

	memset(&di, 0, sizeof(di));
	if (attr != NULL) {
		xa.xa_name = "lang";
		xa.xa_value = (char *)attr;
		di.di_attrs = &xa;
		di.di_nattrs = 1;
	}
	di.di_extid = id;
	di.di_hash = text_hash(text, NULL);
	di.di_job = ++t->t_job;
	di.di_tenant = tenant;
	di.di_source = src;
	ck_assert_int_eq(ixbatch_doc(t->t_b, &di), 0);
	ck_assert_int_eq(ixbatch_chunk(t->t_b, "", text, strlen(text)), 0);
	ck_assert_int_eq(ixbatch_term(t->t_b, IX_BODY, "word", 4, 0), 0);
	ck_assert_int_eq(ixbatch_end_doc(t->t_b), 0);
}

/* Tenants and sources are interned, but for long ones. */
START_TEST(test_rec_names)
{
	struct tix	 t;
	struct ixdoc	 doc;
	char		 src[IX_NAME_MAX + 10];
	uint8_t		 kb[5];

	tix_open(&t);
	memset(src, 'x', sizeof(src) - 1);
	src[0] = '/';
	src[sizeof(src) - 1] = '\0';
	rec_add(&t, "long", "acme", src, "a long source", "klingon");
	rec_add(&t, "short1", "acme", "/data/short", "one", "english");
	rec_add(&t, "short2", "acme", "/data/short", "two", "english");
	rec_add(&t, "none", "", "", "three", NULL);
	commit(&t, NULL);
	check_ok(&t);
	/* "acme", "/data/short" and the shared attributes: three names. */
	ck_assert_uint_eq(rec_meta32(&t, "names"), 3);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "long", &doc), 0);
	ck_assert_str_eq(doc.d_source, src);
	ck_assert_str_eq(doc.d_tenant, "acme");
	ck_assert_uint_eq(doc.d_attrs_id, 0);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "short2", &doc), 0);
	ck_assert_str_eq(doc.d_source, "/data/short");
	ck_assert_str_eq(doc.d_tenant, "acme");
	ck_assert_uint_eq(doc.d_attrs_id, 3);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "none", &doc), 0);
	ck_assert_str_eq(doc.d_source, "");
	ck_assert_str_eq(doc.d_tenant, "");
	/* Another batch finds the names there, adds none of its own. */
	rec_add(&t, "short3", "acme", "/data/short", "four", "english");
	rec_add(&t, "short4", "acme", "/data/short", "five", "french");
	commit(&t, NULL);
	ck_assert_uint_eq(rec_meta32(&t, "names"), 3);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "short3", &doc), 0);
	ck_assert_uint_eq(doc.d_attrs_id, 3);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "short4", &doc), 0);
	ck_assert_uint_eq(doc.d_attrs_id, 0);
	check_ok(&t);
	/* A name gone from the table is damage. */
	kb[0] = 'I';
	util_put_be32(kb + 1, 2);
	raw_write(&t, IDB_META, kb, 5, NULL, 0);
	check_fails(&t, "is not in the names table");
	ck_assert_int_eq(index_get_doc(&t.t_ix, "short1", &doc), -1);
	ck_assert_int_eq(index_get_doc(&t.t_ix, "long", &doc), 0);
	tix_close(&t);
}
END_TEST

/* A short text of words from mvocab, different for each n. */
static size_t
rec_text(char *buf, size_t size, uint32_t n)
{
	uint32_t	 x = n * 2654435761U + 1;
	size_t		 len = 0;
	int		 i, w;

	len = snprintf(buf, size, "entry %u:", n);
	for (i = 0; i < 20; i++) {
		x = x * 1103515245U + 12345U;
		w = (x >> 16) % MWORDS;
		len += snprintf(buf + len, size - len, " %s", mvocab[w]);
	}
	return (len);
}

static void
rec_batch(struct tix *t, uint32_t from, uint32_t n)
{
	struct tdoc	 d;
	char		 id[32], text[512];
	uint32_t	 i;

	for (i = from; i < from + n; i++) {
		snprintf(id, sizeof(id), "r%u", i);
		rec_text(text, sizeof(text), i);
		memset(&d, 0, sizeof(d));
		d.d_id = id;
		d.d_text = text;
		add_doc(t, &d);
	}
	commit(t, NULL);
}

/*
 * The first batch large enough trains a dictionary; its chunks and those
 * of later batches are compressed with it (but for texts too short to
 * gain), read back the same by another index handle; a dictionary gone
 * makes their texts damaged.
 */
START_TEST(test_rec_dict)
{
	struct tix	 t;
	struct tchunks	 tc;
	struct ixdoc	 doc;
	struct search_result sr;
	uint8_t		 kb[5];
	char		 id[32], want[512];
	size_t		 len, raw = 0, stored = 0;
	uint32_t	 i;

	tix_open(&t);
	rec_batch(&t, 0, 10);		/* too small a sample */
	ck_assert_ptr_null(raw_get_maybe(&t, IDB_META, "dict", 4, &len));
	util_put_be32(kb, 1);
	ck_assert_int_eq(rec_first(&t, IDB_CHUNKS, kb, 4, &len), 0x80);
	rec_batch(&t, 10, 2000);
	ck_assert_uint_eq(rec_meta32(&t, "dict"), 1);
	rec_batch(&t, 2010, 1000);
	ck_assert_uint_eq(rec_meta32(&t, "dicts"), 1);
	for (i = 11; i <= 3010; i++) {
		util_put_be32(kb, i);
		ck_assert_int_eq(rec_first(&t, IDB_CHUNKS, kb, 4, &len), 0x82);
		stored += len;
		raw += rec_text(want, sizeof(want), i - 1);
	}
	/* Smaller than the texts, headers and all. */
	ck_assert_uint_lt(stored, raw * 3 / 4);
	/* A text too short to gain much stays as it is, and reads back. */
	rec_text(want, 60, 9999);
	commit_one(&t, "short", want, NULL);
	util_put_be32(kb, 3011);
	ck_assert_int_eq(rec_first(&t, IDB_CHUNKS, kb, 4, &len), 0x80);
	ck_assert_str_eq(ids(&t, "9999", NULL, NULL), "short");
	check_ok(&t);

	/* Another handle: the dictionary loaded from the index. */
	index_close(&t.t_ix);
	ck_assert_int_eq(index_open(&t.t_ix, t.t_dir, 0, STORE_SYNC_NONE), 0);
	for (i = 5; i < 3010; i += 401) {
		snprintf(id, sizeof(id), "r%u", i);
		memset(&tc, 0, sizeof(tc));
		ck_assert_int_eq(index_doc_chunks(&t.t_ix, id, 10, &doc,
		    chunks_cb, &tc), 0);
		ck_assert_uint_eq(tc.tc_n, 1);
		rec_text(want, sizeof(want), i);
		ck_assert_str_eq(tc.tc_text[0], want);
	}
	search(&t, "+\"entry 2500\"", NULL, &sr);
	ck_assert_uint_eq(sr.sr_n, 1);
	ck_assert_str_eq(sr.sr_hits[0].sh_extid, "r2500");
	ck_assert_ptr_nonnull(strstr(sr.sr_hits[0].sh_snippet,
	    "**entry** **2500**"));
	search_result_free(&sr);
	check_ok(&t);

	/* Without its dictionary, a chunk's text is lost. */
	kb[0] = 'D';
	util_put_be32(kb + 1, 1);
	raw_write(&t, IDB_META, kb, 5, NULL, 0);
	index_close(&t.t_ix);
	ck_assert_int_eq(index_open(&t.t_ix, t.t_dir, 0, STORE_SYNC_NONE), 0);
	check_fails(&t, "chunk 11: its text is damaged");
	ck_assert_int_eq(index_doc_chunks(&t.t_ix, "r10", 10, &doc, chunks_cb,
	    &tc), -1);
	tix_close(&t);
}
END_TEST

/* The pages of a database, branch, leaf and overflow. */
struct tpages {
	struct index	*p_ix;
	int		 p_db;
	size_t		 p_pages;
	size_t		 p_entries;
};

static int
pages_txn(MDB_txn *txn, void *arg)
{
	struct tpages	*p = arg;
	MDB_stat	 st;
	int		 rc;

	if ((rc = mdb_stat(txn, index_dbi(p->p_ix, p->p_db), &st)) != 0)
		return (rc);
	p->p_pages = st.ms_branch_pages + st.ms_leaf_pages +
	    st.ms_overflow_pages;
	p->p_entries = st.ms_entries;
	return (0);
}

static size_t
db_pages(struct tix *t, int db, size_t *entries)
{
	struct tpages	 p;

	p.p_ix = &t->t_ix;
	p.p_db = db;
	ck_assert_int_eq(store_read(&t->t_ix.ix_store, pages_txn, &p), 0);
	if (entries != NULL)
		*entries = p.p_entries;
	return (p.p_pages);
}

/*
 * Runs of ascending ids in front of larger ones leave extids' pages
 * half full; index_pack fills them, every id still found.
 */
START_TEST(test_rec_pack)
{
	struct tix	 t;
	struct ixdoc	 doc;
	char		 id[32];
	size_t		 before, after, n;
	int		 run, i;

	tix_open(&t);
	ck_assert_int_eq(index_pack(&t.t_ix), 0);	/* empty: nothing */
	for (run = 9; run >= 0; run--) {
		for (i = 0; i < 1000; i++) {
			snprintf(id, sizeof(id), "run%d:record-%06d", run, i);
			rec_add(&t, id, "acme", "/data/runs", "a record",
			    NULL);
			if (i % 250 == 249)
				commit(&t, NULL);
		}
	}
	before = db_pages(&t, IDB_EXTIDS, &n);
	ck_assert_uint_eq(n, 10000);
	ck_assert_int_eq(index_pack(&t.t_ix), 0);
	after = db_pages(&t, IDB_EXTIDS, &n);
	ck_assert_uint_eq(n, 10000);
	ck_assert_msg(after * 10 < before * 7, "%zu pages, %zu before",
	    after, before);
	check_ok(&t);
	for (run = 0; run < 10; run++) {
		snprintf(id, sizeof(id), "run%d:record-%06d", run, run * 99);
		ck_assert_int_eq(index_get_doc(&t.t_ix, id, &doc), 0);
		ck_assert_str_eq(doc.d_extid, id);
	}
	/* Updates and deletes go on as before. */
	rec_add(&t, "run3:record-000005", "acme", "/data/runs", "changed",
	    NULL);
	commit(&t, NULL);
	ck_assert_int_eq(index_delete(&t.t_ix, "run4:record-000004"), 0);
	check_ok(&t);
	(void)db_pages(&t, IDB_EXTIDS, &n);
	ck_assert_uint_eq(n, 9999);
	tix_close(&t);
}
END_TEST

static Suite *
index_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("index");

	tc = tcase_create("segments");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_segment_layout);
	tcase_add_test(tc, test_segment_memo);
	tcase_add_test(tc, test_segment_hit_order);
	tcase_add_test(tc, test_segment_term_order);
	tcase_add_test(tc, test_segment_skip);
	tcase_add_test(tc, test_segment_damage);
	tcase_add_test(tc, test_segment_split_damage);
	tcase_add_test(tc, test_segment_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("scoring");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bm25);
	tcase_add_test(tc, test_bm25_global);
	tcase_add_test(tc, test_bm25_dead);
	tcase_add_test(tc, test_title_weight);
	tcase_add_test(tc, test_rank_window);
	suite_add_tcase(s, tc);

	tc = tcase_create("queries");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_query_boolean);
	tcase_add_test(tc, test_query_operators);
	tcase_add_test(tc, test_query_phrase);
	tcase_add_test(tc, test_query_prefix);
	tcase_add_test(tc, test_query_prefix_layout);
	tcase_add_test(tc, test_query_filters);
	tcase_add_test(tc, test_snippets);
	suite_add_tcase(s, tc);

	tc = tcase_create("updates");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_update_unchanged);
	tcase_add_test(tc, test_commit_background);
	tcase_add_test(tc, test_update_replaced);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_delete_many);
	tcase_add_test(tc, test_doc_chunks);
	tcase_add_test(tc, test_doc_whole_move);
	suite_add_tcase(s, tc);

	tc = tcase_create("merge");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_merge_deletes);
	tcase_add_test(tc, test_fold_map_full);
	tcase_add_test(tc, test_commit_again);
	tcase_add_test(tc, test_commit_ids_full);
	tcase_add_test(tc, test_shrink_renum);
	tcase_add_test(tc, test_segment_qsg1);
	tcase_add_test(tc, test_typo_walk);
	suite_add_tcase(s, tc);

	tc = tcase_create("blocks");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_block_bound);
	tcase_add_loop_test(tc, test_block_prune, 1, IXB_FORMAT + 1);
	tcase_add_test(tc, test_segment_prune);
	tcase_add_loop_test(tc, test_block_classes, 1, IXB_FORMAT + 1);
	tcase_add_loop_test(tc, test_block_offset, 1, IXB_FORMAT + 1);
	tcase_add_loop_test(tc, test_block_cursor, 1, IXB_FORMAT + 1);
	tcase_add_loop_test(tc, test_block_fold_resume, 1, IXB_FORMAT + 1);
	tcase_add_loop_test(tc, test_block_sweep, 1, IXB_FORMAT + 1);
	tcase_add_test(tc, test_terminfo_codec);
	tcase_add_loop_test(tc, test_block_check, 1, IXB_FORMAT + 1);
	tcase_add_test(tc, test_terminfo_inline);
	tcase_add_test(tc, test_block_header);
	tcase_add_test(tc, test_block_inline);
	tcase_add_test(tc, test_block_upgrade);
	tcase_add_test(tc, test_norms);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check_extid_missing);
	tcase_add_test(tc, test_check_extid_other);
	tcase_add_test(tc, test_check_chunk_missing);
	tcase_add_test(tc, test_check_orphans);
	tcase_add_test(tc, test_check_undelete);
	tcase_add_test(tc, test_check_tomb_damaged);
	suite_add_tcase(s, tc);

	tc = tcase_create("records");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rec_doc_codec);
	tcase_add_test(tc, test_rec_old_format);
	tcase_add_test(tc, test_rec_names);
	tcase_add_test(tc, test_rec_dict);
	tcase_add_test(tc, test_rec_pack);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_index", index_suite()));
}
