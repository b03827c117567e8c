/* quire: durable document ingestion and search on one Unix box. ISC license. */

/* The PostgreSQL side of the queue benchmarks (benchpg.c). */

#ifndef BENCHPG_H
#define BENCHPG_H

#define BENCHPG_SCHEMA_MAX	63	/* PostgreSQL's NAMEDATALEN - 1 */

int	 benchpg_schema(const char *, const char *, char *, size_t, char *,
	    size_t);
void	 benchpg_drop(const char *, const char *);
int	 benchpg_scalar(const char *, const char *, char *, size_t);
double	 benchpg_raw(const char *, double);

#endif
