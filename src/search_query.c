/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The query language: a query's text read into its items (words,
 * phrases, prefixes; required, optional or excluded) and their terms,
 * for search.c to score.
 *
 * Query language:
 *
 *	word		optional: adds to the score when present
 *	+word		required; -word excluded
 *	"two words"	a phrase: the words next to each other, in order
 *	word*		a prefix: any word beginning so, not stemmed; the
 *			first 64 such words in byte order, the same in every
 *			segment
 *	a AND b		both required (AND binds its two neighbours)
 *	a OR b		either: the default, said aloud
 *	NOT word	excluded, as -word
 *
 * AND, OR and NOT are operators in capitals only and when not signed
 * or quoted ("and", +AND and "AND" are words).  An operator without
 * its operands, AND with OR in one query (there is no grouping), an
 * unbalanced quote and a query that only excludes are errors, so that
 * a mistyped query says so instead of finding nothing.
 *
 * Words are normalized and stemmed as the index was (tokenize.c), so
 * "Connections" finds "connect".
 *
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

struct sparse {
	struct squery	*sp_q;
	const char	*sp_src;	/* the item's text */
	int		 sp_item;
	int		 sp_prefix;
	int		 sp_phrase;
	int		 sp_ppos;
	int		 sp_overflow;
	size_t		 sp_base;	/* of the text tokenized */
};

static int
search_query_term(const struct token *t, void *arg)
{
	struct sparse	*sp = arg;
	struct squery	*q = sp->sp_q;
	struct sterm	*st;

	if (q->q_nterms == SEARCH_TERMS_MAX) {
		sp->sp_overflow = 1;
		return (1);
	}
	st = &q->q_terms[q->q_nterms++];
	memset(st, 0, sizeof(*st));
	st->st_key[0] = IX_BODY;
	st->st_len = t->t_len < IX_TERM_MAX - 1 ? t->t_len : IX_TERM_MAX - 1;
	memcpy(st->st_key + 1, t->t_text, st->st_len);
	st->st_len++;
	st->st_rawlen = t->t_srclen < sizeof(st->st_raw) ? t->t_srclen : 0;
	memcpy(st->st_raw, sp->sp_src + t->t_off, st->st_rawlen);
	st->st_item = sp->sp_item;
	st->st_prefix = sp->sp_prefix;
	st->st_phrase = sp->sp_phrase;
	st->st_ppos = sp->sp_ppos++;
	st->st_woff = sp->sp_base + t->t_off;
	st->st_wlen = t->t_srclen;
	st->st_quoted = sp->sp_phrase >= 0;
	return (0);
}

struct tokenizer *
search_query_plain(void)
{
	static struct tokenizer	*plain;

	if (plain == NULL)
		plain = tokenizer_new("none", 0);
	return (plain);
}

/* The operator a bare word of the query is, or 0: a word. */
static int
search_query_op(const char *s, size_t len)
{
	if (len == 3 && memcmp(s, "AND", 3) == 0)
		return ('&');
	if (len == 2 && memcmp(s, "OR", 2) == 0)
		return ('|');
	if (len == 3 && memcmp(s, "NOT", 3) == 0)
		return ('!');
	return (0);
}

static const char *
search_query_opname(int op)
{
	return (op == '&' ? "AND" : op == '|' ? "OR" : "NOT");
}

/*
 * The words of one item, s to e of the query: its terms, and whether it
 * is a phrase.  1 when it has words, 0 when it has none (only stop words
 * or punctuation), -1 with err said.
 */
static int
search_query_item(struct sparse *sp, struct tokenizer *tk,
    const char *query, const char *s, const char *e, char *err,
    size_t errlen)
{
	struct squery	*q = sp->sp_q;
	size_t		 first, i;

	sp->sp_item = q->q_nitems;
	sp->sp_ppos = 0;
	sp->sp_prefix = e > s && e[-1] == '*' && (s == query ||
	    s[-1] != '"');
	if (sp->sp_prefix)
		e--;
	first = q->q_nterms;
	sp->sp_src = s;
	sp->sp_phrase = -1;
	if (s > query && s[-1] == '"') {
		if (q->q_nphrases == SEARCH_PHRASE_MAX) {
			snprintf(err, errlen, "too many phrases");
			return (-1);
		}
		sp->sp_phrase = q->q_nphrases;
	}
	sp->sp_base = s - query;
	if (tokenizer_run(sp->sp_prefix ? search_query_plain() : tk,
	    s, e - s, 0, search_query_term, sp) != 0 && sp->sp_overflow) {
		snprintf(err, errlen, "too many query words (%d)",
		    SEARCH_TERMS_MAX);
		return (-1);
	}
	if (q->q_nterms == first)
		return (0);
	if (sp->sp_phrase >= 0) {
		if (q->q_nterms - first > 1) {
			q->q_items[q->q_nitems].si_phrase = 1;
			q->q_nphrases++;
		} else
			q->q_terms[first].st_phrase = -1;
	}
	/* A prefix applies to the item's last word only. */
	for (i = first; i + 1 < q->q_nterms; i++)
		q->q_terms[i].st_prefix = 0;
	return (1);
}

