/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The block store: the index's folded postings, per term in blocks of at
 * most IXB_MAX postings, each block one LMDB value small enough to live
 * in its leaf page (under the environment's inline node size, about 2 KB
 * with 4 KB pages), so that reading a block touches one page and
 * rewriting one copies one page.  (A lone posting bigger than that, a
 * word repeated hundreds of times in one chunk, is a block of its own.)
 *
 *	blocks	term, 0, first cid (4, big-endian) -> block
 *	terms	term -> postings and blocks of the term, and a bound on its
 *		postings' scores, as varints (ixblk_terminfo_encode)
 *
 * A block is a struct ixblkhdr (last cid, postings, bound), then per
 * posting in cid order: varint cid delta (from the previous posting, the
 * first from the key's cid, so 0), varint tf, varint length of the chunk
 * in words, then tf varint position deltas, as in a segment.  Headers
 * are copied out: a value in a page is only 2-byte aligned.
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
 * bitmap until a sweep (ixblk_purge) has dropped them from every block.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"

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

int
ixblk_terminfo(MDB_txn *txn, struct index *ix, const char *term,
    size_t len, struct ixterminfo *ti)
{
	MDB_val	 k, v;
	int	 rc;

	memset(ti, 0, sizeof(*ti));
	k.mv_size = len;
	k.mv_data = (void *)term;
	if ((rc = mdb_get(txn, index_dbi(ix, IDB_TERMS), &k, &v)) != 0)
		return (rc);
	return (ixblk_terminfo_decode(&v, ti) == 0 ? 0 : MDB_CORRUPTED);
}

/*
 * A terms value: varint postings, varint blocks, then the bound's pairs,
 * varint tf and varint length each, to the end (a tf of 0 ends them
 * too).  The first stores wrote a struct ixterminfo as it is, 32 bytes:
 * a value of that size is read so, and a varint value that would come
 * out as long gets a 0 more.  Returns the size written in out.
 */
size_t
ixblk_terminfo_encode(const struct ixterminfo *ti,
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
	if (len == sizeof(struct ixterminfo))
		out[len++] = 0;
	return (len);
}

/* A terms value read into ti: 0, or -1 when damaged. */
int
ixblk_terminfo_decode(const MDB_val *v, struct ixterminfo *ti)
{
	const uint8_t	*p = v->mv_data, *end = p + v->mv_size;
	uint64_t	 tf, dl;
	size_t		 i;

	memset(ti, 0, sizeof(*ti));
	if (v->mv_size == sizeof(*ti)) {
		memcpy(ti, v->mv_data, sizeof(*ti));
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
	return (0);
}

/* Cursors. */

/* Take the block under the LMDB cursor, or end the cursor. */
static int
ixbcur_load(struct ixbcur *bc, const MDB_val *k, const MDB_val *v)
{
	bc->bc_first = util_get_be32((const uint8_t *)k->mv_data + bc->bc_len +
	    1);
	if (bc->bc_first >= bc->bc_limit) {
		bc->bc_end = 1;
		return (0);
	}
	if (v->mv_size < sizeof(bc->bc_hdr))
		return (-1);
	memcpy(&bc->bc_hdr, v->mv_data, sizeof(bc->bc_hdr));
	if (bc->bc_hdr.bh_n == 0 || bc->bc_hdr.bh_last < bc->bc_first)
		return (-1);
	bc->bc_p = (const uint8_t *)v->mv_data + sizeof(bc->bc_hdr);
	bc->bc_pend = (const uint8_t *)v->mv_data + v->mv_size;
	bc->bc_left = bc->bc_hdr.bh_n;
	bc->bc_at = 0;
	bc->bc_posleft = 0;
	return (1);
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

int
ixbcur_open(struct ixbcur *bc, MDB_txn *txn, struct index *ix,
    const char *term, size_t len, uint32_t limit)
{
	uint8_t	 kb[IXB_KEY_MAX];
	MDB_val	 k, v;
	int	 rv;

	memset(bc, 0, sizeof(*bc));
	if (len > IX_TERM_MAX)
		return (-1);
	memcpy(bc->bc_term, term, len);
	bc->bc_len = len;
	bc->bc_limit = limit;
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

	if (bc->bc_end)
		return (0);
	if ((rv = ixbcur_step(bc, &k, &v, MDB_NEXT)) != 1)
		return (rv);
	return (ixbcur_load(bc, &k, &v));
}

/* Move to the first block that ends at or after cid, without decoding. */
static int
ixbcur_block(struct ixbcur *bc, uint32_t cid)
{
	uint8_t	 kb[IXB_KEY_MAX];
	MDB_val	 k, v;
	int	 rv, rc;

	if (bc->bc_end)
		return (0);
	if (bc->bc_hdr.bh_last >= cid)
		return (1);
	if ((rv = ixbcur_nextblock(bc)) != 1 || bc->bc_hdr.bh_last >= cid)
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
	    v.mv_size >= sizeof(bc->bc_hdr)) {
		memcpy(&bc->bc_hdr, v.mv_data, sizeof(bc->bc_hdr));
		if (bc->bc_hdr.bh_last >= cid)
			return (ixbcur_load(bc, &k, &v));
	}
	/* Not in the one before: the one found, after it. */
	bc->bc_end = 0;
	k.mv_size = ixblk_key(kb, bc->bc_term, bc->bc_len, cid);
	k.mv_data = kb;
	if ((rv = ixbcur_step(bc, &k, &v, MDB_SET_RANGE)) != 1)
		return (rv);
	return (ixbcur_load(bc, &k, &v));
}

/* A varint of the block: most are one byte, read here without a call. */
static inline int
ixbcur_varint(struct ixbcur *bc, uint64_t *v)
{
	if (bc->bc_p < bc->bc_pend && (*bc->bc_p & 0x80) == 0) {
		*v = *bc->bc_p++;
		return (0);
	}
	return (ix_getvarint(&bc->bc_p, bc->bc_pend, v));
}

/*
 * The next posting: bc_cid, bc_tf, bc_dl, and its positions at bc_pos.
 * 1, 0 at the end, -1 on a damaged block.
 */
int
ixbcur_next(struct ixbcur *bc)
{
	uint64_t	 delta, tf, dl;
	int		 rv;

	if (bc->bc_end)
		return (0);
	if (bc->bc_left == 0) {
		if ((rv = ixbcur_nextblock(bc)) != 1)
			return (rv);
	}
	/* Skip unread positions: a varint ends at a byte below 0x80. */
	for (; bc->bc_posleft > 0; bc->bc_p++) {
		if (bc->bc_p == bc->bc_pend)
			return (-1);
		if ((*bc->bc_p & 0x80) == 0)
			bc->bc_posleft--;
	}
	if (ixbcur_varint(bc, &delta) == -1 || ixbcur_varint(bc, &tf) == -1 ||
	    ixbcur_varint(bc, &dl) == -1 || tf == 0)
		return (-1);
	delta += bc->bc_at == 0 ? bc->bc_first : bc->bc_cid;
	if (delta > bc->bc_hdr.bh_last || (bc->bc_at > 0 && delta <= bc->bc_cid))
		return (-1);
	bc->bc_cid = delta;
	bc->bc_tf = tf;
	bc->bc_dl = dl;
	bc->bc_pos = bc->bc_p;
	bc->bc_posleft = tf;
	bc->bc_at++;
	bc->bc_left--;
	if (bc->bc_cid >= bc->bc_limit) {
		bc->bc_end = 1;
		return (0);
	}
	return (1);
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
	while ((rv = ixbcur_next(bc)) == 1 && bc->bc_cid < cid)
		;
	return (rv);
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
	const uint8_t	*bp_body;	/* tf, length and positions */
	size_t		 bp_bodylen;
};

static int
ixb_post_next(struct ixb_post *bp, uint32_t first, int at)
{
	uint64_t	 delta, tf, dl, pos;
	uint32_t	 i;

	if (ix_getvarint(&bp->bp_p, bp->bp_end, &delta) == -1)
		return (-1);
	bp->bp_body = bp->bp_p;
	if (ix_getvarint(&bp->bp_p, bp->bp_end, &tf) == -1 ||
	    ix_getvarint(&bp->bp_p, bp->bp_end, &dl) == -1 || tf == 0 ||
	    tf > UINT16_MAX || dl > UINT16_MAX)
		return (-1);
	for (i = 0; i < tf; i++)
		if (ix_getvarint(&bp->bp_p, bp->bp_end, &pos) == -1)
			return (-1);
	delta += at == 0 ? first : bp->bp_cid;
	if (delta > UINT32_MAX || (at > 0 && delta <= bp->bp_cid))
		return (-1);
	bp->bp_cid = delta;
	bp->bp_tf = tf;
	bp->bp_dl = dl;
	bp->bp_bodylen = bp->bp_p - bp->bp_body;
	return (0);
}

static int
ixb_terminfo_sub(MDB_txn *txn, struct index *ix, const char *t, size_t tl,
    uint64_t postings, uint64_t blocks, struct ixfold *res)
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
	v.mv_size = ixblk_terminfo_encode(&ti, tv);
	v.mv_data = tv;
	return (mdb_put(txn, index_dbi(ix, IDB_TERMS), &k, &v, 0));
}

/*
 * Sweep the blocks from the key in from (empty: the first) on, dropping
 * the postings of chunks in dead, until budget blocks have been looked
 * at.  from gets the key to go on from; *done is set at the end.  A
 * block with none of them is passed over by its cid range alone.
 */
int
ixblk_purge(MDB_txn *txn, struct index *ix, const roaring_bitmap_t *dead,
    struct buf *from, size_t budget, int *done, struct ixfold *res)
{
	struct ixblkhdr	 h, nh;
	struct ixb_post	 bp;
	struct buf	 out, val;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint8_t		 kb[IXB_KEY_MAX];
	char		 term[IX_TERM_MAX + 1];
	size_t		 tl, seen = 0;
	uint32_t	 first, nfirst, i, dropped;
	int		 rc;

	*done = 0;
	buf_init(&out);
	buf_init(&val);
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_BLOCKS), &c)) != 0)
		goto out;
	k.mv_size = from->b_len;
	k.mv_data = from->b_data;
	rc = mdb_cursor_get(c, &k, &v, from->b_len == 0 ? MDB_FIRST :
	    MDB_SET_RANGE);
	for (; rc == 0 && seen < budget; seen++) {
		if (k.mv_size < 5 || k.mv_size > IXB_KEY_MAX ||
		    v.mv_size < sizeof(h)) {
			rc = MDB_CORRUPTED;
			goto out;
		}
		tl = k.mv_size - 5;
		first = util_get_be32((uint8_t *)k.mv_data + tl + 1);
		memcpy(&h, v.mv_data, sizeof(h));
		if (h.bh_last < first || roaring_bitmap_range_cardinality(dead,
		    first, (uint64_t)h.bh_last + 1) == 0) {
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
			continue;
		}
		/* Rewrite it without them. */
		memcpy(term, k.mv_data, tl);
		memset(&nh, 0, sizeof(nh));
		buf_reset(&out);
		memset(&bp, 0, sizeof(bp));
		bp.bp_p = (const uint8_t *)v.mv_data + sizeof(h);
		bp.bp_end = (const uint8_t *)v.mv_data + v.mv_size;
		nfirst = 0;
		dropped = 0;
		for (i = 0; i < h.bh_n; i++) {
			if (ixb_post_next(&bp, first, i) == -1) {
				rc = MDB_CORRUPTED;
				goto out;
			}
			if (roaring_bitmap_contains(dead, bp.bp_cid)) {
				dropped++;
				continue;
			}
			if (nh.bh_n == 0)
				nfirst = bp.bp_cid;
			ix_varint(&out, nh.bh_n == 0 ? 0 :
			    bp.bp_cid - nh.bh_last);
			buf_add(&out, bp.bp_body, bp.bp_bodylen);
			nh.bh_n++;
			nh.bh_last = bp.bp_cid;
			ixbound_add(&nh.bh_bound, bp.bp_tf, bp.bp_dl);
		}
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			goto out;
		if (nh.bh_n > 0) {
			buf_reset(&val);
			buf_add(&val, &nh, sizeof(nh));
			buf_add(&val, out.b_data, out.b_len);
			k.mv_size = ixblk_key(kb, term, tl, nfirst);
			k.mv_data = kb;
			v.mv_size = val.b_len;
			v.mv_data = val.b_data;
			if ((rc = mdb_put(txn, index_dbi(ix, IDB_BLOCKS), &k,
			    &v, 0)) != 0)
				goto out;
			res->f_bytes += val.b_len;
		} else
			res->f_blocks++;
		res->f_postings += dropped;
		if ((rc = ixb_terminfo_sub(txn, ix, term, tl, dropped,
		    nh.bh_n == 0, res)) != 0)
			goto out;
		/* On after the block's range. */
		if (h.bh_last == UINT32_MAX)
			k.mv_size = ixblk_key(kb, term, tl, UINT32_MAX);
		else
			k.mv_size = ixblk_key(kb, term, tl, h.bh_last + 1);
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	}
	if (rc == MDB_NOTFOUND) {
		*done = 1;
		rc = 0;
	} else if (rc == 0) {
		buf_reset(from);
		buf_add(from, k.mv_data, k.mv_size);
	}
