/* Shared by the push fuzz targets: store_push of the input in one format on a scratch store in a
 * temporary directory, opened once per process. Included by fuzz_push_{json,ndjson,csv}.c, which
 * define FUZZ_PUSH_FORMAT first. */
#include "engine/tz.h"
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that inputs past [limits] push_records are common. */
#define FUZZ_MAX_RECORDS 8

static struct store *fuzz_store(void)
{
	static struct store *st;
	const char *tmp = getenv("TMPDIR");
	char dir[512], path[600];
	struct error err = {0};

	if (st)
		return st;
	snprintf(dir, sizeof dir, "%s/leavesync-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/fuzz.db", dir);
	if (store_open(path, true, NULL, &st, &err) != 0) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		abort();
	}
	/* The directory stays (SQLite refuses writes to an unlinked database); tools/fuzz points
	 * TMPDIR at build/fuzz/tmp.PID and removes it. */
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct push_options opt = {.format = FUZZ_PUSH_FORMAT,
	                           .max_leave_days = 366,
	                           .tz_known = tz_is_known_iana,
	                           .default_time_zone = "Europe/Berlin",
	                           .max_note_bytes = 0,
	                           .max_records = FUZZ_MAX_RECORDS};
	struct push_report rep = {0};
	struct error err = {0};
	int rc;

	rc = store_push(fuzz_store(), (const char *)data, size, &opt, &rep, &err);
	/* The report must be self-consistent whatever the input. */
	for (size_t i = 0; i < rep.nproblems; i++)
		if (rep.problems[i].reason[0] == '\0')
			abort();
	/* [limits] push_records: never more read, and more is never written */
	if (rep.records > FUZZ_MAX_RECORDS ||
	    (rc == 0 && rep.inserted + rep.updated + rep.unchanged + rep.stale > FUZZ_MAX_RECORDS))
		abort();
	push_report_free(&rep);
	return 0;
}
