/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Search: score a query's chunks with BM25, return the top
 * documents (or, with so_chunks, chunks) with a snippet of the best
 * chunk of each, and the counts of facets.
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
 * (search_bm25).  In the block store each field has its cursor; a
 * cursor alone is bounded by what its field alone adds, and BM25 is
 * subadditive, so the sum of those bounds the word.  df is a term's
 * frequency in texts, summed over the block store and the segments, N
 * the number of chunks and avgdl the mean length of the live ones (a
 * title's words included): dead chunks count in df
 * and N until the merger purges them, which only nudges idf (in df
 * alone, they could turn it negative; a prefix's df, summed over its
 * expansions, stops at N).  The block store (index_block.c) is read
 * first, document at a time, with block-max pruning: for a query
 * without required items, MaxScore over the blocks' bounds
 * (search_blocks_topk); with required words, AND or phrases, the
 * required group with the fewest postings drives and the others leap
 * over blocks that cannot hold its chunks (search_blocks_and).  In both,
 * exclusions, filters and tombstones are tests on the chunk at hand,
 * made before its postings are decoded.  Then each segment is scored on
 * its own, term at a time, into accumulators as long as the segment
 * (reused between segments), only over the chunks of its rarest
 * required group when there is one.  Survivors (required items present,
 * no excluded one, every filter met, not tombstoned) go to the top n
 * (search_top.c): documents, each scoring as its best chunk, or chunks,
 * ties going to the older chunk.  Pruning skips only chunks that cannot
 * change the top n, so the hits are those of --exact (so_exact), which
 * reads every posting and counts every match.  Then the first so_window
 * hits are rescored for where the query's words are in their best
 * chunks (search_rank.c) and sorted again; the top holds at least
 * so_window, so that window is the same pruned or not.
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
 * every 1024 postings or chunks; past the budget the search gives up
 * with an error rather than answer with hits it did not finish scoring.
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

#define SEARCH_SNIPPET		200
#define SEARCH_NORMS		1024	/* lengths with BM25's norm in a table */
#define SEARCH_FACET_MS		250	/* time facets may take */
#define SEARCH_GATE_CAND	1	/* search_post: candidates only */
#define SEARCH_GATE_TOUCHED	2	/* chunks other words have */
/* Keys of one item: text and title of each word, expansions of the last. */
#define SEARCH_KEYS_MAX		(2 * SEARCH_TERMS_MAX + SEARCH_PREFIX_MAX)

/* Where a phrase word's positions are, per chunk of the segment. */
struct sposlist {
	uint32_t		*pl_local;
	const uint8_t		**pl_pos;
	uint32_t		*pl_tf;
	size_t			 pl_n;
	size_t			 pl_cap;
};

/*
 * The per-chunk arrays of a segment's scoring, sc_cap long: the
 * accumulators and marks of the chunks the query's words touch, a
 * word's title tfs, the candidates (search_seg_cands), and where each
 * chunk's positions are in ss_pl.
 */
struct sscratch {
	float			*sc_acc;
	uint32_t		*sc_mask;
	uint32_t		*sc_touched;
	uint32_t		*sc_ttf;	/* a word's title tf by chunk */
	uint32_t		*sc_tlist;	/* the chunks it is set for */
	uint8_t			*sc_cand;	/* 1: the chunk may match */
	uint32_t		*sc_cands;	/* those marked */
	uint32_t		*sc_pl_idx[SEARCH_TERMS_MAX];	/* place + 1 */
	size_t			 sc_cap;
};

struct sstate {
	struct sposlist		 ss_pl[SEARCH_TERMS_MAX];
	struct index		*ss_ix;
	const struct search_opts *ss_opts;
	struct squery		*ss_q;
	struct tokenizer	*ss_tk;
	double			 ss_n;
	double			 ss_avgdl;
	double			 ss_norm[SEARCH_NORMS];	/* search_norm */
	struct sscratch		 ss_sc;		/* kept (search_scratch) */
	size_t			 ss_ntouched;	/* in sc_touched */
	size_t			 ss_ntlist;	/* in sc_tlist */
	size_t			 ss_ncands;	/* in sc_cands */
	size_t			 ss_segmax;	/* chunks of the largest segment */
	roaring_bitmap_t	*ss_filter;	/* NULL: no filter */
	roaring_bitmap_t	*ss_tomb;
	struct search_top	 ss_top;	/* search_top.c */
	size_t			 ss_k;	/* offset + n, or so_window */
	MDB_txn			*ss_txn;
	int			 ss_rc;		/* an error taking a chunk */
	int			 ss_noprune;	/* facets: every match, cheaply */
	int			 ss_counting;	/* search_matches' pass */
	roaring_bitmap_t	*ss_set;	/* facets: the matches */
	uint64_t		 ss_total;
	uint32_t		 ss_folded;	/* below: in blocks */
	int			 ss_folding;	/* a fold is under way */
	int			 ss_pruned;	/* some were not looked at */
	uint64_t		 ss_deadline;	/* monotonic ms; 0: none */
	uint32_t		 ss_steps;
	int			 ss_late;	/* past the deadline */
	struct search_global	*ss_gout;	/* search_stats: the figures */
};

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

/*
 * Top n with pruning, or every match (--exact, no hits asked for,
 * facets over few postings, counting matches)?
 */
static int
search_pruning(const struct sstate *ss)
{
	return (!ss->ss_opts->so_exact && ss->ss_k > 0 && !ss->ss_noprune &&
	    !ss->ss_counting);
}

/* Past the time budget?  Once late, late for good. */
static int
search_late(struct sstate *ss)
{
	if (ss->ss_deadline == 0 || ss->ss_late)
		return (ss->ss_late);
	if ((++ss->ss_steps & 1023) == 0 && util_mono_ms() >= ss->ss_deadline)
		ss->ss_late = 1;
	return (ss->ss_late);
}

/* Segments. */

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
 * stems.  *what: what search_typo_pick says.  0, or an LMDB error.
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
};

static struct sfilter *search_cur_filter;

/* The key of the i-th filter's term; its length. */
static size_t
search_filter_key(const struct search_opts *so, size_t i, char *key)
{
	size_t	 n;

	n = strlen(so->so_filters[i]);
	if (n > IX_TERM_MAX - 1)
		n = IX_TERM_MAX - 1;	/* as ixbatch_term cuts it */
	key[0] = IX_FILTER;
	memcpy(key + 1, so->so_filters[i], n);
	return (n + 1);
}

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

static int
search_filter_collect(struct sstate *ss, const struct ixseg *seg)
{
	struct sfilter	*sf = search_cur_filter;
	struct ixpost	 p;
	int64_t		 f;
	int		 rv;

	if ((f = ixseg_find(seg, sf->sf_key, sf->sf_len)) < 0)
		return (0);
	ixpost_init(&p, seg, f);
	while ((rv = ixpost_next(&p)) == 1) {
		roaring_bitmap_add(sf->sf_set, p.p_cid);
		if (search_late(ss))
			return (ETIMEDOUT);
	}
	return (rv == -1 ? MDB_CORRUPTED : 0);
}

/*
 * A chunk that matches: to the top n (search_top.c), to the set of
 * matches when facets want it, or, in search_matches' pass, to its
 * document's count.  An error reading records ends the walk as the
 * deadline does, and search_txn returns it.
 */
static void
search_heap_push(struct sstate *ss, uint32_t cid, double score)
{
	int	 rc;

	if (ss->ss_counting) {
		search_top_count(&ss->ss_top, cid);
		return;
	}
	if (ss->ss_set != NULL)
		roaring_bitmap_add(ss->ss_set, cid);
	if (ss->ss_rc == 0 && (rc = search_top_push(&ss->ss_top, ss->ss_txn,
	    ss->ss_ix, cid, score)) != 0) {
		ss->ss_rc = rc;
		ss->ss_late = 1;
	}
}

/* BM25's length norm of a chunk of dl words; short ones from a table. */
static double
search_norm_of(const struct sstate *ss, uint32_t dl)
{
	const struct search_opts *so = ss->ss_opts;

	return (so->so_k1 * (1.0 - so->so_b + so->so_b * dl / ss->ss_avgdl));
}

static double
search_norm(const struct sstate *ss, uint32_t dl)
{
	return (dl < SEARCH_NORMS ? ss->ss_norm[dl] : search_norm_of(ss, dl));
}

/*
 * BM25 of a weighted term frequency: the word's tf in each field times
 * the field's weight, summed before saturation (BM25F), so that a word
 * in both title and text counts once, more strongly, never twice over.
 */
