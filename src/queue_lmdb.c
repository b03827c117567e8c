/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The queue's LMDB backend, the default: the durable job queue in the
 * LMDB environment DATADIR/queue.  queue.c says what every backend
 * keeps; this is how LMDB keeps it, behind queue_lmdb_backend, whose
 * functions are queue.c's queue_* (qlmdb_open is queue_open, ...).
 *
 * Databases and their keys (integers big-endian, so LMDB's bytewise
 * order is numeric order):
 *
 *	meta	 LMDB's main (unnamed) database, which also holds each named
 *		 database's record under its name; none of these keys is one.
 *		 "stats" -> struct qmeta: counts per state, next job id, next
 *		 lease generation, next tenant number, the round-robin
 *		 cursor, bytes of big jobs in flight, totals.
 *		 'l' id(8) -> struct qlease: generation, owner pid and slot,
 *		 deadline, progress, size, cancel flag, claim time; or
 *		 struct qfin, a finished lease: the lease, then the time
 *		 and state (done or cancelled) of the ack that ended it.
 *		 't' tid(4) -> uint64 counts, one per job state: the jobs of
 *		 one tenant in each state.
 *		 'u' tid(4) band(1) id(8) -> struct qready: enqueue time,
 *		 size: the first ready jobs of each tenant and band.  band
 *		 is 9 - priority, so a tenant's urgent jobs come first.
 *	jobs	 id(8) -> job record (msgpack, see codec.c).
 *	keys	 idempotency key -> id(8).
 *	tenants	 tenant name -> tid(4).
 *	tstate	 tid(4) -> struct qtenant: DRR deficit, then the name.
 *	delayed	 runat(8) id(8) -> empty: jobs waiting to be retried.
 *	done	 time(8) id(8) -> empty: done and cancelled jobs, oldest first.
 *	dead	 time(8) id(8) -> empty: dead letters, oldest first.
 *	spool	 spool file name -> count(8): the jobs that still need the
 *		 uploaded body (ready, leased, retrying or dead).
 *	backlog	 tid(4) band(1) id(8) -> struct qready: the other ready
 *		 jobs, every one after those of its tenant and band in meta.
 *	finished id(8) -> struct qfin: the finished leases a settling
 *		 moved out of meta, until the job is trimmed or purged.
 *
 * Ready jobs.  A claim takes the first ready job of a band, so only the
 * first of each need be in meta, where the claim writes anyway: a band
 * that has jobs in backlog has one in meta at least, and every one there
 * comes before those in backlog.  A job made ready goes to backlog when
 * its id comes after the band's first there, or when the band has none
 * there and jobs in meta, all before it (an enqueue's new ids); else to
 * meta (the first of its band, or a retried or released job's older
 * id).  When a claim or a cancel takes the band's last job from meta,
 * the next ones in backlog move there, in the same transaction: enough
 * for QUEUE_HEAD_ROUNDS claims of the claim's size, and QUEUE_HEAD at
 * least (a cancel's).  A claim then writes backlog once in 16 claims of
 * a band or more, whether it takes one job or 16, and meta stays a few
 * pages whatever the jobs waiting.
 *
 * A job is in exactly one of the ready jobs, delayed, the leases, done
 * (or the finished leases) or dead, according to its state, and qmeta's
 * counts, and its tenant's, follow every move in the same transaction,
 * so status costs one read and metrics one read per tenant.  The state
 * is the one in the job's record, but for a leased or acked job: a
 * claim does not rewrite the record (it stays ready, or leased if a
 * cancel wrote it since), and a job that has a lease is leased, with the
 * generation, holder, deadline, progress, cancel flag and claim time of
 * its lease (qtx_job_get reads both).  A failure or a release then
 * writes the record once.
 *
 * An ack does not write the record either: it turns the lease into a
 * finished lease under the same key, and a job that has one, in meta or
 * in finished, is done or cancelled, since the time it holds.  Once they
 * are QUEUE_SETTLE times the acks of a commit (counted in qmeta's
 * m_unsettled: 16 for a worker that acks one job at a time, 256 for one
 * that acks 16), and before a trim or a purge of done jobs, one commit
 * settles them (qtx_settle_due says why so): it moves each finished
 * lease from meta to finished, under the job's id, and adds its done
 * entry.  Consecutive ids share the leaf pages of finished and done,
 * and a finished lease is a quarter of a record, so a batch appends a
 * few pages where each ack wrote the record's and done's leaf and branch
 * pages, and where writing the records wrote a page for every dozen
 * jobs.  queue_list of done jobs walks done, then the finished leases
 * in meta, which are the newest.
 *
 * The leases, the tenant counts and the ready jobs live in meta, beside
 * "stats", because a claim and an ack write them all, and a commit
 * writes the leaf and branch pages on the path to each key it changes
 * in each database, plus, for each named database it changed, the main
 * database's page that holds its record (its root).  In one database,
 * in this order, the newest leases (the last keys of 'l'), "stats", the
 * counts of the tenants (few) and the first ready jobs of the first
 * tenant ('u') are neighbours: they share a leaf page or two and every
 * branch page above them, where a database of ready jobs had its own
 * path to write at every claim.  That database is the main one, whose
 * root LMDB keeps in its meta page, so a claim and an ack that change
 * nothing else write no page for a database's record.  With the backlog
 * out of it, and the finished leases of one job at a time few, meta is
 * one page for workers that claim and ack one job at a time, while the
 * tenants and bands with ready jobs are few (the leases, the names of
 * the databases, "stats", the tenant counts and the ready jobs of the
 * heads), where 200,000 ready jobs made it three levels
 * deep: such a commit writes that page and a page of LMDB's free list,
 * or three or four once the free list spans several leaves (after trims
 * freed many pages, which LMDB hands out again oldest first: its first
 * leaf, its last and their root).  With 16 jobs a commit, meta is a root
 * and a few leaves, of which a commit writes two or three.  queue-bench
 * counts the pages a commit writes.
 *
 * Older layouts are brought up to date once, at the first queue_open,
 * and a newer one is refused.  Up to version 6 a settling wrote the
 * acked jobs' records (done or cancelled), which a layout 7 reads as
 * they are: its finished starts empty, and the version alone moves.  Up
 * to version 5 every ready job was in meta, which is a layout 6 with an
 * empty backlog.  Up to version 4 meta was a database "meta", whose records move into
 * the main database unchanged; version 3 had no finished leases (an ack
 * wrote the record and done at once) and kept the ready jobs in a
 * database "ready" (the same key without 'u'), whose records move into
 * meta; version 2 also kept the leases in a database "leases" (id(8) ->
 * the lease without its claim time) and the tenant counts in "tcount"
 * (tid(4) -> counts), which move into meta too, and the old databases
 * are deleted.  Version 1 (a qmeta record that ends before the totals
 * of done, retried and cancelled jobs) had no tenant counts: they are
 * built from the job records.
 *
 * Life cycle: ready -> leased -> done, or -> retry (delayed, after an
 * exponential backoff with jitter) -> ready ..., or after max attempts
 * -> dead.  cancel takes a ready or retrying job to cancelled at once; a
 * leased one is flagged and its holder learns of it at its next
 * heartbeat or ack.  When a worker dies the reaper releases its leases
 * (queue_release_pid): the job is ready again and its crash count goes
 * up; a job whose holders died max_crashes times is a dead letter
 * ("crashed worker"), so one poison document cannot kill the fleet.
 *
 * Fencing: every claim stamps a new lease generation, taken from a
 * global counter.  Heartbeat, ack and fail name (id, generation) and
 * fail with QUEUE_ESTALE when the lease is gone or was given to another
 * worker, so a worker that was presumed dead cannot finish a job twice.
 *
 * Scheduling inside a claim (policy):
 *
 *   Fairness across tenants is deficit round robin.  The tenants that
 *   have ready jobs are visited in turn, starting after the last one
 *   served (the cursor is kept in qmeta, so it spans claims and
 *   processes).  Each visit adds fair_unit bytes to the tenant's deficit
 *   and takes at most one job, if the job's size fits in the deficit; the
 *   deficit is capped at one unit after a take, so credit saved while a
 *   big job waited is not spent on a burst later.  Small jobs alternate one
 *   by one between tenants, and a tenant of big documents gets its share
 *   in bytes, not in jobs: a tenant that enqueued 100,000 jobs does not
 *   delay another tenant's 10.
 *
 *   Within a tenant the job with the highest effective priority runs
 *   first: priority + (now - enqueued) / aging_ms, so a low-priority job
 *   gains one level per aging period and is never starved; ties go to
 *   the higher priority, then to the older job.
 *
 *   Size tiers: a claim takes at most claim_bytes of input (but always
 *   one job), and jobs of big_bytes or more are only handed out while
 *   the big jobs in flight across all workers stay under big_inflight
 *   (one is always allowed), so big PDFs do not all run at once.  A
 *   big_inflight of 0 holds every big job back: the supervisor sets it
 *   so while memory is short (fleet.c's admission).
 *
 * Spool files: a job of an uploaded body (SRC_SPOOL) names its file in
 * spool/, and so may many (the ranges of an NDJSON bulk, the records of
 * one that failed on their own).  The spool database counts, per file,
 * the jobs that may still read it: one more at each enqueue, one less
 * when a job is done or cancelled and when a dead letter is purged; a
 * retry or a dead letter keeps its count.  The transaction that takes
 * a count to 0 deletes it and lists the name (q_unlink); the file is
 * removed after the commit (qlmdb_write), so a file is never gone while
 * a committed job still needs it.  A crash between the commit and the
 * removal leaves a file no count names, which spool_sweep() removes.
 *
 * Retention: acks trim the oldest done jobs beyond retain_done or older
 * than retain_age, so the file stops growing under endless churn;
 * queue_purge does the same on command.  Trimming is done in batches:
 * an ack commit only looks (the count in qmeta, the first key of done,
 * or while done is empty the first finished lease) until the done jobs
 * pass retain_done by a sixteenth of it (at most QUEUE_TRIM_SLACK jobs)
 * or the oldest outlives retain_age by a sixteenth of it (at most
 * QUEUE_TRIM_GRACE_MS); that commit then settles the finished leases
 * and trims the done jobs back to the limits.  Deleting neighbours
 * together touches a few pages of jobs and done once per batch, where a
 * trim at every ack touched them at every ack.  While jobs wait to be
 * claimed the count's limit is twice retain_done (qtx_retain_keep): the
 * pages a trim frees go to LMDB's free list, which a backlog's commits
 * do not drain (they free as many pages as they take), so it would
 * grow past a leaf, and every commit write its first and last leaves
 * and their root, where it writes one leaf of a small free list.  The
 * first ack with no job waiting trims back to retain_done, and the
 * enqueues of the next burst take the pages freed.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

enum {
	DB_META,
	DB_JOBS,
	DB_KEYS,
	DB_TENANTS,
	DB_TSTATE,
	DB_DELAYED,
	DB_DONE,
	DB_DEAD,
	DB_SPOOL,
	DB_BACKLOG,
	DB_FINISHED,
	DB_N
};

/* NULL: meta's records are in LMDB's main database, beside the names. */
static const char *qlmdb_dbnames[DB_N] = {
	NULL, "jobs", "keys", "tenants", "tstate", "delayed", "done",
	"dead", "spool", "backlog", "finished"
};

/*
 * 1: no tenant counts, no m_done on; 2: tenant counts and leases in
 * databases of their own, "tcount" and "leases"; 3: both in meta; 4:
 * the ready jobs in meta too, and acked jobs may be finished leases;
 * 5: meta is LMDB's main database, no longer a database "meta"; 6: the
 * ready jobs past the first of each tenant and band in backlog; 7: a
 * settling moves finished leases to finished, not into the records.
 */
#define QMETA_VERSION		7
#define QUEUE_OLD_META		"meta"	/* meta's database up to version 4 */
#define QMETA_LEASE		'l'	/* meta key: 'l' id(8) -> qlease */
#define QMETA_TCOUNT		't'	/* meta key: 't' tid(4) -> counts */
#define QMETA_LEASE_KEYLEN	9
#define QMETA_TCOUNT_KEYLEN	5
#define QMETA_READY		'u'	/* meta key: 'u' tid(4) band(1) id(8) */
#define QUEUE_READY_KEYLEN	14
#define QUEUE_HEAD		32	/* ready jobs a refill moves to meta */
#define QUEUE_HEAD_ROUNDS	16	/* or as many claims of its size */
#define QUEUE_HEAD_MAX		512
#define QUEUE_CLAIM_VISITS	4096	/* tenant visits per claim, at most */
#define QUEUE_PROMOTE_MAX	1024	/* retries made ready per claim */
#define QUEUE_BATCH		10000	/* jobs per purge or retry txn */
#define QUEUE_DEFAULT_TENANT	"default"
#define QUEUE_TRIM_PART		16	/* slack: 1/16 of a retention limit */
#define QUEUE_TRIM_SLACK	1024	/* most done jobs past retain_done */
#define QUEUE_TRIM_GRACE_MS	(10 * 60 * 1000)	/* past retain_age */
#define QUEUE_SETTLE		16	/* acks of its size a settling follows */
#define QUEUE_SETTLE_MAX	1024	/* finished leases, at most */

struct qmeta {
	uint32_t	 m_version;
	uint32_t	 m_unsettled;	/* version 4: finished leases in meta */
	uint64_t	 m_count[JOB_NSTATES];
	uint64_t	 m_next_id;
	uint64_t	 m_next_gen;
	uint64_t	 m_next_tenant;
	uint64_t	 m_rr_tenant;
	uint64_t	 m_big_inflight;
	uint64_t	 m_enqueued;
	uint64_t	 m_completed;
	uint64_t	 m_failed;
	uint64_t	 m_released;
	uint64_t	 m_done;	/* version 2 on */
	uint64_t	 m_retried;
	uint64_t	 m_cancelled;
};

#define QMETA_V1_SIZE		offsetof(struct qmeta, m_done)

struct qtenant {
	int64_t		 t_deficit;
	uint32_t	 t_namelen;
	char		 t_name[JOB_TENANT_MAX + 1];
};

struct qready {
	uint64_t	 r_enq;
	uint64_t	 r_size;
};

struct qlease {
	uint64_t	 l_gen;
	uint32_t	 l_pid;
	uint32_t	 l_slot;
	uint64_t	 l_deadline;
	uint64_t	 l_progress;
	uint64_t	 l_size;
	uint32_t	 l_cancel;
	uint32_t	 l_big;
	uint64_t	 l_claimed;	/* version 3 on; 0: unknown */
};

#define QLEASE_V2_SIZE		offsetof(struct qlease, l_claimed)

/*
 * What an ack leaves under a job's lease key until qtx_settle, which
 * moves it to finished under the job's id.
 */
struct qfin {
	struct qlease	 f_lease;	/* the lease the ack ended */
	uint64_t	 f_done;	/* when it was acked */
	uint32_t	 f_state;	/* JOB_DONE or JOB_CANCELLED */
	uint32_t	 f_pad;
};

/* One write or read transaction on the queue. */
struct qtx {
	struct queue	*t_q;
	MDB_txn		*t_txn;
	MDB_dbi		*t_dbi;
	struct qmeta	 t_m;
	struct qmeta	 t_m0;		/* as read, when t_have */
	int		 t_have;
	uint64_t	 t_now;
	size_t		 t_head;	/* ready jobs a refill moves */
};

static int	 qtx_begin(struct qtx *, struct queue *, MDB_txn *);
static int	 qtx_end(struct qtx *);
static int	 qtx_tcount(struct qtx *, uint32_t, int, int);
static int	 qtx_put_tail(struct qtx *, int, MDB_val *, MDB_val *);
static int	 qtx_lease_read(struct qtx *, uint64_t, struct qfin *, int *);
static int	 qtx_lease_get(struct qtx *, uint64_t, struct qlease *);
static int	 qtx_job_record(struct qtx *, uint64_t, struct job *);
static int	 qtx_job_lease(struct qtx *, struct job *);
static int	 qtx_finished_read(struct qtx *, uint64_t, struct qfin *);
static void	 qlmdb_close(struct queue *);

/*
 * Whether the queue has an older layout: arg is the queue, then NULL if
 * not; a newer one is refused.  Up to version 4 meta was a database of
 * that name.
 */
static int
qlmdb_version_txn(MDB_txn *txn, void *arg)
{
	struct queue	**qp = arg;
	struct qtx	 t;
	MDB_dbi		 dbi;
	int		 rc;

	if ((rc = mdb_dbi_open(txn, QUEUE_OLD_META, 0, &dbi)) == 0)
		return (0);
	if (rc != MDB_NOTFOUND)
		return (rc);
	if ((rc = qtx_begin(&t, *qp, txn)) != 0)
		return (rc);
	if (t.t_m.m_version > QMETA_VERSION) {
		log_warnx("%s: the queue has layout %u, newer than this "
		    "quire's %u: open it with the quire that wrote it",
		    __func__, t.t_m.m_version, QMETA_VERSION);
		return (QUEUE_ERROR);
	}
	if (t.t_m.m_version == QMETA_VERSION)
		*qp = NULL;
	return (0);
}

/*
 * From versions 1 to 4: every record of the database "meta" under the
 * same key in the main database (dst), and "meta" deleted.  Its keys
 * ("stats", 'l', 't' and 'u' ones) are none of the databases' names.  A
 * key already in the main database (a queue of this layout that an
 * older quire opened and wrote a "meta" of its own to) is refused.
 */
static int
qlmdb_upgrade_meta(MDB_txn *txn, MDB_dbi dst, MDB_dbi meta, uint64_t *n)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, meta, &c)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if ((rc = mdb_put(txn, dst, &k, &v, MDB_NOOVERWRITE)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(c);
	if (rc == MDB_KEYEXIST) {
		log_warnx("%s: a record of the database \"%s\" is in the main "
		    "database too: the queue was opened by an older quire "
		    "after its upgrade", __func__, QUEUE_OLD_META);
		return (QUEUE_ERROR);
	}
	if (rc != MDB_NOTFOUND)
		return (rc);
	return (mdb_drop(txn, meta, 1));
}

/* From version 1: count every job record into its tenant's counts. */
static int
qlmdb_upgrade_count(struct qtx *t, uint64_t *n)
{
	struct job	 j;
	MDB_cursor	*c;
	MDB_val		 k, v;
	int		 rc;

	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_JOBS], &c)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, *n == 0 ? MDB_FIRST :
	    MDB_NEXT)) == 0) {
		(*n)++;
		if (codec_job_decode(v.mv_data, v.mv_size, &j) == -1) {
			rc = QUEUE_ERROR;
			break;
		}
		if ((rc = qtx_job_lease(t, &j)) != 0 ||
		    (rc = qtx_tcount(t, j.j_tenant_id, -1, j.j_state)) != 0)
			break;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return (rc);
	/* The totals begin now, from what the queue still holds. */
	t->t_m.m_done = t->t_m.m_count[JOB_DONE];
	t->t_m.m_cancelled = t->t_m.m_count[JOB_CANCELLED];
	return (0);
}

