/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl: administer quire.  The commands here work directly on a data
 * directory (-D): LMDB is safe for several processes, so they run beside
 * a live daemon or without one.
 */

#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "quire.h"

struct ctl_cmd {
	const char	*c_name;
	const char	*c_usage;
	int		 (*c_fn)(int, char **);
	const char	*c_help;	/* what it does, for help COMMAND */
};

static int	 ctl_submit(int, char **);
static int	 ctl_jobs(int, char **);
static int	 ctl_job(int, char **);
static int	 ctl_retry(int, char **);
static int	 ctl_cancel(int, char **);
static int	 ctl_purge(int, char **);
static int	 ctl_status(int, char **);
static int	 ctl_top(int, char **);
static int	 ctl_workers(int, char **);
static int	 ctl_metrics(int, char **);
static int	 ctl_scale(int, char **);
static int	 ctl_simple(int, char **);
static int	 ctl_search(int, char **);
static int	 ctl_delete(int, char **);
static int	 ctl_check(int, char **);
static int	 ctl_compact(int, char **);
static int	 ctl_ingest(int, char **);
static int	 ctl_db(int, char **);
static int	 ctl_hosts(int, char **);
static int	 ctl_host(int, char **);
static int	 ctl_help(int, char **);
static int	 ctl_daemon(int, uint64_t, const char *, int);
static int	 ctl_ask(int, uint64_t, const char *, struct buf *, char *,
		    size_t);
static void	 ctl_socket_path(char *, size_t);
static int	 ctl_cancel_daemon(const char *, uint64_t);

static const struct ctl_cmd ctl_cmds[] = {
	{ "submit", "submit [--tenant T] [--priority N] [--key K] "
	    "[--language L] [--split SIZE] [--include GLOB] [--exclude GLOB] "
	    "[--ndjson FILE] [--debug CMD [--count N]] "
	    "[--follow [--token-file FILE]] [PATH ...] | "
	    "--stdin [--id ID] [--title T] [--type MIME] [--ndjson]",
	    ctl_submit,
	    "Enqueue files, directories, NDJSON files cut into byte ranges,\n"
	    "or debug commands; print the job id, or counts.  --stdin spools\n"
	    "standard input as one uploaded document (or, with --ndjson, as\n"
	    "an NDJSON bulk, refused with the numbers of its bad lines).\n"
	    "--follow shows their progress until they end (the daemon's event\n"
	    "stream, or the queue) and exits 1 if any became a dead letter or\n"
	    "was cancelled." },
	{ "jobs", "jobs [--state S] [--limit N] [--json]", ctl_jobs,
	    "List jobs, oldest first, optionally in one state." },
	{ "job", "job [--json] ID", ctl_job,
	    "Show one job." },
	{ "retry", "retry ID | --dead", ctl_retry,
	    "Make a dead or retrying job ready, or every dead letter." },
	{ "cancel", "cancel ID", ctl_cancel,
	    "Cancel a job; through the daemon, a running one stops at "
	    "once." },
	{ "purge", "purge --done | --dead [--older-than DURATION] "
	    "[--keep N]", ctl_purge,
	    "Remove finished or dead jobs, by age or beyond a count." },
	{ "status", "status [--json]", ctl_status,
	    "Show job counts, the index and, from the daemon, the fleet\n"
	    "and the hosts of a shared queue.\n"
	    "Exits 4 when no daemon answers and only the queue is shown." },
	{ "top", "top [-d SECONDS] [-n COUNT]", ctl_top,
	    "Follow the fleet, its memory and the queue live." },
	{ "workers", "workers [--json]", ctl_workers,
	    "List the daemon's workers." },
	{ "metrics", "metrics", ctl_metrics,
	    "Print the daemon's metrics in the Prometheus text format, as\n"
	    "the HTTP API serves them at /metrics." },
	{ "scale", "scale N", ctl_scale,
	    "Set the daemon's target number of workers." },
	{ "drain", "drain", ctl_simple,
	    "Stop the daemon gently: running jobs finish first." },
	{ "reload", "reload", ctl_simple,
	    "Make the daemon read its configuration again." },
	{ "stop", "stop", ctl_simple,
	    "Stop the daemon now." },
	{ "search", "search [--json] [--exact] [--chunks] [--no-typos] [-n N] "
	    "[--offset N] [--filter K=V] [--facet FIELD] [--facet-size N] "
	    "[--all] [--] QUERY", ctl_search,
	    "Search the index (BM25 over title and text, then the first\n"
	    "hits by proximity and exact forms): \"phrases\", prefix*,\n"
	    "+word, -word, AND, OR and NOT in capitals.  Each document once,\n"
	    "or with --chunks the best chunks; --facet counts a field's values.\n"
	    "A word that matches nothing or very little is corrected (one\n"
	    "edit, two for long words) unless --no-typos.\n"
	    "--all searches this host and, at once, the live hosts of a\n"
	    "shared queue and every search-peer, scored with statistics\n"
	    "summed over all, without typo correction." },
	{ "delete", "delete EXTID", ctl_delete,
	    "Delete a document from the index by its external id." },
	{ "check", "check", ctl_check,
	    "Check the index; exit 1 if damaged, 3 if it cannot be read." },
	{ "compact", "compact [--shrink]", ctl_compact,
	    "Fold the whole index into blocks now; --shrink (quired stopped)\n"
	    "then gives the index's free pages back to the file system, and\n"
	    "numbers its chunks again when their ids run short." },
	{ "ingest", "ingest [-w N] [--tenant T] [--priority N] [--language L] "
	    "[--include GLOB] [--exclude GLOB] [--token-file FILE] "
	    "[submit's options] PATH ...",
	    ctl_ingest,
	    "Submit and follow the jobs to their end, with a progress line,\n"
	    "and a foreground fleet of -w workers when no daemon runs." },
	{ "db", "db init | migrate", ctl_db,
	    "The postgresql queue backend's schema, in the database of the\n"
	    "configuration's queue-dsn (-f CONF): init creates it (refused\n"
	    "when there is one), migrate brings it up to this quire's\n"
	    "version and says from which to which." },
	{ "hosts", "hosts [--json]", ctl_hosts,
	    "The hosts that share the postgresql queue (-f CONF): each with\n"
	    "its state (live, dead past host-expiry, or stopped), the age of\n"
	    "its last heartbeat, the jobs it holds, the documents whose\n"
	    "home it is, whether it drains, and its HTTP address." },
	{ "host", "host drain | undrain NAME", ctl_host,
	    "drain: move the documents of host NAME of the postgresql queue\n"
	    "to the other hosts, from the chunks its index stores, and leave\n"
	    "it drained: it claims no job any more.  Run with NAME's\n"
	    "configuration (-f CONF) and data directory, whether its quired\n"
	    "runs or not; run again, it goes on where it was.  undrain: a\n"
	    "drained host claims jobs again (with any host's configuration)." },
	{ "help", "help [COMMAND]", ctl_help,
	    "Show the commands, or what one does and its options." },
};

static const char	*ctl_datadir = QUIRE_DATADIR;
static const char	*ctl_socket;
static const char	*ctl_conffile;
static struct quire_conf ctl_conf;
static struct index	 ctl_index;
static int		 ctl_index_open;
static struct queue	 ctl_queue;
static int		 ctl_queue_open;

#define CTL_NCMDS	(sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

/* The usage, and the commands: to stdout when asked for, else stderr. */
static void
ctl_print_usage(FILE *f)
{
	size_t	 i;

	fprintf(f, "usage: %s [-hv] [--help] [--version] [-D datadir] "
	    "[-f file] [-s socket] command [args]\n", getprogname());
	fprintf(f, "commands:\n");
	for (i = 0; i < CTL_NCMDS; i++)
		fprintf(f, "\t%s\n", ctl_cmds[i].c_usage);
}

static __dead void
usage(void)
{
	ctl_print_usage(stderr);
	exit(CTL_EXIT_USAGE);
}

static const struct ctl_cmd *
ctl_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < CTL_NCMDS; i++)
		if (strcmp(ctl_cmds[i].c_name, name) == 0)
			return (&ctl_cmds[i]);
	return (NULL);
}

static __dead void
ctl_usage(const char *name)
{
	const struct ctl_cmd	*c;

	if ((c = ctl_find(name)) != NULL)
		fprintf(stderr, "usage: %s %s\n", getprogname(), c->c_usage);
	exit(CTL_EXIT_USAGE);
}

/* help [COMMAND], and COMMAND -h or --help: on stdout, exit 0. */
static int
ctl_help(int argc, char **argv)
{
	const struct ctl_cmd	*c;

	if (argc == 1) {
		ctl_print_usage(stdout);
		return (CTL_EXIT_OK);
	}
	if (argc != 2)
		ctl_usage("help");
	if ((c = ctl_find(argv[1])) == NULL) {
		warnx("unknown command: %s", argv[1]);
		usage();
	}
	printf("usage: %s %s\n\n%s\n\nSee quirectl(8) for more.\n",
	    getprogname(), c->c_usage, c->c_help);
	return (CTL_EXIT_OK);
}

/*
 * Whether this user may open the queue or the index (env): LMDB opens
 * its files for writing even to read, so a member of the daemon's group
 * who may read them cannot.  0, or -1 with errno (EACCES).
 */
static int
ctl_env_access(const char *env)
{
	static const char	*files[] = { "", "/data.mdb", "/lock.mdb" };
	char			 path[PATH_MAX];
	size_t			 i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s%s", ctl_datadir, env,
		    files[i]);
		if (access(path, R_OK | W_OK) == -1 && errno != ENOENT)
			return (-1);
	}
	return (0);
}

static __dead void
ctl_queue_denied(void)
{
	errx(CTL_EXIT_FAIL, "%s/queue: Permission denied (the daemon's "
	    "group reads it through the daemon, when it runs)", ctl_datadir);
}

/* -1 when this user may not open the queue, for lack of permission. */
static int
ctl_queue_readable(void)
{
	struct stat	 st;
	char		 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/queue/data.mdb", ctl_datadir);
	if (stat(path, &st) == -1)
		return (errno == EACCES ? -1 : 0);
	if (ctl_env_access("queue") == -1 && errno == EACCES)
		return (-1);
	return (0);
}

/* Absent is one thing; a permission or I/O error is another. */
static int
ctl_queue_exists(void)
{
	struct stat	 st;
	char		 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/queue/data.mdb", ctl_datadir);
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			errx(CTL_EXIT_FAIL, "%s: no queue in this data "
			    "directory", ctl_datadir);
		err(CTL_EXIT_FAIL, "%s", path);
	}
	return (1);
}

static void	 ctl_config_read(void);

/*
 * The queue: LMDB in the data directory, or, when the configuration
 * (-f, else /etc/quire/quired.conf) says queue-backend postgresql, the
 * database of its queue-dsn, which every host of it shares.
 */
static struct queue *
ctl_open(int create)
{
	struct queue_conf	 qc;

	if (ctl_queue_open)
		return (&ctl_queue);
	ctl_config_read();
	if (ctl_conf.c_queue_backend == QUEUE_BACKEND_PG) {
		config_queue(&ctl_conf, &qc);
		if (queue_open(&ctl_queue, ctl_datadir, &qc) == -1)
			errx(CTL_EXIT_FAIL, "cannot open the queue on "
			    "PostgreSQL (queue-dsn %s)", ctl_conf.c_queue_dsn);
		ctl_queue_open = 1;
		return (&ctl_queue);
	}
	if (!create)
		ctl_queue_exists();
	if (ctl_env_access("queue") == -1 && errno == EACCES)
		ctl_queue_denied();
	if (queue_open(&ctl_queue, ctl_datadir, NULL) == -1)
		errx(CTL_EXIT_FAIL, "%s: cannot open the queue", ctl_datadir);
	ctl_queue_open = 1;
	return (&ctl_queue);
}

/*
 * The daemon's configuration (-f, else /etc/quire/quired.conf if there is
 * one), for the data directory, language, BM25 and limits.  Read once.
 */
