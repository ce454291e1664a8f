/* Validation of one pushed record: the rules of docs/store.md, each with a reason that says what is
 * expected. Format-specific problems (malformed input, wrong JSON types) are the readers'. */
#include "store/push_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_ID_BYTES 255
#define MAX_KIND_BYTES 255
#define MAX_MAILBOX_BYTES 254 /* RFC 5321 path limit */
#define MAX_TZ_BYTES 64
#define DEFAULT_MAX_NOTE 4096
#define DEFAULT_MAX_DAYS 366

static const char *const field_names[F_COUNT] = {
    "id", "mailbox", "kind", "start", "end", "status", "revision", "time_zone", "note",
};

const char *push_field_name(enum push_field f)
{
	return (unsigned)f < F_COUNT ? field_names[f] : "";
}

int push_field_lookup(const char *name, size_t len)
{
	for (int i = 0; i < F_COUNT; i++)
		if (strlen(field_names[i]) == len && memcmp(field_names[i], name, len) == 0)
			return i;
	return -1;
}

bool push_field_required(enum push_field f)
{
	return f != F_REVISION && f != F_TIME_ZONE && f != F_NOTE;
}

void push_line_col(const char *data, size_t off, long *line, long *col)
{
	const char *nl = NULL;

	*line = 1;
	for (size_t i = 0; i < off; i++)
		if (data[i] == '\n') {
			(*line)++;
			nl = data + i;
		}
	*col = (long)(data + off - (nl ? nl + 1 : data)) + 1;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid (overlong, surrogate,
 * >U+10FFFF, truncated). */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void push_quote(struct buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	buf_puts(b, "'");
	while (i < len) {
		size_t n = utf8_seq(u + i, len - i);

		if (i >= 40) {
			buf_puts(b, "...");
			break;
		}
		if (n == 0 || u[i] < 0x20 || u[i] == 0x7f) {
			buf_printf(b, "\\x%02x", u[i]);
			n = 1;
		} else {
			buf_append(b, s + i, n);
		}
		i += n;
	}
	buf_puts(b, "'");
}

/* The quoted value in a small buffer, for a reason. */
static const char *quoted(struct buf *b, const struct push_value *v)
{
	buf_reset(b);
	push_quote(b, v->s, v->len);
	return b->data;
}

/* UTF-8 and control characters, for every text field. Returns false when reported. */
static bool check_text(const struct push_value *v, enum push_field f, long rec,
                       struct push_collector *pc)
{
	const unsigned char *u = (const unsigned char *)v->s;

	for (size_t i = 0; i < v->len;) {
		size_t n = utf8_seq(u + i, v->len - i);
		unsigned c = u[i];

		if (n == 0) {
			push_problem(
			    pc, rec, push_field_name(f),
			    "not valid UTF-8 (byte 0x%02x at offset %zu); the input must be "
			    "UTF-8 text",
			    c, i);
			return false;
		}
		if ((c < 0x20 || c == 0x7f || (n == 2 && c == 0xc2 && u[i + 1] < 0xa0)) &&
		    !(f == F_NOTE && (c == '\t' || c == '\n'))) {
			push_problem(pc, rec, push_field_name(f),
			             "contains a control character (U+%04X at offset %zu); %s",
			             n == 2 ? (unsigned)u[i + 1] : c, i,
			             f == F_NOTE ? "only tab and newline are allowed in a note"
			                         : "control characters are not allowed here");
			return false;
		}
		i += n;
	}
	return true;
}

static bool valid_local_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),:;<>[\\]@", c);
}

