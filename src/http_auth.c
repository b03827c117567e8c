/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Bearer tokens for the HTTP API: http-token-file, read at start and on
 * every reload (rotate a token: edit the file, kill -HUP).
 *
 * One token a line, 16 to 128 printable bytes without spaces, then
 * optionally a tenant: the token's requests see, search, submit and
 * cancel that tenant's jobs and documents only.  "#" starts a comment.
 * The file must be a regular file of mode 0600 or stricter owned by the
 * user quired runs as (config.c checks the same at start and on -n);
 * one that is not, or cannot be read, leaves the API refusing every
 * request that needs a token (503), never open.
 *
 * A token offered is compared with every token of the file, each over
 * the full HTTP_TOKEN_MAX bytes, zero-padded, so that the time taken
 * says nothing of where they differ nor of which one matched.  Tokens
 * are never logged.  /v1/events also takes the token as ?access_token=,
 * since a browser's EventSource cannot send a header.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "http.h"

/* Equal over HTTP_TOKEN_MAX bytes, in a time that depends on neither. */
static int
http_token_equal(const char *a, const char *b)
{
	volatile unsigned char	 d = 0;
	size_t			 i;

	for (i = 0; i < HTTP_TOKEN_MAX; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return (d == 0);
}

/* One line into tk; 0 for a blank line, -1 for a bad one. */
static int
http_token_line(char *line, struct http_token *tk)
{
	char	*tok, *tenant, *extra;
	size_t	 len;

	line[strcspn(line, "#\n")] = '\0';
	if ((tok = strtok(line, " \t")) == NULL)
		return (0);
	tenant = strtok(NULL, " \t");
	extra = strtok(NULL, " \t");
	len = strlen(tok);
	if (extra != NULL || len < HTTP_TOKEN_MIN || len >= HTTP_TOKEN_MAX ||
	    (tenant != NULL && strlen(tenant) > JOB_TENANT_MAX))
		return (-1);
	memset(tk, 0, sizeof(*tk));
	memcpy(tk->tk_token, tok, len);
	tk->tk_len = len;
	if (tenant != NULL)
		strlcpy(tk->tk_tenant, tenant, sizeof(tk->tk_tenant));
	return (1);
}

/* Open the token file as config.c requires it to be; NULL, logged. */
static FILE *
http_tokens_open(const char *path)
{
	struct stat	 st;
	FILE		*f;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		log_warnx("http: http-token-file %s: %s", path,
		    strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		log_warnx("http: http-token-file %s: must be a regular file "
		    "of mode 0600 owned by uid %u", path, (unsigned)geteuid());
		close(fd);
		return (NULL);
	}
	if ((f = fdopen(fd, "r")) == NULL)
		close(fd);
	return (f);
}

/* Read http-token-file again; on any error every request is refused. */
void
http_tokens_load(struct httpd *hd)
{
	const char	*path = hd->hd_ch.ch_conf.c_http_tokens;
	struct http_token *tks;
	char		 line[512];
	size_t		 n = 0, lineno = 0;
	FILE		*f;
	int		 rv;

	free(hd->hd_tokens);
	hd->hd_tokens = NULL;
	hd->hd_ntokens = 0;
	hd->hd_tokens_on = path[0] != '\0';
	hd->hd_tokens_bad = 0;
	if (!hd->hd_tokens_on)
		return;
	hd->hd_tokens_bad = 1;
	if ((f = http_tokens_open(path)) == NULL)
		return;
	tks = xcalloc(HTTP_TOKENS_MAX, sizeof(*tks));
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (n == HTTP_TOKENS_MAX || (rv = http_token_line(line,
		    &tks[n])) == -1) {
			log_warnx("http: http-token-file %s:%zu: %s", path,
			    lineno, n == HTTP_TOKENS_MAX ? "too many tokens" :
			    "not TOKEN [TENANT] with a token of 16 to 127 "
			    "bytes");
			fclose(f);
			free(tks);
			return;
		}
		n += rv;
	}
	fclose(f);
	hd->hd_tokens = tks;
	hd->hd_ntokens = n;
	hd->hd_tokens_bad = 0;
	log_info("http: %zu tokens from %s", n, path);
}

/* The token the request offers, zero-padded into buf; -1 if none. */
static int
http_offered(struct http_req *hr, char *buf)
{
	const char	*v;
	size_t		 len;

	memset(buf, 0, HTTP_TOKEN_MAX);
	v = evhttp_find_header(evhttp_request_get_input_headers(hr->hr_req),
	    "Authorization");
	if (v != NULL && strncasecmp(v, "Bearer ", 7) == 0)
		v += 7 + strspn(v + 7, " ");
	else if (v == NULL && hr->hr_nseg == 2 &&
	    strcmp(hr->hr_seg[1], "events") == 0)
		v = http_query(hr, "access_token");
	else
		v = NULL;
	if (v == NULL || (len = strlen(v)) == 0 || len >= HTTP_TOKEN_MAX)
		return (-1);
	memcpy(buf, v, len);
	return (0);
}

/*
 * May the request go on?  0, with hr_tenant set for a token bound to a
 * tenant; -1 after a 401 (no or a wrong token) or a 503 (no tokens).
 */
int
http_auth(struct http_req *hr)
{
	struct httpd	*hd = hr->hr_hd;
	char		 offered[HTTP_TOKEN_MAX];
	size_t		 i;
	int		 have, match = -1;

	if (!hd->hd_tokens_on)
		return (0);
	if (hd->hd_tokens_bad) {
		http_error(hr, 503, "tokens_unavailable", "the token file "
		    "could not be read; see the log");
		return (-1);
	}
	have = http_offered(hr, offered) == 0;
	for (i = 0; i < hd->hd_ntokens; i++)
		if (http_token_equal(offered, hd->hd_tokens[i].tk_token) &&
		    have && match == -1)
			match = i;
	explicit_bzero(offered, sizeof(offered));
	if (match == -1) {
		evhttp_add_header(evhttp_request_get_output_headers(
		    hr->hr_req), "WWW-Authenticate", "Bearer realm=\"quire\"");
		http_error(hr, 401, "unauthorized", have ? "wrong token" :
		    "a bearer token is required");
		return (-1);
	}
	if (hd->hd_tokens[match].tk_tenant[0] != '\0')
		hr->hr_tenant = hd->hd_tokens[match].tk_tenant;
	return (0);
}
