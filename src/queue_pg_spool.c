/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The PostgreSQL backend's uploaded bodies, which every host reads
 * from the database, and the counts of the jobs that need each spool
 * file.
 *
 * Uploaded bodies.  An upload is spooled on the host that received it
 * (spool.c), which then enqueues its jobs; with several hosts, any of
 * them may claim those jobs, so the body goes into the database in the
 * enqueue's transaction: the first job that names a spool file creates
 * its quire_spool row, and the same transaction copies the file into
 * quire_spool_body, QPG_SPOOL_CHUNK bytes a statement (bounded memory,
 * whatever max-bulk-size allows), and sets the size.  "Accepted" thus
 * still means committed: the body and its jobs, or neither.  The local
 * file is then removed after the commit: the database's copy is the one
 * every host reads, the receiving host's workers too, and no host has a
 * copy to clean up.  A worker reads the bytes its job needs (an NDJSON
 * range, or the whole document after its size was checked) with
 * queue_pg_spool_size and queue_pg_spool_read, one piece a statement,
 * straight into the buffer it would have read the file into (ingest.c).
 * The body goes with its quire_spool row, when the last job that names
 * it is done, cancelled or purged.  A body enqueued before version 4
 * has no size and no pieces: a file in its host's spool, read there as
 * before.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "queue_pg.h"

#define QPG_SPOOL_CHUNK		(1024 * 1024)	/* bytes of a body's piece */

/* The local spool file name goes after the commit (qpg_run). */
static void
qpg_unlink_later(struct queue *q, const char *name)
{
	if (q->q_nunlink == q->q_unlinkcap) {
		q->q_unlinkcap = q->q_unlinkcap == 0 ? 16 : q->q_unlinkcap * 2;
		q->q_unlink = xreallocarray(q->q_unlink, q->q_unlinkcap,
		    sizeof(*q->q_unlink));
	}
	strlcpy(q->q_unlink[q->q_nunlink++], name, sizeof(q->q_unlink[0]));
}

/*
 * Read up to len bytes at off of fd, fewer only at end of file; the
 * bytes read, or -1 with errno.
 */
static ssize_t
qpg_pread_full(int fd, char *buf, size_t len, off_t off)
{
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		if ((n = pread(fd, buf + got, len - got, off + got)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			break;
		got += n;
	}
	return (got);
}

/*
 * The spool file name into quire_spool_body, piece by piece, and its
 * size into its quire_spool row, in the enqueue's transaction; the file
 * goes after the commit.  A file that cannot be read fails the enqueue,
 * which then takes nothing (QUEUE_EIO for the disk's error).
 */
static int
qpg_spool_store(struct qpg_tx *t, const char *name)
{
	struct qpg_args	 a;
	char		*buf;
	uint64_t	 pos = 0;
	ssize_t		 n;
	int		 fd, rc = 0, saved;

	if ((fd = spool_open(t->t_q->q_datadir, name)) == -1) {
		saved = errno;
		log_warnx("%s: %s/%s/%s: %s", __func__, t->t_q->q_datadir,
		    SPOOL_DIR, name, util_open_strerror(saved));
		return (saved == EIO ? QUEUE_EIO : QUEUE_ERROR);
	}
	buf = xmalloc(QPG_SPOOL_CHUNK);
	for (;;) {
		if ((n = qpg_pread_full(fd, buf, QPG_SPOOL_CHUNK, pos)) == -1) {
			saved = errno;
			log_warn("%s: %s/%s/%s", __func__, t->t_q->q_datadir,
			    SPOOL_DIR, name);
			rc = saved == EIO ? QUEUE_EIO : QUEUE_ERROR;
			break;
		}
		if (n == 0)
			break;
		qa_init(&a);
		qa_bin(t, &a, name);
		qa_u64(&a, pos);
		qa_raw(&a, buf, n);
		if ((rc = qpg_q(t, "INSERT INTO quire_spool_body "
		    "VALUES ($1, $2, $3)", &a, NULL)) != 0)
			break;
		pos += n;
		if (n < QPG_SPOOL_CHUNK)
			break;
	}
	free(buf);
	close(fd);
	if (rc != 0)
		return (rc);
	qa_init(&a);
	qa_bin(t, &a, name);
	qa_u64(&a, pos);
	if ((rc = qpg_q(t, "UPDATE quire_spool SET size = $2 WHERE name = $1",
	    &a, NULL)) != 0)
		return (rc);
	qpg_unlink_later(t->t_q, name);
	return (0);
}

/*
 * n jobs more that need a spool file.  The first ones make its row, and
 * the body goes into the database with them; a row that has one, or
 * that a queue before version 4 made (no size, more jobs than these),
 * keeps what it has.
 */
int
qpg_spool_add(struct qpg_tx *t, const char *name, size_t n)
{
	struct qpg_args	 a;
	PGresult	*r;
	uint64_t	 refs;
	int		 rc, sized;

	if (name == NULL || !spool_name_ok(name))
		return (0);
	qa_init(&a);
	qa_bin(t, &a, name);
	qa_u64(&a, n);
	if ((rc = qpg_q(t, "INSERT INTO quire_spool AS s (name, refs) "
	    "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET "
	    "refs = s.refs + $2 RETURNING refs, size IS NOT NULL", &a,
	    &r)) != 0)
		return (rc);
	refs = qpg_u64(r, 0, 0);
	sized = PQgetvalue(r, 0, 1)[0] == 't';
	PQclear(r);
	if (sized || refs != n)
		return (0);
	return (qpg_spool_store(t, name));
}

/*
 * One job less that needs a spool file; at 0 its row goes, with its
 * body, and the file (where one is left) is removed after the commit.
 */
int
qpg_spool_ref(struct qpg_tx *t, int srckind, const char *name)
{
	struct qpg_args	 a;
	uint64_t	 left;
	int		 rc, found;

	if (srckind != SRC_SPOOL || name == NULL || !spool_name_ok(name))
		return (0);
	qa_init(&a);
	qa_bin(t, &a, name);
	if ((rc = qpg_q1(t, "UPDATE quire_spool SET refs = refs - 1 WHERE "
	    "name = $1 RETURNING refs", &a, &left, &found)) != 0)
		return (rc);
	if (found && left > 0)
		return (0);
	if ((rc = qpg_q(t, "DELETE FROM quire_spool WHERE name = $1", &a,
	    NULL)) != 0)
		return (rc);
	qpg_unlink_later(t->t_q, name);
	return (0);
}

struct qpg_spool_arg {
	const char	*sa_name;
	uint64_t	*sa_n;
};

static int
qpg_spool_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_spool_arg	*sa = arg;
	struct qpg_args		 a;

	qa_init(&a);
	qa_bin(t, &a, sa->sa_name);
	return (qpg_q1(t, "SELECT refs FROM quire_spool WHERE name = $1", &a,
	    sa->sa_n, NULL));
}

