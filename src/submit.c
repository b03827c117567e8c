/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Turning what a user hands over into jobs: files, directories (walked
 * in name order, regular files only), NDJSON files cut into byte ranges
 * that end on line ends, and debug commands.  The batch is then given
 * to queue_enqueue() in one transaction.
 *
 * Below a directory given, --exclude patterns leave out files and whole
 * directories, and --include patterns, if any, take only the files that
 * match one; a pattern (fnmatch) matches the base name, or the path
 * below the directory given.  A file named by the user is always taken.
 * Each file is sniffed as a worker would (a gzip file by the head of its
 * contents): one of no type quire reads (binary) is skipped, and said so
 * with its path, instead of failing later as a dead letter.  A file that cannot be read now is enqueued all the same: the
 * workers may have the rights this user lacks.
 *
 * With so_autokey (quirectl ingest), each file's jobs get an idempotency
 * key of its path, size and modification time, "ingest:HASH:SIZE:MTIME"
 * (an NDJSON range adds "@OFFSET"): the same ingest run again after an
 * interruption finds the jobs of the files it already submitted, done or
 * not, and adds only the rest; a file changed since gets new jobs.
 *
 * Uploaded bodies are already in the spool (spool.c) when they come
 * here: one document is one job that names its spool file and carries
 * the uploader's id, title and content type; an NDJSON bulk is cut into
 * ranges of its spool file as an NDJSON file is, and its ranges are
 * keyed as a file's are ("KEY@OFFSET").
 *
 * An NDJSON file of 300 MB becomes about 38 jobs of 8 MB (so_split), not
 * a job per record: each range starts after a newline and ends with one
 * (or at end of file), so no record is cut and none is read twice.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "quire.h"

#define SUBMIT_DEPTH_MAX	64
#define SUBMIT_SNIFF		8192	/* bytes sniffed, as extract_type_sniff */

void
submit_init(struct submit_batch *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void
submit_free(struct submit_batch *sb)
{
	size_t	 i;

	for (i = 0; i < sb->sb_nstrs; i++)
		free(sb->sb_strs[i]);
	free(sb->sb_strs);
	free(sb->sb_jobs);
	memset(sb, 0, sizeof(*sb));
}

static const char *
submit_keep(struct submit_batch *sb, char *s)
{
	if (sb->sb_nstrs == sb->sb_strcap) {
		sb->sb_strcap = sb->sb_strcap == 0 ? 64 : sb->sb_strcap * 2;
		sb->sb_strs = xreallocarray(sb->sb_strs, sb->sb_strcap,
		    sizeof(*sb->sb_strs));
	}
	sb->sb_strs[sb->sb_nstrs++] = s;
	return (s);
}

static struct queue_new *
submit_new(struct submit_batch *sb, const struct submit_opts *so, int kind)
{
	struct queue_new	*qn;

	if (sb->sb_n == sb->sb_cap) {
		sb->sb_cap = sb->sb_cap == 0 ? 64 : sb->sb_cap * 2;
		sb->sb_jobs = xreallocarray(sb->sb_jobs, sb->sb_cap,
		    sizeof(*sb->sb_jobs));
	}
	qn = &sb->sb_jobs[sb->sb_n++];
	memset(qn, 0, sizeof(*qn));
	qn->qn_tenant = so->so_tenant;
	qn->qn_prio = so->so_prio;
	qn->qn_lang = so->so_lang;
	qn->qn_srckind = kind;
	return (qn);
}

/* The key of a file's jobs (so_autokey), kept with the batch. */
static const char *
submit_autokey(struct submit_batch *sb, const char *path,
    const struct stat *st)
{
	char	*key;

	xasprintf(&key, "ingest:%016llx:%llu:%lld.%09ld",
	    (unsigned long long)XXH64(path, strlen(path), 0),
	    (unsigned long long)st->st_size, (long long)st->st_mtim.tv_sec,
	    st->st_mtim.tv_nsec);
	return (submit_keep(sb, key));
}

/* Whether one of the patterns matches rel or its base name. */
static int
submit_match(const char **pats, size_t n, const char *rel)
{
	const char	*base;
	size_t		 i;

	base = (base = strrchr(rel, '/')) != NULL ? base + 1 : rel;
	for (i = 0; i < n; i++)
		if (fnmatch(pats[i], base, 0) == 0 ||
		    fnmatch(pats[i], rel, FNM_PATHNAME) == 0)
			return (1);
	return (0);
}

/*
 * Whether a worker would find a type in the file: -1 for none (binary,
 * or gzip that is not), 0 otherwise, also when it cannot be read now.
 */
static int
submit_sniff(const char *path)
{
	struct buf	 plain;
	char		 head[SUBMIT_SNIFF], name[PATH_MAX], why[128];
	ssize_t		 n;
	size_t		 len;
	int		 fd, type;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n <= 0)
		return (0);
	if (!buf_is_gzip(head, n))
		return (extract_type_sniff(path, head, n) == -1 ? -1 : 0);
	/* The head of the contents, under the name without ".gz". */
	buf_init(&plain);
	if (buf_gunzip(head, n, SUBMIT_SNIFF, &plain, why, sizeof(why))
	    == -1 && plain.b_len == 0) {
		buf_free(&plain);
		return (-1);
	}
	strlcpy(name, path, sizeof(name));
	if ((len = strlen(name)) > 3 && strcmp(name + len - 3, ".gz") == 0)
		name[len - 3] = '\0';
	type = extract_type_sniff(name, plain.b_data, plain.b_len);
	buf_free(&plain);
	return (type == -1 ? -1 : 0);
}

