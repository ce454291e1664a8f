/* The configuration file (INI, read with inih), per design.md "Config" and docs/config.md.
 *
 * inih reads the lines through our reader, which counts them, so that every error names FILE:LINE;
 * the reader also sees each section header first, so that empty sections, unknown sections and
 * repeated sections are caught even when they hold no key. The first problem stops the parse. */
#include "engine/config.h"
#include "engine/cloud.h"

#include "common/buf.h"
#include "common/redact.h"
#include "common/util.h"
#include "engine/http.h"
#include "engine/tz.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_CONFIG "./leavesync.conf"
#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_EWS_URL "https://outlook.office365.com/EWS/Exchange.asmx"
#define DEFAULT_GRAPH_URL "https://graph.microsoft.com/v1.0"

enum section_kind {
	SEC_NONE,
	SEC_STORE,
	SEC_SYNC,
	SEC_EWS,
	SEC_GRAPH,
	SEC_TLS,
	SEC_EVENT,
	SEC_KIND,
	SEC_MAILBOX,
	SEC_SERVE,
	SEC_PUSH,
	SEC_LIMITS
};

struct seen_key {
	char *section; /* the header's text, e.g. `kind "Sick leave"` */
	char *key;
	int line;
};

struct secret_spec {
	int secret_line; /* client_secret given at this line (0: not) */
	int file_line;   /* client_secret_file given at this line */
	char *file;
};

struct parse_ctx {
	struct config *cfg;
	const char *path;
	FILE *f;
	char *linebuf;
	size_t linecap;
	int line; /* lines handed to inih so far: the line being parsed */
	struct error *err;
	int error_line;        /* line of our first error; 0 none */
	enum section_kind sec; /* the section the current keys belong to */
	char *sec_text;        /* its header text */
	int sec_line;          /* its header line */
	size_t sec_index;      /* SEC_KIND, SEC_MAILBOX: index in cfg->kinds / cfg->routes */
	struct seen_key *seen; /* every section header and key, for "appears twice" */
	size_t nseen;
	struct secret_spec secret[2]; /* [ews], [graph] */
};

/* ---- errors ---- */

__attribute__((format(printf, 2, 3))) static int fail(struct parse_ctx *x, const char *fmt, ...)
{
	char msg[ERROR_MAX - 128];
	va_list ap;

	if (x->error_line)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	x->error_line = x->line ? x->line : 1;
	error_set(x->err, "%s:%d: %s", x->path, x->error_line, msg);
	return 0; /* inih: handler failed */
}

/* ---- value parsers ---- */

static int parse_long(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
	                                                                            "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = false, 0;
	}
	return -1;
}

