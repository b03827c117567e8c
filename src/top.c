/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quirectl top: a live view of the fleet.  Every interval it asks the
 * daemon for status --json and draws the answer in blocks: the fleet,
 * its memory, the queue with rates, the workers and the last decisions
 * of the scaling policy.  A rate is the change between two answers over the
 * time between them, so the first frame has none.  Fields a daemon does
 * not send are shown as "-", so top works with older daemons.
 *
 * On a terminal the frame is redrawn in place and the terminal is put in
 * non-canonical mode, without echo, to read keys; its modes come back
 * however top ends: q, a signal (a flag the loop reads), or errx, through
 * atexit.  Elsewhere top prints -n snapshots and exits.
 */

#include <sys/types.h>
#include <sys/ioctl.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "quire.h"

#define TOP_COLS	80	/* width off a terminal */
#define TOP_ROWS	24	/* height of a terminal that does not say */
#define TOP_MINCOLS	20	/* narrower, and lines do not wrap well */
#define TOP_INDENT	4	/* of a wrapped line's continuation */
#define TOP_SRC_MAX	40	/* bytes of the memory limit's source */
#define TOP_WFMT	"%-4s %-7s %-9s %-9s %7s %7s %6s %4s %s"

struct top {
	top_ask_fn	 t_ask;		/* quirectl's way to the daemon */
	yajl_val	 t_cur;		/* the last answer */
	yajl_val	 t_prev;	/* the one before, for rates */
	uint64_t	 t_cur_ms;	/* when each came, monotonic */
	uint64_t	 t_prev_ms;
	struct buf	 t_reply;
	struct buf	 t_utf8;	/* the reply repaired, if need be */
	struct buf	 t_out;		/* the frame, written at once */
	int		 t_tty;
	size_t		 t_cols;
	int		 t_rows;	/* lines a frame may use; 0: any */
	int		 t_used;
};

static volatile sig_atomic_t	 top_quit;
static volatile sig_atomic_t	 top_winch;
static struct termios		 top_termios;	/* to restore */
static int			 top_raw;	/* stdin is ours */
static int			 top_hidden;	/* so is the cursor */

