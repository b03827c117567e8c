/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The index's integrity check (quirectl check): every document's chunks
 * (each decoded, its text decompressed), names and external id, every
 * segment's dictionary and postings, the meta record's counts against
 * what is there, and the block store (ixblk_check), all in one read
 * transaction.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"

/* Integrity. */

/* One check under way: the transaction, what it has counted so far. */
struct ixc {
	MDB_txn			*c_txn;
	struct index		*c_ix;
	struct ixmeta		 c_m;
	roaring_bitmap_t	*c_tomb;
	uint64_t		 c_docs;
	uint64_t		 c_chunks;
	uint64_t		 c_next;	/* past the last segment's cids */
	uint32_t		 c_fold_lo;	/* a fold under way, if any */
	uint32_t		 c_fold_hi;
	char			*c_msg;
	size_t			 c_len;
	struct buf		 c_text;	/* a chunk's */
};

typedef int (*ixc_fn)(struct ixc *, const MDB_val *, const MDB_val *);

/* A problem found: said in the message, 1 returned. */
static int __attribute__((__format__(printf, 2, 3)))
ixc_fail(struct ixc *c, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(c->c_msg, c->c_len, fmt, ap);
	va_end(ap);
	return (1);
}

/* What a walk counted against what the meta record says. */
static int
ixc_count(struct ixc *c, const char *what, uint64_t n, uint64_t count)
{
	if (n == count)
		return (0);
	return (ixc_fail(c, "%llu %s, but the count says %llu",
	    (unsigned long long)n, what, (unsigned long long)count));
}

/* Every record of a database through fn, until it finds a problem.  A
 * read error ends the walk too: that is no sound index. */
static int
ixc_walk(struct ixc *c, int which, ixc_fn fn)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc, op;

	if ((rc = mdb_cursor_open(c->c_txn, index_dbi(c->c_ix, which), &cur))
	    != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0;
	    op = MDB_NEXT)
		if ((rc = fn(c, &k, &v)) != 0)
			break;
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* An external id names a live document that names it back. */
static int
ixc_extid(struct ixc *c, const MDB_val *k, const MDB_val *v)
{
	struct ixdoc	 d;
	MDB_val		 k2, v2;
	uint8_t		 kb[8];
	uint64_t	 docid;

	if (ixrec_docid_get(v, &docid) == -1)
		return (ixc_fail(c, "external id %.*s: bad value",
		    (int)k->mv_size, (char *)k->mv_data));
	util_put_be64(kb, docid);
	k2.mv_size = 8;
	k2.mv_data = kb;
	if (mdb_get(c->c_txn, index_dbi(c->c_ix, IDB_DOCS), &k2, &v2) != 0)
		return (ixc_fail(c, "external id %.*s: document %llu is "
		    "missing", (int)k->mv_size, (char *)k->mv_data,
		    (unsigned long long)docid));
	/* Its names are the document's own check. */
	if (ixrec_doc_decode(docid, v2.mv_data, v2.mv_size, &d) == -1)
		return (ixc_fail(c, "document %llu: damaged record",
		    (unsigned long long)docid));
	if (strlen(d.d_extid) != k->mv_size ||
	    memcmp(d.d_extid, k->mv_data, k->mv_size) != 0)
		return (ixc_fail(c, "external id %.*s: document %llu says it "
		    "is %s", (int)k->mv_size, (char *)k->mv_data,
		    (unsigned long long)docid, d.d_extid));
	return (0);
}

/* A document is live, found by its id, and owns its chunks. */
static int
ixc_doc(struct ixc *c, const MDB_val *k, const MDB_val *v)
{
	struct ixdoc	 d;
	struct ixchunk	 ck;
	MDB_val		 k2, v2;
	uint8_t		 kb[4];
	uint64_t	 docid, cdocid;
	uint32_t	 i;

	docid = k->mv_size == 8 ? util_get_be64(k->mv_data) : 0;
	if (docid == 0 ||
	    ixrec_doc_decode(docid, v->mv_data, v->mv_size, &d) == -1)
		return (ixc_fail(c, "document %llu: damaged record",
		    (unsigned long long)docid));
	if (ixrec_doc_names(c->c_txn, c->c_ix, &d) != 0)
		return (ixc_fail(c, "document %llu (%s): its tenant or source "
		    "is not in the names table", (unsigned long long)docid,
		    d.d_extid));
	k2.mv_size = strlen(d.d_extid);
	k2.mv_data = d.d_extid;
	if (mdb_get(c->c_txn, index_dbi(c->c_ix, IDB_EXTIDS), &k2, &v2) != 0 ||
	    ixrec_docid_get(&v2, &cdocid) == -1 || cdocid != docid)
		return (ixc_fail(c, "document %llu (%s): its external id does "
		    "not resolve to it", (unsigned long long)docid, d.d_extid));
	for (i = 0; i < d.d_nchunks; i++) {
		if (roaring_bitmap_contains(c->c_tomb, d.d_cid + i))
			return (ixc_fail(c, "document %s: chunk %llu is dead",
			    d.d_extid, (unsigned long long)d.d_cid + i));
		util_put_be32(kb, d.d_cid + i);
		k2.mv_size = 4;
		k2.mv_data = kb;
		if (mdb_get(c->c_txn, index_dbi(c->c_ix, IDB_CHUNKS), &k2,
		    &v2) != 0 || ixrec_chunk_decode(c->c_txn, c->c_ix,
		    v2.mv_data, v2.mv_size, &cdocid, &ck, NULL) != 0 ||
		    cdocid != docid)
			return (ixc_fail(c, "document %s: chunk %llu is "
			    "missing or not its own", d.d_extid,
			    (unsigned long long)d.d_cid + i));
	}
	c->c_docs++;
	return (0);
}

