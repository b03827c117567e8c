/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * queue-bench: what the durable job queue costs on this machine, printed
 * as one JSON line on stdout.  Every phase runs on an empty queue of its
 * own, in a directory of its own under one temporary directory (-d,
 * else $TMPDIR, else /tmp), with the queue's default configuration,
 * through the backend-neutral interface of src/queue.c.  The backend is
 * -B lmdb (the default: sync "full", an fsync at every commit, never
 * MDB_NOSYNC or MDB_WRITEMAP) or -B postgresql, on the server that -Q
 * (else $PGDSN) names, with its own settings (fsync and
 * synchronous_commit, reported as "sync").  -s group or -s none runs
 * LMDB, the raw baseline too, with that sync instead (quired.conf(5)'s
 * sync): the pages a commit writes stay the same, and a run that counts
 * them takes seconds rather than minutes.  With postgresql each phase's
 * queue is a schema of its own, -S PREFIX_PHASE (default qbench_PID),
 * made the search_path of its connections through PGOPTIONS and dropped
 * with its tables at the phase's end (contrib/bench/benchpg.c); the
 * connection string must not set options, and its role needs CREATE on
 * the database.  Everything is removed at the end.
 *
 *	raw_commit_per_s	The baseline, measured first, for -t seconds
 *		(default 5): one small write a transaction, committed, by
 *		one process.  LMDB: a fresh environment on the same file
 *		system, default flags plus MDB_NOTLS, one put of a new
 *		8-byte key (in increasing order) and a 16-byte value.
 *		PostgreSQL: one connection, one INSERT of a new bigint key
 *		(the primary key) and a 16-byte bytea a statement, in
 *		autocommit.  No queue can commit faster than this.
 *
 *	enqueue_1m_s		Seconds for queue_enqueue() to take -e jobs
 *		(default 1,000,000) in calls of enqueue_batch jobs (-b), one
 *		transaction each.  Every job has a distinct 32-character
 *		hex idempotency key from arc4random, so keys arrive in
 *		random order, and a path whose length makes its record
 *		record_bytes long (about 200).  The jobs are built before
 *		the clock starts.  With -e other than 1,000,000 the time is
 *		scaled linearly to a million; enqueue_s is the time measured.
 *		The default batch, 100,000, was the fastest of 20,000 to
 *		500,000 for LMDB on a 2-core VM: each transaction rewrites
 *		most leaf pages of the random-keyed "keys" database, so
 *		small batches write it many times over, while very large
 *		ones slow down in LMDB's dirty page list.
 *
 *	file_bytes_per_job	LMDB: the size of DATADIR/queue/data.mdb
 *		after the enqueue, divided by the jobs; used_bytes_per_job
 *		counts only the pages in use (last page number + 1 minus
 *		the pages on LMDB's free list, times the page size).
 *		PostgreSQL: the tables of the phase's schema with their
 *		indexes and TOAST (pg_total_relation_size), divided by the
 *		jobs; used_bytes_per_job null.
 *
 *	claim_ack_k1_per_s, claim_ack_k16_per_s	A queue is filled with -n
 *		no-op jobs (default 200,000) and closed.  Two worker
 *		processes are forked; each opens the queue itself, as
 *		quired's workers do (store_overlap: with sync full, a
 *		commit's meta page is synced after the write lock is
 *		released, so the other worker's commit overlaps it), then
 *		loops on queue_ack_claim(), acking the leases of its
 *		previous round and claiming up to K jobs in one
 *		transaction, until a claim comes back empty.  The clock
 *		runs from the moment both workers are ready until both have
 *		exited; the rate is jobs over that time.  Afterwards the
 *		queue must show every job completed and none ready or
 *		leased, or the benchmark fails.  The no-op jobs have no
 *		idempotency key, like files submitted without one; with -k
 *		each has one (claim_keyed), and the trimming of done jobs
 *		past retain_done then also deletes keys at random places.
 *
 *	claim_ack_k1_pages_per_commit, claim_ack_k16_pages_per_commit
 *		LMDB: what one claim+ack commit writes, in pages: the bytes
 *		the workers wrote (wchar in /proc/self/io: LMDB's page
 *		writes and its meta page update) over their commits,
 *		divided by the page size.  Fsync costs grow with it, and
 *		unlike the rates it does not depend on how busy the
 *		machine is.  null where /proc/self/io cannot be read, and
 *		for PostgreSQL, whose workers write to a socket.
 *
 *	claim_ack_k1_wal_bytes_per_commit, claim_ack_k16_wal_bytes_per_commit
 *		PostgreSQL: the same for the server, the WAL it wrote
 *		(pg_current_wal_lsn() before and after the phase) over the
 *		workers' commits; it counts every client of the server, so
 *		it holds only on a server of its own.  null for LMDB.
 *
 *	claim_w2_p50_ms, claim_w2_p99_ms, claim_w8_p50_ms, claim_w8_p99_ms
 *		Claim latency under load: a queue is filled with -l no-op
 *		jobs (default 20,000; 0 leaves these phases out, as nulls),
 *		and 2, then 8 worker processes loop, as fast as they can,
 *		on queue_claim() of one job, timed alone (CLOCK_MONOTONIC
 *		around the call), then queue_ack() of it, until a claim
 *		comes back empty.  Each claim that got a job is one sample;
 *		percentiles are nearest-rank over all workers' samples,
 *		claim_wN_max_ms the longest.  With more workers than
 *		processors a claim also waits for a processor, as it would
 *		in a fleet that size.  claim_w2_per_s and claim_w8_per_s
 *		are the jobs over the phase's time (two commits a job).
 *		The queue must end as for claim_ack.
 *
 * The line also names the backend, its sync, pg_version (the server's,
 * null for LMDB), the claim+ack workers and nproc.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "quire.h"
#include "benchpg.h"

#define BENCH_WORKERS		2	/* for claim+ack */
#define BENCH_WORKERS_MAX	8
#define BENCH_KEYLEN		32
#define BENCH_RECORD		200	/* wanted job record size */
#define BENCH_BATCH_DEFAULT	100000
#define BENCH_LATENCY_DEFAULT	20000
#define BENCH_RAW_MAPSIZE	(4ULL << 30)	/* address space, not disk */
#define BENCH_HOST		"queue-bench"

/* What a worker reports when it is done. */
struct bench_report {
	uint64_t	 br_commits;
	uint64_t	 br_bytes;	/* written; UINT64_MAX: unknown */
	uint64_t	 br_samples;	/* claim times it left */
};

struct bench_jobs {
	struct queue_new	*bj_new;
	char			*bj_strs;	/* keys and paths */
	size_t			 bj_n;
};

/* One claim phase: what it is, then what it measured. */
struct bench_phase {
	const char	*bp_name;
	size_t		 bp_jobs;
	size_t		 bp_k;		/* jobs a claim */
	int		 bp_workers;
	int		 bp_timed;	/* claim then ack, claims timed */
	double		 bp_rate;	/* jobs/s */
	double		 bp_pages;	/* a commit; -1 unknown */
	double		 bp_wal;	/* bytes a commit; -1 unknown */
	double		 bp_p50;	/* ms, when timed */
	double		 bp_p99;
	double		 bp_max;
};

static char	 bench_top[PATH_MAX];	/* removed on exit */
static int	 bench_keyed;		/* -k: keys on no-op jobs too */
static int	 bench_backend = QUEUE_BACKEND_LMDB;
static int	 bench_sync = STORE_SYNC_FULL;
static char	 bench_dsn[1024];
static char	 bench_prefix[BENCHPG_SCHEMA_MAX + 1];
static char	 bench_schema[BENCHPG_SCHEMA_MAX + 1];	/* dropped on exit */
static char	 bench_where[512];

static void	 usage(void) __dead;
static void	 bench_fail(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-k] [-B lmdb | postgresql] [-b batch] "
	    "[-d dir] [-e jobs] [-l jobs] [-n jobs] [-Q dsn] [-S prefix] "
	    "[-s sync] [-t seconds]\n", getprogname());
	exit(1);
}

