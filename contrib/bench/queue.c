/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * queue-bench: what the durable job queue costs on this machine, printed
 * as one JSON line on stdout.  Every phase runs in its own directory
 * under one temporary directory (-d, else $TMPDIR, else /tmp), with the
 * queue's default configuration: sync "full" (an fsync at every commit),
 * never MDB_NOSYNC or MDB_WRITEMAP.  The directory is removed at the end.
 *
 *	raw_commit_per_s	The baseline, measured first: a fresh LMDB
 *		environment on the same file system, default flags plus
 *		MDB_NOTLS, one put of a new 8-byte key (in increasing order)
 *		and a 16-byte value per transaction, committed, for -t
 *		seconds (default 5).  No queue can commit faster than this.
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
 *		500,000 on a 2-core VM: each transaction rewrites most leaf
 *		pages of the random-keyed "keys" database, so small batches
 *		write it many times over, while very large ones slow down in
 *		LMDB's dirty page list.
 *
 *	file_bytes_per_job	The size of DATADIR/queue/data.mdb after the
 *		enqueue, divided by the jobs; used_bytes_per_job counts only
 *		the pages in use (last page number + 1 minus the pages on
 *		LMDB's free list, times the page size).
 *
 *	claim_ack_k1_per_s, claim_ack_k16_per_s	A queue is filled with -n
 *		no-op jobs (default 200,000) and closed.  Two worker
 *		processes are forked; each opens the queue itself, then
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
 *		What one claim+ack commit writes, in pages: the bytes the
 *		workers wrote (wchar in /proc/self/io: LMDB's page writes
 *		and its meta page update) over their commits, divided by
 *		the page size.  Fsync costs grow with it, and unlike the
 *		rates it does not depend on how busy the machine is.  null
 *		where /proc/self/io cannot be read.
 */

#include <sys/types.h>
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

#include "quire.h"

#define BENCH_WORKERS		2
#define BENCH_KEYLEN		32
#define BENCH_RECORD		200	/* wanted job record size */
#define BENCH_BATCH_DEFAULT	100000
#define BENCH_RAW_MAPSIZE	(4ULL << 30)	/* address space, not disk */

/* What a worker reports when it is done. */
struct bench_report {
	uint64_t	 br_commits;
	uint64_t	 br_bytes;	/* written; UINT64_MAX: unknown */
};

struct bench_jobs {
	struct queue_new	*bj_new;
	char			*bj_strs;	/* keys and paths */
	size_t			 bj_n;
};

static char	 bench_top[PATH_MAX];	/* removed on exit */
static int	 bench_keyed;		/* -k: keys on no-op jobs too */

static void	 usage(void) __dead;
static void	 bench_fail(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-k] [-b batch] [-d dir] [-e jobs] "
	    "[-n jobs] [-t seconds]\n", getprogname());
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
bench_raw(double secs)
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	char		 dir[PATH_MAX];
	uint8_t		 kb[8], vb[16];
	uint64_t	 n = 0;
	double		 t0, el;
	int		 rc;

	bench_path(dir, sizeof(dir), "raw");
	if (mkdir(dir, 0700) == -1)
		bench_fail("mkdir %s: %s", dir, strerror(errno));
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, BENCH_RAW_MAPSIZE)) != 0 ||
	    (rc = mdb_env_open(env, dir, MDB_NOTLS, 0600)) != 0)
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
	bench_rmtree(dir);
	return (n / el);
}

