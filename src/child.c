/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What every child of the supervisor (a worker, the merger, the http
 * child) does to start, to reopen its log and to take a new
 * configuration.
 *
 * A child is quired fork+exec'd with a role argument and a socketpair on
 * CHILD_FD.  child_setup makes it a process the supervisor can count on:
 * it dies with the supervisor (PR_SET_PDEATHSIG, or at once if the
 * supervisor is gone already), never dumps core and is not dumpable, is
 * the kernel's pick before the supervisor when memory runs out (workers
 * first, then the merger), leaves SIGHUP, SIGINT and SIGQUIT to the
 * supervisor, and turns SIGUSR1 into a flag that child_reopen acts on in
 * the child's loop.  Then it reads its first IPC_CONFIG frame: the whole
 * configuration, as `quired -n -v` prints it, and its generation.
 *
 * A reload sends a later IPC_CONFIG.  child_config takes from it the
 * options marked CONF_RELOAD_LIVE and nothing else: an option that needs
 * a restart keeps its value everywhere, and one that a child reads only
 * at start (CONF_RELOAD_RESPAWN) reaches it by way of its replacement,
 * which the supervisor starts with the new configuration.
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define CHILD_CONFIG_MS		10000	/* wait for the first configuration */
#define CHILD_OOM_WORKER	800	/* oom_score_adj: workers go first, */
#define CHILD_OOM_MERGER	500	/* then the merger */
#define CHILD_OOM_PATH		"/proc/self/oom_score_adj"

static volatile sig_atomic_t child_usr1;

static void
child_sigusr1(int sig)
{
	child_usr1 = 1;
}

/*
 * Raise our oom_score_adj to adj, which needs no privilege; a higher
 * value, set by the admin for the whole service, stays.  This must come
 * before PR_SET_DUMPABLE, which gives our /proc files to root.
 */
static void
child_oom(int adj)
{
	const char	*errstr;
	char		 buf[32];
	ssize_t		 n;
	int		 fd, cur;

	if ((fd = open(CHILD_OOM_PATH, O_RDWR | O_CLOEXEC)) == -1) {
		log_debug("%s: %s: %s", __func__, CHILD_OOM_PATH,
		    strerror(errno));
		return;
	}
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		cur = strtonum(buf, -1000, 1000, &errstr);
		if (errstr == NULL && cur >= adj) {
			close(fd);
			return;
		}
	}
	n = snprintf(buf, sizeof(buf), "%d\n", adj);
	if (pwrite(fd, buf, n, 0) != n)
		log_debug("%s: %s %d: %s", __func__, CHILD_OOM_PATH, adj,
		    strerror(errno));
	close(fd);
}

/* No core, not dumpable, gone with the supervisor. */
static void
child_harden(struct child *ch)
{
	struct rlimit	 rl;

	child_oom(ch->ch_slot < 0 ? CHILD_OOM_MERGER : CHILD_OOM_WORKER);
	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		log_warn("%s: setrlimit core", __func__);
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("%s: not dumpable", __func__);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		log_warn("%s: parent death signal", __func__);
	/* The supervisor may have died before the line above. */
	if (getppid() == 1)
		_exit(1);
}

/*
 * The supervisor's signals are its own; SIGUSR1, which it passes on
 * after a log rotation, is a flag for child_reopen.  First thing, since
 * SIGUSR1 kills a process that has no handler for it.
 */
static void
child_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR1, child_sigusr1);
}

/*
 * Wait for the first frame, which must be the configuration.  A signal
 * (SIGUSR1 from a log rotation) cuts a wait short but not the time given.
 */
static int
child_first(struct child *ch, struct ipc_msg *m)
{
	uint64_t	 end = util_mono_ms() + CHILD_CONFIG_MS, now;
	int		 rv;

	while ((now = util_mono_ms()) < end) {
		rv = ipc_recv(ch->ch_fd, &ch->ch_ib, m, end - now);
		if (rv == 1)
			return (m->m_type == IPC_CONFIG ? 0 : -1);
		if (rv == -1)
			return (-1);
	}
	return (-1);
}