/*
 * Each record of an old database (leases, tcount or ready: kind is its
 * key's first byte in meta) under its key in meta; a lease gains
 * l_claimed, 0 (unknown).  The keys come in order, and ready's sort
 * after every other key of meta: they are appended.
 */
static int
qlmdb_upgrade_move(struct qtx *t, MDB_dbi dbi, int kind, uint64_t *n)
{
	struct qlease	 l;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint8_t		 kb[QUEUE_READY_KEYLEN];
	size_t		 klen, vlen;
	int		 rc, op = MDB_FIRST;

	klen = kind == QMETA_LEASE ? 8 : kind == QMETA_TCOUNT ? 4 :
	    QUEUE_READY_KEYLEN - 1;
	vlen = kind == QMETA_LEASE ? QLEASE_V2_SIZE : kind == QMETA_TCOUNT ?
	    JOB_NSTATES * 8 : sizeof(struct qready);
	if ((rc = mdb_cursor_open(t->t_txn, dbi, &c)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != klen || v.mv_size != vlen) {
			rc = QUEUE_ERROR;
			break;
		}
		kb[0] = kind;
		memcpy(kb + 1, k.mv_data, k.mv_size);
		k.mv_size++;
		k.mv_data = kb;
		if (kind == QMETA_LEASE) {
			memset(&l, 0, sizeof(l));
			memcpy(&l, v.mv_data, QLEASE_V2_SIZE);
			v.mv_size = sizeof(l);
			v.mv_data = &l;
		}
		if ((rc = qtx_put_tail(t, DB_META, &k, &v)) != 0)
			break;
		(*n)++;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* An old database by name, or 0 when there is none. */
static int
qlmdb_upgrade_old(MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
	int	 rc;

	*dbi = 0;
	rc = mdb_dbi_open(txn, name, 0, dbi);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Older versions to 5: meta's records into the main database, then
 * tenant counts, leases and ready jobs into meta (version 1 had no
 * tenant counts: they are made from the job records), and the databases
 * that held them deleted.  What it moved is said once it has committed
 * (qlmdb_open): store_write may run it again.
 */
struct qlmdb_upgrade {
	struct queue	*u_q;
	int		 u_moved;	/* it had something to do */
	uint32_t	 u_from;
	uint64_t	 u_nmeta, u_njobs, u_ncounts, u_nleases, u_nready;
};

static int
qlmdb_upgrade_txn(MDB_txn *txn, void *arg)
{
	struct qlmdb_upgrade	*u = arg;
	struct queue		*q = u->u_q;
	struct qtx		 t;
	MDB_dbi			 meta, tcount, leases, ready;
	uint64_t		 njobs = 0, ncounts = 0, nleases = 0;
	uint64_t		 nready = 0, nmeta = 0;
	uint32_t		 from;
	int			 rc;

	memset(u, 0, sizeof(*u));	/* a run again starts over */
	u->u_q = q;
	if ((rc = qlmdb_upgrade_old(txn, QUEUE_OLD_META, &meta)) != 0 ||
	    (meta != 0 && (rc = qlmdb_upgrade_meta(txn,
	    q->q_store.s_dbi[DB_META], meta, &nmeta)) != 0))
		return (rc);
	if ((rc = qtx_begin(&t, q, txn)) != 0)
		return (rc);
	if ((from = t.t_m.m_version) >= QMETA_VERSION)
		return (0);
	/* Finished leases began with version 4. */
	if (from < 4)
		t.t_m.m_unsettled = 0;
	if ((rc = qlmdb_upgrade_old(txn, "tcount", &tcount)) != 0 ||
	    (rc = qlmdb_upgrade_old(txn, "leases", &leases)) != 0 ||
	    (rc = qlmdb_upgrade_old(txn, "ready", &ready)) != 0)
		return (rc);
	/* The leases first: a count of version 1 reads them. */
	if (leases != 0 &&
	    (rc = qlmdb_upgrade_move(&t, leases, QMETA_LEASE, &nleases)) != 0)
		return (rc);
	if (from < 2)
		rc = qlmdb_upgrade_count(&t, &njobs);
	else if (tcount != 0)
		rc = qlmdb_upgrade_move(&t, tcount, QMETA_TCOUNT, &ncounts);
	if (rc == 0 && ready != 0)
		rc = qlmdb_upgrade_move(&t, ready, QMETA_READY, &nready);
	if (rc != 0 ||
	    (tcount != 0 && (rc = mdb_drop(txn, tcount, 1)) != 0) ||
	    (leases != 0 && (rc = mdb_drop(txn, leases, 1)) != 0) ||
	    (ready != 0 && (rc = mdb_drop(txn, ready, 1)) != 0))
		return (rc);
	t.t_m.m_version = QMETA_VERSION;
	u->u_moved = 1;
	u->u_from = from;
	u->u_nmeta = nmeta;
	u->u_njobs = njobs;
	u->u_ncounts = ncounts;
	u->u_nleases = nleases;
	u->u_nready = nready;
	return (qtx_end(&t));
}

static int
qlmdb_open(struct queue *q, const char *datadir, const struct queue_conf *qc)
{
	struct queue		*old = q;
	struct qlmdb_upgrade	 u;
	char			 path[JOB_PATH_MAX];
	int			 n;

	memset(q, 0, sizeof(*q));
	if (qc != NULL)
		q->q_conf = *qc;
	else
		queue_conf_defaults(&q->q_conf);
	n = snprintf(path, sizeof(path), "%s/queue", datadir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("%s: data directory path too long", __func__);
		return (-1);
	}
	if (store_open(&q->q_store, path, qlmdb_dbnames, DB_N,
	    q->q_conf.qc_sync, q->q_conf.qc_mapsize) == -1)
		return (-1);
	strlcpy(q->q_datadir, datadir, sizeof(q->q_datadir));
	msgpack_sbuffer_init(&q->q_buf);
	memset(&u, 0, sizeof(u));
	u.u_q = q;
	if (store_read(&q->q_store, qlmdb_version_txn, &old) != 0 ||
	    (old != NULL &&
	    store_write(&q->q_store, qlmdb_upgrade_txn, &u) != 0)) {
		log_warnx("%s: %s: cannot bring the queue's layout up to "
		    "date", __func__, path);
		qlmdb_close(q);
		return (-1);
	}
	if (u.u_moved)
		log_info("%s: queue layout %u to %u: %llu meta records moved "
		    "to the main database, %llu jobs counted, %llu tenant "
		    "counts, %llu leases and %llu ready jobs moved",
		    __func__, u.u_from, QMETA_VERSION,
		    (unsigned long long)u.u_nmeta,
		    (unsigned long long)u.u_njobs,
		    (unsigned long long)u.u_ncounts,
		    (unsigned long long)u.u_nleases,
		    (unsigned long long)u.u_nready);
	return (0);
}

static void
qlmdb_close(struct queue *q)
{
	store_close(&q->q_store);
	msgpack_sbuffer_destroy(&q->q_buf);
	free(q->q_unlink);
	q->q_unlink = NULL;
	q->q_nunlink = q->q_unlinkcap = 0;
}

/*
 * A write transaction, then the removal of the spool files it let go.
 * A removal that fails leaves a file for spool_sweep().
 */
static int
qlmdb_write(struct queue *q, store_fn fn, void *arg)
{
	size_t	 i;
	int	 rc;

	q->q_nunlink = 0;
	rc = store_write(&q->q_store, fn, arg);
	if (rc == 0)
		for (i = 0; i < q->q_nunlink; i++)
			(void)spool_unlink(q->q_datadir, q->q_unlink[i]);
	q->q_nunlink = 0;
	return (rc);
}

/*
 * Map a transaction result to the API's: our codes, a storage fault
 * (logged by store_write), or QUEUE_ERROR.
 */
static int
qlmdb_result(const char *fn, int rc)
{
	if (rc <= 0 && rc >= QUEUE_ELAST)
		return (rc);
	switch (store_fault(rc)) {
	case STORE_FAULT_FULL:
		return (QUEUE_ENOSPC);
	case STORE_FAULT_MAP:
		return (QUEUE_EMAPFULL);
	case STORE_FAULT_IO:
		return (QUEUE_EIO);
	}
	log_warnx("%s: %s", fn, rc == MDB_MAP_FULL || rc < 0 ?
	    mdb_strerror(rc) : strerror(rc));
	return (QUEUE_ERROR);
}

/* Transaction helpers. */

static int
qtx_begin(struct qtx *t, struct queue *q, MDB_txn *txn)
{
	MDB_val	 k = { 5, (void *)"stats" }, v;
	int	 rc;

	t->t_q = q;
	t->t_txn = txn;
	t->t_dbi = q->q_store.s_dbi;
	t->t_now = queue_now(q);
	t->t_have = 0;
	t->t_head = QUEUE_HEAD;
	q->q_nunlink = 0;
	rc = mdb_get(txn, t->t_dbi[DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		memset(&t->t_m, 0, sizeof(t->t_m));
		t->t_m.m_version = QMETA_VERSION;
		t->t_m.m_next_id = 1;
		t->t_m.m_next_gen = 1;
		t->t_m.m_next_tenant = 1;
		return (0);
	}
	if (rc != 0)
		return (rc);
	if (v.mv_size == QMETA_V1_SIZE) {
		/* Before tcount: qlmdb_upgrade_txn brings it up to date. */
		memset(&t->t_m, 0, sizeof(t->t_m));
		memcpy(&t->t_m, v.mv_data, QMETA_V1_SIZE);
		return (0);
	}
	if (v.mv_size != sizeof(t->t_m)) {
		log_warnx("%s: queue meta record has %zu bytes, want %zu",
		    __func__, v.mv_size, sizeof(t->t_m));
		return (QUEUE_ERROR);
	}
	memcpy(&t->t_m, v.mv_data, sizeof(t->t_m));
	t->t_m0 = t->t_m;
	t->t_have = 1;
	return (0);
}

static int
qtx_end(struct qtx *t)
{
	MDB_val	 k = { 5, (void *)"stats" }, v;

	/*
	 * Unchanged, it is not written: a claim that found nothing then
	 * leaves the transaction clean, and LMDB commits it without a
	 * write or an fsync (an idle worker looks ten times a second).
	 */
	if (t->t_have && memcmp(&t->t_m, &t->t_m0, sizeof(t->t_m)) == 0)
		return (0);
	v.mv_size = sizeof(t->t_m);
	v.mv_data = &t->t_m;
	return (mdb_put(t->t_txn, t->t_dbi[DB_META], &k, &v, 0));
}

/* The tenant's part of qtx_move. */
static int
qtx_tcount(struct qtx *t, uint32_t tid, int from, int to)
{
	uint64_t	 c[JOB_NSTATES];
	uint8_t		 kb[QMETA_TCOUNT_KEYLEN];
	MDB_val		 k = { sizeof(kb), kb }, v;
	int		 rc;

	kb[0] = QMETA_TCOUNT;
	util_put_be32(kb + 1, tid);
	rc = mdb_get(t->t_txn, t->t_dbi[DB_META], &k, &v);
	if (rc == MDB_NOTFOUND)
		memset(c, 0, sizeof(c));
	else if (rc != 0)
		return (rc);
	else if (v.mv_size != sizeof(c))
		return (QUEUE_ERROR);
	else
		memcpy(c, v.mv_data, sizeof(c));
	if (from >= 0 && c[from] > 0)
		c[from]--;
	if (to >= 0)
		c[to]++;
	v.mv_size = sizeof(c);
	v.mv_data = c;
	return (mdb_put(t->t_txn, t->t_dbi[DB_META], &k, &v, 0));
}

/* A job of tenant tid leaves state from (-1: new) for to (-1: gone). */
static int
qtx_move(struct qtx *t, uint32_t tid, int from, int to)
{
	if (from >= 0 && t->t_m.m_count[from] > 0)
		t->t_m.m_count[from]--;
	if (to >= 0)
		t->t_m.m_count[to]++;
	return (qtx_tcount(t, tid, from, to));
}

/*
 * A job's record, and its lease: a claim leaves the record as it was
 * (ready), so a job with a lease is leased, and its lease holds the
 * generation, holder, deadline, progress, cancel flag and claim time;
 * an ack leaves it too, and a job with a finished lease is done or
 * cancelled since the ack's time.
 */
static int
qtx_job_get(struct qtx *t, uint64_t id, struct job *j)
{
	int	 rc;

	if ((rc = qtx_job_record(t, id, j)) != 0)
		return (rc);
	return (qtx_job_lease(t, j));
}

/* The value under id(8) in db: QUEUE_ENOENT when there is none. */
static int
qtx_get_id(struct qtx *t, int db, uint64_t id, MDB_val *v)
{
	uint8_t	 kb[8];
	MDB_val	 k = { 8, kb };
	int	 rc;

	util_put_be64(kb, id);
	if ((rc = mdb_get(t->t_txn, t->t_dbi[db], &k, v)) != 0)
		return (rc == MDB_NOTFOUND ? QUEUE_ENOENT : rc);
	return (0);
}

/* A job's record alone, as its enqueue or its last move wrote it. */
static int
qtx_job_record(struct qtx *t, uint64_t id, struct job *j)
{
	MDB_val	 v;
	int	 rc;

	if ((rc = qtx_get_id(t, DB_JOBS, id, &v)) != 0)
		return (rc);
	if (codec_job_decode(v.mv_data, v.mv_size, j) == -1 || j->j_id != id) {
		log_warnx("%s: job %llu: corrupt record (%zu bytes)", __func__,
		    (unsigned long long)id, v.mv_size);
		return (QUEUE_ERROR);
	}
	return (0);
}

/*
 * What a job's lease, if it has one, says of it; a finished lease, in
 * meta or settled in finished, says what the ack would have written in
 * the record.
 */
static int
qtx_job_lease(struct qtx *t, struct job *j)
{
	struct qfin	 f;
	struct qlease	*l = &f.f_lease;
	int		 rc, fin;

	if (j->j_state != JOB_READY && j->j_state != JOB_LEASED)
		return (0);
	rc = qtx_lease_read(t, j->j_id, &f, &fin);
	if (rc == QUEUE_ENOENT) {
		if ((rc = qtx_finished_read(t, j->j_id, &f)) == QUEUE_ENOENT)
			return (0);
		fin = 1;
	}
	if (rc != 0)
		return (rc);
	j->j_state = JOB_LEASED;
	if (l->l_claimed != 0)
		j->j_updated = l->l_claimed;
	j->j_lease_gen = l->l_gen;
	j->j_lease_pid = l->l_pid;
	j->j_lease_slot = l->l_slot;
	j->j_lease_deadline = l->l_deadline;
	j->j_progress = l->l_progress;
	j->j_cancel = l->l_cancel;
	if (fin) {
		j->j_state = f.f_state;
		j->j_updated = f.f_done;
		j->j_lease_deadline = 0;
	}
	return (0);
}

static int
qtx_job_put(struct qtx *t, const struct job *j, unsigned int flags)
{
	msgpack_sbuffer	*sb = &t->t_q->q_buf;
	uint8_t		 kb[8];
	MDB_val		 k = { 8, kb }, v;

	msgpack_sbuffer_clear(sb);
	if (codec_job_encode(j, sb) == -1)
		return (QUEUE_EINVAL);
	util_put_be64(kb, j->j_id);
	v.mv_size = sb->size;
	v.mv_data = sb->data;
	return (mdb_put(t->t_txn, t->t_dbi[DB_JOBS], &k, &v, flags));
}

/*
 * Delete a finished job's record, its settled lease and its idempotency
 * key.
 */
static int
qtx_job_forget(struct qtx *t, const struct job *j)
{
	MDB_val		 jk;
	uint8_t		 kb[8];
	int		 rc;

	if (j->j_key[0] != '\0') {
		jk.mv_size = strlen(j->j_key);
		jk.mv_data = (void *)j->j_key;
		(void)mdb_del(t->t_txn, t->t_dbi[DB_KEYS], &jk, NULL);
	}
	util_put_be64(kb, j->j_id);
	jk.mv_size = 8;
	jk.mv_data = kb;
	rc = mdb_del(t->t_txn, t->t_dbi[DB_FINISHED], &jk, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	return (mdb_del(t->t_txn, t->t_dbi[DB_JOBS], &jk, NULL));
}

/* Whether when is less than age ms before now, without overflow. */
static int
qtx_younger(const struct qtx *t, uint64_t when, uint64_t age)
{
	return (when > t->t_now || t->t_now - when < age);
}

/*
 * Put a key that most often sorts after every other one (ids and times
 * grow): MDB_APPEND skips the search and fills pages instead of splitting
 * them in half; LMDB refuses it with MDB_KEYEXIST when the key is not the
 * last, and then it is an ordinary put.
 */
static int
qtx_put_tail(struct qtx *t, int db, MDB_val *k, MDB_val *v)
{
	int	 rc;

	rc = mdb_put(t->t_txn, t->t_dbi[db], k, v, MDB_APPEND);
	if (rc == MDB_KEYEXIST)
		rc = mdb_put(t->t_txn, t->t_dbi[db], k, v, 0);
	return (rc);
}

/* Put or delete a time(8) id(8) key in done, dead or delayed. */
static int
qtx_timed(struct qtx *t, int db, uint64_t when, uint64_t id, int del)
{
	uint8_t	 kb[16];
	MDB_val	 k = { 16, kb }, v = { 0, NULL };
	int	 rc;

	util_put_be64(kb, when);
	util_put_be64(kb + 8, id);
	if (!del)
		return (qtx_put_tail(t, db, &k, &v));
	rc = mdb_del(t->t_txn, t->t_dbi[db], &k, NULL);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

static void
qtx_ready_key(uint8_t *kb, const struct job *j)
{
	kb[0] = QMETA_READY;
	util_put_be32(kb + 1, j->j_tenant_id);
	kb[5] = JOB_PRIO_MAX - j->j_prio;
	util_put_be64(kb + 6, j->j_id);
}

/* Whether a key of meta is a ready job's. */
static int
qtx_is_ready(const MDB_val *k)
{
	return (k->mv_size == QUEUE_READY_KEYLEN &&
	    ((const uint8_t *)k->mv_data)[0] == QMETA_READY);
}

/*
 * The id of the first ready job at or after kb (a ready key) of its
 * tenant and band, in meta or (db DB_BACKLOG) in the backlog, whose keys
 * are the same without 'u'; MDB_NOTFOUND when there is none.
 */
static int
qtx_band_next(struct qtx *t, int db, const uint8_t *kb, uint64_t *id)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	size_t		 off = db == DB_META ? 0 : 1;
	int		 rc;

	k.mv_size = QUEUE_READY_KEYLEN - off;
	k.mv_data = (void *)(kb + off);
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[db], &c)) != 0)
		return (rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	if (rc == 0 && (k.mv_size != QUEUE_READY_KEYLEN - off ||
	    memcmp(k.mv_data, kb + off, 6 - off) != 0))
		rc = MDB_NOTFOUND;
	if (rc == 0)
		*id = util_get_be64((uint8_t *)k.mv_data + k.mv_size - 8);
	mdb_cursor_close(c);
	return (rc);
}

/*
 * Where the ready job of key kb goes: the backlog when its id comes
 * after the first there of its tenant and band, or when the band has
 * none there and meta has its jobs, all before this one; else meta.
 */
static int
qtx_ready_db(struct qtx *t, const uint8_t *kb, int *db)
{
	uint8_t		 band[QUEUE_READY_KEYLEN];
	uint64_t	 id, first;
	int		 rc;

	*db = DB_META;
	id = util_get_be64(kb + 6);
	memcpy(band, kb, 6);
	memset(band + 6, 0, 8);
	if ((rc = qtx_band_next(t, DB_BACKLOG, band, &first)) == 0) {
		if (id >= first)
			*db = DB_BACKLOG;
		return (0);
	}
	if (rc != MDB_NOTFOUND ||
	    (rc = qtx_band_next(t, DB_META, kb, &first)) != MDB_NOTFOUND)
		return (rc);
	if ((rc = qtx_band_next(t, DB_META, band, &first)) == 0)
		*db = DB_BACKLOG;
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

static int
qtx_ready_put(struct qtx *t, const struct job *j, uint64_t enq)
{
	uint8_t		 kb[QUEUE_READY_KEYLEN];
	struct qready	 r;
	MDB_val		 k, v = { sizeof(r), &r };
	int		 rc, db;

	qtx_ready_key(kb, j);
	if ((rc = qtx_ready_db(t, kb, &db)) != 0)
		return (rc);
	k.mv_size = db == DB_META ? sizeof(kb) : sizeof(kb) - 1;
	k.mv_data = db == DB_META ? kb : kb + 1;
	r.r_enq = enq;
	r.r_size = j->j_size;
	return (qtx_put_tail(t, db, &k, &v));
}

/*
 * A ready job of kb's tenant and band left meta: if it was the band's
 * last there, the band's first QUEUE_HEAD jobs in the backlog move to
 * meta.
 */
static int
qtx_ready_refill(struct qtx *t, const uint8_t *kb)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct qready	 r;
	uint8_t		 band[QUEUE_READY_KEYLEN];
	uint64_t	 id;
	size_t		 n;
	int		 rc;

	memcpy(band, kb, 6);
	memset(band + 6, 0, 8);
	if ((rc = qtx_band_next(t, DB_META, band, &id)) != MDB_NOTFOUND)
		return (rc);
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_BACKLOG], &c)) != 0)
		return (rc);
	for (n = 0; n < t->t_head; n++) {
		k.mv_size = sizeof(band) - 1;
		k.mv_data = band + 1;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
			break;
		if (k.mv_size != sizeof(band) - 1 || v.mv_size != sizeof(r) ||
		    memcmp(k.mv_data, band + 1, 5) != 0) {
			rc = MDB_NOTFOUND;
			break;
		}
		memcpy(band + 1, k.mv_data, k.mv_size);
		memcpy(&r, v.mv_data, sizeof(r));
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		k.mv_size = sizeof(band);
		k.mv_data = band;
		v.mv_size = sizeof(r);
		v.mv_data = &r;
		if ((rc = mdb_put(t->t_txn, t->t_dbi[DB_META], &k, &v, 0)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

static int
qtx_ready_del(struct qtx *t, const struct job *j)
{
	uint8_t	 kb[QUEUE_READY_KEYLEN];
	MDB_val	 k = { sizeof(kb), kb };
	int	 rc;

	qtx_ready_key(kb, j);
	if ((rc = mdb_del(t->t_txn, t->t_dbi[DB_META], &k, NULL)) == 0)
		return (qtx_ready_refill(t, kb));
	if (rc != MDB_NOTFOUND)
		return (rc);
	k.mv_size = sizeof(kb) - 1;
	k.mv_data = kb + 1;
	rc = mdb_del(t->t_txn, t->t_dbi[DB_BACKLOG], &k, NULL);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * One job more (delta 1) or less (-1) that needs j's spool file; at 0
 * the count goes and the file is listed for removal after the commit.
 */
static int
qtx_spool_ref(struct qtx *t, const struct job *j, int delta)
{
	struct queue	*q = t->t_q;
	MDB_val		 k, v;
	uint8_t		 cb[8];
	uint64_t	 n = 0;
	int		 rc;

	if (j->j_srckind != SRC_SPOOL || !spool_name_ok(j->j_path))
		return (0);
	k.mv_size = strlen(j->j_path);
	k.mv_data = (void *)j->j_path;
	rc = mdb_get(t->t_txn, t->t_dbi[DB_SPOOL], &k, &v);
	if (rc == 0 && v.mv_size == 8)
		n = util_get_be64(v.mv_data);
	else if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	if (delta > 0)
		n++;
	else if (n > 0)
		n--;
	if (n > 0) {
		util_put_be64(cb, n);
		v.mv_size = 8;
		v.mv_data = cb;
		return (mdb_put(t->t_txn, t->t_dbi[DB_SPOOL], &k, &v, 0));
	}
	rc = mdb_del(t->t_txn, t->t_dbi[DB_SPOOL], &k, NULL);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	if (q->q_nunlink == q->q_unlinkcap) {
		q->q_unlinkcap = q->q_unlinkcap == 0 ? 16 : q->q_unlinkcap * 2;
		q->q_unlink = xreallocarray(q->q_unlink, q->q_unlinkcap,
		    sizeof(*q->q_unlink));
	}
	strlcpy(q->q_unlink[q->q_nunlink++], j->j_path,
	    sizeof(q->q_unlink[0]));
	return (0);
}

/* Move a job to a finished state, in its record and the counts. */
static int
qtx_finish_count(struct qtx *t, struct job *j, int state)
{
	int	 from = j->j_state, rc;

	/* Done and cancelled jobs need their spool file no more. */
	if (state != JOB_DEAD && (rc = qtx_spool_ref(t, j, -1)) != 0)
		return (rc);
	j->j_state = state;
	j->j_updated = t->t_now;
	j->j_lease_deadline = 0;
	if (state == JOB_DONE)
		t->t_m.m_done++;
	else if (state == JOB_CANCELLED)
		t->t_m.m_cancelled++;
	return (qtx_move(t, j->j_tenant_id, from, state));
}

/* Move a job to a finished state and index it for retention. */
static int
qtx_finish(struct qtx *t, struct job *j, int state)
{
	int	 rc;

	if ((rc = qtx_finish_count(t, j, state)) != 0)
		return (rc);
	return (qtx_timed(t, state == JOB_DEAD ? DB_DEAD : DB_DONE,
	    t->t_now, j->j_id, 0));
}

static void
qtx_lease_key(uint8_t *kb, uint64_t id)
{
	kb[0] = QMETA_LEASE;
	util_put_be64(kb + 1, id);
}

/*
 * The cursor's next record of meta (op, then MDB_NEXT) if it is of one
 * kind: its key's first byte, keylen bytes long.  0, or MDB_NOTFOUND
 * past the last of them.  A key of the kind but not of its length is a
 * database's name ("tenants" among the tenant counts) and is passed.
 */
static int
qtx_meta_next(MDB_cursor *c, int kind, size_t keylen, MDB_val *k,
    MDB_val *v, int *op)
{
	int	 rc;

	do {
		if ((rc = mdb_cursor_get(c, k, v, *op)) != 0)
			return (rc);
		*op = MDB_NEXT;
		if (k->mv_size == 0 || ((uint8_t *)k->mv_data)[0] != kind)
			return (MDB_NOTFOUND);
	} while (k->mv_size != keylen);
	return (0);
}

/*
 * The next lease of a cursor on meta, and its id: with *op MDB_SET_RANGE,
 * the first whose key is kb or after.  MDB_NOTFOUND past the last lease.
 */
static int
qtx_lease_next(MDB_cursor *c, int *op, uint8_t *kb, uint64_t *id,
    struct qlease *l)
{
	MDB_val	 k, v;
	int	 rc;

	do {
		k.mv_size = QMETA_LEASE_KEYLEN;
		k.mv_data = kb;
		if ((rc = qtx_meta_next(c, QMETA_LEASE, QMETA_LEASE_KEYLEN,
		    &k, &v, op)) != 0)
			return (rc);
	} while (v.mv_size != sizeof(*l));
	memcpy(l, v.mv_data, sizeof(*l));
	*id = util_get_be64((uint8_t *)k.mv_data + 1);
	return (0);
}

/* The lease of id, or (*fin set) the finished lease an ack left. */
static int
qtx_lease_read(struct qtx *t, uint64_t id, struct qfin *f, int *fin)
{
	uint8_t	 kb[QMETA_LEASE_KEYLEN];
	MDB_val	 k = { sizeof(kb), kb }, v;
	int	 rc;

	qtx_lease_key(kb, id);
	if ((rc = mdb_get(t->t_txn, t->t_dbi[DB_META], &k, &v)) != 0)
		return (rc == MDB_NOTFOUND ? QUEUE_ENOENT : rc);
	if (v.mv_size != sizeof(f->f_lease) && v.mv_size != sizeof(*f))
		return (QUEUE_ERROR);
	memset(f, 0, sizeof(*f));
	memcpy(f, v.mv_data, v.mv_size);
	*fin = v.mv_size == sizeof(*f);
	return (0);
}

/* The lease of id: QUEUE_ENOENT when there is none, or it finished. */
static int
qtx_lease_get(struct qtx *t, uint64_t id, struct qlease *l)
{
	struct qfin	 f;
	int		 rc, fin;

	if ((rc = qtx_lease_read(t, id, &f, &fin)) != 0)
		return (rc);
	if (fin)
		return (QUEUE_ENOENT);
	*l = f.f_lease;
	return (0);
}

static int
qtx_lease_put(struct qtx *t, uint64_t id, const struct qlease *l)
{
	uint8_t	 kb[QMETA_LEASE_KEYLEN];
	MDB_val	 k = { sizeof(kb), kb }, v = { sizeof(*l), (void *)l };

	qtx_lease_key(kb, id);
	return (mdb_put(t->t_txn, t->t_dbi[DB_META], &k, &v, 0));
}

/* A lease ends: a big job's bytes are no longer in flight. */
static void
qtx_lease_end(struct qtx *t, const struct qlease *l)
{
	if (l->l_big && t->t_m.m_big_inflight >= l->l_size)
		t->t_m.m_big_inflight -= l->l_size;
}

static int
qtx_lease_del(struct qtx *t, uint64_t id, const struct qlease *l)
{
	uint8_t	 kb[QMETA_LEASE_KEYLEN];
	MDB_val	 k = { sizeof(kb), kb };

	qtx_lease_end(t, l);
	qtx_lease_key(kb, id);
	return (mdb_del(t->t_txn, t->t_dbi[DB_META], &k, NULL));
}

/*
 * An acked job: its lease becomes a finished lease, and its record
 * stays as it was until qtx_settle.
 */
static int
qtx_lease_fin(struct qtx *t, const struct job *j, const struct qlease *l)
{
	struct qfin	 f;
	uint8_t		 kb[QMETA_LEASE_KEYLEN];
	MDB_val		 k = { sizeof(kb), kb }, v = { sizeof(f), &f };

	qtx_lease_end(t, l);
	memset(&f, 0, sizeof(f));
	f.f_lease = *l;
	f.f_done = j->j_updated;
	f.f_state = j->j_state;
	qtx_lease_key(kb, j->j_id);
	t->t_m.m_unsettled++;
	return (mdb_put(t->t_txn, t->t_dbi[DB_META], &k, &v, 0));
}

/* A settled finished lease of id: QUEUE_ENOENT when there is none. */
static int
qtx_finished_read(struct qtx *t, uint64_t id, struct qfin *f)
{
	MDB_val	 v;
	int	 rc;

	if ((rc = qtx_get_id(t, DB_FINISHED, id, &v)) != 0)
		return (rc);
	if (v.mv_size != sizeof(*f))
		return (QUEUE_ERROR);
	memcpy(f, v.mv_data, sizeof(*f));
	return (0);
}

/*
 * Move the finished leases to finished, under the same id, index them
 * in done, and delete them from meta: after every QUEUE_SETTLE acks,
 * before a trim or a purge of done jobs, and on queue_settle().  The
 * records stay as they are: qtx_job_get reads finished.
 */
static int
qtx_settle(struct qtx *t)
{
	struct qfin	 f;
	MDB_cursor	*c;
	MDB_val		 k, v, fk = { 8, NULL }, fv = { sizeof(f), &f };
	uint8_t		 kb[QMETA_LEASE_KEYLEN];
	uint64_t	 id;
	int		 rc, op = MDB_SET_RANGE;

	if (t->t_m.m_unsettled == 0)
		return (0);
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_META], &c)) != 0)
		return (rc);
	qtx_lease_key(kb, 0);
	for (;;) {
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		if ((rc = qtx_meta_next(c, QMETA_LEASE, QMETA_LEASE_KEYLEN,
		    &k, &v, &op)) != 0)
			break;
		if (v.mv_size != sizeof(f))
			continue;
		/* Copies: an update ends what the cursor's values point to. */
		memcpy(&f, v.mv_data, sizeof(f));
		memcpy(kb, k.mv_data, sizeof(kb));
		id = util_get_be64(kb + 1);
		fk.mv_data = kb + 1;
		/* The writes move the cursor: seek again after them. */
		if ((rc = mdb_cursor_del(c, 0)) != 0 ||
		    (rc = qtx_put_tail(t, DB_FINISHED, &fk, &fv)) != 0 ||
		    (rc = qtx_timed(t, DB_DONE, f.f_done, id, 0)) != 0)
			break;
		qtx_lease_key(kb, id + 1);
		op = MDB_SET_RANGE;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return (rc);
	t->t_m.m_unsettled = 0;
	return (0);
}

/* Find or create the tenant number for a name. */
static int
qtx_tenant(struct qtx *t, const char *name, uint32_t *tid)
{
	struct qtenant	 ts;
	uint8_t		 kb[4];
	MDB_val		 k, v, tk = { 4, kb }, tv;
	size_t		 len = strlen(name);
	int		 rc;

	k.mv_size = len;
	k.mv_data = (void *)name;
	rc = mdb_get(t->t_txn, t->t_dbi[DB_TENANTS], &k, &v);
	if (rc == 0 && v.mv_size == 4) {
		*tid = util_get_be32(v.mv_data);
		return (0);
	}
	if (rc != MDB_NOTFOUND)
		return (rc == 0 ? QUEUE_ERROR : rc);
	if (t->t_m.m_next_tenant > UINT32_MAX)
		return (QUEUE_EINVAL);
	*tid = t->t_m.m_next_tenant++;
	util_put_be32(kb, *tid);
	v.mv_size = 4;
	v.mv_data = kb;
	if ((rc = mdb_put(t->t_txn, t->t_dbi[DB_TENANTS], &k, &v, 0)) != 0)
		return (rc);
	memset(&ts, 0, sizeof(ts));
	ts.t_namelen = len;
	memcpy(ts.t_name, name, len);
	tv.mv_size = sizeof(ts);
	tv.mv_data = &ts;
	return (mdb_put(t->t_txn, t->t_dbi[DB_TSTATE], &tk, &tv, 0));
}

/* Enqueue. */

struct queue_enq_arg {
	struct queue	*ea_q;
	struct queue_new *ea_jobs;
	size_t		 ea_n;
};

static int
qlmdb_enqueue_txn(MDB_txn *txn, void *arg)
{
	struct queue_enq_arg	*ea = arg;
	struct queue_new	*qn;
	struct qtx		 t;
	struct job		 j;
	const char		*tenant, *last = NULL;
	uint32_t		 tid = 0;
	uint8_t			 idb[8];
	MDB_val			 k, v;
	size_t			 i;
	int			 rc;

	if ((rc = qtx_begin(&t, ea->ea_q, txn)) != 0)
		return (rc);
	for (i = 0; i < ea->ea_n; i++) {
		qn = &ea->ea_jobs[i];
		qn->qn_dup = 0;
		qn->qn_id = t.t_m.m_next_id;
		if (qn->qn_key != NULL && qn->qn_key[0] != '\0') {
			k.mv_size = strlen(qn->qn_key);
			k.mv_data = (void *)qn->qn_key;
			util_put_be64(idb, qn->qn_id);
			v.mv_size = 8;
			v.mv_data = idb;
			rc = mdb_put(txn, t.t_dbi[DB_KEYS], &k, &v,
			    MDB_NOOVERWRITE);
			if (rc == MDB_KEYEXIST) {
				qn->qn_id = util_get_be64(v.mv_data);
				qn->qn_dup = 1;
				continue;
			}
			if (rc != 0)
				return (rc);
		}
		tenant = qn->qn_tenant != NULL && qn->qn_tenant[0] != '\0' ?
		    qn->qn_tenant : QUEUE_DEFAULT_TENANT;
		if (last == NULL || strcmp(tenant, last) != 0) {
			if ((rc = qtx_tenant(&t, tenant, &tid)) != 0)
				return (rc);
			last = tenant;
		}
		memset(&j, 0, sizeof(j));
		j.j_id = t.t_m.m_next_id++;
		if (qn->qn_key != NULL)
			strlcpy(j.j_key, qn->qn_key, sizeof(j.j_key));
		strlcpy(j.j_tenant, tenant, sizeof(j.j_tenant));
		j.j_tenant_id = tid;
		j.j_prio = qn->qn_prio;
		j.j_size = qn->qn_size;
		j.j_srckind = qn->qn_srckind;
		if (qn->qn_path != NULL)
			strlcpy(j.j_path, qn->qn_path, sizeof(j.j_path));
		j.j_off = qn->qn_off;
		j.j_len = qn->qn_len;
		if (qn->qn_lang != NULL)
			strlcpy(j.j_lang, qn->qn_lang, sizeof(j.j_lang));
		j.j_state = qn->qn_dead != NULL ? JOB_DEAD : JOB_READY;
		j.j_created = j.j_updated = t.t_now;
		if (qn->qn_dead != NULL)
			strlcpy(j.j_error, qn->qn_dead, sizeof(j.j_error));
		if (qn->qn_extid != NULL)
			strlcpy(j.j_extid, qn->qn_extid, sizeof(j.j_extid));
		if (qn->qn_title != NULL)
			strlcpy(j.j_title, qn->qn_title, sizeof(j.j_title));
		if (qn->qn_ctype != NULL)
			strlcpy(j.j_ctype, qn->qn_ctype, sizeof(j.j_ctype));
		if ((rc = qtx_job_put(&t, &j, MDB_APPEND)) != 0 ||
		    (rc = qtx_spool_ref(&t, &j, 1)) != 0)
			return (rc);
		if (qn->qn_dead != NULL) {
			/* A part of a job that failed on its own. */
			if ((rc = qtx_timed(&t, DB_DEAD, t.t_now, j.j_id, 0))
			    != 0)
				return (rc);
			if ((rc = qtx_move(&t, tid, -1, JOB_DEAD)) != 0)
				return (rc);
			t.t_m.m_failed++;
			t.t_m.m_enqueued++;
			continue;
		}
		if ((rc = qtx_ready_put(&t, &j, t.t_now)) != 0)
			return (rc);
		if ((rc = qtx_move(&t, tid, -1, JOB_READY)) != 0)
			return (rc);
		t.t_m.m_enqueued++;
	}
	return (qtx_end(&t));
}

/*
 * Enqueue n jobs in one transaction.  A job whose idempotency key is
 * known gets the existing job's id and qn_dup set, and is not added.
 */
static int
qlmdb_enqueue(struct queue *q, struct queue_new *jobs, size_t n)
{
	struct queue_enq_arg	 ea;

	if (n == 0)
		return (0);
	ea.ea_q = q;
	ea.ea_jobs = jobs;
	ea.ea_n = n;
	return (qlmdb_result(__func__,
	    qlmdb_write(q, qlmdb_enqueue_txn, &ea)));
}

/* Claim and ack. */

struct queue_claim_arg {
	struct queue		*ca_q;
	const struct queue_lease *ca_acks;
	size_t			 ca_nacks;
	int			*ca_results;
	const struct queue_owner *ca_owner;
	struct job		*ca_out;
	size_t			 ca_max;
	size_t			 ca_n;
};

/*
 * When the oldest done job finished: the first in done, or when done
 * is empty, the first finished lease (they are settled before they are
 * QUEUE_SETTLE_MAX, so the first is about as old as any).
 */
static int
qtx_oldest_done(struct qtx *t, uint64_t *when)
{
	struct qfin	 f;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint8_t		 kb[QMETA_LEASE_KEYLEN];
	int		 rc, op = MDB_SET_RANGE;

	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_DONE], &c)) != 0)
		return (rc);
	rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	mdb_cursor_close(c);
	if (rc == 0 && k.mv_size == 16)
		*when = util_get_be64(k.mv_data);
	if (rc != MDB_NOTFOUND || t->t_m.m_unsettled == 0)
		return (rc == 0 && k.mv_size != 16 ? MDB_NOTFOUND : rc);
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_META], &c)) != 0)
		return (rc);
	qtx_lease_key(kb, 0);
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	while ((rc = qtx_meta_next(c, QMETA_LEASE, QMETA_LEASE_KEYLEN, &k, &v,
	    &op)) == 0) {
		if (v.mv_size == sizeof(f)) {
			memcpy(&f, v.mv_data, sizeof(f));
			*when = f.f_done;
			break;
		}
	}
	mdb_cursor_close(c);
	return (rc);
}

