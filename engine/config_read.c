/* The file's structure, under inih (engine/config.c's key handlers are called by inih): section
 * headers ([store], [kind "NAME"], ...; each name once) and the line reader. The reader counts
 * lines, so that every problem names FILE:LINE, opens each section before inih sees its keys, and
 * turns every line inih would refuse or misread into a problem of our own, so that parsing goes on
 * and one run reports every problem of the file, in line order. */
#include "engine/config_int.h"

#include "common/buf.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int config_fail(struct parse_ctx *x, const char *fmt, ...)
{
	char msg[ERROR_MAX - 128];
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	buf_printf(&b, "%s:%d: %s", x->path, x->line ? x->line : 1, msg);
	x->errors = xrealloc(x->errors, (x->nerrors + 2) * sizeof *x->errors);
	x->error_lines = xrealloc(x->error_lines, (x->nerrors + 1) * sizeof *x->error_lines);
	x->error_lines[x->nerrors] = x->line ? x->line : 1;
	x->errors[x->nerrors++] = buf_steal(&b);
	x->errors[x->nerrors] = NULL;
	return 0; /* inih: handler failed */
}

void config_errors_free(char **errors)
{
	for (size_t i = 0; errors && errors[i]; i++)
		free(errors[i]);
	free(errors);
}

/* Problems in line order (a section's missing key is found at its end, reported at its header). */
static void sort_errors(struct parse_ctx *x)
{
	for (size_t i = 1; i < x->nerrors; i++) {
		for (size_t j = i; j > 0 && x->error_lines[j - 1] > x->error_lines[j]; j--) {
			char *e = x->errors[j];
			int l = x->error_lines[j];

			x->errors[j] = x->errors[j - 1];
			x->error_lines[j] = x->error_lines[j - 1];
			x->errors[j - 1] = e;
			x->error_lines[j - 1] = l;
		}
	}
}

/* err->msg: every problem that fits, one per line, then how many more there are. */
static void join_errors(const struct parse_ctx *x, struct error *err)
{
	struct buf b = BUF_INIT;
	size_t shown = 0;

	for (; shown < x->nerrors; shown++) {
		size_t more = strlen(x->errors[shown]) + 1;

		if (b.len + more + 64 >= ERROR_MAX && shown > 0)
			break;
		buf_printf(&b, "%s%s", shown ? "\n" : "", x->errors[shown]);
	}
	if (shown < x->nerrors)
		buf_printf(&b, "\n%s: %zu more problems", x->path, x->nerrors - shown);
	error_set(err, "%s", b.data);
	buf_free(&b);
}

void config_report_errors(struct parse_ctx *x, struct error *err)
{
	sort_errors(x);
	join_errors(x, err);
}

/* ---- section headers: what the keys that follow belong to ---- */

const struct seen_key *config_find_seen(const struct parse_ctx *x, const char *section,
                                        const char *key)
{
	for (size_t i = 0; i < x->nseen; i++)
		if (strcasecmp(x->seen[i].section, section) == 0 &&
		    strcmp_null(x->seen[i].key, key) == 0)
			return &x->seen[i];
	return NULL;
}

void config_add_seen(struct parse_ctx *x, const char *section, const char *key)
{
	x->seen = xrealloc(x->seen, (x->nseen + 1) * sizeof *x->seen);
	x->seen[x->nseen].section = xstrdup(section);
	x->seen[x->nseen].key = xstrdup(key);
	x->seen[x->nseen].line = x->line;
	x->nseen++;
}

/* `kind "Sick leave"` -> "Sick leave"; NULL unless the header has that form. */
static char *quoted_name(const char *text, const char *word)
{
	size_t wl = strlen(word);
	const char *p = text + wl, *close;

	if (strncmp(text, word, wl) != 0 || !isspace((unsigned char)*p))
		return NULL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '"' || !(close = strchr(p + 1, '"')) || close == p + 1)
		return NULL;
	for (const char *q = close + 1; *q; q++)
		if (!isspace((unsigned char)*q))
			return NULL;
	return xstrndup(p + 1, (size_t)(close - p - 1));
}

