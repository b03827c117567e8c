/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's home records (quire_docs): the host each
 * document lives on, written by acks, read by enqueues, by workers, by
 * a delete over HTTP and by a host reconciling its index at its start.
 *
 * Home hosts.  An ack writes, in its transaction, the home records of
 * the documents its jobs indexed (queue_docs hands them to the next
 * ack; one statement over arrays): a new document's home is the acking
 * host; a known one keeps its home (another host's record is never
 * taken over); a document deleted on its home loses its record.  An
 * enqueue gives a job whose document the job names (a file's path or
 * given id, an upload's id; see qpg_docid) that document's home, if it
 * has one, or the home the caller pins it to (qn_home: a record found
 * at parse time to be another host's).  A claim takes, per tenant and
 * priority, the oldest jobs of any host and the oldest pinned to its
 * own, two index scans; a pinned job whose host is dead waits for it.
 * queue_pg_foreign (a worker, for the documents of a batch before its
 * commit; a host reconciling its index at start, home.c) and
 * queue_pg_doc_home (a delete over HTTP) read the records.  An enqueue
 * reads a home record FOR SHARE, so that a move of the document (which
 * updates the record) and the pin of a job to its old home are never
 * both missed: one waits for the other's commit.  A pin to a host that
 * is drained (qn_home) is dropped, its host's row read FOR KEY SHARE
 * against the drain's end (FOR UPDATE).
 *
 * The ack of a move (qpg_moves) is a step of a drain: see
 * queue_pg_drain.c.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

/* The next ack's documents: see queue_docs. */
int
qpg_docs(struct queue *q, const struct queue_doc *docs, size_t n)
{
	if (q->q_pg == NULL)
		return (QUEUE_ERROR);
	q->q_pg->p_docs = docs;
	q->q_pg->p_ndocs = n;
	return (0);
}

/*
 * Run sql, whose $1 and $2 are the tenants and external ids of
 * docs[0..n) as arrays (unnested WITH ORDINALITY, a document's place
 * from 1) and $3 is host, with out[0..n) cleared for its answer: as
 * qpg_q.
 */
int
qpg_docs_q(struct qpg_tx *t, const char *sql, const struct queue_doc *docs,
    size_t n, const char *host, uint8_t *out, PGresult **r)
{
	struct qpg_args	 a;
	struct buf	 tenants, extids;
	size_t		 i;
	int		 rc;

	buf_init(&tenants);
	buf_init(&extids);
	for (i = 0; i < n; i++) {
		out[i] = 0;
		qpg_arr_bytes(&tenants, docs[i].qd_tenant, JOB_TENANT_MAX);
		qpg_arr_bytes(&extids, docs[i].qd_extid, IX_EXTID_MAX);
	}
	qa_init(&a);
	qa_str(&a, qpg_arr_end(&tenants));
	qa_str(&a, qpg_arr_end(&extids));
	qa_bin(t, &a, host);
	rc = qpg_q(t, sql, &a, r);
	buf_free(&tenants);
	buf_free(&extids);
	return (rc);
}

/*
 * The moves among the documents of the acked jobs (acked[0..n), sorted):
 * this host becomes the home of each whose home was the drained host,
 * or that had none; then, in a statement of its own, so that its
 * snapshot sees the enqueues that the records' locks waited for, the
 * jobs pinned to the drained host for those documents are pinned here.
 * A move whose document has another home does nothing.
 */
static int
qpg_moves(struct qpg_tx *t, const uint64_t *acked, size_t n)
{
	const struct queue_doc *d;
	struct qpg_args	 a, b;
	struct buf	 col[5];
	PGresult	*r;
	size_t		 i, any = 0;
	int		 k, rc = 0;

	for (k = 0; k < 5; k++)
		buf_init(&col[k]);
	for (i = 0; i < t->t_pg->p_ndocs; i++) {
		d = &t->t_pg->p_docs[i];
		if (d->qd_away == NULL || d->qd_deleted ||
		    bsearch(&d->qd_job, acked, n, sizeof(*acked),
		    qpg_idcmp) == NULL)
			continue;
		qpg_arr_bytes(&col[0], d->qd_tenant, JOB_TENANT_MAX);
		qpg_arr_bytes(&col[1], d->qd_extid, IX_EXTID_MAX);
		qpg_arr_i64(&col[2], (int64_t)d->qd_hash);
		qpg_arr_i64(&col[3], d->qd_job);
		qpg_arr_bytes(&col[4], d->qd_away, QPG_HOST_MAX);
		any++;
	}
	if (any == 0)
		goto out;
	qa_init(&a);
	for (k = 0; k < 5; k++)
		qa_str(&a, qpg_arr_end(&col[k]));
	qa_bin(t, &a, t->t_pg->p_host);
	/* The third statement's: the arrays and the host, not the time. */
	b = a;
	qa_u64(&a, t->t_now);
#define QPG_MOVES_U \
	"WITH u AS (SELECT DISTINCT ON (tenant, extid) tenant, extid, " \
	"hash, job, away FROM unnest($1::bytea[], $2::bytea[], " \
	"$3::bigint[], $4::bigint[], $5::bytea[]) WITH ORDINALITY AS " \
	"u(tenant, extid, hash, job, away, n) ORDER BY tenant, extid, " \
	"n DESC) "
	if ((rc = qpg_q(t, QPG_MOVES_U "UPDATE quire_docs d SET home = $6, "
	    "hash = u.hash, job = u.job, updated = $7 FROM u WHERE "
	    "d.tenant = u.tenant AND d.extid = u.extid AND d.home = u.away",
	    &a, NULL)) != 0 ||
	    (rc = qpg_q(t, QPG_MOVES_U "INSERT INTO quire_docs (tenant, extid, "
	    "home, hash, job, updated) SELECT tenant, extid, $6, hash, job, $7 "
	    "FROM u ON CONFLICT (tenant, extid) DO NOTHING", &a, NULL)) != 0)
		goto out;
	if ((rc = qpg_q(t, QPG_MOVES_U "UPDATE quire_jobs j SET home = $6 "
	    "FROM u WHERE j.home = u.away AND j.tenant = u.tenant AND "
	    "j.docid = u.extid AND j.state IN (0, 2, 4) AND EXISTS (SELECT 1 "
	    "FROM quire_docs d WHERE d.tenant = u.tenant AND "
	    "d.extid = u.extid AND d.home = $6 AND d.job = u.job)", &b,
	    &r)) != 0)
		goto out;
#undef QPG_MOVES_U
	if (strtoull(PQcmdTuples(r), NULL, 10) > 0)
		t->t_notify = 1;
	PQclear(r);
out:
	for (k = 0; k < 5; k++)
		buf_free(&col[k]);
	return (rc);
}

/* Documents by tenant and external id, then as the batch had them. */
static int
qpg_doccmp(const void *a, const void *b)
{
	const struct queue_doc *const *x = a, *const *y = b;
	int	 c;

	if ((c = strcmp((*x)->qd_tenant, (*y)->qd_tenant)) != 0 ||
	    (c = strcmp((*x)->qd_extid, (*y)->qd_extid)) != 0)
		return (c);
	return (*x < *y ? -1 : *x > *y);
}

/*
 * The home records of the documents of the acked jobs (acked[0..n),
 * sorted): a document indexed gets this host as its home, or keeps the
 * home it has (another host's record is never taken over: reconciling
 * at that host's start decides); a document deleted here loses its
 * record.  The last word on a document in the batch is the one that
 * counts: the documents are sorted here, by (tenant, external id) and
 * then in the batch's order, and the last of each kept, so that the
 * server neither sorts nor removes duplicates, and the records are
 * written in the order of their primary key.  One statement for the
 * documents indexed, and one more only when some were deleted.
 */
int
qpg_homes(struct qpg_tx *t, const uint64_t *acked, size_t n)
{
	const struct queue_doc *d, **v;
	struct qpg_args	 a;
	struct buf	 col[4], del[2];
	size_t		 i, nv = 0, nput = 0, ndel = 0;
	int		 k, rc = 0;

	v = xcalloc(t->t_pg->p_ndocs + 1, sizeof(*v));
	for (i = 0; i < t->t_pg->p_ndocs; i++) {
		d = &t->t_pg->p_docs[i];
		if (d->qd_away == NULL && bsearch(&d->qd_job, acked, n,
		    sizeof(*acked), qpg_idcmp) != NULL)
			v[nv++] = d;
	}
	qsort(v, nv, sizeof(*v), qpg_doccmp);
	for (k = 0; k < 4; k++)
		buf_init(&col[k]);
	for (k = 0; k < 2; k++)
		buf_init(&del[k]);
	for (i = 0; i < nv; i++) {
		d = v[i];
		if (i + 1 < nv && strcmp(d->qd_tenant, v[i + 1]->qd_tenant) ==
		    0 && strcmp(d->qd_extid, v[i + 1]->qd_extid) == 0)
			continue;
		if (d->qd_deleted) {
			qpg_arr_bytes(&del[0], d->qd_tenant, JOB_TENANT_MAX);
			qpg_arr_bytes(&del[1], d->qd_extid, IX_EXTID_MAX);
			ndel++;
			continue;
		}
		qpg_arr_bytes(&col[0], d->qd_tenant, JOB_TENANT_MAX);
		qpg_arr_bytes(&col[1], d->qd_extid, IX_EXTID_MAX);
		qpg_arr_i64(&col[2], (int64_t)d->qd_hash);
		qpg_arr_i64(&col[3], d->qd_job);
		nput++;
	}
	if (ndel > 0) {
		qa_init(&a);
		for (k = 0; k < 2; k++)
			qa_str(&a, qpg_arr_end(&del[k]));
		qa_bin(t, &a, t->t_pg->p_host);
		rc = qpg_q(t, "DELETE FROM quire_docs d USING "
		    "unnest($1::bytea[], $2::bytea[]) AS u(tenant, extid) "
		    "WHERE d.tenant = u.tenant AND d.extid = u.extid AND "
		    "d.home = $3", &a, NULL);
	}
	if (rc == 0 && nput > 0) {
		qa_init(&a);
		for (k = 0; k < 4; k++)
			qa_str(&a, qpg_arr_end(&col[k]));
		qa_bin(t, &a, t->t_pg->p_host);
		qa_u64(&a, t->t_now);
		rc = qpg_q(t, "INSERT INTO quire_docs AS d (tenant, extid, "
		    "home, hash, job, updated) SELECT tenant, extid, $5, hash, "
		    "job, $6 FROM unnest($1::bytea[], $2::bytea[], "
		    "$3::bigint[], $4::bigint[]) AS u(tenant, extid, hash, "
		    "job) ON CONFLICT (tenant, extid) DO UPDATE SET "
		    "hash = excluded.hash, job = excluded.job, "
		    "updated = excluded.updated WHERE d.home = excluded.home",
		    &a, NULL);
	}
	for (k = 0; k < 4; k++)
		buf_free(&col[k]);
	for (k = 0; k < 2; k++)
		buf_free(&del[k]);
	free(v);
	if (rc == 0)
		rc = qpg_moves(t, acked, n);
	return (rc);
}

struct qpg_home_arg {
	char		*ha_tenant;
	size_t		 ha_tlen;
	const char	*ha_extid;
	char		*ha_home;
	size_t		 ha_len;
	int		 ha_found;
};

static int
qpg_home_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_home_arg	*ha = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ha->ha_tenant[0] != '\0' ? ha->ha_tenant : NULL);
	qa_bin(t, &a, ha->ha_extid);
	if ((rc = qpg_q(t, "SELECT home, tenant FROM quire_docs WHERE "
	    "($1::bytea IS NULL OR tenant = $1) AND extid = $2 "
	    "ORDER BY tenant LIMIT 1", &a, &r)) != 0)
		return (rc);
	ha->ha_found = PQntuples(r) > 0;
	if (ha->ha_found) {
		qpg_text(ha->ha_home, ha->ha_len, r, 0, 0);
		qpg_text(ha->ha_tenant, ha->ha_tlen, r, 0, 1);
	}
	PQclear(r);
	return (0);
}

