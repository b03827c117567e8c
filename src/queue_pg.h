/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's own declarations, shared by queue_pg.c and
 * the queue_pg_*.c files it is made of (and by contrib/bench/benchpg.c,
 * which connects as the queue does), apart from quire.h, which only
 * knows struct qpg by name.  queue_pg_sql.c is the layer all the others
 * call; none of them calls queue_pg.c, which holds the backend's table
 * of operations.
 */

#ifndef QUIRE_QUEUE_PG_H
#define QUIRE_QUEUE_PG_H

#include <libpq-fe.h>

#define QPG_CHANNEL		"quire_jobs"
#define QPG_ARGS_MAX		24
#define QPG_ESQL		-100	/* a statement failed: see t_sqlstate */
#define QPG_ONE			2	/* qpg_run: one statement, no BEGIN */
#define QPG_AUTO		3	/* qpg_run: one that writes, no BEGIN */
#define QPG_HOST_MAX		255

/* A job's columns, in the order qpg_row_job reads them. */
#define QPG_COLS	"id, coalesce(idem_key, ''::bytea), tenant, tid, " \
	"prio, " \
	"size, srckind, path, src_off, src_len, state, attempts, crashes, " \
	"lease_slot, lease_pid, gen, deadline, progress, cancel, created, " \
	"updated, runat, error, lang, extid, title, ctype"

/* The server's clock in ms, for the hosts' beats and drains. */
#define QPG_SRV_MS \
	"(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/* The totals a transaction adds to quire_totals. */
enum {
	QT_ENQUEUED, QT_COMPLETED, QT_FAILED, QT_RELEASED, QT_DONE,
	QT_RETRIED, QT_CANCELLED, QT_N
};

struct qpg {
	PGconn		*p_conn;
	char		 p_host[QPG_HOST_MAX + 1];	/* lease holder name */
	int		 p_listening;
	uint64_t	 p_lost_at;	/* monotonic ms; 0: connected */
	uint64_t	 p_retry_at;	/* no reconnection before */
	uint64_t	 p_retry_ms;	/* the wait after the next failure */
	uint64_t	 p_acks;	/* ack calls, for retention */
	/* The next ack's documents (queue_docs), the caller's memory. */
	const struct queue_doc *p_docs;
	size_t		 p_ndocs;
};

/* One transaction. */
struct qpg_tx {
	struct queue	*t_q;
	struct qpg	*t_pg;
	uint64_t	 t_now;
	int64_t		 t_tot[QT_N];
	int		 t_notify;
	char		 t_sqlstate[6];
	char		**t_mem;	/* parameters' text, freed at the end */
	size_t		 t_nmem;
};

/*
 * The parameters of one statement, as text, but for those qa_raw gives
 * as bytes (a body's piece, sent as it is); a_binres: the result's
 * values as bytes too, not as text.
 */
struct qpg_args {
	const char	*a_val[QPG_ARGS_MAX];
	char		 a_buf[QPG_ARGS_MAX][24];
	int		 a_len[QPG_ARGS_MAX];
	int		 a_fmt[QPG_ARGS_MAX];
	int		 a_n;
	int		 a_raw;
	int		 a_binres;
};

typedef int	 (*qpg_fn)(struct qpg_tx *, void *);

/*
 * A release of leases (queue_pg_lease.c): a pid's of this host, a dead
 * host's (queue_pg_hosts.c), or the expired ones (the sweep).
 */
struct qpg_release_arg {
	const char	*ra_host;	/* a dead host's leases, all */
	uint32_t	 ra_pid;
	const char	*ra_cause;
	uint64_t	 ra_crash;
	int		 ra_sweep;
	struct queue_release *ra_rel;
	uint64_t	 ra_left;	/* leases qpg_release_fast left */
};

