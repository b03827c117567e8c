/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's schema: its tables, indexes and functions,
 * version by version, and the migrations that make them.
 *
 * Schema, versioned.  quire_schema holds one row, the version; the
 * migrations below are an ordered list of SQL steps, step k taking
 * version k - 1 to k, each applied in one transaction that also sets
 * the version, under an exclusive lock on quire_schema so two
 * migrations never interleave.  queue_pg_migrate creates the schema
 * (quirectl db init) or brings it up to date (quirectl db migrate);
 * qpg_open refuses a database that has no schema, an older one or a
 * newer one, and says which.  The tables are in the connection's
 * current schema (search_path).  Version 1:
 *
 *	quire_jobs	one row per job: id (from the sequence quire_job_id),
 *			idempotency key (unique, NULL when none), tenant name
 *			and number, priority, state (enum job_state's value),
 *			attempts, crashes, size, the source (kind, path,
 *			offset, length, language, external id, title, content
 *			type), times in ms (created; updated: the last change
 *			of state, or the claim; runat: a retry's time; enq:
 *			when its wait for a worker began, for aging), the last
 *			error, and the lease: generation, holder (host name,
 *			pid, slot), deadline, progress, cancel flag, and
 *			whether it counts as a big job in flight.
 *	quire_tenants	tenant name -> number, in order of first arrival,
 *			and when a claim last served it (a value of the
 *			sequence quire_served).
 *	quire_spool	spool file name -> the jobs that still need it.
 *	quire_totals	the totals of queue_stats (enqueued, completed, ...)
 *			in 16 rows, one chosen by the server process id of
 *			the connection, summed when read: concurrent acks
 *			do not queue on one row (and 16 more for the
 *			releases at the reap: qpg_release_fast).
 *	quire_lease_gen	the sequence of lease generations.
 *
 * Version 2 adds
 *
 *	quire_hosts	one row per host (host-name): its HTTP address (the
 *			first listen address, as bound), its supervisor's
 *			pid, when it started and last beat, whether it
 *			stopped cleanly, and when another host last
 *			released its leases for it (expired).
 *
 * Version 3 adds
 *
 *	quire_docs	one row per document some host indexed and acked:
 *			(tenant, external id as the index keys it) -> its
 *			home host, content hash, the job that last indexed
 *			it and when.
 *	quire_jobs.home	the one host that may claim the job, or NULL for
 *			any; the ready jobs' index is split in two, those
 *			of any host by (tenant, priority, id) and the
 *			pinned ones by (home, tenant, priority, id).
 *
 * Version 4 adds
 *
 *	quire_spool.size the body's length in bytes, once the body
 *			is in quire_spool_body; NULL for a body enqueued
 *			before version 4, which only its host's spool holds.
 *	quire_spool_body one row per piece of an uploaded body: (name,
 *			pos, the piece's offset) -> at most QPG_SPOOL_CHUNK
 *			bytes, the pieces end to end; removed with the
 *			quire_spool row (ON DELETE CASCADE).  Its bytes are
 *			stored uncompressed (STORAGE EXTERNAL), so a
 *			substring of a piece reads only the part asked for.
 *
 *
 * Version 5 adds
 *
 *	quire_hosts.draining, .drained
 *			when a drain of the host began and ended (ms, the
 *			server's clock), or 0.
 *	quire_jobs.docid
 *			the document the job names, as the index keys it
 *			(what its home came from), or NULL.
 *	quire_jobs.away	a move's drained host, which may not claim it.
 *	quire_bodies	job -> the body a job carries (a move's document),
 *			gone with its job (ON DELETE CASCADE) or at its ack.
 *
 * Version 6 adds
 *
 *	quire_claim()	the claim (queue_pg.c) as a function in PL/pgSQL, one
 *			call a claim: one round trip, and plans that the
 *			server keeps for the session instead of planning
 *			the claim's statements at every call.
 *	quire_home_docs	home -> its documents in quire_docs, in 16 rows a
 *			home (one chosen by the server process id, as in
 *			quire_totals; summed when read), which triggers
 *			on quire_docs keep, one statement of theirs per
 *			statement on it: the hosts' listing (status,
 *			quirectl hosts, a search over all) reads the
 *			counts instead of counting every document.
 *			quire_docs loses its index by home, whose one
 *			other reader, the end of a drain (which deletes the
 *			drained host's records), reads the table instead.
 *
 * Partial indexes cover each state's order: ready jobs by (tenant,
 * priority, id), retrying ones by runat, leased ones by holder, by
 * tenant and by deadline, finished ones by the time they finished; so
 * a claim, a promotion, a release, a sweep and a trim are short index
 * scans.  The counts per state are counted (COUNT(*) by state), not
 * kept: they cannot drift from the rows, at the price of a scan for
 * status (about 20 ms a 100,000 jobs).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_SCHEMA_TABLE	"quire_schema"

/*
 * The migrations: step k takes the schema from version k - 1 to k.
 * Append, never edit a step that was released.
 */
static const char *qpg_migrations[] = {
	/* 1: the queue. */
	"CREATE SEQUENCE quire_job_id;"
	"CREATE SEQUENCE quire_lease_gen;"
	"CREATE SEQUENCE quire_served;"
	"CREATE TABLE quire_tenants ("
	"  tid integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY,"
	"  name bytea NOT NULL UNIQUE,"
	"  served bigint NOT NULL DEFAULT 0);"
	"CREATE TABLE quire_jobs ("
	"  id bigint PRIMARY KEY DEFAULT nextval('quire_job_id'),"
	"  idem_key bytea UNIQUE,"
	"  tenant bytea NOT NULL,"
	"  tid integer NOT NULL,"
	"  prio smallint NOT NULL,"
	"  state smallint NOT NULL,"
	"  attempts integer NOT NULL DEFAULT 0,"
	"  crashes integer NOT NULL DEFAULT 0,"
	"  size bigint NOT NULL,"
	"  srckind smallint NOT NULL,"
	"  path bytea NOT NULL,"
	"  src_off bigint NOT NULL,"
	"  src_len bigint NOT NULL,"
	"  lang bytea NOT NULL,"
	"  extid bytea NOT NULL,"
	"  title bytea NOT NULL,"
	"  ctype bytea NOT NULL,"
	"  created bigint NOT NULL,"
	"  updated bigint NOT NULL,"
	"  runat bigint NOT NULL DEFAULT 0,"
	"  enq bigint NOT NULL,"
	"  error bytea NOT NULL DEFAULT '',"
	"  gen bigint NOT NULL DEFAULT 0,"
	"  lease_host bytea NOT NULL DEFAULT '',"
	"  lease_pid bigint NOT NULL DEFAULT 0,"
	"  lease_slot bigint NOT NULL DEFAULT 0,"
	"  deadline bigint NOT NULL DEFAULT 0,"
	"  progress bigint NOT NULL DEFAULT 0,"
	"  cancel boolean NOT NULL DEFAULT false,"
	"  big boolean NOT NULL DEFAULT false);"
	"CREATE INDEX quire_jobs_ready ON quire_jobs (tid, prio, id)"
	"  WHERE state = 0;"
	"CREATE INDEX quire_jobs_leased ON quire_jobs (lease_host, lease_pid)"
	"  WHERE state = 1;"
	"CREATE INDEX quire_jobs_deadline ON quire_jobs (deadline)"
	"  WHERE state = 1;"
	"CREATE INDEX quire_jobs_tleased ON quire_jobs (tid) WHERE state = 1;"
	"CREATE INDEX quire_jobs_retry ON quire_jobs (runat, id)"
	"  WHERE state = 2;"
	"CREATE INDEX quire_jobs_done ON quire_jobs (updated, id)"
	"  WHERE state IN (3, 5);"
	"CREATE INDEX quire_jobs_dead ON quire_jobs (updated, id)"
	"  WHERE state = 4;"
	"CREATE TABLE quire_spool ("
	"  name bytea PRIMARY KEY,"
	"  refs bigint NOT NULL);"
	"CREATE TABLE quire_totals ("
	"  shard smallint PRIMARY KEY,"
	"  enqueued bigint NOT NULL DEFAULT 0,"
	"  completed bigint NOT NULL DEFAULT 0,"
	"  failed bigint NOT NULL DEFAULT 0,"
	"  released bigint NOT NULL DEFAULT 0,"
	"  done bigint NOT NULL DEFAULT 0,"
	"  retried bigint NOT NULL DEFAULT 0,"
	"  cancelled bigint NOT NULL DEFAULT 0);",
	/* 2: the hosts that share the queue. */
	"CREATE TABLE quire_hosts ("
	"  name bytea PRIMARY KEY,"
	"  http text NOT NULL DEFAULT '',"
	"  pid bigint NOT NULL DEFAULT 0,"
	"  started bigint NOT NULL,"
	"  beat bigint NOT NULL,"
	"  stopped boolean NOT NULL DEFAULT false,"
	"  expired bigint NOT NULL DEFAULT 0);",
	/* 3: documents' home hosts, and jobs only one host may claim. */
	"CREATE TABLE quire_docs ("
	"  tenant bytea NOT NULL,"
	"  extid bytea NOT NULL,"
	"  home bytea NOT NULL,"
	"  hash bigint NOT NULL,"
	"  job bigint NOT NULL,"
	"  updated bigint NOT NULL,"
	"  PRIMARY KEY (tenant, extid));"
	"CREATE INDEX quire_docs_home ON quire_docs (home);"
	"ALTER TABLE quire_jobs ADD COLUMN home bytea;"
	"DROP INDEX quire_jobs_ready;"
	"CREATE INDEX quire_jobs_ready ON quire_jobs (tid, prio, id)"
	"  WHERE state = 0 AND home IS NULL;"
	"CREATE INDEX quire_jobs_pinned ON quire_jobs (home, tid, prio, id)"
	"  WHERE state = 0 AND home IS NOT NULL;",
	/* 4: uploaded bodies, readable by every host. */
	"ALTER TABLE quire_spool ADD COLUMN size bigint;"
	"CREATE TABLE quire_spool_body ("
	"  name bytea NOT NULL REFERENCES quire_spool (name)"
	"    ON DELETE CASCADE,"
	"  pos bigint NOT NULL,"
	"  data bytea NOT NULL,"
	"  PRIMARY KEY (name, pos));"
	"ALTER TABLE quire_spool_body ALTER COLUMN data SET STORAGE EXTERNAL;",
	/* 5: draining hosts, and the moves of their documents. */
	"ALTER TABLE quire_hosts ADD COLUMN draining bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN drained bigint NOT NULL DEFAULT 0;"
	"ALTER TABLE quire_jobs ADD COLUMN docid bytea,"
	"  ADD COLUMN away bytea;"
	"CREATE INDEX quire_jobs_docid ON quire_jobs (home, tenant, docid)"
	"  WHERE home IS NOT NULL AND docid IS NOT NULL;"
	"CREATE INDEX quire_jobs_away ON quire_jobs (away, tenant, extid)"
	"  WHERE away IS NOT NULL;"
	"CREATE TABLE quire_bodies ("
	"  job bigint PRIMARY KEY REFERENCES quire_jobs (id) ON DELETE CASCADE,"
	"  body bytea NOT NULL);",
	/*
	 * 6: the claim as one call on the server.  The candidates: for
	 * each tenant and priority, the oldest jobs any host may claim
	 * (but a move away from this host) and the oldest pinned to this
	 * host ($5), an index scan each; none while this host drains.  The
	 * priority is a range of one value, ordered on, rather than an
	 * equality: with prio = b.prio the planner drops prio from the
	 * order and, where its statistics say one priority holds every
	 * job, walks the primary key instead through every job of the
	 * table for each priority that has none.  Whether a tenant has a
	 * ready job is its first one in the ready index's order, not an
	 * EXISTS, which the planner may answer with a sequential scan
	 * that steps over every finished job at the table's head.
	 */
	"CREATE FUNCTION quire_claim(bigint, bigint, bigint, bigint, bytea,"
	"  bigint, bigint, bigint, bigint, bigint, bigint)"
	"  RETURNS SETOF quire_jobs LANGUAGE plpgsql AS $f$ "
	"DECLARE"
	"  c record; n bigint := 0; bytes bigint := 0; isbig boolean;"
	"  inflight bigint; promoted bigint; ids bigint[] := '{}';"
	"BEGIN"
	"  UPDATE quire_jobs SET state = 0, updated = $1, enq = runat"
	"    WHERE id IN (SELECT id FROM quire_jobs WHERE state = 2 AND"
	"    runat <= $1 ORDER BY runat, id LIMIT 1024 FOR UPDATE SKIP LOCKED);"
	"  GET DIAGNOSTICS promoted = ROW_COUNT;"
	"  IF promoted > 0 THEN"
	"    PERFORM pg_notify('quire_jobs', '');"
	"  END IF;"
	"  SELECT coalesce(sum(size), 0) INTO inflight FROM quire_jobs"
	"    WHERE state = 1 AND quire_jobs.big;"
	"  FOR c IN WITH t AS (SELECT t.tid, t.served, (SELECT count(*) FROM"
	"    quire_jobs l WHERE l.state = 1 AND l.tid = t.tid) AS busy"
	"    FROM quire_tenants t WHERE NOT EXISTS (SELECT 1 FROM"
	"    quire_hosts h WHERE h.name = $5 AND h.draining <> 0) AND"
	"    ((SELECT r.id FROM quire_jobs r WHERE r.state = 0 AND"
	"    r.home IS NULL AND r.tid = t.tid ORDER BY r.tid, r.prio, r.id"
	"    LIMIT 1) IS NOT NULL OR (SELECT r.id FROM quire_jobs r"
	"    WHERE r.state = 0 AND r.home = $5 AND r.tid = t.tid"
	"    ORDER BY r.home, r.tid, r.prio, r.id LIMIT 1) IS NOT NULL)),"
	"  k AS (SELECT t.tid, t.served, t.busy, j.id, j.prio, j.size,"
	"    j.prio + CASE WHEN $2 > 0 AND $1 > j.enq"
	"    THEN ($1 - j.enq) / $2 ELSE 0 END AS eff"
	"    FROM t CROSS JOIN generate_series(0, 9) AS b(prio)"
	"    CROSS JOIN LATERAL (SELECT * FROM (SELECT id, prio, size, enq"
	"    FROM quire_jobs j WHERE j.state = 0 AND j.home IS NULL AND"
	"    j.tid = t.tid AND j.prio >= b.prio AND j.prio <= b.prio AND"
	"    (j.away IS NULL OR j.away <> $5) ORDER BY j.prio, j.id LIMIT $3"
	"    FOR UPDATE SKIP LOCKED) f UNION ALL SELECT * FROM (SELECT id,"
	"    prio, size, enq FROM quire_jobs j WHERE j.state = 0 AND"
	"    j.home = $5 AND j.tid = t.tid AND j.prio >= b.prio AND"
	"    j.prio <= b.prio ORDER BY j.prio, j.id"
	"    LIMIT $3 FOR UPDATE SKIP LOCKED) p) j),"
	"  r AS (SELECT k.*, row_number() OVER (PARTITION BY tid ORDER BY"
	"    eff DESC, prio DESC, id) AS rn FROM k)"
	"  SELECT r.id, r.size FROM r ORDER BY busy + rn, served, tid, rn"
	"    LIMIT $4 LOOP"
	"    EXIT WHEN n >= $3;"
	"    isbig := c.size >= $7;"
	"    CONTINUE WHEN n > 0 AND bytes + c.size > $6;"
	"    CONTINUE WHEN isbig AND ($8 = 0 OR (inflight > 0 AND"
	"      inflight + c.size > $8));"
	"    bytes := bytes + c.size;"
	"    IF isbig THEN"
	"      inflight := inflight + c.size;"
	"    END IF;"
	"    n := n + 1;"
	"    ids := ids || c.id;"
	"  END LOOP;"
	"  IF n = 0 THEN"
	"    RETURN;"
	"  END IF;"
	"  RETURN QUERY WITH l AS (UPDATE quire_jobs SET state = 1,"
	"    updated = $1, deadline = $9, lease_host = $5, lease_pid = $10,"
	"    lease_slot = $11, gen = nextval('quire_lease_gen'),"
	"    progress = 0, cancel = false, big = size >= $7"
	"    WHERE id = ANY(ids) AND state = 0 RETURNING *),"
	"  s AS (UPDATE quire_tenants SET served = nextval('quire_served')"
	"    WHERE tid IN (SELECT tid FROM quire_tenants WHERE tid IN"
	"    (SELECT tid FROM l) ORDER BY tid FOR UPDATE SKIP LOCKED))"
	"  SELECT l.* FROM l JOIN unnest(ids) WITH ORDINALITY AS o(id, pos)"
	"    ON o.id = l.id ORDER BY o.pos;"
	"END $f$;"
	/*
	 * The documents of each home, counted as quire_docs changes, by
	 * triggers on each statement (their transition tables), in 16
	 * rows a home as quire_totals does.
	 */
	"CREATE TABLE quire_home_docs ("
	"  home bytea NOT NULL,"
	"  shard smallint NOT NULL,"
	"  n bigint NOT NULL,"
	"  PRIMARY KEY (home, shard));"
	"INSERT INTO quire_home_docs SELECT home, 0, count(*) FROM quire_docs"
	"  GROUP BY home;"
	"CREATE FUNCTION quire_docs_count() RETURNS trigger LANGUAGE plpgsql"
	"  AS $f$ "
	"BEGIN"
	"  IF TG_OP = 'INSERT' THEN"
	"    INSERT INTO quire_home_docs AS c SELECT home,"
	"      pg_backend_pid() % 16, count(*) FROM quire_new GROUP BY home"
	"      ORDER BY home ON CONFLICT (home, shard) DO UPDATE SET"
	"      n = c.n + excluded.n;"
	"  ELSIF TG_OP = 'DELETE' THEN"
	"    INSERT INTO quire_home_docs AS c SELECT home,"
	"      pg_backend_pid() % 16, -count(*) FROM quire_old GROUP BY home"
	"      ORDER BY home ON CONFLICT (home, shard) DO UPDATE SET"
	"      n = c.n + excluded.n;"
	"  ELSE"
	"    INSERT INTO quire_home_docs AS c SELECT home,"
	"      pg_backend_pid() % 16, sum(k) FROM (SELECT home, 1 AS k FROM"
	"      quire_new UNION ALL SELECT home, -1 FROM quire_old) d"
	"      GROUP BY home HAVING sum(k) <> 0 ORDER BY home"
	"      ON CONFLICT (home, shard) DO UPDATE SET n = c.n + excluded.n;"
	"  END IF;"
	"  RETURN NULL;"
	"END $f$;"
	"CREATE TRIGGER quire_docs_insert AFTER INSERT ON quire_docs"
	"  REFERENCING NEW TABLE AS quire_new FOR EACH STATEMENT"
	"  EXECUTE PROCEDURE quire_docs_count();"
	"CREATE TRIGGER quire_docs_delete AFTER DELETE ON quire_docs"
	"  REFERENCING OLD TABLE AS quire_old FOR EACH STATEMENT"
	"  EXECUTE PROCEDURE quire_docs_count();"
	"CREATE TRIGGER quire_docs_update AFTER UPDATE ON quire_docs"
	"  REFERENCING OLD TABLE AS quire_old NEW TABLE AS quire_new"
	"  FOR EACH STATEMENT EXECUTE PROCEDURE quire_docs_count();"
	/*
	 * With the counts, the index of the records by home served only
	 * the end of a drain, and cost every ack's records a third of
	 * their time: every record of one host has the same key.
	 */
	"DROP INDEX quire_docs_home;"
};

#define QPG_VERSION	((int)(sizeof(qpg_migrations) / \
			    sizeof(qpg_migrations[0])))

/* The schema. */

/*
 * The schema's version: 0 with *have clear when there is no
 * quire_schema (not initialised).
 */
static int
qpg_version(struct qpg_tx *t, int *version, int *have)
{
	uint64_t	 v;
	int		 rc, found;

	*version = 0;
	if ((rc = qpg_q1(t, "SELECT count(*) FROM pg_tables WHERE "
	    "tablename = '" QPG_SCHEMA_TABLE "' AND "
	    "schemaname = current_schema()", NULL, &v, NULL)) != 0)
		return (rc);
	*have = v > 0;
	if (!*have)
		return (0);
	if ((rc = qpg_q1(t, "SELECT version FROM " QPG_SCHEMA_TABLE,
	    NULL, &v, &found)) != 0)
		return (rc);
	*version = found ? (int)v : 0;
	return (0);
}

/* A step of a migration (qpg_exec): 0, or -1 and in err why not. */
static int
qpg_script(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult	*r;

	if ((r = qpg_exec(conn, sql, err, errlen)) == NULL)
		return (-1);
	PQclear(r);
	return (0);
}

/* The version under the lock of a migration, or -1 (err says). */
static int
qpg_locked_version(PGconn *conn, char *err, size_t errlen)
{
	PGresult	*r;
	int		 v;

	if (qpg_script(conn, "LOCK TABLE " QPG_SCHEMA_TABLE
	    " IN EXCLUSIVE MODE", err, errlen) == -1)
		return (-1);
	r = PQexec(conn, "SELECT version FROM " QPG_SCHEMA_TABLE);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK ||
	    PQntuples(r) != 1) {
		snprintf(err, errlen, "%s has no version row",
		    QPG_SCHEMA_TABLE);
		PQclear(r);
		return (-1);
	}
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return (v);
}

