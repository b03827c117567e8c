/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for extract_json.c: NDJSON records from t/data/json-records.ndjson
 * (ids, titles, paragraphs, flattened attributes, unicode escapes, both
 * UTF-8 policies, records that fail with their reason codes and byte
 * ranges while the others go on), records built in the test for the
 * limits (line length, nesting 100,000 deep, attribute bounds) and for
 * stopping early, and a single JSON document from t/data/json-doc.json.
 *
 * Fixtures are read from $TOPSRC/t/data, or ./t/data when TOPSRC is not
 * set; the deeply nested inputs are written to a directory under $TMPDIR.
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

#define DEEP		100000	/* levels of the nesting bombs */
#define MAXRECS		64




/* What the callback saw for one record. */
struct rec {
	int		 r_failed;
	char		 r_code[32];
	char		 r_msg[200];
	uint64_t	 r_off;
	uint64_t	 r_len;
	int		 r_type;
	char		*r_id;
	char		*r_title;
	char		*r_text;
	size_t		 r_nblocks;
	int		 r_allpara;
	char		*r_attrs;	/* "name=value\n" each */
};

struct recs {
	struct rec	 rs_r[MAXRECS];
	size_t		 rs_n;
	int		 rs_stop_at;	/* return 7 at this record, from 1 */
};

static char *
dupn(const char *s, size_t n)
{
	char	*p;

	p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

static int
collect(struct xdoc *doc, const struct xerr *err, void *arg)
{
	struct recs	*rs = arg;
	struct rec	*r;
	struct buf	 b;
	size_t		 i;

	ck_assert_ptr_nonnull(doc);
	ck_assert_uint_lt(rs->rs_n, MAXRECS);
	r = &rs->rs_r[rs->rs_n++];
	memset(r, 0, sizeof(*r));
	r->r_off = doc->xd_off;
	r->r_len = doc->xd_len;
	r->r_type = doc->xd_type;
	if (err != NULL) {
		r->r_failed = 1;
		strlcpy(r->r_code, err->xe_code, sizeof(r->r_code));
		strlcpy(r->r_msg, err->xe_msg, sizeof(r->r_msg));
		/* The stand-in carries nothing but the range. */
		ck_assert_ptr_null(doc->xd_id);
		ck_assert_uint_eq(doc->xd_nblocks, 0);
		ck_assert_uint_eq(doc->xd_nattrs, 0);
	} else {
		r->r_id = doc->xd_id != NULL ? strdup(doc->xd_id) : NULL;
		if (doc->xd_title != NULL)
			r->r_title = strdup(doc->xd_title);
		r->r_text = dupn(doc->xd_text.b_data == NULL ? "" :
		    doc->xd_text.b_data, doc->xd_text.b_len);
		ck_assert(utf8_valid(r->r_text, strlen(r->r_text), NULL));
		r->r_nblocks = doc->xd_nblocks;
		r->r_allpara = 1;
		for (i = 0; i < doc->xd_nblocks; i++)
			if (doc->xd_blocks[i].xb_kind != BLK_PARA)
				r->r_allpara = 0;
		buf_init(&b);
		for (i = 0; i < doc->xd_nattrs; i++) {
			buf_addstr(&b, doc->xd_attrs[i].xa_name);
			buf_addc(&b, '=');
			buf_addstr(&b, doc->xd_attrs[i].xa_value);
			buf_addc(&b, '\n');
		}
		r->r_attrs = strdup(buf_cstr(&b));
		buf_free(&b);
	}
	if (rs->rs_stop_at != 0 && rs->rs_n == (size_t)rs->rs_stop_at)
		return (7);
	return (0);
}

static void
recs_free(struct recs *rs)
{
	size_t	 i;

	for (i = 0; i < rs->rs_n; i++) {
		free(rs->rs_r[i].r_id);
		free(rs->rs_r[i].r_title);
		free(rs->rs_r[i].r_text);
		free(rs->rs_r[i].r_attrs);
	}
	memset(rs, 0, sizeof(*rs));
}

static void
read_path(const char *path, struct buf *b)
{
	char	 chunk[8192];
	ssize_t	 n;
	int	 fd;

	fd = open(path, O_RDONLY);
	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	buf_init(b);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(b, chunk, n);
	ck_assert_int_eq(n, 0);
	close(fd);
}

static void
read_fixture(const char *name, struct buf *b)
{
	const char	*dir;
	char		 path[PATH_MAX];

	if ((dir = getenv("TOPSRC")) == NULL || *dir == '\0')
		dir = ".";
	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/t/data/%s", dir,
	    name), (int)sizeof(path));
	read_path(path, b);
}

