/* leavesync export --ics: the same VEVENTs that sync writes, as one calendar file any client
 * imports. */
#include "common/buf.h"
#include "common/util.h"
#include "cli/cli.h"
#include "engine/render.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char export_usage[] =
    "usage: leavesync export [--ics] [--mailbox EMAIL] [-o FILE]\n"
    "Writes every approved leave (of one mailbox) as an iCalendar file, rendered exactly as\n"
    "sync writes it.\n"
    "  --ics             iCalendar (RFC 5545), the default and only format\n"
    "  --mailbox EMAIL   only this mailbox's leave\n"
    "  -o, --output FILE write FILE instead of standard output\n";

struct export_ctx {
	const struct config *cfg;
	struct buf zones; /* VTIMEZONE blocks, deduplicated */
	struct buf tzids; /* "\nTZID\n" list for dedupe */
	FILE *out;
	bool second_pass;
	size_t events;
	struct error err;
};

/* Finds "BEGIN:<name>" ... "END:<name>" (with its line end) starting at or after p. */
static const char *find_block(const char *p, const char *name, const char **end)
{
	char begin[32], fin[32];
	const char *b, *e;

	snprintf(begin, sizeof begin, "BEGIN:%s", name);
	snprintf(fin, sizeof fin, "END:%s", name);
	b = strstr(p, begin);
	if (!b)
		return NULL;
	e = strstr(b, fin);
	if (!e)
		return NULL;
	e += strlen(fin);
	while (*e == '\r' || *e == '\n')
		e++;
	*end = e;
	return b;
}

static void collect_zones(struct export_ctx *x, const char *ics)
{
	const char *p = ics, *b, *e;

	while ((b = find_block(p, "VTIMEZONE", &e)) != NULL) {
		const char *tz = strstr(b, "TZID:");
		char key[160];
		size_t n = 0;
		if (tz && tz < e) {
			tz += 5;
			while (tz[n] && tz[n] != '\r' && tz[n] != '\n' && n < 150)
				n++;
		}
		snprintf(key, sizeof key, "\n%.*s\n", (int)n, tz ? tz : "");
		if (!x->tzids.data || !strstr(x->tzids.data, key)) {
			buf_puts(&x->tzids, key);
			buf_append(&x->zones, b, (size_t)(e - b));
		}
		p = e;
	}
}

static int export_one(void *arg, const struct leave *lv)
{
	struct export_ctx *x = arg;
	char key[SYNC_KEY_MAX], *ics = NULL;
	const char *b, *e;

	render_sync_key(x->cfg->instance, lv->mailbox, lv->id, key);
	if (render_leave(x->cfg, lv, key, &ics, &x->err) < 0) {
		error_prefix(&x->err, "leave %s: ", lv->id);
		return -1;
	}
	if (!ics)
		return 0;
	if (!x->second_pass) {
		collect_zones(x, ics);
	} else if ((b = find_block(ics, "VEVENT", &e)) != NULL) {
		fwrite(b, 1, (size_t)(e - b), x->out);
		x->events++;
	}
	free(ics);
	return 0;
}

static int export_calendar(struct store *st, const char *mailbox, struct export_ctx *x)
{
	struct error err = {{0}};

	/* a leave that cannot be rendered stops the walk (its callback returns -1): say so, do not
	 * write a calendar that silently lacks it and every leave after it */
	if (store_each_leave(st, mailbox, export_one, x, &err) < 0 || x->err.msg[0])
		return -1;
	fputs("BEGIN:VCALENDAR\r\nPRODID:-//leavesync//leavesync " LEAVESYNC_VERSION "//EN\r\n"
	      "VERSION:2.0\r\nCALSCALE:GREGORIAN\r\n",
	      x->out);
	if (x->zones.data)
		fwrite(x->zones.data, 1, x->zones.len, x->out);
	x->second_pass = true;
	if (store_each_leave(st, mailbox, export_one, x, &err) < 0 || x->err.msg[0])
		return -1;
	fputs("END:VCALENDAR\r\n", x->out);
	return 0;
}

int cmd_export(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"ics", no_argument, NULL, 'i'},
	                                     {"mailbox", required_argument, NULL, 'm'},
	                                     {"output", required_argument, NULL, 'o'},
	                                     {NULL, 0, NULL, 0}};
	const char *mailbox = NULL, *path = NULL;
	struct export_ctx x = {.zones = BUF_INIT, .tzids = BUF_INIT};
	struct config cfg;
	struct store *st;
	int c, rc = EXIT_DONE;

	if (cli_wants_help(argc, argv, export_usage))
		return EXIT_DONE;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'i')
			continue; /* the default format */
		else if (c == 'm')
			mailbox = optarg;
		else if (c == 'o')
			path = optarg;
		else {
			fputs(export_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(export_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "export", CLI_READ, &cfg, &st)) != EXIT_DONE)
		return rc;
	x.cfg = &cfg;
	x.out = path ? fopen(path, "w") : stdout;
	if (!x.out) {
		cli_error("export: cannot write %s: %s", path, strerror(errno));
		rc = EXIT_USAGE;
	} else if (export_calendar(st, mailbox, &x) < 0) {
		cli_error("export: %s", x.err.msg[0] ? x.err.msg : "cannot read the store");
		rc = EXIT_USAGE;
	} else if (fflush(x.out) != 0 || ferror(x.out)) {
		cli_error("export: write failed: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
	if (x.out && x.out != stdout)
		fclose(x.out);
	if (rc == EXIT_DONE && !cli->quiet && path)
		fprintf(stderr, "export: %zu events written to %s\n", x.events, path);
	buf_free(&x.zones);
	buf_free(&x.tzids);
	cli_close(&cfg, st);
	return rc;
}
