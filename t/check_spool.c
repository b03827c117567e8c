/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for spool.c and the spool's side of queue_lmdb.c and extract_json.c:
 * a body written whole under a name of the spool's own, or not at all
 * (over its limit, through a symbolic link); streamed from a pipe; read
 * back and removed; the jobs that need a file counted by the queue, the
 * file removed after the last is done, cancelled or purged and kept for
 * a dead letter; the sweep of files no job needs; the job record's
 * upload fields; and the NDJSON validator's line numbers.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

/* dir/spool/name (name NULL: dir/spool) into buf, which must hold it. */
static void
spath(char *buf, size_t len, const char *dir, const char *name)
{
	int	 n;

	if (name == NULL)
		n = snprintf(buf, len, "%s/%s", dir, SPOOL_DIR);
	else
		n = snprintf(buf, len, "%s/%s/%s", dir, SPOOL_DIR, name);
	ck_assert(n >= 0 && (size_t)n < len);
}

/* A fresh data directory of the test's own. */
static void
tdir(char *dir, size_t len)
{
	ck_assert_int_lt(snprintf(dir, len, "%s/t.XXXXXX", tlib_top),
	    (int)len);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Entries of a directory, "." and ".." aside; -1 when it is absent. */
static int
dir_count(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

/* Entries of DIR/spool. */
static int
spool_count(const char *dir)
{
	char	 path[PATH_MAX];

	spath(path, sizeof(path), dir, NULL);
	return (dir_count(path));
}

static int
spool_exists(const char *dir, const char *name)
{
	char		 path[PATH_MAX];
	struct stat	 st;

	spath(path, sizeof(path), dir, name);
	return (lstat(path, &st) == 0);
}

/* The whole of a spool file, through spool_open. */
static size_t
spool_slurp(const char *dir, const char *name, char *buf, size_t len)
{
	ssize_t	 n;
	size_t	 got = 0;
	int	 fd;

	ck_assert_int_ne(fd = spool_open(dir, name), -1);
	while ((n = read(fd, buf + got, len - got)) > 0)
		got += n;
	close(fd);
	return (got);
}

START_TEST(test_put)
{
	struct spool_writer	 sw;
	struct stat		 st;
	char			 dir[PATH_MAX], path[PATH_MAX], back[64];
	const char		*body = "an uploaded body\n";

	tdir(dir, sizeof(dir));
	ck_assert_int_eq(spool_put(&sw, dir, body, strlen(body), 1024),
	    SPOOL_OK);
	ck_assert(spool_name_ok(sw.sw_name));
	ck_assert_uint_eq(sw.sw_len, strlen(body));
	/* Only the final name is left: no temporary file. */
	ck_assert_int_eq(spool_count(dir), 1);
	ck_assert(spool_exists(dir, sw.sw_name));
	spath(path, sizeof(path), dir, sw.sw_name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_uint_eq(spool_slurp(dir, sw.sw_name, back, sizeof(back)),
	    strlen(body));
	ck_assert(memcmp(back, body, strlen(body)) == 0);

	/* Two bodies never share a name. */
	{
		struct spool_writer	 sw2;

		ck_assert_int_eq(spool_put(&sw2, dir, "x", 1, 1024), SPOOL_OK);
		ck_assert_str_ne(sw.sw_name, sw2.sw_name);
		ck_assert_int_eq(spool_count(dir), 2);
	}

	/* Removed, and removing it again is no error. */
	ck_assert_int_eq(spool_unlink(dir, sw.sw_name), 0);
	ck_assert(!spool_exists(dir, sw.sw_name));
	ck_assert_int_eq(spool_unlink(dir, sw.sw_name), 0);
	ck_assert_int_eq(spool_open(dir, sw.sw_name), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* Root's uploads belong to the data directory's owner (the service user). */
START_TEST(test_owner)
{
	struct spool_writer	 sw;
	struct stat		 st;
	char			 dir[PATH_MAX], path[PATH_MAX];

	if (geteuid() != 0)
		return;		/* only root can give files away */
	tdir(dir, sizeof(dir));
	ck_assert_int_eq(chown(dir, 4321, 4322), 0);
	ck_assert_int_eq(spool_put(&sw, dir, "x", 1, 10), SPOOL_OK);
	spath(path, sizeof(path), dir, NULL);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_int_eq(st.st_uid, 4321);
	ck_assert_int_eq(st.st_gid, 4322);
	spath(path, sizeof(path), dir, sw.sw_name);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_int_eq(st.st_uid, 4321);
	ck_assert_int_eq(st.st_gid, 4322);
}
END_TEST

START_TEST(test_limit)
{
	struct spool_writer	 sw;
	char			 dir[PATH_MAX], big[4096];

	tdir(dir, sizeof(dir));
	memset(big, 'a', sizeof(big));
	/* Exactly the limit passes; one byte more keeps nothing. */
	ck_assert_int_eq(spool_put(&sw, dir, big, 100, 100), SPOOL_OK);
	ck_assert_int_eq(spool_put(&sw, dir, big, 101, 100), SPOOL_ETOOBIG);
	ck_assert_int_eq(spool_count(dir), 1);
	/* In pieces, the same. */
	ck_assert_int_eq(spool_begin(&sw, dir, 1000), SPOOL_OK);
	ck_assert_int_eq(spool_write(&sw, big, 600), SPOOL_OK);
	ck_assert_int_eq(spool_write(&sw, big, 600), SPOOL_ETOOBIG);
	ck_assert_int_eq(spool_count(dir), 1);
	/* A writer given up leaves nothing. */
	ck_assert_int_eq(spool_begin(&sw, dir, 1000), SPOOL_OK);
	ck_assert_int_eq(spool_write(&sw, big, 10), SPOOL_OK);
	ck_assert_int_eq(spool_count(dir), 2);
	spool_abort(&sw);
	ck_assert_int_eq(spool_count(dir), 1);
}
END_TEST

START_TEST(test_put_fd)
{
	struct spool_writer	 sw;
	char			 dir[PATH_MAX], chunk[1000], *back;
	size_t			 i, total = 300 * sizeof(chunk);
	int			 p[2];
	pid_t			 pid;

	tdir(dir, sizeof(dir));
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(p[0]);
		for (i = 0; i < total / sizeof(chunk); i++) {
			memset(chunk, 'a' + i % 26, sizeof(chunk));
			if (write(p[1], chunk, sizeof(chunk)) !=
			    (ssize_t)sizeof(chunk))
				_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(spool_put_fd(&sw, dir, p[0], total), SPOOL_OK);
	close(p[0]);
	ck_assert_uint_eq(sw.sw_len, total);
	back = xmalloc(total + 1);
	ck_assert_uint_eq(spool_slurp(dir, sw.sw_name, back, total + 1),
	    total);
	for (i = 0; i < total; i += sizeof(chunk))
		ck_assert_int_eq(back[i], 'a' + (i / sizeof(chunk)) % 26);
	free(back);

	/* A stream longer than its limit keeps nothing. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(p[0]);
		memset(chunk, 'z', sizeof(chunk));
		for (i = 0; i < 10; i++)
			(void)write(p[1], chunk, sizeof(chunk));
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(spool_put_fd(&sw, dir, p[0], 5000), SPOOL_ETOOBIG);
	close(p[0]);
	ck_assert_int_eq(spool_count(dir), 1);
}
END_TEST

START_TEST(test_symlink)
{
	struct spool_writer	 sw;
	char			 dir[PATH_MAX], other[PATH_MAX], link[PATH_MAX];

	/* spool/ is a link to another directory: nothing goes there. */
	tdir(dir, sizeof(dir));
	tdir(other, sizeof(other));
	spath(link, sizeof(link), dir, NULL);
	ck_assert_int_eq(symlink(other, link), 0);
	ck_assert_int_eq(spool_put(&sw, dir, "x", 1, 10), SPOOL_ERROR);
	ck_assert(sw.sw_errno == ELOOP || sw.sw_errno == ENOTDIR);
	ck_assert_int_eq(dir_count(other), 0);

	/* Names are the spool's own: no path, no other shape. */
	ck_assert(!spool_name_ok("../queue/data.mdb"));
	ck_assert(!spool_name_ok(""));
	ck_assert(!spool_name_ok("0000000000000000-00000000-0000000g"));
	ck_assert(spool_name_ok("0123456789abcdef-00000001-deadbeef"));
	ck_assert_int_eq(spool_open(dir, "../quired.conf"), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* A queue in dir, without fsync. */
static void
tq_open(struct queue *q, const char *dir)
{
	struct queue_conf	 qc;

	queue_conf_defaults(&qc);
	qc.qc_sync = STORE_SYNC_NONE;
	qc.qc_max_attempts = 1;
	ck_assert_int_eq(queue_open(q, dir, &qc), 0);
}

static uint64_t
refs(struct queue *q, const char *name)
{
	uint64_t	 n = 99;

	ck_assert_int_eq(queue_spool_refs(q, name, &n), QUEUE_OK);
	return (n);
}

/* Claim one job and ack it, or fail it for good. */
static void
run_one(struct queue *q, int ok)
{
	struct queue_owner	 o = { 0, 4242 };
	struct queue_lease	 ql;
	struct job		 j;
	size_t			 n;
	int			 res, state;

	ck_assert_int_eq(queue_claim(q, &o, &j, 1, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 1);
	ql.ql_id = j.j_id;
	ql.ql_gen = j.j_lease_gen;
	if (ok) {
		ck_assert_int_eq(queue_ack(q, &ql, 1, &res), QUEUE_OK);
		ck_assert_int_eq(res, QUEUE_OK);
	} else {
		ck_assert_int_eq(queue_fail(q, j.j_id, j.j_lease_gen,
		    "parse-error", 1, &state), QUEUE_OK);
		ck_assert_int_eq(state, JOB_DEAD);
	}
}

START_TEST(test_queue_refs)
{
	struct spool_writer	 sw;
	struct queue		 q;
	struct queue_new	 qn[2];
	struct job		 j;
	char			 dir[PATH_MAX], name[SPOOL_NAME_LEN + 1];
	uint64_t		 n;

	tdir(dir, sizeof(dir));
	tq_open(&q, dir);

	/* Two ranges of one bulk: the file goes after the second ack. */
	ck_assert_int_eq(spool_put(&sw, dir, "{}\n{}\n", 6, 100), SPOOL_OK);
	strlcpy(name, sw.sw_name, sizeof(name));
	memset(qn, 0, sizeof(qn));
	qn[0].qn_srckind = qn[1].qn_srckind = SRC_SPOOL;
	qn[0].qn_path = qn[1].qn_path = name;
	qn[0].qn_len = qn[1].qn_len = 3;
	qn[1].qn_off = 3;
	qn[0].qn_key = "bulk@0";
	ck_assert_int_eq(queue_enqueue(&q, qn, 2), QUEUE_OK);
	ck_assert_uint_eq(refs(&q, name), 2);
	/* A known key adds no job and no reference. */
	ck_assert_int_eq(queue_enqueue(&q, qn, 1), QUEUE_OK);
	ck_assert(qn[0].qn_dup);
	ck_assert_uint_eq(refs(&q, name), 2);
	run_one(&q, 1);
	ck_assert_uint_eq(refs(&q, name), 1);
	ck_assert(spool_exists(dir, name));
	run_one(&q, 1);
	ck_assert_uint_eq(refs(&q, name), 0);
	ck_assert(!spool_exists(dir, name));

	/* A dead letter keeps its file through a retry; a purge frees it. */
	ck_assert_int_eq(spool_put(&sw, dir, "doc", 3, 100), SPOOL_OK);
	strlcpy(name, sw.sw_name, sizeof(name));
	memset(qn, 0, sizeof(qn));
	qn[0].qn_srckind = SRC_SPOOL;
	qn[0].qn_path = name;
	qn[0].qn_extid = "doc-1";
	qn[0].qn_title = "A title";
	qn[0].qn_ctype = "text/plain";
	ck_assert_int_eq(queue_enqueue(&q, qn, 1), QUEUE_OK);
	ck_assert_int_eq(queue_get(&q, qn[0].qn_id, &j), QUEUE_OK);
	ck_assert_str_eq(j.j_extid, "doc-1");
	ck_assert_str_eq(j.j_title, "A title");
	ck_assert_str_eq(j.j_ctype, "text/plain");
	run_one(&q, 0);
	ck_assert_uint_eq(refs(&q, name), 1);
	ck_assert(spool_exists(dir, name));
	ck_assert_int_eq(queue_retry(&q, qn[0].qn_id), QUEUE_OK);
	run_one(&q, 0);
	ck_assert(spool_exists(dir, name));
	ck_assert_int_eq(queue_purge(&q, JOB_DEAD, 0, 0, &n), QUEUE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(refs(&q, name), 0);
	ck_assert(!spool_exists(dir, name));

	/* A ready job cancelled frees its file at once. */
	ck_assert_int_eq(spool_put(&sw, dir, "doc", 3, 100), SPOOL_OK);
	strlcpy(name, sw.sw_name, sizeof(name));
	memset(qn, 0, sizeof(qn));
	qn[0].qn_srckind = SRC_SPOOL;
	qn[0].qn_path = name;
	ck_assert_int_eq(queue_enqueue(&q, qn, 1), QUEUE_OK);
	ck_assert_int_eq(queue_cancel(&q, qn[0].qn_id), QUEUE_OK);
	ck_assert(!spool_exists(dir, name));

	/* A spool job must name a spool file. */
	qn[0].qn_path = "/etc/passwd";
	ck_assert_int_eq(queue_enqueue(&q, qn, 1), QUEUE_EINVAL);
	ck_assert_int_eq(spool_count(dir), 0);
	queue_close(&q);
}
END_TEST

static int
inuse_cb(const char *name, void *arg)
{
	return (strcmp(name, arg) == 0);
}

/* Make a spool file look age_ms old. */
static void
age(const char *dir, const char *name, uint64_t age_ms)
{
	char		 path[PATH_MAX];
	struct timespec	 ts[2];

	spath(path, sizeof(path), dir, name);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age_ms / 1000;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW),
	    0);
}

START_TEST(test_sweep)
{
	struct spool_writer	 sw;
	char			 dir[PATH_MAX], used[SPOOL_NAME_LEN + 1];
	char			 orphan[SPOOL_NAME_LEN + 1];
	char			 young[SPOOL_NAME_LEN + 1];

	tdir(dir, sizeof(dir));
	ck_assert_int_eq(spool_sweep(dir, 1000, inuse_cb, ""), 0);
	ck_assert_int_eq(spool_put(&sw, dir, "a", 1, 10), SPOOL_OK);
	strlcpy(used, sw.sw_name, sizeof(used));
	ck_assert_int_eq(spool_put(&sw, dir, "b", 1, 10), SPOOL_OK);
	strlcpy(orphan, sw.sw_name, sizeof(orphan));
	ck_assert_int_eq(spool_put(&sw, dir, "c", 1, 10), SPOOL_OK);
	strlcpy(young, sw.sw_name, sizeof(young));
	/* An upload that died before its rename. */
	ck_assert_int_eq(spool_begin(&sw, dir, 10), SPOOL_OK);
	close(sw.sw_fd);
	close(sw.sw_dfd);
	age(dir, used, 7200 * 1000);
	age(dir, orphan, 7200 * 1000);
	{
		char	 tmp[64];

		snprintf(tmp, sizeof(tmp), ".tmp-%s", sw.sw_name);
		age(dir, tmp, 7200 * 1000);
	}
	ck_assert_int_eq(spool_count(dir), 4);
	ck_assert_int_eq(spool_sweep(dir, 3600 * 1000, inuse_cb, used), 2);
	ck_assert(spool_exists(dir, used));
	ck_assert(spool_exists(dir, young));
	ck_assert(!spool_exists(dir, orphan));
	ck_assert_int_eq(spool_count(dir), 2);
}
END_TEST

START_TEST(test_codec)
{
	msgpack_sbuffer	 sb;
	struct job	 j, k;

	memset(&j, 0, sizeof(j));
	j.j_id = 7;
	j.j_srckind = SRC_SPOOL;
	strlcpy(j.j_path, "0123456789abcdef-00000001-deadbeef",
	    sizeof(j.j_path));
	strlcpy(j.j_extid, "doc/7", sizeof(j.j_extid));
	strlcpy(j.j_title, "Seven", sizeof(j.j_title));
	strlcpy(j.j_ctype, "text/markdown", sizeof(j.j_ctype));
	msgpack_sbuffer_init(&sb);
	ck_assert_int_eq(codec_job_encode(&j, &sb), 0);
	ck_assert_int_eq(codec_job_decode(sb.data, sb.size, &k), 0);
	ck_assert_str_eq(k.j_extid, "doc/7");
	ck_assert_str_eq(k.j_title, "Seven");
	ck_assert_str_eq(k.j_ctype, "text/markdown");
	/* Without them the record stays as it was: fields absent. */
	j.j_extid[0] = j.j_title[0] = j.j_ctype[0] = '\0';
	msgpack_sbuffer_clear(&sb);
	ck_assert_int_eq(codec_job_encode(&j, &sb), 0);
	ck_assert_ptr_null(memmem(sb.data, sb.size, "xid", 3));
	ck_assert_int_eq(codec_job_decode(sb.data, sb.size, &k), 0);
	ck_assert_str_eq(k.j_extid, "");
	msgpack_sbuffer_destroy(&sb);

	ck_assert_int_eq(extract_type_mime("text/html; charset=utf-8"),
	    DOC_HTML);
	ck_assert_int_eq(extract_type_mime("Application/PDF"), DOC_PDF);
	ck_assert_int_eq(extract_type_mime("image/png"), -1);
}
END_TEST

START_TEST(test_validate)
{
	struct extract_conf	 xc;
	uint64_t		 lines[3];
	char			 body[4096], longline[200];
	size_t			 n;

	extract_conf_defaults(&xc);
	xc.xc_max_line = 100;
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	/* Line numbers count blank lines too. */
	snprintf(body, sizeof(body),
	    "{\"id\": \"a\", \"text\": \"one\"}\n"		/* 1 */
	    "not json\n"					/* 2 */
	    "\n"						/* 3 */
	    "{\"id\": \"b\", \"title\": \"no text\"}\n"	/* 4 */
	    "{\"id\": \"c\", \"text\": \"%s\"}\n"		/* 5 */
	    "[1, 2]\n"						/* 6 */
	    "{\"id\": \"d\", \"text\": \"fine\"}",		/* 7 */
	    longline);
	memset(lines, 0, sizeof(lines));
	n = extract_ndjson_check(&xc, body, strlen(body), lines, 3);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(lines[0], 2);
	ck_assert_uint_eq(lines[1], 4);
	ck_assert_uint_eq(lines[2], 5);

	/* Good bodies, and the empty one. */
	ck_assert_uint_eq(extract_ndjson_check(&xc, body,
	    strchr(body, '\n') - body + 1, lines, 3), 0);
	ck_assert_uint_eq(extract_ndjson_check(&xc, "", 0, lines, 3), 0);

	/* Invalid UTF-8 only where the worker would reject it. */
	snprintf(body, sizeof(body), "{\"text\": \"caf\xe9\"}\n");
	ck_assert_uint_eq(extract_ndjson_check(&xc, body, strlen(body), lines,
	    3), 0);
	xc.xc_utf8 = UTF8_REJECT;
	ck_assert_uint_eq(extract_ndjson_check(&xc, body, strlen(body), lines,
	    3), 1);
	ck_assert_uint_eq(lines[0], 1);
}
END_TEST

static Suite *
spool_suite(void)
{
	Suite	*s = suite_create("spool");
	TCase	*tc;

	tc = tcase_create("files");
	tcase_add_test(tc, test_put);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_put_fd);
	tcase_add_test(tc, test_symlink);
	tcase_add_test(tc, test_sweep);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobs");
	tcase_add_test(tc, test_queue_refs);
	tcase_add_test(tc, test_codec);
	tcase_add_test(tc, test_validate);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_spool", spool_suite()));
}
