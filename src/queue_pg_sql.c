/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's lowest layer, which every other queue_pg
 * file calls: a statement's parameters and results, the array literals
 * and the bytea text that values travel as, transactions and their
 * retries, the connection, its loss and its return, and the totals a
 * transaction adds.
 *
 * Keys, names, paths and messages are bytea, not text: they are bytes
 * as a file system or a client gave them, UTF-8 or not, as in the LMDB
 * backend's records.
 *
 * Times are the queue's clock (queue_now: tests fix it), passed as
 * parameters; PostgreSQL's now() is never used, so the semantics and
 * the tests are the LMDB backend's.
 *
 * Errors: libpq's messages are logged (never the connection string,
 * which may hold a password) and returned as QUEUE_ERROR; a connection
 * found lost is reset once per call and the transaction run again when
 * it had not reached its commit; a deadlock or a serialization failure
 * runs it again too.  A full disk is QUEUE_ENOSPC, an I/O error, a
 * corrupt page or a read-only server QUEUE_EIO.
 */

#include <sys/types.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_CONNECT_TIMEOUT	"10"	/* seconds, unless the DSN says */
#define QPG_RETRY_MIN_MS	250	/* reconnection: the first wait */
#define QPG_RETRY_MAX_MS	10000	/* reconnection: the longest wait */
#define QPG_TRIES		3	/* runs of a transaction, at most */
#define QPG_TOTAL_SHARDS	16

/* Statements. */

void
qa_init(struct qpg_args *a)
{
	a->a_n = 0;
	a->a_raw = 0;
	a->a_binres = 0;
	memset(a->a_fmt, 0, sizeof(a->a_fmt));
}

void
qa_u64(struct qpg_args *a, uint64_t v)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	snprintf(a->a_buf[a->a_n], sizeof(a->a_buf[0]), "%" PRIu64, v);
	a->a_val[a->a_n] = a->a_buf[a->a_n];
	a->a_n++;
}

void
qa_i64(struct qpg_args *a, int64_t v)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	snprintf(a->a_buf[a->a_n], sizeof(a->a_buf[0]), "%" PRId64, v);
	a->a_val[a->a_n] = a->a_buf[a->a_n];
	a->a_n++;
}

/* A string, or SQL's NULL for NULL. */
void
qa_str(struct qpg_args *a, const char *s)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	a->a_val[a->a_n++] = s;
}

/* len bytes as a bytea, sent as they are: no text, no copy. */
void
qa_raw(struct qpg_args *a, const void *data, size_t len)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	a->a_val[a->a_n] = data;
	a->a_len[a->a_n] = len;
	a->a_fmt[a->a_n++] = 1;
	a->a_raw = 1;
}

/* len bytes as 2 * len hex digits from o on; where they end. */
static char *
qpg_hex(char *o, const void *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = s;
	size_t			 i;

	for (i = 0; i < len; i++) {
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 15];
	}
	return (o);
}

/*
 * Bytes (a path, a name, a message: whatever a file system or a client
 * gave, UTF-8 or not) as a bytea's text, \x and hex; SQL's NULL for
 * NULL.  The text lives until the end of the transaction.
 */
static void
qa_binlen(struct qpg_tx *t, struct qpg_args *a, const char *s, size_t len)
{
	char	*h, *o;

	o = h = xmalloc(2 * len + 3);
	*o++ = '\\';
	*o++ = 'x';
	o = qpg_hex(o, s, len);
	*o = '\0';
	t->t_mem = xreallocarray(t->t_mem, t->t_nmem + 1, sizeof(*t->t_mem));
	t->t_mem[t->t_nmem++] = h;
	qa_str(a, h);
}

void
qa_bin(struct qpg_tx *t, struct qpg_args *a, const char *s)
{
	if (s == NULL)
		qa_str(a, NULL);
	else
		qa_binlen(t, a, s, strlen(s));
}

/* An error message, cut as struct job holds it. */
void
qa_err(struct qpg_tx *t, struct qpg_args *a, const char *s)
{
	qa_binlen(t, a, s, strnlen(s, JOB_ERROR_MAX - 1));
}

static void
qpg_tx_free(struct qpg_tx *t)
{
	size_t	 i;

	for (i = 0; i < t->t_nmem; i++)
		free(t->t_mem[i]);
	free(t->t_mem);
	t->t_mem = NULL;
	t->t_nmem = 0;
}

