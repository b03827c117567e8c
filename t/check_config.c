/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Tests for config.c's option job-timeout: its default, the durations it
 * takes (0 is no limit), the ones it refuses with the file and line, and
 * that a reload carries it to running children (a live option).
 */

#include <sys/types.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "tlib.h"

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

/* Parse text over the defaults: 0 or -1, with the error in err. */
static int
parse(const char *text, struct quire_conf *c, char *err, size_t len)
{
	config_defaults(c);
	err[0] = '\0';
	return (config_parse_text(text, strlen(text), "quired.conf", c, err,
	    len));
}

START_TEST(job_timeout_default)
{
	struct quire_conf	 c;
	char			 v[64];

	config_defaults(&c);
	ck_assert_uint_eq(c.c_job_timeout_ms, 10 * 60 * 1000);
	config_format(&c, opt("job-timeout"), v, sizeof(v));
	ck_assert_str_eq(v, "10m");
	ck_assert_int_eq(opt("job-timeout")->o_type, CONF_DURATION);
}
END_TEST

START_TEST(job_timeout_values)
{
	static const struct {
		const char	*text;
		uint64_t	 ms;
		const char	*shown;
	} ok[] = {
		{ "job-timeout 2s\n", 2000, "2s" },
		{ "job-timeout 0\n", 0, "0s" },
		{ "job-timeout 250ms\n", 250, "250ms" },
		{ "job-timeout 90m\n", 5400000, "90m" },
		{ "job-timeout 7d\n", 604800000, "7d" },
		{ "# long documents\njob-timeout   1h  # an hour\n", 3600000,
		    "1h" },
	};
	struct quire_conf	 c;
	char			 err[512], v[64];
	size_t			 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ck_assert_msg(parse(ok[i].text, &c, err, sizeof(err)) == 0,
		    "%s: %s", ok[i].text, err);
		ck_assert_uint_eq(c.c_job_timeout_ms, ok[i].ms);
		config_format(&c, opt("job-timeout"), v, sizeof(v));
		ck_assert_str_eq(v, ok[i].shown);
	}
}
END_TEST

START_TEST(job_timeout_refused)
{
	static const struct {
		const char	*text;
		const char	*err;
	} bad[] = {
		{ "job-timeout 8d\n",
		    "quired.conf:1: job-timeout 8d: out of range" },
		{ "workers 1\njob-timeout ten\n",
		    "quired.conf:2: job-timeout ten: " },
		{ "job-timeout -1s\n", "quired.conf:1: job-timeout -1s: " },
		{ "job-timeout\n",
		    "quired.conf:1: job-timeout: missing value" },
		{ "job-timeout 5 minutes\n",
		    "quired.conf:1: job-timeout 5 minutes: " },
	};
	struct quire_conf	 c;
	char			 err[512];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i].text, &c, err, sizeof(err)) == -1,
		    "accepted %s", bad[i].text);
		ck_assert_msg(strncmp(err, bad[i].err, strlen(bad[i].err)) ==
		    0, "%s: error \"%s\", not \"%s...\"", bad[i].text, err,
		    bad[i].err);
	}
}
END_TEST

START_TEST(job_timeout_is_live)
{
	struct quire_conf	 running, reloaded;
	char			 err[512];

	ck_assert_int_eq(opt("job-timeout")->o_reload, CONF_RELOAD_LIVE);
	ck_assert_int_eq(parse("job-timeout 30s\n", &reloaded, err,
	    sizeof(err)), 0);
	config_defaults(&running);
	ck_assert_int_eq(config_copy(&running, &reloaded, opt("job-timeout")),
	    1);
	ck_assert_uint_eq(running.c_job_timeout_ms, 30000);
	ck_assert_int_eq(config_copy(&running, &reloaded, opt("job-timeout")),
	    0);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, job_timeout_default);
	tcase_add_test(tc, job_timeout_values);
	tcase_add_test(tc, job_timeout_refused);
	tcase_add_test(tc, job_timeout_is_live);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_config", config_suite()));
}
