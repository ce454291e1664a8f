/* Hostile server answers that the EWS and Graph unit tests do not already cover (test_ews.c covers
 * an internal-subset XXE, billion laughs, HTML and truncated bodies; test_graph.c covers a nextLink
 * to another host, scheme and port): an external DTD, parameter entities, XInclude and deep nesting
 * in XML; deep nesting, huge numbers and wrong types in Graph JSON; links that disguise their host.
 */
#include "tap.h"

#include "common/buf.h"
#include "common/util.h"
#include "ews/ews.h"
#include "graph/graph.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_BASE "https://graph.microsoft.com/v1.0"

/* A GetItem answer with one CalendarItem; prolog goes before the envelope, subject inside. */
static char *get_item_answer(const char *prolog, const char *subject)
{
	struct buf b = BUF_INIT;

	buf_printf(&b,
	           "<?xml version=\"1.0\"?>\n%s<s:Envelope "
	           "xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
	           "<m:GetItemResponse xmlns:m=\"" EWS_NS_MESSAGES "\" xmlns:t=\"" EWS_NS_TYPES
	           "\" xmlns:xi=\"http://www.w3.org/2001/XInclude\"><m:ResponseMessages>"
	           "<m:GetItemResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError"
	           "</m:ResponseCode><m:Items><t:CalendarItem><t:ItemId Id=\"a\" ChangeKey=\"c\"/>"
	           "<t:Subject>%s</t:Subject></t:CalendarItem></m:Items></m:GetItemResponseMessage>"
	           "</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>",
	           prolog, subject);
	return buf_steal(&b);
}

/* Parses a GetItem answer of one item; returns the status, the subject read (or "") in subject. */
static enum be_status parse_get(const char *xml, char *subject, size_t len, struct error *err)
{
	struct ews_read_list l = {0};
	enum be_status st = ews_parse_get_response(xml, strlen(xml), 1, &l, err);

	snprintf(subject, len, "%s", l.n == 1 && l.v[0].re.ev.subject ? l.v[0].re.ev.subject : "");
	ews_read_list_free(&l);
	return st;
}

static void test_ews_external_dtd(void)
{
	struct error err = {""};
	char subject[256];
	char *x;

	x = get_item_answer("<!DOCTYPE s:Envelope SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n", "x");
	ok(parse_get(x, subject, sizeof subject, &err) != BE_OK && strstr(err.msg, "DOCTYPE"),
	   "an external DTD (SYSTEM URL) is refused: %s", err.msg);
	free(x);

	x = get_item_answer("<!DOCTYPE s:Envelope PUBLIC \"-//X//Y\" \"file:///etc/passwd\">\n",
	                    "x");
	ok(parse_get(x, subject, sizeof subject, &err) != BE_OK && strstr(err.msg, "DOCTYPE"),
	   "an external DTD (PUBLIC, file:) is refused: %s", err.msg);
	free(x);

	x = get_item_answer(
	    "<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>\n", "x");
	ok(parse_get(x, subject, sizeof subject, &err) != BE_OK && strstr(err.msg, "DOCTYPE"),
	   "a parameter entity is refused: %s", err.msg);
	free(x);
}

static void test_ews_xinclude_and_refs(void)
{
	struct error err = {""};
	char subject[256];
	char *x;

	x = get_item_answer("", "<xi:include href=\"file:///etc/passwd\" parse=\"text\"/>");
	parse_get(x, subject, sizeof subject, &err);
	ok(strstr(subject, "root:") == NULL, "XInclude is not processed (subject '%s')", subject);
	free(x);

	x = get_item_answer("", "&undefined;");
	ok(parse_get(x, subject, sizeof subject, &err) != BE_OK,
	   "an undefined entity is not well-formed: %s", err.msg);
	free(x);

	x = get_item_answer("", "a&#0;b");
	ok(parse_get(x, subject, sizeof subject, &err) != BE_OK,
	   "a character reference to NUL is not well-formed: %s", err.msg);
	free(x);

	err.msg[0] = '\0';
	x = get_item_answer("", "&lt;b&gt; &amp; &quot; ]]&gt; <![CDATA[</t:Subject>]]>");
	is_int(parse_get(x, subject, sizeof subject, &err), BE_OK, "escaped text parses: %s",
	       err.msg);
	is_str(subject, "<b> & \" ]]> </t:Subject>", "escapes and CDATA read back as text");
	free(x);
}

static void test_ews_deep_nesting(void)
{
	struct error err = {""};
	struct buf b = BUF_INIT;
	char subject[256];
	int64_t t0;
	char *x;

	for (int i = 0; i < 100000; i++)
		buf_puts(&b, "<t:a>");
	x = get_item_answer("", b.data);
	t0 = now_ms();
	ok(parse_get(x, subject, sizeof subject, &err) != BE_OK && now_ms() - t0 < 5000,
	   "100000 nested elements are refused promptly: %.80s", err.msg);
	free(x);
	buf_free(&b);
}

static json_t *parse_json(const char *s, struct error *err)
{
	return graph_parse_json(s, strlen(s), "application/json", err);
}

