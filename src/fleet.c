/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The worker table: starting, watching, reaping and restarting workers.
 *
 * Policy:
 *
 *   Slots 0 to target-1 should each hold a live worker.  A slot at or
 *   above the target is told to stop after its job (an idle worker
 *   leaves at once), and is not restarted when it exits.
 *
 *   Reaping: the moment a worker dies, every lease it held goes back to
 *   the queue in one transaction.  The job it was running (known from
 *   its "job started" frame, read out of its socket before the lease
 *   release) has its crash count raised unless we had asked the worker
 *   to go; at max-crashes that job is a dead letter, "crashed worker".
 *   Jobs claimed but not started are not counted.  Then stale LMDB
 *   reader slots are cleared.
 *
 *   Restarting: a worker that died after saying "ready" is replaced at
 *   once: it was killed, or a job killed it, and the crash count deals
 *   with poison jobs.  A worker that died before "ready" is a start-up
 *   failure: its slot waits 100 ms, doubling per failure in a row up to
 *   30 s, with up to a quarter more of random jitter, so a slot forks at
 *   most about ten times in its first minute of failing.  The count
 *   resets once a worker in the slot has been ready for a minute.  While
 *   a slot has failed three times in a row the fleet is "degraded"; the
 *   supervisor keeps answering and never exits for it.  A worker that
 *   cannot even be forked (no descriptor for its socket: EMFILE) counts
 *   as a start-up failure of its slot, with the same back-off, and the
 *   fleet is degraded while descriptors are short.
 *
 *   Hung workers: a worker that has not sent a heartbeat for
 *   hang-timeout (a busy one beats every heartbeat-interval even in a
 *   long job) is logged with its job, phase, wchan and system call, sent
 *   SIGABRT, and SIGKILL after kill-grace; the reaper then releases its
 *   job with a crash counted, so a job that always hangs ends in the
 *   dead letters.  A slow job that keeps beating is never killed: a
 *   worker beats from the progress of its text path, not from a timer.
 *
 *   Time limit: a worker stops a job that runs past job-timeout itself
 *   and files it as a dead letter, "time limit 10m exceeded".  One that
 *   is still on the job kill-grace after that (stuck where it does not
 *   tick, say) is logged with its evidence and sent SIGKILL, and the
 *   reaper files its job the same way: a dead letter at once, with no
 *   crash counted, since another attempt would take as long.  Time a
 *   worker spends waiting out a storage fault is not the job's and does
 *   not count, here as in the worker.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define FLEET_BACKOFF_MIN_MS	100
#define FLEET_BACKOFF_MAX_MS	30000
#define FLEET_HEALTHY_MS	60000
#define FLEET_DEGRADED_FAILS	3
#define FLEET_ANON_MS		1000	/* workers' memory sampled */
#define FLEET_ANON_FAST_MS	200	/* ... while memory is short */
#define FLEET_PEAK_WINDOW_MS	30000	/* a worker's recent peak */
#define FLEET_FDSHORT_MS	5000	/* degraded this long after EMFILE */

static const char *fleet_states[] = {
	"empty", "starting", "idle", "busy", "draining", "backoff"
};

static void	 fleet_read(struct bufferevent *, void *);
static void	 fleet_replace(struct supervisor *);
static void	 fleet_aux_died(struct supervisor *, struct wslot *, int);
static void	 fleet_error(struct bufferevent *, short, void *);
static void	 fleet_overtime_fail(struct supervisor *, struct wslot *);
static uint64_t	 fleet_backoff(uint32_t);

static const char *fleet_exits[FX_N] = {
	"stopped", "exit", "signal", "hung", "overtime", "memory_limit"
};

const char *
fleet_state_name(enum wstate s)
{
	return (fleet_states[s]);
}

const char *
fleet_exit_name(enum fleet_exit x)
{
	return (fleet_exits[x]);
}

void
fleet_init(struct supervisor *sv)
{
	int	 i;

	memset(&sv->sv_fleet, 0, sizeof(sv->sv_fleet));
	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		sv->sv_fleet.f_w[i].w_slot = i;
		sv->sv_fleet.f_w[i].w_anon_kb = -1;
	}
	sv->sv_fleet.f_merger.w_slot = FLEET_MERGER;
	sv->sv_fleet.f_merger.w_anon_kb = -1;
	sv->sv_fleet.f_http.w_slot = FLEET_HTTP;
	sv->sv_fleet.f_http.w_anon_kb = -1;
	sv->sv_fleet.f_target = sv->sv_conf.c_workers;
}

/* No worker, no merger and no http child left: a drain is over. */
int
fleet_gone(struct supervisor *sv)
{
	return (fleet_live(sv) == 0 && sv->sv_fleet.f_merger.w_pid == 0 &&
	    sv->sv_fleet.f_http.w_pid == 0);
}

/*
 * Every child's slot by number: FLEET_HTTP, FLEET_MERGER, then the
 * workers from 0, so that one loop from FLEET_FIRST reaches them all.
 */
struct wslot *
fleet_slot(struct supervisor *sv, int i)
{
	if (i == FLEET_HTTP)
		return (&sv->sv_fleet.f_http);
	if (i == FLEET_MERGER)
		return (&sv->sv_fleet.f_merger);
	return (&sv->sv_fleet.f_w[i]);
}

/* "worker", "merger" or "http", for the log. */
const char *
fleet_role(const struct wslot *w)
{
	if (w->w_slot == FLEET_HTTP)
		return ("http");
	return (w->w_slot == FLEET_MERGER ? "merger" : "worker");
}

static int
fleet_alive(const struct wslot *w)
{
	return (w->w_pid != 0);
}

/* Workers with a process, whatever their state. */
int
fleet_live(struct supervisor *sv)
{
	int	 i, n = 0;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++)
		if (fleet_alive(&sv->sv_fleet.f_w[i]))
			n++;
	return (n);
}

