/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Folds: the postings of a run of segments appended to the block store
 * (its layout is in index_block.c).  The merger folds whole segments,
 * the oldest first, so a term's new postings always come after its last
 * block; a fold appends only cids above that block's last one, so a fold
 * cut short by a crash resumes where it stopped.
 *
 * A fold walks the segments' dictionaries (ixwalk) a batch of terms at a
 * time, each batch in three steps (in format 2, its first slice writes
 * the segments' chunk lengths to norms first, index_norms.c):
 *
 *	look	 each term's last block, in the write transaction; one with
 *		 room for more is copied, to be rewritten with more in it.
 *		 In format 2 the term's entry is read first: postings inline
 *		 there are its last block.  Terms past the last key of the
 *		 store need no look, and their blocks go in by appending
 *		 (most of a first fold).
 *	build	 each term's postings from every segment that has it, in
 *		 cid order, dead chunks left out, encoded into blocks in
 *		 memory, with the bounds of each block and of the term.
 *		 This is most of a fold's work, and needs no LMDB handle:
 *		 the segments are read where they are in the map, which no
 *		 one writes during the transaction (LMDB copies the pages
 *		 it changes), so up to IXF_BUILDERS threads build the
 *		 batch's terms at once, each taking the next IXF_GRAIN
 *		 terms not yet taken until none are left.
 *	write	 the blocks and the terms' totals, in term order, in the
 *		 write transaction, which is its thread's alone; in format
 *		 2, a term of no blocks whose postings make one small block
 *		 gets them inline in its entry instead.
 *
 * The steps overlap: while the builders build a batch, the fold's own
 * thread walks and looks for the next one (the look only reads the
 * transaction, and the builders never touch it), then takes the batch's
 * terms still left as a builder too; when they are all built, it starts
 * the builders on the next batch and writes the first meanwhile.  The
 * builders read only the segments and what the look copied, and a
 * write never changes a page the transaction began with (LMDB writes
 * its changes to pages of its own), so they build under the writes.
 * Batches hold distinct terms, so what a write changes is never what
 * the next batch looked at.  A next batch that the budget or the clock
 * leaves unwritten is dropped: the slice after takes it up again from
 * the last term written.
 */

#include <sys/types.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roaring/roaring.h>

#include "quire.h"

#define IXF_BUILDERS		4		/* threads building, at most */
#define IXF_BATCH_POSTINGS	(128 * 1024)	/* postings read per batch */
#define IXF_BATCH_TERMS		8192
#define IXF_ALONE		8192	/* fewer postings: one builder */
#define IXF_GRAIN		8	/* terms a builder takes at a time */

/* A segment that has a term of the batch, at that term. */
struct ixf_seg {
	const struct ixseg	*fs_seg;
	uint32_t		 fs_term;
};

/* A term of the batch: what the look found, then what the build made. */
struct ixf_term {
	const char	*ft_t;		/* in a segment */
	size_t		 ft_tl;
	size_t		 ft_seg;	/* its segments: b_segs[ft_seg..] */
	size_t		 ft_nseg;
	uint64_t	 ft_df;		/* postings in them, dead ones too */
	uint32_t	 ft_last;	/* its last cid in blocks, or 0 */
	int		 ft_append;	/* keys past the store's last */
	int		 ft_tappend;	/* and past the last of terms */
	int		 ft_old;	/* its last block is rewritten */
	int		 ft_inl;	/* that block was inline in terms */
	int		 ft_hasti;	/* ft_ti read in the look */
	struct ixterminfo ft_ti;	/* its terms value (not ti_inline) */
	struct ixblkhdr	 ft_hdr;	/* that block's header */
	uint32_t	 ft_first;	/* and first cid */
	size_t		 ft_oldoff;	/* and postings, in b_old */
	size_t		 ft_oldlen;
	int		 ft_builder;	/* its blocks in that one's arena */
	size_t		 ft_out;
	size_t		 ft_outlen;
	uint64_t	 ft_added;	/* postings */
	uint32_t	 ft_nblocks;	/* new blocks */
	struct ixbound	 ft_tb;		/* the bound of its new postings */
};

struct ixf_batch;

/* A builder: the batch's terms it took, its own memory. */
struct ixf_builder {
	struct ixf_batch	*fb_b;
	pthread_t		 fb_thread;
	struct buf		 fb_arena;	/* first(4) size(4) block ... */
	struct buf		 fb_data;	/* postings of the block */
	int			 fb_rc;
	int			 fb_thread_on;	/* fb_thread runs it */
};

struct ixf_batch {
	struct ixf_term		*b_terms;
	size_t			 b_n;
	size_t			 b_cap;
	struct ixf_seg		*b_segs;
	size_t			 b_nseg;
	size_t			 b_segcap;
	struct buf		 b_old;		/* last blocks' postings */
	uint64_t		 b_df;
	const roaring_bitmap_t	*b_dead;
	size_t			 b_nodemax;
	int			 b_format;
	struct ixf_builder	 b_bld[IXF_BUILDERS + 1];	/* + the fold's */
	int			 b_nbld;
	int			 b_nrun;	/* builders started */
	size_t			 b_next;	/* the next term to take */
	int			 b_more;	/* the walk goes on after it */
};

/* The transaction's side of a fold. */
struct ixf {
	MDB_txn			*x_txn;
	struct index		*x_ix;
	MDB_cursor		*x_c;		/* on blocks */
	struct buf		 x_blast;	/* the last keys before it */
	struct buf		 x_tlast;
	int			 x_append;
	int			 x_tappend;
	uint64_t		 x_written;
	struct ixf_batch	 x_bat[2];
	struct ixf_batch	*x_b;		/* the one gathered */
	int			 x_format;	/* the block store's */
};

/* What a fold or a sweep did, added to a running total. */
void
ixfold_add(struct ixfold *to, const struct ixfold *from)
{
	to->f_postings += from->f_postings;
	to->f_blocks += from->f_blocks;
	to->f_terms += from->f_terms;
	to->f_bytes += from->f_bytes;
}

/* A copy of the last key of a database; empty when it has none. */
static int
ixf_lastkey(MDB_txn *txn, MDB_dbi dbi, struct buf *out)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	buf_reset(out);
	if ((rc = mdb_cursor_open(txn, dbi, &c)) != 0)
		return (rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == 0)
		buf_add(out, k.mv_data, k.mv_size);
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* Look. */

static int	ixf_look_blocks(struct ixf *, struct ixf_term *);
static int	ixf_look_terms(struct ixf *, struct ixf_term *);

/* The term's last block, copied into the batch when it has room. */
static int
ixf_look(struct ixf *x, struct ixf_term *ft)
{
	uint8_t			 kb[IXB_KEY_MAX];
	size_t			 len;

	len = ixblk_key(kb, ft->ft_t, ft->ft_tl, 0);
	if (!x->x_append)
		x->x_append = ix_termcmp(kb, len, x->x_blast.b_data,
		    x->x_blast.b_len) > 0;
	if (!x->x_tappend)
		x->x_tappend = ix_termcmp(ft->ft_t, ft->ft_tl,
		    x->x_tlast.b_data, x->x_tlast.b_len) > 0;
	ft->ft_append = x->x_append;
	ft->ft_tappend = x->x_tappend;
	if (x->x_format >= 2 && !x->x_tappend)
		return (ixf_look_terms(x, ft));
	if (x->x_append)
		return (0);
	return (ixf_look_blocks(x, ft));
}

/* The term's last block, from blocks. */
static int
ixf_look_blocks(struct ixf *x, struct ixf_term *ft)
{
	struct ixf_batch	*b = x->x_b;
	uint8_t			 kb[IXB_KEY_MAX];
	MDB_val			 k, v;
	size_t			 max, off;
	int			 rc, m = -1;

	/* The one before the term's key for cid max. */
	k.mv_size = ixblk_key(kb, ft->ft_t, ft->ft_tl, UINT32_MAX);
	k.mv_data = kb;
	rc = mdb_cursor_get(x->x_c, &k, &v, MDB_SET_RANGE);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	rc = mdb_cursor_get(x->x_c, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
	for (; rc == 0; rc = mdb_cursor_get(x->x_c, &k, &v, MDB_PREV))
		if ((m = ixblk_match(&k, ft->ft_t, ft->ft_tl)) != 0)
			break;
	if (rc != 0 || m != 1)
		return (rc == MDB_NOTFOUND ? 0 : rc);
	ft->ft_first = util_get_be32((uint8_t *)k.mv_data + ft->ft_tl + 1);
	if (ixblk_hdr_decode(b->b_format, &v, ft->ft_first, &ft->ft_hdr,
	    &off) == -1)
		return (MDB_CORRUPTED);
	ft->ft_last = ft->ft_hdr.bh_last;
	max = b->b_nodemax - 8 - (ft->ft_tl + 5);
	if (ft->ft_hdr.bh_n < IXB_FOLD_MAX && v.mv_size < max - 16) {
		ft->ft_old = 1;
		ft->ft_oldoff = b->b_old.b_len;
		ft->ft_oldlen = v.mv_size - off;
		buf_add(&b->b_old, (uint8_t *)v.mv_data + off, ft->ft_oldlen);
	}
	return (0);
}

/*
 * Format 2: the term's entry first.  Its postings inline are its last
 * block, to be rewritten (inline again, or into blocks); a term with
 * blocks has its last one looked at there.
 */
static int
ixf_look_terms(struct ixf *x, struct ixf_term *ft)
{
	struct ixf_batch	*b = x->x_b;
	size_t			 off;
	int			 rc;

	rc = ixblk_terminfo(x->x_txn, x->x_ix, ft->ft_t, ft->ft_tl,
	    &ft->ft_ti);
	if (rc == MDB_NOTFOUND)
		memset(&ft->ft_ti, 0, sizeof(ft->ft_ti));
	else if (rc != 0)
		return (rc);
	ft->ft_hasti = 1;
	if (rc == MDB_NOTFOUND)
		return (0);
	if (ft->ft_ti.ti_inline == NULL)
		return (x->x_append ? MDB_CORRUPTED : ixf_look_blocks(x, ft));
	if (ixblk_inline(&ft->ft_ti, &ft->ft_first, &ft->ft_hdr, &off) == -1)
		return (MDB_CORRUPTED);
	ft->ft_last = ft->ft_hdr.bh_last;
	ft->ft_old = ft->ft_inl = 1;
	ft->ft_oldoff = b->b_old.b_len;
	ft->ft_oldlen = ft->ft_ti.ti_inlinelen - off;
	buf_add(&b->b_old, ft->ft_ti.ti_inline + off, ft->ft_oldlen);
	ft->ft_ti.ti_inline = NULL;	/* not valid past a write */
	ft->ft_ti.ti_inlinelen = 0;
	return (0);
}

/*
 * The walk's next terms into the batch, each looked at: at least one, and
 * about as many postings as fill what is left of the budget (a posting
 * takes 4 bytes or more in a block); b_more is 0 when the walk is over.
 */
static int
ixf_gather(struct ixf *x, struct ixwalk *w, size_t left)
{
	struct ixf_batch	*b = x->x_b;
	struct ixf_term		*ft;
	struct ixf_seg		*fs;
	size_t			 j, max = IXF_BATCH_POSTINGS;
	int			 rc;

	b->b_n = b->b_nseg = b->b_df = 0;
	buf_reset(&b->b_old);
	if (left / 4 < IXF_BATCH_POSTINGS)
		max = left / 4;
	while (b->b_n == 0 || (b->b_df < max && b->b_n < IXF_BATCH_TERMS)) {
		if (!(b->b_more = ixwalk_next(w)))
			break;
		if (w->w_tl == 0 || w->w_tl > IX_TERM_MAX)
			return (MDB_CORRUPTED);
		if (b->b_n == b->b_cap) {
			b->b_cap = b->b_cap == 0 ? 1024 : b->b_cap * 2;
			b->b_terms = xreallocarray(b->b_terms, b->b_cap,
			    sizeof(*b->b_terms));
		}
		ft = &b->b_terms[b->b_n++];
		memset(ft, 0, sizeof(*ft));
		ft->ft_t = w->w_t;
		ft->ft_tl = w->w_tl;
		ft->ft_seg = b->b_nseg;
		ft->ft_nseg = w->w_nsame;
		for (j = 0; j < w->w_nsame; j++) {
			if (b->b_nseg == b->b_segcap) {
				b->b_segcap = b->b_segcap == 0 ? 4096 :
				    b->b_segcap * 2;
				b->b_segs = xreallocarray(b->b_segs,
				    b->b_segcap, sizeof(*b->b_segs));
			}
			fs = &b->b_segs[b->b_nseg++];
			fs->fs_seg = w->w_same[j]->wc_seg;
			fs->fs_term = w->w_same[j]->wc_term;
			ft->ft_df += fs->fs_seg->s_dict[fs->fs_term].e_df;
		}
		b->b_df += ft->ft_df;
		if ((rc = ixf_look(x, ft)) != 0)
			return (rc);
	}
	return (0);
}

/* Build. */

/*
 * The bytes of a posting's tf positions, each a varint the blocks'
 * reader takes (10 bytes at most); 0 when damaged.
 */
static size_t
ixf_posbytes(const uint8_t *p, const uint8_t *end, uint32_t tf)
{
	const uint8_t	*q = p;
	uint32_t	 i, n;

	for (i = 0; i < tf; i++) {
		for (n = 0; q < end && (*q & 0x80) && n < 10; n++)
			q++;
		if (q == end || n == 10)
			return (0);
		q++;
	}
	return (q - p);
}

/* The block in the making out to the arena: first cid, size, block. */
static void
ixf_emit(struct ixf_builder *fb, struct ixf_term *ft, struct ixblkhdr *h,
    uint32_t first)
{
	uint8_t	 rec[8], hb[sizeof(*h) + IXB_BOUNDS * 6 + 7];
	size_t	 hl;

	ixbound_merge(&ft->ft_tb, &h->bh_bound);
	hl = ixblk_hdr_encode(fb->fb_b->b_format, h, first, hb);
	memcpy(rec, &first, 4);
	util_put_be32(rec + 4, hl + fb->fb_data.b_len);
	buf_add(&fb->fb_arena, rec, sizeof(rec));
	buf_add(&fb->fb_arena, hb, hl);
	buf_add(&fb->fb_arena, fb->fb_data.b_data, fb->fb_data.b_len);
	buf_reset(&fb->fb_data);
	memset(h, 0, sizeof(*h));
}

/* One segment's postings of the term onto its blocks. */
static int
ixf_build_seg(struct ixf_builder *fb, struct ixf_term *ft,
    const struct ixf_seg *fs, struct ixblkhdr *h, uint32_t *first, int *old,
    size_t max)
{
	const struct ixseg	*seg = fs->fs_seg;
	const roaring_bitmap_t	*dead = fb->fb_b->b_dead;
	struct ixpost		 p;
	const uint8_t		*pos;
	size_t			 poslen, len;
	uint32_t		 dl;
	int			 rv, anydead;

	anydead = roaring_bitmap_range_cardinality(dead, seg->s_hdr->h_base,
	    (uint64_t)seg->s_hdr->h_base + seg->s_hdr->h_nchunks) > 0;
	ixpost_init(&p, seg, fs->fs_term);
	while ((rv = ixpost_next(&p)) == 1) {
		/* The cursor passes over the positions of those left out. */
		if (p.p_cid <= ft->ft_last ||
		    (anydead && roaring_bitmap_contains(dead, p.p_cid)))
			continue;
		/* posbuf found p_tf varint ends: under 10 bytes, all short. */
		if ((pos = ixpost_posbuf(&p, &poslen)) == NULL ||
		    (poslen >= 10 &&
		    ixf_posbytes(pos, pos + poslen, p.p_tf) != poslen))
			return (MDB_CORRUPTED);
		dl = seg->s_norms[p.p_local];
		len = ix_varlen(p.p_tf) + poslen;
		if (fb->fb_b->b_format == 1)
			len += ix_varlen(dl);
		/* Full: out it goes, and this posting starts one. */
		if (h->bh_n > 0 && (h->bh_n >= IXB_FOLD_MAX ||
		    ixblk_hdrmax(fb->fb_b->b_format) + fb->fb_data.b_len + 5 +
		    len > max)) {
			if (!*old)
				ft->ft_nblocks++;
			*old = 0;
			ixf_emit(fb, ft, h, *first);
		}
		if (h->bh_n == 0)
			*first = p.p_cid;
		ix_varint(&fb->fb_data, h->bh_n == 0 ? 0 : p.p_cid - h->bh_last);
		ix_varint(&fb->fb_data, p.p_tf);
		if (fb->fb_b->b_format == 1)
			ix_varint(&fb->fb_data, dl);
		/* The positions are varints in both: their bytes as they are. */
		buf_add(&fb->fb_data, pos, poslen);
		h->bh_n++;
		h->bh_last = p.p_cid;
		ixbound_add(&h->bh_bound, p.p_tf, dl);
		ft->ft_added++;
	}
	return (rv == -1 ? MDB_CORRUPTED : 0);
}

/* A term's new blocks, from its last one if that has room. */
static int
ixf_build_term(struct ixf_builder *fb, struct ixf_term *ft, int id)
{
	struct ixf_batch	*b = fb->fb_b;
	struct ixblkhdr		 h;
	uint32_t		 first = 0;
	size_t			 j, max;
	int			 rc, old = ft->ft_old;

	ft->ft_builder = id;
	ft->ft_out = fb->fb_arena.b_len;
	buf_reset(&fb->fb_data);
	memset(&h, 0, sizeof(h));
	if (old) {
		h = ft->ft_hdr;
		first = ft->ft_first;
		buf_add(&fb->fb_data, b->b_old.b_data + ft->ft_oldoff,
		    ft->ft_oldlen);
	}
	/* Node header, key (term, 0, cid), then the block. */
	max = b->b_nodemax - 8 - (ft->ft_tl + 5);
	for (j = 0; j < ft->ft_nseg; j++)
		if ((rc = ixf_build_seg(fb, ft, &b->b_segs[ft->ft_seg + j], &h,
		    &first, &old, max)) != 0)
			return (rc);
	if (ft->ft_added > 0) {
		if (!old)
			ft->ft_nblocks++;
		ixf_emit(fb, ft, &h, first);
	}
	ft->ft_outlen = fb->fb_arena.b_len - ft->ft_out;
	return (0);
}

/*
 * A builder takes the batch's terms IXF_GRAIN at a time, whichever are
 * next, until none are left or one fails: a few terms of many postings
 * never leave the others idle behind a share of their own.
 */
static void *
ixf_builder_run(void *arg)
{
	struct ixf_builder	*fb = arg;
	struct ixf_batch	*b = fb->fb_b;
	size_t			 i, end;

	buf_reset(&fb->fb_arena);
	fb->fb_rc = 0;
	while (fb->fb_rc == 0) {
		i = __atomic_fetch_add(&b->b_next, IXF_GRAIN,
		    __ATOMIC_RELAXED);
		if (i >= b->b_n)
			break;
		end = i + IXF_GRAIN < b->b_n ? i + IXF_GRAIN : b->b_n;
		for (; i < end && fb->fb_rc == 0; i++)
			fb->fb_rc = ixf_build_term(fb, &b->b_terms[i],
			    fb - b->b_bld);
	}
	return (NULL);
}

/*
 * Start building the batch's terms on threads of their own, so that
 * the caller gathers the next batch meanwhile, then takes terms too
 * (ixf_build_help).  A builder whose thread cannot start is run by
 * ixf_build_finish.
 */
static void
ixf_build_start(struct ixf_batch *b)
{
	int	 k;

	b->b_next = 0;
	b->b_bld[b->b_nbld].fb_rc = 0;
	b->b_nrun = b->b_df < IXF_ALONE ? 1 : b->b_nbld;
	for (k = 0; k < b->b_nrun; k++)
		b->b_bld[k].fb_thread_on = pthread_create(
		    &b->b_bld[k].fb_thread, NULL, ixf_builder_run,
		    &b->b_bld[k]) == 0;
}

/* The fold's thread builds what the builders have not taken yet. */
static void
ixf_build_help(struct ixf_batch *b)
{
	ixf_builder_run(&b->b_bld[b->b_nbld]);
}

/* Wait for the batch's builders; the first error of theirs. */
static int
ixf_build_finish(struct ixf_batch *b)
{
	int	 k, rc = b->b_bld[b->b_nbld].fb_rc;

	for (k = 0; k < b->b_nrun; k++) {
		if (b->b_bld[k].fb_thread_on) {
			pthread_join(b->b_bld[k].fb_thread, NULL);
			b->b_bld[k].fb_thread_on = 0;
		} else
			ixf_builder_run(&b->b_bld[k]);	/* no thread: here */
		if (b->b_bld[k].fb_rc != 0 && rc == 0)
			rc = b->b_bld[k].fb_rc;
	}
	b->b_nrun = 0;
	return (rc);
}

/* Write. */

/* A term's totals after a fold appended to it, and its inline postings. */
static int
ixf_terminfo(struct ixf *x, const struct ixf_term *ft, uint32_t nblocks,
    const uint8_t *inl, size_t inllen, struct ixfold *res)
{
	struct ixterminfo	 ti;
	uint8_t			 tv[IXB_TERMVAL_MAX];
	MDB_val			 k, v;
	int			 rc;

	if (ft->ft_hasti) {
		ti = ft->ft_ti;
		rc = ti.ti_df == 0 ? MDB_NOTFOUND : 0;
	} else
		rc = ft->ft_tappend ? MDB_NOTFOUND : ixblk_terminfo(x->x_txn,
		    x->x_ix, ft->ft_t, ft->ft_tl, &ti);
	if (rc == MDB_NOTFOUND) {
		memset(&ti, 0, sizeof(ti));
		res->f_terms++;
	} else if (rc != 0)
		return (rc);
	ti.ti_df += ft->ft_added;
	ti.ti_blocks += nblocks;
	ixbound_merge(&ti.ti_bound, &ft->ft_tb);
	k.mv_size = ft->ft_tl;
	k.mv_data = (void *)ft->ft_t;
	v.mv_size = ixblk_termval(&ti, x->x_format, inl, inllen, tv);
	v.mv_data = tv;
	x->x_written += inllen;
	return (mdb_put(x->x_txn, index_dbi(x->x_ix, IDB_TERMS), &k, &v,
	    ft->ft_tappend ? MDB_APPEND : 0));
}

/*
 * Format 2: a term of no blocks whose postings are now one block small
 * enough stays, or goes, inline: its postings in out (their size), or 0.
 */
static size_t
ixf_inline(struct ixf *x, const struct ixf_term *ft, const uint8_t *p,
    uint8_t out[IXB_INLINE_MAX])
{
	struct ixblkhdr	 h;
	uint32_t	 first, size;
	size_t		 off;
	MDB_val		 v;

	if (x->x_format < 2 || (!ft->ft_inl && ft->ft_ti.ti_df > 0))
		return (0);
	memcpy(&first, p, 4);
	size = util_get_be32(p + 4);
	if (8 + size != ft->ft_outlen)
		return (0);		/* more than one block */
	v.mv_size = size;
	v.mv_data = (void *)(p + 8);
	if (ixblk_hdr_decode(x->x_format, &v, first, &h, &off) == -1)
		return (0);
	return (ixblk_inline_encode(first, h.bh_last, p + 8 + off, size - off,
	    out));
}

/* A term's blocks into the store, each in place in its page. */
static int
ixf_write_term(struct ixf *x, const struct ixf_batch *b,
    const struct ixf_term *ft, struct ixfold *res)
{
	const uint8_t	*p, *end;
	uint8_t		 kb[IXB_KEY_MAX], inl[IXB_INLINE_MAX];
	uint32_t	 first, size, nblocks = ft->ft_nblocks;
	size_t		 inllen;
	MDB_val		 k, v;
	int		 rc;

	p = (const uint8_t *)b->b_bld[ft->ft_builder].fb_arena.b_data +
	    ft->ft_out;
	if ((inllen = ixf_inline(x, ft, p, inl)) > 0)
		nblocks = 0;
	else if (ft->ft_inl)
		nblocks++;	/* its old block: out of terms, into blocks */
	for (end = p + ft->ft_outlen; inllen == 0 && p < end; p += 8 + size) {
		memcpy(&first, p, 4);
		size = util_get_be32(p + 4);
		k.mv_size = ixblk_key(kb, ft->ft_t, ft->ft_tl, first);
		k.mv_data = kb;
		v.mv_size = size;
		if ((rc = mdb_put(x->x_txn, index_dbi(x->x_ix, IDB_BLOCKS),
		    &k, &v, MDB_RESERVE | (ft->ft_append ? MDB_APPEND : 0)))
		    != 0)
			return (rc);
		memcpy(v.mv_data, p + 8, size);
		x->x_written += size;
	}
	if ((rc = ixf_terminfo(x, ft, nblocks, inl, inllen, res)) != 0)
		return (rc);
	res->f_postings += ft->ft_added;
	res->f_blocks += nblocks;
	return (0);
}

static int
ixf_write(struct ixf *x, const struct ixf_batch *b, struct ixfold *res)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < b->b_n; i++)
		if (b->b_terms[i].ft_added > 0 &&
		    (rc = ixf_write_term(x, b, &b->b_terms[i], res)) != 0)
			return (rc);
	return (0);
}