/* libpq's message on one line, its newlines and tabs as spaces. */
void
qpg_log(const char *fn, const char *what, const char *msg)
{
	char	 buf[512];
	size_t	 len;

	strlcpy(buf, msg != NULL ? msg : "unknown error", sizeof(buf));
	for (len = 0; buf[len] != '\0'; len++)
		if (buf[len] == '\n' || buf[len] == '\t')
			buf[len] = ' ';
	while (len > 0 && buf[len - 1] == ' ')
		buf[--len] = '\0';
	log_warnx("%s: %s: %s", fn, what, buf);
}

/*
 * Run one statement; 0 and its result in *res (the caller clears it,
 * res may be NULL), or QPG_ESQL, logged, with its SQLSTATE kept.
 */
int
qpg_q(struct qpg_tx *t, const char *sql, const struct qpg_args *a,
    PGresult **res)
{
	PGresult	*r;
	const char	*st;
	ExecStatusType	 es;

	if (res != NULL)
		*res = NULL;
	r = PQexecParams(t->t_pg->p_conn, sql, a != NULL ? a->a_n : 0, NULL,
	    a != NULL ? a->a_val : NULL,
	    a != NULL && a->a_raw ? a->a_len : NULL,
	    a != NULL && a->a_raw ? a->a_fmt : NULL,
	    a != NULL && a->a_binres);
	es = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
		if (res != NULL)
			*res = r;
		else
			PQclear(r);
		return (0);
	}
	st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	strlcpy(t->t_sqlstate, st != NULL ? st : "", sizeof(t->t_sqlstate));
	/*
	 * A deadlock or a serialization failure is run again, quietly; a
	 * lost connection is qpg_lost's to log.
	 */
	if (strcmp(t->t_sqlstate, "40001") != 0 &&
	    strcmp(t->t_sqlstate, "40P01") != 0 &&
	    PQstatus(t->t_pg->p_conn) == CONNECTION_OK)
		qpg_log(__func__, "PostgreSQL",
		    r != NULL && PQresultErrorMessage(r)[0] != '\0' ?
		    PQresultErrorMessage(r) : PQerrorMessage(t->t_pg->p_conn));
	PQclear(r);
	return (QPG_ESQL);
}

uint64_t
qpg_u64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return (0);
	return (strtoull(PQgetvalue(r, row, col), NULL, 10));
}

int64_t
qpg_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return (0);
	return (strtoll(PQgetvalue(r, row, col), NULL, 10));
}

/* A one-value result's value, 0 when it has no row. */
int
qpg_q1(struct qpg_tx *t, const char *sql, const struct qpg_args *a,
    uint64_t *v, int *found)
{
	PGresult	*r;
	int		 rc;

	*v = 0;
	if ((rc = qpg_q(t, sql, a, &r)) != 0)
		return (rc);
	if (found != NULL)
		*found = PQntuples(r) > 0;
	if (PQntuples(r) > 0)
		*v = qpg_u64(r, 0, 0);
	PQclear(r);
	return (0);
}

static int
qpg_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/*
 * A bytea's text (\x and hex) into dst, cut to fit; a byte 0 ends it
 * (no C string holds one, so none was stored).
 */
static void
qpg_bytes(char *dst, size_t len, const char *v)
{
	size_t	 n = 0;
	int	 hi, lo;

	if (v[0] == '\\' && v[1] == 'x')
		for (v += 2; n + 1 < len && (hi = qpg_hexval(v[0])) != -1 &&
		    (lo = qpg_hexval(v[1])) != -1 && (hi | lo) != 0; v += 2)
			dst[n++] = hi << 4 | lo;
	dst[n] = '\0';
}

void
qpg_text(char *dst, size_t len, const PGresult *r, int row, int col)
{
	qpg_bytes(dst, len, PQgetisnull(r, row, col) ? "" :
	    PQgetvalue(r, row, col));
}

