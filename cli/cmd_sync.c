/* leavesync sync, leavesync resync. */
#include "common/util.h"
#include "cli/cli.h"
#include "common/log.h"
#include "cli/progress.h"
#include "engine/notices.h"
#include "engine/sync.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char sync_usage[] =
    "usage: leavesync sync [--force] [--json]\n"
    "Writes pending changes (new, changed and cancelled leave) to the calendars.\n"
    "A run that would delete more than [sync] delete_share of a mailbox's events deletes\n"
    "nothing there and needs --force. With [sync] run_deadline, a run stops when it is\n"
    "reached and leaves the rest queued (exit 1).\n"
    "  --force  pass the safety valve\n"
    "  --json   print one summary object (docs/json.md)\n"
    "Exit status: 0 all done and nothing failing, 1 some items failed or wait (listed on\n"
    "every run as long as they do), 2 bad usage or config, 75 another run holds the store.\n";

static const char resync_usage[] =
    "usage: leavesync resync (--all | --mailbox EMAIL | --leave ID) [--force] [--json]\n"
    "Re-renders and rewrites those events even if they are believed current.\n"
    "  --all            every leave\n"
    "  --mailbox EMAIL  the leave of one mailbox (exit 2 when the store has none)\n"
    "  --leave ID       one leave (exit 2 when the store does not know it)\n"
    "  --force          pass the safety valve\n"
    "  --json           print one summary object (docs/json.md)\n"
    "Exit status: as sync.\n";

/* The JSON form of the groups cli_report_problems prints. */
static int group_json(void *arg, const struct problem_group *g)
{
	json_t *items = json_array();

	for (size_t i = 0; i < g->nitems; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "mailbox", g->mailbox[i],
		                                       "leave", g->leave_id[i]));
	json_array_append_new((json_t *)arg,
	                      json_pack("{s:s, s:s, s:I, s:o}", "state", g->state, "reason",
	                                g->reason, "count", (json_int_t)g->count, "items", items));
	return 0;
}

static void print_json(const char *cmd, struct store *st, const struct sync_result *r, int rc,
                       int64_t ms)
{
	const struct sync_stats *s = &r->stats;
	json_t *problems = json_array(), *blocked = json_array();
	struct error err = {{0}};
	char when[21];
	int64_t more = 0;

	if (store_problem_groups(st, 100, group_json, problems, &more, &err) < 0)
		cli_error("%s: %s", cmd, err.msg);
	for (size_t i = 0; i < r->nblocked; i++)
		json_array_append_new(blocked, json_string(r->blocked[i]));
	format_utc(when, s->deferred_until);
	cli_print_json(
	    json_pack("{s:i, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s?, s:b, "
	              "s:I, s:o, s:I, "
	              "s:o}",
	              "schema", 1, "command", cmd, "exit_code", rc, "duration_ms", (json_int_t)ms,
	              "created", (json_int_t)s->created, "updated", (json_int_t)s->updated,
	              "deleted", (json_int_t)s->deleted, "adopted", (json_int_t)s->adopted,
	              "unchanged", (json_int_t)s->unchanged, "failed", (json_int_t)s->failed,
	              "waiting", (json_int_t)s->waiting, "deferred", (json_int_t)s->deferred,
	              "next_retry", s->deferred ? when : NULL, "deadline_hit", r->deadline_hit,
	              "stopped", (json_int_t)s->stopped, "problems", problems,
	              "more_problem_groups", (json_int_t)more, "blocked", blocked));
}

static void print_summary(const char *cmd, const struct sync_result *r, int64_t ms)
{
	const struct sync_stats *s = &r->stats;

	log_out(LOG_INFO,
	        "%s: %lld created, %lld updated, %lld deleted, %lld adopted, %lld unchanged, "
	        "%lld failed, %lld waiting (%.1f s)",
	        cmd, (long long)s->created, (long long)s->updated, (long long)s->deleted,
	        (long long)s->adopted, (long long)s->unchanged, (long long)s->failed,
	        (long long)s->waiting, (double)ms / 1000.0);
}

/* What still stands in the way, on stderr, on every run: blocked deletions, retries not yet
 * due, and (grouped) every target that failed or waits. Returns true when anything does. */
