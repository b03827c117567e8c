/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * requeue: how long a job is out of reach after its worker is killed in
 * the middle of it, printed as one JSON line on stdout.
 *
 * Method.  The real quired (./quired, or $QUIRED) runs in the foreground
 * as our child on a fresh data directory under one temporary directory
 * (-d, else $TMPDIR, else /tmp), with one worker, claim-batch 1,
 * debug-jobs yes, max-crashes 1000, HTTP off and otherwise the defaults
 * (sync "full").  We open the same queue ourselves and enqueue one debug job,
 * "sleep 600000", which the worker claims and sleeps in.  Then, -n times
 * (default 1,000):
 *
 *	Wait until the admin socket's workers list shows a worker busy
 *	with the job and the queue shows the job leased to that pid.
 *	Read CLOCK_MONOTONIC (t0) and SIGKILL the worker.
 *
 *	requeue: poll queue_get() on the job, a read transaction each
 *	time, every RQ_POLL_US, until the job is ready, or leased to a
 *	pid other than the dead one (the new worker claimed it between
 *	two polls; "reclaimed_first" counts those).  t1 - t0 is one
 *	sample: the time until the job could be claimed again.
 *
 *	fork_to_ready: then ask the admin socket for the workers list
 *	every RQ_POLL_US until a worker with a new pid is idle or busy,
 *	which it becomes when the supervisor reads its "ready" frame.
 *	That time minus t0 is one sample: from the death to a replacement
 *	ready for work.  The socket is not asked before the requeue is
 *	seen, so its questions do not slow the reaper being measured.
 *
 * The polls sleep between looks rather than spin: on a two-CPU machine
 * a spinning observer would take a processor from the supervisor and
 * the starting worker and measure itself.  Each kill raises the job's
 * crash count; before it reaches max-crashes the job is cancelled, a
 * fresh one is enqueued and the worker is killed once more without
 * timing it, so no measured kill ends in a dead letter.
 *
 * The queue is LMDB's (-B lmdb, the default) or PostgreSQL's (-B
 * postgresql, on the server -Q, else $PGDSN, names): quired then has
 * queue-backend postgresql, that queue-dsn and host-name requeue-bench,
 * and the queue is a schema of its own, -S PREFIX_requeue (default
 * qbench_PID), made the search_path of quired's connections and ours
 * through PGOPTIONS and dropped at the end (contrib/bench/benchpg.c).
 * The supervisor releases a dead worker's leases at the reap in both,
 * and a replacement waiting for work wakes on the release's NOTIFY
 * there.  Each poll of queue_get() is then a query on the server.
 *
 * The line holds backend, kills, workers, requeue_p50_ms,
 * requeue_p99_ms, requeue_max_ms, reclaimed_first, fork_to_ready_ms
 * (the median), fork_to_ready_p99_ms, sync (LMDB's sync, or the
 * server's fsync and synchronous_commit) and nproc.  Percentiles are
 * nearest-rank over the samples; times are in milliseconds.  At the end
 * the daemon gets SIGQUIT (SIGKILL if it is still there after 10 s) and
 * the temporary directory (and schema) is removed; any failure exits 1
 * after the same clean-up, with the tail of the daemon's log on stderr.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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
#include "benchpg.h"

#define RQ_KILLS_DEFAULT	1000
#define RQ_MAX_CRASHES		1000	/* the most quired accepts */
#define RQ_POLL_US		100
#define RQ_TIMEOUT_MS		10000	/* for any one thing to happen */
#define RQ_STOP_MS		10000
#define RQ_JOB			"sleep 600000"
#define RQ_WORKERS		1
#define RQ_REPLY_MAX		65536
#define RQ_HOST			"requeue-bench"

struct rq_worker {
	pid_t		 rw_pid;
	char		 rw_state[16];
	uint64_t	 rw_job;
};

static char		 rq_top[PATH_MAX];	/* removed on exit */
static char		 rq_data[PATH_MAX];
static char		 rq_log[PATH_MAX];
static char		 rq_sock[PATH_MAX];
static pid_t		 rq_daemon = -1;
static int		 rq_backend = QUEUE_BACKEND_LMDB;
static char		 rq_dsn[1024];
static char		 rq_schema[BENCHPG_SCHEMA_MAX + 1];	/* dropped */
static volatile sig_atomic_t rq_quit;

static void	 usage(void) __dead;
static void	 rq_fail(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-B lmdb | postgresql] [-d dir] "
	    "[-n kills] [-Q dsn] [-S prefix]\n", getprogname());
	exit(1);
}

