/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for queue.c and its two backends, one suite of semantic tests
 * run against each.  The binary tests one backend a run:
 *
 *	check_queue		LMDB (queue_lmdb.c), under make check;
 *	check_queue pg		PostgreSQL (queue_pg.c) on the server of
 *				QUIRE_TEST_PGDSN, which t/queuepg.sh starts
 *				and passes; skipped without it.
 *
 * The semantic tests run in both, through the queue's public API on a
 * queue that queue_open opened with the backend of the run: the life
 * cycle and its counts, idempotency keys (in bulk too), bytes as given,
 * claims in batches, the generation fence, heartbeats, failures with
 * backoff and dead letters, release of a dead worker's leases and crash
 * quarantine, lease expiry and its extension, cancel, retry, priority
 * and aging, tenant fairness (in bytes for LMDB, in jobs for
 * PostgreSQL: see queue_pg.c; each backend's share is asserted), the
 * byte budget and big jobs, two processes claiming at once, uploaded
 * bodies' counts and where they are kept (LMDB's spool file,
 * PostgreSQL's copy in the database), retention and purge (past one
 * transaction's batch, a tenant's alone too), pages and watches.  Four
 * take fewer jobs with PostgreSQL, whose claims are slower, for the
 * same assertions: test_release_interleaved (600 leases, 1200 with
 * LMDB), test_fairness (2000 jobs of the busy tenant, 100000),
 * test_two_processes (2000 jobs, 20000) and test_retention_batch (500,
 * 1000).  With PostgreSQL each test has a schema of its own in the
 * server's database (the connection's search_path), created with
 * queue_pg_migrate and dropped at its end.
 *
 * What is one backend's own runs in its run alone.  LMDB: the choice
 * of backend, the backoff function (queue.c's, no storage), corrupt
 * records, finished leases and their settling, layout upgrades and map
 * growth.  PostgreSQL: the schema's versions (each older one migrated
 * to the current), two processes enqueueing the same keys,
 * queue_pg_wait's wake-up, a connection the server ended, made again,
 * the hosts sharing the queue and the documents' home hosts, and an
 * uploaded body read by another host across its 1 MB pieces.  A
 * host's drain and the moves of its documents are t/pgdrain.sh's,
 * through quirectl and the daemons.
 *
 * Time is the queue's test clock (q_fixed_now), never the wall clock;
 * tconf() turns syncing off (LMDB's fsync, PostgreSQL's synchronous
 * commit): these tests are about logic, not power cuts.  After most
 * steps tq_counts() compares the status counts with a recount through
 * a full listing and with the listing of each state, and the counts
 * per tenant (queue_tenants) with a recount per tenant, so a count that
 * drifts from the data is caught where it happens; with LMDB it also
 * counts the entries of each index database.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "quire.h"
#include "tlib.h"

#define T0		1700000000000ULL	/* test clock start, ms */
#define HOUR		(3600ULL * 1000)
#define MINUTE		(60ULL * 1000)
#define MIB		(1024ULL * 1024)

/* The run's backend: PostgreSQL's server when tq_pg. */
static int		 tq_pg;
static const char	*pg_dsn;

/* dir/name into buf, which must hold it. */
static void
path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	ck_assert(n >= 0 && (size_t)n < len);
}

/*
 * A queue in a fresh directory of its own (PostgreSQL's spool is
 * there), and with PostgreSQL in a schema of its own, tq_dsn the
 * connection string that chooses it.
 */
struct tq {
	char		 tq_dir[PATH_MAX];
	char		 tq_schema[64];
	char		 tq_dsn[1024];
	struct queue	 tq_q;
};

/* Defaults, without syncs, for the run's backend. */
static void
tconf(struct queue_conf *qc)
{
	queue_conf_defaults(qc);
	qc->qc_sync = STORE_SYNC_NONE;
	qc->qc_backend = tq_pg ? QUEUE_BACKEND_PG : QUEUE_BACKEND_LMDB;
}

/*
 * What queue_open gets for qc: qc itself with LMDB (NULL, the
 * defaults, too); with PostgreSQL a copy in c, the defaults for NULL,
 * that names the test's schema and, with qc_sync off, asks for no
 * synchronous commit.
 */
static const struct queue_conf *
tq_conf(const struct tq *tq, const struct queue_conf *qc,
    struct queue_conf *c)
{
	if (!tq_pg)
		return (qc);
	if (qc != NULL)
		*c = *qc;
	else
		queue_conf_defaults(c);
	c->qc_backend = QUEUE_BACKEND_PG;
	ck_assert_int_lt(snprintf(c->qc_dsn, sizeof(c->qc_dsn),
	    "%s options='-csearch_path=%s%s'", pg_dsn, tq->tq_schema,
	    c->qc_sync == STORE_SYNC_NONE ? " -csynchronous_commit=off" : ""),
	    (int)sizeof(c->qc_dsn));
	return (c);
}

/* One SQL text on the test server, outside any queue. */
static void
tq_sql(const char *dsn, const char *sql)
{
	PGconn		*conn;
	PGresult	*r;

	conn = PQconnectdb(dsn);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s",
	    PQerrorMessage(conn));
	/* DROP SCHEMA ... CASCADE's notices say nothing a test needs. */
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	r = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(conn));
	PQclear(r);
	PQfinish(conn);
}

/* One count, an SQL text's single value, in the schema of dsn. */
static uint64_t
tq_count(const char *dsn, const char *sql)
{
	PGconn		*conn;
	PGresult	*r;
	uint64_t	 v;

	conn = PQconnectdb(dsn);
	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s",
	    PQerrorMessage(conn));
	r = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK &&
	    PQntuples(r) == 1, "%s: %s", sql, PQerrorMessage(conn));
	v = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(conn);
	return (v);
}

/* A fresh directory for tq_dir. */
static void
tq_mkdir(struct tq *tq)
{
	ck_assert_int_lt(snprintf(tq->tq_dir, sizeof(tq->tq_dir),
	    "%s/t.XXXXXX", tlib_top), (int)sizeof(tq->tq_dir));
	ck_assert_ptr_nonnull(mkdtemp(tq->tq_dir));
}

/*
 * A fresh directory and, with PostgreSQL, a fresh schema with no quire
 * tables yet and its connection string.
 */
static void
tq_schema(struct tq *tq)
{
	static int	 n;
	char		 sql[128];

	memset(tq, 0, sizeof(*tq));
	tq_mkdir(tq);
	if (!tq_pg)
		return;
	snprintf(tq->tq_schema, sizeof(tq->tq_schema), "t%ld_%d",
	    (long)getpid(), n++);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", tq->tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_lt(snprintf(tq->tq_dsn, sizeof(tq->tq_dsn),
	    "%s options='-csearch_path=%s'", pg_dsn, tq->tq_schema),
	    (int)sizeof(tq->tq_dsn));
}

/* Open the queue of tq (again), the clock at T0. */
static void
tq_open_only(struct tq *tq, const struct queue_conf *qc)
{
	struct queue_conf	 c;

	ck_assert_int_eq(queue_open(&tq->tq_q, tq->tq_dir,
	    tq_conf(tq, qc, &c)), 0);
	ck_assert_ptr_eq(tq->tq_q.q_be, tq_pg ? &queue_pg_backend :
	    &queue_lmdb_backend);
	tq->tq_q.q_fixed_now = T0;
}

static void
tq_open(struct tq *tq, const struct queue_conf *qc)
{
	char	 err[256];

	tq_schema(tq);
	if (tq_pg)
		ck_assert_msg(queue_pg_migrate(tq->tq_dsn, 1, err,
		    sizeof(err)) == 0, "db init: %s", err);
	tq_open_only(tq, qc);
}

/* Close and open again (as another process would), keeping the clock. */
static void
tq_reopen(struct tq *tq, const struct queue_conf *qc)
{
	uint64_t	 now = tq->tq_q.q_fixed_now;

	queue_close(&tq->tq_q);
	tq_open_only(tq, qc);
	tq->tq_q.q_fixed_now = now;
}

static void
tq_close(struct tq *tq)
{
	char	 sql[128];

	queue_close(&tq->tq_q);
	if (tq_pg) {
		snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE",
		    tq->tq_schema);
		tq_sql(pg_dsn, sql);
	}
	ck_assert_int_eq(tlib_rm_rf(tq->tq_dir), 0);
	ck_assert_int_eq(access(tq->tq_dir, F_OK), -1);
}

/* Counting. */

static int
count_cb(const struct job *j, void *arg)
{
	uint64_t	*n = arg;

	ck_assert_int_ge(j->j_state, 0);
	ck_assert_int_lt(j->j_state, JOB_NSTATES);
	n[j->j_state]++;
	return (0);
}

/* Jobs per tenant and state, as a walk over every job finds them. */
#define TQ_TENANTS	64

struct tq_tenants {
	char		 tt_name[TQ_TENANTS][JOB_TENANT_MAX + 1];
	uint64_t	 tt_count[TQ_TENANTS][JOB_NSTATES];
	int		 tt_seen[TQ_TENANTS];
	size_t		 tt_n;
	int		 tt_line;
};

static size_t
tenant_slot(struct tq_tenants *tt, const char *name, int add)
{
	size_t	 i;

	for (i = 0; i < tt->tt_n; i++)
		if (strcmp(tt->tt_name[i], name) == 0)
			return (i);
	if (!add)
		return (SIZE_MAX);
	ck_assert_uint_lt(tt->tt_n, TQ_TENANTS);
	strlcpy(tt->tt_name[tt->tt_n], name, sizeof(tt->tt_name[0]));
	return (tt->tt_n++);
}

static int
tenant_recount_cb(const struct job *j, void *arg)
{
	struct tq_tenants	*tt = arg;

	tt->tt_count[tenant_slot(tt, j->j_tenant, 1)][j->j_state]++;
	return (0);
}

static int
tenant_cb(const char *name, const uint64_t *count, void *arg)
{
	struct tq_tenants	*tt = arg;
	size_t			 i = tenant_slot(tt, name, 0);
	int			 st;

	for (st = 0; st < JOB_NSTATES; st++)
		ck_assert_msg(count[st] == (i == SIZE_MAX ? 0 :
		    tt->tt_count[i][st]), "line %d: tenant %s: %s %llu, "
		    "recount %llu", tt->tt_line, name, codec_state_name(st),
		    (unsigned long long)count[st], (unsigned long long)(i ==
		    SIZE_MAX ? 0 : tt->tt_count[i][st]));
	if (i != SIZE_MAX)
		tt->tt_seen[i] = 1;
	return (0);
}

/* The counts per tenant must be what a walk over every job finds. */
static void
tq_tenants_consistent(struct tq *tq, int line)
{
	struct tq_tenants	*tt;
	size_t			 i;

	tt = calloc(1, sizeof(*tt));
	ck_assert_ptr_nonnull(tt);
	tt->tt_line = line;
	ck_assert_int_eq(queue_list(&tq->tq_q, -1, SIZE_MAX, tenant_recount_cb,
	    tt), QUEUE_OK);
	ck_assert_int_eq(queue_tenants(&tq->tq_q, tenant_cb, tt), QUEUE_OK);
	for (i = 0; i < tt->tt_n; i++)
		ck_assert_msg(tt->tt_seen[i], "line %d: tenant %s not counted",
		    line, tt->tt_name[i]);
	free(tt);
}

static uint64_t
db_entries(struct tq *tq, MDB_txn *txn, const char *name)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_stat	 st;
	int		 i;

	for (i = 0; i < s->s_ndbs; i++) {
		if (s->s_names[i] == NULL || strcmp(s->s_names[i], name) != 0)
			continue;
		ck_assert_int_eq(mdb_stat(txn, s->s_dbi[i], &st), 0);
		return (st.ms_entries);
	}
	ck_abort_msg("no database %s", name);
	return (0);
}

/*
 * A ready job of the backlog (tid(4) band(1) id(8)) comes after every one
 * of its tenant and band in meta, which has one at least.
 */
static void
db_backlog_ok(MDB_txn *txn, MDB_dbi main, const MDB_val *bk)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint8_t		 kb[14];

	ck_assert_uint_eq(bk->mv_size, 13);
	kb[0] = 'u';
	memcpy(kb + 1, bk->mv_data, 13);
	ck_assert_int_eq(mdb_cursor_open(txn, main, &c), 0);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	if (mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0)
		ck_assert_msg(k.mv_size != 14 || memcmp(k.mv_data, kb, 6) != 0,
		    "a ready job in meta after one in the backlog");
	memset(kb + 6, 0, 8);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	ck_assert_int_eq(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), 0);
	ck_assert_msg(k.mv_size == 14 && memcmp(k.mv_data, kb, 6) == 0,
	    "ready jobs in the backlog, none of their band in meta");
	mdb_cursor_close(c);
}

/*
 * The ready jobs: the first of each tenant and band in meta, LMDB's main
 * database (the queue's first, of no name), keys 'u' tid(4) band(1)
 * id(8), and the others after them in "backlog", keys without 'u'.
 */
static uint64_t
db_ready(struct tq *tq, MDB_txn *txn)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_cursor	*c;
	MDB_val		 k = { 1, "u" }, v;
	MDB_dbi		 backlog;
	uint64_t	 n = 0;
	int		 rc, op = MDB_SET_RANGE;

	ck_assert_int_eq(mdb_dbi_open(txn, "backlog", 0, &backlog), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, backlog, &c), 0);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(c, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		ck_assert_uint_eq(v.mv_size, 16);
		db_backlog_ok(txn, s->s_dbi[0], &k);
		n++;
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	k.mv_size = 1;
	k.mv_data = "u";
	op = MDB_SET_RANGE;

	ck_assert_ptr_null(s->s_names[0]);
	ck_assert_int_eq(mdb_cursor_open(txn, s->s_dbi[0], &c), 0);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		ck_assert_int_eq(((char *)k.mv_data)[0], 'u');
		ck_assert_uint_eq(k.mv_size, 14);
		ck_assert_uint_eq(v.mv_size, 16);
		n++;
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	return (n);
}

/*
 * The leases in meta: keys 'l' id(8), with a lease (56 bytes) or, with
 * fin set, a finished one (the lease, done time, state: 72 bytes).
 */
static uint64_t
db_leases(struct tq *tq, MDB_txn *txn, int fin)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_cursor	*c;
	MDB_val		 k = { 1, "l" }, v;
	uint64_t	 n = 0;
	int		 rc, op = MDB_SET_RANGE;

	ck_assert_ptr_null(s->s_names[0]);
	ck_assert_int_eq(mdb_cursor_open(txn, s->s_dbi[0], &c), 0);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0 &&
	    ((char *)k.mv_data)[0] == 'l') {
		op = MDB_NEXT;
		ck_assert_uint_eq(k.mv_size, 9);
		ck_assert(v.mv_size == 56 || v.mv_size == 72);
		if ((v.mv_size == 72) == fin)
			n++;
	}
	ck_assert(rc == 0 || rc == MDB_NOTFOUND);
	mdb_cursor_close(c);
	return (n);
}

/*
 * The settled finished leases: keys id(8), a finished lease (72 bytes)
 * whose state (at byte 64) is done or cancelled, of a job that has a
 * record and an entry in done.
 */
static uint64_t
db_finished(struct tq *tq, MDB_txn *txn)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_cursor	*c;
	MDB_val		 k, v, jv;
	MDB_dbi		 finished, jobs = 0;
	uint64_t	 n = 0;
	uint32_t	 state;
	int		 rc, i;

	for (i = 0; i < s->s_ndbs; i++)
		if (s->s_names[i] != NULL && strcmp(s->s_names[i], "jobs") == 0)
			jobs = s->s_dbi[i];
	ck_assert_int_eq(mdb_dbi_open(txn, "finished", 0, &finished), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, finished, &c), 0);
	while ((rc = mdb_cursor_get(c, &k, &v, n == 0 ? MDB_FIRST :
	    MDB_NEXT)) == 0) {
		ck_assert_uint_eq(k.mv_size, 8);
		ck_assert_uint_eq(v.mv_size, 72);
		memcpy(&state, (uint8_t *)v.mv_data + 64, sizeof(state));
		ck_assert(state == JOB_DONE || state == JOB_CANCELLED);
		ck_assert_int_eq(mdb_get(txn, jobs, &k, &jv), 0);
		n++;
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	return (n);
}

/*
 * LMDB's index databases must hold an entry for each job of their
 * state, all[] the jobs of each state as a walk over every job found.
 */
static void
tq_lmdb_consistent(struct tq *tq, int line, const uint64_t *all)
{
	MDB_txn		*txn;
	uint64_t	 total = 0;
	int		 st;

	for (st = 0; st < JOB_NSTATES; st++)
		total += all[st];
	ck_assert_int_eq(mdb_txn_begin(tq->tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	ck_assert_msg(db_entries(tq, txn, "jobs") == total &&
	    db_ready(tq, txn) == all[JOB_READY] &&
	    db_leases(tq, txn, 0) == all[JOB_LEASED] &&
	    db_entries(tq, txn, "delayed") == all[JOB_RETRY] &&
	    db_entries(tq, txn, "done") + db_leases(tq, txn, 1) ==
	    all[JOB_DONE] + all[JOB_CANCELLED] &&
	    db_entries(tq, txn, "dead") == all[JOB_DEAD] &&
	    db_finished(tq, txn) <= db_entries(tq, txn, "done"),
	    "line %d: index databases disagree with the job records", line);
	mdb_txn_abort(txn);
}

/*
 * The counts of queue_stats() must be what a walk over every job finds
 * and what a listing of each state finds, and the counts per tenant
 * what a walk finds; with LMDB, the index databases agree too.
 */
static void
tq_consistent(struct tq *tq, int line)
{
	struct queue_stats	 qs;
	uint64_t		 all[JOB_NSTATES], one[JOB_NSTATES];
	int			 st;

	ck_assert_int_eq(queue_stats(&tq->tq_q, &qs), QUEUE_OK);
	memset(all, 0, sizeof(all));
	ck_assert_int_eq(queue_list(&tq->tq_q, -1, SIZE_MAX, count_cb, all),
	    QUEUE_OK);
	for (st = 0; st < JOB_NSTATES; st++) {
		ck_assert_msg(qs.qs_count[st] == all[st],
		    "line %d: %s: status %llu, recount %llu", line,
		    codec_state_name(st), (unsigned long long)qs.qs_count[st],
		    (unsigned long long)all[st]);
		memset(one, 0, sizeof(one));
		ck_assert_int_eq(queue_list(&tq->tq_q, st, SIZE_MAX, count_cb,
		    one), QUEUE_OK);
		ck_assert_msg(one[st] == all[st], "line %d: list of %s: %llu, "
		    "want %llu", line, codec_state_name(st),
		    (unsigned long long)one[st], (unsigned long long)all[st]);
	}
	if (!tq_pg)
		tq_lmdb_consistent(tq, line, all);
	tq_tenants_consistent(tq, line);
}

#define COUNTS(tq, r, l, rt, d, x, c) \
	tq_counts((tq), __LINE__, (r), (l), (rt), (d), (x), (c))

static void
tq_counts(struct tq *tq, int line, uint64_t ready, uint64_t leased,
    uint64_t retry, uint64_t done, uint64_t dead, uint64_t cancelled)
{
	struct queue_stats	 qs;
	uint64_t		 want[JOB_NSTATES];
	int			 st;

	want[JOB_READY] = ready;
	want[JOB_LEASED] = leased;
	want[JOB_RETRY] = retry;
	want[JOB_DONE] = done;
	want[JOB_DEAD] = dead;
	want[JOB_CANCELLED] = cancelled;
	ck_assert_int_eq(queue_stats(&tq->tq_q, &qs), QUEUE_OK);
	for (st = 0; st < JOB_NSTATES; st++)
		ck_assert_msg(qs.qs_count[st] == want[st],
		    "line %d: %s count %llu, want %llu", line,
		    codec_state_name(st), (unsigned long long)qs.qs_count[st],
		    (unsigned long long)want[st]);
	tq_consistent(tq, line);
}

/* Small wrappers that assert the call itself went through. */

static void
new_job(struct queue_new *qn, const char *tenant, const char *key, int prio,
    uint64_t size)
{
	memset(qn, 0, sizeof(*qn));
	qn->qn_tenant = tenant;
	qn->qn_key = key;
	qn->qn_prio = prio;
	qn->qn_size = size;
	qn->qn_srckind = SRC_PATH;
	qn->qn_path = "/srv/docs/report.txt";
}

static uint64_t
enq(struct tq *tq, const char *tenant, const char *key, int prio,
    uint64_t size)
{
	struct queue_new	 qn;

	new_job(&qn, tenant, key, prio, size);
	ck_assert_int_eq(queue_enqueue(&tq->tq_q, &qn, 1), QUEUE_OK);
	ck_assert_uint_ne(qn.qn_id, 0);
	return (qn.qn_id);
}

static size_t
claim(struct tq *tq, uint32_t pid, struct job *out, size_t max)
{
	struct queue_owner	 o;
	size_t			 n = SIZE_MAX, i;

	o.qo_slot = pid % 64;
	o.qo_pid = pid;
	ck_assert_int_eq(queue_claim(&tq->tq_q, &o, out, max, &n), QUEUE_OK);
	ck_assert_uint_le(n, max);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(out[i].j_state, JOB_LEASED);
		ck_assert_uint_eq(out[i].j_lease_pid, pid);
	}
	return (n);
}

/* Claim one job: its id, or 0; its generation in *gen. */
static uint64_t
claim1(struct tq *tq, uint32_t pid, uint64_t *gen)
{
	struct job	 j;

	if (gen != NULL)
		*gen = 0;
	if (claim(tq, pid, &j, 1) == 0)
		return (0);
	if (gen != NULL)
		*gen = j.j_lease_gen;
	return (j.j_id);
}

static int
ack1(struct tq *tq, uint64_t id, uint64_t gen)
{
	struct queue_lease	 ql;
	int			 res = 99;

	ql.ql_id = id;
	ql.ql_gen = gen;
	ck_assert_int_eq(queue_ack(&tq->tq_q, &ql, 1, &res), QUEUE_OK);
	return (res);
}

/* Claim up to max jobs and ack them all; how many there were. */
static size_t
claim_ack(struct tq *tq, uint32_t pid, size_t max)
{
	struct job		*out;
	struct queue_lease	*ql;
	int			*res;
	size_t			 n, i;

	out = calloc(max, sizeof(*out));
	ql = calloc(max, sizeof(*ql));
	res = calloc(max, sizeof(*res));
	ck_assert(out != NULL && ql != NULL && res != NULL);
	n = claim(tq, pid, out, max);
	for (i = 0; i < n; i++) {
		ql[i].ql_id = out[i].j_id;
		ql[i].ql_gen = out[i].j_lease_gen;
	}
	if (n > 0)
		ck_assert_int_eq(queue_ack(&tq->tq_q, ql, n, res), QUEUE_OK);
	for (i = 0; i < n; i++)
		ck_assert_int_eq(res[i], QUEUE_OK);
	free(out);
	free(ql);
	free(res);
	return (n);
}

/* A job's state, or the queue's error code (all negative). */
static int
state_of(struct tq *tq, uint64_t id)
{
	struct job	 j;
	int		 rc;

	if ((rc = queue_get(&tq->tq_q, id, &j)) != QUEUE_OK)
		return (rc);
	ck_assert_uint_eq(j.j_id, id);
	return (j.j_state);
}

static void
get(struct tq *tq, uint64_t id, struct job *j)
{
	ck_assert_int_eq(queue_get(&tq->tq_q, id, j), QUEUE_OK);
	ck_assert_uint_eq(j->j_id, id);
}

static int
fail1(struct tq *tq, uint64_t id, uint64_t gen, const char *why,
    int permanent)
{
	int	 st = -1;

	ck_assert_int_eq(queue_fail(&tq->tq_q, id, gen, why, permanent, &st),
	    QUEUE_OK);
	return (st);
}

/*
 * The semantic tests, the same for both backends but where a backend's
 * share of a claim or a test's size says otherwise.
 */

/* The life cycle. */

static int
list_stop_cb(const struct job *j, void *arg)
{
	int	*n = arg;

	return (++*n == 2);
}

START_TEST(test_state_machine)
{
	struct tq		 tq;
	struct queue_stats	 qs;
	struct queue_new	 qn;
	struct job		 out[4], j;
	uint64_t		 id, gen;
	int			 n;

	/* The default configuration, syncs and all. */
	tq_open(&tq, NULL);
	COUNTS(&tq, 0, 0, 0, 0, 0, 0);
	new_job(&qn, "acme", "doc-1", 3, 1234);
	qn.qn_srckind = SRC_NDJSON;
	qn.qn_off = 4096;
	qn.qn_len = 8192;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	id = qn.qn_id;
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(qn.qn_dup, 0);
	COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_READY);
	ck_assert_str_eq(j.j_key, "doc-1");
	ck_assert_str_eq(j.j_tenant, "acme");
	ck_assert_int_eq(j.j_prio, 3);
	ck_assert_uint_eq(j.j_size, 1234);
	ck_assert_int_eq(j.j_srckind, SRC_NDJSON);
	ck_assert_str_eq(j.j_path, "/srv/docs/report.txt");
	ck_assert_uint_eq(j.j_off, 4096);
	ck_assert_uint_eq(j.j_len, 8192);
	ck_assert_uint_eq(j.j_created, T0);
	ck_assert_uint_eq(j.j_attempts, 0);

	/* Claim: leased to its owner, with a generation and a deadline. */
	tq.tq_q.q_fixed_now = T0 + 500;
	ck_assert_uint_eq(claim(&tq, 4242, out, 4), 1);
	ck_assert_uint_eq(out[0].j_id, id);
	ck_assert_uint_eq(out[0].j_lease_slot, 4242 % 64);
	ck_assert_uint_gt(out[0].j_lease_gen, 0);
	ck_assert_uint_eq(out[0].j_lease_deadline,
	    T0 + 500 + tq.tq_q.q_conf.qc_lease_ms);
	ck_assert_str_eq(out[0].j_path, "/srv/docs/report.txt");
	gen = out[0].j_lease_gen;
	COUNTS(&tq, 0, 1, 0, 0, 0, 0);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_LEASED);
	ck_assert_uint_eq(j.j_lease_gen, gen);
	ck_assert_uint_eq(j.j_lease_pid, 4242);
	ck_assert_uint_eq(j.j_lease_slot, 4242 % 64);
	ck_assert_uint_eq(j.j_updated, T0 + 500);
	ck_assert_uint_eq(claim(&tq, 4243, out, 4), 0);

	/* Heartbeat: progress and a later deadline. */
	tq.tq_q.q_fixed_now = T0 + 1500;
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, id, gen, 42), QUEUE_OK);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_LEASED);
	ck_assert_uint_eq(j.j_progress, 42);
	ck_assert_uint_eq(j.j_lease_deadline,
	    T0 + 1500 + tq.tq_q.q_conf.qc_lease_ms);
	ck_assert_uint_eq(j.j_updated, T0 + 500);

	/* Ack: done, once. */
	tq.tq_q.q_fixed_now = T0 + 2000;
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	COUNTS(&tq, 0, 0, 0, 1, 0, 0);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_DONE);
	ck_assert_uint_eq(j.j_progress, 42);
	ck_assert_uint_eq(j.j_updated, T0 + 2000);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_ESTALE);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, id, gen, 43),
	    QUEUE_ESTALE);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_enqueued, 1);
	ck_assert_uint_eq(qs.qs_completed, 1);
	ck_assert_uint_eq(qs.qs_next_id, 2);
	COUNTS(&tq, 0, 0, 0, 1, 0, 0);

	ck_assert_int_eq(state_of(&tq, 999), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, 0), QUEUE_ENOENT);

	/* queue_list stops when its callback says so. */
	enq(&tq, "acme", NULL, 0, 1);
	enq(&tq, "acme", NULL, 0, 1);
	enq(&tq, "acme", NULL, 0, 1);
	n = 0;
	ck_assert_int_eq(queue_list(&tq.tq_q, -1, SIZE_MAX, list_stop_cb, &n),
	    QUEUE_OK);
	ck_assert_int_eq(n, 2);
	n = 0;
	ck_assert_int_eq(queue_list(&tq.tq_q, JOB_READY, 1, list_stop_cb, &n),
	    QUEUE_OK);
	ck_assert_int_eq(n, 1);

	/* All of it is on disk. */
	tq_reopen(&tq, NULL);
	ck_assert_int_eq(state_of(&tq, id), JOB_DONE);
	COUNTS(&tq, 3, 0, 0, 1, 0, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_idempotency)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct queue_new	 qn;
	struct tq		 tq;
	struct job		 j;
	uint64_t		 a, b, c, gen;

	tconf(&qc);
	tq_open(&tq, &qc);
	a = enq(&tq, "acme", "doc-a", 0, 10);
	new_job(&qn, "other", "doc-a", 7, 99);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	ck_assert_uint_eq(qn.qn_id, a);
	ck_assert_int_eq(qn.qn_dup, 1);
	COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	/* The first job stands as it was. */
	get(&tq, a, &j);
	ck_assert_str_eq(j.j_tenant, "acme");
	ck_assert_int_eq(j.j_prio, 0);

	/* No key, or an empty one, never matches. */
	b = enq(&tq, "acme", NULL, 0, 10);
	c = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_ne(b, c);
	b = enq(&tq, "acme", "", 0, 10);
	c = enq(&tq, "acme", "", 0, 10);
	ck_assert_uint_ne(b, c);
	COUNTS(&tq, 5, 0, 0, 0, 0, 0);

	/* The key keeps matching while the job runs and once it is done. */
	ck_assert_uint_eq(claim1(&tq, 1, &gen), a);
	new_job(&qn, "acme", "doc-a", 0, 10);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	ck_assert_uint_eq(qn.qn_id, a);
	ck_assert_int_eq(qn.qn_dup, 1);
	ck_assert_int_eq(ack1(&tq, a, gen), QUEUE_OK);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	ck_assert_uint_eq(qn.qn_id, a);
	ck_assert_int_eq(qn.qn_dup, 1);
	COUNTS(&tq, 4, 0, 0, 1, 0, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_enqueued, 5);
	tq_close(&tq);
}
END_TEST

