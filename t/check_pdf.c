/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for extract_pdf.c on the PDF fixtures of t/data (see its README
 * for how each was made): the text and title of a one-page document, the
 * pages of a three-page one in order, a truncated file, an encrypted
 * one, and the limits: pages, text size, and text per input byte on a
 * document whose compressed pages hold nine times its size in text.
 *
 * Fixtures are read from $TOPSRC/t/data, or ./t/data when TOPSRC is not
 * set.
 */

#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

static void
read_fixture(const char *name, struct buf *b)
{
	const char	*dir;
	char		 path[PATH_MAX], chunk[8192];
	ssize_t		 n;
	int		 fd;

	if ((dir = getenv("TOPSRC")) == NULL || *dir == '\0')
		dir = ".";
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/t/data/%s", dir,
	    name), (int)sizeof(path));
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	buf_init(b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(b, chunk, n);
	ck_assert_int_eq(n, 0);
	close(fd);
}

/* Extract a fixture; the return value, with doc and err filled. */
static int
pdf(const struct extract_conf *xc, const char *name, struct xdoc *doc,
    struct xerr *err, size_t *size)
{
	struct buf	 data;
	int		 rv;

	read_fixture(name, &data);
	if (size != NULL)
		*size = data.b_len;
	xdoc_init(doc);
	memset(err, 0, sizeof(*err));
	rv = extract_pdf(xc, data.b_data, data.b_len, doc, err);
	buf_free(&data);
	if (rv == 0) {
		ck_assert_str_eq(err->xe_code, "");
		ck_assert(utf8_valid(doc->xd_text.b_data, doc->xd_text.b_len,
		    NULL));
	} else
		ck_assert_int_eq(rv, -1);
	return (rv);
}

/* Block i of doc as a string. */
static char *
block(struct xdoc *doc, size_t i)
{
	const struct xblock	*b;
	char			*s;

	ck_assert_uint_lt(i, doc->xd_nblocks);
	b = &doc->xd_blocks[i];
	ck_assert_int_eq(b->xb_kind, BLK_PARA);
	ck_assert_uint_le(b->xb_off + b->xb_len, doc->xd_text.b_len);
	ck_assert_ptr_nonnull(s = malloc(b->xb_len + 1));
	memcpy(s, doc->xd_text.b_data + b->xb_off, b->xb_len);
	s[b->xb_len] = '\0';
	return (s);
}

START_TEST(test_one_page)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	const char		*text;

	extract_conf_defaults(&xc);
	ck_assert_int_eq(pdf(&xc, "pdf-one.pdf", &doc, &err, NULL), 0);
	ck_assert_int_eq(doc.xd_type, DOC_PDF);
	ck_assert_str_eq(doc.xd_title, "Quire Fixture Report");
	text = buf_cstr(&doc.xd_text);
	ck_assert_str_eq(text,
	    "Durable ingestion on one box\n"
	    "The quick brown fox jumps over the lazy dog.\n"
	    "Caf\xc3\xa9 cr\xc3\xa8me and a na\xc3\xafve fa\xc3\xa7" "ade.");
	ck_assert_uint_eq(doc.xd_nblocks, 1);
	ck_assert_uint_eq(doc.xd_blocks[0].xb_off, 0);
	ck_assert_uint_eq(doc.xd_blocks[0].xb_len, doc.xd_text.b_len);
	ck_assert_uint_eq(doc.xd_nattrs, 0);
	xdoc_free(&doc);
}
END_TEST

