/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Hosts (queue_pg_host_beat, queue_pg_host_expire, queue_pg_hosts).
 * Each supervisor upserts its row about once a second, on the server's
 * clock (clock_timestamp(), in ms), not its own: the age of a beat is
 * then one clock's difference, whatever the skew between hosts.  A host
 * whose beat is older than host-expiry is dead; every live host looks
 * for dead ones as it beats, and releases their leases as a dead
 * worker's are released at the reap (a crash counted, the cause "host
 * NAME expired"), the dead hosts' rows locked FOR UPDATE SKIP LOCKED so
 * two live hosts do not both do it.  The dead host's workers, if they
 * still run somewhere, find their generations gone: their acks get
 * QUEUE_ESTALE.  Each statement of the supervisor's beat runs under a
 * short statement_timeout, so a slow server holds its loop briefly.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_BEAT_TIMEOUT "SET LOCAL statement_timeout = 500"

struct qpg_beat_arg {
	const char	*ba_http;
	uint64_t	 ba_started;
	int		 ba_stopped;
};

static int
qpg_beat_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_beat_arg	*ba = arg;
	struct qpg_args		 a;
	int			 rc;

	if ((rc = qpg_q(t, QPG_BEAT_TIMEOUT, NULL, NULL)) != 0)
		return (rc);
	qa_init(&a);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_str(&a, ba->ba_http);
	qa_u64(&a, getpid());
	qa_u64(&a, ba->ba_started);
	qa_str(&a, ba->ba_stopped ? "true" : "false");
	return (qpg_q(t, "INSERT INTO quire_hosts AS h (name, http, pid, "
	    "started, beat, stopped) VALUES ($1, $2, $3, $4, " QPG_SRV_MS
	    ", $5) ON CONFLICT (name) DO UPDATE SET http = $2, pid = $3, "
	    "started = $4, beat = " QPG_SRV_MS ", stopped = $5, expired = 0",
	    &a, NULL));
}

/*
 * This host's row: its HTTP address (or ""), when it started (ms), and
 * whether it is stopping cleanly (then it is not taken for dead).
 */
int
queue_pg_host_beat(struct queue *q, const char *http, uint64_t started,
    int stopped)
{
	struct qpg_beat_arg	 ba;

	ba.ba_http = http != NULL ? http : "";
	ba.ba_started = started;
	ba.ba_stopped = stopped;
	return (qpg_run(q, __func__, 0, qpg_beat_txn, &ba));
}

struct qpg_expire_arg {
	uint64_t	 ea_expiry;
	struct queue_release *ea_rel;
	char		*ea_names;
	size_t		 ea_len;
};

static int
qpg_expire_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_expire_arg	*ea = arg;
	struct qpg_release_arg	 ra;
	struct queue_release	 one;
	struct qpg_args		 a;
	PGresult		*r;
	char			 name[QPG_HOST_MAX + 1];
	char			 cause[QPG_HOST_MAX + 32];
	int			 i, n, rc;
	size_t			 k;

	memset(ea->ea_rel, 0, sizeof(*ea->ea_rel));
	ea->ea_names[0] = '\0';
	if ((rc = qpg_q(t, QPG_BEAT_TIMEOUT, NULL, NULL)) != 0)
		return (rc);
	qa_init(&a);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_u64(&a, ea->ea_expiry);
	if ((rc = qpg_q(t, "SELECT h.name FROM quire_hosts h WHERE "
	    "h.name <> $1 AND NOT h.stopped AND h.beat < " QPG_SRV_MS
	    " - $2 AND EXISTS (SELECT 1 FROM quire_jobs j WHERE j.state = 1 "
	    "AND j.lease_host = h.name) ORDER BY h.name "
	    "FOR UPDATE SKIP LOCKED", &a, &r)) != 0)
		return (rc);
	n = PQntuples(r);
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		qpg_text(name, sizeof(name), r, i, 0);
		snprintf(cause, sizeof(cause), "host %s expired", name);
		memset(&ra, 0, sizeof(ra));
		ra.ra_host = name;
		ra.ra_cause = cause;
		ra.ra_crash = QUEUE_CRASH_ALL;
		ra.ra_rel = &one;
		if ((rc = qpg_release_txn(t, &ra)) != 0)
			break;
		ea->ea_rel->qr_released += one.qr_released;
		ea->ea_rel->qr_dead += one.qr_dead;
		ea->ea_rel->qr_cancelled += one.qr_cancelled;
		k = strlen(ea->ea_names);
		snprintf(ea->ea_names + k, ea->ea_len - k, "%s%s",
		    k > 0 ? " " : "", name);
		qa_init(&a);
		qa_bin(t, &a, name);
		rc = qpg_q(t, "UPDATE quire_hosts SET expired = " QPG_SRV_MS
		    " WHERE name = $1", &a, NULL);
	}
	PQclear(r);
	return (rc);
}

