/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What the Check suites share: one directory per run under $TMPDIR,
 * removed at the end with whatever failed tests left in it.
 */

#ifndef TLIB_H
#define TLIB_H

#include <limits.h>

#include <check.h>

extern char	 tlib_top[PATH_MAX];

int		 tlib_rm_rf(const char *);
int		 tlib_main(const char *, Suite *);

#endif /* TLIB_H */
