/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The top n of a search: documents by default, chunks with --chunks
 * (st_chunks).
 *
 * Search scores chunks; a document scores as its best chunk, and among
 * chunks of one score the older (lower cid) is the better, so that a
 * document's key is its best chunk's key (score, cid) and the n best
 * documents are those with the n best keys.  The entries are kept in a
 * heap with the worst on top; its key is the threshold a chunk must
 * beat to change the top n (search_top_takes).  A chunk that does not
 * beat it cannot: its document, if in the top, has a better chunk
 * already; if not, the chunk would not lift it above the n-th.  So the
 * pruned walks (search_block.c, search_seg.c) skip chunks against the
 * n-th best document exactly as they did against the n-th best chunk,
 * and find the same documents as --exact.
 *
 * A document's chunks have consecutive cids (the docs record holds its
 * first cid and their number), so an entry covers a cid range: a chunk
 * that beats the threshold is looked up among the entries by its cid
 * first (a tree by first cid), and only when no entry covers it are its
 * chunk record (its docid) and document record (its range) read.  An
 * entry pushed out of the top and later beaten back in starts again
 * from the chunk that brought it back, which is then its best: every
 * chunk it had was at most the threshold it fell below, and thresholds
 * only rise.  With --chunks an entry is one chunk and nothing is read.
 *
 * te_matches counts chunks found matching within an entry's range; it
 * means something only after search_top_count was called for each
 * chunk of a second, exact pass over the top's ranges (search.c).
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"

static int
search_top_cmp(const struct search_tent *a, const struct search_tent *b)
{
	return (a->te_first < b->te_first ? -1 : a->te_first > b->te_first);
}

RB_GENERATE_STATIC(search_ttree, search_tent, te_node, search_top_cmp)

/* Is key (score a, cid x) worse than (b, y)? */
static int
search_top_worse(double a, uint32_t x, double b, uint32_t y)
{
	if (a != b)
		return (a < b);
	return (x > y);
}

static int
search_top_entworse(const struct search_tent *a, const struct search_tent *b)
{
	return (search_top_worse(a->te_score, a->te_cid, b->te_score,
	    b->te_cid));
}

void
search_top_init(struct search_top *st, size_t k, int chunks)
{
	size_t	 i;

	memset(st, 0, sizeof(*st));
	st->st_k = k;
	st->st_chunks = chunks;
	st->st_ent = xcalloc(k > 0 ? k : 1, sizeof(*st->st_ent));
	st->st_heap = xcalloc(k > 0 ? k : 1, sizeof(*st->st_heap));
	for (i = 0; i < k; i++)
		st->st_heap[i] = &st->st_ent[i];
	RB_INIT(&st->st_tree);
}

void
search_top_free(struct search_top *st)
{
	free(st->st_ent);
	free(st->st_heap);
	st->st_ent = NULL;
	st->st_heap = NULL;
	st->st_n = st->st_k = 0;
}

/* Would a chunk of this score change the top? */
int
search_top_takes(const struct search_top *st, uint32_t cid, double score)
{
	const struct search_tent *w;

	if (st->st_n < st->st_k)
		return (1);
	if (st->st_k == 0)
		return (0);
	w = st->st_heap[0];
	return (search_top_worse(w->te_score, w->te_cid, score, cid));
}

/* The score to beat, or -1 while the top is not full. */
double
search_top_theta(const struct search_top *st)
{
	if (st->st_n < st->st_k || st->st_k == 0)
		return (-1.0);
	return (st->st_heap[0]->te_score);
}

static void
search_top_swap(struct search_top *st, size_t i, size_t j)
{
	struct search_tent	*t;

	t = st->st_heap[i];
	st->st_heap[i] = st->st_heap[j];
	st->st_heap[j] = t;
	st->st_heap[i]->te_pos = i;
	st->st_heap[j]->te_pos = j;
}

static void
search_top_down(struct search_top *st, size_t i)
{
	size_t	 c, n = st->st_n;

	for (;;) {
		c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && search_top_entworse(st->st_heap[c + 1],
		    st->st_heap[c]))
			c++;
		if (!search_top_entworse(st->st_heap[c], st->st_heap[i]))
			break;
		search_top_swap(st, i, c);
		i = c;
	}
}

