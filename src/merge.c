/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The merger: folds small segments into bigger ones and drops dead
 * chunks for good.
 *
 * Policy (size-tiered, as log-structured stores do):
 *
 *   A segment's tier is how many times merge_factor (8) its size is above
 *   64 KiB.  When merge_factor neighbouring segments (in cid order) share
 *   a tier, they are merged into one; the result, merge_factor times as
 *   big, climbs a tier, so each posting is rewritten about log8(n) times.
 *   When no tier is full, a segment whose chunks are at least a quarter
 *   dead (deleted, replaced, or born dead as a redelivered duplicate) is
 *   rewritten alone, so deletes are purged in the background.
 *   quirectl compact merges every run regardless of tier, and rewrites a
 *   lone segment that holds dead chunks.
 *
 * A merge reads its segments in a read transaction, builds the new one in
 * memory without any lock, then in one short write transaction checks
 * that the segments are unchanged, writes the new one under the first
 * one's key and deletes the others.  Chunks that were dead when the merge
 * began are left out, their cids leave the tombstone bitmap, and their
 * words stop counting in document frequencies; chunks that die during
 * the merge stay tombstoned.  Workers' commits wait at most for that
 * short transaction.
 */

#include <sys/types.h>
#include <sys/prctl.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <roaring/roaring.h>

#include "quire.h"

#define MERGE_FACTOR	8
#define MERGE_DEAD_PCT	25	/* a segment this dead is rewritten alone */
#define MERGER_FD	3
#define MERGE_TIER0	(64 * 1024)

struct mseg {
	uint64_t	 ms_id;
	uint32_t	 ms_size;
	uint32_t	 ms_base;
	uint32_t	 ms_nchunks;
	uint64_t	 ms_dead;	/* tombstoned chunks in it */
	int		 ms_tier;
};

static int
merge_tier(uint32_t size)
{
	uint64_t	 s = MERGE_TIER0;
	int		 t = 0;

	while (size > s && t < 16) {
		s *= MERGE_FACTOR;
		t++;
	}
	return (t);
}

struct merge_list_arg {
	struct index	*la_ix;
	struct mseg	*la_segs;
	size_t		 la_n;
	size_t		 la_cap;
};

static int
merge_list_txn(MDB_txn *txn, void *arg)
{
	struct merge_list_arg	*la = arg;
	struct ixseg		 s;
	roaring_bitmap_t	*tomb;
	MDB_cursor		*c;
	MDB_val			 k, v;
	int			 rc, op = MDB_FIRST;

	la->la_n = 0;
	if ((rc = mdb_cursor_open(txn, index_dbi(la->la_ix, IDB_SEGS), &c))
	    != 0)
		return (rc);
	tomb = index_tomb_get(txn, la->la_ix);
	while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size != 8 || ixseg_open(&s, v.mv_data, v.mv_size) == -1)
			continue;
		if (la->la_n == la->la_cap) {
			la->la_cap = la->la_cap == 0 ? 64 : la->la_cap * 2;
			la->la_segs = xreallocarray(la->la_segs, la->la_cap,
			    sizeof(*la->la_segs));
		}
		la->la_segs[la->la_n].ms_id = util_get_be64(k.mv_data);
		la->la_segs[la->la_n].ms_size = v.mv_size;
		la->la_segs[la->la_n].ms_base = s.s_hdr->h_base;
		la->la_segs[la->la_n].ms_nchunks = s.s_hdr->h_nchunks;
		la->la_segs[la->la_n].ms_dead =
		    roaring_bitmap_range_cardinality(tomb, s.s_hdr->h_base,
		    (uint64_t)s.s_hdr->h_base + s.s_hdr->h_nchunks);
		la->la_segs[la->la_n].ms_tier = merge_tier(v.mv_size);
		la->la_n++;
	}
	roaring_bitmap_free(tomb);
	mdb_cursor_close(c);
	return (rc == MDB_NOTFOUND ? 0 : rc);
}

