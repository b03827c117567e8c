/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for pressure.c: the parsers on the kernel's own formats (copied
 * from real machines) and on damaged ones; sampling of made-up cgroup
 * directories under $TMPDIR, where every figure is known; sampling of
 * this machine; real v1 and v2 groups with a limit, a process charged to
 * them and an OOM kill, when we may make them (as root, else skipped);
 * and PSI triggers, armed or refused without leaking a descriptor.
 *
 * Real groups are named quire-check-PID after the runner's pid, so two
 * runs at once do not meet, and an unchecked teardown (run by the runner
 * even when a test failed or timed out) kills what is left in them and
 * removes them.
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

#define KIB		1024ULL
#define MIB		(1024ULL * 1024)
#define V1_UNLIMITED	"9223372036854771712"

/* Real groups made by this run, removed by cg_teardown(). */
static char	 cg_v1[PATH_MAX];	/* v1 group */
static char	 cg_v1_inner[PATH_MAX];	/* a group inside it */
static char	 cg_v2[PATH_MAX];	/* v2 group */

/* /proc/meminfo of the machine these tests were written on. */
static const char meminfo_real[] =
    "MemTotal:       24683784 kB\n"
    "MemFree:        24234104 kB\n"
    "MemAvailable:   24333264 kB\n"
    "Buffers:            3152 kB\n"
    "Cached:           270520 kB\n"
    "SwapCached:            0 kB\n"
    "Active:           123972 kB\n"
    "Inactive:         143164 kB\n"
    "Active(anon):         24 kB\n"
    "Inactive(anon):     3592 kB\n"
    "Active(file):     123948 kB\n"
    "Inactive(file):   139572 kB\n"
    "Unevictable:       14040 kB\n"
    "Mlocked:           11192 kB\n"
    "SwapTotal:             0 kB\n"
    "SwapFree:              0 kB\n"
    "Zswap:                 0 kB\n"
    "Zswapped:              0 kB\n"
    "Dirty:               168 kB\n"
    "Writeback:             0 kB\n"
    "AnonPages:          7608 kB\n"
    "Mapped:            11608 kB\n"
    "Shmem:             10152 kB\n"
    "KReclaimable:      88688 kB\n"
    "Slab:             112528 kB\n"
    "SReclaimable:      88688 kB\n"
    "SUnreclaim:        23840 kB\n"
    "KernelStack:        1476 kB\n"
    "PageTables:         1944 kB\n"
    "SecPageTables:         0 kB\n"
    "NFS_Unstable:          0 kB\n"
    "Bounce:                0 kB\n"
    "WritebackTmp:          0 kB\n"
    "CommitLimit:    12341892 kB\n"
    "Committed_AS:      63320 kB\n"
    "VmallocTotal:   34359738367 kB\n"
    "VmallocUsed:       14332 kB\n"
    "VmallocChunk:          0 kB\n"
    "Percpu:              768 kB\n"
    "AnonHugePages:         0 kB\n"
    "ShmemHugePages:        0 kB\n"
    "ShmemPmdMapped:        0 kB\n"
    "FileHugePages:         0 kB\n"
    "FilePmdMapped:         0 kB\n"
    "Balloon:               0 kB\n"
    "HugePages_Total:       0\n"
    "HugePages_Free:        0\n"
    "HugePages_Rsvd:        0\n"
    "HugePages_Surp:        0\n"
    "Hugepagesize:       2048 kB\n"
    "Hugetlb:               0 kB\n"
    "DirectMap4k:       30720 kB\n"
    "DirectMap2M:     2066432 kB\n"
    "DirectMap1G:    25165824 kB\n";

/* A v2 memory.stat (kernel 6.x), cut after the keys that matter. */
static const char stat_v2[] =
    "anon 1232896\n"
    "file 2347008\n"
    "kernel 344064\n"
    "kernel_stack 32768\n"
    "pagetables 65536\n"
    "sec_pagetables 0\n"
    "percpu 1024\n"
    "sock 0\n"
    "vmalloc 0\n"
    "shmem 4096\n"
    "zswap 0\n"
    "zswapped 0\n"
    "file_mapped 1048576\n"
    "file_dirty 8192\n"
    "file_writeback 4096\n"
    "swapcached 0\n"
    "anon_thp 0\n"
    "file_thp 0\n"
    "shmem_thp 0\n"
    "inactive_anon 1200128\n"
    "active_anon 32768\n"
    "inactive_file 1302528\n"
    "active_file 1040384\n"
    "unevictable 0\n"
    "slab_reclaimable 200704\n"
    "slab_unreclaimable 81920\n"
    "slab 282624\n"
    "workingset_refault_anon 0\n"
    "workingset_refault_file 12\n"
    "workingset_activate_anon 0\n"
    "workingset_activate_file 3\n"
    "workingset_restore_anon 0\n"
    "workingset_restore_file 1\n"
    "workingset_nodereclaim 0\n"
    "pgscan 120\n"
    "pgsteal 100\n"
    "pgfault 56789\n"
    "pgmajfault 12\n"
    "pgrefill 0\n"
    "pgactivate 345\n"
    "thp_fault_alloc 0\n";

/* A v1 memory.stat: the total_* keys count the subgroups too. */
static const char stat_v1[] =
    "cache 491520\n"
    "rss 1654784\n"
    "rss_huge 0\n"
    "shmem 0\n"
    "mapped_file 0\n"
    "dirty 40960\n"
    "writeback 0\n"
    "workingset_refault_anon 0\n"
    "workingset_refault_file 101\n"
    "swap 0\n"
    "swapcached 0\n"
    "pgpgin 13020\n"
    "pgpgout 12496\n"
    "pgfault 31384\n"
    "pgmajfault 9\n"
    "inactive_anon 1576960\n"
    "active_anon 12288\n"
    "inactive_file 217088\n"
    "active_file 274432\n"
    "unevictable 0\n"
    "hierarchical_memory_limit 268435456\n"
    "hierarchical_memsw_limit " V1_UNLIMITED "\n"
    "total_cache 104857600\n"
    "total_rss 115343360\n"
    "total_rss_huge 0\n"
    "total_shmem 0\n"
    "total_mapped_file 0\n"
    "total_dirty 8388608\n"
    "total_writeback 2097152\n"
    "total_workingset_refault_anon 0\n"
    "total_workingset_refault_file 101\n"
    "total_swap 0\n"
    "total_swapcached 0\n"
    "total_pgpgin 13020\n"
    "total_pgpgout 12496\n"
    "total_pgfault 31384\n"
    "total_pgmajfault 9\n"
    "total_inactive_anon 1576960\n"
    "total_active_anon 12288\n"
    "total_inactive_file 41943040\n"
    "total_active_file 62914560\n"
    "total_unevictable 0\n";

/* /proc/self/mountinfo of the machine these tests were written on. */
static const char mountinfo_v1[] =
    "21 26 0:20 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "23 26 0:22 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup "
    "rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup "
    "rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup "
    "rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup "
    "rw,devices\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* Debian 12: the unified hierarchy alone, with optional fields. */
static const char mountinfo_v2[] =
    "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 "
    "rw,errors=remount-ro\n"
    "23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs "
    "sysfs rw\n"
    "25 23 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 "
    "- cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
    "26 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc "
    "proc rw\n";

