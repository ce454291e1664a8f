/* leavesync auth login --mailbox EMAIL [--device-code | --loopback | --redirect-uri URI],
 * leavesync auth list [--json], leavesync auth logout --mailbox EMAIL */
#include "common/redact.h"
#include "common/util.h"
#include "cli/cli.h"
#include "common/log.h"
#include "engine/login.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char auth_usage[] =
    "usage: leavesync auth login --mailbox EMAIL [--device-code | --loopback | --redirect-uri "
    "URI]\n"
    "       leavesync auth list [--json]\n"
    "       leavesync auth logout --mailbox EMAIL\n"
    "login connects a mailbox for Microsoft Graph delegated access: the account that signs in\n"
    "must be the mailbox's own (checked); its refresh token goes into the secrets database\n"
    "(mode 0600; never printed).\n"
    "  --mailbox EMAIL   the mailbox\n"
    "  --device-code     sign in on another device with a code (default)\n"
    "  --loopback        public client: browser sign-in redirected to http://localhost:PORT "
    "(PKCE)\n"
    "  --redirect-uri U  Web app: open the printed URL, then paste the URL you were sent to\n"
    "list shows each connection: mailbox, signed-in user, state, last update.\n"
    "  --json            print one object (docs/json.md)\n"
    "logout deletes the mailbox's stored refresh token (Microsoft has no way to revoke one\n"
    "refresh token of a public client: docs/operations.md says how to revoke sessions).\n";

static void say(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

static char *ask(void *arg, const char *prompt)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	(void)arg;
	fprintf(stderr, "%s", prompt);
	n = getline(&line, &cap, stdin);
	if (n <= 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static void open_url(void *arg, const char *url)
{
	(void)arg;
	fprintf(stderr, "Open this URL in a browser to sign in:\n  %s\n", url);
	fflush(stderr);
}

/* The user and the reason quote the identity platform: printed through common/redact.h. */
static int list_one(void *arg, const struct connection *c)
{
	json_t *list = arg;
	char *user = c->user ? redact_message_dup(c->user, ERROR_MAX) : NULL;
	char *reason = c->reason ? redact_message_dup(c->reason, ERROR_MAX) : NULL;

	json_array_append_new(list, json_pack("{s:s, s:s?, s:s, s:s?, s:s?}", "mailbox", c->mailbox,
	                                      "user", user, "state",
	                                      c->needs_login ? "needs-login" : "connected",
	                                      "reason", reason, "updated_at", c->updated_at));
	free(user);
	free(reason);
	return 0;
}

static int auth_list(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct error err = {{0}};
	json_t *list = json_array(), *v;
	struct config cfg;
	struct store *st;
	bool json = false;
	size_t i;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			json_decref(list);
			fputs(auth_usage, stderr);
			return EXIT_USAGE;
		}
		json = true;
	}
	if (optind < argc) {
		json_decref(list);
		fputs(auth_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "auth list", CLI_READ_SECRETS, &cfg, &st)) != EXIT_DONE) {
		json_decref(list);
		return rc;
	}
	if (store_each_connection(st, list_one, list, &err) < 0) {
		cli_error("auth list: %s", err.msg);
		json_decref(list);
		cli_close(&cfg, st);
		return EXIT_USAGE;
	}
	if (json) {
		cli_print_json(json_pack("{s:i, s:o}", "schema", 1, "connections", list));
	} else {
		if (json_array_size(list) == 0)
			log_out(LOG_INFO, "auth list: no delegated connections");
		else
			log_out(LOG_INFO, "%-32s %-32s %-12s %s", "mailbox", "signed in as",
			        "state", "updated");
		json_array_foreach(list, i, v) log_out(
		    LOG_INFO, "%-32s %-32s %-12s %s%s%s",
		    json_string_value(json_object_get(v, "mailbox")),
		    json_string_value(json_object_get(v, "user")) ?: "-",
		    json_string_value(json_object_get(v, "state")),
		    json_string_value(json_object_get(v, "updated_at")) ?: "-",
		    json_object_get(v, "reason") && !json_is_null(json_object_get(v, "reason"))
		        ? ": "
		        : "",
		    json_string_value(json_object_get(v, "reason")) ?: "");
		json_decref(list);
	}
	cli_close(&cfg, st);
	return EXIT_DONE;
}

