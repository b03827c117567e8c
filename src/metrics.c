/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The daemon's figures in the Prometheus text exposition format, version
 * 0.0.4: the reply to the admin socket's metrics command, which quirectl
 * metrics prints and the HTTP child serves as /metrics, unchanged.  The
 * text is complete on its own: every family has its # HELP and # TYPE
 * lines, names begin with quire_, and units are seconds and bytes.
 *
 * The figures come from where status --json takes them, read when asked:
 * the queue's counts and totals (queue_stats, and queue_tenants for the
 * counts per tenant), the index's (index_stats), the worker table and its
 * counters (fleet.c), the last memory sample (memory.c, pressure.c), the
 * storage state (storage.c), and the timings workers send over IPC
 * (metrics_hist.c).  Nothing here changes anything.
 *
 * Tenants: quire_jobs has a series per tenant and state.  The number of
 * tenants has no bound of its own, so at most METRICS_TENANTS_MAX of
 * them are shown by name, those with the most jobs ready, leased or
 * retrying (then the most jobs in all); the others are summed under
 * tenant="_other", as is a tenant that is itself named "_other".  A
 * label value is escaped as the format wants (backslash, double quote,
 * newline) and made valid UTF-8 first.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

#define METRICS_OTHER	"_other"

struct metrics_tenant {
	char		 mt_name[JOB_TENANT_MAX + 1];
	uint64_t	 mt_count[JOB_NSTATES];
};

struct metrics_tenants {
	struct metrics_tenant	 ts_t[METRICS_TENANTS_MAX];
	size_t			 ts_n;
	struct metrics_tenant	 ts_other;
	int			 ts_has_other;
};

/* The # HELP and # TYPE lines of a family. */
static void
metrics_head(struct evbuffer *eb, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(eb, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* One family of one sample, no labels. */
static void
metrics_one(struct evbuffer *eb, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	metrics_head(eb, name, type, help);
	evbuffer_add_printf(eb, "%s %llu\n", name, v);
}

/* A label value: valid UTF-8, with \, " and newline escaped. */
static void
metrics_label(struct evbuffer *eb, const char *s)
{
	struct buf	 fixed;
	const char	*p;

	if (!utf8_valid(s, strlen(s), NULL)) {
		buf_init(&fixed);
		utf8_repair(s, strlen(s), &fixed);
		metrics_label(eb, buf_cstr(&fixed));
		buf_free(&fixed);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '\\')
			evbuffer_add(eb, "\\\\", 2);
		else if (*p == '"')
			evbuffer_add(eb, "\\\"", 2);
		else if (*p == '\n')
			evbuffer_add(eb, "\\n", 2);
		else
			evbuffer_add(eb, p, 1);
	}
}

static uint64_t
metrics_live(const struct metrics_tenant *t)
{
	return (t->mt_count[JOB_READY] + t->mt_count[JOB_LEASED] +
	    t->mt_count[JOB_RETRY]);
}

static uint64_t
metrics_all(const struct metrics_tenant *t)
{
	uint64_t	 n = 0;
	int		 i;

	for (i = 0; i < JOB_NSTATES; i++)
		n += t->mt_count[i];
	return (n);
}

/* Whether a should be shown rather than b. */
static int
metrics_before(const struct metrics_tenant *a, const struct metrics_tenant *b)
{
	if (metrics_live(a) != metrics_live(b))
		return (metrics_live(a) > metrics_live(b));
	return (metrics_all(a) > metrics_all(b));
}

static void
metrics_fold(struct metrics_tenants *ts, const struct metrics_tenant *t)
{
	int	 i;

	for (i = 0; i < JOB_NSTATES; i++)
		ts->ts_other.mt_count[i] += t->mt_count[i];
	ts->ts_has_other = 1;
}

static int
metrics_tenant_cb(const char *name, const uint64_t *count, void *arg)
{
	struct metrics_tenants	*ts = arg;
	struct metrics_tenant	 t;
	size_t			 i, low;

	strlcpy(t.mt_name, name, sizeof(t.mt_name));
	memcpy(t.mt_count, count, sizeof(t.mt_count));
	if (strcmp(name, METRICS_OTHER) == 0) {
		metrics_fold(ts, &t);
		return (0);
	}
	if (ts->ts_n < METRICS_TENANTS_MAX) {
		ts->ts_t[ts->ts_n++] = t;
		return (0);
	}
	for (low = 0, i = 1; i < ts->ts_n; i++)
		if (metrics_before(&ts->ts_t[low], &ts->ts_t[i]))
			low = i;
	if (metrics_before(&t, &ts->ts_t[low])) {
		metrics_fold(ts, &ts->ts_t[low]);
		ts->ts_t[low] = t;
	} else
		metrics_fold(ts, &t);
	return (0);
}

static int
metrics_tenant_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct metrics_tenant *)a)->mt_name,
	    ((const struct metrics_tenant *)b)->mt_name));
}