/* A row of QPG_COLS, from column col on, as a job. */
void
qpg_row_job(const PGresult *r, int row, int col, struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->j_id = qpg_u64(r, row, col);
	qpg_text(j->j_key, sizeof(j->j_key), r, row, col + 1);
	qpg_text(j->j_tenant, sizeof(j->j_tenant), r, row, col + 2);
	j->j_tenant_id = qpg_u64(r, row, col + 3);
	j->j_prio = qpg_i64(r, row, col + 4);
	j->j_size = qpg_u64(r, row, col + 5);
	j->j_srckind = qpg_i64(r, row, col + 6);
	qpg_text(j->j_path, sizeof(j->j_path), r, row, col + 7);
	j->j_off = qpg_u64(r, row, col + 8);
	j->j_len = qpg_u64(r, row, col + 9);
	j->j_state = qpg_i64(r, row, col + 10);
	j->j_attempts = qpg_u64(r, row, col + 11);
	j->j_crashes = qpg_u64(r, row, col + 12);
	j->j_lease_slot = qpg_u64(r, row, col + 13);
	j->j_lease_pid = qpg_u64(r, row, col + 14);
	j->j_lease_gen = qpg_u64(r, row, col + 15);
	j->j_lease_deadline = qpg_u64(r, row, col + 16);
	j->j_progress = qpg_u64(r, row, col + 17);
	j->j_cancel = PQgetvalue(r, row, col + 18)[0] == 't';
	j->j_created = qpg_u64(r, row, col + 19);
	j->j_updated = qpg_u64(r, row, col + 20);
	j->j_runat = qpg_u64(r, row, col + 21);
	qpg_text(j->j_error, sizeof(j->j_error), r, row, col + 22);
	qpg_text(j->j_lang, sizeof(j->j_lang), r, row, col + 23);
	qpg_text(j->j_extid, sizeof(j->j_extid), r, row, col + 24);
	qpg_text(j->j_title, sizeof(j->j_title), r, row, col + 25);
	qpg_text(j->j_ctype, sizeof(j->j_ctype), r, row, col + 26);
	if (j->j_state < 0 || j->j_state >= JOB_NSTATES)
		j->j_state = JOB_DEAD;
}

/* A bytea's text (\x and hex) into out, whole. */
void
qpg_hexbuf(struct buf *out, const char *v)
{
	size_t	 n;
	char	*o;
	int	 hi, lo;

	buf_reset(out);
	if (v[0] != '\\' || v[1] != 'x')
		return;
	v += 2;
	n = strlen(v) / 2;
	buf_reserve(out, n);
	o = out->b_data;
	for (; (hi = qpg_hexval(v[0])) != -1 && (lo = qpg_hexval(v[1])) != -1;
	    v += 2)
		*o++ = hi << 4 | lo;
	out->b_len = o - out->b_data;
}

/* Ids in increasing order, for qsort and bsearch. */
int
qpg_idcmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* PostgreSQL's array literals, built element by element. */

static void
qpg_arr_sep(struct buf *b)
{
	buf_addc(b, b->b_len == 0 ? '{' : ',');
}

void
qpg_arr_i64(struct buf *b, int64_t v)
{
	qpg_arr_sep(b);
	buf_printf(b, "%" PRId64, v);
}

/* len bytes as a quoted element, \x and hex (the backslash escaped). */
void
qpg_arr_binlen(struct buf *b, const void *s, size_t len)
{
	qpg_arr_sep(b);
	if (s == NULL) {
		buf_addstr(b, "NULL");
		return;
	}
	buf_addstr(b, "\"\\\\x");
	buf_reserve(b, 2 * len + 1);
	qpg_hex(b->b_data + b->b_len, s, len);
	b->b_len += 2 * len;
	buf_addc(b, '"');
}

/* A string, at most max bytes of it, as a quoted element; NULL: NULL. */
void
qpg_arr_bytes(struct buf *b, const char *s, size_t max)
{
	qpg_arr_binlen(b, s, s != NULL ? strnlen(s, max) : 0);
}

const char *
qpg_arr_end(struct buf *b)
{
	if (b->b_len == 0)
		buf_addc(b, '{');
	buf_addc(b, '}');
	return (buf_cstr(b));
}

/* Transactions. */

/* The queue result of a failed statement's SQLSTATE. */
static int
qpg_sqlstate_result(const char *st)
{
	if (strcmp(st, "53100") == 0)		/* disk_full */
		return (QUEUE_ENOSPC);
	if (strncmp(st, "58", 2) == 0 ||	/* system error, io_error */
	    strcmp(st, "XX001") == 0 ||		/* data_corrupted */
	    strcmp(st, "XX002") == 0 ||		/* index_corrupted */
	    strcmp(st, "25006") == 0)		/* read_only_sql_transaction */
		return (QUEUE_EIO);
	return (QUEUE_ERROR);
}