/*
 * Degraded: a slot has failed to start three times in a row, or the
 * supervisor ran out of descriptors in the last FLEET_FDSHORT_MS (for a
 * worker's socket, or for an admin connection).  The reason, for status,
 * is written to buf; NULL when all is well.
 */
const char *
fleet_degraded_why(struct supervisor *sv, char *buf, size_t len)
{
	struct fleet	*f = &sv->sv_fleet;
	struct wslot	*w;
	uint64_t	 now = util_mono_ms();
	int		 i;

	if (sv->sv_storage.st_fault != STORE_FAULT_NONE) {
		snprintf(buf, len, "storage %s: %s",
		    store_fault_name(sv->sv_storage.st_fault),
		    sv->sv_storage.st_what);
		return (buf);
	}
	if (f->f_fdshort_at != 0 && now - f->f_fdshort_at < FLEET_FDSHORT_MS) {
		snprintf(buf, len, "out of file descriptors %llu ms ago: %s",
		    (unsigned long long)(now - f->f_fdshort_at),
		    f->f_fdshort_why);
		return (buf);
	}
	for (i = 0; i < QUIRE_WORKERS_MAX && i < f->f_target; i++) {
		w = &f->f_w[i];
		if (w->w_fails >= FLEET_DEGRADED_FAILS &&
		    w->w_state != W_IDLE && w->w_state != W_BUSY) {
			snprintf(buf, len, "worker %d: %u start-up failures "
			    "in a row", i, w->w_fails);
			return (buf);
		}
	}
	return (NULL);
}

int
fleet_degraded(struct supervisor *sv)
{
	char	 why[256];

	return (fleet_degraded_why(sv, why, sizeof(why)) != NULL);
}

/* A descriptor could not be had: remember when and why, for status. */
void
fleet_fdshort(struct supervisor *sv, const char *what, int err)
{
	struct fleet	*f = &sv->sv_fleet;

	f->f_fdshort_at = util_mono_ms();
	snprintf(f->f_fdshort_why, sizeof(f->f_fdshort_why), "%s: %s", what,
	    strerror(err));
}

/*
 * A worker could not be forked (no descriptor for its socket, no
 * process): the slot backs off as after a start-up failure, so a
 * supervisor short of descriptors neither spins nor floods its log.
 */
static void
fleet_spawn_failed(struct supervisor *sv, struct wslot *w, const char *what)
{
	uint64_t	 held, now = util_mono_ms();
	int		 saved = errno;

	if (saved == EMFILE || saved == ENFILE)
		fleet_fdshort(sv, what, saved);
	w->w_fails++;
	w->w_state = W_BACKOFF;
	w->w_respawn_at = now + fleet_backoff(w->w_fails);
	if (util_ratelimit(&sv->sv_fleet.f_spawn_rl, &held))
		log_warnx("%s: %s %d: %s: %s; next start in %llu ms%s (%llu "
		    "more not logged)", __func__, fleet_role(w), w->w_slot,
		    what, strerror(saved),
		    (unsigned long long)(w->w_respawn_at - now),
		    w->w_fails >= FLEET_DEGRADED_FAILS ? " (degraded)" : "",
		    (unsigned long long)held);
}

/* The configuration a worker starts with, as quired -n -v prints it. */
static void
fleet_config_text(struct supervisor *sv, char *buf, size_t len)
{
	FILE	*f;

	if ((f = fmemopen(buf, len, "w")) == NULL)
		fatal("%s: fmemopen", __func__);
	config_print(&sv->sv_conf, f);
	fclose(f);
	buf[len - 1] = '\0';
}

/*
 * quired's arguments for a child of the slot, in argv (6 at most), with
 * buf holding the number; returns how many listening sockets it takes.
 */
static int
fleet_argv(struct supervisor *sv, const struct wslot *w, char **argv,
    char *buf, size_t len)
{
	int	 i = 0, nfd = 0;

	argv[i++] = "quired";
	if (sv->sv_foreground)
		argv[i++] = "-d";
	if (w->w_slot == FLEET_MERGER)
		argv[i++] = "-M";
	else {
		nfd = w->w_slot == FLEET_HTTP ? (int)sv->sv_nhttp : 0;
		snprintf(buf, len, "%d", w->w_slot == FLEET_HTTP ? nfd :
		    w->w_slot);
		argv[i++] = w->w_slot == FLEET_HTTP ? "-H" : "-W";
		argv[i++] = buf;
	}
	argv[i] = NULL;
	return (nfd);
}

/*
 * In the child: its socket on CHILD_FD (3), the http child's listening
 * sockets from 4, and nothing else (an inherited admin connection would
 * keep quirectl waiting for end of file until the child exits); exec.
 */
static void __dead
fleet_exec(struct supervisor *sv, int fd, int nfd, char **argv)
{
	int	 i;

	/* dup2 leaves the new descriptor open across exec. */
	if (dup2(fd, CHILD_FD) == -1)
		_exit(127);
	if (fd == CHILD_FD && fcntl(CHILD_FD, F_SETFD, 0) == -1)
		_exit(127);
	for (i = 0; i < nfd; i++)
		if (dup2(sv->sv_http_fd[i], CHILD_FD + 1 + i) == -1)
			_exit(127);
	closefrom(CHILD_FD + 1 + nfd);
	execv(sv->sv_exe, argv);
	_exit(127);
}

