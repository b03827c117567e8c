/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the query parser and the search behind it (search.c).
 * The first call builds a small index in a directory under $TMPDIR:
 * documents folded into blocks by the merger, a newer segment, and a
 * replaced document's tombstone, so a query reaches every path of
 * search_run().  The directory is removed at once; the open environment
 * keeps its files until the process ends.  The input is the query; its
 * length picks the options (exact counting, a filter, how many hits).
 */

#include <sys/types.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define FUZZ_QUERY_MAX	4096
#define FUZZ_FOLD	(16 << 20)

static const struct {
	const char	*d_id;
	const char	*d_title;
	const char	*d_text;
} fuzz_query_docs[] = {
	{ "a", "Durable queues", "The quick brown fox jumps over the lazy "
	    "dog. Workers claim jobs from a durable queue in LMDB." },
	{ "b", "Search", "BM25 scores chunks; phrase and prefix queries "
	    "find \"quick brown\" words and connections." },
	{ "c", NULL, "Caf\xc3\xa9 cr\xc3\xa8me, na\xc3\xafve fa\xc3\xa7" "ade, "
	    "\xe6\x9d\xb1\xe4\xba\xac\xe3\x82\xbf\xe3\x83\xaf\xe3\x83\xbc and "
	    "snake_case parseHttpRequest 3.14" },
	{ "d", "Memory", "The supervisor samples pressure and shrinks the "
	    "fleet before the kernel kills a worker." },
	{ "a", "Durable queues", "The quick brown fox was replaced: a new "
	    "version of the first document." }
};

static struct index		 fuzz_ix;
static struct tokenizer		*fuzz_tk;

static int
fuzz_query_rm(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return (remove(path));
}

struct fuzz_feed {
	struct ixbatch	*ff_b;
	int		 ff_field;
};

static int
fuzz_query_term(const struct token *t, void *arg)
{
	struct fuzz_feed	*ff = arg;

	return (ixbatch_term(ff->ff_b, ff->ff_field, t->t_text, t->t_len,
	    t->t_pos) == -1 ? -1 : 0);
}

static void
fuzz_query_add(struct ixbatch *b, size_t i)
{
	struct ixdoc_info	 di;
	struct fuzz_feed	 ff;
	const char		*text = fuzz_query_docs[i].d_text;
	const char		*title = fuzz_query_docs[i].d_title;

	memset(&di, 0, sizeof(di));
	di.di_extid = fuzz_query_docs[i].d_id;
	di.di_hash = i + 1;
	di.di_job = i + 1;
	di.di_title = title;
	di.di_type = DOC_TEXT;
	di.di_tenant = "a";
	di.di_source = fuzz_query_docs[i].d_id;
	FUZZ_ASSERT(ixbatch_doc(b, &di) == 0);
	FUZZ_ASSERT(ixbatch_chunk(b, "", text, strlen(text)) == 0);
	FUZZ_ASSERT(ixbatch_term(b, IX_FILTER, "tenant=a", 8, 0) == 0);
	ff.ff_b = b;
	if (title != NULL) {
		ff.ff_field = IX_TITLE;
		FUZZ_ASSERT(tokenizer_run(fuzz_tk, title, strlen(title), 0,
		    fuzz_query_term, &ff) == 0);
	}
	ff.ff_field = IX_BODY;
	FUZZ_ASSERT(tokenizer_run(fuzz_tk, text, strlen(text), 0,
	    fuzz_query_term, &ff) == 0);
	FUZZ_ASSERT(ixbatch_end_doc(b) == 0);
}

static void
fuzz_query_setup(void)
{
	struct ixbatch	*b;
	struct ixcommit	 ic;
	const char	*tmp;
	char		 dir[PATH_MAX];
	size_t		 i;
	int		 rv;

	fuzz_init();
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/fuzz_query.XXXXXX", tmp) >=
	    sizeof(dir) || mkdtemp(dir) == NULL)
		fuzz_fail(__FILE__, __LINE__, "cannot make a directory");
	FUZZ_ASSERT(index_open(&fuzz_ix, dir, 0, STORE_SYNC_NONE) == 0);
	if ((fuzz_tk = tokenizer_new("english", 0)) == NULL)
		fuzz_fail(__FILE__, __LINE__, "no english stemmer");
	b = ixbatch_new();
	/* The first three into blocks, the fourth in a segment. */
	for (i = 0; i < 3; i++)
		fuzz_query_add(b, i);
	FUZZ_ASSERT(ixbatch_commit(&fuzz_ix, b, &ic) == 0);
	ixbatch_reset(b);
	while ((rv = merge_step(&fuzz_ix, MERGE_ALL, FUZZ_FOLD, -1)) == 1)
		;
	FUZZ_ASSERT(rv == 0);
	for (i = 3; i < sizeof(fuzz_query_docs) / sizeof(fuzz_query_docs[0]);
	    i++)
		fuzz_query_add(b, i);
	FUZZ_ASSERT(ixbatch_commit(&fuzz_ix, b, &ic) == 0);
	FUZZ_ASSERT(ic.ic_replaced == 1);
	ixbatch_free(b);
	nftw(dir, fuzz_query_rm, 16, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 setup;
	struct search_opts	 so;
	struct search_result	 sr;
	char			*q;
	size_t			 i;

	if (size > FUZZ_QUERY_MAX)
		return (0);
	if (!setup) {
		fuzz_query_setup();
		setup = 1;
	}
	q = fuzz_cstr(data, size);
	search_opts_defaults(&so);
	so.so_n = 1 + size % 4;
	so.so_exact = size % 2;
	if (size % 3 == 0) {
		so.so_filters[0] = "tenant=a";
		so.so_nfilters = 1;
	}
	if (search_run(&fuzz_ix, fuzz_tk, q, &so, &sr) == 0) {
		FUZZ_ASSERT(sr.sr_n <= so.so_n);
		FUZZ_ASSERT(sr.sr_total >= sr.sr_n);
		for (i = 0; i < sr.sr_n; i++)
			FUZZ_ASSERT(memchr(sr.sr_hits[i].sh_snippet, '\0',
			    sizeof(sr.sr_hits[i].sh_snippet)) != NULL);
		search_result_free(&sr);
	} else
		FUZZ_ASSERT(sr.sr_error[0] != '\0' && sr.sr_hits == NULL);
	free(q);
	return (0);
}