static int begin_kind(struct parse_ctx *x, char *name)
{
	struct config *c = x->cfg;

	for (size_t i = 0; i < c->nkinds; i++) {
		if (strcasecmp(c->kinds[i].kind, name) == 0) {
			free(name);
			return config_fail(
			    x,
			    "[%s] appears twice (kind names compare ignoring case): merge "
			    "the two sections into one",
			    x->sec_text);
		}
	}
	c->kinds = xrealloc(c->kinds, (c->nkinds + 1) * sizeof *c->kinds);
	memset(&c->kinds[c->nkinds], 0, sizeof c->kinds[0]);
	c->kinds[c->nkinds].kind = name;
	c->kinds[c->nkinds].policy.reminder_minutes = -1;
	x->sec_index = c->nkinds++;
	x->sec = SEC_KIND;
	return 1;
}

static int begin_mailbox(struct parse_ctx *x, char *addr)
{
	struct config *c = x->cfg;

	for (char *p = addr; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!strchr(addr, '@')) {
		free(addr);
		return config_fail(
		    x, "[%s]: expected an email address, e.g. [mailbox \"alice@contoso.com\"]",
		    x->sec_text);
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		if (strcmp(c->routes[i].mailbox, addr) == 0) {
			free(addr);
			return config_fail(x, "[%s] appears twice: merge the two sections into one",
			                   x->sec_text);
		}
	}
	c->routes = xrealloc(c->routes, (c->nroutes + 1) * sizeof *c->routes);
	c->routes[c->nroutes].mailbox = addr;
	c->routes[c->nroutes].backend = NULL;
	x->sec_index = c->nroutes++;
	x->sec = SEC_MAILBOX;
	return 1;
}

/* A section that needs a key it did not get; reported at its header. */
int config_end_section(struct parse_ctx *x)
{
	int line = x->line;

	if (x->sec != SEC_MAILBOX || x->cfg->routes[x->sec_index].backend)
		return 1;
	x->line = x->sec_line;
	config_fail(x, "[%s] has no backend: add backend = ews or backend = graph", x->sec_text);
	x->line = line;
	x->sec = SEC_SKIP; /* reported once */
	return 0;
}

int config_begin_section(struct parse_ctx *x, const char *text)
{
	static const struct {
		const char *name;
		enum section_kind kind;
	} fixed[] = {{"store", SEC_STORE}, {"sync", SEC_SYNC}, {"ews", SEC_EWS},
	             {"graph", SEC_GRAPH}, {"tls", SEC_TLS},   {"event", SEC_EVENT},
	             {"serve", SEC_SERVE}, {"push", SEC_PUSH}, {"limits", SEC_LIMITS}};
	const struct seen_key *seen = config_find_seen(x, text, NULL);
	int dup_line = seen ? seen->line : 0; /* config_add_seen may move the array */
	char *name;

	config_end_section(x);
	free(x->sec_text);
	x->sec_text = xstrdup(text);
	x->sec_line = x->line;
	x->sec = SEC_SKIP; /* until the header proves good: keys of a bad one are not reported */
	config_add_seen(x, text, NULL);
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (strcmp(text, fixed[i].name) == 0) {
			if (dup_line)
				return config_fail(
				    x,
				    "[%s] appears twice (first at line %d): merge the two "
				    "sections into one",
				    text, dup_line);
			x->sec = fixed[i].kind;
			if (x->sec == SEC_EWS || x->sec == SEC_GRAPH)
				(x->sec == SEC_EWS ? &x->cfg->ews : &x->cfg->graph)->configured =
				    true;
			return 1;
		}
	}
	if ((name = quoted_name(text, "kind")) != NULL)
		return begin_kind(x, name);
	if ((name = quoted_name(text, "mailbox")) != NULL)
		return begin_mailbox(x, name);
	if (strncmp(text, "kind", 4) == 0 || strncmp(text, "mailbox", 7) == 0)
		return config_fail(
		    x,
		    "[%s]: put the name in double quotes, e.g. [kind \"Sick leave\"] or "
		    "[mailbox \"alice@contoso.com\"]",
		    text);
	return config_fail(
	    x,
	    "unknown section [%s]: expected [store], [sync], [push], [ews], [graph], "
	    "[tls], [event], [limits], [serve], [kind \"NAME\"] or [mailbox "
	    "\"EMAIL\"]",
	    text);
}