/*
 * The byte ranges of the non-blank lines of data, as extract_ndjson is
 * to report them: the line without its newline.
 */
static size_t
line_ranges(const char *data, size_t len, uint64_t *off, uint64_t *n,
    size_t max)
{
	const char	*p = data, *end = data + len, *nl;
	size_t		 k = 0, i;
	int		 blank;

	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		blank = 1;
		for (i = 0; i < (size_t)(nl - p); i++)
			if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
				blank = 0;
		if (!blank) {
			ck_assert_uint_lt(k, max);
			off[k] = p - data;
			n[k++] = nl - p;
		}
		p = nl + 1;
	}
	return (k);
}

static void
ndjson(const struct extract_conf *xc, const char *data, size_t len,
    uint64_t base, struct recs *rs)
{
	struct xerr	 err;

	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(extract_ndjson(xc, data, len, base, collect, rs,
	    &err), 0);
	ck_assert_str_eq(err.xe_code, "");
}

static void
ndjson_str(const struct extract_conf *xc, const char *s, struct recs *rs)
{
	ndjson(xc, s, strlen(s), 0, rs);
}

#define BASE	1000	/* where the fixture's range begins in its "file" */

/* The fixture records, in order, under the repair policy. */
START_TEST(test_records)
{
	struct extract_conf	 xc;
	struct recs		 rs;
	struct buf		 data;
	uint64_t		 off[MAXRECS], n[MAXRECS];
	size_t			 nl, i;

	read_fixture("json-records.ndjson", &data);
	nl = line_ranges(data.b_data, data.b_len, off, n, MAXRECS);
	ck_assert_uint_eq(nl, 8);
	extract_conf_defaults(&xc);
	memset(&rs, 0, sizeof(rs));
	ndjson(&xc, data.b_data, data.b_len, BASE, &rs);
	ck_assert_uint_eq(rs.rs_n, 8);
	for (i = 0; i < rs.rs_n; i++) {
		ck_assert_uint_eq(rs.rs_r[i].r_off, BASE + off[i]);
		ck_assert_uint_eq(rs.rs_r[i].r_len, n[i]);
		ck_assert_int_eq(rs.rs_r[i].r_type, DOC_NDJSON);
	}

	/* Nested fields, escapes (U+00E9, a surrogate pair for U+1F600). */
	ck_assert_int_eq(rs.rs_r[0].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[0].r_id, "r1");
	ck_assert_str_eq(rs.rs_r[0].r_title, "Nested fields");
	ck_assert_str_eq(rs.rs_r[0].r_text, "First paragraph of r1.\n"
	    "Second paragraph: caf\xc3\xa9 and \xf0\x9f\x98\x80.");
	ck_assert_uint_eq(rs.rs_r[0].r_nblocks, 2);
	ck_assert(rs.rs_r[0].r_allpara);
	ck_assert_str_eq(rs.rs_r[0].r_attrs,
	    "lang=en\n"
	    "year=2024\n"
	    "score=4.5\n"
	    "draft=false\n"
	    "published=true\n"
	    "meta.author.name=Ada\n"
	    "meta.author.tags=x\n"
	    "meta.author.tags=y\n"
	    "meta.pages=12\n"
	    "tags=alpha\n"
	    "tags=beta\n"
	    "deep.b.c.d=four levels\n");

	/* A number is an id too. */
	ck_assert_int_eq(rs.rs_r[1].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[1].r_id, "42");
	ck_assert_ptr_null(rs.rs_r[1].r_title);
	ck_assert_str_eq(rs.rs_r[1].r_text, "A numeric id.");
	ck_assert_str_eq(rs.rs_r[1].r_attrs, "");

	/* No id: none given; the caller names it by its place in the file. */
	ck_assert_int_eq(rs.rs_r[2].r_failed, 0);
	ck_assert_ptr_null(rs.rs_r[2].r_id);
	ck_assert_uint_eq(rs.rs_r[2].r_off, BASE + off[2]);
	ck_assert_str_eq(rs.rs_r[2].r_title, "No id");

	/* A raw Latin-1 byte, and an escaped lone surrogate: repaired. */
	ck_assert_int_eq(rs.rs_r[3].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[3].r_id, "bad-utf8");
	ck_assert_str_eq(rs.rs_r[3].r_text,
	    "A Latin-1 byte \xef\xbf\xbd in UTF-8 text.");
	ck_assert_int_eq(rs.rs_r[4].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[4].r_id, "lone");
	ck_assert_str_eq(rs.rs_r[4].r_text,
	    "A lone \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate.");

	/* Not JSON, and no text: they fail, and the last one still comes. */
	ck_assert_int_eq(rs.rs_r[5].r_failed, 1);
	ck_assert_str_eq(rs.rs_r[5].r_code, "parse-error");
	ck_assert_ptr_nonnull(strstr(rs.rs_r[5].r_msg, "lexical error"));
	ck_assert_ptr_null(strchr(rs.rs_r[5].r_msg, '\n'));
	ck_assert_int_eq(rs.rs_r[6].r_failed, 1);
	ck_assert_str_eq(rs.rs_r[6].r_code, "parse-error");
	ck_assert_str_eq(rs.rs_r[6].r_msg, "no text field");
	ck_assert_int_eq(rs.rs_r[7].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[7].r_id, "last");
	ck_assert_str_eq(rs.rs_r[7].r_text, "The record after the failures.");

	recs_free(&rs);
	buf_free(&data);
}
END_TEST

