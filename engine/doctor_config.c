/* leavesync doctor, step 1 (what can be checked without the network) and step 6 (expiry): file
 * permissions, tenant and client ids, the shape of the secret, URLs, the certificate and its key.
 * Sources: ENTRA v2-oauth2-client-creds-grant-flow (tenant is a GUID or a domain) and
 * reference-error-codes (an authority with a path gives AADSTS900023; AADSTS7000215 says a
 * GUID-shaped "secret" is the Secret ID), ENTRA = https://learn.microsoft.com/en-us/entra/
 * identity-platform/. */
#include "engine/doctor.h"

#include "common/util.h"
#include "engine/http.h"
#include "engine/tz.h"
#include "store/store.h"

#include <errno.h>
#include <grp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PORTAL "Entra admin center > App registrations > <app>"
#define WARN_DAYS 30

static void branch_name(char *out, size_t size, const struct doctor_branch *b, const char *what)
{
	snprintf(out, size, "[%s] %s", b->name, what);
}

static bool branch_fail(struct doctor_branch *b, struct doctor_report *rep, const char *name,
                        const char *cause, const char *fix)
{
	b->stopped = true;
	return doctor_add(rep, DOCTOR_FAIL, name, cause, fix);
}

/* ---- file permissions ---- */

/* -1: cannot stat (errno), 0: private, else the mode bits readable by group or others. */
static int readable_by_others(const char *path, unsigned *mode)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	*mode = (unsigned)(st.st_mode & 07777);
	return (st.st_mode & (S_IRGRP | S_IROTH)) ? 1 : 0;
}

/* The store's group is [store] group: sharing it is what the admin asked for. */
static bool store_group_matches(const struct config *cfg)
{
	struct stat st;
	struct group *g;

	if (!cfg->store_group || stat(cfg->store_path, &st) < 0)
		return false;
	g = getgrnam(cfg->store_group);
	return g && g->gr_gid == st.st_gid;
}

static bool config_holds_secret(const struct config *cfg)
{
	const char *e = cfg->ews.client_secret_source, *g = cfg->graph.client_secret_source;
	const char *p = cfg->ews.password_source;

	return (e && strncmp(e, "config line", 11) == 0) ||
	       (g && strncmp(g, "config line", 11) == 0) ||
	       (p && strncmp(p, "config line", 11) == 0);
}

/* A file that may hold secrets: ✗ when readable by others and secret, ! when merely readable.
 * group_ok: readable by its group is fine (a config without secrets, 0640 root:leavesync; the
 * store shared with [store] group). */
static void check_private_file(struct doctor_report *rep, const char *name, const char *what,
                               const char *path, bool secret, bool group_ok)
{
	unsigned mode = 0;
	char fix[1200];
	int r = readable_by_others(path, &mode);

	if (r > 0 && group_ok && !(mode & S_IROTH))
		r = 0;
	if (r < 0) {
		doctor_addf(rep, DOCTOR_FAIL, name, "check the path in the config",
		            "%s %s cannot be read: %s", what, path, strerror(errno));
		return;
	}
	if (r == 0) {
		doctor_add(rep, DOCTOR_OK, name, NULL, NULL);
		return;
	}
	snprintf(fix, sizeof fix, "run `chmod 600 %s` (owned by the user leavesync runs as)", path);
	doctor_addf(rep, secret ? DOCTOR_FAIL : DOCTOR_WARN, name, fix,
	            "%s %s is readable by %s (mode %04o)%s", what, path,
	            (mode & S_IROTH) ? "others" : "its group", mode,
	            secret ? " and holds secrets" : "; keep it private in case a secret is added");
}

void doctor_check_files(const struct config *cfg, struct doctor_report *rep)
{
	unsigned mode = 0;

	char *secrets;

	if (cfg->path && access(cfg->path, F_OK) == 0)
		check_private_file(rep, "config file permissions", "config file", cfg->path,
		                   config_holds_secret(cfg), !config_holds_secret(cfg));
	if (readable_by_others(cfg->store_path, &mode) < 0 && errno == ENOENT) {
		doctor_addf(rep, DOCTOR_WARN, "store file",
		            "run `leavesync init` (it creates the store with mode 600)",
		            "the store %s does not exist yet", cfg->store_path);
		return;
	}
	/* the store holds personal leave data: its owner, and [store] group's HR accounts */
	check_private_file(rep, "store file permissions", "store", cfg->store_path, true,
	                   store_group_matches(cfg));
	/* the refresh tokens: nobody but the owner, ever */
	secrets = store_secrets_path(cfg->store_path);
	if (access(secrets, F_OK) == 0)
		check_private_file(rep, "secrets file permissions", "secrets database", secrets,
		                   true, false);
	free(secrets);
}

