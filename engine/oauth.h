/* OAuth 2.0 against the Microsoft identity platform (v2.0 endpoints): client credentials (secret or
 * certificate assertion), refresh with rotation, device code, authorization code with PKCE or a Web
 * secret. Token endpoint errors become messages with the AADSTS code, its cause and the fix
 * (engine/aadsts.h). Library code: returns errors, prints nothing. */
#ifndef ENGINE_OAUTH_H
#define ENGINE_OAUTH_H

#include "common/error.h"
#include "engine/backend.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_client;

struct oauth_app {
	const char *authority; /* "https://login.microsoftonline.com" (no trailing slash) */
	const char *tenant;    /* GUID or domain */
	const char *client_id;
	const char *client_secret;  /* NULL for a public client or a certificate */
	const char *cert_file;      /* PEM certificate (for x5t#S256) or NULL */
	const char *key_file;       /* PEM private key for the assertion or NULL */
	const char *cert_algorithm; /* the assertion's "alg": "RS256" (NULL, default) or "PS256" */
};

struct oauth_token {
	char *access_token;  /* owned; never printed */
	char *refresh_token; /* owned, may be NULL */
	char *scope;         /* as granted, may be NULL */
	int64_t expires_at;  /* Unix seconds */
};

void oauth_token_free(struct oauth_token *t);

/* An identity platform error, parsed from the JSON error body. */
struct oauth_error {
	char error[64];        /* "invalid_client", "authorization_pending", ... */
	long aadsts;           /* 7000215, ...; 0 if none */
	char description[512]; /* error_description, first line */
	int http_status;
};

/* Token URL: {authority}/{tenant}/oauth2/v2.0/token. Caller frees. */
char *oauth_token_url(const struct oauth_app *app);

/* client_credentials for scope (e.g. "https://outlook.office365.com/.default"). On failure returns
 * BE_FINAL (configuration: err has cause and fix), BE_RETRY_LATER (network, 5xx, throttled). */
enum be_status oauth_client_credentials(struct http_client *http, const struct oauth_app *app,
                                        const char *scope, struct oauth_token *out,
                                        struct oauth_error *oe, struct error *err);

/* refresh_token grant. The response's new refresh token replaces the old (rotation): the caller
 * must store out->refresh_token before using the access token. BE_NEEDS_LOGIN when revoked/expired.
 */
enum be_status oauth_refresh(struct http_client *http, const struct oauth_app *app,
                             const char *refresh_token, const char *scope, struct oauth_token *out,
                             struct oauth_error *oe, struct error *err);

/* Device code flow, step 1: starts it; fills the message to show the user. */
struct oauth_device_code {
	char *device_code; /* owned, secret-ish: not printed */
	char *user_code;
	char *verification_uri;
	char *message;
	int interval; /* seconds */
	int64_t expires_at;
};
void oauth_device_code_free(struct oauth_device_code *dc);
enum be_status oauth_device_code_start(struct http_client *http, const struct oauth_app *app,
                                       const char *scope, struct oauth_device_code *out,
                                       struct oauth_error *oe, struct error *err);
/* Step 2: polls until approved, denied or expired (honours interval and slow_down). */
enum be_status oauth_device_code_poll(struct http_client *http, const struct oauth_app *app,
                                      const struct oauth_device_code *dc, struct oauth_token *out,
                                      struct oauth_error *oe, struct error *err);

/* Authorization code flow. PKCE: verifier (43..128 chars) and S256 challenge. */
void oauth_pkce_pair(char verifier[65], char challenge[64]);
/* The URL to open in a browser; caller frees. code_challenge may be NULL (Web app with secret). */
char *oauth_authorize_url(const struct oauth_app *app, const char *redirect_uri, const char *scope,
                          const char *state, const char *code_challenge);
enum be_status oauth_redeem_code(struct http_client *http, const struct oauth_app *app,
                                 const char *code, const char *redirect_uri, const char *scope,
                                 const char *code_verifier, struct oauth_token *out,
                                 struct oauth_error *oe, struct error *err);

/* Decodes a JWT's payload without verifying it (diagnostics only); caller frees. NULL if not a JWT.
 */
char *oauth_jwt_payload(const char *jwt);

/* ---- building blocks (engine/jwt.c, engine/oauth.c), exposed for tests and doctor ---- */

/* Parses an identity platform error body (error, error_description, error_codes[0], or the
 * "AADSTSnnnn:" prefix of the description). Returns 0, or -1 when the body is not a JSON error (oe
 * then holds only http_status). */
int oauth_parse_error(const char *body, size_t len, int http_status, struct oauth_error *oe);

/* err->msg = "token endpoint URL answered HTTP 401 invalid_client AADSTS7000215: <cause>. Fix:
 * <fix>" (from engine/aadsts.h; the server's description when the code is not in the table). */
void oauth_error_message(const char *url, const struct oauth_error *oe, struct error *err);

/* What a token endpoint error means for the caller: BE_RETRY_LATER (5xx, 429, temporarily
 * unavailable), BE_NEEDS_LOGIN (refresh: invalid_grant, interaction required), else BE_FINAL. */
enum be_status oauth_error_status(const struct oauth_error *oe, bool refresh);

/* base64url without padding (RFC 7515 §2); caller frees. */
char *oauth_base64url(const void *data, size_t len);
/* Decodes base64url (padding optional); caller frees; NUL-terminated; NULL when invalid. */
unsigned char *oauth_base64url_decode(const char *s, size_t len, size_t *out_len);

/* The client assertion JWT for app's certificate (cert_file, key_file; key_file NULL: the key is in
 * cert_file): RS256 with headers x5t#S256 and x5t (what MSAL sends), or with cert_algorithm
 * "PS256" the form Entra's certificate-credentials page now shows (alg PS256, RSA-PSS, header
 * x5t#S256 only); claims aud (the token URL), iss = sub = client_id, jti, nbf = iat = now,
 * exp = now + 600.
 * Caller frees; NULL with err naming the file and the fix. */
char *oauth_client_assertion(const struct oauth_app *app, const char *audience, int64_t now,
                             struct error *err);

#endif
