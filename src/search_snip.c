/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * A hit filled in from its chunk's and document's records
 * (search_fill): its place and heading, its document's id and title,
 * and a snippet of the chunk's text around its first match, the
 * matches marked (search_snippet).  search.c's rescoring reads the
 * same records (search_chunk, search_doc).
 */

#include <sys/types.h>

#include <string.h>

#include "quire.h"
#include "search.h"

#define SEARCH_SNIPPET		200	/* bytes of a chunk's text shown */

struct ssnip {
	const struct squery	*sn_q;
	uint32_t		 sn_off[32];
	uint32_t		 sn_len[32];
	size_t			 sn_n;
};

static int
search_snip_token(const struct token *t, void *arg)
{
	struct ssnip		*sn = arg;
	const struct sterm	*st;
	size_t			 i;

	for (i = 0; i < sn->sn_q->q_nterms; i++) {
		st = &sn->sn_q->q_terms[i];
		if (sn->sn_q->q_items[st->st_item].si_excluded)
			continue;
		if (st->st_prefix ? t->t_len >= st->st_len - 1 &&
		    memcmp(t->t_text, st->st_key + 1, st->st_len - 1) == 0 :
		    t->t_len == st->st_len - 1 &&
		    memcmp(t->t_text, st->st_key + 1, t->t_len) == 0) {
			sn->sn_off[sn->sn_n] = t->t_off;
			sn->sn_len[sn->sn_n] = t->t_srclen;
			if (++sn->sn_n == 32)
				return (1);
			break;
		}
	}
	return (0);
}

static size_t
search_cp(const char *t, size_t pos, size_t len)
{
	while (pos < len && ((unsigned char)t[pos] & 0xc0) == 0x80)
		pos++;
	return (pos);
}

/* Copy b into dst (size dstlen) cut at a code point; the length kept. */
static size_t
search_snip_copy(char *dst, size_t dstlen, const struct buf *b)
{
	size_t	 p;

	p = b->b_len < dstlen - 1 ? b->b_len : dstlen - 1;
	while (p > 0 && p < b->b_len &&
	    ((unsigned char)b->b_data[p] & 0xc0) == 0x80)
		p--;
	memcpy(dst, b->b_data, p);
	dst[p] = '\0';
	return (p);
}

/*
 * The snippet twice: with the matches between "**" marks (sh_snippet,
 * for a terminal) and plain, with the matches as byte ranges of it
 * (sh_text and sh_hl, for a program).
 */
static void
search_snippet(struct sstate *ss, const char *text, size_t len,
    struct search_hit *h)
{
	struct ssnip	 sn;
	struct buf	 out, plain;
	size_t		 start = 0, end, p, i, kept;

	memset(&sn, 0, sizeof(sn));
	sn.sn_q = ss->ss_q;
	tokenizer_run(ss->ss_tk, text, len, 0, search_snip_token, &sn);
	if (sn.sn_n > 0 && sn.sn_off[0] > SEARCH_SNIPPET / 4) {
		start = sn.sn_off[0] - SEARCH_SNIPPET / 4;
		while (start < sn.sn_off[0] && text[start] != ' ')
			start++;
		start = search_cp(text, start, len);
	}
	end = start + SEARCH_SNIPPET < len ? start + SEARCH_SNIPPET : len;
	end = search_cp(text, end, len);
	buf_init(&out);
	buf_init(&plain);
	if (start > 0) {
		buf_addstr(&out, "...");
		buf_addstr(&plain, "...");
	}
	h->sh_nhl = 0;
	for (p = start, i = 0; p < end; ) {
		while (i < sn.sn_n && sn.sn_off[i] < p)
			i++;
		if (i < sn.sn_n && sn.sn_off[i] == p &&
		    p + sn.sn_len[i] <= end) {
			buf_addstr(&out, "**");
			buf_add(&out, text + p, sn.sn_len[i]);
			buf_addstr(&out, "**");
			if (h->sh_nhl < SEARCH_HL_MAX) {
				h->sh_hl_off[h->sh_nhl] = plain.b_len;
				h->sh_hl_len[h->sh_nhl++] = sn.sn_len[i];
			}
			buf_add(&plain, text + p, sn.sn_len[i]);
			p += sn.sn_len[i];
			continue;
		}
		buf_addc(&out, text[p] == '\n' || text[p] == '\t' ? ' ' :
		    text[p]);
		buf_addc(&plain, text[p] == '\n' || text[p] == '\t' ? ' ' :
		    text[p]);
		p++;
	}
	if (end < len) {
		buf_addstr(&out, "...");
		buf_addstr(&plain, "...");
	}
	/* Cut at a code point if the marks made it too long. */
	search_snip_copy(h->sh_snippet, sizeof(h->sh_snippet), &out);
	kept = search_snip_copy(h->sh_text, sizeof(h->sh_text), &plain);
	while (h->sh_nhl > 0 && h->sh_hl_off[h->sh_nhl - 1] +
	    h->sh_hl_len[h->sh_nhl - 1] > kept)
		h->sh_nhl--;
	buf_free(&out);
	buf_free(&plain);
}

/*
 * A chunk's record: its document, its place and heading, its text in
 * text (inited here, to be freed) unless damaged (IXREC_ETEXT).
 */
int
search_chunk(MDB_txn *txn, struct sstate *ss, uint32_t cid, uint64_t *docid,
    struct ixchunk *ck, struct buf *text)
{
	uint8_t		 kb[4];
	MDB_val		 k = { 4, kb }, v;
	int		 rc;

	buf_init(text);
	util_put_be32(kb, cid);
	if ((rc = mdb_get(txn, index_dbi(ss->ss_ix, IDB_CHUNKS), &k, &v)) != 0)
		return (rc);
	return (ixrec_chunk_decode(txn, ss->ss_ix, v.mv_data, v.mv_size, docid,
	    ck, text));
}

/* A document's record. */
int
search_doc(MDB_txn *txn, struct sstate *ss, uint64_t docid, struct ixdoc *d)
{
	uint8_t		 kb[8];
	MDB_val		 k = { 8, kb }, v;
	int		 rc;

	util_put_be64(kb, docid);
	if ((rc = mdb_get(txn, index_dbi(ss->ss_ix, IDB_DOCS), &k, &v)) != 0)
		return (rc);
	if (index_doc_decode(v.mv_data, v.mv_size, d) == -1)
		return (MDB_CORRUPTED);
	return (0);
}

/* Fill a hit from its chunk and document records. */
int
search_fill(MDB_txn *txn, struct sstate *ss, struct search_hit *h)
{
	struct ixdoc	 d;
	struct ixchunk	 ck;
	struct buf	 text;
	uint64_t	 docid;
	int		 rc;

	rc = search_chunk(txn, ss, h->sh_cid, &docid, &ck, &text);
	if (rc != 0 && rc != IXREC_ETEXT) {
		buf_free(&text);
		return (rc);
	}
	h->sh_chunk = ck.ck_index;
	strlcpy(h->sh_heading, ck.ck_heading, sizeof(h->sh_heading));
	if (rc == 0)
		search_snippet(ss, text.b_data, text.b_len, h);
	buf_free(&text);
	if ((rc = search_doc(txn, ss, docid, &d)) != 0)
		return (rc);
	strlcpy(h->sh_extid, d.d_extid, sizeof(h->sh_extid));
	strlcpy(h->sh_title, d.d_title, sizeof(h->sh_title));
	return (0);
}
