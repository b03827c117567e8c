/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * index-util: the measuring parts of contrib/bench/index, which compares
 * quire with SQLite FTS5 on the same input.  Each command prints one line
 * of numbers separated by spaces for the script to read.
 *
 *	sample [-n N] [-s SEED] INPUT
 *		N known-item queries: random documents of INPUT with a
 *		non-empty title (a seeded xorshift shuffle, so a seed gives
 *		the same queries on every machine), one line each, "ID TAB
 *		WORDS".  WORDS are the title's words, at most IU_QWORDS of
 *		them: runs of Unicode letters, marks and digits, ASCII
 *		lower-cased; everything else separates words, so no query
 *		holds an operator of either engine.
 *
 *	search DATADIR QUERIES
 *		quire: open the index once, run search_run() (top 10, with
 *		the configuration's search settings, as quirectl search
 *		does: the file $QUIRE_CONF names, else the defaults) for
 *		each query, the words joined by spaces (any word may match;
 *		BM25 ranks).  Prints "p50_ms p95_ms recall_at_10 queries":
 *		the time of each search_run() call, and the fraction of
 *		queries whose document is among the hits.
 *
 *	run LOG COMMAND [ARG ...]
 *		Run COMMAND with stdout and stderr on LOG and wait for it and
 *		every process under it (we are their subreaper).  Prints
 *		"seconds written_bytes exit_status cpu_seconds": wall time,
 *		the bytes the whole process tree wrote (getrusage's ru_oublock
 *		for children, which Linux keeps as write_bytes of
 *		/proc/PID/io: page-cache pages dirtied, summed over every
 *		waited-for descendant), and its processor time (user and
 *		system, summed the same way).
 *
 *	classes [-n N] [-s SEED] INPUT
 *		N queries (rounded up to a multiple of 7) in seven
 *		classes, one a line, "CLASS TAB FILTER TAB QUERY" (FILTER
 *		"-" for none), from documents picked as sample picks them;
 *		the rule is in contrib/bench/index.
 *
 *	csearch [-x] DATADIR CLASSES
 *		quire: the classes' queries as search does them (FILTER as
 *		--filter), timed.  With -x, then each again with --exact,
 *		untimed, counting per class the queries whose top 10 (chunk
 *		ids in order) differ.  Prints one JSON object: per class,
 *		{"queries", "p50_ms", "p95_ms"[, "top10_diff"]}.
 *
 *	fts5-load [-p PROCS] [-c COMMIT] DB INPUT
 *		FTS5: PROCS processes (default 1) each create a database,
 *		DB (one process) or DB.0, DB.1 ..., with PRAGMA
 *		journal_mode=WAL, synchronous=FULL and
 *		fts5(id UNINDEXED, title, text, attrs, tokenize='porter
 *		unicode61') (attrs: "type=TYPE NAME=VALUE ...", the filter
 *		terms quire gives the document), then take INPUT's units
 *		(8 MB NDJSON ranges or files) from a shared counter and
 *		insert their documents, committing every COMMIT (1000)
 *		documents.  Prints "docs bytes seconds written_bytes": the
 *		wall time from the first fork to the last exit, and the
 *		bytes the processes wrote (ru_oublock, as for run).
 *
 *	fts5-optimize [-p PROCS] DB
 *		FTS5's 'optimize' command, a merge of all segments into one
 *		(quirectl compact's counterpart), on each database, one
 *		process each.  Prints "seconds written_bytes".
 *
 *	fts5-query DB QUERIES
 *		FTS5: for each query, the words quoted and joined by OR,
 *		on the title and text columns ({title text} : (...)),
 *		SELECT id, title, snippet(...) ... WHERE d MATCH ? ORDER BY
 *		bm25(d, 0, 5, 1, 0) LIMIT 10 (titles weigh five times the
 *		text, as quire's default title-weight does; the title and
 *		a snippet, as search_run() returns them).  The statement is
 *		prepared once; a query's time is its binding and stepping
 *		to the end.  Then the same with only the id selected.  Prints
 *		"p50_ms p95_ms recall_at_10 ids_p50_ms ids_p95_ms queries".
 *
 *	fts5-cquery DB CLASSES
 *		FTS5: the classes' queries in FTS5's syntax (as
 *		contrib/bench/index says), selected as fts5-query does.
 *		Prints one JSON object: per class, {"queries", "p50_ms",
 *		"p95_ms"}.
 *
 *	ranks DATADIR QUERIES
 *	fts5-ranks DB QUERIES
 *		For contrib/bench/relevance: each query ("QID TAB WORDS")
 *		as search and fts5-query run it, top 10 with snippets,
 *		timed, then again for the top IU_RANKS, untimed.  Prints a
 *		line per query, "QID TAB MS TAB ID TAB ID ...": the time of
 *		the first call and the ids of the second, best first, a hit
 *		per document (search's default, as quirectl search shows).
 *
 *	ids DATADIR
 *	input-ids INPUT
 *		For contrib/bench/pg-queue: the external id of every
 *		document stored in the index of DATADIR (in docid order),
 *		and of every document of INPUT as quire's index would name
 *		it (in input order), one a line, as they are.
 *
 * INPUT is an NDJSON file (named .ndjson or .jsonl) or a file or
 * directory, as quirectl ingest takes it.  Documents are read with
 * quire's own extraction (extract.c) on both sides, so FTS5 indexes the
 * same titles and text as quire, and its time includes that extraction
 * as quire's does.  A document's id is the one quire's index gives it
 * (worker.c): the record's id, else FILE@OFFSET; a file's real path.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "quire.h"

#define IU_QWORDS	16		/* words per query at most */
#define IU_QMAX		1024		/* bytes per query line */
#define IU_PROCS_MAX	16
#define IU_HITS		10
#define IU_RANKS	100		/* hits per query for ranks */

/* A unit of input: an NDJSON byte range or a whole file. */
struct iu_unit {
	const char	*u_path;
	int		 u_kind;	/* SRC_NDJSON or SRC_PATH */
	uint64_t	 u_off;
	uint64_t	 u_len;
};

struct iu_input {
	struct submit_batch	 in_sb;
	struct iu_unit		*in_units;
	size_t			 in_n;
	uint64_t		 in_bytes;
	struct extract_conf	 in_xc;
	struct buf		 in_data;
};

/* Called per document with its index id; non-zero stops. */
typedef int	 (*iu_doc_cb)(const char *, struct xdoc *, void *);

struct iu_docarg {
	const struct iu_unit	*da_unit;
	iu_doc_cb		 da_cb;
	void			*da_arg;
};

struct iu_query {
	char		*q_id;
	char		*q_words;	/* separated by single spaces */
};

struct iu_shared {
	uint64_t	 sh_next;
	uint64_t	 sh_docs[IU_PROCS_MAX];
	int		 sh_done[IU_PROCS_MAX];
};

static void	 usage(void) __dead;

static void
usage(void)
{
	fprintf(stderr, "usage: %s sample [-n N] [-s seed] input\n"
	    "       %s search datadir queries\n"
	    "       %s run log command [arg ...]\n"
	    "       %s fts5-load [-p procs] [-c commit] db input\n"
	    "       %s fts5-optimize [-p procs] db\n"
	    "       %s fts5-query db queries\n"
	    "       %s classes [-n N] [-s seed] input\n"
	    "       %s csearch [-x] datadir classes\n"
	    "       %s fts5-cquery db classes\n"
	    "       %s ranks datadir queries\n"
	    "       %s fts5-ranks db queries\n"
	    "       %s ids datadir\n"
	    "       %s input-ids input\n", getprogname(),
	    getprogname(), getprogname(), getprogname(), getprogname(),
	    getprogname(), getprogname(), getprogname(), getprogname(),
	    getprogname(), getprogname(), getprogname(), getprogname());
	exit(2);
}

static double
iu_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Input. */

static void
iu_input_open(struct iu_input *in, const char *path)
{
	struct submit_opts	 so;
	struct quire_conf	 c;
	const char		*ext;
	size_t			 i;
	int			 rc;

	memset(in, 0, sizeof(*in));
	memset(&so, 0, sizeof(so));
	so.so_split = SUBMIT_SPLIT_DEFAULT;
	submit_init(&in->in_sb);
	ext = strrchr(path, '.');
	if (ext != NULL && (strcmp(ext, ".ndjson") == 0 ||
	    strcmp(ext, ".jsonl") == 0))
		rc = submit_add_ndjson(&in->in_sb, path, &so);
	else
		rc = submit_add_path(&in->in_sb, path, &so);
	if (rc == -1 || in->in_sb.sb_n == 0)
		fatalx("%s: nothing to read", path);
	in->in_n = in->in_sb.sb_n;
	in->in_units = xcalloc(in->in_n, sizeof(*in->in_units));
	for (i = 0; i < in->in_n; i++) {
		in->in_units[i].u_path = in->in_sb.sb_jobs[i].qn_path;
		in->in_units[i].u_kind = in->in_sb.sb_jobs[i].qn_srckind;
		in->in_units[i].u_off = in->in_sb.sb_jobs[i].qn_off;
		in->in_units[i].u_len = in->in_sb.sb_jobs[i].qn_size;
		in->in_bytes += in->in_units[i].u_len;
	}
	/* The extraction settings a worker takes from the defaults. */
	config_defaults(&c);
	extract_conf_defaults(&in->in_xc);
	in->in_xc.xc_max_size = c.c_max_size;
	in->in_xc.xc_max_text = c.c_max_text;
	in->in_xc.xc_max_ratio = c.c_max_ratio;
	in->in_xc.xc_max_depth = c.c_max_depth;
	in->in_xc.xc_max_line = c.c_max_line;
	in->in_xc.xc_max_tokens = c.c_max_tokens;
	in->in_xc.xc_max_pages = c.c_max_pages;
	in->in_xc.xc_utf8 = c.c_utf8;
	in->in_xc.xc_id_field = xstrdup(c.c_id_field);
	in->in_xc.xc_title_field = xstrdup(c.c_title_field);
	in->in_xc.xc_text_field = xstrdup(c.c_text_field);
	buf_init(&in->in_data);
}

/* Read [off, off + len) of path into in_data; -1 on failure. */
static int
iu_read(struct iu_input *in, const char *path, uint64_t off, uint64_t len)
{
	ssize_t	 n;
	int	 fd;

	buf_reset(&in->in_data);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return (-1);
	}
	buf_reserve(&in->in_data, len + 1);
	while (in->in_data.b_len < len) {
		n = pread(fd, in->in_data.b_data + in->in_data.b_len,
		    len - in->in_data.b_len, off + in->in_data.b_len);
		if (n <= 0) {
			log_warnx("%s: short read", path);
			close(fd);
			return (-1);
		}
		in->in_data.b_len += n;
	}
	close(fd);
	buf_cstr(&in->in_data);
	return (0);
}

/* The id quire's index gives a document (worker_ix_doc). */
static void
iu_extid(const struct iu_unit *u, const struct xdoc *doc, char *buf,
    size_t len)
{
	if (doc->xd_type == DOC_NDJSON) {
		/* The extractor names a record without an id by its offset. */
		snprintf(buf, len, "%llu", (unsigned long long)doc->xd_off);
		if (doc->xd_id != NULL && doc->xd_id[0] != '\0' &&
		    strcmp(doc->xd_id, buf) != 0)
			strlcpy(buf, doc->xd_id, len);
		else
			snprintf(buf, len, "%s@%llu", u->u_path,
			    (unsigned long long)doc->xd_off);
	} else
		strlcpy(buf, u->u_path, len);
	if (strlen(buf) > IX_EXTID_MAX)
		snprintf(buf, len, "xxh3:%016llx",
		    (unsigned long long)XXH3_64bits(buf, strlen(buf)));
}

static int
iu_doc(struct xdoc *doc, const struct xerr *err, void *arg)
{
	struct iu_docarg	*da = arg;
	char			 id[JOB_PATH_MAX + 64];

	if (err != NULL)
		return (0);	/* a bad record: neither engine gets it */
	iu_extid(da->da_unit, doc, id, sizeof(id));
	return (da->da_cb(id, doc, da->da_arg));
}

/* Extract the documents of data, which is unit u or a part of it. */
static int
iu_extract(struct iu_input *in, const struct iu_unit *u, const char *data,
    size_t len, uint64_t off, iu_doc_cb cb, void *arg)
{
	struct iu_docarg	 da;
	struct xerr		 err;
	int			 type;

	da.da_unit = u;
	da.da_cb = cb;
	da.da_arg = arg;
	memset(&err, 0, sizeof(err));
	if (u->u_kind == SRC_NDJSON)
		type = DOC_NDJSON;
	else if ((type = extract_type_sniff(u->u_path, data, len)) == -1)
		return (0);
	if (type == DOC_NDJSON)
		return (extract_ndjson(&in->in_xc, data, len, off, iu_doc, &da,
		    &err));
	return (extract_buffer(&in->in_xc, type, u->u_path, data, len, iu_doc,
	    &da, &err));
}

/* Every document of unit i. */
static int
iu_unit_docs(struct iu_input *in, size_t i, iu_doc_cb cb, void *arg)
{
	const struct iu_unit	*u = &in->in_units[i];

	if (iu_read(in, u->u_path, u->u_off, u->u_len) == -1)
		return (-1);
	(void)iu_extract(in, u, in->in_data.b_data, in->in_data.b_len,
	    u->u_off, cb, arg);
	return (0);
}

/* sample */

static uint64_t	 iu_rng;

static uint64_t
iu_random(void)
{
	/* xorshift64*: the same sequence everywhere. */
	iu_rng ^= iu_rng >> 12;
	iu_rng ^= iu_rng << 25;
	iu_rng ^= iu_rng >> 27;
	return (iu_rng * 0x2545F4914F6CDD1DULL);
}

/* Is the character at p part of a word?  Its length in *n. */
static int
iu_wordchar(const char *p, size_t *n)
{
	utf8proc_int32_t	 cp;
	utf8proc_ssize_t	 r;

	r = utf8proc_iterate((const utf8proc_uint8_t *)p, -1, &cp);
	if (r <= 0) {
		*n = 1;
		return (0);
	}
	*n = r;
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return (1);
	default:
		return (0);
	}
}

