/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * A drained host's document as its move job carries it (quire_bodies;
 * drain.c writes it, a worker of another host reads it): what the index
 * of the drained host holds of it, so that the host that takes it
 * indexes the same chunks, words and filters, and scores it the same.
 *
 * The body is one msgpack map:
 *
 *	"v"	MOVE_VERSION
 *	"away"	the drained host's name
 *	"hash"	the content hash the index keeps (the home record's too)
 *	"type"	the document's type (enum doc_type)
 *	"title"	its whole title, "" for none
 *	"attrs"	its attributes, a map of strings (a JSON record's fields)
 *	"chunks" an array of [heading, text], in the document's order
 *
 * The external id, tenant and source travel in the job's own fields
 * (extid, tenant, path).  Not kept: the stemming language, which the
 * index does not record (the job carries the drained host's language),
 * and the byte offsets of the chunks in the extracted text (nothing
 * reads them).
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"

#define MOVE_VERSION	1
#define MOVE_KEYS	7

static int
move_buf_write(void *data, const char *p, size_t len)
{
	buf_add(data, p, len);
	return (0);
}

static void
move_pack_bytes(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

/*
 * Begin the body of document d of host away into out: its fields, then
 * the header of its nchunks chunks, which move_put_chunk adds one by
 * one.  attrs holds a msgpack map (index_doc_whole's).
 */
void
move_begin(struct buf *out, const char *away, const struct ixdoc *d,
    const struct buf *title, const struct buf *attrs, uint32_t nchunks)
{
	msgpack_packer	 pk;

	buf_reset(out);
	msgpack_packer_init(&pk, out, move_buf_write);
	msgpack_pack_map(&pk, MOVE_KEYS);
	codec_pack_uint(&pk, "v", MOVE_VERSION);
	codec_pack_key(&pk, "away");
	move_pack_bytes(&pk, away, strlen(away));
	codec_pack_uint(&pk, "hash", d->d_hash);
	codec_pack_uint(&pk, "type", d->d_type);
	codec_pack_key(&pk, "title");
	move_pack_bytes(&pk, title->b_data != NULL ? title->b_data : "",
	    title->b_len);
	codec_pack_key(&pk, "attrs");
	if (attrs->b_len > 0)
		buf_add(out, attrs->b_data, attrs->b_len);
	else
		msgpack_pack_map(&pk, 0);
	codec_pack_key(&pk, "chunks");
	msgpack_pack_array(&pk, nchunks);
}

/* One chunk of the body move_begin began, in order. */
void
move_put_chunk(struct buf *out, const struct ixchunk *ck)
{
	msgpack_packer	 pk;

	msgpack_packer_init(&pk, out, move_buf_write);
	msgpack_pack_array(&pk, 2);
	move_pack_bytes(&pk, ck->ck_heading, strlen(ck->ck_heading));
	move_pack_bytes(&pk, ck->ck_text, ck->ck_len);
}

/* A msgpack string as a C string, cut to len; -1 when not a string. */
static int
move_str(const msgpack_object *o, char *dst, size_t len)
{
	size_t	 n;

	if (o->type != MSGPACK_OBJECT_STR)
		return (-1);
	n = o->via.str.size < len ? o->via.str.size : len - 1;
	memcpy(dst, o->via.str.ptr, n);
	dst[n] = '\0';
	return (memchr(dst, '\0', n) != NULL ? -1 : 0);
}

static char *
move_strdup(const msgpack_object *o)
{
	char	*s;

	if (o->type != MSGPACK_OBJECT_STR ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return (NULL);
	s = xmalloc(o->via.str.size + 1);
	memcpy(s, o->via.str.ptr, o->via.str.size);
	s[o->via.str.size] = '\0';
	return (s);
}

static int
move_attrs(struct move *mv, const msgpack_object *o)
{
	const msgpack_object_kv	*kv;
	char			*name, *value;
	size_t			 i;

	if (o->type != MSGPACK_OBJECT_MAP)
		return (-1);
	for (i = 0; i < o->via.map.size; i++) {
		kv = &o->via.map.ptr[i];
		name = move_strdup(&kv->key);
		value = move_strdup(&kv->val);
		if (name != NULL && value != NULL)
			xdoc_attr(&mv->mv_doc, name, value);
		free(name);
		free(value);
		if (name == NULL || value == NULL)
			return (-1);
	}
	return (0);
}

static int
move_chunks(struct move *mv, const msgpack_object *o)
{
	const msgpack_object	*c;
	size_t			 i;

	if (o->type != MSGPACK_OBJECT_ARRAY ||
	    o->via.array.size >= UINT32_MAX / 2)
		return (-1);
	mv->mv_chunks = xcalloc(o->via.array.size + 1,
	    sizeof(*mv->mv_chunks));
	for (i = 0; i < o->via.array.size; i++) {
		c = &o->via.array.ptr[i];
		if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 2 ||
		    move_str(&c->via.array.ptr[0], mv->mv_chunks[i].mc_heading,
		    sizeof(mv->mv_chunks[i].mc_heading)) == -1 ||
		    c->via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
		    c->via.array.ptr[1].via.str.size > IX_CHUNK_TEXT_MAX)
			return (-1);
		mv->mv_chunks[i].mc_text = c->via.array.ptr[1].via.str.ptr;
		mv->mv_chunks[i].mc_len = c->via.array.ptr[1].via.str.size;
	}
	mv->mv_nchunks = i;
	return (0);
}

/* One field of the body into mv: 0, or -1 when it is not as written. */
static int
move_field(struct move *mv, const msgpack_object_kv *kv, int *seen)
{
	const msgpack_object	*v = &kv->val;
	const char		*k = kv->key.via.str.ptr;
	size_t			 kl = kv->key.via.str.size;

#define IS(s) (kl == strlen(s) && memcmp(k, s, kl) == 0)
	if (kv->key.type != MSGPACK_OBJECT_STR)
		return (-1);
	if (IS("v"))
		return (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    v->via.u64 == MOVE_VERSION ? 0 : -1);
	(*seen)++;
	if (IS("away"))
		return (move_str(v, mv->mv_away, sizeof(mv->mv_away)));
	if (IS("hash") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		mv->mv_hash = v->via.u64;
		return (0);
	}
	if (IS("type") && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    v->via.u64 < DOC_NTYPES) {
		mv->mv_doc.xd_type = v->via.u64;
		return (0);
	}
	if (IS("title")) {
		free(mv->mv_doc.xd_title);
		mv->mv_doc.xd_title = move_strdup(v);
		return (mv->mv_doc.xd_title != NULL ? 0 : -1);
	}
	if (IS("attrs"))
		return (move_attrs(mv, v));
	if (IS("chunks"))
		return (move_chunks(mv, v));
#undef IS
	return (-1);
}

/*
 * Read a body into mv, whose chunks' texts point into body (which must
 * outlive mv): 0, or -1 when it is damaged (then mv_free it all the
 * same).
 */
int
move_decode(struct move *mv, const struct buf *body)
{
	msgpack_object	*o;
	size_t		 off = 0, i;
	int		 seen = 0;

	memset(mv, 0, sizeof(*mv));
	xdoc_init(&mv->mv_doc);
	msgpack_unpacked_init(&mv->mv_up);
	mv->mv_unpacked = 1;
	if (msgpack_unpack_next(&mv->mv_up, body->b_data, body->b_len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != body->b_len)
		return (-1);
	o = &mv->mv_up.data;
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != MOVE_KEYS)
		return (-1);
	for (i = 0; i < o->via.map.size; i++)
		if (move_field(mv, &o->via.map.ptr[i], &seen) == -1)
			return (-1);
	if (seen != MOVE_KEYS - 1 || mv->mv_away[0] == '\0' ||
	    mv->mv_chunks == NULL)
		return (-1);
	/* No title is an empty one in the body, NULL in a document. */
	if (mv->mv_doc.xd_title != NULL && mv->mv_doc.xd_title[0] == '\0') {
		free(mv->mv_doc.xd_title);
		mv->mv_doc.xd_title = NULL;
	}
	return (0);
}

void
move_free(struct move *mv)
{
	xdoc_free(&mv->mv_doc);
	free(mv->mv_chunks);
	if (mv->mv_unpacked)
		msgpack_unpacked_destroy(&mv->mv_up);
	memset(mv, 0, sizeof(*mv));
}