/* ---- lines ---- */

static bool is_blank_or_comment(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return *p == '\0' || *p == ';' || *p == '#';
}

/* A section header line: the text between '[' and ']', as inih reads it; -1 when malformed. */
static int header_text(const char *p, char *out, size_t outlen)
{
	const char *close;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[' || !(close = strchr(p, ']')))
		return -1;
	p++;
	if ((size_t)(close - p) >= outlen)
		return -1;
	memcpy(out, p, (size_t)(close - p));
	out[close - p] = '\0';
	return 0;
}

/* inih's rule for a key line: a '=' or ':' before any inline comment (" ;"). */
static bool has_separator(const char *p)
{
	for (const char *q = p; *q && *q != '\n'; q++) {
		if (*q == '=' || *q == ':')
			return true;
		if (*q == ';' && q > p && (q[-1] == ' ' || q[-1] == '\t'))
			return false;
	}
	return false;
}

/* Hands inih a blank line in place of one already reported. */
static char *skip_line(char *str)
{
	str[0] = '\n';
	str[1] = '\0';
	return str;
}

/* inih's line source. A line longer than inih's buffer was read whole by getline: it is reported
 * and skipped, never split. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *x = stream;
	ssize_t n;
	char text[INI_MAX_LINE];

	if ((n = getline(&x->linebuf, &x->linecap, x->f)) < 0)
		return NULL;
	x->line++;
	if (n >= num) {
		config_fail(x, "the line is longer than %d characters: shorten it", num - 1);
		return skip_line(str);
	}
	if ((x->linebuf[0] == ' ' || x->linebuf[0] == '\t') && !is_blank_or_comment(x->linebuf)) {
		/* inih would join an indented line to the key above it (a continuation line) */
		config_fail(x, "the line starts with spaces: remove them (indented lines continue "
		               "the value above)");
		return skip_line(str);
	}
	if (x->linebuf[0] == '[') {
		if (header_text(x->linebuf, text, sizeof text) < 0) {
			config_fail(x, "a section header needs a closing ]: write [section]");
			config_end_section(x);
			x->sec = SEC_SKIP;
			return skip_line(str);
		}
		config_begin_section(x, text);
	} else if (!is_blank_or_comment(x->linebuf) && !has_separator(x->linebuf)) {
		config_fail(x,
		            "cannot read this line: expected [section], key = value, or a comment "
		            "(; or #)");
		return skip_line(str);
	}
	memcpy(str, x->linebuf, (size_t)n + 1);
	return str;
}

int config_parse_lines(struct parse_ctx *x, struct error *err)
{
	int rc = ini_parse_stream(read_line, x, config_on_key, x);

	if (rc < 0)
		return error_set(err, "%s: out of memory while reading the file", x->path);
	if (rc > 0) {
		/* inih returns the first line whose handler failed (reported already), or a line it
		 * refused that the reader let through: that one is reported here */
		bool reported = false;
		int line = x->line;

		for (size_t i = 0; i < x->nerrors && !reported; i++)
			reported = x->error_lines[i] == rc;
		x->line = rc;
		if (!reported)
			config_fail(x,
			            "cannot read this line: expected [section], key = value, or a "
			            "comment (; or #)");
		x->line = line;
	}
	if (ferror(x->f))
		return error_set(err, "%s: read error: %s", x->path, strerror(errno));
	config_end_section(x);
	return x->nerrors ? -1 : 0;
}
