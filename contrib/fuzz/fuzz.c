/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Helpers for the fuzz targets: quiet logging, a NUL-terminated copy of
 * an input, and one extraction with the checks that hold for every
 * document the text path hands on (see extract.c): valid UTF-8
 * throughout, blocks inside the text, a title, and chunks and tokens
 * that stay inside it.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Extraction limits: the defaults, with fewer pages to keep runs fast. */
#define FUZZ_MAX_PAGES	64
#define FUZZ_MAX_TEXT	(16ULL << 20)

struct fuzz_doc {
	struct tokenizer	*fd_tk;
	const struct xdoc	*fd_doc;
	size_t			 fd_docs;
};

static int	 fuzz_token(const struct token *, void *);
static int	 fuzz_chunk(const struct chunk *, void *);
static int	 fuzz_doc(struct xdoc *, const struct xerr *, void *);

void
fuzz_init(void)
{
	static int	 done;

	if (done)
		return;
	done = 1;
	/* The library logs; a fuzzer wants its output for crashes only. */
	if (log_openfile("/dev/null") == -1)
		fuzz_fail(__FILE__, __LINE__, "cannot open /dev/null");
}

void
fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", file, line,
	    what);
	abort();
}

/* A NUL-terminated copy of an input, on the heap, exactly its size. */
char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char	*s;

	s = xmalloc(size + 1);
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

static int
fuzz_token(const struct token *t, void *arg)
{
	const struct xdoc	*doc = arg;

	FUZZ_ASSERT(t->t_len > 0 && t->t_len <= TOKEN_MAX);
	FUZZ_ASSERT((size_t)t->t_off + t->t_srclen <= doc->xd_text.b_len);
	/* Words of valid text are valid: cut at code point boundaries. */
	FUZZ_ASSERT(utf8_valid(t->t_text, t->t_len, NULL));
	return (0);
}

static int
fuzz_chunk(const struct chunk *c, void *arg)
{
	struct fuzz_doc	*fd = arg;
	const struct xdoc *doc = fd->fd_doc;

	FUZZ_ASSERT(c->c_off <= doc->xd_text.b_len &&
	    c->c_len <= doc->xd_text.b_len - c->c_off);
	FUZZ_ASSERT(c->c_heading != NULL);
	FUZZ_ASSERT(utf8_valid(doc->xd_text.b_data + c->c_off, c->c_len,
	    NULL));
	return (0);
}

/* Every document extract_buffer() or extract_ndjson() hands on. */
static int
fuzz_doc(struct xdoc *doc, const struct xerr *err, void *arg)
{
	struct fuzz_doc		*fd = arg;
	struct chunk_conf	 cc;
	const struct xblock	*b;
	size_t			 i;

	fd->fd_docs++;
	if (err != NULL) {
		/* A failed NDJSON record: a reason and where it was. */
		FUZZ_ASSERT(err->xe_code[0] != '\0');
		return (0);
	}
	FUZZ_ASSERT(utf8_valid(doc->xd_text.b_data, doc->xd_text.b_len,
	    NULL));
	FUZZ_ASSERT(doc->xd_title == NULL ||
	    utf8_valid(doc->xd_title, strlen(doc->xd_title), NULL));
	for (i = 0; i < doc->xd_nblocks; i++) {
		b = &doc->xd_blocks[i];
		FUZZ_ASSERT(b->xb_off <= doc->xd_text.b_len &&
		    b->xb_len <= doc->xd_text.b_len - b->xb_off);
	}
	for (i = 0; i < doc->xd_nattrs; i++)
		FUZZ_ASSERT(doc->xd_attrs[i].xa_name != NULL &&
		    doc->xd_attrs[i].xa_value != NULL);
	/* What a worker does next: chunks, and the words of the text. */
	fd->fd_doc = doc;
	chunk_conf_defaults(&cc);
	FUZZ_ASSERT(chunk_doc(&cc, doc, fuzz_chunk, fd) == 0);
	FUZZ_ASSERT(tokenizer_run(fd->fd_tk, doc->xd_text.b_data,
	    doc->xd_text.b_len, 0, fuzz_token, doc) == 0);
	return (0);
}

/*
 * Extract an input as the given type, as a worker would once it has
 * sniffed it.  A failure must come with a reason code.
 */
int
fuzz_extract(int type, const char *name, const uint8_t *data, size_t size)
{
	static struct tokenizer	*tk;
	struct extract_conf	 xc;
	struct fuzz_doc		 fd;
	struct xerr		 err;
	int			 rv;

	fuzz_init();
	if (size > FUZZ_MAX_INPUT)
		return (0);
	if (tk == NULL && (tk = tokenizer_new("english", 0)) == NULL)
		fuzz_fail(__FILE__, __LINE__, "no english stemmer");
	extract_conf_defaults(&xc);
	xc.xc_max_pages = FUZZ_MAX_PAGES;
	xc.xc_max_text = FUZZ_MAX_TEXT;
	memset(&fd, 0, sizeof(fd));
	fd.fd_tk = tk;
	/* The sniffer sees every input too; it must not read past it. */
	(void)extract_type_sniff(name, data, size);
	rv = extract_buffer(&xc, type, name, (const char *)data, size,
	    fuzz_doc, &fd, &err);
	FUZZ_ASSERT(rv == 0 || rv == -1);
	if (rv == -1)
		FUZZ_ASSERT(err.xe_code[0] != '\0');
	else if (type != DOC_NDJSON)
		FUZZ_ASSERT(fd.fd_docs == 1);
	return (0);
}
