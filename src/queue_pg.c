/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The job queue on PostgreSQL (libpq): the second backend of the queue
 * interface (struct queue_backend), with the semantics the interface's
 * comment in queue.c sets out (states, leases fenced by
 * generation, retries with backoff, dead letters, crash counting,
 * cancel, idempotency keys, priority aging, size tiers, retention,
 * spool counts), so that several hosts can share one queue.
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
 * Uploaded bodies.  An upload is spooled on the host that received it
 * (spool.c), which then enqueues its jobs; with several hosts, any of
 * them may claim those jobs, so the body goes into the database in the
 * enqueue's transaction: the first job that names a spool file creates
 * its quire_spool row, and the same transaction copies the file into
 * quire_spool_body, QPG_SPOOL_CHUNK bytes a statement (bounded memory,
 * whatever max-bulk-size allows), and sets the size.  "Accepted" thus
 * still means committed: the body and its jobs, or neither.  The local
 * file is then removed after the commit: the database's copy is the one
 * every host reads, the receiving host's workers too, and no host has a
 * copy to clean up.  A worker reads the bytes its job needs (an NDJSON
 * range, or the whole document after its size was checked) with
 * queue_pg_spool_size and queue_pg_spool_read, one piece a statement,
 * straight into the buffer it would have read the file into (ingest.c).
 * The body goes with its quire_spool row, when the last job that names
 * it is done, cancelled or purged.  A body enqueued before version 4
 * has no size and no pieces: a file in its host's spool, read there as
 * before.
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
 *	quire_claim()	the claim (below) as a function in PL/pgSQL, one
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
 * Home hosts.  An ack writes, in its transaction, the home records of
 * the documents its jobs indexed (queue_docs hands them to the next
 * ack; one statement over arrays): a new document's home is the acking
 * host; a known one keeps its home (another host's record is never
 * taken over); a document deleted on its home loses its record.  An
 * enqueue gives a job whose document the job names (a file's path or
 * given id, an upload's id; see qpg_docid) that document's home, if it
 * has one, or the home the caller pins it to (qn_home: a record found
 * at parse time to be another host's).  A claim takes, per tenant and
 * priority, the oldest jobs of any host and the oldest pinned to its
 * own, two index scans; a pinned job whose host is dead waits for it.
 * queue_pg_foreign (a worker, for the documents of a batch before its
 * commit; a host reconciling its index at start, home.c) and
 * queue_pg_doc_home (a delete over HTTP) read the records.  An enqueue
 * reads a home record FOR SHARE, so that a move of the document (which
 * updates the record) and the pin of a job to its old home are never
 * both missed: one waits for the other's commit.  A pin to a host that
 * is drained (qn_home) is dropped, its host's row read FOR KEY SHARE
 * against the drain's end (FOR UPDATE).
 *
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
 *
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
 *
 * Keys, names, paths and messages are bytea, not text: they are bytes
 * as a file system or a client gave them, UTF-8 or not, as in the LMDB
 * backend's records.
 *
 * Partial indexes cover each state's order: ready jobs by (tenant,
 * priority, id), retrying ones by runat, leased ones by holder, by
 * tenant and by deadline, finished ones by the time they finished; so
 * a claim, a promotion, a release, a sweep and a trim are short index
 * scans.  The counts per state are counted (COUNT(*) by state), not
 * kept: they cannot drift from the rows, at the price of a scan for
 * status (about 20 ms a 100,000 jobs).
 *
 * Times are the queue's clock (queue_now: tests fix it), passed as
 * parameters; PostgreSQL's now() is never used, so the semantics and
 * the tests are the LMDB backend's.
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
 * Leases are fenced by generation: heartbeat, ack and fail name (id,
 * generation) and get QUEUE_ESTALE when the row is no longer leased
 * with that generation.  release_pid releases the leases of a pid of
 * this host (qc_host, host-name, else gethostname) only, the ordinary
 * ones in one statement (qpg_release_fast); sweep releases the expired
 * leases of every host.
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
 *
 * Errors: libpq's messages are logged (never the connection string,
 * which may hold a password) and returned as QUEUE_ERROR; a connection
 * found lost is reset once per call and the transaction run again when
 * it had not reached its commit; a deadlock or a serialization failure
 * runs it again too.  A full disk is QUEUE_ENOSPC, an I/O error, a
 * corrupt page or a read-only server QUEUE_EIO.
 */

#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "quire.h"

#define QPG_SCHEMA_TABLE	"quire_schema"
#define QPG_CHANNEL		"quire_jobs"
#define QPG_ARGS_MAX		24
#define QPG_CLAIM_MAX		1024	/* jobs per claim, at most */
#define QPG_FETCH		"256"	/* rows per FETCH of a listing */
#define QPG_CONNECT_TIMEOUT	"10"	/* seconds, unless the DSN says */
#define QPG_RETRY_MIN_MS	250	/* reconnection: the first wait */
#define QPG_RETRY_MAX_MS	10000	/* reconnection: the longest wait */
#define QPG_TRIM_EVERY		16	/* ack calls between retention looks */
#define QPG_TRIM_SMALL		16384	/* retain_done: a look at every ack */
#define QPG_TRIM_PART		16
#define QPG_TRIM_SLACK		1024
#define QPG_TRIM_GRACE_MS	(10 * 60 * 1000)
#define QPG_BATCH		10000	/* jobs per purge or retry txn */
#define QPG_ENQ_CHUNK		1000	/* jobs per insert of an enqueue */
#define QPG_TRIES		3	/* runs of a transaction, at most */
#define QPG_ESQL		-100	/* a statement failed: see t_sqlstate */
#define QPG_ONE			2	/* qpg_run: one statement, no BEGIN */
#define QPG_AUTO		3	/* qpg_run: one that writes, no BEGIN */
#define QPG_DEFAULT_TENANT	"default"
#define QPG_HOST_MAX		255
#define QPG_TOTAL_SHARDS	16
#define QPG_SPOOL_CHUNK		(1024 * 1024)	/* bytes of a body's piece */

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

/* A job's columns, in the order qpg_row_job reads them. */
#define QPG_COLS	"id, coalesce(idem_key, ''::bytea), tenant, tid, " \
	"prio, " \
	"size, srckind, path, src_off, src_len, state, attempts, crashes, " \
	"lease_slot, lease_pid, gen, deadline, progress, cancel, created, " \
	"updated, runat, error, lang, extid, title, ctype"

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

static int	 qpg_spool_add(struct qpg_tx *, const char *, size_t);
static int	 qpg_spool_ref(struct qpg_tx *, int, const char *);
static char	*qpg_id_array(const uint64_t *, size_t);

/* Statements. */

static void
qa_init(struct qpg_args *a)
{
	a->a_n = 0;
	a->a_raw = 0;
	a->a_binres = 0;
	memset(a->a_fmt, 0, sizeof(a->a_fmt));
}

static void
qa_u64(struct qpg_args *a, uint64_t v)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	snprintf(a->a_buf[a->a_n], sizeof(a->a_buf[0]), "%" PRIu64, v);
	a->a_val[a->a_n] = a->a_buf[a->a_n];
	a->a_n++;
}

static void
qa_i64(struct qpg_args *a, int64_t v)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	snprintf(a->a_buf[a->a_n], sizeof(a->a_buf[0]), "%" PRId64, v);
	a->a_val[a->a_n] = a->a_buf[a->a_n];
	a->a_n++;
}

/* A string, or SQL's NULL for NULL. */
static void
qa_str(struct qpg_args *a, const char *s)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	a->a_val[a->a_n++] = s;
}

/* len bytes as a bytea, sent as they are: no text, no copy. */
static void
qa_raw(struct qpg_args *a, const void *data, size_t len)
{
	if (a->a_n == QPG_ARGS_MAX)
		fatalx("%s: too many parameters", __func__);
	a->a_val[a->a_n] = data;
	a->a_len[a->a_n] = len;
	a->a_fmt[a->a_n++] = 1;
	a->a_raw = 1;
}

/*
 * Bytes (a path, a name, a message: whatever a file system or a client
 * gave, UTF-8 or not) as a bytea's text, \x and hex; SQL's NULL for
 * NULL.  The text lives until the end of the transaction.
 */
static void
qa_binlen(struct qpg_tx *t, struct qpg_args *a, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	char			*h, *o;
	size_t			 i;

	o = h = xmalloc(2 * len + 3);
	*o++ = '\\';
	*o++ = 'x';
	for (i = 0; i < len; i++) {
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 15];
	}
	*o = '\0';
	t->t_mem = xreallocarray(t->t_mem, t->t_nmem + 1, sizeof(*t->t_mem));
	t->t_mem[t->t_nmem++] = h;
	qa_str(a, h);
}

static void
qa_bin(struct qpg_tx *t, struct qpg_args *a, const char *s)
{
	if (s == NULL)
		qa_str(a, NULL);
	else
		qa_binlen(t, a, s, strlen(s));
}

/* An error message, cut as struct job holds it. */
static void
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
static void
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
static int
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

static uint64_t
qpg_u64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return (0);
	return (strtoull(PQgetvalue(r, row, col), NULL, 10));
}

static int64_t
qpg_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return (0);
	return (strtoll(PQgetvalue(r, row, col), NULL, 10));
}

/* A one-value result's value, 0 when it has no row. */
static int
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

static void
qpg_text(char *dst, size_t len, const PGresult *r, int row, int col)
{
	qpg_bytes(dst, len, PQgetisnull(r, row, col) ? "" :
	    PQgetvalue(r, row, col));
}

/* A row of QPG_COLS, from column col on, as a job. */
static void
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

/* A setting as a bigint's value: a larger one is as good as infinite. */
static uint64_t
qpg_clamp(uint64_t v)
{
	return (v > INT64_MAX ? INT64_MAX : v);
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
static int
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
static int
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
static PGconn *
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

/* Run one SQL text (no parameters) that may hold several statements. */
static int
qpg_script(PGconn *conn, const char *sql, char *err, size_t errlen)
{
	PGresult	*r;
	char		*p;
	int		 ok;

	r = PQexec(conn, sql);
	ok = r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);
	if (!ok) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		if ((p = strchr(err, '\n')) != NULL)
			*p = '\0';
	}
	PQclear(r);
	return (ok ? 0 : -1);
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
qpg_open_txn(struct qpg_tx *t, void *arg)
{
	int	*version = arg, have, rc;

	if ((rc = qpg_version(t, version, &have)) != 0)
		return (rc);
	if (!have)
		*version = -1;
	return (0);
}

static int
qpg_open(struct queue *q, const char *datadir, const struct queue_conf *qc)
{
	struct qpg	*pg;
	char		 err[512];
	int		 version, rc;

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
	if ((rc = qpg_run(q, __func__, 1, qpg_open_txn, &version)) != 0) {
		log_warnx("%s: cannot read the quire schema's version: %s",
		    __func__, queue_strerror(rc));
		qpg_close(q);
		return (-1);
	}
	if (version != QPG_VERSION) {
		if (version == -1)
			log_warnx("%s: the database has no quire schema: run "
			    "quirectl db init", __func__);
		else if (version > QPG_VERSION)
			log_warnx("%s: the database's quire schema is version "
			    "%d, newer than this quire's (%d)", __func__,
			    version, QPG_VERSION);
		else
			log_warnx("%s: the database's quire schema is version "
			    "%d, older than this quire's (%d): run quirectl "
			    "db migrate", __func__, version, QPG_VERSION);
		qpg_close(q);
		return (-1);
	}
	return (0);
}

