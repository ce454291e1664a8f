/* API keys, scopes and webhook signatures of leavesync serve.
 *
 * A key is "lsk_" + 43 base64url characters (32 bytes from getrandom, 256 bits). The store keeps
 * only its SHA-256: a key that random cannot be guessed from its hash, so a slow password hash
 * (bcrypt, Argon2) would add nothing but CPU per request (OWASP Password Storage Cheat Sheet:
 * slow hashes are for low-entropy passwords). Hashes are compared with CRYPTO_memcmp. */
#ifndef SERVE_AUTH_H
#define SERVE_AUTH_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_TEXT_LEN 48 /* "lsk_" + 43 + NUL */

/* Scopes include the ones below them: read < push < admin. */
enum scope { SCOPE_NONE = 0, SCOPE_READ = 1, SCOPE_PUSH = 2, SCOPE_ADMIN = 3 };
enum scope scope_from_name(const char *name); /* SCOPE_NONE for an unknown name */
const char *scope_name(enum scope s);

/* A new random key; -1 when the system has no randomness to give. */
int apikey_generate(char out[APIKEY_TEXT_LEN]);
void apikey_hash(const char *key, size_t len, unsigned char out[API_KEY_HASH_LEN]);

struct principal {
	char name[128]; /* the key's name, for logs and idempotency; "" when anonymous */
	enum scope scope;
};

enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_MALFORMED, AUTH_UNKNOWN, AUTH_ERROR };
/* Checks an Authorization header value (NULL when absent) against the store's keys. */
enum auth_result apikey_authenticate(struct store *st, const char *authorization,
                                     struct principal *out, struct error *err);

/* X-Signature: sha256=HEX over the raw body with the shared secret (HMAC-SHA256), compared in
 * constant time. */
bool signature_valid(const char *secret, size_t secret_len, const char *body, size_t body_len,
                     const char *header);
/* Lower-case hex HMAC-SHA256 (65 bytes with NUL), for tests and documentation examples. */
void signature_hex(const char *secret, size_t secret_len, const char *body, size_t body_len,
                   char out[65]);

#endif