static void	 top_put(struct top *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

static void
top_signal(int sig)
{
	if (sig == SIGWINCH)
		top_winch = 1;
	else
		top_quit = 1;
}

static void
top_tty_restore(void)
{
	if (top_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_termios);
	top_raw = 0;
	if (top_hidden)
		fputs("\033[?25h", stdout);
	top_hidden = 0;
	fflush(stdout);
}

static void
top_tty_start(void)
{
	struct sigaction	 sa;
	struct termios		 raw;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = top_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll returns at once to look at the flags. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	/* A daemon gone mid-request must not kill top in raw mode. */
	signal(SIGPIPE, SIG_IGN);
	atexit(top_tty_restore);
	fputs("\033[?25l", stdout);
	top_hidden = 1;
	if (!isatty(STDIN_FILENO) ||
	    tcgetattr(STDIN_FILENO, &top_termios) == -1)
		return;
	raw = top_termios;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		top_raw = 1;
}

/* The value at a dotted path of keys ("fleet.resizes.up") below v. */
static yajl_val
top_val(yajl_val v, const char *dotted)
{
	const char	*path[8];
	char		 keys[128], *p, *key;
	size_t		 n = 0;

	if (v == NULL || strlcpy(keys, dotted, sizeof(keys)) >= sizeof(keys))
		return (NULL);
	p = keys;
	while (n < sizeof(path) / sizeof(path[0]) - 1 &&
	    (key = strsep(&p, ".")) != NULL)
		path[n++] = key;
	path[n] = NULL;
	return (yajl_tree_get(v, path, yajl_t_any));
}

static int
top_true(yajl_val v, const char *path)
{
	v = top_val(v, path);
	return (YAJL_IS_TRUE(v));
}

static void
top_int(yajl_val v, char *buf, size_t len)
{
	if (YAJL_IS_INTEGER(v))
		snprintf(buf, len, "%lld", YAJL_GET_INTEGER(v));
	else
		strlcpy(buf, "-", len);
}

static void
top_size(yajl_val v, char *buf, size_t len)
{
	if (YAJL_IS_INTEGER(v))
		util_human_size(YAJL_GET_INTEGER(v), buf, len);
	else
		strlcpy(buf, "-", len);
}

/* A string cut to max bytes, on a UTF-8 boundary, with "..." if cut. */
static void
top_str(yajl_val v, size_t max, char *buf, size_t len)
{
	const char	*s;
	size_t		 n;

	if (!YAJL_IS_STRING(v)) {
		strlcpy(buf, "-", len);
		return;
	}
	s = YAJL_GET_STRING(v);
	if ((n = strlen(s)) <= max) {
		strlcpy(buf, s, len);
		return;
	}
	n = max > 3 ? max - 3 : 0;
	while (n > 0 && (s[n] & 0xc0) == 0x80)
		n--;
	snprintf(buf, len, "%.*s...", (int)n, s);
}

/* 42s, 5m03s, 1h02m, 3d04h. */
static void
top_uptime(yajl_val v, char *buf, size_t len)
{
	long long	 s;

	if (!YAJL_IS_INTEGER(v) || (s = YAJL_GET_INTEGER(v)) < 0)
		strlcpy(buf, "-", len);
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/*
 * " (+35/s)": how fast the number at path moved between the last two
 * answers, or nothing on the first frame or across a restart.
 */
static void
top_rate(struct top *t, const char *path, char *buf, size_t len)
{
	yajl_val	 a, b, pa, pb;
	double		 r;

	buf[0] = '\0';
	if (t->t_prev == NULL || t->t_cur_ms <= t->t_prev_ms)
		return;
	pa = top_val(t->t_prev, "fleet.pid");
	pb = top_val(t->t_cur, "fleet.pid");
	if (!YAJL_IS_INTEGER(pa) || !YAJL_IS_INTEGER(pb) ||
	    YAJL_GET_INTEGER(pa) != YAJL_GET_INTEGER(pb))
		return;
	a = top_val(t->t_prev, path);
	b = top_val(t->t_cur, path);
	if (!YAJL_IS_INTEGER(a) || !YAJL_IS_INTEGER(b))
		return;
	r = (double)(YAJL_GET_INTEGER(b) - YAJL_GET_INTEGER(a)) * 1000 /
	    (t->t_cur_ms - t->t_prev_ms);
	if (r != 0 && r > -10 && r < 10)
		snprintf(buf, len, " (%+.1f/s)", r);
	else
		snprintf(buf, len, " (%+.0f/s)", r);
}

/* Where to cut a line to at most cut bytes, not inside a UTF-8 sequence. */
static size_t
top_cut(const char *p, size_t cut)
{
	while (cut > 0 && (p[cut] & 0xc0) == 0x80)
		cut--;
	return (cut);
}

/*
 * Where to break a line of more than cut bytes: the last space in reach
 * after a comma or a semicolon, else the last between a number and a
 * word ("ready 3 | leased 2"), else the last space, else anywhere.
 */
static size_t
top_break(const char *p, size_t cut)
{
	size_t	 i, best = 0;
	int	 rank, best_rank = -1;

	for (i = cut; i > 0; i--) {
		if (p[i] != ' ')
			continue;
		if (p[i - 1] == ',' || p[i - 1] == ';')
			rank = 2;
		else if ((isdigit((unsigned char)p[i - 1]) ||
		    p[i - 1] == ')') && isalpha((unsigned char)p[i + 1]))
			rank = 1;
		else
			rank = 0;
		if (rank > best_rank) {
			best_rank = rank;
			best = i;
		}
	}
	if (best > 0)
		return (best);
	if ((i = top_cut(p, cut)) == 0)
		i = cut;
	return (i);
}

/*
 * One line of the frame, cut to the width or, with wrap, broken into
 * indented lines.  Lines past the height are dropped: the terminal would
 * scroll the header away.  Control bytes from the daemon's strings are
 * shown as '?', so that they cannot drive the terminal.
 */
static void
top_put(struct top *t, int wrap, const char *fmt, ...)
{
	char		 line[1024], *p;
	va_list		 ap;
	size_t		 cut, i, indent = 0;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	p = line;
	do {
		if (t->t_rows > 0 && t->t_used >= t->t_rows)
			return;
		cut = strlen(p);
		if (indent + cut > t->t_cols)
			cut = wrap ? top_break(p, t->t_cols - indent) :
			    top_cut(p, t->t_cols);
		for (i = 0; i < indent; i++)
			buf_addc(&t->t_out, ' ');
		buf_add(&t->t_out, p, cut);
		buf_addc(&t->t_out, '\n');
		t->t_used++;
		p += cut;
		while (*p == ' ')
			p++;
		indent = TOP_INDENT;
	} while (wrap && *p != '\0');
}

/* quired pid P, up 1h02m, target T, want W, running R; generation G */
static void
top_header(struct top *t)
{
	yajl_val	 f, v;
	char		 pid[24], up[24], target[24], want[24], running[24];
	char		 gen[24];

	f = top_val(t->t_cur, "fleet");
	top_int(top_val(f, "pid"), pid, sizeof(pid));
	top_uptime(top_val(f, "uptime_s"), up, sizeof(up));
	top_int(top_val(f, "target"), target, sizeof(target));
	top_int(top_val(f, "want"), want, sizeof(want));
	top_int(top_val(f, "running"), running, sizeof(running));
	top_int(top_val(f, "generation"), gen, sizeof(gen));
	top_put(t, 1, "quired pid %s, up %s, target %s, want %s, "
	    "running %s%s%s; generation %s", pid, up, target, want, running,
	    top_true(f, "degraded") ? ", degraded" : "",
	    top_true(f, "draining") ? ", draining" : "",
	    gen);
	v = top_val(f, "last_reload_error");
	if (YAJL_IS_STRING(v))
		top_put(t, 0, "reload error: %s", YAJL_GET_STRING(v));
}

/* The memory limit and headroom, pressure, and what the policy did. */
static void
top_memory(struct top *t)
{
	yajl_val	 m, f, v;
	char		 limit[16], used[16], head[16], reserve[16], big[16];
	char		 some[16], full[16], poll[24], src[TOP_SRC_MAX + 8];
	char		 up[24], down[24], repl[24];

	m = top_val(t->t_cur, "memory");
	f = top_val(t->t_cur, "fleet");
	top_size(top_val(m, "limit"), limit, sizeof(limit));
	top_size(top_val(m, "usage"), used, sizeof(used));
	top_size(top_val(m, "headroom"), head, sizeof(head));
	top_size(top_val(m, "reserve"), reserve, sizeof(reserve));
	top_size(top_val(m, "big_admit"), big, sizeof(big));
	strlcpy(some, "-", sizeof(some));
	strlcpy(full, "-", sizeof(full));
	strlcpy(poll, "-", sizeof(poll));
	v = top_val(m, "psi_some10");
	if (YAJL_IS_DOUBLE(v))
		snprintf(some, sizeof(some), "%.2f", YAJL_GET_DOUBLE(v));
	v = top_val(m, "psi_full10");
	if (YAJL_IS_DOUBLE(v))
		snprintf(full, sizeof(full), "%.2f", YAJL_GET_DOUBLE(v));
	v = top_val(m, "poll_ms");
	if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0)
		util_format_duration(YAJL_GET_INTEGER(v), poll, sizeof(poll));
	src[0] = '\0';
	v = top_val(m, "limit_source");
	if (YAJL_IS_STRING(v)) {
		src[0] = ' ';
		src[1] = '(';
		top_str(v, TOP_SRC_MAX, src + 2, sizeof(src) - 3);
		strlcat(src, ")", sizeof(src));
	}
	top_put(t, 1, "memory: limit %s%s, used %s, headroom %s, reserve %s, "
	    "psi some %s full %s, poll %s%s", limit, src, used, head, reserve,
	    some, full, poll, top_true(m, "pressure") ? ", UNDER PRESSURE" :
	    "");
	top_int(top_val(f, "resizes.up"), up, sizeof(up));
	top_int(top_val(f, "resizes.down"), down, sizeof(down));
	top_int(top_val(f, "replaced"), repl, sizeof(repl));
	top_put(t, 1, "resizes: up %s down %s, replaced %s; big jobs admitted "
	    "%s", up, down, repl, big);
}

/*
 * The jobs in each state, in the daemon's order.  ready moves by the net
 * of new and claimed jobs; done's rate counts completions (the totals),
 * which purges of old done jobs do not lower.
 */
static void
top_jobs(struct top *t)
{
	yajl_val	 jobs;
	char		 line[512], num[24], rate[32];
	size_t		 i;

	jobs = top_val(t->t_cur, "jobs");
	if (!YAJL_IS_OBJECT(jobs)) {
		top_put(t, 1, "jobs: -");
		return;
	}
	strlcpy(line, "jobs:", sizeof(line));
	for (i = 0; i < jobs->u.object.len; i++) {
		top_int(jobs->u.object.values[i], num, sizeof(num));
		rate[0] = '\0';
		if (strcmp(jobs->u.object.keys[i], "ready") == 0)
			top_rate(t, "jobs.ready", rate, sizeof(rate));
		else if (strcmp(jobs->u.object.keys[i], "done") == 0)
			top_rate(t, "totals.completed", rate,
			    sizeof(rate));
		strlcat(line, " ", sizeof(line));
		strlcat(line, jobs->u.object.keys[i], sizeof(line));
		strlcat(line, " ", sizeof(line));
		strlcat(line, num, sizeof(line));
		strlcat(line, rate, sizeof(line));
	}
	top_put(t, 1, "%s", line);
}

static void
top_worker(struct top *t, yajl_val w)
{
	yajl_val	 v;
	char		 slot[24], pid[24], job[24], age[24], anon[24];
	char		 jobs[24], gen[24], state[16], phase[128];

	top_int(top_val(w, "slot"), slot, sizeof(slot));
	/* Pid 0: a slot waiting to start its worker again. */
	v = top_val(w, "pid");
	top_int(v, pid, sizeof(pid));
	if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) == 0)
		strlcpy(pid, "-", sizeof(pid));
	top_int(top_val(w, "job"), job, sizeof(job));
	strlcpy(age, "-", sizeof(age));
	v = top_val(w, "elapsed_ms");
	if (YAJL_IS_DOUBLE(v))
		snprintf(age, sizeof(age), "%.1fs", YAJL_GET_DOUBLE(v) / 1000);
	strlcpy(anon, "-", sizeof(anon));
	v = top_val(w, "anon_kb");
	if (YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0)
		snprintf(anon, sizeof(anon), "%.1fM",
		    YAJL_GET_INTEGER(v) / 1024.0);
	top_int(top_val(w, "jobs"), jobs, sizeof(jobs));
	top_int(top_val(w, "generation"), gen, sizeof(gen));
	top_str(top_val(w, "state"), 9, state, sizeof(state));
	top_str(top_val(w, "phase"), sizeof(phase) - 1, phase,
	    sizeof(phase));
	top_put(t, 0, TOP_WFMT, slot, pid, state, job, age, anon, jobs, gen,
	    phase);
}

