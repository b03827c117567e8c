/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's answers to status and to an
 * administrator: the counts, a job, listings, pages, tenants and the
 * watch of jobs, each in one read-only snapshot (a listing through a
 * cursor, QPG_FETCH rows at a time), and retries and purges on command,
 * QPG_BATCH jobs a transaction.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_FETCH		"256"	/* rows per FETCH of a listing */
#define QPG_BATCH		10000	/* jobs per purge or retry txn */

/* Retry and purge. */

struct qpg_batch_arg {
	uint64_t	 ba_id;
	int		 ba_state;
	const char	*ba_tenant;
	uint64_t	 ba_older;
	uint64_t	 ba_keep;
	uint64_t	 ba_n;
	int		 ba_more;
};

/* A dead letter (a fresh start) or a retrying job, ready now. */
#define QPG_REVIVE	"UPDATE quire_jobs SET state = 0, updated = $2, " \
	"enq = $2, runat = 0, attempts = CASE WHEN state = 4 THEN 0 ELSE " \
	"attempts END, crashes = CASE WHEN state = 4 THEN 0 ELSE crashes END "

static int
qpg_retry_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_batch_arg	*ba = arg;
	struct qpg_args		 a;
	struct job		 j;
	int			 rc, found;

	if ((rc = qpg_get_locked(t, ba->ba_id, &j, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ENOENT);
	if (j.j_state != JOB_DEAD && j.j_state != JOB_RETRY)
		return (QUEUE_ESTATE);
	qa_init(&a);
	qa_u64(&a, j.j_id);
	qa_u64(&a, t->t_now);
	t->t_notify = 1;
	return (qpg_q(t, QPG_REVIVE "WHERE id = $1", &a, NULL));
}

int
qpg_retry(struct queue *q, uint64_t id)
{
	struct qpg_batch_arg	 ba;

	memset(&ba, 0, sizeof(ba));
	ba.ba_id = id;
	return (qpg_run(q, __func__, 0, qpg_retry_txn, &ba));
}

static int
qpg_retry_dead_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_batch_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ba->ba_tenant);
	qa_u64(&a, t->t_now);
	qa_u64(&a, QPG_BATCH);
	if ((rc = qpg_q(t, QPG_REVIVE "WHERE id IN (SELECT id FROM quire_jobs "
	    "WHERE state = 4 AND ($1::bytea IS NULL OR tenant = $1) "
	    "ORDER BY updated, id LIMIT $3 FOR UPDATE)", &a, &r)) != 0)
		return (rc);
	ba->ba_n = strtoull(PQcmdTuples(r), NULL, 10);
	ba->ba_more = ba->ba_n == QPG_BATCH;
	PQclear(r);
	if (ba->ba_n > 0)
		t->t_notify = 1;
	return (0);
}

int
qpg_retry_dead_tenant(struct queue *q, const char *tenant, uint64_t *n)
{
	struct qpg_batch_arg	 ba;
	int			 rc;

	*n = 0;
	memset(&ba, 0, sizeof(ba));
	ba.ba_tenant = tenant;
	do {
		if ((rc = qpg_run(q, __func__, 0, qpg_retry_dead_txn, &ba))
		    != 0)
			return (rc);
		*n += ba.ba_n;
	} while (ba.ba_more);
	return (0);
}

int
qpg_retry_dead(struct queue *q, uint64_t *n)
{
	return (qpg_retry_dead_tenant(q, NULL, n));
}

/*
 * Purge: oldest first, the finished jobs of one kind that a limit
 * selects (beyond the newest keep, or older than older ms), every one
 * with no limit; a dead letter lets its spool file go.
 */
