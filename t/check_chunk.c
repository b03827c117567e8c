/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The chunker: sizes, overlap, cuts at sentence and code point
 * boundaries, headings starting chunks and their paths, short tails, and
 * the zstd round trip.
 */

#include <sys/types.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "quire.h"
#include "tlib.h"

struct got {
	struct chunk	 g_c[256];
	char		 g_head[256][512];
	size_t		 g_n;
};

static int
collect(const struct chunk *c, void *arg)
{
	struct got	*g = arg;

	ck_assert_uint_lt(g->g_n, 256);
	g->g_c[g->g_n] = *c;
	strlcpy(g->g_head[g->g_n], c->c_heading, sizeof(g->g_head[0]));
	g->g_n++;
	return (0);
}

/* Build a document by hand: blocks are appended with a newline between. */
static void
add(struct xdoc *d, int kind, int level, const char *text)
{
	if (d->xd_nblocks > 0)
		buf_addc(&d->xd_text, '\n');
	if (d->xd_nblocks == d->xd_blockcap) {
		d->xd_blockcap = d->xd_blockcap ? d->xd_blockcap * 2 : 8;
		d->xd_blocks = xreallocarray(d->xd_blocks, d->xd_blockcap,
		    sizeof(*d->xd_blocks));
	}
	d->xd_blocks[d->xd_nblocks].xb_kind = kind;
	d->xd_blocks[d->xd_nblocks].xb_level = level;
	d->xd_blocks[d->xd_nblocks].xb_off = d->xd_text.b_len;
	d->xd_blocks[d->xd_nblocks].xb_len = strlen(text);
	d->xd_nblocks++;
	buf_addstr(&d->xd_text, text);
	buf_cstr(&d->xd_text);
}

static void
doc_free(struct xdoc *d)
{
	buf_free(&d->xd_text);
	free(d->xd_blocks);
}

START_TEST(small_doc_is_one_chunk)
{
	struct chunk_conf	 cc;
	struct xdoc		 d;
	static struct got	 g;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	chunk_conf_defaults(&cc);
	add(&d, BLK_PARA, 0, "One short paragraph.");
	add(&d, BLK_PARA, 0, "And another one.");
	ck_assert_int_eq(chunk_doc(&cc, &d, collect, &g), 0);
	ck_assert_uint_eq(g.g_n, 1);
	ck_assert_uint_eq(g.g_c[0].c_off, 0);
	ck_assert_uint_eq(g.g_c[0].c_len, d.xd_text.b_len);
	ck_assert_str_eq(g.g_head[0], "");
	doc_free(&d);
}
END_TEST

START_TEST(sizes_overlap_and_sentences)
{
	struct chunk_conf	 cc;
	struct xdoc		 d;
	static struct got	 g;
	struct buf		 para;
	const char		*t;
	size_t			 i, end, prev_end = 0;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	buf_init(&para);
	for (i = 0; i < 200; i++)
		buf_addstr(&para, "The quick brown fox jumps over the dog. ");
	add(&d, BLK_PARA, 0, buf_cstr(&para));
	cc.cc_size = 500;
	cc.cc_overlap = 60;
	cc.cc_min = 100;
	ck_assert_int_eq(chunk_doc(&cc, &d, collect, &g), 0);
	ck_assert_uint_ge(g.g_n, 8000 / 500);
	t = d.xd_text.b_data;
	for (i = 0; i < g.g_n; i++) {
		ck_assert_uint_eq(g.g_c[i].c_index, i);
		ck_assert_uint_le(g.g_c[i].c_len, 500 + 100);
		end = g.g_c[i].c_off + g.g_c[i].c_len;
		if (i + 1 < g.g_n) {
			/* Cut after a sentence: the chunk ends with ". " */
			ck_assert_int_eq(t[end - 1], '.');
			/* The next one starts before this one ended. */
			ck_assert_uint_lt(g.g_c[i + 1].c_off, end);
			ck_assert_uint_ge(g.g_c[i + 1].c_off, end - 60);
			/* ... at the start of a word. */
			ck_assert_int_eq(t[g.g_c[i + 1].c_off - 1], ' ');
		}
		ck_assert_uint_ge(end, prev_end);
		prev_end = end;
	}
	/* Together they cover the whole text. */
	ck_assert_uint_eq(g.g_c[0].c_off, 0);
	ck_assert_uint_eq(prev_end, d.xd_text.b_len);
	buf_free(&para);
	doc_free(&d);
}
END_TEST

START_TEST(headings_start_chunks_with_paths)
{
	struct chunk_conf	 cc;
	struct xdoc		 d;
	static struct got	 g;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	chunk_conf_defaults(&cc);
	add(&d, BLK_PARA, 0, "Preface text before any heading at all.");
	add(&d, BLK_HEADING, 1, "Install");
	add(&d, BLK_PARA, 0, "How to install the program on a machine.");
	add(&d, BLK_HEADING, 2, "From source");
	add(&d, BLK_CODE, 0, "./configure && make && make install");
	add(&d, BLK_HEADING, 2, "From packages");
	add(&d, BLK_PARA, 0, "apt-get install quire, once it is packaged.");
	add(&d, BLK_HEADING, 1, "Usage");
	add(&d, BLK_PARA, 0, "Start the daemon and submit documents.");
	ck_assert_int_eq(chunk_doc(&cc, &d, collect, &g), 0);
	ck_assert_uint_eq(g.g_n, 5);
	ck_assert_str_eq(g.g_head[0], "");
	ck_assert_str_eq(g.g_head[1], "Install");
	ck_assert_str_eq(g.g_head[2], "Install > From source");
	ck_assert_str_eq(g.g_head[3], "Install > From packages");
	ck_assert_str_eq(g.g_head[4], "Usage");
	/* Each section's chunk begins with its heading. */
	ck_assert_int_eq(strncmp(d.xd_text.b_data + g.g_c[2].c_off,
	    "From source", 11), 0);
	ck_assert_ptr_nonnull(memmem(d.xd_text.b_data + g.g_c[2].c_off,
	    g.g_c[2].c_len, "make install", 12));
	doc_free(&d);
}
END_TEST

