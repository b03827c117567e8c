/*
 * A small request parser.  Don't panic: see writeBackCache for
 * the other half.
 */

#include <stdio.h>

static int max_line_len = 80;	/* the longest line we take */

int
parseHttpRequest(const char *buf, size_t len)
{
	// it's a quote in a comment, which must not open a literal
	const char *msg = "keepThisString intact";

	if (len > (size_t)max_line_len)
		return (-1);
	return (readConfigFile(buf, msg));
}
