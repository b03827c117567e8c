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