static void
metrics_tenant_lines(struct evbuffer *eb, const struct metrics_tenant *t)
{
	int	 i;

	for (i = 0; i < JOB_NSTATES; i++) {
		evbuffer_add_printf(eb, "quire_jobs{state=\"%s\",tenant=\"",
		    codec_state_name(i));
		metrics_label(eb, t->mt_name);
		evbuffer_add_printf(eb, "\"} %llu\n",
		    (unsigned long long)t->mt_count[i]);
	}
}

/* The queue: jobs by state and tenant, and what became of them. */
static void
metrics_queue(struct supervisor *sv, struct evbuffer *eb)
{
	struct metrics_tenants	*ts;
	struct queue_stats	 qs;
	char			 help[128];
	size_t			 i;
	int			 rc;

	ts = xcalloc(1, sizeof(*ts));
	strlcpy(ts->ts_other.mt_name, METRICS_OTHER,
	    sizeof(ts->ts_other.mt_name));
	if ((rc = queue_tenants(&sv->sv_q, metrics_tenant_cb, ts)) != 0)
		log_warnx("%s: jobs per tenant: %s", __func__,
		    queue_strerror(rc));
	qsort(ts->ts_t, ts->ts_n, sizeof(ts->ts_t[0]), metrics_tenant_cmp);
	snprintf(help, sizeof(help), "Jobs in the queue by state and tenant "
	    "(at most %d tenants by name, the rest under %s).",
	    METRICS_TENANTS_MAX, METRICS_OTHER);
	metrics_head(eb, "quire_jobs", "gauge", help);
	for (i = 0; i < ts->ts_n; i++)
		metrics_tenant_lines(eb, &ts->ts_t[i]);
	if (ts->ts_has_other)
		metrics_tenant_lines(eb, &ts->ts_other);
	free(ts);

	if (queue_stats(&sv->sv_q, &qs) != 0)
		memset(&qs, 0, sizeof(qs));
	metrics_one(eb, "quire_jobs_enqueued_total", "counter",
	    "Jobs ever enqueued.", qs.qs_enqueued);
	metrics_head(eb, "quire_jobs_finished_total", "counter",
	    "Ends of job attempts by outcome: done (acked), failed (to be "
	    "retried), dead (a dead letter), cancelled, released (given back "
	    "when its worker died or its lease expired).");
	evbuffer_add_printf(eb, "quire_jobs_finished_total{outcome=\"done\"} "
	    "%llu\nquire_jobs_finished_total{outcome=\"failed\"} %llu\n"
	    "quire_jobs_finished_total{outcome=\"dead\"} %llu\n"
	    "quire_jobs_finished_total{outcome=\"cancelled\"} %llu\n"
	    "quire_jobs_finished_total{outcome=\"released\"} %llu\n",
	    (unsigned long long)qs.qs_done, (unsigned long long)qs.qs_retried,
	    (unsigned long long)qs.qs_failed,
	    (unsigned long long)qs.qs_cancelled,
	    (unsigned long long)qs.qs_released);
	metrics_head(eb, "quire_jobs_big_inflight_bytes", "gauge",
	    "Input bytes of big jobs leased now.");
	evbuffer_add_printf(eb, "quire_jobs_big_inflight_bytes %llu\n",
	    (unsigned long long)qs.qs_big_inflight);
}