/* The items' masks, once all are read; -1 for a query of nothing. */
static int
search_query_masks(struct squery *q, char *err, size_t errlen)
{
	size_t	 i;
	int	 positive = 0;

	for (i = 0; i < q->q_nitems; i++) {
		/* An excluded phrase excludes where it occurs, not by word. */
		if (q->q_items[i].si_excluded) {
			q->q_negmask |= 1U << i;
			if (!q->q_items[i].si_phrase)
				q->q_exmask |= 1U << i;
			continue;
		}
		positive = 1;
		if (q->q_items[i].si_required || q->q_items[i].si_phrase)
			q->q_reqmask |= 1U << i;
	}
	if (q->q_nitems == 0) {
		snprintf(err, errlen, "empty query");
		return (-1);
	}
	if (!positive) {
		snprintf(err, errlen, "nothing to look for: every word of the "
		    "query is excluded");
		return (-1);
	}
	return (0);
}

int
search_query_parse(struct tokenizer *tk, const char *query, struct squery *q,
    char *err, size_t errlen)
{
	struct sparse	 sp;
	const char	*p = query, *s, *e;
	struct sitem	*it;
	int		 sign, op, binop = 0, neg = 0, prev = -1, seen = 0;
	int		 ands = 0, ors = 0, rc;

	memset(q, 0, sizeof(*q));
	memset(&sp, 0, sizeof(sp));
	sp.sp_q = q;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		sign = 0;
		if (*p == '+' || *p == '-')
			sign = *p++;
		if (*p == '"') {
			s = ++p;
			if ((e = strchr(s, '"')) == NULL) {
				snprintf(err, errlen, "unbalanced quote: the "
				    "phrase at byte %zu has no closing quote",
				    (size_t)(s - 1 - query));
				return (-1);
			}
			p = e + 1;
		} else {
			s = p;
			while (*p != '\0' && *p != ' ' && *p != '\t' &&
			    *p != '\n')
				p++;
			e = p;
			op = sign == 0 ? search_query_op(s, e - s) : 0;
			if (op == '!') {
				if (neg) {
					snprintf(err, errlen, "NOT NOT: say "
					    "what to exclude after NOT");
					return (-1);
				}
				neg = 1;
				continue;
			}
			if (op != 0) {
				if (!seen || binop || neg) {
					snprintf(err, errlen, "%s needs a word "
					    "or a phrase before it",
					    search_query_opname(op));
					return (-1);
				}
				binop = op;
				ands += op == '&';
				ors += op == '|';
				continue;
			}
		}
		if (neg) {
			if (sign != 0) {
				snprintf(err, errlen, "NOT %c: say NOT word "
				    "or %cword, not both", sign, sign);
				return (-1);
			}
			sign = '-';
		}
		seen = 1;
		if (q->q_nitems == SEARCH_ITEMS_MAX) {
			snprintf(err, errlen, "too many query items (%d)",
			    SEARCH_ITEMS_MAX);
			return (-1);
		}
		/* a AND b: both sides required, unless excluded. */
		if (binop == '&' && prev >= 0 && !q->q_items[prev].si_excluded)
			q->q_items[prev].si_required = 1;
		it = &q->q_items[q->q_nitems];
		memset(it, 0, sizeof(*it));
		it->si_required = sign == '+' ||
		    (binop == '&' && sign != '-');
		it->si_excluded = sign == '-';
		binop = neg = 0;
		prev = -1;
		if ((rc = search_query_item(&sp, tk, query, s, e, err,
		    errlen)) == -1)
			return (-1);
		if (rc == 1)
			prev = q->q_nitems++;
	}
	if (binop != 0 || neg) {
		snprintf(err, errlen, "%s needs a word or a phrase after it",
		    search_query_opname(neg ? '!' : binop));
		return (-1);
	}
	if (ands > 0 && ors > 0) {
		snprintf(err, errlen, "AND and OR in one query: say +word for "
		    "a required word (there is no grouping)");
		return (-1);
	}
	return (search_query_masks(q, err, errlen));
}