static double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
bench_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return (rmdir(path));
	return (unlink(path));
}

static void
bench_rmtree(const char *path)
{
	if (nftw(path, bench_rm, 16, FTW_DEPTH | FTW_PHYS) == -1 &&
	    errno != ENOENT)
		fprintf(stderr, "%s: remove %s: %s\n", getprogname(), path,
		    strerror(errno));
}

static void
bench_cleanup(void)
{
	if (bench_schema[0] != '\0')
		benchpg_drop(bench_dsn, bench_schema);
	bench_schema[0] = '\0';
	if (bench_top[0] != '\0')
		bench_rmtree(bench_top);
	bench_top[0] = '\0';
}

static void
bench_fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", getprogname());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	bench_cleanup();
	exit(1);
}

static void
bench_path(char *buf, size_t len, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s", bench_top, name);
	if (n < 0 || (size_t)n >= len)
		bench_fail("%s: path too long", name);
}

/*
 * A phase's empty queue: its directory, and on PostgreSQL its schema,
 * PREFIX_NAME, with the quire schema in it.
 */
static void
bench_phase_begin(const char *name, char *dir, size_t len)
{
	char	 err[512];
	int	 n;

	bench_path(dir, len, name);
	if (mkdir(dir, 0700) == -1)
		bench_fail("mkdir %s: %s", dir, strerror(errno));
	if (bench_backend != QUEUE_BACKEND_PG)
		return;
	n = snprintf(bench_schema, sizeof(bench_schema), "%s_%s",
	    bench_prefix, name);
	if (n < 0 || (size_t)n >= sizeof(bench_schema))
		bench_fail("%s_%s: schema name too long", bench_prefix, name);
	if (benchpg_schema(bench_dsn, bench_schema, bench_where,
	    sizeof(bench_where), err, sizeof(err)) == -1) {
		bench_schema[0] = '\0';
		bench_fail("%s", err);
	}
}

