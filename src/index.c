/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The inverted index, in the LMDB environment DATADIR/index.
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
 *	segs	segid(8) -> segment (below): an immutable inverted index of
 *		the consecutive cids [base, base + nchunks).
 *	chunks	cid(4) -> docid(8) chunk-index(4) heading-length(2)
 *		heading, then the chunk's text as a zstd frame; a chunk
 *		under IX_RAW_MAX bytes is stored as it is, flagged by the
 *		top bit of the heading length (zstd saves little on a short
 *		record and costs more than everything else done to it).
 *	docs	docid(8) -> msgpack map: ext, hash, job, title, type, ten,
 *		src, cid, n (chunks), w (words in them), attrs.
 *	extids	external id -> docid(8).
 *	blocks, terms	the block store: see block.c.
 *
 * A segment is one LMDB value, read in place from the map:
 *
 *	header	 magic "QSG1", nchunks, nterms, base cid, words, then the
 *		 offsets of the four areas (all uint32, little-endian as
 *		 the machine that wrote it: the index is not portable)
 *	norms	 uint16 per chunk: its length in words, for BM25
 *	dict	 per term, sorted by bytes: string offset, postings offset,
 *		 document frequency, string length (struct ixsegterm)
 *	strings	 the terms; the first byte is the field: 'b' body, 't'
 *		 title, 'f' filter ("f" "type=pdf", "f" "tenant=acme")
 *	postings per term, per chunk in cid order: varint cid delta (from
 *		 the previous posting, the first from base), varint tf, then
 *		 tf varint position deltas.
 *
 * Workers build a segment for a batch of documents in memory (ixbatch),
 * outside any lock, and index_commit() writes it with the batch's
 * documents and chunks in one short transaction.  There, each document's
 * external id is looked up: the same content hash means a redelivered
 * job, and the new copy's chunks are born dead (tombstoned); a different
 * hash replaces the old document, whose chunks die.  Dead chunks stay in
 * their segments, or blocks, until the merger (merge.c) rewrites them
 * away; search skips them through the tombstone bitmap.  So a document is
 * in the index once, however often its job runs.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>
#include <xxhash.h>

#include "quire.h"

static const char *index_dbnames[IDB_N] = {
	"meta", "segs", "chunks", "docs", "extids", "blocks", "terms"
};



/* Batch building. */

struct bterm {
	uint32_t	 t_hash;
	uint32_t	 t_str;		/* offset in b_strs */
	uint16_t	 t_len;
	uint32_t	 t_df;
	uint32_t	 t_lastcid;	/* local cid of the last posting */
	struct buf	 t_post;
};

struct bhit {
	uint32_t	 h_term;
	uint32_t	 h_pos;
};

/* Strings live in the batch's b_dstr, named by their offsets. */
struct bdoc {
	size_t		 d_extid;
	size_t		 d_title;
	size_t		 d_tenant;
	size_t		 d_source;
	uint64_t	 d_hash;
	uint64_t	 d_job;
	int		 d_type;
	int		 d_dead;	/* aborted: its chunks are born dead */
	uint32_t	 d_cid;		/* first local cid */
	uint32_t	 d_nchunks;
	uint64_t	 d_words;	/* of its chunks */
	size_t		 d_attrs;	/* msgpack map */
	size_t		 d_attrslen;
};

struct bchunk {
	uint32_t	 c_doc;
	uint32_t	 c_index;
	uint32_t	 c_dl;
	size_t		 c_rec;		/* offset of its record in b_recs */
	size_t		 c_reclen;
};

struct ixbatch {
	struct bterm	*b_terms;
	size_t		 b_nterms;
	size_t		 b_termcap;
	uint64_t	*b_table;	/* hash << 32 | term index + 1 */
	size_t		 b_tablecap;
	struct buf	 b_strs;
	struct bhit	*b_hits;	/* of the current chunk */
	size_t		 b_nhits;
	size_t		 b_hitcap;
	uint32_t	 b_words;	/* hits that are words, not filters */
	int		 b_chunkopen;	/* the last chunk, not yet posted */
	struct bdoc	*b_docs;
	size_t		 b_ndocs;
	size_t		 b_doccap;
	struct bchunk	*b_chunks;
	size_t		 b_nchunks;
	size_t		 b_chunkcap;
	struct buf	 b_recs;	/* chunk records */
	struct buf	 b_dstr;	/* documents' strings and attributes */
	msgpack_sbuffer	 b_sb;
	int		 b_open;	/* a document is open */
	size_t		 b_bytes;
	uint64_t	 b_tokens;
};

void
ix_varint(struct buf *b, uint64_t v)
{
	uint8_t	*p;

	if (b->b_len + 11 > b->b_cap)
		buf_reserve(b, 10);
	p = (uint8_t *)b->b_data + b->b_len;
	while (v >= 0x80) {
		*p++ = (v & 0x7f) | 0x80;
		v >>= 7;
	}
	*p++ = v;
	b->b_len = p - (uint8_t *)b->b_data;
}

struct ixbatch *
ixbatch_new(void)
{
	struct ixbatch	*b;

	b = xcalloc(1, sizeof(*b));
	b->b_tablecap = 1 << 14;
	b->b_table = xcalloc(b->b_tablecap, sizeof(*b->b_table));
	msgpack_sbuffer_init(&b->b_sb);
	return (b);
}

