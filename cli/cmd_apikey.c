/* leavesync apikey create|list|revoke: the API keys of leavesync serve. A key is printed once, at
 * creation, alone on the first line of stdout; the store keeps only its SHA-256 (serve/auth.h). */
#include "cli/cli.h"
#include "common/util.h"
#include "serve/auth.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

static const char apikey_usage[] =
    "usage: leavesync apikey create --name NAME [--scope read|push|admin]\n"
    "       leavesync apikey list\n"
    "       leavesync apikey revoke NAME\n"
    "API keys for leavesync serve (docs/api.md). create prints the key once, alone on the\n"
    "first line of stdout; only its hash is stored. Scopes: read (GET leave and runs), push\n"
    "(read, and PUT/POST leave; the default), admin (everything: resync, reconcile).\n";

static bool name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || strchr("-_.", n[i])))
			return false;
	return true;
}

static int create(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
	                                     {"scope", required_argument, NULL, 's'},
	                                     {NULL, 0, NULL, 0}};
	const char *name = NULL, *scope = "push";
	unsigned char hash[API_KEY_HASH_LEN];
	char key[APIKEY_TEXT_LEN];
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 's')
			scope = optarg;
		else {
			fputs(apikey_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!name || optind < argc) {
		fputs(apikey_usage, stderr);
		return EXIT_USAGE;
	}
	if (!name_ok(name)) {
		cli_error("apikey create: --name %s: use 1 to 64 letters, digits, '-', '_' or '.' "
		          "(the name appears in logs)",
		          name);
		return EXIT_USAGE;
	}
	if (scope_from_name(scope) == SCOPE_NONE) {
		cli_error("apikey create: --scope %s: expected read, push or admin", scope);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "apikey", CLI_WRITE, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (apikey_generate(key) < 0) {
		cli_error("apikey create: the system gave no random bytes; nothing was stored");
		cli_close(&cfg, st);
		return EXIT_USAGE;
	}
	apikey_hash(key, strlen(key), hash);
	if (store_apikey_add(st, name, hash, scope, &err) < 0) {
		cli_error("apikey create: %s", err.msg);
		rc = EXIT_USAGE;
	} else {
		printf("%s\n", key);
		fflush(stdout);
		if (!cli->quiet)
			fprintf(stderr,
			        "apikey: created '%s' (scope %s). The key above is shown only now: "
			        "keep it in the HR system's secret store; send it as "
			        "Authorization: Bearer KEY.\n",
			        name, scope);
		rc = EXIT_DONE;
	}
	OPENSSL_cleanse(key, sizeof key);
	cli_close(&cfg, st);
	return rc;
}

static int print_key(void *arg, const struct api_key *k)
{
	char when[21];

	(void)arg;
	format_utc(when, k->created_at);
	printf("%-32s %-6s %s\n", k->name, k->scope, when);
	return 0;
}

static int list(const struct cli *cli, int argc)
{
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	int rc;

	if (argc > 1) {
		fputs(apikey_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "apikey", CLI_READ, &cfg, &st)) != EXIT_DONE)
		return rc;
	printf("%-32s %-6s %s\n", "NAME", "SCOPE", "CREATED");
	if (store_apikey_each(st, print_key, NULL, &err) < 0) {
		cli_error("apikey list: %s", err.msg);
		rc = EXIT_USAGE;
	}
	cli_close(&cfg, st);
	return rc;
}

static int revoke(const struct cli *cli, int argc, char **argv)
{
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	int rc, found;

	if (argc != 2) {
		fputs(apikey_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "apikey", CLI_WRITE, &cfg, &st)) != EXIT_DONE)
		return rc;
	found = store_apikey_revoke(st, argv[1], &err);
	if (found < 0) {
		cli_error("apikey revoke: %s", err.msg);
		rc = EXIT_USAGE;
	} else if (found == 0) {
		cli_error("apikey revoke: no key named '%s' (leavesync apikey list shows them)",
		          argv[1]);
		rc = EXIT_USAGE;
	} else if (!cli->quiet) {
		printf("apikey: revoked '%s'; requests with it are refused from now on\n", argv[1]);
	}
	cli_close(&cfg, st);
	return rc;
}

int cmd_apikey(const struct cli *cli, int argc, char **argv)
{
	if (cli_wants_help(argc, argv, apikey_usage))
		return EXIT_DONE;
	if (argc < 2) {
		fputs(apikey_usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "create") == 0)
		return create(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return list(cli, argc - 1);
	if (strcmp(argv[1], "revoke") == 0)
		return revoke(cli, argc - 1, argv + 1);
	cli_error("apikey: unknown subcommand '%s' (create, list or revoke)", argv[1]);
	return EXIT_USAGE;
}
