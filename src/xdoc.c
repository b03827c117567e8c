/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The document an extractor fills (struct xdoc: text in blocks, a title,
 * an id, attributes), the error it reports (struct xerr) and its progress
 * ticks: the helpers that extract.c and every extract_<type>.c call.
 * They sit below the extractors and call nothing of theirs, so the
 * extractors depend downward only.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

/*
 * Progress from inside a parser: 0 to go on, or -1 with err set when the
 * listener (the worker, which sends heartbeats and enforces job-timeout
 * from here) wants the extraction stopped.
 */
int
xdoc_tick(const struct extract_conf *xc, struct xerr *err)
{
	if (xc->xc_tick == NULL || xc->xc_tick(xc->xc_tick_arg) == 0)
		return (0);
	xerr_set(err, "stopped", "extraction stopped by its worker");
	return (-1);
}

void
xerr_set(struct xerr *err, const char *code, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return;
	strlcpy(err->xe_code, code, sizeof(err->xe_code));
	va_start(ap, fmt);
	vsnprintf(err->xe_msg, sizeof(err->xe_msg), fmt, ap);
	va_end(ap);
}

void
xdoc_init(struct xdoc *doc)
{
	memset(doc, 0, sizeof(*doc));
	buf_init(&doc->xd_text);
}

void
xdoc_free(struct xdoc *doc)
{
	size_t	 i;

	for (i = 0; i < doc->xd_nattrs; i++) {
		free(doc->xd_attrs[i].xa_name);
		free(doc->xd_attrs[i].xa_value);
	}
	free(doc->xd_attrs);
	free(doc->xd_blocks);
	free(doc->xd_id);
	free(doc->xd_title);
	buf_free(&doc->xd_text);
	memset(doc, 0, sizeof(*doc));
}

void
xdoc_block(struct xdoc *doc, int kind, int level, const char *text,
    size_t len)
{
	struct xblock	*b;

	if (len == 0)
		return;
	if (doc->xd_nblocks == doc->xd_blockcap) {
		doc->xd_blockcap = doc->xd_blockcap == 0 ? 16 :
		    doc->xd_blockcap * 2;
		doc->xd_blocks = xreallocarray(doc->xd_blocks,
		    doc->xd_blockcap, sizeof(*doc->xd_blocks));
	}
	if (doc->xd_text.b_len > 0)
		buf_addc(&doc->xd_text, '\n');
	b = &doc->xd_blocks[doc->xd_nblocks++];
	b->xb_kind = kind;
	b->xb_level = kind == BLK_HEADING ? (level < 1 ? 1 : level > 6 ? 6 :
	    level) : 0;
	b->xb_off = doc->xd_text.b_len;
	b->xb_len = len;
	buf_add(&doc->xd_text, text, len);
}

void
xdoc_attr(struct xdoc *doc, const char *name, const char *value)
{
	struct xattr	*a;

	if (doc->xd_nattrs == doc->xd_attrcap) {
		doc->xd_attrcap = doc->xd_attrcap == 0 ? 4 :
		    doc->xd_attrcap * 2;
		doc->xd_attrs = xreallocarray(doc->xd_attrs, doc->xd_attrcap,
		    sizeof(*doc->xd_attrs));
	}
	a = &doc->xd_attrs[doc->xd_nattrs++];
	a->xa_name = xstrdup(name);
	a->xa_value = xstrdup(value);
}

int
xdoc_space(int c)
{
	return (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\f' || c == '\v');
}

/*
 * Paragraphs of s: the runs of lines between blank lines, without the
 * white space around them.
 */
void
xdoc_paras(struct xdoc *doc, const char *s, size_t len)
{
	const char	*p = s, *end = s + len, *start = NULL, *last = NULL;
	const char	*nl, *q;

	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		for (q = p; q < nl && xdoc_space((unsigned char)*q); q++)
			;
		if (q < nl) {
			if (start == NULL)
				start = q;
			last = nl;
		} else if (start != NULL) {
			while (last > start &&
			    xdoc_space((unsigned char)last[-1]))
				last--;
			xdoc_block(doc, BLK_PARA, 0, start, last - start);
			start = NULL;
		}
		p = nl + 1;
	}
	if (start != NULL) {
		while (last > start && xdoc_space((unsigned char)last[-1]))
			last--;
		xdoc_block(doc, BLK_PARA, 0, start, last - start);
	}
}