void
ixbatch_reset(struct ixbatch *b)
{
	size_t	 i;

	for (i = 0; i < b->b_nterms; i++)
		buf_free(&b->b_terms[i].t_post);
	buf_reset(&b->b_dstr);
	memset(b->b_table, 0, b->b_tablecap * sizeof(*b->b_table));
	b->b_nterms = b->b_ndocs = b->b_nchunks = b->b_nhits = 0;
	b->b_words = 0;
	b->b_chunkopen = 0;
	buf_reset(&b->b_strs);
	buf_reset(&b->b_recs);
	b->b_open = 0;
	b->b_bytes = 0;
	b->b_tokens = 0;
}

void
ixbatch_free(struct ixbatch *b)
{
	if (b == NULL)
		return;
	ixbatch_reset(b);
	free(b->b_terms);
	free(b->b_table);
	free(b->b_hits);
	free(b->b_docs);
	free(b->b_chunks);
	buf_free(&b->b_strs);
	buf_free(&b->b_recs);
	buf_free(&b->b_dstr);
	msgpack_sbuffer_destroy(&b->b_sb);
	free(b);
}

size_t
ixbatch_ndocs(const struct ixbatch *b)
{
	return (b->b_ndocs);
}

size_t
ixbatch_bytes(const struct ixbatch *b)
{
	return (b->b_bytes + b->b_recs.b_len + b->b_strs.b_len);
}

/*
 * The term table: open addressing with linear probing; each slot holds
 * the term's hash in its high half and its index + 1 in the low half,
 * so a probe touches the term itself only when the hashes agree.
 */
static void
ixbatch_grow_table(struct ixbatch *b)
{
	size_t	 i, j, cap = b->b_tablecap * 2;
	uint64_t *t;

	t = xcalloc(cap, sizeof(*t));
	for (i = 0; i < b->b_nterms; i++) {
		j = b->b_terms[i].t_hash & (cap - 1);
		while (t[j] != 0)
			j = (j + 1) & (cap - 1);
		t[j] = (uint64_t)b->b_terms[i].t_hash << 32 | (i + 1);
	}
	free(b->b_table);
	b->b_table = t;
	b->b_tablecap = cap;
}

/* The index of a term (field byte first), added if new. */
static uint32_t
ixbatch_intern(struct ixbatch *b, int field, const char *p, size_t len)
{
	struct bterm	*t;
	char		 key[IX_TERM_MAX + 1];
	uint64_t	 slot;
	uint32_t	 h, i;
	size_t		 j;

	if (len > IX_TERM_MAX - 1)
		len = IX_TERM_MAX - 1;
	key[0] = field;
	memcpy(key + 1, p, len);
	len++;
	h = XXH3_64bits(key, len);
	j = h & (b->b_tablecap - 1);
	while ((slot = b->b_table[j]) != 0) {
		if ((uint32_t)(slot >> 32) == h) {
			i = (uint32_t)slot;
			t = &b->b_terms[i - 1];
			if (t->t_len == len && memcmp(b->b_strs.b_data +
			    t->t_str, key, len) == 0)
				return (i - 1);
		}
		j = (j + 1) & (b->b_tablecap - 1);
	}
	if (b->b_nterms == b->b_termcap) {
		b->b_termcap = b->b_termcap == 0 ? 4096 : b->b_termcap * 2;
		b->b_terms = xreallocarray(b->b_terms, b->b_termcap,
		    sizeof(*b->b_terms));
	}
	t = &b->b_terms[b->b_nterms];
	memset(t, 0, sizeof(*t));
	t->t_hash = h;
	t->t_str = b->b_strs.b_len;
	t->t_len = len;
	buf_add(&b->b_strs, key, len);
	b->b_table[j] = (uint64_t)h << 32 | ++b->b_nterms;
	if (b->b_nterms * 2 > b->b_tablecap)
		ixbatch_grow_table(b);
	return (b->b_nterms - 1);
}

static int
ixbatch_hitcmp(const void *a, const void *b)
{
	const struct bhit	*x = a, *y = b;

	if (x->h_term != y->h_term)
		return (x->h_term < y->h_term ? -1 : 1);
	return (x->h_pos < y->h_pos ? -1 : x->h_pos > y->h_pos);
}

/* Short chunks (records) sort faster by insertion, and stably. */
static void
ixbatch_isort(struct bhit *h, size_t n)
{
	struct bhit	 x;
	size_t		 i, j;

	for (i = 1; i < n; i++) {
		x = h[i];
		for (j = i; j > 0 && (h[j - 1].h_term > x.h_term ||
		    (h[j - 1].h_term == x.h_term && h[j - 1].h_pos > x.h_pos));
		    j--)
			h[j] = h[j - 1];
		h[j] = x;
	}
}