START_TEST(short_tail_joins_previous)
{
	struct chunk_conf	 cc;
	struct xdoc		 d;
	static struct got	 g;
	struct buf		 para;
	size_t			 i;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	buf_init(&para);
	for (i = 0; i < 10; i++)
		buf_addstr(&para, "Sentence number one is here. ");
	add(&d, BLK_PARA, 0, buf_cstr(&para));	/* 300 bytes */
	add(&d, BLK_PARA, 0, "Tail.");
	cc.cc_size = 300;
	cc.cc_overlap = 0;
	cc.cc_min = 50;
	ck_assert_int_eq(chunk_doc(&cc, &d, collect, &g), 0);
	/* The tail is shorter than cc_min: no chunk of its own. */
	ck_assert_uint_eq(g.g_n, 1);
	ck_assert_uint_eq(g.g_c[0].c_off + g.g_c[0].c_len, d.xd_text.b_len);
	buf_free(&para);
	doc_free(&d);
}
END_TEST

START_TEST(cuts_keep_code_points_whole)
{
	struct chunk_conf	 cc;
	struct xdoc		 d;
	static struct got	 g;
	struct buf		 para;
	size_t			 i, bad;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	buf_init(&para);
	/* No spaces and no sentence ends: cuts must fall between runes. */
	for (i = 0; i < 1000; i++)
		buf_addstr(&para, "東京");
	add(&d, BLK_PARA, 0, buf_cstr(&para));
	cc.cc_size = 100;
	cc.cc_overlap = 10;
	cc.cc_min = 10;
	ck_assert_int_eq(chunk_doc(&cc, &d, collect, &g), 0);
	ck_assert_uint_gt(g.g_n, 50);
	for (i = 0; i < g.g_n; i++)
		ck_assert_int_eq(utf8_valid(d.xd_text.b_data + g.g_c[i].c_off,
		    g.g_c[i].c_len, &bad), 1);
	buf_free(&para);
	doc_free(&d);
}
END_TEST

static int
stop_at_two(const struct chunk *c, void *arg)
{
	int	*n = arg;

	return (++*n == 2 ? 42 : 0);
}

START_TEST(callback_stops)
{
	struct chunk_conf	 cc;
	struct xdoc		 d;
	int			 n = 0;

	memset(&d, 0, sizeof(d));
	chunk_conf_defaults(&cc);
	add(&d, BLK_HEADING, 1, "A");
	add(&d, BLK_PARA, 0, "First section's text, long enough to stand.");
	add(&d, BLK_HEADING, 1, "B");
	add(&d, BLK_PARA, 0, "Second section's text, long enough to stand.");
	add(&d, BLK_HEADING, 1, "C");
	add(&d, BLK_PARA, 0, "Third section's text, long enough to stand.");
	ck_assert_int_eq(chunk_doc(&cc, &d, stop_at_two, &n), 42);
	ck_assert_int_eq(n, 2);
	doc_free(&d);
}
END_TEST

START_TEST(zstd_round_trip)
{
	struct buf	 in, z, out;
	size_t		 i;

	buf_init(&in);
	buf_init(&z);
	buf_init(&out);
	for (i = 0; i < 1000; i++)
		buf_addstr(&in, "compressible text, over and over; ");
	ck_assert_int_eq(chunk_compress(in.b_data, in.b_len, &z), 0);
	ck_assert_uint_lt(z.b_len, in.b_len / 10);
	ck_assert_int_eq(chunk_decompress(z.b_data, z.b_len, in.b_len, &out),
	    0);
	ck_assert_uint_eq(out.b_len, in.b_len);
	ck_assert_int_eq(memcmp(out.b_data, in.b_data, in.b_len), 0);
	/* A bound below the content size refuses to inflate it. */
	buf_reset(&out);
	ck_assert_int_eq(chunk_decompress(z.b_data, z.b_len, in.b_len - 1,
	    &out), -1);
	/* Garbage is an error, not a crash. */
	ck_assert_int_eq(chunk_decompress("not zstd at all", 15, 1 << 20,
	    &out), -1);
	buf_free(&in);
	buf_free(&z);
	buf_free(&out);
}
END_TEST

static Suite *
chunk_suite(void)
{
	Suite	*s = suite_create("chunk");
	TCase	*tc = tcase_create("chunk");

	tcase_add_test(tc, small_doc_is_one_chunk);
	tcase_add_test(tc, sizes_overlap_and_sentences);
	tcase_add_test(tc, headings_start_chunks_with_paths);
	tcase_add_test(tc, short_tail_joins_previous);
	tcase_add_test(tc, cuts_keep_code_points_whole);
	tcase_add_test(tc, callback_stops);
	tcase_add_test(tc, zstd_round_trip);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_chunk", chunk_suite()));
}
