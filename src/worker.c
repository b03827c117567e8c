/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * A worker process: claims jobs from the queue, runs them, acks them.
 *
 * The supervisor fork+execs quired with the worker role and a socketpair
 * on fd 3.  The worker starts as every child does (child.c), with the
 * configuration from that socket, opens its own LMDB environments, says
 * "ready", and loops:
 *
 *	ack the jobs finished since the last round and claim up to
 *	claim-batch new ones, in one transaction;
 *	run each job, telling the supervisor when it starts and ends and
 *	sending a heartbeat every heartbeat-interval while it runs;
 *	extend a job's lease in the queue when a third of it has passed.
 *
 * Heartbeats come from progress, not from a timer: the text path calls
 * the sink's tick (worker_tick) per MB read, per PDF page, per slice of
 * HTML, per chunk and per record, and the tick looks at the clock and,
 * every WORKER_LOOK_MS, beats, extends leases and reads orders as
 * worker_wait does.  A document that takes minutes keeps its worker
 * alive; a parser stuck without progress stops ticking and is killed
 * at hang-timeout.  The tick also enforces job-timeout: a job running
 * longer is stopped, and fails for good as "time limit 10m exceeded";
 * the supervisor kills a worker that goes kill-grace past the limit
 * without doing so.
 *
 * Acks of quick jobs ride on the next claim's transaction; when jobs are
 * slow, finished ones are committed and acked once batch-linger has
 * passed since the last time, so a death loses little work and status
 * is current.  On the LMDB queue a job's last batch commits while the
 * next job runs, and its ack goes once that commit is through, from the
 * next job's looks or with the next claim (worker_settle,
 * worker_ack_ready); with nothing left to claim, the worker waits for
 * its commit and acks at once.  Within a long job (an NDJSON range) the
 * batch is committed at batch-docs documents, batch-bytes of text, or
 * batch-linger after its first document, whichever comes first.  A
 * claim takes about 100 ms of work, judged by the last round's jobs
 * (between one and claim-batch jobs), so one worker does not hoard slow
 * jobs that idle workers could run.
 *
 * Idle, with nothing to claim, a worker on the LMDB queue looks again
 * every WORKER_IDLE_MS.  On the PostgreSQL queue it waits for the
 * queue's notification (an enqueue, a release or a retry made ready,
 * on any host: LISTEN/NOTIFY), polling the supervisor's socket with it
 * so that orders still come at once, and claims again when one comes
 * or WORKER_PG_IDLE_MS has passed (a retry whose time came is made
 * ready only by a claim), so an idle fleet does not load the server.
 *
 * Orders: "cancel" (the supervisor has flagged a job cancelled in the
 * queue) stops the running job at the next look, within WORKER_LOOK_MS
 * of work, or skips a claimed one that has not started, and acks it
 * cancelled at once; the rest of the batch goes on.  Without the order
 * a cancel is still seen at the next lease extension.  "stop" lets
 * the running job finish, acks it, gives back the jobs claimed but not
 * started, and exits 0; "exit", or end of file on the socket (the
 * supervisor died), gives back every lease and exits at once.
 * PR_SET_PDEATHSIG covers a supervisor that dies while we are not
 * reading.  A worker never dumps core and is not dumpable.  A new
 * configuration after a reload brings the live options: the queue's
 * settings, heartbeats, leases and batches follow at once, the document
 * limits and chunk sizes from the next job on; claim-batch, roots,
 * language, stopwords, the record fields and worker-data-limit are taken
 * at start only, so the supervisor replaces the worker to change them.
 *
 * On the PostgreSQL queue, a document whose home is another host is
 * left out of its batch and enqueued for that host (worker_homes), and
 * the documents indexed ride on their jobs' acks as home records.  A
 * move job (a drained host's document, drain.c) is indexed from the
 * chunks it carries (worker_move), as the drained host had them.
 *
 * Timings for metrics go to the supervisor in IPC_METRIC frames
 * (metrics_hist.c): each claim transaction that took jobs, each job's
 * wait from enqueue to claim, each index commit, and each job's time
 * from claim to ack, with the input bytes of the jobs acked done.
 *
 * Debug jobs ("sleep 200"), accepted only with debug-jobs yes, exercise
 * the supervisor: sleep MS, spin MS, crash, segv, hang, hog MIB [MS], fail,
 * noop.  Each one that completes appends "id generation" to
 * DATADIR/debug-jobs.log before its ack, so tests can count executions.
 */

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <xxhash.h>

#include "quire.h"

#define WORKER_IDLE_MS		100	/* queue poll when idle */
#define WORKER_PG_IDLE_MS	1000	/* PostgreSQL: claim again, at most */
#define WORKER_HEAP_KEEP	(32 << 20)	/* free heap kept while busy */
#define WORKER_HEAP_MMAP	(8 << 20)	/* bigger blocks are mapped */
#define WORKER_HOG_MAX		4096	/* MiB */
#define WORKER_ROUND_MS		100	/* work one claim should cover */
#define WORKER_LOOK_MS		50	/* orders and beats within a job */
#define WORKER_PROGRESS_MS	200	/* progress beats, at most this often */
#define WORKER_FAULT_MS		250	/* first retry of a storage fault */
#define WORKER_FAULT_MAX_MS	2000	/* and the longest wait between */

enum worker_outcome {
	WO_DONE,
	WO_FAIL,		/* retry later */
	WO_PERMANENT,		/* bad input: dead letter */
	WO_LOST,		/* lease lost: drop the job */
	WO_CANCELLED,		/* cancelled while running: ack it */
	WO_TIMEOUT		/* ran past job-timeout: dead letter */
};

/*
 * A filter term a worker posted last in one place (tenant, type, source,
 * each attribute), with its memo for the batch: the next chunk's is most
 * often the same and skips the batch's term table.
 */
#define WORKER_FILTERS	(3 + 64)

struct worker_filter {
	struct buf	 wf_term;	/* "name=value" */
	uint64_t	 wf_memo[TOKEN_MEMO];
	uint64_t	 wf_job;	/* a job's own: the job */
	const char	*wf_value;	/* and where its value lives */
};

struct worker_acks;

struct worker {
	struct child	 wk_ch;		/* socket, configuration, slot */
	struct queue	 wk_q;
	struct queue_owner wk_owner;
	int		 wk_stop;	/* finish this job, then exit */
	int		 wk_busy;	/* jobs since the heap was trimmed */
	int		 wk_admit_set;	/* the supervisor set wk_admit */
	uint64_t	 wk_admit;	/* big-job bytes the fleet may run */
	uint64_t	 wk_last_beat;
	int		 wk_fault;	/* storage fault told the supervisor */
	const char	*wk_fault_what;	/* and what met it */
	/* The running job. */
	uint64_t	 wk_job;
	uint64_t	 wk_gen;
	uint64_t	 wk_lease_at;	/* last lease extension */
	uint64_t	 wk_job_at;	/* when it started */
	int		 wk_stopped;	/* why the tick stopped it */
	int		 wk_cancel;	/* the supervisor cancelled it */
	unsigned	 wk_sent_pm;	/* progress last beaten, permille */
	uint64_t	 wk_dbg_at;	/* a timed debug job: its start */
	uint64_t	 wk_dbg_ms;	/* and length, or 0 */
	/* The claimed batch: jobs[wk_next..wk_njobs) have not started. */
	struct job	*wk_jobs;
	size_t		 wk_njobs;
	size_t		 wk_next;
	char		 wk_phase[64];
	char		 wk_error[JOB_ERROR_MAX];
	const char	*wk_type;	/* of its last document, or NULL */
	/* The text path and the index batch. */
	struct ingest	 wk_in;
	struct ingest_sink wk_sink;
	struct index	 wk_ix;
	struct ixbatch	*wk_batch;	/* filling */
	struct ixbatch	*wk_spare;	/* committing, or empty */
	struct ixcommitter wk_cm;
	int		 wk_reconf;	/* new limits for the next job */
	const struct job *wk_cur;
	struct buf	 wk_term;
	struct worker_filter wk_filters[WORKER_FILTERS];
	uint64_t	 wk_started;	/* index commits started */
	uint64_t	 wk_commits;	/* and through */
	struct worker_acks *wk_acks;	/* pending */
	size_t		 wk_deferred;	/* the first of them, from a round
					   before: worker_settle's */
	uint64_t	 wk_looked;	/* last look at orders, in a job */
	uint64_t	 wk_opened;	/* when the batch got its first document */
	/*
	 * Home hosts (PostgreSQL): the documents indexed since the last
	 * ack, for their home records, each with what its pin needs
	 * should its home be another host; the current one's id, hash and
	 * place.
	 */
	struct queue_doc *wk_docs;
	struct worker_doc *wk_dmeta;
	size_t		 wk_ndocs;
	size_t		 wk_doccap;
	char		 wk_dext[IX_EXTID_MAX + 1];
	uint64_t	 wk_dhash;
	uint64_t	 wk_doff;
	uint64_t	 wk_dlen;
	const char	*wk_daway;	/* a move's drained host, or NULL */
	struct buf	 wk_body;	/* a move's body */
};

/*
 * A document indexed, beside its home record: its job (in the claimed
 * batch, which stays until the next claim, after the commit), where it
 * is in that job's source and in the index batch, and whether its home
 * was looked up.
 */
struct worker_doc {
	const struct job *wm_job;
	uint64_t	 wm_off;
	uint64_t	 wm_len;
	size_t		 wm_ix;
	int		 wm_looked;
};

/*
 * Jobs whose ack is pending: when each was claimed, its size, and how
 * many index commits must be through before it may be acked (its last
 * documents' commit, wk_started's count).  Those come in order, so the
 * jobs that may be acked are always the first ones.
 */
struct worker_acks {
	struct queue_lease	*wa_l;
	uint64_t		*wa_claimed;	/* monotonic us */
	uint64_t		*wa_size;
	uint64_t		*wa_need;
	int			*wa_result;
	size_t			 wa_n;
};

static void	 worker_exit(struct worker *, int) __dead;
static void	 worker_docs_clear(struct worker *);
static void	 worker_homes(struct worker *);
static void	 worker_storage(struct worker *, int, const char *);
static void	 worker_moved(struct worker *, const struct worker_acks *);
static void	 worker_commit_wait(struct worker *);

/* Give back every lease we hold and leave. */
static void
worker_exit(struct worker *wk, int code)
{
	struct queue_release	 rel;

	(void)queue_release_pid(&wk->wk_q, getpid(), "worker stopped", 0,
	    &rel);
	queue_close(&wk->wk_q);
	_exit(code);
}

/*
 * A reload: the live options, and what follows from them.  The queue's
 * settings are read at use, so they change at once; the text path's
 * limits and chunk sizes wait for the next job (worker_ingest).
 */
static void
worker_config(struct worker *wk, const struct ipc_msg *m)
{
	struct store	*qs;

	if (child_config(&wk->wk_ch, m) == -1)
		return;
	config_queue(&wk->wk_ch.ch_conf, &wk->wk_q.q_conf);
	if ((qs = queue_store(&wk->wk_q)) != NULL)
		store_limit(qs, wk->wk_ch.ch_conf.c_mapmax);
	store_limit(&wk->wk_ix.ix_store, wk->wk_ch.ch_conf.c_mapmax);
	if (wk->wk_admit_set)
		wk->wk_q.q_conf.qc_big_inflight = wk->wk_admit;
	wk->wk_reconf = 1;
}

/*
 * Admission: the supervisor's budget for big jobs in flight, from the
 * memory left (0 while memory is short: claim none).  It stands in for
 * big-inflight until the next one.
 */
static void
worker_admit(struct worker *wk, const struct ipc_msg *m)
{
	wk->wk_admit_set = 1;
	wk->wk_admit = m->m_a;
	wk->wk_q.q_conf.qc_big_inflight = m->m_a;
	log_debug("worker %d: big jobs in flight up to %llu bytes%s",
	    wk->wk_ch.ch_slot, (unsigned long long)m->m_a,
	    m->m_b ? " (memory pressure)" : "");
}

/*
 * A cancel from the supervisor (IPC_CANCEL), which has already flagged
 * the job in the queue: the running job stops at the next look, a job
 * waiting in the batch is skipped.  Either way it is acked as
 * cancelled.  An order for a job we no longer run (it finished while
 * the order was on its way) changes nothing here: if its ack is still
 * to come, the queue's cancel flag makes it end cancelled.
 */
static void
worker_cancel(struct worker *wk, const struct ipc_msg *m)
{
	size_t	 i;

	if (wk->wk_job != 0 && m->m_a == wk->wk_job && m->m_b == wk->wk_gen) {
		wk->wk_cancel = 1;
		return;
	}
	for (i = wk->wk_next; i < wk->wk_njobs; i++)
		if (wk->wk_jobs[i].j_id == m->m_a &&
		    wk->wk_jobs[i].j_lease_gen == m->m_b) {
			wk->wk_jobs[i].j_cancel = 1;
			return;
		}
	log_debug("worker %d: cancel of job %llu, which we do not hold",
	    wk->wk_ch.ch_slot, (unsigned long long)m->m_a);
}

static void
worker_order(struct worker *wk, const struct ipc_msg *m)
{
	switch (m->m_type) {
	case IPC_CONFIG:
		worker_config(wk, m);
		break;
	case IPC_STOP:
		wk->wk_stop = 1;
		break;
	case IPC_ADMIT:
		worker_admit(wk, m);
		break;
	case IPC_CANCEL:
		worker_cancel(wk, m);
		break;
	case IPC_EXIT:
		worker_exit(wk, 0);
	default:
		log_warnx("%s: unexpected message %u", __func__, m->m_type);
		break;
	}
}

/* A figure for the supervisor's metrics (enum metrics_obs). */
static void
worker_metric(struct worker *wk, int what, uint64_t v)
{
	if (ipc_send(wk->wk_ch.ch_fd, IPC_METRIC, what, v, NULL) == -1)
		worker_exit(wk, 1);
}

/* How many of the first pending acks have their documents committed. */
static size_t
worker_durable(const struct worker *wk, const struct worker_acks *wa)
{
	size_t	 i;

	for (i = 0; i < wa->wa_n && wa->wa_need[i] <= wk->wk_commits; i++)
		;
	return (i);
}

/* The first n acks went through: their jobs' time from claim to ack. */
static void
worker_acked(struct worker *wk, struct worker_acks *wa, size_t n)
{
	uint64_t	 now = util_mono_us();
	size_t		 i, left = wa->wa_n - n;

	worker_moved(wk, wa);
	worker_docs_clear(wk);
	for (i = 0; i < n; i++) {
		if (wa->wa_result[i] != QUEUE_OK &&
		    wa->wa_result[i] != QUEUE_ECANCEL)
			continue;	/* the lease was lost: not ours */
		worker_metric(wk, MO_JOB, now - wa->wa_claimed[i]);
		if (wa->wa_result[i] == QUEUE_OK)
			worker_metric(wk, MO_BYTES, wa->wa_size[i]);
	}
	memmove(wa->wa_l, wa->wa_l + n, left * sizeof(*wa->wa_l));
	memmove(wa->wa_claimed, wa->wa_claimed + n,
	    left * sizeof(*wa->wa_claimed));
	memmove(wa->wa_size, wa->wa_size + n, left * sizeof(*wa->wa_size));
	memmove(wa->wa_need, wa->wa_need + n, left * sizeof(*wa->wa_need));
	wa->wa_n = left;
	wk->wk_deferred = wk->wk_deferred > n ? wk->wk_deferred - n : 0;
}

/*
 * The running job's fraction done, in permille: of its input read and
 * processed (ingest.c), or of a timed debug job's time.  Never 1000
 * while it runs: done is the ack's to say.
 */
static unsigned
worker_progress(struct worker *wk, uint64_t now)
{
	uint64_t	 pm;

	if (wk->wk_job == 0)
		return (0);
	if (wk->wk_dbg_ms != 0)
		pm = (now - wk->wk_dbg_at) * 1000 / wk->wk_dbg_ms;
	else
		pm = wk->wk_in.in_permille;
	return (pm > 999 ? 999 : (unsigned)pm);
}

/*
 * Keep the supervisor and the queue informed: a heartbeat frame each
 * interval, and one within WORKER_PROGRESS_MS when the progress moved
 * (what the HTTP API's event stream shows), a lease extension each
 * third of the lease.  Returns the
 * outcome to stop with, or WO_DONE to go on.
 */
static const char worker_beat_what[] = "lease extension";

/*
 * A lease extension that storage refused: told at once, so that the
 * supervisor does not take the lease for expired (it sweeps none while
 * a fault lasts); told over when one goes through, unless another
 * write met a fault since, which its own retry clears.
 */
static void
worker_beat_fault(struct worker *wk, int rc)
{
	if (queue_fault(rc) != STORE_FAULT_NONE)
		worker_storage(wk, queue_fault(rc), worker_beat_what);
	else if (rc == 0 && wk->wk_fault != STORE_FAULT_NONE &&
	    wk->wk_fault_what == worker_beat_what)
		worker_storage(wk, STORE_FAULT_NONE, worker_beat_what);
}

static int
worker_beat(struct worker *wk)
{
	uint64_t	 now = util_mono_ms();
	unsigned	 pm = worker_progress(wk, now);
	int		 rc;

	if (now - wk->wk_last_beat >= wk->wk_ch.ch_conf.c_heartbeat_ms ||
	    (pm != wk->wk_sent_pm && now - wk->wk_last_beat >=
	    WORKER_PROGRESS_MS)) {
		if (ipc_send(wk->wk_ch.ch_fd, IPC_HEARTBEAT, wk->wk_job, pm,
		    wk->wk_phase) == -1)
			worker_exit(wk, 1);
		wk->wk_last_beat = now;
		wk->wk_sent_pm = pm;
	}
	if (wk->wk_job != 0 &&
	    now - wk->wk_lease_at >= wk->wk_ch.ch_conf.c_lease_ms / 3) {
		/* The claimed jobs still waiting, then the running one. */
		(void)queue_extend_pid(&wk->wk_q, getpid());
		rc = queue_heartbeat(&wk->wk_q, wk->wk_job, wk->wk_gen, pm);
		wk->wk_lease_at = now;
		worker_beat_fault(wk, rc);
		if (rc == QUEUE_ESTALE)
			return (WO_LOST);
		if (rc == QUEUE_ECANCEL)
			return (WO_CANCELLED);
	}
	return (WO_DONE);
}

/*
 * Acks that worker_settle left waiting for a commit go as soon as it is
 * through, from the running job's looks (worker_wait), so that a long
 * next job does not hold them back; the running round's own acks wait
 * for their claim.
 */
static void
worker_ack_ready(struct worker *wk)
{
	struct worker_acks	*wa = wk->wk_acks;
	size_t			 n;

	if (wk->wk_deferred == 0 || !ixbatch_commit_done(&wk->wk_cm))
		return;
	worker_commit_wait(wk);
	if ((n = worker_durable(wk, wa)) > wk->wk_deferred)
		n = wk->wk_deferred;
	if (n > 0 && queue_ack(&wk->wk_q, wa->wa_l, n, wa->wa_result) == 0)
		worker_acked(wk, wa, n);
}

/* Wait ms milliseconds (0: just look), beating and taking orders. */
static int
worker_wait(struct worker *wk, uint64_t ms)
{
	struct ipc_msg	 m;
	uint64_t	 end = util_mono_ms() + ms, now, left;
	int		 rv, timeout;

	for (;;) {
		child_reopen(&wk->wk_ch);
		worker_ack_ready(wk);
		if ((rv = worker_beat(wk)) != WO_DONE)
			return (rv);
		now = util_mono_ms();
		left = now >= end ? 0 : end - now;
		timeout = left < wk->wk_ch.ch_conf.c_heartbeat_ms ? left :
		    wk->wk_ch.ch_conf.c_heartbeat_ms;
		if (wk->wk_job != 0 && timeout > WORKER_PROGRESS_MS)
			timeout = WORKER_PROGRESS_MS;
		rv = ipc_recv(wk->wk_ch.ch_fd, &wk->wk_ch.ch_ib, &m, timeout);
		if (rv == -1)
			worker_exit(wk, 0);	/* the supervisor is gone */
		if (rv == 1)
			worker_order(wk, &m);
		if (wk->wk_cancel)
			return (WO_CANCELLED);
		if (left == 0 && rv == 0)
			return (WO_DONE);
	}
}

/*
 * The text path's progress tick (is_tick): the clock, a vDSO call, for
 * job-timeout, and at most every WORKER_LOOK_MS (or heartbeat-interval,
 * if shorter) a look as worker_wait(0) takes.  Non-zero stops the job;
 * wk_stopped says why.  Time spent waiting out a storage fault does not
 * count against job-timeout (worker_fault_wait moves wk_job_at).
 */
static int
worker_tick(void *arg)
{
	struct worker	*wk = arg;
	uint64_t	 now = util_mono_ms(), every = WORKER_LOOK_MS;
	uint64_t	 limit = wk->wk_ch.ch_conf.c_job_timeout_ms;
	int		 rv;

	if (limit != 0 && now - wk->wk_job_at >= limit) {
		wk->wk_stopped = WO_TIMEOUT;
		return (1);
	}
	if (wk->wk_ch.ch_conf.c_heartbeat_ms < every)
		every = wk->wk_ch.ch_conf.c_heartbeat_ms;
	if (now - wk->wk_looked < every)
		return (0);
	wk->wk_looked = now;
	if ((rv = worker_wait(wk, 0)) == WO_DONE)
		return (0);
	wk->wk_stopped = rv;
	return (1);
}

static int
worker_debug_ms(struct worker *wk, const char *arg, uint64_t max,
    uint64_t *v)
{
	const char	*errstr;

	*v = strtonum(arg, 0, max, &errstr);
	if (errstr != NULL) {
		snprintf(wk->wk_error, sizeof(wk->wk_error),
		    "bad debug argument %s: %s", arg, errstr);
		return (-1);
	}
	return (0);
}

/*
 * hog MIB [MS]: hold MIB of touched memory for MS (1000) milliseconds.
 * Past worker-data-limit the allocation fails as a document's would:
 * fatal, and the supervisor names the cause memory-limit.
 */
static int
worker_hog(struct worker *wk, const char *arg, const char *arg2)
{
	uint64_t	 v, ms = 1000, i;
	char		*mem;
	int		 rv;

	if (worker_debug_ms(wk, arg, WORKER_HOG_MAX, &v) == -1 ||
	    (arg2[0] != '\0' && worker_debug_ms(wk, arg2, 86400000, &ms) == -1))
		return (WO_PERMANENT);
	if (v == 0)
		return (WO_DONE);
	if ((mem = malloc(v << 20)) == NULL)
		fatal("worker %d: hog of %llu MiB", wk->wk_ch.ch_slot,
		    (unsigned long long)v);
	for (i = 0; i < (v << 20); i += 4096)
		mem[i] = 1;
	rv = worker_wait(wk, ms);
	free(mem);
	return (rv);
}

/* Run a debug command. */
static int
worker_debug(struct worker *wk, const struct job *j)
{
	char		 cmd[64], arg[64], arg2[64];
	uint64_t	 v, end, i;
	int		 rv, n;

	if (!wk->wk_ch.ch_conf.c_debug_jobs) {
		strlcpy(wk->wk_error, "debug jobs are disabled",
		    sizeof(wk->wk_error));
		return (WO_PERMANENT);
	}
	arg[0] = arg2[0] = '\0';
	n = sscanf(j->j_path, "%63s %63s %63s", cmd, arg, arg2);
	if (n < 1) {
		strlcpy(wk->wk_error, "empty debug command",
		    sizeof(wk->wk_error));
		return (WO_PERMANENT);
	}
	snprintf(wk->wk_phase, sizeof(wk->wk_phase), "debug %.40s", cmd);
	if (strcmp(cmd, "noop") == 0)
		return (WO_DONE);
	if (strcmp(cmd, "sleep") == 0) {
		if (worker_debug_ms(wk, arg, 86400000, &v) == -1)
			return (WO_PERMANENT);
		wk->wk_dbg_at = util_mono_ms();
		wk->wk_dbg_ms = v;
		return (worker_wait(wk, v));
	}
	if (strcmp(cmd, "spin") == 0) {
		if (worker_debug_ms(wk, arg, 86400000, &v) == -1)
			return (WO_PERMANENT);
		wk->wk_dbg_at = util_mono_ms();
		wk->wk_dbg_ms = v;
		end = wk->wk_dbg_at + v;
		while (util_mono_ms() < end) {
			for (i = 0; i < 100000; i++)
				__asm__ volatile("" ::: "memory");
			if ((rv = worker_wait(wk, 0)) != WO_DONE)
				return (rv);
		}
		return (WO_DONE);
	}
	if (strcmp(cmd, "crash") == 0)
		abort();
	if (strcmp(cmd, "segv") == 0) {
		raise(SIGSEGV);
		_exit(139);
	}
	if (strcmp(cmd, "hang") == 0) {
		/* No heartbeats: the supervisor must notice. */
		for (;;)
			pause();
	}
	if (strcmp(cmd, "hog") == 0)
		return (worker_hog(wk, arg, arg2));
	if (strcmp(cmd, "fail") == 0) {
		strlcpy(wk->wk_error, "debug failure", sizeof(wk->wk_error));
		return (WO_FAIL);
	}
	snprintf(wk->wk_error, sizeof(wk->wk_error), "unknown debug command %s",
	    cmd);
	return (WO_PERMANENT);
}

/*
 * Storage faults.  A write that fails because the disk is full, the map
 * reached map-max or the disk failed is not the document's fault: the
 * worker tells the supervisor (which shows it in status and stops
 * sweeping leases meanwhile), keeps its batch and its leases, and tries
 * again, every WORKER_FAULT_MS at first and WORKER_FAULT_MAX_MS at
 * most, until the write goes through; then it says so.  A stop or exit
 * order while it waits gives back every lease uncounted.
 */
static void
worker_storage(struct worker *wk, int fault, const char *what)
{
	if (fault == wk->wk_fault)
		return;
	if (ipc_send(wk->wk_ch.ch_fd, IPC_STORAGE, fault, 0, what) == -1)
		worker_exit(wk, 1);
	wk->wk_fault = fault;
	wk->wk_fault_what = what;
}

/* Wait out a storage fault; returns the next wait. */
static uint64_t
worker_fault_wait(struct worker *wk, int fault, const char *what,
    uint64_t ms)
{
	char	 phase[sizeof(wk->wk_phase)];
	uint64_t t0 = util_mono_ms();

	worker_storage(wk, fault, what);
	strlcpy(phase, wk->wk_phase, sizeof(phase));
	snprintf(wk->wk_phase, sizeof(wk->wk_phase), "storage %s",
	    store_fault_name(fault));
	(void)worker_wait(wk, ms);
	strlcpy(wk->wk_phase, phase, sizeof(wk->wk_phase));
	/* Not the job's time: job-timeout pauses, as in the supervisor. */
	wk->wk_job_at += util_mono_ms() - t0;
	if (wk->wk_stop)
		worker_exit(wk, 0);
	return (ms * 2 > WORKER_FAULT_MAX_MS ? WORKER_FAULT_MAX_MS : ms * 2);
}

/*
 * Index sink: the text path's documents go into the worker's batch.  A
 * full batch is committed on a thread of its own (worker_commit_start)
 * while the next one fills, so the commit's writes and fsync overlap the
 * work on the next documents; a job's documents are in the index before
 * its ack: worker_settle() starts the commit of what is left and acks
 * only the jobs whose commits are through, or worker_commit() commits
 * it and waits.  A worker holds two batches: one filling (wk_batch),
 * one committing or empty (wk_spare).
 */

/* The commit under way, if any, through: a storage fault waits here. */
static void
worker_commit_wait(struct worker *wk)
{
	struct ixcommit	 res;
	uint64_t	 ms = WORKER_FAULT_MS, us;
	int		 rc, fault;

	if (!wk->wk_cm.cm_on)
		return;
	rc = ixbatch_commit_wait(&wk->wk_cm, &res, &us);
	/* The metric is the commit that went through, not the waits. */
	while (rc != 0) {
		if (rc == -1 ||
		    (fault = store_fault(rc)) == STORE_FAULT_NONE)
			fatalx("worker %d: index commit failed; its jobs go "
			    "back", wk->wk_ch.ch_slot);
		ms = worker_fault_wait(wk, fault, "index commit", ms);
		us = util_mono_us();
		rc = ixbatch_commit(&wk->wk_ix, wk->wk_spare, &res);
		us = util_mono_us() - us;
	}
	worker_metric(wk, MO_COMMIT, us);
	worker_storage(wk, STORE_FAULT_NONE, "index commit");
	ixbatch_reset(wk->wk_spare);
	wk->wk_commits++;
	log_debug("worker %d: committed %llu documents (%llu unchanged, "
	    "%llu replaced), %llu chunks, segment of %llu bytes in %llu ms",
	    wk->wk_ch.ch_slot, (unsigned long long)res.ic_added,
	    (unsigned long long)res.ic_unchanged,
	    (unsigned long long)res.ic_replaced,
	    (unsigned long long)res.ic_chunks,
	    (unsigned long long)res.ic_bytes,
	    (unsigned long long)(us / 1000));
}

/* The batch to a commit of its own, once the one before is through. */
static void
worker_commit_start(struct worker *wk)
{
	struct ixbatch	*b;

	if (ixbatch_ndocs(wk->wk_batch) == 0)
		return;
	worker_homes(wk);
	worker_commit_wait(wk);
	b = wk->wk_spare;
	wk->wk_spare = wk->wk_batch;
	wk->wk_batch = b;
	wk->wk_opened = 0;
	wk->wk_started++;
	ixbatch_commit_start(&wk->wk_cm, &wk->wk_ix, wk->wk_spare);
}

/* Every document so far into the index, committed: before acks. */
static void
worker_commit(struct worker *wk)
{
	char	 phase[sizeof(wk->wk_phase)];

	strlcpy(phase, wk->wk_phase, sizeof(phase));
	strlcpy(wk->wk_phase, "commit", sizeof(wk->wk_phase));
	worker_commit_start(wk);
	worker_commit_wait(wk);
	strlcpy(wk->wk_phase, phase, sizeof(wk->wk_phase));
}

/*
 * Before a claim: the documents of the jobs run so far go to a commit,
 * and they are in the index before their jobs are acked (and looked up
 * before the claim replaces the jobs they would be pinned from).  On
 * the LMDB queue, while there is work (defer), the worker does not wait
 * for that commit: the claim acks the jobs whose commits are through,
 * and the others go when their commit is through (worker_ack_ready),
 * their last batch committing while the next job runs.  Otherwise it
 * waits, and every job may be acked.  How many of the first pending
 * acks may go.
 */
static size_t
worker_settle(struct worker *wk, struct worker_acks *wa, int defer)
{
	if (wa->wa_n == 0 && wk->wk_ndocs == 0)
		return (0);
	if (defer && !wk->wk_stop &&
	    wk->wk_q.q_conf.qc_backend != QUEUE_BACKEND_PG)
		worker_commit_start(wk);
	else
		worker_commit(wk);
	return (worker_durable(wk, wa));
}

/*
 * Home hosts, on the PostgreSQL queue (see quired.8, MULTIPLE HOSTS).
 * The documents a worker indexes are kept with their jobs until the
 * jobs' ack, which records them as this host's.  Before a batch is
 * committed, its documents are looked up in the home records, in one
 * statement: one whose home is another host is left out of the batch
 * and becomes a job of its own pinned to that host (a record: its byte
 * range; a whole document: its job's source), enqueued then, so before
 * its job's ack.  A look-up or an enqueue that fails is waited out as a
 * storage fault is: the commit, and the acks, wait.
 */

/* A document indexed or deleted: its home record rides on the ack. */
static void
worker_doc_indexed(struct worker *wk, const struct job *j, int deleted)
{
	struct queue_doc	*qd;
	struct worker_doc	*wm;

	if (wk->wk_q.q_conf.qc_backend != QUEUE_BACKEND_PG)
		return;
	if (wk->wk_ndocs == wk->wk_doccap) {
		wk->wk_doccap = wk->wk_doccap == 0 ? 64 : wk->wk_doccap * 2;
		wk->wk_docs = xreallocarray(wk->wk_docs, wk->wk_doccap,
		    sizeof(*wk->wk_docs));
		wk->wk_dmeta = xreallocarray(wk->wk_dmeta, wk->wk_doccap,
		    sizeof(*wk->wk_dmeta));
	}
	qd = &wk->wk_docs[wk->wk_ndocs];
	wm = &wk->wk_dmeta[wk->wk_ndocs++];
	memset(qd, 0, sizeof(*qd));
	qd->qd_job = j->j_id;
	qd->qd_hash = wk->wk_dhash;
	qd->qd_deleted = deleted;
	qd->qd_tenant = xstrdup(j->j_tenant);
	qd->qd_extid = xstrdup(wk->wk_dext);
	qd->qd_away = wk->wk_daway != NULL ? xstrdup(wk->wk_daway) : NULL;
	memset(wm, 0, sizeof(*wm));
	wm->wm_job = j;
	wm->wm_off = wk->wk_doff;
	wm->wm_len = wk->wk_dlen;
	wm->wm_ix = deleted ? 0 : ixbatch_ndocs(wk->wk_batch) - 1;
	wm->wm_looked = deleted;	/* a delete runs on the home */
}

static void
worker_doc_free(struct queue_doc *qd)
{
	free((char *)qd->qd_tenant);
	free((char *)qd->qd_extid);
	free((char *)qd->qd_away);
}

/* The home records were written, or their jobs' acks will not be. */
static void
worker_docs_clear(struct worker *wk)
{
	size_t	 i;

	for (i = 0; i < wk->wk_ndocs; i++)
		worker_doc_free(&wk->wk_docs[i]);
	wk->wk_ndocs = 0;
}

/* Whether job id was acked as done by the acks wa. */
static int
worker_acked_done(const struct worker_acks *wa, uint64_t id)
{
	size_t	 i;

	for (i = 0; i < wa->wa_n; i++)
		if (wa->wa_l[i].ql_id == id)
			return (wa->wa_result[i] == QUEUE_OK);
	return (0);
}

/*
 * The acks of moves went through: a moved document whose home is not
 * this host (its move did nothing: another host had become its home)
 * is taken out of this index.  Not one whose lease was lost: its job
 * runs again, maybe here, and finds it there.  If the look-up fails,
 * it stays until the next start, which reconciles the index (home.c).
 */
static void
worker_moved(struct worker *wk, const struct worker_acks *wa)
{
	struct queue_doc	*look;
	const char		**gone;
	uint8_t			*foreign;
	size_t			 i, n = 0, ngone = 0;
	uint64_t		 deleted;
	int			 rc;

	for (i = 0; i < wk->wk_ndocs; i++)
		n += wk->wk_docs[i].qd_away != NULL &&
		    worker_acked_done(wa, wk->wk_docs[i].qd_job);
	if (n == 0)
		return;
	look = xcalloc(n, sizeof(*look));
	foreign = xcalloc(n, 1);
	gone = xcalloc(n, sizeof(*gone));
	for (i = n = 0; i < wk->wk_ndocs; i++)
		if (wk->wk_docs[i].qd_away != NULL &&
		    worker_acked_done(wa, wk->wk_docs[i].qd_job))
			look[n++] = wk->wk_docs[i];
	if ((rc = queue_pg_foreign(&wk->wk_q, look, n, foreign, NULL)) != 0)
		log_warnx("worker %d: moved documents' homes: %s",
		    wk->wk_ch.ch_slot, queue_strerror(rc));
	for (i = 0; rc == 0 && i < n; i++)
		if (foreign[i])
			gone[ngone++] = look[i].qd_extid;
	if (ngone > 0 && index_delete_many(&wk->wk_ix, gone, ngone,
	    &deleted) == 0)
		log_info("job %llu: %llu moved documents have another home: "
		    "taken out of this index (first: %s)",
		    (unsigned long long)look[0].qd_job,
		    (unsigned long long)deleted, util_vis(gone[0]));
	free(look);
	free(foreign);
	free(gone);
}

/* The pinned job of document k, whose home is home. */
static void
worker_pin_job(struct worker *wk, size_t k, const char *home,
    struct queue_new *qn, char *key, size_t keylen)
{
	const struct worker_doc	*wm = &wk->wk_dmeta[k];
	const struct job	*j = wm->wm_job;
	int			 ranged;

	ranged = wm->wm_len != j->j_len || j->j_srckind == SRC_NDJSON;
	/* Keyed, so a rerun of the job pins each document once. */
	snprintf(key, keylen, "home:%llu:%llu", (unsigned long long)j->j_id,
	    (unsigned long long)wm->wm_off);
	memset(qn, 0, sizeof(*qn));
	qn->qn_key = key;
	qn->qn_tenant = j->j_tenant;
	qn->qn_prio = j->j_prio;
	qn->qn_srckind = ranged && j->j_srckind == SRC_PATH ? SRC_NDJSON :
	    j->j_srckind;
	qn->qn_path = j->j_path;
	qn->qn_off = wm->wm_off;
	qn->qn_len = wm->wm_len;
	qn->qn_size = ranged ? wm->wm_len : j->j_size;
	qn->qn_lang = j->j_lang[0] != '\0' ? j->j_lang : NULL;
	qn->qn_extid = j->j_extid[0] != '\0' ? j->j_extid : NULL;
	qn->qn_title = j->j_title[0] != '\0' ? j->j_title : NULL;
	qn->qn_ctype = j->j_ctype[0] != '\0' ? j->j_ctype : NULL;
	qn->qn_home = home;
	qn->qn_docid = wk->wk_docs[k].qd_extid;
}

/* A look-up or an enqueue failed: wait, as for a storage fault. */
static uint64_t
worker_home_wait(struct worker *wk, int rc, const char *what, uint64_t ms)
{
	int	 fault = queue_fault(rc);

	log_warnx("worker %d: %s: %s", wk->wk_ch.ch_slot, what,
	    queue_strerror(rc));
	return (worker_fault_wait(wk, fault != STORE_FAULT_NONE ? fault :
	    STORE_FAULT_IO, what, ms));
}

/*
 * An upload that is not in this host's spool, on the PostgreSQL queue
 * (the sink's is_spool; see queue_pg_spool.c): the body's size, or len
 * bytes of it at off, from the database.  A server that does not answer
 * is waited out as a storage fault, the job's lease kept and no attempt
 * counted: it is not the document's fault.  -1 when the database has
 * no such body.
 */
static int
worker_ix_spool(void *arg, const char *name, uint64_t off, size_t len,
    void *dst, uint64_t *size)
{
	struct worker	*wk = arg;
	uint64_t	 ms = WORKER_FAULT_MS;
	int		 rc, stored, waited = 0;

	for (;;) {
		if (dst == NULL) {
			rc = queue_pg_spool_size(&wk->wk_q, name, size,
			    &stored);
			if (rc == 0 && !stored)
				rc = QUEUE_ENOENT;
		} else
			rc = queue_pg_spool_read(&wk->wk_q, name, off, len,
			    dst);
		if (rc == 0 || rc == QUEUE_ENOENT)
			break;
		ms = worker_home_wait(wk, rc, "upload read", ms);
		waited = 1;
	}
	if (waited)
		worker_storage(wk, STORE_FAULT_NONE, "upload read");
	return (rc == 0 ? 0 : -1);
}

/*
 * The documents of the filling batch not yet looked up: those whose home
 * is another host leave the batch, and go there as jobs of their own.
 * A moved document stays if its home is still the drained host (or it
 * has none), and leaves without a job if another host is its home now:
 * that host has its own.
 */
static void
worker_homes(struct worker *wk)
{
	struct queue_doc	*look;
	struct queue_new	*qn;
	char			(*homes)[QUEUE_HOST_MAX + 1], (*keys)[64];
	uint8_t			*foreign;
	size_t			*at, i, k, n = 0, npin = 0, kept;
	uint64_t		 ms = WORKER_FAULT_MS;
	int			 rc;

	for (i = 0; i < wk->wk_ndocs; i++)
		n += !wk->wk_dmeta[i].wm_looked;
	if (n == 0)
		return;
	look = xcalloc(n, sizeof(*look));
	at = xcalloc(n, sizeof(*at));
	foreign = xcalloc(n, 1);
	homes = xcalloc(n, sizeof(*homes));
	for (i = k = 0; i < wk->wk_ndocs; i++)
		if (!wk->wk_dmeta[i].wm_looked) {
			at[k] = i;
			look[k++] = wk->wk_docs[i];
		}
	while ((rc = queue_pg_foreign(&wk->wk_q, look, n, foreign, homes))
	    != 0)
		ms = worker_home_wait(wk, rc, "home look-up", ms);
	qn = xcalloc(n, sizeof(*qn));
	keys = xcalloc(n, sizeof(*keys));
	for (k = 0; k < n; k++) {
		wk->wk_dmeta[at[k]].wm_looked = 1;
		if (foreign[k] && look[k].qd_away != NULL &&
		    strcmp(homes[k], look[k].qd_away) == 0)
			foreign[k] = 0;
		if (!foreign[k])
			continue;
		ixbatch_drop_doc(wk->wk_batch, wk->wk_dmeta[at[k]].wm_ix);
		if (look[k].qd_away != NULL) {
			log_info("job %llu: %s has its home on %s now: not "
			    "moved", (unsigned long long)look[k].qd_job,
			    util_vis(look[k].qd_extid), util_vis(homes[k]));
			continue;
		}
		worker_pin_job(wk, at[k], homes[k], &qn[npin], keys[npin],
		    sizeof(keys[0]));
		npin++;
	}
	ms = WORKER_FAULT_MS;
	while (npin > 0 && (rc = queue_enqueue(&wk->wk_q, qn, npin)) != 0)
		ms = worker_home_wait(wk, rc, "pinning documents", ms);
	if (npin > 0)
		log_info("job %llu: %zu documents whose home is another host "
		    "(first: %s) go there", (unsigned long long)
		    wk->wk_dmeta[at[0]].wm_job->j_id, npin,
		    util_vis(qn[0].qn_home));
	/* The documents left out have no home record here. */
	for (i = kept = k = 0; i < wk->wk_ndocs; i++) {
		if (k < n && at[k] == i && foreign[k++]) {
			worker_doc_free(&wk->wk_docs[i]);
			continue;
		}
		wk->wk_docs[kept] = wk->wk_docs[i];
		wk->wk_dmeta[kept++] = wk->wk_dmeta[i];
	}
	wk->wk_ndocs = kept;
	free(look);
	free(at);
	free(foreign);
	free(homes);
	free(qn);
	free(keys);
}

static int
worker_ix_doc(void *arg, struct xdoc *doc)
{
	struct worker		*wk = arg;
	const struct job	*j = wk->wk_cur;
	struct ixdoc_info	 di;
	char			 extid[JOB_PATH_MAX + 64];

	/*
	 * The external id: a record's id field, else its file and offset;
	 * the uploader's id; a file's path (a spool name for an upload
	 * without an id).  Ids too long for a key become a hash of
	 * themselves.
	 */
	if (doc->xd_type == DOC_NDJSON && doc->xd_id != NULL)
		strlcpy(extid, doc->xd_id, sizeof(extid));
	else if (doc->xd_type == DOC_NDJSON)
		snprintf(extid, sizeof(extid), "%s@%llu", j->j_path,
		    (unsigned long long)doc->xd_off);
	else if (j->j_extid[0] != '\0')
		strlcpy(extid, j->j_extid, sizeof(extid));
	else
		strlcpy(extid, j->j_path, sizeof(extid));
	index_extid(wk->wk_dext, sizeof(wk->wk_dext), extid);
	/* Where it is in its source, should it go to its home host. */
	wk->wk_doff = doc->xd_type == DOC_NDJSON ? doc->xd_off : j->j_off;
	wk->wk_dlen = doc->xd_type == DOC_NDJSON ? doc->xd_len : j->j_len;
	memset(&di, 0, sizeof(di));
	di.di_extid = wk->wk_dext;
	di.di_hash = XXH3_64bits(doc->xd_text.b_data, doc->xd_text.b_len) ^
	    (doc->xd_title != NULL ? XXH3_64bits(doc->xd_title,
	    strlen(doc->xd_title)) : 0);
	wk->wk_dhash = di.di_hash;
	di.di_job = j->j_id;
	di.di_title = doc->xd_title;
	di.di_type = doc->xd_type;
	wk->wk_type = extract_type_name(doc->xd_type);
	di.di_tenant = j->j_tenant;
	di.di_source = j->j_path;
	di.di_attrs = doc->xd_attrs;
	di.di_nattrs = doc->xd_nattrs;
	return (ixbatch_doc(wk->wk_batch, &di));
}

/* The i'th filter term of a chunk. */
static void
worker_ix_filter(struct worker *wk, size_t i, const char *name,
    const char *value)
{
	struct worker_filter	*f = &wk->wk_filters[i];

	buf_reset(&wk->wk_term);
	buf_addstr(&wk->wk_term, name);
	buf_addc(&wk->wk_term, '=');
	buf_addstr(&wk->wk_term, value);
	if (f->wf_term.b_len != wk->wk_term.b_len || memcmp(f->wf_term.b_data,
	    wk->wk_term.b_data, wk->wk_term.b_len) != 0) {
		buf_reset(&f->wf_term);
		buf_add(&f->wf_term, wk->wk_term.b_data, wk->wk_term.b_len);
		memset(f->wf_memo, 0, sizeof(f->wf_memo));
	}
	ixbatch_term_memo(wk->wk_batch, IX_FILTER, wk->wk_term.b_data,
	    wk->wk_term.b_len, 0, f->wf_memo);
}

/*
 * The i'th filter term, one whose value stays where it is while the job
 * runs (its tenant and source, a type's name): made again only when the
 * job or the value's place changes, not for every chunk.
 */
static void
worker_ix_jfilter(struct worker *wk, size_t i, const char *name,
    const char *value)
{
	struct worker_filter	*f = &wk->wk_filters[i];

	if (f->wf_value != value || f->wf_job != wk->wk_job) {
		worker_ix_filter(wk, i, name, value);
		f->wf_value = value;
		f->wf_job = wk->wk_job;
		return;
	}
	ixbatch_term_memo(wk->wk_batch, IX_FILTER, f->wf_term.b_data,
	    f->wf_term.b_len, 0, f->wf_memo);
}

/* A chunk of doc, its text, and the filters every chunk has. */
static int
worker_ix_text(struct worker *wk, const struct xdoc *doc,
    const char *heading, const char *text, size_t len)
{
	const struct job	*j = wk->wk_cur;
	size_t			 i;

	if (ixbatch_chunk(wk->wk_batch, heading, text, len) == -1)
		return (-1);
	/* Filters are exact terms of every chunk. */
	worker_ix_jfilter(wk, 0, "tenant", j->j_tenant);
	worker_ix_jfilter(wk, 1, "type", extract_type_name(doc->xd_type));
	worker_ix_jfilter(wk, 2, "source", j->j_path);
	for (i = 0; i < doc->xd_nattrs && i < WORKER_FILTERS - 3; i++)
		worker_ix_filter(wk, 3 + i, doc->xd_attrs[i].xa_name,
		    doc->xd_attrs[i].xa_value);
	return (0);
}

static int
worker_ix_chunk(void *arg, const struct xdoc *doc, const struct chunk *c)
{
	struct worker	*wk = arg;

	return (worker_ix_text(wk, doc, c->c_heading,
	    doc->xd_text.b_data + c->c_off, c->c_len));
}

static int
worker_ix_token(void *arg, int field, const struct token *t)
{
	struct worker	*wk = arg;

	return (ixbatch_term_memo(wk->wk_batch, field, t->t_text, t->t_len,
	    t->t_pos, t->t_memo) == -1 ? -1 : 0);
}

static int
worker_ix_done(void *arg, struct xdoc *doc)
{
	struct worker	*wk = arg;
	uint64_t	 now;

	ixbatch_end_doc(wk->wk_batch);
	worker_doc_indexed(wk, wk->wk_cur, 0);
	now = util_mono_ms();
	if (wk->wk_opened == 0)
		wk->wk_opened = now;
	if (ixbatch_ndocs(wk->wk_batch) >= wk->wk_ch.ch_conf.c_batch_docs ||
	    ixbatch_bytes(wk->wk_batch) >= wk->wk_ch.ch_conf.c_batch_bytes ||
	    now - wk->wk_opened >= wk->wk_ch.ch_conf.c_batch_linger_ms) {
		/*
		 * A commit makes no progress it could report, and one of a
		 * big document takes a while (a second for 50 MB of text):
		 * it gets a whole hang-timeout from here.
		 */
		if (ipc_send(wk->wk_ch.ch_fd, IPC_HEARTBEAT, wk->wk_job,
		    worker_progress(wk, now), "commit") == -1)
			worker_exit(wk, 1);
		wk->wk_last_beat = now;
		worker_commit_start(wk);
	}
	return (0);
}

static void
worker_ix_abort(void *arg, struct xdoc *doc)
{
	struct worker	*wk = arg;

	ixbatch_abort_doc(wk->wk_batch);
}

/* File the records of a range that failed on their own as dead letters. */
static void
worker_dead_records(struct worker *wk, const struct job *j)
{
	struct queue_new	*qn;
	struct ingest_fail	*f;
	char			 (*keys)[64 + JOB_PATH_MAX];
	size_t			 i, n = wk->wk_in.in_nfails;
	int			 rc;

	if (n == 0)
		return;
	qn = xcalloc(n, sizeof(*qn));
	keys = xcalloc(n, sizeof(*keys));
	for (i = 0; i < n; i++) {
		f = &wk->wk_in.in_fails[i];
		/* Keyed, so a rerun of the range files each record once. */
		snprintf(keys[i], sizeof(keys[i]), "record:%llu:%llu",
		    (unsigned long long)j->j_id, (unsigned long long)f->if_off);
		qn[i].qn_key = keys[i];
		qn[i].qn_tenant = j->j_tenant;
		qn[i].qn_prio = j->j_prio;
		/* A bulk's record stays in the spool, a file's in its file. */
		qn[i].qn_srckind = j->j_srckind == SRC_SPOOL ? SRC_SPOOL :
		    SRC_NDJSON;
		qn[i].qn_path = j->j_path;
		qn[i].qn_off = f->if_off;
		qn[i].qn_len = f->if_len;
		qn[i].qn_size = f->if_len;
		qn[i].qn_lang = j->j_lang[0] != '\0' ? j->j_lang : NULL;
		qn[i].qn_dead = f->if_reason;
	}
	if ((rc = queue_enqueue(&wk->wk_q, qn, n)) != 0)
		log_warnx("job %llu: filing %zu bad records: %s",
		    (unsigned long long)j->j_id, n, queue_strerror(rc));
	else
		log_info("job %llu: %zu records failed on their own (first: "
		    "%s)", (unsigned long long)j->j_id, n,
		    wk->wk_in.in_fails[0].if_reason);
	free(qn);
	free(keys);
}

/* A document job: the text path, into the index batch. */
static int
worker_ingest(struct worker *wk, const struct job *j)
{
	int	 rv;

	if (wk->wk_reconf) {
		ingest_reconf(&wk->wk_in);
		wk->wk_reconf = 0;
	}
	strlcpy(wk->wk_phase, "extract", sizeof(wk->wk_phase));
	wk->wk_cur = j;
	wk->wk_stopped = WO_FAIL;
	rv = ingest_job(&wk->wk_in, j);
	wk->wk_cur = NULL;
	if (rv == INGEST_STOP)
		return (wk->wk_stopped);
	if (rv == INGEST_OK) {
		worker_dead_records(wk, j);
		return (WO_DONE);
	}
	snprintf(wk->wk_error, sizeof(wk->wk_error), "%s%s%s",
	    wk->wk_in.in_err.xe_code, wk->wk_in.in_err.xe_msg[0] != '\0' ?
	    ": " : "", wk->wk_in.in_err.xe_msg);
	return (rv == INGEST_BAD ? WO_PERMANENT : WO_FAIL);
}

/*
 * A delete claimed here whose document's home is another host (a job
 * that lost its pin: a drained host's, unpinned at the drain's end)
 * goes there: 1 when sent, 0 when this host is the home or there is
 * none, -1 when the look-up or the enqueue failed (retried).
 */
static int
worker_delete_home(struct worker *wk, const struct job *j)
{
	struct queue_doc	 qd;
	struct queue_new	 qn;
	char			 home[1][QUEUE_HOST_MAX + 1], key[64];
	uint8_t			 foreign = 0;
	int			 rc;

	if (wk->wk_q.q_conf.qc_backend != QUEUE_BACKEND_PG)
		return (0);
	memset(&qd, 0, sizeof(qd));
	qd.qd_tenant = j->j_tenant;
	qd.qd_extid = wk->wk_dext;
	if ((rc = queue_pg_foreign(&wk->wk_q, &qd, 1, &foreign, home)) != 0) {
		snprintf(wk->wk_error, sizeof(wk->wk_error), "home look-up: "
		    "%s", queue_strerror(rc));
		return (-1);
	}
	if (!foreign)
		return (0);
	snprintf(key, sizeof(key), "home:%llu:0", (unsigned long long)j->j_id);
	memset(&qn, 0, sizeof(qn));
	qn.qn_key = key;
	qn.qn_tenant = j->j_tenant;
	qn.qn_prio = j->j_prio;
	qn.qn_srckind = SRC_DELETE;
	qn.qn_extid = j->j_extid;
	qn.qn_home = home[0];
	if ((rc = queue_enqueue(&wk->wk_q, &qn, 1)) != 0) {
		snprintf(wk->wk_error, sizeof(wk->wk_error), "pinning the "
		    "delete: %s", queue_strerror(rc));
		return (-1);
	}
	log_info("job %llu: %s has its home on %s: the delete goes there",
	    (unsigned long long)j->j_id, util_vis(wk->wk_dext),
	    util_vis(home[0]));
	return (1);
}

/*
 * A delete job (a document deleted through another host than its
 * home, which the job is pinned to): gone from this index, and from
 * the home records at its ack.  The documents before it in the batch
 * are committed first, so that none comes back after it.
 */
static int
worker_delete(struct worker *wk, const struct job *j)
{
	int	 rc;

	strlcpy(wk->wk_phase, "delete", sizeof(wk->wk_phase));
	worker_commit(wk);
	index_extid(wk->wk_dext, sizeof(wk->wk_dext), j->j_extid);
	if ((rc = worker_delete_home(wk, j)) != 0)
		return (rc == 1 ? WO_DONE : WO_FAIL);
	if ((rc = index_delete(&wk->wk_ix, wk->wk_dext)) == -1) {
		strlcpy(wk->wk_error, "index delete failed",
		    sizeof(wk->wk_error));
		return (WO_FAIL);
	}
	log_info("job %llu: %s %s", (unsigned long long)j->j_id,
	    util_vis(wk->wk_dext), rc == 0 ? "deleted" : "was not here");
	wk->wk_dhash = 0;
	worker_doc_indexed(wk, j, 1);
	return (WO_DONE);
}

/* A moved document's words, in the title's field and the text's. */
static int
worker_move_title(const struct token *t, void *arg)
{
	return (worker_ix_token(arg, IX_TITLE, t));
}

static int
worker_move_text(const struct token *t, void *arg)
{
	return (worker_ix_token(arg, IX_BODY, t));
}

/* The document of a move into the batch, as ingest_job would put it. */
static int
worker_move_doc(struct worker *wk, const struct job *j, struct move *mv,
    struct tokenizer *tk)
{
	const struct xdoc	*doc = &mv->mv_doc;
	const struct move_chunk	*mc;
	struct ixdoc_info	 di;
	size_t			 i;

	memset(&di, 0, sizeof(di));
	di.di_extid = wk->wk_dext;
	di.di_hash = mv->mv_hash;
	di.di_job = j->j_id;
	di.di_title = doc->xd_title;
	di.di_type = doc->xd_type;
	di.di_tenant = j->j_tenant;
	di.di_source = j->j_path;
	di.di_attrs = doc->xd_attrs;
	di.di_nattrs = doc->xd_nattrs;
	if (ixbatch_doc(wk->wk_batch, &di) == -1)
		return (WO_PERMANENT);
	for (i = 0; i < mv->mv_nchunks; i++) {
		mc = &mv->mv_chunks[i];
		if (worker_tick(wk) != 0) {
			ixbatch_abort_doc(wk->wk_batch);
			return (wk->wk_stopped);
		}
		if (worker_ix_text(wk, doc, mc->mc_heading, mc->mc_text,
		    mc->mc_len) == -1 || (i == 0 && doc->xd_title != NULL &&
		    tokenizer_run(tk, doc->xd_title, strlen(doc->xd_title), 0,
		    worker_move_title, wk) != 0) || tokenizer_run(tk,
		    mc->mc_text, mc->mc_len, 0, worker_move_text, wk) != 0) {
			ixbatch_abort_doc(wk->wk_batch);
			return (WO_FAIL);
		}
	}
	wk->wk_dhash = mv->mv_hash;
	wk->wk_doff = wk->wk_dlen = 0;
	wk->wk_daway = mv->mv_away;
	worker_ix_done(wk, NULL);
	wk->wk_daway = NULL;
	return (WO_DONE);
}

/*
 * A move job: a drained host's document, from the chunks its body
 * carries, with the drained host's hash, title, type, attributes,
 * tenant and source, so that it is the same document here; its ack
 * makes this host its home (qpg_moves).  Words are stemmed in the
 * job's language (the drained host's), with this host's stopwords.
 */
static int
worker_move(struct worker *wk, const struct job *j)
{
	struct move		 mv;
	struct tokenizer	*tk;
	int			 rc, rv;

	strlcpy(wk->wk_phase, "move", sizeof(wk->wk_phase));
	if ((rc = queue_pg_body(&wk->wk_q, j->j_id, j->j_lease_gen,
	    &wk->wk_body)) != 0) {
		if (rc == QUEUE_ESTALE)
			return (WO_LOST);
		snprintf(wk->wk_error, sizeof(wk->wk_error), "%s",
		    rc == QUEUE_ENOENT ? "move-missing: the job carries no "
		    "document" : queue_strerror(rc));
		return (rc == QUEUE_ENOENT ? WO_PERMANENT : WO_FAIL);
	}
	rv = WO_PERMANENT;
	if (move_decode(&mv, &wk->wk_body) == -1)
		strlcpy(wk->wk_error, "bad-move: the document it carries is "
		    "damaged", sizeof(wk->wk_error));
	else if ((tk = ingest_tokenizer(&wk->wk_in, j->j_lang)) == NULL)
		snprintf(wk->wk_error, sizeof(wk->wk_error), "bad-language: "
		    "no stemmer for %s", j->j_lang);
	else {
		index_extid(wk->wk_dext, sizeof(wk->wk_dext), j->j_extid);
		wk->wk_type = extract_type_name(mv.mv_doc.xd_type);
		wk->wk_cur = j;
		wk->wk_stopped = WO_FAIL;
		rv = worker_move_doc(wk, j, &mv, tk);
		if (rv == WO_PERMANENT)
			strlcpy(wk->wk_error, "bad-move: its document does "
			    "not fit the index", sizeof(wk->wk_error));
		else if (rv == WO_FAIL && wk->wk_error[0] == '\0')
			strlcpy(wk->wk_error, "move: indexing failed",
			    sizeof(wk->wk_error));
		wk->wk_cur = NULL;
	}
	move_free(&mv);
	buf_reset(&wk->wk_body);
	return (rv);
}

static void
worker_debug_log(struct worker *wk, const struct job *j)
{
	const char	*datadir = wk->wk_ch.ch_conf.c_datadir;
	int		 dfd, fd = -1;

	/* In the data directory: never through a link (util_openat_file). */
	if ((dfd = open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fd = util_openat_file(dfd, "debug-jobs.log", O_WRONLY |
		    O_APPEND | O_CREAT, 0640);
		close(dfd);
	}
	if (fd == -1) {
		log_warnx("%s: %s/debug-jobs.log: %s", __func__, datadir,
		    util_open_strerror(errno));
		return;
	}
	dprintf(fd, "%llu %llu\n", (unsigned long long)j->j_id,
	    (unsigned long long)j->j_lease_gen);
	close(fd);
}

static int
worker_run(struct worker *wk, const struct job *j)
{
	char	 what[128], limit[32];
	int	 rv;

	wk->wk_job = j->j_id;
	wk->wk_gen = j->j_lease_gen;
	wk->wk_cancel = 0;
	wk->wk_sent_pm = 0;
	wk->wk_dbg_ms = 0;
	wk->wk_in.in_permille = 0;
	wk->wk_job_at = wk->wk_looked = util_mono_ms();
	wk->wk_error[0] = '\0';
	wk->wk_type = NULL;
	snprintf(what, sizeof(what), "%s %s", codec_source_name(j->j_srckind),
	    j->j_path);
	if (ipc_send(wk->wk_ch.ch_fd, IPC_JOB_START, j->j_id, j->j_lease_gen,
	    what) == -1)
		worker_exit(wk, 1);
	if (j->j_srckind == SRC_DEBUG)
		rv = worker_debug(wk, j);
	else if (j->j_srckind == SRC_DELETE)
		rv = worker_delete(wk, j);
	else if (j->j_srckind == SRC_MOVE)
		rv = worker_move(wk, j);
	else
		rv = worker_ingest(wk, j);
	if (rv == WO_DONE && j->j_srckind == SRC_DEBUG)
		worker_debug_log(wk, j);
	if (rv == WO_TIMEOUT) {
		/* Not the document's fault as such, but no retry fixes it. */
		util_format_duration(wk->wk_ch.ch_conf.c_job_timeout_ms, limit,
		    sizeof(limit));
		snprintf(wk->wk_error, sizeof(wk->wk_error),
		    "time limit %s exceeded", limit);
		rv = WO_PERMANENT;
	}
	/* What it was and how big: the supervisor learns its memory cost. */
	snprintf(what, sizeof(what), "%s %llu", j->j_srckind == SRC_DEBUG ?
	    "debug" : wk->wk_type != NULL ? wk->wk_type : "none",
	    (unsigned long long)j->j_size);
	if (ipc_send(wk->wk_ch.ch_fd, IPC_JOB_DONE, j->j_id, rv, what) == -1)
		worker_exit(wk, 1);
	wk->wk_job = 0;
	wk->wk_cancel = 0;
	wk->wk_dbg_ms = 0;
	strlcpy(wk->wk_phase, "idle", sizeof(wk->wk_phase));
	return (rv);
}

/*
 * A cancelled job is acked at once and alone, so that it shows as
 * cancelled now rather than when its batch ends; the other jobs' acks
 * still wait for their documents' commit.  -1: the ack did not go
 * through (a storage fault), and it rides on the next one.
 */
static int
worker_ack_cancelled(struct worker *wk, const struct job *j, int started)
{
	struct queue_lease	 ql;
	int			 result;

	ql.ql_id = j->j_id;
	ql.ql_gen = j->j_lease_gen;
	if (queue_ack(&wk->wk_q, &ql, 1, &result) != 0)
		return (-1);
	if (result == QUEUE_ESTALE)
		log_warnx("job %llu: lease lost", (unsigned long long)j->j_id);
	else
		log_info("job %llu cancelled %s", (unsigned long long)j->j_id,
		    started ? "while running" : "before it started");
	return (0);
}

/* Nothing to claim: wait for work, or a while (see the top). */
static void
worker_idle(struct worker *wk)
{
	struct pollfd	 pfd[2];
	uint64_t	 end, now, left;
	int		 timeout;

	if (wk->wk_q.q_conf.qc_backend != QUEUE_BACKEND_PG) {
		(void)worker_wait(wk, WORKER_IDLE_MS);
		return;
	}
	end = util_mono_ms() + WORKER_PG_IDLE_MS;
	for (;;) {
		/* Orders and beats first; then a notification, if any. */
		(void)worker_wait(wk, 0);
		if (wk->wk_stop || queue_pg_wait(&wk->wk_q, 0) != 0)
			return;
		if ((now = util_mono_ms()) >= end)
			return;
		left = end - now;
		timeout = left < wk->wk_ch.ch_conf.c_heartbeat_ms ? left :
		    wk->wk_ch.ch_conf.c_heartbeat_ms;
		pfd[0].fd = wk->wk_ch.ch_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = queue_pg_fd(&wk->wk_q);
		pfd[1].events = POLLIN;
		if (pfd[1].fd == -1) {
			/* The connection failed: the next claim says why. */
			(void)worker_wait(wk, left);
			return;
		}
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
			log_warn("worker %d: poll", wk->wk_ch.ch_slot);
			(void)worker_wait(wk, left);
			return;
		}
	}
}

/* Tests of slow starts: QUIRED_DEBUG_WORKER_SLOW milliseconds, silent. */
static void
worker_debug_slow_start(const struct quire_conf *c)
{
	struct timespec	 ts;
	const char	*s, *errstr;
	long long	 ms;

	if (!c->c_debug_jobs || (s = getenv("QUIRED_DEBUG_WORKER_SLOW")) == NULL)
		return;
	ms = strtonum(s, 0, 600000, &errstr);
	if (errstr != NULL)
		fatalx("QUIRED_DEBUG_WORKER_SLOW %s: %s", s, errstr);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The worker's own start-up, after child_setup. */
static void
worker_setup(struct worker *wk)
{
	const struct quire_conf	*c = &wk->wk_ch.ch_conf;
	int			 slot = wk->wk_ch.ch_slot;
	struct queue_conf	 qc;
	struct rlimit		 rl;

	/* Tests of crash loops: a worker that cannot start. */
	if (c->c_debug_jobs && getenv("QUIRED_DEBUG_WORKER_FAIL") != NULL)
		fatalx("worker %d: failing at start-up "
		    "(QUIRED_DEBUG_WORKER_FAIL is set)", slot);
	worker_debug_slow_start(c);
	config_queue(c, &qc);
	if (queue_open(&wk->wk_q, c->c_datadir, &qc) == -1)
		fatalx("worker %d: cannot open the queue", slot);
	if (index_open(&wk->wk_ix, c->c_datadir, c->c_mapsize, c->c_sync)
	    == -1)
		fatalx("worker %d: cannot open the index", slot);
	if (queue_store(&wk->wk_q) != NULL) {
		store_limit(queue_store(&wk->wk_q), c->c_mapmax);
		(void)store_overlap(queue_store(&wk->wk_q));
	}
	store_limit(&wk->wk_ix.ix_store, c->c_mapmax);
	(void)store_overlap(&wk->wk_ix.ix_store);
	if (ingest_init(&wk->wk_in, c) == -1)
		fatalx("worker %d: cannot set up the text path", slot);
	wk->wk_batch = ixbatch_new();
	wk->wk_spare = ixbatch_new();
	/*
	 * Batch after batch allocates about the same memory: kept in the
	 * heap, it is used again, where given back to the system at every
	 * free it came back as fresh pages the kernel zeroed (a tenth of
	 * the work on short records).  It goes back when the worker is
	 * idle.
	 */
	mallopt(M_TRIM_THRESHOLD, WORKER_HEAP_KEEP);
	mallopt(M_MMAP_THRESHOLD, WORKER_HEAP_MMAP);
	buf_init(&wk->wk_term);
	wk->wk_sink.is_arg = wk;
	wk->wk_sink.is_doc = worker_ix_doc;
	wk->wk_sink.is_chunk = worker_ix_chunk;
	wk->wk_sink.is_token = worker_ix_token;
	wk->wk_sink.is_done = worker_ix_done;
	wk->wk_sink.is_abort = worker_ix_abort;
	wk->wk_sink.is_tick = worker_tick;
	if (qc.qc_backend == QUEUE_BACKEND_PG)
		wk->wk_sink.is_spool = worker_ix_spool;
	wk->wk_in.in_sink = &wk->wk_sink;
#ifndef __SANITIZE_ADDRESS__
	rl.rlim_cur = rl.rlim_max = c->c_data_limit;
	if (setrlimit(RLIMIT_DATA, &rl) == -1)
		log_warn("worker %d: RLIMIT_DATA", slot);
#else
	/* AddressSanitizer's shadow memory alone is past any data limit. */
	(void)rl;
#endif
	wk->wk_owner.qo_pid = getpid();
	wk->wk_owner.qo_slot = slot;
	strlcpy(wk->wk_phase, "idle", sizeof(wk->wk_phase));
}

/*
 * Room for the acks of k claimed jobs, and of the k before them that may
 * still wait for their commit.
 */
static void
worker_acks_init(struct worker_acks *wa, size_t k)
{
	memset(wa, 0, sizeof(*wa));
	wa->wa_l = xcalloc(2 * k, sizeof(*wa->wa_l));
	wa->wa_claimed = xcalloc(2 * k, sizeof(*wa->wa_claimed));
	wa->wa_size = xcalloc(2 * k, sizeof(*wa->wa_size));
	wa->wa_need = xcalloc(2 * k, sizeof(*wa->wa_need));
	wa->wa_result = xcalloc(2 * k, sizeof(*wa->wa_result));
}

/* Run one claimed job and file its outcome: an ack to come, or a failure. */
static void
worker_one(struct worker *wk, struct worker_acks *wa, const struct job *j,
    uint64_t claimed)
{
	char	 src[64 + JOB_PATH_MAX];
	int	 rv, state;

	if (j->j_cancel)
		rv = WO_CANCELLED;	/* before it started */
	else
		rv = worker_run(wk, j);
	switch (rv) {
	case WO_CANCELLED:
		if (worker_ack_cancelled(wk, j, !j->j_cancel) == 0)
			break;
		/* FALLTHROUGH */
	case WO_DONE:
		wa->wa_l[wa->wa_n].ql_id = j->j_id;
		wa->wa_l[wa->wa_n].ql_gen = j->j_lease_gen;
		wa->wa_claimed[wa->wa_n] = claimed;
		wa->wa_size[wa->wa_n] = j->j_size;
		wa->wa_need[wa->wa_n] = wk->wk_started +
		    (ixbatch_ndocs(wk->wk_batch) > 0);
		wa->wa_n++;
		break;
	case WO_FAIL:
	case WO_PERMANENT:
		if (queue_fail(&wk->wk_q, j->j_id, j->j_lease_gen,
		    wk->wk_error, rv == WO_PERMANENT, &state) == 0) {
			/* Which file, for whoever reads it. */
			show_job_source(j, src, sizeof(src));
			log_info("job %llu failed: %s; %s; source %s",
			    (unsigned long long)j->j_id, wk->wk_error,
			    codec_state_name(state), util_vis(src));
		}
		break;
	case WO_LOST:
		log_warnx("job %llu: lease lost", (unsigned long long)j->j_id);
		break;
	}
}

/*
 * The claimed jobs in turn, orders read between them; what is done is
 * committed and acked every batch-linger.  How many were started: a
 * stop leaves the rest, which go back at exit.
 */
static size_t
worker_round(struct worker *wk, struct worker_acks *wa, struct job *jobs,
    size_t n, const uint64_t *claimed)
{
	uint64_t	 flushed = util_mono_ms();
	size_t		 i;

	wk->wk_jobs = jobs;
	wk->wk_njobs = n;
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)worker_wait(wk, 0);
		if (wk->wk_stop)
			break;
		wk->wk_next = i + 1;
		worker_one(wk, wa, &jobs[i], claimed[i]);
		if (wa->wa_n > 0 && util_mono_ms() - flushed >=
		    wk->wk_ch.ch_conf.c_batch_linger_ms) {
			worker_commit(wk);
			/* Acks that fail ride on the next claim. */
			(void)queue_docs(&wk->wk_q, wk->wk_docs, wk->wk_ndocs);
			if (queue_ack(&wk->wk_q, wa->wa_l, wa->wa_n,
			    wa->wa_result) == 0)
				worker_acked(wk, wa, wa->wa_n);
			flushed = util_mono_ms();
		}
	}
	wk->wk_njobs = wk->wk_next = 0;
	return (i);
}

