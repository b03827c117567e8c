/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Uploads: POST /v1/documents (one document, the body) and POST
 * /v1/documents/bulk (NDJSON records, cut into jobs as `submit --ndjson`
 * cuts a file).
 *
 * "Accepted" means on disk: the body is written to the spool and fsynced
 * with its directory (spool.c), then its jobs are committed in one
 * transaction (fsynced, as every queue commit), and only then does the
 * client get its 202 with the job ids; on the PostgreSQL queue that
 * transaction also copies the body into the database, which every
 * host's workers read it from (queue_pg_spool.c).  A bulk is checked
 * record by record first, as a worker would read it, and one malformed
 * record refuses the whole body with the line numbers (400, nothing
 * taken), so a bulk is never half-accepted.  An Idempotency-Key names
 * the upload: the same key again gives 200 with the jobs it made the
 * first time ("duplicate": true), and the second body is not kept.
 *
 * What a document is: id, title, tenant and priority from the query
 * string (?id=&title=&tenant=&priority=) or from X-Quire-Id,
 * X-Quire-Title, X-Quire-Tenant and X-Quire-Priority; its type from
 * Content-Type, sniffed as for a file when that is absent or generic.
 * A token bound to a tenant submits for that tenant only.
 *
 * A full disk or a full map is the service's fault, not the client's:
 * 503 with Retry-After, and nothing kept; so is an upload while storage
 * is in a fault or a map nearly full (http_health_tick).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "http.h"

#define HTTP_BAD_LINES_MAX	100	/* line numbers a refusal names */
#define HTTP_RETRY_STORAGE	"10"	/* Retry-After on a storage fault */

/* A field from the query string, or else from its X-Quire- header. */
static const char *
http_field(struct http_req *hr, const char *key, const char *header)
{
	const char	*v;

	if ((v = http_query(hr, key)) != NULL)
		return (v);
	return (evhttp_find_header(evhttp_request_get_input_headers(
	    hr->hr_req), header));
}

/* The submit options of an upload; -1 after a 400, 403 or 503. */
static int
http_upload_opts(struct http_req *hr, struct submit_opts *so)
{
	const char	*tenant, *prio, *errstr;

	if (hr->hr_hd->hd_refuse[0] != '\0') {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", HTTP_RETRY_STORAGE);
		http_error(hr, 503, "storage_full", "%s: no uploads for now",
		    hr->hr_hd->hd_refuse);
		return (-1);
	}

	memset(so, 0, sizeof(*so));
	so->so_split = SUBMIT_SPLIT_DEFAULT;
	tenant = http_field(hr, "tenant", "X-Quire-Tenant");
	if (hr->hr_tenant != NULL && tenant != NULL &&
	    strcmp(tenant, hr->hr_tenant) != 0) {
		http_error(hr, 403, "forbidden", "this token submits for "
		    "tenant %s only", hr->hr_tenant);
		return (-1);
	}
	so->so_tenant = hr->hr_tenant != NULL ? hr->hr_tenant : tenant;
	if (so->so_tenant != NULL && strlen(so->so_tenant) > JOB_TENANT_MAX) {
		http_error(hr, 400, "bad_parameter", "tenant: at most %d bytes",
		    JOB_TENANT_MAX);
		return (-1);
	}
	if ((prio = http_field(hr, "priority", "X-Quire-Priority")) != NULL) {
		so->so_prio = strtonum(prio, 0, 9, &errstr);
		if (errstr != NULL) {
			http_error(hr, 400, "bad_parameter", "priority %s: %s "
			    "(0 to 9)", prio, errstr);
			return (-1);
		}
	}
	so->so_key = evhttp_find_header(evhttp_request_get_input_headers(
	    hr->hr_req), "Idempotency-Key");
	if (so->so_key != NULL && (strlen(so->so_key) == 0 ||
	    strlen(so->so_key) > JOB_KEY_MAX - 32)) {
		http_error(hr, 400, "bad_parameter", "Idempotency-Key: 1 to %d "
		    "bytes", JOB_KEY_MAX - 32);
		return (-1);
	}
	return (0);
}