/* A new process in the slot: its state from the start. */
static void
fleet_started(struct supervisor *sv, struct wslot *w, pid_t pid,
    struct bufferevent *bev)
{
	w->w_pid = pid;
	w->w_bev = bev;
	w->w_state = W_STARTING;
	w->w_spawned = w->w_last_beat = util_mono_ms();
	w->w_ready_at = 0;
	w->w_job = 0;
	w->w_kill_stage = 0;
	w->w_stopping = 0;
	w->w_hung = 0;
	w->w_overtime = 0;
	w->w_anon_kb = -1;
	w->w_anon_win[0] = w->w_anon_win[1] = 0;
	w->w_anon_winat = w->w_spawned;
	w->w_jobs_life = 0;
	w->w_cgen = w->w_spawn_gen = sv->sv_cgen;
	w->w_replace = NULL;
	w->w_forks++;
	strlcpy(w->w_phase, "starting", sizeof(w->w_phase));
	sv->sv_fleet.f_spawned++;
	if (w->w_slot < 0)
		log_debug("%s: %s (pid %d) started", __func__, fleet_role(w),
		    (int)pid);
	else
		log_debug("%s: worker %d (pid %d) started", __func__,
		    w->w_slot, (int)pid);
}

static void
fleet_spawn(struct supervisor *sv, struct wslot *w)
{
	struct bufferevent	*bev;
	char			 num[16], cfg[IPC_STR_MAX];
	char			*argv[6];
	int			 sp[2], saved, nfd;
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		fleet_spawn_failed(sv, w, "socketpair");
		return;
	}
	nfd = fleet_argv(sv, w, argv, num, sizeof(num));
	if ((pid = fork()) == -1) {
		saved = errno;
		close(sp[0]);
		close(sp[1]);
		errno = saved;
		fleet_spawn_failed(sv, w, "fork");
		return;
	}
	if (pid == 0)
		fleet_exec(sv, sp[1], nfd, argv);
	close(sp[1]);
	evutil_make_socket_nonblocking(sp[0]);
	bev = bufferevent_socket_new(sv->sv_base, sp[0],
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("%s: bufferevent", __func__);
	bufferevent_setcb(bev, fleet_read, NULL, fleet_error, w);
	bufferevent_enable(bev, EV_READ);
	fleet_config_text(sv, cfg, sizeof(cfg));
	ipc_evbuffer_put(bufferevent_get_output(bev), IPC_CONFIG, sv->sv_cgen,
	    0, cfg);
	if (w->w_slot >= 0 && (sv->sv_admit != sv->sv_conf.c_big_inflight ||
	    sv->sv_el.el_pressure))
		ipc_evbuffer_put(bufferevent_get_output(bev), IPC_ADMIT,
		    sv->sv_admit, sv->sv_el.el_pressure, NULL);
	fleet_started(sv, w, pid, bev);
}

/*
 * A job ended.  Its frame names the document type and the input size
 * ("pdf 18000000"); with the anonymous memory seen while it ran, that is
 * what admission learns from (memory.c).
 */
static void
fleet_job_done(struct wslot *w, const struct ipc_msg *m)
{
	char		 type[16];
	unsigned long long size;

	w->w_job = 0;
	w->w_jobs++;
	w->w_jobs_life++;
	strlcpy(w->w_phase, "idle", sizeof(w->w_phase));
	if (w->w_state == W_BUSY)
		w->w_state = W_IDLE;
	if (sscanf(m->m_str, "%15s %llu", type, &size) != 2 || size == 0 ||
	    w->w_anon_base < 0 || w->w_anon_peak < w->w_anon_base)
		return;
	strlcpy(w->w_learn_type, type, sizeof(w->w_learn_type));
	w->w_learn_size = size;
	w->w_learn_kb = w->w_anon_peak - w->w_anon_base;
	w->w_learn = 1;
}

static void
fleet_message(struct supervisor *sv, struct wslot *w, const struct ipc_msg *m)
{
	uint64_t	 now = util_mono_ms();

	w->w_last_beat = now;
	switch (m->m_type) {
	case IPC_READY:
		w->w_ready_at = now;
		if (w->w_state == W_STARTING)
			w->w_state = W_IDLE;
		strlcpy(w->w_phase, "idle", sizeof(w->w_phase));
		if (w->w_fails >= FLEET_DEGRADED_FAILS)
			log_info("worker %d (pid %d) ready after %u failed "
			    "starts", w->w_slot, (int)w->w_pid, w->w_fails);
		/* A slot that is told to go while starting goes now. */
		if (w->w_state == W_DRAINING)
			ipc_evbuffer_put(bufferevent_get_output(w->w_bev),
			    IPC_STOP, 0, 0, NULL);
		break;
	case IPC_HEARTBEAT:
		strlcpy(w->w_phase, m->m_str, sizeof(w->w_phase));
		if (w->w_job != 0 && m->m_a == w->w_job && m->m_b < 1000)
			w->w_progress = m->m_b;
		break;
	case IPC_JOB_START:
		w->w_job = m->m_a;
		w->w_gen = m->m_b;
		strlcpy(w->w_what, m->m_str, sizeof(w->w_what));
		strlcpy(w->w_phase, "running", sizeof(w->w_phase));
		w->w_progress = 0;
		w->w_job_start = now;
		w->w_job_paused = 0;
		w->w_anon_base = w->w_anon_peak = w->w_anon_kb;
		if (w->w_state == W_IDLE)
			w->w_state = W_BUSY;
		break;
	case IPC_JOB_DONE:
		fleet_job_done(w, m);
		fleet_replace(sv);
		break;
	case IPC_STORAGE:
		storage_report(sv, w, (int)m->m_a, m->m_str);
		break;
	case IPC_METRIC:
		if (metrics_hist_observe(&sv->sv_metrics, m->m_a, m->m_b) == -1)
			log_debug("worker %d (pid %d): unknown metric %llu",
			    w->w_slot, (int)w->w_pid,
			    (unsigned long long)m->m_a);
		break;
	default:
		log_warnx("worker %d (pid %d): unexpected message %u",
		    w->w_slot, (int)w->w_pid, m->m_type);
		break;
	}
}

/*
 * A dead child's last frames ("ready", "job started") may still be in its
 * socket: SIGCHLD can come before the read event.  Read them now, or the
 * reaper would not know which job it was running.
 */