/* A container without a cgroup namespace: the mount is a subtree. */
static const char mountinfo_ct2[] =
    "1201 1180 0:48 / / rw,relatime master:310 - overlay overlay "
    "rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
    "1210 1208 0:27 /system.slice/docker-ab12.scope /sys/fs/cgroup "
    "ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n";

static const char mountinfo_ct1[] =
    "612 606 0:34 /docker/ab12 /sys/fs/cgroup/memory "
    "ro,nosuid,nodev,noexec,relatime master:16 - cgroup cgroup rw,memory\n";

/* dir/name into buf, which must hold it. */
static void
path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	ck_assert(n >= 0 && (size_t)n < len);
}

/* Write text to dir/name, creating it. */
static void
put(const char *dir, const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	path_join(path, sizeof(path), dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_ge(fputs(text, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
}

/* A fresh directory under the run's directory. */
static void
fresh_dir(char *buf, size_t len)
{
	ck_assert_int_lt(snprintf(buf, len, "%s/cg.XXXXXX", tlib_top),
	    (int)len);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* dir/name made as a directory, its path in buf. */
static void
sub_dir(char *buf, size_t len, const char *dir, const char *name)
{
	path_join(buf, len, dir, name);
	ck_assert_int_eq(mkdir(buf, 0755), 0);
}

/* A whole file in memory, NUL-terminated, or NULL. */
static char *
slurp(const char *path)
{
	char	*buf = NULL, *nbuf;
	size_t	 size = 0, off = 0, n;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return (NULL);
	do {
		if (off + 1 >= size) {
			size = size == 0 ? 8192 : size * 2;
			if ((nbuf = realloc(buf, size)) == NULL) {
				free(buf);
				fclose(fp);
				return (NULL);
			}
			buf = nbuf;
		}
		n = fread(buf + off, 1, size - 1 - off, fp);
		off += n;
	} while (n > 0);
	fclose(fp);
	buf[off] = '\0';
	return (buf);
}

/* Open descriptors of this process. */
static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

/* Whether s begins with prefix and ends with suffix. */
static int
frames(const char *s, const char *prefix, const char *suffix)
{
	size_t	 len, slen;

	len = strlen(s);
	slen = strlen(suffix);
	return (strncmp(s, prefix, strlen(prefix)) == 0 && len >= slen &&
	    strcmp(s + len - slen, suffix) == 0);
}

/* The last component of a path. */
static const char *
base(const char *path)
{
	const char	*p;

	return ((p = strrchr(path, '/')) == NULL ? path : p + 1);
}

/* Write text to a cgroup file; -1 with errno. */
static int
cg_write(const char *path, const char *text)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = write(fd, text, strlen(text));
	close(fd);
	return (n == (ssize_t)strlen(text) ? 0 : -1);
}

/* Write text to the file name of group dir, which must take it. */
static void
cg_set(const char *dir, const char *name, const char *text)
{
	char	 path[PATH_MAX];

	path_join(path, sizeof(path), dir, name);
	ck_assert_msg(cg_write(path, text) == 0, "%s: %s", path,
	    strerror(errno));
}

/* Kill what our tests left in a group of ours, then remove it. */
static void
cg_remove(const char *dir)
{
	char		 path[PATH_MAX], *procs, *p;
	long		 pid;
	int		 i;

	if (dir[0] == '\0' || access(dir, F_OK) == -1)
		return;
	if (snprintf(path, sizeof(path), "%s/cgroup.procs", dir) <
	    (int)sizeof(path) && (procs = slurp(path)) != NULL) {
		for (p = procs; p != NULL && *p != '\0';
		    p = strchr(p + 1, '\n'))
			if ((pid = strtol(p, NULL, 10)) > 0)
				kill((pid_t)pid, SIGKILL);
		free(procs);
	}
	/* A killed process leaves its group a moment later. */
	for (i = 0; i < 100 && rmdir(dir) == -1 && errno == EBUSY; i++)
		usleep(50000);
	if (access(dir, F_OK) == 0)
		fprintf(stderr, "check_pressure: cannot remove %s: %s\n", dir,
		    strerror(errno));
}

/*
 * Unchecked setup, in the runner: name the groups this run may make
 * after the runner's pid, under the v1 memory and cgroup2 mounts.
 */
static void
cg_setup(void)
{
	char	*mi, mnt[PATH_MAX];
	int	 pid;

	pid = (int)getpid();
	if ((mi = slurp("/proc/self/mountinfo")) == NULL)
		return;
	if (pressure_parse_mountinfo(mi, 1, "/", mnt, sizeof(mnt)) == 0 &&
	    (snprintf(cg_v1, sizeof(cg_v1), "%s/quire-check-%d", mnt,
	    pid) >= (int)sizeof(cg_v1) || snprintf(cg_v1_inner,
	    sizeof(cg_v1_inner), "%s/inner", cg_v1) >=
	    (int)sizeof(cg_v1_inner)))
		cg_v1[0] = cg_v1_inner[0] = '\0';
	if (pressure_parse_mountinfo(mi, 2, "/", mnt, sizeof(mnt)) == 0 &&
	    snprintf(cg_v2, sizeof(cg_v2), "%s/quire-check-%d", mnt,
	    pid) >= (int)sizeof(cg_v2))
		cg_v2[0] = '\0';
	free(mi);
}

/* Unchecked teardown, in the runner, whatever the tests did. */
static void
cg_teardown(void)
{
	cg_remove(cg_v1_inner);
	cg_remove(cg_v1);
	cg_remove(cg_v2);
}

/*
 * A child that joins group and touches mib MiB of anonymous memory,
 * then writes a byte on the pipe *rfd and waits to be killed.  It dies
 * with the test; an OOM kill shows as the end of the pipe.
 */
static pid_t
hog(const char *group, size_t mib, int *rfd)
{
	char	 path[PATH_MAX], pid[32], *mem;
	pid_t	 child, parent;
	size_t	 i;
	int	 p[2];

	parent = getpid();
	path_join(path, sizeof(path), group, "cgroup.procs");
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ne(child = fork(), -1);
	if (child == 0) {
		close(p[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(1);
		snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
		if (cg_write(path, pid) == -1)
			_exit(1);
		if ((mem = malloc(mib * MIB)) == NULL)
			_exit(1);
		for (i = 0; i < mib * MIB; i += 4096)
			mem[i] = 1;
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	*rfd = p[0];
	return (child);
}

/* Wait for a hog to be ready; 0 if it is, -1 if it died first. */
static int
hog_ready(int rfd)
{
	char	 c;
	ssize_t	 n;

	while ((n = read(rfd, &c, 1)) == -1 && errno == EINTR)
		;
	close(rfd);
	return (n == 1 ? 0 : -1);
}

/* Kill a hog and reap it; its wait status. */
static int
hog_end(pid_t pid)
{
	int	 status;

	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (status);
}

/* Whether the comma or blank separated list in file path has word. */
static int
file_has_word(const char *path, const char *word)
{
	char	*text, *p, *save = NULL;
	int	 found = 0;

	if ((text = slurp(path)) == NULL)
		return (0);
	for (p = strtok_r(text, " ,\n", &save); p != NULL && !found;
	    p = strtok_r(NULL, " ,\n", &save))
		found = strcmp(p, word) == 0;
	free(text);
	return (found);
}

/* Parsers. */

START_TEST(test_meminfo)
{
	uint64_t	 total = 1, avail = 1;

	ck_assert_int_eq(pressure_parse_meminfo(meminfo_real, &total, &avail),
	    0);
	ck_assert_uint_eq(total, 24683784 * KIB);
	ck_assert_uint_eq(avail, 24333264 * KIB);

	/* Without a final newline, and in another order. */
	ck_assert_int_eq(pressure_parse_meminfo("MemAvailable: 2 kB\n"
	    "MemTotal: 3 kB", &total, &avail), 0);
	ck_assert_uint_eq(total, 3 * KIB);
	ck_assert_uint_eq(avail, 2 * KIB);

	/* Only a key at the start of a line and before ':' counts. */
	ck_assert_int_eq(pressure_parse_meminfo("XMemTotal: 9 kB\n"
	    "MemTotalX: 8 kB\nMemTotal: 7 kB\nMemAvailable: 6 kB\n",
	    &total, &avail), 0);
	ck_assert_uint_eq(total, 7 * KIB);
	ck_assert_uint_eq(avail, 6 * KIB);
}
END_TEST

START_TEST(test_meminfo_bad)
{
	static const char *bad[] = {
		"",
		"\n",
		"MemTotal:       24683784 kB\n",	/* no MemAvailable */
		"MemAvailable:   24333264 kB\n",	/* no MemTotal */
		"MemTotal:       24683784 kB\nMemAvailable:   2433",
		"MemTotal:       24683784 kB\nMemAvailable:\n",
		"MemTotal:       abc kB\nMemAvailable:   1 kB\n",
		"MemTotal:       -5 kB\nMemAvailable:   1 kB\n",
		"MemTotal:       12x kB\nMemAvailable:   1 kB\n",
		"MemTotal:       12 MB\nMemAvailable:   1 kB\n",
		"MemTotal:       12 kBytes\nMemAvailable:   1 kB\n",
		"MemTotal:       99999999999999999999 kB\nMemAvailable: 1 kB\n",
		"MemTotal:       18014398509481984 kB\nMemAvailable: 1 kB\n",
		"MemTotal 12 kB\nMemAvailable 1 kB\n",
	};
	uint64_t	 total, avail;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pressure_parse_meminfo(bad[i], &total,
		    &avail) == -1, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_psi)
{
	double		 some = -2, full = -2;
	uint64_t	 st = 1, ft = 1;

	ck_assert_int_eq(pressure_parse_psi(
	    "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
	    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	    &some, &full, &st, &ft), 0);
	ck_assert_double_eq(some, 0.0);
	ck_assert_double_eq(full, 0.0);
	ck_assert_uint_eq(st, 0);
	ck_assert_uint_eq(ft, 0);

	ck_assert_int_eq(pressure_parse_psi(
	    "some avg10=12.53 avg60=4.10 avg300=0.92 total=48291733\n"
	    "full avg10=3.07 avg60=1.00 avg300=0.21 total=10299174\n",
	    &some, &full, &st, &ft), 0);
	ck_assert_double_eq_tol(some, 12.53, 1e-9);
	ck_assert_double_eq_tol(full, 3.07, 1e-9);
	ck_assert_uint_eq(st, 48291733);
	ck_assert_uint_eq(ft, 10299174);

	/* No "full" line (the CPU file before 5.13): full is 0. */
	full = -2;
	ft = 1;
	ck_assert_int_eq(pressure_parse_psi(
	    "some avg10=100.00 avg60=99.50 avg300=80.00 "
	    "total=18446744073709551615",
	    &some, &full, &st, &ft), 0);
	ck_assert_double_eq_tol(some, 100.0, 1e-9);
	ck_assert_double_eq(full, 0.0);
	ck_assert_uint_eq(st, UINT64_MAX);
	ck_assert_uint_eq(ft, 0);
}
END_TEST

START_TEST(test_psi_bad)
{
	static const char *bad[] = {
		"",
		"\n",
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=abc avg60=0.00 avg300=0.00 total=0\n",
		"some avg10= avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=1. avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=nan avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=12x\n",
		"some avg10=0.00 avg60=",
		"some avg10=0.00 total=0\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00\n",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=0 extra\n",
		"someavg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		/* A good "some" with a damaged "full". */
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
		"full avg10=0.00 avg60=0.00 avg3",
		"some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
		"full avg10=x avg60=0.00 avg300=0.00 total=0\n",
	};
	double		 some, full;
	uint64_t	 st, ft;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pressure_parse_psi(bad[i], &some, &full, &st,
		    &ft) == -1, "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_key_v2)
{
	static const char events[] =
	    "low 0\nhigh 12\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n";
	uint64_t	 v = 0;

	ck_assert_int_eq(pressure_parse_key(stat_v2, "active_file", &v), 0);
	ck_assert_uint_eq(v, 1040384);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "inactive_file", &v), 0);
	ck_assert_uint_eq(v, 1302528);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "file_dirty", &v), 0);
	ck_assert_uint_eq(v, 8192);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "file_writeback", &v),
	    0);
	ck_assert_uint_eq(v, 4096);
	/* "file" is a prefix of file_mapped, file_dirty...; it has a line. */
	ck_assert_int_eq(pressure_parse_key(stat_v2, "file", &v), 0);
	ck_assert_uint_eq(v, 2347008);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "anon", &v), 0);
	ck_assert_uint_eq(v, 1232896);
	/* The last line. */
	ck_assert_int_eq(pressure_parse_key(stat_v2, "thp_fault_alloc", &v),
	    0);
	ck_assert_uint_eq(v, 0);

	ck_assert_int_eq(pressure_parse_key(events, "oom_kill", &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(pressure_parse_key(events, "oom", &v), 0);
	ck_assert_uint_eq(v, 2);
	ck_assert_int_eq(pressure_parse_key(events, "max", &v), 0);
	ck_assert_uint_eq(v, 3);
}
END_TEST

START_TEST(test_key_v1)
{
	static const char oom[] =
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
	uint64_t	 v = 0;

	/* The unprefixed keys are this group's alone. */
	ck_assert_int_eq(pressure_parse_key(stat_v1, "active_file", &v), 0);
	ck_assert_uint_eq(v, 274432);
	ck_assert_int_eq(pressure_parse_key(stat_v1, "total_active_file",
	    &v), 0);
	ck_assert_uint_eq(v, 62914560);
	ck_assert_int_eq(pressure_parse_key(stat_v1, "inactive_file", &v), 0);
	ck_assert_uint_eq(v, 217088);
	ck_assert_int_eq(pressure_parse_key(stat_v1, "total_inactive_file",
	    &v), 0);
	ck_assert_uint_eq(v, 41943040);
	ck_assert_int_eq(pressure_parse_key(stat_v1, "dirty", &v), 0);
	ck_assert_uint_eq(v, 40960);
	ck_assert_int_eq(pressure_parse_key(stat_v1, "total_dirty", &v), 0);
	ck_assert_uint_eq(v, 8388608);
	ck_assert_int_eq(pressure_parse_key(stat_v1,
	    "hierarchical_memory_limit", &v), 0);
	ck_assert_uint_eq(v, 268435456);
	ck_assert_int_eq(pressure_parse_key(stat_v1,
	    "hierarchical_memsw_limit", &v), 0);
	ck_assert_uint_eq(v, 9223372036854771712ULL);

	ck_assert_int_eq(pressure_parse_key(oom, "oom_kill", &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(pressure_parse_key(oom, "oom_kill_disable", &v), 0);
	ck_assert_uint_eq(v, 0);
	/* Kernels before 4.13 had no oom_kill line. */
	ck_assert_int_eq(pressure_parse_key("oom_kill_disable 0\n"
	    "under_oom 0\n", "oom_kill", &v), -1);
}
END_TEST

START_TEST(test_key_bad)
{
	uint64_t	 v = 7;

	/* Prefixes and suffixes of keys that are there. */
	ck_assert_int_eq(pressure_parse_key(stat_v2, "active", &v), -1);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "active_file_x", &v),
	    -1);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "ctive_file", &v), -1);
	ck_assert_int_eq(pressure_parse_key(stat_v1, "writeback_x", &v), -1);
	ck_assert_int_eq(pressure_parse_key(stat_v2, "", &v), -1);
	ck_assert_int_eq(pressure_parse_key("", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file\n", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file \n", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file 12x\n", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file -1\n", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file abc\n", "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file 99999999999999999999\n",
	    "file", &v), -1);
	ck_assert_int_eq(pressure_parse_key("file:12\n", "file", &v), -1);
	ck_assert_uint_eq(v, 7);
	/* A truncated file: the key without its number. */
	ck_assert_int_eq(pressure_parse_key("anon 5\nfile ", "file", &v),
	    -1);
}
END_TEST

