/* National clouds: `cloud = global | usgov | dod | china` in [ews] and [graph] derives the sign-in
 * authority, the service URL and the token resource (audience) of that cloud. Explicit `authority`
 * and `url` keys still win (on-premises EWS, the simulator). docs/config.md lists the table. */
#ifndef ENGINE_CLOUD_H
#define ENGINE_CLOUD_H

#include <stdbool.h>

struct service_config;

#include <stddef.h>

/* The [ews]/[graph] keys `cloud` and `cert_algorithm`: 1 when key is one of them and v was taken,
 * 0 when key is another key, -1 when v is not allowed (why says what is). */
int cloud_config_key(struct service_config *sc, const char *key, const char *v, char *why,
                     size_t whylen);
/* Sets authority and url from the cloud where the file did not set them. */
void cloud_apply(struct service_config *sc, bool graph);
/* The resource tokens are requested for ("https://outlook-dod.office365.us"): the cloud's when
 * `cloud` is set, else derived from the url's host (national hosts), else the public cloud's. */
const char *service_resource(const struct service_config *sc, bool graph);

#endif
