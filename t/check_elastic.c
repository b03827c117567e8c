/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * The memory-pressure policy (elastic.c) over sequences of samples: one
 * step per evaluation, min-workers, the hysteresis band, dwell, settle,
 * PSI, the grow cooldown and its penalty, target changes, and the log
 * line.
 *
 * elastic_decide() is pure, so the samples are plain inputs.  A small
 * simulator evaluates it every TICK of a made-up clock and runs
 * min(target, cap) workers at once; with a limit set, the headroom is
 * the limit minus an external load minus a gigabyte or so per worker,
 * so shrinking gives memory back as a real fleet would.  Every
 * evaluation checks that the cap moved one step at most, the way the
 * action says.
 */

#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quire.h"
#include "tlib.h"

#define T0	1000000ULL	/* monotonic ms at the start */
#define TICK	100ULL		/* ms between evaluations */
#define SEC	1000ULL
#define MIN	(60 * SEC)
#define MIB	(1ULL << 20)
#define GIB	(1ULL << 30)

struct sim {
	struct elastic_conf	 s_ec;
	struct elastic		 s_el;
	struct psample		 s_ps;
	uint64_t		 s_now;
	int			 s_target;
	int			 s_running;
	uint64_t		 s_peak;	/* a worker's, for the policy */
	uint64_t		 s_pending;	/* of workers told to stop */
	uint64_t		 s_headroom;	/* while s_limit is 0 */
	uint64_t		 s_limit;	/* the memory model: */
	uint64_t		 s_load;	/* others' memory */
	uint64_t		 s_per;		/* each worker's */
	char			 s_why[256];
};

/* Defaults, target workers running, no pressure, no PSI. */
static void
sim_init(struct sim *s, int target)
{
	memset(s, 0, sizeof(*s));
	elastic_conf_defaults(&s->s_ec);
	elastic_init(&s->s_el, &s->s_ec, target);
	s->s_now = T0;
	s->s_target = target;
	s->s_running = target;
	s->s_peak = GIB;
	s->s_headroom = 8 * GIB;
	s->s_ps.ps_some10 = -1.0;
}

static void
sim_sample(struct sim *s)
{
	uint64_t	 used;

	s->s_ps.ps_at = s->s_now;
	if (s->s_limit == 0) {
		s->s_ps.ps_headroom = s->s_headroom;
		return;
	}
	used = s->s_load + (uint64_t)s->s_running * s->s_per;
	s->s_ps.ps_headroom = used >= s->s_limit ? 0 : s->s_limit - used;
}

/* The cap after an action, from the cap and workers before it. */
static void
sim_check(struct sim *s, int a, int cap, int running)
{
	struct elastic	*el = &s->s_el;
	uint64_t	 stamp;

	/* A step at time 0 is stamped 1: 0 is "never". */
	stamp = s->s_now == 0 ? 1 : s->s_now;
	if (cap > s->s_target)
		cap = s->s_target;
	switch (a) {
	case EL_HOLD:
		ck_assert_int_eq(el->el_cap, cap);
		break;
	case EL_SHRINK:
		ck_assert_int_eq(el->el_cap,
		    (running < cap ? running : cap) - 1);
		ck_assert_int_ge(el->el_cap, s->s_ec.ec_min);
		ck_assert_int_eq(el->el_pressure, 1);
		ck_assert_uint_eq(el->el_last_shrink, stamp);
		break;
	case EL_GROW:
		ck_assert_int_eq(el->el_cap, cap + 1);
		ck_assert_int_le(el->el_cap, s->s_target);
		ck_assert_int_eq(el->el_pressure, 0);
		ck_assert_uint_eq(el->el_last_grow, stamp);
		break;
	default:
		ck_abort_msg("action %d", a);
	}
}

