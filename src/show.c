/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What a user is shown, the same from quirectl and from the admin
 * socket: JSON strings, a job as a JSON object or as one line of
 * text, and the hits of a search.  Everything is appended to a struct
 * buf, which the caller writes to a FILE or an evbuffer.
 *
 * JSON strings are escaped per RFC 8259 and are always UTF-8: a file
 * name need not be, so each byte that is not valid UTF-8 is shown as
 * U+FFFD.  Text lines escape control bytes (util_vis), so each job
 * stays on one line and cannot drive a terminal.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

/* s as a JSON string, quotes included. */
void
show_json_str(struct buf *b, const char *s)
{
	const unsigned char	*p;
	struct buf		 fixed;
	char			 esc[8];

	if (!utf8_valid(s, strlen(s), NULL)) {
		buf_init(&fixed);
		utf8_repair(s, strlen(s), &fixed);
		show_json_str(b, buf_cstr(&fixed));
		buf_free(&fixed);
		return;
	}
	buf_addc(b, '"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			buf_addstr(b, "\\\"");
			break;
		case '\\':
			buf_addstr(b, "\\\\");
			break;
		case '\n':
			buf_addstr(b, "\\n");
			break;
		case '\r':
			buf_addstr(b, "\\r");
			break;
		case '\t':
			buf_addstr(b, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				buf_addstr(b, esc);
			} else
				buf_addc(b, *p);
		}
	}
	buf_addc(b, '"');
}

/* A printf into b, for the numbers around the strings. */
static void
show_printf(struct buf *b, const char *fmt, ...)
    __attribute__((__format__(printf, 2, 3)));

static void
show_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("%s", __func__);
	buf_add(b, s, n);
	free(s);
}

/* Where a job's document comes from: a path, a range or a command. */
void
show_job_source(const struct job *j, char *buf, size_t len)
{
	if (j->j_srckind == SRC_NDJSON)
		snprintf(buf, len, "%s@%llu+%llu", j->j_path,
		    (unsigned long long)j->j_off, (unsigned long long)j->j_len);
	else if (j->j_srckind == SRC_DEBUG)
		snprintf(buf, len, "debug:%s", j->j_path);
	else if (j->j_srckind == SRC_DELETE)
		snprintf(buf, len, "delete:%s", j->j_extid);
	else if (j->j_srckind == SRC_MOVE)
		snprintf(buf, len, "move:%s", j->j_extid);
	else if (j->j_srckind == SRC_SPOOL && j->j_len > 0)
		snprintf(buf, len, "spool:%s@%llu+%llu", j->j_path,
		    (unsigned long long)j->j_off, (unsigned long long)j->j_len);
	else if (j->j_srckind == SRC_SPOOL)
		snprintf(buf, len, "spool:%s%s%s", j->j_path,
		    j->j_extid[0] != '\0' ? " id " : "", j->j_extid);
	else
		strlcpy(buf, j->j_path, len);
}

void
show_job_json(struct buf *b, const struct job *j)
{
	show_printf(b, "{\"id\": %llu, \"state\": \"%s\", \"tenant\": ",
	    (unsigned long long)j->j_id, codec_state_name(j->j_state));
	show_json_str(b, j->j_tenant);
	show_printf(b, ", \"priority\": %d, \"size\": %llu, \"source\": "
	    "\"%s\", \"path\": ", j->j_prio, (unsigned long long)j->j_size,
	    codec_source_name(j->j_srckind));
	show_json_str(b, j->j_path);
	if (j->j_srckind == SRC_NDJSON ||
	    (j->j_srckind == SRC_SPOOL && j->j_len > 0))
		show_printf(b, ", \"offset\": %llu, \"length\": %llu",
		    (unsigned long long)j->j_off, (unsigned long long)j->j_len);
	if (j->j_extid[0] != '\0') {
		buf_addstr(b, ", \"doc_id\": ");
		show_json_str(b, j->j_extid);
	}
	if (j->j_title[0] != '\0') {
		buf_addstr(b, ", \"title\": ");
		show_json_str(b, j->j_title);
	}
	if (j->j_ctype[0] != '\0') {
		buf_addstr(b, ", \"content_type\": ");
		show_json_str(b, j->j_ctype);
	}
	buf_addstr(b, ", \"key\": ");
	if (j->j_key[0] != '\0')
		show_json_str(b, j->j_key);
	else
		buf_addstr(b, "null");
	show_printf(b, ", \"attempts\": %u, \"crashes\": %u, \"progress\": "
	    "%llu, \"created_ms\": %llu, \"updated_ms\": %llu",
	    j->j_attempts, j->j_crashes, (unsigned long long)j->j_progress,
	    (unsigned long long)j->j_created,
	    (unsigned long long)j->j_updated);
	if (j->j_state == JOB_LEASED)
		show_printf(b, ", \"lease\": {\"pid\": %u, \"slot\": %u, "
		    "\"generation\": %llu, \"deadline_ms\": %llu, "
		    "\"cancel\": %s}", j->j_lease_pid, j->j_lease_slot,
		    (unsigned long long)j->j_lease_gen,
		    (unsigned long long)j->j_lease_deadline,
		    j->j_cancel ? "true" : "false");
	if (j->j_state == JOB_RETRY)
		show_printf(b, ", \"retry_at_ms\": %llu",
		    (unsigned long long)j->j_runat);
	buf_addstr(b, ", \"error\": ");
	if (j->j_error[0] != '\0')
		show_json_str(b, j->j_error);
	else
		buf_addstr(b, "null");
	buf_addc(b, '}');
}

