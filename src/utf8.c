/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * UTF-8 checking, repair and normalization for the text path.
 *
 * Well-formed means Table 3-7 of the Unicode standard: no overlong forms,
 * no surrogates (U+D800 to U+DFFF), nothing above U+10FFFF.  utf8_seq()
 * reads one sequence and, when it is ill-formed, says how long its
 * "maximal subpart" is: the longest prefix that could still have begun a
 * well-formed sequence, at least one byte.  Repair replaces each maximal
 * subpart with one U+FFFD, the practice Unicode recommends (and WHATWG
 * requires), so "\xe1\x80" + "a" is one replacement, while "\xc0\xaf" and
 * "\xed\xa0\x80" are two and three because no well-formed sequence starts
 * "\xc0" or "\xed\xa0".
 *
 * Normalization is NFKC with full case folding and default-ignorable code
 * points removed, done by utf8proc.  Most input is ASCII, for which that
 * is just lowercasing, so only runs holding non-ASCII bytes go to
 * utf8proc.  Such a run begins at the ASCII byte before the first
 * non-ASCII one, since a combining mark may compose with it ("e" U+0301
 * is U+00E9), and ends before the next ASCII byte: no ASCII character is
 * the second half of a composition, and all of them are starters, so
 * nothing reorders or composes across that point.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "quire.h"

#define UTF8_NFKC_CF	(UTF8PROC_STABLE | UTF8PROC_COMPAT | \
			    UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | \
			    UTF8PROC_IGNORE)
#define UTF8_HIGH8	0x8080808080808080ULL
#define UTF8_STACK	256	/* code points decomposed without malloc */

static int	 utf8_seq(const unsigned char *, size_t, size_t *);
static size_t	 utf8_ascii_span(const unsigned char *, size_t);
static int	 utf8_nfkc_run(const char *, size_t, struct buf *);

static const char	 utf8_fffd[] = "\xef\xbf\xbd";

/*
 * One sequence at p: 1 and its length in *n if well-formed, else 0 and
 * the length of its maximal subpart.
 */
static int
utf8_seq(const unsigned char *p, size_t len, size_t *n)
{
	unsigned char	 c = p[0], lo = 0x80, hi = 0xbf;
	size_t		 need, i;

	if (c < 0x80) {
		*n = 1;
		return (1);
	}
	if (c >= 0xc2 && c <= 0xdf)
		need = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		/* 0x80-0xc1 (continuation, overlong lead), 0xf5-0xff */
		*n = 1;
		return (0);
	}
	for (i = 1; i < need; i++) {
		if (i >= len || p[i] < lo || p[i] > hi) {
			*n = i;
			return (0);
		}
		lo = 0x80;
		hi = 0xbf;
	}
	*n = need;
	return (1);
}

/* Bytes of ASCII at the start of p, eight at a time. */
static size_t
utf8_ascii_span(const unsigned char *p, size_t len)
{
	uint64_t	 w;
	size_t		 i = 0;

	while (len - i >= 8) {
		memcpy(&w, p + i, sizeof(w));
		if (w & UTF8_HIGH8)
			break;
		i += 8;
	}
	while (i < len && p[i] < 0x80)
		i++;
	return (i);
}

int
utf8_valid(const char *s, size_t len, size_t *bad_off)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, n;

	/* An empty buffer's pointer may be NULL: no arithmetic on it. */
	if (len == 0)
		return (1);
	for (;;) {
		i += utf8_ascii_span(p + i, len - i);
		if (i == len)
			break;
		if (!utf8_seq(p + i, len - i, &n)) {
			if (bad_off != NULL)
				*bad_off = i;
			return (0);
		}
		i += n;
	}
	return (1);
}

size_t
utf8_repair(const char *s, size_t len, struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, good = 0, n, nrep = 0;

	if (len == 0)
		return (0);
	buf_reserve(out, len);
	while (i < len) {
		i += utf8_ascii_span(p + i, len - i);
		if (i == len)
			break;
		if (utf8_seq(p + i, len - i, &n)) {
			i += n;
			continue;
		}
		buf_add(out, s + good, i - good);
		buf_add(out, utf8_fffd, sizeof(utf8_fffd) - 1);
		nrep++;
		i += n;
		good = i;
	}
	buf_add(out, s + good, len - good);
	return (nrep);
}

/*
 * NFKC casefold of one run with utf8proc.  The decomposition goes to a
 * stack array when it fits, which it does for words and short phrases,
 * so a run costs no malloc.
 */
static int
utf8_nfkc_run(const char *s, size_t len, struct buf *out)
{
	utf8proc_int32_t	 stack[UTF8_STACK + 1], *cp = stack;
	utf8proc_ssize_t	 n, cap = UTF8_STACK;
	int			 rv = -1;

	n = utf8proc_decompose((const utf8proc_uint8_t *)s, len, cp, cap,
	    UTF8_NFKC_CF);
	if (n > cap) {
		/* One spare: reencode ends with a NUL. */
		cp = xreallocarray(NULL, n + 1, sizeof(*cp));
		cap = n;
		n = utf8proc_decompose((const utf8proc_uint8_t *)s, len, cp,
		    cap, UTF8_NFKC_CF);
	}
	if (n < 0 || n > cap)
		goto done;
	n = utf8proc_reencode(cp, n, UTF8_NFKC_CF);
	if (n < 0)
		goto done;
	buf_add(out, cp, n);
	rv = 0;
done:
	if (cp != stack)
		free(cp);
	return (rv);
}

int
utf8_normalize(const char *s, size_t len, struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, a, start, k;
	char			*d;

	buf_reserve(out, len);
	while (i < len) {
		a = utf8_ascii_span(p + i, len - i);
		/* Leave the last ASCII byte to the run it may compose in. */
		if (i + a < len && a > 0)
			a--;
		if (a > 0) {
			buf_reserve(out, a);
			d = out->b_data + out->b_len;
			for (k = 0; k < a; k++) {
				d[k] = s[i + k];
				if (d[k] >= 'A' && d[k] <= 'Z')
					d[k] += 'a' - 'A';
			}
			out->b_len += a;
			i += a;
			if (i == len)
				break;
		}
		start = i;
		if (p[i] < 0x80)
			i++;
		while (i < len && p[i] >= 0x80)
			i++;
		if (utf8_nfkc_run(s + start, i - start, out) == -1)
			return (-1);
	}
	return (0);
}
