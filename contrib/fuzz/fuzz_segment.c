/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the segment reader (index_seg.c) and the index check's
 * walk of one segment (index_check_seg in index_check.c).  The input is
 * a segment value, QSG2 or QSG1, copied to memory of its own, 8-aligned
 * as LMDB hands a segment to its readers and exactly its size.
 *
 * A segment ixseg_open takes is read as search reads any segment, the
 * check passed or not: every term looked up by its bytes, every posting
 * walked, plainly or gated by marks, its positions read one by one, in
 * part, as bytes or not at all, and runs of a filter's chunks passed
 * over.  That must not crash nor read past the end; nothing more is
 * asked of a segment the check refuses.
 *
 * A segment the check passes must also give what its readers rely on:
 * terms in strictly increasing order, each found where it is; for each
 * term e_df postings of strictly increasing cids inside the segment's
 * range, each of tf at least 1 with tf positions in order that fit in
 * 32 bits, as bytes inside the term's area, which ends where the next
 * one's starts; and the same postings however they are walked, against
 * a plain walk that reads every position (fs_ref).
 *
 * What each walk does is drawn from the header's token count, which
 * nothing here reads otherwise: a fuzzer steers the walk through it.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* The walk of one segment. */
struct fseg {
	const struct ixseg	*fs_seg;
	int			 fs_sound;	/* the check passed it */
	uint64_t		 fs_rand;
	uint8_t			*fs_marks;	/* by chunk, for gated walks */
	struct ixpost		 fs_ref;	/* the plain walk (sound) */
	uint32_t		 fs_n;		/* its postings so far */
	uint32_t		*fs_pos;	/* its posting's positions */
	size_t			 fs_poscap;
	const uint8_t		*fs_pc;		/* and their bytes */
	size_t			 fs_plen;
	const uint8_t		*fs_lo;		/* the term's area */
	const uint8_t		*fs_hi;
};

/* The next choice of the walk (xorshift64). */
static uint32_t
fseg_rand(struct fseg *fs, uint32_t n)
{
	uint64_t	 x = fs->fs_rand;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	fs->fs_rand = x;
	return (x % n);
}

/*
 * The plain walk's posting's positions, as bytes inside the term's area
 * (after its docs in QSG2), tf varints in order whose sum fits in 32
 * bits: kept in fs_pos, and where they are in fs_pc and fs_plen.
 */
static void
fseg_ref_pos(struct fseg *fs)
{
	struct ixpost	*a = &fs->fs_ref;
	const uint8_t	*c, *end;
	uint64_t	 d, at = 0;
	uint32_t	 i;

	c = ixpost_posbuf(a, &fs->fs_plen);
	FUZZ_ASSERT(c != NULL);
	FUZZ_ASSERT(c >= fs->fs_lo &&
	    fs->fs_plen <= (size_t)(fs->fs_hi - c));
	FUZZ_ASSERT(!a->p_split || c >= a->p_end);
	fs->fs_pc = c;
	for (end = c + fs->fs_plen, i = 0; i < a->p_tf; i++) {
		if (i == fs->fs_poscap) {
			fs->fs_poscap = fs->fs_poscap == 0 ? 64 :
			    fs->fs_poscap * 2;
			fs->fs_pos = xreallocarray(fs->fs_pos, fs->fs_poscap,
			    sizeof(*fs->fs_pos));
		}
		FUZZ_ASSERT(ix_getvarint(&c, end, &d) == 0);
		FUZZ_ASSERT(d <= UINT32_MAX - at);
		at += d;
		fs->fs_pos[i] = at;
	}
	FUZZ_ASSERT(c == end);
	/* None left for ixpost_pos. */
	FUZZ_ASSERT(ixpost_pos(a) == -1);
}

