/* POST /EWS/Exchange.asmx: the simulator's Exchange Web Services endpoint (sources named below). In
 * order, as Exchange Online does it:
 *   1. Bearer token ([EWS how-to-authenticate-an-ews-application-by-using-oauth],
 *      [EWS instrumenting-client-requests-for-ews-and-rest-in-exchange] for x-ms-diagnostics):
 *      missing/invalid -> 401 with Exchange's WWW-Authenticate
 *      and x-ms-diagnostics (2000001 invalid_token, 2000000 invalid_signature, 2000002
 * token_expired, 2000003 wrong audience, 2000008 no full_access_as_app role);
 *   2. EWS allowed for the app (EWSEnabled + EwsAllowedAppIDs,
 *      [EWS how-to-control-access-to-ews-in-exchange], https://learn.microsoft.com/en-us/exchange/
 *      clients-and-mobile-in-exchange-online/deprecation-of-ews-exchange-online): otherwise HTTP
 *      403, what a blocked app gets;
 *   3. throttling fault "ews_server_busy" from the control API -> SOAP fault ErrorServerBusy with
 *      BackOffMilliseconds ([EWS ews-throttling-in-exchange], shape of
 * tests/data/ews/soapfault-errorserverbusy-backoff-response.xml);
 *   4. schema validation of the whole request (ews_schema.c) -> ErrorSchemaValidation fault; a
 *      RequestServerVersion no Exchange knows (exchangelib's "Exchange2019" probe) ->
 * ErrorInvalidRequest fault, so that clients fall back to an older version (python3-exchangelib
 * 4.9 probes Exchange2019 first and retries with Exchange2016 only after that fault);
 *   5. ExchangeImpersonation ([EWS impersonation-and-ews-in-exchange]): every token here is
 * app-only (full_access_as_app), and Exchange Online refuses such a token without the header: fault
 * ErrorInvalidExchangeImpersonationHeaderData "ExchangeImpersonation SOAP header must be present
 * for this type of OAuth token." (OfficeDev/ews-managed-api#245, ecederstrand/exchangelib#735);
 * unknown mailbox -> ErrorNonExistentMailbox, a mailbox outside the app's RBAC-for-Applications
 * scope -> ErrorImpersonateUserDenied (faults, [EWS ref responsecode]). X-AnchorMailbox should
 * accompany impersonation ([EWS how-to-authenticate-an-ews-application-by-using-oauth]); Exchange
 * still serves a request without it (only slower), and so does the simulator;
 *   6. the operation, with per-item errors in its response messages. */
#include "tools/m365sim/ews_int.h"
#include "tools/m365sim/onprem.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EWS_PATH "/EWS/Exchange.asmx"
#define EWS_CONTROL "/_sim/ews/config"

/* Simulator settings of the EWS view (the /_sim/ews/config control call), under the sim lock. */
static bool churn_on_read;

bool ews_change_key_churn(void)
{
	return churn_on_read;
}

static void control(const struct sim_request *req, struct sim_response *resp)
{
	if (strcmp(req->method, "POST") == 0) {
		json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
		json_t *v = json_object_get(j, "change_key_churn");

		if (!json_is_boolean(v)) {
			json_decref(j);
			sim_resp_json(resp, 400,
			              json_pack("{s:s,s:s}", "error", "bad_request", "message",
			                        "give {\"change_key_churn\": true or false}"));
			return;
		}
		churn_on_read = json_is_true(v);
		json_decref(j);
	}
	sim_resp_json(resp, 200, json_pack("{s:b}", "change_key_churn", churn_on_read));
}
#define DEFAULT_BACKOFF_MS 5000

static const char *const audiences[] = {
    "https://outlook.office365.com",        "https://outlook.office365.com/",
    "https://outlook.office.com",           "https://outlook.office.com/",
    "00000002-0000-0ff1-ce00-000000000000",
};

