/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The fleet's memory-pressure policy: how many workers memory allows.
 *
 * elastic_decide() is a pure function of the configuration, its own
 * state, one memory sample and the time the caller passes in: it reads
 * no clock, does no I/O, allocates and logs nothing.  It answers hold,
 * shrink or grow, moves el_cap (the most workers memory allows) and
 * writes one line of its inputs for the caller's log.  The fleet runs
 * min(target, el_cap) workers; el_cap equal to the target is no cap.
 *
 * Pressure.  Headroom is the sample's: the limit (the machine's or our
 * cgroup's, the lower) minus what is used without reclaimable page
 * cache, never more than MemAvailable.  We are under pressure while the
 * headroom is below memory-reserve, or while PSI is present, its "some"
 * avg10 is at or above memory-psi-shrink and the headroom is short of
 * the grow line below (reserve + hysteresis + what one more worker
 * needs): tasks already stall on reclaim though the reserve is not yet
 * reached, so PSI confirms what the headroom suggests.  Above that line
 * the fleet's anonymous memory is not what stalls them: a stream read
 * through a small cgroup, or an index bigger than it searched hot,
 * stalls on page cache that shrinking would not give back.  Without PSI
 * (some10 is -1) the headroom alone decides.
 *
 * One step at a time.  An evaluation moves the cap by one worker at
 * most, and a step waits memory-settle after the step before it, either
 * way.  The anonymous memory of workers already told to stop counts as
 * headroom to come (ei_pending): a busy victim gives it back only when
 * its job ends, and stopping another meanwhile would overshoot; below
 * half the reserve that credit is not given.  A worker's memory comes back only when it has left (a busy one
 * finishes its job first), and PSI's avg10 averages the last ten
 * seconds, so it lags what we did: stopping several workers on one
 * reading would overshoot.  A shrink takes the cap to one below the
 * workers running (or below the cap, if that is lower), never below
 * min-workers; at min-workers pressure is left to the kernel.
 *
 * Growing back.  A grow needs no pressure and more: headroom of at
 * least reserve + hysteresis + a worker's recent peak anonymous memory,
 * so the new worker fits and the reserve is still kept with the
 * hysteresis to spare: the grow itself does not cause the next shrink.
 * Between the reserve and that sum lies a band where neither happens.
 * PSI, if present, must be below memory-psi-grow.  And time must have
 * passed: memory-dwell since the last shrink and since the last look
 * without room to grow (room must last: a load that comes and goes
 * faster than that never starts a grow its return would undo), the grow
 * cooldown since the last grow, memory-settle since any step.  A grow raises the cap by
 * one; when it reaches the target the cap is lifted.  Nothing grows
 * while fewer workers run than the cap already allows.
 *
 * Dwell keeps opposite steps apart: a grow waits dwell after a shrink,
 * and so does a shrink that PSI alone calls for after a grow.  A shrink
 * with the headroom below the reserve is never held by dwell: memory
 * comes first, and settle alone spaces its steps.
 *
 * No flapping.  The first shrink within ec_undo_ms of a grow undoes it:
 * the grow was a mistake, the load that pushed us down comes back.  It
 * counts a penalty and doubles the grow cooldown, up to
 * memory-grow-cooldown-max, so a load that comes and goes every few
 * seconds costs a grow and a shrink per cooldown, fewer and fewer, not
 * two resizes every few seconds.  The cooldown returns to its
 * configured value once the fleet has run at its target without
 * pressure for a full memory-grow-cooldown-max since its last step.
 *
 * The target is the operator's.  The cap never exceeds it: a lowered
 * target clamps the cap at once, and stopping the workers above it is
 * the fleet's business, not a memory decision.  Without a cap in effect
 * (el_cap at the last target) the cap follows a raised target at once;
 * with one, the cap stays and is approached like any grow: a worker at
 * a time, each with its headroom checked.
 */

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "quire.h"

#define EL_SIZE_MAX	16	/* "1023.9E" and more */

static void	 el_why(char *, size_t, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));

void
elastic_conf_defaults(struct elastic_conf *ec)
{
	memset(ec, 0, sizeof(*ec));
	ec->ec_reserve = 512ULL << 20;
	ec->ec_hysteresis = 256ULL << 20;
	ec->ec_psi_shrink = 10.0;
	ec->ec_psi_grow = 1.0;
	ec->ec_dwell_ms = 10000;
	ec->ec_settle_ms = 1000;
	ec->ec_cooldown_ms = 5000;
	ec->ec_cooldown_max_ms = 300000;
	ec->ec_undo_ms = 60000;
	ec->ec_min = 0;
}

void
elastic_init(struct elastic *el, const struct elastic_conf *ec, int target)
{
	memset(el, 0, sizeof(*el));
	el->el_cap = el->el_target = target < 0 ? 0 : target;
	el->el_cooldown_ms = ec->ec_cooldown_ms;
}

/* Milliseconds from stamp t to now; a stamp of 0 is never, long ago. */
static uint64_t
el_since(uint64_t now, uint64_t t)
{
	if (t == 0)
		return (UINT64_MAX);
	if (now < t)
		return (0);
	return (now - t);
}

