/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's documents in the index: GET and DELETE
 * /v1/documents/ID, where ID is the document's external id (a record's
 * id, or the path of its file), percent-encoded as one path segment: a
 * "/" in it is %2F.
 *
 * GET shows what the index knows of the document (title, type, tenant,
 * source, the job that indexed it) and its chunks in order: id,
 * heading, length of the text and its first HTTP_DOC_EXCERPT bytes.  A
 * document of more than HTTP_DOC_CHUNKS chunks shows the first ones and
 * says it is truncated.  DELETE removes it from the index, as `quirectl
 * delete` does: its chunks die at once, and the merger reclaims them.
 * On the PostgreSQL queue, a DELETE of a document this host does not
 * hold whose home is another host enqueues a delete job pinned to that
 * host, and answers 202 with the job (the home's worker deletes it and
 * drops its home record); so does a DELETE on a draining host of one
 * it holds, pinned to its home, or to this host if it has none (the
 * job follows the document when it moves).
 *
 * A token bound to a tenant sees and deletes that tenant's documents
 * only; another's is "no such document" (404).
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "http.h"

#define HTTP_DOC_CHUNKS		1000	/* chunks shown, at most */
#define HTTP_DOC_EXCERPT	200	/* bytes of each chunk's text */

/* The external id of the path; -1 after a 400. */
static int
http_doc_id(struct http_req *hr)
{
	if (strlen(hr->hr_id) > IX_EXTID_MAX) {
		http_error(hr, 400, "bad_id", "a document id is at most %d "
		    "bytes", IX_EXTID_MAX);
		return (-1);
	}
	return (0);
}

static void
http_doc_missing(struct http_req *hr)
{
	http_error(hr, 404, "no_such_document", "no such document: %.128s",
	    hr->hr_id);
}

/* May the request see d?  Another tenant's document does not exist. */
static int
http_doc_visible(struct http_req *hr, const struct ixdoc *d)
{
	return (hr->hr_tenant == NULL ||
	    strcmp(d->d_tenant, hr->hr_tenant) == 0);
}

/* At most max bytes of s, not cutting a UTF-8 sequence. */
static size_t
http_doc_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return (len);
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return (max);
}

static int
http_doc_chunk_cb(const struct ixchunk *ck, void *arg)
{
	struct buf	*b = arg;
	char		 excerpt[HTTP_DOC_EXCERPT + 1];
	size_t		 n;

	if (b->b_data[b->b_len - 1] != '[')
		buf_addstr(b, ",\n  ");
	else
		buf_addstr(b, "\n  ");
	buf_printf(b, "{\"id\": %llu, \"index\": %u, \"heading\": ",
	    (unsigned long long)ck->ck_cid, ck->ck_index);
	show_json_str(b, ck->ck_heading);
	n = http_doc_cut(ck->ck_text, ck->ck_len, HTTP_DOC_EXCERPT);
	memcpy(excerpt, ck->ck_text, n);
	excerpt[n] = '\0';
	buf_printf(b, ", \"length\": %zu, \"excerpt\": ", ck->ck_len);
	show_json_str(b, excerpt);
	buf_addc(b, '}');
	return (0);
}

void
http_document(struct http_req *hr)
{
	struct ixdoc	 d;
	struct buf	 chunks, b;
	int		 rc;

	if (http_doc_id(hr) == -1)
		return;
	/* Another tenant's document is not read: nothing shows it exists. */
	if ((rc = index_get_doc(&hr->hr_hd->hd_ix, hr->hr_id, &d)) == 0 &&
	    !http_doc_visible(hr, &d))
		rc = INDEX_ENOENT;
	buf_init(&chunks);
	buf_addc(&chunks, '[');
	if (rc == 0)
		rc = index_doc_chunks(&hr->hr_hd->hd_ix, hr->hr_id,
		    HTTP_DOC_CHUNKS, &d, http_doc_chunk_cb, &chunks);
	if (rc == INDEX_ENOENT || (rc == 0 && !http_doc_visible(hr, &d))) {
		http_doc_missing(hr);
		buf_free(&chunks);
		return;
	}
	if (rc != 0) {
		http_error(hr, 500, "internal", "the index could not be read");
		buf_free(&chunks);
		return;
	}
	buf_addstr(&chunks, chunks.b_len > 1 ? "\n]" : "]");
	buf_init(&b);
	buf_addstr(&b, "{\"id\": ");
	show_json_str(&b, d.d_extid);
	buf_addstr(&b, ", \"title\": ");
	show_json_str(&b, d.d_title);
	buf_printf(&b, ", \"type\": \"%s\", \"tenant\": ",
	    extract_type_name(d.d_type));
	show_json_str(&b, d.d_tenant);
	buf_addstr(&b, ", \"source\": ");
	show_json_str(&b, d.d_source);
	buf_printf(&b, ", \"job\": %llu, \"words\": %llu, \"nchunks\": %u, "
	    "\"truncated\": %s, \"chunks\": ", (unsigned long long)d.d_job,
	    (unsigned long long)d.d_words, d.d_nchunks,
	    d.d_nchunks > HTTP_DOC_CHUNKS ? "true" : "false");
	buf_add(&b, chunks.b_data, chunks.b_len);
	buf_addstr(&b, "}\n");
	http_json(hr, 200, &b);
	buf_free(&b);
	buf_free(&chunks);
}

