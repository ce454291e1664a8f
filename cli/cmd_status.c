/* leavesync status [--json]: counts by state, failures with reasons, connections, recent runs. */
#include "common/redact.h"
#include "common/util.h"
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char status_usage[] =
    "usage: leavesync status [--json]\n"
    "Shows targets by state, failures and waiting items with their reasons, delegated\n"
    "connections that need a new login, and the last runs. --json output is stable.\n";

#define PROBLEM_LIMIT 50
#define RUN_LIMIT 5

struct status_data {
	struct state_counts counts;
	json_t *problems;       /* array */
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
	d->connections = json_array();
	d->runs = json_array();
	if (store_state_counts(st, &d->counts, err) < 0 ||
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
	return json_pack("{s:I, s:o, s:I, s:O, s:O, s:O, s:O}", "leaves",
	                 (json_int_t)d->counts.leaves, "targets", states, "queued",
	                 (json_int_t)d->counts.dirty, "problems", d->problems, "connections",
	                 d->connections, "runs", d->runs, "last_reconcile", d->last_reconcile);
}

static void print_human(const struct status_data *d)
{
	size_t i;
	json_t *v;

	printf("leave entries: %lld\ntargets:", (long long)d->counts.leaves);
	for (int s = TS_PENDING; s <= TS_WAITING; s++)
		printf(" %s %lld%s", target_state_name((enum target_state)s),
		       (long long)d->counts.by_state[s], s < TS_WAITING ? "," : "\n");
	printf("queued for the next sync: %lld\n", (long long)d->counts.dirty);
	if (json_array_size(d->problems))
		printf("\nfailed or waiting (first %d):\n", PROBLEM_LIMIT);
	json_array_foreach(d->problems, i, v) printf(
	    "  %s %s: %s (%lld attempts): %s\n", json_string_value(json_object_get(v, "mailbox")),
	    json_string_value(json_object_get(v, "leave")),
	    json_string_value(json_object_get(v, "state")),
	    (long long)json_integer_value(json_object_get(v, "attempts")),
	    json_string_value(json_object_get(v, "reason")) ?: "");
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

int cmd_status(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct status_data d = {0};
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	bool json = false;
	int c, rc = EXIT_DONE;

	if (cli_wants_help(argc, argv, status_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			fputs(status_usage, stderr);
			return EXIT_USAGE;
		}
		json = true;
	}
	if (optind < argc) {
		fputs(status_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "status", CLI_READ, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (gather(st, &d, &err) < 0) {
		cli_error("status: %s", err.msg);
		rc = EXIT_USAGE;
	} else if (json) {
		json_t *j = status_json(&d);
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		print_human(&d);
	}
	json_decref(d.problems);
	json_decref(d.connections);
	json_decref(d.runs);
	json_decref(d.last_reconcile);
	cli_close(&cfg, st);
	return rc;
}
