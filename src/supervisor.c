/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The supervisor: the daemon's first process.  It never parses documents;
 * it owns the worker table (fleet.c), the admin socket (control.c), the
 * pidfile, signals and configuration reloads.
 *
 * Signals are libevent signal events, so their handlers run in the loop:
 *
 *	HUP	re-read the configuration; on any error keep the old one
 *		(the error is logged and shown by status); resize the fleet.
 *	TERM	drain: stop claiming, let running jobs finish for up to
 *	INT	drain-timeout, then TERM, kill-grace, KILL; release what is
 *		left, sync, remove the pidfile, exit 0.  A second one takes
 *		the fast path.
 *	QUIT	fast stop: TERM every worker now, release, exit.
 *	TTIN	one more worker; TTOU one fewer.  Such a run-time target
 *		survives a reload unless the file's "workers" changed.
 *	USR1	reopen the log file.
 *	CHLD	reap.
 *
 * On a shared queue (queue-backend postgresql) the supervisor also
 * stands for its host: it registers it (host-name, its first listen
 * address as bound, when it started) at start, beats about every
 * SV_HOST_MS from the tick, says it stopped when it exits cleanly, and
 * at each beat releases the leases of the other hosts whose beat is
 * older than host-expiry (queue_pg_hosts.c).  Every statement of a
 * beat has a short time limit, so a slow server holds the loop
 * briefly; a failing beat is logged once, and again when it works again.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "quire.h"

#define SV_TICK_MS	100
#define SV_SWEEP_MS	5000
#define SV_HOST_MS	1000
#define SV_OOM_SCORE	"-500"

static const int sv_signals[] = {
	SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGTTIN, SIGTTOU, SIGUSR1, SIGCHLD,
	SIGPIPE
};

static void	 supervisor_finish(struct supervisor *) __dead;
static void	 supervisor_pidfile_remove(struct supervisor *);
static void	 supervisor_orphans(struct supervisor *);
static void	 supervisor_spool(struct supervisor *);
static void	 supervisor_host(struct supervisor *, int);

/* A new fleet target, counted for metrics when it changes. */
static void
supervisor_target(struct supervisor *sv, int target)
{
	struct fleet	*f = &sv->sv_fleet;

	if (target > f->f_target)
		f->f_target_ups++;
	else if (target < f->f_target)
		f->f_target_downs++;
	f->f_target = target;
}

/*
 * SIGHUP.  Options that cannot change while running (the data directory,
 * user, sockets, sync) keep their old values with a warning.
 */
int
supervisor_reload(struct supervisor *sv)
{
	struct quire_conf	 nc;
	const struct conf_opt	*opts;
	struct queue_conf	 qc;
	char			 a[CONF_STR_MAX], b[CONF_STR_MAX];
	size_t			 n, i;
	int			 live = 0, respawn = 0;

	sv->sv_reloads++;
	config_defaults(&nc);
	if (sv->sv_confpath[0] != '\0' &&
	    config_load(sv->sv_confpath, &nc, sv->sv_reload_error,
	    sizeof(sv->sv_reload_error)) == -1) {
		log_warnx("reload: %s; keeping the running configuration",
		    sv->sv_reload_error);
		return (-1);
	}
	if (sv->sv_datadir_arg[0] != '\0')
		strlcpy(nc.c_datadir, sv->sv_datadir_arg,
		    sizeof(nc.c_datadir));
	opts = config_options(&n);
	for (i = 0; i < n; i++) {
		config_format(&sv->sv_conf, &opts[i], a, sizeof(a));
		config_format(&nc, &opts[i], b, sizeof(b));
		if (strcmp(a, b) == 0)
			continue;
		if (opts[i].o_reload == CONF_RELOAD_LIVE)
			live = 1;
		if (opts[i].o_reload == CONF_RELOAD_RESPAWN)
			respawn = 1;
		if (opts[i].o_reload != CONF_RELOAD_NO)
			continue;
		log_warnx("reload: %s changed from %s to %s: takes effect at "
		    "restart", opts[i].o_name, a, b);
		(void)config_copy(&nc, &sv->sv_conf, &opts[i]);
	}
	if (sv->sv_override && nc.c_workers == sv->sv_fileconf.c_workers) {
		log_info("reload: keeping the run-time target of %d workers",
		    sv->sv_fleet.f_target);
	} else {
		sv->sv_override = 0;
		supervisor_target(sv, nc.c_workers);
	}
	sv->sv_fileconf = nc;
	sv->sv_conf = nc;
	sv->sv_reload_error[0] = '\0';
	config_queue(&nc, &qc);
	sv->sv_q.q_conf = qc;
	if (queue_store(&sv->sv_q) != NULL)
		store_limit(queue_store(&sv->sv_q), nc.c_mapmax);
	store_limit(&sv->sv_ix.ix_store, nc.c_mapmax);
	log_setverbose(sv->sv_foreground || sv->sv_verbose ? 2 :
	    (int)nc.c_loglevel);
	memory_reload(sv);
	/* A reload also reads the token file again, changed or not. */
	if (live || respawn || nc.c_http_tokens[0] != '\0')
		fleet_reconfigure(sv, respawn);
	log_info("reload: configuration %s loaded; target %d workers; "
	    "generation %llu%s", sv->sv_confpath[0] != '\0' ?
	    sv->sv_confpath : "(defaults)", sv->sv_fleet.f_target,
	    (unsigned long long)sv->sv_cgen, respawn ?
	    ", workers are replaced one at a time" : "");
	fleet_resize(sv);
	return (0);
}

