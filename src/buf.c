/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * A growable byte buffer for the text path, where extracted text,
 * normalized words and compressed chunks must be contiguous.  Growth is
 * by doubling with xreallocarray, so running out of memory is fatal, as
 * everywhere else; callers bound what they add.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
	free(b->b_data);
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	b->b_len = 0;
}

/* Room for n more bytes and a terminating NUL. */
void
buf_reserve(struct buf *b, size_t n)
{
	size_t	 cap;

	if (b->b_len + n + 1 <= b->b_cap)
		return;
	cap = b->b_cap == 0 ? 256 : b->b_cap;
	while (cap < b->b_len + n + 1) {
		if (cap > SIZE_MAX / 2)
			fatalx("%s: %zu bytes", __func__, b->b_len + n);
		cap *= 2;
	}
	b->b_data = xreallocarray(b->b_data, cap, 1);
	b->b_cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->b_data + b->b_len, p, n);
	b->b_len += n;
}

void
buf_addc(struct buf *b, int c)
{
	buf_reserve(b, 1);
	b->b_data[b->b_len++] = c;
}

void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* A printf onto the end of b, of any length. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b->b_data + b->b_len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->b_len += n;
}

char *
buf_cstr(struct buf *b)
{
	buf_reserve(b, 0);
	b->b_data[b->b_len] = '\0';
	return (b->b_data);
}