static int
qpg_purge_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_batch_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	char			 path[JOB_PATH_MAX + 1];
	uint64_t		 cut = 0;
	int			 i, rc;

	if (ba->ba_older != 0 && t->t_now >= ba->ba_older)
		cut = t->t_now - ba->ba_older;
	qa_init(&a);
	qa_i64(&a, ba->ba_state == JOB_DEAD ? 1 : 0);
	qa_bin(t, &a, ba->ba_tenant);
	qa_u64(&a, ba->ba_keep);
	qa_u64(&a, ba->ba_older);
	qa_u64(&a, cut);
	qa_u64(&a, QPG_BATCH);
	if ((rc = qpg_q(t, "WITH f AS (SELECT id, updated, row_number() OVER "
	    "(ORDER BY updated DESC, id DESC) AS newer FROM quire_jobs WHERE "
	    "CASE WHEN $1 = 1 THEN state = 4 ELSE state IN (3, 5) END AND "
	    "($2::bytea IS NULL OR tenant = $2)), "
	    "s AS (SELECT id FROM f WHERE ($3::numeric = 0 AND "
	    "$4::numeric = 0) OR ($3::numeric > 0 AND newer > $3::numeric) OR "
	    "($4::numeric > 0 AND updated <= $5) "
	    "ORDER BY updated, id LIMIT $6) "
	    "DELETE FROM quire_jobs WHERE id IN (SELECT id FROM s) "
	    "RETURNING state, srckind, path", &a, &r)) != 0)
		return (rc);
	ba->ba_n = PQntuples(r);
	ba->ba_more = ba->ba_n == QPG_BATCH;
	for (i = 0; i < PQntuples(r) && rc == 0; i++) {
		if (qpg_i64(r, i, 0) != JOB_DEAD)
			continue;
		qpg_text(path, sizeof(path), r, i, 2);
		rc = qpg_spool_ref(t, qpg_i64(r, i, 1), path);
	}
	PQclear(r);
	return (rc);
}

int
qpg_purge_tenant(struct queue *q, int state, const char *tenant,
    uint64_t older_ms, uint64_t keep, uint64_t *n)
{
	struct qpg_batch_arg	 ba;
	int			 rc;

	*n = 0;
	if ((state != JOB_DONE && state != JOB_DEAD) ||
	    (tenant != NULL && (older_ms != 0 || keep != 0)))
		return (QUEUE_EINVAL);
	memset(&ba, 0, sizeof(ba));
	ba.ba_state = state;
	ba.ba_tenant = tenant;
	ba.ba_older = older_ms;
	ba.ba_keep = keep;
	do {
		if ((rc = qpg_run(q, __func__, 0, qpg_purge_txn, &ba)) != 0)
			return (rc);
		*n += ba.ba_n;
	} while (ba.ba_more);
	return (0);
}

int
qpg_purge(struct queue *q, int state, uint64_t older_ms, uint64_t keep,
    uint64_t *n)
{
	return (qpg_purge_tenant(q, state, NULL, older_ms, keep, n));
}

/* Reading. */

static int
qpg_stats_txn(struct qpg_tx *t, void *arg)
{
	struct queue_stats	*qs = arg;
	PGresult		*r;
	int			 i, st, rc;

	if ((rc = qpg_q(t, "SELECT state, count(*) FROM quire_jobs "
	    "GROUP BY state", NULL, &r)) != 0)
		return (rc);
	for (i = 0; i < PQntuples(r); i++) {
		st = qpg_i64(r, i, 0);
		if (st >= 0 && st < JOB_NSTATES)
			qs->qs_count[st] = qpg_u64(r, i, 1);
	}
	PQclear(r);
	if ((rc = qpg_q(t, "SELECT "
	    "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value "
	    "END FROM quire_job_id), "
	    "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value "
	    "END FROM quire_lease_gen), "
	    "(SELECT coalesce(sum(size), 0) FROM quire_jobs WHERE state = 1 "
	    "AND big), coalesce(sum(enqueued), 0), "
	    "coalesce(sum(completed), 0), "
	    "coalesce(sum(failed), 0), coalesce(sum(released), 0), "
	    "coalesce(sum(done), 0), coalesce(sum(retried), 0), "
	    "coalesce(sum(cancelled), 0) FROM quire_totals", NULL, &r)) != 0)
		return (rc);
	qs->qs_next_id = qpg_u64(r, 0, 0);
	qs->qs_next_gen = qpg_u64(r, 0, 1);
	qs->qs_big_inflight = qpg_u64(r, 0, 2);
	qs->qs_enqueued = qpg_u64(r, 0, 3);
	qs->qs_completed = qpg_u64(r, 0, 4);
	qs->qs_failed = qpg_u64(r, 0, 5);
	qs->qs_released = qpg_u64(r, 0, 6);
	qs->qs_done = qpg_u64(r, 0, 7);
	qs->qs_retried = qpg_u64(r, 0, 8);
	qs->qs_cancelled = qpg_u64(r, 0, 9);
	PQclear(r);
	return (0);
}

