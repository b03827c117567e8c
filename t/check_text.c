/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for utf8.c and tokenize.c: which byte sequences are well-formed
 * UTF-8 and where the first bad one is, what repair writes byte for
 * byte, what NFKC casefolding makes of ligatures, fullwidth forms, sharp
 * s, sigma, combining marks and compatibility characters, and the words
 * a document becomes: their text after normalization, stemming and stop
 * words, their positions and their byte ranges in the input.
 */

#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "quire.h"
#include "tlib.h"

#define TOKS_MAX	64

struct tok {
	char		 text[TOKEN_MAX + 1];
	size_t		 len;
	uint32_t	 pos;
	uint32_t	 off;
	uint32_t	 srclen;
};

/* What a tokenizer run handed to its callback. */
struct toks {
	size_t		 n;
	size_t		 stop_at;	/* return 7 from this token on, or 0 */
	struct tok	 t[TOKS_MAX];
	char		 joined[4096];	/* the texts, space separated */
	int		 rv;
};

static struct toks	 got;

static int
toks_cb(const struct token *t, void *arg)
{
	struct toks	*g = arg;
	struct tok	*k;

	ck_assert_uint_lt(g->n, TOKS_MAX);
	ck_assert_uint_gt(t->t_len, 0);
	ck_assert_uint_le(t->t_len, TOKEN_MAX);
	ck_assert_int_eq(utf8_valid(t->t_text, t->t_len, NULL), 1);
	k = &g->t[g->n++];
	memcpy(k->text, t->t_text, t->t_len);
	k->text[t->t_len] = '\0';
	k->len = t->t_len;
	k->pos = t->t_pos;
	k->off = t->t_off;
	k->srclen = t->t_srclen;
	if (g->joined[0] != '\0')
		strlcat(g->joined, " ", sizeof(g->joined));
	strlcat(g->joined, k->text, sizeof(g->joined));
	if (g->stop_at != 0 && g->n >= g->stop_at)
		return (7);
	return (0);
}

/* The words of text, space separated; details stay in got. */
static const char *
words_from(const char *lang, int stop, const char *text, uint32_t first)
{
	struct tokenizer	*tk;
	size_t			 stop_at = got.stop_at;

	memset(&got, 0, sizeof(got));
	got.stop_at = stop_at;
	tk = tokenizer_new(lang, stop);
	ck_assert_ptr_nonnull(tk);
	got.rv = tokenizer_run(tk, text, strlen(text), first, toks_cb, &got);
	tokenizer_free(tk);
	return (got.joined);
}

static const char *
words(const char *lang, int stop, const char *text)
{
	return (words_from(lang, stop, text, 0));
}

static const char *
norm(const char *s)
{
	static struct buf	 b;

	buf_free(&b);
	ck_assert_int_eq(utf8_normalize(s, strlen(s), &b), 0);
	return (buf_cstr(&b));
}

static void
check_tok(size_t i, const char *text, uint32_t pos, uint32_t off,
    uint32_t srclen)
{
	ck_assert_uint_lt(i, got.n);
	ck_assert_str_eq(got.t[i].text, text);
	ck_assert_uint_eq(got.t[i].pos, pos);
	ck_assert_uint_eq(got.t[i].off, off);
	ck_assert_uint_eq(got.t[i].srclen, srclen);
}

static int
valid(const char *s, size_t len, size_t *bad)
{
	*bad = SIZE_MAX;
	return (utf8_valid(s, len, bad));
}

START_TEST(test_valid_ok)
{
	const char	*ok[] = {
		"",
		"plain ASCII longer than eight bytes, many times over",
		"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9d\x84\x9e",
		"\x7f",				/* U+007F */
		"\xc2\x80",			/* U+0080 */
		"\xdf\xbf",			/* U+07FF */
		"\xe0\xa0\x80",			/* U+0800 */
		"\xed\x9f\xbf",			/* U+D7FF, below surrogates */
		"\xee\x80\x80",			/* U+E000, above them */
		"\xef\xbf\xbf",			/* U+FFFF */
		"\xf0\x90\x80\x80",		/* U+10000 */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF */
		"12345678\xc3\xa9" "12345678\xe2\x82\xac" "1234567",
		NULL
	};
	size_t		 i, bad;

	for (i = 0; ok[i] != NULL; i++) {
		ck_assert_msg(valid(ok[i], strlen(ok[i]), &bad) == 1,
		    "case %zu", i);
		ck_assert_uint_eq(bad, SIZE_MAX);
	}
	/* A NUL byte is a character like any other. */
	ck_assert_int_eq(valid("a\0b", 3, &bad), 1);
}
END_TEST

