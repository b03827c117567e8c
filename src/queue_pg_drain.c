/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Draining (drain.c; quired.8, Several hosts).  A draining host claims
 * nothing: the claim's candidates are none for it.  Its drain is marked
 * under an EXCLUSIVE lock on quire_jobs, which waits for every claim
 * under way (each takes ROW EXCLUSIVE as it promotes retries), so that
 * once the mark is committed its jobs leased can only decrease.  Its
 * documents then become move jobs (SRC_MOVE), each carrying the
 * document in quire_bodies and never claimed by the drained host
 * (away).  The ack of a move makes the acking host the document's home
 * if the home was the drained host, or there was none, and in a later
 * statement (a snapshot that sees every enqueue the record's lock
 * waited for) pins the jobs pinned to the drained host for that
 * document to the new home; else the move did nothing, and the worker
 * takes its copy back (worker.c).  queue_pg_drain_end drops the records
 * the drained host is still the home of (documents no index holds) and
 * unpins the jobs still pinned to it: whichever host claims one looks
 * its document up (worker.c).
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

struct qpg_move_arg {
	uint64_t	 ba_id;
	uint64_t	 ba_gen;
	struct buf	*ba_out;
	int		 ba_rc;
};

static int
qpg_move_body_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_move_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_u64(&a, ba->ba_id);
	qa_u64(&a, ba->ba_gen);
	if ((rc = qpg_q(t, "SELECT j.state = 1 AND j.gen = $2, b.body FROM "
	    "quire_jobs j LEFT JOIN quire_bodies b ON b.job = j.id WHERE "
	    "j.id = $1", &a, &r)) != 0)
		return (rc);
	if (PQntuples(r) == 0 || PQgetisnull(r, 0, 1))
		ba->ba_rc = QUEUE_ENOENT;
	else if (PQgetvalue(r, 0, 0)[0] != 't')
		ba->ba_rc = QUEUE_ESTALE;
	else {
		qpg_hexbuf(ba->ba_out, PQgetvalue(r, 0, 1));
		ba->ba_rc = 0;
	}
	PQclear(r);
	return (0);
}

/*
 * The body of job id, leased with generation gen (a move's document),
 * into out: 0, QUEUE_ESTALE when the lease is gone, QUEUE_ENOENT when
 * the job or its body is, or an error.
 */
int
queue_pg_body(struct queue *q, uint64_t id, uint64_t gen, struct buf *out)
{
	struct qpg_move_arg	 ba;
	int			 rc;

	if (q->q_pg == NULL)
		return (QUEUE_ENOENT);
	ba.ba_id = id;
	ba.ba_gen = gen;
	ba.ba_out = out;
	ba.ba_rc = QUEUE_ENOENT;
	if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_move_body_txn, &ba)) != 0)
		return (rc);
	return (ba.ba_rc);
}

struct qpg_drain_arg {
	const char	*da_name;
	uint64_t	 da_expiry;
	uint64_t	 da_v[2];
	struct queue_drain *da_dr;
	queue_count_cb	 da_cb;
	void		*da_cbarg;
};

static int
qpg_draining_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_drain_arg	*da = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	if ((rc = qpg_q(t, "SELECT draining, drained FROM quire_hosts WHERE "
	    "name = $1", &a, &r)) != 0)
		return (rc);
	da->da_v[0] = PQntuples(r) > 0 ? qpg_u64(r, 0, 0) : 0;
	da->da_v[1] = PQntuples(r) > 0 ? qpg_u64(r, 0, 1) : 0;
	PQclear(r);
	return (0);
}

/* When host name's drain began and ended (ms), each 0 when it did not. */
int
queue_pg_draining(struct queue *q, const char *name, uint64_t *draining,
    uint64_t *drained)
{
	struct qpg_drain_arg	 da;
	int			 rc;

	memset(&da, 0, sizeof(da));
	da.da_name = name;
	*draining = *drained = 0;
	if (q->q_pg == NULL)
		return (0);
	if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_draining_txn, &da)) != 0)
		return (rc);
	*draining = da.da_v[0];
	*drained = da.da_v[1];
	return (0);
}

static int
qpg_drain_mark_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_drain_arg	*da = arg;
	struct qpg_args		 a;
	int			 rc;

	/* Every claim under way ends first: see the top. */
	if ((rc = qpg_q(t, "LOCK TABLE quire_jobs IN EXCLUSIVE MODE", NULL,
	    NULL)) != 0)
		return (rc);
	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	return (qpg_q1(t, "INSERT INTO quire_hosts AS h (name, started, "
	    "beat, stopped, draining) VALUES ($1, " QPG_SRV_MS ", " QPG_SRV_MS
	    ", true, " QPG_SRV_MS ") ON CONFLICT (name) DO UPDATE SET "
	    "draining = CASE WHEN h.draining = 0 THEN " QPG_SRV_MS " ELSE "
	    "h.draining END, drained = 0 RETURNING draining", &a, &da->da_v[0],
	    NULL));
}

