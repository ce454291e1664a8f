/* `leavesync auth login`: connects a mailbox for Graph delegated access and stores its refresh
 * token. Flows: device code (default), authorization code + PKCE on a loopback redirect (public
 * client), or authorization code with the client secret and a Web redirect URI (the user pastes the
 * returned URL). Talking to the user goes through the callbacks, so that only main.c prints. */
#ifndef ENGINE_LOGIN_H
#define ENGINE_LOGIN_H

#include "common/error.h"
#include "engine/config.h"

enum login_flow { LOGIN_DEVICE_CODE, LOGIN_LOOPBACK_PKCE, LOGIN_WEB_REDIRECT };

struct login_ui {
	/* Shows a line to the user (the device code message, the URL to open). */
	void (*say)(void *arg, const char *line);
	/* Reads the URL or code the user pastes (web redirect); returns a malloc'd line or NULL. */
	char *(*ask)(void *arg, const char *prompt);
	/* Loopback flow: called with the authorize URL once the listener runs (a test may follow
	 * it). */
	void (*open_url)(void *arg, const char *url);
	void *arg;
};

/* Runs the flow for mailbox and stores the connection. Returns 0 or -1 (err says cause and fix). */
int login_run(const struct config *cfg, const char *mailbox, enum login_flow flow,
              const char *redirect_uri, const struct login_ui *ui, struct error *err);

#endif
