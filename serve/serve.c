/* serve_main: config, the listening socket (or systemd's), the scheduler, the HTTP daemon, and the
 * signal loop (SIGHUP reloads, SIGTERM/SIGINT stop cleanly). */
#include "serve/serve.h"

#include "common/util.h"
#include "engine/http.h"
#include "common/log.h"
#include "serve/serve_int.h"
#include "serve/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DRAIN_SECONDS 10 /* how long a stop waits for requests in flight */

/* systemd socket activation (sd_listen_fds(3) semantics, by hand: no libsystemd needed):
 * LISTEN_PID must be ours and LISTEN_FDS exactly 1; the socket is fd 3. -1 when not activated,
 * -2 when activated wrongly (logged). The variables are removed so that children do not see them.
 */
static int activated_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int type = 0;
	socklen_t tl = sizeof type;

	if (!pid || !fds)
		return -1;
	if (strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1") != 0) {
		log_msg(
		    LOG_ERR,
		    "leavesync serve: systemd passed %s sockets: give leavesync.socket exactly one "
		    "ListenStream=",
		    fds);
		return -2;
	}
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM) {
		log_msg(LOG_ERR,
		        "leavesync serve: the socket systemd passed is not a stream socket: use "
		        "ListenStream= in leavesync.socket");
		return -2;
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	return 3;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		snprintf(out, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		snprintf(out, len, "%s:%u", host, ntohs(a->sin_port));
	}
}

static struct serve_settings *load_settings(const char *path, struct error *err)
{
	struct serve_settings *set = xcalloc(1, sizeof *set);

	if (config_load(path, &set->cfg, err) < 0) {
		free(set);
		return NULL;
	}
	if (serve_config_load(&set->cfg, &set->sc, err) < 0) {
		config_free(&set->cfg);
		free(set);
		return NULL;
	}
	atomic_init(&set->refs, 1);
	for (char **w = set->cfg.warnings; w && *w; w++)
		log_msg(LOG_WARNING, "leavesync serve: %s", *w);
	for (char **w = set->sc.warnings; w && *w; w++)
		log_msg(LOG_WARNING, "leavesync serve: %s", *w);
	return set;
}

static void reload(struct serve *s)
{
	struct error err = {{0}};
	struct serve_settings *set = load_settings(s->config_path, &err), *old;

	if (!set) {
		log_msg(LOG_ERR,
		        "leavesync serve: reload refused, the old configuration stays in force: %s",
		        err.msg);
		return;
	}
	if (strcmp(set->cfg.store_path, s->store_path) != 0)
		log_msg(
		    LOG_WARNING,
		    "leavesync serve: reload: [store] path changed; it takes effect at the next "
		    "start only");
	if (serve_config_needs_restart(&s->settings->sc, &set->sc))
		log_msg(LOG_WARNING,
		        "leavesync serve: reload: listen, TLS, threads and connection limits take "
		        "effect at the next start only");
	pthread_mutex_lock(&s->settings_mu);
	old = s->settings;
	s->settings = set;
	pthread_mutex_unlock(&s->settings_mu);
	settings_release(old);
	scheduler_reload(s->sched);
	log_msg(LOG_NOTICE, "leavesync serve: configuration reloaded from %s", set->cfg.path);
}

