/* m365sim fixture: tenants, app registrations, users and their mailboxes, from a JSON file or the
 * built-in demo tenant. The format is documented in docs/simulator.md. */
#include "common/util.h"
#include "tools/m365sim/sim_core.h"
#include "tools/m365sim/onprem.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char demo_fixture[] =
    "{\"device_code_interval\": 5,"
    " \"tenants\": [{\"id\": \"11111111-2222-3333-4444-555555555555\","
    "  \"domain\": \"contoso.onmicrosoft.com\", \"domains\": [\"contoso.com\"]}],"
    " \"apps\": [{\"client_id\": \"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\","
    "  \"tenant\": \"11111111-2222-3333-4444-555555555555\", \"name\": \"LeaveSync demo\","
    "  \"secrets\": [{\"id\": \"0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f0f\","
    "   \"value\": \"demo-secret-value~0123456789abcdefghij\", \"expires\": "
    "\"2099-12-31T00:00:00Z\"}],"
    "  \"redirect_uris\": [{\"uri\": \"http://localhost\", \"type\": \"public\"},"
    "   {\"uri\": \"https://app.contoso.com/callback\", \"type\": \"web\"}],"
    "  \"public_client\": true,"
    "  \"application_permissions\": [\"full_access_as_app\", \"Calendars.ReadWrite\","
    "   \"User.Read.All\"],"
    "  \"delegated_permissions\": [\"Calendars.ReadWrite\", \"offline_access\", \"User.Read\"],"
    "  \"admin_consent\": true, \"ews_allowed\": true}],"
    " \"users\": ["
    "  {\"upn\": \"alice@contoso.com\", \"display_name\": \"Alice Ahlberg\","
    "   \"time_zone\": \"W. Europe Standard Time\"},"
    "  {\"upn\": \"bob@contoso.com\", \"display_name\": \"Bob Brown\","
    "   \"time_zone\": \"Pacific Standard Time\"},"
    "  {\"upn\": \"carol@contoso.com\", \"display_name\": \"Carol Celmins\","
    "   \"time_zone\": \"FLE Standard Time\", \"delegates\": [\"alice@contoso.com\"]},"
    "  {\"upn\": \"dave@contoso.com\", \"display_name\": \"Dave Davies\","
    "   \"time_zone\": \"AUS Eastern Standard Time\"}]}";

static char *opt_str(json_t *o, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(o, key));

	return xstrdup(v ? v : def);
}

static bool opt_bool(json_t *o, const char *key, bool def)
{
	json_t *v = json_object_get(o, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

static char **str_list(json_t *arr, bool lower)
{
	char **out;
	size_t i, n = 0;
	json_t *v;

	if (!json_is_array(arr))
		return NULL;
	out = xcalloc(json_array_size(arr) + 1, sizeof *out);
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v)) {
			out[n] = xstrdup(json_string_value(v));
			if (lower)
				sim_lower(out[n]);
			n++;
		}
	}
	return out;
}

static void free_list(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

static int parse_time(json_t *v, int64_t def, int64_t *out)
{
	if (!v) {
		*out = def;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	return sim_parse_utc(json_string_value(v), out);
}

static char *read_certificate(const char *value, const char *fixture_dir, struct error *err)
{
	char path[4096], *data = NULL;
	size_t len;

	if (strstr(value, "-----BEGIN"))
		return xstrdup(value);
	if (value[0] == '/' || !fixture_dir)
		snprintf(path, sizeof path, "%s", value);
	else
		snprintf(path, sizeof path, "%s/%s", fixture_dir, value);
	if (read_file(path, &data, &len) < 0) {
		error_set(
		    err,
		    "cannot read certificate %s: give a PEM file path (relative to the fixture) "
		    "or the PEM text itself",
		    path);
		return NULL;
	}
	return data;
}

static struct sim_tenant *tenant_ref(struct sim *s, json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "tenant"));

	if (!t)
		return s->ntenants ? &s->tenants[0] : NULL;
	return sim_find_tenant(s, t);
}