static void
ctl_config_read(void)
{
	static int	 done;
	struct stat	 st;
	char		 err[CONF_STR_MAX + 256];
	const char	*path = ctl_conffile;

	if (done)
		return;
	done = 1;
	config_defaults(&ctl_conf);
	if (path == NULL && stat(QUIRE_CONFFILE, &st) == 0)
		path = QUIRE_CONFFILE;
	if (path != NULL && config_load(path, &ctl_conf, err, sizeof(err))
	    == -1)
		errx(CTL_EXIT_FAIL, "%s", err);
}

/* The configuration, on the data directory quirectl works on. */
static void
ctl_config(void)
{
	ctl_config_read();
	strlcpy(ctl_conf.c_datadir, ctl_datadir, sizeof(ctl_conf.c_datadir));
}

/* The index, or exit with status when it cannot be opened. */
static struct index *
ctl_index_get_or(int status)
{
	struct stat	 st;
	char		 path[PATH_MAX];

	if (ctl_index_open)
		return (&ctl_index);
	snprintf(path, sizeof(path), "%s/index/data.mdb", ctl_datadir);
	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			errx(status, "%s: no index in this data directory",
			    ctl_datadir);
		err(status, "%s", path);
	}
	if (ctl_env_access("index") == -1 && errno == EACCES)
		errx(status, "%s/index: Permission denied", ctl_datadir);
	if (index_open(&ctl_index, ctl_datadir, 0, STORE_SYNC_FULL) == -1)
		errx(status, "%s: cannot open the index", ctl_datadir);
	ctl_index_open = 1;
	return (&ctl_index);
}

static struct index *
ctl_index_get(void)
{
	return (ctl_index_get_or(CTL_EXIT_FAIL));
}

/* The index's counts, all zero when there is no index yet. */
static void
ctl_index_stats(struct ixstats *st)
{
	struct stat	 sb;
	char		 path[PATH_MAX];

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/index/data.mdb", ctl_datadir);
	if (!ctl_index_open && stat(path, &sb) == -1)
		return;
	if (index_stats(ctl_index_get(), st) == -1)
		memset(st, 0, sizeof(*st));
}

static uint64_t
ctl_id(const char *s)
{
	const char	*errstr;
	long long	 id;

	id = strtonum(s, 1, LLONG_MAX, &errstr);
	if (errstr != NULL)
		errx(CTL_EXIT_USAGE, "job id %s: %s", s, errstr);
	return ((uint64_t)id);
}

static void
ctl_time(uint64_t ms, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = ms / 1000;

	if (ms == 0) {
		strlcpy(buf, "-", len);
		return;
	}
	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
ctl_job_json(FILE *f, const struct job *j)
{
	struct buf	 b;

	buf_init(&b);
	show_job_json(&b, j);
	fwrite(b.b_data, 1, b.b_len, f);
	buf_free(&b);
}

/*
 * submit and ingest take the same options (ingest adds -w) and enqueue
 * the same way: one parser, one way to build the batch, one enqueue.
 */
#define CTL_PATTERNS_MAX	64
#define CTL_NDJSON_MAX		256
#define CTL_ENQUEUE_SLICE	10000	/* jobs per transaction */

struct ctl_add {
	struct submit_opts	 ca_so;
	struct submit_upload	 ca_su;		/* --id, --title, --type */
	int			 ca_stdin;
	int			 ca_stdin_ndjson;
	const char		*ca_ndjson[CTL_NDJSON_MAX];
	size_t			 ca_nndjson;
	const char		*ca_include[CTL_PATTERNS_MAX];
	const char		*ca_exclude[CTL_PATTERNS_MAX];
	const char		*ca_debug;
	const char		*ca_token_file;	/* for the event stream */
	int			 ca_follow;
	long long		 ca_count;
	long long		 ca_workers;
	char			**ca_paths;
	size_t			 ca_npaths;
};

/*
 * The arguments of submit --stdin, as parsed (ctl_add_args); volatile,
 * so that the store is kept and the copy stays reachable until exit.
 */
static char	** volatile ctl_argv;

/*
 * With --stdin, a bare --ndjson says standard input is NDJSON: it is
 * rewritten --ndjson=- in a copy of argv (libbsd's setproctitle keeps
 * the strings of the real argv, and one replaced there would be lost).
 */
static char **
ctl_add_stdin(int argc, char **argv, struct ctl_add *ca)
{
	static char	 ndjson_stdin[] = "--ndjson=-";
	char		**copy;
	int		 i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--stdin") == 0)
			ca->ca_stdin = 1;
	if (!ca->ca_stdin)
		return (argv);
	copy = xreallocarray(NULL, argc + 1, sizeof(*copy));
	memcpy(copy, argv, (argc + 1) * sizeof(*copy));
	ctl_argv = copy;
	for (i = 1; i < argc; i++)
		if (strcmp(copy[i], "--ndjson") == 0 &&
		    (i + 1 == argc || copy[i + 1][0] == '-'))
			copy[i] = ndjson_stdin;
	return (copy);
}

/* One option of submit or ingest. */
static void
ctl_add_opt(const char *cmd, int ch, int ingest, struct ctl_add *ca)
{
	struct submit_opts	*so = &ca->ca_so;
	const char		*errstr;

	switch (ch) {
	case 'F':
		if (ingest)
			ctl_usage(cmd);
		ca->ca_follow = 1;
		break;
	case 'A':
		ca->ca_token_file = optarg;
		break;
	case 'w':
		ca->ca_workers = strtonum(optarg, 1, QUIRE_WORKERS_MAX,
		    &errstr);
		if (errstr != NULL)
			errx(CTL_EXIT_USAGE, "-w %s: %s", optarg,
			    errstr);
		break;
	case 't':
		if (strlen(optarg) > JOB_TENANT_MAX)
			errx(CTL_EXIT_USAGE, "tenant name too long "
			    "(%d bytes at most)", JOB_TENANT_MAX);
		so->so_tenant = optarg;
		break;
	case 'p':
		so->so_prio = strtonum(optarg, JOB_PRIO_MIN,
		    JOB_PRIO_MAX, &errstr);
		if (errstr != NULL)
			errx(CTL_EXIT_USAGE, "priority %s: %s "
			    "(%d to %d)", optarg, errstr,
			    JOB_PRIO_MIN, JOB_PRIO_MAX);
		break;
	case 'k':
		if (strlen(optarg) > JOB_KEY_MAX)
			errx(CTL_EXIT_USAGE, "key too long "
			    "(%d bytes at most)", JOB_KEY_MAX);
		so->so_key = optarg;
		break;
	case 'l':
		if (!tokenizer_lang_ok(optarg))
			errx(CTL_EXIT_USAGE, "language %s: no stemmer",
			    optarg);
		so->so_lang = optarg;
		break;
	case 'S':
		if (ingest)
			ctl_usage(cmd);
		break;
	case 'I':
		if (ingest || strlen(optarg) == 0 ||
		    strlen(optarg) > JOB_EXTID_MAX)
			errx(CTL_EXIT_USAGE, "--id: 1 to %d bytes, "
			    "with --stdin", JOB_EXTID_MAX);
		ca->ca_su.su_id = optarg;
		break;
	case 'T':
		if (ingest || strlen(optarg) > JOB_TITLE_MAX)
			errx(CTL_EXIT_USAGE, "--title: %d bytes at "
			    "most, with --stdin", JOB_TITLE_MAX);
		ca->ca_su.su_title = optarg;
		break;
	case 'M':
		if (ingest || strlen(optarg) > JOB_CTYPE_MAX ||
		    extract_type_mime(optarg) == -1)
			errx(CTL_EXIT_USAGE, "--type %s: not a content "
			    "type quire reads (see quirectl(8))",
			    optarg);
		ca->ca_su.su_ctype = optarg;
		break;
	case 'j':
		if (ca->ca_stdin && strcmp(optarg, "-") == 0) {
			ca->ca_stdin_ndjson = 1;
			break;
		}
		if (ca->ca_nndjson == CTL_NDJSON_MAX)
			errx(CTL_EXIT_USAGE, "too many --ndjson");
		ca->ca_ndjson[ca->ca_nndjson++] = optarg;
		break;
	case 's':
		if (util_parse_size(optarg, &so->so_split, &errstr)
		    == -1 || so->so_split < 4096)
			errx(CTL_EXIT_USAGE, "split %s: %s", optarg,
			    errstr != NULL ? errstr :
			    "4K at least");
		break;
	case 'g':
		ca->ca_debug = optarg;
		break;
	case 'c':
		ca->ca_count = strtonum(optarg, 1, 10000000, &errstr);
		if (errstr != NULL)
			errx(CTL_EXIT_USAGE, "count %s: %s", optarg,
			    errstr);
		break;
	case 'i':
	case 'x':
		if ((ch == 'i' ? so->so_ninclude : so->so_nexclude) ==
		    CTL_PATTERNS_MAX)
			errx(CTL_EXIT_USAGE, "more than %d patterns",
			    CTL_PATTERNS_MAX);
		if (ch == 'i')
			ca->ca_include[so->so_ninclude++] = optarg;
		else
			ca->ca_exclude[so->so_nexclude++] = optarg;
		break;
	default:
		ctl_usage(cmd);
	}
}

/* What the options say together. */
static void
ctl_add_check(const char *cmd, struct ctl_add *ca)
{
	struct submit_opts	*so = &ca->ca_so;

	if (ca->ca_stdin) {
		if (ca->ca_npaths != 0 || ca->ca_nndjson != 0 ||
		    ca->ca_debug != NULL)
			errx(CTL_EXIT_USAGE, "--stdin takes no files, "
			    "--ndjson FILE or --debug");
		if (ca->ca_stdin_ndjson && (ca->ca_su.su_id != NULL ||
		    ca->ca_su.su_title != NULL || ca->ca_su.su_ctype != NULL))
			errx(CTL_EXIT_USAGE, "--id, --title and --type name "
			    "one document, not an NDJSON bulk");
		return;
	}
	if (ca->ca_su.su_id != NULL || ca->ca_su.su_title != NULL ||
	    ca->ca_su.su_ctype != NULL)
		errx(CTL_EXIT_USAGE, "--id, --title and --type go with "
		    "--stdin");
	if (ca->ca_npaths == 0 && ca->ca_nndjson == 0 && ca->ca_debug == NULL)
		ctl_usage(cmd);
	if (so->so_key != NULL && ca->ca_npaths + ca->ca_nndjson +
	    (ca->ca_debug != NULL) != 1)
		errx(CTL_EXIT_USAGE, "--key names one submission");
	if (so->so_key != NULL && ca->ca_count > 1)
		errx(CTL_EXIT_USAGE, "--key names one job, not --count");
}

static void
ctl_add_args(const char *cmd, int argc, char **argv, struct ctl_add *ca)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "priority", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "language", required_argument, NULL, 'l' },
		{ "ndjson", required_argument, NULL, 'j' },
		{ "split", required_argument, NULL, 's' },
		{ "debug", required_argument, NULL, 'g' },
		{ "count", required_argument, NULL, 'c' },
		{ "include", required_argument, NULL, 'i' },
		{ "exclude", required_argument, NULL, 'x' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "id", required_argument, NULL, 'I' },
		{ "title", required_argument, NULL, 'T' },
		{ "type", required_argument, NULL, 'M' },
		{ "follow", no_argument, NULL, 'F' },
		{ "token-file", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct submit_opts	*so = &ca->ca_so;
	int			 ch, ingest = strcmp(cmd, "ingest") == 0;

	memset(ca, 0, sizeof(*ca));
	if (!ingest)
		argv = ctl_add_stdin(argc, argv, ca);
	so->so_prio = JOB_PRIO_DEFAULT;
	so->so_split = SUBMIT_SPLIT_DEFAULT;
	so->so_include = ca->ca_include;
	so->so_exclude = ca->ca_exclude;
	ca->ca_count = 1;
	ca->ca_workers = 2;
	while ((ch = getopt_long(argc, argv, ingest ?
	    "w:t:p:k:l:j:s:g:c:i:x:" : "t:p:k:l:j:s:g:c:i:x:", opts, NULL))
	    != -1)
		ctl_add_opt(cmd, ch, ingest, ca);
	ca->ca_paths = argv + optind;
	ca->ca_npaths = argc - optind;
	ctl_add_check(cmd, ca);
}

