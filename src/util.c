/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Small helpers shared by every process: clocks, big-endian key
 * encoding (LMDB sorts keys bytewise, so integers in keys are stored
 * big-endian), and parsers for durations and sizes as written in the
 * configuration file and on the command line ("30s", "64M").
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#define LIBBSD_OPENBSD_VIS
#include <vis.h>

#include "quire.h"

uint64_t
util_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

uint64_t
util_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The same clock in microseconds, for the timings metrics show. */
uint64_t
util_mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/*
 * A complaint that may repeat many times a second (out of descriptors)
 * is logged at most once a second.  Returns 1 when this one may be
 * logged, with *held the number held back since the last one.
 */
int
util_ratelimit(struct ratelimit *rl, uint64_t *held)
{
	uint64_t	 now = util_mono_ms();

	if (rl->rl_last != 0 && now - rl->rl_last < 1000) {
		rl->rl_suppressed++;
		return (0);
	}
	*held = rl->rl_suppressed;
	rl->rl_suppressed = 0;
	rl->rl_last = now;
	return (1);
}

void
util_put_be64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

uint64_t
util_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (v);
}

void
util_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

uint32_t
util_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3]);
}

/*
 * Split "123abc" into a number, checked with strtonum, and a unit suffix.
 */
static int
util_parse_unit(const char *s, long long *num, char *unit, size_t unitlen,
    const char **errstr)
{
	char	 digits[32];
	size_t	 n;

	n = strspn(s, "0123456789");
	if (n == 0 || n >= sizeof(digits)) {
		*errstr = "not a number";
		return (-1);
	}
	memcpy(digits, s, n);
	digits[n] = '\0';
	*num = strtonum(digits, 0, LLONG_MAX / 2, errstr);
	if (*errstr != NULL)
		return (-1);
	if (strlcpy(unit, s + n, unitlen) >= unitlen) {
		*errstr = "unknown unit";
		return (-1);
	}
	return (0);
}

/* A duration: a number with ms, s, m, h or d; a bare number is seconds. */
int
util_parse_duration(const char *s, uint64_t *ms, const char **errstr)
{
	static const struct {
		const char	*u;
		uint64_t	 mult;
	} units[] = {
		{ "ms", 1 }, { "", 1000 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }
	};
	long long	 num;
	char		 unit[8];
	size_t		 i;

	if (util_parse_unit(s, &num, unit, sizeof(unit), errstr) == -1)
		return (-1);
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(unit, units[i].u) != 0)
			continue;
		if ((uint64_t)num > UINT64_MAX / units[i].mult) {
			*errstr = "too large";
			return (-1);
		}
		*ms = (uint64_t)num * units[i].mult;
		*errstr = NULL;
		return (0);
	}
	*errstr = "unknown unit (use ms, s, m, h or d)";
	return (-1);
}

/* A size: a number of bytes with an optional K, M, G or T (powers of 2). */
int
util_parse_size(const char *s, uint64_t *bytes, const char **errstr)
{
	long long	 num;
	char		 unit[8];
	int		 shift;

	if (util_parse_unit(s, &num, unit, sizeof(unit), errstr) == -1)
		return (-1);
	if (unit[0] == '\0' || strcmp(unit, "B") == 0)
		shift = 0;
	else if (strcasecmp(unit, "K") == 0 || strcasecmp(unit, "KB") == 0)
		shift = 10;
	else if (strcasecmp(unit, "M") == 0 || strcasecmp(unit, "MB") == 0)
		shift = 20;
	else if (strcasecmp(unit, "G") == 0 || strcasecmp(unit, "GB") == 0)
		shift = 30;
	else if (strcasecmp(unit, "T") == 0 || strcasecmp(unit, "TB") == 0)
		shift = 40;
	else {
		*errstr = "unknown unit (use K, M, G or T)";
		return (-1);
	}
	if ((uint64_t)num > (UINT64_MAX >> shift)) {
		*errstr = "too large";
		return (-1);
	}
	*bytes = (uint64_t)num << shift;
	*errstr = NULL;
	return (0);
}

/* The shortest exact way to write a duration: "250ms", "30s", "5m". */
void
util_format_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms % 86400000 == 0 && ms != 0)
		snprintf(buf, len, "%llud", (unsigned long long)ms / 86400000);
	else if (ms % 3600000 == 0 && ms != 0)
		snprintf(buf, len, "%lluh", (unsigned long long)ms / 3600000);
	else if (ms % 60000 == 0 && ms != 0)
		snprintf(buf, len, "%llum", (unsigned long long)ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)ms / 1000);
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
}

/* The shortest exact way to write a size: "64M", "1500". */
void
util_format_size(uint64_t u, char *buf, size_t len)
{
	if (u % (1ULL << 30) == 0 && u != 0)
		snprintf(buf, len, "%lluG", (unsigned long long)u >> 30);
	else if (u % (1ULL << 20) == 0 && u != 0)
		snprintf(buf, len, "%lluM", (unsigned long long)u >> 20);
	else if (u % 1024 == 0 && u != 0)
		snprintf(buf, len, "%lluK", (unsigned long long)u >> 10);
	else
		snprintf(buf, len, "%llu", (unsigned long long)u);
}

/*
 * A size for people, one decimal, the unit changing at 1000 so that the
 * number stays short: "512B", "900.0M", "1.0G".  Returns buf.
 */
