/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Memory pressure, the supervisor's side: when to look, what to do with
 * what pressure.c reads and elastic.c decides, and admission of big jobs.
 *
 * Sampling.  A timer reads the machine and our cgroup (pressure.c).  Its
 * period follows the headroom: every 100 ms within twice the reserve,
 * every 2 s beyond eight times it, in between in proportion.  Where the
 * kernel accepts a PSI trigger (a stall of 150 ms in a 2 s window) its
 * firing samples at once, so a sudden squeeze is seen within the
 * trigger's latency rather than the timer's.  A sample reads a handful
 * of small files into stack buffers and allocates nothing.
 *
 * Decisions.  Each sample goes to elastic_decide() with the fleet's
 * target, the workers that count (live, not told to stop) and the room
 * one more worker needs (memory_grow_need).  A shrink stops fleet_victim(): a slot
 * waiting to restart, else a starting or idle worker, else the busy one
 * holding the most memory, which stops after its job.  A grow lets
 * fleet_resize() start one more.  Each step is one log line with its
 * inputs and the victim, kept for status, and counted.
 *
 * Admission.  Workers claim big jobs (big-job-size and up) only while
 * the bytes of big jobs in flight stay under a budget (queue.c).  The
 * budget is big-inflight, lowered to the big jobs in flight (their memory
 * is already taken) plus what the headroom above the reserve holds at the
 * learned cost of the costliest document type, and 0 while under
 * pressure: no big job starts then.  The cost is learned from what
 * workers report when a job ends (its type and input size) and the peak
 * anonymous memory seen while it ran: bytes of memory per input byte, a
 * maximum that decays by a tenth per job so that one outlier fades.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"

#define MEMORY_NEAR_MS		100	/* sampling within 2x the reserve */
#define MEMORY_FAR_MS		2000	/* ... beyond 8x */
#define MEMORY_RESERVE_MIN	(64ULL << 20)	/* scale when reserve is 0 */
#define MEMORY_TRIGGER_US	150000	/* PSI trigger: stall ... */
#define MEMORY_WINDOW_US	2000000	/* ... within this window */
#define MEMORY_LEARN_DECAY	0.9

static void	 memory_tick(evutil_socket_t, short, void *);

/* The elastic policy's settings from the configuration. */
void
memory_reload(struct supervisor *sv)
{
	const struct quire_conf	*c = &sv->sv_conf;
	struct elastic_conf	*ec = &sv->sv_ec;

	elastic_conf_defaults(ec);
	ec->ec_reserve = c->c_mem_reserve;
	ec->ec_hysteresis = c->c_mem_hysteresis;
	ec->ec_psi_shrink = c->c_mem_psi_shrink;
	ec->ec_psi_grow = c->c_mem_psi_grow;
	ec->ec_dwell_ms = c->c_mem_dwell_ms;
	ec->ec_settle_ms = c->c_mem_settle_ms;
	ec->ec_cooldown_ms = c->c_mem_cooldown_ms;
	ec->ec_cooldown_max_ms = c->c_mem_cooldown_max_ms;
	ec->ec_min = c->c_min_workers;
	/* Off: nothing held back, and no old cap when it is on again. */
	if (!c->c_mem_elastic) {
		sv->sv_el.el_pressure = 0;
		sv->sv_el.el_cap = sv->sv_el.el_target = sv->sv_fleet.f_target;
	}
}

/* The next sample: sooner the closer the headroom is to the reserve. */
static void
memory_arm(struct supervisor *sv)
{
	struct timeval	 tv;
	uint64_t	 r = sv->sv_ec.ec_reserve, h = sv->sv_ps.ps_headroom;
	uint64_t	 ms;

	if (r < MEMORY_RESERVE_MIN)
		r = MEMORY_RESERVE_MIN;
	if (h <= 2 * r)
		ms = MEMORY_NEAR_MS;
	else if (h >= 8 * r)
		ms = MEMORY_FAR_MS;
	else
		ms = MEMORY_NEAR_MS + (MEMORY_FAR_MS - MEMORY_NEAR_MS) *
		    ((h - 2 * r) / (1 << 20)) / ((6 * r) / (1 << 20));
	sv->sv_mem_ms = ms;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(sv->sv_mem, &tv);
}

/*
 * The room one more worker needs, in bytes: the largest recent peak of a
 * worker, plus what the running ones may take back between jobs (their
 * recent peaks less what they hold now).  A fleet of hog-like documents
 * frees and retakes memory job by job; a grow that counted only the
 * memory free this instant would be undone at their next jobs.
 */
