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

/* True when s is safe to print: no control byte, no credential of the request quoted back. */
static int printable_and_clean(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			return 0;
	return !strstr(s, "eyJ") && !strstr(s, "SECRETTOKENVALUE");
}

#define QUOTED_AUTH                                                                                \
	"Authorization: Bearer "                                                                   \
	"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.SECRETTOKENVALUE"

static void test_ews_error_texts(void)
{
	static const char *const faults[] = {
	    /* a faultstring quoting the request's Authorization header */
	    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
	    "<faultcode>s:Client</faultcode><faultstring>The request header " QUOTED_AUTH
	    " is invalid</faultstring></s:Fault></s:Body></s:Envelope>",
	    /* a ResponseCode and faultstring with C1 controls and a bidi override (XML forbids C0)
	     */
	    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"
	    "<faultcode>s:Client</faultcode><faultstring>\xc2\x9b"
	    "2J\xe2\x80\xae"
	    " evil &#13;&#10;"
	    "X-Injected: yes</faultstring><detail><e:ResponseCode xmlns:e=\"" EWS_NS_ERRORS "\">"
	    "ErrorServerBusy\xc2\x9b"
	    "31m</e:ResponseCode></detail></s:Fault></s:Body></s:Envelope>",
	};
	struct be_item item = {0};
	struct be_item *items[1] = {&item};
	struct error err = {""};

	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		be_item_clear(&item);
		err.msg[0] = '\0';
		ews_parse_create_response(faults[i], strlen(faults[i]), items, 1, &err);
		ok(printable_and_clean(err.msg) && printable_and_clean(item.message),
		   "fault %zu: the message is escaped and redacted: %s", i + 1, item.message);
	}
	ok(strstr(item.message, "\\u009B") && strstr(item.message, "\\u202E") &&
	       strstr(item.message, "\\r\\n"),
	   "escapes are shown, not interpreted");
	{
		const char *msg =
		    "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
		    "<m:CreateItemResponse xmlns:m=\"" EWS_NS_MESSAGES "\"><m:ResponseMessages>"
		    "<m:CreateItemResponseMessage ResponseClass=\"Error\"><m:MessageText>Token "
		    "refused: " QUOTED_AUTH "</m:MessageText><m:ResponseCode>ErrorAccessDenied"
		    "</m:ResponseCode></m:CreateItemResponseMessage></m:ResponseMessages>"
		    "</m:CreateItemResponse></s:Body></s:Envelope>";

		be_item_clear(&item);
		ews_parse_create_response(msg, strlen(msg), items, 1, &err);
		ok(item.status == BE_FINAL && printable_and_clean(item.message) &&
		       strstr(item.message, "Authorization: [redacted]"),
		   "a MessageText quoting the token: %s", item.message);
	}
	be_item_clear(&item);
}

static void test_graph_error_texts(void)
{
	const char *body = "{\"error\":{\"code\":\"\\u001b[2J\\u001b]0;pwned\\u0007Forbidden\","
	                   "\"message\":\"Your request had " QUOTED_AUTH " and \\u001b[31mred\","
	                   "\"innerError\":{\"request-id\":\"\\u001b[5m\"}}}";
	json_t *j = json_loads(body, 0, NULL);
	char msg[512];

	graph_describe_failure("POST", "/users/a%40b.c/events", 403, "application/json\x1b[2J", j,
	                       true, msg, sizeof msg);
	ok(printable_and_clean(msg) && strstr(msg, "\\x1B[2J") &&
	       strstr(msg, "Authorization: [redacted]"),
	   "a Graph error's code, message and request-id are escaped and redacted: %s", msg);
	graph_describe_failure("GET", "/x", 502, "text/html\x1b]0;t\x07", NULL, true, msg,
	                       sizeof msg);
	ok(printable_and_clean(msg), "the content type of a non-Graph answer too: %s", msg);
	json_decref(j);
}

/* A server answering ids or change keys of absurd size: refused, naming the field, never kept. */
static void test_absurd_ids(void)
{
	struct buf big = BUF_INIT, xml = BUF_INIT, js = BUF_INIT;
	struct be_item item = {0};
	struct be_item *items[1] = {&item};
	struct error err = {""};
	char *id = NULL, *etag = NULL;
	json_t *j;

	for (int i = 0; i < 3000; i++)
		buf_puts(&big, "A");
	buf_printf(&xml,
	           "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>"
	           "<m:CreateItemResponse xmlns:m=\"" EWS_NS_MESSAGES "\" xmlns:t=\"" EWS_NS_TYPES
	           "\"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass=\"Success\">"
	           "<m:ResponseCode>NoError</m:ResponseCode><m:Items><t:CalendarItem>"
	           "<t:ItemId Id=\"AAMkAD=\" ChangeKey=\"%s\"/></t:CalendarItem></m:Items>"
	           "</m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse>"
	           "</s:Body></s:Envelope>",
	           big.data);
	ews_parse_create_response(xml.data, xml.len, items, 1, &err);
	ok(item.status == BE_RETRY_NOW && !item.new_change_key && !item.new_remote_id &&
	       strstr(item.message, "ChangeKey of 3000 bytes (the limit is 2048"),
	   "an EWS ChangeKey of 3000 bytes is refused, not kept: %s", item.message);
	be_item_clear(&item);

	buf_printf(&js, "{\"id\":\"%s\",\"@odata.etag\":\"W/\\\"x\\\"\"}", big.data);
	j = json_loads(js.data, 0, NULL);
	ok(graph_parse_write(j, true, &id, &etag, &err) < 0 && !id && !etag &&
	       strstr(err.msg, "\"id\" of 3000 bytes"),
	   "a Graph id of 3000 bytes is refused: %s", err.msg);
	json_decref(j);
	j = json_loads("{\"id\":\"AAMk=\",\"@odata.etag\":\"W/\\\"x\\r\\nX-Injected: yes\\\"\"}", 0,
	               NULL);
	ok(j && graph_parse_write(j, true, &id, &etag, &err) < 0 && !id && !etag &&
	       strstr(err.msg, "\"@odata.etag\" holding a control character"),
	   "a Graph etag with CRLF (it goes back as If-Match) is refused: %s", err.msg);
	json_decref(j);
	buf_free(&big);
	buf_free(&xml);
	buf_free(&js);
}

int main(void)
{
	test_ews_external_dtd();
	test_ews_xinclude_and_refs();
	test_ews_deep_nesting();
	test_graph_deep_nesting();
	test_graph_huge_numbers();
	test_graph_disguised_links();
	test_ews_error_texts();
	test_graph_error_texts();
	test_absurd_ids();
	return done_testing();
}