/* One evaluation at s_now; the fleet follows at once. */
static int
sim_eval(struct sim *s)
{
	struct elastic_in	 in;
	uint64_t		 steps;
	int			 a, cap;

	sim_sample(s);
	memset(&in, 0, sizeof(in));
	in.ei_sample = &s->s_ps;
	in.ei_target = s->s_target;
	in.ei_running = s->s_running;
	in.ei_worker_peak = s->s_peak;
	in.ei_pending = s->s_pending;
	/* Without a cap in effect the cap follows the target. */
	cap = s->s_el.el_cap >= s->s_el.el_target ? s->s_target :
	    s->s_el.el_cap;
	steps = s->s_el.el_ups + s->s_el.el_downs;
	a = elastic_decide(&s->s_el, &s->s_ec, &in, s->s_now, s->s_why,
	    sizeof(s->s_why));
	sim_check(s, a, cap, s->s_running);
	ck_assert_uint_eq(s->s_el.el_ups + s->s_el.el_downs,
	    steps + (a != EL_HOLD));
	s->s_running = s->s_el.el_cap < s->s_target ? s->s_el.el_cap :
	    s->s_target;
	return (a);
}

/* Evaluate every TICK until action a or ms pass: its time, or 0. */
static uint64_t
sim_until(struct sim *s, int a, uint64_t ms)
{
	uint64_t	 end, t;
	int		 got;

	end = s->s_now + ms;
	while (s->s_now < end) {
		t = s->s_now;
		got = sim_eval(s);
		s->s_now += TICK;
		if (got == a)
			return (t);
	}
	return (0);
}

/* Evaluate every TICK for ms: the steps taken. */
static int
sim_for(struct sim *s, uint64_t ms)
{
	uint64_t	 end;
	int		 n = 0;

	end = s->s_now + ms;
	for (; s->s_now < end; s->s_now += TICK)
		if (sim_eval(s) != EL_HOLD)
			n++;
	return (n);
}

START_TEST(defaults)
{
	struct elastic_conf	 ec;
	struct elastic		 el;

	elastic_conf_defaults(&ec);
	ck_assert_uint_eq(ec.ec_reserve, 512 * MIB);
	ck_assert_uint_eq(ec.ec_hysteresis, 256 * MIB);
	ck_assert(ec.ec_psi_shrink == 10.0);
	ck_assert(ec.ec_psi_grow == 1.0);
	ck_assert_uint_eq(ec.ec_dwell_ms, 10 * SEC);
	ck_assert_uint_eq(ec.ec_settle_ms, SEC);
	ck_assert_uint_eq(ec.ec_cooldown_ms, 5 * SEC);
	ck_assert_uint_eq(ec.ec_cooldown_max_ms, 5 * MIN);
	ck_assert_uint_eq(ec.ec_undo_ms, MIN);
	ck_assert_int_eq(ec.ec_min, 0);

	ec.ec_cooldown_ms = 7 * SEC;
	memset(&el, 0xff, sizeof(el));
	elastic_init(&el, &ec, 8);
	ck_assert_int_eq(el.el_cap, 8);
	ck_assert_int_eq(el.el_pressure, 0);
	ck_assert_uint_eq(el.el_last_step, 0);
	ck_assert_uint_eq(el.el_last_grow, 0);
	ck_assert_uint_eq(el.el_last_shrink, 0);
	ck_assert_uint_eq(el.el_cooldown_ms, 7 * SEC);
	ck_assert_uint_eq(el.el_ups, 0);
	ck_assert_uint_eq(el.el_downs, 0);
	ck_assert_uint_eq(el.el_penalties, 0);
}
END_TEST

/* Without pressure at the target nothing moves, whatever the time. */
START_TEST(calm_holds)
{
	struct sim	 s;

	sim_init(&s, 8);
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_str_eq(s.s_why, "hold");
	ck_assert_int_eq(s.s_el.el_cap, 8);
	ck_assert_int_eq(s.s_el.el_pressure, 0);

	/*
	 * A step at time 0 is not lost as "never": it is stamped 1 ms, and
	 * the next waits a settle from there, to the tick after 1001 ms.
	 */
	sim_init(&s, 8);
	s.s_now = 0;
	s.s_headroom = 0;
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, SEC), 0);
	ck_assert_uint_eq(s.s_el.el_last_step, 1);
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, 2 * SEC), SEC + TICK);
}
END_TEST