/* A run-time fleet size, from TTIN/TTOU or quirectl scale. */
void
supervisor_scale(struct supervisor *sv, int target)
{
	const struct quire_conf	*c = &sv->sv_conf;

	if (target < (int)c->c_min_workers)
		target = c->c_min_workers;
	if (target > (int)c->c_max_workers)
		target = c->c_max_workers;
	log_info("scale: target %d -> %d workers", sv->sv_fleet.f_target,
	    target);
	supervisor_target(sv, target);
	sv->sv_override = 1;
	fleet_resize(sv);
}

/* Begin a drain, or go straight to the fast path. */
void
supervisor_drain(struct supervisor *sv, int fast)
{
	if (sv->sv_draining && !fast)
		fast = 1;	/* the second request is the fast path */
	if (!sv->sv_draining)
		log_info("%s: %d workers, %s", fast ? "stopping" : "draining",
		    fleet_live(sv), fast ? "fast" : "running jobs finish first");
	else if (fast && !sv->sv_fast)
		log_info("stopping fast");
	sv->sv_draining = 1;
	sv->sv_fast = fast;
	sv->sv_drain_deadline = util_mono_ms() + sv->sv_conf.c_drain_ms;
	fleet_stop_all(sv, fast);
	if (fleet_gone(sv))
		supervisor_finish(sv);
}

/* Every worker is gone: leave no lease behind and exit. */
static void
supervisor_finish(struct supervisor *sv)
{
	/* The reaper released per worker; this catches any left over. */
	supervisor_orphans(sv);
	supervisor_host(sv, 1);
	if (queue_store(&sv->sv_q) != NULL)
		(void)store_sync(queue_store(&sv->sv_q));
	control_close(sv);
	memory_stop(sv);
	queue_close(&sv->sv_q);
	index_close(&sv->sv_ix);
	supervisor_pidfile_remove(sv);
	log_info("stopped");
	exit(0);
}

static void
supervisor_signal(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor	*sv = arg;
	const char		*why;

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading");
		supervisor_reload(sv);
		break;
	case SIGTERM:
	case SIGINT:
		supervisor_drain(sv, 0);
		break;
	case SIGQUIT:
		supervisor_drain(sv, 1);
		break;
	case SIGTTIN:
		if (!sv->sv_draining)
			supervisor_scale(sv, sv->sv_fleet.f_target + 1);
		break;
	case SIGTTOU:
		if (!sv->sv_draining)
			supervisor_scale(sv, sv->sv_fleet.f_target - 1);
		break;
	case SIGUSR1:
		if (sv->sv_conf.c_logfile[0] != '\0' &&
		    log_openfile(sv->sv_conf.c_logfile) == -1)
			log_warn("SIGUSR1: %s", sv->sv_conf.c_logfile);
		else if (sv->sv_conf.c_logfile[0] == '\0' &&
		    log_syslog_check()) {
			/* Said once per change, not once per signal. */
			if ((why = log_syslog_lost()) != NULL)
				log_warnx("SIGUSR1: syslog unreachable (%s): "
				    "logging to standard error", why);
			else
				log_info("SIGUSR1: syslog reachable again");
		} else
			log_info("SIGUSR1: log reopened");
		fleet_signal(sv, SIGUSR1);
		break;
	case SIGCHLD:
		fleet_reap(sv);
		if (sv->sv_draining && fleet_gone(sv))
			supervisor_finish(sv);
		break;
	}
}

/*
 * More reader slots than the processes of ours that could hold them
 * (workers and merger): some may be stale, left by a reader killed in
 * its transaction.  Looked at every tick, so that a storm of killed
 * readers does not pile up slots, and pin pages, until the sweep; the
 * look only reads the lock file's table.
 */