/* A chunk record decodes, text included, and belongs to a document (no
 * orphans). */
static int
ixc_chunk(struct ixc *c, const MDB_val *k, const MDB_val *v)
{
	struct ixdoc	 d;
	struct ixchunk	 ck;
	uint64_t	 docid;
	int		 rc;

	if (k->mv_size != 4)
		return (ixc_fail(c, "a chunk record is damaged"));
	buf_reset(&c->c_text);
	if ((rc = ixrec_chunk_decode(c->c_txn, c->c_ix, v->mv_data,
	    v->mv_size, &docid, &ck, &c->c_text)) != 0)
		return (rc != MDB_CORRUPTED && rc != IXREC_ETEXT ? rc :
		    ixc_fail(c, "chunk %u: %s", util_get_be32(k->mv_data),
		    rc == IXREC_ETEXT ? "its text is damaged" :
		    "damaged record"));
	if (index_doc_get(c->c_txn, c->c_ix, docid, &d) != 0)
		return (ixc_fail(c, "chunk %u: its document %llu is gone",
		    util_get_be32(k->mv_data), (unsigned long long)docid));
	c->c_chunks++;
	return (0);
}

/*
 * A posting's positions, read as bytes: tf varints whose sum, the last
 * position, fits in 32 bits as the batch's positions do (ixpost_pos
 * would wrap it).  -1 if not.
 */
static int
ixc_seg_positions(struct ixpost *p)
{
	const uint8_t	*c, *end;
	size_t		 len;
	uint64_t	 d, at = 0;
	uint32_t	 i;

	if ((c = ixpost_posbuf(p, &len)) == NULL)
		return (-1);
	for (end = c + len, i = 0; i < p->p_tf; i++) {
		if (ix_getvarint(&c, end, &d) == -1 || d > UINT32_MAX - at)
			return (-1);
		at += d;
	}
	return (0);
}

/*
 * A term's postings counted in *df; -1 if damaged.  Each is of a later
 * chunk than the one before (the cursor sees that they stay in the
 * segment, not that they rise), with sound positions.  In QSG2 its docs
 * end with the last posting (ixpost_next sees to that); in both layouts
 * its positions end where the term's area does: where the next term's
 * starts, the last term's in the padding (7 bytes at most) before the
 * segment's end.  The first term's area starts where the header says
 * the postings do, so that the areas tile them.
 */
static int
ixc_seg_count(const struct ixseg *s, uint32_t t, uint32_t *df)
{
	struct ixpost	 p;
	const uint8_t	*pos;
	size_t		 len;
	uint64_t	 at, last = 0;
	int		 rv;

	if (t == 0 && s->s_dict[0].e_post != s->s_hdr->h_post)
		return (-1);
	ixpost_init(&p, s, t);
	for (*df = 0; (rv = ixpost_next(&p)) == 1; (*df)++) {
		if ((*df > 0 && p.p_local <= last) ||
		    ixc_seg_positions(&p) == -1)
			return (-1);
		last = p.p_local;
	}
	if (rv == -1)
		return (-1);
	if ((pos = ixpost_posbuf(&p, &len)) == NULL)
		return (-1);
	at = pos + len - (const uint8_t *)s->s_data;
	if (t + 1 < s->s_hdr->h_nterms)
		return (at == s->s_dict[t + 1].e_post ? 0 : -1);
	return (s->s_len - at < 8 ? 0 : -1);
}

/*
 * One segment's own soundness, ixc_seg's but for its place among the
 * others (also the fuzz target's, contrib/fuzz/fuzz_segment.c): its
 * chunks' cids fit in 32 bits, its terms are in order, and each term's
 * postings are sound (ixc_seg_count) and as many as its frequency says.
 * 0, or 1 with the problem in msg, the segment named by its id.
 */
