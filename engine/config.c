/* The configuration file (INI, read with inih), per design.md "Config" and docs/config.md.
 *
 * inih reads the lines through our reader (config_read.c), which counts them, so that every error
 * names FILE:LINE; the reader also sees each section header first, so that empty sections, unknown
 * sections and repeated sections are caught even when they hold no key. A problem does not stop
 * the parse: every problem of the file is reported at once. */
#include "engine/config_int.h"
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

#define DEFAULT_STORE "/var/lib/leavesync/leavesync.db"
#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_EWS_URL "https://outlook.office365.com/EWS/Exchange.asmx"
#define DEFAULT_GRAPH_URL "https://graph.microsoft.com/v1.0"

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

/* A group name as groupadd(8) accepts it (the group itself is looked up when the store opens). */
static bool is_group_name(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && n <= 32 && v[0] != '-' &&
	       strspn(v, "abcdefghijklmnopqrstuvwxyz"
	                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                 "0123456789._-") == n;
}

static int set_store(struct parse_ctx *x, const char *key, const char *v)
{
	long n;

	if (strcmp(key, "path") == 0) {
		if (!*v)
			return config_fail(x, "[store] path is empty: give the SQLite file, e.g. "
			                      "path = /var/lib/leavesync/leavesync.db");
		set_str(&x->cfg->store_path, v);
		return 1;
	}
	if (strcmp(key, "keep_history_days") == 0) {
		if (parse_long(v, 0, 36500, &n) < 0)
			return config_fail(x,
			                   "[store] keep_history_days = %s: expected days from 0 "
			                   "(keep forever) to 36500",
			                   v);
		x->cfg->keep_history_days = (int)n;
		return 1;
	}
	if (strcmp(key, "group") == 0) {
		if (!is_group_name(v))
			return config_fail(x,
			                   "[store] group = %s: expected a group name such as "
			                   "leavesync-hr",
			                   v);
		set_str(&x->cfg->store_group, v);
		return 1;
	}
	return config_fail(x,
	                   "unknown key \"%s\" in [store]: expected path, keep_history_days or "
	                   "group",
	                   key);
}

/* An instance name: 1 to 32 letters, digits or '-' (stored lower-case; it is part of every tag). */
static int set_instance(struct parse_ctx *x, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > CONFIG_INSTANCE_MAX ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n)
		return config_fail(x,
		                   "[sync] instance = %s: expected 1 to %d letters, digits or '-', "
		                   "e.g. instance = staging",
		                   v, CONFIG_INSTANCE_MAX);
	set_str(&x->cfg->instance, v);
	for (char *p = x->cfg->instance; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 1;
}

static int set_int_key(struct parse_ctx *x, const char *key, const char *v, long min, long max,
                       int *out)
{
	long n;

	if (parse_long(v, min, max, &n) < 0)
		return config_fail(x, "[sync] %s = %s: expected a whole number from %ld to %ld",
		                   key, v, min, max);
	*out = (int)n;
	return 1;
}

static int set_backend_name(struct parse_ctx *x, const char *where, const char *v, char **dst)
{
	if (strcmp(v, "ews") != 0 && strcmp(v, "graph") != 0)
		return config_fail(x, "%s backend = %s: expected ews or graph", where, v);
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
			return config_fail(
			    x, "[sync] delete_share = %s: expected a share from 0 to 1, e.g. 0.5",
			    v);
		c->delete_share = d;
		return 1;
	}
	if (strcmp(key, "instance") == 0)
		return set_instance(x, v);
	if (strcmp(key, "stale_after") == 0) {
		int secs = 0;

		if (!set_int_key(x, key, v, 0, 31 * 86400, &secs))
			return 0;
		c->stale_after = secs;
		return 1;
	}
	if (strcmp(key, "test_mailbox") == 0) {
		if (!strchr(v, '@'))
			return config_fail(x, "[sync] test_mailbox = %s: expected an email address",
			                   v);
		set_str(&c->test_mailbox, v);
		return 1;
	}
	return config_fail(
	    x,
	    "unknown key \"%s\" in [sync]: expected backend, instance, concurrency, "
	    "mailbox_concurrency, max_attempts, max_leave_days, delete_share, delete_min, "
	    "create_grace, run_deadline, stale_after or test_mailbox",
	    key);
}