/* A paragraph per page here, in page order; no Title entry. */
START_TEST(test_pages)
{
	static const char	*want[] = {
		"Page one says alpha.\nThe first page ends here.",
		"Page two says bravo.\nThe second page ends here.",
		"Page three says charlie.\nThe third page ends here."
	};
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	char			*s;
	size_t			 i;

	extract_conf_defaults(&xc);
	ck_assert_int_eq(pdf(&xc, "pdf-pages.pdf", &doc, &err, NULL), 0);
	ck_assert_ptr_null(doc.xd_title);
	ck_assert_uint_eq(doc.xd_nblocks, 3);
	for (i = 0; i < 3; i++) {
		s = block(&doc, i);
		ck_assert_str_eq(s, want[i]);
		free(s);
	}
	xdoc_free(&doc);

	/* Three pages is the limit. */
	xc.xc_max_pages = 3;
	ck_assert_int_eq(pdf(&xc, "pdf-pages.pdf", &doc, &err, NULL), 0);
	xdoc_free(&doc);
	xc.xc_max_pages = 2;
	ck_assert_int_eq(pdf(&xc, "pdf-pages.pdf", &doc, &err, NULL), -1);
	ck_assert_str_eq(err.xe_code, "too-many-pages");
	ck_assert_uint_eq(doc.xd_nblocks, 0);
	xdoc_free(&doc);
}
END_TEST

START_TEST(test_truncated)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	ck_assert_int_eq(pdf(&xc, "pdf-truncated.pdf", &doc, &err, NULL), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	ck_assert_str_ne(err.xe_msg, "");
	xdoc_free(&doc);
}
END_TEST