/* From 8 workers under heavy pressure: one worker a settle. */
START_TEST(one_step)
{
	struct sim	 s;
	int		 a, n = 0;

	sim_init(&s, 8);
	s.s_headroom = 0;
	for (; s.s_now < T0 + 20 * SEC; s.s_now += TICK) {
		a = sim_eval(&s);
		if (a == EL_SHRINK) {
			ck_assert_uint_eq(s.s_now, T0 + n * SEC);
			n++;
			ck_assert_int_eq(s.s_el.el_cap, 8 - n);
		} else if (n < 8)
			ck_assert_str_eq(s.s_why, "hold pressure settle");
		else
			ck_assert_str_eq(s.s_why, "hold min-workers");
	}
	ck_assert_int_eq(n, 8);
	ck_assert_int_eq(s.s_running, 0);
	ck_assert_uint_eq(s.s_el.el_downs, 8);
	ck_assert_uint_eq(s.s_el.el_ups, 0);
	ck_assert_uint_eq(s.s_el.el_penalties, 0);
	ck_assert_int_eq(s.s_el.el_pressure, 1);
}
END_TEST

/* Endless pressure, by headroom and PSI: never below min-workers. */
START_TEST(min_workers)
{
	struct sim	 s;

	sim_init(&s, 8);
	s.s_ec.ec_min = 3;
	s.s_headroom = 0;
	s.s_ps.ps_some10 = 80.0;
	for (; s.s_now < T0 + 10 * MIN; s.s_now += TICK) {
		sim_eval(&s);
		ck_assert_int_ge(s.s_el.el_cap, 3);
		ck_assert_int_ge(s.s_running, 3);
	}
	ck_assert_int_eq(s.s_el.el_cap, 3);
	ck_assert_uint_eq(s.s_el.el_downs, 5);
	ck_assert_str_eq(s.s_why, "hold min-workers");

	/* The memory model: more load than the box holds at all. */
	sim_init(&s, 8);
	s.s_ec.ec_min = 2;
	s.s_limit = 16 * GIB;
	s.s_per = GIB;
	s.s_load = 20 * GIB;
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 6);
	ck_assert_int_eq(s.s_running, 2);
}
END_TEST

/*
 * Between the reserve and reserve + hysteresis + a worker's peak
 * neither happens; the edges are exact.
 */
START_TEST(hysteresis)
{
	struct sim	 s;
	uint64_t	 g;

	sim_init(&s, 8);
	s.s_peak = 768 * MIB;		/* grows need 1.5G */
	s.s_headroom = 0;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	s.s_now += MIN;

	s.s_headroom = 512 * MIB;	/* the reserve is not pressure */
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_str_eq(s.s_why, "hold headroom 512.0M<1.5G");
	ck_assert_int_eq(s.s_el.el_pressure, 0);
	s.s_headroom = GIB;
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_str_eq(s.s_why, "hold headroom 1.0G<1.5G");
	s.s_headroom = 1536 * MIB - 1;
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_int_eq(s.s_el.el_cap, 7);
	ck_assert_uint_eq(s.s_el.el_downs, 1);

	/* On the line: a grow, a dwell after the last look short of it. */
	s.s_headroom = 1536 * MIB;
	g = sim_until(&s, EL_GROW, MIN);
	ck_assert_uint_eq(g, s.s_el.el_last_squeeze + 10 * SEC);
	ck_assert_int_eq(s.s_el.el_cap, 8);
	s.s_now += TICK;
	s.s_headroom = 512 * MIB - 1;
	ck_assert_int_eq(sim_until(&s, EL_SHRINK, 2 * SEC),
	    s.s_el.el_last_grow + SEC);
}
END_TEST