/* Post the open chunk's words: per term, cid delta, tf, positions. */
static void
ixbatch_flush_chunk(struct ixbatch *b)
{
	struct bterm	*t;
	uint32_t	 cid, tf, last;
	size_t		 i, j;

	/* Once: a document's end and the next chunk both flush. */
	if (!b->b_chunkopen)
		return;
	b->b_chunkopen = 0;
	cid = b->b_nchunks - 1;
	b->b_chunks[cid].c_dl = b->b_words;
	b->b_tokens += b->b_words;
	b->b_words = 0;
	if (b->b_nhits > 64)
		qsort(b->b_hits, b->b_nhits, sizeof(*b->b_hits),
		    ixbatch_hitcmp);
	else
		ixbatch_isort(b->b_hits, b->b_nhits);
	for (i = 0; i < b->b_nhits; i = j) {
		for (j = i; j < b->b_nhits &&
		    b->b_hits[j].h_term == b->b_hits[i].h_term; j++)
			;
		t = &b->b_terms[b->b_hits[i].h_term];
		tf = j - i;
		ix_varint(&t->t_post, t->t_df == 0 ? cid :
		    cid - t->t_lastcid);
		ix_varint(&t->t_post, tf);
		for (last = 0; i < j; i++) {
			ix_varint(&t->t_post, b->b_hits[i].h_pos - last);
			last = b->b_hits[i].h_pos;
		}
		t->t_lastcid = cid;
		t->t_df++;
	}
	b->b_nhits = 0;
}

static size_t
ixbatch_str(struct ixbatch *b, const char *s)
{
	size_t	 off = b->b_dstr.b_len;

	if (s != NULL)
		buf_addstr(&b->b_dstr, s);
	buf_addc(&b->b_dstr, '\0');
	return (off);
}

#define BSTR(b, off)	((b)->b_dstr.b_data + (off))

/* Open a document in the batch; its chunks and words follow. */
int
ixbatch_doc(struct ixbatch *b, const struct ixdoc_info *di)
{
	struct bdoc	*d;
	msgpack_packer	 pk;
	size_t		 i, n;

	if (b->b_open)
		ixbatch_end_doc(b);
	if (di->di_extid == NULL || strlen(di->di_extid) == 0 ||
	    strlen(di->di_extid) > IX_EXTID_MAX)
		return (-1);
	if (b->b_ndocs == b->b_doccap) {
		b->b_doccap = b->b_doccap == 0 ? 1024 : b->b_doccap * 2;
		b->b_docs = xreallocarray(b->b_docs, b->b_doccap,
		    sizeof(*b->b_docs));
	}
	d = &b->b_docs[b->b_ndocs++];
	memset(d, 0, sizeof(*d));
	d->d_extid = ixbatch_str(b, di->di_extid);
	d->d_title = ixbatch_str(b, di->di_title);
	d->d_tenant = ixbatch_str(b, di->di_tenant);
	d->d_source = ixbatch_str(b, di->di_source);
	d->d_hash = di->di_hash;
	d->d_job = di->di_job;
	d->d_type = di->di_type;
	d->d_cid = b->b_nchunks;
	msgpack_sbuffer_clear(&b->b_sb);
	msgpack_packer_init(&pk, &b->b_sb, msgpack_sbuffer_write);
	n = di->di_nattrs < 64 ? di->di_nattrs : 64;
	msgpack_pack_map(&pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_str(&pk, strlen(di->di_attrs[i].xa_name));
		msgpack_pack_str_body(&pk, di->di_attrs[i].xa_name,
		    strlen(di->di_attrs[i].xa_name));
		msgpack_pack_str(&pk, strlen(di->di_attrs[i].xa_value));
		msgpack_pack_str_body(&pk, di->di_attrs[i].xa_value,
		    strlen(di->di_attrs[i].xa_value));
	}
	d->d_attrs = b->b_dstr.b_len;
	d->d_attrslen = b->b_sb.size;
	buf_add(&b->b_dstr, b->b_sb.data, b->b_sb.size);
	b->b_open = 1;
	return (0);
}

/* Open a chunk of the open document: its record holds the text. */
int
ixbatch_chunk(struct ixbatch *b, const char *heading, const char *text,
    size_t len)
{
	struct bchunk	*c;
	uint8_t		 hdr[14];
	size_t		 hlen;

	if (!b->b_open)
		return (-1);
	ixbatch_flush_chunk(b);
	if (b->b_nchunks >= UINT32_MAX / 2)
		return (-1);
	if (b->b_nchunks == b->b_chunkcap) {
		b->b_chunkcap = b->b_chunkcap == 0 ? 1024 : b->b_chunkcap * 2;
		b->b_chunks = xreallocarray(b->b_chunks, b->b_chunkcap,
		    sizeof(*b->b_chunks));
	}
	c = &b->b_chunks[b->b_nchunks++];
	memset(c, 0, sizeof(*c));
	c->c_doc = b->b_ndocs - 1;
	c->c_index = b->b_nchunks - 1 - b->b_docs[c->c_doc].d_cid;
	b->b_docs[c->c_doc].d_nchunks++;
	b->b_chunkopen = 1;
	hlen = heading != NULL ? strlen(heading) : 0;
	if (hlen > 255)
		hlen = 255;
	c->c_rec = b->b_recs.b_len;
	/* docid(8) is filled in at commit. */
	memset(hdr, 0, sizeof(hdr));
	util_put_be32(hdr + 8, c->c_index);
	hdr[12] = hlen >> 8;
	hdr[13] = hlen & 0xff;
	if (len < IX_RAW_MAX)
		hdr[12] |= IX_RAW_FLAG;
	buf_add(&b->b_recs, hdr, sizeof(hdr));
	buf_add(&b->b_recs, heading, hlen);
	if (len < IX_RAW_MAX)
		buf_add(&b->b_recs, text, len);
	else if (chunk_compress(text, len, &b->b_recs) == -1)
		return (-1);
	c->c_reclen = b->b_recs.b_len - c->c_rec;
	b->b_bytes += len;
	return (0);
}