static double
rq_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec * 1e3 + ts.tv_nsec / 1e6);
}

static void
rq_nap(void)
{
	struct timespec	 ts;

	ts.tv_sec = 0;
	ts.tv_nsec = RQ_POLL_US * 1000;
	nanosleep(&ts, NULL);
}

static void
rq_onsignal(int sig)
{
	rq_quit = 1;
}

static int
rq_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		return (rmdir(path));
	return (unlink(path));
}

/* Stop the daemon (its workers die with it) and remove the directory. */
static void
rq_cleanup(void)
{
	double	 end;
	int	 status;

	if (rq_daemon > 0) {
		kill(rq_daemon, SIGQUIT);
		end = rq_now() + RQ_STOP_MS;
		while (waitpid(rq_daemon, &status, WNOHANG) == 0) {
			if (rq_now() > end) {
				fprintf(stderr, "%s: quired did not stop; "
				    "killing it\n", getprogname());
				kill(rq_daemon, SIGKILL);
				waitpid(rq_daemon, &status, 0);
				break;
			}
			usleep(10000);
		}
		rq_daemon = -1;
	}
	if (rq_schema[0] != '\0')
		benchpg_drop(rq_dsn, rq_schema);
	rq_schema[0] = '\0';
	if (rq_top[0] != '\0' && nftw(rq_top, rq_rm, 16,
	    FTW_DEPTH | FTW_PHYS) == -1 && errno != ENOENT)
		fprintf(stderr, "%s: remove %s: %s\n", getprogname(), rq_top,
		    strerror(errno));
	rq_top[0] = '\0';
}

/* The last lines the daemon logged, to show why something failed. */
static void
rq_log_tail(void)
{
	char	 buf[4096];
	off_t	 size;
	ssize_t	 n;
	int	 fd;

	if (rq_log[0] == '\0' || (fd = open(rq_log, O_RDONLY)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > (off_t)sizeof(buf) - 1)
		lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		fprintf(stderr, "--- end of %s\n%s", rq_log, buf);
	}
	close(fd);
}

static void
rq_fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", getprogname());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	rq_log_tail();
	rq_cleanup();
	exit(1);
}

static void
rq_path(char *buf, size_t len, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s", rq_top, name);
	if (n < 0 || (size_t)n >= len)
		rq_fail("%s: path too long", name);
}

/* Fail if the daemon is gone or we were interrupted. */
static void
rq_check(void)
{
	int	 status;

	if (rq_quit)
		rq_fail("interrupted");
	if (waitpid(rq_daemon, &status, WNOHANG) == rq_daemon) {
		rq_daemon = -1;
		if (WIFSIGNALED(status))
			rq_fail("quired died: signal %d", WTERMSIG(status));
		rq_fail("quired exited: status %d", WEXITSTATUS(status));
	}
}

static void
rq_start(const char *quired)
{
	char	 conf[PATH_MAX], pidfile[PATH_MAX], errlog[PATH_MAX];
	FILE	*f;
	int	 fd;

	rq_path(rq_data, sizeof(rq_data), "data");
	rq_path(rq_log, sizeof(rq_log), "quired.log");
	rq_path(conf, sizeof(conf), "quired.conf");
	rq_path(pidfile, sizeof(pidfile), "quired.pid");
	rq_path(errlog, sizeof(errlog), "quired.stderr");
	rq_path(rq_sock, sizeof(rq_sock), "data/control.sock");
	if ((f = fopen(conf, "w")) == NULL)
		rq_fail("%s: %s", conf, strerror(errno));
	fprintf(f, "datadir %s\npidfile %s\nlog-file %s\nworkers %d\n"
	    "claim-batch 1\nmax-crashes %d\ndebug-jobs yes\nlisten none\n",
	    rq_data, pidfile, rq_log, RQ_WORKERS, RQ_MAX_CRASHES);
	if (rq_backend == QUEUE_BACKEND_PG)
		fprintf(f, "queue-backend postgresql\nqueue-dsn %s\n"
		    "host-name %s\n", rq_dsn, RQ_HOST);
	if (fclose(f) == EOF)
		rq_fail("%s: %s", conf, strerror(errno));
	if (util_mkdir_p(rq_data, 0750) == -1)
		rq_fail("%s: %s", rq_data, strerror(errno));

	switch ((rq_daemon = fork())) {
	case -1:
		rq_fail("fork: %s", strerror(errno));
	case 0:
		/* Foreground quired logs every line to stderr too. */
		if ((fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC,
		    0640)) == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(127);
		execl(quired, "quired", "-d", "-f", conf, (char *)NULL);
		_exit(127);
	}
}

