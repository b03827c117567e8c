/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The http child's own declarations (http.c and the http_*.c files that
 * hold its routes), apart from quire.h, which every process includes.
 */

#ifndef QUIRE_HTTP_H
#define QUIRE_HTTP_H

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* sys/tree.h marks the functions a static tree may leave unused so. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

#define HTTP_PATH_MAX		1024	/* a request's path, decoded */
#define HTTP_SEGS_MAX		8	/* segments of a path */
#define HTTP_TOKENS_MAX		256	/* lines of http-token-file */
#define HTTP_TOKEN_MIN		16	/* bytes of a token, at least */
#define HTTP_TOKEN_MAX		128	/* and at most */
#define HTTP_ASK_MS		2000	/* a question to the supervisor */
#define HTTP_FD_RESERVE		32	/* descriptors kept from clients */

/* Methods, as route masks. */
#define HTTP_GET		0x01	/* and HEAD */
#define HTTP_POST		0x02
#define HTTP_DELETE		0x04

struct http_token {
	char		 tk_token[HTTP_TOKEN_MAX];	/* zero-padded */
	size_t		 tk_len;
	char		 tk_tenant[JOB_TENANT_MAX + 1];	/* "": any tenant */
};

struct httpd {
	struct child	 hd_ch;
	struct event_base *hd_base;
	struct evhttp	*hd_http;
	struct evconnlistener *hd_listen[LISTEN_MAX];
	size_t		 hd_nlisten;
	struct event	*hd_pause;	/* accepts resume when it fires */
	struct event	*hd_ipc;	/* the supervisor's socket */
	struct event	*hd_beat;	/* heartbeats */
	struct event	*hd_sweep;	/* connections' pace (http_conn.c) */
	struct ratelimit hd_accept_rl;
	struct queue	 hd_q;
	struct index	 hd_ix;
	struct tokenizer *hd_tk;	/* for searches, made at the first */
	char		 hd_ctlpath[CONF_STR_MAX];	/* the admin socket */
	int		 hd_conns;	/* accepted and not let go */
	size_t		 hd_maxconns;
	uint64_t	 hd_shut;	/* connections shut as too slow */
	char		 hd_refuse[256];	/* why uploads wait, or "" */
	uint64_t	 hd_requests;
	/* http-token-file, as last read; hd_tokens_bad: it could not be. */
	struct http_token *hd_tokens;
	size_t		 hd_ntokens;
	int		 hd_tokens_bad;
	int		 hd_tokens_on;	/* a token file is configured */
};

struct http_req {
	struct httpd	*hr_hd;
	struct evhttp_request *hr_req;
	const char	*hr_method_name;
	char		 hr_path[HTTP_PATH_MAX + 1];
	char		 hr_segbuf[HTTP_PATH_MAX + 1];
	char		*hr_seg[HTTP_SEGS_MAX];
	size_t		 hr_nseg;
	const char	*hr_id;		/* the segment a route's "*" matched */
	struct evkeyvalq hr_query;
	const char	*hr_tenant;	/* the token's tenant, or NULL: any */
	int		 hr_code;	/* the status sent */
	int		 hr_async;	/* the reply comes later (events) */
};

struct http_route {
	const char	*rt_path;
	int		 rt_methods;
	int		 rt_auth;
	void		(*rt_fn)(struct http_req *);
};

/* http_reply.c */
void		 http_send(struct http_req *, int, const char *, const void *,
		    size_t);
void		 http_json(struct http_req *, int, const struct buf *);
void		 http_error(struct http_req *, int, const char *, const char *,
		    ...) __attribute__((__format__(printf, 4, 5)));
const char	*http_reason(int);
const char	*http_query(struct http_req *, const char *);
int		 http_query_num(struct http_req *, const char *, long long,
		    long long, long long, long long *);

/* http_conn.c */
void		 http_conn_init(struct httpd *);
int		 http_conn_request(struct http_req *);
void		 http_conn_stream(struct http_req *);

/* http_auth.c */
void		 http_tokens_load(struct httpd *);
int		 http_auth(struct http_req *);

/* http_events.c */
void		 http_events(struct http_req *);

/* http_info.c */
int		 http_ask(struct http_req *, int, uint64_t, const char *,
		    struct buf *);
int		 http_ask_why(struct http_req *, int, uint64_t, const char *,
		    struct buf *, char *, size_t);
void		 http_health_tick(struct httpd *);
void		 http_healthz(struct http_req *);
void		 http_status(struct http_req *);
void		 http_metrics(struct http_req *);

/* http_search.c */
void		 http_search(struct http_req *);
void		 http_search_stats(struct http_req *);
void		 http_search_post(struct http_req *);

/* http_upload.c */
void		 http_upload(struct http_req *);
void		 http_upload_bulk(struct http_req *);

/* http_jobs.c */
void		 http_job(struct http_req *);
void		 http_jobs(struct http_req *);
void		 http_dead(struct http_req *);
void		 http_job_cancel(struct http_req *);
void		 http_job_retry(struct http_req *);
void		 http_dead_retry(struct http_req *);
void		 http_dead_purge(struct http_req *);

/* http_docs.c */
void		 http_document(struct http_req *);
void		 http_document_delete(struct http_req *);

/* http_web.c */
void		 http_static(struct http_req *);

#endif