static void unauthorized(struct sim_response *resp, int code, const char *reason,
                         const char *category)
{
	char diag[512];
	resp->status = 401;
	buf_reset(&resp->body);
	sim_resp_header(resp, "WWW-Authenticate",
	                "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", "
	                "trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", "
	                "token_types=\"app_asserted_user_v1 service_asserted_app_v1\", "
	                "authorization_uri=\"https://login.windows.net/common/oauth2/authorize\", "
	                "error=\"invalid_token\",Basic Realm=\"\"");
	if (code) {
		snprintf(diag, sizeof diag, "%d;reason=\"%s\";error_category=\"%s\"", code, reason,
		         category);
		sim_resp_header(resp, "x-ms-diagnostics", diag);
	}
	sim_resp_header(resp, "X-BackEndHttpStatus", "401");
}

static const char *diag_category(int code)
{
	switch (code) {
	case 2000000:
		return "invalid_signature";
	case 2000002:
		return "token_expired";
	case 2000003:
		return "invalid_resource";
	case 2000008:
		return "invalid_grant";
	default:
		return "invalid_token";
	}
}

static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
	return false;
}

/* Step 1 and 2. Returns the app, or NULL with resp filled. */
static struct sim_app *authorize(struct sim *s, const struct sim_request *req,
                                 struct sim_response *resp, struct sim_claims *claims)
{
	const char *authz = sim_req_header(req, "Authorization");
	const char *why = NULL;
	if (!authz) {
		unauthorized(resp, 0, NULL, NULL);
		return NULL;
	}
	int code = sim_verify_token(s, authz, claims, &why);
	if (code) {
		unauthorized(resp, code, why ? why : "The token is invalid.", diag_category(code));
		return NULL;
	}
	bool aud_ok = false;
	for (size_t i = 0; i < sizeof audiences / sizeof audiences[0]; i++)
		aud_ok = aud_ok || strcasecmp(claims->aud, audiences[i]) == 0;
	if (!aud_ok) {
		unauthorized(resp, 2000003, "The audience claim value is invalid 'aud'.",
		             "invalid_resource");
		return NULL;
	}
	if (!has_word(claims->roles, "full_access_as_app")) {
		unauthorized(
		    resp, 2000008,
		    "The token contains no permissions, or permissions can not be understood.",
		    "invalid_grant");
		return NULL;
	}
	struct sim_app *app = sim_find_app(s, claims->appid);
	if (!app) {
		unauthorized(resp, 2000006, "The client application is unknown.", "invalid_client");
		return NULL;
	}
	if (!app->ews_allowed) {
		resp->status = 403;
		buf_reset(&resp->body);
		return NULL;
	}
	return app;
}

/* Step 5: ExchangeImpersonation/ConnectingSID. Returns NULL or a fault code. */
static const char *impersonate(struct ews_ctx *c, xmlNodePtr header)
{
	xmlNodePtr sid = ews_first_elem(ews_child(header, EWS_NS_T, "ConnectingSID"));
	char *value = ews_text(sid);
	const char *err = NULL;
	struct sim_user *u = NULL;
	if (!sid || !*value) {
		err = "ErrorInvalidExchangeImpersonationHeaderData";
	} else if (ews_is(sid, EWS_NS_T, "SmtpAddress") ||
	           ews_is(sid, EWS_NS_T, "PrimarySmtpAddress")) {
		struct sim_mailbox *mb = sim_find_mailbox(c->s, value);
		u = mb ? mb->user : NULL;
		/* PrimarySmtpAddress is "the primary SMTP address" [doc: primarysmtpaddress];
		 * SmtpAddress any of the account's addresses [doc: smtpaddress] */
		if (u && ews_is(sid, EWS_NS_T, "PrimarySmtpAddress") &&
		    strcasecmp(u->mail, value) != 0)
			u = NULL;
	} else {
		u = sim_find_user(
		    c->s, value); /* PrincipalName (UPN) or SID (the user's object id here) */
	}
	if (!err && (!u || !u->has_mailbox || strcmp(u->tenant_id, c->tid) != 0))
		err = "ErrorNonExistentMailbox";
	if (!err) {
		c->caller = u;
		c->mailbox = sim_mailbox_of(c->s, u);
		if (!c->mailbox)
			err = "ErrorNonExistentMailbox";
	}
	if (!err && c->app->scoped_mailboxes) {
		bool in = false;
		for (size_t i = 0; c->app->scoped_mailboxes[i]; i++)
			in = in || sim_user_has_address(u, c->app->scoped_mailboxes[i]);
		if (!in)
			err = "ErrorImpersonateUserDenied";
	}
	free(value);
	return err;
}

