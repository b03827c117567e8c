/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The spool: uploaded document bodies, one file each, in DATADIR/spool/.
 *
 * A body is accepted only once it is on disk.  spool_put() and its
 * streaming forms write it to a temporary name (".tmp-NAME"), fsync the
 * file, rename it to its final NAME and fsync the directory; only then
 * does the caller enqueue the job that names it, and only after that
 * commit does it answer the uploader.  A crash before the rename leaves
 * a temporary file no job names; a crash after it and before the
 * enqueue leaves a file no job names: spool_sweep() removes both once
 * they are older than any upload can take.
 *
 * Names are made here, never taken from a user: 16 hex digits of the
 * time in nanoseconds, 8 of the pid and 8 random ones, joined by '-'
 * (spool_name_ok checks that shape, so a job record cannot point a
 * worker elsewhere).  Every file is opened relative to the data
 * directory's descriptor, then the spool directory's, with O_NOFOLLOW:
 * a symbolic link in place of the directory or a file is refused.
 *
 * Bodies are bounded: a write past the caller's limit (max-document-size
 * for one document, max-bulk-size for an NDJSON bulk) stops, removes
 * the temporary file and returns SPOOL_ETOOBIG.  Errors of the disk are
 * storage faults, not the document's: SPOOL_EFAULT with the fault
 * (store_fault: ENOSPC and EDQUOT are "full", EIO and EROFS "io") for
 * the caller to report as the queue's are reported.
 *
 * Which jobs need a file is the queue's to count (queue_spool_refs; in
 * queue_lmdb.c, the "spool" database); it calls spool_unlink() when the
 * last of them is done, cancelled or purged.  The PostgreSQL queue
 * copies the body into the database in the enqueue's transaction, for
 * every host's workers to read, and removes the file after the commit
 * (queue_pg_spool.c): there the spool only holds an upload on its way
 * in.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quire.h"

#define SPOOL_TMP		".tmp-"
#define SPOOL_COPY		65536	/* bytes per read of a stream */

/*
 * The spool directory's descriptor, made if absent; -1 with errno.  Made
 * by root (quirectl run by root beside a daemon of a service user), it
 * is given to the data directory's owner, as its files are, so that
 * workers can read and remove them and the daemon's start-up check of
 * owners passes.  A directory cannot be hard linked, so giving away the
 * one opened here gives nothing else away.
 */
