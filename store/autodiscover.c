/* The autodiscover table: per mail domain, the EWS URL SOAP Autodiscover found and the server's
 * build (ews/autodiscover.c, docs/onprem.md). Deleting a row makes the next run discover again. */
#include "store/store_int.h"

#include "common/util.h"

#include <time.h>

int store_get_ews_url(struct store *st, const char *domain, char **ews_url, char **server_build,
                      struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	*ews_url = NULL;
	if (server_build)
		*server_build = NULL;
	if (db_prepare(st,
	               "SELECT ews_url, server_build FROM autodiscover WHERE domain = lower(?1)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, domain);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*ews_url = db_column_strdup(s, 0);
		if (server_build)
			*server_build = db_column_strdup(s, 1);
	} else if (rc != SQLITE_DONE) {
		db_error(st, err, "cannot read the EWS URL of a mail domain");
	}
	db_finish(st, s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_set_ews_url(struct store *st, const char *domain, const char *ews_url,
                      const char *server_build, struct error *err)
{
	sqlite3_stmt *s;
	int rc;

	if (db_prepare(st,
	               ews_url ? "INSERT INTO autodiscover (domain, ews_url, server_build,"
	                         " discovered_at) VALUES (lower(?1), ?2, ?3, ?4)"
	                         " ON CONFLICT (domain) DO UPDATE SET ews_url = excluded.ews_url,"
	                         " server_build = coalesce(excluded.server_build, server_build),"
	                         " discovered_at = excluded.discovered_at"
	                       : "DELETE FROM autodiscover WHERE domain = lower(?1)",
	               &s, err) < 0)
		return -1;
	db_bind_text(s, 1, domain);
	if (ews_url) {
		db_bind_text(s, 2, ews_url);
		db_bind_text(s, 3, server_build);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	}
	rc = sqlite3_step(s);
	db_finish(st, s);
	if (rc != SQLITE_DONE)
		return db_error(st, err, "cannot save the EWS URL of a mail domain");
	return 0;
}
