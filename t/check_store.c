/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for store.c: opening creates the directory and the named
 * databases; store_write commits when its function returns 0 and leaves
 * nothing behind otherwise; the map grows on MDB_MAP_FULL, and a process
 * whose map another process outgrew adopts the new size
 * (MDB_MAP_RESIZED); sync modes map to the LMDB flags they promise; a
 * map at map-max is a storage fault that a larger limit clears, and
 * errno codes are classified as the storage faults they are.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

#define MIB		(1024 * 1024)
#define VALSIZE		(64 * 1024)


static const char *names3[] = { "one", "two", "three" };



/* A fresh directory for one test, inside this run's directory. */
static void
tmp_dir(char *buf, size_t len)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/t.XXXXXX", tlib_top), (int)len);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* dir/name into buf, which must hold it. */
static void
path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	ck_assert(n >= 0 && (size_t)n < len);
}

static void
tmp_done(const char *dir)
{
	ck_assert_int_eq(tlib_rm_rf(dir), 0);
	ck_assert_int_eq(access(dir, F_OK), -1);
}

static MDB_dbi
dbi_of(const struct store *s, const char *name)
{
	int	 i;

	for (i = 0; i < s->s_ndbs; i++)
		if (strcmp(s->s_names[i], name) == 0)
			return (s->s_dbi[i]);
	ck_abort_msg("no database %s", name);
	return (0);
}

/* One key and value in one database. */
struct kv {
	struct store	*kv_s;
	const char	*kv_db;
	const char	*kv_key;
	const char	*kv_val;
	unsigned int	 kv_flags;
	int		 kv_ret;	/* returned after the put */
	char		 kv_out[64];	/* what a get found */
};

static int
kv_put_fn(MDB_txn *txn, void *arg)
{
	struct kv	*kv = arg;
	MDB_val		 k, v;
	int		 rc;

	k.mv_size = strlen(kv->kv_key);
	k.mv_data = (void *)kv->kv_key;
	v.mv_size = strlen(kv->kv_val);
	v.mv_data = (void *)kv->kv_val;
	if ((rc = mdb_put(txn, dbi_of(kv->kv_s, kv->kv_db), &k, &v,
	    kv->kv_flags)) != 0)
		return (rc);
	return (kv->kv_ret);
}

static int
kv_get_fn(MDB_txn *txn, void *arg)
{
	struct kv	*kv = arg;
	MDB_val		 k, v;
	int		 rc;

	k.mv_size = strlen(kv->kv_key);
	k.mv_data = (void *)kv->kv_key;
	kv->kv_out[0] = '\0';
	if ((rc = mdb_get(txn, dbi_of(kv->kv_s, kv->kv_db), &k, &v)) != 0)
		return (rc);
	if (v.mv_size >= sizeof(kv->kv_out))
		return (EOVERFLOW);
	memcpy(kv->kv_out, v.mv_data, v.mv_size);
	kv->kv_out[v.mv_size] = '\0';
	return (0);
}

static int
kv_put(struct store *s, const char *db, const char *key, const char *val,
    unsigned int flags, int ret)
{
	struct kv	 kv;

	memset(&kv, 0, sizeof(kv));
	kv.kv_s = s;
	kv.kv_db = db;
	kv.kv_key = key;
	kv.kv_val = val;
	kv.kv_flags = flags;
	kv.kv_ret = ret;
	return (store_write(s, kv_put_fn, &kv));
}

/* The value of key, or "" with the LMDB code in *rc. */
static const char *
kv_get(struct store *s, const char *db, const char *key, int *rc)
{
	static struct kv kv;

	memset(&kv, 0, sizeof(kv));
	kv.kv_s = s;
	kv.kv_db = db;
	kv.kv_key = key;
	*rc = store_read(s, kv_get_fn, &kv);
	return (kv.kv_out);
}

/* key holds want in db. */
static void
kv_is(struct store *s, const char *db, const char *key, const char *want)
{
	const char	*v;
	int		 rc;

	v = kv_get(s, db, key, &rc);
	ck_assert_msg(rc == 0, "%s: %s: %s", db, key, mdb_strerror(rc));
	ck_assert_str_eq(v, want);
}

