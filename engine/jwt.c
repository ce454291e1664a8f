/* JWT pieces for OAuth: base64url, the certificate client assertion (RS256 or PS256 with
 * libcrypto), PKCE, and decoding a token's payload for diagnostics. Certificate credentials:
 * https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials ("alg: Should
 * be PS256", "x5t#S256", "Use PSS padding"; earlier versions: RS256 with x5t); the thumbprint is
 * base64url of the binary hash of the DER certificate, not of the hex string the portal shows. */
#include "engine/oauth.h"

#include "common/buf.h"
#include "common/util.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *oauth_base64url(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		*o++ = b64url[v >> 6 & 63];
		*o++ = b64url[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);

		*o++ = b64url[v >> 18 & 63];
		*o++ = b64url[v >> 12 & 63];
		if (i + 1 < len)
			*o++ = b64url[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}

static int b64url_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;

	return p ? (int)(p - b64url) : -1;
}

unsigned char *oauth_base64url_decode(const char *s, size_t len, size_t *out_len)
{
	unsigned char *out;
	unsigned acc = 0;
	size_t n = 0, bits = 0;

	while (len && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return NULL;
	out = xmalloc(len / 4 * 3 + 4);
	for (size_t i = 0; i < len; i++) {
		int v = b64url_value(s[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out[n] = '\0';
	if (out_len)
		*out_len = n;
	return out;
}

/* ---- PKCE (RFC 7636): 48 random bytes give a 64-character verifier; S256 challenge ---- */

void oauth_pkce_pair(char verifier[65], char challenge[64])
{
	unsigned char raw[48], digest[32];
	char *v, *c;
	size_t got = 0;

	while (got < sizeof raw) {
		ssize_t n = getrandom(raw + got, sizeof raw - got, 0);

		if (n > 0)
			got += (size_t)n;
	}
	v = oauth_base64url(raw, sizeof raw);
	EVP_Digest(v, strlen(v), digest, NULL, EVP_sha256(), NULL);
	c = oauth_base64url(digest, sizeof digest);
	memcpy(verifier, v, 65);
	memcpy(challenge, c, 44);
	free(v);
	free(c);
}

/* ---- client assertion ---- */

static char *b64url_json(json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *out = oauth_base64url(text, strlen(text));

	free(text);
	return out;
}

static char *thumbprint(X509 *cert, const EVP_MD *md)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (X509_digest(cert, md, digest, &len) != 1)
		return NULL;
	return oauth_base64url(digest, len);
}

static X509 *read_cert(const char *path, struct error *err)
{
	FILE *f = fopen(path, "r");
	X509 *cert;

	if (!f) {
		error_set(err,
		          "cert_file %s cannot be read: %m; set cert_file to the PEM certificate "
		          "uploaded to the app registration",
		          path);
		return NULL;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!cert)
		error_set(err,
		          "cert_file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
		          path);
	return cert;
}

static EVP_PKEY *read_key(const char *path, X509 *cert, struct error *err)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key;

	if (!f) {
		error_set(err,
		          "key_file %s cannot be read: %m; set key_file to the PEM private key "
		          "of cert_file",
		          path);
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		error_set(err,
		          "key_file %s holds no unencrypted PEM private key (-----BEGIN PRIVATE "
		          "KEY-----); export it without a passphrase and with mode 0600",
		          path);
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		error_set(err,
		          "key_file %s is not an RSA key; Entra client assertions are signed "
		          "with RS256: create an RSA certificate",
		          path);
	} else if (X509_check_private_key(cert, key) != 1) {
		error_set(err,
		          "key_file %s is not the private key of cert_file: use the key the "
		          "certificate was created with",
		          path);
	} else {
		return key;
	}
	EVP_PKEY_free(key);
	return NULL;
}

/* RS256: RSASSA-PKCS1-v1_5 with SHA-256; PS256: RSASSA-PSS with SHA-256, MGF1 SHA-256 and a salt
 * as long as the digest (RFC 7518 §3.5). */
static char *sign_rsa(EVP_PKEY *key, bool pss, const char *input, struct error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	char *out = NULL;

	if (ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
	    (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
	              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
	              EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0)) &&
	    EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, strlen(input)) == 1) {
		sig = xmalloc(sig_len);
		if (EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input,
		                   strlen(input)) == 1)
			out = oauth_base64url(sig, sig_len);
	}
	if (!out)
		error_set(err, "signing the client assertion failed (libcrypto)");
	free(sig);
	EVP_MD_CTX_free(ctx);
	return out;
}

