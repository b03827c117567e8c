/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Source code.  The text is the file as written, in BLK_CODE blocks, one
 * per run of lines between blank lines (a function, a group of
 * declarations, a comment), so comments, docstrings and string literals
 * are all searchable as they stand.
 *
 * What code adds is names: "parseHttpRequest" is one word to the
 * tokenizer, but a reader searches for "parse http request".  So each
 * compound identifier outside string literals, in code and in comments,
 * is split by tokenize_split_ident and its parts are appended to the
 * block, on a line after its code.  String literals are left alone:
 * splitting a base64 blob or a hash gives nonsense words.
 *
 * For that a small lexer follows each language's comments, chosen by
 * the file's extension:
 *
 *	C, C++, Java, JS, Go, Rust...	/ * * / and //
 *	shell, Python, Perl, Ruby...	# (where a word may start)
 *	Lua, SQL, Haskell		-- (Lua --[[ ]]; SQL also / * * /)
 *	Lisps				;
 *	Erlang				%
 *	unknown				/ * * /, // and #
 *
 * Comments matter even though they are kept whole: the apostrophe of
 * "don't" in a comment must not open a character literal.  A quote opens
 * a string only if it closes on the same line, Python's triple-quoted
 * strings (docstrings) excepted, so a Rust lifetime or a Lisp quote
 * costs nothing.  The lexer is wrong at times (a here-document, a
 * regular expression); the text is unchanged then, only some names go
 * unsplit, or a string's words are split.
 *
 * No line may be longer than xc_max_line ("line-too-long"): minified
 * code has nothing to offer a search.
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "quire.h"

#define CS_SLASH	0x01	/* C comments */
#define CS_HASH		0x02	/* # */
#define CS_DASH		0x04	/* -- */
#define CS_LUA		0x08	/* --[[ ]] */
#define CS_SEMI		0x10	/* ; */
#define CS_PERCENT	0x20	/* % */
#define CS_TRIPLE	0x40	/* Python """ and ''' */

#define CODE_DEFAULT	(CS_SLASH | CS_HASH)

enum code_lex {
	CL_CODE = 0,
	CL_COMMENT,		/* a block comment */
	CL_TRIPLE		/* a triple-quoted string */
};

static const struct {
	const char	*ext;
	int		 style;
} code_styles[] = {
	{ "c", CS_SLASH }, { "h", CS_SLASH }, { "cc", CS_SLASH },
	{ "cpp", CS_SLASH }, { "cxx", CS_SLASH }, { "hpp", CS_SLASH },
	{ "hh", CS_SLASH }, { "hxx", CS_SLASH }, { "m", CS_SLASH },
	{ "mm", CS_SLASH }, { "java", CS_SLASH }, { "js", CS_SLASH },
	{ "mjs", CS_SLASH }, { "cjs", CS_SLASH }, { "jsx", CS_SLASH },
	{ "ts", CS_SLASH }, { "tsx", CS_SLASH }, { "go", CS_SLASH },
	{ "rs", CS_SLASH }, { "swift", CS_SLASH }, { "kt", CS_SLASH },
	{ "kts", CS_SLASH }, { "scala", CS_SLASH }, { "cs", CS_SLASH },
	{ "zig", CS_SLASH }, { "dart", CS_SLASH },
	{ "php", CS_SLASH | CS_HASH },
	{ "py", CS_HASH | CS_TRIPLE }, { "pyi", CS_HASH | CS_TRIPLE },
	{ "sh", CS_HASH }, { "bash", CS_HASH }, { "zsh", CS_HASH },
	{ "ksh", CS_HASH }, { "pl", CS_HASH }, { "pm", CS_HASH },
	{ "rb", CS_HASH }, { "r", CS_HASH }, { "tcl", CS_HASH },
	{ "awk", CS_HASH }, { "mk", CS_HASH }, { "cmake", CS_HASH },
	{ "nim", CS_HASH }, { "jl", CS_HASH }, { "ex", CS_HASH },
	{ "exs", CS_HASH }, { "am", CS_HASH }, { "ac", CS_HASH },
	{ "build", CS_HASH },
	{ "lua", CS_DASH | CS_LUA }, { "sql", CS_DASH | CS_SLASH },
	{ "hs", CS_DASH },
	{ "el", CS_SEMI }, { "lisp", CS_SEMI }, { "scm", CS_SEMI },
	{ "clj", CS_SEMI },
	{ "erl", CS_PERCENT }
};

