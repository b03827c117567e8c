/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The segments, term at a time: each segment is scored on its own,
 * each word's postings in turn into accumulators as long as the segment
 * (search_seg).  The per-chunk arrays (struct sscratch) are reused
 * between segments and kept from one search to the next (search.c's
 * search_scratch), each entry set back to 0 once its chunk is done.
 * When the query has required items, only the chunks of its rarest
 * required group in the segment are scored (search_seg_cands); when it
 * has none, once the top n is full, only the chunks of the words that
 * could lift a chunk into it (search_seg_strong).  The other words'
 * postings of other chunks are passed over by the cursor itself
 * (ixpost_next_marked).  A phrase word's positions are remembered by
 * chunk as its postings are read (ss_pl), for the phrase to be checked
 * once every word is in.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"
#include "search.h"

#define SEARCH_GATE_CAND	1	/* search_post: candidates only */
#define SEARCH_GATE_TOUCHED	2	/* chunks other words have */
/* Keys of one item: text and title of each word, expansions of the last. */
#define SEARCH_KEYS_MAX		(2 * SEARCH_TERMS_MAX + SEARCH_PREFIX_MAX)
#define SEARCH_MOST_SLACK	(1.0 + 1e-5)	/* bounds against rounding */

static void
search_touch(struct sstate *ss, uint32_t local)
{
	if (ss->ss_sc.sc_mask[local] == 0 && ss->ss_sc.sc_acc[local] == 0.0f)
		ss->ss_sc.sc_touched[ss->ss_ntouched++] = local;
}

/*
 * The next posting through the gate (search_post): of a candidate, the
 * others passed over by the cursor itself; of any chunk, to be told by
 * search_gated.
 */
static int
search_next(const struct sstate *ss, struct ixpost *p, int gate)
{
	if (gate == SEARCH_GATE_CAND)
		return (ixpost_next_marked(p, ss->ss_sc.sc_cand));
	return (ixpost_next(p));
}

/* Is the chunk out of the gate (search_post)? */
static int
search_gated(const struct sstate *ss, uint32_t local, int gate)
{
	return (gate == SEARCH_GATE_TOUCHED && ss->ss_sc.sc_mask[local] == 0);
}

