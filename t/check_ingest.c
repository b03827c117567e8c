/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for ingest.c's progress ticks: the text path calls its sink's
 * is_tick per PDF page and while libxml2 parses HTML, not only between
 * documents, so a worker can send heartbeats from a long document; a
 * tick that says stop ends the job with INGEST_STOP, and the document
 * it stopped in is taken back (is_abort) and never finished (is_done);
 * a document over max-tokens is taken back too.  Files are written to
 * the run's directory; the PDF is the 40-page fixture from $TOPSRC/t/data.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

#define HTML_PARAS	8000	/* about 400 KB */
#define NDJSON_RECORDS	200

/* What the text path told the sink. */
struct counts {
	uint64_t	 ticks;
	uint64_t	 stop_at;	/* the tick that says stop; 0: none */
	uint64_t	 ticks_at_doc;	/* ticks before the first document */
	uint64_t	 docs;
	uint64_t	 chunks;
	uint64_t	 done;
	uint64_t	 aborted;
};

static int
sink_tick(void *arg)
{
	struct counts	*n = arg;

	n->ticks++;
	return (n->stop_at != 0 && n->ticks >= n->stop_at);
}

static int
sink_doc(void *arg, struct xdoc *doc)
{
	struct counts	*n = arg;

	if (n->docs++ == 0)
		n->ticks_at_doc = n->ticks;
	return (0);
}

static int
sink_chunk(void *arg, const struct xdoc *doc, const struct chunk *c)
{
	struct counts	*n = arg;

	n->chunks++;
	return (0);
}

static int
sink_done(void *arg, struct xdoc *doc)
{
	struct counts	*n = arg;

	n->done++;
	return (0);
}

static void
sink_abort(void *arg, struct xdoc *doc)
{
	struct counts	*n = arg;

	n->aborted++;
}

/* Run a file through the text path as a worker does; the outcome. */
static int
run(const char *path, int srckind, uint64_t max_tokens, struct counts *n,
    struct xerr *err)
{
	struct quire_conf	 c;
	struct ingest		 in;
	struct ingest_sink	 sink;
	struct job		 j;
	struct stat		 st;
	int			 rv;

	config_defaults(&c);
	c.c_max_tokens = max_tokens;
	ck_assert_int_eq(ingest_init(&in, &c), 0);
	memset(&sink, 0, sizeof(sink));
	sink.is_arg = n;
	sink.is_tick = sink_tick;
	sink.is_doc = sink_doc;
	sink.is_chunk = sink_chunk;
	sink.is_done = sink_done;
	sink.is_abort = sink_abort;
	in.in_sink = &sink;
	ck_assert_int_eq(stat(path, &st), 0);
	memset(&j, 0, sizeof(j));
	j.j_id = 1;
	j.j_srckind = srckind;
	strlcpy(j.j_path, path, sizeof(j.j_path));
	j.j_len = j.j_size = st.st_size;
	rv = ingest_job(&in, &j);
	*err = in.in_err;
	ingest_free(&in);
	return (rv);
}

static void
fixture(const char *name, char *path, size_t len)
{
	const char	*dir;
	char		 rel[PATH_MAX];

	if ((dir = getenv("TOPSRC")) == NULL || *dir == '\0')
		dir = ".";
	ck_assert_int_lt(snprintf(rel, sizeof(rel), "%s/t/data/%s", dir,
	    name), (int)sizeof(rel));
	/* Roots want an absolute path. */
	ck_assert_ptr_nonnull(realpath(rel, path));
	(void)len;
}

/* A long HTML page in the run's directory. */
static void
html_file(char *path, size_t len)
{
	FILE	*f;
	int	 i;

	ck_assert_int_lt(snprintf(path, len, "%s/long.html", tlib_top),
	    (int)len);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "<!doctype html>\n<html><head><title>Long</title></head>"
	    "<body>\n");
	for (i = 0; i < HTML_PARAS; i++)
		fprintf(f, "<p>Paragraph %d of a long page, <b>alpha</b> "
		    "bravo charlie.</p>\n", i);
	fprintf(f, "</body></html>\n");
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(pdf_ticks_per_page)
{
	struct counts	 n;
	struct xerr	 err;
	char		 path[PATH_MAX];

	fixture("pdf-dense.pdf", path, sizeof(path));
	memset(&n, 0, sizeof(n));
	ck_assert_int_eq(run(path, SRC_PATH, 1000000, &n, &err), INGEST_OK);
	ck_assert_uint_eq(n.done, 1);
	/* Forty pages, each a tick before the document is handed on. */
	ck_assert_uint_ge(n.ticks_at_doc, 40);
	ck_assert_uint_ge(n.ticks, n.ticks_at_doc + n.chunks);
}
END_TEST