#define BULK	10000

START_TEST(test_bulk_enqueue)
{
	static const int	 dupof[][2] = {
		{ 2500, 0 }, { 5000, 1 }, { 7500, 2 }, { 8000, 2 }
	};
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct queue_new	*qn, bad[3];
	struct tq		 tq;
	struct job		 j;
	char			(*keys)[32];
	uint64_t		 pre, last = 0;
	size_t			 i, k, ndup = 0;
	int			 dup;

	tconf(&qc);
	tq_open(&tq, &qc);
	pre = enq(&tq, "t0", "pre-1", 0, 1);
	qn = calloc(BULK, sizeof(*qn));
	keys = calloc(BULK, sizeof(*keys));
	ck_assert(qn != NULL && keys != NULL);
	for (i = 0; i < BULK; i++) {
		snprintf(keys[i], sizeof(keys[i]), "bulk-%zu", i);
		for (k = 0; k < sizeof(dupof) / sizeof(dupof[0]); k++)
			if (dupof[k][0] == (int)i)
				snprintf(keys[i], sizeof(keys[i]), "bulk-%d",
				    dupof[k][1]);
		if (i == BULK - 1)
			strlcpy(keys[i], "pre-1", sizeof(keys[i]));
		/* Tenants change along the batch. */
		new_job(&qn[i], i % 3 == 0 ? "t0" : i % 3 == 1 ? "t1" : "t2",
		    keys[i], i % 10, i);
	}
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, BULK), QUEUE_OK);
	for (i = 0; i < BULK; i++) {
		dup = 0;
		for (k = 0; k < sizeof(dupof) / sizeof(dupof[0]); k++) {
			if (dupof[k][0] != (int)i)
				continue;
			ck_assert_uint_eq(qn[i].qn_id, qn[dupof[k][1]].qn_id);
			dup = 1;
		}
		if (i == BULK - 1) {
			ck_assert_uint_eq(qn[i].qn_id, pre);
			dup = 1;
		}
		ck_assert_int_eq(qn[i].qn_dup, dup);
		if (!dup) {
			/* New jobs get new ids, in order. */
			ck_assert_uint_gt(qn[i].qn_id, last);
			last = qn[i].qn_id;
		}
		ndup += dup;
	}
	ck_assert_uint_eq(ndup, 5);
	COUNTS(&tq, 1 + BULK - ndup, 0, 0, 0, 0, 0);
	get(&tq, qn[4].qn_id, &j);
	ck_assert_str_eq(j.j_key, "bulk-4");
	ck_assert_str_eq(j.j_tenant, "t1");
	ck_assert_int_eq(j.j_prio, 4);
	ck_assert_uint_eq(j.j_size, 4);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_next_id, 1 + 1 + BULK - ndup);

	/* The same batch again adds nothing. */
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, BULK), QUEUE_OK);
	for (i = 0; i < BULK; i++)
		ck_assert_int_eq(qn[i].qn_dup, 1);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_count[JOB_READY], 1 + BULK - ndup);

	/* One bad job refuses the whole batch. */
	for (i = 0; i < 3; i++)
		new_job(&bad[i], "t9", NULL, 0, 1);
	bad[1].qn_prio = JOB_PRIO_MAX + 1;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, bad, 3), QUEUE_EINVAL);
	bad[1].qn_prio = -1;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, bad, 3), QUEUE_EINVAL);
	bad[1].qn_prio = 0;
	bad[1].qn_srckind = SRC_NKINDS;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, bad, 3), QUEUE_EINVAL);
	bad[1].qn_srckind = SRC_PATH;
	memset(keys[0], 'k', sizeof(keys[0]));
	keys[0][sizeof(keys[0]) - 1] = '\0';
	bad[2].qn_tenant = keys[0];	/* 31 bytes: fine */
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, bad, 3), QUEUE_OK);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_count[JOB_READY], 1 + BULK - ndup + 3);
	free(qn);
	free(keys);
	tq_close(&tq);
}
END_TEST

START_TEST(test_enqueue_limits)
{
	struct queue_conf	 qc;
	struct queue_new	 qn;
	struct tq		 tq;
	struct job		 j;
	char			*s;

	tconf(&qc);
	tq_open(&tq, &qc);
	s = malloc(JOB_PATH_MAX + 2);
	ck_assert_ptr_nonnull(s);

	memset(s, 'k', JOB_KEY_MAX + 1);
	s[JOB_KEY_MAX + 1] = '\0';
	new_job(&qn, "t", s, 0, 1);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_EINVAL);
	s[JOB_KEY_MAX] = '\0';
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	get(&tq, qn.qn_id, &j);
	ck_assert_uint_eq(strlen(j.j_key), JOB_KEY_MAX);

	memset(s, 't', JOB_TENANT_MAX + 1);
	s[JOB_TENANT_MAX + 1] = '\0';
	new_job(&qn, s, NULL, 0, 1);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_EINVAL);
	s[JOB_TENANT_MAX] = '\0';
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	get(&tq, qn.qn_id, &j);
	ck_assert_uint_eq(strlen(j.j_tenant), JOB_TENANT_MAX);

	memset(s, 'p', JOB_PATH_MAX + 1);
	s[JOB_PATH_MAX + 1] = '\0';
	new_job(&qn, "t", NULL, 0, 1);
	qn.qn_path = s;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_EINVAL);
	s[JOB_PATH_MAX] = '\0';
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	get(&tq, qn.qn_id, &j);
	ck_assert_uint_eq(strlen(j.j_path), JOB_PATH_MAX);

	memset(s, 'l', JOB_LANG_MAX + 1);
	s[JOB_LANG_MAX + 1] = '\0';
	new_job(&qn, "t", NULL, 0, 1);
	qn.qn_lang = s;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_EINVAL);
	qn.qn_lang = "de";
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	get(&tq, qn.qn_id, &j);
	ck_assert_str_eq(j.j_lang, "de");

	/* No tenant is the default tenant. */
	new_job(&qn, NULL, NULL, 0, 1);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	get(&tq, qn.qn_id, &j);
	ck_assert_str_eq(j.j_tenant, "default");
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 0), QUEUE_OK);
	COUNTS(&tq, 5, 0, 0, 0, 0, 0);

	/* A piece that already failed is enqueued as a dead letter. */
	new_job(&qn, "t", "piece-7", 0, 1);
	qn.qn_dead = "line too long";
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	get(&tq, qn.qn_id, &j);
	ck_assert_int_eq(j.j_state, JOB_DEAD);
	ck_assert_str_eq(j.j_error, "line too long");
	COUNTS(&tq, 5, 0, 0, 0, 1, 0);
	ck_assert_int_eq(queue_retry(&tq.tq_q, qn.qn_id), QUEUE_OK);
	COUNTS(&tq, 6, 0, 0, 0, 0, 0);
	free(s);
	tq_close(&tq);
}
END_TEST

START_TEST(test_bytes)
{
	struct queue_conf	 qc;
	struct queue_new	 qn;
	struct tq		 tq;
	struct job		 j;
	char			 why[400];
	uint64_t		 id, gen;

	/*
	 * Paths, keys, names and messages are bytes, as a file system or a
	 * client gave them, UTF-8 or not: they come back as they went in.
	 */
	tconf(&qc);
	tq_open(&tq, &qc);
	new_job(&qn, "t\xff", "k\x80'", 0, 10);
	qn.qn_path = "/srv/caf\xe9 'x'\\.txt";
	qn.qn_title = "Caf\xe9";
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	id = qn.qn_id;
	get(&tq, id, &j);
	ck_assert_str_eq(j.j_tenant, "t\xff");
	ck_assert_str_eq(j.j_key, "k\x80'");
	ck_assert_str_eq(j.j_path, "/srv/caf\xe9 'x'\\.txt");
	ck_assert_str_eq(j.j_title, "Caf\xe9");
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	ck_assert_int_eq(qn.qn_dup, 1);
	ck_assert_uint_eq(qn.qn_id, id);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), id);
	/* A long reason is cut as the job's record holds it. */
	memset(why, 'e', sizeof(why));
	why[0] = '\xe9';
	why[sizeof(why) - 1] = '\0';
	ck_assert_int_eq(fail1(&tq, id, gen, why, 1), JOB_DEAD);
	get(&tq, id, &j);
	ck_assert_uint_eq(strlen(j.j_error), JOB_ERROR_MAX - 1);
	ck_assert_int_eq(strncmp(j.j_error, why, JOB_ERROR_MAX - 1), 0);
	COUNTS(&tq, 0, 0, 0, 0, 1, 0);
	ck_assert_int_eq(queue_purge_tenant(&tq.tq_q, JOB_DEAD, "t\xff", 0, 0,
	    &gen), QUEUE_OK);
	ck_assert_uint_eq(gen, 1);
	tq_close(&tq);
}
END_TEST

/* Leases: the generation fence, heartbeats, release, sweep. */

START_TEST(test_generation_fence)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct queue_stats	 qs;
	struct queue_lease	 ql[3];
	struct tq		 tq;
	struct job		 j;
	uint64_t		 id, g1, g2, a, b, ga, gb;
	int			 res[3];

	tconf(&qc);
	tq_open(&tq, &qc);
	id = enq(&tq, "acme", "fenced", 0, 100);
	ck_assert_uint_eq(claim1(&tq, 100, &g1), id);

	/* The supervisor thinks worker 100 died and releases its lease. */
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 100, "presumed dead", 0,
	    &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 1);
	ck_assert_uint_eq(rel.qr_jobs[0], id);
	COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	ck_assert_uint_eq(claim1(&tq, 200, &g2), id);
	ck_assert_uint_gt(g2, g1);

	/* Worker 100 was alive after all: every call it makes is stale. */
	ck_assert_int_eq(ack1(&tq, id, g1), QUEUE_ESTALE);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, id, g1, 77), QUEUE_ESTALE);
	ck_assert_int_eq(queue_fail(&tq.tq_q, id, g1, "late", 0, NULL),
	    QUEUE_ESTALE);
	ck_assert_int_eq(queue_fail(&tq.tq_q, id, g1, "late", 1, NULL),
	    QUEUE_ESTALE);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_LEASED);
	ck_assert_uint_eq(j.j_lease_pid, 200);
	ck_assert_uint_eq(j.j_lease_gen, g2);
	ck_assert_uint_eq(j.j_progress, 0);
	ck_assert_uint_eq(j.j_attempts, 0);
	COUNTS(&tq, 0, 1, 0, 0, 0, 0);

	/* The new holder finishes it, once. */
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, id, g2, 5), QUEUE_OK);
	ck_assert_int_eq(ack1(&tq, id, g2), QUEUE_OK);
	ck_assert_int_eq(ack1(&tq, id, g1), QUEUE_ESTALE);
	ck_assert_int_eq(ack1(&tq, id, g2), QUEUE_ESTALE);
	COUNTS(&tq, 0, 0, 0, 1, 0, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_completed, 1);

	/* In one batch of acks each lease counts once. */
	a = enq(&tq, "acme", NULL, 0, 1);
	b = enq(&tq, "acme", NULL, 0, 1);
	ck_assert_uint_eq(claim1(&tq, 300, &ga), a);
	ck_assert_uint_eq(claim1(&tq, 300, &gb), b);
	ql[0].ql_id = a;
	ql[0].ql_gen = ga;
	ql[1] = ql[0];
	ql[2].ql_id = b;
	ql[2].ql_gen = gb + 1000;
	ck_assert_int_eq(queue_ack(&tq.tq_q, ql, 3, res), QUEUE_OK);
	ck_assert_int_eq(res[0], QUEUE_OK);
	ck_assert_int_eq(res[1], QUEUE_ESTALE);
	ck_assert_int_eq(res[2], QUEUE_ESTALE);
	ck_assert_int_eq(state_of(&tq, b), JOB_LEASED);
	COUNTS(&tq, 0, 1, 0, 2, 0, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_completed, 2);
	tq_close(&tq);
}
END_TEST

START_TEST(test_release_crash)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct queue_stats	 qs;
	struct tq		 tq;
	struct job		 j;
	uint64_t		 id;
	uint32_t		 c, pid;

	tconf(&qc);
	qc.qc_max_crashes = 3;
	tq_open(&tq, &qc);
	id = enq(&tq, "acme", "poison.pdf", 0, 100);
	for (c = 1; c <= qc.qc_max_crashes; c++) {
		pid = 1000 + c;
		ck_assert_uint_eq(claim1(&tq, pid, NULL), id);
		ck_assert_int_eq(queue_release_pid(&tq.tq_q, pid,
		    "killed by signal 11", id, &rel), QUEUE_OK);
		get(&tq, id, &j);
		ck_assert_uint_eq(j.j_crashes, c);
		if (c < qc.qc_max_crashes) {
			ck_assert_uint_eq(rel.qr_released, 1);
			ck_assert_uint_eq(rel.qr_dead, 0);
			ck_assert_int_eq(j.j_state, JOB_READY);
			ck_assert_str_eq(j.j_error, "killed by signal 11");
			COUNTS(&tq, 1, 0, 0, 0, 0, 0);
		} else {
			ck_assert_uint_eq(rel.qr_released, 0);
			ck_assert_uint_eq(rel.qr_dead, 1);
			ck_assert_uint_eq(rel.qr_jobs[0], id);
			ck_assert_int_eq(j.j_state, JOB_DEAD);
			ck_assert_ptr_nonnull(strstr(j.j_error,
			    "crashed worker"));
			ck_assert_ptr_nonnull(strstr(j.j_error, "signal 11"));
			COUNTS(&tq, 0, 0, 0, 0, 1, 0);
		}
	}
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_failed, 1);
	ck_assert_uint_eq(qs.qs_released, qc.qc_max_crashes);
	ck_assert_uint_eq(claim1(&tq, 2000, NULL), 0);

	/* A pid that holds nothing releases nothing. */
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 4444, "exit 0",
	    QUEUE_CRASH_ALL, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released + rel.qr_dead + rel.qr_cancelled,
	    0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_release_crash_one)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 out[3], j;
	uint64_t		 x, y, z;

	tconf(&qc);
	qc.qc_max_crashes = 2;
	tq_open(&tq, &qc);
	x = enq(&tq, "acme", NULL, 0, 10);
	y = enq(&tq, "acme", NULL, 0, 10);
	z = enq(&tq, "acme", NULL, 0, 10);

	/* Only the job that was running when its holder died counts. */
	ck_assert_uint_eq(claim(&tq, 77, out, 3), 3);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 77, "signal 11", y,
	    &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 3);
	get(&tq, x, &j);
	ck_assert_uint_eq(j.j_crashes, 0);
	get(&tq, y, &j);
	ck_assert_uint_eq(j.j_crashes, 1);
	get(&tq, z, &j);
	ck_assert_uint_eq(j.j_crashes, 0);
	COUNTS(&tq, 3, 0, 0, 0, 0, 0);

	/* When that job is not known, every one counts. */
	ck_assert_uint_eq(claim(&tq, 78, out, 3), 3);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 78, "signal 9",
	    QUEUE_CRASH_ALL, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 2);
	ck_assert_uint_eq(rel.qr_dead, 1);
	get(&tq, x, &j);
	ck_assert_uint_eq(j.j_crashes, 1);
	ck_assert_int_eq(j.j_state, JOB_READY);
	ck_assert_int_eq(state_of(&tq, y), JOB_DEAD);
	COUNTS(&tq, 2, 0, 0, 0, 1, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_release_no_crash)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 j;
	uint64_t		 id;
	int			 i;

	tconf(&qc);
	qc.qc_max_crashes = 2;
	tq_open(&tq, &qc);
	id = enq(&tq, "acme", NULL, 0, 100);
	/* An orderly stop, again and again, quarantines nothing. */
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(claim1(&tq, 55, NULL), id);
		ck_assert_int_eq(queue_release_pid(&tq.tq_q, 55, "drain", 0,
		    &rel), QUEUE_OK);
		ck_assert_uint_eq(rel.qr_released, 1);
		ck_assert_uint_eq(rel.qr_dead, 0);
		get(&tq, id, &j);
		ck_assert_int_eq(j.j_state, JOB_READY);
		ck_assert_uint_eq(j.j_crashes, 0);
		ck_assert_uint_eq(j.j_attempts, 0);
		COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	}
	tq_close(&tq);
}
END_TEST

#define MANY_LEASES	(tq_pg ? 600 : 1200)	/* a multiple of 3 */

