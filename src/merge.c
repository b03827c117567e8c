/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The merger: folds segments into the block store (index_block.c) and drops
 * dead chunks for good.
 *
 * Workers commit a segment per batch.  Segments of about the same size
 * are merged into bigger ones (size-tiered, as log-structured stores
 * do): a segment's tier is how many times merge_factor (8) its size is
 * above 64 KiB, and when merge_factor neighbouring segments (in cid
 * order) share a tier they are merged into one, which climbs a tier.
 * That keeps the number of segments a search reads small.  No merge
 * makes a segment over MERGE_SEG_MAX (2 GiB), since a segment's offsets
 * are 32 bits: segments that big wait for the fold.  When the
 * segments together reach merge-fold-size, and an eighth of the block
 * store, they are folded into it in one pass: each term's postings, from
 * every segment in cid order, are appended to its blocks of at most 128
 * postings.  Folding the oldest chunks first keeps every term's postings
 * in cid order, and growing the threshold with the store bounds how
 * often each block is rewritten.  A fold runs in slices, each its own
 * write transaction of about FOLD_SLICE bytes or FOLD_SLICE_MS,
 * whichever comes first, so workers' commits never wait long behind it;
 * the segments go, and the folded mark moves past their chunks, in the
 * last slice.  While workers commit, the fold pauses FOLD_GAP_MS between
 * slices: LMDB's write lock is not fair, and a merger that takes it
 * again the moment it lets go would keep the waiting commits out for the
 * whole fold.  The merger looks at its socket between slices and stops
 * folding when an order waits (merge_yield), so a stop waits for one
 * slice, not a whole fold.  A fold cut short (the merger killed, or
 * stopped between slices) is taken up again before anything else (the
 * index's m_folding).
 *
 * Deleted and replaced chunks are left out of what is written; a merge
 * of segments also takes their cids out of the tombstone bitmap in the
 * transaction that drops the segments.  Chunks in blocks stay
 * tombstoned until a sweep has rewritten every block that holds them,
 * which runs when the dead in blocks reach a quarter of the chunks.
 *
 * quirectl compact folds every segment and sweeps.
 */

#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roaring/roaring.h>

#include "quire.h"

#define MERGE_FACTOR	8
#define MERGE_DEAD_PCT	25	/* a segment this dead is rewritten alone */
#define MERGE_TIER0	(64 * 1024)
#define FOLD_SLICE	(16 * 1024 * 1024)	/* bytes written per slice */
#define FOLD_SLICE_MS	100			/* and time spent in one */
#define FOLD_GAP_MS	5	/* while busy, pause between slices */
#define MERGE_QUIET_MS	1000	/* no commit for this long: not busy */
#define MERGE_IDLE_MS	1000	/* nothing to merge: look again after */
#define MERGE_RETRY_MS	5000	/* a failed step (disk full): try after */
#define BUSY_SEGS	64	/* while busy, merge only past this many */
#define FOLD_SEGS	1024	/* segments folded in one pass, at most */
#define BUSY_FOLD	16	/* and fold at this many times the size */
#define PURGE_SLICE	4096			/* blocks looked at per slice */
#define MERGE_SEG_MAX	(1ULL << 31)	/* no merge makes a bigger segment */

struct mseg {
	uint64_t	 ms_id;
	uint32_t	 ms_size;
	uint32_t	 ms_base;
	uint32_t	 ms_nchunks;
	uint64_t	 ms_dead;	/* tombstoned chunks in it */
	int		 ms_tier;
};

static int
merge_tier(uint32_t size)
{
	uint64_t	 s = MERGE_TIER0;
	int		 t = 0;

	while (size > s && t < 16) {
		s *= MERGE_FACTOR;
		t++;
	}
	return (t);
}

struct merge_list_arg {
	struct index	*la_ix;
	struct mseg	*la_segs;
	size_t		 la_n;
	size_t		 la_cap;
	struct ixmeta	 la_meta;
	uint64_t	 la_bdead;	/* tombstoned chunks in blocks */
	uint64_t	 la_bbytes;	/* the block store's pages */
};

static int
merge_list_txn(MDB_txn *txn, void *arg)
{
	struct merge_list_arg	*la = arg;
	struct ixseg		 s;
	MDB_stat		 st;
	roaring_bitmap_t	*tomb;
	MDB_cursor		*c;
	MDB_val			 k, v;
	int			 rc, op = MDB_FIRST;

	la->la_n = 0;
	if ((rc = index_meta_get(txn, la->la_ix, &la->la_meta)) != 0)
		return (rc);
	if ((rc = mdb_cursor_open(txn, index_dbi(la->la_ix, IDB_SEGS), &c))
	    != 0)
		return (rc);
	if ((rc = index_tomb_get(txn, la->la_ix, &tomb)) != 0) {
		mdb_cursor_close(c);
		return (rc);
	}
	la->la_bdead = roaring_bitmap_range_cardinality(tomb, 0,
	    la->la_meta.m_folded);
	if (mdb_stat(txn, index_dbi(la->la_ix, IDB_BLOCKS), &st) == 0)
		la->la_bbytes = (uint64_t)st.ms_psize * (st.ms_leaf_pages +
		    st.ms_branch_pages + st.ms_overflow_pages);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8 || ixseg_open(&s, v.mv_data, v.mv_size) == -1)
			continue;
		if (la->la_n == la->la_cap) {
			la->la_cap = la->la_cap == 0 ? 64 : la->la_cap * 2;
			la->la_segs = xreallocarray(la->la_segs, la->la_cap,
			    sizeof(*la->la_segs));
		}
		la->la_segs[la->la_n].ms_id = util_get_be64(k.mv_data);
		la->la_segs[la->la_n].ms_size = v.mv_size;
		la->la_segs[la->la_n].ms_base = s.s_hdr->h_base;
		la->la_segs[la->la_n].ms_nchunks = s.s_hdr->h_nchunks;
		la->la_segs[la->la_n].ms_dead =
		    roaring_bitmap_range_cardinality(tomb, s.s_hdr->h_base,
		    (uint64_t)s.s_hdr->h_base + s.s_hdr->h_nchunks);
		la->la_segs[la->la_n].ms_tier = merge_tier(v.mv_size);
		la->la_n++;
	}
	roaring_bitmap_free(tomb);
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