START_TEST(test_limit)
{
	static const char *bad[] = {
		"", "\n", "max5\n", "maxi\n", "Max\n", "12abc\n", "-1\n",
		" 5\n", "5 \n", "5\n\n", "99999999999999999999999\n", "0x10\n",
		"1.5\n",
	};
	uint64_t	 v = 0;
	size_t		 i;

	ck_assert_int_eq(pressure_parse_limit("max\n", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(pressure_parse_limit("max", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(pressure_parse_limit("268435456\n", &v), 0);
	ck_assert_uint_eq(v, 268435456);
	ck_assert_int_eq(pressure_parse_limit("0\n", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pressure_parse_limit(V1_UNLIMITED "\n", &v), 0);
	ck_assert_uint_eq(v, 9223372036854771712ULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pressure_parse_limit(bad[i], &v) == -1,
		    "accepted: %s", bad[i]);
}
END_TEST

START_TEST(test_cgroup)
{
	/* This machine: v1 controllers and an empty unified hierarchy. */
	static const char v1[] =
	    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n"
	    "5:devices:/\n"
	    "4:memory:/process_api/269eed81db0f429b4f039f3bc8c0eb90\n"
	    "3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
	/* Systemd's hybrid layout: v1 memory wins over the 0:: line. */
	static const char hybrid[] =
	    "12:cpuset:/\n11:memory:/system.slice/quire.service\n"
	    "10:cpu,cpuacct:/system.slice/quire.service\n"
	    "1:name=systemd:/system.slice/quire.service\n"
	    "0::/system.slice/quire.service\n";
	char		 path[PATH_MAX];
	int		 version = 0;

	ck_assert_int_eq(pressure_parse_cgroup(v1, &version, path,
	    sizeof(path)), 0);
	ck_assert_int_eq(version, 1);
	ck_assert_str_eq(path, "/process_api/269eed81db0f429b4f039f3bc8c0eb90");

	ck_assert_int_eq(pressure_parse_cgroup(
	    "0::/system.slice/quire.service\n", &version, path,
	    sizeof(path)), 0);
	ck_assert_int_eq(version, 2);
	ck_assert_str_eq(path, "/system.slice/quire.service");

	ck_assert_int_eq(pressure_parse_cgroup(hybrid, &version, path,
	    sizeof(path)), 0);
	ck_assert_int_eq(version, 1);
	ck_assert_str_eq(path, "/system.slice/quire.service");

	/* Memory in a list of controllers, no final newline. */
	ck_assert_int_eq(pressure_parse_cgroup("0::/x\n4:cpu,memory:/a/b",
	    &version, path, sizeof(path)), 0);
	ck_assert_int_eq(version, 1);
	ck_assert_str_eq(path, "/a/b");

	/* Hybrid without v1 memory, and names that only look like it. */
	ck_assert_int_eq(pressure_parse_cgroup("3:memory_x:/a\n"
	    "2:name=memory:/b\n1:name=systemd:/c\n0::/user.slice\n",
	    &version, path, sizeof(path)), 0);
	ck_assert_int_eq(version, 2);
	ck_assert_str_eq(path, "/user.slice");

	/* Damaged lines are passed over. */
	ck_assert_int_eq(pressure_parse_cgroup("4:memory\nmemory:/a\n"
	    ":memory:/b\n0::/ok\n", &version, path, sizeof(path)), 0);
	ck_assert_int_eq(version, 2);
	ck_assert_str_eq(path, "/ok");
}
END_TEST

START_TEST(test_cgroup_bad)
{
	char	 path[16];
	int	 version = 9;

	ck_assert_int_eq(pressure_parse_cgroup("", &version, path,
	    sizeof(path)), -1);
	ck_assert_int_eq(pressure_parse_cgroup("1:cpu:/\n2:pids:/a\n",
	    &version, path, sizeof(path)), -1);
	ck_assert_int_eq(pressure_parse_cgroup("4:memory\n", &version, path,
	    sizeof(path)), -1);
	ck_assert_int_eq(pressure_parse_cgroup("4:memory:\n", &version, path,
	    sizeof(path)), -1);
	ck_assert_int_eq(pressure_parse_cgroup("0::relative\n", &version,
	    path, sizeof(path)), -1);
	ck_assert_int_eq(version, 9);
	/* Too long for the buffer, and just fitting. */
	ck_assert_int_eq(pressure_parse_cgroup("0::/0123456789abcde\n",
	    &version, path, sizeof(path)), -1);
	ck_assert_int_eq(pressure_parse_cgroup("0::/0123456789abcd\n",
	    &version, path, sizeof(path)), 0);
	ck_assert_str_eq(path, "/0123456789abcd");
}
END_TEST

START_TEST(test_mountinfo)
{
	char	 dir[PATH_MAX];

	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v1, 1,
	    "/process_api/269eed81db0f429b4f039f3bc8c0eb90", dir,
	    sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/memory/process_api/"
	    "269eed81db0f429b4f039f3bc8c0eb90");
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v1, 1, "/", dir,
	    sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/memory");
	/* Its unified hierarchy is there, without memory files. */
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v1, 2, "/", dir,
	    sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/unified");

	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v2, 2,
	    "/system.slice/quire.service", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/system.slice/quire.service");
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v2, 1,
	    "/system.slice/quire.service", dir, sizeof(dir)), -1);

	/* Escaped blanks in the mount point. */
	ck_assert_int_eq(pressure_parse_mountinfo("30 1 0:9 / /mnt/cg\\040two "
	    "rw - cgroup2 none rw\n", 2, "/a", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/mnt/cg two/a");

	/* A mount point too long for the buffer. */
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v2, 2,
	    "/system.slice/quire.service", dir, 20), -1);
}
END_TEST

START_TEST(test_mountinfo_container)
{
	char	 dir[PATH_MAX];

	/* Our group is the mount's root. */
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_ct2, 2,
	    "/system.slice/docker-ab12.scope", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup");
	/* Below it. */
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_ct2, 2,
	    "/system.slice/docker-ab12.scope/quire", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/quire");
	/* Outside it, and a name that the root is only a prefix of. */
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_ct2, 2,
	    "/user.slice", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup");
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_ct2, 2,
	    "/system.slice/docker-ab12.scopex/a", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup");

	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_ct1, 1,
	    "/docker/ab12", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/memory");
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_ct1, 1,
	    "/docker/ab12/x", dir, sizeof(dir)), 0);
	ck_assert_str_eq(dir, "/sys/fs/cgroup/memory/x");
}
END_TEST

