/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * JSON and NDJSON extraction with yajl's streaming parser.  yajl calls us
 * back for each key and value and keeps its nesting on a heap stack of
 * one byte per level, so a hostile document cannot exhaust the C stack;
 * our own depth count stops it (a callback returning 0) at max-depth.
 *
 * NDJSON: each line of the range is one record, an object.  Blank lines
 * are skipped, and a line longer than max-line fails unparsed.  A yajl
 * handle cannot be reset, so one is kept only while records parse well
 * (with yajl_allow_multiple_values, a handle that has completed a value
 * takes the next line as a fresh one, and we refuse a second value on the
 * same line); after a failure the next record gets a new handle.  From
 * the top level of the record:
 *
 *	id-field	a string or a number; missing, the id is the record's
 *			byte offset in decimal (the caller adds the source)
 *	title-field	a string: the title
 *	text-field	a string: the text, a paragraph per run of lines
 *			between blank lines; missing, the record fails
 *	the rest	attributes: a scalar at most 4 levels deep (the
 *			record is level 1) is named by its keys joined
 *			with dots ("a.b"), array elements take the array's
 *			name, null is left out
 *
 * At most JSON_ATTR_MAX attributes are kept per document, and a value
 * longer than JSON_ATTR_VALUE is text, not an attribute, so it is left
 * out; the rest of the record still counts.  For a repeated key the first
 * value wins.
 *
 * UTF-8: yajl's own check is off.  Each record is checked whole, once;
 * then only the strings yajl had to unescape, which it hands over from
 * its own buffer rather than from the input, need a look of their own (an
 * escaped lone surrogate decodes to invalid UTF-8).  Where the record is
 * not valid, every string kept is checked, and repaired or rejected by
 * policy; invalid bytes in what is left out do not matter.
 *
 * A record fails with line-too-long, too-deep (past max-depth, the record
 * being level 1), bad-utf8 (the reject policy) or parse-error: yajl's
 * message and where, not an object, more than one value on the line, no
 * text field, or a text field that is not a string.
 *
 * Records are reported through the callback in file order.  A record
 * that fails is reported with an xerr and a stand-in xdoc that carries
 * only the record's byte range (xd_off, xd_len: the line without its
 * newline); the records after it go on.  The xdoc is ours and valid only
 * during the call.  When the callback returns non-zero, extraction stops
 * and extract_ndjson returns that value, leaving err as the callback
 * left it, as extract_buffer does.
 *
 * extract_ndjson_check() runs a whole body through this reader, records
 * and all, to find the lines a worker would fail before the body is
 * taken: the same rules, not a second copy of them.
 *
 * A single JSON document: every string value (not the keys), in document
 * order, is text, split into paragraphs in the same way; a top-level
 * title-field string is also the title; top-level scalars other than the
 * title are attributes.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "quire.h"

#define JSON_ATTR_DEPTH	4	/* deepest object a flattened name reaches */
#define JSON_ATTR_MAX	64	/* attributes per document */
#define JSON_ATTR_VALUE	1024	/* bytes; a longer value is text */

enum json_mode {
	JSON_RECORD,
	JSON_DOCUMENT
};

/* What the pending top-level key names. */
enum json_field {
	JF_NONE = 0,
	JF_ID = 1,
	JF_TITLE = 2,
	JF_TEXT = 4,
	JF_SKIP = 8		/* a repeated id, title or text */
};

struct json_state {
	const struct extract_conf *js_conf;
	int		 js_mode;
	yajl_handle	 js_yajl;	/* kept while records parse well */
	struct xdoc	*js_doc;
	struct xerr	*js_err;	/* why a callback stopped yajl */
	int		 js_failed;
	int		 js_value;	/* the top-level value has begun */
	int		 js_finishing;	/* in yajl_complete_parse */
	size_t		 js_tail;	/* where the top-level value ended */
	uintptr_t	 js_in;		/* the input, if valid UTF-8 */
	uintptr_t	 js_inend;
	uint64_t	 js_depth;	/* objects and arrays open */
	int		 js_field;	/* enum json_field of the pending key */
	int		 js_seen;	/* json_field bits found so far */
	size_t		 js_nattrs;
	uint64_t	 js_ntext;	/* bytes of text, for max-text */
	const char	*js_fname[3];	/* id, title and text field names */
	size_t		 js_flen[3];
	size_t		 js_pathlen[JSON_ATTR_DEPTH + 1];
	struct buf	 js_path;	/* dotted name of the current value */
	struct buf	 js_fix;	/* a string after UTF-8 repair */
	struct buf	 js_val;	/* a value as a C string */
};

