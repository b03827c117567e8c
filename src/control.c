/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The admin socket, a UNIX stream socket that quirectl talks to.
 *
 * A client sends one frame (ipc.c) of type IPC_CTL: a is the command
 * (enum ctl_command), b its number (the target of scale), str its flags
 * ("json").  The reply is text up to end of file: a first line "ok" or
 * "error: why", then the body.  status, workers: anyone who can open the
 * socket (mode control-socket-mode, group control-socket-group).  scale,
 * drain, reload, stop change things and need the peer, by its
 * SO_PEERCRED credentials, to be root, the daemon's own user, or in
 * control-socket-group.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
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
};

static void	 control_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);

int
control_listen(struct supervisor *sv)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	int			 fd;

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
	/* We hold the pidfile, so a socket here is a stale one. */
	if (unlink(sv->sv_ctlpath) == -1 && errno != ENOENT) {
		log_warn("%s: unlink %s", __func__, sv->sv_ctlpath);
		close(fd);
		return (-1);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		log_warn("%s: bind %s", __func__, sv->sv_ctlpath);
		close(fd);
		return (-1);
	}
	if (chmod(sv->sv_ctlpath, sv->sv_conf.c_control_mode) == -1)
		log_warn("%s: chmod %s", __func__, sv->sv_ctlpath);
	if (sv->sv_conf.c_control_group[0] != '\0' &&
	    ((gr = getgrnam(sv->sv_conf.c_control_group)) == NULL ||
	    chown(sv->sv_ctlpath, -1, gr->gr_gid) == -1))
		log_warn("%s: group of %s", __func__, sv->sv_ctlpath);
	sv->sv_ctl = evconnlistener_new(sv->sv_base, control_accept, sv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16, fd);
	if (sv->sv_ctl == NULL) {
		log_warnx("%s: listener", __func__);
		close(fd);
		return (-1);
	}
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
}

static void
control_json_str(struct evbuffer *eb, const char *s)
{
	const unsigned char	*p;

	evbuffer_add(eb, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(eb, "\\%c", *p);
		else if (*p < 0x20)
			evbuffer_add_printf(eb, "\\u%04x", *p);
		else
			evbuffer_add(eb, p, 1);
	}
	evbuffer_add(eb, "\"", 1);
}

static void
control_workers(struct supervisor *sv, int json, struct evbuffer *eb)
{
	struct wslot	*w;
	uint64_t	 now = util_mono_ms();
	int		 i, n = 0;

	if (!json)
		evbuffer_add_printf(eb, "%-4s %-8s %-9s %-10s %10s %10s %10s "
		    "%8s %s\n", "SLOT", "PID", "STATE", "JOB", "ELAPSED_MS",
		    "BEAT_MS", "ANON_KB", "JOBS", "PHASE");
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
				    "%llu", (unsigned long long)w->w_job,
				    (unsigned long long)(now - w->w_job_start));
			else
				evbuffer_add_printf(eb, "null, \"elapsed_ms\": "
				    "null");
			evbuffer_add_printf(eb, ", \"heartbeat_age_ms\": %llu, "
			    "\"anon_kb\": %lld, \"jobs\": %llu, \"starts\": "
			    "%llu, \"failed_starts\": %u, \"phase\": ",
			    w->w_pid != 0 ?
			    (unsigned long long)(now - w->w_last_beat) : 0ULL,
			    w->w_anon_kb, (unsigned long long)w->w_jobs,
			    (unsigned long long)w->w_forks, w->w_fails);
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
			evbuffer_add_printf(eb, "%10llu %10lld %8llu %s\n",
			    w->w_pid != 0 ?
			    (unsigned long long)(now - w->w_last_beat) : 0ULL,
			    w->w_anon_kb, (unsigned long long)w->w_jobs,
			    w->w_phase);
		}
		n++;
	}
}

/* status and workers, as text or JSON; both carry the same facts. */
void
control_status(struct supervisor *sv, int json, int workers_only,
    struct evbuffer *eb)
{
	struct fleet		*f = &sv->sv_fleet;
	struct queue_stats	 qs;
	struct ixstats		 is;
	char			 ixline[512];
	int			 i, live = fleet_live(sv);
	const char		*rerr = sv->sv_reload_error;