START_TEST(test_mountinfo_none)
{
	char	 dir[PATH_MAX];

	ck_assert_int_eq(pressure_parse_mountinfo("", 1, "/", dir,
	    sizeof(dir)), -1);
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v2, 1, "/", dir,
	    sizeof(dir)), -1);
	/* cgroup v1 mounts without memory; "memory" in another field. */
	ck_assert_int_eq(pressure_parse_mountinfo(
	    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup "
	    "rw,cpu\n"
	    "33 31 0:30 / /memory rw,memory - cgroup memory rw,cpuacct\n"
	    "34 31 0:31 / /sys/fs/cgroup/x rw - cgroup cgroup "
	    "rw,memory_recursiveprot\n"
	    "35 31 0:32 / /sys/fs/cgroup/y rw - cgroup2 cgroup2 rw,memory\n",
	    1, "/", dir, sizeof(dir)), -1);
	/* Truncated lines: no separator, no fstype, no super options. */
	ck_assert_int_eq(pressure_parse_mountinfo(
	    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime cgroup cgroup "
	    "rw,memory\n"
	    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime -\n"
	    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup\n"
	    "35 31 0:32 /\n",
	    1, "/", dir, sizeof(dir)), -1);
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v1, 3, "/", dir,
	    sizeof(dir)), -1);
	ck_assert_int_eq(pressure_parse_mountinfo(mountinfo_v1, 1, NULL, dir,
	    sizeof(dir)), -1);
}
END_TEST