static void
bench_phase_end(const char *dir)
{
	if (bench_schema[0] != '\0')
		benchpg_drop(bench_dsn, bench_schema);
	bench_schema[0] = '\0';
	bench_rmtree(dir);
}

static int
bench_open(struct queue *q, const char *dir)
{
	struct queue_conf	 qc;

	queue_conf_defaults(&qc);
	qc.qc_backend = bench_backend;
	qc.qc_sync = bench_sync;
	strlcpy(qc.qc_dsn, bench_dsn, sizeof(qc.qc_dsn));
	strlcpy(qc.qc_host, BENCH_HOST, sizeof(qc.qc_host));
	return (queue_open(q, dir, &qc));
}

/* A number from the phase's schema on PostgreSQL; -1 when unknown. */
static double
bench_pg_number(const char *sql)
{
	char	 buf[64], *end;
	double	 v;

	if (benchpg_scalar(bench_dsn, sql, buf, sizeof(buf)) == -1 ||
	    buf[0] == '\0')
		return (-1);
	v = strtod(buf, &end);
	return (*end == '\0' && v >= 0 ? v : -1);
}

static void
bench_hex(char *dst, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	uint8_t			 b[64];
	size_t			 i;

	arc4random_buf(b, (n + 1) / 2);
	for (i = 0; i < n; i++)
		dst[i] = digits[i % 2 == 0 ? b[i / 2] >> 4 : b[i / 2] & 0xf];
	dst[n] = '\0';
}

/* The size of the record the queue stores for a job enqueued as qn. */
static size_t
bench_record_size(const struct queue_new *qn, uint64_t id)
{
	msgpack_sbuffer	 sb;
	struct job	 j;
	size_t		 len;

	memset(&j, 0, sizeof(j));
	j.j_id = id;
	strlcpy(j.j_key, qn->qn_key, sizeof(j.j_key));
	strlcpy(j.j_tenant, "default", sizeof(j.j_tenant));
	j.j_tenant_id = 1;
	j.j_size = qn->qn_size;
	j.j_srckind = qn->qn_srckind;
	strlcpy(j.j_path, qn->qn_path, sizeof(j.j_path));
	j.j_created = j.j_updated = util_now_ms();
	msgpack_sbuffer_init(&sb);
	if (codec_job_encode(&j, &sb) == -1)
		bench_fail("cannot encode a job record");
	len = sb.size;
	msgpack_sbuffer_destroy(&sb);
	return (len);
}

/*
 * n jobs to enqueue.  Documents have random keys and paths like an
 * archive's, "/srv/docs/<hex>.pdf", with as many hex digits as make the
 * record BENCH_RECORD bytes.  No-op jobs are debug commands, with a key
 * only when keyed is set.
 */
static void
bench_jobs_make(struct bench_jobs *bj, size_t n, int noop, int keyed)
{
	struct queue_new	 qn;
	char			 key[BENCH_KEYLEN + 1], path[256], hex[128];
	char			*s;
	size_t			 i, plen, hexlen = 4, rec, stride;

	memset(&qn, 0, sizeof(qn));
	bench_hex(key, BENCH_KEYLEN);
	qn.qn_key = key;
	qn.qn_size = 64 * 1024;
	qn.qn_srckind = SRC_PATH;
	qn.qn_path = path;
	for (; !noop && hexlen < sizeof(hex) - 1; hexlen++) {
		bench_hex(hex, hexlen);
		snprintf(path, sizeof(path), "/srv/docs/%s.pdf", hex);
		rec = bench_record_size(&qn, n);
		if (rec >= BENCH_RECORD)
			break;
	}
	plen = noop ? strlen("noop") : strlen(path);
	stride = BENCH_KEYLEN + 1 + plen + 1;

	bj->bj_n = n;
	bj->bj_new = xcalloc(n, sizeof(*bj->bj_new));
	bj->bj_strs = xcalloc(n, stride);
	for (i = 0; i < n; i++) {
		s = bj->bj_strs + i * stride;
		if (keyed) {
			bench_hex(s, BENCH_KEYLEN);
			bj->bj_new[i].qn_key = s;
		}
		s += BENCH_KEYLEN + 1;
		if (noop) {
			memcpy(s, "noop", 5);
			bj->bj_new[i].qn_srckind = SRC_DEBUG;
		} else {
			bench_hex(hex, hexlen);
			snprintf(s, plen + 1, "/srv/docs/%s.pdf", hex);
			bj->bj_new[i].qn_srckind = SRC_PATH;
			bj->bj_new[i].qn_size = qn.qn_size;
		}
		bj->bj_new[i].qn_path = s;
	}
}

