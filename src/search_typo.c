/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Typo tolerance: the terms of the index within one or two edits of a
 * query word, and the one a misspelled word stands for.
 *
 * One edit is looked up by the word's variants (search_typo_variants):
 * every string one edit from the word as typed, stemmed as documents
 * are and looked up exactly.  Stemming is why: a misspelled word's stem
 * may be far from the stem of the word meant ("relatoins" stems to
 * "relatoin", "relations" to "relat"), while one of its variants is the
 * word meant.  A word of m characters has about 2m(26 + m) variants,
 * each a stem and a lookup per field: a millisecond or two, whatever
 * the size of the dictionary.
 *
 * Two edits, and words too long for variants, are looked up by walking
 * the term dictionary in its sorted order with a Damerau-Levenshtein
 * automaton over stems.
 *
 * The dictionary is the block store's terms database (index_block.c)
 * and the dictionary of each segment not folded yet (index_seg.c); both
 * are sorted in byte order (ix_termcmp), so the walk needs no data of
 * its own.  An edit is the deletion, insertion or substitution of a
 * character (a code point of the stem, not a byte), or the
 * transposition of two adjacent ones (the "optimal string alignment"
 * distance: a transposed pair is not edited again).  The walk keeps one
 * row of the distance table per character of the term at hand, so that
 * the next term, which shares a prefix with it, starts from the row of
 * that prefix.  When every cell of a row exceeds the edits allowed, no
 * term beginning with that prefix can be near enough, and the walk
 * seeks (MDB_SET_RANGE, or ixseg_lower in a segment) to the next prefix
 * that can (search_typo_next): when the row before is at the edits,
 * only a character of the word can follow, so it seeks to the smallest
 * such after the dead one; else past every term of the dead prefix.  It
 * reads the terms along the paths the automaton can still take, not
 * the whole dictionary (thousands of terms for a 9-letter word and two
 * edits, of the million of records-1.2m).  Each
 * walk stops after SEARCH_TYPO_STEPS terms, a bound on its time on a
 * dictionary of millions of terms, whatever the word, or at the
 * search's deadline (ty_deadline), with what it found so far.
 *
 * A word is looked up in both text and title fields ('b' and 't'
 * terms), the two counting as one stem: a stem's df here is the sum of
 * its postings in both, over the block store and the segments.  At most
 * SEARCH_TYPO_CANDS stems are kept, the fewest edits first; among them,
 * the nearest to the word's own stem (a variant's stem may have lost a
 * suffix: "stiing" stems to "sti"), then the most frequent; a stem
 * evicted and met again in another segment counts only from there on.
 *
 * Which word is corrected, and to what (search_typo_pick): a word with
 * no posting at all is replaced by its nearest stem, the most frequent
 * among the nearest; a rare word (at most SEARCH_TYPO_RARE_MIN postings,
 * or one in SEARCH_TYPO_RARE_DIV chunks on a larger index) keeps
 * matching and the stem is added beside it, when the stem has
 * SEARCH_TYPO_RATIO times its postings or more: a rarer stem is not a
 * likelier reading than the word the user typed.  The next
 * SEARCH_TYPO_ALTS stems as many edits away are other readings, which
 * the caller searches beside it (search_typo_alts): of "tiken", "taken"
 * may be the likeliest, but "ticken" the one meant, and the one with
 * the higher idf.  The caller scores a corrected term lower than an
 * exact one (search_typo_weight).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

#define SEARCH_TYPO_STEPS	100000	/* terms read by one walk, at most */
#define SEARCH_TYPO_RARE_MIN	2	/* a word this rare may be a typo */
#define SEARCH_TYPO_RARE_DIV	1000000	/* or one chunk in this many */
#define SEARCH_TYPO_RATIO	10	/* how much commoner a correction */
#define SEARCH_TYPO_VAR_WORD	24	/* characters, for variants */
#define SEARCH_TYPO_VAR_STEM	128	/* bytes of a variant's stem */

/* The two fields a word is corrected in. */
static const char search_typo_fields[] = { IX_BODY, IX_TITLE };