/* Sampling made-up groups. */

/* A v2 group's files; current and max are text, the rest numbers. */
static void
fake_v2(const char *dir, const char *current, const char *max,
    const char *high)
{
	put(dir, "cgroup.procs", "");
	put(dir, "memory.current", current);
	put(dir, "memory.max", max);
	put(dir, "memory.high", high);
}

/* Headroom as the module must compute it. */
static uint64_t
want_headroom(const struct psample *ps)
{
	uint64_t	 room;

	room = ps->ps_limit > ps->ps_usage ? ps->ps_limit - ps->ps_usage : 0;
	return (room < ps->ps_avail ? room : ps->ps_avail);
}

START_TEST(test_sample_v2)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		 top[PATH_MAX], a[PATH_MAX], b[PATH_MAX], psi[PATH_MAX];
	char		 stat[1024], desc[2 * PATH_MAX], want[2 * PATH_MAX];

	fresh_dir(top, sizeof(top));
	/* a limits b; b sets the lower soft target. */
	sub_dir(a, sizeof(a), top, "a");
	sub_dir(b, sizeof(b), a, "b");
	fake_v2(a, "120586240\n", "268435456\n", "max\n");
	fake_v2(b, "104857600\n", "max\n", "201326592\n");
	snprintf(stat, sizeof(stat), "anon 5\nfile 7\nactive_file %llu\n"
	    "inactive_file %llu\nfile_dirty %llu\nfile_writeback %llu\n",
	    30 * MIB, 20 * MIB, 4 * MIB, 1 * MIB);
	put(b, "memory.stat", stat);
	put(b, "memory.events", "low 0\nhigh 4\nmax 2\noom 3\noom_kill 2\n"
	    "oom_group_kill 0\n");
	put(b, "memory.pressure",
	    "some avg10=1.50 avg60=0.75 avg300=0.10 total=123456\n"
	    "full avg10=0.25 avg60=0.05 avg300=0.00 total=6543\n");

	ck_assert_int_eq(pressure_init_dir(&pr, 2, b), 0);
	ck_assert_int_eq(pr.pr_cgversion, 2);
	ck_assert_str_eq(pr.pr_cgdir, b);
	path_join(psi, sizeof(psi), b, "memory.pressure");
	ck_assert_str_eq(pr.pr_psipath, psi);
	ck_assert_int_eq(pr.pr_trigfd, -1);
	ck_assert_int_eq(pr.pr_psifd, -1);
	ck_assert_int_lt(snprintf(want, sizeof(want), "cgroup v2 %s, PSI %s",
	    b, psi), (int)sizeof(want));
	ck_assert_str_eq(pressure_describe(&pr, desc, sizeof(desc)), want);

	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_gt(ps.ps_at, 0);
	ck_assert_uint_eq(ps.ps_limit, 256 * MIB);
	ck_assert_msg(frames(ps.ps_limit_source, "cgroup v2 memory.max ",
	    "/a"), "source %s", ps.ps_limit_source);
	ck_assert_uint_eq(ps.ps_high, 192 * MIB);
	/* 100 MiB used, 30 + 20 of file pages, 4 + 1 of them not clean. */
	ck_assert_uint_eq(ps.ps_cache, 45 * MIB);
	ck_assert_uint_eq(ps.ps_usage, 55 * MIB);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));
	ck_assert_uint_le(ps.ps_headroom, 201 * MIB);
	ck_assert_uint_eq(ps.ps_oom_kills, 2);
	ck_assert_double_eq_tol(ps.ps_some10, 1.5, 1e-9);
	ck_assert_double_eq_tol(ps.ps_full10, 0.25, 1e-9);
	ck_assert_uint_eq(ps.ps_some_total, 123456);
	ck_assert_uint_eq(ps.ps_full_total, 6543);

	/* The group is removed under us: MemTotal and MemAvailable. */
	ck_assert_int_eq(tlib_rm_rf(b), 0);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_str_eq(ps.ps_limit_source, "MemTotal");
	ck_assert_uint_eq(ps.ps_limit, ps.ps_total);
	ck_assert_uint_eq(ps.ps_usage, ps.ps_total - ps.ps_avail);
	ck_assert_uint_eq(ps.ps_cache, 0);
	ck_assert_uint_eq(ps.ps_high, 0);
	ck_assert_uint_eq(ps.ps_oom_kills, 0);
	ck_assert_uint_eq(ps.ps_headroom, ps.ps_avail);
	ck_assert_double_eq(ps.ps_some10, -1.0);
	ck_assert_double_eq(ps.ps_full10, -1.0);
	ck_assert_uint_eq(ps.ps_some_total, 0);
	pressure_close(&pr);
}
END_TEST

