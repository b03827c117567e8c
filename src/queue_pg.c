/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The job queue on PostgreSQL (libpq): the second backend of the queue
 * interface (struct queue_backend), with the semantics the interface's
 * comment in queue.c sets out (states, leases fenced by
 * generation, retries with backoff, dead letters, crash counting,
 * cancel, idempotency keys, priority aging, size tiers, retention,
 * spool counts), so that several hosts can share one queue.
 *
 * This file opens and closes the queue, claims and acks, and waits for
 * work; it holds the backend's table of operations (queue_pg_backend),
 * which names the rest, each part in a file of its own with its share
 * of the design at its top, all calling queue_pg_sql.c and none of them
 * this file (queue_pg.h):
 *
 *	queue_pg_schema.c	the schema, versioned, and its migrations
 *	queue_pg_enqueue.c	enqueue: a batch of jobs in one transaction
 *	queue_pg_spool.c	uploaded bodies in the database
 *	queue_pg_lease.c	heartbeat, fail, cancel, release, sweep
 *	queue_pg_homes.c	documents' home hosts
 *	queue_pg_hosts.c	hosts: beats, expiry, the list
 *	queue_pg_drain.c	the drain of a host, its documents' moves
 *	queue_pg_admin.c	counts, listings, watch, retry and purge
 *	queue_pg_sql.c		statements, parameters, bytea, transactions
 *				and their retries, the connection, totals
 *
 * Claim (policy).  One transaction, one call of quire_claim: a claim
 * alone is one statement in autocommit, a claim with acks the last
 * statement of the acks' transaction.  Retries whose time came are made
 * ready (at most 1024 a claim, FOR UPDATE SKIP LOCKED).  Then the
 * candidates are read and locked, FOR UPDATE SKIP LOCKED: for each
 * tenant with ready jobs and each priority, its oldest jobs (at most
 * the claim's size, an index scan each), each with its effective
 * priority, priority + (now - enq) / aging_ms, as in the LMDB backend.
 * The rows another claim holds are skipped, so two claimers read
 * different candidates and neither finds an empty queue while the
 * other works.  The candidates are ranked within their tenant
 * (effective priority, then priority, then id), and across tenants by
 * the tenant's jobs in flight plus that rank, then by when the tenant
 * was last served, least recently first: the tenant with the fewest
 * leased jobs gets the next one, and among equals the one that waited
 * longest.  Walking that order, the size tiers apply as in the LMDB
 * backend (at most claim_bytes, but always one job; big jobs only while
 * the big jobs in flight, across all hosts, stay under big_inflight,
 * one always allowed, none at big_inflight 0).  The chosen rows are
 * leased, each with a generation from quire_lease_gen, and their
 * tenants marked served; the candidates not chosen stay locked until
 * the commit.
 *
 * What differs from the LMDB backend's deficit round robin: the share
 * is in jobs, not in bytes (fair-quantum is not used: a tenant of big
 * documents gets as many jobs as a tenant of small ones), and there is
 * no saved credit nor cursor; the order is by jobs in flight, then by
 * the last time served.  Within a claim, tenants alternate one job at a
 * time as with DRR; across claims of one job each, the tenant with
 * fewer jobs in flight, or served less recently, goes first.
 *
 * Acks write the row at once: nothing is deferred, so qpg_settle has
 * nothing to do and returns 0.  Retention: at an ack, the done and
 * cancelled jobs are counted (up to the limit and its slack), at every
 * one while retain_done is at most QPG_TRIM_SMALL, else every
 * QPG_TRIM_EVERY ack calls of a connection and at its first; when they
 * pass retain_done, or the oldest outlives retain_age, by the slack the
 * LMDB backend allows (a sixteenth, at most 1024 jobs or 10 minutes),
 * the oldest are deleted back to the limits.
 *
 * Wake-ups: an enqueue, a retry made ready (by a claim, when its time
 * came, or by command), a release and a cancel NOTIFY the channel
 * quire_jobs in their transaction (delivered at its commit);
 * queue_pg_wait LISTENs on it and waits for one.
 */

#include <sys/types.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_CLAIM_MAX		1024	/* jobs per claim, at most */
#define QPG_TRIM_EVERY		16	/* ack calls between retention looks */
#define QPG_TRIM_SMALL		16384	/* retain_done: a look at every ack */
#define QPG_TRIM_PART		16
#define QPG_TRIM_SLACK		1024
#define QPG_TRIM_GRACE_MS	(10 * 60 * 1000)

/* Open and close. */

static void
qpg_close(struct queue *q)
{
	if (q->q_pg != NULL) {
		if (q->q_pg->p_conn != NULL)
			PQfinish(q->q_pg->p_conn);
		free(q->q_pg);
		q->q_pg = NULL;
	}
	free(q->q_unlink);
	q->q_unlink = NULL;
	q->q_nunlink = q->q_unlinkcap = 0;
}

static int
qpg_open(struct queue *q, const char *datadir, const struct queue_conf *qc)
{
	struct qpg	*pg;
	char		 err[512];

	memset(q, 0, sizeof(*q));
	q->q_be = &queue_pg_backend;
	if (qc != NULL)
		q->q_conf = *qc;
	else
		queue_conf_defaults(&q->q_conf);
	q->q_conf.qc_backend = QUEUE_BACKEND_PG;
	if (strlcpy(q->q_datadir, datadir, sizeof(q->q_datadir)) >=
	    sizeof(q->q_datadir)) {
		log_warnx("%s: data directory path too long", __func__);
		return (-1);
	}
	if (q->q_conf.qc_dsn[0] == '\0') {
		log_warnx("%s: the postgresql queue backend needs queue-dsn",
		    __func__);
		return (-1);
	}
	pg = xcalloc(1, sizeof(*pg));
	if (q->q_conf.qc_host[0] != '\0')
		strlcpy(pg->p_host, q->q_conf.qc_host, sizeof(pg->p_host));
	else if (gethostname(pg->p_host, sizeof(pg->p_host)) == -1)
		strlcpy(pg->p_host, "localhost", sizeof(pg->p_host));
	pg->p_host[sizeof(pg->p_host) - 1] = '\0';
	if ((pg->p_conn = qpg_connect(q->q_conf.qc_dsn, err, sizeof(err)))
	    == NULL) {
		log_warnx("%s: %s", __func__, err);
		free(pg);
		return (-1);
	}
	q->q_pg = pg;
	if (qpg_schema_check(q, __func__) == -1) {
		qpg_close(q);
		return (-1);
	}
	return (0);
}

/* Claim and ack. */

struct qpg_claim_arg {
	const struct queue_lease *ca_acks;
	size_t			 ca_nacks;
	int			*ca_results;
	const struct queue_owner *ca_owner;
	struct job		*ca_out;
	size_t			 ca_max;
	size_t			 ca_n;
};

/*
 * Ack acks[0..n) in one statement; results[i] is QUEUE_OK, QUEUE_ECANCEL
 * when the job ended cancelled, or QUEUE_ESTALE when its lease is gone
 * (an id named twice counts once: the second is stale).
 */
static int
qpg_acks(struct qpg_tx *t, const struct queue_lease *acks, size_t n,
    int *results)
{
	struct qpg_args	 a;
	struct buf	 ids, gens;
	PGresult	*r;
	char		 path[JOB_PATH_MAX + 1];
	uint64_t	*acked;
	uint8_t		*used;
	size_t		 i, moves = 0;
	int		 k, rows, rc;

	buf_init(&ids);
	buf_init(&gens);
	for (i = 0; i < n; i++) {
		results[i] = QUEUE_ESTALE;
		qpg_arr_i64(&ids, acks[i].ql_id);
		qpg_arr_i64(&gens, acks[i].ql_gen);
	}
	qa_init(&a);
	qa_str(&a, qpg_arr_end(&ids));
	qa_str(&a, qpg_arr_end(&gens));
	qa_u64(&a, t->t_now);
	rc = qpg_q(t, "UPDATE quire_jobs j SET state = CASE WHEN j.cancel "
	    "THEN 5 ELSE 3 END, updated = $3, deadline = 0, big = false "
	    "FROM unnest($1::bigint[], $2::bigint[]) AS a(id, gen) "
	    "WHERE j.id = a.id AND j.gen = a.gen AND j.state = 1 "
	    "RETURNING j.id, j.cancel, j.srckind, j.path", &a, &r);
	buf_free(&ids);
	buf_free(&gens);
	if (rc != 0)
		return (rc);
	rows = PQntuples(r);
	used = xcalloc(rows + 1, 1);
	for (i = 0; i < n; i++)
		for (k = 0; k < rows; k++)
			if (!used[k] && qpg_u64(r, k, 0) == acks[i].ql_id) {
				used[k] = 1;
				results[i] = PQgetvalue(r, k, 1)[0] == 't' ?
				    QUEUE_ECANCEL : QUEUE_OK;
				break;
			}
	acked = xcalloc(rows + 1, sizeof(*acked));
	for (k = 0; k < rows && rc == 0; k++) {
		t->t_tot[QT_COMPLETED]++;
		t->t_tot[PQgetvalue(r, k, 1)[0] == 't' ? QT_CANCELLED :
		    QT_DONE]++;
		qpg_text(path, sizeof(path), r, k, 3);
		rc = qpg_spool_ref(t, qpg_i64(r, k, 2), path);
		acked[k] = qpg_u64(r, k, 0);
		moves += qpg_i64(r, k, 2) == SRC_MOVE;
	}
	free(used);
	PQclear(r);
	qsort(acked, rows, sizeof(*acked), qpg_idcmp);
	if (rc == 0 && rows > 0 && t->t_pg->p_ndocs > 0)
		rc = qpg_homes(t, acked, rows);
	/* A move's body is no longer needed. */
	if (rc == 0 && moves > 0) {
		buf_init(&ids);
		for (k = 0; k < rows; k++)
			qpg_arr_i64(&ids, acked[k]);
		qa_init(&a);
		qa_str(&a, qpg_arr_end(&ids));
		rc = qpg_q(t, "DELETE FROM quire_bodies WHERE "
		    "job = ANY($1::bigint[])", &a, NULL);
		buf_free(&ids);
	}
	free(acked);
	return (rc);
}

/*
 * Retention: the done and cancelled jobs beyond retain_done or older
 * than retain_age go, oldest first, when they pass a limit by its
 * slack.
 */
static int
qpg_retain(struct qpg_tx *t)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct qpg_args	 a;
	uint64_t	 ndone, oldest, slack, grace, age, over = 0, cut = 0;
	int		 rc, found;

	slack = qc->qc_retain_done / QPG_TRIM_PART;
	if (slack > QPG_TRIM_SLACK)
		slack = QPG_TRIM_SLACK;
	/* Counted up to the limit and its slack, and one more. */
	qa_init(&a);
	qa_u64(&a, qc->qc_retain_done > INT64_MAX - slack - 1 ? INT64_MAX :
	    qc->qc_retain_done + slack + 1);
	if ((rc = qpg_q1(t, "SELECT count(*) FROM (SELECT 1 FROM quire_jobs "
	    "WHERE state IN (3, 5) LIMIT $1) d", &a, &ndone, NULL)) != 0 ||
	    ndone == 0)
		return (rc);
	if ((rc = qpg_q1(t, "SELECT min(updated) FROM quire_jobs WHERE "
	    "state IN (3, 5)", NULL, &oldest, &found)) != 0)
		return (rc);
	if (ndone > qc->qc_retain_done + slack)
		over = ndone - qc->qc_retain_done;
	grace = qc->qc_retain_age_ms / QPG_TRIM_PART;
	if (grace > QPG_TRIM_GRACE_MS)
		grace = QPG_TRIM_GRACE_MS;
	age = qc->qc_retain_age_ms > UINT64_MAX - grace ? UINT64_MAX :
	    qc->qc_retain_age_ms + grace;
	if (t->t_now >= oldest && t->t_now - oldest >= age &&
	    t->t_now >= qc->qc_retain_age_ms)
		cut = t->t_now - qc->qc_retain_age_ms;
	if (over == 0 && cut == 0)
		return (0);
	qa_init(&a);
	qa_u64(&a, over > 0 ? qc->qc_retain_done : UINT64_MAX);
	qa_u64(&a, cut);
	return (qpg_q(t, "DELETE FROM quire_jobs WHERE id IN (SELECT id FROM "
	    "(SELECT id, updated, row_number() OVER (ORDER BY updated DESC, "
	    "id DESC) AS newer FROM quire_jobs WHERE state IN (3, 5)) o "
	    "WHERE o.newer > $1::numeric OR o.updated <= $2)", &a, NULL));
}