/* Ask the admin socket for the workers list; returns how many it named. */
static int
rq_workers(struct rq_worker *ws, int max)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	static char		 buf[RQ_REPLY_MAX];
	char			*p;
	unsigned long long	 job;
	size_t			 have = 0;
	ssize_t			 n;
	int			 fd, nw = 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, rq_sock, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		rq_fail("%s: path too long for a socket", rq_sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		rq_fail("socket: %s", strerror(errno));
	/* A daemon that never answers fails the run; it must not hang it. */
	tv.tv_sec = RQ_TIMEOUT_MS / 1000;
	tv.tv_usec = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		rq_fail("setsockopt: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return (-1);	/* not listening yet */
	}
	if (ipc_send(fd, IPC_CTL, CTL_WORKERS, 0, "json") == -1)
		rq_fail("%s: send: %s", rq_sock, strerror(errno));
	while (have < sizeof(buf) - 1) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n == -1 && errno == EINTR && !rq_quit)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			rq_fail("%s: no end to the answer within %d ms "
			    "(%zu bytes so far)", rq_sock, RQ_TIMEOUT_MS, have);
		if (n == -1)
			rq_fail("%s: read: %s", rq_sock, strerror(errno));
		if (n == 0)
			break;
		have += n;
	}
	close(fd);
	buf[have] = '\0';
	if (strncmp(buf, "ok\n", 3) != 0)
		rq_fail("workers: unexpected answer: %.200s", buf);
	for (p = buf; nw < max && (p = strstr(p, "{\"slot\": ")) != NULL;
	    p++) {
		memset(&ws[nw], 0, sizeof(ws[nw]));
		job = 0;	/* "job": null for an idle worker */
		if (sscanf(p, "{\"slot\": %*d, \"pid\": %d, \"state\": "
		    "\"%15[^\"]\", \"job\": %llu", &ws[nw].rw_pid,
		    ws[nw].rw_state, &job) < 2)
			rq_fail("workers: cannot parse %.200s", p);
		ws[nw].rw_job = job;
		nw++;
	}
	return (nw);
}

static void
rq_get(struct queue *q, uint64_t id, struct job *j)
{
	int	 rc;

	if ((rc = queue_get(q, id, j)) != 0)
		rq_fail("job %llu: %s", (unsigned long long)id,
		    queue_strerror(rc));
}

static uint64_t
rq_enqueue(struct queue *q)
{
	struct submit_batch	 sb;
	struct submit_opts	 so;
	uint64_t		 id;
	int			 rc;

	memset(&so, 0, sizeof(so));
	submit_init(&sb);
	if (submit_add_debug(&sb, RQ_JOB, &so) == -1)
		rq_fail("cannot make the debug job");
	if ((rc = queue_enqueue(q, sb.sb_jobs, sb.sb_n)) != 0)
		rq_fail("enqueue: %s", queue_strerror(rc));
	id = sb.sb_jobs[0].qn_id;
	submit_free(&sb);
	return (id);
}

/*
 * Wait until a worker other than old is running job id, by the
 * supervisor's account and by the queue's; returns its pid.
 */
static pid_t
rq_wait_busy(struct queue *q, uint64_t id, pid_t old)
{
	struct rq_worker	 ws[RQ_WORKERS + 4];
	struct job		 j;
	double			 end = rq_now() + RQ_TIMEOUT_MS;
	int			 i, n;

	for (;;) {
		rq_check();
		n = rq_workers(ws, sizeof(ws) / sizeof(ws[0]));
		for (i = 0; i < n; i++) {
			if (ws[i].rw_pid == 0 || ws[i].rw_pid == old ||
			    strcmp(ws[i].rw_state, "busy") != 0 ||
			    ws[i].rw_job != id)
				continue;
			rq_get(q, id, &j);
			if (j.j_state == JOB_LEASED &&
			    j.j_lease_pid == (uint32_t)ws[i].rw_pid)
				return (ws[i].rw_pid);
		}
		if (rq_now() > end)
			rq_fail("no worker took job %llu within %d ms",
			    (unsigned long long)id, RQ_TIMEOUT_MS);
		usleep(1000);
	}
}