static int load_tenants(struct sim *s, json_t *arr, struct error *err)
{
	size_t i;
	json_t *o;

	s->tenants = xcalloc(json_array_size(arr) + 1, sizeof *s->tenants);
	json_array_foreach(arr, i, o)
	{
		struct sim_tenant *t = &s->tenants[s->ntenants];
		size_t j;
		json_t *d;
		t->id = opt_str(o, "id", NULL);
		t->domain = opt_str(o, "domain", NULL);
		if (!sim_is_guid(t->id) || !t->domain) {
			free(t->id);
			free(t->domain);
			return error_set(
			    err, "fixture: tenants[%zu] needs \"id\" (a GUID) and \"domain\"", i);
		}
		sim_lower(t->id);
		sim_lower(t->domain);
		s->ntenants++;
		sim_map_put(s->tenant_by_key, t->id, t);
		sim_map_put(s->tenant_by_key, t->domain, t);
		json_array_foreach(json_object_get(o, "domains"), j, d)
		{
			char *dom = xstrdup(json_string_value(d));
			sim_lower(dom);
			if (dom)
				sim_map_put(s->tenant_by_key, dom, t);
			free(dom);
		}
	}
	return s->ntenants ? 0
	                   : error_set(err, "fixture: \"tenants\" must list at least one tenant");
}

static int load_app(struct sim *s, struct sim_app *a, json_t *o, const char *dir, size_t i,
                    struct error *err)
{
	struct sim_tenant *t = tenant_ref(s, o);
	json_t *arr, *v, *cert;
	size_t j;

	a->client_id = opt_str(o, "client_id", NULL);
	if (!sim_is_guid(a->client_id) || !t)
		return error_set(err,
		                 "fixture: apps[%zu] needs \"client_id\" (a GUID) and a known "
		                 "\"tenant\"",
		                 i);
	sim_lower(a->client_id);
	a->tenant_id = xstrdup(t->id);
	a->name = opt_str(o, "name", "app");
	a->multitenant = opt_bool(o, "multitenant", false);
	arr = json_object_get(o, "secrets");
	a->secrets = xcalloc(json_array_size(arr) + 1, sizeof *a->secrets);
	json_array_foreach(arr, j, v)
	{
		struct sim_secret *sec = &a->secrets[a->nsecrets++];
		sec->id = opt_str(v, "id", "00000000-0000-0000-0000-000000000000");
		sec->value = opt_str(v, "value", "");
		if (parse_time(json_object_get(v, "expires"), 4102444800, &sec->expires) < 0)
			return error_set(
			    err,
			    "fixture: apps[%zu].secrets[%zu].expires is not a UTC time "
			    "(\"2030-01-01T00:00:00Z\") or Unix seconds",
			    i, j);
	}
	cert = json_object_get(o, "certificate");
	if (json_is_string(cert) &&
	    !(a->cert_pem = read_certificate(json_string_value(cert), dir, err)))
		return -1;
	arr = json_object_get(o, "redirect_uris");
	a->redirects = xcalloc(json_array_size(arr) + 1, sizeof *a->redirects);
	json_array_foreach(arr, j, v)
	{
		struct sim_redirect *r = &a->redirects[a->nredirects++];
		r->uri = json_is_string(v) ? xstrdup(json_string_value(v)) : opt_str(v, "uri", "");
		r->type = json_is_string(v) ? xstrdup("web") : opt_str(v, "type", "web");
		sim_lower(r->type);
	}
	a->public_client = opt_bool(o, "public_client", false);
	a->app_permissions = str_list(json_object_get(o, "application_permissions"), false);
	a->delegated_permissions = str_list(json_object_get(o, "delegated_permissions"), false);
	a->admin_consent = opt_bool(o, "admin_consent", true);
	a->ews_allowed = opt_bool(o, "ews_allowed", true);
	a->scoped_mailboxes = str_list(json_object_get(o, "scoped_mailboxes"), true);
	return 0;
}

static int load_apps(struct sim *s, json_t *arr, const char *dir, struct error *err)
{
	size_t i;
	json_t *o;

	s->apps = xcalloc(json_array_size(arr) + 1, sizeof *s->apps);
	json_array_foreach(arr, i, o)
	{
		struct sim_app *a = &s->apps[s->napps++];
		if (load_app(s, a, o, dir, i, err) < 0)
			return -1;
		sim_map_put(s->app_by_id, a->client_id, a);
	}
	return 0;
}

static void add_domain_of(struct sim *s, const char *upn, struct sim_tenant *t)
{
	const char *at = strchr(upn, '@');

	if (at && !sim_map_get(s->tenant_by_key, at + 1))
		sim_map_put(s->tenant_by_key, at + 1, t);
}