/* The title's words, as described at the top; how many. */
static size_t
iu_words(const char *s, char *out, size_t len)
{
	size_t	 o = 0, start, words = 0, n, i;
	int	 full = 0;

	while (*s != '\0' && words < IU_QWORDS && !full) {
		while (*s != '\0' && !iu_wordchar(s, &n))
			s += n;
		if (*s == '\0')
			break;
		start = o;
		if (o > 0)
			out[o++] = ' ';
		while (*s != '\0' && iu_wordchar(s, &n)) {
			if (o + n >= len) {
				/* No room for all of it: leave it out. */
				o = start;
				full = 1;
				break;
			}
			for (i = 0; i < n; i++)
				out[o++] = tolower((unsigned char)s[i]);
			s += n;
		}
		if (!full)
			words++;
	}
	out[o] = '\0';
	return (words);
}

struct iu_pick {
	char		 p_id[JOB_PATH_MAX + 64];
	char		 p_words[IU_QMAX];
	char		 p_text[IU_QMAX];	/* the text's first words */
	char		 p_filter[IU_QMAX];	/* NAME=VALUE */
	int		 p_found;
};

/* The filter term of a document's first attribute, else of its type. */
static void
iu_pick_filter(struct xdoc *doc, char *buf, size_t len)
{
	if (doc->xd_nattrs > 0 && (size_t)snprintf(buf, len, "%s=%s",
	    doc->xd_attrs[0].xa_name, doc->xd_attrs[0].xa_value) < len &&
	    strpbrk(buf, "\t\n") == NULL)
		return;
	snprintf(buf, len, "type=%s", extract_type_name(doc->xd_type));
}

