/* quire: durable document ingestion and search on one Unix box. ISC license. */

/* Fuzz target: markdown extraction (extract_md.c). */

#include <sys/types.h>

#include <stdint.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return (fuzz_extract(DOC_MARKDOWN, "a.md", data, size));
}
