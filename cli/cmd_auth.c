/* leavesync auth login --mailbox EMAIL [--device-code | --loopback | --redirect-uri URI] */
#include "common/util.h"
#include "cli/cli.h"
#include "engine/login.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char auth_usage[] =
    "usage: leavesync auth login --mailbox EMAIL [--device-code | --loopback | --redirect-uri "
    "URI]\n"
    "Connects a mailbox for Microsoft Graph delegated access and stores its refresh token\n"
    "(in the store, mode 0600; never printed).\n"
    "  --device-code     sign in on another device with a code (default)\n"
    "  --loopback        public client: browser sign-in redirected to http://localhost:PORT "
    "(PKCE)\n"
    "  --redirect-uri U  Web app: open the printed URL, then paste the URL you were sent to\n";

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
	if (cli_load_config(cli, false, &cfg) < 0) {
		free(mailbox);
		return EXIT_USAGE;
	}
	/* The connection lives in the store, which `init` creates (and fixes modes of). */
	if (cli_open_store(&cfg, CLI_WRITE, &st) < 0) {
		free(mailbox);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	store_close(st);
	rc = login_run(&cfg, mailbox, flow, redirect, &ui, &err);
	if (rc < 0) {
		cli_error("auth login: %s", err.msg);
		rc = EXIT_PARTIAL;
	} else {
		printf("auth login: %s connected\n", mailbox);
		rc = EXIT_DONE;
	}
	free(mailbox);
	config_free(&cfg);
	return rc;
}
