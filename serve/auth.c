/* API keys and signatures (auth.h). */
#include "serve/auth.h"

#include "serve/parse.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

enum scope scope_from_name(const char *name)
{
	if (!name)
		return SCOPE_NONE;
	if (!strcmp(name, "read"))
		return SCOPE_READ;
	if (!strcmp(name, "push"))
		return SCOPE_PUSH;
	if (!strcmp(name, "admin"))
		return SCOPE_ADMIN;
	return SCOPE_NONE;
}

const char *scope_name(enum scope s)
{
	static const char *const names[] = {"none", "read", "push", "admin"};
	return s <= SCOPE_ADMIN ? names[s] : "none";
}

int apikey_generate(char out[APIKEY_TEXT_LEN])
{
	static const char b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33] = {0}; /* 32 random bytes + one zero pad for the last group */
	size_t o = 4;

	if (getrandom(raw, 32, 0) != 32)
		return -1;
	memcpy(out, "lsk_", 4);
	for (size_t i = 0; i < 33; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		out[o++] = b64url[v & 63];
	}
	o = 4 + 43; /* 32 bytes are 43 characters unpadded (RFC 4648 section 5) */
	out[o] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	return 0;
}

void apikey_hash(const char *key, size_t len, unsigned char out[API_KEY_HASH_LEN])
{
	SHA256((const unsigned char *)key, len, out);
}

enum auth_result apikey_authenticate(struct store *st, const char *authorization,
                                     struct principal *out, struct error *err)
{
	unsigned char h[API_KEY_HASH_LEN];
	struct api_key k;
	const char *tok;
	size_t len;
	int rc;

	memset(out, 0, sizeof *out);
	if (!authorization)
		return AUTH_MISSING;
	if (serve_bearer_token(authorization, &tok, &len) < 0)
		return AUTH_MALFORMED;
	apikey_hash(tok, len, h);
	rc = store_apikey_find(st, h, &k, err);
	if (rc < 0)
		return AUTH_ERROR;
	/* the lookup is by hash; compare again in constant time so that no path compares secrets
	 * with memcmp */
	if (rc == 0 || CRYPTO_memcmp(k.hash, h, sizeof h) != 0) {
		api_key_free(&k);
		return AUTH_UNKNOWN;
	}
	snprintf(out->name, sizeof out->name, "%s", k.name);
	out->scope = scope_from_name(k.scope);
	api_key_free(&k);
	return out->scope == SCOPE_NONE ? AUTH_UNKNOWN : AUTH_OK;
}

static void hmac_sha256(const char *secret, size_t secret_len, const char *body, size_t body_len,
                        unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)body, body_len, out, &n);
}

bool signature_valid(const char *secret, size_t secret_len, const char *body, size_t body_len,
                     const char *header)
{
	unsigned char want[32], got[32];

	if (serve_signature_header(header, got) < 0)
		return false;
	hmac_sha256(secret, secret_len, body ? body : "", body_len, want);
	return CRYPTO_memcmp(want, got, sizeof want) == 0;
}

void signature_hex(const char *secret, size_t secret_len, const char *body, size_t body_len,
                   char out[65])
{
	unsigned char d[32];

	hmac_sha256(secret, secret_len, body ? body : "", body_len, d);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}