static void
fleet_read_rest(struct wslot *w)
{
	struct evbuffer	*in;

	if (w->w_bev == NULL)
		return;
	/*
	 * A bufferevent freezes the end of its input but while it reads
	 * itself, and evbuffer_read() fails on a frozen end.
	 */
	in = bufferevent_get_input(w->w_bev);
	evbuffer_unfreeze(in, 0);
	while (evbuffer_read(in, bufferevent_getfd(w->w_bev), 65536) > 0)
		;
	evbuffer_freeze(in, 0);
}

static void
fleet_drain_input(struct supervisor *sv, struct wslot *w)
{
	struct evbuffer	*in;
	struct ipc_msg	 m;
	int		 rv;

	if (w->w_bev == NULL)
		return;
	in = bufferevent_get_input(w->w_bev);
	while ((rv = ipc_evbuffer_get(in, &m)) == 1)
		fleet_message(sv, w, &m);
	if (rv == -1) {
		log_warnx("worker %d (pid %d): malformed message; killing it",
		    w->w_slot, (int)w->w_pid);
		evbuffer_drain(in, evbuffer_get_length(in));
		kill(w->w_pid, SIGKILL);
	}
}

static struct supervisor *fleet_sv;

static void
fleet_read(struct bufferevent *bev, void *arg)
{
	fleet_drain_input(fleet_sv, arg);
}

static void
fleet_error(struct bufferevent *bev, short what, void *arg)
{
	struct wslot	*w = arg;

	/*
	 * Read what is left, from the socket too: a write to a dead worker
	 * fails before its last frames ("job started") are read, and they
	 * name the job its death counts against.  The reaper does the rest.
	 */
	fleet_read_rest(w);
	fleet_drain_input(fleet_sv, w);
	bufferevent_free(bev);
	w->w_bev = NULL;
}

/*
 * An order to a child.  When nothing is queued for it, it is written at
 * once without allocating (a shrink happens while memory is short); else
 * it goes behind what is queued.
 */
static void
fleet_order(struct wslot *w, uint32_t type, uint64_t a, uint64_t b)
{
	struct evbuffer	*out = bufferevent_get_output(w->w_bev);

	if (evbuffer_get_length(out) == 0 &&
	    ipc_order(bufferevent_getfd(w->w_bev), type, a, b) == 0)
		return;
	ipc_evbuffer_put(out, type, a, b, NULL);
}

/*
 * A job was cancelled in the queue while the worker of pid held its
 * lease: tell that worker, which stops the job if it runs it and skips
 * it if it waits in its batch.  Returns the worker's slot, or NULL when
 * no worker of ours holds it (one that has just died: the reaper's
 * release finishes the job as cancelled).
 */
struct wslot *
fleet_cancel(struct supervisor *sv, uint64_t id, uint64_t gen, pid_t pid)
{
	struct wslot	*w;
	int		 i;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (!fleet_alive(w) || w->w_pid != pid)
			continue;
		if (w->w_bev == NULL || w->w_ready_at == 0)
			return (NULL);
		fleet_order(w, IPC_CANCEL, id, gen);
		log_info("job %llu cancelled; told worker %d (pid %d)%s",
		    (unsigned long long)id, w->w_slot, (int)w->w_pid,
		    w->w_job == id ? ", which runs it" : "");
		return (w);
	}
	return (NULL);
}

/* Tell a worker to stop after its job. */
static void
fleet_stop(struct wslot *w)
{
	if (!fleet_alive(w) || w->w_state == W_DRAINING)
		return;
	w->w_stopping = 1;
	w->w_state = W_DRAINING;
	if (w->w_bev != NULL && w->w_ready_at != 0)
		fleet_order(w, IPC_STOP, 0, 0);
}

/*
 * The workers the fleet should run now: the target, or fewer while memory
 * is short (memory.c lowers the elastic cap), never below min-workers.
 */
int
fleet_want(struct supervisor *sv)
{
	int	 want = sv->sv_fleet.f_target;

	if (sv->sv_draining)
		return (0);
	/* A cap below the last target is memory's; else none is in effect. */
	if (sv->sv_conf.c_mem_elastic &&
	    sv->sv_el.el_cap < sv->sv_el.el_target && sv->sv_el.el_cap < want)
		want = sv->sv_el.el_cap;
	if (want < (int)sv->sv_conf.c_min_workers)
		want = sv->sv_conf.c_min_workers;
	if (want > sv->sv_fleet.f_target)
		want = sv->sv_fleet.f_target;
	return (want);
}

/* A slot that counts toward the fleet: a live worker not told to go. */
static int
fleet_counts(const struct wslot *w)
{
	if (w->w_state == W_BACKOFF)
		return (1);
	return (fleet_alive(w) && w->w_state != W_DRAINING);
}

/* Workers that count toward the fleet's size. */
int
fleet_running(struct supervisor *sv)
{
	int	 i, n = 0;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++)
		if (fleet_counts(&sv->sv_fleet.f_w[i]))
			n++;
	return (n);
}

/* How much stopping w costs: a slot waiting to start costs nothing. */
static int
fleet_victim_rank(const struct wslot *w)
{
	switch (w->w_state) {
	case W_BACKOFF:
		return (0);
	case W_STARTING:
		return (1);
	case W_IDLE:
		return (2);
	default:
		return (3);
	}
}

/*
 * The worker to stop when the fleet shrinks: a slot waiting to restart,
 * then one starting, then an idle one, then a busy one (it stops after
 * its job).  Among equals the one holding the most anonymous memory,
 * which it gives back when it goes; then the highest slot.
 */
struct wslot *
fleet_victim(struct supervisor *sv)
{
	struct wslot	*w, *best = NULL;
	int		 i, r, br = 0;

	for (i = QUIRE_WORKERS_MAX - 1; i >= 0; i--) {
		w = &sv->sv_fleet.f_w[i];
		if (!fleet_counts(w))
			continue;
		r = fleet_victim_rank(w);
		if (best == NULL || r < br ||
		    (r == br && w->w_anon_kb > best->w_anon_kb)) {
			best = w;
			br = r;
		}
	}
	return (best);
}

