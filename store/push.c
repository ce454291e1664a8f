/* store_push: read and validate the whole input, then write it in one transaction.
 * The input is read twice (validate, then write) instead of being kept as records, so that memory
 * stays bounded: only the set of ids lives across records. */
#include "store/push_int.h"
#include "store/store_int.h"

#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTED 1000 /* problems or notices kept; the rest are counted */

/* ---- problems and notices ---- */

void push_problem(struct push_collector *pc, long record, const char *field, const char *fmt, ...)
{
	struct push_report *r = pc->report;
	struct push_problem *p;
	va_list ap;

	if (r->nproblems >= MAX_LISTED) {
		if (pc->problems_dropped++ == 0)
			pc->first_dropped = record;
		return;
	}
	if (r->nproblems == pc->problem_cap) {
		pc->problem_cap = pc->problem_cap ? pc->problem_cap * 2 : 16;
		r->problems = xrealloc(r->problems, pc->problem_cap * sizeof *r->problems);
	}
	p = &r->problems[r->nproblems++];
	p->record = record;
	snprintf(p->field, sizeof p->field, "%s", field);
	for (char *c = p->field; *c; c++) /* a field name from the input: keep the line printable */
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	va_start(ap, fmt);
	vsnprintf(p->reason, sizeof p->reason, fmt, ap);
	va_end(ap);
}

void push_notice(struct push_collector *pc, const char *fmt, ...)
{
	struct push_report *r = pc->report;
	struct buf b = BUF_INIT;
	va_list ap;
	char tmp[512];

	if (r->nnotices >= MAX_LISTED) {
		pc->notices_dropped++;
		return;
	}
	if (r->nnotices + 1 >= pc->notice_cap) {
		pc->notice_cap = pc->notice_cap ? pc->notice_cap * 2 : 16;
		r->notices = xrealloc(r->notices, pc->notice_cap * sizeof *r->notices);
	}
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	buf_puts(&b, tmp);
	r->notices[r->nnotices++] = buf_steal(&b);
	r->notices[r->nnotices] = NULL;
}

void push_collector_finish(struct push_collector *pc)
{
	struct push_report *r = pc->report;

	if (pc->problems_dropped) {
		/* one slot past the cap, for this line */
		r->problems = xrealloc(r->problems, (r->nproblems + 1) * sizeof *r->problems);
		pc->problem_cap = r->nproblems + 1;
		r->problems[r->nproblems].record = pc->first_dropped;
		r->problems[r->nproblems].field[0] = '\0';
		snprintf(r->problems[r->nproblems].reason, sizeof r->problems[0].reason,
		         "and %zu more problems from here on (only the first %d are listed)",
		         pc->problems_dropped, MAX_LISTED);
		r->nproblems++;
	}
	if (pc->notices_dropped) {
		char tmp[128];

		snprintf(tmp, sizeof tmp, "and %zu more notices like these", pc->notices_dropped);
		r->notices = xrealloc(r->notices, (r->nnotices + 2) * sizeof *r->notices);
		r->notices[r->nnotices++] = xstrdup(tmp);
		r->notices[r->nnotices] = NULL;
	}
}

void push_report_free(struct push_report *r)
{
	if (!r)
		return;
	free(r->problems);
	for (size_t i = 0; i < r->nnotices; i++)
		free(r->notices[i]);
	free(r->notices);
	memset(r, 0, sizeof *r);
}

/* ---- readers ---- */

static size_t skip_bom(const char *data, size_t len)
{
	return len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
}

enum push_format push_detect_format(const char *data, size_t len)
{
	for (size_t i = skip_bom(data, len); i < len; i++) {
		if (data[i] == '[')
			return PUSH_JSON;
		if (data[i] == '{')
			return PUSH_NDJSON;
		if (!data[i] || !strchr(" \t\r\n", data[i]))
			break;
	}
	return PUSH_CSV;
}

void push_reader_init(struct push_reader *rd, enum push_format f, const char *data, size_t len)
{
	memset(rd, 0, sizeof *rd);
	rd->format = f == PUSH_AUTO ? push_detect_format(data, len) : f;
	rd->data = data;
	rd->len = len;
	rd->start = skip_bom(data, len);
	push_reader_rewind(rd);
}

void push_reader_rewind(struct push_reader *rd)
{
	if (rd->cur)
		json_decref(rd->cur);
	rd->cur = NULL;
	rd->pos = rd->start;
	rd->line = 1;
	rd->index = 0;
	rd->done = false;
	rd->opened = false;
	csv_reader_free(rd);
}

