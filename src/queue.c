/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The durable job queue's interface.  Each queue_* operation that
 * touches storage calls the backend queue_open chose from qc_backend
 * (struct queue_backend in quire.h) with the same arguments and returns
 * what it returns: queue_lmdb.c, the default, keeps the queue in the
 * LMDB environment DATADIR/queue (its layout is at the top of that
 * file); queue_pg.c keeps it in PostgreSQL, which several hosts share.
 * What needs no storage is here: the defaults, the clock, the backoff
 * and what the results mean.
 *
 * Every backend keeps the same queue:
 *
 *   States.  A job is ready, leased, retry (waiting for its backoff),
 *   done, dead (a dead letter) or cancelled, in one place at a time, and
 *   the counts per state and per tenant (queue_stats, queue_tenants)
 *   move with each job in the same transaction.  A claim leases ready
 *   jobs; an ack makes them done; a failure makes a job retry, with the
 *   backoff of queue_backoff, or dead after max_attempts (at once when
 *   it is permanent).  Cancel takes a ready or retrying job to cancelled
 *   at once and flags a leased one, whose holder learns of it at its
 *   next heartbeat or ack (QUEUE_ECANCEL).  A worker's leases go back to
 *   ready when it dies (queue_release_pid), and a job whose holders died
 *   max_crashes times is a dead letter; expired leases count a failed
 *   attempt (queue_sweep).
 *
 *   Leases are fenced by generation.  Every claim stamps a new lease
 *   generation from one counter; heartbeat, ack and fail name (id,
 *   generation) and get QUEUE_ESTALE when the lease is gone or is
 *   another's, so a worker presumed dead cannot finish a job twice.
 *
 *   Fairness.  A claim visits the tenants with ready jobs in turn (deficit
 *   round robin in bytes, fair_unit per visit, the cursor kept across
 *   claims), and within a tenant takes the job of the highest effective
 *   priority, priority + waited / aging_ms, then the older.
 *
 *   Tiers.  A claim takes at most claim_bytes of input (but always one
 *   job), and jobs of big_bytes or more only while the big jobs in
 *   flight stay under big_inflight (one always may; 0 holds all back).
 *
 *   Retention.  Done and cancelled jobs beyond retain_done or older than
 *   retain_age go, in batches, and queue_purge removes done jobs or dead
 *   letters on command, forgetting their idempotency keys with them.
 *
 *   Idempotency keys.  An enqueue whose key a kept job holds gets that
 *   job's id and qn_dup, and adds nothing.
 *
 *   Home hosts (PostgreSQL only).  A document's home is the host whose
 *   ack first recorded it (queue_docs); a job whose document has a
 *   home, or that is pinned to a host (qn_home), is claimed by that
 *   host alone.
 *
 *   Spool files.  An uploaded body stays in spool/ while a job may still
 *   read it (queue_spool_refs), and is removed once no committed job
 *   needs it.  PostgreSQL keeps it instead, for every host: the enqueue
 *   copies it into the database and removes the file after its commit,
 *   and the body goes with the last job that needs it
 *   (queue_pg_spool_read).
 *
 * The results are QUEUE_OK, the codes in quire.h (QUEUE_ESTALE, ...),
 * a storage fault (QUEUE_ENOSPC, QUEUE_EMAPFULL, QUEUE_EIO: see
 * queue_fault) or QUEUE_ERROR, which the backend has logged.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

void
queue_conf_defaults(struct queue_conf *qc)
{
	memset(qc, 0, sizeof(*qc));
	qc->qc_max_attempts = 5;
	qc->qc_max_crashes = 3;
	qc->qc_backoff_ms = 1000;
	qc->qc_backoff_max_ms = 5 * 60 * 1000;
	qc->qc_lease_ms = 60 * 1000;
	qc->qc_aging_ms = 30 * 1000;
	qc->qc_claim_bytes = 8ULL << 20;
	qc->qc_big_bytes = 16ULL << 20;
	qc->qc_big_inflight = 256ULL << 20;
	qc->qc_fair_unit = 1ULL << 20;
	qc->qc_retain_done = 100000;
	qc->qc_retain_age_ms = 7ULL * 24 * 3600 * 1000;
	qc->qc_mapsize = STORE_MAPSIZE_DEFAULT;
	qc->qc_sync = STORE_SYNC_FULL;
	qc->qc_backend = QUEUE_BACKEND_LMDB;
}