/* ---- ids ---- */

static void check_tenant(struct doctor_branch *b, struct doctor_report *rep)
{
	const char *t = b->sc->tenant_id;
	char name[64], cause[700];
	const char *fix =
	    "set tenant_id to the bare Directory (tenant) ID, a GUID from " PORTAL " > Overview";

	branch_name(name, sizeof name, b, "tenant_id");
	if (!t || !*t) {
		branch_fail(b, rep, name, "tenant_id is not set", fix);
	} else if (strstr(t, "://") || strchr(t, '/')) {
		snprintf(cause, sizeof cause,
		         "tenant_id = %s is a URL or has a path, not a tenant (the token endpoint "
		         "would answer AADSTS900023 or 90002)",
		         t);
		branch_fail(b, rep, name, cause,
		            "set tenant_id to the bare Directory (tenant) ID (a GUID from " PORTAL
		            " > Overview) and authority to the login host only, e.g. "
		            "https://login.microsoftonline.com");
	} else if (strcasecmp(t, "common") == 0 || strcasecmp(t, "organizations") == 0 ||
	           strcasecmp(t, "consumers") == 0) {
		snprintf(
		    cause, sizeof cause,
		    "tenant_id = %s names no tenant: app-only tokens and single-tenant apps need "
		    "the tenant itself (AADSTS50194)",
		    t);
		branch_fail(b, rep, name, cause, fix);
	} else if (!doctor_is_guid(t) && !doctor_is_domain(t)) {
		snprintf(cause, sizeof cause,
		         "tenant_id = %s is neither a GUID nor a domain (AADSTS900023)", t);
		branch_fail(b, rep, name, cause, fix);
	} else {
		doctor_add(rep, DOCTOR_OK, name, NULL, NULL);
	}
}

static void check_client_id(struct doctor_branch *b, struct doctor_report *rep)
{
	const char *c = b->sc->client_id;
	char name[64], cause[700];
	const char *fix = "set client_id to the Application (client) ID from " PORTAL
	                  " > Overview (not the Object ID, not the Secret ID)";

	branch_name(name, sizeof name, b, "client_id");
	if (!c || !*c) {
		branch_fail(b, rep, name, "client_id is not set", fix);
	} else if (!doctor_is_guid(c)) {
		snprintf(cause, sizeof cause, "client_id = %s is not a GUID", c);
		branch_fail(b, rep, name, cause, fix);
	} else if (b->sc->tenant_id && strcasecmp(c, b->sc->tenant_id) == 0) {
		branch_fail(b, rep, name,
		            "client_id equals tenant_id: one of them holds the other's value",
		            "copy both from " PORTAL " > Overview: Application (client) ID into "
		            "client_id, Directory (tenant) ID into tenant_id");
	} else {
		doctor_add(rep, DOCTOR_OK, name, NULL, NULL);
	}
}

/* ---- credential ---- */

static const char *secret_env(const struct doctor_branch *b)
{
	return b->graph ? "LEAVESYNC_GRAPH_CLIENT_SECRET" : "LEAVESYNC_EWS_CLIENT_SECRET";
}

