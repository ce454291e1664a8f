/* Lines for people and for journald (cli/log.h). The priority prefix is the sd-daemon(3)
 * convention that journald reads from a service's output (SyslogLevelPrefix=, on by default). */
#include "common/log.h"

#include "common/buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool log_fd_is_journal(int fd)
{
	/* "JOURNAL_STREAM contains the device and inode numbers of the connection file descriptor,
	 * formatted in decimal, separated by a colon" (systemd.exec(5), Environment). */
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (!v || !*v)
		return false;
	errno = 0;
	dev = strtoull(v, &end, 10);
	if (errno || *end != ':')
		return false;
	ino = strtoull(end + 1, &end, 10);
	if (errno || *end)
		return false;
	return fstat(fd, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* ---- the journal stream: a priority in front of every line that has none ---- */

static bool has_priority(const char *p, size_t n)
{
	return n >= 3 && p[0] == '<' && p[1] >= '0' && p[1] <= '7' && p[2] == '>';
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t journal_write(void *arg, const char *p, size_t n)
{
	struct log_journal_stream *c = arg;
	size_t done = 0;

	while (done < n) {
		const char *nl = memchr(p + done, '\n', n - done);
		size_t len = nl ? (size_t)(nl - (p + done)) + 1 : n - done;

		if (c->line_start && !has_priority(p + done, len)) {
			char prefix[4] = {'<', (char)('0' + c->priority), '>', '\0'};

			if (write_all(c->fd, prefix, 3) < 0)
				return -1;
		}
		if (write_all(c->fd, p + done, len) < 0)
			return -1;
		c->line_start = nl != NULL;
		done += len;
	}
	return (ssize_t)n;
}

static FILE *journal_stream(struct log_journal_stream *c, int fd, int priority)
{
	static const cookie_io_functions_t io = {.write = journal_write};
	FILE *f;

	*c = (struct log_journal_stream){.fd = fd, .priority = priority, .line_start = true};
	f = fopencookie(c, "w", io);
	if (f)
		setvbuf(f, NULL, _IOLBF, 0);
	return f; /* lives as long as the process: stdout and stderr are never closed */
}

void log_setup_journal(struct log_journal *j)
{
	FILE *f;

	fflush(stdout);
	fflush(stderr);
	if (log_fd_is_journal(STDOUT_FILENO) &&
	    (f = journal_stream(&j->out, STDOUT_FILENO, LOG_INFO)))
		stdout = f;
	if (log_fd_is_journal(STDERR_FILENO) &&
	    (f = journal_stream(&j->err, STDERR_FILENO, LOG_ERR)))
		stderr = f;
}

/* ---- messages ---- */

static void write_lines(FILE *out, int fd, int priority, const char *fmt, va_list ap)
{
	struct buf text = BUF_INIT, lines = BUF_INIT;
	bool journal = log_fd_is_journal(fd);
	const char *p;

	buf_vprintf(&text, fmt, ap);
	p = text.data ? text.data : "";
	do {
		size_t n = strcspn(p, "\n");

		if (journal)
			buf_printf(&lines, "<%d>", priority);
		buf_append(&lines, p, n);
		buf_puts(&lines, "\n");
		p += n + (p[n] == '\n');
	} while (*p);
	flockfile(out);
	fputs(lines.data, out);
	fflush(out);
	funlockfile(out);
	buf_free(&text);
	buf_free(&lines);
}

void log_vmsg(int priority, const char *fmt, va_list ap)
{
	write_lines(stderr, STDERR_FILENO, priority, fmt, ap);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(priority, fmt, ap);
	va_end(ap);
}

void log_out(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_lines(stdout, STDOUT_FILENO, priority, fmt, ap);
	va_end(ap);
}