static void
bench_jobs_free(struct bench_jobs *bj)
{
	free(bj->bj_new);
	free(bj->bj_strs);
	memset(bj, 0, sizeof(*bj));
}

/* Enqueue every job, batch per call; the seconds it took. */
static double
bench_enqueue(struct queue *q, struct bench_jobs *bj, size_t batch)
{
	double	 t0;
	size_t	 i, n;
	int	 rc;

	t0 = bench_now();
	for (i = 0; i < bj->bj_n; i += n) {
		n = bj->bj_n - i < batch ? bj->bj_n - i : batch;
		if ((rc = queue_enqueue(q, bj->bj_new + i, n)) != QUEUE_OK)
			bench_fail("enqueue: %s", queue_strerror(rc));
	}
	return (bench_now() - t0);
}

static double
bench_raw_lmdb(const char *dir, double secs)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 kb[8], vb[16];
	uint64_t	 n = 0;
	double		 t0, el;
	unsigned int	 flags = MDB_NOTLS;
	int		 rc;

	if (bench_sync == STORE_SYNC_GROUP)
		flags |= MDB_NOMETASYNC;
	else if (bench_sync == STORE_SYNC_NONE)
		flags |= MDB_NOSYNC;
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, BENCH_RAW_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(env, dir, flags, 0600)) != 0)
		bench_fail("raw: open %s: %s", dir, mdb_strerror(rc));
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0)
		bench_fail("raw: %s", mdb_strerror(rc));
	arc4random_buf(vb, sizeof(vb));
	t0 = bench_now();
	do {
		util_put_be64(kb, n);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		v.mv_size = sizeof(vb);
		v.mv_data = vb;
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
		    (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0 ||
		    (rc = mdb_txn_commit(txn)) != 0)
			bench_fail("raw: %s", mdb_strerror(rc));
		n++;
	} while ((el = bench_now() - t0) < secs);
	mdb_env_close(env);
	return (n / el);
}

/* The baseline: one small write a commit, one process. */
static double
bench_raw(double secs)
{
	char	 dir[PATH_MAX];
	double	 rate;

	bench_phase_begin("raw", dir, sizeof(dir));
	if (bench_backend == QUEUE_BACKEND_PG) {
		if ((rate = benchpg_raw(bench_dsn, secs)) < 0)
			bench_fail("raw: the inserts failed");
	} else
		rate = bench_raw_lmdb(dir, secs);
	bench_phase_end(dir);
	return (rate);
}

/* Pages in use in the queue's file: all pages minus the free ones. */
static uint64_t
bench_used_bytes(struct store *s)
{
	MDB_env		*env = s->s_env;
	MDB_envinfo	 info;
	MDB_stat	 st;
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint64_t	 nfree = 0;
	int		 rc;

	if ((rc = mdb_env_info(env, &info)) != 0 ||
	    (rc = mdb_env_stat(env, &st)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) != 0)
		bench_fail("env info: %s", mdb_strerror(rc));
	/* Database 0 is the free list: each value is a count, then pages. */
	if ((rc = mdb_cursor_open(txn, 0, &c)) != 0)
		bench_fail("free list: %s", mdb_strerror(rc));
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		nfree += *(size_t *)v.mv_data;
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		bench_fail("free list: %s", mdb_strerror(rc));
	return ((info.me_last_pgno + 1 - nfree) * st.ms_psize);
}

/*
 * The enqueue phase: its time, the record of its last job, and the
 * bytes a job takes (*used_per_job -1 when unknown).
 */
static void
bench_enqueue_phase(size_t njobs, size_t batch, double *secs,
    size_t *record, double *file_per_job, double *used_per_job)
{
	struct bench_jobs	 bj;
	struct queue		 q;
	struct job		 j;
	struct stat		 st;
	msgpack_sbuffer		 sb;
	char			 dir[PATH_MAX], file[PATH_MAX + 32];
	double			 bytes;

	bench_phase_begin("enqueue", dir, sizeof(dir));
	bench_jobs_make(&bj, njobs, 0, 1);
	if (bench_open(&q, dir) == -1)
		bench_fail("cannot open the queue in %s", dir);
	*secs = bench_enqueue(&q, &bj, batch);

	/* The record as stored, for the last job. */
	if (queue_get(&q, bj.bj_new[njobs - 1].qn_id, &j) != QUEUE_OK)
		bench_fail("the last job enqueued is missing");
	msgpack_sbuffer_init(&sb);
	if (codec_job_encode(&j, &sb) == -1)
		bench_fail("cannot encode a job record");
	*record = sb.size;
	msgpack_sbuffer_destroy(&sb);

	if (bench_backend == QUEUE_BACKEND_PG) {
		queue_close(&q);
		bytes = bench_pg_number("SELECT sum(pg_total_relation_size("
		    "c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = "
		    "c.relnamespace WHERE n.nspname = current_schema() AND "
		    "c.relkind = 'r'");
		if (bytes < 0)
			bench_fail("cannot read the size of the queue's tables");
		*file_per_job = bytes / njobs;
		*used_per_job = -1;
	} else {
		*used_per_job = (double)bench_used_bytes(queue_store(&q)) /
		    njobs;
		queue_close(&q);
		snprintf(file, sizeof(file), "%s/queue/data.mdb", dir);
		if (stat(file, &st) == -1)
			bench_fail("stat %s: %s", file, strerror(errno));
		*file_per_job = (double)st.st_size / njobs;
	}
	bench_jobs_free(&bj);
	bench_phase_end(dir);
}