/*
 * How many done jobs are kept: retain_done, or twice as many while
 * jobs wait to be claimed.  A trim frees the pages of the jobs it
 * deletes, and under a backlog the free pages pile up on LMDB's free
 * list, which every commit after then writes several pages of; so the
 * commits of a backlog leave the done jobs be, up to the higher bound,
 * and the first acks after it trim them back.
 */
static uint64_t
qtx_retain_keep(const struct qtx *t)
{
	uint64_t	 n = t->t_q->q_conf.qc_retain_done;

	if (t->t_m.m_count[JOB_READY] == 0 || n > UINT64_MAX / 2)
		return (n);
	return (2 * n);
}

/*
 * Whether the done jobs are over a retention limit by more than its
 * slack: then they are trimmed, in one batch, down to the limit.
 */
static int
qtx_retain_due(struct qtx *t, int *due)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	uint64_t	 ndone, slack, grace, age, when, keep;
	int		 rc;

	*due = 0;
	ndone = t->t_m.m_count[JOB_DONE] + t->t_m.m_count[JOB_CANCELLED];
	if (ndone == 0)
		return (0);
	slack = qc->qc_retain_done / QUEUE_TRIM_PART;
	if (slack > QUEUE_TRIM_SLACK)
		slack = QUEUE_TRIM_SLACK;
	keep = qtx_retain_keep(t);
	if (ndone > keep + slack) {
		*due = 1;
		return (0);
	}
	grace = qc->qc_retain_age_ms / QUEUE_TRIM_PART;
	if (grace > QUEUE_TRIM_GRACE_MS)
		grace = QUEUE_TRIM_GRACE_MS;
	age = qc->qc_retain_age_ms > UINT64_MAX - grace ? UINT64_MAX :
	    qc->qc_retain_age_ms + grace;
	if ((rc = qtx_oldest_done(t, &when)) == 0 &&
	    !qtx_younger(t, when, age))
		*due = 1;
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* Trim done jobs beyond the retention count or age, at most max of them. */
static int
qtx_retain(struct qtx *t, size_t max)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct job	 j;
	uint64_t	 ndone, when, id, keep = qtx_retain_keep(t);
	size_t		 n = 0;
	int		 rc;

	ndone = t->t_m.m_count[JOB_DONE] + t->t_m.m_count[JOB_CANCELLED];
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_DONE], &c)) != 0)
		return (rc);
	while (n < max && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		when = util_get_be64(k.mv_data);
		id = util_get_be64((uint8_t *)k.mv_data + 8);
		if (ndone <= keep &&
		    qtx_younger(t, when, qc->qc_retain_age_ms))
			break;
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		if ((rc = qtx_job_get(t, id, &j)) == 0) {
			if ((rc = qtx_job_forget(t, &j)) != 0 ||
			    (rc = qtx_move(t, j.j_tenant_id, j.j_state,
			    -1)) != 0)
				break;
		} else if (rc != QUEUE_ENOENT)
			break;
		ndone--;
		n++;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND || rc == QUEUE_ENOENT ? 0 : rc);
}

