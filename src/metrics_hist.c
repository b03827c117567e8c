/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The timings workers report, kept by the supervisor as histograms.
 *
 * Only a worker knows how long its claim transaction or its index commit
 * took, and when it acked a job; it sends each figure to the supervisor
 * in an IPC_METRIC frame (a: what, enum metrics_obs; b: microseconds,
 * or bytes for MO_BYTES), and fleet.c hands the frame here.  Each
 * histogram has the same fixed buckets, in seconds:
 *
 *	0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 +Inf
 *
 * which cover a claim of a millisecond and a PDF of a minute.  The counts
 * are kept per bucket and written cumulative, in the Prometheus text
 * format, with the sum in seconds.  They live in the supervisor's memory
 * and start again at zero with it, as Prometheus expects of a counter.
 * The whole is a few hundred bytes and costs nothing per frame but a
 * walk of sixteen bounds.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "quire.h"

/* Upper bounds in microseconds; the last bucket has none (+Inf). */
static const uint64_t mh_bounds_us[METRICS_BUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000
};

static const struct {
	const char	*name;
	const char	*help;
} mh_names[MO_NHIST] = {
	{ "quire_job_duration_seconds",
	  "Time from a job's claim to its ack (done or cancelled)." },
	{ "quire_job_queue_wait_seconds",
	  "Time from a job's enqueue to its claim." },
	{ "quire_claim_duration_seconds",
	  "Time a worker's claim transaction took, for claims that took "
	  "jobs." },
	{ "quire_index_commit_duration_seconds",
	  "Time an index commit took." }
};

/* One figure from a worker; -1 for a what we do not know. */
int
metrics_hist_observe(struct metrics *mt, uint64_t what, uint64_t v)
{
	struct metrics_hist	*h;
	size_t			 i;

	if (what == MO_BYTES) {
		mt->mt_bytes += v;
		return (0);
	}
	if (what >= MO_NHIST) {
		mt->mt_refused++;
		return (-1);
	}
	h = &mt->mt_hist[what];
	for (i = 0; i < METRICS_BUCKETS - 1; i++)
		if (v <= mh_bounds_us[i])
			break;
	h->mh_bucket[i]++;
	h->mh_count++;
	h->mh_sum_us += v;
	return (0);
}

static void
metrics_hist_one(const struct metrics_hist *h, const char *name,
    const char *help, struct evbuffer *eb)
{
	uint64_t	 cum = 0;
	size_t		 i;

	evbuffer_add_printf(eb, "# HELP %s %s\n# TYPE %s histogram\n", name,
	    help, name);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->mh_bucket[i];
		if (i < METRICS_BUCKETS - 1)
			evbuffer_add_printf(eb, "%s_bucket{le=\"%g\"} %llu\n",
			    name, (double)mh_bounds_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			evbuffer_add_printf(eb, "%s_bucket{le=\"+Inf\"} %llu\n",
			    name, (unsigned long long)cum);
	}
	evbuffer_add_printf(eb, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)h->mh_sum_us / 1e6, name, (unsigned long long)h->mh_count);
}

/* The histograms and the bytes counter, as Prometheus text. */
void
metrics_hist_write(const struct metrics *mt, struct evbuffer *eb)
{
	size_t	 i;

	for (i = 0; i < MO_NHIST; i++)
		metrics_hist_one(&mt->mt_hist[i], mh_names[i].name,
		    mh_names[i].help, eb);
	evbuffer_add_printf(eb, "# HELP quire_indexed_bytes_total Input bytes "
	    "of the jobs workers acked done since the daemon started.\n"
	    "# TYPE quire_indexed_bytes_total counter\n"
	    "quire_indexed_bytes_total %llu\n",
	    (unsigned long long)mt->mt_bytes);
	evbuffer_add_printf(eb,
	    "# HELP quire_worker_metric_frames_refused_total "
	    "Timing frames from workers with an unknown kind.\n"
	    "# TYPE quire_worker_metric_frames_refused_total counter\n"
	    "quire_worker_metric_frames_refused_total %llu\n",
	    (unsigned long long)mt->mt_refused);
}
