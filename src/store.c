/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * One LMDB environment and its named databases.
 *
 * Every process opens its own environment after fork (nothing from LMDB
 * crosses a fork), with MDB_NOTLS so a read transaction is not tied to a
 * thread.  Durability comes from fsync at commit; the "sync" option
 * trades it away knowingly:
 *
 *	full	data pages and the meta page are synced at every commit (the
 *		default): a commit that returned survives a power cut.
 *		A handle of a worker (store_overlap) sets MDB_NOMETASYNC
 *		all the same, and store_write() syncs the meta page itself
 *		once the commit has let go of the write lock
 *		(store_commit): the next writer, another worker, writes
 *		and syncs its pages while this one waits for its meta
 *		page, where LMDB holds the lock through both syncs.  A
 *		transaction that wrote nothing syncs nothing.  Readers may
 *		see such a commit a moment before it is durable; its writer
 *		has not returned yet, so nothing it stands for (an ack, a
 *		claim, a batch of documents) was acted on.  A sync that
 *		fails is a meta page write that failed: the handle is
 *		opened again (below) and the write reports EIO, though its
 *		transaction is in the map.  A worker's writes are all
 *		safe to run again (a batch finds its documents unchanged,
 *		a lease is claimed again once it expires), while a
 *		command's must fail whole, so other handles keep LMDB's
 *		own sync.
 *	group	MDB_NOMETASYNC: data pages are synced at commit, the meta
 *		page at the next commit or store_sync(); a power cut can
 *		roll back the last transaction, never corrupt the file.
 *	none	MDB_NOSYNC: the kernel writes when it likes; a power cut can
 *		lose many transactions.  For throwaway data and benchmarks.
 *
 * MDB_WRITEMAP is never used: with it a full disk is a SIGBUS.
 *
 * Storage faults: a write that fails because the file system is full,
 * the map reached its maximum, or the disk returned an error, is not the
 * data's fault, and callers wait for the storage rather than blame what
 * they were writing.  store_write() records the kind in s_fault (cleared
 * by the next write that commits), turns LMDB's EIO for a short write on
 * a file system with no room left into ENOSPC, and logs such faults at
 * most once a second per environment, counting the lines it left out.
 * A meta page that could not be written leaves the handle refusing every
 * transaction (MDB_PANIC): that is an I/O error too, and the environment
 * is closed and opened again before the next transaction.
 * A write that ran out of numbers (STORE_ENOIDS: the index's chunk ids
 * are 32 bits) is a fault of its own, "ids-full": not the data's, and
 * no bigger map or freed disk cures it, but what was written stays
 * searchable, and what waits is kept until the index is built anew.
 *
 * The map starts at s_mapsize and doubles whenever a write transaction
 * meets MDB_MAP_FULL, up to s_mapmax; store_write() then runs the whole
 * transaction again, so its function must depend only on its argument
 * and on the database.  To make that rare, store_write() also doubles
 * the map before it begins once the pages in use pass half of it (the
 * map is address space: the file grows only as pages are written).  Another process that grew the map makes our next
 * mdb_txn_begin() fail with MDB_MAP_RESIZED: we adopt the new size
 * (mdb_env_set_mapsize with 0) and begin again.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define STORE_STALE_MS	1000	/* stale readers checked, at most */
#define STORE_ROOM_MIN	(4ULL << 20) /* less free space than this is full */
#define STORE_FAULT_LOG_MS 1000	/* one fault line a second, at most */

static int	 store_begin(struct store *, unsigned int, MDB_txn **);
static int	 store_commit(struct store *, MDB_txn *);

static const char *store_syncs[] = { "full", "group", "none" };
static const char *store_faults[] = { "ok", "full", "map-full", "io-error",
    "unreachable", "ids-full" };

/* The kind of storage fault an LMDB or errno code is, if any. */
int
store_fault(int rc)
{
	switch (rc) {
	case ENOSPC:
	case EDQUOT:
		return (STORE_FAULT_FULL);
	case MDB_MAP_FULL:
		return (STORE_FAULT_MAP);
	case EIO:
	case EROFS:
	case MDB_PANIC:
		return (STORE_FAULT_IO);
	case STORE_ENOIDS:
		return (STORE_FAULT_IDS);
	default:
		return (STORE_FAULT_NONE);
	}
}

