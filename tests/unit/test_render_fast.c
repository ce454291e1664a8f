/* The direct VCALENDAR writer of engine/render.c against libical's serializer: render_leave must be
 * byte for byte render_leave_libical for every leave, policy and zone (random leaves with plain and
 * awkward text: commas, semicolons, backslashes, quotes, control characters, UTF-8, long lines).
 * And the direct reader of engine/event.c against libical's parser: event_from_vevent gives
 * exactly what event_from_vevent_libical gives, for every rendered text and for texts changed the
 * way another program might change them. */
#include "common/buf.h"
#include "common/util.h"
#include "engine/config.h"
#include "engine/event.h"
#include "engine/render.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <unistd.h>

#define LEAVES_PER_CONFIG 1500

static char tmpdir[] = "/tmp/test_render_fast.XXXXXX";

static const char *const configs[] = {
    "",
    "[event]\ncategories = Leave, Holiday\ninclude_note = true\n",
    "[event]\nsubject = {kind}: {note} ({id}, {mailbox})\ninclude_note = true\nreminder = 15\n"
    "categories = A, B-C,  E  ,\n",
    "[event]\nsubject = {note}\nsensitivity = personal\nshow_as = free\nreminder = 90\n",
    "[event]\nsubject = {kind} {id}\nsensitivity = normal\nshow_as = workingElsewhere\n"
    "reminder = 1440\n[kind \"Sick leave\"]\nsensitivity = confidential\nshow_as = tentative\n"
    "reminder = 0\ncategories = Sick\n",
    "[event]\nsubject = Out of office: {kind}, {note}\nshow_as = busy\ninclude_note = true\n"
    "time_zone = Asia/Kolkata\n",
};

static const char *const zones[] = {
    "UTC",
    "Europe/Riga",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Argentina/Buenos_Aires",
    "Etc/GMT+5",
    "Pacific/Chatham",
    "America/Port-au-Prince",
    "Asia/Calcutta",
    "",
    "Etc/UTC",
};

static const char *const kinds[] = {"Annual leave", "Sick leave", "Training", "Unpaid leave"};

