/* quire: durable document ingestion and search on one Unix box. ISC license. */

/* Fuzz target: HTML extraction (extract_html.c). */

#include <sys/types.h>

#include <stdint.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return (fuzz_extract(DOC_HTML, "a.html", data, size));
}