/* Values of VALSIZE bytes, keys first to first + n - 1, in one txn. */
struct bulk {
	struct store	*b_s;
	int		 b_first;
	int		 b_n;
	int		 b_runs;	/* how often store_write ran us */
	int		 b_bad;		/* values read back wrong */
};

static void
bulk_key(char *buf, size_t len, int i)
{
	snprintf(buf, len, "v%08d", i);
}

static uint8_t
bulk_byte(int i, size_t off)
{
	return ((uint8_t)(i * 131 + off * 7 + off / 4096));
}

static int
bulk_put_fn(MDB_txn *txn, void *arg)
{
	struct bulk	*b = arg;
	char		 kb[16];
	MDB_val		 k, v;
	size_t		 off;
	int		 i, rc;

	b->b_runs++;
	for (i = b->b_first; i < b->b_first + b->b_n; i++) {
		bulk_key(kb, sizeof(kb), i);
		k.mv_size = strlen(kb);
		k.mv_data = kb;
		v.mv_size = VALSIZE;
		if ((rc = mdb_put(txn, dbi_of(b->b_s, "one"), &k, &v,
		    MDB_RESERVE)) != 0)
			return (rc);
		for (off = 0; off < VALSIZE; off++)
			((uint8_t *)v.mv_data)[off] = bulk_byte(i, off);
	}
	return (0);
}

static int
bulk_check_fn(MDB_txn *txn, void *arg)
{
	struct bulk	*b = arg;
	char		 kb[16];
	MDB_val		 k, v;
	size_t		 off;
	int		 i, rc;

	b->b_bad = 0;
	for (i = b->b_first; i < b->b_first + b->b_n; i++) {
		bulk_key(kb, sizeof(kb), i);
		k.mv_size = strlen(kb);
		k.mv_data = kb;
		if ((rc = mdb_get(txn, dbi_of(b->b_s, "one"), &k, &v)) != 0)
			return (rc);
		if (v.mv_size != VALSIZE) {
			b->b_bad++;
			continue;
		}
		for (off = 0; off < VALSIZE; off++)
			if (((uint8_t *)v.mv_data)[off] != bulk_byte(i, off))
				break;
		if (off != VALSIZE)
			b->b_bad++;
	}
	return (0);
}

static int
bulk_write(struct store *s, int first, int n, int *runs)
{
	struct bulk	 b;
	int		 rc;

	memset(&b, 0, sizeof(b));
	b.b_s = s;
	b.b_first = first;
	b.b_n = n;
	rc = store_write(s, bulk_put_fn, &b);
	if (runs != NULL)
		*runs = b.b_runs;
	return (rc);
}

/* How many of the values first to first + n - 1 are wrong; -1: missing. */
static int
bulk_verify(struct store *s, int first, int n)
{
	struct bulk	 b;

	memset(&b, 0, sizeof(b));
	b.b_s = s;
	b.b_first = first;
	b.b_n = n;
	if (store_read(s, bulk_check_fn, &b) != 0)
		return (-1);
	return (b.b_bad);
}

static int
dbi_exists_fn(MDB_txn *txn, void *arg)
{
	MDB_dbi	 dbi;

	return (mdb_dbi_open(txn, arg, 0, &dbi));
}