/* Under the reject policy the two records with bad UTF-8 fail. */
START_TEST(test_records_reject)
{
	struct extract_conf	 xc;
	struct recs		 rs;
	struct buf		 data;
	uint64_t		 off[MAXRECS], n[MAXRECS];
	size_t			 i;

	read_fixture("json-records.ndjson", &data);
	ck_assert_uint_eq(line_ranges(data.b_data, data.b_len, off, n,
	    MAXRECS), 8);
	extract_conf_defaults(&xc);
	xc.xc_utf8 = UTF8_REJECT;
	memset(&rs, 0, sizeof(rs));
	ndjson(&xc, data.b_data, data.b_len, 0, &rs);
	ck_assert_uint_eq(rs.rs_n, 8);
	for (i = 0; i < rs.rs_n; i++) {
		ck_assert_uint_eq(rs.rs_r[i].r_off, off[i]);
		ck_assert_uint_eq(rs.rs_r[i].r_len, n[i]);
		ck_assert_int_eq(rs.rs_r[i].r_failed,
		    i == 3 || i == 4 || i == 5 || i == 6);
	}
	/* The escaped surrogate pair in the first one is fine. */
	ck_assert_str_eq(rs.rs_r[0].r_id, "r1");
	ck_assert_str_eq(rs.rs_r[3].r_code, "bad-utf8");
	ck_assert_str_eq(rs.rs_r[4].r_code, "bad-utf8");
	ck_assert_str_eq(rs.rs_r[5].r_code, "parse-error");
	ck_assert_str_eq(rs.rs_r[7].r_id, "last");
	recs_free(&rs);
	buf_free(&data);
}
END_TEST

