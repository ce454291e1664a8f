/* Access-token sources handed to backends (struct token_source in engine/backend.h).
 * App-only: client credentials, cached until shortly (5 min) before expiry, refreshed
 * transparently, thread-safe. Delegated: per-mailbox refresh tokens from the store, rotated on
 * every use (the new refresh token is committed before the access token is used); a revoked or
 * expired one marks the connection "needs login" in the store and returns BE_NEEDS_LOGIN. */
#ifndef ENGINE_TOKENS_H
#define ENGINE_TOKENS_H

#include "common/error.h"
#include "engine/backend.h"
#include "engine/oauth.h"

/* The app strings are copied. scope e.g. "https://outlook.office365.com/.default". */
struct token_source *token_source_app_new(const struct oauth_app *app, const char *scope,
                                          const char *ca_file, struct error *err);
/* scope e.g. "offline_access https://graph.microsoft.com/Calendars.ReadWrite". Opens its own
 * connection to the store at store_path. */
struct token_source *token_source_delegated_new(const struct oauth_app *app, const char *scope,
                                                const char *store_path, const char *ca_file,
                                                struct error *err);
void token_source_free(struct token_source *ts);

/* Counts token endpoint requests made (benchmarks, doctor). */
long token_source_requests(const struct token_source *ts);

/* Makes a token_source for a service section of the config (ews or graph, app-only or delegated).
 * Fills app strings from cfg; caller frees with token_source_free. */
struct token_source *token_source_for(const struct config *cfg, const char *backend_name,
                                      struct error *err);

/* The resource (token audience) for a service URL: "https://graph.microsoft.com" or
 * "https://outlook.office365.com", or a national cloud's host when url is on one. */
const char *token_resource_for(const char *service_url, bool graph);

#endif