const char *
store_fault_name(int f)
{
	if (f < 0 || f > STORE_FAULT_IDS)
		return ("unknown");
	return (store_faults[f]);
}

const char *
store_sync_name(int s)
{
	if (s < 0 || s > STORE_SYNC_NONE)
		return ("unknown");
	return (store_syncs[s]);
}

int
store_sync_parse(const char *s)
{
	int	 i;

	for (i = 0; i <= STORE_SYNC_NONE; i++)
		if (strcmp(s, store_syncs[i]) == 0)
			return (i);
	return (-1);
}

/*
 * The data directory belongs to the service user, and root may open an
 * environment in it (quirectl, or quired before it drops privileges).
 * LMDB opens DIR/data.mdb and DIR/lock.mdb by path, creating them and
 * rewriting the lock file: were either a symbolic link, or DIR one, root
 * would write where the link points.  So DIR must be a directory and the
 * two files, when present, regular files with one link each; checked
 * before mdb_env_open and again after it.
 */
static int
store_check_files(const char *dir)
{
	const char	*names[] = { "data.mdb", "lock.mdb" };
	char		 path[PATH_MAX];
	size_t		 i;

	if (util_check_entry(dir, 1) == -1) {
		log_warnx("%s: %s: %s", __func__, dir,
		    util_open_strerror(errno));
		return (-1);
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (util_check_entry(path, 0) == -1) {
			log_warnx("%s: %s: %s", __func__, path,
			    util_open_strerror(errno));
			return (-1);
		}
	}
	return (0);
}

/* The file LMDB holds open is the one named DIR/data.mdb. */
static int
store_check_fd(struct store *s, const char *dir)
{
	struct stat	 a, b;
	char		 path[PATH_MAX];
	mdb_filehandle_t fd;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (mdb_env_get_fd(s->s_env, &fd) != 0 || fstat(fd, &a) == -1 ||
	    lstat(path, &b) == -1 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		log_warnx("%s: %s: replaced while it was opened", __func__,
		    path);
		return (-1);
	}
	return (0);
}

