/* The store's instance against [sync] instance: a store writes, lists and deletes only the events
 * of its own instance, so a changed name must never take effect silently (every event would look
 * foreign, and every leave would be written a second time). Renaming goes through
 * reconcile --adopt-instance OLD. */
#include "common/util.h"
#include "engine/sync.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *instance_of(const struct config *cfg)
{
	return cfg->instance && *cfg->instance ? cfg->instance : "default";
}

int instance_check(const struct config *cfg, struct store *st, const char *adopt, struct error *err)
{
	char *recorded = NULL;
	int rc = 0;

	if (store_get_instance(st, &recorded, err) < 0)
		return -1;
	if (!recorded)
		return store_set_instance(st, instance_of(cfg), err);
	if (strcasecmp(recorded, instance_of(cfg)) != 0 &&
	    !(adopt && strcasecmp(recorded, adopt) == 0))
		rc = error_set(
		    err,
		    "this store holds the events of instance \"%s\" but [sync] instance "
		    "is \"%s\": to rename the instance, run `leavesync reconcile "
		    "--adopt-instance %s` once; to run a second instance, give it its own "
		    "store ([store] path); or set instance = %s again (docs/operations.md)",
		    recorded, instance_of(cfg), recorded, recorded);
	free(recorded);
	return rc;
}

struct rename_ctx {
	struct store *st;
	const char *from, *to;
	int64_t renamed;
	struct {
		int64_t id;
		char key[SYNC_KEY_MAX];
	} * v;
	size_t n, cap;
};

static int collect_key(void *arg, int64_t id, const char *key)
{
	struct rename_ctx *x = arg;

	if (!sync_key_in_instance(key, x->from))
		return 0;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 64;
		x->v = xrealloc(x->v, x->cap * sizeof *x->v);
	}
	x->v[x->n].id = id;
	sync_key_for_instance(key, x->to, x->v[x->n].key);
	x->n++;
	return 0;
}

int instance_adopt(const struct config *cfg, struct store *st, const char *from, int64_t *renamed,
                   struct error *err)
{
	struct rename_ctx x = {.st = st, .from = from, .to = instance_of(cfg)};
	int rc = -1;

	*renamed = 0;
	if (strcasecmp(from, instance_of(cfg)) == 0)
		return error_set(
		    err, "--adopt-instance %s: that is this store's [sync] instance already", from);
	if (store_each_target_key(st, collect_key, &x, err) < 0)
		goto out;
	if (store_begin(st, err) < 0)
		goto out;
	for (size_t i = 0; i < x.n; i++)
		if (store_set_target_key(st, x.v[i].id, x.v[i].key, err) < 0)
			goto rollback;
	/* every leave renders again: the desired text carries the key as its UID */
	if (store_requeue_leaves(st, NULL, NULL, err) < 0 ||
	    store_set_instance(st, instance_of(cfg), err) < 0 || store_commit(st, err) < 0)
		goto rollback;
	*renamed = (int64_t)x.n;
	rc = 0;
	goto out;
rollback:
	store_rollback(st);
out:
	free(x.v);
	return rc;
}
