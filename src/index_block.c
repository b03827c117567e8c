/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The block store: the index's folded postings, per term in blocks of at
 * most IXB_FOLD_MAX postings, each block one LMDB value small enough to
 * live in its leaf page (under the environment's inline node size, about
 * 2 KB with 4 KB pages), so that reading a block touches one page and
 * rewriting one copies one page.  (A lone posting bigger than that, a
 * word repeated hundreds of times in one chunk, is a block of its own.)
 * Postings are deltas, read in order, so a search that wants one chunk
 * of a word (a required word's, for a chunk another word proposed)
 * decodes half a block on average: 32 postings a block make that 16,
 * and their bounds tight, for about 3% more bytes than 128 did.  Blocks
 * of up to IXB_MAX postings, which indexes made before hold, are read
 * as well, and a fold adds to such a block only while it is short.
 *
 *	blocks	term, 0, first cid (4, big-endian) -> block
 *	terms	term -> postings and blocks of the term, and a bound on its
 *		postings' scores, as varints (ixblk_terminfo_encode); in
 *		format 2, a term of no blocks has its postings inline
 *
 * A block is a header (last cid, postings, bound), then per posting in
 * cid order: varint cid delta (from the previous posting, the first
 * from the key's cid, so 0), varint tf, in format 1 varint length of
 * the chunk in words, then tf varint position deltas, as in a segment.
 *
 * The index's meta record says which format its block store has
 * (index.c); it is set when the index is made and never changes, so an
 * index made by an older quire is read and written as it was made:
 *
 *	1	the header is a struct ixblkhdr as it is in memory, 24
 *		bytes, copied out (a value in a page is only 2-byte
 *		aligned).  Every term with postings has blocks.
 *	2	the header is varints (ixblk_hdr_encode): postings << 3 |
 *		the bound's pairs, last cid - first cid, then the pairs,
 *		tf and length each; 3 to 31 bytes, 5 or 6 for most.  A
 *		term whose postings take at most IXB_INLINE_MAX bytes as
 *		one block (most terms: a few postings each) keeps them in
 *		its terms value instead, after a 0: varint first cid,
 *		varint last cid - first cid, then the postings as in a
 *		block; its count and bound are the term's.  That saves a
 *		blocks node (node header, key and block header: 30 bytes
 *		or more) per rare term.  A fold that adds to such a term
 *		moves its postings into blocks once they outgrow the
 *		limit; a term with blocks keeps them.  Postings leave
 *		out the chunk's length, which every posting of the chunk
 *		repeated: it is in the norms database, once per chunk
 *		(index_norms.c), and cursors, sweeps and checks read it
 *		there.
 *
 * A bound is a small Pareto frontier of (tf, length) pairs: every posting
 * it covers has a tf no larger and a length no smaller than one pair's.
 * BM25's term part grows with tf and falls with length, so the best of
 * the pairs bounds the score of every posting under it, whatever k1, b
 * and the mean length are at query time.  That is what lets search skip
 * blocks that cannot reach its top k (block-max pruning).
 *
 * The merger folds runs of whole segments in (index_fold.c), the oldest
 * first, so a term's new postings always come after its last block; the
 * index's m_folded says below which cid the blocks are complete, and
 * search reads blocks only there.  Deleted chunks stay in the tombstone
 * bitmap until a sweep (ixblk_purge) has dropped them from every block
 * and every term's inline postings.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"

/*
 * The format new indexes get: IXB_FORMAT; tests set 1 to make an index
 * as quire made it before, through the same code path, and read it back.
 */
int	ixblk_format_new = IXB_FORMAT;

/* The largest node that stays in its leaf page (LMDB's me_nodemax). */
size_t
ixblk_nodemax(MDB_txn *txn)
{
	MDB_stat	 st;

	if (mdb_env_stat(mdb_txn_env(txn), &st) != 0)
		st.ms_psize = 4096;
	/* ((page size - page header) / 2, even) >= 8 + key + data */
	return (((st.ms_psize - 16) / 2) & ~(size_t)1);
}

size_t
ixblk_key(uint8_t *kb, const char *term, size_t len, uint32_t cid)
{
	memcpy(kb, term, len);
	kb[len] = 0;
	util_put_be32(kb + len + 1, cid);
	return (len + 5);
}

/* Does a blocks key belong to the term?  1 yes, 0 another term of the
 * same prefix (a term with a NUL in it), -1 past the term. */
int
ixblk_match(const MDB_val *k, const char *term, size_t len)
{
	const uint8_t	*p = k->mv_data;

	if (k->mv_size < len + 1 || memcmp(p, term, len) != 0 || p[len] != 0)
		return (-1);
	return (k->mv_size == len + 5);
}

/* Bounds. */

void
ixbound_add(struct ixbound *b, uint32_t tf, uint32_t dl)
{
	uint32_t	 t[IXB_BOUNDS + 1], d[IXB_BOUNDS + 1];
	int		 i, j, n = 0, put = 0;

	if (tf > UINT16_MAX)
		tf = UINT16_MAX;
	if (dl > UINT16_MAX)
		dl = UINT16_MAX;
	/* The pairs it does not cover, and it, in tf (and length) order. */
	for (i = 0; i < IXB_BOUNDS && b->b_tf[i] != 0; i++) {
		if (b->b_tf[i] >= tf && b->b_dl[i] <= dl)
			return;		/* covered already */
		if (tf >= b->b_tf[i] && dl <= b->b_dl[i])
			continue;
		if (!put && b->b_tf[i] > tf) {
			t[n] = tf;
			d[n++] = dl;
			put = 1;
		}
		t[n] = b->b_tf[i];
		d[n++] = b->b_dl[i];
	}
	if (!put) {
		t[n] = tf;
		d[n++] = dl;
	}
	/* One too many: the two smallest become one pair covering both. */
	i = 0;
	if (n > IXB_BOUNDS) {
		d[1] = d[0];
		i = 1;
	}
	memset(b, 0, sizeof(*b));
	for (j = 0; i < n; i++, j++) {
		b->b_tf[j] = t[i];
		b->b_dl[j] = d[i];
	}
}

void
ixbound_merge(struct ixbound *to, const struct ixbound *from)
{
	int	 i;

	for (i = 0; i < IXB_BOUNDS && from->b_tf[i] != 0; i++)
		ixbound_add(to, from->b_tf[i], from->b_dl[i]);
}

/* Is (tf, dl) under the bound? */
int
ixbound_covers(const struct ixbound *b, uint32_t tf, uint32_t dl)
{
	int	 i;

	for (i = 0; i < IXB_BOUNDS && b->b_tf[i] != 0; i++)
		if (b->b_tf[i] >= tf && b->b_dl[i] <= dl)
			return (1);
	return (0);
}

/* The largest BM25 term part (without idf) of a posting under b. */
double
ixbound_max(const struct ixbound *b, double k1, double bb, double avgdl)
{
	double	 best = 0.0, tf, s;
	int	 i;

	for (i = 0; i < IXB_BOUNDS && b->b_tf[i] != 0; i++) {
		tf = b->b_tf[i];
		s = tf * (k1 + 1.0) / (tf + k1 * (1.0 - bb + bb * b->b_dl[i] /
		    avgdl));
		if (s > best)
			best = s;
	}
	return (best);
}

/*
 * The format of the index's block store: from its meta record, kept in
 * ix once read (an index's format never changes); ixblk_format_new for
 * an index not yet made.  -1 on an error.
 */
int
ixblk_format(MDB_txn *txn, struct index *ix)
{
	struct ixmeta	 m;

	if (ix->ix_format != 0)
		return (ix->ix_format);
	if (index_meta_get(txn, ix, &m) != 0)
		return (-1);
	return (m.m_format);
}

static size_t
ixb_putvarint(uint8_t *out, uint64_t v)
{
	size_t	 len = 0;

	while (v >= 0x80) {
		out[len++] = (v & 0x7f) | 0x80;
		v >>= 7;
	}
	out[len++] = v;
	return (len);
}

/* The most bytes a block header takes in the format. */
size_t
ixblk_hdrmax(int format)
{
	if (format == 1)
		return (sizeof(struct ixblkhdr));
	/* postings and pairs (2), last cid's span (5), pairs (3 + 3). */
	return (2 + 5 + IXB_BOUNDS * 6);
}

/* A block's header into out (ixblk_hdrmax bytes); its size. */
size_t
ixblk_hdr_encode(int format, const struct ixblkhdr *h, uint32_t first,
    uint8_t *out)
{
	size_t	 len, i;

	if (format == 1) {
		memcpy(out, h, sizeof(*h));
		return (sizeof(*h));
	}
	for (i = 0; i < IXB_BOUNDS && h->bh_bound.b_tf[i] != 0; i++)
		;
	len = ixb_putvarint(out, (uint64_t)h->bh_n << 3 | i);
	len += ixb_putvarint(out + len, h->bh_last - first);
	for (i = 0; i < IXB_BOUNDS && h->bh_bound.b_tf[i] != 0; i++) {
		len += ixb_putvarint(out + len, h->bh_bound.b_tf[i]);
		len += ixb_putvarint(out + len, h->bh_bound.b_dl[i]);
	}
	return (len);
}

/*
 * The header of the block v, whose key's cid is first, into h, and the
 * offset of its postings into *off: 0, or -1 when damaged.
 */
int
ixblk_hdr_decode(int format, const MDB_val *v, uint32_t first,
    struct ixblkhdr *h, size_t *off)
{
	const uint8_t	*p = v->mv_data, *end = p + v->mv_size;
	uint64_t	 x, tf, dl;
	size_t		 i, np;

	memset(h, 0, sizeof(*h));
	if (format == 1) {
		if (v->mv_size < sizeof(*h))
			return (-1);
		memcpy(h, v->mv_data, sizeof(*h));
		*off = sizeof(*h);
		return (0);
	}
	if (ix_getvarint(&p, end, &x) == -1 || (x >> 3) > UINT16_MAX ||
	    (np = x & 7) > IXB_BOUNDS)
		return (-1);
	h->bh_n = x >> 3;
	if (ix_getvarint(&p, end, &x) == -1 || x > UINT32_MAX - first)
		return (-1);
	h->bh_last = first + x;
	for (i = 0; i < np; i++) {
		if (ix_getvarint(&p, end, &tf) == -1 ||
		    ix_getvarint(&p, end, &dl) == -1 || tf == 0 ||
		    tf > UINT16_MAX || dl > UINT16_MAX)
			return (-1);
		h->bh_bound.b_tf[i] = tf;
		h->bh_bound.b_dl[i] = dl;
	}
	*off = p - (const uint8_t *)v->mv_data;
	return (0);
}

int
ixblk_terminfo(MDB_txn *txn, struct index *ix, const char *term,
    size_t len, struct ixterminfo *ti)
{
	MDB_val	 k, v;
	int	 rc, format;

	memset(ti, 0, sizeof(*ti));
	if ((format = ixblk_format(txn, ix)) == -1)
		return (MDB_CORRUPTED);
	k.mv_size = len;
	k.mv_data = (void *)term;
	if ((rc = mdb_get(txn, index_dbi(ix, IDB_TERMS), &k, &v)) != 0)
		return (rc);
	return (ixblk_terminfo_decode(&v, format, ti) == 0 ? 0 :
	    MDB_CORRUPTED);
}

/*
 * A terms value: varint postings, varint blocks, then the bound's pairs,
 * varint tf and varint length each, to the end (a tf of 0 ends them
 * too).  In format 1, the first stores wrote a struct ixterminfo as it
 * is, 32 bytes: a value of that size is read so, and a varint value that
 * would come out as long gets a 0 more.  In format 2, a term of no
 * blocks has its postings inline, after a 0 (ixblk_termval).  Returns the
 * size written in out.
 */
size_t
ixblk_terminfo_encode(const struct ixterminfo *ti, int format,
    uint8_t out[IXB_TERMINFO_MAX])
{
	uint64_t	 v[2 + 2 * IXB_BOUNDS];
	size_t		 n = 0, i, len = 0;

	v[n++] = ti->ti_df;
	v[n++] = ti->ti_blocks;
	for (i = 0; i < IXB_BOUNDS && ti->ti_bound.b_tf[i] != 0; i++) {
		v[n++] = ti->ti_bound.b_tf[i];
		v[n++] = ti->ti_bound.b_dl[i];
	}
	for (i = 0; i < n; i++) {
		while (v[i] >= 0x80) {
			out[len++] = (v[i] & 0x7f) | 0x80;
			v[i] >>= 7;
		}
		out[len++] = v[i];
	}
	if (format == 1 && len == IXB_TERMINFO_V0)
		out[len++] = 0;
	return (len);
}

/* A terms value, with inline postings (len bytes; none: 0) in format 2. */
size_t
ixblk_termval(const struct ixterminfo *ti, int format, const uint8_t *inl,
    size_t inllen, uint8_t out[IXB_TERMVAL_MAX])
{
	size_t	 len;

	len = ixblk_terminfo_encode(ti, format, out);
	if (format >= 2 && inllen > 0 && inllen <= IXB_INLINE_MAX) {
		out[len++] = 0;
		memcpy(out + len, inl, inllen);
		len += inllen;
	}
	return (len);
}

/*
 * A terms value read into ti: 0, or -1 when damaged.  Inline postings
 * are left where they are, at ti_inline, valid as long as v.
 */
int
ixblk_terminfo_decode(const MDB_val *v, int format, struct ixterminfo *ti)
{
	const uint8_t	*p = v->mv_data, *end = p + v->mv_size;
	uint64_t	 tf, dl;
	size_t		 i;

	memset(ti, 0, sizeof(*ti));
	if (format == 1 && v->mv_size == IXB_TERMINFO_V0) {
		memcpy(ti, v->mv_data, IXB_TERMINFO_V0);
		return (0);
	}
	if (ix_getvarint(&p, end, &ti->ti_df) == -1 ||
	    ix_getvarint(&p, end, &ti->ti_blocks) == -1)
		return (-1);
	for (i = 0; p < end && *p != 0; i++) {
		if (i == IXB_BOUNDS || ix_getvarint(&p, end, &tf) == -1 ||
		    ix_getvarint(&p, end, &dl) == -1 || tf > UINT16_MAX ||
		    dl > UINT16_MAX)
			return (-1);
		ti->ti_bound.b_tf[i] = tf;
		ti->ti_bound.b_dl[i] = dl;
	}
	if (format == 1)
		return (0);
	if (p < end && ++p < end) {
		ti->ti_inline = p;
		ti->ti_inlinelen = end - p;
	}
	/* Inline postings exactly when there are no blocks. */
	if ((ti->ti_blocks == 0) != (ti->ti_inline != NULL) ||
	    ti->ti_inlinelen > IXB_INLINE_MAX || ti->ti_df == 0)
		return (-1);
	return (0);
}

/*
 * A term's inline postings as a block: its first cid, header and the
 * offset of its postings in ti_inline.  0, or -1 when damaged.
 */
int
ixblk_inline(const struct ixterminfo *ti, uint32_t *first,
    struct ixblkhdr *h, size_t *off)
{
	const uint8_t	*p = ti->ti_inline, *end = p + ti->ti_inlinelen;
	uint64_t	 f, span;

	memset(h, 0, sizeof(*h));
	if (ix_getvarint(&p, end, &f) == -1 ||
	    ix_getvarint(&p, end, &span) == -1 || f > UINT32_MAX ||
	    span > UINT32_MAX - f || ti->ti_df > IXB_MAX)
		return (-1);
	*first = f;
	h->bh_last = f + span;
	h->bh_n = ti->ti_df;
	h->bh_bound = ti->ti_bound;
	*off = p - ti->ti_inline;
	return (0);
}

/* Inline postings from a block's (len bytes at body): their size in out,
 * or 0 when they would not fit in IXB_INLINE_MAX. */
size_t
ixblk_inline_encode(uint32_t first, uint32_t last, const uint8_t *body,
    size_t len, uint8_t out[IXB_INLINE_MAX])
{
	uint8_t	 hb[10];
	size_t	 n;

	n = ixb_putvarint(hb, first);
	n += ixb_putvarint(hb + n, last - first);
	if (n + len > IXB_INLINE_MAX)
		return (0);
	memcpy(out, hb, n);
	memcpy(out + n, body, len);
	return (n + len);
}

/* Cursors. */

/* Make the block of first cid, header h and postings p..end current. */
static int
ixbcur_set(struct ixbcur *bc, uint32_t first, const struct ixblkhdr *h,
    const uint8_t *p, const uint8_t *end)
{
	bc->bc_first = first;
	if (first >= bc->bc_limit) {
		bc->bc_end = 1;
		return (0);
	}
	bc->bc_hdr = *h;
	if (h->bh_n == 0 || h->bh_last < first)
		return (-1);
	bc->bc_p = p;
	bc->bc_pend = end;
	bc->bc_left = h->bh_n;
	bc->bc_at = 0;
	bc->bc_posleft = 0;
	return (1);
}

/* Take the block under the LMDB cursor, or end the cursor. */
static int
ixbcur_load(struct ixbcur *bc, const MDB_val *k, const MDB_val *v)
{
	struct ixblkhdr	 h;
	uint32_t	 first;
	size_t		 off;

	first = util_get_be32((const uint8_t *)k->mv_data + bc->bc_len + 1);
	if (first >= bc->bc_limit) {
		bc->bc_first = first;
		bc->bc_end = 1;
		return (0);
	}
	if (ixblk_hdr_decode(bc->bc_format, v, first, &h, &off) == -1)
		return (-1);
	return (ixbcur_set(bc, first, &h, (const uint8_t *)v->mv_data + off,
	    (const uint8_t *)v->mv_data + v->mv_size));
}

/* Walk the LMDB cursor (op) to the term's next block. */
static int
ixbcur_step(struct ixbcur *bc, MDB_val *k, MDB_val *v, MDB_cursor_op op)
{
	int	 rc, m;

	for (;;) {
		if ((rc = mdb_cursor_get(bc->bc_c, k, v, op)) != 0) {
			bc->bc_end = 1;
			return (rc == MDB_NOTFOUND ? 0 : -1);
		}
		if ((m = ixblk_match(k, bc->bc_term, bc->bc_len)) == 1)
			return (1);
		if (m == -1) {
			bc->bc_end = 1;
			return (0);
		}
		op = op == MDB_PREV ? MDB_PREV : MDB_NEXT;
	}
}

/* A term of format 2 with its postings inline: its one block. */
static int
ixbcur_inline(struct ixbcur *bc, const struct ixterminfo *ti)
{
	struct ixblkhdr	 h;
	uint32_t	 first;
	size_t		 off;

	if (ixblk_inline(ti, &first, &h, &off) == -1)
		return (-1);
	return (ixbcur_set(bc, first, &h, ti->ti_inline + off,
	    ti->ti_inline + ti->ti_inlinelen));
}

int
ixbcur_open(struct ixbcur *bc, MDB_txn *txn, struct index *ix,
    const char *term, size_t len, uint32_t limit)
{
	struct ixterminfo ti;
	uint8_t		 kb[IXB_KEY_MAX];
	MDB_val		 k, v;
	int		 rv, rc;

	memset(bc, 0, sizeof(*bc));
	if (len > IX_TERM_MAX || (bc->bc_format = ixblk_format(txn, ix)) == -1)
		return (-1);
	memcpy(bc->bc_term, term, len);
	bc->bc_len = len;
	bc->bc_limit = limit;
	ixnorm_init(&bc->bc_norm, txn, ix);
	if (bc->bc_format >= 2) {
		rc = ixblk_terminfo(txn, ix, term, len, &ti);
		if (rc == MDB_NOTFOUND) {
			bc->bc_end = 1;
			return (0);
		}
		if (rc != 0)
			return (-1);
		if (ti.ti_inline != NULL)
			return (ixbcur_inline(bc, &ti));
	}
	if (mdb_cursor_open(txn, index_dbi(ix, IDB_BLOCKS), &bc->bc_c) != 0) {
		bc->bc_c = NULL;
		return (-1);
	}
	k.mv_size = ixblk_key(kb, term, len, 0);
	k.mv_data = kb;
	if ((rv = ixbcur_step(bc, &k, &v, MDB_SET_RANGE)) != 1)
		return (rv);
	return (ixbcur_load(bc, &k, &v));
}

void
ixbcur_close(struct ixbcur *bc)
{
	if (bc->bc_c != NULL)
		mdb_cursor_close(bc->bc_c);
	bc->bc_c = NULL;
}

static int
ixbcur_nextblock(struct ixbcur *bc)
{
	MDB_val	 k, v;
	int	 rv;

	if (bc->bc_c == NULL)
		bc->bc_end = 1;		/* inline: its one block */
	if (bc->bc_end)
		return (0);
	if ((rv = ixbcur_step(bc, &k, &v, MDB_NEXT)) != 1)
		return (rv);
	return (ixbcur_load(bc, &k, &v));
}

/*
 * Move to the first block that ends at or after cid, without decoding.
 * Up to IXB_NEAR blocks ahead are stepped to one by one: a step within
 * a leaf page costs less than the search from the root that a far
 * move makes.
 */
#define IXB_NEAR	4
static int
ixbcur_block(struct ixbcur *bc, uint32_t cid)
{
	struct ixblkhdr	 h;
	uint8_t		 kb[IXB_KEY_MAX];
	MDB_val		 k, v;
	size_t		 off;
	int		 i, rv, rc;

	if (bc->bc_end)
		return (0);
	if (bc->bc_hdr.bh_last >= cid)
		return (1);
	/*
	 * Near: a few blocks on, the next ones in the same leaf page most
	 * likely, stepped to without a search from the root.
	 */
	for (i = 0; i < IXB_NEAR; i++)
		if ((rv = ixbcur_nextblock(bc)) != 1 ||
		    bc->bc_hdr.bh_last >= cid)
			return (rv);
	/*
	 * Far ahead: the block before the first key at or past cid (the
	 * last in the database if there is none) may span cid.  That key
	 * may be another term's: the block before it is still ours.
	 */
	k.mv_size = ixblk_key(kb, bc->bc_term, bc->bc_len, cid);
	k.mv_data = kb;
	rc = mdb_cursor_get(bc->bc_c, &k, &v, MDB_SET_RANGE);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (-1);
	bc->bc_end = 0;
	if (ixbcur_step(bc, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST) == 1 &&
	    ixblk_hdr_decode(bc->bc_format, &v, util_get_be32(
	    (const uint8_t *)k.mv_data + bc->bc_len + 1), &h, &off) == 0 &&
	    h.bh_last >= cid)
		return (ixbcur_load(bc, &k, &v));
	/* Not in the one before: the one found, after it. */
	bc->bc_end = 0;
	k.mv_size = ixblk_key(kb, bc->bc_term, bc->bc_len, cid);
	k.mv_data = kb;
	if ((rv = ixbcur_step(bc, &k, &v, MDB_SET_RANGE)) != 1)
		return (rv);
	return (ixbcur_load(bc, &k, &v));
}

/* A varint of the postings: most are one byte, read here without a call. */
static inline int
ixbcur_varint(const uint8_t **c, const uint8_t *end, uint64_t *v)
{
	if (*c < end && (**c & 0x80) == 0) {
		*v = *(*c)++;
		return (0);
	}
	return (ix_getvarint(c, end, v));
}

/*
 * Step to the next posting, reading its cid and tf (and format 1's
 * length) and leaving its length in norms unread: a seek steps over
 * most of the postings it passes.  1, 0 at the end of the word's
 * blocks, -1 on a damaged block.  The bytes are read through a local
 * pointer, as in ixpost_next.
 */
static inline int
ixbcur_step_post(struct ixbcur *bc)
{
	const uint8_t	*c, *end;
	uint64_t	 delta, tf, dl = 0;
	uint32_t	 i;
	int		 rv;

	if (bc->bc_left == 0) {
		if ((rv = ixbcur_nextblock(bc)) != 1)
			return (rv);
	}
	c = bc->bc_p;
	end = bc->bc_pend;
	/* Skip unread positions: a varint ends at a byte below 0x80. */
	for (i = bc->bc_posleft; i > 0; c++) {
		if (c == end)
			return (-1);
		i -= (*c & 0x80) == 0;
	}
	if (ixbcur_varint(&c, end, &delta) == -1 ||
	    ixbcur_varint(&c, end, &tf) == -1 ||
	    (bc->bc_format == 1 && ixbcur_varint(&c, end, &dl) == -1) ||
	    tf == 0)
		return (-1);
	bc->bc_p = c;
	delta += bc->bc_at == 0 ? bc->bc_first : bc->bc_cid;
	if (delta > bc->bc_hdr.bh_last || (bc->bc_at > 0 && delta <= bc->bc_cid))
		return (-1);
	bc->bc_cid = delta;
	bc->bc_tf = tf;
	bc->bc_dl = dl;
	bc->bc_pos = c;
	bc->bc_posleft = tf;
	bc->bc_at++;
	bc->bc_left--;
	return (1);
}

/* Land on the posting stepped to: past the limit, the end; its length. */
static inline int
ixbcur_land(struct ixbcur *bc)
{
	uint32_t	 ndl;

	if (bc->bc_cid >= bc->bc_limit) {
		bc->bc_end = 1;
		return (0);
	}
	if (bc->bc_format >= 2) {
		if (ixnorm_get(&bc->bc_norm, bc->bc_cid, &ndl) != 0)
			return (-1);
		bc->bc_dl = ndl;
	}
	return (1);
}

/*
 * The next posting: bc_cid, bc_tf, bc_dl, and its positions at bc_pos.
 * 1, 0 at the end, -1 on a damaged block.
 */
int
ixbcur_next(struct ixbcur *bc)
{
	int	 rv;

	if (bc->bc_end)
		return (0);
	if ((rv = ixbcur_step_post(bc)) != 1)
		return (rv);
	return (ixbcur_land(bc));
}

/* The first posting at or after cid (a current one counts). */
int
ixbcur_seek(struct ixbcur *bc, uint32_t cid)
{
	int	 rv;

	if (bc->bc_end)
		return (0);
	if (bc->bc_at > 0 && bc->bc_cid >= cid)
		return (1);
	if (bc->bc_hdr.bh_last < cid && (rv = ixbcur_block(bc, cid)) != 1)
		return (rv);
	while ((rv = ixbcur_step_post(bc)) == 1 && bc->bc_cid < cid &&
	    bc->bc_cid < bc->bc_limit)
		;
	if (rv != 1)
		return (rv);
	return (ixbcur_land(bc));
}

/*
 * Shallow move: to the block that may hold cid, decoding nothing.  The
 * bound of that block if it spans cid, else NULL (cid falls between
 * blocks, or past the last).
 */
const struct ixbound *
ixbcur_shallow(struct ixbcur *bc, uint32_t cid)
{
	if (bc->bc_at > 0 && bc->bc_cid == cid)
		return (&bc->bc_hdr.bh_bound);
	if (bc->bc_hdr.bh_last < cid && ixbcur_block(bc, cid) != 1)
		return (NULL);
	if (bc->bc_end || bc->bc_first > cid)
		return (NULL);
	return (&bc->bc_hdr.bh_bound);
}

/* One posting of a block: its cid, tf, length and where its bytes are. */
struct ixb_post {
	const uint8_t	*bp_p;		/* the next posting */
	const uint8_t	*bp_end;
	uint32_t	 bp_cid;
	uint32_t	 bp_tf;
	uint32_t	 bp_dl;
	const uint8_t	*bp_body;	/* tf, length (format 1), positions */
	size_t		 bp_bodylen;
	int		 bp_format;
	struct ixnorm	*bp_nr;		/* format 2: the lengths */
};

/* A walk over the postings from p to end; in format 2 nr has their
 * lengths. */
static void
ixb_post_init(struct ixb_post *bp, int format, struct ixnorm *nr,
    const uint8_t *p, const uint8_t *end)
{
	memset(bp, 0, sizeof(*bp));
	bp->bp_format = format;
	bp->bp_nr = nr;
	bp->bp_p = p;
	bp->bp_end = end;
}

static int
ixb_post_next(struct ixb_post *bp, uint32_t first, int at)
{
	uint64_t	 delta, tf, dl = 0, pos;
	uint32_t	 i, ndl;

	if (ix_getvarint(&bp->bp_p, bp->bp_end, &delta) == -1)
		return (-1);
	bp->bp_body = bp->bp_p;
	if (ix_getvarint(&bp->bp_p, bp->bp_end, &tf) == -1 ||
	    (bp->bp_format == 1 && ix_getvarint(&bp->bp_p, bp->bp_end, &dl) ==
	    -1) || tf == 0 || tf > UINT16_MAX || dl > UINT16_MAX)
		return (-1);
	for (i = 0; i < tf; i++)
		if (ix_getvarint(&bp->bp_p, bp->bp_end, &pos) == -1)
			return (-1);
	delta += at == 0 ? first : bp->bp_cid;
	if (delta > UINT32_MAX || (at > 0 && delta <= bp->bp_cid))
		return (-1);
	bp->bp_cid = delta;
	if (bp->bp_format >= 2) {
		if (ixnorm_get(bp->bp_nr, delta, &ndl) != 0)
			return (-2);	/* no length: bp_cid has the chunk */
		dl = ndl;
	}
	bp->bp_tf = tf;
	bp->bp_dl = dl;
	bp->bp_bodylen = bp->bp_p - bp->bp_body;
	return (0);
}

static int
ixb_terminfo_sub(MDB_txn *txn, struct index *ix, int format, const char *t,
    size_t tl, uint64_t postings, uint64_t blocks, struct ixfold *res)
{
	struct ixterminfo	 ti;
	uint8_t			 tv[IXB_TERMINFO_MAX];
	MDB_val			 k, v;
	int			 rc;

	if ((rc = ixblk_terminfo(txn, ix, t, tl, &ti)) != 0)
		return (rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
	ti.ti_df = ti.ti_df > postings ? ti.ti_df - postings : 0;
	ti.ti_blocks = ti.ti_blocks > blocks ? ti.ti_blocks - blocks : 0;
	k.mv_size = tl;
	k.mv_data = (void *)t;
	if (ti.ti_df == 0) {
		res->f_terms++;
		return (mdb_del(txn, index_dbi(ix, IDB_TERMS), &k, NULL));
	}
	v.mv_size = ixblk_terminfo_encode(&ti, format, tv);
	v.mv_data = tv;
	return (mdb_put(txn, index_dbi(ix, IDB_TERMS), &k, &v, 0));
}

/*
 * The n postings at bp (the first at cid first) without those of
 * chunks in dead (if not NULL), onto out, with their header nh and
 * first cid *nfirst; *dropped gets how many were left out.  With live
 * (not NULL), a chunk's cid becomes its rank in live (ixblk_renum).
 * 0, or -1 when damaged.
 */
static int
ixb_drop(struct ixb_post *bp0, uint32_t first, uint32_t n,
    const roaring_bitmap_t *dead, const roaring_bitmap_t *live,
    struct buf *out, struct ixblkhdr *nh, uint32_t *nfirst,
    uint32_t *dropped)
{
	struct ixb_post	 bp = *bp0;
	uint32_t	 i, cid, prev = 0;

	memset(nh, 0, sizeof(*nh));
	*nfirst = *dropped = 0;
	for (i = 0; i < n; i++) {
		if (ixb_post_next(&bp, first, i) != 0)
			return (-1);
		if (dead != NULL && roaring_bitmap_contains(dead, bp.bp_cid)) {
			(*dropped)++;
			continue;
		}
		cid = bp.bp_cid;
		if (live != NULL && !roaring_bitmap_contains(live, cid))
			return (-1);	/* a posting of no chunk */
		/* The rank from the last one's: counts the gap alone. */
		if (live != NULL)
			cid = nh->bh_n == 0 ? roaring_bitmap_rank(live, cid) :
			    nh->bh_last + roaring_bitmap_range_cardinality(live,
			    (uint64_t)prev + 1, (uint64_t)cid + 1);
		prev = bp.bp_cid;
		if (nh->bh_n == 0)
			*nfirst = cid;
		ix_varint(out, nh->bh_n == 0 ? 0 : cid - nh->bh_last);
		buf_add(out, bp.bp_body, bp.bp_bodylen);
		nh->bh_n++;
		nh->bh_last = cid;
		ixbound_add(&nh->bh_bound, bp.bp_tf, bp.bp_dl);
	}
	return (bp.bp_p == bp.bp_end ? 0 : -1);
}

/* One block of the sweep: rewritten without the dead, or dropped. */
static int
ixb_purge_block(MDB_txn *txn, struct index *ix, int format, MDB_cursor *c,
    const MDB_val *k, const MDB_val *v, const roaring_bitmap_t *dead,
    struct ixfold *res)
{
	struct ixblkhdr	 h, nh;
	struct ixb_post	 bp;
	struct ixnorm	 nr;
	struct buf	 out;
	MDB_val		 nk, nv;
	uint8_t		 kb[IXB_KEY_MAX];
	uint8_t		 hb[sizeof(h) + 2 + 5 + IXB_BOUNDS * 6];
	char		 term[IX_TERM_MAX + 1];
	uint32_t	 first, nfirst, dropped;
	size_t		 tl, off;
	int		 rc;

	tl = k->mv_size - 5;
	first = util_get_be32((uint8_t *)k->mv_data + tl + 1);
	memcpy(term, k->mv_data, tl);
	buf_init(&out);
	ixnorm_init(&nr, txn, ix);
	if (ixblk_hdr_decode(format, v, first, &h, &off) == -1)
		off = v->mv_size + 1;
	ixb_post_init(&bp, format, &nr, (const uint8_t *)v->mv_data + off,
	    (const uint8_t *)v->mv_data + v->mv_size);
	if (off > v->mv_size || ixb_drop(&bp, first, h.bh_n, dead, NULL, &out,
	    &nh, &nfirst, &dropped) == -1) {
		rc = MDB_CORRUPTED;
		goto out;
	}
	if ((rc = mdb_cursor_del(c, 0)) != 0)
		goto out;
	if (nh.bh_n > 0) {
		off = ixblk_hdr_encode(format, &nh, nfirst, hb);
		nk.mv_size = ixblk_key(kb, term, tl, nfirst);
		nk.mv_data = kb;
		nv.mv_size = off + out.b_len;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_BLOCKS), &nk, &nv,
		    MDB_RESERVE)) != 0)
			goto out;
		memcpy(nv.mv_data, hb, off);
		memcpy((uint8_t *)nv.mv_data + off, out.b_data, out.b_len);
		res->f_bytes += nv.mv_size;
	} else
		res->f_blocks++;
	res->f_postings += dropped;
	rc = ixb_terminfo_sub(txn, ix, format, term, tl, dropped,
	    nh.bh_n == 0, res);
