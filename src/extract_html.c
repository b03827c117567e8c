/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * HTML, parsed by libxml2's HTML parser: it recovers from the tag soup of
 * the real web, decodes entities (&amp; &eacute; &#x263A;), converts the
 * charset a document declares to UTF-8, never touches the network
 * (HTML_PARSE_NONET) and expands no external entities.  It is in every
 * Debian installation, maintained, and fuzzed continuously.
 *
 * What becomes text:
 *
 *	<title>				the title (not text)
 *	<meta name=description>		the attribute "description"
 *	h1 to h6			BLK_HEADING, less a trailing
 *					    permalink sign (U+00B6)
 *	pre				BLK_CODE, white space kept
 *	text of everything else		BLK_PARA, runs of white space
 *					collapsed to one space; a block
 *					element (p, div, li, td...)
 *					starts and ends a paragraph, an
 *					inline one (a, b, span...) does not
 *	script, style, noscript,	dropped with all they hold
 *	    template, svg, math,
 *	    iframe, canvas, the rest
 *	    of head, comments
 *	nav, role=navigation or	dropped too: menus and sidebars
 *	    role=search			    repeat on every page of a site
 *					    and drown its real words
 *
 * The tree is walked without recursion (children, next and parent
 * pointers), and the walk fails the document with "too-deep" past
 * xc_max_depth.  libxml2 has its own bound: without XML_PARSE_HUGE it
 * stops parsing at 256 levels ("Excessive depth in document"), which
 * would silently drop the rest of the document, so that error also
 * fails it as "too-deep".  The effective bound is the lower of the two.
 * A text node over 10 MB (XML_MAX_TEXT_LENGTH) stops the parser the
 * same way and fails as "too-large".
 *
 * libxml2 reads the input through a callback, a few KB at a time, rather
 * than from memory in one call: each read ticks (xdoc_tick), so a
 * parse of many seconds keeps its worker's heartbeats going and can be
 * stopped; the walk ticks every 4096 nodes.
 */

#include <sys/types.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "quire.h"

#define HTML_OPTIONS	(HTML_PARSE_RECOVER | HTML_PARSE_NONET | \
			    HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | \
			    HTML_PARSE_COMPACT)

enum html_class {
	HC_INLINE = 0,		/* text flows through it */
	HC_BLOCK,		/* ends the paragraph before and in it */
	HC_HEADING,
	HC_PRE,
	HC_BREAK,		/* br: a space */
	HC_SKIP,		/* dropped with its subtree */
	HC_HEAD,
	HC_TITLE,
	HC_META
};

/* Sorted by name, for bsearch. */
static const struct html_elem {
	const char	*he_name;
	int		 he_class;
} html_elems[] = {
	{ "address", HC_BLOCK }, { "article", HC_BLOCK },
	{ "aside", HC_BLOCK }, { "blockquote", HC_BLOCK },
	{ "body", HC_BLOCK }, { "br", HC_BREAK }, { "canvas", HC_SKIP },
	{ "caption", HC_BLOCK }, { "center", HC_BLOCK }, { "dd", HC_BLOCK },
	{ "details", HC_BLOCK }, { "dialog", HC_BLOCK }, { "div", HC_BLOCK },
	{ "dl", HC_BLOCK }, { "dt", HC_BLOCK }, { "fieldset", HC_BLOCK },
	{ "figcaption", HC_BLOCK }, { "figure", HC_BLOCK },
	{ "footer", HC_BLOCK }, { "form", HC_BLOCK }, { "h1", HC_HEADING },
	{ "h2", HC_HEADING }, { "h3", HC_HEADING }, { "h4", HC_HEADING },
	{ "h5", HC_HEADING }, { "h6", HC_HEADING }, { "head", HC_HEAD },
	{ "header", HC_BLOCK }, { "hgroup", HC_BLOCK }, { "hr", HC_BLOCK },
	{ "html", HC_BLOCK }, { "iframe", HC_SKIP }, { "legend", HC_BLOCK },
	{ "li", HC_BLOCK }, { "main", HC_BLOCK }, { "math", HC_SKIP },
	{ "menu", HC_BLOCK }, { "meta", HC_META }, { "nav", HC_SKIP },
	{ "noscript", HC_SKIP }, { "ol", HC_BLOCK }, { "option", HC_BLOCK },
	{ "p", HC_BLOCK }, { "pre", HC_PRE }, { "script", HC_SKIP },
	{ "section", HC_BLOCK }, { "style", HC_SKIP }, { "summary", HC_BLOCK },
	{ "svg", HC_SKIP }, { "table", HC_BLOCK }, { "tbody", HC_BLOCK },
	{ "td", HC_BLOCK }, { "template", HC_SKIP }, { "textarea", HC_BLOCK },
	{ "tfoot", HC_BLOCK }, { "th", HC_BLOCK }, { "thead", HC_BLOCK },
	{ "title", HC_TITLE }, { "tr", HC_BLOCK }, { "ul", HC_BLOCK }
};

