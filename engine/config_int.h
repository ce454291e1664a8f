/* Private to engine/config*.c: the parse context shared by the key handlers (config.c), the line
 * reader that collects every problem of the file (config_read.c) and the search for the file
 * (config_find.c). */
#ifndef ENGINE_CONFIG_INT_H
#define ENGINE_CONFIG_INT_H

#include "engine/config.h"

#include <stdio.h>

enum section_kind {
	SEC_NONE,
	SEC_STORE,
	SEC_SYNC,
	SEC_EWS,
	SEC_GRAPH,
	SEC_TLS,
	SEC_EVENT,
	SEC_KIND,
	SEC_MAILBOX,
	SEC_SERVE,
	SEC_PUSH,
	SEC_LIMITS,
	SEC_SKIP, /* a section already reported as wrong: its keys are not reported one by one */
};

struct seen_key {
	char *section; /* the header's text, e.g. `kind "Sick leave"` */
	char *key;
	int line;
};

struct secret_spec {
	int secret_line; /* client_secret given at this line (0: not) */
	int file_line;   /* client_secret_file given at this line */
	char *file;
};

struct parse_ctx {
	struct config *cfg;
	const char *path;
	FILE *f;
	char *linebuf;
	size_t linecap;
	int line;      /* lines handed to inih so far: the line being parsed */
	char **errors; /* every problem found, "FILE:LINE: message" each (owned, NULL-terminated) */
	int *error_lines; /* the LINE of each, to list them in line order */
	size_t nerrors;
	enum section_kind sec; /* the section the current keys belong to */
	char *sec_text;        /* its header text */
	int sec_line;          /* its header line */
	size_t sec_index;      /* SEC_KIND, SEC_MAILBOX: index in cfg->kinds / cfg->routes */
	struct seen_key *seen; /* every section header and key, for "appears twice" */
	size_t nseen;
	struct secret_spec secret[2]; /* [ews], [graph] */
	struct secret_spec password;  /* [ews] password / password_file */
	int auth_line;                /* [ews] auth given at this line */
};

/* Records a problem at the current line and returns 0 (inih's "handler failed"); parsing goes on,
 * so that one run of leavesync lists every problem of the file. */
int config_fail(struct parse_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* config_read.c: a section header (its text between [ and ]) and the end of a section: 1, or 0
 * after config_fail. Every header and key seen, for "appears twice" (find: NULL when new). */
int config_begin_section(struct parse_ctx *x, const char *text);
int config_end_section(struct parse_ctx *x);
const struct seen_key *config_find_seen(const struct parse_ctx *x, const char *section,
                                        const char *key);
void config_add_seen(struct parse_ctx *x, const char *section, const char *key);

/* config.c: a key of the current section: 1, or 0 after config_fail. */
int config_on_key(void *user, const char *section, const char *key, const char *value);

/* config_onprem.c: the on-premises keys of [ews] (auth, username, password, password_file,
 * autodiscover_srv_override): 1 handled, 0 after config_fail, -1 not one of them. */
int config_onprem_key(struct parse_ctx *x, const char *key, const char *v);
/* After parsing: the password from $LEAVESYNC_EWS_PASSWORD over password_file over password (with
 * a warning), and the checks that need every key (username and password for ntlm/negotiate/basic).
 */
void config_onprem_resolve(struct parse_ctx *x);

/* config.c: a warning when path (or fd >= 0) is readable by others (group_too: by its group). */
void config_warn_if_readable(struct config *c, const char *what, const char *path, int fd,
                             bool group_too);

/* config_read.c: runs inih over x->f with the line reader; 0, or -1 when x->errors got entries
 * (or err is set for an I/O failure). */
int config_parse_lines(struct parse_ctx *x, struct error *err);
/* Puts x->errors in line order and as many as fit into err->msg, one per line. */
void config_report_errors(struct parse_ctx *x, struct error *err);

#endif