out:
	buf_free(&out);
	return (rc);
}

/*
 * The start of a sweep's pass over a database: a cursor at the key in
 * from (empty: the first), and the get's return; *c is NULL, and the
 * return the error, when no cursor opened.
 */
static int
ixb_sweep_start(MDB_txn *txn, MDB_dbi dbi, const struct buf *from,
    MDB_cursor **c, MDB_val *k, MDB_val *v)
{
	int	 rc;

	if ((rc = mdb_cursor_open(txn, dbi, c)) != 0) {
		*c = NULL;
		return (rc);
	}
	k->mv_size = from->b_len;
	k->mv_data = from->b_data;
	return (mdb_cursor_get(*c, k, v, from->b_len == 0 ? MDB_FIRST :
	    MDB_SET_RANGE));
}

/*
 * The end of a sweep's pass over a database: with the cursor at k after
 * rc, *done when it ran off the end, else from holds where to go on.
 */
static int
ixb_sweep_end(MDB_cursor *c, int rc, const MDB_val *k, struct buf *from,
    int *done)
{
	if (rc == MDB_NOTFOUND) {
		*done = 1;
		rc = 0;
	} else if (rc == 0) {
		buf_reset(from);
		buf_add(from, k->mv_data, k->mv_size);
	}
	mdb_cursor_close(c);
	return (rc);
}