/* After a shrink, no grow before dwell, however much room there is. */
START_TEST(dwell)
{
	struct sim	 s;

	sim_init(&s, 8);
	s.s_headroom = 0;
	ck_assert_int_eq(sim_for(&s, 3 * SEC), 3);	/* T0, +1s, +2s */
	ck_assert_int_eq(s.s_el.el_cap, 5);
	ck_assert_uint_eq(s.s_el.el_last_shrink, T0 + 2 * SEC);

	s.s_headroom = 64 * GIB;
	s.s_ps.ps_some10 = 0.0;
	s.s_now = T0 + 7800;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	/* Dwell from the last look without room, at T0 + 2.9s. */
	ck_assert_str_eq(s.s_why, "hold dwell 5.1s");
	s.s_now += TICK;
	ck_assert_uint_eq(sim_until(&s, EL_GROW, MIN), T0 + 12900);
	ck_assert_int_eq(s.s_el.el_cap, 6);

	/* Then one grow per cooldown. */
	s.s_now = T0 + 13 * SEC;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_str_eq(s.s_why, "hold cooldown 4.9s");
	ck_assert_uint_eq(sim_until(&s, EL_GROW, MIN), T0 + 17900);
	ck_assert_uint_eq(sim_until(&s, EL_GROW, MIN), T0 + 22900);
	ck_assert_int_eq(s.s_el.el_cap, 8);
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_uint_eq(s.s_el.el_ups, 3);
	ck_assert_uint_eq(s.s_el.el_penalties, 0);
}
END_TEST

/* A settle shorter than the cooldown: the grow waits for the longer. */
START_TEST(settle)
{
	struct sim	 s;

	sim_init(&s, 8);
	s.s_ec.ec_dwell_ms = 0;
	s.s_ec.ec_cooldown_ms = 0;
	s.s_ec.ec_settle_ms = 3 * SEC;
	elastic_init(&s.s_el, &s.s_ec, 8);
	s.s_headroom = 0;
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, SEC), T0);
	s.s_headroom = 8 * GIB;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_str_eq(s.s_why, "hold settle");
	ck_assert_uint_eq(sim_until(&s, EL_GROW, MIN), T0 + 3 * SEC);
}
END_TEST

/* PSI: pressure short of the grow line, ignored when absent, a bar to grows. */
START_TEST(psi)
{
	struct sim	 s;
	uint64_t	 g;

	sim_init(&s, 8);
	/* Above the grow line, stalls are not the fleet's memory. */
	s.s_ps.ps_some10 = 50.0;
	ck_assert_int_eq(sim_for(&s, MIN), 0);
	ck_assert_int_eq(s.s_el.el_pressure, 0);
	ck_assert_int_eq(s.s_el.el_cap, 8);
	/* Short of it (1.75G here), PSI confirms pressure. */
	s.s_headroom = 1536 * MIB;
	s.s_ps.ps_some10 = 12.3;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_str_eq(s.s_why, "reason=psi some10=12.3>=10.0 headroom 1.5G");
	ck_assert_int_eq(s.s_el.el_pressure, 1);
	s.s_now += SEC;
	s.s_ps.ps_some10 = 10.0;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_int_eq(s.s_el.el_cap, 6);
	s.s_headroom = 8 * GIB;

	/* Between psi-grow and psi-shrink: neither. */
	s.s_now += SEC;
	s.s_ps.ps_some10 = 9.9;
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_int_eq(s.s_el.el_pressure, 0);
	ck_assert_str_eq(s.s_why, "hold psi some10=9.9>=1.0");
	s.s_ps.ps_some10 = 1.0;
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_str_eq(s.s_why, "hold psi some10=1.0>=1.0");
	s.s_ps.ps_some10 = 0.9;
	g = sim_until(&s, EL_GROW, MIN);
	ck_assert_uint_eq(g, s.s_el.el_last_squeeze + 10 * SEC);
	ck_assert_str_eq(s.s_why,
	    "reason=calm headroom 8.0G>=1.8G psi_some10=0.9");

	/* No PSI: headroom alone. */
	s.s_now += MIN;
	s.s_ps.ps_some10 = -1.0;
	ck_assert_int_eq(sim_eval(&s), EL_GROW);
	ck_assert_int_eq(s.s_el.el_cap, 8);
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_int_eq(s.s_el.el_pressure, 0);
	s.s_headroom = 100 * MIB;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_str_eq(s.s_why,
	    "reason=headroom 100.0M<512.0M psi_some10=none");
}
END_TEST

