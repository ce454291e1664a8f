/* [serve] keys (config.h). */
#include "serve/config.h"

#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char known_keys[] =
    "listen, tls_cert, tls_key, client_ca, threads, max_body_bytes, max_header_bytes, "
    "max_records, rate_limit, rate_burst, connection_limit, per_ip_connection_limit, "
    "connection_timeout, sync_delay, poll_interval, reconcile_at, idempotency_hours, "
    "hmac_secret, hmac_secret_file, public_metrics, public_health";

int serve_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon;
	long port;
	char *end;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
			return -1;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host ||
		    memchr(s, ':', (size_t)(colon - s)))
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535)
		return -1;
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -1;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof *a;
	}
	return 0;
}

bool serve_addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(a))
			return a->s6_addr[12] == 127;
	}
	return false;
}

static void defaults(struct serve_config *c)
{
	memset(c, 0, sizeof *c);
	c->listen = xstrdup("127.0.0.1:8765");
	serve_parse_listen(c->listen, &c->addr, &c->addrlen);
	c->threads = 4;
	c->max_body_bytes = 8u << 20;
	c->max_header_bytes = 16u << 10;
	c->max_records = 10000;
	c->rate_limit = 100;
	c->rate_burst = 200;
	c->connection_limit = 256;
	c->per_ip_connection_limit = 64;
	c->connection_timeout = 30;
	c->sync_delay = 5;
	c->poll_interval = 60;
	c->reconcile_at = -1;
	c->idempotency_hours = 24;
}

struct kctx {
	const struct config *cfg;
	const struct config_entry *e;
	struct error *err;
};

__attribute__((format(printf, 2, 3))) static int bad(struct kctx *k, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return error_set(k->err, "%s:%d: [serve] %s = %s: %s", k->cfg->path, k->e->line, k->e->key,
	                 strcmp(k->e->key, "hmac_secret") == 0 ? "(hidden)" : k->e->value, msg);
}

static int int_key(struct kctx *k, long min, long max, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(k->e->value, &end, 10);
	if (errno || end == k->e->value || *end || n < min || n > max)
		return bad(k, "expected a whole number from %ld to %ld", min, max);
	*out = n;
	return 0;
}

static int bool_key(struct kctx *k, bool *out)
{
	if (parse_yes_no(k->e->value, out) < 0)
		return bad(k, "expected yes or no");
	return 0;
}

static int file_key(struct kctx *k, char **dst)
{
	if (!*k->e->value)
		return bad(k, "expected a file name");
	if (access(k->e->value, R_OK) < 0)
		return bad(k, "cannot read the file: %s", strerror(errno));
	free(*dst);
	*dst = xstrdup(k->e->value);
	return 0;
}

static int set_secret(struct kctx *k, struct serve_config *c, const char *v, size_t len)
{
	if (len < 16)
		return bad(k,
		           "the HMAC secret is too short (%zu bytes): use at least 16 random "
		           "bytes, e.g. openssl rand -hex 32",
		           len);
	free(c->hmac_secret);
	c->hmac_secret = xmalloc(len + 1);
	memcpy(c->hmac_secret, v, len);
	c->hmac_secret[len] = '\0';
	c->hmac_secret_len = len;
	return 0;
}

static int secret_file(struct kctx *k, struct serve_config *c)
{
	struct stat sb;
	char *data, msg[512];
	size_t len;
	int rc;

	if (read_file(k->e->value, &data, &len) < 0)
		return bad(k, "cannot read the secret file: %s", strerror(errno));
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	rc = set_secret(k, c, data, len);
	memset(data, 0, len);
	free(data);
	if (rc == 0 && stat(k->e->value, &sb) == 0 && (sb.st_mode & 077)) {
		snprintf(msg, sizeof msg,
		         "[serve] hmac_secret_file %s is readable by others (mode %03o): chmod 600 "
		         "it",
		         k->e->value, (unsigned)(sb.st_mode & 0777));
		strv_push(&c->warnings, xstrdup(msg));
	}
	return rc;
}

static int reconcile_time(struct kctx *k, int *out)
{
	int h, m;
	char tail;

	if (sscanf(k->e->value, "%2d:%2d%c", &h, &m, &tail) != 2 || strlen(k->e->value) != 5 ||
	    h < 0 || h > 23 || m < 0 || m > 59)
		return bad(k, "expected a local time HH:MM, e.g. 02:30");
	*out = h * 60 + m;
	return 0;
}