static int
submit_walk(struct submit_batch *sb, const char *path, size_t top,
    const struct submit_opts *so, int depth)
{
	struct queue_new	*qn;
	struct dirent		**names;
	struct stat		 st;
	const char		*rel = path + top;
	char			*sub;
	int			 i, n, rv = 0;

	if (lstat(path, &st) == -1) {
		log_warn("%s", path);
		return (-1);
	}
	if (depth > 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
	    (submit_match(so->so_exclude, so->so_nexclude, rel) ||
	    (S_ISREG(st.st_mode) && so->so_ninclude > 0 &&
	    !submit_match(so->so_include, so->so_ninclude, rel)))) {
		sb->sb_excluded++;
		return (0);
	}
	if (S_ISREG(st.st_mode)) {
		if (submit_sniff(path) == -1) {
			log_warnx("%s: skipped: not a type quire reads",
			    util_vis(path));
			sb->sb_skipped++;
			return (0);
		}
		qn = submit_new(sb, so, SRC_PATH);
		qn->qn_path = submit_keep(sb, xstrdup(path));
		if (so->so_autokey)
			qn->qn_key = submit_autokey(sb, path, &st);
		qn->qn_size = st.st_size;
		sb->sb_bytes += st.st_size;
		return (0);
	}
	if (!S_ISDIR(st.st_mode)) {
		/* Symlinks, FIFOs, devices and sockets are never read. */
		if (depth == 0) {
			log_warnx("%s: not a regular file or directory", path);
			return (-1);
		}
		sb->sb_skipped++;
		return (0);
	}
	if (depth >= SUBMIT_DEPTH_MAX) {
		log_warnx("%s: directories nested too deep", path);
		return (-1);
	}
	if ((n = scandir(path, &names, NULL, alphasort)) == -1) {
		log_warn("%s", path);
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (rv == 0 && strcmp(names[i]->d_name, ".") != 0 &&
		    strcmp(names[i]->d_name, "..") != 0) {
			xasprintf(&sub, "%s/%s", path, names[i]->d_name);
			rv = submit_walk(sb, sub, top, so, depth + 1);
			free(sub);
		}
		free(names[i]);
	}
	free(names);
	return (rv);
}