/* Enqueue. */

/* The tenant's number, created at its first job. */
static int
qpg_tenant(struct qpg_tx *t, const char *name, uint32_t *tid)
{
	struct qpg_args	 a;
	uint64_t	 v;
	int		 rc, found;

	qa_init(&a);
	qa_bin(t, &a, name);
	if ((rc = qpg_q1(t, "SELECT tid FROM quire_tenants WHERE name = $1",
	    &a, &v, &found)) != 0)
		return (rc);
	if (!found && (rc = qpg_q1(t, "INSERT INTO quire_tenants (name) "
	    "VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING tid", &a, &v,
	    &found)) != 0)
		return (rc);
	/* Another transaction added it meanwhile. */
	if (!found && (rc = qpg_q1(t, "SELECT tid FROM quire_tenants WHERE "
	    "name = $1", &a, &v, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ERROR);
	*tid = v;
	return (0);
}

struct qpg_enq_arg {
	struct queue_new *ea_jobs;
	size_t		 ea_n;
};

/* PostgreSQL's array literals, built element by element. */
enum {
	QE_ID, QE_KEY, QE_TENANT, QE_TID, QE_PRIO, QE_STATE, QE_SIZE,
	QE_SRCKIND, QE_PATH, QE_OFF, QE_LEN, QE_LANG, QE_EXTID, QE_TITLE,
	QE_CTYPE, QE_ERROR, QE_HOME, QE_DOCID, QE_AWAY, QE_N
};

static void
qpg_arr_sep(struct buf *b)
{
	buf_addc(b, b->b_len == 0 ? '{' : ',');
}

static void
qpg_arr_i64(struct buf *b, int64_t v)
{
	qpg_arr_sep(b);
	buf_printf(b, "%" PRId64, v);
}

/* len bytes as a quoted element, \x and hex (the backslash escaped). */
static void
qpg_arr_binlen(struct buf *b, const void *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = s;
	size_t			 i;
	char			*o;

	qpg_arr_sep(b);
	if (s == NULL) {
		buf_addstr(b, "NULL");
		return;
	}
	buf_addstr(b, "\"\\\\x");
	buf_reserve(b, 2 * len + 1);
	o = b->b_data + b->b_len;
	for (i = 0; i < len; i++) {
		*o++ = hex[p[i] >> 4];
		*o++ = hex[p[i] & 15];
	}
	b->b_len += 2 * len;
	buf_addc(b, '"');
}

/* A string, at most max bytes of it, as a quoted element; NULL: NULL. */
static void
qpg_arr_bytes(struct buf *b, const char *s, size_t max)
{
	qpg_arr_binlen(b, s, s != NULL ? strnlen(s, max) : 0);
}

static const char *
qpg_arr_end(struct buf *b)
{
	if (b->b_len == 0)
		buf_addc(b, '{');
	buf_addc(b, '}');
	return (buf_cstr(b));
}

/*
 * Run sql, whose $1 and $2 are the tenants and external ids of
 * docs[0..n) as arrays (unnested WITH ORDINALITY, a document's place
 * from 1) and $3 is host, with out[0..n) cleared for its answer: as
 * qpg_q.
 */
static int
qpg_docs_q(struct qpg_tx *t, const char *sql, const struct queue_doc *docs,
    size_t n, const char *host, uint8_t *out, PGresult **r)
{
	struct qpg_args	 a;
	struct buf	 tenants, extids;
	size_t		 i;
	int		 rc;

	buf_init(&tenants);
	buf_init(&extids);
	for (i = 0; i < n; i++) {
		out[i] = 0;
		qpg_arr_bytes(&tenants, docs[i].qd_tenant, JOB_TENANT_MAX);
		qpg_arr_bytes(&extids, docs[i].qd_extid, IX_EXTID_MAX);
	}
	qa_init(&a);
	qa_str(&a, qpg_arr_end(&tenants));
	qa_str(&a, qpg_arr_end(&extids));
	qa_bin(t, &a, host);
	rc = qpg_q(t, sql, &a, r);
	buf_free(&tenants);
	buf_free(&extids);
	return (rc);
}

static const char *
qpg_or(const char *s)
{
	return (s != NULL ? s : "");
}

static const char *
qpg_key(const struct queue_new *qn)
{
	return (qn->qn_key != NULL && qn->qn_key[0] != '\0' ? qn->qn_key :
	    NULL);
}

/*
 * The keys of jobs[0..n) that the queue knows: those jobs are
 * duplicates of the first job of their key, their id its.
 */
static int
qpg_enq_known(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	struct qpg_args	 a;
	struct buf	 keys;
	PGresult	*r;
	char		 key[JOB_KEY_MAX + 1];
	size_t		 i;
	int		 k, rc, any = 0;

	buf_init(&keys);
	for (i = 0; i < n; i++)
		if (qpg_key(&jobs[i]) != NULL) {
			qpg_arr_bytes(&keys, jobs[i].qn_key, JOB_KEY_MAX);
			any = 1;
		}
	if (!any) {
		buf_free(&keys);
		return (0);
	}
	qa_init(&a);
	qa_str(&a, qpg_arr_end(&keys));
	rc = qpg_q(t, "SELECT idem_key, id FROM quire_jobs WHERE "
	    "idem_key = ANY($1::bytea[])", &a, &r);
	buf_free(&keys);
	if (rc != 0)
		return (rc);
	for (k = 0; k < PQntuples(r); k++) {
		qpg_text(key, sizeof(key), r, k, 0);
		for (i = 0; i < n; i++)
			if (qpg_key(&jobs[i]) != NULL && !jobs[i].qn_dup &&
			    strcmp(jobs[i].qn_key, key) == 0) {
				jobs[i].qn_id = qpg_u64(r, k, 1);
				jobs[i].qn_dup = 1;
			}
	}
	PQclear(r);
	return (0);
}

static int
qpg_idcmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* Whether job i's key came earlier in jobs: then it is that one's. */
static int
qpg_enq_repeat(struct queue_new *jobs, size_t i)
{
	size_t	 k;

	if (qpg_key(&jobs[i]) == NULL)
		return (0);
	for (k = 0; k < i; k++)
		if (qpg_key(&jobs[k]) != NULL &&
		    strcmp(jobs[k].qn_key, jobs[i].qn_key) == 0) {
			jobs[i].qn_id = jobs[k].qn_id;
			jobs[i].qn_dup = 1;
			return (1);
		}
	return (0);
}

/* Ids for the new jobs of jobs[0..n), from the sequence, in order. */
static int
qpg_enq_ids(struct qpg_tx *t, struct queue_new *jobs, size_t n,
    size_t *nnew)
{
	struct qpg_args	 a;
	PGresult	*r;
	uint64_t	*ids;
	size_t		 i, m = 0, k = 0;
	int		 rc;

	for (i = 0; i < n; i++)
		if (!jobs[i].qn_dup)
			m++;
	*nnew = m;
	if (m == 0)
		return (0);
	qa_init(&a);
	qa_u64(&a, m);
	if ((rc = qpg_q(t, "SELECT nextval('quire_job_id') FROM "
	    "generate_series(1, $1)", &a, &r)) != 0)
		return (rc);
	if ((size_t)PQntuples(r) != m) {
		PQclear(r);
		return (QUEUE_ERROR);
	}
	ids = xcalloc(m, sizeof(*ids));
	for (i = 0; i < m; i++)
		ids[i] = qpg_u64(r, i, 0);
	PQclear(r);
	qsort(ids, m, sizeof(*ids), qpg_idcmp);
	for (i = 0; i < n; i++)
		if (!jobs[i].qn_dup && !qpg_enq_repeat(jobs, i))
			jobs[i].qn_id = ids[k++];
	free(ids);
	*nnew = k;
	return (0);
}

/*
 * The external id a job's document will have in the index, when the
 * job names it: a file's path or the id it was given, an upload's id,
 * a delete's document, or the one the caller gives (a record's pin).
 * NULL for an NDJSON range (its records' ids are in the file), an
 * upload without an id (a new document) and a move (which goes to any
 * host but its drained one).
 */
static const char *
qpg_docid(const struct queue_new *qn, char *buf, size_t len)
{
	if (qn->qn_dead != NULL || qn->qn_srckind == SRC_MOVE)
		return (NULL);
	if (qn->qn_docid != NULL && qn->qn_docid[0] != '\0')
		index_extid(buf, len, qn->qn_docid);
	else if (qn->qn_extid != NULL && qn->qn_extid[0] != '\0' &&
	    (qn->qn_srckind == SRC_PATH || qn->qn_srckind == SRC_SPOOL ||
	    qn->qn_srckind == SRC_DELETE))
		index_extid(buf, len, qn->qn_extid);
	else if (qn->qn_srckind == SRC_PATH && qn->qn_path != NULL)
		index_extid(buf, len, qn->qn_path);
	else
		return (NULL);
	return (buf);
}

/* The new jobs of jobs[0..n) as the columns' arrays. */
static void
qpg_enq_arrays(struct queue_new *jobs, size_t n, const char **tenants,
    const uint32_t *tids, struct buf *col)
{
	struct queue_new	*qn;
	char			 docid[IX_EXTID_MAX + 1];
	size_t			 i;

	for (i = 0; i < n; i++) {
		qn = &jobs[i];
		if (qn->qn_dup)
			continue;
		qpg_arr_i64(&col[QE_ID], qn->qn_id);
		qpg_arr_bytes(&col[QE_KEY], qpg_key(qn), JOB_KEY_MAX);
		qpg_arr_bytes(&col[QE_TENANT], tenants[i], JOB_TENANT_MAX);
		qpg_arr_i64(&col[QE_TID], tids[i]);
		qpg_arr_i64(&col[QE_PRIO], qn->qn_prio);
		qpg_arr_i64(&col[QE_STATE], qn->qn_dead != NULL ? JOB_DEAD :
		    JOB_READY);
		qpg_arr_i64(&col[QE_SIZE], qn->qn_size);
		qpg_arr_i64(&col[QE_SRCKIND], qn->qn_srckind);
		qpg_arr_bytes(&col[QE_PATH], qpg_or(qn->qn_path), JOB_PATH_MAX);
		qpg_arr_i64(&col[QE_OFF], qn->qn_off);
		qpg_arr_i64(&col[QE_LEN], qn->qn_len);
		qpg_arr_bytes(&col[QE_LANG], qpg_or(qn->qn_lang), JOB_LANG_MAX);
		qpg_arr_bytes(&col[QE_EXTID], qpg_or(qn->qn_extid),
		    JOB_EXTID_MAX);
		qpg_arr_bytes(&col[QE_TITLE], qpg_or(qn->qn_title),
		    JOB_TITLE_MAX);
		qpg_arr_bytes(&col[QE_CTYPE], qpg_or(qn->qn_ctype),
		    JOB_CTYPE_MAX);
		qpg_arr_bytes(&col[QE_ERROR], qpg_or(qn->qn_dead),
		    JOB_ERROR_MAX - 1);
		qpg_arr_bytes(&col[QE_HOME], qn->qn_home != NULL &&
		    qn->qn_home[0] != '\0' ? qn->qn_home : NULL, QPG_HOST_MAX);
		qpg_arr_bytes(&col[QE_DOCID], qpg_docid(qn, docid,
		    sizeof(docid)), IX_EXTID_MAX);
		qpg_arr_bytes(&col[QE_AWAY], qn->qn_away != NULL &&
		    qn->qn_away[0] != '\0' ? qn->qn_away : NULL, QPG_HOST_MAX);
	}
}

/*
 * A new job whose key another transaction committed since
 * qpg_enq_known looked (its insert did nothing, ON CONFLICT): it and
 * its repeats in the batch are duplicates of the other's job.
 */
static int
qpg_enq_lost(struct qpg_tx *t, struct queue_new *jobs, size_t n, size_t i)
{
	struct qpg_args	 a;
	uint64_t	 old = jobs[i].qn_id, id;
	size_t		 k;
	int		 rc, found;

	qa_init(&a);
	qa_bin(t, &a, jobs[i].qn_key);
	if ((rc = qpg_q1(t, "SELECT id FROM quire_jobs WHERE idem_key = $1",
	    &a, &id, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ERROR);
	for (k = i; k < n; k++)
		if (jobs[k].qn_id == old) {
			jobs[k].qn_id = id;
			jobs[k].qn_dup = 1;
		}
	return (0);
}

/* Insert the new jobs of jobs[0..n) in one statement. */
static int
qpg_enq_insert(struct qpg_tx *t, struct queue_new *jobs, size_t n,
    const char **tenants, const uint32_t *tids)
{
	struct qpg_args	 a;
	struct buf	 col[QE_N];
	PGresult	*r;
	uint64_t	*ids;
	size_t		 i, m;
	int		 k, rc;

	for (k = 0; k < QE_N; k++)
		buf_init(&col[k]);
	qpg_enq_arrays(jobs, n, tenants, tids, col);
	qa_init(&a);
	for (k = 0; k < QE_N; k++)
		qa_str(&a, qpg_arr_end(&col[k]));
	qa_u64(&a, t->t_now);
	/*
	 * A job whose document has a home record gets the record's home (a
	 * later version, a delete), read FOR SHARE (see the top); else the
	 * host it is pinned to, unless that host is drained.
	 */
	rc = qpg_q(t, "INSERT INTO quire_jobs (id, idem_key, tenant, tid, "
	    "prio, state, size, srckind, path, src_off, src_len, lang, extid, "
	    "title, ctype, error, home, docid, away, created, updated, enq) "
	    "SELECT u.id, u.k, u.tenant, u.tid, u.prio, u.st, u.size, u.kind, "
	    "u.path, u.off, u.len, u.lang, u.extid, u.title, u.ctype, u.err, "
	    "coalesce(CASE WHEN u.docid IS NOT NULL THEN (SELECT d.home FROM "
	    "quire_docs d WHERE d.tenant = u.tenant AND d.extid = u.docid "
	    "FOR SHARE) END, CASE WHEN u.home IS NOT NULL AND "
	    "coalesce((SELECT h.drained FROM quire_hosts h WHERE "
	    "h.name = u.home FOR KEY SHARE), 0) = 0 THEN u.home END), "
	    "u.docid, u.away, $20, $20, $20 "
	    "FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], "
	    "$4::integer[], $5::smallint[], $6::smallint[], $7::bigint[], "
	    "$8::smallint[], $9::bytea[], $10::bigint[], $11::bigint[], "
	    "$12::bytea[], $13::bytea[], $14::bytea[], $15::bytea[], "
	    "$16::bytea[], $17::bytea[], $18::bytea[], $19::bytea[]) AS "
	    "u(id, k, tenant, tid, prio, st, size, kind, path, off, len, lang, "
	    "extid, title, ctype, err, home, docid, away) ON CONFLICT "
	    "(idem_key) DO NOTHING RETURNING id", &a, &r);
	for (k = 0; k < QE_N; k++)
		buf_free(&col[k]);
	if (rc != 0)
		return (rc);
	m = PQntuples(r);
	ids = xcalloc(m + 1, sizeof(*ids));
	for (i = 0; i < m; i++)
		ids[i] = qpg_u64(r, i, 0);
	PQclear(r);
	qsort(ids, m, sizeof(*ids), qpg_idcmp);
	for (i = 0; i < n && rc == 0; i++)
		if (!jobs[i].qn_dup && bsearch(&jobs[i].qn_id, ids, m,
		    sizeof(*ids), qpg_idcmp) == NULL)
			rc = qpg_enq_lost(t, jobs, n, i);
	free(ids);
	return (rc);
}

/* The bodies the new jobs of jobs[0..n) carry (a move's document). */
static int
qpg_enq_bodies(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	struct qpg_args	 a;
	struct buf	 ids, bodies;
	size_t		 i, any = 0;
	int		 rc;

	buf_init(&ids);
	buf_init(&bodies);
	for (i = 0; i < n; i++) {
		if (jobs[i].qn_dup || jobs[i].qn_body == NULL)
			continue;
		qpg_arr_i64(&ids, jobs[i].qn_id);
		qpg_arr_binlen(&bodies, jobs[i].qn_body, jobs[i].qn_bodylen);
		any++;
	}
	rc = 0;
	if (any > 0) {
		qa_init(&a);
		qa_str(&a, qpg_arr_end(&ids));
		qa_str(&a, qpg_arr_end(&bodies));
		rc = qpg_q(t, "INSERT INTO quire_bodies (job, body) SELECT * "
		    "FROM unnest($1::bigint[], $2::bytea[])", &a, NULL);
	}
	buf_free(&ids);
	buf_free(&bodies);
	return (rc);
}

/* The counts, the wake-up and the spool files of the new jobs. */
static int
qpg_enq_done(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	const char	*last = NULL;
	size_t		 i, refs = 0;
	int		 rc;

	for (i = 0; i < n; i++) {
		if (jobs[i].qn_dup)
			continue;
		t->t_tot[QT_ENQUEUED]++;
		if (jobs[i].qn_dead != NULL)
			t->t_tot[QT_FAILED]++;
		else
			t->t_notify = 1;
		if (jobs[i].qn_srckind != SRC_SPOOL)
			continue;
		/* The jobs of one upload come together: one count. */
		if (last != NULL && strcmp(last, jobs[i].qn_path) == 0) {
			refs++;
			continue;
		}
		if (refs > 0 && (rc = qpg_spool_add(t, last, refs)) != 0)
			return (rc);
		last = jobs[i].qn_path;
		refs = 1;
	}
	if (refs > 0 && (rc = qpg_spool_add(t, last, refs)) != 0)
		return (rc);
	return (0);
}

/* Enqueue jobs[0..n), at most QPG_ENQ_CHUNK, in a few statements. */
static int
qpg_enq_chunk(struct qpg_tx *t, struct queue_new *jobs, size_t n)
{
	const char	**tenants;
	uint32_t	*tids;
	size_t		*distinct, ndistinct = 0, i, k, nnew;
	int		 rc = 0;

	tenants = xcalloc(n, sizeof(*tenants));
	tids = xcalloc(n, sizeof(*tids));
	distinct = xcalloc(n, sizeof(*distinct));
	for (i = 0; i < n && rc == 0; i++) {
		jobs[i].qn_dup = 0;
		jobs[i].qn_id = 0;
		tenants[i] = jobs[i].qn_tenant != NULL &&
		    jobs[i].qn_tenant[0] != '\0' ? jobs[i].qn_tenant :
		    QPG_DEFAULT_TENANT;
		/* A tenant met before in the batch: its number. */
		for (k = 0; k < ndistinct; k++)
			if (strcmp(tenants[distinct[k]], tenants[i]) == 0)
				break;
		if (k < ndistinct)
			tids[i] = tids[distinct[k]];
		else {
			distinct[ndistinct++] = i;
			rc = qpg_tenant(t, tenants[i], &tids[i]);
		}
	}
	if (rc == 0)
		rc = qpg_enq_known(t, jobs, n);
	if (rc == 0)
		rc = qpg_enq_ids(t, jobs, n, &nnew);
	if (rc == 0 && nnew > 0)
		rc = qpg_enq_insert(t, jobs, n, tenants, tids);
	if (rc == 0 && nnew > 0)
		rc = qpg_enq_bodies(t, jobs, n);
	if (rc == 0)
		rc = qpg_enq_done(t, jobs, n);
	free(tenants);
	free(tids);
	free(distinct);
	return (rc);
}

static int
qpg_enqueue_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_enq_arg	*ea = arg;
	size_t			 i, n;
	int			 rc;

	for (i = 0; i < ea->ea_n; i += n) {
		n = ea->ea_n - i > QPG_ENQ_CHUNK ? QPG_ENQ_CHUNK : ea->ea_n - i;
		if ((rc = qpg_enq_chunk(t, ea->ea_jobs + i, n)) != 0)
			return (rc);
	}
	return (0);
}

static int
qpg_enqueue(struct queue *q, struct queue_new *jobs, size_t n)
{
	struct qpg_enq_arg	 ea;
	size_t			 i;

	/* queue_enqueue checked the rest. */
	for (i = 0; i < n; i++)
		if ((jobs[i].qn_home != NULL &&
		    strlen(jobs[i].qn_home) > QPG_HOST_MAX) ||
		    (jobs[i].qn_away != NULL &&
		    strlen(jobs[i].qn_away) > QPG_HOST_MAX) ||
		    (jobs[i].qn_docid != NULL &&
		    strlen(jobs[i].qn_docid) > JOB_PATH_MAX))
			return (QUEUE_EINVAL);
	if (n == 0)
		return (0);
	ea.ea_jobs = jobs;
	ea.ea_n = n;
	return (qpg_run(q, __func__, 0, qpg_enqueue_txn, &ea));
}

/* The local spool file name goes after the commit (qpg_run). */
static void
qpg_unlink_later(struct queue *q, const char *name)
{
	if (q->q_nunlink == q->q_unlinkcap) {
		q->q_unlinkcap = q->q_unlinkcap == 0 ? 16 : q->q_unlinkcap * 2;
		q->q_unlink = xreallocarray(q->q_unlink, q->q_unlinkcap,
		    sizeof(*q->q_unlink));
	}
	strlcpy(q->q_unlink[q->q_nunlink++], name, sizeof(q->q_unlink[0]));
}

/*
 * Read up to len bytes at off of fd, fewer only at end of file; the
 * bytes read, or -1 with errno.
 */
static ssize_t
qpg_pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		if ((n = pread(fd, buf + got, len - got, off + got)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			break;
		got += n;
	}
	return (got);
}

/*
 * The spool file name into quire_spool_body, piece by piece, and its
 * size into its quire_spool row, in the enqueue's transaction; the file
 * goes after the commit.  A file that cannot be read fails the enqueue,
 * which then takes nothing (QUEUE_EIO for the disk's error).
 */
static int
qpg_spool_store(struct qpg_tx *t, const char *name)
{
	struct qpg_args	 a;
	char		*buf;
	uint64_t	 pos = 0;
	ssize_t		 n;
	int		 fd, rc = 0, saved;

	if ((fd = spool_open(t->t_q->q_datadir, name)) == -1) {
		saved = errno;
		log_warnx("%s: %s/%s/%s: %s", __func__, t->t_q->q_datadir,
		    SPOOL_DIR, name, util_open_strerror(saved));
		return (saved == EIO ? QUEUE_EIO : QUEUE_ERROR);
	}
	buf = xmalloc(QPG_SPOOL_CHUNK);
	for (;;) {
		if ((n = qpg_pread_full(fd, buf, QPG_SPOOL_CHUNK, pos)) == -1) {
			saved = errno;
			log_warn("%s: %s/%s/%s", __func__, t->t_q->q_datadir,
			    SPOOL_DIR, name);
			rc = saved == EIO ? QUEUE_EIO : QUEUE_ERROR;
			break;
		}
		if (n == 0)
			break;
		qa_init(&a);
		qa_bin(t, &a, name);
		qa_u64(&a, pos);
		qa_raw(&a, buf, n);
		if ((rc = qpg_q(t, "INSERT INTO quire_spool_body "
		    "VALUES ($1, $2, $3)", &a, NULL)) != 0)
			break;
		pos += n;
		if (n < QPG_SPOOL_CHUNK)
			break;
	}
	free(buf);
	close(fd);
	if (rc != 0)
		return (rc);
	qa_init(&a);
	qa_bin(t, &a, name);
	qa_u64(&a, pos);
	if ((rc = qpg_q(t, "UPDATE quire_spool SET size = $2 WHERE name = $1",
	    &a, NULL)) != 0)
		return (rc);
	qpg_unlink_later(t->t_q, name);
	return (0);
}

/*
 * n jobs more that need a spool file.  The first ones make its row, and
 * the body goes into the database with them; a row that has one, or
 * that a queue before version 4 made (no size, more jobs than these),
 * keeps what it has.
 */
static int
qpg_spool_add(struct qpg_tx *t, const char *name, size_t n)
{
	struct qpg_args	 a;
	PGresult	*r;
	uint64_t	 refs;
	int		 rc, sized;

	if (name == NULL || !spool_name_ok(name))
		return (0);
	qa_init(&a);
	qa_bin(t, &a, name);
	qa_u64(&a, n);
	if ((rc = qpg_q(t, "INSERT INTO quire_spool AS s (name, refs) "
	    "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
	    "refs = s.refs + $2 RETURNING refs, size IS NOT NULL", &a,
	    &r)) != 0)
		return (rc);
	refs = qpg_u64(r, 0, 0);
	sized = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (sized || refs != n)
		return (0);
	return (qpg_spool_store(t, name));
}

/*
 * One job less that needs a spool file; at 0 its row goes, with its
 * body, and the file (where one is left) is removed after the commit.
 */
static int
qpg_spool_ref(struct qpg_tx *t, int srckind, const char *name)
{
	struct qpg_args	 a;
	uint64_t	 left;
	int		 rc, found;

	if (srckind != SRC_SPOOL || name == NULL || !spool_name_ok(name))
		return (0);
	qa_init(&a);
	qa_bin(t, &a, name);
	if ((rc = qpg_q1(t, "UPDATE quire_spool SET refs = refs - 1 WHERE "
	    "name = $1 RETURNING refs", &a, &left, &found)) != 0)
		return (rc);
	if (found && left > 0)
		return (0);
	if ((rc = qpg_q(t, "DELETE FROM quire_spool WHERE name = $1", &a,
	    NULL)) != 0)
		return (rc);
	qpg_unlink_later(t->t_q, name);
	return (0);
}

/* Claim and ack. */

/*
 * The moves among the documents of the acked jobs (acked[0..n), sorted):
 * this host becomes the home of each whose home was the drained host,
 * or that had none; then, in a statement of its own, so that its
 * snapshot sees the enqueues that the records' locks waited for, the
 * jobs pinned to the drained host for those documents are pinned here.
 * A move whose document has another home does nothing.
 */
static int
qpg_moves(struct qpg_tx *t, const uint64_t *acked, size_t n)
{
	const struct queue_doc *d;
	struct qpg_args	 a, b;
	struct buf	 col[5];
	PGresult	*r;
	size_t		 i, any = 0;
	int		 k, rc = 0;

	for (k = 0; k < 5; k++)
		buf_init(&col[k]);
	for (i = 0; i < t->t_pg->p_ndocs; i++) {
		d = &t->t_pg->p_docs[i];
		if (d->qd_away == NULL || d->qd_deleted ||
		    bsearch(&d->qd_job, acked, n, sizeof(*acked),
		    qpg_idcmp) == NULL)
			continue;
		qpg_arr_bytes(&col[0], d->qd_tenant, JOB_TENANT_MAX);
		qpg_arr_bytes(&col[1], d->qd_extid, IX_EXTID_MAX);
		qpg_arr_i64(&col[2], (int64_t)d->qd_hash);
		qpg_arr_i64(&col[3], d->qd_job);
		qpg_arr_bytes(&col[4], d->qd_away, QPG_HOST_MAX);
		any++;
	}
	if (any == 0)
		goto out;
	qa_init(&a);
	for (k = 0; k < 5; k++)
		qa_str(&a, qpg_arr_end(&col[k]));
	qa_bin(t, &a, t->t_pg->p_host);
	/* The third statement's: the arrays and the host, not the time. */
	b = a;
	qa_u64(&a, t->t_now);
#define QPG_MOVES_U \
	"WITH u AS (SELECT DISTINCT ON (tenant, extid) tenant, extid, " \
	"hash, job, away FROM unnest($1::bytea[], $2::bytea[], " \
	"$3::bigint[], $4::bigint[], $5::bytea[]) WITH ORDINALITY AS " \
	"u(tenant, extid, hash, job, away, n) ORDER BY tenant, extid, " \
	"n DESC) "
	if ((rc = qpg_q(t, QPG_MOVES_U "UPDATE quire_docs d SET home = $6, "
	    "hash = u.hash, job = u.job, updated = $7 FROM u WHERE "
	    "d.tenant = u.tenant AND d.extid = u.extid AND d.home = u.away",
	    &a, NULL)) != 0 ||
	    (rc = qpg_q(t, QPG_MOVES_U "INSERT INTO quire_docs (tenant, extid, "
	    "home, hash, job, updated) SELECT tenant, extid, $6, hash, job, $7 "
	    "FROM u ON CONFLICT (tenant, extid) DO NOTHING", &a, NULL)) != 0)
		goto out;
	if ((rc = qpg_q(t, QPG_MOVES_U "UPDATE quire_jobs j SET home = $6 "
	    "FROM u WHERE j.home = u.away AND j.tenant = u.tenant AND "
	    "j.docid = u.extid AND j.state IN (0, 2, 4) AND EXISTS (SELECT 1 "
	    "FROM quire_docs d WHERE d.tenant = u.tenant AND "
	    "d.extid = u.extid AND d.home = $6 AND d.job = u.job)", &b,
	    &r)) != 0)
		goto out;
#undef QPG_MOVES_U
	if (strtoull(PQcmdTuples(r), NULL, 10) > 0)
		t->t_notify = 1;
	PQclear(r);
out:
	for (k = 0; k < 5; k++)
		buf_free(&col[k]);
	return (rc);
}

/* Documents by tenant and external id, then as the batch had them. */
static int
qpg_doccmp(const void *a, const void *b)
{
	const struct queue_doc *const *x = a, *const *y = b;
	int	 c;

	if ((c = strcmp((*x)->qd_tenant, (*y)->qd_tenant)) != 0 ||
	    (c = strcmp((*x)->qd_extid, (*y)->qd_extid)) != 0)
		return (c);
	return (*x < *y ? -1 : *x > *y);
}

/*
 * The home records of the documents of the acked jobs (acked[0..n),
 * sorted): a document indexed gets this host as its home, or keeps the
 * home it has (another host's record is never taken over: reconciling
 * at that host's start decides); a document deleted here loses its
 * record.  The last word on a document in the batch is the one that
 * counts: the documents are sorted here, by (tenant, external id) and
 * then in the batch's order, and the last of each kept, so that the
 * server neither sorts nor removes duplicates, and the records are
 * written in the order of their primary key.  One statement for the
 * documents indexed, and one more only when some were deleted.
 */
static int
qpg_homes(struct qpg_tx *t, const uint64_t *acked, size_t n)
{
	const struct queue_doc *d, **v;
	struct qpg_args	 a;
	struct buf	 col[4], del[2];
	size_t		 i, nv = 0, nput = 0, ndel = 0;
	int		 k, rc = 0;

	v = xcalloc(t->t_pg->p_ndocs + 1, sizeof(*v));
	for (i = 0; i < t->t_pg->p_ndocs; i++) {
		d = &t->t_pg->p_docs[i];
		if (d->qd_away == NULL && bsearch(&d->qd_job, acked, n,
		    sizeof(*acked), qpg_idcmp) != NULL)
			v[nv++] = d;
	}
	qsort(v, nv, sizeof(*v), qpg_doccmp);
	for (k = 0; k < 4; k++)
		buf_init(&col[k]);
	for (k = 0; k < 2; k++)
		buf_init(&del[k]);
	for (i = 0; i < nv; i++) {
		d = v[i];
		if (i + 1 < nv && strcmp(d->qd_tenant, v[i + 1]->qd_tenant) ==
		    0 && strcmp(d->qd_extid, v[i + 1]->qd_extid) == 0)
			continue;
		if (d->qd_deleted) {
			qpg_arr_bytes(&del[0], d->qd_tenant, JOB_TENANT_MAX);
			qpg_arr_bytes(&del[1], d->qd_extid, IX_EXTID_MAX);
			ndel++;
			continue;
		}
		qpg_arr_bytes(&col[0], d->qd_tenant, JOB_TENANT_MAX);
		qpg_arr_bytes(&col[1], d->qd_extid, IX_EXTID_MAX);
		qpg_arr_i64(&col[2], (int64_t)d->qd_hash);
		qpg_arr_i64(&col[3], d->qd_job);
		nput++;
	}
	if (ndel > 0) {
		qa_init(&a);
		for (k = 0; k < 2; k++)
			qa_str(&a, qpg_arr_end(&del[k]));
		qa_bin(t, &a, t->t_pg->p_host);
		rc = qpg_q(t, "DELETE FROM quire_docs d USING "
		    "unnest($1::bytea[], $2::bytea[]) AS u(tenant, extid) "
		    "WHERE d.tenant = u.tenant AND d.extid = u.extid AND "
		    "d.home = $3", &a, NULL);
	}
	if (rc == 0 && nput > 0) {
		qa_init(&a);
		for (k = 0; k < 4; k++)
			qa_str(&a, qpg_arr_end(&col[k]));
		qa_bin(t, &a, t->t_pg->p_host);
		qa_u64(&a, t->t_now);
		rc = qpg_q(t, "INSERT INTO quire_docs AS d (tenant, extid, "
		    "home, hash, job, updated) SELECT tenant, extid, $5, hash, "
		    "job, $6 FROM unnest($1::bytea[], $2::bytea[], "
		    "$3::bigint[], $4::bigint[]) AS u(tenant, extid, hash, "
		    "job) ON CONFLICT (tenant, extid) DO UPDATE SET "
		    "hash = excluded.hash, job = excluded.job, "
		    "updated = excluded.updated WHERE d.home = excluded.home",
		    &a, NULL);
	}
	for (k = 0; k < 4; k++)
		buf_free(&col[k]);
	for (k = 0; k < 2; k++)
		buf_free(&del[k]);
	free(v);
	if (rc == 0)
		rc = qpg_moves(t, acked, n);
	return (rc);
}

struct qpg_claim_arg {
	const struct queue_lease *ca_acks;
	size_t			 ca_nacks;
	int			*ca_results;
	const struct queue_owner *ca_owner;
	struct job		*ca_out;
	size_t			 ca_max;
	size_t			 ca_n;
};

/* The columns a finished job's row gets: state $2, time $3. */
#define QPG_FINISH	"state = $2, updated = $3, deadline = 0, big = false"

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
	char		 path[JOB_PATH_MAX + 1], *ids_s;
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
		qa_init(&a);
		qa_str(&a, (ids_s = qpg_id_array(acked, rows)));
		rc = qpg_q(t, "DELETE FROM quire_bodies WHERE "
		    "job = ANY($1::bigint[])", &a, NULL);
		free(ids_s);
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

/* An array of ids as PostgreSQL's text of a bigint[]. */
static char *
qpg_id_array(const uint64_t *ids, size_t n)
{
	char	*s, num[32];
	size_t	 i, len = n * 22 + 3;

	s = xcalloc(1, len);
	strlcat(s, "{", len);
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%s%" PRIu64, i > 0 ? "," : "",
		    ids[i]);
		strlcat(s, num, len);
	}
	strlcat(s, "}", len);
	return (s);
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

/* Heartbeat, fail and cancel. */

struct qpg_one_arg {
	uint64_t	 oa_id;
	uint64_t	 oa_gen;
	uint64_t	 oa_progress;
	const char	*oa_reason;
	int		 oa_permanent;
	int		 oa_state;	/* out */
	int		 oa_result;	/* out */
	struct queue_cancelled *oa_cx;
};

static int
qpg_heartbeat_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_one_arg	*oa = arg;
	struct qpg_args		 a;
	uint64_t		 cancel;
	int			 rc, found;

	qa_init(&a);
	qa_u64(&a, oa->oa_id);
	qa_u64(&a, oa->oa_gen);
	qa_u64(&a, oa->oa_progress);
	qa_u64(&a, t->t_now + t->t_q->q_conf.qc_lease_ms);
	if ((rc = qpg_q1(t, "UPDATE quire_jobs SET progress = $3, "
	    "deadline = $4 WHERE id = $1 AND gen = $2 AND state = 1 "
	    "RETURNING cancel::integer", &a, &cancel, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ESTALE);
	oa->oa_result = cancel ? QUEUE_ECANCEL : QUEUE_OK;
	return (0);
}

static int
qpg_heartbeat(struct queue *q, uint64_t id, uint64_t gen, uint64_t progress)
{
	struct qpg_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	oa.oa_id = id;
	oa.oa_gen = gen;
	oa.oa_progress = progress;
	if ((rc = qpg_run(q, __func__, 0, qpg_heartbeat_txn, &oa)) != 0)
		return (rc);
	return (oa.oa_result);
}

/*
 * Move a job to a finished state (done, dead, cancelled), with an
 * error; done and cancelled jobs need their spool file no more.
 */
static int
qpg_finish(struct qpg_tx *t, const struct job *j, int state,
    const char *error, int attempts_add, int crashes_add)
{
	struct qpg_args	 a;
	int		 rc;

	qa_init(&a);
	qa_u64(&a, j->j_id);
	qa_i64(&a, state);
	qa_u64(&a, t->t_now);
	qa_err(t, &a, error);
	qa_i64(&a, attempts_add);
	qa_i64(&a, crashes_add);
	if ((rc = qpg_q(t, "UPDATE quire_jobs SET " QPG_FINISH ", "
	    "error = $4, attempts = attempts + $5, "
	    "crashes = crashes + $6 WHERE id = $1", &a, NULL)) != 0)
		return (rc);
	if (state == JOB_CANCELLED)
		t->t_tot[QT_CANCELLED]++;
	if (state != JOB_DEAD)
		return (qpg_spool_ref(t, j->j_srckind, j->j_path));
	return (0);
}

/* A leased job's row, locked. */
static int
qpg_get_locked(struct qpg_tx *t, uint64_t id, struct job *j, int *found)
{
	struct qpg_args	 a;
	PGresult	*r;
	int		 rc;

	qa_init(&a);
	qa_u64(&a, id);
	if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE id = $1 "
	    "FOR UPDATE", &a, &r)) != 0)
		return (rc);
	*found = PQntuples(r) > 0;
	if (*found)
		qpg_row_job(r, 0, 0, j);
	PQclear(r);
	return (0);
}