/* The reply to a spool that failed. */
static void
http_spool_error(struct http_req *hr, struct spool_writer *sw, int rv,
    uint64_t max, const char *option)
{
	char	 size[32];

	if (rv == SPOOL_ETOOBIG) {
		util_format_size(max, size, sizeof(size));
		http_error(hr, 413, "too_large", "the body is larger than %s "
		    "(%s)", size, option);
	} else if (rv == SPOOL_EFAULT) {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", HTTP_RETRY_STORAGE);
		http_error(hr, 503, "storage_full", "storage %s: nothing kept",
		    store_fault_name(sw->sw_fault));
	} else {
		log_warnx("http: spool: %s", strerror(sw->sw_errno));
		http_error(hr, 500, "spool_failed", "the body could not be "
		    "written: %s", strerror(sw->sw_errno));
	}
}

/* The body into the spool, chunk by chunk; -1 after the error reply. */
static int
http_spool(struct http_req *hr, struct spool_writer *sw, uint64_t max,
    const char *option)
{
	struct evbuffer		*in;
	struct evbuffer_iovec	*v;
	const char		*datadir = hr->hr_hd->hd_ch.ch_conf.c_datadir;
	int			 i, n, rv;

	in = evhttp_request_get_input_buffer(hr->hr_req);
	if (evbuffer_get_length(in) == 0) {
		http_error(hr, 400, "empty_body", "the body is empty");
		return (-1);
	}
	if ((rv = spool_begin(sw, datadir, max)) != SPOOL_OK) {
		http_spool_error(hr, sw, rv, max, option);
		return (-1);
	}
	n = evbuffer_peek(in, -1, NULL, NULL, 0);
	v = xcalloc(n, sizeof(*v));
	evbuffer_peek(in, -1, NULL, v, n);
	for (i = 0, rv = SPOOL_OK; i < n && rv == SPOOL_OK; i++)
		rv = spool_write(sw, v[i].iov_base, v[i].iov_len);
	free(v);
	if (rv == SPOOL_OK)
		rv = spool_commit(sw);
	else
		spool_abort(sw);
	if (rv != SPOOL_OK) {
		http_spool_error(hr, sw, rv, max, option);
		return (-1);
	}
	return (0);
}

/* {"job": ID, "duplicate": false} or {"jobs": [...], ...}, after commit. */
static void
http_accepted(struct http_req *hr, struct submit_batch *sb, int bulk,
    size_t records, uint64_t bytes)
{
	struct buf	 b;
	size_t		 i, dups = 0;
	char		 num[32];

	for (i = 0; i < sb->sb_n; i++)
		dups += sb->sb_jobs[i].qn_dup != 0;
	buf_init(&b);
	if (!bulk) {
		snprintf(num, sizeof(num), "%llu",
		    (unsigned long long)sb->sb_jobs[0].qn_id);
		buf_addstr(&b, "{\"job\": ");
		buf_addstr(&b, num);
		buf_addstr(&b, dups ? ", \"duplicate\": true}\n" :
		    ", \"duplicate\": false}\n");
	} else {
		buf_addstr(&b, "{\"jobs\": [");
		for (i = 0; i < sb->sb_n; i++) {
			snprintf(num, sizeof(num), "%s%llu", i ? ", " : "",
			    (unsigned long long)sb->sb_jobs[i].qn_id);
			buf_addstr(&b, num);
		}
		snprintf(num, sizeof(num), "%zu", records);
		buf_addstr(&b, "], \"records\": ");
		buf_addstr(&b, num);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)bytes);
		buf_addstr(&b, ", \"bytes\": ");
		buf_addstr(&b, num);
		buf_addstr(&b, dups == sb->sb_n ? ", \"duplicate\": true}\n" :
		    ", \"duplicate\": false}\n");
	}
	http_json(hr, dups == sb->sb_n ? 200 : 202, &b);
	buf_free(&b);
}

/* Commit the jobs of the spooled body, and answer. */
static void
http_enqueue(struct http_req *hr, struct submit_batch *sb,
    const char *name, int bulk, size_t records, uint64_t bytes)
{
	const char	*datadir = hr->hr_hd->hd_ch.ch_conf.c_datadir;
	int		 rc;

	rc = submit_enqueue_spool(&hr->hr_hd->hd_q, sb, datadir, name);
	if (rc == QUEUE_OK) {
		http_accepted(hr, sb, bulk, records, bytes);
		return;
	}
	if (rc == QUEUE_ENOSPC || rc == QUEUE_EMAPFULL || rc == QUEUE_EIO) {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "Retry-After", HTTP_RETRY_STORAGE);
		http_error(hr, 503, "storage_full", "enqueue: %s; nothing "
		    "taken", queue_strerror(rc));
		return;
	}
	http_error(hr, 500, "enqueue_failed", "enqueue: %s; nothing taken",
	    queue_strerror(rc));
}

