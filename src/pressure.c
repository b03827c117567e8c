/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * How much memory the fleet may still use, read from the kernel.
 *
 * What is read:
 *
 *	/proc/meminfo	 MemTotal and MemAvailable, in kB.
 *	PSI		 "some" and "full" avg10 (percent of the last ten
 *			 seconds in which tasks stalled on memory) and their
 *			 totals (microseconds), from our cgroup's v2
 *			 memory.pressure when there is one, else from
 *			 /proc/pressure/memory; absent: -1.0, totals 0.
 *	our cgroup	 its limit, usage, page cache and OOM kills.
 *
 * Finding our cgroup: /proc/self/cgroup names it, as "N:memory:/path"
 * for the v1 memory controller (the list of controllers is comma
 * separated) and "0::/path" for v2.  The v1 line wins: on a hybrid
 * system the memory controller is where v1 has it.  The directory is
 * the mount point of that hierarchy in /proc/self/mountinfo (fstype
 * "cgroup" with "memory" in its super options, or "cgroup2") plus the
 * path, less the mount's root when a container mounted a subtree.  A
 * directory without memory files means no controller (version 0).
 *
 * The effective limit is the least of MemTotal and the cgroup's: v2
 * memory.max of our group and of every ancestor up to the root of the
 * mount, v1 hierarchical_memory_limit from memory.stat (the kernel has
 * already taken the least along the ancestors), or memory.limit_in_bytes
 * on kernels without it.  v1 says "unlimited" with 9223372036854771712
 * and v2 with "max"; any value at or above MemTotal is no limit, and the
 * source is then "MemTotal".  v2 memory.high, the least along the
 * ancestors too, is a soft target where the kernel starts throttling.
 *
 * Usage leaves out page cache that could be dropped at once: the
 * cgroup's usage (v2 memory.current, v1 memory.usage_in_bytes) less its
 * clean file pages, active_file + inactive_file - (dirty + writeback)
 * (v1: the total_* keys, which cover the subgroups).  The index is an
 * LMDB file mapped into every worker; its pages are file-backed and
 * clean, and a hot index is all in cache, most of it on the active list.
 * That is not pressure: the kernel drops such pages when it needs them,
 * and whether dropping them hurts (we fault them back in) is what PSI
 * measures.  Counting them as usage would shrink the fleet because the
 * index is warm.  Without a cgroup, usage is MemTotal - MemAvailable,
 * which already leaves reclaimable cache out.  Headroom is the least of
 * limit - usage and MemAvailable: a cgroup limit above what the machine
 * has free is no promise.
 *
 * OOM kills are v2 memory.events and v1 memory.oom_control "oom_kill".
 *
 * Sampling runs when memory is short, so it allocates nothing: files are
 * read with open and read into buffers on the stack.  A cgroup removed
 * under us is not an error: that sample uses MemTotal and MemAvailable.
 *
 * A PSI trigger ("some STALL WINDOW" written to the pressure file) makes
 * the kernel signal EPOLLPRI when tasks stalled that long within a
 * window.  The pressure file always polls readable, so it is put in an
 * epoll set of its own with EPOLLPRI only; that epoll descriptor is
 * readable exactly when the trigger fired, and the event loop watches it.
 * The kernel takes windows from 500 ms to 10 s, and without
 * CAP_SYS_RESOURCE only multiples of 2 s; when it refuses, the caller
 * samples on a timer.
 */

#include <sys/types.h>
#include <sys/epoll.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define PR_MEMINFO	"/proc/meminfo"
#define PR_PSI		"/proc/pressure/memory"
#define PR_BUFSZ	8192		/* memory.stat is under 3 kB */
#define PR_SLURP_MAX	(4 * 1024 * 1024)	/* mountinfo, at most */
#define PR_FILE_MAX	(PRESSURE_PATH_MAX + 32)

/* What one cgroup says, before it goes into a sample. */
struct pressure_cg {
	uint64_t	 pc_limit;	/* UINT64_MAX: none */
	uint64_t	 pc_high;	/* UINT64_MAX: none */
	uint64_t	 pc_usage;
	uint64_t	 pc_cache;
	uint64_t	 pc_ooms;
	char		 pc_src[PRESSURE_SRC_MAX];
};