static void	 json_state_init(struct json_state *,
		    const struct extract_conf *, int);
static void	 json_state_free(struct json_state *);
static void	 json_state_reset(struct json_state *, struct xdoc *,
		    struct xerr *);
static int	 json_fail(struct json_state *, const char *, const char *,
		    ...) __attribute__((__format__(printf, 3, 4)));
static int	 json_utf8(struct json_state *, const char **, size_t *);
static int	 json_attr(struct json_state *, const char *, size_t);
static int	 json_scalar(struct json_state *, const char *, size_t, int);
static int	 json_top(struct json_state *, int);
static int	 json_open(struct json_state *, int);
static int	 json_close(struct json_state *);
static int	 json_cb_null(void *);
static int	 json_cb_boolean(void *, int);
static int	 json_cb_number(void *, const char *, size_t);
static int	 json_cb_string(void *, const unsigned char *, size_t);
static int	 json_cb_start_map(void *);
static int	 json_cb_map_key(void *, const unsigned char *, size_t);
static int	 json_cb_end(void *);
static int	 json_cb_start_array(void *);
static int	 json_parse(struct json_state *, const char *, size_t);
static int	 json_blank(const char *, size_t);
static int	 json_record(struct json_state *, const char *, size_t,
		    uint64_t, extract_cb, void *);

/* Kinds of scalar, for json_scalar. */
enum json_kind {
	JSON_STRING,
	JSON_NUMBER,
	JSON_BOOLEAN,
	JSON_NULL
};

static const yajl_callbacks json_callbacks = {
	json_cb_null,
	json_cb_boolean,
	NULL,
	NULL,
	json_cb_number,
	json_cb_string,
	json_cb_start_map,
	json_cb_map_key,
	json_cb_end,
	json_cb_start_array,
	json_cb_end
};

static void
json_state_init(struct json_state *js, const struct extract_conf *xc,
    int mode)
{
	int	 i;

	memset(js, 0, sizeof(*js));
	js->js_conf = xc;
	js->js_mode = mode;
	js->js_fname[0] = xc->xc_id_field;
	js->js_fname[1] = xc->xc_title_field != NULL ?
	    xc->xc_title_field : "title";
	js->js_fname[2] = xc->xc_text_field;
	if (mode == JSON_DOCUMENT) {
		js->js_fname[0] = NULL;
		js->js_fname[2] = NULL;
	}
	for (i = 0; i < 3; i++)
		if (js->js_fname[i] != NULL)
			js->js_flen[i] = strlen(js->js_fname[i]);
	buf_init(&js->js_path);
	buf_init(&js->js_fix);
	buf_init(&js->js_val);
}

static void
json_state_free(struct json_state *js)
{
	if (js->js_yajl != NULL)
		yajl_free(js->js_yajl);
	buf_free(&js->js_path);
	buf_free(&js->js_fix);
	buf_free(&js->js_val);
}

/* Ready for a new document; the buffers keep their memory. */
static void
json_state_reset(struct json_state *js, struct xdoc *doc, struct xerr *err)
{
	js->js_doc = doc;
	js->js_err = err;
	js->js_failed = 0;
	js->js_value = 0;
	js->js_finishing = 0;
	js->js_tail = SIZE_MAX;
	js->js_depth = 0;
	js->js_field = JF_NONE;
	js->js_seen = 0;
	js->js_nattrs = 0;
	js->js_ntext = 0;
	buf_reset(&js->js_path);
}

/* Record why, and return 0 so that yajl stops. */
static int
json_fail(struct json_state *js, const char *code, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[sizeof(js->js_err->xe_msg)];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xerr_set(js->js_err, code, "%s", msg);
	js->js_failed = 1;
	return (0);
}

/*
 * Make a decoded string valid UTF-8 by policy: unchanged, repaired into
 * js_fix (s and len then point there), or -1 when rejected.  A string
 * yajl did not have to unescape points into the input, which was checked
 * as a whole (js_in), so most strings need no look.
 */
static int
json_utf8(struct json_state *js, const char **s, size_t *len)
{
	size_t	 bad;

	if ((uintptr_t)*s >= js->js_in && (uintptr_t)*s < js->js_inend)
		return (0);
	if (utf8_valid(*s, *len, &bad))
		return (0);
	if (js->js_conf->xc_utf8 == UTF8_REJECT) {
		json_fail(js, "bad-utf8", "invalid UTF-8 in a string at "
		    "byte %zu of its value", bad);
		return (-1);
	}
	buf_reset(&js->js_fix);
	utf8_repair(*s, *len, &js->js_fix);
	*s = js->js_fix.b_data;
	*len = js->js_fix.b_len;
	return (0);
}

