/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Facets: the top values of a filter field (tenant, type, source, a
 * record's attribute) among a search's matches, with their counts.
 *
 * The values of a field are its filter terms, "f" FIELD "=" VALUE, each
 * a posting list of the chunks that have it (worker.c gives every chunk
 * of a document its document's terms).  A value's count is the number
 * of its postings in the set of matches, read from the block store
 * (below the folded mark, as search reads it) and from every segment.
 * The set is of chunks with --chunks; by document, it holds one chunk
 * of each matching document, its first (search_facet_docs), which has
 * every filter term its document has.
 *
 * In the block store, a value's postings and the set are intersected by
 * leaps (search_facet_leap), so counting costs about the smaller of the
 * two; a segment's postings are read whole.
 *
 * Bounds: at most SEARCH_FACET_VALUES distinct values of a field are
 * counted, and counting stops at a deadline; either way the counts are
 * marked estimated (sf_estimated), as they are when the set itself is
 * only part of the matches (a pruned search).  The deadline is read
 * every 1024 postings.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include <roaring/roaring.h>

#include "quire.h"

#define SEARCH_FACET_VALUES	10000	/* distinct values counted */

struct sfval {
	RB_ENTRY(sfval)	 v_node;
	char		*v_value;
	uint64_t	 v_count;
};

RB_HEAD(sfvals, sfval);

struct sfcount {
	struct sfvals		 c_vals;
	size_t			 c_nvals;
	const roaring_bitmap_t	*c_set;
	uint64_t		 c_deadline;	/* monotonic ms; 0: none */
	uint32_t		 c_steps;
	int			 c_late;
	int			 c_estimated;
	char			 c_prefix[IX_TERM_MAX + 1];
	size_t			 c_plen;
};

static int
search_facet_cmp(const struct sfval *a, const struct sfval *b)
{
	return (strcmp(a->v_value, b->v_value));
}

RB_GENERATE_STATIC(sfvals, sfval, v_node, search_facet_cmp)

/* Past the deadline?  Then the counts are estimated. */
static int
search_facet_late(struct sfcount *fc)
{
	if (fc->c_late || fc->c_deadline == 0)
		return (fc->c_late);
	if ((++fc->c_steps & 1023) == 0 && util_mono_ms() >= fc->c_deadline)
		fc->c_late = fc->c_estimated = 1;
	return (fc->c_late);
}

/* The value of a term that has the prefix, or NULL when past the cap. */
static struct sfval *
search_facet_value(struct sfcount *fc, const char *term, size_t len)
{
	struct sfval	 key, *v;
	char		 buf[IX_TERM_MAX + 1];

	len -= fc->c_plen;
	memcpy(buf, term + fc->c_plen, len);
	buf[len] = '\0';
	key.v_value = buf;
	if ((v = RB_FIND(sfvals, &fc->c_vals, &key)) != NULL)
		return (v);
	if (fc->c_nvals == SEARCH_FACET_VALUES) {
		fc->c_estimated = 1;
		return (NULL);
	}
	v = xcalloc(1, sizeof(*v));
	v->v_value = xstrdup(buf);
	RB_INSERT(sfvals, &fc->c_vals, v);
	fc->c_nvals++;
	return (v);
}

/* Does the term carry the field's prefix? */
static int
search_facet_has(const struct sfcount *fc, const void *term, size_t len)
{
	return (len >= fc->c_plen && len <= IX_TERM_MAX &&
	    memcmp(term, fc->c_prefix, fc->c_plen) == 0);
}

/*
 * The postings of one value in the block store that are in the set: the
 * value's cursor and the set's iterator leap over each other, so that a
 * few matches seek a long list, and a long one reads a short list,
 * without decoding the blocks in between.  0, or -1 if a block is
 * damaged.
 */
static int
search_facet_leap(struct sfcount *fc, struct ixbcur *bc, struct sfval *v)
{
	roaring_uint32_iterator_t	 it;
	int				 rv;

	roaring_init_iterator(fc->c_set, &it);
	while (it.has_value) {
		if (search_facet_late(fc))
			return (0);
		if ((rv = ixbcur_seek(bc, it.current_value)) != 1)
			return (rv);
		if (bc->bc_cid == it.current_value) {
			v->v_count++;
			roaring_advance_uint32_iterator(&it);
		} else
			roaring_move_uint32_iterator_equalorlarger(&it,
			    bc->bc_cid);
	}
	return (0);
}

/* The field's values in the block store, below the folded mark. */
static int
search_facet_blocks(MDB_txn *txn, struct index *ix, uint32_t folded,
    struct sfcount *fc)
{
	struct ixbcur	 bc;
	struct sfval	*v;
	MDB_cursor	*c;
	MDB_val		 k, d;
	char		 term[IX_TERM_MAX + 1];
	size_t		 len;
	int		 rc, rv;

	if (folded == 0)
		return (0);
	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_TERMS), &c)) != 0)
		return (rc);
	k.mv_size = fc->c_plen;
	k.mv_data = fc->c_prefix;
	for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
		if (!search_facet_has(fc, k.mv_data, k.mv_size))
			break;
		/* The cursor below moves in the same txn: copy the key. */
		len = k.mv_size;
		memcpy(term, k.mv_data, len);
		if ((v = search_facet_value(fc, term, len)) == NULL)
			continue;
		if ((rv = ixbcur_open(&bc, txn, ix, term, len, folded)) == 1)
			rv = search_facet_leap(fc, &bc, v);
		ixbcur_close(&bc);
		if (rv == -1) {
			rc = MDB_CORRUPTED;
			break;
		}
		if (search_facet_late(fc))
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND || rc == 0 ? 0 : rc);
}

