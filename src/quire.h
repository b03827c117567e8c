/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * One header for the whole program: every structure, constant and
 * prototype, grouped by the file that defines them.
 */

#ifndef QUIRE_H
#define QUIRE_H

#include <sys/types.h>

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

#ifndef __dead
#define __dead		__attribute__((__noreturn__))
#endif

#define QUIRE_VERSION		PACKAGE_VERSION
#define QUIRE_DATADIR		"/var/lib/quire"

/* log.c */
void		 log_init(int, int);
void		 log_procinit(const char *);
void		 log_setverbose(int);
int		 log_getverbose(void);
int		 log_openfile(const char *);
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
void		 util_put_be64(uint8_t *, uint64_t);
uint64_t	 util_get_be64(const uint8_t *);
void		 util_put_be32(uint8_t *, uint32_t);
uint32_t	 util_get_be32(const uint8_t *);
int		 util_parse_duration(const char *, uint64_t *, const char **);
int		 util_parse_size(const char *, uint64_t *, const char **);
void		 util_format_duration(uint64_t, char *, size_t);
int		 util_mkdir_p(const char *, mode_t);
int		 util_fsync_dir(const char *);

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
	SRC_NKINDS
};

#define JOB_KEY_MAX		256
#define JOB_TENANT_MAX		64
#define JOB_PATH_MAX		4096
#define JOB_ERROR_MAX		256
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
};

const char	*codec_state_name(int);
int		 codec_state_parse(const char *);
const char	*codec_source_name(int);
int		 codec_source_parse(const char *);
int		 codec_job_encode(const struct job *, msgpack_sbuffer *);
int		 codec_job_decode(const void *, size_t, struct job *);

/* store.c */
enum store_sync {
	STORE_SYNC_FULL = 0,	/* fsync data and meta page at every commit */
	STORE_SYNC_GROUP,	/* fsync data, meta page on the next sync */
	STORE_SYNC_NONE		/* leave it to the kernel: loses commits */
};

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
};

typedef int	 (*store_fn)(MDB_txn *, void *);

int		 store_open(struct store *, const char *, const char **, int,
		    int, size_t);
void		 store_close(struct store *);
int		 store_write(struct store *, store_fn, void *);
int		 store_read(struct store *, store_fn, void *);
int		 store_sync(struct store *);
int		 store_reader_check(struct store *, int *);
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

#define QUEUE_CRASH_ALL		UINT64_MAX	/* release: every job crashed */

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
};

struct queue {
	struct store	 q_store;
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
	uint64_t	 qn_id;
	int		 qn_dup;
};

struct queue_owner {
	uint32_t	 qo_slot;
	uint32_t	 qo_pid;
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
int		 queue_heartbeat(struct queue *, uint64_t, uint64_t, uint64_t);
int		 queue_fail(struct queue *, uint64_t, uint64_t, const char *,
		    int, int *);
int		 queue_cancel(struct queue *, uint64_t);
int		 queue_release_pid(struct queue *, uint32_t, const char *,
		    uint64_t, struct queue_release *);
int		 queue_sweep(struct queue *, struct queue_release *);
int		 queue_retry(struct queue *, uint64_t);
int		 queue_retry_dead(struct queue *, uint64_t *);
int		 queue_purge(struct queue *, int, uint64_t, uint64_t,
		    uint64_t *);
int		 queue_stats(struct queue *, struct queue_stats *);
int		 queue_get(struct queue *, uint64_t, struct job *);
int		 queue_list(struct queue *, int, size_t, queue_list_cb, void *);
uint64_t	 queue_backoff(const struct queue_conf *, uint32_t);
const char	*queue_strerror(int);

/* submit.c */
struct submit_opts {
	const char	*so_tenant;
	const char	*so_key;
	int		 so_prio;
	uint64_t	 so_split;	/* NDJSON range size */
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
	size_t		 sb_skipped;
};

void		 submit_init(struct submit_batch *);
void		 submit_free(struct submit_batch *);
int		 submit_add_path(struct submit_batch *, const char *,
		    const struct submit_opts *);
int		 submit_add_ndjson(struct submit_batch *, const char *,
		    const struct submit_opts *);
int		 submit_add_debug(struct submit_batch *, const char *,
		    const struct submit_opts *);
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
	CONF_PATH		/* absolute, or empty */
};

struct conf_opt {
	const char	*o_name;
	enum conf_type	 o_type;
	size_t		 o_off;
	uint64_t	 o_min;
	uint64_t	 o_max;
	const char	*o_default;
	int		 o_reload;	/* SIGHUP applies it */
	const char	**o_values;	/* CONF_ENUM */
	const char	*o_help;
};

