/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The configuration file, quired.conf(5).
 *
 * One line per option, "name value", with "#" comments and blank lines.
 * One table below names every option with its type, bounds, default and
 * what a reload does with it: nothing until a restart (CONF_RELOAD_NO),
 * apply it in the supervisor and the running children at once
 * (CONF_RELOAD_LIVE), or replace the workers, which read it only at
 * start, one at a time (CONF_RELOAD_RESPAWN).  Parsing, defaults, the -n
 * check and the option list of the manual all follow from it
 * (t/config.sh compares the manual with `quired -n -v`).  Numbers go
 * through strtonum, durations ("30s") and sizes ("64M") through util.c,
 * and every error names the file and line.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define CONF_OFF(m)	offsetof(struct quire_conf, m)
#define CONF_FILE_MAX	(1 << 20)	/* a configuration file's size */

static size_t	 config_lineno(const char *, const char *);

static const char *conf_sync_values[] = { "full", "group", "none", NULL };
static const char *conf_backend_values[] = { "lmdb", "postgresql", NULL };
static const char *conf_level_values[] = { "warning", "info", "debug", NULL };
static const char *conf_utf8_values[] = { "repair", "reject", NULL };

static const struct conf_opt conf_opts[] = {
	{ "datadir", CONF_PATH, CONF_OFF(c_datadir), 0, 0, QUIRE_DATADIR,
	    CONF_RELOAD_NO, NULL, "data directory: queue/, index/, spool/" },
	{ "user", CONF_STRING, CONF_OFF(c_user), 0, 0, "", CONF_RELOAD_NO, NULL,
	    "user to run as after start-up (empty: stay)" },
	{ "group", CONF_STRING, CONF_OFF(c_group), 0, 0, "", CONF_RELOAD_NO,
	    NULL, "group to run as (empty: the user's group)" },
	{ "runtime-dir", CONF_PATH, CONF_OFF(c_rundir), 0, 0, QUIRE_RUNDIR,
	    CONF_RELOAD_NO, NULL,
	    "made at start, owned by user, if pidfile or socket is in it" },
	{ "pidfile", CONF_PATH, CONF_OFF(c_pidfile), 0, 0,
	    QUIRE_RUNDIR "/quired.pid", CONF_RELOAD_NO, NULL, "pid file" },
	{ "control-socket", CONF_PATH, CONF_OFF(c_control), 0, 0, "",
	    CONF_RELOAD_NO, NULL,
	    "admin socket (empty: control.sock in the data directory)" },
	{ "control-socket-mode", CONF_MODE, CONF_OFF(c_control_mode), 0, 0777,
	    "0660", CONF_RELOAD_NO, NULL, "permissions of the admin socket" },
	{ "control-socket-group", CONF_STRING, CONF_OFF(c_control_group), 0, 0,
	    "", CONF_RELOAD_NO, NULL,
	    "group allowed to administer (empty: none)" },
	{ "log-file", CONF_PATH, CONF_OFF(c_logfile), 0, 0, "", CONF_RELOAD_NO,
	    NULL, "log file, reopened on SIGUSR1 (empty: syslog)" },
	{ "log-level", CONF_ENUM, CONF_OFF(c_loglevel), 0, 2, "info",
	    CONF_RELOAD_LIVE, conf_level_values, "warning, info or debug" },
	{ "workers", CONF_INT, CONF_OFF(c_workers), 0, QUIRE_WORKERS_MAX, "2",
	    CONF_RELOAD_LIVE, NULL, "worker processes" },
	{ "min-workers", CONF_INT, CONF_OFF(c_min_workers), 0,
	    QUIRE_WORKERS_MAX, "0", CONF_RELOAD_LIVE, NULL,
	    "fewest workers scaling may leave" },
	{ "max-workers", CONF_INT, CONF_OFF(c_max_workers), 1,
	    QUIRE_WORKERS_MAX, "64", CONF_RELOAD_LIVE, NULL,
	    "most workers scaling may start" },
	{ "drain-timeout", CONF_DURATION, CONF_OFF(c_drain_ms), 0, 86400000,
	    "30s", CONF_RELOAD_LIVE, NULL,
	    "time running jobs get to finish on stop" },
	{ "lease-time", CONF_DURATION, CONF_OFF(c_lease_ms), 1000, 86400000,
	    "60s", CONF_RELOAD_LIVE, NULL,
	    "lease on a claimed job; heartbeats extend it" },
	{ "heartbeat-interval", CONF_DURATION, CONF_OFF(c_heartbeat_ms), 10,
	    3600000, "1s", CONF_RELOAD_LIVE, NULL,
	    "how often a busy worker reports" },
	{ "hang-timeout", CONF_DURATION, CONF_OFF(c_hang_ms), 100, 86400000,
	    "30s", CONF_RELOAD_LIVE, NULL,
	    "silence after which a worker is hung" },
	{ "start-timeout", CONF_DURATION, CONF_OFF(c_start_ms), 100,
	    86400000, "60s", CONF_RELOAD_LIVE, NULL,
	    "longest a new worker may take to be ready" },
	{ "job-timeout", CONF_DURATION, CONF_OFF(c_job_timeout_ms), 0,
	    604800000, "10m", CONF_RELOAD_LIVE, NULL,
	    "longest a job may run before it fails for good (0: no limit)" },
	{ "kill-grace", CONF_DURATION, CONF_OFF(c_grace_ms), 10, 600000, "2s",
	    CONF_RELOAD_LIVE, NULL,
	    "wait between SIGABRT or SIGTERM and SIGKILL" },
	{ "max-attempts", CONF_INT, CONF_OFF(c_max_attempts), 1, 1000, "5",
	    CONF_RELOAD_LIVE, NULL,
	    "failed attempts before a job is a dead letter" },
	{ "max-crashes", CONF_INT, CONF_OFF(c_max_crashes), 1, 1000, "3",
	    CONF_RELOAD_LIVE, NULL,
	    "worker deaths a job may cause before quarantine" },
	{ "backoff", CONF_DURATION, CONF_OFF(c_backoff_ms), 0, 86400000, "1s",
	    CONF_RELOAD_LIVE, NULL,
	    "first retry delay, doubled per attempt, jittered" },
	{ "backoff-max", CONF_DURATION, CONF_OFF(c_backoff_max_ms), 0,
	    604800000, "5m", CONF_RELOAD_LIVE, NULL, "longest retry delay" },
	{ "claim-batch", CONF_INT, CONF_OFF(c_claim_batch), 1, 1024, "16",
	    CONF_RELOAD_RESPAWN, NULL, "jobs a worker claims at once" },
	{ "claim-bytes", CONF_SIZE, CONF_OFF(c_claim_bytes), 1, 1ULL << 40,
	    "8M", CONF_RELOAD_LIVE, NULL,
	    "input bytes a worker claims at once" },
	{ "big-job-size", CONF_SIZE, CONF_OFF(c_big_bytes), 1, 1ULL << 40,
	    "16M", CONF_RELOAD_LIVE, NULL, "size from which a job is big" },
	{ "big-inflight", CONF_SIZE, CONF_OFF(c_big_inflight), 1, 1ULL << 40,
	    "256M", CONF_RELOAD_LIVE, NULL,
	    "bytes of big jobs running at once" },
	{ "fair-quantum", CONF_SIZE, CONF_OFF(c_fair_unit), 1, 1ULL << 40, "1M",
	    CONF_RELOAD_LIVE, NULL,
	    "bytes a tenant earns per round robin turn" },
	{ "priority-aging", CONF_DURATION, CONF_OFF(c_aging_ms), 0, 86400000,
	    "30s", CONF_RELOAD_LIVE, NULL,
	    "wait that raises a job one priority" },
	{ "retain-done", CONF_INT, CONF_OFF(c_retain_done), 0, 1000000000,
	    "100000", CONF_RELOAD_LIVE, NULL, "finished jobs kept for status" },
	{ "retain-age", CONF_DURATION, CONF_OFF(c_retain_age_ms), 0,
	    31536000000ULL, "7d", CONF_RELOAD_LIVE, NULL,
	    "age after which finished jobs go" },
	{ "sync", CONF_ENUM, CONF_OFF(c_sync), 0, 2, "full", CONF_RELOAD_NO,
	    conf_sync_values, "commit durability: full, group or none" },
	{ "queue-backend", CONF_ENUM, CONF_OFF(c_queue_backend), 0, 1, "lmdb",
	    CONF_RELOAD_NO, conf_backend_values,
	    "where the job queue lives: lmdb or postgresql" },
	{ "queue-dsn", CONF_STRING, CONF_OFF(c_queue_dsn), 0, 0, "",
	    CONF_RELOAD_NO, NULL,
	    "the postgresql backend's libpq connection string" },
	{ "queue-password-file", CONF_PATH, CONF_OFF(c_queue_passfile), 0, 0,
	    "", CONF_RELOAD_NO, NULL,
	    "the postgresql backend's password, in a file of mode 0600" },
	{ "host-name", CONF_STRING, CONF_OFF(c_host_name), 0, 0, "",
	    CONF_RELOAD_NO, NULL,
	    "this host's name in a shared queue (empty: the machine's)" },
	{ "host-expiry", CONF_DURATION, CONF_OFF(c_host_expiry_ms), 2000,
	    86400000, "15s", CONF_RELOAD_LIVE, NULL,
	    "heartbeat age after which a host is dead and its leases go" },
	{ "map-size", CONF_SIZE, CONF_OFF(c_mapsize), 1ULL << 20, 1ULL << 40,
	    "64M", CONF_RELOAD_NO, NULL,
	    "initial LMDB map size; grows on demand" },
	{ "map-max", CONF_SIZE, CONF_OFF(c_mapmax), 1ULL << 20, 1ULL << 40,
	    "1T", CONF_RELOAD_LIVE, NULL,
	    "largest an LMDB map may grow to (then: map-full)" },
	{ "debug-jobs", CONF_BOOL, CONF_OFF(c_debug_jobs), 0, 1, "no",
	    CONF_RELOAD_LIVE, NULL,
	    "accept debug jobs (sleep, crash, hang...) for testing" },
	{ "roots", CONF_STRING, CONF_OFF(c_roots), 0, 0, "/",
	    CONF_RELOAD_RESPAWN, NULL,
	    "directories documents are read beneath, separated by colons" },
	{ "max-document-size", CONF_SIZE, CONF_OFF(c_max_size), 1, 1ULL << 40,
	    "64M", CONF_RELOAD_LIVE, NULL, "largest input document" },
	{ "max-bulk-size", CONF_SIZE, CONF_OFF(c_max_bulk), 1, 1ULL << 40,
	    "1G", CONF_RELOAD_LIVE, NULL,
	    "largest NDJSON body uploaded in one request" },
	{ "max-text-size", CONF_SIZE, CONF_OFF(c_max_text), 1, 1ULL << 40,
	    "256M", CONF_RELOAD_LIVE, NULL,
	    "most text extracted from one document" },
	{ "max-ratio", CONF_INT, CONF_OFF(c_max_ratio), 1, 100000, "100",
	    CONF_RELOAD_LIVE, NULL,
	    "most text per input byte (decompression bombs)" },
	{ "max-depth", CONF_INT, CONF_OFF(c_max_depth), 1, 100000, "256",
	    CONF_RELOAD_LIVE, NULL,
	    "deepest nesting of JSON, HTML or markdown" },
	{ "max-line", CONF_SIZE, CONF_OFF(c_max_line), 64, 1ULL << 32, "1M",
	    CONF_RELOAD_LIVE, NULL, "longest line or NDJSON record" },
	{ "max-tokens", CONF_INT, CONF_OFF(c_max_tokens), 0, 1000000000,
	    "0", CONF_RELOAD_LIVE, NULL,
	    "most words in one document (0: as the size limits allow)" },
	{ "max-pages", CONF_INT, CONF_OFF(c_max_pages), 1, 1000000, "10000",
	    CONF_RELOAD_LIVE, NULL, "most pages in one PDF" },
	{ "utf8", CONF_ENUM, CONF_OFF(c_utf8), 0, 1, "repair", CONF_RELOAD_LIVE,
	    conf_utf8_values, "invalid UTF-8: repair (U+FFFD) or reject" },
	{ "language", CONF_STRING, CONF_OFF(c_language), 0, 0, "english",
	    CONF_RELOAD_RESPAWN, NULL,
	    "stemming language when a job names none (none: no stemming)" },
	{ "stopwords", CONF_BOOL, CONF_OFF(c_stopwords), 0, 1, "no",
	    CONF_RELOAD_RESPAWN, NULL, "leave common words out of the index" },
	{ "chunk-size", CONF_SIZE, CONF_OFF(c_chunk_size), 64, 1ULL << 20,
	    "1500", CONF_RELOAD_LIVE, NULL, "bytes of text per chunk" },
	{ "chunk-overlap", CONF_SIZE, CONF_OFF(c_chunk_overlap), 0, 1ULL << 19,
	    "150", CONF_RELOAD_LIVE, NULL,
	    "bytes a chunk repeats of the last one" },
	{ "chunk-min", CONF_SIZE, CONF_OFF(c_chunk_min), 0, 1ULL << 20, "200",
	    CONF_RELOAD_LIVE, NULL,
	    "a shorter last chunk joins the one before" },
	{ "id-field", CONF_STRING, CONF_OFF(c_id_field), 0, 0, "id",
	    CONF_RELOAD_RESPAWN, NULL,
	    "JSON record field with the document id" },
	{ "title-field", CONF_STRING, CONF_OFF(c_title_field), 0, 0, "title",
	    CONF_RELOAD_RESPAWN, NULL, "JSON record field with the title" },
	{ "text-field", CONF_STRING, CONF_OFF(c_text_field), 0, 0, "text",
	    CONF_RELOAD_RESPAWN, NULL, "JSON record field with the text" },
	{ "worker-data-limit", CONF_SIZE, CONF_OFF(c_data_limit), 16ULL << 20,
	    1ULL << 44, "4G", CONF_RELOAD_RESPAWN, NULL,
	    "RLIMIT_DATA of each worker" },
	{ "batch-docs", CONF_INT, CONF_OFF(c_batch_docs), 1, 10000000, "50000",
	    CONF_RELOAD_LIVE, NULL,
	    "documents a worker indexes per commit, at most" },
	{ "batch-bytes", CONF_SIZE, CONF_OFF(c_batch_bytes), 4096, 1ULL << 32,
	    "64M", CONF_RELOAD_LIVE, NULL,
	    "text a worker indexes per commit, at most" },
	{ "batch-linger", CONF_DURATION, CONF_OFF(c_batch_linger_ms), 1, 60000,
	    "200ms", CONF_RELOAD_LIVE, NULL,
	    "longest a document waits in a batch before its commit" },
	{ "facet-exact", CONF_INT, CONF_OFF(c_facet_exact), 0, 1000000000,
	    "50000", CONF_RELOAD_LIVE, NULL,
	    "postings up to which a search with facets reads every match" },
	{ "bm25-k1", CONF_REAL, CONF_OFF(c_k1), 0, 10000, "1.2",
	    CONF_RELOAD_LIVE, NULL, "BM25 term frequency saturation" },
	{ "bm25-b", CONF_REAL, CONF_OFF(c_b), 0, 1000, "0.75", CONF_RELOAD_LIVE,
	    NULL, "BM25 length normalization" },
	{ "title-weight", CONF_REAL, CONF_OFF(c_title_weight), 0, 100000, "5",
	    CONF_RELOAD_LIVE, NULL,
	    "weight of a title match against a text match" },
	{ "proximity-weight", CONF_REAL, CONF_OFF(c_proximity_weight), 0,
	    100000, "0.5", CONF_RELOAD_LIVE, NULL,
	    "weight of query words close together, rescoring the first hits" },
	{ "exact-weight", CONF_REAL, CONF_OFF(c_exact_weight), 0, 100000,
	    "0.5", CONF_RELOAD_LIVE, NULL,
	    "weight of query words found as typed, not only by their stem" },
	{ "heading-weight", CONF_REAL, CONF_OFF(c_heading_weight), 0, 100000,
	    "0", CONF_RELOAD_LIVE, NULL,
	    "weight of query words in a chunk's headings, rescoring the first "
	    "hits" },
	{ "rank-window", CONF_INT, CONF_OFF(c_rank_window), 0, 1000, "30",
	    CONF_RELOAD_LIVE, NULL,
	    "first hits rescored for proximity and exact forms (0: none)" },
	{ "typos", CONF_BOOL, CONF_OFF(c_typos), 0, 1, "yes", CONF_RELOAD_LIVE,
	    NULL, "search corrects words that match nothing or very little" },
	{ "typo-one-edit", CONF_INT, CONF_OFF(c_typo1), 0,
	    SEARCH_TYPO_WORD_MAX, "4", CONF_RELOAD_LIVE, NULL,
	    "characters of a word corrected within one edit (0: none)" },
	{ "typo-two-edits", CONF_INT, CONF_OFF(c_typo2), 0,
	    SEARCH_TYPO_WORD_MAX, "8", CONF_RELOAD_LIVE, NULL,
	    "characters of a word corrected within two edits (0: none)" },
	{ "merge", CONF_BOOL, CONF_OFF(c_merge), 0, 1, "yes", CONF_RELOAD_LIVE,
	    NULL,
	    "run the merger, which folds index segments and purges deletes" },
	{ "merge-fold-size", CONF_SIZE, CONF_OFF(c_fold_size), 65536,
	    1ULL << 32, "16M", CONF_RELOAD_LIVE, NULL,
	    "size at which the oldest segment is folded into blocks" },
	{ "max-jobs", CONF_INT, CONF_OFF(c_max_jobs), 0, 1000000000, "0",
	    CONF_RELOAD_LIVE, NULL,
	    "jobs after which a worker is replaced (0: never)" },
	{ "worker-memory-soft", CONF_SIZE, CONF_OFF(c_mem_soft), 0, 1ULL << 44,
	    "1G", CONF_RELOAD_LIVE, NULL,
	    "anonymous memory past which a worker is replaced between jobs" },
	{ "memory-pressure", CONF_BOOL, CONF_OFF(c_mem_elastic), 0, 1, "yes",
	    CONF_RELOAD_LIVE, NULL,
	    "shrink the fleet under memory pressure, grow it back" },
	{ "memory-reserve", CONF_SIZE, CONF_OFF(c_mem_reserve), 0, 1ULL << 44,
	    "512M", CONF_RELOAD_LIVE, NULL,
	    "headroom to keep: below it the fleet shrinks" },
	{ "memory-hysteresis", CONF_SIZE, CONF_OFF(c_mem_hysteresis), 0,
	    1ULL << 44, "256M", CONF_RELOAD_LIVE, NULL,
	    "headroom past the reserve and a worker's peak needed to grow" },
	{ "memory-psi-shrink", CONF_REAL, CONF_OFF(c_mem_psi_shrink), 0, 100000,
	    "10", CONF_RELOAD_LIVE, NULL,
	    "PSI some avg10 (percent) that confirms pressure" },
	{ "memory-psi-grow", CONF_REAL, CONF_OFF(c_mem_psi_grow), 0, 100000,
	    "1", CONF_RELOAD_LIVE, NULL,
	    "PSI some avg10 (percent) below which it may grow" },
	{ "memory-dwell", CONF_DURATION, CONF_OFF(c_mem_dwell_ms), 0, 3600000,
	    "10s", CONF_RELOAD_LIVE, NULL,
	    "least time between a shrink and a grow, either way" },
	{ "memory-settle", CONF_DURATION, CONF_OFF(c_mem_settle_ms), 0, 600000,
	    "1s", CONF_RELOAD_LIVE, NULL,
	    "wait after each resize before the next (PSI lags)" },
	{ "memory-grow-cooldown", CONF_DURATION, CONF_OFF(c_mem_cooldown_ms), 0,
	    3600000, "5s", CONF_RELOAD_LIVE, NULL,
	    "wait between grows; doubles when a grow is undone soon" },
	{ "memory-grow-cooldown-max", CONF_DURATION,
	    CONF_OFF(c_mem_cooldown_max_ms), 0, 86400000, "5m",
	    CONF_RELOAD_LIVE, NULL, "longest grow cooldown" },
	{ "listen", CONF_LIST, CONF_OFF(c_listen), 0, 0, "127.0.0.1:8470",
	    CONF_RELOAD_NO, NULL,
	    "HTTP API address ADDR:PORT; repeat for more (none: no HTTP)" },
	{ "http-token-file", CONF_PATH, CONF_OFF(c_http_tokens), 0, 0, "",
	    CONF_RELOAD_LIVE, NULL,
	    "bearer tokens, one a line with an optional tenant (empty: none)" },
	{ "http-max-header", CONF_SIZE, CONF_OFF(c_http_max_header), 1024,
	    1ULL << 20, "16K", CONF_RELOAD_LIVE, NULL,
	    "largest request line and headers" },
	{ "http-max-body", CONF_SIZE, CONF_OFF(c_http_max_body), 1024,
	    1ULL << 34, "256M", CONF_RELOAD_LIVE, NULL,
	    "largest request body (a bulk upload)" },
	{ "http-timeout", CONF_DURATION, CONF_OFF(c_http_timeout_ms), 1000,
	    3600000, "30s", CONF_RELOAD_LIVE, NULL,
	    "idle or slow HTTP connections are closed after it" },
	{ "http-max-connections", CONF_INT, CONF_OFF(c_http_max_conns), 1,
	    100000, "512", CONF_RELOAD_LIVE, NULL,
	    "HTTP connections open at once" },
	{ "http-web-root", CONF_PATH, CONF_OFF(c_http_web), 0, 0,
	    QUIRE_WEBDIR, CONF_RELOAD_LIVE, NULL,
	    "directory of the dashboard page (empty: no dashboard)" },
	{ "search-peer", CONF_LIST, CONF_OFF(c_search_peers), 0, 0, "",
	    CONF_RELOAD_LIVE, NULL,
	    "HTTP address HOST:PORT of a quired that --all asks; repeat" },
	{ "search-peer-token-file", CONF_PATH, CONF_OFF(c_search_peer_token),
	    0, 0, "", CONF_RELOAD_LIVE, NULL,
	    "bearer token sent to search peers (empty: none)" },
	{ "search-peer-timeout", CONF_DURATION,
	    CONF_OFF(c_search_peer_timeout_ms), 100, 60000, "2s",
	    CONF_RELOAD_LIVE, NULL,
	    "time a search peer gets to answer each request" },
};

