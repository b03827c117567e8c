/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's jobs and dead letters: GET /v1/jobs, GET, DELETE
 * /v1/jobs/ID, POST /v1/jobs/ID/retry, GET /v1/dead, POST /v1/dead/retry
 * and DELETE /v1/dead.
 *
 * Jobs are read from the queue, which the http child has open, and shown
 * as `quirectl job --json` shows them (show.c).  Lists are pages in id
 * order: after= is the last id of the page before, and "next" the after=
 * of the page that follows, or null at the end.  A page reads at most
 * HTTP_JOBS_SCAN records, so a filter that matches few of many jobs
 * gives short pages, even empty ones, with a "next", rather than one
 * long scan that would hold up every other request.
 *
 * A cancel goes through the supervisor (CTL_CANCEL), which tells the
 * worker that runs the job to stop at once; a retry or a purge of dead
 * letters is written here, as quirectl writes it.
 *
 * A token bound to a tenant sees and touches that tenant's jobs only:
 * another tenant's job is "no such job" (404, as if it did not exist),
 * lists are filtered to the tenant, and tenant= naming another one is
 * 403.  Dead letters are retried and purged for the tenant alone.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "http.h"

#define HTTP_JOBS_LIMIT		100	/* jobs a page, unless limit= */
#define HTTP_JOBS_LIMIT_MAX	1000
#define HTTP_JOBS_SCAN		20000	/* records a page reads, at most */
#define HTTP_JOB_ID_MAX		(INT64_MAX - 1)

/* A queue error as a reply: the storage's faults are 503. */
static void
http_queue_error(struct http_req *hr, int rc, const char *what)
{
	if (queue_fault(rc)) {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", "10");
		http_error(hr, 503, "storage", "%s: %s", what,
		    queue_strerror(rc));
	} else
		http_error(hr, 500, "internal", "%s: %s", what,
		    queue_strerror(rc));
}

/* The id of the path; 0 after a 400. */
static uint64_t
http_job_id(struct http_req *hr)
{
	const char	*errstr;
	long long	 id = 0;

	/* Digits only: strtonum would take " +5" too. */
	if (hr->hr_id[strspn(hr->hr_id, "0123456789")] != '\0')
		errstr = "not a number";
	else
		id = strtonum(hr->hr_id, 1, HTTP_JOB_ID_MAX, &errstr);
	if (errstr != NULL) {
		http_error(hr, 400, "bad_id", "job id %.64s: %s (1 to %lld)",
		    hr->hr_id, errstr, (long long)HTTP_JOB_ID_MAX);
		return (0);
	}
	return ((uint64_t)id);
}

/*
 * The job of the path into j, if the request may see it; -1 after a
 * reply (400, 404, 5xx).  Another tenant's job does not exist.
 */
static int
http_job_load(struct http_req *hr, struct job *j)
{
	uint64_t	 id;
	int		 rc;

	if ((id = http_job_id(hr)) == 0)
		return (-1);
	rc = queue_get(&hr->hr_hd->hd_q, id, j);
	if (rc == QUEUE_ENOENT || (rc == 0 && hr->hr_tenant != NULL &&
	    strcmp(j->j_tenant, hr->hr_tenant) != 0)) {
		http_error(hr, 404, "no_such_job", "no such job %llu",
		    (unsigned long long)id);
		return (-1);
	}
	if (rc != 0) {
		http_queue_error(hr, rc, "job");
		return (-1);
	}
	return (0);
}

void
http_job(struct http_req *hr)
{
	struct job	 j;
	struct buf	 b;

	if (http_job_load(hr, &j) == -1)
		return;
	buf_init(&b);
	show_job_json(&b, &j);
	buf_addc(&b, '\n');
	http_json(hr, 200, &b);
	buf_free(&b);
}

/* --- Lists. */

static int
http_jobs_cb(const struct job *j, void *arg)
{
	struct buf	*b = arg;

	if (b->b_data[b->b_len - 1] != '[')
		buf_addstr(b, ",\n  ");
	else
		buf_addstr(b, "\n  ");
	show_job_json(b, j);
	return (0);
}

/*
 * One page of jobs of state (-1: any) as {"jobs": [...], "next": ...},
 * with limit=, after= and tenant= from the query string.
 */
static void
http_jobs_page(struct http_req *hr, int state)
{
	struct queue_page	 qp;
	struct buf		 b;
	const char		*tenant;
	long long		 limit, after;
	int			 rc;

	if (http_query_num(hr, "limit", 1, HTTP_JOBS_LIMIT_MAX,
	    HTTP_JOBS_LIMIT, &limit) == -1 ||
	    http_query_num(hr, "after", 0, HTTP_JOB_ID_MAX, 0, &after) == -1)
		return;
	tenant = http_query(hr, "tenant");
	if (tenant != NULL && (*tenant == '\0' ||
	    strlen(tenant) > JOB_TENANT_MAX)) {
		http_error(hr, 400, "bad_parameter", "tenant: a name of 1 to "
		    "%d bytes", JOB_TENANT_MAX);
		return;
	}
	if (tenant != NULL && hr->hr_tenant != NULL &&
	    strcmp(tenant, hr->hr_tenant) != 0) {
		http_error(hr, 403, "forbidden", "this token lists its own "
		    "tenant's jobs only");
		return;
	}
	memset(&qp, 0, sizeof(qp));
	qp.qp_state = state;
	qp.qp_tenant = hr->hr_tenant != NULL ? hr->hr_tenant : tenant;
	qp.qp_after = after;
	qp.qp_limit = limit;
	qp.qp_scan = HTTP_JOBS_SCAN;
	buf_init(&b);
	buf_addstr(&b, "{\"jobs\": [");
	if ((rc = queue_page(&hr->hr_hd->hd_q, &qp, http_jobs_cb, &b)) != 0) {
		http_queue_error(hr, rc, "jobs");
		buf_free(&b);
		return;
	}
	buf_addstr(&b, b.b_data[b.b_len - 1] == '[' ? "]" : "\n]");
	if (qp.qp_next != 0)
		buf_printf(&b, ", \"next\": %llu}\n",
		    (unsigned long long)qp.qp_next);
	else
		buf_addstr(&b, ", \"next\": null}\n");
	http_json(hr, 200, &b);
	buf_free(&b);
}