/*
 * Mark host name draining (a row is made for a host that never
 * registered): it claims nothing from the commit on.  *since: when the
 * drain began, now or at an earlier run.
 */
int
queue_pg_drain_mark(struct queue *q, const char *name, uint64_t *since)
{
	struct qpg_drain_arg	 da;
	int			 rc;

	memset(&da, 0, sizeof(da));
	da.da_name = name;
	if (strlen(name) == 0 || strlen(name) > QPG_HOST_MAX)
		return (QUEUE_EINVAL);
	if ((rc = qpg_run(q, __func__, 0, qpg_drain_mark_txn, &da)) != 0)
		return (rc);
	*since = da.da_v[0];
	return (0);
}

static int
qpg_drain_look_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_drain_arg	*da = arg;
	struct queue_drain	*dr = da->da_dr;
	struct qpg_args		 a;
	PGresult		*r;
	int			 i, st, rc;

	memset(dr, 0, sizeof(*dr));
	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	qa_u64(&a, da->da_expiry);
	if ((rc = qpg_q(t, "SELECT (SELECT count(*) FROM quire_jobs WHERE "
	    "state = 1 AND lease_host = $1), (SELECT count(*) FROM "
	    "quire_hosts WHERE name <> $1 AND NOT stopped AND draining = 0 "
	    "AND beat >= " QPG_SRV_MS " - $2), (SELECT coalesce(sum(n), 0) "
	    "FROM quire_home_docs WHERE home = $1)", &a, &r)) != 0)
		return (rc);
	dr->qdr_leased = qpg_u64(r, 0, 0);
	dr->qdr_others = qpg_u64(r, 0, 1);
	dr->qdr_homes = qpg_u64(r, 0, 2);
	PQclear(r);
	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	if ((rc = qpg_q(t, "SELECT state, count(*) FROM quire_jobs WHERE "
	    "away = $1 GROUP BY state", &a, &r)) != 0)
		return (rc);
	for (i = 0; i < PQntuples(r); i++)
		if ((st = qpg_i64(r, i, 0)) >= 0 && st < JOB_NSTATES)
			dr->qdr_moves[st] = qpg_u64(r, i, 1);
	PQclear(r);
	return (0);
}

/*
 * A drain's figures, in one snapshot: the jobs host name holds, the
 * other hosts that may take its documents (live within expiry_ms, not
 * draining), its move jobs by state and the documents whose home it
 * still is.
 */
int
queue_pg_drain_look(struct queue *q, const char *name, uint64_t expiry_ms,
    struct queue_drain *dr)
{
	struct qpg_drain_arg	 da;

	memset(&da, 0, sizeof(da));
	da.da_name = name;
	da.da_expiry = expiry_ms;
	da.da_dr = dr;
	return (qpg_run(q, __func__, 1, qpg_drain_look_txn, &da));
}

static int
qpg_drain_end_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_drain_arg	*da = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	/* Against the pins of enqueues (FOR KEY SHARE): queue_pg_homes.c. */
	if ((rc = qpg_q(t, "SELECT 1 FROM quire_hosts WHERE name = $1 "
	    "FOR UPDATE", &a, NULL)) != 0)
		return (rc);
	/* Once a drain: no index by home (version 6), the table read. */
	if ((rc = qpg_q(t, "DELETE FROM quire_docs WHERE home = $1", &a,
	    &r)) != 0)
		return (rc);
	da->da_v[0] = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if ((rc = qpg_q(t, "UPDATE quire_jobs SET home = NULL WHERE "
	    "home = $1 AND state IN (0, 2, 4)", &a, &r)) != 0)
		return (rc);
	da->da_v[1] = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	if (da->da_v[1] > 0)
		t->t_notify = 1;
	return (qpg_q(t, "UPDATE quire_hosts SET drained = " QPG_SRV_MS
	    " WHERE name = $1", &a, NULL));
}

/*
 * The end of host name's drain, once its index holds nothing and its
 * moves are through: the home records still its own (of documents no
 * index holds) go, into *records, and the jobs still pinned to it are
 * pinned to no host, into *unpinned; it is drained.
 */
int
queue_pg_drain_end(struct queue *q, const char *name, uint64_t *records,
    uint64_t *unpinned)
{
	struct qpg_drain_arg	 da;
	int			 rc;

	memset(&da, 0, sizeof(da));
	da.da_name = name;
	if ((rc = qpg_run(q, __func__, 0, qpg_drain_end_txn, &da)) != 0)
		return (rc);
	*records = da.da_v[0];
	*unpinned = da.da_v[1];
	return (0);
}

static int
qpg_drain_moved_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_drain_arg	*da = arg;
	struct qpg_args		 a;
	PGresult		*r;
	char			 home[QPG_HOST_MAX + 1];
	int			 i, rc;

	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	if ((rc = qpg_q(t, "SELECT d.home, count(*) FROM quire_docs d JOIN "
	    "quire_jobs j ON j.id = d.job WHERE j.away = $1 GROUP BY d.home "
	    "ORDER BY d.home", &a, &r)) != 0)
		return (rc);
	for (i = 0, rc = 0; i < PQntuples(r) && rc == 0; i++) {
		qpg_text(home, sizeof(home), r, i, 0);
		rc = da->da_cb(home, qpg_u64(r, i, 1), da->da_cbarg);
	}
	PQclear(r);
	return (rc);
}