int
store_open(struct store *s, const char *dir, const char **names, int ndbs,
    int sync, size_t mapsize)
{
	MDB_txn		*txn;
	MDB_envinfo	 info;
	unsigned int	 flags = MDB_NOTLS;
	int		 rc, i, dead;

	memset(s, 0, sizeof(*s));
	if (ndbs > STORE_MAXDBS) {
		log_warnx("%s: too many databases", __func__);
		return (-1);
	}
	if (strlcpy(s->s_path, dir, sizeof(s->s_path)) >= sizeof(s->s_path)) {
		log_warnx("%s: path too long", __func__);
		return (-1);
	}
	if (util_mkdir_p(dir, 0750) == -1) {
		log_warn("%s: mkdir %s", __func__, dir);
		return (-1);
	}
	if (store_check_files(dir) == -1)
		return (-1);
	s->s_sync = sync;
	s->s_mapsize = mapsize != 0 ? mapsize : STORE_MAPSIZE_DEFAULT;
	s->s_mapmax = STORE_MAPSIZE_MAX;
	s->s_ndbs = ndbs;
	if (sync == STORE_SYNC_GROUP)
		flags |= MDB_NOMETASYNC;
	else if (sync == STORE_SYNC_NONE)
		flags |= MDB_NOSYNC;

	if ((rc = mdb_env_create(&s->s_env)) != 0)
		goto fail;
	if ((rc = mdb_env_set_maxdbs(s->s_env, STORE_MAXDBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->s_env, 510)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->s_env, s->s_mapsize)) != 0)
		goto fail;
	if ((rc = mdb_env_open(s->s_env, dir, flags, 0640)) != 0)
		goto fail;
	/* Nothing was swapped for a link while LMDB opened its files. */
	if (store_check_files(dir) == -1 || store_check_fd(s, dir) == -1) {
		mdb_env_close(s->s_env);
		s->s_env = NULL;
		return (-1);
	}
	/*
	 * Slots left by readers killed inside their transactions are
	 * cleared by every process that opens the environment, as well as
	 * by writers and the supervisor's sweep.
	 */
	(void)store_reader_check(s, &dead);
	/* The file may already be larger than our default. */
	if ((rc = mdb_env_info(s->s_env, &info)) != 0)
		goto fail;
	s->s_mapsize = info.me_mapsize;

	/* A writer that grew the map ahead of need recorded a larger one. */
	if ((rc = store_begin(s, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < ndbs; i++) {
		s->s_names[i] = names[i];
		if ((rc = mdb_dbi_open(txn, names[i], MDB_CREATE,
		    &s->s_dbi[i])) != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = store_commit(s, txn)) != 0)
		goto fail;
	return (0);

fail:
	log_warnx("%s: %s: %s", __func__, dir, mdb_strerror(rc));
	if (s->s_env != NULL)
		mdb_env_close(s->s_env);
	s->s_env = NULL;
	return (-1);
}

/* A handle after MDB_PANIC: close it and open the environment again. */
static int
store_reopen(struct store *s)
{
	struct store	 old = *s;

	if (s->s_env != NULL)
		mdb_env_close(s->s_env);
	s->s_env = NULL;
	if (store_open(s, old.s_path, old.s_names, old.s_ndbs, old.s_sync,
	    old.s_mapsize) == -1) {
		*s = old;
		s->s_env = NULL;
		return (-1);
	}
	s->s_mapmax = old.s_mapmax;
	s->s_grows = old.s_grows;
	s->s_checked = old.s_checked;
	s->s_stale = old.s_stale;
	s->s_fault = old.s_fault;
	s->s_fault_logged = old.s_fault_logged;
	s->s_fault_quiet = old.s_fault_quiet;
	if (old.s_overlap)
		(void)store_overlap(s);
	log_info("%s: %s: environment opened again after a fatal error",
	    __func__, s->s_path);
	return (0);
}

/* Begin with a usable handle: reopened first if it had to be. */
static int
store_ready(struct store *s)
{
	if (s->s_env != NULL && !s->s_panic)
		return (0);
	if (store_reopen(s) == -1)
		return (EIO);
	s->s_panic = 0;
	return (0);
}

void
store_close(struct store *s)
{
	if (s->s_env == NULL)
		return;
	mdb_env_close(s->s_env);
	s->s_env = NULL;
}

/*
 * The largest the map may grow to.  A map already beyond it stays as it
 * is, and is full for store_write().
 */
void
store_limit(struct store *s, uint64_t max)
{
	if (max < (1ULL << 20) || max > STORE_MAPSIZE_MAX)
		max = STORE_MAPSIZE_MAX;
	s->s_mapmax = max;
}

static int
store_begin(struct store *s, unsigned int flags, MDB_txn **txn)
{
	MDB_envinfo	 info;
	int		 rc;

	for (;;) {
		rc = mdb_txn_begin(s->s_env, NULL, flags, txn);
		if (rc != MDB_MAP_RESIZED)
			return (rc);
		if ((rc = mdb_env_set_mapsize(s->s_env, 0)) != 0)
			return (rc);
		if (mdb_env_info(s->s_env, &info) == 0)
			s->s_mapsize = info.me_mapsize;
	}
}

static int
store_grow(struct store *s)
{
	MDB_envinfo	 info;
	size_t		 want;
	int		 rc;

	if (mdb_env_info(s->s_env, &info) == 0 &&
	    info.me_mapsize > s->s_mapsize)
		s->s_mapsize = info.me_mapsize;
	if (s->s_mapsize >= s->s_mapmax)
		return (MDB_MAP_FULL);
	want = s->s_mapsize * 2;
	if (want > s->s_mapmax)
		want = s->s_mapmax;
	if ((rc = mdb_env_set_mapsize(s->s_env, want)) != 0)
		return (rc);
	s->s_mapsize = want;
	s->s_grows++;
	log_debug("%s: %s: map grown to %zu MiB", __func__, s->s_path,
	    want >> 20);
	return (0);
}

/*
 * Double the map ahead of need, once the pages in use pass half of it,
 * so that a big transaction seldom meets MDB_MAP_FULL and runs twice.
 * Pages beyond the map mean another process grew it: store_begin()
 * adopts that size.
 */
static void
store_reserve(struct store *s)
{
	MDB_envinfo	 info;
	MDB_stat	 st;
	size_t		 used;

	if (mdb_env_info(s->s_env, &info) != 0 ||
	    mdb_env_stat(s->s_env, &st) != 0)
		return;
	used = (info.me_last_pgno + 1) * st.ms_psize;
	if (used > s->s_mapsize / 2 && used <= s->s_mapsize &&
	    s->s_mapsize < s->s_mapmax)
		(void)store_grow(s);
}

/*
 * A write failed with rc: record and log it if it is a storage fault.
 * Returns rc, or ENOSPC for an EIO on a file system without room.
 */
static int
store_failed(struct store *s, int rc)
{
	struct statvfs	 vfs;
	uint64_t	 now;
	char		 more[64];

	if (rc == MDB_PANIC) {
		s->s_panic = 1;
		rc = EIO;
	}
	if (rc == EIO && statvfs(s->s_path, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < STORE_ROOM_MIN)
		rc = ENOSPC;
	if ((s->s_fault = store_fault(rc)) == STORE_FAULT_NONE)
		return (rc);
	now = util_mono_ms();
	if (s->s_fault_logged != 0 &&
	    now - s->s_fault_logged < STORE_FAULT_LOG_MS) {
		s->s_fault_quiet++;
		return (rc);
	}
	snprintf(more, sizeof(more), " (%llu more in %llu ms)",
	    (unsigned long long)s->s_fault_quiet,
	    (unsigned long long)(now - s->s_fault_logged));
	if (rc == MDB_MAP_FULL)
		log_warnx("store_write: %s: map full at %zu MiB (map-max)%s",
		    s->s_path, s->s_mapsize >> 20,
		    s->s_fault_quiet > 0 ? more : "");
	else if (rc == STORE_ENOIDS)
		log_warnx("store_write: %s: ids used up: it takes no more "
		    "(stop quired, then quirectl compact --shrink)%s", s->s_path,
		    s->s_fault_quiet > 0 ? more : "");
	else
		log_warnx("store_write: %s: %s%s", s->s_path, strerror(rc),
		    s->s_fault_quiet > 0 ? more : "");
	s->s_fault_logged = now;
	s->s_fault_quiet = 0;
	return (rc);
}

/*
 * A worker's handle: in "full", commits sync their meta page after the
 * write lock is released (store_commit).  Other modes are left as they
 * are.
 */
int
store_overlap(struct store *s)
{
	int	 rc;

	if (s->s_env == NULL || s->s_sync != STORE_SYNC_FULL || s->s_overlap)
		return (0);
	if ((rc = mdb_env_set_flags(s->s_env, MDB_NOMETASYNC, 1)) != 0) {
		log_warnx("%s: %s: %s", __func__, s->s_path, mdb_strerror(rc));
		return (-1);
	}
	s->s_overlap = 1;
	return (0);
}

/*
 * Commit txn; for a worker's handle, then sync the meta page it wrote,
 * after the write lock is released (LMDB's me_last_txnid says whether it
 * wrote one; when that cannot be read, it syncs).  A sync that fails
 * leaves the commit in the map but maybe not on disk, as a failed meta
 * page write does: MDB_PANIC.
 */
static int
store_commit(struct store *s, MDB_txn *txn)
{
	MDB_envinfo	 info;
	size_t		 id = mdb_txn_id(txn);
	int		 rc;

	if ((rc = mdb_txn_commit(txn)) != 0 || !s->s_overlap)
		return (rc);
	if (mdb_env_info(s->s_env, &info) == 0 && info.me_last_txnid < id)
		return (0);
	if ((rc = mdb_env_sync(s->s_env, 1)) != 0) {
		log_warnx("%s: %s: sync: %s", __func__, s->s_path,
		    mdb_strerror(rc));
		return (MDB_PANIC);
	}
	return (0);
}

/*
 * Run fn in a write transaction and commit it.  fn returns 0 to commit,
 * an LMDB error code (MDB_MAP_FULL among them) or any other non-zero
 * value to abort; that value is returned.  After MDB_MAP_FULL, in fn or
 * in the commit, the map grows and fn runs again in a new transaction:
 * so fn starts over from arg as the caller left it, and what it records
 * there for the caller counts only once store_write returns 0.
 */
int
store_write(struct store *s, store_fn fn, void *arg)
{
	MDB_txn	*txn;
	int	 rc, dead;

	/*
	 * A reader killed inside its transaction keeps its slot, and the
	 * pages of its snapshot can never be reused: the file would grow.
	 * Every writer clears such slots, at most once a second.
	 */
	if ((rc = store_ready(s)) != 0)
		return (store_failed(s, rc));
	if (util_mono_ms() - s->s_checked >= STORE_STALE_MS)
		(void)store_reader_check(s, &dead);
	store_reserve(s);
	for (;;) {
		if ((rc = store_begin(s, 0, &txn)) != 0) {
			if (store_fault(rc) == STORE_FAULT_NONE)
				log_warnx("%s: begin: %s", __func__,
				    mdb_strerror(rc));
			return (store_failed(s, rc));
		}
		rc = fn(txn, arg);
		if (rc == 0)
			rc = store_commit(s, txn);
		else
			mdb_txn_abort(txn);
		if (rc != MDB_MAP_FULL)
			break;
		if (store_grow(s) != 0)
			return (store_failed(s, MDB_MAP_FULL));
	}
	if (rc == 0)
		s->s_fault = STORE_FAULT_NONE;
	else
		rc = store_failed(s, rc);
	return (rc);
}

/* Run fn in a read-only transaction. */
int
store_read(struct store *s, store_fn fn, void *arg)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = store_ready(s)) != 0)
		return (rc);
	if ((rc = store_begin(s, MDB_RDONLY, &txn)) != 0) {
		if (rc == MDB_PANIC)
			s->s_panic = 1;
		log_warnx("%s: begin: %s", __func__, mdb_strerror(rc));
		return (rc);
	}
	rc = fn(txn, arg);
	mdb_txn_abort(txn);
	return (rc);
}

