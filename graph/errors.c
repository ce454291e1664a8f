/* The one table of Graph failures: error code and HTTP status -> what the engine does next, and the
 * fix a person can apply. docs/graph.md lists the same rows. Sources: [Graph errors] (codes),
 * [Graph throttling], [Graph auth-limit-mailbox-access] (app-only scoping). Code first, then
 * status: the first matching row wins. */
#include "graph/graph.h"

#include "common/redact.h"
#include "engine/http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct graph_error_row {
	int status;       /* HTTP status; 0: any */
	const char *code; /* Graph error code (case-insensitive); "X*" a prefix; NULL: any */
	enum be_status delegated;
	enum be_status app_only;
	const char *fix_delegated;
	const char *fix_app_only;
};

#define SAME(s) s, s

static const char fix_token[] =
    "The access token was refused after one refresh. Delegated: run `leavesync auth login "
    "--mailbox EMAIL` again.";
static const char fix_token_app[] =
    "The app-only token was refused after one refresh: check [graph] tenant_id and client_id, that "
    "the token comes from the same cloud as [graph] url, and that the client secret or "
    "certificate is current.";
static const char fix_denied[] =
    "The signed-in user may not write this calendar: it needs the delegated Calendars.ReadWrite "
    "permission for its own mailbox, or Calendars.ReadWrite.Shared and an edit share of the "
    "mailbox's calendar; consent, then `leavesync auth login --mailbox EMAIL`.";
static const char fix_denied_app[] =
    "The app may not use this mailbox: grant the Microsoft Graph application permission "
    "Calendars.ReadWrite with admin consent (every mailbox fails: consent is missing), or, when "
    "only some mailboxes fail, add the mailbox to the app's RBAC for Applications management "
    "scope or ApplicationAccessPolicy group (Test-ServicePrincipalAuthorization / "
    "Test-ApplicationAccessPolicy; policy changes can take an hour).";
static const char fix_no_mailbox[] =
    "The user has no Exchange Online mailbox (unlicensed, inactive, soft-deleted or hosted "
    "on-premises): license it, or route it to the EWS backend with [mailbox \"EMAIL\"] backend = "
    "ews.";
static const char fix_invalid_user[] =
    "No such user in this tenant: correct the leave's mailbox address (or [graph] tenant_id).";
static const char fix_invalid[] =
    "Graph rejected the event's data; the message names the property. Correct the leave (dates, "
    "time zone, kind policy) and push it again.";
static const char fix_throttled[] =
    "Nothing to do: leavesync retries after Retry-After, in this run and the next ones. If it "
    "persists, lower [sync] mailbox_concurrency or concurrency.";
static const char fix_gateway[] =
    "Nothing to do: retried; a create is first looked up by its sync key, so none is "
    "duplicated.";
static const char fix_duplicate_txn[] =
    "Nothing to do: the event is looked up by its sync key and adopted (leavesync sends a new "
    "transactionId with every create attempt).";
static const char fix_method[] =
    "Graph does not support this request at [graph] url; check that it ends in /v1.0.";

static const struct graph_error_row rows[] = {
    /* refused after one refresh: the login (delegated) or the app's setup (app-only) is wrong,
     * not the item: it waits, and the first sync after the fix writes it */
    {401, NULL, BE_NEEDS_LOGIN, BE_BLOCKED, fix_token, fix_token_app},
    {0, "InvalidAuthenticationToken", BE_NEEDS_LOGIN, BE_BLOCKED, fix_token, fix_token_app},
    {0, "ErrorAccessDenied", BE_FINAL, BE_FINAL, fix_denied, fix_denied_app},
    {0, "Authorization_RequestDenied", BE_FINAL, BE_FINAL, fix_denied, fix_denied_app},
    {0, "MailboxNotEnabledForRESTAPI", SAME(BE_FINAL), SAME(fix_no_mailbox)},
    {0, "ErrorInvalidUser", SAME(BE_FINAL), SAME(fix_invalid_user)},
    {0, "ErrorItemNotFound", SAME(BE_GONE), SAME("")},
    {404, "itemNotFound", SAME(BE_GONE), SAME("")},
    {0, "ErrorIrresolvableConflict", SAME(BE_CONFLICT), SAME("")},
    {412, NULL, SAME(BE_CONFLICT), SAME("")},
    {0, "ApplicationThrottled", SAME(BE_RETRY_LATER), SAME(fix_throttled)},
    {0, "TooManyRequests", SAME(BE_RETRY_LATER), SAME(fix_throttled)},
    {429, NULL, SAME(BE_RETRY_LATER), SAME(fix_throttled)},
    {503, NULL, SAME(BE_RETRY_LATER), SAME(fix_throttled)},
    /* the gateway stopped waiting: the request may still have been executed (a create is
     * looked up by its sync key before it is sent again) */
    {504, NULL, SAME(BE_RETRY_NOW), SAME(fix_gateway)},
    /* a transactionId already used for another event (alcionai/corso#2490): an event of this
     * create exists or existed, so it is looked up by its sync key */
    {0, "ErrorDuplicateTransactionId", SAME(BE_CONFLICT), SAME(fix_duplicate_txn)},
    {424, NULL, SAME(BE_RETRY_NOW), SAME("")}, /* failed dependency inside a $batch */
    {0, "ErrorPropertyValidationFailure", SAME(BE_FINAL), SAME(fix_invalid)},
    {0, "ErrorOccurrenceCrossingBoundary", SAME(BE_FINAL), SAME(fix_invalid)},
    {400, "ErrorInvalid*", SAME(BE_FINAL), SAME(fix_invalid)},
    {403, NULL, BE_FINAL, BE_FINAL, fix_denied, fix_denied_app},
    {404, NULL, SAME(BE_FINAL),
     SAME("Graph says the resource does not exist: check [graph] url and the mailbox address.")},
    {405, NULL, SAME(BE_FINAL), SAME(fix_method)},
    {501, NULL, SAME(BE_FINAL), SAME(fix_method)},
    {409, NULL, SAME(BE_RETRY_NOW), SAME("")},
    {400, NULL, SAME(BE_FINAL), SAME(fix_invalid)},
};

