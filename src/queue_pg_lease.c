/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's leases once claimed: a holder's heartbeat
 * and failure (a retry after the backoff, or a dead letter), cancels,
 * the release of a dead worker's leases at the reap, the sweep of
 * expired leases and the extension of a pid's.
 *
 * Leases are fenced by generation: heartbeat, ack and fail name (id,
 * generation) and get QUEUE_ESTALE when the row is no longer leased
 * with that generation.  release_pid releases the leases of a pid of
 * this host (qc_host, host-name, else gethostname) only, the ordinary
 * ones in one statement (qpg_release_fast); sweep releases the expired
 * leases of every host.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

/* The columns a finished job's row gets: state $2, time $3. */
#define QPG_FINISH	"state = $2, updated = $3, deadline = 0, big = false"

/* Heartbeat, fail and cancel. */

struct qpg_one_arg {
	uint64_t	 oa_id;
	uint64_t	 oa_gen;
	uint64_t	 oa_progress;
	const char	*oa_reason;
	int		 oa_permanent;
	int		 oa_state;	/* out */
	int		 oa_result;	/* out */
	struct queue_cancelled *oa_cx;
};

static int
qpg_heartbeat_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_one_arg	*oa = arg;
	struct qpg_args		 a;
	uint64_t		 cancel;
	int			 rc, found;

	qa_init(&a);
	qa_u64(&a, oa->oa_id);
	qa_u64(&a, oa->oa_gen);
	qa_u64(&a, oa->oa_progress);
	qa_u64(&a, t->t_now + t->t_q->q_conf.qc_lease_ms);
	if ((rc = qpg_q1(t, "UPDATE quire_jobs SET progress = $3, "
	    "deadline = $4 WHERE id = $1 AND gen = $2 AND state = 1 "
	    "RETURNING cancel::integer", &a, &cancel, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ESTALE);
	oa->oa_result = cancel ? QUEUE_ECANCEL : QUEUE_OK;
	return (0);
}

int
qpg_heartbeat(struct queue *q, uint64_t id, uint64_t gen, uint64_t progress)
{
	struct qpg_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	oa.oa_id = id;
	oa.oa_gen = gen;
	oa.oa_progress = progress;
	if ((rc = qpg_run(q, __func__, 0, qpg_heartbeat_txn, &oa)) != 0)
		return (rc);
	return (oa.oa_result);
}

/*
 * Move a job to a finished state (done, dead, cancelled), with an
 * error; done and cancelled jobs need their spool file no more.
 */
static int
qpg_finish(struct qpg_tx *t, const struct job *j, int state,
    const char *error, int attempts_add, int crashes_add)
{
	struct qpg_args	 a;
	int		 rc;

	qa_init(&a);
	qa_u64(&a, j->j_id);
	qa_i64(&a, state);
	qa_u64(&a, t->t_now);
	qa_err(t, &a, error);
	qa_i64(&a, attempts_add);
	qa_i64(&a, crashes_add);
	if ((rc = qpg_q(t, "UPDATE quire_jobs SET " QPG_FINISH ", "
	    "error = $4, attempts = attempts + $5, "
	    "crashes = crashes + $6 WHERE id = $1", &a, NULL)) != 0)
		return (rc);
	if (state == JOB_CANCELLED)
		t->t_tot[QT_CANCELLED]++;
	if (state != JOB_DEAD)
		return (qpg_spool_ref(t, j->j_srckind, j->j_path));
	return (0);
}

/* A leased job's row, locked. */
int
qpg_get_locked(struct qpg_tx *t, uint64_t id, struct job *j, int *found)
{
	struct qpg_args	 a;
	PGresult	*r;
	int		 rc;

	qa_init(&a);
	qa_u64(&a, id);
	if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE id = $1 "
	    "FOR UPDATE", &a, &r)) != 0)
		return (rc);
	*found = PQntuples(r) > 0;
	if (*found)
		qpg_row_job(r, 0, 0, j);
	PQclear(r);
	return (0);
}

/*
 * A failed attempt of a job that was leased: retry after the backoff,
 * or a dead letter at max attempts (or at once when permanent), or
 * cancelled when a cancel was asked.  *state is where it went.
 */
