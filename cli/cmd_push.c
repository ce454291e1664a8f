/* leavesync init, leavesync push. */
#include "common/util.h"
#include "cli/cli.h"
#include "common/log.h"
#include "engine/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
    "usage: leavesync push [FILE|-] [--format json|ndjson|csv] [--dry-run] [--json]\n"
    "                      [--snapshot [--mailbox-domain D]... [--mailboxes-from FILE]\n"
    "                       [--from DATE] [--force]]\n"
    "Upserts leave entries from HR. The whole input is validated first: any invalid record\n"
    "means nothing is written (exit 2, every problem listed). Records with a revision lower\n"
    "than the stored one are skipped with a notice. FILE defaults to standard input.\n"
    "  --format F           json, ndjson or csv (default: detected from the first character)\n"
    "  --dry-run            do all of it, then roll back: says what would change, writes nothing\n"
    "  --json               print one summary object (docs/json.md), also when the input is\n"
    "                       refused\n"
    "  --snapshot           the input is the whole truth for its scope: approved leave of the\n"
    "                       scope that it does not hold is cancelled (docs/store.md)\n"
    "  --mailbox-domain D   the scope: every mailbox @D (may be repeated)\n"
    "  --mailboxes-from F   the scope: the addresses listed in F, one per line\n"
    "                       (neither: the mailboxes that appear in the input; an empty input\n"
    "                       then cancels nothing)\n"
    "  --from DATE          leave starting before DATE is outside the scope (default: today,\n"
    "                       in each leave's time zone)\n"
    "  --force              pass the safety valve ([push] snapshot_max_cancel)\n"
    "The store must exist (leavesync init). Exit status: 0 written (or, with --dry-run,\n"
    "would be), 2 bad usage, config or input, or the safety valve (nothing written).\n";

#define MAX_SCOPE_DOMAINS 64
#define MAX_SCOPE_MAILBOXES 100000
#define MAX_SCOPE_FILE (8u << 20)

struct push_args {
	enum push_format format;
	const char *path;
	bool dry_run, json, force, snapshot;
	const char *domains[MAX_SCOPE_DOMAINS];
	size_t ndomains;
	const char *mailboxes_from, *from;
	char **mailboxes; /* read from mailboxes_from; owned */
	size_t nmailboxes;
	char *list_data; /* the file's text, which mailboxes point into */
};

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

/* Reads the push input (a file, or standard input for "-"), at most max bytes: memory stays
 * bounded by the limit whatever the input (/dev/zero, an endless pipe). Returns 0, -1 with errno,
 * or 1 when the input is longer than max (nothing kept). */
static int read_input(const char *path, size_t max, char **out, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 0, n = 0;
	char *data = NULL;
	struct stat st;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		rc = 1; /* a regular file says its size: no need to read it */
		goto done;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > max) {
				rc = 1;
				break;
			}
			/* doubling, but never past one byte more than the limit */
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			data = xrealloc(data, cap + 1);
		}
		r = read(fd, data + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -1;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			rc = 1;
			break;
		}
	}
done:
	if (rc != 0) {
		int saved = errno;

		free(data);
		if (fd != STDIN_FILENO)
			close(fd);
		errno = saved;
		return rc;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (!data)
		data = xmalloc(1);
	data[n] = '\0';
	*out = data;
	*len = n;
	return 0;
}

/* ---- the snapshot's scope from the command line ---- */

static void lower_ascii(char *s)
{
	for (; *s; s++)
		*s = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
}

/* A domain as --mailbox-domain takes it: "contoso.com" (a leading '@' is dropped). */
static bool domain_ok(const char *d)
{
	size_t n = strlen(d);

	if (n < 3 || n > 253 || !strchr(d, '.') || d[0] == '.' || d[0] == '-' || d[n - 1] == '.')
		return false;
	for (const char *p = d; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '-'))
			return false;
	return true;
}