/* Add the transaction's totals to its shard of quire_totals. */
static int
qpg_totals(struct qpg_tx *t)
{
	struct qpg_args	 a;
	int		 i, any = 0;

	for (i = 0; i < QT_N; i++)
		any |= t->t_tot[i] != 0;
	if (!any)
		return (0);
	qa_init(&a);
	for (i = 0; i < QT_N; i++)
		qa_i64(&a, t->t_tot[i]);
	return (qpg_q(t, "INSERT INTO quire_totals AS o VALUES "
	    "(pg_backend_pid() % 16, $1, $2, $3, $4, $5, $6, $7) "
	    "ON CONFLICT (shard) DO UPDATE SET "
	    "enqueued = o.enqueued + $1, completed = o.completed + $2, "
	    "failed = o.failed + $3, released = o.released + $4, "
	    "done = o.done + $5, retried = o.retried + $6, "
	    "cancelled = o.cancelled + $7", &a, NULL));
}

/*
 * What each session of ours sets: no JIT compilation.  The queue's
 * statements are short, but on a queue whose tables were not analyzed
 * yet (a fresh one, until autovacuum comes by) the planner's estimates
 * pass jit_above_cost by far, and every claim then spent tens of
 * milliseconds compiling itself (contrib/bench/pg-queue).  PostgreSQL
 * before 11 has no JIT.  A failure is logged and otherwise ignored.
 */
static void
qpg_session(PGconn *conn)
{
	PGresult	*r;

	if (PQserverVersion(conn) < 110000)
		return;
	r = PQexec(conn, "SET jit = off");
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
		qpg_log(__func__, "SET jit = off", PQerrorMessage(conn));
	PQclear(r);
}

/*
 * Whether the connection is lost (0: it is not) and, if so, one try to
 * make it again: 1 made, -1 not.  After a failed try the next waits
 * QPG_RETRY_MIN_MS, twice as long after each failure up to
 * QPG_RETRY_MAX_MS (-1 at once meanwhile), so that a server that is
 * down costs no process a connection attempt per call.  The loss and
 * the first failed try are logged, then the return and how long the
 * loss lasted: not a line per call.
 */
int
qpg_lost(struct qpg *pg)
{
	uint64_t	 now;

	if (PQstatus(pg->p_conn) == CONNECTION_OK)
		return (0);
	now = util_mono_ms();
	if (pg->p_lost_at == 0) {
		log_warnx("%s: the connection to PostgreSQL is lost: "
		    "reconnecting", __func__);
		pg->p_lost_at = now;
		pg->p_retry_at = now;
		pg->p_retry_ms = QPG_RETRY_MIN_MS;
	}
	if (now < pg->p_retry_at)
		return (-1);
	PQreset(pg->p_conn);
	pg->p_listening = 0;
	if (PQstatus(pg->p_conn) != CONNECTION_OK) {
		if (pg->p_retry_ms == QPG_RETRY_MIN_MS)
			qpg_log(__func__, "cannot reconnect to PostgreSQL "
			    "(trying again, every 10 s at most)",
			    PQerrorMessage(pg->p_conn));
		pg->p_retry_at = util_mono_ms() + pg->p_retry_ms;
		pg->p_retry_ms = pg->p_retry_ms * 2 > QPG_RETRY_MAX_MS ?
		    QPG_RETRY_MAX_MS : pg->p_retry_ms * 2;
		return (-1);
	}
	log_info("%s: connected to PostgreSQL again after %.1f s", __func__,
	    (util_mono_ms() - pg->p_lost_at) / 1000.0);
	pg->p_lost_at = 0;
	qpg_session(pg->p_conn);
	return (1);
}

/*
 * Run fn in one transaction (read-only in one snapshot when ro), commit
 * when it returns 0, roll back and return its code when it returns
 * another.  Run again after a deadlock or a serialization failure, and
 * once after the connection was lost before the commit was sent.  ro
 * QPG_ONE: fn is one read-only statement, run as it is, without BEGIN
 * and COMMIT around it (a third of the round trips).  QPG_AUTO: fn is
 * one statement that writes, a transaction of its own the same way,
 * which writes its totals and its NOTIFY itself, and which may be run
 * again after a lost connection: a release finds what is left to
 * release, and a claim whose outcome was lost left leases that expire,
 * as after a COMMIT lost.
 */