/* The code points of s (an invalid byte is one of its own); how many. */
static size_t
search_typo_decode(const char *s, size_t len, uint32_t *cp, uint8_t *nb,
    size_t max)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 i = 0, n = 0, k, l;
	uint32_t	 c;

	while (i < len && n < max) {
		c = p[i];
		l = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
		    (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 1;
		if (i + l > len)
			l = 1;
		if (l > 1)
			c &= 0x7f >> l;		/* the lead byte's own bits */
		for (k = 1; k < l; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				break;
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if (k < l)
			l = 1, c = p[i];
		cp[n] = c;
		nb[n++] = l;
		i += l;
	}
	return (n);
}

/* The number of characters of a word: what the edits allowed go by. */
size_t
search_typo_chars(const char *s, size_t len)
{
	uint32_t	 cp[SEARCH_TYPO_WORD_MAX];
	uint8_t		 nb[SEARCH_TYPO_WORD_MAX];

	return (search_typo_decode(s, len, cp, nb, SEARCH_TYPO_WORD_MAX));
}

/*
 * Start a lookup of the stem (no field byte) with at most edits edits;
 * -1 if the stem is too long to be looked up.
 */
int
search_typo_init(struct search_typo *ty, const char *stem, size_t len,
    int edits)
{
	uint8_t	 nb[SEARCH_TYPO_WORD_MAX];
	size_t	 j;

	memset(ty, 0, sizeof(*ty));
	if (len == 0 || len > IX_TERM_MAX - 1 || edits < 0 ||
	    edits > SEARCH_TYPO_EDITS_MAX)
		return (-1);
	ty->ty_m = search_typo_decode(stem, len, ty->ty_word, nb,
	    SEARCH_TYPO_WORD_MAX);
	if (ty->ty_m == SEARCH_TYPO_WORD_MAX)
		return (-1);
	ty->ty_edits = edits;
	/* Row 0: the empty prefix, j insertions away from j characters. */
	for (j = 0; j <= ty->ty_m; j++)
		ty->ty_row[0][j] = j <= (size_t)edits ? j : (size_t)edits + 1;
	return (0);
}

/*
 * Row i of the table, for a term whose i-th character is c and the one
 * before it b, from rows i - 1 and i - 2; its smallest cell.  Only the
 * band of cells within the edits of the diagonal (|i - j| <= edits) can
 * hold edits or fewer, so only those are computed, and a cell past the
 * edits holds edits + 1: the walk asks of a cell only whether it is
 * within the edits, and how many when it is.  The cells just outside
 * the band are written too, as the next row reads them.
 */
static int
search_typo_row(struct search_typo *ty, size_t i, uint32_t c, uint32_t b)
{
	uint8_t		*r = ty->ty_row[i], *u = ty->ty_row[i - 1];
	size_t		 j, lo, hi, m = ty->ty_m, k = ty->ty_edits;
	int		 best, v, cap = ty->ty_edits + 1;

	lo = i > k ? i - k : 1;
	hi = i + k < m ? i + k : m;
	r[lo - 1] = lo == 1 && i < (size_t)cap ? i : (size_t)cap;
	best = r[lo - 1];
	for (j = lo; j <= hi; j++) {
		v = u[j - 1] + (c != ty->ty_word[j - 1]);
		if (u[j] + 1 < v)
			v = u[j] + 1;
		if (r[j - 1] + 1 < v)
			v = r[j - 1] + 1;
		if (i > 1 && j > 1 && c == ty->ty_word[j - 2] &&
		    b == ty->ty_word[j - 1] &&
		    ty->ty_row[i - 2][j - 2] + 1 < v)
			v = ty->ty_row[i - 2][j - 2] + 1;
		r[j] = v < cap ? v : cap;
		if (v < best)
			best = v;
	}
	if (hi < m)
		r[hi + 1] = r[m] = cap;
	ty->ty_rowmin[i] = best < cap ? best : cap;
	return (ty->ty_rowmin[i]);
}

/*
 * Is a better than b: fewer edits; as few, and nearer the word's stem;
 * as near, and in more chunks?
 */
static int
search_typo_better(const struct search_typo_cand *a,
    const struct search_typo_cand *b)
{
	if (a->tc_edits != b->tc_edits)
		return (a->tc_edits < b->tc_edits);
	if (a->tc_near != b->tc_near)
		return (a->tc_near < b->tc_near);
	return (a->tc_df > b->tc_df);
}

/* The distance from the word (ty_word) to the stem t, at most 255. */
static int
search_typo_osa(const struct search_typo *ty, const char *t, size_t len)
{
	uint32_t	 kc[SEARCH_TYPO_WORD_MAX];
	uint8_t		 nb[SEARCH_TYPO_WORD_MAX];
	int		 d[3][SEARCH_TYPO_WORD_MAX + 1], *r, *u, *uu, v;
	size_t		 n, i, j, m = ty->ty_m;

	n = search_typo_decode(t, len, kc, nb, SEARCH_TYPO_WORD_MAX);
	for (j = 0; j <= m; j++)
		d[0][j] = j;
	for (i = 1; i <= n; i++) {
		r = d[i % 3];
		u = d[(i - 1) % 3];
		uu = d[(i + 1) % 3];	/* row i - 2 */
		r[0] = i;
		for (j = 1; j <= m; j++) {
			v = u[j - 1] + (kc[i - 1] != ty->ty_word[j - 1]);
			if (u[j] + 1 < v)
				v = u[j] + 1;
			if (r[j - 1] + 1 < v)
				v = r[j - 1] + 1;
			if (i > 1 && j > 1 && kc[i - 1] == ty->ty_word[j - 2] &&
			    kc[i - 2] == ty->ty_word[j - 1] &&
			    uu[j - 2] + 1 < v)
				v = uu[j - 2] + 1;
			r[j] = v;
		}
	}
	v = d[n % 3][m];
	return (v > 255 ? 255 : v);
}

/*
 * Count df postings for the stem t, edits away from the word and near
 * its stem.
 */
static void
search_typo_add(struct search_typo *ty, const char *t, size_t len,
    int edits, int near, uint64_t df)
{
	struct search_typo_cand	*c, x;
	size_t			 i, worst = 0;

	if (edits == 0) {
		ty->ty_exact += df;
		return;
	}
	for (i = 0; i < ty->ty_n; i++) {
		c = &ty->ty_cand[i];
		if (c->tc_len == len && memcmp(c->tc_term, t, len) == 0) {
			c->tc_df += df;
			return;
		}
		if (search_typo_better(&ty->ty_cand[worst], c))
			worst = i;
	}
	x.tc_edits = edits;
	x.tc_near = near;
	x.tc_df = df;
	if (ty->ty_n < SEARCH_TYPO_CANDS)
		c = &ty->ty_cand[ty->ty_n++];
	else if (search_typo_better(&x, &ty->ty_cand[worst]))
		c = &ty->ty_cand[worst];
	else
		return;
	memcpy(c->tc_term, t, len);
	c->tc_len = len;
	c->tc_edits = edits;
	c->tc_near = near;
	c->tc_df = df;
}

/*
 * A sorted dictionary: the block store's terms (a cursor) or a
 * segment's (an index into it).
 */
struct stdict {
	MDB_cursor		*d_c;
	int			 d_format;
	const struct ixseg	*d_seg;
	uint32_t		 d_i;
	const char		*d_term;	/* the term at hand */
	size_t			 d_len;
	uint64_t		 d_df;
};

/* The first term from key on (seek) or the next one; 1, 0 at the end. */
static int
search_typo_dict(struct stdict *d, const char *key, size_t len, int seek)
{
	struct ixterminfo	 ti;
	MDB_val			 k, v;
	int			 rc;

	if (d->d_seg != NULL) {
		d->d_i = seek ? ixseg_lower(d->d_seg, key, len) : d->d_i + 1;
		if (d->d_i >= d->d_seg->s_hdr->h_nterms)
			return (0);
		d->d_term = ixseg_term(d->d_seg, d->d_i, &d->d_len);
		d->d_df = d->d_seg->s_dict[d->d_i].e_df;
		return (1);
	}
	k.mv_data = (void *)key;
	k.mv_size = len;
	for (;;) {
		rc = mdb_cursor_get(d->d_c, &k, &v, seek ? MDB_SET_RANGE :
		    MDB_NEXT);
		if (rc == MDB_NOTFOUND)
			return (0);
		if (rc != 0)
			return (-1);
		seek = 0;
		if (k.mv_size > IX_TERM_MAX ||
		    ixblk_terminfo_decode(&v, d->d_format, &ti) == -1)
			continue;	/* not a term ixblk wrote */
		d->d_term = k.mv_data;
		d->d_len = k.mv_size;
		d->d_df = ti.ti_df;
		return (1);
	}
}

/* c in UTF-8; its length. */
static size_t
search_typo_encode(uint32_t c, char *p)
{
	if (c < 0x80) {
		p[0] = c;
		return (1);
	}
	if (c < 0x800) {
		p[0] = 0xc0 | (c >> 6);
		p[1] = 0x80 | (c & 0x3f);
		return (2);
	}
	if (c < 0x10000) {
		p[0] = 0xe0 | (c >> 12);
		p[1] = 0x80 | ((c >> 6) & 0x3f);
		p[2] = 0x80 | (c & 0x3f);
		return (3);
	}
	p[0] = 0xf0 | ((c >> 18) & 0x07);
	p[1] = 0x80 | ((c >> 12) & 0x3f);
	p[2] = 0x80 | ((c >> 6) & 0x3f);
	p[3] = 0x80 | (c & 0x3f);
	return (4);
}

/*
 * Where the walk goes from a term whose row dead is past the edits: to
 * the first string after it whose first dead characters may still be
 * near the word.  At a level whose row before is below the edits, any
 * next character may do: the terms after those that begin with the
 * term's first level characters.  At one whose row before is at the
 * edits, only a character of the word can keep it there: the smallest
 * such after the term's, if one does; else up a level.  The seek key in
 * key, with *len; the level it leaves of the term (rows 1..level - 1
 * still hold); 0 when no term of the field is left.
 */
static size_t
search_typo_next(struct search_typo *ty, const char *term, size_t tlen,
    const uint32_t *kc, const uint8_t *nb, size_t level, char *key,
    size_t *len)
{
	uint32_t	 c, best;
	size_t		 i, j, off, end;
	int		 low;

	for (; level >= 1; level--) {
		for (i = 0, off = 1; i + 1 < level; i++)
			off += nb[i];
		memcpy(key, term, off);
		low = ty->ty_rowmin[level - 1] < ty->ty_edits;
		best = UINT32_MAX;
		for (j = 0; !low && j < ty->ty_m; j++) {
			c = ty->ty_word[j];
			if (c > kc[level - 1] && c < best &&
			    search_typo_row(ty, level, c, level > 1 ?
			    kc[level - 2] : 0) <= ty->ty_edits)
				best = c;
		}
		if (best != UINT32_MAX) {
			*len = off + search_typo_encode(best, key + off);
			if (ix_termcmp(key, *len, term, tlen) > 0)
				return (level);
		} else if (!low)
			continue;
		/* Past the terms that begin with the level's character. */
		end = off + nb[level - 1];
		memcpy(key, term, end);
		while (end > off && (uint8_t)key[end - 1] == 0xff)
			end--;
		if (end > off) {
			key[end - 1]++;
			*len = end;
			return (level);
		}
	}
	return (0);
}

/* Walk one field of one dictionary. */
static int
search_typo_field(struct search_typo *ty, struct stdict *d, char field)
{
	uint32_t	 kc[SEARCH_TYPO_WORD_MAX + 1];
	uint32_t	 prev[SEARCH_TYPO_WORD_MAX];
	uint8_t		 nb[SEARCH_TYPO_WORD_MAX + 1];
	char		 key[IX_TERM_MAX + 1];
	size_t		 n, np = 0, i, same, off, steps = 0, dead, level;
	int		 rv;

	key[0] = field;
	rv = search_typo_dict(d, key, 1, 1);
	while (rv == 1) {
		if (d->d_len < 1 || d->d_term[0] != field)
			break;
		if (++steps > SEARCH_TYPO_STEPS || (ty->ty_deadline > 0 &&
		    (steps & 1023) == 0 && util_mono_ms() >= ty->ty_deadline)) {
			ty->ty_cut = 1;
			break;
		}
		n = search_typo_decode(d->d_term + 1, d->d_len - 1, kc, nb,
		    SEARCH_TYPO_WORD_MAX + 1);
		/* Rows 1..same are those of the previous term's prefix. */
		for (same = 0; same < n && same < np && kc[same] == prev[same];
		    same++)
			;
		dead = 0;
		for (i = same + 1; i <= n; i++) {
			if (i > SEARCH_TYPO_WORD_MAX ||
			    search_typo_row(ty, i, kc[i - 1],
			    i > 1 ? kc[i - 2] : 0) > ty->ty_edits) {
				dead = i;
				break;
			}
		}
		memcpy(prev, kc, (n < SEARCH_TYPO_WORD_MAX ? n :
		    SEARCH_TYPO_WORD_MAX) * sizeof(*kc));
		np = dead ? dead - 1 : n;
		if (!dead) {
			if (ty->ty_row[n][ty->ty_m] <= ty->ty_edits)
				search_typo_add(ty, d->d_term + 1, d->d_len - 1,
				    ty->ty_row[n][ty->ty_m],
				    ty->ty_row[n][ty->ty_m], d->d_df);
			rv = search_typo_dict(d, NULL, 0, 0);
			continue;
		}
		if (dead > SEARCH_TYPO_WORD_MAX)
			dead = SEARCH_TYPO_WORD_MAX;	/* too long */
		if ((level = search_typo_next(ty, d->d_term, d->d_len, kc, nb,
		    dead, key, &off)) == 0)
			break;
		np = level - 1;
		rv = search_typo_dict(d, key, off, 1);
	}
	return (rv == -1 ? -1 : 0);
}

/*
 * Look the word up in the block store's terms and in every segment not
 * folded yet.  0, or an LMDB error.
 */
int
search_typo_walk(MDB_txn *txn, struct index *ix, struct search_typo *ty)
{
	struct stdict	 d;
	struct ixseg	 seg;
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 f;
	int		 rc, op = MDB_FIRST;

	memset(&d, 0, sizeof(d));
	if ((d.d_format = ixblk_format(txn, ix)) == -1)
		return (MDB_CORRUPTED);
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_TERMS), &d.d_c)) != 0)
		return (rc);
	for (f = 0; f < sizeof(search_typo_fields); f++)
		if (search_typo_field(ty, &d, search_typo_fields[f]) == -1) {
			mdb_cursor_close(d.d_c);
			return (MDB_CORRUPTED);
		}
	mdb_cursor_close(d.d_c);
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_SEGS), &c)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (ixseg_open(&seg, v.mv_data, v.mv_size) == -1)
			continue;	/* search.c says so */
		memset(&d, 0, sizeof(d));
		d.d_seg = &seg;
		for (f = 0; f < sizeof(search_typo_fields); f++)
			search_typo_field(ty, &d, search_typo_fields[f]);
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* The stem of one variant, and where the variants' stems go. */
struct stvar {
	char		 v_stem[SEARCH_TYPO_VAR_STEM];
	size_t		 v_len;
};

