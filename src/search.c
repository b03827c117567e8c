/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Search: score a query's chunks with BM25, return the top
 * documents (or, with so_chunks, chunks) with a snippet of the best
 * chunk of each, and the counts of facets.  This file runs a search;
 * the walks that score chunks lie below it (search.h): over the block
 * store (search_block.c) and over the segments (search_seg.c), on what
 * both share (search_score.c); hits are filled in from their records,
 * with a snippet (search_snip.c).
 *
 * The query's words and operators are read by search_query.c; words are
 * normalized and stemmed as the index was.
 *
 * A word that matches nothing or very little is corrected (so_typos;
 * search_typos, with the dictionary walk in search_typo.c): replaced by
 * the nearest term of the index within one or two edits, or joined by
 * it when the word is rare but there, its idf lowered so that exact
 * matches rank first.  The result names each correction (sr_corr_*).
 *
 * Scoring is BM25 over chunks, title and text as fields of one score
 * (BM25F): a word's tf in the title (which counts with a document's
 * first chunk) times so_wtitle plus its tf in the text, saturated once
 * (search_bm25).  df is a term's frequency in texts, summed over the
 * block store and the segments, N the number of chunks and avgdl the
 * mean length of the live ones (a title's words included): dead chunks
 * count in df and N until the merger purges them, which only nudges idf
 * (in df alone, they could turn it negative; a prefix's df, summed over
 * its expansions, stops at N).  The block store (index_block.c) is read
 * first, document at a time, with block-max pruning (search_block.c).
 * Then each segment is scored on its own, term at a time
 * (search_seg.c).  Survivors (required items present, no excluded one,
 * every filter met, not tombstoned) go to the top n (search_top.c):
 * documents, each scoring as its best chunk, or chunks, ties going to
 * the older chunk.  Pruning skips only chunks that cannot change the
 * top n, so the hits are those of --exact (so_exact), which reads every
 * posting and counts every match.  Then the first so_window hits are
 * rescored for where the query's words are in their best chunks
 * (search_rank.c) and sorted again; the top holds at least so_window,
 * so that window is the same pruned or not.
 *
 * Then a document's matches, the number of its chunks that match, are
 * counted in a second pass, exact, over the chunks of the documents of
 * the page only (search_matches); and facets (search_facet.c) count the
 * values of filter fields among the set of matches (ss_set), which is
 * whole when nothing was pruned: a search with facets does not prune
 * when its words have few postings (search_facet_cheap).
 *
 * Filters (--filter K=V) are exact: tenant=, type=, source= and any
 * attribute of a JSON record; each is a posting list of its own ('f'
 * terms).  The segments' postings of it are read into a CRoaring bitmap
 * (intersected over the filters); the pruned walks over the block store
 * follow it by cursors, and --exact reads its blocks into the bitmap
 * too.
 *
 * A search may have a time budget (so_budget_ms): the supervisor, which
 * searches on its event loop for the members of its socket's group,
 * gives one so that no query holds the loop for long.  The clock is read
 * every 1024 postings or chunks (search_late); past the budget the
 * search gives up with an error rather than answer with hits it did not
 * finish scoring.
 */

#include <sys/types.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <roaring/roaring.h>

#include "quire.h"
#include "search.h"

#define SEARCH_FACET_MS		250	/* time facets may take */
#define SEARCH_FILTER_RUN	16	/* chunks in a row added as a range */

/*
 * The per-chunk arrays of a segment's scoring (accumulators, marks,
 * title tfs, candidates, places of positions) are kept from one search
 * to the next in a process (searches in a process run one at a time):
 * allocated afresh, megabytes for a big segment, they cost each query
 * page faults and their zeroing, more than scoring a common word.  A
 * search sets back to 0 every entry it set, segment by segment
 * (search_seg_clear); one that ends on an error may not have, and its
 * arrays are freed instead.
 */
static struct sscratch search_scratch;

_Static_assert(SEARCH_GLOBAL_TERMS == SEARCH_TERMS_MAX,
    "a query's terms fit in its global statistics");

void
search_opts_defaults(struct search_opts *so)
{
	memset(so, 0, sizeof(*so));
	so->so_n = 10;
	so->so_k1 = 1.2;
	so->so_b = 0.75;
	so->so_wtitle = 5.0;
	so->so_wbody = 1.0;
	so->so_facet_n = SEARCH_FACET_N;
	so->so_facet_exact = SEARCH_FACET_EXACT;
	so->so_wprox = 0.5;
	so->so_wexact = 0.5;
	so->so_wheading = 0.0;
	so->so_window = 30;
	so->so_typos = 0;	/* the front ends follow "typos" */
	so->so_typo1 = 4;
	so->so_typo2 = 8;
}

/* The ranking's settings from the configuration. */
void
search_opts_conf(struct search_opts *so, const struct quire_conf *c)
{
	so->so_k1 = c->c_k1;
	so->so_b = c->c_b;
	so->so_wtitle = c->c_title_weight;
	so->so_wprox = c->c_proximity_weight;
	so->so_wexact = c->c_exact_weight;
	so->so_wheading = c->c_heading_weight;
	so->so_window = c->c_rank_window;
	so->so_facet_exact = c->c_facet_exact;
	so->so_typos = c->c_typos != 0;
	so->so_typo1 = c->c_typo1;
	so->so_typo2 = c->c_typo2;
}

void
search_result_free(struct search_result *sr)
{
	size_t	 i;

	free(sr->sr_hits);
	sr->sr_hits = NULL;
	sr->sr_n = 0;
	for (i = 0; i < sr->sr_nfacets; i++)
		search_facet_free(&sr->sr_facets[i]);
	sr->sr_nfacets = 0;
}

/* Are the facets asked for sound?  -1 with err set if not. */
static int
search_facets_ok(const struct search_opts *so, char *err, size_t errlen)
{
	const char	*f;
	size_t		 i, j;

	if (so->so_nfacets > SEARCH_FACETS_MAX || (so->so_nfacets > 0 &&
	    (so->so_facet_n < 1 || so->so_facet_n > SEARCH_FACET_N_MAX))) {
		snprintf(err, errlen, "facets: at most %d fields, each with "
		    "1 to %d values", SEARCH_FACETS_MAX, SEARCH_FACET_N_MAX);
		return (-1);
	}
	for (i = 0; i < so->so_nfacets; i++) {
		f = so->so_facets[i];
		for (j = 0; f[j] != '\0'; j++)
			if (f[j] == '=' || (unsigned char)f[j] < 0x20)
				break;
		if (j == 0 || f[j] != '\0' || j > SEARCH_FACET_FIELD_MAX) {
			snprintf(err, errlen, "facet %.64s: a field name of "
			    "1 to %d bytes, without '=' or control characters",
			    f, SEARCH_FACET_FIELD_MAX);
			return (-1);
		}
	}
	return (0);
}

/* Each segment in turn, given to fn. */
typedef int (*search_seg_fn)(struct sstate *, const struct ixseg *);

static int
search_segments(MDB_txn *txn, struct sstate *ss, search_seg_fn fn)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct ixseg	 seg;
	int		 rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, index_dbi(ss->ss_ix, IDB_SEGS), &c))
	    != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (ss->ss_late) {
			rc = ETIMEDOUT;
			break;
		}
		if (ixseg_open(&seg, v.mv_data, v.mv_size) == -1) {
			log_warnx("search: segment %llu is damaged",
			    k.mv_size == 8 ? (unsigned long long)
			    util_get_be64(k.mv_data) : 0ULL);
			continue;
		}
		if ((rc = fn(ss, &seg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* Keep t among the lexicographically first expansions; 0 if it is not. */
static int
search_expand(struct sexp *x, const char *t, size_t len)
{
	size_t	 i, n;
	int	 c;

	for (i = 0; i < x->x_n; i++) {
		c = ix_termcmp(t, len, x->x_term[i], x->x_len[i]);
		if (c == 0)
			return (1);
		if (c < 0)
			break;
	}
	if (i == SEARCH_PREFIX_MAX)
		return (0);
	n = x->x_n < SEARCH_PREFIX_MAX ? x->x_n : SEARCH_PREFIX_MAX - 1;
	memmove(&x->x_term[i + 1], &x->x_term[i], (n - i) * sizeof(x->x_term[0]));
	memmove(&x->x_len[i + 1], &x->x_len[i], (n - i) * sizeof(x->x_len[0]));
	memcpy(x->x_term[i], t, len);
	x->x_len[i] = len;
	x->x_n = n + 1;
	return (1);
}

/*
 * A prefix's expansions are the lexicographically first
 * SEARCH_PREFIX_MAX words that begin with it in the whole index, and
 * its df sums theirs over the whole index.  Each source's first
 * SEARCH_PREFIX_MAX hold the whole index's, so the expansions are
 * gathered from every source first (search_expand_*) and only then
 * counted in every source (search_df_*): a prefix scores the same
 * whether its words sit in segments or in blocks.
 */
static int
search_expand_seg(struct sstate *ss, const struct ixseg *seg)
{
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	uint32_t	 i;
	size_t		 k, n, j;
	const char	*t;

	for (k = 0; k < q->q_nterms; k++) {
		st = &q->q_terms[k];
		if (!st->st_prefix)
			continue;
		if (st->st_exp == NULL)
			st->st_exp = xcalloc(1, sizeof(*st->st_exp));
		for (i = ixseg_lower(seg, st->st_key, st->st_len), j = 0;
		    i < seg->s_hdr->h_nterms && j < SEARCH_PREFIX_MAX;
		    i++, j++) {
			t = ixseg_term(seg, i, &n);
			if (n < st->st_len ||
			    memcmp(t, st->st_key, st->st_len) != 0 ||
			    !search_expand(st->st_exp, t, n))
				break;
		}
	}
	return (0);
}

/* The expansions of the prefixes from the block store's terms. */
static int
search_expand_blocks(MDB_txn *txn, struct sstate *ss)
{
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 i, j;
	int		 rc;

	for (i = 0; i < q->q_nterms; i++) {
		st = &q->q_terms[i];
		if (!st->st_prefix)
			continue;
		if (st->st_exp == NULL)
			st->st_exp = xcalloc(1, sizeof(*st->st_exp));
		if ((rc = mdb_cursor_open(txn, index_dbi(ss->ss_ix, IDB_TERMS),
		    &c)) != 0)
			return (rc);
		k.mv_size = st->st_len;
		k.mv_data = st->st_key;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), j = 0;
		    rc == 0 && j < SEARCH_PREFIX_MAX;
		    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), j++) {
			if (k.mv_size < st->st_len || k.mv_size > IX_TERM_MAX ||
			    memcmp(k.mv_data, st->st_key, st->st_len) != 0 ||
			    !search_expand(st->st_exp, k.mv_data, k.mv_size))
				break;
		}
		mdb_cursor_close(c);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return (rc);
	}
	return (0);
}