static int load_users(struct sim *s, json_t *arr, struct error *err)
{
	size_t i;
	json_t *o;

	s->users = xcalloc(json_array_size(arr) + 1, sizeof *s->users);
	s->mailboxes = xcalloc(json_array_size(arr) + 1, sizeof *s->mailboxes);
	json_array_foreach(arr, i, o)
	{
		struct sim_user *u = &s->users[s->nusers];
		struct sim_tenant *t = tenant_ref(s, o);
		char oid[37];
		u->upn = opt_str(o, "upn", NULL);
		if (!u->upn || !strchr(u->upn, '@') || !t) {
			free(u->upn);
			return error_set(
			    err,
			    "fixture: users[%zu] needs \"upn\" (name@domain) and a known "
			    "\"tenant\"",
			    i);
		}
		s->nusers++;
		sim_lower(u->upn);
		uuid_v5(oid, "6ba7b811-9dad-11d1-80b4-00c04fd430c8", u->upn, strlen(u->upn));
		u->tenant_id = xstrdup(t->id);
		u->display_name = opt_str(o, "display_name", u->upn);
		u->object_id = opt_str(o, "object_id", oid);
		sim_lower(u->object_id);
		u->time_zone = opt_str(o, "time_zone", "UTC");
		u->has_mailbox = opt_bool(o, "mailbox", true);
		u->delegates = str_list(json_object_get(o, "delegates"), true);
		u->mail = opt_str(o, "mail", u->upn);
		sim_lower(u->mail);
		u->aliases = str_list(json_object_get(o, "aliases"), true);
		sim_map_put(s->user_by_key, u->upn, u);
		sim_map_put(s->user_by_key, u->object_id, u);
		add_domain_of(s, u->upn, t);
	}
	for (size_t k = 0; k < s->nusers; k++) {
		struct sim_mailbox *mb;
		if (!s->users[k].has_mailbox)
			continue;
		mb = &s->mailboxes[s->nmailboxes++];
		sim_mailbox_init(mb, &s->users[k]);
		s->users[k].mailbox = mb;
		sim_map_put(s->mailbox_by_smtp, s->users[k].mail, mb);
		for (size_t a = 0; s->users[k].aliases && s->users[k].aliases[a]; a++)
			sim_map_put(s->mailbox_by_smtp, s->users[k].aliases[a], mb);
	}
	return 0;
}