struct html_state {
	const struct extract_conf *hs_conf;
	struct xdoc	*hs_doc;
	struct buf	 hs_buf;	/* the block being gathered */
	int		 hs_space;	/* white space before the next word */
	int		 hs_heading;	/* level of the open heading, or 0 */
	int		 hs_pre;	/* open pre elements */
	int		 hs_head;	/* inside head: no text */
};

/*
 * The input, handed to libxml2 a slice at a time through its read
 * callback, so that a long parse ticks (xdoc_tick) as it goes.
 */
struct html_input {
	const struct extract_conf *hi_conf;
	const char	*hi_data;
	size_t		 hi_len;
	size_t		 hi_off;
	struct xerr	*hi_err;
	int		 hi_stopped;
};

static int	 html_inited;

static void	 html_silent(void *, const char *, ...);
static int	 html_read(void *, char *, int);
static int	 html_close(void *);
static int	 html_cmp(const void *, const void *);
static int	 html_class(const xmlNode *);
static int	 html_chrome(xmlNode *);
static void	 html_text(struct html_state *, struct buf *, const char *);
static char	*html_collapse(const char *);
static int	 html_flush(struct html_state *, struct xerr *);
static void	 html_meta(struct html_state *, xmlNode *);
static int	 html_enter(struct html_state *, xmlNode *, struct xerr *);
static int	 html_leave(struct html_state *, xmlNode *, struct xerr *);

/* libxml2 reports some errors on stderr whatever the options say. */
static void
html_silent(void *ctx, const char *fmt, ...)
{
}

/* libxml2 asks for more input: a tick, then the next slice. */
static int
html_read(void *arg, char *out, int len)
{
	struct html_input	*hi = arg;
	size_t			 n = hi->hi_len - hi->hi_off;

	if (hi->hi_stopped ||
	    xdoc_tick(hi->hi_conf, hi->hi_err) == -1) {
		hi->hi_stopped = 1;
		return (-1);
	}
	if (len < 0)
		return (-1);
	if (n > (size_t)len)
		n = len;
	memcpy(out, hi->hi_data + hi->hi_off, n);
	hi->hi_off += n;
	return ((int)n);
}

static int
html_close(void *arg)
{
	return (0);
}

static int
html_cmp(const void *key, const void *elem)
{
	return (strcmp(key, ((const struct html_elem *)elem)->he_name));
}

static int
html_class(const xmlNode *n)
{
	const struct html_elem	*e;

	if (n->name == NULL)
		return (HC_INLINE);
	e = bsearch(n->name, html_elems, sizeof(html_elems) /
	    sizeof(html_elems[0]), sizeof(html_elems[0]), html_cmp);
	return (e == NULL ? HC_INLINE : e->he_class);
}

/* Is this element navigation, by its ARIA role? */
static int
html_chrome(xmlNode *n)
{
	xmlAttr		*a;
	const char	*v;

	if (n->properties == NULL ||
	    (a = xmlHasProp(n, (const xmlChar *)"role")) == NULL ||
	    a->children == NULL || a->children->content == NULL)
		return (0);
	v = (const char *)a->children->content;
	return (strcasecmp(v, "navigation") == 0 ||
	    strcasecmp(v, "search") == 0);
}

/*
 * Add text to b, collapsing white space (no-break spaces too) unless
 * inside pre.  A space is added only before a word that follows one.
 */
