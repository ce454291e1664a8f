/* Push input as CSV (RFC 4180): a header row naming the fields, then one leave per row. Quoted
 * fields may hold commas, doubled quotes and line breaks; LF or CRLF line ends. */
#include "store/push_int.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

enum row_result { ROW_END, ROW_OK, ROW_MALFORMED, ROW_FATAL };

void csv_reader_free(struct push_reader *rd)
{
	buf_free(&rd->row);
	free(rd->cell_off);
	free(rd->cell_len);
	free(rd->column);
	rd->cell_off = rd->cell_len = NULL;
	rd->column = NULL;
	rd->cell_cap = rd->ncells = rd->ncolumns = 0;
	memset(rd->missing, 0, sizeof rd->missing);
}

static void end_cell(struct push_reader *rd, size_t off)
{
	if (rd->ncells == rd->cell_cap) {
		rd->cell_cap = rd->cell_cap ? rd->cell_cap * 2 : 16;
		rd->cell_off = xrealloc(rd->cell_off, rd->cell_cap * sizeof *rd->cell_off);
		rd->cell_len = xrealloc(rd->cell_len, rd->cell_cap * sizeof *rd->cell_len);
	}
	rd->cell_off[rd->ncells] = off;
	rd->cell_len[rd->ncells] = rd->row.len - off;
	rd->ncells++;
	buf_append(&rd->row, "", 1); /* NUL between cells */
}

/* Skips the rest of a bad row's line. */
static enum row_result skip_line(struct push_reader *rd)
{
	const char *nl = memchr(rd->data + rd->pos, '\n', rd->len - rd->pos);

	rd->pos = nl ? (size_t)(nl - rd->data) + 1 : rd->len;
	if (nl)
		rd->line++;
	return ROW_MALFORMED;
}

static bool at_line_end(const struct push_reader *rd, size_t pos)
{
	return pos >= rd->len || rd->data[pos] == '\n' ||
	       (rd->data[pos] == '\r' && pos + 1 < rd->len && rd->data[pos + 1] == '\n');
}

/* Text inside quotes: line breaks count as lines, and CRLF becomes LF (a CSV written on Windows
 * has CRLF inside quoted fields too; a note keeps plain newlines). */
static void append_quoted_span(struct push_reader *rd, const char *s, size_t len)
{
	while (len > 0) {
		const char *cr = memchr(s, '\r', len);
		size_t n = cr ? (size_t)(cr - s) : len;

		buf_append(&rd->row, s, n);
		for (size_t i = 0; i < n; i++)
			rd->line += s[i] == '\n';
		if (!cr)
			return;
		if (!(n + 1 < len && cr[1] == '\n'))
			buf_append(&rd->row, "\r", 1); /* a lone CR stays (and is refused later) */
		s = cr + 1;
		len -= n + 1;
	}
}

/* A quoted cell starting at the opening quote. */
static enum row_result quoted_cell(struct push_reader *rd, long row_line, struct push_collector *pc)
{
	const char *d = rd->data;

	rd->pos++;
	for (;;) {
		const char *q = memchr(d + rd->pos, '"', rd->len - rd->pos);
		size_t end = q ? (size_t)(q - d) : rd->len;

		append_quoted_span(rd, d + rd->pos, end - rd->pos);
		if (!q) {
			push_problem(
			    pc, row_line, "",
			    "malformed CSV: a quoted field is never closed (its opening quote "
			    "is on line %ld); close it with \"",
			    row_line);
			return ROW_FATAL;
		}
		rd->pos = end + 1;
		if (rd->pos < rd->len && d[rd->pos] == '"') {
			buf_append(&rd->row, "\"", 1);
			rd->pos++;
			continue;
		}
		break;
	}
	if (rd->pos < rd->len && d[rd->pos] != ',' && !at_line_end(rd, rd->pos)) {
		push_problem(
		    pc, rd->line, "",
		    "malformed CSV: text after a closing quote; inside a quoted field, write "
		    "a quote as two quotes (\"\")");
		return skip_line(rd);
	}
	return ROW_OK;
}

static enum row_result plain_cell(struct push_reader *rd, struct push_collector *pc)
{
	const char *d = rd->data;
	size_t i = rd->pos;

	while (i < rd->len && d[i] != ',' && d[i] != '\n' && d[i] != '"' &&
	       !(d[i] == '\r' && at_line_end(rd, i)))
		i++;
	if (i < rd->len && d[i] == '"') {
		push_problem(
		    pc, rd->line, "",
		    "malformed CSV: a quote inside an unquoted field; quote the whole field "
		    "and write the quote as two quotes (\"\")");
		return skip_line(rd);
	}
	buf_append(&rd->row, d + rd->pos, i - rd->pos);
	rd->pos = i;
	return ROW_OK;
}

/* Reads one row into rd->row / cell_off / cell_len; *row_line is where it starts. */
static enum row_result parse_row(struct push_reader *rd, long *row_line, struct push_collector *pc)
{
	const char *d = rd->data;

