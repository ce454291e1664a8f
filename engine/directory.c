/* The store-backed mailbox directory (engine/directory.h). */
#include "engine/directory.h"

#include "common/util.h"
#include "store/store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dir {
	struct mailbox_directory d; /* first: d.ctx points back here */
	char *store_path;
	char *store_group; /* [store] group, or NULL */
	struct store *st;  /* opened on first use */
	pthread_mutex_t mu;
};

static struct store *store_of(struct dir *x, struct error *err)
{
	if (!x->st && store_open(x->store_path, false, x->store_group, &x->st, err) < 0)
		x->st = NULL;
	return x->st;
}

static int dir_lookup(struct mailbox_directory *d, const char *mailbox, char **user_id,
                      struct error *err)
{
	struct dir *x = d->ctx;
	struct store *st;
	int rc = -1;

	*user_id = NULL;
	pthread_mutex_lock(&x->mu);
	st = store_of(x, err);
	if (st)
		rc = store_get_graph_user_id(st, mailbox, user_id, err) < 0 ? -1 : 0;
	pthread_mutex_unlock(&x->mu);
	return rc;
}

static int dir_remember(struct mailbox_directory *d, const char *mailbox, const char *user_id,
                        struct error *err)
{
	struct dir *x = d->ctx;
	struct store *st;
	int rc = -1;

	pthread_mutex_lock(&x->mu);
	st = store_of(x, err);
	if (st)
		rc = store_set_graph_user_id(st, mailbox, user_id, err);
	pthread_mutex_unlock(&x->mu);
	return rc;
}

static int dir_ews_url_lookup(struct mailbox_directory *d, const char *domain, char **ews_url,
                              char **server_build, struct error *err)
{
	struct dir *x = d->ctx;
	struct store *st;
	int rc = -1;

	*ews_url = NULL;
	*server_build = NULL;
	pthread_mutex_lock(&x->mu);
	st = store_of(x, err);
	if (st)
		rc = store_get_ews_url(st, domain, ews_url, server_build, err) < 0 ? -1 : 0;
	pthread_mutex_unlock(&x->mu);
	return rc;
}

static int dir_ews_url_remember(struct mailbox_directory *d, const char *domain,
                                const char *ews_url, const char *server_build, struct error *err)
{
	struct dir *x = d->ctx;
	struct store *st;
	int rc = -1;

	pthread_mutex_lock(&x->mu);
	st = store_of(x, err);
	if (st)
		rc = store_set_ews_url(st, domain, ews_url, server_build, err);
	pthread_mutex_unlock(&x->mu);
	return rc;
}

struct mailbox_directory *mailbox_directory_new(const char *store_path, const char *store_group)
{
	struct dir *x = xcalloc(1, sizeof *x);

	x->store_path = xstrdup(store_path);
	x->store_group = store_group ? xstrdup(store_group) : NULL;
	pthread_mutex_init(&x->mu, NULL);
	x->d.lookup = dir_lookup;
	x->d.remember = dir_remember;
	x->d.ews_url_lookup = dir_ews_url_lookup;
	x->d.ews_url_remember = dir_ews_url_remember;
	x->d.ctx = x;
	return &x->d;
}

void mailbox_directory_free(struct mailbox_directory *d)
{
	struct dir *x = d ? d->ctx : NULL;

	if (!x)
		return;
	if (x->st)
		store_close(x->st);
	pthread_mutex_destroy(&x->mu);
	free(x->store_path);
	free(x->store_group);
	free(x);
}