static bool report_open_work(const char *cmd, struct store *st, const struct sync_result *r)
{
	const struct sync_stats *s = &r->stats;
	int64_t problems;

	for (size_t i = 0; i < r->nblocked; i++)
		log_msg(LOG_WARNING, "%s: safety valve: %s", cmd, r->blocked[i]);
	if (s->deferred) {
		char when[21];

		format_utc(when, s->deferred_until);
		log_msg(LOG_WARNING,
		        "%s: %lld item%s wait for a retry (the next from %s); a later run writes "
		        "them",
		        cmd, (long long)s->deferred, s->deferred == 1 ? "" : "s", when);
	}
	problems = cli_report_problems(cmd, st);
	return problems != 0 || r->nblocked || s->deferred;
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
	sync_stats_to_run(&r->stats, &rec);
	rec.summary = summary;
	if (store_run_end(st, &rec, &err) < 0) {
		cli_warn("could not record the run: %s", err.msg);
		return -1;
	}
	return 0;
}

/* resync --leave / --mailbox must name something the store knows: a typo is a usage error (2),
 * not a run that rewrote nothing and reported success. */
static int check_resync_target(struct store *st, const struct sync_options *opt)
{
	struct error err = {{0}};
	bool known;

	if (!opt->resync_leave && !opt->resync_mailbox)
		return EXIT_DONE;
	if (store_resync_known(st, opt->resync_leave, opt->resync_mailbox, &known, &err) < 0) {
		cli_error("resync: %s", err.msg);
		return EXIT_USAGE;
	}
	if (known)
		return EXIT_DONE;
	if (opt->resync_leave)
		cli_error(
		    "resync: no leave %s in the store (leavesync status counts what it holds); "
		    "nothing was done",
		    opt->resync_leave);
	else
		cli_error("resync: no leave of mailbox %s in the store; nothing was done",
		          opt->resync_mailbox);
	return EXIT_USAGE;
}

/* An expiring secret or certificate, EWS nearing its end on Exchange Online: said at most once a
 * day (the store remembers when), so that a timer every five minutes does not flood the log. */
static void say_notices(const char *cmd, const struct config *cfg, struct store *st)
{
	struct notice notices[4];
	struct error err = {{0}};
	int64_t now = now_unix();
	size_t n = notices_due(cfg, now, notices, 4);
	bool due;

	for (size_t i = 0; i < n; i++) {
		if (store_notice_due(st, notices[i].key, now, 86400, &due, &err) < 0) {
			cli_warn("%s", err.msg);
			return;
		}
		if (due)
			log_msg(notices[i].past ? LOG_ERR : LOG_WARNING, "%s: %s", cmd,
			        notices[i].text);
	}
}

/* Shared by sync and resync: lock, run, print, record. */
static int run_sync(const struct cli *cli, const char *cmd, struct sync_options *opt, bool json)
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
	if ((rc = check_resync_target(st, opt)) != EXIT_DONE) {
		cli_close(&cfg, st);
		return rc;
	}
	say_notices(cmd, &cfg, st);
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
		if (!cli->quiet && !json)
			print_summary(cmd, &r, now_ms() - t0);
		if (r.deadline_hit)
			log_msg(LOG_WARNING,
			        "%s: stopped at the run deadline ([sync] run_deadline = %d s): "
			        "what was "
			        "written is recorded; %lld item%s queued for the next run",
			        cmd, cfg.run_deadline, (long long)r.stats.stopped,
			        r.stats.stopped == 1 ? " stays" : "s stay");
		rc = report_open_work(cmd, st, &r) || r.deadline_hit ? EXIT_PARTIAL : EXIT_DONE;
		if (json)
			print_json(cmd, st, &r, rc, now_ms() - t0);
	}
	if (run_id)
		record_run(st, run_id, cmd, started, &r, rc);
	cli_prune_history(&cfg, st);
	sync_result_free(&r);
	cli_close(&cfg, st);
	return rc;
}

int cmd_sync(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'F'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	struct sync_options opt = {0};
	bool json = false;
	int c;

	if (cli_wants_help(argc, argv, sync_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F') {
			opt.force = true;
		} else if (c == 'j') {
			json = true;
		} else {
			fputs(sync_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(sync_usage, stderr);
		return EXIT_USAGE;
	}
	return run_sync(cli, "sync", &opt, json);
}

static char *lower_case(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	return s;
}

int cmd_resync(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"all", no_argument, NULL, 'a'},         {"mailbox", required_argument, NULL, 'm'},
	    {"leave", required_argument, NULL, 'l'}, {"force", no_argument, NULL, 'F'},
	    {"json", no_argument, NULL, 'j'},        {NULL, 0, NULL, 0}};
	struct sync_options opt = {0};
	bool json = false;
	int c, chosen = 0;

	if (cli_wants_help(argc, argv, resync_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'F') {
			opt.force = true;
			continue;
		}
		if (c == 'j') {
			json = true;
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
	return run_sync(cli, "resync", &opt, json);
}