/* Records that are not what a record must be, each amid good ones. */
START_TEST(test_records_bad)
{
	static const struct {
		const char	*line;
		const char	*msg;	/* a part of the message */
	} bad[] = {
		{ "[1, 2, 3]", "not an object" },
		{ "\"a string\"", "not an object" },
		{ "17", "not an object" },
		{ "{\"text\":\"a\"} {\"text\":\"b\"}", "trailing garbage" },
		{ "{\"text\":\"a\"} 5", "trailing garbage" },
		{ "{\"text\":\"a\"} \"ab}", "trailing garbage" },
		{ "{\"text\":\"a\"} tru", "invalid string" },
		{ "{\"text\":5}", "not a string" },
		{ "{\"text\":[\"a\"]}", "not a string" },
		{ "{\"text\":null}", "not a string" },
		{ "{\"text\":\"cut short\"", "premature EOF" },
		{ "{\"text\":\"cut short", "premature EOF" },
		{ "{\"text\":\"a raw\ttab\"}", "invalid character inside" },
		{ "{\"text\":\"x\",}", "parse error" },
		{ "{\"title\":\"t\"}", "no text field" },
		{ "{\"texts\":\"close, but not the field\"}", "no text field" }
	};
	struct extract_conf	 xc;
	struct recs		 rs;
	struct buf		 in;
	size_t			 i, good_len;
	const char		*good = "{\"id\":\"g\",\"text\":\"good\"}";

	extract_conf_defaults(&xc);
	good_len = strlen(good);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_init(&in);
		buf_addstr(&in, good);
		buf_addc(&in, '\n');
		buf_addstr(&in, bad[i].line);
		buf_addc(&in, '\n');
		buf_addstr(&in, good);
		buf_addc(&in, '\n');
		buf_addstr(&in, good);
		memset(&rs, 0, sizeof(rs));
		ndjson(&xc, in.b_data, in.b_len, 0, &rs);
		ck_assert_uint_eq(rs.rs_n, 4);
		ck_assert_msg(rs.rs_r[1].r_failed, "%s", bad[i].line);
		ck_assert_str_eq(rs.rs_r[1].r_code, "parse-error");
		ck_assert_msg(strstr(rs.rs_r[1].r_msg, bad[i].msg) != NULL,
		    "%s: %s", bad[i].line, rs.rs_r[1].r_msg);
		ck_assert_uint_eq(rs.rs_r[1].r_off, good_len + 1);
		ck_assert_uint_eq(rs.rs_r[1].r_len, strlen(bad[i].line));
		ck_assert_int_eq(rs.rs_r[0].r_failed, 0);
		ck_assert_int_eq(rs.rs_r[2].r_failed, 0);
		ck_assert_str_eq(rs.rs_r[2].r_text, "good");
		/* The last has no newline and is still a record. */
		ck_assert_int_eq(rs.rs_r[3].r_failed, 0);
		ck_assert_uint_eq(rs.rs_r[3].r_off, in.b_len - good_len);
		ck_assert_uint_eq(rs.rs_r[3].r_len, good_len);
		recs_free(&rs);
		buf_free(&in);
	}
}
END_TEST

