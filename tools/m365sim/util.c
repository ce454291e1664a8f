/* m365sim helpers: a hash table, request/response helpers, encodings, time. */
#include "common/util.h"
#include "tools/m365sim/sim_core.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

/* ---- hash table ---- */

struct sim_map_entry {
	char *key;
	void *val;
	struct sim_map_entry *next;
};

struct sim_map {
	struct sim_map_entry **slots;
	size_t nslots, count;
	void (*free_val)(void *);
};

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct sim_map *sim_map_new(void (*free_val)(void *))
{
	struct sim_map *m = xcalloc(1, sizeof *m);

	m->nslots = 64;
	m->slots = xcalloc(m->nslots, sizeof *m->slots);
	m->free_val = free_val;
	return m;
}

void sim_map_clear(struct sim_map *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct sim_map_entry *e = m->slots[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (m->free_val)
				m->free_val(e->val);
			free(e->key);
			free(e);
		}
		m->slots[i] = NULL;
	}
	m->count = 0;
}

void sim_map_free(struct sim_map *m)
{
	if (!m)
		return;
	sim_map_clear(m);
	free(m->slots);
	free(m);
}

static struct sim_map_entry **find_slot(const struct sim_map *m, const char *key)
{
	struct sim_map_entry **pe = &m->slots[hash_key(key) & (m->nslots - 1)];

	while (*pe && strcmp((*pe)->key, key) != 0)
		pe = &(*pe)->next;
	return pe;
}

void *sim_map_get(const struct sim_map *m, const char *key)
{
	struct sim_map_entry **pe;

	if (!key)
		return NULL;
	pe = find_slot(m, key);
	return *pe ? (*pe)->val : NULL;
}

static void grow(struct sim_map *m)
{
	size_t n = m->nslots * 2;
	struct sim_map_entry **slots = xcalloc(n, sizeof *slots);

	for (size_t i = 0; i < m->nslots; i++) {
		struct sim_map_entry *e = m->slots[i], *next;
		for (; e; e = next) {
			size_t j = hash_key(e->key) & (n - 1);
			next = e->next;
			e->next = slots[j];
			slots[j] = e;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

void sim_map_put(struct sim_map *m, const char *key, void *val)
{
	struct sim_map_entry **pe = find_slot(m, key), *e;

	if (*pe) {
		if (m->free_val && (*pe)->val != val)
			m->free_val((*pe)->val);
		(*pe)->val = val;
		return;
	}
	e = xcalloc(1, sizeof *e);
	e->key = xstrdup(key);
	e->val = val;
	*pe = e;
	if (++m->count > m->nslots)
		grow(m);
}

void *sim_map_take(struct sim_map *m, const char *key)
{
	struct sim_map_entry **pe = find_slot(m, key), *e = *pe;
	void *val;

	if (!e)
		return NULL;
	*pe = e->next;
	val = e->val;
	free(e->key);
	free(e);
	m->count--;
	return val;
}

void sim_map_del(struct sim_map *m, const char *key)
{
	void *val = sim_map_take(m, key);

	if (val && m->free_val)
		m->free_val(val);
}

size_t sim_map_count(const struct sim_map *m)
{
	return m->count;
}

void sim_map_each(const struct sim_map *m, void (*fn)(const char *key, void *val, void *ctx),
                  void *ctx)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct sim_map_entry *e = m->slots[i]; e; e = e->next)
			fn(e->key, e->val, ctx);
}

/* ---- requests and responses ---- */

const char *sim_req_header(const struct sim_request *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *sim_url_decode(const char *s, size_t len, bool plus_is_space)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '+' && plus_is_space) {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

void sim_url_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			buf_append(b, s, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			buf_append(b, e, 3);
		}
	}
}

char *sim_query_param(const char *query, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&'), *eq;
		size_t len = end ? (size_t)(end - p) : strlen(p);
		eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		char *key = sim_url_decode(p, klen, true);
		bool match = strlen(key) == nlen && memcmp(key, name, nlen) == 0;
		free(key);
		if (match)
			return eq ? sim_url_decode(eq + 1, len - klen - 1, true) : xstrdup("");
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

void sim_resp_header_add(struct sim_response *r, const char *name, const char *value)
{
	if (r->nheaders >= sizeof r->headers / sizeof r->headers[0])
		return;
	r->headers[r->nheaders].name = xstrdup(name);
	r->headers[r->nheaders].value = xstrdup(value);
	r->nheaders++;
}

void sim_resp_header(struct sim_response *r, const char *name, const char *value)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0) {
			free(r->headers[i].value);
			r->headers[i].value = xstrdup(value);
			return;
		}
	if (r->nheaders >= sizeof r->headers / sizeof r->headers[0])
		return; /* more than 16 headers: a simulator bug; drop rather than crash */
	r->headers[r->nheaders].name = xstrdup(name);
	r->headers[r->nheaders].value = xstrdup(value);
	r->nheaders++;
}

void sim_resp_json(struct sim_response *r, int status, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);

	r->status = status;
	buf_reset(&r->body);
	if (text)
		buf_puts(&r->body, text);
	free(text);
	json_decref(body);
	sim_resp_header(r, "Content-Type", "application/json; charset=utf-8");
}

/* ---- encodings ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *sim_b64url_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = xmalloc(len / 3 * 4 + 5), *o = out;
	size_t i = 0;

	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64url[v >> 18];
		*o++ = b64url[(v >> 12) & 63];
		*o++ = b64url[(v >> 6) & 63];
		*o++ = b64url[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		*o++ = b64url[v >> 18];
		*o++ = b64url[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = b64url[v >> 18];
		*o++ = b64url[(v >> 12) & 63];
		*o++ = b64url[(v >> 6) & 63];
	}
	*o = '\0';
	return out;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

unsigned char *sim_b64url_decode(const char *s, size_t slen, size_t *len)
{
	unsigned char *out = xmalloc(slen / 4 * 3 + 3);
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	while (slen > 0 && s[slen - 1] == '=')
		slen--;
	for (size_t i = 0; i < slen; i++) {
		int v = b64val(s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*len = n;
	return out;
}

void sim_random_bytes(void *out, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom((char *)out + got, len - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort(); /* no randomness: nothing safe to do */
	}
}

char *sim_random_b64url(const char *prefix, size_t nbytes)
{
	unsigned char raw[128];
	struct buf b = BUF_INIT;
	char *enc;

	if (nbytes > sizeof raw)
		nbytes = sizeof raw;
	sim_random_bytes(raw, nbytes);
	enc = sim_b64url_encode(raw, nbytes);
	buf_puts(&b, prefix);
	buf_puts(&b, enc);
	free(enc);
	return buf_steal(&b);
}

void sim_lower(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

bool sim_is_guid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

	if (!s || strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* ---- time ---- */

void sim_format_aad_time(char out[24], int64_t unix_seconds)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%d %H:%M:%SZ", &tm);
}

int sim_parse_utc(const char *iso, int64_t *out)
{
	struct tm tm = {0};
	const char *p;

	if (!iso)
		return -1;
	p = strptime(iso, "%Y-%m-%dT%H:%M", &tm);
	if (!p)
		p = strptime(iso, "%Y-%m-%d", &tm);
	if (!p)
		return -1;
	if (*p == ':') {
		char *end;
		long sec = strtol(p + 1, &end, 10);
		if (end == p + 1 || sec < 0 || sec > 60)
			return -1;
		tm.tm_sec = (int)sec;
		p = end;
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (strncmp(p, "+00:00", 6) == 0)
		p += 6;
	if (*p)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}
