/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The dashboard's files: GET / and GET /NAME from http-web-root.
 *
 * Only names of letters, digits, ".", "-" and "_", not starting with a
 * dot, one level deep, are served: a regular file opened beneath the
 * directory without following a symbolic link, at most HTTP_WEB_MAX
 * bytes, with a type from its extension and a Content-Security-Policy
 * that lets the page load nothing but itself and talk to nothing but
 * this API.  The files hold no data; the page asks the API, with the
 * token the user gives it, for everything it shows.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "http.h"

#define HTTP_WEB_MAX	(4 << 20)

static const struct {
	const char	*ext;
	const char	*type;
} http_types[] = {
	{ ".html",	"text/html; charset=utf-8" },
	{ ".css",	"text/css; charset=utf-8" },
	{ ".js",	"text/javascript; charset=utf-8" },
	{ ".svg",	"image/svg+xml" },
	{ ".png",	"image/png" },
	{ ".ico",	"image/x-icon" },
	{ ".txt",	"text/plain; charset=utf-8" },
};

static const char *
http_web_type(const char *name)
{
	const char	*dot = strrchr(name, '.');
	size_t		 i;

	for (i = 0; dot != NULL && i < sizeof(http_types) /
	    sizeof(http_types[0]); i++)
		if (strcmp(dot, http_types[i].ext) == 0)
			return (http_types[i].type);
	return (NULL);
}

static int
http_web_name(const char *name)
{
	const char	*p;

	if (name[0] == '.' || name[0] == '\0')
		return (0);
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_'))
			return (0);
	return (1);
}

/* The file's bytes in b; an errno value on failure. */
static int
http_web_read(const char *root, const char *name, struct buf *b)
{
	struct stat	 st;
	char		 chunk[65536];
	ssize_t		 n;
	int		 dfd, fd, saved;

	if ((dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (errno);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	saved = errno;
	close(dfd);
	if (fd == -1)
		return (saved);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > HTTP_WEB_MAX) {
		close(fd);
		return (ENOENT);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 &&
	    b->b_len + n <= HTTP_WEB_MAX)
		buf_add(b, chunk, n);
	saved = n == -1 ? errno : 0;
	close(fd);
	return (saved);
}

void
http_static(struct http_req *hr)
{
	const char	*root = hr->hr_hd->hd_ch.ch_conf.c_http_web;
	const char	*name, *type;
	struct evkeyvalq *h;
	struct buf	 b;
	int		 err;

	name = hr->hr_nseg == 0 ? "index.html" : hr->hr_seg[0];
	if (root[0] == '\0' || !http_web_name(name) ||
	    (type = http_web_type(name)) == NULL) {
		http_error(hr, 404, "not_found", "no such resource: %s",
		    hr->hr_path);
		return;
	}
	buf_init(&b);
	if ((err = http_web_read(root, name, &b)) != 0) {
		if (err != ENOENT)
			log_warnx("http: %s/%s: %s", root, name, strerror(err));
		http_error(hr, 404, "not_found", "no such resource: %s",
		    hr->hr_path);
		buf_free(&b);
		return;
	}
	h = evhttp_request_get_output_headers(hr->hr_req);
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'none'; "
	    "script-src 'self'; style-src 'self'; img-src 'self' data:; "
	    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	    "form-action 'self'");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	http_send(hr, 200, type, b.b_data, b.b_len);
	buf_free(&b);
}
