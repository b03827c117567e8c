/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Batches: workers build a segment for a batch of documents in memory
 * (ixbatch), outside any lock, and ixbatch_commit() writes it with the
 * batch's documents and chunks in one short transaction.  There, each
 * document's external id is looked up: the same content hash means a
 * redelivered job, and the new copy's chunks are born dead (tombstoned);
 * a different hash replaces the old document, whose chunks die.  So a
 * document is in the index once, however often its job runs.
 */

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>
#include <xxhash.h>

#include "quire.h"

/* Batch building. */

/*
 * A term's hits in the open chunk are a list through b_hits, in order of
 * position, from t_first to t_last; t_chunk says which chunk they are of
 * (b_nchunks while it is open), so the list starts over in the next one.
 */
struct bterm {
	uint32_t	 t_hash;
	uint32_t	 t_str;		/* offset in b_strs */
	uint16_t	 t_len;
	uint32_t	 t_df;
	uint32_t	 t_lastcid;	/* local cid of the last posting */
	uint32_t	 t_chunk;
	uint32_t	 t_first;	/* hits in the open chunk */
	uint32_t	 t_last;
	uint32_t	 t_tf;
	uint32_t	 t_dlen;	/* bytes of deltas and tfs in t_post */
	struct buf	 t_post;
};
_Static_assert(sizeof(struct bterm) == 64, "a term is a cache line");

struct bhit {
	uint32_t	 h_pos;
	uint32_t	 h_next;	/* index + 1 in b_hits, or 0 */
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
	size_t		 c_rec;		/* heading, then text, in b_recs */
	size_t		 c_hlen;
	size_t		 c_tlen;
	size_t		 c_stored;	/* its text as stored, in b_stored */
	size_t		 c_slen;
};

struct ixbatch {
	struct bterm	*b_terms;
	size_t		 b_nterms;
	size_t		 b_termcap;
	size_t		 b_nslots;	/* with buffers to reuse */
	uint64_t	*b_table;	/* hash << 32 | term index + 1 */
	size_t		 b_tablecap;
	struct buf	 b_strs;
	struct bhit	*b_hits;	/* of the current chunk */
	uint32_t	*b_touched;	/* its terms, as they came */
	size_t		 b_ntouched;
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
	struct buf	 b_recs;	/* chunk headings and texts */
	struct buf	 b_stored;	/* chunk texts as stored */
	struct buf	 b_dstr;	/* documents' strings and attributes */
	msgpack_sbuffer	 b_sb;
	int		 b_open;	/* a document is open */
	size_t		 b_bytes;
	uint64_t	 b_tokens;
	uint64_t	 b_stamp;	/* names this batch in memos */
};

/* Posting buffers up to this size are kept for the next batch. */
#define IXB_POST_KEEP	256

/* Batch stamps of this process, never 0 and never reused. */
static uint64_t	 ixbatch_stamps;


struct ixbatch *
ixbatch_new(void)
{
	struct ixbatch	*b;

	b = xcalloc(1, sizeof(*b));
	b->b_stamp = ++ixbatch_stamps;
	b->b_tablecap = 1 << 14;
	b->b_table = xcalloc(b->b_tablecap, sizeof(*b->b_table));
	msgpack_sbuffer_init(&b->b_sb);
	return (b);
}

void
ixbatch_reset(struct ixbatch *b)
{
	size_t	 i;

	/* Small posting buffers serve the next batch's terms. */
	for (i = 0; i < b->b_nterms; i++) {
		if (b->b_terms[i].t_post.b_cap > IXB_POST_KEEP)
			buf_free(&b->b_terms[i].t_post);
		buf_reset(&b->b_terms[i].t_post);
	}
	buf_reset(&b->b_dstr);
	memset(b->b_table, 0, b->b_tablecap * sizeof(*b->b_table));
	b->b_nterms = b->b_ndocs = b->b_nchunks = b->b_nhits = 0;
	b->b_ntouched = 0;
	b->b_words = 0;
	b->b_chunkopen = 0;
	buf_reset(&b->b_strs);
	buf_reset(&b->b_recs);
	buf_reset(&b->b_stored);
	b->b_open = 0;
	b->b_bytes = 0;
	b->b_tokens = 0;
	b->b_stamp = ++ixbatch_stamps;
}