static int
iu_pick_doc(const char *id, struct xdoc *doc, void *arg)
{
	struct iu_pick	*p = arg;

	if (p->p_found || doc->xd_title == NULL || doc->xd_title[0] == '\0')
		return (0);
	if (strpbrk(id, "\t\n") != NULL)
		return (0);
	if (iu_words(doc->xd_title, p->p_words, sizeof(p->p_words)) == 0)
		return (0);
	iu_words(buf_cstr(&doc->xd_text), p->p_text, sizeof(p->p_text));
	iu_pick_filter(doc, p->p_filter, sizeof(p->p_filter));
	strlcpy(p->p_id, id, sizeof(p->p_id));
	p->p_found = 1;
	return (1);
}

/* A candidate: a record (a line of an NDJSON unit) or a file. */
struct iu_cand {
	uint32_t	 c_unit;
	uint32_t	 c_len;		/* of the line */
	uint64_t	 c_off;		/* in the unit */
};

/* classes */

#define IU_NCLASS	7
#define IU_WARM		500	/* documents whose text makes the common words */
#define IU_COMMON	24	/* common words kept */
#define IU_WLEN		64

enum { IU_WORD, IU_OR, IU_AND, IU_PHRASE, IU_PREFIX, IU_NOT, IU_FILTER };

static const char *iu_cname[IU_NCLASS] = {
	"word", "or", "and", "phrase", "prefix", "not", "filter"
};

struct iu_classes {
	size_t		 cl_per;		/* queries per class */
	size_t		 cl_got[IU_NCLASS];
	int		 cl_next;		/* the class to make next */
	size_t		 cl_seen;		/* documents seen */
	char		**cl_words;		/* of the first IU_WARM texts */
	size_t		 cl_nwords;
	size_t		 cl_capwords;
	char		 cl_common[IU_COMMON][IU_WLEN];
	size_t		 cl_ncommon;
};

struct iu_count {
	const char	*c_w;
	size_t		 c_n;
};

/* Split s in place at spaces; the words, at most max. */
static size_t
iu_split(char *s, char **w, size_t max)
{
	char	*p;
	size_t	 n = 0;

	while (n < max && (p = strsep(&s, " ")) != NULL)
		if (*p != '\0')
			w[n++] = p;
	return (n);
}

static int
iu_strcmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static int
iu_countcmp(const void *a, const void *b)
{
	const struct iu_count	*x = a, *y = b;

	if (x->c_n != y->c_n)
		return (x->c_n > y->c_n ? -1 : 1);
	return (strcmp(x->c_w, y->c_w));
}

/* The IU_COMMON most frequent words of two letters or more. */
static void
iu_common(struct iu_classes *cl)
{
	struct iu_count	*c;
	size_t		 n = 0, i, j, len;

	qsort(cl->cl_words, cl->cl_nwords, sizeof(*cl->cl_words), iu_strcmp);
	c = xcalloc(cl->cl_nwords + 1, sizeof(*c));
	for (i = 0; i < cl->cl_nwords; i = j) {
		for (j = i; j < cl->cl_nwords &&
		    strcmp(cl->cl_words[i], cl->cl_words[j]) == 0; j++)
			;
		len = strlen(cl->cl_words[i]);
		if (len < 2 || len >= IU_WLEN)
			continue;
		c[n].c_w = cl->cl_words[i];
		c[n++].c_n = j - i;
	}
	qsort(c, n, sizeof(*c), iu_countcmp);
	for (i = 0; i < n && i < IU_COMMON; i++)
		strlcpy(cl->cl_common[i], c[i].c_w, IU_WLEN);
	cl->cl_ncommon = i;
	if (cl->cl_ncommon < 3)
		fatalx("too few words in the input's first %d texts",
		    IU_WARM);
	free(c);
	for (i = 0; i < cl->cl_nwords; i++)
		free(cl->cl_words[i]);
	free(cl->cl_words);
	cl->cl_words = NULL;
}

