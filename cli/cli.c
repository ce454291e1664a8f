/* Shared pieces of the command line: messages, config and store opening, --help. */
#include "cli/cli.h"

#include "common/redact.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Every message passes the one filter on its way to the terminal (common/redact.h): most quote a
 * server, a file or a config value, and none may drive the terminal or show a credential. */
static void print_message(const char *prefix, const char *fmt, va_list ap)
{
	char msg[4 * ERROR_MAX], safe[4 * ERROR_MAX];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "%s%s\n", prefix, redact_message(safe, sizeof safe, msg, strlen(msg)));
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message("leavesync: ", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message("leavesync: warning: ", fmt, ap);
	va_end(ap);
}

int cli_load_config(const struct cli *cli, bool allow_missing, struct config *cfg)
{
	struct error err = {{0}};

	if (config_load(cli->config_path, allow_missing, cfg, &err) < 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	for (char **w = cfg->warnings; w && *w; w++)
		cli_warn("%s", *w);
	return 0;
}

int cli_open_store(const struct config *cfg, enum cli_open_mode mode, struct store **st)
{
	struct error err = {{0}};
	int rc = mode == CLI_READ ? store_open_readonly(cfg->store_path, st, &err)
	                          : store_open(cfg->store_path, mode == CLI_CREATE, st, &err);

	if (rc < 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	if (*store_warning(*st))
		cli_warn("%s", store_warning(*st));
	return 0;
}

int cli_open(const struct cli *cli, const char *cmd, enum cli_open_mode mode, struct config *cfg,
             struct store **st)
{
	struct error err = {{0}};

	if (cli_load_config(cli, mode != CLI_RUN, cfg) < 0)
		return EXIT_USAGE;
	if (cli_open_store(cfg, mode, st) < 0) {
		config_free(cfg);
		return EXIT_USAGE;
	}
	if (mode == CLI_RUN && store_lock_run(*st, &err) < 0) {
		cli_error("%s: %s; nothing was done", cmd, err.msg);
		cli_close(cfg, *st);
		return EXIT_PARTIAL;
	}
	return EXIT_DONE;
}

void cli_close(struct config *cfg, struct store *st)
{
	store_close(st);
	config_free(cfg);
}

bool cli_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return true;
		}
	}
	return false;
}