	while (rd->pos < rd->len && at_line_end(rd, rd->pos)) { /* blank lines */
		rd->pos += d[rd->pos] == '\r' ? 2 : 1;
		rd->line++;
	}
	if (rd->pos >= rd->len)
		return ROW_END;
	*row_line = rd->line;
	buf_reset(&rd->row);
	rd->ncells = 0;
	for (;;) {
		size_t off = rd->row.len;
		enum row_result r =
		    d[rd->pos] == '"' ? quoted_cell(rd, *row_line, pc) : plain_cell(rd, pc);

		if (r != ROW_OK)
			return r;
		end_cell(rd, off);
		if (rd->pos < rd->len && d[rd->pos] == ',') {
			rd->pos++;
			if (rd->pos == rd->len) { /* "a,b," at the very end: an empty last cell */
				end_cell(rd, rd->row.len);
				return ROW_OK;
			}
			continue;
		}
		if (rd->pos < rd->len) { /* line end */
			rd->pos += d[rd->pos] == '\r' ? 2 : 1;
			rd->line++;
		}
		return ROW_OK;
	}
}

static const char *cell(const struct push_reader *rd, size_t i)
{
	return rd->row.data + rd->cell_off[i];
}

static void map_header(struct push_reader *rd, long line, struct push_collector *pc)
{
	bool seen[F_COUNT] = {false};

	rd->ncolumns = rd->ncells;
	rd->column = xcalloc(rd->ncolumns, sizeof *rd->column);
	for (size_t i = 0; i < rd->ncells; i++) {
		const char *name = cell(rd, i);
		size_t len = rd->cell_len[i];
		struct buf q = BUF_INIT;
		int f;

		while (len && (*name == ' ' || *name == '\t'))
			name++, len--;
		while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
			len--;
		f = push_field_lookup(name, len);
		rd->column[i] = f;
		push_quote(&q, name, len);
		if (f < 0)
			push_problem(pc, line, "",
			             "unknown column %s; the columns are " PUSH_FIELD_LIST, q.data);
		else if (seen[f])
			push_problem(pc, line, push_field_name((enum push_field)f),
			             "column %s appears twice in the header row", q.data);
		if (f >= 0 && seen[f])
			rd->column[i] = -1;
		if (f >= 0)
			seen[f] = true;
		buf_free(&q);
	}
	for (int f = 0; f < F_COUNT; f++) {
		if (seen[f] || !push_field_required((enum push_field)f))
			continue;
		rd->missing[f] = true;
		push_problem(
		    pc, line, push_field_name((enum push_field)f),
		    "missing column; the header row must name id, mailbox, kind, start, end "
		    "and status (revision, time_zone and note are optional)");
	}
}

static void take_revision(struct push_record *rec, const char *s, size_t len,
                          struct push_collector *pc)
{
	int64_t v = 0;
	bool ok = len > 0 && len <= 18;

	for (size_t i = 0; ok && i < len; i++) {
		ok = s[i] >= '0' && s[i] <= '9';
		v = v * 10 + (s[i] - '0');
	}
	if (ok) {
		rec->revision = v;
		return;
	}
	rec->v[F_REVISION].bad = true;
	push_problem(pc, rec->number, "revision",
	             "not a whole number; expected digits only, like 3 (at most 18 digits)");
}

static void fill_record(struct push_reader *rd, struct push_record *rec, struct push_collector *pc)
{
	for (int f = 0; f < F_COUNT; f++)
		rec->v[f].bad = rd->missing[f];
	for (size_t i = 0; i < rd->ncells; i++) {
		int f = rd->column[i];
		struct push_value *v;

		if (f < 0)
			continue;
		v = &rec->v[f];
		if (rd->cell_len[i] == 0 && !push_field_required((enum push_field)f))
			continue; /* an empty optional cell is an absent value */
		v->present = true;
		v->s = cell(rd, i);
		v->len = rd->cell_len[i];
		if (f == F_REVISION)
			take_revision(rec, v->s, v->len, pc);
	}
}

int csv_reader_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc)
{
	enum row_result r;
	long line = rd->line;

	if (rd->done)
		return 0;
	if (!rd->column) {
		r = parse_row(rd, &line, pc);
		if (r != ROW_OK) {
			rd->done = true;
			return 0;
		}
		map_header(rd, line, pc);
	}
	r = parse_row(rd, &line, pc);
	if (r == ROW_END || r == ROW_FATAL) {
		rd->done = true;
		return 0;
	}
	rec->number = line;
	if (r == ROW_MALFORMED) {
		rec->malformed = true;
		return 1;
	}
	if (rd->ncells != rd->ncolumns) {
		rec->malformed = true;
		push_problem(pc, line, "",
		             "%zu fields, but the header row has %zu; quote a field "
		             "that contains a comma",
		             rd->ncells, rd->ncolumns);
		return 1;
	}
	fill_record(rd, rec, pc);
	return 1;
}
