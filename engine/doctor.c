/* leavesync doctor: the report and the order of the checks (engine/doctor.h). */
#include "engine/doctor.h"

#include "common/redact.h"
#include "common/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCTOR_TEXT_MAX 2000

void doctor_id(char *out, size_t size, const char *title)
{
	size_t n = 0;
	bool sep = false;

	if (size == 0)
		return;
	if (title[0] == '[' && strchr(title, ']')) {
		const char *close = strchr(title, ']');

		for (const char *p = title + 1; p < close && n + 2 < size; p++)
			out[n++] = (char)tolower((unsigned char)*p);
		if (n + 1 < size)
			out[n++] = '.';
		title = close + 1;
	}
	for (const char *p = title; *p && n + 1 < size; p++) {
		if (isalnum((unsigned char)*p)) {
			if (sep && n && out[n - 1] != '.' && n + 2 < size)
				out[n++] = '_';
			out[n++] = (char)tolower((unsigned char)*p);
			sep = false;
		} else {
			sep = true;
		}
	}
	out[n] = '\0';
}

bool doctor_add(struct doctor_report *rep, enum doctor_status status, const char *title,
                const char *cause, const char *fix)
{
	const char *bar = strchr(title, '|');
	struct doctor_check *c;
	char id[128];

	if (rep->n == rep->cap) {
		rep->cap = rep->cap ? rep->cap * 2 : 16;
		rep->checks = xrealloc(rep->checks, rep->cap * sizeof *rep->checks);
	}
	c = &rep->checks[rep->n++];
	/* A check quotes servers (AADSTS descriptions, a token's claims, fault strings): what is
	 * printed goes through the one filter (common/redact.h). The name is a fixed id. */
	if (bar) {
		c->name = xstrndup(title, (size_t)(bar - title));
		c->title = redact_message_dup(bar + 1, DOCTOR_TEXT_MAX);
	} else {
		doctor_id(id, sizeof id, title);
		c->name = xstrdup(id);
		c->title = redact_message_dup(title, DOCTOR_TEXT_MAX);
	}
	c->status = status;
	c->cause =
	    status == DOCTOR_OK || !cause ? NULL : redact_message_dup(cause, DOCTOR_TEXT_MAX);
	c->fix = status == DOCTOR_OK || !fix ? NULL : redact_message_dup(fix, DOCTOR_TEXT_MAX);
	return status == DOCTOR_OK;
}

bool doctor_addf(struct doctor_report *rep, enum doctor_status status, const char *name,
                 const char *fix, const char *cause_fmt, ...)
{
	va_list ap;
	char cause[2048];

	va_start(ap, cause_fmt);
	vsnprintf(cause, sizeof cause, cause_fmt, ap);
	va_end(ap);
	return doctor_add(rep, status, name, cause, fix);
}

void doctor_report_free(struct doctor_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		free(rep->checks[i].name);
		free(rep->checks[i].title);
		free(rep->checks[i].cause);
		free(rep->checks[i].fix);
	}
	free(rep->checks);
	memset(rep, 0, sizeof *rep);
}

bool doctor_report_ok(const struct doctor_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->checks[i].status == DOCTOR_FAIL)
			return false;
	return true;
}

const char *doctor_status_name(enum doctor_status s)
{
	return s == DOCTOR_OK ? "ok" : s == DOCTOR_WARN ? "warn" : "fail";
}

bool doctor_is_guid(const char *s)
{
	static const int groups[] = {8, 4, 4, 4, 12};

	if (!s)
		return false;
	for (int g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char)*s))
				return false;
		if (g < 4 && *s++ != '-')
			return false;
	}
	return *s == '\0';
}

bool doctor_is_domain(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 3 || n > 253 || !strchr(s, '.') || s[0] == '.' || s[n - 1] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

/* ---- which sections are used ---- */

static void check_sections_present(const struct config *cfg, struct doctor_report *rep)
{
	static const char *const names[2] = {"ews", "graph"};

	for (int i = 0; i < 2; i++) {
		const struct service_config *sc = i == 0 ? &cfg->ews : &cfg->graph;
		char name[64];

		if (sc->configured || !config_backend_used(cfg, names[i]))
			continue;
		snprintf(name, sizeof name, "[%s] section", names[i]);
		doctor_addf(
		    rep, DOCTOR_FAIL, name,
		    "add the section with tenant_id, client_id and the credential (see "
		    "docs/setup.md), or route the mailboxes to the other backend",
		    "mailboxes are routed to %s ([sync] backend or a [mailbox] section) but "
		    "%s has no [%s] section",
		    names[i], cfg->path, names[i]);
	}
	if (!cfg->ews.configured && !cfg->graph.configured)
		doctor_add(rep, DOCTOR_FAIL, "backend sections",
		           "the config has neither an [ews] nor a [graph] section, so there is "
		           "nothing to connect to",
		           "add a [graph] (or [ews]) section as docs/setup.md shows for your "
		           "registration style");
}

static void init_branch(struct doctor_branch *b, const struct config *cfg, bool graph)
{
	memset(b, 0, sizeof *b);
	b->graph = graph;
	b->name = graph ? "graph" : "ews";
	b->sc = graph ? &cfg->graph : &cfg->ews;
	b->app_only = !graph || (b->sc->mode && strcmp(b->sc->mode, "application") == 0);
	b->web = graph && !b->app_only && b->sc->redirect_uri &&
	         strncmp(b->sc->redirect_uri, "https://", 8) == 0;
}

static void check_test_mailbox(const struct config *cfg, const char *mailbox,
                               struct doctor_report *rep)
{
	bool app_only = cfg->ews.configured || (cfg->graph.configured && cfg->graph.mode &&
	                                        strcmp(cfg->graph.mode, "application") == 0);

	if (mailbox) {
		if (!strchr(mailbox, '@'))
			doctor_addf(rep, DOCTOR_FAIL, "test mailbox",
			            "give the mailbox's primary SMTP address, e.g. --mailbox "
			            "alice@contoso.com",
			            "'%s' is not an email address", mailbox);
		return;
	}
	if (app_only)
		doctor_add(rep, DOCTOR_WARN, "test mailbox",
		           "no mailbox to read, so access to calendars is not proven",
		           "set [sync] test_mailbox = someone@yourdomain, or run `leavesync doctor "
		           "--mailbox EMAIL`");
}

void doctor_run(const struct config *cfg, const struct doctor_options *opt,
                struct doctor_report *rep)
{
	const char *mailbox = opt && opt->mailbox ? opt->mailbox : cfg->test_mailbox;
	int64_t now = opt && opt->now ? opt->now : now_unix();

	doctor_check_files(cfg, rep);
	check_sections_present(cfg, rep);
	check_test_mailbox(cfg, mailbox, rep);
	if (mailbox && !strchr(mailbox, '@'))
		mailbox = NULL;
	for (int i = 0; i < 2; i++) {
		struct doctor_branch b;

		init_branch(&b, cfg, i == 1);
		if (!b.sc->configured)
			continue;
		if (!b.graph && config_ews_password_auth(b.sc)) { /* Exchange Server on-premises */
			doctor_check_onprem(cfg, &b, mailbox, rep);
			continue;
		}
		doctor_check_section(cfg, &b, rep);
		if (!b.stopped)
			doctor_check_remote(cfg, &b, mailbox, rep);
		doctor_check_expiry(&b, now, rep);
	}
}