/*
 * Headroom below the reserve right after a grow shrinks after settle,
 * not dwell.  PSI alone right after a grow waits for dwell.
 */
START_TEST(undo_below_reserve)
{
	struct sim	 s;

	sim_init(&s, 8);
	s.s_headroom = 0;
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, SEC), T0);
	s.s_headroom = 8 * GIB;
	ck_assert_uint_eq(sim_until(&s, EL_GROW, MIN), T0 + 10 * SEC);
	s.s_headroom = 100 * MIB;
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, MIN), T0 + 11 * SEC);
	ck_assert_uint_eq(s.s_el.el_penalties, 1);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);

	/* Dwell since that shrink; the doubled cooldown is shorter. */
	s.s_headroom = 8 * GIB;
	ck_assert_uint_eq(sim_until(&s, EL_GROW, MIN), T0 + 21 * SEC);
	s.s_ps.ps_some10 = 20.0;
	s.s_headroom = 1536 * MIB;
	s.s_now = T0 + 26 * SEC;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_str_eq(s.s_why, "hold pressure dwell 5.0s");
	ck_assert_int_eq(s.s_el.el_pressure, 1);
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, MIN), T0 + 31 * SEC);
	ck_assert_uint_eq(s.s_el.el_penalties, 2);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 20 * SEC);
}
END_TEST

/* A grow, then a shrink: the times of both. */
static void
cycle(struct sim *s, uint64_t *grew, uint64_t *shrank)
{
	s->s_headroom = 8 * GIB;
	*grew = sim_until(s, EL_GROW, 10 * MIN);
	ck_assert_uint_ne(*grew, 0);
	s->s_headroom = 0;
	*shrank = sim_until(s, EL_SHRINK, MIN);
	ck_assert_uint_eq(*shrank, *grew + SEC);
}

/* Each grow undone within a minute doubles the cooldown, up to max. */
START_TEST(penalty)
{
	struct sim	 s;
	uint64_t	 g, k, g0;

	sim_init(&s, 8);
	s.s_ec.ec_cooldown_max_ms = 30 * SEC;
	s.s_headroom = 0;
	ck_assert_int_eq(sim_for(&s, 2 * SEC), 2);	/* cap 6 */
	ck_assert_uint_eq(s.s_el.el_penalties, 0);

	cycle(&s, &g, &k);
	ck_assert_uint_eq(g, T0 + 11900);	/* dwell after T0 + 1.9s */
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);
	ck_assert_uint_eq(s.s_el.el_penalties, 1);
	g0 = g;
	cycle(&s, &g, &k);
	ck_assert_uint_eq(g, g0 + 11 * SEC);	/* dwell after the shrink */
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 20 * SEC);
	g0 = g;
	cycle(&s, &g, &k);
	ck_assert_uint_eq(g, g0 + 20 * SEC);	/* the cooldown */
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 30 * SEC);
	g0 = g;
	cycle(&s, &g, &k);
	ck_assert_uint_eq(g, g0 + 30 * SEC);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 30 * SEC);
	ck_assert_uint_eq(s.s_el.el_penalties, 4);
	ck_assert_int_eq(s.s_el.el_cap, 6);

	/* A second shrink undoes no other grow. */
	s.s_now += SEC;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_uint_eq(s.s_el.el_penalties, 4);

	/* A shrink a full undo period after the grow is no penalty. */
	s.s_el.el_cooldown_ms = 5 * SEC;
	s.s_headroom = 8 * GIB;
	g = sim_until(&s, EL_GROW, MIN);
	s.s_headroom = GIB;		/* in the band: neither */
	s.s_now = g + MIN - TICK;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	s.s_now += TICK;
	s.s_headroom = 0;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_uint_eq(s.s_el.el_penalties, 4);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 5 * SEC);

	/* One just inside it is. */
	s.s_headroom = 8 * GIB;
	g = sim_until(&s, EL_GROW, MIN);
	s.s_headroom = GIB;
	s.s_now = g + MIN - TICK;
	s.s_headroom = 0;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_uint_eq(s.s_el.el_penalties, 5);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);
}
END_TEST

