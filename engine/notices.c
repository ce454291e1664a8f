/* Expiry and retirement notices (engine/notices.h). */
#include "engine/notices.h"

#include "engine/tz.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The EWS endpoint of Exchange Online in each cloud: the public one, GCC High, DoD, and the one
 * operated by 21Vianet (Microsoft Learn, "Microsoft 365 endpoints" for each cloud). */
bool ews_url_is_exchange_online(const char *url)
{
	static const char *const hosts[] = {"outlook.office365.com", "outlook.office.com",
	                                    "outlook.office365.us", "outlook-dod.office365.us",
	                                    "partner.outlook.cn"};
	const char *host = url ? strstr(url, "://") : NULL;
	size_t n;

	if (!host)
		return false;
	host += 3;
	n = strcspn(host, ":/?#");
	for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
		if (strlen(hosts[i]) == n && strncasecmp(host, hosts[i], n) == 0)
			return true;
	return false;
}

/* notAfter of a PEM certificate as "YYYY-MM-DD" and Unix seconds; -1 when unreadable (doctor
 * reports an unreadable certificate). */
static int cert_not_after(const char *path, char date[11], int64_t *at)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	struct tm tm;
	int rc = -1;

	if (!f)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		strftime(date, 11, "%Y-%m-%d", &tm);
		*at = (int64_t)timegm(&tm);
		rc = 0;
	}
	X509_free(x);
	return rc;
}

static void add_notice(struct notice *out, size_t max, size_t *n, const char *key, int64_t at,
                       int64_t now, const char *fmt_soon, const char *fmt_past, const char *a,
                       const char *b)
{
	struct notice *no;
	int64_t days = (at - now) / 86400;

	if (*n >= max)
		return;
	no = &out[(*n)++];
	memset(no, 0, sizeof *no);
	snprintf(no->key, sizeof no->key, "%s", key);
	no->past = at <= now;
	no->days_left = at <= now ? -((now - at) / 86400) : days;
	if (no->past)
		snprintf(no->text, sizeof no->text, fmt_past, a, b);
	else
		snprintf(no->text, sizeof no->text, fmt_soon, a, b, (long long)days,
		         days == 1 ? "" : "s");
}

static void credential_notice(const struct config *cfg, const char *name, int64_t now,
                              struct notice *out, size_t max, size_t *n)
{
	const struct service_config *sc = strcmp(name, "ews") == 0 ? &cfg->ews : &cfg->graph;
	char date[11], key[160], what[48];
	int64_t at;

	if (!sc->configured || !config_backend_used(cfg, name))
		return;
	if (sc->cert_file) {
		if (cert_not_after(sc->cert_file, date, &at) < 0)
			return;
		snprintf(what, sizeof what, "[%s] certificate", name);
	} else if (sc->client_secret_expires &&
	           tz_local_to_unix(sc->client_secret_expires, "UTC", &at) == 0) {
		snprintf(date, sizeof date, "%s", sc->client_secret_expires);
		snprintf(what, sizeof what, "[%s] client secret", name);
	} else {
		return;
	}
	if (at - now > (int64_t)NOTICE_EXPIRY_DAYS * 86400)
		return;
	snprintf(key, sizeof key, "expiry %s %s", what, date);
	add_notice(out, max, n, key, at, now,
	           "%s expires on %s, in %lld day%s: add a new one in Entra admin center > App "
	           "registrations > the app > Certificates & secrets, switch leavesync to it "
	           "(docs/operations.md, rotating the client secret)",
	           "%s expired on %s: nothing can sync until a new one is in place (Entra admin "
	           "center > App registrations > the app > Certificates & secrets; "
	           "docs/operations.md)",
	           what, date);
}

size_t notices_due(const struct config *cfg, int64_t now, struct notice *out, size_t max)
{
	size_t n = 0;
	int64_t removal;

	credential_notice(cfg, "ews", now, out, max, &n);
	credential_notice(cfg, "graph", now, out, max, &n);
	/* with a password ([ews] auth = ntlm...) the server is Exchange Server, found by [ews] url
	 * or Autodiscover: the default url never applies */
	if (cfg->ews.configured && config_backend_used(cfg, "ews") &&
	    !config_ews_password_auth(&cfg->ews) && ews_url_is_exchange_online(cfg->ews.url) &&
	    tz_local_to_unix(EWS_ONLINE_REMOVAL, "UTC", &removal) == 0 &&
	    removal - now <= (int64_t)NOTICE_EWS_REMOVAL_DAYS * 86400)
		add_notice(
		    out, max, &n, "ews-removal", removal, now,
		    "%s: EWS is removed from Exchange Online on %s, in %lld day%s: move "
		    "these mailboxes to Microsoft Graph ([sync] backend = graph; "
		    "docs/operations.md, moving mailboxes from EWS to Microsoft Graph)",
		    "%s: EWS was removed from Exchange Online on %s: set [sync] backend = "
		    "graph (docs/operations.md, moving mailboxes from EWS to Microsoft Graph)",
		    "[ews] url is Exchange Online", EWS_ONLINE_REMOVAL);
	return n;
}