static int read_pems(const struct serve_config *sc, char **pem)
{
	const char *files[3] = {sc->tls_cert, sc->tls_key, sc->client_ca};
	size_t len;

	for (int i = 0; i < 3; i++) {
		if (files[i] && read_file(files[i], &pem[i], &len) < 0) {
			log_msg(LOG_ERR, "leavesync serve: cannot read %s: %s", files[i],
			        strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Plain HTTP only on loopback: API keys and leave must not cross a network in clear text. */
static int check_transport(const struct serve_config *sc, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char where[80];

	if (fd >= 0) {
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
			log_msg(LOG_ERR,
			        "leavesync serve: the socket systemd passed is not a TCP socket");
			return -1;
		}
	} else {
		memcpy(&ss, &sc->addr, sizeof ss);
	}
	if (sc->tls_cert || serve_addr_is_loopback((struct sockaddr *)&ss))
		return 0;
	format_addr((struct sockaddr *)&ss, where, sizeof where);
	log_msg(LOG_ERR,
	        "leavesync serve: refusing plain HTTP on %s: it is not a loopback address. Set "
	        "[serve] tls_cert "
	        "and tls_key for HTTPS, or listen on 127.0.0.1 (or [::1]) behind a TLS proxy "
	        "such as nginx or Caddy (docs/api.md)",
	        where);
	return -1;
}

static void announce(struct MHD_Daemon *d, const struct serve_config *sc, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char where[80];

	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		format_addr((struct sockaddr *)&ss, where, sizeof where);
	} else {
		memcpy(&ss, &sc->addr, sizeof ss);
		if (di) {
			if (ss.ss_family == AF_INET6)
				((struct sockaddr_in6 *)&ss)->sin6_port = htons(di->port);
			else
				((struct sockaddr_in *)&ss)->sin_port = htons(di->port);
		}
		format_addr((struct sockaddr *)&ss, where, sizeof where);
	}
	/* the first line on stdout, for scripts and tests (port 0 picks a free port) */
	printf("listening on %s://%s\n", sc->tls_cert ? "https" : "http", where);
	fflush(stdout);
	log_msg(LOG_NOTICE, "leavesync serve: listening on %s://%s%s (%d threads)",
	        sc->tls_cert ? "https" : "http", where,
	        sc->client_ca ? " with client certificates" : "", sc->threads);
}

/* A worker thread's store, closed when the thread ends (pthread_key_create). */
static void close_store(void *st)
{
	store_close(st);
}

static void serve_free(struct serve *s)
{
	metrics_free(s->metrics);
	ratelimit_free(s->rl);
	settings_release(s->settings);
	pthread_mutex_destroy(&s->settings_mu);
	pthread_mutex_destroy(&s->write_mu);
	pthread_mutex_destroy(&s->status_mu);
	free(s->config_path);
	free(s->store_path);
	free(s->store_group);
}

static int setup(struct serve *s, const struct serve_options *o)
{
	struct error err = {{0}};
	struct store *st;
	pthread_mutexattr_t ma;

	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->settings_mu, NULL);
	pthread_mutex_init(&s->status_mu, NULL);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE); /* idempotency wraps a write */
	pthread_mutex_init(&s->write_mu, &ma);
	pthread_mutexattr_destroy(&ma);
	s->config_path = xstrdup(o->config_path);
	s->started_at = now_unix();
	s->metrics = metrics_new();
	s->rl = ratelimit_new();
	atomic_init(&s->stopping, false);
	if (!(s->settings = load_settings(o->config_path, &err))) {
		log_msg(LOG_ERR, "leavesync serve: %s", err.msg);
		return -1;
	}
	s->store_path = xstrdup(s->settings->cfg.store_path);
	s->store_group =
	    s->settings->cfg.store_group ? xstrdup(s->settings->cfg.store_group) : NULL;
	if (store_open(s->store_path, false, s->store_group, &st, &err) < 0) {
		log_msg(LOG_ERR, "leavesync serve: %s", err.msg);
		return -1;
	}
	store_close(st);
	return 0;
}

static void wait_signals(struct serve *s, const sigset_t *sigs)
{
	int sig;

	for (;;) {
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(s);
			continue;
		}
		log_msg(LOG_NOTICE,
		        "leavesync serve: %s: stopping (requests in flight finish, the sync stops "
		        "after its current page)",
		        sig == SIGTERM ? "SIGTERM" : "SIGINT");
		return;
	}
}

int serve_main(const struct serve_options *o)
{
	struct serve s;
	struct error err = {{0}};
	struct MHD_Daemon *d = NULL;
	char *pem[3] = {NULL, NULL, NULL};
	sigset_t sigs;
	int fd, rc = 2;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* every thread inherits it; sigwait below */
	http_global_init();
	if (setup(&s, o) < 0)
		goto out;
	fd = activated_socket();
	if (fd == -2 || check_transport(&s.settings->sc, fd) < 0 ||
	    read_pems(&s.settings->sc, pem) < 0)
		goto out;
	if (pthread_key_create(&s.store_key, close_store) != 0)
		goto out;
	if (!(s.sched = scheduler_start(&s))) {
		log_msg(LOG_ERR, "leavesync serve: cannot start the scheduler thread");
		goto out_key;
	}
	if (!(d = server_start(&s, fd, pem, &err))) {
		log_msg(LOG_ERR, "leavesync serve: %s", err.msg);
		scheduler_stop(s.sched);
		goto out_key;
	}
	announce(d, &s.settings->sc, fd);
	wait_signals(&s, &sigs);
	/* stop accepting, let requests in flight finish, then stop the sync at a page boundary */
	atomic_store(&s.stopping, true);
	{
		MHD_socket lfd = MHD_quiesce_daemon(d);
		int64_t deadline = now_ms() + DRAIN_SECONDS * 1000;

		while (server_in_flight() > 0 && now_ms() < deadline)
			usleep(20000);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	MHD_stop_daemon(d);
	scheduler_stop(s.sched);
	log_msg(LOG_NOTICE, "leavesync serve: stopped");
	rc = 0;
out_key:
	pthread_key_delete(s.store_key);
out:
	for (int i = 0; i < 3; i++) {
		if (pem[i])
			memset(pem[i], 0, strlen(pem[i]));
		free(pem[i]);
	}
	serve_free(&s);
	return rc;
}