/* Bring the schema from its version up to QPG_VERSION, a step a txn. */
static int
qpg_migrate_steps(PGconn *conn, int *from, char *err, size_t errlen)
{
	char	 sql[128];
	int	 v, first = 1;

	for (;;) {
		if (qpg_script(conn, "BEGIN", err, errlen) == -1)
			return (-1);
		if ((v = qpg_locked_version(conn, err, errlen)) == -1)
			goto fail;
		if (first) {
			*from = v;
			first = 0;
		}
		if (v > QPG_VERSION) {
			snprintf(err, errlen, "the database's quire schema is "
			    "version %d, newer than this quire's (%d): "
			    "upgrade quire", v, QPG_VERSION);
			goto fail;
		}
		if (v == QPG_VERSION)
			break;
		snprintf(sql, sizeof(sql), "UPDATE " QPG_SCHEMA_TABLE
		    " SET version = %d", v + 1);
		if (qpg_script(conn, qpg_migrations[v], err, errlen) == -1 ||
		    qpg_script(conn, sql, err, errlen) == -1 ||
		    qpg_script(conn, "COMMIT", err, errlen) == -1)
			goto fail;
	}
	return (qpg_script(conn, "COMMIT", err, errlen));
fail:
	PQclear(PQexec(conn, "ROLLBACK"));
	return (-1);
}