/*
 * Open the queue of datadir in the backend qc names (LMDB without a
 * conf), which sets its defaults when qc is NULL.  -1 with errno
 * EINVAL for an unknown backend, or the errno the backend left.
 */
int
queue_open(struct queue *q, const char *datadir, const struct queue_conf *qc)
{
	const struct queue_backend	*be;

	q->q_be = NULL;
	if (qc == NULL || qc->qc_backend == QUEUE_BACKEND_LMDB)
		be = &queue_lmdb_backend;
	else if (qc->qc_backend == QUEUE_BACKEND_PG)
		be = &queue_pg_backend;
	else {
		log_warnx("%s: unknown queue backend %d", __func__,
		    qc->qc_backend);
		errno = EINVAL;
		return (-1);
	}
	if (be->qb_open(q, datadir, qc) == -1)
		return (-1);
	q->q_be = be;
	return (0);
}

/* Nothing to close when the open failed or the queue is closed. */
void
queue_close(struct queue *q)
{
	if (q->q_be != NULL)
		q->q_be->qb_close(q);
	q->q_be = NULL;
}

/*
 * The queue's LMDB environment, for what only LMDB has (reader slots,
 * map limits, syncs): NULL for another backend or a closed queue.
 */
struct store *
queue_store(struct queue *q)
{
	if (q->q_be != &queue_lmdb_backend)
		return (NULL);
	return (&q->q_store);
}

/* "lmdb" or "postgresql"; "closed" when the queue is not open. */
const char *
queue_backend_name(const struct queue *q)
{
	return (q->q_be != NULL ? q->q_be->qb_name : "closed");
}

/*
 * Where the queue is, for status: nothing for LMDB (the data directory
 * says it), the server and database for PostgreSQL, never a password.
 */
void
queue_where(struct queue *q, char *buf, size_t len)
{
	buf[0] = '\0';
	if (q->q_be == &queue_pg_backend)
		queue_pg_where(q, buf, len);
}

/*
 * A host of a shared queue as every reader names it: "stopped" when it
 * stopped cleanly, "dead" when its last beat is older than expiry_ms,
 * else "live".
 */
const char *
queue_host_state(const struct queue_host *h, uint64_t expiry_ms)
{
	if (h->qh_stopped)
		return ("stopped");
	return (h->qh_age > expiry_ms ? "dead" : "live");
}

/* A host's drain: "draining", "drained", or NULL when it has none. */
const char *
queue_host_drain(const struct queue_host *h)
{
	if (h->qh_drained != 0)
		return ("drained");
	return (h->qh_draining != 0 ? "draining" : NULL);
}

uint64_t
queue_now(struct queue *q)
{
	return (q->q_fixed_now != 0 ? q->q_fixed_now : util_now_ms());
}

/* A job's fields within their limits, as every backend keeps them. */
static int
queue_new_ok(const struct queue_new *qn)
{
	return (qn->qn_prio >= JOB_PRIO_MIN && qn->qn_prio <= JOB_PRIO_MAX &&
	    qn->qn_srckind >= 0 && qn->qn_srckind < SRC_NKINDS &&
	    (qn->qn_key == NULL || strlen(qn->qn_key) <= JOB_KEY_MAX) &&
	    (qn->qn_tenant == NULL ||
	    strlen(qn->qn_tenant) <= JOB_TENANT_MAX) &&
	    (qn->qn_path == NULL || strlen(qn->qn_path) <= JOB_PATH_MAX) &&
	    (qn->qn_lang == NULL || strlen(qn->qn_lang) <= JOB_LANG_MAX) &&
	    (qn->qn_extid == NULL || strlen(qn->qn_extid) <= JOB_EXTID_MAX) &&
	    (qn->qn_title == NULL || strlen(qn->qn_title) <= JOB_TITLE_MAX) &&
	    (qn->qn_ctype == NULL || strlen(qn->qn_ctype) <= JOB_CTYPE_MAX) &&
	    (qn->qn_srckind != SRC_SPOOL ||
	    (qn->qn_path != NULL && spool_name_ok(qn->qn_path))) &&
	    (qn->qn_srckind != SRC_MOVE ||
	    (qn->qn_body != NULL && qn->qn_away != NULL)));
}