static bool is_loopback_host(const char *host, size_t n)
{
	return (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	       (n == 5 && strncmp(host, "[::1]", 5) == 0) ||
	       (n >= 7 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == n);
}

/* https://HOST[...], or http://HOST[...] when HOST is a loopback address (the simulator). */
static int check_url(const char *v, const char **why)
{
	const char *host;
	size_t n;
	bool https = strncasecmp(v, "https://", 8) == 0;

	if (!https && strncasecmp(v, "http://", 7) != 0) {
		*why = "not an https:// URL";
		return -1;
	}
	host = v + (https ? 8 : 7);
	if (*host == '[') {
		const char *close = strchr(host, ']');

		n = close ? (size_t)(close - host) + 1 : 0;
	} else {
		n = strcspn(host, ":/?#");
	}
	if (memchr(host, '@', strcspn(host, "/?#"))) {
		*why = "user info (user:password@) is not allowed: credentials never go in URLs; "
		       "remove it (the secret belongs in client_secret_file or the environment)";
		return -1;
	}
	if (n == 0 || strpbrk(v, " \t\"<>")) {
		*why = "not a valid URL (no host, or spaces)";
		return -1;
	}
	if (!https && !is_loopback_host(host, n)) {
		*why = "plain http:// is accepted only for loopback hosts (localhost, 127.0.0.1, "
		       "[::1]): "
		       "use https://";
		return -1;
	}
	return 0;
}

static int check_date(const char *v)
{
	int64_t t;

	return strlen(v) == 10 && tz_local_to_unix(v, "UTC", &t) == 0 ? 0 : -1;
}

/* Only {kind} {note} {id} {mailbox} may appear in braces. */
static int check_template(const char *v, char bad[32])
{
	static const char *const known[] = {"{kind}", "{note}", "{id}", "{mailbox}"};

	for (const char *p = strchr(v, '{'); p; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');
		size_t n = close ? (size_t)(close - p) + 1 : strlen(p), i;

		for (i = 0; i < 4; i++)
			if (n == strlen(known[i]) && strncmp(p, known[i], n) == 0)
				break;
		if (i == 4) {
			snprintf(bad, 32, "%.*s", (int)(n < 30 ? n : 30), p);
			return -1;
		}
	}
	return 0;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* ---- sections ---- */

static int set_store(struct parse_ctx *x, const char *key, const char *v)
{
	if (strcmp(key, "path") != 0)
		return fail(x, "unknown key \"%s\" in [store]: the only key is path", key);
	if (!*v)
		return fail(x, "[store] path is empty: give the SQLite file, e.g. path = "
		               "/var/lib/leavesync/leavesync.db");
	set_str(&x->cfg->store_path, v);
	return 1;
}

static int set_int_key(struct parse_ctx *x, const char *key, const char *v, long min, long max,
                       int *out)
{
	long n;

	if (parse_long(v, min, max, &n) < 0)
		return fail(x, "[sync] %s = %s: expected a whole number from %ld to %ld", key, v,
		            min, max);
	*out = (int)n;
	return 1;
}

static int set_backend_name(struct parse_ctx *x, const char *where, const char *v, char **dst)
{
	if (strcmp(v, "ews") != 0 && strcmp(v, "graph") != 0)
		return fail(x, "%s backend = %s: expected ews or graph", where, v);
	set_str(dst, v);
	return 1;
}

static int set_sync(struct parse_ctx *x, const char *key, const char *v)
{
	struct config *c = x->cfg;

	if (strcmp(key, "backend") == 0)
		return set_backend_name(x, "[sync]", v, &c->backend);
	if (strcmp(key, "concurrency") == 0)
		return set_int_key(x, key, v, 1, 64, &c->concurrency);
	if (strcmp(key, "mailbox_concurrency") == 0)
		return set_int_key(x, key, v, 1, 4, &c->mailbox_concurrency);
	if (strcmp(key, "max_attempts") == 0)
		return set_int_key(x, key, v, 1, 100, &c->max_attempts);
	if (strcmp(key, "max_leave_days") == 0)
		return set_int_key(x, key, v, 1, 3660, &c->max_leave_days);
	if (strcmp(key, "delete_min") == 0)
		return set_int_key(x, key, v, 0, 1000000, &c->delete_min);
	if (strcmp(key, "create_grace") == 0)
		return set_int_key(x, key, v, 0, 3600, &c->create_grace);
	if (strcmp(key, "run_deadline") == 0)
		return set_int_key(x, key, v, 0, 86400, &c->run_deadline);
	if (strcmp(key, "delete_share") == 0) {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (errno || end == v || *end || !(d >= 0.0 && d <= 1.0))
			return fail(
			    x, "[sync] delete_share = %s: expected a share from 0 to 1, e.g. 0.5",
			    v);
		c->delete_share = d;
		return 1;
	}
	if (strcmp(key, "test_mailbox") == 0) {
		if (!strchr(v, '@'))
			return fail(x, "[sync] test_mailbox = %s: expected an email address", v);
		set_str(&c->test_mailbox, v);
		return 1;
	}
	return fail(
	    x,
	    "unknown key \"%s\" in [sync]: expected backend, concurrency, mailbox_concurrency, "
	    "max_attempts, max_leave_days, delete_share, delete_min, create_grace, run_deadline or "
	    "test_mailbox",
	    key);
}

static int set_url_key(struct parse_ctx *x, const char *sec, const char *key, const char *v,
                       char **dst)
{
	const char *why;

	if (check_url(v, &why) < 0) {
		/* shown without user info, query or fragment: a password there is never echoed */
		char *shown = http_redact_url(v);

		fail(x, "[%s] %s = %s: %s", sec, key, shown, why);
		free(shown);
		return 0;
	}
	set_str(dst, v);
	return 1;
}

static int set_service(struct parse_ctx *x, const char *key, const char *v)
{
	bool ews = x->sec == SEC_EWS;
	const char *sec = ews ? "ews" : "graph";
	struct service_config *s = ews ? &x->cfg->ews : &x->cfg->graph;
	struct secret_spec *sp = &x->secret[ews ? 0 : 1];
	char why[160];
	long n;

	if (strcmp(key, "tenant_id") == 0 || strcmp(key, "client_id") == 0) {
		set_str(key[0] == 't' ? &s->tenant_id : &s->client_id, v);
		return 1;
	}
	if (strcmp(key, "client_secret") == 0) {
		char src[64];

		set_str(&s->client_secret, v);
		snprintf(src, sizeof src, "config line %d", x->line);
		set_str(&s->client_secret_source, src);
		sp->secret_line = x->line;
		return 1;
	}
	if (strcmp(key, "client_secret_file") == 0) {
		set_str(&sp->file, v);
		sp->file_line = x->line;
		return 1;
	}
	if (strcmp(key, "client_secret_expires") == 0) {
		if (check_date(v) < 0)
			return fail(x,
			            "[%s] client_secret_expires = %s: expected a date YYYY-MM-DD",
			            sec, v);
		set_str(&s->client_secret_expires, v);
		return 1;
	}
	if (strcmp(key, "cert_file") == 0 || strcmp(key, "key_file") == 0) {
		set_str(key[0] == 'c' ? &s->cert_file : &s->key_file, v);
		return 1;
	}
	if (strcmp(key, "url") == 0)
		return (s->url_set = true), set_url_key(x, sec, key, v, &s->url);
	if (strcmp(key, "authority") == 0)
		return (s->authority_set = true), set_url_key(x, sec, key, v, &s->authority);
	if ((n = cloud_config_key(s, key, v, why, sizeof why)) != 0)
		return n > 0 ? 1 : fail(x, "[%s] %s", sec, why);
	if (strcmp(key, "batch_size") == 0) {
		long max = ews ? 100 : 20;

		if (parse_long(v, 1, max, &n) < 0)
			return fail(x,
			            "[%s] batch_size = %s: expected a whole number from 1 to %ld",
			            sec, v, max);
		s->batch_size = (size_t)n;
		return 1;
	}
	if (ews && strcmp(key, "server_version") == 0) {
		static const char *const versions[] = {
		    "Exchange2007_SP1", "Exchange2010",     "Exchange2010_SP1", "Exchange2010_SP2",
		    "Exchange2013",     "Exchange2013_SP1", "Exchange2016"};

		for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
			if (strcmp(v, versions[i]) == 0)
				return set_str(&s->server_version, v), 1;
		return fail(x,
		            "[ews] server_version = %s: expected Exchange2007_SP1, Exchange2010, "
		            "Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1 or "
		            "Exchange2016",
		            v);
	}
	if (!ews && strcmp(key, "mode") == 0) {
		if (strcmp(v, "delegated") != 0 && strcmp(v, "application") != 0)
			return fail(x, "[graph] mode = %s: expected delegated or application", v);
		set_str(&s->mode, v);
		return 1;
	}
	if (!ews && strcmp(key, "redirect_uri") == 0)
		return set_url_key(x, sec, key, v, &s->redirect_uri);
	return fail(x,
	            "unknown key \"%s\" in [%s]: expected tenant_id, client_id, client_secret, "
	            "client_secret_file, client_secret_expires, cert_file, key_file, "
	            "cert_algorithm, cloud, "
	            "url, authority, batch_size%s",
	            key, sec, ews ? ", server_version" : ", mode, redirect_uri");
}

static int set_tls(struct parse_ctx *x, const char *key, const char *v)
{
	if (strcmp(key, "ca_file") != 0)
		return fail(x, "unknown key \"%s\" in [tls]: the only key is ca_file", key);
	set_str(&x->cfg->ca_file, v);
	return 1;
}

/* A key of [event] or [kind "NAME"] into pol; *mask records which fields were set. */
static int set_policy(struct parse_ctx *x, struct event_policy *pol, unsigned *mask,
                      const char *key, const char *v)
{
	const char *sec = x->sec_text;
	char bad[32];
	long n;

	if (strcmp(key, "sync") == 0) {
		if (parse_bool(v, &pol->sync) < 0)
			return fail(x, "[%s] sync = %s: expected true or false", sec, v);
		*mask |= POLICY_SET_SYNC;
	} else if (strcmp(key, "subject") == 0) {
		if (check_template(v, bad) < 0)
			return fail(
			    x,
			    "[%s] subject: unknown placeholder %s: use {kind}, {note}, {id} or "
			    "{mailbox}",
			    sec, bad);
		set_str(&pol->subject, v);
		*mask |= POLICY_SET_SUBJECT;
	} else if (strcmp(key, "show_as") == 0) {
		if (show_as_parse(v, &pol->show_as) < 0)
			return fail(x,
			            "[%s] show_as = %s: expected oof, busy, free, tentative or "
			            "workingElsewhere",
			            sec, v);
		*mask |= POLICY_SET_SHOW_AS;
	} else if (strcmp(key, "sensitivity") == 0) {
		if (sensitivity_parse(v, &pol->sensitivity) < 0)
			return fail(x,
			            "[%s] sensitivity = %s: expected normal, personal, private or "
			            "confidential",
			            sec, v);
		*mask |= POLICY_SET_SENSITIVITY;
	} else if (strcmp(key, "categories") == 0) {
		if (strpbrk(v, ";\\"))
			return fail(x,
			            "[%s] categories = %s: separate categories with commas; ';' "
			            "and '\\' are not allowed",
			            sec, v);
		set_str(&pol->categories, *v ? v : NULL);
		*mask |= POLICY_SET_CATEGORIES;
	} else if (strcmp(key, "include_note") == 0) {
		if (parse_bool(v, &pol->include_note) < 0)
			return fail(x, "[%s] include_note = %s: expected true or false", sec, v);
		*mask |= POLICY_SET_INCLUDE_NOTE;
	} else if (strcmp(key, "reminder") == 0) {
		if (strcasecmp(v, "none") == 0)
			n = -1;
		else if (parse_long(v, -1, 40320, &n) < 0)
			return fail(
			    x,
			    "[%s] reminder = %s: expected minutes before the start (0 to 40320) "
			    "or none",
			    sec, v);
		pol->reminder_minutes = (int)n;
		*mask |= POLICY_SET_REMINDER;
	} else if (x->sec == SEC_EVENT && strcmp(key, "time_zone") == 0) {
		if (!tz_is_known_iana(v))
			return fail(x,
			            "[event] time_zone = %s: not an IANA time zone; use a name "
			            "such as Europe/Riga or UTC",
			            v);
		set_str(&x->cfg->default_time_zone, v);
	} else {
		return fail(
		    x,
		    "unknown key \"%s\" in [%s]: expected sync, subject, show_as, sensitivity, "
		    "categories, include_note, reminder%s",
		    key, sec, x->sec == SEC_EVENT ? ", time_zone" : "");
	}
	return 1;
}

static int set_route(struct parse_ctx *x, const char *key, const char *v)
{
	if (strcmp(key, "backend") != 0)
		return fail(x, "unknown key \"%s\" in [%s]: the only key is backend", key,
		            x->sec_text);
	return set_backend_name(x, "[mailbox]", v, &x->cfg->routes[x->sec_index].backend);
}

/* ---- section headers ---- */

static const struct seen_key *find_seen(const struct parse_ctx *x, const char *section,
                                        const char *key)
{
	for (size_t i = 0; i < x->nseen; i++)
		if (strcasecmp(x->seen[i].section, section) == 0 &&
		    strcmp_null(x->seen[i].key, key) == 0)
			return &x->seen[i];
	return NULL;
}

static void add_seen(struct parse_ctx *x, const char *section, const char *key)
{
	x->seen = xrealloc(x->seen, (x->nseen + 1) * sizeof *x->seen);
	x->seen[x->nseen].section = xstrdup(section);
	x->seen[x->nseen].key = xstrdup(key);
	x->seen[x->nseen].line = x->line;
	x->nseen++;
}

/* `kind "Sick leave"` -> "Sick leave"; NULL unless the header has that form. */
static char *quoted_name(const char *text, const char *word)
{
	size_t wl = strlen(word);
	const char *p = text + wl, *close;

	if (strncmp(text, word, wl) != 0 || !isspace((unsigned char)*p))
		return NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '"' || !(close = strchr(p + 1, '"')) || close == p + 1)
		return NULL;
	for (const char *q = close + 1; *q; q++)
		if (!isspace((unsigned char)*q))
			return NULL;
	return xstrndup(p + 1, (size_t)(close - p - 1));
}

static int begin_kind(struct parse_ctx *x, char *name)
{
	struct config *c = x->cfg;

	for (size_t i = 0; i < c->nkinds; i++) {
		if (strcasecmp(c->kinds[i].kind, name) == 0) {
			free(name);
			return fail(x,
			            "[%s] appears twice (kind names compare ignoring case): merge "
			            "the two sections into one",
			            x->sec_text);
		}
	}
	c->kinds = xrealloc(c->kinds, (c->nkinds + 1) * sizeof *c->kinds);
	memset(&c->kinds[c->nkinds], 0, sizeof c->kinds[0]);
	c->kinds[c->nkinds].kind = name;
	c->kinds[c->nkinds].policy.reminder_minutes = -1;
	x->sec_index = c->nkinds++;
	x->sec = SEC_KIND;
	return 1;
}

static int begin_mailbox(struct parse_ctx *x, char *addr)
{
	struct config *c = x->cfg;

	for (char *p = addr; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!strchr(addr, '@')) {
		free(addr);
		return fail(x,
		            "[%s]: expected an email address, e.g. [mailbox \"alice@contoso.com\"]",
		            x->sec_text);
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i].mailbox, addr) == 0) {
			free(addr);
			return fail(x, "[%s] appears twice: merge the two sections into one",
			            x->sec_text);
		}
	}
	c->routes = xrealloc(c->routes, (c->nroutes + 1) * sizeof *c->routes);
	c->routes[c->nroutes].mailbox = addr;
	c->routes[c->nroutes].backend = NULL;
	x->sec_index = c->nroutes++;
	x->sec = SEC_MAILBOX;
	return 1;
}

