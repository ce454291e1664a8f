/* The one filter for text leavesync did not write (see redact.h for the rules). One pass over the
 * input: at each position the credential patterns are tried first (a match emits "[redacted]" and
 * skips the credential), otherwise one UTF-8 character is copied or escaped. The pass stops as soon
 * as the output is full, so that a 10 MB fault string costs no more than a short one. */
#include "common/redact.h"

#include "common/buf.h"
#include "common/util.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SECRETS 16
#define MIN_SECRET 8
#define OPAQUE_MIN 32 /* a GUID is 36 with dashes (excluded); Entra secrets are 40, tokens more */

/* The secrets of the configuration (a process-wide filter, like the terminal itself: filled once
 * from the config, read by every thread that records a server's text). */
static struct {
	pthread_mutex_t mu;
	char *v[MAX_SECRETS];
	size_t n;
} secrets = {PTHREAD_MUTEX_INITIALIZER, {0}, 0};

void redact_add_secret(const char *secret)
{
	size_t len = secret ? strlen(secret) : 0;

	if (len < MIN_SECRET)
		return;
	pthread_mutex_lock(&secrets.mu);
	for (size_t i = 0; i < secrets.n; i++) {
		if (strcmp(secrets.v[i], secret) == 0) {
			pthread_mutex_unlock(&secrets.mu);
			return;
		}
	}
	if (secrets.n == MAX_SECRETS) { /* the oldest goes: configs are loaded once per process */
		free(secrets.v[0]);
		memmove(secrets.v, secrets.v + 1, (MAX_SECRETS - 1) * sizeof secrets.v[0]);
		secrets.n--;
	}
	secrets.v[secrets.n++] = xstrdup(secret);
	pthread_mutex_unlock(&secrets.mu);
}

/* ---- characters ---- */

/* Length of the valid UTF-8 sequence at s (1..4) and its code point, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp)
{
	unsigned c = s[0];
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, *cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, *cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, *cp = c & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && *cp < 0x800) || (n == 4 && (*cp < 0x10000 || *cp > 0x10ffff)) ||
	    (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* Code points that move the cursor, reorder text or hide characters on a terminal. */