/*
 * All the jobs or none: QUEUE_EINVAL if one breaks a limit, or needs
 * what only a shared queue keeps (a move: a body, a host to avoid).
 */
int
queue_enqueue(struct queue *q, struct queue_new *jobs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!queue_new_ok(&jobs[i]) ||
		    (q->q_be != &queue_pg_backend &&
		    (jobs[i].qn_body != NULL || jobs[i].qn_away != NULL)))
			return (QUEUE_EINVAL);
	return (q->q_be->qb_enqueue(q, jobs, n));
}

int
queue_claim(struct queue *q, const struct queue_owner *owner,
    struct job *out, size_t max, size_t *n)
{
	return (q->q_be->qb_claim(q, owner, out, max, n));
}

int
queue_ack(struct queue *q, const struct queue_lease *acks, size_t n,
    int *results)
{
	return (q->q_be->qb_ack(q, acks, n, results));
}

int
queue_ack_claim(struct queue *q, const struct queue_lease *acks,
    size_t nacks, int *results, const struct queue_owner *owner,
    struct job *out, size_t max, size_t *n)
{
	return (q->q_be->qb_ack_claim(q, acks, nacks, results, owner, out,
	    max, n));
}

int
queue_settle(struct queue *q)
{
	return (q->q_be->qb_settle(q));
}

int
queue_heartbeat(struct queue *q, uint64_t id, uint64_t gen, uint64_t progress)
{
	return (q->q_be->qb_heartbeat(q, id, gen, progress));
}

int
queue_fail(struct queue *q, uint64_t id, uint64_t gen, const char *reason,
    int permanent, int *state)
{
	return (q->q_be->qb_fail(q, id, gen, reason, permanent, state));
}

int
queue_cancel(struct queue *q, uint64_t id)
{
	return (q->q_be->qb_cancel(q, id));
}

int
queue_cancel_job(struct queue *q, uint64_t id, struct queue_cancelled *cx)
{
	return (q->q_be->qb_cancel_job(q, id, cx));
}

int
queue_release_pid(struct queue *q, uint32_t pid, const char *cause,
    uint64_t crash, struct queue_release *rel)
{
	return (q->q_be->qb_release_pid(q, pid, cause, crash, rel));
}

int
queue_sweep(struct queue *q, struct queue_release *rel)
{
	return (q->q_be->qb_sweep(q, rel));
}

int
queue_extend_pid(struct queue *q, uint32_t pid)
{
	return (q->q_be->qb_extend_pid(q, pid));
}

int
queue_retry(struct queue *q, uint64_t id)
{
	return (q->q_be->qb_retry(q, id));
}

int
queue_retry_dead(struct queue *q, uint64_t *n)
{
	return (q->q_be->qb_retry_dead(q, n));
}

int
queue_retry_dead_tenant(struct queue *q, const char *tenant, uint64_t *n)
{
	return (q->q_be->qb_retry_dead_tenant(q, tenant, n));
}

int
queue_purge(struct queue *q, int state, uint64_t older_ms, uint64_t keep,
    uint64_t *n)
{
	return (q->q_be->qb_purge(q, state, older_ms, keep, n));
}

int
queue_purge_tenant(struct queue *q, int state, const char *tenant,
    uint64_t older_ms, uint64_t keep, uint64_t *n)
{
	return (q->q_be->qb_purge_tenant(q, state, tenant, older_ms, keep, n));
}

