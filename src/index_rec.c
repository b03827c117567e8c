/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The records of the docs and chunks databases, the table of names they
 * share and the zstd dictionaries that chunk texts are compressed with.
 *
 * docs	docid(8) -> 0x02, hash(8, big-endian), then varints: job, type,
 *	first cid, chunks, words, tenant, source; then extid and title,
 *	each a varint length and its bytes; last the attributes, a msgpack
 *	map.  A tenant, source or the attributes are a name reference: 2 *
 *	id for an interned name, 2 * length + 1 for one written in the
 *	record (shorter than IXREC_NAME_MIN, longer than IX_NAME_MAX or,
 *	should the table ever be damaged, anything else).  Attributes are
 *	interned when a document next to them in their batch has the
 *	same, or the table has them already: a file of records mostly
 *	shares them, but a document's attributes of its own must not grow
 *	the table.  The record a document had before (format 1) is a
 *	msgpack map: "id", "ext", "hash", "job", "title", "type", "ten",
 *	"src", "cid", "n", "w", "attrs"; it is still read, and its first
 *	byte (a map's) tells it from format 2.
 *
 * chunks cid(4) -> 0x80 | kind, varints: docid, chunk index, heading
 *	length; the heading; for kind 2 a varint dictionary id; then the
 *	text: kind 0 as it is, kind 1 a zstd frame, kind 2 a zstd frame
 *	made with the dictionary.  Frames are stored without their 4-byte
 *	magic number and without a dictionary id in their header.  The
 *	format before (format 1) was docid(8) chunk-index(4)
 *	heading-length(2) heading text, the heading length's top bit set
 *	for a raw text; its first byte, the docid's top byte, is 0.
 *
 * extids	external id -> docid, big-endian without its leading zero
 *	bytes (1 to 8 bytes; the 8 bytes of format 1 read the same).
 *
 * Names and dictionaries live in the meta database:
 *
 *	"N" name	-> id(4), for a name of at most IX_NAME_MAX bytes
 *	"I" id(4)	-> name
 *	"names"		-> the last id given out (4)
 *	"D" id(4)	-> a zstd dictionary
 *	"dict"		-> the id of the dictionary new chunks use (4)
 *	"dicts"		-> the last dictionary id given out (4)
 *
 * A worker trains the dictionary (ZDICT_trainFromBuffer) from the chunk
 * texts of the first batch large enough to be a sample, when the index
 * has none, and writes it with that batch; every later batch, in every
 * worker, uses the dictionary "dict" names, loaded once per process and
 * kept (with any other one a record has named) for the life of the
 * index handle.  Two workers that train at once both store theirs,
 * under their own ids; records name the one they were made with.
 * Short records compress by about half with a dictionary, where a
 * plain zstd frame saves little on 150 bytes.  The shortest, under
 * IXREC_DICT_MIN bytes, stay as they are: a frame costs about a
 * microsecond whatever its size, and saves them a few bytes (on
 * records-1.2m, 31% of the chunks and 2 MB of 106).
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>
#include <zdict.h>
#include <zstd.h>

#include "quire.h"

#define IXREC_DOC_V2		0x02
#define IXREC_CHUNK_V2		0x80
#define IXREC_RAW		0
#define IXREC_ZSTD		1
#define IXREC_DICT		2
#define IXREC_FRAME		3	/* format 1's, in memory only */
#define IXREC_MAGIC		"\x28\xb5\x2f\xfd"	/* zstd's, stored off */
#define IXREC_LEVEL		1
#define IXREC_DICT_MIN		64	/* shorter: not compressed */

/*
 * A dictionary sample: enough chunks and bytes, and at most
 * IXREC_SAMPLE_MAX of them (training takes about 0.2 s a megabyte, in
 * a commit, which has a hang-timeout to finish in).
 */
#define IXREC_SAMPLE_MIN	(128 * 1024)
#define IXREC_SAMPLE_MAX	(512 * 1024)
#define IXREC_SAMPLE_CHUNKS	1000
#define IXREC_DICTS_MAX		8	/* dictionaries kept by a process */
#define IXREC_NAME_MIN		4	/* shorter: as short written out */

/*
 * The format written: 2; tests set 1 to make an index as quire wrote it
 * before, through the same code path, and read it back.
 */
int	ixrec_format = 2;

struct ixdict {
	uint32_t	 dc_id;		/* 0: trained here, not yet stored */
	void		*dc_data;
	size_t		 dc_len;
	ZSTD_CDict	*dc_cdict;	/* made when first compressed with */
	ZSTD_DDict	*dc_ddict;	/* made when first read with */
};

struct ixzstd {
	ZSTD_CCtx	*z_cctx;
	ZSTD_DCtx	*z_dctx;
	struct ixdict	*z_dicts[IXREC_DICTS_MAX];
	size_t		 z_ndicts;
	struct ixdict	*z_pending;	/* trained, to be written */
	struct ixdict	*z_cur;		/* what new chunks use */
	size_t		 z_tried;	/* sample bytes a training failed on */
	struct ixdict	*z_cctx_dict;	/* what z_cctx is set up with */
	int		 z_cctx_set;
	struct buf	 z_frame;	/* a frame with its magic back */
};

static MDB_dbi
ixrec_meta(struct index *ix)
{
	return (ix->ix_store.s_dbi[IDB_META]);
}

static struct ixzstd *
ixrec_z(struct index *ix)
{
	struct ixzstd	*z;

	if ((z = ix->ix_z) != NULL)
		return (z);
	z = xcalloc(1, sizeof(*z));
	if ((z->z_cctx = ZSTD_createCCtx()) == NULL ||
	    (z->z_dctx = ZSTD_createDCtx()) == NULL)
		fatalx("%s: out of memory", __func__);
	buf_init(&z->z_frame);
	ix->ix_z = z;
	return (z);
}

/* A dictionary freed; the compression context set up with it is reset
 * before its next use. */
static void
ixrec_dict_free(struct ixzstd *z, struct ixdict *dc)
{
	if (dc == NULL)
		return;
	z->z_cctx_set = 0;
	ZSTD_freeCDict(dc->dc_cdict);
	ZSTD_freeDDict(dc->dc_ddict);
	free(dc->dc_data);
	free(dc);
}

void
ixrec_free(struct index *ix)
{
	struct ixzstd	*z = ix->ix_z;
	size_t		 i;

	if (z == NULL)
		return;
	for (i = 0; i < z->z_ndicts; i++)
		ixrec_dict_free(z, z->z_dicts[i]);
	ixrec_dict_free(z, z->z_pending);
	ZSTD_freeCCtx(z->z_cctx);
	ZSTD_freeDCtx(z->z_dctx);
	buf_free(&z->z_frame);
	free(z);
	ix->ix_z = NULL;
}

static int
ixrec_get32(MDB_txn *txn, struct index *ix, const char *key, uint32_t *v)
{
	MDB_val	 k, d;
	int	 rc;

	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	*v = 0;
	if ((rc = mdb_get(txn, ixrec_meta(ix), &k, &d)) == MDB_NOTFOUND)
		return (0);
	if (rc != 0)
		return (rc);
	if (d.mv_size != 4)
		return (MDB_CORRUPTED);
	*v = util_get_be32(d.mv_data);
	return (0);
}

static int
ixrec_put32(MDB_txn *txn, struct index *ix, const char *key, uint32_t v)
{
	uint8_t	 b[4];
	MDB_val	 k, d = { 4, b };

	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	util_put_be32(b, v);
	return (mdb_put(txn, ixrec_meta(ix), &k, &d, 0));
}


/* External ids' values. */

/* A docid as an external id's value: into b (8 bytes), its length out. */
size_t
ixrec_docid_put(uint8_t *b, uint64_t docid)
{
	size_t	 n = 8;

	util_put_be64(b, docid);
	while (ixrec_format > 1 && n > 1 && b[8 - n] == 0)
		n--;
	memmove(b, b + 8 - n, n);
	return (n);
}

/* An external id's value: 0, or -1 unless it is a docid as put there. */
int
ixrec_docid_get(const MDB_val *v, uint64_t *docid)
{
	const uint8_t	*p = v->mv_data;
	size_t		 i;

	*docid = 0;
	if (v->mv_size == 0 || v->mv_size > 8 ||
	    (v->mv_size < 8 && p[0] == 0))
		return (-1);
	for (i = 0; i < v->mv_size; i++)
		*docid = *docid << 8 | p[i];
	return (*docid != 0 ? 0 : -1);
}


/* Names. */

/*
 * The reference to a name (len bytes) for a document record, interning
 * it if add is set: 0 or an LMDB error.
 */
int
ixrec_name_ref(MDB_txn *txn, struct index *ix, const void *name,
    size_t len, int add, uint64_t *ref)
{
	uint8_t	 kb[1 + IX_NAME_MAX], ib[5];
	MDB_val	 k, v;
	uint32_t id;
	int	 rc;

	*ref = 2 * len + 1;
	if (len < IXREC_NAME_MIN || len > IX_NAME_MAX || ixrec_format == 1)
		return (0);
	kb[0] = 'N';
	memcpy(kb + 1, name, len);
	k.mv_size = 1 + len;
	k.mv_data = kb;
	if ((rc = mdb_get(txn, ixrec_meta(ix), &k, &v)) == 0) {
		if (v.mv_size != 4)
			return (MDB_CORRUPTED);
		*ref = 2 * (uint64_t)util_get_be32(v.mv_data);
		return (0);
	}
	if (rc != MDB_NOTFOUND || !add)
		return (rc == MDB_NOTFOUND ? 0 : rc);
	if ((rc = ixrec_get32(txn, ix, "names", &id)) != 0)
		return (rc);
	if (id == UINT32_MAX)
		return (0);	/* written in the record, then */
	id++;
	ib[0] = 'I';
	util_put_be32(ib + 1, id);
	v.mv_size = 4;
	v.mv_data = ib + 1;
	if ((rc = mdb_put(txn, ixrec_meta(ix), &k, &v, MDB_NOOVERWRITE)) != 0)
		return (rc);
	k.mv_size = 5;
	k.mv_data = ib;
	v.mv_size = len;
	v.mv_data = (void *)name;
	if ((rc = mdb_put(txn, ixrec_meta(ix), &k, &v, 0)) != 0)
		return (rc);
	if ((rc = ixrec_put32(txn, ix, "names", id)) != 0)
		return (rc);
	*ref = 2 * (uint64_t)id;
	return (0);
}

/* An interned name, in the transaction's memory. */
static int
ixrec_name_val(MDB_txn *txn, struct index *ix, uint32_t id, MDB_val *v)
{
	uint8_t	 ib[5];
	MDB_val	 k = { 5, ib };
	int	 rc;

	ib[0] = 'I';
	util_put_be32(ib + 1, id);
	if ((rc = mdb_get(txn, ixrec_meta(ix), &k, v)) != 0)
		return (rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
	if (v->mv_size == 0 || v->mv_size > IX_NAME_MAX)
		return (MDB_CORRUPTED);
	return (0);
}

/* An interned name into dst: 0, MDB_CORRUPTED when it is not there. */
int
ixrec_name_get(MDB_txn *txn, struct index *ix, uint32_t id, char *dst,
    size_t len)
{
	MDB_val	 v;
	size_t	 n;
	int	 rc;

	if ((rc = ixrec_name_val(txn, ix, id, &v)) != 0)
		return (rc);
	n = v.mv_size < len ? v.mv_size : len - 1;
	memcpy(dst, v.mv_data, n);
	dst[n] = '\0';
	return (0);
}

/* The tenant and source of a decoded document, from the names table. */
int
ixrec_doc_names(MDB_txn *txn, struct index *ix, struct ixdoc *d)
{
	char	 attrs[8];
	int	 rc;

	if (d->d_tenant_id != 0 && (rc = ixrec_name_get(txn, ix,
	    d->d_tenant_id, d->d_tenant, sizeof(d->d_tenant))) != 0)
		return (rc);
	if (d->d_source_id != 0 && (rc = ixrec_name_get(txn, ix,
	    d->d_source_id, d->d_source, sizeof(d->d_source))) != 0)
		return (rc);
	/* Attributes are read by nobody yet: only there, then. */
	if (d->d_attrs_id != 0 && (rc = ixrec_name_get(txn, ix,
	    d->d_attrs_id, attrs, sizeof(attrs))) != 0)
		return (rc);
	return (0);
}


/* Document records. */

static void
ixrec_add_bytes(struct buf *out, const char *s, size_t len)
{
	ix_varint(out, len);
	buf_add(out, s, len);
}

static void
ixrec_add_name(struct buf *out, uint64_t ref, const void *s)
{
	ix_varint(out, ref);
	if (ref & 1)
		buf_add(out, s, ref >> 1);
}

static int
ixrec_sbuf_write(void *data, const char *p, size_t len)
{
	buf_add(data, p, len);
	return (0);
}

/* Format 1, for tests: a msgpack map, every string in it. */
static void
ixrec_doc_encode1(struct buf *out, const struct ixdocrec *r)
{
	msgpack_packer	 pk;

	msgpack_packer_init(&pk, out, ixrec_sbuf_write);
	msgpack_pack_map(&pk, 12);
	codec_pack_uint(&pk, "id", r->r_docid);
	codec_pack_str(&pk, "ext", r->r_extid);
	codec_pack_uint(&pk, "hash", r->r_hash);
	codec_pack_uint(&pk, "job", r->r_job);
	codec_pack_str(&pk, "title", r->r_title);
	codec_pack_uint(&pk, "type", r->r_type);
	codec_pack_str(&pk, "ten", r->r_tenant);
	codec_pack_str(&pk, "src", r->r_source);
	codec_pack_uint(&pk, "cid", r->r_cid);
	codec_pack_uint(&pk, "n", r->r_nchunks);
	codec_pack_uint(&pk, "w", r->r_words);
	codec_pack_key(&pk, "attrs");
	if (r->r_attrslen > 0)
		buf_add(out, r->r_attrs, r->r_attrslen);
	else
		msgpack_pack_map(&pk, 0);
}

/* A document record appended to out. */
void
ixrec_doc_encode(struct buf *out, const struct ixdocrec *r)
{
	uint8_t	 h[9];

	if (ixrec_format == 1) {
		ixrec_doc_encode1(out, r);
		return;
	}
	h[0] = IXREC_DOC_V2;
	util_put_be64(h + 1, r->r_hash);
	buf_add(out, h, sizeof(h));
	ix_varint(out, r->r_job);
	ix_varint(out, r->r_type);
	ix_varint(out, r->r_cid);
	ix_varint(out, r->r_nchunks);
	ix_varint(out, r->r_words);
	ixrec_add_name(out, r->r_tenant_ref, r->r_tenant);
	ixrec_add_name(out, r->r_source_ref, r->r_source);
	ixrec_add_bytes(out, r->r_extid, strlen(r->r_extid));
	ixrec_add_bytes(out, r->r_title, strlen(r->r_title));
	if (r->r_attrslen > 0)
		ixrec_add_name(out, r->r_attrs_ref, r->r_attrs);
	else
		ixrec_add_name(out, 3, "\x80");	/* an empty map */
}

/* A string of the record into dst, cut to fit; -1 past its end. */
static int
ixrec_get_str(const uint8_t **p, const uint8_t *end, uint64_t len,
    char *dst, size_t size)
{
	size_t	 n;

	if (len > (uint64_t)(end - *p))
		return (-1);
	n = len < size ? len : size - 1;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p += len;
	return (0);
}

static int
ixrec_get_name(const uint8_t **p, const uint8_t *end, uint32_t *id,
    char *dst, size_t size)
{
	uint64_t	 ref;

	if (ix_getvarint(p, end, &ref) == -1)
		return (-1);
	if (ref & 1)
		return (ixrec_get_str(p, end, ref >> 1, dst, size));
	if (ref == 0 || ref / 2 > UINT32_MAX)
		return (-1);
	*id = ref / 2;
	return (0);
}

/* The attributes: one msgpack map, to the end of the record. */
static int
ixrec_attrs_ok(const uint8_t *p, size_t len)
{
	msgpack_unpacked	 up;
	size_t			 off = 0;
	int			 rv = -1;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)p, len, &off) ==
	    MSGPACK_UNPACK_SUCCESS && up.data.type == MSGPACK_OBJECT_MAP &&
	    off == len)
		rv = 0;
	msgpack_unpacked_destroy(&up);
	return (rv);
}