out:
	if (c != NULL)
		mdb_cursor_close(c);
	buf_free(&out);
	buf_free(&val);
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

/*
 * Check the blocks: postings decode, each term's cids rise strictly
 * across its blocks (no chunk in two blocks), every posting is under its
 * block's and its term's bounds, counts agree with terms, every term
 * entry has blocks, and nothing lies above the folded chunks but a fold
 * under way.  0, 1 with msg, or an LMDB error.
 */
int
ixblk_check(MDB_txn *txn, struct index *ix, const struct ixmeta *m,
    uint32_t fold_lo, uint32_t fold_hi, char *msg, size_t len)
{
	struct ixblkhdr	 h;
	struct ixb_post	 bp;
	struct ixb_run	 r;
	MDB_cursor	*c = NULL;
	MDB_val		 k, v;
	uint64_t	 nterms = 0, nblocks = 0, tentries = 0;
	uint32_t	 first, i;
	size_t		 tl;
	int		 rc, op;

	memset(&r, 0, sizeof(r));
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_BLOCKS), &c)) != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size < 6 || k.mv_size > IXB_KEY_MAX ||
		    v.mv_size < sizeof(h) ||
		    ((uint8_t *)k.mv_data)[k.mv_size - 5] != 0) {
			snprintf(msg, len, "a block key is damaged");
			rc = 1;
			goto out;
		}
		tl = k.mv_size - 5;
		first = util_get_be32((uint8_t *)k.mv_data + tl + 1);
		memcpy(&h, v.mv_data, sizeof(h));
		if (tl != r.r_len || memcmp(k.mv_data, r.r_term, tl) != 0) {
			if ((rc = ixb_check_run(&r, msg, len)) != 0)
				goto out;
			memset(&r, 0, sizeof(r));
			memcpy(r.r_term, k.mv_data, tl);
			r.r_len = tl;
			nterms++;
			rc = ixblk_terminfo(txn, ix, r.r_term, tl, &r.r_ti);
			if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
				snprintf(msg, len, "term %.*s: %s",
				    (int)tl - 1, r.r_term + 1,
				    rc == MDB_NOTFOUND ? "blocks but no entry "
				    "in terms" : "its entry in terms is "
				    "damaged");
				rc = 1;
			}
			if (rc != 0)
				goto out;
		}
		if (h.bh_n == 0 || h.bh_n > IXB_MAX) {
			snprintf(msg, len, "term %.*s: a block of %u postings",
			    (int)tl - 1, r.r_term + 1, h.bh_n);
			rc = 1;
			goto out;
		}
		memset(&bp, 0, sizeof(bp));
		bp.bp_p = (const uint8_t *)v.mv_data + sizeof(h);
		bp.bp_end = (const uint8_t *)v.mv_data + v.mv_size;
		for (i = 0; i < h.bh_n; i++) {
			if (ixb_post_next(&bp, first, i) == -1) {
				snprintf(msg, len, "term %.*s: block at chunk "
				    "%u is damaged", (int)tl - 1, r.r_term + 1,
				    first);
				rc = 1;
				goto out;
			}
			if (r.r_postings > 0 && bp.bp_cid <= r.r_last) {
				snprintf(msg, len, "term %.*s: chunk %u is in "
				    "two blocks, or out of order", (int)tl - 1,
				    r.r_term + 1, bp.bp_cid);
				rc = 1;
				goto out;
			}
			if (bp.bp_cid >= m->m_next_cid ||
			    (bp.bp_cid >= m->m_folded && (bp.bp_cid < fold_lo ||
			    bp.bp_cid >= fold_hi))) {
				snprintf(msg, len, "term %.*s: chunk %u is past "
				    "the folded chunks", (int)tl - 1,
				    r.r_term + 1, bp.bp_cid);
				rc = 1;
				goto out;
			}
			if (!ixbound_covers(&h.bh_bound, bp.bp_tf, bp.bp_dl) ||
			    !ixbound_covers(&r.r_ti.ti_bound, bp.bp_tf,
			    bp.bp_dl)) {
				snprintf(msg, len, "term %.*s: chunk %u: a "
				    "posting above its %s's bound",
				    (int)tl - 1, r.r_term + 1, bp.bp_cid,
				    ixbound_covers(&h.bh_bound, bp.bp_tf,
				    bp.bp_dl) ? "term" : "block");
				rc = 1;
				goto out;
			}
			r.r_last = bp.bp_cid;
			r.r_postings++;
		}
		if (bp.bp_p != bp.bp_end || h.bh_last != r.r_last ||
		    first > h.bh_last) {
			snprintf(msg, len, "term %.*s: block at chunk %u: its "
			    "header does not match its postings", (int)tl - 1,
			    r.r_term + 1, first);
			rc = 1;
			goto out;
		}
		r.r_blocks++;
		nblocks++;
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	if ((rc = ixb_check_run(&r, msg, len)) != 0)
		goto out;
	mdb_cursor_close(c);
	c = NULL;
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_TERMS), &c)) != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT)
		tentries++;
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	if (tentries != nterms) {
		snprintf(msg, len, "%llu terms have blocks, but terms has %llu "
		    "entries", (unsigned long long)nterms,
		    (unsigned long long)tentries);
		rc = 1;
	} else if (nblocks != m->m_blocks) {
		snprintf(msg, len, "%llu blocks, but the count says %llu",
		    (unsigned long long)nblocks,
		    (unsigned long long)m->m_blocks);
		rc = 1;
	}
out:
	if (c != NULL)
		mdb_cursor_close(c);
	return (rc);
}