/* A setting as a bigint's value: a larger one is as good as infinite. */
static uint64_t
qpg_clamp(uint64_t v)
{
	return (v > INT64_MAX ? INT64_MAX : v);
}

/*
 * The claim itself, one call of quire_claim on the server (schema
 * version 6), which runs the policy of the comment at the top: the
 * retries whose time came made ready (and a NOTIFY when there were),
 * the big jobs in flight summed, the candidates read and locked, the
 * size tiers applied to them in their order, the chosen ones leased and
 * their tenants marked served.  Its statements' plans are kept by the
 * server for the session, so a claim is planned once per connection,
 * not at each call, and it is one round trip.  The jobs come back in
 * the policy's order.
 */
static int
qpg_claim_jobs(struct qpg_tx *t, struct qpg_claim_arg *ca)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct qpg_args	 a;
	PGresult	*r;
	int		 i, rc;

	qa_init(&a);
	qa_u64(&a, t->t_now);
	qa_u64(&a, qpg_clamp(qc->qc_aging_ms));
	qa_u64(&a, ca->ca_max);
	qa_u64(&a, 4 * ca->ca_max + 16);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_u64(&a, qpg_clamp(qc->qc_claim_bytes));
	qa_u64(&a, qpg_clamp(qc->qc_big_bytes));
	qa_u64(&a, qpg_clamp(qc->qc_big_inflight));
	qa_u64(&a, qpg_clamp(t->t_now + qc->qc_lease_ms));
	qa_u64(&a, ca->ca_owner->qo_pid);
	qa_u64(&a, ca->ca_owner->qo_slot);
	if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_claim($1, $2, $3, "
	    "$4, $5, $6, $7, $8, $9, $10, $11) WITH ORDINALITY "
	    "ORDER BY ordinality", &a, &r)) != 0)
		return (rc);
	for (i = 0; i < PQntuples(r) && ca->ca_n < ca->ca_max; i++)
		qpg_row_job(r, i, 0, &ca->ca_out[ca->ca_n++]);
	PQclear(r);
	return (0);
}

