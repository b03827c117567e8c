/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Plain text: paragraphs are runs of lines between blank lines.  Each
 * line is kept as it is, less a trailing carriage return and trailing
 * white space, so the text of a paragraph is its lines joined by
 * newlines.  No line may be longer than xc_max_line ("line-too-long"),
 * which bounds what a file of one giant line costs the stages after us.
 *
 * Two kinds of heading are cheap to see and common in text files:
 *
 *	Title		reStructuredText and setext: a line
 *	=====		underlined, or also overlined, by one
 *			punctuation character repeated, at least three
 *	=head2 Title	POD commands; the other POD commands
 *			(=pod, =cut, =over, =back...) are dropped, and
 *			after the first of them an indented paragraph
 *			is verbatim: BLK_CODE
 *
 * A reST heading's level is the order in which its adornment style
 * (character, with or without overline) first appears in the file, as
 * reST defines it; a transition (an adornment line alone) is dropped.
 */

#include <sys/types.h>

#include <string.h>

#include "quire.h"

#define TEXT_STYLES	6	/* heading levels */
#define TEXT_ADORN	"=-`:'\"~^_*+#<>."

struct text_state {
	struct xdoc	*ts_doc;
	struct buf	 ts_buf;
	int		 ts_style[TEXT_STYLES];	/* char, | 0x100: overline */
	int		 ts_nstyles;
	int		 ts_pod;	/* a POD command was seen */
};

struct text_line {
	const char	*tl_p;
	size_t		 tl_len;	/* less trailing white space */
};

static size_t	 text_line(const char *, size_t, struct text_line *);
static int	 text_adornment(const struct text_line *);
static int	 text_level(struct text_state *, int);
static void	 text_emit(struct text_state *, int, int, const char *,
		    size_t);
static int	 text_pod(struct text_state *, const char *, size_t);
static void	 text_para(struct text_state *, const char *, size_t);

/* The line at p; returns the bytes up to the next one. */
static size_t
text_line(const char *p, size_t len, struct text_line *l)
{
	const char	*nl;
	size_t		 n;

	n = (nl = memchr(p, '\n', len)) != NULL ? (size_t)(nl - p) : len;
	l->tl_p = p;
	l->tl_len = n;
	while (l->tl_len > 0 && (p[l->tl_len - 1] == '\r' ||
	    p[l->tl_len - 1] == ' ' || p[l->tl_len - 1] == '\t' ||
	    p[l->tl_len - 1] == '\f'))
		l->tl_len--;
	return (nl != NULL ? n + 1 : n);
}

/* The character of a reST adornment line, or 0. */
static int
text_adornment(const struct text_line *l)
{
	size_t	 i;
	int	 c;

	if (l->tl_len < 3 || strchr(TEXT_ADORN, l->tl_p[0]) == NULL)
		return (0);
	c = (unsigned char)l->tl_p[0];
	for (i = 1; i < l->tl_len; i++)
		if (l->tl_p[i] != c)
			return (0);
	return (c);
}

static int
text_level(struct text_state *ts, int style)
{
	int	 i;

	for (i = 0; i < ts->ts_nstyles; i++)
		if (ts->ts_style[i] == style)
			return (i + 1);
	if (ts->ts_nstyles == TEXT_STYLES)
		return (TEXT_STYLES);
	ts->ts_style[ts->ts_nstyles++] = style;
	return (ts->ts_nstyles);
}

/* The lines in p as one block, joined by newlines (spaces in a heading). */
static void
text_emit(struct text_state *ts, int kind, int level, const char *p,
    size_t len)
{
	struct text_line	 l;
	size_t			 i = 0;

	buf_reset(&ts->ts_buf);
	while (i < len) {
		i += text_line(p + i, len - i, &l);
		if (ts->ts_buf.b_len > 0)
			buf_addc(&ts->ts_buf, kind == BLK_HEADING ? ' ' : '\n');
		buf_add(&ts->ts_buf, l.tl_p, l.tl_len);
	}
	xdoc_block(ts->ts_doc, kind, level, ts->ts_buf.b_data,
	    ts->ts_buf.b_len);
}