static const char *code_hash_names[] = {
	"Makefile", "makefile", "GNUmakefile", "Dockerfile", "Rakefile",
	"Gemfile", "CMakeLists.txt"
};

struct code_state {
	int		 cs_style;
	int		 cs_lex;
	const char	*cs_close;	/* what ends the comment or string */
	struct buf	 cs_block;	/* the lines of the block */
	struct buf	 cs_names;	/* split names for the block */
	struct buf	 cs_split;
};

static int	 code_style(const char *);
static int	 code_ident(int);
static void	 code_name(struct code_state *, const char *, size_t);
static void	 code_words(struct code_state *, const char *, size_t);
static size_t	 code_string(const char *, size_t, size_t);
static void	 code_line(struct code_state *, const char *, size_t);
static void	 code_flush(struct code_state *, struct xdoc *);

static int
code_style(const char *name)
{
	const char	*base, *dot;
	size_t		 i;

	if ((base = strrchr(name, '/')) != NULL)
		base++;
	else
		base = name;
	for (i = 0; i < sizeof(code_hash_names) / sizeof(code_hash_names[0]);
	    i++)
		if (strcmp(base, code_hash_names[i]) == 0)
			return (CS_HASH);
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		return (CODE_DEFAULT);
	for (i = 0; i < sizeof(code_styles) / sizeof(code_styles[0]); i++)
		if (strcasecmp(dot + 1, code_styles[i].ext) == 0)
			return (code_styles[i].style);
	return (CODE_DEFAULT);
}

/* Bytes of identifiers: ASCII letters, digits, '_', and non-ASCII. */
static int
code_ident(int c)
{
	return (isalnum(c) || c == '_' || c >= 0x80);
}

/* A name in code: its parts, if it has more than one. */
static void
code_name(struct code_state *cs, const char *p, size_t n)
{
	const char	*s;
	size_t		 len;

	buf_reset(&cs->cs_split);
	tokenize_split_ident(p, n, &cs->cs_split);
	s = cs->cs_split.b_data;
	len = cs->cs_split.b_len;
	/* The parts come before the name itself, which the code has. */
	if (len > n + 1 && memcmp(s + len - n, p, n) == 0 &&
	    s[len - n - 1] == ' ')
		len -= n + 1;
	if (len == n && memcmp(s, p, n) == 0)
		return;
	if (cs->cs_names.b_len > 0)
		buf_addc(&cs->cs_names, ' ');
	buf_add(&cs->cs_names, s, len);
}

/* The names among the words of code or a comment. */
static void
code_words(struct code_state *cs, const char *p, size_t n)
{
	size_t	 i = 0, s;

	while (i < n) {
		if (!code_ident((unsigned char)p[i])) {
			i++;
			continue;
		}
		s = i;
		while (i < n && code_ident((unsigned char)p[i]))
			i++;
		if (!isdigit((unsigned char)p[s]))
			code_name(cs, p + s, i - s);
	}
}

/*
 * The string literal opening at p[i]: the bytes up to its closing quote,
 * or 0 if it does not close on this line.
 */
static size_t
code_string(const char *p, size_t n, size_t i)
{
	size_t	 j;
	int	 q = p[i];

	for (j = i + 1; j < n; j++) {
		if (p[j] == '\\')
			j++;
		else if (p[j] == q)
			return (j + 1 - i);
	}
	return (0);
}