/* One attribute named by js_path, if the bounds allow. */
static int
json_attr(struct json_state *js, const char *v, size_t len)
{
	if (js->js_nattrs >= JSON_ATTR_MAX || len > JSON_ATTR_VALUE ||
	    js->js_path.b_len == 0)
		return (0);
	buf_reset(&js->js_val);
	buf_add(&js->js_val, v, len);
	xdoc_attr(js->js_doc, buf_cstr(&js->js_path), buf_cstr(&js->js_val));
	js->js_nattrs++;
	return (0);
}

/* A string, number, boolean or null; 0 to go on, -1 when failed. */
static int
json_scalar(struct json_state *js, const char *v, size_t len, int kind)
{
	struct xdoc	*doc = js->js_doc;
	int		 field = js->js_field;

	js->js_field = JF_NONE;
	if (js->js_depth == 0 && json_top(js, 0) == -1)
		return (-1);
	if (kind == JSON_STRING && json_utf8(js, &v, &len) == -1)
		return (-1);

	if (js->js_mode == JSON_DOCUMENT && kind == JSON_STRING) {
		js->js_ntext += len;
		if (js->js_ntext > js->js_conf->xc_max_text) {
			json_fail(js, "too-large", "more than %llu bytes of "
			    "text", (unsigned long long)
			    js->js_conf->xc_max_text);
			return (-1);
		}
		xdoc_paras(doc, v, len);
	}

	switch (field) {
	case JF_SKIP:
		return (0);
	case JF_ID:
		if (kind == JSON_STRING || kind == JSON_NUMBER) {
			js->js_seen |= JF_ID;
			buf_reset(&js->js_val);
			buf_add(&js->js_val, v, len);
			doc->xd_id = xstrdup(buf_cstr(&js->js_val));
			return (0);
		}
		break;
	case JF_TITLE:
		if (kind == JSON_STRING) {
			js->js_seen |= JF_TITLE;
			buf_reset(&js->js_val);
			buf_add(&js->js_val, v, len);
			doc->xd_title = xstrdup(buf_cstr(&js->js_val));
			return (0);
		}
		break;
	case JF_TEXT:
		if (kind != JSON_STRING) {
			json_fail(js, "parse-error", "the text field is not a "
			    "string");
			return (-1);
		}
		js->js_seen |= JF_TEXT;
		xdoc_paras(doc, v, len);
		return (0);
	}

	if (kind == JSON_NULL || js->js_depth > JSON_ATTR_DEPTH ||
	    (js->js_mode == JSON_DOCUMENT && js->js_depth != 1))
		return (0);
	return (json_attr(js, v, len));
}

/* The top-level value begins: one, and for a record an object. */
static int
json_top(struct json_state *js, int map)
{
	/* yajl allows more than one value, so that its handle is kept. */
	if (js->js_value) {
		json_fail(js, "parse-error", "trailing garbage");
		return (-1);
	}
	js->js_value = 1;
	if (!map && js->js_mode == JSON_RECORD) {
		json_fail(js, "parse-error", "the record is not an object");
		return (-1);
	}
	return (0);
}

/* An object or array begins. */
static int
json_open(struct json_state *js, int map)
{
	int	 field = js->js_field;

	js->js_field = JF_NONE;
	if (js->js_depth == 0 && json_top(js, map) == -1)
		return (0);
	if (field == JF_TEXT)
		return (json_fail(js, "parse-error",
		    "the text field is not a string"));
	if (js->js_depth >= js->js_conf->xc_max_depth)
		return (json_fail(js, "too-deep", "nested deeper than %llu",
		    (unsigned long long)js->js_conf->xc_max_depth));
	js->js_depth++;
	if (js->js_depth <= JSON_ATTR_DEPTH)
		js->js_pathlen[js->js_depth] = js->js_path.b_len;
	return (1);
}

/*
 * An object or array ends: its elements' names go.  At the top, note
 * where in the input: yajl counts bytes as it lexes.
 */
static int
json_close(struct json_state *js)
{
	if (js->js_depth <= JSON_ATTR_DEPTH)
		js->js_path.b_len = js->js_pathlen[js->js_depth];
	if (--js->js_depth == 0 && !js->js_finishing)
		js->js_tail = yajl_get_bytes_consumed(js->js_yajl);
	return (1);
}

