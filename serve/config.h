/* [serve] of leavesync.conf (docs/config.md): read from the entries the engine's config parser
 * passed through (struct config.serve), validated here with FILE:LINE in every message. */
#ifndef SERVE_CONFIG_H
#define SERVE_CONFIG_H

#include "common/error.h"
#include "engine/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct serve_config {
	char *listen; /* as written, default "127.0.0.1:8765" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *tls_cert, *tls_key;    /* both or neither; HTTPS when set */
	char *client_ca;             /* require client certificates signed by this CA (PEM) */
	int threads;                 /* HTTP worker threads, default 4 */
	size_t max_body_bytes;       /* default 8 MiB */
	size_t max_header_bytes;     /* request line + headers, default 16 KiB */
	size_t max_records;          /* records per batch, default 10,000 */
	double rate_limit;           /* requests per second per API key, default 100 */
	int rate_burst;              /* bucket size, default 200 */
	int connection_limit;        /* default 256 */
	int per_ip_connection_limit; /* default 64 */
	int connection_timeout;      /* idle seconds before a connection is closed, default 30 */
	int sync_delay;              /* seconds between new work and the sync, default 5 */
	int poll_interval;           /* seconds between looks for work written by others, 60 */
	int reconcile_at;            /* minutes after local midnight, -1: no nightly reconcile */
	int idempotency_hours;       /* how long responses are remembered, default 24 */
	char *hmac_secret;           /* X-Signature check on PUT/POST when set; never printed */
	size_t hmac_secret_len;
	bool public_metrics, public_health; /* open without an API key */
	char **warnings;                    /* NULL-terminated, may be NULL */
};

int serve_config_load(const struct config *cfg, struct serve_config *out, struct error *err);
void serve_config_free(struct serve_config *sc);

/* Parses "ADDR:PORT" / "[ADDR]:PORT" (numeric addresses only). */
int serve_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);
bool serve_addr_is_loopback(const struct sockaddr *sa);

/* True when a reload cannot apply the difference (listen, TLS, threads, connection limits). */
bool serve_config_needs_restart(const struct serve_config *a, const struct serve_config *b);

#endif
