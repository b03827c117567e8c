/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The http child's replies, and the query string's values, for every
 * route: a reply carries the headers every one must (Cache-Control:
 * no-store, X-Content-Type-Options: nosniff), an error is JSON
 * {"error": "...", "code": "..."} with its status, and a number from the
 * query string is bounded or answered with 400.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "http.h"

/* A reply with the headers every one carries; body may be NULL. */
void
http_send(struct http_req *hr, int code, const char *type,
    const void *body, size_t len)
{
	struct evkeyvalq	*h;
	struct evbuffer		*eb;
	char			 clen[32];

	h = evhttp_request_get_output_headers(hr->hr_req);
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if ((eb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	if (len > 0)
		evbuffer_add(eb, body, len);
	/*
	 * evhttp gives a reply to CONNECT neither a length nor a close, as
	 * if a tunnel followed it; none does, so the client is told where
	 * the reply ends and that the connection does too.
	 */
	if (evhttp_request_get_command(hr->hr_req) == EVHTTP_REQ_CONNECT) {
		snprintf(clen, sizeof(clen), "%zu", len);
		evhttp_add_header(h, "Content-Length", clen);
		evhttp_add_header(h, "Connection", "close");
	}
	evhttp_send_reply(hr->hr_req, code, http_reason(code), eb);
	evbuffer_free(eb);
	hr->hr_code = code;
}

/* A JSON reply: the text in b. */
void
http_json(struct http_req *hr, int code, const struct buf *b)
{
	http_send(hr, code, "application/json; charset=utf-8", b->b_data,
	    b->b_len);
}

/* {"error": "...", "code": "..."} with the status code. */
void
http_error(struct http_req *hr, int status, const char *code,
    const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;
	char		 msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	buf_init(&b);
	buf_addstr(&b, "{\"error\": ");
	show_json_str(&b, msg);
	buf_addstr(&b, ", \"code\": ");
	show_json_str(&b, code);
	buf_addstr(&b, "}\n");
	http_json(hr, status, &b);
	buf_free(&b);
}

const char *
http_reason(int code)
{
	switch (code) {
	case 200:	return ("OK");
	case 201:	return ("Created");
	case 202:	return ("Accepted");
	case 204:	return ("No Content");
	case 400:	return ("Bad Request");
	case 401:	return ("Unauthorized");
	case 403:	return ("Forbidden");
	case 404:	return ("Not Found");
	case 405:	return ("Method Not Allowed");
	case 409:	return ("Conflict");
	case 413:	return ("Payload Too Large");
	case 415:	return ("Unsupported Media Type");
	case 429:	return ("Too Many Requests");
	case 431:	return ("Request Header Fields Too Large");
	case 500:	return ("Internal Server Error");
	case 502:	return ("Bad Gateway");
	case 503:	return ("Service Unavailable");
	default:	return ("Unknown");
	}
}

/* --- Query strings. */

const char *
http_query(struct http_req *hr, const char *key)
{
	return (evhttp_find_header(&hr->hr_query, key));
}

/*
 * A number from the query string, def when it is absent; -1 after a 400
 * when it is not a number from min to max.
 */
int
http_query_num(struct http_req *hr, const char *key, long long min,
    long long max, long long def, long long *out)
{
	const char	*v, *errstr;

	*out = def;
	if ((v = http_query(hr, key)) == NULL)
		return (0);
	*out = strtonum(v, min, max, &errstr);
	if (errstr != NULL) {
		http_error(hr, 400, "bad_parameter", "%s=%s: %s (%lld to %lld)",
		    key, v, errstr, min, max);
		return (-1);
	}
	return (0);
}

