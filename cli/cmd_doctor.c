/* leavesync doctor [--mailbox EMAIL] [--json]: runs engine/doctor.c's checks and prints them, one
 * line each (✓ passed, ! warning, ✗ failed with an indented fix), or as stable JSON
 * {"ok": bool, "checks": [{"name", "status", "cause", "fix"}]}. Exit 0 when nothing failed
 * (warnings allowed), 1 when a check failed, 2 on bad usage or an unreadable config. */
#include "common/util.h"
#include "cli/cli.h"
#include "engine/aadsts.h"
#include "engine/doctor.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char doctor_usage[] =
    "usage: leavesync doctor [--mailbox EMAIL] [--json] | --list-codes\n"
    "Checks the config, the Entra app registration, tokens, permissions and one calendar read,\n"
    "and explains each problem with its fix. Never prints a secret or a token.\n"
    "  --mailbox EMAIL  the mailbox whose calendar is read (default: [sync] test_mailbox)\n"
    "  --json           print {\"ok\": bool, \"checks\": [{\"name\", \"status\", \"cause\", "
    "\"fix\"}]}\n"
    "  --list-codes     print the AADSTS codes doctor explains (a Markdown table)\n"
    "Exit status: 0 all checks passed (warnings allowed), 1 a check failed, 2 bad usage or "
    "config.\n";

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void print_json(const struct doctor_report *rep)
{
	json_t *root = json_object(), *checks = json_array();
	char *text;

	for (size_t i = 0; i < rep->n; i++) {
		const struct doctor_check *c = &rep->checks[i];

		json_array_append_new(
		    checks, json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", c->name, "title", c->title,
		                      "status", doctor_status_name(c->status), "cause",
		                      nullable(c->cause), "fix", nullable(c->fix)));
	}
	json_object_set_new(root, "schema", json_integer(1));
	json_object_set_new(root, "ok", json_boolean(doctor_report_ok(rep)));
	json_object_set_new(root, "checks", checks);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(root);
}

static void print_human(const struct doctor_report *rep)
{
	size_t failed = 0, warned = 0;

	for (size_t i = 0; i < rep->n; i++) {
		const struct doctor_check *c = &rep->checks[i];

		if (c->status == DOCTOR_OK) {
			printf("\u2713 %s\n", c->title);
			continue;
		}
		printf("%s %s: %s\n", c->status == DOCTOR_FAIL ? "\u2717" : "!", c->title,
		       c->cause ? c->cause : "");
		if (c->fix)
			printf("    fix: %s\n", c->fix);
		if (c->status == DOCTOR_FAIL)
			failed++;
		else
			warned++;
	}
	printf("doctor: %zu check%s, %zu failed, %zu warning%s\n", rep->n, rep->n == 1 ? "" : "s",
	       failed, warned, warned == 1 ? "" : "s");
}

/* Text for a Markdown table cell: "<app>" outside `code` would be read as an HTML tag. */
static void put_markdown(const char *s)
{
	bool code = false;

	for (; *s; s++) {
		if (*s == '`')
			code = !code;
		if (*s == '<' && !code)
			putchar('\\');
		putchar(*s);
	}
}

/* The AADSTS table as docs/setup.md carries it (t3000-doctor.sh keeps the two identical). */
static void print_codes(void)
{
	const struct aadsts_info *a;

	puts("| AADSTS | name | cause | fix |");
	puts("| --- | --- | --- | --- |");
	for (unsigned long i = 0; (a = aadsts_entry(i)) != NULL; i++) {
		printf("| %ld | %s | ", a->code, a->name);
		put_markdown(a->cause);
		fputs(" | ", stdout);
		put_markdown(a->fix);
		puts(" |");
	}
}

/* The config could not be read: nothing else can be checked. */
static int config_unreadable(const char *msg, bool json)
{
	if (json) {
		struct doctor_report rep = {0};

		doctor_add(&rep, DOCTOR_FAIL, "config file", msg,
		           "correct the file and line named (docs/config.md lists every key)");
		print_json(&rep);
		doctor_report_free(&rep);
	}
	cli_error("%s", msg);
	return EXIT_USAGE;
}

int cmd_doctor(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"mailbox", required_argument, NULL, 'm'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {"list-codes", no_argument, NULL, 'l'},
	                                     {NULL, 0, NULL, 0}};
	struct doctor_options opt = {0};
	struct doctor_report rep = {0};
	struct error err = {{0}};
	struct config cfg;
	bool json = false;
	int c, rc;

	if (cli_wants_help(argc, argv, doctor_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm') {
			opt.mailbox = optarg;
		} else if (c == 'j') {
			json = true;
		} else if (c == 'l') {
			print_codes();
			return EXIT_DONE;
		} else {
			fputs(doctor_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(doctor_usage, stderr);
		return EXIT_USAGE;
	}
	/* not cli_load_config: its warnings (permissions) are checks of their own here */
	if (config_load(cli->config_path, &cfg, &err) < 0)
		return config_unreadable(err.msg, json);
	doctor_run(&cfg, &opt, &rep);
	if (json)
		print_json(&rep);
	else
		print_human(&rep);
	rc = doctor_report_ok(&rep) ? EXIT_DONE : EXIT_PARTIAL;
	doctor_report_free(&rep);
	config_free(&cfg);
	return rc;
}