/* Document frequencies in a segment: the words' and the expansions'. */
static int
search_df(struct sstate *ss, const struct ixseg *seg)
{
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	size_t		 k, j;
	int64_t		 f;

	if (seg->s_hdr->h_nchunks > ss->ss_segmax)
		ss->ss_segmax = seg->s_hdr->h_nchunks;
	for (k = 0; k < q->q_nterms; k++) {
		st = &q->q_terms[k];
		if (!st->st_prefix) {
			if ((f = ixseg_find(seg, st->st_key, st->st_len)) >= 0)
				st->st_df += seg->s_dict[f].e_df;
			continue;
		}
		for (j = 0; j < st->st_exp->x_n; j++)
			if ((f = ixseg_find(seg, st->st_exp->x_term[j],
			    st->st_exp->x_len[j])) >= 0)
				st->st_df += seg->s_dict[f].e_df;
	}
	return (0);
}

/*
 * During a fold, the terms' counts already hold the postings of the
 * segment being folded that are in blocks, above the folded mark, which
 * the segment counts too: how many, so as to count them once.
 */
static uint64_t
search_unfolded(MDB_txn *txn, struct sstate *ss, const char *key,
    size_t len)
{
	struct ixbcur	 bc;
	uint64_t	 n = 0;
	int		 rv;

	if (!ss->ss_folding)
		return (0);
	rv = ixbcur_open(&bc, txn, ss->ss_ix, key, len, UINT32_MAX);
	if (rv == 1 && (rv = ixbcur_seek(&bc, ss->ss_folded)) == 1)
		for (n = 1; ixbcur_next(&bc) == 1; n++)
			;
	ixbcur_close(&bc);
	return (n);
}