/* A section that needs a key it did not get; reported at its header. */
static int end_section(struct parse_ctx *x)
{
	int line = x->line;

	if (x->sec != SEC_MAILBOX || x->cfg->routes[x->sec_index].backend)
		return 1;
	x->line = x->sec_line;
	fail(x, "[%s] has no backend: add backend = ews or backend = graph", x->sec_text);
	x->line = line;
	return 0;
}

static int begin_section(struct parse_ctx *x, const char *text)
{
	static const struct {
		const char *name;
		enum section_kind kind;
	} fixed[] = {{"store", SEC_STORE},   {"sync", SEC_SYNC}, {"ews", SEC_EWS},
	             {"graph", SEC_GRAPH},   {"tls", SEC_TLS},   {"event", SEC_EVENT},
	             {"serve", SEC_SERVE},   {"push", SEC_PUSH}, {"limits", SEC_LIMITS}};
	const struct seen_key *seen = find_seen(x, text, NULL);
	int dup_line = seen ? seen->line : 0; /* add_seen may move the array */
	char *name;

	if (!end_section(x))
		return 0;
	set_str(&x->sec_text, text);
	x->sec_line = x->line;
	x->sec = SEC_NONE;
	add_seen(x, text, NULL);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (strcmp(text, fixed[i].name) == 0) {
			if (dup_line)
				return fail(x,
				            "[%s] appears twice (first at line %d): merge the two "
				            "sections into one",
				            text, dup_line);
			x->sec = fixed[i].kind;
			if (x->sec == SEC_EWS || x->sec == SEC_GRAPH)
				(x->sec == SEC_EWS ? &x->cfg->ews : &x->cfg->graph)->configured =
				    true;
			return 1;
		}
	}
	if ((name = quoted_name(text, "kind")) != NULL)
		return begin_kind(x, name);
	if ((name = quoted_name(text, "mailbox")) != NULL)
		return begin_mailbox(x, name);
	if (strncmp(text, "kind", 4) == 0 || strncmp(text, "mailbox", 7) == 0)
		return fail(x,
		            "[%s]: put the name in double quotes, e.g. [kind \"Sick leave\"] or "
		            "[mailbox \"alice@contoso.com\"]",
		            text);
	return fail(x,
	            "unknown section [%s]: expected [store], [sync], [push], [ews], [graph], "
	            "[tls], [event], [limits], [serve], [kind \"NAME\"] or [mailbox \"EMAIL\"]",
	            text);
}