/* Kill the worker on job id; time its requeue and its replacement. */
static void
rq_kill(struct queue *q, uint64_t id, pid_t pid, double *requeue,
    double *ready, int *reclaimed)
{
	struct rq_worker	 ws[RQ_WORKERS + 4];
	struct job		 j;
	double			 t0, t1, end;
	int			 i, n;

	t0 = rq_now();
	if (kill(pid, SIGKILL) == -1)
		rq_fail("kill %d: %s", (int)pid, strerror(errno));
	end = t0 + RQ_TIMEOUT_MS;
	for (;;) {
		rq_get(q, id, &j);
		t1 = rq_now();
		if (j.j_state == JOB_READY)
			break;
		if (j.j_state == JOB_LEASED && j.j_lease_pid != (uint32_t)pid) {
			(*reclaimed)++;
			break;
		}
		if (j.j_state != JOB_LEASED)
			rq_fail("job %llu is %s after its worker was killed",
			    (unsigned long long)id,
			    codec_state_name(j.j_state));
		if (t1 > end)
			rq_fail("job %llu still leased to dead pid %d after "
			    "%d ms", (unsigned long long)id, (int)pid,
			    RQ_TIMEOUT_MS);
		rq_check();
		rq_nap();
	}
	*requeue = t1 - t0;

	for (;;) {
		n = rq_workers(ws, sizeof(ws) / sizeof(ws[0]));
		t1 = rq_now();
		for (i = 0; i < n; i++)
			if (ws[i].rw_pid != 0 && ws[i].rw_pid != pid &&
			    (strcmp(ws[i].rw_state, "idle") == 0 ||
			    strcmp(ws[i].rw_state, "busy") == 0)) {
				*ready = t1 - t0;
				return;
			}
		if (t1 > end)
			rq_fail("no worker ready %d ms after pid %d was killed",
			    RQ_TIMEOUT_MS, (int)pid);
		rq_check();
		rq_nap();
	}
}

static int
rq_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* Nearest rank: the smallest sample with at least p percent at or below. */
static double
rq_pct(const double *v, size_t n, int p)
{
	size_t	 r;

	r = (n * p + 99) / 100;
	return (v[r > 0 ? r - 1 : 0]);
}

