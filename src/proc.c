/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Reading /proc about our children.  A worker's own memory is its
 * anonymous memory (Pss_Anon from smaps_rollup, or RssAnon from status
 * on kernels without it), never its RSS: every worker maps the same
 * LMDB files, and summing RSS would count them once per worker.  wchan
 * and syscall are the evidence logged before a hung worker is killed.
 */

#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

/* Read a small /proc file into buf; -1 when it is gone. */
static int
proc_read(pid_t pid, const char *name, char *buf, size_t len)
{
	char	 path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	return (util_read_small(path, buf, len));
}

/* The value in kB of a "Name:   123 kB" line, or -1. */
static long long
proc_field_kb(const char *text, const char *name)
{
	const char	*p;
	size_t		 len = strlen(name);

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, name, len) == 0 && p[len] == ':')
			return (strtoll(p + len + 1, NULL, 10));
	}
	return (-1);
}

/* Anonymous memory of pid in kB, or -1. */
long long
proc_anon_kb(pid_t pid)
{
	char		 buf[4096];
	long long	 kb;

	if (proc_read(pid, "smaps_rollup", buf, sizeof(buf)) == 0 &&
	    (kb = proc_field_kb(buf, "Pss_Anon")) >= 0)
		return (kb);
	if (proc_read(pid, "status", buf, sizeof(buf)) == 0)
		return (proc_field_kb(buf, "RssAnon"));
	return (-1);
}

/* What a process is blocked in: its wchan and its syscall line. */
void
proc_evidence(pid_t pid, char *buf, size_t len)
{
	char	 wchan[128], sc[256];

	if (proc_read(pid, "wchan", wchan, sizeof(wchan)) == -1)
		strlcpy(wchan, "?", sizeof(wchan));
	if (proc_read(pid, "syscall", sc, sizeof(sc)) == -1)
		strlcpy(sc, "?", sizeof(sc));
	sc[strcspn(sc, "\n")] = '\0';
	if (wchan[0] == '\0' || strcmp(wchan, "0") == 0)
		strlcpy(wchan, "running", sizeof(wchan));
	snprintf(buf, len, "wchan %s, syscall %s", wchan, sc);
}

/*
 * Whether pid has exited: no such process, or a zombie that its parent
 * has not reaped (an orphaned worker waits for init, and an init that
 * reaps late, as in some containers, leaves it a while).
 */
int
proc_gone(pid_t pid)
{
	char	 buf[512], *p;

	if (kill(pid, 0) == -1 && errno == ESRCH)
		return (1);
	if (proc_read(pid, "stat", buf, sizeof(buf)) == -1)
		return (kill(pid, 0) == -1 && errno == ESRCH);
	/* "pid (comm) S ...": the state follows the last parenthesis. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return (0);
	return (p[2] == 'Z' || p[2] == 'X');
}

/*
 * Is the process stopped (SIGSTOP, a tracer)?  It then acts on no signal
 * but SIGKILL and SIGCONT, so a grace period for SIGABRT would be spent
 * waiting for nothing.
 */
int
proc_stopped(pid_t pid)
{
	char	 buf[512], *p;

	if (proc_read(pid, "stat", buf, sizeof(buf)) == -1)
		return (0);
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return (0);
	return (p[2] == 'T' || p[2] == 't');
}