/*
 * A document not in this host's index, on the PostgreSQL queue: if its
 * home is another host, a delete job pinned to that host (202 and the
 * job); 1 when answered, 0 when it is nowhere (404 from the caller).
 * here: the document of this host's index, which drains; the job goes
 * to its home, or to this host (where a move of it takes it).
 */
static int
http_doc_delete_home(struct http_req *hr, const struct ixdoc *here)
{
	struct queue		*q = &hr->hr_hd->hd_q;
	struct queue_new	 qn;
	struct buf		 b;
	char			 home[QUEUE_HOST_MAX + 1];
	char			 tenant[JOB_TENANT_MAX + 1];
	int			 rc;

	if (q->q_conf.qc_backend != QUEUE_BACKEND_PG)
		return (0);
	strlcpy(tenant, here != NULL ? here->d_tenant : hr->hr_tenant != NULL ?
	    hr->hr_tenant : "", sizeof(tenant));
	rc = queue_pg_doc_home(q, tenant, sizeof(tenant), hr->hr_id, home,
	    sizeof(home));
	if (here != NULL && rc == QUEUE_ENOENT) {
		strlcpy(home, queue_pg_host(q), sizeof(home));
		rc = 0;
	} else if (here == NULL && (rc == QUEUE_ENOENT ||
	    (rc == 0 && strcmp(home, queue_pg_host(q)) == 0)))
		return (0);
	memset(&qn, 0, sizeof(qn));
	qn.qn_tenant = tenant;
	qn.qn_prio = JOB_PRIO_DEFAULT;
	qn.qn_srckind = SRC_DELETE;
	qn.qn_extid = hr->hr_id;
	qn.qn_home = home;
	if (rc == 0)
		rc = queue_enqueue(q, &qn, 1);
	if (rc != 0) {
		http_error(hr, 503, "queue", "delete %.128s: %s", hr->hr_id,
		    queue_strerror(rc));
		return (1);
	}
	buf_init(&b);
	buf_addstr(&b, "{\"id\": ");
	show_json_str(&b, hr->hr_id);
	buf_printf(&b, ", \"deleted\": false, \"job\": %llu, \"home\": ",
	    (unsigned long long)qn.qn_id);
	show_json_str(&b, home);
	buf_addstr(&b, "}\n");
	http_json(hr, 202, &b);
	buf_free(&b);
	return (1);
}

/*
 * Whether this host drains (or is drained): its documents are then
 * deleted through the queue, never here at once, lest a move of one
 * bring it back.  A look-up that fails counts as draining: the delete
 * then goes through the queue, which is right either way.
 */
static int
http_doc_draining(struct http_req *hr)
{
	struct queue	*q = &hr->hr_hd->hd_q;
	uint64_t	 draining, drained;

	if (q->q_conf.qc_backend != QUEUE_BACKEND_PG)
		return (0);
	if (queue_pg_draining(q, queue_pg_host(q), &draining, &drained) != 0)
		return (1);
	return (draining != 0);
}

void
http_document_delete(struct http_req *hr)
{
	struct ixdoc	 d;
	struct buf	 b;
	int		 rc;

	if (http_doc_id(hr) == -1)
		return;
	rc = index_get_doc(&hr->hr_hd->hd_ix, hr->hr_id, &d);
	if (rc == 0 && !http_doc_visible(hr, &d))
		rc = INDEX_ENOENT;
	if (rc == 0 && http_doc_draining(hr)) {
		if (!http_doc_delete_home(hr, &d))
			http_doc_missing(hr);
		return;
	}
	if (rc == 0)
		rc = index_delete(&hr->hr_hd->hd_ix, hr->hr_id);
	if (rc == INDEX_ENOENT && http_doc_delete_home(hr, NULL))
		return;
	if (rc == INDEX_ENOENT) {
		http_doc_missing(hr);
		return;
	}
	if (rc != 0) {
		http_error(hr, 500, "internal", "delete %.128s: failed",
		    hr->hr_id);
		return;
	}
	buf_init(&b);
	buf_addstr(&b, "{\"id\": ");
	show_json_str(&b, hr->hr_id);
	buf_addstr(&b, ", \"deleted\": true}\n");
	http_json(hr, 200, &b);
	buf_free(&b);
}
