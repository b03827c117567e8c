/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Word segmentation, normalization and stemming: the words that go into
 * the index and that a query is made of.
 *
 * Segmentation.  A word is a maximal run of code points whose Unicode
 * general category is a letter (L*), a mark (M*) or a number (N*).
 * Everything else separates, the apostrophe, the period, the hyphen and
 * '_' included, so "don't" is "don" and "t", "3.14" is "3" and "14", and
 * "snake_case" is two words; a query is cut the same way, so phrases
 * still match.  Default-ignorable code points (soft hyphen, joiners,
 * variation selectors) neither start nor end a word and vanish in
 * normalization, except U+200B ZERO WIDTH SPACE, which is there to mark
 * a word boundary.  Scripts written without spaces: each Han ideograph
 * and each hiragana is a word of its own (unigrams, as UAX #29 does), a
 * run of katakana stays one word ("東京タワー" is 東, 京, タワー), and
 * Thai, Lao, Khmer and Myanmar runs become one long word, cut at
 * TOKEN_MAX: there is no dictionary segmenter here.
 *
 * Each word is NFKC casefolded (utf8_normalize), cut to TOKEN_MAX bytes
 * at a code point boundary, checked against the stop list and stemmed by
 * Snowball when it holds no number and is not CJK.  A stop word keeps
 * its position, so the position of a word is its true distance from the
 * others.  A normalized word may hold a character that separates in the
 * source ("⑴" is "(1)"); it stays one word.
 *
 * Speed.  ASCII words are classified and lowercased with one table
 * lookup per byte and never reach utf8proc.  Stemming is the costly
 * step, and words follow Zipf's law, so a direct-mapped cache of one
 * cache line per slot maps a normalized word to its stem (or to "stop
 * word") and most words never reach Snowball.  At 16384 slots (1 MB) it
 * misses about as often as a table of the 16384 most frequent words
 * would, so more ways would not help, only more slots.  A tokenizer is
 * meant to live as long as its worker, so the cache stays warm from one
 * document to the next.  Each slot also keeps TOKEN_MEMO words for the
 * caller (t_memo), zeroed when the slot takes another word: the index
 * keeps a word's term id there and skips its own term table.  Words of
 * up to TK_KEYMAX bytes fit in a slot beside them, which is nearly all
 * words of any language.  The cache is bigger than a core's own caches,
 * so a word's slot is fetched as soon as the word is whole, and the word
 * goes to the callback after the next one is read (a queue of one): the
 * slot is then at hand.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libstemmer.h>
#include <utf8proc.h>

#include "quire.h"

/* Code point classes for segmentation. */
#define TC_SEP		0
#define TC_WORD		1	/* letter */
#define TC_DIGIT	2	/* number */
#define TC_MARK		3	/* combining mark: extends a word */
#define TC_IGN		4	/* default-ignorable: transparent */
#define TC_KANA		5	/* katakana: runs stay together */
#define TC_IDEO		6	/* Han, hiragana: a word each */

/* Identifier classes for tokenize_split_ident. */
#define ID_SEP		0
#define ID_UPPER	1
#define ID_LOWER	2
#define ID_DIGIT	3

#define TK_KEYMAX	22	/* longest word the stem cache holds */
#define TK_CACHE	16384	/* slots, a power of two */
#define TK_STOP		0x01
#define TK_LANGMAX	32

struct tk_slot {
	uint64_t	 ts_memo[TOKEN_MEMO];	/* the caller's */
	uint8_t		 ts_klen;	/* 0: empty */
	uint8_t		 ts_flags;	/* TK_STOP */
	uint8_t		 ts_slen;
	char		 ts_key[TK_KEYMAX];
	char		 ts_stem[TK_KEYMAX + 1];
};
_Static_assert(sizeof(struct tk_slot) == 64, "a stem cache slot is a line");

/* The words being read and waiting, each in one of two buffers. */
struct tokenizer {
	struct sb_stemmer	*tk_stemmer;
	const char *const	*tk_stop;
	struct tk_slot		*tk_cache;	/* NULL: nothing to look up */
	struct buf		 tk_norm[2];
	char			 tk_word[2][TOKEN_MAX];
};

/* A whole word waiting for the callback, its slot being fetched. */
struct tk_wait {
	const char		*tw_w;		/* NULL: none */
	size_t			 tw_n;
	int			 tw_alpha;
	struct tk_slot		*tw_slot;
	struct token		 tw_t;
};

struct tk_stoplist {
	const char		*sl_names;	/* as sb_stemmer_new knows it */
	const char *const	*sl_words;	/* casefolded */
};

static int	 tokenize_lang_name(const char *, char *, size_t);
static const char *const *tokenize_stoplist(const char *);
static int	 tokenize_is_stop(const struct tokenizer *, const char *,
		    size_t);
static int	 tokenize_class(utf8proc_int32_t);
static int	 tokenize_decode(const unsigned char *, size_t,
		    utf8proc_int32_t *);
static size_t	 tokenize_cut(const char *, size_t);
static uint32_t	 tokenize_hash(const char *, size_t);
static struct tk_slot *tokenize_slot(struct tokenizer *, const char *,
		    size_t, int);
static int	 tokenize_lookup(struct tokenizer *, const char *, size_t,
		    struct tk_slot *, struct token *);
static int	 tokenize_emit(struct tokenizer *, struct tk_wait *, token_cb,
		    void *);
static int	 tokenize_queue(struct tokenizer *, struct tk_wait *,
		    const char *, size_t, int, const struct token *, token_cb,
		    void *);
static int	 tokenize_ident_class(const char *, size_t, size_t, size_t *);
static void	 tokenize_ident_part(struct buf *, const char *, size_t,
		    size_t *);

/*
 * ASCII bytes: letters and digits as their lowercase selves, 0 for
 * separators, 0x80 for the bytes of multibyte sequences.
 */
static const unsigned char tk_ascii[256] = {
	['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
	['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
	['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e',
	['F'] = 'f', ['G'] = 'g', ['H'] = 'h', ['I'] = 'i', ['J'] = 'j',
	['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n', ['O'] = 'o',
	['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't',
	['U'] = 'u', ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y',
	['Z'] = 'z',
	['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e',
	['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j',
	['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o',
	['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't',
	['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
	['z'] = 'z',
	[0x80 ... 0xff] = 0x80
};

/*
 * Short stop lists: articles, conjunctions, prepositions, pronouns and
 * forms of "to be" that carry no meaning for search.  English has "s"
 * and "t" because "'" splits "john's" and "don't"; French and Italian
 * have their elided articles for the same reason.
 */
static const char *const tk_stop_en[] = {
	"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if",
	"in", "into", "is", "it", "no", "not", "of", "on", "or", "s", "such",
	"t", "that", "the", "their", "then", "there", "these", "they",
	"this", "to", "was", "will", "with", NULL
};
static const char *const tk_stop_de[] = {
	"als", "am", "an", "auch", "auf", "aus", "bei", "das", "dass", "dem",
	"den", "der", "des", "die", "ein", "eine", "einem", "einen",
	"einer", "eines", "es", "für", "im", "in", "ist", "mit", "nicht",
	"oder", "sich", "und", "von", "zu", "zum", "zur", NULL
};
static const char *const tk_stop_fr[] = {
	"à", "au", "aux", "c", "ce", "d", "dans", "de", "des", "du", "elle",
	"en", "est", "et", "il", "j", "l", "la", "le", "les", "n", "ne",
	"ou", "par", "pas", "pour", "qu", "que", "qui", "s", "se", "sur",
	"un", "une", NULL
};
static const char *const tk_stop_es[] = {
	"al", "con", "de", "del", "el", "en", "es", "la", "las", "lo", "los",
	"o", "para", "por", "que", "se", "su", "un", "una", "y", NULL
};
static const char *const tk_stop_ru[] = {
	"а", "в", "во", "да", "же", "за", "и", "из", "к", "как", "на", "не",
	"но", "о", "от", "по", "с", "со", "то", "у", "что", NULL
};
static const char *const tk_stop_it[] = {
	"a", "al", "all", "c", "che", "con", "d", "da", "dell", "della",
	"di", "e", "è", "gli", "i", "il", "in", "l", "la", "le", "lo",
	"nell", "non", "per", "un", "una", NULL
};
static const char *const tk_stop_pt[] = {
	"a", "as", "com", "da", "das", "de", "do", "dos", "e", "é", "em",
	"na", "no", "o", "os", "para", "por", "que", "se", "um", "uma",
	NULL
};
static const char *const tk_stop_nl[] = {
	"aan", "dat", "de", "die", "een", "en", "er", "het", "in", "is",
	"met", "niet", "of", "op", "te", "van", "voor", NULL
};
static const char *const tk_stop_sv[] = {
	"att", "av", "de", "den", "det", "en", "ett", "för", "i", "med",
	"och", "om", "på", "som", "till", "är", NULL
};

static const struct tk_stoplist tk_stoplists[] = {
	{ "english en eng porter",	tk_stop_en },
	{ "german de ger deu",		tk_stop_de },
	{ "french fr fre fra",		tk_stop_fr },
	{ "spanish es esl spa",		tk_stop_es },
	{ "russian ru rus",		tk_stop_ru },
	{ "italian it ita",		tk_stop_it },
	{ "portuguese pt por",		tk_stop_pt },
	{ "dutch nl dut nld",		tk_stop_nl },
	{ "swedish sv swe",		tk_stop_sv },
};

/*
 * The language as Snowball names it, lowercased into name; "" for no
 * stemming.  -1 if it cannot be a language name.
 */
static int
tokenize_lang_name(const char *lang, char *name, size_t size)
{
	size_t	 i;

	name[0] = '\0';
	if (lang == NULL || *lang == '\0' || strcasecmp(lang, "none") == 0)
		return (0);
	for (i = 0; lang[i] != '\0'; i++) {
		if (i + 1 >= size)
			return (-1);
		if (lang[i] >= 'A' && lang[i] <= 'Z')
			name[i] = lang[i] - 'A' + 'a';
		else if ((lang[i] >= 'a' && lang[i] <= 'z') || lang[i] == '_')
			name[i] = lang[i];
		else
			return (-1);
	}
	name[i] = '\0';
	return (0);
}

static const char *const *
tokenize_stoplist(const char *name)
{
	const char	*s;
	size_t		 i, n;

	n = strlen(name);
	for (i = 0; i < sizeof(tk_stoplists) / sizeof(tk_stoplists[0]); i++) {
		for (s = tk_stoplists[i].sl_names; s != NULL;
		    s = strchr(s, ' ')) {
			if (*s == ' ')
				s++;
			if (strncmp(s, name, n) == 0 &&
			    (s[n] == ' ' || s[n] == '\0'))
				return (tk_stoplists[i].sl_words);
		}
	}
	return (NULL);
}

/* A linear scan is enough: the stem cache keeps it off the hot path. */
static int
tokenize_is_stop(const struct tokenizer *tk, const char *w, size_t n)
{
	const char *const	*s;

	if (tk->tk_stop == NULL)
		return (0);
	for (s = tk->tk_stop; *s != NULL; s++)
		if ((*s)[0] == w[0] && strncmp(*s, w, n) == 0 &&
		    (*s)[n] == '\0')
			return (1);
	return (0);
}

int
tokenizer_lang_ok(const char *lang)
{
	struct sb_stemmer	*st;
	char			 name[TK_LANGMAX];

	if (tokenize_lang_name(lang, name, sizeof(name)) == -1)
		return (0);
	if (name[0] == '\0')
		return (1);
	if ((st = sb_stemmer_new(name, "UTF_8")) == NULL)
		return (0);
	sb_stemmer_delete(st);
	return (1);
}

struct tokenizer *
tokenizer_new(const char *lang, int stopwords)
{
	struct tokenizer	*tk;
	char			 name[TK_LANGMAX];

	if (tokenize_lang_name(lang, name, sizeof(name)) == -1)
		return (NULL);
	tk = xcalloc(1, sizeof(*tk));
	buf_init(&tk->tk_norm[0]);
	buf_init(&tk->tk_norm[1]);
	if (name[0] != '\0') {
		/* NULL for an unknown language, or out of memory. */
		if ((tk->tk_stemmer = sb_stemmer_new(name, "UTF_8")) == NULL) {
			free(tk);
			return (NULL);
		}
		if (stopwords)
			tk->tk_stop = tokenize_stoplist(name);
	}
	/* A slot is a cache line: aligned, a look-up reads one. */
	if ((tk->tk_stemmer != NULL || tk->tk_stop != NULL) &&
	    (tk->tk_cache = aligned_alloc(64, TK_CACHE *
	    sizeof(*tk->tk_cache))) == NULL)
		fatal("%s: allocating the stem cache", __func__);
	if (tk->tk_cache != NULL)
		memset(tk->tk_cache, 0, TK_CACHE * sizeof(*tk->tk_cache));
	return (tk);
}

void
tokenizer_free(struct tokenizer *tk)
{
	if (tk == NULL)
		return;
	if (tk->tk_stemmer != NULL)
		sb_stemmer_delete(tk->tk_stemmer);
	free(tk->tk_cache);
	buf_free(&tk->tk_norm[0]);
	buf_free(&tk->tk_norm[1]);
	free(tk);
}

/* Ranges by hand: utf8proc has no script property. */
static int
tokenize_class(utf8proc_int32_t cp)
{
	const utf8proc_property_t	*pr;
	int				 cl;

	if (cp == 0x200b)
		return (TC_SEP);
	pr = utf8proc_get_property(cp);
	switch (pr->category) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
		cl = TC_WORD;
		break;
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		cl = TC_DIGIT;
		break;
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return (pr->ignorable ? TC_IGN : TC_MARK);
	default:
		return (pr->ignorable ? TC_IGN : TC_SEP);
	}
	if (cp < 0x2e80)
		return (cl);
	if ((cp >= 0x3005 && cp <= 0x3007) ||		/* 々 〆 〇 */
	    (cp >= 0x3021 && cp <= 0x3029) ||		/* Suzhou numerals */
	    (cp >= 0x3038 && cp <= 0x303b) ||
	    (cp >= 0x3040 && cp <= 0x309f) ||		/* hiragana */
	    (cp >= 0x3400 && cp <= 0x4dbf) ||		/* extension A */
	    (cp >= 0x4e00 && cp <= 0x9fff) ||		/* unified */
	    (cp >= 0xf900 && cp <= 0xfaff) ||		/* compatibility */
	    (cp >= 0x1b000 && cp <= 0x1b16f) ||		/* kana supplement */
	    (cp >= 0x20000 && cp <= 0x3ffff))		/* extensions B- */
		return (TC_IDEO);
	if ((cp >= 0x30a0 && cp <= 0x30ff) ||		/* katakana */
	    (cp >= 0x31f0 && cp <= 0x31ff) ||
	    (cp >= 0xff66 && cp <= 0xff9f))		/* halfwidth */
		return (TC_KANA);
	return (cl);
}

/* Bytes of the code point at p, or 1 with *cp = -1 for a bad byte. */
static int
tokenize_decode(const unsigned char *p, size_t len, utf8proc_int32_t *cp)
{
	utf8proc_ssize_t	 n;

	n = utf8proc_iterate(p, len > 4 ? 4 : len, cp);
	if (n <= 0) {
		*cp = -1;
		return (1);
	}
	return (n);
}

/* n cut to TOKEN_MAX bytes without splitting a code point. */
static size_t
tokenize_cut(const char *w, size_t n)
{
	if (n <= TOKEN_MAX)
		return (n);
	n = TOKEN_MAX;
	while (n > 0 && ((unsigned char)w[n] & 0xc0) == 0x80)
		n--;
	return (n);
}

static uint32_t
tokenize_hash(const char *p, size_t n)
{
	uint64_t	 h, w;

	h = n * 0x9e3779b97f4a7c15ULL;
	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
	}
	return (h >> 32);
}

/* The stem cache slot of a word, fetched ahead of its look-up; or NULL. */
static struct tk_slot *
tokenize_slot(struct tokenizer *tk, const char *w, size_t n, int alpha)
{
	struct tk_slot	*s;

	if (!alpha || tk->tk_cache == NULL || n > TK_KEYMAX)
		return (NULL);
	s = &tk->tk_cache[tokenize_hash(w, n) & (TK_CACHE - 1)];
	__builtin_prefetch(s);
	return (s);
}

/*
 * Stop word test and stem of an alphabetic word w, whose slot is s (NULL
 * when it cannot be cached): 1 for a stop word, else 0 with the stem in t.
 */
static int
tokenize_lookup(struct tokenizer *tk, const char *w, size_t n,
    struct tk_slot *s, struct token *t)
{
	const sb_symbol		*st;
	size_t			 slen;

	if (s != NULL) {
		if (s->ts_klen == n && memcmp(s->ts_key, w, n) == 0) {
			if (s->ts_flags & TK_STOP)
				return (1);
			t->t_text = s->ts_stem;
			t->t_len = s->ts_slen;
			t->t_memo = s->ts_memo;
			return (0);
		}
		s->ts_klen = 0;
	}

	t->t_text = w;
	t->t_len = n;
	t->t_memo = NULL;
	if (tokenize_is_stop(tk, w, n)) {
		if (s != NULL) {
			memcpy(s->ts_key, w, n);
			s->ts_klen = n;
			s->ts_flags = TK_STOP;
		}
		return (1);
	}
	if (tk->tk_stemmer != NULL) {
		st = sb_stemmer_stem(tk->tk_stemmer, (const sb_symbol *)w, n);
		/* NULL when Snowball is out of memory: keep the word. */
		if (st != NULL) {
			slen = sb_stemmer_length(tk->tk_stemmer);
			t->t_text = (const char *)st;
			t->t_len = tokenize_cut(t->t_text, slen);
		}
	}
	if (s != NULL && t->t_len <= sizeof(s->ts_stem)) {
		memcpy(s->ts_key, w, n);
		s->ts_klen = n;
		s->ts_flags = 0;
		memcpy(s->ts_stem, t->t_text, t->t_len);
		s->ts_slen = t->t_len;
		memset(s->ts_memo, 0, sizeof(s->ts_memo));
		t->t_text = s->ts_stem;
		t->t_memo = s->ts_memo;
	}
	return (0);
}

/*
 * The waiting word to the callback, if there is one.  Positions are
 * its token's; tw_alpha says whether it may be a stop word or have a
 * stem.
 */
static int
tokenize_emit(struct tokenizer *tk, struct tk_wait *tw, token_cb cb,
    void *arg)
{
	struct token	*t = &tw->tw_t;
	const char	*w = tw->tw_w;

	if (w == NULL)
		return (0);
	tw->tw_w = NULL;
	if (tw->tw_alpha && tk->tk_cache != NULL) {
		if (tokenize_lookup(tk, w, tw->tw_n, tw->tw_slot, t))
			return (0);
	} else {
		t->t_text = w;
		t->t_len = tw->tw_n;
		t->t_memo = NULL;
	}
	return (cb(t, arg));
}

/*
 * A whole normalized word w: fetch its slot, send the word before it,
 * and let it wait.  w is in the buffer the word before it is not in.
 */
static int
tokenize_queue(struct tokenizer *tk, struct tk_wait *tw, const char *w,
    size_t n, int alpha, const struct token *t, token_cb cb, void *arg)
{
	struct tk_slot	*s;
	int		 rv;

	s = tokenize_slot(tk, w, n, alpha);
	if ((rv = tokenize_emit(tk, tw, cb, arg)) != 0)
		return (rv);
	tw->tw_w = w;
	tw->tw_n = n;
	tw->tw_alpha = alpha;
	tw->tw_slot = s;
	tw->tw_t = *t;
	return (0);
}

int
tokenizer_run(struct tokenizer *tk, const char *text, size_t len,
    uint32_t pos, token_cb cb, void *arg)
{
	const unsigned char	*p = (const unsigned char *)text;
	struct token		 t;
	struct tk_wait		 tw;
	struct buf		*norm;
	utf8proc_int32_t	 cp;
	size_t			 i = 0, start, n, k;
	unsigned char		 c;
	char			*word;
	int			 alpha, cl, group, rv, cur = 0;

	if (len > UINT32_MAX) {
		log_warnx("%s: %zu bytes of text", __func__, len);
		return (-1);
	}
	memset(&tw, 0, sizeof(tw));
	memset(&t, 0, sizeof(t));
	while (i < len) {
		/* Not the buffer of the word that waits. */
		word = tk->tk_word[cur];
		norm = &tk->tk_norm[cur];
		c = tk_ascii[p[i]];
		if (c == 0) {
			i++;
			continue;
		}
		start = i;
		if (c < 0x80) {
			/* The common case: ASCII letters and digits. */
			n = 0;
			alpha = 1;
			do {
				if (n < TOKEN_MAX)
					word[n++] = c;
				if (c <= '9')
					alpha = 0;
				i++;
			} while (i < len && (c = tk_ascii[p[i]]) != 0 &&
			    c < 0x80);
			if (i == len || c == 0)
				goto ascii;
			/* Does a non-ASCII letter, mark or joiner go on? */
			tokenize_decode(p + i, len - i, &cp);
			cl = cp == -1 ? TC_SEP : tokenize_class(cp);
			if (cl != TC_WORD && cl != TC_DIGIT && cl != TC_MARK &&
			    cl != TC_IGN)
				goto ascii;
			i = start;
		}

		/* Any word: segment by code point, then normalize. */
		i += tokenize_decode(p + i, len - i, &cp);
		cl = cp == -1 ? TC_SEP : tokenize_class(cp);
		if (cl == TC_SEP || cl == TC_IGN)
			continue;
		group = cl == TC_KANA || cl == TC_IDEO ? cl : TC_WORD;
		alpha = cl == TC_WORD || cl == TC_MARK;
		while (i < len) {
			if ((c = tk_ascii[p[i]]) < 0x80) {
				if (c == 0 || group != TC_WORD)
					break;
				if (c <= '9')
					alpha = 0;
				i++;
				continue;
			}
			k = tokenize_decode(p + i, len - i, &cp);
			cl = cp == -1 ? TC_SEP : tokenize_class(cp);
			if (cl == TC_DIGIT && group == TC_WORD)
				alpha = 0;
			else if (!(cl == TC_MARK || cl == TC_IGN ||
			    (cl == TC_WORD && group == TC_WORD) ||
			    (cl == TC_KANA && group == TC_KANA)))
				break;
			i += k;
		}
		buf_reset(norm);
		if (utf8_normalize(text + start, i - start, norm) == -1)
			continue;
		if (norm->b_len == 0)
			continue;	/* nothing but ignorables */
		n = tokenize_cut(norm->b_data, norm->b_len);
		t.t_pos = pos++;
		t.t_off = start;
		t.t_srclen = i - start;
		if ((rv = tokenize_queue(tk, &tw, norm->b_data, n,
		    alpha && group == TC_WORD, &t, cb, arg)) != 0)
			return (rv);
		cur ^= 1;
		continue;
ascii:
		t.t_pos = pos++;
		t.t_off = start;
		t.t_srclen = i - start;
		if ((rv = tokenize_queue(tk, &tw, word, n, alpha, &t, cb,
		    arg)) != 0)
			return (rv);
		cur ^= 1;
	}
	return (tokenize_emit(tk, &tw, cb, arg));
}

/* Class of the code point at s[i], and its length in *n. */
static int
tokenize_ident_class(const char *s, size_t len, size_t i, size_t *n)
{
	utf8proc_int32_t	 cp;
	unsigned char		 c = s[i];

	if (c < 0x80) {
		*n = 1;
		if (c >= 'A' && c <= 'Z')
			return (ID_UPPER);
		if (c >= 'a' && c <= 'z')
			return (ID_LOWER);
		if (c >= '0' && c <= '9')
			return (ID_DIGIT);
		return (ID_SEP);
	}
	*n = tokenize_decode((const unsigned char *)s + i, len - i, &cp);
	if (cp == -1)
		return (ID_SEP);
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LT:
		return (ID_UPPER);
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
		return (ID_LOWER);
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return (ID_DIGIT);
	default:
		return (ID_SEP);
	}
}

static void
tokenize_ident_part(struct buf *out, const char *p, size_t n, size_t *nparts)
{
	if ((*nparts)++ > 0)
		buf_addc(out, ' ');
	buf_add(out, p, n);
}

/*
 * Parts of an identifier, then the identifier itself, so that a search
 * finds "parseHTTPRequest_v2" by "http request" and by its whole name.
 * A part ends at a separator (anything but a letter or a digit: '_', '-',
 * '.', '$'), before an upper case letter that follows a lower case one
 * or a digit ("parseHTTP", "utf8Decode"), and before the last capital of
 * a run when a lower case letter follows it ("HTTPRequest").  Digits stay
 * with the letters before them ("v2", "int32", "k8s").  A name that is a
 * single part is appended once.
 */
size_t
tokenize_split_ident(const char *s, size_t len, struct buf *out)
{
	size_t	 old = out->b_len, i = 0, n = 0, nn = 0, pstart = 0;
	size_t	 nparts = 0;
	int	 prev = ID_SEP, cur, next, inpart = 0;

	if (len == 0)
		return (0);
	cur = tokenize_ident_class(s, len, 0, &n);
	while (i < len) {
		next = i + n < len ?
		    tokenize_ident_class(s, len, i + n, &nn) : ID_SEP;
		if (cur == ID_SEP) {
			if (inpart)
				tokenize_ident_part(out, s + pstart,
				    i - pstart, &nparts);
			inpart = 0;
		} else {
			if (inpart && cur == ID_UPPER &&
			    (prev == ID_LOWER || prev == ID_DIGIT ||
			    (prev == ID_UPPER && next == ID_LOWER))) {
				tokenize_ident_part(out, s + pstart,
				    i - pstart, &nparts);
				inpart = 0;
			}
			if (!inpart) {
				pstart = i;
				inpart = 1;
			}
		}
		prev = cur;
		cur = next;
		i += n;
		n = nn;
	}
	if (inpart && !(nparts == 0 && pstart == 0))
		tokenize_ident_part(out, s + pstart, len - pstart, &nparts);
	if (nparts > 0)
		buf_addc(out, ' ');
	buf_add(out, s, len);
	return (out->b_len - old);
}
