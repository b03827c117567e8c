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

#include <zlib.h>

#include "quire.h"

#define BUF_GUNZIP_STEP	(1 << 20)	/* output room per inflate call */

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

/* Whether bytes are gzip, by the magic. */
int
buf_is_gzip(const void *data, size_t len)
{
	return (len >= 2 && memcmp(data, "\x1f\x8b", 2) == 0);
}

/*
 * Decompress gzip data into out, at most max bytes of it.  0: all of it;
 * 1: there was more than max (out holds the first max bytes); -1: not
 * valid gzip, with why.
 */
int
buf_gunzip(const void *data, size_t len, size_t max, struct buf *out,
    char *why, size_t whylen)
{
	z_stream	 zs;
	size_t		 room;
	int		 zr, rv = 0;

	buf_reset(out);
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(why, whylen, "zlib: %s", zs.msg != NULL ? zs.msg :
		    "cannot start");
		return (-1);
	}
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = len;
	for (;;) {
		if (out->b_len >= max) {
			rv = 1;
			break;
		}
		room = max - out->b_len < BUF_GUNZIP_STEP ? max - out->b_len :
		    BUF_GUNZIP_STEP;
		buf_reserve(out, room);
		zs.next_out = (Bytef *)out->b_data + out->b_len;
		zs.avail_out = room;
		zr = inflate(&zs, Z_NO_FLUSH);
		out->b_len += room - zs.avail_out;
		if (zr == Z_STREAM_END) {
			/* Another member follows, or the end. */
			if (zs.avail_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK)
				zr = Z_DATA_ERROR;
			else
				continue;
		}
		if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
			snprintf(why, whylen, "gzip: truncated");
			rv = -1;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			snprintf(why, whylen, "gzip: %s", zs.msg != NULL ?
			    zs.msg : "bad data");
			rv = -1;
			break;
		}
	}
	inflateEnd(&zs);
	return (rv);
}
