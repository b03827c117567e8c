/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl host drain NAME: the documents of host NAME, one of the hosts
 * of a queue on PostgreSQL, moved to the others, re-enqueued from the
 * chunks NAME's index stores, so that a host can leave with nothing
 * lost and nothing unsearchable.  It runs with NAME's configuration and
 * data directory, whether NAME's quired runs or not (LMDB lets this
 * process write beside the daemon's).
 *
 * Protocol (see also queue_pg_drain.c and quired.8, Several hosts):
 *
 *  1. NAME is marked draining (queue_pg_drain_mark): from the commit on
 *     it claims no job, pinned to it or not; the mark waited for every
 *     claim under way.
 *  2. The jobs NAME holds end: its workers finish them, or, were it
 *     dead, the live hosts release them past host-expiry.  Its index
 *     then changes no more but through this command.
 *  3. Each document of NAME's index whose home is NAME, or that has no
 *     home record, becomes a move job: the document as the index holds
 *     it (move.c), which any host but NAME may claim, keyed by NAME,
 *     the document and its content hash, so that a run again enqueues
 *     none twice.  The host whose worker indexes it and acks the job
 *     becomes its home in the ack's transaction, and the jobs pinned to
 *     NAME for that document (an update or a delete sent meanwhile) are
 *     pinned to it there.
 *  4. Round after round, the documents of NAME's index whose home is
 *     another host now are deleted from it (home_drained, as at a
 *     daemon's start), and so are those whose move is done, whose home
 *     record may be gone since (deleted at the new home), until the
 *     index holds none and no move is left to run; a round finds the
 *     moves that ended without moving their document (dead letters,
 *     cancelled) and says so.  A document with no home record and no
 *     move done (never acked anywhere, or its move's job removed by
 *     retention: keep retain-done and retain-age above what a drain
 *     takes) is moved.
 *  5. The end (queue_pg_drain_end): the home records still NAME's, of
 *     documents no index holds, are dropped and the jobs still pinned
 *     to NAME unpinned; NAME is drained.  Its index is compacted, so
 *     that its dead chunks no longer count in the statistics of a
 *     search over all hosts.
 *
 * Interrupted, or failed, a drain leaves NAME draining; run again, it
 * goes on where it was.  A document is in NAME's index until its new
 * home has acked its move, and is deleted from NAME's right after: it
 * is in two indexes for that while, never in none.
 */

#include <sys/types.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "quire.h"

#define DRAIN_PAGE		256		/* documents per read */
#define DRAIN_BATCH_BYTES	(8 << 20)	/* bodies per enqueue */
#define DRAIN_KEEP_BYTES	(1 << 20)	/* a body's room kept */
#define DRAIN_LOOK_MS		250	/* between looks at the queue */
#define DRAIN_ROUND_MS		1000	/* between rounds of deletes */
#define DRAIN_SAY_MS		2000	/* between progress lines */

struct drain {
	struct queue		*dr_q;
	struct index		*dr_ix;
	const struct quire_conf	*dr_conf;
	const char		*dr_name;
	volatile sig_atomic_t	*dr_stop;
	char			*dr_err;
	size_t			 dr_errlen;
	uint64_t		 dr_total;	/* documents at the start */
	uint64_t		 dr_moved;	/* deleted here, moved */
	uint64_t		 dr_enqueued;	/* new move jobs */
	uint64_t		 dr_known;	/* moves enqueued before */
	uint64_t		 dr_said;	/* last progress line, mono ms */
	/* The batch being enqueued. */
	struct queue_new	*dr_qn;
	struct buf		*dr_bodies;
	char			(*dr_keys)[80];
	struct ixdoc		*dr_docs;
	size_t			 dr_n;
	size_t			 dr_bytes;
	/* The page being read. */
	char			(*dr_page)[IX_EXTID_MAX + 1];
	size_t			 dr_npage;
};

static void
drain_sleep(uint64_t ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	(void)nanosleep(&ts, NULL);
}

static int
drain_error(struct drain *dr, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static int
drain_error(struct drain *dr, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(dr->dr_err, dr->dr_errlen, fmt, ap);
	va_end(ap);
	return (-1);
}

static void
drain_say(struct drain *dr, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
drain_say(struct drain *dr, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	printf("host drain %s: ", util_vis(dr->dr_name));
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	dr->dr_said = util_mono_ms();
}

static int
drain_look(struct drain *dr, struct queue_drain *qd)
{
	int	 rc;

	if ((rc = queue_pg_drain_look(dr->dr_q, dr->dr_name,
	    dr->dr_conf->c_host_expiry_ms, qd)) != 0)
		return (drain_error(dr, "the queue: %s", queue_strerror(rc)));
	return (0);
}

static uint64_t
drain_docs(struct drain *dr)
{
	struct ixstats	 st;

	if (index_stats(dr->dr_ix, &st) == -1)
		return (UINT64_MAX);
	return (st.is_docs);
}

/* Step 2: the jobs the host holds end. */
static int
drain_leases(struct drain *dr)
{
	struct queue_drain	 qd;
	uint64_t		 said = 0;

	for (;;) {
		if (drain_look(dr, &qd) == -1)
			return (-1);
		if (qd.qdr_leased == 0)
			return (0);
		if (*dr->dr_stop)
			return (1);
		if (said == 0 || util_mono_ms() - said >= DRAIN_SAY_MS) {
			drain_say(dr, "waiting for the %llu jobs it holds "
			    "to end", (unsigned long long)qd.qdr_leased);
			said = util_mono_ms();
		}
		drain_sleep(DRAIN_LOOK_MS);
	}
}

/* Enqueue the batch of moves: how many were new, how many known. */
static int
drain_flush(struct drain *dr)
{
	size_t	 i;
	int	 rc;

	if (dr->dr_n == 0)
		return (0);
	if ((rc = queue_enqueue(dr->dr_q, dr->dr_qn, dr->dr_n)) != 0)
		return (drain_error(dr, "enqueueing %zu moves: %s", dr->dr_n,
		    queue_strerror(rc)));
	for (i = 0; i < dr->dr_n; i++) {
		if (dr->dr_qn[i].qn_dup)
			dr->dr_known++;
		else
			dr->dr_enqueued++;
		/* A big document's room is not kept for the next. */
		if (dr->dr_bodies[i].b_cap > DRAIN_KEEP_BYTES)
			buf_free(&dr->dr_bodies[i]);
		buf_reset(&dr->dr_bodies[i]);
	}
	dr->dr_n = 0;
	dr->dr_bytes = 0;
	return (0);
}

struct drain_doc {
	struct buf	*dd_body;
	struct ixdoc	*dd_doc;
	struct buf	 dd_title;
	struct buf	 dd_attrs;
	const char	*dd_away;
	int		 dd_begun;
};

static int
drain_chunk(const struct ixchunk *ck, void *arg)
{
	struct drain_doc	*dd = arg;

	if (!dd->dd_begun) {
		move_begin(dd->dd_body, dd->dd_away, dd->dd_doc,
		    &dd->dd_title, &dd->dd_attrs, dd->dd_doc->d_nchunks);
		dd->dd_begun = 1;
	}
	move_put_chunk(dd->dd_body, ck);
	return (0);
}

/* The move of document extid into the batch; 0 when it is gone. */
static int
drain_doc(struct drain *dr, const char *extid)
{
	struct drain_doc	 dd;
	struct queue_new	*qn;
	struct ixdoc		*d;
	char			 id[JOB_TENANT_MAX + IX_EXTID_MAX + 2];
	size_t			 k = dr->dr_n, idlen;
	int			 rc;

	memset(&dd, 0, sizeof(dd));
	d = &dr->dr_docs[k];
	dd.dd_body = &dr->dr_bodies[k];
	dd.dd_doc = d;
	dd.dd_away = dr->dr_name;
	buf_init(&dd.dd_title);
	buf_init(&dd.dd_attrs);
	rc = index_doc_whole(dr->dr_ix, extid, d, &dd.dd_title,
	    &dd.dd_attrs, drain_chunk, &dd);
	if (rc == 0 && !dd.dd_begun)
		move_begin(dd.dd_body, dd.dd_away, d, &dd.dd_title,
		    &dd.dd_attrs, 0);
	buf_free(&dd.dd_title);
	buf_free(&dd.dd_attrs);
	if (rc == INDEX_ENOENT)
		return (0);
	if (rc != 0)
		return (drain_error(dr, "reading document %s from the index "
		    "(see above)", util_vis(extid)));
	/* Keyed by the host, the document and its content. */
	idlen = snprintf(id, sizeof(id), "%s", d->d_tenant) + 1;
	idlen += strlcpy(id + idlen, d->d_extid, sizeof(id) - idlen);
	snprintf(dr->dr_keys[k], sizeof(dr->dr_keys[0]),
	    "move:%016llx:%016llx:%016llx",
	    (unsigned long long)XXH3_64bits(dr->dr_name, strlen(dr->dr_name)),
	    (unsigned long long)XXH3_64bits(id, idlen),
	    (unsigned long long)d->d_hash);
	qn = &dr->dr_qn[k];
	memset(qn, 0, sizeof(*qn));
	qn->qn_key = dr->dr_keys[k];
	qn->qn_tenant = d->d_tenant;
	qn->qn_prio = JOB_PRIO_DEFAULT;
	qn->qn_srckind = SRC_MOVE;
	qn->qn_path = d->d_source;
	qn->qn_extid = d->d_extid;
	qn->qn_title = d->d_title[0] != '\0' ? d->d_title : NULL;
	qn->qn_lang = dr->dr_conf->c_language;
	qn->qn_away = dr->dr_name;
	qn->qn_body = dd.dd_body->b_data;
	qn->qn_bodylen = dd.dd_body->b_len;
	qn->qn_size = dd.dd_body->b_len;
	dr->dr_n++;
	dr->dr_bytes += dd.dd_body->b_len;
	if (dr->dr_n == DRAIN_PAGE || dr->dr_bytes >= DRAIN_BATCH_BYTES)
		return (drain_flush(dr));
	return (0);
}

static int
drain_page_doc(const struct ixdoc *d, void *arg)
{
	struct drain	*dr = arg;

	strlcpy(dr->dr_page[dr->dr_npage++], d->d_extid,
	    sizeof(dr->dr_page[0]));
	return (0);
}

/*
 * Step 3: a move for each document of the index (reconciled: its home
 * is this host, or it has none); those enqueued before are found by
 * their keys.
 */
static int
drain_enqueue(struct drain *dr)
{
	uint64_t	 after = 0;
	size_t		 i;
	int		 more;

	dr->dr_enqueued = dr->dr_known = 0;
	do {
		dr->dr_npage = 0;
		if ((more = index_docs_page(dr->dr_ix, &after, DRAIN_PAGE,
		    drain_page_doc, dr)) == -1)
			return (drain_error(dr, "reading the index (see "
			    "above)"));
		for (i = 0; i < dr->dr_npage; i++) {
			if (*dr->dr_stop)
				return (1);
			if (drain_doc(dr, dr->dr_page[i]) == -1)
				return (-1);
		}
	} while (more == 1);
	return (drain_flush(dr));
}

static uint64_t
drain_unfinished(const struct queue_drain *qd)
{
	return (qd->qdr_moves[JOB_READY] + qd->qdr_moves[JOB_LEASED] +
	    qd->qdr_moves[JOB_RETRY]);
}

/* Step 4, a round: the moved documents out of the index. */
static int
drain_round(struct drain *dr, struct queue_drain *qd, uint64_t *docs)
{
	uint64_t	 n;

	if (home_drained(dr->dr_q, dr->dr_ix, dr->dr_name, &n) == -1)
		return (drain_error(dr, "deleting the moved documents from "
		    "the index (see above)"));
	dr->dr_moved += n;
	if ((*docs = drain_docs(dr)) == UINT64_MAX)
		return (drain_error(dr, "the index's counts (see above)"));
	return (drain_look(dr, qd));
}

static void
drain_progress(struct drain *dr, const struct queue_drain *qd,
    uint64_t docs)
{
	drain_say(dr, "%llu of %llu documents moved, %llu here; moves: %llu "
	    "waiting, %llu running, %llu to retry, %llu dead",
	    (unsigned long long)dr->dr_moved,
	    (unsigned long long)dr->dr_total, (unsigned long long)docs,
	    (unsigned long long)qd->qdr_moves[JOB_READY],
	    (unsigned long long)qd->qdr_moves[JOB_LEASED],
	    (unsigned long long)qd->qdr_moves[JOB_RETRY],
	    (unsigned long long)qd->qdr_moves[JOB_DEAD]);
}

/*
 * Steps 3 and 4: moves enqueued, then rounds until the index is empty
 * and no move is left to run.  A round that finds documents left and
 * no move to run enqueues them again (a move enqueued before is known
 * by its key); if none is new, their moves ended without moving them.
 */
static int
drain_move(struct drain *dr)
{
	struct queue_drain	 qd;
	uint64_t		 docs = 0;
	int			 rc, enqueue = 1;

	for (;;) {
		if ((rc = drain_round(dr, &qd, &docs)) != 0)
			return (rc);
		if (docs == 0 && drain_unfinished(&qd) == 0)
			break;
		if (docs > 0 && drain_unfinished(&qd) == 0 && !enqueue &&
		    dr->dr_enqueued == 0)
			return (drain_error(dr, "%llu documents are still "
			    "here, and their moves ended without moving them: "
			    "%llu dead, %llu cancelled (quirectl jobs --state "
			    "dead); retry them and run host drain again",
			    (unsigned long long)docs,
			    (unsigned long long)qd.qdr_moves[JOB_DEAD],
			    (unsigned long long)qd.qdr_moves[JOB_CANCELLED]));
		if (docs > 0 && qd.qdr_others == 0)
			return (drain_error(dr, "no other live host takes "
			    "documents (live and not draining): %llu are "
			    "still here", (unsigned long long)docs));
		if (enqueue || (docs > 0 && drain_unfinished(&qd) == 0)) {
			if ((rc = drain_enqueue(dr)) != 0)
				return (rc);
			drain_say(dr, "%llu moves enqueued, %llu enqueued "
			    "before", (unsigned long long)dr->dr_enqueued,
			    (unsigned long long)dr->dr_known);
			enqueue = 0;
			continue;
		}
		if (util_mono_ms() - dr->dr_said >= DRAIN_SAY_MS)
			drain_progress(dr, &qd, docs);
		if (*dr->dr_stop)
			return (1);
		drain_sleep(DRAIN_ROUND_MS);
	}
	drain_progress(dr, &qd, docs);
	return (0);
}

static int
drain_moved_cb(const char *home, uint64_t n, void *arg)
{
	struct buf	*b = arg;

	buf_printf(b, "%s%s %llu", b->b_len > 0 ? ", " : "", util_vis(home),
	    (unsigned long long)n);
	return (0);
}

/* Step 5. */
static int
drain_end(struct drain *dr)
{
	struct ixstats	 st;
	struct buf	 b;
	uint64_t	 records, unpinned, dead = 0;
	int		 rc, rv;

	if ((rc = queue_pg_drain_end(dr->dr_q, dr->dr_name, &records,
	    &unpinned)) != 0)
		return (drain_error(dr, "ending the drain: %s",
		    queue_strerror(rc)));
	if (index_stats(dr->dr_ix, &st) == 0)
		dead = st.is_dead;
	while ((rv = merge_step(dr->dr_ix, MERGE_ALL,
	    dr->dr_conf->c_fold_size, -1)) == 1)
		;
	if (rv == -1)
		log_warnx("%s: compacting the index failed; quirectl compact "
		    "does it", __func__);
	buf_init(&b);
	if ((rc = queue_pg_drain_moved(dr->dr_q, dr->dr_name, drain_moved_cb,
	    &b)) != 0)
		buf_printf(&b, "not known: %s", queue_strerror(rc));
	drain_say(dr, "drained: %llu documents moved by this run; moved "
	    "documents now on %s; its index holds %llu documents (%llu dead "
	    "chunks %s); %llu home records of documents no index held "
	    "dropped, %llu jobs pinned to it unpinned",
	    (unsigned long long)dr->dr_moved,
	    b.b_len > 0 ? buf_cstr(&b) : "no host",
	    (unsigned long long)drain_docs(dr), (unsigned long long)dead,
	    rv == -1 ? "left" : "purged", (unsigned long long)records,
	    (unsigned long long)unpinned);
	buf_free(&b);
	return (0);
}

/*
 * Drain host name (see the top), whose data directory's index is ix and
 * whose configuration c: 0 when it is drained, 1 when *stop was set (it
 * stays draining: run again to go on), -1 with err.
 */
int
drain_run(struct queue *q, struct index *ix, const struct quire_conf *c,
    const char *name, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct drain		 dr;
	struct queue_drain	 qd;
	uint64_t		 since;
	size_t			 i;
	int			 rc;

	memset(&dr, 0, sizeof(dr));
	dr.dr_q = q;
	dr.dr_ix = ix;
	dr.dr_conf = c;
	dr.dr_name = name;
	dr.dr_stop = stop;
	dr.dr_err = err;
	dr.dr_errlen = errlen;
	if ((dr.dr_total = drain_docs(&dr)) == UINT64_MAX)
		return (drain_error(&dr, "the index's counts (see above)"));
	if (drain_look(&dr, &qd) == -1)
		return (-1);
	if (dr.dr_total > 0 && qd.qdr_others == 0)
		return (drain_error(&dr, "no other live host takes documents "
		    "(live and not draining), and its index holds %llu",
		    (unsigned long long)dr.dr_total));
	if ((rc = queue_pg_drain_mark(q, name, &since)) != 0)
		return (drain_error(&dr, "marking it draining: %s",
		    queue_strerror(rc)));
	drain_say(&dr, "draining (it claims no job from now on); %llu "
	    "documents in its index, %llu whose home it is",
	    (unsigned long long)dr.dr_total, (unsigned long long)qd.qdr_homes);
	dr.dr_qn = xcalloc(DRAIN_PAGE, sizeof(*dr.dr_qn));
	dr.dr_bodies = xcalloc(DRAIN_PAGE, sizeof(*dr.dr_bodies));
	dr.dr_keys = xcalloc(DRAIN_PAGE, sizeof(*dr.dr_keys));
	dr.dr_docs = xcalloc(DRAIN_PAGE, sizeof(*dr.dr_docs));
	dr.dr_page = xcalloc(DRAIN_PAGE, sizeof(*dr.dr_page));
	for (i = 0; i < DRAIN_PAGE; i++)
		buf_init(&dr.dr_bodies[i]);
	if ((rc = drain_leases(&dr)) == 0 && (rc = drain_move(&dr)) == 0)
		rc = drain_end(&dr);
	for (i = 0; i < DRAIN_PAGE; i++)
		buf_free(&dr.dr_bodies[i]);
	free(dr.dr_qn);
	free(dr.dr_bodies);
	free(dr.dr_keys);
	free(dr.dr_docs);
	free(dr.dr_page);
	return (rc);
}