/*
 * The batch of what ca names.  With ndjson_names, a path ending in
 * .ndjson or .jsonl is cut into ranges as --ndjson is.  -1 when a path
 * cannot be taken (said on stderr).
 */
static int
ctl_add_batch(struct ctl_add *ca, int ndjson_names, struct submit_batch *sb)
{
	const struct submit_opts *so = &ca->ca_so;
	const char		*ext;
	long long		 count = ca->ca_count;
	size_t			 i;
	int			 fail = 0, rc;

	submit_init(sb);
	while (ca->ca_debug != NULL && count-- > 0)
		if (submit_add_debug(sb, ca->ca_debug, so) == -1)
			fail = 1;
	for (i = 0; i < ca->ca_npaths; i++) {
		ext = strrchr(ca->ca_paths[i], '.');
		if (ndjson_names && ext != NULL &&
		    (strcmp(ext, ".ndjson") == 0 || strcmp(ext, ".jsonl") == 0))
			rc = submit_add_ndjson(sb, ca->ca_paths[i], so);
		else
			rc = submit_add_path(sb, ca->ca_paths[i], so);
		if (rc == -1)
			fail = 1;
	}
	for (i = 0; i < ca->ca_nndjson; i++)
		if (submit_add_ndjson(sb, ca->ca_ndjson[i], so) == -1)
			fail = 1;
	return (fail ? -1 : 0);
}

/* Enqueue the batch, thousands of jobs per transaction. */
static void
ctl_enqueue(struct queue *q, struct submit_batch *sb)
{
	size_t	 i, n;
	int	 rc;

	for (i = 0; i < sb->sb_n; i += n) {
		n = sb->sb_n - i < CTL_ENQUEUE_SLICE ? sb->sb_n - i :
		    CTL_ENQUEUE_SLICE;
		if ((rc = queue_enqueue(q, sb->sb_jobs + i, n)) != 0) {
			/* Earlier slices are committed: say which. */
			if (i > 0)
				warnx("enqueue: the first %zu of %zu jobs were "
				    "taken (ids %llu to %llu); the rest were not",
				    i, sb->sb_n,
				    (unsigned long long)sb->sb_jobs[0].qn_id,
				    (unsigned long long)sb->sb_jobs[i - 1].qn_id);
			submit_free(sb);
			errx(CTL_EXIT_FAIL, "enqueue: %s", queue_strerror(rc));
		}
	}
}

/* Why a spool write failed, in words. */
static const char *
ctl_spool_strerror(const struct spool_writer *sw, int rv, uint64_t max,
    const char *limit)
{
	static char	 msg[256];
	char		 size[32];

	switch (rv) {
	case SPOOL_ETOOBIG:
		util_format_size(max, size, sizeof(size));
		snprintf(msg, sizeof(msg), "standard input is larger than "
		    "%s %s", limit, size);
		break;
	case SPOOL_EREAD:
		snprintf(msg, sizeof(msg), "standard input: %s",
		    strerror(sw->sw_errno));
		break;
	case SPOOL_EFAULT:
		snprintf(msg, sizeof(msg), "%s/%s: storage %s: %s",
		    ctl_datadir, SPOOL_DIR, store_fault_name(sw->sw_fault),
		    strerror(sw->sw_errno));
		break;
	default:
		snprintf(msg, sizeof(msg), "%s/%s: %s", ctl_datadir,
		    SPOOL_DIR, util_open_strerror(sw->sw_errno));
		break;
	}
	return (msg);
}