/* The bytes this process has written, or UINT64_MAX when unknown. */
static uint64_t
bench_written(void)
{
	FILE			*f;
	char			 line[128];
	unsigned long long	 n;
	uint64_t		 w = UINT64_MAX;

	if ((f = fopen("/proc/self/io", "r")) == NULL)
		return (UINT64_MAX);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "wchar: %llu", &n) == 1)
			w = n;
	fclose(f);
	return (w);
}

/*
 * A worker of phase bp.  Claim+ack: ack the last round and claim the
 * next in one call until none is left.  Timed: claim one job, the call
 * timed, then ack it, until none is left; the times (ms) go to samples,
 * which has room for every job.
 */
static void __dead
bench_worker(const struct bench_phase *bp, const char *dir, int slot,
    int ready, int go, int report, double *samples)
{
	struct queue		 q;
	struct queue_owner	 owner;
	struct queue_lease	*acks;
	struct job		*jobs;
	struct bench_report	 br;
	uint64_t		 w0, w1;
	size_t			 k = bp->bp_k, nacks = 0, n, i;
	double			 t0;
	int			*results, rc;
	char			 c = 'r';

	acks = xcalloc(k, sizeof(*acks));
	results = xcalloc(k, sizeof(*results));
	jobs = xcalloc(k, sizeof(*jobs));
	owner.qo_slot = slot;
	owner.qo_pid = getpid();
	if (bench_open(&q, dir) == -1)
		_exit(1);
	/* As quired's workers do: meta pages synced after the lock. */
	if (queue_store(&q) != NULL && store_overlap(queue_store(&q)) == -1)
		_exit(1);
	/* Closed once written, so a worker that died shows as end of file. */
	if (write(ready, &c, 1) != 1 || close(ready) == -1 ||
	    read(go, &c, 1) != 0)
		_exit(1);
	memset(&br, 0, sizeof(br));
	w0 = bench_written();
	for (;;) {
		if (bp->bp_timed) {
			t0 = bench_now();
			rc = queue_claim(&q, &owner, jobs, k, &n);
			if (rc == QUEUE_OK && n > 0)
				samples[br.br_samples++] =
				    (bench_now() - t0) * 1e3;
		} else
			rc = queue_ack_claim(&q, acks, nacks, results, &owner,
			    jobs, k, &n);
		br.br_commits++;
		if (rc != QUEUE_OK) {
			fprintf(stderr, "worker %d: %s\n", slot,
			    queue_strerror(rc));
			_exit(1);
		}
		if (bp->bp_timed && n > 0) {
			for (i = 0; i < n; i++) {
				acks[i].ql_id = jobs[i].j_id;
				acks[i].ql_gen = jobs[i].j_lease_gen;
			}
			nacks = n;
			rc = queue_ack(&q, acks, nacks, results);
			br.br_commits++;
			if (rc != QUEUE_OK) {
				fprintf(stderr, "worker %d: ack: %s\n", slot,
				    queue_strerror(rc));
				_exit(1);
			}
		}
		for (i = 0; i < nacks; i++) {
			if (results[i] != QUEUE_OK) {
				fprintf(stderr, "worker %d: ack: %s\n", slot,
				    queue_strerror(results[i]));
				_exit(1);
			}
		}
		nacks = 0;
		if (n == 0)
			break;
		if (bp->bp_timed)
			continue;
		for (i = 0; i < n; i++) {
			acks[i].ql_id = jobs[i].j_id;
			acks[i].ql_gen = jobs[i].j_lease_gen;
		}
		nacks = n;
	}
	w1 = bench_written();
	br.br_bytes = w0 == UINT64_MAX || w1 == UINT64_MAX ? UINT64_MAX :
	    w1 - w0;
	queue_close(&q);
	if (write(report, &br, sizeof(br)) != sizeof(br))
		_exit(1);
	_exit(0);
}

/* The WAL the server has written, in bytes; -1 when unknown or LMDB. */
static double
bench_wal(void)
{
	if (bench_backend != QUEUE_BACKEND_PG)
		return (-1);
	return (bench_pg_number("SELECT pg_wal_lsn_diff("
	    "pg_current_wal_lsn(), '0/0')"));
}

