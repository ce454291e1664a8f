/* Where the configuration file is: -c FILE, $LEAVESYNC_CONFIG, then the user's and the system's
 * place. The current directory is never searched: a cron job or a unit that lost its -c must stop
 * with a clear message, not run on whatever file its working directory happens to hold. */
#include "engine/config_int.h"

#include "common/buf.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYSTEM_CONFIG "/etc/leavesync/leavesync.conf"

/* $XDG_CONFIG_HOME/leavesync/leavesync.conf, $XDG_CONFIG_HOME defaulting to ~/.config (XDG Base
 * Directory Specification); NULL without a usable home. Caller frees. */
static char *user_config(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct buf b = BUF_INIT;

	/* "If $XDG_CONFIG_HOME is either not set or empty, a default equal to $HOME/.config should
	 * be used"; a relative value is invalid and ignored. */
	if (xdg && xdg[0] == '/')
		buf_printf(&b, "%s/leavesync/leavesync.conf", xdg);
	else if (home && home[0] == '/')
		buf_printf(&b, "%s/.config/leavesync/leavesync.conf", home);
	else
		return NULL;
	return buf_steal(&b);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 || errno != ENOENT;
}

int config_find(const char *given, char **path, struct error *err)
{
	const char *env = getenv("LEAVESYNC_CONFIG");
	char *user = NULL;
	struct buf searched = BUF_INIT;

	*path = NULL;
	if (given || (env && *env)) {
		const char *p = given ? given : env;

		if (!exists(p))
			return error_set(err,
			                 "%s: no such config file (given %s); create it (see "
			                 "docs/config.md) or name another",
			                 p, given ? "with -c" : "in $LEAVESYNC_CONFIG");
		*path = xstrdup(p);
		return 0;
	}
	if (geteuid() != 0 && (user = user_config()) != NULL) {
		if (exists(user)) {
			*path = user;
			return 0;
		}
		buf_printf(&searched, "%s, ", user);
		free(user);
	}
	if (exists(SYSTEM_CONFIG)) {
		buf_free(&searched);
		*path = xstrdup(SYSTEM_CONFIG);
		return 0;
	}
	buf_puts(&searched, SYSTEM_CONFIG);
	error_set(err,
	          "no config file: none given with -c or $LEAVESYNC_CONFIG, and none at %s (the "
	          "current directory is not searched); create one (docs/config.md, "
	          "docs/examples/leavesync.conf) or give it with -c FILE",
	          searched.data);
	buf_free(&searched);
	return -1;
}