START_TEST(test_release_interleaved)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 out[16];
	uint64_t		 ids[10];
	size_t			 i, k, n;
	int			 found;

	tconf(&qc);
	tq_open(&tq, &qc);
	for (i = 0; i < 10; i++)
		enq(&tq, "acme", NULL, 0, 10);
	/* Leases alternate between two workers. */
	for (i = 0; i < 10; i++)
		ids[i] = claim1(&tq, i % 2 == 0 ? 300 : 400, NULL);
	COUNTS(&tq, 0, 10, 0, 0, 0, 0);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 300, "exit 1",
	    QUEUE_CRASH_ALL, &rel),
	    QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 5);
	for (i = 0; i < 10; i += 2) {
		found = 0;
		for (k = 0; k < 5; k++)
			found |= rel.qr_jobs[k] == ids[i];
		ck_assert_msg(found, "job %llu not released",
		    (unsigned long long)ids[i]);
		ck_assert_int_eq(state_of(&tq, ids[i]), JOB_READY);
		ck_assert_int_eq(state_of(&tq, ids[i + 1]), JOB_LEASED);
	}
	COUNTS(&tq, 5, 5, 0, 0, 0, 0);
	n = claim(&tq, 500, out, 16);
	ck_assert_uint_eq(n, 5);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(out[i].j_crashes, 1);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 400, "exit 1",
	    QUEUE_CRASH_ALL, &rel),
	    QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 5);
	COUNTS(&tq, 5, 5, 0, 0, 0, 0);
	tq_close(&tq);

	/*
	 * Enough leases to fill many of LMDB's pages: the scan deletes as
	 * it goes (fewer with PostgreSQL, whose claims are slower).
	 */
	tq_open(&tq, &qc);
	for (i = 0; i < MANY_LEASES; i++)
		enq(&tq, "acme", NULL, 0, 10);
	for (i = 0; i < MANY_LEASES; i++)
		ck_assert_uint_eq(claim1(&tq, i % 3 == 0 ? 300 : 400, NULL),
		    i + 1);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 400, "exit 1", 0, &rel),
	    QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, MANY_LEASES / 3 * 2);
	COUNTS(&tq, MANY_LEASES / 3 * 2, MANY_LEASES / 3, 0, 0, 0, 0);
	for (i = 0; i < MANY_LEASES; i++)
		ck_assert_int_eq(state_of(&tq, i + 1),
		    i % 3 == 0 ? JOB_LEASED : JOB_READY);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 300, "exit 1", 0, &rel),
	    QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, MANY_LEASES / 3);
	COUNTS(&tq, MANY_LEASES, 0, 0, 0, 0, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_sweep)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 out[2], j, *many;
	uint64_t		 a, b, ga, gb;
	size_t			 i;

	many = calloc(600, sizeof(*many));
	ck_assert_ptr_nonnull(many);
	tconf(&qc);
	qc.qc_lease_ms = 10000;
	qc.qc_max_attempts = 2;
	tq_open(&tq, &qc);
	a = enq(&tq, "acme", NULL, 0, 10);
	b = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim(&tq, 9, out, 2), 2);
	ck_assert_uint_eq(out[0].j_id, a);
	ck_assert_uint_eq(out[1].j_id, b);
	ga = out[0].j_lease_gen;
	gb = out[1].j_lease_gen;

	/* b's holder keeps beating; a's is hung. */
	tq.tq_q.q_fixed_now = T0 + 6000;
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, b, gb, 1), QUEUE_OK);
	tq.tq_q.q_fixed_now = T0 + qc.qc_lease_ms - 1;
	ck_assert_int_eq(queue_sweep(&tq.tq_q, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released + rel.qr_dead, 0);
	COUNTS(&tq, 0, 2, 0, 0, 0, 0);

	tq.tq_q.q_fixed_now = T0 + qc.qc_lease_ms + 1;
	ck_assert_int_eq(queue_sweep(&tq.tq_q, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 1);
	ck_assert_uint_eq(rel.qr_jobs[0], a);
	get(&tq, a, &j);
	ck_assert_int_eq(j.j_state, JOB_RETRY);
	ck_assert_uint_eq(j.j_attempts, 1);
	ck_assert_str_eq(j.j_error, "lease expired");
	ck_assert_int_eq(state_of(&tq, b), JOB_LEASED);
	COUNTS(&tq, 0, 1, 1, 0, 0, 0);
	ck_assert_int_eq(ack1(&tq, a, ga), QUEUE_ESTALE);
	ck_assert_int_eq(ack1(&tq, b, gb), QUEUE_OK);

	/* Swept again at max attempts: a dead letter. */
	tq.tq_q.q_fixed_now = j.j_runat;
	ck_assert_uint_eq(claim1(&tq, 10, NULL), a);
	tq.tq_q.q_fixed_now += qc.qc_lease_ms + 1;
	ck_assert_int_eq(queue_sweep(&tq.tq_q, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_dead, 1);
	ck_assert_int_eq(state_of(&tq, a), JOB_DEAD);
	COUNTS(&tq, 0, 0, 0, 1, 1, 0);
	tq_close(&tq);

	/* Many leases, every other one kept alive. */
	tq_open(&tq, &qc);
	for (i = 0; i < 600; i++)
		enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim(&tq, 9, many, 600), 600);
	tq.tq_q.q_fixed_now = T0 + qc.qc_lease_ms / 2;
	for (i = 1; i < 600; i += 2)
		ck_assert_int_eq(queue_heartbeat(&tq.tq_q, many[i].j_id,
		    many[i].j_lease_gen, 0), QUEUE_OK);
	tq.tq_q.q_fixed_now = T0 + qc.qc_lease_ms + 1;
	ck_assert_int_eq(queue_sweep(&tq.tq_q, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 300);
	for (i = 0; i < 600; i++)
		ck_assert_int_eq(state_of(&tq, many[i].j_id),
		    i % 2 ? JOB_LEASED : JOB_RETRY);
	COUNTS(&tq, 0, 300, 300, 0, 0, 0);
	free(many);
	tq_close(&tq);
}
END_TEST

START_TEST(test_extend_pid)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 out[3], j;
	size_t			 i;

	/* A worker's claimed jobs wait while it runs the first. */
	tconf(&qc);
	qc.qc_lease_ms = 10000;
	tq_open(&tq, &qc);
	for (i = 0; i < 3; i++)
		enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim(&tq, 5, out, 3), 3);
	ck_assert_uint_eq(claim1(&tq, 6, NULL), 0);
	enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 6, NULL), 4);
	tq.tq_q.q_fixed_now = T0 + 8000;
	ck_assert_int_eq(queue_extend_pid(&tq.tq_q, 5), QUEUE_OK);
	for (i = 0; i < 3; i++) {
		get(&tq, out[i].j_id, &j);
		ck_assert_uint_eq(j.j_lease_deadline, T0 + 18000);
	}
	get(&tq, 4, &j);
	ck_assert_uint_eq(j.j_lease_deadline, T0 + 10000);
	tq.tq_q.q_fixed_now = T0 + 12000;
	ck_assert_int_eq(queue_sweep(&tq.tq_q, &rel), QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 1);
	ck_assert_uint_eq(rel.qr_jobs[0], 4);
	COUNTS(&tq, 0, 3, 1, 0, 0, 0);
	/*
	 * No ack waits to be settled (PostgreSQL's never do: they are
	 * written at once): settling changes nothing.
	 */
	ck_assert_int_eq(queue_settle(&tq.tq_q), QUEUE_OK);
	COUNTS(&tq, 0, 3, 1, 0, 0, 0);
	tq_close(&tq);
}
END_TEST

/* Failure, backoff, dead letters, retry. */

START_TEST(test_fail_backoff)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct tq		 tq;
	struct job		 j;
	char			 why[32];
	uint64_t		 id, gen, ngen, d, now;
	uint32_t		 a;

	tconf(&qc);
	qc.qc_max_attempts = 5;
	qc.qc_backoff_ms = 1000;
	qc.qc_backoff_max_ms = 3000;
	tq_open(&tq, &qc);
	id = enq(&tq, "acme", "flaky", 0, 10);
	ck_assert_uint_eq(claim1(&tq, 7, &gen), id);
	for (a = 1; a <= qc.qc_max_attempts; a++) {
		now = tq.tq_q.q_fixed_now;
		snprintf(why, sizeof(why), "boom %u", a);
		if (a == qc.qc_max_attempts)
			break;
		ck_assert_int_eq(fail1(&tq, id, gen, why, 0), JOB_RETRY);
		get(&tq, id, &j);
		ck_assert_int_eq(j.j_state, JOB_RETRY);
		ck_assert_uint_eq(j.j_attempts, a);
		ck_assert_str_eq(j.j_error, why);
		d = qc.qc_backoff_ms << (a - 1);
		if (d > qc.qc_backoff_max_ms)
			d = qc.qc_backoff_max_ms;
		ck_assert_msg(j.j_runat >= now + d - d / 2 &&
		    j.j_runat <= now + d, "attempt %u: retry in %lld ms, "
		    "want %llu to %llu", a, (long long)(j.j_runat - now),
		    (unsigned long long)(d - d / 2), (unsigned long long)d);
		COUNTS(&tq, 0, 0, 1, 0, 0, 0);
		ck_assert_int_eq(queue_heartbeat(&tq.tq_q, id, gen, 1),
		    QUEUE_ESTALE);

		/* Not before its time, and at its time. */
		ck_assert_uint_eq(claim1(&tq, 7, NULL), 0);
		tq.tq_q.q_fixed_now = j.j_runat - 1;
		ck_assert_uint_eq(claim1(&tq, 7, NULL), 0);
		COUNTS(&tq, 0, 0, 1, 0, 0, 0);
		tq.tq_q.q_fixed_now = j.j_runat;
		ck_assert_uint_eq(claim1(&tq, 7, &ngen), id);
		ck_assert_uint_gt(ngen, gen);
		gen = ngen;
		get(&tq, id, &j);
		ck_assert_uint_eq(j.j_attempts, a);
		COUNTS(&tq, 0, 1, 0, 0, 0, 0);
	}
	/* The last allowed attempt fails: a dead letter with the reason. */
	ck_assert_int_eq(fail1(&tq, id, gen, why, 0), JOB_DEAD);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_DEAD);
	ck_assert_uint_eq(j.j_attempts, qc.qc_max_attempts);
	ck_assert_str_eq(j.j_error, "boom 5");
	COUNTS(&tq, 0, 0, 0, 0, 1, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_failed, 1);
	tq.tq_q.q_fixed_now += 24 * HOUR;
	ck_assert_uint_eq(claim1(&tq, 7, NULL), 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_fail_permanent)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	struct job		 j;
	uint64_t		 id, gen;

	tconf(&qc);
	tq_open(&tq, &qc);
	id = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 7, &gen), id);
	ck_assert_int_eq(fail1(&tq, id, gen, "unsupported format", 1),
	    JOB_DEAD);
	get(&tq, id, &j);
	ck_assert_int_eq(j.j_state, JOB_DEAD);
	ck_assert_uint_eq(j.j_attempts, 1);
	ck_assert_str_eq(j.j_error, "unsupported format");
	COUNTS(&tq, 0, 0, 0, 0, 1, 0);

	/* Without a reason, the error still says something. */
	id = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 7, &gen), id);
	ck_assert_int_eq(fail1(&tq, id, gen, NULL, 1), JOB_DEAD);
	get(&tq, id, &j);
	ck_assert_str_ne(j.j_error, "");
	COUNTS(&tq, 0, 0, 0, 0, 2, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_retry)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 j;
	uint64_t		 a, b, c, gen, n;

	tconf(&qc);
	qc.qc_max_crashes = 1;
	tq_open(&tq, &qc);

	/* A dead letter gets a fresh start. */
	a = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 7, &gen), a);
	ck_assert_int_eq(fail1(&tq, a, gen, "bad", 1), JOB_DEAD);
	b = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 8, NULL), b);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 8, "signal 9", b, &rel),
	    QUEUE_OK);
	ck_assert_int_eq(state_of(&tq, b), JOB_DEAD);
	COUNTS(&tq, 0, 0, 0, 0, 2, 0);
	tq.tq_q.q_fixed_now = T0 + 1000;
	ck_assert_int_eq(queue_retry(&tq.tq_q, a), QUEUE_OK);
	ck_assert_int_eq(queue_retry(&tq.tq_q, b), QUEUE_OK);
	get(&tq, a, &j);
	ck_assert_int_eq(j.j_state, JOB_READY);
	ck_assert_uint_eq(j.j_attempts, 0);
	get(&tq, b, &j);
	ck_assert_int_eq(j.j_state, JOB_READY);
	ck_assert_uint_eq(j.j_crashes, 0);
	COUNTS(&tq, 2, 0, 0, 0, 0, 0);

	/* Only dead and retrying jobs can be retried. */
	ck_assert_int_eq(queue_retry(&tq.tq_q, a), QUEUE_ESTATE);
	ck_assert_uint_eq(claim1(&tq, 9, &gen), a);
	ck_assert_int_eq(queue_retry(&tq.tq_q, a), QUEUE_ESTATE);
	ck_assert_int_eq(ack1(&tq, a, gen), QUEUE_OK);
	ck_assert_int_eq(queue_retry(&tq.tq_q, a), QUEUE_ESTATE);
	ck_assert_int_eq(queue_retry(&tq.tq_q, 999), QUEUE_ENOENT);
	COUNTS(&tq, 1, 0, 0, 1, 0, 0);

	/* A retrying job runs now instead of after its backoff. */
	ck_assert_uint_eq(claim1(&tq, 9, &gen), b);
	ck_assert_int_eq(fail1(&tq, b, gen, "timeout", 0), JOB_RETRY);
	ck_assert_uint_eq(claim1(&tq, 9, NULL), 0);
	ck_assert_int_eq(queue_retry(&tq.tq_q, b), QUEUE_OK);
	COUNTS(&tq, 1, 0, 0, 1, 0, 0);
	ck_assert_uint_eq(claim1(&tq, 9, &gen), b);
	get(&tq, b, &j);
	ck_assert_uint_eq(j.j_attempts, 1);
	ck_assert_int_eq(ack1(&tq, b, gen), QUEUE_OK);

	/* All dead letters at once. */
	ck_assert_int_eq(queue_retry_dead(&tq.tq_q, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	for (c = 0; c < 3; c++) {
		a = enq(&tq, "acme", NULL, 0, 10);
		ck_assert_uint_eq(claim1(&tq, 9, &gen), a);
		ck_assert_int_eq(fail1(&tq, a, gen, "bad", 1), JOB_DEAD);
	}
	COUNTS(&tq, 0, 0, 0, 2, 3, 0);
	ck_assert_int_eq(queue_retry_dead(&tq.tq_q, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 3);
	COUNTS(&tq, 3, 0, 0, 2, 0, 0);
	get(&tq, a, &j);
	ck_assert_uint_eq(j.j_attempts, 0);
	ck_assert_uint_eq(claim_ack(&tq, 9, 16), 3);
	COUNTS(&tq, 0, 0, 0, 5, 0, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_cancel)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 j;
	uint64_t		 a, b, c, d, e, f, x, gen;

	tconf(&qc);
	tq_open(&tq, &qc);

	/* Ready: cancelled at once and never handed out. */
	a = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, a), QUEUE_OK);
	ck_assert_int_eq(state_of(&tq, a), JOB_CANCELLED);
	COUNTS(&tq, 0, 0, 0, 0, 0, 1);
	ck_assert_uint_eq(claim1(&tq, 1, NULL), 0);

	/* Retrying: cancelled at once, and it does not come back. */
	b = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), b);
	ck_assert_int_eq(fail1(&tq, b, gen, "timeout", 0), JOB_RETRY);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, b), QUEUE_OK);
	ck_assert_int_eq(state_of(&tq, b), JOB_CANCELLED);
	COUNTS(&tq, 0, 0, 0, 0, 0, 2);
	tq.tq_q.q_fixed_now += HOUR;
	ck_assert_uint_eq(claim1(&tq, 1, NULL), 0);

	/* Leased: the holder is told, and its ack ends it cancelled. */
	c = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), c);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, c), QUEUE_ECANCEL);
	get(&tq, c, &j);
	ck_assert_int_eq(j.j_state, JOB_LEASED);
	ck_assert_int_eq(j.j_cancel, 1);
	COUNTS(&tq, 0, 1, 0, 0, 0, 2);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, c, gen, 3), QUEUE_ECANCEL);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, c), QUEUE_ECANCEL);
	ck_assert_int_eq(ack1(&tq, c, gen), QUEUE_ECANCEL);
	ck_assert_int_eq(state_of(&tq, c), JOB_CANCELLED);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, c, gen, 4), QUEUE_ESTALE);
	COUNTS(&tq, 0, 0, 0, 0, 0, 3);

	/* Finished jobs cannot be cancelled. */
	d = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), d);
	ck_assert_int_eq(ack1(&tq, d, gen), QUEUE_OK);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, d), QUEUE_ESTATE);
	ck_assert_int_eq(state_of(&tq, d), JOB_DONE);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, a), QUEUE_ESTATE);
	x = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), x);
	ck_assert_int_eq(fail1(&tq, x, gen, "bad", 1), JOB_DEAD);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, x), QUEUE_ESTATE);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, 999), QUEUE_ENOENT);
	COUNTS(&tq, 0, 0, 0, 1, 1, 3);

	/* A cancelled job whose holder fails, or dies, ends cancelled. */
	e = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), e);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, e), QUEUE_ECANCEL);
	ck_assert_int_eq(fail1(&tq, e, gen, "interrupted", 0), JOB_CANCELLED);
	f = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 2, &gen), f);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, f), QUEUE_ECANCEL);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 2, "signal 9", f, &rel),
	    QUEUE_OK);
	ck_assert_uint_eq(rel.qr_cancelled, 1);
	ck_assert_uint_eq(rel.qr_released, 0);
	ck_assert_int_eq(state_of(&tq, f), JOB_CANCELLED);
	COUNTS(&tq, 0, 0, 0, 1, 1, 5);
	tq_close(&tq);
}
END_TEST

/*
 * What a cancel found, for the supervisor: the state before, and for a
 * leased job the holder to tell (pid, slot) and its lease.
 */
START_TEST(test_cancel_job)
{
	struct queue_conf	 qc;
	struct queue_cancelled	 cx;
	struct tq		 tq;
	uint64_t		 a, b, gen;

	tconf(&qc);
	tq_open(&tq, &qc);
	a = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_int_eq(queue_cancel_job(&tq.tq_q, a, &cx), QUEUE_OK);
	ck_assert_int_eq(cx.qx_state, JOB_READY);
	ck_assert_uint_eq(cx.qx_pid, 0);
	b = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 4242, &gen), b);
	ck_assert_int_eq(queue_cancel_job(&tq.tq_q, b, &cx), QUEUE_ECANCEL);
	ck_assert_int_eq(cx.qx_state, JOB_LEASED);
	ck_assert_uint_eq(cx.qx_pid, 4242);
	ck_assert_uint_eq(cx.qx_slot, 4242 % 64);
	ck_assert_uint_eq(cx.qx_gen, gen);
	ck_assert_int_eq(ack1(&tq, b, gen), QUEUE_ECANCEL);
	ck_assert_int_eq(queue_cancel_job(&tq.tq_q, b, &cx), QUEUE_ESTATE);
	ck_assert_int_eq(cx.qx_state, JOB_CANCELLED);
	ck_assert_int_eq(queue_cancel_job(&tq.tq_q, 999, &cx), QUEUE_ENOENT);
	ck_assert_int_eq(cx.qx_state, -1);
	tq_close(&tq);
}
END_TEST

/* What a watcher reads: its jobs, then the leased and the new ones. */
struct watch_seen {
	uint64_t	 ws_id[16];
	int		 ws_state[16];
	uint64_t	 ws_progress[16];
	size_t		 ws_n;
	uint64_t	 ws_refuse;	/* the job the callback cannot take */
};

static int
watch_cb(const struct job *j, void *arg)
{
	struct watch_seen	*ws = arg;

	if (j->j_id == ws->ws_refuse)
		return (1);
	ck_assert_uint_lt(ws->ws_n, 16);
	ws->ws_id[ws->ws_n] = j->j_id;
	ws->ws_state[ws->ws_n] = j->j_state;
	ws->ws_progress[ws->ws_n++] = j->j_progress;
	return (0);
}

START_TEST(test_watch)
{
	struct queue_conf	 qc;
	struct watch_seen	 ws;
	struct tq		 tq;
	uint64_t		 a, b, c, d, gen, after, ids[2];

	tconf(&qc);
	tq_open(&tq, &qc);
	a = enq(&tq, "acme", NULL, 0, 10);
	b = enq(&tq, "acme", NULL, 0, 10);
	c = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), a);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, a, gen, 250), QUEUE_OK);

	/* Its job b (an unknown one skipped), leased a, then c, new. */
	ids[0] = b;
	ids[1] = 9999;
	after = b;
	memset(&ws, 0, sizeof(ws));
	ck_assert_int_eq(queue_watch(&tq.tq_q, ids, 2, &after, 10, watch_cb,
	    &ws), QUEUE_OK);
	ck_assert_uint_eq(ws.ws_n, 3);
	ck_assert_uint_eq(ws.ws_id[0], b);
	ck_assert_int_eq(ws.ws_state[0], JOB_READY);
	ck_assert_uint_eq(ws.ws_id[1], a);
	ck_assert_int_eq(ws.ws_state[1], JOB_LEASED);
	ck_assert_uint_eq(ws.ws_progress[1], 250);
	ck_assert_uint_eq(ws.ws_id[2], c);
	ck_assert_uint_eq(after, c);

	/* Nothing new since; without newmax, its jobs only. */
	memset(&ws, 0, sizeof(ws));
	ck_assert_int_eq(queue_watch(&tq.tq_q, NULL, 0, &after, 10, watch_cb,
	    &ws), QUEUE_OK);
	ck_assert_uint_eq(ws.ws_n, 1);
	ck_assert_uint_eq(ws.ws_id[0], a);
	memset(&ws, 0, sizeof(ws));
	ck_assert_int_eq(queue_watch(&tq.tq_q, ids, 1, &after, 0, watch_cb,
	    &ws), QUEUE_OK);
	ck_assert_uint_eq(ws.ws_n, 1);
	ck_assert_uint_eq(ws.ws_id[0], b);

	/* A new job the watcher cannot take is read again next time. */
	d = enq(&tq, "acme", NULL, 0, 10);
	memset(&ws, 0, sizeof(ws));
	ws.ws_refuse = d;
	ck_assert_int_eq(queue_watch(&tq.tq_q, NULL, 0, &after, 10, watch_cb,
	    &ws), QUEUE_OK);
	ck_assert_uint_eq(after, c);
	memset(&ws, 0, sizeof(ws));
	ck_assert_int_eq(queue_watch(&tq.tq_q, NULL, 0, &after, 10, watch_cb,
	    &ws), QUEUE_OK);
	ck_assert_uint_eq(ws.ws_n, 2);
	ck_assert_uint_eq(ws.ws_id[1], d);
	ck_assert_uint_eq(after, d);
	tq_close(&tq);
}
END_TEST

/* The claim policy. */

/*
 * A tenant with FAIR_B jobs waits for none of another's FAIR_A (fewer
 * with PostgreSQL, whose enqueue and claims are slower: the claims and
 * what they must find are the same).
 */
#define FAIR_A		(tq_pg ? 2000 : 100000)
#define FAIR_B		10
#define FAIR_K		16

START_TEST(test_fairness)
{
	struct queue_conf	 qc;
	struct queue_new	*qn;
	struct tq		 tq;
	struct job		*out, j;
	uint64_t		 id, gen;
	size_t			 i, n, claims = 0, claimed = 0, gotb = 0;
	size_t			 before_last_b = 0;

	tconf(&qc);
	tq_open(&tq, &qc);
	qn = calloc(FAIR_A, sizeof(*qn));
	out = calloc(FAIR_K, sizeof(*out));
	ck_assert(qn != NULL && out != NULL);
	for (i = 0; i < FAIR_A; i++)
		new_job(&qn[i], "tenant-a", NULL, 0, 1000);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, FAIR_A), QUEUE_OK);
	for (i = 0; i < FAIR_B; i++)
		new_job(&qn[i], "tenant-b", NULL, 0, 1000);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, FAIR_B), QUEUE_OK);
	COUNTS(&tq, FAIR_A + FAIR_B, 0, 0, 0, 0, 0);

	while (gotb < FAIR_B && claims < 100) {
		n = claim(&tq, 1, out, FAIR_K);
		ck_assert_uint_eq(n, FAIR_K);
		claims++;
		for (i = 0; i < n; i++) {
			claimed++;
			if (strcmp(out[i].j_tenant, "tenant-b") == 0 &&
			    ++gotb == FAIR_B)
				before_last_b = claimed;
		}
	}
	ck_assert_uint_eq(gotb, FAIR_B);
	ck_assert_msg(claims <= 2, "tenant-b waited %zu claims", claims);
	ck_assert_msg(before_last_b <= 40, "%zu jobs claimed before "
	    "tenant-b's last", before_last_b);
	COUNTS(&tq, FAIR_A + FAIR_B - claimed, claimed, 0, 0, 0, 0);
	free(qn);
	free(out);
	tq_close(&tq);

	/*
	 * Claims of one job acked at once (nothing in flight): the two
	 * tenants alternate, by LMDB's round robin and by PostgreSQL's
	 * order (the tenant served less recently first).
	 */
	tq_open(&tq, &qc);
	for (i = 0; i < 20; i++)
		enq(&tq, i < 10 ? "tenant-a" : "tenant-b", NULL, 0, 1000);
	for (i = 0; i < 10; i++) {
		id = claim1(&tq, 2, &gen);
		ck_assert_uint_ne(id, 0);
		get(&tq, id, &j);
		ck_assert_str_eq(j.j_tenant, i % 2 ? "tenant-b" : "tenant-a");
		ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	}
	COUNTS(&tq, 10, 0, 0, 10, 0, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_fairness_one_by_one)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	struct job		 j;
	size_t			 i, gotb = 0;

	/*
	 * Claims of one job each, by workers that come and go: the round
	 * robin goes on from one claim, and one process, to the next.
	 */
	tconf(&qc);
	tq_open(&tq, &qc);
	for (i = 0; i < 1000; i++)
		enq(&tq, "tenant-a", NULL, 0, 1000);
	for (i = 0; i < 10; i++)
		enq(&tq, "tenant-b", NULL, 0, 1000);
	for (i = 0; i < 20; i++) {
		if (i % 5 == 4)
			tq_reopen(&tq, &qc);
		ck_assert_uint_eq(claim(&tq, 1 + i, &j, 1), 1);
		gotb += strcmp(j.j_tenant, "tenant-b") == 0;
	}
	ck_assert_uint_eq(gotb, 10);
	tq_close(&tq);
}
END_TEST