static int set_url_key(struct parse_ctx *x, const char *sec, const char *key, const char *v,
                       char **dst)
{
	const char *why;

	if (check_url(v, &why) < 0) {
		/* shown without user info, query or fragment: a password there is never echoed */
		char *shown = http_redact_url(v);

		config_fail(x, "[%s] %s = %s: %s", sec, key, shown, why);
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

	if (ews && (n = config_onprem_key(x, key, v)) >= 0)
		return (int)n;
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
			return config_fail(
			    x, "[%s] client_secret_expires = %s: expected a date YYYY-MM-DD", sec,
			    v);
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
		return n > 0 ? 1 : config_fail(x, "[%s] %s", sec, why);
	if (strcmp(key, "batch_size") == 0) {
		long max = ews ? 100 : 20;

		if (parse_long(v, 1, max, &n) < 0)
			return config_fail(
			    x, "[%s] batch_size = %s: expected a whole number from 1 to %ld", sec,
			    v, max);
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
		return config_fail(
		    x,
		    "[ews] server_version = %s: expected Exchange2007_SP1, Exchange2010, "
		    "Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1 or "
		    "Exchange2016",
		    v);
	}
	if (!ews && strcmp(key, "mode") == 0) {
		if (strcmp(v, "delegated") != 0 && strcmp(v, "application") != 0)
			return config_fail(
			    x, "[graph] mode = %s: expected delegated or application", v);
		set_str(&s->mode, v);
		return 1;
	}
	if (!ews && strcmp(key, "redirect_uri") == 0)
		return set_url_key(x, sec, key, v, &s->redirect_uri);
	return config_fail(
	    x,
	    "unknown key \"%s\" in [%s]: expected tenant_id, client_id, client_secret, "
	    "client_secret_file, client_secret_expires, cert_file, key_file, cert_algorithm, "
	    "cloud, url, authority, batch_size%s",
	    key, sec,
	    ews ? ", server_version, auth, username, password_file, password"
	        : ", mode, redirect_uri");
}

static int set_tls(struct parse_ctx *x, const char *key, const char *v)
{
	if (strcmp(key, "ca_file") != 0)
		return config_fail(x, "unknown key \"%s\" in [tls]: the only key is ca_file", key);
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
		if (parse_yes_no(v, &pol->sync) < 0)
			return config_fail(x, "[%s] sync = %s: expected true or false", sec, v);
		*mask |= POLICY_SET_SYNC;
	} else if (strcmp(key, "subject") == 0) {
		if (check_template(v, bad) < 0)
			return config_fail(
			    x,
			    "[%s] subject: unknown placeholder %s: use {kind}, {note}, {id} or "
			    "{mailbox}",
			    sec, bad);
		set_str(&pol->subject, v);
		*mask |= POLICY_SET_SUBJECT;
	} else if (strcmp(key, "show_as") == 0) {
		if (show_as_parse(v, &pol->show_as) < 0)
			return config_fail(
			    x,
			    "[%s] show_as = %s: expected oof, busy, free, tentative or "
			    "workingElsewhere",
			    sec, v);
		*mask |= POLICY_SET_SHOW_AS;
	} else if (strcmp(key, "sensitivity") == 0) {
		if (sensitivity_parse(v, &pol->sensitivity) < 0)
			return config_fail(
			    x,
			    "[%s] sensitivity = %s: expected normal, personal, private or "
			    "confidential",
			    sec, v);
		*mask |= POLICY_SET_SENSITIVITY;
	} else if (strcmp(key, "categories") == 0) {
		if (strpbrk(v, ";\\"))
			return config_fail(
			    x,
			    "[%s] categories = %s: separate categories with commas; ';' "
			    "and '\\' are not allowed",
			    sec, v);
		set_str(&pol->categories, *v ? v : NULL);
		*mask |= POLICY_SET_CATEGORIES;
	} else if (strcmp(key, "include_note") == 0) {
		if (parse_yes_no(v, &pol->include_note) < 0)
			return config_fail(x, "[%s] include_note = %s: expected true or false", sec,
			                   v);
		*mask |= POLICY_SET_INCLUDE_NOTE;
	} else if (strcmp(key, "reminder") == 0) {
		if (strcasecmp(v, "none") == 0)
			n = -1;
		else if (parse_long(v, -1, 40320, &n) < 0)
			return config_fail(
			    x,
			    "[%s] reminder = %s: expected minutes before the start (0 to 40320) "
			    "or none",
			    sec, v);
		pol->reminder_minutes = (int)n;
		*mask |= POLICY_SET_REMINDER;
	} else if (x->sec == SEC_EVENT && strcmp(key, "time_zone") == 0) {
		if (!tz_is_known_iana(v))
			return config_fail(
			    x,
			    "[event] time_zone = %s: not an IANA time zone; use a name "
			    "such as Europe/Riga or UTC",
			    v);
		set_str(&x->cfg->default_time_zone, v);
	} else {
		return config_fail(
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
		return config_fail(x, "unknown key \"%s\" in [%s]: the only key is backend", key,
		                   x->sec_text);
	return set_backend_name(x, "[mailbox]", v, &x->cfg->routes[x->sec_index].backend);
}

/* ---- keys (called by inih) ---- */

int config_on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *x = user;
	const struct seen_key *dup;

	(void)section; /* the reader saw the header first: x->sec is its meaning */
	if (x->sec == SEC_SKIP)
		return 1; /* its header was reported */
	if (!x->sec_text)
		return config_fail(x, "\"%s\" is outside any section: put it under its [section]",
		                   key);
	if ((dup = config_find_seen(x, x->sec_text, key)) != NULL)
		return config_fail(x, "[%s] %s is set twice (first at line %d): keep one",
		                   x->sec_text, key, dup->line);
	config_add_seen(x, x->sec_text, key);
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

		return config_set_push(x->cfg, key, value, why, sizeof why) < 0
		           ? config_fail(x, "%s", why)
		           : 1;
	}
	case SEC_LIMITS: {
		char why[ERROR_MAX - 200];

		if (config_limits_set(&x->cfg->limits, key, value, why, sizeof why) < 0)
			return config_fail(x, "%s", why);
		return 1;
	}
	case SEC_NONE:
	case SEC_SKIP:
		break;
	}
	return 1;
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
	c->store_path = xstrdup(DEFAULT_STORE);
	c->keep_history_days = 90;
	c->instance = xstrdup(CONFIG_DEFAULT_INSTANCE);
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