/* The merger runs when `merge` says so, the http child when it listens. */
static void
fleet_aux_resize(struct supervisor *sv, uint64_t now)
{
	struct wslot	*w;
	int		 i, want;

	for (i = FLEET_FIRST; i < 0; i++) {
		w = fleet_slot(sv, i);
		want = i == FLEET_MERGER ? sv->sv_conf.c_merge != 0 :
		    sv->sv_nhttp > 0;
		if (want && (w->w_state == W_EMPTY ||
		    (w->w_state == W_BACKOFF && now >= w->w_respawn_at)))
			fleet_spawn(sv, w);
		else if (!want && w->w_pid != 0)
			fleet_stop(w);
	}
}

/*
 * Bring the fleet to what it should run: stop the cheapest workers past
 * it, start workers in empty slots below it, restart slots whose back-off
 * is over.
 */
void
fleet_resize(struct supervisor *sv)
{
	struct fleet	*f = &sv->sv_fleet;
	struct wslot	*w;
	uint64_t	 now = util_mono_ms();
	int		 i, n, want;

	fleet_sv = sv;
	if (sv->sv_draining)
		return;
	fleet_aux_resize(sv, now);
	want = fleet_want(sv);
	for (n = fleet_running(sv); n > want; n--) {
		if ((w = fleet_victim(sv)) == NULL)
			break;
		if (w->w_state == W_BACKOFF) {
			w->w_state = W_EMPTY;
			w->w_fails = 0;
			continue;
		}
		log_info("worker %d (pid %d): stopping (%d workers wanted)",
		    w->w_slot, (int)w->w_pid, want);
		fleet_stop(w);
	}
	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &f->f_w[i];
		if (w->w_state == W_BACKOFF && now >= w->w_respawn_at)
			fleet_spawn(sv, w);
		else if (w->w_state == W_EMPTY && n < want) {
			fleet_spawn(sv, w);
			n++;
		}
	}
}

static uint64_t
fleet_backoff(uint32_t fails)
{
	uint64_t	 d = FLEET_BACKOFF_MIN_MS;
	uint32_t	 i;

	for (i = 1; i < fails && d < FLEET_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > FLEET_BACKOFF_MAX_MS)
		d = FLEET_BACKOFF_MAX_MS;
	return (d + arc4random_uniform(d / 4 + 1));
}

/*
 * Why a worker ended, for metrics: what we did to it first (hung,
 * overtime), then what it said (out of memory), then how it went.
 */
static enum fleet_exit
fleet_exit_cause(const struct wslot *w, int status)
{
	if (w->w_overtime)
		return (FX_OVERTIME);
	if (w->w_hung)
		return (FX_HUNG);
	if (WIFEXITED(status) && WEXITSTATUS(status) == QUIRE_EXIT_NOMEM)
		return (FX_MEMORY_LIMIT);
	if (w->w_stopping)
		return (FX_STOPPED);
	return (WIFSIGNALED(status) ? FX_SIGNAL : FX_EXIT);
}

/* Why a worker ended, as its jobs' error and the log say it. */
static void
fleet_cause(struct supervisor *sv, int status, char *buf, size_t len)
{
	char	 lim[32];

	if (WIFEXITED(status) && WEXITSTATUS(status) == QUIRE_EXIT_NOMEM) {
		util_format_size(sv->sv_conf.c_data_limit, lim, sizeof(lim));
		snprintf(buf, len, "%s: worker out of memory at "
		    "worker-data-limit %s", QUEUE_MEMORY_LIMIT, lim);
		sv->sv_fleet.f_memkills++;
	} else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
}

static void
fleet_died(struct supervisor *sv, struct wslot *w, int status)
{
	struct fleet		*f = &sv->sv_fleet;
	struct queue_release	 rel;
	char			 cause[128], quar[96];
	uint64_t		 crash = 0, now = util_mono_ms();
	int			 dead = 0, early;

	fleet_read_rest(w);
	fleet_drain_input(sv, w);
	if (w->w_bev != NULL) {
		bufferevent_free(w->w_bev);
		w->w_bev = NULL;
	}
	fleet_cause(sv, status, cause, sizeof(cause));
	if (w->w_overtime && w->w_job != 0)
		fleet_overtime_fail(sv, w);
	else if (!w->w_stopping && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0))
		crash = w->w_job;
	storage_release(sv, w->w_pid, cause, crash, &rel);
	if (w->w_fault != STORE_FAULT_NONE)
		storage_report(sv, w, STORE_FAULT_NONE, "");
	quar[0] = '\0';
	if (rel.qr_dead > 0)
		snprintf(quar, sizeof(quar), "; job %llu quarantined after "
		    "%u crashes", (unsigned long long)crash,
		    (unsigned)sv->sv_conf.c_max_crashes);
	else if (crash != 0)
		snprintf(quar, sizeof(quar), "; it ran job %llu",
		    (unsigned long long)crash);
	if (queue_store(&sv->sv_q) != NULL)
		(void)store_reader_check(queue_store(&sv->sv_q), &dead);
	(void)store_reader_check(&sv->sv_ix.ix_store, &dead);

	f->f_deaths++;
	f->f_exits[fleet_exit_cause(w, status)]++;
	f->f_released += rel.qr_released;
	f->f_quarantined += rel.qr_dead;
	early = w->w_ready_at == 0;
	if (w->w_stopping && !w->w_hung)
		log_info("worker %d (pid %d) exited: %s; released %u jobs",
		    w->w_slot, (int)w->w_pid, cause, rel.qr_released);
	else
		log_warnx("worker %d (pid %d) died: %s; released %u job%s%s%s",
		    w->w_slot, (int)w->w_pid, cause, rel.qr_released,
		    rel.qr_released == 1 ? "" : "s", quar,
		    early ? " (before ready)" : "");

	w->w_pid = 0;
	w->w_job = 0;
	w->w_anon_kb = -1;
	w->w_replace = NULL;
	strlcpy(w->w_phase, "-", sizeof(w->w_phase));
	/* Asked to go, or the fleet has enough without it: the slot empties. */
	w->w_state = W_EMPTY;
	if (sv->sv_draining || w->w_stopping ||
	    fleet_running(sv) >= fleet_want(sv)) {
		w->w_fails = 0;
		return;
	}
	if (early && !w->w_stopping) {
		w->w_fails++;
		w->w_state = W_BACKOFF;
		w->w_respawn_at = now + fleet_backoff(w->w_fails);
		log_warnx("worker %d: start-up failure %u in a row; next "
		    "start in %llu ms%s", w->w_slot, w->w_fails,
		    (unsigned long long)(w->w_respawn_at - now),
		    w->w_fails >= FLEET_DEGRADED_FAILS ? " (degraded)" : "");
		return;
	}
	fleet_spawn(sv, w);
}