/*
 * A failed attempt of a job that was leased: retry after the backoff,
 * or a dead letter at max attempts (or at once when permanent), or
 * cancelled when a cancel was asked.  *state is where it went.
 */
static int
qpg_fail_job(struct qpg_tx *t, struct job *j, const char *reason,
    int permanent, int *state)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct qpg_args	 a;
	uint32_t	 attempts = j->j_attempts + 1;

	if (j->j_cancel) {
		*state = JOB_CANCELLED;
		return (qpg_finish(t, j, JOB_CANCELLED, reason, 1, 0));
	}
	if (permanent || attempts >= qc->qc_max_attempts) {
		*state = JOB_DEAD;
		t->t_tot[QT_FAILED]++;
		return (qpg_finish(t, j, JOB_DEAD, reason, 1, 0));
	}
	*state = JOB_RETRY;
	t->t_tot[QT_RETRIED]++;
	qa_init(&a);
	qa_u64(&a, j->j_id);
	qa_u64(&a, t->t_now);
	qa_u64(&a, t->t_now + queue_backoff(qc, attempts));
	qa_err(t, &a, reason);
	return (qpg_q(t, "UPDATE quire_jobs SET state = 2, updated = $2, "
	    "runat = $3, error = $4, attempts = attempts + 1, "
	    "deadline = 0, big = false WHERE id = $1", &a, NULL));
}

