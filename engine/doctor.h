/* `leavesync doctor`: checks the configuration, the reachability of the identity platform and of
 * each service, token acquisition, the token's claims (decoded, never trusted), delegated
 * connections, a harmless read of one calendar, and secret / certificate expiry. Each check gives a
 * result with its cause and a one-line fix; the checks of one backend ([ews], [graph]) stop at the
 * branch's first failure. Library code: prints nothing; no secret or token ever appears in a
 * result. Sources: the identity platform pages cited in engine/oauth.c (and access-tokens for the
 * claims), https://learn.microsoft.com/en-us/graph/auth-limit-mailbox-access, and for EWS
 * how-to-authenticate-an-ews-application-by-using-oauth and
 * how-to-control-access-to-ews-in-exchange
 * (https://learn.microsoft.com/en-us/exchange/client-developer/exchange-web-services/); the fixes
 * match docs/setup.md and engine/aadsts.c. */
#ifndef ENGINE_DOCTOR_H
#define ENGINE_DOCTOR_H

#include "engine/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum doctor_status {
	DOCTOR_OK = 0,
	DOCTOR_WARN, /* worth fixing, does not stop syncing */
	DOCTOR_FAIL, /* syncing cannot work until fixed */
};

struct doctor_check {
	char *name;  /* stable identifier, never a value: "ews.token", "config_file_permissions"
	                (owned; --json "name"; per-mailbox checks share one) */
	char *title; /* for people, may name values: "[ews] read the calendar of a@b.com" */
	enum doctor_status status;
	char *
	    cause; /* WARN/FAIL: what is wrong, one sentence without trailing period; NULL for OK */
	char *fix; /* WARN/FAIL: what to do, one sentence; may be NULL */
};

struct doctor_report {
	struct doctor_check *checks; /* in the order they ran (owned) */
	size_t n, cap;
};

struct doctor_options {
	const char *mailbox; /* --mailbox, over [sync] test_mailbox; NULL: the config's */
	int64_t now;         /* Unix seconds for expiry checks; 0: the clock */
};

/* Runs every check for cfg into rep (which the caller zeroes first and frees with
 * doctor_report_free). Never fails as a whole: what cannot be checked is itself a result. */
void doctor_run(const struct config *cfg, const struct doctor_options *opt,
                struct doctor_report *rep);
void doctor_report_free(struct doctor_report *rep);
/* True when no check failed (warnings allowed). */
bool doctor_report_ok(const struct doctor_report *rep);
/* "ok", "warn", "fail" (the --json values). */
const char *doctor_status_name(enum doctor_status s);

/* ---- building blocks (engine/doctor*.c) ---- */

/* One backend section under check. */
struct doctor_branch {
	const char *name; /* "ews" | "graph" */
	const struct service_config *sc;
	bool graph;
	bool app_only; /* EWS always; Graph with mode = application */
	bool web;      /* Graph delegated with an https redirect_uri (sends the secret) */
	bool stopped;  /* a check of this branch failed: later ones are skipped */
};

/* Appends a result; cause and fix are printf formats (NULL for none). Returns status == OK.
 * title is "ID|TITLE" when the title names values (a mailbox, a date, a URL), else just TITLE,
 * whose stable id doctor_id derives ("[graph] tenant_id" -> "graph.tenant_id"). */
bool doctor_add(struct doctor_report *rep, enum doctor_status status, const char *title,
                const char *cause, const char *fix);
/* The stable id of a title without values: "[svc] words" -> "svc.words", lower case, every run of
 * other characters one '_'. */
void doctor_id(char *out, size_t size, const char *title);
bool doctor_addf(struct doctor_report *rep, enum doctor_status status, const char *name,
                 const char *fix, const char *cause_fmt, ...) __attribute__((format(printf, 5, 6)));

bool doctor_is_guid(const char *s);
/* A verified-domain-shaped tenant: letters, digits, '-' and '.', with a dot. */
bool doctor_is_domain(const char *s);

/* doctor_config.c: files, permissions, ids, secret shape, URLs, certificate (step 1), and the
 * expiry of the secret or certificate (step 6). */
void doctor_check_files(const struct config *cfg, struct doctor_report *rep);
void doctor_check_section(const struct config *cfg, struct doctor_branch *b,
                          struct doctor_report *rep);
void doctor_check_expiry(struct doctor_branch *b, int64_t now, struct doctor_report *rep);

/* doctor_remote.c: reachability, token, claims, delegated connections, the calendar read
 * (steps 2-5). mailbox may be NULL (the read is skipped; delegated uses a connected mailbox). */
void doctor_check_remote(const struct config *cfg, struct doctor_branch *b, const char *mailbox,
                         struct doctor_report *rep);
/* doctor_onprem.c: Exchange Server with a password ([ews] auth = ntlm | negotiate | basic): the
 * method, and one impersonated read of mailbox with ApplicationImpersonation, NTLM and 401 causes
 * explained (the Exchange Management Shell commands in the fix). */
void doctor_check_onprem(const struct config *cfg, struct doctor_branch *b, const char *mailbox,
                         struct doctor_report *rep);

#endif
