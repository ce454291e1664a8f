/* The safety valve: deleting more than [sync] delete_share of a mailbox's engine-owned events (and
 * at least delete_min of them) needs --force, as vdirsyncer refuses to sync against an emptied
 * side. It protects calendars from a store emptied or restored from an old backup by mistake. */
#include "engine/sync.h"

#include <stdio.h>

bool valve_blocks(const struct config *cfg, const char *mailbox, int64_t deletions, int64_t owned,
                  char *msg, size_t len)
{
	if (deletions <= 0 || deletions < cfg->delete_min ||
	    (double)deletions <= cfg->delete_share * (double)owned)
		return false;
	snprintf(msg, len,
	         "%s: would delete %lld of %lld engine-owned events (more than %.0f%%): nothing "
	         "deleted there; check the store, then run again with --force",
	         mailbox, (long long)deletions, (long long)owned, cfg->delete_share * 100.0);
	return true;
}