int sim_fixture_load(struct sim *s, const char *path, struct error *err)
{
	json_error_t jerr;
	json_t *root, *dcint;
	char *dir = NULL;
	int rc = -1;

	s->tenant_by_key = sim_map_new(NULL);
	s->app_by_id = sim_map_new(NULL);
	s->user_by_key = sim_map_new(NULL);
	s->mailbox_by_smtp = sim_map_new(NULL);
	if (path) {
		char *copy = xstrdup(path);
		dir = xstrdup(dirname(copy));
		free(copy);
		root = json_load_file(path, 0, &jerr);
	} else {
		root = json_loads(demo_fixture, 0, &jerr);
	}
	if (!root) {
		error_set(err, "fixture %s: line %d: %s", path ? path : "(built-in)", jerr.line,
		          jerr.text);
		goto out;
	}
	dcint = json_object_get(root, "device_code_interval");
	s->device_code_interval = json_is_integer(dcint) ? (int)json_integer_value(dcint) : 5;
	if (load_tenants(s, json_object_get(root, "tenants"), err) < 0 ||
	    load_apps(s, json_object_get(root, "apps"), dir, err) < 0 ||
	    load_users(s, json_object_get(root, "users"), err) < 0) {
		error_prefix(err, "%s: ", path ? path : "built-in fixture");
		goto out;
	}
	if (json_object_get(root, "onprem")) {
		char why[200];
		if (sim_onprem_load(s, json_object_get(root, "onprem"), why, sizeof why) < 0) {
			error_set(err, "%s: %s", path ? path : "built-in fixture", why);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	free(dir);
	return rc;
}

void sim_fixture_free(struct sim *s)
{
	sim_onprem_free(s);
	for (size_t i = 0; i < s->ntenants; i++) {
		free(s->tenants[i].id);
		free(s->tenants[i].domain);
	}
	for (size_t i = 0; i < s->napps; i++) {
		struct sim_app *a = &s->apps[i];
		for (size_t j = 0; j < a->nsecrets; j++) {
			free(a->secrets[j].id);
			free(a->secrets[j].value);
		}
		for (size_t j = 0; j < a->nredirects; j++) {
			free(a->redirects[j].uri);
			free(a->redirects[j].type);
		}
		free(a->client_id);
		free(a->tenant_id);
		free(a->name);
		free(a->secrets);
		free(a->cert_pem);
		free(a->redirects);
		free_list(a->app_permissions);
		free_list(a->delegated_permissions);
		free_list(a->scoped_mailboxes);
	}
	for (size_t i = 0; i < s->nmailboxes; i++) {
		sim_mailbox_clear(&s->mailboxes[i]);
		sim_map_free(s->mailboxes[i].index);
	}
	for (size_t i = 0; i < s->nusers; i++) {
		struct sim_user *u = &s->users[i];
		free(u->upn);
		free(u->mail);
		free_list(u->aliases);
		free(u->tenant_id);
		free(u->display_name);
		free(u->object_id);
		free(u->time_zone);
		free_list(u->delegates);
	}
	free(s->tenants);
	free(s->apps);
	free(s->users);
	free(s->mailboxes);
	sim_map_free(s->tenant_by_key);
	sim_map_free(s->app_by_id);
	sim_map_free(s->user_by_key);
	sim_map_free(s->mailbox_by_smtp);
}

bool sim_user_in_tenant(const struct sim_user *u, const struct sim_tenant *t)
{
	return u && t && strcmp(u->tenant_id, t->id) == 0;
}

/* ---- lookups (sim.h) ---- */

struct sim_tenant *sim_find_tenant(struct sim *s, const char *id_or_domain)
{
	char key[256];

	if (!id_or_domain || strlcpy_checked(key, id_or_domain, sizeof key) < 0)
		return NULL;
	sim_lower(key);
	return sim_map_get(s->tenant_by_key, key);
}

struct sim_app *sim_find_app(struct sim *s, const char *client_id)
{
	char key[64];

	if (!client_id || strlcpy_checked(key, client_id, sizeof key) < 0)
		return NULL;
	sim_lower(key);
	return sim_map_get(s->app_by_id, key);
}

/* alice@contoso.onmicrosoft.com finds alice@contoso.com: any verified domain of the same tenant. */
static void *find_by_alias(struct sim *s, struct sim_map *m, const char *key)
{
	const char *at = strchr(key, '@');
	struct sim_tenant *t;
	char alias[512];
	void *hit = NULL;

	if (!at || !(t = sim_map_get(s->tenant_by_key, at + 1)))
		return NULL;
	for (size_t i = 0; i < s->nusers && !hit; i++) {
		const char *uat = strchr(s->users[i].upn, '@');
		if (strcmp(s->users[i].tenant_id, t->id) != 0 || !uat ||
		    (size_t)(uat - s->users[i].upn) != (size_t)(at - key) ||
		    strncmp(s->users[i].upn, key, (size_t)(at - key)) != 0)
			continue;
		snprintf(alias, sizeof alias, "%s", s->users[i].upn);
		hit = sim_map_get(m, alias);
	}
	return hit;
}

struct sim_user *sim_find_user(struct sim *s, const char *upn_or_id)
{
	char key[320];
	struct sim_user *u;

	if (!upn_or_id || strlcpy_checked(key, upn_or_id, sizeof key) < 0)
		return NULL;
	sim_lower(key);
	u = sim_map_get(s->user_by_key, key);
	return u ? u : find_by_alias(s, s->user_by_key, key);
}

struct sim_user *sim_find_user_by_key(struct sim *s, const char *id_or_upn)
{
	char key[320];

	if (!id_or_upn || strlcpy_checked(key, id_or_upn, sizeof key) < 0)
		return NULL;
	sim_lower(key);
	return sim_map_get(s->user_by_key, key);
}

size_t sim_user_count(struct sim *s)
{
	return s->nusers;
}

struct sim_user *sim_user_at(struct sim *s, size_t i)
{
	return i < s->nusers ? &s->users[i] : NULL;
}

struct sim_mailbox *sim_mailbox_of(struct sim *s, const struct sim_user *u)
{
	(void)s; /* a scan of every mailbox per request made 100,000 mailboxes quadratic */
	return u && u->has_mailbox ? u->mailbox : NULL;
}

bool sim_user_has_address(const struct sim_user *u, const char *address)
{
	if (!u || !address)
		return false;
	if (strcasecmp(u->mail, address) == 0 || strcasecmp(u->upn, address) == 0)
		return true;
	for (size_t i = 0; u->aliases && u->aliases[i]; i++)
		if (strcasecmp(u->aliases[i], address) == 0)
			return true;
	return false;
}

struct sim_mailbox *sim_find_mailbox(struct sim *s, const char *smtp)
{
	char key[320];
	struct sim_mailbox *mb;

	if (!smtp || strlcpy_checked(key, smtp, sizeof key) < 0)
		return NULL;
	sim_lower(key);
	mb = sim_map_get(s->mailbox_by_smtp, key);
	return mb ? mb : find_by_alias(s, s->mailbox_by_smtp, key);
}