static int
qpg_fail_job(struct qpg_tx *t, struct job *j, const char *reason,
    int permanent, int *state)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct qpg_args	 a;
	uint32_t	 attempts = j->j_attempts + 1;

	if (j->j_cancel) {
		*state = JOB_CANCELLED;
		return (qpg_finish(t, j, JOB_CANCELLED, reason, 1, 0));
	}
	if (permanent || attempts >= qc->qc_max_attempts) {
		*state = JOB_DEAD;
		t->t_tot[QT_FAILED]++;
		return (qpg_finish(t, j, JOB_DEAD, reason, 1, 0));
	}
	*state = JOB_RETRY;
	t->t_tot[QT_RETRIED]++;
	qa_init(&a);
	qa_u64(&a, j->j_id);
	qa_u64(&a, t->t_now);
	qa_u64(&a, t->t_now + queue_backoff(qc, attempts));
	qa_err(t, &a, reason);
	return (qpg_q(t, "UPDATE quire_jobs SET state = 2, updated = $2, "
	    "runat = $3, error = $4, attempts = attempts + 1, "
	    "deadline = 0, big = false WHERE id = $1", &a, NULL));
}

static int
qpg_fail_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_one_arg	*oa = arg;
	struct job		 j;
	int			 rc, found;

	if ((rc = qpg_get_locked(t, oa->oa_id, &j, &found)) != 0)
		return (rc);
	if (!found || j.j_state != JOB_LEASED || j.j_lease_gen != oa->oa_gen)
		return (QUEUE_ESTALE);
	return (qpg_fail_job(t, &j, oa->oa_reason, oa->oa_permanent,
	    &oa->oa_state));
}

int
qpg_fail(struct queue *q, uint64_t id, uint64_t gen, const char *reason,
    int permanent, int *state)
{
	struct qpg_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	oa.oa_id = id;
	oa.oa_gen = gen;
	oa.oa_reason = reason != NULL ? reason : "failed";
	oa.oa_permanent = permanent;
	rc = qpg_run(q, __func__, 0, qpg_fail_txn, &oa);
	if (rc == 0 && state != NULL)
		*state = oa.oa_state;
	return (rc);
}

static int
qpg_cancel_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_one_arg	*oa = arg;
	struct qpg_args		 a;
	struct job		 j;
	int			 rc, found;

	if ((rc = qpg_get_locked(t, oa->oa_id, &j, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ENOENT);
	oa->oa_cx->qx_state = j.j_state;
	switch (j.j_state) {
	case JOB_READY:
	case JOB_RETRY:
		t->t_notify = 1;
		oa->oa_result = QUEUE_OK;
		return (qpg_finish(t, &j, JOB_CANCELLED, "cancelled", 0, 0));
	case JOB_LEASED:
		oa->oa_cx->qx_gen = j.j_lease_gen;
		oa->oa_cx->qx_pid = j.j_lease_pid;
		oa->oa_cx->qx_slot = j.j_lease_slot;
		qa_init(&a);
		qa_u64(&a, j.j_id);
		t->t_notify = 1;
		oa->oa_result = QUEUE_ECANCEL;
		return (qpg_q(t, "UPDATE quire_jobs SET cancel = true WHERE "
		    "id = $1", &a, NULL));
	default:
		return (QUEUE_ESTATE);
	}
}

int
qpg_cancel_job(struct queue *q, uint64_t id, struct queue_cancelled *cx)
{
	struct qpg_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	memset(cx, 0, sizeof(*cx));
	cx->qx_state = -1;
	oa.oa_id = id;
	oa.oa_cx = cx;
	if ((rc = qpg_run(q, __func__, 0, qpg_cancel_txn, &oa)) != 0)
		return (rc);
	return (oa.oa_result);
}

int
qpg_cancel(struct queue *q, uint64_t id)
{
	struct queue_cancelled	 cx;

	return (qpg_cancel_job(q, id, &cx));
}

/* Release, sweep and extend. */

static int
qpg_release_one(struct qpg_tx *t, struct qpg_release_arg *ra,
    struct job *j)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct queue_release	*rel = ra->ra_rel;
	struct qpg_args		 a;
	char			 why[JOB_ERROR_MAX];
	int			 rc, crash, state;

	crash = ra->ra_crash == QUEUE_CRASH_ALL || ra->ra_crash == j->j_id;
	if (j->j_cancel) {
		rel->qr_cancelled++;
		rc = qpg_finish(t, j, JOB_CANCELLED, j->j_error, 0, 0);
	} else if (ra->ra_sweep) {
		/* A hung holder: the attempt counts. */
		j->j_cancel = 0;
		rc = qpg_fail_job(t, j, "lease expired", 0, &state);
		if (state == JOB_DEAD)
			rel->qr_dead++;
		else
			rel->qr_released++;
	} else if (crash && j->j_crashes + 1 >= qc->qc_max_crashes) {
		/* A worker over its memory limit says so itself. */
		if (strncmp(ra->ra_cause, QUEUE_MEMORY_LIMIT,
		    strlen(QUEUE_MEMORY_LIMIT)) == 0)
			strlcpy(why, ra->ra_cause, sizeof(why));
		else
			snprintf(why, sizeof(why), "crashed worker (%s)",
			    ra->ra_cause);
		t->t_tot[QT_FAILED]++;
		rel->qr_dead++;
		rc = qpg_finish(t, j, JOB_DEAD, why, 0, 1);
	} else {
		qa_init(&a);
		qa_u64(&a, j->j_id);
		qa_u64(&a, t->t_now);
		qa_err(t, &a, ra->ra_cause);
		qa_i64(&a, crash);
		rel->qr_released++;
		t->t_notify = 1;
		rc = qpg_q(t, "UPDATE quire_jobs SET state = 0, updated = $2, "
		    "enq = created, error = $3, "
		    "crashes = crashes + $4, deadline = 0, big = false "
		    "WHERE id = $1", &a, NULL);
	}
	if (rc != 0)
		return (rc);
	if (rel->qr_released + rel->qr_dead + rel->qr_cancelled <=
	    sizeof(rel->qr_jobs) / sizeof(rel->qr_jobs[0]))
		rel->qr_jobs[rel->qr_released + rel->qr_dead +
		    rel->qr_cancelled - 1] = j->j_id;
	t->t_tot[QT_RELEASED]++;
	return (0);
}