/*
 * The share, where the backends differ by design.  LMDB's is in bytes:
 * with a unit of 1000, a tenant of 10000-byte documents gets one while
 * a tenant of 1000-byte ones gets ten.  PostgreSQL's is in jobs
 * (fair_unit is not used): each gets as many.
 */
START_TEST(test_fairness_share)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	struct job		 out[11];
	uint64_t		 bytes[2] = { 0, 0 };
	size_t			 i, n, jobs[2] = { 0, 0 };

	tconf(&qc);
	qc.qc_fair_unit = 1000;
	tq_open(&tq, &qc);
	for (i = 0; i < 20; i++)
		enq(&tq, "big", NULL, 0, 10000);
	for (i = 0; i < 20; i++)
		enq(&tq, "small", NULL, 0, 1000);
	n = claim(&tq, 1, out, tq_pg ? 10 : 11);
	ck_assert_uint_eq(n, tq_pg ? 10 : 11);
	for (i = 0; i < n; i++) {
		jobs[out[i].j_tenant[0] == 's'] += 1;
		bytes[out[i].j_tenant[0] == 's'] += out[i].j_size;
	}
	if (tq_pg) {
		ck_assert_uint_eq(jobs[0], 5);
		ck_assert_uint_eq(jobs[1], 5);
	} else {
		ck_assert_uint_eq(jobs[0], 1);
		ck_assert_uint_eq(jobs[1], 10);
		ck_assert_uint_eq(bytes[0], bytes[1]);
	}
	tq_close(&tq);
}
END_TEST

START_TEST(test_fairness_three)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	struct job		 out[6];
	size_t			 i, n;
	int			 seen[3];

	/* Three tenants with work: a claim of six takes two of each. */
	tconf(&qc);
	tq_open(&tq, &qc);
	for (i = 0; i < 30; i++)
		enq(&tq, i < 20 ? "a" : i < 28 ? "b" : "c", NULL, 0, 100);
	n = claim(&tq, 1, out, 6);
	ck_assert_uint_eq(n, 6);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++)
		seen[out[i].j_tenant[0] - 'a']++;
	ck_assert_int_eq(seen[0], 2);
	ck_assert_int_eq(seen[1], 2);
	ck_assert_int_eq(seen[2], 2);
	tq_close(&tq);
}
END_TEST

START_TEST(test_priority)
{
	static const int	 prio[] = { 0, 5, 9, 5, 9, 1 };
	static const int	 order[] = { 2, 4, 1, 3, 5, 0 };
	struct queue_conf	 qc;
	struct tq		 tq;
	struct job		 out[6];
	uint64_t		 ids[6];
	size_t			 i;

	tconf(&qc);
	tq_open(&tq, &qc);
	for (i = 0; i < 6; i++)
		ids[i] = enq(&tq, "acme", NULL, prio[i], 10);
	/* Higher priority first; equal priority in enqueue order. */
	for (i = 0; i < 6; i++)
		ck_assert_uint_eq(claim1(&tq, 1, NULL), ids[order[i]]);
	tq_close(&tq);

	/* The same within one claim. */
	tq_open(&tq, &qc);
	for (i = 0; i < 6; i++)
		ids[i] = enq(&tq, "acme", NULL, prio[i], 10);
	ck_assert_uint_eq(claim(&tq, 1, out, 6), 6);
	for (i = 0; i < 6; i++)
		ck_assert_uint_eq(out[i].j_id, ids[order[i]]);
	tq_close(&tq);
}
END_TEST

START_TEST(test_aging)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	uint64_t		 old, x, y, aging;

	tconf(&qc);
	aging = qc.qc_aging_ms;
	ck_assert_uint_gt(aging, 0);
	tq_open(&tq, &qc);
	old = enq(&tq, "acme", NULL, 0, 10);
	/* Five periods old: worth 5, less than a fresh 9. */
	tq.tq_q.q_fixed_now = T0 + 5 * aging;
	x = enq(&tq, "acme", NULL, 9, 10);
	ck_assert_uint_eq(claim1(&tq, 1, NULL), x);
	/* Ten periods old: worth 10, ahead of a fresh 9. */
	tq.tq_q.q_fixed_now = T0 + 10 * aging;
	y = enq(&tq, "acme", NULL, 9, 10);
	ck_assert_uint_eq(claim1(&tq, 1, NULL), old);
	ck_assert_uint_eq(claim1(&tq, 1, NULL), y);
	tq_close(&tq);

	/* With aging off, priority alone decides. */
	qc.qc_aging_ms = 0;
	tq_open(&tq, &qc);
	old = enq(&tq, "acme", NULL, 0, 10);
	tq.tq_q.q_fixed_now = T0 + 1000 * HOUR;
	y = enq(&tq, "acme", NULL, 9, 10);
	ck_assert_uint_eq(claim1(&tq, 1, NULL), y);
	ck_assert_uint_eq(claim1(&tq, 1, NULL), old);
	tq_close(&tq);
}
END_TEST

START_TEST(test_claim_budget)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	struct job		 out[16];
	uint64_t		 sum, left = 20;
	size_t			 i, n;

	tconf(&qc);
	qc.qc_claim_bytes = 10000;
	tq_open(&tq, &qc);
	for (i = 0; i < 20; i++)
		enq(&tq, i % 2 ? "a" : "b", NULL, 0, 3000);
	/* Three jobs of 3000 bytes fit in 10000; a fourth does not. */
	while (left > 0) {
		n = claim(&tq, 1, out, 16);
		ck_assert_uint_eq(n, left < 3 ? left : 3);
		for (sum = 0, i = 0; i < n; i++)
			sum += out[i].j_size;
		ck_assert_uint_le(sum, qc.qc_claim_bytes);
		left -= n;
	}
	ck_assert_uint_eq(claim(&tq, 1, out, 16), 0);
	COUNTS(&tq, 0, 20, 0, 0, 0, 0);

	/* A job larger than the budget still goes out, alone. */
	enq(&tq, "c", NULL, 0, 50000);
	enq(&tq, "c", NULL, 0, 100);
	ck_assert_uint_eq(claim(&tq, 1, out, 16), 1);
	ck_assert_uint_eq(out[0].j_size, 50000);
	ck_assert_uint_eq(claim(&tq, 1, out, 16), 1);
	ck_assert_uint_eq(out[0].j_size, 100);
	tq_close(&tq);
}
END_TEST

START_TEST(test_big_jobs)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct queue_release	 rel;
	struct tq		 tq;
	struct job		 out[16];
	uint64_t		 big1, big2, gen;
	size_t			 i, n;

	tconf(&qc);
	qc.qc_big_bytes = MIB;
	qc.qc_big_inflight = MIB + MIB / 2;	/* room for one big job */
	tq_open(&tq, &qc);
	big1 = enq(&tq, "pdf", NULL, 0, MIB);
	big2 = enq(&tq, "pdf", NULL, 0, MIB);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), big1);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, MIB);

	/* Small jobs go out; the second big one waits. */
	for (i = 0; i < 3; i++)
		enq(&tq, "txt", NULL, 0, 1000);
	n = claim(&tq, 2, out, 16);
	ck_assert_uint_eq(n, 3);
	for (i = 0; i < n; i++)
		ck_assert_uint_lt(out[i].j_size, qc.qc_big_bytes);
	ck_assert_uint_eq(claim(&tq, 2, out, 16), 0);
	ck_assert_int_eq(state_of(&tq, big2), JOB_READY);

	/* Once the first is acked, the second goes. */
	ck_assert_int_eq(ack1(&tq, big1, gen), QUEUE_OK);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, 0);
	ck_assert_uint_eq(claim1(&tq, 2, &gen), big2);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, MIB);

	/* A failed or released big job gives its share back too. */
	ck_assert_int_eq(fail1(&tq, big2, gen, "oom", 0), JOB_RETRY);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, 0);
	ck_assert_int_eq(queue_retry(&tq.tq_q, big2), QUEUE_OK);
	ck_assert_uint_eq(claim1(&tq, 3, NULL), big2);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 3, "signal 9", big2,
	    &rel),
	    QUEUE_OK);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, 0);
	COUNTS(&tq, 1, 3, 0, 1, 0, 0);
	tq_close(&tq);
}
END_TEST

/* Two processes. */

/* Jobs for two processes to claim (fewer with PostgreSQL, as above). */
#define RACE_JOBS	(tq_pg ? 2000 : 20000)
#define RACE_K		8

/*
 * A worker process: open the queue itself (with qc), wait for the
 * start, then ack what it holds and claim RACE_K more in one call until
 * the queue is empty, writing each id it was given to its file.  Errors
 * are exit codes: Check's assertions belong to the test process.
 */
static void __dead
race_child(const char *dir, const struct queue_conf *qc, const char *file,
    uint32_t slot, int gofd)
{
	struct queue_owner	 o;
	struct queue_lease	 acks[RACE_K];
	struct queue		 q;
	struct job		*out;
	FILE			*f;
	size_t			 nacks = 0, n, i;
	int			 res[RACE_K];
	char			 c;

	if ((out = calloc(RACE_K, sizeof(*out))) == NULL ||
	    (f = fopen(file, "w")) == NULL)
		_exit(2);
	if (queue_open(&q, dir, qc) == -1)
		_exit(3);
	q.q_fixed_now = T0;
	if (read(gofd, &c, 1) != 0)
		_exit(4);
	o.qo_slot = slot;
	o.qo_pid = getpid();
	for (;;) {
		if (queue_ack_claim(&q, acks, nacks, res, &o, out, RACE_K,
		    &n) != QUEUE_OK)
			_exit(5);
		for (i = 0; i < nacks; i++)
			if (res[i] != QUEUE_OK)
				_exit(6);
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			if (out[i].j_state != JOB_LEASED ||
			    out[i].j_lease_pid != o.qo_pid)
				_exit(7);
			fprintf(f, "%llu\n", (unsigned long long)out[i].j_id);
			acks[i].ql_id = out[i].j_id;
			acks[i].ql_gen = out[i].j_lease_gen;
		}
		nacks = n;
	}
	queue_close(&q);
	if (fclose(f) != 0)
		_exit(8);
	_exit(0);
}

START_TEST(test_two_processes)
{
	struct queue_conf	 qc, c;
	const struct queue_conf	*cqc;
	struct queue_stats	 qs;
	struct queue_new	*qn;
	struct tq		 tq;
	char			 file[2][PATH_MAX];
	unsigned long long	 id;
	uint8_t			*seen;
	FILE			*f;
	pid_t			 pid[2];
	size_t			 i, total = 0, got[2];
	int			 go[2], status, w;

	tconf(&qc);
	tq_open(&tq, &qc);
	qn = calloc(RACE_JOBS, sizeof(*qn));
	seen = calloc(RACE_JOBS + 1, 1);
	ck_assert(qn != NULL && seen != NULL);
	for (i = 0; i < RACE_JOBS; i++)
		new_job(&qn[i], i % 3 ? "acme" : "other", NULL, 0, 100);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, RACE_JOBS), QUEUE_OK);
	free(qn);
	/* No LMDB environment, nor connection, may cross the fork. */
	queue_close(&tq.tq_q);

	cqc = tq_conf(&tq, &qc, &c);
	ck_assert_int_eq(pipe(go), 0);
	for (w = 0; w < 2; w++) {
		path_join(file[w], sizeof(file[w]), tq.tq_dir,
		    w == 0 ? "ids.0" : "ids.1");
		pid[w] = fork();
		ck_assert_int_ge(pid[w], 0);
		if (pid[w] == 0) {
			close(go[1]);
			race_child(tq.tq_dir, cqc, file[w], w, go[0]);
		}
	}
	close(go[0]);
	/* Closing the pipe starts both at once. */
	close(go[1]);
	for (w = 0; w < 2; w++) {
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "worker %d: status %#x", w, status);
	}

	for (w = 0; w < 2; w++) {
		got[w] = 0;
		f = fopen(file[w], "r");
		ck_assert_ptr_nonnull(f);
		while (fscanf(f, "%llu", &id) == 1) {
			ck_assert_msg(id >= 1 && id <= RACE_JOBS,
			    "worker %d claimed job %llu", w, id);
			ck_assert_msg(seen[id] == 0, "job %llu claimed twice",
			    id);
			seen[id] = 1;
			got[w]++;
		}
		fclose(f);
		total += got[w];
	}
	ck_assert_uint_eq(total, RACE_JOBS);
	/*
	 * With PostgreSQL both took part: each claims a batch while the
	 * other commits.  LMDB's writers take turns, in any order.
	 */
	if (tq_pg) {
		ck_assert_uint_gt(got[0], 0);
		ck_assert_uint_gt(got[1], 0);
	}

	tq_open_only(&tq, &qc);
	COUNTS(&tq, 0, 0, 0, RACE_JOBS, 0, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_completed, RACE_JOBS);
	free(seen);
	tq_close(&tq);
}
END_TEST

/* Retention and purge. */

START_TEST(test_retention_count)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct queue_new	 qn[100];
	struct tq		 tq;
	char			 keys[100][16];
	uint64_t		 first = 0, last = 0, id;
	size_t			 round, i, n;

	tconf(&qc);
	qc.qc_retain_done = 100;
	tq_open(&tq, &qc);
	for (round = 0; round < 10; round++) {
		for (i = 0; i < 100; i++) {
			snprintf(keys[i], sizeof(keys[i]), "r%zu",
			    round * 100 + i);
			new_job(&qn[i], "acme", keys[i], 0, 10);
		}
		ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 100), QUEUE_OK);
		if (round == 0)
			first = qn[0].qn_id;
		last = qn[99].qn_id;
		/* LMDB keeps twice as many while jobs wait. */
		do {
			n = claim_ack(&tq, 1, 16);
			ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
			ck_assert_uint_le(qs.qs_count[JOB_DONE],
			    (tq_pg ? 1 : 2) * qc.qc_retain_done + 16);
		} while (n > 0);
		ck_assert_uint_le(qs.qs_count[JOB_DONE],
		    qc.qc_retain_done + 16);
		tq.tq_q.q_fixed_now += 1000;
	}
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_completed, 1000);
	ck_assert_uint_ge(qs.qs_count[JOB_DONE], 1);
	COUNTS(&tq, 0, 0, 0, qs.qs_count[JOB_DONE], 0, 0);

	/* The oldest are gone, the newest kept, and keys go with them. */
	ck_assert_int_eq(state_of(&tq, first), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, first + 500), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, last), JOB_DONE);
	new_job(&qn[0], "acme", "r0", 0, 10);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 1), QUEUE_OK);
	ck_assert_int_eq(qn[0].qn_dup, 0);
	ck_assert_uint_gt(qn[0].qn_id, last);
	id = qn[0].qn_id;
	new_job(&qn[0], "acme", "r999", 0, 10);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 1), QUEUE_OK);
	ck_assert_int_eq(qn[0].qn_dup, 1);
	ck_assert_uint_eq(qn[0].qn_id, last);
	ck_assert_int_eq(state_of(&tq, id), JOB_READY);
	tq_close(&tq);
}
END_TEST

START_TEST(test_retention_age)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	uint64_t		 ids[10], half, id, gen;
	size_t			 i;

	tconf(&qc);
	qc.qc_retain_done = 1000;
	qc.qc_retain_age_ms = HOUR;
	tq_open(&tq, &qc);
	for (i = 0; i < 10; i++)
		ids[i] = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim_ack(&tq, 1, 16), 10);
	COUNTS(&tq, 0, 0, 0, 10, 0, 0);

	/* Half an hour on, they stay. */
	tq.tq_q.q_fixed_now = T0 + HOUR / 2;
	half = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), half);
	ck_assert_int_eq(ack1(&tq, half, gen), QUEUE_OK);
	COUNTS(&tq, 0, 0, 0, 11, 0, 0);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(state_of(&tq, ids[i]), JOB_DONE);

	/* 70 minutes on, the next ack trims the first ten only. */
	tq.tq_q.q_fixed_now = T0 + HOUR + 10 * 60 * 1000;
	id = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), id);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(state_of(&tq, ids[i]), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, half), JOB_DONE);
	ck_assert_int_eq(state_of(&tq, id), JOB_DONE);
	COUNTS(&tq, 0, 0, 0, 2, 0, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_retention_no_age)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	size_t			 i;

	/* Kept by count only: an age limit of UINT64_MAX never expires. */
	tconf(&qc);
	qc.qc_retain_done = 5;
	qc.qc_retain_age_ms = UINT64_MAX;
	tq_open(&tq, &qc);
	for (i = 0; i < 3; i++)
		enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim_ack(&tq, 1, 16), 3);
	tq.tq_q.q_fixed_now = T0 + 24 * HOUR;
	enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim_ack(&tq, 1, 16), 1);
	COUNTS(&tq, 0, 0, 0, 4, 0, 0);
	for (i = 0; i < 10; i++)
		enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim_ack(&tq, 1, 16), 10);
	COUNTS(&tq, 0, 0, 0, 5, 0, 0);
	tq_close(&tq);
}
END_TEST

/*
 * Trimming goes in batches: the done jobs may pass retain_done by a
 * sixteenth of it, then one ack trims them back to it, and jobs may
 * outlive retain_age by a sixteenth of it before one ack trims all the
 * expired ones.  TRIM_JOBS are done (fewer with PostgreSQL), all but
 * 320 of them trimmed.  LMDB keeps twice retain_done while jobs wait,
 * and trims back to retain_done at the first ack with none waiting.
 */
#define TRIM_JOBS	(tq_pg ? 500 : 1000)
#define TRIM_KEEP	(tq_pg ? 320 : 640)

START_TEST(test_retention_batch)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct tq		 tq;
	uint64_t		 ndone, most = 0, first, id, gen;
	size_t			 i, n, trims = 0;

	tconf(&qc);
	qc.qc_retain_done = 320;	/* slack 20 */
	qc.qc_retain_age_ms = 16 * MINUTE;	/* grace one minute */
	tq_open(&tq, &qc);
	first = enq(&tq, "acme", NULL, 0, 10);
	for (i = 1; i < TRIM_JOBS; i++)
		enq(&tq, "acme", NULL, 0, 10);
	ndone = 0;
	do {
		n = claim_ack(&tq, 1, 3);
		ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
		if (qs.qs_count[JOB_DONE] < ndone + n) {
			ck_assert(qs.qs_count[JOB_DONE] == TRIM_KEEP ||
			    qs.qs_count[JOB_DONE] == 320);
			trims++;
		}
		ndone = qs.qs_count[JOB_DONE];
		if (ndone > most)
			most = ndone;
		ck_assert_uint_le(ndone, TRIM_KEEP + 20);
	} while (n > 0);
	ck_assert_uint_eq(qs.qs_completed, TRIM_JOBS);
	ck_assert_uint_gt(most, TRIM_KEEP + 10);
	if (!tq_pg)
		ck_assert_uint_eq(ndone, 320);
	/* Trimmed in batches of about 20, not one at each ack. */
	ck_assert_uint_ge(trims, (TRIM_JOBS - TRIM_KEEP) / 23);
	ck_assert_uint_le(trims, (TRIM_JOBS - TRIM_KEEP) / 18 + !tq_pg);
	ck_assert_int_eq(state_of(&tq, first), QUEUE_ENOENT);
	COUNTS(&tq, 0, 0, 0, ndone, 0, 0);

	/* Past retain_age but within the grace, they stay. */
	tq.tq_q.q_fixed_now = T0 + 16 * MINUTE + MINUTE / 2;
	id = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), id);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	COUNTS(&tq, 0, 0, 0, ndone + 1, 0, 0);
	/* Past the grace, one ack trims every expired job. */
	tq.tq_q.q_fixed_now = T0 + 17 * MINUTE + 1;
	id = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), id);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	COUNTS(&tq, 0, 0, 0, 2, 0, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_purge)
{
	struct queue_conf	 qc;
	struct queue_new	 qn;
	struct tq		 tq;
	uint64_t		 ids[10], dead[3], c, gen, n;
	size_t			 i;

	tconf(&qc);
	tq_open(&tq, &qc);
	/* Five jobs done at T0, five two hours later. */
	for (i = 0; i < 10; i++) {
		if (i == 5)
			tq.tq_q.q_fixed_now = T0 + 2 * HOUR;
		ids[i] = enq(&tq, "acme", i == 0 ? "first" : NULL, 0, 10);
		ck_assert_uint_eq(claim1(&tq, 1, &gen), ids[i]);
		ck_assert_int_eq(ack1(&tq, ids[i], gen), QUEUE_OK);
	}
	tq.tq_q.q_fixed_now = T0 + 3 * HOUR;
	COUNTS(&tq, 0, 0, 0, 10, 0, 0);

	/* By age alone (a keep of 0 is no limit): older than 90 minutes. */
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 90 * 60 * 1000, 0,
	    &n), QUEUE_OK);
	ck_assert_uint_eq(n, 5);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(state_of(&tq, ids[i]),
		    i < 5 ? QUEUE_ENOENT : JOB_DONE);
	COUNTS(&tq, 0, 0, 0, 5, 0, 0);
	/* The purged job's key is free again. */
	new_job(&qn, "acme", "first", 0, 10);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, &qn, 1), QUEUE_OK);
	ck_assert_int_eq(qn.qn_dup, 0);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, qn.qn_id), QUEUE_OK);
	COUNTS(&tq, 0, 0, 0, 5, 0, 1);

	/*
	 * By count alone: keep the newest three (the cancelled one too).
	 * An age of UINT64_MAX is no age limit either, not a wrap-around.
	 */
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, UINT64_MAX, 5, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 0, 3, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 2);
	for (i = 5; i < 10; i++)
		ck_assert_int_eq(state_of(&tq, ids[i]),
		    i < 8 ? QUEUE_ENOENT : JOB_DONE);
	ck_assert_int_eq(state_of(&tq, qn.qn_id), JOB_CANCELLED);
	COUNTS(&tq, 0, 0, 0, 2, 0, 1);

	/* Neither limit reached: nothing goes. */
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 0, 3, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 4 * HOUR, 0, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 4 * HOUR, 10, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, UINT64_MAX,
	    UINT64_MAX, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	COUNTS(&tq, 0, 0, 0, 2, 0, 1);

	/* Dead letters, kept by count; then everything. */
	for (c = 0; c < 3; c++) {
		dead[c] = enq(&tq, "acme", NULL, 0, 10);
		ck_assert_uint_eq(claim1(&tq, 1, &gen), dead[c]);
		ck_assert_int_eq(fail1(&tq, dead[c], gen, "bad", 1), JOB_DEAD);
	}
	COUNTS(&tq, 0, 0, 0, 2, 3, 1);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DEAD, 0, 1, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(state_of(&tq, dead[0]), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, dead[1]), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, dead[2]), JOB_DEAD);
	COUNTS(&tq, 0, 0, 0, 2, 1, 1);
	/* With no limit at all, every one goes. */
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DEAD, 0, 0, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 0, 0, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 3);
	COUNTS(&tq, 0, 0, 0, 0, 0, 0);

	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_READY, 0, 0, &n),
	    QUEUE_EINVAL);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_LEASED, 0, 0, &n),
	    QUEUE_EINVAL);
	tq_close(&tq);
}
END_TEST

