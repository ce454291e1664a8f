/* leavesync init, leavesync push. */
#include "common/util.h"
#include "cli/cli.h"
#include "cli/log.h"
#include "engine/tz.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char init_usage[] =
    "usage: leavesync init\n"
    "Creates the store at [store] path (mode 0600; 0660 for [store] group) and its secrets\n"
    "database beside it (always 0600), or migrates an existing store. The only command that\n"
    "creates a store.\n";

int cmd_init(const struct cli *cli, int argc, char **argv)
{
	struct config cfg;
	struct store *st;
	int rc;

	if (cli_wants_help(argc, argv, init_usage))
		return EXIT_DONE;
	if (argc > 1) {
		fputs(init_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "init", CLI_CREATE, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (!cli->quiet) {
		char *secrets = store_secrets_path(cfg.store_path);

		log_out(LOG_INFO, "store %s ready (schema version %d); refresh tokens go to %s",
		        cfg.store_path, store_schema_version(st), secrets);
		free(secrets);
	}
	cli_close(&cfg, st);
	return EXIT_DONE;
}

static const char push_usage[] =
    "usage: leavesync push [FILE|-] [--format json|ndjson|csv] [--json]\n"
    "Upserts leave entries from HR. The whole input is validated first: any invalid record\n"
    "means nothing is written (exit 2, every problem listed). Records with a revision lower\n"
    "than the stored one are skipped with a notice. FILE defaults to standard input.\n"
    "  --format F  json, ndjson or csv (default: detected from the first character)\n"
    "  --json      print one summary object (docs/json.md), also when the input is refused\n"
    "The store must exist (leavesync init). Exit status: 0 written, 2 bad usage, config or\n"
    "input (nothing written).\n";

static int parse_format(const char *s, enum push_format *out)
{
	static const struct {
		const char *name;
		enum push_format f;
	} formats[] = {{"json", PUSH_JSON}, {"ndjson", PUSH_NDJSON}, {"csv", PUSH_CSV}};

	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		if (strcmp(s, formats[i].name) == 0) {
			*out = formats[i].f;
			return 0;
		}
	}
	return -1;
}

static const char *format_name(enum push_format f)
{
	switch (f) {
	case PUSH_JSON:
		return "json";
	case PUSH_NDJSON:
		return "ndjson";
	case PUSH_CSV:
		return "csv";
	default:
		return "auto";
	}
}

static void print_push_problems(const struct push_report *r)
{
	const char *unit = r->format == PUSH_JSON ? "record" : "line";

	for (size_t i = 0; i < r->nproblems; i++) {
		const struct push_problem *p = &r->problems[i];
		if (p->field[0])
			fprintf(stderr, "push: %s %ld: %s: %s\n", unit, p->record, p->field,
			        p->reason);
		else
			fprintf(stderr, "push: %s %ld: %s\n", unit, p->record, p->reason);
	}
	fprintf(stderr,
	        "push: %zu problem%s found; nothing was written. Fix the input and push again.\n",
	        r->nproblems, r->nproblems == 1 ? "" : "s");
}

static void print_push_json(const struct push_report *r, int rc, const char *error)
{
	json_t *problems = json_array(), *notices = json_array();

	for (size_t i = 0; i < r->nproblems; i++) {
		const struct push_problem *p = &r->problems[i];

		json_array_append_new(
		    problems, json_pack("{s:s, s:I, s:s?, s:s}", "unit",
		                        r->format == PUSH_JSON ? "record" : "line", "at",
		                        (json_int_t)p->record, "field",
		                        p->field[0] ? p->field : NULL, "reason", p->reason));
	}
	for (size_t i = 0; i < r->nnotices; i++)
		json_array_append_new(notices, json_string(r->notices[i]));
	cli_print_json(json_pack(
	    "{s:i, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:s?}", "schema", 1, "command",
	    "push", "exit_code", rc, "format", format_name(r->format), "records",
	    (json_int_t)r->records, "inserted", (json_int_t)r->inserted, "updated",
	    (json_int_t)r->updated, "unchanged", (json_int_t)r->unchanged, "stale",
	    (json_int_t)r->stale, "notices", notices, "problems", problems, "error", error));
}

static int push_data(const struct cli *cli, struct config *cfg, struct store *st, const char *data,
                     size_t len, enum push_format format, bool json)
{
	struct push_options opt = {.format = format,
	                           .max_leave_days = cfg->max_leave_days,
	                           .tz_known = tz_is_known_iana,
	                           .default_time_zone = cfg->default_time_zone};
	struct push_report rep;
	struct error err = {{0}};
	int rc;

	memset(&rep, 0, sizeof rep);
	rc = store_push(st, data, len, &opt, &rep, &err);
	for (size_t i = 0; i < rep.nnotices; i++)
		fprintf(stderr, "push: notice: %s\n", rep.notices[i]);
	if (rc < 0 && rep.nproblems > 0) {
		print_push_problems(&rep);
		rc = EXIT_USAGE;
	} else if (rc < 0) {
		cli_error("push: %s", err.msg);
		rc = EXIT_USAGE;
	} else {
		if (!cli->quiet && !json)
			log_out(LOG_INFO,
			        "push: %zu records (%s): %zu inserted, %zu updated, %zu unchanged, "
			        "%zu stale",
			        rep.records, format_name(rep.format), rep.inserted, rep.updated,
			        rep.unchanged, rep.stale);
		rc = EXIT_DONE;
	}
	if (json)
		print_push_json(&rep, rc, rc != EXIT_DONE && !rep.nproblems ? err.msg : NULL);
	push_report_free(&rep);
	return rc;
}

int cmd_push(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	enum push_format format = PUSH_AUTO;
	const char *path = "-";
	struct config cfg;
	struct store *st;
	bool json = false;
	char *data;
	size_t len;
	int c, rc;

	if (cli_wants_help(argc, argv, push_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		if (c == 'j') {
			json = true;
			continue;
		}
		if (c != 'f' || parse_format(optarg, &format) < 0) {
			if (c == 'f')
				cli_error("push: unknown format '%s' (use json, ndjson or csv)",
				          optarg);
			fputs(push_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		fputs(push_usage, stderr);
		return EXIT_USAGE;
	}
	/* the store must exist: a push that lost its config must not start a store nobody reads */
	if ((rc = cli_open(cli, "push", CLI_WRITE, &cfg, &st)) != EXIT_DONE)
		return rc;
	if (read_file(path, &data, &len) < 0) {
		cli_error("push: cannot read %s: %s",
		          strcmp(path, "-") == 0 ? "standard input" : path, strerror(errno));
		cli_close(&cfg, st);
		return EXIT_USAGE;
	}
	rc = push_data(cli, &cfg, st, data, len, format, json);
	free(data);
	cli_close(&cfg, st);
	return rc;
}
