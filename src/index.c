/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The inverted index, in the LMDB environment DATADIR/index: the
 * environment, its meta record and tombstones, documents, deletes and
 * statistics.
 *
 * The unit of search is a chunk (chunk.c).  Every chunk gets a chunk id
 * (cid), global, monotonic and never reused; every document a docid,
 * likewise.  Databases (integers big-endian in keys):
 *
 *	meta	"stats" -> struct ixmeta: next cid, docid and segment id,
 *		live documents and chunks, dead chunks (tombstoned, still
 *		in segments or blocks), words in the live chunks (for
 *		avgdl), segments, merges, and the block store's counts:
 *		the cid below which chunks are folded into blocks, the end
 *		of a fold under way, blocks, terms, sweeps.
 *		"tomb" -> CRoaring bitmap (portable format) of dead cids.
 *	segs	segid(8) -> segment: an immutable inverted index of the
 *		consecutive cids [base, base + nchunks) (index_seg.c).
 *	chunks	cid(4) -> docid(8) chunk-index(4) heading-length(2)
 *		heading, then the chunk's text as a zstd frame; a chunk
 *		under IX_RAW_MAX bytes is stored as it is, flagged by the
 *		top bit of the heading length (zstd saves little on a short
 *		record and costs more than everything else done to it).
 *	docs	docid(8) -> msgpack map: ext, hash, job, title, type, ten,
 *		src, cid, n (chunks), w (words in them), attrs.
 *	extids	external id -> docid(8).
 *	blocks, terms	the block store (index_block.c).
 *
 * Workers build segments in batches and write them (index_batch.c); the
 * merger merges segments (merge.c) and folds them into the block store;
 * index_check.c reads all of it back.  Dead chunks stay in their
 * segments, or blocks, until the merger rewrites them away; search skips
 * them through the tombstone bitmap.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"

static const char *index_dbnames[IDB_N] = {
	"meta", "segs", "chunks", "docs", "extids", "blocks", "terms"
};

/* The index environment. */