int
qpg_release_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_release_arg	*ra = arg;
	struct qpg_args		 a;
	struct job		*jobs;
	PGresult		*r;
	int			 i, n, rc;

	memset(ra->ra_rel, 0, sizeof(*ra->ra_rel));
	qa_init(&a);
	if (ra->ra_sweep) {
		qa_u64(&a, t->t_now);
		rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "state = 1 AND deadline <= $1 ORDER BY id FOR UPDATE", &a,
		    &r);
	} else if (ra->ra_host != NULL) {
		qa_bin(t, &a, ra->ra_host);
		rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "state = 1 AND lease_host = $1 ORDER BY id FOR UPDATE", &a,
		    &r);
	} else {
		qa_bin(t, &a, t->t_pg->p_host);
		qa_u64(&a, ra->ra_pid);
		rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "state = 1 AND lease_host = $1 AND lease_pid = $2 "
		    "ORDER BY id FOR UPDATE", &a, &r);
	}
	if (rc != 0)
		return (rc);
	n = PQntuples(r);
	jobs = xcalloc(n + 1, sizeof(*jobs));
	for (i = 0; i < n; i++)
		qpg_row_job(r, i, 0, &jobs[i]);
	PQclear(r);
	for (i = 0; i < n && rc == 0; i++)
		rc = qpg_release_one(t, ra, &jobs[i]);
	free(jobs);
	return (rc);
}

/*
 * A dead worker's leases back to ready, the common case of a release at
 * the reap, in one statement that is its own transaction (one round
 * trip, no BEGIN nor COMMIT): the jobs neither cancelled nor at their
 * last crash, with the count of released jobs and the NOTIFY that wakes
 * an idle worker.  The totals go to a row of their own, 16 + the
 * server process's id % 16, not to the shard of the workers' acks,
 * whose transactions would hold the reap behind their commits.  It
 * counts the leases it left (a cancel pending, a crash that makes a
 * dead letter) in ra_left: qpg_release_txn then finishes those.
 */
