/* libFuzzer target: the SOAP Autodiscover answer parser (ews/autodiscover.c) on a server's body.
 * Whatever the body: every field is terminated within its size and printable (no control
 * character from the server gets through, common/redact.h), and a refused body says why. */
#include "common/redact.h"
#include "ews/ews.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *f, size_t size)
{
	if (memchr(f, '\0', size) == NULL || redact_has_control(f, strlen(f)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ews_ad_answer a;
	struct error err = {{0}};

	if (ews_autodiscover_parse((const char *)data, size, &a, &err) < 0) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	check_field(a.code, sizeof a.code);
	check_field(a.message, sizeof a.message);
	check_field(a.target, sizeof a.target);
	check_field(a.internal, sizeof a.internal);
	check_field(a.external, sizeof a.external);
	check_field(a.build, sizeof a.build);
	return 0;
}
