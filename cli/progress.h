/* Progress on a terminal (stderr): done/total, rate and ETA, redrawn at most 5 times a second.
 * Nothing at all when stderr is not a terminal (cron, systemd, pipes). */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	const char *label;
	bool enabled;
	bool drawn;
	int64_t started_ms, last_ms;
};

void progress_init(struct progress *p, const char *label);
void progress_update(void *arg, int64_t done, int64_t total); /* struct sync_progress callback */
void progress_finish(struct progress *p);                     /* clears the line */

#endif
