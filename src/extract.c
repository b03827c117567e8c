/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Extraction: from the bytes of a file to documents of plain UTF-8 text
 * in blocks (paragraphs, headings, code), with a title and an id.  This
 * file holds what every type shares; extract_<type>.c hold the parsers.
 *
 * Sniffing trusts content where it is unambiguous and the file name
 * after that:
 *
 *	"%PDF-" at the start			pdf
 *	a NUL byte in the first 8 KB		unsupported (-1)
 *	'<' first, then "<!doctype html" or
 *	    "<html" in the first KB		html
 *	'{' first, and a .ndjson or .jsonl
 *	    name or lines that all begin '{'	ndjson
 *	'{' or '[' first, followed by what
 *	    JSON allows there			json
 *	the extension				markdown, html, json,
 *						ndjson, code or text
 *	"#!" at the start			code
 *	anything else				text
 *
 * "[![badge](...)]" opens many README.md files, so a '[' alone does not
 * make JSON.
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

#define EXTRACT_BINARY_SCAN	8192	/* bytes looked at for NUL */
#define EXTRACT_HEAD_SCAN	1024	/* bytes looked at for markup */
#define EXTRACT_NDJSON_LINES	2	/* '{' lines that make NDJSON */
#define EXTRACT_OPEN_TRIES	8	/* openat2 EAGAIN: a rename raced */
#define EXTRACT_BINARY_SHARE	8	/* 1 byte in 8 not text: binary */
#define EXTRACT_NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const char *extract_types[DOC_NTYPES] = {
	"text", "markdown", "html", "json", "ndjson", "code", "pdf"
};

/* File name extensions, lower case, for types content cannot tell. */
static const struct {
	const char	*ext;
	int		 type;
} extract_exts[] = {
	{ "md", DOC_MARKDOWN }, { "markdown", DOC_MARKDOWN },
	{ "mdown", DOC_MARKDOWN }, { "mkd", DOC_MARKDOWN },
	{ "html", DOC_HTML }, { "htm", DOC_HTML }, { "xhtml", DOC_HTML },
	{ "json", DOC_JSON },
	{ "ndjson", DOC_NDJSON }, { "jsonl", DOC_NDJSON },
	{ "c", DOC_CODE }, { "h", DOC_CODE }, { "cc", DOC_CODE },
	{ "cpp", DOC_CODE }, { "cxx", DOC_CODE }, { "hpp", DOC_CODE },
	{ "hh", DOC_CODE }, { "hxx", DOC_CODE }, { "m", DOC_CODE },
	{ "mm", DOC_CODE }, { "java", DOC_CODE }, { "js", DOC_CODE },
	{ "mjs", DOC_CODE }, { "cjs", DOC_CODE }, { "jsx", DOC_CODE },
	{ "ts", DOC_CODE }, { "tsx", DOC_CODE }, { "go", DOC_CODE },
	{ "rs", DOC_CODE }, { "swift", DOC_CODE }, { "kt", DOC_CODE },
	{ "kts", DOC_CODE }, { "scala", DOC_CODE }, { "cs", DOC_CODE },
	{ "php", DOC_CODE }, { "zig", DOC_CODE }, { "dart", DOC_CODE },
	{ "py", DOC_CODE }, { "pyi", DOC_CODE }, { "sh", DOC_CODE },
	{ "bash", DOC_CODE }, { "zsh", DOC_CODE }, { "ksh", DOC_CODE },
	{ "pl", DOC_CODE }, { "pm", DOC_CODE }, { "rb", DOC_CODE },
	{ "r", DOC_CODE }, { "tcl", DOC_CODE }, { "awk", DOC_CODE },
	{ "mk", DOC_CODE }, { "cmake", DOC_CODE }, { "lua", DOC_CODE },
	{ "sql", DOC_CODE }, { "hs", DOC_CODE }, { "ex", DOC_CODE },
	{ "exs", DOC_CODE }, { "erl", DOC_CODE }, { "ml", DOC_CODE },
	{ "mli", DOC_CODE }, { "el", DOC_CODE }, { "lisp", DOC_CODE },
	{ "scm", DOC_CODE }, { "clj", DOC_CODE }, { "jl", DOC_CODE },
	{ "nim", DOC_CODE }, { "vim", DOC_CODE },
	{ "txt", DOC_TEXT }, { "text", DOC_TEXT }, { "rst", DOC_TEXT },
	{ "pod", DOC_TEXT }
};

