/* libFuzzer target: config_load on the input, written to a memfd read through /proc/self/fd. */
#include "engine/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int config_fd(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("leavesync-fuzz.conf", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	return fd;
}

/* A client_secret_file naming a device, stdin ("-") or a pseudo file system would block or read
 * without end: that is the operator's own file, not hostile input, so such inputs are skipped. */
static int reads_special_file(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"/dev", "/proc", "/sys", "/run", "-"};

	if (!memmem(data, size, "_file", 5))
		return 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (memmem(data, size, bad[i], strlen(bad[i])))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = config_fd();
	char path[64];
	struct config cfg;
	struct error err = {0};

	if (reads_special_file(data, size))
		return -1;
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	memset(&cfg, 0, sizeof cfg);
	if (config_load(path, &cfg, &err) == 0) {
		struct event_policy scratch;
		/* The lookups a sync makes on a loaded config. */
		for (size_t i = 0; i < cfg.nkinds; i++)
			if (!config_policy_for(&cfg, cfg.kinds[i].kind, &scratch))
				abort();
		for (size_t i = 0; i < cfg.nroutes; i++)
			if (!config_backend_for(&cfg, cfg.routes[i].mailbox))
				abort();
	} else if (err.msg[0] == '\0') {
		abort(); /* a failure always says why */
	}
	config_free(&cfg);
	return 0;
}