/* The index, as status shows it. */
static void
metrics_index(struct supervisor *sv, struct evbuffer *eb)
{
	struct ixstats	 is;

	if (index_stats(&sv->sv_ix, &is) != 0)
		memset(&is, 0, sizeof(is));
	metrics_one(eb, "quire_documents_indexed_total", "counter",
	    "Documents written to the index, new ones and changed versions "
	    "(unchanged redeliveries are not).", is.is_next_docid > 0 ?
	    is.is_next_docid - 1 : 0);
	metrics_one(eb, "quire_index_documents", "gauge",
	    "Live documents in the index.", is.is_docs);
	metrics_one(eb, "quire_index_chunks", "gauge",
	    "Live chunks in the index.", is.is_chunks);
	metrics_one(eb, "quire_index_dead_chunks", "gauge",
	    "Chunks deleted or replaced, not yet purged.", is.is_dead);
	metrics_one(eb, "quire_index_segments", "gauge",
	    "Index segments not yet merged.", is.is_segments);
	metrics_one(eb, "quire_index_merges_total", "counter",
	    "Segment merges.", is.is_merges);
	metrics_one(eb, "quire_index_chunk_ids_left", "gauge",
	    "Chunk ids the index can still give out; at 0 ingestion holds "
	    "(storage ids-full).", index_ids_left(is.is_next_cid));
}

/* The worker table: states, size, resizes and why workers ended. */
static void
metrics_fleet(struct supervisor *sv, struct evbuffer *eb)
{
	struct fleet	*f = &sv->sv_fleet;
	uint64_t	 n[W_BACKOFF + 1];
	char		 why[256];
	int		 i;

	memset(n, 0, sizeof(n));
	for (i = 0; i < QUIRE_WORKERS_MAX; i++)
		n[f->f_w[i].w_state]++;
	metrics_head(eb, "quire_workers", "gauge", "Worker slots by state.");
	for (i = W_STARTING; i <= W_BACKOFF; i++)
		evbuffer_add_printf(eb, "quire_workers{state=\"%s\"} %llu\n",
		    fleet_state_name(i), (unsigned long long)n[i]);
	metrics_one(eb, "quire_workers_running", "gauge",
	    "Worker processes alive.", fleet_live(sv));
	metrics_one(eb, "quire_workers_target", "gauge", "The fleet target: "
	    "workers, or as set by scale, TTIN and TTOU.", f->f_target);
	metrics_one(eb, "quire_workers_wanted", "gauge", "Workers wanted now: "
	    "the target, lower while memory is short.", fleet_want(sv));
	metrics_one(eb, "quire_worker_starts_total", "counter",
	    "Worker and merger processes started.", f->f_spawned);
	metrics_head(eb, "quire_worker_exits_total", "counter",
	    "Worker processes that ended, by cause.");
	for (i = 0; i < FX_N; i++)
		evbuffer_add_printf(eb,
		    "quire_worker_exits_total{cause=\"%s\"} %llu\n",
		    fleet_exit_name(i),
		    (unsigned long long)f->f_exits[i]);
	metrics_one(eb, "quire_worker_replacements_total", "counter",
	    "Workers replaced between jobs (max-jobs, memory, reload).",
	    f->f_replaced);
	metrics_head(eb, "quire_fleet_resizes_total", "counter",
	    "Changes of the fleet's size: of its target (scale, TTIN, TTOU, "
	    "reload), or steps of the memory policy.");
	evbuffer_add_printf(eb, "quire_fleet_resizes_total{cause=\"target\","
	    "direction=\"up\"} %llu\nquire_fleet_resizes_total{cause="
	    "\"target\",direction=\"down\"} %llu\n"
	    "quire_fleet_resizes_total{cause=\"memory\",direction=\"up\"} "
	    "%llu\nquire_fleet_resizes_total{cause=\"memory\",direction="
	    "\"down\"} %llu\n", (unsigned long long)f->f_target_ups,
	    (unsigned long long)f->f_target_downs,
	    (unsigned long long)f->f_ups, (unsigned long long)f->f_downs);
	metrics_one(eb, "quire_degraded", "gauge", "1 while the daemon is "
	    "degraded (see quirectl status).",
	    fleet_degraded_why(sv, why, sizeof(why)) != NULL);
	metrics_one(eb, "quire_draining", "gauge", "1 while draining.",
	    sv->sv_draining != 0);
	metrics_one(eb, "quire_reloads_total", "counter",
	    "Configuration reloads asked for.", sv->sv_reloads);
	metrics_head(eb, "quire_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the epoch.");
	evbuffer_add_printf(eb, "quire_start_time_seconds %.3f\n",
	    (double)sv->sv_started / 1000);
}