/* Add a word's document frequency in the block store to *df. */
static int
search_df_block(MDB_txn *txn, struct sstate *ss, const char *key,
    size_t len, uint64_t *df)
{
	struct ixterminfo	 ti;
	int			 rc;

	rc = ixblk_terminfo(txn, ss->ss_ix, key, len, &ti);
	if (rc == 0)
		*df += ti.ti_df - search_unfolded(txn, ss, key, len);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* Document frequencies in the block store. */
static int
search_df_blocks(MDB_txn *txn, struct sstate *ss)
{
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	size_t		 i, j;
	int		 rc = 0;

	for (i = 0; i < q->q_nterms && rc == 0; i++) {
		st = &q->q_terms[i];
		if (!st->st_prefix)
			rc = search_df_block(txn, ss, st->st_key, st->st_len,
			    &st->st_df);
		for (j = 0; st->st_prefix && j < st->st_exp->x_n && rc == 0;
		    j++)
			rc = search_df_block(txn, ss, st->st_exp->x_term[j],
			    st->st_exp->x_len[j], &st->st_df);
	}
	return (rc);
}

/* Every term's df and every prefix's expansions, from zero. */
static int
search_dfs(MDB_txn *txn, struct sstate *ss)
{
	struct squery	*q = ss->ss_q;
	size_t		 i;
	int		 rc;

	for (i = 0; i < q->q_nterms; i++) {
		q->q_terms[i].st_df = 0;
		if (q->q_terms[i].st_exp != NULL)
			memset(q->q_terms[i].st_exp, 0,
			    sizeof(*q->q_terms[i].st_exp));
	}
	if ((rc = search_expand_blocks(txn, ss)) != 0 ||
	    (rc = search_segments(txn, ss, search_expand_seg)) != 0 ||
	    (rc = search_df_blocks(txn, ss)) != 0)
		return (rc);
	return (search_segments(txn, ss, search_df));
}

/* Report a correction: the word as typed, the stem it stands for. */
static void
search_typo_report(struct search_result *res, const char *query,
    const struct sterm *st, int kept)
{
	char	 from[SEARCH_CORR_WORD], to[SEARCH_CORR_WORD];
	size_t	 i, n;

	n = st->st_wlen < sizeof(from) - 1 ? st->st_wlen : sizeof(from) - 1;
	memcpy(from, query + st->st_woff, n);
	from[n] = '\0';
	n = st->st_len - 1 < sizeof(to) - 1 ? st->st_len - 1 : sizeof(to) - 1;
	memcpy(to, st->st_key + 1, n);
	to[n] = '\0';
	for (i = 0; i < res->sr_ncorr; i++)
		if (strcmp(res->sr_corr_from[i], from) == 0)
			return;		/* the same word twice */
	if (res->sr_ncorr == SEARCH_CORR_MAX)
		return;
	strlcpy(res->sr_corr_from[res->sr_ncorr], from, SEARCH_CORR_WORD);
	strlcpy(res->sr_corr_to[res->sr_ncorr], to, SEARCH_CORR_WORD);
	res->sr_corr_kept[res->sr_ncorr++] = kept;
}

/* The word as typed, normalized but not stemmed: the first token. */
struct splain {
	char	 p_word[IX_TERM_MAX];
	size_t	 p_len;
};

static int
search_plain_token(const struct token *t, void *arg)
{
	struct splain	*p = arg;

	p->p_len = t->t_len < sizeof(p->p_word) ? t->t_len :
	    sizeof(p->p_word);
	memcpy(p->p_word, t->t_text, p->p_len);
	return (1);
}

/*
 * Look the word up: one edit from the word as typed, by its variants;
 * then, for two edits or a word too long for variants, the walk over
 * stems.  Two edits are for a word the index does not have: one it has
 * (rare, or it would not be looked up) is looked up within one edit,
 * by its variants or, when too long for them, by a walk of one edit,
 * which costs a fraction of a walk of two on every dictionary (the
 * block store's and each segment's).  *what: what search_typo_pick
 * says.  0, or an LMDB error.
 */
static int
search_typo_lookup(MDB_txn *txn, struct sstate *ss, const char *query,
    const struct sterm *st, struct search_typo *ty,
    const struct search_typo_cand **best, int *what)
{
	struct splain	 p;
	int		 rc, done;

	*what = 0;
	memset(&p, 0, sizeof(p));
	tokenizer_run(search_query_plain(), query + st->st_woff,
	    st->st_wlen, 0, search_plain_token, &p);
	if ((rc = search_typo_variants(txn, ss->ss_ix, ss->ss_tk, ty,
	    p.p_word, p.p_len, &done)) != 0)
		return (rc);
	if (done && ((*what = search_typo_pick(ty, ss->ss_n, best)) != 0 ||
	    ty->ty_exact > 0 || ty->ty_edits < 2))
		return (0);
	if (!done && st->st_df > 0)
		ty->ty_edits = 1;
	if ((rc = search_typo_walk(txn, ss->ss_ix, ty)) != 0)
		return (rc);
	*what = search_typo_pick(ty, ss->ss_n, best);
	return (0);
}

/* The term stands for the stem c now. */
static void
search_typo_set(struct sterm *st, const struct search_typo_cand *c)
{
	memcpy(st->st_key + 1, c->tc_term, c->tc_len);
	st->st_len = c->tc_len + 1;
	st->st_typo = c->tc_edits > 0 ? c->tc_edits : 1;
}

/* May the word at hand be corrected, and by how many edits? */
static int
search_typo_edits(const struct sstate *ss, const char *query,
    const struct sterm *st)
{
	const struct search_opts	*so = ss->ss_opts;
	const struct sitem		*it = &ss->ss_q->q_items[st->st_item];
	size_t				 chars, i;

	if (st->st_prefix || st->st_quoted || it->si_excluded ||
	    !search_typo_rare(st->st_df, ss->ss_n))
		return (0);
	/* A word with a digit is a number or a name: "rfc2616", "x86". */
	for (i = 0; i < st->st_wlen; i++)
		if (query[st->st_woff + i] >= '0' &&
		    query[st->st_woff + i] <= '9')
			return (0);
	chars = search_typo_chars(query + st->st_woff, st->st_wlen);
	if (so->so_typo2 > 0 && chars >= so->so_typo2)
		return (2);
	return (so->so_typo1 > 0 && chars >= so->so_typo1);
}

/*
 * Misspelled words (search_typo.c), once the df of every word is known:
 * a word of the query that matches nothing, or very little, is looked
 * up within one edit (two for long words) in the term dictionary; one
 * that matches nothing is replaced by its correction, a rare one gets
 * its correction beside it, as another word of the same item (either
 * matches it), and the next readings as near (search_typo_alts) go
 * beside it too, as words of the same item.  Quoted words, prefixes,
 * excluded words and words with a digit are taken as typed.  At most
 * SEARCH_CORR_MAX words are looked up.  The dfs are then counted again,
 * with the corrections.
 */
static int
search_typos(MDB_txn *txn, struct sstate *ss, const char *query,
    struct search_result *res)
{
	struct squery			*q = ss->ss_q;
	struct search_typo		*ty;
	const struct search_typo_cand	*best, *alts[SEARCH_TYPO_ALTS];
	struct sterm			*st;
	size_t				 i, j, nalts, nterms = q->q_nterms;
	size_t				 looked = 0;
	int				 edits, what, rc = 0;

	if (!ss->ss_opts->so_typos || ss->ss_opts->so_global != NULL ||
	    ss->ss_gout != NULL)
		return (0);
	ty = xmalloc(sizeof(*ty));
	for (i = 0; i < nterms && looked < SEARCH_CORR_MAX; i++) {
		st = &q->q_terms[i];
		if ((edits = search_typo_edits(ss, query, st)) == 0 ||
		    search_typo_init(ty, st->st_key + 1, st->st_len - 1,
		    edits) == -1)
			continue;
		ty->ty_deadline = ss->ss_deadline;
		looked++;
		if ((rc = search_typo_lookup(txn, ss, query, st, ty, &best,
		    &what)) != 0)
			break;
		if (what == 0)
			continue;
		if (what == SEARCH_TYPO_ADD) {
			if (q->q_nterms == SEARCH_TERMS_MAX)
				continue;
			q->q_terms[q->q_nterms] = *st;
			st = &q->q_terms[q->q_nterms++];
		}
		search_typo_set(st, best);
		search_typo_report(res, query, st, what == SEARCH_TYPO_ADD);
		nalts = search_typo_alts(ty, best, alts, SEARCH_TYPO_ALTS);
		for (j = 0; j < nalts && q->q_nterms < SEARCH_TERMS_MAX; j++) {
			q->q_terms[q->q_nterms] = *st;
			search_typo_set(&q->q_terms[q->q_nterms++], alts[j]);
		}
	}
	free(ty);
	if (rc != 0 || res->sr_ncorr == 0)
		return (rc);
	return (search_dfs(txn, ss));
}

/* The chunks of one filter term, across segments. */
struct sfilter {
	struct sstate		*sf_ss;
	const char		*sf_key;
	size_t			 sf_len;
	roaring_bitmap_t	*sf_set;
	uint32_t		*sf_cids;	/* a segment's, in order */
	size_t			 sf_cap;
};

static struct sfilter *search_cur_filter;

static int
search_filter_blocks(MDB_txn *txn, struct sstate *ss, struct sfilter *sf)
{
	struct ixbcur	 bc;
	int		 rv;

	if (ss->ss_folded == 0)
		return (0);
	rv = ixbcur_open(&bc, txn, ss->ss_ix, sf->sf_key, sf->sf_len,
	    ss->ss_folded);
	while (rv == 1 && (rv = ixbcur_next(&bc)) == 1) {
		roaring_bitmap_add(sf->sf_set, bc.bc_cid);
		if (search_late(ss))
			break;
	}
	ixbcur_close(&bc);
	if (ss->ss_late)
		return (ETIMEDOUT);
	return (rv == -1 ? MDB_CORRUPTED : 0);
}

/*
 * The run of chunks from first to last: a range if long, else its
 * chunks to add with the others (sf_cids, *n of them).
 */
static void
search_filter_run(struct sfilter *sf, uint32_t first, uint32_t last,
    size_t *n)
{
	uint32_t	 i;

	if (last - first >= SEARCH_FILTER_RUN)
		roaring_bitmap_add_range_closed(sf->sf_set, first, last);
	else
		for (i = 0; i <= last - first; i++)
			sf->sf_cids[(*n)++] = first + i;
}

/*
 * A segment's chunks of the filter, in order: a term in every chunk
 * (its df the segment's chunks) is read as the whole range, runs of
 * consecutive chunks (a tenant's or a source's documents come in
 * batches) as ranges, other chunks many at once.
 */
static int
search_filter_collect(struct sstate *ss, const struct ixseg *seg)
{
	struct sfilter	*sf = search_cur_filter;
	struct ixpost	 p;
	uint64_t	 base = seg->s_hdr->h_base;
	uint32_t	 first = 0, last = 0;
	int64_t		 f;
	size_t		 n = 0;
	int		 rv, inrun = 0;

	if ((f = ixseg_find(seg, sf->sf_key, sf->sf_len)) < 0)
		return (0);
	if (seg->s_dict[f].e_df == seg->s_hdr->h_nchunks) {
		roaring_bitmap_add_range(sf->sf_set, base,
		    base + seg->s_hdr->h_nchunks);
		return (0);
	}
	ixpost_init(&p, seg, f);
	if (p.p_left > sf->sf_cap) {
		sf->sf_cap = p.p_left;
		sf->sf_cids = xreallocarray(sf->sf_cids, sf->sf_cap,
		    sizeof(*sf->sf_cids));
	}
	while ((rv = ixpost_next(&p)) == 1) {
		if (search_late(ss))
			return (ETIMEDOUT);
		if (!inrun || p.p_cid != last + 1) {
			if (inrun)
				search_filter_run(sf, first, last, &n);
			first = p.p_cid;
			inrun = 1;
		}
		/* The chunks right after it, read at a glance. */
		if (ixpost_run(&p) == -1)
			return (MDB_CORRUPTED);
		last = p.p_cid;
	}
	if (inrun)
		search_filter_run(sf, first, last, &n);
	if (n > 0)
		roaring_bitmap_add_many(sf->sf_set, n, sf->sf_cids);
	return (rv == -1 ? MDB_CORRUPTED : 0);
}

/*
 * Counting: how many chunks of each document of the page match.  A
 * second pass, exact, over the chunks of those documents only (their
 * cid ranges, as the filter: a document's chunks share its filter
 * terms, and the document passed them): the block store by seeks
 * (search_blocks_some), and the segments that hold any of them.  Not
 * needed when each has one chunk.
 */
static int
search_matches(MDB_txn *txn, struct sstate *ss)
{
	struct search_top	*top = &ss->ss_top;
	struct search_tent	*e;
	roaring_bitmap_t	*filter, *set;
	uint64_t		 total;
	size_t			 i;
	int			 rc, pruned, many = 0;

	for (i = ss->ss_opts->so_offset; i < top->st_n; i++) {
		e = top->st_heap[i];
		e->te_matches = 1;
		if (e->te_nchunks > 1)
			many = 1;
	}
	if (!many)
		return (0);
	set = roaring_bitmap_create();
	for (i = ss->ss_opts->so_offset; i < top->st_n; i++) {
		e = top->st_heap[i];
		e->te_matches = 0;
		roaring_bitmap_add_range_closed(set, e->te_first,
		    e->te_first + e->te_nchunks - 1);
	}
	filter = ss->ss_filter;
	total = ss->ss_total;
	pruned = ss->ss_pruned;
	ss->ss_filter = set;
	ss->ss_counting = 1;
	if ((rc = search_blocks(txn, ss)) == 0)
		rc = search_segments(txn, ss, search_seg_count);
	ss->ss_counting = 0;
	ss->ss_filter = filter;
	ss->ss_total = total;
	ss->ss_pruned = pruned;
	roaring_bitmap_free(set);
	return (rc);
}

/*
 * Facets want every match.  A search that would prune reads them all
 * anyway when the query's words have few postings (at most
 * so_facet_exact, facet-exact in quired.conf): else its facets count the
 * matches it looked at, and say they are estimated.
 */
static void
search_facet_cheap(struct sstate *ss)
{
	uint64_t	 df = 0;
	size_t		 i;

	if (ss->ss_opts->so_nfacets == 0)
		return;
	ss->ss_set = roaring_bitmap_create();
	for (i = 0; i < ss->ss_q->q_nterms; i++)
		df += ss->ss_q->q_terms[i].st_df;
	if (df <= ss->ss_opts->so_facet_exact)
		ss->ss_noprune = 1;
}

/* The facets of the matches; by document, their first chunks counted. */
static int
search_facets(MDB_txn *txn, struct sstate *ss, struct search_result *res)
{
	const struct search_opts *so = ss->ss_opts;
	roaring_bitmap_t	*set;
	uint64_t		 deadline;
	size_t			 i;
	int			 rc = 0, cut = 0;

	if (so->so_nfacets == 0)
		return (0);
	deadline = util_mono_ms() + SEARCH_FACET_MS;
	if (ss->ss_deadline != 0 && ss->ss_deadline < deadline)
		deadline = ss->ss_deadline;
	set = ss->ss_set;
	if (!so->so_chunks && (set = search_facet_docs(txn, ss->ss_ix,
	    ss->ss_set, deadline, &cut, &rc)) == NULL)
		return (rc);
	for (i = 0; i < so->so_nfacets && rc == 0; i++) {
		rc = search_facet_count(txn, ss->ss_ix, ss->ss_folded, set,
		    so->so_facets[i], so->so_facet_n, deadline,
		    &res->sr_facets[i]);
		res->sr_nfacets++;
		if (ss->ss_pruned || cut)
			res->sr_facets[i].sf_estimated = 1;
	}
	if (set != ss->ss_set)
		roaring_bitmap_free(set);
	return (rc);
}

/*
 * The filters' chunks, intersected, into ss_filter: from the segments,
 * and from the block store too unless a pruned walk follows the filters
 * there by cursors.
 */
static int
search_filters(MDB_txn *txn, struct sstate *ss)
{
	const struct search_opts *so = ss->ss_opts;
	struct sfilter		 sf;
	char			 key[IX_TERM_MAX + 256];
	size_t			 i;
	int			 rc;

	for (i = 0; i < so->so_nfilters; i++) {
		memset(&sf, 0, sizeof(sf));
		sf.sf_ss = ss;
		sf.sf_key = key;
		sf.sf_len = search_filter_key(so, i, key);
		sf.sf_set = roaring_bitmap_create();
		search_cur_filter = &sf;
		/* Pruned, the block store follows the filter by cursors. */
		if ((!search_pruning(ss) &&
		    (rc = search_filter_blocks(txn, ss, &sf)) != 0) ||
		    (rc = search_segments(txn, ss, search_filter_collect))
		    != 0) {
			free(sf.sf_cids);
			roaring_bitmap_free(sf.sf_set);
			return (rc);
		}
		free(sf.sf_cids);
		if (ss->ss_filter == NULL)
			ss->ss_filter = sf.sf_set;
		else {
			roaring_bitmap_and_inplace(ss->ss_filter, sf.sf_set);
			roaring_bitmap_free(sf.sf_set);
		}
	}
	return (0);
}

/* The query's words for the rescoring: those that add to a score. */
static size_t
search_rank_words(const struct squery *q, struct rank_word *w)
{
	const struct sterm	*st;
	size_t			 k, n = 0;

	for (k = 0; k < q->q_nterms && n < SEARCH_RANK_WORDS; k++) {
		st = &q->q_terms[k];
		if (st->st_prefix || q->q_items[st->st_item].si_excluded)
			continue;
		w[n].rw_stem = st->st_key + 1;
		w[n].rw_stemlen = st->st_len - 1;
		w[n].rw_raw = st->st_raw;
		w[n].rw_rawlen = st->st_rawlen;
		w[n].rw_idf = st->st_idf;
		n++;
	}
	return (n);
}

/*
 * Rescore the first so_window hits (sorted) by where the query's words
 * are in them (search_rank.c), and sort them again; the title counts
 * with a document's first chunk, which holds its words.
 */
static int
search_rerank(MDB_txn *txn, struct sstate *ss)
{
	const struct search_opts *so = ss->ss_opts;
	struct search_top	*top = &ss->ss_top;
	struct rank_word	 w[SEARCH_RANK_WORDS];
	struct ixchunk		 ck;
	struct ixdoc		 d;
	struct buf		 text;
	uint64_t		 docid;
	size_t			 n, i, nw;
	int			 rc;

	n = top->st_n < so->so_window ? top->st_n : so->so_window;
	if (so->so_split)
		n = top->st_n;
	if (n == 0 || (so->so_wprox == 0.0 && so->so_wexact == 0.0 &&
	    so->so_wheading == 0.0) ||
	    (nw = search_rank_words(ss->ss_q, w)) == 0)
		return (0);
	for (i = 0; i < n; i++) {
		rc = search_chunk(txn, ss, top->st_heap[i]->te_cid, &docid,
		    &ck, &text);
		if (rc == 0 && ck.ck_index == 0)
			rc = search_doc(txn, ss, docid, &d);
		if (rc == 0)
			top->st_heap[i]->te_bonus = search_rank_bonus(ss->ss_tk,
			    w, nw, ck.ck_index == 0 ? d.d_title : NULL,
			    ck.ck_heading, text.b_data, text.b_len, so);
		if (!so->so_split)
			top->st_heap[i]->te_score += top->st_heap[i]->te_bonus;
		buf_free(&text);
		if (rc != 0 && rc != IXREC_ETEXT && rc != MDB_NOTFOUND)
			return (rc);
	}
	/* Bonuses only raise the window above the hits past it. */
	if (!so->so_split)
		search_top_sort(top);
	return (0);
}

/* The term keys of the query, once each, and their dfs. */
static void
search_global_out(struct sstate *ss, const struct ixstats *st)
{
	struct search_global	*g = ss->ss_gout;
	const struct sterm	*t;
	size_t			 i, j;

	g->sg_chunks = st->is_chunks + st->is_dead;
	g->sg_live = st->is_chunks;
	g->sg_tokens = st->is_tokens;
	for (i = 0; i < ss->ss_q->q_nterms; i++) {
		t = &ss->ss_q->q_terms[i];
		for (j = 0; j < g->sg_nterms; j++)
			if (g->sg_terms[j].gt_len == t->st_len &&
			    memcmp(g->sg_terms[j].gt_key, t->st_key,
			    t->st_len) == 0)
				break;
		if (j < g->sg_nterms || j == SEARCH_GLOBAL_TERMS)
			continue;
		memcpy(g->sg_terms[j].gt_key, t->st_key, t->st_len);
		g->sg_terms[j].gt_len = t->st_len;
		g->sg_terms[j].gt_df = t->st_df;
		g->sg_nterms++;
	}
}

/*
 * Score with figures summed over several hosts: their N and mean length,
 * and the df of each term they list (one they do not keeps its own).
 */
static void
search_global_use(struct sstate *ss, const struct search_global *g)
{
	struct sterm	*t;
	size_t		 i, j;

	ss->ss_n = g->sg_chunks > 0 ? (double)g->sg_chunks : 1.0;
	ss->ss_avgdl = g->sg_live > 0 && g->sg_tokens > 0 ?
	    (double)g->sg_tokens / g->sg_live : 1.0;
	for (i = 0; i < ss->ss_q->q_nterms; i++) {
		t = &ss->ss_q->q_terms[i];
		for (j = 0; j < g->sg_nterms; j++)
			if (g->sg_terms[j].gt_len == t->st_len &&
			    memcmp(g->sg_terms[j].gt_key, t->st_key,
			    t->st_len) == 0) {
				t->st_df = g->sg_terms[j].gt_df;
				break;
			}
	}
}

/* Add part's figures to sum's; -1 if the terms would not fit. */
int
search_global_add(struct search_global *sum, const struct search_global *part)
{
	const struct search_gterm	*t;
	size_t				 i, j;

	for (i = 0; i < part->sg_nterms; i++) {
		t = &part->sg_terms[i];
		for (j = 0; j < sum->sg_nterms; j++)
			if (sum->sg_terms[j].gt_len == t->gt_len &&
			    memcmp(sum->sg_terms[j].gt_key, t->gt_key,
			    t->gt_len) == 0)
				break;
		if (j == sum->sg_nterms) {
			if (j == SEARCH_GLOBAL_TERMS)
				return (-1);
			sum->sg_terms[j] = *t;
			sum->sg_terms[j].gt_df = 0;
			sum->sg_nterms++;
		}
		sum->sg_terms[j].gt_df += t->gt_df;
	}
	sum->sg_chunks += part->sg_chunks;
	sum->sg_live += part->sg_live;
	sum->sg_tokens += part->sg_tokens;
	return (0);
}

struct search_arg {
	struct sstate		*sa_ss;
	const char		*sa_query;
	struct search_result	*sa_res;
};

static int
search_txn(MDB_txn *txn, void *arg)
{
	struct search_arg	*sa = arg;
	struct sstate		*ss = sa->sa_ss;
	struct search_result	*res = sa->sa_res;
	const struct search_opts *so = ss->ss_opts;
	struct squery		*q = ss->ss_q;
	struct ixstats		 st;
	struct search_top	*top;
	struct search_hit	*h;
	MDB_val			 k = { 5, (void *)"stats" }, v;
	size_t			 i, end;
	uint32_t		 dl;
	int			 rc;

	ss->ss_txn = txn;
	if (mdb_get(txn, index_dbi(ss->ss_ix, IDB_META), &k, &v) != 0)
		return (0);	/* an empty index */
	memset(&st, 0, sizeof(st));
	if ((rc = index_stats_in(txn, ss->ss_ix, &st)) != 0)
		return (rc);
	ss->ss_n = st.is_chunks + st.is_dead > 0 ?
	    (double)(st.is_chunks + st.is_dead) : 1.0;
	ss->ss_avgdl = st.is_chunks > 0 && st.is_tokens > 0 ?
	    (double)st.is_tokens / st.is_chunks : 1.0;
	ss->ss_folded = st.is_folded;
	ss->ss_folding = st.is_folding != 0;
	if ((rc = index_tomb_get(txn, ss->ss_ix, &ss->ss_tomb)) != 0) {
		/* Without it, deleted chunks would be found again. */
		if (rc == MDB_CORRUPTED)
			snprintf(res->sr_error, sizeof(res->sr_error),
			    "index: the tombstone bitmap is damaged; run "
			    "quirectl check");
		return (rc);
	}
	if ((rc = search_dfs(txn, ss)) != 0 ||
	    (rc = search_typos(txn, ss, sa->sa_query, res)) != 0)
		return (rc);
	if (ss->ss_gout != NULL) {
		search_global_out(ss, &st);
		return (0);
	}
	if (so->so_global != NULL)
		search_global_use(ss, so->so_global);
	for (dl = 0; dl < SEARCH_NORMS; dl++)
		ss->ss_norm[dl] = search_norm_of(ss, dl);
	for (i = 0; i < q->q_nterms; i++) {
		/*
		 * A prefix's df sums its expansions', which can pass N (a
		 * chunk with two of them counts twice); at N, its idf is
		 * still positive, as pruning needs every score to be.
		 */
		if (q->q_terms[i].st_df > ss->ss_n)
			q->q_terms[i].st_df = ss->ss_n;
		q->q_terms[i].st_idf = log(1.0 + (ss->ss_n -
		    (double)q->q_terms[i].st_df + 0.5) /
		    ((double)q->q_terms[i].st_df + 0.5));
		if (q->q_terms[i].st_typo > 0)
			q->q_terms[i].st_idf *= search_typo_weight(
			    q->q_terms[i].st_typo);
	}
	/* Whether to prune is known now: the filters depend on it. */
	search_facet_cheap(ss);
	if ((rc = search_filters(txn, ss)) != 0)
		return (rc);
	/* Blocks first: they hold the older chunks. */
	if ((rc = search_blocks(txn, ss)) != 0 ||
	    (rc = search_segments(txn, ss, search_seg)) != 0)
		return (ss->ss_rc != 0 ? ss->ss_rc : rc);
	search_top_sort(&ss->ss_top);
	if ((rc = search_rerank(txn, ss)) != 0)
		return (rc);
	res->sr_total = ss->ss_total;
	res->sr_exact = !ss->ss_pruned;
	if ((rc = search_matches(txn, ss)) != 0)
		return (rc);
	/* A page: the top offset + n, less the first offset. */
	top = &ss->ss_top;
	end = so->so_offset + so->so_n < top->st_n ?
	    so->so_offset + so->so_n : top->st_n;
	res->sr_hits = end > so->so_offset ? xcalloc(end - so->so_offset,
	    sizeof(*res->sr_hits)) : NULL;
	for (i = so->so_offset; i < end; i++) {
		h = &res->sr_hits[res->sr_n];
		h->sh_cid = top->st_heap[i]->te_cid;
		h->sh_score = top->st_heap[i]->te_score;
		h->sh_matches = top->st_heap[i]->te_matches;
		h->sh_bonus = top->st_heap[i]->te_bonus;
		if ((rc = search_fill(txn, ss, h)) == 0)
			res->sr_n++;
		else if (rc != MDB_NOTFOUND)
			return (rc);
	}
	return (search_facets(txn, ss, res));
}

/* The arrays the last search left clean, for this one. */
static void
search_scratch_take(struct sstate *ss)
{
	ss->ss_sc = search_scratch;
	memset(&search_scratch, 0, sizeof(search_scratch));
}

/* Keep a search's arrays for the next one if it left them clean. */
static void
search_scratch_keep(struct sstate *ss, int clean)
{
	if (clean)
		search_scratch = ss->ss_sc;
	else
		search_seg_free(&ss->ss_sc);
}

/* A query run, or its statistics counted into gout. */
static int
search_do(struct index *ix, struct tokenizer *tk, const char *query,
    const struct search_opts *so, struct search_result *res,
    struct search_global *gout)
{
	struct sstate		 ss;
	struct squery		*q;
	struct search_arg	 sa;
	struct timespec		 a, b;
	size_t			 i;
	int			 rc;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (search_facets_ok(so, res->sr_error, sizeof(res->sr_error)) == -1)
		return (-1);
	q = xcalloc(1, sizeof(*q));
	if (search_query_parse(tk, query, q, res->sr_error,
	    sizeof(res->sr_error)) == -1) {
		free(q);
		return (-1);
	}
	memset(&ss, 0, sizeof(ss));
	ss.ss_gout = gout;
	ss.ss_ix = ix;
	ss.ss_opts = so;
	ss.ss_q = q;
	ss.ss_tk = tk;
	/* The rescored window is found whole, pruned or not. */
	ss.ss_k = so->so_offset + so->so_n;
	if (ss.ss_k > 0 && ss.ss_k < so->so_window)
		ss.ss_k = so->so_window;
	search_top_init(&ss.ss_top, ss.ss_k, so->so_chunks);
	if (so->so_budget_ms > 0)
		ss.ss_deadline = util_mono_ms() + so->so_budget_ms;
	sa.sa_ss = &ss;
	sa.sa_query = query;
	sa.sa_res = res;
	search_scratch_take(&ss);
	rc = store_read(&ix->ix_store, search_txn, &sa);
	search_scratch_keep(&ss, rc == 0);
	search_top_free(&ss.ss_top);
	if (ss.ss_set != NULL)
		roaring_bitmap_free(ss.ss_set);
	for (i = 0; i < q->q_nterms; i++)
		free(q->q_terms[i].st_exp);
	for (i = 0; i < SEARCH_TERMS_MAX; i++) {
		free(ss.ss_pl[i].pl_local);
		free(ss.ss_pl[i].pl_pos);
		free(ss.ss_pl[i].pl_tf);
	}
	if (ss.ss_filter != NULL)
		roaring_bitmap_free(ss.ss_filter);
	if (ss.ss_tomb != NULL)
		roaring_bitmap_free(ss.ss_tomb);
	free(q);
	clock_gettime(CLOCK_MONOTONIC, &b);
	res->sr_took_ms = (b.tv_sec - a.tv_sec) * 1e3 +
	    (b.tv_nsec - a.tv_nsec) / 1e6;
	if (rc != 0) {
		search_result_free(res);
		if (ss.ss_late && ss.ss_rc == 0)
			snprintf(res->sr_error, sizeof(res->sr_error),
			    "gave up after %llu ms; narrow the query",
			    (unsigned long long)so->so_budget_ms);
		else if (res->sr_error[0] == '\0')
			snprintf(res->sr_error, sizeof(res->sr_error),
			    "index: %s", mdb_strerror(rc));
		return (-1);
	}
	res->sr_split = so->so_split;
	return (0);
}

/*
 * Run a query.  0 with res filled (res->sr_hits to be freed with
 * search_result_free), or -1 with res->sr_error saying why.
 */
int
search_run(struct index *ix, struct tokenizer *tk, const char *query,
    const struct search_opts *so, struct search_result *res)
{
	return (search_do(ix, tk, query, so, res, NULL));
}

/*
 * The figures BM25 takes for a query from this index (the sum of those
 * of several is what a search over them scores with): its chunks, their
 * tokens, and the df of each of its term keys as the search would look
 * them up, without typo corrections.  0, or -1 with err set.
 */
int
search_stats(struct index *ix, struct tokenizer *tk, const char *query,
    const struct search_opts *so, struct search_global *g, char *err,
    size_t errlen)
{
	struct search_result	 res;

	memset(g, 0, sizeof(*g));
	if (search_do(ix, tk, query, so, &res, g) == -1) {
		strlcpy(err, res.sr_error, errlen);
		return (-1);
	}
	search_result_free(&res);
	return (0);
}
