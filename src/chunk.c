/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Chunking: cutting an extracted document into the pieces that search
 * returns and that retrieval consumers feed to their models.
 *
 * Policy:
 *
 *   A heading always starts a new chunk, and every chunk knows the path
 *   of headings above it ("Install > From source").  Within a section,
 *   blocks (paragraphs, code) are gathered until the next one would pass
 *   cc_size bytes; a block longer than that is cut inside, at the last
 *   sentence end in the second half of the window, else the last
 *   whitespace, else a code point boundary.  The next chunk starts
 *   cc_overlap bytes before the cut (moved forward to a word start), so
 *   a sentence that straddles a cut is whole in one of them.  A tail
 *   shorter than cc_min joins the chunk before it in the same section.
 *
 * Chunks are byte ranges of the document's text, which stays valid
 * UTF-8: cuts never fall inside a code point.  Chunk text is stored
 * compressed with zstd at level 1: chunks are small, and level 3 cost a
 * fifth of a worker's time on short records for a few percent of size.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "quire.h"

#define CHUNK_HEADINGS		6
#define CHUNK_PATH_MAX		512
#define CHUNK_ZSTD_LEVEL	1

struct chunk_state {
	const struct chunk_conf	*cs_conf;
	const char		*cs_text;
	struct chunk		*cs_chunks;
	char			**cs_paths;
	size_t			 cs_n;
	size_t			 cs_cap;
	size_t			 cs_section;	/* first chunk of the section */
	char			 cs_path[CHUNK_PATH_MAX];
};

void
chunk_conf_defaults(struct chunk_conf *cc)
{
	cc->cc_size = 1500;
	cc->cc_overlap = 150;
	cc->cc_min = 200;
}

static int
chunk_space(int c)
{
	return (c == ' ' || c == '\n' || c == '\t' || c == '\r');
}

/* Back up to the start of a UTF-8 code point. */
static size_t
chunk_cp_start(const char *t, size_t pos, size_t lo)
{
	while (pos > lo && ((unsigned char)t[pos] & 0xc0) == 0x80)
		pos--;
	return (pos);
}

/* Where to cut [start, limit): a sentence end, a space, or a code point. */
static size_t
chunk_cut(const char *t, size_t start, size_t limit)
{
	size_t	 half = start + (limit - start) / 2, p;

	for (p = limit; p > half; p--)
		if ((t[p - 1] == '.' || t[p - 1] == '?' || t[p - 1] == '!' ||
		    t[p - 1] == '\n') && chunk_space(t[p]))
			return (p);
	for (p = limit; p > half; p--)
		if (chunk_space(t[p - 1]))
			return (p);
	return (chunk_cp_start(t, limit, start + 1));
}

/* Where the chunk after a cut begins: overlap bytes back, at a word. */
static size_t
chunk_overlap(const char *t, size_t prev, size_t cut, size_t overlap)
{
	size_t	 p;

	if (overlap == 0 || cut - prev <= overlap)
		return (cut);
	p = cut - overlap;
	while (p < cut && !chunk_space(t[p]))
		p++;
	while (p < cut && chunk_space(t[p]))
		p++;
	return (p);
}

static void
chunk_emit(struct chunk_state *cs, size_t start, size_t end)
{
	const struct chunk_conf	*cc = cs->cs_conf;
	struct chunk		*c;
	size_t			 p;

	/* Nothing but white space is no chunk. */
	for (p = start; p < end && chunk_space(cs->cs_text[p]); p++)
		;
	if (p == end)
		return;
	if (end - start < cc->cc_min && cs->cs_n > cs->cs_section) {
		c = &cs->cs_chunks[cs->cs_n - 1];
		if (end > c->c_off + c->c_len)
			c->c_len = end - c->c_off;
		return;
	}
	if (cs->cs_n == cs->cs_cap) {
		cs->cs_cap = cs->cs_cap == 0 ? 16 : cs->cs_cap * 2;
		cs->cs_chunks = xreallocarray(cs->cs_chunks, cs->cs_cap,
		    sizeof(*cs->cs_chunks));
		cs->cs_paths = xreallocarray(cs->cs_paths, cs->cs_cap,
		    sizeof(*cs->cs_paths));
	}
	c = &cs->cs_chunks[cs->cs_n];
	c->c_index = cs->cs_n;
	c->c_off = start;
	c->c_len = end - start;
	cs->cs_paths[cs->cs_n] = xstrdup(cs->cs_path);
	cs->cs_n++;
}