struct stvars {
	struct stvar	*vs_v;
	size_t		 vs_n;
	size_t		 vs_cap;
	size_t		 vs_tokens;	/* of the variant at hand */
};

static int
search_typo_var_token(const struct token *t, void *arg)
{
	struct stvars	*vs = arg;
	struct stvar	*v;

	if (vs->vs_tokens++ > 0 || t->t_len > SEARCH_TYPO_VAR_STEM ||
	    vs->vs_n == vs->vs_cap)
		return (0);
	v = &vs->vs_v[vs->vs_n++];
	memcpy(v->v_stem, t->t_text, t->t_len);
	v->v_len = t->t_len;
	return (0);
}

/* Stem the variant in buf; kept if it is one word. */
static void
search_typo_var(struct stvars *vs, struct tokenizer *tk, const char *buf,
    size_t len)
{
	size_t	 n = vs->vs_n;

	vs->vs_tokens = 0;
	tokenizer_run(tk, buf, len, 0, search_typo_var_token, vs);
	if (vs->vs_tokens != 1)
		vs->vs_n = n;
}

static int
search_typo_varcmp(const void *a, const void *b)
{
	const struct stvar	*x = a, *y = b;

	return (ix_termcmp(x->v_stem, x->v_len, y->v_stem, y->v_len));
}