/* Read all of standard input, at most max bytes, or exit. */
static void
ctl_read_stdin(struct buf *b, uint64_t max)
{
	char	 chunk[65536], size[32];
	ssize_t	 n;

	buf_init(b);
	for (;;) {
		if ((n = read(STDIN_FILENO, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			err(CTL_EXIT_FAIL, "standard input");
		}
		if (n == 0)
			break;
		if ((uint64_t)n > max - b->b_len) {
			util_format_size(max, size, sizeof(size));
			errx(CTL_EXIT_FAIL, "standard input is larger than "
			    "max-bulk-size %s; nothing submitted", size);
		}
		buf_add(b, chunk, n);
	}
}

#define CTL_BAD_LINES_MAX	100	/* line numbers an NDJSON refusal names */

/*
 * Spool an NDJSON bulk from standard input, once every record in it
 * passes as a worker would read it; else exit 1 with the bad lines.
 */
static void
ctl_stdin_ndjson(struct ctl_add *ca, struct spool_writer *sw,
    struct submit_batch *sb)
{
	struct extract_conf	 xc;
	struct buf		 body;
	uint64_t		 lines[CTL_BAD_LINES_MAX];
	size_t			 nbad, i;
	int			 rv;

	ctl_read_stdin(&body, ctl_conf.c_max_bulk);
	if (body.b_len == 0)
		errx(CTL_EXIT_FAIL, "standard input is empty; nothing "
		    "submitted");
	extract_conf_from(&ctl_conf, &xc);
	if ((nbad = extract_ndjson_check(&xc, body.b_data, body.b_len, lines,
	    CTL_BAD_LINES_MAX)) > 0) {
		fprintf(stderr, "%s: %zu malformed NDJSON record%s; nothing "
		    "submitted; line%s", getprogname(), nbad,
		    nbad == 1 ? "" : "s", nbad == 1 ? "" : "s");
		for (i = 0; i < nbad && i < CTL_BAD_LINES_MAX; i++)
			fprintf(stderr, " %llu", (unsigned long long)lines[i]);
		fprintf(stderr, "%s\n", nbad > CTL_BAD_LINES_MAX ? " ..." : "");
		exit(CTL_EXIT_FAIL);
	}
	if ((rv = spool_put(sw, ctl_datadir, body.b_data, body.b_len,
	    ctl_conf.c_max_bulk)) != SPOOL_OK)
		errx(CTL_EXIT_FAIL, "%s; nothing submitted",
		    ctl_spool_strerror(sw, rv, ctl_conf.c_max_bulk,
		    "max-bulk-size"));
	buf_free(&body);
	if (submit_add_spool_ndjson(sb, ctl_datadir, sw->sw_name,
	    &ca->ca_so) == -1) {
		(void)spool_unlink(ctl_datadir, sw->sw_name);
		errx(CTL_EXIT_FAIL, "nothing submitted");
	}
}

/*
 * submit --stdin: standard input into the spool (fsynced), then its job
 * or jobs.  A body that no new job names (its key was known, or the
 * enqueue failed) is removed again.
 */
static void
ctl_submit_stdin(struct ctl_add *ca, struct submit_batch *sb)
{
	struct spool_writer	 sw;
	struct queue		*q;
	int			 rv;

	ctl_config();
	q = ctl_open(1);
	submit_init(sb);
	if (ca->ca_stdin_ndjson)
		ctl_stdin_ndjson(ca, &sw, sb);
	else {
		if ((rv = spool_put_fd(&sw, ctl_datadir, STDIN_FILENO,
		    ctl_conf.c_max_size)) != SPOOL_OK)
			errx(CTL_EXIT_FAIL, "%s; nothing submitted",
			    ctl_spool_strerror(&sw, rv, ctl_conf.c_max_size,
			    "max-document-size"));
		if (sw.sw_len == 0) {
			(void)spool_unlink(ctl_datadir, sw.sw_name);
			errx(CTL_EXIT_FAIL, "standard input is empty; nothing "
			    "submitted");
		}
		if (submit_add_spool(sb, sw.sw_name, sw.sw_len, &ca->ca_su,
		    &ca->ca_so) == -1) {
			(void)spool_unlink(ctl_datadir, sw.sw_name);
			errx(CTL_EXIT_FAIL, "nothing submitted");
		}
	}
	/* One transaction: every range of a bulk is taken, or none. */
	if ((rv = submit_enqueue_spool(q, sb, ctl_datadir, sw.sw_name)) != 0)
		errx(CTL_EXIT_FAIL, "enqueue: %s; nothing submitted",
		    queue_strerror(rv));
}

/*
 * Following jobs to their end (submit --follow, ingest): the daemon's
 * event stream or the queue (follow.c), drawn by progress.c.
 */
#define CTL_TOKEN_MAX		256
#define CTL_FLEET_WAIT_MS	10000	/* an ingest's fleet must answer in */
#define CTL_FLEET_LOOK_MS	10	/* looked for this often */

static volatile sig_atomic_t	 ctl_stop;
static char			 ctl_follow_sock[PATH_MAX];

static void
ctl_stop_signal(int sig)
{
	ctl_stop = 1;
}

/* Ctrl-C, TERM and HUP stop the following, not the jobs. */
static void
ctl_stop_catch(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ctl_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/*
 * Documents the index has been written, and chunks into *chunks: new
 * ones and changed versions (a document submitted again unchanged is
 * not written again), deleted ones included; 0 when it cannot be read.
 * What a follow counts from, so that changed documents count as the
 * new ones do.
 */
static uint64_t
ctl_index_written(uint64_t *chunks)
{
	struct ixstats	 st;

	*chunks = 0;
	if (!ctl_index_open && ctl_env_access("index") == -1 &&
	    errno == EACCES)
		return (0);
	ctl_index_stats(&st);
	*chunks = st.is_next_cid > 0 ? st.is_next_cid - 1 : 0;
	return (st.is_next_docid > 0 ? st.is_next_docid - 1 : 0);
}

/* The API's token: --token-file's first word, else QUIRE_TOKEN. */
static int
ctl_token(const char *file, char *buf, size_t len)
{
	const char	*env;
	char		 line[512], *tok = NULL;
	FILE		*f;

	if (file == NULL) {
		if ((env = getenv("QUIRE_TOKEN")) == NULL || *env == '\0')
			return (0);
		if (strlcpy(buf, env, len) >= len)
			errx(CTL_EXIT_USAGE, "QUIRE_TOKEN: too long");
		return (1);
	}
	if ((f = fopen(file, "re")) == NULL)
		err(CTL_EXIT_FAIL, "%s", file);
	while (tok == NULL && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "#")] = '\0';
		tok = strtok(line, " \t\r\n");
	}
	fclose(f);
	if (tok == NULL || strlcpy(buf, tok, len) >= len)
		errx(CTL_EXIT_FAIL, "%s: %s", file, tok == NULL ? "no token" :
		    "token too long");
	explicit_bzero(line, sizeof(line));
	return (1);
}

/*
 * The event stream of a running daemon's HTTP API, if it has one.
 * -1 when no daemon answers.
 */
static int
ctl_follow_open(struct follow *fl, const char *token_file)
{
	const char	*path[] = { "http", "listen", NULL };
	struct buf	 body;
	yajl_val	 st, http;
	char		 why[PATH_MAX + 512], token[CTL_TOKEN_MAX];
	size_t		 i;
	int		 have;

	buf_init(&body);
	if (ctl_ask(CTL_STATUS, 0, "json", &body, why, sizeof(why)) != 0 ||
	    (st = yajl_tree_parse(buf_cstr(&body), NULL, 0)) == NULL) {
		buf_free(&body);
		return (-1);
	}
	buf_free(&body);
	http = yajl_tree_get(st, path, yajl_t_array);
	have = ctl_token(token_file, token, sizeof(token));
	for (i = 0; http != NULL && i < http->u.array.len; i++) {
		if (!YAJL_IS_STRING(http->u.array.values[i]))
			continue;
		if (follow_connect(fl, YAJL_GET_STRING(http->u.array.values[i]),
		    have ? token : NULL, why, sizeof(why)) == 0)
			break;
		warnx("events: %s; reading the queue instead", why);
	}
	explicit_bzero(token, sizeof(token));
	yajl_tree_free(st);
	return (0);
}

/*
 * Follow the jobs to their end, drawing the progress, with the storage
 * fault the daemon says holds the workers, if any (follow.c); with a
 * foreground fleet, stop if it dies.  1 when interrupted, else 0.
 */
static int
ctl_follow_run(struct follow *fl, struct queue *q, pid_t fleet)
{
	struct progress	 pg;
	uint64_t	 docs0, chunks;
	int		 done, status;

	progress_start(&pg, fl->fl_n, isatty(STDOUT_FILENO));
	docs0 = ctl_index_written(&chunks);
	for (;;) {
		done = follow_wait(fl, q, pg.pg_tty ? 200 : 250);
		pg.pg_done = fl->fl_final;
		pg.pg_dead = fl->fl_dead;
		pg.pg_frac = follow_fraction(fl);
		pg.pg_rate = fl->fl_rate;
		pg.pg_docs = ctl_index_written(&chunks);
		pg.pg_docs = pg.pg_docs > docs0 ? pg.pg_docs - docs0 : 0;
		/* Once they are all done, nothing of ours is held. */
		if (fl->fl_held[0] != '\0' && !done)
			snprintf(pg.pg_note, sizeof(pg.pg_note),
			    "held: storage %s, retrying", fl->fl_held);
		else
			pg.pg_note[0] = '\0';
		if (done || ctl_stop)
			break;
		progress_draw(&pg, 0);
		if (fleet != -1 && waitpid(fleet, &status, WNOHANG) == fleet)
			errx(CTL_EXIT_FAIL, "quired exited early; see "
			    "%s/ingest.log", ctl_datadir);
	}
	progress_end(&pg);
	return (ctl_stop != 0);
}

/* submit --follow: 0 when every job is done, 1 if any is not. */
static int
ctl_submit_follow(struct ctl_add *ca)
{
	struct submit_batch	 sbs, *sb = &sbs;
	struct follow		 fl;
	int			 rv;

	if (!ca->ca_stdin && ctl_add_batch(ca, 0, sb) == -1) {
		submit_free(sb);
		errx(CTL_EXIT_FAIL, "nothing submitted");
	}
	ctl_stop_catch();
	ctl_socket_path(ctl_follow_sock, sizeof(ctl_follow_sock));
	follow_init(&fl, ctl_follow_sock);
	if (ctl_follow_open(&fl, ca->ca_token_file) == -1)
		warnx("no daemon answers: the jobs wait for one");
	/* Enqueued once the stream is open, so that it reports them. */
	if (ca->ca_stdin)
		ctl_submit_stdin(ca, sb);
	else
		ctl_enqueue(ctl_open(1), sb);
	follow_jobs(&fl, sb->sb_jobs, sb->sb_n);
	printf("following %zu jobs%s\n", fl.fl_n, fl.fl_fd != -1 ?
	    " (the daemon's event stream)" : "");
	fflush(stdout);
	if (ctl_follow_run(&fl, ctl_open(1), -1)) {
		printf("interrupted: %zu of %zu jobs finished; the rest go "
		    "on\n", fl.fl_final, fl.fl_n);
		rv = CTL_EXIT_INTR;
	} else {
		printf("finished: %zu done, %zu dead letters%s, %zu "
		    "cancelled\n", fl.fl_n - fl.fl_dead - fl.fl_cancelled,
		    fl.fl_dead, fl.fl_dead > 0 ?
		    " (quirectl jobs --state dead)" : "", fl.fl_cancelled);
		rv = fl.fl_dead + fl.fl_cancelled > 0 ? CTL_EXIT_FAIL :
		    CTL_EXIT_OK;
	}
	follow_free(&fl);
	submit_free(sb);
	return (rv);
}

static int
ctl_submit(int argc, char **argv)
{
	struct ctl_add		 ca;
	struct submit_batch	 sb;
	size_t			 i, dups = 0, added = 0;

	ctl_add_args("submit", argc, argv, &ca);
	if (ca.ca_follow)
		return (ctl_submit_follow(&ca));
	if (ca.ca_stdin)
		ctl_submit_stdin(&ca, &sb);
	else {
		if (ctl_add_batch(&ca, 0, &sb) == -1) {
			submit_free(&sb);
			errx(CTL_EXIT_FAIL, "nothing submitted");
		}
		ctl_enqueue(ctl_open(1), &sb);
	}
	for (i = 0; i < sb.sb_n; i++) {
		if (sb.sb_jobs[i].qn_dup)
			dups++;
		else
			added++;
	}
	if (sb.sb_n == 1 && sb.sb_skipped + sb.sb_excluded == 0)
		printf("%llu%s\n", (unsigned long long)sb.sb_jobs[0].qn_id,
		    dups ? " (existing)" : "");
	else {
		printf("submitted %zu jobs (%llu bytes), %zu already known, "
		    "%zu skipped", added, (unsigned long long)sb.sb_bytes,
		    dups, sb.sb_skipped);
		if (sb.sb_excluded > 0)
			printf(", %zu excluded", sb.sb_excluded);
		putchar('\n');
	}
	submit_free(&sb);
	return (CTL_EXIT_OK);
}

struct ctl_list {
	int	 cl_json;
	size_t	 cl_n;
};

static int
ctl_jobs_cb(const struct job *j, void *arg)
{
	struct ctl_list	*cl = arg;
	struct buf	 b;

	buf_init(&b);
	if (cl->cl_json) {
		buf_addstr(&b, cl->cl_n == 0 ? "\n  " : ",\n  ");
		show_job_json(&b, j);
	} else
		show_job_line(&b, j);
	fwrite(b.b_data, 1, b.b_len, stdout);
	buf_free(&b);
	cl->cl_n++;
	return (0);
}

static int
ctl_jobs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_list	 cl;
	struct queue	*q;
	const char	*errstr;
	char		 flags[32];
	long long	 limit = 100;
	int		 ch, state = -1, rc;

	memset(&cl, 0, sizeof(cl));
	while ((ch = getopt_long(argc, argv, "s:n:J", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if ((state = codec_state_parse(optarg)) == -1)
				errx(CTL_EXIT_USAGE, "unknown state %s (ready, "
				    "leased, retry, done, dead, cancelled)",
				    optarg);
			break;
		case 'n':
			limit = strtonum(optarg, 1, LLONG_MAX, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "limit %s: %s", optarg,
				    errstr);
			break;
		case 'J':
			cl.cl_json = 1;
			break;
		default:
			ctl_usage("jobs");
		}
	}
	if (optind != argc)
		ctl_usage("jobs");
	/* A user who may not open the queue asks the daemon, if it runs. */
	if (ctl_queue_readable() == -1) {
		snprintf(flags, sizeof(flags), "%s state=%d",
		    cl.cl_json ? "json" : "", state);
		if (state == -1)
			flags[strcspn(flags, " ")] = '\0';
		if (ctl_daemon(CTL_JOBS, limit, flags, 1) == 0)
			return (CTL_EXIT_OK);
	}
	/* No header before "no queue": open first. */
	q = ctl_open(0);
	if (cl.cl_json)
		fputs("{\"jobs\": [", stdout);
	else
		printf("%-10s %-9s %-12s %3s %3s %3s %10s %s\n", "ID", "STATE",
		    "TENANT", "PRI", "ATT", "CR", "SIZE", "SOURCE");
	rc = queue_list(q, state, limit, ctl_jobs_cb, &cl);
	if (cl.cl_json)
		fputs(cl.cl_n ? "\n]}\n" : "]}\n", stdout);
	if (rc != 0)
		errx(CTL_EXIT_FAIL, "jobs: %s", queue_strerror(rc));
	return (CTL_EXIT_OK);
}

static int
ctl_job(int argc, char **argv)
{
	struct job	 j;
	char		 src[64 + JOB_PATH_MAX], t1[32], t2[32], t3[32];
	int		 json = 0, rc;

	if (argc == 3 && strcmp(argv[1], "--json") == 0) {
		json = 1;
		argv++;
		argc--;
	}
	if (argc != 2)
		ctl_usage("job");
	rc = queue_get(ctl_open(0), ctl_id(argv[1]), &j);
	if (rc != 0)
		errx(CTL_EXIT_FAIL, "job %s: %s", argv[1], queue_strerror(rc));
	if (json) {
		ctl_job_json(stdout, &j);
		fputc('\n', stdout);
		return (CTL_EXIT_OK);
	}
	show_job_source(&j, src, sizeof(src));
	ctl_time(j.j_created, t1, sizeof(t1));
	ctl_time(j.j_updated, t2, sizeof(t2));
	printf("id: %llu\nstate: %s\ntenant: %s\npriority: %d\n"
	    "size: %llu\nsource: %s %s\nkey: %s\nattempts: %u\ncrashes: %u\n"
	    "progress: %llu\ncreated: %s\nupdated: %s\n",
	    (unsigned long long)j.j_id, codec_state_name(j.j_state),
	    util_vis(j.j_tenant), j.j_prio, (unsigned long long)j.j_size,
	    codec_source_name(j.j_srckind), util_vis(src),
	    j.j_key[0] != '\0' ? util_vis(j.j_key) : "-", j.j_attempts,
	    j.j_crashes,
	    (unsigned long long)j.j_progress, t1, t2);
	if (j.j_state == JOB_LEASED) {
		ctl_time(j.j_lease_deadline, t3, sizeof(t3));
		printf("lease: pid %u slot %u generation %llu until %s%s\n",
		    j.j_lease_pid, j.j_lease_slot,
		    (unsigned long long)j.j_lease_gen, t3,
		    j.j_cancel ? " (cancel requested)" : "");
	}
	if (j.j_state == JOB_RETRY) {
		ctl_time(j.j_runat, t3, sizeof(t3));
		printf("retry at: %s\n", t3);
	}
	if (j.j_error[0] != '\0')
		printf("error: %s\n", util_vis(j.j_error));
	return (CTL_EXIT_OK);
}

static int
ctl_retry(int argc, char **argv)
{
	uint64_t	 n;
	int		 rc;

	if (argc != 2)
		ctl_usage("retry");
	if (strcmp(argv[1], "--dead") == 0) {
		if ((rc = queue_retry_dead(ctl_open(0), &n)) != 0)
			errx(CTL_EXIT_FAIL, "retry: %s", queue_strerror(rc));
		printf("%llu dead letters ready again\n",
		    (unsigned long long)n);
		return (CTL_EXIT_OK);
	}
	if ((rc = queue_retry(ctl_open(0), ctl_id(argv[1]))) != 0)
		errx(CTL_EXIT_FAIL, "retry %s: %s", argv[1],
		    rc == QUEUE_ESTATE ? "job is neither dead nor retrying" :
		    queue_strerror(rc));
	printf("%s ready\n", argv[1]);
	return (CTL_EXIT_OK);
}

static int
ctl_cancel(int argc, char **argv)
{
	int	 rc;

	if (argc != 2)
		ctl_usage("cancel");
	/* Through the daemon, which stops a running job at once. */
	if ((rc = ctl_cancel_daemon(argv[1], ctl_id(argv[1]))) != -1)
		return (rc);
	rc = queue_cancel(ctl_open(0), ctl_id(argv[1]));
	switch (rc) {
	case QUEUE_OK:
		printf("%s cancelled\n", argv[1]);
		return (CTL_EXIT_OK);
	case QUEUE_ECANCEL:
		printf("%s is running: its worker will stop it\n", argv[1]);
		return (CTL_EXIT_OK);
	case QUEUE_ESTATE:
		errx(CTL_EXIT_FAIL, "cancel %s: job has already finished",
		    argv[1]);
	default:
		errx(CTL_EXIT_FAIL, "cancel %s: %s", argv[1],
		    queue_strerror(rc));
	}
}

static int
ctl_purge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "done", no_argument, NULL, 'd' },
		{ "dead", no_argument, NULL, 'x' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "keep", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*errstr;
	uint64_t	 older = 0, keep = 0, n;
	int		 ch, state = -1, rc;

	while ((ch = getopt_long(argc, argv, "dxo:k:", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
		case 'x':
			if (state != -1)
				ctl_usage("purge");
			state = ch == 'd' ? JOB_DONE : JOB_DEAD;
			break;
		case 'o':
			if (util_parse_duration(optarg, &older, &errstr) == -1)
				errx(CTL_EXIT_USAGE, "older-than %s: %s",
				    optarg, errstr);
			break;
		case 'k':
			keep = strtonum(optarg, 0, LLONG_MAX, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "keep %s: %s", optarg,
				    errstr);
			break;
		default:
			ctl_usage("purge");
		}
	}
	if (state == -1 || optind != argc)
		ctl_usage("purge");
	/* A limit not given is 0, none (queue_purge); with neither, all go. */
	if ((rc = queue_purge(ctl_open(0), state, older, keep, &n)) != 0)
		errx(CTL_EXIT_FAIL, "purge: %s", queue_strerror(rc));
	printf("purged %llu %s jobs\n", (unsigned long long)n,
	    state == JOB_DONE ? "finished" : "dead");
	return (CTL_EXIT_OK);
}

/* The admin socket's path: -s, or control.sock in the data directory. */
static void
ctl_socket_path(char *buf, size_t len)
{
	if (ctl_socket != NULL)
		strlcpy(buf, ctl_socket, len);
	else
		snprintf(buf, len, "%s/control.sock", ctl_datadir);
}

#define CTL_ASK_NODAEMON	ASK_NODAEMON
#define CTL_ASK_FAILED		ASK_FAILED

/*
 * Timeouts of the admin socket, in seconds, 0 for none: to connect (a
 * daemon that accepts nothing fills its backlog, and connect would wait
 * for ever) and for the whole reply.  The environment may change them.
 */
#define CTL_CONNECT_TIMEOUT	5
#define CTL_REPLY_TIMEOUT	30
#define CTL_TIMEOUT_MAX		86400

static long long
ctl_timeout(const char *name, long long def)
{
	const char	*v, *errstr;
	long long	 n;

	if ((v = getenv(name)) == NULL || *v == '\0')
		return (def);
	n = strtonum(v, 0, CTL_TIMEOUT_MAX, &errstr);
	if (errstr != NULL)
		errx(CTL_EXIT_USAGE, "%s=%s: %s (0 to %d seconds)", name, v,
		    errstr, CTL_TIMEOUT_MAX);
	return (n);
}

/*
 * Send one command to the running daemon and collect the body of its
 * reply in body (ask.c).  On failure why holds the message to print;
 * CTL_ASK_NODAEMON when no daemon answers, with errno set.
 */
static int
ctl_ask(int cmd, uint64_t num, const char *flags, struct buf *body,
    char *why, size_t whylen)
{
	char		 path[PATH_MAX];
	long long	 ct, rt;
	int		 rv, saved;

	ctl_socket_path(path, sizeof(path));
	ct = ctl_timeout("QUIRECTL_CONNECT_TIMEOUT", CTL_CONNECT_TIMEOUT);
	rt = ctl_timeout("QUIRECTL_TIMEOUT", CTL_REPLY_TIMEOUT);
	rv = ask_daemon(path, cmd, num, flags, body, ct * 1000, rt * 1000,
	    why, whylen);
	saved = errno;
	if (rv == ASK_CONNECT_TIMEOUT)
		snprintf(why, whylen, "%s: no connection within %llds "
		    "(QUIRECTL_CONNECT_TIMEOUT): the daemon accepts nothing",
		    path, ct);
	else if (rv == ASK_TIMEOUT)
		snprintf(why, whylen, "%s: no reply within %llds "
		    "(QUIRECTL_TIMEOUT)", path, rt);
	errno = saved;
	if (rv == ASK_NODAEMON || rv == 0)
		return (rv);
	return (CTL_ASK_FAILED);
}

/*
 * Send one command to the running daemon and copy its reply to stdout.
 * Returns -1 when no daemon answers (with optional set, quietly).
 */
static int
ctl_daemon(int cmd, uint64_t num, const char *flags, int optional)
{
	struct buf	 body;
	char		 why[PATH_MAX + 512], path[PATH_MAX];
	int		 rv;

	buf_init(&body);
	rv = ctl_ask(cmd, num, flags, &body, why, sizeof(why));
	if (rv == CTL_ASK_NODAEMON && optional) {
		buf_free(&body);
		return (-1);
	}
	if (rv == CTL_ASK_NODAEMON && (errno == ENOENT ||
	    errno == ECONNREFUSED)) {
		ctl_socket_path(path, sizeof(path));
		errx(CTL_EXIT_FAIL, "no daemon running on %s (socket %s)",
		    ctl_datadir, path);
	}
	if (rv != 0)
		errx(CTL_EXIT_FAIL, "%s", why);
	if (body.b_len > 0)
		fwrite(body.b_data, 1, body.b_len, stdout);
	buf_free(&body);
	return (0);
}

/*
 * cancel through the daemon: -1 when none answers, else the exit status
 * (a failure exits here).  The daemon's reply is "cancelled ID STATE
 * [worker SLOT]" (control.c); the messages are those of a cancel
 * without a daemon, and say which worker stops a running job.
 */
static int
ctl_cancel_daemon(const char *arg, uint64_t id)
{
	struct buf		 body;
	char			 why[PATH_MAX + 512], state[16];
	int			 rv, slot;

	buf_init(&body);
	rv = ctl_ask(CTL_CANCEL, id, "", &body, why, sizeof(why));
	if (rv == CTL_ASK_NODAEMON) {
		buf_free(&body);
		return (-1);
	}
	if (rv != 0)
		errx(CTL_EXIT_FAIL, "cancel %s: %s", arg, why);
	if (ask_cancelled(buf_cstr(&body), id, state, sizeof(state),
	    &slot) == -1)
		errx(CTL_EXIT_FAIL, "cancel %s: unexpected reply from the "
		    "daemon: %s", arg, util_vis(buf_cstr(&body)));
	if (strcmp(state, "running") == 0 && slot != -1)
		printf("%s cancelled; worker %d stops it now\n", arg, slot);
	else if (strcmp(state, "leased") == 0 && slot != -1)
		printf("%s cancelled; worker %d drops it from its batch\n",
		    arg, slot);
	else if (strcmp(state, "running") == 0 || strcmp(state, "leased") == 0)
		printf("%s is running: its worker will stop it\n", arg);
	else
		printf("%s cancelled\n", arg);
	buf_free(&body);
	return (CTL_EXIT_OK);
}

/* Does a daemon answer on the admin socket? */
static int
ctl_daemon_alive(void)
{
	char	 path[PATH_MAX];

	ctl_socket_path(path, sizeof(path));
	return (ask_alive(path, ctl_timeout("QUIRECTL_CONNECT_TIMEOUT",
	    CTL_CONNECT_TIMEOUT) * 1000));
}

static int
ctl_workers(int argc, char **argv)
{
	int	 json = 0;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1)
		ctl_usage("workers");
	ctl_daemon(CTL_WORKERS, 0, json ? "json" : "", 0);
	return (CTL_EXIT_OK);
}

