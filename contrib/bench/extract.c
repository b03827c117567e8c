/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * extract: the speed of the text path alone (read, extract, normalize,
 * chunk, tokenize and stem), without the index, printed as one JSON line
 * on stdout.
 *
 * Method.  The NDJSON records file given as the first argument is cut
 * into byte ranges with submit_ndjson_ranges() (-s, 8 MB by default, as
 * quirectl submits it), and each range is run as a SRC_NDJSON job through
 * ingest_job(), with the configuration of config_defaults() and roots
 * "/", into a sink that only counts documents, chunks and words.  That is
 * the work a worker does before it hands words to its index batch.
 *
 *	w1: one forked process runs every range.
 *	w2: two forked processes share the ranges, each taking the next
 *	one from a counter in shared memory, as workers claim jobs.
 *	dir: with a second argument, a directory of mixed documents, two
 *	processes run its regular files (walked as quirectl submit walks
 *	them) as SRC_PATH jobs, sniffing each file's type.
 *
 * Before any timing the input is read once, so the page cache holds it
 * and the numbers are about the text path, not the disk.  A phase's time
 * is the wall time from the first fork to the last child's exit.  With
 * -r N every phase runs N times and the median rates are reported (of
 * wall time, and of CPU time for mb_per_cpu_s_w1).  MB are 10^6 bytes of
 * input (the ranges' bytes, or the files' sizes).
 *
 * The line holds records (documents that went through; failed_records
 * those that failed on their own), bytes, chunks, tokens,
 * records_per_s_w1, mb_per_s_w1, records_per_s_w2, mb_per_s_w2,
 * speedup_w2 (w2 / w1), mb_per_cpu_s_w1 (bytes over the w1 process's
 * user and system time: the speed of one core, whatever else runs),
 * peak_anon_mb (the largest RssAnon of any process of w1 and w2, read
 * from /proc/self/status after each of its jobs: the text path keeps its
 * buffers between jobs, so this is its working set), vmhwm_mb (the
 * largest VmHWM, peak resident memory, which also counts the program's
 * mapped text), runs, loadavg and loadavg_end (1 minute, at the start and
 * the end: other work on the machine shows in w2 first) and nproc; with a
 * directory also dir_files, dir_bytes, dir_docs, dir_failed (files that
 * failed as a whole: binary, unparsable ...), dir_mb_per_s,
 * dir_peak_anon_mb and dir_vmhwm_mb; without one, dir_mb_per_s is null.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "quire.h"

#define XB_WORKERS_MAX	2
#define XB_RUNS_MAX	100
#define XB_READ		(1 << 20)

struct xb_range {
	const char	*r_path;
	int		 r_kind;	/* SRC_NDJSON or SRC_PATH */
	uint64_t	 r_off;
	uint64_t	 r_len;
};

/* What one worker process found, in shared memory. */
struct xb_res {
	uint64_t	 xr_docs;
	uint64_t	 xr_chunks;
	uint64_t	 xr_tokens;
	uint64_t	 xr_failed_records;
	uint64_t	 xr_failed_jobs;
	uint64_t	 xr_cpu_us;
	long long	 xr_anon_kb;
	long long	 xr_hwm_kb;
	int		 xr_done;
};

struct xb_shared {
	uint64_t	 xs_next;	/* the next range to take */
	struct xb_res	 xs_res[XB_WORKERS_MAX];
};

/* A phase's outcome. */
struct xb_phase {
	double		 xp_secs;
	uint64_t	 xp_docs;
	uint64_t	 xp_chunks;
	uint64_t	 xp_tokens;
	uint64_t	 xp_failed_records;
	uint64_t	 xp_failed_jobs;
	uint64_t	 xp_cpu_us;
	long long	 xp_anon_kb;
	long long	 xp_hwm_kb;
};

struct xb_count {
	uint64_t	 c_tokens;
};

static struct xb_range	*xb_ranges;
static size_t		 xb_nranges, xb_rangecap;
static const char	*xb_file;
static struct xb_shared	*xb_sh;

static void	 usage(void) __dead;

static void
usage(void)
{
	fprintf(stderr, "usage: %s [-r runs] [-s split] records.ndjson "
	    "[directory]\n", getprogname());
	exit(1);
}