static double
search_bm25(struct sstate *ss, double idf, double wtf, uint32_t dl)
{
	const struct search_opts *so = ss->ss_opts;

	if (wtf <= 0.0)
		return (0.0);
	return (idf * wtf * (so->so_k1 + 1.0) / (wtf + search_norm(ss, dl)));
}

static void
search_touch(struct sstate *ss, uint32_t local)
{
	if (ss->ss_sc.sc_mask[local] == 0 && ss->ss_sc.sc_acc[local] == 0.0f)
		ss->ss_sc.sc_touched[ss->ss_ntouched++] = local;
}

/* Is the chunk out of the gate (search_post)? */
static int
search_gated(const struct sstate *ss, uint32_t local, int gate)
{
	return ((gate == SEARCH_GATE_CAND && !ss->ss_sc.sc_cand[local]) ||
	    (gate == SEARCH_GATE_TOUCHED && ss->ss_sc.sc_mask[local] == 0));
}

/* Keep a word's title tf by chunk (ss_ttf), for its text to take. */
static int
search_post_title(struct sstate *ss, const struct ixseg *seg, uint32_t term,
    int gate)
{
	struct sscratch	*sc = &ss->ss_sc;
	struct ixpost	 p;
	int		 rv;

	ixpost_init(&p, seg, term);
	while ((rv = ixpost_next(&p)) == 1) {
		if (search_late(ss))
			return (-1);
		if (search_gated(ss, p.p_local, gate) || p.p_tf == 0)
			continue;
		sc->sc_ttf[p.p_local] = p.p_tf;
		sc->sc_tlist[ss->ss_ntlist++] = p.p_local;
	}
	return (rv == -1 ? -1 : 0);
}

/* The chunks with a word in their title but not in their text. */
static void
search_title_rest(struct sstate *ss, const struct ixseg *seg,
    const struct sterm *st, double wt)
{
	struct sscratch	*sc = &ss->ss_sc;
	uint32_t	 local;
	size_t		 i;

	for (i = 0; i < ss->ss_ntlist; i++) {
		local = sc->sc_tlist[i];
		if (sc->sc_ttf[local] == 0)
			continue;
		search_touch(ss, local);
		sc->sc_mask[local] |= 1U << st->st_item;
		sc->sc_acc[local] += search_bm25(ss, st->st_idf,
		    wt * sc->sc_ttf[local], seg->s_norms[local]);
		sc->sc_ttf[local] = 0;
	}
	ss->ss_ntlist = 0;
}

/*
 * Score one term's text postings into the accumulators, with its title
 * tf of the same chunk if wt is not 0 (search_post_title); for a
 * phrase word (pos), remember where each chunk's positions are (ss_pl,
 * its place in them by chunk in sc_pl_idx).  Gated, only the chunks
 * marked as candidates (search_seg_cands), or those a word before has
 * touched.
 */
static int
search_post(struct sstate *ss, const struct ixseg *seg, uint32_t term,
    size_t k, double wb, double wt, int pos, int gate)
{
	const struct sterm *st = &ss->ss_q->q_terms[k];
	struct sscratch	*sc = &ss->ss_sc;
	struct sposlist	*pl = &ss->ss_pl[k];
	uint32_t	*idx = sc->sc_pl_idx[k];
	struct ixpost	 p;
	uint32_t	 local;
	double		 wtf;
	int		 rv;

	ixpost_init(&p, seg, term);
	while ((rv = ixpost_next(&p)) == 1) {
		if (search_late(ss))
			return (-1);
		local = p.p_local;
		if (search_gated(ss, local, gate))
			continue;
		search_touch(ss, local);
		sc->sc_mask[local] |= 1U << st->st_item;
		wtf = wb * p.p_tf;
		if (wt != 0.0 && sc->sc_ttf[local] != 0) {
			wtf += wt * sc->sc_ttf[local];
			sc->sc_ttf[local] = 0;
		}
		sc->sc_acc[local] += search_bm25(ss, st->st_idf, wtf,
		    seg->s_norms[local]);
		if (!pos)
			continue;
		if (pl->pl_n == pl->pl_cap) {
			pl->pl_cap = pl->pl_cap == 0 ? 1024 : pl->pl_cap * 2;
			pl->pl_local = xreallocarray(pl->pl_local, pl->pl_cap,
			    sizeof(*pl->pl_local));
			pl->pl_pos = xreallocarray(pl->pl_pos, pl->pl_cap,
			    sizeof(*pl->pl_pos));
			pl->pl_tf = xreallocarray(pl->pl_tf, pl->pl_cap,
			    sizeof(*pl->pl_tf));
		}
		pl->pl_local[pl->pl_n] = local;
		pl->pl_pos[pl->pl_n] = p.p_cur;
		pl->pl_tf[pl->pl_n] = p.p_tf;
		if (idx[local] == 0)
			idx[local] = pl->pl_n + 1;
		pl->pl_n++;
	}
	return (rv == -1 ? -1 : 0);
}

/* The positions of a phrase word in one chunk, from its position list. */
static void
search_positions(const struct ixseg *seg, const struct sposlist *pl,
    const uint32_t *idx, uint32_t local, uint32_t *pos, size_t max,
    size_t *n)
{
	const uint8_t	*p, *end = (const uint8_t *)seg->s_data + seg->s_len;
	size_t		 lo;
	uint64_t	 d, at = 0;
	uint32_t	 i;

	*n = 0;
	if (idx[local] == 0)
		return;
	lo = idx[local] - 1;
	p = pl->pl_pos[lo];
	for (i = 0; i < pl->pl_tf[lo] && *n < max; i++) {
		if (ix_getvarint(&p, end, &d) == -1)
			return;
		at += d;
		pos[(*n)++] = at;
	}
}

/* Phrases are numbered in the order of their items. */
static int
search_phrase_index(const struct squery *q, int item)
{
	int	 i, n = 0;

	for (i = 0; i < item; i++)
		if (q->q_items[i].si_phrase)
			n++;
	return (n);
}

/* Where a phrase word occurs in the chunk at hand, wherever it is kept. */
typedef void (*search_pos_fn)(void *, size_t, uint32_t *, size_t, size_t *);

/* Does the phrase occur in this chunk, its words in a row? */
static int
search_phrase_at(struct sstate *ss, int phrase, search_pos_fn getpos,
    void *ctx)
{
	static uint32_t	 pos[SEARCH_PHRASE_MAX][256];
	size_t		 npos[SEARCH_PHRASE_MAX], nw = 0, i, k, w;
	const struct sterm *words[SEARCH_PHRASE_MAX];
	size_t		 idx[SEARCH_PHRASE_MAX];
	struct squery	*q = ss->ss_q;
	int		 ok;

	for (i = 0; i < q->q_nterms && nw < SEARCH_PHRASE_MAX; i++)
		if (q->q_terms[i].st_phrase == phrase) {
			idx[nw] = i;
			words[nw++] = &q->q_terms[i];
		}
	for (w = 0; w < nw; w++) {
		getpos(ctx, idx[w], pos[w], 256, &npos[w]);
		if (npos[w] == 0)
			return (0);
	}
	for (i = 0; i < npos[0]; i++) {
		ok = 1;
		for (w = 1; w < nw && ok; w++) {
			ok = 0;
			for (k = 0; k < npos[w]; k++)
				if (pos[w][k] == pos[0][i] +
				    (words[w]->st_ppos - words[0]->st_ppos))
					ok = 1;
		}
		if (ok)
			return (1);
	}
	return (0);
}

/* Do the chunk's words pass the query (before filters and tombstones)? */
static int
search_passes(struct sstate *ss, uint32_t m, search_pos_fn getpos,
    void *ctx)
{
	struct squery	*q = ss->ss_q;
	int		 item, ok;

	if ((m & q->q_reqmask) != q->q_reqmask || (m & q->q_exmask) != 0 ||
	    (m & ~q->q_negmask) == 0)
		return (0);
	for (item = 0; item < (int)q->q_nitems; item++) {
		if (!q->q_items[item].si_phrase)
			continue;
		ok = search_phrase_at(ss, search_phrase_index(q, item), getpos,
		    ctx);
		if (q->q_items[item].si_excluded)
			ok = !ok;
		if (!ok)
			return (0);
	}
	return (1);
}

struct sseg_pos {
	struct sstate		*sp_ss;
	const struct ixseg	*sp_seg;
	uint32_t		 sp_local;
};

