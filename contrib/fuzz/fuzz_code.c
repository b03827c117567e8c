/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * Fuzz target: source code extraction (extract_code.c).  The comment
 * syntax the lexer follows comes from the file name; the input's length
 * picks one, so every lexer is reached without taking bytes from the
 * input, and a corpus file replays the same way each time.
 */

#include <sys/types.h>

#include <stdint.h>

#include "fuzz.h"

static const char *fuzz_code_names[] = {
	"a.c", "a.py", "a.sh", "a.lua", "a.sql", "a.hs", "a.el", "a.erl",
	"a.php", "Makefile", "a.unknown"
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*name;

	name = fuzz_code_names[size % (sizeof(fuzz_code_names) /
	    sizeof(fuzz_code_names[0]))];
	return (fuzz_extract(DOC_CODE, name, data, size));
}