/* ---- inih plumbing ---- */

static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *x = user;
	const struct seen_key *dup;

	(void)section; /* the reader saw the header first: x->sec is its meaning */
	if (x->error_line)
		return 0;
	if (!x->sec_text)
		return fail(x, "\"%s\" is outside any section: put it under its [section]", key);
	if ((dup = find_seen(x, x->sec_text, key)) != NULL)
		return fail(x, "[%s] %s is set twice (first at line %d): keep one", x->sec_text,
		            key, dup->line);
	add_seen(x, x->sec_text, key);
	switch (x->sec) {
	case SEC_STORE:
		return set_store(x, key, value);
	case SEC_SYNC:
		return set_sync(x, key, value);
	case SEC_EWS:
	case SEC_GRAPH:
		return set_service(x, key, value);
	case SEC_TLS:
		return set_tls(x, key, value);
	case SEC_EVENT: {
		unsigned mask = 0;

		return set_policy(x, &x->cfg->event, &mask, key, value);
	}
	case SEC_KIND: {
		struct kind_policy *k = &x->cfg->kinds[x->sec_index];

		return set_policy(x, &k->policy, &k->set_mask, key, value);
	}
	case SEC_MAILBOX:
		return set_route(x, key, value);
	case SEC_SERVE: {
		struct config *c = x->cfg;

		c->serve = xrealloc(c->serve, (c->nserve + 1) * sizeof *c->serve);
		c->serve[c->nserve++] =
		    (struct config_entry){xstrdup(key), xstrdup(value), x->line};
		return 1;
	}
	case SEC_PUSH: {
		char why[320];

		return config_set_push(x->cfg, key, value, why, sizeof why) < 0 ? fail(x, "%s", why)
		                                                                : 1;
	}
	case SEC_LIMITS: {
		char why[ERROR_MAX - 200];

		if (config_limits_set(&x->cfg->limits, key, value, why, sizeof why) < 0)
			return fail(x, "%s", why);
		return 1;
	}
	case SEC_NONE:
		break;
	}
	return 0;
}