void
ixbatch_free(struct ixbatch *b)
{
	size_t	 i;

	if (b == NULL)
		return;
	ixbatch_reset(b);
	for (i = 0; i < b->b_nslots; i++)
		buf_free(&b->b_terms[i].t_post);
	free(b->b_terms);
	free(b->b_table);
	free(b->b_hits);
	free(b->b_touched);
	free(b->b_docs);
	free(b->b_chunks);
	buf_free(&b->b_strs);
	buf_free(&b->b_recs);
	buf_free(&b->b_stored);
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

/* Terms on cache line boundaries: a term's look-up reads one line. */
static void
ixbatch_grow_terms(struct ixbatch *b)
{
	struct bterm	*t;
	size_t		 cap;

	cap = b->b_termcap == 0 ? 4096 : b->b_termcap * 2;
	if (cap > SIZE_MAX / sizeof(*t) ||
	    (t = aligned_alloc(64, cap * sizeof(*t))) == NULL)
		fatal("%s: %zu terms", __func__, cap);
	if (b->b_nslots > 0)
		memcpy(t, b->b_terms, b->b_nslots * sizeof(*t));
	free(b->b_terms);
	b->b_terms = t;
	b->b_termcap = cap;
}

/* The index of a term (field byte first), added if new. */
static uint32_t
ixbatch_intern(struct ixbatch *b, int field, const char *p, size_t len)
{
	struct bterm	*t;
	struct buf	 post;
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
	if (b->b_nterms == b->b_termcap)
		ixbatch_grow_terms(b);
	t = &b->b_terms[b->b_nterms];
	if (b->b_nterms < b->b_nslots)
		post = t->t_post;	/* empty, maybe with room */
	else {
		buf_init(&post);
		b->b_nslots++;
	}
	memset(t, 0, sizeof(*t));
	t->t_post = post;
	t->t_hash = h;
	t->t_str = b->b_strs.b_len;
	t->t_len = len;
	buf_add(&b->b_strs, key, len);
	b->b_table[j] = (uint64_t)h << 32 | ++b->b_nterms;
	if (b->b_nterms * 2 > b->b_tablecap)
		ixbatch_grow_table(b);
	return (b->b_nterms - 1);
}

/* A posting buffer's room for n more bytes; most terms need only a few. */
static void
ixbatch_post_room(struct buf *p, size_t n)
{
	if (p->b_cap == 0) {
		p->b_cap = n < 16 ? 16 : n + 1;
		p->b_data = xmalloc(p->b_cap);
	} else if (p->b_len + n >= p->b_cap)
		buf_reserve(p, n);
}

/*
 * Post the open chunk's words: per term, cid delta, tf, positions (kept
 * apart when the segment is laid out, ixseg_split).  Each term's hits
 * are already in order, listed through b_hits.
 */
static void
ixbatch_flush_chunk(struct ixbatch *b)
{
	struct bterm	*t;
	uint32_t	 cid, last, h;
	uint8_t		*p, *head;
	size_t		 i;

	/* Once: a document's end and the next chunk both flush. */
	if (!b->b_chunkopen)
		return;
	b->b_chunkopen = 0;
	cid = b->b_nchunks - 1;
	b->b_chunks[cid].c_dl = b->b_words;
	b->b_tokens += b->b_words;
	b->b_words = 0;
	for (i = 0; i < b->b_ntouched; i++) {
		t = &b->b_terms[b->b_touched[i]];
		/* Five bytes at most for each 32-bit varint. */
		ixbatch_post_room(&t->t_post, 5 * ((size_t)t->t_tf + 2));
		head = (uint8_t *)t->t_post.b_data + t->t_post.b_len;
		p = ix_putvarint(head, t->t_df == 0 ? cid :
		    cid - t->t_lastcid);
		p = ix_putvarint(p, t->t_tf);
		t->t_dlen += p - head;
		for (last = 0, h = t->t_first + 1; h != 0;
		    h = b->b_hits[h - 1].h_next) {
			p = ix_putvarint(p, b->b_hits[h - 1].h_pos - last);
			last = b->b_hits[h - 1].h_pos;
		}
		t->t_post.b_len = p - (uint8_t *)t->t_post.b_data;
		t->t_lastcid = cid;
		t->t_df++;
	}
	b->b_ntouched = 0;
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
	size_t		 hlen;

	if (!b->b_open)
		return (-1);
	ixbatch_flush_chunk(b);
	if (b->b_nchunks >= UINT32_MAX / 2 || len > IX_CHUNK_TEXT_MAX)
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
	/* Compressed at commit, with the index's dictionary. */
	c->c_rec = b->b_recs.b_len;
	c->c_hlen = hlen;
	c->c_tlen = len;
	buf_add(&b->b_recs, heading, hlen);
	buf_add(&b->b_recs, text, len);
	b->b_bytes += len;
	return (0);
}

/*
 * Add a hit of term id at pos to its list.  Words come in order of
 * position, so a hit goes at the end; one that does not finds its place.
 */
static void
ixbatch_hit(struct ixbatch *b, uint32_t id, uint32_t pos)
{
	struct bterm	*t = &b->b_terms[id];
	struct bhit	*h;
	uint32_t	 hi = b->b_nhits++, *at;

	h = &b->b_hits[hi];
	h->h_pos = pos;
	h->h_next = 0;
	if (t->t_chunk != b->b_nchunks) {
		t->t_chunk = b->b_nchunks;
		t->t_first = t->t_last = hi;
		t->t_tf = 1;
		b->b_touched[b->b_ntouched++] = id;
		return;
	}
	t->t_tf++;
	if (b->b_hits[t->t_last].h_pos <= pos) {
		b->b_hits[t->t_last].h_next = hi + 1;
		t->t_last = hi;
		return;
	}
	/* After the hits at pos or before it: equal positions keep order. */
	if (b->b_hits[t->t_first].h_pos > pos) {
		h->h_next = t->t_first + 1;
		t->t_first = hi;
		return;
	}
	for (at = &b->b_hits[t->t_first].h_next;
	    b->b_hits[*at - 1].h_pos <= pos; at = &b->b_hits[*at - 1].h_next)
		;
	h->h_next = *at;
	*at = hi + 1;
}

/* A word of the open chunk, at a position within the chunk. */
int
ixbatch_term(struct ixbatch *b, int field, const char *p, size_t len,
    uint32_t pos)
{
	return (ixbatch_term_memo(b, field, p, len, pos, NULL));
}

/*
 * The same, with a memo of the text (TOKEN_MEMO words, as struct token's
 * t_memo), or NULL.  A memo stands for one text, zeroed when it gets
 * another.  It holds the batch's stamp, then the text's term ids + 1 in
 * this batch as a title term (high half) and in one other field (low
 * half: a word of the body, or a filter), 0 for not yet seen; a memo of
 * another batch is stale and starts over.
 */
int
ixbatch_term_memo(struct ixbatch *b, int field, const char *p, size_t len,
    uint32_t pos, uint64_t *memo)
{
	uint32_t	 id;
	int		 shift;

	if (!b->b_chunkopen || len == 0)
		return (-1);
	if (b->b_nhits >= UINT32_MAX - 1)
		return (-1);
	if (b->b_nhits == b->b_hitcap) {
		b->b_hitcap = b->b_hitcap == 0 ? 1024 : b->b_hitcap * 2;
		b->b_hits = xreallocarray(b->b_hits, b->b_hitcap,
		    sizeof(*b->b_hits));
		b->b_touched = xreallocarray(b->b_touched, b->b_hitcap,
		    sizeof(*b->b_touched));
	}
	if (memo != NULL) {
		if (memo[0] != b->b_stamp) {
			memo[0] = b->b_stamp;
			memo[1] = 0;
		}
		shift = field == IX_TITLE ? 32 : 0;
		if ((id = memo[1] >> shift) == 0) {
			id = ixbatch_intern(b, field, p, len) + 1;
			memo[1] |= (uint64_t)id << shift;
		}
		id--;
	} else
		id = ixbatch_intern(b, field, p, len);
	ixbatch_hit(b, id, pos);
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

/* The i'th document, ended, is left out: its chunks are born dead. */
void
ixbatch_drop_doc(struct ixbatch *b, size_t i)
{
	if (i < b->b_ndocs)
		b->b_docs[i].d_dead = 1;
}

/* Segment writing. */

/*
 * The dictionary's order: terms by bytes.  Each is sorted by its first 8
 * bytes as a big-endian number (0 past its end, which keeps byte order),
 * by a radix sort of those numbers a byte at a time; then only the runs
 * of terms that share their first 8 bytes are sorted by their strings.
 */
struct bsort {
	uint64_t	 s_key;
	uint32_t	 s_term;
};

static const struct ixbatch *ixbatch_sorting;

static int
ixbatch_termcmp(const void *a, const void *b)
{
	const struct bsort	*p = a, *q = b;
	const struct bterm	*x, *y;
	const char		*s = ixbatch_sorting->b_strs.b_data;
	size_t			 n;
	int			 c;

	if (p->s_key != q->s_key)
		return (p->s_key < q->s_key ? -1 : 1);
	x = &ixbatch_sorting->b_terms[p->s_term];
	y = &ixbatch_sorting->b_terms[q->s_term];
	n = x->t_len < y->t_len ? x->t_len : y->t_len;
	if ((c = memcmp(s + x->t_str, s + y->t_str, n)) != 0)
		return (c);
	return (x->t_len < y->t_len ? -1 : x->t_len > y->t_len);
}

/* Sort by s_key, least significant byte first; tmp holds n too. */
static void
ixbatch_radix(struct bsort *bs, struct bsort *tmp, size_t n)
{
	struct bsort	*a = bs, *o = tmp, *x;
	size_t		 count[256], i, sum, c;
	int		 shift;

	for (shift = 0; shift < 64 && n > 1; shift += 8) {
		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(a[i].s_key >> shift) & 0xff]++;
		/* A byte all keys share leaves the order as it is. */
		if (count[(a[0].s_key >> shift) & 0xff] == n)
			continue;
		for (sum = 0, i = 0; i < 256; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			o[count[(a[i].s_key >> shift) & 0xff]++] = a[i];
		x = a;
		a = o;
		o = x;
	}
	if (a != bs)
		memcpy(bs, a, n * sizeof(*bs));
}

/*
 * Runs of equal keys in sorted bs, by their strings: short ones by
 * insertion, long ones (filter terms: "fsource=...") by qsort.
 */
static void
ixbatch_ties(struct bsort *bs, size_t n)
{
	struct bsort	 x;
	size_t		 i, j, k, e;

	for (i = 0; i < n; i = e) {
		for (e = i + 1; e < n && bs[e].s_key == bs[i].s_key; e++)
			;
		if (e - i > 16) {
			qsort(bs + i, e - i, sizeof(*bs), ixbatch_termcmp);
			continue;
		}
		for (k = i + 1; k < e; k++) {
			x = bs[k];
			for (j = k; j > i &&
			    ixbatch_termcmp(&bs[j - 1], &x) > 0; j--)
				bs[j] = bs[j - 1];
			bs[j] = x;
		}
	}
}

/* The batch's terms in byte order: their indexes. */
static uint32_t *
ixbatch_order(struct ixbatch *b)
{
	struct bsort	*bs, *tmp;
	uint32_t	*order;
	const uint8_t	*p;
	size_t		 i, j;

	bs = xcalloc(b->b_nterms + 1, sizeof(*bs));
	tmp = xcalloc(b->b_nterms + 1, sizeof(*tmp));
	for (i = 0; i < b->b_nterms; i++) {
		p = (const uint8_t *)b->b_strs.b_data + b->b_terms[i].t_str;
		for (j = 0; j < 8; j++)
			bs[i].s_key = bs[i].s_key << 8 |
			    (j < b->b_terms[i].t_len ? p[j] : 0);
		bs[i].s_term = i;
	}
	ixbatch_sorting = b;
	ixbatch_radix(bs, tmp, b->b_nterms);
	ixbatch_ties(bs, b->b_nterms);
	free(tmp);
	order = xcalloc(b->b_nterms + 1, sizeof(*order));
	for (i = 0; i < b->b_nterms; i++)
		order[i] = bs[i].s_term;
	free(bs);
	return (order);
}

/*
 * Lay the batch out as a segment of cids [base, base + nchunks), each
 * term's postings split into docs and positions on the way.
 */
static int
ixbatch_segment(struct ixbatch *b, uint32_t base, struct buf *out)
{
	struct ixseghdr	 h;
	struct ixsegterm e;
	uint32_t	*order;
	uint16_t	 dl;
	size_t		 i, strs, post, n, plen = 0;
	struct bterm	*t;

	order = ixbatch_order(b);
	for (i = 0; i < b->b_nterms; i++)
		plen += b->b_terms[i].t_post.b_len +
		    ix_varlen(b->b_terms[i].t_dlen);

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
		n = ixseg_split((uint8_t *)out->b_data + post,
		    (const uint8_t *)t->t_post.b_data, t->t_post.b_len,
		    t->t_dlen);
		/* Not so only if the batch wrote its postings wrong. */
		if (n != t->t_post.b_len + ix_varlen(t->t_dlen)) {
			free(order);
			return (-1);
		}
		post += n;
	}
	out->b_len = h.h_size;
	free(order);
	return (0);
}


/* Writing a batch. */

static void
ix_doc_encode(struct buf *out, const struct ixbatch *b, const struct bdoc *d,
    uint64_t docid, uint64_t cid, const uint64_t *refs)
{
	struct ixdocrec	 r;

	memset(&r, 0, sizeof(r));
	r.r_docid = docid;
	r.r_hash = d->d_hash;
	r.r_job = d->d_job;
	r.r_type = d->d_type;
	r.r_cid = cid;
	r.r_nchunks = d->d_nchunks;
	r.r_words = d->d_words;
	r.r_extid = BSTR(b, d->d_extid);
	r.r_title = BSTR(b, d->d_title);
	r.r_tenant = BSTR(b, d->d_tenant);
	r.r_source = BSTR(b, d->d_source);
	r.r_tenant_ref = refs[0];
	r.r_source_ref = refs[1];
	r.r_attrs = BSTR(b, d->d_attrs);
	r.r_attrslen = d->d_attrslen;
	r.r_attrs_ref = refs[2];
	buf_reset(out);
	ixrec_doc_encode(out, &r);
}

/*
 * A name's reference, from the names table; the last one looked up in
 * this transaction is remembered (a batch's documents mostly share
 * their tenant and source).
 */
struct ix_nameref {
	const char	*nr_name;
	size_t		 nr_len;
	uint64_t	 nr_ref;
};

static int
ix_name_ref(MDB_txn *txn, struct index *ix, struct ix_nameref *nr,
    const char *name, size_t len, int add, uint64_t *ref)
{
	int	 rc;

	if (nr->nr_name != NULL && nr->nr_len == len &&
	    memcmp(nr->nr_name, name, len) == 0 && (nr->nr_ref & 1) == 0) {
		*ref = nr->nr_ref;
		return (0);
	}
	if ((rc = ixrec_name_ref(txn, ix, name, len, add, ref)) != 0)
		return (rc);
	nr->nr_name = name;
	nr->nr_len = len;
	nr->nr_ref = *ref;
	return (0);
}

/* Does a document next to the i'th in the batch have its attributes? */
static int
ix_attrs_shared(const struct ixbatch *b, size_t i)
{
	const struct bdoc	*d = &b->b_docs[i], *o;
	size_t			 j;

	for (j = i > 0 ? i - 1 : i + 1; j <= i + 1 && j < b->b_ndocs;
	    j += 2) {
		o = &b->b_docs[j];
		if (o->d_attrslen == d->d_attrslen && memcmp(BSTR(b,
		    o->d_attrs), BSTR(b, d->d_attrs), d->d_attrslen) == 0)
			return (1);
	}
	return (0);
}

/* A document's tenant, source and attributes as name references. */
static int
ix_doc_refs(MDB_txn *txn, struct index *ix, const struct ixbatch *b,
    size_t i, struct ix_nameref *nr, uint64_t *refs)
{
	const struct bdoc	*d = &b->b_docs[i];
	const char		*s;
	int			 rc;

	s = BSTR(b, d->d_tenant);
	if ((rc = ix_name_ref(txn, ix, &nr[0], s, strlen(s), 1, &refs[0]))
	    != 0)
		return (rc);
	s = BSTR(b, d->d_source);
	if ((rc = ix_name_ref(txn, ix, &nr[1], s, strlen(s), 1, &refs[1]))
	    != 0)
		return (rc);
	return (ix_name_ref(txn, ix, &nr[2], BSTR(b, d->d_attrs),
	    d->d_attrslen, ix_attrs_shared(b, i), &refs[2]));
}

struct ix_commit_arg {
	struct index	*ca_ix;
	struct ixbatch	*ca_b;
	struct buf	*ca_seg;
	struct ixcommit	*ca_res;
	struct buf	 ca_rec;	/* a record being written */
	uint32_t	 ca_dict;	/* the dictionary chunks name */
};

static int
ixbatch_commit_txn(MDB_txn *txn, void *arg)
{
	struct ix_commit_arg	*ca = arg;
	struct index		*ix = ca->ca_ix;
	struct ixbatch		*b = ca->ca_b;
	struct ixcommit		*res = ca->ca_res;
	struct ixmeta		 m;
	struct ixdoc		 old;
	struct bdoc		*d;
	struct bchunk		*c;
	struct ix_nameref	 nr[3];
	roaring_bitmap_t	*tomb;
	uint8_t			 kb[8];
	MDB_val			 k, v;
	uint64_t		 docid, olddocid, base, tokens = 0;
	uint64_t		 refs[3];
	size_t			 i, j;
	int			 rc, dead, tombdirty = 0;

	memset(res, 0, sizeof(*res));
	memset(nr, 0, sizeof(nr));
	if ((rc = index_meta_get(txn, ix, &m)) != 0)
		return (rc);
	if ((rc = ixrec_dict_store(txn, ix, &ca->ca_dict)) != 0)
		return (rc);
	if (m.m_next_cid + b->b_nchunks > UINT32_MAX)
		return (STORE_ENOIDS);	/* cids are 32 bits */
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
		/*
		 * Unchanged is this transaction's finding, not the batch's:
		 * one run again (after MDB_MAP_FULL, or after a storage
		 * fault) looks again, as a delete may have come between.
		 */
		dead = d->d_dead;
		if (!dead &&
		    (rc = mdb_get(txn, index_dbi(ix, IDB_EXTIDS), &k, &v)) ==
		    0 && ixrec_docid_get(&v, &olddocid) == 0) {
			rc = index_doc_get(txn, ix, olddocid, &old);
			if (rc != 0 && rc != MDB_NOTFOUND)
				goto fail;
			if (rc == 0 && old.d_hash == d->d_hash) {
				dead = 1;	/* unchanged */
				res->ic_unchanged++;
			} else if (rc == 0) {
				if ((rc = index_doc_kill(txn, ix, &m, tomb,
				    &old, 0)) != 0)
					goto fail;
				res->ic_replaced++;
				tombdirty = 1;
			}
		}
		if (dead) {
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
		if ((rc = ix_doc_refs(txn, ix, b, i, nr, refs)) != 0)
			goto fail;
		ix_doc_encode(&ca->ca_rec, b, d, docid, base + d->d_cid, refs);
		util_put_be64(kb, docid);
		k.mv_size = 8;
		k.mv_data = kb;
		v.mv_size = ca->ca_rec.b_len;
		v.mv_data = ca->ca_rec.b_data;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_DOCS), &k, &v,
		    MDB_APPEND)) != 0)
			goto fail;
		k.mv_size = strlen(BSTR(b, d->d_extid));
		k.mv_data = BSTR(b, d->d_extid);
		v.mv_size = ixrec_docid_put(kb, docid);
		v.mv_data = kb;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_EXTIDS), &k, &v, 0))
		    != 0)
			goto fail;
		for (j = 0; j < d->d_nchunks; j++) {
			c = &b->b_chunks[d->d_cid + j];
			buf_reset(&ca->ca_rec);
			ixrec_chunk_encode(&ca->ca_rec, docid, c->c_index,
			    b->b_recs.b_data + c->c_rec, c->c_hlen,
			    b->b_stored.b_data + c->c_stored, c->c_slen,
			    ca->ca_dict);
			util_put_be32(kb, base + d->d_cid + j);
			k.mv_size = 4;
			k.mv_data = kb;
			v.mv_size = ca->ca_rec.b_len;
			v.mv_data = ca->ca_rec.b_data;
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
 * The batch's chunk texts compressed, outside the lock, with the index's
 * dictionary; when it has none yet, with one trained from them.  0, or
 * an LMDB error reading the dictionary.
 */
static int
ixbatch_compress(struct index *ix, struct ixbatch *b)
{
	struct bchunk	*c;
	struct buf	 sample;
	size_t		*sizes, i, n, step, want, bytes = 0;
	int		 rc;

	if ((rc = ixrec_prepare(ix)) != 0) {
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
		return (rc);
	}
	for (i = 0; i < b->b_nchunks; i++)
		bytes += b->b_chunks[i].c_tlen;
	/* Chunks spread over the batch, whole, up to the sample's size. */
	if ((want = ixrec_dict_wanted(ix, bytes, b->b_nchunks)) > 0) {
		buf_init(&sample);
		sizes = xcalloc(b->b_nchunks, sizeof(*sizes));
		step = bytes / want;
		for (i = n = 0; i < b->b_nchunks && sample.b_len < want;
		    i += step) {
			c = &b->b_chunks[i];
			buf_add(&sample, b->b_recs.b_data + c->c_rec +
			    c->c_hlen, c->c_tlen);
			sizes[n++] = c->c_tlen;
		}
		ixrec_dict_train(ix, sample.b_data, sizes, n, bytes);
		free(sizes);
		buf_free(&sample);
	}
	buf_reset(&b->b_stored);
	for (i = 0; i < b->b_nchunks; i++) {
		c = &b->b_chunks[i];
		c->c_stored = b->b_stored.b_len;
		if (ixrec_chunk_text(ix, b->b_recs.b_data + c->c_rec +
		    c->c_hlen, c->c_tlen, &b->b_stored) == -1)
			return (-1);
		c->c_slen = b->b_stored.b_len - c->c_stored;
	}
	return (0);
}

/*
 * Write a batch: its segment, documents and chunks, in one transaction.
 * The batch is left as it was (reset it to reuse it).  Returns 0; -1
 * when the batch cannot be written (too large, a damaged index); or,
 * when the storage is at fault (store_fault() says which), its code:
 * the batch is intact, and committing it again later is correct.
 */
int
ixbatch_commit(struct index *ix, struct ixbatch *b, struct ixcommit *res)
{
	struct ix_commit_arg	 ca;
	struct buf		 seg;
	int			 rc;

	if (b->b_open)
		ixbatch_end_doc(b);
	if ((rc = ixbatch_compress(ix, b)) != 0)
		return (rc);
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
	buf_init(&ca.ca_rec);
	ca.ca_dict = 0;
	rc = store_write(&ix->ix_store, ixbatch_commit_txn, &ca);
	if (rc == 0)
		ixrec_dict_stored(ix, ca.ca_dict);
	buf_free(&ca.ca_rec);
	buf_free(&seg);
	if (rc != 0 && store_fault(rc) == STORE_FAULT_NONE) {
		log_warnx("%s: %s", __func__, rc < 0 && rc > -100 ?
		    "segment too large" : mdb_strerror(rc));
		return (-1);
	}
	return (rc);
}

/*
 * A commit in the background: ixbatch_commit() of b on a thread of its
 * own, so that the caller fills another batch meanwhile.  Until
 * ixbatch_commit_wait() returns, nothing else may use ix or b.  The
 * thread takes no signals: they stay the caller's.  A thread that cannot
 * start leaves the commit to ixbatch_commit_wait(), on the caller's.
 */
static void *
ixbatch_committer(void *arg)
{
	struct ixcommitter	*cm = arg;
	uint64_t		 us = util_mono_us();

	cm->cm_rc = ixbatch_commit(cm->cm_ix, cm->cm_b, &cm->cm_res);
	cm->cm_us = util_mono_us() - us;
	__atomic_store_n(&cm->cm_done, 1, __ATOMIC_RELEASE);
	return (NULL);
}

void
ixbatch_commit_start(struct ixcommitter *cm, struct index *ix,
    struct ixbatch *b)
{
	sigset_t	 all, old;

	cm->cm_ix = ix;
	cm->cm_b = b;
	cm->cm_on = 1;
	cm->cm_done = 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	cm->cm_thread_on = pthread_create(&cm->cm_thread, NULL,
	    ixbatch_committer, cm) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Whether ixbatch_commit_wait() would return at once. */
int
ixbatch_commit_done(struct ixcommitter *cm)
{
	return (!cm->cm_on || (cm->cm_thread_on &&
	    __atomic_load_n(&cm->cm_done, __ATOMIC_ACQUIRE)));
}

/*
 * Wait for the commit under way, if any: ixbatch_commit()'s return, its
 * result in res and how long it took in *us; 0 when there was none.
 */
int
ixbatch_commit_wait(struct ixcommitter *cm, struct ixcommit *res,
    uint64_t *us)
{
	if (!cm->cm_on)
		return (0);
	if (cm->cm_thread_on)
		pthread_join(cm->cm_thread, NULL);
	else
		ixbatch_committer(cm);
	cm->cm_on = cm->cm_thread_on = 0;
	*res = cm->cm_res;
	*us = cm->cm_us;
	return (cm->cm_rc);
}