static int one_key(struct kctx *k, struct serve_config *c)
{
	const char *key = k->e->key, *v = k->e->value;
	long n;
	int rc = 0;

	if (!strcmp(key, "listen")) {
		if (serve_parse_listen(v, &c->addr, &c->addrlen) < 0)
			return bad(k, "expected a numeric address and port, e.g. 127.0.0.1:8765, "
			              "0.0.0.0:8443 or [::1]:8765");
		free(c->listen);
		c->listen = xstrdup(v);
	} else if (!strcmp(key, "tls_cert")) {
		rc = file_key(k, &c->tls_cert);
	} else if (!strcmp(key, "tls_key")) {
		rc = file_key(k, &c->tls_key);
	} else if (!strcmp(key, "client_ca")) {
		rc = file_key(k, &c->client_ca);
	} else if (!strcmp(key, "threads")) {
		if ((rc = int_key(k, 1, 64, &n)) == 0)
			c->threads = (int)n;
	} else if (!strcmp(key, "max_body_bytes")) {
		if ((rc = int_key(k, 1024, 256L << 20, &n)) == 0)
			c->max_body_bytes = (size_t)n;
	} else if (!strcmp(key, "max_header_bytes")) {
		if ((rc = int_key(k, 4096, 1L << 20, &n)) == 0)
			c->max_header_bytes = (size_t)n;
	} else if (!strcmp(key, "max_records")) {
		if ((rc = int_key(k, 1, 1000000, &n)) == 0)
			c->max_records = (size_t)n;
	} else if (!strcmp(key, "rate_limit")) {
		if ((rc = int_key(k, 1, 1000000, &n)) == 0)
			c->rate_limit = (double)n;
	} else if (!strcmp(key, "rate_burst")) {
		if ((rc = int_key(k, 1, 1000000, &n)) == 0)
			c->rate_burst = (int)n;
	} else if (!strcmp(key, "connection_limit")) {
		if ((rc = int_key(k, 1, 100000, &n)) == 0)
			c->connection_limit = (int)n;
	} else if (!strcmp(key, "per_ip_connection_limit")) {
		if ((rc = int_key(k, 1, 100000, &n)) == 0)
			c->per_ip_connection_limit = (int)n;
	} else if (!strcmp(key, "connection_timeout")) {
		if ((rc = int_key(k, 1, 3600, &n)) == 0)
			c->connection_timeout = (int)n;
	} else if (!strcmp(key, "sync_delay")) {
		if ((rc = int_key(k, 0, 3600, &n)) == 0)
			c->sync_delay = (int)n;
	} else if (!strcmp(key, "poll_interval")) {
		if ((rc = int_key(k, 1, 86400, &n)) == 0)
			c->poll_interval = (int)n;
	} else if (!strcmp(key, "reconcile_at")) {
		rc = reconcile_time(k, &c->reconcile_at);
	} else if (!strcmp(key, "idempotency_hours")) {
		if ((rc = int_key(k, 1, 720, &n)) == 0)
			c->idempotency_hours = (int)n;
	} else if (!strcmp(key, "hmac_secret")) {
		rc = set_secret(k, c, v, strlen(v));
	} else if (!strcmp(key, "hmac_secret_file")) {
		rc = secret_file(k, c);
	} else if (!strcmp(key, "public_metrics")) {
		rc = bool_key(k, &c->public_metrics);
	} else if (!strcmp(key, "public_health")) {
		rc = bool_key(k, &c->public_health);
	} else {
		return error_set(k->err, "%s:%d: unknown key \"%s\" in [serve]: expected %s",
		                 k->cfg->path, k->e->line, key, known_keys);
	}
	return rc;
}

int serve_config_load(const struct config *cfg, struct serve_config *out, struct error *err)
{
	bool has_secret = false, has_secret_file = false;

	defaults(out);
	for (size_t i = 0; i < cfg->nserve; i++) {
		struct kctx k = {cfg, &cfg->serve[i], err};

		has_secret |= !strcmp(cfg->serve[i].key, "hmac_secret");
		has_secret_file |= !strcmp(cfg->serve[i].key, "hmac_secret_file");
		if (one_key(&k, out) < 0) {
			serve_config_free(out);
			return -1;
		}
	}
	if (has_secret && has_secret_file) {
		serve_config_free(out);
		return error_set(err,
		                 "%s: [serve] sets both hmac_secret and hmac_secret_file: keep "
		                 "one",
		                 cfg->path);
	}
	if (!out->tls_cert != !out->tls_key) {
		serve_config_free(out);
		return error_set(err,
		                 "%s: [serve] needs both tls_cert and tls_key for HTTPS (or "
		                 "neither, on a loopback address)",
		                 cfg->path);
	}
	if (out->client_ca && !out->tls_cert) {
		serve_config_free(out);
		return error_set(err, "%s: [serve] client_ca needs HTTPS: set tls_cert and tls_key",
		                 cfg->path);
	}
	return 0;
}

void serve_config_free(struct serve_config *sc)
{
	if (!sc)
		return;
	free(sc->listen);
	free(sc->tls_cert);
	free(sc->tls_key);
	free(sc->client_ca);
	if (sc->hmac_secret)
		memset(sc->hmac_secret, 0, sc->hmac_secret_len);
	free(sc->hmac_secret);
	for (size_t i = 0; sc->warnings && sc->warnings[i]; i++)
		free(sc->warnings[i]);
	free(sc->warnings);
	memset(sc, 0, sizeof *sc);
}

static bool str_differ(const char *a, const char *b)
{
	return strcmp_null(a, b) != 0;
}

bool serve_config_needs_restart(const struct serve_config *a, const struct serve_config *b)
{
	return str_differ(a->listen, b->listen) || str_differ(a->tls_cert, b->tls_cert) ||
	       str_differ(a->tls_key, b->tls_key) || str_differ(a->client_ca, b->client_ca) ||
	       a->threads != b->threads || a->max_header_bytes != b->max_header_bytes ||
	       a->connection_limit != b->connection_limit ||
	       a->per_ip_connection_limit != b->per_ip_connection_limit ||
	       a->connection_timeout != b->connection_timeout;
}
