/* The one logging function of leavesync serve: one line per message on stderr (the journal under
 * systemd). When stderr is the journal ($JOURNAL_STREAM), each line starts with its syslog priority
 * "<N>" so that `journalctl -p err` finds the errors. Never given secrets: callers log key names,
 * never keys, and never request bodies. */
#ifndef SERVE_LOG_H
#define SERVE_LOG_H

#include <syslog.h>

/* priority: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG. */
void serve_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decides once whether to prefix priorities (from $JOURNAL_STREAM and stderr's device/inode). */
void serve_log_init(void);

#endif