/*
 * The merger and the http child hold no leases: log, and start another
 * a second later.
 */
static void
fleet_aux_died(struct supervisor *sv, struct wslot *w, int status)
{
	fleet_read_rest(w);
	fleet_drain_input(sv, w);
	if (w->w_bev != NULL) {
		bufferevent_free(w->w_bev);
		w->w_bev = NULL;
	}
	if (w->w_stopping)
		log_info("%s (pid %d) exited", fleet_role(w), (int)w->w_pid);
	else if (WIFSIGNALED(status))
		log_warnx("%s (pid %d) died: signal %d", fleet_role(w),
		    (int)w->w_pid, WTERMSIG(status));
	else
		log_warnx("%s (pid %d) died: exit %d", fleet_role(w),
		    (int)w->w_pid, WEXITSTATUS(status));
	w->w_pid = 0;
	if (sv->sv_draining || w->w_stopping) {
		w->w_state = W_EMPTY;
		return;
	}
	w->w_state = W_BACKOFF;
	w->w_respawn_at = util_mono_ms() + 1000;
}

/* SIGCHLD: reap every child that has exited. */
void
fleet_reap(struct supervisor *sv)
{
	struct wslot	*w;
	pid_t		 pid;
	int		 status, i;

	fleet_sv = sv;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		w = NULL;
		for (i = 0; i < QUIRE_WORKERS_MAX; i++)
			if (sv->sv_fleet.f_w[i].w_pid == pid)
				w = &sv->sv_fleet.f_w[i];
		if (sv->sv_fleet.f_merger.w_pid == pid ||
		    sv->sv_fleet.f_http.w_pid == pid) {
			fleet_aux_died(sv, sv->sv_fleet.f_merger.w_pid == pid ?
			    &sv->sv_fleet.f_merger : &sv->sv_fleet.f_http,
			    status);
			continue;
		}
		if (w == NULL) {
			log_debug("%s: unknown child %d", __func__, (int)pid);
			continue;
		}
		fleet_died(sv, w, status);
	}
}

/* Pass a signal on to every live child (SIGUSR1: reopen logs). */
void
fleet_signal(struct supervisor *sv, int sig)
{
	int	 i;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++)
		if (sv->sv_fleet.f_w[i].w_pid != 0)
			kill(sv->sv_fleet.f_w[i].w_pid, sig);
	if (sv->sv_fleet.f_merger.w_pid != 0)
		kill(sv->sv_fleet.f_merger.w_pid, sig);
	if (sv->sv_fleet.f_http.w_pid != 0)
		kill(sv->sv_fleet.f_http.w_pid, sig);
}

/* Stop every worker: after their jobs, or at once (fast). */
void
fleet_stop_all(struct supervisor *sv, int fast)
{
	struct wslot	*w;
	uint64_t	 now = util_mono_ms();
	int		 i;

	fleet_sv = sv;
	for (i = FLEET_FIRST; i < QUIRE_WORKERS_MAX; i++) {
		w = fleet_slot(sv, i);
		if (w->w_state == W_BACKOFF)
			w->w_state = W_EMPTY;
		if (!fleet_alive(w))
			continue;
		if (!fast) {
			fleet_stop(w);
			continue;
		}
		w->w_stopping = 1;
		w->w_state = W_DRAINING;
		if (w->w_kill_stage == 0) {
			kill(w->w_pid, SIGTERM);
			w->w_kill_stage = 1;
			w->w_kill_at = now + sv->sv_conf.c_grace_ms;
		}
	}
}

/* Format the time limit as the configuration would: "10m". */
static void
fleet_limit_reason(struct supervisor *sv, char *buf, size_t len)
{
	char	 limit[32];

	util_format_duration(sv->sv_conf.c_job_timeout_ms, limit,
	    sizeof(limit));
	snprintf(buf, len, "time limit %s exceeded", limit);
}

/*
 * The job of a worker killed past job-timeout: a dead letter at once,
 * fenced by its lease generation, before the reaper releases the rest.
 */
static void
fleet_overtime_fail(struct supervisor *sv, struct wslot *w)
{
	char	 reason[64];
	int	 rc, state;

	fleet_limit_reason(sv, reason, sizeof(reason));
	if ((rc = queue_fail(&sv->sv_q, w->w_job, w->w_gen, reason, 1,
	    &state)) == 0)
		log_info("job %llu failed: %s; %s",
		    (unsigned long long)w->w_job, reason,
		    codec_state_name(state));
	else
		log_warnx("job %llu: filing it as over its time limit: %s",
		    (unsigned long long)w->w_job, queue_strerror(rc));
}

