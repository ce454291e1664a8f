/* leavesync status [--json | --check]: counts by state, failures with reasons, connections, recent
 * runs; --check: one line and a Nagios/Icinga plugin exit status for monitors. */
#include "common/redact.h"
#include "common/util.h"
#include "cli/cli.h"
#include "common/log.h"
#include "engine/notices.h"

#include "common/buf.h"

#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char status_usage[] =
    "usage: leavesync status [--json | --check]\n"
    "Shows leave waiting to be rendered, targets by state, failures and waiting items with\n"
    "their reasons, delegated connections that need a new login, and the last runs.\n"
    "  --json   print one object (docs/json.md)\n"
    "  --check  print one line for a monitor (Nagios/Icinga plugin format) and exit\n"
    "           0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
    "Exit status: 0 (also with failures: status only reports), 2 the store cannot be read.\n";

#define PROBLEM_LIMIT 50
#define RUN_LIMIT 5

struct status_data {
	struct state_counts counts;
	json_t *problems; /* array */
	json_t *groups;   /* array: problems by reason */
	int64_t more_groups;
	json_t *connections;    /* array */
	json_t *runs;           /* array */
	json_t *last_reconcile; /* object or null */
};

/* Reasons quote servers, and the store may hold text from before the filter or from SQL: both
 * outputs get it through common/redact.h. NULL stays NULL. */
static char *safe(const char *s)
{
	return s ? redact_message_dup(s, 2 * ERROR_MAX) : NULL;
}

static int add_problem(void *arg, const struct target *t)
{
	char *reason = safe(t->last_error);

	json_array_append_new((json_t *)arg,
	                      json_pack("{s:s, s:s, s:s, s:i, s:s?}", "mailbox", t->mailbox,
	                                "leave", t->leave_id, "state", target_state_name(t->state),
	                                "attempts", t->attempts, "reason", reason));
	free(reason);
	return 0;
}

static int add_group(void *arg, const struct problem_group *g)
{
	json_t *items = json_array();
	char *reason = safe(g->reason);

	for (size_t i = 0; i < g->nitems; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "mailbox", g->mailbox[i],
		                                       "leave", g->leave_id[i]));
	json_array_append_new((json_t *)arg, json_pack("{s:s, s:s, s:I, s:o}", "state", g->state,
	                                               "reason", reason ? reason : "", "count",
	                                               (json_int_t)g->count, "items", items));
	free(reason);
	return 0;
}

static int add_connection(void *arg, const struct connection *c)
{
	char *reason = safe(c->reason), *user = safe(c->user);

	json_array_append_new((json_t *)arg,
	                      json_pack("{s:s, s:s?, s:b, s:s?, s:s?}", "mailbox", c->mailbox,
	                                "user", user, "needs_login", c->needs_login, "reason",
	                                reason, "updated_at", c->updated_at));
	free(reason);
	free(user);
	return 0;
}

static json_t *run_json(const struct run_record *r)
{
	char started[21], finished[21];

	format_utc(started, r->started_at);
	format_utc(finished, r->finished_at ? r->finished_at : r->started_at);
	return json_pack("{s:I, s:s, s:s, s:s?, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s?}", "id",
	                 (json_int_t)r->id, "command", r->command, "started_at", started,
	                 "finished_at", r->finished_at ? finished : NULL, "exit_code", r->exit_code,
	                 "created", (json_int_t)r->created, "updated", (json_int_t)r->updated,
	                 "deleted", (json_int_t)r->deleted, "adopted", (json_int_t)r->adopted,
	                 "failed", (json_int_t)r->failed, "waiting", (json_int_t)r->waiting,
	                 "summary", r->summary);
}

static int gather(struct store *st, struct status_data *d, struct error *err)
{
	struct run_record *runs = NULL;
	size_t nruns = 0;

	d->problems = json_array();
	d->groups = json_array();
	d->connections = json_array();
	d->runs = json_array();
	if (store_state_counts(st, &d->counts, err) < 0 ||
	    store_problem_groups(st, 20, add_group, d->groups, &d->more_groups, err) < 0 ||
	    store_each_problem_target(st, PROBLEM_LIMIT, add_problem, d->problems, err) < 0 ||
	    store_each_connection(st, add_connection, d->connections, err) < 0 ||
	    store_recent_runs(st, NULL, RUN_LIMIT, &runs, &nruns, err) < 0)
		return -1;
	for (size_t i = 0; i < nruns; i++) {
		json_array_append_new(d->runs, run_json(&runs[i]));
		run_record_free(&runs[i]);
	}
	free(runs);
	runs = NULL;
	if (store_recent_runs(st, "reconcile", 1, &runs, &nruns, err) < 0)
		return -1;
	d->last_reconcile = nruns ? run_json(&runs[0]) : json_null();
	for (size_t i = 0; i < nruns; i++)
		run_record_free(&runs[i]);
	free(runs);
	return 0;
}

