/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The HTTP API's addresses: the `listen` option, parsed and bound.
 *
 * `listen` holds one or more words, each ADDR:PORT with a numeric
 * address (127.0.0.1:8470, [::1]:8470), "localhost:PORT" for the IPv4
 * loopback, or "*:PORT" for every IPv4 address; "none" alone turns HTTP
 * off.  Port 0 lets the kernel pick one, which the log and status show.
 * An address off the loopback needs http-token-file (config.c checks
 * it with listener_public).
 *
 * The supervisor binds the sockets at start, before it gives up root,
 * so a port below 1024 works and a port in use stops the start with a
 * clear error.  It keeps them for its whole life and hands them to
 * every http child it starts (fleet.c), so connections that arrive
 * while the child is being replaced wait in the backlog instead of
 * being refused.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define LISTENER_BACKLOG	511

/* One word of the list into an address; -1 with err set. */
static int
listener_word(const char *w, struct listen_addr *la, char *err,
    size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 host[INET6_ADDRSTRLEN + 2];
	const char	*colon, *port;
	size_t		 hlen;
	int		 rv;

	if ((colon = strrchr(w, ':')) == NULL || colon[1] == '\0') {
		snprintf(err, errlen, "listen %s: not ADDR:PORT", w);
		return (-1);
	}
	port = colon + 1;
	hlen = colon - w;
	if (hlen >= 2 && w[0] == '[' && w[hlen - 1] == ']') {
		w++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "listen %s: no address", w);
		return (-1);
	}
	memcpy(host, w, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "localhost") == 0)
		strlcpy(host, "127.0.0.1", sizeof(host));
	else if (strcmp(host, "*") == 0)
		strlcpy(host, "0.0.0.0", sizeof(host));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "listen %s: %s", w, gai_strerror(rv));
		return (-1);
	}
	memcpy(&la->la_ss, res->ai_addr, res->ai_addrlen);
	la->la_len = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

/*
 * Parse a `listen` value into at most max addresses; *n is how many
 * ("none": 0).  Returns -1 with err set on a bad word.
 */
int
listener_parse(const char *list, struct listen_addr *la, size_t max,
    size_t *n, char *err, size_t errlen)
{
	char	 word[CONF_STR_MAX];
	size_t	 len;

	*n = 0;
	list += strspn(list, " \t");
	if (strcmp(list, "none") == 0)
		return (0);
	while (*list != '\0') {
		len = strcspn(list, " \t");
		if (len >= sizeof(word)) {
			snprintf(err, errlen, "listen: word too long");
			return (-1);
		}
		memcpy(word, list, len);
		word[len] = '\0';
		if (strcmp(word, "none") == 0) {
			snprintf(err, errlen, "listen none: only alone");
			return (-1);
		}
		if (*n == max) {
			snprintf(err, errlen, "listen: more than %zu addresses",
			    max);
			return (-1);
		}
		if (listener_word(word, &la[*n], err, errlen) == -1)
			return (-1);
		(*n)++;
		list += len;
		list += strspn(list, " \t");
	}
	if (*n == 0) {
		snprintf(err, errlen, "listen: no address (none turns HTTP "
		    "off)");
		return (-1);
	}
	return (0);
}

/* Whether an address is on the loopback (127.0.0.0/8 or ::1). */
int
listener_loopback(const struct listen_addr *la)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (la->la_ss.ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)&la->la_ss;
		return ((ntohl(sin->sin_addr.s_addr) >> 24) == 127);
	}
	sin6 = (const struct sockaddr_in6 *)&la->la_ss;
	return (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
}

/* The first address of a `listen` value off the loopback, or NULL. */
const char *
listener_public(const char *list, char *buf, size_t len)
{
	struct listen_addr	 la[LISTEN_MAX];
	char			 err[256];
	size_t			 i, n;

	if (listener_parse(list, la, LISTEN_MAX, &n, err, sizeof(err)) == -1)
		return (NULL);
	for (i = 0; i < n; i++)
		if (!listener_loopback(&la[i])) {
			listener_name(&la[i], buf, len);
			return (buf);
		}
	return (NULL);
}

/* "127.0.0.1:8470" or "[::1]:8470". */
void
listener_name(const struct listen_addr *la, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN], port[16];

	if (getnameinfo((const struct sockaddr *)&la->la_ss, la->la_len,
	    host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		strlcpy(buf, "?", len);
		return;
	}
	snprintf(buf, len, la->la_ss.ss_family == AF_INET6 ? "[%s]:%s" :
	    "%s:%s", host, port);
}

/*
 * Bind and listen on every address of `listen`: the descriptors go to
 * sv_http_fd, and sv_http_name holds each one's address as bound (the
 * port the kernel picked for port 0).  Returns -1 with err set.
 */
int
listener_open(struct supervisor *sv, char *err, size_t errlen)
{
	struct listen_addr	 la[LISTEN_MAX];
	size_t			 i, n;
	int			 fd, on = 1;

	if (listener_parse(sv->sv_conf.c_listen, la, LISTEN_MAX, &n, err,
	    errlen) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		listener_name(&la[i], sv->sv_http_name[i],
		    sizeof(sv->sv_http_name[i]));
		if ((fd = socket(la[i].la_ss.ss_family, SOCK_STREAM |
		    SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1 ||
		    (la[i].la_ss.ss_family == AF_INET6 && setsockopt(fd,
		    IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1) ||
		    bind(fd, (struct sockaddr *)&la[i].la_ss,
		    la[i].la_len) == -1 || listen(fd, LISTENER_BACKLOG) == -1) {
			snprintf(err, errlen, "listen %s: %s",
			    sv->sv_http_name[i], strerror(errno));
			if (fd != -1)
				close(fd);
			return (-1);
		}
		la[i].la_len = sizeof(la[i].la_ss);
		if (getsockname(fd, (struct sockaddr *)&la[i].la_ss,
		    &la[i].la_len) == 0)
			listener_name(&la[i], sv->sv_http_name[i],
			    sizeof(sv->sv_http_name[i]));
		sv->sv_http_fd[sv->sv_nhttp++] = fd;
	}
	return (0);
}