/* Mostly plain text, sometimes every kind of awkward character, sometimes long. */
static char *random_text(unsigned *seed, size_t maxlen)
{
	static const char plain[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.";
	static const char *const odd[] = {",",  ";",    "\\",   "\"", ":",    "\t", "\n",
	                                  "\r", "\x01", "\x7f", "é",  "日本", "'",  "^",
	                                  "=",  "/",    "(",    ")",  "  "};
	size_t len = (size_t)rand_r(seed) % (maxlen + 1);
	int mode = rand_r(seed) % 4;
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < len; i++) {
		if (mode == 0 && rand_r(seed) % 8 == 0)
			buf_puts(&b, odd[rand_r(seed) % (int)(sizeof odd / sizeof odd[0])]);
		else
			buf_append(&b, &plain[rand_r(seed) % (int)(sizeof plain - 1)], 1);
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

static void random_times(unsigned *seed, char *starts, char *ends)
{
	int y = 2024 + rand_r(seed) % 5, m = 1 + rand_r(seed) % 12, d = 1 + rand_r(seed) % 28;
	int len = rand_r(seed) % 20;

	switch (rand_r(seed) % 3) {
	case 0:
		snprintf(starts, 20, "%04d-%02d-%02d", y, m, d);
		snprintf(ends, 20, "%04d-%02d-%02d", y, m, d + (len < 28 - d ? len : 0));
		break;
	case 1:
		snprintf(starts, 20, "%04d-%02d-%02dT%02d:%02d", y, m, d, rand_r(seed) % 12,
		         rand_r(seed) % 60);
		snprintf(ends, 20, "%04d-%02d-%02dT%02d:%02d", y, m, d, 12 + rand_r(seed) % 12,
		         rand_r(seed) % 60);
		break;
	default:
		snprintf(starts, 20, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, rand_r(seed) % 12,
		         rand_r(seed) % 60, rand_r(seed) % 60);
		snprintf(ends, 20, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, 28,
		         12 + rand_r(seed) % 12, rand_r(seed) % 60, rand_r(seed) % 60);
		break;
	}
}

static bool same_strings(char *const *a, char *const *b)
{
	size_t i = 0;

	for (; a && b && a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return (!a || !a[i]) && (!b || !b[i]);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field of the two events, exactly (not event_owned_equal's meaning). */
static bool same_event(const struct event *a, const struct event *b)
{
	return same_str(a->sync_key, b->sync_key) && same_str(a->subject, b->subject) &&
	       same_str(a->body, b->body) && a->all_day == b->all_day &&
	       !strcmp(a->start, b->start) && !strcmp(a->end, b->end) &&
	       !strcmp(a->time_zone, b->time_zone) && a->show_as == b->show_as &&
	       a->sensitivity == b->sensitivity && same_strings(a->categories, b->categories) &&
	       a->reminder_minutes == b->reminder_minutes;
}

/* Both readers on text: same result, same fields, same error. */
static bool readers_agree(const char *text)
{
	struct event a, b;
	struct error ea = {{0}}, eb = {{0}};
	int ra = event_from_vevent(text, &a, &ea), rb = event_from_vevent_libical(text, &b, &eb);
	bool same = ra == rb && (ra < 0 ? !strcmp(ea.msg, eb.msg) : same_event(&a, &b));

	if (!same)
		printf("# readers differ (%d/%d: %s / %s) on:\n%s\n", ra, rb, ea.msg, eb.msg, text);
	event_free(&a);
	event_free(&b);
	return same;
}

/* text changed the way another program (or a hand) might: a line dropped, doubled, lower-cased,
 * folded, a bare LF, a parameter, an alarm, a second event, trailing blanks, garbage. */
static char *mutate(const char *text, unsigned *seed)
{
	static const char *const inserts[] = {
	    "SUMMARY;LANGUAGE=en:Away\r\n",
	    "X-LEAVESYNC-TIME-ZONE:Europe/Riga\r\n",
	    "CLASS:PUBLIC\r\n",
	    "CATEGORIES:  x  \r\n",
	    "X-MICROSOFT-CDO-BUSYSTATUS:free\r\n",
	    "x-leavesync-sensitivity:normal\r\n",
	    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n",
	    "DTEND:20270101T000000Z\r\n",
	    "UID:\r\n",
	    "DESCRIPTION:a  \r\n",
	    "TRANSP:TRANSPARENT\r\n",
	    "DTSTART;TZID=\"Europe/Riga\":20270101T100000\r\n",
	    "BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n",
	    "X-LEAVESYNC-SENSITIVITY:Personal\r\n",
	    "SUMMARY:a\\,b\r\n",
	};
	size_t len = strlen(text), at;
	struct buf b = BUF_INIT;
	const char *line;

	/* a point at the start of a line inside the VEVENT */
	line = strstr(text, "BEGIN:VEVENT\r\n");
	if (!line)
		return xstrdup(text);
	line += 14;
	for (int skip = rand_r(seed) % 8;
	     skip > 0 && strstr(line, "\r\n") && strncmp(strstr(line, "\r\n") + 2, "END:", 4) != 0;
	     skip--)
		line = strstr(line, "\r\n") + 2;
	at = (size_t)(line - text);
	buf_append(&b, text, at);
	switch (rand_r(seed) % 8) {
	case 0: /* drop the line */
		buf_puts(&b, strstr(line, "\r\n") + 2);
		break;
	case 1: /* double it */
		buf_append(&b, line, (size_t)(strstr(line, "\r\n") + 2 - line));
		buf_puts(&b, line);
		break;
	case 2: /* lower-case its name */
		for (const char *p = line; *p && *p != ':' && *p != ';'; p++) {
			char c = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			buf_append(&b, &c, 1);
			line = p + 1;
		}
		buf_puts(&b, line);
		break;
	case 3: /* fold it after 3 characters */
		buf_append(&b, line, 3);
		buf_puts(&b, "\r\n ");
		buf_puts(&b, line + 3);
		break;
	case 4: /* a bare LF */
		buf_append(&b, line, (size_t)(strstr(line, "\r\n") - line));
		buf_puts(&b, strstr(line, "\r\n") + 1);
		break;
	case 5: /* garbage after the calendar */
		buf_puts(&b, line);
		buf_puts(&b, rand_r(seed) % 2 ? "X" : "\r\n");
		break;
	default:
		buf_puts(&b, inserts[rand_r(seed) % (int)(sizeof inserts / sizeof inserts[0])]);
		buf_puts(&b, line);
		break;
	}
	(void)len;
	return buf_steal(&b);
}

/* Renders n random leaves with both writers; returns how many differed (the first is shown). */
static int compare_writers(const struct config *cfg, unsigned seed, int n, int *rendered)
{
	int differ = 0;

	for (int i = 0; i < n; i++) {
		char starts[20], ends[20], key[SYNC_KEY_MAX], *a = NULL, *b = NULL;
		struct error ea = {{0}}, eb = {{0}};
		char *id = random_text(&seed, 70), *note = random_text(&seed, 90);
		struct leave lv = {
		    .id = *id ? id : "LV-1",
		    .mailbox = "alice@contoso.com",
		    .kind = (char *)kinds[rand_r(&seed) % 4],
		    .starts = starts,
		    .ends = ends,
		    .time_zone =
		        (char *)zones[rand_r(&seed) % (int)(sizeof zones / sizeof zones[0])],
		    .status = "approved",
		    .note = rand_r(&seed) % 3 ? note : NULL,
		    .revision = 1,
		};
		int ra, rb;

		random_times(&seed, starts, ends);
		/* keys of other instances ("staging:UUID") go into UID the same way */
		render_sync_key(rand_r(&seed) % 2 ? "staging" : NULL, lv.mailbox, lv.id, key);
		ra = render_leave(cfg, &lv, key, &a, &ea);
		rb = render_leave_libical(cfg, &lv, key, &b, &eb);
		if (ra != rb || (a && b && strcmp(a, b) != 0) || (!a) != (!b) ||
		    strcmp(ea.msg, eb.msg) != 0) {
			if (!differ++)
				printf("# id '%s' note '%s' %s..%s in '%s':\n# direct:\n%s\n# "
				       "libical:\n%s\n",
				       lv.id, note, starts, ends, lv.time_zone, a ? a : ea.msg,
				       b ? b : eb.msg);
		}
		*rendered += a != NULL;
		if (a && (!readers_agree(a) || !readers_agree(b)))
			differ++;
		for (int m = 0; a && m < 3; m++) {
			char *t = mutate(a, &seed);
			if (!readers_agree(t))
				differ++;
			free(t);
		}
		free(a);
		free(b);
		free(id);
		free(note);
	}
	return differ;
}

/* A typical timed leave (the direct writer's case) is exactly libical's text. */
static void test_typical(void)
{
	struct leave lv = {.id = "LV-0000005",
	                   .mailbox = "alice@contoso.com",
	                   .kind = "Annual leave",
	                   .starts = "2027-07-09T13:00",
	                   .ends = "2027-07-09T17:00",
	                   .time_zone = "Asia/Kolkata",
	                   .status = "approved",
	                   .revision = 1};
	char key[SYNC_KEY_MAX], *a = NULL, *b = NULL;
	struct error err = {{0}};

	render_sync_key(NULL, lv.mailbox, lv.id, key);
	is_int(render_leave(NULL, &lv, key, &a, &err) |
	           render_leave_libical(NULL, &lv, key, &b, &err),
	       0, "a timed leave renders");
	is_str(a, b, "a timed leave in Asia/Kolkata: direct text == libical's");
	free(a);
	free(b);
}

int main(void)
{
	char path[256];

	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(path, sizeof path, "%s/leavesync.conf", tmpdir);
	test_typical();
	for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
		struct config cfg;
		struct error err = {{0}};
		int rendered = 0, differ;

		if (write_file_atomic(path, configs[c], strlen(configs[c]), 0600) < 0 ||
		    config_load(path, &cfg, &err) < 0) {
			printf("Bail out! cannot load test config %zu: %s\n", c, err.msg);
			return 1;
		}
		differ = compare_writers(&cfg, (unsigned)c + 1, LEAVES_PER_CONFIG, &rendered);
		ok(differ == 0 && rendered > LEAVES_PER_CONFIG / 2,
		   "config %zu: %d leaves rendered; direct writer == libical's, direct reader == "
		   "libical's (%d differ)",
		   c, rendered, differ);
		config_free(&cfg);
	}
	unlink(path);
	rmdir(tmpdir);
	return done_testing();
}
