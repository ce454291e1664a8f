/* Private to the push files of store/: one record as read from any format, the readers that
 * produce records, the validator, and the problem list. */
#ifndef STORE_PUSH_INT_H
#define STORE_PUSH_INT_H

#include "common/buf.h"
#include "store/store.h"

#include <jansson.h>

enum push_field {
	F_ID,
	F_MAILBOX,
	F_KIND,
	F_START,
	F_END,
	F_STATUS,
	F_REVISION,
	F_TIME_ZONE,
	F_NOTE,
	F_COUNT
};

const char *push_field_name(enum push_field f);
int push_field_lookup(const char *name, size_t len); /* enum push_field, or -1 */
bool push_field_required(enum push_field f);
#define PUSH_FIELD_LIST "id, mailbox, kind, start, end, status, revision, time_zone, note"

/* One text value as given (not NUL-terminated in general). */
struct push_value {
	const char *s;
	size_t len;
	bool present; /* absent, null (JSON) or an empty optional cell (CSV): false */
	bool bad;     /* the reader already reported this field: the validator skips it */
};

/* One record: borrowed views into the reader's memory, valid until the next read. */
struct push_record {
	long number;    /* what push_problem.record says (index or line) */
	bool malformed; /* reported by the reader; nothing else to check */
	struct push_value v[F_COUNT];
	int64_t revision; /* when v[F_REVISION].present and !bad */
};

/* Problems and notices, with a cap so that a huge bad file stays bounded in memory. */
struct push_collector {
	struct push_report *report;
	size_t problem_cap, notice_cap;
	size_t problems_dropped, notices_dropped;
	long first_dropped;
};
void push_problem(struct push_collector *pc, long record, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void push_notice(struct push_collector *pc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void push_collector_finish(struct push_collector *pc); /* adds the "N more" lines */

/* Appends s[0..len) to b for a message: quoted, at most ~40 bytes, control bytes escaped. */
void push_quote(struct buf *b, const char *s, size_t len);

/* Readers: rewindable, so that the input is read once to validate and once to write. */
struct push_reader {
	enum push_format format;
	const char *data;
	size_t len, pos, start; /* start: after a byte-order mark */
	long line;              /* NDJSON, CSV: line at pos */
	long index;             /* JSON array: records read */
	bool done;
	bool opened; /* JSON array: past the '[' */
	json_t *cur; /* JSON: the current record */
	/* CSV */
	struct buf row; /* the cells of the current row, each NUL-terminated */
	size_t *cell_off, *cell_len;
	size_t cell_cap, ncells;
	int *column; /* column -> enum push_field, -1 unknown */
	size_t ncolumns;
	bool missing[F_COUNT]; /* required column absent from the header (reported once) */
};

/* Detects the format when PUSH_AUTO. */
enum push_format push_detect_format(const char *data, size_t len);
void push_reader_init(struct push_reader *rd, enum push_format f, const char *data, size_t len);
void push_reader_rewind(struct push_reader *rd);
void push_reader_free(struct push_reader *rd);
/* 1: *rec filled; 0: end of input; problems go to pc (with header=true problems only once). */
int push_reader_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc);

int json_reader_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc);
int csv_reader_next(struct push_reader *rd, struct push_record *rec, struct push_collector *pc);
void csv_reader_free(struct push_reader *rd);

/* Checks every field of a record that the reader did not already report. */
void push_validate(const struct push_record *rec, const struct push_options *opt,
                   struct push_collector *pc);

/* Line and column (1-based) of byte offset off in data. */
void push_line_col(const char *data, size_t off, long *line, long *col);

/* A set of strings with the record each was first seen at (push.c). */
struct strset_entry {
	char *s;
	long record;
};
struct strset {
	struct strset_entry *slots;
	size_t cap, n;
};
/* Adds s[0..len); returns 0, or the record where it was first added. */
long strset_add(struct strset *set, const char *s, size_t len, long record);
bool strset_has(const struct strset *set, const char *s);
void strset_free(struct strset *set);

/* ---- full snapshots (push_snapshot.c) ---- */
struct snapshot {
	const struct push_snapshot *opt;
	const struct strset *ids; /* the input's ids (filled by pass 1) */
	struct strset mailboxes;  /* the scope's addresses (listed, or those of the input) */
	bool from_input;          /* no scope option: the input's mailboxes are the scope */
	char **cancel;            /* approved leave of the scope absent from the input */
	size_t ncancel, cancel_cap;
	int64_t in_scope; /* approved leave of the scope before the push */
	struct {          /* today in a zone, the last few asked */
		char zone[64];
		char day[11];
	} today[8];
	size_t ntoday;
	int64_t now;
};
void snapshot_init(struct snapshot *sn, const struct push_snapshot *opt, const struct strset *ids);
void snapshot_free(struct snapshot *sn);
/* Pass 1: a record whose mailbox is outside an explicit scope is a problem; without one, its
 * mailbox joins the scope. problems_before: the report's problem count before this record. */
void snapshot_check_record(struct snapshot *sn, const struct push_record *rec,
                           struct push_collector *pc, size_t problems_before);
/* report->scope, scope_mailboxes and scope_empty. */
void snapshot_describe(const struct snapshot *sn, struct push_report *report);
/* Inside the push's transaction, before the upserts: counts the scope's approved leave and
 * collects those the input does not hold. */
int snapshot_plan(struct store *st, struct snapshot *sn, struct push_collector *pc,
                  struct error *err);
/* After the upserts: cancels them (status cancelled, revision kept), one notice each. */
int snapshot_cancel(struct store *st, struct snapshot *sn, struct push_collector *pc,
                    const char *now, struct error *err);
/* The safety valve: -1 with report->blocked and err naming the numbers and the scope. */
int snapshot_valve(const struct snapshot *sn, struct push_collector *pc, struct error *err);

#endif