void config_warn_if_readable(struct config *c, const char *what, const char *path, int fd,
                             bool group_too)
{
	struct stat st;
	struct buf b = BUF_INIT;

	if ((fd >= 0 ? fstat(fd, &st) : stat(path, &st)) < 0 ||
	    !(st.st_mode & (group_too ? S_IRGRP | S_IROTH : S_IROTH)))
		return;
	buf_printf(&b,
	           "%s %s is readable by %s (mode %04o) and may hold secrets: run `chmod 600 %s`",
	           what, path, (st.st_mode & S_IROTH) ? "others" : "its group",
	           (unsigned)(st.st_mode & 07777), path);
	strv_push(&c->warnings, buf_steal(&b));
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
		config_fail(x, "[%s] sets both client_secret and client_secret_file: keep one",
		            section);
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
		config_fail(
		    x,
		    "[%s] client_secret_file %s: %s; create it with the secret on one line, mode "
		    "600",
		    section, sp->file, strerror(errno));
		return -1;
	}
	free(s->client_secret);
	s->client_secret = trimmed(data, len);
	free(data);
	if (!*s->client_secret) {
		config_fail(x,
		            "[%s] client_secret_file %s is empty: write the client secret into it",
		            section, sp->file);
		return -1;
	}
	snprintf(src, sizeof src, "file %s", sp->file);
	set_str(&s->client_secret_source, src);
	config_warn_if_readable(x->cfg, "client secret file", sp->file, -1, true);
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
	free(x->password.file);
	config_errors_free(x->errors);
	free(x->error_lines);
}

