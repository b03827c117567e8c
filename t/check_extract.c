/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for extract.c and the text, markdown, HTML and code extractors:
 * sniffing, the blocks and titles each type yields from the fixtures in
 * t/data (found through $TOPSRC), and every kind of bad input failing
 * with its reason code while the process goes on: invalid UTF-8, a
 * 50 MB line, markdown and HTML nested 100,000 deep, and, for
 * extract_open, a FIFO, a directory and symbolic links out of the root.
 * Check runs each test in a child, so a crash is a failure.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

#define MIB		(1024 * 1024)
#define DEEP		100000
#define RES_BLOCKS	64


/* What the callback saw of the one document extract_buffer made. */
struct result {
	int		 r_calls;
	int		 r_type;
	char		*r_text;	/* NUL-terminated copy */
	size_t		 r_len;
	char		*r_id;
	char		*r_title;
	char		*r_desc;	/* the "description" attribute */
	struct xblock	 r_blocks[RES_BLOCKS];
	size_t		 r_nblocks;
	int		 r_valid;	/* the text was valid UTF-8 */
	int		 r_stop;	/* what the callback returns */
};


static void
tmp_dir(char *buf, size_t len)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/t.XXXXXX", tlib_top), (int)len);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void
tmp_done(const char *dir)
{
	ck_assert_int_eq(tlib_rm_rf(dir), 0);
}

/* dir/name in path, which is PATH_MAX bytes. */
static char *
join(char *path, const char *dir, const char *name)
{
	ck_assert_int_lt(snprintf(path, PATH_MAX, "%s/%s", dir, name),
	    PATH_MAX);
	return (path);
}