static int
json_cb_null(void *arg)
{
	return (json_scalar(arg, "null", 4, JSON_NULL) == 0);
}

static int
json_cb_boolean(void *arg, int v)
{
	if (v)
		return (json_scalar(arg, "true", 4, JSON_BOOLEAN) == 0);
	return (json_scalar(arg, "false", 5, JSON_BOOLEAN) == 0);
}

static int
json_cb_number(void *arg, const char *v, size_t len)
{
	return (json_scalar(arg, v, len, JSON_NUMBER) == 0);
}

static int
json_cb_string(void *arg, const unsigned char *v, size_t len)
{
	return (json_scalar(arg, (const char *)v, len, JSON_STRING) == 0);
}

static int
json_cb_start_map(void *arg)
{
	return (json_open(arg, 1));
}

static int
json_cb_start_array(void *arg)
{
	return (json_open(arg, 0));
}

static int
json_cb_end(void *arg)
{
	return (json_close(arg));
}

/* A key: note a field of interest at the top, and name what follows. */
static int
json_cb_map_key(void *arg, const unsigned char *k, size_t len)
{
	struct json_state	*js = arg;
	const char		*key = (const char *)k;
	size_t			 d = js->js_depth;
	int			 i;

	js->js_field = JF_NONE;
	if (d == 1) {
		for (i = 0; i < 3; i++) {
			if (js->js_fname[i] == NULL ||
			    js->js_flen[i] != len ||
			    memcmp(js->js_fname[i], key, len) != 0)
				continue;
			js->js_field = (js->js_seen & (1 << i)) ?
			    JF_SKIP : 1 << i;
			break;
		}
	}
	if (d > JSON_ATTR_DEPTH)
		return (1);
	if (json_utf8(js, &key, &len) == -1)
		return (0);
	js->js_path.b_len = js->js_pathlen[d];
	if (js->js_path.b_len > 0)
		buf_addc(&js->js_path, '.');
	buf_add(&js->js_path, key, len);
	return (1);
}

/*
 * Run yajl over one document or record; 0, or -1 with js_err set.  The
 * handle is kept for the next record unless this one failed: yajl cannot
 * reset one, but with yajl_allow_multiple_values a handle that has just
 * completed a value takes the next as a fresh one.
 */
static int
json_parse(struct json_state *js, const char *data, size_t len)
{
	yajl_handle	 h;
	yajl_status	 st;
	unsigned char	*msg;
	size_t		 n, at;

	if ((h = js->js_yajl) == NULL) {
		if ((h = yajl_alloc(&json_callbacks, NULL, js)) == NULL)
			fatalx("%s: yajl_alloc", __func__);
		/* UTF-8 is checked on what we keep, after unescaping. */
		yajl_config(h, yajl_dont_validate_strings, 1);
		if (js->js_mode == JSON_RECORD)
			yajl_config(h, yajl_allow_multiple_values, 1);
		js->js_yajl = h;
	}
	js->js_in = (uintptr_t)data;
	js->js_inend = utf8_valid(data, len, NULL) ? js->js_in + len : 0;

	st = yajl_parse(h, (const unsigned char *)data, len);
	at = yajl_get_bytes_consumed(h);
	if (st == yajl_status_ok) {
		js->js_finishing = 1;
		st = yajl_complete_parse(h);
		at = len;
	}
	if (st == yajl_status_ok && !js->js_value && !js->js_failed)
		json_fail(js, "parse-error", "no value");
	/*
	 * yajl takes an unfinished token after the value, such as '"ab',
	 * for the start of another value and waits for more; it would
	 * run into the next record.
	 */
	if (st == yajl_status_ok && !js->js_failed && js->js_tail < len &&
	    !json_blank(data + js->js_tail, len - js->js_tail))
		json_fail(js, "parse-error", "trailing garbage at byte %zu",
		    js->js_tail);
	if (st == yajl_status_error && !js->js_failed) {
		msg = yajl_get_error(h, 0, (const unsigned char *)data, len);
		n = strcspn((char *)msg, "\r\n");
		while (n > 0 && msg[n - 1] == '.')
			n--;
		json_fail(js, "parse-error", "%.*s at byte %zu", (int)n, msg,
		    at);
		yajl_free_error(h, msg);
	} else if (st != yajl_status_ok && !js->js_failed)
		json_fail(js, "parse-error", "%s", yajl_status_to_string(st));
	if (js->js_failed) {
		yajl_free(h);
		js->js_yajl = NULL;
		return (-1);
	}
	return (0);
}