static void
search_seg_pos(void *ctx, size_t term, uint32_t *pos, size_t max, size_t *n)
{
	struct sseg_pos	*sp = ctx;

	search_positions(sp->sp_seg, &sp->sp_ss->ss_pl[term],
	    sp->sp_ss->ss_sc.sc_pl_idx[term], sp->sp_local, pos, max, n);
}

/* Mark a chunk of the segment as a candidate. */
static void
search_cand_add(struct sstate *ss, uint32_t local)
{
	if (ss->ss_sc.sc_cand[local])
		return;
	ss->ss_sc.sc_cand[local] = 1;
	ss->ss_sc.sc_cands[ss->ss_ncands++] = local;
}

/* Find the query's keys in the segment, once (st_fbody, st_ftitle, x_f). */
static void
search_seg_keys(struct sstate *ss, const struct ixseg *seg)
{
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	size_t		 k, j;
	char		 key[IX_TERM_MAX + 1];

	for (k = 0; k < q->q_nterms; k++) {
		st = &q->q_terms[k];
		if (st->st_prefix) {
			for (j = 0; st->st_exp != NULL && j < st->st_exp->x_n;
			    j++)
				st->st_exp->x_f[j] = ixseg_find(seg,
				    st->st_exp->x_term[j],
				    st->st_exp->x_len[j]);
			continue;
		}
		st->st_fbody = ixseg_find(seg, st->st_key, st->st_len);
		memcpy(key, st->st_key, st->st_len);
		key[0] = IX_TITLE;
		st->st_ftitle = ixseg_find(seg, key, st->st_len);
	}
}

/* The postings in the segment of a query word's keys (text, title). */
static uint64_t
search_seg_df(const struct ixseg *seg, const struct sterm *st, int title,
    int64_t *f, size_t *nf)
{
	uint64_t	 df = 0;
	size_t		 j;

	*nf = 0;
	if (st->st_prefix) {
		for (j = 0; st->st_exp != NULL && j < st->st_exp->x_n; j++)
			if ((f[*nf] = st->st_exp->x_f[j]) >= 0)
				df += seg->s_dict[f[(*nf)++]].e_df;
		return (df);
	}
	if ((f[*nf] = st->st_fbody) >= 0)
		df += seg->s_dict[f[(*nf)++]].e_df;
	if (title && (f[*nf] = st->st_ftitle) >= 0)
		df += seg->s_dict[f[(*nf)++]].e_df;
	return (df);
}

/*
 * The chunks of a segment that may match, when the query narrows them:
 * a chunk must have every required group (as search_bc_groups has it:
 * a required word in its text or title, a required prefix by any
 * expansion, each word of a phrase in its text) and pass the filter.
 * The group with the fewest postings in the segment marks them
 * (ss_cand), within the filter.  1: marked; 0: no required group, every
 * chunk may match; -1: no chunk of the segment can match.
 */
static int
search_seg_cands(struct sstate *ss, const struct ixseg *seg)
{
	struct squery		*q = ss->ss_q;
	struct sscratch		*sc = &ss->ss_sc;
	struct sterm		*st;
	struct ixpost		 p;
	int64_t			 f[SEARCH_KEYS_MAX], bf[SEARCH_KEYS_MAX];
	uint64_t		 df, best = UINT64_MAX, itemdf[SEARCH_ITEMS_MAX];
	size_t			 k, i, nf, nk, nbf = 0;
	int			 item, rv;

	memset(itemdf, 0, sizeof(itemdf));
	/* Words of a required item: text and title, or expansions. */
	for (item = 0; item < (int)q->q_nitems; item++) {
		if ((q->q_reqmask & (1U << item)) == 0 ||
		    q->q_items[item].si_phrase)
			continue;
		for (k = 0, df = 0; k < q->q_nterms; k++)
			if (q->q_terms[k].st_item == item)
				df += search_seg_df(seg, &q->q_terms[k], 1, f,
				    &nf);
		if (df == 0)
			return (-1);
		itemdf[item] = df;
	}
	for (k = 0; k < q->q_nterms; k++) {
		st = &q->q_terms[k];
		if ((q->q_reqmask & (1U << st->st_item)) == 0)
			continue;
		if (q->q_items[st->st_item].si_phrase) {
			if ((df = search_seg_df(seg, st, 0, f, &nf)) == 0)
				return (-1);
		} else if (itemdf[st->st_item] == UINT64_MAX)
			continue;	/* gathered already */
		else {
			/* Every key of the item, and the item is done. */
			df = itemdf[st->st_item];
			itemdf[st->st_item] = UINT64_MAX;
			for (i = k, nf = 0; i < q->q_nterms; i++) {
				if (q->q_terms[i].st_item != st->st_item)
					continue;
				search_seg_df(seg, &q->q_terms[i], 1, f + nf,
				    &nk);
				nf += nk;
			}
		}
		if (df < best) {
			best = df;
			memcpy(bf, f, nf * sizeof(*f));
			nbf = nf;
		}
	}
	ss->ss_ncands = 0;
	if (best == UINT64_MAX)
		return (0);
	if (sc->sc_cand == NULL) {
		sc->sc_cand = xcalloc(sc->sc_cap, sizeof(*sc->sc_cand));
		sc->sc_cands = xcalloc(sc->sc_cap, sizeof(*sc->sc_cands));
	}
	for (i = 0; i < nbf; i++) {
		ixpost_init(&p, seg, bf[i]);
		while ((rv = ixpost_next(&p)) == 1)
			if (ss->ss_filter == NULL ||
			    roaring_bitmap_contains(ss->ss_filter, p.p_cid))
				search_cand_add(ss, p.p_local);
		if (rv == -1)
			return (-2);
	}
	return (ss->ss_ncands > 0 ? 1 : -1);
}

/* Clear the marks a segment left: candidates, places of positions. */
static void
search_seg_clear(struct sstate *ss)
{
	struct sscratch	*sc = &ss->ss_sc;
	struct sposlist	*pl;
	size_t		 k, i;

	for (k = 0; k < ss->ss_ncands; k++)
		sc->sc_cand[sc->sc_cands[k]] = 0;
	ss->ss_ncands = 0;
	for (k = 0; k < SEARCH_TERMS_MAX; k++) {
		pl = &ss->ss_pl[k];
		if (sc->sc_pl_idx[k] == NULL)
			continue;
		for (i = 0; i < pl->pl_n; i++)
			sc->sc_pl_idx[k][pl->pl_local[i]] = 0;
		pl->pl_n = 0;
	}
	for (k = 0; k < ss->ss_ntlist; k++)
		sc->sc_ttf[sc->sc_tlist[k]] = 0;
	ss->ss_ntlist = 0;
}

/* Could a chunk of this score change the top n? */
static int
search_heap_takes(const struct sstate *ss, uint32_t cid, double score)
{
	return (search_top_takes(&ss->ss_top, cid, score));
}

/* Score one query word's keys in a segment (search_post); -1 if damaged. */
static int
search_seg_term(struct sstate *ss, const struct ixseg *seg, size_t k,
    int gate)
{
	const struct search_opts *so = ss->ss_opts;
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	size_t		 j;
	int64_t		 f;
	double		 wbody, wtitle;

	st = &q->q_terms[k];
	ss->ss_pl[k].pl_n = 0;
	if (st->st_phrase >= 0 && ss->ss_sc.sc_pl_idx[k] == NULL)
		ss->ss_sc.sc_pl_idx[k] = xcalloc(ss->ss_sc.sc_cap,
		    sizeof(*ss->ss_sc.sc_pl_idx[k]));
	/* Excluded words mark chunks; they never add to a score. */
	wbody = q->q_items[st->st_item].si_excluded ? 0.0 : so->so_wbody;
	wtitle = q->q_items[st->st_item].si_excluded ? 0.0 : so->so_wtitle;
	if (!st->st_prefix && wtitle == 0.0) {
		/* An exclusion only marks the chunks it is in. */
		if ((f = st->st_fbody) >= 0 && search_post(ss, seg, f, k,
		    wbody, 0.0, st->st_phrase >= 0, gate) == -1)
			return (-1);
		if ((f = st->st_ftitle) >= 0 && search_post(ss, seg, f, k,
		    0.0, 0.0, 0, gate) == -1)
			return (-1);
		return (0);
	}
	if (!st->st_prefix) {
		/* Title then text, each chunk's fields summed (BM25F). */
		ss->ss_ntlist = 0;
		if ((f = st->st_ftitle) >= 0 &&
		    search_post_title(ss, seg, f, gate) == -1)
			return (-1);
		if ((f = st->st_fbody) >= 0 && search_post(ss, seg, f, k,
		    wbody, wtitle, st->st_phrase >= 0, gate) == -1)
			return (-1);
		search_title_rest(ss, seg, st, wtitle);
		return (0);
	}
	/* The same expansions in every segment. */
	for (j = 0; st->st_exp != NULL && j < st->st_exp->x_n; j++) {
		if ((f = st->st_exp->x_f[j]) < 0)
			continue;
		if (search_post(ss, seg, f, k, wbody, 0.0, 0, gate) == -1)
			return (-1);
	}
	return (0);
}