START_TEST(test_open_creates)
{
	struct store	 s;
	struct stat	 sb;
	char		 dir[PATH_MAX], env[PATH_MAX], file[PATH_MAX];
	int		 i;

	tmp_dir(dir, sizeof(dir));
	path_join(env, sizeof(env), dir, "a/b/env");
	ck_assert_int_eq(stat(env, &sb), -1);

	ck_assert_int_eq(store_open(&s, env, names3, 3, STORE_SYNC_FULL, 0),
	    0);
	ck_assert_int_eq(stat(env, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	path_join(file, sizeof(file), env, "data.mdb");
	ck_assert_int_eq(stat(file, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(s.s_ndbs, 3);
	ck_assert_uint_eq(s.s_mapsize, STORE_MAPSIZE_DEFAULT);
	ck_assert_uint_eq(s.s_grows, 0);
	ck_assert_str_eq(s.s_path, env);

	/* Each name is its own database. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(kv_put(&s, names3[i], "k", names3[i], 0, 0),
		    0);
	for (i = 0; i < 3; i++) {
		kv_is(&s, names3[i], "k", names3[i]);
	}
	store_close(&s);
	ck_assert_ptr_null(s.s_env);
	store_close(&s);

	/* Reopened without names, the databases are on disk. */
	ck_assert_int_eq(store_open(&s, env, NULL, 0, STORE_SYNC_FULL, 0), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(store_read(&s, dbi_exists_fn,
		    (void *)names3[i]), 0);
	ck_assert_int_eq(store_read(&s, dbi_exists_fn, "four"), MDB_NOTFOUND);
	store_close(&s);

	/* And their contents survived. */
	ck_assert_int_eq(store_open(&s, env, names3, 3, STORE_SYNC_FULL, 0),
	    0);
	kv_is(&s, "two", "k", "two");
	store_close(&s);
	tmp_done(dir);
}
END_TEST

START_TEST(test_open_errors)
{
	const char	*many[STORE_MAXDBS + 1];
	struct store	 s;
	char		 dir[PATH_MAX], path[PATH_MAX], *longp;
	int		 i, fd;

	tmp_dir(dir, sizeof(dir));
	for (i = 0; i <= STORE_MAXDBS; i++)
		many[i] = "x";
	path_join(path, sizeof(path), dir, "env");
	ck_assert_int_eq(store_open(&s, path, many, STORE_MAXDBS + 1,
	    STORE_SYNC_FULL, 0), -1);
	ck_assert_ptr_null(s.s_env);

	/* A directory below a regular file cannot be made. */
	path_join(path, sizeof(path), dir, "file");
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	path_join(path, sizeof(path), dir, "file/env");
	ck_assert_int_eq(store_open(&s, path, names3, 3, STORE_SYNC_FULL, 0),
	    -1);
	ck_assert_ptr_null(s.s_env);

	longp = malloc(JOB_PATH_MAX + 16);
	ck_assert_ptr_nonnull(longp);
	memset(longp, 'a', JOB_PATH_MAX + 15);
	longp[0] = '/';
	longp[JOB_PATH_MAX + 15] = '\0';
	ck_assert_int_eq(store_open(&s, longp, names3, 3, STORE_SYNC_FULL, 0),
	    -1);
	free(longp);
	tmp_done(dir);
}
END_TEST

START_TEST(test_write_commit_abort)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	const char	*v;
	int		 rc;

	tmp_dir(dir, sizeof(dir));
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_FULL, 0),
	    0);

	ck_assert_int_eq(kv_put(&s, "one", "a", "1", 0, 0), 0);
	kv_is(&s, "one", "a", "1");

	/* A function that fails after writing leaves nothing. */
	ck_assert_int_eq(kv_put(&s, "one", "b", "2", 0, 42), 42);
	v = kv_get(&s, "one", "b", &rc);
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(kv_put(&s, "one", "a", "changed", 0, -7), -7);
	kv_is(&s, "one", "a", "1");

	/* An LMDB error from the function is returned as it is. */
	ck_assert_int_eq(kv_put(&s, "one", "a", "again", MDB_NOOVERWRITE, 0),
	    MDB_KEYEXIST);
	v = kv_get(&s, "one", "a", &rc);
	ck_assert_str_eq(v, "1");

	/* Committed data is durable across close. */
	ck_assert_int_eq(kv_put(&s, "two", "c", "3", 0, 0), 0);
	store_close(&s);
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_FULL, 0),
	    0);
	kv_is(&s, "two", "c", "3");
	v = kv_get(&s, "one", "b", &rc);
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	store_close(&s);
	tmp_done(dir);
}
END_TEST

/*
 * The descriptor LMDB writes the meta page through: opened apart on
 * DATADIR/data.mdb, write-only, with O_DSYNC.
 */