static char *assertion_body(X509 *cert, const struct oauth_app *app, const char *audience,
                            int64_t now, bool pss)
{
	char jti[37], *x5t256 = thumbprint(cert, EVP_sha256()), *x5t = thumbprint(cert, EVP_sha1());
	json_t *header = json_object(), *claims = json_object();
	struct buf b = BUF_INIT;
	char *h, *c;

	uuid_v4(jti);
	json_object_set_new(header, "alg", json_string(pss ? "PS256" : "RS256"));
	json_object_set_new(header, "typ", json_string("JWT"));
	json_object_set_new(header, "x5t#S256", json_string(x5t256 ? x5t256 : ""));
	if (!pss) /* MSAL's form; the PS256 form names the SHA-256 thumbprint only */
		json_object_set_new(header, "x5t", json_string(x5t ? x5t : ""));
	json_object_set_new(claims, "aud", json_string(audience));
	json_object_set_new(claims, "iss", json_string(app->client_id));
	json_object_set_new(claims, "sub", json_string(app->client_id));
	json_object_set_new(claims, "jti", json_string(jti));
	json_object_set_new(claims, "nbf", json_integer(now));
	json_object_set_new(claims, "iat", json_integer(now));
	json_object_set_new(claims, "exp", json_integer(now + 600));
	h = b64url_json(header);
	c = b64url_json(claims);
	buf_printf(&b, "%s.%s", h, c);
	free(h);
	free(c);
	free(x5t256);
	free(x5t);
	json_decref(header);
	json_decref(claims);
	return buf_steal(&b);
}

char *oauth_client_assertion(const struct oauth_app *app, const char *audience, int64_t now,
                             struct error *err)
{
	X509 *cert;
	EVP_PKEY *key;
	char *body, *sig, *jwt = NULL;
	bool pss = app->cert_algorithm && strcmp(app->cert_algorithm, "PS256") == 0;

	if (app->cert_algorithm && !pss && strcmp(app->cert_algorithm, "RS256") != 0) {
		error_set(err, "cert_algorithm = %s: expected RS256 or PS256", app->cert_algorithm);
		return NULL;
	}
	if (!app->cert_file || !app->client_id) {
		error_set(err,
		          "a certificate credential needs cert_file (and key_file) and client_id");
		return NULL;
	}
	cert = read_cert(app->cert_file, err);
	if (!cert)
		return NULL;
	key = read_key(app->key_file ? app->key_file : app->cert_file, cert, err);
	if (!key) {
		X509_free(cert);
		return NULL;
	}
	body = assertion_body(cert, app, audience, now, pss);
	sig = sign_rsa(key, pss, body, err);
	if (sig) {
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s.%s", body, sig);
		jwt = buf_steal(&b);
	}
	free(body);
	free(sig);
	EVP_PKEY_free(key);
	X509_free(cert);
	return jwt;
}

/* ---- diagnostics ---- */

char *oauth_jwt_payload(const char *jwt)
{
	const char *dot1, *dot2;
	unsigned char *raw;
	size_t len;
	json_t *obj;

	if (!jwt)
		return NULL;
	dot1 = strchr(jwt, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!dot2)
		return NULL;
	raw = oauth_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &len);
	if (!raw)
		return NULL;
	obj = json_loadb((const char *)raw, len, 0, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		free(raw);
		return NULL;
	}
	json_decref(obj);
	return (char *)raw;
}
