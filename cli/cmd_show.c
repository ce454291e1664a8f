/* leavesync show LEAVE-ID [--json]: one leave's story, for the admin asked "why is Bob's leave not
 * in his calendar?". The leave and its state come from the query leavesync serve's
 * GET /v1/leave/{id} answers with (store_each_leave_status); the rest from the leave's history
 * (store/leave_history.c). */
#include "common/util.h"
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char show_usage[] =
    "usage: leavesync show LEAVE-ID [--json]\n"
    "Shows one leave's story: the leave as stored and every revision seen (when, from where),\n"
    "its calendar event (state, remote id, change key, backend, the text last written, last\n"
    "error, attempts, next attempt), and its history: renders, writes and failures of each run,\n"
    "and the drift reconcile found. History is kept as long as the run history. --json output\n"
    "is stable (docs/store.md). Exit status: 0 shown, 2 unknown id or bad usage.\n";

#define REVISION_LIMIT 100
#define STORY_LIMIT 200

struct story {
	json_t *leave; /* object or null */
	json_t *state, *reason;
	json_t *revisions; /* array */
	json_t *targets;   /* array */
	json_t *history;   /* array */
	int64_t nrevisions, nhistory;
};

static json_t *time_json(int64_t t)
{
	char s[21];

	if (t <= 0)
		return json_null();
	format_utc(s, t);
	return json_string(s);
}

static json_t *str_json(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The leave as GET /v1/leave/{id} shows it (docs/api.md). */
static json_t *leave_json(const struct leave *lv)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:s?}", "id", lv->id,
	                 "mailbox", lv->mailbox, "kind", lv->kind, "start", lv->starts, "end",
	                 lv->ends, "time_zone", lv->time_zone, "status", lv->status, "note",
	                 str_json(lv->note), "revision", (json_int_t)lv->revision, "updated_at",
	                 lv->updated_at);
}

static int take_status(void *arg, const struct leave_status *s)
{
	struct story *d = arg;

	d->leave = leave_json(&s->lv);
	d->state = json_string(s->state);
	d->reason = str_json(s->reason);
	return 1;
}

static int add_revision(void *arg, const struct leave_revision *r)
{
	const struct leave *lv = &r->lv;

	json_array_append_new(((struct story *)arg)->revisions,
	                      json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	                                "seen_at", time_json(r->seen_at), "outcome", r->outcome,
	                                "via", json_string(r->via ? r->via : "sql"), "revision",
	                                lv->mailbox ? json_integer(lv->revision) : json_null(),
	                                "mailbox", str_json(lv->mailbox), "kind",
	                                str_json(lv->kind), "start", str_json(lv->starts), "end",
	                                str_json(lv->ends), "time_zone", str_json(lv->time_zone),
	                                "status", str_json(lv->status), "note",
	                                str_json(lv->note)));
	return 0;
}

static int add_entry(void *arg, const struct leave_story_entry *e)
{
	json_array_append_new(
	    ((struct story *)arg)->history,
	    json_pack("{s:o, s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "at",
	              time_json(e->at), "run", e->run_id ? json_integer(e->run_id) : json_null(),
	              "command", str_json(e->command), "source", e->source, "mailbox", e->mailbox,
	              "action", e->action, "kind", str_json(e->kind), "result", str_json(e->result),
	              "state", str_json(e->state), "remote_id", str_json(e->remote_id),
	              "change_key", str_json(e->change_key), "backend", str_json(e->backend),
	              "detail", str_json(e->detail)));
	return 0;
}

static json_t *target_json(const struct target *t, int64_t written_at)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:i, s:o, s:o, s:b, s:b, s:o, s:o}",
	                 "mailbox", t->mailbox, "state", target_state_name(t->state), "backend",
	                 str_json(t->backend), "remote_id", str_json(t->remote_id), "change_key",
	                 str_json(t->change_key), "sync_key", t->sync_key, "written_at",
	                 time_json(written_at), "attempts", t->attempts, "next_attempt",
	                 time_json(t->next_attempt), "last_error", str_json(t->last_error),
	                 "queued", t->dirty, "resync", t->force, "last_written",
	                 str_json(t->synced), "desired", str_json(t->desired));
}