/* The field's values in one segment. */
static int
search_facet_seg(struct sfcount *fc, const struct ixseg *seg)
{
	struct ixpost	 p;
	struct sfval	*v;
	const char	*t;
	uint32_t	 i;
	size_t		 n;
	int		 rv;

	for (i = ixseg_lower(seg, fc->c_prefix, fc->c_plen);
	    i < seg->s_hdr->h_nterms; i++) {
		t = ixseg_term(seg, i, &n);
		if (!search_facet_has(fc, t, n))
			break;
		if ((v = search_facet_value(fc, t, n)) == NULL)
			continue;
		ixpost_init(&p, seg, i);
		while ((rv = ixpost_next(&p)) == 1) {
			if (roaring_bitmap_contains(fc->c_set, p.p_cid))
				v->v_count++;
			if (search_facet_late(fc))
				return (0);
		}
		if (rv == -1)
			return (MDB_CORRUPTED);
	}
	return (0);
}

static int
search_facet_segs(MDB_txn *txn, struct index *ix, struct sfcount *fc)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct ixseg	 seg;
	int		 rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, index_dbi(ix, IDB_SEGS), &c)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (search_facet_late(fc))
			break;
		if (ixseg_open(&seg, v.mv_data, v.mv_size) == -1)
			continue;	/* search_segments logs it */
		if ((rc = search_facet_seg(fc, &seg)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND || rc == 0 ? 0 : rc);
}

static int
search_facet_valcmp(const void *a, const void *b)
{
	const struct sfval	*x = *(const struct sfval *const *)a;
	const struct sfval	*y = *(const struct sfval *const *)b;

	if (x->v_count != y->v_count)
		return (x->v_count > y->v_count ? -1 : 1);
	return (strcmp(x->v_value, y->v_value));
}

/* The n best values into sf; the tree is emptied. */
static void
search_facet_top(struct sfcount *fc, size_t n, struct search_facet *sf)
{
	struct sfval	**all, *v, *next;
	size_t		 i, nall = 0;

	all = xcalloc(fc->c_nvals > 0 ? fc->c_nvals : 1, sizeof(*all));
	for (v = RB_MIN(sfvals, &fc->c_vals); v != NULL; v = next) {
		next = RB_NEXT(sfvals, &fc->c_vals, v);
		RB_REMOVE(sfvals, &fc->c_vals, v);
		if (v->v_count > 0)
			all[nall++] = v;
		else {
			free(v->v_value);
			free(v);
		}
	}
	qsort(all, nall, sizeof(*all), search_facet_valcmp);
	sf->sf_n = nall < n ? nall : n;
	sf->sf_v = xcalloc(sf->sf_n > 0 ? sf->sf_n : 1, sizeof(*sf->sf_v));
	for (i = 0; i < nall; i++) {
		if (i < sf->sf_n) {
			sf->sf_v[i].fv_value = all[i]->v_value;
			sf->sf_v[i].fv_count = all[i]->v_count;
		} else
			free(all[i]->v_value);
		free(all[i]);
	}
	free(all);
}