/* Every number is a uint64_t, so one setter serves the whole table. */
struct quire_conf {
	char		 c_datadir[CONF_STR_MAX];
	char		 c_user[CONF_STR_MAX];
	char		 c_group[CONF_STR_MAX];
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
	uint64_t	 c_mapsize;
	uint64_t	 c_debug_jobs;
	uint64_t	 c_set;		/* bit per option set by the file */
};

const struct conf_opt *config_options(size_t *);
void		 config_defaults(struct quire_conf *);
int		 config_parse(FILE *, const char *, struct quire_conf *, char *,
		    size_t);
int		 config_load(const char *, struct quire_conf *, char *, size_t);
void		 config_format(const struct quire_conf *,
		    const struct conf_opt *, char *, size_t);
void		 config_print(const struct quire_conf *, FILE *);
void		 config_queue(const struct quire_conf *, struct queue_conf *);
void		 config_control_path(const struct quire_conf *, char *, size_t);

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
	IPC_CONFIG,		/* str: the configuration, as quired -n -v */
	IPC_STOP,		/* finish the current job, then exit */
	IPC_EXIT,		/* exit now */
	/* quirectl to the admin socket */
	IPC_CTL,		/* a: command, b: number, str: flags */
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
int		 ipc_take(struct ipc_buf *, struct ipc_msg *);
int		 ipc_recv(int, struct ipc_buf *, struct ipc_msg *, int);
int		 ipc_evbuffer_get(struct evbuffer *, struct ipc_msg *);
int		 ipc_evbuffer_put(struct evbuffer *, uint32_t, uint64_t,
		    uint64_t, const char *);

/* proc.c */
long long	 proc_anon_kb(pid_t);
void		 proc_evidence(pid_t, char *, size_t);

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
	uint64_t	 w_job_start;	/* monotonic ms */
	uint64_t	 w_last_beat;
	uint64_t	 w_spawned;
	uint64_t	 w_ready_at;
	uint32_t	 w_fails;	/* deaths before ready, in a row */
	uint64_t	 w_respawn_at;
	int		 w_kill_stage;	/* 1: TERM or ABRT sent, 2: KILL */
	uint64_t	 w_kill_at;
	int		 w_stopping;	/* we asked it to go: no crash */
	int		 w_hung;
	long long	 w_anon_kb;
	uint64_t	 w_jobs;
	uint64_t	 w_forks;
};

struct fleet {
	struct wslot	 f_w[QUIRE_WORKERS_MAX];
	int		 f_target;
	uint64_t	 f_spawned;	/* counters for status and metrics */
	uint64_t	 f_deaths;
	uint64_t	 f_hung;
	uint64_t	 f_released;
	uint64_t	 f_quarantined;
};

struct supervisor;
const char	*fleet_state_name(enum wstate);
void		 fleet_init(struct supervisor *);
void		 fleet_resize(struct supervisor *);
void		 fleet_reap(struct supervisor *);
void		 fleet_tick(struct supervisor *);
void		 fleet_stop_all(struct supervisor *, int);
int		 fleet_live(struct supervisor *);
int		 fleet_degraded(struct supervisor *);

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
	struct fleet	 sv_fleet;
	struct pidfh	*sv_pfh;
	int		 sv_draining;
	int		 sv_fast;
	uint64_t	 sv_drain_deadline;
	int		 sv_override;	/* workers set at run time */
	char		 sv_reload_error[CONF_STR_MAX + 256];
	uint64_t	 sv_reloads;
	uint64_t	 sv_started;
	uint64_t	 sv_last_sweep;
	struct event	*sv_tick;
	struct event	*sv_sig[9];
	int		 sv_ctlfd;
	char		 sv_ctlpath[CONF_STR_MAX];
	struct evconnlistener *sv_ctl;
};

void		 supervisor_main(struct supervisor *) __dead;
int		 supervisor_reload(struct supervisor *);
void		 supervisor_scale(struct supervisor *, int);
void		 supervisor_drain(struct supervisor *, int);

/* control.c */
enum ctl_command {
	CTL_STATUS = 0,
	CTL_WORKERS,
	CTL_SCALE,
	CTL_DRAIN,
	CTL_RELOAD,
	CTL_STOP,
	CTL_NCOMMANDS
};

int		 control_listen(struct supervisor *);
void		 control_close(struct supervisor *);
void		 control_status(struct supervisor *, int, int,
		    struct evbuffer *);

#endif /* QUIRE_H */