/*
 * Where the last stem looked up stopped in a segment's dictionary, one
 * field of it: the first term not less than that stem (pl_t, at pl_at),
 * and its first 8 bytes as an integer (ix_termkey; UINT64_MAX past the
 * last term).  A stem less than that term is greater than the stem
 * before, and not in the segment: most stems are not, and are told so
 * by the integers, or by one comparison when those are the same.
 */
struct stplace {
	uint32_t	 pl_at;
	uint64_t	 pl_pre;
	const char	*pl_t;
	size_t		 pl_tl;
};

/* Is the stem, key of len bytes and ix_termkey pre, at pl in segment s? */
static int
search_typo_seg_has(const struct ixseg *s, struct stplace *pl,
    const char *key, size_t len, uint64_t pre)
{
	if (pre < pl->pl_pre || (pre == pl->pl_pre && pl->pl_t != NULL &&
	    ix_termcmp(key, len, pl->pl_t, pl->pl_tl) < 0))
		return (0);
	pl->pl_at = ixseg_lower_from(s, pl->pl_at, key, len);
	if (pl->pl_at >= s->s_hdr->h_nterms) {
		pl->pl_pre = UINT64_MAX;
		pl->pl_t = NULL;
		return (0);
	}
	pl->pl_t = ixseg_term(s, pl->pl_at, &pl->pl_tl);
	pl->pl_pre = ix_termkey(pl->pl_t, pl->pl_tl);
	return (ix_termcmp(pl->pl_t, pl->pl_tl, key, len) == 0);
}