/*
 * A document's home host into home: 0, QUEUE_ENOENT when it has none
 * (never indexed and acked on any host), or an error.  The tenant is
 * the document's, or "" for any (then the first, by name, that has the
 * id; the tenant found is written back).
 */
int
queue_pg_doc_home(struct queue *q, char *tenant, size_t tlen,
    const char *extid, char *home, size_t len)
{
	struct qpg_home_arg	 ha;
	int			 rc;

	if (q->q_pg == NULL)
		return (QUEUE_ENOENT);
	memset(&ha, 0, sizeof(ha));
	ha.ha_tenant = tenant;
	ha.ha_tlen = tlen;
	ha.ha_extid = extid;
	ha.ha_home = home;
	ha.ha_len = len;
	/* Once per record a worker reads: one round trip. */
	if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_home_txn, &ha)) != 0)
		return (rc);
	return (ha.ha_found ? 0 : QUEUE_ENOENT);
}

struct qpg_foreign_arg {
	const struct queue_doc *fa_docs;
	size_t		 fa_n;
	uint8_t		*fa_out;
	char		(*fa_homes)[QUEUE_HOST_MAX + 1];
};

static int
qpg_foreign_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_foreign_arg	*fa = arg;
	PGresult		*r;
	uint64_t		 n;
	int			 k, rc;

	if ((rc = qpg_docs_q(t, "SELECT u.n, d.home FROM unnest($1::bytea[], "
	    "$2::bytea[]) "
	    "WITH ORDINALITY AS u(tenant, extid, n) JOIN quire_docs d ON "
	    "d.tenant = u.tenant AND d.extid = u.extid WHERE d.home <> $3",
	    fa->fa_docs, fa->fa_n, t->t_pg->p_host, fa->fa_out, &r)) != 0)
		return (rc);
	for (k = 0; k < PQntuples(r); k++) {
		if ((n = qpg_u64(r, k, 0)) < 1 || n > fa->fa_n)
			continue;
		fa->fa_out[n - 1] = 1;
		if (fa->fa_homes != NULL)
			qpg_text(fa->fa_homes[n - 1], sizeof(fa->fa_homes[0]),
			    r, k, 1);
	}
	PQclear(r);
	return (0);
}

/*
 * Which of docs[0..n) (tenant and external id) have their home on
 * another host: foreign[i] set for those, and, unless homes is NULL,
 * homes[i] that host.  One statement.
 */
int
queue_pg_foreign(struct queue *q, const struct queue_doc *docs, size_t n,
    uint8_t *foreign, char (*homes)[QUEUE_HOST_MAX + 1])
{
	struct qpg_foreign_arg	 fa;

	if (q->q_pg == NULL) {
		memset(foreign, 0, n);
		return (0);
	}
	fa.fa_docs = docs;
	fa.fa_n = n;
	fa.fa_out = foreign;
	fa.fa_homes = homes;
	return (qpg_run(q, __func__, QPG_ONE, qpg_foreign_txn, &fa));
}