/*
 * A POD command paragraph, or once there has been one, a verbatim
 * (indented) paragraph: 1 if it was one of those, and was handled.
 */
static int
text_pod(struct text_state *ts, const char *p, size_t len)
{
	static const char	*drop[] = { "=pod", "=cut", "=for", "=end",
	    "=over", "=back", "=begin", "=encoding" };
	size_t			 i, w, b;

	if (ts->ts_pod && (p[0] == ' ' || p[0] == '\t')) {
		text_emit(ts, BLK_CODE, 0, p, len);	/* verbatim */
		return (1);
	}
	if (len < 2 || p[0] != '=' || p[1] < 'a' || p[1] > 'z')
		return (0);
	for (w = 1; w < len && p[w] != ' ' && p[w] != '\t' && p[w] != '\n' &&
	    p[w] != '\r'; w++)
		;
	for (b = w; b < len && (p[b] == ' ' || p[b] == '\t'); b++)
		;
	if (w == 6 && strncmp(p, "=head", 5) == 0 && p[5] >= '1' &&
	    p[5] <= '6') {
		text_emit(ts, BLK_HEADING, p[5] - '0', p + b, len - b);
		ts->ts_pod = 1;
		return (1);
	}
	if (w == 5 && strncmp(p, "=item", 5) == 0) {
		text_emit(ts, BLK_PARA, 0, p + b, len - b);
		ts->ts_pod = 1;
		return (1);
	}
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (strlen(drop[i]) == w && strncmp(p, drop[i], w) == 0) {
			ts->ts_pod = 1;
			return (1);
		}
	return (0);
}

/* One paragraph: the bytes of its lines, none of them blank. */
static void
text_para(struct text_state *ts, const char *p, size_t len)
{
	struct text_line	 l[3];
	size_t			 n, used[3], off = 0;
	int			 c;

	if (text_pod(ts, p, len))
		return;
	for (n = 0; n < 3 && off < len; n++) {
		used[n] = text_line(p + off, len - off, &l[n]);
		off += used[n];
	}
	/* Overline, title, underline. */
	if (n == 3 && (c = text_adornment(&l[0])) != 0 &&
	    text_adornment(&l[2]) == c && text_adornment(&l[1]) == 0) {
		text_emit(ts, BLK_HEADING, text_level(ts, c | 0x100),
		    l[1].tl_p, l[1].tl_len);
		off = used[0] + used[1] + used[2];
	} else if (n >= 2 && (c = text_adornment(&l[1])) != 0 &&
	    text_adornment(&l[0]) == 0 && l[0].tl_p[0] != ' ' &&
	    l[0].tl_p[0] != '\t') {
		text_emit(ts, BLK_HEADING, text_level(ts, c), l[0].tl_p,
		    l[0].tl_len);
		off = used[0] + used[1];
	} else if (n == 1 && text_adornment(&l[0]) != 0)
		return;		/* a transition */
	else
		off = 0;
	if (off < len)
		text_emit(ts, BLK_PARA, 0, p + off, len - off);
}

int
extract_text(const struct extract_conf *xc, const char *data, size_t len,
    struct xdoc *doc, struct xerr *err)
{
	struct text_state	 ts;
	struct text_line	 l;
	size_t			 i = 0, next, raw, para = 0, lineno = 0;
	int			 inpara = 0;

	memset(&ts, 0, sizeof(ts));
	ts.ts_doc = doc;
	buf_init(&ts.ts_buf);
	while (i < len) {
		lineno++;
		next = text_line(data + i, len - i, &l);
		raw = next - (data[i + next - 1] == '\n');
		if (raw > xc->xc_max_line) {
			xerr_set(err, "line-too-long", "line %zu (byte %zu) is "
			    "longer than max-line %llu", lineno, i,
			    (unsigned long long)xc->xc_max_line);
			buf_free(&ts.ts_buf);
			return (-1);
		}
		if (l.tl_len == 0) {
			if (inpara)
				text_para(&ts, data + para, i - para);
			inpara = 0;
		} else if (!inpara) {
			para = i;
			inpara = 1;
		}
		i += next;
	}
	if (inpara)
		text_para(&ts, data + para, len - para);
	buf_free(&ts.ts_buf);
	return (0);
}
