/* The render pass: every leave changed since the last run (by push or by direct SQL, noticed
 * through the store's dirty queue, never by scanning) becomes its target's desired VEVENT. */
#include "common/util.h"
#include "engine/render.h"
#include "engine/sync.h"

#include <stdio.h>
#include <stdlib.h>

#define RENDER_PAGE 1000

/* One leave. A leave that cannot be rendered fails alone: its target becomes failed (unrenderable,
 * the reason in last_error) and keeps any event it has; every other leave goes on. Only a store
 * failure stops the pass. */
static int render_one(const struct config *cfg, struct store *st, const struct dirty_leave *d,
                      struct sync_result *r, struct error *err)
{
	char key[SYNC_KEY_MAX], *ics = NULL;
	struct error why = {{0}};
	int rc;

	if (d->deleted)
		return store_retire_other_targets(st, d->leave_id, NULL, err);
	render_sync_key(cfg->instance, d->lv.mailbox, d->lv.id, key);
	if (render_leave(cfg, &d->lv, key, &ics, &why) < 0) {
		char reason[sizeof why.msg + 64];
		snprintf(reason, sizeof reason, "the leave cannot be rendered: %s", why.msg);
		if (store_mark_unrenderable(st, d->lv.id, d->lv.mailbox, key, reason, err) < 0)
			return -1;
		if (r) {
			r->stats.failed++;
			sync_add_problem(r, d->lv.mailbox, d->lv.id, "failed", reason);
		}
		return 0;
	}
	rc = store_set_desired(st, d->lv.id, d->lv.mailbox, key, ics, err);
	if (rc == 0)
		rc = store_retire_other_targets(st, d->lv.id, d->lv.mailbox, err);
	free(ics);
	return rc;
}

int render_pass(const struct config *cfg, struct store *st, struct sync_result *r,
                struct error *err)
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
			rc = render_one(cfg, st, &d[i], r, err);
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