/* The plain walk's next posting: the postings a reader relies on. */
static int
fseg_ref_next(struct fseg *fs)
{
	struct ixpost	*a = &fs->fs_ref;
	const struct ixseghdr *h = fs->fs_seg->s_hdr;
	uint32_t	 last = a->p_cid;
	int		 rv;

	rv = ixpost_next(a);
	FUZZ_ASSERT(rv != -1);
	if (rv == 0)
		return (0);
	FUZZ_ASSERT(fs->fs_n == 0 || a->p_cid > last);
	FUZZ_ASSERT(a->p_local < h->h_nchunks);
	FUZZ_ASSERT(a->p_cid >= h->h_base &&
	    a->p_cid - h->h_base == a->p_local);
	FUZZ_ASSERT(a->p_tf >= 1);
	fs->fs_n++;
	fseg_ref_pos(fs);
	return (1);
}

/* The plain walk's next posting of a marked chunk. */
static int
fseg_ref_marked(struct fseg *fs)
{
	int	 rv;

	while ((rv = fseg_ref_next(fs)) == 1 &&
	    fs->fs_marks[fs->fs_ref.p_local] == 0)
		;
	return (rv);
}

/*
 * Positions as bytes: the plain walk's, where they are.  -1 if the
 * segment is damaged.
 */
static int
fseg_posbuf(struct fseg *fs, struct ixpost *p)
{
	const uint8_t	*c;
	size_t		 len;

	c = ixpost_posbuf(p, &len);
	if (!fs->fs_sound)
		return (c == NULL ? -1 : 0);
	FUZZ_ASSERT(c == fs->fs_pc && len == fs->fs_plen);
	return (0);
}

/* Positions one by one, up to n of them. */
static void
fseg_pos(struct fseg *fs, struct ixpost *p, uint32_t n)
{
	uint32_t	 i, tf = p->p_tf;
	int64_t		 v;

	for (i = 0; i < n && (v = ixpost_pos(p)) != -1; i++)
		if (fs->fs_sound)
			FUZZ_ASSERT(i < tf && v == fs->fs_pos[i]);
	if (fs->fs_sound)
		FUZZ_ASSERT(i == (n < tf ? n : tf));
}

/*
 * A run of chunks after the posting, as a filter passes over them: the
 * plain walk's next n postings are of the chunks that follow, each of
 * tf 1 at position 0.  -1 if the segment is damaged.
 */
static int
fseg_run(struct fseg *fs, struct ixpost *p)
{
	int64_t		 n, i;
	uint32_t	 cid = p->p_cid;

	n = ixpost_run(p);
	if (!fs->fs_sound)
		return (n == -1 ? -1 : 0);
	FUZZ_ASSERT(n >= 0);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(fseg_ref_next(fs) == 1);
		FUZZ_ASSERT(fs->fs_ref.p_cid == cid + i + 1);
		FUZZ_ASSERT(fs->fs_ref.p_tf == 1 && fs->fs_pos[0] == 0);
	}
	FUZZ_ASSERT(p->p_cid == fs->fs_ref.p_cid &&
	    p->p_tf == fs->fs_ref.p_tf);
	/* Its positions are passed over, the run's or the posting's. */
	FUZZ_ASSERT(ixpost_pos(p) == -1);
	return (0);
}

/*
 * A posting's positions read some way, or not at all, then perhaps a
 * run after it; -1 where a search would give up on the segment.
 */
static int
fseg_posting(struct fseg *fs, struct ixpost *p, int gated)
{
	switch (fseg_rand(fs, 8)) {
	case 0:
	case 1:
		fseg_pos(fs, p, UINT32_MAX);
		break;
	case 2:
		fseg_pos(fs, p, fseg_rand(fs, 4));
		break;
	case 3:
	case 4:
		if (fseg_posbuf(fs, p) == -1)
			return (-1);
		break;
	default:
		break;
	}
	if (!gated && fseg_rand(fs, 4) == 0)
		return (fseg_run(fs, p));
	return (0);
}

/*
 * Where a term's positions end, once a plain walk is over: where the
 * next term's area starts, or, for the last, at the segment's end, less
 * at most 7 bytes of padding.
 */
static void
fseg_area_end(struct fseg *fs, struct ixpost *p, uint32_t t)
{
	const struct ixseg *s = fs->fs_seg;
	const uint8_t	*c;
	size_t		 len;

	c = ixpost_posbuf(p, &len);
	FUZZ_ASSERT(c != NULL);
	if (t + 1 < s->s_hdr->h_nterms)
		FUZZ_ASSERT(c + len == fs->fs_hi);
	else
		FUZZ_ASSERT(fs->fs_hi - (c + len) < 8);
}