#define CONF_NOPTS	(sizeof(conf_opts) / sizeof(conf_opts[0]))

const struct conf_opt *
config_options(size_t *n)
{
	*n = CONF_NOPTS;
	return (conf_opts);
}

static int
config_set(struct quire_conf *c, const struct conf_opt *o, const char *val,
    char *err, size_t errlen)
{
	char		*p = (char *)c + o->o_off;
	const char	*errstr = NULL;
	long long	 ll;
	uint64_t	 u;
	double		 d;
	char		*end;
	int		 i;

	switch (o->o_type) {
	case CONF_INT:
		ll = strtonum(val, o->o_min, o->o_max, &errstr);
		if (errstr != NULL) {
			snprintf(err, errlen, "%s %s: %s (%llu to %llu)",
			    o->o_name, val, errstr,
			    (unsigned long long)o->o_min,
			    (unsigned long long)o->o_max);
			return (-1);
		}
		*(uint64_t *)p = ll;
		return (0);
	case CONF_DURATION:
	case CONF_SIZE:
		if ((o->o_type == CONF_DURATION ?
		    util_parse_duration(val, &u, &errstr) :
		    util_parse_size(val, &u, &errstr)) == -1) {
			snprintf(err, errlen, "%s %s: %s", o->o_name, val,
			    errstr);
			return (-1);
		}
		if (u < o->o_min || u > o->o_max) {
			snprintf(err, errlen, "%s %s: out of range", o->o_name,
			    val);
			return (-1);
		}
		*(uint64_t *)p = u;
		return (0);
	case CONF_BOOL:
		if (strcmp(val, "yes") == 0)
			*(uint64_t *)p = 1;
		else if (strcmp(val, "no") == 0)
			*(uint64_t *)p = 0;
		else {
			snprintf(err, errlen, "%s %s: say yes or no",
			    o->o_name, val);
			return (-1);
		}
		return (0);
	case CONF_MODE:
		errno = 0;
		u = strtoull(val, &end, 8);
		if (*val == '\0' || *end != '\0' || errno != 0 ||
		    u > o->o_max) {
			snprintf(err, errlen, "%s %s: not an octal mode",
			    o->o_name, val);
			return (-1);
		}
		*(uint64_t *)p = u;
		return (0);
	case CONF_ENUM:
		for (i = 0; o->o_values[i] != NULL; i++) {
			if (strcmp(val, o->o_values[i]) == 0) {
				*(uint64_t *)p = i;
				return (0);
			}
		}
		snprintf(err, errlen, "%s %s: unknown value", o->o_name, val);
		return (-1);
	case CONF_REAL:
		errno = 0;
		d = strtod(val, &end);
		if (*val == '\0' || *end != '\0' || errno != 0 ||
		    !(d >= o->o_min / 1000.0 && d <= o->o_max / 1000.0)) {
			snprintf(err, errlen, "%s %s: not a number from %g to "
			    "%g", o->o_name, val, o->o_min / 1000.0,
			    o->o_max / 1000.0);
			return (-1);
		}
		memcpy(p, &d, sizeof(d));
		return (0);
	case CONF_PATH:
		if (val[0] != '\0' && val[0] != '/') {
			snprintf(err, errlen, "%s %s: not an absolute path",
			    o->o_name, val);
			return (-1);
		}
		/* FALLTHROUGH */
	case CONF_STRING:
	case CONF_LIST:
		if (strlcpy(p, val, CONF_STR_MAX) >= CONF_STR_MAX) {
			snprintf(err, errlen, "%s: value too long", o->o_name);
			return (-1);
		}
		return (0);
	}
	return (-1);
}