/*
 * Uploaded bodies.  LMDB's stay in the spool files of the data
 * directory; PostgreSQL's enqueue copies them into the database, in
 * pieces of 1 MB any host reads, and removes the file.
 */

static void
spool_path(char *buf, size_t len, struct tq *tq, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s/%s", tq->tq_dir, SPOOL_DIR, name);
	ck_assert(n >= 0 && (size_t)n < len);
}

/* A spool file of the test's data directory, of len bytes. */
static void
spool_file(struct tq *tq, const char *name, const char *data, size_t len)
{
	char	 path[PATH_MAX + 64];
	FILE	*f;
	int	 fd;

	ck_assert_int_ge((fd = spool_dir(tq->tq_dir, 1)), 0);
	close(fd);
	spool_path(path, sizeof(path), tq, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The size of a spool file, or -1 if there is none. */
static off_t
spool_file_size(struct tq *tq, const char *name)
{
	char		 path[PATH_MAX + 64];
	struct stat	 st;

	spool_path(path, sizeof(path), tq, name);
	if (stat(path, &st) == -1) {
		ck_assert_int_eq(errno, ENOENT);
		return (-1);
	}
	return (st.st_size);
}

/* PostgreSQL: the pieces of name's body in the database. */
static uint64_t
spool_pieces(struct tq *tq, const char *name)
{
	char	 sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM quire_spool_body "
	    "WHERE name = '%s'::bytea", name);
	return (tq_count(tq->tq_dsn, sql));
}

/* The body of name must be kept where the backend keeps it: len bytes. */
static void
spool_kept(struct tq *tq, const char *name, uint64_t len)
{
	uint64_t	 size;
	int		 stored;

	if (!tq_pg) {
		ck_assert_int_eq(spool_file_size(tq, name), (off_t)len);
		return;
	}
	ck_assert_int_eq(spool_file_size(tq, name), -1);
	ck_assert_int_eq(queue_pg_spool_size(&tq->tq_q, name, &size,
	    &stored), QUEUE_OK);
	ck_assert(stored);
	ck_assert_uint_eq(size, len);
	ck_assert_uint_eq(spool_pieces(tq, name), (len + MIB - 1) / MIB);
}

/* The body of name must be gone: no file, no copy in the database. */
static void
spool_gone(struct tq *tq, const char *name)
{
	uint64_t	 size;
	int		 stored;

	ck_assert_int_eq(spool_file_size(tq, name), -1);
	if (!tq_pg)
		return;
	ck_assert_int_eq(queue_pg_spool_size(&tq->tq_q, name, &size,
	    &stored), QUEUE_OK);
	ck_assert(!stored);
	ck_assert_uint_eq(spool_pieces(tq, name), 0);
}

START_TEST(test_spool_refs)
{
	struct queue_conf	 qc;
	struct queue_new	 qn[3];
	struct tq		 tq;
	const char		*name = "0123456789abcdef-01234567-89abcdef";
	uint64_t		 refs, gen, id;
	size_t			 i;

	/* Three jobs read one uploaded body; it goes with the last. */
	tconf(&qc);
	tq_open(&tq, &qc);
	spool_file(&tq, name, "{}\n", 3);
	for (i = 0; i < 3; i++) {
		new_job(&qn[i], "acme", NULL, 0, 10);
		qn[i].qn_srckind = SRC_SPOOL;
		qn[i].qn_path = name;
	}
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 3), QUEUE_OK);
	ck_assert_int_eq(queue_spool_refs(&tq.tq_q, name, &refs), QUEUE_OK);
	ck_assert_uint_eq(refs, 3);
	spool_kept(&tq, name, 3);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, qn[0].qn_id), QUEUE_OK);
	id = claim1(&tq, 1, &gen);
	ck_assert_uint_eq(id, qn[1].qn_id);
	ck_assert_int_eq(fail1(&tq, id, gen, "bad", 1), JOB_DEAD);
	/* A dead letter keeps its body until it is purged. */
	ck_assert_int_eq(queue_spool_refs(&tq.tq_q, name, &refs), QUEUE_OK);
	ck_assert_uint_eq(refs, 2);
	id = claim1(&tq, 1, &gen);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	ck_assert_int_eq(queue_spool_refs(&tq.tq_q, name, &refs), QUEUE_OK);
	ck_assert_uint_eq(refs, 1);
	spool_kept(&tq, name, 3);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DEAD, 0, 0, &refs),
	    QUEUE_OK);
	ck_assert_uint_eq(refs, 1);
	ck_assert_int_eq(queue_spool_refs(&tq.tq_q, name, &refs), QUEUE_OK);
	ck_assert_uint_eq(refs, 0);
	spool_gone(&tq, name);
	tq_close(&tq);
}
END_TEST

#define MANY_JOBS	10050
#define MANY_K		1024

START_TEST(test_batches)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct queue_new	*qn;
	struct tq		 tq;
	struct job		*out;
	uint64_t		 n, total;
	size_t			 i, got;

	/* More dead letters and finished jobs than one transaction takes. */
	tconf(&qc);
	qc.qc_max_crashes = 1;
	tq_open(&tq, &qc);
	qn = calloc(MANY_JOBS, sizeof(*qn));
	out = calloc(MANY_K, sizeof(*out));
	ck_assert(qn != NULL && out != NULL);
	for (i = 0; i < MANY_JOBS; i++)
		new_job(&qn[i], i % 2 ? "a" : "b", NULL, 0, 10);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, MANY_JOBS), QUEUE_OK);
	for (total = 0; total < MANY_JOBS; total += got) {
		got = claim(&tq, 5, out, MANY_K);
		ck_assert_uint_gt(got, 0);
		ck_assert_int_eq(queue_release_pid(&tq.tq_q, 5, "signal 9",
		    QUEUE_CRASH_ALL, &rel), QUEUE_OK);
		ck_assert_uint_eq(rel.qr_dead, got);
	}
	COUNTS(&tq, 0, 0, 0, 0, MANY_JOBS, 0);
	ck_assert_int_eq(queue_retry_dead(&tq.tq_q, &n), QUEUE_OK);
	ck_assert_uint_eq(n, MANY_JOBS);
	COUNTS(&tq, MANY_JOBS, 0, 0, 0, 0, 0);
	for (total = 0; total < MANY_JOBS; total += got) {
		got = claim_ack(&tq, 5, MANY_K);
		ck_assert_uint_gt(got, 0);
	}
	COUNTS(&tq, 0, 0, 0, MANY_JOBS, 0, 0);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 0, 0, &n), QUEUE_OK);
	ck_assert_uint_eq(n, MANY_JOBS);
	COUNTS(&tq, 0, 0, 0, 0, 0, 0);
	free(qn);
	free(out);
	tq_close(&tq);
}
END_TEST

/* Dead letters retried and purged for one tenant, across batches. */
START_TEST(test_tenant_batches)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct queue_new	*qn;
	struct tq		 tq;
	struct job		*out, j;
	uint64_t		 n, total;
	size_t			 i, got;

	tconf(&qc);
	qc.qc_max_crashes = 1;
	tq_open(&tq, &qc);
	qn = calloc(MANY_JOBS, sizeof(*qn));
	out = calloc(MANY_K, sizeof(*out));
	ck_assert(qn != NULL && out != NULL);
	for (i = 0; i < MANY_JOBS; i++)
		new_job(&qn[i], i % 2 ? "a" : "b", NULL, 0, 10);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, MANY_JOBS), QUEUE_OK);
	for (total = 0; total < MANY_JOBS; total += got) {
		got = claim(&tq, 5, out, MANY_K);
		ck_assert_uint_gt(got, 0);
		ck_assert_int_eq(queue_release_pid(&tq.tq_q, 5, "signal 9",
		    QUEUE_CRASH_ALL, &rel), QUEUE_OK);
	}
	COUNTS(&tq, 0, 0, 0, 0, MANY_JOBS, 0);
	ck_assert_int_eq(queue_retry_dead_tenant(&tq.tq_q, "a", &n), QUEUE_OK);
	ck_assert_uint_eq(n, MANY_JOBS / 2);
	COUNTS(&tq, MANY_JOBS / 2, 0, 0, 0, MANY_JOBS / 2, 0);
	ck_assert_int_eq(queue_get(&tq.tq_q, qn[0].qn_id, &j), QUEUE_OK);
	ck_assert_int_eq(j.j_state, JOB_DEAD);
	ck_assert_int_eq(queue_get(&tq.tq_q, qn[1].qn_id, &j), QUEUE_OK);
	ck_assert_int_eq(j.j_state, JOB_READY);
	ck_assert_int_eq(queue_retry_dead_tenant(&tq.tq_q, "c", &n), QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	for (total = 0; total < MANY_JOBS / 2; total += got) {
		got = claim_ack(&tq, 5, MANY_K);
		ck_assert_uint_gt(got, 0);
	}
	COUNTS(&tq, 0, 0, 0, MANY_JOBS / 2, MANY_JOBS / 2, 0);
	/* Tenant a has no dead letters left; b's go. */
	ck_assert_int_eq(queue_purge_tenant(&tq.tq_q, JOB_DEAD, "a", 0, 0, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(queue_purge_tenant(&tq.tq_q, JOB_DONE, "b", 0, 0, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(queue_purge_tenant(&tq.tq_q, JOB_DEAD, "b", 0, 0, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, MANY_JOBS / 2);
	COUNTS(&tq, 0, 0, 0, MANY_JOBS / 2, 0, 0);
	ck_assert_int_eq(queue_get(&tq.tq_q, qn[0].qn_id, &j), QUEUE_ENOENT);
	/* A tenant's purge takes no limit. */
	ck_assert_int_eq(queue_purge_tenant(&tq.tq_q, JOB_DONE, "a", 0, 5, &n),
	    QUEUE_EINVAL);
	ck_assert_int_eq(queue_purge_tenant(&tq.tq_q, JOB_DONE, "a", 0, 0, &n),
	    QUEUE_OK);
	ck_assert_uint_eq(n, MANY_JOBS / 2);
	COUNTS(&tq, 0, 0, 0, 0, 0, 0);
	free(qn);
	free(out);
	tq_close(&tq);
}
END_TEST

struct page_ids {
	uint64_t	 pi_ids[16];
	size_t		 pi_n;
};

static int
page_cb(const struct job *j, void *arg)
{
	struct page_ids	*pi = arg;

	ck_assert_uint_lt(pi->pi_n, 16);
	pi->pi_ids[pi->pi_n++] = j->j_id;
	return (0);
}

/* Pages in id order, by state and tenant, bounded in records read. */
START_TEST(test_page)
{
	struct queue_conf	 qc;
	struct queue_page	 qp;
	struct page_ids		 pi;
	struct tq		 tq;
	uint64_t		 id[8], gen;
	size_t			 i;

	tconf(&qc);
	qc.qc_max_attempts = 1;
	tq_open(&tq, &qc);
	/* id[0] (tenant b) dies, the others wait. */
	id[0] = enq(&tq, "b", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), id[0]);
	ck_assert_int_eq(fail1(&tq, id[0], gen, "bad", 1), JOB_DEAD);
	for (i = 1; i < 8; i++)
		id[i] = enq(&tq, i % 2 ? "a" : "b", NULL, 0, 10);

	memset(&qp, 0, sizeof(qp));
	qp.qp_state = -1;
	qp.qp_limit = 3;
	memset(&pi, 0, sizeof(pi));
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi), QUEUE_OK);
	ck_assert_uint_eq(pi.pi_n, 3);
	ck_assert_uint_eq(pi.pi_ids[0], id[0]);
	ck_assert_uint_eq(pi.pi_ids[2], id[2]);
	ck_assert_uint_eq(qp.qp_next, id[2]);
	qp.qp_after = qp.qp_next;
	qp.qp_limit = 5;
	memset(&pi, 0, sizeof(pi));
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi), QUEUE_OK);
	ck_assert_uint_eq(pi.pi_n, 5);
	ck_assert_uint_eq(pi.pi_ids[4], id[7]);
	ck_assert_uint_eq(qp.qp_next, 0);

	/* Tenant a, two by two. */
	memset(&qp, 0, sizeof(qp));
	qp.qp_state = JOB_READY;
	qp.qp_tenant = "a";
	qp.qp_limit = 2;
	memset(&pi, 0, sizeof(pi));
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi), QUEUE_OK);
	ck_assert_uint_eq(pi.pi_n, 2);
	ck_assert_uint_eq(pi.pi_ids[0], id[1]);
	ck_assert_uint_eq(pi.pi_ids[1], id[3]);
	ck_assert_uint_eq(qp.qp_next, id[3]);

	/* Dead letters: one; the scan's bound cuts a page short. */
	memset(&qp, 0, sizeof(qp));
	qp.qp_state = JOB_DEAD;
	qp.qp_limit = 10;
	memset(&pi, 0, sizeof(pi));
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi), QUEUE_OK);
	ck_assert_uint_eq(pi.pi_n, 1);
	ck_assert_uint_eq(qp.qp_next, 0);
	memset(&qp, 0, sizeof(qp));
	qp.qp_state = -1;
	qp.qp_tenant = "a";
	qp.qp_limit = 10;
	qp.qp_scan = 3;
	memset(&pi, 0, sizeof(pi));
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi), QUEUE_OK);
	ck_assert_uint_eq(pi.pi_n, 1);
	ck_assert_uint_eq(pi.pi_ids[0], id[1]);
	ck_assert_uint_eq(qp.qp_next, id[2]);

	qp.qp_after = UINT64_MAX;
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi),
	    QUEUE_EINVAL);
	qp.qp_after = 0;
	qp.qp_limit = 0;
	ck_assert_int_eq(queue_page(&tq.tq_q, &qp, page_cb, &pi),
	    QUEUE_EINVAL);
	tq_close(&tq);
}
END_TEST

/*
 * LMDB's own, and what queue.c does without storage (run once, in
 * LMDB's run): the backoff and the choice of backend.
 */

START_TEST(test_backoff_function)
{
	struct queue_conf	 qc;
	uint64_t		 d, v, first = 0;
	uint32_t		 a;
	int			 i, varied = 0;

	queue_conf_defaults(&qc);
	qc.qc_backoff_ms = 1000;
	qc.qc_backoff_max_ms = 300000;
	for (a = 0; a <= 40; a++) {
		d = qc.qc_backoff_ms << (a > 1 ? (a - 1 < 20 ? a - 1 : 20) : 0);
		if (d > qc.qc_backoff_max_ms)
			d = qc.qc_backoff_max_ms;
		for (i = 0; i < 100; i++) {
			v = queue_backoff(&qc, a);
			ck_assert_msg(v >= d - d / 2 && v <= d,
			    "attempt %u: %llu not in [%llu, %llu]", a,
			    (unsigned long long)v,
			    (unsigned long long)(d - d / 2),
			    (unsigned long long)d);
			if (a == 5 && i == 0)
				first = v;
			else if (a == 5 && v != first)
				varied = 1;
		}
	}
	/* Jittered, so workers that failed together do not retry together. */
	ck_assert(varied);
	v = queue_backoff(&qc, UINT32_MAX);
	ck_assert_uint_ge(v, qc.qc_backoff_max_ms / 2);
	ck_assert_uint_le(v, qc.qc_backoff_max_ms);
	qc.qc_backoff_ms = 0;
	ck_assert_uint_eq(queue_backoff(&qc, 3), 0);
}
END_TEST

/*
 * No conf and the defaults both open the LMDB backend.  A backend that
 * is unknown, or not in this build, opens nothing, and the close that
 * follows (tq_reopen's) does nothing either.
 */
START_TEST(test_backend)
{
	struct tq		 tq;
	struct queue_conf	 qc;
	char			 path[PATH_MAX];

	tq_open(&tq, NULL);
	ck_assert_ptr_eq(tq.tq_q.q_be, &queue_lmdb_backend);
	ck_assert_str_eq(tq.tq_q.q_be->qb_name, "lmdb");
	enq(&tq, "acme", "doc-1", 3, 1234);
	tconf(&qc);
	ck_assert_int_eq(qc.qc_backend, QUEUE_BACKEND_LMDB);
	tq_reopen(&tq, &qc);
	ck_assert_ptr_eq(tq.tq_q.q_be, &queue_lmdb_backend);
	COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	path_join(path, sizeof(path), tq.tq_dir, "queue/data.mdb");
	ck_assert_int_eq(access(path, F_OK), 0);

	queue_close(&tq.tq_q);
	qc.qc_backend = QUEUE_BACKEND_PG + 1;
	errno = 0;
	ck_assert_int_eq(queue_open(&tq.tq_q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(tq.tq_q.q_be);

	/* LMDB again: the job is still there. */
	qc.qc_backend = QUEUE_BACKEND_LMDB;
	tq_reopen(&tq, &qc);
	ck_assert_ptr_eq(tq.tq_q.q_be, &queue_lmdb_backend);
	COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	tq_close(&tq);
}
END_TEST

/* Damage. */

START_TEST(test_corrupt_record)
{
	static const char	 garbage[] = "\xc1\xff\x00not msgpack";
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct tq		 tq;
	struct job		 j, out[4];
	msgpack_sbuffer		 sb;
	MDB_env			*env;
	MDB_txn			*txn;
	MDB_dbi			 dbi;
	MDB_val			 k, v;
	char			 path[PATH_MAX];
	uint8_t			 kb[8];
	struct queue_owner	 o = { 1, 1 };
	uint64_t		 gen, counts[JOB_NSTATES];
	size_t			 n = 99;
	int			 i;

	tconf(&qc);
	tq_open(&tq, &qc);
	for (i = 0; i < 4; i++)
		enq(&tq, "acme", NULL, 0, 10);
	queue_close(&tq.tq_q);

	/* Job 2 becomes garbage; job 3 a valid record of another id. */
	path_join(path, sizeof(path), tq.tq_dir, "queue");
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, STORE_MAXDBS), 0);
	ck_assert_int_eq(mdb_env_open(env, path, MDB_NOTLS, 0640), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "jobs", 0, &dbi), 0);
	util_put_be64(kb, 2);
	k.mv_size = 8;
	k.mv_data = kb;
	v.mv_size = sizeof(garbage) - 1;
	v.mv_data = (void *)garbage;
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	memset(&j, 0, sizeof(j));
	j.j_id = 99;
	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(codec_job_encode(&j, &sb), 0);
	util_put_be64(kb, 3);
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	msgpack_sbuffer_destroy(&sb);
	mdb_env_close(env);

	ck_assert_int_eq(queue_open(&tq.tq_q, tq.tq_dir, &qc), 0);
	tq.tq_q.q_fixed_now = T0;
	ck_assert_int_eq(queue_get(&tq.tq_q, 2, &j), QUEUE_ERROR);
	ck_assert_int_eq(queue_get(&tq.tq_q, 3, &j), QUEUE_ERROR);
	ck_assert_int_eq(state_of(&tq, 1), JOB_READY);
	ck_assert_int_eq(state_of(&tq, 4), JOB_READY);

	/* Job 1 is claimed; a claim that reaches job 2 fails as a whole. */
	ck_assert_uint_eq(claim1(&tq, 1, &gen), 1);
	ck_assert_int_eq(queue_claim(&tq.tq_q, &o, out, 4, &n), QUEUE_ERROR);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_count[JOB_READY], 3);
	ck_assert_uint_eq(qs.qs_count[JOB_LEASED], 1);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, 2), QUEUE_ERROR);
	ck_assert_int_eq(queue_retry(&tq.tq_q, 2), QUEUE_ERROR);
	memset(counts, 0, sizeof(counts));
	ck_assert_int_eq(queue_list(&tq.tq_q, -1, SIZE_MAX, count_cb, counts),
	    QUEUE_ERROR);
	/* The rest of the queue still works. */
	ck_assert_int_eq(ack1(&tq, 1, gen), QUEUE_OK);
	ck_assert_int_eq(state_of(&tq, 1), JOB_DONE);
	enq(&tq, "other", NULL, 0, 10);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_count[JOB_READY], 4);
	tq_close(&tq);
}
END_TEST

/* A job's record under key k of "jobs", read raw, or written. */
static void
tq_record_get(struct tq *tq, MDB_txn *txn, MDB_val *k, struct job *j)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_val		 v;

	ck_assert_str_eq(s->s_names[1], "jobs");
	ck_assert_int_eq(mdb_get(txn, s->s_dbi[1], k, &v), 0);
	ck_assert_int_eq(codec_job_decode(v.mv_data, v.mv_size, j), 0);
}

static void
tq_record_put(struct tq *tq, MDB_txn *txn, MDB_val *k, const struct job *j)
{
	struct store	*s = &tq->tq_q.q_store;
	msgpack_sbuffer	 sb;
	MDB_val		 v;

	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(codec_job_encode(j, &sb), 0);
	v.mv_size = sb.size;
	v.mv_data = sb.data;
	ck_assert_int_eq(mdb_put(txn, s->s_dbi[1], k, &v, 0), 0);
	msgpack_sbuffer_destroy(&sb);
}

/* A lease's holder, generation and cancel flag, into the record. */
static void
tq_record_lease(struct job *j, const uint8_t *l)
{
	uint32_t	 cancel;

	memcpy(&j->j_lease_gen, l, 8);
	memcpy(&j->j_lease_pid, l + 8, 4);
	memcpy(&j->j_lease_slot, l + 12, 4);
	memcpy(&cancel, l + 40, 4);
	j->j_cancel = cancel;
}

/*
 * A leased job's record as versions 1 and 2 wrote it at the claim: state
 * leased, updated at the claim, the lease's holder, generation and
 * deadline, and its cancel flag once cancelled.  l is the lease as
 * stored: gen(8) pid(4) slot(4) deadline(8) progress(8) size(8)
 * cancel(4) big(4) claimed(8), in host order.
 */
static void
tq_downgrade_job(struct tq *tq, MDB_txn *txn, const uint8_t *id,
    const uint8_t *l)
{
	struct job	 j;
	MDB_val		 k = { 8, (void *)id };

	tq_record_get(tq, txn, &k, &j);
	tq_record_lease(&j, l);
	j.j_state = JOB_LEASED;
	memcpy(&j.j_updated, l + 48, 8);
	memcpy(&j.j_lease_deadline, l + 16, 8);
	j.j_progress = 0;
	tq_record_put(tq, txn, &k, &j);
}

/*
 * Whether a key of the main database is one of meta's: "stats", 'l'
 * id(8), 't' tid(4) or 'u' tid(4) band(1) id(8), not a database's name.
 */
static int
tq_meta_key(const MDB_val *k)
{
	const char	*p = k->mv_data;

	return ((k->mv_size == 5 && memcmp(p, "stats", 5) == 0) ||
	    (k->mv_size == 9 && p[0] == 'l') ||
	    (k->mv_size == 5 && p[0] == 't') ||
	    (k->mv_size == 14 && p[0] == 'u'));
}

/*
 * Up to version 6 a settling wrote each finished lease into its job's
 * record, as the ack would have (the state, the ack's time, the lease's
 * holder, generation and progress, no deadline), and there is no
 * database "finished".  f is the finished lease as stored: the lease
 * (see tq_downgrade_job), then done(8) state(4) pad(4).
 */
static void
tq_downgrade_finished(struct tq *tq, MDB_txn *txn)
{
	struct job	 j;
	MDB_cursor	*c;
	MDB_dbi		 finished;
	MDB_val		 k, f;
	const uint8_t	*l;
	uint32_t	 state;
	int		 rc;

	ck_assert_int_eq(mdb_dbi_open(txn, "finished", 0, &finished), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, finished, &c), 0);
	while ((rc = mdb_cursor_get(c, &k, &f, MDB_NEXT)) == 0) {
		ck_assert_uint_eq(f.mv_size, 72);
		l = f.mv_data;
		tq_record_get(tq, txn, &k, &j);
		tq_record_lease(&j, l);
		memcpy(&state, l + 64, 4);
		j.j_state = state;
		memcpy(&j.j_updated, l + 56, 8);
		memcpy(&j.j_progress, l + 24, 8);
		j.j_lease_deadline = 0;
		tq_record_put(tq, txn, &k, &j);
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	ck_assert_int_eq(mdb_drop(txn, finished, 1), 0);
}

