/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * One header for the whole program: every structure, constant and
 * prototype, grouped by the file that defines them.
 */

#ifndef QUIRE_H
#define QUIRE_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/tree.h>

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <lmdb.h>
#include <msgpack.h>

/* What RB_GENERATE_STATIC marks its functions with. */
#ifndef __unused
#define __unused	__attribute__((__unused__))
#endif

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

#define QUIRE_VERSION		PACKAGE_VERSION
/*
 * Where an installed build keeps its files: configure sets these from
 * --sysconfdir, --localstatedir and --runstatedir (Makefile.am), so the
 * programs, the sample configuration and the man pages agree.
 */
#ifndef QUIRE_CONFFILE
#define QUIRE_CONFFILE		"/etc/quire/quired.conf"
#endif
#ifndef QUIRE_DATADIR
#define QUIRE_DATADIR		"/var/lib/quire"
#endif
/* The runtime directory (pidfile); configure may set it (--runstatedir). */
#ifndef QUIRE_RUNDIR
#define QUIRE_RUNDIR		"/run/quire"
#endif
/* The web dashboard's files; configure sets it from --datadir. */
#ifndef QUIRE_WEBDIR
#define QUIRE_WEBDIR		"/usr/share/quire/web"
#endif
#define QUIRE_EXIT_NOMEM	3	/* fatal() after an allocation failed */

