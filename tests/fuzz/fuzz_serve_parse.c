/* libFuzzer target: the request parsers of leavesync serve (serve/parse.h) on untrusted bytes:
 * the first byte picks the parser, the rest is its input (a NUL-terminated copy where the parser
 * takes a C string, as libmicrohttpd hands header values and the request target). */
#include "serve/parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"mailbox", "state", "limit", "after", NULL};
	static const char *const patterns[] = {"/v1/leave/{id}", "/v1/leave", "/v1/runs/{id}",
	                                       "/healthz"};
	char out[1024], bad[64];
	unsigned char digest[32];
	const char *tok;
	size_t len;
	char *s;

	if (size == 0)
		return 0;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	len = size - 1;
	switch (data[0] % 7) {
	case 0:
		serve_percent_decode(s, len, out, sizeof out, data[0] & 8);
		break;
	case 1:
		for (size_t i = 0; i < 4; i++)
			serve_path_match(patterns[i], s, strcspn(s, "?"), out, sizeof out);
		break;
	case 2:
		serve_query_param(s, "mailbox", out, sizeof out);
		serve_query_check(s, names, bad, sizeof bad);
		break;
	case 3:
		if (serve_bearer_token(s, &tok, &len) == 0 && (tok < s || tok + len > s + size))
			abort();
		break;
	case 4:
		serve_signature_header(s, digest);
		break;
	case 5:
		serve_idempotency_key(s, out, sizeof out);
		break;
	default:
		serve_count_records(s, len, (enum push_format)(data[0] / 7 % 4));
		break;
	}
	free(s);
	return 0;
}