static int
ixrec_doc_decode2(const uint8_t *p, const uint8_t *end, struct ixdoc *d)
{
	uint64_t	 type, n, len, ref;

	if (end - p < 8)
		return (-1);
	d->d_hash = util_get_be64(p);
	p += 8;
	if (ix_getvarint(&p, end, &d->d_job) == -1 ||
	    ix_getvarint(&p, end, &type) == -1 || type > INT32_MAX ||
	    ix_getvarint(&p, end, &d->d_cid) == -1 || d->d_cid > UINT32_MAX ||
	    ix_getvarint(&p, end, &n) == -1 || n > UINT32_MAX ||
	    ix_getvarint(&p, end, &d->d_words) == -1)
		return (-1);
	d->d_type = type;
	d->d_nchunks = n;
	if (ixrec_get_name(&p, end, &d->d_tenant_id, d->d_tenant,
	    sizeof(d->d_tenant)) == -1 ||
	    ixrec_get_name(&p, end, &d->d_source_id, d->d_source,
	    sizeof(d->d_source)) == -1)
		return (-1);
	if (ix_getvarint(&p, end, &len) == -1 || len == 0 ||
	    len > IX_EXTID_MAX ||
	    ixrec_get_str(&p, end, len, d->d_extid, sizeof(d->d_extid)) == -1 ||
	    ix_getvarint(&p, end, &len) == -1 ||
	    ixrec_get_str(&p, end, len, d->d_title, sizeof(d->d_title)) == -1)
		return (-1);
	/* The attributes, interned or a msgpack map to the end. */
	if (ix_getvarint(&p, end, &ref) == -1)
		return (-1);
	if ((ref & 1) == 0) {
		if (ref == 0 || ref / 2 > UINT32_MAX || p != end)
			return (-1);
		d->d_attrs_id = ref / 2;
		return (0);
	}
	if (ref >> 1 != (uint64_t)(end - p))
		return (-1);
	return (ixrec_attrs_ok(p, end - p));
}