/* Still on its job kill-grace past job-timeout: kill it. */
static void
fleet_overtime(struct supervisor *sv, struct wslot *w, uint64_t now)
{
	char	 evidence[512], limit[32];

	util_format_duration(sv->sv_conf.c_job_timeout_ms, limit,
	    sizeof(limit));
	proc_evidence(w->w_pid, evidence, sizeof(evidence));
	log_warnx("worker %d (pid %d): job %llu (%s) over job-timeout %s by "
	    "%llu ms; phase %s, last heartbeat %llu ms ago; %s; sending "
	    "SIGKILL", w->w_slot, (int)w->w_pid,
	    (unsigned long long)w->w_job, w->w_what, limit,
	    (unsigned long long)(now - w->w_job_start - w->w_job_paused -
	    sv->sv_conf.c_job_timeout_ms), w->w_phase,
	    (unsigned long long)(now - w->w_last_beat), evidence);
	sv->sv_fleet.f_overtime++;
	w->w_overtime = 1;
	w->w_kill_stage = 2;
	kill(w->w_pid, SIGKILL);
}

/*
 * How long a worker may stay silent: hang-timeout, or start-timeout
 * until it is ready (opening the stores on a loaded machine is slow,
 * not hung).
 */
static uint64_t
fleet_silence(struct supervisor *sv, struct wslot *w)
{
	if (w->w_state == W_STARTING)
		return (sv->sv_conf.c_start_ms);
	return (sv->sv_conf.c_hang_ms);
}

static void
fleet_hung(struct supervisor *sv, struct wslot *w, uint64_t now)
{
	char	 evidence[512];

	proc_evidence(w->w_pid, evidence, sizeof(evidence));
	if (w->w_state == W_STARTING)
		log_warnx("worker %d (pid %d) did not start: not ready after "
		    "%llu ms (start-timeout); %s; sending SIGABRT", w->w_slot,
		    (int)w->w_pid, (unsigned long long)(now - w->w_spawned),
		    evidence);
	else if (w->w_job != 0)
		log_warnx("worker %d (pid %d) hung: no heartbeat for %llu ms; "
		    "job %llu (%s), phase %s, %llu ms in; %s; sending SIGABRT",
		    w->w_slot, (int)w->w_pid,
		    (unsigned long long)(now - w->w_last_beat),
		    (unsigned long long)w->w_job, w->w_what, w->w_phase,
		    (unsigned long long)(now - w->w_job_start), evidence);
	else
		log_warnx("worker %d (pid %d) hung: no heartbeat for %llu ms; "
		    "no job, phase %s; %s; sending SIGABRT", w->w_slot,
		    (int)w->w_pid, (unsigned long long)(now - w->w_last_beat),
		    w->w_phase, evidence);
	sv->sv_fleet.f_hung++;
	w->w_hung = 1;
	if (proc_stopped(w->w_pid)) {
		/* Stopped: only SIGKILL reaches it; no grace to wait out. */
		log_warnx("worker %d (pid %d) is stopped; sending SIGKILL",
		    w->w_slot, (int)w->w_pid);
		w->w_kill_stage = 2;
		kill(w->w_pid, SIGKILL);
		return;
	}
	w->w_kill_stage = 1;
	w->w_kill_at = now + sv->sv_conf.c_grace_ms;
	kill(w->w_pid, SIGABRT);
}

/*
 * A worker's anonymous memory: now, the peak of its job, and the peak of
 * the last FLEET_PEAK_WINDOW_MS or so (two windows, the current and the
 * last), which is what it may take again between jobs.
 */
static void
fleet_sample(struct wslot *w, uint64_t now)
{
	w->w_anon_kb = proc_anon_kb(w->w_pid);
	if (w->w_job != 0 && w->w_anon_kb > w->w_anon_peak)
		w->w_anon_peak = w->w_anon_kb;
	if (now - w->w_anon_winat >= FLEET_PEAK_WINDOW_MS) {
		w->w_anon_win[1] = w->w_anon_win[0];
		w->w_anon_win[0] = 0;
		w->w_anon_winat = now;
	}
	if (w->w_anon_kb > w->w_anon_win[0])
		w->w_anon_win[0] = w->w_anon_kb;
}

/* Why a ready worker should be replaced between jobs, or NULL. */
static const char *
fleet_stale(struct supervisor *sv, const struct wslot *w)
{
	const struct quire_conf	*c = &sv->sv_conf;

	if (w->w_spawn_gen < sv->sv_respawn_gen)
		return ("reload");
	if (c->c_max_jobs != 0 && w->w_jobs_life >= c->c_max_jobs)
		return ("max-jobs");
	if (c->c_mem_soft != 0 && w->w_anon_kb > 0 &&
	    (uint64_t)w->w_anon_kb * 1024 > c->c_mem_soft)
		return ("worker-memory-soft");
	return (NULL);
}

/*
 * Replace one worker at a time, between jobs: one whose configuration is
 * older than the last reload that needs new workers, one past max-jobs,
 * one past worker-memory-soft.  Only when every wanted worker is ready
 * and none is being replaced, so capacity never dips by more than one;
 * an idle worker goes first.  Its slot empties when it leaves and
 * fleet_resize starts the successor (at once: the one that leaves no
 * longer counts).  Not while memory is short: the shrink comes first.
 */
static void
fleet_replace(struct supervisor *sv)
{
	struct wslot	*w, *pick = NULL;
	const char	*why = NULL, *r;
	int		 i, ready = 0;

	if (sv->sv_draining || sv->sv_el.el_pressure)
		return;
	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (w->w_replace != NULL && fleet_alive(w))
			return;
		if (w->w_state != W_IDLE && w->w_state != W_BUSY)
			continue;
		ready++;
		if ((r = fleet_stale(sv, w)) == NULL)
			continue;
		if (pick == NULL || (pick->w_state == W_BUSY &&
		    w->w_state == W_IDLE)) {
			pick = w;
			why = r;
		}
	}
	if (pick == NULL || ready < fleet_want(sv))
		return;
	log_info("worker %d (pid %d): replacing (%s; %llu jobs, %lld kB, "
	    "generation %llu of %llu)", pick->w_slot, (int)pick->w_pid, why,
	    (unsigned long long)pick->w_jobs_life, pick->w_anon_kb,
	    (unsigned long long)pick->w_spawn_gen,
	    (unsigned long long)sv->sv_cgen);
	sv->sv_fleet.f_replaced++;
	fleet_stop(pick);
	pick->w_replace = why;
	fleet_resize(sv);
}

