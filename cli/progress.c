#include "cli/progress.h"
#include "common/util.h"

#include <stdio.h>
#include <unistd.h>

void progress_init(struct progress *p, const char *label)
{
	p->label = label;
	p->enabled = isatty(STDERR_FILENO) == 1;
	p->drawn = false;
	p->started_ms = p->last_ms = now_ms();
}

void progress_update(void *arg, int64_t done, int64_t total)
{
	struct progress *p = arg;
	int64_t now = now_ms(), elapsed;
	double rate;

	if (!p->enabled || (now - p->last_ms < 200 && done < total))
		return;
	p->last_ms = now;
	elapsed = now - p->started_ms;
	rate = elapsed > 0 ? (double)done * 1000.0 / (double)elapsed : 0.0;
	if (total > 0 && rate > 0 && done < total)
		fprintf(stderr, "\r%s: %lld/%lld (%.0f/s, ETA %.0f s)   ", p->label,
		        (long long)done, (long long)total, rate, (double)(total - done) / rate);
	else
		fprintf(stderr, "\r%s: %lld/%lld (%.0f/s)   ", p->label, (long long)done,
		        (long long)total, rate);
	p->drawn = true;
}

void progress_finish(struct progress *p)
{
	if (p->enabled && p->drawn)
		fputs("\r\033[K", stderr);
	p->drawn = false;
}
