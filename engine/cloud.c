/* The national cloud table (engine/cloud.h). Sources: "Microsoft Graph national cloud deployments"
 * (learn.microsoft.com/graph/deployments: the Entra ID and Graph root endpoints per cloud), "Office
 * 365 U.S. Government DoD endpoints" (Exchange Online: outlook-dod.office365.us, webmail.apps.mil)
 * and "GCC High endpoints" (outlook.office365.us); the Exchange resource per cloud as CISA's
 * ScubaGear requests it (outlook.office365.us, outlook-dod.office365.us, partner.outlook.cn).
 * GCC (moderate) tenants live in the global cloud. */
#include "engine/cloud.h"

#include "common/util.h"
#include "engine/config.h"
#include "engine/tokens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cloud {
	const char *name;
	const char *authority;
	const char *graph_url, *graph_resource;
	const char *ews_url, *ews_resource;
};

static const struct cloud clouds[] = {
    {"global", "https://login.microsoftonline.com", "https://graph.microsoft.com/v1.0",
     "https://graph.microsoft.com", "https://outlook.office365.com/EWS/Exchange.asmx",
     "https://outlook.office365.com"},
    {"usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us/v1.0",
     "https://graph.microsoft.us", "https://outlook.office365.us/EWS/Exchange.asmx",
     "https://outlook.office365.us"},
    {"dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us/v1.0",
     "https://dod-graph.microsoft.us", "https://outlook-dod.office365.us/EWS/Exchange.asmx",
     "https://outlook-dod.office365.us"},
    {"china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn/v1.0",
     "https://microsoftgraph.chinacloudapi.cn", "https://partner.outlook.cn/EWS/Exchange.asmx",
     "https://partner.outlook.cn"},
};

static const struct cloud *find(const char *name)
{
	for (size_t i = 0; name && i < sizeof clouds / sizeof clouds[0]; i++)
		if (strcmp(clouds[i].name, name) == 0)
			return &clouds[i];
	return NULL;
}

static void replace(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

int cloud_config_key(struct service_config *sc, const char *key, const char *v, char *why,
                     size_t whylen)
{
	if (strcmp(key, "cloud") == 0) {
		if (!find(v)) {
			snprintf(why, whylen, "cloud = %s: expected global, usgov, dod or china",
			         v);
			return -1;
		}
		replace(&sc->cloud, v);
		return 1;
	}
	if (strcmp(key, "cert_algorithm") == 0) {
		if (strcmp(v, "RS256") != 0 && strcmp(v, "PS256") != 0) {
			snprintf(why, whylen, "cert_algorithm = %s: expected RS256 or PS256", v);
			return -1;
		}
		replace(&sc->cert_algorithm, v);
		return 1;
	}
	return 0;
}

void cloud_apply(struct service_config *sc, bool graph)
{
	const struct cloud *c = find(sc->cloud);

	if (!c)
		return;
	if (!sc->authority_set) {
		free(sc->authority);
		sc->authority = xstrdup(c->authority);
	}
	if (!sc->url_set) {
		free(sc->url);
		sc->url = xstrdup(graph ? c->graph_url : c->ews_url);
	}
}

const char *service_resource(const struct service_config *sc, bool graph)
{
	const struct cloud *c = find(sc->cloud);

	if (c)
		return graph ? c->graph_resource : c->ews_resource;
	return token_resource_for(sc->url, graph);
}
