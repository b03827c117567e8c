/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * What the fuzz targets share.  Each fuzz_<name>.c defines
 * LLVMFuzzerTestOneInput over one parser of src/; linked with libFuzzer
 * (configure --enable-fuzz) it is a fuzzer, linked with replay.c it runs
 * the files named on its command line once each, which is how make check
 * replays the corpus and the past crashers.
 *
 * A target returns 0 for every input, valid or not, and calls abort()
 * when an invariant that holds for any input breaks: the sanitizers and
 * libFuzzer report that as a crash with the input that caused it.
 */

#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "quire.h"

#define FUZZ_MAX_INPUT	(1024 * 1024)	/* longer inputs are passed over */
#define FUZZ_MAX_SMALL	(64 * 1024)	/* for records, frames, configs */

/* abort() with a message when cond is false. */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
void		 fuzz_init(void);
void		 fuzz_fail(const char *, int, const char *)
		    __attribute__((__noreturn__));
char		*fuzz_cstr(const uint8_t *, size_t);
int		 fuzz_extract(int, const char *, const uint8_t *, size_t);

#endif /* FUZZ_H */
