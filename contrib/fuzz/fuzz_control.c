/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the admin protocol's request decoding (control_parse in
 * control.c), over a stream of bytes as a quirectl client, or anything
 * else that can open the socket, might send it.  Every answer is a
 * known command, "not yet", or an error with its reply text; the
 * supervisor answers one request per connection, but the stream is
 * decoded to its end here so a bad frame anywhere is reached.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer	*in;
	struct ipc_msg	 m;
	const char	*why;
	size_t		 left;
	int		 rv;

	fuzz_init();
	if (size > FUZZ_MAX_SMALL)
		return (0);
	if ((in = evbuffer_new()) == NULL)
		fuzz_fail(__FILE__, __LINE__, "evbuffer_new");
	evbuffer_add(in, data, size);
	for (;;) {
		left = evbuffer_get_length(in);
		why = NULL;
		rv = control_parse(in, &m, &why);
		if (rv == 0) {
			FUZZ_ASSERT(evbuffer_get_length(in) == left);
			break;
		}
		if (rv == -1) {
			FUZZ_ASSERT(why != NULL && why[0] != '\0');
			break;
		}
		FUZZ_ASSERT(rv == 1);
		FUZZ_ASSERT(m.m_type == IPC_CTL && m.m_a < CTL_NCOMMANDS);
		FUZZ_ASSERT(strlen(m.m_str) <= IPC_STR_MAX);
		FUZZ_ASSERT(evbuffer_get_length(in) < left);
	}
	evbuffer_free(in);
	return (0);
}