static void
chunk_path(struct chunk_state *cs, char heads[][CHUNK_PATH_MAX / 2],
    int level, const char *text, size_t len)
{
	size_t	 n;
	int	 i;

	if (level < 1)
		level = 1;
	if (level > CHUNK_HEADINGS)
		level = CHUNK_HEADINGS;
	n = len < CHUNK_PATH_MAX / 2 - 1 ? len : CHUNK_PATH_MAX / 2 - 1;
	if (n < len)
		n = chunk_cp_start(text, n, 0);
	memcpy(heads[level - 1], text, n);
	heads[level - 1][n] = '\0';
	for (i = level; i < CHUNK_HEADINGS; i++)
		heads[i][0] = '\0';
	cs->cs_path[0] = '\0';
	for (i = 0; i < CHUNK_HEADINGS; i++) {
		if (heads[i][0] == '\0')
			continue;
		if (cs->cs_path[0] != '\0')
			strlcat(cs->cs_path, " > ", sizeof(cs->cs_path));
		strlcat(cs->cs_path, heads[i], sizeof(cs->cs_path));
	}
}

/*
 * Cut doc into chunks and call cb for each, in order.  A non-zero
 * return from cb stops and is returned.
 */
int
chunk_doc(const struct chunk_conf *cc, const struct xdoc *doc, chunk_cb cb,
    void *arg)
{
	struct chunk_state	 cs;
	char			 heads[CHUNK_HEADINGS][CHUNK_PATH_MAX / 2];
	const struct xblock	*b;
	size_t			 i, start, end, cut, size;
	int			 open = 0, rv = 0;

	memset(&cs, 0, sizeof(cs));
	memset(heads, 0, sizeof(heads));
	cs.cs_conf = cc;
	cs.cs_text = doc->xd_text.b_data;
	size = cc->cc_size > 16 ? cc->cc_size : 16;
	start = end = 0;
	for (i = 0; i < doc->xd_nblocks; i++) {
		b = &doc->xd_blocks[i];
		if (b->xb_kind == BLK_HEADING) {
			if (open)
				chunk_emit(&cs, start, end);
			cs.cs_section = cs.cs_n;
			chunk_path(&cs, heads, b->xb_level,
			    cs.cs_text + b->xb_off, b->xb_len);
			start = b->xb_off;
			end = b->xb_off + b->xb_len;
			open = 1;
			continue;
		}
		if (!open) {
			start = b->xb_off;
			open = 1;
		}
		end = b->xb_off + b->xb_len;
		while (end - start > size) {
			cut = chunk_cut(cs.cs_text, start, start + size);
			chunk_emit(&cs, start, cut);
			start = chunk_overlap(cs.cs_text, start, cut,
			    cc->cc_overlap < size / 2 ? cc->cc_overlap :
			    size / 2);
		}
	}
	if (open)
		chunk_emit(&cs, start, end);

	for (i = 0; i < cs.cs_n; i++) {
		cs.cs_chunks[i].c_heading = cs.cs_paths[i];
		if (rv == 0)
			rv = cb(&cs.cs_chunks[i], arg);
		free(cs.cs_paths[i]);
	}
	free(cs.cs_chunks);
	free(cs.cs_paths);
	return (rv);
}

/*
 * Append the zstd frame of text to out.  One compression context serves
 * the process: making one per chunk costs more than compressing it.
 */
int
chunk_compress(const char *text, size_t len, struct buf *out)
{
	static ZSTD_CCtx	*cctx;
	size_t			 bound = ZSTD_compressBound(len), n;

	if (cctx == NULL && (cctx = ZSTD_createCCtx()) == NULL)
		fatalx("%s: ZSTD_createCCtx", __func__);
	buf_reserve(out, bound);
	n = ZSTD_compressCCtx(cctx, out->b_data + out->b_len, bound, text, len,
	    CHUNK_ZSTD_LEVEL);
	if (ZSTD_isError(n)) {
		log_warnx("%s: %s", __func__, ZSTD_getErrorName(n));
		return (-1);
	}
	out->b_len += n;
	return (0);
}

/* Append the text of a zstd frame to out; at most max bytes of it. */
int
chunk_decompress(const char *data, size_t len, size_t max, struct buf *out)
{
	unsigned long long	 size;
	size_t			 n;

	size = ZSTD_getFrameContentSize(data, len);
	if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
	    size > max)
		return (-1);
	buf_reserve(out, size);
	n = ZSTD_decompress(out->b_data + out->b_len, size, data, len);
	if (ZSTD_isError(n) || n != size)
		return (-1);
	out->b_len += n;
	return (0);
}