static bool is_blank_or_comment(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return *p == '\0' || *p == ';' || *p == '#';
}

/* A section header line: the text between '[' and ']', as inih reads it; -1 when malformed. */
static int header_text(const char *p, char *out, size_t outlen)
{
	const char *close;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[' || !(close = strchr(p, ']')))
		return -1;
	p++;
	if ((size_t)(close - p) >= outlen)
		return -1;
	memcpy(out, p, (size_t)(close - p));
	out[close - p] = '\0';
	return 0;
}

/* inih's line source: counts lines, refuses what inih would misread, and opens sections. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *x = stream;
	ssize_t n;
	char text[INI_MAX_LINE];

	if (x->error_line || (n = getline(&x->linebuf, &x->linecap, x->f)) < 0)
		return NULL;
	x->line++;
	if (n >= num) {
		fail(x, "the line is longer than %d characters: shorten it", num - 1);
		return NULL;
	}
	if ((x->linebuf[0] == ' ' || x->linebuf[0] == '\t') && !is_blank_or_comment(x->linebuf)) {
		/* inih would join an indented line to the key above it (a continuation line) */
		fail(x, "the line starts with spaces: remove them (indented lines continue the "
		        "value above)");
		return NULL;
	}
	if (x->linebuf[0] == '[') {
		if (header_text(x->linebuf, text, sizeof text) < 0) {
			fail(x, "a section header needs a closing ]: write [section]");
			return NULL;
		}
		if (!begin_section(x, text))
			return NULL;
	}
	memcpy(str, x->linebuf, (size_t)n + 1);
	return str;
}