static int
ctl_metrics(int argc, char **argv)
{
	if (argc != 1)
		ctl_usage("metrics");
	ctl_daemon(CTL_METRICS, 0, "", 0);
	return (CTL_EXIT_OK);
}

static int
ctl_scale(int argc, char **argv)
{
	const char	*errstr;
	long long	 n;

	if (argc != 2)
		ctl_usage("scale");
	n = strtonum(argv[1], 0, QUIRE_WORKERS_MAX, &errstr);
	if (errstr != NULL)
		errx(CTL_EXIT_USAGE, "scale %s: %s (0 to %d)", argv[1], errstr,
		    QUIRE_WORKERS_MAX);
	ctl_daemon(CTL_SCALE, n, "", 0);
	return (CTL_EXIT_OK);
}

/* drain, reload, stop: no arguments. */
static int
ctl_simple(int argc, char **argv)
{
	int	 cmd;

	if (argc != 1)
		ctl_usage(argv[0]);
	if (strcmp(argv[0], "drain") == 0)
		cmd = CTL_DRAIN;
	else if (strcmp(argv[0], "reload") == 0)
		cmd = CTL_RELOAD;
	else
		cmd = CTL_STOP;
	ctl_daemon(cmd, 0, "", 0);
	return (CTL_EXIT_OK);
}

static int
ctl_status(int argc, char **argv)
{
	struct queue_stats	 qs;
	struct ixstats		 is;
	char			 ixline[512];
	int			 json = 0, i, rc;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		json = 1;
	else if (argc != 1)
		ctl_usage("status");
	/* A running daemon adds its fleet; without one, the queue alone. */
	if (ctl_daemon(CTL_STATUS, 0, json ? "json" : "", 1) == 0)
		return (CTL_EXIT_OK);
	if ((rc = queue_stats(ctl_open(0), &qs)) != 0)
		errx(CTL_EXIT_FAIL, "status: %s", queue_strerror(rc));
	ctl_index_stats(&is);
	/* On stderr: the output stays what scripts parse. */
	warnx("daemon not running: showing the queue only");
	if (json) {
		fputs("{\"jobs\": {", stdout);
		for (i = 0; i < JOB_NSTATES; i++)
			printf("%s\"%s\": %llu", i ? ", " : "",
			    codec_state_name(i),
			    (unsigned long long)qs.qs_count[i]);
		index_stats_format(&is, 1, ixline, sizeof(ixline));
		printf("}, \"index\": {%s", ixline);
		printf("}, \"totals\": {\"enqueued\": %llu, \"completed\": "
		    "%llu, \"failed\": %llu, \"released\": %llu}}\n",
		    (unsigned long long)qs.qs_enqueued,
		    (unsigned long long)qs.qs_completed,
		    (unsigned long long)qs.qs_failed,
		    (unsigned long long)qs.qs_released);
		return (CTL_EXIT_NODAEMON);
	}
	printf("jobs:");
	for (i = 0; i < JOB_NSTATES; i++)
		printf(" %s %llu", codec_state_name(i),
		    (unsigned long long)qs.qs_count[i]);
	index_stats_format(&is, 0, ixline, sizeof(ixline));
	printf("\nindex: %s", ixline);
	printf("\ntotals: enqueued %llu completed %llu failed %llu "
	    "released %llu\n", (unsigned long long)qs.qs_enqueued,
	    (unsigned long long)qs.qs_completed,
	    (unsigned long long)qs.qs_failed,
	    (unsigned long long)qs.qs_released);
	return (CTL_EXIT_NODAEMON);
}

/* top's way to the daemon: status --json, or why not. */
static int
ctl_top_ask(struct buf *body, char *why, size_t whylen)
{
	char	 path[PATH_MAX];
	int	 rv;

	rv = ctl_ask(CTL_STATUS, 0, "json", body, why, whylen);
	if (rv == CTL_ASK_NODAEMON && (errno == ENOENT ||
	    errno == ECONNREFUSED)) {
		ctl_socket_path(path, sizeof(path));
		snprintf(why, whylen, "no daemon answers on %s", path);
	}
	return (rv);
}

/* top: a live view of the fleet (top.c). */
static int
ctl_top(int argc, char **argv)
{
	int	 rv;

	if ((rv = top_main(argc, argv, ctl_top_ask)) == CTL_EXIT_USAGE)
		ctl_usage("top");
	return (rv);
}

/* -1 when this user may not open the index, for lack of permission. */
static int
ctl_index_readable(void)
{
	struct stat	 st;
	char		 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/index/data.mdb", ctl_datadir);
	if (stat(path, &st) == -1)
		return (errno == EACCES ? -1 : 0);
	if (ctl_env_access("index") == -1 && errno == EACCES)
		return (-1);
	return (0);
}

