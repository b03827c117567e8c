/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * One job's way through the text path, inside a worker: read the source
 * beneath its root, sniff its type, extract documents, cut them into
 * chunks, tokenize each chunk, and hand the results on (ingest_sink).
 *
 * Outcomes:
 *
 *	INGEST_OK	every document went through; some records of an
 *			NDJSON range may have failed on their own (in_fails),
 *			and the caller files them as dead letters.
 *	INGEST_BAD	the input itself is bad (too large, not a regular
 *			file, unparsable): a dead letter now, in_err says why.
 *	INGEST_RETRY	something that may pass (an I/O error): retry later.
 *	INGEST_STOP	the sink's tick asked to stop (a cancel, an exit,
 *			job-timeout): the sink knows why.
 *
 * Progress: the sink's is_tick is called often while a job runs, so that
 * a long document is seen to move: per MB read, from inside the parsers
 * (per PDF page, per slice of HTML, per some thousand lines or nodes;
 * see xdoc_tick) and per chunk cut, tokenized and handed on.  The
 * worker sends its heartbeats and enforces job-timeout from there.  A
 * document stopped halfway is taken back from the sink (is_abort), so
 * nothing of it is indexed.  in_permille says how far the job is: the
 * first tenth for reading its bytes, the rest for the share of its text
 * (or of its NDJSON records' bytes) handed on, so that a big document's
 * progress moves evenly.
 *
 * Compressed files: a file that begins with the gzip magic (1f 8b) is
 * read as its contents, decompressed with zlib (every member of a
 * multi-member file), and its type is sniffed from those contents and
 * its name without ".gz".  The contents are bounded by
 * max-document-size and their ratio to the compressed bytes by
 * max-ratio, so a small bomb fails as too-large before it fills memory.
 *
 * Uploads (SRC_SPOOL): the body is read from DATADIR/spool/ (spool.c),
 * never beneath the roots.  A job with a byte range (j_len > 0) is a
 * range of an NDJSON bulk, read as an NDJSON file's range is; one
 * without is a whole document, bounded by max-document-size, whose type
 * is the uploader's content type (j_ctype) or else sniffed, with its id
 * (j_extid) as the name, as a file's would be; the uploader's title
 * (j_title), if any, replaces the one extraction found.  On the
 * PostgreSQL queue, a body that is not in this host's spool (another
 * host received it, or this one did and moved it into the database) is
 * read from the queue through the sink's is_spool, a piece of at most
 * INGEST_READ bytes at a time, into the buffer the file would have been
 * read into: the job's bytes only, never the whole of a bulk.  A body
 * that is gone fails as "spool-missing".
 *
 * Roots: a job's path is read beneath the longest configured root that
 * contains it, with openat2(RESOLVE_BENEATH) on a descriptor of that
 * root opened when the worker starts; a path outside every root fails as
 * "outside-root".
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


#include "quire.h"

#define INGEST_READ	(1 << 20)

/* Progress, from the reader, the parsers and the chunk loop. */
static int
ingest_tick(void *arg)
{
	struct ingest	*in = arg;

	if (in->in_sink == NULL || in->in_sink->is_tick == NULL)
		return (0);
	if (in->in_sink->is_tick(in->in_sink->is_arg) == 0)
		return (0);
	in->in_stopped = 1;
	return (1);
}

/* done of total, after the read's tenth; it only goes up. */
static void
ingest_progress(struct ingest *in, uint64_t done, uint64_t total)
{
	unsigned	 pm;

	if (total == 0)
		return;
	if (done > total)
		done = total;
	pm = 100 + (unsigned)(done * 900 / total);
	if (pm > in->in_permille)
		in->in_permille = pm;
}