static int
bench_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* Nearest rank: the smallest sample with at least p percent at or below. */
static double
bench_pct(const double *v, size_t n, int p)
{
	size_t	 r;

	r = (n * p + 99) / 100;
	return (v[r > 0 ? r - 1 : 0]);
}

/* Fork the phase's workers, start them at once and wait for them all. */
static double
bench_run_workers(struct bench_phase *bp, const char *dir, double *samples,
    struct bench_report *reports)
{
	pid_t		 pid[BENCH_WORKERS_MAX];
	double		 t0, el;
	int		 ready[2], go[2], report[2], i, status, failed = 0;
	char		 c;

	if (pipe(ready) == -1 || pipe(go) == -1 || pipe(report) == -1)
		bench_fail("pipe: %s", strerror(errno));
	fflush(NULL);
	for (i = 0; i < bp->bp_workers; i++) {
		if ((pid[i] = fork()) == -1)
			bench_fail("fork: %s", strerror(errno));
		if (pid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			close(report[0]);
			bench_worker(bp, dir, i, ready[1], go[0], report[1],
			    bp->bp_timed ? samples +
			    (size_t)i * bp->bp_jobs : NULL);
		}
	}
	close(ready[1]);
	close(go[0]);
	close(report[1]);
	for (i = 0; i < bp->bp_workers; i++) {
		if (read(ready[0], &c, 1) != 1) {
			/* Let none start on a directory about to go. */
			for (i = 0; i < bp->bp_workers; i++)
				kill(pid[i], SIGKILL);
			while (wait(NULL) != -1 || errno == EINTR)
				continue;
			bench_fail("%s: a worker failed to start", bp->bp_name);
		}
	}
	/* Closing the pipe starts every worker at once. */
	t0 = bench_now();
	close(go[1]);
	for (i = 0; i < bp->bp_workers; i++) {
		if (waitpid(pid[i], &status, 0) == -1)
			bench_fail("waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	el = bench_now() - t0;
	close(ready[0]);
	if (failed)
		bench_fail("%s: a worker failed", bp->bp_name);
	/* Each report is one write of less than PIPE_BUF: never torn. */
	for (i = 0; i < bp->bp_workers; i++)
		if (read(report[0], &reports[i], sizeof(reports[i])) !=
		    sizeof(reports[i]))
			bench_fail("%s: a worker did not report", bp->bp_name);
	close(report[0]);
	return (el);
}

/* A claim phase on a queue of its own, as the comment at the top says. */
static void
bench_claim_phase(struct bench_phase *bp, size_t batch)
{
	struct bench_jobs	 bj;
	struct queue		 q;
	struct queue_stats	 qs;
	struct bench_report	 reports[BENCH_WORKERS_MAX];
	char			 dir[PATH_MAX];
	double			*samples, *all, el, wal0, wal1;
	size_t			 room, nall = 0, i;
	uint64_t		 commits = 0, bytes = 0;
	int			 w, unknown = 0;

	bench_phase_begin(bp->bp_name, dir, sizeof(dir));
	bench_jobs_make(&bj, bp->bp_jobs, 1, bench_keyed);
	if (bench_open(&q, dir) == -1)
		bench_fail("cannot open the queue in %s", dir);
	(void)bench_enqueue(&q, &bj, batch);
	queue_close(&q);
	bench_jobs_free(&bj);

	/* Room for every job in each worker's part, shared with them. */
	room = bp->bp_timed ? bp->bp_jobs * bp->bp_workers : 1;
	samples = mmap(NULL, room * sizeof(double), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (samples == MAP_FAILED)
		bench_fail("mmap: %s", strerror(errno));
	wal0 = bench_wal();
	el = bench_run_workers(bp, dir, samples, reports);
	wal1 = bench_wal();

	for (w = 0; w < bp->bp_workers; w++) {
		commits += reports[w].br_commits;
		if (reports[w].br_bytes == UINT64_MAX)
			unknown = 1;
		else
			bytes += reports[w].br_bytes;
	}
	bp->bp_rate = bp->bp_jobs / el;
	bp->bp_pages = unknown || commits == 0 ||
	    bench_backend == QUEUE_BACKEND_PG ? -1 :
	    (double)bytes / commits / sysconf(_SC_PAGESIZE);
	bp->bp_wal = wal0 < 0 || wal1 < 0 || commits == 0 ? -1 :
	    (wal1 - wal0) / commits;
	if (bp->bp_timed) {
		all = xcalloc(bp->bp_jobs, sizeof(*all));
		for (w = 0; w < bp->bp_workers; w++)
			for (i = 0; i < reports[w].br_samples &&
			    nall < bp->bp_jobs; i++)
				all[nall++] = samples[w * bp->bp_jobs + i];
		if (nall != bp->bp_jobs)
			bench_fail("%s: %zu claim times for %zu jobs",
			    bp->bp_name, nall, bp->bp_jobs);
		qsort(all, nall, sizeof(*all), bench_cmp);
		bp->bp_p50 = bench_pct(all, nall, 50);
		bp->bp_p99 = bench_pct(all, nall, 99);
		bp->bp_max = all[nall - 1];
		free(all);
	}
	munmap(samples, room * sizeof(double));

	if (bench_open(&q, dir) == -1 || queue_stats(&q, &qs) != 0)
		bench_fail("cannot read the queue in %s", dir);
	queue_close(&q);
	if (qs.qs_completed != bp->bp_jobs || qs.qs_count[JOB_READY] != 0 ||
	    qs.qs_count[JOB_LEASED] != 0)
		bench_fail("%s: %llu of %zu jobs completed, %llu ready, %llu "
		    "leased", bp->bp_name,
		    (unsigned long long)qs.qs_completed, bp->bp_jobs,
		    (unsigned long long)qs.qs_count[JOB_READY],
		    (unsigned long long)qs.qs_count[JOB_LEASED]);
	bench_phase_end(dir);
}

/* A figure for the JSON line, null when unknown (negative). */
static const char *
bench_fmt(char *buf, size_t len, const char *fmt, double v)
{
	if (v < 0)
		strlcpy(buf, "null", len);
	else
		snprintf(buf, len, fmt, v);
	return (buf);
}

static long long
bench_number(const char *s, long long min, long long max, const char *what)
{
	const char	*errstr;
	long long	 n;

	n = strtonum(s, min, max, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "%s: %s is %s: %s\n", getprogname(), what,
		    errstr, s);
		exit(1);
	}
	return (n);
}

int
main(int argc, char *argv[])
{
	struct bench_phase	 k1, k16, w2, w8;
	const char		*parent, *dsn;
	char			 top[PATH_MAX], sync[128], version[64];
	char			 f[8][32];
	size_t			 njobs = 200000, nenq = 1000000;
	size_t			 nlat = BENCH_LATENCY_DEFAULT;
	size_t			 batch = BENCH_BATCH_DEFAULT, record;
	double			 secs = 5, raw, enq, file_pj, used_pj;
	long			 nproc;
	int			 ch, n;

	log_init(1, LOG_DAEMON);
	if ((parent = getenv("TMPDIR")) == NULL || *parent == '\0')
		parent = "/tmp";
	if ((dsn = getenv("PGDSN")) == NULL)
		dsn = "";
	snprintf(bench_prefix, sizeof(bench_prefix), "qbench_%ld",
	    (long)getpid());
	while ((ch = getopt(argc, argv, "B:b:d:e:kl:n:Q:S:s:t:")) != -1) {
		switch (ch) {
		case 'B':
			if (strcmp(optarg, "lmdb") == 0)
				bench_backend = QUEUE_BACKEND_LMDB;
			else if (strcmp(optarg, "postgresql") == 0)
				bench_backend = QUEUE_BACKEND_PG;
			else
				usage();
			break;
		case 'b':
			batch = bench_number(optarg, 1, 1000000, "batch");
			break;
		case 'd':
			parent = optarg;
			break;
		case 'e':
			nenq = bench_number(optarg, 1, 100000000, "jobs");
			break;
		case 'k':
			bench_keyed = 1;
			break;
		case 'l':
			nlat = bench_number(optarg, 0, 10000000, "jobs");
			break;
		case 'n':
			njobs = bench_number(optarg, 1, 100000000, "jobs");
			break;
		case 'Q':
			dsn = optarg;
			break;
		case 'S':
			if (strlcpy(bench_prefix, optarg, sizeof(bench_prefix))
			    >= sizeof(bench_prefix) - 8) {
				fprintf(stderr, "%s: schema prefix too long: "
				    "%s\n", getprogname(), optarg);
				exit(1);
			}
			break;
		case 's':
			if ((bench_sync = store_sync_parse(optarg)) == -1)
				usage();
			break;
		case 't':
			secs = bench_number(optarg, 1, 3600, "seconds");
			break;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();
	strlcpy(sync, store_sync_name(bench_sync), sizeof(sync));
	strlcpy(version, "null", sizeof(version));
	if (bench_backend == QUEUE_BACKEND_PG) {
		if (*dsn == '\0') {
			fprintf(stderr, "%s: postgresql needs -Q dsn or "
			    "$PGDSN\n", getprogname());
			exit(1);
		}
		if (strlcpy(bench_dsn, dsn, sizeof(bench_dsn)) >=
		    sizeof(bench_dsn)) {
			fprintf(stderr, "%s: dsn too long\n", getprogname());
			exit(1);
		}
		if (benchpg_scalar(bench_dsn, "SELECT 'fsync=' || "
		    "current_setting('fsync') || ' synchronous_commit=' || "
		    "current_setting('synchronous_commit')", sync,
		    sizeof(sync)) == -1 ||
		    benchpg_scalar(bench_dsn, "SELECT '\"' || "
		    "current_setting('server_version') || '\"'", version,
		    sizeof(version)) == -1)
			exit(1);
	}

	n = snprintf(top, sizeof(top), "%s/queue-bench.XXXXXX", parent);
	if (n < 0 || (size_t)n >= sizeof(top))
		bench_fail("%s: path too long", parent);
	if (mkdtemp(top) == NULL)
		bench_fail("mkdtemp %s: %s", top, strerror(errno));
	strlcpy(bench_top, top, sizeof(bench_top));

	memset(&k1, 0, sizeof(k1));
	k1.bp_name = "claim_k1";
	k1.bp_jobs = njobs;
	k1.bp_k = 1;
	k1.bp_workers = BENCH_WORKERS;
	k16 = k1;
	k16.bp_name = "claim_k16";
	k16.bp_k = 16;
	w2 = k1;
	w2.bp_name = "claim_w2";
	w2.bp_jobs = nlat;
	w2.bp_timed = 1;
	w2.bp_rate = w2.bp_p50 = w2.bp_p99 = w2.bp_max = -1;
	w8 = w2;
	w8.bp_name = "claim_w8";
	w8.bp_workers = 8;

	raw = bench_raw(secs);
	bench_enqueue_phase(nenq, batch, &enq, &record, &file_pj, &used_pj);
	bench_claim_phase(&k1, batch);
	bench_claim_phase(&k16, batch);
	if (nlat > 0) {
		bench_claim_phase(&w2, batch);
		bench_claim_phase(&w8, batch);
	}
	bench_cleanup();

	if ((nproc = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		nproc = 1;
	printf("{\"backend\": \"%s\", \"raw_commit_per_s\": %.0f, "
	    "\"enqueue_1m_s\": %.3f, \"enqueue_s\": %.3f, "
	    "\"enqueue_jobs\": %zu, \"enqueue_batch\": %zu, "
	    "\"record_bytes\": %zu, \"file_bytes_per_job\": %.1f, "
	    "\"used_bytes_per_job\": %s, ",
	    bench_backend == QUEUE_BACKEND_PG ? "postgresql" : "lmdb",
	    raw, enq * 1e6 / nenq, enq, nenq, batch < nenq ? batch : nenq,
	    record, file_pj, bench_fmt(f[0], sizeof(f[0]), "%.1f", used_pj));
	printf("\"claim_jobs\": %zu, \"claim_ack_k1_per_s\": %.0f, "
	    "\"claim_ack_k16_per_s\": %.0f, "
	    "\"claim_ack_k1_pages_per_commit\": %s, "
	    "\"claim_ack_k16_pages_per_commit\": %s, "
	    "\"claim_ack_k1_wal_bytes_per_commit\": %s, "
	    "\"claim_ack_k16_wal_bytes_per_commit\": %s, \"workers\": %d, "
	    "\"claim_keyed\": %s, ", njobs, k1.bp_rate, k16.bp_rate,
	    bench_fmt(f[0], sizeof(f[0]), "%.2f", k1.bp_pages),
	    bench_fmt(f[1], sizeof(f[1]), "%.2f", k16.bp_pages),
	    bench_fmt(f[2], sizeof(f[2]), "%.0f", k1.bp_wal),
	    bench_fmt(f[3], sizeof(f[3]), "%.0f", k16.bp_wal),
	    BENCH_WORKERS, bench_keyed ? "true" : "false");
	printf("\"latency_jobs\": %zu, \"claim_w2_p50_ms\": %s, "
	    "\"claim_w2_p99_ms\": %s, \"claim_w2_max_ms\": %s, "
	    "\"claim_w2_per_s\": %s, ", nlat,
	    bench_fmt(f[0], sizeof(f[0]), "%.3f", w2.bp_p50),
	    bench_fmt(f[1], sizeof(f[1]), "%.3f", w2.bp_p99),
	    bench_fmt(f[2], sizeof(f[2]), "%.3f", w2.bp_max),
	    bench_fmt(f[3], sizeof(f[3]), "%.0f", w2.bp_rate));
	printf("\"claim_w8_p50_ms\": %s, \"claim_w8_p99_ms\": %s, "
	    "\"claim_w8_max_ms\": %s, \"claim_w8_per_s\": %s, "
	    "\"sync\": \"%s\", \"pg_version\": %s, \"nproc\": %ld}\n",
	    bench_fmt(f[4], sizeof(f[4]), "%.3f", w8.bp_p50),
	    bench_fmt(f[5], sizeof(f[5]), "%.3f", w8.bp_p99),
	    bench_fmt(f[6], sizeof(f[6]), "%.3f", w8.bp_max),
	    bench_fmt(f[7], sizeof(f[7]), "%.0f", w8.bp_rate),
	    sync, version, nproc);
	return (fflush(stdout) == 0 ? 0 : 1);
}