const char *
util_human_size(uint64_t v, char *buf, size_t len)
{
	static const char	 units[] = "KMGTPE";
	double			 d;
	int			 i;

	if (v < 1000) {
		snprintf(buf, len, "%lluB", (unsigned long long)v);
		return (buf);
	}
	d = (double)v / 1024;
	for (i = 0; d >= 1000 && units[i + 1] != '\0'; i++)
		d /= 1024;
	snprintf(buf, len, "%.1f%c", d, units[i]);
	return (buf);
}

/* Read a small file (/proc, cgroup) into buf, NUL-terminated; -1, errno. */
int
util_read_small(const char *path, char *buf, size_t len)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd, serrno;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while (off < len - 1) {
		if ((n = read(fd, buf + off, len - 1 - off)) == -1) {
			if (errno == EINTR)
				continue;
			serrno = errno;
			close(fd);
			errno = serrno;
			return (-1);
		}
		if (n == 0)
			break;
		off += n;
	}
	close(fd);
	buf[off] = '\0';
	return (0);
}

/* mkdir -p: create every missing component of path. */
int
util_mkdir_p(const char *path, mode_t mode)
{
	char	 buf[PATH_MAX], *p;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return (-1);
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return (-1);
	return (0);
}

/* Make a directory's entries durable (after creating or renaming a file). */
int
util_fsync_dir(const char *path)
{
	int	 fd, rv;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	rv = fsync(fd);
	close(fd);
	return (rv);
}

/*
 * A user's string (a path, an id, an error) made safe for a terminal and
 * for one line of text: control bytes, newlines and tabs as C escapes
 * (strvis(3)), a backslash doubled.  The result lives until the fourth
 * call after this one, so a printf can take a few of them.
 */
const char *
util_vis(const char *s)
{
	static char	*ring[4];
	static int	 next;
	char		*out;

	if (stravis(&out, s, VIS_NL | VIS_TAB | VIS_CSTYLE | VIS_OCTAL) == -1)
		fatal("%s", __func__);
	free(ring[next]);
	ring[next] = out;
	next = (next + 1) % 4;
	return (out);
}

/*
 * Give the socket that bind(2) just made at path to uid and gid (-1: keep),
 * in a directory that the service user may own.  A name is not enough:
 * between the bind and a chown by name that user could put a hard link to
 * a file of root's there, and root would give it away.  So the entry is
 * opened without following it (O_PATH), checked to be a socket with one
 * link, and changed through that descriptor.  EPERM when it is not.
 */
int
util_chown_socket(const char *path, uid_t uid, gid_t gid)
{
	struct stat	 st;
	int		 fd, rv = -1, serrno;

	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &st) == -1)
		goto done;
	if (!S_ISSOCK(st.st_mode) || st.st_nlink != 1) {
		errno = EPERM;
		goto done;
	}
	rv = fchownat(fd, "", uid, gid, AT_EMPTY_PATH);
 done:
	serrno = errno;
	close(fd);
	errno = serrno;
	return (rv);
}

/*
 * Files in the data directory.  The directory belongs to the service
 * user, and root runs quirectl and starts quired on it: whoever owns it
 * can put a symbolic link (or a hard link) where quire expects its own
 * file, to make root write a file of root's.  So a file there is opened
 * by its name relative to the directory's descriptor, with O_NOFOLLOW,
 * and kept only if it is a regular file with one link; one made anew is
 * created with O_EXCL.  -1 with errno: ELOOP for a symbolic link, EMLINK
 * for a file with other links, EINVAL for anything but a
 * regular file; util_open_strerror says so in words.
 */
int
util_openat_file(int dfd, const char *name, int flags, mode_t mode)
{
	struct stat	 st;
	int		 fd;

	/* O_NONBLOCK: a FIFO in its place must not block the open. */
	if ((fd = openat(dfd, name, flags | O_NOFOLLOW | O_NOCTTY |
	    O_NONBLOCK | O_CLOEXEC, mode)) == -1)
		return (-1);
	if (fstat(fd, &st) == -1) {
		close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EMLINK : EINVAL;
		return (-1);
	}
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) &
	    ~O_NONBLOCK) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* Why util_openat_file or util_check_entry refused, for a message. */
const char *
util_open_strerror(int e)
{
	switch (e) {
	case ELOOP:
		return ("a symbolic link, not followed");
	case EMLINK:
		return ("a file with other hard links, not written");
	case EINVAL:
		return ("not a regular file");
	case ENOTDIR:
		return ("not a directory");
	default:
		return (strerror(e));
	}
}

/*
 * An entry of the data directory that a library opens by its path (LMDB
 * opens DIR/data.mdb and DIR/lock.mdb itself): 0 when it is absent or of
 * the kind wanted (a directory, or a regular file with one link), else
 * -1 with errno as util_openat_file sets it.
 */
int
util_check_entry(const char *path, int isdir)
{
	struct stat	 st;

	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (S_ISLNK(st.st_mode))
		errno = ELOOP;
	else if (isdir && !S_ISDIR(st.st_mode))
		errno = ENOTDIR;
	else if (!isdir && !S_ISREG(st.st_mode))
		errno = EINVAL;
	else if (!isdir && st.st_nlink > 1)
		errno = EMLINK;
	else
		return (0);
	return (-1);
}
