/* quire: durable document ingestion and search on one Unix box. ISC license. */

/* Fuzz target: JSON extraction (extract_json.c). */

#include <sys/types.h>

#include <stdint.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return (fuzz_extract(DOC_JSON, "a.json", data, size));
}