/* Versions 1 to 4 keep meta's records in a database "meta". */
static void
tq_downgrade_meta(MDB_txn *txn, MDB_dbi main, MDB_dbi *meta)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc, op = MDB_FIRST, n = 0;

	ck_assert_int_eq(mdb_dbi_open(txn, "meta", MDB_CREATE, meta), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, main, &c), 0);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		/* After a delete, MDB_NEXT stays on the key that followed. */
		op = MDB_NEXT;
		if (!tq_meta_key(&k))
			continue;
		ck_assert_int_eq(mdb_put(txn, *meta, &k, &v, 0), 0);
		ck_assert_int_eq(mdb_cursor_del(c, 0), 0);
		n++;
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	ck_assert_int_gt(n, 0);
	mdb_cursor_close(c);
}

/* Up to version 5 every ready job is in meta: the backlog's move there. */
static void
tq_downgrade_backlog(MDB_txn *txn, MDB_dbi main)
{
	MDB_cursor	*c;
	MDB_dbi		 backlog;
	MDB_val		 k, v;
	uint8_t		 kb[14];
	int		 rc;

	ck_assert_int_eq(mdb_dbi_open(txn, "backlog", 0, &backlog), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, backlog, &c), 0);
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		ck_assert_uint_eq(k.mv_size, 13);
		kb[0] = 'u';
		memcpy(kb + 1, k.mv_data, 13);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		ck_assert_int_eq(mdb_put(txn, main, &k, &v, 0), 0);
	}
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(c);
	ck_assert_int_eq(mdb_drop(txn, backlog, 0), 0);
}

/*
 * Take a queue back to the layout of an older version.  Version 6 has
 * no database "finished": a settling wrote the records.  Version 5 keeps
 * every ready job in meta, none in a backlog.  Version 4 keeps
 * meta's records in a database "meta", as the older ones do.  Version 3 has
 * no finished leases (an ack wrote the record and done at once, as a
 * settling does) and keeps the ready jobs in a database "ready" (tid(4)
 * band(1) id(8) -> enqueue time, size), as the older ones do.  Version 2
 * keeps leases in a database "leases" (id(8) -> the lease without
 * l_claimed, 48 bytes) and the tenant counts in "tcount" (tid(4) ->
 * counts); version 1 has the leases so, no tenant counts, and a meta
 * record that ends before m_done (128 bytes).  Both wrote a leased job's
 * record at the claim.
 */
static void
tq_downgrade(struct tq *tq, uint32_t version)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_dbi		 meta, leases, tcount = 0, ready;
	MDB_val		 k = { 5, "stats" }, v, ok, ov;
	uint8_t		 old[256];
	int		 rc;

	ck_assert_ptr_null(s->s_names[0]);
	/* Version 4 may have finished leases; the older ones may not. */
	if (version < 4)
		ck_assert_int_eq(queue_settle(&tq->tq_q), QUEUE_OK);
	ck_assert_int_eq(mdb_txn_begin(s->s_env, NULL, 0, &txn), 0);
	tq_downgrade_finished(tq, txn);
	meta = s->s_dbi[0];
	if (version == 6)
		goto stats;
	tq_downgrade_backlog(txn, s->s_dbi[0]);
	if (version == 5)
		goto stats;
	tq_downgrade_meta(txn, s->s_dbi[0], &meta);
	if (version == 4)
		goto stats;
	ck_assert_int_eq(mdb_dbi_open(txn, "ready", MDB_CREATE, &ready), 0);
	ck_assert_int_eq(mdb_cursor_open(txn, meta, &c), 0);
	/* 'u' tid(4) band(1) id(8) sort after every other key. */
	while ((rc = mdb_cursor_get(c, &ok, &ov, MDB_LAST)) == 0 &&
	    ((char *)ok.mv_data)[0] == 'u') {
		ck_assert_uint_eq(ok.mv_size, 14);
		ok.mv_size = 13;
		ok.mv_data = (char *)ok.mv_data + 1;
		ck_assert_int_eq(mdb_put(txn, ready, &ok, &ov, 0), 0);
		ck_assert_int_eq(mdb_cursor_del(c, 0), 0);
	}
	ck_assert_int_eq(rc, 0);
	if (version == 3) {
		mdb_cursor_close(c);
		goto stats;
	}
	ck_assert_int_eq(mdb_dbi_open(txn, "leases", MDB_CREATE, &leases), 0);
	if (version == 2)
		ck_assert_int_eq(mdb_dbi_open(txn, "tcount", MDB_CREATE,
		    &tcount), 0);
	while ((rc = mdb_cursor_get(c, &ok, &ov, MDB_FIRST)) == 0 &&
	    ok.mv_size != 5) {
		/* 'l' id(8) and 't' tid(4) sort before and after "stats". */
		ck_assert(ok.mv_size == 9 && ((char *)ok.mv_data)[0] == 'l');
		ck_assert_uint_eq(ov.mv_size, 56);
		v.mv_size = 48;
		v.mv_data = ov.mv_data;
		ok.mv_size = 8;
		ok.mv_data = (char *)ok.mv_data + 1;
		tq_downgrade_job(tq, txn, ok.mv_data, ov.mv_data);
		ck_assert_int_eq(mdb_put(txn, leases, &ok, &v, 0), 0);
		ck_assert_int_eq(mdb_cursor_del(c, 0), 0);
	}
	ck_assert_int_eq(rc, 0);
	while ((rc = mdb_cursor_get(c, &ok, &ov, MDB_LAST)) == 0 &&
	    ((char *)ok.mv_data)[0] == 't') {
		ck_assert_uint_eq(ok.mv_size, 5);
		ok.mv_size = 4;
		ok.mv_data = (char *)ok.mv_data + 1;
		if (version == 2)
			ck_assert_int_eq(mdb_put(txn, tcount, &ok, &ov, 0), 0);
		ck_assert_int_eq(mdb_cursor_del(c, 0), 0);
	}
	ck_assert_int_eq(rc, 0);
	mdb_cursor_close(c);
stats:
	ck_assert_int_eq(mdb_get(txn, meta, &k, &v), 0);
	ck_assert_uint_le(v.mv_size, sizeof(old));
	memcpy(old, v.mv_data, v.mv_size);
	memcpy(old, &version, sizeof(version));
	if (version == 1)
		v.mv_size = 128;
	v.mv_data = old;
	ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
}

/* After the upgrade, the databases of the old layout are gone. */
static void
tq_upgraded(struct tq *tq)
{
	MDB_txn	*txn;
	MDB_dbi	 dbi;

	ck_assert_int_eq(mdb_txn_begin(tq->tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "leases", 0, &dbi), MDB_NOTFOUND);
	ck_assert_int_eq(mdb_dbi_open(txn, "tcount", 0, &dbi), MDB_NOTFOUND);
	ck_assert_int_eq(mdb_dbi_open(txn, "ready", 0, &dbi), MDB_NOTFOUND);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), MDB_NOTFOUND);
	mdb_txn_abort(txn);
}

/*
 * A queue from before the counts per tenant (its meta record of version
 * 1, shorter, and no tcount) gets them at the next open, from its jobs,
 * and the totals of done and cancelled jobs start from what it holds.
 */
START_TEST(test_tenant_upgrade)
{
	struct tq		 tq;
	struct queue_stats	 qs;
	uint64_t		 id, gen;
	int			 i, state;

	tq_open(&tq, NULL);
	for (i = 0; i < 6; i++)
		enq(&tq, i % 2 ? "acme" : "blue", NULL, 0, 100);
	ck_assert_uint_eq(claim_ack(&tq, 4242, 2), 2);
	id = claim1(&tq, 4242, &gen);
	ck_assert_int_eq(queue_fail(&tq.tq_q, id, gen, "bad", 1, &state),
	    QUEUE_OK);
	ck_assert_uint_ne(claim1(&tq, 4242, &gen), 0);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, enq(&tq, "acme", NULL, 0, 1)),
	    QUEUE_OK);
	COUNTS(&tq, 2, 1, 0, 2, 1, 1);

	tq_downgrade(&tq, 1);
	tq_reopen(&tq, NULL);
	tq_upgraded(&tq);
	COUNTS(&tq, 2, 1, 0, 2, 1, 1);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_done, 2);
	ck_assert_uint_eq(qs.qs_cancelled, 1);
	ck_assert_uint_eq(qs.qs_retried, 0);
	/* And the counts go on from there. */
	ck_assert_uint_eq(claim_ack(&tq, 4243, 2), 2);
	COUNTS(&tq, 0, 1, 0, 4, 1, 1);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_done, 4);
	tq_close(&tq);
}
END_TEST

/*
 * A queue of version 2, its leases and tenant counts in databases of
 * their own, has them moved into meta at the next open, and its leases
 * hold: fenced, cancelled, released and acked as before.
 */
START_TEST(test_layout_upgrade)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct queue_release	 rel;
	struct tq		 tq;
	uint64_t		 ids[3], gens[3];
	int			 i;

	tconf(&qc);
	qc.qc_big_bytes = 1000;
	tq_open(&tq, &qc);
	for (i = 0; i < 3; i++)
		ids[i] = enq(&tq, "acme", NULL, 0, i == 2 ? 5000 : 10);
	for (i = 0; i < 3; i++)
		ck_assert_uint_eq(claim1(&tq, i == 2 ? 200 : 100, &gens[i]),
		    ids[i]);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, ids[1]), QUEUE_ECANCEL);
	enq(&tq, "blue", NULL, 0, 10);
	ck_assert_uint_eq(claim_ack(&tq, 300, 1), 1);
	enq(&tq, "blue", NULL, 0, 10);
	COUNTS(&tq, 1, 3, 0, 1, 0, 0);

	tq_downgrade(&tq, 2);
	tq_reopen(&tq, &qc);
	tq_upgraded(&tq);
	COUNTS(&tq, 1, 3, 0, 1, 0, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, 5000);
	ck_assert_int_eq(state_of(&tq, ids[0]), JOB_LEASED);

	ck_assert_int_eq(ack1(&tq, ids[0], gens[0] + 100), QUEUE_ESTALE);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, ids[1], gens[1], 5),
	    QUEUE_ECANCEL);
	ck_assert_int_eq(ack1(&tq, ids[0], gens[0]), QUEUE_OK);
	ck_assert_int_eq(ack1(&tq, ids[1], gens[1]), QUEUE_ECANCEL);
	ck_assert_int_eq(queue_release_pid(&tq.tq_q, 200, "gone", 0, &rel),
	    QUEUE_OK);
	ck_assert_uint_eq(rel.qr_released, 1);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_big_inflight, 0);
	COUNTS(&tq, 2, 0, 0, 2, 0, 1);
	tq_close(&tq);
}
END_TEST

/* The layout version in the meta record, and this quire's. */
#define TQ_VERSION	7

static uint32_t
tq_version(struct tq *tq)
{
	struct store	*s = &tq->tq_q.q_store;
	MDB_txn		*txn;
	MDB_val		 k = { 5, "stats" }, v;
	MDB_dbi		 meta;
	uint32_t	 version;

	ck_assert_int_eq(mdb_txn_begin(s->s_env, NULL, MDB_RDONLY, &txn), 0);
	/* In the main database, or in "meta" up to version 4. */
	if (mdb_get(txn, s->s_dbi[0], &k, &v) != 0) {
		ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
		ck_assert_int_eq(mdb_get(txn, meta, &k, &v), 0);
	}
	ck_assert_uint_ge(v.mv_size, sizeof(version));
	memcpy(&version, v.mv_data, sizeof(version));
	mdb_txn_abort(txn);
	return (version);
}

/*
 * n jobs (5 or more) of two tenants: the first five left done,
 * cancelled, retrying, dead and leased (gens their leases'), the rest
 * ready.
 */
static void
five_states(struct tq *tq, uint64_t *ids, uint64_t *gens, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		ids[i] = enq(tq, i % 2 ? "acme" : "blue", NULL, 0, 100);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(claim1(tq, 100, &gens[i]), ids[i]);
	ck_assert_int_eq(ack1(tq, ids[0], gens[0]), QUEUE_OK);
	ck_assert_int_eq(queue_cancel(&tq->tq_q, ids[1]), QUEUE_ECANCEL);
	ck_assert_int_eq(ack1(tq, ids[1], gens[1]), QUEUE_ECANCEL);
	ck_assert_int_eq(fail1(tq, ids[2], gens[2], "later", 0), JOB_RETRY);
	ck_assert_int_eq(fail1(tq, ids[3], gens[3], "bad", 1), JOB_DEAD);
	ck_assert_int_eq(queue_heartbeat(&tq->tq_q, ids[4], gens[4], 7),
	    QUEUE_OK);
}

/* The n jobs of five_states are in the states of want, the lease whole. */
static void
five_states_are(struct tq *tq, const uint64_t *ids, const uint64_t *gens,
    const int *want, int n)
{
	struct job	 j;
	int		 i;

	for (i = 0; i < n; i++) {
		get(tq, ids[i], &j);
		ck_assert_int_eq(j.j_state, want[i]);
	}
	get(tq, ids[4], &j);
	ck_assert_uint_eq(j.j_progress, 7);
	ck_assert_uint_eq(j.j_lease_gen, gens[4]);
}

/*
 * A queue of version 3, whose acks wrote the job records and done at
 * once, opens with every job in its state, and its acks then leave
 * finished leases as version 4's do.
 */
START_TEST(test_settle_upgrade)
{
	static const int	 want[6] = {
		JOB_DONE, JOB_CANCELLED, JOB_RETRY, JOB_DEAD, JOB_LEASED,
		JOB_READY
	};
	struct tq		 tq;
	struct job		 j;
	uint64_t		 ids[6], gens[6];

	tq_open(&tq, NULL);
	five_states(&tq, ids, gens, 6);
	COUNTS(&tq, 1, 1, 1, 1, 1, 1);

	ck_assert_uint_eq(tq_version(&tq), TQ_VERSION);
	tq_downgrade(&tq, 3);
	ck_assert_uint_eq(tq_version(&tq), 3);
	tq_reopen(&tq, NULL);
	ck_assert_uint_eq(tq_version(&tq), TQ_VERSION);
	tq_upgraded(&tq);
	COUNTS(&tq, 1, 1, 1, 1, 1, 1);
	five_states_are(&tq, ids, gens, want, 6);

	/* The lease holds across the upgrade; its ack is a finished lease. */
	ck_assert_int_eq(ack1(&tq, ids[4], gens[4] + 1), QUEUE_ESTALE);
	tq.tq_q.q_fixed_now = T0 + MINUTE;
	ck_assert_int_eq(ack1(&tq, ids[4], gens[4]), QUEUE_OK);
	ck_assert_int_eq(ack1(&tq, ids[4], gens[4]), QUEUE_ESTALE);
	get(&tq, ids[4], &j);
	ck_assert_int_eq(j.j_state, JOB_DONE);
	ck_assert_uint_eq(j.j_updated, T0 + MINUTE);
	ck_assert_uint_eq(j.j_progress, 7);
	COUNTS(&tq, 1, 0, 1, 2, 1, 1);
	tq_close(&tq);
}
END_TEST

/*
 * What an older quire leaves when it opens a queue of layout 5: a new
 * database "meta", its "stats" those of an empty queue (put), or not
 * (the database deleted).
 */
static void
tq_old_meta(const char *dir, int put)
{
	char		 path[PATH_MAX];
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi, main;
	MDB_val		 k = { 5, "stats" }, v;
	uint8_t		 stats[256];
	uint32_t	 version = 4;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/queue", dir),
	    (int)sizeof(path));
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_open(env, path, 0, 0600), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
	if (put) {
		/* Of the size of layout 5's: version 4, all else 0. */
		ck_assert_int_eq(mdb_dbi_open(txn, NULL, 0, &main), 0);
		ck_assert_int_eq(mdb_get(txn, main, &k, &v), 0);
		ck_assert_uint_le(v.mv_size, sizeof(stats));
		memset(stats, 0, sizeof(stats));
		memcpy(stats, &version, sizeof(version));
		v.mv_data = stats;
		ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	} else
		ck_assert_int_eq(mdb_drop(txn, dbi, 1), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/*
 * A queue of version 4, meta a database of its own, opens with meta's
 * records in the main database and every job in its state: its
 * finished leases (acks not yet settled) still read as done and are
 * settled later, and its live lease holds.
 */
START_TEST(test_main_upgrade)
{
	static const int	 want[7] = {
		JOB_DONE, JOB_CANCELLED, JOB_RETRY, JOB_DEAD, JOB_LEASED,
		JOB_READY, JOB_READY
	};
	struct tq		 tq;
	struct job		 j;
	MDB_txn			*txn;
	uint64_t		 ids[7], gens[5];
	int			 i;

	tq_open(&tq, NULL);
	five_states(&tq, ids, gens, 7);
	COUNTS(&tq, 2, 1, 1, 1, 1, 1);

	tq_downgrade(&tq, 4);
	ck_assert_uint_eq(tq_version(&tq), 4);
	tq_reopen(&tq, NULL);
	ck_assert_uint_eq(tq_version(&tq), TQ_VERSION);
	tq_upgraded(&tq);
	COUNTS(&tq, 2, 1, 1, 1, 1, 1);
	/* Two acks not yet settled, one lease, two ready jobs. */
	ck_assert_int_eq(mdb_txn_begin(tq.tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	ck_assert_uint_eq(db_leases(&tq, txn, 1), 2);
	ck_assert_uint_eq(db_leases(&tq, txn, 0), 1);
	ck_assert_uint_eq(db_ready(&tq, txn), 2);
	ck_assert_uint_eq(db_entries(&tq, txn, "done"), 0);
	mdb_txn_abort(txn);
	five_states_are(&tq, ids, gens, want, 7);

	/* The lease holds across the upgrade, and the claims go on. */
	ck_assert_int_eq(ack1(&tq, ids[4], gens[4] + 1), QUEUE_ESTALE);
	ck_assert_int_eq(ack1(&tq, ids[4], gens[4]), QUEUE_OK);
	ck_assert_uint_eq(claim_ack(&tq, 100, 2), 2);
	COUNTS(&tq, 0, 0, 1, 4, 1, 1);
	ck_assert_int_eq(queue_settle(&tq.tq_q), QUEUE_OK);
	ck_assert_int_eq(mdb_txn_begin(tq.tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	ck_assert_uint_eq(db_leases(&tq, txn, 1), 0);
	ck_assert_uint_eq(db_entries(&tq, txn, "done"), 5);
	mdb_txn_abort(txn);
	COUNTS(&tq, 0, 0, 1, 4, 1, 1);
	for (i = 0; i < 7; i++) {
		get(&tq, ids[i], &j);
		ck_assert_int_eq(j.j_state, i < 4 ? want[i] : JOB_DONE);
	}

	/* Opened by an older quire since, it is refused, and kept as it is. */
	queue_close(&tq.tq_q);
	tq_old_meta(tq.tq_dir, 1);
	ck_assert_int_eq(queue_open(&tq.tq_q, tq.tq_dir, NULL), -1);
	tq_old_meta(tq.tq_dir, 0);
	ck_assert_int_eq(queue_open(&tq.tq_q, tq.tq_dir, NULL), 0);
	COUNTS(&tq, 0, 0, 1, 4, 1, 1);
	tq_close(&tq);
}
END_TEST

/*
 * An ack leaves a finished lease: the job reads as done from then on
 * (a heartbeat, an ack again and a cancel find it finished), and it is
 * listed and purged as done.  The ack of one job that makes QUEUE_SETTLE
 * (16) of them writes the records and done entries, and the jobs read
 * the same.
 */
#define TQ_SETTLE	16

static uint64_t
db_fin(struct tq *tq)
{
	MDB_txn		*txn;
	uint64_t	 n;

	ck_assert_int_eq(mdb_txn_begin(tq->tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	n = db_leases(tq, txn, 1);
	mdb_txn_abort(txn);
	return (n);
}

/* Entries in the database of that name. */
static uint64_t
db_count(struct tq *tq, const char *name)
{
	MDB_txn		*txn;
	uint64_t	 n;

	ck_assert_int_eq(mdb_txn_begin(tq->tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	n = db_entries(tq, txn, name);
	mdb_txn_abort(txn);
	return (n);
}

START_TEST(test_ack_settle)
{
	struct tq		 tq;
	struct job		 j, before;
	uint64_t		 id, gen, first, n;
	int			 i;

	tq_open(&tq, NULL);
	first = enq(&tq, "acme", NULL, 0, 10);
	for (i = 1; i < TQ_SETTLE + 2; i++)
		enq(&tq, i % 3 ? "acme" : "blue", NULL, 0, 10);
	ck_assert_uint_eq(claim1(&tq, 100, &gen), first);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, first, gen, 9), QUEUE_OK);
	tq.tq_q.q_fixed_now = T0 + MINUTE;
	ck_assert_int_eq(ack1(&tq, first, gen), QUEUE_OK);
	ck_assert_uint_eq(db_fin(&tq), 1);
	get(&tq, first, &before);
	ck_assert_int_eq(before.j_state, JOB_DONE);
	ck_assert_uint_eq(before.j_updated, T0 + MINUTE);
	ck_assert_uint_eq(before.j_progress, 9);
	ck_assert_uint_eq(before.j_lease_gen, gen);
	ck_assert_uint_eq(before.j_lease_deadline, 0);
	ck_assert_int_eq(queue_heartbeat(&tq.tq_q, first, gen, 10),
	    QUEUE_ESTALE);
	ck_assert_int_eq(ack1(&tq, first, gen), QUEUE_ESTALE);
	ck_assert_int_eq(queue_cancel(&tq.tq_q, first), QUEUE_ESTATE);
	ck_assert_int_eq(queue_retry(&tq.tq_q, first), QUEUE_ESTATE);
	COUNTS(&tq, TQ_SETTLE + 1, 0, 0, 1, 0, 0);

	/* Up to QUEUE_SETTLE - 1 finished leases, then none. */
	for (i = 1; i < TQ_SETTLE - 1; i++)
		ck_assert_uint_eq(claim_ack(&tq, 100, 1), 1);
	ck_assert_uint_eq(db_fin(&tq), TQ_SETTLE - 1);
	COUNTS(&tq, 3, 0, 0, TQ_SETTLE - 1, 0, 0);
	ck_assert_uint_eq(claim_ack(&tq, 100, 1), 1);
	ck_assert_uint_eq(db_fin(&tq), 0);
	ck_assert_uint_eq(db_count(&tq, "finished"), TQ_SETTLE);
	COUNTS(&tq, 2, 0, 0, TQ_SETTLE, 0, 0);
	get(&tq, first, &j);
	ck_assert_int_eq(j.j_state, before.j_state);
	ck_assert_uint_eq(j.j_updated, before.j_updated);
	ck_assert_uint_eq(j.j_progress, before.j_progress);
	ck_assert_uint_eq(j.j_lease_gen, before.j_lease_gen);

	/* A purge takes the unsettled ones too. */
	id = claim1(&tq, 100, &gen);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	ck_assert_uint_eq(db_fin(&tq), 1);
	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 0, 0, &n), QUEUE_OK);
	ck_assert_uint_eq(n, TQ_SETTLE + 1);
	ck_assert_uint_eq(db_fin(&tq), 0);
	ck_assert_uint_eq(db_count(&tq, "finished"), 0);
	ck_assert_int_eq(state_of(&tq, id), QUEUE_ENOENT);
	COUNTS(&tq, 1, 0, 0, 0, 0, 0);
	tq_close(&tq);
}
END_TEST

/* Map growth. */

#define GROW_JOBS	50000
#define GROW_BATCH	1000

static int
ids_cb(const struct job *j, void *arg)
{
	uint64_t	*next = arg;

	ck_assert_uint_eq(j->j_id, *next);
	(*next)++;
	return (0);
}

START_TEST(test_map_growth)
{
	struct queue_conf	 qc;
	struct queue_new	*qn;
	struct tq		 tq;
	struct job		 j;
	char			(*keys)[24];
	uint64_t		 next = 1;
	size_t			 b, i;

	tconf(&qc);
	qc.qc_mapsize = MIB;
	tq_open(&tq, &qc);
	ck_assert_uint_eq(tq.tq_q.q_store.s_mapsize, MIB);
	qn = calloc(GROW_BATCH, sizeof(*qn));
	keys = calloc(GROW_BATCH, sizeof(*keys));
	ck_assert(qn != NULL && keys != NULL);
	for (b = 0; b < GROW_JOBS / GROW_BATCH; b++) {
		for (i = 0; i < GROW_BATCH; i++) {
			snprintf(keys[i], sizeof(keys[i]), "grow-%zu",
			    b * GROW_BATCH + i);
			new_job(&qn[i], i % 2 ? "a" : "b", keys[i], i % 10,
			    100);
		}
		ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, GROW_BATCH),
		    QUEUE_OK);
		for (i = 0; i < GROW_BATCH; i++)
			ck_assert_uint_eq(qn[i].qn_id,
			    b * GROW_BATCH + i + 1);
	}
	ck_assert_uint_gt(tq.tq_q.q_store.s_grows, 0);
	ck_assert_uint_gt(tq.tq_q.q_store.s_mapsize, MIB);
	COUNTS(&tq, GROW_JOBS, 0, 0, 0, 0, 0);
	ck_assert_int_eq(queue_list(&tq.tq_q, -1, SIZE_MAX, ids_cb, &next),
	    QUEUE_OK);
	ck_assert_uint_eq(next, GROW_JOBS + 1);
	get(&tq, GROW_JOBS, &j);
	ck_assert_str_eq(j.j_key, "grow-49999");

	/* Opened again with a 1 MiB map, all of it is there and works. */
	tq_reopen(&tq, &qc);
	COUNTS(&tq, GROW_JOBS, 0, 0, 0, 0, 0);
	ck_assert_uint_eq(claim_ack(&tq, 1, 16), 16);
	new_job(&qn[0], "a", "grow-7", 0, 100);
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 1), QUEUE_OK);
	ck_assert_int_eq(qn[0].qn_dup, 1);
	ck_assert_uint_eq(qn[0].qn_id, 8);
	free(qn);
	free(keys);
	tq_close(&tq);
}
END_TEST

/*
 * Ready jobs past the first of each tenant and band wait in the backlog
 * (layout 6) and move to meta QUEUE_HEAD (32) at a time: claims still
 * come in priority, then id order, a retried job's older id goes before
 * the backlog, a cancel takes a job from either, and a layout 5 queue,
 * every ready job in meta, upgrades by its version alone.
 */
#define TQ_HEAD		32

/* Ready jobs in meta, and in the backlog. */
static void
db_ready_split(struct tq *tq, uint64_t *meta, uint64_t *backlog)
{
	MDB_txn		*txn;

	ck_assert_int_eq(mdb_txn_begin(tq->tq_q.q_store.s_env, NULL,
	    MDB_RDONLY, &txn), 0);
	*backlog = db_entries(tq, txn, "backlog");
	*meta = db_ready(tq, txn) - *backlog;
	mdb_txn_abort(txn);
}

START_TEST(test_backlog)
{
	struct tq		 tq;
	uint64_t		 low[100], high[3], gen, id, meta, backlog;
	int			 i, state;

	tq_open(&tq, NULL);
	for (i = 0; i < 100; i++)
		low[i] = enq(&tq, "acme", NULL, 0, 10);
	for (i = 0; i < 3; i++)
		high[i] = enq(&tq, "acme", NULL, 5, 10);
	/* The first of each band in meta. */
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, 2);
	ck_assert_uint_eq(backlog, 101);
	COUNTS(&tq, 103, 0, 0, 0, 0, 0);
	/* The band's last in meta claimed: its next two move there. */
	ck_assert_uint_eq(claim1(&tq, 100, &gen), high[0]);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, 3);
	ck_assert_uint_eq(backlog, 99);
	ck_assert_uint_eq(claim1(&tq, 100, NULL), high[1]);
	ck_assert_uint_eq(claim1(&tq, 100, NULL), high[2]);
	/* A retry's older id comes back before the jobs after it. */
	ck_assert_int_eq(queue_fail(&tq.tq_q, high[0], gen, "again", 0,
	    &state), QUEUE_OK);
	ck_assert_int_eq(state, JOB_RETRY);
	ck_assert_uint_eq(claim1(&tq, 100, NULL), low[0]);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, TQ_HEAD);
	ck_assert_uint_eq(backlog, 99 - TQ_HEAD);
	tq.tq_q.q_fixed_now = T0 + HOUR;
	ck_assert_uint_eq(claim1(&tq, 100, NULL), high[0]);
	/* A cancel in the backlog, then of meta's jobs, the last refills. */
	ck_assert_int_eq(queue_cancel(&tq.tq_q, low[99]), QUEUE_OK);
	for (i = 1; i <= TQ_HEAD; i++)
		ck_assert_int_eq(queue_cancel(&tq.tq_q, low[i]), QUEUE_OK);
	COUNTS(&tq, 66, 4, 0, 0, 0, 33);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, TQ_HEAD);
	ck_assert_uint_eq(backlog, 66 - TQ_HEAD);
	for (i = TQ_HEAD + 1; i < 99; i++) {
		id = claim1(&tq, 100, NULL);
		ck_assert_uint_eq(id, low[i]);
	}
	ck_assert_uint_eq(claim1(&tq, 100, NULL), 0);
	COUNTS(&tq, 0, 70, 0, 0, 0, 33);
	tq_close(&tq);
}
END_TEST

