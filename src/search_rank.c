/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Rescoring: what a chunk among the first hits gains for where the
 * query's words are in it, beyond BM25, which sees only how often.
 * search.c finds the first so_rank_window chunks by BM25 (pruned or
 * not, the same ones), hands each one's title and text here, adds the
 * bonus to its score and sorts them again; so the rescoring is the same
 * in pruned and --exact searches, and the hits past the window keep
 * their BM25 order after it.
 *
 * The chunk's title (for a document's first chunk, which holds its
 * title words) and text are tokenized as the index was, and each word
 * that is a query word (by its stem) counts for:
 *
 *	proximity	a query word with another one within RANK_SPAN
 *			words of it: 1/d for d words apart in the query's
 *			order, 1/(d+1) in the other; the best of each word.
 *			A phrase of the query's words in a row gets 1 for
 *			each, scattered words nothing.
 *	exact form	the word as typed (lower-cased), not only its stem:
 *			"plastered" over "plaster".
 *	heading		the word in the chunk's heading path ("Install >
 *			From source"), the headings of the section it is
 *			in: a field of its own, which BM25 does not see.
 *
 * The bonus is so_wprox times the sum over the query's words of idf x
 * proximity, plus so_wexact times the sum of idf over the words found
 * in their exact form, plus so_wheading times the sum of idf over the
 * words in the heading: at most (so_wprox + so_wexact + so_wheading) x
 * the sum of the words' idf.  A title, a heading and a text are apart:
 * no proximity across them.  At most RANK_TOKENS words of a text are
 * looked at.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "quire.h"

#define RANK_SPAN	8		/* words apart, at most, to count */
#define RANK_TOKENS	65536		/* words of a text looked at */

struct rank_scan {
	const struct rank_word	*rs_w;
	size_t			 rs_n;
	const char		*rs_src;	/* the text tokenized */
	size_t			 rs_tokens;
	int64_t			 rs_last[SEARCH_RANK_WORDS];
	double			 rs_close[SEARCH_RANK_WORDS];
	int			 rs_exact[SEARCH_RANK_WORDS];
	int			 rs_inhead;	/* scanning the heading */
	int			 rs_head[SEARCH_RANK_WORDS];
};

/* Is the token the word as typed, letter case aside? */
static int
search_rank_is_exact(const struct rank_scan *rs, const struct token *t,
    const struct rank_word *w)
{
	return (t->t_srclen == w->rw_rawlen && w->rw_rawlen > 0 &&
	    strncasecmp(rs->rs_src + t->t_off, w->rw_raw, w->rw_rawlen) == 0);
}

/* The closeness of word j at pos to the others' last places. */
static void
search_rank_near(struct rank_scan *rs, size_t j, int64_t pos)
{
	const struct rank_word	*w = rs->rs_w;
	double			 c;
	int64_t			 d;
	size_t			 i;

	for (i = 0; i < rs->rs_n; i++) {
		if (i == j || rs->rs_last[i] < 0 ||
		    (w[i].rw_stemlen == w[j].rw_stemlen &&
		    memcmp(w[i].rw_stem, w[j].rw_stem, w[i].rw_stemlen) == 0))
			continue;
		if ((d = pos - rs->rs_last[i]) < 1 || d > RANK_SPAN)
			continue;
		c = i < j ? 1.0 / d : 1.0 / (d + 1);
		if (c > rs->rs_close[i])
			rs->rs_close[i] = c;
		if (c > rs->rs_close[j])
			rs->rs_close[j] = c;
	}
}

static int
search_rank_token(const struct token *t, void *arg)
{
	struct rank_scan	*rs = arg;
	const struct rank_word	*w;
	size_t			 j;

	if (++rs->rs_tokens > RANK_TOKENS)
		return (1);
	for (j = 0; j < rs->rs_n; j++) {
		w = &rs->rs_w[j];
		if (t->t_len != w->rw_stemlen ||
		    memcmp(t->t_text, w->rw_stem, t->t_len) != 0)
			continue;
		if (!rs->rs_exact[j] && search_rank_is_exact(rs, t, w))
			rs->rs_exact[j] = 1;
		if (rs->rs_inhead)
			rs->rs_head[j] = 1;
		search_rank_near(rs, j, t->t_pos);
	}
	/* Then the places, so that a word is not near itself. */
	for (j = 0; j < rs->rs_n; j++) {
		w = &rs->rs_w[j];
		if (t->t_len == w->rw_stemlen &&
		    memcmp(t->t_text, w->rw_stem, t->t_len) == 0)
			rs->rs_last[j] = t->t_pos;
	}
	return (0);
}

/* Look through one text: a title or a chunk's text. */
static void
search_rank_scan(struct rank_scan *rs, struct tokenizer *tk,
    const char *text, size_t len)
{
	size_t	 j;

	if (text == NULL || len == 0)
		return;
	for (j = 0; j < rs->rs_n; j++)
		rs->rs_last[j] = -1;
	rs->rs_src = text;
	rs->rs_tokens = 0;
	(void)tokenizer_run(tk, text, len, 0, search_rank_token, rs);
}

/*
 * The bonus of a chunk with this title and heading (either may be NULL)
 * and text, for the query's words w[0] to w[n - 1] (at most
 * SEARCH_RANK_WORDS), with the weights of so.
 */
double
search_rank_bonus(struct tokenizer *tk, const struct rank_word *w, size_t n,
    const char *title, const char *heading, const char *text, size_t len,
    const struct search_opts *so)
{
	struct rank_scan	 rs;
	double			 bonus = 0.0;
	size_t			 j;

	if (n > SEARCH_RANK_WORDS)
		n = SEARCH_RANK_WORDS;
	memset(&rs, 0, sizeof(rs));
	rs.rs_w = w;
	rs.rs_n = n;
	if (title != NULL)
		search_rank_scan(&rs, tk, title, strlen(title));
	if (heading != NULL) {
		rs.rs_inhead = 1;
		search_rank_scan(&rs, tk, heading, strlen(heading));
		rs.rs_inhead = 0;
	}
	search_rank_scan(&rs, tk, text, len);
	for (j = 0; j < n; j++)
		bonus += w[j].rw_idf * (so->so_wprox * rs.rs_close[j] +
		    (rs.rs_exact[j] ? so->so_wexact : 0.0) +
		    (rs.rs_head[j] ? so->so_wheading : 0.0));
	return (bonus);
}