/*
 * quirectl db init (create set) and db migrate: create the schema,
 * refusing a database that has one, or bring it up to date, refusing a
 * database without one or with a newer one.  0, and in err what was
 * done; -1, and in err why not.
 */
int
queue_pg_migrate(const char *dsn, int create, char *err, size_t errlen)
{
	PGconn		*conn;
	PGresult	*r;
	int		 have, from = 0, rc = -1;

	if ((conn = qpg_connect(dsn, err, errlen)) == NULL)
		return (-1);
	r = PQexec(conn, "SELECT count(*) FROM pg_tables WHERE tablename = '"
	    QPG_SCHEMA_TABLE "' AND schemaname = current_schema()");
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		PQclear(r);
		goto out;
	}
	have = atoi(PQgetvalue(r, 0, 0)) > 0;
	PQclear(r);
	if (create && have) {
		snprintf(err, errlen, "the database already has a quire "
		    "schema: use quirectl db migrate");
		goto out;
	}
	if (!create && !have) {
		snprintf(err, errlen, "the database has no quire schema: "
		    "run quirectl db init");
		goto out;
	}
	if (create && qpg_script(conn, "CREATE TABLE " QPG_SCHEMA_TABLE
	    " (version integer NOT NULL); INSERT INTO " QPG_SCHEMA_TABLE
	    " VALUES (0)", err, errlen) == -1)
		goto out;
	if (qpg_migrate_steps(conn, &from, err, errlen) == -1)
		goto out;
	if (create)
		snprintf(err, errlen, "created the quire schema, version %d",
		    QPG_VERSION);
	else if (from == QPG_VERSION)
		snprintf(err, errlen, "the quire schema is up to date "
		    "(version %d)", QPG_VERSION);
	else
		snprintf(err, errlen, "migrated the quire schema from "
		    "version %d to %d", from, QPG_VERSION);
	rc = 0;
