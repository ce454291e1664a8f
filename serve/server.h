/* The libmicrohttpd daemon of leavesync serve (server.c). */
#ifndef SERVE_SERVER_H
#define SERVE_SERVER_H

#include "common/error.h"

struct serve;
struct MHD_Daemon;

/* Starts the daemon on listen_fd (socket activation) or [serve] listen; pem holds the certificate,
 * key and client CA texts (NULL when unused). */
struct MHD_Daemon *server_start(struct serve *s, int listen_fd, char **pem, struct error *err);
/* Requests begun and not yet completed. */
int server_in_flight(void);

#endif