/* The blocks' part of a sweep, from the key in from (empty: the first). */
static int
ixb_purge_blocks(MDB_txn *txn, struct index *ix, int format,
    const roaring_bitmap_t *dead, struct buf *from, size_t *budget,
    int *done, struct ixfold *res)
{
	struct ixblkhdr	 h;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint8_t		 kb[IXB_KEY_MAX];
	size_t		 tl, off;
	uint32_t	 first;
	int		 rc;

	rc = ixb_sweep_start(txn, index_dbi(ix, IDB_BLOCKS), from, &c, &k, &v);
	if (c == NULL)
		return (rc);
	for (; rc == 0 && *budget > 0; (*budget)--) {
		if (k.mv_size < 5 || k.mv_size > IXB_KEY_MAX) {
			rc = MDB_CORRUPTED;
			break;
		}
		tl = k.mv_size - 5;
		first = util_get_be32((uint8_t *)k.mv_data + tl + 1);
		if (ixblk_hdr_decode(format, &v, first, &h, &off) == -1) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (h.bh_last < first || roaring_bitmap_range_cardinality(dead,
		    first, (uint64_t)h.bh_last + 1) == 0) {
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		/* Rewrite it without them, and on after its range. */
		memcpy(kb, k.mv_data, k.mv_size);
		if ((rc = ixb_purge_block(txn, ix, format, c, &k, &v, dead,
		    res)) != 0)
			break;
		util_put_be32(kb + tl + 1, h.bh_last == UINT32_MAX ?
		    UINT32_MAX : h.bh_last + 1);
		k.mv_size = tl + 5;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	}
	return (ixb_sweep_end(c, rc, &k, from, done));
}

/* One term's inline postings without the dead: rewritten or dropped. */
static int
ixb_purge_inline(MDB_txn *txn, struct index *ix, const MDB_val *k,
    struct ixterminfo *ti, const roaring_bitmap_t *dead, struct ixfold *res)
{
	struct ixblkhdr	 h, nh;
	struct ixb_post	 bp;
	struct ixnorm	 nr;
	struct buf	 out;
	uint8_t		 inl[IXB_INLINE_MAX], tv[IXB_TERMVAL_MAX];
	uint32_t	 first, nfirst, dropped;
	size_t		 off, len;
	MDB_val		 v;
	int		 rc;

	buf_init(&out);
	ixnorm_init(&nr, txn, ix);
	if (ixblk_inline(ti, &first, &h, &off) == -1)
		off = ti->ti_inlinelen + 1;
	ixb_post_init(&bp, 2, &nr, ti->ti_inline + off,
	    ti->ti_inline + ti->ti_inlinelen);
	if (off > ti->ti_inlinelen || ixb_drop(&bp, first, h.bh_n, dead, NULL,
	    &out, &nh, &nfirst, &dropped) == -1) {
		rc = MDB_CORRUPTED;
		goto out;
	}
	res->f_postings += dropped;
	if (nh.bh_n == 0) {
		res->f_terms++;
		rc = mdb_del(txn, index_dbi(ix, IDB_TERMS), (MDB_val *)k, NULL);
		goto out;
	}
	/* Fewer postings, as many bytes at most: it fits. */
	if ((len = ixblk_inline_encode(nfirst, nh.bh_last,
	    (const uint8_t *)out.b_data,
	    out.b_len, inl)) == 0) {
		rc = MDB_CORRUPTED;
		goto out;
	}
	ti->ti_df = nh.bh_n;
	ti->ti_bound = nh.bh_bound;
	v.mv_size = ixblk_termval(ti, 2, inl, len, tv);
	v.mv_data = tv;
	rc = mdb_put(txn, index_dbi(ix, IDB_TERMS), (MDB_val *)k, &v, 0);
	res->f_bytes += v.mv_size;
out:
	buf_free(&out);
	return (rc);
}

/* The inline postings' part of a sweep (format 2), from the term in from. */
static int
ixb_purge_terms(MDB_txn *txn, struct index *ix, const roaring_bitmap_t *dead,
    struct buf *from, size_t *budget, int *done, struct ixfold *res)
{
	struct ixterminfo ti;
	struct ixblkhdr	 h;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	char		 kb[IX_TERM_MAX];
	uint32_t	 first;
	size_t		 off, kl;
	int		 rc;

	rc = ixb_sweep_start(txn, index_dbi(ix, IDB_TERMS), from, &c, &k, &v);
	if (c == NULL)
		return (rc);
	for (; rc == 0 && *budget > 0; (*budget)--) {
		if (k.mv_size == 0 || k.mv_size > IX_TERM_MAX ||
		    ixblk_terminfo_decode(&v, 2, &ti) == -1 ||
		    (ti.ti_inline != NULL &&
		    ixblk_inline(&ti, &first, &h, &off) == -1)) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (ti.ti_inline == NULL || roaring_bitmap_range_cardinality(
		    dead, first, (uint64_t)h.bh_last + 1) == 0) {
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		kl = k.mv_size;
		memcpy(kb, k.mv_data, kl);
		k.mv_data = kb;
		if ((rc = ixb_purge_inline(txn, ix, &k, &ti, dead, res)) != 0)
			break;
		/* On after it. */
		k.mv_size = kl;
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == kl &&
		    memcmp(k.mv_data, kb, kl) == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	return (ixb_sweep_end(c, rc, &k, from, done));
}

/*
 * Sweep the block store from where from says (empty: the start) on,
 * dropping the postings of chunks in dead, until budget blocks or terms
 * have been looked at.  from gets where to go on from: a byte for the
 * part ('b' blocks, then in format 2 't' the terms' inline postings),
 * then a key; *done is set at the end.  A block, or a term's inline
 * postings, with none of them is passed over by its cid range alone.
 */
int
ixblk_purge(MDB_txn *txn, struct index *ix, const roaring_bitmap_t *dead,
    struct buf *from, size_t budget, int *done, struct ixfold *res)
{
	struct buf	 key;
	int		 rc = 0, format, part, pdone = 0;

	*done = 0;
	if ((format = ixblk_format(txn, ix)) == -1)
		return (MDB_CORRUPTED);
	part = from->b_len == 0 ? 'b' : ((uint8_t *)from->b_data)[0];
	buf_init(&key);
	if (from->b_len > 1)
		buf_add(&key, (uint8_t *)from->b_data + 1, from->b_len - 1);
	if (part == 'b') {
		rc = ixb_purge_blocks(txn, ix, format, dead, &key, &budget,
		    &pdone, res);
		if (rc == 0 && pdone && format >= 2) {
			part = 't';
			pdone = 0;
			buf_reset(&key);
		}
	}
	if (rc == 0 && part == 't' && !pdone && budget > 0)
		rc = ixb_purge_terms(txn, ix, dead, &key, &budget, &pdone,
		    res);
	else if (rc == 0 && part != 'b' && part != 't')
		rc = MDB_CORRUPTED;
	if (rc == 0 && pdone)
		*done = 1;
	else if (rc == 0) {
		buf_reset(from);
		buf_addc(from, part);
		buf_add(from, key.b_data, key.b_len);
	}
	buf_free(&key);
	return (rc);
}

/*
 * Numbering the chunks again (index_shrink.c): a chunk's new cid is its
 * rank among the live ones, so the order of every term's postings, and
 * of its blocks' keys, stays as it was, and each block keeps its
 * postings and bound.  txn and ix are the index as it is, whose norms
 * give the postings' lengths.
 */

/* A block (key k, value v) with its chunks numbered again, into nk, nv. */
int
ixblk_renum_block(MDB_txn *txn, struct index *ix, const MDB_val *k,
    const MDB_val *v, const roaring_bitmap_t *live, struct buf *nk,
    struct buf *nv)
{
	struct ixblkhdr	 h, nh;
	struct ixb_post	 bp;
	struct ixnorm	 nr;
	struct buf	 out;
	uint8_t		 kb[IXB_KEY_MAX];
	uint8_t		 hb[sizeof(h) + 2 + 5 + IXB_BOUNDS * 6];
	uint32_t	 first, nfirst, dropped;
	size_t		 tl, off;
	int		 rc = MDB_CORRUPTED;

	if (k->mv_size < 6 || k->mv_size > IXB_KEY_MAX)
		return (MDB_CORRUPTED);
	tl = k->mv_size - 5;
	first = util_get_be32((uint8_t *)k->mv_data + tl + 1);
	if (ixblk_hdr_decode(2, v, first, &h, &off) == -1 || off > v->mv_size)
		return (MDB_CORRUPTED);
	ixnorm_init(&nr, txn, ix);
	ixb_post_init(&bp, 2, &nr, (const uint8_t *)v->mv_data + off,
	    (const uint8_t *)v->mv_data + v->mv_size);
	buf_init(&out);
	if (ixb_drop(&bp, first, h.bh_n, NULL, live, &out, &nh, &nfirst,
	    &dropped) == 0 && nh.bh_n == h.bh_n) {
		buf_reset(nv);
		buf_add(nv, hb, ixblk_hdr_encode(2, &nh, nfirst, hb));
		buf_add(nv, out.b_data, out.b_len);
		buf_reset(nk);
		buf_add(nk, kb, ixblk_key(kb, k->mv_data, tl, nfirst));
		rc = 0;
	}
	buf_free(&out);
	return (rc);
}

/*
 * A terms value v with its inline postings' chunks numbered again, into
 * nv; a term with blocks keeps its value as it is.
 */
int
ixblk_renum_term(MDB_txn *txn, struct index *ix, const MDB_val *v,
    const roaring_bitmap_t *live, struct buf *nv)
{
	struct ixterminfo ti;
	struct ixblkhdr	 h, nh;
	struct ixb_post	 bp;
	struct ixnorm	 nr;
	struct buf	 out;
	uint8_t		 inl[IXB_INLINE_MAX], tv[IXB_TERMVAL_MAX];
	uint32_t	 first, nfirst, dropped;
	size_t		 off, len;
	int		 rc = MDB_CORRUPTED;

	buf_reset(nv);
	if (ixblk_terminfo_decode(v, 2, &ti) == -1)
		return (MDB_CORRUPTED);
	if (ti.ti_inline == NULL) {
		buf_add(nv, v->mv_data, v->mv_size);
		return (0);
	}
	if (ixblk_inline(&ti, &first, &h, &off) == -1 ||
	    off > ti.ti_inlinelen)
		return (MDB_CORRUPTED);
	ixnorm_init(&nr, txn, ix);
	ixb_post_init(&bp, 2, &nr, ti.ti_inline + off,
	    ti.ti_inline + ti.ti_inlinelen);
	buf_init(&out);
	/* Smaller cids take no more bytes: it fits as it did. */
	if (ixb_drop(&bp, first, h.bh_n, NULL, live, &out, &nh, &nfirst,
	    &dropped) == 0 && nh.bh_n == h.bh_n && (len =
	    ixblk_inline_encode(nfirst, nh.bh_last,
	    (const uint8_t *)out.b_data, out.b_len, inl)) > 0) {
		buf_add(nv, tv, ixblk_termval(&ti, 2, inl, len, tv));
		rc = 0;
	}
	buf_free(&out);
	return (rc);
}

/* Integrity: see index_check(). */

struct ixb_run {
	char		 r_term[IX_TERM_MAX + 1];
	size_t		 r_len;
	uint64_t	 r_postings;
	uint64_t	 r_blocks;
	uint32_t	 r_last;
	struct ixterminfo r_ti;
};

static int
ixb_check_run(const struct ixb_run *r, char *msg, size_t len)
{
	if (r->r_len == 0)
		return (0);
	if (r->r_ti.ti_df != r->r_postings || r->r_ti.ti_blocks != r->r_blocks) {
		snprintf(msg, len, "term %.*s: %llu postings in %llu blocks, "
		    "but its entry says %llu in %llu", (int)r->r_len - 1,
		    r->r_term + 1, (unsigned long long)r->r_postings,
		    (unsigned long long)r->r_blocks,
		    (unsigned long long)r->r_ti.ti_df,
		    (unsigned long long)r->r_ti.ti_blocks);
		return (1);
	}
	return (0);
}

/* What a check compares against. */
struct ixb_chk {
	const struct ixmeta	*k_m;
	uint32_t		 k_lo;		/* a fold under way */
	uint32_t		 k_hi;
	char			*k_msg;
	size_t			 k_len;
	int			 k_format;
	struct ixnorm		 k_nr;		/* format 2 */
};

/*
 * One block of r's term, or its inline postings (first 0 for those in
 * messages): 0, or 1 with the fault in msg.
 */
static int
ixb_check_block(struct ixb_chk *ck, struct ixb_run *r,
    const struct ixblkhdr *h, uint32_t first, const uint8_t *p,
    const uint8_t *end, int inl)
{
	struct ixb_post	 bp;
	const char	*t = r->r_term + 1;
	char		 where[64];
	int		 tl = (int)r->r_len - 1, rv;
	uint32_t	 i;

	if (inl)
		snprintf(where, sizeof(where), "its inline postings");
	else
		snprintf(where, sizeof(where), "block at chunk %u", first);
	if (h->bh_n == 0 || h->bh_n > IXB_MAX) {
		snprintf(ck->k_msg, ck->k_len, "term %.*s: %s: %u postings",
		    tl, t, where, h->bh_n);
		return (1);
	}
	ixb_post_init(&bp, ck->k_format, &ck->k_nr, p, end);
	for (i = 0; i < h->bh_n; i++) {
		if ((rv = ixb_post_next(&bp, first, i)) != 0) {
			if (rv == -2)
				snprintf(ck->k_msg, ck->k_len, "term %.*s: "
				    "chunk %u has no length in norms", tl, t,
				    bp.bp_cid);
			else
				snprintf(ck->k_msg, ck->k_len, "term %.*s: %s "
				    "is damaged", tl, t, where);
			return (1);
		}
		if (r->r_postings > 0 && bp.bp_cid <= r->r_last) {
			snprintf(ck->k_msg, ck->k_len, "term %.*s: chunk %u is "
			    "in two blocks, or out of order", tl, t, bp.bp_cid);
			return (1);
		}
		if (bp.bp_cid >= ck->k_m->m_next_cid ||
		    (bp.bp_cid >= ck->k_m->m_folded && (bp.bp_cid < ck->k_lo ||
		    bp.bp_cid >= ck->k_hi))) {
			snprintf(ck->k_msg, ck->k_len, "term %.*s: chunk %u is "
			    "past the folded chunks", tl, t, bp.bp_cid);
			return (1);
		}
		if (!ixbound_covers(&h->bh_bound, bp.bp_tf, bp.bp_dl) ||
		    !ixbound_covers(&r->r_ti.ti_bound, bp.bp_tf, bp.bp_dl)) {
			snprintf(ck->k_msg, ck->k_len, "term %.*s: chunk %u: a "
			    "posting above its %s's bound", tl, t, bp.bp_cid,
			    ixbound_covers(&h->bh_bound, bp.bp_tf, bp.bp_dl) ?
			    "term" : "block");
			return (1);
		}
		r->r_last = bp.bp_cid;
		r->r_postings++;
	}
	if (bp.bp_p != bp.bp_end || h->bh_last != r->r_last ||
	    first > h->bh_last) {
		snprintf(ck->k_msg, ck->k_len, "term %.*s: %s: its header does "
		    "not match its postings", tl, t, where);
		return (1);
	}
	return (0);
}

/* A new run of blocks, for the term of key k: 0, 1 or an LMDB error. */
static int
ixb_check_term(MDB_txn *txn, struct index *ix, struct ixb_chk *ck,
    struct ixb_run *r, const MDB_val *k, size_t tl)
{
	int	 rc;

	if ((rc = ixb_check_run(r, ck->k_msg, ck->k_len)) != 0)
		return (rc);
	memset(r, 0, sizeof(*r));
	memcpy(r->r_term, k->mv_data, tl);
	r->r_len = tl;
	rc = ixblk_terminfo(txn, ix, r->r_term, tl, &r->r_ti);
	if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
		snprintf(ck->k_msg, ck->k_len, "term %.*s: %s", (int)tl - 1,
		    r->r_term + 1, rc == MDB_NOTFOUND ? "blocks but no entry "
		    "in terms" : "its entry in terms is damaged");
		rc = 1;
	}
	return (rc);
}

/* The blocks database; *nterms gets the terms that have blocks. */
static int
ixb_check_blocks(MDB_txn *txn, struct index *ix, int format,
    struct ixb_chk *ck, uint64_t *nterms)
{
	struct ixblkhdr	 h;
	struct ixb_run	 r;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint64_t	 nblocks = 0;
	uint32_t	 first;
	size_t		 tl, off;
	int		 rc, op;

	memset(&r, 0, sizeof(r));
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_BLOCKS), &c)) != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size < 6 || k.mv_size > IXB_KEY_MAX ||
		    ((uint8_t *)k.mv_data)[k.mv_size - 5] != 0) {
			snprintf(ck->k_msg, ck->k_len, "a block key is "
			    "damaged");
			rc = 1;
			break;
		}
		tl = k.mv_size - 5;
		first = util_get_be32((uint8_t *)k.mv_data + tl + 1);
		if (tl != r.r_len || memcmp(k.mv_data, r.r_term, tl) != 0) {
			if ((rc = ixb_check_term(txn, ix, ck, &r, &k, tl)) != 0)
				break;
			(*nterms)++;
		}
		if (ixblk_hdr_decode(format, &v, first, &h, &off) == -1) {
			snprintf(ck->k_msg, ck->k_len, "term %.*s: block at "
			    "chunk %u: its header is damaged", (int)tl - 1,
			    r.r_term + 1, first);
			rc = 1;
			break;
		}
		if ((rc = ixb_check_block(ck, &r, &h, first,
		    (const uint8_t *)v.mv_data + off, (const uint8_t *)
		    v.mv_data + v.mv_size, 0)) != 0)
			break;
		r.r_blocks++;
		nblocks++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return (rc);
	if ((rc = ixb_check_run(&r, ck->k_msg, ck->k_len)) != 0)
		return (rc);
	if (nblocks != ck->k_m->m_blocks) {
		snprintf(ck->k_msg, ck->k_len, "%llu blocks, but the count "
		    "says %llu", (unsigned long long)nblocks,
		    (unsigned long long)ck->k_m->m_blocks);
		return (1);
	}
	return (0);
}

