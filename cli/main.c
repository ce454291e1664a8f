/* leavesync: sync approved leave from HR into Outlook calendars (EWS or Microsoft Graph).
 * main() parses the global options and dispatches to one command (cli/cmd_*.c). */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct command {
	const char *name;
	int (*run)(const struct cli *cli, int argc, char **argv);
	const char *summary;
} commands[] = {
    {"init", cmd_init, "create or migrate the store"},
    {"push", cmd_push, "upsert leave entries from HR (all or nothing)"},
    {"sync", cmd_sync, "write pending changes to calendars"},
    {"resync", cmd_resync, "rewrite events even if believed current (--all|--mailbox|--leave)"},
    {"reconcile", cmd_reconcile, "compare calendars with the store and repair drift"},
    {"status", cmd_status, "counts by state, failures with reasons, last runs"},
    {"show", cmd_show, "one leave's story: revisions, calendar event, writes, drift"},
    {"calendar", cmd_calendar, "what a mailbox's calendar holds, beside the store"},
    {"export", cmd_export, "write the events as an iCalendar file (--ics)"},
    {"auth", cmd_auth, "connect a mailbox for Graph delegated access (auth login)"},
    {"doctor", cmd_doctor, "check config, credentials and permissions; explain what is wrong"},
    {"serve", cmd_serve, "run the HTTPS ingest API, health, metrics and the sync scheduler"},
    {"apikey", cmd_apikey, "create, list or revoke API keys for serve"},
};

static void usage(FILE *f)
{
	fputs("usage: leavesync [-c CONFIG] COMMAND [options]\n"
	      "       leavesync --version | --help | COMMAND --help\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nCONFIG defaults to $LEAVESYNC_CONFIG, then ./leavesync.conf. See leavesync(1).\n"
	      "Exit status: 0 done, 1 some items failed or wait, 2 bad usage, config or input.\n",
	      f);
}

int main(int argc, char **argv)
{
	struct cli cli = {.prog = "leavesync"};
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	/* '+': stop at the command name; its own options are parsed by the command. */
	while ((c = getopt_long(argc, argv, "+c:hVq", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_DONE;
		case 'V':
			printf("leavesync %s\n", LEAVESYNC_VERSION);
			return EXIT_DONE;
		case 'q':
			cli.quiet = true;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* full getopt reset (GNU): options may follow operands */
			return commands[i].run(&cli, sub_argc, sub_argv);
		}
	}
	fprintf(stderr, "leavesync: unknown command '%s' (try leavesync --help)\n", argv[optind]);
	return EXIT_USAGE;
}