START_TEST(test_sample_v2_nolimit)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		 top[PATH_MAX], a[PATH_MAX], c[PATH_MAX], psi[PATH_MAX];

	fresh_dir(top, sizeof(top));
	/* A limit far above MemTotal is none; no memory.stat: no cache. */
	sub_dir(a, sizeof(a), top, "a");
	fake_v2(a, "300\n", "1152921504606846976\n", "max\n");
	/* c has no memory controller: it is charged to a. */
	sub_dir(c, sizeof(c), a, "c");
	put(c, "cgroup.procs", "");
	put(c, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 "
	    "total=9\n");

	ck_assert_int_eq(pressure_init_dir(&pr, 2, c), 0);
	ck_assert_int_eq(pr.pr_cgversion, 2);
	ck_assert_str_eq(pr.pr_cgdir, a);
	path_join(psi, sizeof(psi), c, "memory.pressure");
	ck_assert_str_eq(pr.pr_psipath, psi);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_str_eq(ps.ps_limit_source, "MemTotal");
	ck_assert_uint_eq(ps.ps_limit, ps.ps_total);
	ck_assert_uint_eq(ps.ps_high, 0);
	ck_assert_uint_eq(ps.ps_usage, 300);
	ck_assert_uint_eq(ps.ps_cache, 0);
	ck_assert_uint_eq(ps.ps_oom_kills, 0);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));
	ck_assert_double_eq(ps.ps_some10, 0.0);
	ck_assert_double_eq(ps.ps_full10, 0.0);
	ck_assert_uint_eq(ps.ps_some_total, 9);

	/* Used beyond the limit: no headroom. */
	put(a, "memory.max", "268435456\n");
	put(a, "memory.current", "314572800\n");
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 256 * MIB);
	ck_assert_uint_eq(ps.ps_usage, 300 * MIB);
	ck_assert_uint_eq(ps.ps_headroom, 0);

	/* Damaged usage counts as a vanished group. */
	put(a, "memory.current", "lots\n");
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_str_eq(ps.ps_limit_source, "MemTotal");
	ck_assert_uint_eq(ps.ps_usage, ps.ps_total - ps.ps_avail);
}
END_TEST

START_TEST(test_sample_v1)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		 top[PATH_MAX], g[PATH_MAX], desc[2 * PATH_MAX];
	char		 want[2 * PATH_MAX];
	const char	*sysk = "/proc/pressure/memory";

	fresh_dir(top, sizeof(top));
	sub_dir(g, sizeof(g), top, "quire.slice");
	put(g, "memory.usage_in_bytes", "209715200\n");
	put(g, "memory.limit_in_bytes", V1_UNLIMITED "\n");
	put(g, "memory.stat", stat_v1);
	put(g, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n"
	    "oom_kill 3\n");

	ck_assert_int_eq(pressure_init_dir(&pr, 1, g), 0);
	ck_assert_int_eq(pr.pr_cgversion, 1);
	ck_assert_str_eq(pr.pr_cgdir, g);
	/* v1 has no group PSI: the machine's, if it has PSI. */
	if (access(sysk, F_OK) == 0) {
		ck_assert_str_eq(pr.pr_psipath, sysk);
		snprintf(want, sizeof(want), "cgroup v1 %s, PSI %s", g, sysk);
	} else {
		ck_assert_str_eq(pr.pr_psipath, "");
		snprintf(want, sizeof(want), "cgroup v1 %s, no PSI", g);
	}
	ck_assert_str_eq(pressure_describe(&pr, desc, sizeof(desc)), want);

	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 256 * MIB);
	ck_assert_msg(frames(ps.ps_limit_source,
	    "cgroup v1 hierarchical_memory_limit ", "/quire.slice"),
	    "source %s", ps.ps_limit_source);
	/* The total_* keys: 60 + 40 of file pages, 8 + 2 not clean. */
	ck_assert_uint_eq(ps.ps_cache, 90 * MIB);
	ck_assert_uint_eq(ps.ps_usage, 110 * MIB);
	ck_assert_uint_eq(ps.ps_high, 0);
	ck_assert_uint_eq(ps.ps_oom_kills, 3);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));

	/* Without hierarchical_memory_limit: memory.limit_in_bytes. */
	put(g, "memory.stat", "total_active_file 4096\n");
	put(g, "memory.limit_in_bytes", "134217728\n");
	put(g, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 128 * MIB);
	ck_assert_msg(frames(ps.ps_limit_source,
	    "cgroup v1 memory.limit_in_bytes ", "/quire.slice"),
	    "source %s", ps.ps_limit_source);
	/* Some file keys missing: nothing is taken for cache. */
	ck_assert_uint_eq(ps.ps_cache, 0);
	ck_assert_uint_eq(ps.ps_usage, 200 * MIB);
	ck_assert_uint_eq(ps.ps_oom_kills, 0);

	/* Unlimited: MemTotal. */
	put(g, "memory.limit_in_bytes", V1_UNLIMITED "\n");
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_str_eq(ps.ps_limit_source, "MemTotal");
	ck_assert_uint_eq(ps.ps_limit, ps.ps_total);
	ck_assert_uint_eq(ps.ps_usage, 200 * MIB);
}
END_TEST

START_TEST(test_sample_long_path)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		 top[PATH_MAX], mid[PATH_MAX], g[PATH_MAX];
	const char	*name = "quire-0123456789abcdef0123456789abcdef";

	/* Deep enough that the source cannot hold the whole path. */
	fresh_dir(top, sizeof(top));
	sub_dir(mid, sizeof(mid), top,
	    "a-long-parent-0123456789abcdef0123456789abcdef0123456789abcdef");
	sub_dir(g, sizeof(g), mid, name);
	put(g, "memory.usage_in_bytes", "0\n");
	put(g, "memory.stat", "hierarchical_memory_limit 268435456\n");
	ck_assert_int_eq(pressure_init_dir(&pr, 1, g), 0);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 256 * MIB);
	/* Too long for the source: its end, which names the group, stays. */
	ck_assert_uint_eq(strlen(ps.ps_limit_source), PRESSURE_SRC_MAX - 1);
	ck_assert_msg(frames(ps.ps_limit_source,
	    "cgroup v1 hierarchical_memory_limit ...", name), "source %s",
	    ps.ps_limit_source);
}
END_TEST

