/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Reconciling this host's index with the documents' home hosts, at the
 * supervisor's start on the PostgreSQL queue.
 *
 * A host that was killed, or lost the database for longer than
 * host-expiry, had its leases released to the others; it may have
 * committed some of those jobs' documents to its own index without
 * acking them, and the host that ran the jobs again indexed them too
 * and, acking, became their home.  A later version or a delete went
 * to the home host only.  So at start, before any worker runs, every
 * document of this index is looked up in the home records, in pages
 * of HOME_PAGE, and those whose home is another host are deleted from
 * this index, a page's in one transaction: no document stays in two
 * indexes.  A document with no
 * home record (indexed here, its job never acked anywhere yet) stays:
 * whichever host acks its job becomes its home, and if that is another
 * host, this one drops it at its next start.
 *
 * A host that drains (drain.c) has its index reconciled the same way,
 * round after round, by the drain, which also deletes the documents
 * that a move away from it brought to another host, whose home record
 * may be gone since (a delete there): queue_pg_drain_gone.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"

#define HOME_PAGE	512	/* documents per look-up */

struct home_page {
	struct queue_doc	 hp_docs[HOME_PAGE];
	char			 hp_tenant[HOME_PAGE][JOB_TENANT_MAX + 1];
	char			 hp_extid[HOME_PAGE][IX_EXTID_MAX + 1];
	uint8_t			 hp_foreign[HOME_PAGE];
	const char		*hp_gone[HOME_PAGE];
	size_t			 hp_n;
};

static int
home_doc(const struct ixdoc *d, void *arg)
{
	struct home_page	*hp = arg;
	struct queue_doc	*qd;

	if (hp->hp_n == HOME_PAGE)
		return (-1);
	qd = &hp->hp_docs[hp->hp_n];
	memset(qd, 0, sizeof(*qd));
	strlcpy(hp->hp_tenant[hp->hp_n], d->d_tenant,
	    sizeof(hp->hp_tenant[0]));
	strlcpy(hp->hp_extid[hp->hp_n], d->d_extid, sizeof(hp->hp_extid[0]));
	qd->qd_tenant = hp->hp_tenant[hp->hp_n];
	qd->qd_extid = hp->hp_extid[hp->hp_n];
	qd->qd_hash = d->d_hash;
	hp->hp_n++;
	return (0);
}

/*
 * Delete from ix the documents whose home is another host, and, if
 * drained is not NULL, those moved away from that host; their count in
 * *deleted.  0, or -1 (logged) when the index or the queue failed: what
 * was deleted so far stays deleted.
 */
static int
home_pages(struct queue *q, struct index *ix, const char *drained,
    uint64_t *deleted)
{
	struct home_page	*hp;
	uint64_t		 after = 0, n;
	size_t			 i, ngone;
	int			 more, rc;

	*deleted = 0;
	hp = xcalloc(1, sizeof(*hp));
	do {
		hp->hp_n = 0;
		if ((more = index_docs_page(ix, &after, HOME_PAGE, home_doc,
		    hp)) == -1)
			break;
		if (hp->hp_n == 0)
			break;
		if ((rc = drained != NULL ? queue_pg_drain_gone(q, drained,
		    hp->hp_docs, hp->hp_n, hp->hp_foreign) :
		    queue_pg_foreign(q, hp->hp_docs, hp->hp_n,
		    hp->hp_foreign, NULL)) != 0) {
			log_warnx("%s: the home records: %s", __func__,
			    queue_strerror(rc));
			more = -1;
			break;
		}
		for (i = ngone = 0; i < hp->hp_n; i++)
			if (hp->hp_foreign[i])
				hp->hp_gone[ngone++] = hp->hp_extid[i];
		if (index_delete_many(ix, hp->hp_gone, ngone, &n) == -1) {
			more = -1;
			break;
		}
		*deleted += n;
	} while (more == 1);
	free(hp);
	return (more == -1 ? -1 : 0);
}

/* At start: the documents of ix whose home is another host go. */
int
home_reconcile(struct queue *q, struct index *ix, uint64_t *deleted)
{
	return (home_pages(q, ix, NULL, deleted));
}

/* A drain's round: those of host name's index that moved go too. */
int
home_drained(struct queue *q, struct index *ix, const char *name,
    uint64_t *deleted)
{
	return (home_pages(q, ix, name, deleted));
}
