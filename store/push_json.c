/* Push input as a JSON array or as NDJSON, through jansson. The array is decoded one element at a
 * time (JSON_DISABLE_EOF_CHECK), never as a whole: 100,000 records as jansson objects would not fit
 * the memory budget. */
#include "store/push_int.h"

#include <stdio.h>
#include <string.h>

#define JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY)

static const char *json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "true/false";
	default:
		return "null";
	}
}

/* jansson's message, told as what the user must fix. */
static void malformed(struct push_collector *pc, long record, const char *data, size_t off,
                      const json_error_t *je)
{
	long line, col;

	push_line_col(data, off, &line, &col);
	if (strncmp(je->text, "unable to decode byte", 21) == 0)
		push_problem(
		    pc, record, "",
		    "not valid UTF-8 at line %ld, column %ld (%s); the input must be UTF-8", line,
		    col, je->text);
	else
		push_problem(pc, record, "", "malformed JSON at line %ld, column %ld: %s", line,
		             col, je->text);
}

static void take_revision(const json_t *v, struct push_record *rec, struct push_collector *pc)
{
	if (json_is_integer(v)) {
		rec->revision = (int64_t)json_integer_value(v);
		return;
	}
	rec->v[F_REVISION].bad = true;
	if (json_is_string(v))
		push_problem(pc, rec->number, "revision",
		             "a string; expected a whole number >= 0 without quotes, like 3");
	else
		push_problem(pc, rec->number, "revision",
		             "%s; expected a whole number >= 0, like 3", json_type_word(v));
}

/* Fills rec from a decoded object. */
static void take_object(const json_t *obj, struct push_record *rec, struct push_collector *pc)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		rec->malformed = true;
		push_problem(pc, rec->number, "", "%s; expected a JSON object like {\"id\": ...}",
		             json_type_word(obj));
		return;
	}
	json_object_foreach((json_t *)obj, key, v)
	{
		int f = push_field_lookup(key, strlen(key));
		struct buf q = BUF_INIT;

		if (f < 0) {
			push_quote(&q, key, strlen(key));
			push_problem(pc, rec->number, key,
			             "unknown field %s; the fields are " PUSH_FIELD_LIST, q.data);
			buf_free(&q);
			continue;
		}
		if (json_is_null(v))
			continue; /* null: as if absent */
		rec->v[f].present = true;
		if (f == F_REVISION) {
			take_revision(v, rec, pc);
		} else if (json_is_string(v)) {
			rec->v[f].s = json_string_value(v);
			rec->v[f].len = json_string_length(v);
		} else {
			rec->v[f].bad = true;
			push_problem(pc, rec->number, key, "%s; expected a string",
			             json_type_word(v));
		}
	}
}

static size_t skip_space(const char *d, size_t len, size_t pos)
{
	while (pos < len && strchr(" \t\r\n", d[pos]) && d[pos])
		pos++;
	return pos;
}

/* After the element: ',' or ']'; anything else ends the input with a problem. */
static void after_element(struct push_reader *rd, struct push_collector *pc)
{
	json_error_t je = {.text = ""};

	rd->pos = skip_space(rd->data, rd->len, rd->pos);
	if (rd->pos < rd->len && rd->data[rd->pos] == ',') {
		rd->pos++;
		return;
	}
	rd->done = true;
	if (rd->pos < rd->len && rd->data[rd->pos] == ']') {
		rd->pos = skip_space(rd->data, rd->len, rd->pos + 1);
		if (rd->pos == rd->len)
			return;
		snprintf(je.text, sizeof je.text, "unexpected text after the closing ]");
	} else {
		snprintf(je.text, sizeof je.text, "expected , or ] after record %ld", rd->index);
	}
	malformed(pc, rd->index > 0 ? rd->index : 1, rd->data, rd->pos, &je);
}

/* Steps over the opening '['; false when there are no elements (or no array). */
static bool array_open(struct push_reader *rd, struct push_collector *pc)
{
	json_error_t je = {.text = ""};

	rd->opened = true;
	rd->pos = skip_space(rd->data, rd->len, rd->pos);
	if (rd->pos >= rd->len || rd->data[rd->pos] != '[') {
		rd->done = true;
		if (rd->pos >= rd->len)
			return false; /* empty input: no records */
		snprintf(je.text, sizeof je.text,
		         "expected a JSON array [{...}, ...] (for one object per line, use the "
		         "ndjson format)");
		malformed(pc, 1, rd->data, rd->pos, &je);
		return false;
	}
	rd->pos = skip_space(rd->data, rd->len, rd->pos + 1);
	if (rd->pos < rd->len && rd->data[rd->pos] == ']') {
		after_element(rd, pc);
		return false;
	}
	return true;
}

static int array_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc)
{
	json_error_t je;

	if (!rd->opened && !array_open(rd, pc))
		return 0;
	if (rd->done)
		return 0;
	rec->number = ++rd->index;
	rd->pos = skip_space(rd->data, rd->len, rd->pos);
	rd->cur = json_loadb(rd->data + rd->pos, rd->len - rd->pos,
	                     JSON_FLAGS | JSON_DISABLE_EOF_CHECK, &je);
	if (!rd->cur) {
		malformed(pc, rec->number, rd->data, rd->pos + (size_t)je.position, &je);
		rd->done = true; /* the rest cannot be told apart reliably */
		rec->malformed = true;
		return 1;
	}
	rd->pos += (size_t)je.position;
	take_object(rd->cur, rec, pc);
	after_element(rd, pc);
	return 1;
}

static int ndjson_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc)
{
	json_error_t je;

	while (rd->pos < rd->len) {
		const char *line = rd->data + rd->pos;
		const char *nl = memchr(line, '\n', rd->len - rd->pos);
		size_t n = nl ? (size_t)(nl - line) : rd->len - rd->pos;
		long number = rd->line;

		rd->pos += n + (nl != NULL);
		rd->line++;
		if (skip_space(line, n, 0) == n)
			continue; /* blank line */
		rec->number = number;
		rd->cur = json_loadb(line, n, JSON_FLAGS, &je);
		if (!rd->cur) {
			rec->malformed = true;
			push_problem(
			    pc, number, "", "%s at column %d: %s%s",
			    strncmp(je.text, "unable to decode byte", 21) == 0 ? "not valid UTF-8"
			                                                       : "malformed JSON",
			    je.column, je.text,
			    je.position >= (int)n ? " (NDJSON needs one whole object per line)"
			                          : "");
			return 1;
		}
		take_object(rd->cur, rec, pc);
		return 1;
	}
	return 0;
}

int json_reader_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc)
{
	if (rd->cur)
		json_decref(rd->cur);
	rd->cur = NULL;
	if (rd->format == PUSH_JSON)
		return array_next(rd, rec, pc);
	return ndjson_next(rd, rec, pc);
}
