/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Segments: an immutable inverted index of consecutive chunks, one LMDB
 * value, read in place from the map (shared by search.c and
 * search_seg.c, merge.c and the block store's folds):
 *
 *	header	 magic "QSG2", nchunks, nterms, base cid, words, then the
 *		 offsets of the four areas (all uint32, little-endian as
 *		 the machine that wrote it: the index is not portable)
 *	norms	 uint16 per chunk: its length in words, for BM25
 *	dict	 per term, sorted by bytes: string offset, postings offset,
 *		 document frequency, string length (struct ixsegterm)
 *	strings	 the terms; the first byte is the field: 'b' body, 't'
 *		 title, 'f' filter ("f" "type=pdf", "f" "tenant=acme")
 *	postings per term, in the dictionary's order, each term's area
 *		 right after the one before (the last one padded to 8n
 *		 bytes with zeros): varint D, then D bytes of docs, per
 *		 chunk in cid order varint cid delta (from the previous
 *		 posting, the first from base) and varint tf, then the
 *		 positions, for the same chunks in the same order tf
 *		 varint position deltas each (from 0 in each chunk).
 *
 * Keeping the positions apart lets AND and OR queries, which read none,
 * walk the docs alone: the cursor only counts the positions it passes
 * over, and skips them all at once when a phrase or a fold asks for a
 * posting's (ixpost_posbuf, ixpost_pos).  Segments of the first layout,
 * "QSG1", still in indexes written before, have the same parts but each
 * posting's positions right after its tf; they are read, merged and
 * folded as they are (merges write QSG2), never rewritten in place.
 *
 * An ixseg and the ixpost cursors over it point into the value they were
 * opened on: in the LMDB map, valid until the end of the transaction
 * that read it (or, for a batch's own segment, while its buffer lives).
 */

#include <sys/types.h>

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "quire.h"

/* Segment reading, shared with search.c, search_seg.c and merge.c. */

/*
 * A segment as a batch or a merge wrote it: 8n bytes under an 8-byte
 * key, so 8-aligned in its page, as its header's uint64 needs; its areas
 * at 8n offsets, so that the norms (uint16) and the dictionary (uint32
 * fields) are read in place.  One that is not was not written so, and
 * is damaged.
 */
int
ixseg_open(struct ixseg *s, const void *data, size_t len)
{
	const struct ixseghdr	*h = data;
	uint64_t		 end;

	memset(s, 0, sizeof(*s));
	if (len < sizeof(*h) || ((uintptr_t)data & 7) != 0)
		return (-1);
	if (memcmp(h->h_magic, IXSEG_MAGIC, 4) == 0)
		s->s_split = 1;
	else if (memcmp(h->h_magic, IXSEG_MAGIC1, 4) != 0)
		return (-1);
	if (h->h_size != len)
		return (-1);
	end = (uint64_t)h->h_norms + (uint64_t)h->h_nchunks * 2;
	if (h->h_norms < sizeof(*h) || end > h->h_dict ||
	    (h->h_norms & 1) != 0 || (h->h_dict & 3) != 0 ||
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

/*
 * A term's first 8 bytes as a big-endian integer, zeros past its end: of
 * two terms, the one with the smaller key comes first in ix_termcmp's
 * order; equal keys say nothing.
 */
uint64_t
ix_termkey(const void *t, size_t len)
{
	const uint8_t	*p = t;
	uint64_t	 k = 0;
	size_t		 j;

	if (len >= 8) {
		memcpy(&k, p, sizeof(k));
		return (be64toh(k));
	}
	for (j = 0; j < len; j++)
		k = k << 8 | p[j];
	return (len == 0 ? 0 : k << 8 * (8 - len));
}

static int
ixseg_cmp(const struct ixseg *s, uint32_t i, const char *key, size_t len)
{
	const char	*t;
	size_t		 tl;

	t = ixseg_term(s, i, &tl);
	return (ix_termcmp(t, tl, key, len));
}

/* The first term not less than key between lo and hi, or hi. */
static uint32_t
ixseg_halve(const struct ixseg *s, uint32_t lo, uint32_t hi, const char *key,
    size_t len)
{
	uint32_t	 mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ixseg_cmp(s, mid, key, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* The first term not less than key. */
uint32_t
ixseg_lower(const struct ixseg *s, const char *key, size_t len)
{
	return (ixseg_halve(s, 0, s->s_hdr->h_nterms, key, len));
}

/*
 * The same, knowing that no term before from is: for keys looked up in
 * ascending order, each from the last one's place.  It gallops from
 * there, then halves, so that many keys cost little more than a walk.
 */
uint32_t
ixseg_lower_from(const struct ixseg *s, uint32_t from, const char *key,
    size_t len)
{
	uint32_t	 n = s->s_hdr->h_nterms, lo = from, hi, step = 1;

	if (lo >= n || ixseg_cmp(s, lo, key, len) >= 0)
		return (lo);
	/* Term lo is less than key: find a term hi that is not. */
	hi = lo + 1;
	while (hi < n && ixseg_cmp(s, hi, key, len) < 0) {
		lo = hi;
		step *= 2;
		hi = n - lo > step ? lo + step : n;
	}
	return (ixseg_halve(s, lo + 1, hi, key, len));
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

/*
 * A cursor on a term's postings.  In QSG2, p_cur reads the docs, up to
 * their end (p_end), and p_pcur the positions, up to the segment's
 * (p_pend): the current posting's positions not read yet start p_pskip
 * varints after p_pcur.  In QSG1, p_pcur reads both and p_pskip stays
 * 0.  A QSG2 area whose D does not fit leaves no docs: the first posting
 * is damaged.
 */
void
ixpost_init(struct ixpost *p, const struct ixseg *s, uint32_t term)
{
	const struct ixsegterm	*e = &s->s_dict[term];
	const uint8_t		*c, *end;
	uint64_t		 d;

	memset(p, 0, sizeof(*p));
	p->p_seg = s;
	p->p_base = s->s_hdr->h_base;
	p->p_nchunks = s->s_hdr->h_nchunks;
	p->p_left = e->e_df;
	p->p_split = s->s_split;
	end = (const uint8_t *)s->s_data + s->s_len;
	p->p_end = p->p_pend = end;
	if (!s->s_split) {
		p->p_pcur = (const uint8_t *)s->s_data + e->e_post;
		if (e->e_post > s->s_len)
			p->p_left = 0;
		return;
	}
	p->p_cur = p->p_pcur = end;
	if (e->e_post > s->s_len)
		return;
	c = (const uint8_t *)s->s_data + e->e_post;
	if (ix_getvarint(&c, end, &d) == -1 || d > (uint64_t)(end - c))
		return;
	p->p_cur = c;
	p->p_end = p->p_pcur = c + d;
}

/*
 * Skip n varints from c (positions nobody read): a varint ends at a byte
 * without the high bit.  While 8 bytes of the segment are left, the ends
 * among them are the bits of ~w & 0x80...80, taken lowest first; the
 * last bytes one at a time.  Where the next varint starts, or NULL past
 * end.
 */
static inline const uint8_t *
ixpost_skip(const uint8_t *c, const uint8_t *end, uint64_t n)
{
	uint64_t	 w, m;

	if (n == 0)
		return (c);
	while (end - c >= 8) {
		memcpy(&w, c, sizeof(w));
		m = ~le64toh(w) & 0x8080808080808080ULL;
		for (; m != 0; m &= m - 1)
			if (--n == 0)
				return (c + ffsll(m) / 8);
		c += 8;
	}
	for (; n > 0; c++) {
		if (c == end)
			return (NULL);
		n -= (*c & 0x80) == 0;
	}
	return (c);
}

/*
 * A posting's chunk delta and tf: both one byte, most often, read at
 * once; -1 on a damaged segment.
 */
static inline int
ixpost_head(const uint8_t **c, const uint8_t *end, uint64_t *delta,
    uint64_t *tf)
{
	const uint8_t	*p = *c;

	/* end - 1 is in the segment, and a loop's to keep. */
	if (p < end - 1 && ((p[0] | p[1]) & 0x80) == 0) {
		*delta = p[0];
		*tf = p[1];
		*c = p + 2;
		return (*tf == 0 ? -1 : 0);
	}
	if (ix_getvarint(c, end, delta) == -1 ||
	    ix_getvarint(c, end, tf) == -1 || *tf == 0)
		return (-1);
	return (0);
}

/*
 * QSG1: the next posting, past the chunks not marked (marks[local] == 0)
 * unless marks is NULL: its global cid, tf and where its positions
 * start.  1, 0 at the end, -1 on a damaged segment.  The bytes are read
 * through a local pointer: a byte read through p->p_pcur could be
 * p_pcur itself, as far as the compiler knows, and it would reload it at
 * every byte.
 */
static inline int
ixpost_step1(struct ixpost *p, const uint8_t *marks)
{
	const uint8_t	*c = p->p_pcur, *end = p->p_end;
	uint64_t	 delta, tf = 0, local = p->p_local;
	uint32_t	 left = p->p_left, n = p->p_nchunks;

	/* The positions of the last posting if nobody read them. */
	if (left == 0 || (c = ixpost_skip(c, end, p->p_posleft)) == NULL)
		return (left == 0 ? 0 : -1);
	for (;;) {
		if (ixpost_head(&c, end, &delta, &tf) == -1)
			return (-1);
		/* The first posting's delta is from 0, where p_local starts. */
		local += delta;
		if (local >= n)
			return (-1);
		left--;
		if (marks == NULL || marks[local])
			break;
		if (left == 0) {
			p->p_left = 0;
			return (0);
		}
		if ((c = ixpost_skip(c, end, tf)) == NULL)
			return (-1);
	}
	p->p_pcur = c;
	p->p_local = local;
	p->p_left = left;
	p->p_cid = p->p_base + local;
	p->p_tf = tf;
	p->p_posleft = tf;
	p->p_pos = 0;
	return (1);
}

/*
 * QSG2: the same from the docs alone.  The positions of the postings
 * passed over, and those of the last one that nobody read, are only
 * counted (p_pskip), to be passed over at once if some posting's are
 * read.  The docs end with the last posting, or the area is damaged.
 */
static inline int
ixpost_step2(struct ixpost *p, const uint8_t *marks)
{
	const uint8_t	*c = p->p_cur, *end = p->p_end;
	uint64_t	 delta, tf = 0, local = p->p_local;
	uint64_t	 skip = p->p_pskip + p->p_posleft;
	uint32_t	 left = p->p_left, n = p->p_nchunks;

	if (left == 0)
		return (c == end ? 0 : -1);
	for (;;) {
		if (ixpost_head(&c, end, &delta, &tf) == -1)
			return (-1);
		local += delta;
		if (local >= n)
			return (-1);
		left--;
		if (marks == NULL || marks[local])
			break;
		if (left == 0) {
			p->p_cur = c;
			p->p_left = 0;
			return (c == end ? 0 : -1);
		}
		skip += tf;
	}
	p->p_cur = c;
	p->p_local = local;
	p->p_left = left;
	p->p_cid = p->p_base + local;
	p->p_tf = tf;
	p->p_posleft = tf;
	p->p_pskip = skip;
	p->p_pos = 0;
	return (1);
}

/*
 * QSG1's walks out of line, so that the QSG2 walk, inlined in
 * ixpost_next and ixpost_next_marked, saves no registers for them.
 */
static __attribute__((__noinline__)) int
ixpost_next1(struct ixpost *p)
{
	return (ixpost_step1(p, NULL));
}

static __attribute__((__noinline__)) int
ixpost_next_marked1(struct ixpost *p, const uint8_t *marks)
{
	return (ixpost_step1(p, marks));
}

int
ixpost_next(struct ixpost *p)
{
	if (!p->p_split)
		return (ixpost_next1(p));
	return (ixpost_step2(p, NULL));
}

/*
 * The next posting of a marked chunk: a walk gated by candidates passes
 * over the others here, a few instructions each, with no call and no
 * store.  marks is not NULL (quire.h says so, and the compiler takes
 * the test of it out of the loop).
 */
int
ixpost_next_marked(struct ixpost *p, const uint8_t *marks)
{
	if (!p->p_split)
		return (ixpost_next_marked1(p, marks));
	return (ixpost_step2(p, marks));
}

/*
 * The positions of the postings passed over (p_pskip), passed over now;
 * -1 on a damaged segment.
 */
static int
ixpost_catch_up(struct ixpost *p)
{
	const uint8_t	*c;

	if (p->p_pskip == 0)
		return (0);
	if ((c = ixpost_skip(p->p_pcur, p->p_pend, p->p_pskip)) == NULL)
		return (-1);
	p->p_pcur = c;
	p->p_pskip = 0;
	return (0);
}

/* The cursor at the last posting of a run of n (ixpost_run). */
static int64_t
ixpost_ran(struct ixpost *p, uint64_t local, uint32_t left, uint32_t n)
{
	if (n == 0)
		return (0);
	p->p_local = local;
	p->p_left = left;
	p->p_cid = p->p_base + local;
	p->p_tf = 1;
	p->p_pos = 0;
	return (n);
}

/*
 * Pass over the postings that follow the current one chunk after chunk,
 * each of tf 1 and at position 0, as a filter's term has them through a
 * run of a tenant's or a source's chunks: 3 bytes each (1, 1, 0), in
 * QSG2 two in the docs and one in the positions.  How many, the cursor
 * at the last of them, its positions read; -1 on a damaged segment.
 */
int64_t
ixpost_run(struct ixpost *p)
{
	const uint8_t	*c = p->p_cur, *end = p->p_end;
	const uint8_t	*pc, *pend = p->p_pend;
	uint64_t	 local = p->p_local;
	uint32_t	 left = p->p_left, n = p->p_nchunks, run = 0;

	p->p_pskip += p->p_posleft;
	p->p_posleft = 0;
	if (ixpost_catch_up(p) == -1)
		return (-1);
	pc = p->p_pcur;
	if (!p->p_split) {
		while (left > 0 && end - pc >= 3 && pc[0] == 1 && pc[1] == 1 &&
		    pc[2] == 0 && local + 1 < n) {
			pc += 3;
			local++;
			left--;
			run++;
		}
		p->p_pcur = pc;
		return (ixpost_ran(p, local, left, run));
	}
	while (left > 0 && end - c >= 2 && c[0] == 1 && c[1] == 1 &&
	    pc < pend && pc[0] == 0 && local + 1 < n) {
		c += 2;
		pc++;
		local++;
		left--;
		run++;
	}
	p->p_cur = c;
	p->p_pcur = pc;
	return (ixpost_ran(p, local, left, run));
}

/*
 * Where the current posting's positions not read yet start, those of
 * the postings before it that nobody read passed over first, and in
 * *len how many bytes they take: for a fold or a merge to copy them, a
 * phrase to read them later.  The cursor is left past them, with none
 * for ixpost_pos.  Once ixpost_next has said 0, they end where the
 * term's positions do (the check's use).  NULL on a damaged segment.
 */
const uint8_t *
ixpost_posbuf(struct ixpost *p, size_t *len)
{
	const uint8_t	*c, *e;

	if (ixpost_catch_up(p) == -1 ||
	    (e = ixpost_skip(p->p_pcur, p->p_pend, p->p_posleft)) == NULL)
		return (NULL);
	c = p->p_pcur;
	p->p_pcur = e;
	p->p_posleft = 0;
	*len = e - c;
	return (c);
}

/* The posting's next position, in order; -1 when there are no more. */
int64_t
ixpost_pos(struct ixpost *p)
{
	uint64_t	 d;

	if (p->p_posleft == 0 || ixpost_catch_up(p) == -1 ||
	    ix_getvarint(&p->p_pcur, p->p_pend, &d) == -1)
		return (-1);
	p->p_posleft--;
	p->p_pos += d;
	return (p->p_pos);
}

/* Copy n bytes to d, a few bytes (most often) without a call. */
static inline uint8_t *
ixseg_copy(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n > 16) {
		memcpy(d, s, n);
		return (d + n);
	}
	while (n-- > 0)
		*d++ = *s++;
	return (d);
}

/*
 * A term's postings as a batch writes them, each posting's positions
 * right after its tf, in[0..len) with dlen bytes of deltas and tfs among
 * them, laid out at out as a QSG2 area: varint dlen, the deltas and tfs,
 * the positions.  out has room for them: len bytes and dlen's varint.
 * How many bytes the area takes, or 0 if in is not so.
 */
size_t
ixseg_split(uint8_t *out, const uint8_t *in, size_t len, size_t dlen)
{
	const uint8_t	*c = in, *end = in + len, *h, *e;
	uint8_t		*d = out, *dend, *ps;
	uint64_t	 delta, tf;

	d = ix_putvarint(d, dlen);
	if (dlen > len)
		return (0);
	dend = ps = d + dlen;
	while (c < end) {
		h = c;
		if (ixpost_head(&c, end, &delta, &tf) == -1 ||
		    (size_t)(c - h) > (size_t)(dend - d) ||
		    (e = ixpost_skip(c, end, tf)) == NULL)
			return (0);
		d = ixseg_copy(d, h, c - h);
		ps = ixseg_copy(ps, c, e - c);
		c = e;
	}
	return (d == dend ? (size_t)(ps - out) : 0);
}

/*
 * A k-way walk over the dictionaries of segments in cid order: the terms
 * of all of them in byte order, each once, with the segments that have
 * it in their order.  A heap of the segments with terms left, by their
 * current term, then by their place (so by cid).
 */

static int
ixwalk_less(const struct ixwcur *a, const struct ixwcur *b)
{
	int	 c;

	if (a->wc_key != b->wc_key)
		return (a->wc_key < b->wc_key);
	if ((c = ix_termcmp(a->wc_t, a->wc_tl, b->wc_t, b->wc_tl)) != 0)
		return (c < 0);
	return (a->wc_j < b->wc_j);
}

static void
ixwalk_down(struct ixwalk *w, size_t i)
{
	struct ixwcur	**h = w->w_heap, *tmp;
	size_t		  c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= w->w_nheap)
			return;
		if (c + 1 < w->w_nheap && ixwalk_less(h[c + 1], h[c]))
			c++;
		if (!ixwalk_less(h[c], h[i]))
			return;
		tmp = h[i];
		h[i] = h[c];
		h[c] = tmp;
		i = c;
	}
}

static void
ixwalk_up(struct ixwalk *w, size_t i)
{
	struct ixwcur	**h = w->w_heap, *tmp;

	while (i > 0 && ixwalk_less(h[i], h[(i - 1) / 2])) {
		tmp = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = tmp;
		i = (i - 1) / 2;
	}
}

/* The cursor's term into the heap, unless its segment has no more. */
static void
ixwalk_push(struct ixwalk *w, struct ixwcur *wc)
{
	if (wc->wc_term >= wc->wc_seg->s_hdr->h_nterms)
		return;
	wc->wc_t = ixseg_term(wc->wc_seg, wc->wc_term, &wc->wc_tl);
	wc->wc_key = ix_termkey(wc->wc_t, wc->wc_tl);
	w->w_heap[w->w_nheap++] = wc;
	ixwalk_up(w, w->w_nheap - 1);
}

/* Walk segs[0..n), from the first term after the n bytes of after (or
 * from the first when n is 0).  The walk points into the segments. */
void
ixwalk_init(struct ixwalk *w, const struct ixseg *segs, size_t n,
    const char *after, size_t afterlen)
{
	struct ixwcur	*wc;
	size_t		 j;

	memset(w, 0, sizeof(*w));
	w->w_cur = xcalloc(n, sizeof(*w->w_cur));
	w->w_heap = xcalloc(n, sizeof(*w->w_heap));
	w->w_same = xcalloc(n, sizeof(*w->w_same));
	for (j = 0; j < n; j++) {
		wc = &w->w_cur[j];
		wc->wc_seg = &segs[j];
		wc->wc_j = j;
		if (afterlen > 0) {
			wc->wc_term = ixseg_lower(&segs[j], after, afterlen);
			if (ixseg_find(&segs[j], after, afterlen) >= 0)
				wc->wc_term++;
		}
		ixwalk_push(w, wc);
	}
}

/*
 * The next term: 1 with it in w_t and w_tl, and the cursors of the
 * segments that have it in w_same[0..w_nsame), in segment order, each
 * at the term (wc_term); 0 at the end.
 */
int
ixwalk_next(struct ixwalk *w)
{
	struct ixwcur	*wc;
	uint64_t	 key;
	size_t		 j;

	for (j = 0; j < w->w_nsame; j++) {
		wc = w->w_same[j];
		wc->wc_term++;
		ixwalk_push(w, wc);
	}
	w->w_nsame = 0;
	if (w->w_nheap == 0)
		return (0);
	w->w_t = w->w_heap[0]->wc_t;
	w->w_tl = w->w_heap[0]->wc_tl;
	key = w->w_heap[0]->wc_key;
	while (w->w_nheap > 0 && w->w_heap[0]->wc_key == key &&
	    w->w_heap[0]->wc_tl == w->w_tl &&
	    memcmp(w->w_heap[0]->wc_t, w->w_t, w->w_tl) == 0) {
		w->w_same[w->w_nsame++] = w->w_heap[0];
		w->w_heap[0] = w->w_heap[--w->w_nheap];
		ixwalk_down(w, 0);
	}
	return (1);
}

void
ixwalk_free(struct ixwalk *w)
{
	free(w->w_cur);
	free(w->w_heap);
	free(w->w_same);
	memset(w, 0, sizeof(*w));
}