START_TEST(test_init_dir)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		 top[PATH_MAX], g[PATH_MAX], desc[PATH_MAX];

	/* No controller. */
	ck_assert_int_eq(pressure_init_dir(&pr, 0, NULL), 0);
	ck_assert_int_eq(pr.pr_cgversion, 0);
	ck_assert_str_eq(pr.pr_cgdir, "");
	ck_assert_int_eq(pr.pr_trigfd, -1);
	ck_assert_int_eq(pr.pr_psifd, -1);
	ck_assert_ptr_eq(strstr(pressure_describe(&pr, desc, sizeof(desc)),
	    "no memory cgroup, "), desc);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_str_eq(ps.ps_limit_source, "MemTotal");
	ck_assert_uint_eq(ps.ps_limit, ps.ps_total);
	ck_assert_uint_eq(ps.ps_usage, ps.ps_total - ps.ps_avail);
	ck_assert_uint_eq(ps.ps_cache, 0);
	ck_assert_uint_eq(ps.ps_headroom, ps.ps_avail);

	/* Directories without memory files, or none at all. */
	fresh_dir(top, sizeof(top));
	ck_assert_int_eq(pressure_init_dir(&pr, 1, top), 0);
	ck_assert_int_eq(pr.pr_cgversion, 0);
	ck_assert_int_eq(pressure_init_dir(&pr, 2, top), 0);
	ck_assert_int_eq(pr.pr_cgversion, 0);
	path_join(g, sizeof(g), top, "gone");
	ck_assert_int_eq(pressure_init_dir(&pr, 2, g), 0);
	ck_assert_int_eq(pr.pr_cgversion, 0);
	/* A v1 group is not a v2 one. */
	put(top, "memory.usage_in_bytes", "0\n");
	ck_assert_int_eq(pressure_init_dir(&pr, 2, top), 0);
	ck_assert_int_eq(pr.pr_cgversion, 0);
	ck_assert_int_eq(pressure_init_dir(&pr, 1, top), 0);
	ck_assert_int_eq(pr.pr_cgversion, 1);

	/* Arguments that do not go together. */
	ck_assert_int_eq(pressure_init_dir(&pr, 3, top), -1);
	ck_assert_int_eq(pressure_init_dir(&pr, 1, NULL), -1);
	ck_assert_int_eq(pressure_init_dir(&pr, 0, top), -1);
}
END_TEST

/* This machine. */

START_TEST(test_sample_real)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		*text, path[PATH_MAX], dir[PATH_MAX];
	char		 desc[2 * PATH_MAX];
	int		 version;

	ck_assert_int_eq(pressure_init(&pr), 0);
	fprintf(stderr, "test_sample_real: %s\n",
	    pressure_describe(&pr, desc, sizeof(desc)));
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_gt(ps.ps_total, 0);
	ck_assert_uint_le(ps.ps_avail, ps.ps_total);
	ck_assert_uint_gt(ps.ps_limit, 0);
	ck_assert_uint_le(ps.ps_limit, ps.ps_total);
	ck_assert_uint_le(ps.ps_headroom, ps.ps_avail);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));
	ck_assert_str_ne(ps.ps_limit_source, "");
	if (strcmp(ps.ps_limit_source, "MemTotal") == 0)
		ck_assert_uint_eq(ps.ps_limit, ps.ps_total);
	if (pr.pr_psipath[0] != '\0') {
		ck_assert_double_ge(ps.ps_some10, 0.0);
		ck_assert_double_ge(ps.ps_full10, 0.0);
	}
	fprintf(stderr, "test_sample_real: limit %llu (%s), usage %llu, "
	    "cache %llu, headroom %llu, PSI some %.2f\n",
	    (unsigned long long)ps.ps_limit, ps.ps_limit_source,
	    (unsigned long long)ps.ps_usage, (unsigned long long)ps.ps_cache,
	    (unsigned long long)ps.ps_headroom, ps.ps_some10);

	/* A v1 memory group found by hand is the one pressure_init took. */
	ck_assert_ptr_nonnull(text = slurp("/proc/self/cgroup"));
	if (pressure_parse_cgroup(text, &version, path, sizeof(path)) == 0 &&
	    version == 1) {
		free(text);
		ck_assert_ptr_nonnull(text = slurp("/proc/self/mountinfo"));
		if (pressure_parse_mountinfo(text, 1, path, dir,
		    sizeof(dir)) == 0) {
			ck_assert_int_eq(pr.pr_cgversion, 1);
			ck_assert_str_eq(pr.pr_cgdir, dir);
		}
	}
	free(text);
	pressure_close(&pr);
}
END_TEST

/* Make a real group; 0, or -1 (and why, on stderr) if we may not. */
static int
cg_make(const char *test, const char *dir)
{
	if (dir[0] == '\0') {
		fprintf(stderr, "%s: skipped: no such cgroup mount\n", test);
		return (-1);
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: skipped: not root\n", test);
		return (-1);
	}
	if (mkdir(dir, 0755) == -1) {
		ck_assert_msg(errno == EACCES || errno == EPERM ||
		    errno == EROFS, "mkdir %s: %s", dir, strerror(errno));
		fprintf(stderr, "%s: skipped: mkdir %s: %s\n", test, dir,
		    strerror(errno));
		return (-1);
	}
	return (0);
}