static void
supervisor_readers(struct supervisor *sv)
{
	struct store	*qs = queue_store(&sv->sv_q);
	int		 dead, live = fleet_live(sv) + 1;

	if (store_readers(&sv->sv_ix.ix_store, NULL, 0) > live)
		(void)store_reader_check(&sv->sv_ix.ix_store, &dead);
	if (qs != NULL && store_readers(qs, NULL, 0) > live)
		(void)store_reader_check(qs, &dead);
}

static void
supervisor_tick(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;
	struct queue_release	 rel;
	uint64_t		 now = util_mono_ms();
	int			 dead;

	fleet_reap(sv);
	if (sv->sv_draining && fleet_gone(sv))
		supervisor_finish(sv);
	fleet_tick(sv);
	storage_tick(sv);
	supervisor_host(sv, 0);
	/*
	 * The backstop for leases whose holders vanished unseen, and for
	 * reader slots left by any process killed inside a transaction
	 * (quirectl check, search): they would pin pages for good.
	 */
	supervisor_readers(sv);
	if (!sv->sv_draining && now - sv->sv_last_sweep >= SV_SWEEP_MS) {
		sv->sv_last_sweep = now;
		if (queue_store(&sv->sv_q) != NULL)
			(void)store_reader_check(queue_store(&sv->sv_q),
			    &dead);
		(void)store_reader_check(&sv->sv_ix.ix_store, &dead);
		if (storage_sweep_ok(sv) &&
		    queue_sweep(&sv->sv_q, &rel) == 0 &&
		    rel.qr_released + rel.qr_dead > 0)
			log_warnx("sweep: %u expired leases released, %u dead",
			    rel.qr_released, rel.qr_dead);
	}
}

/* This host's heartbeat, and the dead hosts' leases (see the top). */
static void
supervisor_host(struct supervisor *sv, int stopping)
{
	struct queue_release	 rel;
	struct queue		*q = &sv->sv_q;
	uint64_t		 now = util_mono_ms();
	char			 names[512];

	if (q->q_conf.qc_backend != QUEUE_BACKEND_PG)
		return;
	if (!stopping && sv->sv_host_beat != 0 &&
	    now - sv->sv_host_beat < SV_HOST_MS)
		return;
	sv->sv_host_beat = now;
	if (queue_pg_host_beat(q, sv->sv_nhttp > 0 ? sv->sv_http_name[0] :
	    "", sv->sv_started, stopping) != 0) {
		if (!sv->sv_host_failing)
			log_warnx("host %s: heartbeat failed; other hosts "
			    "take this one for dead after host-expiry",
			    queue_pg_host(q));
		sv->sv_host_failing = 1;
		return;
	}
	if (sv->sv_host_failing)
		log_info("host %s: heartbeat again", queue_pg_host(q));
	sv->sv_host_failing = 0;
	if (stopping || queue_pg_host_expire(q, sv->sv_conf.c_host_expiry_ms,
	    &rel, names, sizeof(names)) != 0 ||
	    rel.qr_released + rel.qr_dead + rel.qr_cancelled == 0)
		return;
	log_warnx("hosts: %s silent past host-expiry (%llu ms): %u leases "
	    "released, %u jobs quarantined, %u cancelled", names,
	    (unsigned long long)sv->sv_conf.c_host_expiry_ms, rel.qr_released,
	    rel.qr_dead, rel.qr_cancelled);
}

struct sv_orphans {
	uint32_t	 o_pids[256];
	size_t		 o_n;
};

static int
supervisor_orphan_cb(const struct job *j, void *arg)
{
	struct sv_orphans	*o = arg;
	size_t			 i;

	for (i = 0; i < o->o_n; i++)
		if (o->o_pids[i] == j->j_lease_pid)
			return (0);
	if (o->o_n < sizeof(o->o_pids) / sizeof(o->o_pids[0]))
		o->o_pids[o->o_n++] = j->j_lease_pid;
	return (0);
}

/*
 * Whether a job still needs a spool file (spool_sweep): none does once
 * the PostgreSQL queue holds its body (the file was left by a crash
 * between the enqueue's commit and its removal).
 */
static int
supervisor_spool_inuse(const char *name, void *arg)
{
	struct supervisor	*sv = arg;
	uint64_t		 n, size;
	int			 stored;

	/* When the queue cannot say, the file stays. */
	if (queue_spool_refs(&sv->sv_q, name, &n) != 0)
		return (1);
	if (n > 0 && queue_pg_spool_size(&sv->sv_q, name, &size, &stored)
	    == 0 && stored)
		return (0);
	return (n > 0);
}