/* Ids, titles and text: types, repeats, empties, paragraphs. */
START_TEST(test_records_fields)
{
	struct extract_conf	 xc;
	struct recs		 rs;

	extract_conf_defaults(&xc);
	memset(&rs, 0, sizeof(rs));
	ndjson_str(&xc,
	    "{\"id\":\"\",\"text\":\"empty id\"}\n"
	    "{\"id\":true,\"title\":7,\"text\":\"odd types\"}\n"
	    "{\"id\":\"a\",\"id\":\"b\",\"text\":\"one\",\"text\":\"two\"}\n"
	    "{\"id\":-1.5e3,\"text\":\"  \\n\\n lead \\n line \\n \\n\\n"
	    "  tail  \\n\\n\"}\n"
	    "{\"id\":\"e\",\"text\":\"\"}\n"
	    "{\"id\":\"crlf\",\"text\":\"line\"}\r\n", &rs);
	ck_assert_uint_eq(rs.rs_n, 6);
	/* An empty id is no id: the caller names the record. */
	ck_assert_ptr_null(rs.rs_r[0].r_id);
	ck_assert_str_eq(rs.rs_r[0].r_text, "empty id");
	/* A boolean id is not an id but an attribute; so is a number title. */
	ck_assert_ptr_null(rs.rs_r[1].r_id);
	ck_assert_ptr_null(rs.rs_r[1].r_title);
	ck_assert_str_eq(rs.rs_r[1].r_attrs, "id=true\ntitle=7\n");
	/* The first of a repeated field wins. */
	ck_assert_str_eq(rs.rs_r[2].r_id, "a");
	ck_assert_str_eq(rs.rs_r[2].r_text, "one");
	ck_assert_str_eq(rs.rs_r[2].r_attrs, "");
	/* Blank lines part paragraphs; white space around them goes. */
	ck_assert_str_eq(rs.rs_r[3].r_id, "-1.5e3");
	ck_assert_str_eq(rs.rs_r[3].r_text, "lead \n line\ntail");
	ck_assert_uint_eq(rs.rs_r[3].r_nblocks, 2);
	/* Empty text is text. */
	ck_assert_int_eq(rs.rs_r[4].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[4].r_text, "");
	ck_assert_uint_eq(rs.rs_r[4].r_nblocks, 0);
	/* The range keeps a CR, which is white space to JSON. */
	ck_assert_str_eq(rs.rs_r[5].r_text, "line");
	ck_assert_uint_eq(rs.rs_r[5].r_len, 28);
	recs_free(&rs);

	/* Other field names. */
	xc.xc_id_field = "key";
	xc.xc_title_field = "name";
	xc.xc_text_field = "body";
	ndjson_str(&xc, "{\"key\":\"k1\",\"name\":\"N\",\"body\":\"B\","
	    "\"id\":\"x\",\"text\":\"y\"}", &rs);
	ck_assert_uint_eq(rs.rs_n, 1);
	ck_assert_str_eq(rs.rs_r[0].r_id, "k1");
	ck_assert_str_eq(rs.rs_r[0].r_title, "N");
	ck_assert_str_eq(rs.rs_r[0].r_text, "B");
	ck_assert_str_eq(rs.rs_r[0].r_attrs, "id=x\ntext=y\n");
	recs_free(&rs);
}
END_TEST

/* At most 64 attributes; long values and deep names are left out. */
START_TEST(test_records_attr_bounds)
{
	struct extract_conf	 xc;
	struct recs		 rs;
	struct buf		 in, want;
	char			 name[32];
	int			 i;

	extract_conf_defaults(&xc);
	buf_init(&in);
	buf_init(&want);
	buf_addstr(&in, "{\"long\":\"");
	for (i = 0; i < 1025; i++)
		buf_addc(&in, 'x');
	buf_addstr(&in, "\",\"fits\":\"");
	buf_addstr(&want, "fits=");
	for (i = 0; i < 1024; i++) {
		buf_addc(&in, 'y');
		buf_addc(&want, 'y');
	}
	buf_addstr(&in, "\",\"a\":{\"b\":{\"c\":{\"d\":1,\"e\":{\"f\":2}},"
	    "\"g\":[3,[4]]}}");
	buf_addstr(&want, "\na.b.c.d=1\na.b.g=3\n");
	for (i = 0; i < 70; i++) {
		snprintf(name, sizeof(name), ",\"n%d\":%d", i, i);
		buf_addstr(&in, name);
		if (i < 61) {
			snprintf(name, sizeof(name), "n%d=%d\n", i, i);
			buf_addstr(&want, name);
		}
	}
	buf_addstr(&in, ",\"text\":\"the text comes last\"}");
	memset(&rs, 0, sizeof(rs));
	ndjson(&xc, in.b_data, in.b_len, 0, &rs);
	ck_assert_uint_eq(rs.rs_n, 1);
	ck_assert_int_eq(rs.rs_r[0].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[0].r_text, "the text comes last");
	ck_assert_str_eq(rs.rs_r[0].r_attrs, buf_cstr(&want));
	recs_free(&rs);
	buf_free(&in);
	buf_free(&want);
}
END_TEST