/* A word of the open chunk, at a position within the chunk. */
int
ixbatch_term(struct ixbatch *b, int field, const char *p, size_t len,
    uint32_t pos)
{
	struct bhit	*h;

	if (!b->b_chunkopen || len == 0)
		return (-1);
	if (b->b_nhits == b->b_hitcap) {
		b->b_hitcap = b->b_hitcap == 0 ? 1024 : b->b_hitcap * 2;
		b->b_hits = xreallocarray(b->b_hits, b->b_hitcap,
		    sizeof(*b->b_hits));
	}
	h = &b->b_hits[b->b_nhits++];
	h->h_term = ixbatch_intern(b, field, p, len);
	h->h_pos = pos;
	/* A chunk's length (norm) counts words; filter terms are not. */
	if (field != IX_FILTER)
		b->b_words++;
	return (0);
}

int
ixbatch_end_doc(struct ixbatch *b)
{
	ixbatch_flush_chunk(b);
	b->b_open = 0;
	return (0);
}

/* The open document failed: its chunks are born dead. */
void
ixbatch_abort_doc(struct ixbatch *b)
{
	ixbatch_flush_chunk(b);
	if (b->b_ndocs > 0)
		b->b_docs[b->b_ndocs - 1].d_dead = 1;
	b->b_open = 0;
}

/* Segment writing. */

static const struct ixbatch *ixbatch_sorting;

static int
ixbatch_termcmp(const void *a, const void *b)
{
	const struct bterm	*x, *y;
	const char		*s = ixbatch_sorting->b_strs.b_data;
	size_t			 n;
	int			 c;

	x = &ixbatch_sorting->b_terms[*(const uint32_t *)a];
	y = &ixbatch_sorting->b_terms[*(const uint32_t *)b];
	n = x->t_len < y->t_len ? x->t_len : y->t_len;
	if ((c = memcmp(s + x->t_str, s + y->t_str, n)) != 0)
		return (c);
	return (x->t_len < y->t_len ? -1 : x->t_len > y->t_len);
}

/* Lay the batch out as a segment of cids [base, base + nchunks). */
static int
ixbatch_segment(struct ixbatch *b, uint32_t base, struct buf *out)
{
	struct ixseghdr	 h;
	struct ixsegterm e;
	uint32_t	*order;
	uint16_t	 dl;
	size_t		 i, strs, post, plen = 0;
	struct bterm	*t;

	order = xcalloc(b->b_nterms + 1, sizeof(*order));
	for (i = 0; i < b->b_nterms; i++)
		order[i] = i;
	ixbatch_sorting = b;
	qsort(order, b->b_nterms, sizeof(*order), ixbatch_termcmp);
	for (i = 0; i < b->b_nterms; i++)
		plen += b->b_terms[i].t_post.b_len;

	memset(&h, 0, sizeof(h));
	memcpy(h.h_magic, IXSEG_MAGIC, 4);
	h.h_nchunks = b->b_nchunks;
	h.h_nterms = b->b_nterms;
	h.h_base = base;
	h.h_tokens = b->b_tokens;
	h.h_norms = sizeof(h);
	h.h_dict = h.h_norms + ((b->b_nchunks * 2 + 7) & ~7U);
	h.h_strs = h.h_dict + b->b_nterms * sizeof(e);
	h.h_post = h.h_strs + ((b->b_strs.b_len + 7) & ~7U);
	if ((uint64_t)h.h_post + plen + 7 > UINT32_MAX) {
		free(order);
		return (-1);
	}
	/* Sizes of 8n keep every segment in a leaf page 8-aligned. */
	h.h_size = (h.h_post + plen + 7) & ~7U;
	buf_reset(out);
	buf_reserve(out, h.h_size);
	memset(out->b_data, 0, h.h_size);
	memcpy(out->b_data, &h, sizeof(h));
	for (i = 0; i < b->b_nchunks; i++) {
		dl = b->b_chunks[i].c_dl > 65535 ? 65535 : b->b_chunks[i].c_dl;
		memcpy(out->b_data + h.h_norms + i * 2, &dl, 2);
	}
	strs = h.h_strs;
	post = h.h_post;
	for (i = 0; i < b->b_nterms; i++) {
		t = &b->b_terms[order[i]];
		e.e_str = strs;
		e.e_post = post;
		e.e_df = t->t_df;
		e.e_len = t->t_len;
		e.e_pad = 0;
		memcpy(out->b_data + h.h_dict + i * sizeof(e), &e, sizeof(e));
		memcpy(out->b_data + strs, b->b_strs.b_data + t->t_str,
		    t->t_len);
		strs += t->t_len;
		memcpy(out->b_data + post, t->t_post.b_data, t->t_post.b_len);
		post += t->t_post.b_len;
	}
	out->b_len = h.h_size;
	free(order);
	return (0);
}

/* Segment reading, shared with search.c and merge.c. */

int
ixseg_open(struct ixseg *s, const void *data, size_t len)
{
	const struct ixseghdr	*h = data;
	uint64_t		 end;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(*h) || ((uintptr_t)data & 3) != 0)
		return (-1);
	if (memcmp(h->h_magic, IXSEG_MAGIC, 4) != 0 || h->h_size != len)
		return (-1);
	end = (uint64_t)h->h_norms + (uint64_t)h->h_nchunks * 2;
	if (h->h_norms < sizeof(*h) || end > h->h_dict ||
	    (uint64_t)h->h_dict + (uint64_t)h->h_nterms *
	    sizeof(struct ixsegterm) > h->h_strs || h->h_strs > h->h_post ||
	    h->h_post > len)
		return (-1);
	s->s_data = data;
	s->s_len = len;
	s->s_hdr = h;
	s->s_norms = (const uint16_t *)((const char *)data + h->h_norms);
	s->s_dict = (const struct ixsegterm *)((const char *)data + h->h_dict);
	return (0);
}

