/* The on-premises mode's own endpoints: the /_sim/onprem/config control call, and SOAP Autodiscover
 * (placeholder until GetUserSettings lands). */
#include "tools/m365sim/onprem.h"

#include "tools/m365sim/sim_core.h"

#include <string.h>

static void control(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	if (!s->onprem) {
		sim_resp_json(resp, 409,
		              json_pack("{s:s,s:s}", "error", "not_onprem", "message",
		                        "the fixture has no \"onprem\" object"));
		return;
	}
	if (strcmp(req->method, "POST") == 0) {
		json_t *j = json_loadb(req->body ? req->body : "", req->body_len, 0, NULL);
		json_t *v = json_object_get(j, "legacy_ntlm");
		if (!json_is_boolean(v)) {
			json_decref(j);
			sim_resp_json(resp, 400,
			              json_pack("{s:s,s:s}", "error", "bad_request", "message",
			                        "give {\"legacy_ntlm\": true or false}"));
			return;
		}
		s->onprem->legacy_ntlm = json_is_true(v);
		json_decref(j);
	}
	sim_resp_json(resp, 200, json_pack("{s:b}", "legacy_ntlm", s->onprem->legacy_ntlm));
}

bool sim_onprem_handle(struct sim *s, const struct sim_request *req, struct sim_response *resp)
{
	if (strcmp(req->path, "/_sim/onprem/config") == 0) {
		control(s, req, resp);
		return true;
	}
	return false;
}