static void
ixf_batch_init(struct ixf_batch *b, const roaring_bitmap_t *dead,
    size_t nodemax, int nbld)
{
	int	 k;

	b->b_dead = dead;
	b->b_nodemax = nodemax;
	b->b_nbld = nbld;
	for (k = 0; k <= IXF_BUILDERS; k++) {
		b->b_bld[k].fb_b = b;
		buf_init(&b->b_bld[k].fb_arena);
		buf_init(&b->b_bld[k].fb_data);
	}
	buf_init(&b->b_old);
}

static void
ixf_batch_free(struct ixf_batch *b)
{
	int	 k;

	ixf_build_finish(b);
	for (k = 0; k <= IXF_BUILDERS; k++) {
		buf_free(&b->b_bld[k].fb_arena);
		buf_free(&b->b_bld[k].fb_data);
	}
	free(b->b_terms);
	free(b->b_segs);
	buf_free(&b->b_old);
}

static int
ixf_open(struct ixf *x, MDB_txn *txn, struct index *ix,
    const roaring_bitmap_t *dead)
{
	cpu_set_t	 cpus;
	long		 n;
	int		 i, rc;

	memset(x, 0, sizeof(*x));
	x->x_txn = txn;
	x->x_ix = ix;
	/* The processors we may run on (taskset, cpusets), else online. */
	n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ?
	    CPU_COUNT(&cpus) : sysconf(_SC_NPROCESSORS_ONLN);
	n = n < 1 ? 1 : n > IXF_BUILDERS ? IXF_BUILDERS : n;
	for (i = 0; i < 2; i++)
		ixf_batch_init(&x->x_bat[i], dead, ixblk_nodemax(txn), n);
	x->x_b = &x->x_bat[0];
	buf_init(&x->x_blast);
	buf_init(&x->x_tlast);
	if ((x->x_format = ixblk_format(txn, ix)) == -1)
		return (MDB_CORRUPTED);
	x->x_bat[0].b_format = x->x_bat[1].b_format = x->x_format;
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_BLOCKS), &x->x_c))
	    != 0)
		return (rc);
	if ((rc = ixf_lastkey(txn, index_dbi(ix, IDB_BLOCKS), &x->x_blast)) !=
	    0)
		return (rc);
	return (ixf_lastkey(txn, index_dbi(ix, IDB_TERMS), &x->x_tlast));
}