/* A stamp for now: 0 means never, so a step at time 0 is stamped 1. */
static uint64_t
el_stamp(uint64_t now)
{
	return (now == 0 ? 1 : now);
}

static uint64_t
el_add(uint64_t a, uint64_t b)
{
	return (a > UINT64_MAX - b ? UINT64_MAX : a + b);
}

static void
el_why(char *why, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* PSI some avg10 for the log: "none" when the kernel has no PSI. */
static const char *
el_psi(char *buf, size_t len, double some10)
{
	if (some10 < 0)
		(void)snprintf(buf, len, "none");
	else
		(void)snprintf(buf, len, "%.1f", some10);
	return (buf);
}

/* Seconds left of a wait of want ms of which have passed. */
static double
el_left(uint64_t want, uint64_t have)
{
	return ((double)(want - have) / 1000);
}

/* A grow undone: double the cooldown, up to its maximum. */
static void
el_penalize(struct elastic *el, const struct elastic_conf *ec)
{
	uint64_t	 cd;

	cd = el_add(el->el_cooldown_ms, el->el_cooldown_ms);
	if (cd > ec->ec_cooldown_max_ms)
		cd = ec->ec_cooldown_max_ms;
	if (cd > el->el_cooldown_ms)
		el->el_cooldown_ms = cd;
	el->el_penalties++;
}

static void
el_shrink_why(const struct elastic_conf *ec, const struct elastic_in *in,
    int low, char *why, size_t len)
{
	const struct psample	*ps = in->ei_sample;
	char			 a[EL_SIZE_MAX], b[EL_SIZE_MAX];
	char			 p[EL_SIZE_MAX], q[EL_SIZE_MAX];

	if (low && in->ei_pending > 0)
		el_why(why, len, "reason=headroom %s+%s<%s psi_some10=%s",
		    util_human_size(ps->ps_headroom, a, sizeof(a)),
		    util_human_size(in->ei_pending, q, sizeof(q)),
		    util_human_size(ec->ec_reserve, b, sizeof(b)),
		    el_psi(p, sizeof(p), ps->ps_some10));
	else if (low)
		el_why(why, len, "reason=headroom %s<%s psi_some10=%s",
		    util_human_size(ps->ps_headroom, a, sizeof(a)),
		    util_human_size(ec->ec_reserve, b, sizeof(b)),
		    el_psi(p, sizeof(p), ps->ps_some10));
	else
		el_why(why, len, "reason=psi some10=%.1f>=%.1f headroom %s",
		    ps->ps_some10, ec->ec_psi_shrink,
		    util_human_size(ps->ps_headroom, a, sizeof(a)));
}

/* Under pressure: one worker fewer, unless held. */
static int
el_shrink(struct elastic *el, const struct elastic_conf *ec,
    const struct elastic_in *in, uint64_t now, int low, char *why,
    size_t len)
{
	uint64_t	 grown;
	int		 n, undo;

	n = in->ei_running < el->el_cap ? in->ei_running : el->el_cap;
	if (n <= ec->ec_min || n <= 0) {
		el_why(why, len, "hold min-workers");
		return (EL_HOLD);
	}
	if (el_since(now, el->el_last_step) < ec->ec_settle_ms) {
		el_why(why, len, "hold pressure settle");
		return (EL_HOLD);
	}
	grown = el_since(now, el->el_last_grow);
	undo = el->el_last_grow > el->el_last_shrink;
	if (!low && undo && grown < ec->ec_dwell_ms) {
		el_why(why, len, "hold pressure dwell %.1fs",
		    el_left(ec->ec_dwell_ms, grown));
		return (EL_HOLD);
	}
	el->el_cap = n - 1;
	if (undo && grown < ec->ec_undo_ms)
		el_penalize(el, ec);
	el->el_last_shrink = el->el_last_step = el_stamp(now);
	el->el_downs++;
	el_shrink_why(ec, in, low, why, len);
	return (EL_SHRINK);
}

/* Calm at the target: forgive past penalties after a long calm. */
static void
el_calm(struct elastic *el, const struct elastic_conf *ec,
    const struct elastic_in *in, uint64_t now)
{
	if (in->ei_running < in->ei_target || el->el_cap < in->ei_target)
		return;
	if (el_since(now, el->el_last_step) >= ec->ec_cooldown_max_ms)
		el->el_cooldown_ms = ec->ec_cooldown_ms;
}

/* How long it has been calm: since the last shrink and the last squeeze. */
static uint64_t
el_calm_for(const struct elastic *el, uint64_t now)
{
	uint64_t	 s, c;

	s = el_since(now, el->el_last_shrink);
	c = el_since(now, el->el_last_squeeze);
	return (s < c ? s : c);
}

/*
 * Note the last look with no room to grow: headroom short of the grow
 * line, PSI at memory-psi-grow or above, or pressure.  A grow waits a
 * dwell past it, so a load that comes and goes faster than the dwell
 * never starts a grow that its return would undo.
 */
static void
el_watch(struct elastic *el, const struct elastic_conf *ec,
    const struct elastic_in *in, uint64_t need, uint64_t now)
{
	const struct psample	*ps = in->ei_sample;

	if (el->el_pressure || ps->ps_headroom < need ||
	    (ps->ps_some10 >= 0 && ps->ps_some10 >= ec->ec_psi_grow))
		el->el_last_squeeze = el_stamp(now);
}

/* Why a grow the cap allows must wait, into why; 0 if it need not. */
static int
el_grow_held(const struct elastic *el, const struct elastic_conf *ec,
    const struct elastic_in *in, uint64_t now, uint64_t need, char *why,
    size_t len)
{
	const struct psample	*ps = in->ei_sample;
	char			 a[EL_SIZE_MAX], b[EL_SIZE_MAX];
	uint64_t		 t;

	if (ps->ps_headroom < need)
		el_why(why, len, "hold headroom %s<%s",
		    util_human_size(ps->ps_headroom, a, sizeof(a)),
		    util_human_size(need, b, sizeof(b)));
	else if (ps->ps_some10 >= 0 && ps->ps_some10 >= ec->ec_psi_grow)
		el_why(why, len, "hold psi some10=%.1f>=%.1f",
		    ps->ps_some10, ec->ec_psi_grow);
	else if ((t = el_calm_for(el, now)) < ec->ec_dwell_ms)
		el_why(why, len, "hold dwell %.1fs",
		    el_left(ec->ec_dwell_ms, t));
	else if ((t = el_since(now, el->el_last_grow)) < el->el_cooldown_ms)
		el_why(why, len, "hold cooldown %.1fs",
		    el_left(el->el_cooldown_ms, t));
	else if (el_since(now, el->el_last_step) < ec->ec_settle_ms)
		el_why(why, len, "hold settle");
	else
		return (0);
	return (1);
}

/* No pressure: one worker more while a cap is in effect, unless held. */
static int
el_grow(struct elastic *el, const struct elastic_conf *ec,
    const struct elastic_in *in, uint64_t now, char *why, size_t len)
{
	const struct psample	*ps = in->ei_sample;
	char			 a[EL_SIZE_MAX], b[EL_SIZE_MAX];
	char			 p[EL_SIZE_MAX];
	uint64_t		 need;

	if (in->ei_running >= in->ei_target || el->el_cap >= in->ei_target) {
		el_calm(el, ec, in, now);
		el_why(why, len, "hold");
		return (EL_HOLD);
	}
	if (in->ei_running < el->el_cap) {
		el_why(why, len, "hold starting");
		return (EL_HOLD);
	}
	need = el_add(el_add(ec->ec_reserve, ec->ec_hysteresis),
	    in->ei_worker_peak);
	if (el_grow_held(el, ec, in, now, need, why, len))
		return (EL_HOLD);
	el->el_cap++;
	el->el_last_grow = el->el_last_step = el_stamp(now);
	el->el_ups++;
	el_why(why, len, "reason=calm headroom %s>=%s psi_some10=%s",
	    util_human_size(ps->ps_headroom, a, sizeof(a)),
	    util_human_size(need, b, sizeof(b)), el_psi(p, sizeof(p), ps->ps_some10));
	return (EL_GROW);
}

/*
 * Below the reserve, counting as back the memory of workers already told
 * to stop: they give it back when their job ends, and shrinking again
 * before then would overshoot.  Below half the reserve that credit is
 * not given: a job may run long, and memory comes first.
 */
static int
el_low(const struct elastic_conf *ec, const struct elastic_in *in)
{
	uint64_t	 h = in->ei_sample->ps_headroom;

	if (h < ec->ec_reserve / 2)
		return (1);
	return (el_add(h, in->ei_pending) < ec->ec_reserve);
}

int
elastic_decide(struct elastic *el, const struct elastic_conf *ec,
    const struct elastic_in *in, uint64_t now, char *why, size_t whylen)
{
	const struct psample	*ps = in->ei_sample;
	uint64_t		 need;
	int			 low, hot;

	/* No cap in effect: it follows the target, up or down. */
	if (el->el_cap >= el->el_target || el->el_cap > in->ei_target)
		el->el_cap = in->ei_target;
	if (el->el_cap < 0)
		el->el_cap = 0;
	el->el_target = in->ei_target;
	if (ps == NULL) {
		el_why(why, whylen, "hold no sample");
		return (EL_HOLD);
	}
	need = el_add(el_add(ec->ec_reserve, ec->ec_hysteresis),
	    in->ei_worker_peak);
	low = el_low(ec, in);
	hot = ps->ps_some10 >= 0 && ps->ps_some10 >= ec->ec_psi_shrink &&
	    ps->ps_headroom < need;
	el->el_pressure = low || hot;
	el_watch(el, ec, in, need, now);
	if (el->el_pressure)
		return (el_shrink(el, ec, in, now, low, why, whylen));
	return (el_grow(el, ec, in, now, why, whylen));
}