/*
 * Content types an uploader may give (before any ";" parameters), and
 * the type each is read as.
 */
static const struct {
	const char	*mime;
	int		 type;
} extract_mimes[] = {
	{ "text/plain", DOC_TEXT },
	{ "text/markdown", DOC_MARKDOWN }, { "text/x-markdown", DOC_MARKDOWN },
	{ "text/html", DOC_HTML }, { "application/xhtml+xml", DOC_HTML },
	{ "application/json", DOC_JSON },
	{ "application/x-ndjson", DOC_NDJSON },
	{ "application/ndjson", DOC_NDJSON },
	{ "application/jsonl", DOC_NDJSON },
	{ "application/pdf", DOC_PDF },
	{ "text/x-c", DOC_CODE }, { "text/x-csrc", DOC_CODE },
	{ "text/x-python", DOC_CODE }, { "text/x-shellscript", DOC_CODE },
	{ "application/javascript", DOC_CODE },
	{ "text/javascript", DOC_CODE }
};

/* Whole file names that are code. */
static const char *extract_code_names[] = {
	"Makefile", "makefile", "GNUmakefile", "Makefile.am", "Dockerfile",
	"Rakefile", "Gemfile", "CMakeLists.txt", "configure.ac", "meson.build"
};

static int	 extract_ieq(const char *, size_t, const char *);
static size_t	 extract_skip_space(const char *, size_t, size_t);
static const char *extract_basename(const char *);
static int	 extract_json_start(const char *, size_t, size_t);
static int	 extract_ndjson_lines(const char *, size_t);
static int	 extract_html_start(const char *, size_t, size_t);
static int	 extract_by_name(const char *);
static int	 extract_foreign_charset(const char *, size_t);
static int	 extract_binary(const char *, size_t, int, struct xerr *);
static int	 extract_utf8(const struct extract_conf *, const char **,
		    size_t *, struct buf *, struct xerr *);
static void	 extract_fix_text(struct xdoc *);
static void	 extract_title(struct xdoc *, const char *);

void
extract_conf_defaults(struct extract_conf *xc)
{
	memset(xc, 0, sizeof(*xc));
	xc->xc_max_size = 64ULL << 20;
	xc->xc_max_text = 256ULL << 20;
	xc->xc_max_ratio = 100;
	xc->xc_max_depth = 256;
	xc->xc_max_line = 1ULL << 20;
	xc->xc_max_tokens = 0;		/* the size limits bound it */
	xc->xc_max_pages = 10000;
	xc->xc_utf8 = UTF8_REPAIR;
	xc->xc_id_field = "id";
	xc->xc_title_field = "title";
	xc->xc_text_field = "text";
}

const char *
extract_type_name(int type)
{
	if (type < 0 || type >= DOC_NTYPES)
		return ("unknown");
	return (extract_types[type]);
}

int
extract_type_parse(const char *s)
{
	int	 i;

	for (i = 0; i < DOC_NTYPES; i++)
		if (strcmp(s, extract_types[i]) == 0)
			return (i);
	return (-1);
}

/*
 * The type a content type names ("text/html; charset=utf-8"), case
 * aside, or -1 for one quire does not know.
 */
int
extract_type_mime(const char *ctype)
{
	size_t	 i, n;

	n = strcspn(ctype, "; \t");
	for (i = 0; i < EXTRACT_NITEMS(extract_mimes); i++)
		if (strlen(extract_mimes[i].mime) == n &&
		    strncasecmp(ctype, extract_mimes[i].mime, n) == 0)
			return (extract_mimes[i].type);
	return (-1);
}

/* Does p (n bytes or more) begin with the lower case word w? */
static int
extract_ieq(const char *p, size_t n, const char *w)
{
	size_t	 i, len;

	len = strlen(w);
	if (n < len)
		return (0);
	for (i = 0; i < len; i++)
		if (tolower((unsigned char)p[i]) != w[i])
			return (0);
	return (1);
}

static size_t
extract_skip_space(const char *p, size_t len, size_t i)
{
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' ||
	    p[i] == '\r' || p[i] == '\f'))
		i++;
	return (i);
}

static const char *
extract_basename(const char *name)
{
	const char	*s;

	if ((s = strrchr(name, '/')) != NULL)
		return (s + 1);
	return (name);
}