/* The term's bytes (field byte first). */
const char *
ixseg_term(const struct ixseg *s, uint32_t i, size_t *len)
{
	const struct ixsegterm	*e = &s->s_dict[i];

	if ((uint64_t)e->e_str + e->e_len > s->s_hdr->h_post) {
		*len = 0;
		return ("");
	}
	*len = e->e_len;
	return ((const char *)s->s_data + e->e_str);
}

/*
 * Terms (and LMDB's keys) in byte order, a prefix first: the order of
 * segment dictionaries, the block store and the terms database.
 */
int
ix_termcmp(const void *a, size_t al, const void *b, size_t bl)
{
	int	 c;

	/* An empty buffer may have no memory at all. */
	if (al > 0 && bl > 0 && (c = memcmp(a, b, al < bl ? al : bl)) != 0)
		return (c);
	return (al < bl ? -1 : al > bl);
}

static int
ixseg_cmp(const struct ixseg *s, uint32_t i, const char *key, size_t len)
{
	const char	*t;
	size_t		 tl;

	t = ixseg_term(s, i, &tl);
	return (ix_termcmp(t, tl, key, len));
}

/* The first term not less than key. */
uint32_t
ixseg_lower(const struct ixseg *s, const char *key, size_t len)
{
	uint32_t	 lo = 0, hi = s->s_hdr->h_nterms, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ixseg_cmp(s, mid, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* The term's index, or -1. */
int64_t
ixseg_find(const struct ixseg *s, const char *key, size_t len)
{
	uint32_t	 i = ixseg_lower(s, key, len);

	if (i < s->s_hdr->h_nterms && ixseg_cmp(s, i, key, len) == 0)
		return (i);
	return (-1);
}

void
ixpost_init(struct ixpost *p, const struct ixseg *s, uint32_t term)
{
	const struct ixsegterm	*e = &s->s_dict[term];

	memset(p, 0, sizeof(*p));
	p->p_seg = s;
	p->p_left = e->e_df;
	p->p_cur = (const uint8_t *)s->s_data + e->e_post;
	p->p_end = (const uint8_t *)s->s_data + s->s_len;
	if (e->e_post > s->s_len)
		p->p_left = 0;
}

int
ix_getvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t	*p = *pp;
	uint64_t	 x = 0;
	int		 shift = 0;

	while (p < end && shift < 64) {
		x |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0) {
			*pp = p;
			*v = x;
			return (0);
		}
		shift += 7;
	}
	return (-1);
}

/*
 * The next posting: its global cid, tf and where its positions start.
 * 0 at the end, -1 on a damaged segment.
 */
int
ixpost_next(struct ixpost *p)
{
	uint64_t	 delta, tf;
	uint32_t	 i;

	if (p->p_left == 0)
		return (0);
	/*
	 * Skip the positions of the last posting if nobody read them: a
	 * varint ends at a byte without the high bit.
	 */
	for (i = p->p_posleft; i > 0; p->p_cur++) {
		if (p->p_cur == p->p_end)
			return (-1);
		if ((*p->p_cur & 0x80) == 0)
			i--;
	}
	if (ix_getvarint(&p->p_cur, p->p_end, &delta) == -1 ||
	    ix_getvarint(&p->p_cur, p->p_end, &tf) == -1 || tf == 0)
		return (-1);
	p->p_local = p->p_first ? p->p_local + delta : delta;
	p->p_first = 1;
	if (p->p_local >= p->p_seg->s_hdr->h_nchunks)
		return (-1);
	p->p_cid = p->p_seg->s_hdr->h_base + p->p_local;
	p->p_tf = tf;
	p->p_posleft = tf;
	p->p_pos = 0;
	p->p_left--;
	return (1);
}

/* The posting's next position, in order; -1 when there are no more. */
int64_t
ixpost_pos(struct ixpost *p)
{
	uint64_t	 d;

	if (p->p_posleft == 0 || ix_getvarint(&p->p_cur, p->p_end, &d) == -1)
		return (-1);
	p->p_posleft--;
	p->p_pos += d;
	return (p->p_pos);
}

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

static void
ix_pack_str(msgpack_packer *pk, const char *k, const char *v)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
	msgpack_pack_str(pk, strlen(v));
	msgpack_pack_str_body(pk, v, strlen(v));
}

static void
ix_pack_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
	msgpack_pack_str(pk, strlen(k));
	msgpack_pack_str_body(pk, k, strlen(k));
	msgpack_pack_uint64(pk, v);
}

