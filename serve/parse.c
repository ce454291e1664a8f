/* Request parsers (parse.h). */
#include "serve/parse.h"

#include <string.h>
#include <strings.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long serve_percent_decode(const char *s, size_t len, char *out, size_t outlen, bool plus_is_space)
{
	size_t o = 0;

	if (outlen == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

int serve_path_match(const char *pattern, const char *path, size_t path_len, char *param,
                     size_t param_len)
{
	const char *p = pattern, *s = path, *end = path + path_len;

	while (*p) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			const char *seg_end = memchr(s, '/', (size_t)(end - s));

			if (!close)
				return 0;
			if (!seg_end)
				seg_end = end;
			if (seg_end == s)
				return 0;
			/* the pattern continues after the parameter only with "/..." */
			if (close[1] == '\0' && seg_end != end)
				return 0;
			if (param && serve_percent_decode(s, (size_t)(seg_end - s), param,
			                                  param_len, false) < 0)
				return -1;
			p = close + 1;
			s = seg_end;
			continue;
		}
		if (s >= end || *s != *p)
			return 0;
		p++;
		s++;
	}
	return s == end ? 1 : 0;
}

/* Walks name=value pairs; cb returns 1 to stop. */
static int each_param(const char *query,
                      int (*cb)(void *arg, const char *k, size_t kl, const char *v, size_t vl),
                      void *arg)
{
	const char *q = query;

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', n);
		size_t kl = eq ? (size_t)(eq - q) : n;

		if (n > 0) {
			int rc = cb(arg, q, kl, eq ? eq + 1 : q + n, eq ? n - kl - 1 : 0);
			if (rc)
				return rc;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

struct find_ctx {
	const char *name;
	char *out;
	size_t outlen;
	int found;
};

static int find_cb(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct find_ctx *f = arg;
	char key[64];

	if (serve_percent_decode(k, kl, key, sizeof key, true) < 0)
		return 0; /* not this one; serve_query_check reports it */
	if (strcmp(key, f->name) != 0)
		return 0;
	if (f->found)
		return -1; /* repeated */
	f->found = 1;
	if (serve_percent_decode(v, vl, f->out, f->outlen, true) < 0)
		return -1;
	return 0;
}

int serve_query_param(const char *query, const char *name, char *out, size_t outlen)
{
	struct find_ctx f = {name, out, outlen, 0};

	if (outlen)
		out[0] = '\0';
	if (each_param(query, find_cb, &f) < 0)
		return -1;
	return f.found;
}

struct check_ctx {
	const char *const *names;
	char *bad;
	size_t badlen;
};

static int check_cb(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct check_ctx *c = arg;
	char key[64];

	(void)v, (void)vl;
	if (serve_percent_decode(k, kl, key, sizeof key, true) >= 0)
		for (const char *const *n = c->names; *n; n++)
			if (strcmp(*n, key) == 0)
				return 0;
	if (c->badlen) {
		size_t n = kl < c->badlen - 1 ? kl : c->badlen - 1;
		for (size_t i = 0; i < n; i++)
			c->bad[i] = (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?';
		c->bad[n] = '\0';
	}
	return -1;
}

int serve_query_check(const char *query, const char *const *names, char *bad, size_t badlen)
{
	struct check_ctx c = {names, bad, badlen};

	return each_param(query, check_cb, &c) < 0 ? -1 : 0;
}

int serve_bearer_token(const char *header, const char **token, size_t *len)
{
	const char *t;
	size_t n = 0;

	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return -1;
	t = header + 7;
	while (*t == ' ')
		t++;
	/* token68 (RFC 7235 section 2.1) */
	while (t[n] && ((t[n] && strchr("-._~+/", t[n])) || (t[n] >= '0' && t[n] <= '9') ||
	                (t[n] >= 'a' && t[n] <= 'z') || (t[n] >= 'A' && t[n] <= 'Z')))
		n++;
	while (t[n] == '=')
		n++;
	if (n == 0 || n > 512)
		return -1;
	for (size_t i = n; t[i]; i++)
		if (t[i] != ' ' && t[i] != '\t')
			return -1;
	*token = t;
	*len = n;
	return 0;
}

int serve_signature_header(const char *header, unsigned char digest[32])
{
	const char *h;

	if (!header || strncasecmp(header, "sha256=", 7) != 0)
		return -1;
	h = header + 7;
	for (int i = 0; i < 32; i++) {
		int hi = hexval(h[2 * i]), lo = hi < 0 ? -1 : hexval(h[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		digest[i] = (unsigned char)(hi * 16 + lo);
	}
	return h[64] == '\0' ? 0 : -1;
}

int serve_idempotency_key(const char *header, char *out, size_t outlen)
{
	size_t n;
	const char *v = header;

	if (!header)
		return -1;
	n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0 || n > 255 || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
			return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

static long count_json_array(const char *d, size_t len)
{
	size_t i = 0;
	long depth = 0, count = 0;
	bool in_str = false, esc = false, pending = false;

	while (i < len && is_ws(d[i]))
		i++;
	if (len - i >= 3 && memcmp(d + i, "\xef\xbb\xbf", 3) == 0)
		i += 3;
	while (i < len && is_ws(d[i]))
		i++;
	if (i >= len || d[i] != '[')
		return -1;
	for (i++; i < len; i++) {
		char c = d[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
			pending |= depth == 0;
		} else if (c == '{' || c == '[') {
			if (depth == 0)
				pending = true;
			if (++depth > 10000)
				return -1;
		} else if (c == '}' || c == ']') {
			if (depth == 0) { /* the array's end */
				return count + (pending ? 1 : 0);
			}
			depth--;
		} else if (c == ',' && depth == 0) {
			count++;
			pending = false;
		} else if (depth == 0 && !is_ws(c)) {
			pending = true;
		}
	}
	return -1;
}

static long count_lines(const char *d, size_t len, bool csv)
{
	long count = 0;
	bool blank = true, in_quotes = false;

	for (size_t i = 0; i < len; i++) {
		char c = d[i];

		if (csv && c == '"')
			in_quotes = !in_quotes;
		if (c == '\n' && !in_quotes) {
			count += !blank;
			blank = true;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			blank = false;
		}
	}
	count += !blank;
	if (csv) /* the header row */
		count = count > 0 ? count - 1 : 0;
	return count;
}

long serve_count_records(const char *data, size_t len, enum push_format format)
{
	if (format == PUSH_AUTO) {
		size_t i = 0;
		if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
			i = 3;
		while (i < len && is_ws(data[i]))
			i++;
		format = i < len && data[i] == '['   ? PUSH_JSON
		         : i < len && data[i] == '{' ? PUSH_NDJSON
		                                     : PUSH_CSV;
	}
	if (format == PUSH_JSON)
		return count_json_array(data, len);
	return count_lines(data, len, format == PUSH_CSV);
}