START_TEST(test_valid_bad)
{
	const struct {
		const char	*s;
		size_t		 off;
	} bad[] = {
		{ "\xc0\xaf", 0 },			/* overlong '/' */
		{ "abc\xc1\xbf", 3 },			/* overlong */
		{ "\xe0\x80\xaf", 0 },			/* overlong, 3 bytes */
		{ "\xf0\x80\x80\xaf", 0 },		/* overlong, 4 bytes */
		{ "ok \xed\xa0\x80", 3 },		/* surrogate U+D800 */
		{ "\xed\xbf\xbf", 0 },			/* surrogate U+DFFF */
		{ "\xf4\x90\x80\x80", 0 },		/* U+110000 */
		{ "\xf5\x80\x80\x80", 0 },
		{ "\xff", 0 },
		{ "\xfe", 0 },
		{ "x\x80", 1 },				/* lone continuation */
		{ "\xe4\xb8", 0 },			/* truncated at end */
		{ "\xe4\xb8" "a", 0 },			/* truncated inside */
		{ "\xf0\x9f\x98", 0 },
		{ "\xc3", 0 },
		{ "\xc3\xa9\xc3", 2 },
		{ "abcdefghijklmnop\xff", 16 },		/* after 8-byte steps */
		{ "abcdefgh\xc3\xa9" "abcdefgh\x80", 18 },
	};
	size_t		 i, b;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(valid(bad[i].s, strlen(bad[i].s), &b) == 0,
		    "case %zu", i);
		ck_assert_msg(b == bad[i].off, "case %zu: offset %zu", i, b);
	}
	ck_assert_int_eq(utf8_valid("\xc0\xaf", 2, NULL), 0);
	/* The length is what counts, not a NUL. */
	ck_assert_int_eq(valid("\xc3\xa9", 1, &b), 0);
	ck_assert_uint_eq(b, 0);
}
END_TEST

static void
check_repair(const char *in, const char *want, size_t nrep)
{
	struct buf	 b;

	buf_init(&b);
	buf_addstr(&b, "<");
	ck_assert_uint_eq(utf8_repair(in, strlen(in), &b), nrep);
	ck_assert_str_eq(buf_cstr(&b) + 1, want);
	ck_assert_int_eq(b.b_data[0], '<');
	ck_assert_int_eq(utf8_valid(b.b_data, b.b_len, NULL), 1);
	buf_free(&b);
}

#define FFFD	"\xef\xbf\xbd"