/*
 * The top n values of field among the chunks of set, into sf; folded
 * is the block store's mark, deadline a monotonic time in ms (0: none).
 * 0, or an LMDB error (sf is then empty).  sf_estimated is set if a
 * bound cut the counting short; the caller also sets it when the set
 * is not every match.
 */
int
search_facet_count(MDB_txn *txn, struct index *ix, uint32_t folded,
    const struct roaring_bitmap_s *set, const char *field, size_t n,
    uint64_t deadline, struct search_facet *sf)
{
	struct sfcount	 fc;
	int		 rc;

	memset(sf, 0, sizeof(*sf));
	strlcpy(sf->sf_field, field, sizeof(sf->sf_field));
	memset(&fc, 0, sizeof(fc));
	RB_INIT(&fc.c_vals);
	fc.c_set = set;
	fc.c_deadline = deadline;
	fc.c_prefix[0] = IX_FILTER;
	fc.c_plen = 1 + strlcpy(fc.c_prefix + 1, field,
	    sizeof(fc.c_prefix) - 2);
	if (fc.c_plen > sizeof(fc.c_prefix) - 2)
		fc.c_plen = sizeof(fc.c_prefix) - 2;
	fc.c_prefix[fc.c_plen++] = '=';
	fc.c_prefix[fc.c_plen] = '\0';
	if ((rc = search_facet_blocks(txn, ix, folded, &fc)) == 0)
		rc = search_facet_segs(txn, ix, &fc);
	search_facet_top(&fc, rc == 0 ? n : 0, sf);
	sf->sf_estimated = fc.c_estimated;
	return (rc);
}

/*
 * The first chunk of each document of the chunks in set, read from the
 * chunk records (a document's chunks have consecutive cids, so its first
 * is the cid less the chunk's index).  A new bitmap, or NULL on an LMDB
 * error in *rc; *cut is set if the deadline left some chunks out.
 */
struct roaring_bitmap_s *
search_facet_docs(MDB_txn *txn, struct index *ix,
    const struct roaring_bitmap_s *set, uint64_t deadline, int *cut, int *rc)
{
	roaring_uint32_iterator_t	 it;
	roaring_bitmap_t		*docs;
	struct ixchunk			 ck;
	uint64_t			 docid;
	uint32_t			 steps = 0;
	uint8_t				 kb[4];
	MDB_val				 k = { 4, kb }, v;

	*cut = 0;
	*rc = 0;
	docs = roaring_bitmap_create();
	for (roaring_init_iterator(set, &it); it.has_value;
	    roaring_advance_uint32_iterator(&it)) {
		if (deadline != 0 && (++steps & 1023) == 0 &&
		    util_mono_ms() >= deadline) {
			*cut = 1;
			break;
		}
		util_put_be32(kb, it.current_value);
		if ((*rc = mdb_get(txn, index_dbi(ix, IDB_CHUNKS), &k, &v)) ==
		    MDB_NOTFOUND)
			continue;
		if (*rc == 0)
			*rc = ixrec_chunk_decode(txn, ix, v.mv_data, v.mv_size,
			    &docid, &ck, NULL);
		if (*rc != 0) {
			roaring_bitmap_free(docs);
			return (NULL);
		}
		if (ck.ck_index <= it.current_value)
			roaring_bitmap_add(docs, it.current_value -
			    ck.ck_index);
	}
	*rc = 0;
	return (docs);
}

void
search_facet_free(struct search_facet *sf)
{
	size_t	 i;

	for (i = 0; i < sf->sf_n; i++)
		free(sf->sf_v[i].fv_value);
	free(sf->sf_v);
	sf->sf_v = NULL;
	sf->sf_n = 0;
}
