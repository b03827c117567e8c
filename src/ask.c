/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * One command to the running daemon over its admin socket, and its
 * reply: what quirectl does for status, scale or search, and what the
 * http child does for what only the supervisor knows (status, metrics,
 * the cancel of a running job).
 *
 * The request is one IPC_CTL frame (control.c); the reply is a line "ok"
 * or "error: why", then the body up to end of file.  Both ends are
 * bounded in time: a daemon that accepts nothing fills its backlog, and
 * a UNIX socket whose backlog is full refuses a non-blocking connect
 * with EAGAIN, so the connect is tried again every 20 ms until its
 * timeout; the reply has its own.  A timeout of 0 is none.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define ASK_RETRY_US	20000

/* Milliseconds left before deadline (0: none, -2), at least 1; -1: past. */
static int
ask_left(uint64_t deadline)
{
	uint64_t	 now = util_mono_ms();

	if (deadline == 0)
		return (-2);
	if (now >= deadline)
		return (-1);
	return (deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now));
}

/*
 * Connect within connect_ms.  Returns the descriptor, blocking again,
 * or -1 with errno set (ETIMEDOUT when the time ran out).
 */
static int
ask_connect(const struct sockaddr_un *sun, int connect_ms)
{
	uint64_t	 deadline = 0;
	int		 fd, saved, flags;

	if (connect_ms > 0)
		deadline = util_mono_ms() + connect_ms;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return (-1);
	while (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			saved = errno;
			close(fd);
			errno = saved;
			return (-1);
		}
		if (ask_left(deadline) == -1) {
			close(fd);
			errno = ETIMEDOUT;
			return (-1);
		}
		usleep(ASK_RETRY_US);
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (fd);
}

/* Read the reply to end of file within the deadline. */
static int
ask_read(int fd, uint64_t deadline, struct buf *body, char *why,
    size_t whylen)
{
	struct pollfd	 pfd;
	char		 buf[8192];
	ssize_t		 n;
	int		 left;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((left = ask_left(deadline)) == -1 ||
		    (n = poll(&pfd, 1, left == -2 ? -1 : left)) == 0)
			return (ASK_TIMEOUT);
		if (n == -1 && errno == EINTR)
			continue;
		n = n == -1 ? -1 : read(fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "read: %s", strerror(errno));
			return (ASK_FAILED);
		}
		if (n == 0)
			return (0);
		buf_add(body, buf, n);
	}
}

/* The reply's first line: "ok", or the daemon's error in why. */
static int
ask_status(struct buf *body, char *why, size_t whylen)
{
	char	*p, *nl;

	p = buf_cstr(body);
	if ((nl = strchr(p, '\n')) == NULL) {
		snprintf(why, whylen, "the daemon closed the connection "
		    "without an answer");
		return (ASK_FAILED);
	}
	*nl = '\0';
	if (strcmp(p, "ok") != 0) {
		snprintf(why, whylen, "%s", strncmp(p, "error: ", 7) == 0 ?
		    p + 7 : p);
		return (ASK_REFUSED);
	}
	body->b_len -= nl + 1 - p;
	memmove(p, nl + 1, body->b_len);
	return (0);
}

/*
 * Send one command (cmd, its number and flags) to the daemon on the
 * socket at path and collect the body of its reply in body.  Returns 0,
 * or: ASK_NODAEMON (connect failed, errno says why), ASK_CONNECT_TIMEOUT,
 * ASK_TIMEOUT (no whole reply in time), ASK_REFUSED (the daemon said
 * "error: why") or ASK_FAILED (the connection broke), with why set.
 */
int
ask_daemon(const char *path, int cmd, uint64_t num, const char *flags,
    struct buf *body, int connect_ms, int reply_ms, char *why, size_t whylen)
{
	struct sockaddr_un	 sun;
	uint64_t		 deadline = 0;
	int			 fd, saved, rv;

	buf_reset(body);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		snprintf(why, whylen, "%s: path too long for a socket", path);
		return (ASK_FAILED);
	}
	if ((fd = ask_connect(&sun, connect_ms)) == -1) {
		saved = errno;
		snprintf(why, whylen, "%s: %s", path, strerror(saved));
		errno = saved;
		return (saved == ETIMEDOUT ? ASK_CONNECT_TIMEOUT :
		    ASK_NODAEMON);
	}
	if (reply_ms > 0)
		deadline = util_mono_ms() + reply_ms;
	if (ipc_send(fd, IPC_CTL, cmd, num, flags) == -1) {
		snprintf(why, whylen, "%s: send: %s", path, strerror(errno));
		close(fd);
		return (ASK_FAILED);
	}
	rv = ask_read(fd, deadline, body, why, whylen);
	close(fd);
	if (rv != 0)
		return (rv);
	return (ask_status(body, why, whylen));
}

/*
 * Whether a daemon listens on the socket at path: it accepts, or its
 * backlog stays full for connect_ms (it is there, but busy).
 */
int
ask_alive(const char *path, int connect_ms)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		return (0);
	if ((fd = ask_connect(&sun, connect_ms)) == -1)
		return (errno == ETIMEDOUT);
	close(fd);
	return (1);
}

/*
 * The body of the daemon's reply to CTL_CANCEL id, "cancelled ID STATE
 * [worker SLOT]" (control.c): the state the job was in (ready, retry,
 * running, leased) into was, and the worker told, or -1, into slot.  -1
 * when the reply is not that.
 */
int
ask_cancelled(const char *body, uint64_t id, char *was, size_t len,
    int *slot)
{
	unsigned long long	 got;
	char			 state[16];
	int			 n;

	*slot = -1;
	n = sscanf(body, "cancelled %llu %15s worker %d", &got, state, slot);
	if (n < 2 || got != id)
		return (-1);
	if (n < 3)
		*slot = -1;
	if (strlcpy(was, state, len) >= len)
		return (-1);
	return (0);
}