static void check_secret(struct doctor_branch *b, struct doctor_report *rep, const char *name)
{
	const struct service_config *sc = b->sc;
	const char *s = sc->client_secret, *src = sc->client_secret_source;
	size_t n = s ? strlen(s) : 0;
	char cause[700], fix[900];

	if (!s || !*s) {
		snprintf(
		    cause, sizeof cause, "no client secret or certificate is configured, and %s",
		    b->graph && !b->app_only
		        ? "the Web sign-in (https redirect_uri) needs one"
		        : (b->graph ? "mode = application uses the client credentials grant"
		                    : "EWS always uses the client credentials grant (app-only)"));
		snprintf(fix, sizeof fix,
		         "create a secret in " PORTAL " > Certificates & secrets > Client secrets, "
		         "copy its Value into a file readable only by leavesync and set "
		         "client_secret_file (or set %s in the environment)",
		         secret_env(b));
		branch_fail(b, rep, name, cause, fix);
		return;
	}
	if (doctor_is_guid(s)) {
		snprintf(
		    cause, sizeof cause,
		    "the client secret (%s) looks like the secret's ID, not its Value (the token "
		    "endpoint would answer AADSTS7000215)",
		    src ? src : "config");
		branch_fail(
		    b, rep, name, cause,
		    "copy the Value column of the secret in " PORTAL
		    " > Certificates & secrets > Client secrets, not the Secret ID; the Value "
		    "is shown only right after creation, so create a new secret if it is "
		    "hidden");
		return;
	}
	if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '\'' && s[n - 1] == '\''))) {
		snprintf(cause, sizeof cause, "the client secret (%s) is wrapped in quotes",
		         src ? src : "config");
		branch_fail(b, rep, name, cause,
		            "remove the quotes: the config and secret files take the value as is");
		return;
	}
	if (src && strncmp(src, "file ", 5) == 0) {
		unsigned mode = 0;

		if (readable_by_others(src + 5, &mode) > 0) {
			snprintf(cause, sizeof cause, "the client secret file %s is readable by %s",
			         src + 5, (mode & S_IROTH) ? "others" : "its group");
			snprintf(fix, sizeof fix, "run `chmod 600 %s`", src + 5);
			branch_fail(b, rep, name, cause, fix);
			return;
		}
	}
	{
		char id[96];

		doctor_id(id, sizeof id, name);
		snprintf(cause, sizeof cause, "%s|%s (from %s)", id, name, src ? src : "config");
		doctor_add(rep, DOCTOR_OK, cause, NULL, NULL);
	}
}

/* Loads cert_file and the key (key_file, or cert_file when it holds both). */
static X509 *load_cert(const char *path, struct error *err)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	if (!f) {
		error_set(err, "cert_file %s cannot be read: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		error_set(err,
		          "cert_file %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
		          path);
	return x;
}

static EVP_PKEY *load_key(const char *path, struct error *err)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (!f) {
		error_set(err, "key_file %s cannot be read: %s", path, strerror(errno));
		return NULL;
	}
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k)
		error_set(err, "%s holds no unencrypted PEM private key", path);
	return k;
}

static void check_certificate(struct doctor_branch *b, struct doctor_report *rep, const char *name)
{
	const struct service_config *sc = b->sc;
	const char *key_path = sc->key_file ? sc->key_file : sc->cert_file;
	struct error err = {{0}};
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	unsigned mode = 0;
	char fix[600];

	if (!sc->cert_file) {
		branch_fail(
		    b, rep, name, "key_file is set without cert_file",
		    "set cert_file to the PEM certificate uploaded to the app registration");
		return;
	}
	if (!(x = load_cert(sc->cert_file, &err)) || !(k = load_key(key_path, &err))) {
		branch_fail(
		    b, rep, name, err.msg,
		    "give the PEM certificate uploaded to " PORTAL
		    " > Certificates & secrets > Certificates and its unencrypted private key, "
		    "readable by the leavesync user");
	} else if (X509_check_private_key(x, k) != 1) {
		snprintf(err.msg, sizeof err.msg, "%s is not the private key of the certificate %s",
		         key_path, sc->cert_file);
		branch_fail(b, rep, name, err.msg,
		            "set key_file to the key the certificate was made with (openssl x509 "
		            "-noout -pubkey and openssl pkey -pubout must print the same key)");
	} else if (readable_by_others(key_path, &mode) > 0) {
		snprintf(err.msg, sizeof err.msg, "the private key %s is readable by %s", key_path,
		         (mode & S_IROTH) ? "others" : "its group");
		snprintf(fix, sizeof fix, "run `chmod 600 %s`", key_path);
		branch_fail(b, rep, name, err.msg, fix);
	} else {
		doctor_add(rep, DOCTOR_OK, name, NULL, NULL);
	}
	X509_free(x);
	EVP_PKEY_free(k);
}

static void check_credential(struct doctor_branch *b, struct doctor_report *rep)
{
	char name[64];

	if (b->sc->cert_file || b->sc->key_file) {
		branch_name(name, sizeof name, b, "certificate");
		check_certificate(b, rep, name);
		return;
	}
	branch_name(name, sizeof name, b, "client secret");
	if (b->app_only || b->web)
		check_secret(b, rep, name);
}

/* ---- URLs ---- */

/* The part after scheme://host[:port]; "" when none. */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return p + strcspn(p, "/?#");
}

