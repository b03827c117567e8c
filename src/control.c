/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The admin socket, a UNIX stream socket that quirectl talks to.
 *
 * A client sends one frame (ipc.c) of type IPC_CTL: a is the command
 * (enum ctl_command), b its number (the target of scale), str its flags
 * ("json").  The reply is text up to end of file: a first line "ok" or
 * "error: why", then the body.  status, workers: anyone who can open the
 * socket (mode control-socket-mode, group control-socket-group).  jobs
 * (b: the limit, str: "json", "state=N") shows what is in the queue, and
 * scale, drain, reload, stop change things: they need the peer, by its
 * SO_PEERCRED credentials, to be root, the daemon's own user, or in
 * control-socket-group.  jobs is how a member of that group, who cannot
 * open the LMDB files (they need write access even to read), lists jobs.
 * search (b: the number of hits; str: flags one a line, "json",
 * "exact", "chunks", "notypos", "offset=N", "filter=K=V", "facet=FIELD",
 * "facet-size=N", then an empty line and the query) is how they search,
 * under the same rule.  cancel (b: the job id) cancels a job and stops
 * it at once if a worker runs it
 * (control_cancel has the reply's forms); it needs the same rights.
 * metrics (metrics.c) is the Prometheus text the HTTP child serves as
 * /metrics; it names tenants, so it is under the same rule too.
 *
 * A search runs here, on the event loop, so it is bounded before it
 * runs: at most CTL_SEARCH_N_MAX hits after CTL_SEARCH_OFFSET_MAX
 * skipped ones, a query of CTL_SEARCH_QUERY_MAX bytes, and the search
 * engine's own caps on terms, phrases and prefix expansions.  A search
 * takes milliseconds; one that takes longer than CONTROL_SEARCH_SLOW_MS
 * is logged, and one that reaches CTL_SEARCH_BUDGET_MS gives up.
 *
 * Out of descriptors: accept(2) fails with EMFILE while the connection
 * waits in the backlog, so a level-triggered listener would wake again
 * at once and the loop would spin.  Instead the listener is paused for
 * CONTROL_PAUSE_MS, and one descriptor kept open on /dev/null from the
 * start is given up to accept the waiting client, which is served as
 * usual (status then says why the daemon is degraded); the reserve is
 * taken back when that connection closes.  The complaint is logged at
 * most once a second.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

struct ctl_conn {
	struct supervisor	*cc_sv;
	struct bufferevent	*cc_bev;
	uid_t			 cc_uid;
	gid_t			 cc_gid;
	int			 cc_done;
	int			 cc_reserve;	/* holds the reserve descriptor */
};

#define CONTROL_READER_PIDS	32
#define CONTROL_JOBS_MAX	10000	/* jobs in one reply */
#define CONTROL_PAUSE_MS	1000	/* no accepts after EMFILE */
#define CONTROL_SEARCH_SLOW_MS	100	/* a search logged as slow */

static void	 control_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 control_accept_error(struct evconnlistener *, void *);
static void	 control_resume(evutil_socket_t, short, void *);
static void	 control_accept_conn(struct supervisor *, int, int);

/* Whether a listener answers on the socket path. */
static int
control_answers(const struct sockaddr_un *sun)
{
	int	 fd, rv;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	rv = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return (rv);
}

/* The supervisor's orders, given once by control_listen. */
static const struct control_orders *control_orders;

int
control_listen(struct supervisor *sv, const struct control_orders *co)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	mode_t			 mask;
	int			 fd, rv;

	control_orders = co;
	config_control_path(&sv->sv_conf, sv->sv_ctlpath,
	    sizeof(sv->sv_ctlpath));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, sv->sv_ctlpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		log_warnx("%s: %s: path too long for a socket", __func__,
		    sv->sv_ctlpath);
		return (-1);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		log_warn("%s: socket", __func__);
		return (-1);
	}
	/*
	 * A socket here is stale unless something answers on it: another
	 * daemon on another data directory may have chosen the same path.
	 */
	if (control_answers(&sun)) {
		log_warnx("%s: another daemon answers on %s", __func__,
		    sv->sv_ctlpath);
		close(fd);
		return (-1);
	}
	if (unlink(sv->sv_ctlpath) == -1 && errno != ENOENT) {
		log_warn("%s: unlink %s", __func__, sv->sv_ctlpath);
		close(fd);
		return (-1);
	}
	/*
	 * The mode from the start, by the umask: a chmod by name after the
	 * bind could meet a link swapped in since (DESIGN: datadir).
	 */
	mask = umask(~sv->sv_conf.c_control_mode & 0777);
	rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (rv == -1) {
		log_warn("%s: bind %s", __func__, sv->sv_ctlpath);
		close(fd);
		return (-1);
	}
	if (sv->sv_conf.c_control_group[0] != '\0' &&
	    ((gr = getgrnam(sv->sv_conf.c_control_group)) == NULL ||
	    util_chown_socket(sv->sv_ctlpath, -1, gr->gr_gid) == -1))
		log_warn("%s: group of %s", __func__, sv->sv_ctlpath);
	sv->sv_ctl = evconnlistener_new(sv->sv_base, control_accept, sv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (sv->sv_ctl == NULL) {
		log_warnx("%s: listener", __func__);
		close(fd);
		return (-1);
	}
	evconnlistener_set_error_cb(sv->sv_ctl, control_accept_error);
	sv->sv_ctl_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (sv->sv_ctl_reserve == -1)
		log_warn("%s: /dev/null", __func__);
	if ((sv->sv_ctl_pause = evtimer_new(sv->sv_base, control_resume,
	    sv)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	return (0);
}

void
control_close(struct supervisor *sv)
{
	if (sv->sv_ctl == NULL)
		return;
	evconnlistener_free(sv->sv_ctl);
	sv->sv_ctl = NULL;
	unlink(sv->sv_ctlpath);
	if (sv->sv_ctl_pause != NULL) {
		event_free(sv->sv_ctl_pause);
		sv->sv_ctl_pause = NULL;
	}
	if (sv->sv_ctl_reserve != -1) {
		close(sv->sv_ctl_reserve);
		sv->sv_ctl_reserve = -1;
	}
}

/* Take the reserve descriptor back, if one is free again. */
static void
control_reserve(struct supervisor *sv)
{
	if (sv->sv_ctl_reserve == -1)
		sv->sv_ctl_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
control_resume(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;

	control_reserve(sv);
	if (sv->sv_ctl != NULL)
		evconnlistener_enable(sv->sv_ctl);
}

/*
 * accept(2) failed.  Short of descriptors, pause the listener, and serve
 * the client waiting in the backlog with the reserve descriptor.
 */
static void
control_accept_error(struct evconnlistener *l, void *arg)
{
	struct supervisor	*sv = arg;
	struct timeval		 tv;
	uint64_t		 held;
	int			 err = EVUTIL_SOCKET_ERROR(), fd;

	if (err != EMFILE && err != ENFILE && err != ENOBUFS &&
	    err != ENOMEM) {
		if (util_ratelimit(&sv->sv_ctl_rl, &held))
			log_warnx("%s: accept: %s (%llu more not logged)",
			    __func__, strerror(err), (unsigned long long)held);
		return;
	}
	if (err == EMFILE || err == ENFILE)
		fleet_fdshort(sv, "admin socket: accept", err);
	evconnlistener_disable(l);
	tv.tv_sec = CONTROL_PAUSE_MS / 1000;
	tv.tv_usec = (CONTROL_PAUSE_MS % 1000) * 1000;
	evtimer_add(sv->sv_ctl_pause, &tv);
	fd = -1;
	if (sv->sv_ctl_reserve != -1) {
		close(sv->sv_ctl_reserve);
		sv->sv_ctl_reserve = -1;
		fd = accept4(evconnlistener_get_fd(l), NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1)
			control_reserve(sv);
	}
	if (util_ratelimit(&sv->sv_ctl_rl, &held))
		log_warnx("%s: accept: %s; admin socket paused for %d ms, %s "
		    "(%llu more not logged)", __func__, strerror(err),
		    CONTROL_PAUSE_MS, fd != -1 ? "one client served with the "
		    "reserve descriptor" : "no reserve descriptor",
		    (unsigned long long)held);
	if (fd != -1)
		control_accept_conn(sv, fd, 1);
}

/* A JSON string (show.c), as quirectl writes them. */
static void
control_json_str(struct evbuffer *eb, const char *s)
{
	struct buf	 b;

	buf_init(&b);
	show_json_str(&b, s);
	evbuffer_add(eb, b.b_data, b.b_len);
	buf_free(&b);
}

static void
control_workers(struct supervisor *sv, int json, struct evbuffer *eb)
{
	struct wslot	*w;
	uint64_t	 now = util_mono_ms();
	int		 i, n = 0;

	if (!json)
		evbuffer_add_printf(eb, "%-4s %-8s %-9s %-10s %10s %10s %10s "
		    "%8s %4s %s\n", "SLOT", "PID", "STATE", "JOB", "ELAPSED_MS",
		    "BEAT_MS", "ANON_KB", "JOBS", "GEN", "PHASE");
	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (w->w_state == W_EMPTY)
			continue;
		if (json) {
			evbuffer_add_printf(eb, "%s{\"slot\": %d, \"pid\": %d, "
			    "\"state\": \"%s\", \"job\": ", n ? ", " : "",
			    w->w_slot, (int)w->w_pid,
			    fleet_state_name(w->w_state));
			if (w->w_job != 0)
				evbuffer_add_printf(eb, "%llu, \"elapsed_ms\": "
				    "%llu, \"progress\": %.3f",
				    (unsigned long long)w->w_job,
				    (unsigned long long)(now - w->w_job_start),
				    w->w_progress / 1000.0);
			else
				evbuffer_add_printf(eb, "null, \"elapsed_ms\": "
				    "null, \"progress\": null");
			evbuffer_add_printf(eb, ", \"heartbeat_age_ms\": %llu, "
			    "\"anon_kb\": %lld, \"jobs\": %llu, \"starts\": "
			    "%llu, \"failed_starts\": %u, \"generation\": "
			    "%llu, \"replacing\": %s, \"phase\": ",
			    w->w_pid != 0 ?
			    (unsigned long long)(now - w->w_last_beat) : 0ULL,
			    w->w_anon_kb, (unsigned long long)w->w_jobs,
			    (unsigned long long)w->w_forks, w->w_fails,
			    (unsigned long long)w->w_cgen,
			    w->w_replace != NULL ? "true" : "false");
			control_json_str(eb, w->w_phase);
			evbuffer_add(eb, "}", 1);
		} else {
			evbuffer_add_printf(eb, "%-4d %-8d %-9s ", w->w_slot,
			    (int)w->w_pid, fleet_state_name(w->w_state));
			if (w->w_job != 0)
				evbuffer_add_printf(eb, "%-10llu %10llu ",
				    (unsigned long long)w->w_job,
				    (unsigned long long)(now - w->w_job_start));
			else
				evbuffer_add_printf(eb, "%-10s %10s ", "-",
				    "-");
			evbuffer_add_printf(eb, "%10llu %10lld %8llu %4llu "
			    "%s\n", w->w_pid != 0 ?
			    (unsigned long long)(now - w->w_last_beat) : 0ULL,
			    w->w_anon_kb, (unsigned long long)w->w_jobs,
			    (unsigned long long)w->w_cgen, w->w_phase);
		}
		n++;
	}
}

/* The last decisions about the fleet's size, oldest first. */
static void
control_decisions(struct supervisor *sv, int json, struct evbuffer *eb)
{
	struct fleet	*f = &sv->sv_fleet;
	uint64_t	 i, first;

	first = f->f_ndecisions > FLEET_DECISIONS ?
	    f->f_ndecisions - FLEET_DECISIONS : 0;
	for (i = first; i < f->f_ndecisions; i++) {
		if (json) {
			if (i > first)
				evbuffer_add(eb, ", ", 2);
			control_json_str(eb,
			    f->f_decisions[i % FLEET_DECISIONS]);
		} else
			evbuffer_add_printf(eb, "decision: %s\n",
			    f->f_decisions[i % FLEET_DECISIONS]);
	}
}

/* The fleet's elasticity: resizes, replacements, what memory allows. */
static void
control_elastic_json(struct supervisor *sv, struct evbuffer *eb)
{
	struct fleet	*f = &sv->sv_fleet;

	evbuffer_add_printf(eb, ", \"want\": %d, \"generation\": %llu, "
	    "\"resizes\": {\"up\": %llu, \"down\": %llu, \"memory_up\": "
	    "%llu, \"memory_down\": %llu}, \"replaced\": %llu, "
	    "\"memory_limit_exits\": %llu, \"last_decision\": ",
	    fleet_want(sv), (unsigned long long)sv->sv_cgen,
	    (unsigned long long)f->f_ups, (unsigned long long)f->f_downs,
	    (unsigned long long)sv->sv_el.el_ups,
	    (unsigned long long)sv->sv_el.el_downs,
	    (unsigned long long)f->f_replaced,
	    (unsigned long long)f->f_memkills);
	if (f->f_ndecisions > 0)
		control_json_str(eb,
		    f->f_decisions[(f->f_ndecisions - 1) % FLEET_DECISIONS]);
	else
		evbuffer_add_printf(eb, "null");
	evbuffer_add_printf(eb, ", \"decisions\": [");
	control_decisions(sv, 1, eb);
	evbuffer_add_printf(eb, "]");
}

/* Who holds a snapshot of each store open: slots and their pids. */
static void
control_readers_json(struct supervisor *sv, struct evbuffer *eb)
{
	struct store	*qs = queue_store(&sv->sv_q);
	pid_t		 pids[CONTROL_READER_PIDS];
	int		 i, n;

	/* Reader slots are LMDB's: null for a queue on PostgreSQL. */
	if (qs != NULL)
		evbuffer_add_printf(eb, "\"readers\": {\"queue\": %d, ",
		    store_readers(qs, NULL, 0));
	else
		evbuffer_add_printf(eb, "\"readers\": {\"queue\": null, ");
	n = store_readers(&sv->sv_ix.ix_store, pids, CONTROL_READER_PIDS);
	evbuffer_add_printf(eb, "\"index\": %d, \"index_pids\": [", n);
	for (i = 0; i < n && i < CONTROL_READER_PIDS; i++)
		evbuffer_add_printf(eb, "%s%d", i ? ", " : "", (int)pids[i]);
	evbuffer_add_printf(eb, "], \"stale_cleared\": %llu}, ",
	    (unsigned long long)((qs != NULL ? qs->s_stale : 0) +
	    sv->sv_ix.ix_store.s_stale));
}

struct control_hostlist {
	struct evbuffer	*ho_eb;
	int		 ho_json;
	size_t		 ho_n;
	uint64_t	 ho_expiry;
};

/* One host of the registry, for status. */
static int
control_host_cb(const struct queue_host *h, void *arg)
{
	struct control_hostlist	*ho = arg;
	const char		*state = queue_host_state(h, ho->ho_expiry);
	const char		*drain = queue_host_drain(h);

	if (!ho->ho_json) {
		evbuffer_add_printf(ho->ho_eb, "%s %s %s%s%s (beat %llu.%llu s "
		    "ago%s)", ho->ho_n ? "," : "", util_vis(h->qh_name),
		    state, drain != NULL ? " " : "", drain != NULL ? drain : "",
		    (unsigned long long)(h->qh_age / 1000),
		    (unsigned long long)(h->qh_age % 1000 / 100),
		    h->qh_self ? ", this host" : "");
		ho->ho_n++;
		return (0);
	}
	evbuffer_add_printf(ho->ho_eb, "%s{\"name\": ", ho->ho_n ? ", " : "");
	control_json_str(ho->ho_eb, h->qh_name);
	evbuffer_add_printf(ho->ho_eb, ", \"state\": \"%s\", "
	    "\"beat_age_ms\": %llu, \"leased\": %llu, \"http\": ", state,
	    (unsigned long long)h->qh_age, (unsigned long long)h->qh_leased);
	if (h->qh_http[0] != '\0')
		control_json_str(ho->ho_eb, h->qh_http);
	else
		evbuffer_add_printf(ho->ho_eb, "null");
	evbuffer_add_printf(ho->ho_eb, ", \"drain\": ");
	if (drain != NULL)
		evbuffer_add_printf(ho->ho_eb, "\"%s\"", drain);
	else
		evbuffer_add_printf(ho->ho_eb, "null");
	evbuffer_add_printf(ho->ho_eb, ", \"self\": %s}",
	    h->qh_self ? "true" : "false");
	ho->ho_n++;
	return (0);
}

/*
 * The hosts of a shared queue, read from the database now: whether it
 * answered (not: "reachable" false and why), whether this host's last
 * beat failed, and each host with its state and beat age.  The reply
 * is built aside, so that a failed read leaves no half list.
 */
static void
control_hosts(struct supervisor *sv, int json, struct evbuffer *eb)
{
	struct control_hostlist	 ho;
	int			 rc;

	memset(&ho, 0, sizeof(ho));
	ho.ho_json = json;
	ho.ho_expiry = sv->sv_conf.c_host_expiry_ms;
	if ((ho.ho_eb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	rc = queue_pg_hosts(&sv->sv_q, control_host_cb, &ho);
	if (!json) {
		if (sv->sv_host_failing)
			evbuffer_add_printf(eb, "heartbeat: failing (other "
			    "hosts take this one for dead after host-expiry "
			    "%llu ms)\n",
			    (unsigned long long)ho.ho_expiry);
		if (rc != 0)
			evbuffer_add_printf(eb, "hosts: the database did not "
			    "answer: %s\n", queue_strerror(rc));
		else {
			evbuffer_add_printf(eb, "hosts:%s", ho.ho_n == 0 ?
			    " none registered" : "");
			evbuffer_add_buffer(eb, ho.ho_eb);
			evbuffer_add_printf(eb, "\n");
		}
		evbuffer_free(ho.ho_eb);
		return;
	}
	evbuffer_add_printf(eb, ", \"reachable\": %s, \"error\": ",
	    rc == 0 ? "true" : "false");
	if (rc != 0)
		control_json_str(eb, queue_strerror(rc));
	else
		evbuffer_add_printf(eb, "null");
	evbuffer_add_printf(eb, ", \"beat_failing\": %s, "
	    "\"host_expiry_ms\": %llu, \"hosts\": ",
	    sv->sv_host_failing ? "true" : "false",
	    (unsigned long long)ho.ho_expiry);
	if (rc != 0)
		evbuffer_add_printf(eb, "null");
	else {
		evbuffer_add_printf(eb, "[");
		evbuffer_add_buffer(eb, ho.ho_eb);
		evbuffer_add_printf(eb, "]");
	}
	evbuffer_free(ho.ho_eb);
}

/*
 * Which queue: its backend, and where it is for PostgreSQL, with the
 * hosts that share it.
 */
static void
control_queue(struct supervisor *sv, int json, struct evbuffer *eb)
{
	const char	*name = queue_backend_name(&sv->sv_q), *host = NULL;
	char		 where[512];

	queue_where(&sv->sv_q, where, sizeof(where));
	if (sv->sv_q.q_conf.qc_backend == QUEUE_BACKEND_PG)
		host = queue_pg_host(&sv->sv_q);
	if (!json) {
		evbuffer_add_printf(eb, "queue: %s%s%s", name,
		    where[0] != '\0' ? ", " : "", where);
		if (host != NULL)
			evbuffer_add_printf(eb, "; this host %s",
			    util_vis(host));
		evbuffer_add_printf(eb, "\n");
		if (host != NULL)
			control_hosts(sv, 0, eb);
		return;
	}
	evbuffer_add_printf(eb, "\"queue\": {\"backend\": \"%s\", "
	    "\"where\": ", name);
	if (where[0] != '\0')
		control_json_str(eb, where);
	else
		evbuffer_add_printf(eb, "null");
	evbuffer_add_printf(eb, ", \"host\": ");
	if (host != NULL) {
		control_json_str(eb, host);
		control_hosts(sv, 1, eb);
	} else
		evbuffer_add_printf(eb, "null");
	evbuffer_add_printf(eb, "}, ");
}

/* The storage: ok, or the fault that holds ingestion (storage.c). */
static void
control_storage_json(struct supervisor *sv, struct evbuffer *eb)
{
	const struct storage	*st = &sv->sv_storage;

	evbuffer_add_printf(eb, "\"storage\": {\"state\": \"%s\", "
	    "\"since_ms\": %llu, \"what\": ", store_fault_name(st->st_fault),
	    st->st_fault != STORE_FAULT_NONE ?
	    (unsigned long long)(util_mono_ms() - st->st_since) : 0ULL);
	if (st->st_fault != STORE_FAULT_NONE)
		control_json_str(eb, st->st_what);
	else
		evbuffer_add_printf(eb, "null");
	evbuffer_add_printf(eb, ", \"free_bytes\": %lld, \"faults\": %llu, "
	    "\"deferred_releases\": %zu}, ", storage_free(sv),
	    (unsigned long long)st->st_episodes, st->st_ndefer);
}

static void
control_storage_text(struct supervisor *sv, struct evbuffer *eb)
{
	const struct storage	*st = &sv->sv_storage;
	char			 room[32];
	long long		 n = storage_free(sv);

	if (n >= 0)
		util_human_size(n, room, sizeof(room));
	else
		strlcpy(room, "unknown", sizeof(room));
	if (st->st_fault == STORE_FAULT_NONE)
		evbuffer_add_printf(eb, "storage: ok, %s free\n", room);
	else
		evbuffer_add_printf(eb, "storage: %s for %llu s (%s), %s "
		    "free\n", store_fault_name(st->st_fault),
		    (unsigned long long)(util_mono_ms() - st->st_since) / 1000,
		    st->st_what, room);
}

static void
control_memory_json(struct supervisor *sv, struct evbuffer *eb)
{
	const struct psample	*ps = &sv->sv_ps;

	evbuffer_add_printf(eb, "\"memory\": {\"available\": %llu, "
	    "\"limit\": %llu, \"limit_source\": ",
	    (unsigned long long)ps->ps_avail,
	    (unsigned long long)ps->ps_limit);
	control_json_str(eb, ps->ps_limit_source);
	evbuffer_add_printf(eb, ", \"high\": %llu, \"usage\": %llu, "
	    "\"cache\": %llu, \"headroom\": %llu, \"psi_some10\": %.2f, "
	    "\"psi_full10\": %.2f, \"reserve\": %llu, \"pressure\": %s, "
	    "\"elastic\": %s, \"cap\": %d, \"poll_ms\": %llu, "
	    "\"big_admit\": %llu, \"oom_kills\": %llu}",
	    (unsigned long long)ps->ps_high, (unsigned long long)ps->ps_usage,
	    (unsigned long long)ps->ps_cache,
	    (unsigned long long)ps->ps_headroom, ps->ps_some10, ps->ps_full10,
	    (unsigned long long)sv->sv_ec.ec_reserve,
	    sv->sv_el.el_pressure ? "true" : "false",
	    sv->sv_conf.c_mem_elastic ? "true" : "false", sv->sv_el.el_cap,
	    (unsigned long long)sv->sv_mem_ms,
	    (unsigned long long)sv->sv_admit,
	    (unsigned long long)ps->ps_oom_kills);
}

static void
control_memory_text(struct supervisor *sv, struct evbuffer *eb)
{
	const struct psample	*ps = &sv->sv_ps;
	struct fleet		*f = &sv->sv_fleet;
	char			 lim[32], use[32], head[32], res[32];

	util_human_size(ps->ps_limit, lim, sizeof(lim));
	util_human_size(ps->ps_usage, use, sizeof(use));
	util_human_size(ps->ps_headroom, head, sizeof(head));
	util_human_size(sv->sv_ec.ec_reserve, res, sizeof(res));
	evbuffer_add_printf(eb, "memory: limit %s (%s), used %s, headroom "
	    "%s, reserve %s, psi some %.2f full %.2f%s\n", lim,
	    ps->ps_limit_source, use, head, res, ps->ps_some10, ps->ps_full10,
	    sv->sv_el.el_pressure ? ", under pressure" : "");
	evbuffer_add_printf(eb, "resizes: up %llu down %llu (memory: up %llu "
	    "down %llu), replaced %llu, generation %llu, want %d\n",
	    (unsigned long long)f->f_ups, (unsigned long long)f->f_downs,
	    (unsigned long long)sv->sv_el.el_ups,
	    (unsigned long long)sv->sv_el.el_downs,
	    (unsigned long long)f->f_replaced,
	    (unsigned long long)sv->sv_cgen, fleet_want(sv));
	control_decisions(sv, 0, eb);
}

/* The HTTP API: its addresses and its process (fleet.c starts it). */
static void
control_http(struct supervisor *sv, int json, struct evbuffer *eb)
{
	const struct wslot	*w = &sv->sv_fleet.f_http;
	size_t			 i;

	if (!json) {
		if (sv->sv_nhttp == 0) {
			evbuffer_add_printf(eb, "http: off\n");
			return;
		}
		evbuffer_add_printf(eb, "http: listening on");
		for (i = 0; i < sv->sv_nhttp; i++)
			evbuffer_add_printf(eb, "%s %s", i ? "," : "",
			    sv->sv_http_name[i]);
		if (w->w_pid != 0)
			evbuffer_add_printf(eb, "; pid %d, %s\n", (int)w->w_pid,
			    fleet_state_name(w->w_state));
		else
			evbuffer_add_printf(eb, "; not running\n");
		return;
	}
	evbuffer_add_printf(eb, ", \"http\": {\"listen\": [");
	for (i = 0; i < sv->sv_nhttp; i++) {
		evbuffer_add_printf(eb, "%s", i ? ", " : "");
		control_json_str(eb, sv->sv_http_name[i]);
	}
	if (w->w_pid != 0)
		evbuffer_add_printf(eb, "], \"pid\": %d, \"state\": \"%s\"}",
		    (int)w->w_pid, fleet_state_name(w->w_state));
	else
		evbuffer_add_printf(eb, "], \"pid\": null, \"state\": null}");
}

/* No syslog to log to: why, and whether anyone sees the log instead. */
static int
control_log_problem(char *buf, size_t len)
{
	const char	*why;

	if ((why = log_syslog_lost()) == NULL)
		return (0);
	snprintf(buf, len, "syslog unreachable (%s): %s", why,
	    log_stderr_seen() ? "logging to standard error" :
	    "log messages are lost; set log-file");
	return (1);
}

/* status and workers, as text or JSON; both carry the same facts. */
void
control_status(struct supervisor *sv, int json, int workers_only,
    struct evbuffer *eb)
{
	struct fleet		*f = &sv->sv_fleet;
	struct queue_stats	 qs;
	struct ixstats		 is;
	char			 ixline[512], whybuf[256];
	int			 i, live = fleet_live(sv);
	const char		*rerr = sv->sv_reload_error, *why;
	char			 lerr[256];

	if (workers_only) {
		if (json)
			evbuffer_add_printf(eb, "{\"workers\": [");
		control_workers(sv, json, eb);
		if (json)
			evbuffer_add_printf(eb, "]}\n");
		return;
	}
	why = fleet_degraded_why(sv, whybuf, sizeof(whybuf));
	if (queue_stats(&sv->sv_q, &qs) != 0)
		memset(&qs, 0, sizeof(qs));
	if (index_stats(&sv->sv_ix, &is) != 0)
		memset(&is, 0, sizeof(is));
	if (json) {
		evbuffer_add_printf(eb, "{\"jobs\": {");
		for (i = 0; i < JOB_NSTATES; i++)
			evbuffer_add_printf(eb, "%s\"%s\": %llu", i ? ", " : "",
			    codec_state_name(i),
			    (unsigned long long)qs.qs_count[i]);
		index_stats_format(&is, 1, ixline, sizeof(ixline));
		evbuffer_add_printf(eb, "}, \"index\": {%s", ixline);
		evbuffer_add_printf(eb, "}, \"totals\": {\"enqueued\": %llu, "
		    "\"completed\": %llu, \"failed\": %llu, \"released\": "
		    "%llu}, \"fleet\": {\"pid\": %d, \"target\": %d, "
		    "\"running\": %d, \"degraded\": %s, \"degraded_reason\": ",
		    (unsigned long long)qs.qs_enqueued,
		    (unsigned long long)qs.qs_completed,
		    (unsigned long long)qs.qs_failed,
		    (unsigned long long)qs.qs_released, (int)getpid(),
		    f->f_target, live, why != NULL ? "true" : "false");
		if (why != NULL)
			control_json_str(eb, why);
		else
			evbuffer_add_printf(eb, "null");
		evbuffer_add_printf(eb, ", \"draining\": %s, "
		    "\"uptime_s\": %llu, \"reloads\": %llu, "
		    "\"last_reload_error\": ",
		    sv->sv_draining ? "true" : "false",
		    (unsigned long long)(util_now_ms() - sv->sv_started) / 1000,
		    (unsigned long long)sv->sv_reloads);
		if (rerr[0] != '\0')
			control_json_str(eb, rerr);
		else
			evbuffer_add_printf(eb, "null");
		/* syslog unreachable: where the log goes instead. */
		evbuffer_add_printf(eb, ", \"log_problem\": ");
		if (control_log_problem(lerr, sizeof(lerr)))
			control_json_str(eb, lerr);
		else
			evbuffer_add_printf(eb, "null");
		evbuffer_add_printf(eb, ", \"spawned\": %llu, \"deaths\": %llu, "
		    "\"hung\": %llu, \"overtime\": %llu, \"released\": %llu, "
		    "\"quarantined\": %llu, \"workers\": [",
		    (unsigned long long)f->f_spawned,
		    (unsigned long long)f->f_deaths,
		    (unsigned long long)f->f_hung,
		    (unsigned long long)f->f_overtime,
		    (unsigned long long)f->f_released,
		    (unsigned long long)f->f_quarantined);
		control_workers(sv, 1, eb);
		evbuffer_add_printf(eb, "], \"merger\": ");
		if (f->f_merger.w_pid != 0)
			evbuffer_add_printf(eb, "{\"pid\": %d, \"state\": "
			    "\"%s\", \"generation\": %llu}",
			    (int)f->f_merger.w_pid,
			    fleet_state_name(f->f_merger.w_state),
			    (unsigned long long)f->f_merger.w_cgen);
		else
			evbuffer_add_printf(eb, "null");
		control_elastic_json(sv, eb);
		evbuffer_add_printf(eb, "}, ");
		control_readers_json(sv, eb);
		control_queue(sv, 1, eb);
		control_storage_json(sv, eb);
		control_memory_json(sv, eb);
		control_http(sv, 1, eb);
		evbuffer_add_printf(eb, "}\n");
		return;
	}
	evbuffer_add_printf(eb, "jobs:");
	for (i = 0; i < JOB_NSTATES; i++)
		evbuffer_add_printf(eb, " %s %llu", codec_state_name(i),
		    (unsigned long long)qs.qs_count[i]);
	index_stats_format(&is, 0, ixline, sizeof(ixline));
	evbuffer_add_printf(eb, "\nindex: %s", ixline);
	evbuffer_add_printf(eb, "\ntotals: enqueued %llu completed %llu "
	    "failed %llu released %llu\n", (unsigned long long)qs.qs_enqueued,
	    (unsigned long long)qs.qs_completed,
	    (unsigned long long)qs.qs_failed,
	    (unsigned long long)qs.qs_released);
	evbuffer_add_printf(eb, "fleet: pid %d, target %d, running %d%s%s%s%s, "
	    "uptime %llus, reloads %llu\n", (int)getpid(), f->f_target, live,
	    why != NULL ? ", degraded (" : "", why != NULL ? why : "",
	    why != NULL ? ")" : "",
	    sv->sv_draining ? ", draining" : "",
	    (unsigned long long)(util_now_ms() - sv->sv_started) / 1000,
	    (unsigned long long)sv->sv_reloads);
	evbuffer_add_printf(eb, "last reload error: %s\n",
	    rerr[0] != '\0' ? rerr : "none");
	control_queue(sv, 0, eb);
	if (control_log_problem(lerr, sizeof(lerr)))
		evbuffer_add_printf(eb, "log: %s\n", lerr);
	if (f->f_merger.w_pid != 0)
		evbuffer_add_printf(eb, "merger: pid %d, %s\n",
		    (int)f->f_merger.w_pid,
		    fleet_state_name(f->f_merger.w_state));
	else
		evbuffer_add_printf(eb, "merger: not running\n");
	control_http(sv, 0, eb);
	evbuffer_add_printf(eb, "workers: spawned %llu deaths %llu hung %llu "
	    "overtime %llu released %llu quarantined %llu\n",
	    (unsigned long long)f->f_spawned, (unsigned long long)f->f_deaths,
	    (unsigned long long)f->f_hung, (unsigned long long)f->f_overtime,
	    (unsigned long long)f->f_released,
	    (unsigned long long)f->f_quarantined);
	control_storage_text(sv, eb);
	control_memory_text(sv, eb);
	control_workers(sv, 0, eb);
}

struct control_jobs {
	struct evbuffer	*cj_eb;
	struct buf	 cj_b;
	int		 cj_json;
	size_t		 cj_n;
};

static int
control_jobs_cb(const struct job *j, void *arg)
{
	struct control_jobs	*cj = arg;

	buf_reset(&cj->cj_b);
	if (cj->cj_json) {
		buf_addstr(&cj->cj_b, cj->cj_n == 0 ? "\n  " : ",\n  ");
		show_job_json(&cj->cj_b, j);
	} else
		show_job_line(&cj->cj_b, j);
	evbuffer_add(cj->cj_eb, cj->cj_b.b_data, cj->cj_b.b_len);
	cj->cj_n++;
	return (0);
}

/*
 * jobs for a peer that may read the queue through us but not open it
 * (a member of control-socket-group): the body quirectl jobs prints,
 * at most CONTROL_JOBS_MAX jobs, so that a reply stays bounded.
 * flags: "json", "state=N".
 */
static void
control_jobs(struct supervisor *sv, const char *flags, uint64_t limit,
    struct evbuffer *eb)
{
	struct control_jobs	 cj;
	const char		*p, *errstr;
	char			 st[16];
	int			 state = -1, rc;

	memset(&cj, 0, sizeof(cj));
	cj.cj_eb = eb;
	cj.cj_json = strstr(flags, "json") != NULL;
	if ((p = strstr(flags, "state=")) != NULL) {
		strlcpy(st, p + 6, sizeof(st));
		st[strcspn(st, " ")] = '\0';
		state = strtonum(st, 0, JOB_NSTATES - 1, &errstr);
		if (errstr != NULL) {
			evbuffer_add_printf(eb, "error: state %s: %s\n", st,
			    errstr);
			return;
		}
	}
	if (limit == 0 || limit > CONTROL_JOBS_MAX)
		limit = CONTROL_JOBS_MAX;
	buf_init(&cj.cj_b);
	evbuffer_add_printf(eb, "ok\n");
	if (cj.cj_json)
		evbuffer_add_printf(eb, "{\"jobs\": [");
	else {
		show_job_header(&cj.cj_b);
		evbuffer_add(eb, cj.cj_b.b_data, cj.cj_b.b_len);
	}
	rc = queue_list(&sv->sv_q, state, limit, control_jobs_cb, &cj);
	if (cj.cj_json)
		evbuffer_add_printf(eb, cj.cj_n ? "\n]}\n" : "]}\n");
	if (rc != 0)
		log_warnx("%s: %s", __func__, queue_strerror(rc));
	buf_free(&cj.cj_b);
}

/*
 * search for a peer that may not open the index: the same body quirectl
 * search prints, with the daemon's language and BM25 parameters.
 */
static void
control_search(struct supervisor *sv, const char *req, uint64_t n,
    struct evbuffer *eb)
{
	struct search_opts	 so;
	struct search_result	 res;
	struct tokenizer	*tk;
	struct buf		 out;
	char			*copy, *line, *next, *query = NULL;
	const char		*errstr;
	int			 json = 0;

	search_opts_defaults(&so);
	search_opts_conf(&so, &sv->sv_conf);
	so.so_budget_ms = CTL_SEARCH_BUDGET_MS;
	if (n < 1 || n > CTL_SEARCH_N_MAX) {
		evbuffer_add_printf(eb, "error: -n %llu: from 1 to %d through "
		    "the daemon\n", (unsigned long long)n, CTL_SEARCH_N_MAX);
		return;
	}
	so.so_n = n;
	/* The filters point into copy, which lives until the search ends. */
	copy = xstrdup(req);
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0') {
			query = next;
			break;
		}
		if (strcmp(line, "json") == 0)
			json = 1;
		else if (strcmp(line, "exact") == 0)
			so.so_exact = 1;
		else if (strcmp(line, "chunks") == 0)
			so.so_chunks = 1;
		else if (strncmp(line, "facet=", 6) == 0 &&
		    so.so_nfacets < SEARCH_FACETS_MAX)
			so.so_facets[so.so_nfacets++] = line + 6;
		else if (strncmp(line, "facet-size=", 11) == 0) {
			so.so_facet_n = strtonum(line + 11, 1,
			    SEARCH_FACET_N_MAX, &errstr);
			if (errstr != NULL) {
				evbuffer_add_printf(eb, "error: --facet-size "
				    "%s: %s\n", line + 11, errstr);
				goto done;
			}
		} else if (strcmp(line, "notypos") == 0)
			so.so_typos = 0;
		else if (strncmp(line, "offset=", 7) == 0) {
			so.so_offset = strtonum(line + 7, 0,
			    CTL_SEARCH_OFFSET_MAX, &errstr);
			if (errstr != NULL) {
				evbuffer_add_printf(eb, "error: --offset %s: "
				    "%s (at most %d through the daemon)\n",
				    line + 7, errstr, CTL_SEARCH_OFFSET_MAX);
				goto done;
			}
		} else if (strncmp(line, "filter=", 7) == 0 &&
		    strchr(line + 7, '=') != NULL &&
		    so.so_nfilters < SEARCH_FILTERS_MAX)
			so.so_filters[so.so_nfilters++] = line + 7;
		else {
			evbuffer_add_printf(eb, "error: malformed search\n");
			goto done;
		}
	}
	if (query == NULL || *query == '\0' ||
	    strlen(query) > CTL_SEARCH_QUERY_MAX) {
		evbuffer_add_printf(eb, "error: search: a query of 1 to %d "
		    "bytes\n", CTL_SEARCH_QUERY_MAX);
		goto done;
	}
	if ((tk = tokenizer_new(sv->sv_conf.c_language,
	    sv->sv_conf.c_stopwords)) == NULL) {
		evbuffer_add_printf(eb, "error: language %s: no stemmer\n",
		    sv->sv_conf.c_language);
		goto done;
	}
	if (search_run(&sv->sv_ix, tk, query, &so, &res) == -1) {
		if (res.sr_took_ms >= so.so_budget_ms)
			log_info("%s: %s (%zu bytes of query)", __func__,
			    res.sr_error, strlen(query));
		evbuffer_add_printf(eb, "error: search: %s\n", res.sr_error);
	} else {
		if (res.sr_took_ms > CONTROL_SEARCH_SLOW_MS)
			log_info("%s: %.1f ms for %zu hits after %zu", __func__,
			    res.sr_took_ms, so.so_n, so.so_offset);
		buf_init(&out);
		show_search(&out, &res, so.so_offset, json);
		evbuffer_add_printf(eb, "ok\n");
		evbuffer_add(eb, out.b_data, out.b_len);
		buf_free(&out);
		search_result_free(&res);
	}
	tokenizer_free(tk);
 done:
	free(copy);
}

/*
 * cancel (b: the job id): the job is cancelled in the queue, and the
 * worker that holds its lease is told at once (fleet_cancel), so a
 * running job stops at the worker's next look at its orders (every
 * WORKER_LOOK_MS of work, worker.c) instead of at its next lease
 * extension.  The body is one line, "cancelled ID STATE", STATE
 * being what the job was: ready or retry (it is cancelled now), running
 * or leased (a worker runs it, or holds it in its batch; the worker
 * stops or skips it and acks it cancelled), followed by "worker SLOT"
 * when a worker was told.  Errors: "no such job ID", "job ID has
 * already finished (STATE)".
 */
static void
control_cancel(struct supervisor *sv, uint64_t id, struct evbuffer *eb)
{
	struct queue_cancelled	 cx;
	struct wslot		*w = NULL;
	const char		*what;
	int			 rc;

	rc = queue_cancel_job(&sv->sv_q, id, &cx);
	switch (rc) {
	case QUEUE_OK:
		log_info("job %llu cancelled while %s", (unsigned long long)id,
		    codec_state_name(cx.qx_state));
		evbuffer_add_printf(eb, "ok\ncancelled %llu %s\n",
		    (unsigned long long)id, codec_state_name(cx.qx_state));
		return;
	case QUEUE_ECANCEL:
		break;
	case QUEUE_ENOENT:
		evbuffer_add_printf(eb, "error: no such job %llu\n",
		    (unsigned long long)id);
		return;
	case QUEUE_ESTATE:
		evbuffer_add_printf(eb, "error: job %llu has already finished "
		    "(%s)\n", (unsigned long long)id,
		    codec_state_name(cx.qx_state));
		return;
	default:
		evbuffer_add_printf(eb, "error: cancel %llu: %s\n",
		    (unsigned long long)id, queue_strerror(rc));
		return;
	}
	w = fleet_cancel(sv, id, cx.qx_gen, cx.qx_pid);
	what = w != NULL && w->w_job == id ? "running" : "leased";
	if (w != NULL)
		evbuffer_add_printf(eb, "ok\ncancelled %llu %s worker %d\n",
		    (unsigned long long)id, what, w->w_slot);
	else
		evbuffer_add_printf(eb, "ok\ncancelled %llu %s\n",
		    (unsigned long long)id, what);
}

/* May this peer change things, or read jobs and search? */
static int
control_allowed(struct ctl_conn *cc)
{
	const char	*gname = cc->cc_sv->sv_conf.c_control_group;
	struct group	*gr;
	struct passwd	*pw;
	char		**m;

	if (cc->cc_uid == 0 || cc->cc_uid == geteuid())
		return (1);
	if (gname[0] == '\0' || (gr = getgrnam(gname)) == NULL)
		return (0);
	if (cc->cc_gid == gr->gr_gid)
		return (1);
	if ((pw = getpwuid(cc->cc_uid)) == NULL)
		return (0);
	for (m = gr->gr_mem; *m != NULL; m++)
		if (strcmp(*m, pw->pw_name) == 0)
			return (1);
	return (0);
}

/*
 * Take one request off the admin socket's input, without acting on it.
 * 1: a known command in m; 0: not all of it has come yet; -1: a bad
 * request, with why, the reply's error text.
 */
int
control_parse(struct evbuffer *in, struct ipc_msg *m, const char **why)
{
	int	 rv;

	if ((rv = ipc_evbuffer_get(in, m)) == 0)
		return (0);
	if (rv == -1) {
		*why = "malformed request";
		return (-1);
	}
	if (m->m_type != IPC_CTL || m->m_a >= CTL_NCOMMANDS) {
		*why = "unknown command";
		return (-1);
	}
	return (1);
}

static void
control_command(struct ctl_conn *cc, const struct ipc_msg *m)
{
	struct supervisor	*sv = cc->cc_sv;
	struct evbuffer		*out = bufferevent_get_output(cc->cc_bev);
	int			 json = strstr(m->m_str, "json") != NULL;

	if (m->m_a != CTL_STATUS && m->m_a != CTL_WORKERS &&
	    !control_allowed(cc)) {
		log_warnx("admin socket: uid %d may not change things",
		    (int)cc->cc_uid);
		evbuffer_add_printf(out, "error: permission denied (uid %d)\n",
		    (int)cc->cc_uid);
		return;
	}
	switch (m->m_a) {
	case CTL_JOBS:
		control_jobs(sv, m->m_str, m->m_b, out);
		break;
	case CTL_SEARCH:
		control_search(sv, m->m_str, m->m_b, out);
		break;
	case CTL_CANCEL:
		control_cancel(sv, m->m_b, out);
		break;
	case CTL_METRICS:
		evbuffer_add_printf(out, "ok\n");
		metrics_write(sv, out);
		break;
	case CTL_STATUS:
	case CTL_WORKERS:
		evbuffer_add_printf(out, "ok\n");
		control_status(sv, json, m->m_a == CTL_WORKERS, out);
		break;
	case CTL_SCALE:
		if (sv->sv_draining) {
			evbuffer_add_printf(out, "error: draining\n");
			break;
		}
		if (m->m_b < sv->sv_conf.c_min_workers ||
		    m->m_b > sv->sv_conf.c_max_workers) {
			evbuffer_add_printf(out, "error: %llu is outside "
			    "min-workers %llu and max-workers %llu\n",
			    (unsigned long long)m->m_b,
			    (unsigned long long)sv->sv_conf.c_min_workers,
			    (unsigned long long)sv->sv_conf.c_max_workers);
			break;
		}
		control_orders->co_scale(sv, m->m_b);
		evbuffer_add_printf(out, "ok\ntarget %d workers\n",
		    sv->sv_fleet.f_target);
		break;
	case CTL_RELOAD:
		if (control_orders->co_reload(sv) == -1)
			evbuffer_add_printf(out, "error: %s\n",
			    sv->sv_reload_error);
		else
			evbuffer_add_printf(out, "ok\nreloaded; target %d "
			    "workers\n", sv->sv_fleet.f_target);
		break;
	case CTL_DRAIN:
	case CTL_STOP:
		evbuffer_add_printf(out, "ok\n%s\n", m->m_a == CTL_DRAIN ?
		    "draining" : "stopping");
		/* Answer first: the drain may end the process. */
		cc->cc_done = 2 + (m->m_a == CTL_STOP);
		return;
	}
}

static void
control_free(struct ctl_conn *cc)
{
	struct supervisor	*sv = cc->cc_sv;
	int			 reserve = cc->cc_reserve;

	bufferevent_free(cc->cc_bev);
	free(cc);
	if (reserve)
		control_reserve(sv);
}

static void
control_written(struct bufferevent *bev, void *arg)
{
	struct ctl_conn		*cc = arg;
	struct supervisor	*sv = cc->cc_sv;
	int			 act = cc->cc_done;

	if (act == 0)
		return;
	control_free(cc);
	if (act >= 2)
		control_orders->co_drain(sv, act == 3);
}

static void
control_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*cc = arg;
	struct ipc_msg	 m;
	const char	*why;
	int		 rv;

	if (cc->cc_done)
		return;
	rv = control_parse(bufferevent_get_input(bev), &m, &why);
	if (rv == 0)
		return;
	if (rv == -1)
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "error: %s\n", why);
	else
		control_command(cc, &m);
	if (cc->cc_done == 0)
		cc->cc_done = 1;
	bufferevent_disable(bev, EV_READ);
	bufferevent_enable(bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_written(bev, cc);
}

static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	control_free(arg);
}

static void
control_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	control_accept_conn(arg, fd, 0);
}

/* A new admin connection; reserve says it holds the reserve descriptor. */
static void
control_accept_conn(struct supervisor *sv, int fd, int reserve)
{
	struct ctl_conn		*cc;
	struct ucred		 cred;
	struct timeval		 tv;
	socklen_t		 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		if (reserve)
			control_reserve(sv);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->cc_sv = sv;
	cc->cc_uid = cred.uid;
	cc->cc_gid = cred.gid;
	cc->cc_reserve = reserve;
	cc->cc_bev = bufferevent_socket_new(sv->sv_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (cc->cc_bev == NULL) {
		close(fd);
		free(cc);
		if (reserve)
			control_reserve(sv);
		return;
	}
	bufferevent_setcb(cc->cc_bev, control_read, control_written,
	    control_event, cc);
	tv.tv_sec = 10;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(cc->cc_bev, &tv, &tv);
	bufferevent_enable(cc->cc_bev, EV_READ);
}