/* The cooldown is forgiven after a full cooldown-max calm at target. */
START_TEST(decay)
{
	struct sim	 s;
	uint64_t	 g, k;

	sim_init(&s, 2);
	s.s_headroom = 0;
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, SEC), T0);
	cycle(&s, &g, &k);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);
	s.s_headroom = 8 * GIB;
	g = sim_until(&s, EL_GROW, MIN);
	ck_assert_int_eq(s.s_running, 2);

	ck_assert_int_eq(sim_for(&s, g + 5 * MIN - TICK - s.s_now), 0);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);
	s.s_now += TICK;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_uint_eq(s.s_now, g + 5 * MIN);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 5 * SEC);
	ck_assert_uint_eq(s.s_el.el_penalties, 1);

	/* Not while a cap is in effect, however calm. */
	sim_init(&s, 2);
	s.s_headroom = 0;
	ck_assert_uint_eq(sim_until(&s, EL_SHRINK, SEC), T0);
	cycle(&s, &g, &k);
	s.s_headroom = GIB;
	ck_assert_int_eq(sim_for(&s, 60 * MIN), 0);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 10 * SEC);
}
END_TEST

/*
 * A load that comes and goes every 5 s for ten minutes: 16G, 1G a
 * worker, 10G of load.  Loaded, 5 workers fit; without it, 8.  The
 * three shrinks to 5 come at once; then no grow at all: the room never
 * lasts a dwell (10 s) before the load is back, so nothing is undone.
 */
START_TEST(no_flapping)
{
	struct sim	 s;
	uint64_t	 tick;
	int		 a, m, per_min[10], grows[10];

	sim_init(&s, 8);
	s.s_limit = 16 * GIB;
	s.s_per = GIB;
	memset(per_min, 0, sizeof(per_min));
	memset(grows, 0, sizeof(grows));
	for (tick = 0; tick < 10 * MIN / TICK; tick++) {
		s.s_load = (tick / 50) % 2 == 0 ? 10 * GIB : 0;
		a = sim_eval(&s);
		if (a != EL_HOLD)
			per_min[tick * TICK / MIN]++;
		if (a == EL_GROW)
			grows[tick * TICK / MIN]++;
		s.s_now += TICK;
	}
	ck_assert_int_eq(per_min[0], 3);
	for (m = 0; m < 10; m++)
		ck_assert_int_eq(grows[m], 0);
	for (m = 1; m < 10; m++)
		ck_assert_int_eq(per_min[m], 0);
	ck_assert_uint_eq(s.s_el.el_penalties, 0);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 5 * SEC);
	ck_assert_int_eq(s.s_el.el_cap, 5);

	/* The load stops for good: back at target. */
	s.s_load = 0;
	sim_for(&s, 30 * MIN);
	ck_assert_int_eq(s.s_running, 8);
	ck_assert_int_eq(s.s_el.el_cap, 8);
	ck_assert_uint_eq(s.s_el.el_ups, 3);
	ck_assert_uint_eq(s.s_el.el_downs, 3);
}
END_TEST

/*
 * A slower load, 20 s on and 20 s off for ten minutes: the room lasts
 * past the dwell, so grows happen and are undone when the load comes
 * back; each undo doubles the cooldown (to its 5 minutes after six),
 * and from the fourth minute on there are at most two resizes a minute.
 */