static int
qtx_ack(struct qtx *t, const struct queue_lease *ql, int *result)
{
	struct qlease	 l;
	struct job	 j;
	int		 rc;

	rc = qtx_lease_get(t, ql->ql_id, &l);
	if (rc == QUEUE_ENOENT || (rc == 0 && l.l_gen != ql->ql_gen)) {
		*result = QUEUE_ESTALE;
		return (0);
	}
	if (rc != 0)
		return (rc);
	if ((rc = qtx_job_get(t, ql->ql_id, &j)) != 0 ||
	    (rc = qtx_finish_count(t, &j, l.l_cancel ? JOB_CANCELLED :
	    JOB_DONE)) != 0 || (rc = qtx_lease_fin(t, &j, &l)) != 0)
		return (rc);
	t->t_m.m_completed++;
	*result = l.l_cancel ? QUEUE_ECANCEL : QUEUE_OK;
	return (0);
}

/* Make retrying jobs whose time has come ready again. */
static int
qtx_promote(struct qtx *t)
{
	MDB_cursor	*c;
	MDB_val		 k, v;
	struct job	 j;
	uint64_t	 id;
	size_t		 n = 0;
	int		 rc;

	if (t->t_m.m_count[JOB_RETRY] == 0)
		return (0);
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_DELAYED], &c)) != 0)
		return (rc);
	while (n++ < QUEUE_PROMOTE_MAX &&
	    (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0) {
		if (k.mv_size != 16 || util_get_be64(k.mv_data) > t->t_now)
			break;
		id = util_get_be64((uint8_t *)k.mv_data + 8);
		if ((rc = mdb_cursor_del(c, 0)) != 0)
			break;
		if ((rc = qtx_job_get(t, id, &j)) != 0)
			break;
		if (j.j_state != JOB_RETRY)
			continue;
		if ((rc = qtx_move(t, j.j_tenant_id, JOB_RETRY, JOB_READY))
		    != 0)
			break;
		j.j_state = JOB_READY;
		j.j_updated = t->t_now;
		if ((rc = qtx_job_put(t, &j, 0)) != 0 ||
		    (rc = qtx_ready_put(t, &j, j.j_runat)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* The next tenant after tid that has ready jobs, wrapping around. */
static int
qtx_next_tenant(MDB_cursor *c, uint32_t tid, uint32_t *next)
{
	uint8_t	 kb[QUEUE_READY_KEYLEN];
	MDB_val	 k, v;
	int	 rc = MDB_NOTFOUND;

	memset(kb, 0, sizeof(kb));
	kb[0] = QMETA_READY;
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	if (tid < UINT32_MAX) {
		util_put_be32(kb + 1, tid + 1);
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && !qtx_is_ready(&k))
			rc = MDB_NOTFOUND;
	}
	if (rc == MDB_NOTFOUND) {
		/* Around, to the first tenant. */
		memset(kb + 1, 0, sizeof(kb) - 1);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == 0 && !qtx_is_ready(&k))
			rc = MDB_NOTFOUND;
	}
	if (rc != 0)
		return (rc);
	*next = util_get_be32((uint8_t *)k.mv_data + 1);
	return (0);
}

/*
 * The job tenant tid should run next: the head of each priority band
 * (its oldest job) competes on priority plus age.
 */
static int
qtx_pick(struct qtx *t, MDB_cursor *c, uint32_t tid, uint8_t *best,
    struct qready *bestr)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	uint8_t		 kb[QUEUE_READY_KEYLEN];
	MDB_val		 k, v;
	struct qready	 r;
	uint64_t	 eff, besteff = 0, aging;
	int		 band, prio, found = 0, rc;

	aging = qc->qc_aging_ms > 0 ? qc->qc_aging_ms : UINT64_MAX;
	memset(kb, 0, sizeof(kb));
	kb[0] = QMETA_READY;
	util_put_be32(kb + 1, tid);
	for (band = 0; band <= JOB_PRIO_MAX; band++) {
		kb[5] = band;
		memset(kb + 6, 0, 8);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc != 0)
			return (rc);
		if (!qtx_is_ready(&k) || v.mv_size != sizeof(r) ||
		    util_get_be32((uint8_t *)k.mv_data + 1) != tid)
			break;
		band = ((uint8_t *)k.mv_data)[5];
		memcpy(&r, v.mv_data, sizeof(r));
		prio = JOB_PRIO_MAX - band;
		eff = (uint64_t)prio * 1000000 + (t->t_now > r.r_enq ?
		    (t->t_now - r.r_enq) / aging * 1000000 : 0);
		/* Bands are visited urgent first: ties keep the earlier. */
		if (!found || eff > besteff) {
			memcpy(best, k.mv_data, QUEUE_READY_KEYLEN);
			*bestr = r;
			besteff = eff;
			found = 1;
		}
	}
	return (found ? 0 : MDB_NOTFOUND);
}