static bool is_control_cp(unsigned cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c ||
	       (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

int redact_has_control(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		unsigned cp;
		size_t n = utf8_decode(u + i, len - i, &cp);

		if (n == 0 || is_control_cp(cp))
			return 1;
		i += n;
	}
	return 0;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 7235 token68 characters (credentials after an auth scheme). */
static bool is_token68(unsigned char c)
{
	return is_alnum(c) || strchr("-._~+/=", c) != NULL;
}

static bool is_base64url(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

/* Characters of an opaque token (refresh tokens hold '.', '*', '!' and '~'); '/' and ':' end
 * one, so that URLs and times stay readable. */
static bool is_opaque(unsigned char c)
{
	return is_alnum(c) || strchr("-._~+=*!", c) != NULL;
}

/* ---- the output ---- */

struct out {
	struct buf b;
	size_t limit; /* bytes of text before the cut marker */
	bool full;
	bool opaque; /* apply the long-opaque-string rule (server text, not leavesync's messages) */
};

/* Appends one unit (a character, an escape, the marker) unless it would pass the limit. */
static bool put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->b.len + n > o->limit) {
		o->full = true;
		return false;
	}
	buf_append(&o->b, s, n);
	return true;
}

/* Copies or escapes the UTF-8 character at in[*i], advancing *i. */
static bool put_char(struct out *o, const unsigned char *in, size_t len, size_t *i)
{
	char esc[16];
	unsigned cp;
	size_t n = utf8_decode(in + *i, len - *i, &cp);

	if (n == 0) {
		snprintf(esc, sizeof esc, "\\x%02X", in[*i]);
		n = 1;
	} else if (cp == '\n' || cp == '\r' || cp == '\t') {
		snprintf(esc, sizeof esc, "\\%c", cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't');
	} else if (cp < 0x20 || cp == 0x7f) {
		snprintf(esc, sizeof esc, "\\x%02X", cp);
	} else if (is_control_cp(cp)) {
		snprintf(esc, sizeof esc, "\\u%04X", cp);
	} else {
		if (!put(o, (const char *)in + *i, n))
			return false;
		*i += n;
		return true;
	}
	if (!put(o, esc, strlen(esc)))
		return false;
	*i += n;
	return true;
}

/* ---- the patterns: each returns the end of what it redacts (0: no match) and where the
 * redaction starts (*from; the text before it is kept) ---- */

static bool at_boundary(const unsigned char *in, size_t i)
{
	return i == 0 || !is_alnum(in[i - 1]);
}

static bool word_at(const unsigned char *in, size_t len, size_t i, const char *word)
{
	size_t n = strlen(word);

	return i + n <= len && strncasecmp((const char *)in + i, word, n) == 0 &&
	       (i + n == len || !is_alnum(in[i + n]));
}

static size_t match_secret(const unsigned char *in, size_t len, size_t i)
{
	for (size_t k = 0; k < secrets.n; k++) {
		size_t n = strlen(secrets.v[k]);

		if (i + n <= len && memcmp(in + i, secrets.v[k], n) == 0)
			return i + n;
	}
	return 0;
}

/* "eyJ" + base64url: the JSON header of a JWT ('{"'), whatever follows. */
static size_t match_jwt(const unsigned char *in, size_t len, size_t i)
{
	size_t j = i + 3;

	if (i + 10 > len || memcmp(in + i, "eyJ", 3) != 0)
		return 0;
	while (j < len && (is_base64url(in[j]) || in[j] == '.'))
		j++;
	return j - i >= 10 ? j : 0;
}

/* "Bearer xxxx" and the other schemes' credentials; a challenge's `realm="..."` is not one. */
static size_t match_scheme(const unsigned char *in, size_t len, size_t i, size_t *from)
{
	static const char *const schemes[] = {"bearer", "basic", "negotiate", "ntlm"};
	size_t j = 0, start, eq = 0;
	bool digit = false, symbol = false;

	if (!at_boundary(in, i))
		return 0;
	for (size_t k = 0; k < sizeof schemes / sizeof schemes[0] && !j; k++)
		if (word_at(in, len, i, schemes[k]))
			j = i + strlen(schemes[k]);
	if (!j || j >= len || in[j] != ' ')
		return 0;
	while (j < len && in[j] == ' ')
		j++;
	start = j;
	while (j < len && is_token68(in[j])) {
		if (in[j] == '=' && !eq)
			eq = j;
		digit |= in[j] >= '0' && in[j] <= '9';
		symbol |= !is_alnum(in[j]) && in[j] != '=';
		j++;
	}
	/* padding may end a credential; `name=value` or `name="` is an auth-param */
	if (eq && (j < len && in[j] == '"'))
		return 0;
	for (size_t k = eq; eq && k < j; k++)
		if (in[k] != '=')
			return 0;
	if (j - start < 16 && !digit && !symbol)
		return 0; /* an ordinary word: "Basic authentication is disabled" */
	*from = start;
	return j;
}

/* key=value, key: value, "key": "value", key="value" for the names of secrets. The value of an
 * Authorization header runs to the end of the line (it holds a space). */
static size_t match_key(const unsigned char *in, size_t len, size_t i, size_t *from)
{
	static const char *const keys[] = {
	    "authorization", "proxy-authorization", "access_token", "refresh_token", "id_token",
	    "client_secret", "client_assertion",    "device_code",  "password",      "secret",
	    "token"};
	size_t j = 0, k, nkeys = sizeof keys / sizeof keys[0];
	bool quoted_key, whole_line = false, generic = false;

	if (!at_boundary(in, i))
		return 0;
	for (k = 0; k < nkeys && !j; k++)
		if (word_at(in, len, i, keys[k]))
			j = i + strlen(keys[k]), whole_line = k < 2, generic = k >= nkeys - 2;
	if (!j)
		return 0;
	quoted_key = i > 0 && (in[i - 1] == '"' || in[i - 1] == '\'');
	if (quoted_key && j < len && in[j] == in[i - 1])
		j++;
	else
		quoted_key = false;
	while (j < len && in[j] == ' ')
		j++;
	/* "the token: expired" is prose; token=..., "token": ... are values */
	if (j >= len || (in[j] != '=' && (in[j] != ':' || (generic && !quoted_key))))
		return 0;
	j++;
	while (j < len && in[j] == ' ')
		j++;
	if (j < len && (in[j] == '"' || in[j] == '\'')) {
		unsigned char q = in[j++];
		size_t s = j;

		while (j < len && in[j] != q && in[j] != '\n' && in[j] != '\r')
			j += in[j] == '\\' && j + 1 < len ? 2 : 1;
		*from = s;
		return j > s ? j : 0;
	}
	*from = j;
	while (j < len && in[j] != '\n' && in[j] != '\r' && in[j] >= 0x20 &&
	       (whole_line || !strchr(" \t&,;\"'<>)]}", in[j])))
		j++;
	return j > *from ? j : 0;
}

/* The user info of a URL ("https://user:password@host"): credentials never belong there. */
static size_t match_userinfo(const unsigned char *in, size_t len, size_t i, size_t *from)
{
	size_t j = i + 3, at = 0;

	if (i + 3 > len || memcmp(in + i, "://", 3) != 0)
		return 0;
	for (; j < len && !strchr("/?#\"'<> \t", in[j]) && in[j] >= 0x20; j++)
		if (in[j] == '@')
			at = j;
	if (!at || at == i + 3)
		return 0;
	*from = i + 3;
	return at;
}

/* A run of 32 or more opaque characters with letters and digits, other than GUIDs, hashes and
 * version numbers (only hex digits, '-' and '.'). *run_end is set either way: the caller skips
 * the check inside a run that did not qualify. */
static size_t match_opaque(const unsigned char *in, size_t len, size_t i, bool run_start,
                           size_t *run_end)
{
	size_t j = i;
	bool letter = false, digit = false, non_hex = false;

	if (!run_start && i > 0 && is_opaque(in[i - 1]))
		return 0;
	while (j < len && is_opaque(in[j])) {
		unsigned char c = in[j];

		digit |= c >= '0' && c <= '9';
		letter |= isalpha(c) != 0;
		non_hex |= !isxdigit(c) && c != '-' && c != '.';
		j++;
	}
	*run_end = j;
	return j - i >= OPAQUE_MIN && letter && digit && non_hex ? j : 0;
}

/* ---- the pass ---- */

static void redact_into_buf(struct out *o, const unsigned char *in, size_t len, size_t *stop)
{
	size_t i = 0, opaque_checked = 0, mark_end = 0;

	pthread_mutex_lock(&secrets.mu);
	while (i < len && !o->full) {
		size_t end, from = i;

		/* (what follows a redaction starts a run of its own) */
		if ((end = match_secret(in, len, i)) == 0 &&
		    (end = match_userinfo(in, len, i, &from)) == 0 &&
		    (end = match_key(in, len, i, &from)) == 0 &&
		    (end = match_scheme(in, len, i, &from)) == 0 &&
		    (end = match_jwt(in, len, i)) == 0 && o->opaque &&
		    (i >= opaque_checked || i == mark_end))
			end = match_opaque(in, len, i, i == mark_end && i > 0, &opaque_checked);
		if (end == 0) {
			put_char(o, in, len, &i);
			continue;
		}
		while (i < from && !o->full)
			put_char(o, in, len, &i);
		if (o->full || !put(o, REDACT_MARK, strlen(REDACT_MARK)))
			break;
		i = mark_end = end;
	}
	pthread_mutex_unlock(&secrets.mu);
	*stop = i;
}

static char *redact_with(char *out, size_t size, const char *in, size_t len, bool opaque)
{
	struct out o = {BUF_INIT, 0, false, opaque};
	char marker[48];
	size_t stop = 0, reserve;

	if (!out || size == 0)
		return out;
	out[0] = '\0';
	if (!in || len == 0)
		return out;
	o.limit = size - 1;
	redact_into_buf(&o, (const unsigned char *)in, len, &stop);
	/* Too long: again, leaving room for the marker (as long as the input's length needs). */
	reserve = (size_t)snprintf(marker, sizeof marker, "...[%zu more bytes]", len);
	if (stop < len && size - 1 > 2 * reserve) {
		buf_free(&o.b);
		o = (struct out){BUF_INIT, size - 1 - reserve, false, opaque};
		redact_into_buf(&o, (const unsigned char *)in, len, &stop);
	}
	if (o.b.len)
		memcpy(out, o.b.data, o.b.len);
	out[o.b.len] = '\0';
	if (stop < len && size - 1 > 2 * reserve)
		snprintf(out + o.b.len, size - o.b.len, "...[%zu more bytes]", len - stop);
	buf_free(&o.b);
	return out;
}

char *redact_text(char *out, size_t size, const char *in, size_t len)
{
	return redact_with(out, size, in, len, true);
}

char *redact_message(char *out, size_t size, const char *in, size_t len)
{
	return redact_with(out, size, in, len, false);
}

char *redact_dup(const char *in, size_t max)
{
	char *out = xmalloc(max + 1);

	return redact_text(out, max + 1, in, in ? strlen(in) : 0);
}

char *redact_message_dup(const char *in, size_t max)
{
	char *out = xmalloc(max + 1);

	return redact_message(out, max + 1, in, in ? strlen(in) : 0);
}

void redact_in_place(char *s, size_t size)
{
	char *copy;

	if (!s || !size)
		return;
	copy = xstrdup(s);
	redact_text(s, size, copy, strlen(copy));
	free(copy);
}

void redact_message_in_place(char *s, size_t size)
{
	char *copy;

	if (!s || !size)
		return;
	copy = xstrdup(s);
	redact_message(s, size, copy, strlen(copy));
	free(copy);
}