static int
qpg_claim_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_claim_arg	*ca = arg;
	int			 rc;

	ca->ca_n = 0;
	if (ca->ca_nacks > 0 && (rc = qpg_acks(t, ca->ca_acks, ca->ca_nacks,
	    ca->ca_results)) != 0)
		return (rc);
	if (ca->ca_nacks > 0 && (t->t_pg->p_acks++ % QPG_TRIM_EVERY == 0 ||
	    t->t_q->q_conf.qc_retain_done <= QPG_TRIM_SMALL) &&
	    (rc = qpg_retain(t)) != 0)
		return (rc);
	if (ca->ca_max == 0)
		return (0);
	return (qpg_claim_jobs(t, ca));
}

static int
qpg_ack_claim(struct queue *q, const struct queue_lease *acks, size_t nacks,
    int *results, const struct queue_owner *owner, struct job *out,
    size_t max, size_t *n)
{
	struct qpg_claim_arg	 ca;
	int			 rc;

	memset(&ca, 0, sizeof(ca));
	ca.ca_acks = acks;
	ca.ca_nacks = nacks;
	ca.ca_results = results;
	ca.ca_owner = owner;
	ca.ca_out = out;
	ca.ca_max = max > QPG_CLAIM_MAX ? QPG_CLAIM_MAX : max;
	/* A claim alone is one statement, its own transaction. */
	rc = qpg_run(q, __func__, nacks == 0 ? QPG_AUTO : 0, qpg_claim_txn,
	    &ca);
	if (q->q_pg != NULL) {
		q->q_pg->p_docs = NULL;
		q->q_pg->p_ndocs = 0;
	}
	if (n != NULL)
		*n = rc == 0 ? ca.ca_n : 0;
	return (rc);
}

