/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl's own: its exit statuses, and what its commands outside
 * quirectl.c (top.c) take from it.
 */

#ifndef QUIRECTL_H
#define QUIRECTL_H

#define CTL_EXIT_OK	0
#define CTL_EXIT_FAIL	1	/* the command failed */
#define CTL_EXIT_USAGE	2	/* bad command line */
#define CTL_EXIT_NOREAD	3	/* check: the index cannot be read */
#define CTL_EXIT_NODAEMON 4	/* status: no daemon, the queue alone shown */
#define CTL_EXIT_INTR	130	/* ingest: interrupted, as the shell says */

#define CTL_ASK_NODAEMON	ASK_NODAEMON
#define CTL_ASK_FAILED		ASK_FAILED

/* quirectl.c */
__dead void	 ctl_usage(const char *);
void		 ctl_socket_path(char *, size_t);
int		 ctl_ask(int, uint64_t, const char *, struct buf *, char *,
		    size_t);

/* top.c */
int		 top_main(int, char **);

#endif /* QUIRECTL_H */
