/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The inverted index, in the LMDB environment DATADIR/index: the
 * environment, its meta record and tombstones, documents, deletes and
 * statistics.
 *
 * The unit of search is a chunk (chunk.c).  Every chunk gets a chunk id
 * (cid), global, monotonic and never reused, unless a shrink numbers
 * the live chunks again when the ids run short (index_shrink.c); every
 * document a docid, global, monotonic and never reused.  Databases
 * (integers big-endian in keys):
 *
 *	meta	"stats" -> struct ixmeta: the block store's format (set
 *		when the index is made), next cid, docid and segment id,
 *		live documents and chunks, dead chunks (tombstoned, still
 *		in segments or blocks), words in the live chunks (for
 *		avgdl), segments, merges, and the block store's counts:
 *		the cid below which chunks are folded into blocks, the end
 *		of a fold under way, blocks, terms, sweeps.
 *		"tomb" -> CRoaring bitmap (portable format) of dead cids.
 *		The names table and the zstd dictionaries (index_rec.c).
 *	segs	segid(8) -> segment: an immutable inverted index of the
 *		consecutive cids [base, base + nchunks) (index_seg.c).
 *	chunks	cid(4) -> its document, index in it, heading and text,
 *		the text compressed with a zstd dictionary (index_rec.c).
 *	docs	docid(8) -> external id, content hash, job, title, type,
 *		tenant, source, first cid, chunks, words in them,
 *		attributes (index_rec.c).
 *	extids	external id -> docid, its leading zero bytes left out;
 *		quirectl compact --shrink rewrites it in key order
 *		(index_pack).
 *	blocks, terms	the block store (index_block.c), and in its
 *		format 2 norms, its chunks' lengths (index_norms.c).
 *
 * Workers build segments in batches and write them (index_batch.c); the
 * merger merges segments (merge.c) and folds them into the block store;
 * index_check.c reads all of it back.  Dead chunks stay in their
 * segments, or blocks, until the merger rewrites them away; search skips
 * them through the tombstone bitmap.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>
#include <xxhash.h>

#include "quire.h"

static const char *index_dbnames[IDB_N] = {
	"meta", "segs", "chunks", "docs", "extids", "blocks", "terms", "norms"
};

/* The index environment. */