/* The periodic look at the fleet: hangs, kills, restarts, drain deadline. */
/*
 * The merger and the http child: SIGKILL after the grace a stop gave
 * them, and an http child that stopped beating is killed (and started
 * again by the reaper): a hung one would leave the API unanswered.
 */
static void
fleet_aux_tick(struct supervisor *sv, uint64_t now)
{
	struct wslot	*w;
	int		 i;

	for (i = FLEET_FIRST; i < 0; i++) {
		w = fleet_slot(sv, i);
		if (!fleet_alive(w))
			continue;
		if (w->w_kill_stage == 1 && now >= w->w_kill_at) {
			kill(w->w_pid, SIGKILL);
			w->w_kill_stage = 2;
		} else if (i == FLEET_HTTP && w->w_kill_stage == 0 &&
		    now - w->w_last_beat > sv->sv_conf.c_hang_ms) {
			log_warnx("http (pid %d): no heartbeat for %llu ms; "
			    "sending SIGKILL", (int)w->w_pid,
			    (unsigned long long)(now - w->w_last_beat));
			kill(w->w_pid, SIGKILL);
			w->w_kill_stage = 2;
		}
	}
}

void
fleet_tick(struct supervisor *sv)
{
	struct wslot	*w;
	uint64_t	 now = util_mono_ms(), period, dt;
	int		 i, sample;

	fleet_sv = sv;
	dt = sv->sv_fleet.f_ticked != 0 ? now - sv->sv_fleet.f_ticked : 0;
	sv->sv_fleet.f_ticked = now;
	period = sv->sv_el.el_pressure ? FLEET_ANON_FAST_MS : FLEET_ANON_MS;
	sample = now / period != (now - 100) / period;
	fleet_aux_tick(sv, now);
	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (!fleet_alive(w))
			continue;
		if (w->w_kill_stage == 1 && now >= w->w_kill_at) {
			log_warnx("worker %d (pid %d): still alive after %llu "
			    "ms; sending SIGKILL", w->w_slot, (int)w->w_pid,
			    (unsigned long long)sv->sv_conf.c_grace_ms);
			kill(w->w_pid, SIGKILL);
			w->w_kill_stage = 2;
			continue;
		}
		if (w->w_job != 0 && w->w_fault != STORE_FAULT_NONE)
			w->w_job_paused += dt;
		if (w->w_kill_stage == 0 && w->w_job != 0 &&
		    w->w_fault == STORE_FAULT_NONE &&
		    sv->sv_conf.c_job_timeout_ms != 0 &&
		    now - w->w_job_start > sv->sv_conf.c_job_timeout_ms +
		    sv->sv_conf.c_grace_ms + w->w_job_paused)
			fleet_overtime(sv, w, now);
		else if (w->w_kill_stage == 0 &&
		    now - w->w_last_beat > fleet_silence(sv, w))
			fleet_hung(sv, w, now);
		if (w->w_ready_at != 0 && w->w_fails > 0 &&
		    now - w->w_ready_at >= FLEET_HEALTHY_MS)
			w->w_fails = 0;
		if (sample)
			fleet_sample(w, now);
	}
	if (sv->sv_draining && !sv->sv_fast && now >= sv->sv_drain_deadline) {
		log_warnx("drain: timeout after %llu ms; stopping %d workers "
		    "now", (unsigned long long)sv->sv_conf.c_drain_ms,
		    fleet_live(sv));
		sv->sv_fast = 1;
		fleet_stop_all(sv, 1);
	}
	fleet_resize(sv);
	fleet_replace(sv);
}

/* Keep a decision for status and log it: one line with its inputs. */
void
fleet_decision(struct supervisor *sv, const char *fmt, ...)
{
	struct fleet	*f = &sv->sv_fleet;
	va_list		 ap;
	char		*d;

	d = f->f_decisions[f->f_ndecisions % FLEET_DECISIONS];
	va_start(ap, fmt);
	vsnprintf(d, FLEET_DECISION_MAX, fmt, ap);
	va_end(ap);
	f->f_ndecisions++;
	log_info("%s", d);
}

/* A frame to every live worker that has its socket. */
void
fleet_send(struct supervisor *sv, uint32_t type, uint64_t a, uint64_t b,
    const char *str)
{
	struct wslot	*w;
	int		 i;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (!fleet_alive(w) || w->w_bev == NULL)
			continue;
		if (str == NULL)
			fleet_order(w, type, a, b);
		else
			ipc_evbuffer_put(bufferevent_get_output(w->w_bev),
			    type, a, b, str);
	}
}

/*
 * A reload changed what children use.  The options they take live go to
 * every running child, the merger too, and they then hold the new
 * generation; when respawn is set, the workers are replaced one at a time
 * (fleet_replace), since some of it is read only at start.
 */
void
fleet_reconfigure(struct supervisor *sv, int respawn)
{
	struct wslot	*w;
	char		 cfg[IPC_STR_MAX];
	int		 i;

	sv->sv_cgen++;
	if (respawn)
		sv->sv_respawn_gen = sv->sv_cgen;
	fleet_config_text(sv, cfg, sizeof(cfg));
	for (i = FLEET_FIRST; i < QUIRE_WORKERS_MAX; i++) {
		w = fleet_slot(sv, i);
		if (!fleet_alive(w) || w->w_bev == NULL)
			continue;
		ipc_evbuffer_put(bufferevent_get_output(w->w_bev), IPC_CONFIG,
		    sv->sv_cgen, 0, cfg);
		/* A worker waiting to be replaced holds only part of it. */
		if (i < 0 || w->w_spawn_gen >= sv->sv_respawn_gen)
			w->w_cgen = sv->sv_cgen;
	}
}