static int gather(struct store *st, const char *id, struct story *d, struct error *err)
{
	struct leave_filter f = {.id = id, .limit = 1};
	struct target *ts = NULL;
	int64_t *written = NULL;
	size_t n = 0;

	d->revisions = json_array();
	d->targets = json_array();
	d->history = json_array();
	if (store_each_leave_status(st, &f, take_status, d, err) < 0 ||
	    store_each_leave_revision(st, id, REVISION_LIMIT, add_revision, d, &d->nrevisions,
	                              err) < 0 ||
	    store_leave_targets(st, id, &ts, &written, &n, err) < 0 ||
	    store_each_leave_story(st, id, STORY_LIMIT, add_entry, d, &d->nhistory, err) < 0) {
		targets_free(ts, n);
		free(written);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(d->targets, target_json(&ts[i], written[i]));
	targets_free(ts, n);
	free(written);
	if (!d->leave) {
		d->leave = json_null();
		d->state = json_null();
		d->reason = json_null();
	}
	return 0;
}

static void story_free(struct story *d)
{
	json_decref(d->leave);
	json_decref(d->state);
	json_decref(d->reason);
	json_decref(d->revisions);
	json_decref(d->targets);
	json_decref(d->history);
}

/* ---- text ---- */

static const char *get_s(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void print_leave(const char *id, const struct story *d)
{
	const json_t *l = d->leave;

	if (json_is_null(l)) {
		printf("leave %s: no longer in the store (deleted); its history follows\n", id);
		return;
	}
	printf("leave %s: %s, revision %lld, %s\n", id, get_s(l, "mailbox"),
	       (long long)json_integer_value(json_object_get(l, "revision")), get_s(l, "status"));
	printf("  %s, %s to %s (%s)%s%s\n", get_s(l, "kind"), get_s(l, "start"), get_s(l, "end"),
	       get_s(l, "time_zone"), get_s(l, "note") ? ", note: " : "",
	       get_s(l, "note") ? get_s(l, "note") : "");
	printf("  stored %s; calendar: %s%s%s\n", get_s(l, "updated_at"),
	       json_string_value(d->state), json_is_string(d->reason) ? ": " : "",
	       json_is_string(d->reason) ? json_string_value(d->reason) : "");
}

static void print_revisions(const struct story *d)
{
	size_t i;
	json_t *r;

	printf("\nrevisions seen: %lld%s\n", (long long)d->nrevisions,
	       d->nrevisions > (int64_t)json_array_size(d->revisions) ? " (the newest shown)" : "");
	json_array_foreach(d->revisions, i, r)
	{
		const char *outcome = get_s(r, "outcome");

		printf("  %s  %-8s ", get_s(r, "seen_at"), get_s(r, "via"));
		if (strcmp(outcome, "deleted") == 0) {
			printf("deleted from the store\n");
			continue;
		}
		printf("revision %lld %s: %s, %s to %s (%s), %s%s\n",
		       (long long)json_integer_value(json_object_get(r, "revision")),
		       strcmp(outcome, "stale") == 0 ? "STALE (older than stored: skipped)"
		                                     : get_s(r, "status"),
		       get_s(r, "mailbox"), get_s(r, "start"), get_s(r, "end"),
		       get_s(r, "time_zone"), get_s(r, "kind"),
		       get_s(r, "note") ? ", with a note" : "");
	}
}

static void print_vevent(const char *label, const char *text)
{
	printf("    %s:\n", label);
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		if (len && p[len - 1] == '\r')
			len--;
		printf("      %.*s\n", len, p);
		p = nl ? nl + 1 : NULL;
	}
}

static void print_targets(const struct story *d)
{
	size_t i;
	json_t *t;

	if (json_array_size(d->targets) == 0)
		printf("\ncalendar event: none (not rendered yet, or no event wanted and none "
		       "left)\n");
	json_array_foreach(d->targets, i, t)
	{
		const char *written = get_s(t, "last_written"), *desired = get_s(t, "desired");

		printf("\ncalendar event in %s (%s):\n", get_s(t, "mailbox"),
		       or_dash(get_s(t, "backend")));
		printf("  state %s%s%s, written %s\n", get_s(t, "state"),
		       json_is_true(json_object_get(t, "queued")) ? ", queued for the next sync"
		                                                  : "",
		       json_is_true(json_object_get(t, "resync")) ? " (resync)" : "",
		       or_dash(get_s(t, "written_at")));
		printf("  remote id  %s\n  change key %s\n  sync key   %s\n",
		       or_dash(get_s(t, "remote_id")), or_dash(get_s(t, "change_key")),
		       get_s(t, "sync_key"));
		printf("  attempts %lld, next attempt %s\n  last error %s\n",
		       (long long)json_integer_value(json_object_get(t, "attempts")),
		       or_dash(get_s(t, "next_attempt")), or_dash(get_s(t, "last_error")));
		if (!desired)
			printf("  wanted: no event (cancelled, moved, or a kind not synced)\n");
		if (written)
			print_vevent("last written", written);
		if (desired && strcmp_null(desired, written) != 0)
			print_vevent("to write at the next sync", desired);
	}
}

static void print_history(const struct story *d)
{
	size_t i;
	json_t *e;

	printf("\nhistory: %lld entries%s\n", (long long)d->nhistory,
	       d->nhistory > (int64_t)json_array_size(d->history) ? " (the newest shown)" : "");
	json_array_foreach(d->history, i, e)
	{
		char run[48] = "outside a run";
		const json_t *rid = json_object_get(e, "run");

		if (json_is_integer(rid))
			snprintf(run, sizeof run, "run %lld %s", (long long)json_integer_value(rid),
			         or_dash(get_s(e, "command")));
		printf("  %s  %-22s ", get_s(e, "at"), run);
		if (strcmp(get_s(e, "source"), "drift") == 0)
			printf("drift %s in %s: %s -> %s%s%s\n", get_s(e, "kind"),
			       get_s(e, "mailbox"), get_s(e, "action"), or_dash(get_s(e, "result")),
			       get_s(e, "detail") ? " — " : "", get_s(e, "detail") ?: "");
		else
			printf("%s in %s%s%s%s%s\n", get_s(e, "action"), get_s(e, "mailbox"),
			       get_s(e, "remote_id") ? ", id " : "", get_s(e, "remote_id") ?: "",
			       get_s(e, "detail") ? ": " : "", get_s(e, "detail") ?: "");
	}
}

int cmd_show(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct story d = {0};
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	bool json = false;
	const char *id;
	int c, rc;

	if (cli_wants_help(argc, argv, show_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			fputs(show_usage, stderr);
			return EXIT_USAGE;
		}
		json = true;
	}
	if (optind + 1 != argc || !*argv[optind]) {
		fputs(show_usage, stderr);
		return EXIT_USAGE;
	}
	id = argv[optind];
	if ((rc = cli_open(cli, "show", CLI_READ, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (gather(st, id, &d, &err) < 0) {
		cli_error("show: %s", err.msg);
		rc = EXIT_USAGE;
	} else if (json_is_null(d.leave) && json_array_size(d.revisions) == 0 &&
	           json_array_size(d.targets) == 0 && json_array_size(d.history) == 0) {
		cli_error("show: no leave '%s' in the store, nor any history of it: check the id "
		          "(ids are case-sensitive; `leavesync export` lists the leave)",
		          id);
		rc = EXIT_USAGE;
	} else if (json) {
		json_t *j = json_pack("{s:s, s:O, s:O, s:O, s:{s:I, s:O}, s:O, s:{s:I, s:O}}", "id",
		                      id, "leave", d.leave, "state", d.state, "reason", d.reason,
		                      "revisions", "total", (json_int_t)d.nrevisions, "items",
		                      d.revisions, "targets", d.targets, "history", "total",
		                      (json_int_t)d.nhistory, "items", d.history);
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		print_leave(id, &d);
		print_revisions(&d);
		print_targets(&d);
		print_history(&d);
	}
	story_free(&d);
	cli_close(&cfg, st);
	return rc;
}