/*
 * search through the daemon (control.c): b is the number of hits, the
 * string its flags, one a line ("json", "exact", "chunks", "notypos",
 * "offset=N", "filter=K=V", "facet=FIELD", "facet-size=N"), then an
 * empty line and the query.  The daemon's bounds
 * are usage errors here, as the direct path's are.  -1 when no daemon
 * answers.
 */
static int
ctl_search_daemon(const struct search_opts *so, int json, const char *query)
{
	struct buf	 req;
	char		 line[32];
	size_t		 i;
	int		 rv;

	if (so->so_n > CTL_SEARCH_N_MAX)
		errx(CTL_EXIT_USAGE, "-n %zu: at most %d through the daemon",
		    so->so_n, CTL_SEARCH_N_MAX);
	if (so->so_offset > CTL_SEARCH_OFFSET_MAX)
		errx(CTL_EXIT_USAGE, "--offset %zu: at most %d through the "
		    "daemon", so->so_offset, CTL_SEARCH_OFFSET_MAX);
	if (strlen(query) > CTL_SEARCH_QUERY_MAX)
		errx(CTL_EXIT_USAGE, "search: the query is longer than %d "
		    "bytes, the most the daemon takes", CTL_SEARCH_QUERY_MAX);
	buf_init(&req);
	if (json)
		buf_addstr(&req, "json\n");
	if (so->so_exact)
		buf_addstr(&req, "exact\n");
	if (so->so_chunks)
		buf_addstr(&req, "chunks\n");
	if (!so->so_typos)
		buf_addstr(&req, "notypos\n");
	snprintf(line, sizeof(line), "offset=%zu\n", so->so_offset);
	buf_addstr(&req, line);
	snprintf(line, sizeof(line), "facet-size=%zu\n", so->so_facet_n);
	buf_addstr(&req, line);
	for (i = 0; i < so->so_nfacets; i++) {
		buf_addstr(&req, "facet=");
		buf_addstr(&req, so->so_facets[i]);
		buf_addc(&req, '\n');
	}
	for (i = 0; i < so->so_nfilters; i++) {
		if (strchr(so->so_filters[i], '\n') != NULL)
			errx(CTL_EXIT_USAGE, "--filter: a newline cannot be "
			    "sent to the daemon");
		buf_addstr(&req, "filter=");
		buf_addstr(&req, so->so_filters[i]);
		buf_addc(&req, '\n');
	}
	buf_addc(&req, '\n');
	buf_addstr(&req, query);
	rv = ctl_daemon(CTL_SEARCH, so->so_n, buf_cstr(&req), 1);
	buf_free(&req);
	return (rv);
}

struct ctl_all {
	struct event_base	*ca_base;
	int			 ca_json;
};

static void
ctl_search_all_done(struct fanout *fo, void *arg)
{
	struct ctl_all	*ca = arg;
	struct buf	 out;

	buf_init(&out);
	fanout_show(fo, &out, ca->ca_json);
	fwrite(out.b_data, 1, out.b_len, stdout);
	buf_free(&out);
	fanout_free(fo);
	event_base_loopexit(ca->ca_base, NULL);
}

/*
 * search --all: this host's index and, over their HTTP API, the live
 * hosts of the queue's registry and every search-peer (fanout.c), on a
 * loop of its own.
 */
static void
ctl_search_all(const struct search_opts *so, int json, const char *query)
{
	struct ctl_all		 ca;
	struct tokenizer	*tk;
	struct queue		*q = NULL;
	char			 err[256];

	if (ctl_index_readable() == -1)
		errx(CTL_EXIT_FAIL, "search --all: the index: %s",
		    strerror(EACCES));
	if ((tk = tokenizer_new(ctl_conf.c_language, ctl_conf.c_stopwords))
	    == NULL)
		errx(CTL_EXIT_FAIL, "language %s: no stemmer",
		    ctl_conf.c_language);
	if ((ca.ca_base = event_base_new()) == NULL)
		errx(CTL_EXIT_FAIL, "event_base_new failed");
	ca.ca_json = json;
	/* On a shared queue, its hosts' registry names the hosts. */
	if (ctl_conf.c_queue_backend == QUEUE_BACKEND_PG)
		q = ctl_open(0);
	if (fanout_start(ca.ca_base, &ctl_conf, q, ctl_index_get(), tk,
	    query, so, ctl_search_all_done, &ca, err, sizeof(err)) == NULL)
		errx(strncmp(err, FANOUT_REGISTRY, strlen(FANOUT_REGISTRY)) ==
		    0 ? CTL_EXIT_FAIL : CTL_EXIT_USAGE, "search --all: %s",
		    err);
	event_base_dispatch(ca.ca_base);
	event_base_free(ca.ca_base);
	tokenizer_free(tk);
}

static int
ctl_search(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "filter", required_argument, NULL, 'F' },
		{ "exact", no_argument, NULL, 'E' },
		{ "no-typos", no_argument, NULL, 'T' },
		{ "offset", required_argument, NULL, 'o' },
		{ "chunks", no_argument, NULL, 'C' },
		{ "facet", required_argument, NULL, 'f' },
		{ "facet-size", required_argument, NULL, 'S' },
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct search_opts	 so;
	struct search_result	 res;
	struct tokenizer	*tk;
	struct buf		 q, out;
	const char		*errstr;
	size_t			 i;
	int			 ch, json = 0, dashes, all = 0;

	ctl_config();
	search_opts_defaults(&so);
	search_opts_conf(&so, &ctl_conf);
	/*
	 * "+": options end at the first word of the query, so that
	 * "search dog -cat" excludes cat; "--" ends them before a query
	 * that begins with "-".
	 */
	while ((ch = getopt_long(argc, argv, "+n:JF:ETo:", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'A':
			all = 1;
			break;
		case 'C':
			so.so_chunks = 1;
			break;
		case 'f':
			if (*optarg == '\0' || strchr(optarg, '=') != NULL ||
			    strchr(optarg, '\n') != NULL ||
			    strlen(optarg) > SEARCH_FACET_FIELD_MAX)
				errx(CTL_EXIT_USAGE, "--facet %s: a field name "
				    "of 1 to %d bytes, without '='", optarg,
				    SEARCH_FACET_FIELD_MAX);
			if (so.so_nfacets == SEARCH_FACETS_MAX)
				errx(CTL_EXIT_USAGE, "--facet: at most %d",
				    SEARCH_FACETS_MAX);
			so.so_facets[so.so_nfacets++] = optarg;
			break;
		case 'S':
			so.so_facet_n = strtonum(optarg, 1,
			    SEARCH_FACET_N_MAX, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "--facet-size %s: %s",
				    optarg, errstr);
			break;
		case 'E':
			so.so_exact = 1;
			break;
		case 'T':
			so.so_typos = 0;
			break;
		case 'n':
			so.so_n = strtonum(optarg, 1, 10000, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "-n %s: %s", optarg,
				    errstr);
			break;
		case 'J':
			json = 1;
			break;
		case 'o':
			so.so_offset = strtonum(optarg, 0, 100000, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "--offset %s: %s", optarg,
				    errstr);
			break;
		case 'F':
			if (strchr(optarg, '=') == NULL)
				errx(CTL_EXIT_USAGE, "--filter %s: say K=V",
				    optarg);
			if (so.so_nfilters == SEARCH_FILTERS_MAX)
				errx(CTL_EXIT_USAGE, "too many filters");
			so.so_filters[so.so_nfilters++] = optarg;
			break;
		default:
			ctl_usage("search");
		}
	}
	if (optind >= argc)
		ctl_usage("search");
	/*
	 * "dog --json" is an option out of place, not a word: refused,
	 * unless after a "--", which is not part of the query.
	 */
	dashes = strcmp(argv[optind - 1], "--") == 0;
	buf_init(&q);
	for (i = optind; i < (size_t)argc; i++) {
		if (!dashes && strcmp(argv[i], "--") == 0) {
			dashes = 1;
			continue;
		}
		if (!dashes && strncmp(argv[i], "--", 2) == 0)
			errx(CTL_EXIT_USAGE, "search: %s: options come before "
			    "the query", argv[i]);
		if (q.b_len > 0)
			buf_addc(&q, ' ');
		buf_addstr(&q, argv[i]);
	}
	if (all) {
		ctl_search_all(&so, json, buf_cstr(&q));
		buf_free(&q);
		return (CTL_EXIT_OK);
	}
	/* A user who may not open the index asks the daemon, if it runs. */
	if (ctl_index_readable() == -1 &&
	    ctl_search_daemon(&so, json, buf_cstr(&q)) == 0) {
		buf_free(&q);
		return (CTL_EXIT_OK);
	}
	if ((tk = tokenizer_new(ctl_conf.c_language, ctl_conf.c_stopwords))
	    == NULL)
		errx(CTL_EXIT_FAIL, "language %s: no stemmer",
		    ctl_conf.c_language);
	if (search_run(ctl_index_get(), tk, buf_cstr(&q), &so, &res) == -1)
		errx(CTL_EXIT_FAIL, "search: %s", res.sr_error);
	buf_init(&out);
	show_search(&out, &res, so.so_offset, json);
	fwrite(out.b_data, 1, out.b_len, stdout);
	buf_free(&out);
	search_result_free(&res);
	tokenizer_free(tk);
	buf_free(&q);
	return (CTL_EXIT_OK);
}

static int
ctl_delete(int argc, char **argv)
{
	struct queue	*q;
	uint64_t	 draining, drained;
	int		 rc;

	if (argc != 2)
		ctl_usage("delete");
	ctl_config_read();
	if (ctl_conf.c_queue_backend == QUEUE_BACKEND_PG) {
		/* A draining host's documents change through the queue. */
		q = ctl_open(0);
		if ((rc = queue_pg_draining(q, queue_pg_host(q), &draining,
		    &drained)) != 0)
			errx(CTL_EXIT_FAIL, "delete %s: the queue: %s", argv[1],
			    queue_strerror(rc));
		if (draining != 0)
			errx(CTL_EXIT_FAIL, "delete %s: host %s is %s: delete "
			    "through the HTTP API (DELETE /v1/documents/ID), "
			    "which sends it to the document's home", argv[1],
			    util_vis(queue_pg_host(q)), drained != 0 ?
			    "drained" : "draining");
	}
	rc = index_delete(ctl_index_get(), argv[1]);
	if (rc == INDEX_ENOENT)
		errx(CTL_EXIT_FAIL, "delete %s: no such document", argv[1]);
	if (rc != 0)
		errx(CTL_EXIT_FAIL, "delete %s: failed", argv[1]);
	printf("%s deleted\n", argv[1]);
	return (CTL_EXIT_OK);
}

static int
ctl_check(int argc, char **argv)
{
	struct ixstats	 st;
	char		 msg[512];
	int		 rc;

	if (argc != 1)
		ctl_usage("check");
	/* A damaged index (1) is not one that cannot be read (3). */
	rc = index_check(ctl_index_get_or(CTL_EXIT_NOREAD), msg, sizeof(msg));
	if (rc == -1)
		errx(CTL_EXIT_NOREAD, "check: cannot read the index: %s", msg);
	if (rc != 0)
		errx(CTL_EXIT_FAIL, "check: %s", msg);
	if (index_stats(ctl_index_get(), &st) == 0)
		printf("index sound: %llu documents, %llu chunks, %llu "
		    "segments, %llu dead chunks\n",
		    (unsigned long long)st.is_docs,
		    (unsigned long long)st.is_chunks,
		    (unsigned long long)st.is_segments,
		    (unsigned long long)st.is_dead);
	return (CTL_EXIT_OK);
}

/*
 * The data directory's lock, as quired holds it, for compact --shrink;
 * its descriptor, or exit when a daemon (or a foreground fleet) holds it.
 * A lock file made here belongs to the directory's owner.
 */