/*
 * The postings of a stem in both fields, blocks and segments.  pl holds
 * 2 x nsegs places, zeros at first: stems looked up in ascending order
 * search each segment's dictionary from the last one's place.
 */
static int
search_typo_df(MDB_txn *txn, struct index *ix, const struct ixseg *segs,
    size_t nsegs, struct stplace *pl, const char *stem, size_t len,
    uint64_t *df)
{
	struct ixterminfo	 ti;
	char			 key[IX_TERM_MAX];
	size_t			 f, i;
	struct stplace		*at;
	uint64_t		 pre;
	int			 rc;

	*df = 0;
	memcpy(key + 1, stem, len);
	for (f = 0; f < sizeof(search_typo_fields); f++) {
		key[0] = search_typo_fields[f];
		if ((rc = ixblk_terminfo(txn, ix, key, len + 1, &ti)) == 0)
			*df += ti.ti_df;
		else if (rc != MDB_NOTFOUND)
			return (rc);
		pre = ix_termkey(key, len + 1);
		for (i = 0; i < nsegs; i++) {
			at = &pl[f * nsegs + i];
			if (search_typo_seg_has(&segs[i], at, key, len + 1,
			    pre))
				*df += segs[i].s_dict[at->pl_at].e_df;
		}
	}
	return (0);
}