static int
qpg_fail_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_one_arg	*oa = arg;
	struct job		 j;
	int			 rc, found;

	if ((rc = qpg_get_locked(t, oa->oa_id, &j, &found)) != 0)
		return (rc);
	if (!found || j.j_state != JOB_LEASED || j.j_lease_gen != oa->oa_gen)
		return (QUEUE_ESTALE);
	return (qpg_fail_job(t, &j, oa->oa_reason, oa->oa_permanent,
	    &oa->oa_state));
}

static int
qpg_fail(struct queue *q, uint64_t id, uint64_t gen, const char *reason,
    int permanent, int *state)
{
	struct qpg_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	oa.oa_id = id;
	oa.oa_gen = gen;
	oa.oa_reason = reason != NULL ? reason : "failed";
	oa.oa_permanent = permanent;
	rc = qpg_run(q, __func__, 0, qpg_fail_txn, &oa);
	if (rc == 0 && state != NULL)
		*state = oa.oa_state;
	return (rc);
}

static int
qpg_cancel_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_one_arg	*oa = arg;
	struct qpg_args		 a;
	struct job		 j;
	int			 rc, found;

	if ((rc = qpg_get_locked(t, oa->oa_id, &j, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ENOENT);
	oa->oa_cx->qx_state = j.j_state;
	switch (j.j_state) {
	case JOB_READY:
	case JOB_RETRY:
		t->t_notify = 1;
		oa->oa_result = QUEUE_OK;
		return (qpg_finish(t, &j, JOB_CANCELLED, "cancelled", 0, 0));
	case JOB_LEASED:
		oa->oa_cx->qx_gen = j.j_lease_gen;
		oa->oa_cx->qx_pid = j.j_lease_pid;
		oa->oa_cx->qx_slot = j.j_lease_slot;
		qa_init(&a);
		qa_u64(&a, j.j_id);
		t->t_notify = 1;
		oa->oa_result = QUEUE_ECANCEL;
		return (qpg_q(t, "UPDATE quire_jobs SET cancel = true WHERE "
		    "id = $1", &a, NULL));
	default:
		return (QUEUE_ESTATE);
	}
}

static int
qpg_cancel_job(struct queue *q, uint64_t id, struct queue_cancelled *cx)
{
	struct qpg_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	memset(cx, 0, sizeof(*cx));
	cx->qx_state = -1;
	oa.oa_id = id;
	oa.oa_cx = cx;
	if ((rc = qpg_run(q, __func__, 0, qpg_cancel_txn, &oa)) != 0)
		return (rc);
	return (oa.oa_result);
}

static int
qpg_cancel(struct queue *q, uint64_t id)
{
	struct queue_cancelled	 cx;

	return (qpg_cancel_job(q, id, &cx));
}

/* Release, sweep and extend. */

struct qpg_release_arg {
	const char	*ra_host;	/* a dead host's leases, all */
	uint32_t	 ra_pid;
	const char	*ra_cause;
	uint64_t	 ra_crash;
	int		 ra_sweep;
	struct queue_release *ra_rel;
	uint64_t	 ra_left;	/* leases qpg_release_fast left */
};

static int
qpg_release_one(struct qpg_tx *t, struct qpg_release_arg *ra,
    struct job *j)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct queue_release	*rel = ra->ra_rel;
	struct qpg_args		 a;
	char			 why[JOB_ERROR_MAX];
	int			 rc, crash, state;

	crash = ra->ra_crash == QUEUE_CRASH_ALL || ra->ra_crash == j->j_id;
	if (j->j_cancel) {
		rel->qr_cancelled++;
		rc = qpg_finish(t, j, JOB_CANCELLED, j->j_error, 0, 0);
	} else if (ra->ra_sweep) {
		/* A hung holder: the attempt counts. */
		j->j_cancel = 0;
		rc = qpg_fail_job(t, j, "lease expired", 0, &state);
		if (state == JOB_DEAD)
			rel->qr_dead++;
		else
			rel->qr_released++;
	} else if (crash && j->j_crashes + 1 >= qc->qc_max_crashes) {
		/* A worker over its memory limit says so itself. */
		if (strncmp(ra->ra_cause, QUEUE_MEMORY_LIMIT,
		    strlen(QUEUE_MEMORY_LIMIT)) == 0)
			strlcpy(why, ra->ra_cause, sizeof(why));
		else
			snprintf(why, sizeof(why), "crashed worker (%s)",
			    ra->ra_cause);
		t->t_tot[QT_FAILED]++;
		rel->qr_dead++;
		rc = qpg_finish(t, j, JOB_DEAD, why, 0, 1);
	} else {
		qa_init(&a);
		qa_u64(&a, j->j_id);
		qa_u64(&a, t->t_now);
		qa_err(t, &a, ra->ra_cause);
		qa_i64(&a, crash);
		rel->qr_released++;
		t->t_notify = 1;
		rc = qpg_q(t, "UPDATE quire_jobs SET state = 0, updated = $2, "
		    "enq = created, error = $3, "
		    "crashes = crashes + $4, deadline = 0, big = false "
		    "WHERE id = $1", &a, NULL);
	}
	if (rc != 0)
		return (rc);
	if (rel->qr_released + rel->qr_dead + rel->qr_cancelled <=
	    sizeof(rel->qr_jobs) / sizeof(rel->qr_jobs[0]))
		rel->qr_jobs[rel->qr_released + rel->qr_dead +
		    rel->qr_cancelled - 1] = j->j_id;
	t->t_tot[QT_RELEASED]++;
	return (0);
}

