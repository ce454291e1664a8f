/* Shared pieces of the command line: messages, config and store opening, problem reports, --help,
 * JSON output. */
#include "cli/cli.h"

#include "common/log.h"
#include "common/buf.h"
#include "common/redact.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every message passes the one filter on its way to the terminal or the journal (common/redact.h):
 * most quote a server, a file or a config value, and none may drive the terminal or show a
 * credential. Each line of a multi-line message is filtered on its own and names the program. */
static void print_message(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char msg[4 * ERROR_MAX], safe[4 * ERROR_MAX];
	struct buf lines = BUF_INIT;
	const char *p = msg;

	vsnprintf(msg, sizeof msg, fmt, ap);
	do {
		size_t n = strcspn(p, "\n");

		buf_printf(&lines, "%s%s%s", lines.len ? "\n" : "", prefix,
		           redact_message(safe, sizeof safe, p, n));
		p += n + (p[n] == '\n');
	} while (*p);
	log_msg(priority, "%s", lines.data);
	buf_free(&lines);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message(LOG_ERR, "leavesync: ", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_message(LOG_WARNING, "leavesync: warning: ", fmt, ap);
	va_end(ap);
}

/* -v: one debug line per HTTP request (cli/log.h writes it whole, from any thread). */
static void log_request(void *arg, const char *method, const char *url, long status, int64_t ms,
                        const char *failure)
{
	char safe[ERROR_MAX];

	(void)arg;
	if (status)
		log_msg(LOG_DEBUG, "http: %s %s -> %ld (%lld ms)", method, url, status,
		        (long long)ms);
	else
		log_msg(LOG_DEBUG, "http: %s %s -> no response (%lld ms): %s", method, url,
		        (long long)ms,
		        redact_message(safe, sizeof safe, failure ? failure : "failed",
		                       strlen(failure ? failure : "failed")));
}

int cli_load_config(const struct cli *cli, struct config *cfg)
{
	struct error err = {{0}};
	char **errors = NULL;

	if (config_load_all(cli->config_path, cfg, &errors, &err) < 0) {
		if (errors) {
			size_t n = 0;

			while (errors[n])
				cli_error("%s", errors[n++]);
			cli_error("%zu problem%s in the config file: nothing was done", n,
			          n == 1 ? "" : "s");
		} else {
			cli_error("%s", err.msg);
		}
		config_errors_free(errors);
		return -1;
	}
	for (char **w = cfg->warnings; w && *w; w++)
		cli_warn("%s", *w);
	if (cli->verbose)
		cfg->http_log.request = log_request;
	return 0;
}

int cli_open_store(const struct config *cfg, const char *cmd, enum cli_open_mode mode,
                   struct store **st)
{
	struct error err = {{0}};
	int rc = mode == CLI_READ || mode == CLI_READ_SECRETS
	             ? store_open_readonly(cfg->store_path, cfg->store_group,
	                                   mode == CLI_READ_SECRETS, st, &err)
	             : store_open(cfg->store_path, mode == CLI_CREATE, cfg->store_group, st, &err);

	if (rc < 0) {
		cli_error("%s: %s", cmd, err.msg);
		return -1;
	}
	if (*store_warning(*st))
		cli_warn("%s", store_warning(*st));
	if (store_share_with_group(*st, cfg->store_group, &err) < 0) {
		cli_error("%s: %s", cmd, err.msg);
		store_close(*st);
		*st = NULL;
		return -1;
	}
	return 0;
}

int cli_open(const struct cli *cli, const char *cmd, enum cli_open_mode mode, struct config *cfg,
             struct store **st)
{
	struct error err = {{0}};
	int rc;

	*st = NULL;
	if (cli_load_config(cli, cfg) < 0)
		return EXIT_USAGE;
	if (cli_open_store(cfg, cmd, mode, st) < 0) {
		config_free(cfg);
		return EXIT_USAGE;
	}
	if (mode == CLI_RUN && (rc = store_lock_run(*st, &err)) < 0) {
		cli_error("%s: %s; nothing was done", cmd, err.msg);
		cli_close(cfg, *st);
		return rc == STORE_LOCKED ? EXIT_LOCKED : EXIT_USAGE;
	}
	return EXIT_DONE;
}

void cli_close(struct config *cfg, struct store *st)
{
	store_close(st);
	config_free(cfg);
}

/* ---- problems, grouped by reason ---- */

struct report_ctx {
	const char *cmd;
	int64_t total;
};

static int report_group(void *arg, const struct problem_group *g)
{
	struct report_ctx *r = arg;
	char names[600] = "";
	size_t used = 0;

	for (size_t i = 0; i < g->nitems && used < sizeof names; i++)
		used += (size_t)snprintf(names + used, sizeof names - used, "%s%s %s",
		                         i ? ", " : "", g->mailbox[i], g->leave_id[i]);
	if (g->count > (int64_t)g->nitems && used < sizeof names)
		snprintf(names + used, sizeof names - used, " and %lld more",
		         (long long)(g->count - (int64_t)g->nitems));
	/* failed: an error to fix; waiting and retrying: a warning until it resolves */
	log_msg(strcmp(g->state, "failed") == 0 ? LOG_ERR : LOG_WARNING, "%s: %lld %s %s: %s: %s",
	        r->cmd, (long long)g->count, g->count == 1 ? "item" : "items", g->state, names,
	        g->reason[0] ? g->reason : "(no reason recorded)");
	r->total += g->count;
	return 0;
}

int64_t cli_report_problems(const char *cmd, struct store *st)
{
	struct report_ctx r = {.cmd = cmd};
	struct error err = {{0}};
	int64_t more = 0;

	if (store_problem_groups(st, 20, report_group, &r, &more, &err) < 0) {
		cli_error("%s: %s", cmd, err.msg);
		return -1;
	}
	if (more)
		log_msg(LOG_WARNING,
		        "%s: ... and %lld more reasons (leavesync status --json lists "
		        "them)",
		        cmd, (long long)more);
	if (r.total || more)
		log_msg(LOG_NOTICE,
		        "%s: they are retried by the next runs once the cause is fixed; "
		        "`leavesync status` lists them",
		        cmd);
	return r.total + more;
}

void cli_prune_history(const struct config *cfg, struct store *st)
{
	struct error err = {{0}};
	int64_t pruned;

	if (cfg->keep_history_days <= 0)
		return;
	if (store_prune_history(st, now_unix() - (int64_t)cfg->keep_history_days * 86400, &pruned,
	                        &err) < 0)
		cli_warn("%s", err.msg);
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

void cli_print_json(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (text)
		log_out(LOG_INFO, "%s", text);
	free(text);
	json_decref(v);
}