void
config_defaults(struct quire_conf *c)
{
	char	 err[256];
	size_t	 i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CONF_NOPTS; i++)
		if (config_set(c, &conf_opts[i], conf_opts[i].o_default, err,
		    sizeof(err)) == -1)
			fatalx("%s: default: %s", __func__, err);
}

/* Every root is an absolute path; there is at least one. */
static int
config_roots_check(const char *roots, char *err, size_t errlen)
{
	const char	*p = roots, *end;
	size_t		 n = 0;

	while (*p != '\0') {
		end = p + strcspn(p, ":");
		if (end > p) {
			if (*p != '/') {
				snprintf(err, errlen, "roots: %.*s is not an "
				    "absolute path", (int)(end - p), p);
				return (-1);
			}
			n++;
		}
		p = *end == ':' ? end + 1 : end;
	}
	if (n == 0) {
		snprintf(err, errlen, "roots: no directory given");
		return (-1);
	}
	return (0);
}

/* A repeated line of a list option: its words go after the others. */
static int
config_append(struct quire_conf *c, const struct conf_opt *o,
    const char *val, char *err, size_t errlen)
{
	char	*p = (char *)c + o->o_off;

	/* An empty item ("") adds nothing, and the first needs no space. */
	if (*val == '\0')
		return (0);
	if ((*p != '\0' && strlcat(p, " ", CONF_STR_MAX) >= CONF_STR_MAX) ||
	    strlcat(p, val, CONF_STR_MAX) >= CONF_STR_MAX) {
		snprintf(err, errlen, "%s: value too long", o->o_name);
		return (-1);
	}
	return (0);
}