/* The terms database: entries, and inline postings (format 2). */
static int
ixb_check_terms(MDB_txn *txn, struct index *ix, int format,
    struct ixb_chk *ck, uint64_t nterms)
{
	struct ixblkhdr	 h;
	struct ixb_run	 r;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint64_t	 tentries = 0, ninline = 0;
	uint32_t	 first;
	size_t		 off;
	int		 rc, op;

	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_TERMS), &c)) != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		tentries++;
		if (format == 1)
			continue;
		memset(&r, 0, sizeof(r));
		r.r_len = k.mv_size > IX_TERM_MAX ? IX_TERM_MAX : k.mv_size;
		memcpy(r.r_term, k.mv_data, r.r_len);
		if (k.mv_size == 0 || k.mv_size > IX_TERM_MAX ||
		    ixblk_terminfo_decode(&v, format, &r.r_ti) == -1 ||
		    (r.r_ti.ti_inline != NULL && ixblk_inline(&r.r_ti, &first,
		    &h, &off) == -1)) {
			snprintf(ck->k_msg, ck->k_len, "term %.*s: its entry "
			    "in terms is damaged", (int)r.r_len - 1,
			    r.r_term + 1);
			rc = 1;
			break;
		}
		if (r.r_ti.ti_inline == NULL)
			continue;
		ninline++;
		if ((rc = ixb_check_block(ck, &r, &h, first,
		    r.r_ti.ti_inline + off, r.r_ti.ti_inline +
		    r.r_ti.ti_inlinelen, 1)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return (rc);
	if (tentries != nterms + ninline) {
		snprintf(ck->k_msg, ck->k_len, "%llu terms have blocks and "
		    "%llu inline postings, but terms has %llu entries",
		    (unsigned long long)nterms, (unsigned long long)ninline,
		    (unsigned long long)tentries);
		return (1);
	}
	return (0);
}

/*
 * Check the block store: postings decode, each term's cids rise
 * strictly across its blocks (no chunk in two blocks), every posting is
 * under its block's and its term's bounds, counts agree with terms,
 * every term entry has blocks or (format 2) inline postings that pass
 * the same checks, and nothing lies above the folded chunks but a fold
 * under way.  0, 1 with msg, or an LMDB error.
 */
int
ixblk_check(MDB_txn *txn, struct index *ix, const struct ixmeta *m,
    uint32_t fold_lo, uint32_t fold_hi, char *msg, size_t len)
{
	struct ixb_chk	 ck;
	uint64_t	 nterms = 0;
	int		 rc, format;

	ck.k_m = m;
	ck.k_lo = fold_lo;
	ck.k_hi = fold_hi;
	ck.k_msg = msg;
	ck.k_len = len;
	if ((format = ixblk_format(txn, ix)) == -1)
		return (MDB_CORRUPTED);
	ck.k_format = format;
	ixnorm_init(&ck.k_nr, txn, ix);
	if ((rc = ixb_check_blocks(txn, ix, format, &ck, &nterms)) != 0)
		return (rc);
	return (ixb_check_terms(txn, ix, format, &ck, nterms));
}
