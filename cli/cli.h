/* The command line: main.c dispatches to one function per command (cli/cmd_*.c). These files are
 * the only code that prints to the user; everything they call returns errors instead. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include "engine/config.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>

/* Exit status (contract; README, leavesync(1) and docs/operations.md hold the table): */
enum {
	EXIT_DONE = 0,    /* everything done and nothing failing */
	EXIT_PARTIAL = 1, /* some targets failed or wait (every run, as long as they do; named) */
	EXIT_USAGE = 2,   /* bad usage, config or input (unknown resync targets included) */
	EXIT_LOCKED = 75, /* another run holds the store's lock: nothing was done (EX_TEMPFAIL of
	                     sysexits.h: try again later) */
};

struct cli {
	const char *config_path; /* -c, or NULL */
	const char *prog;        /* "leavesync" */
	bool quiet;              /* -q: nothing on stdout when all went well */
	bool verbose;            /* -v: each HTTP request's method, URL, status and duration */
};

/* "leavesync: <msg>" / "leavesync: warning: <msg>" on stderr, with the journal's priority (err,
 * warning) when stderr is the journal (cli/log.h). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* How a command uses the store: CLI_READ opens it read-only (export, show, apikey list: no write,
 * works on a store the user may only read), CLI_READ_SECRETS too, with the secrets database
 * attached read-only (status, auth list, backup: they read the delegated connections),
 * CLI_CREATE creates it where no file exists (init, the only one), CLI_WRITE opens an existing one
 * for writing (push, auth login/logout, apikey create/revoke), CLI_RUN also takes the run lock
 * (sync, resync, reconcile, calendar). A command that writes must never use a CLI_READ mode: the
 * store would refuse with "attempt to write a readonly database". */
enum cli_open_mode { CLI_READ, CLI_READ_SECRETS, CLI_CREATE, CLI_WRITE, CLI_RUN };

/* Finds and loads the config, printing every problem of the file and its warnings; with -v, sets
 * the request log. -1 when it cannot be used (exit 2). */
int cli_load_config(const struct cli *cli, struct config *cfg);
/* Opens the store of a loaded config as mode says (not the run lock), shares it with [store] group
 * and prints what opening it fixed; on failure prints "CMD: why" and returns -1. */
int cli_open_store(const struct config *cfg, const char *cmd, enum cli_open_mode mode,
                   struct store **st);

/* Config, then the store (and for a run, the run lock), as one step: prints what failed and
 * returns the exit status to use (EXIT_USAGE; EXIT_LOCKED when another run holds the lock), or
 * EXIT_DONE with both open. Only CLI_CREATE (init) creates a store; the others need one.
 * cli_close releases what cli_open opened. */
int cli_open(const struct cli *cli, const char *cmd, enum cli_open_mode mode, struct config *cfg,
             struct store **st);
void cli_close(struct config *cfg, struct store *st);

/* Lists the targets that failed or wait, grouped by reason (the first three named, then how many
 * more), on stderr; returns how many there are (-1 when the store cannot say). Run after every
 * sync, resync and reconcile, so that every run names them as long as they are there. */
int64_t cli_report_problems(const char *cmd, struct store *st);

/* The end of a run: deletes history older than [store] keep_history_days. */
void cli_prune_history(const struct config *cfg, struct store *st);

/* Returns true when argv holds -h/--help (after the command name); prints usage to stdout then. */
bool cli_wants_help(int argc, char **argv, const char *usage);

/* Prints v as one JSON document on stdout (indented, keys in insertion order) and takes it. */
void cli_print_json(json_t *v);

int cmd_init(const struct cli *cli, int argc, char **argv);
int cmd_push(const struct cli *cli, int argc, char **argv);
int cmd_status(const struct cli *cli, int argc, char **argv);
int cmd_export(const struct cli *cli, int argc, char **argv);
int cmd_sync(const struct cli *cli, int argc, char **argv);
int cmd_resync(const struct cli *cli, int argc, char **argv);
int cmd_reconcile(const struct cli *cli, int argc, char **argv);
int cmd_auth(const struct cli *cli, int argc, char **argv);
int cmd_doctor(const struct cli *cli, int argc, char **argv);
int cmd_backup(const struct cli *cli, int argc, char **argv);
int cmd_serve(const struct cli *cli, int argc, char **argv);
int cmd_apikey(const struct cli *cli, int argc, char **argv);
int cmd_show(const struct cli *cli, int argc, char **argv);
int cmd_calendar(const struct cli *cli, int argc, char **argv);

#endif