static void
ix_doc_encode(struct index *ix, const struct ixbatch *b, const struct bdoc *d,
    uint64_t docid, uint64_t cid)
{
	msgpack_packer	 pk;

	msgpack_sbuffer_clear(&ix->ix_buf);
	msgpack_packer_init(&pk, &ix->ix_buf, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 12);
	ix_pack_uint(&pk, "id", docid);
	ix_pack_str(&pk, "ext", BSTR(b, d->d_extid));
	ix_pack_uint(&pk, "hash", d->d_hash);
	ix_pack_uint(&pk, "job", d->d_job);
	ix_pack_str(&pk, "title", BSTR(b, d->d_title));
	ix_pack_uint(&pk, "type", d->d_type);
	ix_pack_str(&pk, "ten", BSTR(b, d->d_tenant));
	ix_pack_str(&pk, "src", BSTR(b, d->d_source));
	ix_pack_uint(&pk, "cid", cid);
	ix_pack_uint(&pk, "n", d->d_nchunks);
	ix_pack_uint(&pk, "w", d->d_words);
	msgpack_pack_str(&pk, 5);
	msgpack_pack_str_body(&pk, "attrs", 5);
	msgpack_sbuffer_write(&ix->ix_buf, BSTR(b, d->d_attrs), d->d_attrslen);
}

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

static int
ix_doc_get(MDB_txn *txn, struct index *ix, uint64_t docid, struct ixdoc *d)
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
static int
ix_doc_kill(MDB_txn *txn, struct index *ix, struct ixmeta *m,
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

struct ix_commit_arg {
	struct index	*ca_ix;
	struct ixbatch	*ca_b;
	struct buf	*ca_seg;
	struct ixcommit	*ca_res;
};

static int
index_commit_txn(MDB_txn *txn, void *arg)
{
	struct ix_commit_arg	*ca = arg;
	struct index		*ix = ca->ca_ix;
	struct ixbatch		*b = ca->ca_b;
	struct ixcommit		*res = ca->ca_res;
	struct ixmeta		 m;
	struct ixdoc		 old;
	struct bdoc		*d;
	struct bchunk		*c;
	roaring_bitmap_t	*tomb;
	uint8_t			 kb[8], *rec;
	MDB_val			 k, v;
	uint64_t		 docid, base, tokens = 0;
	size_t			 i, j;
	int			 rc, tombdirty = 0;

	memset(res, 0, sizeof(*res));
	if ((rc = index_meta_get(txn, ix, &m)) != 0)
		return (rc);
	if (m.m_next_cid + b->b_nchunks > UINT32_MAX)
		return (MDB_MAP_FULL);
	base = m.m_next_cid;
	/* The segment was laid out before the lock; only its base is new. */
	if (ca->ca_seg->b_len >= sizeof(struct ixseghdr))
		((struct ixseghdr *)ca->ca_seg->b_data)->h_base = base;
	if ((rc = index_tomb_get(txn, ix, &tomb)) != 0)
		return (rc);
	for (i = 0; i < b->b_ndocs; i++) {
		d = &b->b_docs[i];
		k.mv_size = strlen(BSTR(b, d->d_extid));
		k.mv_data = BSTR(b, d->d_extid);
		if (!d->d_dead &&
		    (rc = mdb_get(txn, index_dbi(ix, IDB_EXTIDS), &k, &v)) ==
		    0 && v.mv_size == 8) {
			rc = ix_doc_get(txn, ix, util_get_be64(v.mv_data),
			    &old);
			if (rc != 0 && rc != MDB_NOTFOUND)
				goto fail;
			if (rc == 0 && old.d_hash == d->d_hash) {
				d->d_dead = 2;	/* unchanged */
				res->ic_unchanged++;
			} else if (rc == 0) {
				if ((rc = ix_doc_kill(txn, ix, &m, tomb, &old,
				    0)) != 0)
					goto fail;
				res->ic_replaced++;
				tombdirty = 1;
			}
		}
		if (d->d_dead) {
			for (j = 0; j < d->d_nchunks; j++)
				roaring_bitmap_add(tomb, base + d->d_cid + j);
			m.m_dead += d->d_nchunks;
			if (d->d_nchunks > 0)
				tombdirty = 1;
			continue;
		}
		docid = m.m_next_docid++;
		d->d_words = 0;
		for (j = 0; j < d->d_nchunks; j++)
			d->d_words += b->b_chunks[d->d_cid + j].c_dl;
		ix_doc_encode(ix, b, d, docid, base + d->d_cid);
		util_put_be64(kb, docid);
		k.mv_size = 8;
		k.mv_data = kb;
		v.mv_size = ix->ix_buf.size;
		v.mv_data = ix->ix_buf.data;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_DOCS), &k, &v,
		    MDB_APPEND)) != 0)
			goto fail;
		k.mv_size = strlen(BSTR(b, d->d_extid));
		k.mv_data = BSTR(b, d->d_extid);
		v.mv_size = 8;
		v.mv_data = kb;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_EXTIDS), &k, &v, 0))
		    != 0)
			goto fail;
		for (j = 0; j < d->d_nchunks; j++) {
			c = &b->b_chunks[d->d_cid + j];
			rec = (uint8_t *)b->b_recs.b_data + c->c_rec;
			util_put_be64(rec, docid);
			util_put_be32(kb, base + d->d_cid + j);
			k.mv_size = 4;
			k.mv_data = kb;
			v.mv_size = c->c_reclen;
			v.mv_data = rec;
			if ((rc = mdb_put(txn, index_dbi(ix, IDB_CHUNKS), &k,
			    &v, MDB_APPEND)) != 0)
				goto fail;
			tokens += c->c_dl;
		}
		m.m_docs++;
		m.m_chunks += d->d_nchunks;
		res->ic_added++;
		res->ic_chunks += d->d_nchunks;
	}
	if (b->b_nchunks > 0) {
		util_put_be64(kb, m.m_next_seg);
		k.mv_size = 8;
		k.mv_data = kb;
		v.mv_size = ca->ca_seg->b_len;
		v.mv_data = ca->ca_seg->b_data;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_SEGS), &k, &v,
		    MDB_APPEND)) != 0)
			goto fail;
		res->ic_seg = m.m_next_seg++;
		res->ic_bytes = ca->ca_seg->b_len;
		m.m_segments++;
	}
	m.m_next_cid += b->b_nchunks;
	m.m_tokens += tokens;
	if (tombdirty && (rc = index_tomb_put(txn, ix, tomb)) != 0)
		goto fail;
	roaring_bitmap_free(tomb);
	return (index_meta_put(txn, ix, &m));
