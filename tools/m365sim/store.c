/* m365sim store: mailbox items (an array per mailbox plus a hash by id), change keys, the JSON
 * dump, and --state persistence. */
#include "common/util.h"
#include "tools/m365sim/sim_core.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- mailboxes ---- */

void sim_mailbox_init(struct sim_mailbox *mb, struct sim_user *u)
{
	memset(mb, 0, sizeof *mb);
	mb->user = u;
	mb->index = sim_map_new(NULL);
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void free_props(struct sim_item *it)
{
	for (size_t i = 0; i < it->nprops; i++) {
		free(it->props[i].set_id);
		free(it->props[i].name);
		free(it->props[i].type);
		free(it->props[i].value);
	}
	free(it->props);
	it->props = NULL;
	it->nprops = 0;
}

static void item_free(struct sim_item *it)
{
	free(it->ews_id);
	free(it->immutable_id);
	free(it->change_key);
	free(it->folder);
	free(it->subject);
	free(it->body);
	free(it->body_type);
	free(it->start_tz);
	free(it->end_tz);
	free(it->show_as);
	free(it->sensitivity);
	free_strv(it->categories);
	free_props(it);
	free(it->transaction_id);
	free(it->item_class);
	free(it);
}

void sim_mailbox_clear(struct sim_mailbox *mb)
{
	for (size_t i = 0; i < mb->nitems; i++)
		item_free(mb->items[i]);
	free(mb->items);
	mb->items = NULL;
	mb->nitems = mb->cap = 0;
	mb->sync_seq = 0;
	if (mb->index)
		sim_map_clear(mb->index);
}

/* ---- items ---- */

static void set_str(char **field, const char *value)
{
	char *copy = xstrdup(value);

	free(*field);
	*field = copy;
}

static void new_change_key(struct sim_item *it)
{
	char *ck = sim_random_b64url("DwAAABYAAAA", 12);

	free(it->change_key);
	it->change_key = ck;
}

static void bump(struct sim_mailbox *mb, struct sim_item *it)
{
	it->change_seq = ++mb->sync_seq;
}

static void index_item(struct sim_mailbox *mb, struct sim_item *it)
{
	sim_map_put(mb->index, it->ews_id, it);
	sim_map_put(mb->index, it->immutable_id, it);
}

static void append_item(struct sim_mailbox *mb, struct sim_item *it)
{
	if (mb->nitems == mb->cap) {
		mb->cap = mb->cap ? mb->cap * 2 : 16;
		mb->items = xrealloc(mb->items, mb->cap * sizeof *mb->items);
	}
	mb->items[mb->nitems++] = it;
}

struct sim_item *sim_item_new(struct sim_mailbox *mb)
{
	struct sim_item *it = xcalloc(1, sizeof *it);

	/* Exchange ids are long opaque base64; ours use the URL-safe alphabet so that the same id
	 * works in Graph URLs. */
	it->ews_id = sim_random_b64url("AAMkAGI2", 36);
	it->immutable_id = sim_random_b64url("AAkALgAA", 36);
	new_change_key(it);
	it->version = 1;
	it->folder = xstrdup("calendar");
	it->subject = xstrdup("");
	it->body_type = xstrdup("Text");
	it->show_as = xstrdup("Busy");
	it->sensitivity = xstrdup("Normal");
	it->item_class = xstrdup("IPM.Appointment");
	it->created = it->modified = now_unix();
	append_item(mb, it);
	index_item(mb, it);
	bump(mb, it);
	return it;
}

void sim_item_touch(struct sim *s, struct sim_mailbox *mb, struct sim_item *it)
{
	new_change_key(it);
	it->version++;
	it->modified = sim_now(s);
	bump(mb, it);
}

struct sim_item *sim_item_by_id(struct sim_mailbox *mb, const char *id)
{
	struct sim_item *it = id ? sim_map_get(mb->index, id) : NULL;

	return it && !it->deleted ? it : NULL;
}

void sim_item_delete(struct sim_mailbox *mb, struct sim_item *it)
{
	if (it->deleted)
		return;
	it->deleted = true;
	sim_map_del(mb->index, it->ews_id);
	sim_map_del(mb->index, it->immutable_id);
	bump(mb, it);
}

void sim_item_move(struct sim_mailbox *mb, struct sim_item *it, const char *folder)
{
	sim_map_del(mb->index, it->ews_id);
	free(it->ews_id);
	it->ews_id = sim_random_b64url("AAMkAGI2", 36);
	set_str(&it->folder, folder);
	new_change_key(it);
	it->version++;
	index_item(mb, it);
	bump(mb, it);
}

char *sim_subject_stored(const char *subject)
{
	size_t chars = 0, i = 0, cut = 0;

	if (!subject)
		return NULL;
	for (; subject[i]; i++) {
		if (((unsigned char)subject[i] & 0xC0) == 0x80)
			continue; /* a continuation byte: same character */
		if (chars == 252)
			cut = i;
		chars++;
	}
	if (chars <= 255)
		return xstrdup(subject);
	char *out = xmalloc(cut + 4);
	memcpy(out, subject, cut);
	memcpy(out + cut, "...", 4);
	return out;
}

const char *sim_item_extprop(const struct sim_item *it, const char *set_id, const char *name)
{
	for (size_t i = 0; i < it->nprops; i++)
		if (strcasecmp(it->props[i].set_id, set_id) == 0 &&
		    strcmp(it->props[i].name, name) == 0)
			return it->props[i].value;
	return NULL;
}

/* ---- JSON ---- */

static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *jtime(int64_t t)
{
	char iso[21];

	format_utc(iso, t);
	return json_string(iso);
}

json_t *sim_item_dump(const struct sim_item *it)
{
	json_t *cats = json_array(), *props = json_array();

	for (size_t i = 0; it->categories && it->categories[i]; i++)
		json_array_append_new(cats, json_string(it->categories[i]));
	for (size_t i = 0; i < it->nprops; i++)
		json_array_append_new(
		    props, json_pack("{s:o,s:o,s:o,s:o}", "set_id", jstr(it->props[i].set_id),
		                     "name", jstr(it->props[i].name), "type",
		                     jstr(it->props[i].type), "value", jstr(it->props[i].value)));
	return json_pack(
	    "{s:o,s:o,s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o,s:o,s:o,s:b,s:i,"
	    "s:o,s:o,s:o,s:o,s:o,s:b,s:I}",
	    "ews_id", jstr(it->ews_id), "immutable_id", jstr(it->immutable_id), "change_key",
	    jstr(it->change_key), "version", (json_int_t)it->version, "folder", jstr(it->folder),
	    "subject", jstr(it->subject), "body", jstr(it->body), "body_type", jstr(it->body_type),
	    "start", jtime(it->start), "end", jtime(it->end), "start_tz", jstr(it->start_tz),
	    "end_tz", jstr(it->end_tz), "is_all_day", it->is_all_day, "show_as", jstr(it->show_as),
	    "sensitivity", jstr(it->sensitivity), "categories", cats, "reminder_is_set",
	    it->reminder_is_set, "reminder_minutes", it->reminder_minutes, "extended_properties",
	    props, "transaction_id", jstr(it->transaction_id), "item_class", jstr(it->item_class),
	    "created", jtime(it->created), "modified", jtime(it->modified), "deleted", it->deleted,
	    "change_seq", (json_int_t)it->change_seq);
}

json_t *sim_mailbox_dump(const struct sim_mailbox *mb)
{
	json_t *items = json_array();
	json_int_t tombstones = 0;

	for (size_t i = 0; i < mb->nitems; i++) {
		if (mb->items[i]->deleted)
			tombstones++;
		else
			json_array_append_new(items, sim_item_dump(mb->items[i]));
	}
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:o}", "mailbox", mb->user->mail, "display_name",
	                 mb->user->display_name, "time_zone", mb->user->time_zone, "sync_seq",
	                 (json_int_t)mb->sync_seq, "deleted_items", tombstones, "items", items);
}

