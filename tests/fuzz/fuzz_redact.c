/* libFuzzer target: redact_text (common/redact.h) on any bytes. The first byte picks the output
 * size; the rest is the text. Whatever the input, the output must be shorter than the size, free of
 * control characters and invalid UTF-8, and hold neither the registered secret nor a JWT (escapes
 * use upper-case hex, so that their tails never spell the start of either). */
#include "common/redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "fuzz-registered-secret-1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_b64url(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static int holds_jwt(const char *s)
{
	for (const char *p = strstr(s, "eyJ"); p; p = strstr(p + 1, "eyJ")) {
		size_t n = 3;

		while (is_b64url(p[n]))
			n++;
		if (n >= 10)
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	char out[300];
	size_t outsize;

	if (!registered) {
		redact_add_secret(SECRET);
		registered = 1;
	}
	if (size == 0)
		return 0;
	outsize = 1 + data[0] % sizeof out;
	redact_text(out, outsize, (const char *)data + 1, size - 1);
	if (strlen(out) >= outsize)
		abort();
	{
		char *marker = strstr(out, "...[");

		if (marker &&
		    strstr(marker, " more bytes]")) /* the cut marker's dots are no JWT's */
			*marker = '\0';
	}
	if (redact_has_control(out, strlen(out)) || strstr(out, SECRET) || holds_jwt(out))
		abort();
	return 0;
}
