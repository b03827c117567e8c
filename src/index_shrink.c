/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Shrinking the index (quirectl compact --shrink).  LMDB never gives a
 * file's free pages back: a fold leaves the segments' pages free, to be
 * used again by later writes.  A shrink copies the index without them
 * into DATADIR/index.new, with the owner and modes of the index, syncs
 * it, and exchanges the two directories in one rename, so that a reader
 * opens either the whole old index or the whole new one; the old one is
 * then removed.  A reader that had the old one open reads it to its end.
 * Only the owner of the data directory's lock may shrink: nothing else
 * writes the index meanwhile.  What a shrink cut short leaves in
 * index.new is removed by the next one, and by quired at start.
 *
 * The copy is LMDB's own (mdb_env_copyfd2 with MDB_CP_COMPACT), page by
 * page, unless the chunk ids run short.  They are never given out twice
 * while an index lives (index.c), deleted and replaced chunks' included,
 * so an index that takes many changes uses them up.  When fewer than
 * half are left (index_ids_short), the shrink copies record by record
 * instead, into an environment of its own, and numbers the live chunks
 * again, 1, 2, ... in the order they had: a chunk's new cid is its rank
 * among the live ones (the chunks database's keys), so every term's
 * postings and blocks keep their order and bounds, and every id the
 * live chunks do not hold is free again.  Each database goes over in key
 * order, appended:
 *
 *	meta	as it was; the next cid and the folded mark become the
 *		live chunks + 1, and there are no tombstones
 *	chunks	new cid -> the record as it was
 *	docs	the first cid made new (ixrec_doc_renum)
 *	blocks	the key's cid, the header and the postings' cid deltas
 *		made new (ixblk_renum_block)
 *	terms	the inline postings likewise (ixblk_renum_term)
 *	norms	the live chunks' lengths at their new cids
 *	extids	as it was (segs is empty)
 *
 * IXS_SLICE records a transaction, unsynced until the end: the copy is
 * not the index until the rename.  It needs an index with nothing left
 * to fold or sweep (quirectl compact does both first), whose block store
 * and documents are of the current format.  When it cannot be, or the
 * copy fails, the shrink copies pages as ever and says why.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roaring/roaring.h>

#include "quire.h"

#define IX_NEW		"index.new"
#define IXS_SLICE	20000		/* records a transaction */
#define IXS_NORMS_SLICE	32		/* norms values a transaction */

/* Remove DATADIR/index.new, a shrink's copy or what is left of one. */
int
index_shrink_clean(int dfd)
{
	int	 nfd, rv = 0;

	if ((nfd = openat(dfd, IX_NEW, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (errno == ENOENT ? 0 : -1);
	if ((unlinkat(nfd, "data.mdb", 0) == -1 && errno != ENOENT) ||
	    (unlinkat(nfd, "lock.mdb", 0) == -1 && errno != ENOENT))
		rv = -1;
	close(nfd);
	if (rv == 0)
		rv = unlinkat(dfd, IX_NEW, AT_REMOVEDIR);
	return (rv);
}

/* An empty lock file in the copy, with the owner and mode of the old
 * one (or of its data file, fst, when there is none). */
static int
index_shrink_lockfile(int dfd, int nfd, const struct stat *fst)
{
	struct stat	 st;
	int		 fd;

	if (fstatat(dfd, "index/lock.mdb", &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			return (-1);
		st = *fst;
	}
	if ((fd = util_openat_file(nfd, "lock.mdb", O_WRONLY | O_CREAT |
	    O_EXCL, 0600)) == -1)
		return (-1);
	if (fchown(fd, st.st_uid, st.st_gid) == -1 ||
	    fchmod(fd, st.st_mode & 07777) == -1) {
		close(fd);
		return (-1);
	}
	return (close(fd));
}

/* LMDB's compact copy of ix, page by page, into the file fd. */
static int
index_shrink_pages(struct index *ix, int fd, const char *path,
    struct ixshrink *sh)
{
	int	 rc;

	(void)path;
	(void)sh;
	if ((rc = mdb_env_copyfd2(ix->ix_store.s_env, fd, MDB_CP_COMPACT))
	    != 0) {
		errno = rc;
		return (-1);
	}
	return (0);
}

typedef int (*index_shrink_fn)(struct index *, int, const char *,
    struct ixshrink *);

/*
 * The copy of ix that copy makes, in a new directory of dfd with the
 * owners and modes of the index's, synced; its size into sh.
 */
static int
index_shrink_copy(struct index *ix, int dfd, const struct stat *dst,
    const struct stat *fst, index_shrink_fn copy, struct ixshrink *sh)
{
	struct stat	 st;
	char		 path[JOB_PATH_MAX];
	int		 nfd, fd = -1, serrno;

	if (mkdirat(dfd, IX_NEW, 0700) == -1)
		return (-1);
	if ((nfd = openat(dfd, IX_NEW, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return (-1);
	if (fchown(nfd, dst->st_uid, dst->st_gid) == -1 ||
	    fchmod(nfd, dst->st_mode & 07777) == -1 ||
	    (fd = util_openat_file(nfd, "data.mdb", O_WRONLY | O_CREAT |
	    O_EXCL, 0600)) == -1 ||
	    fchown(fd, fst->st_uid, fst->st_gid) == -1 ||
	    fchmod(fd, fst->st_mode & 07777) == -1)
		goto fail;
	/* The lock file too, as it was: whoever opens the index first
	 * would make it, as their own. */
	if (index_shrink_lockfile(dfd, nfd, fst) == -1)
		goto fail;
	if (snprintf(path, sizeof(path), "%s.new", ix->ix_store.s_path) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (copy(ix, fd, path, sh) == -1)
		goto fail;
	if (fsync(fd) == -1 || fstat(fd, &st) == -1 || fsync(nfd) == -1)
		goto fail;
	sh->sh_after = st.st_size;
	close(fd);
	close(nfd);
	return (0);
fail:
	serrno = errno;
	if (fd != -1)
		close(fd);
	close(nfd);
	errno = serrno;
	return (-1);
}

/* Numbering the chunks again. */

#define IXS_SKIP	(-30)	/* a record the copy leaves out */

struct ixs_copy {
	struct index		*c_from;
	struct index		 c_to;
	int			 c_open;	/* c_to is */
	MDB_txn			*c_rtxn;	/* c_from, as it is */
	roaring_bitmap_t	*c_live;	/* its chunks */
	uint64_t		 c_n;		/* how many */
	struct ixmeta		 c_meta;	/* the copy's */
	int			 c_db;		/* the database going over */
	struct buf		 c_pos;		/* its last key committed */
	uint32_t		 c_range;	/* norms: the next committed */
	int			 c_done;
	struct buf		 c_last;	/* the same, in the slice */
	uint32_t		 c_srange;
	int			 c_sdone;
	struct buf		 c_k, c_v;	/* a record made new */
	uint8_t			 c_kb[4];
};

/*
 * Whether the chunks of ix are to be numbered again, into *want; if its
 * ids run short and they cannot be, sh_why says why.  0, or an LMDB
 * error.
 */
static int
ixs_renum_wanted(MDB_txn *txn, struct index *ix, struct ixshrink *sh,
    int *want)
{
	roaring_bitmap_t	*tomb;
	struct ixmeta		 m;
	MDB_stat		 st;
	const char		*why = NULL;
	int			 rc;

	*want = 0;
	if ((rc = index_meta_get(txn, ix, &m)) != 0 ||
	    (rc = mdb_stat(txn, index_dbi(ix, IDB_SEGS), &st)) != 0)
		return (rc);
	sh->sh_left_before = sh->sh_left_after = index_ids_left(m.m_next_cid);
	if (!index_ids_short(sh->sh_left_before))
		return (0);
	if ((rc = index_tomb_get(txn, ix, &tomb)) != 0)
		return (rc);
	if (m.m_format < 2)
		why = "its block store is of format 1";
	else if (st.ms_entries > 0 || m.m_folding != 0)
		why = "it has segments to fold (quirectl compact first)";
	else if (m.m_dead > 0 || !roaring_bitmap_is_empty(tomb))
		why = "it has deleted chunks to sweep (quirectl compact first)";
	roaring_bitmap_free(tomb);
	if (why != NULL)
		strlcpy(sh->sh_why, why, sizeof(sh->sh_why));
	*want = why == NULL;
	return (0);
}

/* The live chunks: the chunks database's keys. */
static int
ixs_live(struct ixs_copy *c)
{
	MDB_cursor	*cur;
	MDB_val		 k, v;
	int		 rc, op;

	if ((c->c_live = roaring_bitmap_create()) == NULL)
		return (ENOMEM);
	if ((rc = mdb_cursor_open(c->c_rtxn, index_dbi(c->c_from,
	    IDB_CHUNKS), &cur)) != 0)
		return (rc);
	for (op = MDB_FIRST; (rc = mdb_cursor_get(cur, &k, &v, op)) == 0;
	    op = MDB_NEXT) {
		if (k.mv_size != 4) {
			rc = MDB_CORRUPTED;
			break;
		}
		roaring_bitmap_add(c->c_live, util_get_be32(k.mv_data));
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return (rc);
	/* Runs of live chunks (most of them) rank in a step. */
	roaring_bitmap_run_optimize(c->c_live);
	c->c_n = roaring_bitmap_get_cardinality(c->c_live);
	return (roaring_bitmap_contains(c->c_live, 0) ? MDB_CORRUPTED : 0);
}

/* A record of the database going over as the copy has it: nk, nv. */
static int
ixs_record(struct ixs_copy *c, const MDB_val *k, const MDB_val *v,
    MDB_val *nk, MDB_val *nv)
{
	int	 rc = 0;

	*nk = *k;
	*nv = *v;
	switch (c->c_db) {
	case IDB_META:
		if (k->mv_size == 4 && memcmp(k->mv_data, "tomb", 4) == 0)
			return (IXS_SKIP);
		if (k->mv_size == 5 && memcmp(k->mv_data, "stats", 5) == 0) {
			nv->mv_size = sizeof(c->c_meta);
			nv->mv_data = &c->c_meta;
		}
		return (0);
	case IDB_SEGS:
		return (MDB_CORRUPTED);		/* there are none */
	case IDB_CHUNKS:
		util_put_be32(c->c_kb, roaring_bitmap_rank(c->c_live,
		    util_get_be32(k->mv_data)));
		nk->mv_data = c->c_kb;
		return (0);
	case IDB_DOCS:
		if (ixrec_doc_renum(v, c->c_live, &c->c_v) == -1)
			return (MDB_INCOMPATIBLE);
		break;
	case IDB_BLOCKS:
		rc = ixblk_renum_block(c->c_rtxn, c->c_from, k, v, c->c_live,
		    &c->c_k, &c->c_v);
		nk->mv_size = c->c_k.b_len;
		nk->mv_data = c->c_k.b_data;
		break;
	case IDB_TERMS:
		rc = ixblk_renum_term(c->c_rtxn, c->c_from, v, c->c_live,
		    &c->c_v);
		break;
	default:
		return (0);
	}
	nv->mv_size = c->c_v.b_len;
	nv->mv_data = c->c_v.b_data;
	return (rc);
}

/* Norms values from c_range on: the live chunks' lengths, renumbered. */
static int
ixs_norms_txn(MDB_txn *txn, struct ixs_copy *c)
{
	roaring_uint32_iterator_t it;
	struct ixnorm	 nr;
	uint64_t	 lo, cid;
	uint32_t	 r, old, dl;
	uint16_t	 u;
	uint8_t		 kb[4];
	MDB_val		 k, v;
	int		 rc;

	ixnorm_init(&nr, c->c_rtxn, c->c_from);
	c->c_srange = c->c_range;
	c->c_sdone = 0;
	for (r = c->c_range; r < c->c_range + IXS_NORMS_SLICE; r++) {
		/* The first new cid of value r, and the chunk it was. */
		lo = r == 0 ? 1 : (uint64_t)r * IXN_RANGE;
		if (lo > c->c_n) {
			c->c_sdone = 1;
			break;
		}
		if (!roaring_bitmap_select(c->c_live, lo - 1, &old))
			return (MDB_CORRUPTED);
		roaring_init_iterator(c->c_live, &it);
		roaring_move_uint32_iterator_equalorlarger(&it, old);
		util_put_be32(kb, r);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		v.mv_size = IXN_RANGE * sizeof(uint16_t);
		if ((rc = mdb_put(txn, index_dbi(&c->c_to, IDB_NORMS), &k, &v,
		    MDB_APPEND | MDB_RESERVE)) != 0)
			return (rc);
		memset(v.mv_data, 0, v.mv_size);
		for (cid = lo; cid < ((uint64_t)r + 1) * IXN_RANGE &&
		    cid <= c->c_n; cid++) {
			if (!it.has_value)
				return (MDB_CORRUPTED);
			if ((rc = ixnorm_get(&nr, it.current_value, &dl)) != 0)
				return (rc == MDB_NOTFOUND ? MDB_CORRUPTED :
				    rc);
			u = dl;
			memcpy((uint8_t *)v.mv_data + cid % IXN_RANGE *
			    sizeof(u), &u, sizeof(u));
			roaring_advance_uint32_iterator(&it);
		}
		c->c_srange = r + 1;
	}
	return (0);
}

/*
 * One transaction of the copy: the next IXS_SLICE records of the
 * database going over, on from the last key committed.  It keeps where
 * it ended apart (c_last, c_sdone), for the commit to make it so:
 * store_write may run it again.
 */
static int
ixs_slice_txn(MDB_txn *txn, void *arg)
{
	struct ixs_copy	*c = arg;
	MDB_cursor	*cur;
	MDB_val		 k, v, nk, nv;
	size_t		 n;
	int		 rc, op = MDB_FIRST;

	if (c->c_db == IDB_NORMS)
		return (ixs_norms_txn(txn, c));
	if ((rc = mdb_cursor_open(c->c_rtxn, index_dbi(c->c_from, c->c_db),
	    &cur)) != 0)
		return (rc);
	if (c->c_pos.b_len > 0) {
		k.mv_size = c->c_pos.b_len;
		k.mv_data = c->c_pos.b_data;
		if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET)) != 0)
			goto out;
		op = MDB_NEXT;
	}
	buf_reset(&c->c_last);
	buf_add(&c->c_last, c->c_pos.b_data, c->c_pos.b_len);
	c->c_sdone = 0;
	for (n = 0; n < IXS_SLICE; n++, op = MDB_NEXT) {
		if ((rc = mdb_cursor_get(cur, &k, &v, op)) == MDB_NOTFOUND) {
			c->c_sdone = 1;
			rc = 0;
			break;
		}
		if (rc != 0)
			break;
		buf_reset(&c->c_last);
		buf_add(&c->c_last, k.mv_data, k.mv_size);
		if ((rc = ixs_record(c, &k, &v, &nk, &nv)) == IXS_SKIP)
			continue;
		if (rc != 0 || (rc = mdb_put(txn, index_dbi(&c->c_to, c->c_db),
		    &nk, &nv, MDB_APPEND)) != 0)
			break;
	}
out:
	mdb_cursor_close(cur);
	return (rc);
}

/* Copy database db, a slice a transaction. */
static int
ixs_copy_db(struct ixs_copy *c, int db)
{
	int	 rc;

	c->c_db = db;
	buf_reset(&c->c_pos);
	c->c_range = 0;
	c->c_done = 0;
	while (!c->c_done) {
		rc = store_write(&c->c_to.ix_store, ixs_slice_txn, c);
		if (rc != 0)
			return (rc);
		buf_reset(&c->c_pos);
		buf_add(&c->c_pos, c->c_last.b_data, c->c_last.b_len);
		c->c_range = c->c_srange;
		c->c_done = c->c_sdone;
	}
	return (0);
}

/* The copy of ix, its chunks numbered again, into the directory path. */
static int
ixs_renum_copy(struct index *ix, const char *path, struct ixshrink *sh,
    struct ixs_copy *c)
{
	int	 rc, db;

	if ((rc = mdb_txn_begin(ix->ix_store.s_env, NULL, MDB_RDONLY,
	    &c->c_rtxn)) != 0)
		return (rc);
	if ((rc = index_meta_get(c->c_rtxn, ix, &c->c_meta)) != 0 ||
	    (rc = ixs_live(c)) != 0)
		return (rc);
	c->c_meta.m_next_cid = c->c_meta.m_folded = c->c_n + 1;
	c->c_meta.m_folding = c->c_meta.m_dead = 0;
	c->c_meta.m_chunks = c->c_n;
	if (index_open_dir(&c->c_to, path, ix->ix_store.s_mapsize,
	    STORE_SYNC_NONE) == -1)
		return (EIO);
	c->c_open = 1;
	for (db = 0; db < IDB_N; db++)
		if ((rc = ixs_copy_db(c, db)) != 0)
			return (rc);
	if ((rc = mdb_env_sync(c->c_to.ix_store.s_env, 1)) != 0)
		return (rc);
	sh->sh_left_after = index_ids_left(c->c_meta.m_next_cid);
	return (0);
}

/* index_shrink's copy, numbering the chunks again. */
static int
index_shrink_renum(struct index *ix, int fd, const char *path,
    struct ixshrink *sh)
{
	struct ixs_copy	 c;
	int		 rc;

	(void)fd;
	memset(&c, 0, sizeof(c));
	c.c_from = ix;
	buf_init(&c.c_pos);
	buf_init(&c.c_last);
	buf_init(&c.c_k);
	buf_init(&c.c_v);
	rc = ixs_renum_copy(ix, path, sh, &c);
	if (c.c_open)
		index_close(&c.c_to);
	if (c.c_rtxn != NULL)
		mdb_txn_abort(c.c_rtxn);
	roaring_bitmap_free(c.c_live);
	buf_free(&c.c_pos);
	buf_free(&c.c_last);
	buf_free(&c.c_k);
	buf_free(&c.c_v);
	if (rc == 0)
		return (0);
	snprintf(sh->sh_why, sizeof(sh->sh_why), "the copy failed: %s",
	    rc == MDB_INCOMPATIBLE ? "documents of an older format" :
	    rc == EIO ? "cannot open it" : mdb_strerror(rc));
	errno = rc == EIO ? EIO : EINVAL;
	return (-1);
}

struct ixs_check {
	struct index	*k_ix;
	struct ixshrink	*k_sh;
	int		 k_renum;
};

static int
index_shrink_check(MDB_txn *txn, void *arg)
{
	struct ixs_check	*k = arg;

	return (ixs_renum_wanted(txn, k->k_ix, k->k_sh, &k->k_renum));
}

/*
 * Shrink the open index ix of the data directory dfd, whose lock the
 * caller holds, numbering its chunks again if their ids run short.  ix
 * is closed, whatever the outcome.  0 with what was done in sh, or -1
 * with errno: the index is then the one there was, or the new one when
 * only the directory's sync failed.
 */
int
index_shrink(struct index *ix, int dfd, struct ixshrink *sh)
{
	struct stat	 dst, fst;
	struct ixs_check k;
	int		 serrno;

	memset(sh, 0, sizeof(*sh));
	if (index_shrink_clean(dfd) == -1 ||
	    fstatat(dfd, "index", &dst, AT_SYMLINK_NOFOLLOW) == -1 ||
	    fstatat(dfd, "index/data.mdb", &fst, AT_SYMLINK_NOFOLLOW) == -1)
		goto fail;
	sh->sh_before = fst.st_size;
	k.k_ix = ix;
	k.k_sh = sh;
	k.k_renum = 0;
	if (store_read(&ix->ix_store, index_shrink_check, &k) != 0) {
		errno = EIO;
		goto fail;
	}
	if (k.k_renum && index_shrink_copy(ix, dfd, &dst, &fst,
	    index_shrink_renum, sh) == 0)
		sh->sh_renum = 1;
	else if (k.k_renum) {
		if (sh->sh_why[0] == '\0')
			snprintf(sh->sh_why, sizeof(sh->sh_why),
			    "the copy failed: %s", strerror(errno));
		if (index_shrink_clean(dfd) == -1)
			goto fail;
	}
	if (!sh->sh_renum && index_shrink_copy(ix, dfd, &dst, &fst,
	    index_shrink_pages, sh) == -1) {
		serrno = errno;
		index_close(ix);
		index_shrink_clean(dfd);
		errno = serrno;
		return (-1);
	}
	index_close(ix);
	if (renameat2(dfd, IX_NEW, dfd, "index", RENAME_EXCHANGE) == -1) {
		serrno = errno;
		index_shrink_clean(dfd);
		errno = serrno;
		return (-1);
	}
	/* Until the exchange is on disk, the old one stays. */
	if (fsync(dfd) == -1)
		return (-1);
	return (index_shrink_clean(dfd));
fail:
	serrno = errno;
	index_close(ix);
	errno = serrno;
	return (-1);
}