/* Flush what "group" or "none" left unsynced. */
int
store_sync(struct store *s)
{
	int	 rc;

	if (s->s_env == NULL)
		return (-1);
	if ((rc = mdb_env_sync(s->s_env, 1)) != 0) {
		log_warnx("%s: %s: %s", __func__, s->s_path, mdb_strerror(rc));
		return (-1);
	}
	return (0);
}

/* Clear reader slots left by dead processes. */
int
store_reader_check(struct store *s, int *dead)
{
	int	 rc;

	s->s_checked = util_mono_ms();
	*dead = 0;
	if (s->s_env == NULL)
		return (-1);
	if ((rc = mdb_reader_check(s->s_env, dead)) != 0) {
		log_warnx("%s: %s", __func__, mdb_strerror(rc));
		return (-1);
	}
	if (*dead > 0) {
		s->s_stale += *dead;
		log_info("%s: %s: cleared %d stale reader%s", __func__,
		    s->s_path, *dead, *dead == 1 ? "" : "s");
	}
	return (0);
}

struct store_rl {
	pid_t		*rl_pids;
	int		 rl_max;
	int		 rl_n;
};

/* One line of mdb_reader_list: "pid thread txnid", after a header. */
static int
store_reader_line(const char *msg, void *arg)
{
	struct store_rl	*rl = arg;
	int		 pid;

	if (sscanf(msg, "%d", &pid) != 1)
		return (0);
	if (rl->rl_n < rl->rl_max)
		rl->rl_pids[rl->rl_n] = pid;
	rl->rl_n++;
	return (0);
}

/*
 * Reader slots in use, live or stale, and the first max of their pids:
 * who holds a snapshot of this store open.
 */
int
store_readers(struct store *s, pid_t *pids, int max)
{
	struct store_rl	 rl;

	rl.rl_pids = pids;
	rl.rl_max = pids == NULL ? 0 : max;
	rl.rl_n = 0;
	if (s->s_env == NULL)
		return (-1);
	if (mdb_reader_list(s->s_env, store_reader_line, &rl) != 0)
		return (-1);
	return (rl.rl_n);
}
