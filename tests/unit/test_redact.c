/* common/redact.c: the one filter for server-supplied text. A table of inputs and the exact
 * output, then properties over random inputs (seed printed on failure). */
#include "tap.h"

#include "common/redact.h"
#include "common/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JWT                                                                                        \
	"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."                                                    \
	"eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9."                                    \
	"c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"

static const struct {
	const char *in, *want, *what;
} table[] = {
    {"Access is denied.", "Access is denied.", "plain text stays"},
    {"caf\xc3\xa9 \xe2\x98\x83", "caf\xc3\xa9 \xe2\x98\x83", "UTF-8 stays"},
    {"\x1b[2J\x1b]0;pwned\x07", "\\x1B[2J\\x1B]0;pwned\\x07", "ESC and BEL are escaped"},
    {"line1\r\nline2\ttab", "line1\\r\\nline2\\ttab", "CR, LF and tab are escaped"},
    {"a\x7f"
     "b",
     "a\\x7Fb", "DEL is escaped"},
    {"\xc2\x9b"
     "31m",
     "\\u009B31m", "a C1 CSI is escaped"},
    {"abc\xe2\x80\xae"
     "cba",
     "abc\\u202Ecba", "a bidi override is escaped"},
    {"zero\xe2\x80\x8bwidth", "zero\\u200Bwidth", "a zero-width space is escaped"},
    {"bad \xff\xfe utf8", "bad \\xFF\\xFE utf8", "bytes that are not UTF-8 are escaped"},
    {"overlong \xc0\xaf", "overlong \\xC0\\xAF", "an overlong sequence is escaped"},
    {"Authorization: Bearer " JWT, "Authorization: [redacted]", "an Authorization header"},
    {"header 'authorization: Basic dXNlcjpwYXNz' sent", "header 'authorization: [redacted]",
     "a lower-case Authorization header runs to the end of the line"},
    {"got Authorization: Bearer abc\r\nHost: x", "got Authorization: [redacted]\\r\\nHost: x",
     "the header value ends at the line end"},
    {"{\"Authorization\":\"Bearer xyz.abc\"}", "{\"Authorization\":\"[redacted]\"}",
     "a JSON Authorization member"},
    {"token was Bearer " JWT " for you", "token was Bearer [redacted] for you",
     "a bearer credential"},
    {"Bearer 0.AXEAabc-def_ghi", "Bearer [redacted]", "a short bearer credential with digits"},
    {"Basic authentication is disabled", "Basic authentication is disabled",
     "a scheme followed by an ordinary word"},
    {"Bearer realm=\"\", error=\"invalid_token\"", "Bearer realm=\"\", error=\"invalid_token\"",
     "a challenge's auth-params stay"},
    {"Bearer error=invalid_token", "Bearer error=invalid_token", "an unquoted auth-param stays"},
    {"see " JWT, "see [redacted]", "a bare JWT"},
    {"cut eyJ0eXAiOiJKV1Qi", "cut [redacted]", "the start of a JWT"},
    {"refresh_token=0.AXEAxyz&scope=x", "refresh_token=[redacted]&scope=x",
     "a refresh_token form value"},
    {"{\"access_token\": \"abc\", \"expires_in\": 3600}",
     "{\"access_token\": \"[redacted]\", \"expires_in\": 3600}", "an access_token JSON member"},
    {"client_secret=abc~123 rest", "client_secret=[redacted] rest", "a client_secret value"},
    {"password: hunter2!", "password: [redacted]", "a password"},
    {"the token: expired", "the token: expired", "prose about a token stays"},
    {"{\"token\":\"abc\"}", "{\"token\":\"[redacted]\"}", "a token member"},
    {"x 0.AXEAqwertyuiopASDFGHJKL1234567890zxcvbnm y", "x [redacted] y",
     "a long opaque string (a refresh token)"},
    {"Trace ID: 7b0c1f2e-3d4c-4b5a-8e9f-0a1b2c3d4e5f Correlation",
     "Trace ID: 7b0c1f2e-3d4c-4b5a-8e9f-0a1b2c3d4e5f Correlation", "a GUID stays"},
    {"thumbprint 0123456789abcdef0123456789abcdef01234567",
     "thumbprint 0123456789abcdef0123456789abcdef01234567", "a hex hash stays"},
    {"https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
     "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
     "a URL stays"},
    {"ErrorIrresolvableConflictAndSomeMoreLettersWithoutDigits",
     "ErrorIrresolvableConflictAndSomeMoreLettersWithoutDigits", "a long word without digits"},
    {"the secret is configured-secret-value-42 ok", "the secret is [redacted] ok",
     "the registered secret"},
    {"url = https://user:pa55@mail.contoso.com/EWS/Exchange.asmx: refused",
     "url = https://[redacted]@mail.contoso.com/EWS/Exchange.asmx: refused",
     "the user info of a URL"},
    {"https://graph.microsoft.com/v1.0/users/a@b.c/events",
     "https://graph.microsoft.com/v1.0/users/a@b.c/events", "an @ in a URL's path stays"},
    {"", "", "empty"},
};

static void test_table(void)
{
	redact_add_secret("configured-secret-value-42");
	redact_add_secret("short"); /* too short: not registered */
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		char out[512];

		redact_text(out, sizeof out, table[i].in, strlen(table[i].in));
		is_str(out, table[i].want, "%s", table[i].what);
	}
	{
		char out[64];

		redact_text(out, sizeof out, "a short word", 12);
		is_str(out, "a short word", "a secret shorter than 8 bytes is not registered");
	}
}

