/* [ews] keys of Exchange Server (on-premises): how leavesync signs in to EWS without OAuth, and
 * where Autodiscover looks (docs/onprem.md). The password is a secret like client_secret: from
 * $LEAVESYNC_EWS_PASSWORD or password_file; in the config file itself only with a warning on every
 * load, and only when the file is not readable by anyone else. */
#include "engine/config_int.h"

#include "common/buf.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PASSWORD_ENV "LEAVESYNC_EWS_PASSWORD"

static void set(char **slot, const char *v)
{
	free(*slot);
	*slot = xstrdup(v);
}

/* DOMAIN\user (NetBIOS domain, the form NTLM sends) or user@domain (UPN). */
static bool username_ok(const char *v)
{
	size_t n = strlen(v);
	const char *bs = strchr(v, '\\'), *at = strchr(v, '@');

	if (n == 0 || n > 256)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == ':' || *p == ' ')
			return false; /* ':' would split Basic's user:password */
	if (bs)
		return bs != v && bs[1] && !strchr(bs + 1, '\\') && !at;
	return at && at != v && at[1] && !strchr(at + 1, '@');
}

int config_onprem_key(struct parse_ctx *x, const char *key, const char *v)
{
	struct service_config *s = &x->cfg->ews;

	if (strcmp(key, "auth") == 0) {
		if (strcmp(v, "oauth") != 0 && strcmp(v, "ntlm") != 0 &&
		    strcmp(v, "negotiate") != 0 && strcmp(v, "basic") != 0)
			return config_fail(
			    x,
			    "[ews] auth = %s: expected oauth (Exchange Online, or "
			    "Hybrid Modern Authentication), ntlm, negotiate or basic",
			    v);
		set(&s->auth, v);
		x->auth_line = x->line;
		return 1;
	}
	if (strcmp(key, "username") == 0) {
		if (!username_ok(v))
			return config_fail(x,
			                   "[ews] username = %s: expected DOMAIN\\user or "
			                   "user@domain (no spaces or colons)",
			                   v);
		set(&s->username, v);
		return 1;
	}
	if (strcmp(key, "password") == 0) {
		set(&s->password, v);
		x->password.secret_line = x->line;
		return 1;
	}
	if (strcmp(key, "password_file") == 0) {
		set(&x->password.file, v);
		x->password.file_line = x->line;
		return 1;
	}
	if (strcmp(key, "autodiscover_srv_override") == 0) {
		/* for tests: "host:port" answers the SRV lookup instead of DNS */
		const char *colon = strrchr(v, ':');
		char *end;
		long port = colon ? strtol(colon + 1, &end, 10) : 0;

		if (!colon || colon == v || *end || port < 1 || port > 65535)
			return config_fail(x,
			                   "[ews] autodiscover_srv_override = %s: expected "
			                   "host:port (for tests only)",
			                   v);
		set(&s->autodiscover_srv_override, v);
		return 1;
	}
	if (strcmp(key, "connect_to") == 0) {
		/* HOST:PORT:CONNECT_HOST:CONNECT_PORT, comma-separated: four fields each */
		char *copy = xstrdup(v), *save = NULL;
		bool ok = true;
		for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			int colons = 0;
			for (const char *p = t; *p; p++)
				colons += *p == ':';
			ok = ok && colons == 3 && !strpbrk(t, "/@");
		}
		free(copy);
		if (!ok)
			return config_fail(x,
			                   "[ews] connect_to = %s: expected "
			                   "HOST:PORT:CONNECT_HOST:CONNECT_PORT, comma-separated",
			                   v);
		set(&s->connect_to, v);
		return 1;
	}
	return -1;
}

static void trim_into(char **slot, const char *data, size_t len)
{
	while (len && isspace((unsigned char)*data))
		data++, len--;
	while (len && isspace((unsigned char)data[len - 1]))
		len--;
	free(*slot);
	*slot = xstrndup(data, len);
}

static void resolve_password(struct parse_ctx *x, struct service_config *s)
{
	const char *env = getenv(PASSWORD_ENV);
	struct secret_spec *sp = &x->password;
	char *data, src[600];
	size_t len;

	if (sp->secret_line && sp->file_line) {
		x->line = sp->secret_line > sp->file_line ? sp->secret_line : sp->file_line;
		config_fail(x, "[ews] sets both password and password_file: keep password_file");
		return;
	}
	if (env && *env) {
		set(&s->password, env);
		set(&s->password_source, "environment " PASSWORD_ENV);
		return;
	}
	if (sp->file_line) {
		x->line = sp->file_line;
		if (read_file(sp->file, &data, &len) < 0) {
			config_fail(x,
			            "[ews] password_file %s: %s; create it with the service "
			            "account's password on one line, mode 600",
			            sp->file, strerror(errno));
			return;
		}
		trim_into(&s->password, data, len);
		memset(data, 0, len);
		free(data);
		if (!*s->password) {
			config_fail(x,
			            "[ews] password_file %s is empty: write the password into it",
			            sp->file);
			return;
		}
		snprintf(src, sizeof src, "file %s", sp->file);
		set(&s->password_source, src);
		config_warn_if_readable(x->cfg, "password file", sp->file, -1, true);
		return;
	}
	if (sp->secret_line) {
		struct stat st;
		struct buf b = BUF_INIT;

		x->line = sp->secret_line;
		if (fstat(fileno(x->f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
			config_fail(x,
			            "[ews] password in a config file of mode %04o: a password in "
			            "the config file needs mode 600 (`chmod 600 %s`); better, move "
			            "it to password_file or $" PASSWORD_ENV,
			            (unsigned)(st.st_mode & 07777), x->path);
			return;
		}
		snprintf(src, sizeof src, "config line %d", sp->secret_line);
		set(&s->password_source, src);
		buf_printf(&b,
		           "%s:%d: [ews] password is written in the config file: move it to "
		           "password_file (mode 600) or $" PASSWORD_ENV,
		           x->path, sp->secret_line);
		strv_push(&x->cfg->warnings, buf_steal(&b));
	}
}

void config_onprem_resolve(struct parse_ctx *x)
{
	struct service_config *s = &x->cfg->ews;
	const char *auth = s->auth ? s->auth : "oauth";

	resolve_password(x, s);
	if (strcmp(auth, "oauth") == 0 || strcmp(auth, "negotiate") == 0)
		return; /* negotiate: the process's Kerberos ticket (kinit, a keytab), no password
		         */
	if (!s->username) {
		x->line = x->auth_line;
		config_fail(x,
		            "[ews] auth = %s needs username = DOMAIN\\user (or user@domain): the "
		            "service account that holds the ApplicationImpersonation role",
		            auth);
	}
	if (!s->password || !*s->password) {
		x->line = x->auth_line;
		config_fail(x,
		            "[ews] auth = %s needs the service account's password: set "
		            "password_file = FILE (mode 600) or $" PASSWORD_ENV,
		            auth);
	}
	if (strcmp(auth, "basic") == 0 && s->url_set && strncasecmp(s->url, "https://", 8) != 0) {
		x->line = x->auth_line;
		config_fail(x,
		            "[ews] auth = basic sends the password itself in every request: "
		            "url must be https:// (%s is not)",
		            s->url);
	}
}
