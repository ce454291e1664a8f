/* A canned-answer HTTP server on loopback and a Graph session pointed at it, for the unit tests of
 * the Graph backend's operations (test_graph.c, test_graph_fidelity.c). Header-only, like tap.h. */
#ifndef TESTS_GRAPH_WORLD_H
#define TESTS_GRAPH_WORLD_H

#include "common/buf.h"
#include "engine/config.h"
#include "graph/graph.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define FAKE_MAX 8

struct fake {
	int fd, port;
	pthread_t thread;
	const char *answers[FAKE_MAX]; /* status line + headers + body, without Connection */
	int nanswers, served;
	char *requests[FAKE_MAX]; /* what the client sent (head and body) */
};

static char *read_request(int c)
{
	struct buf b = BUF_INIT;
	char chunk[4096], *head_end = NULL, *cl;
	size_t want = 0;
	ssize_t r;

	while ((r = read(c, chunk, sizeof chunk)) > 0) {
		buf_append(&b, chunk, (size_t)r);
		if (!head_end && (head_end = strstr(b.data, "\r\n\r\n"))) {
			cl = strcasestr(b.data, "\r\ncontent-length:");
			want =
			    (size_t)(head_end - b.data) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (head_end && b.len >= want)
			break;
		if (head_end)
			head_end = b.data + (head_end - b.data); /* (buffer may have moved) */
	}
	return buf_steal(&b);
}

static void *fake_serve(void *arg)
{
	struct fake *f = arg;

	while (f->served < f->nanswers) {
		int c = accept(f->fd, NULL, NULL);
		const char *a;
		struct buf out = BUF_INIT;
		const char *body;

		if (c < 0)
			break;
		f->requests[f->served] = read_request(c);
		a = f->answers[f->served++];
		body = strstr(a, "\r\n\r\n");
		buf_append(&out, a, (size_t)(body - a));
		buf_printf(&out, "\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
		           strlen(body + 4), body + 4);
		if (write(c, out.data, out.len) < 0)
			break;
		buf_free(&out);
		close(c);
	}
	return NULL;
}

static void fake_start(struct fake *f)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int one = 1;

	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(f->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(f->fd, (struct sockaddr *)&sa, sizeof sa);
	listen(f->fd, 8);
	getsockname(f->fd, (struct sockaddr *)&sa, &len);
	f->port = ntohs(sa.sin_port);
	pthread_create(&f->thread, NULL, fake_serve, f);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->fd);
	for (int i = 0; i < FAKE_MAX; i++)
		free(f->requests[i]);
}

struct fake_tokens {
	int calls, refreshes;
	char token[32];
};

static enum be_status fake_token(struct token_source *ts, const char *mailbox, bool force,
                                 const char **token, struct error *err)
{
	struct fake_tokens *t = ts->ctx;

	(void)mailbox;
	(void)err;
	t->calls++;
	t->refreshes += force;
	snprintf(t->token, sizeof t->token, "tok-%d", t->refreshes + 1);
	*token = t->token;
	return BE_OK;
}

/* A mailbox directory that already knows every mailbox: its "user id" is the address itself, so
 * that the tests of the operations see /users/{address}/... and no lookup request. Tests of the
 * lookup set world.resolve to go to the (fake) directory instead. */
static int known_lookup(struct mailbox_directory *d, const char *mailbox, char **user_id,
                        struct error *err)
{
	(void)err;
	*user_id = *(bool *)d->ctx ? NULL : strdup(mailbox);
	return 0;
}

static int known_remember(struct mailbox_directory *d, const char *mailbox, const char *user_id,
                          struct error *err)
{
	(void)d;
	(void)mailbox;
	(void)user_id;
	(void)err;
	return 0;
}

struct world {
	struct fake fake;
	struct fake_tokens tokens;
	struct token_source ts;
	struct mailbox_directory dir;
	bool resolve; /* true: the directory knows nothing, every mailbox is looked up */
	struct config cfg;
	struct backend_env env;
	struct be_session *s;
	char url[64];
	long slept;
};

static void fake_sleep(void *arg, int ms)
{
	((struct world *)arg)->slept += ms;
}

static void world_open(struct world *w, const char *mode)
{
	struct error err = {""};

	fake_start(&w->fake);
	w->ts = (struct token_source){.get = fake_token, .ctx = &w->tokens};
	snprintf(w->url, sizeof w->url, "http://127.0.0.1:%d/v1.0/", w->fake.port);
	w->cfg.graph.url = w->url;
	w->cfg.graph.mode = (char *)mode;
	w->cfg.mailbox_concurrency = 1;
	w->dir = (struct mailbox_directory){
	    .lookup = known_lookup, .remember = known_remember, .ctx = &w->resolve};
	w->env = (struct backend_env){.cfg = &w->cfg, .tokens = &w->ts, .directory = &w->dir};
	if (graph_backend.session_open(&w->env, &w->s, &err) != BE_OK)
		printf("# session_open: %s\n", err.msg);
	w->s->sleep_ms = fake_sleep;
	w->s->sleep_arg = w;
}

static void world_close(struct world *w)
{
	graph_backend.session_close(w->s);
	fake_stop(&w->fake);
}

#define OK200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"

#endif
