/* The fields of a calendar event that leavesync owns, as the backends write and read them.
 *
 * The engine renders a leave to VEVENT text (engine/render.h); event_from_vevent() turns that text
 * into this struct, and each backend maps the struct to its wire format through its own field
 * table. Reading an item back fills the same struct, so drift is event_owned_equal() on two of
 * these. */
#ifndef ENGINE_EVENT_H
#define ENGINE_EVENT_H

#include "common/error.h"

#include <stdbool.h>

/* The engine's tag on every remote item it owns: a MAPI named property of type String in our own
 * property set. EWS writes it as ExtendedFieldURI PropertySetId/PropertyName/PropertyType="String";
 * Graph reads and writes the same property as singleValueExtendedProperties id "String
 * {LEAVESYNC_PROPSET_ID} Name LEAVESYNC_PROP_NAME", so a tenant can move from EWS to Graph without
 * losing its tags. Never change these. */
#define LEAVESYNC_PROPSET_ID "0c6f5a4e-8d1b-4c39-9e2a-5b7d3f1a6c20"
#define LEAVESYNC_PROP_NAME "LeaveSyncKey"

/* The tag's value, the sync key, says which instance ([sync] instance) wrote the event: a bare
 * UUID for the instance "default" (and for every event written before instances existed, so that
 * existing deployments see no change), "NAME:UUID" for any other. Stores of different instances
 * therefore never share a key (nor a Graph transactionId), and each lists only its own events. */
#define SYNC_KEY_MAX 72 /* "NAME:" (at most 33) + UUID (36) + NUL */
#define SYNC_KEY_INSTANCE_MAX 33

/* The instance of a key: the text before ':', or "default" for a bare UUID. */
void sync_key_instance(const char *key, char out[SYNC_KEY_INSTANCE_MAX]);
/* True when key belongs to instance (NULL: "default"). */
bool sync_key_in_instance(const char *key, const char *instance);
/* The same key moved to another instance (a renamed instance): the UUID with instance's prefix. */
void sync_key_for_instance(const char *key, const char *instance, char out[SYNC_KEY_MAX]);

enum show_as { SHOW_FREE, SHOW_TENTATIVE, SHOW_BUSY, SHOW_OOF, SHOW_WORKING_ELSEWHERE };
enum sensitivity { SENS_NORMAL, SENS_PERSONAL, SENS_PRIVATE, SENS_CONFIDENTIAL };

/* Every string is owned by the struct (event_free releases them). */
struct event {
	char *sync_key; /* the engine's tag: a UUID, also the VEVENT UID; never NULL in a rendered
	                   event */
	char *subject;  /* never NULL */
	char *body;     /* plain text, NULL when the policy leaves the note out */
	bool all_day;   /* true: start/end are dates, end exclusive, midnight in time_zone */
	char start[20]; /* all-day "YYYY-MM-DD"; timed "YYYY-MM-DDTHH:MM:SS" wall time in time_zone
	                 */
	char end[20];   /* same form as start; exclusive */
	char time_zone[64]; /* IANA name, e.g. "Europe/Riga"; "UTC" allowed */
	enum show_as show_as;
	enum sensitivity sensitivity;
	char **categories;    /* NULL-terminated array, may be NULL when empty */
	int reminder_minutes; /* -1: no reminder (the default for leave) */
};

/* Parses one VEVENT (a full VCALENDAR or a bare VEVENT) rendered by render_leave() into *ev.
 * On success *ev owns fresh strings; on failure *ev is zeroed and err says why. */
int event_from_vevent(const char *ics, struct event *ev, struct error *err);
/* The same through libical's parser always (event_from_vevent reads render_leave's common form
 * directly, to the same result): the reference for tests. */
int event_from_vevent_libical(const char *ics, struct event *ev, struct error *err);

/* True when every owned field is equal (subject, body, all_day, start, end, zone, show_as,
 * sensitivity, categories as a set, reminder). Time zones compare by meaning (Windows and IANA
 * names of one zone are equal; see engine/tz.h). */
bool event_owned_equal(const struct event *a, const struct event *b);

/* Names of the owned fields that differ, comma-separated into out ("subject,start"); "" when equal.
 */
void event_owned_diff(const struct event *a, const struct event *b, char *out, size_t outlen);

void event_copy(struct event *dst, const struct event *src); /* deep copy; dst owns */
void event_free(struct event *ev);                           /* frees strings, zeroes *ev */

const char *
show_as_name(enum show_as s); /* "oof", "busy", "free", "tentative", "workingElsewhere" */
int show_as_parse(const char *name, enum show_as *out); /* accepts those names, case-insensitive */
const char *
sensitivity_name(enum sensitivity s); /* "normal", "personal", "private", "confidential" */
int sensitivity_parse(const char *name, enum sensitivity *out);

#endif