START_TEST(test_v1_real)
{
	struct pressure	 pr, in;
	struct psample	 ps;
	pid_t		 pid;
	int		 rfd, status;

	if (cg_make("test_v1_real", cg_v1) == -1)
		return;
	cg_set(cg_v1, "memory.limit_in_bytes", "268435456");
	ck_assert_int_eq(pressure_init_dir(&pr, 1, cg_v1), 0);
	ck_assert_int_eq(pr.pr_cgversion, 1);
	ck_assert_str_eq(pr.pr_cgdir, cg_v1);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 256 * MIB);
	ck_assert_msg(frames(ps.ps_limit_source,
	    "cgroup v1 hierarchical_memory_limit ", base(cg_v1)),
	    "source %s", ps.ps_limit_source);
	ck_assert_uint_eq(ps.ps_oom_kills, 0);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));

	/* A group inside: the kernel applies the outer limit. */
	ck_assert_int_eq(mkdir(cg_v1_inner, 0755), 0);
	ck_assert_int_eq(pressure_init_dir(&in, 1, cg_v1_inner), 0);
	ck_assert_int_eq(pressure_sample(&in, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 256 * MIB);
	ck_assert_msg(frames(ps.ps_limit_source,
	    "cgroup v1 hierarchical_memory_limit ", "/inner"),
	    "source %s", ps.ps_limit_source);

	/* 32 MiB of anonymous memory inside counts for the outer group. */
	pid = hog(cg_v1_inner, 32, &rfd);
	ck_assert_int_eq(hog_ready(rfd), 0);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_ge(ps.ps_usage, 32 * MIB);
	ck_assert_uint_lt(ps.ps_usage, 256 * MIB);
	ck_assert_uint_le(ps.ps_headroom, 224 * MIB);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));
	status = hog_end(pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* 128 MiB under a limit of 64 MiB: the kernel kills the hog. */
	cg_set(cg_v1, "memory.limit_in_bytes", "67108864");
	pid = hog(cg_v1_inner, 128, &rfd);
	ck_assert_int_eq(hog_ready(rfd), -1);
	status = hog_end(pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(pressure_sample(&in, &ps), 0);
	ck_assert_uint_eq(ps.ps_limit, 64 * MIB);
	ck_assert_uint_eq(ps.ps_oom_kills, 1);

	/* The groups are removed: samples go on without them. */
	cg_remove(cg_v1_inner);
	cg_remove(cg_v1);
	ck_assert_int_eq(access(cg_v1, F_OK), -1);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_str_eq(ps.ps_limit_source, "MemTotal");
}
END_TEST

START_TEST(test_v2_real)
{
	struct pressure	 pr;
	struct psample	 ps;
	char		 mnt[PATH_MAX], path[PATH_MAX], *p;
	pid_t		 pid;
	int		 rfd, status, r;

	if (cg_v2[0] != '\0') {
		strlcpy(mnt, cg_v2, sizeof(mnt));
		ck_assert_ptr_nonnull(p = strrchr(mnt, '/'));
		*p = '\0';
		path_join(path, sizeof(path), mnt, "cgroup.subtree_control");
		if (!file_has_word(path, "memory")) {
			fprintf(stderr, "test_v2_real: skipped: the cgroup2 "
			    "mount %s gives no memory controller to its "
			    "groups\n", mnt);
			return;
		}
	}
	if (cg_make("test_v2_real", cg_v2) == -1)
		return;
	cg_set(cg_v2, "memory.max", "268435456");
	cg_set(cg_v2, "memory.high", "201326592");
	ck_assert_int_eq(pressure_init_dir(&pr, 2, cg_v2), 0);
	ck_assert_int_eq(pr.pr_cgversion, 2);
	ck_assert_str_eq(pr.pr_cgdir, cg_v2);
	path_join(path, sizeof(path), cg_v2, "memory.pressure");
	ck_assert_str_eq(pr.pr_psipath, path);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	/* The mount's root may be a container's group, with its limit. */
	ck_assert_uint_le(ps.ps_limit, 256 * MIB);
	if (ps.ps_limit == 256 * MIB)
		ck_assert_msg(frames(ps.ps_limit_source,
		    "cgroup v2 memory.max ", base(cg_v2)), "source %s",
		    ps.ps_limit_source);
	ck_assert_uint_eq(ps.ps_high, 192 * MIB);

	pid = hog(cg_v2, 32, &rfd);
	ck_assert_int_eq(hog_ready(rfd), 0);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_ge(ps.ps_usage, 32 * MIB);
	ck_assert_uint_eq(ps.ps_headroom, want_headroom(&ps));
	/* A group's pressure file takes a trigger, or the kernel says no. */
	r = pressure_trigger(&pr, 1000000, 2000000);
	ck_assert(r == 0 || (r == -1 && pr.pr_trigfd == -1));
	if (r == 0)
		ck_assert_int_ge(pressure_triggered(&pr), 0);
	pressure_close(&pr);
	hog_end(pid);

	cg_set(cg_v2, "memory.high", "max");
	cg_set(cg_v2, "memory.max", "67108864");
	pid = hog(cg_v2, 128, &rfd);
	ck_assert_int_eq(hog_ready(rfd), -1);
	status = hog_end(pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(pressure_sample(&pr, &ps), 0);
	ck_assert_uint_eq(ps.ps_oom_kills, 1);
	ck_assert_uint_eq(ps.ps_high, 0);

	cg_remove(cg_v2);
	ck_assert_int_eq(access(cg_v2, F_OK), -1);
}
END_TEST

/* Triggers. */

START_TEST(test_trigger)
{
	struct pressure	 pr;
	char		 desc[PATH_MAX];
	int		 before, r;

	ck_assert_int_eq(pressure_init_dir(&pr, 0, NULL), 0);
	before = count_fds();
	errno = 0;
	/*
	 * Half of the window stalled: not on a machine at rest.  Without
	 * CAP_SYS_RESOURCE the window must be a multiple of 2 s.
	 */
	r = pressure_trigger(&pr, 1000000, 2000000);
	if (r == 0) {
		ck_assert_int_ge(pr.pr_trigfd, 0);
		ck_assert_int_ge(pr.pr_psifd, 0);
		ck_assert_int_eq(count_fds(), before + 2);
		ck_assert_int_eq(pressure_triggered(&pr), 0);
		ck_assert_msg(frames(pressure_describe(&pr, desc,
		    sizeof(desc)), "no memory cgroup, PSI ", " (trigger)"),
		    "%s", desc);
		/* Armed again, the first trigger is closed. */
		ck_assert_int_eq(pressure_trigger(&pr, 900000, 2000000), 0);
		ck_assert_int_eq(count_fds(), before + 2);
		pressure_close(&pr);
		fprintf(stderr, "test_trigger: armed on %s\n",
		    pr.pr_psipath);
	} else {
		ck_assert_int_eq(r, -1);
		ck_assert_int_ne(errno, 0);
		fprintf(stderr, "test_trigger: refused on %s: %s\n",
		    pr.pr_psipath, strerror(errno));
	}
	ck_assert_int_eq(pr.pr_trigfd, -1);
	ck_assert_int_eq(pr.pr_psifd, -1);
	ck_assert_int_eq(count_fds(), before);
	pressure_close(&pr);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_trigger_refused)
{
	struct pressure	 pr;
	char		 top[PATH_MAX];
	int		 before;

	ck_assert_int_eq(pressure_init_dir(&pr, 0, NULL), 0);
	before = count_fds();
	/* A stall longer than its window: the kernel's EINVAL. */
	errno = 0;
	ck_assert_int_eq(pressure_trigger(&pr, 2000000, 1000000), -1);
	ck_assert_int_ne(errno, 0);
	ck_assert_int_eq(pr.pr_trigfd, -1);
	ck_assert_int_eq(pr.pr_psifd, -1);
	ck_assert_int_eq(count_fds(), before);

	/* No PSI at all. */
	pr.pr_psipath[0] = '\0';
	ck_assert_int_eq(pressure_trigger(&pr, 100000, 1000000), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(count_fds(), before);
	ck_assert_int_eq(pressure_triggered(&pr), -1);
	ck_assert_int_eq(errno, EBADF);

	/* A plain file takes the write but not epoll: both closed. */
	fresh_dir(top, sizeof(top));
	fake_v2(top, "0\n", "max\n", "max\n");
	put(top, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 "
	    "total=0\n");
	ck_assert_int_eq(pressure_init_dir(&pr, 2, top), 0);
	ck_assert_int_eq(pr.pr_cgversion, 2);
	before = count_fds();
	ck_assert_int_eq(pressure_trigger(&pr, 100000, 1000000), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(pr.pr_trigfd, -1);
	ck_assert_int_eq(pr.pr_psifd, -1);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

static Suite *
pressure_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("pressure");

	tc = tcase_create("parsers");
	tcase_add_test(tc, test_meminfo);
	tcase_add_test(tc, test_meminfo_bad);
	tcase_add_test(tc, test_psi);
	tcase_add_test(tc, test_psi_bad);
	tcase_add_test(tc, test_key_v2);
	tcase_add_test(tc, test_key_v1);
	tcase_add_test(tc, test_key_bad);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_cgroup);
	tcase_add_test(tc, test_cgroup_bad);
	tcase_add_test(tc, test_mountinfo);
	tcase_add_test(tc, test_mountinfo_container);
	tcase_add_test(tc, test_mountinfo_none);
	suite_add_tcase(s, tc);

	tc = tcase_create("samples");
	tcase_add_test(tc, test_sample_v2);
	tcase_add_test(tc, test_sample_v2_nolimit);
	tcase_add_test(tc, test_sample_v1);
	tcase_add_test(tc, test_sample_long_path);
	tcase_add_test(tc, test_init_dir);
	tcase_add_test(tc, test_sample_real);
	suite_add_tcase(s, tc);

	tc = tcase_create("cgroups");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, cg_setup, cg_teardown);
	tcase_add_test(tc, test_v1_real);
	tcase_add_test(tc, test_v2_real);
	suite_add_tcase(s, tc);

	tc = tcase_create("triggers");
	tcase_add_test(tc, test_trigger);
	tcase_add_test(tc, test_trigger_refused);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_pressure", pressure_suite()));
}