/*
 * The documents that moves away from host name brought to each host
 * and that are there still, by host, to cb (non-zero stops).  Moves
 * whose jobs retention removed are not counted.
 */
int
queue_pg_drain_moved(struct queue *q, const char *name, queue_count_cb cb,
    void *arg)
{
	struct qpg_drain_arg	 da;

	memset(&da, 0, sizeof(da));
	da.da_name = name;
	da.da_cb = cb;
	da.da_cbarg = arg;
	return (qpg_run(q, __func__, QPG_ONE, qpg_drain_moved_txn, &da));
}

static int
qpg_undrain_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_drain_arg	*da = arg;
	struct qpg_args		 a;
	PGresult		*r;
	uint64_t		 n;
	int			 rc, found;

	qa_init(&a);
	qa_bin(t, &a, da->da_name);
	if ((rc = qpg_q(t, "SELECT draining, drained FROM quire_hosts WHERE "
	    "name = $1 FOR UPDATE", &a, &r)) != 0)
		return (rc);
	found = PQntuples(r) > 0;
	da->da_v[0] = found ? qpg_u64(r, 0, 0) : 0;
	da->da_v[1] = found ? qpg_u64(r, 0, 1) : 0;
	PQclear(r);
	if (!found || da->da_v[0] == 0)
		return (QUEUE_ENOENT);
	if (da->da_v[1] == 0)
		return (QUEUE_ESTATE);
	if ((rc = qpg_q1(t, "SELECT count(*) FROM quire_jobs WHERE away = $1 "
	    "AND state IN (0, 1, 2)", &a, &n, NULL)) != 0)
		return (rc);
	if (n > 0)
		return (QUEUE_ESTATE);
	if ((rc = qpg_q(t, "DELETE FROM quire_jobs WHERE away = $1", &a,
	    &r)) != 0)
		return (rc);
	da->da_v[0] = strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return (qpg_q(t, "UPDATE quire_hosts SET draining = 0, drained = 0 "
	    "WHERE name = $1", &a, NULL));
}

/*
 * Host name drained, back in service: it claims jobs again.  The jobs
 * of its drain's moves go (their keys would name its documents again),
 * their count into *forgotten.  QUEUE_ENOENT when it does not drain,
 * QUEUE_ESTATE while its drain has not ended.
 */
int
queue_pg_undrain(struct queue *q, const char *name, uint64_t *forgotten)
{
	struct qpg_drain_arg	 da;
	int			 rc;

	memset(&da, 0, sizeof(da));
	da.da_name = name;
	*forgotten = 0;
	if ((rc = qpg_run(q, __func__, 0, qpg_undrain_txn, &da)) != 0)
		return (rc);
	*forgotten = da.da_v[0];
	return (0);
}

struct qpg_gone_arg {
	const char	*ga_name;
	const struct queue_doc *ga_docs;
	size_t		 ga_n;
	uint8_t		*ga_out;
};

static int
qpg_gone_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_gone_arg	*ga = arg;
	PGresult		*r;
	uint64_t		 n;
	int			 k, rc;

	if ((rc = qpg_docs_q(t, "SELECT u.n FROM unnest($1::bytea[], "
	    "$2::bytea[]) WITH ORDINALITY AS u(tenant, extid, n) WHERE "
	    "EXISTS (SELECT 1 FROM quire_docs d WHERE d.tenant = u.tenant "
	    "AND d.extid = u.extid AND d.home <> $3) OR EXISTS (SELECT 1 "
	    "FROM quire_jobs j WHERE j.away = $3 AND j.tenant = u.tenant AND "
	    "j.extid = u.extid AND j.state = 3)", ga->ga_docs, ga->ga_n,
	    ga->ga_name, ga->ga_out, &r)) != 0)
		return (rc);
	for (k = 0; k < PQntuples(r); k++)
		if ((n = qpg_u64(r, k, 0)) >= 1 && n <= ga->ga_n)
			ga->ga_out[n - 1] = 1;
	PQclear(r);
	return (0);
}

/*
 * Which of docs[0..n), documents of the index of host name, which
 * drains, are gone from it (home.c deletes them): gone[i] set for
 * those whose home is another host, and for those a move away from it
 * brought to another host, acked, whose home record may be gone since
 * (deleted there).  One statement.
 */
int
queue_pg_drain_gone(struct queue *q, const char *name,
    const struct queue_doc *docs, size_t n, uint8_t *gone)
{
	struct qpg_gone_arg	 ga;

	ga.ga_name = name;
	ga.ga_docs = docs;
	ga.ga_n = n;
	ga.ga_out = gone;
	return (qpg_run(q, __func__, QPG_ONE, qpg_gone_txn, &ga));
}