/* The variant v of n characters, stemmed. */
static void
search_typo_emit(struct stvars *vs, struct tokenizer *tk, const uint32_t *v,
    size_t n)
{
	char	 buf[4 * (SEARCH_TYPO_VAR_WORD + 1)];
	size_t	 i, len = 0;

	for (i = 0; i < n; i++)
		len += search_typo_encode(v[i], buf + len);
	search_typo_var(vs, tk, buf, len);
}

/*
 * Every string one edit from the word w of m characters, stemmed, in
 * vs: each character deleted, each pair of adjacent ones swapped, and a
 * letter a to z or one of the word's own characters put in place of
 * each or inserted anywhere.
 */
static void
search_typo_edits1(struct stvars *vs, struct tokenizer *tk,
    const uint32_t *w, size_t m)
{
	uint32_t	 abc[26 + SEARCH_TYPO_VAR_WORD];
	uint32_t	 v[SEARCH_TYPO_VAR_WORD + 1];
	size_t		 na = 0, i, j, k;

	for (k = 0; k < 26; k++)
		abc[na++] = 'a' + k;
	for (i = 0; i < m; i++) {
		for (k = 0; k < na && abc[k] != w[i]; k++)
			;
		if (k == na)
			abc[na++] = w[i];
	}
	for (i = 0; i < m; i++) {
		for (j = 0, k = 0; j < m; j++)
			if (j != i)
				v[k++] = w[j];
		search_typo_emit(vs, tk, v, m - 1);
	}
	for (i = 0; i + 1 < m; i++) {
		if (w[i] == w[i + 1])
			continue;
		memcpy(v, w, m * sizeof(*w));
		v[i] = w[i + 1];
		v[i + 1] = w[i];
		search_typo_emit(vs, tk, v, m);
	}
	for (i = 0; i < m; i++)
		for (k = 0; k < na; k++) {
			if (abc[k] == w[i])
				continue;
			memcpy(v, w, m * sizeof(*w));
			v[i] = abc[k];
			search_typo_emit(vs, tk, v, m);
		}
	for (i = 0; i <= m; i++)
		for (k = 0; k < na; k++) {
			memcpy(v, w, i * sizeof(*w));
			v[i] = abc[k];
			memcpy(v + i + 1, w + i, (m - i) * sizeof(*w));
			search_typo_emit(vs, tk, v, m + 1);
		}
}

