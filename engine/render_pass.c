/* The render pass: every leave changed since the last run (by push or by direct SQL, noticed
 * through the store's dirty queue, never by scanning) becomes its target's desired VEVENT. */
#include "common/util.h"
#include "engine/render.h"
#include "engine/sync.h"

#include <stdlib.h>

#define RENDER_PAGE 1000

static int render_one(const struct config *cfg, struct store *st, const struct dirty_leave *d,
                      struct error *err)
{
	char key[SYNC_KEY_MAX], *ics = NULL;
	int rc;

	if (d->deleted)
		return store_retire_other_targets(st, d->leave_id, NULL, err);
	render_sync_key(cfg->instance, d->lv.mailbox, d->lv.id, key);
	if (render_leave(cfg, &d->lv, key, &ics, err) < 0)
		return error_prefix(err, "leave %s: ", d->lv.id);
	rc = store_set_desired(st, d->lv.id, d->lv.mailbox, key, ics, err);
	if (rc == 0)
		rc = store_retire_other_targets(st, d->lv.id, d->lv.mailbox, err);
	free(ics);
	return rc;
}

int render_pass(const struct config *cfg, struct store *st, struct error *err)
{
	for (;;) {
		struct dirty_leave *d = NULL;
		size_t n = 0;
		int rc = 0;

		if (store_dirty_leaves(st, RENDER_PAGE, &d, &n, err) < 0)
			return -1;
		if (n == 0) {
			dirty_leaves_free(d, n);
			return 0;
		}
		if (store_begin(st, err) < 0) {
			dirty_leaves_free(d, n);
			return -1;
		}
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = render_one(cfg, st, &d[i], err);
		if (rc == 0)
			rc = store_dirty_done(st, d, n, err);
		if (rc == 0)
			rc = store_commit(st, err);
		else
			store_rollback(st);
		dirty_leaves_free(d, n);
		if (rc < 0)
			return -1;
	}
}
