/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * PDF extraction with poppler-glib.  The document is loaded from memory
 * (a GBytes over the caller's buffer, no copy) and its pages are read in
 * order with poppler_page_get_text(); each page's text is split into
 * paragraphs at blank lines.  The title is the document's Title entry
 * when it has one.
 *
 * Bad input:
 *
 *	encrypted	a password is needed to read it
 *	parse-error	poppler cannot load it (damaged, truncated, not
 *			a PDF); the message is GLib's
 *	too-many-pages	more pages than max-pages
 *	too-large	more text than max-text-size, or than max-ratio
 *			times the size of the file: a small PDF of
 *			compressed streams can hold a great deal of text
 *
 * Text is counted page by page, so a single page can still decompress
 * more than the limits before we see it; the worker's RLIMIT_DATA is the
 * bound there.  poppler reports syntax errors on stderr itself.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <poppler.h>

#include "quire.h"

static int	 pdf_page(const struct extract_conf *, PopplerDocument *, int,
		    struct xdoc *, uint64_t, struct xerr *);
static int	 pdf_too_large(const struct extract_conf *, uint64_t, int,
		    uint64_t, struct xerr *);
static void	 pdf_title(PopplerDocument *, struct xdoc *);

static int
pdf_too_large(const struct extract_conf *xc, uint64_t n, int page,
    uint64_t limit, struct xerr *err)
{
	xerr_set(err, "too-large", "%llu bytes of text by page %d, more than "
	    "%s allows (%llu)", (unsigned long long)n, page,
	    limit == xc->xc_max_text ? "max-text-size" : "max-ratio",
	    (unsigned long long)limit);
	return (-1);
}

/* The text of page i into doc, which must stay within limit bytes. */
static int
pdf_page(const struct extract_conf *xc, PopplerDocument *pd, int i,
    struct xdoc *doc, uint64_t limit, struct xerr *err)
{
	PopplerPage	*page;
	struct buf	 fixed;
	char		*text;
	const char	*s;
	size_t		 len, bad;
	int		 rv = 0;

	if ((page = poppler_document_get_page(pd, i)) == NULL) {
		xerr_set(err, "parse-error", "page %d cannot be read", i + 1);
		return (-1);
	}
	text = poppler_page_get_text(page);
	g_object_unref(page);
	if (text == NULL)
		return (0);
	len = strlen(text);
	if (len > limit) {
		rv = pdf_too_large(xc, doc->xd_text.b_len + len, i + 1, limit,
		    err);
		g_free(text);
		return (rv);
	}

	/* poppler gives UTF-8; a broken font map could still give junk. */
	s = text;
	buf_init(&fixed);
	if (!utf8_valid(text, len, &bad)) {
		if (xc->xc_utf8 == UTF8_REJECT) {
			xerr_set(err, "bad-utf8", "invalid UTF-8 at byte %zu "
			    "of page %d", bad, i + 1);
			rv = -1;
			goto done;
		}
		utf8_repair(text, len, &fixed);
		s = fixed.b_data;
		len = fixed.b_len;
	}
	xdoc_paras(doc, s, len);
	if (doc->xd_text.b_len > limit)
		rv = pdf_too_large(xc, doc->xd_text.b_len, i + 1, limit, err);
done:
	buf_free(&fixed);
	g_free(text);
	return (rv);
}

/* The Title entry, when it has more than white space. */
static void
pdf_title(PopplerDocument *pd, struct xdoc *doc)
{
	struct buf	 b;
	char		*title;

	if ((title = poppler_document_get_title(pd)) == NULL)
		return;
	g_strstrip(title);
	if (title[0] != '\0') {
		buf_init(&b);
		if (utf8_valid(title, strlen(title), NULL))
			buf_addstr(&b, title);
		else
			utf8_repair(title, strlen(title), &b);
		free(doc->xd_title);
		doc->xd_title = xstrdup(buf_cstr(&b));
		buf_free(&b);
	}
	g_free(title);
}

int
extract_pdf(const struct extract_conf *xc, const char *data, size_t len,
    struct xdoc *doc, struct xerr *err)
{
	PopplerDocument	*pd;
	GBytes		*bytes;
	GError		*gerr = NULL;
	uint64_t	 limit;
	int		 i, npages, rv = 0;

	doc->xd_type = DOC_PDF;
	bytes = g_bytes_new_static(data, len);
	pd = poppler_document_new_from_bytes(bytes, NULL, &gerr);
	if (pd == NULL) {
		if (g_error_matches(gerr, POPPLER_ERROR,
		    POPPLER_ERROR_ENCRYPTED))
			xerr_set(err, "encrypted", "the document needs a "
			    "password");
		else
			xerr_set(err, "parse-error", "%s", gerr != NULL ?
			    gerr->message : "poppler cannot load it");
		g_clear_error(&gerr);
		g_bytes_unref(bytes);
		return (-1);
	}

	npages = poppler_document_get_n_pages(pd);
	if (npages < 0 || (uint64_t)npages > xc->xc_max_pages) {
		xerr_set(err, "too-many-pages", "%d pages, more than "
		    "max-pages %llu", npages,
		    (unsigned long long)xc->xc_max_pages);
		rv = -1;
		goto done;
	}
	/* The lower of the two; no overflow, as ratio * len <= max_text. */
	limit = xc->xc_max_text;
	if (len > 0 && xc->xc_max_ratio <= limit / len)
		limit = xc->xc_max_ratio * len;
	pdf_title(pd, doc);
	/* A tick per page: a long PDF is progress, not a hang. */
	for (i = 0; i < npages; i++)
		if ((rv = xdoc_tick(xc, err)) == -1 ||
		    (rv = pdf_page(xc, pd, i, doc, limit, err)) == -1)
			break;
done:
	g_object_unref(pd);
	g_bytes_unref(bytes);
	return (rv);
}