/*
 * Refills and settlings follow the size of a commit: a claim of 16 that
 * empties its band in meta moves the next 256 there (16 claims of its
 * size), one of a single job 32, and acks of 16 jobs leave finished
 * leases until they are 256, where acks of one settle at 16.
 */
START_TEST(test_commit_rounds)
{
	struct tq		 tq;
	uint64_t		 meta, backlog, id, gen;
	int			 i;

	tq_open(&tq, NULL);
	for (i = 0; i < 600; i++)
		enq(&tq, "acme", NULL, 0, 10);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, 1);
	ck_assert_uint_eq(backlog, 599);
	ck_assert_uint_eq(claim_ack(&tq, 100, 16), 16);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, 256 - 15);
	ck_assert_uint_eq(backlog, 599 - 256);
	ck_assert_uint_eq(db_fin(&tq), 16);
	for (i = 1; i < 15; i++)
		ck_assert_uint_eq(claim_ack(&tq, 100, 16), 16);
	ck_assert_uint_eq(db_fin(&tq), 15 * 16);
	ck_assert_uint_eq(claim_ack(&tq, 100, 16), 16);
	ck_assert_uint_eq(db_fin(&tq), 0);
	COUNTS(&tq, 600 - 256, 0, 0, 256, 0, 0);
	/* Meta's last one, then a refill of 32 for claims of one. */
	id = claim1(&tq, 100, &gen);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, 32);
	ck_assert_uint_eq(backlog, 599 - 256 - 32);
	ck_assert_int_eq(ack1(&tq, id, gen), QUEUE_OK);
	for (i = 1; i < 16; i++)
		ck_assert_uint_eq(claim_ack(&tq, 100, 1), 1);
	ck_assert_uint_eq(db_fin(&tq), 0);
	COUNTS(&tq, 600 - 256 - 16, 0, 0, 256 + 16, 0, 0);
	tq_close(&tq);
}
END_TEST

/* Put a layout version into the meta record, as an older quire left it. */
static void
tq_set_version(struct tq *tq, uint32_t version)
{
	MDB_txn		*txn;
	MDB_val		 k = { 5, "stats" }, v;
	uint8_t		 stats[256];

	ck_assert_int_eq(mdb_txn_begin(tq->tq_q.q_store.s_env, NULL, 0, &txn),
	    0);
	ck_assert_int_eq(mdb_get(txn, tq->tq_q.q_store.s_dbi[0], &k, &v), 0);
	ck_assert_uint_le(v.mv_size, sizeof(stats));
	memcpy(stats, v.mv_data, v.mv_size);
	memcpy(stats, &version, sizeof(version));
	v.mv_data = stats;
	ck_assert_int_eq(mdb_put(txn, tq->tq_q.q_store.s_dbi[0], &k, &v, 0),
	    0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
}

/*
 * While jobs wait to be claimed, the done jobs may pass retain_done up
 * to twice it (and its slack) before an ack trims them back to twice
 * it; the first ack with none waiting trims them to retain_done, the
 * oldest first.
 */
START_TEST(test_retention_backlog)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct tq		 tq;
	uint64_t		 ids[200], most = 0;
	size_t			 i, n;

	tconf(&qc);
	qc.qc_retain_done = 48;		/* slack 3 */
	tq_open(&tq, &qc);
	for (i = 0; i < 200; i++)
		ids[i] = enq(&tq, "acme", NULL, 0, 10);
	do {
		n = claim_ack(&tq, 1, 4);
		ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
		ck_assert_uint_le(qs.qs_count[JOB_DONE], 2 * 48 + 3);
		if (qs.qs_count[JOB_DONE] > most)
			most = qs.qs_count[JOB_DONE];
	} while (n > 0);
	ck_assert_uint_eq(most, 2 * 48);
	ck_assert_uint_eq(qs.qs_count[JOB_DONE], 48);
	ck_assert_int_eq(state_of(&tq, ids[0]), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, ids[151]), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, ids[152]), JOB_DONE);
	ck_assert_int_eq(state_of(&tq, ids[199]), JOB_DONE);
	COUNTS(&tq, 0, 0, 0, 48, 0, 0);
	tq_close(&tq);
}
END_TEST

/*
 * A queue of version 6, whose settlings wrote the acked jobs' records,
 * opens as version 7 with every job in its state.  Its acks are then
 * settled into finished, and a purge of done jobs takes both kinds.
 */
START_TEST(test_finished_upgrade)
{
	static const int	 want[6] = {
		JOB_DONE, JOB_CANCELLED, JOB_RETRY, JOB_DEAD, JOB_LEASED,
		JOB_READY
	};
	struct tq		 tq;
	struct job		 j;
	uint64_t		 ids[6], gens[6], n;

	tq_open(&tq, NULL);
	five_states(&tq, ids, gens, 6);
	ck_assert_int_eq(queue_settle(&tq.tq_q), QUEUE_OK);
	ck_assert_uint_eq(db_count(&tq, "finished"), 2);
	tq_downgrade(&tq, 6);
	ck_assert_uint_eq(tq_version(&tq), 6);
	tq_reopen(&tq, NULL);
	ck_assert_uint_eq(tq_version(&tq), TQ_VERSION);
	ck_assert_uint_eq(db_count(&tq, "finished"), 0);
	COUNTS(&tq, 1, 1, 1, 1, 1, 1);
	five_states_are(&tq, ids, gens, want, 6);

	/* The lease's ack, settled: in finished, and read as done. */
	tq.tq_q.q_fixed_now = T0 + MINUTE;
	ck_assert_int_eq(ack1(&tq, ids[4], gens[4]), QUEUE_OK);
	ck_assert_int_eq(queue_settle(&tq.tq_q), QUEUE_OK);
	ck_assert_uint_eq(db_count(&tq, "finished"), 1);
	get(&tq, ids[4], &j);
	ck_assert_int_eq(j.j_state, JOB_DONE);
	ck_assert_uint_eq(j.j_updated, T0 + MINUTE);
	ck_assert_uint_eq(j.j_progress, 7);
	ck_assert_uint_eq(j.j_lease_gen, gens[4]);
	ck_assert_uint_eq(j.j_lease_deadline, 0);
	COUNTS(&tq, 1, 0, 1, 2, 1, 1);

	ck_assert_int_eq(queue_purge(&tq.tq_q, JOB_DONE, 0, 0, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(db_count(&tq, "finished"), 0);
	ck_assert_int_eq(state_of(&tq, ids[0]), QUEUE_ENOENT);
	ck_assert_int_eq(state_of(&tq, ids[4]), QUEUE_ENOENT);
	COUNTS(&tq, 1, 0, 1, 0, 1, 0);
	tq_close(&tq);
}
END_TEST

START_TEST(test_backlog_upgrade)
{
	struct tq		 tq;
	uint64_t		 acme[40], blue[40], meta, backlog;
	size_t			 a = 0, b = 0;
	uint64_t		 id;
	struct job		 j;
	int			 i;

	tq_open(&tq, NULL);
	for (i = 0; i < 30; i++) {
		acme[i] = enq(&tq, "acme", NULL, 0, 10);
		blue[i] = enq(&tq, "blue", NULL, 0, 10);
	}
	tq_downgrade(&tq, 5);
	ck_assert_uint_eq(tq_version(&tq), 5);
	tq_reopen(&tq, NULL);
	ck_assert_uint_eq(tq_version(&tq), TQ_VERSION);
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(meta, 60);
	ck_assert_uint_eq(backlog, 0);
	COUNTS(&tq, 60, 0, 0, 0, 0, 0);
	for (i = 30; i < 40; i++) {
		acme[i] = enq(&tq, "acme", NULL, 0, 10);
		blue[i] = enq(&tq, "blue", NULL, 0, 10);
	}
	db_ready_split(&tq, &meta, &backlog);
	ck_assert_uint_eq(backlog, 20);
	/* The tenants in turn, each in id order, across the upgrade. */
	while ((id = claim1(&tq, 100, NULL)) != 0) {
		get(&tq, id, &j);
		if (strcmp(j.j_tenant, "acme") == 0)
			ck_assert_uint_eq(id, acme[a++]);
		else
			ck_assert_uint_eq(id, blue[b++]);
		ck_assert_uint_le(a > b ? a - b : b - a, 1);
	}
	ck_assert_uint_eq(a, 40);
	ck_assert_uint_eq(b, 40);
	COUNTS(&tq, 0, 80, 0, 0, 0, 0);
	/* A newer layout than this quire's is refused. */
	queue_close(&tq.tq_q);
	ck_assert_int_eq(queue_open(&tq.tq_q, tq.tq_dir, NULL), 0);
	tq_set_version(&tq, TQ_VERSION + 1);
	queue_close(&tq.tq_q);
	ck_assert_int_eq(queue_open(&tq.tq_q, tq.tq_dir, NULL), -1);
	ck_assert_int_eq(tlib_rm_rf(tq.tq_dir), 0);
}
END_TEST

/*
 * PostgreSQL's own: a connection the server ended, the hosts sharing
 * the queue and the documents' homes, uploaded bodies read by another
 * host, the schema's versions, two processes enqueueing the same keys,
 * and wake-ups.
 */

START_TEST(test_reconnect)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct tq		 tq;
	uint64_t		 a, b, gen;

	/*
	 * The server ends the queue's connection (as a restart would): the
	 * next call connects again and goes through, once per call.
	 */
	tconf(&qc);
	tq_open(&tq, &qc);
	a = enq(&tq, "acme", NULL, 0, 10);
	tq_sql(pg_dsn, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE pid <> pg_backend_pid() AND "
	    "backend_type = 'client backend' AND usename = current_user");
	b = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_uint_eq(b, a + 1);
	COUNTS(&tq, 2, 0, 0, 0, 0, 0);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), a);
	tq_sql(pg_dsn, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE pid <> pg_backend_pid() AND "
	    "backend_type = 'client backend' AND usename = current_user");
	ck_assert_int_eq(ack1(&tq, a, gen), QUEUE_OK);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_completed, 1);
	COUNTS(&tq, 1, 0, 0, 1, 0, 0);
	tq_close(&tq);
}
END_TEST

/* Hosts: beats, the listing, and a dead host's leases released. */

struct hosts_seen {
	struct queue_host	 hs_h[4];
	int			 hs_n;
};

static int
hosts_cb(const struct queue_host *h, void *arg)
{
	struct hosts_seen	*hs = arg;

	ck_assert_int_lt(hs->hs_n, 4);
	hs->hs_h[hs->hs_n++] = *h;
	return (0);
}

START_TEST(test_hosts)
{
	struct queue_conf	 qc;
	struct queue_release	 rel;
	struct hosts_seen	 hs;
	struct tq		 a, b;
	struct queue_lease	 ql;
	char			 names[64];
	uint64_t		 id1, id2, g1, g2;
	int			 res;

	tconf(&qc);
	strlcpy(qc.qc_host, "alpha", sizeof(qc.qc_host));
	tq_open(&a, &qc);
	b = a;
	strlcpy(qc.qc_host, "beta", sizeof(qc.qc_host));
	tq_open_only(&b, &qc);
	ck_assert_str_eq(queue_pg_host(&a.tq_q), "alpha");
	ck_assert_str_eq(queue_pg_host(&b.tq_q), "beta");

	ck_assert_int_eq(queue_pg_host_beat(&a.tq_q, "127.0.0.1:1", 5, 0), 0);
	ck_assert_int_eq(queue_pg_host_beat(&b.tq_q, "", 6, 0), 0);
	enq(&a, "acme", NULL, 0, 10);
	enq(&a, "acme", NULL, 0, 10);
	id1 = claim1(&a, 100, &g1);
	id2 = claim1(&b, 200, &g2);
	ck_assert_uint_ne(id1, 0);
	ck_assert_uint_ne(id2, 0);

	memset(&hs, 0, sizeof(hs));
	ck_assert_int_eq(queue_pg_hosts(&a.tq_q, hosts_cb, &hs), 0);
	ck_assert_int_eq(hs.hs_n, 2);
	ck_assert_str_eq(hs.hs_h[0].qh_name, "alpha");
	ck_assert_str_eq(hs.hs_h[0].qh_http, "127.0.0.1:1");
	ck_assert_uint_eq(hs.hs_h[0].qh_started, 5);
	ck_assert_uint_eq(hs.hs_h[0].qh_leased, 1);
	ck_assert_int_eq(hs.hs_h[0].qh_self, 1);
	ck_assert_str_eq(hs.hs_h[1].qh_name, "beta");
	ck_assert_uint_eq(hs.hs_h[1].qh_leased, 1);
	ck_assert_int_eq(hs.hs_h[1].qh_self, 0);
	ck_assert_uint_eq(hs.hs_h[1].qh_pid, (uint32_t)getpid());

	/* Both beat just now: within a minute, nobody is dead. */
	ck_assert_int_eq(queue_pg_host_expire(&a.tq_q, MINUTE, &rel, names,
	    sizeof(names)), 0);
	ck_assert_uint_eq(rel.qr_released, 0);
	ck_assert_str_eq(names, "");

	/* Past an expiry of 0 ms, beta is dead to alpha: its lease goes. */
	usleep(5000);
	ck_assert_int_eq(queue_pg_host_expire(&a.tq_q, 0, &rel, names,
	    sizeof(names)), 0);
	ck_assert_uint_eq(rel.qr_released, 1);
	ck_assert_str_eq(names, "beta");
	ck_assert_int_eq(state_of(&a, id2), JOB_READY);
	/* alpha's own lease stays. */
	ck_assert_int_eq(state_of(&a, id1), JOB_LEASED);
	/* A crash counted, not an attempt; beta's late ack is stale. */
	{
		struct job	 j;

		get(&a, id2, &j);
		ck_assert_uint_eq(j.j_crashes, 1);
		ck_assert_uint_eq(j.j_attempts, 0);
		ck_assert_ptr_nonnull(strstr(j.j_error, "host beta expired"));
	}
	ql.ql_id = id2;
	ql.ql_gen = g2;
	res = 99;
	ck_assert_int_eq(queue_ack(&b.tq_q, &ql, 1, &res), QUEUE_OK);
	ck_assert_int_eq(res, QUEUE_ESTALE);
	/* Nothing left to release: a second look finds no one. */
	ck_assert_int_eq(queue_pg_host_expire(&a.tq_q, 0, &rel, names,
	    sizeof(names)), 0);
	ck_assert_uint_eq(rel.qr_released, 0);

	/* A host stopped cleanly is not dead, however old its beat. */
	id2 = claim1(&b, 201, &g2);
	ck_assert_uint_ne(id2, 0);
	ck_assert_int_eq(queue_pg_host_beat(&b.tq_q, "", 6, 1), 0);
	usleep(5000);
	ck_assert_int_eq(queue_pg_host_expire(&a.tq_q, 0, &rel, names,
	    sizeof(names)), 0);
	ck_assert_uint_eq(rel.qr_released, 0);
	ck_assert_int_eq(state_of(&a, id2), JOB_LEASED);

	queue_close(&b.tq_q);
	tq_close(&a);
}
END_TEST

/*
 * Home hosts: an ack records its jobs' documents as its host's; a
 * later job of a document with a home, and a job pinned to a host, are
 * claimed by that host alone; a delete drops the record.
 */
static uint64_t
enq_doc(struct tq *tq, const char *path, const char *home)
{
	struct queue_new	 qn;

	new_job(&qn, "acme", NULL, 0, 10);
	qn.qn_path = path;
	qn.qn_home = home;
	ck_assert_int_eq(queue_enqueue(&tq->tq_q, &qn, 1), QUEUE_OK);
	return (qn.qn_id);
}

/* A tenant to look a home up in, written back. */
#define TEN(t)	(strlcpy(ten, (t), sizeof(ten)), ten), sizeof(ten)

static int
ack_docs(struct tq *tq, uint64_t id, uint64_t gen,
    const struct queue_doc *docs, size_t n)
{
	ck_assert_int_eq(queue_docs(&tq->tq_q, docs, n), QUEUE_OK);
	return (ack1(tq, id, gen));
}

START_TEST(test_homes)
{
	struct queue_conf	 qc;
	struct queue_doc	 d[3];
	struct tq		 a, b;
	char			 home[64], ten[JOB_TENANT_MAX + 1];
	char			 homes[3][QUEUE_HOST_MAX + 1];
	uint8_t			 foreign[3];
	uint64_t		 id, id2, ga, gb;

	tconf(&qc);
	strlcpy(qc.qc_host, "alpha", sizeof(qc.qc_host));
	tq_open(&a, &qc);
	b = a;
	strlcpy(qc.qc_host, "beta", sizeof(qc.qc_host));
	tq_open_only(&b, &qc);
	ck_assert_ptr_null(queue_lmdb_backend.qb_docs);

	/* A new document: any host; alpha's ack makes alpha its home. */
	id = enq_doc(&a, "/d/one", NULL);
	ck_assert_uint_eq(claim1(&a, 100, &ga), id);
	memset(d, 0, sizeof(d));
	d[0].qd_job = id;
	d[0].qd_hash = 0xfedcba9876543210ULL;	/* past INT64_MAX */
	d[0].qd_tenant = "acme";
	d[0].qd_extid = "/d/one";
	d[1] = d[0];
	d[1].qd_job = id + 1000;		/* not this ack's job */
	d[1].qd_extid = "/d/other";
	ck_assert_int_eq(ack_docs(&a, id, ga, d, 2), QUEUE_OK);
	ck_assert_int_eq(queue_pg_doc_home(&b.tq_q, TEN("acme"), "/d/one",
	    home, sizeof(home)), 0);
	ck_assert_str_eq(home, "alpha");
	ck_assert_int_eq(queue_pg_doc_home(&b.tq_q, TEN("acme"), "/d/other",
	    home, sizeof(home)), QUEUE_ENOENT);
	ck_assert_int_eq(queue_pg_doc_home(&b.tq_q, TEN("other"), "/d/one",
	    home, sizeof(home)), QUEUE_ENOENT);
	/* Any tenant: the one found is written back. */
	ck_assert_int_eq(queue_pg_doc_home(&b.tq_q, TEN(""), "/d/one",
	    home, sizeof(home)), 0);
	ck_assert_str_eq(ten, "acme");

	/* Its next version is alpha's alone, whoever enqueues it. */
	id = enq_doc(&b, "/d/one", NULL);
	ck_assert_uint_eq(claim1(&b, 200, NULL), 0);
	ck_assert_uint_eq(claim1(&a, 100, &ga), id);
	/* beta's ack of it, were it beta's, would not take the home. */
	id2 = enq_doc(&b, "/d/two", NULL);
	ck_assert_uint_eq(claim1(&b, 200, &gb), id2);
	d[2] = d[0];
	d[2].qd_job = id2;
	ck_assert_int_eq(ack_docs(&b, id2, gb, &d[2], 1), QUEUE_OK);
	ck_assert_int_eq(queue_pg_doc_home(&b.tq_q, TEN("acme"), "/d/one",
	    home, sizeof(home)), 0);
	ck_assert_str_eq(home, "alpha");

	/* From beta's side, /d/one is another host's; /d/two has none. */
	d[1].qd_extid = "/d/two";
	ck_assert_int_eq(queue_pg_foreign(&b.tq_q, d, 2, foreign, homes), 0);
	ck_assert_int_eq(foreign[0], 1);
	ck_assert_str_eq(homes[0], "alpha");
	ck_assert_int_eq(foreign[1], 0);
	ck_assert_int_eq(queue_pg_foreign(&a.tq_q, d, 2, foreign, NULL), 0);
	ck_assert_int_eq(foreign[0], 0);

	/* A delete on its home drops the record: a new document again. */
	d[0].qd_job = id;
	d[0].qd_deleted = 1;
	ck_assert_int_eq(ack_docs(&a, id, ga, d, 1), QUEUE_OK);
	ck_assert_int_eq(queue_pg_doc_home(&b.tq_q, TEN("acme"), "/d/one",
	    home, sizeof(home)), QUEUE_ENOENT);
	id = enq_doc(&a, "/d/one", NULL);
	ck_assert_uint_eq(claim1(&b, 200, NULL), id);

	/* Pinned: beta's job waits for beta, whoever claims first. */
	id = enq_doc(&a, "/d/three", "beta");
	ck_assert_uint_eq(claim1(&a, 100, NULL), 0);
	ck_assert_uint_eq(claim1(&b, 200, NULL), id);

	queue_close(&b.tq_q);
	tq_close(&a);
}
END_TEST