/*
 * A file of secrets (the option's, named opt) that only the service user
 * can read: a regular file, mode 0600 or stricter, owned by `user` (or
 * by whoever runs quired).
 */
static int
config_private_file(const struct quire_conf *c, const char *opt,
    const char *path, char *err, size_t errlen)
{
	struct passwd	*pw;
	struct stat	 st;
	uid_t		 uid = geteuid();

	if (c->c_user[0] != '\0' && (pw = getpwnam(c->c_user)) != NULL)
		uid = pw->pw_uid;
	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s %s: %s", opt, path, strerror(errno));
		return (-1);
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0 ||
	    st.st_uid != uid) {
		snprintf(err, errlen, "%s %s: must be a regular file of mode "
		    "0600 owned by uid %u", opt, path, (unsigned)uid);
		return (-1);
	}
	return (0);
}

/*
 * The HTTP addresses parse, and one off the loopback comes with a token
 * file that only the service user can read (config_private_file).
 */
static int
config_http_check(struct quire_conf *c, char *err, size_t errlen)
{
	struct listen_addr	 la[LISTEN_MAX];
	char			 pub[LISTEN_NAME_MAX];
	size_t			 n;

	if (listener_parse(c->c_listen, la, LISTEN_MAX, &n, err,
	    errlen) == -1)
		return (-1);
	if (c->c_http_tokens[0] == '\0') {
		if (listener_public(c->c_listen, pub, sizeof(pub)) != NULL) {
			snprintf(err, errlen, "listen %s: off the loopback, "
			    "http-token-file is required", pub);
			return (-1);
		}
		return (0);
	}
	return (config_private_file(c, "http-token-file", c->c_http_tokens,
	    err, errlen));
}