/*
 * At start-up, uploaded bodies that no job needs (an upload that died
 * before its enqueue, a removal lost to a crash) leave the spool.
 */
static void
supervisor_spool(struct supervisor *sv)
{
	int	 n;

	if ((n = spool_sweep(sv->sv_conf.c_datadir, SPOOL_ORPHAN_MS,
	    supervisor_spool_inuse, sv)) == -1)
		log_warn("start-up: %s/%s", sv->sv_conf.c_datadir, SPOOL_DIR);
	else if (n > 0)
		log_info("start-up: removed %d spool files no job needs", n);
}

/*
 * At start-up, leases held by processes that no longer exist (a previous
 * supervisor was killed, and its workers left) go back to the queue.
 */
static void
supervisor_orphans(struct supervisor *sv)
{
	struct sv_orphans	 o;
	struct queue_release	 rel;
	size_t			 i;

	memset(&o, 0, sizeof(o));
	if (queue_list(&sv->sv_q, JOB_LEASED, SIZE_MAX, supervisor_orphan_cb,
	    &o) != 0)
		return;
	for (i = 0; i < o.o_n; i++) {
		if (!proc_gone(o.o_pids[i]))
			continue;
		if (queue_release_pid(&sv->sv_q, o.o_pids[i],
		    "supervisor restarted", 0, &rel) == 0)
			log_info("start-up: released %u jobs of pid %u, which "
			    "is gone", rel.qr_released, o.o_pids[i]);
	}
}

/*
 * The kernel's OOM killer should pick a worker, never the supervisor that
 * would release its jobs: lower our score (children raise theirs).
 * Lowering it takes privilege; without it we stay at the default.
 */
static void
supervisor_oom_score(void)
{
	int	 fd;

	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) ==
	    -1 || write(fd, SV_OOM_SCORE, strlen(SV_OOM_SCORE)) == -1)
		log_debug("%s: cannot lower our oom_score_adj", __func__);
	if (fd != -1)
		close(fd);
}

/* The service user and group, looked up once, as root, before anything. */
static void
supervisor_user(struct supervisor *sv)
{
	const struct quire_conf	*c = &sv->sv_conf;
	struct passwd		*pw;
	struct group		*gr;

	sv->sv_drop = 0;
	if (c->c_user[0] == '\0')
		return;
	if ((pw = getpwnam(c->c_user)) == NULL) {
		fprintf(stderr, "quired: user %s: no such user\n", c->c_user);
		exit(1);
	}
	sv->sv_uid = pw->pw_uid;
	sv->sv_gid = pw->pw_gid;
	if (c->c_group[0] != '\0') {
		if ((gr = getgrnam(c->c_group)) == NULL) {
			fprintf(stderr, "quired: group %s: no such group\n",
			    c->c_group);
			exit(1);
		}
		sv->sv_gid = gr->gr_gid;
	}
	sv->sv_drop = 1;
}

/* setgroups, setresgid, setresuid: all or nothing. */
static void
supervisor_drop(struct supervisor *sv)
{
	const struct quire_conf	*c = &sv->sv_conf;

	if (!sv->sv_drop)
		return;
	if (sv->sv_ctlpath[0] != '\0' &&
	    util_chown_socket(sv->sv_ctlpath, sv->sv_uid, -1) == -1)
		fatal("chown %s", sv->sv_ctlpath);
	if (setgroups(1, &sv->sv_gid) == -1 ||
	    setresgid(sv->sv_gid, sv->sv_gid, sv->sv_gid) == -1 ||
	    setresuid(sv->sv_uid, sv->sv_uid, sv->sv_uid) == -1)
		fatal("cannot drop privileges to %s", c->c_user);
	if (sv->sv_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		fatalx("privileges could be regained after dropping them");
}

/*
 * The runtime directory (runtime-dir, /run/quire) holds the pidfile and,
 * when configured there, the admin socket.  After the drop to the service
 * user the supervisor still has to remove both at exit, so the directory
 * belongs to that user: made at start (0755, its parent must exist) and
 * given to the user by its descriptor, never through a symbolic link.  It
 * is made only when the pidfile or the socket is directly in it, so a
 * daemon configured with paths of its own needs no rights on /run.
 */
static int
supervisor_in_dir(const char *dir, const char *path)
{
	const char	*p;
	size_t		 n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(dir, path, n) != 0 || path[n] != '/')
		return (0);
	p = path + n + 1;
	return (*p != '\0' && strchr(p, '/') == NULL);
}