static int
qpg_claim(struct queue *q, const struct queue_owner *owner, struct job *out,
    size_t max, size_t *n)
{
	return (qpg_ack_claim(q, NULL, 0, NULL, owner, out, max, n));
}

static int
qpg_ack(struct queue *q, const struct queue_lease *acks, size_t n,
    int *results)
{
	return (qpg_ack_claim(q, acks, n, results, NULL, NULL, 0, NULL));
}

/* Nothing is deferred: an ack writes its row at once. */
static int
qpg_settle(struct queue *q)
{
	(void)q;
	return (0);
}

/* Wake-ups. */

/* Whether a notification is in; -1 when the connection failed. */
static int
qpg_notified(PGconn *conn)
{
	PGnotify	*n;
	int		 got = 0;

	if (PQconsumeInput(conn) == 0)
		return (-1);
	while ((n = PQnotifies(conn)) != NULL) {
		got = 1;
		PQfreemem(n);
	}
	return (got);
}

/* LISTEN on the channel, once per connection: 0, or -1. */
static int
qpg_listen(struct qpg *pg)
{
	PGresult	*r;

	if (pg->p_listening)
		return (0);
	if (PQstatus(pg->p_conn) != CONNECTION_OK && qpg_lost(pg) == -1)
		return (-1);
	r = PQexec(pg->p_conn, "LISTEN " QPG_CHANNEL);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		qpg_log(__func__, "LISTEN", PQerrorMessage(pg->p_conn));
		PQclear(r);
		return (-1);
	}
	PQclear(r);
	pg->p_listening = 1;
	return (0);
}