/*
 * One edit by the word's variants: every string one edit from the word
 * as typed (normalized, not stemmed), stemmed as the documents were
 * (tk), and looked up as it is.  This finds "relations" ("relat") for
 * "relatoins", whose own stem, "relatoin", is three edits from it.
 * The variants' stems go in ty with one edit, the postings of the
 * word's own stem in ty_exact, and *done says so: a word of more than
 * SEARCH_TYPO_VAR_WORD characters has too many variants, and is left to
 * the walk.  0, or an LMDB error.
 */
int
search_typo_variants(MDB_txn *txn, struct index *ix, struct tokenizer *tk,
    struct search_typo *ty, const char *word, size_t len, int *done)
{
	struct stvars	 vs;
	struct ixseg	*segs = NULL;
	struct stplace	*pos = NULL;
	struct stvar	 own;
	uint32_t	 w[SEARCH_TYPO_VAR_WORD + 1];
	uint8_t		 nb[SEARCH_TYPO_VAR_WORD + 1];
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 m, i, nsegs = 0, cap = 0;
	uint64_t	 df;
	int		 rc, op = MDB_FIRST;

	*done = 0;
	m = search_typo_decode(word, len, w, nb, SEARCH_TYPO_VAR_WORD + 1);
	if (m == 0 || m > SEARCH_TYPO_VAR_WORD)
		return (0);
	memset(&vs, 0, sizeof(vs));
	vs.vs_cap = 2 * m + (2 * m + 1) * (26 + m) + 1;
	vs.vs_v = xcalloc(vs.vs_cap, sizeof(*vs.vs_v));
	vs.vs_n = 0;
	search_typo_emit(&vs, tk, w, m);
	if (vs.vs_n != 1) {
		free(vs.vs_v);
		return (0);	/* not one word after all */
	}
	own = vs.vs_v[0];
	vs.vs_n = 0;
	search_typo_edits1(&vs, tk, w, m);
	qsort(vs.vs_v, vs.vs_n, sizeof(*vs.vs_v), search_typo_varcmp);
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_SEGS), &c)) != 0)
		goto out;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (nsegs == cap) {
			cap = cap ? 2 * cap : 8;
			segs = xreallocarray(segs, cap, sizeof(*segs));
		}
		if (ixseg_open(&segs[nsegs], v.mv_data, v.mv_size) == 0)
			nsegs++;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		goto out;
	pos = xcalloc(2 * nsegs + 1, sizeof(*pos));
	if ((rc = search_typo_df(txn, ix, segs, nsegs, pos, own.v_stem,
	    own.v_len, &ty->ty_exact)) != 0)
		goto out;
	/* The variants, in their order, start over. */
	memset(pos, 0, (2 * nsegs + 1) * sizeof(*pos));
	for (i = 0; i < vs.vs_n; i++) {
		if ((i > 0 && search_typo_varcmp(&vs.vs_v[i],
		    &vs.vs_v[i - 1]) == 0) ||
		    search_typo_varcmp(&vs.vs_v[i], &own) == 0)
			continue;
		if ((rc = search_typo_df(txn, ix, segs, nsegs, pos,
		    vs.vs_v[i].v_stem, vs.vs_v[i].v_len, &df)) != 0)
			goto out;
		if (df > 0)
			search_typo_add(ty, vs.vs_v[i].v_stem,
			    vs.vs_v[i].v_len, 1, search_typo_osa(ty,
			    vs.vs_v[i].v_stem, vs.vs_v[i].v_len), df);
	}
	*done = 1;
 out:
	free(pos);
	free(segs);
	free(vs.vs_v);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * What to do with the word, on an index of nchunks chunks: 0 nothing,
 * SEARCH_TYPO_REPLACE or SEARCH_TYPO_ADD the correction, *best.
 */