int
qpg_stats(struct queue *q, struct queue_stats *qs)
{
	memset(qs, 0, sizeof(*qs));
	return (qpg_run(q, __func__, 1, qpg_stats_txn, qs));
}

struct qpg_get_arg {
	uint64_t	 ga_id;
	struct job	*ga_job;
};

static int
qpg_get_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_get_arg	*ga = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc, found;

	qa_init(&a);
	qa_u64(&a, ga->ga_id);
	if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE id = $1",
	    &a, &r)) != 0)
		return (rc);
	if ((found = PQntuples(r) > 0))
		qpg_row_job(r, 0, 0, ga->ga_job);
	PQclear(r);
	return (found ? 0 : QUEUE_ENOENT);
}

int
qpg_get(struct queue *q, uint64_t id, struct job *j)
{
	struct qpg_get_arg	 ga;

	ga.ga_id = id;
	ga.ga_job = j;
	return (qpg_run(q, __func__, 1, qpg_get_txn, &ga));
}

/*
 * Call cb for each job a query (of QPG_COLS first) finds, through a
 * cursor, QPG_FETCH rows at a time, at most limit of them; *last is the
 * id of the last job cb took (returned 0 for).  cb returns non-zero to
 * stop.
 */
static int
qpg_each(struct qpg_tx *t, const char *sql, const struct qpg_args *a,
    size_t limit, queue_list_cb cb, void *cbarg, uint64_t *last, int *stop)
{
	PGresult	*r;
	struct job	 j;
	char		*decl;
	size_t		 n = 0;
	int		 i, rc, rows, done = 0;

	if (stop != NULL)
		*stop = 0;
	if (asprintf(&decl, "DECLARE qpg_c NO SCROLL CURSOR FOR %s", sql) ==
	    -1)
		fatal("%s: asprintf", __func__);
	rc = qpg_q(t, decl, a, NULL);
	free(decl);
	if (rc != 0)
		return (rc);
	while (!done && n < limit) {
		if ((rc = qpg_q(t, "FETCH " QPG_FETCH " FROM qpg_c", NULL,
		    &r)) != 0)
			return (rc);
		rows = PQntuples(r);
		for (i = 0; i < rows && n < limit; i++) {
			qpg_row_job(r, i, 0, &j);
			n++;
			if (cb(&j, cbarg) != 0) {
				done = 1;
				if (stop != NULL)
					*stop = 1;
				break;
			}
			if (last != NULL)
				*last = j.j_id;
		}
		PQclear(r);
		if (rows < atoi(QPG_FETCH))
			break;
	}
	return (qpg_q(t, "CLOSE qpg_c", NULL, NULL));
}

struct qpg_list_arg {
	int		 la_state;
	size_t		 la_limit;
	queue_list_cb	 la_cb;
	void		*la_cbarg;
};

/*
 * A state's jobs in the order the LMDB backend keeps them: ready by
 * tenant and priority, retrying by time, finished oldest first, leased
 * by id; every job by id.
 */