static void
search_top_up(struct search_top *st, size_t i)
{
	while (i > 0 && search_top_entworse(st->st_heap[i],
	    st->st_heap[(i - 1) / 2])) {
		search_top_swap(st, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* The entry whose range holds cid, or NULL. */
struct search_tent *
search_top_find(struct search_top *st, uint32_t cid)
{
	struct search_tent	 key, *e;

	key.te_first = cid;
	if ((e = RB_NFIND(search_ttree, &st->st_tree, &key)) != NULL &&
	    e->te_first == cid)
		return (e);
	e = e != NULL ? RB_PREV(search_ttree, &st->st_tree, e) :
	    RB_MAX(search_ttree, &st->st_tree);
	if (e != NULL && cid - e->te_first < e->te_nchunks)
		return (e);
	return (NULL);
}

/*
 * The cid range of the chunk's document: 0, MDB_NOTFOUND when the
 * chunk or its document has no record (a chunk whose document went
 * away: search_fill would drop it too), or an LMDB error.
 */
static int
search_top_range(MDB_txn *txn, struct index *ix, uint32_t cid,
    uint64_t *docid, uint32_t *first, uint32_t *n)
{
	struct ixchunk	 ck;
	struct ixdoc	 d;
	uint8_t		 kb[8];
	MDB_val		 k = { 4, kb }, v;
	int		 rc;

	util_put_be32(kb, cid);
	if ((rc = mdb_get(txn, index_dbi(ix, IDB_CHUNKS), &k, &v)) != 0)
		return (rc);
	if ((rc = ixrec_chunk_decode(txn, ix, v.mv_data, v.mv_size, docid,
	    &ck, NULL)) != 0)
		return (rc);
	util_put_be64(kb, *docid);
	k.mv_size = 8;
	if ((rc = mdb_get(txn, index_dbi(ix, IDB_DOCS), &k, &v)) != 0)
		return (rc);
	if (index_doc_decode(v.mv_data, v.mv_size, &d) == -1)
		return (MDB_CORRUPTED);
	if (d.d_cid > cid || cid - d.d_cid >= d.d_nchunks ||
	    d.d_nchunks == 0)
		return (MDB_CORRUPTED);
	*first = d.d_cid;
	*n = d.d_nchunks;
	return (0);
}

/*
 * A chunk the top takes: its entry raised, or a new entry for its
 * document.
 */
static int
search_top_enter(struct search_top *st, MDB_txn *txn, struct index *ix,
    uint32_t cid, double score)
{
	struct search_tent	*e;
	uint64_t		 docid = cid;
	uint32_t		 first = cid, n = 1;
	int			 rc;

	if ((e = search_top_find(st, cid)) != NULL) {
		if (search_top_worse(e->te_score, e->te_cid, score, cid)) {
			e->te_score = score;
			e->te_cid = cid;
			search_top_down(st, e->te_pos);
		}
		return (0);
	}
	if (!st->st_chunks && (rc = search_top_range(txn, ix, cid, &docid,
	    &first, &n)) != 0)
		return (rc == MDB_NOTFOUND ? 0 : rc);
	if (st->st_n == st->st_k) {
		e = st->st_heap[0];
		RB_REMOVE(search_ttree, &st->st_tree, e);
	} else {
		e = st->st_heap[st->st_n];
		e->te_pos = st->st_n++;
	}
	e->te_docid = docid;
	e->te_first = first;
	e->te_nchunks = n;
	e->te_cid = cid;
	e->te_score = score;
	e->te_bonus = 0.0;
	e->te_matches = 0;
	RB_INSERT(search_ttree, &st->st_tree, e);
	if (e->te_pos == 0 && st->st_n == st->st_k)
		search_top_down(st, 0);
	else
		search_top_up(st, e->te_pos);
	return (0);
}

/*
 * Offer a matching chunk: most do not beat the threshold, and return
 * at once.  0, or an LMDB error reading the records (MDB_NOTFOUND is
 * not one: the chunk is passed over).
 */
int
search_top_push(struct search_top *st, MDB_txn *txn, struct index *ix,
    uint32_t cid, double score)
{
	if (!search_top_takes(st, cid, score))
		return (0);
	return (search_top_enter(st, txn, ix, cid, score));
}

/* Count a chunk of the second pass for the entry that holds it. */
void
search_top_count(struct search_top *st, uint32_t cid)
{
	struct search_tent	*e;

	if ((e = search_top_find(st, cid)) != NULL)
		e->te_matches++;
}

static int
search_top_sortcmp(const void *a, const void *b)
{
	const struct search_tent *x = *(const struct search_tent *const *)a;
	const struct search_tent *y = *(const struct search_tent *const *)b;

	if (search_top_entworse(x, y))
		return (1);
	return (search_top_entworse(y, x) ? -1 : 0);
}

/* Best first in st_heap[0 .. st_n - 1]; the heap is no more. */
void
search_top_sort(struct search_top *st)
{
	qsort(st->st_heap, st->st_n, sizeof(*st->st_heap),
	    search_top_sortcmp);
}