int
index_open(struct index *ix, const char *datadir, size_t mapsize, int sync)
{
	char	 path[JOB_PATH_MAX];
	int	 n;

	memset(ix, 0, sizeof(*ix));
	n = snprintf(path, sizeof(path), "%s/index", datadir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return (-1);
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
	msgpack_sbuffer_destroy(&ix->ix_buf);
	buf_free(&ix->ix_tmp);
}

MDB_dbi
index_dbi(struct index *ix, int which)
{
	return (ix->ix_store.s_dbi[which]);
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


/* Document records. */

static int
ix_copy_str(const msgpack_object *v, char *dst, size_t len)
{
	if (v->type != MSGPACK_OBJECT_STR)
		return (-1);
	if (v->via.str.size == 0) {
		dst[0] = '\0';
		return (0);
	}
	if (v->via.str.size >= len) {
		memcpy(dst, v->via.str.ptr, len - 1);
		dst[len - 1] = '\0';
		return (0);
	}
	memcpy(dst, v->via.str.ptr, v->via.str.size);
	dst[v->via.str.size] = '\0';
	return (0);
}

int
index_doc_decode(const void *data, size_t len, struct ixdoc *d)
{
	msgpack_unpacked	 up;
	msgpack_object_kv	*kv;
	const char		*k;
	size_t			 off = 0, i, kl;
	uint64_t		 u;
	int			 rv = -1;

	memset(d, 0, sizeof(*d));
	if (len > CODEC_RECORD_MAX)
		return (-1);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	for (i = 0; i < up.data.via.map.size; i++) {
		kv = &up.data.via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			goto out;
		k = kv->key.via.str.ptr;
		kl = kv->key.via.str.size;
		u = kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
		    kv->val.via.u64 : 0;
#define IS(s) (kl == strlen(s) && memcmp(k, s, kl) == 0)
		if (IS("id"))
			d->d_docid = u;
		else if (IS("ext"))
			ix_copy_str(&kv->val, d->d_extid, sizeof(d->d_extid));
		else if (IS("hash"))
			d->d_hash = u;
		else if (IS("job"))
			d->d_job = u;
		else if (IS("title"))
			ix_copy_str(&kv->val, d->d_title, sizeof(d->d_title));
		else if (IS("type"))
			d->d_type = u;
		else if (IS("ten"))
			ix_copy_str(&kv->val, d->d_tenant,
			    sizeof(d->d_tenant));
		else if (IS("src"))
			ix_copy_str(&kv->val, d->d_source,
			    sizeof(d->d_source));
		else if (IS("cid"))
			d->d_cid = u;
		else if (IS("n"))
			d->d_nchunks = u;
		else if (IS("w"))
			d->d_words = u;
#undef IS
	}
	rv = d->d_docid != 0 ? 0 : -1;
out:
	msgpack_unpacked_destroy(&up);
	return (rv);
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
	return (index_doc_decode(v.mv_data, v.mv_size, d) == 0 ? 0 :
	    MDB_CORRUPTED);
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
	int			 rc;

	if ((rc = index_meta_get(txn, da->da_ix, &m)) != 0)
		return (rc);
	k.mv_size = strlen(da->da_extid);
	k.mv_data = (void *)da->da_extid;
	if ((rc = mdb_get(txn, index_dbi(da->da_ix, IDB_EXTIDS), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (v.mv_size != 8)
		return (MDB_CORRUPTED);
	if ((rc = index_doc_get(txn, da->da_ix, util_get_be64(v.mv_data), &d))
	    != 0)
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
	    "\"sweeps\": %llu" : "documents %llu chunks %llu segments %llu "
	    "dead %llu merges %llu blocks %llu terms %llu folded %llu "
	    "sweeps %llu", (unsigned long long)is->is_docs,
	    (unsigned long long)is->is_chunks,
	    (unsigned long long)is->is_segments,
	    (unsigned long long)is->is_dead,
	    (unsigned long long)is->is_merges,
	    (unsigned long long)is->is_blocks,
	    (unsigned long long)is->is_terms,
	    (unsigned long long)(is->is_folded > 0 ? is->is_folded - 1 : 0),
	    (unsigned long long)is->is_purges);
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
	int			 rc;

	k.mv_size = strlen(ga->ga_extid);
	k.mv_data = (void *)ga->ga_extid;
	if ((rc = mdb_get(txn, index_dbi(ga->ga_ix, IDB_EXTIDS), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (v.mv_size != 8)
		return (MDB_CORRUPTED);
	rc = index_doc_get(txn, ga->ga_ix, util_get_be64(v.mv_data), ga->ga_doc);
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

struct ix_chunks_arg {
	struct index	*ca_ix;
	const char	*ca_extid;
	struct ixdoc	*ca_doc;
	size_t		 ca_max;
	index_chunk_cb	 ca_cb;
	void		*ca_cbarg;
};

/* One chunk record into ck; its text appended to text. */
static int
ix_chunk_decode(const MDB_val *v, struct ixchunk *ck, struct buf *text)
{
	const uint8_t	*rec = v->mv_data;
	size_t		 hlen, hcopy;
	int		 raw;

	if (v->mv_size < 14)
		return (MDB_CORRUPTED);
	ck->ck_index = util_get_be32(rec + 8);
	raw = rec[12] & IX_RAW_FLAG;
	hlen = (size_t)(rec[12] & ~IX_RAW_FLAG) << 8 | rec[13];
	if (14 + hlen > v->mv_size)
		return (MDB_CORRUPTED);
	hcopy = hlen < sizeof(ck->ck_heading) ? hlen :
	    sizeof(ck->ck_heading) - 1;
	memcpy(ck->ck_heading, rec + 14, hcopy);
	ck->ck_heading[hcopy] = '\0';
	if (raw)
		buf_add(text, rec + 14 + hlen, v->mv_size - 14 - hlen);
	else if (chunk_decompress((const char *)rec + 14 + hlen,
	    v->mv_size - 14 - hlen, IX_CHUNK_TEXT_MAX, text) == -1)
		return (MDB_CORRUPTED);
	ck->ck_text = text->b_data != NULL ? text->b_data : "";
	ck->ck_len = text->b_len;
	return (0);
}

static int
index_doc_chunks_txn(MDB_txn *txn, void *arg)
{
	struct ix_chunks_arg	*ca = arg;
	struct ixchunk		 ck;
	struct buf		 text;
	uint8_t			 kb[4];
	MDB_val			 k, v;
	uint32_t		 i;
	int			 rc;

	k.mv_size = strlen(ca->ca_extid);
	k.mv_data = (void *)ca->ca_extid;
	if ((rc = mdb_get(txn, index_dbi(ca->ca_ix, IDB_EXTIDS), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if (v.mv_size != 8)
		return (MDB_CORRUPTED);
	if ((rc = index_doc_get(txn, ca->ca_ix, util_get_be64(v.mv_data),
	    ca->ca_doc)) != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	buf_init(&text);
	for (i = 0; i < ca->ca_doc->d_nchunks && i < ca->ca_max; i++) {
		memset(&ck, 0, sizeof(ck));
		ck.ck_cid = ca->ca_doc->d_cid + i;
		util_put_be32(kb, ck.ck_cid);
		k.mv_size = 4;
		k.mv_data = kb;
		buf_reset(&text);
		if ((rc = mdb_get(txn, index_dbi(ca->ca_ix, IDB_CHUNKS), &k,
		    &v)) != 0 || (rc = ix_chunk_decode(&v, &ck, &text)) != 0)
			break;
		if (ca->ca_cb(&ck, ca->ca_cbarg) != 0)
			break;
	}
	buf_free(&text);
	return (rc);
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
	int			 rc;

	if (strlen(extid) == 0 || strlen(extid) > IX_EXTID_MAX)
		return (INDEX_ENOENT);
	ca.ca_ix = ix;
	ca.ca_extid = extid;
	ca.ca_doc = d;
	ca.ca_max = max;
	ca.ca_cb = cb;
	ca.ca_cbarg = arg;
	rc = store_read(&ix->ix_store, index_doc_chunks_txn, &ca);
	if (rc == 0 || rc == INDEX_ENOENT)
		return (rc);
	log_warnx("%s: %s: %s", __func__, extid, rc == MDB_CORRUPTED ?
	    "a chunk record is damaged" : mdb_strerror(rc));
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
