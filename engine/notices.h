/* What an administrator must hear about before it breaks: a client secret or certificate that
 * expires soon (or has), and EWS against Exchange Online nearing its removal. `sync` says it at
 * most once a day (the store remembers when), `status --check` turns it into WARNING/CRITICAL,
 * `doctor` explains it. Library code: fills structs, prints nothing. */
#ifndef ENGINE_NOTICES_H
#define ENGINE_NOTICES_H

#include "engine/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTICE_EXPIRY_DAYS 30 /* warn this long before a credential expires */
/* EWS is removed from Exchange Online on 1 April 2027, no exceptions (Microsoft Learn,
 * "Deprecation of Exchange Web Services in Exchange Online"; Message Center MC1227454). */
#define EWS_ONLINE_REMOVAL "2027-04-01"
#define NOTICE_EWS_REMOVAL_DAYS 180 /* warn from here on: the phased disablement starts then */

struct notice {
	char key[160];     /* stable: "expiry graph client secret 2027-06-30", "ews-removal" */
	bool past;         /* expired / removed already (CRITICAL), else soon (WARNING) */
	int64_t days_left; /* negative when past */
	char text[400];    /* one line with the fix */
};

/* The notices due now for the backends the config uses ([sync] backend and [mailbox] routes):
 * credentials with a known expiry (client_secret_expires, or cert_file's notAfter) within
 * NOTICE_EXPIRY_DAYS, and EWS on an Exchange Online host within NOTICE_EWS_REMOVAL_DAYS of its
 * removal. Returns how many were written to out (at most max). */
size_t notices_due(const struct config *cfg, int64_t now, struct notice *out, size_t max);

/* True when url's host is one of Exchange Online's EWS hosts (any cloud). */
bool ews_url_is_exchange_online(const char *url);

#endif