static int
qpg_release_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_release_arg	*ra = arg;
	struct qpg_args		 a;
	struct job		*jobs;
	PGresult		*r;
	int			 i, n, rc;

	memset(ra->ra_rel, 0, sizeof(*ra->ra_rel));
	qa_init(&a);
	if (ra->ra_sweep) {
		qa_u64(&a, t->t_now);
		rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "state = 1 AND deadline <= $1 ORDER BY id FOR UPDATE", &a,
		    &r);
	} else if (ra->ra_host != NULL) {
		qa_bin(t, &a, ra->ra_host);
		rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "state = 1 AND lease_host = $1 ORDER BY id FOR UPDATE", &a,
		    &r);
	} else {
		qa_bin(t, &a, t->t_pg->p_host);
		qa_u64(&a, ra->ra_pid);
		rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "state = 1 AND lease_host = $1 AND lease_pid = $2 "
		    "ORDER BY id FOR UPDATE", &a, &r);
	}
	if (rc != 0)
		return (rc);
	n = PQntuples(r);
	jobs = xcalloc(n + 1, sizeof(*jobs));
	for (i = 0; i < n; i++)
		qpg_row_job(r, i, 0, &jobs[i]);
	PQclear(r);
	for (i = 0; i < n && rc == 0; i++)
		rc = qpg_release_one(t, ra, &jobs[i]);
	free(jobs);
	return (rc);
}