int
qpg_run(struct queue *q, const char *fn_name, int ro, qpg_fn fn, void *arg)
{
	struct qpg	*pg = q->q_pg;
	struct qpg_tx	 t;
	size_t		 i;
	int		 rc, tries, reset = 0, committing;

	if (pg == NULL || pg->p_conn == NULL)
		return (QUEUE_ERROR);
	if (qpg_lost(pg) == -1)
		return (QUEUE_EDOWN);
	for (tries = 0; tries < QPG_TRIES; tries++) {
		memset(&t, 0, sizeof(t));
		t.t_q = q;
		t.t_pg = pg;
		t.t_now = queue_now(q);
		q->q_nunlink = 0;
		committing = 0;
		rc = ro == QPG_ONE || ro == QPG_AUTO ? 0 : qpg_q(&t, ro ?
		    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" :
		    "BEGIN", NULL, NULL);
		if (rc == 0)
			rc = fn(&t, arg);
		if (rc == 0 && !ro)
			rc = qpg_totals(&t);
		if (rc == 0 && t.t_notify && ro != QPG_AUTO)
			rc = qpg_q(&t, "NOTIFY " QPG_CHANNEL, NULL, NULL);
		if (rc == 0 && ro != QPG_ONE && ro != QPG_AUTO) {
			committing = 1;
			rc = qpg_q(&t, "COMMIT", NULL, NULL);
		}
		qpg_tx_free(&t);
		if (rc == 0) {
			for (i = 0; i < q->q_nunlink; i++)
				(void)spool_unlink(q->q_datadir,
				    q->q_unlink[i]);
			q->q_nunlink = 0;
			return (0);
		}
		q->q_nunlink = 0;
		if (PQstatus(pg->p_conn) == CONNECTION_OK &&
		    PQtransactionStatus(pg->p_conn) != PQTRANS_IDLE) {
			PGresult *r = PQexec(pg->p_conn, "ROLLBACK");
			PQclear(r);
		}
		if (rc != QPG_ESQL)
			return (rc);
		if (strcmp(t.t_sqlstate, "40001") == 0 ||
		    strcmp(t.t_sqlstate, "40P01") == 0)
			continue;
		if (!reset && !committing && qpg_lost(pg) == 1) {
			reset = 1;
			continue;
		}
		if (committing && PQstatus(pg->p_conn) != CONNECTION_OK) {
			/* The commit's outcome is unknown: not run again. */
			log_warnx("%s: the connection was lost at the commit",
			    fn_name);
			(void)qpg_lost(pg);
		}
		if (PQstatus(pg->p_conn) != CONNECTION_OK)
			return (QUEUE_EDOWN);
		return (qpg_sqlstate_result(t.t_sqlstate));
	}
	log_warnx("%s: gave up after %d deadlocks or serialization failures",
	    fn_name, QPG_TRIES);
	return (QUEUE_ERROR);
}

/* The connection. */

/* The server's notices go to the log, not to stderr. */
static void
qpg_notice(void *arg, const char *msg)
{
	(void)arg;
	qpg_log(__func__, "PostgreSQL says", msg);
}

/*
 * Connect with the DSN, which may set anything; connect_timeout, placed
 * before it, is the default it may override, so that a server that
 * does not answer holds a caller (the supervisor among them) for
 * QPG_CONNECT_TIMEOUT seconds, not for the kernel's TCP retries.
 */
PGconn *
qpg_connect(const char *dsn, char *err, size_t errlen)
{
	static const char *const keys[] = { "connect_timeout", "dbname",
	    NULL };
	const char	*values[] = { QPG_CONNECT_TIMEOUT, dsn, NULL };
	PGconn		*conn;
	char		*p;

	if ((conn = PQconnectdbParams(keys, values, 1)) == NULL) {
		strlcpy(err, "cannot connect to PostgreSQL: out of memory",
		    errlen);
		return (NULL);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    PQerrorMessage(conn));
		if ((p = strchr(err, '\n')) != NULL)
			*p = '\0';
		PQfinish(conn);
		return (NULL);
	}
	PQsetNoticeProcessor(conn, qpg_notice, NULL);
	qpg_session(conn);
	return (conn);
}

/*
 * Run one SQL text (no parameters) that may hold several statements:
 * the result of the last, or NULL with libpq's message, its first line,
 * in err.
 */
PGresult *
qpg_exec(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult	*r;
	char		*p;

	r = PQexec(conn, sql);
	if (r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK))
		return (r);
	snprintf(err, errlen, "%s", PQerrorMessage(conn));
	if ((p = strchr(err, '\n')) != NULL)
		*p = '\0';
	PQclear(r);
	return (NULL);
}