int
index_open(struct index *ix, const char *datadir, size_t mapsize, int sync)
{
	char	 path[JOB_PATH_MAX];
	int	 n;

	n = snprintf(path, sizeof(path), "%s/index", datadir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return (-1);
	return (index_open_dir(ix, path, mapsize, sync));
}

/* The index environment in the directory path (a shrink's copy's). */
int
index_open_dir(struct index *ix, const char *path, size_t mapsize, int sync)
{
	memset(ix, 0, sizeof(*ix));
	if (store_open(&ix->ix_store, path, index_dbnames, IDB_N, sync,
	    mapsize) == -1)
		return (-1);
	msgpack_sbuffer_init(&ix->ix_buf);
	buf_init(&ix->ix_tmp);
	return (0);
}

void
index_close(struct index *ix)
{
	store_close(&ix->ix_store);
	ixrec_free(ix);
	msgpack_sbuffer_destroy(&ix->ix_buf);
	buf_free(&ix->ix_tmp);
}

int
index_meta_get(MDB_txn *txn, struct index *ix, struct ixmeta *m)
{
	MDB_val	 k = { 5, (void *)"stats" }, v;
	int	 rc;

	rc = mdb_get(txn, index_dbi(ix, IDB_META), &k, &v);
	if (rc == MDB_NOTFOUND) {
		memset(m, 0, sizeof(*m));
		m->m_version = IXMETA_VERSION;
		m->m_format = ixblk_format_new;
		m->m_next_cid = 1;
		m->m_next_docid = 1;
		m->m_next_seg = 1;
		return (0);
	}
	if (rc != 0)
		return (rc);
	/* Version 1 lacked the block store's fields: they start at 0. */
	if (v.mv_size > sizeof(*m) || v.mv_size < 11 * sizeof(uint64_t))
		return (MDB_CORRUPTED);
	memset(m, 0, sizeof(*m));
	memcpy(m, v.mv_data, v.mv_size);
	m->m_version = IXMETA_VERSION;
	/* The block store's format was recorded from 2 on: 0 is 1. */
	if (m->m_format == 0)
		m->m_format = 1;
	if (m->m_format > IXB_FORMAT)
		return (MDB_CORRUPTED);
	ix->ix_format = m->m_format;
	return (0);
}

int
index_meta_put(MDB_txn *txn, struct index *ix, struct ixmeta *m)
{
	MDB_val	 k = { 5, (void *)"stats" }, v = { sizeof(*m), m };

	return (mdb_put(txn, index_dbi(ix, IDB_META), &k, &v, 0));
}

/*
 * The tombstone bitmap in *rp (an empty one when there is none yet): 0,
 * an LMDB error, or MDB_CORRUPTED when the record does not decode to
 * exactly its own bytes.  A damaged record is never taken for an empty
 * bitmap: the deleted chunks would come back in search, and the next
 * index_tomb_put would make that for good.
 */
int
index_tomb_get(MDB_txn *txn, struct index *ix, roaring_bitmap_t **rp)
{
	MDB_val		 k = { 4, (void *)"tomb" }, v;
	roaring_bitmap_t *r;
	int		 rc;

	*rp = NULL;
	if ((rc = mdb_get(txn, index_dbi(ix, IDB_META), &k, &v)) ==
	    MDB_NOTFOUND) {
		*rp = roaring_bitmap_create();
		return (0);
	}
	if (rc != 0)
		return (rc);
	if (roaring_bitmap_portable_deserialize_size(v.mv_data, v.mv_size) !=
	    v.mv_size)
		return (MDB_CORRUPTED);
	r = roaring_bitmap_portable_deserialize_safe(v.mv_data, v.mv_size);
	if (r == NULL)
		return (MDB_CORRUPTED);
	*rp = r;
	return (0);
}

int
index_tomb_put(MDB_txn *txn, struct index *ix, roaring_bitmap_t *r)
{
	MDB_val	 k = { 4, (void *)"tomb" }, v;
	size_t	 n;
	int	 rc;

	roaring_bitmap_run_optimize(r);
	n = roaring_bitmap_portable_size_in_bytes(r);
	buf_reset(&ix->ix_tmp);
	buf_reserve(&ix->ix_tmp, n);
	roaring_bitmap_portable_serialize(r, ix->ix_tmp.b_data);
	v.mv_size = n;
	v.mv_data = ix->ix_tmp.b_data;
	rc = mdb_put(txn, index_dbi(ix, IDB_META), &k, &v, 0);
	return (rc);
}


/* Document records (index_rec.c has their formats). */

/*
 * A document record into d: 0, or -1 when it is damaged.  The record's
 * key is not known here: d_docid is 0 for a record of the current
 * format, and a tenant or source in the names table is left empty.
 */
int
index_doc_decode(const void *data, size_t len, struct ixdoc *d)
{
	return (ixrec_doc_decode(0, data, len, d));
}

int
index_doc_get(MDB_txn *txn, struct index *ix, uint64_t docid, struct ixdoc *d)
{
	uint8_t	 kb[8];
	MDB_val	 k = { 8, kb }, v;
	int	 rc;

	util_put_be64(kb, docid);
	if ((rc = mdb_get(txn, index_dbi(ix, IDB_DOCS), &k, &v)) != 0)
		return (rc);
	if (ixrec_doc_decode(docid, v.mv_data, v.mv_size, d) == -1)
		return (MDB_CORRUPTED);
	return (ixrec_doc_names(txn, ix, d));
}

/* Kill a stored document: tombstone its chunks, drop its records. */
int
index_doc_kill(MDB_txn *txn, struct index *ix, struct ixmeta *m,
    roaring_bitmap_t *tomb, const struct ixdoc *d, int drop_extid)
{
	uint8_t		 kb[8];
	MDB_val		 k;
	uint32_t	 i;
	int		 rc;

	for (i = 0; i < d->d_nchunks; i++) {
		if (roaring_bitmap_contains(tomb, d->d_cid + i))
			continue;
		roaring_bitmap_add(tomb, d->d_cid + i);
		m->m_dead++;
		if (m->m_chunks > 0)
			m->m_chunks--;
		util_put_be32(kb, d->d_cid + i);
		k.mv_size = 4;
		k.mv_data = kb;
		rc = mdb_del(txn, index_dbi(ix, IDB_CHUNKS), &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return (rc);
	}
	util_put_be64(kb, d->d_docid);
	k.mv_size = 8;
	k.mv_data = kb;
	if ((rc = mdb_del(txn, index_dbi(ix, IDB_DOCS), &k, NULL)) != 0 &&
	    rc != MDB_NOTFOUND)
		return (rc);
	if (m->m_docs > 0)
		m->m_docs--;
	m->m_tokens = m->m_tokens > d->d_words ? m->m_tokens - d->d_words : 0;
	if (drop_extid) {
		k.mv_size = strlen(d->d_extid);
		k.mv_data = (void *)d->d_extid;
		rc = mdb_del(txn, index_dbi(ix, IDB_EXTIDS), &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return (rc);
	}
	return (0);
}

struct ix_delete_arg {
	struct index	*da_ix;
	const char	*da_extid;
};

static int
index_delete_txn(MDB_txn *txn, void *arg)
{
	struct ix_delete_arg	*da = arg;
	struct ixmeta		 m;
	struct ixdoc		 d;
	roaring_bitmap_t	*tomb;
	MDB_val			 k, v;
	uint64_t		 docid;
	int			 rc;

	if ((rc = index_meta_get(txn, da->da_ix, &m)) != 0)
		return (rc);
	k.mv_size = strlen(da->da_extid);
	k.mv_data = (void *)da->da_extid;
	if ((rc = mdb_get(txn, index_dbi(da->da_ix, IDB_EXTIDS), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (ixrec_docid_get(&v, &docid) == -1)
		return (MDB_CORRUPTED);
	if ((rc = index_doc_get(txn, da->da_ix, docid, &d)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if ((rc = index_tomb_get(txn, da->da_ix, &tomb)) != 0)
		return (rc);
	if ((rc = index_doc_kill(txn, da->da_ix, &m, tomb, &d, 1)) == 0)
		rc = index_tomb_put(txn, da->da_ix, tomb);
	roaring_bitmap_free(tomb);
	if (rc != 0)
		return (rc);
	return (index_meta_put(txn, da->da_ix, &m));
}

/* Delete a document by its external id: 0, INDEX_ENOENT or -1. */
int
index_delete(struct index *ix, const char *extid)
{
	struct ix_delete_arg	 da;
	int			 rc;

	if (strlen(extid) == 0 || strlen(extid) > IX_EXTID_MAX)
		return (INDEX_ENOENT);
	da.da_ix = ix;
	da.da_extid = extid;
	rc = store_write(&ix->ix_store, index_delete_txn, &da);
	if (rc == 0 || rc == INDEX_ENOENT)
		return (rc);
	log_warnx("%s: %s", __func__, mdb_strerror(rc));
	return (-1);
}

struct ix_deletes_arg {
	struct index	*xa_ix;
	const char	**xa_extids;
	size_t		 xa_n;
	uint64_t	 xa_deleted;
};

static int
index_deletes_txn(MDB_txn *txn, void *arg)
{
	struct ix_deletes_arg	*xa = arg;
	struct ix_delete_arg	 da;
	size_t			 i;
	int			 rc;

	xa->xa_deleted = 0;	/* a transaction run again counts again */
	da.da_ix = xa->xa_ix;
	for (i = 0; i < xa->xa_n; i++) {
		da.da_extid = xa->xa_extids[i];
		if (strlen(da.da_extid) == 0 ||
		    strlen(da.da_extid) > IX_EXTID_MAX)
			continue;
		if ((rc = index_delete_txn(txn, &da)) == INDEX_ENOENT)
			continue;
		if (rc != 0)
			return (rc);
		xa->xa_deleted++;
	}
	return (0);
}

/*
 * Delete the documents of extids[0..n) in one transaction; how many
 * there were in *deleted (an id the index does not hold is left).  0
 * or -1.
 */
int
index_delete_many(struct index *ix, const char **extids, size_t n,
    uint64_t *deleted)
{
	struct ix_deletes_arg	 xa;
	int			 rc;

	*deleted = 0;
	if (n == 0)
		return (0);
	xa.xa_ix = ix;
	xa.xa_extids = extids;
	xa.xa_n = n;
	if ((rc = store_write(&ix->ix_store, index_deletes_txn, &xa)) != 0) {
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
		return (-1);
	}
	*deleted = xa.xa_deleted;
	return (0);
}

struct ix_stats_arg {
	struct index	*sa_ix;
	struct ixstats	*sa_st;
};

/* The counts, as a transaction sees them. */
int
index_stats_in(MDB_txn *txn, struct index *ix, struct ixstats *st)
{
	struct ixmeta	 m;
	int		 rc;

	if ((rc = index_meta_get(txn, ix, &m)) != 0)
		return (rc);
	st->is_next_cid = m.m_next_cid;
	st->is_next_docid = m.m_next_docid;
	st->is_next_seg = m.m_next_seg;
	st->is_docs = m.m_docs;
	st->is_chunks = m.m_chunks;
	st->is_tokens = m.m_tokens;
	st->is_dead = m.m_dead;
	st->is_segments = m.m_segments;
	st->is_merges = m.m_merges;
	st->is_folded = m.m_folded;
	st->is_folding = m.m_folding;
	st->is_blocks = m.m_blocks;
	st->is_terms = m.m_terms;
	st->is_purges = m.m_purges;
	return (0);
}

static int
index_stats_txn(MDB_txn *txn, void *arg)
{
	struct ix_stats_arg	*sa = arg;

	return (index_stats_in(txn, sa->sa_ix, sa->sa_st));
}

int
index_stats(struct index *ix, struct ixstats *st)
{
	struct ix_stats_arg	 sa;

	memset(st, 0, sizeof(*st));
	sa.sa_ix = ix;
	sa.sa_st = st;
	return (store_read(&ix->ix_store, index_stats_txn, &sa) == 0 ? 0 : -1);
}

/* The chunk ids an index whose next is next_cid can still give out:
 * they are 32 bits. */
uint64_t
index_ids_left(uint64_t next_cid)
{
	return (next_cid < UINT32_MAX ? UINT32_MAX - next_cid : 0);
}

/*
 * Whether the chunk ids run short: fewer than half are left, and a
 * shrink numbers the live chunks again (index_shrink.c).
 */
int
index_ids_short(uint64_t left)
{
	return (left < INDEX_IDS_SHORT);
}

/*
 * The counts as status shows them: the text after "index: ", or the
 * members of the JSON object "index".
 */
void
index_stats_format(const struct ixstats *is, int json, char *out,
    size_t len)
{
	snprintf(out, len, json ? "\"documents\": %llu, \"chunks\": %llu, "
	    "\"segments\": %llu, \"dead_chunks\": %llu, \"merges\": %llu, "
	    "\"blocks\": %llu, \"terms\": %llu, \"folded_chunks\": %llu, "
	    "\"sweeps\": %llu, \"chunk_ids_left\": %llu" : "documents %llu "
	    "chunks %llu segments %llu dead %llu merges %llu blocks %llu "
	    "terms %llu folded %llu sweeps %llu ids-left %llu",
	    (unsigned long long)is->is_docs,
	    (unsigned long long)is->is_chunks,
	    (unsigned long long)is->is_segments,
	    (unsigned long long)is->is_dead,
	    (unsigned long long)is->is_merges,
	    (unsigned long long)is->is_blocks,
	    (unsigned long long)is->is_terms,
	    (unsigned long long)(is->is_folded > 0 ? is->is_folded - 1 : 0),
	    (unsigned long long)is->is_purges,
	    (unsigned long long)index_ids_left(is->is_next_cid));
}

struct ix_get_arg {
	struct index	*ga_ix;
	const char	*ga_extid;
	struct ixdoc	*ga_doc;
};

static int
index_get_doc_txn(MDB_txn *txn, void *arg)
{
	struct ix_get_arg	*ga = arg;
	MDB_val			 k, v;
	uint64_t		 docid;
	int			 rc;

	k.mv_size = strlen(ga->ga_extid);
	k.mv_data = (void *)ga->ga_extid;
	if ((rc = mdb_get(txn, index_dbi(ga->ga_ix, IDB_EXTIDS), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (ixrec_docid_get(&v, &docid) == -1)
		return (MDB_CORRUPTED);
	rc = index_doc_get(txn, ga->ga_ix, docid, ga->ga_doc);
	return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
}

/* A stored document by external id: 0, INDEX_ENOENT or -1. */
int
index_get_doc(struct index *ix, const char *extid, struct ixdoc *d)
{
	struct ix_get_arg	 ga;
	int			 rc;

	if (strlen(extid) == 0 || strlen(extid) > IX_EXTID_MAX)
		return (INDEX_ENOENT);
	ga.ga_ix = ix;
	ga.ga_extid = extid;
	ga.ga_doc = d;
	rc = store_read(&ix->ix_store, index_get_doc_txn, &ga);
	if (rc == 0 || rc == INDEX_ENOENT)
		return (rc);
	return (-1);
}

/*
 * A document id as the index keys it: as it is, or, longer than
 * IX_EXTID_MAX, "xxh3:" and its hash.
 */
void
index_extid(char *dst, size_t len, const char *id)
{
	if (strlen(id) > IX_EXTID_MAX)
		snprintf(dst, len, "xxh3:%016llx",
		    (unsigned long long)XXH3_64bits(id, strlen(id)));
	else
		strlcpy(dst, id, len);
}

struct ix_page_arg {
	struct index	*pa_ix;
	uint64_t	*pa_after;
	size_t		 pa_max;
	index_doc_cb	 pa_cb;
	void		*pa_cbarg;
	int		 pa_more;
};

static int
index_docs_page_txn(MDB_txn *txn, void *arg)
{
	struct ix_page_arg	*pa = arg;
	struct ixdoc		 d;
	MDB_cursor		*cur;
	MDB_val			 k, v;
	uint8_t			 kb[8];
	size_t			 n = 0;
	int			 rc;

	pa->pa_more = 0;
	if ((rc = mdb_cursor_open(txn, index_dbi(pa->pa_ix, IDB_DOCS), &cur))
	    != 0)
		return (rc);
	util_put_be64(kb, *pa->pa_after + 1);
	k.mv_size = 8;
	k.mv_data = kb;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (n == pa->pa_max) {
			pa->pa_more = 1;
			break;
		}
		*pa->pa_after = util_get_be64(k.mv_data);
		if ((rc = index_doc_get(txn, pa->pa_ix, *pa->pa_after, &d))
		    != 0 || (rc = pa->pa_cb(&d, pa->pa_cbarg)) != 0)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * The stored documents after docid *after, at most max, to cb in docid
 * order, in one read transaction; *after moves past them.  1 when
 * there are more, 0 at the end, -1 on an error.
 */
int
index_docs_page(struct index *ix, uint64_t *after, size_t max,
    index_doc_cb cb, void *arg)
{
	struct ix_page_arg	 pa;
	int			 rc;

	pa.pa_ix = ix;
	pa.pa_after = after;
	pa.pa_max = max;
	pa.pa_cb = cb;
	pa.pa_cbarg = arg;
	if ((rc = store_read(&ix->ix_store, index_docs_page_txn, &pa)) != 0) {
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
		return (-1);
	}
	return (pa.pa_more);
}

struct ix_chunks_arg {
	struct index	*ca_ix;
	const char	*ca_extid;
	struct ixdoc	*ca_doc;
	size_t		 ca_max;
	index_chunk_cb	 ca_cb;
	void		*ca_cbarg;
	struct buf	*ca_title;	/* index_doc_whole's, or NULL */
	struct buf	*ca_attrs;
};

static int
index_doc_chunks_txn(MDB_txn *txn, void *arg)
{
	struct ix_chunks_arg	*ca = arg;
	struct ixchunk		 ck;
	struct buf		 text;
	uint8_t			 kb[4], db[8];
	MDB_val			 k, v;
	uint64_t		 docid;
	uint32_t		 i;
	int			 rc;

	k.mv_size = strlen(ca->ca_extid);
	k.mv_data = (void *)ca->ca_extid;
	if ((rc = mdb_get(txn, index_dbi(ca->ca_ix, IDB_EXTIDS), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (ixrec_docid_get(&v, &docid) == -1)
		return (MDB_CORRUPTED);
	if ((rc = index_doc_get(txn, ca->ca_ix, docid, ca->ca_doc)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (ca->ca_title != NULL) {
		util_put_be64(db, docid);
		k.mv_size = 8;
		k.mv_data = db;
		buf_reset(ca->ca_title);
		buf_reset(ca->ca_attrs);
		if ((rc = mdb_get(txn, index_dbi(ca->ca_ix, IDB_DOCS), &k,
		    &v)) != 0 || (rc = ixrec_doc_whole(txn, ca->ca_ix,
		    v.mv_data, v.mv_size, ca->ca_title, ca->ca_attrs)) != 0)
			return (rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
	}
	buf_init(&text);
	for (i = 0; i < ca->ca_doc->d_nchunks && i < ca->ca_max; i++) {
		memset(&ck, 0, sizeof(ck));
		ck.ck_cid = ca->ca_doc->d_cid + i;
		util_put_be32(kb, ck.ck_cid);
		k.mv_size = 4;
		k.mv_data = kb;
		buf_reset(&text);
		if ((rc = mdb_get(txn, index_dbi(ca->ca_ix, IDB_CHUNKS), &k,
		    &v)) != 0 || (rc = ixrec_chunk_decode(txn, ca->ca_ix,
		    v.mv_data, v.mv_size, &docid, &ck, &text)) != 0) {
			if (rc == IXREC_ETEXT)
				rc = MDB_CORRUPTED;
			break;
		}
		if (ca->ca_cb(&ck, ca->ca_cbarg) != 0)
			break;
	}
	buf_free(&text);
	return (rc);
}

/* Read the document ca names (index_doc_chunks, index_doc_whole). */
static int
index_doc_read(struct index *ix, struct ix_chunks_arg *ca, const char *fn)
{
	int	 rc;

	if (strlen(ca->ca_extid) == 0 || strlen(ca->ca_extid) > IX_EXTID_MAX)
		return (INDEX_ENOENT);
	ca->ca_ix = ix;
	rc = store_read(&ix->ix_store, index_doc_chunks_txn, ca);
	if (rc == 0 || rc == INDEX_ENOENT)
		return (rc);
	log_warnx("%s: %s: %s", fn, ca->ca_extid, rc == MDB_CORRUPTED ?
	    "a record is damaged" : mdb_strerror(rc));
	return (-1);
}

/*
 * A stored document by external id, with its first max chunks handed to
 * cb in order (heading, decompressed text) within one read: 0,
 * INDEX_ENOENT or -1.  cb returns non-zero to stop.
 */
int
index_doc_chunks(struct index *ix, const char *extid, size_t max,
    struct ixdoc *d, index_chunk_cb cb, void *arg)
{
	struct ix_chunks_arg	 ca;

	memset(&ca, 0, sizeof(ca));
	ca.ca_extid = extid;
	ca.ca_doc = d;
	ca.ca_max = max;
	ca.ca_cb = cb;
	ca.ca_cbarg = arg;
	return (index_doc_read(ix, &ca, __func__));
}

/*
 * index_doc_chunks of every chunk, with the document's whole title
 * (d_title holds at most 255 bytes of it) and its attributes (a msgpack
 * map) in title and attrs: what a drained host's document is moved
 * with.  0, INDEX_ENOENT or -1.
 */
int
index_doc_whole(struct index *ix, const char *extid, struct ixdoc *d,
    struct buf *title, struct buf *attrs, index_chunk_cb cb, void *arg)
{
	struct ix_chunks_arg	 ca;

	memset(&ca, 0, sizeof(ca));
	ca.ca_extid = extid;
	ca.ca_doc = d;
	ca.ca_max = SIZE_MAX;
	ca.ca_cb = cb;
	ca.ca_cbarg = arg;
	ca.ca_title = title;
	ca.ca_attrs = attrs;
	return (index_doc_read(ix, &ca, __func__));
}

/*
 * External ids packed: extids rewritten in key order, in one
 * transaction, through a scratch database.  Runs of ascending ids (a
 * file of records) inserted in front of larger ones leave their pages
 * half full, as LMDB splits a page in the middle; appended in order,
 * pages are filled.  An index of more than IX_PACK_MAX ids is left as
 * it is: the transaction would dirty more pages than LMDB allows.
 */
#define IX_PACK_MAX	(4 * 1000 * 1000)

static int
index_pack_copy(MDB_txn *txn, MDB_dbi from, MDB_dbi to)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc, op;

	if ((rc = mdb_cursor_open(txn, from, &cur)) != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0;
	    op = MDB_NEXT)
		if ((rc = mdb_put(txn, to, &k, &v, MDB_APPEND)) != 0)
			break;
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

static int
index_pack_txn(MDB_txn *txn, void *arg)
{
	struct index	*ix = arg;
	MDB_dbi		 x = index_dbi(ix, IDB_EXTIDS), tmp;
	MDB_stat	 st;
	int		 rc;

	if ((rc = mdb_stat(txn, x, &st)) != 0)
		return (rc);
	if (st.ms_entries == 0 || st.ms_entries > IX_PACK_MAX)
		return (INDEX_ENOENT);
	if ((rc = mdb_dbi_open(txn, "extids.pack", MDB_CREATE, &tmp)) != 0)
		return (rc);
	if ((rc = mdb_drop(txn, tmp, 0)) != 0 ||
	    (rc = index_pack_copy(txn, x, tmp)) != 0 ||
	    (rc = mdb_drop(txn, x, 0)) != 0 ||
	    (rc = index_pack_copy(txn, tmp, x)) != 0)
		return (rc);
	return (mdb_drop(txn, tmp, 1));
}

/* A write that changes nothing: the transaction id moves on. */
static int
index_pack_tick(MDB_txn *txn, void *arg)
{
	struct index	*ix = arg;
	struct ixmeta	 m;
	int		 rc;

	if ((rc = index_meta_get(txn, ix, &m)) != 0)
		return (rc);
	return (index_meta_put(txn, ix, &m));
}

/* Pack the external ids (quirectl compact): 0, or -1 (logged). */
int
index_pack(struct index *ix)
{
	int	 rc;

	/*
	 * Pages freed by the last transaction (a fold's segments) can be
	 * reused from the one after next: without this one, the copies
	 * would grow the file rather than fill them.
	 */
	if ((rc = store_write(&ix->ix_store, index_pack_tick, ix)) == 0)
		rc = store_write(&ix->ix_store, index_pack_txn, ix);
	if (rc == 0 || rc == INDEX_ENOENT)
		return (0);
	log_warnx("%s: external ids left as they are: %s", __func__,
	    mdb_strerror(rc));
	return (-1);
}

/* After a merge: dead chunks purged, segments folded into one. */
int
index_meta_merged(MDB_txn *txn, struct index *ix, uint64_t purged,
    uint64_t removed)
{
	struct ixmeta	 m;
	int		 rc;

	if ((rc = index_meta_get(txn, ix, &m)) != 0)
		return (rc);
	m.m_dead = m.m_dead > purged ? m.m_dead - purged : 0;
	m.m_segments = m.m_segments > removed ? m.m_segments - removed : 1;
	m.m_merges++;
	return (index_meta_put(txn, ix, &m));
}
