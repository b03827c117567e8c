/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The search's own declarations, apart from quire.h, which every file
 * includes: the state of one search (struct sstate), which search.c
 * sets up and the files below it share, and what those files offer.
 * Calls run downward: search.c calls the two walks that score a
 * query's chunks, over the block store (search_block.c) and over the
 * segments (search_seg.c), and the filling of hits (search_snip.c); the
 * walks call what both share (search_score.c), which calls none of
 * them.
 */

#ifndef QUIRE_SEARCH_H
#define QUIRE_SEARCH_H

#include <roaring/roaring.h>

#define SEARCH_NORMS		1024	/* lengths with BM25's norm in a table */

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

/*
 * One search: set up by search.c (search_do, search_txn), then read and
 * updated by the walks as they score the query's chunks.
 */
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

/* search_score.c */
/* Where a phrase word occurs in the chunk at hand, wherever it is kept. */
typedef void (*search_pos_fn)(void *, size_t, uint32_t *, size_t, size_t *);
int		 search_pruning(const struct sstate *);
int		 search_late(struct sstate *);
size_t		 search_filter_key(const struct search_opts *, size_t, char *);
double		 search_norm_of(const struct sstate *, uint32_t);
double		 search_bm25(struct sstate *, double, double, uint32_t);
int		 search_passes(struct sstate *, uint32_t, search_pos_fn,
		    void *);
void		 search_heap_push(struct sstate *, uint32_t, double);

/* search_seg.c */
int		 search_seg(struct sstate *, const struct ixseg *);
int		 search_seg_count(struct sstate *, const struct ixseg *);
void		 search_seg_free(struct sscratch *);

/* search_block.c */
int		 search_blocks(MDB_txn *, struct sstate *);

/* search_snip.c */
int		 search_chunk(MDB_txn *, struct sstate *, uint32_t, uint64_t *,
		    struct ixchunk *, struct buf *);
int		 search_doc(MDB_txn *, struct sstate *, uint64_t,
		    struct ixdoc *);
int		 search_fill(MDB_txn *, struct sstate *, struct search_hit *);

#endif