out:
	PQfinish(conn);
	return (rc);
}

static int
qpg_schema_txn(struct qpg_tx *t, void *arg)
{
	int	*version = arg, have, rc;

	if ((rc = qpg_version(t, version, &have)) != 0)
		return (rc);
	if (!have)
		*version = -1;
	return (0);
}

/*
 * Whether the database's quire schema is this quire's version, which
 * the queue's open requires: 0, or -1 after saying why, as fn (no
 * schema, an older or a newer one, or none could be read).
 */
int
qpg_schema_check(struct queue *q, const char *fn)
{
	int	 version, rc;

	if ((rc = qpg_run(q, fn, 1, qpg_schema_txn, &version)) != 0) {
		log_warnx("%s: cannot read the quire schema's version: %s",
		    fn, queue_strerror(rc));
		return (-1);
	}
	if (version == QPG_VERSION)
		return (0);
	if (version == -1)
		log_warnx("%s: the database has no quire schema: run "
		    "quirectl db init", fn);
	else if (version > QPG_VERSION)
		log_warnx("%s: the database's quire schema is version "
		    "%d, newer than this quire's (%d)", fn, version,
		    QPG_VERSION);
	else
		log_warnx("%s: the database's quire schema is version "
		    "%d, older than this quire's (%d): run quirectl "
		    "db migrate", fn, version, QPG_VERSION);
	return (-1);
}
