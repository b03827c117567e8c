/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Extraction: from the bytes of a file to documents of plain UTF-8 text
 * in blocks (paragraphs, headings, code), with a title and an id.  This
 * file holds what every type shares once the type is known (sniffed by
 * extract_type.c, within the limits of extract_conf.c); the other
 * extract_<type>.c hold the parsers.
 *
 * Bad input: every document is checked against the limits of struct
 * extract_conf and fails with a short reason code (too-large, bad-utf8,
 * parse-error, too-deep, line-too-long, not-regular, outside-root,
 * unsupported-type and the type's own) that ends up in the dead letter
 * queue.  Binary content is unsupported-type, whatever the file's name:
 * the sniffer sees a NUL in the first 8 KB, and a text-like type is
 * refused when more than one byte in EXTRACT_BINARY_SHARE is a control
 * character or, unless an HTML document declares another charset, part
 * of an invalid UTF-8 sequence.  Text in UTF-8, or with stray Latin-1
 * bytes, stays far below that; random bytes are over half, and a parser
 * would otherwise fail them for what it made of them (libxml2 sees
 * thousands of unclosed tags: too-deep).
 * Text-like types go through the UTF-8 policy before they are
 * parsed: invalid sequences are repaired to U+FFFD or fail the document
 * with the offset of the first one.  HTML that declares another charset
 * is left to libxml2, which converts it.  Whatever a parser returns is
 * checked once more, so a document handed on is valid UTF-8 throughout.
 *
 * Files are opened beneath a root directory descriptor with openat2(2):
 * RESOLVE_BENEATH lets symbolic links that stay inside the root through
 * and refuses "..", absolute paths and links that leave it (EXDEV), and
 * O_NONBLOCK keeps a FIFO from blocking the open, so it can be refused
 * as not a regular file.  Where openat2 is missing (ENOSYS: a kernel
 * before 5.6, or a seccomp profile that does not know it), the first
 * open says so in the log once and every open walks the path instead,
 * one openat(2) per component with O_NOFOLLOW: stricter, as no symbolic
 * link is followed at all, not even one that stays inside the root, and
 * ".." is refused as openat2 refuses it.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <linux/openat2.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "quire.h"

#define EXTRACT_HEAD_SCAN	1024	/* bytes looked at for markup */
#define EXTRACT_OPEN_TRIES	8	/* openat2 EAGAIN: a rename raced */
#define EXTRACT_BINARY_SHARE	8	/* 1 byte in 8 not text: binary */

static int	 extract_foreign_charset(const char *, size_t);
static int	 extract_binary(const char *, size_t, int, struct xerr *);
static int	 extract_utf8(const struct extract_conf *, const char **,
		    size_t *, struct buf *, struct xerr *);
static void	 extract_fix_text(struct xdoc *);
static void	 extract_title(struct xdoc *, const char *);

/*
 * openat2 without openat2: relpath beneath rootfd, component by
 * component, never through a symbolic link (ELOOP) nor up (EXDEV).
 */
static int
extract_open_walk(int rootfd, const char *relpath, int flags)
{
	struct stat	 st;
	char		 buf[PATH_MAX], *comp[PATH_MAX / 2], *p, *last;
	size_t		 n = 0, i;
	int		 dfd = rootfd, fd, serrno;

	if (strlcpy(buf, relpath, sizeof(buf)) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (buf[0] == '/') {
		errno = EXDEV;
		return (-1);
	}
	for (p = strtok_r(buf, "/", &last); p != NULL;
	    p = strtok_r(NULL, "/", &last)) {
		if (strcmp(p, "..") == 0) {
			errno = EXDEV;
			return (-1);
		}
		if (strcmp(p, ".") != 0)
			comp[n++] = p;
	}
	if (n == 0)
		return (openat(rootfd, ".", flags));
	for (i = 0; i < n; i++) {
		if (i == n - 1)
			fd = openat(dfd, comp[i], flags | O_NOFOLLOW);
		else
			fd = openat(dfd, comp[i], O_PATH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		serrno = errno;
		/* O_PATH opens a link itself; O_DIRECTORY makes it ENOTDIR. */
		if (fd == -1 && serrno == ENOTDIR && fstatat(dfd, comp[i], &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			serrno = ELOOP;
		if (dfd != rootfd)
			close(dfd);
		if (fd == -1) {
			errno = serrno;
			return (-1);
		}
		dfd = fd;
	}
	return (fd);
}

int
extract_open(int rootfd, const char *relpath, struct xerr *err)
{
	static int	 noopenat2;
	struct open_how	 how;
	struct stat	 st;
	int		 fd, flags, tries = 0;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = -1;
	errno = ENOSYS;
	while (!noopenat2) {
		fd = syscall(SYS_openat2, rootfd, relpath, &how, sizeof(how));
		if (fd != -1 || errno != EAGAIN || ++tries >= EXTRACT_OPEN_TRIES)
			break;
	}
	if (fd == -1 && errno == ENOSYS) {
		if (!noopenat2)
			log_warnx("%s: openat2: %s; files are opened by a "
			    "walk that follows no symbolic link", __func__,
			    strerror(ENOSYS));
		noopenat2 = 1;
		fd = extract_open_walk(rootfd, relpath, how.flags);
	}
	if (fd == -1) {
		switch (errno) {
		case ELOOP:
			if (noopenat2) {
				xerr_set(err, "outside-root", "%s: a symbolic "
				    "link on the way, not followed without "
				    "openat2", relpath);
				break;
			}
			/* FALLTHROUGH */
		case EXDEV:
			xerr_set(err, "outside-root", "%s leads outside its "
			    "root", relpath);
			break;
		case ENOENT:
		case ENOTDIR:
			xerr_set(err, "not-found", "%s: %s", relpath,
			    strerror(errno));
			break;
		case EACCES:
		case EPERM:
			xerr_set(err, "permission", "%s: %s", relpath,
			    strerror(errno));
			break;
		default:
			xerr_set(err, "io-error", "openat2 %s: %s", relpath,
			    strerror(errno));
			break;
		}
		return (-1);
	}
	if (fstat(fd, &st) == -1) {
		xerr_set(err, "io-error", "fstat %s: %s", relpath,
		    strerror(errno));
		close(fd);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		xerr_set(err, "not-regular", "%s is a %s", relpath,
		    S_ISDIR(st.st_mode) ? "directory" :
		    S_ISFIFO(st.st_mode) ? "FIFO" :
		    S_ISSOCK(st.st_mode) ? "socket" :
		    S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "device" :
		    "special file");
		close(fd);
		return (-1);
	}
	/* Only the open needed it; reads of a regular file block anyway. */
	if ((flags = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return (fd);
}

/*
 * Does the start of an HTML document declare a charset other than
 * UTF-8, in a meta element or an XML declaration?
 */
static int
extract_foreign_charset(const char *p, size_t len)
{
	size_t	 i, end, n;
	char	 cs[16];

	end = len < EXTRACT_HEAD_SCAN ? len : EXTRACT_HEAD_SCAN;
	for (i = 0; i < end; i++) {
		if (len - i >= 8 && strncasecmp(p + i, "charset=", 8) == 0)
			i += 8;
		else if (len - i >= 9 &&
		    strncasecmp(p + i, "encoding=", 9) == 0)
			i += 9;
		else
			continue;
		while (i < len && (p[i] == '"' || p[i] == '\'' || p[i] == ' '))
			i++;
		for (n = 0; i < len && n < sizeof(cs) - 1 &&
		    (isalnum((unsigned char)p[i]) || p[i] == '-' ||
		    p[i] == '_' || p[i] == ':' || p[i] == '.'); i++)
			cs[n++] = tolower((unsigned char)p[i]);
		cs[n] = '\0';
		if (n == 0)
			continue;
		return (strcmp(cs, "utf-8") != 0 && strcmp(cs, "utf8") != 0 &&
		    strcmp(cs, "us-ascii") != 0 && strcmp(cs, "ascii") != 0);
	}
	return (0);
}

/*
 * Is this binary rather than text?  Counted are control characters other
 * than white space and, when utf8 is set, invalid UTF-8 sequences (one
 * per byte where one begins); more than len / EXTRACT_BINARY_SHARE of
 * them fail the document.
 */
static int
extract_binary(const char *p, size_t len, int utf8, struct xerr *err)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i, off, bad, n = 0, most;

	most = len / EXTRACT_BINARY_SHARE;
	for (i = 0; i < len && n <= most; i++)
		if ((u[i] < 0x20 && !xdoc_space(u[i])) || u[i] == 0x7f)
			n++;
	for (off = 0; utf8 && off < len && n <= most &&
	    !utf8_valid(p + off, len - off, &bad); off += bad + 1)
		n++;
	if (n <= most)
		return (0);
	xerr_set(err, "unsupported-type", "binary content: more than 1 byte "
	    "in %d is a control character or invalid UTF-8",
	    EXTRACT_BINARY_SHARE);
	return (-1);
}

/*
 * The UTF-8 policy: valid input is used as it is; invalid input is
 * repaired into fixed, which *data and *len then point to, or fails.
 */
static int
extract_utf8(const struct extract_conf *xc, const char **data, size_t *len,
    struct buf *fixed, struct xerr *err)
{
	size_t	 bad, n;

	if (utf8_valid(*data, *len, &bad))
		return (0);
	if (xc->xc_utf8 == UTF8_REJECT) {
		xerr_set(err, "bad-utf8", "invalid UTF-8 at byte %zu", bad);
		return (-1);
	}
	n = utf8_repair(*data, *len, fixed);
	log_debug("%s: %zu invalid UTF-8 sequences replaced, the first at "
	    "byte %zu", __func__, n, bad);
	*data = fixed->b_data;
	*len = fixed->b_len;
	return (0);
}

/*
 * A parser's bug, or a charset libxml2 converted badly, left invalid
 * UTF-8.  Each bad byte becomes '?', so no block moves.
 */
static void
extract_fix_text(struct xdoc *doc)
{
	char	*p = doc->xd_text.b_data;
	size_t	 len = doc->xd_text.b_len, off = 0, bad, n = 0;

	while (off < len && !utf8_valid(p + off, len - off, &bad)) {
		p[off + bad] = '?';
		off += bad + 1;
		n++;
	}
	log_warnx("%s: %s extraction gave %zu bytes of invalid UTF-8",
	    __func__, extract_type_name(doc->xd_type), n);
}

/* A string made valid UTF-8, its bad bytes replaced as in a text. */
static void
extract_fix_str(char **s)
{
	struct buf	 fixed;

	if (*s == NULL || utf8_valid(*s, strlen(*s), NULL))
		return;
	buf_init(&fixed);
	utf8_repair(*s, strlen(*s), &fixed);
	free(*s);
	*s = xstrdup(buf_cstr(&fixed));
	buf_free(&fixed);
}

/* The first heading, else the file name. */
static void
extract_title(struct xdoc *doc, const char *name)
{
	const struct xblock	*b;
	const char		*base;
	size_t			 i;

	for (i = 0; i < doc->xd_nblocks; i++) {
		b = &doc->xd_blocks[i];
		if (b->xb_kind == BLK_HEADING) {
			doc->xd_title = xmalloc(b->xb_len + 1);
			memcpy(doc->xd_title, doc->xd_text.b_data + b->xb_off,
			    b->xb_len);
			doc->xd_title[b->xb_len] = '\0';
			return;
		}
	}
	if ((base = strrchr(name, '/')) != NULL)
		name = base + 1;
	doc->xd_title = xstrdup(name);
	extract_fix_str(&doc->xd_title);
}

/*
 * Extract one document of the given type and hand it to cb.  Returns 0,
 * -1 with err set, or what cb returned when that was not 0 (err is then
 * left as cb left it).
 */
int
extract_buffer(const struct extract_conf *xc, int type, const char *name,
    const char *data, size_t len, extract_cb cb, void *arg, struct xerr *err)
{
	struct xdoc	 doc;
	struct buf	 fixed;
	size_t		 i;
	int		 foreign, rv;

	memset(err, 0, sizeof(*err));
	if (name == NULL)
		name = "";
	if (len > xc->xc_max_size) {
		xerr_set(err, "too-large", "%zu bytes, more than "
		    "max-document-size %llu", len,
		    (unsigned long long)xc->xc_max_size);
		return (-1);
	}
	if (type < 0 || type >= DOC_NTYPES) {
		xerr_set(err, "unsupported-type", "type %d", type);
		return (-1);
	}
	if (type == DOC_NDJSON)
		return (extract_ndjson(xc, data, len, 0, cb, arg, err));

	buf_init(&fixed);
	foreign = type == DOC_HTML && extract_foreign_charset(data, len);
	if (type != DOC_PDF &&
	    (extract_binary(data, len, !foreign, err) == -1 ||
	    (!foreign && extract_utf8(xc, &data, &len, &fixed, err) == -1))) {
		buf_free(&fixed);
		return (-1);
	}

	xdoc_init(&doc);
	doc.xd_type = type;
	switch (type) {
	case DOC_TEXT:
		rv = extract_text(xc, data, len, &doc, err);
		break;
	case DOC_MARKDOWN:
		rv = extract_md(xc, data, len, &doc, err);
		break;
	case DOC_HTML:
		rv = extract_html(xc, data, len, &doc, err);
		break;
	case DOC_JSON:
		rv = extract_json(xc, data, len, &doc, err);
		break;
	case DOC_CODE:
		rv = extract_code(xc, name, data, len, &doc, err);
		break;
	default:
		rv = extract_pdf(xc, data, len, &doc, err);
		break;
	}
	buf_free(&fixed);
	if (rv == 0 && doc.xd_text.b_len > xc->xc_max_text) {
		xerr_set(err, "too-large", "%zu bytes of text, more than "
		    "max-text-size %llu", doc.xd_text.b_len,
		    (unsigned long long)xc->xc_max_text);
		rv = -1;
	}
	if (rv != 0) {
		if (err->xe_code[0] == '\0')
			xerr_set(err, "parse-error", "%s", extract_type_name(type));
		xdoc_free(&doc);
		return (-1);
	}

	if (!utf8_valid(doc.xd_text.b_data, doc.xd_text.b_len, NULL))
		extract_fix_text(&doc);
	/* An HTML page of a charset we cannot read gives its bytes as such. */
	extract_fix_str(&doc.xd_title);
	for (i = 0; i < doc.xd_nattrs; i++)
		extract_fix_str(&doc.xd_attrs[i].xa_value);
	buf_cstr(&doc.xd_text);
	doc.xd_type = type;
	if (doc.xd_id == NULL)
		doc.xd_id = xstrdup(name);
	if (doc.xd_title == NULL)
		extract_title(&doc, name);
	rv = cb(&doc, NULL, arg);
	xdoc_free(&doc);
	return (rv);
}

