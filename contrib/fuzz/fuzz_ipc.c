/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the frame decoders of ipc.c.  The input is a byte stream
 * as a socket would deliver it, taken apart both ways the programs do:
 * ipc_take() over a child's fixed buffer, filled in pieces as read(2)
 * would, and ipc_evbuffer_get() over the supervisor's evbuffer.  Both
 * must find the same messages, and each message must encode again.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz.h"

#define FUZZ_IPC_MSGS	64

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipc_buf	 ib;
	static struct ipc_msg	 m, seen[FUZZ_IPC_MSGS];
	struct evbuffer		*eb;
	msgpack_sbuffer		 sb;
	size_t			 off = 0, n, nseen = 0, i = 0;
	int			 rv = 0, rv2;

	fuzz_init();
	if (size > FUZZ_MAX_SMALL)
		return (0);
	memset(&ib, 0, sizeof(ib));
	while (nseen < FUZZ_IPC_MSGS) {
		if ((rv = ipc_take(&ib, &m)) == -1)
			break;
		if (rv == 1) {
			FUZZ_ASSERT(m.m_type < IPC_NTYPES);
			FUZZ_ASSERT(strlen(m.m_str) <= IPC_STR_MAX);
			seen[nseen++] = m;
			continue;
		}
		if (off == size)
			break;
		/* As much as read(2) would give into the room left. */
		n = sizeof(ib.ib_data) - ib.ib_len;
		if (n == 0)
			break;
		if (n > size - off)
			n = size - off;
		memcpy(ib.ib_data + ib.ib_len, data + off, n);
		ib.ib_len += n;
		off += n;
	}

	if ((eb = evbuffer_new()) == NULL)
		fuzz_fail(__FILE__, __LINE__, "evbuffer_new");
	evbuffer_add(eb, data, size);
	msgpack_sbuffer_init(&sb);
	for (i = 0; i < nseen; i++) {
		FUZZ_ASSERT(ipc_evbuffer_get(eb, &m) == 1);
		FUZZ_ASSERT(m.m_type == seen[i].m_type &&
		    m.m_a == seen[i].m_a && m.m_b == seen[i].m_b &&
		    strcmp(m.m_str, seen[i].m_str) == 0);
		FUZZ_ASSERT(ipc_encode(&m, &sb) == 0);
	}
	if (nseen < FUZZ_IPC_MSGS) {
		/* Where one found a bad frame or the end, so does the other. */
		rv2 = ipc_evbuffer_get(eb, &m);
		FUZZ_ASSERT(rv2 == (rv == -1 ? -1 : 0));
	}
	msgpack_sbuffer_destroy(&sb);
	evbuffer_free(eb);
	return (0);
}