static int
qpg_list_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_list_arg	*la = arg;
	struct qpg_args		 a;
	const char		*sql;

	switch (la->la_state) {
	case JOB_READY:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY tid, prio DESC, id";
		break;
	case JOB_RETRY:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY runat, id";
		break;
	case JOB_DONE:
	case JOB_CANCELLED:
	case JOB_DEAD:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY updated, id";
		break;
	case JOB_LEASED:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY id";
		break;
	default:
		return (qpg_each(t, "SELECT " QPG_COLS " FROM quire_jobs "
		    "ORDER BY id", NULL, la->la_limit, la->la_cb,
		    la->la_cbarg, NULL, NULL));
	}
	qa_init(&a);
	qa_i64(&a, la->la_state);
	return (qpg_each(t, sql, &a, la->la_limit, la->la_cb, la->la_cbarg,
	    NULL, NULL));
}

int
qpg_list(struct queue *q, int state, size_t limit, queue_list_cb cb,
    void *arg)
{
	struct qpg_list_arg	 la;

	la.la_state = state;
	la.la_limit = limit;
	la.la_cb = cb;
	la.la_cbarg = arg;
	return (qpg_run(q, __func__, 1, qpg_list_txn, &la));
}

struct qpg_page_arg {
	struct queue_page	*pa_qp;
	queue_list_cb		 pa_cb;
	void			*pa_cbarg;
};

static int
qpg_page_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_page_arg	*pa = arg;
	struct queue_page	*qp = pa->pa_qp;
	struct qpg_args		 a;
	struct job		 j;
	PGresult		*r;
	uint64_t		 last = 0;
	size_t			 n = 0;
	int			 i, rc, rows;

	qp->qp_next = 0;
	qa_init(&a);
	qa_u64(&a, qp->qp_after);
	qa_i64(&a, qp->qp_state);
	qa_bin(t, &a, qp->qp_tenant);
	if (qp->qp_scan > 0) {
		/* At most qp_scan rows read, and one to know of more. */
		qa_u64(&a, qp->qp_scan + 1);
		rc = qpg_q(t, "SELECT " QPG_COLS ", ($2 < 0 OR state = $2) AND "
		    "($3::bytea IS NULL OR tenant = $3) FROM (SELECT * FROM "
		    "quire_jobs WHERE id > $1 ORDER BY id LIMIT $4) s "
		    "ORDER BY id", &a, &r);
	} else {
		qa_u64(&a, qp->qp_limit + 1);
		rc = qpg_q(t, "SELECT " QPG_COLS ", true FROM quire_jobs WHERE "
		    "id > $1 AND ($2 < 0 OR state = $2) AND "
		    "($3::bytea IS NULL OR tenant = $3) ORDER BY id LIMIT $4",
		    &a, &r);
	}
	if (rc != 0)
		return (rc);
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		qpg_row_job(r, i, 0, &j);
		if (qp->qp_scan > 0 && (size_t)i == qp->qp_scan) {
			qp->qp_next = j.j_id - 1;
			break;
		}
		if (PQgetvalue(r, i, 27)[0] != 't')
			continue;
		if (n == qp->qp_limit) {
			qp->qp_next = last;
			break;
		}
		n++;
		last = j.j_id;
		if (pa->pa_cb(&j, pa->pa_cbarg) != 0)
			break;
	}
	PQclear(r);
	return (0);
}

int
qpg_page(struct queue *q, struct queue_page *qp, queue_list_cb cb,
    void *arg)
{
	struct qpg_page_arg	 pa;

	if (qp->qp_after == UINT64_MAX || qp->qp_limit == 0 ||
	    qp->qp_after > INT64_MAX)
		return (QUEUE_EINVAL);
	pa.pa_qp = qp;
	pa.pa_cb = cb;
	pa.pa_cbarg = arg;
	return (qpg_run(q, __func__, 1, qpg_page_txn, &pa));
}