/* log.c */
void		 log_init(int, int);
void		 log_procinit(const char *);
void		 log_setverbose(int);
int		 log_getverbose(void);
int		 log_openfile(const char *);
int		 log_chown(uid_t, gid_t);
int		 log_syslog_check(void);
const char	*log_syslog_lost(void);
int		 log_stderr_seen(void);
void		 log_warn(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_info(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 log_debug(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
void		 fatal(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void		 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

/* util.c */
uint64_t	 util_now_ms(void);
uint64_t	 util_mono_ms(void);
uint64_t	 util_mono_us(void);
void		 util_put_be64(uint8_t *, uint64_t);
uint64_t	 util_get_be64(const uint8_t *);
void		 util_put_be32(uint8_t *, uint32_t);
uint32_t	 util_get_be32(const uint8_t *);
int		 util_parse_duration(const char *, uint64_t *, const char **);
int		 util_parse_size(const char *, uint64_t *, const char **);
void		 util_format_duration(uint64_t, char *, size_t);
void		 util_format_size(uint64_t, char *, size_t);
const char	*util_human_size(uint64_t, char *, size_t);
int		 util_read_small(const char *, char *, size_t);
int		 util_mkdir_p(const char *, mode_t);
int		 util_fsync_dir(const char *);
const char	*util_vis(const char *);
int		 util_openat_file(int, const char *, int, mode_t);
int		 util_chown_socket(const char *, uid_t, gid_t);
const char	*util_open_strerror(int);
int		 util_check_entry(const char *, int);

/* At most one line a second of a repeated complaint (util_ratelimit). */
struct ratelimit {
	uint64_t	 rl_last;	/* mono ms of the last line let through */
	uint64_t	 rl_suppressed;	/* lines held back since */
};
int		 util_ratelimit(struct ratelimit *, uint64_t *);

/* codec.c */
enum job_state {
	JOB_READY = 0,
	JOB_LEASED,
	JOB_RETRY,
	JOB_DONE,
	JOB_DEAD,
	JOB_CANCELLED,
	JOB_NSTATES
};

enum job_source {
	SRC_PATH = 0,		/* a file under an allowed root */
	SRC_SPOOL,		/* an uploaded body under spool/ */
	SRC_NDJSON,		/* a byte range of an NDJSON file */
	SRC_DEBUG,		/* a debug command, when enabled */
	SRC_DELETE,		/* delete the document j_extid (homes) */
	SRC_MOVE,		/* a drained host's document, from its chunks */
	SRC_NKINDS
};

#define JOB_KEY_MAX		256
#define JOB_TENANT_MAX		64
#define JOB_PATH_MAX		4096
#define JOB_ERROR_MAX		256
#define JOB_LANG_MAX		31
#define JOB_EXTID_MAX		512	/* as IX_EXTID_MAX */
#define JOB_TITLE_MAX		255	/* as struct ixdoc's d_title */
#define JOB_CTYPE_MAX		127
#define JOB_PRIO_MIN		0
#define JOB_PRIO_MAX		9
#define JOB_PRIO_DEFAULT	0
#define CODEC_RECORD_MAX	(64 * 1024)

struct job {
	uint64_t	 j_id;
	char		 j_key[JOB_KEY_MAX + 1];
	char		 j_tenant[JOB_TENANT_MAX + 1];
	uint32_t	 j_tenant_id;
	int		 j_prio;
	uint64_t	 j_size;
	int		 j_srckind;
	char		 j_path[JOB_PATH_MAX + 1];
	uint64_t	 j_off;
	uint64_t	 j_len;
	int		 j_state;
	uint32_t	 j_attempts;
	uint32_t	 j_crashes;
	uint32_t	 j_lease_slot;
	uint32_t	 j_lease_pid;
	uint64_t	 j_lease_gen;
	uint64_t	 j_lease_deadline;
	uint64_t	 j_progress;
	int		 j_cancel;
	uint64_t	 j_created;
	uint64_t	 j_updated;
	uint64_t	 j_runat;
	char		 j_error[JOB_ERROR_MAX];
	char		 j_lang[JOB_LANG_MAX + 1];	/* "" for the default */
	/* Given by an uploader (SRC_SPOOL); "" when not. */
	char		 j_extid[JOB_EXTID_MAX + 1];
	char		 j_title[JOB_TITLE_MAX + 1];
	char		 j_ctype[JOB_CTYPE_MAX + 1];
};

const char	*codec_state_name(int);
int		 codec_state_parse(const char *);
const char	*codec_source_name(int);
int		 codec_source_parse(const char *);
int		 codec_job_encode(const struct job *, msgpack_sbuffer *);
void		 codec_pack_key(msgpack_packer *, const char *);
void		 codec_pack_str(msgpack_packer *, const char *, const char *);
void		 codec_pack_uint(msgpack_packer *, const char *, uint64_t);
int		 codec_job_decode(const void *, size_t, struct job *);
int		 codec_check(const uint8_t *, size_t);

/* spool.c */
#define SPOOL_DIR		"spool"
#define SPOOL_NAME_LEN		34	/* 16 hex - 8 hex - 8 hex */
#define SPOOL_OK		0
#define SPOOL_ERROR		-1	/* sw_errno says why */
#define SPOOL_ETOOBIG		-2	/* past the limit: nothing kept */
#define SPOOL_EFAULT		-3	/* storage fault, in sw_fault */
#define SPOOL_EREAD		-4	/* spool_put_fd: reading its source */
#define SPOOL_ORPHAN_MS		(3600 * 1000)	/* spool_sweep's age */

struct spool_writer {
	int		 sw_dfd;	/* the spool directory */
	int		 sw_fd;		/* the temporary file, or -1 */
	uint64_t	 sw_len;
	uint64_t	 sw_max;
	int		 sw_errno;
	int		 sw_fault;	/* enum store_fault */
	char		 sw_name[SPOOL_NAME_LEN + 1];
};

int		 spool_dir(const char *, int);
int		 spool_name_ok(const char *);
int		 spool_begin(struct spool_writer *, const char *, uint64_t);
int		 spool_write(struct spool_writer *, const void *, size_t);
int		 spool_commit(struct spool_writer *);
void		 spool_abort(struct spool_writer *);
int		 spool_put(struct spool_writer *, const char *, const void *,
		    size_t, uint64_t);
int		 spool_put_fd(struct spool_writer *, const char *, int,
		    uint64_t);
int		 spool_open(const char *, const char *);
int		 spool_unlink(const char *, const char *);
int		 spool_sweep(const char *, uint64_t,
		    int (*)(const char *, void *), void *);

/* store.c */
enum store_sync {
	STORE_SYNC_FULL = 0,	/* fsync data and meta page at every commit */
	STORE_SYNC_GROUP,	/* fsync data, meta page on the next sync */
	STORE_SYNC_NONE		/* leave it to the kernel: loses commits */
};

/* Why a write failed, when it is the storage's fault, not the data's. */
enum store_fault {
	STORE_FAULT_NONE = 0,
	STORE_FAULT_FULL,	/* the file system is full (or over quota) */
	STORE_FAULT_MAP,	/* the map reached map-size */
	STORE_FAULT_IO,		/* an I/O error, a read-only file system */
	STORE_FAULT_DOWN,	/* the queue's database server is out of reach */
	STORE_FAULT_IDS		/* a number space ran out (STORE_ENOIDS) */
};

/*
 * A write that needs a number its space has no more of (the index's
 * chunk ids are 32 bits): the database can take no more such writes.  A
 * bigger map would not help, so store_write does not grow it.
 */
#define STORE_ENOIDS		EOVERFLOW

#define STORE_MAXDBS		16
#define STORE_MAPSIZE_DEFAULT	(64ULL * 1024 * 1024)
#define STORE_MAPSIZE_MAX	(1ULL << 40)

struct store {
	MDB_env		*s_env;
	char		 s_path[JOB_PATH_MAX];
	size_t		 s_mapsize;
	size_t		 s_mapmax;
	int		 s_sync;
	int		 s_ndbs;
	const char	*s_names[STORE_MAXDBS];
	MDB_dbi		 s_dbi[STORE_MAXDBS];
	uint64_t	 s_grows;
	uint64_t	 s_checked;	/* last stale reader check, mono ms */
	uint64_t	 s_stale;	/* stale reader slots cleared */
	int		 s_fault;	/* of the last write, or none */
	int		 s_panic;	/* MDB_PANIC: reopen before the next */
	int		 s_overlap;	/* a worker's: meta synced unlocked */
	uint64_t	 s_fault_logged; /* mono ms of the last fault line */
	uint64_t	 s_fault_quiet;	/* fault lines left out since */
};

typedef int	 (*store_fn)(MDB_txn *, void *);

int		 store_open(struct store *, const char *, const char **, int,
		    int, size_t);
void		 store_close(struct store *);
int		 store_write(struct store *, store_fn, void *);
int		 store_read(struct store *, store_fn, void *);
int		 store_sync(struct store *);
int		 store_overlap(struct store *);
int		 store_reader_check(struct store *, int *);
int		 store_readers(struct store *, pid_t *, int);
void		 store_limit(struct store *, uint64_t);
int		 store_fault(int);
const char	*store_fault_name(int);
const char	*store_sync_name(int);
int		 store_sync_parse(const char *);

/* queue.c */
#define QUEUE_OK		0
#define QUEUE_ERROR		-1
#define QUEUE_ENOENT		-2	/* no such job */
#define QUEUE_ESTALE		-3	/* lease generation does not match */
#define QUEUE_ESTATE		-4	/* job is not in a state for this */
#define QUEUE_ECANCEL		-5	/* cancel requested for a leased job */
#define QUEUE_EINVAL		-6	/* bad argument */
#define QUEUE_ENOSPC		-7	/* storage: the file system is full */
#define QUEUE_EMAPFULL		-8	/* storage: the map reached map-max */
#define QUEUE_EIO		-9	/* storage: an I/O error */
#define QUEUE_EDOWN		-10	/* storage: the server is out of reach */
#define QUEUE_ELAST		QUEUE_EDOWN

#define QUEUE_CRASH_ALL		UINT64_MAX	/* release: every job crashed */
#define QUEUE_MEMORY_LIMIT	"memory-limit"	/* a cause: kept as the reason */

#define QUEUE_BACKEND_LMDB	0	/* queue_lmdb.c, the default */
#define QUEUE_BACKEND_PG	1	/* queue_pg.c */
#define QUEUE_HOST_MAX		255	/* bytes of a host name */

/* A host sharing the queue (queue_pg_hosts); times in ms. */
struct queue_host {
	char		 qh_name[QUEUE_HOST_MAX + 1];
	char		 qh_http[256];	/* first listen address */
	uint32_t	 qh_pid;	/* its supervisor's */
	uint64_t	 qh_started;
	uint64_t	 qh_beat;	/* last heartbeat, server's clock */
	uint64_t	 qh_age;	/* since then */
	uint64_t	 qh_expired;	/* when its leases were released */
	uint64_t	 qh_leased;	/* jobs it holds */
	uint64_t	 qh_docs;	/* documents whose home it is */
	uint64_t	 qh_draining;	/* when its drain began, or 0 */
	uint64_t	 qh_drained;	/* when it ended, or 0 */
	int		 qh_stopped;	/* stopped cleanly */
	int		 qh_self;	/* this host */
};
typedef int	 (*queue_host_cb)(const struct queue_host *, void *);


struct queue_conf {
	uint32_t	 qc_max_attempts;
	uint32_t	 qc_max_crashes;
	uint64_t	 qc_backoff_ms;
	uint64_t	 qc_backoff_max_ms;
	uint64_t	 qc_lease_ms;
	uint64_t	 qc_aging_ms;
	uint64_t	 qc_claim_bytes;
	uint64_t	 qc_big_bytes;
	uint64_t	 qc_big_inflight;
	uint64_t	 qc_fair_unit;
	uint64_t	 qc_retain_done;
	uint64_t	 qc_retain_age_ms;
	size_t		 qc_mapsize;
	int		 qc_sync;
	int		 qc_backend;	/* QUEUE_BACKEND_LMDB or _PG */
	char		 qc_dsn[1024];	/* libpq connection string */
	char		 qc_host[256];	/* host-name, lease holder */
};

struct queue_stats {
	uint64_t	 qs_count[JOB_NSTATES];
	uint64_t	 qs_next_id;
	uint64_t	 qs_next_gen;
	uint64_t	 qs_big_inflight;
	uint64_t	 qs_enqueued;
	uint64_t	 qs_completed;
	uint64_t	 qs_failed;
	uint64_t	 qs_released;
	uint64_t	 qs_done;	/* acked done */
	uint64_t	 qs_retried;	/* failed attempts, to be retried */
	uint64_t	 qs_cancelled;
};

struct qpg;

struct queue {
	const struct queue_backend *q_be;
	struct qpg	*q_pg;		/* queue_pg.h's connection, or NULL */
	struct store	 q_store;
	char		 q_datadir[JOB_PATH_MAX];
	/* Spool files the transaction let go, removed after its commit. */
	char		(*q_unlink)[SPOOL_NAME_LEN + 1];
	size_t		 q_nunlink;
	size_t		 q_unlinkcap;
	struct queue_conf q_conf;
	uint64_t	 q_fixed_now;	/* tests: a fixed clock when non-zero */
	msgpack_sbuffer	 q_buf;
};

/* One job to enqueue; qn_id and qn_dup are filled in. */
struct queue_new {
	const char	*qn_key;
	const char	*qn_tenant;
	int		 qn_prio;
	uint64_t	 qn_size;
	int		 qn_srckind;
	const char	*qn_path;
	uint64_t	 qn_off;
	uint64_t	 qn_len;
	const char	*qn_lang;	/* stemming language, or NULL */
	const char	*qn_dead;	/* enqueue as a dead letter with this */
	const char	*qn_extid;	/* SRC_SPOOL: the uploader's id, title */
	const char	*qn_title;	/* and content type, or NULL */
	const char	*qn_ctype;
	const char	*qn_home;	/* the one host to claim it, or NULL */
	/*
	 * PostgreSQL only.  The document's id as the index keys it, when
	 * the job does not name it (a record's); the host that may not
	 * claim it (a move's drained host); a body the job carries (a
	 * move's document).
	 */
	const char	*qn_docid;
	const char	*qn_away;
	const void	*qn_body;
	size_t		 qn_bodylen;
	uint64_t	 qn_id;
	int		 qn_dup;
};

struct queue_owner {
	uint32_t	 qo_slot;
	uint32_t	 qo_pid;
};

/* What a cancel found: the state before it, and a lease's holder. */
struct queue_cancelled {
	int		 qx_state;	/* enum job_state before the cancel */
	uint64_t	 qx_gen;	/* when leased: the lease */
	uint32_t	 qx_pid;
	uint32_t	 qx_slot;
};

/*
 * A document a job indexed (or deleted), for its home record
 * (queue_docs): the job's tenant and the document's external id as the
 * index keeps it.
 */
struct queue_doc {
	uint64_t	 qd_job;
	uint64_t	 qd_hash;	/* content hash, as the index's */
	int		 qd_deleted;
	const char	*qd_tenant;
	const char	*qd_extid;
	const char	*qd_away;	/* a move: the drained host, or NULL */
};

/* A job as its lease holder names it. */
struct queue_lease {
	uint64_t	 ql_id;
	uint64_t	 ql_gen;
};

struct queue_release {
	uint32_t	 qr_released;	/* back to ready */
	uint32_t	 qr_dead;	/* quarantined after max crashes */
	uint32_t	 qr_cancelled;	/* cancel was pending */
	uint64_t	 qr_jobs[64];	/* first job ids released */
};

typedef int	 (*queue_list_cb)(const struct job *, void *);
typedef int	 (*queue_tenant_cb)(const char *, const uint64_t *, void *);

/* A page of jobs in id order (queue_page). */
struct queue_page {
	int		 qp_state;	/* -1: every state */
	const char	*qp_tenant;	/* NULL: every tenant */
	uint64_t	 qp_after;	/* ids above this one */
	size_t		 qp_limit;	/* jobs, at most */
	size_t		 qp_scan;	/* records read, at most; 0: no bound */
	uint64_t	 qp_next;	/* out: qp_after of the next page, or 0 */
};

/*
 * A queue's storage (queue.c): one function per queue_* operation that
 * touches it, with that operation's arguments and results.
 */
struct queue_backend {
	const char	*qb_name;		/* "lmdb", "postgresql" */
	int	(*qb_open)(struct queue *, const char *,
		    const struct queue_conf *);
	void	(*qb_close)(struct queue *);
	int	(*qb_enqueue)(struct queue *, struct queue_new *, size_t);
	int	(*qb_claim)(struct queue *, const struct queue_owner *,
		    struct job *, size_t, size_t *);
	int	(*qb_ack)(struct queue *, const struct queue_lease *, size_t,
		    int *);
	int	(*qb_ack_claim)(struct queue *, const struct queue_lease *,
		    size_t, int *, const struct queue_owner *, struct job *,
		    size_t, size_t *);
	int	(*qb_settle)(struct queue *);
	int	(*qb_heartbeat)(struct queue *, uint64_t, uint64_t, uint64_t);
	int	(*qb_fail)(struct queue *, uint64_t, uint64_t, const char *,
		    int, int *);
	int	(*qb_cancel)(struct queue *, uint64_t);
	int	(*qb_cancel_job)(struct queue *, uint64_t,
		    struct queue_cancelled *);
	int	(*qb_release_pid)(struct queue *, uint32_t, const char *,
		    uint64_t, struct queue_release *);
	int	(*qb_sweep)(struct queue *, struct queue_release *);
	int	(*qb_extend_pid)(struct queue *, uint32_t);
	int	(*qb_retry)(struct queue *, uint64_t);
	int	(*qb_retry_dead)(struct queue *, uint64_t *);
	int	(*qb_retry_dead_tenant)(struct queue *, const char *,
		    uint64_t *);
	int	(*qb_purge)(struct queue *, int, uint64_t, uint64_t,
		    uint64_t *);
	int	(*qb_purge_tenant)(struct queue *, int, const char *,
		    uint64_t, uint64_t, uint64_t *);
	int	(*qb_stats)(struct queue *, struct queue_stats *);
	int	(*qb_get)(struct queue *, uint64_t, struct job *);
	int	(*qb_list)(struct queue *, int, size_t, queue_list_cb, void *);
	int	(*qb_page)(struct queue *, struct queue_page *, queue_list_cb,
		    void *);
	int	(*qb_spool_refs)(struct queue *, const char *, uint64_t *);
	int	(*qb_tenants)(struct queue *, queue_tenant_cb, void *);
	int	(*qb_watch)(struct queue *, const uint64_t *, size_t,
		    uint64_t *, size_t, queue_list_cb, void *);
	/* Home records; NULL where documents have no home (LMDB). */
	int	(*qb_docs)(struct queue *, const struct queue_doc *, size_t);
};

extern const struct queue_backend queue_lmdb_backend;	/* queue_lmdb.c */
extern const struct queue_backend queue_pg_backend;	/* queue_pg.c */

void		 queue_conf_defaults(struct queue_conf *);
int		 queue_open(struct queue *, const char *,
		    const struct queue_conf *);
void		 queue_close(struct queue *);
uint64_t	 queue_now(struct queue *);
int		 queue_enqueue(struct queue *, struct queue_new *, size_t);
int		 queue_claim(struct queue *, const struct queue_owner *,
		    struct job *, size_t, size_t *);
int		 queue_ack(struct queue *, const struct queue_lease *, size_t,
		    int *);
int		 queue_ack_claim(struct queue *, const struct queue_lease *,
		    size_t, int *, const struct queue_owner *, struct job *,
		    size_t, size_t *);
int		 queue_settle(struct queue *);
int		 queue_heartbeat(struct queue *, uint64_t, uint64_t, uint64_t);
int		 queue_fail(struct queue *, uint64_t, uint64_t, const char *,
		    int, int *);
int		 queue_cancel(struct queue *, uint64_t);
int		 queue_cancel_job(struct queue *, uint64_t,
		    struct queue_cancelled *);
int		 queue_release_pid(struct queue *, uint32_t, const char *,
		    uint64_t, struct queue_release *);
int		 queue_sweep(struct queue *, struct queue_release *);
int		 queue_extend_pid(struct queue *, uint32_t);
int		 queue_retry(struct queue *, uint64_t);
int		 queue_retry_dead(struct queue *, uint64_t *);
int		 queue_retry_dead_tenant(struct queue *, const char *,
		    uint64_t *);
int		 queue_purge(struct queue *, int, uint64_t, uint64_t,
		    uint64_t *);
int		 queue_purge_tenant(struct queue *, int, const char *,
		    uint64_t, uint64_t, uint64_t *);
int		 queue_stats(struct queue *, struct queue_stats *);
int		 queue_get(struct queue *, uint64_t, struct job *);
int		 queue_list(struct queue *, int, size_t, queue_list_cb, void *);
int		 queue_page(struct queue *, struct queue_page *, queue_list_cb,
		    void *);
int		 queue_spool_refs(struct queue *, const char *, uint64_t *);
int		 queue_tenants(struct queue *, queue_tenant_cb, void *);
int		 queue_watch(struct queue *, const uint64_t *, size_t,
		    uint64_t *, size_t, queue_list_cb, void *);
int		 queue_docs(struct queue *, const struct queue_doc *, size_t);
uint64_t	 queue_backoff(const struct queue_conf *, uint32_t);
struct store	*queue_store(struct queue *);
const char	*queue_backend_name(const struct queue *);
void		 queue_where(struct queue *, char *, size_t);
const char	*queue_host_state(const struct queue_host *, uint64_t);
const char	*queue_host_drain(const struct queue_host *);
const char	*queue_strerror(int);
int		 queue_fault(int);

/* queue_pg_schema.c */
int		 queue_pg_migrate(const char *, int, char *, size_t);

/* queue_pg.c */
int		 queue_pg_wait(struct queue *, int);
int		 queue_pg_fd(struct queue *);
void		 queue_pg_where(struct queue *, char *, size_t);

/* queue_pg_hosts.c */
int		 queue_pg_host_beat(struct queue *, const char *, uint64_t,
		    int);
int		 queue_pg_host_expire(struct queue *, uint64_t,
		    struct queue_release *, char *, size_t);
int		 queue_pg_hosts(struct queue *, queue_host_cb, void *);
const char	*queue_pg_host(struct queue *);

/* queue_pg_homes.c */
int		 queue_pg_doc_home(struct queue *, char *, size_t,
		    const char *, char *, size_t);
int		 queue_pg_foreign(struct queue *, const struct queue_doc *,
		    size_t, uint8_t *, char (*)[QUEUE_HOST_MAX + 1]);

/* queue_pg_spool.c */
int		 queue_pg_spool_size(struct queue *, const char *, uint64_t *,
		    int *);
int		 queue_pg_spool_read(struct queue *, const char *, uint64_t,
		    size_t, void *);

/* queue_pg_drain.c */
struct buf;
int		 queue_pg_body(struct queue *, uint64_t, uint64_t,
		    struct buf *);
int		 queue_pg_draining(struct queue *, const char *, uint64_t *,
		    uint64_t *);

/* A drain's figures (queue_pg_drain_look). */
struct queue_drain {
	uint64_t	 qdr_leased;	/* jobs the drained host holds */
	uint64_t	 qdr_others;	/* live hosts that may take documents */
	uint64_t	 qdr_moves[JOB_NSTATES];	/* move jobs, by state */
	uint64_t	 qdr_homes;	/* documents whose home it still is */
};
typedef int	 (*queue_count_cb)(const char *, uint64_t, void *);

int		 queue_pg_drain_mark(struct queue *, const char *, uint64_t *);
int		 queue_pg_drain_look(struct queue *, const char *, uint64_t,
		    struct queue_drain *);
int		 queue_pg_drain_end(struct queue *, const char *, uint64_t *,
		    uint64_t *);
int		 queue_pg_drain_moved(struct queue *, const char *,
		    queue_count_cb, void *);
int		 queue_pg_drain_gone(struct queue *, const char *,
		    const struct queue_doc *, size_t, uint8_t *);
int		 queue_pg_undrain(struct queue *, const char *, uint64_t *);

/* submit.c */
struct submit_opts {
	const char	*so_tenant;
	const char	*so_key;
	const char	*so_lang;
	int		 so_prio;
	uint64_t	 so_split;	/* NDJSON range size */
	const char	**so_include;	/* fnmatch patterns: files to take */
	size_t		 so_ninclude;
	const char	**so_exclude;	/* files and directories to leave */
	size_t		 so_nexclude;
	int		 so_autokey;	/* key each file by path, size, mtime */
};

#define SUBMIT_SPLIT_DEFAULT	(8ULL << 20)

struct submit_batch {
	struct queue_new *sb_jobs;
	char		**sb_strs;	/* owned strings, freed with the batch */
	size_t		 sb_n;
	size_t		 sb_cap;
	size_t		 sb_nstrs;
	size_t		 sb_strcap;
	uint64_t	 sb_bytes;
	size_t		 sb_skipped;	/* not regular, or unsupported */
	size_t		 sb_excluded;	/* by --include or --exclude */
};

/* What an uploader says of one document; NULL when not said. */
struct submit_upload {
	const char	*su_id;		/* external id */
	const char	*su_title;
	const char	*su_ctype;	/* content type */
};

void		 submit_init(struct submit_batch *);
void		 submit_free(struct submit_batch *);
int		 submit_add_path(struct submit_batch *, const char *,
		    const struct submit_opts *);
int		 submit_add_ndjson(struct submit_batch *, const char *,
		    const struct submit_opts *);
int		 submit_add_debug(struct submit_batch *, const char *,
		    const struct submit_opts *);
int		 submit_add_spool(struct submit_batch *, const char *,
		    uint64_t, const struct submit_upload *,
		    const struct submit_opts *);
int		 submit_add_spool_ndjson(struct submit_batch *, const char *,
		    const char *, const struct submit_opts *);
int		 submit_enqueue_spool(struct queue *, struct submit_batch *,
		    const char *, const char *);
int		 submit_ndjson_ranges(int, uint64_t, uint64_t,
		    int (*)(uint64_t, uint64_t, void *), void *);

/* config.c */
#define QUIRE_WORKERS_MAX	256
#define CONF_STR_MAX		1024

enum conf_type {
	CONF_INT,
	CONF_DURATION,		/* milliseconds */
	CONF_SIZE,		/* bytes */
	CONF_BOOL,
	CONF_MODE,		/* octal file mode */
	CONF_ENUM,		/* index into o_values */
	CONF_STRING,
	CONF_PATH,		/* absolute, or empty */
	CONF_REAL,		/* a double, in thousandths for bounds */
	CONF_LIST		/* words; a repeated line adds to the list */
};

/* What SIGHUP does with a changed option. */
#define CONF_RELOAD_NO		0	/* takes effect at restart */
#define CONF_RELOAD_LIVE	1	/* the supervisor and running children */
#define CONF_RELOAD_RESPAWN	2	/* workers are replaced, one at a time */

struct conf_opt {
	const char	*o_name;
	enum conf_type	 o_type;
	size_t		 o_off;
	uint64_t	 o_min;
	uint64_t	 o_max;
	const char	*o_default;
	int		 o_reload;	/* CONF_RELOAD_* */
	const char	**o_values;	/* CONF_ENUM */
	const char	*o_help;
};

/* Every number is a uint64_t, so one setter serves the whole table. */
struct quire_conf {
	char		 c_datadir[CONF_STR_MAX];
	char		 c_user[CONF_STR_MAX];
	char		 c_group[CONF_STR_MAX];
	char		 c_rundir[CONF_STR_MAX];
	char		 c_pidfile[CONF_STR_MAX];
	char		 c_control[CONF_STR_MAX];
	uint64_t	 c_control_mode;
	char		 c_control_group[CONF_STR_MAX];
	char		 c_logfile[CONF_STR_MAX];
	uint64_t	 c_loglevel;
	uint64_t	 c_workers;
	uint64_t	 c_min_workers;
	uint64_t	 c_max_workers;
	uint64_t	 c_drain_ms;
	uint64_t	 c_lease_ms;
	uint64_t	 c_heartbeat_ms;
	uint64_t	 c_hang_ms;
	uint64_t	 c_start_ms;
	uint64_t	 c_job_timeout_ms;	/* 0: no limit */
	uint64_t	 c_grace_ms;
	uint64_t	 c_max_attempts;
	uint64_t	 c_max_crashes;
	uint64_t	 c_backoff_ms;
	uint64_t	 c_backoff_max_ms;
	uint64_t	 c_claim_batch;
	uint64_t	 c_claim_bytes;
	uint64_t	 c_big_bytes;
	uint64_t	 c_big_inflight;
	uint64_t	 c_fair_unit;
	uint64_t	 c_aging_ms;
	uint64_t	 c_retain_done;
	uint64_t	 c_retain_age_ms;
	uint64_t	 c_sync;
	uint64_t	 c_queue_backend;	/* QUEUE_BACKEND_LMDB or _PG */
	char		 c_queue_dsn[CONF_STR_MAX];
	char		 c_queue_passfile[CONF_STR_MAX];
	char		 c_host_name[CONF_STR_MAX];	/* "": hostname */
	uint64_t	 c_host_expiry_ms;
	uint64_t	 c_mapsize;
	uint64_t	 c_mapmax;
	uint64_t	 c_debug_jobs;
	char		 c_roots[CONF_STR_MAX];
	uint64_t	 c_max_size;
	uint64_t	 c_max_bulk;
	uint64_t	 c_max_text;
	uint64_t	 c_max_ratio;
	uint64_t	 c_max_depth;
	uint64_t	 c_max_line;
	uint64_t	 c_max_tokens;
	uint64_t	 c_max_pages;
	uint64_t	 c_utf8;
	char		 c_language[CONF_STR_MAX];
	uint64_t	 c_stopwords;
	uint64_t	 c_chunk_size;
	uint64_t	 c_chunk_overlap;
	uint64_t	 c_chunk_min;
	char		 c_id_field[CONF_STR_MAX];
	char		 c_title_field[CONF_STR_MAX];
	char		 c_text_field[CONF_STR_MAX];
	uint64_t	 c_data_limit;
	uint64_t	 c_batch_docs;
	uint64_t	 c_batch_bytes;
	uint64_t	 c_batch_linger_ms;
	uint64_t	 c_fold_size;
	uint64_t	 c_facet_exact;
	double		 c_k1;
	double		 c_b;
	double		 c_title_weight;
	double		 c_proximity_weight;
	double		 c_exact_weight;
	double		 c_heading_weight;
	uint64_t	 c_rank_window;
	uint64_t	 c_typos;
	uint64_t	 c_typo1;
	uint64_t	 c_typo2;
	uint64_t	 c_merge;
	uint64_t	 c_max_jobs;
	uint64_t	 c_mem_soft;
	uint64_t	 c_mem_elastic;
	uint64_t	 c_mem_reserve;
	uint64_t	 c_mem_hysteresis;
	double		 c_mem_psi_shrink;
	double		 c_mem_psi_grow;
	uint64_t	 c_mem_dwell_ms;
	uint64_t	 c_mem_settle_ms;
	uint64_t	 c_mem_cooldown_ms;
	uint64_t	 c_mem_cooldown_max_ms;
	char		 c_listen[CONF_STR_MAX];
	char		 c_http_tokens[CONF_STR_MAX];
	uint64_t	 c_http_max_header;
	uint64_t	 c_http_max_body;
	uint64_t	 c_http_timeout_ms;
	uint64_t	 c_http_max_conns;
	char		 c_http_web[CONF_STR_MAX];
	char		 c_search_peers[CONF_STR_MAX];
	char		 c_search_peer_token[CONF_STR_MAX];
	uint64_t	 c_search_peer_timeout_ms;
};

const struct conf_opt *config_options(size_t *);
void		 config_defaults(struct quire_conf *);
int		 config_parse(FILE *, const char *, struct quire_conf *, char *,
		    size_t);
int		 config_load(const char *, struct quire_conf *, char *, size_t);
int		 config_parse_text(const char *, size_t, const char *,
		    struct quire_conf *, char *, size_t);
int		 config_copy(struct quire_conf *, const struct quire_conf *,
		    const struct conf_opt *);
void		 config_format(const struct quire_conf *,
		    const struct conf_opt *, char *, size_t);
void		 config_print(const struct quire_conf *, FILE *);
void		 config_queue(const struct quire_conf *, struct queue_conf *);
int		 config_queue_dsn(const struct quire_conf *, char *, size_t,
		    char *, size_t);
void		 config_control_path(const struct quire_conf *, char *, size_t);


/* buf.c */
struct buf {
	char		*b_data;
	size_t		 b_len;
	size_t		 b_cap;
};

void		 buf_init(struct buf *);
void		 buf_free(struct buf *);
void		 buf_reset(struct buf *);
void		 buf_reserve(struct buf *, size_t);
void		 buf_add(struct buf *, const void *, size_t);
void		 buf_addc(struct buf *, int);
void		 buf_addstr(struct buf *, const char *);
void		 buf_printf(struct buf *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
char		*buf_cstr(struct buf *);	/* NUL-terminated view */
int		 buf_is_gzip(const void *, size_t);
int		 buf_gunzip(const void *, size_t, size_t, struct buf *,
		    char *, size_t);

/* show.c */
void		 show_json_str(struct buf *, const char *);
void		 show_job_source(const struct job *, char *, size_t);
void		 show_job_json(struct buf *, const struct job *);
void		 show_job_header(struct buf *);
void		 show_job_line(struct buf *, const struct job *);
struct search_result;
void		 show_search(struct buf *, const struct search_result *,
		    size_t, int);
struct search_global;
void		 show_search_stats(struct buf *, const struct search_global *);

/* utf8.c */
enum utf8_policy {
	UTF8_REPAIR = 0,	/* invalid sequences become U+FFFD */
	UTF8_REJECT		/* the document fails with bad-utf8 */
};

int		 utf8_valid(const char *, size_t, size_t *);
size_t		 utf8_repair(const char *, size_t, struct buf *);
int		 utf8_normalize(const char *, size_t, struct buf *);

/* tokenize.c */
#define TOKEN_MAX		64	/* bytes; longer words are cut */
#define TOKEN_MEMO		2	/* words of t_memo */

/*
 * t_memo: NULL, or TOKEN_MEMO words kept beside the word in the
 * tokenizer's stem cache, for the callback to remember what it made of
 * the word (a term id, say).  They are zero when the word enters the
 * cache and stay as the callback leaves them, valid while the pointer
 * comes back: every token with the same t_memo has the same t_text.
 */
struct token {
	const char	*t_text;	/* normalized and stemmed */
	size_t		 t_len;
	uint32_t	 t_pos;		/* word position in the document */
	uint32_t	 t_off;		/* byte offset in the input text */
	uint32_t	 t_srclen;	/* bytes of input text */
	uint64_t	*t_memo;
};

typedef int	 (*token_cb)(const struct token *, void *);

struct tokenizer;
struct tokenizer *tokenizer_new(const char *, int);
void		 tokenizer_free(struct tokenizer *);
int		 tokenizer_run(struct tokenizer *, const char *, size_t,
		    uint32_t, token_cb, void *);
int		 tokenizer_lang_ok(const char *);
size_t		 tokenize_split_ident(const char *, size_t, struct buf *);

/* extract.c */
enum doc_type {
	DOC_TEXT = 0,
	DOC_MARKDOWN,
	DOC_HTML,
	DOC_JSON,
	DOC_NDJSON,
	DOC_CODE,
	DOC_PDF,
	DOC_NTYPES
};

enum block_kind {
	BLK_PARA = 0,
	BLK_HEADING,
	BLK_CODE
};

/* xdoc.c: the document and the error that extractors fill. */

/* A run of text in xd_text: a paragraph, a heading or a code block. */
struct xblock {
	int		 xb_kind;
	int		 xb_level;	/* heading level, 1 to 6 */
	size_t		 xb_off;
	size_t		 xb_len;
};

struct xattr {
	char		*xa_name;
	char		*xa_value;
};

/* One extracted document, valid UTF-8 throughout. */
struct xdoc {
	char		*xd_id;		/* external id; NULL: a record without one */
	char		*xd_title;
	int		 xd_type;
	uint64_t	 xd_off;	/* NDJSON: the record's byte range */
	uint64_t	 xd_len;
	struct buf	 xd_text;
	struct xblock	*xd_blocks;
	size_t		 xd_nblocks;
	size_t		 xd_blockcap;
	struct xattr	*xd_attrs;
	size_t		 xd_nattrs;
	size_t		 xd_attrcap;
};

/* Why a document failed: a reason code and a message, for the DLQ. */
struct xerr {
	char		 xe_code[32];	/* too-large, bad-utf8, parse-error... */
	char		 xe_msg[200];
};

struct extract_conf;

int		 xdoc_tick(const struct extract_conf *, struct xerr *);
void		 xdoc_init(struct xdoc *);
void		 xdoc_free(struct xdoc *);
void		 xdoc_block(struct xdoc *, int, int, const char *, size_t);
void		 xdoc_attr(struct xdoc *, const char *, const char *);
void		 xdoc_paras(struct xdoc *, const char *, size_t);
int		 xdoc_space(int);
void		 xerr_set(struct xerr *, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

/* extract_conf.c and extract.c: the settings and the entry points. */

struct extract_conf {
	uint64_t	 xc_max_size;	/* input bytes */
	uint64_t	 xc_max_text;	/* extracted (decompressed) bytes */
	uint64_t	 xc_max_ratio;	/* extracted / input, for PDF */
	uint64_t	 xc_max_depth;	/* JSON, HTML and markdown nesting */
	uint64_t	 xc_max_line;	/* bytes in one line or record */
	uint64_t	 xc_max_tokens;	/* words per document; 0: no cap */
	uint64_t	 xc_max_pages;	/* PDF */
	int		 xc_utf8;	/* enum utf8_policy */
	const char	*xc_id_field;	/* JSON record fields */
	const char	*xc_title_field;
	const char	*xc_text_field;
	/*
	 * Progress: parsers call xdoc_tick often (per page, per slice
	 * of input, per some thousand nodes or lines); a non-zero return
	 * from xc_tick stops the extraction.  NULL: nobody listens.
	 */
	int		 (*xc_tick)(void *);
	void		*xc_tick_arg;
};

/*
 * Called once per extracted document (an NDJSON range yields many).  When
 * a record fails, err says why and doc is a stand-in that carries only
 * xd_off and xd_len, which locate the record.  A non-zero return stops
 * the extraction.
 */
typedef int	 (*extract_cb)(struct xdoc *, const struct xerr *, void *);

/* extract_conf.c */
void		 extract_conf_defaults(struct extract_conf *);
void		 extract_conf_from(const struct quire_conf *,
		    struct extract_conf *);

/* extract_type.c */
const char	*extract_type_name(int);
int		 extract_type_parse(const char *);
int		 extract_type_mime(const char *);
int		 extract_type_sniff(const char *, const void *, size_t);

/* extract.c */
int		 extract_open(int, const char *, struct xerr *);
int		 extract_buffer(const struct extract_conf *, int, const char *,
		    const char *, size_t, extract_cb, void *, struct xerr *);

/*
 * extract_text.c, extract_md.c, extract_html.c, extract_json.c,
 * extract_code.c, extract_pdf.c: one document type each.  Each fills doc
 * and returns 0, or -1 with err.  extract_ndjson calls cb per record and
 * returns 0, -1 with err when the range itself is unusable, or the
 * callback's non-zero value, with err untouched, when it stopped.
 */
int		 extract_text(const struct extract_conf *, const char *, size_t,
		    struct xdoc *, struct xerr *);
int		 extract_md(const struct extract_conf *, const char *, size_t,
		    struct xdoc *, struct xerr *);
int		 extract_html(const struct extract_conf *, const char *, size_t,
		    struct xdoc *, struct xerr *);
int		 extract_code(const struct extract_conf *, const char *,
		    const char *, size_t, struct xdoc *, struct xerr *);
int		 extract_pdf(const struct extract_conf *, const char *, size_t,
		    struct xdoc *, struct xerr *);
int		 extract_json(const struct extract_conf *, const char *, size_t,
		    struct xdoc *, struct xerr *);
int		 extract_ndjson(const struct extract_conf *, const char *,
		    size_t, uint64_t, extract_cb, void *, struct xerr *);
size_t		 extract_ndjson_check(const struct extract_conf *,
		    const char *, size_t, uint64_t *, size_t);

/* chunk.c */
struct chunk_conf {
	size_t		 cc_size;	/* target bytes per chunk */
	size_t		 cc_overlap;	/* bytes repeated from the last one */
	size_t		 cc_min;	/* a shorter tail joins the last one */
};

struct chunk {
	uint32_t	 c_index;
	size_t		 c_off;		/* into xd_text */
	size_t		 c_len;
	const char	*c_heading;	/* "Top > Section", or "" */
};

typedef int	 (*chunk_cb)(const struct chunk *, void *);

void		 chunk_conf_defaults(struct chunk_conf *);
int		 chunk_doc(const struct chunk_conf *, const struct xdoc *,
		    chunk_cb, void *);
int		 chunk_compress(const char *, size_t, struct buf *);
int		 chunk_decompress(const char *, size_t, size_t, struct buf *);

/* ingest.c */
#define INGEST_OK	0
#define INGEST_BAD	1	/* dead letter now, in_err says why */
#define INGEST_RETRY	2	/* may pass later */
#define INGEST_STOP	3	/* the sink's tick stopped it */
#define INGEST_ROOTS	16
#define INGEST_LANGS	8

/* Where the text path's results go: the index, or a benchmark's count. */
struct ingest_sink {
	void		*is_arg;
	int		 (*is_doc)(void *, struct xdoc *);
	int		 (*is_chunk)(void *, const struct xdoc *,
			    const struct chunk *);
	int		 (*is_token)(void *, int, const struct token *);
	int		 (*is_done)(void *, struct xdoc *);
	void		 (*is_abort)(void *, struct xdoc *);
	/*
	 * Progress, called often while a job runs (see xdoc_tick and
	 * ingest.c); non-zero stops the job with INGEST_STOP.
	 */
	int		 (*is_tick)(void *);
	/*
	 * An upload that is not in this host's spool: the size of the
	 * body name (dst NULL), or len bytes of it at off into dst, from
	 * where the queue keeps it; -1 when it has no such body.  NULL:
	 * the spool is the only place.
	 */
	int		 (*is_spool)(void *, const char *, uint64_t, size_t,
			    void *, uint64_t *);
};

/* A record of an NDJSON range that failed on its own. */
struct ingest_fail {
	uint64_t	 if_off;
	uint64_t	 if_len;
	char		 if_reason[JOB_ERROR_MAX];
};

struct ingest {
	const struct quire_conf *in_conf;
	struct extract_conf in_xc;
	struct chunk_conf in_cc;
	struct ingest_sink *in_sink;
	int		 in_rootfd[INGEST_ROOTS];
	char		*in_root[INGEST_ROOTS];
	size_t		 in_nroots;
	struct tokenizer *in_tk[INGEST_LANGS];
	char		 in_tklang[INGEST_LANGS][JOB_LANG_MAX + 1];
	size_t		 in_ntk;
	struct buf	 in_data;
	struct xerr	 in_err;
	int		 in_stopped;	/* is_tick said stop */
	struct ingest_fail *in_fails;
	size_t		 in_nfails;
	size_t		 in_failcap;
	uint64_t	 in_docs;	/* totals over the worker's life */
	uint64_t	 in_chunks;
	uint64_t	 in_tokens;
	uint64_t	 in_bytes;
	unsigned	 in_permille;	/* the running job's progress */
};

int		 ingest_init(struct ingest *, const struct quire_conf *);
void		 ingest_reconf(struct ingest *);
void		 ingest_free(struct ingest *);
int		 ingest_job(struct ingest *, const struct job *);
struct tokenizer *ingest_tokenizer(struct ingest *, const char *);

/* index.c */
#define IX_BODY			'b'	/* term fields: the first byte */
#define IX_TITLE		't'
#define IX_FILTER		'f'
#define IX_TERM_MAX		256	/* field byte and term */
#define IX_EXTID_MAX		512
#define INDEX_ENOENT		-2
/* Fewer chunk ids left than this: they run short (index_ids_short). */
#define INDEX_IDS_SHORT		(UINT32_MAX / 2)
#define IX_RAW_MAX		512	/* shorter chunk text is not compressed */
#define IX_RAW_FLAG		0x80	/* in the heading length's high byte */

#define IX_NAME_MAX		400	/* longer names: not interned */
#define IX_DICT_SIZE		(16 * 1024)	/* a trained dictionary */
#define IX_DICT_MAX		(1024 * 1024)	/* a stored one, at most */
#define IXREC_ETEXT		-3	/* a chunk's text is damaged */

struct ixzstd;

struct index {
	struct store	 ix_store;
	uint32_t	 ix_format;	/* the block store's, once known; or 0 */
	msgpack_sbuffer	 ix_buf;
	struct buf	 ix_tmp;
	struct ixzstd	*ix_z;		/* zstd contexts, dictionaries */
};

struct ixstats {
	uint64_t	 is_next_cid;	/* global; index_shrink.c renumbers */
	uint64_t	 is_next_docid;
	uint64_t	 is_next_seg;
	uint64_t	 is_docs;	/* live documents */
	uint64_t	 is_chunks;	/* live chunks */
	uint64_t	 is_tokens;	/* words in live chunks, for avgdl */
	uint64_t	 is_dead;	/* tombstoned chunks not yet purged */
	uint64_t	 is_segments;
	uint64_t	 is_merges;
	uint64_t	 is_folded;	/* chunks below this cid are in blocks */
	uint64_t	 is_folding;	/* below are being folded, or 0 */
	uint64_t	 is_blocks;
	uint64_t	 is_terms;	/* in blocks */
	uint64_t	 is_purges;
};

/* A document as a worker hands it to its batch. */
struct ixdoc_info {
	const char	*di_extid;
	uint64_t	 di_hash;	/* of the extracted text */
	uint64_t	 di_job;
	const char	*di_title;
	int		 di_type;
	const char	*di_tenant;
	const char	*di_source;
	const struct xattr *di_attrs;
	size_t		 di_nattrs;
};

/* A chunk of a stored document (index_doc_chunks). */
#define IX_CHUNK_TEXT_MAX	(1 << 24)	/* decompressed, at most */

struct ixchunk {
	uint64_t	 ck_cid;
	uint32_t	 ck_index;	/* in its document */
	char		 ck_heading[256];
	const char	*ck_text;	/* not NUL-terminated */
	size_t		 ck_len;
};

typedef int	 (*index_chunk_cb)(const struct ixchunk *, void *);

/* What the index holds about a document. */
struct ixdoc {
	uint64_t	 d_docid;
	char		 d_extid[IX_EXTID_MAX + 1];
	uint64_t	 d_hash;
	uint64_t	 d_job;
	char		 d_title[256];
	int		 d_type;
	char		 d_tenant[JOB_TENANT_MAX + 1];
	char		 d_source[JOB_PATH_MAX + 1];
	uint64_t	 d_cid;		/* first chunk */
	uint32_t	 d_nchunks;
	uint64_t	 d_words;	/* words in its chunks */
	uint32_t	 d_tenant_id;	/* in the names table, or 0 */
	uint32_t	 d_source_id;
	uint32_t	 d_attrs_id;
};

/* A document record as ixrec_doc_encode writes it. */
struct ixdocrec {
	uint64_t	 r_docid;	/* format 1 has it in the record */
	uint64_t	 r_hash;
	uint64_t	 r_job;
	int		 r_type;
	uint64_t	 r_cid;
	uint32_t	 r_nchunks;
	uint64_t	 r_words;
	const char	*r_extid;
	const char	*r_title;
	const char	*r_tenant;
	const char	*r_source;
	uint64_t	 r_tenant_ref;	/* ixrec_name_ref's */
	uint64_t	 r_source_ref;
	const void	*r_attrs;	/* a msgpack map */
	size_t		 r_attrslen;
	uint64_t	 r_attrs_ref;
};

struct ixcommit {
	uint64_t	 ic_added;
	uint64_t	 ic_unchanged;	/* redelivered: same content */
	uint64_t	 ic_replaced;	/* changed: the old one is deleted */
	uint64_t	 ic_chunks;
	uint64_t	 ic_seg;
	uint64_t	 ic_bytes;	/* segment size */
};

/* A batch committed on a thread of its own (ixbatch_commit_start). */
struct ixcommitter {
	pthread_t	 cm_thread;
	int		 cm_on;		/* a commit is under way */
	int		 cm_thread_on;	/* and cm_thread runs it */
	int		 cm_done;	/* cm_thread is through (atomic) */
	struct index	*cm_ix;
	struct ixbatch	*cm_b;
	struct ixcommit	 cm_res;
	int		 cm_rc;
	uint64_t	 cm_us;		/* how long it took */
};

/* The segment layout (see index_seg.c): QSG2 keeps a term's positions
 * apart from its docs, QSG1 (read, never written) after each posting. */
#define IXSEG_MAGIC		"QSG2"
#define IXSEG_MAGIC1		"QSG1"

struct ixseghdr {
	char		 h_magic[4];
	uint32_t	 h_size;
	uint32_t	 h_nchunks;
	uint32_t	 h_nterms;
	uint32_t	 h_base;	/* first cid */
	uint32_t	 h_norms;	/* area offsets */
	uint32_t	 h_dict;
	uint32_t	 h_strs;
	uint32_t	 h_post;
	uint32_t	 h_pad;
	uint64_t	 h_tokens;
};

struct ixsegterm {
	uint32_t	 e_str;
	uint32_t	 e_post;
	uint32_t	 e_df;
	uint16_t	 e_len;
	uint16_t	 e_pad;
};

struct ixseg {
	const void	*s_data;
	size_t		 s_len;
	uint64_t	 s_id;
	const struct ixseghdr *s_hdr;
	const uint16_t	*s_norms;
	const struct ixsegterm *s_dict;
	int		 s_split;	/* QSG2: positions apart */
};

/*
 * A cursor over one term's postings in one segment: p_cur reads the
 * docs (QSG2), p_pcur the positions once p_pskip more are passed over
 * (in QSG1, both; see ixpost_init).
 */
struct ixpost {
	const struct ixseg *p_seg;
	const uint8_t	*p_cur;
	const uint8_t	*p_end;
	const uint8_t	*p_pcur;
	const uint8_t	*p_pend;
	uint64_t	 p_pskip;
	int		 p_split;
	uint32_t	 p_left;
	uint32_t	 p_base;	/* the segment's first cid */
	uint32_t	 p_nchunks;	/* and its chunks */
	uint64_t	 p_local;
	uint32_t	 p_cid;
	uint32_t	 p_tf;
	uint32_t	 p_posleft;
	uint32_t	 p_pos;
};

enum {
	IDB_META, IDB_SEGS, IDB_CHUNKS, IDB_DOCS, IDB_EXTIDS, IDB_BLOCKS,
	IDB_TERMS, IDB_NORMS, IDB_N
};

/* The index's counters, "stats" in meta (see index.c). */
#define IXMETA_VERSION	2

struct ixmeta {
	uint32_t	 m_version;
	uint32_t	 m_format;	/* the block store's (index_block.c) */
	uint64_t	 m_next_cid;
	uint64_t	 m_next_docid;
	uint64_t	 m_next_seg;
	uint64_t	 m_docs;
	uint64_t	 m_chunks;
	uint64_t	 m_tokens;
	uint64_t	 m_dead;
	uint64_t	 m_segments;
	uint64_t	 m_merges;
	uint64_t	 m_folded;	/* chunks below are in blocks */
	uint64_t	 m_folding;	/* chunks below are being folded, or 0 */
	uint64_t	 m_blocks;
	uint64_t	 m_terms;	/* in blocks */
	uint64_t	 m_purges;	/* block sweeps */
};

struct ixbatch;
struct roaring_bitmap_s;

int		 index_open(struct index *, const char *, size_t, int);
int		 index_open_dir(struct index *, const char *, size_t, int);
void		 index_close(struct index *);
int		 index_delete(struct index *, const char *);
int		 index_delete_many(struct index *, const char **, size_t,
		    uint64_t *);
void		 index_extid(char *, size_t, const char *);
typedef int	 (*index_doc_cb)(const struct ixdoc *, void *);
int		 index_docs_page(struct index *, uint64_t *, size_t,
		    index_doc_cb, void *);
int		 index_stats(struct index *, struct ixstats *);
int		 index_stats_in(MDB_txn *, struct index *, struct ixstats *);
uint64_t	 index_ids_left(uint64_t);
int		 index_ids_short(uint64_t);
void		 index_stats_format(const struct ixstats *, int, char *,
		    size_t);
int		 index_get_doc(struct index *, const char *, struct ixdoc *);
int		 index_doc_chunks(struct index *, const char *, size_t,
		    struct ixdoc *, index_chunk_cb, void *);
int		 index_doc_whole(struct index *, const char *, struct ixdoc *,
		    struct buf *, struct buf *, index_chunk_cb, void *);
int		 index_meta_get(MDB_txn *, struct index *, struct ixmeta *);
int		 index_meta_put(MDB_txn *, struct index *, struct ixmeta *);
int		 index_meta_merged(MDB_txn *, struct index *, uint64_t,
		    uint64_t);
int		 index_doc_decode(const void *, size_t, struct ixdoc *);
int		 index_pack(struct index *);

/* index_shrink.c */
struct ixshrink {
	uint64_t	 sh_before;	/* the data file's size */
	uint64_t	 sh_after;
	int		 sh_renum;	/* the chunks were numbered again */
	uint64_t	 sh_left_before; /* chunk ids left */
	uint64_t	 sh_left_after;
	char		 sh_why[160];	/* why not, when they ran short */
};

int		 index_shrink(struct index *, int, struct ixshrink *);
int		 index_shrink_clean(int);
int		 index_doc_get(MDB_txn *, struct index *, uint64_t,
		    struct ixdoc *);
int		 index_doc_kill(MDB_txn *, struct index *, struct ixmeta *,
		    struct roaring_bitmap_s *, const struct ixdoc *, int);
int		 index_tomb_get(MDB_txn *, struct index *,
		    struct roaring_bitmap_s **);
int		 index_tomb_put(MDB_txn *, struct index *,
		    struct roaring_bitmap_s *);

/* The handle of one of the index's databases (IDB_META, ...). */
static inline MDB_dbi
index_dbi(struct index *ix, int which)
{
	return (ix->ix_store.s_dbi[which]);
}

/* index_batch.c */
struct ixbatch	*ixbatch_new(void);
void		 ixbatch_free(struct ixbatch *);
void		 ixbatch_reset(struct ixbatch *);
int		 ixbatch_doc(struct ixbatch *, const struct ixdoc_info *);
int		 ixbatch_chunk(struct ixbatch *, const char *, const char *,
		    size_t);
int		 ixbatch_term(struct ixbatch *, int, const char *, size_t,
		    uint32_t);
int		 ixbatch_term_memo(struct ixbatch *, int, const char *,
		    size_t, uint32_t, uint64_t *);
int		 ixbatch_end_doc(struct ixbatch *);
void		 ixbatch_abort_doc(struct ixbatch *);
void		 ixbatch_drop_doc(struct ixbatch *, size_t);
size_t		 ixbatch_ndocs(const struct ixbatch *);
size_t		 ixbatch_bytes(const struct ixbatch *);
int		 ixbatch_commit(struct index *, struct ixbatch *,
		    struct ixcommit *);
void		 ixbatch_commit_start(struct ixcommitter *, struct index *,
		    struct ixbatch *);
int		 ixbatch_commit_done(struct ixcommitter *);
int		 ixbatch_commit_wait(struct ixcommitter *, struct ixcommit *,
		    uint64_t *);

/* index_rec.c */
extern int	 ixrec_format;
void		 ixrec_free(struct index *);
size_t		 ixrec_docid_put(uint8_t *, uint64_t);
int		 ixrec_docid_get(const MDB_val *, uint64_t *);
int		 ixrec_name_ref(MDB_txn *, struct index *, const void *,
		    size_t, int, uint64_t *);
int		 ixrec_name_get(MDB_txn *, struct index *, uint32_t, char *,
		    size_t);
int		 ixrec_doc_names(MDB_txn *, struct index *, struct ixdoc *);
int		 ixrec_doc_whole(MDB_txn *, struct index *, const void *,
		    size_t, struct buf *, struct buf *);
void		 ixrec_doc_encode(struct buf *, const struct ixdocrec *);
int		 ixrec_doc_renum(const MDB_val *,
		    const struct roaring_bitmap_s *, struct buf *);
int		 ixrec_doc_decode(uint64_t, const void *, size_t,
		    struct ixdoc *);
int		 ixrec_prepare(struct index *);
size_t		 ixrec_dict_wanted(struct index *, size_t, size_t);
void		 ixrec_dict_train(struct index *, const void *,
		    const size_t *, size_t, size_t);
int		 ixrec_dict_store(MDB_txn *, struct index *, uint32_t *);
void		 ixrec_dict_stored(struct index *, uint32_t);
int		 ixrec_chunk_text(struct index *, const char *, size_t,
		    struct buf *);
void		 ixrec_chunk_encode(struct buf *, uint64_t, uint32_t,
		    const char *, size_t, const void *, size_t, uint32_t);
int		 ixrec_chunk_decode(MDB_txn *, struct index *, const void *,
		    size_t, uint64_t *, struct ixchunk *, struct buf *);

/* index_check.c */
int		 index_check(struct index *, char *, size_t);
int		 index_check_seg(const struct ixseg *, uint64_t, char *,
		    size_t);

/* index_seg.c: an ixseg, and the ixpost cursors on it, point into the
 * value they were opened on, valid until the end of the transaction that
 * read it from the map (or while the buffer of a batch's segment lives). */
int		 ix_termcmp(const void *, size_t, const void *, size_t);
uint64_t	 ix_termkey(const void *, size_t);
int		 ixseg_open(struct ixseg *, const void *, size_t);
const char	*ixseg_term(const struct ixseg *, uint32_t, size_t *);
uint32_t	 ixseg_lower(const struct ixseg *, const char *, size_t);
uint32_t	 ixseg_lower_from(const struct ixseg *, uint32_t, const char *,
		    size_t);
int64_t		 ixseg_find(const struct ixseg *, const char *, size_t);
void		 ixpost_init(struct ixpost *, const struct ixseg *, uint32_t);
int		 ixpost_next(struct ixpost *);
int		 ixpost_next_marked(struct ixpost *, const uint8_t *)
		    __attribute__((__nonnull__(2)));
int64_t		 ixpost_run(struct ixpost *);
const uint8_t	*ixpost_posbuf(struct ixpost *, size_t *);
int64_t		 ixpost_pos(struct ixpost *);
size_t		 ixseg_split(uint8_t *, const uint8_t *, size_t, size_t);

/* v's varint at p (room for 10 bytes), without a call; past its end. */
static inline uint8_t *
ix_putvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (v & 0x7f) | 0x80;
		v >>= 7;
	}
	*p++ = v;
	return (p);
}

/* The bytes of v's varint (ix_varint), without a call. */
static inline size_t
ix_varlen(uint64_t v)
{
	size_t	 n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return (n);
}

/* v's varint at the end of b. */
static inline void
ix_varint(struct buf *b, uint64_t v)
{
	uint8_t	*p;

	if (b->b_len + 11 > b->b_cap)
		buf_reserve(b, 10);
	p = ix_putvarint((uint8_t *)b->b_data + b->b_len, v);
	b->b_len = p - (uint8_t *)b->b_data;
}

/* The varint at *pp, before end, into v, *pp past it; -1 if cut short. */
static inline int
ix_getvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t	*p = *pp;
	uint64_t	 x = 0;
	int		 shift = 0;

	while (p < end && shift < 64) {
		x |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0) {
			*pp = p;
			*v = x;
			return (0);
		}
		shift += 7;
	}
	return (-1);
}

/* A k-way walk over segments' dictionaries (ixwalk_init): its term, w_t,
 * points into a segment. */
struct ixwcur {
	const struct ixseg *wc_seg;
	size_t		 wc_j;		/* its place among the segments */
	uint32_t	 wc_term;
	const char	*wc_t;		/* the current term */
	size_t		 wc_tl;
	uint64_t	 wc_key;	/* and its ix_termkey */
};

struct ixwalk {
	struct ixwcur	*w_cur;
	struct ixwcur	**w_heap;
	size_t		 w_nheap;
	struct ixwcur	**w_same;	/* the segments that have w_t */
	size_t		 w_nsame;
	const char	*w_t;
	size_t		 w_tl;
};

void		 ixwalk_init(struct ixwalk *, const struct ixseg *, size_t,
		    const char *, size_t);
int		 ixwalk_next(struct ixwalk *);
void		 ixwalk_free(struct ixwalk *);

/* index_norms.c */
#define IXN_RANGE		65536	/* chunks per norms value */

/* A reader of chunk lengths: its array points into the map, valid until
 * the transaction ends or writes the norms database. */
struct ixnorm {
	MDB_txn		*n_txn;
	MDB_dbi		 n_dbi;
	uint32_t	 n_range;
	const uint16_t	*n_p;		/* that range's lengths, or NULL */
};

void		 ixnorm_init(struct ixnorm *, MDB_txn *, struct index *);
int		 ixnorm_load(struct ixnorm *, uint32_t, uint32_t *);
int		 ixnorm_put(MDB_txn *, struct index *, uint32_t, uint32_t,
		    const uint16_t *);

/* The length of chunk cid, as ixnorm_load: most often from the range at
 * hand, without a call. */
static inline int
ixnorm_get(struct ixnorm *nr, uint32_t cid, uint32_t *dl)
{
	if (nr->n_p != NULL && cid / IXN_RANGE == nr->n_range) {
		*dl = nr->n_p[cid % IXN_RANGE];
		return (0);
	}
	return (ixnorm_load(nr, cid, dl));
}

/* index_block.c */
#define IXB_MAX			128	/* postings per block, read */
#define IXB_FOLD_MAX		32	/* postings per block, written */
#define IXB_BOUNDS		4	/* (tf, length) pairs in a bound */
#define IXB_KEY_MAX		(IX_TERM_MAX + 5)	/* term, 0, first cid */
#define IXB_TERMINFO_MAX	(2 * 10 + IXB_BOUNDS * 6 + 1)	/* a terms value */
#define IXB_TERMINFO_V0		32	/* the first stores' terms value */
#define IXB_FORMAT		2	/* the block store's, of new indexes */
#define IXB_INLINE_MAX		64	/* postings kept in a terms value */
#define IXB_TERMVAL_MAX		(IXB_TERMINFO_MAX + 1 + IXB_INLINE_MAX)

struct ixbound {
	uint16_t	 b_tf[IXB_BOUNDS];	/* 0: unused */
	uint16_t	 b_dl[IXB_BOUNDS];
};

/* A block's header in memory, and as format 1 stores it. */
struct ixblkhdr {
	uint32_t	 bh_last;	/* last cid */
	uint16_t	 bh_n;		/* postings */
	uint16_t	 bh_pad;
	struct ixbound	 bh_bound;
};

struct ixterminfo {
	uint64_t	 ti_df;		/* postings in blocks, or inline */
	uint64_t	 ti_blocks;
	struct ixbound	 ti_bound;
	const uint8_t	*ti_inline;	/* format 2, no blocks: the postings */
	size_t		 ti_inlinelen;
};

/* A cursor over one term's blocks, below a limit cid.  Its positions
 * (bc_pos) point into the block in the map: valid until the cursor moves
 * to another block or the transaction ends.  A term whose postings are
 * inline in its terms value has one block and no LMDB cursor (bc_c).  In
 * format 2 bc_dl comes from norms, through bc_norm's pointer into the
 * map, valid as long as the transaction (which must not write norms). */
struct ixbcur {
	MDB_cursor	*bc_c;
	int		 bc_format;
	struct ixnorm	 bc_norm;	/* format 2: the lengths */
	char		 bc_term[IX_TERM_MAX + 1];
	size_t		 bc_len;
	uint32_t	 bc_limit;
	int		 bc_end;
	uint32_t	 bc_first;	/* the block */
	struct ixblkhdr	 bc_hdr;
	const uint8_t	*bc_p;
	const uint8_t	*bc_pend;
	uint32_t	 bc_left;
	uint32_t	 bc_at;		/* postings read in it */
	uint32_t	 bc_cid;	/* the posting */
	uint32_t	 bc_tf;
	uint32_t	 bc_dl;
	uint32_t	 bc_posleft;
	const uint8_t	*bc_pos;
};

/* What a fold or a sweep did. */
struct ixfold {
	uint64_t	 f_postings;
	uint64_t	 f_blocks;
	uint64_t	 f_terms;
	uint64_t	 f_bytes;
};

extern int	 ixblk_format_new;
void		 ixbound_add(struct ixbound *, uint32_t, uint32_t);
void		 ixbound_merge(struct ixbound *, const struct ixbound *);
int		 ixbound_covers(const struct ixbound *, uint32_t, uint32_t);
double		 ixbound_max(const struct ixbound *, double, double, double);
int		 ixblk_terminfo(MDB_txn *, struct index *, const char *,
		    size_t, struct ixterminfo *);
int		 ixbcur_open(struct ixbcur *, MDB_txn *, struct index *,
		    const char *, size_t, uint32_t);
void		 ixbcur_close(struct ixbcur *);
int		 ixbcur_next(struct ixbcur *);
int		 ixbcur_seek(struct ixbcur *, uint32_t);
const struct ixbound *ixbcur_shallow(struct ixbcur *, uint32_t);
int		 ixblk_purge(MDB_txn *, struct index *,
		    const struct roaring_bitmap_s *, struct buf *, size_t, int *,
		    struct ixfold *);
int		 ixblk_check(MDB_txn *, struct index *, const struct ixmeta *,
		    uint32_t, uint32_t, char *, size_t);
size_t		 ixblk_terminfo_encode(const struct ixterminfo *, int,
		    uint8_t [IXB_TERMINFO_MAX]);
int		 ixblk_terminfo_decode(const MDB_val *, int,
		    struct ixterminfo *);
int		 ixblk_format(MDB_txn *, struct index *);
size_t		 ixblk_termval(const struct ixterminfo *, int,
		    const uint8_t *, size_t, uint8_t [IXB_TERMVAL_MAX]);
int		 ixblk_inline(const struct ixterminfo *, uint32_t *,
		    struct ixblkhdr *, size_t *);
size_t		 ixblk_inline_encode(uint32_t, uint32_t, const uint8_t *,
		    size_t, uint8_t [IXB_INLINE_MAX]);
size_t		 ixblk_hdrmax(int);
size_t		 ixblk_hdr_encode(int, const struct ixblkhdr *, uint32_t,
		    uint8_t *);
int		 ixblk_hdr_decode(int, const MDB_val *, uint32_t,
		    struct ixblkhdr *, size_t *);
size_t		 ixblk_nodemax(MDB_txn *);
size_t		 ixblk_key(uint8_t *, const char *, size_t, uint32_t);
int		 ixblk_renum_block(MDB_txn *, struct index *, const MDB_val *,
		    const MDB_val *, const struct roaring_bitmap_s *,
		    struct buf *, struct buf *);
int		 ixblk_renum_term(MDB_txn *, struct index *, const MDB_val *,
		    const struct roaring_bitmap_s *, struct buf *);
int		 ixblk_match(const MDB_val *, const char *, size_t);

/* index_fold.c */
void		 ixfold_add(struct ixfold *, const struct ixfold *);
int		 ixfold_run(MDB_txn *, struct index *, const struct ixseg *,
		    size_t, const struct roaring_bitmap_s *, struct buf *,
		    size_t, uint64_t, int *, struct ixfold *);

/* merge.c */
#define MERGE_ALL		0x1	/* compact: everything, now */
#define MERGE_BUSY		0x2	/* workers are committing: hold back */

int		 merge_step(struct index *, int, uint64_t, int);
void		 merger_main(void) __dead;

/* http.c */
void		 http_main(int) __dead;

/* search.c */
#define SEARCH_FILTERS_MAX	16
#define SEARCH_HL_MAX		32	/* matches marked per snippet */
#define SEARCH_FACETS_MAX	8	/* --facet fields of one search */
#define SEARCH_FACET_N		10	/* values a facet lists by default */
#define SEARCH_FACET_N_MAX	1000
#define SEARCH_FACET_FIELD_MAX	64	/* bytes of a facet's field name */
#define SEARCH_FACET_EXACT	50000	/* so_facet_exact by default */
#define SEARCH_CORR_MAX		8	/* corrections reported */
#define SEARCH_CORR_WORD	128	/* bytes of a word reported */

#define SEARCH_GLOBAL_TERMS	64	/* SEARCH_TERMS_MAX, defined below */

/* A term key of a query and its document frequency, across hosts. */
struct search_gterm {
	char		 gt_key[IX_TERM_MAX + 1];	/* field byte and term */
	size_t		 gt_len;
	uint64_t	 gt_df;
};

/*
 * BM25's inputs for a query (search_stats), one host's or summed over
 * several (search_global_add): a search given them scores with them.
 */
struct search_global {
	uint64_t	 sg_chunks;	/* N: chunks, dead ones too */
	uint64_t	 sg_live;	/* live chunks, for the mean length */
	uint64_t	 sg_tokens;	/* their tokens */
	struct search_gterm sg_terms[SEARCH_GLOBAL_TERMS];
	size_t		 sg_nterms;
};

struct search_opts {
	size_t		 so_n;
	size_t		 so_offset;	/* best hits skipped (paging) */
	const char	*so_filters[SEARCH_FILTERS_MAX];
	size_t		 so_nfilters;
	double		 so_k1;
	double		 so_b;
	double		 so_wtitle;	/* weight of title matches */
	double		 so_wbody;
	double		 so_wprox;	/* rescoring: proximity (search_rank.c) */
	double		 so_wexact;	/* rescoring: words as typed */
	double		 so_wheading;	/* rescoring: words in headings */
	size_t		 so_window;	/* first hits rescored; 0: none */
	int		 so_exact;	/* count every match: no pruning */
	int		 so_chunks;	/* chunks, not documents */
	const char	*so_facets[SEARCH_FACETS_MAX];	/* fields */
	size_t		 so_nfacets;
	size_t		 so_facet_n;	/* values a facet lists */
	uint64_t	 so_facet_exact; /* postings: no pruning for facets */
	uint64_t	 so_budget_ms;	/* give up past it; 0: no limit */
	int		 so_typos;	/* correct misspelled words */
	size_t		 so_typo1;	/* characters for one edit, at least */
	size_t		 so_typo2;	/* for two edits */
	const struct search_global *so_global;	/* NULL: this index's */
	int		 so_split;	/* bonuses apart, hits by BM25 */
};

struct search_hit {
	char		 sh_extid[IX_EXTID_MAX + 1];
	uint32_t	 sh_chunk;
	double		 sh_score;
	uint64_t	 sh_cid;
	char		 sh_title[256];
	char		 sh_heading[256];
	char		 sh_snippet[512];	/* matches between ** */
	char		 sh_text[512];		/* the same, plain */
	uint32_t	 sh_hl_off[SEARCH_HL_MAX]; /* matches in sh_text */
	uint32_t	 sh_hl_len[SEARCH_HL_MAX];
	size_t		 sh_nhl;
	uint32_t	 sh_matches;	/* its document's chunks that match */
	double		 sh_bonus;	/* so_split: the rescoring's bonus */
};

struct search_fvalue {
	char		*fv_value;
	uint64_t	 fv_count;
};

/* The top values of one field among the matches. */
struct search_facet {
	char		 sf_field[SEARCH_FACET_FIELD_MAX + 1];
	struct search_fvalue *sf_v;
	size_t		 sf_n;
	int		 sf_estimated;	/* counts from part of the matches */
};

struct search_result {
	uint64_t	 sr_total;	/* chunks that matched */
	int		 sr_exact;	/* 0: sr_total is a lower bound */
	double		 sr_took_ms;
	struct search_hit *sr_hits;
	size_t		 sr_n;
	struct search_facet sr_facets[SEARCH_FACETS_MAX];
	size_t		 sr_nfacets;
	char		 sr_error[256];
	size_t		 sr_ncorr;	/* words corrected */
	char		 sr_corr_from[SEARCH_CORR_MAX][SEARCH_CORR_WORD];
	char		 sr_corr_to[SEARCH_CORR_MAX][SEARCH_CORR_WORD];
	int		 sr_corr_kept[SEARCH_CORR_MAX];	/* the word too */
	int		 sr_split;	/* so_split: sh_bonus is set */
};

void		 search_opts_defaults(struct search_opts *);
void		 search_opts_conf(struct search_opts *,
		    const struct quire_conf *);
int		 search_run(struct index *, struct tokenizer *, const char *,
		    const struct search_opts *, struct search_result *);
void		 search_result_free(struct search_result *);
int		 search_stats(struct index *, struct tokenizer *, const char *,
		    const struct search_opts *, struct search_global *,
		    char *, size_t);
int		 search_global_add(struct search_global *,
		    const struct search_global *);

/* fanout.c */
#define FANOUT_PEERS_MAX	64	/* hosts besides this one */
#define FANOUT_HOST_MAX		256	/* bytes of HOST:PORT */
#define FANOUT_BODY_MAX		(8 << 20)	/* a peer's answer */
#define FANOUT_K_MAX		1000	/* offset + n over all hosts */
#define FANOUT_LOCAL		"local"	/* this host, in an answer */
/* How an error reading the hosts' registry begins. */
#define FANOUT_REGISTRY		"the hosts' registry"

struct fanout_peer {
	char		 fp_name[FANOUT_HOST_MAX];	/* in answers */
	char		 fp_addr[FANOUT_HOST_MAX];	/* HOST:PORT */
	char		 fp_host[FANOUT_HOST_MAX];
	int		 fp_port;
	char		 fp_why[96];	/* set: missing, not asked */
};

struct fanout;
struct yajl_val_s;
typedef void (*fanout_done_fn)(struct fanout *, void *);

size_t		 fanout_peers(const struct quire_conf *, struct queue *,
		    struct fanout_peer *, size_t, char *, size_t);
int		 fanout_stats_parse(struct yajl_val_s *,
		    struct search_global *, char *, size_t);
struct fanout	*fanout_start(struct event_base *, const struct quire_conf *,
		    struct queue *, struct index *, struct tokenizer *,
		    const char *, const struct search_opts *, fanout_done_fn,
		    void *, char *, size_t);
void		 fanout_show(struct fanout *, struct buf *, int);
void		 fanout_free(struct fanout *);

/* search_top.c */
struct search_tent {
	RB_ENTRY(search_tent) te_node;	/* by te_first */
	uint64_t	 te_docid;	/* the chunk's cid with --chunks */
	uint32_t	 te_first;	/* its chunks' cids */
	uint32_t	 te_nchunks;
	uint32_t	 te_cid;	/* its best chunk */
	double		 te_score;
	double		 te_bonus;	/* so_split */
	uint32_t	 te_matches;
	size_t		 te_pos;	/* in st_heap */
};
RB_HEAD(search_ttree, search_tent);

struct search_top {
	struct search_tent *st_ent;
	struct search_tent **st_heap;	/* the worst on top */
	size_t		 st_n;
	size_t		 st_k;
	int		 st_chunks;
	struct search_ttree st_tree;
};

void		 search_top_init(struct search_top *, size_t, int);
void		 search_top_free(struct search_top *);
int		 search_top_takes(const struct search_top *, uint32_t, double);
double		 search_top_theta(const struct search_top *);
struct search_tent *search_top_find(struct search_top *, uint32_t);
int		 search_top_push(struct search_top *, MDB_txn *, struct index *,
		    uint32_t, double);
void		 search_top_count(struct search_top *, uint32_t);
void		 search_top_sort(struct search_top *);

/* search_facet.c */
int		 search_facet_count(MDB_txn *, struct index *, uint32_t,
		    const struct roaring_bitmap_s *, const char *, size_t,
		    uint64_t, struct search_facet *);
struct roaring_bitmap_s *search_facet_docs(MDB_txn *, struct index *,
		    const struct roaring_bitmap_s *, uint64_t, int *, int *);
void		 search_facet_free(struct search_facet *);

/* search_rank.c */
#define SEARCH_RANK_WORDS	64

/* A query word, as the rescoring looks for it. */
struct rank_word {
	const char	*rw_stem;	/* as the index has it */
	size_t		 rw_stemlen;
	const char	*rw_raw;	/* as typed */
	size_t		 rw_rawlen;
	double		 rw_idf;
};

double		 search_rank_bonus(struct tokenizer *, const struct rank_word *,
		    size_t, const char *, const char *, const char *, size_t,
		    const struct search_opts *);

/* search_query.c */
#define SEARCH_ITEMS_MAX	32
#define SEARCH_TERMS_MAX	64
#define SEARCH_PREFIX_MAX	64
#define SEARCH_PHRASE_MAX	16

/* A prefix's expansions: the first SEARCH_PREFIX_MAX over all segments. */
struct sexp {
	size_t		 x_n;
	int64_t		 x_f[SEARCH_PREFIX_MAX];	/* in the segment at hand */
	uint16_t	 x_len[SEARCH_PREFIX_MAX];
	char		 x_term[SEARCH_PREFIX_MAX][IX_TERM_MAX + 1];
};

struct sterm {
	struct sexp	*st_exp;			/* prefixes */
	int64_t		 st_fbody;	/* in the segment at hand, or -1 */
	int64_t		 st_ftitle;
	char		 st_key[IX_TERM_MAX + 1];	/* body field */
	size_t		 st_len;
	char		 st_raw[IX_TERM_MAX];	/* as typed */
	size_t		 st_rawlen;
	int		 st_item;
	int		 st_prefix;
	int		 st_phrase;	/* index of its phrase, or -1 */
	int		 st_ppos;	/* place in the phrase */
	double		 st_idf;
	uint64_t	 st_df;
	uint32_t	 st_woff;	/* the word as typed, in the query */
	uint32_t	 st_wlen;
	int		 st_quoted;	/* between quotes */
	int		 st_typo;	/* edits of a correction, or 0 */
};

struct sitem {
	int		 si_required;
	int		 si_excluded;
	int		 si_phrase;	/* a phrase item */
};

struct squery {
	struct sterm	 q_terms[SEARCH_TERMS_MAX];
	size_t		 q_nterms;
	struct sitem	 q_items[SEARCH_ITEMS_MAX];
	size_t		 q_nitems;
	size_t		 q_nphrases;
	uint32_t	 q_reqmask;
	uint32_t	 q_exmask;
	uint32_t	 q_negmask;	/* excluded items, phrases too */
};

int		 search_query_parse(struct tokenizer *, const char *,
		    struct squery *, char *, size_t);
struct tokenizer *search_query_plain(void);

/* search_typo.c */
#define SEARCH_TYPO_WORD_MAX	64	/* characters of a word looked up */
#define SEARCH_TYPO_EDITS_MAX	2
#define SEARCH_TYPO_CANDS	64	/* stems kept by one lookup */
#define SEARCH_TYPO_ALTS	3	/* searched beside the best one */
#define SEARCH_TYPO_REPLACE	1
#define SEARCH_TYPO_ADD		2

struct search_typo_cand {
	char		 tc_term[IX_TERM_MAX];	/* a stem, no field byte */
	size_t		 tc_len;
	int		 tc_edits;
	int		 tc_near;	/* edits from the word's stem */
	uint64_t	 tc_df;		/* text and title */
};

struct search_typo {
	uint32_t	 ty_word[SEARCH_TYPO_WORD_MAX];
	size_t		 ty_m;
	int		 ty_edits;
	int		 ty_cut;	/* a walk stopped at its bound */
	uint64_t	 ty_deadline;	/* monotonic ms; 0: none */
	uint64_t	 ty_exact;	/* postings of the word itself */
	uint8_t		 ty_row[SEARCH_TYPO_WORD_MAX + 1]
			    [SEARCH_TYPO_WORD_MAX + 1];
	uint8_t		 ty_rowmin[SEARCH_TYPO_WORD_MAX + 1];
	struct search_typo_cand ty_cand[SEARCH_TYPO_CANDS];
	size_t		 ty_n;
};

size_t		 search_typo_chars(const char *, size_t);
int		 search_typo_init(struct search_typo *, const char *, size_t,
		    int);
int		 search_typo_variants(MDB_txn *, struct index *,
		    struct tokenizer *, struct search_typo *, const char *,
		    size_t, int *);
int		 search_typo_walk(MDB_txn *, struct index *,
		    struct search_typo *);
int		 search_typo_pick(const struct search_typo *, double,
		    const struct search_typo_cand **);
size_t		 search_typo_alts(const struct search_typo *,
		    const struct search_typo_cand *,
		    const struct search_typo_cand **, size_t);
int		 search_typo_rare(uint64_t, double);
double		 search_typo_weight(int);

/* ipc.c */
#define IPC_STR_MAX		8192
#define IPC_FRAME_MAX		(IPC_STR_MAX + 64)

enum ipc_type {
	/* child to supervisor */
	IPC_READY = 0,		/* a: slot */
	IPC_HEARTBEAT,		/* a: job id or 0, str: phase */
	IPC_JOB_START,		/* a: job id, b: lease generation, str: what */
	IPC_JOB_DONE,		/* a: job id, b: outcome (0 done, 1 failed) */
	/* supervisor to child */
	IPC_CONFIG,		/* a: generation, str: the configuration,
				   as quired -n -v prints it; the first one
				   starts a child, later ones carry the
				   options a child takes live */
	IPC_STOP,		/* finish the current job, then exit */
	IPC_EXIT,		/* exit now */
	IPC_ADMIT,		/* a: bytes of big jobs the fleet may run
				   (0: none), b: 1 under memory pressure */
	/* quirectl to the admin socket */
	IPC_CTL,		/* a: command, b: number, str: flags */
	IPC_STORAGE,		/* a: storage fault (0: ok again), str: what
				   failed */
	/* supervisor to worker */
	IPC_CANCEL,		/* a: job id, b: lease generation: stop the
				   job if it runs, skip it if it waits */
	IPC_METRIC,		/* a: what (enum metrics_obs), b: value */
	/* supervisor to merger */
	IPC_COMPACT,		/* a: documents deleted: fold and sweep all */
	IPC_NTYPES
};

struct ipc_msg {
	uint32_t	 m_type;
	uint64_t	 m_a;
	uint64_t	 m_b;
	char		 m_str[IPC_STR_MAX + 1];
};

struct ipc_buf {
	size_t		 ib_len;
	uint8_t		 ib_data[IPC_FRAME_MAX + 4];
};

struct evbuffer;
int		 ipc_encode(const struct ipc_msg *, msgpack_sbuffer *);
int		 ipc_decode(const void *, size_t, struct ipc_msg *);
int		 ipc_send(int, uint32_t, uint64_t, uint64_t, const char *);
int		 ipc_order(int, uint32_t, uint64_t, uint64_t);
int		 ipc_take(struct ipc_buf *, struct ipc_msg *);
int		 ipc_recv(int, struct ipc_buf *, struct ipc_msg *, int);
int		 ipc_evbuffer_get(struct evbuffer *, struct ipc_msg *);
int		 ipc_evbuffer_put(struct evbuffer *, uint32_t, uint64_t,
		    uint64_t, const char *);

/* pressure.c */
#define PRESSURE_SRC_MAX	160
#define PRESSURE_PATH_MAX	512

/*
 * One reading of the machine's and our cgroup's memory, in bytes.  A field
 * the kernel does not offer is 0 (PSI figures: -1.0 when absent).
 */
struct psample {
	uint64_t	 ps_at;		/* monotonic ms */
	uint64_t	 ps_total;	/* MemTotal */
	uint64_t	 ps_avail;	/* MemAvailable */
	uint64_t	 ps_limit;	/* effective limit: min(MemTotal, cgroup) */
	uint64_t	 ps_high;	/* soft target (v2 memory.high), or 0 */
	uint64_t	 ps_usage;	/* used, without reclaimable page cache */
	uint64_t	 ps_cache;	/* reclaimable file pages left out of usage */
	uint64_t	 ps_headroom;	/* min(limit - usage, MemAvailable) */
	double		 ps_some10;	/* PSI some avg10, percent */
	double		 ps_full10;	/* PSI full avg10, percent */
	uint64_t	 ps_some_total;	/* PSI some total, microseconds */
	uint64_t	 ps_full_total;
	uint64_t	 ps_oom_kills;	/* OOM kills in our cgroup, or 0 */
	char		 ps_limit_source[PRESSURE_SRC_MAX];
};

struct pressure {
	int		 pr_cgversion;	/* 0: no memory controller, 1 or 2 */
	char		 pr_cgdir[PRESSURE_PATH_MAX];	/* our memory cgroup */
	char		 pr_psipath[PRESSURE_PATH_MAX];	/* memory.pressure */
	int		 pr_trigfd;	/* epoll fd armed with a PSI trigger */
	int		 pr_psifd;	/* the pressure file holding it */
};

int		 pressure_parse_meminfo(const char *, uint64_t *, uint64_t *);
int		 pressure_parse_psi(const char *, double *, double *,
		    uint64_t *, uint64_t *);
int		 pressure_parse_key(const char *, const char *, uint64_t *);
int		 pressure_parse_limit(const char *, uint64_t *);
int		 pressure_parse_cgroup(const char *, int *, char *, size_t);
int		 pressure_parse_mountinfo(const char *, int, const char *,
		    char *, size_t);
int		 pressure_init(struct pressure *);
int		 pressure_init_dir(struct pressure *, int, const char *);
int		 pressure_sample(struct pressure *, struct psample *);
int		 pressure_trigger(struct pressure *, uint64_t, uint64_t);
int		 pressure_triggered(struct pressure *);
void		 pressure_close(struct pressure *);
const char	*pressure_describe(const struct pressure *, char *, size_t);

/* elastic.c */
enum elastic_action {
	EL_HOLD = 0,
	EL_SHRINK,
	EL_GROW
};

struct elastic_conf {
	uint64_t	 ec_reserve;	/* shrink below this headroom */
	uint64_t	 ec_hysteresis;	/* more headroom than that to grow */
	double		 ec_psi_shrink;	/* PSI some avg10 that is pressure */
	double		 ec_psi_grow;	/* PSI some avg10 below which we grow */
	uint64_t	 ec_dwell_ms;	/* least time between opposite steps */
	uint64_t	 ec_settle_ms;	/* wait after any step (PSI lags) */
	uint64_t	 ec_cooldown_ms;	/* first grow cooldown */
	uint64_t	 ec_cooldown_max_ms;
	uint64_t	 ec_undo_ms;	/* a shrink this soon after a grow */
	int		 ec_min;	/* min-workers */
};

/* What the policy sees at one evaluation. */
struct elastic_in {
	const struct psample *ei_sample;
	int		 ei_target;	/* workers wanted without pressure */
	int		 ei_running;	/* live workers not told to stop */
	uint64_t	 ei_worker_peak;	/* room one more worker needs */
	uint64_t	 ei_pending;	/* anon of workers told to stop */
};

struct elastic {
	int		 el_cap;	/* most workers memory allows */
	int		 el_target;	/* the target at the last decision */
	int		 el_pressure;	/* 1 while under pressure */
	uint64_t	 el_last_step;	/* monotonic ms of the last step */
	uint64_t	 el_last_grow;
	uint64_t	 el_last_shrink;
	uint64_t	 el_last_squeeze;	/* last look with no room to grow */
	uint64_t	 el_cooldown_ms;	/* current grow cooldown */
	uint64_t	 el_ups;
	uint64_t	 el_downs;
	uint64_t	 el_penalties;	/* cooldown doublings */
};

void		 elastic_conf_defaults(struct elastic_conf *);
void		 elastic_init(struct elastic *, const struct elastic_conf *,
		    int);
int		 elastic_decide(struct elastic *, const struct elastic_conf *,
		    const struct elastic_in *, uint64_t, char *, size_t);

/* proc.c */
long long	 proc_anon_kb(pid_t);
void		 proc_evidence(pid_t, char *, size_t);
int		 proc_gone(pid_t);
int		 proc_stopped(pid_t);

/* child.c */
#define CHILD_FD		3	/* the socket to the supervisor */

/* What every child (worker, merger) starts with. */
struct child {
	int		 ch_fd;
	int		 ch_slot;	/* worker slot, -1 for the merger */
	const char	*ch_role;	/* "worker" or "merger" */
	struct ipc_buf	 ch_ib;
	struct quire_conf ch_conf;
	uint64_t	 ch_gen;	/* configuration generation */
};

void		 child_setup(struct child *, const char *, int);
void		 child_reopen(struct child *);
int		 child_config(struct child *, const struct ipc_msg *);

/* worker.c */
void		 worker_main(int) __dead;

/* fleet.c */
enum wstate {
	W_EMPTY = 0,		/* no process, none wanted */
	W_STARTING,		/* forked, not ready yet */
	W_IDLE,
	W_BUSY,
	W_DRAINING,		/* told to stop after its job */
	W_BACKOFF		/* died; waits to be started again */
};

struct wslot {
	int		 w_slot;
	pid_t		 w_pid;
	enum wstate	 w_state;
	struct bufferevent *w_bev;
	uint64_t	 w_job;		/* running job, or 0 */
	uint64_t	 w_gen;
	char		 w_what[128];
	char		 w_phase[64];
	unsigned	 w_progress;	/* of w_job, permille */
	uint64_t	 w_job_start;	/* monotonic ms */
	uint64_t	 w_job_paused;	/* ms of it under a storage fault */
	uint64_t	 w_last_beat;
	uint64_t	 w_spawned;
	uint64_t	 w_ready_at;
	uint32_t	 w_fails;	/* deaths before ready, in a row */
	uint64_t	 w_respawn_at;
	int		 w_kill_stage;	/* 1: TERM or ABRT sent, 2: KILL */
	uint64_t	 w_kill_at;
	int		 w_stopping;	/* we asked it to go: no crash */
	int		 w_hung;
	int		 w_overtime;	/* killed past job-timeout */
	long long	 w_anon_kb;
	long long	 w_anon_base;	/* anon kB when its job started */
	long long	 w_anon_peak;	/* highest anon kB seen in its job */
	long long	 w_anon_win[2];	/* highest anon kB: this window, last */
	uint64_t	 w_anon_winat;	/* when this window began */
	uint64_t	 w_jobs;
	uint64_t	 w_jobs_life;	/* jobs since this process started */
	uint64_t	 w_forks;
	uint64_t	 w_cgen;	/* configuration generation it holds */
	uint64_t	 w_spawn_gen;	/* generation it was started with */
	const char	*w_replace;	/* why it is being replaced, or NULL */
	int		 w_fault;	/* storage fault it reported */
	char		 w_fault_what[64];
	/* The last finished job, for admission's learning (fleet_learn). */
	int		 w_learn;
	char		 w_learn_type[16];
	uint64_t	 w_learn_size;
	long long	 w_learn_kb;	/* anon kB it took above the base */
};

#define FLEET_DECISIONS		8	/* decisions kept for status */
#define FLEET_DECISION_MAX	192

/* Why a worker process ended, as metrics count it. */
enum fleet_exit {
	FX_STOPPED = 0,		/* asked to go, and went */
	FX_EXIT,		/* exited on its own */
	FX_SIGNAL,		/* killed by a signal we did not send */
	FX_HUNG,		/* killed for missing heartbeats */
	FX_OVERTIME,		/* killed past job-timeout */
	FX_MEMORY_LIMIT,	/* ran out of worker-data-limit */
	FX_N
};

struct fleet {
	struct wslot	 f_w[QUIRE_WORKERS_MAX];
	struct wslot	 f_merger;	/* the index merger, w_slot -1 */
	struct wslot	 f_http;	/* the HTTP API, w_slot -2 */
	int		 f_target;
	uint64_t	 f_spawned;	/* counters for status and metrics */
	uint64_t	 f_deaths;
	uint64_t	 f_hung;
	uint64_t	 f_overtime;	/* killed past job-timeout */
	uint64_t	 f_ticked;	/* last fleet_tick, monotonic ms */
	uint64_t	 f_released;
	uint64_t	 f_quarantined;
	uint64_t	 f_ups;		/* the memory policy's steps */
	uint64_t	 f_downs;
	uint64_t	 f_target_ups;	/* target changes (scale, reload) */
	uint64_t	 f_target_downs;
	uint64_t	 f_replaced;	/* recycles and reload replacements */
	uint64_t	 f_memkills;	/* workers over their memory limit */
	uint64_t	 f_exits[FX_N];	/* worker ends by cause */
	/* The last decisions about the fleet's size, newest last. */
	char		 f_decisions[FLEET_DECISIONS][FLEET_DECISION_MAX];
	uint64_t	 f_ndecisions;
	/* The last time a descriptor was short (EMFILE, ENFILE), and why. */
	uint64_t	 f_fdshort_at;
	char		 f_fdshort_why[128];
	struct ratelimit f_spawn_rl;
};

/* Slots of the children that are not workers, below the workers' 0. */
#define FLEET_HTTP		(-2)
#define FLEET_MERGER		(-1)
#define FLEET_FIRST		FLEET_HTTP

struct supervisor;
const char	*fleet_state_name(enum wstate);
struct wslot	*fleet_slot(struct supervisor *, int);
const char	*fleet_role(const struct wslot *);
const char	*fleet_exit_name(enum fleet_exit);
void		 fleet_init(struct supervisor *);
void		 fleet_resize(struct supervisor *);
int		 fleet_want(struct supervisor *);
int		 fleet_running(struct supervisor *);
struct wslot	*fleet_victim(struct supervisor *);
void		 fleet_decision(struct supervisor *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
void		 fleet_send(struct supervisor *, uint32_t, uint64_t, uint64_t,
		    const char *);
void		 fleet_reconfigure(struct supervisor *, int);
void		 fleet_reap(struct supervisor *);
void		 fleet_tick(struct supervisor *);
void		 fleet_stop_all(struct supervisor *, int);
void		 fleet_signal(struct supervisor *, int);
int		 fleet_live(struct supervisor *);
int		 fleet_degraded(struct supervisor *);
const char	*fleet_degraded_why(struct supervisor *, char *, size_t);
void		 fleet_fdshort(struct supervisor *, const char *, int);
struct wslot	*fleet_cancel(struct supervisor *, uint64_t, uint64_t, pid_t);
int		 fleet_gone(struct supervisor *);

/* memory.c */
#define MEMORY_TYPES		16

/* What a document type costs: peak anon bytes per input byte. */
struct memlearn {
	char		 ml_type[16];
	double		 ml_ratio;	/* a moving maximum, decaying */
	uint64_t	 ml_jobs;
};

void		 memory_start(struct supervisor *);
void		 memory_reload(struct supervisor *);
void		 memory_stop(struct supervisor *);

/* storage.c */
#define STORAGE_DEFER_MAX	(2 * QUIRE_WORKERS_MAX)

/* A release of a dead worker's leases that could not be written yet. */
struct storage_defer {
	uint32_t	 sd_pid;
	uint64_t	 sd_crash;
	char		 sd_cause[128];
};

struct storage {
	int		 st_fault;	/* the one shown: the first reported */
	int		 st_own;	/* of the supervisor's own writes */
	char		 st_what[96];
	uint64_t	 st_since;	/* mono ms the fault began */
	uint64_t	 st_cleared;	/* mono ms it last ended */
	uint64_t	 st_episodes;
	uint64_t	 st_defer_lost;	/* releases left to the sweep */
	uint64_t	 st_retried;	/* mono ms deferred releases were tried */
	struct storage_defer st_defer[STORAGE_DEFER_MAX];
	size_t		 st_ndefer;
};

void		 storage_report(struct supervisor *, struct wslot *, int,
		    const char *);
void		 storage_release(struct supervisor *, uint32_t, const char *,
		    uint64_t, struct queue_release *);
void		 storage_tick(struct supervisor *);
int		 storage_sweep_ok(struct supervisor *);
long long	 storage_free(struct supervisor *);

/* listener.c */
#define LISTEN_MAX		8	/* addresses of `listen` */
#define LISTEN_NAME_MAX		64	/* "[v6 address]:port" */

struct listen_addr {
	struct sockaddr_storage la_ss;
	socklen_t	 la_len;
};

struct supervisor;
int		 listener_parse(const char *, struct listen_addr *, size_t,
		    size_t *, char *, size_t);
int		 listener_loopback(const struct listen_addr *);
const char	*listener_public(const char *, char *, size_t);
void		 listener_name(const struct listen_addr *, char *, size_t);
int		 listener_open(struct supervisor *, char *, size_t);
/* metrics_hist.c */
enum metrics_obs {
	MO_JOB = 0,		/* job duration, claim to ack, in us */
	MO_WAIT,		/* queue wait, enqueue to claim, microseconds */
	MO_CLAIM,		/* a claim transaction, microseconds */
	MO_COMMIT,		/* an index commit, microseconds */
	MO_NHIST,
	MO_BYTES = MO_NHIST,	/* input bytes of a job acked done */
	MO_N
};

#define METRICS_BUCKETS		16	/* the last one is +Inf */

struct metrics_hist {
	uint64_t	 mh_bucket[METRICS_BUCKETS];	/* not cumulative */
	uint64_t	 mh_count;
	uint64_t	 mh_sum_us;
};

/* What workers report over IPC_METRIC, since the supervisor started. */
struct metrics {
	struct metrics_hist mt_hist[MO_NHIST];
	uint64_t	 mt_bytes;
	uint64_t	 mt_refused;	/* frames with an unknown what */
};

int		 metrics_hist_observe(struct metrics *, uint64_t, uint64_t);
void		 metrics_hist_write(const struct metrics *,
		    struct evbuffer *);

/* metrics.c */
#define METRICS_TENANTS_MAX	50	/* tenants named; the rest: _other */

struct supervisor;
void		 metrics_write(struct supervisor *, struct evbuffer *);

/* home.c */
int		 home_reconcile(struct queue *, struct index *, uint64_t *);
int		 home_drained(struct queue *, struct index *, const char *,
		    uint64_t *);

/* drain.c */
int		 drain_run(struct queue *, struct index *,
		    const struct quire_conf *, const char *,
		    volatile sig_atomic_t *, char *, size_t);

/* move.c: a drained host's document, as its move job carries it. */
struct move_chunk {
	char		 mc_heading[256];
	const char	*mc_text;	/* in the body, not NUL-terminated */
	size_t		 mc_len;
};

struct move {
	struct xdoc	 mv_doc;	/* its title, type and attributes */
	uint64_t	 mv_hash;
	char		 mv_away[QUEUE_HOST_MAX + 1];
	struct move_chunk *mv_chunks;
	size_t		 mv_nchunks;
	msgpack_unpacked mv_up;
	int		 mv_unpacked;
};

void		 move_begin(struct buf *, const char *, const struct ixdoc *,
		    const struct buf *, const struct buf *, uint32_t);
void		 move_put_chunk(struct buf *, const struct ixchunk *);
int		 move_decode(struct move *, const struct buf *);
void		 move_free(struct move *);

/* supervisor.c */
struct supervisor {
	struct event_base *sv_base;
	struct quire_conf sv_conf;
	struct quire_conf sv_fileconf;	/* as the file said, for overrides */
	char		 sv_confpath[CONF_STR_MAX];
	char		 sv_datadir_arg[CONF_STR_MAX];
	char		 sv_exe[CONF_STR_MAX];
	int		 sv_foreground;
	int		 sv_verbose;
	struct queue	 sv_q;
	struct index	 sv_ix;		/* read for status */
	struct fleet	 sv_fleet;
	struct storage	 sv_storage;
	struct metrics	 sv_metrics;	/* workers' timings */
	int		 sv_pidfd;	/* locked pidfile, -1: none */
	int		 sv_drop;	/* "user": run as sv_uid, sv_gid */
	uid_t		 sv_uid;
	gid_t		 sv_gid;
	int		 sv_draining;
	uint64_t	 sv_compact;	/* deleted at start: merger compacts */
	int		 sv_fast;
	uint64_t	 sv_drain_deadline;
	int		 sv_override;	/* workers set at run time */
	char		 sv_reload_error[CONF_STR_MAX + 256];
	uint64_t	 sv_reloads;
	uint64_t	 sv_started;
	uint64_t	 sv_last_sweep;
	uint64_t	 sv_host_beat;	/* last host heartbeat, mono ms */
	int		 sv_host_failing;	/* the last one failed */
	struct event	*sv_tick;
	struct event	*sv_sig[9];
	int		 sv_ctlfd;
	char		 sv_ctlpath[CONF_STR_MAX];
	struct evconnlistener *sv_ctl;
	int		 sv_http_fd[LISTEN_MAX];	/* bound by listener.c */
	char		 sv_http_name[LISTEN_MAX][LISTEN_NAME_MAX];
	size_t		 sv_nhttp;
	int		 sv_ctl_reserve;	/* /dev/null, kept for the socket */
	struct event	*sv_ctl_pause;	/* accepts resume when it fires */
	struct ratelimit sv_ctl_rl;
	/* Memory pressure (memory.c). */
	struct pressure	 sv_pr;
	struct psample	 sv_ps;
	struct elastic	 sv_el;
	struct elastic_conf sv_ec;
	struct event	*sv_mem;	/* the next sample */
	struct event	*sv_trig;	/* a PSI trigger fired */
	uint64_t	 sv_mem_ms;	/* the sampling interval now */
	uint64_t	 sv_admit;	/* big-job bytes workers may run */
	struct memlearn	 sv_learn[MEMORY_TYPES];
	/* Configuration generations: what children hold, what they need. */
	uint64_t	 sv_cgen;
	uint64_t	 sv_respawn_gen;
};

void		 supervisor_main(struct supervisor *) __dead;
int		 supervisor_reload(struct supervisor *);
void		 supervisor_scale(struct supervisor *, int);
void		 supervisor_drain(struct supervisor *, int);

/* ask.c */
#define ASK_NODAEMON		(-1)	/* connect failed; errno says why */
#define ASK_FAILED		(-2)	/* the connection broke */
#define ASK_REFUSED		(-3)	/* the daemon answered "error: ..." */
#define ASK_TIMEOUT		(-4)	/* no whole reply in time */
#define ASK_CONNECT_TIMEOUT	(-5)	/* no connection in time */

int		 ask_daemon(const char *, int, uint64_t, const char *,
		    struct buf *, int, int, char *, size_t);
int		 ask_alive(const char *, int);
int		 ask_cancelled(const char *, uint64_t, char *, size_t, int *);

/* quirectl.c: its exit statuses */
#define CTL_EXIT_OK	0
#define CTL_EXIT_FAIL	1	/* the command failed */
#define CTL_EXIT_USAGE	2	/* bad command line */
#define CTL_EXIT_NOREAD	3	/* check: the index cannot be read */
#define CTL_EXIT_NODAEMON 4	/* status: no daemon, the queue alone shown */
#define CTL_EXIT_INTR	130	/* ingest: interrupted, as the shell says */

/* top.c, quirectl top: ask gets the daemon's status --json into the buf,
 * 0, or why says why not (a signal may have cut it short). */
typedef int	(*top_ask_fn)(struct buf *, char *, size_t);

int		 top_main(int, char **, top_ask_fn);

/* progress.c */
struct progress {
	int		 pg_tty;
	int		 pg_drawn_tty;	/* a line is on the terminal */
	uint64_t	 pg_t0;		/* start, monotonic ms */
	uint64_t	 pg_drawn;	/* last drawn */
	size_t		 pg_total;	/* jobs */
	size_t		 pg_done;	/* finished: done, dead, cancelled */
	size_t		 pg_dead;
	double		 pg_frac;	/* of the whole, 0 to 1 */
	uint64_t	 pg_docs;	/* documents indexed since the start */
	double		 pg_rate;	/* docs/s, or < 0: docs over time */
	char		 pg_note[192];	/* said after the line, or "" */
};

void		 progress_start(struct progress *, size_t, int);
void		 progress_line(const struct progress *, char *, size_t);
void		 progress_draw(struct progress *, int);
void		 progress_end(struct progress *);

/* follow.c */
struct follow {
	uint64_t	*fl_ids;	/* sorted, each once */
	uint64_t	*fl_size;	/* bytes, at least 1 */
	uint64_t	 fl_total;	/* of fl_size */
	uint8_t		*fl_state;	/* last known; JOB_NSTATES: none */
	uint16_t	*fl_pm;		/* progress, permille */
	size_t		 fl_n;
	size_t		 fl_final;	/* done, dead or cancelled */
	size_t		 fl_dead;
	size_t		 fl_cancelled;
	int		 fl_fd;		/* the event stream, or -1 */
	struct buf	 fl_in;		/* read, not yet parsed */
	char		 fl_event[16];	/* the event's name, until data */
	double		 fl_rate;	/* the stream's docs/s, or -1 */
	uint64_t	 fl_checked;	/* last look at the queue */
	const char	*fl_ctlpath;	/* the admin socket, or NULL */
	char		 fl_held[160];	/* the storage fault holding the
					   workers and what met it, or "" */
};

void		 follow_init(struct follow *, const char *);
void		 follow_jobs(struct follow *, const struct queue_new *,
		    size_t);
void		 follow_free(struct follow *);
int		 follow_connect(struct follow *, const char *, const char *,
		    char *, size_t);
int		 follow_wait(struct follow *, struct queue *, int);
double		 follow_fraction(const struct follow *);

/* control.c */
enum ctl_command {
	CTL_STATUS = 0,
	CTL_WORKERS,
	CTL_SCALE,
	CTL_DRAIN,
	CTL_RELOAD,
	CTL_STOP,
	CTL_JOBS,
	CTL_SEARCH,
	CTL_CANCEL,
	CTL_METRICS,		/* Prometheus text (metrics.c) */
	CTL_NCOMMANDS
};

/*
 * A search through the daemon, which runs it on its event loop: no
 * more hits, skipped hits and query bytes than these.
 */
#define CTL_SEARCH_N_MAX	1000
#define CTL_SEARCH_OFFSET_MAX	10000
#define CTL_SEARCH_QUERY_MAX	1024
#define CTL_SEARCH_BUDGET_MS	200	/* then the search gives up */

int		 control_parse(struct evbuffer *, struct ipc_msg *,
		    const char **);
/* What the admin socket may order its supervisor to do. */
struct control_orders {
	void	(*co_scale)(struct supervisor *, int);
	int	(*co_reload)(struct supervisor *);
	void	(*co_drain)(struct supervisor *, int);
};

int		 control_listen(struct supervisor *,
		    const struct control_orders *);
void		 control_close(struct supervisor *);
void		 control_status(struct supervisor *, int, int,
		    struct evbuffer *);

#endif /* QUIRE_H */