void push_reader_free(struct push_reader *rd)
{
	if (rd->cur)
		json_decref(rd->cur);
	rd->cur = NULL;
	csv_reader_free(rd);
}

int push_reader_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc)
{
	memset(rec, 0, sizeof *rec);
	if (rd->format == PUSH_CSV)
		return csv_reader_next(rd, rec, pc);
	return json_reader_next(rd, rec, pc);
}

/* ---- sets of strings: an open-addressing hash set of (text, first record) ---- */

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct strset_entry *strset_slot(struct strset_entry *slots, size_t cap, const char *s,
                                        size_t len)
{
	size_t i = hash_bytes(s, len) & (cap - 1);

	while (slots[i].s && !(strlen(slots[i].s) == len && memcmp(slots[i].s, s, len) == 0))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void strset_grow(struct strset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 1024;
	struct strset_entry *slots = xcalloc(cap, sizeof *slots);

	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i].s)
			*strset_slot(slots, cap, set->slots[i].s, strlen(set->slots[i].s)) =
			    set->slots[i];
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
}

long strset_add(struct strset *set, const char *s, size_t len, long record)
{
	struct strset_entry *e;

	if ((set->n + 1) * 10 >= set->cap * 7)
		strset_grow(set);
	e = strset_slot(set->slots, set->cap, s, len);
	if (e->s)
		return e->record;
	e->s = xstrndup(s, len);
	e->record = record;
	set->n++;
	return 0;
}

bool strset_has(const struct strset *set, const char *s)
{
	return set->cap && strset_slot(set->slots, set->cap, s, strlen(s))->s != NULL;
}

void strset_free(struct strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i].s);
	free(set->slots);
	memset(set, 0, sizeof *set);
}

/* ---- pass 1: validate ---- */

static const char *record_word(enum push_format f)
{
	return f == PUSH_JSON ? "record" : "line";
}

static void check_duplicate(struct strset *ids, const struct push_record *rec,
                            struct push_collector *pc, enum push_format f)
{
	const struct push_value *id = &rec->v[F_ID];
	struct buf q = BUF_INIT;
	long first;

	if (rec->malformed || !id->present || id->bad || id->len == 0 || id->len > 255)
		return;
	first = strset_add(ids, id->s, id->len, rec->number);
	if (first) {
		push_quote(&q, id->s, id->len);
		push_problem(pc, rec->number, "id",
		             "duplicate id %s (first at %s %ld); each id may appear once per push",
		             q.data, record_word(f), first);
		buf_free(&q);
	}
}

/* Pass 1: every record checked; the ids (for duplicates and a snapshot) kept in ids. */
static void validate_all(struct push_reader *rd, const struct push_options *opt,
                         struct push_collector *pc, struct strset *ids, struct snapshot *snap)
{
	struct push_record rec;

	while (push_reader_next(rd, &rec, pc) > 0) {
		size_t before = pc->report->nproblems;
		if (opt->max_records && pc->report->records == opt->max_records) {
			/* the rest is not read: memory (the id set) stays bounded too */
			push_problem(pc, rec.number, "",
			             "more than %zu records, the limit of one push ([limits] "
			             "push_records); split the input or raise the limit",
			             opt->max_records);
			break;
		}
		pc->report->records++;
		push_validate(&rec, opt, pc);
		check_duplicate(ids, &rec, pc, rd->format);
		if (opt->snapshot.enabled)
			snapshot_check_record(snap, &rec, pc, before);
	}
}

/* ---- pass 2: write ---- */

struct writer {
	struct store *st;
	sqlite3_stmt *sel, *ins, *upd, *stale;
	char now[21];
	const char *default_tz;
};

static void bind_value(sqlite3_stmt *s, int idx, const struct push_value *v)
{
	if (v->present && v->len > 0)
		sqlite3_bind_text(s, idx, v->s, (int)v->len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, idx);
}

/* Does column col of the stored row equal the value (NULL-aware)? */
static bool same_text(sqlite3_stmt *s, int col, const char *v, size_t len, bool null)
{
	const char *t = (const char *)sqlite3_column_text(s, col);

	if (!t)
		return null;
	return !null && (size_t)sqlite3_column_bytes(s, col) == len && memcmp(t, v, len) == 0;
}

/* The values as stored: mailbox lower-cased, time zone defaulted, empty note as NULL. */
struct row {
	const struct push_value *v;
	char mailbox[256];
	const char *tz;
	size_t tz_len;
	int64_t revision;
};