/* The per-chunk arrays, freed and zeroed (search_scratch). */
static void
search_seg_free(struct sscratch *sc)
{
	size_t	 k;

	free(sc->sc_acc);
	free(sc->sc_mask);
	free(sc->sc_touched);
	free(sc->sc_ttf);
	free(sc->sc_tlist);
	free(sc->sc_cand);
	free(sc->sc_cands);
	for (k = 0; k < SEARCH_TERMS_MAX; k++)
		free(sc->sc_pl_idx[k]);
	memset(sc, 0, sizeof(*sc));
}

/*
 * One segment, term at a time, into accumulators, only over the
 * candidates when the query narrows them (search_seg_cands).  Pruning,
 * a chunk of a query with phrases whose score the heap would not take
 * has its phrases left unchecked (the costly part): it cannot change
 * the top n, and the total is then a lower bound.
 */
static int
search_seg(struct sstate *ss, const struct ixseg *seg)
{
	struct squery	*q = ss->ss_q;
	struct sscratch	*sc = &ss->ss_sc;
	struct sseg_pos	 sp;
	uint32_t	 n = seg->s_hdr->h_nchunks, local, cid, m;
	size_t		 k;
	int		 gate;

	if (n > sc->sc_cap) {
		/* Once, as long as the largest segment (search_df). */
		if (n < ss->ss_segmax)
			n = ss->ss_segmax;
		search_seg_free(sc);
		sc->sc_cap = n;
		sc->sc_acc = xcalloc(n, sizeof(*sc->sc_acc));
		sc->sc_mask = xcalloc(n, sizeof(*sc->sc_mask));
		sc->sc_touched = xcalloc(n, sizeof(*sc->sc_touched));
		sc->sc_ttf = xcalloc(n, sizeof(*sc->sc_ttf));
		sc->sc_tlist = xcalloc(n, sizeof(*sc->sc_tlist));
	}
	ss->ss_ntouched = 0;
	search_seg_keys(ss, seg);
	if ((gate = search_seg_cands(ss, seg)) == -2)
		return (MDB_CORRUPTED);
	if (gate == -1)
		return (0);
	/*
	 * Excluded words last, over the chunks the others have: they add
	 * nothing to a score, so the sums are those of the query's order.
	 */
	for (k = 0; k < q->q_nterms; k++)
		if (!q->q_items[q->q_terms[k].st_item].si_excluded &&
		    search_seg_term(ss, seg, k, gate) == -1)
			goto bad;
	for (k = 0; k < q->q_nterms; k++)
		if (q->q_items[q->q_terms[k].st_item].si_excluded &&
		    search_seg_term(ss, seg, k, SEARCH_GATE_TOUCHED) == -1)
			goto bad;
	sp.sp_ss = ss;
	sp.sp_seg = seg;
	for (k = 0; k < ss->ss_ntouched; k++) {
		local = sc->sc_touched[k];
		m = sc->sc_mask[local];
		cid = seg->s_hdr->h_base + local;
		sp.sp_local = local;
		if ((m & q->q_reqmask) != q->q_reqmask ||
		    (m & q->q_exmask) != 0 || (m & ~q->q_negmask) == 0)
			;
		else if (q->q_nphrases > 0 && search_pruning(ss) &&
		    !search_heap_takes(ss, cid, sc->sc_acc[local]))
			ss->ss_pruned = 1;
		else if (search_passes(ss, m, search_seg_pos, &sp) &&
		    (ss->ss_filter == NULL ||
		    roaring_bitmap_contains(ss->ss_filter, cid)) &&
		    !roaring_bitmap_contains(ss->ss_tomb, cid)) {
			ss->ss_total++;
			search_heap_push(ss, cid, sc->sc_acc[local]);
		}
		sc->sc_acc[local] = 0.0f;
		sc->sc_mask[local] = 0;
	}
	search_seg_clear(ss);
	return (0);
bad:
	for (k = 0; k < ss->ss_ntouched; k++) {
		sc->sc_acc[sc->sc_touched[k]] = 0.0f;
		sc->sc_mask[sc->sc_touched[k]] = 0;
	}
	search_seg_clear(ss);
	return (MDB_CORRUPTED);
}


/*
 * The block store, document at a time: a cursor per term and field (per
 * expansion for a prefix), moved together in cid order, below the folded
 * mark.  Scores are summed in the segments' order (terms in query order,
 * text before title), in a float as the segments' accumulators are, so a
 * chunk scores the same folded or not.
 */

#define SEARCH_CURSORS_MAX	(2 * SEARCH_TERMS_MAX + SEARCH_PREFIX_MAX)

struct sbcur {
	struct ixbcur	 b_c;
	int		 b_term;	/* in q_terms */
	int		 b_body;
	double		 b_w;		/* idf; 0 for exclusions */
	double		 b_fw;		/* the field's weight */
	double		 b_ub;		/* bound on what it adds */
	double		 b_s;		/* what it adds to the chunk at hand */
	uint64_t	 b_df;		/* its postings in blocks */
	int		 b_group;	/* of required cursors, or -1 */
	uint32_t	 b_bfirst;	/* the block whose bound is b_bub */
	uint32_t	 b_blast;
	double		 b_bub;		/* 0: not known yet */
};

struct sblocks {
	struct sstate	*sb_ss;
	struct sbcur	*sb_c;
	size_t		 sb_n;
	uint32_t	 sb_cid;	/* the chunk at hand */
	struct ixbcur	 sb_f[SEARCH_FILTERS_MAX];	/* the filters' terms */
	size_t		 sb_nf;
	int		 sb_fcur;	/* filters by sb_f, not ss_filter */
};

/* Has the cursor a posting, and is it at cid? */
static int
search_bc_at(const struct sbcur *c, uint32_t cid)
{
	return (!c->b_c.bc_end && c->b_c.bc_at > 0 && c->b_c.bc_cid == cid);
}

static void
search_block_pos(void *ctx, size_t term, uint32_t *pos, size_t max,
    size_t *n)
{
	struct sblocks	*sb = ctx;
	struct sbcur	*c;
	const uint8_t	*p;
	uint64_t	 d, at = 0;
	size_t		 i;
	uint32_t	 j;

	*n = 0;
	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		if (c->b_term != (int)term || !c->b_body ||
		    !search_bc_at(c, sb->sb_cid))
			continue;
		p = c->b_c.bc_pos;
		for (j = 0; j < c->b_c.bc_tf && *n < max; j++) {
			if (ix_getvarint(&p, c->b_c.bc_pend, &d) == -1)
				return;
			at += d;
			pos[(*n)++] = at;
		}
		return;
	}
}

/*
 * A bound on BM25 of the weighted tf of a field's postings of a term,
 * from their block's or term's bound: the (tf, length) pairs no posting
 * beats on both, scored as search_bm25 scores them.
 */
static double
search_bound(struct sstate *ss, const struct ixbound *b, double fw)
{
	double	 best = 0.0, s, wtf;
	int	 i;

	for (i = 0; i < IXB_BOUNDS && b->b_tf[i] != 0; i++) {
		wtf = fw * b->b_tf[i];
		s = wtf * (ss->ss_opts->so_k1 + 1.0) / (wtf +
		    search_norm_of(ss, b->b_dl[i]));
		if (s > best)
			best = s;
	}
	return (best);
}

/*
 * A bound on what the cursor adds in its block, with a margin for
 * rounding; kept until the cursor leaves the block.
 */
