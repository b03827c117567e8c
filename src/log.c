/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Logging in the OpenBSD daemon manner: to stderr in the foreground, to
 * syslog (daemon facility) or a log file otherwise.  Messages begin with
 * the function name; log_warn appends strerror(errno).
 *
 * A message can carry what a user chose: a file name, an external id,
 * a parser's error.  Each one goes out through strvis(3), newlines, tabs
 * and every other control byte as C escapes (a backslash as two), so one
 * message is one line and no name can forge another line or send escape
 * sequences to the terminal that reads the log.
 *
 * syslog(3) reports no error: with nothing listening on /dev/log (a
 * container, a chroot, syslogd not started yet) every message would
 * vanish.  So the socket is tried at start and on SIGUSR1, and while no
 * one listens messages go to standard error instead, which the daemon
 * keeps open when it is a file, a pipe or the journal.  The supervisor
 * says so once, and status shows it.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "quire.h"

static int	 log_debugging;	/* log to stderr */
static int	 log_verbose;
static int	 log_fd = -1;	/* log file, when one is set */
static const char *log_procname;
static int	 log_nosyslog;	/* no /dev/log: to stderr instead */
static char	 log_lost[128];	/* why, while log_nosyslog */

static void	 log_vlog(int, const char *, va_list)
		    __attribute__((__format__(printf, 2, 0)));
static void	 log_emit(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));
static void	 log_line(int, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

void
log_init(int n_debug, int facility)
{
	log_debugging = n_debug;
	log_verbose = n_debug;
	log_procinit(getprogname());
	if (!log_debugging) {
		openlog(getprogname(), LOG_PID | LOG_NDELAY, facility);
		log_syslog_check();
	}
	tzset();
}

/*
 * Can a message reach syslogd?  As syslog(3) connects: a datagram socket,
 * else a stream one.  Returns 1 if that changed since the last call.
 */
int
log_syslog_check(void)
{
	struct sockaddr_un	 sun;
	static const int	 types[] = { SOCK_DGRAM, SOCK_STREAM };
	size_t			 i;
	int			 fd, rv = -1, serrno = 0, was = log_nosyslog;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, _PATH_LOG, sizeof(sun.sun_path));
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) == -1) {
			serrno = errno;
			continue;
		}
		rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
		serrno = errno;
		close(fd);
		if (rv == 0 || serrno != EPROTOTYPE)
			break;
	}
	log_nosyslog = rv == -1;
	if (log_nosyslog)
		snprintf(log_lost, sizeof(log_lost), "%s: %s", _PATH_LOG,
		    strerror(serrno));
	else
		log_lost[0] = '\0';
	return (was != log_nosyslog);
}

/* Why syslog is not used although it should be, or NULL. */
const char *
log_syslog_lost(void)
{
	if (log_debugging || log_fd != -1 || !log_nosyslog)
		return (NULL);
	return (log_lost);
}

/* Standard error is open and not /dev/null: a message there is seen. */
int
log_stderr_seen(void)
{
	struct stat	 st, null;

	if (fstat(STDERR_FILENO, &st) == -1)
		return (0);
	if (S_ISCHR(st.st_mode) && stat("/dev/null", &null) == 0 &&
	    st.st_rdev == null.st_rdev)
		return (0);
	return (1);
}

void
log_procinit(const char *procname)
{
	if (procname != NULL)
		log_procname = procname;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return (log_verbose);
}

/* Log to a file instead of syslog; called again on SIGUSR1 to reopen. */
int
log_openfile(const char *path)
{
	int	 fd;

	/* It may be in a directory the service user owns: no link. */
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC, 0640)) == -1)
		return (-1);
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	return (0);
}

/*
 * Give the log file to the service user before the drop, so that it can
 * reopen it on SIGUSR1: by its descriptor, and only a regular file with
 * no other link (a hard link put in a directory the user can write must
 * not make root give away another file).  EPERM when it is not such.
 */
int
log_chown(uid_t uid, gid_t gid)
{
	struct stat	 st;

	if (log_fd == -1)
		return (0);
	if (fstat(log_fd, &st) == -1)
		return (-1);
	if (st.st_uid == uid && st.st_gid == gid)
		return (0);
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		errno = EPERM;
		return (-1);
	}
	return (fchown(log_fd, uid, gid));
}

static void
log_vlog(int pri, const char *fmt, va_list ap)
{
	char		 raw[2048], msg[4 * sizeof(raw) + 1], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;
	int		 saved_errno = errno;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	strvis(msg, raw, VIS_NL | VIS_TAB | VIS_CSTYLE | VIS_OCTAL);
	if (log_debugging && log_fd == -1)
		dprintf(STDERR_FILENO, "%s: %s\n", log_procname, msg);
	else if (log_fd != -1 || log_nosyslog) {
		/* Milliseconds: decisions about memory come that close. */
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		dprintf(log_fd != -1 ? log_fd : STDERR_FILENO,
		    "%s.%03ld %s[%d]: %s\n", stamp, ts.tv_nsec / 1000000,
		    log_procname, (int)getpid(), msg);
	} else
		syslog(pri, "%s", msg);
	errno = saved_errno;
}

static void
log_emit(int pri, int witherr, const char *fmt, va_list ap)
{
	char	 buf[1536];
	int	 saved_errno = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (witherr)
		log_line(pri, "%s: %s", buf, strerror(saved_errno));
	else
		log_line(pri, "%s", buf);
	errno = saved_errno;
}

static void
log_line(int pri, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(pri, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_ERR, 1, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	log_emit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbose < 2)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 nomem;

	nomem = errno == ENOMEM;
	va_start(ap, fmt);
	log_emit(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	/* The supervisor tells a worker over its memory limit by this. */
	exit(nomem ? QUIRE_EXIT_NOMEM : 1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
