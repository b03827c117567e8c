/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl's own: its exit statuses, and the commands it keeps in files
 * of their own (top.c), which take what they need from quirectl.c as
 * arguments.
 */

#ifndef QUIRECTL_H
#define QUIRECTL_H

#define CTL_EXIT_OK	0
#define CTL_EXIT_FAIL	1	/* the command failed */
#define CTL_EXIT_USAGE	2	/* bad command line */
#define CTL_EXIT_NOREAD	3	/* check: the index cannot be read */
#define CTL_EXIT_NODAEMON 4	/* status: no daemon, the queue alone shown */
#define CTL_EXIT_INTR	130	/* ingest: interrupted, as the shell says */

/* top.c; the daemon's status --json into the buf, 0, or why says why
 * not (a signal may have cut it short). */
typedef int	(*top_ask_fn)(struct buf *, char *, size_t);

int		 top_main(int, char **, top_ask_fn);

#endif /* QUIRECTL_H */
