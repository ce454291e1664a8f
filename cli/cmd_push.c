/* leavesync init, leavesync push. */
#include "common/util.h"
#include "cli/cli.h"
#include "engine/tz.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char init_usage[] =
    "usage: leavesync init\n"
    "Creates the store at [store] path (mode 0600), or migrates an existing one.\n";

int cmd_init(const struct cli *cli, int argc, char **argv)
{
	struct config cfg;
	struct store *st;

	if (cli_wants_help(argc, argv, init_usage))
		return EXIT_DONE;
	if (argc > 1) {
		fputs(init_usage, stderr);
		return EXIT_USAGE;
	}
	if (cli_load_config(cli, true, &cfg) < 0)
		return EXIT_USAGE;
	if (cli_open_store(&cfg, true, &st) < 0) {
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (!cli->quiet)
		printf("store %s ready (schema version %d)\n", cfg.store_path,
		       store_schema_version(st));
	store_close(st);
	config_free(&cfg);
	return EXIT_DONE;
}

static const char push_usage[] =
    "usage: leavesync push [FILE|-] [--format json|ndjson|csv]\n"
    "Upserts leave entries from HR. The whole input is validated first: any invalid record\n"
    "means nothing is written (exit 2, every problem listed). Records with a revision lower\n"
    "than the stored one are skipped with a notice. FILE defaults to standard input.\n";

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

static int push_data(const struct cli *cli, const struct config *cfg, const char *data, size_t len,
                     enum push_format format)
{
	struct push_options opt = {.format = format,
	                           .max_leave_days = cfg->max_leave_days,
	                           .tz_known = tz_is_known_iana,
	                           .local_time_gap = tz_local_gap,
	                           .default_time_zone = cfg->default_time_zone};
	struct push_report rep;
	struct error err = {{0}};
	struct store *st;
	int rc;

	memset(&rep, 0, sizeof rep);
	if (cli_open_store(cfg, true, &st) < 0)
		return EXIT_USAGE;
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
		if (!cli->quiet)
			printf("push: %zu records (%s): %zu inserted, %zu updated, %zu unchanged, "
			       "%zu stale\n",
			       rep.records, format_name(rep.format), rep.inserted, rep.updated,
			       rep.unchanged, rep.stale);
		rc = EXIT_DONE;
	}
	push_report_free(&rep);
	store_close(st);
	return rc;
}

int cmd_push(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
	                                     {NULL, 0, NULL, 0}};
	enum push_format format = PUSH_AUTO;
	const char *path = "-";
	struct config cfg;
	char *data;
	size_t len;
	int c, rc;

	if (cli_wants_help(argc, argv, push_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
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
	if (cli_load_config(cli, true, &cfg) < 0)
		return EXIT_USAGE;
	if (read_file(path, &data, &len) < 0) {
		cli_error("push: cannot read %s: %s",
		          strcmp(path, "-") == 0 ? "standard input" : path, strerror(errno));
		config_free(&cfg);
		return EXIT_USAGE;
	}
	rc = push_data(cli, &cfg, data, len, format);
	free(data);
	config_free(&cfg);
	return rc;
}