int
search_typo_pick(const struct search_typo *ty, double nchunks,
    const struct search_typo_cand **best)
{
	const struct search_typo_cand	*b = NULL;
	double				 rare;
	size_t				 i;

	for (i = 0; i < ty->ty_n; i++)
		if (b == NULL || search_typo_better(&ty->ty_cand[i], b))
			b = &ty->ty_cand[i];	/* ties: the first found */
	*best = b;
	if (b == NULL || b->tc_df == 0)
		return (0);
	if (ty->ty_exact == 0)
		return (SEARCH_TYPO_REPLACE);
	rare = nchunks / SEARCH_TYPO_RARE_DIV;
	if (rare < SEARCH_TYPO_RARE_MIN)
		rare = SEARCH_TYPO_RARE_MIN;
	if ((double)ty->ty_exact > rare ||
	    b->tc_df < ty->ty_exact * SEARCH_TYPO_RATIO)
		return (0);
	return (SEARCH_TYPO_ADD);
}

/*
 * The next best stems after best, as many edits away, at most max of
 * them, best first: other readings of the word, searched beside it.
 */
size_t
search_typo_alts(const struct search_typo *ty,
    const struct search_typo_cand *best,
    const struct search_typo_cand **alts, size_t max)
{
	const struct search_typo_cand	*b, *c, *prev = best;
	size_t				 i, n = 0;

	while (n < max) {
		b = NULL;
		for (i = 0; i < ty->ty_n; i++) {
			c = &ty->ty_cand[i];
			if (c->tc_edits != best->tc_edits || c->tc_df == 0 ||
			    c == best || search_typo_better(c, prev) ||
			    (!search_typo_better(prev, c) && c <= prev))
				continue;	/* taken already */
			if (b == NULL || search_typo_better(c, b) ||
			    (!search_typo_better(b, c) && c < b))
				b = c;
		}
		if (b == NULL)
			break;
		alts[n++] = prev = b;
	}
	return (n);
}

/*
 * How much a corrected term counts against an exact one: its idf is
 * multiplied by this, less for two edits than for one, so that a chunk
 * with the word as typed ranks above one with its correction.
 */
double
search_typo_weight(int edits)
{
	return (edits <= 1 ? 0.6 : 0.4);
}

/* Is a word worth a lookup: rare enough on an index of nchunks? */
int
search_typo_rare(uint64_t df, double nchunks)
{
	double	 rare;

	rare = nchunks / SEARCH_TYPO_RARE_DIV;
	if (rare < SEARCH_TYPO_RARE_MIN)
		rare = SEARCH_TYPO_RARE_MIN;
	return ((double)df <= rare);
}
