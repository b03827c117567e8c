/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl: administer quire.  The commands here work directly on a data
 * directory (-D): LMDB is safe for several processes, so they run beside
 * a live daemon or without one.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "quire.h"

#define CTL_EXIT_OK	0
#define CTL_EXIT_FAIL	1	/* the command failed */
#define CTL_EXIT_USAGE	2	/* bad command line */

struct ctl_cmd {
	const char	*c_name;
	const char	*c_usage;
	int		 (*c_fn)(int, char **);
};

static int	 ctl_submit(int, char **);
static int	 ctl_jobs(int, char **);
static int	 ctl_job(int, char **);
static int	 ctl_retry(int, char **);
static int	 ctl_cancel(int, char **);
static int	 ctl_purge(int, char **);
static int	 ctl_status(int, char **);
static int	 ctl_workers(int, char **);
static int	 ctl_scale(int, char **);
static int	 ctl_simple(int, char **);

static const struct ctl_cmd ctl_cmds[] = {
	{ "submit", "submit [--tenant T] [--priority N] [--key K] "
	    "[--split SIZE] [--ndjson FILE] [--debug CMD [--count N]] "
	    "[PATH ...]", ctl_submit },
	{ "jobs", "jobs [--state S] [--limit N] [--json]", ctl_jobs },
	{ "job", "job [--json] ID", ctl_job },
	{ "retry", "retry ID | --dead", ctl_retry },
	{ "cancel", "cancel ID", ctl_cancel },
	{ "purge", "purge --done | --dead [--older-than DURATION] "
	    "[--keep N]", ctl_purge },
	{ "status", "status [--json]", ctl_status },
	{ "workers", "workers [--json]", ctl_workers },
	{ "scale", "scale N", ctl_scale },
	{ "drain", "drain", ctl_simple },
	{ "reload", "reload", ctl_simple },
	{ "stop", "stop", ctl_simple },
};

static const char	*ctl_datadir = QUIRE_DATADIR;
static const char	*ctl_socket;
static struct queue	 ctl_queue;
static int		 ctl_queue_open;

static __dead void
usage(void)
{
	size_t	 i;

	fprintf(stderr, "usage: %s [-v] [-D datadir] [-s socket] command "
	    "[args]\n",
	    getprogname());
	fprintf(stderr, "commands:\n");
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		fprintf(stderr, "\t%s\n", ctl_cmds[i].c_usage);
	exit(CTL_EXIT_USAGE);
}

static __dead void
ctl_usage(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (strcmp(ctl_cmds[i].c_name, name) == 0)
			fprintf(stderr, "usage: %s %s\n", getprogname(),
			    ctl_cmds[i].c_usage);
	exit(CTL_EXIT_USAGE);
}