/* The tokenizer of a language ("" or NULL: language), made once. */
struct tokenizer *
ingest_tokenizer(struct ingest *in, const char *lang)
{
	size_t	 i;

	if (lang == NULL || lang[0] == '\0')
		lang = in->in_conf->c_language;
	for (i = 0; i < in->in_ntk; i++)
		if (strcmp(in->in_tklang[i], lang) == 0)
			return (in->in_tk[i]);
	if (!tokenizer_lang_ok(lang))
		return (NULL);
	if (in->in_ntk == INGEST_LANGS) {
		/* Rare: many languages in one worker's life. */
		tokenizer_free(in->in_tk[--in->in_ntk]);
	}
	in->in_tk[in->in_ntk] = tokenizer_new(lang, in->in_conf->c_stopwords);
	if (in->in_tk[in->in_ntk] == NULL)
		return (NULL);
	strlcpy(in->in_tklang[in->in_ntk], lang, sizeof(in->in_tklang[0]));
	return (in->in_tk[in->in_ntk++]);
}

/*
 * Take the limits and chunk sizes of the configuration again, after a
 * reload changed them in place; between jobs only, so that one job is
 * read and cut by one set of rules.  The roots, the language and the
 * stopwords stay as they were at ingest_init.
 */
void
ingest_reconf(struct ingest *in)
{
	const struct quire_conf	*c = in->in_conf;

	extract_conf_from(c, &in->in_xc);
	in->in_xc.xc_tick = ingest_tick;
	in->in_xc.xc_tick_arg = in;
	chunk_conf_defaults(&in->in_cc);
	in->in_cc.cc_size = c->c_chunk_size;
	in->in_cc.cc_overlap = c->c_chunk_overlap;
	in->in_cc.cc_min = c->c_chunk_min;
}