/*
 * The postgresql backend needs its connection string, and a password
 * file that is there and private.
 */
static int
config_queue_check(const struct quire_conf *c, char *err, size_t errlen)
{
	char	 dsn[sizeof(((struct queue_conf *)NULL)->qc_dsn)];

	if (c->c_queue_backend == 1 && c->c_queue_dsn[0] == '\0') {
		snprintf(err, errlen, "queue-backend postgresql needs "
		    "queue-dsn");
		return (-1);
	}
	if (strlen(c->c_host_name) > QUEUE_HOST_MAX ||
	    strpbrk(c->c_host_name, " \t") != NULL) {
		snprintf(err, errlen, "host-name: at most %d bytes, without "
		    "spaces", QUEUE_HOST_MAX);
		return (-1);
	}
	if (c->c_queue_dsn[0] == '\0' && c->c_queue_passfile[0] == '\0')
		return (0);
	if (config_queue_dsn(c, dsn, sizeof(dsn), err, errlen) == -1)
		return (-1);
	explicit_bzero(dsn, sizeof(dsn));
	return (0);
}

/*
 * The search peers parse, and their token file, like http-token-file,
 * is a regular file of mode 0600 or stricter owned by the service user.
 */
static int
config_peers_check(struct quire_conf *c, char *err, size_t errlen)
{
	struct fanout_peer	*fp;
	size_t			 n;

	fp = xcalloc(FANOUT_PEERS_MAX, sizeof(*fp));
	n = fanout_peers(c, NULL, fp, FANOUT_PEERS_MAX, err, errlen);
	free(fp);
	if (n == (size_t)-1)
		return (-1);
	if (c->c_search_peer_token[0] == '\0')
		return (0);
	return (config_private_file(c, "search-peer-token-file",
	    c->c_search_peer_token, err, errlen));
}