/* Pages in use in the queue's file: all pages minus the free ones. */
static uint64_t
bench_used_bytes(struct queue *q)
{
	MDB_env		*env = q->q_store.s_env;
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

	bench_path(dir, sizeof(dir), "enqueue");
	bench_jobs_make(&bj, njobs, 0, 1);
	if (queue_open(&q, dir, NULL) == -1)
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

	*used_per_job = (double)bench_used_bytes(&q) / njobs;
	queue_close(&q);
	snprintf(file, sizeof(file), "%s/queue/data.mdb", dir);
	if (stat(file, &st) == -1)
		bench_fail("stat %s: %s", file, strerror(errno));
	*file_per_job = (double)st.st_size / njobs;
	bench_jobs_free(&bj);
	bench_rmtree(dir);
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

/* A worker: ack the last round and claim the next until none is left. */
static void __dead
bench_worker(const char *dir, int slot, size_t k, int ready, int go,
    int report)
{
	struct queue		 q;
	struct queue_owner	 owner;
	struct queue_lease	*acks;
	struct job		*jobs;
	struct bench_report	 br;
	uint64_t		 w0, w1;
	size_t			 nacks = 0, n, i;
	int			*results, rc;
	char			 c = 'r';

	acks = xcalloc(k, sizeof(*acks));
	results = xcalloc(k, sizeof(*results));
	jobs = xcalloc(k, sizeof(*jobs));
	owner.qo_slot = slot;
	owner.qo_pid = getpid();
	if (queue_open(&q, dir, NULL) == -1)
		_exit(1);
	/* Closed once written, so a worker that died shows as end of file. */
	if (write(ready, &c, 1) != 1 || close(ready) == -1 ||
	    read(go, &c, 1) != 0)
		_exit(1);
	memset(&br, 0, sizeof(br));
	w0 = bench_written();
	for (;;) {
		rc = queue_ack_claim(&q, acks, nacks, results, &owner, jobs, k,
		    &n);
		br.br_commits++;
		if (rc != QUEUE_OK) {
			fprintf(stderr, "worker %d: %s\n", slot,
			    queue_strerror(rc));
			_exit(1);
		}
		for (i = 0; i < nacks; i++) {
			if (results[i] != QUEUE_OK) {
				fprintf(stderr, "worker %d: ack: %s\n", slot,
				    queue_strerror(results[i]));
				_exit(1);
			}
		}
		if (n == 0)
			break;
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

/*
 * The claim+ack rate with K jobs a claim; *pages: the pages written a
 * commit, or -1 when unknown.
 */
static double
bench_claim_phase(size_t njobs, size_t k, size_t batch, double *pages)
{
	struct bench_jobs	 bj;
	struct queue		 q;
	struct queue_stats	 qs;
	struct bench_report	 br;
	char			 dir[PATH_MAX], name[32], c;
	pid_t			 pid[BENCH_WORKERS];
	uint64_t		 commits = 0, bytes = 0;
	double			 t0, el;
	int			 ready[2], go[2], report[2], i, status;
	int			 failed = 0, unknown = 0;

	snprintf(name, sizeof(name), "claim-k%zu", k);
	bench_path(dir, sizeof(dir), name);
	bench_jobs_make(&bj, njobs, 1, bench_keyed);
	if (queue_open(&q, dir, NULL) == -1)
		bench_fail("cannot open the queue in %s", dir);
	(void)bench_enqueue(&q, &bj, batch);
	queue_close(&q);
	bench_jobs_free(&bj);

	if (pipe(ready) == -1 || pipe(go) == -1 || pipe(report) == -1)
		bench_fail("pipe: %s", strerror(errno));
	fflush(NULL);
	for (i = 0; i < BENCH_WORKERS; i++) {
		if ((pid[i] = fork()) == -1)
			bench_fail("fork: %s", strerror(errno));
		if (pid[i] == 0) {
			close(ready[0]);
			close(go[1]);
			close(report[0]);
			bench_worker(dir, i, k, ready[1], go[0], report[1]);
		}
	}
	close(ready[1]);
	close(go[0]);
	close(report[1]);
	for (i = 0; i < BENCH_WORKERS; i++) {
		if (read(ready[0], &c, 1) != 1) {
			/* Let none start on a directory about to go. */
			for (i = 0; i < BENCH_WORKERS; i++)
				kill(pid[i], SIGKILL);
			while (wait(NULL) != -1 || errno == EINTR)
				continue;
			bench_fail("a worker failed to start");
		}
	}
	/* Closing the pipe starts every worker at once. */
	t0 = bench_now();
	close(go[1]);
	for (i = 0; i < BENCH_WORKERS; i++) {
		if (waitpid(pid[i], &status, 0) == -1)
			bench_fail("waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	el = bench_now() - t0;
	close(ready[0]);
	if (failed)
		bench_fail("claim K=%zu: a worker failed", k);
	for (i = 0; i < BENCH_WORKERS; i++) {
		if (read(report[0], &br, sizeof(br)) != sizeof(br))
			bench_fail("claim K=%zu: a worker did not report", k);
		commits += br.br_commits;
		if (br.br_bytes == UINT64_MAX)
			unknown = 1;
		else
			bytes += br.br_bytes;
	}
	close(report[0]);
	*pages = unknown || commits == 0 ? -1 :
	    (double)bytes / commits / sysconf(_SC_PAGESIZE);

	if (queue_open(&q, dir, NULL) == -1 || queue_stats(&q, &qs) != 0)
		bench_fail("cannot read the queue in %s", dir);
	queue_close(&q);
	if (qs.qs_completed != njobs || qs.qs_count[JOB_READY] != 0 ||
	    qs.qs_count[JOB_LEASED] != 0)
		bench_fail("claim K=%zu: %llu of %zu jobs completed, %llu "
		    "ready, %llu leased", k,
		    (unsigned long long)qs.qs_completed, njobs,
		    (unsigned long long)qs.qs_count[JOB_READY],
		    (unsigned long long)qs.qs_count[JOB_LEASED]);
	bench_rmtree(dir);
	return (njobs / el);
}

/* A figure of pages for the JSON line: null when unknown. */
static void
bench_pages(char *buf, size_t len, double pages)
{
	if (pages < 0)
		strlcpy(buf, "null", len);
	else
		snprintf(buf, len, "%.2f", pages);
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
	const char	*parent;
	char		 top[PATH_MAX];
	size_t		 njobs = 200000, nenq = 1000000;
	size_t		 batch = BENCH_BATCH_DEFAULT, record;
	double		 secs = 5, raw, enq, k1, k16, file_pj, used_pj;
	double		 k1pages, k16pages;
	char		 k1p[32], k16p[32];
	long		 nproc;
	int		 ch, n;

	log_init(1, LOG_DAEMON);
	if ((parent = getenv("TMPDIR")) == NULL || *parent == '\0')
		parent = "/tmp";
	while ((ch = getopt(argc, argv, "b:d:e:kn:t:")) != -1) {
		switch (ch) {
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
		case 'n':
			njobs = bench_number(optarg, 1, 100000000, "jobs");
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

	n = snprintf(top, sizeof(top), "%s/queue-bench.XXXXXX", parent);
	if (n < 0 || (size_t)n >= sizeof(top))
		bench_fail("%s: path too long", parent);
	if (mkdtemp(top) == NULL)
		bench_fail("mkdtemp %s: %s", top, strerror(errno));
	strlcpy(bench_top, top, sizeof(bench_top));

	raw = bench_raw(secs);
	bench_enqueue_phase(nenq, batch, &enq, &record, &file_pj, &used_pj);
	k1 = bench_claim_phase(njobs, 1, batch, &k1pages);
	k16 = bench_claim_phase(njobs, 16, batch, &k16pages);
	bench_cleanup();
	bench_pages(k1p, sizeof(k1p), k1pages);
	bench_pages(k16p, sizeof(k16p), k16pages);

	if ((nproc = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		nproc = 1;
	printf("{\"raw_commit_per_s\": %.0f, \"enqueue_1m_s\": %.3f, "
	    "\"enqueue_s\": %.3f, \"enqueue_jobs\": %zu, "
	    "\"enqueue_batch\": %zu, \"record_bytes\": %zu, "
	    "\"file_bytes_per_job\": %.1f, \"used_bytes_per_job\": %.1f, "
	    "\"claim_jobs\": %zu, \"claim_ack_k1_per_s\": %.0f, "
	    "\"claim_ack_k16_per_s\": %.0f, "
	    "\"claim_ack_k1_pages_per_commit\": %s, "
	    "\"claim_ack_k16_pages_per_commit\": %s, \"workers\": %d, "
	    "\"claim_keyed\": %s, \"sync\": \"%s\", \"nproc\": %ld}\n",
	    raw, enq * 1e6 / nenq, enq, nenq, batch < nenq ? batch : nenq,
	    record, file_pj, used_pj,
	    njobs, k1, k16, k1p, k16p, BENCH_WORKERS,
	    bench_keyed ? "true" : "false", store_sync_name(STORE_SYNC_FULL),
	    nproc);
	return (0);
}