static json_t *status_json(const struct status_data *d)
{
	json_t *states = json_object();

	for (int s = TS_PENDING; s <= TS_WAITING; s++)
		json_object_set_new(states, target_state_name((enum target_state)s),
		                    json_integer(d->counts.by_state[s]));
	return json_pack(
	    "{s:i, s:I, s:I, s:o, s:I, s:O, s:O, s:I, s:O, s:O, s:O}", "schema", 1, "leaves",
	    (json_int_t)d->counts.leaves, "unrendered", (json_int_t)d->counts.unrendered, "targets",
	    states, "queued", (json_int_t)d->counts.dirty, "problems", d->problems,
	    "problem_groups", d->groups, "more_problem_groups", (json_int_t)d->more_groups,
	    "connections", d->connections, "runs", d->runs, "last_reconcile", d->last_reconcile);
}

static void print_human(const struct status_data *d)
{
	size_t i;
	json_t *v;

	printf("leave entries: %lld\ntargets:", (long long)d->counts.leaves);
	for (int s = TS_PENDING; s <= TS_WAITING; s++)
		printf(" %s %lld%s", target_state_name((enum target_state)s),
		       (long long)d->counts.by_state[s], s < TS_WAITING ? "," : "\n");
	printf("waiting to be rendered (changed leave, next sync): %lld\n",
	       (long long)d->counts.unrendered);
	printf("queued for the next sync: %lld\n", (long long)d->counts.dirty);
	/* grouped by reason: a reason shared by a thousand items is one line, naming three */
	if (json_array_size(d->groups))
		printf("\nfailed, waiting or retrying, by reason:\n");
	json_array_foreach(d->groups, i, v)
	{
		json_t *items = json_object_get(v, "items"), *it;
		long long count = (long long)json_integer_value(json_object_get(v, "count"));
		size_t k;

		printf("  %lld %s:", count, json_string_value(json_object_get(v, "state")));
		json_array_foreach(items, k, it) printf(
		    "%s %s %s", k ? "," : "", json_string_value(json_object_get(it, "mailbox")),
		    json_string_value(json_object_get(it, "leave")));
		if (count > (long long)json_array_size(items))
			printf(" and %lld more", count - (long long)json_array_size(items));
		printf(": %s\n", json_string_value(json_object_get(v, "reason")));
	}
	if (d->more_groups)
		printf("  ... and %lld more reasons (--json lists the first %d items)\n",
		       (long long)d->more_groups, PROBLEM_LIMIT);
	json_array_foreach(d->connections, i,
	                   v) if (json_is_true(json_object_get(v, "needs_login")))
	    printf("  %s: needs login: %s (run: leavesync auth login --mailbox %s)\n",
	           json_string_value(json_object_get(v, "mailbox")),
	           json_string_value(json_object_get(v, "reason")) ?: "",
	           json_string_value(json_object_get(v, "mailbox")));
	if (json_is_object(d->last_reconcile))
		printf(
		    "last reconcile: %s, exit %lld: %s\n",
		    json_string_value(json_object_get(d->last_reconcile, "started_at")),
		    (long long)json_integer_value(json_object_get(d->last_reconcile, "exit_code")),
		    json_string_value(json_object_get(d->last_reconcile, "summary"))
		        ?: "(running or interrupted)");
	else
		printf("last reconcile: never\n");
	if (json_array_size(d->runs))
		printf("\nrecent runs:\n");
	json_array_foreach(d->runs, i, v)
	    printf("  %s %-9s exit %lld: %s\n", json_string_value(json_object_get(v, "started_at")),
	           json_string_value(json_object_get(v, "command")),
	           (long long)json_integer_value(json_object_get(v, "exit_code")),
	           json_string_value(json_object_get(v, "summary")) ?: "(running or interrupted)");
}

/* ---- --check: one line, plugin exit status ---- */

enum { CHECK_OK, CHECK_WARNING, CHECK_CRITICAL, CHECK_UNKNOWN };

struct check {
	int state;
	struct buf text;
};