int
index_check_seg(const struct ixseg *s, uint64_t id, char *msg, size_t len)
{
	const char	*tp;
	size_t		 tl;
	uint32_t	 t, df;

	if ((uint64_t)s->s_hdr->h_base + s->s_hdr->h_nchunks >
	    (uint64_t)UINT32_MAX + 1) {
		snprintf(msg, len, "segment %llu: its chunks run past the "
		    "last cid", (unsigned long long)id);
		return (1);
	}
	for (t = 0; t < s->s_hdr->h_nterms; t++) {
		if (ixc_seg_count(s, t, &df) == -1) {
			snprintf(msg, len, "segment %llu: term %u: its "
			    "postings are damaged", (unsigned long long)id, t);
			return (1);
		}
		if (df != s->s_dict[t].e_df) {
			snprintf(msg, len, "segment %llu: term %u: %u "
			    "postings, frequency says %u",
			    (unsigned long long)id, t, df, s->s_dict[t].e_df);
			return (1);
		}
		tl = 0;
		tp = ixseg_term(s, t, &tl);
		if (ixseg_find(s, tp, tl) != t) {
			snprintf(msg, len, "segment %llu: terms out of order",
			    (unsigned long long)id);
			return (1);
		}
	}
	return (0);
}

/* Segments hold disjoint cid ranges, none of them folded. */
static int
ixc_seg(struct ixc *c, const MDB_val *k, const MDB_val *v)
{
	struct ixseg	 s;
	uint64_t	 id;

	id = k->mv_size == 8 ? util_get_be64(k->mv_data) : 0;
	if (k->mv_size != 8 || ixseg_open(&s, v->mv_data, v->mv_size) == -1)
		return (ixc_fail(c, "segment %llu is damaged",
		    (unsigned long long)id));
	if (s.s_hdr->h_base < c->c_next)
		return (ixc_fail(c, "segment %llu: chunk %u is also in the "
		    "segment before it", (unsigned long long)id,
		    s.s_hdr->h_base));
	if (s.s_hdr->h_base < c->c_m.m_folded)
		return (ixc_fail(c, "segment %llu: chunk %u is also folded "
		    "into blocks", (unsigned long long)id, s.s_hdr->h_base));
	if (s.s_hdr->h_base < c->c_m.m_folding) {
		c->c_fold_lo = c->c_m.m_folded;
		c->c_fold_hi = c->c_m.m_folding;
	}
	c->c_next = (uint64_t)s.s_hdr->h_base + s.s_hdr->h_nchunks;
	if (c->c_next > c->c_m.m_next_cid)
		return (ixc_fail(c, "segment %llu: chunks beyond the last one "
		    "given out", (unsigned long long)id));
	return (index_check_seg(&s, id, c->c_msg, c->c_len));
}

static int
index_check_txn(MDB_txn *txn, void *arg)
{
	struct ixc	*c = arg;
	int		 rc;

	c->c_txn = txn;
	if ((rc = index_meta_get(txn, c->c_ix, &c->c_m)) != 0)
		return (rc);
	if ((rc = index_tomb_get(txn, c->c_ix, &c->c_tomb)) != 0)
		return (rc == MDB_CORRUPTED ?
		    ixc_fail(c, "the tombstone bitmap is damaged") : rc);
	if ((rc = ixc_walk(c, IDB_EXTIDS, ixc_extid)) != 0 ||
	    (rc = ixc_walk(c, IDB_DOCS, ixc_doc)) != 0)
		goto out;
	if ((rc = ixc_count(c, "documents", c->c_docs, c->c_m.m_docs)) != 0 ||
	    (rc = ixc_walk(c, IDB_CHUNKS, ixc_chunk)) != 0 ||
	    (rc = ixc_count(c, "chunks", c->c_chunks, c->c_m.m_chunks)) != 0)
		goto out;
	if ((rc = ixc_walk(c, IDB_SEGS, ixc_seg)) == 0)
		rc = ixblk_check(txn, c->c_ix, &c->c_m, c->c_fold_lo,
		    c->c_fold_hi, c->c_msg, c->c_len);
out:
	roaring_bitmap_free(c->c_tomb);
	return (rc);
}

/*
 * Check the index: 0 when sound, 1 with the first problem in msg, -1 when
 * it cannot be read.
 */
int
index_check(struct index *ix, char *msg, size_t len)
{
	struct ixc	 c;
	int		 rc;

	msg[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.c_ix = ix;
	c.c_msg = msg;
	c.c_len = len;
	buf_init(&c.c_text);
	rc = store_read(&ix->ix_store, index_check_txn, &c);
	buf_free(&c.c_text);
	if (rc == 0 || rc == 1)
		return (rc);
	snprintf(msg, len, "%s", mdb_strerror(rc));
	return (-1);
}
