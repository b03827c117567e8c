/* quire: durable document ingestion and search on one Unix box. ISC license. */

/*
 * A main() for the fuzz targets without libFuzzer: each file named on
 * the command line is read and given once to LLVMFuzzerTestOneInput, so
 * any compiler builds the targets and make check replays the corpus and
 * the past crashers through them (t/fuzz-replay.sh).  A crash is the
 * failure; the exit status is 0 once every file went through, or 1 if
 * one could not be read.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

/* The whole file, in a buffer exactly its size; NULL when unreadable. */
static uint8_t *
replay_read(const char *path, size_t *len)
{
	struct stat	 st;
	uint8_t		*data;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warn("%s", path);
		return (NULL);
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		warnx("%s: not a regular file", path);
		close(fd);
		return (NULL);
	}
	/* Exactly its size, so a read past the end shows under ASan. */
	data = xmalloc(st.st_size > 0 ? st.st_size : 1);
	while (off < (size_t)st.st_size) {
		n = read(fd, data + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			warnx("%s: short read", path);
			free(data);
			close(fd);
			return (NULL);
		}
		off += n;
	}
	close(fd);
	*len = off;
	return (data);
}

int
main(int argc, char *argv[])
{
	uint8_t	*data;
	size_t	 len;
	int	 i, rv = 0;

	for (i = 1; i < argc; i++) {
		if ((data = replay_read(argv[i], &len)) == NULL) {
			rv = 1;
			continue;
		}
		LLVMFuzzerTestOneInput(data, len);
		free(data);
	}
	return (rv);
}