int
ingest_init(struct ingest *in, const struct quire_conf *c)
{
	const char	*p, *end;
	char		 path[CONF_STR_MAX];
	size_t		 n;

	memset(in, 0, sizeof(*in));
	in->in_conf = c;
	ingest_reconf(in);
	buf_init(&in->in_data);
	for (p = c->c_roots; *p != '\0'; p = *end == ':' ? end + 1 : end) {
		end = p + strcspn(p, ":");
		n = end - p;
		if (n == 0)
			continue;
		if (in->in_nroots == INGEST_ROOTS || n >= sizeof(path)) {
			log_warnx("%s: too many or too long roots", __func__);
			return (-1);
		}
		memcpy(path, p, n);
		path[n] = '\0';
		while (n > 1 && path[n - 1] == '/')
			path[--n] = '\0';
		in->in_rootfd[in->in_nroots] = open(path,
		    O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (in->in_rootfd[in->in_nroots] == -1) {
			log_warn("%s: root %s", __func__, path);
			continue;
		}
		in->in_root[in->in_nroots] = xstrdup(path);
		in->in_nroots++;
	}
	return (0);
}

void
ingest_free(struct ingest *in)
{
	size_t	 i;

	for (i = 0; i < in->in_nroots; i++) {
		close(in->in_rootfd[i]);
		free(in->in_root[i]);
	}
	for (i = 0; i < in->in_ntk; i++)
		tokenizer_free(in->in_tk[i]);
	free(in->in_fails);
	buf_free(&in->in_data);
}

/* The root that holds path and path's remainder beneath it. */
static int
ingest_root(struct ingest *in, const char *path, const char **rel)
{
	size_t	 i, len, best = 0;
	int	 fd = -1;

	for (i = 0; i < in->in_nroots; i++) {
		len = strlen(in->in_root[i]);
		if (strcmp(in->in_root[i], "/") == 0)
			len = 0;
		else if (strncmp(path, in->in_root[i], len) != 0 ||
		    path[len] != '/')
			continue;
		if (fd == -1 || len >= best) {
			fd = in->in_rootfd[i];
			best = len;
		}
	}
	if (fd != -1) {
		*rel = path + best;
		while (**rel == '/')
			(*rel)++;
	}
	return (fd);
}

/* Whether the job is a byte range of NDJSON, in a file or the spool. */
static int
ingest_ranged(const struct job *j)
{
	return (j->j_srckind == SRC_NDJSON ||
	    (j->j_srckind == SRC_SPOOL && j->j_len > 0));
}

/*
 * Open an uploaded body in the spool; *elsewhere set when it is not
 * there and the sink can read it from the queue.
 */
static int
ingest_open_spool(struct ingest *in, const struct job *j, int *elsewhere)
{
	int	 fd;

	*elsewhere = 0;
	if ((fd = spool_open(in->in_conf->c_datadir, j->j_path)) != -1)
		return (fd);
	if (errno == ENOENT && in->in_sink != NULL &&
	    in->in_sink->is_spool != NULL) {
		*elsewhere = 1;
		return (-1);
	}
	if (errno == ENOENT || errno == EINVAL)
		xerr_set(&in->in_err, "spool-missing", "spool/%s: %s",
		    j->j_path, errno == ENOENT ? "no such file" :
		    "not a spool name");
	else if (errno == ELOOP || errno == EMLINK)
		xerr_set(&in->in_err, "not-regular", "spool/%s: %s",
		    j->j_path, util_open_strerror(errno));
	else
		xerr_set(&in->in_err, "io-error", "spool/%s: %s", j->j_path,
		    strerror(errno));
	return (-1);
}

/*
 * The bytes [*off, *end) the job reads of a source of size bytes: its
 * range, or all of it within max-document-size.  INGEST_BAD when they
 * are not there or too many.
 */
static int
ingest_bounds(struct ingest *in, const struct job *j, uint64_t size,
    uint64_t *off, uint64_t *end)
{
	int	 ranged = ingest_ranged(j);

	*off = ranged ? j->j_off : 0;
	*end = ranged ? j->j_off + j->j_len : size;
	if (*end > size) {
		xerr_set(&in->in_err, "changed", "file is shorter than the job "
		    "(%llu < %llu bytes)", (unsigned long long)size,
		    (unsigned long long)*end);
		return (INGEST_BAD);
	}
	if (!ranged && *end > in->in_xc.xc_max_size) {
		xerr_set(&in->in_err, "too-large", "%llu bytes, more than "
		    "max-document-size %llu", (unsigned long long)*end,
		    (unsigned long long)in->in_xc.xc_max_size);
		return (INGEST_BAD);
	}
	return (INGEST_OK);
}

/* The job's bytes of an upload the queue keeps (see the top). */
static int
ingest_fetch(struct ingest *in, const struct job *j)
{
	struct ingest_sink	*is = in->in_sink;
	uint64_t		 size, off, end;
	size_t			 n;
	int			 rv;

	if (is->is_spool(is->is_arg, j->j_path, 0, 0, NULL, &size) == -1) {
		xerr_set(&in->in_err, "spool-missing", "spool/%s: not on this "
		    "host, and not in the queue", j->j_path);
		return (INGEST_BAD);
	}
	if ((rv = ingest_bounds(in, j, size, &off, &end)) != INGEST_OK)
		return (rv);
	buf_reserve(&in->in_data, end - off);
	while (off < end) {
		if (ingest_tick(in) != 0)
			return (INGEST_STOP);
		n = end - off < INGEST_READ ? end - off : INGEST_READ;
		if (is->is_spool(is->is_arg, j->j_path, off, n,
		    in->in_data.b_data + in->in_data.b_len, &size) == -1) {
			xerr_set(&in->in_err, "spool-missing", "spool/%s: the "
			    "queue has not the bytes %llu to %llu",
			    j->j_path, (unsigned long long)off,
			    (unsigned long long)(off + n));
			return (INGEST_BAD);
		}
		off += n;
		in->in_data.b_len += n;
		in->in_bytes += n;
		in->in_permille = (unsigned)(in->in_data.b_len * 100 /
		    (in->in_data.b_len + (end - off)));
	}
	buf_cstr(&in->in_data);
	return (INGEST_OK);
}

/* Read [off, off+len) of the job's file, or all of it (len 0). */
static int
ingest_read(struct ingest *in, const struct job *j)
{
	struct stat	 st;
	const char	*rel;
	uint64_t	 off, end;
	ssize_t		 n;
	int		 rootfd, fd, rv, elsewhere;

	buf_reset(&in->in_data);
	if (j->j_srckind == SRC_SPOOL) {
		if ((fd = ingest_open_spool(in, j, &elsewhere)) == -1 &&
		    elsewhere)
			return (ingest_fetch(in, j));
	} else if ((rootfd = ingest_root(in, j->j_path, &rel)) == -1) {
		xerr_set(&in->in_err, "outside-root", "%s is beneath no root",
		    j->j_path);
		return (INGEST_BAD);
	} else
		fd = extract_open(rootfd, rel, &in->in_err);
	if (fd == -1)
		return (strcmp(in->in_err.xe_code, "io-error") == 0 ?
		    INGEST_RETRY : INGEST_BAD);
	if (fstat(fd, &st) == -1) {
		xerr_set(&in->in_err, "io-error", "fstat: %s", strerror(errno));
		close(fd);
		return (INGEST_RETRY);
	}
	if ((rv = ingest_bounds(in, j, st.st_size, &off, &end)) !=
	    INGEST_OK) {
		close(fd);
		return (rv);
	}
	buf_reserve(&in->in_data, end - off);
	while (off < end) {
		if (ingest_tick(in) != 0) {
			close(fd);
			return (INGEST_STOP);
		}
		n = pread(fd, in->in_data.b_data + in->in_data.b_len,
		    end - off < INGEST_READ ? end - off : INGEST_READ, off);
		if (n <= 0) {
			xerr_set(&in->in_err, "io-error", "read: %s",
			    n == 0 ? "unexpected end of file" : strerror(errno));
			close(fd);
			return (INGEST_RETRY);
		}
		off += n;
		in->in_data.b_len += n;
		in->in_bytes += n;
		in->in_permille = (unsigned)(in->in_data.b_len * 100 /
		    (in->in_data.b_len + (end - off)));
	}
	close(fd);
	buf_cstr(&in->in_data);
	return (INGEST_OK);
}

/* The job's bytes are gzip: put their contents in their place. */
static int
ingest_gz(struct ingest *in)
{
	struct buf	 plain;
	uint64_t	 max;
	char		 why[128];
	int		 rv;

	max = in->in_xc.xc_max_size;
	if (in->in_xc.xc_max_ratio > 0 &&
	    in->in_data.b_len * in->in_xc.xc_max_ratio < max)
		max = in->in_data.b_len * in->in_xc.xc_max_ratio;
	buf_init(&plain);
	rv = buf_gunzip(in->in_data.b_data, in->in_data.b_len, max,
	    &plain, why, sizeof(why));
	if (rv == -1) {
		xerr_set(&in->in_err, "parse-error", "%s", why);
		buf_free(&plain);
		return (INGEST_BAD);
	}
	if (rv == 1) {
		xerr_set(&in->in_err, "too-large", "gzip contents more than "
		    "%llu bytes (max-document-size, max-ratio)",
		    (unsigned long long)max);
		buf_free(&plain);
		return (INGEST_BAD);
	}
	buf_free(&in->in_data);
	in->in_data = plain;
	buf_cstr(&in->in_data);
	return (INGEST_OK);
}

struct ingest_doc {
	struct ingest		*id_in;
	struct xdoc		*id_doc;
	struct tokenizer	*id_tk;
	uint64_t		 id_tokens;
	uint32_t		 id_pos;
	const char		*id_name;	/* sniffed as, if not j_path */
	const char		*id_path;	/* then the id */
	const char		*id_title;	/* the uploader's, or NULL */
	uint64_t		 id_base;	/* the file offset of in_data */
};

static int
ingest_token(const struct token *t, void *arg)
{
	struct ingest_doc	*id = arg;
	struct ingest		*in = id->id_in;

	if (++id->id_tokens > in->in_xc.xc_max_tokens &&
	    in->in_xc.xc_max_tokens != 0)
		return (1);
	if (in->in_sink != NULL && in->in_sink->is_token != NULL)
		return (in->in_sink->is_token(in->in_sink->is_arg, IX_BODY,
		    t));
	return (0);
}

/* Title words go with a document's first chunk, in their own field. */
static int
ingest_title_token(const struct token *t, void *arg)
{
	struct ingest_doc	*id = arg;
	struct ingest		*in = id->id_in;

	if (in->in_sink != NULL && in->in_sink->is_token != NULL)
		return (in->in_sink->is_token(in->in_sink->is_arg, IX_TITLE,
		    t));
	return (0);
}

static int
ingest_chunk(const struct chunk *c, void *arg)
{
	struct ingest_doc	*id = arg;
	struct ingest		*in = id->id_in;
	int			 rv;

	if (ingest_tick(in) != 0)
		return (-1);
	if (id->id_doc->xd_type != DOC_NDJSON)
		ingest_progress(in, c->c_off, id->id_doc->xd_text.b_len);
	in->in_chunks++;
	if (in->in_sink != NULL && in->in_sink->is_chunk != NULL &&
	    (rv = in->in_sink->is_chunk(in->in_sink->is_arg, id->id_doc, c))
	    != 0)
		return (rv);
	if (c->c_index == 0 && id->id_doc->xd_title != NULL &&
	    (rv = tokenizer_run(id->id_tk, id->id_doc->xd_title,
	    strlen(id->id_doc->xd_title), 0, ingest_title_token, id)) != 0)
		return (rv);
	rv = tokenizer_run(id->id_tk, id->id_doc->xd_text.b_data + c->c_off,
	    c->c_len, 0, ingest_token, id);
	if (rv == 1)
		return (1);
	return (rv);
}

static void
ingest_fail(struct ingest *in, const struct xdoc *doc, const struct xerr *err)
{
	struct ingest_fail	*f;

	if (in->in_nfails == in->in_failcap) {
		in->in_failcap = in->in_failcap == 0 ? 16 : in->in_failcap * 2;
		in->in_fails = xreallocarray(in->in_fails, in->in_failcap,
		    sizeof(*in->in_fails));
	}
	f = &in->in_fails[in->in_nfails++];
	f->if_off = doc != NULL ? doc->xd_off : 0;
	f->if_len = doc != NULL ? doc->xd_len : 0;
	snprintf(f->if_reason, sizeof(f->if_reason), "%s%s%s",
	    err->xe_code, err->xe_msg[0] != '\0' ? ": " : "", err->xe_msg);
}

static int
ingest_doc(struct xdoc *doc, const struct xerr *err, void *arg)
{
	struct ingest_doc	*id = arg;
	struct ingest		*in = id->id_in;
	struct xerr		 e;
	int			 rv;

	if (ingest_tick(in) != 0)
		return (-1);
	if (err != NULL) {
		ingest_fail(in, doc, err);
		return (0);
	}
	/* A compressed file keeps its own name as its id. */
	if (id->id_name != NULL && doc->xd_id != NULL &&
	    strcmp(doc->xd_id, id->id_name) == 0) {
		free(doc->xd_id);
		doc->xd_id = xstrdup(id->id_path);
	}
	/* An uploaded document keeps the title it came with. */
	if (id->id_title != NULL && doc->xd_type != DOC_NDJSON) {
		free(doc->xd_title);
		doc->xd_title = xstrdup(id->id_title);
	}
	id->id_doc = doc;
	id->id_tokens = 0;
	if (in->in_sink != NULL && in->in_sink->is_doc != NULL &&
	    (rv = in->in_sink->is_doc(in->in_sink->is_arg, doc)) != 0)
		return (rv);
	rv = chunk_doc(&in->in_cc, doc, ingest_chunk, id);
	if (rv == 1) {
		xerr_set(&e, "too-many-tokens", "more than max-tokens %llu",
		    (unsigned long long)in->in_xc.xc_max_tokens);
		if (in->in_sink != NULL && in->in_sink->is_abort != NULL)
			in->in_sink->is_abort(in->in_sink->is_arg, doc);
		if (doc->xd_type != DOC_NDJSON) {
			in->in_err = e;
			return (-1);
		}
		ingest_fail(in, doc, &e);
		return (0);
	}
	if (rv != 0) {
		/* Stopped or failed halfway: none of it goes on. */
		if (in->in_sink != NULL && in->in_sink->is_abort != NULL)
			in->in_sink->is_abort(in->in_sink->is_arg, doc);
		return (rv);
	}
	in->in_docs++;
	in->in_tokens += id->id_tokens;
	if (doc->xd_type == DOC_NDJSON)
		ingest_progress(in, doc->xd_off + doc->xd_len - id->id_base,
		    in->in_data.b_len);
	if (in->in_sink != NULL && in->in_sink->is_done != NULL)
		return (in->in_sink->is_done(in->in_sink->is_arg, doc));
	return (0);
}

/* Run one job through the text path; see the outcomes above. */
int
ingest_job(struct ingest *in, const struct job *j)
{
	struct ingest_doc	 id;
	const char		*name;
	char			 plain[JOB_PATH_MAX + 1];
	size_t			 n;
	int			 type, rv;

	in->in_nfails = 0;
	in->in_stopped = 0;
	in->in_permille = 0;
	memset(&in->in_err, 0, sizeof(in->in_err));
	memset(&id, 0, sizeof(id));
	id.id_in = in;
	if ((id.id_tk = ingest_tokenizer(in, j->j_lang)) == NULL) {
		xerr_set(&in->in_err, "bad-language", "no stemmer for %s",
		    j->j_lang);
		return (INGEST_BAD);
	}
	if ((rv = ingest_read(in, j)) != INGEST_OK)
		return (rv);
	name = j->j_path;
	if (j->j_srckind == SRC_SPOOL) {
		/* An upload is sniffed and named by its id. */
		name = j->j_extid[0] != '\0' ? j->j_extid : j->j_path;
		if (j->j_title[0] != '\0')
			id.id_title = j->j_title;
	}
	if (!ingest_ranged(j) &&
	    buf_is_gzip(in->in_data.b_data, in->in_data.b_len)) {
		if ((rv = ingest_gz(in)) != INGEST_OK)
			return (rv);
		/* "notes.md.gz" is sniffed as "notes.md". */
		strlcpy(plain, name, sizeof(plain));
		if ((n = strlen(plain)) > 3 &&
		    strcmp(plain + n - 3, ".gz") == 0)
			plain[n - 3] = '\0';
		id.id_path = name;
		name = id.id_name = plain;
	}
	if (ingest_ranged(j))
		type = DOC_NDJSON;
	else if (j->j_srckind == SRC_SPOOL && j->j_ctype[0] != '\0' &&
	    (type = extract_type_mime(j->j_ctype)) != -1)
		;	/* as the uploader said */
	else if ((type = extract_type_sniff(name, in->in_data.b_data,
	    in->in_data.b_len)) == -1) {
		xerr_set(&in->in_err, "unsupported-type", "binary content");
		return (INGEST_BAD);
	}
	id.id_base = j->j_srckind == SRC_NDJSON ? j->j_off : 0;
	if (type == DOC_NDJSON)
		rv = extract_ndjson(&in->in_xc, in->in_data.b_data,
		    in->in_data.b_len, ingest_ranged(j) ? j->j_off : 0,
		    ingest_doc, &id, &in->in_err);
	else
		rv = extract_buffer(&in->in_xc, type, name, in->in_data.b_data,
		    in->in_data.b_len, ingest_doc, &id, &in->in_err);
	if (in->in_stopped)
		return (INGEST_STOP);
	if (rv != 0)
		return (in->in_err.xe_code[0] != '\0' ? INGEST_BAD :
		    INGEST_RETRY);
	return (INGEST_OK);
}
