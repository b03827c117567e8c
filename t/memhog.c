/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * memhog: an external load on memory for the pressure tests and benchmark.
 *
 *	memhog [-r MIB_PER_S] [-t TOGGLE_S] [-d SECONDS] MIB
 *
 * Maps and touches anonymous memory up to MIB, at -r MiB a second (default
 * all at once), holds it for -d seconds (default until killed), and with
 * -t gives it all back and takes it again every TOGGLE_S seconds.  It
 * prints "held N" each time it reaches MIB and "freed" when it lets go,
 * and exits 0 when its time is up.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOG_STEP	((size_t)4 << 20)	/* mapped and touched at a time */
#define HOG_MAXSTEPS	(1 << 16)

static char	*hog_chunks[HOG_MAXSTEPS];
static size_t	 hog_n;

static double
hog_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
hog_sleep(double s)
{
	struct timespec	 ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* Take memory up to want steps, at rate steps a second (0: at once). */
static void
hog_take(size_t want, double rate, double end)
{
	double	 t0 = hog_now();
	size_t	 first = hog_n;

	while (hog_n < want && hog_now() < end) {
		hog_chunks[hog_n] = mmap(NULL, HOG_STEP, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (hog_chunks[hog_n] == MAP_FAILED)
			err(1, "mmap");
		memset(hog_chunks[hog_n], 0xa5, HOG_STEP);
		hog_n++;
		if (rate > 0)
			hog_sleep(t0 + (hog_n - first) / rate - hog_now());
	}
}

static void
hog_free(void)
{
	while (hog_n > 0) {
		hog_n--;
		munmap(hog_chunks[hog_n], HOG_STEP);
	}
}

int
main(int argc, char *argv[])
{
	const char	*errstr;
	double		 rate = 0, toggle = 0, dur = 0, end, next;
	size_t		 want;
	int		 ch, held = 1;

	while ((ch = getopt(argc, argv, "d:r:t:")) != -1) {
		switch (ch) {
		case 'd':
			dur = strtonum(optarg, 1, 86400, &errstr);
			if (errstr != NULL)
				errx(2, "-d %s: %s", optarg, errstr);
			break;
		case 'r':
			rate = strtonum(optarg, 1, 1 << 20, &errstr);
			if (errstr != NULL)
				errx(2, "-r %s: %s", optarg, errstr);
			break;
		case 't':
			toggle = strtonum(optarg, 1, 3600, &errstr);
			if (errstr != NULL)
				errx(2, "-t %s: %s", optarg, errstr);
			break;
		default:
			errx(2, "usage: memhog [-r MIB_PER_S] [-t TOGGLE_S] "
			    "[-d SECONDS] MIB");
		}
	}
	if (optind + 1 != argc)
		errx(2, "usage: memhog [-r MIB_PER_S] [-t TOGGLE_S] "
		    "[-d SECONDS] MIB");
	want = strtonum(argv[optind], 1, (HOG_MAXSTEPS * (HOG_STEP >> 20)),
	    &errstr) / (HOG_STEP >> 20);
	if (errstr != NULL)
		errx(2, "%s: %s", argv[optind], errstr);
	setvbuf(stdout, NULL, _IOLBF, 0);
	end = dur > 0 ? hog_now() + dur : 1e18;
	hog_take(want, rate / (HOG_STEP >> 20), end);
	printf("held %zu\n", hog_n * (HOG_STEP >> 20));
	next = hog_now() + toggle;
	while (hog_now() < end) {
		hog_sleep(toggle > 0 && next < end ? next - hog_now() :
		    end - hog_now() < 1 ? end - hog_now() : 1);
		if (toggle == 0 || hog_now() < next)
			continue;
		next += toggle;
		if (held) {
			hog_free();
			printf("freed\n");
		} else {
			hog_take(want, rate / (HOG_STEP >> 20), end);
			printf("held %zu\n", hog_n * (HOG_STEP >> 20));
		}
		held = !held;
	}
	return (0);
}
