/* The backend-independent parts of engine/backend.h: status names and freeing what backends return.
 */
#include "engine/backend.h"

#include <stdlib.h>
#include <string.h>

const char *be_status_name(enum be_status s)
{
	switch (s) {
	case BE_OK:
		return "ok";
	case BE_RETRY_NOW:
		return "retry";
	case BE_RETRY_LATER:
		return "throttled";
	case BE_NEEDS_LOGIN:
		return "needs-login";
	case BE_CONFLICT:
		return "conflict";
	case BE_GONE:
		return "gone";
	case BE_FINAL:
		return "failed";
	case BE_BLOCKED:
		return "blocked";
	}
	return "unknown";
}

void be_item_clear(struct be_item *it)
{
	if (!it)
		return;
	free(it->new_remote_id);
	free(it->new_change_key);
	it->new_remote_id = NULL;
	it->new_change_key = NULL;
	it->status = BE_OK;
	it->retry_after_ms = 0;
	it->message[0] = '\0';
}

void remote_event_free(struct remote_event *re)
{
	if (!re)
		return;
	free(re->remote_id);
	free(re->change_key);
	event_free(&re->ev);
	memset(re, 0, sizeof *re);
}

bool be_tag_accepted(const struct backend_env *env, const char *tag)
{
	if (!tag || !*tag)
		return false;
	if (sync_key_in_instance(tag, env ? env->instance : NULL))
		return true;
	if (!env || !env->also_instance)
		return false;
	return strcmp(env->also_instance, "*") == 0 ||
	       sync_key_in_instance(tag, env->also_instance);
}