START_TEST(test_repair)
{
	check_repair("plain", "plain", 0);
	check_repair("h\xc3\xa9 \xf0\x9d\x84\x9e", "h\xc3\xa9 \xf0\x9d\x84\x9e",
	    0);
	check_repair("", "", 0);
	/* Maximal subparts: one U+FFFD each. */
	check_repair("a\xc0\xaf" "b", "a" FFFD FFFD "b", 2);
	check_repair("\xed\xa0\x80", FFFD FFFD FFFD, 3);
	check_repair("\xe1\x80" "a", FFFD "a", 1);
	check_repair("\xf0\x9f\x98", FFFD, 1);
	check_repair("\xf0\x9f\x98\xf0\x9f\x98\x80", FFFD "\xf0\x9f\x98\x80",
	    1);
	check_repair("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD, 4);
	check_repair("\x80\x80x\xff", FFFD FFFD "x" FFFD, 3);
	check_repair("0123456789\xe2\x82" "0123456789",
	    "0123456789" FFFD "0123456789", 1);
}
END_TEST

/*
 * An empty buffer's data pointer is NULL (struct buf before its first
 * byte, an empty extraction): NULL + 0 is undefined, and UBSan says so.
 */
START_TEST(test_empty_null)
{
	struct buf	 b;

	buf_init(&b);
	ck_assert_int_eq(utf8_valid(NULL, 0, NULL), 1);
	ck_assert_uint_eq(utf8_repair(NULL, 0, &b), 0);
	ck_assert_uint_eq(b.b_len, 0);
	ck_assert_int_eq(utf8_normalize(NULL, 0, &b), 0);
	ck_assert_uint_eq(b.b_len, 0);
	buf_free(&b);
}
END_TEST

START_TEST(test_nfkc_casefold)
{
	ck_assert_str_eq(norm("Hello, World!"), "hello, world!");
	ck_assert_str_eq(norm("\xef\xac\x81"), "fi");		/* U+FB01 */
	ck_assert_str_eq(norm("ＡＢＣ"), "abc");
	ck_assert_str_eq(norm("Straße"), "strasse");
	ck_assert_str_eq(norm("ΣΑΣ"), "σασ");
	ck_assert_str_eq(norm("e\xcc\x81"), "\xc3\xa9");	/* é */
	ck_assert_str_eq(norm("A\xcc\x8a"), "å");
	ck_assert_str_eq(norm("abcde\xcc\x81" "f"), "abcd\xc3\xa9" "f");
	ck_assert_str_eq(norm("\xe2\x84\xaa"), "k");		/* Kelvin */
	ck_assert_str_eq(norm("①"), "1");
	ck_assert_str_eq(norm("Ⅻ"), "xii");
	ck_assert_str_eq(norm("ｶﾀｶﾅ"), "カタカナ");
	ck_assert_str_eq(norm("\xea\xb0\x80"), "\xea\xb0\x80");	/* 가 */
	ck_assert_str_eq(norm("\xe1\x84\x80\xe1\x85\xa1"), "\xea\xb0\x80");
	/* Default-ignorables go: soft hyphen, zero width joiner. */
	ck_assert_str_eq(norm("soft\xc2\xadhyphen"), "softhyphen");
	ck_assert_str_eq(norm("a\xe2\x80\x8d" "b"), "ab");
	ck_assert_str_eq(norm(""), "");
}
END_TEST

START_TEST(test_nfkc_long_and_appending)
{
	struct buf	 b, want;
	size_t		 i;

	/* More code points than fit on the stack in one run. */
	buf_init(&b);
	buf_init(&want);
	buf_addstr(&b, "x");
	for (i = 0; i < 1000; i++) {
		buf_addstr(&want, "ä");
		buf_addstr(&want, "\xcc\x81");
	}
	ck_assert_int_eq(utf8_normalize(want.b_data, want.b_len, &b), 0);
	buf_reset(&want);
	buf_addstr(&want, "x");
	for (i = 0; i < 1000; i++)
		buf_addstr(&want, "\xc3\xa4\xcc\x81");	/* ä has no acute */
	ck_assert_uint_eq(b.b_len, want.b_len);
	ck_assert_int_eq(memcmp(b.b_data, want.b_data, b.b_len), 0);

	buf_reset(&b);
	ck_assert_int_eq(utf8_normalize("\xc0\xaf", 2, &b), -1);
	buf_free(&b);
	buf_free(&want);
}
END_TEST

START_TEST(test_segment_ascii)
{
	ck_assert_str_eq(words("none", 0, "Hello, world! 3.14 don't"),
	    "hello world 3 14 don t");
	check_tok(0, "hello", 0, 0, 5);
	check_tok(1, "world", 1, 7, 5);
	check_tok(2, "3", 2, 14, 1);
	check_tok(3, "14", 3, 16, 2);
	check_tok(5, "t", 5, 23, 1);
	ck_assert_int_eq(got.rv, 0);

	ck_assert_str_eq(words("none", 0, "snake_case x-ray ABC123 a+b=c"),
	    "snake case x ray abc123 a b c");
	ck_assert_str_eq(words("none", 0, ""), "");
	ck_assert_uint_eq(got.n, 0);
	ck_assert_str_eq(words("none", 0, "  \t\n.,;!?  "), "");
	ck_assert_uint_eq(got.n, 0);

	/* Positions count from first_pos. */
	words_from("none", 0, "one two", 100);
	check_tok(0, "one", 100, 0, 3);
	check_tok(1, "two", 101, 4, 3);
}
END_TEST

START_TEST(test_segment_unicode)
{
	/* Non-ASCII punctuation and spaces separate; marks join. */
	ck_assert_str_eq(words("none", 0, "word\xe2\x80\x94word "
	    "it\xe2\x80\x99s a\xc2\xa0" "b \xc2\xab" "x\xc2\xbb"),
	    "word word it s a b x");
	words("none", 0, "caf\xc3\xa9 e\xcc\x81t\xc3\xa9 na\xc3\xafve");
	ck_assert_uint_eq(got.n, 3);
	check_tok(0, "caf\xc3\xa9", 0, 0, 5);
	check_tok(1, "\xc3\xa9t\xc3\xa9", 1, 6, 6);
	check_tok(2, "na\xc3\xafve", 2, 13, 6);

	/* Ignorables are invisible; a zero width space separates. */
	words("none", 0, "hy\xc2\xadphen foo\xe2\x80\x8b" "bar");
	ck_assert_str_eq(got.joined, "hyphen foo bar");
	check_tok(0, "hyphen", 0, 0, 8);
	check_tok(1, "foo", 1, 9, 3);
	check_tok(2, "bar", 2, 15, 3);

	/* Fullwidth letters and compatibility digits are words. */
	ck_assert_str_eq(words("none", 0, "ＡＢＣ ① \xef\xac\x81le"),
	    "abc 1 file");

	/* Bytes that are not UTF-8 separate rather than stop the run. */
	ck_assert_str_eq(words("none", 0, "ab\xff" "cd\xc3"), "ab cd");
}
END_TEST

START_TEST(test_segment_cyrillic)
{
	words("ru", 0, "Привет, мир");
	ck_assert_uint_eq(got.n, 2);
	check_tok(0, "привет", 0, 0, 12);
	check_tok(1, "мир", 1, 14, 6);
	ck_assert_str_eq(words("russian", 0, "Книги читали"), "книг чита");
	ck_assert_str_eq(words("none", 0, "Книги читали"), "книги читали");
	ck_assert_str_eq(words("ru", 1, "Кошка и собака"), "кошк собак");
	check_tok(1, "собак", 2, 14, 12);
}
END_TEST

START_TEST(test_segment_cjk)
{
	/* Han and hiragana one by one, katakana by runs. */
	words("none", 0, "東京タワーに行く");
	ck_assert_str_eq(got.joined, "東 京 タワー に 行 く");
	check_tok(0, "東", 0, 0, 3);
	check_tok(1, "京", 1, 3, 3);
	check_tok(2, "タワー", 2, 6, 9);
	check_tok(3, "に", 3, 15, 3);
	ck_assert_str_eq(words("en", 1, "東京タワー"), "東 京 タワー");
	/* Halfwidth katakana become fullwidth; script changes separate. */
	ck_assert_str_eq(words("none", 0, "ｶﾀｶﾅ Tシャツ"), "カタカナ t シャツ");
	/* Hangul is written with spaces. */
	ck_assert_str_eq(words("none", 0, "한국어 텍스트"), "한국어 텍스트");
	ck_assert_str_eq(words("none", 0, "第3章。"), "第 3 章");
}
END_TEST

START_TEST(test_stem_languages)
{
	ck_assert_str_eq(words("english", 0, "running connections Running"),
	    "run connect run");
	ck_assert_str_eq(words("en", 0, "running connections"),
	    "run connect");
	ck_assert_str_eq(words("English", 0, "running"), "run");
	ck_assert_str_eq(words("none", 0, "running connections"),
	    "running connections");
	ck_assert_str_eq(words(NULL, 0, "running"), "running");
	ck_assert_str_eq(words("de", 0, "Häuser HÄUSER Bücher"),
	    "haus haus buch");
	ck_assert_str_eq(words("german", 0, "Straße"), "strass");
	ck_assert_str_eq(words("fr", 0, "chevaux continuaient"),
	    "cheval continu");
	ck_assert_str_eq(words("es", 0, "corriendo casas"), "corr cas");
	ck_assert_str_eq(words("nl", 0, "huizen lopen"), "huiz lop");
	/* Words with digits are not stemmed. */
	ck_assert_str_eq(words("en", 0, "runs2 runs 2runs"),
	    "runs2 run 2runs");
	/* A word too long for the stem cache is stemmed all the same. */
	ck_assert_str_eq(words("en", 0,
	    "supercalifragilisticexpialidociousnesses "
	    "supercalifragilisticexpialidociousnesses"),
	    "supercalifragilisticexpialidoci "
	    "supercalifragilisticexpialidoci");
}
END_TEST

START_TEST(test_lang_names)
{
	ck_assert_int_eq(tokenizer_lang_ok(NULL), 1);
	ck_assert_int_eq(tokenizer_lang_ok("none"), 1);
	ck_assert_int_eq(tokenizer_lang_ok("en"), 1);
	ck_assert_int_eq(tokenizer_lang_ok("german"), 1);
	ck_assert_int_eq(tokenizer_lang_ok("ru"), 1);
	ck_assert_int_eq(tokenizer_lang_ok("sv"), 1);
	ck_assert_int_eq(tokenizer_lang_ok("klingon"), 0);
	ck_assert_int_eq(tokenizer_lang_ok("en;de"), 0);
	ck_assert_int_eq(tokenizer_lang_ok(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
	ck_assert_ptr_null(tokenizer_new("klingon", 1));
	tokenizer_free(NULL);
}
END_TEST

START_TEST(test_stop_words)
{
	words("en", 1, "The cat and THE hat");
	ck_assert_str_eq(got.joined, "cat hat");
	check_tok(0, "cat", 1, 4, 3);
	check_tok(1, "hat", 4, 16, 3);
	/* Twice, so the second run reads the stem cache. */
	words("en", 1, "the cat the cat");
	check_tok(0, "cat", 1, 4, 3);
	check_tok(1, "cat", 3, 12, 3);
	ck_assert_str_eq(words("en", 1, "John's book isn't there"),
	    "john book isn");
	check_tok(2, "isn", 3, 12, 3);
	ck_assert_str_eq(words("en", 0, "The cat and the hat"),
	    "the cat and the hat");
	ck_assert_str_eq(words("none", 1, "the cat"), "the cat");
	ck_assert_str_eq(words("de", 1, "Die Häuser und der Garten"),
	    "haus gart");
	check_tok(1, "gart", 4, 20, 6);
	ck_assert_str_eq(words("fr", 1, "l'homme et les chevaux"),
	    "homm cheval");
	check_tok(1, "cheval", 4, 15, 7);
}
END_TEST

/* The last token a run handed over: its text and memo. */
struct lastmemo {
	char		 text[TOKEN_MAX + 1];
	uint64_t	*memo;
	size_t		 n;
};

static int
memo_cb(const struct token *t, void *arg)
{
	struct lastmemo	*m = arg;

	memcpy(m->text, t->t_text, t->t_len);
	m->text[t->t_len] = '\0';
	m->memo = t->t_memo;
	m->n++;
	return (0);
}

static uint64_t *
memo_of(struct tokenizer *tk, const char *w, const char *stem)
{
	struct lastmemo	 m;

	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(tokenizer_run(tk, w, strlen(w), 0, memo_cb, &m), 0);
	ck_assert_uint_eq(m.n, 1);
	if (stem != NULL)
		ck_assert_str_eq(m.text, stem);
	return (m.memo);
}

/*
 * A cached word's memo is zero when it enters the stem cache, keeps what
 * the caller writes while the word stays, and is zero again for the word
 * that takes its slot; words outside the cache have none.
 */
START_TEST(test_stem_memo)
{
	struct tokenizer	*tk;
	uint64_t		*m, *o;
	char			 w[16];
	size_t			 i, j, n;

	tk = tokenizer_new("en", 1);
	ck_assert_ptr_nonnull(tk);
	m = memo_of(tk, "running", "run");
	ck_assert_ptr_nonnull(m);
	for (i = 0; i < TOKEN_MEMO; i++)
		ck_assert_uint_eq(m[i], 0);
	m[0] = 42;
	m[TOKEN_MEMO - 1] = 7;
	ck_assert_ptr_eq(memo_of(tk, "Running", "run"), m);
	ck_assert_uint_eq(m[0], 42);
	ck_assert_uint_eq(m[TOKEN_MEMO - 1], 7);
	/* Another word with the same stem is another slot. */
	o = memo_of(tk, "runs", "run");
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_ne(o, m);
	ck_assert_uint_eq(o[0], 0);
	/* Numbers are not stemmed, long words not cached: no memo. */
	ck_assert_ptr_null(memo_of(tk, "2024", "2024"));
	ck_assert_ptr_null(memo_of(tk, "internationalizationism",
	    "internationalization"));
	/* A word that takes the slot over starts from zero. */
	for (i = 0, o = NULL; i < 1000000 && o != m; i++) {
		w[0] = 'q';
		for (n = i, j = 1; j < 6; j++, n /= 26)
			w[j] = 'a' + n % 26;
		w[j] = '\0';
		o = memo_of(tk, w, NULL);
		if (o == m)
			ck_assert_uint_eq(m[0], 0);
	}
	ck_assert_ptr_eq(o, m);
	m = memo_of(tk, "running", "run");
	ck_assert_ptr_eq(o, m);
	ck_assert_uint_eq(m[0], 0);
	ck_assert_uint_eq(m[TOKEN_MEMO - 1], 0);
	tokenizer_free(tk);
}
END_TEST

START_TEST(test_token_max)
{
	char		 in[256], want[TOKEN_MAX + 1];
	size_t		 i;

	/* ASCII: cut at TOKEN_MAX, the source range is the whole word. */
	memset(in, 'a', 100);
	strlcpy(in + 100, " b", sizeof(in) - 100);
	words("none", 0, in);
	ck_assert_uint_eq(got.n, 2);
	memset(want, 'a', TOKEN_MAX);
	want[TOKEN_MAX] = '\0';
	check_tok(0, want, 0, 0, 100);
	check_tok(1, "b", 1, 101, 1);

	/* Two-byte letters after one ASCII: byte 64 would split one. */
	in[0] = 'x';
	for (i = 0; i < 40; i++)
		memcpy(in + 1 + 2 * i, "\xd0\xb6", 2);		/* ж */
	in[81] = '\0';
	words("none", 0, in);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_uint_eq(got.t[0].len, TOKEN_MAX - 1);
	ck_assert_int_eq(memcmp(got.t[0].text, in, TOKEN_MAX - 1), 0);
	ck_assert_uint_eq(got.t[0].srclen, 81);

	/* The cut is on the normalized word, not the source. */
	in[0] = '\0';
	for (i = 0; i < 40; i++)
		strlcat(in, "e\xcc\x81", sizeof(in));		/* é */
	words("none", 0, in);
	ck_assert_uint_eq(got.t[0].len, TOKEN_MAX);
	ck_assert_uint_eq(got.t[0].srclen, 120);
}
END_TEST

START_TEST(test_callback_stops)
{
	got.stop_at = 2;
	words("en", 0, "one two three four");
	ck_assert_int_eq(got.rv, 7);
	ck_assert_uint_eq(got.n, 2);
	ck_assert_str_eq(got.joined, "one two");
	got.stop_at = 1;
	words("none", 0, "東京 caf\xc3\xa9");
	ck_assert_int_eq(got.rv, 7);
	ck_assert_uint_eq(got.n, 1);
	got.stop_at = 0;
}
END_TEST

static void
check_ident(const char *in, const char *want)
{
	struct buf	 b;

	buf_init(&b);
	buf_addstr(&b, "x");
	ck_assert_uint_eq(tokenize_split_ident(in, strlen(in), &b),
	    strlen(want));
	ck_assert_str_eq(buf_cstr(&b) + 1, want);
	buf_free(&b);
}

START_TEST(test_split_ident)
{
	check_ident("parseHTTPRequest_v2",
	    "parse HTTP Request v2 parseHTTPRequest_v2");
	check_ident("camelCase", "camel Case camelCase");
	check_ident("PascalCase", "Pascal Case PascalCase");
	check_ident("snake_case_name", "snake case name snake_case_name");
	check_ident("kebab-case", "kebab case kebab-case");
	check_ident("IOError", "IO Error IOError");
	check_ident("HTTP2Server", "HTTP2 Server HTTP2Server");
	check_ident("utf8Decode", "utf8 Decode utf8Decode");
	check_ident("x86_64", "x86 64 x86_64");
	check_ident("__init__", "init __init__");
	check_ident("getÄpfel", "get Äpfel getÄpfel");
	check_ident("parse", "parse");
	check_ident("URL", "URL");
	check_ident("_", "_");
	check_ident("", "");
}
END_TEST

static Suite *
text_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("text");

	tc = tcase_create("utf8");
	tcase_add_test(tc, test_valid_ok);
	tcase_add_test(tc, test_valid_bad);
	tcase_add_test(tc, test_repair);
	tcase_add_test(tc, test_empty_null);
	tcase_add_test(tc, test_nfkc_casefold);
	tcase_add_test(tc, test_nfkc_long_and_appending);
	suite_add_tcase(s, tc);

	tc = tcase_create("segment");
	tcase_add_test(tc, test_segment_ascii);
	tcase_add_test(tc, test_segment_unicode);
	tcase_add_test(tc, test_segment_cyrillic);
	tcase_add_test(tc, test_segment_cjk);
	tcase_add_test(tc, test_token_max);
	tcase_add_test(tc, test_callback_stops);
	suite_add_tcase(s, tc);

	tc = tcase_create("stem");
	tcase_add_test(tc, test_stem_languages);
	tcase_add_test(tc, test_lang_names);
	tcase_add_test(tc, test_stop_words);
	tcase_add_test(tc, test_stem_memo);
	suite_add_tcase(s, tc);

	tc = tcase_create("ident");
	tcase_add_test(tc, test_split_ident);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_text", text_suite()));
}