/*
 * Release the leases of every other host whose beat is older than
 * expiry_ms (see the top): rel counts them, names gets the hosts'
 * names, space separated, cut to fit.
 */
int
queue_pg_host_expire(struct queue *q, uint64_t expiry_ms,
    struct queue_release *rel, char *names, size_t len)
{
	struct qpg_expire_arg	 ea;

	ea.ea_expiry = expiry_ms;
	ea.ea_rel = rel;
	ea.ea_names = names;
	ea.ea_len = len;
	return (qpg_run(q, __func__, 0, qpg_expire_txn, &ea));
}

struct qpg_hosts_arg {
	queue_host_cb	 ha_cb;
	void		*ha_arg;
};

static int
qpg_hosts_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_hosts_arg	*ha = arg;
	struct queue_host	 h;
	PGresult		*r;
	int			 i, n, rc;

	if ((rc = qpg_q(t, "SELECT h.name, h.http, h.pid, h.started, "
	    "h.beat, h.stopped, h.expired, greatest(" QPG_SRV_MS " - h.beat, "
	    "0), (SELECT count(*) FROM quire_jobs j WHERE j.state = 1 AND "
	    "j.lease_host = h.name), (SELECT coalesce(sum(c.n), 0) FROM "
	    "quire_home_docs c WHERE c.home = h.name), h.draining, "
	    "h.drained FROM quire_hosts h "
	    "ORDER BY h.name", NULL, &r)) != 0)
		return (rc);
	n = PQntuples(r);
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		memset(&h, 0, sizeof(h));
		qpg_text(h.qh_name, sizeof(h.qh_name), r, i, 0);
		strlcpy(h.qh_http, PQgetvalue(r, i, 1), sizeof(h.qh_http));
		h.qh_pid = qpg_u64(r, i, 2);
		h.qh_started = qpg_u64(r, i, 3);
		h.qh_beat = qpg_u64(r, i, 4);
		h.qh_stopped = PQgetvalue(r, i, 5)[0] == 't';
		h.qh_expired = qpg_u64(r, i, 6);
		h.qh_age = qpg_u64(r, i, 7);
		h.qh_leased = qpg_u64(r, i, 8);
		h.qh_docs = qpg_u64(r, i, 9);
		h.qh_draining = qpg_u64(r, i, 10);
		h.qh_drained = qpg_u64(r, i, 11);
		h.qh_self = strcmp(h.qh_name, t->t_pg->p_host) == 0;
		rc = ha->ha_cb(&h, ha->ha_arg);
	}
	PQclear(r);
	return (rc);
}

/* Each host of the table, in name order, to cb (non-zero stops). */
int
queue_pg_hosts(struct queue *q, queue_host_cb cb, void *arg)
{
	struct qpg_hosts_arg	 ha;

	ha.ha_cb = cb;
	ha.ha_arg = arg;
	return (qpg_run(q, __func__, 1, qpg_hosts_txn, &ha));
}

/* This host's name in the queue: host-name, else the machine's. */
const char *
queue_pg_host(struct queue *q)
{
	return (q->q_pg != NULL ? q->q_pg->p_host : "");
}