int
spool_dir(const char *datadir, int create)
{
	struct stat	 st;
	int		 dfd, sfd, saved, made = 0;

	if ((dfd = open(datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	if (create && mkdirat(dfd, SPOOL_DIR, 0750) == 0) {
		made = 1;
		if (fsync(dfd) == -1)
			goto fail;
	}
	if ((sfd = openat(dfd, SPOOL_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto fail;
	if (made && geteuid() == 0 && (fstat(dfd, &st) == -1 ||
	    fchown(sfd, st.st_uid, st.st_gid) == -1)) {
		saved = errno;
		close(sfd);
		errno = saved;
		goto fail;
	}
	close(dfd);
	return (sfd);
fail:
	saved = errno;
	close(dfd);
	errno = saved;
	return (-1);
}

/* Whether name is one spool_begin could have made. */
int
spool_name_ok(const char *name)
{
	size_t	 i, len = strlen(name);

	if (len != SPOOL_NAME_LEN)
		return (0);
	for (i = 0; i < len; i++) {
		if (i == 16 || i == 25) {
			if (name[i] != '-')
				return (0);
		} else if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return (0);
	}
	return (1);
}

/* An error of the disk: the fault to report, set in sw_fault. */
static int
spool_fail(struct spool_writer *sw, int e)
{
	sw->sw_errno = e;
	if ((sw->sw_fault = store_fault(e)) != STORE_FAULT_NONE)
		return (SPOOL_EFAULT);
	return (SPOOL_ERROR);
}

/* Start a body of at most max bytes under a new name. */
int
spool_begin(struct spool_writer *sw, const char *datadir, uint64_t max)
{
	struct timespec	 ts;
	struct stat	 st;
	char		 tmp[sizeof(SPOOL_TMP) + SPOOL_NAME_LEN];
	int		 rv;

	memset(sw, 0, sizeof(*sw));
	sw->sw_fd = -1;
	sw->sw_max = max;
	if ((sw->sw_dfd = spool_dir(datadir, 1)) == -1) {
		sw->sw_dfd = -1;
		return (spool_fail(sw, errno));
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(sw->sw_name, sizeof(sw->sw_name), "%016llx-%08x-%08x",
	    (unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec,
	    (unsigned int)getpid(), arc4random());
	snprintf(tmp, sizeof(tmp), SPOOL_TMP "%s", sw->sw_name);
	if ((sw->sw_fd = openat(sw->sw_dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0640)) == -1) {
		rv = spool_fail(sw, errno);
		close(sw->sw_dfd);
		sw->sw_dfd = -1;
		return (rv);
	}
	/* Root's upload belongs to the spool's owner, who reads it. */
	if (geteuid() == 0 && (fstat(sw->sw_dfd, &st) == -1 ||
	    fchown(sw->sw_fd, st.st_uid, st.st_gid) == -1)) {
		rv = spool_fail(sw, errno);
		spool_abort(sw);
		return (rv);
	}
	return (SPOOL_OK);
}

/* Append len bytes; past the limit, SPOOL_ETOOBIG and nothing kept. */
int
spool_write(struct spool_writer *sw, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	if (sw->sw_fd == -1)
		return (SPOOL_ERROR);
	if (len > sw->sw_max - sw->sw_len) {
		spool_abort(sw);
		return (SPOOL_ETOOBIG);
	}
	while (len > 0) {
		if ((n = write(sw->sw_fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			n = spool_fail(sw, errno);
			spool_abort(sw);
			return (n);
		}
		p += n;
		len -= n;
		sw->sw_len += n;
	}
	return (SPOOL_OK);
}

/*
 * Make the body durable under its final name: fsync the file, rename
 * it, fsync the directory.  After SPOOL_OK, sw_name names it.
 */
int
spool_commit(struct spool_writer *sw)
{
	char	 tmp[sizeof(SPOOL_TMP) + SPOOL_NAME_LEN];
	int	 rv;

	if (sw->sw_fd == -1)
		return (SPOOL_ERROR);
	snprintf(tmp, sizeof(tmp), SPOOL_TMP "%s", sw->sw_name);
	if (fsync(sw->sw_fd) == -1 || close(sw->sw_fd) == -1) {
		sw->sw_fd = -1;
		rv = spool_fail(sw, errno);
		(void)unlinkat(sw->sw_dfd, tmp, 0);
		spool_abort(sw);
		return (rv);
	}
	sw->sw_fd = -1;
	if (renameat(sw->sw_dfd, tmp, sw->sw_dfd, sw->sw_name) == -1) {
		rv = spool_fail(sw, errno);
		(void)unlinkat(sw->sw_dfd, tmp, 0);
		spool_abort(sw);
		return (rv);
	}
	if (fsync(sw->sw_dfd) == -1) {
		rv = spool_fail(sw, errno);
		(void)unlinkat(sw->sw_dfd, sw->sw_name, 0);
		spool_abort(sw);
		return (rv);
	}
	close(sw->sw_dfd);
	sw->sw_dfd = -1;
	return (SPOOL_OK);
}

/* Give up a body being written: its temporary file goes. */
void
spool_abort(struct spool_writer *sw)
{
	char	 tmp[sizeof(SPOOL_TMP) + SPOOL_NAME_LEN];

	if (sw->sw_fd != -1) {
		close(sw->sw_fd);
		sw->sw_fd = -1;
		snprintf(tmp, sizeof(tmp), SPOOL_TMP "%s", sw->sw_name);
		(void)unlinkat(sw->sw_dfd, tmp, 0);
	}
	if (sw->sw_dfd != -1) {
		close(sw->sw_dfd);
		sw->sw_dfd = -1;
	}
}

/* One buffer as a new spool file; its name in sw->sw_name. */
int
spool_put(struct spool_writer *sw, const char *datadir, const void *data,
    size_t len, uint64_t max)
{
	int	 rv;

	if ((rv = spool_begin(sw, datadir, max)) != SPOOL_OK ||
	    (rv = spool_write(sw, data, len)) != SPOOL_OK)
		return (rv);
	return (spool_commit(sw));
}

/* Everything read from fd until end of file, as a new spool file. */
int
spool_put_fd(struct spool_writer *sw, const char *datadir, int fd,
    uint64_t max)
{
	char	*buf;
	ssize_t	 n;
	int	 rv;

	if ((rv = spool_begin(sw, datadir, max)) != SPOOL_OK)
		return (rv);
	buf = xmalloc(SPOOL_COPY);
	for (;;) {
		if ((n = read(fd, buf, SPOOL_COPY)) == -1) {
			if (errno == EINTR)
				continue;
			/* The source's error, not the spool's. */
			sw->sw_errno = errno;
			sw->sw_fault = STORE_FAULT_NONE;
			spool_abort(sw);
			free(buf);
			return (SPOOL_EREAD);
		}
		if (n == 0)
			break;
		if ((rv = spool_write(sw, buf, n)) != SPOOL_OK) {
			free(buf);
			return (rv);
		}
	}
	free(buf);
	return (spool_commit(sw));
}

/* Open a spool file to read it; -1 with errno (EINVAL: a bad name). */
int
spool_open(const char *datadir, const char *name)
{
	int	 sfd, fd, saved;

	if (!spool_name_ok(name)) {
		errno = EINVAL;
		return (-1);
	}
	if ((sfd = spool_dir(datadir, 0)) == -1)
		return (-1);
	fd = util_openat_file(sfd, name, O_RDONLY, 0);
	saved = errno;
	close(sfd);
	errno = saved;
	return (fd);
}

/* Remove a spool file no job needs; absent already is fine. */
int
spool_unlink(const char *datadir, const char *name)
{
	int	 sfd, rv;

	if (!spool_name_ok(name)) {
		errno = EINVAL;
		return (-1);
	}
	if ((sfd = spool_dir(datadir, 0)) == -1)
		return (errno == ENOENT ? 0 : -1);
	rv = unlinkat(sfd, name, 0);
	if (rv == -1 && errno == ENOENT)
		rv = 0;
	if (rv == 0)
		(void)fsync(sfd);
	close(sfd);
	if (rv == -1)
		log_warn("%s: %s/%s/%s", __func__, datadir, SPOOL_DIR, name);
	return (rv);
}

/*
 * Remove what no job will ever need: temporary files and spool files
 * that inuse() says no job names, once older than age_ms (an upload may
 * be between its rename and its enqueue).  Returns the files removed,
 * or -1.
 */
int
spool_sweep(const char *datadir, uint64_t age_ms,
    int (*inuse)(const char *, void *), void *arg)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	uint64_t	 now = util_now_ms(), mtime;
	const char	*name;
	int		 sfd, n = 0;

	if ((sfd = spool_dir(datadir, 0)) == -1)
		return (errno == ENOENT ? 0 : -1);
	if ((d = fdopendir(sfd)) == NULL) {
		close(sfd);
		return (-1);
	}
	while ((de = readdir(d)) != NULL) {
		name = de->d_name;
		if (strncmp(name, SPOOL_TMP, strlen(SPOOL_TMP)) != 0 &&
		    (!spool_name_ok(name) || inuse(name, arg)))
			continue;
		if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		mtime = (uint64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
		if (mtime + age_ms > now)
			continue;
		if (unlinkat(sfd, name, 0) == 0) {
			log_info("%s: removed %s/%s, which no job needs",
			    __func__, SPOOL_DIR, util_vis(name));
			n++;
		}
	}
	closedir(d);
	return (n);
}