static double
xb_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static int
xb_add_range(uint64_t off, uint64_t len, void *arg)
{
	if (xb_nranges == xb_rangecap) {
		xb_rangecap = xb_rangecap == 0 ? 64 : xb_rangecap * 2;
		xb_ranges = xreallocarray(xb_ranges, xb_rangecap,
		    sizeof(*xb_ranges));
	}
	xb_ranges[xb_nranges].r_path = xb_file;
	xb_ranges[xb_nranges].r_kind = SRC_NDJSON;
	xb_ranges[xb_nranges].r_off = off;
	xb_ranges[xb_nranges].r_len = len;
	xb_nranges++;
	return (0);
}

/* Read a file once so that the timed runs find it in the page cache. */
static void
xb_warm(const char *path)
{
	char	*buf;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	buf = xmalloc(XB_READ);
	while ((n = read(fd, buf, XB_READ)) > 0)
		;
	free(buf);
	close(fd);
}

/* A "Name:   123 kB" line of /proc/self/status, or -1. */
static long long
xb_status_kb(const char *name)
{
	char		 line[256];
	size_t		 len = strlen(name);
	long long	 v = -1;
	FILE		*f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, len) == 0 && line[len] == ':') {
			v = strtoll(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return (v);
}

/* The counting sink: the text path's results go no further. */
static int
xb_token(void *arg, int field, const struct token *t)
{
	struct xb_count	*c = arg;

	c->c_tokens++;
	return (0);
}

/* One worker: take ranges [first, last) from the shared counter. */
static void
xb_worker(int slot, size_t first, size_t last)
{
	struct quire_conf	 conf;
	struct ingest		 in;
	struct ingest_sink	 sink;
	struct xb_count		 count;
	struct xb_res		*res = &xb_sh->xs_res[slot];
	struct rusage		 ru;
	struct job		*j;
	long long		 kb;
	uint64_t		 i;
	int			 rv;

	config_defaults(&conf);
	strlcpy(conf.c_roots, "/", sizeof(conf.c_roots));
	if (ingest_init(&in, &conf) == -1)
		_exit(1);
	memset(&count, 0, sizeof(count));
	memset(&sink, 0, sizeof(sink));
	sink.is_arg = &count;
	sink.is_token = xb_token;
	in.in_sink = &sink;
	j = xcalloc(1, sizeof(*j));
	for (;;) {
		i = first + __atomic_fetch_add(&xb_sh->xs_next, 1,
		    __ATOMIC_RELAXED);
		if (i >= last)
			break;
		memset(j, 0, sizeof(*j));
		j->j_id = i + 1;
		j->j_srckind = xb_ranges[i].r_kind;
		strlcpy(j->j_path, xb_ranges[i].r_path, sizeof(j->j_path));
		j->j_off = xb_ranges[i].r_off;
		j->j_len = xb_ranges[i].r_len;
		j->j_size = xb_ranges[i].r_len;
		rv = ingest_job(&in, j);
		if (rv != INGEST_OK)
			res->xr_failed_jobs++;
		res->xr_failed_records += in.in_nfails;
		if ((kb = xb_status_kb("RssAnon")) > res->xr_anon_kb)
			res->xr_anon_kb = kb;
	}
	res->xr_docs = in.in_docs;
	res->xr_chunks = in.in_chunks;
	res->xr_tokens = count.c_tokens;
	res->xr_hwm_kb = xb_status_kb("VmHWM");
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		res->xr_cpu_us = ru.ru_utime.tv_sec * 1000000ULL +
		    ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000ULL +
		    ru.ru_stime.tv_usec;
	res->xr_done = 1;
	free(j);
	ingest_free(&in);
	_exit(0);
}

/* Run ranges [first, last) with n processes; the wall time is theirs. */
static void
xb_phase(size_t first, size_t last, int n, struct xb_phase *xp)
{
	struct xb_res	*r;
	pid_t		 pids[XB_WORKERS_MAX];
	double		 t0;
	int		 i, status, bad = 0;

	memset(xb_sh, 0, sizeof(*xb_sh));
	memset(xp, 0, sizeof(*xp));
	fflush(NULL);
	t0 = xb_now();
	for (i = 0; i < n; i++) {
		switch ((pids[i] = fork())) {
		case -1:
			fatal("fork");
		case 0:
			xb_worker(i, first, last);
		}
	}
	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &status, 0) == -1)
			fatal("waitpid");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	}
	xp->xp_secs = xb_now() - t0;
	for (i = 0; i < n; i++) {
		r = &xb_sh->xs_res[i];
		if (!r->xr_done)
			bad = 1;
		xp->xp_docs += r->xr_docs;
		xp->xp_chunks += r->xr_chunks;
		xp->xp_tokens += r->xr_tokens;
		xp->xp_failed_records += r->xr_failed_records;
		xp->xp_failed_jobs += r->xr_failed_jobs;
		xp->xp_cpu_us += r->xr_cpu_us;
		if (r->xr_anon_kb > xp->xp_anon_kb)
			xp->xp_anon_kb = r->xr_anon_kb;
		if (r->xr_hwm_kb > xp->xp_hwm_kb)
			xp->xp_hwm_kb = r->xr_hwm_kb;
	}
	if (bad)
		fatalx("a worker process failed");
}