static void
top_workers(struct top *t)
{
	yajl_val	 ws;
	size_t		 i;

	ws = top_val(t->t_cur, "fleet.workers");
	top_put(t, 0, "%s", "");
	top_put(t, 0, TOP_WFMT, "SLOT", "PID", "STATE", "JOB", "AGE", "ANON",
	    "JOBS", "GEN", "PHASE");
	if (!YAJL_IS_ARRAY(ws))
		return;
	for (i = 0; i < ws->u.array.len; i++)
		top_worker(t, ws->u.array.values[i]);
}

/*
 * The policy's last decisions, newest last: on a terminal, as many of the
 * newest as there are lines left.  A daemon without the list may still
 * say its last one.
 */
static void
top_decisions(struct top *t)
{
	yajl_val	 d, v;
	size_t		 i, n, room;

	d = top_val(t->t_cur, "fleet.decisions");
	v = top_val(t->t_cur, "fleet.last_decision");
	n = YAJL_IS_ARRAY(d) ? d->u.array.len : YAJL_IS_STRING(v);
	room = n;
	if (t->t_rows > 0) {
		/* A blank line and the title come first. */
		room = t->t_rows > t->t_used + 2 ? t->t_rows - t->t_used - 2 :
		    0;
		if (room == 0)
			return;
		if (room > n)
			room = n;
	}
	top_put(t, 0, "%s", "");
	if (n == 0) {
		top_put(t, 0, "decisions: %s", YAJL_IS_ARRAY(d) ? "none" : "-");
		return;
	}
	top_put(t, 0, "decisions:");
	if (!YAJL_IS_ARRAY(d)) {
		top_put(t, 0, "  %s", YAJL_GET_STRING(v));
		return;
	}
	for (i = n - room; i < n; i++) {
		v = d->u.array.values[i];
		top_put(t, 0, "  %s", YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) :
		    "-");
	}
}