/* Checks across options, after the whole file is read. */
static int
config_check(struct quire_conf *c, char *err, size_t errlen)
{
	if (c->c_min_workers > c->c_max_workers) {
		snprintf(err, errlen, "min-workers %llu above max-workers %llu",
		    (unsigned long long)c->c_min_workers,
		    (unsigned long long)c->c_max_workers);
		return (-1);
	}
	if (c->c_workers > c->c_max_workers ||
	    c->c_workers < c->c_min_workers) {
		snprintf(err, errlen, "workers %llu outside min-workers %llu "
		    "and max-workers %llu", (unsigned long long)c->c_workers,
		    (unsigned long long)c->c_min_workers,
		    (unsigned long long)c->c_max_workers);
		return (-1);
	}
	if (c->c_heartbeat_ms * 2 > c->c_hang_ms) {
		snprintf(err, errlen, "hang-timeout must be at least twice "
		    "heartbeat-interval");
		return (-1);
	}
	if (c->c_hang_ms > c->c_lease_ms) {
		snprintf(err, errlen, "lease-time must be at least "
		    "hang-timeout");
		return (-1);
	}
	if (c->c_backoff_ms > c->c_backoff_max_ms) {
		snprintf(err, errlen, "backoff above backoff-max");
		return (-1);
	}
	if (c->c_datadir[0] == '\0' || c->c_pidfile[0] == '\0') {
		snprintf(err, errlen, "datadir and pidfile must not be empty");
		return (-1);
	}
	if (c->c_chunk_overlap * 2 > c->c_chunk_size) {
		snprintf(err, errlen, "chunk-overlap must be at most half of "
		    "chunk-size");
		return (-1);
	}
	if (!tokenizer_lang_ok(c->c_language)) {
		snprintf(err, errlen, "language %s: no stemmer for it",
		    c->c_language);
		return (-1);
	}
	if (config_roots_check(c->c_roots, err, errlen) == -1)
		return (-1);
	if (config_queue_check(c, err, errlen) == -1)
		return (-1);
	if (config_http_check(c, err, errlen) == -1 ||
	    config_peers_check(c, err, errlen) == -1)
		return (-1);
	if (c->c_user[0] != '\0' && getpwnam(c->c_user) == NULL) {
		snprintf(err, errlen, "user %s: no such user", c->c_user);
		return (-1);
	}
	if (c->c_group[0] != '\0' && getgrnam(c->c_group) == NULL) {
		snprintf(err, errlen, "group %s: no such group", c->c_group);
		return (-1);
	}
	if (c->c_control_group[0] != '\0' &&
	    getgrnam(c->c_control_group) == NULL) {
		snprintf(err, errlen, "control-socket-group %s: no such group",
		    c->c_control_group);
		return (-1);
	}
	return (0);
}

