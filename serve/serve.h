/* leavesync serve: the HTTP(S) ingest API, /healthz, /readyz, /metrics, and the scheduler that
 * syncs new work, retries and the nightly reconcile, in one process (docs/api.md). The sync core
 * knows nothing of it: serve calls sync_run/reconcile_run like the CLI does. */
#ifndef SERVE_SERVE_H
#define SERVE_SERVE_H

#include <stdbool.h>
#include <stdio.h>

struct serve_options {
	const char *config_path; /* -c, or NULL for the default lookup */
};

/* Runs until SIGTERM/SIGINT (exit 0 after a clean stop); SIGHUP reloads the config. Returns the
 * exit status: 0, or 2 when the config or the listening socket is unusable (logged). */
int serve_main(const struct serve_options *o);

/* The routes the server registers, one "METHOD PATH" per line (docs/openapi.yaml must list the
 * same; tests/integration/t5002-serve-openapi.sh checks both ways). */
void serve_print_routes(FILE *f);

#endif