static double
search_bc_blockub(struct sstate *ss, struct sbcur *c)
{
	if (c->b_bub == 0.0 || c->b_bfirst != c->b_c.bc_first ||
	    c->b_blast != c->b_c.bc_hdr.bh_last) {
		c->b_bfirst = c->b_c.bc_first;
		c->b_blast = c->b_c.bc_hdr.bh_last;
		c->b_bub = c->b_w * search_bound(ss, &c->b_c.bc_hdr.bh_bound,
		    c->b_fw) * (1.0 + 1e-9);
	}
	return (c->b_bub);
}

static int
search_bc_add(MDB_txn *txn, struct sstate *ss, struct sblocks *sb,
    const char *key, size_t len, int term, int body, double w)
{
	struct ixterminfo	 ti;
	struct sbcur		*c;
	int			 rv;

	if (sb->sb_n == SEARCH_CURSORS_MAX ||
	    ixblk_terminfo(txn, ss->ss_ix, key, len, &ti) != 0)
		return (0);
	c = &sb->sb_c[sb->sb_n];
	memset(c, 0, sizeof(*c));
	if ((rv = ixbcur_open(&c->b_c, txn, ss->ss_ix, key, len,
	    ss->ss_folded)) == -1) {
		ixbcur_close(&c->b_c);
		return (-1);
	}
	if (rv == 0 || (rv = ixbcur_next(&c->b_c)) != 1) {
		ixbcur_close(&c->b_c);
		return (rv);
	}
	c->b_term = term;
	c->b_body = body;
	c->b_df = ti.ti_df;
	c->b_group = -1;
	c->b_w = w > 0.0 ? ss->ss_q->q_terms[term].st_idf : 0.0;
	c->b_fw = w;
	c->b_ub = c->b_w * search_bound(ss, &ti.ti_bound, w) * (1.0 + 1e-9);
	sb->sb_n++;
	return (0);
}

/*
 * What the cursor's field alone adds to the chunk at hand.  A word's
 * fields are saturated together (search_bm25), and BM25 is subadditive,
 * so the sum of these over the cursors is at least the chunk's score:
 * a bound the pruning may use.
 */
static double
search_bc_score(struct sstate *ss, const struct sbcur *c)
{
	return (search_bm25(ss, c->b_w, c->b_fw * c->b_c.bc_tf,
	    c->b_c.bc_dl));
}

/*
 * The score of the chunk at hand, summed as the segments sum it: word
 * by word in query order, a word's text and title (its cursors side by
 * side) saturated together, each expansion of a prefix on its own.
 */
static float
search_bc_total(struct sstate *ss, struct sblocks *sb)
{
	const struct sbcur	*c, *t;
	float			 acc = 0.0f;
	double			 wtf;
	size_t			 i;

	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		if (c->b_w == 0.0 || !search_bc_at(c, sb->sb_cid))
			continue;
		wtf = c->b_fw * c->b_c.bc_tf;
		t = i + 1 < sb->sb_n ? &sb->sb_c[i + 1] : NULL;
		if (c->b_body && !ss->ss_q->q_terms[c->b_term].st_prefix &&
		    t != NULL && t->b_term == c->b_term && !t->b_body &&
		    t->b_w != 0.0 && search_bc_at(t, sb->sb_cid)) {
			wtf += t->b_fw * t->b_c.bc_tf;
			i++;
		}
		acc += search_bm25(ss, c->b_w, wtf, c->b_c.bc_dl);
	}
	return (acc);
}

/* Score the chunk at hand from the cursors on it, in the segments' order. */
static void
search_block_take(struct sstate *ss, struct sblocks *sb, uint32_t m)
{
	float	 acc;

	if (!search_passes(ss, m, search_block_pos, sb) ||
	    (!sb->sb_fcur && ss->ss_filter != NULL &&
	    !roaring_bitmap_contains(ss->ss_filter, sb->sb_cid)) ||
	    roaring_bitmap_contains(ss->ss_tomb, sb->sb_cid))
		return;
	acc = search_bc_total(ss, sb);
	ss->ss_total++;
	search_heap_push(ss, sb->sb_cid, acc);
}

/*
 * The lowest chunk the cursors from the from-th on (in the order ord, or
 * their own) are at: 0 if they are all at their end.
 */
static int
search_bc_min(const struct sblocks *sb, const size_t *ord, size_t from,
    uint32_t *d)
{
	const struct sbcur	*c;
	size_t			 i;
	int			 any = 0;

	*d = UINT32_MAX;
	for (i = from; i < sb->sb_n; i++) {
		c = &sb->sb_c[ord != NULL ? ord[i] : i];
		if (!c->b_c.bc_end && c->b_c.bc_cid <= *d) {
			*d = c->b_c.bc_cid;
			any = 1;
		}
	}
	return (any);
}

/* Every chunk with any of the words, in cid order. */
static int
search_blocks_all(struct sstate *ss, struct sblocks *sb)
{
	struct sbcur	*c;
	uint32_t	 d, m;
	size_t		 i;

	for (;;) {
		if (search_late(ss))
			return (ETIMEDOUT);
		if (!search_bc_min(sb, NULL, 0, &d))
			return (0);
		sb->sb_cid = d;
		m = 0;
		for (i = 0; i < sb->sb_n; i++) {
			c = &sb->sb_c[i];
			if (!search_bc_at(c, d))
				continue;
			m |= 1U << ss->ss_q->q_terms[c->b_term].st_item;
			c->b_s = search_bc_score(ss, c);
		}
		search_block_take(ss, sb, m);
		for (i = 0; i < sb->sb_n; i++)
			if (search_bc_at(&sb->sb_c[i], d) &&
			    ixbcur_next(&sb->sb_c[i].b_c) == -1)
				return (MDB_CORRUPTED);
	}
}

/* The score a chunk must beat: the n-th best document's (or chunk's). */
static double
search_theta(const struct sstate *ss)
{
	return (search_top_theta(&ss->ss_top));
}

/*
 * The first chunk from cid on that every filter's term has (the filter
 * cursors leap over each other) and that is not tombstoned: UINT32_MAX
 * if there is none.  Calls come with cids that never fall.
 */
static uint32_t
search_bc_allowed(struct sstate *ss, struct sblocks *sb, uint32_t cid)
{
	struct ixbcur	*f;
	size_t		 i, agree;

	for (;;) {
		/* Round the filters until all of them agree on cid. */
		for (i = agree = 0; agree < sb->sb_nf;
		    i = (i + 1) % sb->sb_nf) {
			f = &sb->sb_f[i];
			/* A damaged block ends the filter, as its end does. */
			if (ixbcur_seek(f, cid) != 1)
				return (UINT32_MAX);
			if (f->bc_cid == cid)
				agree++;
			else {
				cid = f->bc_cid;
				agree = 1;
			}
		}
		if (!roaring_bitmap_contains(ss->ss_tomb, cid))
			return (cid);
		if (cid == UINT32_MAX - 1)
			return (UINT32_MAX);
		cid++;
	}
}

/*
 * Move the cursors ord[from] to ord[to - 1] (their own order if ord is
 * NULL) to their first posting at or after cid; UINT32_MAX: to their end.
 */
static int
search_bc_skip(struct sblocks *sb, const size_t *ord, size_t from, size_t to,
    uint32_t cid)
{
	struct sbcur	*c;
	size_t		 i;

	for (i = from; i < to; i++) {
		c = &sb->sb_c[ord != NULL ? ord[i] : i];
		if (c->b_c.bc_end)
			continue;
		if (cid == UINT32_MAX)
			c->b_c.bc_end = 1;
		else if (ixbcur_seek(&c->b_c, cid) == -1)
			return (-1);
	}
	return (0);
}

/*
 * What the blocks spanning chunk d allow from d up to *next, where the
 * first of them ends (*bw), and what they allow at d itself, with the
 * exact score of the cursors on d (*bs, and b_s of each); *m gets the
 * items of the cursors on d.  Cursors that add nothing (exclusions)
 * neither add to the bounds nor cut the range short.
 */
