/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The block store (index_block.c), document at a time: a cursor per
 * term and field (per expansion for a prefix), moved together in cid
 * order, below the folded mark.  Scores are summed in the segments'
 * order (terms in query order, text before title), in a float as the
 * segments' accumulators are, so a chunk scores the same folded or not.
 *
 * Each field has its cursor; a cursor alone is bounded by what its
 * field alone adds, and BM25 is subadditive, so the sum of those bounds
 * the word.  The walk prunes by the blocks' bounds: for a query without
 * required items, MaxScore over them (search_blocks_topk); with
 * required words, AND or phrases, the required group with the fewest
 * postings drives and the others leap over blocks that cannot hold its
 * chunks (search_blocks_and).  In both, exclusions, filters and
 * tombstones are tests on the chunk at hand, made before its postings
 * are decoded.  Unpruned, every chunk with any of the words is looked
 * at (search_blocks_all), or, for search_matches' pass, every chunk of
 * a set (search_blocks_some).
 */

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"
#include "search.h"

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
search_block_bound(struct sstate *ss, const struct ixbound *b, double fw)
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
		c->b_bub = c->b_w * search_block_bound(ss,
		    &c->b_c.bc_hdr.bh_bound, c->b_fw) * (1.0 + 1e-9);
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
	c->b_ub = c->b_w * search_block_bound(ss, &ti.ti_bound, w) *
	    (1.0 + 1e-9);
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
search_block_theta(const struct sstate *ss)
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
		theta = search_block_theta(ss);
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

/* The lowest chunk the driver's cursors are at; UINT32_MAX at their end. */
static uint32_t
search_bc_drvmin(const struct sblocks *sb, const size_t *drv, size_t nd)
{
	const struct sbcur	*c;
	uint32_t		 d = UINT32_MAX;
	size_t			 i;

	for (i = 0; i < nd; i++) {
		c = &sb->sb_c[drv[i]];
		if (!c->b_c.bc_end && c->b_c.bc_cid < d)
			d = c->b_c.bc_cid;
	}
	return (d);
}

/*
 * What the cursors outside the driving group may add to a chunk from d
 * up to *lim, after search_bc_bounds has moved each to the block that
 * may hold d (or onto its first posting at or past d): the bound of
 * each one's block, to the end of the first of them.  A cursor whose
 * next posting (or block) is after d adds nothing before it, and ends
 * the range there.
 */
static double
search_bc_rest(struct sstate *ss, struct sblocks *sb, int group, uint32_t d,
    uint32_t *lim)
{
	struct sbcur	*c;
	double		 rest = 0.0;
	uint32_t	 at;
	size_t		 i;

	*lim = UINT32_MAX;
	for (i = 0; i < sb->sb_n; i++) {
		c = &sb->sb_c[i];
		if (c->b_group == group || c->b_w == 0.0 || c->b_c.bc_end)
			continue;
		if (c->b_c.bc_first > d ||
		    (c->b_c.bc_at > 0 && c->b_c.bc_cid > d)) {
			at = c->b_c.bc_at > 0 ? c->b_c.bc_cid :
			    c->b_c.bc_first;
			if (at - 1 < *lim)
				*lim = at - 1;
			continue;
		}
		rest += search_bc_blockub(ss, c);
		if (c->b_c.bc_hdr.bh_last < *lim)
			*lim = c->b_c.bc_hdr.bh_last;
	}
	return (rest);
}

/*
 * The driver's chunk d cannot beat theta: step the driver alone over
 * its next chunks whose exact score, with what the other cursors'
 * blocks allow (search_bc_rest), cannot beat theta either, with none
 * of the work of a proposed chunk, until the others' blocks change.
 * *t gets the first chunk the driver proposes after that (UINT32_MAX
 * at its end); -1 on a damaged block.
 */
static int
search_bc_drive(struct sstate *ss, struct sblocks *sb, const size_t *drv,
    size_t nd, uint32_t d, double theta, uint32_t *t)
{
	struct sbcur	*c;
	double		 rest, s;
	uint32_t	 lim;
	size_t		 i, n;

	rest = search_bc_rest(ss, sb, sb->sb_c[drv[0]].b_group, d, &lim);
	for (n = 0;; n++) {
		for (i = 0; i < nd; i++) {
			c = &sb->sb_c[drv[i]];
			if (search_bc_at(c, d) && ixbcur_next(&c->b_c) == -1)
				return (-1);
		}
		*t = search_bc_drvmin(sb, drv, nd);
		if (*t == UINT32_MAX || *t > lim ||
		    ((n & 63) == 63 && search_late(ss)))
			return (0);
		d = *t;
		s = rest;
		for (i = 0; i < nd; i++) {
			c = &sb->sb_c[drv[i]];
			if (search_bc_at(c, d))
				s += search_bc_score(ss, c);
		}
		if (s > theta)
			return (0);
	}
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
		theta = search_block_theta(ss);
		if ((d = search_bc_drvmin(sb, drv, nd)) == UINT32_MAX)
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
				if (search_bc_drive(ss, sb, drv, nd, d, theta,
				    &t) == -1)
					return (MDB_CORRUPTED);
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

/*
 * The query's chunks below the folded mark: a cursor per key of the
 * query, then the walk the search calls for (search_matches' pass,
 * every match, or the top k pruned as the query's shape allows).
 */
int
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
