/* leavesync: sync approved leave from HR into Outlook calendars (EWS or Microsoft Graph).
 * main() parses the global options and dispatches to one command (cli/cmd_*.c). */
#include "cli/cli.h"
#include "common/log.h"

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
    {"export", cmd_export, "write the events as an iCalendar file (the default format)"},
    {"backup", cmd_backup, "write a consistent 0600 copy of the store and its secrets"},
    {"auth", cmd_auth, "Graph delegated connections: auth login | list | logout"},
    {"doctor", cmd_doctor, "check config, credentials and permissions; explain what is wrong"},
    {"serve", cmd_serve, "run the HTTPS ingest API, health, metrics and the sync scheduler"},
    {"apikey", cmd_apikey, "create, list or revoke API keys for serve"},
};

static void usage(FILE *f)
{
	fputs("usage: leavesync [-c CONFIG] [-q | -v] COMMAND [options]\n"
	      "       leavesync --version | --help | COMMAND --help\n\n"
	      "options:\n"
	      "  -c, --config FILE  the configuration file\n"
	      "  -q, --quiet        print nothing on standard output when all went well\n"
	      "  -v, --verbose      log each HTTP request: method, URL, status, duration\n"
	      "  -h, --help         this text\n"
	      "  -V, --version      the version\n\ncommands:\n",
	      f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("\nCONFIG: -c FILE, else $LEAVESYNC_CONFIG, else $XDG_CONFIG_HOME/leavesync/"
	      "leavesync.conf\n(not for root), else /etc/leavesync/leavesync.conf. See "
	      "leavesync(1).\n"
	      "Exit status: 0 done, 1 some items failed or wait, 2 bad usage, config or input,\n"
	      "75 another run holds the store (try again later).\n",
	      f);
}

int main(int argc, char **argv)
{
	/* the journal streams' state, for the whole process (cli/log.h) */
	static struct log_journal journal;
	struct cli cli = {.prog = "leavesync"};
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {"quiet", no_argument, NULL, 'q'},
	    {"verbose", no_argument, NULL, 'v'},      {NULL, 0, NULL, 0}};
	int c;

	log_setup_journal(&journal);
	/* '+': stop at the command name; its own options are parsed by the command. */
	while ((c = getopt_long(argc, argv, "+c:hVqv", opts, NULL)) != -1) {
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
		case 'v':
			cli.verbose = true;
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
	cli_error("unknown command '%s' (try leavesync --help)", argv[optind]);
	return EXIT_USAGE;
}