/* An uploaded body read by another host, across its pieces' bounds. */

#define BODY_LEN	(2 * MIB + 12345)

START_TEST(test_spool_body)
{
	struct queue_conf	 qc;
	struct queue_new	 qn[3];
	struct tq		 tq, other;
	const char		*name = "0123456789abcdef-01234567-00000001";
	const char		*gone = "0123456789abcdef-01234567-00000002";
	const char		*old = "0123456789abcdef-01234567-00000003";
	static const uint64_t	 offs[] = { 0, 1, MIB - 3, MIB, 2 * MIB - 1,
				    BODY_LEN - 1 };
	char			*body, *got, sql[256];
	uint64_t		 size, refs, off, len;
	size_t			 i;
	int			 stored;

	/*
	 * A body of a little more than two pieces, enqueued here as three
	 * range jobs, is read by another host (the same queue, another
	 * data directory) in ranges across the pieces' bounds, byte for
	 * byte.
	 */
	tconf(&qc);
	tq_open(&tq, &qc);
	body = malloc(BODY_LEN);
	got = malloc(BODY_LEN);
	ck_assert(body != NULL && got != NULL);
	for (i = 0; i < BODY_LEN; i++)
		body[i] = (char)(i * 7 + i / 4099);
	spool_file(&tq, name, body, BODY_LEN);
	for (i = 0; i < 3; i++) {
		new_job(&qn[i], "acme", NULL, 0, BODY_LEN / 3);
		qn[i].qn_srckind = SRC_SPOOL;
		qn[i].qn_path = name;
		qn[i].qn_off = i * (BODY_LEN / 3);
		qn[i].qn_len = BODY_LEN / 3;
	}
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 3), QUEUE_OK);
	spool_kept(&tq, name, BODY_LEN);
	ck_assert_uint_eq(spool_pieces(&tq, name), 3);
	other = tq;
	tq_mkdir(&other);
	tq_open_only(&other, &qc);
	ck_assert_int_eq(queue_pg_spool_size(&other.tq_q, name, &size,
	    &stored), QUEUE_OK);
	ck_assert(stored);
	ck_assert_uint_eq(size, BODY_LEN);
	ck_assert_int_eq(queue_pg_spool_read(&other.tq_q, name, 0, BODY_LEN,
	    got), QUEUE_OK);
	ck_assert(memcmp(got, body, BODY_LEN) == 0);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		off = offs[i];
		len = BODY_LEN - off < MIB + 5 ? BODY_LEN - off : MIB + 5;
		memset(got, 0, len);
		ck_assert_int_eq(queue_pg_spool_read(&other.tq_q, name, off,
		    len, got), QUEUE_OK);
		ck_assert_msg(memcmp(got, body + off, len) == 0,
		    "bytes at %llu differ", (unsigned long long)off);
	}
	/* Past its end, or a body it does not have: ENOENT. */
	ck_assert_int_eq(queue_pg_spool_read(&other.tq_q, name, BODY_LEN - 1,
	    2, got), QUEUE_ENOENT);
	ck_assert_int_eq(queue_pg_spool_read(&other.tq_q, gone, 0, 1, got),
	    QUEUE_ENOENT);
	ck_assert_int_eq(queue_pg_spool_size(&other.tq_q, gone, &size,
	    &stored), QUEUE_OK);
	ck_assert(!stored);

	/* The jobs done on the other host: the body goes with the last. */
	ck_assert_uint_eq(claim_ack(&other, 1, 3), 3);
	ck_assert_uint_eq(tq_count(tq.tq_dsn, "SELECT count(*) FROM "
	    "quire_spool"), 0);
	spool_gone(&tq, name);
	ck_assert_int_eq(queue_pg_spool_read(&other.tq_q, name, 0, 1, got),
	    QUEUE_ENOENT);

	/* An upload whose file is gone takes nothing. */
	new_job(&qn[0], "acme", NULL, 0, 10);
	qn[0].qn_srckind = SRC_SPOOL;
	qn[0].qn_path = gone;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 1), QUEUE_ERROR);
	COUNTS(&tq, 0, 0, 0, 3, 0, 0);
	ck_assert_uint_eq(tq_count(tq.tq_dsn, "SELECT count(*) FROM "
	    "quire_spool"), 0);

	/*
	 * A body a queue before version 4 spooled (a row with no size)
	 * stays in its host's spool: a later job of it stores nothing.
	 */
	spool_file(&tq, old, "{}\n", 3);
	snprintf(sql, sizeof(sql), "SET search_path = %s; INSERT INTO "
	    "quire_spool (name, refs) VALUES ('%s'::bytea, 1)", tq.tq_schema,
	    old);
	tq_sql(pg_dsn, sql);
	new_job(&qn[0], "acme", NULL, 0, 10);
	qn[0].qn_srckind = SRC_SPOOL;
	qn[0].qn_path = old;
	ck_assert_int_eq(queue_enqueue(&tq.tq_q, qn, 1), QUEUE_OK);
	ck_assert_int_eq(spool_file_size(&tq, old), 3);
	ck_assert_int_eq(queue_spool_refs(&tq.tq_q, old, &refs), QUEUE_OK);
	ck_assert_uint_eq(refs, 2);
	ck_assert_int_eq(queue_pg_spool_size(&tq.tq_q, old, &size, &stored),
	    QUEUE_OK);
	ck_assert(!stored);
	ck_assert_uint_eq(spool_pieces(&tq, old), 0);
	queue_close(&other.tq_q);
	ck_assert_int_eq(tlib_rm_rf(other.tq_dir), 0);
	free(body);
	free(got);
	tq_close(&tq);
}
END_TEST

/* The schema's versions. */

/* What version 6 added, dropped: a schema of version 5 but its number. */
#define PG_TO_V5 \
	"DROP FUNCTION quire_claim; DROP TABLE quire_home_docs; " \
	"DROP FUNCTION quire_docs_count CASCADE; "

START_TEST(test_schema)
{
	struct queue_conf	 qc;
	struct hosts_seen	 hs;
	struct job		 j;
	struct tq		 tq;
	struct queue		 q;
	char			 err[256], sql[1024];

	/* A database without the schema is refused, and says so. */
	tq_schema(&tq);
	tconf(&qc);
	strlcpy(qc.qc_dsn, tq.tq_dsn, sizeof(qc.qc_dsn));
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "db init"));

	/* Created once; a second init is refused; migrate has nothing. */
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 1, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "version 6"));
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 1, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "already"));
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "up to date"));
	tq_open_only(&tq, &qc);
	queue_close(&tq.tq_q);

	/*
	 * Version 5, without the claim's function and the homes' counts,
	 * two documents at home on h: migrate adds them, and counts them.
	 */
	snprintf(sql, sizeof(sql), "SET search_path = %s; "
	    PG_TO_V5
	    "CREATE INDEX quire_docs_home ON quire_docs (home); "
	    "INSERT INTO quire_docs VALUES ('t', 'x', 'h', 0, 0, 0), "
	    "('t', 'y', 'h', 0, 0, 0); INSERT INTO quire_hosts (name, "
	    "started, beat) VALUES ('h', 0, 0); "
	    "UPDATE quire_schema SET version = 5", tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "from version 5 to 6"));
	tq_open_only(&tq, &qc);
	ck_assert_uint_eq(enq(&tq, "acme", NULL, 0, 10), 1);
	ck_assert_uint_eq(claim(&tq, 7, &j, 1), 1);
	ck_assert_uint_eq(j.j_state, JOB_LEASED);
	memset(&hs, 0, sizeof(hs));
	ck_assert_int_eq(queue_pg_hosts(&tq.tq_q, hosts_cb, &hs), 0);
	ck_assert_int_eq(hs.hs_n, 1);
	ck_assert_uint_eq(hs.hs_h[0].qh_docs, 2);
	/* Counted as the table changes, whichever way. */
	snprintf(sql, sizeof(sql), "SET search_path = %s; "
	    "DELETE FROM quire_docs WHERE extid = 'x'; "
	    "INSERT INTO quire_docs VALUES ('t', 'z', 'g', 0, 0, 0); "
	    "UPDATE quire_docs SET home = 'h' WHERE home = 'g'; "
	    "INSERT INTO quire_docs VALUES ('t', 'w', 'h', 0, 0, 0), "
	    "('t', 'z', 'h', 0, 0, 0) ON CONFLICT (tenant, extid) DO "
	    "UPDATE SET home = 'g'", tq.tq_schema);
	tq_sql(pg_dsn, sql);
	memset(&hs, 0, sizeof(hs));
	ck_assert_int_eq(queue_pg_hosts(&tq.tq_q, hosts_cb, &hs), 0);
	ck_assert_uint_eq(hs.hs_h[0].qh_docs, 2);
	snprintf(sql, sizeof(sql), "SET search_path = %s; "
	    "DELETE FROM quire_docs; DELETE FROM quire_hosts", tq.tq_schema);
	tq_sql(pg_dsn, sql);
	queue_close(&tq.tq_q);

	/* Version 4, without drains: migrate adds them. */
	snprintf(sql, sizeof(sql), "SET search_path = %s; "
	    PG_TO_V5
	    "CREATE INDEX quire_docs_home ON quire_docs (home); "
	    "DROP TABLE quire_bodies; ALTER TABLE quire_jobs DROP COLUMN "
	    "docid, DROP COLUMN away; ALTER TABLE quire_hosts DROP COLUMN "
	    "draining, DROP COLUMN drained; UPDATE quire_schema SET "
	    "version = 4", tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "from version 4 to 6"));
	tq_open_only(&tq, &qc);
	queue_close(&tq.tq_q);

	/* Version 1, without the hosts and homes: migrate adds them. */
	snprintf(sql, sizeof(sql), "SET search_path = %s; "
	    PG_TO_V5
	    "DROP TABLE quire_bodies; ALTER TABLE quire_jobs DROP COLUMN "
	    "docid, DROP COLUMN away; "
	    "DROP TABLE quire_hosts, quire_docs, quire_spool_body; "
	    "ALTER TABLE quire_spool DROP COLUMN size; "
	    "DROP INDEX quire_jobs_ready, "
	    "quire_jobs_pinned; ALTER TABLE quire_jobs DROP COLUMN home; "
	    "CREATE INDEX quire_jobs_ready ON quire_jobs (tid, prio, id) "
	    "WHERE state = 0; UPDATE quire_schema SET version = 1",
	    tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "from version 1 to 6"));
	tq_open_only(&tq, &qc);
	queue_close(&tq.tq_q);

	/* A schema from an older quire: open refuses, migrate brings it up. */
	snprintf(sql, sizeof(sql), "SET search_path = %s; "
	    PG_TO_V5
	    "DROP TABLE quire_totals, quire_hosts, quire_docs, "
	    "quire_spool_body, quire_bodies; "
	    "UPDATE quire_schema SET version = 0",
	    tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	snprintf(sql, sizeof(sql), "SET search_path = %s; DROP TABLE "
	    "quire_jobs, quire_tenants, quire_spool; DROP SEQUENCE "
	    "quire_job_id, quire_lease_gen, quire_served", tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "from version 0 to 6"));
	tq_open_only(&tq, &qc);
	ck_assert_uint_eq(enq(&tq, "acme", NULL, 0, 10), 1);
	queue_close(&tq.tq_q);

	/* A newer one: refused by open and by migrate. */
	snprintf(sql, sizeof(sql), "UPDATE %s.quire_schema SET version = 99",
	    tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(queue_pg_migrate(tq.tq_dsn, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "newer"));

	/* A server that is not there: a clear error, no crash. */
	strlcpy(qc.qc_dsn, "host=/nonexistent/socket/dir dbname=x",
	    sizeof(qc.qc_dsn));
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	ck_assert_int_eq(queue_pg_migrate(qc.qc_dsn, 0, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot connect"));
	qc.qc_dsn[0] = '\0';
	ck_assert_int_eq(queue_open(&q, tq.tq_dir, &qc), -1);
	tq_sql(pg_dsn, "SELECT 1");
	snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", tq.tq_schema);
	tq_sql(pg_dsn, sql);
	ck_assert_int_eq(tlib_rm_rf(tq.tq_dir), 0);
}
END_TEST

#define RACE_KEYS	2000

/* A process enqueueing RACE_KEYS keyed jobs at once; their ids to file. */
static void __dead
race_enqueue(struct tq *tq, const char *file, int gofd)
{
	struct queue_conf	 qc;
	struct queue_new	*qn;
	struct queue		 q;
	char			(*keys)[16], c;
	size_t			 i;
	FILE			*f;

	tconf(&qc);
	strlcpy(qc.qc_dsn, tq->tq_dsn, sizeof(qc.qc_dsn));
	qn = calloc(RACE_KEYS, sizeof(*qn));
	keys = calloc(RACE_KEYS, sizeof(*keys));
	if (qn == NULL || keys == NULL || queue_open(&q, tq->tq_dir, &qc) != 0)
		_exit(2);
	for (i = 0; i < RACE_KEYS; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key-%zu", i);
		new_job(&qn[i], "acme", keys[i], 0, 10);
	}
	(void)read(gofd, &c, 1);
	if (queue_enqueue(&q, qn, RACE_KEYS) != QUEUE_OK)
		_exit(3);
	if ((f = fopen(file, "w")) == NULL)
		_exit(4);
	for (i = 0; i < RACE_KEYS; i++)
		fprintf(f, "%llu %d\n", (unsigned long long)qn[i].qn_id,
		    qn[i].qn_dup);
	if (fclose(f) != 0)
		_exit(5);
	queue_close(&q);
	_exit(0);
}

START_TEST(test_enqueue_race)
{
	struct queue_conf	 qc;
	struct queue_stats	 qs;
	struct tq		 tq;
	char			 file[2][PATH_MAX + 16];
	unsigned long long	 id[2];
	pid_t			 pid[2];
	size_t			 i, ndup = 0;
	FILE			*f[2];
	int			 go[2], status, w, dup[2];

	/*
	 * Two processes enqueue the same keys at once: each key is one job,
	 * and both are told its id, one of them as a duplicate.
	 */
	tconf(&qc);
	tq_open(&tq, &qc);
	/* The tenant is known: its creation would order the two. */
	enq(&tq, "acme", NULL, 0, 10);
	queue_close(&tq.tq_q);
	ck_assert_int_eq(pipe(go), 0);
	for (w = 0; w < 2; w++) {
		snprintf(file[w], sizeof(file[w]), "%s/ids.%d", tq.tq_dir, w);
		pid[w] = fork();
		ck_assert_int_ge(pid[w], 0);
		if (pid[w] == 0) {
			close(go[1]);
			race_enqueue(&tq, file[w], go[0]);
		}
	}
	close(go[0]);
	close(go[1]);
	for (w = 0; w < 2; w++) {
		ck_assert_int_eq(waitpid(pid[w], &status, 0), pid[w]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "enqueuer %d: status %#x", w, status);
		f[w] = fopen(file[w], "r");
		ck_assert_ptr_nonnull(f[w]);
	}
	for (i = 0; i < RACE_KEYS; i++) {
		for (w = 0; w < 2; w++)
			ck_assert_int_eq(fscanf(f[w], "%llu %d", &id[w],
			    &dup[w]), 2);
		ck_assert_uint_eq(id[0], id[1]);
		ck_assert_int_eq(dup[0] + dup[1], 1);
		ndup += dup[0];
	}
	fclose(f[0]);
	fclose(f[1]);
	tq_open_only(&tq, &qc);
	COUNTS(&tq, 1 + RACE_KEYS, 0, 0, 0, 0, 0);
	ck_assert_int_eq(queue_stats(&tq.tq_q, &qs), QUEUE_OK);
	ck_assert_uint_eq(qs.qs_enqueued, 1 + RACE_KEYS);
	tq_close(&tq);
}
END_TEST

/* Wake-ups. */

START_TEST(test_wait)
{
	struct queue_conf	 qc;
	struct tq		 tq;
	struct queue		 other;
	struct queue_new	 qn;
	struct queue_owner	 owner = { 2, 2 };
	struct job		 j;
	uint64_t		 gen, id;
	size_t			 n;
	pid_t			 pid;
	int			 status;

	tconf(&qc);
	tq_open(&tq, &qc);
	strlcpy(qc.qc_dsn, tq.tq_dsn, sizeof(qc.qc_dsn));

	/* Nothing happens: a timeout. */
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 200), 0);

	/* An enqueue on another connection, from another process, wakes. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (queue_open(&other, tq.tq_dir, &qc) != 0)
			_exit(2);
		usleep(100 * 1000);
		new_job(&qn, "acme", NULL, 0, 10);
		_exit(queue_enqueue(&other, &qn, 1) == QUEUE_OK ? 0 : 3);
	}
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 30000), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The notice is used up: the next wait times out. */
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 50), 0);

	/* A notice sent before the wait began is not lost. */
	ck_assert_int_eq(queue_open(&other, tq.tq_dir, &qc), 0);
	other.q_fixed_now = T0;
	id = claim1(&tq, 1, &gen);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(queue_release_pid(&other, 1, "exit", 0, NULL),
	    QUEUE_OK);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 30000), 1);
	/* A cancel wakes too. */
	ck_assert_int_eq(queue_cancel(&other, id), QUEUE_OK);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 30000), 1);
	/* A claim does not. */
	enq(&tq, "acme", NULL, 0, 10);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 30000), 1);
	ck_assert_uint_eq(claim_ack(&tq, 1, 4), 1);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 50), 0);
	/* Nor a failure; a retry made ready, when its time came, does. */
	id = enq(&tq, "acme", NULL, 0, 10);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 30000), 1);
	ck_assert_uint_eq(claim1(&tq, 1, &gen), id);
	ck_assert_int_eq(fail1(&tq, id, gen, "timeout", 0), JOB_RETRY);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 50), 0);
	other.q_fixed_now = T0 + HOUR;
	ck_assert_int_eq(queue_claim(&other, &owner, &j, 1, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(j.j_id, id);
	ck_assert_int_eq(queue_pg_wait(&tq.tq_q, 30000), 1);
	queue_close(&other);
	tq_close(&tq);
}
END_TEST

/*
 * The semantic tests, then the backend's own; timeouts for the slower,
 * PostgreSQL (Check multiplies them by CK_TIMEOUT_MULTIPLIER).
 */
static Suite *
queue_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create(tq_pg ? "queue_pg" : "queue_lmdb");

	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_state_machine);
	tcase_add_test(tc, test_idempotency);
	tcase_add_test(tc, test_bulk_enqueue);
	tcase_add_test(tc, test_enqueue_limits);
	tcase_add_test(tc, test_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("leases");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_generation_fence);
	tcase_add_test(tc, test_release_crash);
	tcase_add_test(tc, test_release_crash_one);
	tcase_add_test(tc, test_release_no_crash);
	tcase_add_test(tc, test_release_interleaved);
	tcase_add_test(tc, test_sweep);
	tcase_add_test(tc, test_extend_pid);
	suite_add_tcase(s, tc);

	tc = tcase_create("failure");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fail_backoff);
	tcase_add_test(tc, test_fail_permanent);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_cancel_job);
	tcase_add_test(tc, test_watch);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_fairness);
	tcase_add_test(tc, test_fairness_one_by_one);
	tcase_add_test(tc, test_fairness_share);
	tcase_add_test(tc, test_fairness_three);
	tcase_add_test(tc, test_priority);
	tcase_add_test(tc, test_aging);
	tcase_add_test(tc, test_claim_budget);
	tcase_add_test(tc, test_big_jobs);
	tcase_add_test(tc, test_two_processes);
	suite_add_tcase(s, tc);

	tc = tcase_create("retention");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_retention_count);
	tcase_add_test(tc, test_retention_age);
	tcase_add_test(tc, test_retention_no_age);
	tcase_add_test(tc, test_retention_batch);
	tcase_add_test(tc, test_purge);
	tcase_add_test(tc, test_spool_refs);
	tcase_add_test(tc, test_batches);
	tcase_add_test(tc, test_tenant_batches);
	tcase_add_test(tc, test_page);
	suite_add_tcase(s, tc);

	if (tq_pg) {
		tc = tcase_create("postgresql");
		tcase_set_timeout(tc, 300);
		tcase_add_test(tc, test_schema);
		tcase_add_test(tc, test_enqueue_race);
		tcase_add_test(tc, test_wait);
		tcase_add_test(tc, test_reconnect);
		tcase_add_test(tc, test_hosts);
		tcase_add_test(tc, test_homes);
		tcase_add_test(tc, test_spool_body);
	} else {
		tc = tcase_create("lmdb");
		tcase_set_timeout(tc, 300);
		tcase_add_test(tc, test_backoff_function);
		tcase_add_test(tc, test_backend);
		tcase_add_test(tc, test_corrupt_record);
		tcase_add_test(tc, test_ack_settle);
		tcase_add_test(tc, test_map_growth);
		tcase_add_test(tc, test_tenant_upgrade);
		tcase_add_test(tc, test_layout_upgrade);
		tcase_add_test(tc, test_settle_upgrade);
		tcase_add_test(tc, test_main_upgrade);
		tcase_add_test(tc, test_backlog);
		tcase_add_test(tc, test_backlog_upgrade);
		tcase_add_test(tc, test_finished_upgrade);
		tcase_add_test(tc, test_retention_backlog);
		tcase_add_test(tc, test_commit_rounds);
	}
	suite_add_tcase(s, tc);
	return (s);
}

/* check_queue [lmdb | pg]: the backend to test, LMDB without one. */
int
main(int argc, char *argv[])
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "lmdb") != 0 &&
	    strcmp(argv[1], "pg") != 0)) {
		fprintf(stderr, "usage: check_queue [lmdb | pg]\n");
		return (EXIT_FAILURE);
	}
	tq_pg = argc == 2 && strcmp(argv[1], "pg") == 0;
	if (tq_pg) {
		pg_dsn = getenv("QUIRE_TEST_PGDSN");
		if (pg_dsn == NULL || *pg_dsn == '\0') {
			fprintf(stderr, "SKIP: QUIRE_TEST_PGDSN is not set "
			    "(t/queuepg.sh starts a server and sets it)\n");
			return (77);
		}
	}
	return (tlib_main(tq_pg ? "check_queue-pg" : "check_queue",
	    queue_suite()));
}