/* The secrets join the redaction filter: a server that echoes one never gets it printed. */
static void register_secrets(const struct config *c)
{
	redact_add_secret(c->ews.client_secret);
	redact_add_secret(c->graph.client_secret);
	redact_add_secret(c->ews.password);
}

static int parse_file(struct parse_ctx *x, struct error *err)
{
	if (config_parse_lines(x, err) < 0 && !x->nerrors)
		return -1; /* an I/O failure, err set */
	resolve_secret(x, &x->cfg->ews, &x->secret[0], "ews", "LEAVESYNC_EWS_CLIENT_SECRET");
	resolve_secret(x, &x->cfg->graph, &x->secret[1], "graph", "LEAVESYNC_GRAPH_CLIENT_SECRET");
	config_onprem_resolve(x);
	if (!x->nerrors) {
		register_secrets(x->cfg);
		return 0;
	}
	config_report_errors(x, err);
	return -1;
}

int config_load_all(const char *given, struct config *cfg, char ***errors, struct error *err)
{
	struct parse_ctx x;
	char *path;
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof *cfg);
	if (errors)
		*errors = NULL;
	if (config_find(given, &path, err) < 0)
		return -1;
	config_defaults(cfg);
	cfg->path = path;
	f = fopen(path, "r");
	if (!f) {
		error_set(err,
		          "%s: cannot read the config file: %s; check its owner and mode (the "
		          "service user needs to read it), or give another with -c FILE",
		          path, strerror(errno));
		config_free(cfg);
		return -1;
	}
	memset(&x, 0, sizeof x);
	x.cfg = cfg;
	x.path = path;
	x.f = f;
	rc = parse_file(&x, err);
	/* readable by others: always worth a warning; by its group only when it holds a secret (a
	 * config without one may be 0640 root:leavesync, docs/operations.md) */
	if (rc == 0)
		config_warn_if_readable(cfg, "config file", path, fileno(f),
		                        x.secret[0].secret_line || x.secret[1].secret_line ||
		                            x.password.secret_line);
	fclose(f);
	if (rc < 0 && errors && x.nerrors) {
		*errors = x.errors;
		x.errors = NULL;
	}
	parse_ctx_free(&x);
	if (rc < 0) {
		config_free(cfg);
		return rc;
	}
	cloud_apply(&cfg->ews, false);
	cloud_apply(&cfg->graph, true);
	return rc;
}

int config_load(const char *given, struct config *cfg, struct error *err)
{
	return config_load_all(given, cfg, NULL, err);
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
	free(s->auth);
	free(s->username);
	if (s->password)
		memset(s->password, 0, strlen(s->password));
	free(s->password);
	free(s->password_source);
	free(s->autodiscover_srv_override);
	free(s->connect_to);
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
	free(cfg->store_group);
	free(cfg->instance);
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

bool config_backend_used(const struct config *cfg, const char *name)
{
	if (cfg->backend && strcmp(cfg->backend, name) == 0)
		return true;
	for (size_t i = 0; i < cfg->nroutes; i++)
		if (cfg->routes[i].backend && strcmp(cfg->routes[i].backend, name) == 0)
			return true;
	return false;
}

const char *config_backend_for(const struct config *cfg, const char *mailbox)
{
	for (size_t i = 0; mailbox && i < cfg->nroutes; i++)
		if (strcasecmp(cfg->routes[i].mailbox, mailbox) == 0)
			return cfg->routes[i].backend;
	return cfg->backend ? cfg->backend : "graph";
}

bool config_ews_password_auth(const struct service_config *s)
{
	return s->auth && strcmp(s->auth, "oauth") != 0;
}