void
http_upload(struct http_req *hr)
{
	const struct quire_conf	*c = &hr->hr_hd->hd_ch.ch_conf;
	struct submit_opts	 so;
	struct submit_upload	 su;
	struct submit_batch	 sb;
	struct spool_writer	 sw;
	const char		*ctype;

	if (http_upload_opts(hr, &so) == -1)
		return;
	memset(&su, 0, sizeof(su));
	su.su_id = http_field(hr, "id", "X-Quire-Id");
	su.su_title = http_field(hr, "title", "X-Quire-Title");
	ctype = evhttp_find_header(evhttp_request_get_input_headers(
	    hr->hr_req), "Content-Type");
	if (ctype != NULL && strncmp(ctype, "application/x-www-form-"
	    "urlencoded", 33) != 0 && strncmp(ctype,
	    "application/octet-stream", 24) != 0)
		su.su_ctype = ctype;
	if (http_spool(hr, &sw, c->c_max_size, "max-document-size") == -1)
		return;
	submit_init(&sb);
	if (submit_add_spool(&sb, sw.sw_name, sw.sw_len, &su, &so) == -1) {
		(void)spool_unlink(c->c_datadir, sw.sw_name);
		http_error(hr, 400, "bad_parameter", "id of at most %d bytes, "
		    "title of at most %d, Content-Type of at most %d",
		    JOB_EXTID_MAX, JOB_TITLE_MAX, JOB_CTYPE_MAX);
	} else
		http_enqueue(hr, &sb, sw.sw_name, 0, 1, sw.sw_len);
	submit_free(&sb);
}

/* Refuse a bulk with malformed records: 400 with their line numbers. */
static int
http_bulk_check(struct http_req *hr, const char *data, size_t len,
    size_t *records)
{
	struct extract_conf	 xc;
	struct buf		 b;
	uint64_t		 lines[HTTP_BAD_LINES_MAX];
	size_t			 nbad, i;
	char			 num[32];

	extract_conf_from(&hr->hr_hd->hd_ch.ch_conf, &xc);
	*records = 0;
	for (i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\n'))
			(*records)++;
	if (len > 0 && data[len - 1] != '\n')
		(*records)++;
	if ((nbad = extract_ndjson_check(&xc, data, len, lines,
	    HTTP_BAD_LINES_MAX)) == 0)
		return (0);
	buf_init(&b);
	snprintf(num, sizeof(num), "%zu", nbad);
	buf_addstr(&b, "{\"error\": \"");
	buf_addstr(&b, num);
	buf_addstr(&b, " malformed NDJSON records; nothing taken\", "
	    "\"code\": \"bad_ndjson\", \"lines\": [");
	for (i = 0; i < nbad && i < HTTP_BAD_LINES_MAX; i++) {
		snprintf(num, sizeof(num), "%s%llu", i ? ", " : "",
		    (unsigned long long)lines[i]);
		buf_addstr(&b, num);
	}
	buf_addstr(&b, "]}\n");
	http_json(hr, 400, &b);
	buf_free(&b);
	return (-1);
}

void
http_upload_bulk(struct http_req *hr)
{
	const struct quire_conf	*c = &hr->hr_hd->hd_ch.ch_conf;
	struct evbuffer		*in;
	struct submit_opts	 so;
	struct submit_batch	 sb;
	struct spool_writer	 sw;
	size_t			 len, records = 0;
	const char		*data;

	if (http_upload_opts(hr, &so) == -1)
		return;
	in = evhttp_request_get_input_buffer(hr->hr_req);
	if ((len = evbuffer_get_length(in)) > c->c_max_bulk) {
		http_spool_error(hr, &sw, SPOOL_ETOOBIG, c->c_max_bulk,
		    "max-bulk-size");
		return;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	if (len > 0 && http_bulk_check(hr, data, len, &records) == -1)
		return;
	if (http_spool(hr, &sw, c->c_max_bulk, "max-bulk-size") == -1)
		return;
	submit_init(&sb);
	if (submit_add_spool_ndjson(&sb, c->c_datadir, sw.sw_name,
	    &so) == -1) {
		(void)spool_unlink(c->c_datadir, sw.sw_name);
		http_error(hr, 500, "spool_failed", "the spooled body could "
		    "not be read back");
	} else
		http_enqueue(hr, &sb, sw.sw_name, 1, records, len);
	submit_free(&sb);
}