static int
meta_fd(struct store *s, const char *dir)
{
	char		 path[PATH_MAX], link[PATH_MAX], want[PATH_MAX];
	ssize_t		 n;
	int		 fd, data;

	ck_assert_int_eq(mdb_env_get_fd(s->s_env, &data), 0);
	path_join(want, sizeof(want), dir, "data.mdb");
	ck_assert_ptr_nonnull(realpath(want, path));
	strlcpy(want, path, sizeof(want));
	for (fd = 3; fd < 1024; fd++) {
		if (fd == data)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = '\0';
		/* Opened write-only: LMDB's meta descriptor. */
		if (strcmp(link, want) == 0 &&
		    (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
			return (fd);
	}
	return (-1);
}

/* A meta page that cannot be written leaves LMDB's handle refusing every
 * transaction (MDB_PANIC): that is an I/O fault, and the write after it
 * opens the environment again and commits. */
START_TEST(test_panic_reopen)
{
	struct store	 s;
	char		 dir[PATH_MAX], path[PATH_MAX];
	int		 rc, mfd, ro;

	tmp_dir(dir, sizeof(dir));
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_FULL, 0),
	    0);
	ck_assert_int_eq(kv_put(&s, "one", "a", "1", 0, 0), 0);
	/* The meta page's descriptor made read-only: its pwrite fails. */
	ck_assert_int_ge(mfd = meta_fd(&s, dir), 0);
	path_join(path, sizeof(path), dir, "data.mdb");
	ck_assert_int_ge(ro = open(path, O_RDONLY), 0);
	ck_assert_int_eq(dup2(ro, mfd), mfd);
	close(ro);
	ck_assert_int_ne(kv_put(&s, "one", "b", "2", 0, 0), 0);
	/* LMDB refuses from then on: an I/O fault, the handle condemned. */
	rc = kv_put(&s, "one", "c", "3", 0, 0);
	ck_assert_int_eq(store_fault(rc), STORE_FAULT_IO);
	ck_assert_int_eq(s.s_panic, 1);
	/* Opened again: the next write commits; the one whose meta page
	 * failed is not there, the one before it is. */
	ck_assert_int_eq(kv_put(&s, "one", "d", "4", 0, 0), 0);
	ck_assert_int_eq(s.s_panic, 0);
	kv_is(&s, "one", "a", "1");
	(void)kv_get(&s, "one", "b", &rc);
	ck_assert_int_eq(rc, MDB_NOTFOUND);
	kv_is(&s, "one", "d", "4");
	store_close(&s);
	tmp_done(dir);
}
END_TEST

START_TEST(test_map_growth)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	int		 i, runs, big = 8 * MIB / VALSIZE, small = 16;

	tmp_dir(dir, sizeof(dir));
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_NONE,
	    MIB), 0);
	ck_assert_uint_eq(s.s_mapsize, MIB);

	/* One transaction of 8 MiB in a 1 MiB map: it is run again. */
	ck_assert_int_eq(bulk_write(&s, 0, big, &runs), 0);
	ck_assert_int_gt(runs, 1);
	ck_assert_uint_gt(s.s_grows, 0);
	ck_assert_uint_ge(s.s_mapsize, 8 * MIB);
	/* The map doubles at each growth. */
	ck_assert_uint_eq(s.s_mapsize, (size_t)MIB << s.s_grows);

	/* Then 8 MiB more in several transactions of 1 MiB. */
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(bulk_write(&s, big + i * small, small, NULL),
		    0);
	ck_assert_uint_ge(s.s_mapsize, 16 * MIB);
	ck_assert_uint_eq(s.s_mapsize, (size_t)MIB << s.s_grows);
	ck_assert_int_eq(bulk_verify(&s, 0, big + 8 * small), 0);
	store_close(&s);

	/* A new handle asking for 1 MiB still sees and extends it all. */
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_NONE,
	    MIB), 0);
	ck_assert_uint_ge(s.s_mapsize, 16 * MIB);
	ck_assert_int_eq(bulk_verify(&s, 0, big + 8 * small), 0);
	ck_assert_int_eq(bulk_write(&s, big + 8 * small, small, NULL), 0);
	ck_assert_int_eq(bulk_verify(&s, 0, big + 9 * small), 0);
	store_close(&s);
	tmp_done(dir);
}
END_TEST

/*
 * At map-max the write fails with MDB_MAP_FULL, nothing of it is kept,
 * the fault is recorded; a larger limit lets the same write through and
 * clears it.
 */