static uint64_t
memory_grow_need(struct supervisor *sv)
{
	const struct wslot	*w;
	long long		 peak, most = 0, back = 0;
	int			 i;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (w->w_pid == 0)
			continue;
		peak = w->w_anon_win[0] > w->w_anon_win[1] ?
		    w->w_anon_win[0] : w->w_anon_win[1];
		if (w->w_job != 0 && w->w_anon_peak > peak)
			peak = w->w_anon_peak;
		if (peak > most)
			most = peak;
		if (w->w_anon_kb >= 0 && peak > w->w_anon_kb)
			back += peak - w->w_anon_kb;
	}
	return ((uint64_t)(most + back) * 1024);
}

/* Anonymous memory of workers told to stop: it comes back as they go. */
static uint64_t
memory_pending(struct supervisor *sv)
{
	const struct wslot	*w;
	uint64_t		 kb = 0;
	int			 i;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (w->w_pid != 0 && w->w_state == W_DRAINING &&
		    w->w_anon_kb > 0)
			kb += w->w_anon_kb;
	}
	return (kb * 1024);
}

static struct memlearn *
memory_type(struct supervisor *sv, const char *type)
{
	struct memlearn	*ml, *free = NULL;
	int		 i;

	for (i = 0; i < MEMORY_TYPES; i++) {
		ml = &sv->sv_learn[i];
		if (strcmp(ml->ml_type, type) == 0)
			return (ml);
		if (free == NULL && ml->ml_type[0] == '\0')
			free = ml;
	}
	if (free != NULL)
		strlcpy(free->ml_type, type, sizeof(free->ml_type));
	return (free);
}

/* Take what finished jobs taught about their types' memory. */
static void
memory_learn(struct supervisor *sv)
{
	struct wslot	*w;
	struct memlearn	*ml;
	double		 r;
	int		 i;

	for (i = 0; i < QUIRE_WORKERS_MAX; i++) {
		w = &sv->sv_fleet.f_w[i];
		if (!w->w_learn)
			continue;
		w->w_learn = 0;
		if ((ml = memory_type(sv, w->w_learn_type)) == NULL)
			continue;
		r = (double)w->w_learn_kb * 1024 / w->w_learn_size;
		ml->ml_ratio *= MEMORY_LEARN_DECAY;
		if (r > ml->ml_ratio)
			ml->ml_ratio = r;
		ml->ml_jobs++;
	}
}

/* The big-job budget: what the headroom above the reserve holds. */
static uint64_t
memory_budget(struct supervisor *sv)
{
	const struct psample	*ps = &sv->sv_ps;
	struct queue_stats	 qs;
	uint64_t		 budget = sv->sv_conf.c_big_inflight, room;
	double			 worst = 0;
	int			 i;

	/* None while memory is short. */
	if (sv->sv_el.el_pressure)
		return (0);
	for (i = 0; i < MEMORY_TYPES; i++)
		if (sv->sv_learn[i].ml_ratio > worst)
			worst = sv->sv_learn[i].ml_ratio;
	if (worst <= 0)
		return (budget);
	/* What runs now holds its memory already: room is for more. */
	if (queue_stats(&sv->sv_q, &qs) != 0)
		qs.qs_big_inflight = 0;
	room = ps->ps_headroom > sv->sv_ec.ec_reserve ?
	    ps->ps_headroom - sv->sv_ec.ec_reserve : 0;
	if (qs.qs_big_inflight + room / worst < (double)budget)
		budget = qs.qs_big_inflight + room / worst;
	return (budget);
}

/*
 * Tell the workers a new budget when it stops or resumes big jobs, or
 * moves by more than a sixteenth; holding back and letting go again are
 * decisions, logged as such, the rest is noise kept for debugging.
 */
static void
memory_admit(struct supervisor *sv)
{
	uint64_t	 budget = memory_budget(sv), old = sv->sv_admit;
	uint64_t	 d;
	char		 a[32], b[32];

	d = budget > old ? budget - old : old - budget;
	if (budget == old || ((budget == 0) == (old == 0) && d < old / 16))
		return;
	util_human_size(old, a, sizeof(a));
	util_human_size(budget, b, sizeof(b));
	if ((budget == 0) != (old == 0))
		fleet_decision(sv, "admit big jobs %s -> %s%s", a, b,
		    budget == 0 ? " reason=memory short: none start" : "");
	else
		log_debug("admit: big jobs in flight %s -> %s", a, b);
	sv->sv_admit = budget;
	fleet_send(sv, IPC_ADMIT, budget, budget == 0, NULL);
}