static const char *tz_context_id(xmlNodePtr tzc, char *out, size_t size)
{
	char *id = ews_attr(ews_child(tzc, EWS_NS_T, "TimeZoneDefinition"), "Id");
	if (!id)
		return NULL;
	snprintf(out, size, "%s", id);
	free(id);
	return out;
}

static const struct {
	const char *name;
	void (*run)(struct ews_ctx *c);
} operations[] = {
    {"GetFolder", ews_op_get_folder},
    {"CreateItem", ews_op_create_item},
    {"GetItem", ews_op_get_item},
    {"UpdateItem", ews_op_update_item},
    {"DeleteItem", ews_op_delete_item},
    {"FindItem", ews_op_find_item},
    {"SyncFolderItems", ews_op_sync_folder_items},
    {"ConvertId", ews_op_convert_id},
};

static void dispatch(struct ews_ctx *c, struct sim_response *resp)
{
	const char *name = (const char *)c->env->op->name;
	char counter[96];
	for (size_t i = 0; i < sizeof operations / sizeof operations[0]; i++) {
		if (strcmp(name, operations[i].name) != 0)
			continue;
		snprintf(counter, sizeof counter, "ews.%s", name);
		sim_count(c->s, counter);
		operations[i].run(c);
		ews_out_finish(&c->out, resp);
		return;
	}
	/* What Exchange answers for a web method the caller may not use (ErrorAccessDenied, "The
	 * requested web method is unavailable to this caller or application."), not
	 * ErrorInvalidRequest: exchangelib takes that for a wrong RequestServerVersion and tries
	 * every older version (services/common.py _get_response_xml). */
	sim_count(c->s, "ews.unsupported");
	ews_fault(resp, "ErrorAccessDenied",
	          "The requested web method is unavailable to this caller or application.", NULL,
	          NULL, NULL);
}

static void schema_fault(struct sim_response *resp, enum ews_verdict verdict,
                         const struct ews_problem *p)
{
	char text[1200];
	if (verdict == EWS_BAD_VERSION) {
		ews_fault(resp, "ErrorInvalidRequest",
		          "The request is invalid: the RequestServerVersion value is not a version "
		          "this server "
		          "supports.",
		          NULL, NULL, NULL);
		return;
	}
	if (verdict == EWS_NO_SCHEMA) {
		ews_fault(resp, "ErrorInternalServerError", p->message, NULL, NULL, NULL);
		return;
	}
	snprintf(text, sizeof text, "The request failed schema validation: %s", p->message);
	ews_fault(resp, "ErrorSchemaValidation", text, NULL, NULL, p);
}

static void add_request_ids(const struct sim_request *req, struct sim_response *resp)
{
	char id[37];
	uuid_v4(id);
	sim_resp_header(resp, "request-id", id);
	const char *crid = sim_req_header(req, "client-request-id");
	const char *ret = sim_req_header(req, "return-client-request-id");
	if (crid && ret && strcasecmp(ret, "true") == 0)
		sim_resp_header(resp, "client-request-id", crid);
}

