/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What extraction is told: its limits, from the configuration or their
 * defaults.  Kept apart from the parsers (extract.c), as extract_type.c
 * is, so that a program that only submits (quirectl) links none of
 * their libraries.
 */

#include <sys/types.h>

#include <string.h>

#include "quire.h"

void
extract_conf_defaults(struct extract_conf *xc)
{
	memset(xc, 0, sizeof(*xc));
	xc->xc_max_size = 64ULL << 20;
	xc->xc_max_text = 256ULL << 20;
	xc->xc_max_ratio = 100;
	xc->xc_max_depth = 256;
	xc->xc_max_line = 1ULL << 20;
	xc->xc_max_tokens = 0;		/* the size limits bound it */
	xc->xc_max_pages = 10000;
	xc->xc_utf8 = UTF8_REPAIR;
	xc->xc_id_field = "id";
	xc->xc_title_field = "title";
	xc->xc_text_field = "text";
}

/* The extraction settings from the configuration. */
void
extract_conf_from(const struct quire_conf *c, struct extract_conf *xc)
{
	extract_conf_defaults(xc);
	xc->xc_max_size = c->c_max_size;
	xc->xc_max_text = c->c_max_text;
	xc->xc_max_ratio = c->c_max_ratio;
	xc->xc_max_depth = c->c_max_depth;
	xc->xc_max_line = c->c_max_line;
	xc->xc_max_tokens = c->c_max_tokens;
	xc->xc_max_pages = c->c_max_pages;
	xc->xc_utf8 = c->c_utf8;
	xc->xc_id_field = c->c_id_field;
	xc->xc_title_field = c->c_title_field;
	xc->xc_text_field = c->c_text_field;
}