void
http_jobs(struct http_req *hr)
{
	const char	*s;
	int		 state = -1;

	if ((s = http_query(hr, "state")) != NULL &&
	    (state = codec_state_parse(s)) == -1) {
		http_error(hr, 400, "bad_parameter", "state=%.32s: one of "
		    "ready, leased, retry, done, dead, cancelled", s);
		return;
	}
	http_jobs_page(hr, state);
}

void
http_dead(struct http_req *hr)
{
	if (http_query(hr, "state") != NULL) {
		http_error(hr, 400, "bad_parameter", "state=: dead letters "
		    "are dead");
		return;
	}
	http_jobs_page(hr, JOB_DEAD);
}

/* --- Changes. */

/*
 * The supervisor's "cancelled ID STATE [worker N]" (ask_cancelled) as
 * JSON; its errors "no such job ID" (404) and "job ID has already
 * finished (STATE)" (409).
 */
void
http_job_cancel(struct http_req *hr)
{
	struct job		 j;
	struct buf		 body, out;
	char			 why[512], was[16];
	int			 rv, slot;

	if (http_job_load(hr, &j) == -1)
		return;
	buf_init(&body);
	rv = http_ask_why(hr, CTL_CANCEL, j.j_id, "", &body, why, sizeof(why));
	if (rv == -1)
		goto out;
	if (rv == ASK_REFUSED) {
		if (strncmp(why, "no such job", 11) == 0)
			http_error(hr, 404, "no_such_job", "%s", why);
		else if (strstr(why, "already finished") != NULL)
			http_error(hr, 409, "finished", "%s", why);
		else
			http_error(hr, 500, "internal", "cancel: %s", why);
		goto out;
	}
	if (ask_cancelled(buf_cstr(&body), j.j_id, was, sizeof(was),
	    &slot) == -1) {
		http_error(hr, 502, "bad_reply", "cancel: the supervisor's "
		    "reply is not understood");
		goto out;
	}
	buf_init(&out);
	buf_printf(&out, "{\"job\": %llu, \"cancelled\": true, \"was\": ",
	    (unsigned long long)j.j_id);
	show_json_str(&out, was);
	if (slot != -1)
		buf_printf(&out, ", \"worker\": %d", slot);
	buf_addstr(&out, "}\n");
	http_json(hr, 200, &out);
	buf_free(&out);
 out:
	buf_free(&body);
}

/* A dead letter, or a job waiting to be retried, ready now. */
void
http_job_retry(struct http_req *hr)
{
	struct job	 j;
	struct buf	 b;
	int		 rc;

	if (http_job_load(hr, &j) == -1)
		return;
	rc = queue_retry(&hr->hr_hd->hd_q, j.j_id);
	if (rc == QUEUE_ESTATE) {
		http_error(hr, 409, "not_dead", "job %llu is %s: only a dead "
		    "letter or a retrying job can be retried",
		    (unsigned long long)j.j_id, codec_state_name(j.j_state));
		return;
	}
	if (rc == QUEUE_ENOENT) {
		http_error(hr, 404, "no_such_job", "no such job %llu",
		    (unsigned long long)j.j_id);
		return;
	}
	if (rc != 0) {
		http_queue_error(hr, rc, "retry");
		return;
	}
	buf_init(&b);
	buf_printf(&b, "{\"job\": %llu, \"state\": \"ready\", \"was\": \"%s\"}\n",
	    (unsigned long long)j.j_id, codec_state_name(j.j_state));
	http_json(hr, 200, &b);
	buf_free(&b);
}

void
http_dead_retry(struct http_req *hr)
{
	struct buf	 b;
	uint64_t	 n;
	int		 rc;

	if ((rc = queue_retry_dead_tenant(&hr->hr_hd->hd_q, hr->hr_tenant,
	    &n)) != 0) {
		http_queue_error(hr, rc, "retry");
		return;
	}
	buf_init(&b);
	buf_printf(&b, "{\"retried\": %llu}\n", (unsigned long long)n);
	http_json(hr, 200, &b);
	buf_free(&b);
}

void
http_dead_purge(struct http_req *hr)
{
	struct buf	 b;
	uint64_t	 n;
	int		 rc;

	if ((rc = queue_purge_tenant(&hr->hr_hd->hd_q, JOB_DEAD,
	    hr->hr_tenant, 0, 0, &n)) != 0) {
		http_queue_error(hr, rc, "purge");
		return;
	}
	buf_init(&b);
	buf_printf(&b, "{\"purged\": %llu}\n", (unsigned long long)n);
	http_json(hr, 200, &b);
	buf_free(&b);
}