/* Is p[i], a '{' or '[', followed by what JSON allows after it? */
static int
extract_json_start(const char *p, size_t len, size_t i)
{
	int	 open = p[i];

	i = extract_skip_space(p, len, i + 1);
	if (i == len)
		return (1);
	if (open == '{')
		return (p[i] == '"' || p[i] == '}');
	return (p[i] == '{' || p[i] == '[' || p[i] == '"' || p[i] == ']' ||
	    p[i] == '-' || (p[i] >= '0' && p[i] <= '9') || p[i] == 't' ||
	    p[i] == 'f' || p[i] == 'n');
}

/*
 * Do the complete lines of the first few KB all begin with '{'?  A
 * pretty-printed object has lines that begin with spaces or '"'.
 */
static int
extract_ndjson_lines(const char *p, size_t len)
{
	const char	*nl;
	size_t		 i = 0, end, n = 0;

	if (len > EXTRACT_BINARY_SCAN)
		len = EXTRACT_BINARY_SCAN;
	while (i < len) {
		nl = memchr(p + i, '\n', len - i);
		end = nl != NULL ? (size_t)(nl - p) : len;
		if (end == len && n > 0)
			break;		/* the window may cut this one */
		if (end > i && !(end == i + 1 && p[i] == '\r')) {
			if (p[i] != '{')
				return (0);
			n++;
		}
		i = end + 1;
	}
	return (n >= EXTRACT_NDJSON_LINES);
}

/* Is there "<!doctype html" or "<html" near the start? */
static int
extract_html_start(const char *p, size_t len, size_t i)
{
	size_t	 end;

	end = len < EXTRACT_HEAD_SCAN ? len : EXTRACT_HEAD_SCAN;
	for (; i < end; i++) {
		if (p[i] != '<')
			continue;
		if (extract_ieq(p + i, len - i, "<!doctype html") ||
		    (extract_ieq(p + i, len - i, "<html") && i + 5 < len &&
		    (p[i + 5] == '>' || isspace((unsigned char)p[i + 5]))))
			return (1);
	}
	return (0);
}

/* The type a file name implies, or -1. */
static int
extract_by_name(const char *name)
{
	const char	*base, *dot;
	char		 ext[16];
	size_t		 i, n;

	base = extract_basename(name);
	for (i = 0; i < EXTRACT_NITEMS(extract_code_names); i++)
		if (strcmp(base, extract_code_names[i]) == 0)
			return (DOC_CODE);
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return (-1);
	if ((n = strlen(dot + 1)) == 0 || n >= sizeof(ext))
		return (-1);
	for (i = 0; i < n; i++)
		ext[i] = tolower((unsigned char)dot[1 + i]);
	ext[n] = '\0';
	for (i = 0; i < EXTRACT_NITEMS(extract_exts); i++)
		if (strcmp(ext, extract_exts[i].ext) == 0)
			return (extract_exts[i].type);
	return (-1);
}

int
extract_sniff(const char *name, const void *data, size_t len)
{
	const char	*p = data;
	size_t		 i;
	int		 type;

	if (len >= 5 && memcmp(p, "%PDF-", 5) == 0)
		return (DOC_PDF);
	if (memchr(p, '\0', len < EXTRACT_BINARY_SCAN ? len :
	    EXTRACT_BINARY_SCAN) != NULL)
		return (-1);
	i = 0;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	i = extract_skip_space(p, len, i);
	type = name != NULL ? extract_by_name(name) : -1;
	if (i < len && p[i] == '<' && extract_html_start(p, len, i))
		return (DOC_HTML);
	if (i < len && p[i] == '{' && extract_json_start(p, len, i) &&
	    (type == DOC_NDJSON || extract_ndjson_lines(p + i, len - i)))
		return (DOC_NDJSON);
	if (i < len && (p[i] == '{' || p[i] == '[') &&
	    extract_json_start(p, len, i))
		return (DOC_JSON);
	if (type != -1)
		return (type);
	if (len >= 2 && p[0] == '#' && p[1] == '!')
		return (DOC_CODE);
	return (DOC_TEXT);
}

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
		if (extract_ieq(p + i, len - i, "charset="))
			i += 8;
		else if (extract_ieq(p + i, len - i, "encoding="))
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
	doc->xd_title = xstrdup(extract_basename(name));
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
			xerr_set(err, "parse-error", "%s", extract_types[type]);
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