static int apply_time(json_t *j, const char *key, int64_t *out, struct error *err)
{
	json_t *v = json_object_get(j, key);

	if (!v)
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (sim_parse_utc(json_string_value(v), out) < 0)
		return error_set(err, "\"%s\" must be a UTC time like \"2026-12-24T00:00:00Z\"",
		                 key);
	return 0;
}

static void apply_str(json_t *j, const char *key, char **field)
{
	json_t *v = json_object_get(j, key);

	if (json_is_string(v))
		set_str(field, json_string_value(v));
	else if (json_is_null(v)) {
		free(*field);
		*field = NULL;
	}
}

static void apply_props(json_t *arr, struct sim_item *it)
{
	size_t i;
	json_t *p;

	if (!json_is_array(arr))
		return;
	free_props(it);
	it->props = xcalloc(json_array_size(arr) + 1, sizeof *it->props);
	json_array_foreach(arr, i, p)
	{
		struct sim_extprop *e = &it->props[it->nprops];
		const char *set_id = json_string_value(json_object_get(p, "set_id"));
		const char *name = json_string_value(json_object_get(p, "name"));
		if (!set_id || !name)
			continue;
		e->set_id = xstrdup(set_id);
		sim_lower(e->set_id);
		e->name = xstrdup(name);
		e->type = xstrdup(json_string_value(json_object_get(p, "type")));
		if (!e->type)
			e->type = xstrdup("String");
		e->value = xstrdup(json_string_value(json_object_get(p, "value")));
		if (!e->value)
			e->value = xstrdup("");
		it->nprops++;
	}
}

