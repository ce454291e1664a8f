/* serve_log (log.h). */
#include "serve/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static bool to_journal;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

/* $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected; it is inherited by children
 * that may have another stderr, so it counts only when it matches (systemd.exec(5)). */
void serve_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;

	to_journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &sb) == 0 &&
	             (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void serve_log(int priority, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n = 0;

	if (to_journal)
		n = snprintf(line, sizeof line, "<%d>", priority & 7);
	n += snprintf(line + n, sizeof line - (size_t)n, "leavesync serve: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line, so that lines of different threads never interleave */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&log_mu);
}