/* Over max-line: line-too-long, with the range; the rest go on. */
START_TEST(test_records_long_line)
{
	struct extract_conf	 xc;
	struct recs		 rs;
	struct buf		 in;
	int			 i;

	extract_conf_defaults(&xc);
	xc.xc_max_line = 64;
	buf_init(&in);
	buf_addstr(&in, "{\"text\":\"short\"}\n\n{\"text\":\"");
	for (i = 0; i < 100; i++)
		buf_addc(&in, 'x');
	buf_addstr(&in, "\"}\n{\"text\":\"after\"}\n");
	memset(&rs, 0, sizeof(rs));
	ndjson(&xc, in.b_data, in.b_len, 500, &rs);
	ck_assert_uint_eq(rs.rs_n, 3);
	ck_assert_int_eq(rs.rs_r[0].r_failed, 0);
	ck_assert_int_eq(rs.rs_r[1].r_failed, 1);
	ck_assert_str_eq(rs.rs_r[1].r_code, "line-too-long");
	ck_assert_uint_eq(rs.rs_r[1].r_off, 500 + 18);
	ck_assert_uint_eq(rs.rs_r[1].r_len, 111);
	ck_assert_int_eq(rs.rs_r[2].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[2].r_text, "after");

	/* Exactly max-line is allowed. */
	recs_free(&rs);
	xc.xc_max_line = 111;
	ndjson(&xc, in.b_data, in.b_len, 500, &rs);
	ck_assert_uint_eq(rs.rs_n, 3);
	ck_assert_int_eq(rs.rs_r[1].r_failed, 0);
	recs_free(&rs);
	buf_free(&in);
}
END_TEST

/* Write n levels of open, then close, to a file, and read it back. */
static void
deep_file(const char *name, const char *pre, const char *open,
    const char *mid, const char *close, const char *post, int n,
    struct buf *b)
{
	char	 path[PATH_MAX];
	FILE	*fp;
	int	 i;

	ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", tlib_top, name),
	    (int)sizeof(path));
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(pre, fp);
	for (i = 0; i < n; i++)
		fputs(open, fp);
	fputs(mid, fp);
	for (i = 0; i < n; i++)
		fputs(close, fp);
	fputs(post, fp);
	ck_assert_int_eq(fclose(fp), 0);
	read_path(path, b);
}