/* The header of the lines below. */
void
show_job_header(struct buf *b)
{
	show_printf(b, "%-10s %-9s %-12s %3s %3s %3s %10s %s\n", "ID",
	    "STATE", "TENANT", "PRI", "ATT", "CR", "SIZE", "SOURCE");
}

/* One job on one line, its error after a '#'. */
void
show_job_line(struct buf *b, const struct job *j)
{
	char	 src[64 + JOB_PATH_MAX];

	show_job_source(j, src, sizeof(src));
	show_printf(b, "%-10llu %-9s ", (unsigned long long)j->j_id,
	    codec_state_name(j->j_state));
	show_printf(b, "%-12s ", util_vis(j->j_tenant));
	show_printf(b, "%3d %3u %3u %10llu ", j->j_prio, j->j_attempts,
	    j->j_crashes, (unsigned long long)j->j_size);
	buf_addstr(b, util_vis(src));
	if (j->j_error[0] != '\0') {
		buf_addstr(b, "  # ");
		buf_addstr(b, util_vis(j->j_error));
	}
	buf_addc(b, '\n');
}

/* The words a search corrected: a JSON object, or a line of text. */
static void
show_corrected(struct buf *b, const struct search_result *res, int json)
{
	size_t	 i;

	if (json) {
		buf_addstr(b, "\"corrected\": {");
		for (i = 0; i < res->sr_ncorr; i++) {
			if (i > 0)
				buf_addstr(b, ", ");
			show_json_str(b, res->sr_corr_from[i]);
			buf_addstr(b, ": ");
			show_json_str(b, res->sr_corr_to[i]);
		}
		buf_addstr(b, "}, ");
		return;
	}
	for (i = 0; i < res->sr_ncorr; i++) {
		show_printf(b, "showing results for \"%s\"",
		    util_vis(res->sr_corr_to[i]));
		show_printf(b, res->sr_corr_kept[i] ? " and \"%s\"\n" :
		    " instead of \"%s\"\n", util_vis(res->sr_corr_from[i]));
	}
}

/*
 * The hits of a search, as text or JSON; offset is the number of best
 * hits skipped, so that the text numbers hits from offset + 1.
 */
/*
 * Facets: "facets": {"field": [["value", count], ...]} and
 * "facets_estimated" in JSON, a line a field in text.
 */
static void
show_search_facets(struct buf *b, const struct search_result *res, int json)
{
	const struct search_facet	*f;
	size_t				 i, j;
	int				 est = 0;

	if (res->sr_nfacets == 0)
		return;
	for (i = 0; i < res->sr_nfacets; i++)
		est |= res->sr_facets[i].sf_estimated;
	buf_addstr(b, json ? ", \"facets\": {" : "\n");
	for (i = 0; i < res->sr_nfacets; i++) {
		f = &res->sr_facets[i];
		if (json) {
			buf_addstr(b, i ? ", " : "");
			show_json_str(b, f->sf_field);
			buf_addstr(b, ": [");
		} else
			show_printf(b, "%s%s:", util_vis(f->sf_field),
			    f->sf_estimated ? " (estimated)" : "");
		for (j = 0; j < f->sf_n; j++) {
			if (json) {
				buf_addstr(b, j ? ", [" : "[");
				show_json_str(b, f->sf_v[j].fv_value);
				show_printf(b, ", %llu]", (unsigned long long)
				    f->sf_v[j].fv_count);
			} else
				show_printf(b, "%s %s %llu", j ? "," : "",
				    util_vis(f->sf_v[j].fv_value),
				    (unsigned long long)f->sf_v[j].fv_count);
		}
		buf_addstr(b, json ? "]" : "\n");
	}
	if (json)
		show_printf(b, "}, \"facets_estimated\": %s",
		    est ? "true" : "false");
}