int
main(int argc, char *argv[])
{
	struct sigaction	 sa;
	struct queue		 q;
	struct queue_conf	 qc;
	struct job		 j;
	const char		*parent, *quired, *errstr, *dsn, *name;
	char			 sync[128], prefix[BENCHPG_SCHEMA_MAX + 1];
	char			 where[512], err[512];
	double			*requeue, *ready, tmp;
	uint64_t		 id;
	size_t			 kills = RQ_KILLS_DEFAULT, i;
	pid_t			 pid;
	long			 nproc;
	int			 ch, n, reclaimed = 0, unused = 0;

	log_init(1, LOG_DAEMON);
	if ((parent = getenv("TMPDIR")) == NULL || *parent == '\0')
		parent = "/tmp";
	if ((quired = getenv("QUIRED")) == NULL || *quired == '\0')
		quired = "./quired";
	if ((dsn = getenv("PGDSN")) == NULL)
		dsn = "";
	snprintf(prefix, sizeof(prefix), "qbench_%ld", (long)getpid());
	while ((ch = getopt(argc, argv, "B:d:n:Q:S:")) != -1) {
		switch (ch) {
		case 'B':
			if (strcmp(optarg, "lmdb") == 0)
				rq_backend = QUEUE_BACKEND_LMDB;
			else if (strcmp(optarg, "postgresql") == 0)
				rq_backend = QUEUE_BACKEND_PG;
			else
				usage();
			break;
		case 'Q':
			dsn = optarg;
			break;
		case 'S':
			if (strlcpy(prefix, optarg, sizeof(prefix)) >=
			    sizeof(prefix) - 8) {
				fprintf(stderr, "%s: schema prefix too long: "
				    "%s\n", getprogname(), optarg);
				exit(1);
			}
			break;
		case 'd':
			parent = optarg;
			break;
		case 'n':
			kills = strtonum(optarg, 1, 1000000, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "%s: kills %s: %s\n",
				    getprogname(), optarg, errstr);
				usage();
			}
			break;
		default:
			usage();
		}
	}
	if (argc != optind)
		usage();
	if (access(quired, X_OK) == -1) {
		fprintf(stderr, "%s: %s: %s (set QUIRED or run from the "
		    "build directory)\n", getprogname(), quired,
		    strerror(errno));
		exit(1);
	}
	strlcpy(sync, store_sync_name(STORE_SYNC_FULL), sizeof(sync));
	if (rq_backend == QUEUE_BACKEND_PG) {
		/* A connection string with a newline would end the line. */
		if (*dsn == '\0' || strchr(dsn, '\n') != NULL ||
		    strlcpy(rq_dsn, dsn, sizeof(rq_dsn)) >= sizeof(rq_dsn)) {
			fprintf(stderr, "%s: postgresql needs -Q dsn or "
			    "$PGDSN, one line of at most %zu bytes\n",
			    getprogname(), sizeof(rq_dsn) - 1);
			exit(1);
		}
		if (benchpg_scalar(rq_dsn, "SELECT 'fsync=' || "
		    "current_setting('fsync') || ' synchronous_commit=' || "
		    "current_setting('synchronous_commit')", sync,
		    sizeof(sync)) == -1)
			exit(1);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rq_onsignal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	n = snprintf(rq_top, sizeof(rq_top), "%s/requeue-bench.XXXXXX",
	    parent);
	if (n < 0 || (size_t)n >= sizeof(rq_top)) {
		rq_top[0] = '\0';
		rq_fail("%s: path too long", parent);
	}
	if (mkdtemp(rq_top) == NULL) {
		rq_top[0] = '\0';
		rq_fail("mkdtemp %s: %s", parent, strerror(errno));
	}
	requeue = xcalloc(kills, sizeof(*requeue));
	ready = xcalloc(kills, sizeof(*ready));

	queue_conf_defaults(&qc);
	if (rq_backend == QUEUE_BACKEND_PG) {
		if ((n = snprintf(rq_schema, sizeof(rq_schema), "%s_requeue",
		    prefix)) < 0 || (size_t)n >= sizeof(rq_schema)) {
			rq_schema[0] = '\0';
			rq_fail("%s_requeue: schema name too long", prefix);
		}
		if (benchpg_schema(rq_dsn, rq_schema, where, sizeof(where),
		    err, sizeof(err)) == -1) {
			rq_schema[0] = '\0';
			rq_fail("%s", err);
		}
		qc.qc_backend = QUEUE_BACKEND_PG;
		strlcpy(qc.qc_dsn, rq_dsn, sizeof(qc.qc_dsn));
		strlcpy(qc.qc_host, RQ_HOST, sizeof(qc.qc_host));
	}
	rq_start(quired);
	if (queue_open(&q, rq_data, &qc) == -1)
		rq_fail("cannot open the queue in %s", rq_data);
	id = rq_enqueue(&q);
	pid = rq_wait_busy(&q, id, 0);

	for (i = 0; i < kills; i++) {
		rq_get(&q, id, &j);
		if (j.j_crashes + 1 >= RQ_MAX_CRASHES) {
			/* Retire the job before it becomes a dead letter. */
			if (queue_cancel(&q, id) != QUEUE_ECANCEL)
				rq_fail("job %llu: cannot cancel it",
				    (unsigned long long)id);
			id = rq_enqueue(&q);
			rq_kill(&q, id, pid, &tmp, &tmp, &unused);
			pid = rq_wait_busy(&q, id, pid);
		}
		rq_kill(&q, id, pid, &requeue[i], &ready[i], &reclaimed);
		pid = rq_wait_busy(&q, id, pid);
	}
	queue_close(&q);
	rq_cleanup();

	qsort(requeue, kills, sizeof(*requeue), rq_cmp);
	qsort(ready, kills, sizeof(*ready), rq_cmp);
	if ((nproc = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		nproc = 1;
	name = rq_backend == QUEUE_BACKEND_PG ? "postgresql" : "lmdb";
	printf("{\"backend\": \"%s\", \"kills\": %zu, \"workers\": %d, "
	    "\"requeue_p50_ms\": %.3f, \"requeue_p99_ms\": %.3f, "
	    "\"requeue_max_ms\": %.3f, "
	    "\"reclaimed_first\": %d, \"fork_to_ready_ms\": %.3f, "
	    "\"fork_to_ready_p99_ms\": %.3f, \"sync\": \"%s\", "
	    "\"nproc\": %ld}\n", name, kills, RQ_WORKERS,
	    rq_pct(requeue, kills, 50), rq_pct(requeue, kills, 99),
	    requeue[kills - 1], reclaimed, rq_pct(ready, kills, 50),
	    rq_pct(ready, kills, 99), sync, nproc);
	free(requeue);
	free(ready);
	return (0);
}