/* One term's postings, walked plainly or gated by marks. */
static void
fseg_postings(struct fseg *fs, uint32_t t)
{
	const struct ixseg *s = fs->fs_seg;
	const uint8_t	*data = s->s_data;
	struct ixpost	 p;
	int		 gated, rv, ra;

	gated = fseg_rand(fs, 4) == 0;
	ixpost_init(&p, s, t);
	if (fs->fs_sound) {
		ixpost_init(&fs->fs_ref, s, t);
		fs->fs_n = 0;
		FUZZ_ASSERT(s->s_dict[t].e_post >= s->s_hdr->h_post);
		fs->fs_lo = data + s->s_dict[t].e_post;
		fs->fs_hi = t + 1 < s->s_hdr->h_nterms ?
		    data + s->s_dict[t + 1].e_post : data + s->s_len;
		FUZZ_ASSERT(fs->fs_lo <= fs->fs_hi);
	}
	for (;;) {
		rv = gated ? ixpost_next_marked(&p, fs->fs_marks) :
		    ixpost_next(&p);
		if (fs->fs_sound) {
			ra = gated ? fseg_ref_marked(fs) : fseg_ref_next(fs);
			FUZZ_ASSERT(rv == ra);
			FUZZ_ASSERT(rv != 1 || (p.p_cid == fs->fs_ref.p_cid &&
			    p.p_local == fs->fs_ref.p_local &&
			    p.p_tf == fs->fs_ref.p_tf));
		}
		if (rv != 1 || fseg_posting(fs, &p, gated) == -1)
			break;
	}
	if (fs->fs_sound) {
		FUZZ_ASSERT(rv == 0);
		FUZZ_ASSERT(fs->fs_n == s->s_dict[t].e_df);
		if (!gated)
			fseg_area_end(fs, &p, t);
	}
}

/* Every term, looked up by its bytes, and its postings. */
static void
fseg_terms(struct fseg *fs)
{
	const struct ixseg *s = fs->fs_seg;
	const char	*tp, *prev = NULL;
	size_t		 tl, prevl = 0;
	uint32_t	 t, n = s->s_hdr->h_nterms, lo, from;
	int64_t		 f;

	for (t = 0; t < n; t++) {
		tp = ixseg_term(s, t, &tl);
		f = ixseg_find(s, tp, tl);
		lo = ixseg_lower(s, tp, tl);
		from = ixseg_lower_from(s, t / 2, tp, tl);
		if (fs->fs_sound) {
			FUZZ_ASSERT(f == t && lo == t && from == t);
			FUZZ_ASSERT(prev == NULL ||
			    ix_termcmp(prev, prevl, tp, tl) < 0);
		}
		prev = tp;
		prevl = tl;
		fseg_postings(fs, t);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fseg	 fs;
	struct ixseg	 s;
	uint8_t		*seg;
	char		 msg[256];
	size_t		 i;

	fuzz_init();
	if (size == 0 || size > FUZZ_MAX_SMALL)
		return (0);
	/* malloc's memory is aligned for any type, so on 8 bytes. */
	seg = xmalloc(size);
	memcpy(seg, data, size);
	if (ixseg_open(&s, seg, size) == -1) {
		free(seg);
		return (0);
	}
	memset(&fs, 0, sizeof(fs));
	fs.fs_seg = &s;
	msg[0] = '\0';
	fs.fs_sound = index_check_seg(&s, 1, msg, sizeof(msg)) == 0;
	FUZZ_ASSERT(fs.fs_sound || msg[0] != '\0');
	fs.fs_rand = s.s_hdr->h_tokens | 1;
	fs.fs_marks = xmalloc(s.s_hdr->h_nchunks + 1);
	for (i = 0; i < s.s_hdr->h_nchunks; i++)
		fs.fs_marks[i] = fseg_rand(&fs, 3) != 0;
	fseg_terms(&fs);
	free(fs.fs_marks);
	free(fs.fs_pos);
	free(seg);
	return (0);
}