static void
search_bc_bounds(struct sstate *ss, struct sblocks *sb, uint32_t d,
    double *bs, double *bw, uint32_t *next, uint32_t *m)
{
	struct sbcur		*c;
	double			 ub;
	size_t			 i;

	*bs = *bw = 0.0;
	*next = UINT32_MAX;
	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		c->b_s = 0.0;
		if (c->b_c.bc_end)
			continue;
		if (c->b_w == 0.0) {
			if (search_bc_at(c, d))
				*m |= 1U << ss->ss_q->q_terms[c->b_term].st_item;
			continue;
		}
		if (c->b_c.bc_at > 0 && c->b_c.bc_cid >= d) {
			if (c->b_c.bc_cid == d) {
				c->b_s = search_bc_score(ss, c);
				*bs += c->b_s;
				*bw += search_bc_blockub(ss, c);
				*m |= 1U << ss->ss_q->q_terms[c->b_term].st_item;
				if (c->b_c.bc_hdr.bh_last < *next)
					*next = c->b_c.bc_hdr.bh_last;
			} else if (c->b_c.bc_cid - 1 < *next)
				*next = c->b_c.bc_cid - 1;
			continue;
		}
		if (ixbcur_shallow(&c->b_c, d) != NULL) {
			ub = search_bc_blockub(ss, c);
			*bs += ub;
			*bw += ub;
			if (c->b_c.bc_hdr.bh_last < *next)
				*next = c->b_c.bc_hdr.bh_last;
		} else if (!c->b_c.bc_end && c->b_c.bc_first - 1 < *next)
			*next = c->b_c.bc_first - 1;
	}
	if (*next < d)
		*next = d;
}

/*
 * Top k of a query without required items, with block-max pruning
 * (MaxScore over block bounds).  The cursors are ordered by their terms'
 * bounds; those whose bounds together cannot beat the k-th score so far
 * (theta) are non-essential: they never propose a chunk, they are only
 * probed for chunks the others propose.  Before a proposed chunk is
 * decoded, the bounds of the blocks that span it are summed; when that
 * cannot beat theta, every cursor skips to the end of the first of those
 * blocks, and the blocks in between are never decoded.  Exclusions add
 * nothing, so they are never essential: they are probed last, for the
 * chunks that could make the top k.  A chunk the
 * filter or the tombstones rule out is skipped before anything is
 * decoded.  A chunk is skipped only when it cannot enter the top k, so
 * the top k are those of search_blocks_all; the total counts only the
 * chunks looked at.
 */
static int
search_blocks_topk(struct sstate *ss, struct sblocks *sb)
{
	struct sbcur	*c;
	size_t		 ord[SEARCH_CURSORS_MAX], i, j, e = 0, tmp;
	double		 cum[SEARCH_CURSORS_MAX], ub, theta, score, bs, bw;
	uint32_t	 d, next, m, t;
	int		 rv;

	for (i = 0; i < sb->sb_n; i++)
		ord[i] = i;
	for (i = 1; i < sb->sb_n; i++)
		for (j = i; j > 0 && sb->sb_c[ord[j - 1]].b_ub >
		    sb->sb_c[ord[j]].b_ub; j--) {
			tmp = ord[j];
			ord[j] = ord[j - 1];
			ord[j - 1] = tmp;
		}
	for (i = 0, ub = 0.0; i < sb->sb_n; i++) {
		ub += sb->sb_c[ord[i]].b_ub;
		cum[i] = ub;
	}
	/* Exclusions add nothing (first in ord): they never propose. */
	while (e < sb->sb_n && sb->sb_c[ord[e]].b_w == 0.0)
		e++;
	for (;;) {
		if (search_late(ss))
			return (ETIMEDOUT);
		theta = search_theta(ss);
		while (e < sb->sb_n && theta >= 0.0 && cum[e] <= theta) {
			e++;
			ss->ss_pruned = 1;
		}
		if (e == sb->sb_n)
			return (0);
		/* The next chunk an essential cursor proposes. */
		if (!search_bc_min(sb, ord, e, &d))
			return (0);
		if ((t = search_bc_allowed(ss, sb, d)) != d) {
			if (search_bc_skip(sb, ord, e, sb->sb_n, t) == -1)
				return (MDB_CORRUPTED);
			continue;
		}
		sb->sb_cid = d;
		m = 0;
		search_bc_bounds(ss, sb, d, &bs, &bw, &next, &m);
		if (theta >= 0.0 && bw <= theta) {
			/* Nothing from d to next can make the top k. */
			ss->ss_pruned = 1;
			if (search_bc_skip(sb, ord, e, sb->sb_n, next ==
			    UINT32_MAX ? next : next + 1) == -1)
				return (MDB_CORRUPTED);
			continue;
		}
		if (theta >= 0.0 && bs <= theta) {
			/* Nor can d. */
			ss->ss_pruned = 1;
			if (search_bc_skip(sb, ord, e, sb->sb_n, d + 1) == -1)
				return (MDB_CORRUPTED);
			continue;
		}
		/* Probe the non-essential ones, the strongest first. */
		score = 0.0;
		for (i = 0; i < sb->sb_n; i++)
			score += sb->sb_c[i].b_s;
		for (j = e; j > 0; j--) {
			c = &sb->sb_c[ord[j - 1]];
			if (search_bc_at(c, d))
				continue;	/* counted above */
			if (theta >= 0.0 && score + cum[j - 1] <= theta)
				break;
			if ((rv = ixbcur_seek(&c->b_c, d)) == -1)
				return (MDB_CORRUPTED);
			if (rv == 1 && c->b_c.bc_cid == d) {
				c->b_s = search_bc_score(ss, c);
				score += c->b_s;
				m |= 1U << ss->ss_q->q_terms[c->b_term].st_item;
			}
		}
		if (j == 0)
			search_block_take(ss, sb, m);
		else
			ss->ss_pruned = 1;
		if (search_bc_skip(sb, ord, e, sb->sb_n, d + 1) == -1)
			return (MDB_CORRUPTED);
	}
}

/*
 * Gather the cursors a matching chunk must have into groups: a required
 * word's (text and title) or prefix's (every expansion), and one per
 * word of a phrase (its text cursor: a phrase is matched in the text).
 * A chunk matches only if every group has a cursor on it.  The number
 * of groups, with their postings in df; -1 if a group has no cursor at
 * all, so that no chunk in blocks can match.
 */
static int
search_bc_groups(struct sstate *ss, struct sblocks *sb, uint64_t *df)
{
	struct squery	*q = ss->ss_q;
	struct sterm	*st;
	struct sbcur	*c;
	int		 group[SEARCH_TERMS_MAX], item[SEARCH_ITEMS_MAX];
	int		 n = 0, g;
	size_t		 k, i;

	for (i = 0; i < SEARCH_ITEMS_MAX; i++)
		item[i] = -1;
	for (k = 0; k < q->q_nterms; k++) {
		st = &q->q_terms[k];
		group[k] = -1;
		if ((q->q_reqmask & (1U << st->st_item)) == 0)
			continue;
		if (q->q_items[st->st_item].si_phrase)
			group[k] = n++;
		else {
			if (item[st->st_item] == -1)
				item[st->st_item] = n++;
			group[k] = item[st->st_item];
		}
	}
	for (g = 0; g < n; g++)
		df[g] = 0;
	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		g = group[c->b_term];
		if (g == -1 || (!c->b_body &&
		    q->q_items[q->q_terms[c->b_term].st_item].si_phrase))
			continue;
		c->b_group = g;
		df[g] += c->b_df;
	}
	for (g = 0; g < n; g++)
		if (df[g] == 0)
			return (-1);
	return (n);
}

/*
 * The first chunk from d on where every group may have a posting, as
 * far as the cursors and the blocks' spans tell without decoding; a
 * group past its end makes it UINT32_MAX.
 */
static uint32_t
search_bc_leap(struct sblocks *sb, int ngroups, uint32_t d)
{
	struct sbcur	*c;
	uint32_t	 first[SEARCH_TERMS_MAX], at, t = d;
	size_t		 i;
	int		 g;

	for (g = 0; g < ngroups; g++)
		first[g] = UINT32_MAX;
	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		if ((g = c->b_group) == -1 || first[g] == d ||
		    c->b_c.bc_end)
			continue;
		if (c->b_c.bc_at > 0 && c->b_c.bc_cid >= d)
			at = c->b_c.bc_cid;
		else if (ixbcur_shallow(&c->b_c, d) != NULL)
			at = d;
		else if (!c->b_c.bc_end)
			at = c->b_c.bc_first;
		else
			continue;
		if (at < first[g])
			first[g] = at;
	}
	for (g = 0; g < ngroups; g++)
		if (first[g] > t)
			t = first[g];
	return (t);
}

/*
 * Probe the cursors for chunk d: those of the groups (required == 1)
 * or the others (0), seeking each to d.  Adds to *m the items found.
 */