static void
write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*f;

	join(path, dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* All of fd into b. */
static void
read_fd(int fd, struct buf *b)
{
	ssize_t	 n;

	buf_reset(b);
	for (;;) {
		buf_reserve(b, 65536);
		n = read(fd, b->b_data + b->b_len, 65536);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		b->b_len += n;
	}
	buf_cstr(b);
}

/* A fixture from t/data, opened the way the worker opens files. */
static void
fixture(const char *name, struct buf *b)
{
	const char	*topsrc;
	char		 path[PATH_MAX];
	struct xerr	 err;
	int		 rootfd, fd;

	if ((topsrc = getenv("TOPSRC")) == NULL || *topsrc == '\0')
		topsrc = ".";
	join(path, topsrc, "t/data");
	rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_msg(rootfd != -1, "%s: %s", path, strerror(errno));
	fd = extract_open(rootfd, name, &err);
	ck_assert_msg(fd != -1, "%s: %s: %s", name, err.xe_code, err.xe_msg);
	read_fd(fd, b);
	close(fd);
	close(rootfd);
}

static int
result_cb(struct xdoc *doc, const struct xerr *err, void *arg)
{
	struct result	*r = arg;
	size_t		 i;

	ck_assert_ptr_null(err);
	r->r_calls++;
	r->r_type = doc->xd_type;
	r->r_len = doc->xd_text.b_len;
	r->r_text = malloc(r->r_len + 1);
	ck_assert_ptr_nonnull(r->r_text);
	memcpy(r->r_text, doc->xd_text.b_data, r->r_len);
	r->r_text[r->r_len] = '\0';
	r->r_valid = utf8_valid(r->r_text, r->r_len, NULL);
	r->r_id = doc->xd_id != NULL ? strdup(doc->xd_id) : NULL;
	r->r_title = doc->xd_title != NULL ? strdup(doc->xd_title) : NULL;
	for (i = 0; i < doc->xd_nattrs; i++)
		if (strcmp(doc->xd_attrs[i].xa_name, "description") == 0)
			r->r_desc = strdup(doc->xd_attrs[i].xa_value);
	r->r_nblocks = doc->xd_nblocks;
	for (i = 0; i < doc->xd_nblocks && i < RES_BLOCKS; i++) {
		r->r_blocks[i] = doc->xd_blocks[i];
		ck_assert_uint_le(doc->xd_blocks[i].xb_off +
		    doc->xd_blocks[i].xb_len, doc->xd_text.b_len);
	}
	return (r->r_stop);
}

static void
result_free(struct result *r)
{
	free(r->r_text);
	free(r->r_id);
	free(r->r_title);
	free(r->r_desc);
	memset(r, 0, sizeof(*r));
}

static int
run(const struct extract_conf *xc, int type, const char *name,
    const char *data, size_t len, struct result *r, struct xerr *err)
{
	memset(r, 0, sizeof(*r));
	return (extract_buffer(xc, type, name, data, len, result_cb, r, err));
}

/* Extraction that must succeed, of a whole fixture, type sniffed. */
static void
run_fixture(const struct extract_conf *xc, const char *name, int type,
    struct result *r)
{
	struct buf	 b;
	struct xerr	 err;

	buf_init(&b);
	fixture(name, &b);
	ck_assert_int_eq(extract_type_sniff(name, b.b_data, b.b_len), type);
	ck_assert_msg(run(xc, type, name, b.b_data, b.b_len, r, &err) == 0,
	    "%s: %s: %s", name, err.xe_code, err.xe_msg);
	ck_assert_int_eq(r->r_calls, 1);
	ck_assert_int_eq(r->r_type, type);
	ck_assert_int_eq(r->r_valid, 1);
	buf_free(&b);
}

/* Extraction that must fail with the reason code. */
static void
run_fails(const struct extract_conf *xc, int type, const char *data,
    size_t len, const char *code)
{
	struct result	 r;
	struct xerr	 err;

	ck_assert_int_eq(run(xc, type, "bad", data, len, &r, &err), -1);
	ck_assert_str_eq(err.xe_code, code);
	ck_assert_int_eq(r.r_calls, 0);
}

/* Index of the block of this kind and text, or -1. */
static int
block(const struct result *r, int kind, const char *text)
{
	size_t	 i;

	for (i = 0; i < r->r_nblocks && i < RES_BLOCKS; i++)
		if (r->r_blocks[i].xb_kind == kind &&
		    r->r_blocks[i].xb_len == strlen(text) &&
		    memcmp(r->r_text + r->r_blocks[i].xb_off, text,
		    r->r_blocks[i].xb_len) == 0)
			return ((int)i);
	return (-1);
}

static int
has(const struct result *r, const char *s)
{
	return (strstr(r->r_text, s) != NULL);
}

/* The text lower-cased, for names split by the tokenizer. */
static int
has_lower(const struct result *r, const char *s)
{
	char	*low, *p;
	int	 found;

	ck_assert_ptr_nonnull(low = strdup(r->r_text));
	for (p = low; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	found = strstr(low, s) != NULL;
	free(low);
	return (found);
}

START_TEST(test_conf_defaults)
{
	struct extract_conf	 xc;

	extract_conf_defaults(&xc);
	ck_assert_uint_eq(xc.xc_max_size, 64 * MIB);
	ck_assert_uint_eq(xc.xc_max_text, 256 * MIB);
	ck_assert_uint_eq(xc.xc_max_ratio, 100);
	ck_assert_uint_eq(xc.xc_max_depth, 256);
	ck_assert_uint_eq(xc.xc_max_line, MIB);
	ck_assert_uint_eq(xc.xc_max_tokens, 0);
	ck_assert_uint_eq(xc.xc_max_pages, 10000);
	ck_assert_int_eq(xc.xc_utf8, UTF8_REPAIR);
	ck_assert_str_eq(xc.xc_id_field, "id");
	ck_assert_str_eq(xc.xc_title_field, "title");
	ck_assert_str_eq(xc.xc_text_field, "text");
}
END_TEST

START_TEST(test_type_names)
{
	static const char	*names[] = { "text", "markdown", "html", "json",
	    "ndjson", "code", "pdf" };
	int			 i;

	for (i = 0; i < DOC_NTYPES; i++) {
		ck_assert_str_eq(extract_type_name(i), names[i]);
		ck_assert_int_eq(extract_type_parse(names[i]), i);
	}
	ck_assert_int_eq(extract_type_parse("docx"), -1);
	ck_assert_int_eq(extract_type_parse(""), -1);
	ck_assert_int_eq(extract_type_parse("HTML"), -1);
	ck_assert_str_eq(extract_type_name(DOC_NTYPES), "unknown");
	ck_assert_str_eq(extract_type_name(-1), "unknown");
}
END_TEST

#define SNIFF(name, s, type) \
	ck_assert_int_eq(extract_type_sniff(name, s, sizeof(s) - 1), type)

START_TEST(test_sniff_content)
{
	/* Content first, where it says what it is. */
	SNIFF("a.txt", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", DOC_PDF);
	SNIFF("a.txt", "%PDF-1.4\n\0\0binary", DOC_PDF);
	SNIFF("a.txt", "<!DOCTYPE html>\n<p>x", DOC_HTML);
	SNIFF("a.md", "\xef\xbb\xbf  <!doctype HTML><title>t</title>",
	    DOC_HTML);
	SNIFF(NULL, "\n<html lang=\"en\"><body>x", DOC_HTML);
	SNIFF("x", "<!-- generated -->\n<HTML>\n<body>", DOC_HTML);
	SNIFF("a.txt", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", DOC_NDJSON);
	SNIFF("a.jsonl", "{\"a\":1}", DOC_NDJSON);
	SNIFF("a.ndjson", "  {\"a\":1}\n", DOC_NDJSON);
	SNIFF("data", "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n", DOC_JSON);
	SNIFF("data", "{\"a\":[\n{\"b\":1},\n  {\"c\":2}]}\n", DOC_JSON);
	SNIFF("a.txt", "[1, 2, 3]", DOC_JSON);
	SNIFF("a.txt", " [ {\"a\": 1} ]", DOC_JSON);
	SNIFF("a.txt", "{}", DOC_JSON);
	/* A README that opens with a badge is not JSON. */
	SNIFF("README.md", "[![build](https://ci/b.svg)](https://ci/)\n# T\n",
	    DOC_MARKDOWN);
	SNIFF("notes", "[TOC]\nText", DOC_TEXT);
	SNIFF("page.md", "{% include header.html %}\n# T\n", DOC_MARKDOWN);
	/* XML that is not HTML falls through to the name. */
	SNIFF("a.svg", "<?xml version=\"1.0\"?><svg/>", DOC_TEXT);
}
END_TEST

START_TEST(test_sniff_name)
{
	SNIFF("a.md", "# Title", DOC_MARKDOWN);
	SNIFF("docs/A.MarkDown", "Title\n=====", DOC_MARKDOWN);
	SNIFF("a.html", "<p>fragment</p>", DOC_HTML);
	SNIFF("a.HTM", "plain words", DOC_HTML);
	SNIFF("a.xhtml", "<p>x</p>", DOC_HTML);
	SNIFF("a.json", "\"just a string\"", DOC_JSON);
	SNIFF("src/main.c", "int main(void) { return 0; }", DOC_CODE);
	SNIFF("x.h", "#define X 1", DOC_CODE);
	SNIFF("x.py", "import os", DOC_CODE);
	SNIFF("x.js", "let a = 1", DOC_CODE);
	SNIFF("x.ts", "let a: number", DOC_CODE);
	SNIFF("x.go", "package main", DOC_CODE);
	SNIFF("x.rs", "fn main() {}", DOC_CODE);
	SNIFF("X.java", "class X {}", DOC_CODE);
	SNIFF("x.sh", "echo hi", DOC_CODE);
	SNIFF("x.pl", "print 1;", DOC_CODE);
	SNIFF("x.rb", "puts 1", DOC_CODE);
	SNIFF("x.cpp", "int x;", DOC_CODE);
	SNIFF("x.hpp", "int x;", DOC_CODE);
	SNIFF("x.cc", "int x;", DOC_CODE);
	SNIFF("x.lua", "print(1)", DOC_CODE);
	SNIFF("dir/Makefile", "all:\n\tcc x.c", DOC_CODE);
	SNIFF("configure", "#!/bin/sh\necho", DOC_CODE);
	SNIFF("a.txt", "hello", DOC_TEXT);
	SNIFF("a.rst", "Title\n=====", DOC_TEXT);
	SNIFF("a.pod", "=head1 NAME", DOC_TEXT);
	SNIFF("a.weird", "hello", DOC_TEXT);
	SNIFF("noext", "hello", DOC_TEXT);
	SNIFF(".hidden", "hello", DOC_TEXT);
	SNIFF(NULL, "hello", DOC_TEXT);
	SNIFF("empty.txt", "", DOC_TEXT);
	/* Content wins over the name where it is unambiguous. */
	SNIFF("report.txt", "<!doctype html><p>x", DOC_HTML);
	SNIFF("data.md", "[{\"a\": 1}]", DOC_JSON);
}
END_TEST

START_TEST(test_sniff_binary)
{
	char	*big;

	SNIFF("a.txt", "text\0more", -1);
	SNIFF("a.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", -1);
	SNIFF("a.gz", "\x1f\x8b\x08\0\0\0\0\0", -1);
	SNIFF("a.c", "int x;\0", -1);
	/* A NUL past the first 8 KB is not looked for. */
	ck_assert_ptr_nonnull(big = malloc(16384));
	memset(big, 'a', 16384);
	big[12000] = '\0';
	ck_assert_int_eq(extract_type_sniff("a.txt", big, 16384), DOC_TEXT);
	big[100] = '\0';
	ck_assert_int_eq(extract_type_sniff("a.txt", big, 16384), -1);
	free(big);
}
END_TEST

START_TEST(test_xdoc)
{
	struct xdoc	 doc;
	struct xerr	 err;

	xdoc_init(&doc);
	xdoc_block(&doc, BLK_HEADING, 9, "Title", 5);
	xdoc_block(&doc, BLK_PARA, 3, "", 0);
	xdoc_block(&doc, BLK_PARA, 0, "Body text", 9);
	xdoc_block(&doc, BLK_CODE, 0, "x = 1", 5);
	xdoc_attr(&doc, "author", "Ann");
	ck_assert_uint_eq(doc.xd_nblocks, 3);
	ck_assert_str_eq(buf_cstr(&doc.xd_text), "Title\nBody text\nx = 1");
	ck_assert_int_eq(doc.xd_blocks[0].xb_kind, BLK_HEADING);
	ck_assert_int_eq(doc.xd_blocks[0].xb_level, 6);
	ck_assert_uint_eq(doc.xd_blocks[0].xb_off, 0);
	ck_assert_uint_eq(doc.xd_blocks[1].xb_off, 6);
	ck_assert_uint_eq(doc.xd_blocks[1].xb_len, 9);
	ck_assert_int_eq(doc.xd_blocks[1].xb_level, 0);
	ck_assert_uint_eq(doc.xd_blocks[2].xb_off, 16);
	ck_assert_int_eq(doc.xd_blocks[2].xb_kind, BLK_CODE);
	ck_assert_uint_eq(doc.xd_nattrs, 1);
	ck_assert_str_eq(doc.xd_attrs[0].xa_name, "author");
	ck_assert_str_eq(doc.xd_attrs[0].xa_value, "Ann");
	xdoc_free(&doc);
	ck_assert_uint_eq(doc.xd_nblocks, 0);
	ck_assert_ptr_null(doc.xd_text.b_data);

	xerr_set(&err, "too-deep", "depth %d over %s", 300, "max-depth");
	ck_assert_str_eq(err.xe_code, "too-deep");
	ck_assert_str_eq(err.xe_msg, "depth 300 over max-depth");
	xerr_set(NULL, "ignored", "no %s", "crash");
}
END_TEST

START_TEST(test_text)
{
	struct extract_conf	 xc;
	struct result		 r;

	extract_conf_defaults(&xc);
	run_fixture(&xc, "extract-notes.txt", DOC_TEXT, &r);
	ck_assert_uint_eq(r.r_nblocks, 5);
	ck_assert_int_eq(block(&r, BLK_HEADING, "Release notes"), 0);
	ck_assert_int_eq(r.r_blocks[0].xb_level, 1);
	ck_assert_int_eq(block(&r, BLK_PARA,
	    "The first paragraph spans\ntwo lines."), 1);
	ck_assert_int_eq(block(&r, BLK_HEADING, "Fixes"), 2);
	ck_assert_int_eq(r.r_blocks[2].xb_level, 2);
	/* Trailing white space goes; a transition line goes. */
	ck_assert_int_eq(block(&r, BLK_PARA, "Long lines no longer crash the "
	    "worker.\nTrailing spaces are trimmed."), 3);
	ck_assert_int_eq(block(&r, BLK_PARA, "The end."), 4);
	ck_assert(!has(&r, "-----"));
	ck_assert_str_eq(r.r_title, "Release notes");
	ck_assert_str_eq(r.r_id, "extract-notes.txt");
	result_free(&r);
}
END_TEST

START_TEST(test_text_forms)
{
	static const char	 crlf[] = "One\r\ntwo\r\n\r\n\r\nThree\r\n";
	static const char	 pod[] = "=pod\n\n=head1 NAME\n\nquired - the "
	    "daemon\n\n=over 4\n\n=item B<-d>\n\nDebug.\n\n=back\n\n"
	    "  quired -d\n    -f x\n\n=cut\n";
	static const char	 rst[] = "=====\nTitle\n=====\n\nSub\n---\n\n"
	    "Other\n=====\nbody\n";
	struct extract_conf	 xc;
	struct result		 r;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	ck_assert_int_eq(run(&xc, DOC_TEXT, "dir/crlf.txt", crlf,
	    sizeof(crlf) - 1, &r, &err), 0);
	ck_assert_str_eq(r.r_text, "One\ntwo\nThree");
	ck_assert_uint_eq(r.r_nblocks, 2);
	/* No heading: the title is the file's name. */
	ck_assert_str_eq(r.r_title, "crlf.txt");
	ck_assert_str_eq(r.r_id, "dir/crlf.txt");
	result_free(&r);

	ck_assert_int_eq(run(&xc, DOC_TEXT, "q.pod", pod, sizeof(pod) - 1,
	    &r, &err), 0);
	ck_assert_str_eq(r.r_text, "NAME\nquired - the daemon\nB<-d>\nDebug.\n"
	    "  quired -d\n    -f x");
	ck_assert_int_eq(block(&r, BLK_HEADING, "NAME"), 0);
	ck_assert_int_eq(r.r_blocks[0].xb_level, 1);
	ck_assert_int_eq(block(&r, BLK_CODE, "  quired -d\n    -f x"), 4);
	result_free(&r);

	/* reST levels follow the order styles first appear in. */
	ck_assert_int_eq(run(&xc, DOC_TEXT, "a.rst", rst, sizeof(rst) - 1,
	    &r, &err), 0);
	ck_assert_int_eq(block(&r, BLK_HEADING, "Title"), 0);
	ck_assert_int_eq(r.r_blocks[0].xb_level, 1);
	ck_assert_int_eq(block(&r, BLK_HEADING, "Sub"), 1);
	ck_assert_int_eq(r.r_blocks[1].xb_level, 2);
	ck_assert_int_eq(block(&r, BLK_HEADING, "Other"), 2);
	ck_assert_int_eq(r.r_blocks[2].xb_level, 3);
	ck_assert_int_eq(block(&r, BLK_PARA, "body"), 3);
	result_free(&r);

	ck_assert_int_eq(run(&xc, DOC_TEXT, "empty.txt", "", 0, &r, &err), 0);
	ck_assert_int_eq(r.r_calls, 1);
	ck_assert_uint_eq(r.r_len, 0);
	ck_assert_uint_eq(r.r_nblocks, 0);
	result_free(&r);
}
END_TEST

START_TEST(test_utf8_policy)
{
	struct extract_conf	 xc;
	struct result		 r;
	struct buf		 b;
	struct xerr		 err;

	buf_init(&b);
	fixture("extract-bad-utf8.txt", &b);
	ck_assert_int_eq(extract_type_sniff("extract-bad-utf8.txt", b.b_data,
	    b.b_len), DOC_TEXT);

	extract_conf_defaults(&xc);
	xc.xc_utf8 = UTF8_REJECT;
	ck_assert_int_eq(run(&xc, DOC_TEXT, "bad.txt", b.b_data, b.b_len, &r,
	    &err), -1);
	ck_assert_str_eq(err.xe_code, "bad-utf8");
	/* "Good text before.\n\nThen bad bytes: " is 35 bytes. */
	ck_assert_msg(strstr(err.xe_msg, "byte 35") != NULL, "%s",
	    err.xe_msg);
	ck_assert_int_eq(r.r_calls, 0);
	/* The same for markdown and code, which are text too. */
	run_fails(&xc, DOC_MARKDOWN, b.b_data, b.b_len, "bad-utf8");
	run_fails(&xc, DOC_CODE, b.b_data, b.b_len, "bad-utf8");
	run_fails(&xc, DOC_HTML, b.b_data, b.b_len, "bad-utf8");

	xc.xc_utf8 = UTF8_REPAIR;
	ck_assert_int_eq(run(&xc, DOC_TEXT, "bad.txt", b.b_data, b.b_len, &r,
	    &err), 0);
	ck_assert_int_eq(r.r_valid, 1);
	ck_assert_str_eq(r.r_text, "Good text before.\nThen bad bytes: "
	    "\xef\xbf\xbd\xef\xbf\xbd here, and a lone \xef\xbf\xbd too.");
	result_free(&r);
	buf_free(&b);
}
END_TEST

START_TEST(test_markdown)
{
	struct extract_conf	 xc;
	struct result		 r;
	int			 i;

	extract_conf_defaults(&xc);
	run_fixture(&xc, "extract-guide.md", DOC_MARKDOWN, &r);
	ck_assert_str_eq(r.r_title, "Brewing guide");
	i = block(&r, BLK_HEADING, "Brewing guide");
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(r.r_blocks[i].xb_level, 1);
	i = block(&r, BLK_HEADING, "Steps");
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(r.r_blocks[i].xb_level, 2);
	i = block(&r, BLK_HEADING, "Setext heading");
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(r.r_blocks[i].xb_level, 2);
	/* Emphasis, links and inline code keep their text, not the URL. */
	ck_assert_int_ge(block(&r, BLK_PARA, "Tea is steeped, not stewed. "
	    "Read the kettle manual for details, and run brew --strong when "
	    "tired. Fish & chips."), 0);
	ck_assert(!has(&r, "example.org"));
	/* Nested lists and block quotes: a paragraph each. */
	ck_assert_int_ge(block(&r, BLK_PARA, "Warm the pot"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Swirl hot water"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Pour it away"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Add leaves"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Never squeeze the bag."), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Nested wisdom."), 0);
	/* Code is kept as written. */
	ck_assert_int_ge(block(&r, BLK_CODE, "kettle --boil\npour --slowly"),
	    0);
	ck_assert_int_ge(block(&r, BLK_CODE, "indented_code_block(here)"), 0);
	/* HTML is dropped, block and inline. */
	ck_assert(!has(&r, "hiddenHtmlBlock"));
	ck_assert(!has(&r, "raw html is dropped"));
	ck_assert(!has(&r, "<span>"));
	ck_assert_int_ge(block(&r, BLK_PARA,
	    "Last paragraph with inline html tags."), 0);
	result_free(&r);
}
END_TEST

START_TEST(test_html)
{
	struct extract_conf	 xc;
	struct result		 r;
	int			 i;

	extract_conf_defaults(&xc);
	run_fixture(&xc, "extract-page.html", DOC_HTML, &r);
	ck_assert_str_eq(r.r_title, "Tea & Biscuits: a field guide");
	ck_assert_ptr_nonnull(r.r_desc);
	ck_assert_str_eq(r.r_desc,
	    "How to pick a biscuit \xe2\x80\x94 and dunk it.");
	i = block(&r, BLK_HEADING, "Choosing a biscuit");
	ck_assert_int_eq(i, 0);
	ck_assert_int_eq(r.r_blocks[i].xb_level, 1);
	i = block(&r, BLK_HEADING, "Kinds");
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(r.r_blocks[i].xb_level, 2);
	/* &nbsp; is a space. */
	i = block(&r, BLK_HEADING, "Last words");
	ck_assert_int_ge(i, 0);
	ck_assert_int_eq(r.r_blocks[i].xb_level, 3);
	/* Entities decoded, white space collapsed, inline tags flow. */
	ck_assert_int_ge(block(&r, BLK_PARA, "Biscuits are best with strong "
	    "tea, caf\xc3\xa9 au lait, or warm milk. Smile \xe2\x98\xba and "
	    "<dunk>."), 0);
	/* Nested lists: an item each, the outer item's own text too. */
	ck_assert_int_ge(block(&r, BLK_PARA, "Shortbread"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Petticoat tails"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Fingers"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Digestive"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Ginger nut"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "crisp"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Outer"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Inner"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Tail"), 0);
	ck_assert_int_ge(block(&r, BLK_PARA, "Line one line two"), 0);
	ck_assert_int_ge(block(&r, BLK_CODE,
	    "for cup in pot:\n    dunk(biscuit)"), 0);
	/* What is dropped. */
	ck_assert(!has(&r, "hidden"));
	ck_assert(!has(&r, "font-family"));
	ck_assert(!has(&r, "not text"));
	ck_assert(!has(&r, "comment"));
	ck_assert(!has(&r, "field guide"));
	ck_assert(!has(&r, "&amp;"));
	result_free(&r);
}
END_TEST

START_TEST(test_html_forms)
{
	static const char	 notitle[] = "<html><body><h2>Only  heading"
	    "</h2><p>x</p></body></html>";
	static const char	 frag[] = "Hello <b>bold</b> world";
	static const char	 foreign[] = "<html><head><meta charset="
	    "\"windows-1252\"></head><body><p>\x93quoted\x94 caf\xe9</p>"
	    "</body></html>";
	struct extract_conf	 xc;
	struct result		 r;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	run_fixture(&xc, "extract-latin1.html", DOC_HTML, &r);
	ck_assert_str_eq(r.r_title, "Caf\xc3\xa9");
	ck_assert_str_eq(r.r_text,
	    "Un caf\xc3\xa9 cr\xc3\xa8me, s'il vous pla\xc3\xaet.");
	result_free(&r);

	/* A declared charset is converted even when UTF-8 is required. */
	xc.xc_utf8 = UTF8_REJECT;
	ck_assert_int_eq(run(&xc, DOC_HTML, "w.html", foreign,
	    sizeof(foreign) - 1, &r, &err), 0);
	ck_assert_str_eq(r.r_text,
	    "\xe2\x80\x9cquoted\xe2\x80\x9d caf\xc3\xa9");
	result_free(&r);
	xc.xc_utf8 = UTF8_REPAIR;

	ck_assert_int_eq(run(&xc, DOC_HTML, "n.html", notitle,
	    sizeof(notitle) - 1, &r, &err), 0);
	ck_assert_str_eq(r.r_title, "Only heading");
	result_free(&r);

	ck_assert_int_eq(run(&xc, DOC_HTML, "f.html", frag, sizeof(frag) - 1,
	    &r, &err), 0);
	ck_assert_str_eq(r.r_text, "Hello bold world");
	ck_assert_str_eq(r.r_title, "f.html");
	result_free(&r);

	ck_assert_int_eq(run(&xc, DOC_HTML, "e.html", "", 0, &r, &err), 0);
	ck_assert_int_eq(r.r_calls, 1);
	ck_assert_uint_eq(r.r_len, 0);
	result_free(&r);
}
END_TEST

START_TEST(test_code_c)
{
	struct extract_conf	 xc;
	struct result		 r;
	size_t			 i;

	extract_conf_defaults(&xc);
	run_fixture(&xc, "extract-parser.c", DOC_CODE, &r);
	/* A block per run of lines between blank lines, all code. */
	ck_assert_uint_eq(r.r_nblocks, 5);
	for (i = 0; i < r.r_nblocks; i++)
		ck_assert_int_eq(r.r_blocks[i].xb_kind, BLK_CODE);
	ck_assert_str_eq(r.r_title, "extract-parser.c");
	/* The file as written: comments, code and strings. */
	ck_assert(has(&r, "Don't panic: see writeBackCache"));
	ck_assert(has(&r, "parseHttpRequest(const char *buf, size_t len)"));
	ck_assert(has(&r, "\"keepThisString intact\""));
	/* Names split, in code and in comments. */
	ck_assert(has_lower(&r, "parse http request"));
	ck_assert(has_lower(&r, "max line len"));
	ck_assert(has_lower(&r, "read config file"));
	ck_assert(has_lower(&r, "write back cache"));
	/* Not in strings. */
	ck_assert(!has_lower(&r, "keep this string"));
	result_free(&r);
}
END_TEST

START_TEST(test_code_python)
{
	struct extract_conf	 xc;
	struct result		 r;

	extract_conf_defaults(&xc);
	run_fixture(&xc, "extract-tool.py", DOC_CODE, &r);
	ck_assert_uint_eq(r.r_nblocks, 4);
	ck_assert(has(&r, "# A tool that talks to the lazyLoader service."));
	ck_assert(has(&r, "The docstring says quietCamelWord"));
	ck_assert(has_lower(&r, "lazy loader"));
	ck_assert(has_lower(&r, "http server thing"));
	ck_assert(has_lower(&r, "fetch remote page"));
	/* After "it's" in a comment, code is code again. */
	ck_assert(has_lower(&r, "open url stream"));
	/* A docstring is a string. */
	ck_assert(!has_lower(&r, "quiet camel word"));
	result_free(&r);
}
END_TEST

START_TEST(test_code_forms)
{
	static const char	 lua[] = "--[[ block comment with aLuaName\n"
	    "\nstill comment ]]\nlocal myValue = 'it''s'\n";
	static const char	 blank[] = "/* one\n\n   comment */\n\n"
	    "x_y = 1\n";
	struct extract_conf	 xc;
	struct result		 r;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	ck_assert_int_eq(run(&xc, DOC_CODE, "x.lua", lua, sizeof(lua) - 1,
	    &r, &err), 0);
	ck_assert(has_lower(&r, "a lua name"));
	ck_assert(has_lower(&r, "my value"));
	/* A blank line inside a comment does not end the block. */
	ck_assert_uint_eq(r.r_nblocks, 1);
	result_free(&r);

	ck_assert_int_eq(run(&xc, DOC_CODE, "x.c", blank, sizeof(blank) - 1,
	    &r, &err), 0);
	ck_assert_uint_eq(r.r_nblocks, 2);
	ck_assert_int_ge(block(&r, BLK_CODE, "/* one\n\n   comment */"), 0);
	ck_assert(has_lower(&r, "x y"));
	result_free(&r);
}
END_TEST

/* A 50 MB line fails every line-oriented type, and then work goes on. */
START_TEST(test_long_line)
{
	struct extract_conf	 xc;
	struct result		 r;
	struct xerr		 err;
	size_t			 len = 50 * MIB;
	char			*big;

	ck_assert_ptr_nonnull(big = malloc(len));
	memset(big, 'a', len);
	big[len - 1] = '\n';
	extract_conf_defaults(&xc);
	ck_assert_uint_eq(xc.xc_max_line, MIB);
	run_fails(&xc, DOC_TEXT, big, len, "line-too-long");
	run_fails(&xc, DOC_CODE, big, len, "line-too-long");
	run_fails(&xc, DOC_MARKDOWN, big, len, "line-too-long");
	/* The line is the second one here. */
	memcpy(big, "short\n", 6);
	ck_assert_int_eq(run(&xc, DOC_TEXT, "x", big, len, &r, &err), -1);
	ck_assert_str_eq(err.xe_code, "line-too-long");
	ck_assert_msg(strstr(err.xe_msg, "line 2") != NULL, "%s", err.xe_msg);

	xc.xc_max_size = 10 * MIB;
	run_fails(&xc, DOC_TEXT, big, len, "too-large");
	run_fails(&xc, DOC_HTML, big, len, "too-large");
	free(big);

	ck_assert_int_eq(run(&xc, DOC_TEXT, "x", "still here", 10, &r, &err),
	    0);
	ck_assert_str_eq(r.r_text, "still here");
	result_free(&r);
}
END_TEST

START_TEST(test_limits)
{
	static const char	 text[] = "one paragraph\n\nand another one\n";
	static const char	 md[] = "> > > > deep\n";
	static const char	 html[] = "<div><div><div><div>deep</div></div>"
	    "</div></div>";
	struct extract_conf	 xc;
	struct result		 r;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	xc.xc_max_text = 10;
	run_fails(&xc, DOC_TEXT, text, sizeof(text) - 1, "too-large");
	xc.xc_max_size = 10;
	run_fails(&xc, DOC_TEXT, text, sizeof(text) - 1, "too-large");

	extract_conf_defaults(&xc);
	xc.xc_max_depth = 4;
	run_fails(&xc, DOC_MARKDOWN, md, sizeof(md) - 1, "too-deep");
	run_fails(&xc, DOC_HTML, html, sizeof(html) - 1, "too-deep");
	xc.xc_max_depth = 8;
	ck_assert_int_eq(run(&xc, DOC_MARKDOWN, "m", md, sizeof(md) - 1, &r,
	    &err), 0);
	ck_assert_str_eq(r.r_text, "deep");
	result_free(&r);
	ck_assert_int_eq(run(&xc, DOC_HTML, "h", html, sizeof(html) - 1, &r,
	    &err), 0);
	ck_assert_str_eq(r.r_text, "deep");
	result_free(&r);

	run_fails(&xc, DOC_NTYPES, text, sizeof(text) - 1, "unsupported-type");
	run_fails(&xc, -1, text, sizeof(text) - 1, "unsupported-type");
}
END_TEST

/* The callback's refusal is returned as it is, err untouched. */
START_TEST(test_callback_stop)
{
	struct extract_conf	 xc;
	struct result		 r;
	struct xerr		 err;

	extract_conf_defaults(&xc);
	memset(&r, 0, sizeof(r));
	r.r_stop = -1;
	ck_assert_int_eq(extract_buffer(&xc, DOC_TEXT, "x", "text", 4,
	    result_cb, &r, &err), -1);
	ck_assert_int_eq(r.r_calls, 1);
	ck_assert_str_eq(err.xe_code, "");
	result_free(&r);
}
END_TEST

/* Nesting 100,000 deep, from files written in the test's directory. */
START_TEST(test_deep)
{
	struct extract_conf	 xc;
	struct result		 r;
	struct buf		 b;
	struct xerr		 err;
	char			 dir[PATH_MAX];
	char			*s;
	size_t			 i, len;
	int			 rootfd, fd;

	tmp_dir(dir, sizeof(dir));
	len = DEEP + 3;
	ck_assert_ptr_nonnull(s = malloc(len));
	memset(s, '>', DEEP);
	memcpy(s + DEEP, " x\n", 3);
	write_file(dir, "deep.md", s, len);
	free(s);
	len = 12 + DEEP * 5 + 1;
	ck_assert_ptr_nonnull(s = malloc(len));
	memcpy(s, "<html><body>", 12);
	for (i = 0; i < DEEP; i++)
		memcpy(s + 12 + i * 5, "<div>", 5);
	s[len - 1] = 'x';
	write_file(dir, "deep.html", s, len);
	free(s);

	buf_init(&b);
	ck_assert_int_ne(rootfd = open(dir, O_PATH | O_DIRECTORY), -1);
	extract_conf_defaults(&xc);

	ck_assert_int_ne(fd = extract_open(rootfd, "deep.md", &err), -1);
	read_fd(fd, &b);
	close(fd);
	ck_assert_int_eq(extract_type_sniff("deep.md", b.b_data, b.b_len),
	    DOC_MARKDOWN);
	run_fails(&xc, DOC_MARKDOWN, b.b_data, b.b_len, "too-deep");
	/* With no limit to stop it, the walk still does not recurse. */
	xc.xc_max_depth = UINT64_MAX;
	ck_assert_int_eq(run(&xc, DOC_MARKDOWN, "deep.md", b.b_data, b.b_len,
	    &r, &err), 0);
	ck_assert_str_eq(r.r_text, "x");
	result_free(&r);

	ck_assert_int_ne(fd = extract_open(rootfd, "deep.html", &err), -1);
	read_fd(fd, &b);
	close(fd);
	ck_assert_int_eq(extract_type_sniff("deep.html", b.b_data, b.b_len),
	    DOC_HTML);
	/* libxml2 stops at 256 levels whatever we allow: never a part. */
	run_fails(&xc, DOC_HTML, b.b_data, b.b_len, "too-deep");
	extract_conf_defaults(&xc);
	run_fails(&xc, DOC_HTML, b.b_data, b.b_len, "too-deep");

	close(rootfd);
	buf_free(&b);
	tmp_done(dir);
}
END_TEST

/* Random bytes without NUL (bits: 7 or 8 per byte), from a fixed seed. */
static void
noise(struct buf *b, size_t len, int bits)
{
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	unsigned char	 c;

	buf_reset(b);
	while (b->b_len < len) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if ((c = x >> 56 & ((1 << bits) - 1)) != 0)
			buf_addc(b, c);
	}
}

/*
 * Random bytes named .html reach libxml2, which nests every '<' and a
 * letter as an unclosed element: past 256 levels it was too-deep, a
 * reason that sends a reader looking for markup.  Binary is binary, in
 * any text-like type, from 7 or 8 random bits a byte.
 */
START_TEST(test_random_bytes)
{
	static const int	 types[] = { DOC_TEXT, DOC_MARKDOWN, DOC_HTML,
	    DOC_JSON, DOC_CODE };
	static const char	 latin1[] = "Un caf\xe9 cr\xe8" "me, une "
	    "tarte, s'il vous pla\xee" "t.\f\nEt du lait.\n";
	struct extract_conf	 xc;
	struct buf		 b;
	struct xerr		 err;
	struct result		 r;
	size_t			 i;
	int			 bits;

	extract_conf_defaults(&xc);
	buf_init(&b);
	for (bits = 7; bits <= 8; bits++) {
		noise(&b, 1 << 20, bits);
		ck_assert_int_eq(extract_type_sniff("noise.html", b.b_data,
		    b.b_len), DOC_HTML);
		ck_assert_int_eq(run(&xc, DOC_HTML, "noise.html", b.b_data,
		    b.b_len, &r, &err), -1);
		ck_assert_msg(strcmp(err.xe_code, "unsupported-type") == 0,
		    "%d bits: %s: %s", bits, err.xe_code, err.xe_msg);
		ck_assert_ptr_nonnull(strstr(err.xe_msg, "binary"));
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			run_fails(&xc, types[i], b.b_data, 4096,
			    "unsupported-type");
	}
	/* A few stray Latin-1 bytes and a form feed are still text. */
	ck_assert_int_eq(run(&xc, DOC_TEXT, "a.txt", latin1,
	    sizeof(latin1) - 1, &r, &err), 0);
	ck_assert_int_eq(r.r_valid, 1);
	result_free(&r);
	buf_free(&b);
}
END_TEST

/* What extract_open says of a path beneath root. */
static const char *
open_code(int rootfd, const char *path)
{
	static struct xerr	 err;
	int			 fd;

	memset(&err, 0, sizeof(err));
	if ((fd = extract_open(rootfd, path, &err)) != -1) {
		close(fd);
		return ("ok");
	}
	return (err.xe_code);
}

START_TEST(test_open)
{
	char		 dir[PATH_MAX], path[PATH_MAX];
	struct buf	 b;
	struct xerr	 err;
	int		 rootfd, fd, fl;

	tmp_dir(dir, sizeof(dir));
	write_file(dir, "a.txt", "hello", 5);
	join(path, dir, "sub");
	ck_assert_int_eq(mkdir(path, 0755), 0);
	write_file(dir, "sub/b.txt", "world", 5);
	join(path, dir, "fifo");
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	join(path, dir, "in");
	ck_assert_int_eq(symlink("a.txt", path), 0);
	join(path, dir, "sub/up");
	ck_assert_int_eq(symlink("../a.txt", path), 0);
	join(path, dir, "out");
	ck_assert_int_eq(symlink("/etc/passwd", path), 0);
	join(path, dir, "sub/escape");
	ck_assert_int_eq(symlink("../../outside.txt", path), 0);
	join(path, dir, "loop");
	ck_assert_int_eq(symlink("loop", path), 0);
	join(path, dir, "fifolink");
	ck_assert_int_eq(symlink("fifo", path), 0);
	write_file(tlib_top, "outside.txt", "secret", 6);

	/* A link that stays inside one root may leave a smaller one. */
	join(path, dir, "sub");
	ck_assert_int_ne(rootfd = open(path, O_PATH | O_DIRECTORY), -1);
	ck_assert_str_eq(open_code(rootfd, "b.txt"), "ok");
	ck_assert_str_eq(open_code(rootfd, "up"), "outside-root");
	close(rootfd);

	/* Symbolic links inside the root are followed... */
	ck_assert_int_ne(rootfd = open(dir, O_PATH | O_DIRECTORY), -1);
	ck_assert_str_eq(open_code(rootfd, "a.txt"), "ok");
	ck_assert_str_eq(open_code(rootfd, "sub/b.txt"), "ok");
	ck_assert_str_eq(open_code(rootfd, "./sub/../a.txt"), "ok");
	ck_assert_str_eq(open_code(rootfd, "in"), "ok");
	ck_assert_str_eq(open_code(rootfd, "sub/up"), "ok");
	/* ...and those that leave it are refused. */
	ck_assert_str_eq(open_code(rootfd, "out"), "outside-root");
	ck_assert_str_eq(open_code(rootfd, "sub/escape"), "outside-root");
	ck_assert_str_eq(open_code(rootfd, "../outside.txt"), "outside-root");
	ck_assert_str_eq(open_code(rootfd, "sub/../../outside.txt"),
	    "outside-root");
	ck_assert_str_eq(open_code(rootfd, "/etc/passwd"), "outside-root");
	ck_assert_str_eq(open_code(rootfd, "loop"), "outside-root");
	/* A FIFO is refused at once: no writer, and no waiting for one. */
	ck_assert_str_eq(open_code(rootfd, "fifo"), "not-regular");
	ck_assert_str_eq(open_code(rootfd, "fifolink"), "not-regular");
	ck_assert_str_eq(open_code(rootfd, "sub"), "not-regular");
	ck_assert_str_eq(open_code(rootfd, "."), "not-regular");
	ck_assert_str_eq(open_code(rootfd, "missing"), "not-found");

	/* What the worker gets is an ordinary blocking descriptor. */
	ck_assert_int_ne(fd = extract_open(rootfd, "in", &err), -1);
	ck_assert_int_ne(fl = fcntl(fd, F_GETFL), -1);
	ck_assert_int_eq(fl & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	buf_init(&b);
	read_fd(fd, &b);
	ck_assert_str_eq(b.b_data, "hello");
	buf_free(&b);
	close(fd);

	/* A refusal leaves no descriptor open. */
	ck_assert_int_ne(fd = open("/dev/null", O_RDONLY), -1);
	close(fd);
	ck_assert_int_eq(extract_open(rootfd, "fifo", &err), -1);
	ck_assert_int_eq(extract_open(rootfd, "sub", &err), -1);
	ck_assert_int_eq(fl = open("/dev/null", O_RDONLY), fd);
	close(fl);
	close(rootfd);
	tmp_done(dir);
	join(path, tlib_top, "outside.txt");
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

static Suite *
extract_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("extract");

	tc = tcase_create("basics");
	tcase_add_test(tc, test_conf_defaults);
	tcase_add_test(tc, test_type_names);
	tcase_add_test(tc, test_sniff_content);
	tcase_add_test(tc, test_sniff_name);
	tcase_add_test(tc, test_sniff_binary);
	tcase_add_test(tc, test_xdoc);
	tcase_add_test(tc, test_callback_stop);
	suite_add_tcase(s, tc);

	tc = tcase_create("types");
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_text_forms);
	tcase_add_test(tc, test_utf8_policy);
	tcase_add_test(tc, test_markdown);
	tcase_add_test(tc, test_html);
	tcase_add_test(tc, test_html_forms);
	tcase_add_test(tc, test_code_c);
	tcase_add_test(tc, test_code_python);
	tcase_add_test(tc, test_code_forms);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad input");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_deep);
	tcase_add_test(tc, test_random_bytes);
	tcase_add_test(tc, test_open);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_extract", extract_suite()));
}