static int
xb_cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static double
xb_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), xb_cmp);
	return (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

/* Run a phase runs times; the median times, the counts from the last. */
static void
xb_repeat(size_t first, size_t last, int n, int runs, struct xb_phase *xp,
    long long *anon, long long *hwm)
{
	double	 secs[XB_RUNS_MAX], cpu[XB_RUNS_MAX];
	int	 i;

	for (i = 0; i < runs; i++) {
		xb_phase(first, last, n, xp);
		secs[i] = xp->xp_secs;
		cpu[i] = xp->xp_cpu_us;
		if (xp->xp_anon_kb > *anon)
			*anon = xp->xp_anon_kb;
		if (xp->xp_hwm_kb > *hwm)
			*hwm = xp->xp_hwm_kb;
	}
	xp->xp_secs = xb_median(secs, runs);
	xp->xp_cpu_us = xb_median(cpu, runs);
}

int
main(int argc, char *argv[])
{
	struct submit_batch	 sb;
	struct submit_opts	 so;
	struct xb_phase		 w1, w2, dir;
	struct stat		 st;
	const char		*errstr, *dirpath = NULL;
	uint64_t		 split = SUBMIT_SPLIT_DEFAULT, bytes = 0;
	uint64_t		 dirbytes = 0;
	long long		 anon = 0, hwm = 0, dir_anon = 0, dir_hwm = 0;
	double			 load[1] = { -1 }, load_end[1] = { -1 };
	size_t			 i, nrec, ndir = 0;
	long			 nproc;
	int			 ch, fd, runs = 1;

	log_init(1, LOG_DAEMON);
	while ((ch = getopt(argc, argv, "r:s:")) != -1) {
		switch (ch) {
		case 'r':
			runs = strtonum(optarg, 1, XB_RUNS_MAX, &errstr);
			if (errstr != NULL) {
				fprintf(stderr, "%s: runs %s: %s\n",
				    getprogname(), optarg, errstr);
				usage();
			}
			break;
		case 's':
			if (util_parse_size(optarg, &split, &errstr) == -1 ||
			    split < 4096) {
				fprintf(stderr, "%s: split %s: %s\n",
				    getprogname(), optarg, errstr != NULL ?
				    errstr : "4K at least");
				usage();
			}
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage();
	if (argc == 2)
		dirpath = argv[1];
	if (getloadavg(load, 1) != 1)
		load[0] = -1;

	/* The records file, as byte ranges. */
	xb_file = argv[0];
	if ((fd = open(xb_file, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		fatal("%s", xb_file);
	if (!S_ISREG(st.st_mode))
		fatalx("%s: not a regular file", xb_file);
	if (submit_ndjson_ranges(fd, st.st_size, split, xb_add_range, NULL)
	    == -1)
		fatalx("%s: cannot cut into ranges", xb_file);
	close(fd);
	nrec = xb_nranges;
	for (i = 0; i < nrec; i++)
		bytes += xb_ranges[i].r_len;

	/* The directory's files, as quirectl submit walks it. */
	submit_init(&sb);
	if (dirpath != NULL) {
		memset(&so, 0, sizeof(so));
		if (submit_add_path(&sb, dirpath, &so) == -1)
			fatalx("%s: cannot walk it", dirpath);
		for (i = 0; i < sb.sb_n; i++) {
			xb_add_range(0, sb.sb_jobs[i].qn_size, NULL);
			xb_ranges[xb_nranges - 1].r_path =
			    sb.sb_jobs[i].qn_path;
			xb_ranges[xb_nranges - 1].r_kind = SRC_PATH;
			dirbytes += sb.sb_jobs[i].qn_size;
		}
		ndir = sb.sb_n;
	}

	xb_sh = mmap(NULL, sizeof(*xb_sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (xb_sh == MAP_FAILED)
		fatal("mmap");

	xb_warm(xb_file);
	for (i = nrec; i < xb_nranges; i++)
		xb_warm(xb_ranges[i].r_path);

	xb_repeat(0, nrec, 1, runs, &w1, &anon, &hwm);
	xb_repeat(0, nrec, 2, runs, &w2, &anon, &hwm);
	if (w1.xp_docs != w2.xp_docs)
		fatalx("w1 saw %llu documents, w2 %llu",
		    (unsigned long long)w1.xp_docs,
		    (unsigned long long)w2.xp_docs);
	memset(&dir, 0, sizeof(dir));
	if (ndir > 0)
		xb_repeat(nrec, xb_nranges, 2, runs, &dir, &dir_anon,
		    &dir_hwm);

	if (getloadavg(load_end, 1) != 1)
		load_end[0] = -1;
	if ((nproc = sysconf(_SC_NPROCESSORS_ONLN)) < 1)
		nproc = 1;
	printf("{\"records\": %llu, \"failed_records\": %llu, \"bytes\": %llu, "
	    "\"chunks\": %llu, \"tokens\": %llu, \"records_per_s_w1\": %.0f, "
	    "\"mb_per_s_w1\": %.2f, \"records_per_s_w2\": %.0f, "
	    "\"mb_per_s_w2\": %.2f, \"speedup_w2\": %.2f, "
	    "\"mb_per_cpu_s_w1\": %.2f, ",
	    (unsigned long long)w1.xp_docs,
	    (unsigned long long)w1.xp_failed_records,
	    (unsigned long long)bytes, (unsigned long long)w1.xp_chunks,
	    (unsigned long long)w1.xp_tokens, w1.xp_docs / w1.xp_secs,
	    bytes / 1e6 / w1.xp_secs, w2.xp_docs / w2.xp_secs,
	    bytes / 1e6 / w2.xp_secs, w1.xp_secs / w2.xp_secs,
	    w1.xp_cpu_us > 0 ? bytes / (double)w1.xp_cpu_us : 0.0);
	if (ndir > 0)
		printf("\"dir_files\": %zu, \"dir_bytes\": %llu, "
		    "\"dir_docs\": %llu, \"dir_failed\": %llu, "
		    "\"dir_mb_per_s\": %.2f, \"dir_peak_anon_mb\": %.1f, "
		    "\"dir_vmhwm_mb\": %.1f, ", ndir,
		    (unsigned long long)dirbytes,
		    (unsigned long long)dir.xp_docs,
		    (unsigned long long)dir.xp_failed_jobs,
		    dirbytes / 1e6 / dir.xp_secs, dir_anon / 1024.0,
		    dir_hwm / 1024.0);
	else
		printf("\"dir_mb_per_s\": null, ");
	printf("\"peak_anon_mb\": %.1f, \"peak_anon_from\": \"RssAnon after "
	    "each job\", \"vmhwm_mb\": %.1f, \"runs\": %d, \"loadavg\": %.2f, "
	    "\"loadavg_end\": %.2f, \"nproc\": %ld}\n", anon / 1024.0,
	    hwm / 1024.0, runs, load[0], load_end[0], nproc);
	submit_free(&sb);
	free(xb_ranges);
	munmap(xb_sh, sizeof(*xb_sh));
	return (0);
}