static void test_cut(void)
{
	char big[10000], out[128];

	memset(big, 'x', sizeof big);
	redact_text(out, sizeof out, big, sizeof big);
	ok(strlen(out) < sizeof out && strstr(out, "...[") && strstr(out, " more bytes]"),
	   "a long text is cut with a marker: %s", out);
	is_int(strstr(out, "...[") ? atol(strstr(out, "...[") + 4) : -1,
	       (long long)(10000 - strlen(out) + strlen(strstr(out, "...["))),
	       "the marker counts the bytes left out");
	/* a cut never splits an escape or a character */
	for (size_t i = 0; i < 200; i += 4)
		memcpy(big + i, "\xe2\x98\x83\x1b", 4);
	redact_text(out, sizeof out, big, 200);
	ok(!strstr(out, "\\x1...") && !strstr(out, "\\...") &&
	       !redact_has_control(out, strlen(out)),
	   "the cut falls between characters: %s", out);
	{
		char tiny[8];

		redact_text(tiny, sizeof tiny, "abcdefghijkl", 12);
		is_str(tiny, "abcdefg", "a tiny buffer is cut without a marker");
		redact_text(tiny, sizeof tiny, "a\x1b", 2);
		is_str(tiny, "a\\x1B", "an escape that fits is kept whole");
		redact_text(tiny, 5, "a\x1b", 2);
		is_str(tiny, "a", "an escape that does not fit is left out whole");
	}
	{
		char *d = redact_dup("Bearer " JWT, 40);

		is_str(d, "Bearer [redacted]", "redact_dup");
		free(d);
	}
	{
		char s[64] = "x\x1b[0m y";

		redact_in_place(s, sizeof s);
		is_str(s, "x\\x1B[0m y", "redact_in_place");
	}
	{
		char out2[32];

		is_str(redact_text(out2, sizeof out2, NULL, 5), "", "NULL input gives \"\"");
	}
}

/* The nets over leavesync's own messages keep file names, URLs and ids readable. */
static void test_message_variant(void)
{
	char out[256];
	const char *path = "push: leave-export-2027-01-04T10-00-00Z-batch-000001.ndjson: too large";
	const char *url =
	    "GET /users/a%40b.c/events/AAMkADk0ZjE1MzQ0LTEzNjUtNDQ4OS05MmFjLTA1ZDg0: 404";

	is_str(redact_message(out, sizeof out, path, strlen(path)), path,
	       "a long file name stays in a message");
	is_str(redact_message(out, sizeof out, url, strlen(url)), url, "an item id stays");
	{
		const char *mixed = "x " JWT "\x1b[2J configured-secret-value-42";

		redact_message(out, sizeof out, mixed, strlen(mixed));
	}
	is_str(out, "x [redacted]\\x1B[2J [redacted]",
	       "but JWTs, controls and registered secrets do not");
	redact_text(out, sizeof out, url, strlen(url));
	ok(strstr(out, "[redacted]") != NULL, "(the server-text filter redacts the id)");
}

static void test_has_control(void)
{
	ok(redact_has_control("a\r\nb", 4), "CRLF is a control");
	ok(redact_has_control("a\x01", 2), "SOH is a control");
	ok(redact_has_control("a\xc2\x85", 3), "NEL (C1) is a control");
	ok(redact_has_control("\xff", 1), "a byte that is not UTF-8 counts");
	ok(!redact_has_control("alice@contoso.com", 17), "an address is clean");
	ok(!redact_has_control(JWT, strlen(JWT)), "a token is clean");
}

/* Properties over random inputs built from the dangerous pieces: the output is printable UTF-8,
 * within its size, and holds no registered secret and no JWT start. */
static void test_random(void)
{
	static const char *const pieces[] = {"Authorization: ",
	                                     "Bearer ",
	                                     JWT,
	                                     "eyJ",
	                                     "\x1b[",
	                                     "\r\n",
	                                     "\x07",
	                                     "\xc2\x9b",
	                                     "\xe2\x80\xae",
	                                     "\xff",
	                                     "configured-secret-value-42",
	                                     "refresh_token=",
	                                     "\"access_token\":\"",
	                                     "0.AXEAqwertyuiopASDFGHJKL1234567890",
	                                     " ",
	                                     "a",
	                                     "\xe2\x98\x83",
	                                     "=",
	                                     "\"",
	                                     "\\"};
	unsigned seed = (unsigned)time(NULL);
	int bad = 0;

	srand(seed);
	for (int round = 0; round < 3000 && !bad; round++) {
		char in[2048], out[200];
		size_t len = 0, size = 2 + (size_t)(rand() % 198);

		while (rand() % 40) {
			const char *p = pieces[rand() % (sizeof pieces / sizeof pieces[0])];
			if (len + strlen(p) > sizeof in)
				break;
			memcpy(in + len, p, strlen(p));
			len += strlen(p);
		}
		redact_text(out, size, in, len);
		if (strlen(out) >= size || redact_has_control(out, strlen(out)) ||
		    strstr(out, "configured-secret-value-42") || strstr(out, "eyJ0") ||
		    strstr(out, "AXEAqwerty")) {
			printf("# seed %u round %d: size %zu gave '%s'\n", seed, round, size, out);
			bad = 1;
		}
	}
	ok(!bad, "3000 random inputs: printable, bounded, nothing secret (seed %u)", seed);
}

int main(void)
{
	test_table();
	test_cut();
	test_message_variant();
	test_has_control();
	test_random();
	return done_testing();
}
