/* leavesync calendar --mailbox EMAIL [--from DATE --to DATE] [--json]: what a mailbox's calendar
 * holds as leavesync sees it through its backend, beside the store, each difference marked by the
 * comparison reconcile repairs from (engine/compare.c). Like reconcile --dry-run it renders queued
 * leave first (so that a deleted leave shows as an orphan, as reconcile sees it); nothing else is
 * changed: no repair, no belief of the store, no run recorded. Events leavesync did not tag are
 * counted, never shown. */
#include "common/util.h"
#include "cli/cli.h"
#include "engine/envs.h"
#include "engine/sync.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char calendar_usage[] =
    "usage: leavesync calendar --mailbox EMAIL [--from DATE] [--to DATE] [--json]\n"
    "Lists what the mailbox's calendar holds as leavesync sees it through its backend: the\n"
    "events it tagged in the window (default: 30 days back to 365 days ahead) side by side with\n"
    "the store, each difference marked as reconcile would mark it (missing, edited, moved,\n"
    "orphaned, duplicated, stuck); `pending` is what the next sync writes. Events leavesync did\n"
    "not create are only counted. Like reconcile --dry-run it first renders leave changed since\n"
    "the last run and holds the run lock while it reads; nothing else is changed, nothing\n"
    "written to the calendar: reconcile repairs.\n"
    "Exit status: 0 the calendar equals the store, 1 differences found (or the calendar could\n"
    "not be read), 2 bad usage or config.\n";

struct cal_args {
	const char *mailbox;
	int64_t from, to;
	bool json;
};

struct cal_row {
	char mark[24]; /* a finding of reconcile's (two joined by '+'), or = adopt pending */
	int findings;  /* how many of reconcile's findings the row stands for */
	const struct target *t;       /* NULL: an orphan with no target */
	const struct remote_event *e; /* NULL: nothing listed */
	struct event want;            /* the store's desired event, when readable */
	bool has_want;
	const char *detail;
	const char *sort; /* a start, for the order of the rows */
};

