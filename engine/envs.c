#include "engine/envs.h"
#include "engine/directory.h"
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
	return BE_BLOCKED;
}

void backend_envs_init(struct backend_envs *e, const struct config *cfg)
{
	static const char *const names[2] = {"ews", "graph"};

	memset(e, 0, sizeof *e);
	e->directory =
	    cfg->store_path ? mailbox_directory_new(cfg->store_path, cfg->store_group) : NULL;
	for (int i = 0; i < 2; i++) {
		const struct service_config *sc = i == 0 ? &cfg->ews : &cfg->graph;
		e->env[i].cfg = cfg;
		e->env[i].directory = e->directory;
		e->env[i].ca_file = cfg->ca_file;
		e->env[i].instance = cfg->instance;
		e->failing[i].ts.get = failing_get;
		if (!sc->configured) {
			error_set(
			    &e->failing[i].why,
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

static int check_one(const struct backend_envs *e, const char *name, struct error *err)
{
	int i = strcmp(name, "graph") == 0 ? 1 : 0;

	if (e->tokens[i])
		return 0;
	return error_set(err, "%s", e->failing[i].why.msg);
}

int backend_envs_check(const struct backend_envs *e, const struct config *cfg, struct error *err)
{
	if (check_one(e, cfg->backend, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->nroutes; i++)
		if (check_one(e, cfg->routes[i].backend, err) < 0)
			return error_prefix(err, "[mailbox \"%s\"]: ", cfg->routes[i].mailbox);
	return 0;
}

void backend_envs_free(struct backend_envs *e)
{
	for (int i = 0; i < 2; i++)
		token_source_free(e->tokens[i]);
	mailbox_directory_free(e->directory);
	memset(e, 0, sizeof *e);
}