/* 100,000 levels: too-deep, no crash, and the next record still comes. */
START_TEST(test_too_deep)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	struct recs		 rs;
	struct buf		 arr, obj, rec;

	extract_conf_defaults(&xc);
	deep_file("arrays.json", "", "[", "1", "]", "\n", DEEP, &arr);
	deep_file("objects.json", "", "{\"a\":", "1", "}", "\n", DEEP, &obj);
	deep_file("records.ndjson", "{\"text\":\"deep\",\"x\":", "{\"a\":",
	    "1", "}", "}\n{\"text\":\"next\"}\n", DEEP, &rec);

	xdoc_init(&doc);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(extract_json(&xc, arr.b_data, arr.b_len, &doc, &err),
	    -1);
	ck_assert_str_eq(err.xe_code, "too-deep");
	xdoc_free(&doc);

	xdoc_init(&doc);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(extract_json(&xc, obj.b_data, obj.b_len, &doc, &err),
	    -1);
	ck_assert_str_eq(err.xe_code, "too-deep");
	xdoc_free(&doc);

	memset(&rs, 0, sizeof(rs));
	ndjson(&xc, rec.b_data, rec.b_len, 0, &rs);
	ck_assert_uint_eq(rs.rs_n, 2);
	ck_assert_int_eq(rs.rs_r[0].r_failed, 1);
	ck_assert_str_eq(rs.rs_r[0].r_code, "too-deep");
	ck_assert_uint_eq(rs.rs_r[0].r_off, 0);
	ck_assert_uint_eq(rs.rs_r[0].r_len, rec.b_len - 17);
	ck_assert_int_eq(rs.rs_r[1].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[1].r_text, "next");
	recs_free(&rs);

	/* Allowed that deep, yajl's stack is on the heap: it parses. */
	xc.xc_max_depth = DEEP;
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, arr.b_data, arr.b_len, &doc, &err),
	    0);
	xdoc_free(&doc);
	xc.xc_max_depth = DEEP - 1;
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, arr.b_data, arr.b_len, &doc, &err),
	    -1);
	ck_assert_str_eq(err.xe_code, "too-deep");
	xdoc_free(&doc);

	/* The limit counts the record itself as one level. */
	xc.xc_max_depth = 2;
	ndjson_str(&xc, "{\"text\":\"t\",\"a\":{\"b\":1}}\n"
	    "{\"text\":\"t\",\"a\":{\"b\":[1]}}\n", &rs);
	ck_assert_uint_eq(rs.rs_n, 2);
	ck_assert_int_eq(rs.rs_r[0].r_failed, 0);
	ck_assert_str_eq(rs.rs_r[0].r_attrs, "a.b=1\n");
	ck_assert_str_eq(rs.rs_r[1].r_code, "too-deep");
	recs_free(&rs);

	buf_free(&arr);
	buf_free(&obj);
	buf_free(&rec);
}
END_TEST

/* A non-zero return stops at once, is returned, and leaves err alone. */
START_TEST(test_records_stop)
{
	struct extract_conf	 xc;
	struct recs		 rs;
	struct xerr		 err;
	const char		*in = "{\"text\":\"1\"}\n{\"text\":\"2\"}\n"
				    "{\"text\":\"3\"}\n";

	extract_conf_defaults(&xc);
	memset(&rs, 0, sizeof(rs));
	rs.rs_stop_at = 2;
	memset(&err, 0, sizeof(err));
	strlcpy(err.xe_code, "mine", sizeof(err.xe_code));
	ck_assert_int_eq(extract_ndjson(&xc, in, strlen(in), 0, collect, &rs,
	    &err), 7);
	ck_assert_uint_eq(rs.rs_n, 2);
	ck_assert_str_eq(err.xe_code, "mine");
	recs_free(&rs);

	/* Nothing in the range, or only blank lines: no records. */
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(extract_ndjson(&xc, in, 0, 0, collect, &rs, &err),
	    0);
	ck_assert_int_eq(extract_ndjson(&xc, "\n \n\t\r\n", 6, 0, collect,
	    &rs, &err), 0);
	ck_assert_uint_eq(rs.rs_n, 0);
	/* No range at all. */
	ck_assert_int_eq(extract_ndjson(&xc, NULL, 10, 0, collect, &rs,
	    &err), -1);
	ck_assert_str_ne(err.xe_code, "");
	ck_assert_uint_eq(rs.rs_n, 0);
}
END_TEST