void
show_search(struct buf *b, const struct search_result *res, size_t offset,
    int json)
{
	const struct search_hit	*h;
	size_t			 i, j;

	if (json) {
		show_printf(b, "{\"total\": %llu, \"total_exact\": %s, "
		    "\"took_ms\": %.3f, \"offset\": %zu, ",
		    (unsigned long long)res->sr_total,
		    res->sr_exact ? "true" : "false", res->sr_took_ms, offset);
		show_corrected(b, res, 1);
		buf_addstr(b, "\"hits\": [");
		for (i = 0; i < res->sr_n; i++) {
			h = &res->sr_hits[i];
			buf_addstr(b, i ? ",\n  {\"id\": " : "\n  {\"id\": ");
			show_json_str(b, h->sh_extid);
			show_printf(b, ", \"chunk\": %u, \"score\": %.4f, "
			    "\"score_full\": %.17g, ", h->sh_chunk,
			    h->sh_score, h->sh_score);
			if (res->sr_split)
				show_printf(b, "\"bonus\": %.17g, ",
				    h->sh_bonus);
			show_printf(b, "\"matches\": %u, \"title\": ",
			    h->sh_matches);
			show_json_str(b, h->sh_title);
			buf_addstr(b, ", \"heading\": ");
			show_json_str(b, h->sh_heading);
			buf_addstr(b, ", \"snippet\": ");
			show_json_str(b, h->sh_text);
			buf_addstr(b, ", \"highlights\": [");
			for (j = 0; j < h->sh_nhl; j++)
				show_printf(b, "%s[%u, %u]", j ? ", " : "",
				    h->sh_hl_off[j], h->sh_hl_len[j]);
			buf_addstr(b, "]}");
		}
		buf_addstr(b, res->sr_n > 0 ? "\n]" : "]");
		show_search_facets(b, res, 1);
		buf_addstr(b, "}\n");
		return;
	}
	show_corrected(b, res, 0);
	show_printf(b, "%s%llu matching chunks, %.1f ms\n",
	    res->sr_exact ? "" : "at least ",
	    (unsigned long long)res->sr_total, res->sr_took_ms);
	for (i = 0; i < res->sr_n; i++) {
		h = &res->sr_hits[i];
		show_printf(b, "\n%zu. %s (chunk %u, score %.3f", offset + i + 1,
		    util_vis(h->sh_extid), h->sh_chunk, h->sh_score);
		if (h->sh_matches > 1)
			show_printf(b, ", %u matching chunks", h->sh_matches);
		buf_addstr(b, ")\n");
		if (h->sh_title[0] != '\0')
			show_printf(b, "   %s%s%s\n", util_vis(h->sh_title),
			    h->sh_heading[0] != '\0' ? " > " : "",
			    util_vis(h->sh_heading));
		show_printf(b, "   %s\n", util_vis(h->sh_snippet));
	}
	show_search_facets(b, res, 0);
}

/*
 * A query's figures for BM25 (search_stats) as JSON: each term key in
 * hex, since it is bytes (a field byte, then the stem).
 */
void
show_search_stats(struct buf *b, const struct search_global *g)
{
	const struct search_gterm	*t;
	size_t				 i, j;

	show_printf(b, "{\"chunks\": %llu, \"live\": %llu, "
	    "\"tokens\": %llu, \"terms\": [", (unsigned long long)g->sg_chunks,
	    (unsigned long long)g->sg_live, (unsigned long long)g->sg_tokens);
	for (i = 0; i < g->sg_nterms; i++) {
		t = &g->sg_terms[i];
		buf_addstr(b, i ? ", {\"key\": \"" : "{\"key\": \"");
		for (j = 0; j < t->gt_len; j++)
			show_printf(b, "%02x", (unsigned char)t->gt_key[j]);
		show_printf(b, "\", \"df\": %llu}",
		    (unsigned long long)t->gt_df);
	}
	buf_addstr(b, "]}");
}