/* Parse the text of an IPC_CONFIG into c, which holds the defaults. */
static int
child_parse(const char *text, struct quire_conf *c, char *err, size_t len)
{
	if (text[0] == '\0') {
		snprintf(err, len, "supervisor: empty configuration");
		return (-1);
	}
	return (config_parse_text(text, strlen(text), "supervisor", c, err,
	    len));
}

static void
child_openlog(const struct quire_conf *c, const char *fn)
{
	if (c->c_logfile[0] != '\0' && log_openfile(c->c_logfile) == -1)
		log_warn("%s: %s", fn, c->c_logfile);
}

void
child_setup(struct child *ch, const char *role, int slot)
{
	struct ipc_msg	 m;
	char		 err[CONF_STR_MAX + 256], who[64];

	child_signals();
	memset(ch, 0, sizeof(*ch));
	ch->ch_fd = CHILD_FD;
	ch->ch_slot = slot;
	ch->ch_role = role;
	if (slot < 0)
		strlcpy(who, role, sizeof(who));
	else
		snprintf(who, sizeof(who), "%s %d", role, slot);
	setproctitle("%s", who);
	log_procinit(role);
	child_harden(ch);
	if (child_first(ch, &m) == -1)
		fatalx("%s: %s: no configuration from the supervisor within "
		    "%d s", __func__, who, CHILD_CONFIG_MS / 1000);
	config_defaults(&ch->ch_conf);
	if (child_parse(m.m_str, &ch->ch_conf, err, sizeof(err)) == -1)
		fatalx("%s: %s: %s", __func__, who, err);
	ch->ch_gen = m.m_a;
	child_openlog(&ch->ch_conf, __func__);
	log_setverbose(ch->ch_conf.c_loglevel);
}

/* After SIGUSR1: a log rotation wants the file opened again. */
void
child_reopen(struct child *ch)
{
	if (!child_usr1)
		return;
	child_usr1 = 0;
	if (ch->ch_conf.c_logfile[0] == '\0') {
		/* Back to syslog if it came back; the supervisor says so. */
		(void)log_syslog_check();
		return;
	}
	if (log_openfile(ch->ch_conf.c_logfile) == -1)
		log_warn("%s: %s", __func__, ch->ch_conf.c_logfile);
	else
		log_debug("%s: log reopened", __func__);
}

/*
 * A later IPC_CONFIG: take its live options.  On error the running
 * configuration stays whole.
 */
int
child_config(struct child *ch, const struct ipc_msg *m)
{
	struct quire_conf	 nc;
	const struct conf_opt	*opts;
	char			 err[CONF_STR_MAX + 256];
	char			 logfile[CONF_STR_MAX];
	size_t			 n, i, changed = 0;

	if (m->m_type != IPC_CONFIG) {
		log_warnx("%s: message %u is not a configuration", __func__,
		    m->m_type);
		return (-1);
	}
	config_defaults(&nc);
	if (child_parse(m->m_str, &nc, err, sizeof(err)) == -1) {
		log_warnx("%s: generation %llu: %s; keeping generation %llu",
		    __func__, (unsigned long long)m->m_a, err,
		    (unsigned long long)ch->ch_gen);
		return (-1);
	}
	strlcpy(logfile, ch->ch_conf.c_logfile, sizeof(logfile));
	opts = config_options(&n);
	for (i = 0; i < n; i++)
		if (opts[i].o_reload == CONF_RELOAD_LIVE)
			changed += config_copy(&ch->ch_conf, &nc, &opts[i]);
	ch->ch_gen = m->m_a;
	log_setverbose(ch->ch_conf.c_loglevel);
	/*
	 * A new log-file, were it live, is opened here; going back from a
	 * file to syslog takes a restart.
	 */
	if (strcmp(logfile, ch->ch_conf.c_logfile) != 0)
		child_openlog(&ch->ch_conf, __func__);
	log_debug("%s: generation %llu: %zu of its live options changed",
	    __func__, (unsigned long long)ch->ch_gen, changed);
	return (0);
}