START_TEST(html_ticks_while_parsing)
{
	struct counts	 n;
	struct xerr	 err;
	char		 path[PATH_MAX];

	html_file(path, sizeof(path));
	memset(&n, 0, sizeof(n));
	ck_assert_int_eq(run(path, SRC_PATH, 1000000, &n, &err), INGEST_OK);
	ck_assert_uint_eq(n.done, 1);
	ck_assert_uint_ge(n.chunks, 100);
	/* libxml2 reads its input a few KB at a time: many ticks. */
	ck_assert_uint_ge(n.ticks_at_doc, 20);
	ck_assert_uint_ge(n.ticks, n.ticks_at_doc + n.chunks);
}
END_TEST

START_TEST(stop_while_parsing)
{
	struct counts	 n;
	struct xerr	 err;
	char		 path[PATH_MAX];

	fixture("pdf-dense.pdf", path, sizeof(path));
	memset(&n, 0, sizeof(n));
	n.stop_at = 10;
	ck_assert_int_eq(run(path, SRC_PATH, 1000000, &n, &err), INGEST_STOP);
	ck_assert_uint_eq(n.ticks, 10);
	ck_assert_uint_eq(n.docs, 0);
	ck_assert_uint_eq(n.done, 0);

	html_file(path, sizeof(path));
	memset(&n, 0, sizeof(n));
	n.stop_at = 5;
	ck_assert_int_eq(run(path, SRC_PATH, 1000000, &n, &err), INGEST_STOP);
	ck_assert_uint_eq(n.ticks, 5);
	ck_assert_uint_eq(n.docs, 0);
}
END_TEST

START_TEST(stop_takes_the_document_back)
{
	struct counts	 n, full;
	struct xerr	 err;
	char		 path[PATH_MAX];

	html_file(path, sizeof(path));
	memset(&full, 0, sizeof(full));
	ck_assert_int_eq(run(path, SRC_PATH, 1000000, &full, &err),
	    INGEST_OK);
	/* Halfway through its chunks. */
	memset(&n, 0, sizeof(n));
	n.stop_at = full.ticks_at_doc + full.chunks / 2;
	ck_assert_int_eq(run(path, SRC_PATH, 1000000, &n, &err), INGEST_STOP);
	ck_assert_uint_eq(n.docs, 1);
	ck_assert_uint_lt(n.chunks, full.chunks);
	ck_assert_uint_eq(n.aborted, 1);
	ck_assert_uint_eq(n.done, 0);
}
END_TEST

START_TEST(stop_in_a_range)
{
	struct counts	 n;
	struct xerr	 err;
	char		 path[PATH_MAX];
	FILE		*f;
	int		 i;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/records.ndjson",
	    tlib_top), (int)sizeof(path));
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (i = 0; i < NDJSON_RECORDS; i++)
		fprintf(f, "{\"id\": \"r%d\", \"text\": \"record %d\"}\n", i,
		    i);
	ck_assert_int_eq(fclose(f), 0);
	memset(&n, 0, sizeof(n));
	ck_assert_int_eq(run(path, SRC_NDJSON, 1000000, &n, &err), INGEST_OK);
	ck_assert_uint_eq(n.done, NDJSON_RECORDS);
	/* At least a tick per record. */
	ck_assert_uint_ge(n.ticks, NDJSON_RECORDS);
	memset(&n, 0, sizeof(n));
	n.stop_at = NDJSON_RECORDS / 2;
	ck_assert_int_eq(run(path, SRC_NDJSON, 1000000, &n, &err),
	    INGEST_STOP);
	ck_assert_uint_gt(n.done, 0);
	ck_assert_uint_lt(n.done, NDJSON_RECORDS / 2);
	ck_assert_uint_le(n.aborted, 1);
}
END_TEST

START_TEST(too_many_tokens_takes_the_document_back)
{
	struct counts	 n;
	struct xerr	 err;
	char		 path[PATH_MAX];

	html_file(path, sizeof(path));
	memset(&n, 0, sizeof(n));
	ck_assert_int_eq(run(path, SRC_PATH, 1000, &n, &err), INGEST_BAD);
	ck_assert_str_eq(err.xe_code, "too-many-tokens");
	ck_assert_uint_eq(n.docs, 1);
	ck_assert_uint_eq(n.aborted, 1);
	ck_assert_uint_eq(n.done, 0);
}
END_TEST

static Suite *
ingest_suite(void)
{
	Suite	*s = suite_create("ingest");
	TCase	*tc = tcase_create("ingest");

	tcase_add_test(tc, pdf_ticks_per_page);
	tcase_add_test(tc, html_ticks_while_parsing);
	tcase_add_test(tc, stop_while_parsing);
	tcase_add_test(tc, stop_takes_the_document_back);
	tcase_add_test(tc, stop_in_a_range);
	tcase_add_test(tc, too_many_tokens_takes_the_document_back);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_ingest", ingest_suite()));
}