/* Add a file, or every regular file below a directory. */
int
submit_add_path(struct submit_batch *sb, const char *path,
    const struct submit_opts *so)
{
	char	 real[PATH_MAX];
	size_t	 first = sb->sb_n;

	if (realpath(path, real) == NULL) {
		log_warn("%s", path);
		return (-1);
	}
	/* Patterns see the path below the directory given. */
	if (submit_walk(sb, real, strlen(real) + 1, so, 0) == -1)
		return (-1);
	if (so->so_key != NULL) {
		if (sb->sb_n != first + 1) {
			log_warnx("%s: an idempotency key names one file",
			    path);
			return (-1);
		}
		sb->sb_jobs[first].qn_key = so->so_key;
	}
	return (0);
}

/*
 * Call fn(offset, length) for consecutive ranges of about split bytes
 * that cover [0, size) of fd and end on a newline or at end of file.
 */
int
submit_ndjson_ranges(int fd, uint64_t size, uint64_t split,
    int (*fn)(uint64_t, uint64_t, void *), void *arg)
{
	char		 buf[65536], *nl;
	uint64_t	 start = 0, end, pos;
	ssize_t		 r;

	if (split == 0)
		split = SUBMIT_SPLIT_DEFAULT;
	while (start < size) {
		end = start + split >= size ? size : start + split;
		/* Extend to just past the next newline at or after end - 1. */
		pos = end - 1;
		while (end < size) {
			r = pread(fd, buf, sizeof(buf), pos);
			if (r == -1) {
				log_warn("%s: read", __func__);
				return (-1);
			}
			if (r == 0) {
				end = size;
				break;
			}
			if ((nl = memchr(buf, '\n', r)) != NULL) {
				end = pos + (nl - buf) + 1;
				break;
			}
			pos += r;
			if (pos >= size)
				end = size;
		}
		if (fn(start, end - start, arg) == -1)
			return (-1);
		start = end;
	}
	return (0);
}

struct submit_range_arg {
	struct submit_batch		*ra_sb;
	const struct submit_opts	*ra_so;
	const char			*ra_path;
	const char			*ra_key;	/* of the ranges */
	int				 ra_kind;
};

static int
submit_range(uint64_t off, uint64_t len, void *arg)
{
	struct submit_range_arg	*ra = arg;
	struct queue_new	*qn;
	char			*key;

	qn = submit_new(ra->ra_sb, ra->ra_so, ra->ra_kind);
	qn->qn_path = ra->ra_path;
	qn->qn_off = off;
	qn->qn_len = len;
	qn->qn_size = len;
	if (ra->ra_key != NULL) {
		xasprintf(&key, "%s@%llu", ra->ra_key,
		    (unsigned long long)off);
		if (strlen(key) > JOB_KEY_MAX) {
			free(key);
			log_warnx("%s: idempotency key too long", __func__);
			return (-1);
		}
		qn->qn_key = submit_keep(ra->ra_sb, key);
	}
	ra->ra_sb->sb_bytes += len;
	return (0);
}

/* Add an NDJSON file as byte-range jobs. */
int
submit_add_ndjson(struct submit_batch *sb, const char *path,
    const struct submit_opts *so)
{
	struct submit_range_arg	 ra;
	struct stat		 st;
	char			 real[PATH_MAX];
	int			 fd, rv;

	if (realpath(path, real) == NULL) {
		log_warn("%s", path);
		return (-1);
	}
	if ((fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC))
	    == -1) {
		log_warn("%s", path);
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		close(fd);
		return (-1);
	}
	ra.ra_sb = sb;
	ra.ra_so = so;
	ra.ra_kind = SRC_NDJSON;
	ra.ra_path = submit_keep(sb, xstrdup(real));
	ra.ra_key = so->so_key;
	if (ra.ra_key == NULL && so->so_autokey)
		ra.ra_key = submit_autokey(sb, real, &st);
	rv = submit_ndjson_ranges(fd, st.st_size, so->so_split, submit_range,
	    &ra);
	close(fd);
	return (rv);
}

/*
 * An uploaded document, spooled as name: one job, with the uploader's
 * id, title and content type (each NULL or "" when not given).
 */