/*
 * A dead worker's leases back to ready, the common case of a release at
 * the reap, in one statement that is its own transaction (one round
 * trip, no BEGIN nor COMMIT): the jobs neither cancelled nor at their
 * last crash, with the count of released jobs and the NOTIFY that wakes
 * an idle worker.  The totals go to a row of their own, 16 + the
 * server process's id % 16, not to the shard of the workers' acks,
 * whose transactions would hold the reap behind their commits.  It
 * counts the leases it left (a cancel pending, a crash that makes a
 * dead letter) in ra_left: qpg_release_txn then finishes those.
 */
static int
qpg_release_fast(struct qpg_tx *t, void *arg)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct qpg_release_arg	*ra = arg;
	struct queue_release	*rel = ra->ra_rel;
	struct qpg_args		 a;
	PGresult		*r;
	char			*ids, *p, *e;
	size_t			 i;
	int			 rc;

	memset(rel, 0, sizeof(*rel));
	qa_init(&a);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_u64(&a, ra->ra_pid);
	qa_u64(&a, t->t_now);
	qa_err(t, &a, ra->ra_cause);
	qa_i64(&a, ra->ra_crash == QUEUE_CRASH_ALL ? -1 :
	    ra->ra_crash > INT64_MAX ? 0 : (int64_t)ra->ra_crash);
	qa_u64(&a, qc->qc_max_crashes);
	if ((rc = qpg_q(t, "WITH r AS (UPDATE quire_jobs SET state = 0, "
	    "updated = $3, enq = created, error = $4, crashes = crashes + "
	    "(id = $5 OR $5 = -1)::integer, deadline = 0, big = false "
	    "WHERE state = 1 AND lease_host = $1 AND lease_pid = $2 AND "
	    "NOT cancel AND NOT ((id = $5 OR $5 = -1) AND "
	    "crashes + 1 >= $6) RETURNING id), "
	    "l AS (SELECT count(*) AS n FROM quire_jobs WHERE state = 1 AND "
	    "lease_host = $1 AND lease_pid = $2), "
	    "c AS (INSERT INTO quire_totals AS o (shard, released) "
	    "SELECT 16 + pg_backend_pid() % 16, count(*) FROM r "
	    "HAVING count(*) > 0 ON CONFLICT (shard) DO UPDATE SET "
	    "released = o.released + excluded.released RETURNING 1), "
	    "w AS (SELECT pg_notify('" QPG_CHANNEL "', '') FROM "
	    "(SELECT 1 FROM r LIMIT 1) x) "
	    "SELECT (SELECT count(*) FROM r), (SELECT n FROM l), "
	    "(SELECT array_agg(id ORDER BY id) FROM (SELECT id FROM r "
	    "ORDER BY id LIMIT 64) f), (SELECT count(*) FROM c), "
	    "(SELECT count(*) FROM w)", &a, &r)) != 0)
		return (rc);
	rel->qr_released = qpg_u64(r, 0, 0);
	ra->ra_left = qpg_u64(r, 0, 1) - rel->qr_released;
	ids = PQgetisnull(r, 0, 2) ? "" : PQgetvalue(r, 0, 2);
	for (i = 0, p = ids; i < sizeof(rel->qr_jobs) /
	    sizeof(rel->qr_jobs[0]) && (p = strpbrk(p, "0123456789")) != NULL;
	    i++, p = e)
		rel->qr_jobs[i] = strtoull(p, &e, 10);
	PQclear(r);
	return (0);
}

static int
qpg_release_pid(struct queue *q, uint32_t pid, const char *cause,
    uint64_t crash, struct queue_release *rel)
{
	struct qpg_release_arg	 ra;
	struct queue_release	 unused, more;
	size_t			 i, k;
	int			 rc;

	memset(&ra, 0, sizeof(ra));
	ra.ra_pid = pid;
	ra.ra_cause = cause != NULL ? cause : "released";
	ra.ra_crash = crash;
	ra.ra_rel = rel != NULL ? rel : &unused;
	if ((rc = qpg_run(q, __func__, QPG_AUTO, qpg_release_fast, &ra)) != 0 ||
	    ra.ra_left == 0)
		return (rc);
	rel = ra.ra_rel;
	ra.ra_rel = &more;
	if ((rc = qpg_run(q, __func__, 0, qpg_release_txn, &ra)) != 0)
		return (rc);
	k = rel->qr_released;
	for (i = 0; i < more.qr_released + more.qr_dead + more.qr_cancelled &&
	    k < sizeof(rel->qr_jobs) / sizeof(rel->qr_jobs[0]); i++)
		rel->qr_jobs[k++] = more.qr_jobs[i];
	rel->qr_released += more.qr_released;
	rel->qr_dead += more.qr_dead;
	rel->qr_cancelled += more.qr_cancelled;
	return (0);
}

static int
qpg_sweep(struct queue *q, struct queue_release *rel)
{
	struct qpg_release_arg	 ra;
	struct queue_release	 unused;

	memset(&ra, 0, sizeof(ra));
	ra.ra_sweep = 1;
	ra.ra_rel = rel != NULL ? rel : &unused;
	return (qpg_run(q, __func__, 0, qpg_release_txn, &ra));
}

static int
qpg_extend_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_args	 a;

	qa_init(&a);
	qa_bin(t, &a, t->t_pg->p_host);
	qa_u64(&a, *(uint32_t *)arg);
	qa_u64(&a, t->t_now + t->t_q->q_conf.qc_lease_ms);
	return (qpg_q(t, "UPDATE quire_jobs SET deadline = $3 WHERE "
	    "state = 1 AND lease_host = $1 AND lease_pid = $2", &a, NULL));
}

static int
qpg_extend_pid(struct queue *q, uint32_t pid)
{
	return (qpg_run(q, __func__, 0, qpg_extend_txn, &pid));
}

/* Retry and purge. */

struct qpg_batch_arg {
	uint64_t	 ba_id;
	int		 ba_state;
	const char	*ba_tenant;
	uint64_t	 ba_older;
	uint64_t	 ba_keep;
	uint64_t	 ba_n;
	int		 ba_more;
};

/* A dead letter (a fresh start) or a retrying job, ready now. */
#define QPG_REVIVE	"UPDATE quire_jobs SET state = 0, updated = $2, " \
	"enq = $2, runat = 0, attempts = CASE WHEN state = 4 THEN 0 ELSE " \
	"attempts END, crashes = CASE WHEN state = 4 THEN 0 ELSE crashes END "

static int
qpg_retry_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_batch_arg	*ba = arg;
	struct qpg_args		 a;
	struct job		 j;
	int			 rc, found;

	if ((rc = qpg_get_locked(t, ba->ba_id, &j, &found)) != 0)
		return (rc);
	if (!found)
		return (QUEUE_ENOENT);
	if (j.j_state != JOB_DEAD && j.j_state != JOB_RETRY)
		return (QUEUE_ESTATE);
	qa_init(&a);
	qa_u64(&a, j.j_id);
	qa_u64(&a, t->t_now);
	t->t_notify = 1;
	return (qpg_q(t, QPG_REVIVE "WHERE id = $1", &a, NULL));
}

static int
qpg_retry(struct queue *q, uint64_t id)
{
	struct qpg_batch_arg	 ba;

	memset(&ba, 0, sizeof(ba));
	ba.ba_id = id;
	return (qpg_run(q, __func__, 0, qpg_retry_txn, &ba));
}

static int
qpg_retry_dead_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_batch_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ba->ba_tenant);
	qa_u64(&a, t->t_now);
	qa_u64(&a, QPG_BATCH);
	if ((rc = qpg_q(t, QPG_REVIVE "WHERE id IN (SELECT id FROM quire_jobs "
	    "WHERE state = 4 AND ($1::bytea IS NULL OR tenant = $1) "
	    "ORDER BY updated, id LIMIT $3 FOR UPDATE)", &a, &r)) != 0)
		return (rc);
	ba->ba_n = strtoull(PQcmdTuples(r), NULL, 10);
	ba->ba_more = ba->ba_n == QPG_BATCH;
	PQclear(r);
	if (ba->ba_n > 0)
		t->t_notify = 1;
	return (0);
}

static int
qpg_retry_dead_tenant(struct queue *q, const char *tenant, uint64_t *n)
{
	struct qpg_batch_arg	 ba;
	int			 rc;

	*n = 0;
	memset(&ba, 0, sizeof(ba));
	ba.ba_tenant = tenant;
	do {
		if ((rc = qpg_run(q, __func__, 0, qpg_retry_dead_txn, &ba))
		    != 0)
			return (rc);
		*n += ba.ba_n;
	} while (ba.ba_more);
	return (0);
}

static int
qpg_retry_dead(struct queue *q, uint64_t *n)
{
	return (qpg_retry_dead_tenant(q, NULL, n));
}

/*
 * Purge: oldest first, the finished jobs of one kind that a limit
 * selects (beyond the newest keep, or older than older ms), every one
 * with no limit; a dead letter lets its spool file go.
 */
static int
qpg_purge_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_batch_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	char			 path[JOB_PATH_MAX + 1];
	uint64_t		 cut = 0;
	int			 i, rc;

	if (ba->ba_older != 0 && t->t_now >= ba->ba_older)
		cut = t->t_now - ba->ba_older;
	qa_init(&a);
	qa_i64(&a, ba->ba_state == JOB_DEAD ? 1 : 0);
	qa_bin(t, &a, ba->ba_tenant);
	qa_u64(&a, ba->ba_keep);
	qa_u64(&a, ba->ba_older);
	qa_u64(&a, cut);
	qa_u64(&a, QPG_BATCH);
	if ((rc = qpg_q(t, "WITH f AS (SELECT id, updated, row_number() OVER "
	    "(ORDER BY updated DESC, id DESC) AS newer FROM quire_jobs WHERE "
	    "CASE WHEN $1 = 1 THEN state = 4 ELSE state IN (3, 5) END AND "
	    "($2::bytea IS NULL OR tenant = $2)), "
	    "s AS (SELECT id FROM f WHERE ($3::numeric = 0 AND "
	    "$4::numeric = 0) OR ($3::numeric > 0 AND newer > $3::numeric) OR "
	    "($4::numeric > 0 AND updated <= $5) "
	    "ORDER BY updated, id LIMIT $6) "
	    "DELETE FROM quire_jobs WHERE id IN (SELECT id FROM s) "
	    "RETURNING state, srckind, path", &a, &r)) != 0)
		return (rc);
	ba->ba_n = PQntuples(r);
	ba->ba_more = ba->ba_n == QPG_BATCH;
	for (i = 0; i < PQntuples(r) && rc == 0; i++) {
		if (qpg_i64(r, i, 0) != JOB_DEAD)
			continue;
		qpg_text(path, sizeof(path), r, i, 2);
		rc = qpg_spool_ref(t, qpg_i64(r, i, 1), path);
	}
	PQclear(r);
	return (rc);
}