struct qpg_tenants_arg {
	queue_tenant_cb	 ta_cb;
	void		*ta_arg;
};

static int
qpg_tenants_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_tenants_arg	*ta = arg;
	PGresult		*r;
	uint64_t		 c[JOB_NSTATES];
	char			 name[JOB_TENANT_MAX + 1];
	int			 i, rows, st, rc;

	if ((rc = qpg_q(t, "SELECT t.tid, t.name, j.state, count(j.id) FROM "
	    "quire_tenants t LEFT JOIN quire_jobs j ON j.tid = t.tid "
	    "GROUP BY t.tid, t.name, j.state ORDER BY t.tid", NULL, &r)) != 0)
		return (rc);
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		if (i == 0 || strcmp(PQgetvalue(r, i, 0),
		    PQgetvalue(r, i - 1, 0)) != 0) {
			memset(c, 0, sizeof(c));
			qpg_text(name, sizeof(name), r, i, 1);
		}
		st = PQgetisnull(r, i, 2) ? -1 : qpg_i64(r, i, 2);
		if (st >= 0 && st < JOB_NSTATES)
			c[st] = qpg_u64(r, i, 3);
		if ((i + 1 == rows || strcmp(PQgetvalue(r, i, 0),
		    PQgetvalue(r, i + 1, 0)) != 0) &&
		    ta->ta_cb(name, c, ta->ta_arg) != 0)
			break;
	}
	PQclear(r);
	return (0);
}

int
qpg_tenants(struct queue *q, queue_tenant_cb cb, void *arg)
{
	struct qpg_tenants_arg	 ta;

	ta.ta_cb = cb;
	ta.ta_arg = arg;
	return (qpg_run(q, __func__, 1, qpg_tenants_txn, &ta));
}

struct qpg_watch_arg {
	const uint64_t	*wa_ids;
	size_t		 wa_nids;
	uint64_t	*wa_after;
	size_t		 wa_newmax;
	queue_list_cb	 wa_cb;
	void		*wa_cbarg;
};

static int
qpg_watch_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_watch_arg	*wa = arg;
	struct qpg_args		 a;
	struct job		 j;
	PGresult		*r;
	size_t			 i;
	int			 rc, stop;

	for (i = 0; i < wa->wa_nids; i++) {
		qa_init(&a);
		qa_u64(&a, wa->wa_ids[i]);
		if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "id = $1", &a, &r)) != 0)
			return (rc);
		stop = 0;
		if (PQntuples(r) > 0) {
			qpg_row_job(r, 0, 0, &j);
			stop = wa->wa_cb(&j, wa->wa_cbarg) != 0;
		}
		PQclear(r);
		if (stop)
			return (0);
	}
	if (wa->wa_newmax == 0)
		return (0);
	if ((rc = qpg_each(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
	    "state = 1 ORDER BY id", NULL, wa->wa_newmax, wa->wa_cb,
	    wa->wa_cbarg, NULL, &stop)) != 0 || stop)
		return (rc);
	qa_init(&a);
	qa_u64(&a, *wa->wa_after);
	return (qpg_each(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
	    "id > $1 ORDER BY id", &a, wa->wa_newmax, wa->wa_cb, wa->wa_cbarg,
	    wa->wa_after, NULL));
}

int
qpg_watch(struct queue *q, const uint64_t *ids, size_t nids, uint64_t *after,
    size_t newmax, queue_list_cb cb, void *arg)
{
	struct qpg_watch_arg	 wa;

	if (*after > INT64_MAX)
		return (QUEUE_EINVAL);
	wa.wa_ids = ids;
	wa.wa_nids = nids;
	wa.wa_after = after;
	wa.wa_newmax = newmax;
	wa.wa_cb = cb;
	wa.wa_cbarg = arg;
	return (qpg_run(q, __func__, 1, qpg_watch_txn, &wa));
}
