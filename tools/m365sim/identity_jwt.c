/* m365sim: JWT-shaped access tokens (HS256 with the simulator's own key: clients must treat them
 * as opaque, as Microsoft says), their verification for EWS and Graph, PKCE, and certificate client
 * assertions (RS256 + x5t as MSAL sends them, PS256 + x5t#S256 as the current doc describes). */
#include "common/util.h"
#include "tools/m365sim/sim_core.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *b64_json(json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT), *out;

	out = sim_b64url_encode(text, strlen(text));
	free(text);
	return out;
}

static char *hmac_b64(const struct sim *s, const char *data, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	HMAC(EVP_sha256(), s->hmac_key, (int)sizeof s->hmac_key, (const unsigned char *)data, len,
	     mac, &maclen);
	return sim_b64url_encode(mac, maclen);
}

char *sim_jwt_sign(struct sim *s, json_t *claims)
{
	json_t *hdr = json_pack("{s:s,s:s,s:s}", "typ", "JWT", "alg", "HS256", "kid", "m365sim");
	struct buf b = BUF_INIT;
	char *h = b64_json(hdr), *p = b64_json(claims), *sig;

	json_decref(hdr);
	buf_printf(&b, "%s.%s", h, p);
	sig = hmac_b64(s, b.data, b.len);
	buf_printf(&b, ".%s", sig);
	free(h);
	free(p);
	free(sig);
	return buf_steal(&b);
}

char *sim_pkce_s256(const char *verifier)
{
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)verifier, strlen(verifier), d);
	return sim_b64url_encode(d, sizeof d);
}

/* Splits a compact JWT; returns the decoded header and payload objects (caller decrefs). */
static int jwt_split(const char *jwt, json_t **hdr, json_t **payload, const char **dot2)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	unsigned char *raw;
	size_t len;

	*hdr = *payload = NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return -1;
	if ((raw = sim_b64url_decode(jwt, (size_t)(d1 - jwt), &len))) {
		*hdr = json_loadb((char *)raw, len, 0, NULL);
		free(raw);
	}
	if ((raw = sim_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &len))) {
		*payload = json_loadb((char *)raw, len, 0, NULL);
		free(raw);
	}
	*dot2 = d2;
	if (!json_is_object(*hdr) || !json_is_object(*payload)) {
		json_decref(*hdr);
		json_decref(*payload);
		*hdr = *payload = NULL;
		return -1;
	}
	return 0;
}

static void copy_claim(char *dst, size_t size, json_t *payload, const char *name)
{
	json_t *v = json_object_get(payload, name);

	dst[0] = '\0';
	if (json_is_string(v)) {
		snprintf(dst, size, "%s", json_string_value(v));
	} else if (json_is_array(v)) {
		struct buf b = BUF_INIT;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			if (b.len)
				buf_puts(&b, " ");
			buf_puts(&b, json_string_value(e) ? json_string_value(e) : "");
		}
		snprintf(dst, size, "%s", b.data ? b.data : "");
		buf_free(&b);
	}
}

int sim_verify_token(struct sim *s, const char *authorization_header, struct sim_claims *out,
                     const char **why)
{
	const char *tok, *dot2;
	json_t *hdr, *payload;
	char *sig;
	bool good;

	memset(out, 0, sizeof *out);
	if (!authorization_header || strncasecmp(authorization_header, "Bearer ", 7) != 0) {
		*why = "The token is missing (no 'Authorization: Bearer' header).";
		return 2000001;
	}
	tok = authorization_header + 7;
	while (*tok == ' ')
		tok++;
	if (jwt_split(tok, &hdr, &payload, &dot2) < 0) {
		*why = "The token is malformed: not a JWT (header.payload.signature).";
		return 2000001;
	}
	sig = hmac_b64(s, tok, (size_t)(dot2 - tok));
	good = strcmp(sig, dot2 + 1) == 0;
	free(sig);
	copy_claim(out->aud, sizeof out->aud, payload, "aud");
	copy_claim(out->tid, sizeof out->tid, payload, "tid");
	copy_claim(out->appid, sizeof out->appid, payload, "appid");
	copy_claim(out->oid, sizeof out->oid, payload, "oid");
	copy_claim(out->upn, sizeof out->upn, payload, "upn");
	copy_claim(out->roles, sizeof out->roles, payload, "roles");
	copy_claim(out->scp, sizeof out->scp, payload, "scp");
	out->exp = json_integer_value(json_object_get(payload, "exp"));
	json_decref(hdr);
	json_decref(payload);
	if (!good) {
		*why = "The token signature is invalid (not issued by this simulator).";
		return 2000000;
	}
	if (out->exp <= sim_now(s) || sim_take_fault(s, "token_expired", NULL)) {
		*why = "The token has expired.";
		return 2000002;
	}
	*why = NULL;
	return 0;
}

/* ---- client assertions ---- */

static X509 *load_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	return x;
}

/* Compares a JWT x5t / x5t#S256 header with the certificate's digest, as bytes: clients differ in
 * padding and alphabet (MSAL Python sends base64url with '=' padding). */
