/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the tokenizer (tokenize.c) with stemming and stop words,
 * without them, and the identifier splitter of extract_code.c.  Text
 * reaches the tokenizer as valid UTF-8 from extraction, but a query's
 * bytes come straight from a user, so any bytes are fed.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include "fuzz.h"

struct fuzz_tok {
	size_t		 ft_len;
	int		 ft_valid;	/* the input is valid UTF-8 */
	uint32_t	 ft_pos;
	size_t		 ft_n;
};

static int
fuzz_tokenize_cb(const struct token *t, void *arg)
{
	struct fuzz_tok	*ft = arg;

	FUZZ_ASSERT(t->t_len > 0 && t->t_len <= TOKEN_MAX);
	FUZZ_ASSERT(t->t_srclen > 0);
	FUZZ_ASSERT((size_t)t->t_off + t->t_srclen <= ft->ft_len);
	FUZZ_ASSERT(ft->ft_n == 0 || t->t_pos >= ft->ft_pos);
	FUZZ_ASSERT(!ft->ft_valid || utf8_valid(t->t_text, t->t_len, NULL));
	ft->ft_pos = t->t_pos;
	ft->ft_n++;
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tokenizer	*stem, *plain;
	struct fuzz_tok		 ft;
	struct buf		 b;

	fuzz_init();
	if (size > FUZZ_MAX_INPUT)
		return (0);
	if (stem == NULL && (stem = tokenizer_new("english", 1)) == NULL)
		fuzz_fail(__FILE__, __LINE__, "no english stemmer");
	if (plain == NULL && (plain = tokenizer_new("none", 0)) == NULL)
		fuzz_fail(__FILE__, __LINE__, "no plain tokenizer");

	memset(&ft, 0, sizeof(ft));
	ft.ft_len = size;
	ft.ft_valid = utf8_valid((const char *)data, size, NULL);
	FUZZ_ASSERT(tokenizer_run(stem, (const char *)data, size, 0,
	    fuzz_tokenize_cb, &ft) == 0);
	memset(&ft, 0, sizeof(ft));
	ft.ft_len = size;
	ft.ft_valid = utf8_valid((const char *)data, size, NULL);
	FUZZ_ASSERT(tokenizer_run(plain, (const char *)data, size, 0,
	    fuzz_tokenize_cb, &ft) == 0);

	buf_init(&b);
	(void)tokenize_split_ident((const char *)data, size, &b);
	buf_free(&b);
	return (0);
}
