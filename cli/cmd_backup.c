/* leavesync backup FILE [--force]: a consistent copy of the store and of its secrets database,
 * made while syncs and pushes go on (store_backup). */
#include "cli/cli.h"
#include "common/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char backup_usage[] =
    "usage: leavesync backup FILE [--force]\n"
    "Writes a consistent copy of the store to FILE and of its secrets database (the refresh\n"
    "tokens) to FILE's secrets name (NAME.db -> NAME-secrets.db), both mode 0600, while\n"
    "syncs and pushes go on (SQLite's online backup). Restoring: docs/operations.md.\n"
    "  --force  replace FILE and its secrets file when they exist\n"
    "Exit status: 0 written, 2 bad usage, config, or the files cannot be written (nothing\n"
    "is left half-written).\n";

int cmd_backup(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'F'}, {NULL, 0, NULL, 0}};
	struct error err = {{0}};
	const char *dest;
	bool force = false;
	struct config cfg;
	struct store *st;
	int c, rc;

	if (cli_wants_help(argc, argv, backup_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'F') {
			fputs(backup_usage, stderr);
			return EXIT_USAGE;
		}
		force = true;
	}
	if (optind + 1 != argc) {
		fputs(backup_usage, stderr);
		return EXIT_USAGE;
	}
	dest = argv[optind];
	if ((rc = cli_open(cli, "backup", CLI_READ_SECRETS, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (store_backup(st, dest, force, &err) < 0) {
		cli_error("backup: %s; nothing was written", err.msg);
		rc = EXIT_USAGE;
	} else if (!cli->quiet) {
		char *secrets = store_secrets_path(dest);

		log_out(LOG_INFO, "backup: %s and %s written (mode 0600)", dest, secrets);
		free(secrets);
	}
	cli_close(&cfg, st);
	return rc;
}
