/* leavesync sync, leavesync resync. */
#include "common/util.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "engine/sync.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char sync_usage[] =
    "usage: leavesync sync [--force]\n"
    "Writes pending changes (new, changed and cancelled leave) to the calendars.\n"
    "A run that would delete more than [sync] delete_share of a mailbox's events deletes\n"
    "nothing there and needs --force. With [sync] run_deadline, a run stops when it is\n"
    "reached and leaves the rest queued (exit 1).\n"
    "Exit status: 0 all done, 1 some items failed or wait (listed), 2 bad usage or config.\n";

static const char resync_usage[] =
    "usage: leavesync resync (--all | --mailbox EMAIL | --leave ID) [--force]\n"
    "Re-renders and rewrites those events even if they are believed current.\n";

static void print_summary(const char *cmd, const struct sync_result *r, int64_t ms)
{
	const struct sync_stats *s = &r->stats;

	printf("%s: %lld created, %lld updated, %lld deleted, %lld adopted, %lld unchanged, "
	       "%lld failed, %lld waiting (%.1f s)\n",
	       cmd, (long long)s->created, (long long)s->updated, (long long)s->deleted,
	       (long long)s->adopted, (long long)s->unchanged, (long long)s->failed,
	       (long long)s->waiting, (double)ms / 1000.0);
	/* One line per item, but a reason shared by many items (a mailbox that does not exist, an
	 * outage) is shown three times and counted, not repeated a hundred times. */
	for (size_t i = 0; i < r->nkept; i++) {
		size_t same = 0;
		for (size_t j = 0; j < i; j++)
			same += strcmp(r->problems[j].message, r->problems[i].message) == 0;
		if (same < 3)
			fprintf(stderr, "%s: %s %s: %s: %s\n", cmd, r->problems[i].mailbox,
			        r->problems[i].leave_id, r->problems[i].state,
			        r->problems[i].message);
		else if (same == 3) {
			size_t total = same + 1;
			for (size_t j = i + 1; j < r->nkept; j++)
				total +=
				    strcmp(r->problems[j].message, r->problems[i].message) == 0;
			fprintf(stderr, "%s: ... %zu more items with the same reason\n", cmd,
			        total - 3);
		}
	}
	if (r->nproblems > r->nkept)
		fprintf(stderr, "%s: ... and %zu more (see leavesync status)\n", cmd,
		        r->nproblems - r->nkept);
	for (size_t i = 0; i < r->nblocked; i++)
		fprintf(stderr, "%s: safety valve: %s\n", cmd, r->blocked[i]);
	if (s->deferred) {
		char when[21];
		format_utc(when, s->deferred_until);
		fprintf(stderr,
		        "%s: %lld item%s wait for a retry (the next from %s); a later run "
		        "writes them (leavesync status lists the reasons)\n",
		        cmd, (long long)s->deferred, s->deferred == 1 ? "" : "s", when);
	}
}

static int record_run(struct store *st, int64_t run_id, const char *cmd, int64_t started,
                      const struct sync_result *r, int exit_code)
{
	struct run_record rec = {0};
	struct error err = {{0}};
	char summary[256];

	snprintf(summary, sizeof summary, "%lld created, %lld updated, %lld deleted, %lld failed%s",
	         (long long)r->stats.created, (long long)r->stats.updated,
	         (long long)r->stats.deleted, (long long)r->stats.failed,
	         r->deadline_hit ? ", stopped at the run deadline" : "");
	rec.id = run_id;
	rec.command = (char *)cmd;
	rec.started_at = started;
	rec.finished_at = now_unix();
	rec.exit_code = exit_code;
	rec.created = r->stats.created;
	rec.updated = r->stats.updated;
	rec.deleted = r->stats.deleted;
	rec.adopted = r->stats.adopted;
	rec.unchanged = r->stats.unchanged;
	rec.failed = r->stats.failed;
	rec.waiting = r->stats.waiting;
	rec.summary = summary;
	if (store_run_end(st, &rec, &err) < 0) {
		cli_warn("could not record the run: %s", err.msg);
		return -1;
	}
	return 0;
}

/* Shared by sync and resync: lock, run, print, record. */
static int run_sync(const struct cli *cli, const char *cmd, struct sync_options *opt)
{
	struct sync_result r;
	struct progress prog;
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	int64_t started = now_unix(), t0 = now_ms(), run_id = 0;
	int rc;

	if ((rc = cli_open(cli, cmd, CLI_RUN, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (store_run_begin(st, cmd, &run_id, &err) < 0)
		cli_warn("could not record the run: %s", err.msg);
	progress_init(&prog, cmd);
	opt->progress.update = progress_update;
	opt->progress.arg = &prog;
	opt->run_id = run_id;
	if (cfg.run_deadline > 0) /* counted from the start, the config read and the store open */
		opt->deadline_ms = t0 + (int64_t)cfg.run_deadline * 1000;
	rc = sync_run(&cfg, st, opt, &r, &err);
	progress_finish(&prog);
	if (rc < 0) {
		cli_error("%s: %s", cmd, err.msg);
		rc = r.config_error ? EXIT_USAGE : EXIT_PARTIAL;
	} else {
		if (!cli->quiet || r.nproblems || r.nblocked || r.stats.deferred || r.deadline_hit)
			print_summary(cmd, &r, now_ms() - t0);
		if (r.deadline_hit)
			fprintf(stderr,
			        "%s: stopped at the run deadline ([sync] run_deadline = %d s): "
			        "what was "
			        "written is recorded; %lld item%s queued for the next run\n",
			        cmd, cfg.run_deadline, (long long)r.stats.stopped,
			        r.stats.stopped == 1 ? " stays" : "s stay");
		rc = (r.stats.failed || r.stats.waiting || r.nblocked || r.stats.deferred ||
		      r.deadline_hit)
		         ? EXIT_PARTIAL
		         : EXIT_DONE;
	}
	if (run_id)
		record_run(st, run_id, cmd, started, &r, rc);
	sync_result_free(&r);
	cli_close(&cfg, st);
	return rc;
}

int cmd_sync(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'F'}, {NULL, 0, NULL, 0}};
	struct sync_options opt = {0};
	int c;

	if (cli_wants_help(argc, argv, sync_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'F') {
			fputs(sync_usage, stderr);
			return EXIT_USAGE;
		}
		opt.force = true;
	}
	if (optind < argc) {
		fputs(sync_usage, stderr);
		return EXIT_USAGE;
	}
	return run_sync(cli, "sync", &opt);
}

static char *lower_case(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	return s;
}

int cmd_resync(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
	                                     {"mailbox", required_argument, NULL, 'm'},
	                                     {"leave", required_argument, NULL, 'l'},
	                                     {"force", no_argument, NULL, 'F'},
	                                     {NULL, 0, NULL, 0}};
	struct sync_options opt = {0};
	int c, chosen = 0;

	if (cli_wants_help(argc, argv, resync_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F') {
			opt.force = true;
			continue;
		}
		chosen++;
		if (c == 'a')
			opt.resync_all = true;
		else if (c == 'm')
			opt.resync_mailbox = lower_case(optarg);
		else if (c == 'l')
			opt.resync_leave = optarg;
		else
			chosen = 99;
	}
	if (chosen != 1 || optind < argc) {
		fputs(resync_usage, stderr);
		return EXIT_USAGE;
	}
	return run_sync(cli, "resync", &opt);
}