static char *lower_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *p = d; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	return d;
}

static int auth_logout(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"mailbox", required_argument, NULL, 'm'},
	                                     {NULL, 0, NULL, 0}};
	struct error err = {{0}};
	char *mailbox = NULL;
	struct config cfg;
	struct store *st;
	bool found;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'm') {
			free(mailbox);
			fputs(auth_usage, stderr);
			return EXIT_USAGE;
		}
		free(mailbox);
		mailbox = lower_dup(optarg);
	}
	if (!mailbox || optind < argc) {
		free(mailbox);
		fputs(auth_usage, stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_open(cli, "auth logout", CLI_WRITE, &cfg, &st)) != EXIT_DONE) {
		free(mailbox);
		return rc;
	}
	if (store_delete_connection(st, mailbox, &found, &err) < 0) {
		cli_error("auth logout: %s", err.msg);
		rc = EXIT_USAGE;
	} else if (!found) {
		cli_error("auth logout: %s has no connection (leavesync auth list shows them)",
		          mailbox);
		rc = EXIT_USAGE;
	} else {
		if (!cli->quiet)
			log_out(
			    LOG_INFO,
			    "auth logout: the refresh token of %s is deleted; its events wait "
			    "until `leavesync auth login --mailbox %s`. Microsoft cannot revoke a "
			    "single refresh token: to end the user's sessions, see "
			    "docs/operations.md (revokeSignInSessions)",
			    mailbox, mailbox);
		rc = EXIT_DONE;
	}
	free(mailbox);
	cli_close(&cfg, st);
	return rc;
}

int cmd_auth(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"mailbox", required_argument, NULL, 'm'},
	                                     {"device-code", no_argument, NULL, 'd'},
	                                     {"loopback", no_argument, NULL, 'l'},
	                                     {"redirect-uri", required_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	struct login_ui ui = {.say = say, .ask = ask, .open_url = open_url};
	enum login_flow flow = LOGIN_DEVICE_CODE;
	const char *redirect = NULL;
	char *mailbox = NULL;
	struct error err = {{0}};
	struct config cfg;
	struct store *st;
	int c, rc;

	if (cli_wants_help(argc, argv, auth_usage))
		return EXIT_DONE;
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return auth_list(cli, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "logout") == 0)
		return auth_logout(cli, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "login") != 0) {
		fputs(auth_usage, stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'm') {
			free(mailbox);
			mailbox = xstrdup(optarg);
			for (char *p = mailbox; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		} else if (c == 'd') {
			flow = LOGIN_DEVICE_CODE;
		} else if (c == 'l') {
			flow = LOGIN_LOOPBACK_PKCE;
		} else if (c == 'r') {
			flow = LOGIN_WEB_REDIRECT;
			redirect = optarg;
		} else {
			free(mailbox);
			fputs(auth_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (!mailbox || optind < argc) {
		free(mailbox);
		fputs(auth_usage, stderr);
		return EXIT_USAGE;
	}
	/* the connection goes into the store's secrets: the store must exist (leavesync init) */
	if ((rc = cli_open(cli, "auth login", CLI_WRITE, &cfg, &st)) != EXIT_DONE) {
		free(mailbox);
		return rc;
	}
	store_close(st);
	rc = login_run(&cfg, mailbox, flow, redirect, &ui, &err);
	if (rc < 0) {
		cli_error("auth login: %s", err.msg);
		rc = EXIT_PARTIAL;
	} else {
		log_out(LOG_INFO, "auth login: %s connected", mailbox);
		rc = EXIT_DONE;
	}
	free(mailbox);
	config_free(&cfg);
	return rc;
}