/*
 * Wait up to timeout_ms for a notification on the channel (an enqueue,
 * a retry made ready, a release, a cancel): 1 notified, 0 timed out, -1
 * error.  The first call LISTENs; notifications that came since are
 * counted, so one made between a claim that found nothing and this
 * wait is not lost.
 */
int
queue_pg_wait(struct queue *q, int timeout_ms)
{
	struct qpg	*pg = q->q_pg;
	struct pollfd	 pfd;
	uint64_t	 end, now;
	int		 rc, ms;

	if (pg == NULL || pg->p_conn == NULL)
		return (-1);
	if (qpg_listen(pg) == -1)
		return (-1);
	end = util_now_ms() + (timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
	for (;;) {
		if ((rc = qpg_notified(pg->p_conn)) != 0) {
			if (rc == -1)
				qpg_log(__func__, "PostgreSQL",
				    PQerrorMessage(pg->p_conn));
			return (rc);
		}
		now = util_now_ms();
		if (now >= end)
			return (0);
		ms = end - now > INT32_MAX ? INT32_MAX : (int)(end - now);
		pfd.fd = PQsocket(pg->p_conn);
		pfd.events = POLLIN;
		if (pfd.fd < 0)
			return (-1);
		if (poll(&pfd, 1, ms) == -1 && errno != EINTR) {
			log_warn("%s: poll", __func__);
			return (-1);
		}
	}
}

/*
 * The connection's socket, LISTENing, for a caller that polls it with
 * descriptors of its own and then calls queue_pg_wait(q, 0); -1 when
 * the connection failed.  The descriptor changes when the connection
 * is made again: ask for it before each poll.
 */
int
queue_pg_fd(struct queue *q)
{
	struct qpg	*pg = q->q_pg;

	if (pg == NULL || pg->p_conn == NULL || qpg_listen(pg) == -1)
		return (-1);
	return (PQsocket(pg->p_conn));
}

/*
 * The server and database of the connection, "host H port P dbname D
 * user U", for status: never the password.
 */
void
queue_pg_where(struct queue *q, char *buf, size_t len)
{
	PGconn	*c;

	buf[0] = '\0';
	if (q->q_pg == NULL || (c = q->q_pg->p_conn) == NULL)
		return;
	snprintf(buf, len, "host %s port %s dbname %s user %s",
	    PQhost(c) != NULL ? PQhost(c) : "?",
	    PQport(c) != NULL ? PQport(c) : "?",
	    PQdb(c) != NULL ? PQdb(c) : "?",
	    PQuser(c) != NULL ? PQuser(c) : "?");
}

const struct queue_backend queue_pg_backend = {
	.qb_name = "postgresql",
	.qb_open = qpg_open,
	.qb_close = qpg_close,
	.qb_enqueue = qpg_enqueue,
	.qb_claim = qpg_claim,
	.qb_ack = qpg_ack,
	.qb_ack_claim = qpg_ack_claim,
	.qb_settle = qpg_settle,
	.qb_heartbeat = qpg_heartbeat,
	.qb_fail = qpg_fail,
	.qb_cancel = qpg_cancel,
	.qb_cancel_job = qpg_cancel_job,
	.qb_release_pid = qpg_release_pid,
	.qb_sweep = qpg_sweep,
	.qb_extend_pid = qpg_extend_pid,
	.qb_retry = qpg_retry,
	.qb_retry_dead = qpg_retry_dead,
	.qb_retry_dead_tenant = qpg_retry_dead_tenant,
	.qb_purge = qpg_purge,
	.qb_purge_tenant = qpg_purge_tenant,
	.qb_stats = qpg_stats,
	.qb_get = qpg_get,
	.qb_list = qpg_list,
	.qb_page = qpg_page,
	.qb_spool_refs = qpg_spool_refs,
	.qb_tenants = qpg_tenants,
	.qb_watch = qpg_watch,
	.qb_docs = qpg_docs,
};
