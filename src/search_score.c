/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What both walks over a query's chunks share, the segments' term at a
 * time (search_seg.c) and the block store's document at a time
 * (search_block.c), so that a chunk scores and matches the same
 * whichever holds it: BM25F of a word's weighted tf (search_bm25), the
 * length norms of short chunks from a table each search makes; the test
 * of a chunk's words against the query, phrases by their positions
 * wherever the walk keeps them (search_passes); a match handed on to
 * the top n, the set of matches or the counting pass
 * (search_heap_push); whether a walk may prune; the clock of the time
 * budget (search_late); and the key of a filter's term.  It calls none
 * of the other search files.
 */

#include <sys/types.h>

#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"
#include "search.h"

/*
 * Top n with pruning, or every match (--exact, no hits asked for,
 * facets over few postings, counting matches)?
 */
int
search_pruning(const struct sstate *ss)
{
	return (!ss->ss_opts->so_exact && ss->ss_k > 0 && !ss->ss_noprune &&
	    !ss->ss_counting);
}

/* Past the time budget?  Once late, late for good. */
int
search_late(struct sstate *ss)
{
	if (ss->ss_deadline == 0 || ss->ss_late)
		return (ss->ss_late);
	if ((++ss->ss_steps & 1023) == 0 && util_mono_ms() >= ss->ss_deadline)
		ss->ss_late = 1;
	return (ss->ss_late);
}

/* The key of the i-th filter's term; its length. */
size_t
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

/*
 * A chunk that matches: to the top n (search_top.c), to the set of
 * matches when facets want it, or, in search_matches' pass, to its
 * document's count.  An error reading records ends the walk as the
 * deadline does, and search_txn returns it.
 */
void
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
double
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
double
search_bm25(struct sstate *ss, double idf, double wtf, uint32_t dl)
{
	const struct search_opts *so = ss->ss_opts;

	if (wtf <= 0.0)
		return (0.0);
	return (idf * wtf * (so->so_k1 + 1.0) / (wtf + search_norm(ss, dl)));
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
int
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