int
queue_stats(struct queue *q, struct queue_stats *qs)
{
	return (q->q_be->qb_stats(q, qs));
}

int
queue_get(struct queue *q, uint64_t id, struct job *j)
{
	return (q->q_be->qb_get(q, id, j));
}

int
queue_list(struct queue *q, int state, size_t limit, queue_list_cb cb,
    void *arg)
{
	return (q->q_be->qb_list(q, state, limit, cb, arg));
}

int
queue_page(struct queue *q, struct queue_page *qp, queue_list_cb cb,
    void *arg)
{
	return (q->q_be->qb_page(q, qp, cb, arg));
}

int
queue_spool_refs(struct queue *q, const char *name, uint64_t *n)
{
	return (q->q_be->qb_spool_refs(q, name, n));
}

int
queue_tenants(struct queue *q, queue_tenant_cb cb, void *arg)
{
	return (q->q_be->qb_tenants(q, cb, arg));
}

int
queue_watch(struct queue *q, const uint64_t *ids, size_t nids,
    uint64_t *after, size_t newmax, queue_list_cb cb, void *arg)
{
	return (q->q_be->qb_watch(q, ids, nids, after, newmax, cb, arg));
}

/*
 * The documents the jobs of the next ack (queue_ack or queue_ack_claim)
 * indexed or deleted: for the jobs that ack takes, the backend records
 * each document's home host in the ack's transaction, then forgets them
 * whatever the ack's outcome.  A backend without home records (LMDB:
 * one host) does nothing.
 */
int
queue_docs(struct queue *q, const struct queue_doc *docs, size_t n)
{
	if (q->q_be->qb_docs == NULL)
		return (0);
	return (q->q_be->qb_docs(q, docs, n));
}

/*
 * Exponential backoff with "equal jitter": the n-th retry waits between
 * half and all of min(backoff_max, backoff * 2^(n-1)).
 */
uint64_t
queue_backoff(const struct queue_conf *qc, uint32_t attempts)
{
	uint64_t	 d = qc->qc_backoff_ms;
	uint32_t	 i, half;

	for (i = 1; i < attempts && d < qc->qc_backoff_max_ms; i++)
		d *= 2;
	if (d > qc->qc_backoff_max_ms)
		d = qc->qc_backoff_max_ms;
	if (d < 2)
		return (d);
	half = d / 2 > UINT32_MAX - 1 ? UINT32_MAX - 1 : d / 2;
	return (d - half + arc4random_uniform(half + 1));
}

const char *
queue_strerror(int rc)
{
	switch (rc) {
	case QUEUE_OK:
		return ("success");
	case QUEUE_ENOENT:
		return ("no such job");
	case QUEUE_ESTALE:
		return ("lease lost (stale generation)");
	case QUEUE_ESTATE:
		return ("job is not in a state for this");
	case QUEUE_ECANCEL:
		return ("cancel requested");
	case QUEUE_EINVAL:
		return ("invalid argument");
	case QUEUE_ENOSPC:
		return ("storage full: no space left in the data directory");
	case QUEUE_EMAPFULL:
		return ("storage full: the queue's map reached map-max");
	case QUEUE_EIO:
		return ("storage error: I/O error in the data directory");
	case QUEUE_EDOWN:
		return ("storage error: the queue's PostgreSQL server cannot "
		    "be reached");
	default:
		return ("queue error (see log)");
	}
}

/* The storage fault a queue result is, if any. */
int
queue_fault(int rc)
{
	switch (rc) {
	case QUEUE_ENOSPC:
		return (STORE_FAULT_FULL);
	case QUEUE_EMAPFULL:
		return (STORE_FAULT_MAP);
	case QUEUE_EIO:
		return (STORE_FAULT_IO);
	case QUEUE_EDOWN:
		return (STORE_FAULT_DOWN);
	default:
		return (STORE_FAULT_NONE);
	}
}