/* ---- defaults, secrets, loading ---- */

static void service_defaults(struct service_config *s, bool ews)
{
	s->url = xstrdup(ews ? DEFAULT_EWS_URL : DEFAULT_GRAPH_URL);
	s->authority = xstrdup(DEFAULT_AUTHORITY);
	s->server_version = ews ? xstrdup("Exchange2016") : NULL;
	s->mode = ews ? NULL : xstrdup("delegated");
	s->batch_size = ews ? 50 : 20;
}

static void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->store_path = xstrdup("./leavesync.db");
	c->backend = xstrdup("graph");
	c->concurrency = 4;
	c->mailbox_concurrency = 1;
	c->max_attempts = 8;
	c->max_leave_days = 366;
	c->delete_share = 0.5;
	c->delete_min = 10;
	c->create_grace = 60;
	c->snapshot_max_cancel = 0.2;
	c->snapshot_min_cancel = 10;
	config_limits_defaults(&c->limits);
	service_defaults(&c->ews, true);
	service_defaults(&c->graph, false);
	c->event.sync = true;
	c->event.subject = xstrdup("Out of office");
	c->event.show_as = SHOW_OOF;
	c->event.sensitivity = SENS_PRIVATE;
	c->event.include_note = false;
	c->event.reminder_minutes = -1;
	c->default_time_zone = xstrdup("UTC");
}

