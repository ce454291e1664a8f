/* The one logging module of the programs, the command line (cli/) and `leavesync serve` (serve/);
 * the library (store, engine, backends) never prints. One line per message, with the syslog
 * priority of sd-daemon(3) ("<3>" error ... "<7>" debug) in front of every line when the stream
 * is connected to the journal, which journald then records as the line's priority (so that
 * `journalctl -p err` shows the errors). Elsewhere (a terminal, cron's mail, a file) lines carry
 * no prefix. Thread-safe: a line is written in one piece. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <syslog.h> /* LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

/* True when fd is the journal's stream: $JOURNAL_STREAM ("DEVICE:INODE", systemd.exec(5)) names
 * this file descriptor's device and inode. */
bool log_fd_is_journal(int fd);

/* The state of a stream to the journal; main owns one per stream for the whole process. */
struct log_journal_stream {
	int fd;
	int priority; /* for lines written without one */
	bool line_start;
};
struct log_journal {
	struct log_journal_stream out, err;
};

/* Called once by main before anything is printed: when stdout or stderr is the journal, it is
 * replaced by a stream that puts a priority in front of every line lacking one (stdout: <6>
 * info, stderr: <3> error), so that even usage messages and tables are classified. j must live
 * as long as the process (main's static storage). */
void log_setup_journal(struct log_journal *j);

/* Writes fmt as one or more lines to stderr (each '\n' starts a new line, each with its priority
 * when stderr is the journal). */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int priority, const char *fmt, va_list ap);

/* The same to stdout (summaries, reports). */
void log_out(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