/* The claim's figures: its transaction, each job's wait in the queue. */
static void
worker_claimed(struct worker *wk, const struct job *jobs, size_t n,
    uint64_t t0, uint64_t *claimed)
{
	uint64_t	 now = util_mono_us(), wall = queue_now(&wk->wk_q);
	size_t		 i;

	worker_metric(wk, MO_CLAIM, now - t0);
	for (i = 0; i < n; i++) {
		claimed[i] = now;
		worker_metric(wk, MO_WAIT, wall > jobs[i].j_created ?
		    (wall - jobs[i].j_created) * 1000 : 0);
	}
}

void
worker_main(int slot)
{
	struct worker		 wk;
	struct worker_acks	 wa;
	struct job		*jobs;
	uint64_t		*claimed;
	int			 rv;
	size_t			 n, m, k, want, ran;
	uint64_t		 started, per, t0;
	int			 defer = 0;
	uint64_t		 fault_ms = WORKER_FAULT_MS;

	memset(&wk, 0, sizeof(wk));
	child_setup(&wk.wk_ch, "worker", slot);
	worker_setup(&wk);

	k = want = wk.wk_ch.ch_conf.c_claim_batch;
	jobs = xcalloc(k, sizeof(*jobs));
	claimed = xcalloc(k, sizeof(*claimed));
	worker_acks_init(&wa, k);
	wk.wk_acks = &wa;
	if (ipc_send(wk.wk_ch.ch_fd, IPC_READY, slot, getpid(), NULL) == -1)
		worker_exit(&wk, 1);
	log_debug("worker %d: ready", slot);

	for (;;) {
		if (worker_wait(&wk, 0) != WO_DONE)
			continue;
		m = worker_settle(&wk, &wa, defer);
		if (wk.wk_stop) {
			(void)queue_docs(&wk.wk_q, wk.wk_docs, wk.wk_ndocs);
			if (wa.wa_n > 0 && queue_ack(&wk.wk_q, wa.wa_l,
			    wa.wa_n, wa.wa_result) == 0)
				worker_acked(&wk, &wa, wa.wa_n);
			worker_exit(&wk, 0);
		}
		t0 = util_mono_us();
		(void)queue_docs(&wk.wk_q, wk.wk_docs, wk.wk_ndocs);
		rv = queue_ack_claim(&wk.wk_q, wa.wa_l, m, wa.wa_result,
		    &wk.wk_owner, jobs, want, &n);
		if (rv != 0 && queue_fault(rv) != STORE_FAULT_NONE) {
			fault_ms = worker_fault_wait(&wk, queue_fault(rv),
			    "claim", fault_ms);
			continue;
		}
		if (rv != 0) {
			log_warnx("worker %d: claim: %s", slot,
			    queue_strerror(rv));
			worker_wait(&wk, 1000);
			continue;
		}
		worker_storage(&wk, STORE_FAULT_NONE, "claim");
		fault_ms = WORKER_FAULT_MS;
		worker_acked(&wk, &wa, m);
		wk.wk_deferred = wa.wa_n;
		if (n == 0 && wa.wa_n > 0) {
			/* No more work: the jobs left are acked at once. */
			defer = 0;
			continue;
		}
		defer = 1;
		if (n == 0) {
			/* Nothing to do: the heap kept for work goes back. */
			if (wk.wk_busy) {
				malloc_trim(0);
				wk.wk_busy = 0;
			}
			worker_idle(&wk);
			continue;
		}
		wk.wk_busy = 1;
		worker_claimed(&wk, jobs, n, t0, claimed);
		started = wk.wk_lease_at = util_mono_ms();
		ran = worker_round(&wk, &wa, jobs, n, claimed);
		/* Claim what takes about WORKER_ROUND_MS at this pace. */
		per = (util_mono_ms() - started) / (ran > 0 ? ran : 1);
		want = per == 0 ? k : WORKER_ROUND_MS / per;
		if (want < 1)
			want = 1;
		if (want > k)
			want = k;
	}
}