static void check_urls(struct doctor_branch *b, struct doctor_report *rep)
{
	const struct service_config *sc = b->sc;
	const char *path = sc->authority ? url_path(sc->authority) : "";
	char name[64], cause[900];

	branch_name(name, sizeof name, b, "urls");
	if (!http_url_allowed(sc->url) || !http_url_allowed(sc->authority)) {
		snprintf(cause, sizeof cause, "url or authority is not https:// (%s, %s)",
		         sc->url ? sc->url : "-", sc->authority ? sc->authority : "-");
		branch_fail(b, rep, name, cause,
		            "use https:// URLs; plain http:// is accepted only for loopback hosts");
	} else if (*path && strcmp(path, "/") != 0) {
		snprintf(cause, sizeof cause,
		         "authority = %s has a path (%s); the tenant and /oauth2/v2.0/token are "
		         "added by leavesync (AADSTS900023 otherwise)",
		         sc->authority, path);
		branch_fail(b, rep, name, cause,
		            "set authority to the login host only, e.g. "
		            "https://login.microsoftonline.com, and the tenant in tenant_id");
	} else if (!b->graph && !strcasestr(sc->url, "/EWS/Exchange.asmx")) {
		snprintf(cause, sizeof cause, "[ews] url = %s does not end in /EWS/Exchange.asmx",
		         sc->url);
		doctor_add(rep, DOCTOR_WARN, name, cause,
		           "set url = https://outlook.office365.com/EWS/Exchange.asmx (or your "
		           "server's /EWS/Exchange.asmx)");
	} else {
		doctor_add(rep, DOCTOR_OK, name, NULL, NULL);
	}
}

void doctor_check_section(const struct config *cfg, struct doctor_branch *b,
                          struct doctor_report *rep)
{
	(void)cfg;
	check_tenant(b, rep);
	check_client_id(b, rep);
	check_credential(b, rep);
	check_urls(b, rep);
}

/* ---- step 6: expiry ---- */

static void report_expiry(struct doctor_branch *b, struct doctor_report *rep, const char *what,
                          const char *date, int64_t expires, int64_t now, const char *fix)
{
	char name[96], cause[300];
	long days = (long)((expires - now) / 86400);

	snprintf(name, sizeof name, "[%s] %s expiry", b->name, what);
	if (expires <= now) {
		snprintf(cause, sizeof cause, "the %s expired on %s", what, date);
		doctor_add(rep, DOCTOR_FAIL, name, cause, fix);
	} else if (days < WARN_DAYS) {
		snprintf(cause, sizeof cause, "the %s expires on %s, in %ld day%s", what, date,
		         days, days == 1 ? "" : "s");
		doctor_add(rep, DOCTOR_WARN, name, cause, fix);
	} else {
		char id[96], title[200];

		doctor_id(id, sizeof id, name);
		snprintf(title, sizeof title, "%s|[%s] %s expiry (%s, in %ld days)", id, b->name,
		         what, date, days);
		doctor_add(rep, DOCTOR_OK, title, NULL, NULL);
	}
}

static void check_cert_expiry(struct doctor_branch *b, int64_t now, struct doctor_report *rep)
{
	struct error err = {{0}};
	X509 *x = load_cert(b->sc->cert_file, &err);
	struct tm tm;
	char date[16];

	if (!x)
		return; /* reported by the certificate check */
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
		report_expiry(
		    b, rep, "certificate", date, (int64_t)timegm(&tm), now,
		    "create a new certificate, upload it to " PORTAL
		    " > Certificates & secrets > Certificates, point cert_file and key_file "
		    "at it, then delete the old one");
	}
	X509_free(x);
}

void doctor_check_expiry(struct doctor_branch *b, int64_t now, struct doctor_report *rep)
{
	const struct service_config *sc = b->sc;
	int64_t t;

	if (sc->cert_file) {
		check_cert_expiry(b, now, rep);
		return;
	}
	if (!(b->app_only || b->web) || !sc->client_secret_expires)
		return;
	if (tz_local_to_unix(sc->client_secret_expires, "UTC", &t) < 0)
		return; /* config_load validated the date */
	report_expiry(b, rep, "client secret", sc->client_secret_expires, t, now,
	              "add a new client secret in " PORTAL " > Certificates & secrets > Client "
	              "secrets, put its Value where leavesync reads it, update "
	              "client_secret_expires, then delete the old secret");
}