/* A gauge in bytes, or a ratio, from the last memory sample. */
static void
metrics_memory(struct supervisor *sv, struct evbuffer *eb)
{
	const struct psample	*ps = &sv->sv_ps;

	metrics_one(eb, "quire_memory_available_bytes", "gauge",
	    "MemAvailable at the last sample.", ps->ps_avail);
	metrics_one(eb, "quire_memory_limit_bytes", "gauge", "The memory "
	    "limit: the cgroup's, or MemTotal.", ps->ps_limit);
	metrics_one(eb, "quire_memory_usage_bytes", "gauge", "Memory used "
	    "under the limit, without reclaimable page cache.", ps->ps_usage);
	metrics_one(eb, "quire_memory_headroom_bytes", "gauge",
	    "The limit minus usage, at most MemAvailable.", ps->ps_headroom);
	metrics_one(eb, "quire_memory_reserve_bytes", "gauge", "Headroom "
	    "below which the fleet shrinks (memory-reserve).",
	    sv->sv_ec.ec_reserve);
	/* PSI figures are absent (negative) on kernels without PSI. */
	metrics_head(eb, "quire_memory_psi_some_ratio", "gauge", "Memory PSI "
	    "some, avg10, as a ratio (absent without PSI).");
	if (ps->ps_some10 >= 0)
		evbuffer_add_printf(eb, "quire_memory_psi_some_ratio %.4f\n",
		    ps->ps_some10 / 100);
	metrics_head(eb, "quire_memory_psi_full_ratio", "gauge", "Memory PSI "
	    "full, avg10, as a ratio (absent without PSI).");
	if (ps->ps_full10 >= 0)
		evbuffer_add_printf(eb, "quire_memory_psi_full_ratio %.4f\n",
		    ps->ps_full10 / 100);
	metrics_one(eb, "quire_memory_pressure", "gauge",
	    "1 while under memory pressure.", sv->sv_el.el_pressure != 0);
	metrics_one(eb, "quire_memory_worker_cap", "gauge",
	    "The most workers memory allows now.", sv->sv_el.el_cap);
	metrics_one(eb, "quire_memory_big_admit_bytes", "gauge", "Input "
	    "bytes of big jobs the fleet may run at once now.", sv->sv_admit);
	metrics_one(eb, "quire_memory_oom_kills_total", "counter",
	    "OOM kills in the daemon's cgroup, as the kernel counts them.",
	    ps->ps_oom_kills);
}

static void
metrics_storage(struct supervisor *sv, struct evbuffer *eb)
{
	const struct storage	*st = &sv->sv_storage;
	long long		 room = storage_free(sv);

	metrics_one(eb, "quire_storage_fault", "gauge", "1 while a storage "
	    "fault (disk full, map full, I/O error, ids used up) holds "
	    "ingestion.",
	    st->st_fault != STORE_FAULT_NONE);
	metrics_one(eb, "quire_storage_faults_total", "counter",
	    "Storage faults that began.", st->st_episodes);
	metrics_head(eb, "quire_storage_free_bytes", "gauge", "Free bytes on "
	    "the data directory's file system (absent when unknown).");
	if (room >= 0)
		evbuffer_add_printf(eb, "quire_storage_free_bytes %lld\n",
		    room);
	metrics_one(eb, "quire_reader_slots_cleared_total", "counter",
	    "Stale LMDB reader slots cleared.",
	    (queue_store(&sv->sv_q) != NULL ?
	    queue_store(&sv->sv_q)->s_stale : 0) + sv->sv_ix.ix_store.s_stale);
}

/* Everything, as the text exposition format. */
void
metrics_write(struct supervisor *sv, struct evbuffer *eb)
{
	metrics_queue(sv, eb);
	metrics_hist_write(&sv->sv_metrics, eb);
	metrics_index(sv, eb);
	metrics_fleet(sv, eb);
	metrics_memory(sv, eb);
	metrics_storage(sv, eb);
}