/* The line after the one at p, or NULL. */
static const char *
pressure_next(const char *p)
{
	if ((p = strchr(p, '\n')) == NULL)
		return (NULL);
	return (p + 1);
}

/* What follows "word" and sep at the start of a line of text, or NULL. */
static const char *
pressure_line(const char *text, const char *word, int sep)
{
	const char	*p;
	size_t		 len;

	if ((len = strlen(word)) == 0)
		return (NULL);
	for (p = text; p != NULL && *p != '\0'; p = pressure_next(p))
		if (strncmp(p, word, len) == 0 && p[len] == sep)
			return (p + len + 1);
	return (NULL);
}

/* A decimal at s that ends a word; -1 on junk, sign or overflow. */
static int
pressure_number(const char *s, const char **end, uint64_t *v)
{
	char			*ep;
	unsigned long long	 ull;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	ull = strtoull(s, &ep, 10);
	if (errno == ERANGE)
		return (-1);
	if (*ep != '\0' && *ep != '\n' && *ep != ' ' && *ep != '\t')
		return (-1);
	*v = ull;
	if (end != NULL)
		*end = ep;
	return (0);
}

/* A file that holds one number and a newline. */
static int
pressure_value(const char *text, uint64_t *v)
{
	const char	*end;

	if (pressure_number(text, &end, v) == -1)
		return (-1);
	return (*end == '\0' || strcmp(end, "\n") == 0 ? 0 : -1);
}

/* A percentage as the kernel prints it ("12.34"); -1 on junk. */
static int
pressure_percent(const char *s, const char **end, double *d)
{
	uint64_t	 m = 0, scale = 1;
	int		 digits = 0, frac = 0;

	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits == 12)
			return (-1);
		m = m * 10 + (*s - '0');
	}
	if (digits == 0)
		return (-1);
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, frac++) {
			if (frac == 6)
				return (-1);
			m = m * 10 + (*s - '0');
			scale *= 10;
		}
		if (frac == 0)
			return (-1);
	}
	*d = (double)m / (double)scale;
	*end = s;
	return (0);
}

/* Whether the comma-separated list (len bytes) has item. */
static int
pressure_has_item(const char *list, size_t len, const char *item)
{
	const char	*end = list + len, *comma;
	size_t		 ilen;

	ilen = strlen(item);
	while (list < end) {
		if ((comma = memchr(list, ',', end - list)) == NULL)
			comma = end;
		if ((size_t)(comma - list) == ilen &&
		    strncmp(list, item, ilen) == 0)
			return (1);
		list = comma + 1;
	}
	return (0);
}