START_TEST(test_not_pdf)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	const char		*s = "%PDF-1.4\nnot really\n";

	extract_conf_defaults(&xc);
	xdoc_init(&doc);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(extract_pdf(&xc, s, strlen(s), &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	xdoc_free(&doc);
	xdoc_init(&doc);
	ck_assert_int_eq(extract_pdf(&xc, s, 0, &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	xdoc_free(&doc);
}
END_TEST

START_TEST(test_encrypted)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	ck_assert_int_eq(pdf(&xc, "pdf-encrypted.pdf", &doc, &err, NULL), -1);
	ck_assert_str_eq(err.xe_code, "encrypted");
	ck_assert_uint_eq(doc.xd_text.b_len, 0);
	xdoc_free(&doc);
}
END_TEST

/*
 * pdf-one.pdf with its page tree's /Count replaced.  poppler trusts no
 * count above the number of objects in the file and then finds no page
 * at all; a count above the real pages leaves pages it cannot read.
 */
static int
pdf_count(const char *count, struct xdoc *doc, struct xerr *err)
{
	struct extract_conf	 xc;
	struct buf		 data, lie;
	const char		*at;
	size_t			 off;
	int			 rv;

	extract_conf_defaults(&xc);
	read_fixture("pdf-one.pdf", &data);
	at = memmem(data.b_data, data.b_len, "/Count 1\n", 9);
	ck_assert_ptr_nonnull(at);
	off = at - data.b_data;
	buf_init(&lie);
	buf_add(&lie, data.b_data, off);
	buf_addstr(&lie, "/Count ");
	buf_addstr(&lie, count);
	buf_add(&lie, at + 8, data.b_len - off - 8);
	xdoc_init(doc);
	memset(err, 0, sizeof(*err));
	rv = extract_pdf(&xc, lie.b_data, lie.b_len, doc, err);
	buf_free(&lie);
	buf_free(&data);
	return (rv);
}

/* A page tree that cannot be right is a dead letter, not an empty doc. */
START_TEST(test_page_count)
{
	struct xdoc	 doc;
	struct xerr	 err;

	ck_assert_int_eq(pdf_count("1", &doc, &err), 0);
	ck_assert_uint_gt(doc.xd_text.b_len, 0);
	xdoc_free(&doc);

	ck_assert_int_eq(pdf_count("2000000000", &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "no-pages");
	ck_assert_ptr_nonnull(strstr(err.xe_msg, "page tree"));
	xdoc_free(&doc);

	ck_assert_int_eq(pdf_count("0", &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "no-pages");
	xdoc_free(&doc);

	ck_assert_int_eq(pdf_count("3", &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	ck_assert_ptr_nonnull(strstr(err.xe_msg, "page 2"));
	xdoc_free(&doc);
}
END_TEST

/* max-ratio and max-text-size. */
START_TEST(test_too_large)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	size_t			 size, text;

	/* Allowed by default: about nine bytes of text per byte. */
	extract_conf_defaults(&xc);
	ck_assert_int_eq(pdf(&xc, "pdf-dense.pdf", &doc, &err, &size), 0);
	text = doc.xd_text.b_len;
	ck_assert_uint_gt(text, 8 * size);
	ck_assert_uint_lt(text, 10 * size);
	ck_assert_uint_eq(doc.xd_nblocks, 40);
	xdoc_free(&doc);

	xc.xc_max_ratio = 4;
	ck_assert_int_eq(pdf(&xc, "pdf-dense.pdf", &doc, &err, NULL), -1);
	ck_assert_str_eq(err.xe_code, "too-large");
	ck_assert_ptr_nonnull(strstr(err.xe_msg, "max-ratio"));
	/* It stopped at the page that crossed the limit (6,800 bytes each). */
	ck_assert_uint_gt(doc.xd_text.b_len, 4 * size);
	ck_assert_uint_lt(doc.xd_text.b_len, 4 * size + 6800);
	ck_assert_uint_lt(doc.xd_nblocks, 40);
	xdoc_free(&doc);

	xc.xc_max_ratio = 9;
	ck_assert_int_eq(pdf(&xc, "pdf-dense.pdf", &doc, &err, NULL), 0);
	xdoc_free(&doc);

	/* max-text-size, when it is the lower one. */
	xc.xc_max_text = text - 1;
	ck_assert_int_eq(pdf(&xc, "pdf-dense.pdf", &doc, &err, NULL), -1);
	ck_assert_str_eq(err.xe_code, "too-large");
	ck_assert_ptr_nonnull(strstr(err.xe_msg, "max-text-size"));
	xdoc_free(&doc);
	extract_conf_defaults(&xc);
	xc.xc_max_text = 20;
	ck_assert_int_eq(pdf(&xc, "pdf-one.pdf", &doc, &err, NULL), -1);
	ck_assert_str_eq(err.xe_code, "too-large");
	xdoc_free(&doc);
}
END_TEST

/* Through extract_buffer, as a worker calls it. */
static int
keep(struct xdoc *doc, const struct xerr *err, void *arg)
{
	char	**title = arg;

	ck_assert_ptr_null(err);
	*title = strdup(doc->xd_title);
	return (0);
}

START_TEST(test_buffer)
{
	struct extract_conf	 xc;
	struct xerr		 err;
	struct buf		 data;
	char			*title = NULL;

	extract_conf_defaults(&xc);
	read_fixture("pdf-one.pdf", &data);
	ck_assert_int_eq(extract_type_sniff("report", data.b_data, data.b_len),
	    DOC_PDF);
	ck_assert_int_eq(extract_buffer(&xc, DOC_PDF, "report.pdf",
	    data.b_data, data.b_len, keep, &title, &err), 0);
	ck_assert_str_eq(title, "Quire Fixture Report");
	free(title);
	buf_free(&data);

	read_fixture("pdf-encrypted.pdf", &data);
	ck_assert_int_eq(extract_buffer(&xc, DOC_PDF, "secret.pdf",
	    data.b_data, data.b_len, keep, &title, &err), -1);
	ck_assert_str_eq(err.xe_code, "encrypted");
	buf_free(&data);
}
END_TEST

static Suite *
pdf_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("pdf");
	tc = tcase_create("pdf");
	tcase_add_test(tc, test_one_page);
	tcase_add_test(tc, test_pages);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_not_pdf);
	tcase_add_test(tc, test_encrypted);
	tcase_add_test(tc, test_page_count);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_buffer);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_pdf", pdf_suite()));
}