/* The term cursors of a k-way merge over the segments' dictionaries. */
struct mcur {
	struct ixseg	 mc_seg;
	uint32_t	 mc_term;
};

struct merge_build_arg {
	struct index		*ba_ix;
	const struct mseg	*ba_segs;
	size_t			 ba_n;
	struct buf		*ba_out;
	roaring_bitmap_t	*ba_dead;	/* dead when we began */
	uint64_t		 ba_purged;
	uint64_t		 ba_tokens;	/* words of purged chunks */
};

static int
merge_termcmp(const struct mcur *a, const struct mcur *b)
{
	const char	*x, *y;
	size_t		 xl, yl, n;
	int		 c;

	x = ixseg_term(&a->mc_seg, a->mc_term, &xl);
	y = ixseg_term(&b->mc_seg, b->mc_term, &yl);
	n = xl < yl ? xl : yl;
	if ((c = memcmp(x, y, n)) != 0)
		return (c);
	return (xl < yl ? -1 : xl > yl);
}

/* Is the cursor's term this one?  (The smallest's cursor moves on.) */
static int
merge_same(const struct mcur *c, const char *t, size_t tl)
{
	const char	*x;
	size_t		 xl;

	x = ixseg_term(&c->mc_seg, c->mc_term, &xl);
	return (xl == tl && memcmp(x, t, tl) == 0);
}