static int
qtx_tstate(struct qtx *t, uint32_t tid, struct qtenant *ts, int put)
{
	uint8_t	 kb[4];
	MDB_val	 k = { 4, kb }, v;
	int	 rc;

	util_put_be32(kb, tid);
	if (put) {
		v.mv_size = sizeof(*ts);
		v.mv_data = ts;
		return (mdb_put(t->t_txn, t->t_dbi[DB_TSTATE], &k, &v, 0));
	}
	if ((rc = mdb_get(t->t_txn, t->t_dbi[DB_TSTATE], &k, &v)) != 0) {
		if (rc != MDB_NOTFOUND)
			return (rc);
		memset(ts, 0, sizeof(*ts));
		return (0);
	}
	if (v.mv_size != sizeof(*ts))
		return (QUEUE_ERROR);
	memcpy(ts, v.mv_data, sizeof(*ts));
	return (0);
}

/*
 * A batch that follows the size of a commit (n jobs): per times n,
 * from lo to hi.
 */
static size_t
qtx_per_commit(size_t n, size_t per, size_t lo, size_t hi)
{
	if (n > hi / per)
		return (hi);
	return (n * per < lo ? lo : n * per);
}

/* Lease the job whose ready key is kb to the claiming worker. */
static int
qtx_lease(struct qtx *t, struct queue_claim_arg *ca, const uint8_t *kb,
    const struct qready *r, int big)
{
	struct job	*j = &ca->ca_out[ca->ca_n];
	struct qlease	 l;
	MDB_val		 k = { QUEUE_READY_KEYLEN, (void *)kb };
	uint64_t	 id;
	int		 rc;

	id = util_get_be64(kb + 6);
	if ((rc = mdb_del(t->t_txn, t->t_dbi[DB_META], &k, NULL)) != 0 ||
	    (rc = qtx_ready_refill(t, kb)) != 0)
		return (rc);
	/* A ready job has no lease, and has not finished. */
	if ((rc = qtx_job_record(t, id, j)) != 0)
		return (rc);
	memset(&l, 0, sizeof(l));
	l.l_gen = t->t_m.m_next_gen++;
	l.l_pid = ca->ca_owner->qo_pid;
	l.l_slot = ca->ca_owner->qo_slot;
	l.l_deadline = t->t_now + t->t_q->q_conf.qc_lease_ms;
	l.l_claimed = t->t_now;
	l.l_size = r->r_size;
	l.l_big = big;
	if (big)
		t->t_m.m_big_inflight += r->r_size;
	if ((rc = qtx_move(t, j->j_tenant_id, j->j_state, JOB_LEASED)) != 0)
		return (rc);
	/* The record stays as it is: the lease says what changed. */
	j->j_state = JOB_LEASED;
	j->j_updated = t->t_now;
	j->j_lease_gen = l.l_gen;
	j->j_lease_pid = l.l_pid;
	j->j_lease_slot = l.l_slot;
	j->j_lease_deadline = l.l_deadline;
	j->j_progress = 0;
	j->j_cancel = 0;
	if ((rc = qtx_lease_put(t, id, &l)) != 0)
		return (rc);
	ca->ca_n++;
	return (0);
}