START_TEST(test_map_max)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	int		 big = 8 * MIB / VALSIZE;

	tmp_dir(dir, sizeof(dir));
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_NONE,
	    MIB), 0);
	store_limit(&s, 2 * MIB);
	ck_assert_int_eq(s.s_fault, STORE_FAULT_NONE);
	ck_assert_int_eq(bulk_write(&s, 0, big, NULL), MDB_MAP_FULL);
	ck_assert_int_eq(s.s_fault, STORE_FAULT_MAP);
	ck_assert_uint_le(s.s_mapsize, 2 * MIB);
	ck_assert_int_ne(bulk_verify(&s, 0, 1), 0);
	store_limit(&s, 64 * MIB);
	ck_assert_int_eq(bulk_write(&s, 0, big, NULL), 0);
	ck_assert_int_eq(s.s_fault, STORE_FAULT_NONE);
	ck_assert_int_eq(bulk_verify(&s, 0, big), 0);
	/* Out of range: no limit but LMDB's own. */
	store_limit(&s, 0);
	ck_assert_uint_eq(s.s_mapmax, STORE_MAPSIZE_MAX);
	store_close(&s);
	tmp_done(dir);
}
END_TEST

/* The values of a bulk, then no numbers left for the rest. */
static int
bulk_noids_fn(MDB_txn *txn, void *arg)
{
	int	 rc;

	if ((rc = bulk_put_fn(txn, arg)) != 0)
		return (rc);
	return (STORE_ENOIDS);
}

/*
 * A write out of numbers fails at once with its own fault, "ids-full":
 * the map is not grown for it, the write is not run again, nothing of it
 * is kept, and the next write that commits clears the fault.
 */
START_TEST(test_ids_full)
{
	struct store	 s;
	struct bulk	 b;
	char		 dir[PATH_MAX];

	tmp_dir(dir, sizeof(dir));
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_NONE,
	    MIB), 0);
	memset(&b, 0, sizeof(b));
	b.b_s = &s;
	b.b_n = 4;
	ck_assert_int_eq(store_write(&s, bulk_noids_fn, &b), STORE_ENOIDS);
	ck_assert_int_eq(b.b_runs, 1);
	ck_assert_uint_eq(s.s_grows, 0);
	ck_assert_int_eq(s.s_fault, STORE_FAULT_IDS);
	ck_assert_int_ne(bulk_verify(&s, 0, 1), 0);
	ck_assert_int_eq(bulk_write(&s, 0, 4, NULL), 0);
	ck_assert_int_eq(s.s_fault, STORE_FAULT_NONE);
	ck_assert_int_eq(bulk_verify(&s, 0, 4), 0);
	store_close(&s);
	tmp_done(dir);
}
END_TEST

START_TEST(test_fault_kinds)
{
	ck_assert_int_eq(store_fault(0), STORE_FAULT_NONE);
	ck_assert_int_eq(store_fault(ENOSPC), STORE_FAULT_FULL);
	ck_assert_int_eq(store_fault(EDQUOT), STORE_FAULT_FULL);
	ck_assert_int_eq(store_fault(MDB_MAP_FULL), STORE_FAULT_MAP);
	ck_assert_int_eq(store_fault(EIO), STORE_FAULT_IO);
	ck_assert_int_eq(store_fault(EROFS), STORE_FAULT_IO);
	ck_assert_int_eq(store_fault(MDB_CORRUPTED), STORE_FAULT_NONE);
	ck_assert_int_eq(store_fault(EINVAL), STORE_FAULT_NONE);
	ck_assert_int_eq(store_fault(STORE_ENOIDS), STORE_FAULT_IDS);
	ck_assert_str_eq(store_fault_name(STORE_FAULT_FULL), "full");
	ck_assert_str_eq(store_fault_name(STORE_FAULT_MAP), "map-full");
	ck_assert_str_eq(store_fault_name(STORE_FAULT_IO), "io-error");
	ck_assert_str_eq(store_fault_name(STORE_FAULT_NONE), "ok");
	ck_assert_str_eq(store_fault_name(STORE_FAULT_IDS), "ids-full");
	ck_assert_str_eq(store_fault_name(99), "unknown");
	/* The queue's codes for them. */
	ck_assert_int_eq(queue_fault(QUEUE_ENOSPC), STORE_FAULT_FULL);
	ck_assert_int_eq(queue_fault(QUEUE_EMAPFULL), STORE_FAULT_MAP);
	ck_assert_int_eq(queue_fault(QUEUE_EIO), STORE_FAULT_IO);
	ck_assert_int_eq(queue_fault(QUEUE_ESTALE), STORE_FAULT_NONE);
}
END_TEST

