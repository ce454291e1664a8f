/* leavesync reconcile: compare calendars with the store, repair drift, report it. */
#include "common/util.h"
#include "cli/cli.h"
#include "common/log.h"
#include "cli/progress.h"
#include "engine/sync.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char reconcile_usage[] =
    "usage: leavesync reconcile [--from DATE] [--to DATE] [--mailbox EMAIL] [--dry-run] [--force]\n"
    "                           [--json]\n"
    "Lists the engine's events in each mailbox (default window: 30 days back to 365 days ahead),\n"
    "compares them with the store and repairs missing, edited, moved, orphaned, duplicated and\n"
    "stuck events. Events leavesync did not create are never touched. --dry-run reports only.\n"
    "A run that would delete more than [sync] delete_share of a mailbox's events stops there\n"
    "and needs --force. Only events of this store's [sync] instance are listed, repaired or\n"
    "deleted.\n"
    "  --from DATE, --to DATE  the window (YYYY-MM-DD)\n"
    "  --mailbox EMAIL         one mailbox only\n"
    "  --dry-run               report only: change nothing\n"
    "  --force                 pass the safety valve\n"
    "  --json                  print one report object (docs/json.md)\n"
    "  --adopt-instance OLD    take over the events of instance OLD (renaming an instance)\n"
    "Exit status: 0 calendars equal the store (nothing failing), 1 drift found by --dry-run,\n"
    "or something not repaired, failing or waiting (listed), 2 bad usage or config, 75\n"
    "another run holds the store.\n";

static int parse_date(const char *s, int64_t *out)
{
	struct tm tm = {0};
	char *end;

	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static const char *const kinds[] = {"missing",    "edited", "moved",   "orphaned",
                                    "duplicated", "stuck",  "unlisted"};

static json_t *report_json(const struct reconcile_report *r, const struct reconcile_options *o,
                           int rc)
{
	json_t *findings = json_array(), *counts = json_object(), *blocked = json_array();
	char from[21], to[21];

	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		json_object_set_new(counts, kinds[k], json_integer(0));
	for (size_t i = 0; i < r->n; i++) {
		const struct finding *f = &r->findings[i];
		json_t *c = json_object_get(counts, f->kind);
		json_array_append_new(
		    findings, json_pack("{s:s, s:s?, s:s, s:s, s:s, s:s?}", "mailbox", f->mailbox,
		                        "leave", f->leave_id, "kind", f->kind, "action", f->action,
		                        "result", f->result, "detail", f->detail));
		if (c)
			json_integer_set(c, json_integer_value(c) + 1);
	}
	for (size_t i = 0; i < r->nblocked; i++)
		json_array_append_new(blocked, json_string(r->blocked[i]));
	format_utc(from, o->from);
	format_utc(to, o->to);
	return json_pack(
	    "{s:i, s:i, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, "
	    "s:I}, s:I}",
	    "schema", 1, "exit_code", rc, "from", from, "to", to, "dry_run", o->dry_run,
	    "mailboxes", (json_int_t)r->mailboxes, "events_listed", (json_int_t)r->listed,
	    "adopted", (json_int_t)r->adopted, "renamed", (json_int_t)r->renamed, "counts", counts,
	    "findings", findings, "blocked", blocked, "repair", "created",
	    (json_int_t)r->sync.stats.created, "updated", (json_int_t)r->sync.stats.updated,
	    "deleted", (json_int_t)r->sync.stats.deleted, "failed",
	    (json_int_t)r->sync.stats.failed, "waiting", (json_int_t)r->sync.stats.waiting,
	    "unrepaired", (json_int_t)r->unrepaired);
}

/* One finding; of many with the same kind and result (an outage, a mailbox gone) the first three
 * are shown, then how many more there are. */
static void print_finding(const struct reconcile_report *r, size_t i)
{
	const struct finding *f = &r->findings[i];
	size_t same = 0, total;

	for (size_t j = 0; j < i; j++)
		same += !strcmp(r->findings[j].kind, f->kind) &&
		        !strcmp(r->findings[j].result, f->result);
	if (same < 3) {
		printf("  %-10s %s %s: %s -> %s%s%s\n", f->kind, f->mailbox,
		       f->leave_id ? f->leave_id : "(no leave)", f->action, f->result,
		       f->detail && *f->detail ? " — " : "", f->detail ? f->detail : "");
		return;
	}
	if (same > 3)
		return;
	total = same + 1;
	for (size_t j = i + 1; j < r->n; j++)
		total += !strcmp(r->findings[j].kind, f->kind) &&
		         !strcmp(r->findings[j].result, f->result);
	printf("  ... and %zu more %s with the same result (--json lists each)\n", total - 3,
	       f->kind);
}

/* A table per kind and mailbox, then each finding. */
static void print_human(const struct reconcile_report *r, const struct reconcile_options *o)
{
	printf("reconcile: %lld mailboxes, %lld tagged events listed, %lld adopted%s\n",
	       (long long)r->mailboxes, (long long)r->listed, (long long)(r->adopted + r->renamed),
	       o->dry_run ? " (dry run: nothing changed)" : "");
	if (o->adopt_instance)
		printf(
		    "reconcile: instance %s adopted: %lld keys in the store and %lld events moved "
		    "to this instance (their tags are rewritten)\n",
		    o->adopt_instance, (long long)r->rekeyed, (long long)r->renamed);
	if (r->n == 0) {
		printf("reconcile: no drift\n");
	} else {
		printf("\n%-12s %-32s %s\n", "kind", "mailbox", "count");
		for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
			for (size_t i = 0; i < r->n; i++) {
				size_t count = 0;
				bool first = true;
				if (strcmp(r->findings[i].kind, kinds[k]) != 0)
					continue;
				for (size_t j = 0; j < i && first; j++)
					first =
					    strcmp(r->findings[j].kind, kinds[k]) ||
					    strcmp(r->findings[j].mailbox, r->findings[i].mailbox);
				if (!first)
					continue;
				for (size_t j = i; j < r->n; j++)
					count +=
					    !strcmp(r->findings[j].kind, kinds[k]) &&
					    !strcmp(r->findings[j].mailbox, r->findings[i].mailbox);
				printf("%-12s %-32s %zu\n", kinds[k], r->findings[i].mailbox,
				       count);
			}
		}
		printf("\n");
		for (size_t i = 0; i < r->n; i++)
			print_finding(r, i);
	}
	for (size_t i = 0; i < r->nblocked; i++)
		log_msg(LOG_WARNING, "reconcile: safety valve: %s", r->blocked[i]);
}

