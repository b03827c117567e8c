/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Chunk lengths of the block store, format 2 (index_block.c): BM25 and
 * the blocks' bounds need each posting's chunk length in words, which
 * format 1 repeats in every posting.  Format 2 keeps one per chunk:
 *
 *	norms	cid / IXN_RANGE (4, big-endian) -> IXN_RANGE uint16
 *		lengths, in host order, of the chunks of that range (0 for
 *		a chunk not folded yet)
 *
 * A fold writes the lengths of its segments' chunks before any of their
 * postings (ixnorm_put), so every posting in blocks has its length here;
 * they stay when a chunk is deleted, two bytes each.  A value is read
 * where it is in the map, as an array: at 128 KB, LMDB puts it on pages
 * of its own, contiguous and page-aligned, so the pointer is good for
 * uint16 reads until the transaction ends or writes the norms database.
 * Ranges that big keep a cursor over a term's postings on one value for
 * thousands of them (ixnorm_get's test and read, in quire.h), where
 * smaller ones cost a lookup for most postings of a rare word.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"

void
ixnorm_init(struct ixnorm *nr, MDB_txn *txn, struct index *ix)
{
	memset(nr, 0, sizeof(*nr));
	nr->n_txn = txn;
	nr->n_dbi = index_dbi(ix, IDB_NORMS);
}

/*
 * The length of chunk cid into *dl, from its range's value (ixnorm_get
 * has it when it is the last one read): 0, MDB_NOTFOUND, MDB_CORRUPTED,
 * or an LMDB error.
 */
int
ixnorm_load(struct ixnorm *nr, uint32_t cid, uint32_t *dl)
{
	uint8_t	 kb[4];
	MDB_val	 k, v;
	int	 rc;

	nr->n_p = NULL;
	util_put_be32(kb, cid / IXN_RANGE);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	if ((rc = mdb_get(nr->n_txn, nr->n_dbi, &k, &v)) != 0)
		return (rc);
	if (v.mv_size != IXN_RANGE * sizeof(uint16_t) ||
	    ((uintptr_t)v.mv_data & 1) != 0)
		return (MDB_CORRUPTED);
	nr->n_p = v.mv_data;
	nr->n_range = cid / IXN_RANGE;
	*dl = nr->n_p[cid % IXN_RANGE];
	return (0);
}

/* The lengths of chunks base to base + n - 1 into norms. */
int
ixnorm_put(MDB_txn *txn, struct index *ix, uint32_t base, uint32_t n,
    const uint16_t *dls)
{
	uint16_t	*a;
	uint8_t		 kb[4];
	uint32_t	 r, lo, hi, cid = base, end = base + n;
	MDB_val		 k, v;
	int		 rc = 0;

	a = xcalloc(IXN_RANGE, sizeof(*a));
	while (cid < end) {
		r = cid / IXN_RANGE;
		lo = cid % IXN_RANGE;
		hi = end - r * IXN_RANGE < IXN_RANGE ? end - r * IXN_RANGE :
		    IXN_RANGE;
		util_put_be32(kb, r);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		rc = mdb_get(txn, index_dbi(ix, IDB_NORMS), &k, &v);
		if (rc == 0 && v.mv_size == IXN_RANGE * sizeof(*a))
			memcpy(a, v.mv_data, v.mv_size);
		else if (rc == 0 || rc == MDB_NOTFOUND)
			memset(a, 0, IXN_RANGE * sizeof(*a));
		else
			break;
		memcpy(a + lo, dls + (cid - base), (hi - lo) * sizeof(*a));
		v.mv_size = IXN_RANGE * sizeof(*a);
		v.mv_data = a;
		if ((rc = mdb_put(txn, index_dbi(ix, IDB_NORMS), &k, &v, 0))
		    != 0)
			break;
		cid = r * IXN_RANGE + hi;
	}
	free(a);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}