/* One line: its text to the block, its names to cs_names. */
static void
code_line(struct code_state *cs, const char *p, size_t n)
{
	const char	*e;
	size_t		 i = 0, code = 0, k, m;

	if (cs->cs_block.b_len > 0)
		buf_addc(&cs->cs_block, '\n');
	buf_add(&cs->cs_block, p, n);

	while (i < n) {
		if (cs->cs_lex != CL_CODE) {
			m = strlen(cs->cs_close);
			e = memmem(p + i, n - i, cs->cs_close, m);
			k = e != NULL ? (size_t)(e - p) : n;
			if (cs->cs_lex == CL_COMMENT)
				code_words(cs, p + i, k - i);
			if (e == NULL)
				return;
			i = k + m;
			cs->cs_lex = CL_CODE;
			code = i;
			continue;
		}
		k = n - i;
		if ((cs->cs_style & CS_SLASH) && k >= 2 && p[i] == '/' &&
		    (p[i + 1] == '*' || p[i + 1] == '/')) {
			code_words(cs, p + code, i - code);
			if (p[i + 1] == '/') {
				code_words(cs, p + i + 2, n - i - 2);
				return;
			}
			cs->cs_lex = CL_COMMENT;
			cs->cs_close = "*/";
			i += 2;
		} else if ((cs->cs_style & CS_DASH) && k >= 2 && p[i] == '-' &&
		    p[i + 1] == '-') {
			code_words(cs, p + code, i - code);
			if ((cs->cs_style & CS_LUA) && k >= 4 &&
			    p[i + 2] == '[' && p[i + 3] == '[') {
				cs->cs_lex = CL_COMMENT;
				cs->cs_close = "]]";
				i += 4;
				continue;
			}
			code_words(cs, p + i + 2, n - i - 2);
			return;
		} else if (((cs->cs_style & CS_HASH) && p[i] == '#' &&
		    (i == 0 || isspace((unsigned char)p[i - 1]) ||
		    p[i - 1] == ';')) ||
		    ((cs->cs_style & CS_SEMI) && p[i] == ';') ||
		    ((cs->cs_style & CS_PERCENT) && p[i] == '%')) {
			code_words(cs, p + code, i - code);
			code_words(cs, p + i + 1, n - i - 1);
			return;
		} else if ((cs->cs_style & CS_TRIPLE) && k >= 3 &&
		    (p[i] == '"' || p[i] == '\'') && p[i + 1] == p[i] &&
		    p[i + 2] == p[i]) {
			code_words(cs, p + code, i - code);
			cs->cs_lex = CL_TRIPLE;
			cs->cs_close = p[i] == '"' ? "\"\"\"" : "'''";
			i += 3;
		} else if ((p[i] == '"' || p[i] == '\'' || p[i] == '`') &&
		    (m = code_string(p, n, i)) > 0) {
			code_words(cs, p + code, i - code);
			i += m;
			code = i;
		} else
			i++;
	}
	code_words(cs, p + code, n - code);
}

/* The block's lines, then a line of the parts of its names. */
static void
code_flush(struct code_state *cs, struct xdoc *doc)
{
	if (cs->cs_block.b_len == 0)
		return;
	if (cs->cs_names.b_len > 0) {
		buf_addc(&cs->cs_block, '\n');
		buf_add(&cs->cs_block, cs->cs_names.b_data,
		    cs->cs_names.b_len);
	}
	xdoc_block(doc, BLK_CODE, 0, cs->cs_block.b_data, cs->cs_block.b_len);
	buf_reset(&cs->cs_block);
	buf_reset(&cs->cs_names);
}

int
extract_code(const struct extract_conf *xc, const char *name,
    const char *data, size_t len, struct xdoc *doc, struct xerr *err)
{
	struct code_state	 cs;
	const char		*nl;
	size_t			 i, n, t, lineno = 0;
	int			 rv = 0;

	memset(&cs, 0, sizeof(cs));
	cs.cs_style = code_style(name != NULL ? name : "");
	buf_init(&cs.cs_block);
	buf_init(&cs.cs_names);
	buf_init(&cs.cs_split);
	for (i = 0; i < len; i += n + 1) {
		lineno++;
		nl = memchr(data + i, '\n', len - i);
		n = nl != NULL ? (size_t)(nl - (data + i)) : len - i;
		if (n > xc->xc_max_line) {
			xerr_set(err, "line-too-long", "line %zu (byte %zu) is "
			    "longer than max-line %llu", lineno, i,
			    (unsigned long long)xc->xc_max_line);
			rv = -1;
			break;
		}
		if (lineno % 4096 == 0 && xdoc_tick(xc, err) == -1) {
			rv = -1;
			break;
		}
		t = n;
		while (t > 0 && isspace((unsigned char)data[i + t - 1]))
			t--;
		if (t == 0 && cs.cs_lex == CL_CODE)
			code_flush(&cs, doc);
		else
			code_line(&cs, data + i, t);
	}
	if (rv == 0)
		code_flush(&cs, doc);
	buf_free(&cs.cs_block);
	buf_free(&cs.cs_names);
	buf_free(&cs.cs_split);
	return (rv);
}
