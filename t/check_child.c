/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for child.c: a later IPC_CONFIG changes the options a running
 * child takes live and no other, whatever their type; it carries the
 * configuration's generation; and a broken one changes nothing.  The
 * frames are built in memory, as the supervisor writes them: the text
 * of `quired -n -v`.  child_setup reads fd 3 of a real child and is
 * tested by the shell tests (t/usr1.sh).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"
#include "tlib.h"

/* A frame carrying c, as the supervisor sends it. */
static void
frame(struct ipc_msg *m, const struct quire_conf *c, uint64_t gen)
{
	FILE	*f;

	memset(m, 0, sizeof(*m));
	m->m_type = IPC_CONFIG;
	m->m_a = gen;
	f = fmemopen(m->m_str, sizeof(m->m_str), "w");
	ck_assert_ptr_nonnull(f);
	config_print(c, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_uint_lt(strlen(m->m_str), sizeof(m->m_str) - 1);
}

/* A frame carrying raw text. */
static void
frame_text(struct ipc_msg *m, const char *text, uint64_t gen)
{
	memset(m, 0, sizeof(*m));
	m->m_type = IPC_CONFIG;
	m->m_a = gen;
	strlcpy(m->m_str, text, sizeof(m->m_str));
}

/* A child as child_setup leaves it, without the process. */
static void
child_init(struct child *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->ch_fd = -1;
	ch->ch_slot = 0;
	ch->ch_role = "worker";
	config_defaults(&ch->ch_conf);
	strlcpy(ch->ch_conf.c_datadir, "/srv/quire", CONF_STR_MAX);
	ch->ch_gen = 1;
}

/* Set option name of c to val, as a configuration file would. */
static void
set(struct quire_conf *c, const char *name, const char *val)
{
	char	 line[CONF_STR_MAX + 64], err[CONF_STR_MAX + 256];
	FILE	*f;

	snprintf(line, sizeof(line), "%s %s\n", name, val);
	f = fmemopen(line, strlen(line), "r");
	ck_assert_ptr_nonnull(f);
	if (config_parse(f, "test", c, err, sizeof(err)) == -1)
		ck_abort_msg("%s", err);
	fclose(f);
}

static const struct conf_opt *
opt(const char *name)
{
	const struct conf_opt	*opts;
	size_t			 n, i;

	opts = config_options(&n);
	for (i = 0; i < n; i++)
		if (strcmp(opts[i].o_name, name) == 0)
			return (&opts[i]);
	ck_abort_msg("no option %s", name);
	return (NULL);
}

/* The option's value in c, as text. */
static const char *
val(const struct quire_conf *c, const char *name, char *buf, size_t len)
{
	config_format(c, opt(name), buf, len);
	return (buf);
}

START_TEST(options_follow_their_class)
{
	struct child		 ch;
	struct quire_conf	 old, nc;
	struct ipc_msg		 m;
	const struct conf_opt	*opts;
	char			 a[CONF_STR_MAX], b[CONF_STR_MAX];
	char			 r[CONF_STR_MAX];
	size_t			 n, i, live = 0, kept = 0;

	child_init(&ch);
	old = ch.ch_conf;
	nc = ch.ch_conf;
	/* Live: a number, a duration, an enum, a real, a bool. */
	set(&nc, "log-level", "debug");
	set(&nc, "batch-linger", "5s");
	set(&nc, "bm25-k1", "2.5");
	set(&nc, "debug-jobs", "yes");
	set(&nc, "max-text-size", "1M");
	/* Workers take these at start only. */
	set(&nc, "language", "french");
	set(&nc, "claim-batch", "3");
	set(&nc, "roots", "/srv/docs");
	/* And these need a restart. */
	set(&nc, "datadir", "/elsewhere");
	set(&nc, "map-size", "1G");
	frame(&m, &nc, 7);

	ck_assert_int_eq(child_config(&ch, &m), 0);
	ck_assert_uint_eq(ch.ch_gen, 7);
	ck_assert_uint_eq(ch.ch_conf.c_loglevel, 2);
	ck_assert_int_eq(log_getverbose(), 2);
	ck_assert_uint_eq(ch.ch_conf.c_batch_linger_ms, 5000);
	ck_assert(ch.ch_conf.c_k1 == 2.5);
	ck_assert_uint_eq(ch.ch_conf.c_debug_jobs, 1);
	ck_assert_uint_eq(ch.ch_conf.c_max_text, 1 << 20);
	ck_assert_str_eq(ch.ch_conf.c_language, "english");
	ck_assert_uint_eq(ch.ch_conf.c_claim_batch, 16);
	ck_assert_str_eq(ch.ch_conf.c_roots, "/");
	ck_assert_str_eq(ch.ch_conf.c_datadir, "/srv/quire");
	ck_assert_str_eq(val(&ch.ch_conf, "map-size", r, sizeof(r)), "64M");

	/* Every option: the new value if live, else the old one. */
	opts = config_options(&n);
	for (i = 0; i < n; i++) {
		config_format(&old, &opts[i], a, sizeof(a));
		config_format(&nc, &opts[i], b, sizeof(b));
		config_format(&ch.ch_conf, &opts[i], r, sizeof(r));
		if (opts[i].o_reload == CONF_RELOAD_LIVE) {
			ck_assert_msg(strcmp(r, b) == 0, "%s: %s, not %s",
			    opts[i].o_name, r, b);
			live += strcmp(a, b) != 0;
		} else {
			ck_assert_msg(strcmp(r, a) == 0, "%s: %s, not %s",
			    opts[i].o_name, r, a);
			kept += strcmp(a, b) != 0;
		}
	}
	ck_assert_uint_eq(live, 5);
	ck_assert_uint_eq(kept, 5);
}
END_TEST

START_TEST(classes_are_as_documented)
{
	const struct conf_opt	*opts;
	size_t			 n, i;

	ck_assert_int_eq(opt("datadir")->o_reload, CONF_RELOAD_NO);
	ck_assert_int_eq(opt("log-file")->o_reload, CONF_RELOAD_NO);
	ck_assert_int_eq(opt("sync")->o_reload, CONF_RELOAD_NO);
	ck_assert_int_eq(opt("log-level")->o_reload, CONF_RELOAD_LIVE);
	ck_assert_int_eq(opt("merge-fold-size")->o_reload, CONF_RELOAD_LIVE);
	ck_assert_int_eq(opt("claim-batch")->o_reload, CONF_RELOAD_RESPAWN);
	ck_assert_int_eq(opt("language")->o_reload, CONF_RELOAD_RESPAWN);
	ck_assert_int_eq(opt("worker-data-limit")->o_reload,
	    CONF_RELOAD_RESPAWN);
	/* Options checked against each other change together. */
	ck_assert_int_eq(opt("chunk-overlap")->o_reload,
	    opt("chunk-size")->o_reload);
	ck_assert_int_eq(opt("backoff")->o_reload,
	    opt("backoff-max")->o_reload);
	ck_assert_int_eq(opt("hang-timeout")->o_reload,
	    opt("heartbeat-interval")->o_reload);
	ck_assert_int_eq(opt("lease-time")->o_reload,
	    opt("hang-timeout")->o_reload);
	opts = config_options(&n);
	for (i = 0; i < n; i++)
		ck_assert_msg(opts[i].o_reload == CONF_RELOAD_NO ||
		    opts[i].o_reload == CONF_RELOAD_LIVE ||
		    opts[i].o_reload == CONF_RELOAD_RESPAWN, "%s: class %d",
		    opts[i].o_name, opts[i].o_reload);
}
END_TEST

START_TEST(broken_frames_change_nothing)
{
	static const char	*bad[] = {
		"workers banana\n",
		"frobnicate 1\n",
		"log-level\n",
		"heartbeat-interval 20s\nhang-timeout 30s\n",
		"",
	};
	struct child		 ch;
	struct quire_conf	 before, nc;
	struct ipc_msg		 m;
	size_t			 i;

	child_init(&ch);
	ch.ch_gen = 4;
	before = ch.ch_conf;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		frame_text(&m, bad[i], 5);
		ck_assert_msg(child_config(&ch, &m) == -1, "accepted %s",
		    bad[i]);
		ck_assert_uint_eq(ch.ch_gen, 4);
		ck_assert_int_eq(memcmp(&ch.ch_conf, &before, sizeof(before)),
		    0);
	}
	/* A good configuration in a frame of another type. */
	nc = before;
	set(&nc, "log-level", "debug");
	frame(&m, &nc, 5);
	m.m_type = IPC_HEARTBEAT;
	ck_assert_int_eq(child_config(&ch, &m), -1);
	ck_assert_uint_eq(ch.ch_conf.c_loglevel, before.c_loglevel);
	ck_assert_uint_eq(ch.ch_gen, 4);
	/* The same frame, right: taken. */
	m.m_type = IPC_CONFIG;
	ck_assert_int_eq(child_config(&ch, &m), 0);
	ck_assert_uint_eq(ch.ch_conf.c_loglevel, 2);
	ck_assert_uint_eq(ch.ch_gen, 5);
}
END_TEST

START_TEST(log_file_waits_for_a_restart)
{
	struct child		 ch;
	struct quire_conf	 nc;
	struct ipc_msg		 m;
	struct stat		 st;
	char			 path[PATH_MAX];
	int			 len;

	len = snprintf(path, sizeof(path), "%s/other.log", tlib_top);
	ck_assert(len > 0 && (size_t)len < sizeof(path));
	child_init(&ch);
	nc = ch.ch_conf;
	set(&nc, "log-file", path);
	frame(&m, &nc, 2);
	ck_assert_int_eq(child_config(&ch, &m), 0);
	ck_assert_str_eq(ch.ch_conf.c_logfile, "");
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_uint_eq(ch.ch_gen, 2);
}
END_TEST

static Suite *
child_suite(void)
{
	Suite	*s = suite_create("child");
	TCase	*tc = tcase_create("child");

	tcase_add_test(tc, options_follow_their_class);
	tcase_add_test(tc, classes_are_as_documented);
	tcase_add_test(tc, broken_frames_change_nothing);
	tcase_add_test(tc, log_file_waits_for_a_restart);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_child", child_suite()));
}