static void
html_text(struct html_state *hs, struct buf *b, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;

	if (hs->hs_pre > 0 && b == &hs->hs_buf) {
		buf_addstr(b, s);
		return;
	}
	while (*p != '\0') {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
		    *p == '\f') {
			hs->hs_space = 1;
			p++;
			continue;
		}
		if (p[0] == 0xc2 && p[1] == 0xa0) {
			hs->hs_space = 1;
			p += 2;
			continue;
		}
		if (hs->hs_space && b->b_len > 0)
			buf_addc(b, ' ');
		hs->hs_space = 0;
		buf_addc(b, *p++);
	}
}

/* A copy of s with white space collapsed, or NULL if it is empty. */
static char *
html_collapse(const char *s)
{
	struct html_state	 hs;
	struct buf		 b;
	char			*r;

	memset(&hs, 0, sizeof(hs));
	buf_init(&b);
	html_text(&hs, &b, s);
	r = b.b_len > 0 ? xstrdup(buf_cstr(&b)) : NULL;
	buf_free(&b);
	return (r);
}

/* End the block being gathered. */
static int
html_flush(struct html_state *hs, struct xerr *err)
{
	const char	*p = hs->hs_buf.b_data;
	size_t		 len = hs->hs_buf.b_len;
	int		 kind;

	if (hs->hs_pre > 0) {
		kind = BLK_CODE;
		while (len > 0 && (*p == '\n' || *p == '\r')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == ' ' ||
		    p[len - 1] == '\r'))
			len--;
	} else if (hs->hs_heading > 0) {
		kind = BLK_HEADING;
		/* A permalink anchor, as Sphinx and MkDocs add. */
		while (len >= 2 && (unsigned char)p[len - 2] == 0xc2 &&
		    (unsigned char)p[len - 1] == 0xb6) {
			len -= 2;
			while (len > 0 && p[len - 1] == ' ')
				len--;
		}
	} else
		kind = BLK_PARA;
	xdoc_block(hs->hs_doc, kind, hs->hs_heading, p, len);
	buf_reset(&hs->hs_buf);
	hs->hs_space = 0;
	if (hs->hs_doc->xd_text.b_len > hs->hs_conf->xc_max_text) {
		xerr_set(err, "too-large", "more than max-text-size %llu bytes "
		    "of text", (unsigned long long)hs->hs_conf->xc_max_text);
		return (-1);
	}
	return (0);
}

static void
html_meta(struct html_state *hs, xmlNode *n)
{
	xmlChar	*name, *content;
	char	*v;

	if ((name = xmlGetProp(n, (const xmlChar *)"name")) == NULL)
		return;
	if (strcasecmp((const char *)name, "description") == 0 &&
	    (content = xmlGetProp(n, (const xmlChar *)"content")) != NULL) {
		if ((v = html_collapse((const char *)content)) != NULL) {
			xdoc_attr(hs->hs_doc, "description", v);
			free(v);
		}
		xmlFree(content);
	}
	xmlFree(name);
}

/* Entering an element: 1 to walk its children, 0 to pass them by. */
static int
html_enter(struct html_state *hs, xmlNode *n, struct xerr *err)
{
	xmlChar	*s;

	if (html_chrome(n))
		return (0);
	switch (html_class(n)) {
	case HC_SKIP:
		return (0);
	case HC_TITLE:
		if (hs->hs_doc->xd_title == NULL &&
		    (s = xmlNodeGetContent(n)) != NULL) {
			hs->hs_doc->xd_title = html_collapse((const char *)s);
			xmlFree(s);
		}
		return (0);
	case HC_META:
		html_meta(hs, n);
		return (0);
	case HC_BREAK:
		if (hs->hs_pre > 0)
			buf_addc(&hs->hs_buf, '\n');
		hs->hs_space = 1;
		return (0);
	case HC_HEAD:
		hs->hs_head++;
		return (1);
	case HC_HEADING:
		if (html_flush(hs, err) == -1)
			return (-1);
		hs->hs_heading = n->name[1] - '0';
		return (1);
	case HC_PRE:
		if (html_flush(hs, err) == -1)
			return (-1);
		hs->hs_pre++;
		return (1);
	case HC_BLOCK:
		if (html_flush(hs, err) == -1)
			return (-1);
		return (1);
	default:
		return (1);
	}
}