fail:
	roaring_bitmap_free(tomb);
	return (rc);
}

/*
 * Write a batch: its segment, documents and chunks, in one transaction.
 * The batch is left as it was (reset it to reuse it).  Returns 0; -1
 * when the batch cannot be written (too large, a damaged index); or,
 * when the storage is at fault (store_fault() says which), its code:
 * the batch is intact, and committing it again later is correct.
 */
int
index_commit(struct index *ix, struct ixbatch *b, struct ixcommit *res)
{
	struct ix_commit_arg	 ca;
	struct buf		 seg;
	int			 rc;

	if (b->b_open)
		ixbatch_end_doc(b);
	buf_init(&seg);
	if (b->b_nchunks > 0 && ixbatch_segment(b, 0, &seg) == -1) {
		log_warnx("%s: segment too large", __func__);
		buf_free(&seg);
		return (-1);
	}
	ca.ca_ix = ix;
	ca.ca_b = b;
	ca.ca_seg = &seg;
	ca.ca_res = res;
	rc = store_write(&ix->ix_store, index_commit_txn, &ca);
	buf_free(&seg);
	if (rc != 0 && store_fault(rc) == STORE_FAULT_NONE) {
		log_warnx("%s: %s", __func__, rc < 0 && rc > -100 ?
		    "segment too large" : mdb_strerror(rc));
		return (-1);
	}
	return (rc);
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
	if ((rc = ix_doc_get(txn, da->da_ix, util_get_be64(v.mv_data), &d))
	    != 0)
		return (rc == MDB_NOTFOUND ? INDEX_ENOENT : rc);
	if ((rc = index_tomb_get(txn, da->da_ix, &tomb)) != 0)
		return (rc);
	if ((rc = ix_doc_kill(txn, da->da_ix, &m, tomb, &d, 1)) == 0)
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
	rc = ix_doc_get(txn, ga->ga_ix, util_get_be64(v.mv_data), ga->ga_doc);
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
	if ((rc = ix_doc_get(txn, ca->ca_ix, util_get_be64(v.mv_data),
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

/* Integrity. */

struct ix_check_arg {
	struct index	*ca_ix;
	char		*ca_msg;
	size_t		 ca_len;
};

#define CHECK_FAIL(...) do {						\
	snprintf(ca->ca_msg, ca->ca_len, __VA_ARGS__);			\
	rc = 1;								\
	goto out;							\
} while (0)

static int
index_check_txn(MDB_txn *txn, void *arg)
{
	struct ix_check_arg	*ca = arg;
	struct index		*ix = ca->ca_ix;
	struct ixmeta		 m;
	struct ixdoc		 d;
	struct ixseg		 s;
	struct ixpost		 p;
	roaring_bitmap_t	*tomb;
	MDB_cursor		*c = NULL;
	MDB_val			 k, v, k2, v2;
	uint8_t			 kb[8];
	uint64_t		 ndocs = 0, nchunks = 0, docid, next = 0;
	uint32_t		 t, df, i, fold_lo = 0, fold_hi = 0;
	const char		*tp;
	size_t			 tl;
	int			 rc, op, rv;

	if ((rc = index_meta_get(txn, ix, &m)) != 0)
		return (rc);
	if ((rc = index_tomb_get(txn, ix, &tomb)) == MDB_CORRUPTED)
		CHECK_FAIL("the tombstone bitmap is damaged");
	if (rc != 0)
		goto out;

	/* Every external id names a live document that names it back. */
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_EXTIDS), &c)) != 0)
		goto out;
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (v.mv_size != 8)
			CHECK_FAIL("external id %.*s: bad value", (int)k.mv_size,
			    (char *)k.mv_data);
		docid = util_get_be64(v.mv_data);
		if ((rc = ix_doc_get(txn, ix, docid, &d)) != 0)
			CHECK_FAIL("external id %.*s: document %llu is "
			    "missing", (int)k.mv_size, (char *)k.mv_data,
			    (unsigned long long)docid);
		if (strlen(d.d_extid) != k.mv_size ||
		    memcmp(d.d_extid, k.mv_data, k.mv_size) != 0)
			CHECK_FAIL("external id %.*s: document %llu says it "
			    "is %s", (int)k.mv_size, (char *)k.mv_data,
			    (unsigned long long)docid, d.d_extid);
	}
	/* A read error ends a loop too: that is no sound index. */
	if (rc != MDB_NOTFOUND)
		goto out;
	mdb_cursor_close(c);
	c = NULL;

	/* Every document is live, found by its id, and owns its chunks. */
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_DOCS), &c)) != 0)
		goto out;
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		docid = k.mv_size == 8 ? util_get_be64(k.mv_data) : 0;
		if (index_doc_decode(v.mv_data, v.mv_size, &d) == -1 ||
		    d.d_docid != docid)
			CHECK_FAIL("document %llu: damaged record",
			    (unsigned long long)docid);
		k2.mv_size = strlen(d.d_extid);
		k2.mv_data = d.d_extid;
		if (mdb_get(txn, index_dbi(ix, IDB_EXTIDS), &k2, &v2) != 0 ||
		    v2.mv_size != 8 || util_get_be64(v2.mv_data) != docid)
			CHECK_FAIL("document %llu (%s): its external id does "
			    "not resolve to it", (unsigned long long)docid,
			    d.d_extid);
		for (i = 0; i < d.d_nchunks; i++) {
			if (roaring_bitmap_contains(tomb, d.d_cid + i))
				CHECK_FAIL("document %s: chunk %llu is dead",
				    d.d_extid,
				    (unsigned long long)d.d_cid + i);
			util_put_be32(kb, d.d_cid + i);
			k2.mv_size = 4;
			k2.mv_data = kb;
			if (mdb_get(txn, index_dbi(ix, IDB_CHUNKS), &k2, &v2)
			    != 0 || v2.mv_size < 14 ||
			    util_get_be64(v2.mv_data) != docid)
				CHECK_FAIL("document %s: chunk %llu is missing "
				    "or not its own", d.d_extid,
				    (unsigned long long)d.d_cid + i);
		}
		ndocs++;
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	mdb_cursor_close(c);
	c = NULL;
	if (ndocs != m.m_docs)
		CHECK_FAIL("%llu documents, but the count says %llu",
		    (unsigned long long)ndocs, (unsigned long long)m.m_docs);

	/* Chunk records belong to documents (no orphans). */
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_CHUNKS), &c)) != 0)
		goto out;
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size != 4 || v.mv_size < 14)
			CHECK_FAIL("a chunk record is damaged");
		if (ix_doc_get(txn, ix, util_get_be64(v.mv_data), &d) != 0)
			CHECK_FAIL("chunk %u: its document %llu is gone",
			    util_get_be32(k.mv_data), (unsigned long long)
			    util_get_be64(v.mv_data));
		nchunks++;
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	mdb_cursor_close(c);
	c = NULL;
	if (nchunks != m.m_chunks)
		CHECK_FAIL("%llu chunks, but the count says %llu",
		    (unsigned long long)nchunks, (unsigned long long)m.m_chunks);

	/* Segments: disjoint cid ranges, frequencies equal a recount. */
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_SEGS), &c)) != 0)
		goto out;
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size != 8 || ixseg_open(&s, v.mv_data, v.mv_size)
		    == -1)
			CHECK_FAIL("segment %llu is damaged", k.mv_size == 8 ?
			    (unsigned long long)util_get_be64(k.mv_data) : 0);
		if (s.s_hdr->h_base < next)
			CHECK_FAIL("segment %llu: chunk %u is also in the "
			    "segment before it", (unsigned long long)
			    util_get_be64(k.mv_data), s.s_hdr->h_base);
		if (s.s_hdr->h_base < m.m_folded)
			CHECK_FAIL("segment %llu: chunk %u is also folded "
			    "into blocks", (unsigned long long)
			    util_get_be64(k.mv_data), s.s_hdr->h_base);
		if (s.s_hdr->h_base < m.m_folding) {
			fold_lo = m.m_folded;
			fold_hi = m.m_folding;
		}
		next = (uint64_t)s.s_hdr->h_base + s.s_hdr->h_nchunks;
		if (next > m.m_next_cid)
			CHECK_FAIL("segment %llu: chunks beyond the last one "
			    "given out", (unsigned long long)
			    util_get_be64(k.mv_data));
		for (t = 0; t < s.s_hdr->h_nterms; t++) {
			ixpost_init(&p, &s, t);
			for (df = 0; (rv = ixpost_next(&p)) == 1; df++)
				;
			if (rv == -1 || df != s.s_dict[t].e_df)
				CHECK_FAIL("segment %llu: term %u: %u postings, "
				    "frequency says %u", (unsigned long long)
				    util_get_be64(k.mv_data), t, df,
				    s.s_dict[t].e_df);
			tl = 0;
			tp = ixseg_term(&s, t, &tl);
			if (ixseg_find(&s, tp, tl) != t)
				CHECK_FAIL("segment %llu: terms out of order",
				    (unsigned long long)
				    util_get_be64(k.mv_data));
		}
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	mdb_cursor_close(c);
	c = NULL;

	/* Blocks: see block.c. */
	rc = ixblk_check(txn, ix, &m, fold_lo, fold_hi, ca->ca_msg,
	    ca->ca_len);
out:
	if (c != NULL)
		mdb_cursor_close(c);
	if (tomb != NULL)
		roaring_bitmap_free(tomb);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Check the index: 0 when sound, 1 with the first problem in msg, -1 when
 * it cannot be read.
 */
int
index_check(struct index *ix, char *msg, size_t len)
{
	struct ix_check_arg	 ca;
	int			 rc;

	msg[0] = '\0';
	ca.ca_ix = ix;
	ca.ca_msg = msg;
	ca.ca_len = len;
	rc = store_read(&ix->ix_store, index_check_txn, &ca);
	if (rc == 0 || rc == 1)
		return (rc);
	snprintf(msg, len, "%s", mdb_strerror(rc));
	return (-1);
}