struct reconcile_args {
	struct reconcile_options opt;
	bool json;
};

static int parse_args(int argc, char **argv, struct reconcile_args *a)
{
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
	                                     {"to", required_argument, NULL, 't'},
	                                     {"mailbox", required_argument, NULL, 'm'},
	                                     {"dry-run", no_argument, NULL, 'n'},
	                                     {"force", no_argument, NULL, 'F'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {"adopt-instance", required_argument, NULL, 'A'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	a->opt.from = now_unix() - 30 * 86400;
	a->opt.to = now_unix() + 365 * 86400;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
		case 't':
			if (parse_date(optarg, c == 'f' ? &a->opt.from : &a->opt.to) < 0) {
				cli_error("reconcile: --%s %s: expected a date YYYY-MM-DD",
				          c == 'f' ? "from" : "to", optarg);
				return -1;
			}
			break;
		case 'm':
			for (char *p = optarg; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
			a->opt.mailbox = optarg;
			break;
		case 'n':
			a->opt.dry_run = true;
			break;
		case 'F':
			a->opt.force = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'A':
			for (char *p = optarg; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
			if (!*optarg || strlen(optarg) > 32 ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
			        strlen(optarg)) {
				cli_error(
				    "reconcile: --adopt-instance %s: expected an instance name "
				    "(letters, digits, '-')",
				    optarg);
				return -1;
			}
			a->opt.adopt_instance = optarg;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc || a->opt.from >= a->opt.to) {
		if (a->opt.from >= a->opt.to)
			cli_error("reconcile: --from must be before --to");
		return -1;
	}
	if (a->opt.adopt_instance && a->opt.dry_run) {
		cli_error("reconcile: --adopt-instance changes the store and cannot be a dry run");
		return -1;
	}
	return 0;
}

int cmd_reconcile(const struct cli *cli, int argc, char **argv)
{
	struct reconcile_args a;
	struct reconcile_report r;
	struct progress prog;
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	int64_t started = now_unix();
	int rc;

	memset(&a, 0, sizeof a);
	memset(&r, 0, sizeof r);
	if (cli_wants_help(argc, argv, reconcile_usage))
		return EXIT_DONE;
	if (parse_args(argc, argv, &a) < 0) {
		fputs(reconcile_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "reconcile", CLI_RUN, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (!a.opt.dry_run && store_run_begin(st, "reconcile", &a.opt.run_id, &err) < 0)
		cli_warn("could not record the run: %s", err.msg);
	progress_init(&prog, "reconcile");
	a.opt.progress.update = progress_update;
	a.opt.progress.arg = &prog;
	rc = reconcile_run(&cfg, st, &a.opt, &r, &err);
	progress_finish(&prog);
	if (rc < 0) {
		cli_error("reconcile: %s", err.msg);
		rc = r.sync.config_error ? EXIT_USAGE : EXIT_PARTIAL;
	} else {
		if (!a.json && (!cli->quiet || r.unrepaired || (a.opt.dry_run && r.n)))
			print_human(&r, &a.opt);
		for (size_t i = 0; a.json && i < r.nblocked; i++)
			log_msg(LOG_WARNING, "reconcile: safety valve: %s", r.blocked[i]);
		/* a dry run that found drift answers "not equal" (1); a real run, what it could not
		 * repair; both, the targets still failing or waiting (named again on every run) */
		rc = (r.unrepaired || r.nblocked || r.sync.stats.failed || r.sync.stats.waiting ||
		      (a.opt.dry_run && r.n))
		         ? EXIT_PARTIAL
		         : EXIT_DONE;
		if (cli_report_problems("reconcile", st) != 0)
			rc = EXIT_PARTIAL;
		if (a.json)
			cli_print_json(report_json(&r, &a.opt, rc));
	}
	if (a.opt.run_id) {
		struct run_record rec = {.id = a.opt.run_id, .command = "reconcile"};
		char summary[200];
		snprintf(summary, sizeof summary, "%zu findings, %lld unrepaired, %zu blocked", r.n,
		         (long long)r.unrepaired, r.nblocked);
		rec.started_at = started;
		rec.finished_at = now_unix();
		rec.exit_code = rc;
		sync_stats_to_run(&r.sync.stats, &rec);
		rec.summary = summary;
		if (store_run_end(st, &rec, &err) < 0)
			cli_warn("could not record the run: %s", err.msg);
	}
	if (!a.opt.dry_run)
		cli_prune_history(&cfg, st);
	reconcile_report_free(&r);
	cli_close(&cfg, st);
	return rc;
}
