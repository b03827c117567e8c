/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Markdown, parsed by cmark (the CommonMark reference implementation).
 *
 * The tree is walked with cmark_iter, which keeps no stack of its own, so
 * a document of a hundred thousand nested block quotes costs memory in
 * proportion and no recursion; cmark's parser and cmark_node_free do
 * not recurse either.  The walk counts how deep it is and fails the
 * document with "too-deep" past xc_max_depth, since the stages after us
 * have no use for such nesting and a deliberate input can make it.
 *
 * What becomes text:
 *
 *	headings			BLK_HEADING with their level
 *	paragraphs, wherever they are	BLK_PARA (list items and block
 *	    (list items, block quotes)	    quotes hold paragraphs)
 *	fenced and indented code	BLK_CODE, kept as written
 *	inline code, link and image	text, in the paragraph
 *	    text, entities (decoded)
 *	HTML blocks and inline HTML	dropped
 *
 * Soft line breaks become spaces, hard ones newlines.  Lines longer than
 * xc_max_line fail the document, as in plain text.
 */

#include <sys/types.h>

#include <string.h>

#include <cmark.h>

#include "quire.h"

struct md_state {
	struct xdoc	*ms_doc;
	struct buf	 ms_buf;	/* the paragraph or heading */
	int		 ms_in;		/* inside one */
};

static int	 md_leaf(cmark_node_type);
static void	 md_add(struct md_state *, const char *);
static void	 md_flush(struct md_state *, int, int);

/* Nodes the iterator enters without leaving. */
static int
md_leaf(cmark_node_type t)
{
	return (t == CMARK_NODE_HTML_BLOCK || t == CMARK_NODE_THEMATIC_BREAK ||
	    t == CMARK_NODE_CODE_BLOCK || t == CMARK_NODE_TEXT ||
	    t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK ||
	    t == CMARK_NODE_CODE || t == CMARK_NODE_HTML_INLINE);
}

static void
md_add(struct md_state *ms, const char *s)
{
	if (ms->ms_in && s != NULL)
		buf_addstr(&ms->ms_buf, s);
}

/* The gathered text, less white space at its ends, as one block. */
static void
md_flush(struct md_state *ms, int kind, int level)
{
	const char	*p = ms->ms_buf.b_data;
	size_t		 len = ms->ms_buf.b_len;

	while (len > 0 && (*p == ' ' || *p == '\n' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\n' ||
	    p[len - 1] == '\t'))
		len--;
	xdoc_block(ms->ms_doc, kind, level, p, len);
	buf_reset(&ms->ms_buf);
	ms->ms_in = 0;
}

int
extract_md(const struct extract_conf *xc, const char *data, size_t len,
    struct xdoc *doc, struct xerr *err)
{
	struct md_state		 ms;
	cmark_node		*root, *node;
	cmark_iter		*it;
	cmark_event_type	 ev;
	cmark_node_type		 t;
	const char		*s, *nl;
	size_t			 i, n, lineno = 0;
	uint64_t		 depth = 0;
	int			 rv = 0;

	for (i = 0; i < len; i += n + 1) {
		lineno++;
		nl = memchr(data + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - (data + i)) : len - i;
		if (n > xc->xc_max_line) {
			xerr_set(err, "line-too-long", "line %zu (byte %zu) is "
			    "longer than max-line %llu", lineno, i,
			    (unsigned long long)xc->xc_max_line);
			return (-1);
		}
	}

	if ((root = cmark_parse_document(data, len, CMARK_OPT_DEFAULT)) ==
	    NULL) {
		xerr_set(err, "parse-error", "cmark could not parse it");
		return (-1);
	}
	memset(&ms, 0, sizeof(ms));
	ms.ms_doc = doc;
	buf_init(&ms.ms_buf);
	it = cmark_iter_new(root);
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		node = cmark_iter_get_node(it);
		t = cmark_node_get_type(node);
		if (!md_leaf(t)) {
			if (ev == CMARK_EVENT_EXIT)
				depth--;
			else if (++depth > xc->xc_max_depth) {
				xerr_set(err, "too-deep", "markdown nested "
				    "deeper than max-depth %llu",
				    (unsigned long long)xc->xc_max_depth);
				rv = -1;
				break;
			}
		}
		switch (t) {
		case CMARK_NODE_PARAGRAPH:
		case CMARK_NODE_HEADING:
			if (ev == CMARK_EVENT_ENTER) {
				buf_reset(&ms.ms_buf);
				ms.ms_in = 1;
			} else if (t == CMARK_NODE_HEADING)
				md_flush(&ms, BLK_HEADING,
				    cmark_node_get_heading_level(node));
			else
				md_flush(&ms, BLK_PARA, 0);
			break;
		case CMARK_NODE_TEXT:
		case CMARK_NODE_CODE:
			md_add(&ms, cmark_node_get_literal(node));
			break;
		case CMARK_NODE_SOFTBREAK:
			md_add(&ms, " ");
			break;
		case CMARK_NODE_LINEBREAK:
			md_add(&ms, "\n");
			break;
		case CMARK_NODE_CODE_BLOCK:
			if ((s = cmark_node_get_literal(node)) == NULL)
				break;
			n = strlen(s);
			while (n > 0 && s[n - 1] == '\n')
				n--;
			xdoc_block(doc, BLK_CODE, 0, s, n);
			break;
		default:
			/* HTML, breaks, and containers of the above. */
			break;
		}
	}
	cmark_iter_free(it);
	cmark_node_free(root);
	buf_free(&ms.ms_buf);
	return (rv);
}