static void
supervisor_rundir(struct supervisor *sv)
{
	const char	*dir = sv->sv_conf.c_rundir;
	char		 ctl[CONF_STR_MAX];
	struct stat	 st;
	int		 fd, made = 0;

	config_control_path(&sv->sv_conf, ctl, sizeof(ctl));
	if (dir[0] == '\0' || (!supervisor_in_dir(dir, sv->sv_conf.c_pidfile) &&
	    !supervisor_in_dir(dir, ctl)))
		return;
	if (mkdir(dir, 0755) == 0)
		made = 1;
	else if (errno != EEXIST)
		goto fail;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		goto fail;
	if (made && fchmod(fd, 0755) == -1)
		goto failfd;
	if (sv->sv_drop) {
		if (fstat(fd, &st) == -1)
			goto failfd;
		if ((st.st_uid != sv->sv_uid || st.st_gid != sv->sv_gid) &&
		    fchown(fd, sv->sv_uid, sv->sv_gid) == -1)
			goto failfd;
	}
	close(fd);
	return;
 failfd:
	close(fd);
 fail:
	fprintf(stderr, "quired: runtime-dir %s: %s\n", dir,
	    util_open_strerror(errno));
	exit(1);
}

/*
 * The data directory under "user": every file in it must be the service
 * user's, or the first write after the drop fails (a queue first made by
 * root: "store_open: queue: Permission denied").  quired does not change
 * the owner of what it finds there: root walking a directory that another
 * user can write, changing owners, can be led by a hard link to give that
 * user a file of root's.  It gives the user only the directory itself
 * (which cannot be hard linked) and its lock file (opened here, one link,
 * no symbolic link), and refuses to start otherwise, with the command that
 * fixes it.  The walk only reads and follows no symbolic link.
 */
static uid_t		 sv_own_uid;
static char		 sv_own_bad[PATH_MAX];
static uid_t		 sv_own_bad_uid;

static int
supervisor_owned_cb(const char *path, const struct stat *st, int type,
    struct FTW *ftw)
{
	if (type == FTW_NS) {
		/* Not even root can stat it: say whose it is not. */
		strlcpy(sv_own_bad, path, sizeof(sv_own_bad));
		sv_own_bad_uid = (uid_t)-1;
		return (1);
	}
	/* Links are refused where quire opens files; sockets are remade. */
	if (type == FTW_SL || S_ISSOCK(st->st_mode))
		return (0);
	if (type == FTW_DNR || st->st_uid != sv_own_uid) {
		strlcpy(sv_own_bad, path, sizeof(sv_own_bad));
		sv_own_bad_uid = st->st_uid;
		return (1);
	}
	return (0);
}