/* Draw the last answer: on a terminal in place, at its size. */
static void
top_draw(struct top *t)
{
	struct winsize	 ws;

	buf_reset(&t->t_out);
	t->t_cols = TOP_COLS;
	t->t_rows = 0;
	t->t_used = 0;
	if (t->t_tty) {
		/* The last line holds the cursor; a newline there scrolls. */
		t->t_rows = TOP_ROWS - 1;
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
		    ws.ws_row > 1 && ws.ws_col > 0) {
			t->t_rows = ws.ws_row - 1;
			t->t_cols = ws.ws_col;
		}
		if (t->t_cols < TOP_MINCOLS)
			t->t_cols = TOP_MINCOLS;
		buf_addstr(&t->t_out, "\033[H\033[2J");
	}
	top_header(t);
	top_memory(t);
	top_jobs(t);
	top_workers(t);
	top_decisions(t);
	if (t->t_out.b_len > 0)
		fwrite(t->t_out.b_data, 1, t->t_out.b_len, stdout);
	fflush(stdout);
}

/* Ask for status --json.  0, or -1 when a signal ended top meanwhile. */
static int
top_fetch(struct top *t)
{
	char		 why[PATH_MAX + 512], err[256];
	const char	*json;
	yajl_val	 tree;
	int		 rv;

	rv = t->t_ask(&t->t_reply, why, sizeof(why));
	if (rv != 0 && top_quit)
		return (-1);
	if (rv != 0)
		errx(CTL_EXIT_FAIL, "top: %s", why);
	json = buf_cstr(&t->t_reply);
	/* yajl refuses bad UTF-8, which a reload error may quote. */
	if (!utf8_valid(json, t->t_reply.b_len, NULL)) {
		buf_reset(&t->t_utf8);
		utf8_repair(json, t->t_reply.b_len, &t->t_utf8);
		json = buf_cstr(&t->t_utf8);
	}
	if ((tree = yajl_tree_parse(json, err, sizeof(err))) == NULL) {
		err[strcspn(err, "\n")] = '\0';
		errx(CTL_EXIT_FAIL, "top: the daemon's status is not JSON: %s",
		    err);
	}
	yajl_tree_free(t->t_prev);
	t->t_prev = t->t_cur;
	t->t_prev_ms = t->t_cur_ms;
	t->t_cur = tree;
	t->t_cur_ms = util_mono_ms();
	return (0);
}