static void
xwrite(int fd, char c)
{
	ck_assert_int_eq(write(fd, &c, 1), 1);
}

/*
 * The child: wait for the parent's go, grow the map with 8 MiB of values
 * in its own environment, and report how it went in its exit status.
 */
static void __dead
resize_child(const char *dir, int rfd)
{
	struct store	 s;
	char		 c;

	if (read(rfd, &c, 1) != 1)
		_exit(2);
	if (store_open(&s, dir, names3, 3, STORE_SYNC_NONE, MIB) == -1)
		_exit(3);
	if (bulk_write(&s, 1000, 8 * MIB / VALSIZE, NULL) != 0)
		_exit(4);
	if (s.s_grows == 0)
		_exit(5);
	if (kv_put(&s, "two", "child", "was here", 0, 0) != 0)
		_exit(6);
	store_close(&s);
	_exit(0);
}

START_TEST(test_map_resized_by_other)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	pid_t		 pid;
	int		 p[2], status;

	tmp_dir(dir, sizeof(dir));
	/* Fork before any LMDB environment exists in this process. */
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[1]);
		resize_child(dir, p[0]);
	}
	close(p[0]);

	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_NONE, MIB),
	    0);
	ck_assert_int_eq(kv_put(&s, "two", "parent", "first", 0, 0), 0);
	ck_assert_uint_eq(s.s_mapsize, MIB);
	xwrite(p[1], 'g');
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);

	/*
	 * The data now reaches past our 1 MiB map: the next transaction
	 * adopts the size the child left, without growing on its own.
	 */
	ck_assert_int_eq(kv_put(&s, "two", "parent", "second", 0, 0), 0);
	ck_assert_uint_eq(s.s_grows, 0);
	ck_assert_uint_ge(s.s_mapsize, 8 * MIB);
	kv_is(&s, "two", "child", "was here");
	kv_is(&s, "two", "parent", "second");
	ck_assert_int_eq(bulk_verify(&s, 1000, 8 * MIB / VALSIZE), 0);
	/* And it keeps working when it must grow in turn. */
	ck_assert_int_eq(bulk_write(&s, 5000, 8 * MIB / VALSIZE, NULL), 0);
	ck_assert_int_eq(bulk_verify(&s, 5000, 8 * MIB / VALSIZE), 0);
	store_close(&s);
	tmp_done(dir);
}
END_TEST

START_TEST(test_map_resized_read)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	pid_t		 pid;
	int		 p[2], status;

	/* The same, when the first transaction after growth is a read. */
	tmp_dir(dir, sizeof(dir));
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[1]);
		resize_child(dir, p[0]);
	}
	close(p[0]);
	ck_assert_int_eq(store_open(&s, dir, names3, 3, STORE_SYNC_NONE, MIB),
	    0);
	xwrite(p[1], 'g');
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(bulk_verify(&s, 1000, 8 * MIB / VALSIZE), 0);
	ck_assert_uint_ge(s.s_mapsize, 8 * MIB);
	store_close(&s);
	tmp_done(dir);
}
END_TEST

START_TEST(test_sync_names)
{
	static const char *names[] = { "full", "group", "none" };
	int	 i;

	ck_assert_int_eq(STORE_SYNC_FULL, 0);
	for (i = 0; i <= STORE_SYNC_NONE; i++) {
		ck_assert_str_eq(store_sync_name(i), names[i]);
		ck_assert_int_eq(store_sync_parse(names[i]), i);
	}
	ck_assert_str_eq(store_sync_name(-1), "unknown");
	ck_assert_str_eq(store_sync_name(STORE_SYNC_NONE + 1), "unknown");
	ck_assert_int_eq(store_sync_parse(""), -1);
	ck_assert_int_eq(store_sync_parse("FULL"), -1);
	ck_assert_int_eq(store_sync_parse("nosync"), -1);
	ck_assert_int_eq(store_sync_parse("unknown"), -1);
}
END_TEST