static void apply_categories(json_t *arr, struct sim_item *it)
{
	size_t i, n = 0;
	json_t *c;

	if (!json_is_array(arr))
		return;
	free_strv(it->categories);
	it->categories = xcalloc(json_array_size(arr) + 1, sizeof *it->categories);
	json_array_foreach(arr, i, c)
	{
		if (json_is_string(c))
			it->categories[n++] = xstrdup(json_string_value(c));
	}
}

/* Fields a user (or a test) may set; shared by injection, edits and --state loading. */
static int apply_fields(struct sim_item *it, json_t *j, struct error *err)
{
	json_t *v;

	if (apply_time(j, "start", &it->start, err) < 0 || apply_time(j, "end", &it->end, err) < 0)
		return -1;
	apply_str(j, "subject", &it->subject);
	apply_str(j, "body", &it->body);
	apply_str(j, "body_type", &it->body_type);
	apply_str(j, "start_tz", &it->start_tz);
	apply_str(j, "end_tz", &it->end_tz);
	apply_str(j, "show_as", &it->show_as);
	apply_str(j, "sensitivity", &it->sensitivity);
	apply_str(j, "transaction_id", &it->transaction_id);
	apply_str(j, "item_class", &it->item_class);
	if (json_is_boolean(v = json_object_get(j, "is_all_day")))
		it->is_all_day = json_is_true(v);
	if (json_is_boolean(v = json_object_get(j, "reminder_is_set")))
		it->reminder_is_set = json_is_true(v);
	if (json_is_integer(v = json_object_get(j, "reminder_minutes")))
		it->reminder_minutes = (int)json_integer_value(v);
	apply_categories(json_object_get(j, "categories"), it);
	apply_props(json_object_get(j, "extended_properties"), it);
	if (it->end < it->start)
		return error_set(err, "\"end\" is before \"start\"");
	return 0;
}

int sim_item_apply_json(struct sim *s, struct sim_item *it, json_t *j, struct error *err)
{
	(void)s;
	return apply_fields(it, j, err);
}

int sim_item_load(struct sim_item *it, json_t *j, struct error *err)
{
	json_t *v;

	if (apply_fields(it, j, err) < 0)
		return -1;
	apply_str(j, "change_key", &it->change_key);
	apply_str(j, "folder", &it->folder);
	if (json_is_integer(v = json_object_get(j, "version")))
		it->version = json_integer_value(v);
	if (json_is_integer(v = json_object_get(j, "change_seq")))
		it->change_seq = json_integer_value(v);
	if (apply_time(j, "created", &it->created, err) < 0 ||
	    apply_time(j, "modified", &it->modified, err) < 0)
		return -1;
	it->deleted = json_is_true(json_object_get(j, "deleted"));
	return 0;
}