int
submit_add_spool(struct submit_batch *sb, const char *name, uint64_t size,
    const struct submit_upload *su, const struct submit_opts *so)
{
	struct queue_new	*qn;

	if (!spool_name_ok(name) ||
	    (su->su_id != NULL && strlen(su->su_id) > JOB_EXTID_MAX) ||
	    (su->su_title != NULL && strlen(su->su_title) > JOB_TITLE_MAX) ||
	    (su->su_ctype != NULL && strlen(su->su_ctype) > JOB_CTYPE_MAX)) {
		log_warnx("%s: bad spool name, or id, title or type too long",
		    __func__);
		return (-1);
	}
	qn = submit_new(sb, so, SRC_SPOOL);
	qn->qn_path = submit_keep(sb, xstrdup(name));
	qn->qn_key = so->so_key;
	qn->qn_size = size;
	qn->qn_extid = su->su_id != NULL && su->su_id[0] != '\0' ?
	    submit_keep(sb, xstrdup(su->su_id)) : NULL;
	qn->qn_title = su->su_title != NULL && su->su_title[0] != '\0' ?
	    submit_keep(sb, xstrdup(su->su_title)) : NULL;
	qn->qn_ctype = su->su_ctype != NULL && su->su_ctype[0] != '\0' ?
	    submit_keep(sb, xstrdup(su->su_ctype)) : NULL;
	sb->sb_bytes += size;
	return (0);
}

/*
 * An uploaded NDJSON bulk, spooled as name in datadir: range jobs of
 * about so_split bytes, each naming the spool file.
 */
int
submit_add_spool_ndjson(struct submit_batch *sb, const char *datadir,
    const char *name, const struct submit_opts *so)
{
	struct submit_range_arg	 ra;
	struct stat		 st;
	int			 fd, rv;

	if ((fd = spool_open(datadir, name)) == -1) {
		log_warn("%s: %s/%s", __func__, SPOOL_DIR, name);
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		log_warn("%s: %s/%s", __func__, SPOOL_DIR, name);
		close(fd);
		return (-1);
	}
	ra.ra_sb = sb;
	ra.ra_so = so;
	ra.ra_kind = SRC_SPOOL;
	ra.ra_path = submit_keep(sb, xstrdup(name));
	ra.ra_key = so->so_key;
	rv = submit_ndjson_ranges(fd, st.st_size, so->so_split, submit_range,
	    &ra);
	close(fd);
	return (rv);
}

/*
 * Enqueue the jobs of one spooled body (sb holds only them) in one
 * transaction: all or none.  A body that no new job names (every key was
 * known, or the enqueue failed) is removed again.  A queue result.
 */
int
submit_enqueue_spool(struct queue *q, struct submit_batch *sb,
    const char *datadir, const char *name)
{
	size_t	 i;
	int	 rc, used = 0;

	rc = queue_enqueue(q, sb->sb_jobs, sb->sb_n);
	for (i = 0; rc == QUEUE_OK && i < sb->sb_n; i++)
		if (!sb->sb_jobs[i].qn_dup)
			used = 1;
	if (!used)
		(void)spool_unlink(datadir, name);
	return (rc);
}

/* A debug command ("sleep 200"), run by workers when debug jobs are on. */
int
submit_add_debug(struct submit_batch *sb, const char *cmd,
    const struct submit_opts *so)
{
	struct queue_new	*qn;
	unsigned int		 mib;

	if (strlen(cmd) == 0 || strlen(cmd) > JOB_PATH_MAX) {
		log_warnx("debug command empty or too long");
		return (-1);
	}
	qn = submit_new(sb, so, SRC_DEBUG);
	qn->qn_path = submit_keep(sb, xstrdup(cmd));
	qn->qn_key = so->so_key;
	/* A hog is as big as the memory it takes, for the size tiers. */
	if (sscanf(cmd, "hog %u", &mib) == 1)
		qn->qn_size = (uint64_t)mib << 20;
	return (0);
}
