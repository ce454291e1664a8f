/* Text that leavesync did not write (a server's error message, a fault string, an AADSTS
 * description, a header value, a claim of a token) made safe to print, log or store. One function
 * for every such path, so that a hostile or careless server can neither drive the terminal nor make
 * leavesync repeat a credential:
 *
 *   - control characters are escaped: C0 controls, DEL, C1 controls, Unicode format and bidi
 *     controls (U+200B..U+200F, U+202A..U+202E, U+2060..U+2069, U+2028, U+2029, U+061C, U+FEFF)
 *     and bytes that are not UTF-8 become \xNN or \uNNNN; the result is one line of printable
 * UTF-8;
 *   - what looks like a credential becomes "[redacted]": the value of an Authorization header, the
 *     credential after Bearer/Basic/Negotiate/NTLM, a JWT (base64url starting "eyJ"), the value
 *     of access_token, refresh_token, id_token, client_secret, client_assertion, device_code,
 *     password, secret or token given as key=value, key: value or "key": "value", any long opaque
 *     string (32 or more token characters mixing letters and digits, such as a refresh token or an
 *     Exchange item id; GUIDs and plain hex stay), the user info of a URL
 *     ("https://user:password@host"), and every secret registered with
 *     redact_add_secret (the configured client secrets);
 *   - the result is cut to the caller's limit, with a marker saying how much was left out.
 */
#ifndef COMMON_REDACT_H
#define COMMON_REDACT_H

#include <stddef.h>

#define REDACT_MARK "[redacted]"
/* The size most callers pass: a server message longer than this is not worth a terminal line. */
#define REDACT_DEFAULT_MAX 300

/* Writes the safe form of in[0..len) into out[size] (always NUL-terminated, at most size - 1 bytes
 * including the cut marker "...[N more bytes]"). in may be NULL (then out is ""). Returns out. */
char *redact_text(char *out, size_t size, const char *in, size_t len);

/* The same for a NUL-terminated string, into a new heap string of at most max bytes (caller
 * frees; never NULL). */
char *redact_dup(const char *in, size_t max);

/* In place: s (NUL-terminated, in a buffer of size bytes) replaced by its safe form. */
void redact_in_place(char *s, size_t size);

/* The same filter for leavesync's own messages, which quote server text already filtered at its
 * source besides file names, item ids and URLs that are meant to be read: every rule but the long
 * opaque string (the nets at the terminal, the store and doctor). */
char *redact_message(char *out, size_t size, const char *in, size_t len);
char *redact_message_dup(const char *in, size_t max);
void redact_message_in_place(char *s, size_t size);

/* Registers a secret the process knows (a configured client secret), so that any text holding it
 * is redacted. Copies it; secrets shorter than 8 bytes are not registered (they would redact
 * ordinary words; no real client secret is that short). At most 16 are kept. Thread-safe. */
void redact_add_secret(const char *secret);

/* True when s (NUL-terminated) holds a control character as defined above, or is not UTF-8: the
 * test a value must pass before it goes into an HTTP header or a file name. */
int redact_has_control(const char *s, size_t len);

#endif