static int
search_bc_probe(struct sstate *ss, struct sblocks *sb, uint32_t d,
    int required, uint32_t *m)
{
	struct sbcur	*c;
	size_t		 i;
	int		 rv;

	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		if ((c->b_group != -1) != required || c->b_c.bc_end)
			continue;
		if (!search_bc_at(c, d)) {
			if ((rv = ixbcur_seek(&c->b_c, d)) == -1)
				return (-1);
			if (rv == 0 || c->b_c.bc_cid != d)
				continue;
		}
		c->b_s = search_bc_score(ss, c);
		*m |= 1U << ss->ss_q->q_terms[c->b_term].st_item;
	}
	return (0);
}

/*
 * The blocks spanning the chunks up to next cannot lift a chunk above
 * theta: the first chunk after them whose blocks may, as far as their
 * bounds tell.  The cursors move to the blocks that span each chunk
 * looked at without decoding them (search_bc_bounds does it, for
 * cursors behind it), so that a driver that is a dense word's
 * neighbour skips the whole run of blocks the bounds rule out instead
 * of decoding its postings one block of the other word at a time.
 * UINT32_MAX past the end.
 */
static uint32_t
search_bc_past(struct sstate *ss, struct sblocks *sb, double theta,
    uint32_t next)
{
	double		 bs, bw;
	uint32_t	 t, m;
	size_t		 n;

	for (n = 0; next != UINT32_MAX; n++) {
		t = next + 1;
		if ((n & 63) == 63 && search_late(ss))
			return (t);
		m = 0;
		search_bc_bounds(ss, sb, t, &bs, &bw, &next, &m);
		if (bw > theta)
			return (t);
	}
	return (UINT32_MAX);
}

/*
 * Top k of a query with required items (+word, AND, a phrase): only
 * chunks with every group (search_bc_groups) can match, so the group
 * with the fewest postings drives: its cursors alone propose chunks.
 * Before a proposed chunk is decoded, the chunk is checked against the
 * filter and the tombstones, the other groups are moved (without
 * decoding) to the blocks that may hold it, and the driver leaps to the
 * first chunk all the groups' blocks allow; then the bounds of the
 * blocks spanning it are summed as in search_blocks_topk, and the
 * driver skips the chunks they cannot lift above theta.  Only then are
 * the required cursors moved onto the chunk, the others after them if
 * every group is there, and the chunk scored and checked (phrases, by
 * their positions).  The top k are those of search_blocks_all.
 */
static int
search_blocks_and(struct sstate *ss, struct sblocks *sb)
{
	struct sbcur	*c;
	uint64_t	 df[SEARCH_TERMS_MAX];
	double		 theta, bs, bw;
	uint32_t	 d, t, next, m, need;
	size_t		 i, drv[SEARCH_CURSORS_MAX], nd = 0;
	int		 ng, g, best = 0;

	if ((ng = search_bc_groups(ss, sb, df)) <= 0)
		return (0);
	for (g = 1; g < ng; g++)
		if (df[g] < df[best])
			best = g;
	for (i = 0; i < sb->sb_n; i++)
		if (sb->sb_c[i].b_group == best)
			drv[nd++] = i;
	for (;;) {
		if (search_late(ss))
			return (ETIMEDOUT);
		theta = search_theta(ss);
		d = UINT32_MAX;
		for (i = 0; i < nd; i++) {
			c = &sb->sb_c[drv[i]];
			if (!c->b_c.bc_end && c->b_c.bc_cid < d)
				d = c->b_c.bc_cid;
		}
		if (d == UINT32_MAX)
			return (0);
		if ((t = search_bc_allowed(ss, sb, d)) == d &&
		    (t = search_bc_leap(sb, ng, d)) == d) {
			sb->sb_cid = d;
			m = 0;
			search_bc_bounds(ss, sb, d, &bs, &bw, &next, &m);
			if (theta >= 0.0 && bw <= theta) {
				ss->ss_pruned = 1;
				t = search_bc_past(ss, sb, theta, next);
			} else if (theta >= 0.0 && bs <= theta) {
				ss->ss_pruned = 1;
				t = d + 1;
			}
		}
		if (t == d) {
			m = 0;
			need = ss->ss_q->q_reqmask;
			if (search_bc_probe(ss, sb, d, 1, &m) == -1)
				return (MDB_CORRUPTED);
			if ((m & need) == need) {
				if (search_bc_probe(ss, sb, d, 0, &m) == -1)
					return (MDB_CORRUPTED);
				search_block_take(ss, sb, m);
			}
			t = d + 1;
		}
		for (i = 0; i < nd; i++) {
			c = &sb->sb_c[drv[i]];
			if (c->b_c.bc_end)
				continue;
			if (t == UINT32_MAX)
				c->b_c.bc_end = 1;
			else if (ixbcur_seek(&c->b_c, t) == -1)
				return (MDB_CORRUPTED);
		}
	}
}

/*
 * The chunks of a set below the folded mark, in cid order (the pass of
 * search_matches): every cursor seeks each chunk, and a chunk with any
 * of the words is taken if it matches.
 */
static int
search_blocks_some(struct sstate *ss, struct sblocks *sb,
    const roaring_bitmap_t *set)
{
	roaring_uint32_iterator_t	 it;
	struct sbcur			*c;
	uint32_t			 m;
	size_t				 i;
	int				 rv;

	for (roaring_init_iterator(set, &it); it.has_value &&
	    it.current_value < ss->ss_folded;
	    roaring_advance_uint32_iterator(&it)) {
		if (search_late(ss))
			return (ETIMEDOUT);
		sb->sb_cid = it.current_value;
		m = 0;
		for (i = 0; i < sb->sb_n; i++) {
			c = &sb->sb_c[i];
			if ((rv = ixbcur_seek(&c->b_c, sb->sb_cid)) == -1)
				return (MDB_CORRUPTED);
			if (rv == 1 && c->b_c.bc_cid == sb->sb_cid) {
				c->b_s = search_bc_score(ss, c);
				m |= 1U << ss->ss_q->q_terms[c->b_term].st_item;
			}
		}
		if (m != 0)
			search_block_take(ss, sb, m);
	}
	return (0);
}

/*
 * Cursors over the filters' terms in the block store, for the pruned
 * walks.  A filter without postings in blocks leaves no chunk there:
 * the walk has nothing to do (sb_n is zeroed).
 */
static int
search_bc_filters(MDB_txn *txn, struct sstate *ss, struct sblocks *sb)
{
	const struct search_opts *so = ss->ss_opts;
	char			 key[IX_TERM_MAX + 1];
	size_t			 i, len;
	int			 rv;

	sb->sb_fcur = 1;
	for (i = 0; i < so->so_nfilters; i++) {
		len = search_filter_key(so, i, key);
		rv = ixbcur_open(&sb->sb_f[sb->sb_nf++], txn, ss->ss_ix, key,
		    len, ss->ss_folded);
		if (rv == 1)
			rv = ixbcur_next(&sb->sb_f[sb->sb_nf - 1]);
		if (rv == -1)
			return (-1);
		if (rv == 0) {
			while (sb->sb_n > 0)
				ixbcur_close(&sb->sb_c[--sb->sb_n].b_c);
			return (0);
		}
	}
	return (0);
}

static int
search_blocks(MDB_txn *txn, struct sstate *ss)
{
	const struct search_opts *so = ss->ss_opts;
	struct squery	*q = ss->ss_q;
	struct sblocks	 sb;
	struct sterm	*st;
	char		 key[IX_TERM_MAX + 1];
	size_t		 k, j, i;
	double		 wbody, wtitle;
	int		 rc = 0;

	if (ss->ss_folded == 0)
		return (0);
	memset(&sb, 0, sizeof(sb));
	sb.sb_ss = ss;
	sb.sb_c = xcalloc(SEARCH_CURSORS_MAX, sizeof(*sb.sb_c));
	for (k = 0; k < q->q_nterms && rc == 0; k++) {
		st = &q->q_terms[k];
		wbody = q->q_items[st->st_item].si_excluded ? 0.0 :
		    so->so_wbody;
		wtitle = q->q_items[st->st_item].si_excluded ? 0.0 :
		    so->so_wtitle;
		if (!st->st_prefix) {
			rc = search_bc_add(txn, ss, &sb, st->st_key,
			    st->st_len, k, 1, wbody);
			memcpy(key, st->st_key, st->st_len);
			key[0] = IX_TITLE;
			if (rc == 0)
				rc = search_bc_add(txn, ss, &sb, key,
				    st->st_len, k, 0, wtitle);
			continue;
		}
		for (j = 0; st->st_exp != NULL && j < st->st_exp->x_n &&
		    rc == 0; j++)
			rc = search_bc_add(txn, ss, &sb, st->st_exp->x_term[j],
			    st->st_exp->x_len[j], k, 1, wbody);
	}
	if (rc == 0 && sb.sb_n > 0 && search_pruning(ss))
		rc = search_bc_filters(txn, ss, &sb);
	if (rc == 0 && sb.sb_n > 0) {
		if (ss->ss_counting)
			rc = search_blocks_some(ss, &sb, ss->ss_filter);
		else if (!search_pruning(ss))
			rc = search_blocks_all(ss, &sb);
		else if (q->q_reqmask == 0)
			rc = search_blocks_topk(ss, &sb);
		else
			rc = search_blocks_and(ss, &sb);
	}
	for (i = 0; i < sb.sb_n; i++)
		ixbcur_close(&sb.sb_c[i].b_c);
	for (i = 0; i < sb.sb_nf; i++)
		ixbcur_close(&sb.sb_f[i]);
	free(sb.sb_c);
	return (rc == -1 ? MDB_CORRUPTED : rc);
}

