/* leavesync serve: the HTTP(S) API and scheduler (serve/). A thin command: options, then
 * serve_main, which logs through common/log.h. */
#include "cli/cli.h"
#include "serve/serve.h"

#include <getopt.h>
#include <stdio.h>

static const char serve_usage[] =
    "usage: leavesync serve [--routes]\n"
    "Runs the ingest API (docs/api.md) on [serve] listen (default 127.0.0.1:8765; HTTPS with\n"
    "[serve] tls_cert and tls_key, plain HTTP only on loopback; or the socket systemd passes)\n"
    "and a scheduler that syncs new leave after [serve] sync_delay seconds, retries waiting\n"
    "items when due and runs the nightly reconcile at [serve] reconcile_at.\n"
    "SIGHUP reloads the config; SIGTERM stops cleanly (exit 0).\n"
    "--routes prints the routes the server registers and exits.\n"
    "Exit status: 0 stopped cleanly, 2 bad usage, config, or the socket cannot be used.\n";

int cmd_serve(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"routes", no_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	struct serve_options o = {.config_path = cli->config_path};
	int c;

	if (cli_wants_help(argc, argv, serve_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'r') {
			fputs(serve_usage, stderr);
			return EXIT_USAGE;
		}
		serve_print_routes(stdout);
		return EXIT_DONE;
	}
	if (optind < argc) {
		fputs(serve_usage, stderr);
		return EXIT_USAGE;
	}
	return serve_main(&o);
}
