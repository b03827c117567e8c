/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the configuration parser (config_parse_text in config.c).
 * A configuration it accepts must survive the trip a child's takes: the
 * supervisor prints it (config_print) and the child parses that text,
 * which must give the same configuration again.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* The configuration as quired -n -v prints it, on the heap. */
static char *
fuzz_config_print(const struct quire_conf *c, size_t *len)
{
	FILE	*f;
	char	*s = NULL;

	if ((f = open_memstream(&s, len)) == NULL)
		fuzz_fail(__FILE__, __LINE__, "open_memstream");
	config_print(c, f);
	FUZZ_ASSERT(fclose(f) == 0);
	return (s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quire_conf	 c, again;
	char			 err[CONF_STR_MAX + 512];
	char			*one, *two;
	size_t			 len1, len2;

	fuzz_init();
	if (size > FUZZ_MAX_SMALL)
		return (0);
	config_defaults(&c);
	err[0] = '\0';
	if (config_parse_text((const char *)data, size, "fuzz", &c, err,
	    sizeof(err)) == -1) {
		FUZZ_ASSERT(err[0] != '\0');
		return (0);
	}
	one = fuzz_config_print(&c, &len1);
	config_defaults(&again);
	if (config_parse_text(one, len1, "printed", &again, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "printed configuration refused: %s\n", err);
		fuzz_fail(__FILE__, __LINE__, "config_print round trip");
	}
	two = fuzz_config_print(&again, &len2);
	FUZZ_ASSERT(len1 == len2 && memcmp(one, two, len1) == 0);
	free(one);
	free(two);
	return (0);
}