/* Snippets: the chunk's text around its first match, matches marked. */

struct ssnip {
	const struct squery	*sn_q;
	uint32_t		 sn_off[32];
	uint32_t		 sn_len[32];
	size_t			 sn_n;
};

static int
search_snip_token(const struct token *t, void *arg)
{
	struct ssnip		*sn = arg;
	const struct sterm	*st;
	size_t			 i;

	for (i = 0; i < sn->sn_q->q_nterms; i++) {
		st = &sn->sn_q->q_terms[i];
		if (sn->sn_q->q_items[st->st_item].si_excluded)
			continue;
		if (st->st_prefix ? t->t_len >= st->st_len - 1 &&
		    memcmp(t->t_text, st->st_key + 1, st->st_len - 1) == 0 :
		    t->t_len == st->st_len - 1 &&
		    memcmp(t->t_text, st->st_key + 1, t->t_len) == 0) {
			sn->sn_off[sn->sn_n] = t->t_off;
			sn->sn_len[sn->sn_n] = t->t_srclen;
			if (++sn->sn_n == 32)
				return (1);
			break;
		}
	}
	return (0);
}

static size_t
search_cp(const char *t, size_t pos, size_t len)
{
	while (pos < len && ((unsigned char)t[pos] & 0xc0) == 0x80)
		pos++;
	return (pos);
}

/* Copy b into dst (size dstlen) cut at a code point; the length kept. */
static size_t
search_snip_copy(char *dst, size_t dstlen, const struct buf *b)
{
	size_t	 p;

	p = b->b_len < dstlen - 1 ? b->b_len : dstlen - 1;
	while (p > 0 && p < b->b_len &&
	    ((unsigned char)b->b_data[p] & 0xc0) == 0x80)
		p--;
	memcpy(dst, b->b_data, p);
	dst[p] = '\0';
	return (p);
}

/*
 * The snippet twice: with the matches between "**" marks (sh_snippet,
 * for a terminal) and plain, with the matches as byte ranges of it
 * (sh_text and sh_hl, for a program).
 */
static void
search_snippet(struct sstate *ss, const char *text, size_t len,
    struct search_hit *h)
{
	struct ssnip	 sn;
	struct buf	 out, plain;
	size_t		 start = 0, end, p, i, kept;

	memset(&sn, 0, sizeof(sn));
	sn.sn_q = ss->ss_q;
	tokenizer_run(ss->ss_tk, text, len, 0, search_snip_token, &sn);
	if (sn.sn_n > 0 && sn.sn_off[0] > SEARCH_SNIPPET / 4) {
		start = sn.sn_off[0] - SEARCH_SNIPPET / 4;
		while (start < sn.sn_off[0] && text[start] != ' ')
			start++;
		start = search_cp(text, start, len);
	}
	end = start + SEARCH_SNIPPET < len ? start + SEARCH_SNIPPET : len;
	end = search_cp(text, end, len);
	buf_init(&out);
	buf_init(&plain);
	if (start > 0) {
		buf_addstr(&out, "...");
		buf_addstr(&plain, "...");
	}
	h->sh_nhl = 0;
	for (p = start, i = 0; p < end; ) {
		while (i < sn.sn_n && sn.sn_off[i] < p)
			i++;
		if (i < sn.sn_n && sn.sn_off[i] == p &&
		    p + sn.sn_len[i] <= end) {
			buf_addstr(&out, "**");
			buf_add(&out, text + p, sn.sn_len[i]);
			buf_addstr(&out, "**");
			if (h->sh_nhl < SEARCH_HL_MAX) {
				h->sh_hl_off[h->sh_nhl] = plain.b_len;
				h->sh_hl_len[h->sh_nhl++] = sn.sn_len[i];
			}
			buf_add(&plain, text + p, sn.sn_len[i]);
			p += sn.sn_len[i];
			continue;
		}
		buf_addc(&out, text[p] == '\n' || text[p] == '\t' ? ' ' :
		    text[p]);
		buf_addc(&plain, text[p] == '\n' || text[p] == '\t' ? ' ' :
		    text[p]);
		p++;
	}
	if (end < len) {
		buf_addstr(&out, "...");
		buf_addstr(&plain, "...");
	}
	/* Cut at a code point if the marks made it too long. */
	search_snip_copy(h->sh_snippet, sizeof(h->sh_snippet), &out);
	kept = search_snip_copy(h->sh_text, sizeof(h->sh_text), &plain);
	while (h->sh_nhl > 0 && h->sh_hl_off[h->sh_nhl - 1] +
	    h->sh_hl_len[h->sh_nhl - 1] > kept)
		h->sh_nhl--;
	buf_free(&out);
	buf_free(&plain);
}

/*
 * A chunk's record: its document, its place and heading, its text in
 * text (inited here, to be freed) unless damaged (IXREC_ETEXT).
 */
static int
search_chunk(MDB_txn *txn, struct sstate *ss, uint32_t cid, uint64_t *docid,
    struct ixchunk *ck, struct buf *text)
{
	uint8_t		 kb[4];
	MDB_val		 k = { 4, kb }, v;
	int		 rc;

	buf_init(text);
	util_put_be32(kb, cid);
	if ((rc = mdb_get(txn, index_dbi(ss->ss_ix, IDB_CHUNKS), &k, &v)) != 0)
		return (rc);
	return (ixrec_chunk_decode(txn, ss->ss_ix, v.mv_data, v.mv_size, docid,
	    ck, text));
}

/* A document's record. */
static int
search_doc(MDB_txn *txn, struct sstate *ss, uint64_t docid, struct ixdoc *d)
{
	uint8_t		 kb[8];
	MDB_val		 k = { 8, kb }, v;
	int		 rc;

	util_put_be64(kb, docid);
	if ((rc = mdb_get(txn, index_dbi(ss->ss_ix, IDB_DOCS), &k, &v)) != 0)
		return (rc);
	if (index_doc_decode(v.mv_data, v.mv_size, d) == -1)
		return (MDB_CORRUPTED);
	return (0);
}

/* Fill a hit from its chunk and document records. */
static int
search_fill(MDB_txn *txn, struct sstate *ss, struct search_hit *h)
{
	struct ixdoc	 d;
	struct ixchunk	 ck;
	struct buf	 text;
	uint64_t	 docid;
	int		 rc;

	rc = search_chunk(txn, ss, h->sh_cid, &docid, &ck, &text);
	if (rc != 0 && rc != IXREC_ETEXT) {
		buf_free(&text);
		return (rc);
	}
	h->sh_chunk = ck.ck_index;
	strlcpy(h->sh_heading, ck.ck_heading, sizeof(h->sh_heading));
	if (rc == 0)
		search_snippet(ss, text.b_data, text.b_len, h);
	buf_free(&text);
	if ((rc = search_doc(txn, ss, docid, &d)) != 0)
		return (rc);
	strlcpy(h->sh_extid, d.d_extid, sizeof(h->sh_extid));
	strlcpy(h->sh_title, d.d_title, sizeof(h->sh_title));
	return (0);
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
search_seg_count(struct sstate *ss, const struct ixseg *seg)
{
	uint64_t	 base = seg->s_hdr->h_base;

	if (roaring_bitmap_range_cardinality(ss->ss_filter, base,
	    base + seg->s_hdr->h_nchunks) == 0)
		return (0);
	return (search_seg(ss, seg));
}

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
			roaring_bitmap_free(sf.sf_set);
			return (rc);
		}
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