struct merge_build_arg {
	struct index		*ba_ix;
	const struct mseg	*ba_segs;
	size_t			 ba_n;
	struct buf		*ba_out;
	roaring_bitmap_t	*ba_dead;	/* dead when we began */
	uint64_t		 ba_purged;
	/* The new segment's parts, laid out by merge_layout. */
	struct ixseg		*ba_seg;	/* the old ones */
	uint32_t		 ba_base;
	uint32_t		 ba_nchunks;
	uint16_t		*ba_norms;
	uint64_t		 ba_tokens;
	struct buf		 ba_dict;
	struct buf		 ba_strs;
	struct buf		 ba_post;
	struct buf		 ba_one;	/* a term's docs */
	struct buf		 ba_pos;	/* and its positions */
};

/* Open the segments; note their dead chunks and the others' lengths. */
static int
merge_open(MDB_txn *txn, struct merge_build_arg *ba)
{
	struct ixseg		*s;
	roaring_bitmap_t	*tomb;
	uint8_t			 kb[8];
	MDB_val			 k, v;
	uint32_t		 i, local;
	size_t			 j;
	int			 rc;

	if ((rc = index_tomb_get(txn, ba->ba_ix, &tomb)) != 0)
		return (rc);
	for (j = 0; j < ba->ba_n; j++) {
		s = &ba->ba_seg[j];
		util_put_be64(kb, ba->ba_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		if ((rc = mdb_get(txn, index_dbi(ba->ba_ix, IDB_SEGS), &k, &v))
		    != 0 || ixseg_open(s, v.mv_data, v.mv_size) == -1) {
			rc = rc != 0 ? rc : MDB_CORRUPTED;
			break;
		}
		for (i = 0; i < s->s_hdr->h_nchunks; i++) {
			local = s->s_hdr->h_base + i - ba->ba_base;
			if (roaring_bitmap_contains(tomb, ba->ba_base + local)) {
				roaring_bitmap_add(ba->ba_dead, ba->ba_base +
				    local);
				continue;
			}
			ba->ba_norms[local] = s->s_norms[i];
			ba->ba_tokens += ba->ba_norms[local];
		}
	}
	roaring_bitmap_free(tomb);
	return (rc);
}

/*
 * The walk's term from every segment that has it, dead chunks left out:
 * its postings, with cids from the new base, their docs in ba_one and
 * their positions in ba_pos (QSG2); *df of them.
 */
static int
merge_term(struct merge_build_arg *ba, const struct ixwalk *w, uint32_t *df)
{
	struct ixpost	 p;
	const uint8_t	*c, *end;
	uint32_t	 local, last = 0, i;
	uint64_t	 pos;
	size_t		 j, len;
	int		 rv;

	buf_reset(&ba->ba_one);
	buf_reset(&ba->ba_pos);
	*df = 0;
	for (j = 0; j < w->w_nsame; j++) {
		ixpost_init(&p, w->w_same[j]->wc_seg, w->w_same[j]->wc_term);
		while ((rv = ixpost_next(&p)) == 1) {
			if (roaring_bitmap_contains(ba->ba_dead, p.p_cid))
				continue;
			local = p.p_cid - ba->ba_base;
			ix_varint(&ba->ba_one, *df == 0 ? local : local - last);
			ix_varint(&ba->ba_one, p.p_tf);
			if ((c = ixpost_posbuf(&p, &len)) == NULL)
				return (MDB_CORRUPTED);
			for (end = c + len, i = 0; i < p.p_tf; i++) {
				if (ix_getvarint(&c, end, &pos) == -1)
					return (MDB_CORRUPTED);
				ix_varint(&ba->ba_pos, pos);
			}
			last = local;
			(*df)++;
		}
		if (rv == -1)
			return (MDB_CORRUPTED);
	}
	return (0);
}

/* Lay the new segment out as index_batch.c does, offsets made absolute. */
static int
merge_layout(struct merge_build_arg *ba)
{
	struct ixseghdr		 h;
	struct ixsegterm	 e;
	size_t			 n;

	memset(&h, 0, sizeof(h));
	memcpy(h.h_magic, IXSEG_MAGIC, 4);
	h.h_nchunks = ba->ba_nchunks;
	h.h_nterms = ba->ba_dict.b_len / sizeof(e);
	h.h_base = ba->ba_base;
	h.h_tokens = ba->ba_tokens;
	h.h_norms = sizeof(h);
	h.h_dict = h.h_norms + ((ba->ba_nchunks * 2 + 7) & ~7U);
	h.h_strs = h.h_dict + ba->ba_dict.b_len;
	h.h_post = h.h_strs + ((ba->ba_strs.b_len + 7) & ~7U);
	if ((uint64_t)h.h_post + ba->ba_post.b_len + 7 > UINT32_MAX)
		return (STORE_ENOIDS);	/* offsets are 32 bits */
	h.h_size = (h.h_post + ba->ba_post.b_len + 7) & ~7U;
	buf_reset(ba->ba_out);
	buf_reserve(ba->ba_out, h.h_size);
	memset(ba->ba_out->b_data, 0, h.h_size);
	memcpy(ba->ba_out->b_data, &h, sizeof(h));
	memcpy(ba->ba_out->b_data + h.h_norms, ba->ba_norms,
	    ba->ba_nchunks * 2);
	for (n = 0; n < h.h_nterms; n++) {
		memcpy(&e, ba->ba_dict.b_data + n * sizeof(e), sizeof(e));
		e.e_str += h.h_strs;
		e.e_post += h.h_post;
		memcpy(ba->ba_out->b_data + h.h_dict + n * sizeof(e), &e,
		    sizeof(e));
	}
	memcpy(ba->ba_out->b_data + h.h_strs, ba->ba_strs.b_data,
	    ba->ba_strs.b_len);
	memcpy(ba->ba_out->b_data + h.h_post, ba->ba_post.b_data,
	    ba->ba_post.b_len);
	ba->ba_out->b_len = h.h_size;
	return (0);
}

/* Merge the segments into one, in ba_out, in a read transaction. */
static int
merge_build_txn(MDB_txn *txn, void *arg)
{
	struct merge_build_arg	*ba = arg;
	const struct mseg	*lastseg = &ba->ba_segs[ba->ba_n - 1];
	struct ixsegterm	 e;
	struct ixwalk		 w;
	uint32_t		 df;
	int			 rc;

	ba->ba_base = ba->ba_segs[0].ms_base;
	ba->ba_nchunks = lastseg->ms_base + lastseg->ms_nchunks - ba->ba_base;
	ba->ba_seg = xcalloc(ba->ba_n, sizeof(*ba->ba_seg));
	ba->ba_norms = xcalloc(ba->ba_nchunks + 1, sizeof(*ba->ba_norms));
	ba->ba_tokens = 0;
	buf_init(&ba->ba_dict);
	buf_init(&ba->ba_strs);
	buf_init(&ba->ba_post);
	buf_init(&ba->ba_one);
	buf_init(&ba->ba_pos);
	ba->ba_dead = roaring_bitmap_create();
	memset(&w, 0, sizeof(w));
	if ((rc = merge_open(txn, ba)) != 0)
		goto out;
	ba->ba_purged = roaring_bitmap_get_cardinality(ba->ba_dead);
	ixwalk_init(&w, ba->ba_seg, ba->ba_n, NULL, 0);
	while (ixwalk_next(&w)) {
		if ((rc = merge_term(ba, &w, &df)) != 0)
			goto out;
		if (df == 0)
			continue;	/* only dead chunks had it */
		memset(&e, 0, sizeof(e));
		e.e_str = ba->ba_strs.b_len;
		e.e_post = ba->ba_post.b_len;
		e.e_df = df;
		e.e_len = w.w_tl;
		buf_add(&ba->ba_dict, &e, sizeof(e));
		buf_add(&ba->ba_strs, w.w_t, w.w_tl);
		ix_varint(&ba->ba_post, ba->ba_one.b_len);
		buf_add(&ba->ba_post, ba->ba_one.b_data, ba->ba_one.b_len);
		buf_add(&ba->ba_post, ba->ba_pos.b_data, ba->ba_pos.b_len);
	}
	rc = merge_layout(ba);
out:
	ixwalk_free(&w);
	free(ba->ba_seg);
	free(ba->ba_norms);
	buf_free(&ba->ba_dict);
	buf_free(&ba->ba_strs);
	buf_free(&ba->ba_post);
	buf_free(&ba->ba_one);
	buf_free(&ba->ba_pos);
	return (rc);
}

struct merge_swap_arg {
	struct index		*sa_ix;
	const struct mseg	*sa_segs;
	size_t			 sa_n;
	struct buf		*sa_out;
	roaring_bitmap_t	*sa_dead;
	uint64_t		 sa_purged;
	int			 sa_stale;
};

static int
merge_swap_txn(MDB_txn *txn, void *arg)
{
	struct merge_swap_arg	*sa = arg;
	struct ixmeta		 m;
	roaring_bitmap_t	*tomb;
	uint8_t			 kb[8];
	MDB_val			 k, v;
	size_t			 j;
	int			 rc;

	sa->sa_stale = 0;
	/* A segment being folded (by another merger) is left alone. */
	if ((rc = index_meta_get(txn, sa->sa_ix, &m)) != 0)
		return (rc);
	for (j = 0; j < sa->sa_n; j++)
		if (sa->sa_segs[j].ms_base < m.m_folding) {
			sa->sa_stale = 1;
			return (0);
		}
	for (j = 0; j < sa->sa_n; j++) {
		util_put_be64(kb, sa->sa_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		rc = mdb_get(txn, index_dbi(sa->sa_ix, IDB_SEGS), &k, &v);
		if (rc == MDB_NOTFOUND || (rc == 0 &&
		    v.mv_size != sa->sa_segs[j].ms_size)) {
			sa->sa_stale = 1;	/* someone merged first */
			return (0);
		}
		if (rc != 0)
			return (rc);
	}
	for (j = 0; j < sa->sa_n; j++) {
		util_put_be64(kb, sa->sa_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		if (j == 0) {
			v.mv_size = sa->sa_out->b_len;
			v.mv_data = sa->sa_out->b_data;
			rc = mdb_put(txn, index_dbi(sa->sa_ix, IDB_SEGS), &k,
			    &v, 0);
		} else
			rc = mdb_del(txn, index_dbi(sa->sa_ix, IDB_SEGS), &k,
			    NULL);
		if (rc != 0)
			return (rc);
	}
	if ((rc = index_tomb_get(txn, sa->sa_ix, &tomb)) != 0)
		return (rc);
	roaring_bitmap_andnot_inplace(tomb, sa->sa_dead);
	rc = index_tomb_put(txn, sa->sa_ix, tomb);
	roaring_bitmap_free(tomb);
	if (rc != 0)
		return (rc);
	return (index_meta_merged(txn, sa->sa_ix, sa->sa_purged,
	    sa->sa_n - 1));
}

/* Merge segs[0..n) into one; 1 if done, 0 if someone beat us, -1. */
static int
merge_run(struct index *ix, const struct mseg *segs, size_t n)
{
	struct merge_build_arg	 ba;
	struct merge_swap_arg	 sa;
	struct buf		 out;
	int			 rc;

	buf_init(&out);
	memset(&ba, 0, sizeof(ba));
	ba.ba_ix = ix;
	ba.ba_segs = segs;
	ba.ba_n = n;
	ba.ba_out = &out;
	rc = store_read(&ix->ix_store, merge_build_txn, &ba);
	if (rc != 0) {
		log_warnx("merge: reading %zu segments: %s", n,
		    mdb_strerror(rc));
		if (ba.ba_dead != NULL)
			roaring_bitmap_free(ba.ba_dead);
		buf_free(&out);
		return (-1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_ix = ix;
	sa.sa_segs = segs;
	sa.sa_n = n;
	sa.sa_out = &out;
	sa.sa_dead = ba.ba_dead;
	sa.sa_purged = ba.ba_purged;
	rc = store_write(&ix->ix_store, merge_swap_txn, &sa);
	roaring_bitmap_free(ba.ba_dead);
	if (rc != 0) {
		log_warnx("merge: %s", mdb_strerror(rc));
		buf_free(&out);
		return (-1);
	}
	if (!sa.sa_stale)
		log_debug("merge: %zu segments from %llu, %zu bytes, %llu dead "
		    "chunks purged", n, (unsigned long long)segs[0].ms_id,
		    out.b_len, (unsigned long long)ba.ba_purged);
	buf_free(&out);
	return (sa.sa_stale ? 0 : 1);
}

/*
 * store_write runs a slice again after MDB_MAP_FULL: what a slice does
 * to the fold's state (its place, its counts) is kept apart, from
 * merge_slice_begin, and taken only once the slice has committed
 * (merge_slice_done).
 */
struct merge_fold_arg {
	struct index		*fa_ix;
	const struct mseg	*fa_segs;	/* the run, oldest first */
	size_t			 fa_n;
	struct buf		 fa_from;	/* the last term committed */
	struct buf		 fa_next;	/* the slice's: the last done */
	int			 fa_done;
	int			 fa_gone;	/* the run is not there */
	struct ixfold		 fa_res;
	struct ixfold		 fa_slice;
};

/* A slice begins where the last one committed, with no counts yet. */
static void
merge_slice_begin(const struct buf *from, struct buf *next,
    struct ixfold *slice)
{
	buf_reset(next);
	buf_add(next, from->b_data, from->b_len);
	memset(slice, 0, sizeof(*slice));
}

/* A slice committed: its place and counts are the fold's now. */
static void
merge_slice_done(struct buf *from, struct buf *next, struct ixfold *res,
    const struct ixfold *slice)
{
	struct buf	 t;

	t = *from;
	*from = *next;
	*next = t;
	ixfold_add(res, slice);
}

static int
merge_fold_txn(MDB_txn *txn, void *arg)
{
	struct merge_fold_arg	*fa = arg;
	struct ixmeta		 m;
	struct ixfold		 res;
	struct ixseg		*segs;
	roaring_bitmap_t	*tomb;
	uint8_t			 kb[8];
	MDB_val			 k, v;
	uint64_t		 end;
	size_t			 j;
	int			 rc, done;

	fa->fa_done = fa->fa_gone = 0;
	merge_slice_begin(&fa->fa_from, &fa->fa_next, &fa->fa_slice);
	if ((rc = index_meta_get(txn, fa->fa_ix, &m)) != 0)
		return (rc);
	end = (uint64_t)fa->fa_segs[fa->fa_n - 1].ms_base +
	    fa->fa_segs[fa->fa_n - 1].ms_nchunks;
	segs = xcalloc(fa->fa_n, sizeof(*segs));
	for (j = 0; j < fa->fa_n; j++) {
		util_put_be64(kb, fa->fa_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		rc = mdb_get(txn, index_dbi(fa->fa_ix, IDB_SEGS), &k, &v);
		if (rc == MDB_NOTFOUND || (rc == 0 &&
		    v.mv_size != fa->fa_segs[j].ms_size)) {
			/* Another merger got there first. */
			free(segs);
			fa->fa_gone = 1;
			return (0);
		}
		if (rc == 0 && ixseg_open(&segs[j], v.mv_data, v.mv_size) == -1)
			rc = MDB_CORRUPTED;
		if (rc == 0 && segs[j].s_hdr->h_base < m.m_folded)
			rc = MDB_CORRUPTED;	/* folded past it: never */
		if (rc != 0) {
			free(segs);
			return (rc);
		}
	}
	memset(&res, 0, sizeof(res));
	if ((rc = index_tomb_get(txn, fa->fa_ix, &tomb)) != 0) {
		free(segs);
		return (rc);
	}
	rc = ixfold_run(txn, fa->fa_ix, segs, fa->fa_n, tomb, &fa->fa_next,
	    FOLD_SLICE, util_mono_ms() + FOLD_SLICE_MS, &done, &res);
	roaring_bitmap_free(tomb);
	free(segs);
	if (rc != 0)
		return (rc);
	m.m_blocks += res.f_blocks;
	m.m_terms += res.f_terms;
	m.m_folding = end;
	if (done) {
		/* The last slice: the run's chunks are in blocks now. */
		for (j = 0; j < fa->fa_n; j++) {
			util_put_be64(kb, fa->fa_segs[j].ms_id);
			k.mv_size = 8;
			k.mv_data = kb;
			if ((rc = mdb_del(txn, index_dbi(fa->fa_ix, IDB_SEGS),
			    &k, NULL)) != 0)
				return (rc);
		}
		m.m_folded = end;
		m.m_folding = 0;
		m.m_segments = m.m_segments > fa->fa_n ? m.m_segments -
		    fa->fa_n : 0;
		m.m_merges++;
	}
	if ((rc = index_meta_put(txn, fa->fa_ix, &m)) != 0)
		return (rc);
	fa->fa_done = done;
	fa->fa_slice = res;
	return (0);
}

/*
 * Whether yfd (the merger's socket, or -1) has something to read: a fold
 * stops between slices for it, so that a stop is not kept waiting for
 * the rest of a long fold, and the next step takes the fold up again.
 */
static int
merge_yield(int yfd)
{
	struct pollfd	 pfd;

	if (yfd == -1)
		return (0);
	pfd.fd = yfd;
	pfd.events = POLLIN;
	return (poll(&pfd, 1, 0) == 1);
}

/* Fold a run of the oldest segments into the blocks, slice by slice. */
static int
merge_fold(struct index *ix, const struct mseg *segs, size_t n, int busy,
    int yfd)
{
	struct merge_fold_arg	 fa;
	int			 rc = 0, slices = 0;

	memset(&fa, 0, sizeof(fa));
	fa.fa_ix = ix;
	fa.fa_segs = segs;
	fa.fa_n = n;
	buf_init(&fa.fa_from);
	buf_init(&fa.fa_next);
	log_debug("merge: folding %zu segments from %llu", n,
	    (unsigned long long)segs[0].ms_id);
	while (!fa.fa_done && !fa.fa_gone && (rc = store_write(&ix->ix_store,
	    merge_fold_txn, &fa)) == 0) {
		merge_slice_done(&fa.fa_from, &fa.fa_next, &fa.fa_res,
		    &fa.fa_slice);
		slices++;
		if (fa.fa_done)
			break;
		if (merge_yield(yfd)) {
			log_debug("merge: folding %zu segments from %llu: "
			    "paused after slice %d", n,
			    (unsigned long long)segs[0].ms_id, slices);
			break;
		}
		if (busy)
			usleep(FOLD_GAP_MS * 1000);
	}
	buf_free(&fa.fa_from);
	buf_free(&fa.fa_next);
	if (rc != 0) {
		log_warnx("merge: folding %zu segments from %llu: %s", n,
		    (unsigned long long)segs[0].ms_id, mdb_strerror(rc));
		return (-1);
	}
	if (fa.fa_done)
		log_debug("merge: %zu segments from %llu folded in %d slices: "
		    "%llu postings, %llu new blocks, %llu new terms, %llu "
		    "bytes", n, (unsigned long long)segs[0].ms_id, slices,
		    (unsigned long long)fa.fa_res.f_postings,
		    (unsigned long long)fa.fa_res.f_blocks,
		    (unsigned long long)fa.fa_res.f_terms,
		    (unsigned long long)fa.fa_res.f_bytes);
	return (1);
}

/* As a fold's: a slice's place and counts are taken once it commits. */
struct merge_purge_arg {
	struct index		*pa_ix;
	roaring_bitmap_t	*pa_dead;	/* what this sweep drops */
	struct buf		 pa_from;
	struct buf		 pa_next;
	int			 pa_done;
	struct ixfold		 pa_res;
	struct ixfold		 pa_slice;
};

static int
merge_purge_start(MDB_txn *txn, void *arg)
{
	struct merge_purge_arg	*pa = arg;
	struct ixmeta		 m;
	roaring_bitmap_t	*tomb;
	int			 rc;

	if ((rc = index_meta_get(txn, pa->pa_ix, &m)) != 0)
		return (rc);
	if ((rc = index_tomb_get(txn, pa->pa_ix, &tomb)) != 0)
		return (rc);
	pa->pa_dead = roaring_bitmap_create();
	roaring_bitmap_add_range(pa->pa_dead, 0, m.m_folded);
	roaring_bitmap_and_inplace(pa->pa_dead, tomb);
	roaring_bitmap_free(tomb);
	return (0);
}

static int
merge_purge_txn(MDB_txn *txn, void *arg)
{
	struct merge_purge_arg	*pa = arg;
	struct ixmeta		 m;
	struct ixfold		 res;
	roaring_bitmap_t	*tomb;
	uint64_t		 n;
	int			 rc, done;

	pa->pa_done = 0;
	merge_slice_begin(&pa->pa_from, &pa->pa_next, &pa->pa_slice);
	if ((rc = index_meta_get(txn, pa->pa_ix, &m)) != 0)
		return (rc);
	memset(&res, 0, sizeof(res));
	if ((rc = ixblk_purge(txn, pa->pa_ix, pa->pa_dead, &pa->pa_next,
	    PURGE_SLICE, &done, &res)) != 0)
		return (rc);
	m.m_blocks = m.m_blocks > res.f_blocks ? m.m_blocks - res.f_blocks :
	    0;
	m.m_terms = m.m_terms > res.f_terms ? m.m_terms - res.f_terms : 0;
	if (done) {
		/* No block holds them now: out of the tombstones they go. */
		if ((rc = index_tomb_get(txn, pa->pa_ix, &tomb)) != 0)
			return (rc);
		roaring_bitmap_andnot_inplace(tomb, pa->pa_dead);
		rc = index_tomb_put(txn, pa->pa_ix, tomb);
		roaring_bitmap_free(tomb);
		if (rc != 0)
			return (rc);
		n = roaring_bitmap_get_cardinality(pa->pa_dead);
		m.m_dead = m.m_dead > n ? m.m_dead - n : 0;
		m.m_purges++;
	}
	if ((rc = index_meta_put(txn, pa->pa_ix, &m)) != 0)
		return (rc);
	pa->pa_done = done;
	pa->pa_slice = res;
	return (0);
}

/* Sweep the dead out of every block: 1 done, -1. */
static int
merge_purge(struct index *ix)
{
	struct merge_purge_arg	 pa;
	int			 rc;

	memset(&pa, 0, sizeof(pa));
	pa.pa_ix = ix;
	buf_init(&pa.pa_from);
	buf_init(&pa.pa_next);
	if ((rc = store_read(&ix->ix_store, merge_purge_start, &pa)) == 0)
		while (!pa.pa_done && (rc = store_write(&ix->ix_store,
		    merge_purge_txn, &pa)) == 0)
			merge_slice_done(&pa.pa_from, &pa.pa_next,
			    &pa.pa_res, &pa.pa_slice);
	if (rc != 0)
		log_warnx("merge: sweeping blocks: %s", mdb_strerror(rc));
	else
		log_debug("merge: swept %llu dead chunks from the blocks: "
		    "%llu postings, %llu blocks, %llu terms gone",
		    (unsigned long long)roaring_bitmap_get_cardinality(
		    pa.pa_dead), (unsigned long long)pa.pa_res.f_postings,
		    (unsigned long long)pa.pa_res.f_blocks,
		    (unsigned long long)pa.pa_res.f_terms);
	if (pa.pa_dead != NULL)
		roaring_bitmap_free(pa.pa_dead);
	buf_free(&pa.pa_from);
	buf_free(&pa.pa_next);
	return (rc == 0 ? 1 : -1);
}

/* The bytes of n segments together. */
static uint64_t
merge_size(const struct mseg *segs, size_t n)
{
	uint64_t	 total = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		total += segs[i].ms_size;
	return (total);
}

/*
 * One step of merging: a fold under way, else a run of segments to merge,
 * else the oldest segments to fold, else a sweep.  The segments are
 * folded, all of them (FOLD_SEGS at most at once), when together they reach
 * fold_size and an eighth of the block store, so that each fold rewrites
 * a bounded share of it.
 *
 * Every merge and fold takes the write lock for a while, and a fold into
 * a big store is slow, so while workers are committing (MERGE_BUSY) the
 * merger holds back: segments are merged only when there are more than
 * BUSY_SEGS of them, folded only at BUSY_FOLD times the size, and no
 * lone segment is rewritten.  A burst of ingestion is folded once it is
 * over, in one pass; a steady stream still is, less often.
 *
 * With MERGE_ALL (compact), segments are folded without being merged
 * first and whatever their size, and any dead chunk in blocks calls for
 * a sweep.  yfd is the merger's socket (or -1): a fold stops between
 * slices when it has something to read (merge_yield).  Returns 1 if it
 * did something (a fold paused too), 0 if there was nothing to do, -1
 * on error.
 */
int
merge_step(struct index *ix, int flags, uint64_t fold_size, int yfd)
{
	struct merge_list_arg	 la;
	struct ixmeta		*m = &la.la_meta;
	uint64_t		 total, want;
	size_t			 i, j, n;
	int			 rv = 0, all = flags & MERGE_ALL;
	int			 busy = !all && (flags & MERGE_BUSY);

	memset(&la, 0, sizeof(la));
	la.la_ix = ix;
	if (store_read(&ix->ix_store, merge_list_txn, &la) != 0) {
		free(la.la_segs);
		return (-1);
	}
	/* A fold cut short goes on first. */
	for (n = 0; n < la.la_n && la.la_segs[n].ms_base < m->m_folding; n++)
		;
	if (n > 0)
		rv = merge_fold(ix, la.la_segs, n, busy, yfd);
	for (i = 0; i < la.la_n && rv == 0 && !all &&
	    (!busy || la.la_n > BUSY_SEGS); i = j) {
		for (j = i + 1; j < la.la_n &&
		    la.la_segs[j].ms_tier == la.la_segs[i].ms_tier; j++)
			if (j - i == MERGE_FACTOR)
				break;
		/* Cids of a run must be consecutive: they are, by commit. */
		if (j - i >= MERGE_FACTOR &&
		    merge_size(la.la_segs + i, j - i) <= MERGE_SEG_MAX) {
			rv = merge_run(ix, la.la_segs + i, j - i);
			if (rv == 0)
				rv = 1;	/* the list changed: look again */
		}
	}
	total = merge_size(la.la_segs, la.la_n < FOLD_SEGS ? la.la_n :
	    FOLD_SEGS);
	want = fold_size > la.la_bbytes / 8 ? fold_size : la.la_bbytes / 8;
	if (busy)
		want *= BUSY_FOLD;
	if (rv == 0 && la.la_n > 0 && (all || total >= want))
		rv = merge_fold(ix, la.la_segs, la.la_n < FOLD_SEGS ? la.la_n :
		    FOLD_SEGS, busy, yfd);
	/* With no tier full, rewrite a segment that is mostly dead. */
	for (i = 0; i < la.la_n && rv == 0 && !busy; i++) {
		if (la.la_segs[i].ms_dead * 100 <
		    (uint64_t)la.la_segs[i].ms_nchunks * MERGE_DEAD_PCT ||
		    la.la_segs[i].ms_dead == 0)
			continue;
		rv = merge_run(ix, la.la_segs + i, 1);
		if (rv == 0)
			rv = 1;
	}
	if (rv == 0 && la.la_bdead > 0 && (all || la.la_bdead * 100 >=
	    (m->m_chunks + m->m_dead) * MERGE_DEAD_PCT))
		rv = merge_purge(ix);
	free(la.la_segs);
	return (rv);
}

/*
 * Said once a process, when fewer than half the chunk ids are left: a
 * shrink numbers the chunks again, before ingestion holds with
 * ids-full.
 */
static void
merge_ids_short(const struct ixstats *st, int *said)
{
	uint64_t	 left = index_ids_left(st->is_next_cid);

	if (*said || !index_ids_short(left))
		return;
	*said = 1;
	log_warnx("merge: %llu chunk ids left, fewer than half: stop quired "
	    "and run quirectl compact --shrink to number the chunks again",
	    (unsigned long long)left);
}

/*
 * The merger process, started by the supervisor (quired -M) with a
 * socketpair on fd 3 like a worker, and set up as every child is
 * (child.c): it opens the index and merges whenever a tier fills, at
 * nice 10 so that workers come first.  A reload changes merge-fold-size,
 * heartbeat-interval and log-level live, SIGUSR1 reopens the log, and it
 * exits on "stop", "exit" or end of file.  Told to compact (the
 * supervisor deleted documents at start whose home is another host), it
 * folds and sweeps everything as quirectl compact does, then goes on as
 * before.  A step that fails (a full disk or map, an I/O error) is tried
 * again MERGE_RETRY_MS later, not at every heartbeat: one line in the
 * log for each try.
 */
void
merger_main(void)
{
	struct child		 ch;
	struct ipc_msg		 m;
	struct index		 ix;
	struct ixstats		 st;
	const struct quire_conf	*c = &ch.ch_conf;
	uint64_t		 beat = 0, now, seg = 0, changed = 0;
	uint64_t		 compact = 0, retry = 0;
	int			 rv, wait_ms, busy, flags, short_said = 0;

	child_setup(&ch, "merger", -1);
	if (nice(10) == -1)
		log_debug("merger: nice");
	if (index_open(&ix, c->c_datadir, c->c_mapsize, c->c_sync) == -1)
		fatalx("merger: cannot open the index");
	store_limit(&ix.ix_store, c->c_mapmax);
	if (ipc_send(ch.ch_fd, IPC_READY, 0, getpid(), NULL) == -1)
		_exit(0);
	for (;;) {
		child_reopen(&ch);
		now = util_mono_ms();
		if (now - beat >= c->c_heartbeat_ms) {
			if (ipc_send(ch.ch_fd, IPC_HEARTBEAT, 0, 0, "merge")
			    == -1)
				break;
			beat = now;
		}
		/* Busy: a worker committed a segment a moment ago. */
		if (index_stats(&ix, &st) == 0 && st.is_next_seg != seg) {
			seg = st.is_next_seg;
			changed = now;
			merge_ids_short(&st, &short_said);
		}
		busy = now - changed < MERGE_QUIET_MS;
		flags = compact > 0 ? MERGE_ALL : busy ? MERGE_BUSY : 0;
		if (now >= retry) {
			rv = merge_step(&ix, flags, c->c_fold_size, ch.ch_fd);
			if (rv == 0 && compact > 0) {
				log_info("merge: compacted after %llu "
				    "documents were deleted at start",
				    (unsigned long long)compact);
				compact = 0;
			}
			if (rv == -1)
				retry = util_mono_ms() + MERGE_RETRY_MS;
			wait_ms = rv == 1 ? 0 : MERGE_IDLE_MS;
		} else
			wait_ms = retry - now;
		if (wait_ms > (int)c->c_heartbeat_ms)
			wait_ms = c->c_heartbeat_ms;
		rv = ipc_recv(ch.ch_fd, &ch.ch_ib, &m, wait_ms);
		if (rv == -1 || (rv == 1 && (m.m_type == IPC_STOP ||
		    m.m_type == IPC_EXIT)))
			break;
		if (rv == 1 && m.m_type == IPC_CONFIG &&
		    child_config(&ch, &m) == 0)
			store_limit(&ix.ix_store, c->c_mapmax);
		if (rv == 1 && m.m_type == IPC_COMPACT) {
			compact = m.m_a;
			retry = 0;
		}
	}
	index_close(&ix);
	_exit(0);
}