static void
supervisor_owned(struct supervisor *sv, int lockfd)
{
	const struct quire_conf	*c = &sv->sv_conf;
	struct passwd		*pw;
	struct group		*gr;
	char			 owner[64];
	int			 fd, rv;

	if (!sv->sv_drop)
		return;
	if ((fd = open(c->c_datadir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fchown(fd, sv->sv_uid, sv->sv_gid) == -1 ||
	    fchown(lockfd, sv->sv_uid, sv->sv_gid) == -1) {
		fprintf(stderr, "quired: chown %s: %s\n", c->c_datadir,
		    util_open_strerror(errno));
		supervisor_pidfile_remove(sv);
		exit(1);
	}
	close(fd);
	sv_own_uid = sv->sv_uid;
	sv_own_bad[0] = '\0';
	if ((rv = nftw(c->c_datadir, supervisor_owned_cb, 16, FTW_PHYS |
	    FTW_MOUNT)) == 0)
		return;
	if (rv == -1) {
		/* The walk itself failed (out of descriptors, say). */
		fprintf(stderr, "quired: %s: %s\n", util_vis(c->c_datadir),
		    strerror(errno));
		supervisor_pidfile_remove(sv);
		exit(1);
	}
	if ((pw = getpwuid(sv_own_bad_uid)) != NULL)
		strlcpy(owner, pw->pw_name, sizeof(owner));
	else
		snprintf(owner, sizeof(owner), "uid %ld",
		    (long)sv_own_bad_uid);
	gr = getgrgid(sv->sv_gid);
	fprintf(stderr, "quired: %s belongs to %s, not to %s; as root, "
	    "run: chown -R -h %s:%s %s\n", util_vis(sv_own_bad), owner,
	    c->c_user, c->c_user, gr != NULL ? gr->gr_name : c->c_group,
	    util_vis(c->c_datadir));
	supervisor_pidfile_remove(sv);
	exit(1);
}

/*
 * The log file under "user": SIGUSR1 reopens it as the service user,
 * after logrotate moved it away (a new file) or not (the same one).  The
 * file, opened by root at start, is given to the user by its descriptor
 * (log_chown: a regular file with no other link).  Its directory must let
 * the user create the next one; quired does not change the owner of a
 * directory it did not make (it may be /var/log): it refuses to start,
 * as for the data directory, and says what to run.
 */
static int
supervisor_writable(struct supervisor *sv, const struct stat *st)
{
	if (st->st_uid == sv->sv_uid)
		return ((st->st_mode & S_IWUSR) != 0);
	if (st->st_gid == sv->sv_gid)
		return ((st->st_mode & S_IWGRP) != 0);
	return ((st->st_mode & S_IWOTH) != 0);
}

static void
supervisor_logowned(struct supervisor *sv)
{
	const struct quire_conf	*c = &sv->sv_conf;
	struct group		*gr;
	struct stat		 st;
	char			 dir[PATH_MAX], *p;
	const char		*gname;

	if (!sv->sv_drop || c->c_logfile[0] == '\0')
		return;
	strlcpy(dir, c->c_logfile, sizeof(dir));
	if ((p = strrchr(dir, '/')) == NULL)
		strlcpy(dir, ".", sizeof(dir));
	else
		*(p == dir ? p + 1 : p) = '\0';
	gr = getgrgid(sv->sv_gid);
	gname = gr != NULL ? gr->gr_name : c->c_group;
	if (stat(dir, &st) == -1 || !supervisor_writable(sv, &st)) {
		fprintf(stderr, "quired: log-file %s: %s cannot create files "
		    "in %s, so SIGUSR1 could not reopen the log after a "
		    "rotation; give the log a directory of its own: as root, "
		    "run: chown %s:%s %s\n", util_vis(c->c_logfile), c->c_user,
		    util_vis(dir), c->c_user, gname, util_vis(dir));
		exit(1);
	}
	if (log_chown(sv->sv_uid, sv->sv_gid) == -1) {
		fprintf(stderr, "quired: log-file %s: %s; as root, run: "
		    "chown %s:%s %s\n", util_vis(c->c_logfile),
		    strerror(errno), c->c_user, gname, util_vis(c->c_logfile));
		exit(1);
	}
}

/*
 * One owner per data directory: an exclusive lock on DATADIR/lock, held
 * (by its descriptor, which no child inherits) for the supervisor's life.
 * A second daemon, or a foreground `quirectl ingest` fleet, on the same
 * directory is refused with the holder's pid, whatever its pidfile.
 */
static int
supervisor_lock(struct supervisor *sv)
{
	char	 path[CONF_STR_MAX + 8], pid[32];
	ssize_t	 n;
	int	 dfd, fd = -1;

	snprintf(path, sizeof(path), "%s/lock", sv->sv_conf.c_datadir);
	if ((dfd = open(sv->sv_conf.c_datadir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1)
		fd = util_openat_file(dfd, "lock", O_RDWR | O_CREAT, 0640);
	if (fd == -1) {
		fprintf(stderr, "quired: %s: %s\n", path,
		    util_open_strerror(errno));
		supervisor_pidfile_remove(sv);
		exit(1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		/* A shrink cut short left its copy (quirectl compact). */
		if (index_shrink_clean(dfd) == -1)
			log_warn("%s/index.new", sv->sv_conf.c_datadir);
		close(dfd);
		return (fd);
	}
	close(dfd);
	n = errno == EWOULDBLOCK ? pread(fd, pid, sizeof(pid) - 1, 0) : -1;
	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	fprintf(stderr, "quired: %s is in use by another quired%s%s%s\n",
	    sv->sv_conf.c_datadir, pid[0] != '\0' ? " (pid " : "", pid,
	    pid[0] != '\0' ? ")" : "");
	supervisor_pidfile_remove(sv);
	exit(1);
}

/*
 * The pidfile, locked for the daemon's life.  It may sit in a directory
 * someone else owns (quirectl ingest puts it in the data directory), so
 * it is opened as util_openat_file opens files there: never through a
 * symbolic link, never a file with other links; and it is truncated only
 * once locked (libbsd's pidfile_open follows links and truncates first).
 * -1 with errno EEXIST and *other set when a live daemon holds it.
 */
static int
supervisor_pidfile_open(struct supervisor *sv, pid_t *other)
{
	char		 dir[PATH_MAX], buf[32], *p;
	const char	*base;
	ssize_t		 n;
	int		 dfd, fd, serrno;

	*other = 0;
	if (strlcpy(dir, sv->sv_conf.c_pidfile, sizeof(dir)) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((p = strrchr(dir, '/')) == NULL) {
		strlcpy(dir, ".", sizeof(dir));
		base = sv->sv_conf.c_pidfile;
	} else {
		base = sv->sv_conf.c_pidfile + (p - dir) + 1;
		*(p == dir ? p + 1 : p) = '\0';
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	fd = util_openat_file(dfd, base, O_RDWR | O_CREAT, 0644);
	serrno = errno;
	close(dfd);
	if (fd == -1) {
		errno = serrno;
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		serrno = errno;
		if (serrno == EWOULDBLOCK) {
			/* The holder may not have written its pid yet. */
			usleep(100000);
			if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
				buf[n] = '\0';
				buf[strcspn(buf, "\n")] = '\0';
				*other = strtonum(buf, 1, INT_MAX, NULL);
			}
			serrno = EEXIST;
		}
		close(fd);
		errno = serrno;
		return (-1);
	}
	sv->sv_pidfd = fd;
	return (0);
}

static int
supervisor_pidfile_write(struct supervisor *sv)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(sv->sv_pidfd, 0) == -1 ||
	    pwrite(sv->sv_pidfd, buf, n, 0) != n)
		return (-1);
	return (0);
}

/*
 * Only the pidfile we hold: a refused start leaves the other one's.
 * Once we run as the service user its directory may not let us unlink
 * it; then it is at least emptied, so no stale pid is left in it.
 */
static void
supervisor_pidfile_remove(struct supervisor *sv)
{
	if (sv->sv_pidfd == -1)
		return;
	if (unlink(sv->sv_conf.c_pidfile) == -1)
		(void)ftruncate(sv->sv_pidfd, 0);
	close(sv->sv_pidfd);
	sv->sv_pidfd = -1;
}

/*
 * A start that fails after the pidfile was written ends in fatal() or
 * fatalx(), that is in exit(): remove it there.  Only in the process
 * that wrote it (the parent of a detach leaves by _exit, and children
 * exec or _exit).
 */
static struct supervisor	*sv_pidfile_sv;
static pid_t			 sv_pidfile_pid;

static void
supervisor_pidfile_atexit(void)
{
	if (sv_pidfile_sv != NULL && getpid() == sv_pidfile_pid)
		supervisor_pidfile_remove(sv_pidfile_sv);
}

/* The holder's pid in the lock file, for the next one's message. */
static void
supervisor_lock_pid(int fd)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, n, 0) != n)
		log_warn("%s: lock file", __func__);
}

/*
 * Go to the background, but let the parent exit only once we are really
 * up (pidfile, admin socket, queue): it waits on a pipe, and exits 0 on
 * our "ready" byte or 1 if we die first, so an init script or systemd
 * sees start-up failures.  Returns our end of the pipe.
 */
static int
supervisor_detach(void)
{
	char	 c;
	int	 p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	switch (fork()) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(p[1]);
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(c == 'r' ? 0 : 1);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	return (p[1]);
}

/* Start-up went well: release the waiting parent, leave the terminal. */
static void
supervisor_ready(int fd)
{
	int	 null;

	(void)write(fd, "r", 1);
	close(fd);
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		/* Without syslog, a file, pipe or journal gets the log. */
		if (log_syslog_lost() == NULL || isatty(STDERR_FILENO))
			dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
}

/*
 * Take the pidfile and the data directory, then detach (without -d):
 * returns the pipe to the waiting parent, or -1 in the foreground.
 */
static int
supervisor_claim(struct supervisor *sv)
{
	pid_t	 other;
	int	 ready = -1, lockfd;

	sv->sv_pidfd = -1;
	supervisor_user(sv);
	supervisor_logowned(sv);
	supervisor_rundir(sv);
	if (supervisor_pidfile_open(sv, &other) == -1) {
		if (errno == EEXIST) {
			fprintf(stderr, "quired: already running, pid %d\n",
			    (int)other);
			log_warnx("already running, pid %d", (int)other);
			exit(1);
		}
		fprintf(stderr, "quired: pidfile %s: %s\n",
		    sv->sv_conf.c_pidfile, util_open_strerror(errno));
		exit(1);
	}
	if (util_mkdir_p(sv->sv_conf.c_datadir, 0750) == -1) {
		fprintf(stderr, "quired: %s: %s\n", sv->sv_conf.c_datadir,
		    strerror(errno));
		supervisor_pidfile_remove(sv);
		exit(1);
	}
	lockfd = supervisor_lock(sv);
	supervisor_owned(sv, lockfd);
	if (!sv->sv_foreground)
		ready = supervisor_detach();
	sv_pidfile_sv = sv;
	sv_pidfile_pid = getpid();
	atexit(supervisor_pidfile_atexit);
	if (supervisor_pidfile_write(sv) == -1)
		fatal("pidfile %s", sv->sv_conf.c_pidfile);
	supervisor_lock_pid(lockfd);
	return (ready);
}

/*
 * On the PostgreSQL queue, before any worker runs: the documents of
 * this index whose home is another host go (home.c).
 */
static void
supervisor_homes(struct supervisor *sv)
{
	uint64_t	 n;

	if (sv->sv_q.q_conf.qc_backend != QUEUE_BACKEND_PG)
		return;
	if (home_reconcile(&sv->sv_q, &sv->sv_ix, &n) == -1)
		log_warnx("home: reconciling the index with the home "
		    "records failed after %llu documents deleted; some "
		    "may stay in two indexes", (unsigned long long)n);
	else
		log_info("home: %llu documents of this index have their "
		    "home on another host: deleted here",
		    (unsigned long long)n);
	/*
	 * Their postings count in the index's statistics until merged out:
	 * the merger compacts, so that this host's scores in a search over
	 * all hosts are those one index of everything would give.
	 */
	sv->sv_compact = n;
}

/*
 * The sockets, bound while still root (the admin socket, the HTTP
 * addresses), then root given up and the queue and index opened.
 */
/* What quirectl may order, over the admin socket. */
static const struct control_orders supervisor_orders = {
	supervisor_scale, supervisor_reload, supervisor_drain
};

static void
supervisor_open(struct supervisor *sv)
{
	struct queue_conf	 qc;
	char			 err[CONF_STR_MAX + 128];

	if (control_listen(sv, &supervisor_orders) == -1) {
		fprintf(stderr, "quired: cannot open the admin socket %s; "
		    "see the log\n", sv->sv_ctlpath);
		fatalx("cannot open the admin socket %s", sv->sv_ctlpath);
	}
	if (listener_open(sv, err, sizeof(err)) == -1) {
		fprintf(stderr, "quired: %s\n", err);
		fatalx("%s", err);
	}
	supervisor_oom_score();
	supervisor_drop(sv);
	umask(027);
	config_queue(&sv->sv_conf, &qc);
	if (queue_open(&sv->sv_q, sv->sv_conf.c_datadir, &qc) == -1)
		fatalx("cannot open the queue in %s", sv->sv_conf.c_datadir);
	if (index_open(&sv->sv_ix, sv->sv_conf.c_datadir, sv->sv_conf.c_mapsize,
	    sv->sv_conf.c_sync) == -1)
		fatalx("cannot open the index in %s", sv->sv_conf.c_datadir);
	if (queue_store(&sv->sv_q) != NULL)
		store_limit(queue_store(&sv->sv_q), sv->sv_conf.c_mapmax);
	store_limit(&sv->sv_ix.ix_store, sv->sv_conf.c_mapmax);
	supervisor_homes(sv);
	supervisor_orphans(sv);
	supervisor_spool(sv);
}

void
supervisor_main(struct supervisor *sv)
{
	struct timeval		 tv;
	ssize_t			 n;
	size_t			 i;
	int			 ready;

	sv->sv_started = util_now_ms();
	if ((n = readlink("/proc/self/exe", sv->sv_exe,
	    sizeof(sv->sv_exe) - 1)) == -1)
		fatal("readlink /proc/self/exe");
	sv->sv_exe[n] = '\0';
	ready = supervisor_claim(sv);
	setproctitle("supervisor");
	log_procinit("quired");
	if ((sv->sv_base = event_base_new()) == NULL)
		fatalx("event_base_new");
	supervisor_open(sv);

	for (i = 0; i < sizeof(sv_signals) / sizeof(sv_signals[0]); i++) {
		sv->sv_sig[i] = evsignal_new(sv->sv_base, sv_signals[i],
		    supervisor_signal, sv);
		if (sv->sv_sig[i] == NULL || evsignal_add(sv->sv_sig[i], NULL))
			fatalx("cannot handle signal %d", sv_signals[i]);
	}
	sv->sv_tick = event_new(sv->sv_base, -1, EV_PERSIST, supervisor_tick,
	    sv);
	tv.tv_sec = 0;
	tv.tv_usec = SV_TICK_MS * 1000;
	evtimer_add(sv->sv_tick, &tv);

	fleet_init(sv);
	memory_start(sv);
	log_info("started: %d workers, data directory %s, admin socket %s",
	    sv->sv_fleet.f_target, sv->sv_conf.c_datadir, sv->sv_ctlpath);
	for (i = 0; i < sv->sv_nhttp; i++)
		log_info("http: listening on %s", sv->sv_http_name[i]);
	supervisor_host(sv, 0);
	if (ready != -1)
		supervisor_ready(ready);
	fleet_resize(sv);
	event_base_dispatch(sv->sv_base);
	fatalx("event loop ended");
}
