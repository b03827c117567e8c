/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's enqueue: a batch of jobs in one
 * transaction, QPG_ENQ_CHUNK jobs at a time in a few statements: the
 * tenants' numbers (made at a tenant's first job), the idempotency keys
 * the queue knows already, ids from the sequence, one insert over arrays
 * of the columns, the bodies that moves carry, and the counts of the
 * spool files the jobs need (queue_pg_spool.c, which also stores an
 * upload's body in the enqueue's transaction).  A job whose document
 * has a home gets it, read FOR SHARE (queue_pg_homes.c).
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_ENQ_CHUNK		1000	/* jobs per insert of an enqueue */
#define QPG_DEFAULT_TENANT	"default"

/* The tenant's number, created at its first job. */
static int
qpg_tenant(struct qpg_tx *t, const char *name, uint32_t *tid)
{
	struct qpg_args	 a;
	uint64_t	 v;
	int		 rc, found;

	qa_init(&a);
	qa_bin(t, &a, name);
	if ((rc = qpg_q1(t, "SELECT tid FROM quire_tenants WHERE name = $1",
	    &a, &v, &found)) != 0)
		return (rc);
	if (!found && (rc = qpg_q1(t, "INSERT INTO quire_tenants (name) "
	    "VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING tid", &a, &v,
	    &found)) != 0)
		return (rc);
	/* Another transaction added it meanwhile. */
	if (!found && (rc = qpg_q1(t, "SELECT tid FROM quire_tenants WHERE "
	    "name = $1", &a, &v, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ERROR);
	*tid = v;
	return (0);
}

struct qpg_enq_arg {
	struct queue_new *ea_jobs;
	size_t		 ea_n;
};

/* The columns of an enqueue's insert, each an array literal. */
enum {
	QE_ID, QE_KEY, QE_TENANT, QE_TID, QE_PRIO, QE_STATE, QE_SIZE,
	QE_SRCKIND, QE_PATH, QE_OFF, QE_LEN, QE_LANG, QE_EXTID, QE_TITLE,
	QE_CTYPE, QE_ERROR, QE_HOME, QE_DOCID, QE_AWAY, QE_N
};

static const char *
qpg_or(const char *s)
{
	return (s != NULL ? s : "");
}

static const char *
qpg_key(const struct queue_new *qn)
{
	return (qn->qn_key != NULL && qn->qn_key[0] != '\0' ? qn->qn_key :
	    NULL);
}

/*
 * The keys of jobs[0..n) that the queue knows: those jobs are
 * duplicates of the first job of their key, their id its.
 */
static int
qpg_enq_known(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	struct qpg_args	 a;
	struct buf	 keys;
	PGresult	*r;
	char		 key[JOB_KEY_MAX + 1];
	size_t		 i;
	int		 k, rc, any = 0;

	buf_init(&keys);
	for (i = 0; i < n; i++)
		if (qpg_key(&jobs[i]) != NULL) {
			qpg_arr_bytes(&keys, jobs[i].qn_key, JOB_KEY_MAX);
			any = 1;
		}
	if (!any) {
		buf_free(&keys);
		return (0);
	}
	qa_init(&a);
	qa_str(&a, qpg_arr_end(&keys));
	rc = qpg_q(t, "SELECT idem_key, id FROM quire_jobs WHERE "
	    "idem_key = ANY($1::bytea[])", &a, &r);
	buf_free(&keys);
	if (rc != 0)
		return (rc);
	for (k = 0; k < PQntuples(r); k++) {
		qpg_text(key, sizeof(key), r, k, 0);
		for (i = 0; i < n; i++)
			if (qpg_key(&jobs[i]) != NULL && !jobs[i].qn_dup &&
			    strcmp(jobs[i].qn_key, key) == 0) {
				jobs[i].qn_id = qpg_u64(r, k, 1);
				jobs[i].qn_dup = 1;
			}
	}
	PQclear(r);
	return (0);
}

/* Whether job i's key came earlier in jobs: then it is that one's. */
static int
qpg_enq_repeat(struct queue_new *jobs, size_t i)
{
	size_t	 k;

	if (qpg_key(&jobs[i]) == NULL)
		return (0);
	for (k = 0; k < i; k++)
		if (qpg_key(&jobs[k]) != NULL &&
		    strcmp(jobs[k].qn_key, jobs[i].qn_key) == 0) {
			jobs[i].qn_id = jobs[k].qn_id;
			jobs[i].qn_dup = 1;
			return (1);
		}
	return (0);
}

/* Ids for the new jobs of jobs[0..n), from the sequence, in order. */
static int
qpg_enq_ids(struct qpg_tx *t, struct queue_new *jobs, size_t n,
    size_t *nnew)
{
	struct qpg_args	 a;
	PGresult	*r;
	uint64_t	*ids;
	size_t		 i, m = 0, k = 0;
	int		 rc;

	for (i = 0; i < n; i++)
		if (!jobs[i].qn_dup)
			m++;
	*nnew = m;
	if (m == 0)
		return (0);
	qa_init(&a);
	qa_u64(&a, m);
	if ((rc = qpg_q(t, "SELECT nextval('quire_job_id') FROM "
	    "generate_series(1, $1)", &a, &r)) != 0)
		return (rc);
	if ((size_t)PQntuples(r) != m) {
		PQclear(r);
		return (QUEUE_ERROR);
	}
	ids = xcalloc(m, sizeof(*ids));
	for (i = 0; i < m; i++)
		ids[i] = qpg_u64(r, i, 0);
	PQclear(r);
	qsort(ids, m, sizeof(*ids), qpg_idcmp);
	for (i = 0; i < n; i++)
		if (!jobs[i].qn_dup && !qpg_enq_repeat(jobs, i))
			jobs[i].qn_id = ids[k++];
	free(ids);
	*nnew = k;
	return (0);
}

/*
 * The external id a job's document will have in the index, when the
 * job names it: a file's path or the id it was given, an upload's id,
 * a delete's document, or the one the caller gives (a record's pin).
 * NULL for an NDJSON range (its records' ids are in the file), an
 * upload without an id (a new document) and a move (which goes to any
 * host but its drained one).
 */
static const char *
qpg_docid(const struct queue_new *qn, char *buf, size_t len)
{
	if (qn->qn_dead != NULL || qn->qn_srckind == SRC_MOVE)
		return (NULL);
	if (qn->qn_docid != NULL && qn->qn_docid[0] != '\0')
		index_extid(buf, len, qn->qn_docid);
	else if (qn->qn_extid != NULL && qn->qn_extid[0] != '\0' &&
	    (qn->qn_srckind == SRC_PATH || qn->qn_srckind == SRC_SPOOL ||
	    qn->qn_srckind == SRC_DELETE))
		index_extid(buf, len, qn->qn_extid);
	else if (qn->qn_srckind == SRC_PATH && qn->qn_path != NULL)
		index_extid(buf, len, qn->qn_path);
	else
		return (NULL);
	return (buf);
}

/* The new jobs of jobs[0..n) as the columns' arrays. */
static void
qpg_enq_arrays(struct queue_new *jobs, size_t n, const char **tenants,
    const uint32_t *tids, struct buf *col)
{
	struct queue_new	*qn;
	char			 docid[IX_EXTID_MAX + 1];
	size_t			 i;

	for (i = 0; i < n; i++) {
		qn = &jobs[i];
		if (qn->qn_dup)
			continue;
		qpg_arr_i64(&col[QE_ID], qn->qn_id);
		qpg_arr_bytes(&col[QE_KEY], qpg_key(qn), JOB_KEY_MAX);
		qpg_arr_bytes(&col[QE_TENANT], tenants[i], JOB_TENANT_MAX);
		qpg_arr_i64(&col[QE_TID], tids[i]);
		qpg_arr_i64(&col[QE_PRIO], qn->qn_prio);
		qpg_arr_i64(&col[QE_STATE], qn->qn_dead != NULL ? JOB_DEAD :
		    JOB_READY);
		qpg_arr_i64(&col[QE_SIZE], qn->qn_size);
		qpg_arr_i64(&col[QE_SRCKIND], qn->qn_srckind);
		qpg_arr_bytes(&col[QE_PATH], qpg_or(qn->qn_path), JOB_PATH_MAX);
		qpg_arr_i64(&col[QE_OFF], qn->qn_off);
		qpg_arr_i64(&col[QE_LEN], qn->qn_len);
		qpg_arr_bytes(&col[QE_LANG], qpg_or(qn->qn_lang), JOB_LANG_MAX);
		qpg_arr_bytes(&col[QE_EXTID], qpg_or(qn->qn_extid),
		    JOB_EXTID_MAX);
		qpg_arr_bytes(&col[QE_TITLE], qpg_or(qn->qn_title),
		    JOB_TITLE_MAX);
		qpg_arr_bytes(&col[QE_CTYPE], qpg_or(qn->qn_ctype),
		    JOB_CTYPE_MAX);
		qpg_arr_bytes(&col[QE_ERROR], qpg_or(qn->qn_dead),
		    JOB_ERROR_MAX - 1);
		qpg_arr_bytes(&col[QE_HOME], qn->qn_home != NULL &&
		    qn->qn_home[0] != '\0' ? qn->qn_home : NULL, QPG_HOST_MAX);
		qpg_arr_bytes(&col[QE_DOCID], qpg_docid(qn, docid,
		    sizeof(docid)), IX_EXTID_MAX);
		qpg_arr_bytes(&col[QE_AWAY], qn->qn_away != NULL &&
		    qn->qn_away[0] != '\0' ? qn->qn_away : NULL, QPG_HOST_MAX);
	}
}

/*
 * A new job whose key another transaction committed since
 * qpg_enq_known looked (its insert did nothing, ON CONFLICT): it and
 * its repeats in the batch are duplicates of the other's job.
 */
static int
qpg_enq_lost(struct qpg_tx *t, struct queue_new *jobs, size_t n, size_t i)
{
	struct qpg_args	 a;
	uint64_t	 old = jobs[i].qn_id, id;
	size_t		 k;
	int		 rc, found;

	qa_init(&a);
	qa_bin(t, &a, jobs[i].qn_key);
	if ((rc = qpg_q1(t, "SELECT id FROM quire_jobs WHERE idem_key = $1",
	    &a, &id, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ERROR);
	for (k = i; k < n; k++)
		if (jobs[k].qn_id == old) {
			jobs[k].qn_id = id;
			jobs[k].qn_dup = 1;
		}
	return (0);
}

/* Insert the new jobs of jobs[0..n) in one statement. */
static int
qpg_enq_insert(struct qpg_tx *t, struct queue_new *jobs, size_t n,
    const char **tenants, const uint32_t *tids)
{
	struct qpg_args	 a;
	struct buf	 col[QE_N];
	PGresult	*r;
	uint64_t	*ids;
	size_t		 i, m;
	int		 k, rc;

	for (k = 0; k < QE_N; k++)
		buf_init(&col[k]);
	qpg_enq_arrays(jobs, n, tenants, tids, col);
	qa_init(&a);
	for (k = 0; k < QE_N; k++)
		qa_str(&a, qpg_arr_end(&col[k]));
	qa_u64(&a, t->t_now);
	/*
	 * A job whose document has a home record gets the record's home (a
	 * later version, a delete), read FOR SHARE (queue_pg_homes.c); else
	 * the host it is pinned to, unless that host is drained.
	 */
	rc = qpg_q(t, "INSERT INTO quire_jobs (id, idem_key, tenant, tid, "
	    "prio, state, size, srckind, path, src_off, src_len, lang, extid, "
	    "title, ctype, error, home, docid, away, created, updated, enq) "
	    "SELECT u.id, u.k, u.tenant, u.tid, u.prio, u.st, u.size, u.kind, "
	    "u.path, u.off, u.len, u.lang, u.extid, u.title, u.ctype, u.err, "
	    "coalesce(CASE WHEN u.docid IS NOT NULL THEN (SELECT d.home FROM "
	    "quire_docs d WHERE d.tenant = u.tenant AND d.extid = u.docid "
	    "FOR SHARE) END, CASE WHEN u.home IS NOT NULL AND "
	    "coalesce((SELECT h.drained FROM quire_hosts h WHERE "
	    "h.name = u.home FOR KEY SHARE), 0) = 0 THEN u.home END), "
	    "u.docid, u.away, $20, $20, $20 "
	    "FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], "
	    "$4::integer[], $5::smallint[], $6::smallint[], $7::bigint[], "
	    "$8::smallint[], $9::bytea[], $10::bigint[], $11::bigint[], "
	    "$12::bytea[], $13::bytea[], $14::bytea[], $15::bytea[], "
	    "$16::bytea[], $17::bytea[], $18::bytea[], $19::bytea[]) AS "
	    "u(id, k, tenant, tid, prio, st, size, kind, path, off, len, lang, "
	    "extid, title, ctype, err, home, docid, away) ON CONFLICT "
	    "(idem_key) DO NOTHING RETURNING id", &a, &r);
	for (k = 0; k < QE_N; k++)
		buf_free(&col[k]);
	if (rc != 0)
		return (rc);
	m = PQntuples(r);
	ids = xcalloc(m + 1, sizeof(*ids));
	for (i = 0; i < m; i++)
		ids[i] = qpg_u64(r, i, 0);
	PQclear(r);
	qsort(ids, m, sizeof(*ids), qpg_idcmp);
	for (i = 0; i < n && rc == 0; i++)
		if (!jobs[i].qn_dup && bsearch(&jobs[i].qn_id, ids, m,
		    sizeof(*ids), qpg_idcmp) == NULL)
			rc = qpg_enq_lost(t, jobs, n, i);
	free(ids);
	return (rc);
}

/* The bodies the new jobs of jobs[0..n) carry (a move's document). */
static int
qpg_enq_bodies(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	struct qpg_args	 a;
	struct buf	 ids, bodies;
	size_t		 i, any = 0;
	int		 rc;

	buf_init(&ids);
	buf_init(&bodies);
	for (i = 0; i < n; i++) {
		if (jobs[i].qn_dup || jobs[i].qn_body == NULL)
			continue;
		qpg_arr_i64(&ids, jobs[i].qn_id);
		qpg_arr_binlen(&bodies, jobs[i].qn_body, jobs[i].qn_bodylen);
		any++;
	}
	rc = 0;
	if (any > 0) {
		qa_init(&a);
		qa_str(&a, qpg_arr_end(&ids));
		qa_str(&a, qpg_arr_end(&bodies));
		rc = qpg_q(t, "INSERT INTO quire_bodies (job, body) SELECT * "
		    "FROM unnest($1::bigint[], $2::bytea[])", &a, NULL);
	}
	buf_free(&ids);
	buf_free(&bodies);
	return (rc);
}

/* The counts, the wake-up and the spool files of the new jobs. */
static int
qpg_enq_done(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	const char	*last = NULL;
	size_t		 i, refs = 0;
	int		 rc;

	for (i = 0; i < n; i++) {
		if (jobs[i].qn_dup)
			continue;
		t->t_tot[QT_ENQUEUED]++;
		if (jobs[i].qn_dead != NULL)
			t->t_tot[QT_FAILED]++;
		else
			t->t_notify = 1;
		if (jobs[i].qn_srckind != SRC_SPOOL)
			continue;
		/* The jobs of one upload come together: one count. */
		if (last != NULL && strcmp(last, jobs[i].qn_path) == 0) {
			refs++;
			continue;
		}
		if (refs > 0 && (rc = qpg_spool_add(t, last, refs)) != 0)
			return (rc);
		last = jobs[i].qn_path;
		refs = 1;
	}
	if (refs > 0 && (rc = qpg_spool_add(t, last, refs)) != 0)
		return (rc);
	return (0);
}

/* Enqueue jobs[0..n), at most QPG_ENQ_CHUNK, in a few statements. */
static int
qpg_enq_chunk(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	const char	**tenants;
	uint32_t	*tids;
	size_t		*distinct, ndistinct = 0, i, k, nnew;
	int		 rc = 0;

	tenants = xcalloc(n, sizeof(*tenants));
	tids = xcalloc(n, sizeof(*tids));
	distinct = xcalloc(n, sizeof(*distinct));
	for (i = 0; i < n && rc == 0; i++) {
		jobs[i].qn_dup = 0;
		jobs[i].qn_id = 0;
		tenants[i] = jobs[i].qn_tenant != NULL &&
		    jobs[i].qn_tenant[0] != '\0' ? jobs[i].qn_tenant :
		    QPG_DEFAULT_TENANT;
		/* A tenant met before in the batch: its number. */
		for (k = 0; k < ndistinct; k++)
			if (strcmp(tenants[distinct[k]], tenants[i]) == 0)
				break;
		if (k < ndistinct)
			tids[i] = tids[distinct[k]];
		else {
			distinct[ndistinct++] = i;
			rc = qpg_tenant(t, tenants[i], &tids[i]);
		}
	}
	if (rc == 0)
		rc = qpg_enq_known(t, jobs, n);
	if (rc == 0)
		rc = qpg_enq_ids(t, jobs, n, &nnew);
	if (rc == 0 && nnew > 0)
		rc = qpg_enq_insert(t, jobs, n, tenants, tids);
	if (rc == 0 && nnew > 0)
		rc = qpg_enq_bodies(t, jobs, n);
	if (rc == 0)
		rc = qpg_enq_done(t, jobs, n);
	free(tenants);
	free(tids);
	free(distinct);
	return (rc);
}

static int
qpg_enqueue_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_enq_arg	*ea = arg;
	size_t			 i, n;
	int			 rc;

	for (i = 0; i < ea->ea_n; i += n) {
		n = ea->ea_n - i > QPG_ENQ_CHUNK ? QPG_ENQ_CHUNK : ea->ea_n - i;
		if ((rc = qpg_enq_chunk(t, ea->ea_jobs + i, n)) != 0)
			return (rc);
	}
	return (0);
}

int
qpg_enqueue(struct queue *q, struct queue_new *jobs, size_t n)
{
	struct qpg_enq_arg	 ea;
	size_t			 i;

	/* queue_enqueue checked the rest. */
	for (i = 0; i < n; i++)
		if ((jobs[i].qn_home != NULL &&
		    strlen(jobs[i].qn_home) > QPG_HOST_MAX) ||
		    (jobs[i].qn_away != NULL &&
		    strlen(jobs[i].qn_away) > QPG_HOST_MAX) ||
		    (jobs[i].qn_docid != NULL &&
		    strlen(jobs[i].qn_docid) > JOB_PATH_MAX))
			return (QUEUE_EINVAL);
	if (n == 0)
		return (0);
	ea.ea_jobs = jobs;
	ea.ea_n = n;
	return (qpg_run(q, __func__, 0, qpg_enqueue_txn, &ea));
}