static void
ixf_close(struct ixf *x)
{
	if (x->x_c != NULL)
		mdb_cursor_close(x->x_c);
	ixf_batch_free(&x->x_bat[0]);
	ixf_batch_free(&x->x_bat[1]);
	buf_free(&x->x_blast);
	buf_free(&x->x_tlast);
}

/*
 * Fold the postings of segs[0..n) (consecutive, in cid order) into the
 * blocks, in the write transaction txn, leaving out chunks in dead.
 * Terms are taken in byte order, after the term in from (empty: from the
 * first), until about budget bytes are written or the monotonic clock
 * reaches deadline (in ms; 0, no deadline); from is left holding the
 * last term done, and *done is set when there are no more.  Terms are
 * done whole, so a transaction that commits leaves every term either
 * folded or not.
 */
int
ixfold_run(MDB_txn *txn, struct index *ix, const struct ixseg *segs,
    size_t n, const roaring_bitmap_t *dead, struct buf *from, size_t budget,
    uint64_t deadline, int *done, struct ixfold *res)
{
	struct ixf		 x;
	struct ixwalk		 w;
	struct ixf_batch	*b, *next;
	struct ixf_term		*ft;
	uint64_t		 soon;
	size_t			 i;
	int			 rc, brc;

	*done = 0;
	ixwalk_init(&w, segs, n, from->b_data, from->b_len);
	if ((rc = ixf_open(&x, txn, ix, dead)) != 0)
		goto out;
	/* Format 2: the chunks' lengths go in first, in the first slice. */
	for (i = 0; x.x_format >= 2 && from->b_len == 0 && i < n; i++)
		if ((rc = ixnorm_put(txn, ix, segs[i].s_hdr->h_base,
		    segs[i].s_hdr->h_nchunks, segs[i].s_norms)) != 0)
			goto out;
	if ((rc = ixf_gather(&x, &w, budget)) != 0)
		goto out;
	ixf_build_start(x.x_b);
	for (b = x.x_b;; b = next) {
		/* What b will write, about, and if there is room after it. */
		soon = x.x_written + b->b_df * 4;
		next = NULL;
		if (b->b_more && soon < budget &&
		    (deadline == 0 || util_mono_ms() < deadline)) {
			next = x.x_b = b == &x.x_bat[0] ? &x.x_bat[1] :
			    &x.x_bat[0];
			rc = ixf_gather(&x, &w, budget - soon);
		}
		if (rc == 0)
			ixf_build_help(b);
		brc = ixf_build_finish(b);
		if (rc != 0 || (rc = brc) != 0)
			goto out;
		/* The next batch builds while this one is written. */
		if (next != NULL)
			ixf_build_start(next);
		if ((rc = ixf_write(&x, b, res)) != 0)
			goto out;
		if (b->b_n > 0) {
			ft = &b->b_terms[b->b_n - 1];
			buf_reset(from);
			buf_add(from, ft->ft_t, ft->ft_tl);
		}
		if (next == NULL)
			break;
	}
	*done = !b->b_more;
	res->f_bytes += x.x_written;
out:
	ixf_close(&x);
	ixwalk_free(&w);
	return (rc);
}