static int
qpg_purge_tenant(struct queue *q, int state, const char *tenant,
    uint64_t older_ms, uint64_t keep, uint64_t *n)
{
	struct qpg_batch_arg	 ba;
	int			 rc;

	*n = 0;
	if ((state != JOB_DONE && state != JOB_DEAD) ||
	    (tenant != NULL && (older_ms != 0 || keep != 0)))
		return (QUEUE_EINVAL);
	memset(&ba, 0, sizeof(ba));
	ba.ba_state = state;
	ba.ba_tenant = tenant;
	ba.ba_older = older_ms;
	ba.ba_keep = keep;
	do {
		if ((rc = qpg_run(q, __func__, 0, qpg_purge_txn, &ba)) != 0)
			return (rc);
		*n += ba.ba_n;
	} while (ba.ba_more);
	return (0);
}

static int
qpg_purge(struct queue *q, int state, uint64_t older_ms, uint64_t keep,
    uint64_t *n)
{
	return (qpg_purge_tenant(q, state, NULL, older_ms, keep, n));
}

/* Reading. */

static int
qpg_stats_txn(struct qpg_tx *t, void *arg)
{
	struct queue_stats	*qs = arg;
	PGresult		*r;
	int			 i, st, rc;

	if ((rc = qpg_q(t, "SELECT state, count(*) FROM quire_jobs "
	    "GROUP BY state", NULL, &r)) != 0)
		return (rc);
	for (i = 0; i < PQntuples(r); i++) {
		st = qpg_i64(r, i, 0);
		if (st >= 0 && st < JOB_NSTATES)
			qs->qs_count[st] = qpg_u64(r, i, 1);
	}
	PQclear(r);
	if ((rc = qpg_q(t, "SELECT "
	    "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value "
	    "END FROM quire_job_id), "
	    "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value "
	    "END FROM quire_lease_gen), "
	    "(SELECT coalesce(sum(size), 0) FROM quire_jobs WHERE state = 1 "
	    "AND big), coalesce(sum(enqueued), 0), "
	    "coalesce(sum(completed), 0), "
	    "coalesce(sum(failed), 0), coalesce(sum(released), 0), "
	    "coalesce(sum(done), 0), coalesce(sum(retried), 0), "
	    "coalesce(sum(cancelled), 0) FROM quire_totals", NULL, &r)) != 0)
		return (rc);
	qs->qs_next_id = qpg_u64(r, 0, 0);
	qs->qs_next_gen = qpg_u64(r, 0, 1);
	qs->qs_big_inflight = qpg_u64(r, 0, 2);
	qs->qs_enqueued = qpg_u64(r, 0, 3);
	qs->qs_completed = qpg_u64(r, 0, 4);
	qs->qs_failed = qpg_u64(r, 0, 5);
	qs->qs_released = qpg_u64(r, 0, 6);
	qs->qs_done = qpg_u64(r, 0, 7);
	qs->qs_retried = qpg_u64(r, 0, 8);
	qs->qs_cancelled = qpg_u64(r, 0, 9);
	PQclear(r);
	return (0);
}

static int
qpg_stats(struct queue *q, struct queue_stats *qs)
{
	memset(qs, 0, sizeof(*qs));
	return (qpg_run(q, __func__, 1, qpg_stats_txn, qs));
}

struct qpg_get_arg {
	uint64_t	 ga_id;
	struct job	*ga_job;
};

static int
qpg_get_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_get_arg	*ga = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc, found;

	qa_init(&a);
	qa_u64(&a, ga->ga_id);
	if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE id = $1",
	    &a, &r)) != 0)
		return (rc);
	if ((found = PQntuples(r) > 0))
		qpg_row_job(r, 0, 0, ga->ga_job);
	PQclear(r);
	return (found ? 0 : QUEUE_ENOENT);
}

static int
qpg_get(struct queue *q, uint64_t id, struct job *j)
{
	struct qpg_get_arg	 ga;

	ga.ga_id = id;
	ga.ga_job = j;
	return (qpg_run(q, __func__, 1, qpg_get_txn, &ga));
}

/*
 * Call cb for each job a query (of QPG_COLS first) finds, through a
 * cursor, QPG_FETCH rows at a time, at most limit of them; *last is the
 * id of the last job cb took (returned 0 for).  cb returns non-zero to
 * stop.
 */
static int
qpg_each(struct qpg_tx *t, const char *sql, const struct qpg_args *a,
    size_t limit, queue_list_cb cb, void *cbarg, uint64_t *last, int *stop)
{
	PGresult	*r;
	struct job	 j;
	char		*decl;
	size_t		 n = 0;
	int		 i, rc, rows, done = 0;

	if (stop != NULL)
		*stop = 0;
	if (asprintf(&decl, "DECLARE qpg_c NO SCROLL CURSOR FOR %s", sql) ==
	    -1)
		fatal("%s: asprintf", __func__);
	rc = qpg_q(t, decl, a, NULL);
	free(decl);
	if (rc != 0)
		return (rc);
	while (!done && n < limit) {
		if ((rc = qpg_q(t, "FETCH " QPG_FETCH " FROM qpg_c", NULL,
		    &r)) != 0)
			return (rc);
		rows = PQntuples(r);
		for (i = 0; i < rows && n < limit; i++) {
			qpg_row_job(r, i, 0, &j);
			n++;
			if (cb(&j, cbarg) != 0) {
				done = 1;
				if (stop != NULL)
					*stop = 1;
				break;
			}
			if (last != NULL)
				*last = j.j_id;
		}
		PQclear(r);
		if (rows < atoi(QPG_FETCH))
			break;
	}
	return (qpg_q(t, "CLOSE qpg_c", NULL, NULL));
}

struct qpg_list_arg {
	int		 la_state;
	size_t		 la_limit;
	queue_list_cb	 la_cb;
	void		*la_cbarg;
};

/*
 * A state's jobs in the order the LMDB backend keeps them: ready by
 * tenant and priority, retrying by time, finished oldest first, leased
 * by id; every job by id.
 */
static int
qpg_list_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_list_arg	*la = arg;
	struct qpg_args		 a;
	const char		*sql;

	switch (la->la_state) {
	case JOB_READY:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY tid, prio DESC, id";
		break;
	case JOB_RETRY:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY runat, id";
		break;
	case JOB_DONE:
	case JOB_CANCELLED:
	case JOB_DEAD:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY updated, id";
		break;
	case JOB_LEASED:
		sql = "SELECT " QPG_COLS " FROM quire_jobs WHERE state = $1 "
		    "ORDER BY id";
		break;
	default:
		return (qpg_each(t, "SELECT " QPG_COLS " FROM quire_jobs "
		    "ORDER BY id", NULL, la->la_limit, la->la_cb,
		    la->la_cbarg, NULL, NULL));
	}
	qa_init(&a);
	qa_i64(&a, la->la_state);
	return (qpg_each(t, sql, &a, la->la_limit, la->la_cb, la->la_cbarg,
	    NULL, NULL));
}

static int
qpg_list(struct queue *q, int state, size_t limit, queue_list_cb cb,
    void *arg)
{
	struct qpg_list_arg	 la;

	la.la_state = state;
	la.la_limit = limit;
	la.la_cb = cb;
	la.la_cbarg = arg;
	return (qpg_run(q, __func__, 1, qpg_list_txn, &la));
}

struct qpg_page_arg {
	struct queue_page	*pa_qp;
	queue_list_cb		 pa_cb;
	void			*pa_cbarg;
};

static int
qpg_page_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_page_arg	*pa = arg;
	struct queue_page	*qp = pa->pa_qp;
	struct qpg_args		 a;
	struct job		 j;
	PGresult		*r;
	uint64_t		 last = 0;
	size_t			 n = 0;
	int			 i, rc, rows;

	qp->qp_next = 0;
	qa_init(&a);
	qa_u64(&a, qp->qp_after);
	qa_i64(&a, qp->qp_state);
	qa_bin(t, &a, qp->qp_tenant);
	if (qp->qp_scan > 0) {
		/* At most qp_scan rows read, and one to know of more. */
		qa_u64(&a, qp->qp_scan + 1);
		rc = qpg_q(t, "SELECT " QPG_COLS ", ($2 < 0 OR state = $2) AND "
		    "($3::bytea IS NULL OR tenant = $3) FROM (SELECT * FROM "
		    "quire_jobs WHERE id > $1 ORDER BY id LIMIT $4) s "
		    "ORDER BY id", &a, &r);
	} else {
		qa_u64(&a, qp->qp_limit + 1);
		rc = qpg_q(t, "SELECT " QPG_COLS ", true FROM quire_jobs WHERE "
		    "id > $1 AND ($2 < 0 OR state = $2) AND "
		    "($3::bytea IS NULL OR tenant = $3) ORDER BY id LIMIT $4",
		    &a, &r);
	}
	if (rc != 0)
		return (rc);
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		qpg_row_job(r, i, 0, &j);
		if (qp->qp_scan > 0 && (size_t)i == qp->qp_scan) {
			qp->qp_next = j.j_id - 1;
			break;
		}
		if (PQgetvalue(r, i, 27)[0] != 't')
			continue;
		if (n == qp->qp_limit) {
			qp->qp_next = last;
			break;
		}
		n++;
		last = j.j_id;
		if (pa->pa_cb(&j, pa->pa_cbarg) != 0)
			break;
	}
	PQclear(r);
	return (0);
}

static int
qpg_page(struct queue *q, struct queue_page *qp, queue_list_cb cb,
    void *arg)
{
	struct qpg_page_arg	 pa;

	if (qp->qp_after == UINT64_MAX || qp->qp_limit == 0 ||
	    qp->qp_after > INT64_MAX)
		return (QUEUE_EINVAL);
	pa.pa_qp = qp;
	pa.pa_cb = cb;
	pa.pa_cbarg = arg;
	return (qpg_run(q, __func__, 1, qpg_page_txn, &pa));
}

struct qpg_spool_arg {
	const char	*sa_name;
	uint64_t	*sa_n;
};

static int
qpg_spool_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_spool_arg	*sa = arg;
	struct qpg_args		 a;

	qa_init(&a);
	qa_bin(t, &a, sa->sa_name);
	return (qpg_q1(t, "SELECT refs FROM quire_spool WHERE name = $1", &a,
	    sa->sa_n, NULL));
}

static int
qpg_spool_refs(struct queue *q, const char *name, uint64_t *n)
{
	struct qpg_spool_arg	 sa;

	*n = 0;
	sa.sa_name = name;
	sa.sa_n = n;
	return (qpg_run(q, __func__, 1, qpg_spool_txn, &sa));
}

struct qpg_body_arg {
	const char	*ba_name;
	uint64_t	 ba_off;
	size_t		 ba_len;
	char		*ba_dst;
	size_t		 ba_got;
	uint64_t	 ba_size;
	int		 ba_found;
};

static int
qpg_body_size_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_body_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ba->ba_name);
	if ((rc = qpg_q(t, "SELECT size FROM quire_spool WHERE name = $1 AND "
	    "size IS NOT NULL", &a, &r)) != 0)
		return (rc);
	if ((ba->ba_found = PQntuples(r) > 0))
		ba->ba_size = qpg_u64(r, 0, 0);
	PQclear(r);
	return (0);
}