/* ---- --state ---- */

static json_t *mailbox_state(const struct sim_mailbox *mb)
{
	json_t *items = json_array();

	for (size_t i = 0; i < mb->nitems; i++)
		json_array_append_new(items, sim_item_dump(mb->items[i]));
	return json_pack("{s:I,s:o}", "sync_seq", (json_int_t)mb->sync_seq, "items", items);
}

int sim_state_save(struct sim *s, struct error *err)
{
	json_t *root, *mbs = json_object();
	char *key = sim_b64url_encode(s->hmac_key, sizeof s->hmac_key), *text;
	int rc;

	for (size_t i = 0; i < s->nmailboxes; i++)
		json_object_set_new(mbs, s->mailboxes[i].user->mail,
		                    mailbox_state(&s->mailboxes[i]));
	root = json_pack("{s:i,s:s,s:I,s:i,s:o,s:o}", "format", 1, "hmac_key", key, "clock_offset",
	                 (json_int_t)s->clock_offset, "token_lifetime", s->token_lifetime,
	                 "mailboxes", mbs, "identity", sim_identity_save(s));
	free(key);
	text = json_dumps(root, JSON_INDENT(1));
	json_decref(root);
	rc = write_file_atomic(s->state_path, text, strlen(text), 0600);
	free(text);
	if (rc < 0)
		return error_set(err, "cannot write state file %s: %s", s->state_path,
		                 strerror(errno));
	return 0;
}

static void load_item(struct sim_mailbox *mb, json_t *j)
{
	struct sim_item *it = xcalloc(1, sizeof *it);
	struct error err;

	it->ews_id = xstrdup(json_string_value(json_object_get(j, "ews_id")));
	it->immutable_id = xstrdup(json_string_value(json_object_get(j, "immutable_id")));
	if (!it->ews_id || !it->immutable_id || sim_item_load(it, j, &err) < 0) {
		item_free(it);
		return;
	}
	append_item(mb, it);
	if (!it->deleted)
		index_item(mb, it);
}

static void load_mailboxes(struct sim *s, json_t *mbs)
{
	const char *smtp;
	json_t *m;

	json_object_foreach(mbs, smtp, m)
	{
		struct sim_mailbox *mb = sim_find_mailbox(s, smtp);
		size_t i;
		json_t *it;
		if (!mb)
			continue; /* the fixture changed since: drop that mailbox's items */
		sim_mailbox_clear(mb);
		json_array_foreach(json_object_get(m, "items"), i, it)
		{
			load_item(mb, it);
		}
		mb->sync_seq = json_integer_value(json_object_get(m, "sync_seq"));
	}
}

int sim_state_load(struct sim *s, struct error *err)
{
	json_error_t jerr;
	json_t *root;
	unsigned char *key;
	size_t klen = 0;

	const char *k;

	if (access(s->state_path, F_OK) != 0)
		return 0; /* first run */
	root = json_load_file(s->state_path, 0, &jerr);
	if (!root) {
		return error_set(err, "state file %s: line %d: %s (delete it to start afresh)",
		                 s->state_path, jerr.line, jerr.text);
	}
	k = json_string_value(json_object_get(root, "hmac_key"));
	key = k ? sim_b64url_decode(k, strlen(k), &klen) : NULL;
	if (key && klen == sizeof s->hmac_key)
		memcpy(s->hmac_key, key, klen);
	free(key);
	s->clock_offset = json_integer_value(json_object_get(root, "clock_offset"));
	if (json_integer_value(json_object_get(root, "token_lifetime")) > 0)
		s->token_lifetime =
		    (int)json_integer_value(json_object_get(root, "token_lifetime"));
	load_mailboxes(s, json_object_get(root, "mailboxes"));
	sim_identity_load(s, json_object_get(root, "identity"));
	json_decref(root);
	return 0;
}