static int parse_date(const char *s, int64_t *out)
{
	struct tm tm = {0};
	char *end = strptime(s, "%Y-%m-%d", &tm);

	if (!end || *end)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int parse_args(int argc, char **argv, struct cal_args *a)
{
	static const struct option opts[] = {{"mailbox", required_argument, NULL, 'm'},
	                                     {"from", required_argument, NULL, 'f'},
	                                     {"to", required_argument, NULL, 't'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	a->from = now_unix() - 30 * 86400;
	a->to = now_unix() + 365 * 86400;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			for (char *p = optarg; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
			a->mailbox = optarg;
			break;
		case 'f':
		case 't':
			if (parse_date(optarg, c == 'f' ? &a->from : &a->to) < 0) {
				cli_error("calendar: --%s %s: expected a date YYYY-MM-DD",
				          c == 'f' ? "from" : "to", optarg);
				return -1;
			}
			break;
		case 'j':
			a->json = true;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc || !a->mailbox || !strchr(a->mailbox, '@')) {
		if (!a->mailbox)
			cli_error("calendar: --mailbox EMAIL is required");
		else if (!strchr(a->mailbox, '@'))
			cli_error("calendar: --mailbox %s: expected an email address", a->mailbox);
		return -1;
	}
	if (a->from >= a->to) {
		cli_error("calendar: --from must be before --to");
		return -1;
	}
	return 0;
}

/* ---- rows ---- */

/* The marks of a listed event of a target: reconcile's findings (stuck, moved, edited: one event
 * may be moved and edited), else what the store will do without a finding. */
static void kept_mark(const struct target_cmp *c, struct cal_row *r)
{
	const char *found[2];
	int n = 0;

	if (c->stuck_found)
		found[n++] = "stuck";
	else if (c->moved)
		found[n++] = "moved";
	if (c->fields_differ && c->edited)
		found[n++] = "edited";
	r->findings = n;
	if (n)
		snprintf(r->mark, sizeof r->mark, "%s%s%s", found[0], n > 1 ? "+" : "",
		         n > 1 ? found[1] : "");
	else if (c->fields_differ || c->adopt_as_is)
		snprintf(r->mark, sizeof r->mark,
		         "pending"); /* the next sync writes or adopts it */
	else if (c->adopt_new)
		snprintf(r->mark, sizeof r->mark, "adopt"); /* a new or rebuilt store: not drift */
	else
		snprintf(r->mark, sizeof r->mark, "=");
}

static const char *absent_mark(const struct target_cmp *c)
{
	if (c->stuck_absent)
		return "stuck";
	if (c->missing)
		return "missing";
	if (c->pending && c->in_window)
		return "pending";
	return NULL; /* outside the window, or nothing wanted and nothing there */
}

static size_t build_rows(const struct mailbox_comparison *m, const struct target *ts,
                         const struct remote_event *ev, struct cal_row *rows)
{
	size_t n = 0;

	for (size_t e = 0; e < m->nev; e++) {
		const struct event_cmp *c = &m->ev[e];
		struct cal_row *r = &rows[n++];

		r->e = &ev[e];
		r->t = c->target ? &ts[c->target - 1] : NULL;
		if (c->verdict == EV_KEPT) {
			kept_mark(&m->t[c->target - 1], r);
		} else {
			snprintf(r->mark, sizeof r->mark, "%s",
			         c->verdict == EV_ORPHANED ? "orphaned" : "duplicated");
			r->findings = 1;
		}
		if (c->verdict == EV_KEPT && m->t[c->target - 1].fields_differ)
			r->detail = m->t[c->target - 1].diff;
		else if (c->verdict == EV_ORPHANED)
			r->detail =
			    r->t ? "its leave was cancelled or moved: the next sync deletes it"
			         : "no leave in the store behind it";
	}
	for (size_t i = 0; i < m->nt; i++) {
		const char *mark = m->t[i].event ? NULL : absent_mark(&m->t[i]);
		struct cal_row *r;

		if (!mark)
			continue;
		r = &rows[n++];
		snprintf(r->mark, sizeof r->mark, "%s", mark);
		r->findings = strcmp(mark, "pending") != 0;
		r->t = &ts[i];
		if (strcmp(mark, "stuck") == 0)
			r->detail =
			    ts[i].last_error ? ts[i].last_error : target_state_name(ts[i].state);
		else if (strcmp(mark, "missing") == 0)
			r->detail = "written, but gone from the calendar";
		else
			r->detail = "not written yet: the next sync writes it";
	}
	for (size_t i = 0; i < n; i++) {
		struct error err = {{0}};
		struct cal_row *r = &rows[i];

		if (r->t && r->t->desired && event_from_vevent(r->t->desired, &r->want, &err) == 0)
			r->has_want = true;
		r->sort = r->e ? r->e->ev.start : r->has_want ? r->want.start : "";
	}
	return n;
}

static int by_start(const void *a, const void *b)
{
	const struct cal_row *x = a, *y = b;
	int c = strcmp(x->sort, y->sort);

	return c ? c : strcmp_null(x->t ? x->t->leave_id : NULL, y->t ? y->t->leave_id : NULL);
}

/* "2026-12-24 to 2026-12-31" (all-day: the inclusive last day), or local times and the zone. */
static void when(const struct event *ev, char *out, size_t len)
{
	if (ev->all_day) {
		struct tm tm = {0};
		char last[11] = "";
		if (strptime(ev->end, "%Y-%m-%d", &tm)) {
			time_t t = timegm(&tm) - 86400;
			gmtime_r(&t, &tm);
			strftime(last, sizeof last, "%Y-%m-%d", &tm);
		}
		if (strcmp(last, ev->start) == 0)
			snprintf(out, len, "%s", ev->start);
		else
			snprintf(out, len, "%s to %s", ev->start, last);
	} else {
		snprintf(out, len, "%.16s to %.16s %s", ev->start, ev->end, ev->time_zone);
	}
}

static json_t *event_json(const struct event *ev, const char *remote_id, const char *change_key)
{
	char w[96];

	when(ev, w, sizeof w);
	return json_pack("{s:s?, s:s?, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s}", "remote_id",
	                 remote_id, "change_key", change_key, "when", w, "start", ev->start, "end",
	                 ev->end, "all_day", ev->all_day, "time_zone", ev->time_zone, "subject",
	                 ev->subject ? ev->subject : "", "show_as", show_as_name(ev->show_as),
	                 "sensitivity", sensitivity_name(ev->sensitivity));
}

static json_t *row_json(const struct cal_row *r)
{
	json_t *store = json_null(), *cal = json_null();

	if (r->t)
		store =
		    json_pack("{s:s, s:s, s:s?, s:o}", "leave", r->t->leave_id, "state",
		              target_state_name(r->t->state), "remote_id", r->t->remote_id, "event",
		              r->has_want ? event_json(&r->want, NULL, NULL) : json_null());
	if (r->e)
		cal = event_json(&r->e->ev, r->e->remote_id, r->e->change_key);
	return json_pack("{s:s, s:b, s:s?, s:s?, s:o, s:o}", "mark", r->mark, "finding",
	                 r->findings > 0, "leave", r->t ? r->t->leave_id : NULL, "detail",
	                 r->detail, "store", store, "calendar", cal);
}

static void print_rows(const struct cal_args *a, const char *backend, const struct cal_row *rows,
                       size_t n, size_t tagged, int64_t untagged, size_t differences)
{
	char from[21], to[21], untagged_text[64];

	format_utc(from, a->from);
	format_utc(to, a->to);
	if (untagged >= 0)
		snprintf(untagged_text, sizeof untagged_text, "%lld other event%s (not shown)",
		         (long long)untagged, untagged == 1 ? "" : "s");
	else
		snprintf(untagged_text, sizeof untagged_text, "other events not counted");
	printf("calendar %s (%s), %.10s to %.10s: %zu leavesync event%s, %s\n", a->mailbox, backend,
	       from, to, tagged, tagged == 1 ? "" : "s", untagged_text);
	if (n == 0) {
		printf("nothing of leavesync's in this window, and nothing expected\n");
		return;
	}
	printf("\n%-10s %-14s %-34s %s\n", "mark", "leave", "store", "calendar");
	for (size_t i = 0; i < n; i++) {
		const struct cal_row *r = &rows[i];
		char s[96] = "-", c[96] = "-";

		if (r->has_want)
			when(&r->want, s, sizeof s);
		else if (r->t && !r->t->desired)
			snprintf(s, sizeof s, "(no event wanted)");
		if (r->e)
			when(&r->e->ev, c, sizeof c);
		printf("%-10s %-14s %-34s %s%s%s\n", r->mark, r->t ? r->t->leave_id : "(none)", s,
		       c, r->e && r->e->ev.subject ? "  " : "",
		       r->e && r->e->ev.subject ? r->e->ev.subject : "");
		if (r->detail && *r->detail)
			printf("%-10s %-14s %s\n", "", "", r->detail);
	}
	printf("\n%zu difference%s reconcile would repair%s\n", differences,
	       differences == 1 ? "" : "s",
	       differences ? " (`leavesync reconcile --mailbox` repairs them)" : "");
}

/* Lists through the backend, compares, prints. Returns the exit status. */
static int show_calendar(const struct cal_args *a, const struct config *cfg, struct store *st)
{
	const struct backend *be = backend_by_name(config_backend_for(cfg, a->mailbox));
	struct remote_event *ev = NULL;
	struct mailbox_comparison m = {0};
	struct backend_envs envs;
	struct be_session *s = NULL;
	struct error err = {{0}};
	struct target *ts = NULL;
	struct cal_row *rows;
	size_t nev = 0, nts = 0, n, differences = 0;
	int64_t untagged = -1;
	enum be_status bs;
	int rc = EXIT_DONE;

	/* Leave changed since the last run: compared as reconcile compares it (rendered). */
	if (render_pass(cfg, st, NULL, &err) < 0) {
		cli_error("calendar: %s", err.msg);
		return EXIT_USAGE;
	}
	backend_envs_init(&envs, cfg);
	if (!be || backend_envs_check(&envs, cfg, &err) < 0) {
		cli_error("calendar: %s", be ? err.msg : "no backend for this mailbox");
		backend_envs_free(&envs);
		return EXIT_USAGE;
	}
	bs = be->session_open(backend_envs_get(&envs, be), &s, &err);
	if (bs == BE_OK)
		bs = list_mailbox(be, s, a->mailbox, a->from, a->to, &ev, &nev, &untagged, &err);
	if (s)
		be->session_close(s);
	backend_envs_free(&envs);
	if (bs != BE_OK) {
		cli_error("calendar: cannot read the calendar of %s (%s): %s", a->mailbox,
		          be_status_name(bs), err.msg);
		rc = EXIT_PARTIAL;
	} else if (store_mailbox_targets(st, a->mailbox, &ts, &nts, &err) < 0) {
		cli_error("calendar: %s", err.msg);
		rc = EXIT_USAGE;
	}
	if (rc != EXIT_DONE) {
		for (size_t i = 0; i < nev; i++)
			remote_event_free(&ev[i]);
		free(ev);
		return rc;
	}
	compare_sort_targets(ts, nts);
	compare_mailbox(ts, nts, ev, nev, be->name, a->from, a->to, &m);
	rows = xcalloc(nev + nts + 1, sizeof *rows);
	n = build_rows(&m, ts, ev, rows);
	qsort(rows, n, sizeof *rows, by_start);
	for (size_t i = 0; i < n; i++)
		differences += (size_t)rows[i].findings;
	if (a->json) {
		json_t *items = json_array();
		char from[21], to[21];
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, row_json(&rows[i]));
		format_utc(from, a->from);
		format_utc(to, a->to);
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:o}", "mailbox",
		                      a->mailbox, "backend", be->name, "from", from, "to", to,
		                      "tagged", (json_int_t)nev, "untagged",
		                      untagged >= 0 ? json_integer(untagged) : json_null(),
		                      "differences", (json_int_t)differences, "items", items);
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		print_rows(a, be->name, rows, n, nev, untagged, differences);
	}
	for (size_t i = 0; i < n; i++)
		if (rows[i].has_want)
			event_free(&rows[i].want);
	free(rows);
	mailbox_comparison_free(&m);
	targets_free(ts, nts);
	for (size_t i = 0; i < nev; i++)
		remote_event_free(&ev[i]);
	free(ev);
	return differences ? EXIT_PARTIAL : EXIT_DONE;
}

int cmd_calendar(const struct cli *cli, int argc, char **argv)
{
	struct cal_args a = {0};
	struct config cfg;
	struct store *st;
	int rc;

	if (cli_wants_help(argc, argv, calendar_usage))
		return EXIT_DONE;
	if (parse_args(argc, argv, &a) < 0) {
		fputs(calendar_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "calendar", CLI_RUN, &cfg, &st)) != EXIT_DONE)
		return rc;
	rc = show_calendar(&a, &cfg, st);
	cli_close(&cfg, st);
	return rc;
}