/*
 * Wait ms for the next frame, redrawing when the terminal is resized.
 * 0: the next frame is due, or a key asked for it now; 1: q or a signal
 * ends top.  A terminal that hangs up gives no more keys.
 */
static int
top_wait(struct top *t, int ms)
{
	struct pollfd	 pfd;
	uint64_t	 end, now;
	char		 c;

	end = util_mono_ms() + ms;
	pfd.fd = top_raw ? STDIN_FILENO : -1;
	pfd.events = POLLIN;
	while (!top_quit) {
		if (top_winch) {
			top_winch = 0;
			top_draw(t);
		}
		if ((now = util_mono_ms()) >= end)
			return (0);
		pfd.revents = 0;
		if (poll(&pfd, 1, end - now) == -1 && errno != EINTR)
			err(CTL_EXIT_FAIL, "top: poll");
		if (pfd.revents == 0)
			continue;
		switch (read(STDIN_FILENO, &c, 1)) {
		case 1:
			return (c == 'q' || c == 'Q');
		case -1:
			if (errno == EINTR || errno == EAGAIN)
				break;
			/* FALLTHROUGH */
		default:
			pfd.fd = -1;
		}
	}
	return (1);
}

/*
 * quirectl top [-d SECONDS] [-n COUNT], asking through ask: its exit
 * status, CTL_EXIT_USAGE for a bad command line, which the caller
 * explains.
 */