static void check_add(struct check *c, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check_add(struct check *c, int state, const char *fmt, ...)
{
	va_list ap;

	if (state > c->state)
		c->state = state;
	if (c->text.len)
		buf_puts(&c->text, "; ");
	va_start(ap, fmt);
	buf_vprintf(&c->text, fmt, ap);
	va_end(ap);
}

/* A plugin reads one line: "SERVICE STATE - text | perfdata" (Nagios Plugin Development
 * Guidelines, "Plugin Output"; Icinga's monitoring-plugins docs use the same format). */
static int check_print(struct check *c, const char *perf)
{
	static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
	char *text = c->text.data ? c->text.data : "";

	for (char *p = text; *p; p++)
		if (*p == '\n' || *p == '|')
			*p = *p == '|' ? '/' : ' '; /* one line; '|' would start the perfdata */
	log_out(LOG_INFO, "LEAVESYNC %s - %s%s%s", names[c->state], text, perf ? " | " : "",
	        perf ? perf : "");
	buf_free(&c->text);
	return c->state;
}

static int check_unknown(const char *what, const char *msg)
{
	struct check c = {.text = BUF_INIT};
	char first[300];

	snprintf(first, sizeof first, "%.*s", (int)strcspn(msg, "\n"), msg);
	check_add(&c, CHECK_UNKNOWN, "%s: %s", what, first);
	return check_print(&c, NULL);
}

static int first_problem(void *arg, const struct problem_group *g)
{
	char *reason = safe(g->reason);

	snprintf((char *)arg, 300, "%s: %s %s: %.200s", g->state, g->mailbox[0], g->leave_id[0],
	         reason ? reason : "");
	free(reason);
	return 1;
}

static void check_health(struct check *c, const struct config *cfg, struct store *st,
                         const struct store_health *h)
{
	struct notice notices[4];
	char first[300] = "";
	int64_t more, now = now_unix();
	struct error err = {{0}};
	size_t n = notices_due(cfg, now, notices, 4);

	if (h->failed || h->waiting)
		store_problem_groups(st, 1, first_problem, first, &more, &err);
	if (h->failed)
		check_add(c, CHECK_CRITICAL, "%lld failed", (long long)h->failed);
	if (h->waiting > h->needs_login)
		check_add(c, CHECK_CRITICAL, "%lld blocked by the setup",
		          (long long)(h->waiting - h->needs_login));
	if (h->needs_login)
		check_add(c, CHECK_WARNING, "%lld waiting for a login (leavesync auth login)",
		          (long long)h->needs_login);
	if (h->retrying)
		check_add(c, CHECK_WARNING, "%lld retrying", (long long)h->retrying);
	if (first[0])
		check_add(c, CHECK_OK, "first: %s", first);
	if (h->last_exit >= 2)
		check_add(c, CHECK_CRITICAL, "the last run exited %d", h->last_exit);
	if (cfg->stale_after > 0 && !h->last_success)
		check_add(c, CHECK_CRITICAL, "no sync has run to its end yet (stale_after %lld s)",
		          (long long)cfg->stale_after);
	else if (cfg->stale_after > 0 && now - h->last_success > cfg->stale_after)
		check_add(c, CHECK_CRITICAL, "no successful sync for %lld min (stale_after %lld s)",
		          (long long)((now - h->last_success) / 60), (long long)cfg->stale_after);
	for (size_t i = 0; i < n; i++)
		check_add(c, notices[i].past ? CHECK_CRITICAL : CHECK_WARNING, "%s",
		          notices[i].text);
	if (!c->text.len)
		check_add(c, CHECK_OK, "%lld events synced, nothing failing", (long long)h->synced);
}

static int run_check(const struct cli *cli)
{
	struct check c = {.text = BUF_INIT};
	struct store_health h;
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	char perf[400];
	int64_t age;

	/* no other output than the one line: problems become UNKNOWN */
	if (config_load(cli->config_path, &cfg, &err) < 0)
		return check_unknown("config", err.msg);
	if (store_open_readonly(cfg.store_path, cfg.store_group, true, &st, &err) < 0) {
		config_free(&cfg);
		return check_unknown("store", err.msg);
	}
	if (store_health(st, &h, &err) < 0) {
		cli_close(&cfg, st);
		return check_unknown("store", err.msg);
	}
	check_health(&c, &cfg, st, &h);
	age = h.last_success ? now_unix() - h.last_success : -1;
	snprintf(perf, sizeof perf,
	         "synced=%lld;;;0 failed=%lld;;1;0 waiting=%lld;1;;0 retrying=%lld;1;;0 "
	         "queued=%lld;;;0 unrendered=%lld;;;0",
	         (long long)h.synced, (long long)h.failed, (long long)h.waiting,
	         (long long)h.retrying, (long long)h.queued, (long long)h.unrendered);
	if (age >= 0 && cfg.stale_after > 0)
		snprintf(perf + strlen(perf), sizeof perf - strlen(perf),
		         " last_success_age=%llds;;%lld;0", (long long)age,
		         (long long)cfg.stale_after);
	else if (age >= 0)
		snprintf(perf + strlen(perf), sizeof perf - strlen(perf),
		         " last_success_age=%llds;;;0", (long long)age);
	cli_close(&cfg, st);
	return check_print(&c, perf);
}

int cmd_status(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"check", no_argument, NULL, 'k'},
	                                     {NULL, 0, NULL, 0}};
	struct status_data d = {0};
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	bool json = false, check = false;
	int c, rc = EXIT_DONE;

	if (cli_wants_help(argc, argv, status_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
		} else if (c == 'k') {
			check = true;
		} else {
			fputs(status_usage, stderr);
			return check ? CHECK_UNKNOWN : EXIT_USAGE;
		}
	}
	if (optind < argc || (json && check)) {
		fputs(status_usage, stderr);
		return check ? CHECK_UNKNOWN : EXIT_USAGE;
	}
	if (check)
		return run_check(cli);
	if ((rc = cli_open(cli, "status", CLI_READ_SECRETS, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (gather(st, &d, &err) < 0) {
		cli_error("status: %s", err.msg);
		rc = EXIT_USAGE;
	} else if (json) {
		cli_print_json(status_json(&d));
	} else {
		print_human(&d);
	}
	json_decref(d.problems);
	json_decref(d.groups);
	json_decref(d.connections);
	json_decref(d.runs);
	json_decref(d.last_reconcile);
	cli_close(&cfg, st);
	return rc;
}