static bool code_matches(const char *pattern, const char *code)
{
	size_t n = strlen(pattern);

	if (!code)
		return false;
	if (n && pattern[n - 1] == '*')
		return strncasecmp(pattern, code, n - 1) == 0;
	return strcasecmp(pattern, code) == 0;
}

enum be_status graph_classify(int http_status, const char *code, bool app_only, const char **fix)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct graph_error_row *r = &rows[i];

		if (r->status && r->status != http_status)
			continue;
		if (r->code && !code_matches(r->code, code))
			continue;
		*fix = app_only ? r->fix_app_only : r->fix_delegated;
		return app_only ? r->app_only : r->delegated;
	}
	*fix = "";
	if (http_status >= 500)
		return BE_RETRY_NOW;
	return BE_FINAL;
}

static bool is_json_type(const char *ct)
{
	return ct && strncasecmp(ct, "application/json", 16) == 0;
}

enum be_status graph_describe_failure(const char *method, const char *url, int http_status,
                                      const char *content_type, const json_t *body, bool app_only,
                                      char *msg, size_t msglen)
{
	int pathlen = (int)strcspn(url, "?"); /* the query ($filter...) only makes it unreadable */
	struct graph_error ge;
	const char *fix = "";
	char code[96], text[REDACT_DEFAULT_MAX], rid[64], ctype[96];
	enum be_status st;

	/* What the server wrote goes to terminals and the store: escaped, cut, no credentials. */
	redact_text(ctype, sizeof ctype, content_type ? content_type : "none",
	            strlen(content_type ? content_type : "none"));
	if (!graph_parse_error(body, &ge)) {
		/* an HTML page from a proxy or gateway, or a truncated answer: name what came back.
		 * 429 and 401 keep their meaning; anything else is worth a retry, and a 5xx that is
		 * not Graph's own answer proves nothing about a create (it is looked up). */
		st = graph_classify(http_status, NULL, app_only, &fix);
		if (http_status != 429 && http_status != 401) {
			st = BE_RETRY_NOW;
			fix = "";
		}
		snprintf(msg, msglen,
		         "HTTP %d with a %s body that is not a Graph error (content type %s) on %s "
		         "%.*s%s%s",
		         http_status, is_json_type(content_type) ? "JSON" : "non-JSON", ctype,
		         method, pathlen, url, *fix ? ". " : "", fix);
		return st;
	}
	st = graph_classify(http_status, ge.code, app_only, &fix);
	redact_text(code, sizeof code, ge.code, strlen(ge.code));
	redact_text(text, sizeof text, ge.message, strlen(ge.message));
	redact_text(rid, sizeof rid, ge.request_id, strlen(ge.request_id));
	snprintf(msg, msglen, "%s (HTTP %d): %s%s%s [%s %.*s%s%s]", *code ? code : "no code",
	         http_status, text, *fix ? " " : "", fix, method, pathlen, url,
	         *rid ? ", request-id " : "", rid);
	return st;
}

enum be_status graph_transport_status(int failure)
{
	switch ((enum http_failure)failure) {
	case HTTP_ERR_DNS:
	case HTTP_ERR_CONNECT:
		return BE_RETRY_LATER;
	case HTTP_ERR_TLS:
	case HTTP_ERR_REFUSED: /* a token unfit for a header: the token endpoint's, not the item's
	                        */
		return BE_BLOCKED; /* fails closed: a certificate problem is setup, not the item */
	default:
		return BE_RETRY_NOW; /* timeout, dropped: a create may have happened (sync key) */
	}
}