int
extract_json(const struct extract_conf *xc, const char *data, size_t len,
    struct xdoc *doc, struct xerr *err)
{
	struct json_state	 js;
	int			 rv;

	json_state_init(&js, xc, JSON_DOCUMENT);
	json_state_reset(&js, doc, err);
	doc->xd_type = DOC_JSON;
	rv = json_parse(&js, data, len);
	json_state_free(&js);
	return (rv);
}

/* A line with nothing but white space. */
static int
json_blank(const char *p, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (!xdoc_space((unsigned char)p[i]))
			return (0);
	return (1);
}

/* One NDJSON record to the callback; returns what the callback did. */
static int
json_record(struct json_state *js, const char *p, size_t len, uint64_t off,
    extract_cb cb, void *arg)
{
	const struct extract_conf	*xc = js->js_conf;
	struct xdoc			 doc;
	struct xerr			 xe;
	int				 rv;

	memset(&xe, 0, sizeof(xe));
	xdoc_init(&doc);
	json_state_reset(js, &doc, &xe);
	if (len > xc->xc_max_line)
		json_fail(js, "line-too-long", "a record of %zu bytes, the "
		    "limit is %llu", len, (unsigned long long)xc->xc_max_line);
	else if (json_parse(js, p, len) == 0 && !(js->js_seen & JF_TEXT))
		json_fail(js, "parse-error", "no text field");

	if (js->js_failed) {
		/* The stand-in: nothing but where the record is. */
		xdoc_free(&doc);
		xdoc_init(&doc);
	} else if (doc.xd_id != NULL && doc.xd_id[0] == '\0') {
		/* No id: the caller names the record by its place. */
		free(doc.xd_id);
		doc.xd_id = NULL;
	}
	doc.xd_type = DOC_NDJSON;
	doc.xd_off = off;
	doc.xd_len = len;
	rv = cb(&doc, js->js_failed ? &xe : NULL, arg);
	xdoc_free(&doc);
	return (rv);
}

int
extract_ndjson(const struct extract_conf *xc, const char *data, size_t len,
    uint64_t base_off, extract_cb cb, void *arg, struct xerr *err)
{
	struct json_state	 js;
	const char		*p = data, *end = data + len, *nl;
	size_t			 n;
	int			 rv = 0;

	if ((data == NULL && len > 0) || base_off > UINT64_MAX - len) {
		xerr_set(err, "parse-error", "no such byte range");
		return (-1);
	}
	json_state_init(&js, xc, JSON_RECORD);
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (!json_blank(p, n) &&
		    (rv = json_record(&js, p, n, base_off + (p - data), cb,
		    arg)) != 0)
			break;
		p = nl + 1;
	}
	json_state_free(&js);
	return (rv);
}

/* The validator's tally: line numbers of the records that failed. */
struct json_check {
	const char	*jc_data;
	uint64_t	 jc_at;		/* offset counted up to */
	uint64_t	 jc_line;	/* line number at jc_at (from 1) */
	uint64_t	*jc_lines;
	size_t		 jc_max;
	size_t		 jc_n;		/* failed records, all of them */
};

static int
json_check_cb(struct xdoc *doc, const struct xerr *err, void *arg)
{
	struct json_check	*jc = arg;
	const char		*p, *end;

	if (err == NULL)
		return (0);
	/* Records come in order: count the newlines since the last one. */
	p = jc->jc_data + jc->jc_at;
	end = jc->jc_data + doc->xd_off;
	while (p < end && (p = memchr(p, '\n', end - p)) != NULL) {
		jc->jc_line++;
		p++;
	}
	jc->jc_at = doc->xd_off;
	if (jc->jc_n < jc->jc_max)
		jc->jc_lines[jc->jc_n] = jc->jc_line;
	jc->jc_n++;
	return (0);
}

/*
 * Check an NDJSON body as workers will read it: the line numbers (from
 * 1) of the records that would fail, the first max of them in lines;
 * returns how many fail in all (0: the body is good).
 */
size_t
extract_ndjson_check(const struct extract_conf *xc, const char *data,
    size_t len, uint64_t *lines, size_t max)
{
	struct extract_conf	 c = *xc;
	struct json_check	 jc;
	struct xerr		 err;

	c.xc_tick = NULL;
	memset(&jc, 0, sizeof(jc));
	jc.jc_data = data;
	jc.jc_line = 1;
	jc.jc_lines = lines;
	jc.jc_max = max;
	memset(&err, 0, sizeof(err));
	if (len > 0)
		(void)extract_ndjson(&c, data, len, 0, json_check_cb, &jc,
		    &err);
	return (jc.jc_n);
}