static int
ixrec_copy_str(const msgpack_object *v, char *dst, size_t len)
{
	size_t	 n;

	if (v->type != MSGPACK_OBJECT_STR)
		return (-1);
	n = v->via.str.size < len ? v->via.str.size : len - 1;
	if (n > 0)
		memcpy(dst, v->via.str.ptr, n);
	dst[n] = '\0';
	return (0);
}

/* A format 1 record: a msgpack map of named fields. */
static int
ixrec_doc_decode1(const void *data, size_t len, struct ixdoc *d)
{
	msgpack_unpacked	 up;
	msgpack_object_kv	*kv;
	const char		*k;
	size_t			 off = 0, i, kl;
	uint64_t		 u;
	int			 rv = -1;

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
			ixrec_copy_str(&kv->val, d->d_extid,
			    sizeof(d->d_extid));
		else if (IS("hash"))
			d->d_hash = u;
		else if (IS("job"))
			d->d_job = u;
		else if (IS("title"))
			ixrec_copy_str(&kv->val, d->d_title,
			    sizeof(d->d_title));
		else if (IS("type"))
			d->d_type = u;
		else if (IS("ten"))
			ixrec_copy_str(&kv->val, d->d_tenant,
			    sizeof(d->d_tenant));
		else if (IS("src"))
			ixrec_copy_str(&kv->val, d->d_source,
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

/*
 * A document record of either format into d, docid (the record's key;
 * 0 if not known, and then not checked) included: 0, or -1 when it is
 * damaged.  A tenant or source interned in
 * the names table is left empty, its id in d_tenant_id or d_source_id
 * (ixrec_doc_names fills them in).
 */
int
ixrec_doc_decode(uint64_t docid, const void *data, size_t len,
    struct ixdoc *d)
{
	const uint8_t	*p = data;

	memset(d, 0, sizeof(*d));
	if (len == 0 || len > CODEC_RECORD_MAX)
		return (-1);
	if (p[0] != IXREC_DOC_V2)
		return (ixrec_doc_decode1(data, len, d) == 0 &&
		    (docid == 0 || d->d_docid == docid) ? 0 : -1);
	if (ixrec_doc_decode2(p + 1, p + len, d) == -1)
		return (-1);
	d->d_docid = docid;
	return (0);
}

/*
 * A document record v of the current format with its first chunk's cid
 * made its rank among the live chunks (index_shrink.c numbers them
 * again), into out; the first cid of a document of no chunks becomes
 * the one it would have.  0, or -1 when the record is damaged or of
 * format 1 (a msgpack map, which this does not rewrite).
 */
int
ixrec_doc_renum(const MDB_val *v, const roaring_bitmap_t *live,
    struct buf *out)
{
	const uint8_t	*p = v->mv_data, *end = p + v->mv_size, *at;
	uint64_t	 job, type, cid, n;

	if (v->mv_size < 9 || p[0] != IXREC_DOC_V2)
		return (-1);
	at = p + 9;
	if (ix_getvarint(&at, end, &job) == -1 ||
	    ix_getvarint(&at, end, &type) == -1)
		return (-1);
	buf_reset(out);
	buf_add(out, p, at - p);
	if (ix_getvarint(&at, end, &cid) == -1 || cid > UINT32_MAX ||
	    ix_getvarint(&at, end, &n) == -1 || n > UINT32_MAX)
		return (-1);
	if (n > 0 && !roaring_bitmap_contains(live, cid))
		return (-1);
	/* Live chunks below it, and it. */
	cid = n > 0 ? roaring_bitmap_rank(live, cid) : cid == 0 ? 0 :
	    roaring_bitmap_rank(live, cid - 1) + 1;
	ix_varint(out, cid);
	ix_varint(out, n);
	buf_add(out, at, end - at);
	return (0);
}

/* A format 1 record's whole title and attributes: ixrec_doc_whole. */
static int
ixrec_doc_whole1(const void *data, size_t len, struct buf *title,
    struct buf *attrs)
{
	msgpack_unpacked	 up;
	msgpack_sbuffer		 sb;
	msgpack_packer		 pk;
	msgpack_object_kv	*kv;
	size_t			 off = 0, i;
	int			 rv = -1;

	msgpack_unpacked_init(&up);
	msgpack_sbuffer_init(&sb);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || up.data.type != MSGPACK_OBJECT_MAP)
		goto out;
	for (i = 0; i < up.data.via.map.size; i++) {
		kv = &up.data.via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			goto out;
		if (kv->key.via.str.size == 5 &&
		    memcmp(kv->key.via.str.ptr, "title", 5) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_STR)
			buf_add(title, kv->val.via.str.ptr,
			    kv->val.via.str.size);
		else if (kv->key.via.str.size == 5 &&
		    memcmp(kv->key.via.str.ptr, "attrs", 5) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_MAP) {
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			msgpack_pack_object(&pk, kv->val);
			buf_add(attrs, sb.data, sb.size);
		}
	}
	rv = 0;
out:
	msgpack_sbuffer_destroy(&sb);
	msgpack_unpacked_destroy(&up);
	return (rv);
}

/*
 * The whole title and the attributes (a msgpack map; an empty one when
 * the document has none) of a document record, which ixrec_doc_decode
 * cuts and leaves out, appended to title and attrs: 0, or MDB_CORRUPTED.
 */
int
ixrec_doc_whole(MDB_txn *txn, struct index *ix, const void *data,
    size_t len, struct buf *title, struct buf *attrs)
{
	const uint8_t	*p = data, *end = p + len;
	MDB_val		 nv;
	char		 skip[8];
	uint64_t	 v, ref;
	uint32_t	 id;
	int		 i, rc;

	if (len == 0 || len > CODEC_RECORD_MAX)
		return (MDB_CORRUPTED);
	if (p[0] != IXREC_DOC_V2) {
		if (ixrec_doc_whole1(data, len, title, attrs) == -1)
			return (MDB_CORRUPTED);
		if (attrs->b_len == 0)
			buf_addc(attrs, 0x80);
		return (0);
	}
	p++;
	if (end - p < 8)
		return (MDB_CORRUPTED);
	p += 8;
	/* job, type, first cid, chunks, words; tenant, source; extid. */
	for (i = 0; i < 5; i++)
		if (ix_getvarint(&p, end, &v) == -1)
			return (MDB_CORRUPTED);
	if (ixrec_get_name(&p, end, &id, skip, sizeof(skip)) == -1 ||
	    ixrec_get_name(&p, end, &id, skip, sizeof(skip)) == -1 ||
	    ix_getvarint(&p, end, &v) == -1 || v > (uint64_t)(end - p))
		return (MDB_CORRUPTED);
	p += v;
	if (ix_getvarint(&p, end, &v) == -1 || v > (uint64_t)(end - p))
		return (MDB_CORRUPTED);
	buf_add(title, p, v);
	p += v;
	if (ix_getvarint(&p, end, &ref) == -1)
		return (MDB_CORRUPTED);
	if (ref & 1) {
		if (ref >> 1 != (uint64_t)(end - p) ||
		    ixrec_attrs_ok(p, end - p) == -1)
			return (MDB_CORRUPTED);
		buf_add(attrs, p, end - p);
		return (0);
	}
	if (ref == 0 || ref / 2 > UINT32_MAX)
		return (MDB_CORRUPTED);
	if ((rc = ixrec_name_val(txn, ix, ref / 2, &nv)) != 0)
		return (rc);
	if (ixrec_attrs_ok(nv.mv_data, nv.mv_size) == -1)
		return (MDB_CORRUPTED);
	buf_add(attrs, nv.mv_data, nv.mv_size);
	return (0);
}

/* Dictionaries. */

static struct ixdict *
ixrec_dict_new(uint32_t id, const void *data, size_t len)
{
	struct ixdict	*dc;

	dc = xcalloc(1, sizeof(*dc));
	dc->dc_id = id;
	dc->dc_data = xmalloc(len);
	memcpy(dc->dc_data, data, len);
	dc->dc_len = len;
	return (dc);
}

/* A stored dictionary by id, loaded once: 0, MDB_CORRUPTED or an error. */
static int
ixrec_dict_load(MDB_txn *txn, struct index *ix, uint32_t id,
    struct ixdict **dcp)
{
	struct ixzstd	*z = ixrec_z(ix);
	uint8_t		 kb[5];
	MDB_val		 k = { 5, kb }, v;
	size_t		 i;
	int		 rc;

	for (i = 0; i < z->z_ndicts; i++)
		if (z->z_dicts[i]->dc_id == id) {
			*dcp = z->z_dicts[i];
			return (0);
		}
	kb[0] = 'D';
	util_put_be32(kb + 1, id);
	if ((rc = mdb_get(txn, ixrec_meta(ix), &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc);
	if (v.mv_size == 0 || v.mv_size > IX_DICT_MAX)
		return (MDB_CORRUPTED);
	if (z->z_ndicts == IXREC_DICTS_MAX) {
		/* Many dictionaries: forget the oldest (not the current). */
		i = z->z_dicts[0] == z->z_cur ? 1 : 0;
		ixrec_dict_free(z, z->z_dicts[i]);
		memmove(&z->z_dicts[i], &z->z_dicts[i + 1],
		    (z->z_ndicts - i - 1) * sizeof(*z->z_dicts));
		z->z_ndicts--;
	}
	*dcp = z->z_dicts[z->z_ndicts++] = ixrec_dict_new(id, v.mv_data,
	    v.mv_size);
	return (0);
}

struct ixrec_prep_arg {
	struct index	*pa_ix;
	uint32_t	 pa_id;
};

static int
ixrec_prepare_txn(MDB_txn *txn, void *arg)
{
	struct ixrec_prep_arg	*pa = arg;
	struct ixdict		*dc;
	int			 rc;

	if ((rc = ixrec_get32(txn, pa->pa_ix, "dict", &pa->pa_id)) != 0 ||
	    pa->pa_id == 0)
		return (rc);
	if ((rc = ixrec_dict_load(txn, pa->pa_ix, pa->pa_id, &dc)) != 0)
		return (rc);
	ixrec_z(pa->pa_ix)->z_cur = dc;
	return (0);
}

/*
 * Before a batch's chunks are compressed: the dictionary they use, the
 * index's current one if it has one.  0, or an LMDB error; then
 * ixrec_dict_wanted says whether a trained one would be stored.
 */
int
ixrec_prepare(struct index *ix)
{
	struct ixzstd		*z = ixrec_z(ix);
	struct ixrec_prep_arg	 pa;
	int			 rc;

	if (z->z_cur != NULL && z->z_cur->dc_id != 0)
		return (0);	/* the current dictionary stays current */
	pa.pa_ix = ix;
	pa.pa_id = 0;
	if ((rc = store_read(&ix->ix_store, ixrec_prepare_txn, &pa)) != 0)
		return (rc);
	if (pa.pa_id != 0) {
		/* Another worker's came first: ours is not needed. */
		ixrec_dict_free(z, z->z_pending);
		z->z_pending = NULL;
		return (0);
	}
	z->z_cur = z->z_pending;
	return (0);
}

/*
 * No dictionary yet, and a sample of this many bytes may make one: how
 * many bytes of it to take (0: no training).
 */
size_t
ixrec_dict_wanted(struct index *ix, size_t bytes, size_t n)
{
	struct ixzstd	*z = ixrec_z(ix);

	if (z->z_cur != NULL || ixrec_format == 1 ||
	    bytes < IXREC_SAMPLE_MIN || n < IXREC_SAMPLE_CHUNKS ||
	    bytes <= z->z_tried)
		return (0);
	return (bytes < IXREC_SAMPLE_MAX ? bytes : IXREC_SAMPLE_MAX);
}

/*
 * Train a dictionary from n sample texts laid end to end in data (sizes
 * in sizes): new chunks use it, and the commit stores it.  When zstd
 * finds no dictionary in them, chunks go on without one; a larger
 * sample is tried again.
 */
void
ixrec_dict_train(struct index *ix, const void *data, const size_t *sizes,
    size_t n, size_t bytes)
{
	struct ixzstd	*z = ixrec_z(ix);
	void		*dict;
	size_t		 len;

	dict = xmalloc(IX_DICT_SIZE);
	len = ZDICT_trainFromBuffer(dict, IX_DICT_SIZE, data, sizes, n);
	if (ZDICT_isError(len) || len == 0) {
		log_debug("%s: no dictionary from %zu chunks: %s", __func__,
		    n, ZDICT_isError(len) ? ZDICT_getErrorName(len) : "empty");
		z->z_tried = bytes;
		free(dict);
		return;
	}
	ixrec_dict_free(z, z->z_pending);
	z->z_pending = ixrec_dict_new(0, dict, len);
	z->z_cur = z->z_pending;
	free(dict);
	log_debug("%s: a dictionary of %zu bytes from %zu chunks", __func__,
	    len, n);
}

/*
 * In the commit transaction: the dictionary trained for this batch is
 * stored, under a new id, and made the current one if there is none.
 * *id is the id chunk records name (0: none).
 */
int
ixrec_dict_store(MDB_txn *txn, struct index *ix, uint32_t *id)
{
	struct ixzstd	*z = ixrec_z(ix);
	struct ixdict	*dc = z->z_pending;
	uint32_t	 last, cur;
	uint8_t		 kb[5];
	MDB_val		 k = { 5, kb }, v;
	int		 rc;

	*id = z->z_cur != NULL ? z->z_cur->dc_id : 0;
	if (dc == NULL || z->z_cur != dc)
		return (0);
	if ((rc = ixrec_get32(txn, ix, "dicts", &last)) != 0 ||
	    (rc = ixrec_get32(txn, ix, "dict", &cur)) != 0)
		return (rc);
	if (last == UINT32_MAX)
		return (STORE_ENOIDS);
	kb[0] = 'D';
	util_put_be32(kb + 1, last + 1);
	v.mv_size = dc->dc_len;
	v.mv_data = dc->dc_data;
	if ((rc = mdb_put(txn, ixrec_meta(ix), &k, &v, MDB_NOOVERWRITE)) != 0 ||
	    (rc = ixrec_put32(txn, ix, "dicts", last + 1)) != 0)
		return (rc);
	if (cur == 0 && (rc = ixrec_put32(txn, ix, "dict", last + 1)) != 0)
		return (rc);
	*id = last + 1;
	return (0);
}

/* After the commit: the dictionary it stored is kept under its id. */
void
ixrec_dict_stored(struct index *ix, uint32_t id)
{
	struct ixzstd	*z = ixrec_z(ix);
	struct ixdict	*dc = z->z_pending;

	if (dc == NULL || z->z_cur != dc || id == 0)
		return;
	z->z_pending = NULL;
	dc->dc_id = id;
	if (z->z_ndicts == IXREC_DICTS_MAX) {
		ixrec_dict_free(z, z->z_dicts[0]);
		memmove(&z->z_dicts[0], &z->z_dicts[1],
		    (z->z_ndicts - 1) * sizeof(*z->z_dicts));
		z->z_ndicts--;
	}
	z->z_dicts[z->z_ndicts++] = dc;
}


/* Chunk records. */

/*
 * A chunk's text as stored: the kind byte (IXREC_CHUNK_V2 | kind) then
 * the text or frame, appended to out; the dictionary id goes in at
 * commit (ixrec_chunk_encode).  0, or -1 if zstd fails.
 */
int
ixrec_chunk_text(struct index *ix, const char *text, size_t len,
    struct buf *out)
{
	struct ixzstd	*z = ixrec_z(ix);
	struct ixdict	*dc = z->z_cur;
	size_t		 start = out->b_len, bound, n;
	int		 kind;

	if (ixrec_format == 1 && len >= IX_RAW_MAX) {
		/* A whole frame, magic and all. */
		buf_addc(out, IXREC_CHUNK_V2 | IXREC_FRAME);
		return (chunk_compress(text, len, out));
	}
	if ((dc == NULL && len < IX_RAW_MAX) || len < IXREC_DICT_MIN ||
	    ixrec_format == 1)
		goto raw;
	bound = ZSTD_compressBound(len);
	buf_reserve(out, 1 + bound);
	/* The context keeps its dictionary and parameters from one to the
	 * next: setting them costs about a tenth of a short record's
	 * compression. */
	if (z->z_cctx_set == 0 || z->z_cctx_dict != dc) {
		ZSTD_CCtx_reset(z->z_cctx, ZSTD_reset_session_and_parameters);
		if (dc != NULL) {
			if (dc->dc_cdict == NULL && (dc->dc_cdict =
			    ZSTD_createCDict(dc->dc_data, dc->dc_len,
			    IXREC_LEVEL)) == NULL)
				fatalx("%s: ZSTD_createCDict failed", __func__);
			ZSTD_CCtx_setParameter(z->z_cctx, ZSTD_c_dictIDFlag, 0);
			ZSTD_CCtx_refCDict(z->z_cctx, dc->dc_cdict);
		} else
			ZSTD_CCtx_setParameter(z->z_cctx,
			    ZSTD_c_compressionLevel, IXREC_LEVEL);
		z->z_cctx_dict = dc;
		z->z_cctx_set = 1;
	}
	kind = dc != NULL ? IXREC_DICT : IXREC_ZSTD;
	n = ZSTD_compress2(z->z_cctx, out->b_data + start + 1, bound, text,
	    len);
	if (ZSTD_isError(n)) {
		log_warnx("%s: %s", __func__, ZSTD_getErrorName(n));
		return (-1);
	}
	if (n < 4 || memcmp(out->b_data + start + 1, IXREC_MAGIC, 4) != 0)
		fatalx("%s: a zstd frame without its magic", __func__);
	if (n - 4 >= len)
		goto raw;
	out->b_data[start] = IXREC_CHUNK_V2 | kind;
	memmove(out->b_data + start + 1, out->b_data + start + 5, n - 4);
	out->b_len = start + 1 + n - 4;
	return (0);
raw:
	out->b_len = start;
	buf_addc(out, IXREC_CHUNK_V2 | IXREC_RAW);
	buf_add(out, text, len);
	return (0);
}

/*
 * A whole chunk record into out: header, heading, then the stored text
 * that ixrec_chunk_text made (kind byte first); dict is the dictionary
 * id that ixrec_dict_store gave.
 */
void
ixrec_chunk_encode(struct buf *out, uint64_t docid, uint32_t index,
    const char *heading, size_t hlen, const void *stored, size_t slen,
    uint32_t dict)
{
	const uint8_t	*s = stored;
	uint8_t		 h[14];

	if (ixrec_format == 1) {
		util_put_be64(h, docid);
		util_put_be32(h + 8, index);
		h[12] = hlen >> 8;
		h[13] = hlen & 0xff;
		if ((s[0] & 0x7f) == IXREC_RAW)
			h[12] |= IX_RAW_FLAG;
		buf_add(out, h, sizeof(h));
		buf_add(out, heading, hlen);
		buf_add(out, s + 1, slen - 1);
		return;
	}
	buf_addc(out, s[0]);
	ix_varint(out, docid);
	ix_varint(out, index);
	ix_varint(out, hlen);
	buf_add(out, heading, hlen);
	if ((s[0] & 0x7f) == IXREC_DICT)
		ix_varint(out, dict);
	buf_add(out, s + 1, slen - 1);
}

/* A zstd frame without its magic, decompressed into text. */
static int
ixrec_unzstd(MDB_txn *txn, struct index *ix, const uint8_t *p, size_t len,
    uint32_t dict, struct buf *text)
{
	struct ixzstd		*z = ixrec_z(ix);
	struct ixdict		*dc = NULL;
	unsigned long long	 size;
	size_t			 n;
	int			 rc;

	if (dict != 0) {
		if ((rc = ixrec_dict_load(txn, ix, dict, &dc)) != 0)
			return (rc);
		if (dc->dc_ddict == NULL && (dc->dc_ddict =
		    ZSTD_createDDict(dc->dc_data, dc->dc_len)) == NULL)
			return (MDB_CORRUPTED);
	}
	buf_reset(&z->z_frame);
	buf_add(&z->z_frame, IXREC_MAGIC, 4);
	buf_add(&z->z_frame, p, len);
	size = ZSTD_getFrameContentSize(z->z_frame.b_data, z->z_frame.b_len);
	if (size == ZSTD_CONTENTSIZE_ERROR ||
	    size == ZSTD_CONTENTSIZE_UNKNOWN || size > IX_CHUNK_TEXT_MAX)
		return (MDB_CORRUPTED);
	buf_reserve(text, size);
	if (dc != NULL)
		n = ZSTD_decompress_usingDDict(z->z_dctx, text->b_data +
		    text->b_len, size, z->z_frame.b_data, z->z_frame.b_len,
		    dc->dc_ddict);
	else
		n = ZSTD_decompressDCtx(z->z_dctx, text->b_data + text->b_len,
		    size, z->z_frame.b_data, z->z_frame.b_len);
	if (ZSTD_isError(n) || n != size)
		return (MDB_CORRUPTED);
	text->b_len += n;
	return (0);
}

/* A format 1 record's header. */
static int
ixrec_chunk_head1(const uint8_t *rec, size_t len, uint64_t *docid,
    struct ixchunk *ck, const uint8_t **heading, size_t *hl, int *kind)
{
	size_t	 hlen;

	if (len < 14)
		return (MDB_CORRUPTED);
	*docid = util_get_be64(rec);
	ck->ck_index = util_get_be32(rec + 8);
	*kind = rec[12] & IX_RAW_FLAG ? IXREC_RAW : -1;
	hlen = (size_t)(rec[12] & ~IX_RAW_FLAG) << 8 | rec[13];
	if (14 + hlen > len)
		return (MDB_CORRUPTED);
	*heading = rec + 14;
	*hl = hlen;
	return (0);
}

/*
 * A chunk record of either format: its document into *docid, its index
 * and heading into ck and, if text is not NULL, its text appended to
 * text (ck_text, ck_len point there).  0; MDB_CORRUPTED when the header
 * is damaged; IXREC_ETEXT when only the text is (the header is read);
 * or an LMDB error reading a dictionary.
 */
int
ixrec_chunk_decode(MDB_txn *txn, struct index *ix, const void *data,
    size_t len, uint64_t *docid, struct ixchunk *ck, struct buf *text)
{
	const uint8_t	*p = data, *end = p + len, *body, *hp;
	uint64_t	 idx, hlen, dict = 0;
	size_t		 n, hl;
	int		 kind, rc;

	if (len == 0)
		return (MDB_CORRUPTED);
	if ((p[0] & IXREC_CHUNK_V2) == 0) {
		if ((rc = ixrec_chunk_head1(p, len, docid, ck, &hp, &hl,
		    &kind)) != 0)
			return (rc);
		body = hp + hl;
	} else {
		kind = p[0] & 0x7f;
		p++;
		if (kind > IXREC_DICT || ix_getvarint(&p, end, docid) == -1 ||
		    ix_getvarint(&p, end, &idx) == -1 || idx > UINT32_MAX ||
		    ix_getvarint(&p, end, &hlen) == -1 ||
		    hlen > (uint64_t)(end - p))
			return (MDB_CORRUPTED);
		ck->ck_index = idx;
		hp = p;
		hl = hlen;
		p += hlen;
		if (kind == IXREC_DICT && (ix_getvarint(&p, end, &dict) == -1 ||
		    dict == 0 || dict > UINT32_MAX))
			return (MDB_CORRUPTED);
		body = p;
	}
	n = hl < sizeof(ck->ck_heading) ? hl : sizeof(ck->ck_heading) - 1;
	memcpy(ck->ck_heading, hp, n);
	ck->ck_heading[n] = '\0';
	if (text == NULL)
		return (0);
	if (kind == IXREC_RAW)
		buf_add(text, body, end - body);
	else if (kind == -1) {
		/* Format 1: a whole zstd frame. */
		if (chunk_decompress((const char *)body, end - body,
		    IX_CHUNK_TEXT_MAX, text) == -1)
			return (IXREC_ETEXT);
	} else if ((rc = ixrec_unzstd(txn, ix, body, end - body, dict, text))
	    != 0)
		return (rc == MDB_CORRUPTED ? IXREC_ETEXT : rc);
	ck->ck_text = text->b_data != NULL ? text->b_data : "";
	ck->ck_len = text->b_len;
	return (0);
}