static int
qtx_claim(struct qtx *t, struct queue_claim_arg *ca)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	MDB_cursor	*c;
	struct qtenant	 ts;
	struct qready	 r;
	uint8_t		 kb[QUEUE_READY_KEYLEN];
	uint64_t	 bytes = 0, unit;
	int64_t		 deficit;
	uint32_t	 tid, blocked_tid = 0;
	size_t		 visits = 0, blocked = 0;
	int		 rc, big;

	if (t->t_m.m_count[JOB_READY] == 0 || ca->ca_max == 0)
		return (0);
	unit = qc->qc_fair_unit > 0 ? qc->qc_fair_unit : 1;
	/* A refill feeds QUEUE_HEAD_ROUNDS claims of this size. */
	t->t_head = qtx_per_commit(ca->ca_max, QUEUE_HEAD_ROUNDS, QUEUE_HEAD,
	    QUEUE_HEAD_MAX);
	memset(&r, 0, sizeof(r));
	/* Every step seeks: the claim's writes to meta move the cursor. */
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[DB_META], &c)) != 0)
		return (rc);
	tid = t->t_m.m_rr_tenant;
	while (ca->ca_n < ca->ca_max && visits++ < QUEUE_CLAIM_VISITS) {
		if ((rc = qtx_next_tenant(c, tid, &tid)) != 0)
			break;
		if ((rc = qtx_pick(t, c, tid, kb, &r)) != 0)
			break;
		big = r.r_size >= qc->qc_big_bytes;
		/*
		 * A job that does not fit the claim's byte budget, or a big
		 * one while big jobs fill their share, waits; once every
		 * tenant in turn is waiting, the claim ends.
		 */
		if ((ca->ca_n > 0 && bytes + r.r_size > qc->qc_claim_bytes) ||
		    (big && (qc->qc_big_inflight == 0 ||
		    (t->t_m.m_big_inflight > 0 &&
		    t->t_m.m_big_inflight + r.r_size > qc->qc_big_inflight)))) {
			if (blocked > 0 && tid == blocked_tid)
				break;
			if (blocked++ == 0)
				blocked_tid = tid;
			continue;
		}
		if ((rc = qtx_tstate(t, tid, &ts, 0)) != 0)
			break;
		deficit = ts.t_deficit;
		ts.t_deficit += unit;
		if ((uint64_t)ts.t_deficit >= r.r_size) {
			if ((rc = qtx_lease(t, ca, kb, &r, big)) != 0)
				break;
			bytes += r.r_size;
			ts.t_deficit -= r.r_size;
			if ((uint64_t)ts.t_deficit > unit)
				ts.t_deficit = unit;
			t->t_m.m_rr_tenant = tid;
			blocked = 0;
		}
		/* Small jobs leave the deficit at one unit: a page not written. */
		if (ts.t_deficit != deficit &&
		    (rc = qtx_tstate(t, tid, &ts, 1)) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Whether the finished leases are worth settling, after an ack of
 * nacks jobs: once they are QUEUE_SETTLE times as many.  A settling
 * writes a few leaves of jobs and done and the branch pages above them
 * whatever its size, and the finished leases it deletes make meta
 * bigger till then: a worker that acks one job at a time keeps meta
 * one page (16 finished leases), one that acks 16 writes several
 * leaves of leases at every commit anyway, and settles less often.
 */
static int
qtx_settle_due(const struct qtx *t, size_t nacks)
{
	return (t->t_m.m_unsettled >= (uint64_t)qtx_per_commit(nacks,
	    QUEUE_SETTLE, 0, QUEUE_SETTLE_MAX));
}

static int
qlmdb_claim_txn(MDB_txn *txn, void *arg)
{
	struct queue_claim_arg	*ca = arg;
	struct qtx		 t;
	size_t			 i;
	int			 rc, due;

	ca->ca_n = 0;
	if ((rc = qtx_begin(&t, ca->ca_q, txn)) != 0)
		return (rc);
	for (i = 0; i < ca->ca_nacks; i++)
		if ((rc = qtx_ack(&t, &ca->ca_acks[i], &ca->ca_results[i])) != 0)
			return (rc);
	if (ca->ca_nacks > 0) {
		if ((rc = qtx_retain_due(&t, &due)) != 0 ||
		    ((due || qtx_settle_due(&t, ca->ca_nacks)) &&
		    (rc = qtx_settle(&t)) != 0) ||
		    (due && (rc = qtx_retain(&t, 2 * QUEUE_TRIM_SLACK +
		    2 * ca->ca_nacks)) != 0))
			return (rc);
	}
	if (ca->ca_max > 0) {
		if ((rc = qtx_promote(&t)) != 0)
			return (rc);
		if ((rc = qtx_claim(&t, ca)) != 0)
			return (rc);
	}
	return (qtx_end(&t));
}

/*
 * Ack the finished jobs acks[0..nacks) (results[i] is QUEUE_OK,
 * QUEUE_ECANCEL when the job ended cancelled, or QUEUE_ESTALE when the
 * lease was lost) and claim up to max new jobs into out, all in one
 * transaction: a worker pays one commit per round.
 */
static int
qlmdb_ack_claim(struct queue *q, const struct queue_lease *acks,
    size_t nacks, int *results, const struct queue_owner *owner,
    struct job *out, size_t max, size_t *n)
{
	struct queue_claim_arg	 ca;
	int			 rc;

	memset(&ca, 0, sizeof(ca));
	ca.ca_q = q;
	ca.ca_acks = acks;
	ca.ca_nacks = nacks;
	ca.ca_results = results;
	ca.ca_owner = owner;
	ca.ca_out = out;
	ca.ca_max = max;
	rc = qlmdb_write(q, qlmdb_claim_txn, &ca);
	if (n != NULL)
		*n = rc == 0 ? ca.ca_n : 0;
	return (qlmdb_result(__func__, rc));
}

static int
qlmdb_claim(struct queue *q, const struct queue_owner *owner,
    struct job *out, size_t max, size_t *n)
{
	return (qlmdb_ack_claim(q, NULL, 0, NULL, owner, out, max, n));
}

static int
qlmdb_ack(struct queue *q, const struct queue_lease *acks, size_t n,
    int *results)
{
	return (qlmdb_ack_claim(q, acks, n, results, NULL, NULL, 0, NULL));
}

static int
qlmdb_settle_txn(MDB_txn *txn, void *arg)
{
	struct qtx	 t;
	int		 rc;

	if ((rc = qtx_begin(&t, arg, txn)) != 0 ||
	    (rc = qtx_settle(&t)) != 0)
		return (rc);
	return (qtx_end(&t));
}

/*
 * Write the records of the jobs acked since the last settling, which
 * acks do in batches (QUEUE_SETTLE), and index them in done.  Nothing a
 * reader sees changes.
 */
static int
qlmdb_settle(struct queue *q)
{
	return (qlmdb_result(__func__, qlmdb_write(q, qlmdb_settle_txn, q)));
}

/* Heartbeat, fail and cancel. */

struct queue_one_arg {
	struct queue	*oa_q;
	uint64_t	 oa_id;
	uint64_t	 oa_gen;
	uint64_t	 oa_progress;
	const char	*oa_reason;
	int		 oa_permanent;
	int		 oa_state;	/* out */
	int		 oa_result;	/* out, for committed outcomes */
	struct queue_cancelled *oa_cx;	/* out, for cancel */
};

static int
qlmdb_heartbeat_txn(MDB_txn *txn, void *arg)
{
	struct queue_one_arg	*oa = arg;
	struct qtx		 t;
	struct qlease		 l;
	int			 rc;

	if ((rc = qtx_begin(&t, oa->oa_q, txn)) != 0)
		return (rc);
	rc = qtx_lease_get(&t, oa->oa_id, &l);
	if (rc == QUEUE_ENOENT || (rc == 0 && l.l_gen != oa->oa_gen))
		return (QUEUE_ESTALE);
	if (rc != 0)
		return (rc);
	l.l_progress = oa->oa_progress;
	l.l_deadline = t.t_now + oa->oa_q->q_conf.qc_lease_ms;
	oa->oa_result = l.l_cancel ? QUEUE_ECANCEL : QUEUE_OK;
	return (qtx_lease_put(&t, oa->oa_id, &l));
}

/*
 * Extend a lease and record progress.  QUEUE_ECANCEL: the lease is
 * extended but the job was cancelled; stop and ack it.
 */
static int
qlmdb_heartbeat(struct queue *q, uint64_t id, uint64_t gen, uint64_t progress)
{
	struct queue_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	oa.oa_q = q;
	oa.oa_id = id;
	oa.oa_gen = gen;
	oa.oa_progress = progress;
	rc = qlmdb_write(q, qlmdb_heartbeat_txn, &oa);
	if (rc == 0)
		return (oa.oa_result);
	return (qlmdb_result(__func__, rc));
}

/* Count a failed attempt: retry later, or dead letter. */
static int
qtx_fail_job(struct qtx *t, struct job *j, const char *reason, int permanent)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	int			 rc;

	j->j_attempts++;
	strlcpy(j->j_error, reason, sizeof(j->j_error));
	j->j_lease_deadline = 0;
	if (j->j_cancel)
		return (qtx_finish(t, j, JOB_CANCELLED));
	if (permanent || j->j_attempts >= qc->qc_max_attempts) {
		t->t_m.m_failed++;
		return (qtx_finish(t, j, JOB_DEAD));
	}
	if ((rc = qtx_move(t, j->j_tenant_id, j->j_state, JOB_RETRY)) != 0)
		return (rc);
	t->t_m.m_retried++;
	j->j_state = JOB_RETRY;
	j->j_updated = t->t_now;
	j->j_runat = t->t_now + queue_backoff(qc, j->j_attempts);
	return (qtx_timed(t, DB_DELAYED, j->j_runat, j->j_id, 0));
}

static int
qlmdb_fail_txn(MDB_txn *txn, void *arg)
{
	struct queue_one_arg	*oa = arg;
	struct qtx		 t;
	struct qlease		 l;
	struct job		 j;
	int			 rc;

	if ((rc = qtx_begin(&t, oa->oa_q, txn)) != 0)
		return (rc);
	rc = qtx_lease_get(&t, oa->oa_id, &l);
	if (rc == QUEUE_ENOENT || (rc == 0 && l.l_gen != oa->oa_gen))
		return (QUEUE_ESTALE);
	if (rc != 0)
		return (rc);
	if ((rc = qtx_job_get(&t, oa->oa_id, &j)) != 0 ||
	    (rc = qtx_lease_del(&t, oa->oa_id, &l)) != 0)
		return (rc);
	if ((rc = qtx_fail_job(&t, &j, oa->oa_reason, oa->oa_permanent)) != 0 ||
	    (rc = qtx_job_put(&t, &j, 0)) != 0)
		return (rc);
	oa->oa_state = j.j_state;
	return (qtx_end(&t));
}

/*
 * The lease holder reports a failure.  A permanent one (bad input) is a
 * dead letter at once; others are retried until max attempts.  *state
 * is the job's new state.
 */
static int
qlmdb_fail(struct queue *q, uint64_t id, uint64_t gen, const char *reason,
    int permanent, int *state)
{
	struct queue_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	oa.oa_q = q;
	oa.oa_id = id;
	oa.oa_gen = gen;
	oa.oa_reason = reason != NULL ? reason : "failed";
	oa.oa_permanent = permanent;
	rc = qlmdb_write(q, qlmdb_fail_txn, &oa);
	if (rc == 0 && state != NULL)
		*state = oa.oa_state;
	return (qlmdb_result(__func__, rc));
}

static int
qlmdb_cancel_txn(MDB_txn *txn, void *arg)
{
	struct queue_one_arg	*oa = arg;
	struct qtx		 t;
	struct qlease		 l;
	struct job		 j;
	int			 rc;

	if ((rc = qtx_begin(&t, oa->oa_q, txn)) != 0 ||
	    (rc = qtx_job_get(&t, oa->oa_id, &j)) != 0)
		return (rc);
	oa->oa_cx->qx_state = j.j_state;
	switch (j.j_state) {
	case JOB_READY:
		if ((rc = qtx_ready_del(&t, &j)) != 0)
			return (rc);
		break;
	case JOB_RETRY:
		if ((rc = qtx_timed(&t, DB_DELAYED, j.j_runat, j.j_id, 1)) != 0)
			return (rc);
		break;
	case JOB_LEASED:
		if ((rc = qtx_lease_get(&t, j.j_id, &l)) != 0)
			return (rc);
		l.l_cancel = 1;
		j.j_cancel = 1;
		oa->oa_cx->qx_gen = l.l_gen;
		oa->oa_cx->qx_pid = l.l_pid;
		oa->oa_cx->qx_slot = l.l_slot;
		if ((rc = qtx_lease_put(&t, j.j_id, &l)) != 0 ||
		    (rc = qtx_job_put(&t, &j, 0)) != 0)
			return (rc);
		oa->oa_result = QUEUE_ECANCEL;
		return (qtx_end(&t));
	default:
		return (QUEUE_ESTATE);
	}
	strlcpy(j.j_error, "cancelled", sizeof(j.j_error));
	if ((rc = qtx_finish(&t, &j, JOB_CANCELLED)) != 0 ||
	    (rc = qtx_job_put(&t, &j, 0)) != 0)
		return (rc);
	oa->oa_result = QUEUE_OK;
	return (qtx_end(&t));
}

/*
 * Cancel a job: QUEUE_OK when it is cancelled now, QUEUE_ECANCEL when it
 * is leased and its holder has been asked to stop, QUEUE_ESTATE when it
 * had already finished.  *cx says what the job was (its state before,
 * even when that was a finished one) and who holds its lease; the
 * supervisor uses that to tell the holder at once.
 */
static int
qlmdb_cancel_job(struct queue *q, uint64_t id, struct queue_cancelled *cx)
{
	struct queue_one_arg	 oa;
	int			 rc;

	memset(&oa, 0, sizeof(oa));
	memset(cx, 0, sizeof(*cx));
	cx->qx_state = -1;
	oa.oa_q = q;
	oa.oa_id = id;
	oa.oa_cx = cx;
	rc = qlmdb_write(q, qlmdb_cancel_txn, &oa);
	if (rc == 0)
		return (oa.oa_result);
	return (qlmdb_result(__func__, rc));
}

static int
qlmdb_cancel(struct queue *q, uint64_t id)
{
	struct queue_cancelled	 cx;

	return (qlmdb_cancel_job(q, id, &cx));
}

/* Release and sweep. */

struct queue_release_arg {
	struct queue	*ra_q;
	uint32_t	 ra_pid;
	const char	*ra_cause;
	uint64_t	 ra_crash;	/* job whose crash counts */
	int		 ra_sweep;	/* expired leases, not a pid */
	struct queue_release *ra_rel;
};

static int
qtx_release_one(struct qtx *t, struct queue_release_arg *ra, uint64_t id,
    const struct qlease *l)
{
	const struct queue_conf *qc = &t->t_q->q_conf;
	struct queue_release	*rel = ra->ra_rel;
	struct job		 j;
	int			 rc;

	if ((rc = qtx_job_get(t, id, &j)) != 0 ||
	    (rc = qtx_lease_del(t, id, l)) != 0)
		return (rc);
	j.j_lease_deadline = 0;
	if (l->l_cancel) {
		rel->qr_cancelled++;
		rc = qtx_finish(t, &j, JOB_CANCELLED);
	} else if (ra->ra_sweep) {
		/* A hung holder: the attempt counts. */
		j.j_cancel = 0;
		rc = qtx_fail_job(t, &j, "lease expired", 0);
		if (j.j_state == JOB_DEAD)
			rel->qr_dead++;
		else
			rel->qr_released++;
	} else {
		strlcpy(j.j_error, ra->ra_cause, sizeof(j.j_error));
		if (ra->ra_crash == QUEUE_CRASH_ALL || ra->ra_crash == id)
			j.j_crashes++;
		if ((ra->ra_crash == QUEUE_CRASH_ALL || ra->ra_crash == id) &&
		    j.j_crashes >= qc->qc_max_crashes) {
			/* A worker over its memory limit says so itself. */
			if (strncmp(ra->ra_cause, QUEUE_MEMORY_LIMIT,
			    strlen(QUEUE_MEMORY_LIMIT)) == 0)
				strlcpy(j.j_error, ra->ra_cause,
				    sizeof(j.j_error));
			else
				snprintf(j.j_error, sizeof(j.j_error),
				    "crashed worker (%s)", ra->ra_cause);
			t->t_m.m_failed++;
			rel->qr_dead++;
			rc = qtx_finish(t, &j, JOB_DEAD);
		} else if ((rc = qtx_move(t, j.j_tenant_id, j.j_state,
		    JOB_READY)) == 0) {
			j.j_state = JOB_READY;
			j.j_updated = t->t_now;
			rel->qr_released++;
			rc = qtx_ready_put(t, &j, j.j_created);
		}
	}
	if (rc != 0)
		return (rc);
	if (rel->qr_released + rel->qr_dead + rel->qr_cancelled <=
	    sizeof(rel->qr_jobs) / sizeof(rel->qr_jobs[0]))
		rel->qr_jobs[rel->qr_released + rel->qr_dead +
		    rel->qr_cancelled - 1] = id;
	t->t_m.m_released++;
	return (qtx_job_put(t, &j, 0));
}

static int
qlmdb_release_txn(MDB_txn *txn, void *arg)
{
	struct queue_release_arg *ra = arg;
	struct qtx		 t;
	struct qlease		 l;
	MDB_cursor		*c;
	uint8_t			 kb[QMETA_LEASE_KEYLEN];
	uint64_t		 id;
	int			 rc, op = MDB_SET_RANGE;

	memset(ra->ra_rel, 0, sizeof(*ra->ra_rel));
	if ((rc = qtx_begin(&t, ra->ra_q, txn)) != 0)
		return (rc);
	if (t.t_m.m_count[JOB_LEASED] == 0)
		return (0);
	if ((rc = mdb_cursor_open(txn, t.t_dbi[DB_META], &c)) != 0)
		return (rc);
	/*
	 * Leases are few (workers times claim size): scan them all.  A
	 * release writes meta, where the cursor is: seek again after it.
	 */
	qtx_lease_key(kb, 0);
	while ((rc = qtx_lease_next(c, &op, kb, &id, &l)) == 0) {
		if (ra->ra_sweep ? l.l_deadline > t.t_now :
		    l.l_pid != ra->ra_pid)
			continue;
		if ((rc = qtx_release_one(&t, ra, id, &l)) != 0)
			break;
		qtx_lease_key(kb, id + 1);
		op = MDB_SET_RANGE;
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return (rc);
	return (qtx_end(&t));
}

/*
 * The reaper's release: every lease held by pid goes back to ready in
 * one transaction.  The job that was running when the holder died
 * (crash: its id, or QUEUE_CRASH_ALL when unknown) has its crash count
 * raised, and at max_crashes it becomes a dead letter; the holder's other
 * claimed jobs never started and are not counted.  With crash 0 (a drain
 * or an orderly stop) nothing is counted.
 */
static int
qlmdb_release_pid(struct queue *q, uint32_t pid, const char *cause,
    uint64_t crash, struct queue_release *rel)
{
	struct queue_release_arg ra;
	struct queue_release	 unused;

	memset(&ra, 0, sizeof(ra));
	ra.ra_q = q;
	ra.ra_pid = pid;
	ra.ra_cause = cause != NULL ? cause : "released";
	ra.ra_crash = crash;
	ra.ra_rel = rel != NULL ? rel : &unused;
	return (qlmdb_result(__func__,
	    qlmdb_write(q, qlmdb_release_txn, &ra)));
}

static int
qlmdb_extend_txn(MDB_txn *txn, void *arg)
{
	struct queue_release_arg *ra = arg;
	struct qtx		 t;
	struct qlease		 l;
	MDB_cursor		*c;
	uint8_t			 kb[QMETA_LEASE_KEYLEN];
	uint64_t		 id;
	int			 rc, op = MDB_SET_RANGE;

	if ((rc = qtx_begin(&t, ra->ra_q, txn)) != 0)
		return (rc);
	if ((rc = mdb_cursor_open(txn, t.t_dbi[DB_META], &c)) != 0)
		return (rc);
	qtx_lease_key(kb, 0);
	while ((rc = qtx_lease_next(c, &op, kb, &id, &l)) == 0) {
		if (l.l_pid != ra->ra_pid)
			continue;
		l.l_deadline = t.t_now + t.t_q->q_conf.qc_lease_ms;
		if ((rc = qtx_lease_put(&t, id, &l)) != 0)
			break;
		qtx_lease_key(kb, id + 1);
		op = MDB_SET_RANGE;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Extend every lease pid holds: a worker's claimed jobs wait while it
 * runs the first, and must not expire meanwhile.
 */
static int
qlmdb_extend_pid(struct queue *q, uint32_t pid)
{
	struct queue_release_arg ra;

	memset(&ra, 0, sizeof(ra));
	ra.ra_q = q;
	ra.ra_pid = pid;
	return (qlmdb_result(__func__,
	    qlmdb_write(q, qlmdb_extend_txn, &ra)));
}

/* Expired leases count a failed attempt; the backstop for hung holders. */
static int
qlmdb_sweep(struct queue *q, struct queue_release *rel)
{
	struct queue_release_arg ra;
	struct queue_release	 unused;

	memset(&ra, 0, sizeof(ra));
	ra.ra_q = q;
	ra.ra_sweep = 1;
	ra.ra_rel = rel != NULL ? rel : &unused;
	return (qlmdb_result(__func__,
	    qlmdb_write(q, qlmdb_release_txn, &ra)));
}

/* Retry and purge. */

struct queue_batch_arg {
	struct queue	*ba_q;
	uint64_t	 ba_id;
	int		 ba_state;
	const char	*ba_tenant;	/* NULL: every tenant's jobs */
	uint64_t	 ba_older;
	uint64_t	 ba_keep;
	uint64_t	 ba_n;		/* out: jobs handled */
	int		 ba_more;	/* out: run again */
};

static int
qtx_revive(struct qtx *t, struct job *j)
{
	int	 rc;

	if (j->j_state == JOB_DEAD)
		rc = qtx_timed(t, DB_DEAD, j->j_updated, j->j_id, 1);
	else if (j->j_state == JOB_RETRY)
		rc = qtx_timed(t, DB_DELAYED, j->j_runat, j->j_id, 1);
	else
		return (QUEUE_ESTATE);
	if (rc != 0 ||
	    (rc = qtx_move(t, j->j_tenant_id, j->j_state, JOB_READY)) != 0)
		return (rc);
	if (j->j_state == JOB_DEAD) {
		j->j_attempts = 0;
		j->j_crashes = 0;
	}
	j->j_state = JOB_READY;
	j->j_updated = t->t_now;
	j->j_runat = 0;
	if ((rc = qtx_ready_put(t, j, t->t_now)) != 0)
		return (rc);
	return (qtx_job_put(t, j, 0));
}

static int
qlmdb_retry_txn(MDB_txn *txn, void *arg)
{
	struct queue_batch_arg	*ba = arg;
	struct qtx		 t;
	struct job		 j;
	int			 rc;

	if ((rc = qtx_begin(&t, ba->ba_q, txn)) != 0 ||
	    (rc = qtx_job_get(&t, ba->ba_id, &j)) != 0 ||
	    (rc = qtx_revive(&t, &j)) != 0)
		return (rc);
	return (qtx_end(&t));
}

/* A dead letter gets a fresh start; a retrying job runs now. */
static int
qlmdb_retry(struct queue *q, uint64_t id)
{
	struct queue_batch_arg	 ba;

	memset(&ba, 0, sizeof(ba));
	ba.ba_q = q;
	ba.ba_id = id;
	return (qlmdb_result(__func__,
	    qlmdb_write(q, qlmdb_retry_txn, &ba)));
}

/*
 * The first entry of a time-ordered database (done, dead) after the key
 * in kb, or the first of all when *first is set; kb then holds the key
 * found plus one, where the next seek starts, so that the entries this
 * pass skips (another tenant's) are not met again and the ones it
 * deletes do not disturb the walk.
 */
static int
qtx_timed_next(MDB_cursor *c, uint8_t *kb, int *first, MDB_val *k)
{
	MDB_val	 v;
	int	 rc, i;

	if (*first) {
		*first = 0;
		rc = mdb_cursor_get(c, k, &v, MDB_FIRST);
	} else {
		k->mv_size = 16;
		k->mv_data = kb;
		rc = mdb_cursor_get(c, k, &v, MDB_SET_RANGE);
	}
	if (rc != 0)
		return (rc);
	if (k->mv_size != 16)
		return (MDB_CORRUPTED);
	memcpy(kb, k->mv_data, 16);
	for (i = 15; i >= 0 && ++kb[i] == 0; i--)
		;
	return (0);
}

static int
qlmdb_retry_dead_txn(MDB_txn *txn, void *arg)
{
	struct queue_batch_arg	*ba = arg;
	struct qtx		 t;
	struct job		 j;
	MDB_cursor		*c;
	MDB_val			 k;
	uint8_t			 kb[16];
	int			 rc, first = 1;

	ba->ba_n = 0;
	ba->ba_more = 0;
	if ((rc = qtx_begin(&t, ba->ba_q, txn)) != 0)
		return (rc);
	if ((rc = mdb_cursor_open(txn, t.t_dbi[DB_DEAD], &c)) != 0)
		return (rc);
	while ((rc = qtx_timed_next(c, kb, &first, &k)) == 0) {
		if (ba->ba_n == QUEUE_BATCH) {
			ba->ba_more = 1;
			break;
		}
		if ((rc = qtx_job_get(&t, util_get_be64((uint8_t *)k.mv_data +
		    8), &j)) != 0)
			break;
		if (ba->ba_tenant != NULL &&
		    strcmp(j.j_tenant, ba->ba_tenant) != 0)
			continue;
		if ((rc = qtx_revive(&t, &j)) != 0)
			break;
		ba->ba_n++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	return (qtx_end(&t));
}

/* Every dead letter (of tenant, unless it is NULL) ready again. */
static int
qlmdb_retry_dead_tenant(struct queue *q, const char *tenant, uint64_t *n)
{
	struct queue_batch_arg	 ba;
	int			 rc;

	*n = 0;
	memset(&ba, 0, sizeof(ba));
	ba.ba_q = q;
	ba.ba_tenant = tenant;
	do {
		rc = qlmdb_write(q, qlmdb_retry_dead_txn, &ba);
		if (rc != 0)
			return (qlmdb_result(__func__, rc));
		*n += ba.ba_n;
	} while (ba.ba_more);
	return (0);
}

static int
qlmdb_retry_dead(struct queue *q, uint64_t *n)
{
	return (qlmdb_retry_dead_tenant(q, NULL, n));
}

static int
qlmdb_purge_txn(MDB_txn *txn, void *arg)
{
	struct queue_batch_arg	*ba = arg;
	struct qtx		 t;
	struct job		 j;
	MDB_cursor		*c;
	MDB_val			 k;
	uint64_t		 total, when, id;
	uint8_t			 kb[16];
	int			 rc, db, first = 1, have;

	ba->ba_n = 0;
	ba->ba_more = 0;
	if ((rc = qtx_begin(&t, ba->ba_q, txn)) != 0)
		return (rc);
	db = ba->ba_state == JOB_DEAD ? DB_DEAD : DB_DONE;
	if (db == DB_DONE && (rc = qtx_settle(&t)) != 0)
		return (rc);
	total = ba->ba_state == JOB_DEAD ? t.t_m.m_count[JOB_DEAD] :
	    t.t_m.m_count[JOB_DONE] + t.t_m.m_count[JOB_CANCELLED];
	if ((rc = mdb_cursor_open(txn, t.t_dbi[db], &c)) != 0)
		return (rc);
	while ((rc = qtx_timed_next(c, kb, &first, &k)) == 0) {
		when = util_get_be64(k.mv_data);
		id = util_get_be64((uint8_t *)k.mv_data + 8);
		/*
		 * Oldest first: stop at the first one that no limit given
		 * (0: none) selects; with no limit, everything goes.
		 */
		if ((ba->ba_keep == 0 || total <= ba->ba_keep) &&
		    (ba->ba_older == 0 ||
		    qtx_younger(&t, when, ba->ba_older)) &&
		    (ba->ba_keep != 0 || ba->ba_older != 0))
			break;
		if (ba->ba_n == QUEUE_BATCH) {
			ba->ba_more = 1;
			break;
		}
		if ((rc = qtx_job_get(&t, id, &j)) != 0 && rc != QUEUE_ENOENT)
			break;
		/* A record without its job is debris: any purge takes it. */
		if (rc == 0 && ba->ba_tenant != NULL &&
		    strcmp(j.j_tenant, ba->ba_tenant) != 0)
			continue;
		have = rc == 0;
		if ((rc = qtx_timed(&t, db, when, id, 1)) != 0)
			break;
		if (have) {
			if ((rc = qtx_job_forget(&t, &j)) != 0 ||
			    (rc = qtx_move(&t, j.j_tenant_id, j.j_state,
			    -1)) != 0)
				break;
			/* A dead letter held its spool file until now. */
			if (j.j_state == JOB_DEAD &&
			    (rc = qtx_spool_ref(&t, &j, -1)) != 0)
				break;
		}
		total--;
		ba->ba_n++;
	}
	mdb_cursor_close(c);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return (rc);
	return (qtx_end(&t));
}

/*
 * Delete finished jobs of one kind (JOB_DONE: done and cancelled;
 * JOB_DEAD: dead letters) that are older than older_ms, or beyond the
 * newest keep of them; a limit of 0 is no limit, and with neither every
 * one goes.  Their idempotency keys are forgotten with them.  With a
 * tenant, only its jobs go, and no limit may be given.
 */
static int
qlmdb_purge_tenant(struct queue *q, int state, const char *tenant,
    uint64_t older_ms, uint64_t keep, uint64_t *n)
{
	struct queue_batch_arg	 ba;
	int			 rc;

	*n = 0;
	if ((state != JOB_DONE && state != JOB_DEAD) ||
	    (tenant != NULL && (older_ms != 0 || keep != 0)))
		return (QUEUE_EINVAL);
	memset(&ba, 0, sizeof(ba));
	ba.ba_q = q;
	ba.ba_state = state;
	ba.ba_tenant = tenant;
	ba.ba_older = older_ms;
	ba.ba_keep = keep;
	do {
		rc = qlmdb_write(q, qlmdb_purge_txn, &ba);
		if (rc != 0)
			return (qlmdb_result(__func__, rc));
		*n += ba.ba_n;
	} while (ba.ba_more);
	return (0);
}

static int
qlmdb_purge(struct queue *q, int state, uint64_t older_ms, uint64_t keep,
    uint64_t *n)
{
	return (qlmdb_purge_tenant(q, state, NULL, older_ms, keep, n));
}

/* Reading. */

struct queue_stats_arg {
	struct queue		*sa_q;
	struct queue_stats	*sa_qs;
};

static int
qlmdb_stats_txn(MDB_txn *txn, void *arg)
{
	struct queue_stats_arg	*sa = arg;
	struct queue_stats	*qs = sa->sa_qs;
	struct qtx		 t;
	int			 rc;

	if ((rc = qtx_begin(&t, sa->sa_q, txn)) != 0)
		return (rc);
	memcpy(qs->qs_count, t.t_m.m_count, sizeof(qs->qs_count));
	qs->qs_next_id = t.t_m.m_next_id;
	qs->qs_next_gen = t.t_m.m_next_gen;
	qs->qs_big_inflight = t.t_m.m_big_inflight;
	qs->qs_enqueued = t.t_m.m_enqueued;
	qs->qs_completed = t.t_m.m_completed;
	qs->qs_failed = t.t_m.m_failed;
	qs->qs_released = t.t_m.m_released;
	qs->qs_done = t.t_m.m_done;
	qs->qs_retried = t.t_m.m_retried;
	qs->qs_cancelled = t.t_m.m_cancelled;
	return (0);
}

static int
qlmdb_stats(struct queue *q, struct queue_stats *qs)
{
	struct queue_stats_arg	 sa;

	memset(qs, 0, sizeof(*qs));
	sa.sa_q = q;
	sa.sa_qs = qs;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_stats_txn, &sa)));
}

struct queue_tenants_arg {
	struct queue		*ta_q;
	queue_tenant_cb		 ta_cb;
	void			*ta_arg;
};

static int
qlmdb_tenants_txn(MDB_txn *txn, void *arg)
{
	struct queue_tenants_arg *ta = arg;
	struct qtx		 t;
	struct qtenant		 ts;
	uint64_t		 c[JOB_NSTATES];
	MDB_cursor		*cur;
	MDB_val			 k, v;
	uint8_t			 kb[QMETA_TCOUNT_KEYLEN];
	int			 rc, op = MDB_SET_RANGE;

	if ((rc = qtx_begin(&t, ta->ta_q, txn)) != 0 ||
	    (rc = mdb_cursor_open(txn, t.t_dbi[DB_META], &cur)) != 0)
		return (rc);
	memset(kb, 0, sizeof(kb));
	kb[0] = QMETA_TCOUNT;
	k.mv_size = sizeof(kb);
	k.mv_data = kb;
	while ((rc = qtx_meta_next(cur, QMETA_TCOUNT, QMETA_TCOUNT_KEYLEN, &k,
	    &v, &op)) == 0) {
		if (v.mv_size != sizeof(c)) {
			rc = QUEUE_ERROR;
			break;
		}
		memcpy(c, v.mv_data, sizeof(c));
		if ((rc = qtx_tstate(&t, util_get_be32((uint8_t *)k.mv_data +
		    1), &ts, 0)) != 0)
			break;
		ts.t_name[sizeof(ts.t_name) - 1] = '\0';
		if (ts.t_namelen < sizeof(ts.t_name))
			ts.t_name[ts.t_namelen] = '\0';
		if ((rc = ta->ta_cb(ts.t_name, c, ta->ta_arg)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * The jobs of each tenant in each state, in tenant number order (the
 * order tenants first came), in one read transaction; cb returns non-zero
 * to stop.
 */
static int
qlmdb_tenants(struct queue *q, queue_tenant_cb cb, void *arg)
{
	struct queue_tenants_arg ta;

	ta.ta_q = q;
	ta.ta_cb = cb;
	ta.ta_arg = arg;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_tenants_txn, &ta)));
}

struct queue_get_arg {
	struct queue	*ga_q;
	uint64_t	 ga_id;
	struct job	*ga_job;
	int		 ga_state;
	size_t		 ga_limit;
	queue_list_cb	 ga_cb;
	void		*ga_cbarg;
};

static int
qlmdb_get_txn(MDB_txn *txn, void *arg)
{
	struct queue_get_arg	*ga = arg;
	struct qtx		 t;
	int			 rc;

	if ((rc = qtx_begin(&t, ga->ga_q, txn)) != 0)
		return (rc);
	return (qtx_job_get(&t, ga->ga_id, ga->ga_job));
}

static int
qlmdb_get(struct queue *q, uint64_t id, struct job *j)
{
	struct queue_get_arg	 ga;

	memset(&ga, 0, sizeof(ga));
	ga.ga_q = q;
	ga.ga_id = id;
	ga.ga_job = j;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_get_txn, &ga)));
}

