/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl's progress display, for `submit --follow` and `ingest`.
 *
 * On a terminal, one line redrawn in place (a carriage return, then the
 * line, cut to the terminal's width, then "erase to the end of the
 * line"), at most every PROGRESS_TTY_MS:
 *
 *	[#########...........]  45% 18/40 jobs, 1520 docs, 310 docs/s,
 *	ETA 12s, 1 dead
 *
 * Elsewhere (a pipe, a file, a log) the same without the bar, one plain
 * line every PROGRESS_LINE_MS, so that a log of a long ingest says how
 * far it got and when.
 *
 * The caller's note, if any, ends the line: while a storage fault holds
 * the workers, "held: storage map-full (worker 0: index commit),
 * retrying", so that a bar that stops moving says why.
 *
 * The fraction done is the caller's: finished jobs plus the running
 * ones' own progress, over all.  The ETA is the time so far scaled by
 * what is left of that fraction; docs/s is the caller's (the event
 * stream's), or documents over the time so far while the caller has
 * none or 0 (the daemon's rate, over its last second, lags a burst
 * shorter than that).
 */

#include <sys/types.h>
#include <sys/ioctl.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "quire.h"

#define PROGRESS_TTY_MS		200
#define PROGRESS_LINE_MS	1000
#define PROGRESS_BAR		20

void
progress_start(struct progress *pg, size_t total, int tty)
{
	memset(pg, 0, sizeof(*pg));
	pg->pg_total = total;
	pg->pg_tty = tty;
	pg->pg_rate = -1;
	pg->pg_t0 = util_mono_ms();
}

/* "12s", "3m05s", "2h10m". */
static void
progress_eta(double secs, char *buf, size_t len)
{
	unsigned long long	 s = secs + 0.5;

	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
}

/* The line, without the bar. */
void
progress_line(const struct progress *pg, char *buf, size_t len)
{
	double	 secs = (util_mono_ms() - pg->pg_t0) / 1000.0, rate;
	double	 f = pg->pg_frac;
	char	 eta[32], dead[32] = "";

	rate = pg->pg_rate > 0 ? pg->pg_rate : secs > 0 ?
	    pg->pg_docs / secs : 0;
	if (pg->pg_done == pg->pg_total)
		strlcpy(eta, "0s", sizeof(eta));
	else if (f > 0.001 && f < 1)
		progress_eta(secs * (1 - f) / f, eta, sizeof(eta));
	else
		strlcpy(eta, "-", sizeof(eta));
	if (pg->pg_dead > 0)
		snprintf(dead, sizeof(dead), ", %zu dead", pg->pg_dead);
	snprintf(buf, len, "%3d%% %zu/%zu jobs, %llu docs, %.0f docs/s, "
	    "ETA %s%s%s%s", (int)(f * 100), pg->pg_done, pg->pg_total,
	    (unsigned long long)pg->pg_docs, rate, eta, dead,
	    pg->pg_note[0] != '\0' ? ", " : "", pg->pg_note);
}

/* Draw when it is time to; force: now, whatever the time. */
void
progress_draw(struct progress *pg, int force)
{
	struct winsize	 ws;
	uint64_t	 now = util_mono_ms();
	char		 line[256], full[320], bar[PROGRESS_BAR + 1];
	int		 n, cols = 80;

	if (pg->pg_frac < 0)
		pg->pg_frac = 0;
	if (pg->pg_frac > 1)
		pg->pg_frac = 1;
	if (!force && pg->pg_drawn != 0 && now - pg->pg_drawn <
	    (pg->pg_tty ? PROGRESS_TTY_MS : PROGRESS_LINE_MS))
		return;
	pg->pg_drawn = now;
	progress_line(pg, line, sizeof(line));
	if (!pg->pg_tty) {
		printf("%s\n", line);
		fflush(stdout);
		return;
	}
	n = pg->pg_frac * PROGRESS_BAR;
	memset(bar, '.', PROGRESS_BAR);
	memset(bar, '#', n);
	bar[PROGRESS_BAR] = '\0';
	snprintf(full, sizeof(full), "[%s] %s", bar, line);
	/* Cut to the terminal's width: a line that wraps cannot be redrawn. */
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		cols = ws.ws_col;
	printf("\r%.*s\033[K", cols - 1, full);
	fflush(stdout);
	pg->pg_drawn_tty = 1;
}

/* The last line: drawn once more, and ended on a terminal. */
void
progress_end(struct progress *pg)
{
	progress_draw(pg, 1);
	if (pg->pg_tty && pg->pg_drawn_tty)
		putchar('\n');
	fflush(stdout);
}