/* The JSON document fixture: all strings are text, in order. */
START_TEST(test_json_doc)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	struct buf		 data;
	size_t			 i;

	read_fixture("json-doc.json", &data);
	extract_conf_defaults(&xc);
	xdoc_init(&doc);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(extract_json(&xc, data.b_data, data.b_len, &doc,
	    &err), 0);
	ck_assert_int_eq(doc.xd_type, DOC_JSON);
	ck_assert_str_eq(doc.xd_title, "A JSON document");
	ck_assert_str_eq(buf_cstr(&doc.xd_text),
	    "A JSON document\n"
	    "Intro\n"
	    "Quire reads JSON documents.\n"
	    "Every string value is text.\n"
	    "Caf\xc3\xa9 \xf0\x9f\x98\x80\n"
	    "Keys are not text.\n"
	    "one\n"
	    "two\n"
	    "The end.");
	ck_assert_uint_eq(doc.xd_nblocks, 9);
	for (i = 0; i < doc.xd_nblocks; i++)
		ck_assert_int_eq(doc.xd_blocks[i].xb_kind, BLK_PARA);
	/* Top-level scalars but the title and null; nothing nested. */
	ck_assert_uint_eq(doc.xd_nattrs, 3);
	ck_assert_str_eq(doc.xd_attrs[0].xa_name, "version");
	ck_assert_str_eq(doc.xd_attrs[0].xa_value, "3");
	ck_assert_str_eq(doc.xd_attrs[1].xa_name, "draft");
	ck_assert_str_eq(doc.xd_attrs[1].xa_value, "true");
	ck_assert_str_eq(doc.xd_attrs[2].xa_name, "footer");
	ck_assert_str_eq(doc.xd_attrs[2].xa_value, "The end.");
	xdoc_free(&doc);

	/* Cut in half, it is a parse error; under max-text, too large. */
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, data.b_data, data.b_len / 2, &doc,
	    &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	ck_assert_ptr_nonnull(strstr(err.xe_msg, "premature EOF"));
	xdoc_free(&doc);
	xc.xc_max_text = 40;
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, data.b_data, data.b_len, &doc,
	    &err), -1);
	ck_assert_str_eq(err.xe_code, "too-large");
	xdoc_free(&doc);
	buf_free(&data);
}
END_TEST

/* Other shapes of document. */
START_TEST(test_json_shapes)
{
	struct extract_conf	 xc;
	struct xdoc		 doc;
	struct xerr		 err;
	const char		*s;

	extract_conf_defaults(&xc);

	s = "\"just a string\"";
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, strlen(s), &doc, &err), 0);
	ck_assert_str_eq(buf_cstr(&doc.xd_text), "just a string");
	ck_assert_ptr_null(doc.xd_title);
	xdoc_free(&doc);

	s = "[\"a\", {\"title\": \"nested, so not the title\"}, 3, \"b\"]";
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, strlen(s), &doc, &err), 0);
	ck_assert_str_eq(buf_cstr(&doc.xd_text),
	    "a\nnested, so not the title\nb");
	ck_assert_ptr_null(doc.xd_title);
	ck_assert_uint_eq(doc.xd_nattrs, 0);
	xdoc_free(&doc);

	/* Escaped lone surrogates are repaired, or rejected. */
	s = "{\"k\": \"x\\udc00y\"}";
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, strlen(s), &doc, &err), 0);
	ck_assert(utf8_valid(doc.xd_text.b_data, doc.xd_text.b_len, NULL));
	ck_assert_ptr_nonnull(strstr(buf_cstr(&doc.xd_text), "\xef\xbf\xbd"));
	xdoc_free(&doc);
	xc.xc_utf8 = UTF8_REJECT;
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, strlen(s), &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "bad-utf8");
	xdoc_free(&doc);

	s = "{\"a\": 1} {\"b\": 2}";
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, strlen(s), &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	xdoc_free(&doc);
	s = "{\"a\": 1} \"unfinished";
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, strlen(s), &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	xdoc_free(&doc);

	s = "";
	xdoc_init(&doc);
	ck_assert_int_eq(extract_json(&xc, s, 0, &doc, &err), -1);
	ck_assert_str_eq(err.xe_code, "parse-error");
	xdoc_free(&doc);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("json");
	tc = tcase_create("ndjson");
	tcase_add_test(tc, test_records);
	tcase_add_test(tc, test_records_reject);
	tcase_add_test(tc, test_records_bad);
	tcase_add_test(tc, test_records_fields);
	tcase_add_test(tc, test_records_attr_bounds);
	tcase_add_test(tc, test_records_long_line);
	tcase_add_test(tc, test_records_stop);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_too_deep);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("json");
	tcase_add_test(tc, test_json_doc);
	tcase_add_test(tc, test_json_shapes);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_json", json_suite()));
}