static int
ctl_lock_datadir(int dfd)
{
	struct stat	 st;
	char		 pid[32];
	ssize_t		 n;
	int		 fd;

	fd = util_openat_file(dfd, "lock", O_RDWR, 0);
	if (fd == -1 && errno == ENOENT) {
		if (fstat(dfd, &st) == -1)
			err(CTL_EXIT_FAIL, "%s", ctl_datadir);
		fd = util_openat_file(dfd, "lock", O_RDWR | O_CREAT | O_EXCL,
		    0640);
		if (fd != -1 && fchown(fd, st.st_uid, st.st_gid) == -1)
			err(CTL_EXIT_FAIL, "%s/lock", ctl_datadir);
	}
	if (fd == -1)
		errx(CTL_EXIT_FAIL, "%s/lock: %s", ctl_datadir,
		    util_open_strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return (fd);
	if (errno != EWOULDBLOCK)
		err(CTL_EXIT_FAIL, "%s/lock", ctl_datadir);
	n = pread(fd, pid, sizeof(pid) - 1, 0);
	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	errx(CTL_EXIT_FAIL, "compact --shrink: %s is in use by quired%s%s%s; "
	    "stop it first", ctl_datadir, pid[0] != '\0' ? " (pid " : "", pid,
	    pid[0] != '\0' ? ")" : "");
}

/*
 * Give the index's free pages back to the file system, and its chunk
 * ids, when they run short.
 */
static void
ctl_shrink(int dfd)
{
	struct ixshrink	 sh;

	ctl_index_open = 0;	/* closed by index_shrink, whatever happens */
	if (index_shrink(&ctl_index, dfd, &sh) == -1)
		err(CTL_EXIT_FAIL, "compact --shrink: %s/index", ctl_datadir);
	printf("shrunk: %.1f MB to %.1f MB\n", sh.sh_before / 1e6,
	    sh.sh_after / 1e6);
	if (sh.sh_renum)
		printf("chunks numbered again: %llu chunk ids left, "
		    "%llu before\n", (unsigned long long)sh.sh_left_after,
		    (unsigned long long)sh.sh_left_before);
	else if (sh.sh_why[0] != '\0')
		printf("chunks not numbered again (%llu chunk ids left): %s\n",
		    (unsigned long long)sh.sh_left_before, sh.sh_why);
}

static int
ctl_compact(int argc, char **argv)
{
	struct ixstats	 st;
	int		 rv, n = 0, dfd = -1, lockfd = -1;

	if (argc == 2 && strcmp(argv[1], "--shrink") == 0) {
		if ((dfd = open(ctl_datadir, O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			err(CTL_EXIT_FAIL, "%s", ctl_datadir);
		lockfd = ctl_lock_datadir(dfd);
	} else if (argc != 1)
		ctl_usage("compact");
	while ((rv = merge_step(ctl_index_get(), MERGE_ALL,
	    ctl_conf.c_fold_size, -1)) == 1)
		n++;
	if (rv == -1)
		errx(CTL_EXIT_FAIL, "compact: failed (see above)");
	if (index_stats(ctl_index_get(), &st) == 0)
		printf("%d merges; %llu segments, %llu dead chunks left\n", n,
		    (unsigned long long)st.is_segments,
		    (unsigned long long)st.is_dead);
	if (dfd != -1) {
		/* Offline, so no commit waits for it; a failure changes
		 * nothing. */
		(void)index_pack(ctl_index_get());
		ctl_shrink(dfd);
		close(lockfd);
		close(dfd);
	}
	return (CTL_EXIT_OK);
}

/*
 * db init, db migrate: the postgresql backend's schema, in the database
 * the configuration names (queue-dsn, queue-password-file or
 * PGPASSFILE), whichever backend the daemon uses now.
 */
static int
ctl_db(int argc, char **argv)
{
	char	 dsn[sizeof(((struct queue_conf *)NULL)->qc_dsn)];
	char	 msg[1024];
	int	 create;

	if (argc != 2)
		ctl_usage("db");
	if (strcmp(argv[1], "init") == 0)
		create = 1;
	else if (strcmp(argv[1], "migrate") == 0)
		create = 0;
	else
		ctl_usage("db");
	ctl_config_read();
	if (ctl_conf.c_queue_dsn[0] == '\0')
		errx(CTL_EXIT_FAIL, "db %s: no queue-dsn in the configuration "
		    "(-f CONF)", argv[1]);
	if (config_queue_dsn(&ctl_conf, dsn, sizeof(dsn), msg,
	    sizeof(msg)) == -1)
		errx(CTL_EXIT_FAIL, "db %s: %s", argv[1], msg);
	if (queue_pg_migrate(dsn, create, msg, sizeof(msg)) == -1) {
		explicit_bzero(dsn, sizeof(dsn));
		errx(CTL_EXIT_FAIL, "db %s: %s", argv[1], msg);
	}
	explicit_bzero(dsn, sizeof(dsn));
	printf("%s\n", msg);
	return (CTL_EXIT_OK);
}

/* hosts: the hosts of a shared queue, from its quire_hosts table. */
struct ctl_hosts {
	struct buf	 ch_b;
	int		 ch_json;
	size_t		 ch_n;
	uint64_t	 ch_expiry;
};

static int
ctl_hosts_cb(const struct queue_host *h, void *arg)
{
	struct ctl_hosts	*ch = arg;
	struct buf		*b = &ch->ch_b;
	const char		*state = queue_host_state(h, ch->ch_expiry);
	const char		*drain = queue_host_drain(h);

	if (!ch->ch_json) {
		if (ch->ch_n == 0)
			buf_printf(b, "%-24s %-7s %10s %7s %10s %-8s %s\n",
			    "HOST", "STATE", "BEAT", "LEASED", "DOCS", "DRAIN",
			    "HTTP");
		buf_printf(b, "%-24s %-7s %8llu.%01llus %7llu %10llu %-8s "
		    "%s%s\n", util_vis(h->qh_name), state,
		    (unsigned long long)(h->qh_age / 1000),
		    (unsigned long long)(h->qh_age % 1000 / 100),
		    (unsigned long long)h->qh_leased,
		    (unsigned long long)h->qh_docs, drain != NULL ? drain : "-",
		    h->qh_http[0] != '\0' ? h->qh_http : "-",
		    h->qh_self ? " (this host)" : "");
		ch->ch_n++;
		return (0);
	}
	buf_addstr(b, ch->ch_n == 0 ? "\n  {\"name\": " : ",\n  {\"name\": ");
	show_json_str(b, h->qh_name);
	buf_printf(b, ", \"state\": \"%s\", \"beat_age_ms\": %llu, "
	    "\"leased\": %llu, \"docs\": %llu, \"http\": ", state,
	    (unsigned long long)h->qh_age, (unsigned long long)h->qh_leased,
	    (unsigned long long)h->qh_docs);
	if (h->qh_http[0] != '\0')
		show_json_str(b, h->qh_http);
	else
		buf_addstr(b, "null");
	buf_printf(b, ", \"pid\": %u, \"started\": %llu, \"beat\": %llu, "
	    "\"expired\": %llu, \"drain\": ", h->qh_pid,
	    (unsigned long long)h->qh_started,
	    (unsigned long long)h->qh_beat,
	    (unsigned long long)h->qh_expired);
	if (drain != NULL)
		buf_printf(b, "\"%s\"", drain);
	else
		buf_addstr(b, "null");
	buf_printf(b, ", \"draining\": %llu, \"drained\": %llu, "
	    "\"self\": %s}", (unsigned long long)h->qh_draining,
	    (unsigned long long)h->qh_drained, h->qh_self ? "true" : "false");
	ch->ch_n++;
	return (0);
}

static int
ctl_hosts(int argc, char **argv)
{
	struct ctl_hosts	 ch;
	struct queue		*q;
	int			 rc;

	memset(&ch, 0, sizeof(ch));
	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		ch.ch_json = 1;
	else if (argc != 1)
		ctl_usage("hosts");
	ctl_config_read();
	if (ctl_conf.c_queue_backend != QUEUE_BACKEND_PG)
		errx(CTL_EXIT_FAIL, "hosts: the queue is not shared: the "
		    "configuration (-f CONF) has no queue-backend postgresql");
	q = ctl_open(0);
	ch.ch_expiry = ctl_conf.c_host_expiry_ms;
	buf_init(&ch.ch_b);
	if (ch.ch_json)
		buf_printf(&ch.ch_b, "{\"host_expiry_ms\": %llu, \"hosts\": [",
		    (unsigned long long)ch.ch_expiry);
	if ((rc = queue_pg_hosts(q, ctl_hosts_cb, &ch)) != 0) {
		buf_free(&ch.ch_b);
		errx(CTL_EXIT_FAIL, "hosts: %s", queue_strerror(rc));
	}
	if (ch.ch_json)
		buf_addstr(&ch.ch_b, ch.ch_n > 0 ? "\n]}\n" : "]}\n");
	else if (ch.ch_n == 0)
		buf_addstr(&ch.ch_b, "no host has registered yet\n");
	fwrite(ch.ch_b.b_data, 1, ch.ch_b.b_len, stdout);
	buf_free(&ch.ch_b);
	return (CTL_EXIT_OK);
}

/* host undrain NAME: a drained host back in service. */
static int
ctl_undrain(struct queue *q, const char *name)
{
	uint64_t	 n;
	int		 rc;

	if ((rc = queue_pg_undrain(q, name, &n)) == QUEUE_ENOENT)
		errx(CTL_EXIT_FAIL, "host undrain %s: it does not drain",
		    util_vis(name));
	if (rc == QUEUE_ESTATE)
		errx(CTL_EXIT_FAIL, "host undrain %s: its drain has not ended: "
		    "run host drain %s to its end first", util_vis(name),
		    util_vis(name));
	if (rc != 0)
		errx(CTL_EXIT_FAIL, "host undrain %s: %s", util_vis(name),
		    queue_strerror(rc));
	printf("host undrain %s: it claims jobs again (%llu jobs of its "
	    "drain's moves forgotten)\n", util_vis(name),
	    (unsigned long long)n);
	return (CTL_EXIT_OK);
}

/*
 * host drain NAME: move host NAME's documents to the other hosts
 * (drain.c), with its own configuration and data directory; host
 * undrain NAME.
 */
static int
ctl_host(int argc, char **argv)
{
	struct queue	*q;
	char		 err[1024];
	const char	*name;
	int		 rc;

	if (argc != 3 || (strcmp(argv[1], "drain") != 0 &&
	    strcmp(argv[1], "undrain") != 0))
		ctl_usage("host");
	name = argv[2];
	ctl_config();
	if (ctl_conf.c_queue_backend != QUEUE_BACKEND_PG)
		errx(CTL_EXIT_FAIL, "host %s: the queue is not shared: the "
		    "configuration (-f CONF) has no queue-backend postgresql",
		    argv[1]);
	q = ctl_open(0);
	if (strcmp(argv[1], "undrain") == 0)
		return (ctl_undrain(q, name));
	if (strcmp(queue_pg_host(q), name) != 0)
		errx(CTL_EXIT_FAIL, "host drain %s: the configuration is host "
		    "%s's: run it with host %s's configuration (-f) and data "
		    "directory", util_vis(name), util_vis(queue_pg_host(q)),
		    util_vis(name));
	ctl_stop_catch();
	rc = drain_run(q, ctl_index_get(), &ctl_conf, name, &ctl_stop, err,
	    sizeof(err));
	if (rc == 1) {
		warnx("host drain %s: interrupted; it stays draining: run "
		    "host drain %s again to go on", util_vis(name),
		    util_vis(name));
		return (CTL_EXIT_INTR);
	}
	if (rc == -1)
		errx(CTL_EXIT_FAIL, "host drain %s: %s", util_vis(name), err);
	return (CTL_EXIT_OK);
}

/*
 * ingest: the one-command main job.  Submit, then follow the jobs to
 * their end.  Without a daemon on the data directory, run one in the
 * foreground for the time of the ingest, with -w workers.
 *
 * The data directory belongs to the service user, and root may run
 * this: its ingest.log is opened relative to the directory, never
 * through a link (util_openat_file), and the foreground daemon's
 * configuration is written into a directory of our own (mkdtemp), not
 * into the data directory, where its owner could swap it for another
 * between our write and the daemon's read.
 */
static char	 ctl_fleet_dir[PATH_MAX];
static char	 ctl_fleet_conf[PATH_MAX];

static void
ctl_fleet_cleanup(void)
{
	if (ctl_fleet_conf[0] != '\0')
		unlink(ctl_fleet_conf);
	if (ctl_fleet_dir[0] != '\0')
		rmdir(ctl_fleet_dir);
	ctl_fleet_conf[0] = ctl_fleet_dir[0] = '\0';
}

static pid_t
ctl_fleet_start(int workers)
{
	char		 exe[PATH_MAX], quired[PATH_MAX + 16], *p;
	struct quire_conf c = ctl_conf;
	const char	*tmp;
	ssize_t		 n;
	FILE		*f;
	pid_t		 pid;
	int		 dfd, fd, logfd, i;

	if (util_mkdir_p(ctl_datadir, 0750) == -1)
		err(CTL_EXIT_FAIL, "%s", ctl_datadir);
	if ((dfd = open(ctl_datadir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		err(CTL_EXIT_FAIL, "%s", ctl_datadir);
	if ((logfd = util_openat_file(dfd, "ingest.log", O_WRONLY | O_CREAT |
	    O_APPEND, 0640)) == -1)
		errx(CTL_EXIT_FAIL, "%s/ingest.log: %s", ctl_datadir,
		    util_open_strerror(errno));
	close(dfd);
	c.c_workers = workers;
	if (c.c_max_workers < (uint64_t)workers)
		c.c_max_workers = workers;
	if (c.c_min_workers > (uint64_t)workers)
		c.c_min_workers = workers;
	snprintf(c.c_pidfile, sizeof(c.c_pidfile), "%s/ingest.pid",
	    ctl_datadir);
	/* It listens where this quirectl looks for it. */
	ctl_socket_path(c.c_control, sizeof(c.c_control));
	c.c_logfile[0] = '\0';
	c.c_user[0] = c.c_group[0] = '\0';
	/* A fleet for the time of an ingest serves no HTTP. */
	strlcpy(c.c_listen, "none", sizeof(c.c_listen));
	c.c_http_tokens[0] = '\0';

	if ((tmp = getenv("TMPDIR")) == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (snprintf(ctl_fleet_dir, sizeof(ctl_fleet_dir),
	    "%s/quire-ingest.XXXXXX", tmp) >= (int)sizeof(ctl_fleet_dir) ||
	    mkdtemp(ctl_fleet_dir) == NULL) {
		ctl_fleet_dir[0] = '\0';
		err(CTL_EXIT_FAIL, "%s: a temporary directory", tmp);
	}
	atexit(ctl_fleet_cleanup);
	if (snprintf(ctl_fleet_conf, sizeof(ctl_fleet_conf), "%s/ingest.conf",
	    ctl_fleet_dir) >= (int)sizeof(ctl_fleet_conf) ||
	    (fd = open(ctl_fleet_conf, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL)
		err(CTL_EXIT_FAIL, "%s", ctl_fleet_conf);
	config_print(&c, f);
	if (fclose(f) == EOF)
		err(CTL_EXIT_FAIL, "%s", ctl_fleet_conf);
	/* quired from beside quirectl, else from PATH. */
	strlcpy(quired, "quired", sizeof(quired));
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((p = strrchr(exe, '/')) != NULL) {
			*p = '\0';
			snprintf(quired, sizeof(quired), "%s/quired", exe);
			if (access(quired, X_OK) == -1)
				strlcpy(quired, "quired", sizeof(quired));
		}
	}
	switch ((pid = fork())) {
	case -1:
		err(CTL_EXIT_FAIL, "fork");
	case 0:
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execlp(quired, "quired", "-d", "-f", ctl_fleet_conf,
		    (char *)NULL);
		_exit(127);
	}
	close(logfd);
	/* Looked for often: the jobs wait for it. */
	for (i = 0; i < CTL_FLEET_WAIT_MS / CTL_FLEET_LOOK_MS; i++) {
		if (ctl_daemon_alive())
			return (pid);
		if (waitpid(pid, NULL, WNOHANG) == pid)
			errx(CTL_EXIT_FAIL, "quired did not start; see "
			    "%s/ingest.log", ctl_datadir);
		usleep(CTL_FLEET_LOOK_MS * 1000);
	}
	kill(pid, SIGTERM);
	errx(CTL_EXIT_FAIL, "quired did not answer; see %s/ingest.log",
	    ctl_datadir);
}

/* ingest's last lines; the exit status. */
static int
ctl_ingest_end(struct follow *fl, struct submit_batch *sb, uint64_t dead0,
    uint64_t docs0, uint64_t chunks0, uint64_t t0)
{
	struct queue_stats	 qs;
	uint64_t		 docs, chunks, dead;
	double			 secs;

	/* Records of NDJSON ranges that failed alone are dead letters too. */
	dead = fl->fl_dead;
	if (queue_stats(ctl_open(0), &qs) == 0 && qs.qs_count[JOB_DEAD] >
	    dead0 + dead)
		dead = qs.qs_count[JOB_DEAD] - dead0;
	docs = ctl_index_written(&chunks);
	docs = docs > docs0 ? docs - docs0 : 0;
	chunks = chunks > chunks0 ? chunks - chunks0 : 0;
	secs = (util_mono_ms() - t0) / 1000.0;
	printf("done: %llu documents, %llu chunks, %llu failures%s, %.2f s, "
	    "%.0f docs/s\n", (unsigned long long)docs,
	    (unsigned long long)chunks, (unsigned long long)dead, dead > 0 ?
	    " (quirectl jobs --state dead)" : "", secs,
	    secs > 0 ? docs / secs : 0.0);
	/* Apart: a skipped file is not a failure. */
	if (sb->sb_skipped > 0)
		printf("skipped: %zu files not regular or of no type quire "
		    "reads (named above)\n", sb->sb_skipped);
	return (dead > 0 ? CTL_EXIT_FAIL : CTL_EXIT_OK);
}

static void
ctl_ingest_header(struct follow *fl, struct submit_batch *sb, pid_t fleet)
{
	size_t	 i, known = 0;

	for (i = 0; i < sb->sb_n; i++)
		if (sb->sb_jobs[i].qn_dup)
			known++;
	printf("ingesting %zu jobs, %.1f MB%s", sb->sb_n,
	    sb->sb_bytes / 1e6, fleet != -1 ? " (with a foreground fleet)" :
	    fl->fl_fd != -1 ? " (the daemon's event stream)" : "");
	if (known > 0)
		printf(", %zu submitted before", known);
	if (sb->sb_skipped > 0)
		printf(", %zu files skipped", sb->sb_skipped);
	if (sb->sb_excluded > 0)
		printf(", %zu excluded", sb->sb_excluded);
	putchar('\n');
	fflush(stdout);
}

static void
ctl_fleet_stop(pid_t fleet)
{
	int	 status;

	if (fleet == -1)
		return;
	kill(fleet, SIGTERM);
	waitpid(fleet, &status, 0);
	ctl_fleet_cleanup();
}

static int
ctl_ingest(int argc, char **argv)
{
	struct ctl_add		 ca;
	struct submit_batch	 sb;
	struct follow		 fl;
	struct queue_stats	 qs;
	struct queue		*q;
	uint64_t		 dead0, docs0, chunks0, t0;
	pid_t			 fleet = -1;
	int			 rv;

	ctl_add_args("ingest", argc, argv, &ca);
	/* A file already submitted, unchanged, is not enqueued again. */
	ca.ca_so.so_autokey = 1;
	ctl_config();
	if (ctl_add_batch(&ca, 1, &sb) == -1 || sb.sb_n == 0) {
		submit_free(&sb);
		errx(CTL_EXIT_FAIL, "nothing to ingest%s", sb.sb_skipped > 0 ?
		    ": every file was skipped" : "");
	}
	/* Ctrl-C stops the fleet and cleans up; the same command resumes. */
	ctl_stop_catch();
	ctl_socket_path(ctl_follow_sock, sizeof(ctl_follow_sock));
	follow_init(&fl, ctl_follow_sock);
	if (!ctl_daemon_alive())
		fleet = ctl_fleet_start(ca.ca_workers);
	else
		(void)ctl_follow_open(&fl, ca.ca_token_file);
	q = ctl_open(1);
	docs0 = ctl_index_written(&chunks0);
	dead0 = queue_stats(q, &qs) == 0 ? qs.qs_count[JOB_DEAD] : 0;
	t0 = util_mono_ms();
	ctl_enqueue(q, &sb);
	follow_jobs(&fl, sb.sb_jobs, sb.sb_n);
	ctl_ingest_header(&fl, &sb, fleet);
	if (ctl_follow_run(&fl, q, fleet)) {
		ctl_fleet_stop(fleet);
		printf("interrupted: %zu of %zu jobs finished; the same "
		    "command resumes\n", fl.fl_final, fl.fl_n);
		rv = CTL_EXIT_INTR;
	} else {
		rv = ctl_ingest_end(&fl, &sb, dead0, docs0, chunks0, t0);
		ctl_fleet_stop(fleet);
	}
	follow_free(&fl);
	submit_free(&sb);
	return (rv);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static char	 absdir[PATH_MAX + 1], cwd[PATH_MAX];
	const struct ctl_cmd *c;
	struct stat	 st;
	char		*help[2];
	int		 ch, verbose = 0, rv, datadir_given = 0;

	/* Names in the user's characters; only control bytes are escaped. */
	setlocale(LC_CTYPE, "");
	log_init(1, LOG_DAEMON);
	if (getenv("QUIRE_DATADIR") != NULL) {
		ctl_datadir = getenv("QUIRE_DATADIR");
		datadir_given = 1;
	}
	while ((ch = getopt_long(argc, argv, "+D:f:hs:v", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			ctl_print_usage(stdout);
			exit(CTL_EXIT_OK);
		case 'V':
			printf("quirectl %s\n", QUIRE_VERSION);
			exit(CTL_EXIT_OK);
		case 'D':
			ctl_datadir = optarg;
			datadir_given = 1;
			break;
		case 'f':
			ctl_conffile = optarg;
			break;
		case 's':
			ctl_socket = optarg;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	/*
	 * Without -D or QUIRE_DATADIR, the data directory is the daemon's:
	 * that of its configuration, and so is its socket.
	 */
	if (!datadir_given && (ctl_conffile != NULL ||
	    stat(QUIRE_CONFFILE, &st) == 0)) {
		ctl_config_read();
		ctl_datadir = ctl_conf.c_datadir;
		if (ctl_socket == NULL && ctl_conf.c_control[0] != '\0')
			ctl_socket = ctl_conf.c_control;
	}
	/* The daemon ingest may start needs an absolute data directory. */
	if (ctl_datadir[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			err(CTL_EXIT_FAIL, "getcwd");
		if (snprintf(absdir, sizeof(absdir), "%s/%s", cwd, ctl_datadir)
		    >= (int)sizeof(absdir))
			errx(CTL_EXIT_USAGE, "-D %s: path too long", ctl_datadir);
		ctl_datadir = absdir;
	}
	log_setverbose(verbose);
	if ((c = ctl_find(argv[0])) == NULL) {
		warnx("unknown command: %s", argv[0]);
		usage();
	}
	/* COMMAND -h and COMMAND --help are help COMMAND. */
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		help[0] = "help";
		help[1] = argv[0];
		return (ctl_help(2, help));
	}
	optind = 0;
	rv = c->c_fn(argc, argv);
	if (ctl_queue_open)
		queue_close(&ctl_queue);
	if (ctl_index_open)
		index_close(&ctl_index);
	return (rv);
}