/* What a victim is doing, for the decision's log line. */
static void
memory_victim(const struct wslot *w, char *buf, size_t len)
{
	if (w == NULL)
		strlcpy(buf, "none", len);
	else if (w->w_job != 0)
		snprintf(buf, len, "%d busy job %llu anon %lldK", (int)w->w_pid,
		    (unsigned long long)w->w_job, w->w_anon_kb);
	else
		snprintf(buf, len, "%d %s", (int)w->w_pid,
		    fleet_state_name(w->w_state));
}

/* One evaluation: sample, decide, act. */
static void
memory_evaluate(struct supervisor *sv)
{
	struct elastic_in	 in;
	char			 why[FLEET_DECISION_MAX], victim[96];
	int			 n, act;

	if (pressure_sample(&sv->sv_pr, &sv->sv_ps) == -1)
		return;
	memory_learn(sv);
	if (!sv->sv_conf.c_mem_elastic || sv->sv_draining)
		return;
	n = fleet_running(sv);
	memset(&in, 0, sizeof(in));
	in.ei_sample = &sv->sv_ps;
	in.ei_target = sv->sv_fleet.f_target;
	in.ei_running = n;
	in.ei_worker_peak = memory_grow_need(sv);
	in.ei_pending = memory_pending(sv);
	act = elastic_decide(&sv->sv_el, &sv->sv_ec, &in, util_mono_ms(),
	    why, sizeof(why));
	if (act == EL_SHRINK) {
		memory_victim(fleet_victim(sv), victim, sizeof(victim));
		fleet_decision(sv, "shrink %d->%d %s victim=%s", n,
		    fleet_want(sv), why, victim);
		sv->sv_fleet.f_downs++;
	} else if (act == EL_GROW) {
		fleet_decision(sv, "grow %d->%d %s", n, fleet_want(sv), why);
		sv->sv_fleet.f_ups++;
	} else if (sv->sv_el.el_pressure)
		log_debug("%s: %d workers, %s", __func__, n, why);
	memory_admit(sv);
	if (act != EL_HOLD)
		fleet_resize(sv);
}

static void
memory_tick(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;

	memory_evaluate(sv);
	memory_arm(sv);
}

/* A PSI trigger fired: look now. */
static void
memory_triggered(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor	*sv = arg;

	if (pressure_triggered(&sv->sv_pr) != 1)
		return;
	evtimer_del(sv->sv_mem);
	memory_tick(-1, 0, sv);
}

void
memory_start(struct supervisor *sv)
{
	char	 desc[PRESSURE_PATH_MAX * 2], lim[32], res[32];

	if (pressure_init(&sv->sv_pr) == -1)
		log_warnx("%s: cannot read /proc/meminfo; memory pressure "
		    "is not watched", __func__);
	memory_reload(sv);
	elastic_init(&sv->sv_el, &sv->sv_ec, sv->sv_fleet.f_target);
	sv->sv_admit = sv->sv_conf.c_big_inflight;
	if (pressure_trigger(&sv->sv_pr, MEMORY_TRIGGER_US,
	    MEMORY_WINDOW_US) == 0) {
		sv->sv_trig = event_new(sv->sv_base, sv->sv_pr.pr_trigfd,
		    EV_READ | EV_PERSIST, memory_triggered, sv);
		if (sv->sv_trig == NULL || event_add(sv->sv_trig, NULL) == -1)
			fatalx("%s: PSI trigger event", __func__);
	}
	if ((sv->sv_mem = evtimer_new(sv->sv_base, memory_tick, sv)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	(void)pressure_sample(&sv->sv_pr, &sv->sv_ps);
	util_human_size(sv->sv_ps.ps_limit, lim, sizeof(lim));
	util_human_size(sv->sv_ec.ec_reserve, res, sizeof(res));
	log_info("memory: %s; limit %s (%s), reserve %s%s",
	    pressure_describe(&sv->sv_pr, desc, sizeof(desc)), lim,
	    sv->sv_ps.ps_limit_source, res,
	    sv->sv_conf.c_mem_elastic ? "" : "; memory-pressure no");
	memory_arm(sv);
}

void
memory_stop(struct supervisor *sv)
{
	if (sv->sv_trig != NULL)
		event_free(sv->sv_trig);
	if (sv->sv_mem != NULL)
		event_free(sv->sv_mem);
	sv->sv_trig = sv->sv_mem = NULL;
	pressure_close(&sv->sv_pr);
}