START_TEST(test_sync_modes)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	unsigned int	 flags;
	int		 mode, dead;

	for (mode = STORE_SYNC_FULL; mode <= STORE_SYNC_NONE; mode++) {
		tmp_dir(dir, sizeof(dir));
		ck_assert_int_eq(store_open(&s, dir, names3, 3, mode, 0), 0);
		ck_assert_int_eq(s.s_sync, mode);
		ck_assert_int_eq(mdb_env_get_flags(s.s_env, &flags), 0);
		ck_assert(flags & MDB_NOTLS);
		ck_assert(!(flags & MDB_WRITEMAP));
		ck_assert(!(flags & MDB_NOMETASYNC) ==
		    (mode != STORE_SYNC_GROUP));
		ck_assert(!(flags & MDB_NOSYNC) == (mode != STORE_SYNC_NONE));
		ck_assert_int_eq(kv_put(&s, "three", "m",
		    store_sync_name(mode), 0, 0), 0);
		ck_assert_int_eq(store_sync(&s), 0);
		ck_assert_int_eq(store_reader_check(&s, &dead), 0);
		ck_assert_int_eq(dead, 0);
		store_close(&s);

		ck_assert_int_eq(store_open(&s, dir, names3, 3, mode, 0), 0);
		kv_is(&s, "three", "m", store_sync_name(mode));
		store_close(&s);
		tmp_done(dir);
	}
}
END_TEST

/*
 * A worker's handle (store_overlap): in full, MDB_NOMETASYNC, as the
 * meta page is synced by store_write after the lock; kept when the
 * handle is opened again after a fatal error; group and none as they
 * were.  What it commits is there when the environment is opened again.
 */
START_TEST(test_overlap)
{
	struct store	 s;
	char		 dir[PATH_MAX];
	unsigned int	 flags;
	int		 mode;

	for (mode = STORE_SYNC_FULL; mode <= STORE_SYNC_NONE; mode++) {
		tmp_dir(dir, sizeof(dir));
		ck_assert_int_eq(store_open(&s, dir, names3, 3, mode, 0), 0);
		ck_assert_int_eq(store_overlap(&s), 0);
		ck_assert_int_eq(s.s_overlap, mode == STORE_SYNC_FULL);
		ck_assert_int_eq(mdb_env_get_flags(s.s_env, &flags), 0);
		ck_assert(!(flags & MDB_NOMETASYNC) ==
		    (mode == STORE_SYNC_NONE));
		ck_assert(!(flags & MDB_NOSYNC) == (mode != STORE_SYNC_NONE));
		ck_assert_int_eq(kv_put(&s, "one", "k", "1", 0, 0), 0);
		/* Opened again, as after MDB_PANIC: still a worker's. */
		s.s_panic = 1;
		ck_assert_int_eq(kv_put(&s, "one", "l", "2", 0, 0), 0);
		ck_assert_int_eq(s.s_panic, 0);
		ck_assert_int_eq(s.s_overlap, mode == STORE_SYNC_FULL);
		ck_assert_int_eq(mdb_env_get_flags(s.s_env, &flags), 0);
		ck_assert(!(flags & MDB_NOMETASYNC) ==
		    (mode == STORE_SYNC_NONE));
		store_close(&s);

		ck_assert_int_eq(store_open(&s, dir, names3, 3, mode, 0), 0);
		kv_is(&s, "one", "k", "1");
		kv_is(&s, "one", "l", "2");
		store_close(&s);
		tmp_done(dir);
	}
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("store");

	tc = tcase_create("open");
	tcase_add_test(tc, test_open_creates);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_write_commit_abort);
	tcase_add_test(tc, test_panic_reopen);
	suite_add_tcase(s, tc);

	tc = tcase_create("growth");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_map_growth);
	tcase_add_test(tc, test_map_max);
	tcase_add_test(tc, test_fault_kinds);
	tcase_add_test(tc, test_ids_full);
	tcase_add_test(tc, test_map_resized_by_other);
	tcase_add_test(tc, test_map_resized_read);
	suite_add_tcase(s, tc);

	tc = tcase_create("sync");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sync_names);
	tcase_add_test(tc, test_sync_modes);
	tcase_add_test(tc, test_overlap);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_store", store_suite()));
}
