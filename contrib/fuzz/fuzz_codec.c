/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: the job record decoder (codec_job_decode in codec.c).  A
 * record it accepts holds NUL-terminated strings within their fields,
 * and encodes to a record that decodes to the same job.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer	 sb;
	struct job	 j, k;

	fuzz_init();
	if (size > FUZZ_MAX_SMALL + CODEC_RECORD_MAX)
		return (0);
	if (codec_job_decode(data, size, &j) != 0)
		return (0);
	FUZZ_ASSERT(memchr(j.j_key, '\0', sizeof(j.j_key)) != NULL);
	FUZZ_ASSERT(memchr(j.j_tenant, '\0', sizeof(j.j_tenant)) != NULL);
	FUZZ_ASSERT(memchr(j.j_path, '\0', sizeof(j.j_path)) != NULL);
	FUZZ_ASSERT(memchr(j.j_error, '\0', sizeof(j.j_error)) != NULL);
	FUZZ_ASSERT(memchr(j.j_lang, '\0', sizeof(j.j_lang)) != NULL);
	msgpack_sbuffer_init(&sb);
	if (codec_job_encode(&j, &sb) == 0) {
		FUZZ_ASSERT(codec_job_decode(sb.data, sb.size, &k) == 0);
		FUZZ_ASSERT(k.j_id == j.j_id && k.j_state == j.j_state &&
		    k.j_srckind == j.j_srckind && k.j_prio == j.j_prio &&
		    k.j_lease_gen == j.j_lease_gen &&
		    strcmp(k.j_key, j.j_key) == 0 &&
		    strcmp(k.j_path, j.j_path) == 0 &&
		    strcmp(k.j_error, j.j_error) == 0);
	}
	msgpack_sbuffer_destroy(&sb);
	return (0);
}