START_TEST(slow_flapping)
{
	struct sim	 s;
	uint64_t	 tick;
	int		 a, m, per_min[10];

	sim_init(&s, 8);
	s.s_limit = 16 * GIB;
	s.s_per = GIB;
	memset(per_min, 0, sizeof(per_min));
	for (tick = 0; tick < 10 * MIN / TICK; tick++) {
		s.s_load = (tick / 200) % 2 == 0 ? 10 * GIB : 0;
		a = sim_eval(&s);
		if (a != EL_HOLD)
			per_min[tick * TICK / MIN]++;
		s.s_now += TICK;
	}
	/* 9, 5, 3, then at most one grow and its undo a minute. */
	ck_assert_int_eq(per_min[0], 9);
	ck_assert_int_eq(per_min[1], 5);
	for (m = 3; m < 10; m++)
		ck_assert_int_le(per_min[m], 2);
	ck_assert_uint_eq(s.s_el.el_penalties, 6);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, 5 * MIN);

	/* The load stops for good: back at target, then forgiven. */
	s.s_load = 0;
	sim_for(&s, 30 * MIN);
	ck_assert_int_eq(s.s_running, 8);
	ck_assert_int_eq(s.s_el.el_cap, 8);
	ck_assert_uint_eq(s.s_el.el_cooldown_ms, s.s_ec.ec_cooldown_ms);
	ck_assert_uint_eq(s.s_el.el_ups, s.s_el.el_downs);
}
END_TEST

/* The cap follows the target unless memory holds one; no grow passes it. */
START_TEST(target)
{
	struct sim	 s;
	uint64_t	 g;

	sim_init(&s, 8);
	s.s_target = 4;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_int_eq(s.s_el.el_cap, 4);
	ck_assert_int_eq(s.s_running, 4);
	ck_assert_uint_eq(s.s_el.el_downs, 0);

	/* Lowered under pressure: one step from the new target. */
	s.s_now += TICK;
	s.s_target = 3;
	s.s_headroom = 0;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_int_eq(s.s_el.el_cap, 2);

	s.s_headroom = 64 * GIB;
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 1);
	ck_assert_int_eq(s.s_el.el_cap, 3);
	ck_assert_uint_eq(s.s_el.el_ups, 1);

	/* Raised without a cap in effect: the cap follows at once. */
	s.s_target = 5;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_int_eq(s.s_el.el_cap, 5);
	ck_assert_int_eq(s.s_running, 5);

	/* Raised under a cap: it stays, and is grown past step by step. */
	s.s_headroom = 0;
	ck_assert_uint_ne(sim_until(&s, EL_SHRINK, MIN), 0);
	ck_assert_int_eq(s.s_el.el_cap, 4);
	s.s_headroom = 64 * GIB;
	s.s_target = 6;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_int_eq(s.s_el.el_cap, 4);
	g = sim_until(&s, EL_GROW, MIN);
	ck_assert_uint_ne(g, 0);
	ck_assert_int_eq(s.s_el.el_cap, 5);
	ck_assert_uint_ne(sim_until(&s, EL_GROW, MIN), 0);
	ck_assert_int_eq(sim_for(&s, 10 * MIN), 0);
	ck_assert_int_eq(s.s_el.el_cap, 6);
	ck_assert_int_eq(s.s_running, 6);
	s.s_target = 5;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_int_eq(s.s_el.el_cap, 5);

	/* Under a cap of 4, fewer running (still starting): no grow. */
	s.s_headroom = 0;
	ck_assert_uint_ne(sim_until(&s, EL_SHRINK, MIN), 0);
	ck_assert_int_eq(s.s_el.el_cap, 4);
	s.s_headroom = 64 * GIB;
	s.s_target = 8;
	s.s_running = 3;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_str_eq(s.s_why, "hold starting");

	/* More than the cap (not yet told to stop): no grow either. */
	s.s_running = 8;
	ck_assert_int_eq(sim_eval(&s), EL_HOLD);
	ck_assert_str_eq(s.s_why, "hold");
	ck_assert_int_eq(s.s_el.el_cap, 4);
}
END_TEST

/*
 * Memory of workers told to stop counts as coming back: no second shrink
 * for it, unless the headroom is below half the reserve.
 */