/* queue_pg_sql.c */
void		 qa_init(struct qpg_args *);
void		 qa_u64(struct qpg_args *, uint64_t);
void		 qa_i64(struct qpg_args *, int64_t);
void		 qa_str(struct qpg_args *, const char *);
void		 qa_raw(struct qpg_args *, const void *, size_t);
void		 qa_bin(struct qpg_tx *, struct qpg_args *, const char *);
void		 qa_err(struct qpg_tx *, struct qpg_args *, const char *);
void		 qpg_log(const char *, const char *, const char *);
int		 qpg_q(struct qpg_tx *, const char *, const struct qpg_args *,
		    PGresult **);
uint64_t	 qpg_u64(const PGresult *, int, int);
int64_t		 qpg_i64(const PGresult *, int, int);
int		 qpg_q1(struct qpg_tx *, const char *, const struct qpg_args *,
		    uint64_t *, int *);
void		 qpg_text(char *, size_t, const PGresult *, int, int);
void		 qpg_hexbuf(struct buf *, const char *);
void		 qpg_row_job(const PGresult *, int, int, struct job *);
int		 qpg_idcmp(const void *, const void *);
void		 qpg_arr_i64(struct buf *, int64_t);
void		 qpg_arr_binlen(struct buf *, const void *, size_t);
void		 qpg_arr_bytes(struct buf *, const char *, size_t);
const char	*qpg_arr_end(struct buf *);
int		 qpg_lost(struct qpg *);
int		 qpg_run(struct queue *, const char *, int, qpg_fn, void *);
PGconn		*qpg_connect(const char *, char *, size_t);
PGresult	*qpg_exec(PGconn *, const char *, char *, size_t);

/* queue_pg_schema.c */
int		 qpg_schema_check(struct queue *, const char *);

/* queue_pg_spool.c */
int		 qpg_spool_add(struct qpg_tx *, const char *, size_t);
int		 qpg_spool_ref(struct qpg_tx *, int, const char *);
int		 qpg_spool_refs(struct queue *, const char *, uint64_t *);

/* queue_pg_homes.c */
int		 qpg_docs(struct queue *, const struct queue_doc *, size_t);
int		 qpg_docs_q(struct qpg_tx *, const char *,
		    const struct queue_doc *, size_t, const char *, uint8_t *,
		    PGresult **);
int		 qpg_homes(struct qpg_tx *, const uint64_t *, size_t);

/* queue_pg_enqueue.c */
int		 qpg_enqueue(struct queue *, struct queue_new *, size_t);

/* queue_pg_lease.c */
int		 qpg_heartbeat(struct queue *, uint64_t, uint64_t, uint64_t);
int		 qpg_get_locked(struct qpg_tx *, uint64_t, struct job *, int *);
int		 qpg_fail(struct queue *, uint64_t, uint64_t, const char *, int,
		    int *);
int		 qpg_cancel_job(struct queue *, uint64_t,
		    struct queue_cancelled *);
int		 qpg_cancel(struct queue *, uint64_t);
int		 qpg_release_txn(struct qpg_tx *, void *);
int		 qpg_release_pid(struct queue *, uint32_t, const char *,
		    uint64_t, struct queue_release *);
int		 qpg_sweep(struct queue *, struct queue_release *);
int		 qpg_extend_pid(struct queue *, uint32_t);

/* queue_pg_admin.c */
int		 qpg_retry(struct queue *, uint64_t);
int		 qpg_retry_dead_tenant(struct queue *, const char *,
		    uint64_t *);
int		 qpg_retry_dead(struct queue *, uint64_t *);
int		 qpg_purge_tenant(struct queue *, int, const char *, uint64_t,
		    uint64_t, uint64_t *);
int		 qpg_purge(struct queue *, int, uint64_t, uint64_t, uint64_t *);
int		 qpg_stats(struct queue *, struct queue_stats *);
int		 qpg_get(struct queue *, uint64_t, struct job *);
int		 qpg_list(struct queue *, int, size_t, queue_list_cb, void *);
int		 qpg_page(struct queue *, struct queue_page *, queue_list_cb,
		    void *);
int		 qpg_tenants(struct queue *, queue_tenant_cb, void *);
int		 qpg_watch(struct queue *, const uint64_t *, size_t, uint64_t *,
		    size_t, queue_list_cb, void *);

#endif