static void make_row(const struct writer *w, const struct push_record *rec, struct row *row)
{
	const struct push_value *mb = &rec->v[F_MAILBOX];

	row->v = rec->v;
	for (size_t i = 0; i < mb->len && i < sizeof row->mailbox - 1; i++)
		row->mailbox[i] =
		    (char)((mb->s[i] >= 'A' && mb->s[i] <= 'Z') ? mb->s[i] + 32 : mb->s[i]);
	row->mailbox[mb->len < sizeof row->mailbox ? mb->len : sizeof row->mailbox - 1] = '\0';
	if (rec->v[F_TIME_ZONE].present) {
		row->tz = rec->v[F_TIME_ZONE].s;
		row->tz_len = rec->v[F_TIME_ZONE].len;
	} else {
		row->tz = w->default_tz;
		row->tz_len = strlen(w->default_tz);
	}
	row->revision = rec->v[F_REVISION].present ? rec->revision : 1;
}

static bool row_unchanged(sqlite3_stmt *sel, const struct row *r)
{
	static const int cols[] = {F_KIND, F_START, F_END, F_STATUS};
	const struct push_value *note = &r->v[F_NOTE];

	if (!same_text(sel, 0, r->mailbox, strlen(r->mailbox), false) ||
	    !same_text(sel, 4, r->tz, r->tz_len, false) ||
	    !same_text(sel, 6, note->s, note->len, !note->present || note->len == 0) ||
	    sqlite3_column_int64(sel, 7) != r->revision)
		return false;
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		const struct push_value *v = &r->v[cols[i]];
		int col = cols[i] == F_KIND ? 1 : cols[i] == F_START ? 2 : cols[i] == F_END ? 3 : 5;

		if (!same_text(sel, col, v->s, v->len, false))
			return false;
	}
	return true;
}

static int write_row(struct writer *w, sqlite3_stmt *s, const struct row *r)
{
	sqlite3_reset(s);
	bind_value(s, 1, &r->v[F_ID]);
	sqlite3_bind_text(s, 2, r->mailbox, -1, SQLITE_STATIC);
	bind_value(s, 3, &r->v[F_KIND]);
	bind_value(s, 4, &r->v[F_START]);
	bind_value(s, 5, &r->v[F_END]);
	sqlite3_bind_text(s, 6, r->tz, (int)r->tz_len, SQLITE_STATIC);
	bind_value(s, 7, &r->v[F_STATUS]);
	bind_value(s, 8, &r->v[F_NOTE]);
	sqlite3_bind_int64(s, 9, r->revision);
	sqlite3_bind_text(s, 10, w->now, -1, SQLITE_STATIC);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
}

/* Inserts, updates, or leaves the row alone (unchanged or stale). */
static int upsert(struct writer *w, const struct push_record *rec, enum push_format f,
                  struct push_collector *pc)
{
	struct push_report *rep = pc->report;
	struct row r;
	int rc;

	make_row(w, rec, &r);
	sqlite3_reset(w->sel);
	bind_value(w->sel, 1, &rec->v[F_ID]);
	rc = sqlite3_step(w->sel);
	if (rc == SQLITE_DONE) {
		rep->inserted++;
		return write_row(w, w->ins, &r);
	}
	if (rc != SQLITE_ROW)
		return -1;
	if (sqlite3_column_int64(w->sel, 7) > r.revision) {
		struct buf q = BUF_INIT;

		push_quote(&q, rec->v[F_ID].s, rec->v[F_ID].len);
		push_notice(pc, "%s %ld (%s): revision %lld is older than stored %lld: skipped",
		            record_word(f), rec->number, q.data, (long long)r.revision,
		            (long long)sqlite3_column_int64(w->sel, 7));
		buf_free(&q);
		rep->stale++;
		/* kept in the leave's story: "HR sent revision 2 after 5" explains a calendar */
		return write_row(w, w->stale, &r);
	}
	if (row_unchanged(w->sel, &r)) {
		rep->unchanged++;
		return 0;
	}
	rep->updated++;
	return write_row(w, w->upd, &r);
}