/* dir/name into buf; -1 if it does not fit. */
static int
pressure_path(char *buf, size_t len, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

/* Read the file name in dir. */
static int
pressure_read_at(const char *dir, const char *name, char *buf, size_t len)
{
	char	 path[PR_FILE_MAX];

	if (pressure_path(path, sizeof(path), dir, name) == -1)
		return (-1);
	return (util_read_small(path, buf, len));
}

/* Whether the file name exists in dir. */
static int
pressure_exists(const char *dir, const char *name)
{
	char	 path[PR_FILE_MAX];

	if (pressure_path(path, sizeof(path), dir, name) == -1)
		return (0);
	return (access(path, F_OK) == 0);
}

/* A number from the line "key value" of the file name in dir. */
static int
pressure_key_at(const char *dir, const char *name, const char *key,
    char *buf, size_t len, uint64_t *v)
{
	if (pressure_read_at(dir, name, buf, len) == -1)
		return (-1);
	return (pressure_parse_key(buf, key, v));
}

/* A one-number file in dir. */
static int
pressure_value_at(const char *dir, const char *name, char *buf, size_t len,
    uint64_t *v)
{
	if (pressure_read_at(dir, name, buf, len) == -1)
		return (-1);
	return (pressure_value(buf, v));
}

/* A limit file ("max" or a number) in dir. */
static int
pressure_limit_at(const char *dir, const char *name, char *buf, size_t len,
    uint64_t *v)
{
	if (pressure_read_at(dir, name, buf, len) == -1)
		return (-1);
	return (pressure_parse_limit(buf, v));
}

/* Cut path to its parent directory; -1 at "/". */
static int
pressure_parent(char *path)
{
	char	*p;

	if ((p = strrchr(path, '/')) == NULL || (p == path && p[1] == '\0'))
		return (-1);
	if (p == path)
		p[1] = '\0';
	else
		*p = '\0';
	return (0);
}

/* "what dir" into buf; a path too long keeps its end, which names it. */
static void
pressure_source(char *buf, size_t len, const char *what, const char *dir)
{
	size_t	 room, dlen;
	int	 n;

	dlen = strlen(dir);
	n = snprintf(buf, len, "%s %s", what, dir);
	if (n >= 0 && (size_t)n < len)
		return;
	/* what, " ...", the tail and the NUL. */
	if (strlen(what) + 5 >= len) {
		strlcpy(buf, what, len);
		return;
	}
	room = len - strlen(what) - 5;
	snprintf(buf, len, "%s ...%s", what, dir + dlen - room);
}

int
pressure_parse_meminfo(const char *text, uint64_t *total, uint64_t *avail)
{
	const char	*names[2] = { "MemTotal", "MemAvailable" };
	const char	*p;
	uint64_t	*vals[2] = { total, avail }, v;
	int		 i;

	for (i = 0; i < 2; i++) {
		if ((p = pressure_line(text, names[i], ':')) == NULL)
			return (-1);
		p += strspn(p, " \t");
		if (pressure_number(p, &p, &v) == -1 || v > UINT64_MAX / 1024)
			return (-1);
		p += strspn(p, " \t");
		if (strncmp(p, "kB", 2) != 0 ||
		    (p[2] != '\n' && p[2] != '\0'))
			return (-1);
		*vals[i] = v * 1024;
	}
	return (0);
}

/* "avg10=A avg60=B avg300=C total=T" at p: avg10 and total. */
static int
pressure_psi_line(const char *p, double *avg10, uint64_t *total)
{
	double	 d;

	if (strncmp(p, "avg10=", 6) != 0 ||
	    pressure_percent(p + 6, &p, avg10) == -1)
		return (-1);
	if (strncmp(p, " avg60=", 7) != 0 ||
	    pressure_percent(p + 7, &p, &d) == -1)
		return (-1);
	if (strncmp(p, " avg300=", 8) != 0 ||
	    pressure_percent(p + 8, &p, &d) == -1)
		return (-1);
	if (strncmp(p, " total=", 7) != 0 ||
	    pressure_number(p + 7, &p, total) == -1)
		return (-1);
	return (*p == '\n' || *p == '\0' ? 0 : -1);
}

int
pressure_parse_psi(const char *text, double *some10, double *full10,
    uint64_t *some_total, uint64_t *full_total)
{
	const char	*p;

	if ((p = pressure_line(text, "some", ' ')) == NULL ||
	    pressure_psi_line(p, some10, some_total) == -1)
		return (-1);
	if ((p = pressure_line(text, "full", ' ')) == NULL) {
		/* Kernels before 5.13 had no "full" line for the CPU. */
		*full10 = 0.0;
		*full_total = 0;
		return (0);
	}
	return (pressure_psi_line(p, full10, full_total));
}

int
pressure_parse_key(const char *text, const char *key, uint64_t *v)
{
	const char	*p;

	if ((p = pressure_line(text, key, ' ')) == NULL)
		return (-1);
	p += strspn(p, " \t");
	return (pressure_number(p, NULL, v));
}

int
pressure_parse_limit(const char *text, uint64_t *v)
{
	if (strncmp(text, "max", 3) == 0 &&
	    (text[3] == '\0' || strcmp(text + 3, "\n") == 0)) {
		*v = UINT64_MAX;
		return (0);
	}
	return (pressure_value(text, v));
}

/* The ':' ending the field at p on its line, or NULL. */
static const char *
pressure_colon(const char *p)
{
	p += strcspn(p, ":\n");
	return (*p == ':' ? p : NULL);
}

int
pressure_parse_cgroup(const char *text, int *version, char *path, size_t len)
{
	const char	*p, *c1, *c2, *v1 = NULL, *v2 = NULL, *s;
	size_t		 n;

	for (p = text; p != NULL && *p != '\0'; p = pressure_next(p)) {
		if ((c1 = pressure_colon(p)) == NULL || c1 == p ||
		    (c2 = pressure_colon(c1 + 1)) == NULL)
			continue;
		if (c1 - p == 1 && *p == '0' && c2 == c1 + 1) {
			if (v2 == NULL)
				v2 = c2 + 1;
		} else if (pressure_has_item(c1 + 1, c2 - c1 - 1, "memory")) {
			if (v1 == NULL)
				v1 = c2 + 1;
		}
	}
	if ((s = v1 != NULL ? v1 : v2) == NULL)
		return (-1);
	n = strcspn(s, "\n");
	if (n == 0 || *s != '/' || n >= len)
		return (-1);
	memcpy(path, s, n);
	path[n] = '\0';
	*version = v1 != NULL ? 1 : 2;
	return (0);
}

/* The next blank-separated field of a line: its start and length. */
static int
pressure_field(const char **pp, const char **f, size_t *flen)
{
	const char	*p = *pp;

	p += strspn(p, " ");
	if (*p == '\0' || *p == '\n')
		return (-1);
	*f = p;
	p += strcspn(p, " \n");
	*flen = p - *f;
	*pp = p;
	return (0);
}

/* Copy a mountinfo field, undoing its octal escapes ("\040": a blank). */
static int
pressure_unescape(const char *f, size_t flen, char *buf, size_t len)
{
	size_t	 i, o = 0;

	for (i = 0; i < flen; i++) {
		if (o + 1 >= len)
			return (-1);
		if (f[i] == '\\' && i + 3 < flen &&
		    f[i + 1] >= '0' && f[i + 1] <= '3' &&
		    f[i + 2] >= '0' && f[i + 2] <= '7' &&
		    f[i + 3] >= '0' && f[i + 3] <= '7') {
			buf[o++] = (f[i + 1] - '0') * 64 +
			    (f[i + 2] - '0') * 8 + (f[i + 3] - '0');
			i += 3;
		} else
			buf[o++] = f[i];
	}
	buf[o] = '\0';
	return (0);
}

/*
 * Whether a mountinfo line, "id parent maj:min root mountpoint opts
 * [optional...] - fstype source superopts", mounts the memory cgroup of
 * this version; if so its root and mount point are in root and mnt.
 */
static int
pressure_mount(const char *line, int version, char *root, char *mnt,
    size_t len)
{
	const char	*p = line, *f, *fs, *opts;
	size_t		 flen, fslen, optslen;
	int		 i;

	for (i = 0; i < 3; i++)
		if (pressure_field(&p, &f, &flen) == -1)
			return (0);
	if (pressure_field(&p, &f, &flen) == -1 ||
	    pressure_unescape(f, flen, root, len) == -1)
		return (0);
	if (pressure_field(&p, &f, &flen) == -1 ||
	    pressure_unescape(f, flen, mnt, len) == -1)
		return (0);
	do {
		if (pressure_field(&p, &f, &flen) == -1)
			return (0);
	} while (flen != 1 || *f != '-');
	if (pressure_field(&p, &fs, &fslen) == -1 ||
	    pressure_field(&p, &f, &flen) == -1 ||
	    pressure_field(&p, &opts, &optslen) == -1)
		return (0);
	if (version == 2)
		return (fslen == 7 && strncmp(fs, "cgroup2", 7) == 0);
	return (fslen == 6 && strncmp(fs, "cgroup", 6) == 0 &&
	    pressure_has_item(opts, optslen, "memory"));
}

/* What of path lies under the mount's root, or NULL if it is outside. */
static const char *
pressure_under(const char *path, const char *root)
{
	size_t	 rlen;

	if (strcmp(root, "/") == 0)
		return (path);
	rlen = strlen(root);
	if (strncmp(path, root, rlen) == 0 &&
	    (path[rlen] == '\0' || path[rlen] == '/'))
		return (path + rlen);
	return (NULL);
}

/* mnt followed by rest ("" or "/..."). */
static int
pressure_join(char *dir, size_t len, const char *mnt, const char *rest)
{
	size_t	 mlen;
	int	 n;

	mlen = strlen(mnt);
	if (strcmp(rest, "/") == 0)
		rest = "";
	if (mlen > 0 && mnt[mlen - 1] == '/' && *rest == '/')
		rest++;
	n = snprintf(dir, len, "%s%s", mnt, rest);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

int
pressure_parse_mountinfo(const char *text, int version, const char *cgpath,
    char *dir, size_t len)
{
	char		 root[PRESSURE_PATH_MAX], mnt[PRESSURE_PATH_MAX];
	char		 first[PRESSURE_PATH_MAX];
	const char	*p, *rest;

	if ((version != 1 && version != 2) || cgpath == NULL)
		return (-1);
	first[0] = '\0';
	for (p = text; p != NULL && *p != '\0'; p = pressure_next(p)) {
		if (!pressure_mount(p, version, root, mnt, sizeof(root)))
			continue;
		if ((rest = pressure_under(cgpath, root)) != NULL)
			return (pressure_join(dir, len, mnt, rest));
		/* Our group is outside this mount's subtree. */
		if (first[0] == '\0')
			strlcpy(first, mnt, sizeof(first));
	}
	if (first[0] == '\0')
		return (-1);
	return (pressure_join(dir, len, first, ""));
}

/* Empty the pressure, check /proc/meminfo and find system-wide PSI. */
static int
pressure_setup(struct pressure *pr, const char *fn)
{
	char		 buf[PR_BUFSZ];
	uint64_t	 total, avail;

	memset(pr, 0, sizeof(*pr));
	pr->pr_trigfd = pr->pr_psifd = -1;
	if (util_read_small(PR_MEMINFO, buf, sizeof(buf)) == -1) {
		log_warn("%s: %s", fn, PR_MEMINFO);
		return (-1);
	}
	if (pressure_parse_meminfo(buf, &total, &avail) == -1) {
		log_warnx("%s: %s: no MemTotal or MemAvailable", fn,
		    PR_MEMINFO);
		errno = EINVAL;
		return (-1);
	}
	if (access(PR_PSI, F_OK) == 0)
		strlcpy(pr->pr_psipath, PR_PSI, sizeof(pr->pr_psipath));
	return (0);
}

/*
 * Take dir as our memory cgroup if it is one.  In v2 a group without
 * the memory controller is charged to the nearest ancestor with it,
 * whose memory files are the ones to read; its own memory.pressure is
 * still ours.
 */
static int
pressure_cgroup(struct pressure *pr, int version, const char *dir)
{
	char	 d[PRESSURE_PATH_MAX], psi[PRESSURE_PATH_MAX];

	if (strlcpy(d, dir, sizeof(d)) >= sizeof(d))
		return (-1);
	if (version == 1 && !pressure_exists(d, "memory.usage_in_bytes"))
		return (-1);
	while (version == 2 && !pressure_exists(d, "memory.current"))
		if (!pressure_exists(d, "cgroup.procs") ||
		    pressure_parent(d) == -1)
			return (-1);
	if (version == 2 && pressure_exists(dir, "memory.pressure")) {
		if (pressure_path(psi, sizeof(psi), dir,
		    "memory.pressure") == -1)
			return (-1);
		strlcpy(pr->pr_psipath, psi, sizeof(pr->pr_psipath));
	}
	strlcpy(pr->pr_cgdir, d, sizeof(pr->pr_cgdir));
	pr->pr_cgversion = version;
	return (0);
}

/* A whole file in a buffer of its own: mountinfo can be long. */
static char *
pressure_slurp(const char *path)
{
	char	*buf = NULL, *nbuf;
	size_t	 size = 0, off = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	for (;;) {
		if (off + 1 >= size) {
			size = size == 0 ? 4 * PR_BUFSZ : size * 2;
			if (size > PR_SLURP_MAX ||
			    (nbuf = reallocarray(buf, size, 1)) == NULL)
				goto fail;
			buf = nbuf;
		}
		if ((n = read(fd, buf + off, size - 1 - off)) == 0)
			break;
		if (n == -1 && errno != EINTR)
			goto fail;
		if (n > 0)
			off += n;
	}
	close(fd);
	buf[off] = '\0';
	return (buf);
 fail:
	close(fd);
	free(buf);
	return (NULL);
}

int
pressure_init(struct pressure *pr)
{
	char	 text[4096], cgpath[PRESSURE_PATH_MAX], dir[PRESSURE_PATH_MAX];
	char	*mi;
	int	 version, r = -1;

	if (pressure_setup(pr, __func__) == -1)
		return (-1);
	if (util_read_small("/proc/self/cgroup", text, sizeof(text)) == -1 ||
	    pressure_parse_cgroup(text, &version, cgpath,
	    sizeof(cgpath)) == -1) {
		log_debug("%s: no memory cgroup in /proc/self/cgroup",
		    __func__);
		return (0);
	}
	if ((mi = pressure_slurp("/proc/self/mountinfo")) != NULL) {
		r = pressure_parse_mountinfo(mi, version, cgpath, dir,
		    sizeof(dir));
		free(mi);
	}
	if (r == -1)
		log_debug("%s: cgroup v%d %s: no mount", __func__, version,
		    cgpath);
	else if (pressure_cgroup(pr, version, dir) == -1)
		log_debug("%s: %s: no memory controller", __func__, dir);
	return (0);
}

int
pressure_init_dir(struct pressure *pr, int version, const char *dir)
{
	if (pressure_setup(pr, __func__) == -1)
		return (-1);
	if (version == 0 && dir == NULL)
		return (0);
	if ((version != 1 && version != 2) || dir == NULL) {
		log_warnx("%s: cgroup version %d and %s: no such cgroup",
		    __func__, version, dir == NULL ? "no directory" : dir);
		errno = EINVAL;
		return (-1);
	}
	if (pressure_cgroup(pr, version, dir) == -1)
		log_warnx("%s: %s is not a cgroup v%d memory group; "
		    "the limit is MemTotal", __func__, dir, version);
	return (0);
}

/* Clean file pages: file LRU pages less dirty and under writeback. */
static uint64_t
pressure_clean(const char *stat, const char *keys[4])
{
	uint64_t	 v[4];
	int		 i;

	for (i = 0; i < 4; i++)
		if (pressure_parse_key(stat, keys[i], &v[i]) == -1)
			return (0);
	if (v[0] + v[1] <= v[2] + v[3])
		return (0);
	return (v[0] + v[1] - v[2] - v[3]);
}

/* A v1 memory cgroup; -1 if it is gone. */
static int
pressure_cg_v1(const char *dir, char *buf, size_t len,
    struct pressure_cg *pc)
{
	const char	*keys[4] = { "total_active_file",
			    "total_inactive_file", "total_dirty",
			    "total_writeback" };
	uint64_t	 v;

	if (pressure_value_at(dir, "memory.usage_in_bytes", buf, len,
	    &pc->pc_usage) == -1)
		return (-1);
	if (pressure_read_at(dir, "memory.stat", buf, len) == 0) {
		pc->pc_cache = pressure_clean(buf, keys);
		if (pressure_parse_key(buf, "hierarchical_memory_limit",
		    &v) == 0) {
			pc->pc_limit = v;
			pressure_source(pc->pc_src, sizeof(pc->pc_src),
			    "cgroup v1 hierarchical_memory_limit", dir);
		}
	}
	if (pc->pc_limit == UINT64_MAX && pressure_limit_at(dir,
	    "memory.limit_in_bytes", buf, len, &v) == 0) {
		pc->pc_limit = v;
		pressure_source(pc->pc_src, sizeof(pc->pc_src),
		    "cgroup v1 memory.limit_in_bytes", dir);
	}
	if (pressure_key_at(dir, "memory.oom_control", "oom_kill", buf, len,
	    &v) == 0)
		pc->pc_ooms = v;
	return (0);
}

/* The least memory.max and memory.high from dir up to the mount root. */
static void
pressure_v2_limits(const char *dir, char *buf, size_t len,
    struct pressure_cg *pc)
{
	char		 d[PRESSURE_PATH_MAX];
	uint64_t	 v;

	strlcpy(d, dir, sizeof(d));
	/* The root of a cgroup2 hierarchy has no memory.max. */
	while (pressure_limit_at(d, "memory.max", buf, len, &v) == 0) {
		if (v < pc->pc_limit) {
			pc->pc_limit = v;
			pressure_source(pc->pc_src, sizeof(pc->pc_src),
			    "cgroup v2 memory.max", d);
		}
		if (pressure_limit_at(d, "memory.high", buf, len, &v) == 0 &&
		    v < pc->pc_high)
			pc->pc_high = v;
		if (pressure_parent(d) == -1)
			break;
	}
}

/* A v2 memory cgroup; -1 if it is gone. */
static int
pressure_cg_v2(const char *dir, char *buf, size_t len,
    struct pressure_cg *pc)
{
	const char	*keys[4] = { "active_file", "inactive_file",
			    "file_dirty", "file_writeback" };
	uint64_t	 v;

	if (pressure_value_at(dir, "memory.current", buf, len,
	    &pc->pc_usage) == -1)
		return (-1);
	if (pressure_read_at(dir, "memory.stat", buf, len) == 0)
		pc->pc_cache = pressure_clean(buf, keys);
	pressure_v2_limits(dir, buf, len, pc);
	if (pressure_key_at(dir, "memory.events", "oom_kill", buf, len,
	    &v) == 0)
		pc->pc_ooms = v;
	return (0);
}

/* Limit, usage and headroom from the cgroup, or without one (pc NULL). */
static void
pressure_fill(struct psample *ps, const struct pressure_cg *pc)
{
	uint64_t	 room;

	ps->ps_limit = ps->ps_total;
	strlcpy(ps->ps_limit_source, "MemTotal", sizeof(ps->ps_limit_source));
	if (pc == NULL) {
		ps->ps_usage = ps->ps_total > ps->ps_avail ?
		    ps->ps_total - ps->ps_avail : 0;
	} else {
		if (pc->pc_limit < ps->ps_total) {
			ps->ps_limit = pc->pc_limit;
			strlcpy(ps->ps_limit_source, pc->pc_src,
			    sizeof(ps->ps_limit_source));
		}
		ps->ps_high = pc->pc_high == UINT64_MAX ? 0 : pc->pc_high;
		ps->ps_cache = pc->pc_cache < pc->pc_usage ?
		    pc->pc_cache : pc->pc_usage;
		ps->ps_usage = pc->pc_usage - ps->ps_cache;
		ps->ps_oom_kills = pc->pc_ooms;
	}
	room = ps->ps_limit > ps->ps_usage ? ps->ps_limit - ps->ps_usage : 0;
	ps->ps_headroom = room < ps->ps_avail ? room : ps->ps_avail;
}

int
pressure_sample(struct pressure *pr, struct psample *ps)
{
	char			 buf[PR_BUFSZ];
	struct pressure_cg	 pc;
	int			 r = -1;

	memset(ps, 0, sizeof(*ps));
	ps->ps_at = util_mono_ms();
	ps->ps_some10 = ps->ps_full10 = -1.0;
	if (util_read_small(PR_MEMINFO, buf, sizeof(buf)) == -1)
		return (-1);
	if (pressure_parse_meminfo(buf, &ps->ps_total, &ps->ps_avail) == -1) {
		errno = EINVAL;
		return (-1);
	}
	memset(&pc, 0, sizeof(pc));
	pc.pc_limit = pc.pc_high = UINT64_MAX;
	if (pr->pr_cgversion == 1)
		r = pressure_cg_v1(pr->pr_cgdir, buf, sizeof(buf), &pc);
	else if (pr->pr_cgversion == 2)
		r = pressure_cg_v2(pr->pr_cgdir, buf, sizeof(buf), &pc);
	pressure_fill(ps, r == 0 ? &pc : NULL);
	if (pr->pr_psipath[0] != '\0' &&
	    (util_read_small(pr->pr_psipath, buf, sizeof(buf)) == -1 ||
	    pressure_parse_psi(buf, &ps->ps_some10, &ps->ps_full10,
	    &ps->ps_some_total, &ps->ps_full_total) == -1)) {
		ps->ps_some10 = ps->ps_full10 = -1.0;
		ps->ps_some_total = ps->ps_full_total = 0;
	}
	return (0);
}

int
pressure_trigger(struct pressure *pr, uint64_t stall_us, uint64_t window_us)
{
	struct epoll_event	 ev;
	char			 cmd[64];
	int			 fd = -1, efd = -1, n, serrno;

	pressure_close(pr);
	n = snprintf(cmd, sizeof(cmd), "some %llu %llu",
	    (unsigned long long)stall_us, (unsigned long long)window_us);
	if (pr->pr_psipath[0] == '\0') {
		errno = ENOENT;
		goto fail;
	}
	if ((fd = open(pr->pr_psipath, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		goto fail;
	/* The kernel's documentation writes the NUL too. */
	if (write(fd, cmd, n + 1) != n + 1)
		goto fail;
	if ((efd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLPRI;
	ev.data.fd = fd;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto fail;
	pr->pr_psifd = fd;
	pr->pr_trigfd = efd;
	return (0);
 fail:
	serrno = errno;
	log_debug("%s: \"%s\" on %s: %s", __func__, cmd,
	    pr->pr_psipath[0] == '\0' ? "no PSI" : pr->pr_psipath,
	    strerror(serrno));
	if (efd != -1)
		close(efd);
	if (fd != -1)
		close(fd);
	errno = serrno;
	return (-1);
}

/*
 * Whether the trigger fired since the last call.  -1 when the trigger is
 * broken (EPOLLERR: its cgroup was removed): the caller stops watching
 * it, closes it and samples on a timer instead.
 */
int
pressure_triggered(struct pressure *pr)
{
	struct epoll_event	 ev[4];
	int			 i, n, fired = 0;

	if (pr->pr_trigfd == -1) {
		errno = EBADF;
		return (-1);
	}
	while ((n = epoll_wait(pr->pr_trigfd, ev, 4, 0)) == -1 &&
	    errno == EINTR)
		;
	if (n == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if (ev[i].events & EPOLLERR) {
			errno = EIO;
			return (-1);
		}
		if (ev[i].events & EPOLLPRI)
			fired = 1;
	}
	return (fired);
}

/* Close the trigger, if any; the pressure can still be sampled. */
void
pressure_close(struct pressure *pr)
{
	if (pr->pr_trigfd != -1)
		close(pr->pr_trigfd);
	if (pr->pr_psifd != -1)
		close(pr->pr_psifd);
	pr->pr_trigfd = pr->pr_psifd = -1;
}

const char *
pressure_describe(const struct pressure *pr, char *buf, size_t len)
{
	char	 cg[PRESSURE_PATH_MAX + 16];

	if (pr->pr_cgversion == 0)
		strlcpy(cg, "no memory cgroup", sizeof(cg));
	else
		snprintf(cg, sizeof(cg), "cgroup v%d %s", pr->pr_cgversion,
		    pr->pr_cgdir);
	if (pr->pr_psipath[0] == '\0')
		snprintf(buf, len, "%s, no PSI", cg);
	else
		snprintf(buf, len, "%s, PSI %s%s", cg, pr->pr_psipath,
		    pr->pr_trigfd != -1 ? " (trigger)" : "");
	return (buf);
}