/* A query of the class at hand from a picked document; 1 if made. */
static int
iu_class(struct iu_classes *cl, const struct iu_pick *p)
{
	char		 title[IU_QMAX], text[IU_QMAX], q[2 * IU_QMAX];
	char		*tw[IU_QWORDS], *xw[IU_QWORDS];
	const char	*w, *filter = "-";
	uint64_t	 r = iu_random();
	size_t		 nt, nx, k, i, at, c0, c1, c2, nc;
	int		 c = cl->cl_next;

	strlcpy(title, p->p_words, sizeof(title));
	strlcpy(text, p->p_text, sizeof(text));
	nt = iu_split(title, tw, IU_QWORDS);
	nx = iu_split(text, xw, IU_QWORDS);
	if (cl->cl_seen++ < IU_WARM) {
		for (i = 0; i < nx; i++) {
			if (cl->cl_nwords == cl->cl_capwords) {
				cl->cl_capwords = cl->cl_capwords == 0 ? 4096 :
				    cl->cl_capwords * 2;
				cl->cl_words = xreallocarray(cl->cl_words,
				    cl->cl_capwords, sizeof(*cl->cl_words));
			}
			cl->cl_words[cl->cl_nwords++] = xstrdup(xw[i]);
		}
		if (cl->cl_seen == IU_WARM)
			iu_common(cl);
		return (0);
	}
	if (nt == 0)
		return (0);
	nc = cl->cl_ncommon;
	w = tw[r % nt];
	r >>= 16;
	q[0] = '\0';
	switch (c) {
	case IU_WORD:
		strlcpy(q, w, sizeof(q));
		break;
	case IU_OR:
		k = 2 + r % 4;
		for (i = 0; i < k && i < nt + nx; i++) {
			if (i > 0)
				strlcat(q, " ", sizeof(q));
			strlcat(q, i < nt ? tw[i] : xw[i - nt], sizeof(q));
		}
		if (i < 2)
			return (0);
		break;
	case IU_AND:
		c0 = r % nc;
		c1 = (c0 + 1 + (r >> 8) % (nc - 1)) % nc;
		c2 = (c1 + 1 + (r >> 16) % (nc - 1)) % nc;
		if (c2 == c0)
			c2 = (c2 + 1) % nc;
		if (c2 == c1)
			c2 = (c2 + 1) % nc;
		snprintf(q, sizeof(q), "+%s +%s", cl->cl_common[c0],
		    cl->cl_common[c1]);
		if ((r >> 24) % 2 == 1) {
			strlcat(q, " +", sizeof(q));
			strlcat(q, cl->cl_common[c2], sizeof(q));
		}
		break;
	case IU_PHRASE:
		k = 2 + r % 2;
		if (nx < k)
			return (0);
		at = (r >> 8) % (nx - k + 1);
		strlcpy(q, "\"", sizeof(q));
		for (i = 0; i < k; i++) {
			if (i > 0)
				strlcat(q, " ", sizeof(q));
			strlcat(q, xw[at + i], sizeof(q));
		}
		strlcat(q, "\"", sizeof(q));
		break;
	case IU_PREFIX:
		k = 1 + r % 3;
		for (i = 0; i < k; i++)
			if (w[i] < 'a' || w[i] > 'z')
				return (0);
		snprintf(q, sizeof(q), "%.*s*", (int)k, w);
		break;
	case IU_NOT:
		c0 = r % nc;
		if (strcmp(w, cl->cl_common[c0]) == 0)
			c0 = (c0 + 1) % nc;
		snprintf(q, sizeof(q), "%s -%s", w, cl->cl_common[c0]);
		break;
	case IU_FILTER:
		strlcpy(q, w, sizeof(q));
		filter = p->p_filter;
		break;
	}
	printf("%s\t%s\t%s\n", iu_cname[c], filter, q);
	cl->cl_got[c]++;
	for (i = 1; i <= IU_NCLASS; i++)
		if (cl->cl_got[(c + i) % IU_NCLASS] < cl->cl_per) {
			cl->cl_next = (c + i) % IU_NCLASS;
			break;
		}
	return (1);
}

