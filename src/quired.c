/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * quired: the daemon.  The same program is the supervisor and, when the
 * supervisor fork+execs it with -W, a worker, so no event base, LMDB
 * environment or descriptor but the supervisor's socket crosses a fork.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "quire.h"

static __dead void
usage(void)
{
	fprintf(stderr, "usage: quired [-dhnv] [--help] [--version] "
	    "[-D datadir] [-f file]\n");
	exit(1);
}

/* -h, --help: the usage on stdout, and success. */
static __dead void
quired_help(void)
{
	printf("usage: quired [-dhnv] [--help] [--version] [-D datadir] "
	    "[-f file]\n"
	    "\t-d\tstay in the foreground, log to stderr\n"
	    "\t-D dir\tthe data directory, over the datadir of the file\n"
	    "\t-f file\tthe configuration (default %s)\n"
	    "\t-n\tcheck the configuration and exit\n"
	    "\t-v\tmore verbose; with -n, print the configuration\n"
	    "See quired(8) and quired.conf(5).\n", QUIRE_CONFFILE);
	exit(0);
}

/* Descriptors 0, 1 and 2 are always open, on /dev/null if need be. */
static void
quired_stdfds(void)
{
	int	 fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/*
 * Nothing listens on /dev/log, and syslog(3) would drop every message
 * without a word: say so once, here.  Log lines go to standard error,
 * which the daemon keeps in the background unless it is a terminal.
 */
static void
quired_syslog_lost(int foreground)
{
	const char	*why;

	if ((why = log_syslog_lost()) == NULL)
		return;
	if (!foreground && isatty(STDERR_FILENO))
		fprintf(stderr, "quired: syslog unreachable (%s): log messages "
		    "will be lost in the background; set log-file in "
		    "quired.conf(5)\n", why);
	else
		log_warnx("syslog unreachable (%s): logging to standard error",
		    why);
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct supervisor sv;
	struct quire_conf	*c = &sv.sv_conf;
	const char		*conffile = NULL, *errstr;
	char			 err[CONF_STR_MAX + 256], real[PATH_MAX];
	struct stat		 st;
	int			 ch, check = 0, slot = -1, merger = 0, http = -1;

	quired_stdfds();
	while ((ch = getopt_long(argc, argv, "dD:f:hH:MnvW:", opts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'h':
			quired_help();
		case 'V':
			printf("quired %s\n", QUIRE_VERSION);
			exit(0);
		case 'd':
			sv.sv_foreground = 1;
			break;
		case 'D':
			if (strlcpy(sv.sv_datadir_arg, optarg,
			    sizeof(sv.sv_datadir_arg)) >=
			    sizeof(sv.sv_datadir_arg) || optarg[0] != '/') {
				fprintf(stderr, "quired: -D %s: not an "
				    "absolute path\n", optarg);
				exit(1);
			}
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'H':
			http = strtonum(optarg, 1, LISTEN_MAX, &errstr);
			if (errstr != NULL)
				usage();
			break;
		case 'M':
			merger = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			sv.sv_verbose++;
			break;
		case 'W':
			slot = strtonum(optarg, 0, QUIRE_WORKERS_MAX - 1,
			    &errstr);
			if (errstr != NULL)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	if (slot != -1 || merger || http != -1) {
		log_init(sv.sv_foreground, LOG_DAEMON);
		if (merger)
			merger_main();
		if (http != -1)
			http_main(http);
		worker_main(slot);
	}

	config_defaults(c);
	if (conffile == NULL && stat(QUIRE_CONFFILE, &st) == 0)
		conffile = QUIRE_CONFFILE;
	if (conffile != NULL) {
		/* realpath(3) may write PATH_MAX bytes. */
		if (realpath(conffile, real) == NULL) {
			fprintf(stderr, "%s: %s\n", conffile, strerror(errno));
			exit(1);
		}
		if (strlcpy(sv.sv_confpath, real, sizeof(sv.sv_confpath)) >=
		    sizeof(sv.sv_confpath)) {
			fprintf(stderr, "%s: path too long\n", conffile);
			exit(1);
		}
		if (config_load(sv.sv_confpath, c, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			exit(1);
		}
	}
	if (sv.sv_datadir_arg[0] != '\0')
		strlcpy(c->c_datadir, sv.sv_datadir_arg, sizeof(c->c_datadir));
	sv.sv_fileconf = *c;
	if (check) {
		if (sv.sv_verbose) {
			/* Which file, since the default is the build's. */
			if (conffile != NULL)
				printf("# %s\n", sv.sv_confpath);
			else
				printf("# no %s: the defaults\n",
				    QUIRE_CONFFILE);
			config_print(c, stdout);
		}
		printf("configuration OK\n");
		exit(0);
	}

	log_init(sv.sv_foreground, LOG_DAEMON);
	log_setverbose(sv.sv_foreground ? 2 : (sv.sv_verbose ? 2 :
	    (int)c->c_loglevel));
	if (c->c_logfile[0] != '\0' && log_openfile(c->c_logfile) == -1) {
		fprintf(stderr, "quired: log-file %s: %s\n", c->c_logfile,
		    util_open_strerror(errno));
		exit(1);
	}
	quired_syslog_lost(sv.sv_foreground);
	supervisor_main(&sv);
}
