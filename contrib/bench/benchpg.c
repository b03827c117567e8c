/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL side of queue-bench and requeue: an empty queue of the
 * postgresql backend for each phase, without touching anything else in
 * the database the connection string names.
 *
 * Each phase gets a schema of its own, created here and dropped with
 * everything in it at the phase's end.  The backend keeps its tables
 * in the connection's current schema, so the schema is made the
 * search_path of every connection opened afterwards, by this process
 * and by the processes it starts (a quired, forked workers), through
 * the environment variable PGOPTIONS, which libpq reads when the
 * connection string sets no options of its own.  A connection string
 * that does set them would put the queue elsewhere: the schema is
 * checked on a new connection and refused then.  The quire schema is
 * then created in it, as quirectl db init does.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "quire.h"
#include "queue_pg.h"
#include "benchpg.h"

static char	*benchpg_options;	/* PGOPTIONS as we found it */
static int	 benchpg_saved;

/* The server's notices (a drop's cascade) are not ours to print. */
static void
benchpg_notice(void *arg, const char *msg)
{
}

/* A connection as the queue makes one (qpg_connect), but quiet. */
static PGconn *
benchpg_connect(const char *dsn, char *err, size_t errlen)
{
	PGconn	*conn;

	if ((conn = qpg_connect(dsn, err, errlen)) != NULL)
		PQsetNoticeProcessor(conn, benchpg_notice, NULL);
	return (conn);
}

/* The first value of the one statement sql, or "" for none; 0 or -1. */
static int
benchpg_value(PGconn *conn, const char *sql, char *buf, size_t len,
    char *err, size_t errlen)
{
	PGresult	*r;
	int		 rc = 0;

	buf[0] = '\0';
	if ((r = qpg_exec(conn, sql, err, errlen)) == NULL)
		return (-1);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 &&
	    PQnfields(r) > 0 && strlcpy(buf, PQgetvalue(r, 0, 0), len) >= len) {
		snprintf(err, errlen, "a value too long for %zu bytes", len);
		rc = -1;
	}
	PQclear(r);
	return (rc);
}

/* Letters, digits and underscores, not first a digit: no quoting. */
static int
benchpg_name_ok(const char *name)
{
	const char	*p;

	if (*name == '\0' || strlen(name) > BENCHPG_SCHEMA_MAX ||
	    isdigit((unsigned char)*name))
		return (0);
	for (p = name; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) && *p != '_')
			return (0);
	return (1);
}

/* Make name the search_path of the connections opened from now on. */
static void
benchpg_search_path(const char *name)
{
	const char	*old;
	char		*opts;

	if (!benchpg_saved) {
		if ((old = getenv("PGOPTIONS")) != NULL)
			benchpg_options = xstrdup(old);
		benchpg_saved = 1;
	}
	xasprintf(&opts, "%s%s-c search_path=%s",
	    benchpg_options != NULL ? benchpg_options : "",
	    benchpg_options != NULL ? " " : "", name);
	if (setenv("PGOPTIONS", opts, 1) == -1)
		fatal("setenv PGOPTIONS");
	free(opts);
}

/*
 * Create the schema name (lower-case letters, digits, underscores) on
 * the server of dsn, make it the search_path of later connections and
 * create the quire schema in it; what was made, in where (for a
 * report).  0, or -1 with the reason in err; a schema created is
 * dropped again on failure.
 */
