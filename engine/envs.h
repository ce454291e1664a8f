/* The backend environments of one run: for each backend, the config and its token source. A backend
 * whose credentials cannot be set up gets a token source that answers with that reason, so its
 * items fail with a clear message while other backends go on. */
#ifndef ENGINE_ENVS_H
#define ENGINE_ENVS_H

#include "engine/backend.h"
#include "engine/config.h"

struct failing_tokens {
	struct token_source ts; /* first */
	struct error why;
};

struct backend_envs {
	struct backend_env env[2];      /* [0] ews, [1] graph */
	struct token_source *tokens[2]; /* owned */
	struct failing_tokens failing[2];
	struct mailbox_directory *directory; /* owned; shared by both backends */
};

void backend_envs_init(struct backend_envs *e, const struct config *cfg);
const struct backend_env *backend_envs_get(void *arg, const struct backend *be);
/* -1 with the reason when a backend that mailboxes are routed to ([sync] backend, [mailbox]
 * routes) has no usable credentials: a configuration error, reported once instead of per item. */
int backend_envs_check(const struct backend_envs *e, const struct config *cfg, struct error *err);
void backend_envs_free(struct backend_envs *e);

#endif
