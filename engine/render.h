/* leave -> VEVENT text with libical, per design.md. Deterministic: the same leave and config give
 * byte-identical text (no DTSTAMP from the clock), so the text can be compared with what was
 * written. */
#ifndef ENGINE_RENDER_H
#define ENGINE_RENDER_H

#include "common/error.h"
#include "engine/config.h"
#include "store/store.h"

/* The engine's tag for (mailbox, leave id) in an instance ([sync] instance): a name-based UUID
 * (v5), stable across stores, so that a lost store re-pushed with the same leave finds its events
 * again; prefixed "INSTANCE:" for any instance but "default" (engine/event.h). */
void render_sync_key(const char *instance, const char *mailbox, const char *leave_id,
                     char out[SYNC_KEY_MAX]);

/* Renders one leave. *ics is a VCALENDAR holding one VEVENT (and the VTIMEZONE of a timed leave),
 * caller frees; *ics is NULL when the leave must have no event (cancelled, or its kind has
 * sync=false). */
int render_leave(const struct config *cfg, const struct leave *lv, const char *sync_key, char **ics,
                 struct error *err);

/* render_leave always through libical's serializer (render_leave writes the common case directly,
 * byte for byte the same): the reference for tests. */
int render_leave_libical(const struct config *cfg, const struct leave *lv, const char *sync_key,
                         char **ics, struct error *err);

#endif