static void handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	struct sim_claims claims;
	struct sim_onprem_account *account = NULL;
	struct sim_app *app;
	if (sim_onprem_tenant(s)) {
		/* Exchange Server: the service account's password, no token (onprem.c) */
		account = sim_onprem_authorize(s, req, resp);
		app = account ? &account->app : NULL;
		memset(&claims, 0, sizeof claims);
		snprintf(claims.tid, sizeof claims.tid, "%s", sim_onprem_tenant(s));
	} else {
		app = authorize(s, req, resp, &claims);
	}
	if (!app)
		return;
	if (strcmp(req->method, "POST") != 0) {
		resp->status = 405;
		sim_resp_header(resp, "Allow", "POST");
		return;
	}
	int64_t backoff = 0;
	if (sim_take_fault(s, "ews_server_busy", &backoff)) {
		char ms[32];
		snprintf(ms, sizeof ms, "%lld",
		         (long long)(backoff > 0 ? backoff : DEFAULT_BACKOFF_MS));
		ews_fault(resp, "ErrorServerBusy", NULL, "BackOffMilliseconds", ms, NULL);
		return;
	}
	struct ews_envelope env;
	struct ews_problem problem;
	enum ews_verdict verdict =
	    ews_parse_request(req->body ? req->body : "", req->body_len, &env, &problem);
	if (verdict != EWS_VALID) {
		sim_count(s, "ews.rejected");
		schema_fault(resp, verdict, &problem);
		ews_envelope_free(&env);
		return;
	}
	if (account && ews_version_rank(env.version) > sim_onprem_max_version_rank(s)) {
		/* an on-premises server refuses a version newer than itself ([EWS ref
		 * requestserverversion]; [EWS ref responsecode] ErrorInvalidServerVersion) */
		sim_count(s, "ews.rejected_version");
		ews_fault(resp, "ErrorInvalidServerVersion",
		          "The specified server version is invalid.", NULL, NULL, NULL);
		ews_envelope_free(&env);
		return;
	}
	char tzbuf[128];
	struct ews_ctx c = {.s = s,
	                    .env = &env,
	                    .app = app,
	                    .tid = claims.tid,
	                    .anchor = sim_req_header(req, "X-AnchorMailbox"),
	                    .tz_context = env.tz_context
	                                      ? tz_context_id(env.tz_context, tzbuf, sizeof tzbuf)
	                                      : NULL,
	                    .version_rank = ews_version_rank(env.version)};
	const char *err = env.impersonation ? impersonate(&c, env.impersonation) : NULL;
	/* On-premises, impersonation needs the ApplicationImpersonation role
	 * ([EWS impersonation-and-ews-in-exchange], "Configure impersonation"); a mailbox that
	 * exists but is outside the role's management scope is denied the same way (impersonate()
	 * above). */
	if (account && env.impersonation && !account->impersonation && !err)
		err = "ErrorImpersonateUserDenied";
	if (account && !err && c.caller && sim_onprem_moving(s, c.caller))
		err = "ErrorMailboxMoveInProgress"; /* [EWS ref responsecode] */
	if (account && !env.impersonation) {
		/* the account acts as itself (its own mailbox, if it has one; ConvertId and other
		 * mailbox-less operations work without one, which exchangelib's version probe uses)
		 */
		struct sim_mailbox *own = sim_find_mailbox(s, account->upn);
		c.caller = own ? own->user : NULL;
		c.mailbox = own;
		c.own_only = true;
		c.tz = ews_tz_new();
		dispatch(&c, resp);
		ews_tz_free(c.tz);
	} else if (!env.impersonation) {
		ews_fault(
		    resp, "ErrorInvalidExchangeImpersonationHeaderData",
		    "ExchangeImpersonation SOAP header must be present for this type of OAuth "
		    "token.",
		    NULL, NULL, NULL);
	} else if (err) {
		ews_fault(resp, err, NULL, NULL, NULL, NULL);
	} else {
		c.tz = ews_tz_new();
		dispatch(&c, resp);
		ews_tz_free(c.tz);
	}
	ews_envelope_free(&env);
}

int sim_ews_preload(char *why, size_t why_size)
{
	return ews_schema_load(why, why_size);
}

bool sim_ews_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	if (strcmp(req->path, EWS_CONTROL) == 0) {
		control(req, resp);
		return true;
	}
	if (strcasecmp(req->path, EWS_PATH) != 0)
		return false;
	sim_count(s, "ews");
	handle(s, req, resp);
	add_request_ids(req, resp);
	return true;
}