/*
 * Read a configuration from f (named name in messages) into c, which
 * holds the defaults or earlier choices.  On error, err holds
 * "name:line: message" and c may be half changed: load into a copy and
 * keep the old one on failure.  A value of "" is the empty string.
 */
int
config_parse(FILE *f, const char *name, struct quire_conf *c, char *err,
    size_t errlen)
{
	char		*line = NULL, *p, *key, *val, msg[CONF_STR_MAX + 256];
	unsigned char	 seen[CONF_NOPTS];
	size_t		 cap = 0, i, len;
	ssize_t		 n;
	int		 lineno = 0, rv = 0;

	memset(seen, 0, sizeof(seen));

	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if (n > 4096) {
			snprintf(err, errlen, "%s:%d: line too long", name,
			    lineno);
			rv = -1;
			break;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		len = strlen(line);
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			line[--len] = '\0';
		key = line + strspn(line, " \t");
		if (*key == '\0')
			continue;
		val = key + strcspn(key, " \t");
		if (*val != '\0') {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		if (*val == '\0') {
			snprintf(err, errlen, "%s:%d: %s: missing value", name,
			    lineno, key);
			rv = -1;
			break;
		}
		if (strcmp(val, "\"\"") == 0)
			val[0] = '\0';
		for (i = 0; i < CONF_NOPTS; i++)
			if (strcmp(key, conf_opts[i].o_name) == 0)
				break;
		if (i == CONF_NOPTS) {
			snprintf(err, errlen, "%s:%d: unknown option %s", name,
			    lineno, key);
			rv = -1;
			break;
		}
		if (conf_opts[i].o_type == CONF_LIST && seen[i] &&
		    config_append(c, &conf_opts[i], val, msg,
		    sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
			rv = -1;
			break;
		}
		if (conf_opts[i].o_type == CONF_LIST && seen[i])
			continue;
		seen[i] = 1;
		if (config_set(c, &conf_opts[i], val, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "%s:%d: %s", name, lineno, msg);
			rv = -1;
			break;
		}
	}
	if (rv == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		rv = -1;
	}
	free(line);
	if (rv == 0 && config_check(c, msg, sizeof(msg)) == -1) {
		snprintf(err, errlen, "%s: %s", name, msg);
		rv = -1;
	}
	return (rv);
}

/*
 * The whole file, bounded: a regular file only (a FIFO or a device such
 * as /dev/zero would block or never end; /dev/null is the empty file),
 * opened without blocking, at most CONF_FILE_MAX bytes, and no NUL byte
 * (not text).
 */
static char *
config_read(const char *path, size_t *lenp, char *err, size_t errlen)
{
	struct stat	 st;
	char		*text, *nul;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
	    == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == makedev(1, 3)) {
		close(fd);		/* /dev/null: the defaults */
		*lenp = 0;
		return (xcalloc(1, 1));
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONF_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "larger than 1M");
		close(fd);
		return (NULL);
	}
	text = xmalloc(st.st_size + 1);
	n = read(fd, text, st.st_size + 1);
	close(fd);
	if (n < 0 || n > st.st_size) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) :
		    "changed while read");
		free(text);
		return (NULL);
	}
	if ((nul = memchr(text, '\0', n)) != NULL) {
		snprintf(err, errlen, "%s:%zu: a NUL byte: not a text file",
		    path, config_lineno(text, nul));
		free(text);
		return (NULL);
	}
	*lenp = n;
	return (text);
}

/* The line number of p in text. */
static size_t
config_lineno(const char *text, const char *p)
{
	size_t	 n = 1;

	for (; text < p; text++)
		if (*text == '\n')
			n++;
	return (n);
}

/* Read the file at path; see config_parse. */
int
config_load(const char *path, struct quire_conf *c, char *err, size_t errlen)
{
	char	*text;
	size_t	 len;
	int	 rv;

	if ((text = config_read(path, &len, err, errlen)) == NULL)
		return (-1);
	rv = config_parse_text(text, len, path, c, err, errlen);
	free(text);
	return (rv);
}

/* config_parse over len bytes of text; none is the defaults. */
int
config_parse_text(const char *text, size_t len, const char *name,
    struct quire_conf *c, char *err, size_t errlen)
{
	FILE	*f;
	int	 rv;