/* sample, and classes (classes == 1). */
static int
iu_sample(int argc, char **argv, int classes)
{
	struct iu_classes cl;
	struct iu_input	 in;
	struct iu_unit	 line;
	struct iu_cand	*cand = NULL, t, *c;
	struct iu_pick	 p;
	const char	*errstr;
	uint64_t	 off;
	size_t		 n = 2000, ncand = 0, cap = 0, k, j, got = 0, u;
	char		*nl, *base;
	int		 ch;

	iu_rng = 1;
	while ((ch = getopt(argc, argv, "n:s:")) != -1) {
		switch (ch) {
		case 'n':
			n = strtonum(optarg, 1, 10000000, &errstr);
			if (errstr != NULL)
				fatalx("-n %s: %s", optarg, errstr);
			break;
		case 's':
			iu_rng = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL)
				fatalx("-s %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	iu_input_open(&in, argv[optind]);
	memset(&cl, 0, sizeof(cl));
	cl.cl_per = (n + IU_NCLASS - 1) / IU_NCLASS;
	if (classes)
		n = cl.cl_per * IU_NCLASS;

	for (u = 0; u < in.in_n; u++) {
		if (in.in_units[u].u_kind != SRC_NDJSON) {
			if (ncand == cap) {
				cap = cap == 0 ? 4096 : cap * 2;
				cand = xreallocarray(cand, cap, sizeof(*cand));
			}
			cand[ncand].c_unit = u;
			cand[ncand].c_off = 0;
			cand[ncand++].c_len = 0;
			continue;
		}
		if (iu_read(&in, in.in_units[u].u_path, in.in_units[u].u_off,
		    in.in_units[u].u_len) == -1)
			fatalx("cannot read the input");
		base = in.in_data.b_data;
		for (off = 0; off < in.in_data.b_len; off = nl - base + 1) {
			if ((nl = memchr(base + off, '\n',
			    in.in_data.b_len - off)) == NULL)
				nl = base + in.in_data.b_len;
			if (ncand == cap) {
				cap = cap == 0 ? 4096 : cap * 2;
				cand = xreallocarray(cand, cap, sizeof(*cand));
			}
			cand[ncand].c_unit = u;
			cand[ncand].c_off = off;
			cand[ncand++].c_len = nl - (base + off);
		}
	}

	/* A Fisher-Yates shuffle, drawn only as far as needed. */
	for (k = 0; k < ncand && got < n; k++) {
		j = k + iu_random() % (ncand - k);
		t = cand[k];
		cand[k] = cand[j];
		cand[j] = t;
		c = &cand[k];
		memset(&p, 0, sizeof(p));
		if (in.in_units[c->c_unit].u_kind != SRC_NDJSON) {
			if (iu_unit_docs(&in, c->c_unit, iu_pick_doc, &p) ==
			    -1)
				continue;
		} else {
			line = in.in_units[c->c_unit];
			if (c->c_len == 0 || iu_read(&in, line.u_path,
			    line.u_off + c->c_off, c->c_len) == -1)
				continue;
			(void)iu_extract(&in, &line, in.in_data.b_data,
			    in.in_data.b_len, line.u_off + c->c_off,
			    iu_pick_doc, &p);
		}
		if (!p.p_found)
			continue;
		if (classes) {
			got += iu_class(&cl, &p);
			continue;
		}
		printf("%s\t%s\n", p.p_id, p.p_words);
		got++;
	}
	if (got < n)
		log_warnx("only %zu %s", got, classes ? "queries" :
		    "documents with a title");
	free(cand);
	return (fflush(stdout) == EOF ? 1 : 0);
}

/* Queries and percentiles. */

static struct iu_query *
iu_queries(const char *path, size_t *n)
{
	struct iu_query	*q = NULL;
	size_t		 cap = 0, len = 0;
	ssize_t		 r;
	char		*line = NULL, *tab;
	FILE		*f;

	*n = 0;
	if ((f = fopen(path, "r")) == NULL)
		fatal("%s", path);
	while ((r = getline(&line, &len, f)) != -1) {
		if (r > 0 && line[r - 1] == '\n')
			line[--r] = '\0';
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		if (*n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			q = xreallocarray(q, cap, sizeof(*q));
		}
		q[*n].q_id = xstrdup(line);
		q[*n].q_words = xstrdup(tab + 1);
		(*n)++;
	}
	free(line);
	fclose(f);
	if (*n == 0)
		fatalx("%s: no queries", path);
	return (q);
}

static int
iu_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* Nearest rank. */
static double
iu_pct(double *v, size_t n, int p)
{
	size_t	 r;

	r = (n * p + 99) / 100;
	return (v[r > 0 ? r - 1 : 0]);
}

/* search */

/*
 * The index at path, opened as quirectl opens it, and a tokenizer and
 * search options (top IU_HITS) of the configuration: the file named by
 * $QUIRE_CONF, else the defaults.
 */
static struct tokenizer *
iu_open(const char *path, struct index *ix, struct search_opts *so)
{
	struct quire_conf	 c;
	struct tokenizer	*tk;
	const char		*conf;
	char			 err[256];

	config_defaults(&c);
	if ((conf = getenv("QUIRE_CONF")) != NULL &&
	    config_load(conf, &c, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (index_open(ix, path, 0, STORE_SYNC_FULL) == -1)
		fatalx("%s: cannot open the index", path);
	if ((tk = tokenizer_new(c.c_language, c.c_stopwords)) == NULL)
		fatalx("language %s: no stemmer", c.c_language);
	search_opts_defaults(so);
	so->so_n = IU_HITS;
	search_opts_conf(so, &c);
	return (tk);
}

static int
iu_search(int argc, char **argv)
{
	struct index		 ix;
	struct tokenizer	*tk;
	struct search_opts	 so;
	struct search_result	 res;
	struct iu_query		*q;
	double			*ms, t0;
	size_t			 n, i, k, hit = 0;

	if (argc != 3)
		usage();
	tk = iu_open(argv[1], &ix, &so);
	q = iu_queries(argv[2], &n);
	ms = xcalloc(n, sizeof(*ms));
	for (i = 0; i < n; i++) {
		t0 = iu_now();
		if (search_run(&ix, tk, q[i].q_words, &so, &res) == -1)
			fatalx("search %s: %s", q[i].q_words, res.sr_error);
		ms[i] = (iu_now() - t0) * 1e3;
		for (k = 0; k < res.sr_n; k++)
			if (strcmp(res.sr_hits[k].sh_extid, q[i].q_id) == 0) {
				hit++;
				break;
			}
		search_result_free(&res);
	}
	qsort(ms, n, sizeof(*ms), iu_cmp);
	printf("%.3f %.3f %.4f %zu\n", iu_pct(ms, n, 50), iu_pct(ms, n, 95),
	    (double)hit / n, n);
	tokenizer_free(tk);
	index_close(&ix);
	return (0);
}

/* run */

static int
iu_run(int argc, char **argv)
{
	struct rusage	 ru;
	double		 t0;
	pid_t		 pid, w;
	int		 fd, status, code = -1;

	if (argc < 3)
		usage();
	/* Orphans of the command come to us, so their writes count. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		fatal("PR_SET_CHILD_SUBREAPER");
	fflush(NULL);
	t0 = iu_now();
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644))
		    == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(127);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	for (;;) {
		w = wait(&status);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			break;
		if (w == pid)
			code = WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status);
	}
	t0 = iu_now() - t0;
	if (getrusage(RUSAGE_CHILDREN, &ru) == -1)
		fatal("getrusage");
	printf("%.3f %llu %d %.3f\n", t0,
	    (unsigned long long)ru.ru_oublock * 512, code,
	    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return (0);
}

/* fts5-load */

struct iu_fts {
	sqlite3		*f_db;
	sqlite3_stmt	*f_ins;
	uint64_t	 f_docs;
	uint64_t	 f_commit;
	struct buf	 f_attrs;
};

static void
iu_exec(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fatalx("sqlite: %s: %s", sql, err != NULL ? err : "?");
}

static int
iu_fts_doc(const char *id, struct xdoc *doc, void *arg)
{
	struct iu_fts	*f = arg;
	const char	*title = doc->xd_title != NULL ? doc->xd_title : "";
	size_t		 i;

	/* The filter terms quire gives it, as words of their own column. */
	buf_reset(&f->f_attrs);
	buf_addstr(&f->f_attrs, "type=");
	buf_addstr(&f->f_attrs, extract_type_name(doc->xd_type));
	for (i = 0; i < doc->xd_nattrs; i++) {
		buf_addc(&f->f_attrs, ' ');
		buf_addstr(&f->f_attrs, doc->xd_attrs[i].xa_name);
		buf_addc(&f->f_attrs, '=');
		buf_addstr(&f->f_attrs, doc->xd_attrs[i].xa_value);
	}
	sqlite3_bind_text(f->f_ins, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(f->f_ins, 2, title, -1, SQLITE_STATIC);
	sqlite3_bind_text(f->f_ins, 3, doc->xd_text.b_data,
	    doc->xd_text.b_len, SQLITE_STATIC);
	sqlite3_bind_text(f->f_ins, 4, f->f_attrs.b_data, f->f_attrs.b_len,
	    SQLITE_STATIC);
	if (sqlite3_step(f->f_ins) != SQLITE_DONE)
		fatalx("sqlite insert: %s", sqlite3_errmsg(f->f_db));
	sqlite3_reset(f->f_ins);
	if (++f->f_docs % f->f_commit == 0) {
		iu_exec(f->f_db, "COMMIT");
		iu_exec(f->f_db, "BEGIN");
	}
	return (0);
}

static void
iu_fts_path(char *buf, size_t len, const char *db, int k, int procs)
{
	if (procs == 1)
		strlcpy(buf, db, len);
	else
		snprintf(buf, len, "%s.%d", db, k);
}

/* One loading process: its own database, units from the counter. */
static void
iu_fts_loader(struct iu_input *in, struct iu_shared *sh, const char *path,
    int k, uint64_t commit)
{
	struct iu_fts	 f;
	uint64_t	 i;

	memset(&f, 0, sizeof(f));
	f.f_commit = commit;
	buf_init(&f.f_attrs);
	if (sqlite3_open_v2(path, &f.f_db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		fatalx("%s: %s", path, sqlite3_errmsg(f.f_db));
	iu_exec(f.f_db, "PRAGMA journal_mode=WAL");
	iu_exec(f.f_db, "PRAGMA synchronous=FULL");
	iu_exec(f.f_db, "CREATE VIRTUAL TABLE d USING fts5(id UNINDEXED, "
	    "title, text, attrs, tokenize='porter unicode61')");
	if (sqlite3_prepare_v2(f.f_db, "INSERT INTO d(id, title, text, attrs) "
	    "VALUES (?, ?, ?, ?)", -1, &f.f_ins, NULL) != SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(f.f_db));
	iu_exec(f.f_db, "BEGIN");
	for (;;) {
		i = __atomic_fetch_add(&sh->sh_next, 1, __ATOMIC_RELAXED);
		if (i >= in->in_n)
			break;
		if (iu_unit_docs(in, i, iu_fts_doc, &f) == -1)
			_exit(1);
	}
	iu_exec(f.f_db, "COMMIT");
	sqlite3_finalize(f.f_ins);
	if (sqlite3_close(f.f_db) != SQLITE_OK)
		_exit(1);
	sh->sh_docs[k] = f.f_docs;
	sh->sh_done[k] = 1;
	_exit(0);
}

static void
iu_fts_optimize(const char *path)
{
	sqlite3	*db;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		fatalx("%s: %s", path, sqlite3_errmsg(db));
	iu_exec(db, "PRAGMA synchronous=FULL");
	iu_exec(db, "INSERT INTO d(d) VALUES('optimize')");
	if (sqlite3_close(db) != SQLITE_OK)
		_exit(1);
	_exit(0);
}

/* Fork procs children for one phase; their wall time and writes. */
static void
iu_fts_phase(struct iu_input *in, struct iu_shared *sh, const char *db,
    int procs, uint64_t commit, double *secs, uint64_t *written)
{
	struct rusage	 before, after;
	char		 path[PATH_MAX];
	pid_t		 pids[IU_PROCS_MAX];
	double		 t0;
	int		 k, status;

	if (getrusage(RUSAGE_CHILDREN, &before) == -1)
		fatal("getrusage");
	fflush(NULL);
	t0 = iu_now();
	for (k = 0; k < procs; k++) {
		iu_fts_path(path, sizeof(path), db, k, procs);
		switch ((pids[k] = fork())) {
		case -1:
			fatal("fork");
		case 0:
			if (in == NULL)
				iu_fts_optimize(path);
			iu_fts_loader(in, sh, path, k, commit);
		}
	}
	for (k = 0; k < procs; k++) {
		if (waitpid(pids[k], &status, 0) == -1)
			fatal("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fatalx("an FTS5 process failed");
	}
	*secs = iu_now() - t0;
	if (getrusage(RUSAGE_CHILDREN, &after) == -1)
		fatal("getrusage");
	*written = (after.ru_oublock - before.ru_oublock) * 512ULL;
}

static int
iu_fts_procs(int argc, char **argv, const char *opts, uint64_t *commit)
{
	const char	*errstr;
	int		 ch, procs = 1;

	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'p':
			procs = strtonum(optarg, 1, IU_PROCS_MAX, &errstr);
			if (errstr != NULL)
				fatalx("-p %s: %s", optarg, errstr);
			break;
		case 'c':
			*commit = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL)
				fatalx("-c %s: %s", optarg, errstr);
			break;
		default:
			usage();
		}
	}
	return (procs);
}

static int
iu_fts_load(int argc, char **argv)
{
	struct iu_input		 in;
	struct iu_shared	*sh;
	uint64_t		 commit = 1000, docs = 0, written;
	double			 secs;
	int			 procs, k;

	procs = iu_fts_procs(argc, argv, "p:c:", &commit);
	if (argc - optind != 2)
		usage();
	iu_input_open(&in, argv[optind + 1]);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		fatal("mmap");
	memset(sh, 0, sizeof(*sh));
	iu_fts_phase(&in, sh, argv[optind], procs, commit, &secs, &written);
	for (k = 0; k < procs; k++) {
		if (!sh->sh_done[k])
			fatalx("an FTS5 loader did not finish");
		docs += sh->sh_docs[k];
	}
	printf("%llu %llu %.3f %llu\n", (unsigned long long)docs,
	    (unsigned long long)in.in_bytes, secs,
	    (unsigned long long)written);
	return (0);
}

static int
iu_fts_merge(int argc, char **argv)
{
	uint64_t	 commit = 0, written;
	double		 secs;
	int		 procs;

	procs = iu_fts_procs(argc, argv, "p:", &commit);
	if (argc - optind != 1)
		usage();
	iu_fts_phase(NULL, NULL, argv[optind], procs, 0, &secs, &written);
	printf("%.3f %llu\n", secs, (unsigned long long)written);
	return (0);
}

/* fts5-query */

/* The query's words quoted and joined by OR, on title and text. */
static void
iu_fts_or(struct buf *m, const char *words)
{
	const char	*p, *sp;

	buf_reset(m);
	buf_addstr(m, "{title text} : (");
	for (p = words; *p != '\0'; p = *sp ? sp + 1 : sp) {
		if ((sp = strchr(p, ' ')) == NULL)
			sp = p + strlen(p);
		if (p != words)
			buf_addstr(m, " OR ");
		buf_addc(m, '"');
		buf_add(m, p, sp - p);
		buf_addc(m, '"');
	}
	buf_addc(m, ')');
}

/* Time each query with stmt; the fraction found in the top 10. */
static double
iu_fts_run(sqlite3 *db, sqlite3_stmt *st, struct iu_query *q, size_t n,
    double *ms)
{
	struct buf	 m;
	const char	*id;
	double		 t0;
	size_t		 i, hit = 0;
	int		 rc, found;

	buf_init(&m);
	for (i = 0; i < n; i++) {
		iu_fts_or(&m, q[i].q_words);
		found = 0;
		t0 = iu_now();
		sqlite3_bind_text(st, 1, buf_cstr(&m), m.b_len, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			id = (const char *)sqlite3_column_text(st, 0);
			if (id != NULL && strcmp(id, q[i].q_id) == 0)
				found = 1;
			if (sqlite3_column_count(st) > 1) {
				(void)sqlite3_column_text(st, 1);
				(void)sqlite3_column_text(st, 2);
			}
		}
		ms[i] = (iu_now() - t0) * 1e3;
		if (rc != SQLITE_DONE)
			fatalx("sqlite query %s: %s", m.b_data,
			    sqlite3_errmsg(db));
		sqlite3_reset(st);
		hit += found;
	}
	buf_free(&m);
	qsort(ms, n, sizeof(*ms), iu_cmp);
	return ((double)hit / n);
}

/*
 * The FTS5 database at path, read only, with its two statements: the
 * top 10 with title and snippet (full), and the ids of the top limit
 * (ids, the query to bind as ?1).
 */
static sqlite3 *
iu_fts_open(const char *path, int limit, sqlite3_stmt **full,
    sqlite3_stmt **ids)
{
	sqlite3	*db;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		fatalx("%s: %s", path, sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "SELECT id, title, snippet(d, 2, '', '', "
	    "'...', 32) FROM d WHERE d MATCH ? ORDER BY bm25(d, 0.0, 5.0, "
	    "1.0, 0.0) LIMIT 10", -1, full, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT id FROM d WHERE d MATCH ?1 ORDER "
	    "BY bm25(d, 0.0, 5.0, 1.0, 0.0) LIMIT ?2", -1, ids, NULL) !=
	    SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(db));
	sqlite3_bind_int(*ids, 2, limit);
	return (db);
}

static int
iu_fts_query(int argc, char **argv)
{
	sqlite3		*db;
	sqlite3_stmt	*full, *ids;
	struct iu_query	*q;
	double		*ms, *ims, recall;
	size_t		 n;

	if (argc != 3)
		usage();
	db = iu_fts_open(argv[1], 10, &full, &ids);
	q = iu_queries(argv[2], &n);
	ms = xcalloc(n, sizeof(*ms));
	ims = xcalloc(n, sizeof(*ims));
	recall = iu_fts_run(db, full, q, n, ms);
	(void)iu_fts_run(db, ids, q, n, ims);
	printf("%.3f %.3f %.4f %.3f %.3f %zu\n", iu_pct(ms, n, 50),
	    iu_pct(ms, n, 95), recall, iu_pct(ims, n, 50), iu_pct(ims, n, 95),
	    n);
	sqlite3_finalize(full);
	sqlite3_finalize(ids);
	sqlite3_close(db);
	return (0);
}

/* csearch and fts5-cquery: the classes' queries. */

struct iu_cq {
	int		 cq_class;
	char		*cq_filter;	/* NULL: none */
	char		*cq_q;
};

static struct iu_cq *
iu_cqueries(const char *path, size_t *n)
{
	struct iu_cq	*q = NULL;
	size_t		 cap = 0, len = 0;
	ssize_t		 r;
	char		*line = NULL, *f[3], *s;
	int		 c, k;
	FILE		*fp;

	*n = 0;
	if ((fp = fopen(path, "r")) == NULL)
		fatal("%s", path);
	while ((r = getline(&line, &len, fp)) != -1) {
		if (r > 0 && line[r - 1] == '\n')
			line[--r] = '\0';
		s = line;
		for (k = 0; k < 3 && (f[k] = strsep(&s, "\t")) != NULL; k++)
			;
		if (k < 3)
			continue;
		for (c = 0; c < IU_NCLASS; c++)
			if (strcmp(f[0], iu_cname[c]) == 0)
				break;
		if (c == IU_NCLASS)
			fatalx("%s: class %s: unknown", path, f[0]);
		if (*n == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			q = xreallocarray(q, cap, sizeof(*q));
		}
		q[*n].cq_class = c;
		q[*n].cq_filter = strcmp(f[1], "-") == 0 ? NULL : xstrdup(f[1]);
		q[*n].cq_q = xstrdup(f[2]);
		(*n)++;
	}
	free(line);
	fclose(fp);
	if (*n == 0)
		fatalx("%s: no queries", path);
	return (q);
}

/*
 * Per class: {"CLASS": {"queries": N, "p50_ms": X, "p95_ms": Y
 * [, "top10_diff": D]}, ...} on one line.
 */
static void
iu_class_json(const struct iu_cq *q, size_t n, const double *ms,
    const size_t *diff)
{
	double		*v;
	size_t		 i, k;
	int		 c, first = 1;

	v = xcalloc(n, sizeof(*v));
	printf("{");
	for (c = 0; c < IU_NCLASS; c++) {
		for (i = k = 0; i < n; i++)
			if (q[i].cq_class == c)
				v[k++] = ms[i];
		if (k == 0)
			continue;
		qsort(v, k, sizeof(*v), iu_cmp);
		printf("%s\"%s\": {\"queries\": %zu, \"p50_ms\": %.3f, "
		    "\"p95_ms\": %.3f", first ? "" : ", ", iu_cname[c], k,
		    iu_pct(v, k, 50), iu_pct(v, k, 95));
		if (diff != NULL)
			printf(", \"top10_diff\": %zu", diff[c]);
		printf("}");
		first = 0;
	}
	printf("}\n");
	free(v);
}

static int
iu_csearch(int argc, char **argv)
{
	struct index		 ix;
	struct tokenizer	*tk;
	struct search_opts	 so, base;
	struct search_result	 res;
	struct iu_cq		*q;
	uint64_t		*top;
	size_t			*ntop, n, i, k, diff[IU_NCLASS];
	double			*ms, t0;
	int			 ch, exact = 0, same;

	while ((ch = getopt(argc, argv, "x")) != -1) {
		switch (ch) {
		case 'x':
			exact = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2)
		usage();
	tk = iu_open(argv[0], &ix, &base);
	q = iu_cqueries(argv[1], &n);
	ms = xcalloc(n, sizeof(*ms));
	top = xcalloc(n * IU_HITS, sizeof(*top));
	ntop = xcalloc(n, sizeof(*ntop));
	memset(diff, 0, sizeof(diff));
	for (i = 0; i < 2 * n; i++) {
		if (i >= n && !exact)
			break;
		so = base;
		so.so_exact = i >= n;
		if (q[i % n].cq_filter != NULL) {
			so.so_filters[0] = q[i % n].cq_filter;
			so.so_nfilters = 1;
		}
		t0 = iu_now();
		if (search_run(&ix, tk, q[i % n].cq_q, &so, &res) == -1)
			fatalx("search %s: %s", q[i % n].cq_q, res.sr_error);
		if (i < n) {
			ms[i] = (iu_now() - t0) * 1e3;
			for (k = 0; k < res.sr_n && k < IU_HITS; k++)
				top[i * IU_HITS + k] = res.sr_hits[k].sh_cid;
			ntop[i] = k;
		} else {
			same = ntop[i - n] == res.sr_n;
			for (k = 0; same && k < res.sr_n; k++)
				same = top[(i - n) * IU_HITS + k] ==
				    res.sr_hits[k].sh_cid;
			if (!same)
				diff[q[i - n].cq_class]++;
		}
		search_result_free(&res);
	}
	iu_class_json(q, n, ms, exact ? diff : NULL);
	tokenizer_free(tk);
	index_close(&ix);
	return (0);
}

/* A class's query in FTS5's syntax, on the title and text columns. */
static void
iu_fts_expr(struct buf *m, const struct iu_cq *q)
{
	char		 w[IU_QMAX], *ws[IU_QWORDS];
	const char	*op;
	size_t		 n, i;

	buf_reset(m);
	buf_addstr(m, "{title text} : (");
	if (q->cq_class == IU_PHRASE || q->cq_class == IU_PREFIX)
		buf_addstr(m, q->cq_q);
	else {
		strlcpy(w, q->cq_q, sizeof(w));
		n = iu_split(w, ws, IU_QWORDS);
		op = q->cq_class == IU_AND ? " AND " : " OR ";
		for (i = 0; i < n; i++) {
			if (ws[i][0] == '-') {
				buf_addstr(m, " NOT ");
				ws[i]++;
			} else if (i > 0)
				buf_addstr(m, op);
			if (ws[i][0] == '+')
				ws[i]++;
			buf_addc(m, '"');
			buf_addstr(m, ws[i]);
			buf_addc(m, '"');
		}
	}
	buf_addc(m, ')');
	if (q->cq_filter != NULL) {
		iu_words(q->cq_filter, w, sizeof(w));
		buf_addstr(m, " AND attrs : \"");
		buf_addstr(m, w);
		buf_addc(m, '"');
	}
}

static int
iu_fts_cquery(int argc, char **argv)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	struct iu_cq	*q;
	struct buf	 m;
	double		*ms, t0;
	size_t		 n, i;
	int		 rc;

	if (argc != 3)
		usage();
	if (sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK)
		fatalx("%s: %s", argv[1], sqlite3_errmsg(db));
	if (sqlite3_prepare_v2(db, "SELECT id, title, snippet(d, 2, '', '', "
	    "'...', 32) FROM d WHERE d MATCH ? ORDER BY bm25(d, 0.0, 5.0, "
	    "1.0, 0.0) LIMIT 10", -1, &st, NULL) != SQLITE_OK)
		fatalx("sqlite: %s", sqlite3_errmsg(db));
	q = iu_cqueries(argv[2], &n);
	ms = xcalloc(n, sizeof(*ms));
	buf_init(&m);
	for (i = 0; i < n; i++) {
		iu_fts_expr(&m, &q[i]);
		t0 = iu_now();
		sqlite3_bind_text(st, 1, buf_cstr(&m), m.b_len, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			(void)sqlite3_column_text(st, 0);
			(void)sqlite3_column_text(st, 1);
			(void)sqlite3_column_text(st, 2);
		}
		ms[i] = (iu_now() - t0) * 1e3;
		if (rc != SQLITE_DONE)
			fatalx("sqlite query %s: %s", buf_cstr(&m),
			    sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	iu_class_json(q, n, ms, NULL);
	buf_free(&m);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (0);
}

/* ranks and fts5-ranks: every hit's id, for contrib/bench/relevance. */

static int
iu_ranks(int argc, char **argv)
{
	struct index		 ix;
	struct tokenizer	*tk;
	struct search_opts	 so;
	struct search_result	 res;
	struct iu_query		*q;
	double			 t0, ms;
	size_t			 n, i, k;

	if (argc != 3)
		usage();
	tk = iu_open(argv[1], &ix, &so);
	q = iu_queries(argv[2], &n);
	for (i = 0; i < n; i++) {
		so.so_n = IU_HITS;
		t0 = iu_now();
		if (search_run(&ix, tk, q[i].q_words, &so, &res) == -1)
			fatalx("search %s: %s", q[i].q_words, res.sr_error);
		ms = (iu_now() - t0) * 1e3;
		search_result_free(&res);
		so.so_n = IU_RANKS;
		if (search_run(&ix, tk, q[i].q_words, &so, &res) == -1)
			fatalx("search %s: %s", q[i].q_words, res.sr_error);
		printf("%s\t%.3f", q[i].q_id, ms);
		for (k = 0; k < res.sr_n; k++)
			printf("\t%s", res.sr_hits[k].sh_extid);
		printf("\n");
		search_result_free(&res);
	}
	tokenizer_free(tk);
	index_close(&ix);
	return (fflush(stdout) == 0 ? 0 : 1);
}

static int
iu_fts_ranks(int argc, char **argv)
{
	sqlite3		*db;
	sqlite3_stmt	*full, *ids;
	struct iu_query	*q;
	struct buf	 m;
	const char	*id;
	double		 t0, ms;
	size_t		 n, i;
	int		 rc;

	if (argc != 3)
		usage();
	db = iu_fts_open(argv[1], IU_RANKS, &full, &ids);
	q = iu_queries(argv[2], &n);
	buf_init(&m);
	for (i = 0; i < n; i++) {
		iu_fts_or(&m, q[i].q_words);
		t0 = iu_now();
		sqlite3_bind_text(full, 1, buf_cstr(&m), m.b_len,
		    SQLITE_STATIC);
		while ((rc = sqlite3_step(full)) == SQLITE_ROW) {
			(void)sqlite3_column_text(full, 0);
			(void)sqlite3_column_text(full, 1);
			(void)sqlite3_column_text(full, 2);
		}
		ms = (iu_now() - t0) * 1e3;
		if (rc != SQLITE_DONE)
			fatalx("sqlite query %s: %s", m.b_data,
			    sqlite3_errmsg(db));
		sqlite3_reset(full);
		printf("%s\t%.3f", q[i].q_id, ms);
		sqlite3_bind_text(ids, 1, buf_cstr(&m), m.b_len,
		    SQLITE_STATIC);
		while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
			id = (const char *)sqlite3_column_text(ids, 0);
			printf("\t%s", id != NULL ? id : "");
		}
		if (rc != SQLITE_DONE)
			fatalx("sqlite query %s: %s", m.b_data,
			    sqlite3_errmsg(db));
		sqlite3_reset(ids);
		printf("\n");
	}
	buf_free(&m);
	sqlite3_finalize(full);
	sqlite3_finalize(ids);
	sqlite3_close(db);
	return (fflush(stdout) == 0 ? 0 : 1);
}

/* ids and input-ids */

static int
iu_id_doc(const struct ixdoc *d, void *arg)
{
	return (printf("%s\n", d->d_extid) < 0 ? -1 : 0);
}

static int
iu_ids(int argc, char **argv)
{
	struct index	 ix;
	uint64_t	 after = 0;
	int		 more;

	if (argc != 2)
		usage();
	if (index_open(&ix, argv[1], 0, STORE_SYNC_FULL) == -1)
		fatalx("%s: cannot open the index", argv[1]);
	while ((more = index_docs_page(&ix, &after, 4096, iu_id_doc,
	    NULL)) == 1)
		continue;
	index_close(&ix);
	if (more == -1)
		fatalx("%s: cannot read the documents", argv[1]);
	return (fflush(stdout) == 0 ? 0 : 1);
}

static int
iu_input_id(const char *id, struct xdoc *doc, void *arg)
{
	return (printf("%s\n", id) < 0 ? -1 : 0);
}

static int
iu_input_ids(int argc, char **argv)
{
	struct iu_input	 in;
	size_t		 i;

	if (argc != 2)
		usage();
	iu_input_open(&in, argv[1]);
	for (i = 0; i < in.in_n; i++)
		if (iu_unit_docs(&in, i, iu_input_id, NULL) == -1)
			fatalx("%s: cannot read it", argv[1]);
	return (fflush(stdout) == 0 ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	log_init(1, LOG_USER);
	if (argc < 2)
		usage();
	argc--;
	argv++;
	optind = 1;
	if (strcmp(argv[0], "sample") == 0)
		return (iu_sample(argc, argv, 0));
	if (strcmp(argv[0], "classes") == 0)
		return (iu_sample(argc, argv, 1));
	if (strcmp(argv[0], "search") == 0)
		return (iu_search(argc, argv));
	if (strcmp(argv[0], "run") == 0)
		return (iu_run(argc, argv));
	if (strcmp(argv[0], "fts5-load") == 0)
		return (iu_fts_load(argc, argv));
	if (strcmp(argv[0], "fts5-optimize") == 0)
		return (iu_fts_merge(argc, argv));
	if (strcmp(argv[0], "fts5-query") == 0)
		return (iu_fts_query(argc, argv));
	if (strcmp(argv[0], "csearch") == 0)
		return (iu_csearch(argc, argv));
	if (strcmp(argv[0], "fts5-cquery") == 0)
		return (iu_fts_cquery(argc, argv));
	if (strcmp(argv[0], "ranks") == 0)
		return (iu_ranks(argc, argv));
	if (strcmp(argv[0], "fts5-ranks") == 0)
		return (iu_fts_ranks(argc, argv));
	if (strcmp(argv[0], "ids") == 0)
		return (iu_ids(argc, argv));
	if (strcmp(argv[0], "input-ids") == 0)
		return (iu_input_ids(argc, argv));
	usage();
}