static int
merge_build_txn(MDB_txn *txn, void *arg)
{
	struct merge_build_arg	*ba = arg;
	struct mcur		*cur;
	struct ixseghdr		 h;
	struct ixsegterm	 e;
	struct ixpost		 p;
	struct buf		 dict, strs, post, one;
	uint8_t			 kb[8];
	MDB_val			 k, v;
	roaring_bitmap_t	*tomb;
	uint32_t		 base, nchunks, df, last, local, i;
	uint16_t		*norms;
	const char		*t;
	size_t			 n, j, best, tl;
	uint64_t		 pos, tokens = 0;
	int			 rc = 0, first, rv;

	base = ba->ba_segs[0].ms_base;
	nchunks = ba->ba_segs[ba->ba_n - 1].ms_base +
	    ba->ba_segs[ba->ba_n - 1].ms_nchunks - base;
	cur = xcalloc(ba->ba_n, sizeof(*cur));
	norms = xcalloc(nchunks + 1, sizeof(*norms));
	buf_init(&dict);
	buf_init(&strs);
	buf_init(&post);
	buf_init(&one);
	tomb = index_tomb_get(txn, ba->ba_ix);
	ba->ba_dead = roaring_bitmap_create();
	for (j = 0; j < ba->ba_n; j++) {
		util_put_be64(kb, ba->ba_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		if ((rc = mdb_get(txn, index_dbi(ba->ba_ix, IDB_SEGS), &k, &v))
		    != 0 || ixseg_open(&cur[j].mc_seg, v.mv_data, v.mv_size)
		    == -1) {
			rc = rc != 0 ? rc : MDB_CORRUPTED;
			goto out;
		}
		for (i = 0; i < cur[j].mc_seg.s_hdr->h_nchunks; i++) {
			local = cur[j].mc_seg.s_hdr->h_base + i - base;
			if (roaring_bitmap_contains(tomb, base + local)) {
				roaring_bitmap_add(ba->ba_dead, base + local);
				ba->ba_tokens += cur[j].mc_seg.s_norms[i];
				continue;
			}
			norms[local] = cur[j].mc_seg.s_norms[i];
			tokens += norms[local];
		}
	}
	ba->ba_purged = roaring_bitmap_get_cardinality(ba->ba_dead);
	for (;;) {
		/* The smallest term among the cursors. */
		best = ba->ba_n;
		for (j = 0; j < ba->ba_n; j++) {
			if (cur[j].mc_term >= cur[j].mc_seg.s_hdr->h_nterms)
				continue;
			if (best == ba->ba_n ||
			    merge_termcmp(&cur[j], &cur[best]) < 0)
				best = j;
		}
		if (best == ba->ba_n)
			break;
		t = ixseg_term(&cur[best].mc_seg, cur[best].mc_term, &tl);
		buf_reset(&one);
		df = 0;
		last = 0;
		first = 1;
		for (j = 0; j < ba->ba_n; j++) {
			if (cur[j].mc_term >= cur[j].mc_seg.s_hdr->h_nterms ||
			    !merge_same(&cur[j], t, tl))
				continue;
			ixpost_init(&p, &cur[j].mc_seg, cur[j].mc_term);
			while ((rv = ixpost_next(&p)) == 1) {
				if (roaring_bitmap_contains(ba->ba_dead,
				    p.p_cid))
					continue;
				local = p.p_cid - base;
				ix_varint(&one, first ? local : local - last);
				ix_varint(&one, p.p_tf);
				for (i = 0; i < p.p_tf; i++) {
					pos = 0;
					if (ix_getvarint(&p.p_cur, p.p_end,
					    &pos) == -1) {
						rc = MDB_CORRUPTED;
						goto out;
					}
					ix_varint(&one, pos);
				}
				p.p_posleft = 0;
				last = local;
				first = 0;
				df++;
			}
			if (rv == -1) {
				rc = MDB_CORRUPTED;
				goto out;
			}
			cur[j].mc_term++;
		}
		if (df == 0)
			continue;	/* only dead chunks had it */
		e.e_str = strs.b_len;
		e.e_post = post.b_len;
		e.e_df = df;
		e.e_len = tl;
		e.e_pad = 0;
		buf_add(&dict, &e, sizeof(e));
		buf_add(&strs, t, tl);
		buf_add(&post, one.b_data, one.b_len);
	}

	/* Lay it out as index.c does, with offsets made absolute. */
	memset(&h, 0, sizeof(h));
	memcpy(h.h_magic, IXSEG_MAGIC, 4);
	h.h_nchunks = nchunks;
	h.h_nterms = dict.b_len / sizeof(e);
	h.h_base = base;
	h.h_tokens = tokens;
	h.h_norms = sizeof(h);
	h.h_dict = h.h_norms + ((nchunks * 2 + 7) & ~7U);
	h.h_strs = h.h_dict + dict.b_len;
	h.h_post = h.h_strs + ((strs.b_len + 7) & ~7U);
	if ((uint64_t)h.h_post + post.b_len + 7 > UINT32_MAX) {
		rc = MDB_MAP_FULL;
		goto out;
	}
	h.h_size = (h.h_post + post.b_len + 7) & ~7U;
	buf_reset(ba->ba_out);
	buf_reserve(ba->ba_out, h.h_size);
	memset(ba->ba_out->b_data, 0, h.h_size);
	memcpy(ba->ba_out->b_data, &h, sizeof(h));
	memcpy(ba->ba_out->b_data + h.h_norms, norms, nchunks * 2);
	for (n = 0; n < h.h_nterms; n++) {
		memcpy(&e, dict.b_data + n * sizeof(e), sizeof(e));
		e.e_str += h.h_strs;
		e.e_post += h.h_post;
		memcpy(ba->ba_out->b_data + h.h_dict + n * sizeof(e), &e,
		    sizeof(e));
	}
	memcpy(ba->ba_out->b_data + h.h_strs, strs.b_data, strs.b_len);
	memcpy(ba->ba_out->b_data + h.h_post, post.b_data, post.b_len);
	ba->ba_out->b_len = h.h_size;
out:
	roaring_bitmap_free(tomb);
	free(cur);
	free(norms);
	buf_free(&dict);
	buf_free(&strs);
	buf_free(&post);
	buf_free(&one);
	return (rc);
}

struct merge_swap_arg {
	struct index		*sa_ix;
	const struct mseg	*sa_segs;
	size_t			 sa_n;
	struct buf		*sa_out;
	roaring_bitmap_t	*sa_dead;
	uint64_t		 sa_purged;
	uint64_t		 sa_tokens;
	int			 sa_stale;
};

static int
merge_swap_txn(MDB_txn *txn, void *arg)
{
	struct merge_swap_arg	*sa = arg;
	roaring_bitmap_t	*tomb;
	uint8_t			 kb[8];
	MDB_val			 k, v;
	size_t			 j;
	int			 rc;

	sa->sa_stale = 0;
	for (j = 0; j < sa->sa_n; j++) {
		util_put_be64(kb, sa->sa_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		rc = mdb_get(txn, index_dbi(sa->sa_ix, IDB_SEGS), &k, &v);
		if (rc == MDB_NOTFOUND || (rc == 0 &&
		    v.mv_size != sa->sa_segs[j].ms_size)) {
			sa->sa_stale = 1;	/* someone merged first */
			return (0);
		}
		if (rc != 0)
			return (rc);
	}
	for (j = 0; j < sa->sa_n; j++) {
		util_put_be64(kb, sa->sa_segs[j].ms_id);
		k.mv_size = 8;
		k.mv_data = kb;
		if (j == 0) {
			v.mv_size = sa->sa_out->b_len;
			v.mv_data = sa->sa_out->b_data;
			rc = mdb_put(txn, index_dbi(sa->sa_ix, IDB_SEGS), &k,
			    &v, 0);
		} else
			rc = mdb_del(txn, index_dbi(sa->sa_ix, IDB_SEGS), &k,
			    NULL);
		if (rc != 0)
			return (rc);
	}
	tomb = index_tomb_get(txn, sa->sa_ix);
	roaring_bitmap_andnot_inplace(tomb, sa->sa_dead);
	rc = index_tomb_put(txn, sa->sa_ix, tomb);
	roaring_bitmap_free(tomb);
	if (rc != 0)
		return (rc);
	return (index_meta_merged(txn, sa->sa_ix, sa->sa_purged,
	    sa->sa_tokens, sa->sa_n - 1));
}

/* Merge segs[0..n) into one; 1 if done, 0 if someone beat us, -1. */
static int
merge_run(struct index *ix, const struct mseg *segs, size_t n)
{
	struct merge_build_arg	 ba;
	struct merge_swap_arg	 sa;
	struct buf		 out;
	int			 rc;

	buf_init(&out);
	memset(&ba, 0, sizeof(ba));
	ba.ba_ix = ix;
	ba.ba_segs = segs;
	ba.ba_n = n;
	ba.ba_out = &out;
	rc = store_read(&ix->ix_store, merge_build_txn, &ba);
	if (rc != 0) {
		log_warnx("merge: reading %zu segments: %s", n,
		    mdb_strerror(rc));
		if (ba.ba_dead != NULL)
			roaring_bitmap_free(ba.ba_dead);
		buf_free(&out);
		return (-1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_ix = ix;
	sa.sa_segs = segs;
	sa.sa_n = n;
	sa.sa_out = &out;
	sa.sa_dead = ba.ba_dead;
	sa.sa_purged = ba.ba_purged;
	sa.sa_tokens = ba.ba_tokens;
	rc = store_write(&ix->ix_store, merge_swap_txn, &sa);
	roaring_bitmap_free(ba.ba_dead);
	if (rc != 0) {
		log_warnx("merge: %s", mdb_strerror(rc));
		buf_free(&out);
		return (-1);
	}
	if (!sa.sa_stale)
		log_debug("merge: %zu segments from %llu, %zu bytes, %llu dead "
		    "chunks purged", n, (unsigned long long)segs[0].ms_id,
		    out.b_len, (unsigned long long)ba.ba_purged);
	buf_free(&out);
	return (sa.sa_stale ? 0 : 1);
}

/*
 * One step of merging: find a run to merge and merge it.  With all set,
 * any run of two or more segments qualifies, and so does a lone segment
 * with dead chunks (compaction).  Returns 1 if it merged, 0 if there was
 * nothing to do, -1 on error.
 */
int
merge_step(struct index *ix, int all)
{
	struct merge_list_arg	 la;
	size_t			 i, j, n;
	int			 rv = 0;

	memset(&la, 0, sizeof(la));
	la.la_ix = ix;
	if (store_read(&ix->ix_store, merge_list_txn, &la) != 0) {
		free(la.la_segs);
		return (-1);
	}
	for (i = 0; i < la.la_n && rv == 0; i = j) {
		for (j = i + 1; j < la.la_n && (all ||
		    la.la_segs[j].ms_tier == la.la_segs[i].ms_tier); j++)
			if (!all && j - i == MERGE_FACTOR)
				break;
		n = j - i;
		/* Cids of a run must be consecutive: they are, by commit. */
		if ((all && (n >= 2 || la.la_segs[i].ms_dead > 0)) ||
		    n >= MERGE_FACTOR) {
			if (all && n > 64)
				n = 64;
			rv = merge_run(ix, la.la_segs + i, n);
			if (rv == 0)
				rv = 1;	/* the list changed: look again */
		}
	}
	/* With no tier full, rewrite a segment that is mostly dead. */
	for (i = 0; i < la.la_n && rv == 0; i++) {
		if (la.la_segs[i].ms_dead * 100 <
		    (uint64_t)la.la_segs[i].ms_nchunks * MERGE_DEAD_PCT ||
		    la.la_segs[i].ms_dead == 0)
			continue;
		rv = merge_run(ix, la.la_segs + i, 1);
		if (rv == 0)
			rv = 1;
	}
	free(la.la_segs);
	return (rv);
}

/*
 * The merger process, started by the supervisor (quired -M) with a
 * socketpair on fd 3 like a worker: it takes its configuration, opens
 * the index, and merges whenever a tier fills, at nice 10 so that
 * workers come first.  It exits on "stop", "exit" or end of file.
 */
void
merger_main(void)
{
	struct quire_conf	 conf;
	struct ipc_buf		 ib;
	struct ipc_msg		 m;
	struct index		 ix;
	FILE			*f;
	char			 err[CONF_STR_MAX + 256];
	uint64_t		 beat = 0, now;
	int			 rv, wait_ms;

	setproctitle("merger");
	log_procinit("merger");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		log_warn("merger: parent death signal");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	if (nice(10) == -1)
		log_debug("merger: nice");
	memset(&ib, 0, sizeof(ib));
	if (ipc_recv(MERGER_FD, &ib, &m, 10000) != 1 || m.m_type != IPC_CONFIG)
		fatalx("merger: no configuration from the supervisor");
	config_defaults(&conf);
	if ((f = fmemopen(m.m_str, strlen(m.m_str), "r")) == NULL)
		fatal("merger: fmemopen");
	if (config_parse(f, "supervisor", &conf, err, sizeof(err)) == -1)
		fatalx("merger: %s", err);
	fclose(f);
	if (conf.c_logfile[0] != '\0' && log_openfile(conf.c_logfile) == -1)
		log_warn("merger: %s", conf.c_logfile);
	log_setverbose(conf.c_loglevel);
	if (index_open(&ix, conf.c_datadir, conf.c_mapsize, conf.c_sync) == -1)
		fatalx("merger: cannot open the index");
	if (ipc_send(MERGER_FD, IPC_READY, 0, getpid(), NULL) == -1)
		_exit(0);
	for (;;) {
		now = util_mono_ms();
		if (now - beat >= conf.c_heartbeat_ms) {
			if (ipc_send(MERGER_FD, IPC_HEARTBEAT, 0, 0, "merge")
			    == -1)
				break;
			beat = now;
		}
		rv = merge_step(&ix, 0);
		wait_ms = rv == 1 ? 0 : rv == 0 ? 1000 : 5000;
		if (wait_ms > (int)conf.c_heartbeat_ms)
			wait_ms = conf.c_heartbeat_ms;
		rv = ipc_recv(MERGER_FD, &ib, &m, wait_ms);
		if (rv == -1 || (rv == 1 && (m.m_type == IPC_STOP ||
		    m.m_type == IPC_EXIT)))
			break;
	}
	index_close(&ix);
	_exit(0);
}