/* Leaving an element whose children were walked. */
static int
html_leave(struct html_state *hs, xmlNode *n, struct xerr *err)
{
	int	 rv = 0;

	switch (html_class(n)) {
	case HC_HEAD:
		hs->hs_head--;
		break;
	case HC_HEADING:
		rv = html_flush(hs, err);
		hs->hs_heading = 0;
		break;
	case HC_PRE:
		rv = html_flush(hs, err);
		hs->hs_pre--;
		break;
	case HC_BLOCK:
		rv = html_flush(hs, err);
		break;
	default:
		break;
	}
	return (rv);
}

int
extract_html(const struct extract_conf *xc, const char *data, size_t len,
    struct xdoc *doc, struct xerr *err)
{
	struct html_state	 hs;
	struct html_input	 hi;
	htmlParserCtxtPtr	 ctxt;
	htmlDocPtr		 hd;
	xmlNode			*n;
	uint64_t		 depth = 1, nodes = 0;
	int			 walk, rv = -1;

	if (!html_inited) {
		xmlInitParser();
		xmlSetGenericErrorFunc(NULL, html_silent);
		html_inited = 1;
	}
	if (len > INT_MAX) {
		xerr_set(err, "too-large", "%zu bytes, more than libxml2 takes",
		    len);
		return (-1);
	}
	if ((ctxt = htmlNewParserCtxt()) == NULL) {
		xerr_set(err, "parse-error", "htmlNewParserCtxt failed");
		return (-1);
	}
	memset(&hi, 0, sizeof(hi));
	hi.hi_conf = xc;
	hi.hi_data = data;
	hi.hi_len = len;
	hi.hi_err = err;
	hd = htmlCtxtReadIO(ctxt, html_read, html_close, &hi, NULL, NULL,
	    HTML_OPTIONS);
	if (hi.hi_stopped)
		goto done;	/* err says so */
	if (ctxt->errNo == XML_ERR_INTERNAL_ERROR &&
	    ctxt->lastError.message != NULL &&
	    strstr(ctxt->lastError.message, "depth") != NULL) {
		xerr_set(err, "too-deep", "HTML nested deeper than libxml2 "
		    "parses");
		goto done;
	}
	if (ctxt->errNo == XML_ERR_NO_MEMORY) {
		xerr_set(err, "too-large", "a text node larger than "
		    "libxml2 takes");
		goto done;
	}
	if (ctxt->errNo == XML_ERR_INTERNAL_ERROR) {
		xerr_set(err, "parse-error", "libxml2: %s",
		    ctxt->lastError.message != NULL ?
		    ctxt->lastError.message : "internal error");
		goto done;
	}
	if (hd == NULL) {
		/* An empty document, or nothing libxml2 could use. */
		rv = 0;
		goto done;
	}

	memset(&hs, 0, sizeof(hs));
	hs.hs_conf = xc;
	hs.hs_doc = doc;
	buf_init(&hs.hs_buf);
	n = hd->children;
	while (n != NULL) {
		if (++nodes % 4096 == 0 && xdoc_tick(xc, err) == -1)
			goto fail;
		walk = 0;
		if (n->type == XML_ELEMENT_NODE) {
			if ((walk = html_enter(&hs, n, err)) == -1)
				goto fail;
		} else if ((n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) && hs.hs_head == 0 &&
		    n->content != NULL)
			html_text(&hs, &hs.hs_buf, (const char *)n->content);
		if (walk && n->children != NULL) {
			if (++depth > xc->xc_max_depth) {
				xerr_set(err, "too-deep", "HTML nested deeper "
				    "than max-depth %llu",
				    (unsigned long long)xc->xc_max_depth);
				goto fail;
			}
			n = n->children;
			continue;
		}
		if (walk && html_leave(&hs, n, err) == -1)
			goto fail;
		while (n->next == NULL) {
			n = n->parent;
			if (n == NULL || n == (xmlNode *)hd)
				break;
			depth--;
			if (html_leave(&hs, n, err) == -1)
				goto fail;
		}
		if (n == NULL || n == (xmlNode *)hd)
			break;
		n = n->next;
	}
	if (html_flush(&hs, err) == -1)
		goto fail;
	rv = 0;
fail:
	buf_free(&hs.hs_buf);
done:
	if (hd != NULL)
		xmlFreeDoc(hd);
	htmlFreeParserCtxt(ctxt);
	return (rv);
}