static int writer_prepare(struct writer *w, struct error *err)
{
	if (db_prepare(w->st,
	               "SELECT mailbox, kind, starts, ends, time_zone, status, note, revision"
	               " FROM leave WHERE id = ?1",
	               &w->sel, err) < 0 ||
	    db_prepare(
	        w->st,
	        "INSERT INTO leave (id, mailbox, kind, starts, ends, time_zone, status, note,"
	        " revision, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	        &w->ins, err) < 0 ||
	    db_prepare(w->st,
	               "UPDATE leave SET mailbox = ?2, kind = ?3, starts = ?4, ends = ?5,"
	               " time_zone = ?6, status = ?7, note = ?8, revision = ?9, updated_at = ?10"
	               " WHERE id = ?1",
	               &w->upd, err) < 0 ||
	    db_prepare(
	        w->st,
	        "INSERT INTO leave_revision (leave_id, mailbox, kind, starts, ends, time_zone,"
	        " status, note, revision, seen_at, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
	        " ?7, ?8, ?9, CAST(strftime('%s', ?10) AS INTEGER), 'stale')",
	        &w->stale, err) < 0)
		return -1;
	return 0;
}

static void writer_finalize(struct writer *w)
{
	db_finish(w->st, w->sel);
	db_finish(w->st, w->ins);
	db_finish(w->st, w->upd);
	db_finish(w->st, w->stale);
}

/* Pass 2, in one transaction: the snapshot's plan (what its scope holds before the push), the
 * upserts, the snapshot's cancellations and its safety valve; then commit, or roll back for a dry
 * run. Each revision written is marked with its source for the leave's story. */
static int write_all(struct store *st, struct push_reader *rd, const struct push_options *opt,
                     struct push_collector *pc, struct snapshot *snap, struct error *err)
{
	struct writer w = {.st = st};
	struct push_record rec;
	int64_t mark = 0;
	int rc = 0;

	w.default_tz = opt->default_time_zone ? opt->default_time_zone : "UTC";
	store_now_utc(w.now);
	if (db_tx_begin(st, err) < 0)
		return -1;
	if (writer_prepare(&w, err) < 0 || history_last_revision(st, &mark, err) < 0 ||
	    (opt->snapshot.enabled && snapshot_plan(st, snap, pc, err) < 0)) {
		writer_finalize(&w);
		db_tx_rollback(st);
		return -1;
	}
	while (rc == 0 && push_reader_next(rd, &rec, pc) > 0)
		rc = upsert(&w, &rec, rd->format, pc);
	writer_finalize(&w);
	if (rc < 0)
		db_error(st, err, "cannot write leave");
	else if (history_mark_source(st, mark, opt->source ? opt->source : "push", err) < 0 ||
	         history_last_revision(st, &mark, err) < 0)
		rc = -1;
	if (rc == 0 && opt->snapshot.enabled &&
	    (snapshot_cancel(st, snap, pc, w.now, err) < 0 ||
	     history_mark_source(st, mark, "snapshot", err) < 0 ||
	     snapshot_valve(snap, pc, err) < 0))
		rc = -1;
	if (rc < 0 || opt->dry_run) {
		db_tx_rollback(st);
		return rc;
	}
	return db_tx_commit(st, err);
}

static void reset_counts(struct push_report *r)
{
	r->inserted = r->updated = r->unchanged = r->stale = r->cancelled = 0;
}

int store_push(struct store *st, const char *data, size_t len, const struct push_options *opt,
               struct push_report *report, struct error *err)
{
	struct push_collector pc = {.report = report};
	struct strset ids = {0};
	struct snapshot snap;
	struct push_reader rd;
	int rc;

	memset(report, 0, sizeof *report);
	report->dry_run = opt->dry_run;
	push_reader_init(&rd, opt->format, data, len);
	report->format = rd.format;
	snapshot_init(&snap, &opt->snapshot, &ids);
	validate_all(&rd, opt, &pc, &ids, &snap);
	if (opt->snapshot.enabled)
		snapshot_describe(&snap, report);
	if (report->nproblems == 0 && pc.problems_dropped == 0) {
		push_reader_rewind(&rd);
		rc = write_all(st, &rd, opt, &pc, &snap, err);
		/* A failure leaves nothing written: no count may say otherwise. The valve's refusal
		 * keeps them: they are what the push would have done. */
		if (rc < 0 && !report->blocked) {
			reset_counts(report);
			for (size_t i = 0; i < report->nnotices; i++)
				free(report->notices[i]);
			report->nnotices = 0;
			if (report->notices)
				report->notices[0] = NULL;
		}
	} else {
		rc = -1;
	}
	push_collector_finish(&pc);
	push_reader_free(&rd);
	snapshot_free(&snap);
	strset_free(&ids);
	return rc;
}