START_TEST(pending)
{
	struct sim	 s;

	sim_init(&s, 8);
	s.s_headroom = 400 * MIB;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_str_eq(s.s_why, "reason=headroom 400.0M<512.0M "
	    "psi_some10=none");
	s.s_pending = 200 * MIB;
	ck_assert_int_eq(sim_for(&s, 10 * SEC), 0);
	ck_assert_int_eq(s.s_el.el_cap, 7);
	ck_assert_int_eq(s.s_el.el_pressure, 0);
	s.s_pending = 100 * MIB;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_str_eq(s.s_why, "reason=headroom 400.0M+100.0M<512.0M "
	    "psi_some10=none");
	s.s_now += 10 * SEC;
	s.s_headroom = 255 * MIB;
	s.s_pending = 4 * GIB;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_int_eq(s.s_el.el_cap, 5);
}
END_TEST

/* The log line carries the inputs, in short sizes, always bounded. */
START_TEST(why)
{
	struct elastic_in	 in;
	struct sim		 s;
	char			 small[8];

	sim_init(&s, 8);
	s.s_ec.ec_reserve = GIB;
	s.s_headroom = 900 * MIB;
	s.s_ps.ps_some10 = 12.3;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_ptr_nonnull(strstr(s.s_why, "reason=headroom"));
	ck_assert_ptr_nonnull(strstr(s.s_why, "psi_some10"));
	ck_assert_str_eq(s.s_why,
	    "reason=headroom 900.0M<1.0G psi_some10=12.3");
	s.s_now += SEC;
	s.s_headroom = 512;
	ck_assert_int_eq(sim_eval(&s), EL_SHRINK);
	ck_assert_str_eq(s.s_why, "reason=headroom 512B<1.0G psi_some10=12.3");

	s.s_now += MIN;
	s.s_ec.ec_reserve = 512 * MIB;
	s.s_peak = 1100 * MIB;		/* 1868M needed: 1.8G */
	s.s_headroom = 3435973837ULL;	/* 3.2G */
	s.s_ps.ps_some10 = 0.2;
	ck_assert_int_eq(sim_eval(&s), EL_GROW);
	ck_assert_str_eq(s.s_why,
	    "reason=calm headroom 3.2G>=1.8G psi_some10=0.2");

	/* Bounded, and no line at all if none is wanted. */
	s.s_now += MIN;
	sim_sample(&s);
	memset(&in, 0, sizeof(in));
	in.ei_sample = &s.s_ps;
	in.ei_target = 8;
	in.ei_running = s.s_running;
	in.ei_worker_peak = s.s_peak;
	ck_assert_int_eq(elastic_decide(&s.s_el, &s.s_ec, &in, s.s_now, small,
	    sizeof(small)), EL_GROW);
	ck_assert_str_eq(small, "reason=");
	s.s_now += MIN;
	in.ei_running = 8;
	ck_assert_int_eq(elastic_decide(&s.s_el, &s.s_ec, &in, s.s_now, NULL,
	    0), EL_HOLD);
	in.ei_sample = NULL;
	ck_assert_int_eq(elastic_decide(&s.s_el, &s.s_ec, &in, s.s_now, small,
	    sizeof(small)), EL_HOLD);
	ck_assert_str_eq(small, "hold no");
}
END_TEST

static Suite *
elastic_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("elastic");
	tc = tcase_create("steps");
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, calm_holds);
	tcase_add_test(tc, one_step);
	tcase_add_test(tc, min_workers);
	tcase_add_test(tc, hysteresis);
	tcase_add_test(tc, dwell);
	tcase_add_test(tc, settle);
	tcase_add_test(tc, psi);
	tcase_add_test(tc, pending);
	tcase_add_test(tc, undo_below_reserve);
	suite_add_tcase(s, tc);

	tc = tcase_create("flapping");
	tcase_add_test(tc, penalty);
	tcase_add_test(tc, decay);
	tcase_add_test(tc, no_flapping);
	tcase_add_test(tc, slow_flapping);
	suite_add_tcase(s, tc);

	tc = tcase_create("target");
	tcase_add_test(tc, target);
	tcase_add_test(tc, why);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	return (tlib_main("check_elastic", elastic_suite()));
}