	if (workers_only) {
		if (json)
			evbuffer_add_printf(eb, "{\"workers\": [");
		control_workers(sv, json, eb);
		if (json)
			evbuffer_add_printf(eb, "]}\n");
		return;
	}
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
		    "\"running\": %d, \"degraded\": %s, \"draining\": %s, "
		    "\"uptime_s\": %llu, \"reloads\": %llu, "
		    "\"last_reload_error\": ",
		    (unsigned long long)qs.qs_enqueued,
		    (unsigned long long)qs.qs_completed,
		    (unsigned long long)qs.qs_failed,
		    (unsigned long long)qs.qs_released, (int)getpid(),
		    f->f_target, live, fleet_degraded(sv) ? "true" : "false",
		    sv->sv_draining ? "true" : "false",
		    (unsigned long long)(util_now_ms() - sv->sv_started) / 1000,
		    (unsigned long long)sv->sv_reloads);
		if (rerr[0] != '\0')
			control_json_str(eb, rerr);
		else
			evbuffer_add_printf(eb, "null");
		evbuffer_add_printf(eb, ", \"spawned\": %llu, \"deaths\": %llu, "
		    "\"hung\": %llu, \"released\": %llu, \"quarantined\": "
		    "%llu, \"workers\": [", (unsigned long long)f->f_spawned,
		    (unsigned long long)f->f_deaths,
		    (unsigned long long)f->f_hung,
		    (unsigned long long)f->f_released,
		    (unsigned long long)f->f_quarantined);
		control_workers(sv, 1, eb);
		evbuffer_add_printf(eb, "], \"merger\": ");
		if (f->f_merger.w_pid != 0)
			evbuffer_add_printf(eb, "{\"pid\": %d, \"state\": "
			    "\"%s\"}", (int)f->f_merger.w_pid,
			    fleet_state_name(f->f_merger.w_state));
		else
			evbuffer_add_printf(eb, "null");
		evbuffer_add_printf(eb, "}}\n");
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
	evbuffer_add_printf(eb, "fleet: pid %d, target %d, running %d%s%s, "
	    "uptime %llus, reloads %llu\n", (int)getpid(), f->f_target, live,
	    fleet_degraded(sv) ? ", degraded" : "",
	    sv->sv_draining ? ", draining" : "",
	    (unsigned long long)(util_now_ms() - sv->sv_started) / 1000,
	    (unsigned long long)sv->sv_reloads);
	evbuffer_add_printf(eb, "last reload error: %s\n",
	    rerr[0] != '\0' ? rerr : "none");
	if (f->f_merger.w_pid != 0)
		evbuffer_add_printf(eb, "merger: pid %d, %s\n",
		    (int)f->f_merger.w_pid,
		    fleet_state_name(f->f_merger.w_state));
	else
		evbuffer_add_printf(eb, "merger: not running\n");
	evbuffer_add_printf(eb, "workers: spawned %llu deaths %llu hung %llu "
	    "released %llu quarantined %llu\n",
	    (unsigned long long)f->f_spawned, (unsigned long long)f->f_deaths,
	    (unsigned long long)f->f_hung, (unsigned long long)f->f_released,
	    (unsigned long long)f->f_quarantined);
	control_workers(sv, 0, eb);
}

/* May this peer change things? */
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

static void
control_command(struct ctl_conn *cc, const struct ipc_msg *m)
{
	struct supervisor	*sv = cc->cc_sv;
	struct evbuffer		*out = bufferevent_get_output(cc->cc_bev);
	int			 json = strstr(m->m_str, "json") != NULL;

	if (m->m_type != IPC_CTL || m->m_a >= CTL_NCOMMANDS) {
		evbuffer_add_printf(out, "error: unknown command\n");
		return;
	}
	if (m->m_a != CTL_STATUS && m->m_a != CTL_WORKERS &&
	    !control_allowed(cc)) {
		log_warnx("admin socket: uid %d may not change things",
		    (int)cc->cc_uid);
		evbuffer_add_printf(out, "error: permission denied (uid %d)\n",
		    (int)cc->cc_uid);
		return;
	}
	switch (m->m_a) {
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
		supervisor_scale(sv, m->m_b);
		evbuffer_add_printf(out, "ok\ntarget %d workers\n",
		    sv->sv_fleet.f_target);
		break;
	case CTL_RELOAD:
		if (supervisor_reload(sv) == -1)
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
	bufferevent_free(cc->cc_bev);
	free(cc);
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
		supervisor_drain(sv, act == 3);
}

static void
control_read(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*cc = arg;
	struct ipc_msg	 m;
	int		 rv;

	if (cc->cc_done)
		return;
	rv = ipc_evbuffer_get(bufferevent_get_input(bev), &m);
	if (rv == 0)
		return;
	if (rv == -1)
		evbuffer_add_printf(bufferevent_get_output(bev),
		    "error: malformed request\n");
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
	struct supervisor	*sv = arg;
	struct ctl_conn		*cc;
	struct ucred		 cred;
	struct timeval		 tv;
	socklen_t		 len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	cc = xcalloc(1, sizeof(*cc));
	cc->cc_sv = sv;
	cc->cc_uid = cred.uid;
	cc->cc_gid = cred.gid;
	cc->cc_bev = bufferevent_socket_new(sv->sv_base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (cc->cc_bev == NULL) {
		close(fd);
		free(cc);
		return;
	}
	bufferevent_setcb(cc->cc_bev, control_read, control_written,
	    control_event, cc);
	tv.tv_sec = 10;
	tv.tv_usec = 0;
	bufferevent_set_timeouts(cc->cc_bev, &tv, &tv);
	bufferevent_enable(cc->cc_bev, EV_READ);
}