int
top_main(int argc, char **argv, top_ask_fn ask)
{
	struct top	 t;
	const char	*errstr;
	char		*end;
	double		 secs = 1;
	long long	 count = 0, n;
	int		 ch;

	while ((ch = getopt(argc, argv, "d:n:")) != -1) {
		switch (ch) {
		case 'd':
			errno = 0;
			secs = strtod(optarg, &end);
			/* Written so that NaN fails too. */
			if (end == optarg || *end != '\0' || errno != 0 ||
			    !(secs >= 0.1 && secs <= 3600))
				errx(CTL_EXIT_USAGE, "-d %s: seconds from 0.1 "
				    "to 3600", optarg);
			break;
		case 'n':
			count = strtonum(optarg, 1, INT_MAX, &errstr);
			if (errstr != NULL)
				errx(CTL_EXIT_USAGE, "-n %s: %s", optarg,
				    errstr);
			break;
		default:
			return (CTL_EXIT_USAGE);
		}
	}
	if (optind != argc)
		return (CTL_EXIT_USAGE);
	memset(&t, 0, sizeof(t));
	t.t_ask = ask;
	buf_init(&t.t_reply);
	buf_init(&t.t_utf8);
	buf_init(&t.t_out);
	t.t_tty = isatty(STDOUT_FILENO);
	if (!t.t_tty && count == 0)
		count = 1;
	/* No daemon: fail before the terminal is touched. */
	top_fetch(&t);
	if (t.t_tty)
		top_tty_start();
	for (n = 1;; n++) {
		if (!t.t_tty && n > 1)
			putchar('\n');
		top_draw(&t);
		if (n == count || top_wait(&t, (int)(secs * 1000)) == 1 ||
		    top_fetch(&t) == -1)
			break;
	}
	yajl_tree_free(t.t_prev);
	yajl_tree_free(t.t_cur);
	buf_free(&t.t_reply);
	buf_free(&t.t_utf8);
	buf_free(&t.t_out);
	if (ferror(stdout))
		errx(CTL_EXIT_FAIL, "top: cannot write the frame");
	return (CTL_EXIT_OK);
}