/* Keep a word's title tf by chunk (sc_ttf), for its text to take. */
static int
search_post_title(struct sstate *ss, const struct ixseg *seg, uint32_t term,
    int gate)
{
	struct sscratch	*sc = &ss->ss_sc;
	struct ixpost	 p;
	int		 rv;

	ixpost_init(&p, seg, term);
	while ((rv = search_next(ss, &p, gate)) == 1) {
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
	const uint8_t	*at;
	uint32_t	 local;
	size_t		 len;
	double		 wtf;
	int		 rv;

	ixpost_init(&p, seg, term);
	while ((rv = search_next(ss, &p, gate)) == 1) {
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
		if ((at = ixpost_posbuf(&p, &len)) == NULL)
			return (-1);
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
		pl->pl_pos[pl->pl_n] = at;
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

/* Mark the chunks of the keys f[0..nf) as candidates; -1 if damaged. */
static int
search_cands_mark(struct sstate *ss, const struct ixseg *seg,
    const int64_t *f, size_t nf)
{
	struct sscratch	*sc = &ss->ss_sc;
	struct ixpost	 p;
	size_t		 i;
	int		 rv;

	if (sc->sc_cand == NULL) {
		sc->sc_cand = xcalloc(sc->sc_cap, sizeof(*sc->sc_cand));
		sc->sc_cands = xcalloc(sc->sc_cap, sizeof(*sc->sc_cands));
	}
	for (i = 0; i < nf; i++) {
		ixpost_init(&p, seg, f[i]);
		while ((rv = ixpost_next(&p)) == 1)
			if (ss->ss_filter == NULL ||
			    roaring_bitmap_contains(ss->ss_filter, p.p_cid))
				search_cand_add(ss, p.p_local);
		if (rv == -1)
			return (-1);
	}
	return (0);
}

/*
 * The most a query word can add to a chunk's score in the segment: each
 * of its keys there at most idf (k1 + 1), BM25 saturating below it, its
 * text and title counting once together (BM25F), each expansion of a
 * prefix on its own; nothing for an excluded word.
 */
static double
search_seg_most(const struct sstate *ss, const struct sterm *st)
{
	size_t	 j, n = 0;

	if (ss->ss_q->q_items[st->st_item].si_excluded)
		return (0.0);
	if (!st->st_prefix)
		n = st->st_fbody >= 0 || st->st_ftitle >= 0;
	for (j = 0; st->st_prefix && st->st_exp != NULL && j < st->st_exp->x_n;
	    j++)
		n += st->st_exp->x_f[j] >= 0;
	return (n * st->st_idf * (ss->ss_opts->so_k1 + 1.0));
}

/*
 * The weakest words, whose most (search_seg_most) sums below theta, in
 * weak; how many of them can score (the others are not in the segment,
 * or excluded).  The sum is kept a little below theta, for the rounding
 * of scores summed in floats.
 */
static size_t
search_seg_weaken(const struct sstate *ss, double theta, double *most,
    uint8_t *weak)
{
	const struct squery	*q = ss->ss_q;
	double			 sum = 0.0;
	size_t			 k, w, nweak = 0, nstrong = q->q_nterms;

	for (k = 0; k < q->q_nterms; k++) {
		most[k] = search_seg_most(ss, &q->q_terms[k]);
		weak[k] = most[k] == 0.0;
		nstrong -= weak[k];
	}
	for (; nstrong > 0; nstrong--, nweak++) {
		for (k = 0, w = q->q_nterms; k < q->q_nterms; k++)
			if (!weak[k] && (w == q->q_nterms || most[k] < most[w]))
				w = k;
		if ((sum + most[w]) * SEARCH_MOST_SLACK >= theta)
			break;
		sum += most[w];
		weak[w] = 1;
	}
	return (nweak);
}

/*
 * A query without required items, pruned, once the top n is full
 * (MaxScore): the weakest words (search_seg_weaken) cannot bring a
 * chunk into the top n by themselves, so only the chunks of the others
 * are candidates; the weak words still add to those.  Marking the
 * candidates reads the strong words' postings once more, which pays
 * only when the weak words have more.  As search_seg_cands: 1, 0, -1,
 * or -2 if damaged.
 */
static int
search_seg_strong(struct sstate *ss, const struct ixseg *seg)
{
	const struct search_opts *so = ss->ss_opts;
	struct squery	*q = ss->ss_q;
	double		 most[SEARCH_TERMS_MAX], theta;
	int64_t		 f[SEARCH_KEYS_MAX];
	uint64_t	 df[2] = { 0, 0 };	/* strong, weak */
	uint8_t		 weak[SEARCH_TERMS_MAX];
	size_t		 k, nf;

	if (!search_pruning(ss) || q->q_reqmask != 0 || so->so_k1 < 0.0 ||
	    so->so_b < 0.0 || so->so_b > 1.0 ||
	    (theta = search_top_theta(&ss->ss_top)) <= 0.0 ||
	    search_seg_weaken(ss, theta, most, weak) == 0)
		return (0);
	for (k = 0; k < q->q_nterms; k++)
		if (most[k] > 0.0)
			df[weak[k]] += search_seg_df(seg, &q->q_terms[k], 1,
			    f, &nf);
	if (df[1] <= df[0])
		return (0);
	ss->ss_pruned = 1;
	for (k = 0; k < q->q_nterms; k++) {
		if (weak[k])
			continue;
		search_seg_df(seg, &q->q_terms[k], 1, f, &nf);
		if (search_cands_mark(ss, seg, f, nf) == -1)
			return (-2);
	}
	return (ss->ss_ncands > 0 ? 1 : -1);
}

/*
 * The chunks of a segment that may match, when the query narrows them:
 * a chunk must have every required group (as search_bc_groups has it:
 * a required word in its text or title, a required prefix by any
 * expansion, each word of a phrase in its text) and pass the filter.
 * The group with the fewest postings in the segment marks them
 * (sc_cand), within the filter.  1: marked; 0: no required group, every
 * chunk may match; -1: no chunk of the segment can match.
 */
static int
search_seg_cands(struct sstate *ss, const struct ixseg *seg)
{
	struct squery		*q = ss->ss_q;
	struct sterm		*st;
	int64_t			 f[SEARCH_KEYS_MAX], bf[SEARCH_KEYS_MAX];
	uint64_t		 df, best = UINT64_MAX, itemdf[SEARCH_ITEMS_MAX];
	size_t			 k, i, nf, nk, nbf = 0;
	int			 item;

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
		return (search_seg_strong(ss, seg));
	if (search_cands_mark(ss, seg, bf, nbf) == -1)
		return (-2);
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

/*
 * A touched chunk of the segment, its words all in: to the top n if it
 * matches.  Without phrases, the test of its marks is all search_passes
 * would do.  Pruning, a chunk of a query with phrases whose score the
 * heap would not take has its phrases left unchecked (the costly part):
 * it cannot change the top n, and the total is then a lower bound.
 */
static void
search_seg_offer(struct sstate *ss, const struct ixseg *seg, uint32_t local)
{
	struct squery	*q = ss->ss_q;
	struct sseg_pos	 sp;
	uint32_t	 m = ss->ss_sc.sc_mask[local], cid;
	float		 score = ss->ss_sc.sc_acc[local];

	cid = seg->s_hdr->h_base + local;
	if ((m & q->q_reqmask) != q->q_reqmask ||
	    (m & q->q_exmask) != 0 || (m & ~q->q_negmask) == 0)
		return;
	if (q->q_nphrases > 0 && search_pruning(ss) &&
	    !search_heap_takes(ss, cid, score)) {
		ss->ss_pruned = 1;
		return;
	}
	sp.sp_ss = ss;
	sp.sp_seg = seg;
	sp.sp_local = local;
	if ((q->q_nphrases == 0 || search_passes(ss, m, search_seg_pos, &sp)) &&
	    (ss->ss_filter == NULL ||
	    roaring_bitmap_contains(ss->ss_filter, cid)) &&
	    !roaring_bitmap_contains(ss->ss_tomb, cid)) {
		ss->ss_total++;
		/* Most matches are below the threshold, and go no further. */
		if (ss->ss_counting || ss->ss_set != NULL ||
		    search_heap_takes(ss, cid, score))
			search_heap_push(ss, cid, score);
	}
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
void
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
 * candidates when the query narrows them (search_seg_cands); then each
 * chunk touched is offered to the top n (search_seg_offer).
 */
int
search_seg(struct sstate *ss, const struct ixseg *seg)
{
	struct squery	*q = ss->ss_q;
	struct sscratch	*sc = &ss->ss_sc;
	uint32_t	 n = seg->s_hdr->h_nchunks;
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
	for (k = 0; k < ss->ss_ntouched; k++) {
		search_seg_offer(ss, seg, sc->sc_touched[k]);
		sc->sc_acc[sc->sc_touched[k]] = 0.0f;
		sc->sc_mask[sc->sc_touched[k]] = 0;
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
 * search_matches' pass (search.c): a segment scored as search_seg
 * scores it, if it holds any chunk of the set (ss_filter).
 */
int
search_seg_count(struct sstate *ss, const struct ixseg *seg)
{
	uint64_t	 base = seg->s_hdr->h_base;

	if (roaring_bitmap_range_cardinality(ss->ss_filter, base,
	    base + seg->s_hdr->h_nchunks) == 0)
		return (0);
	return (search_seg(ss, seg));
}
