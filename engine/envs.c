#include "engine/envs.h"
#include "engine/tokens.h"

#include <string.h>

static enum be_status failing_get(struct token_source *ts, const char *mailbox, bool force_refresh,
				  const char **token, struct error *err)
{
	const struct failing_tokens *f = (const struct failing_tokens *)ts;

	(void)mailbox;
	(void)force_refresh;
	*token = NULL;
	error_set(err, "%s", f->why.msg);
	return BE_FINAL;
}

void backend_envs_init(struct backend_envs *e, const struct config *cfg)
{
	static const char *const names[2] = {"ews", "graph"};

	memset(e, 0, sizeof *e);
	for (int i = 0; i < 2; i++) {
		const struct service_config *sc = i == 0 ? &cfg->ews : &cfg->graph;
		e->env[i].cfg = cfg;
		e->env[i].ca_file = cfg->ca_file;
		e->failing[i].ts.get = failing_get;
		if (!sc->configured) {
			error_set(&e->failing[i].why,
				  "mailbox is routed to %s but the config has no [%s] section: add it "
				  "(see docs/setup.md) or route the mailbox elsewhere",
				  names[i], names[i]);
		} else {
			e->tokens[i] = token_source_for(cfg, names[i], &e->failing[i].why);
		}
		e->env[i].tokens = e->tokens[i] ? e->tokens[i] : &e->failing[i].ts;
	}
}

const struct backend_env *backend_envs_get(void *arg, const struct backend *be)
{
	struct backend_envs *e = arg;

	return &e->env[be == &graph_backend ? 1 : 0];
}

void backend_envs_free(struct backend_envs *e)
{
	for (int i = 0; i < 2; i++)
		token_source_free(e->tokens[i]);
	memset(e, 0, sizeof *e);
}
