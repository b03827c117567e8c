/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What the Check suites share: the run's directory, its removal, and a
 * main that runs a suite in it.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

#include "quire.h"
#include "tlib.h"

char	 tlib_top[PATH_MAX];

static int
tlib_rm_one(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	if (remove(path) == -1 && errno != ENOENT)
		return (-1);
	return (0);
}

/* rm -rf dir. */
int
tlib_rm_rf(const char *dir)
{
	return (nftw(dir, tlib_rm_one, 16, FTW_DEPTH | FTW_PHYS));
}

/* Run suite s in a fresh directory under $TMPDIR; the exit status. */
int
tlib_main(const char *name, Suite *s)
{
	SRunner		*sr;
	const char	*tmp;
	int		 nfailed;

	log_init(1, LOG_DAEMON);
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(tlib_top, sizeof(tlib_top), "%s/%s.XXXXXX", tmp,
	    name) >= sizeof(tlib_top) || mkdtemp(tlib_top) == NULL) {
		fprintf(stderr, "%s: cannot make a directory in %s\n", name,
		    tmp);
		return (EXIT_FAILURE);
	}
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* Also what failed or timed-out tests left behind. */
	tlib_rm_rf(tlib_top);
	return (nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
