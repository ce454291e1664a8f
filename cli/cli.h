/* The command line: main.c dispatches to one function per command (cli/cmd_*.c). These files are
 * the only code that prints to the user; everything they call returns errors instead. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include "engine/config.h"
#include "store/store.h"

#include <stdbool.h>

/* Exit status (contract): */
enum {
	EXIT_DONE = 0,    /* everything done */
	EXIT_PARTIAL = 1, /* the run finished but some items failed or wait (listed) */
	EXIT_USAGE = 2,   /* bad usage, config or input */
};

struct cli {
	const char *config_path; /* -c, or NULL */
	const char *prog;        /* "leavesync" */
	bool quiet;
};

/* Prints "leavesync: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How a command uses the store: CLI_READ opens it read-only (status, export: no write, works on a
 * store the user may only read), CLI_CREATE creates it where no file exists (init, the only one),
 * CLI_WRITE opens an existing one for writing (push, auth), CLI_RUN also takes the run lock. */
enum cli_open_mode { CLI_READ, CLI_CREATE, CLI_WRITE, CLI_RUN };

/* Loads the config (printing its warnings) and opens the store (printing what opening it fixed);
 * on failure prints and returns -1. */
int cli_load_config(const struct cli *cli, bool allow_missing, struct config *cfg);
int cli_open_store(const struct config *cfg, enum cli_open_mode mode, struct store **st);

/* Config, then the store (and for a run, the run lock), as one step: prints what failed and
 * returns the exit status to use (EXIT_USAGE, or EXIT_PARTIAL when another run holds the lock), or
 * EXIT_DONE with both open. cli_close releases what cli_open opened. */
int cli_open(const struct cli *cli, const char *cmd, enum cli_open_mode mode, struct config *cfg,
             struct store **st);
void cli_close(struct config *cfg, struct store *st);

/* Returns true when argv holds -h/--help (after the command name); prints usage to stdout then. */
bool cli_wants_help(int argc, char **argv, const char *usage);

int cmd_init(const struct cli *cli, int argc, char **argv);
int cmd_push(const struct cli *cli, int argc, char **argv);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_export(const struct cli *cli, int argc, char **argv);
int cmd_sync(const struct cli *cli, int argc, char **argv);
int cmd_resync(const struct cli *cli, int argc, char **argv);
int cmd_reconcile(const struct cli *cli, int argc, char **argv);
int cmd_auth(const struct cli *cli, int argc, char **argv);
int cmd_doctor(const struct cli *cli, int argc, char **argv);
int cmd_serve(const struct cli *cli, int argc, char **argv);
int cmd_apikey(const struct cli *cli, int argc, char **argv);
int cmd_show(const struct cli *cli, int argc, char **argv);
int cmd_calendar(const struct cli *cli, int argc, char **argv);

#endif