	if (len == 0)
		return (0);
	if ((f = fmemopen((void *)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return (-1);
	}
	rv = config_parse(f, name, c, err, errlen);
	fclose(f);
	return (rv);
}

/* Copy option o from one configuration to another; 1 if that changed it. */
int
config_copy(struct quire_conf *to, const struct quire_conf *from,
    const struct conf_opt *o)
{
	char		*t = (char *)to + o->o_off;
	const char	*f = (const char *)from + o->o_off;

	if (o->o_type == CONF_STRING || o->o_type == CONF_PATH ||
	    o->o_type == CONF_LIST) {
		if (strcmp(t, f) == 0)
			return (0);
		strlcpy(t, f, CONF_STR_MAX);
		return (1);
	}
	/* Numbers are uint64_t, and CONF_REAL a double of the same size. */
	if (memcmp(t, f, sizeof(uint64_t)) == 0)
		return (0);
	memcpy(t, f, sizeof(uint64_t));
	return (1);
}

/* The option's value as the configuration file would write it. */
void
config_format(const struct quire_conf *c, const struct conf_opt *o,
    char *buf, size_t len)
{
	const char	*p = (const char *)c + o->o_off;
	uint64_t	 u;
	double		 d;

	if (o->o_type == CONF_STRING || o->o_type == CONF_PATH ||
	    o->o_type == CONF_LIST) {
		strlcpy(buf, p, len);
		return;
	}
	memcpy(&u, p, sizeof(u));
	switch (o->o_type) {
	case CONF_DURATION:
		util_format_duration(u, buf, len);
		break;
	case CONF_SIZE:
		util_format_size(u, buf, len);
		break;
	case CONF_BOOL:
		strlcpy(buf, u ? "yes" : "no", len);
		break;
	case CONF_MODE:
		snprintf(buf, len, "%04llo", (unsigned long long)u);
		break;
	case CONF_ENUM:
		strlcpy(buf, o->o_values[u], len);
		break;
	case CONF_REAL:
		memcpy(&d, p, sizeof(d));
		snprintf(buf, len, "%g", d);
		break;
	default:
		snprintf(buf, len, "%llu", (unsigned long long)u);
		break;
	}
}

/* Print every option and its value, as `quired -n -v` shows them. */
void
config_print(const struct quire_conf *c, FILE *f)
{
	char	 buf[CONF_STR_MAX];
	size_t	 i;

	for (i = 0; i < CONF_NOPTS; i++) {
		config_format(c, &conf_opts[i], buf, sizeof(buf));
		fprintf(f, "%s %s\n", conf_opts[i].o_name,
		    buf[0] != '\0' ? buf : "\"\"");
	}
}

#define CONF_PASSWORD_MAX	256	/* a password file's bytes */

/*
 * The password of queue-password-file: its first line, from a regular
 * file that only its owner may read or write (mode 0600 or stricter).
 */
static int
config_password(const char *path, char *pw, size_t len, char *err,
    size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
	    == -1) {
		snprintf(err, errlen, "queue-password-file %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "queue-password-file %s: not a regular "
		    "file", path);
		close(fd);
		return (-1);
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "queue-password-file %s: mode %04o lets "
		    "others read it: chmod 600", path,
		    (unsigned int)(st.st_mode & 07777));
		close(fd);
		return (-1);
	}
	n = read(fd, pw, len);
	close(fd);
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "queue-password-file %s: %s", path,
		    n < 0 ? strerror(errno) : "longer than 255 bytes");
		return (-1);
	}
	pw[n] = '\0';
	pw[strcspn(pw, "\r\n")] = '\0';
	return (0);
}

/*
 * The connection string of the postgresql backend: queue-dsn, and the
 * password of queue-password-file, if any, as libpq's password keyword
 * (quoted).  A password in queue-dsn itself is refused: the
 * configuration is readable by more than the daemon (quirectl -f).
 */
int
config_queue_dsn(const struct quire_conf *c, char *buf, size_t len,
    char *err, size_t errlen)
{
	char	 pw[CONF_PASSWORD_MAX], q[2 * CONF_PASSWORD_MAX + 16];
	size_t	 i, k = 0;

	buf[0] = '\0';
	if (strstr(c->c_queue_dsn, "password") != NULL) {
		snprintf(err, errlen, "queue-dsn must not hold the password: "
		    "use queue-password-file or PGPASSFILE");
		return (-1);
	}
	if (strlcpy(buf, c->c_queue_dsn, len) >= len) {
		snprintf(err, errlen, "queue-dsn too long");
		return (-1);
	}
	if (c->c_queue_passfile[0] == '\0')
		return (0);
	if (config_password(c->c_queue_passfile, pw, sizeof(pw), err,
	    errlen) == -1)
		return (-1);
	k = strlcpy(q, " password='", sizeof(q));
	for (i = 0; pw[i] != '\0'; i++) {
		if (pw[i] == '\'' || pw[i] == '\\')
			q[k++] = '\\';
		q[k++] = pw[i];
	}
	q[k++] = '\'';
	q[k] = '\0';
	explicit_bzero(pw, sizeof(pw));
	if (strlcat(buf, q, len) >= len) {
		explicit_bzero(q, sizeof(q));
		buf[0] = '\0';
		snprintf(err, errlen, "queue-dsn and the password too long");
		return (-1);
	}
	explicit_bzero(q, sizeof(q));
	return (0);
}

/* The queue's settings from the configuration. */
void
config_queue(const struct quire_conf *c, struct queue_conf *qc)
{
	char	 err[CONF_STR_MAX + 128];

	queue_conf_defaults(qc);
	qc->qc_max_attempts = c->c_max_attempts;
	qc->qc_max_crashes = c->c_max_crashes;
	qc->qc_backoff_ms = c->c_backoff_ms;
	qc->qc_backoff_max_ms = c->c_backoff_max_ms;
	qc->qc_lease_ms = c->c_lease_ms;
	qc->qc_aging_ms = c->c_aging_ms;
	qc->qc_claim_bytes = c->c_claim_bytes;
	qc->qc_big_bytes = c->c_big_bytes;
	qc->qc_big_inflight = c->c_big_inflight;
	qc->qc_fair_unit = c->c_fair_unit;
	qc->qc_retain_done = c->c_retain_done;
	qc->qc_retain_age_ms = c->c_retain_age_ms;
	qc->qc_mapsize = c->c_mapsize;
	qc->qc_sync = c->c_sync;
	qc->qc_backend = c->c_queue_backend == 1 ? QUEUE_BACKEND_PG :
	    QUEUE_BACKEND_LMDB;
	strlcpy(qc->qc_host, c->c_host_name, sizeof(qc->qc_host));
	if (config_queue_dsn(c, qc->qc_dsn, sizeof(qc->qc_dsn), err,
	    sizeof(err)) == -1)
		log_warnx("%s: %s", __func__, err);
}

/* Where the admin socket is: its own option, or in the data directory. */
void
config_control_path(const struct quire_conf *c, char *buf, size_t len)
{
	if (c->c_control[0] != '\0')
		strlcpy(buf, c->c_control, len);
	else
		snprintf(buf, len, "%s/control.sock", c->c_datadir);
}
