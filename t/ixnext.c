/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * ixnext: an index that has given out all but a few of its chunk ids,
 * for t/idsfull.sh.
 *
 *	ixnext DATADIR LEFT
 *
 * Opens DATADIR/index (creating it if need be) and moves the next chunk
 * id it gives out to 2^32 - 1 - LEFT, as if that many chunks had been
 * written: LEFT more chunks fit, and the next commit past them meets
 * "ids-full".  Nothing else in the index changes.
 */

#include <sys/types.h>

#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "quire.h"

struct ixnext {
	struct index	 n_ix;
	uint64_t	 n_next;
};

static int
ixnext_txn(MDB_txn *txn, void *arg)
{
	struct ixnext	*n = arg;
	struct ixmeta	 m;
	int		 rc;

	if ((rc = index_meta_get(txn, &n->n_ix, &m)) != 0)
		return (rc);
	if (m.m_next_cid > n->n_next)
		return (MDB_KEYEXIST);	/* more written already */
	m.m_next_cid = n->n_next;
	return (index_meta_put(txn, &n->n_ix, &m));
}

int
main(int argc, char *argv[])
{
	struct ixnext	 n;
	const char	*errstr;
	long long	 left;
	int		 rc;

	if (argc != 3) {
		fprintf(stderr, "usage: ixnext datadir left\n");
		return (2);
	}
	left = strtonum(argv[2], 0, UINT32_MAX, &errstr);
	if (errstr != NULL)
		errx(2, "left %s: %s", argv[2], errstr);
	if (index_open(&n.n_ix, argv[1], 0, STORE_SYNC_FULL) == -1)
		errx(1, "%s: cannot open the index", argv[1]);
	n.n_next = UINT32_MAX - left;
	if ((rc = store_write(&n.n_ix.ix_store, ixnext_txn, &n)) != 0)
		errx(1, "%s: %s", argv[1], rc == MDB_KEYEXIST ?
		    "more chunks written already" : mdb_strerror(rc));
	index_close(&n.n_ix);
	return (0);
}
