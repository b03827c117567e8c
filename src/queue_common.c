/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What every queue backend shares and needs no storage for: the
 * defaults of a queue's configuration, the clock (fixed by tests), the
 * backoff of retries, what a result means and which storage fault it
 * is, and how a host of a shared queue is named.  The backends
 * (queue_lmdb.c, queue_pg.c) and their callers use these; they call
 * nothing of the queue themselves.
 */

#include <sys/types.h>

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

uint64_t
queue_now(struct queue *q)
{
	return (q->q_fixed_now != 0 ? q->q_fixed_now : util_now_ms());
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