/*
 * queue_list's walk of one database from k (op MDB_FIRST or
 * MDB_SET_RANGE), of meta the keys of k's kind (its first byte) only:
 * MDB_NOTFOUND at its end, 0 when the limit is reached or the callback
 * stops.
 */
static int
qlmdb_list_db(struct qtx *t, struct queue_get_arg *ga, int db, MDB_val *k,
    int op, size_t *n)
{
	struct job	 j;
	MDB_cursor	*c;
	MDB_val		 v;
	uint64_t	 id;
	uint8_t		 kind = 0;
	int		 rc;

	if (db == DB_META)
		kind = ((uint8_t *)k->mv_data)[0];
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[db], &c)) != 0)
		return (rc);
	while ((rc = mdb_cursor_get(c, k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (db == DB_META && (k->mv_size < 9 ||
		    ((uint8_t *)k->mv_data)[0] != kind)) {
			rc = MDB_NOTFOUND;
			break;
		}
		if (k->mv_size < 8)
			continue;
		id = util_get_be64((uint8_t *)k->mv_data + k->mv_size - 8);
		if ((rc = qtx_job_get(t, id, &j)) != 0)
			break;
		if (ga->ga_state >= 0 && j.j_state != ga->ga_state)
			continue;
		if (*n == ga->ga_limit)
			break;
		(*n)++;
		if (ga->ga_cb(&j, ga->ga_cbarg) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc);
}

static int
qlmdb_list_txn(MDB_txn *txn, void *arg)
{
	struct queue_get_arg	*ga = arg;
	struct qtx		 t;
	MDB_val			 k;
	uint8_t			 kb[QMETA_LEASE_KEYLEN];
	size_t			 n = 0;
	int			 rc, db, op = MDB_FIRST;

	if ((rc = qtx_begin(&t, ga->ga_q, txn)) != 0)
		return (rc);
	switch (ga->ga_state) {
	case JOB_READY:
		/* The ready jobs in meta, from the first. */
		db = DB_META;
		kb[0] = QMETA_READY;
		k.mv_size = 1;
		k.mv_data = kb;
		op = MDB_SET_RANGE;
		break;
	case JOB_LEASED:
		/* The leases in meta, from the first. */
		db = DB_META;
		qtx_lease_key(kb, 0);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		op = MDB_SET_RANGE;
		break;
	case JOB_RETRY:
		db = DB_DELAYED;
		break;
	case JOB_DONE:
	case JOB_CANCELLED:
		db = DB_DONE;
		break;
	case JOB_DEAD:
		db = DB_DEAD;
		break;
	default:
		db = DB_JOBS;
		break;
	}
	rc = qlmdb_list_db(&t, ga, db, &k, op, &n);
	if (rc == MDB_NOTFOUND && ga->ga_state == JOB_READY)
		rc = qlmdb_list_db(&t, ga, DB_BACKLOG, &k, MDB_FIRST, &n);
	if (rc == MDB_NOTFOUND && db == DB_DONE && t.t_m.m_unsettled > 0) {
		/* The newest: acked since the last settling. */
		qtx_lease_key(kb, 0);
		k.mv_size = sizeof(kb);
		k.mv_data = kb;
		rc = qlmdb_list_db(&t, ga, DB_META, &k, MDB_SET_RANGE, &n);
	}
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

struct queue_spool_arg {
	struct queue	*sa_q;
	const char	*sa_name;
	uint64_t	*sa_n;
};

static int
qlmdb_spool_txn(MDB_txn *txn, void *arg)
{
	struct queue_spool_arg	*sa = arg;
	MDB_val			 k, v;
	int			 rc;

	*sa->sa_n = 0;
	k.mv_size = strlen(sa->sa_name);
	k.mv_data = (void *)sa->sa_name;
	if ((rc = mdb_get(txn, sa->sa_q->q_store.s_dbi[DB_SPOOL], &k, &v))
	    != 0)
		return (rc == MDB_NOTFOUND ? 0 : rc);
	if (v.mv_size == 8)
		*sa->sa_n = util_get_be64(v.mv_data);
	return (0);
}

/* How many jobs still need the spool file name (0: none). */
static int
qlmdb_spool_refs(struct queue *q, const char *name, uint64_t *n)
{
	struct queue_spool_arg	 sa;

	sa.sa_q = q;
	sa.sa_name = name;
	sa.sa_n = n;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_spool_txn, &sa)));
}

