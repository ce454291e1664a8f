/* m365sim on-premises mode: Exchange Server 2016/2019 as an organisation runs it, switched on by
 * an "onprem" object in the fixture (docs/simulator.md). EWS then signs in with the service
 * account's password instead of a bearer token: NTLMv2 ([MS-NLMP]) and Basic (HTTPS only), the
 * authentication of a connection kept for the requests that follow on it, as IIS does; each
 * account holds the ApplicationImpersonation role or not (optionally scoped to some mailboxes); a
 * SOAP Autodiscover service ([MS-OXWSADISC]) answers GetUserSettings. */
#ifndef M365SIM_ONPREM_H
#define M365SIM_ONPREM_H

#include "tools/m365sim/sim.h"

#include <stdbool.h>
#include <stdint.h>

/* The authentication state of one TCP connection (NTLM authenticates a connection). */
struct sim_conn {
	unsigned char challenge[8]; /* the ServerChallenge sent in the last CHALLENGE_MESSAGE */
	bool challenged;            /* a challenge is pending (single use) */
	int account;                /* the account the connection is signed in as, -1: none */
	int64_t requests;           /* requests served on this connection */
};

struct sim_onprem_account {
	char *user;         /* sAMAccountName, as configured */
	char *upn;          /* user@dns_domain, lower case */
	char *password;     /* the fixture's password */
	bool impersonation; /* holds the ApplicationImpersonation role */
	bool locked;        /* locked out: every sign-in fails as a wrong password does */
	struct sim_app app; /* what the EWS service sees: tenant and RBAC scope */
};

struct sim_onprem {
	char *tenant_id;             /* the organisation (its mailboxes) */
	char *netbios_domain;        /* "FABRIKAM" */
	char *dns_domain;            /* "fabrikam.com" */
	char *server;                /* NetBIOS computer name, "EX01" */
	int build[4];                /* 15.1.2507.6 (Exchange 2016 CU23) ... */
	bool ntlm, negotiate, basic; /* methods the EWS virtual directory offers */
	bool legacy_ntlm; /* challenges without NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY */
	json_t *moving;   /* addresses whose mailbox is being moved (array, owned) */
	struct sim_onprem_account *accounts;
	size_t naccounts;
	json_t *autodiscover; /* the fixture's "autodiscover" object (owned) or NULL */
};

/* fixture.c calls this for the "onprem" object; 0, or -1 with why. */
int sim_onprem_load(struct sim *s, json_t *o, char *why, size_t whylen);
void sim_onprem_free(struct sim *s);

/* ews.c: true while u's mailbox is being moved (/_sim/onprem/config "moving"): EWS answers
 * ErrorMailboxMoveInProgress. */
bool sim_onprem_moving(struct sim *s, const struct sim_user *u);

/* ews.c: the newest RequestServerVersion the configured build accepts, as ews_version_rank ranks
 * it (Exchange2016 for 15.1/15.2, Exchange2013_SP1 for 15.0.847+, Exchange2010_SP2 for 14.3). */
int sim_onprem_max_version_rank(struct sim *s);

/* The server's build (ServerVersionInfo of EWS and Autodiscover). */
void sim_onprem_set_build(struct sim *s, const int build[4]);

/* The tenant whose mailboxes the on-premises server holds; NULL: not in on-premises mode. */
const char *sim_onprem_tenant(struct sim *s);

/* ews.c: the account a request signs in as, or NULL with resp filled (401 with the challenges
 * the server offers, or an NTLM CHALLENGE_MESSAGE). */
struct sim_onprem_account *sim_onprem_authorize(struct sim *s, const struct sim_request *req,
                                                struct sim_response *resp);

/* onprem_ad.c: POST /autodiscover/autodiscover.svc (SOAP GetUserSettings), and the control call
 * POST /_sim/onprem/config {"legacy_ntlm": true}: NTLM challenges without extended session
 * security, as a server that still allows NTLMv1 sends them; {"autodiscover_hosts": [...]}: the
 * host names Autodiscover answers under; {"moving": ["addr", ...]}: mailboxes being moved;
 * {"build": "15.0.847.32"}: another server version. */
bool sim_onprem_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp);

/* ews_xml.c: the ServerVersionInfo every EWS response carries (default: Exchange Online's). */
void ews_set_server_version(const int build[4], const char *version);

#endif