static bool valid_domain(const char *d, size_t len)
{
	size_t label = 0, labels = 0, last_start = 0;

	if (len == 0 || d[0] == '.' || d[len - 1] == '.' || d[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			labels++;
			last_start = i + 1;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	/* a dot, and a top-level domain of at least two characters that is not all digits */
	return labels >= 1 && len - last_start >= 2 &&
	       strspn(d + last_start, "0123456789") < len - last_start;
}

static bool valid_mailbox(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	size_t local;

	if (!at || len > MAX_MAILBOX_BYTES)
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.')
		return false;
	for (size_t i = 0; i < local; i++)
		if (!valid_local_char((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
			return false;
	return valid_domain(at + 1, len - local - 1);
}

struct when {
	bool timed;
	long days;    /* days since 1970-01-01 */
	long minutes; /* minutes since midnight */
};

static int digits(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Howard Hinnant's days_from_civil. */
static long days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* 0 ok; -1 not of either form; -2 of a form but not a real date or time. */
static int parse_when(const char *s, size_t len, struct when *w)
{
	int y, mo, d, h = 0, mi = 0;

	if ((len != 10 && len != 16) || s[4] != '-' || s[7] != '-')
		return -1;
	if (len == 16 && (s[10] != 'T' || s[13] != ':'))
		return -1;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	if (len == 16) {
		h = digits(s + 11, 2);
		mi = digits(s + 14, 2);
	}
	if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59)
		return -2;
	w->timed = len == 16;
	w->days = days_from_civil(y, mo, d);
	w->minutes = h * 60 + mi;
	return 0;
}

static bool check_when(const struct push_value *v, enum push_field f, long rec, struct when *w,
                       struct push_collector *pc, struct buf *q)
{
	int rc = parse_when(v->s, v->len, w);

	if (rc == 0 &&
	    (memcmp(v->s, LEAVE_FIRST_DATE, 10) < 0 || memcmp(v->s, LEAVE_LAST_DATE, 10) > 0)) {
		/* an HR system's "9999-12-31" (no end) or "0001-01-01" (no start) lands here */
		push_problem(pc, rec, push_field_name(f),
		             "%s is outside the dates leavesync supports, " LEAVE_FIRST_DATE
		             " to " LEAVE_LAST_DATE "; give the leave's real dates",
		             quoted(q, v));
		return false;
	}
	if (rc == 0)
		return true;
	push_problem(pc, rec, push_field_name(f),
	             "%s %s; expected YYYY-MM-DD (all day) or YYYY-MM-DDTHH:MM (part of a day)",
	             quoted(q, v), rc == -2 ? "is not a real date or time" : "is not a date");
	return false;
}

/* A part-day time inside a daylight-saving gap does not exist (docs/store.md): refused, naming the
 * zone and the jump. A time the clocks repeat is accepted: it means its first occurrence. */
static void check_gaps(const struct push_record *rec, const struct push_options *opt,
                       struct push_collector *pc)
{
	const struct push_value *z = &rec->v[F_TIME_ZONE];
	char zone[MAX_TZ_BYTES + 1], local[17], from[6], to[6];

	if (!opt->local_time_gap ||
	    (z->present && (z->bad || z->len == 0 || z->len > MAX_TZ_BYTES)))
		return;
	if (z->present) {
		memcpy(zone, z->s, z->len);
		zone[z->len] = '\0';
	} else {
		snprintf(zone, sizeof zone, "%s",
		         opt->default_time_zone ? opt->default_time_zone : "UTC");
	}
	if (opt->tz_known && !opt->tz_known(zone))
		return; /* reported as an unknown zone */
	for (int f = F_START; f <= F_END; f++) {
		const struct push_value *v = &rec->v[f];
		if (v->len != 16)
			continue;
		memcpy(local, v->s, 16);
		local[16] = '\0';
		if (opt->local_time_gap(local, zone, from, to) == 1)
			push_problem(pc, rec->number, push_field_name((enum push_field)f),
			             "%s: this local time does not exist in %s on %.10s (clocks go "
			             "forward from %s to %s); choose a time before or after",
			             local, zone, local, from, to);
	}
}

static void check_period(const struct push_record *rec, const struct push_options *opt,
                         struct push_collector *pc, struct buf *q)
{
	const struct push_value *sv = &rec->v[F_START], *ev = &rec->v[F_END];
	int max_days = opt->max_leave_days > 0 ? opt->max_leave_days : DEFAULT_MAX_DAYS;
	struct when s, e;
	long span;
	bool ok_s, ok_e;

	if (!sv->present || sv->bad || !ev->present || ev->bad)
		return;
	ok_s = check_when(sv, F_START, rec->number, &s, pc, q);
	ok_e = check_when(ev, F_END, rec->number, &e, pc, q);
	if (!ok_s || !ok_e)
		return;
	if (s.timed != e.timed) {
		push_problem(pc, rec->number, "end",
		             "end is %s but start is %s; use the same form for both (YYYY-MM-DD or "
		             "YYYY-MM-DDTHH:MM)",
		             e.timed ? "a date-time" : "a date",
		             s.timed ? "a date-time" : "a date");
		return;
	}
	span = (e.days - s.days) * 1440 + (e.minutes - s.minutes);
	if (s.timed ? span <= 0 : span < 0) {
		push_problem(pc, rec->number, "end", "%.*s is %s start %.*s; %s", (int)ev->len,
		             ev->s, span < 0 ? "before" : "the same as", (int)sv->len, sv->s,
		             s.timed
		                 ? "a part-day leave must end after it starts"
		                 : "end is the last day of leave (inclusive), on or after start");
		return;
	}
	if (s.timed)
		check_gaps(rec, opt, pc);
	if (!s.timed)
		span += 1440; /* the last day counts */
	if (span > (long)max_days * 1440)
		push_problem(pc, rec->number, "end",
		             "the leave lasts %ld days, longer than the limit of %d days ([sync] "
		             "max_leave_days)",
		             (span + 1439) / 1440, max_days);
}

static void check_fields(const struct push_record *rec, const struct push_options *opt,
                         struct push_collector *pc, struct buf *q)
{
	const struct push_value *v = rec->v;
	size_t max_note = opt->max_note_bytes ? opt->max_note_bytes : DEFAULT_MAX_NOTE;
	long r = rec->number;

	if (v[F_ID].present && !v[F_ID].bad) {
		if (v[F_ID].len == 0)
			push_problem(pc, r, "id", "empty; expected HR's identifier of this leave");
		else if (v[F_ID].len > MAX_ID_BYTES)
			push_problem(pc, r, "id", "longer than %d bytes", MAX_ID_BYTES);
	}
	if (v[F_MAILBOX].present && !v[F_MAILBOX].bad &&
	    !valid_mailbox(v[F_MAILBOX].s, v[F_MAILBOX].len))
		push_problem(pc, r, "mailbox",
		             "%s is not a valid mailbox address; expected name@domain.tld",
		             quoted(q, &v[F_MAILBOX]));
	if (v[F_KIND].present && !v[F_KIND].bad) {
		if (v[F_KIND].len == 0)
			push_problem(pc, r, "kind",
			             "empty; expected the kind of leave, like "
			             "\"Annual leave\"");
		else if (v[F_KIND].len > MAX_KIND_BYTES)
			push_problem(pc, r, "kind", "longer than %d bytes", MAX_KIND_BYTES);
	}
	if (v[F_STATUS].present && !v[F_STATUS].bad &&
	    !(v[F_STATUS].len == 8 && memcmp(v[F_STATUS].s, "approved", 8) == 0) &&
	    !(v[F_STATUS].len == 9 && memcmp(v[F_STATUS].s, "cancelled", 9) == 0))
		push_problem(pc, r, "status",
		             "%s is not a known status; expected approved or "
		             "cancelled",
		             quoted(q, &v[F_STATUS]));
	if (v[F_REVISION].present && !v[F_REVISION].bad && rec->revision < 0)
		push_problem(pc, r, "revision", "%lld is negative; expected a whole number >= 0",
		             (long long)rec->revision);
	if (v[F_TIME_ZONE].present && !v[F_TIME_ZONE].bad) {
		char tz[MAX_TZ_BYTES + 1];
		const struct push_value *t = &v[F_TIME_ZONE];

		if (t->len == 0 || t->len > MAX_TZ_BYTES ||
		    (memcpy(tz, t->s, t->len), tz[t->len] = '\0',
		     opt->tz_known && !opt->tz_known(tz)))
			push_problem(pc, r, "time_zone",
			             "%s is not a known IANA time zone; expected a name like "
			             "Europe/Riga or UTC",
			             quoted(q, t));
	}
	if (v[F_NOTE].present && !v[F_NOTE].bad && v[F_NOTE].len > max_note)
		push_problem(pc, r, "note", "%zu bytes, longer than the limit of %zu bytes",
		             v[F_NOTE].len, max_note);
	check_period(rec, opt, pc, q);
}

void push_validate(const struct push_record *rec, const struct push_options *opt,
                   struct push_collector *pc)
{
	struct push_record r = *rec;
	struct buf q = BUF_INIT;

	if (rec->malformed)
		return;
	for (int f = 0; f < F_COUNT; f++) {
		struct push_value *v = &r.v[f];

		if (!v->present && !v->bad && push_field_required((enum push_field)f))
			push_problem(pc, r.number, push_field_name((enum push_field)f),
			             "missing; required fields are id, mailbox, kind, start, end, "
			             "status");
		if (v->present && !v->bad && f != F_REVISION && !check_text(v, f, r.number, pc))
			v->bad = true;
	}
	check_fields(&r, opt, pc, &q);
	buf_free(&q);
}