int
qpg_spool_refs(struct queue *q, const char *name, uint64_t *n)
{
	struct qpg_spool_arg	 sa;

	*n = 0;
	sa.sa_name = name;
	sa.sa_n = n;
	return (qpg_run(q, __func__, 1, qpg_spool_txn, &sa));
}

struct qpg_body_arg {
	const char	*ba_name;
	uint64_t	 ba_off;
	size_t		 ba_len;
	char		*ba_dst;
	size_t		 ba_got;
	uint64_t	 ba_size;
	int		 ba_found;
};

static int
qpg_body_size_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_body_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ba->ba_name);
	if ((rc = qpg_q(t, "SELECT size FROM quire_spool WHERE name = $1 AND "
	    "size IS NOT NULL", &a, &r)) != 0)
		return (rc);
	if ((ba->ba_found = PQntuples(r) > 0))
		ba->ba_size = qpg_u64(r, 0, 0);
	PQclear(r);
	return (0);
}

/*
 * The size of the uploaded body name, when the database holds it: 0 and
 * *stored set, or clear (no such body, or one only its host's spool
 * holds: see the top), or an error.
 */
int
queue_pg_spool_size(struct queue *q, const char *name, uint64_t *size,
    int *stored)
{
	struct qpg_body_arg	 ba;
	int			 rc;

	*size = 0;
	*stored = 0;
	if (q->q_pg == NULL || !spool_name_ok(name))
		return (0);
	memset(&ba, 0, sizeof(ba));
	ba.ba_name = name;
	if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_body_size_txn, &ba)) != 0)
		return (rc);
	*size = ba.ba_size;
	*stored = ba.ba_found;
	return (0);
}

/* The bytes from ba_off on that the piece holding ba_off has, at most. */
static int
qpg_body_read_txn(struct qpg_tx *t, void *arg)
{
	struct qpg_body_arg	*ba = arg;
	struct qpg_args		 a;
	PGresult		*r;
	size_t			 n;
	int			 rc;

	qa_init(&a);
	qa_bin(t, &a, ba->ba_name);
	qa_u64(&a, ba->ba_off);
	qa_u64(&a, ba->ba_len);
	a.a_binres = 1;
	if ((rc = qpg_q(t, "SELECT substring(data FROM ($2::bigint - pos + 1)"
	    "::integer FOR $3::integer) FROM quire_spool_body WHERE "
	    "name = $1 AND pos <= $2::bigint ORDER BY pos DESC LIMIT 1", &a,
	    &r)) != 0)
		return (rc);
	ba->ba_got = 0;
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
		n = PQgetlength(r, 0, 0);
		if (n > ba->ba_len)
			n = ba->ba_len;
		memcpy(ba->ba_dst, PQgetvalue(r, 0, 0), n);
		ba->ba_got = n;
	}
	PQclear(r);
	return (0);
}

/*
 * Bytes [off, off + len) of the uploaded body name into dst, from the
 * database, a piece (at most QPG_SPOOL_CHUNK bytes) a statement: 0, or
 * QUEUE_ENOENT when the database does not hold them all (no such body,
 * or a shorter one), or an error (the server's: a storage fault to its
 * reader, not the document's).
 */
int
queue_pg_spool_read(struct queue *q, const char *name, uint64_t off,
    size_t len, void *dst)
{
	struct qpg_body_arg	 ba;
	size_t			 done = 0;
	int			 rc;

	if (q->q_pg == NULL || !spool_name_ok(name))
		return (QUEUE_ENOENT);
	memset(&ba, 0, sizeof(ba));
	ba.ba_name = name;
	while (done < len) {
		ba.ba_off = off + done;
		ba.ba_len = len - done > QPG_SPOOL_CHUNK ? QPG_SPOOL_CHUNK :
		    len - done;
		ba.ba_dst = (char *)dst + done;
		if ((rc = qpg_run(q, __func__, QPG_ONE, qpg_body_read_txn,
		    &ba)) != 0)
			return (rc);
		if (ba.ba_got == 0)
			return (QUEUE_ENOENT);
		done += ba.ba_got;
	}
	return (0);
}