/*
 * The size of the uploaded body name, when the database holds it: 0 and
 * *stored set, or clear (no such body, or one only its host's spool
 * holds: see the top), or an error.
 */
int
queue_pg_spool_size(struct queue *q, const char *name, uint64_t *size,
    int *stored)
{
	struct qpg_body_arg	 ba;
	int			 rc;

	*size = 0;
	*stored = 0;
	if (q->q_pg == NULL || !spool_name_ok(name))
		return (0);
	memset(&ba, 0, sizeof(ba));
	ba.ba_name = name;
	if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_body_size_txn, &ba)) != 0)
		return (rc);
	*size = ba.ba_size;
	*stored = ba.ba_found;
	return (0);
}

/* The bytes from ba_off on that the piece holding ba_off has, at most. */
static int
qpg_body_read_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_body_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	size_t			 n;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ba->ba_name);
	qa_u64(&a, ba->ba_off);
	qa_u64(&a, ba->ba_len);
	a.a_binres = 1;
	if ((rc = qpg_q(t, "SELECT substring(data FROM ($2::bigint - pos + 1)"
	    "::integer FOR $3::integer) FROM quire_spool_body WHERE "
	    "name = $1 AND pos <= $2::bigint ORDER BY pos DESC LIMIT 1", &a,
	    &r)) != 0)
		return (rc);
	ba->ba_got = 0;
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		n = PQgetlength(r, 0, 0);
		if (n > ba->ba_len)
			n = ba->ba_len;
		memcpy(ba->ba_dst, PQgetvalue(r, 0, 0), n);
		ba->ba_got = n;
	}
	PQclear(r);
	return (0);
}

/*
 * Bytes [off, off + len) of the uploaded body name into dst, from the
 * database, a piece (at most QPG_SPOOL_CHUNK bytes) a statement: 0, or
 * QUEUE_ENOENT when the database does not hold them all (no such body,
 * or a shorter one), or an error (the server's: a storage fault to its
 * reader, not the document's).
 */
int
queue_pg_spool_read(struct queue *q, const char *name, uint64_t off,
    size_t len, void *dst)
{
	struct qpg_body_arg	 ba;
	size_t			 done = 0;
	int			 rc;

	if (q->q_pg == NULL || !spool_name_ok(name))
		return (QUEUE_ENOENT);
	memset(&ba, 0, sizeof(ba));
	ba.ba_name = name;
	while (done < len) {
		ba.ba_off = off + done;
		ba.ba_len = len - done > QPG_SPOOL_CHUNK ? QPG_SPOOL_CHUNK :
		    len - done;
		ba.ba_dst = (char *)dst + done;
		if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_body_read_txn,
		    &ba)) != 0)
			return (rc);
		if (ba.ba_got == 0)
			return (QUEUE_ENOENT);
		done += ba.ba_got;
	}
	return (0);
}

struct qpg_tenants_arg {
	queue_tenant_cb	 ta_cb;
	void		*ta_arg;
};

static int
qpg_tenants_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_tenants_arg	*ta = arg;
	PGresult		*r;
	uint64_t		 c[JOB_NSTATES];
	char			 name[JOB_TENANT_MAX + 1];
	int			 i, rows, st, rc;

	if ((rc = qpg_q(t, "SELECT t.tid, t.name, j.state, count(j.id) FROM "
	    "quire_tenants t LEFT JOIN quire_jobs j ON j.tid = t.tid "
	    "GROUP BY t.tid, t.name, j.state ORDER BY t.tid", NULL, &r)) != 0)
		return (rc);
	rows = PQntuples(r);
	for (i = 0; i < rows; i++) {
		if (i == 0 || strcmp(PQgetvalue(r, i, 0),
		    PQgetvalue(r, i - 1, 0)) != 0) {
			memset(c, 0, sizeof(c));
			qpg_text(name, sizeof(name), r, i, 1);
		}
		st = PQgetisnull(r, i, 2) ? -1 : qpg_i64(r, i, 2);
		if (st >= 0 && st < JOB_NSTATES)
			c[st] = qpg_u64(r, i, 3);
		if ((i + 1 == rows || strcmp(PQgetvalue(r, i, 0),
		    PQgetvalue(r, i + 1, 0)) != 0) &&
		    ta->ta_cb(name, c, ta->ta_arg) != 0)
			break;
	}
	PQclear(r);
	return (0);
}

static int
qpg_tenants(struct queue *q, queue_tenant_cb cb, void *arg)
{
	struct qpg_tenants_arg	 ta;

	ta.ta_cb = cb;
	ta.ta_arg = arg;
	return (qpg_run(q, __func__, 1, qpg_tenants_txn, &ta));
}

struct qpg_watch_arg {
	const uint64_t	*wa_ids;
	size_t		 wa_nids;
	uint64_t	*wa_after;
	size_t		 wa_newmax;
	queue_list_cb	 wa_cb;
	void		*wa_cbarg;
};

static int
qpg_watch_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_watch_arg	*wa = arg;
	struct qpg_args		 a;
	struct job		 j;
	PGresult		*r;
	size_t			 i;
	int			 rc, stop;

	for (i = 0; i < wa->wa_nids; i++) {
		qa_init(&a);
		qa_u64(&a, wa->wa_ids[i]);
		if ((rc = qpg_q(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
		    "id = $1", &a, &r)) != 0)
			return (rc);
		stop = 0;
		if (PQntuples(r) > 0) {
			qpg_row_job(r, 0, 0, &j);
			stop = wa->wa_cb(&j, wa->wa_cbarg) != 0;
		}
		PQclear(r);
		if (stop)
			return (0);
	}
	if (wa->wa_newmax == 0)
		return (0);
	if ((rc = qpg_each(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
	    "state = 1 ORDER BY id", NULL, wa->wa_newmax, wa->wa_cb,
	    wa->wa_cbarg, NULL, &stop)) != 0 || stop)
		return (rc);
	qa_init(&a);
	qa_u64(&a, *wa->wa_after);
	return (qpg_each(t, "SELECT " QPG_COLS " FROM quire_jobs WHERE "
	    "id > $1 ORDER BY id", &a, wa->wa_newmax, wa->wa_cb, wa->wa_cbarg,
	    wa->wa_after, NULL));
}

static int
qpg_watch(struct queue *q, const uint64_t *ids, size_t nids, uint64_t *after,
    size_t newmax, queue_list_cb cb, void *arg)
{
	struct qpg_watch_arg	 wa;

	if (*after > INT64_MAX)
		return (QUEUE_EINVAL);
	wa.wa_ids = ids;
	wa.wa_nids = nids;
	wa.wa_after = after;
	wa.wa_newmax = newmax;
	wa.wa_cb = cb;
	wa.wa_cbarg = arg;
	return (qpg_run(q, __func__, 1, qpg_watch_txn, &wa));
}

/* Hosts. */

#define QPG_SRV_MS \
	"(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
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

/* Documents' homes. */

/* The next ack's documents: see queue_docs. */
static int
qpg_docs(struct queue *q, const struct queue_doc *docs, size_t n)
{
	if (q->q_pg == NULL)
		return (QUEUE_ERROR);
	q->q_pg->p_docs = docs;
	q->q_pg->p_ndocs = n;
	return (0);
}

struct qpg_home_arg {
	char		*ha_tenant;
	size_t		 ha_tlen;
	const char	*ha_extid;
	char		*ha_home;
	size_t		 ha_len;
	int		 ha_found;
};

static int
qpg_home_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_home_arg	*ha = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ha->ha_tenant[0] != '\0' ? ha->ha_tenant : NULL);
	qa_bin(t, &a, ha->ha_extid);
	if ((rc = qpg_q(t, "SELECT home, tenant FROM quire_docs WHERE "
	    "($1::bytea IS NULL OR tenant = $1) AND extid = $2 "
	    "ORDER BY tenant LIMIT 1", &a, &r)) != 0)
		return (rc);
	ha->ha_found = PQntuples(r) > 0;
	if (ha->ha_found) {
		qpg_text(ha->ha_home, ha->ha_len, r, 0, 0);
		qpg_text(ha->ha_tenant, ha->ha_tlen, r, 0, 1);
	}
	PQclear(r);
	return (0);
}

/*
 * A document's home host into home: 0, QUEUE_ENOENT when it has none
 * (never indexed and acked on any host), or an error.  The tenant is
 * the document's, or "" for any (then the first, by name, that has the
 * id; the tenant found is written back).
 */
int
queue_pg_doc_home(struct queue *q, char *tenant, size_t tlen,
    const char *extid, char *home, size_t len)
{
	struct qpg_home_arg	 ha;
	int			 rc;

	if (q->q_pg == NULL)
		return (QUEUE_ENOENT);
	memset(&ha, 0, sizeof(ha));
	ha.ha_tenant = tenant;
	ha.ha_tlen = tlen;
	ha.ha_extid = extid;
	ha.ha_home = home;
	ha.ha_len = len;
	/* Once per record a worker reads: one round trip. */
	if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_home_txn, &ha)) != 0)
		return (rc);
	return (ha.ha_found ? 0 : QUEUE_ENOENT);
}

struct qpg_foreign_arg {
	const struct queue_doc *fa_docs;
	size_t		 fa_n;
	uint8_t		*fa_out;
	char		(*fa_homes)[QUEUE_HOST_MAX + 1];
};

static int
qpg_foreign_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_foreign_arg	*fa = arg;
	PGresult		*r;
	uint64_t		 n;
	int			 k, rc;

	if ((rc = qpg_docs_q(t, "SELECT u.n, d.home FROM unnest($1::bytea[], "
	    "$2::bytea[]) "
	    "WITH ORDINALITY AS u(tenant, extid, n) JOIN quire_docs d ON "
	    "d.tenant = u.tenant AND d.extid = u.extid WHERE d.home <> $3",
	    fa->fa_docs, fa->fa_n, t->t_pg->p_host, fa->fa_out, &r)) != 0)
		return (rc);
	for (k = 0; k < PQntuples(r); k++) {
		if ((n = qpg_u64(r, k, 0)) < 1 || n > fa->fa_n)
			continue;
		fa->fa_out[n - 1] = 1;
		if (fa->fa_homes != NULL)
			qpg_text(fa->fa_homes[n - 1], sizeof(fa->fa_homes[0]),
			    r, k, 1);
	}
	PQclear(r);
	return (0);
}

/*
 * Which of docs[0..n) (tenant and external id) have their home on
 * another host: foreign[i] set for those, and, unless homes is NULL,
 * homes[i] that host.  One statement.
 */
int
queue_pg_foreign(struct queue *q, const struct queue_doc *docs, size_t n,
    uint8_t *foreign, char (*homes)[QUEUE_HOST_MAX + 1])
{
	struct qpg_foreign_arg	 fa;

	if (q->q_pg == NULL) {
		memset(foreign, 0, n);
		return (0);
	}
	fa.fa_docs = docs;
	fa.fa_n = n;
	fa.fa_out = foreign;
	fa.fa_homes = homes;
	return (qpg_run(q, __func__, QPG_ONE, qpg_foreign_txn, &fa));
}

/* Draining. */

/* A bytea's text (\x and hex) into out, whole. */
static void
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
	/* Against the pins of enqueues (FOR KEY SHARE): see the top. */
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