static void add_warning(struct config *c, char *msg)
{
	size_t n = 0;

	while (c->warnings && c->warnings[n])
		n++;
	c->warnings = xrealloc(c->warnings, (n + 2) * sizeof *c->warnings);
	c->warnings[n] = msg;
	c->warnings[n + 1] = NULL;
}

static void warn_if_readable(struct config *c, const char *what, const char *path, int fd)
{
	struct stat st;
	struct buf b = BUF_INIT;

	if ((fd >= 0 ? fstat(fd, &st) : stat(path, &st)) < 0 || !(st.st_mode & (S_IRGRP | S_IROTH)))
		return;
	buf_printf(&b,
	           "%s %s is readable by %s (mode %04o) and may hold secrets: run `chmod 600 %s`",
	           what, path, (st.st_mode & S_IROTH) ? "others" : "its group",
	           (unsigned)(st.st_mode & 07777), path);
	add_warning(c, buf_steal(&b));
}

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	return xstrndup(s, len);
}

/* The secret of one service: the environment over client_secret_file over client_secret. */
static int resolve_secret(struct parse_ctx *x, struct service_config *s, struct secret_spec *sp,
                          const char *section, const char *env_name)
{
	const char *env = getenv(env_name);
	char *data, src[600];
	size_t len;

	if (sp->secret_line && sp->file_line) {
		x->line = sp->secret_line > sp->file_line ? sp->secret_line : sp->file_line;
		fail(x, "[%s] sets both client_secret and client_secret_file: keep one", section);
		return -1;
	}
	if (env && *env) {
		set_str(&s->client_secret, env);
		snprintf(src, sizeof src, "environment %s", env_name);
		set_str(&s->client_secret_source, src);
		return 0;
	}
	if (!sp->file_line)
		return 0;
	x->line = sp->file_line;
	if (read_file(sp->file, &data, &len) < 0) {
		fail(x,
		     "[%s] client_secret_file %s: %s; create it with the secret on one line, mode "
		     "600",
		     section, sp->file, strerror(errno));
		return -1;
	}
	free(s->client_secret);
	s->client_secret = trimmed(data, len);
	free(data);
	if (!*s->client_secret) {
		fail(x, "[%s] client_secret_file %s is empty: write the client secret into it",
		     section, sp->file);
		return -1;
	}
	snprintf(src, sizeof src, "file %s", sp->file);
	set_str(&s->client_secret_source, src);
	warn_if_readable(x->cfg, "client secret file", sp->file, -1);
	return 0;
}

static void parse_ctx_free(struct parse_ctx *x)
{
	for (size_t i = 0; i < x->nseen; i++) {
		free(x->seen[i].section);
		free(x->seen[i].key);
	}
	free(x->seen);
	free(x->sec_text);
	free(x->linebuf);
	free(x->secret[0].file);
	free(x->secret[1].file);
}

/* The secrets join the redaction filter: a server that echoes one never gets it printed. */
static void register_secrets(const struct config *c)
{
	redact_add_secret(c->ews.client_secret);
	redact_add_secret(c->graph.client_secret);
}

static int parse_file(struct parse_ctx *x)
{
	int rc = ini_parse_stream(read_line, x, on_key, x);

	if (rc < 0)
		return error_set(x->err, "%s: out of memory while reading the file", x->path);
	if (rc > 0 && rc < x->error_line)
		x->error_line = 0; /* inih's syntax error came first: report it */
	if (rc > 0 && !x->error_line) {
		x->line = rc;
		fail(x, "cannot read this line: expected [section], key = value, or a comment (; "
		        "or #)");
	}
	if (x->error_line)
		return -1;
	if (ferror(x->f))
		return error_set(x->err, "%s: read error: %s", x->path, strerror(errno));
	if (!end_section(x))
		return -1;
	if (resolve_secret(x, &x->cfg->ews, &x->secret[0], "ews", "LEAVESYNC_EWS_CLIENT_SECRET") <
	        0 ||
	    resolve_secret(x, &x->cfg->graph, &x->secret[1], "graph",
	                   "LEAVESYNC_GRAPH_CLIENT_SECRET") < 0)
		return -1;
	register_secrets(x->cfg);
	return 0;
}

/* The environment's secrets when there is no file at all. */
static void env_secrets_only(struct config *c)
{
	struct parse_ctx x = {.cfg = c, .path = c->path};

	resolve_secret(&x, &c->ews, &x.secret[0], "ews", "LEAVESYNC_EWS_CLIENT_SECRET");
	resolve_secret(&x, &c->graph, &x.secret[1], "graph", "LEAVESYNC_GRAPH_CLIENT_SECRET");
	parse_ctx_free(&x);
	register_secrets(c);
}