static struct queue *
ctl_open(int create)
{
	struct stat	 st;
	char		 path[PATH_MAX];

	if (ctl_queue_open)
		return (&ctl_queue);
	snprintf(path, sizeof(path), "%s/queue/data.mdb", ctl_datadir);
	if (!create && stat(path, &st) == -1)
		errx(CTL_EXIT_FAIL, "%s: no queue in this data directory",
		    ctl_datadir);
	if (queue_open(&ctl_queue, ctl_datadir, NULL) == -1)
		errx(CTL_EXIT_FAIL, "%s: cannot open the queue", ctl_datadir);
	ctl_queue_open = 1;
	return (&ctl_queue);
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

/* JSON string output, escaped per RFC 8259. */
static void
ctl_json_str(FILE *f, const char *s)
{
	const unsigned char	*p;

	fputc('"', f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
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
ctl_source(const struct job *j, char *buf, size_t len)
{
	if (j->j_srckind == SRC_NDJSON)
		snprintf(buf, len, "%s@%llu+%llu", j->j_path,
		    (unsigned long long)j->j_off, (unsigned long long)j->j_len);
	else if (j->j_srckind == SRC_DEBUG)
		snprintf(buf, len, "debug:%s", j->j_path);
	else
		strlcpy(buf, j->j_path, len);
}

static void
ctl_job_json(FILE *f, const struct job *j)
{
	fprintf(f, "{\"id\": %llu, \"state\": \"%s\", \"tenant\": ",
	    (unsigned long long)j->j_id, codec_state_name(j->j_state));
	ctl_json_str(f, j->j_tenant);
	fprintf(f, ", \"priority\": %d, \"size\": %llu, \"source\": \"%s\", "
	    "\"path\": ", j->j_prio, (unsigned long long)j->j_size,
	    codec_source_name(j->j_srckind));
	ctl_json_str(f, j->j_path);
	if (j->j_srckind == SRC_NDJSON)
		fprintf(f, ", \"offset\": %llu, \"length\": %llu",
		    (unsigned long long)j->j_off, (unsigned long long)j->j_len);
	fputs(", \"key\": ", f);
	if (j->j_key[0] != '\0')
		ctl_json_str(f, j->j_key);
	else
		fputs("null", f);
	fprintf(f, ", \"attempts\": %u, \"crashes\": %u, \"progress\": %llu, "
	    "\"created_ms\": %llu, \"updated_ms\": %llu", j->j_attempts,
	    j->j_crashes, (unsigned long long)j->j_progress,
	    (unsigned long long)j->j_created,
	    (unsigned long long)j->j_updated);
	if (j->j_state == JOB_LEASED)
		fprintf(f, ", \"lease\": {\"pid\": %u, \"slot\": %u, "
		    "\"generation\": %llu, \"deadline_ms\": %llu, "
		    "\"cancel\": %s}", j->j_lease_pid, j->j_lease_slot,
		    (unsigned long long)j->j_lease_gen,
		    (unsigned long long)j->j_lease_deadline,
		    j->j_cancel ? "true" : "false");
	if (j->j_state == JOB_RETRY)
		fprintf(f, ", \"retry_at_ms\": %llu",
		    (unsigned long long)j->j_runat);
	fputs(", \"error\": ", f);
	if (j->j_error[0] != '\0')
		ctl_json_str(f, j->j_error);
	else
		fputs("null", f);
	fputc('}', f);
}

static int
ctl_submit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tenant", required_argument, NULL, 't' },
		{ "priority", required_argument, NULL, 'p' },
		{ "key", required_argument, NULL, 'k' },
		{ "ndjson", required_argument, NULL, 'j' },
		{ "split", required_argument, NULL, 's' },
		{ "debug", required_argument, NULL, 'g' },
		{ "count", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct submit_opts	 so;
	struct submit_batch	 sb;
	struct queue		*q;
	const char		*errstr, *ndjson[256], *debug = NULL;
	size_t			 nndjson = 0, i, dups = 0, added = 0;
	long long		 count = 1;
	int			 ch, rc, fail = 0;

	memset(&so, 0, sizeof(so));
	so.so_prio = JOB_PRIO_DEFAULT;
	so.so_split = SUBMIT_SPLIT_DEFAULT;
	while ((ch = getopt_long(argc, argv, "t:p:k:j:s:g:c:", opts, NULL))
	    != -1) {
		switch (ch) {
		case 't':
			if (strlen(optarg) > JOB_TENANT_MAX)
				errx(CTL_EXIT_USAGE, "tenant name too long "
				    "(%d bytes at most)", JOB_TENANT_MAX);
			so.so_tenant = optarg;
			break;
		case 'p':
			so.so_prio = strtonum(optarg, JOB_PRIO_MIN,
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
			so.so_key = optarg;
			break;
		case 'j':
			if (nndjson == sizeof(ndjson) / sizeof(ndjson[0]))
				errx(CTL_EXIT_USAGE, "too many --ndjson");
			ndjson[nndjson++] = optarg;
			break;
		case 's':
			if (util_parse_size(optarg, &so.so_split, &errstr)
			    == -1 || so.so_split < 4096)
				errx(CTL_EXIT_USAGE, "split %s: %s", optarg,
				    errstr != NULL ? errstr :
				    "4K at least");
			break;
		case 'g':
			debug = optarg;
			break;
		case 'c':
			count = strtonum(optarg, 1, 10000000, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "count %s: %s", optarg,
				    errstr);
			break;
		default:
			ctl_usage("submit");
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 && nndjson == 0 && debug == NULL)
		ctl_usage("submit");
	if (so.so_key != NULL && argc + nndjson + (debug != NULL) != 1)
		errx(CTL_EXIT_USAGE, "--key names one submission");
	if (so.so_key != NULL && count > 1)
		errx(CTL_EXIT_USAGE, "--key names one job, not --count");

	submit_init(&sb);
	while (debug != NULL && count-- > 0)
		if (submit_add_debug(&sb, debug, &so) == -1)
			fail = 1;
	for (i = 0; i < (size_t)argc; i++)
		if (submit_add_path(&sb, argv[i], &so) == -1)
			fail = 1;
	for (i = 0; i < nndjson; i++)
		if (submit_add_ndjson(&sb, ndjson[i], &so) == -1)
			fail = 1;
	if (fail) {
		submit_free(&sb);
		errx(CTL_EXIT_FAIL, "nothing submitted");
	}
	q = ctl_open(1);
	/* Thousands of jobs per transaction. */
	for (i = 0; i < sb.sb_n; i += 10000) {
		rc = queue_enqueue(q, sb.sb_jobs + i,
		    sb.sb_n - i < 10000 ? sb.sb_n - i : 10000);
		if (rc != 0) {
			submit_free(&sb);
			errx(CTL_EXIT_FAIL, "enqueue: %s", queue_strerror(rc));
		}
	}
	for (i = 0; i < sb.sb_n; i++) {
		if (sb.sb_jobs[i].qn_dup)
			dups++;
		else
			added++;
	}
	if (sb.sb_n == 1)
		printf("%llu%s\n", (unsigned long long)sb.sb_jobs[0].qn_id,
		    dups ? " (existing)" : "");
	else
		printf("submitted %zu jobs (%llu bytes)%s%zu already known, "
		    "%zu skipped\n", added, (unsigned long long)sb.sb_bytes,
		    ", ", dups, sb.sb_skipped);
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
	char		 src[64 + JOB_PATH_MAX];

	if (cl->cl_json) {
		fputs(cl->cl_n == 0 ? "\n  " : ",\n  ", stdout);
		ctl_job_json(stdout, j);
	} else {
		ctl_source(j, src, sizeof(src));
		printf("%-10llu %-9s %-12s %3d %3u %3u %10llu %s%s%s\n",
		    (unsigned long long)j->j_id, codec_state_name(j->j_state),
		    j->j_tenant, j->j_prio, j->j_attempts, j->j_crashes,
		    (unsigned long long)j->j_size, src,
		    j->j_error[0] != '\0' ? "  # " : "", j->j_error);
	}
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
	ctl_source(&j, src, sizeof(src));
	ctl_time(j.j_created, t1, sizeof(t1));
	ctl_time(j.j_updated, t2, sizeof(t2));
	printf("id: %llu\nstate: %s\ntenant: %s\npriority: %d\n"
	    "size: %llu\nsource: %s %s\nkey: %s\nattempts: %u\ncrashes: %u\n"
	    "progress: %llu\ncreated: %s\nupdated: %s\n",
	    (unsigned long long)j.j_id, codec_state_name(j.j_state),
	    j.j_tenant, j.j_prio, (unsigned long long)j.j_size,
	    codec_source_name(j.j_srckind), src,
	    j.j_key[0] != '\0' ? j.j_key : "-", j.j_attempts, j.j_crashes,
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
		printf("error: %s\n", j.j_error);
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
	uint64_t	 older = UINT64_MAX, keep = UINT64_MAX, n;
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
	/* With neither limit, every one of them goes. */
	if (older == UINT64_MAX && keep == UINT64_MAX)
		older = 0;
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

/*
 * Send one command to the running daemon and copy its reply to stdout.
 * Returns -1 when no daemon answers (with optional set, quietly).
 */
static int
ctl_daemon(int cmd, uint64_t num, const char *flags, int optional)
{
	struct sockaddr_un	 sun;
	char			 path[PATH_MAX], buf[8192], *nl;
	size_t			 have = 0;
	ssize_t			 n;
	int			 fd, first = 1, ok = 0;

	ctl_socket_path(path, sizeof(path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		errx(CTL_EXIT_FAIL, "%s: path too long for a socket", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(CTL_EXIT_FAIL, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		if (optional)
			return (-1);
		if (errno == ENOENT || errno == ECONNREFUSED)
			errx(CTL_EXIT_FAIL, "no daemon running on %s "
			    "(socket %s)", ctl_datadir, path);
		err(CTL_EXIT_FAIL, "%s", path);
	}
	if (ipc_send(fd, IPC_CTL, cmd, num, flags) == -1)
		err(CTL_EXIT_FAIL, "%s: send", path);
	for (;;) {
		n = read(fd, buf + have, sizeof(buf) - have - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			err(CTL_EXIT_FAIL, "%s: read", path);
		if (n == 0)
			break;
		have += n;
		buf[have] = '\0';
		if (first) {
			if ((nl = strchr(buf, '\n')) == NULL &&
			    have < sizeof(buf) - 1)
				continue;
			first = 0;
			if (nl != NULL)
				*nl = '\0';
			if (strcmp(buf, "ok") != 0)
				errx(CTL_EXIT_FAIL, "%s", strncmp(buf,
				    "error: ", 7) == 0 ? buf + 7 : buf);
			ok = 1;
			if (nl == NULL)
				nl = buf + have - 1;
			fwrite(nl + 1, 1, have - (nl + 1 - buf), stdout);
		} else
			fwrite(buf, 1, have, stdout);
		have = 0;
	}
	close(fd);
	if (!ok)
		errx(CTL_EXIT_FAIL, "the daemon closed the connection "
		    "without an answer");
	return (0);
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
	if (json) {
		fputs("{\"jobs\": {", stdout);
		for (i = 0; i < JOB_NSTATES; i++)
			printf("%s\"%s\": %llu", i ? ", " : "",
			    codec_state_name(i),
			    (unsigned long long)qs.qs_count[i]);
		printf("}, \"totals\": {\"enqueued\": %llu, \"completed\": "
		    "%llu, \"failed\": %llu, \"released\": %llu}}\n",
		    (unsigned long long)qs.qs_enqueued,
		    (unsigned long long)qs.qs_completed,
		    (unsigned long long)qs.qs_failed,
		    (unsigned long long)qs.qs_released);
		return (CTL_EXIT_OK);
	}
	printf("jobs:");
	for (i = 0; i < JOB_NSTATES; i++)
		printf(" %s %llu", codec_state_name(i),
		    (unsigned long long)qs.qs_count[i]);
	printf("\ntotals: enqueued %llu completed %llu failed %llu "
	    "released %llu\n", (unsigned long long)qs.qs_enqueued,
	    (unsigned long long)qs.qs_completed,
	    (unsigned long long)qs.qs_failed,
	    (unsigned long long)qs.qs_released);
	return (CTL_EXIT_OK);
}

int
main(int argc, char *argv[])
{
	size_t	 i;
	int	 ch, verbose = 0, rv;

	log_init(1, LOG_DAEMON);
	if (getenv("QUIRE_DATADIR") != NULL)
		ctl_datadir = getenv("QUIRE_DATADIR");
	while ((ch = getopt(argc, argv, "+D:s:v")) != -1) {
		switch (ch) {
		case 'D':
			ctl_datadir = optarg;
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
	log_setverbose(verbose);
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(argv[0], ctl_cmds[i].c_name) != 0)
			continue;
		optind = 0;
		rv = ctl_cmds[i].c_fn(argc, argv);
		if (ctl_queue_open)
			queue_close(&ctl_queue);
		return (rv);
	}
	warnx("unknown command: %s", argv[0]);
	usage();
}