static bool thumbprint_matches(X509 *x, const EVP_MD *md, const char *b64)
{
	unsigned char d[EVP_MAX_MD_SIZE], *sent;
	unsigned int len = 0;
	size_t slen = 0;
	bool match;

	if (!X509_digest(x, md, d, &len))
		return false;
	sent = sim_b64url_decode(b64, strlen(b64), &slen);
	match = sent && slen == len && memcmp(sent, d, len) == 0;
	free(sent);
	return match;
}

static bool verify_signature(X509 *x, const char *alg, const char *jwt, const char *dot2)
{
	EVP_PKEY *key = X509_get_pubkey(x);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig;
	size_t siglen = 0;
	bool ok = false;

	sig = sim_b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
	if (key && ctx && sig && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1) {
		if (strcmp(alg, "PS256") == 0 &&
		    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
			goto out;
		ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)jwt,
		                      (size_t)(dot2 - jwt)) == 1;
	}
out:
	free(sig);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

static int check_thumbprint(X509 *x, json_t *hdr, char *msg, size_t msglen)
{
	const char *x5t = json_string_value(json_object_get(hdr, "x5t"));
	const char *x5t256 = json_string_value(json_object_get(hdr, "x5t#S256"));
	bool match = x5t256 ? thumbprint_matches(x, EVP_sha256(), x5t256)
	                    : x5t && thumbprint_matches(x, EVP_sha1(), x5t);

	if (match)
		return 0;
	snprintf(
	    msg, msglen,
	    "The certificate with identifier used to sign the client assertion is not registered "
	    "on application. [Reason - The key was not found., Thumbprint of key used by client: "
	    "'%s']",
	    x5t256 ? x5t256
	    : x5t  ? x5t
	           : "(no x5t or x5t#S256 header)");
	return 700027;
}

static int check_claims(json_t *p, const struct sim_app *app, const char *const *audiences,
                        int64_t now, char *msg, size_t msglen)
{
	const char *aud = json_string_value(json_object_get(p, "aud"));
	const char *iss = json_string_value(json_object_get(p, "iss"));
	const char *sub = json_string_value(json_object_get(p, "sub"));
	json_t *exp = json_object_get(p, "exp"), *nbf = json_object_get(p, "nbf");
	bool aud_ok = false;

	for (size_t i = 0; aud && audiences[i]; i++)
		aud_ok |= strcmp(aud, audiences[i]) == 0;
	if (!aud_ok) {
		snprintf(msg, msglen,
		         "Client assertion audience claim does not match Realm issuer. The 'aud' "
		         "claim must be the token endpoint '%s', it was '%s'.",
		         audiences[0], aud ? aud : "(missing)");
		return 50012;
	}
	if (!iss || !sub || strcasecmp(iss, app->client_id) != 0 ||
	    strcasecmp(sub, app->client_id) != 0) {
		snprintf(msg, msglen,
		         "Client assertion contains an invalid 'iss' or 'sub' claim: both must be "
		         "the client ID '%s'.",
		         app->client_id);
		return 50012;
	}
	if (!json_is_number(exp) || json_number_value(exp) <= (double)now ||
	    (json_is_number(nbf) && json_number_value(nbf) > (double)(now + 300))) {
		snprintf(msg, msglen,
		         "Client assertion is not within its valid time range. Current time: %lld, "
		         "expiry time of assertion %lld.",
		         (long long)now, (long long)json_number_value(exp));
		return 700024;
	}
	return 0;
}

int sim_check_client_assertion(const char *assertion, const struct sim_app *app,
                               const char *const *audiences, int64_t now, char *msg, size_t msglen)
{
	json_t *hdr, *payload;
	const char *dot2, *alg;
	X509 *x = NULL;
	int rc;

	if (jwt_split(assertion, &hdr, &payload, &dot2) < 0) {
		snprintf(msg, msglen, "JWT token is invalid or malformed.");
		return 50027;
	}
	alg = json_string_value(json_object_get(hdr, "alg"));
	if (!alg || (strcmp(alg, "RS256") != 0 && strcmp(alg, "PS256") != 0)) {
		snprintf(msg, msglen,
		         "Invalid JWT token. '%s' is not a supported signature algorithm.",
		         alg ? alg : "(none)");
		rc = 5002738;
	} else if (!app->cert_pem || !(x = load_cert(app->cert_pem))) {
		snprintf(msg, msglen,
		         "The certificate with identifier used to sign the client assertion is not "
		         "registered on application. [Reason - No certificate is registered.]");
		rc = 700027;
	} else if ((rc = check_thumbprint(x, hdr, msg, msglen)) != 0) {
		/* msg set */
	} else if (!verify_signature(x, alg, assertion, dot2)) {
		snprintf(msg, msglen, "Client assertion failed signature validation.");
		rc = 700027;
	} else {
		rc = check_claims(payload, app, audiences, now, msg, msglen);
	}
	X509_free(x);
	json_decref(hdr);
	json_decref(payload);
	return rc;
}
