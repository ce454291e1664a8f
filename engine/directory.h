/* The mailbox directory handed to backends (struct mailbox_directory in engine/backend.h): the
 * store's mailbox table, shared by the worker threads of one run. */
#ifndef ENGINE_DIRECTORY_H
#define ENGINE_DIRECTORY_H

#include "engine/backend.h"

/* A directory over the store at store_path ([store] group: store_group; opened on first use, one
 * connection behind a mutex: lookups are rare, once per mailbox and session). Never fails to be
 * made; a store that cannot be opened makes each lookup fail with the reason. Free with
 * mailbox_directory_free. */
struct mailbox_directory *mailbox_directory_new(const char *store_path, const char *store_group);
void mailbox_directory_free(struct mailbox_directory *d);

#endif