/*
 * Call cb for up to limit jobs in state (-1: every job, by id), in the
 * order the queue keeps them: ready by tenant and priority, retrying by
 * time, done and dead oldest first.  cb returns non-zero to stop.
 */
static int
qlmdb_list(struct queue *q, int state, size_t limit, queue_list_cb cb,
    void *arg)
{
	struct queue_get_arg	 ga;

	memset(&ga, 0, sizeof(ga));
	ga.ga_q = q;
	ga.ga_state = state;
	ga.ga_limit = limit;
	ga.ga_cb = cb;
	ga.ga_cbarg = arg;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_list_txn, &ga)));
}

struct queue_page_arg {
	struct queue		*pa_q;
	struct queue_page	*pa_qp;
	queue_list_cb		 pa_cb;
	void			*pa_cbarg;
};

static int
qlmdb_page_txn(MDB_txn *txn, void *arg)
{
	struct queue_page_arg	*pa = arg;
	struct queue_page	*qp = pa->pa_qp;
	struct qtx		 t;
	struct job		 j;
	MDB_cursor		*c;
	MDB_val			 k, v;
	uint8_t			 kb[8];
	uint64_t		 id, last = 0;
	size_t			 n = 0, scanned = 0;
	int			 rc, op = MDB_SET_RANGE;

	qp->qp_next = 0;
	if ((rc = qtx_begin(&t, pa->pa_q, txn)) != 0)
		return (rc);
	if ((rc = mdb_cursor_open(txn, t.t_dbi[DB_JOBS], &c)) != 0)
		return (rc);
	util_put_be64(kb, qp->qp_after + 1);
	k.mv_size = 8;
	k.mv_data = kb;
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8)
			continue;
		id = util_get_be64(k.mv_data);
		/* The scan is bounded: the next page goes on from here. */
		if (qp->qp_scan > 0 && scanned++ == qp->qp_scan) {
			qp->qp_next = id - 1;
			break;
		}
		if ((rc = qtx_job_get(&t, id, &j)) != 0)
			break;
		if ((qp->qp_state >= 0 && j.j_state != qp->qp_state) ||
		    (qp->qp_tenant != NULL &&
		    strcmp(j.j_tenant, qp->qp_tenant) != 0))
			continue;
		/* One more than the page holds: the next page starts here. */
		if (n == qp->qp_limit) {
			qp->qp_next = last;
			break;
		}
		n++;
		last = id;
		if (pa->pa_cb(&j, pa->pa_cbarg) != 0)
			break;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/*
 * Call cb for up to qp_limit jobs with ids above qp_after, in id order,
 * of qp_state (-1: any) and qp_tenant (NULL: any), reading at most
 * qp_scan records (0: no bound).  qp_next is then the qp_after of the
 * next page (the last id of a full page, or the last id read when the
 * bound was reached), or 0 when no job is left: a page may hold fewer
 * than qp_limit jobs, even none, and still have a next when the scan's
 * bound cut it short.  cb returns non-zero to stop.
 */
static int
qlmdb_page(struct queue *q, struct queue_page *qp, queue_list_cb cb,
    void *arg)
{
	struct queue_page_arg	 pa;

	if (qp->qp_after == UINT64_MAX || qp->qp_limit == 0)
		return (QUEUE_EINVAL);
	pa.pa_q = q;
	pa.pa_qp = qp;
	pa.pa_cb = cb;
	pa.pa_cbarg = arg;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_page_txn, &pa)));
}

struct queue_watch_arg {
	struct queue	*wa_q;
	const uint64_t	*wa_ids;
	size_t		 wa_nids;
	uint64_t	*wa_after;
	size_t		 wa_newmax;
	queue_list_cb	 wa_cb;
	void		*wa_cbarg;
};

/*
 * Up to max jobs of jobs (keyed by id(8)) or of the leases in meta
 * (DB_META), from the id after after.
 */
static int
qlmdb_watch_scan(struct qtx *t, int db, uint64_t after, size_t max,
    uint64_t *last, struct queue_watch_arg *wa)
{
	struct job	 j;
	MDB_cursor	*c;
	MDB_val		 k, v;
	uint8_t		 kb[QMETA_LEASE_KEYLEN];
	uint64_t	 id;
	size_t		 n = 0, len;
	int		 rc, op = MDB_SET_RANGE;

	len = db == DB_META ? QMETA_LEASE_KEYLEN : 8;
	kb[0] = QMETA_LEASE;
	util_put_be64(kb + len - 8, after + 1);
	k.mv_size = len;
	k.mv_data = kb;
	if ((rc = mdb_cursor_open(t->t_txn, t->t_dbi[db], &c)) != 0)
		return (rc);
	while (n < max && (rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (db == DB_META && (k.mv_size != len ||
		    ((uint8_t *)k.mv_data)[0] != QMETA_LEASE)) {
			rc = MDB_NOTFOUND;
			break;
		}
		/* Of meta, the leases only, not the finished ones. */
		if (k.mv_size != len || (db == DB_META &&
		    v.mv_size != sizeof(struct qlease)))
			continue;
		n++;
		id = util_get_be64((uint8_t *)k.mv_data + len - 8);
		if ((rc = qtx_job_get(t, id, &j)) != 0 && rc != QUEUE_ENOENT)
			break;
		/* A job the watcher cannot take now is read again. */
		if (rc == 0 && wa->wa_cb(&j, wa->wa_cbarg) != 0)
			break;
		if (last != NULL)
			*last = id;
		rc = 0;
	}
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

static int
qlmdb_watch_txn(MDB_txn *txn, void *arg)
{
	struct queue_watch_arg	*wa = arg;
	struct qtx		 t;
	struct job		 j;
	size_t			 i;
	int			 rc;

	if ((rc = qtx_begin(&t, wa->wa_q, txn)) != 0)
		return (rc);
	for (i = 0; i < wa->wa_nids; i++) {
		if ((rc = qtx_job_get(&t, wa->wa_ids[i], &j)) == QUEUE_ENOENT)
			continue;
		if (rc != 0)
			return (rc);
		if (wa->wa_cb(&j, wa->wa_cbarg) != 0)
			return (0);
	}
	if (wa->wa_newmax == 0)
		return (0);
	if ((rc = qlmdb_watch_scan(&t, DB_META, 0, wa->wa_newmax, NULL,
	    wa)) != 0)
		return (rc);
	return (qlmdb_watch_scan(&t, DB_JOBS, *wa->wa_after, wa->wa_newmax,
	    wa->wa_after, wa));
}

/*
 * One snapshot of the jobs a watcher follows (the HTTP API's events):
 * each of ids that still exists, then, when newmax is not 0, up to
 * newmax leased jobs and up to newmax jobs of ids past *after, which
 * moves to the last one read.  A job may come twice.  cb as
 * queue_list's.
 */
static int
qlmdb_watch(struct queue *q, const uint64_t *ids, size_t nids,
    uint64_t *after, size_t newmax, queue_list_cb cb, void *arg)
{
	struct queue_watch_arg	 wa;

	wa.wa_q = q;
	wa.wa_ids = ids;
	wa.wa_nids = nids;
	wa.wa_after = after;
	wa.wa_newmax = newmax;
	wa.wa_cb = cb;
	wa.wa_cbarg = arg;
	return (qlmdb_result(__func__,
	    store_read(&q->q_store, qlmdb_watch_txn, &wa)));
}

const struct queue_backend queue_lmdb_backend = {
	"lmdb",
	qlmdb_open,
	qlmdb_close,
	qlmdb_enqueue,
	qlmdb_claim,
	qlmdb_ack,
	qlmdb_ack_claim,
	qlmdb_settle,
	qlmdb_heartbeat,
	qlmdb_fail,
	qlmdb_cancel,
	qlmdb_cancel_job,
	qlmdb_release_pid,
	qlmdb_sweep,
	qlmdb_extend_pid,
	qlmdb_retry,
	qlmdb_retry_dead,
	qlmdb_retry_dead_tenant,
	qlmdb_purge,
	qlmdb_purge_tenant,
	qlmdb_stats,
	qlmdb_get,
	qlmdb_list,
	qlmdb_page,
	qlmdb_spool_refs,
	qlmdb_tenants,
	qlmdb_watch,
	NULL		/* qb_docs: one host, no home records */
};