int
benchpg_schema(const char *dsn, const char *name, char *where,
    size_t wherelen, char *err, size_t errlen)
{
	PGconn	*conn;
	char	 sql[128], cur[BENCHPG_SCHEMA_MAX + 1];

	if (!benchpg_name_ok(name)) {
		snprintf(err, errlen, "%s: not a schema name of lower-case "
		    "letters, digits and underscores, at most %d bytes", name,
		    BENCHPG_SCHEMA_MAX);
		return (-1);
	}
	if ((conn = benchpg_connect(dsn, err, errlen)) == NULL)
		return (-1);
	snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", name);
	if (benchpg_value(conn, sql, cur, sizeof(cur), err, errlen) == -1) {
		PQfinish(conn);
		return (-1);
	}
	PQfinish(conn);

	benchpg_search_path(name);
	if ((conn = benchpg_connect(dsn, err, errlen)) == NULL)
		goto fail;
	if (benchpg_value(conn, "SELECT current_schema()", cur, sizeof(cur),
	    err, errlen) == -1) {
		PQfinish(conn);
		goto fail;
	}
	snprintf(where, wherelen, "host %s port %s dbname %s schema %s",
	    PQhost(conn) != NULL ? PQhost(conn) : "?",
	    PQport(conn) != NULL ? PQport(conn) : "?",
	    PQdb(conn) != NULL ? PQdb(conn) : "?", name);
	PQfinish(conn);
	if (strcmp(cur, name) != 0) {
		snprintf(err, errlen, "the connection's schema is %s, not %s: "
		    "the connection string may not set options (the "
		    "search_path comes from PGOPTIONS)", cur[0] != '\0' ?
		    cur : "none", name);
		goto fail;
	}
	if (queue_pg_migrate(dsn, 1, err, errlen) == -1)
		goto fail;
	return (0);
fail:
	benchpg_drop(dsn, name);
	return (-1);
}

/* Drop the schema name and everything in it; errors go to stderr. */
void
benchpg_drop(const char *dsn, const char *name)
{
	PGconn	*conn;
	char	 sql[128], err[512], none[8];

	if (!benchpg_name_ok(name))
		return;
	snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", name);
	if ((conn = benchpg_connect(dsn, err, sizeof(err))) == NULL ||
	    benchpg_value(conn, sql, none, sizeof(none), err,
	    sizeof(err)) == -1)
		fprintf(stderr, "%s: drop schema %s: %s\n", getprogname(), name,
		    err);
	if (conn != NULL)
		PQfinish(conn);
}

/*
 * The first value sql gives on a new connection (in the schema made
 * last), in buf; 0, or -1 after a message on stderr.
 */
int
benchpg_scalar(const char *dsn, const char *sql, char *buf, size_t len)
{
	PGconn	*conn;
	char	 err[512];
	int	 rc;

	if ((conn = benchpg_connect(dsn, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s: %s\n", getprogname(), err);
		return (-1);
	}
	if ((rc = benchpg_value(conn, sql, buf, len, err, sizeof(err))) == -1)
		fprintf(stderr, "%s: %s: %s\n", getprogname(), sql, err);
	PQfinish(conn);
	return (rc);
}

static double
benchpg_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/*
 * The commits a second of one connection for secs seconds, each an
 * INSERT of a new bigint key (the primary key, in increasing order) and
 * a 16-byte bytea, in autocommit, into a table of the schema made last;
 * -1 after a message on stderr.
 */
double
benchpg_raw(const char *dsn, double secs)
{
	PGconn		*conn;
	PGresult	*r;
	const char	*vals[2];
	char		 key[32], val[40], err[512], none[8];
	uint8_t		 b[16];
	uint64_t	 n = 0;
	double		 t0, el;
	size_t		 i;

	if ((conn = benchpg_connect(dsn, err, sizeof(err))) == NULL ||
	    benchpg_value(conn, "CREATE TABLE qbench_raw (k bigint PRIMARY "
	    "KEY, v bytea NOT NULL)", none, sizeof(none), err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: raw: %s\n", getprogname(), err);
		if (conn != NULL)
			PQfinish(conn);
		return (-1);
	}
	arc4random_buf(b, sizeof(b));
	strlcpy(val, "\\x", sizeof(val));
	for (i = 0; i < sizeof(b); i++)
		snprintf(val + 2 + 2 * i, 3, "%02x", b[i]);
	vals[0] = key;
	vals[1] = val;
	t0 = benchpg_now();
	do {
		snprintf(key, sizeof(key), "%llu", (unsigned long long)n);
		r = PQexecParams(conn, "INSERT INTO qbench_raw VALUES ($1, $2)",
		    2, NULL, vals, NULL, NULL, 0);
		if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "%s: raw: %s", getprogname(),
			    PQerrorMessage(conn));
			PQclear(r);
			PQfinish(conn);
			return (-1);
		}
		PQclear(r);
		n++;
	} while ((el = benchpg_now() - t0) < secs);
	PQfinish(conn);
	return (n / el);
}
