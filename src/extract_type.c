/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Document types: by name, by the content type an uploader gives, and
 * by a file's name and first bytes (sniffing), before any parser runs.
 * Kept apart from the parsers (extract.c), so that a program that only
 * submits (quirectl) links none of their libraries.
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
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "quire.h"

#define EXTRACT_BINARY_SCAN	8192	/* bytes looked at for NUL */
#define EXTRACT_HEAD_SCAN	1024	/* bytes looked at for markup */
#define EXTRACT_NDJSON_LINES	2	/* '{' lines that make NDJSON */
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
extract_type_sniff(const char *name, const void *data, size_t len)
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