static void test_graph_deep_nesting(void)
{
	struct error err = {""};
	size_t n = 1000000;
	char *deep = xmalloc(2 * n + 1);
	json_t *j;
	int64_t t0;

	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	t0 = now_ms();
	j = parse_json(deep, &err);
	ok(j == NULL && err.msg[0] && now_ms() - t0 < 5000,
	   "a million nested arrays are refused promptly: %.100s", err.msg);
	json_decref(j);
	for (size_t i = 0; i < n; i++)
		deep[i] = i % 2 ? '{' : '[';
	deep[n] = '\0';
	j = parse_json(deep, &err);
	ok(j == NULL && err.msg[0], "deep unterminated nesting is refused: %.100s", err.msg);
	json_decref(j);
	free(deep);
}

static void test_graph_huge_numbers(void)
{
	struct error err = {""};
	struct remote_event re;
	json_t *j, *v;

	j = parse_json("{\"id\": 1e999}", &err);
	ok(j == NULL && err.msg[0], "a number beyond double is refused: %s", err.msg);
	json_decref(j);

	j = parse_json("{\"id\": 123456789012345678901234567890}", &err);
	ok(j == NULL && err.msg[0], "an integer beyond 64 bits is refused: %s", err.msg);
	json_decref(j);

	static const struct {
		const char *json;
		long want;
	} retry[] = {
	    {"1e300", -1},     {"-5", -1},          {"9223372036854775807", -1},
	    {"\"1e300\"", -1}, {"\"nan\"", -1},     {"\"inf\"", -1},
	    {"\"-0.5\"", -1},  {"\"x\"", -1},       {"\"1.5\"", 1500},
	    {"2", 2000},       {"86400", 86400000}, {"86401", -1},
	};
	for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) {
		v = json_loads(retry[i].json, JSON_DECODE_ANY, NULL);
		is_int(graph_retry_after_ms(v), retry[i].want, "Retry-After %s -> %ld ms",
		       retry[i].json, retry[i].want);
		json_decref(v);
	}

	/* an event whose fields have the wrong types or absurd values */
	static const char *const events[] = {
	    "{\"id\": 12, \"start\": {}, \"end\": {}}",
	    "{\"id\": \"a\", \"start\": {\"dateTime\": 1e308, \"timeZone\": \"UTC\"}, \"end\": "
	    "{\"dateTime\": \"2027-01-01T00:00:00\", \"timeZone\": \"UTC\"}}",
	    "{\"id\": \"a\", \"start\": {\"dateTime\": \"99999-01-01T00:00:00\", \"timeZone\": "
	    "\"UTC\"}, \"end\": {\"dateTime\": \"2027-01-01T00:00:00\", \"timeZone\": \"UTC\"}}",
	    "{\"id\": \"a\", \"start\": {\"dateTime\": \"2027-01-01T00:00:00\", \"timeZone\": "
	    "\"Mars/Olympus\"}, \"end\": {\"dateTime\": \"2027-01-01T00:00:00\", \"timeZone\": "
	    "\"UTC\"}}",
	    "{\"id\": \"a\", \"reminderMinutesBeforeStart\": 1e300, \"isAllDay\": \"yes\", "
	    "\"start\": {\"dateTime\": \"2027-01-01T00:00:00\", \"timeZone\": \"UTC\"}, \"end\": "
	    "{\"dateTime\": \"2027-01-02T00:00:00\", \"timeZone\": \"UTC\"}}",
	};
	for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
		char prop[128];
		int rc;

		graph_prop_id(prop, sizeof prop);
		j = parse_json(events[i], &err);
		memset(&re, 0, sizeof re);
		err.msg[0] = '\0';
		rc = j ? graph_parse_event(j, prop, &re, &err) : -1;
		ok(rc == 0 || err.msg[0], "hostile event %zu: %s", i + 1,
		   rc == 0 ? "read" : err.msg);
		remote_event_free(&re);
		json_decref(j);
	}
}

static void test_graph_disguised_links(void)
{
	static const char *const refused[] = {
	    "https://graph.microsoft.com@evil.example/v1.0/users/a/events",
	    "https://graph.microsoft.com.evil.example/v1.0/users/a/events",
	    "https://evil.example/graph.microsoft.com/v1.0/users/a/events",
	    "https://evil.example#@graph.microsoft.com/v1.0",
	    "//evil.example/v1.0/users/a/events",
	    "/v1.0/users/a/events",
	    "file:///etc/passwd",
	    "https://graph.microsoft.com:444/v1.0/users/a/events",
	    "http://graph.microsoft.com/v1.0/users/a/events",
	    "",
	    NULL,
	};
	static const char *const followed[] = {
	    "https://graph.microsoft.com/v1.0/users/a/events?$skiptoken=x",
	    "https://GRAPH.Microsoft.com/v1.0/users/a/events?$skiptoken=x",
	    "https://graph.microsoft.com:443/v1.0/users/a/events?$skiptoken=x",
	};
	struct error err = {""};

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		err.msg[0] = '\0';
		ok(graph_check_link(refused[i], GRAPH_BASE, &err) < 0 &&
		       strstr(err.msg, "another host"),
		   "link refused: %s", refused[i] ? refused[i] : "(null)");
	}
	for (size_t i = 0; i < sizeof followed / sizeof followed[0]; i++)
		ok(graph_check_link(followed[i], GRAPH_BASE, &err) == 0, "link followed: %s",
		   followed[i]);
}

int main(void)
{
	test_ews_external_dtd();
	test_ews_xinclude_and_refs();
	test_ews_deep_nesting();
	test_graph_deep_nesting();
	test_graph_huge_numbers();
	test_graph_disguised_links();
	return done_testing();
}