int config_load(const char *path, bool allow_missing, struct config *cfg, struct error *err)
{
	const char *env = getenv("LEAVESYNC_CONFIG");
	bool explicit_path = path != NULL;
	struct parse_ctx x;
	FILE *f;
	int rc;

	config_defaults(cfg);
	if (!path)
		path = env && *env ? env : DEFAULT_CONFIG;
	cfg->path = xstrdup(path);
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT && allow_missing && !explicit_path) {
			env_secrets_only(cfg);
			return 0;
		}
		error_set(err,
		          "%s: cannot read the config file: %s; create it (see docs/config.md) or "
		          "give another with -c FILE",
		          path, strerror(errno));
		config_free(cfg);
		return -1;
	}
	memset(&x, 0, sizeof x);
	x.cfg = cfg;
	x.path = path;
	x.f = f;
	x.err = err;
	warn_if_readable(cfg, "config file", path, fileno(f));
	rc = parse_file(&x);
	fclose(f);
	parse_ctx_free(&x);
	if (rc < 0) {
		config_free(cfg);
		return rc;
	}
	cloud_apply(&cfg->ews, false);
	cloud_apply(&cfg->graph, true);
	return rc;
}

static void service_free(struct service_config *s)
{
	free(s->tenant_id);
	free(s->client_id);
	free(s->client_secret);
	free(s->client_secret_source);
	free(s->client_secret_expires);
	free(s->cert_file);
	free(s->key_file);
	free(s->cert_algorithm);
	free(s->cloud);
	free(s->url);
	free(s->authority);
	free(s->server_version);
	free(s->mode);
	free(s->redirect_uri);
}

static void policy_free(struct event_policy *p)
{
	free(p->subject);
	free(p->categories);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->store_path);
	free(cfg->backend);
	free(cfg->test_mailbox);
	service_free(&cfg->ews);
	service_free(&cfg->graph);
	free(cfg->ca_file);
	policy_free(&cfg->event);
	free(cfg->default_time_zone);
	for (size_t i = 0; i < cfg->nkinds; i++) {
		free(cfg->kinds[i].kind);
		policy_free(&cfg->kinds[i].policy);
	}
	free(cfg->kinds);
	for (size_t i = 0; i < cfg->nroutes; i++) {
		free(cfg->routes[i].mailbox);
		free(cfg->routes[i].backend);
	}
	free(cfg->routes);
	for (size_t i = 0; i < cfg->nserve; i++) {
		free(cfg->serve[i].key);
		free(cfg->serve[i].value);
	}
	free(cfg->serve);
	for (size_t i = 0; cfg->warnings && cfg->warnings[i]; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	memset(cfg, 0, sizeof *cfg);
}

/* ---- lookups ---- */

const struct event_policy *config_policy_for(const struct config *cfg, const char *kind,
                                             struct event_policy *scratch)
{
	const struct kind_policy *k = NULL;
	unsigned m;

	for (size_t i = 0; kind && i < cfg->nkinds; i++)
		if (strcasecmp(cfg->kinds[i].kind, kind) == 0)
			k = &cfg->kinds[i];
	if (!k)
		return &cfg->event;
	m = k->set_mask;
	*scratch = cfg->event;
	if (m & POLICY_SET_SYNC)
		scratch->sync = k->policy.sync;
	if (m & POLICY_SET_SUBJECT)
		scratch->subject = k->policy.subject;
	if (m & POLICY_SET_SHOW_AS)
		scratch->show_as = k->policy.show_as;
	if (m & POLICY_SET_SENSITIVITY)
		scratch->sensitivity = k->policy.sensitivity;
	if (m & POLICY_SET_CATEGORIES)
		scratch->categories = k->policy.categories;
	if (m & POLICY_SET_INCLUDE_NOTE)
		scratch->include_note = k->policy.include_note;
	if (m & POLICY_SET_REMINDER)
		scratch->reminder_minutes = k->policy.reminder_minutes;
	return scratch;
}

const char *config_backend_for(const struct config *cfg, const char *mailbox)
{
	for (size_t i = 0; mailbox && i < cfg->nroutes; i++)
		if (strcasecmp(cfg->routes[i].mailbox, mailbox) == 0)
			return cfg->routes[i].backend;
	return cfg->backend ? cfg->backend : "graph";
}