static int
qpg_release_fast(struct qpg_tx *t, void *arg)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct qpg_release_arg	*ra = arg;
	struct queue_release	*rel = ra->ra_rel;
	struct qpg_args		 a;
	PGresult		*r;
	char			*ids, *p, *e;
	size_t			 i;
	int			 rc;

	memset(rel, 0, sizeof(*rel));
	qa_init(&a);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_u64(&a, ra->ra_pid);
	qa_u64(&a, t->t_now);
	qa_err(t, &a, ra->ra_cause);
	qa_i64(&a, ra->ra_crash == QUEUE_CRASH_ALL ? -1 :
	    ra->ra_crash > INT64_MAX ? 0 : (int64_t)ra->ra_crash);
	qa_u64(&a, qc->qc_max_crashes);
	if ((rc = qpg_q(t, "WITH r AS (UPDATE quire_jobs SET state = 0, "
	    "updated = $3, enq = created, error = $4, crashes = crashes + "
	    "(id = $5 OR $5 = -1)::integer, deadline = 0, big = false "
	    "WHERE state = 1 AND lease_host = $1 AND lease_pid = $2 AND "
	    "NOT cancel AND NOT ((id = $5 OR $5 = -1) AND "
	    "crashes + 1 >= $6) RETURNING id), "
	    "l AS (SELECT count(*) AS n FROM quire_jobs WHERE state = 1 AND "
	    "lease_host = $1 AND lease_pid = $2), "
	    "c AS (INSERT INTO quire_totals AS o (shard, released) "
	    "SELECT 16 + pg_backend_pid() % 16, count(*) FROM r "
	    "HAVING count(*) > 0 ON CONFLICT (shard) DO UPDATE SET "
	    "released = o.released + excluded.released RETURNING 1), "
	    "w AS (SELECT pg_notify('" QPG_CHANNEL "', '') FROM "
	    "(SELECT 1 FROM r LIMIT 1) x) "
	    "SELECT (SELECT count(*) FROM r), (SELECT n FROM l), "
	    "(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM r "
	    "ORDER BY id LIMIT 64) f), (SELECT count(*) FROM c), "
	    "(SELECT count(*) FROM w)", &a, &r)) != 0)
		return (rc);
	rel->qr_released = qpg_u64(r, 0, 0);
	ra->ra_left = qpg_u64(r, 0, 1) - rel->qr_released;
	ids = PQgetisnull(r, 0, 2) ? "" : PQgetvalue(r, 0, 2);
	for (i = 0, p = ids; i < sizeof(rel->qr_jobs) /
	    sizeof(rel->qr_jobs[0]) && (p = strpbrk(p, "0123456789")) != NULL;
	    i++, p = e)
		rel->qr_jobs[i] = strtoull(p, &e, 10);
	PQclear(r);
	return (0);
}

int
qpg_release_pid(struct queue *q, uint32_t pid, const char *cause,
    uint64_t crash, struct queue_release *rel)
{
	struct qpg_release_arg	 ra;
	struct queue_release	 unused, more;
	size_t			 i, k;
	int			 rc;

	memset(&ra, 0, sizeof(ra));
	ra.ra_pid = pid;
	ra.ra_cause = cause != NULL ? cause : "released";
	ra.ra_crash = crash;
	ra.ra_rel = rel != NULL ? rel : &unused;
	if ((rc = qpg_run(q, __func__, QPG_AUTO, qpg_release_fast, &ra)) != 0 ||
	    ra.ra_left == 0)
		return (rc);
	rel = ra.ra_rel;
	ra.ra_rel = &more;
	if ((rc = qpg_run(q, __func__, 0, qpg_release_txn, &ra)) != 0)
		return (rc);
	k = rel->qr_released;
	for (i = 0; i < more.qr_released + more.qr_dead + more.qr_cancelled &&
	    k < sizeof(rel->qr_jobs) / sizeof(rel->qr_jobs[0]); i++)
		rel->qr_jobs[k++] = more.qr_jobs[i];
	rel->qr_released += more.qr_released;
	rel->qr_dead += more.qr_dead;
	rel->qr_cancelled += more.qr_cancelled;
	return (0);
}

int
qpg_sweep(struct queue *q, struct queue_release *rel)
{
	struct qpg_release_arg	 ra;
	struct queue_release	 unused;

	memset(&ra, 0, sizeof(ra));
	ra.ra_sweep = 1;
	ra.ra_rel = rel != NULL ? rel : &unused;
	return (qpg_run(q, __func__, 0, qpg_release_txn, &ra));
}

static int
qpg_extend_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_args	 a;

	qa_init(&a);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_u64(&a, *(uint32_t *)arg);
	qa_u64(&a, t->t_now + t->t_q->q_conf.qc_lease_ms);
	return (qpg_q(t, "UPDATE quire_jobs SET deadline = $3 WHERE "
	    "state = 1 AND lease_host = $1 AND lease_pid = $2", &a, NULL));
}

int
qpg_extend_pid(struct queue *q, uint32_t pid)
{
	return (qpg_run(q, __func__, 0, qpg_extend_txn, &pid));
}