/* name@domain.tld, no space or control character, at most 254 bytes (as push checks records). */
static bool address_ok(const char *a)
{
	const char *at = strchr(a, '@');

	if (!at || at == a || strchr(at + 1, '@') || strlen(a) > 254 || !domain_ok(at + 1))
		return false;
	for (const char *p = a; p < at; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

/* One address per line; blank lines and lines starting with '#' are skipped. */
static int read_scope_file(struct push_args *a)
{
	const char *path = a->mailboxes_from;
	size_t len, cap = 0;
	long line = 0;
	char *p;

	if (read_file(path, &a->list_data, &len) < 0) {
		cli_error("push: --mailboxes-from %s: cannot read it: %s", path, strerror(errno));
		return -1;
	}
	if (len > MAX_SCOPE_FILE || memchr(a->list_data, '\0', len)) {
		cli_error("push: --mailboxes-from %s: %s", path,
		          len > MAX_SCOPE_FILE ? "larger than 8 MiB: split the snapshot by domain"
		                               : "holds a NUL byte: expected one address per line");
		return -1;
	}
	for (p = a->list_data; p && *p;) {
		char *end = strchr(p, '\n'), *s = p, *e;

		if (end)
			*end = '\0';
		line++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		p = end ? end + 1 : NULL;
		if (!*s || *s == '#')
			continue;
		lower_ascii(s);
		if (!address_ok(s)) {
			cli_error("push: --mailboxes-from %s line %ld: '%.80s' is not an email "
			          "address (expected one name@domain.tld per line)",
			          path, line, s);
			return -1;
		}
		if (a->nmailboxes == MAX_SCOPE_MAILBOXES) {
			cli_error("push: --mailboxes-from %s: more than %d addresses; split the "
			          "snapshot, or use --mailbox-domain",
			          path, MAX_SCOPE_MAILBOXES);
			return -1;
		}
		if (a->nmailboxes == cap) {
			cap = cap ? cap * 2 : 64;
			a->mailboxes = xrealloc(a->mailboxes, cap * sizeof *a->mailboxes);
		}
		a->mailboxes[a->nmailboxes++] = s;
	}
	if (a->nmailboxes == 0) {
		cli_error(
		    "push: --mailboxes-from %s holds no address: a snapshot of an empty scope "
		    "would cancel nothing; list the mailboxes HR's export covers",
		    path);
		return -1;
	}
	return 0;
}

static bool real_date(const char *s)
{
	struct tm tm = {0};
	char back[11];
	const char *end = strptime(s, "%Y-%m-%d", &tm);

	if (!end || *end || strlen(s) != 10)
		return false;
	tm.tm_isdst = -1;
	if (timegm(&tm) == (time_t)-1)
		return false;
	strftime(back, sizeof back, "%Y-%m-%d", &tm);
	return strcmp(back, s) == 0; /* 2027-02-30 normalises to March: not a real date */
}

static int check_snapshot_args(struct push_args *a)
{
	if (!a->snapshot) {
		if (a->ndomains || a->mailboxes_from || a->from || a->force) {
			cli_error("push: --mailbox-domain, --mailboxes-from, --from and --force go "
			          "with --snapshot");
			return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < a->ndomains; i++) {
		char *d = (char *)a->domains[i];
		if (*d == '@')
			a->domains[i] = ++d;
		lower_ascii(d);
		if (!domain_ok(d)) {
			cli_error(
			    "push: --mailbox-domain %s: expected a domain such as contoso.com", d);
			return -1;
		}
	}
	if (a->from && !real_date(a->from)) {
		cli_error("push: --from %s: expected a date YYYY-MM-DD", a->from);
		return -1;
	}
	return a->mailboxes_from ? read_scope_file(a) : 0;
}

static int parse_push_args(int argc, char **argv, struct push_args *a)
{
	static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
	                                     {"dry-run", no_argument, NULL, 'n'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {"snapshot", no_argument, NULL, 's'},
	                                     {"mailbox-domain", required_argument, NULL, 'd'},
	                                     {"mailboxes-from", required_argument, NULL, 'm'},
	                                     {"from", required_argument, NULL, 'F'},
	                                     {"force", no_argument, NULL, 'o'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	a->path = "-";
	while ((c = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (parse_format(optarg, &a->format) < 0) {
				cli_error("push: unknown format '%s' (use json, ndjson or csv)",
				          optarg);
				return -1;
			}
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 's':
			a->snapshot = true;
			break;
		case 'd':
			if (a->ndomains == MAX_SCOPE_DOMAINS) {
				cli_error("push: more than %d --mailbox-domain options",
				          MAX_SCOPE_DOMAINS);
				return -1;
			}
			a->domains[a->ndomains++] = optarg;
			break;
		case 'm':
			a->mailboxes_from = optarg;
			break;
		case 'F':
			a->from = optarg;
			break;
		case 'o':
			a->force = true;
			break;
		default:
			return -1;
		}
	}
	if (optind < argc)
		a->path = argv[optind++];
	if (optind < argc)
		return -1;
	return check_snapshot_args(a);
}

static void push_args_free(struct push_args *a)
{
	free(a->mailboxes);
	free(a->list_data);
}

/* Today in an IANA zone, for the snapshot's default first day. */
static int today_in(const char *iana, int64_t now, char out[11])
{
	char local[20];

	if (tz_unix_to_local(now, iana, local) < 0)
		return -1;
	memcpy(out, local, 10);
	out[10] = '\0';
	return 0;
}

/* ---- output ---- */

static json_t *strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The summary object of push --json (docs/json.md). A problem is at a record of a JSON array, or
 * at a line of NDJSON and CSV. */
static json_t *push_json(const struct push_args *a, const struct push_report *r, int rc,
                         const char *error)
{
	json_t *problems = json_array(), *snap = json_null(), *domains = json_array();

	for (size_t i = 0; i < r->nproblems; i++) {
		const struct push_problem *p = &r->problems[i];

		json_array_append_new(
		    problems, json_pack("{s:s, s:I, s:s?, s:s}", "unit",
		                        r->format == PUSH_JSON ? "record" : "line", "at",
		                        (json_int_t)p->record, "field",
		                        p->field[0] ? p->field : NULL, "reason", p->reason));
	}
	for (size_t i = 0; i < a->ndomains; i++)
		json_array_append_new(domains, json_string(a->domains[i]));
	if (a->snapshot)
		snap =
		    json_pack("{s:s, s:o, s:s?, s:I, s:s?, s:I, s:I, s:b, s:b}", "scope", r->scope,
		              "domains", domains, "mailboxes_from", a->mailboxes_from, "mailboxes",
		              (json_int_t)r->scope_mailboxes, "from", a->from, "approved_in_scope",
		              (json_int_t)r->in_scope, "cancelled", (json_int_t)r->cancelled,
		              "blocked", r->blocked, "forced", a->force);
	else
		json_decref(domains);
	return json_pack("{s:i, s:s, s:i, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, "
	                 "s:s?}",
	                 "schema", 1, "command", "push", "exit_code", rc, "dry_run", a->dry_run,
	                 "format", format_name(r->format), "records", (json_int_t)r->records,
	                 "inserted", (json_int_t)r->inserted, "updated", (json_int_t)r->updated,
	                 "unchanged", (json_int_t)r->unchanged, "stale", (json_int_t)r->stale,
	                 "cancelled", (json_int_t)r->cancelled, "snapshot", snap, "notices",
	                 strings_json(r->notices, r->nnotices), "problems", problems, "error",
	                 error);
}

static void print_summary(const struct push_args *a, const struct push_report *r)
{
	printf("push: %zu records (%s): %zu inserted, %zu updated, %zu unchanged, %zu stale",
	       r->records, format_name(r->format), r->inserted, r->updated, r->unchanged, r->stale);
	if (a->snapshot)
		printf(", %zu cancelled", r->cancelled);
	printf("%s\n", a->dry_run ? " (dry run: nothing written)" : "");
	if (a->snapshot)
		printf("push: snapshot of %s: %zu approved leave entries in scope before the "
		       "push\n",
		       r->scope, r->in_scope);
}

static int push_data(const struct cli *cli, const struct config *cfg, const struct push_args *a,
                     const char *data, size_t len)
{
	struct push_options opt = {.format = a->format,
	                           .max_leave_days = cfg->max_leave_days,
	                           .tz_known = tz_is_known_iana,
	                           .local_time_gap = tz_local_gap,
	                           .default_time_zone = cfg->default_time_zone,
	                           .dry_run = a->dry_run,
	                           .max_records = cfg->limits.push_records};
	struct push_report rep;
	struct error err = {{0}};
	struct store *st;
	int rc;

	opt.snapshot = (struct push_snapshot){.enabled = a->snapshot,
	                                      .domains = a->domains,
	                                      .ndomains = a->ndomains,
	                                      .mailboxes = (const char *const *)a->mailboxes,
	                                      .nmailboxes = a->nmailboxes,
	                                      .scope_source = a->mailboxes_from,
	                                      .from = a->from,
	                                      .today_in = today_in,
	                                      .max_cancel_share = cfg->snapshot_max_cancel,
	                                      .min_cancel = cfg->snapshot_min_cancel,
	                                      .force = a->force};
	memset(&rep, 0, sizeof rep);
	/* the store must exist: a push that lost its config must not start a store nobody reads */
	if (cli_open_store(cfg, "push", CLI_WRITE, &st) < 0)
		return EXIT_USAGE;
	rc = store_push(st, data, len, &opt, &rep, &err);
	for (size_t i = 0; i < rep.nnotices; i++)
		fprintf(stderr, "push: notice: %s\n", rep.notices[i]);
	if (a->snapshot && rep.scope_empty)
		cli_warn("push: this snapshot's scope is empty: the input holds no record and "
		         "neither --mailbox-domain nor --mailboxes-from was given, so nothing was "
		         "cancelled; name the scope to let an empty export cancel leave");
	if (rc < 0 && rep.nproblems > 0) {
		print_push_problems(&rep);
		rc = EXIT_USAGE;
	} else if (rc < 0) {
		if (rep.blocked && !a->json && !cli->quiet)
			print_summary(a, &rep);
		cli_error("push: %s", err.msg);
		rc = EXIT_USAGE;
	} else {
		if (!a->json && !cli->quiet)
			print_summary(a, &rep);
		rc = EXIT_DONE;
	}
	if (a->json)
		cli_print_json(push_json(
		    a, &rep, rc, rc != EXIT_DONE && !rep.nproblems && err.msg[0] ? err.msg : NULL));
	push_report_free(&rep);
	store_close(st);
	return rc;
}

int cmd_push(const struct cli *cli, int argc, char **argv)
{
	struct push_args a;
	struct config cfg;
	char *data;
	size_t len;
	int rc;

	memset(&a, 0, sizeof a);
	if (cli_wants_help(argc, argv, push_usage))
		return EXIT_DONE;
	if (parse_push_args(argc, argv, &a) < 0) {
		fputs(push_usage, stderr);
		push_args_free(&a);
		return EXIT_USAGE;
	}
	if (cli_load_config(cli, &cfg) < 0) {
		push_args_free(&a);
		return EXIT_USAGE;
	}
	rc = read_input(a.path, cfg.limits.push_bytes, &data, &len);
	if (rc != 0) {
		const char *what = strcmp(a.path, "-") == 0 ? "standard input" : a.path;

		if (rc > 0)
			cli_error(
			    "push: %s is larger than [limits] push_size (%zu bytes): nothing was "
			    "written; split the input, or raise push_size in [limits]",
			    what, cfg.limits.push_bytes);
		else
			cli_error("push: cannot read %s: %s", what, strerror(errno));
		config_free(&cfg);
		push_args_free(&a);
		return EXIT_USAGE;
	}
	rc = push_data(cli, &cfg, &a, data, len);
	free(data);
	config_free(&cfg);
	push_args_free(&a);
	return rc;
}
