/* EWS responses: a safe parse (no network, no DTD, no entity expansion; a DOCTYPE is refused),
 * elements found by namespace URI never by prefix (Exchange 2007 puts the response in the default
 * namespace: tests/data/ews/createitem-calendar-response.xml), SOAP faults (HTTP 500, SOAP 1.1
 * §6.2), and one parser per operation that maps the response messages back onto the items sent, by
 * position ([EWS how-to-process-calendar-items-in-batches-in-exchange]). */
#include "ews/ews.h"

#include "common/redact.h"
#include "common/util.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- node helpers ---- */

bool ews_is(xmlNodePtr node, const char *ns, const char *name)
{
	return node && node->type == XML_ELEMENT_NODE &&
	       strcmp((const char *)node->name, name) == 0 &&
	       (ns == NULL ? true : node->ns && strcmp((const char *)node->ns->href, ns) == 0);
}

xmlNodePtr ews_child(xmlNodePtr node, const char *ns, const char *name)
{
	for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next)
		if (ews_is(c, ns, name))
			return c;
	return NULL;
}

static void trim(char *s)
{
	size_t len = strlen(s), start = 0;

	while (len > 0 && strchr(" \t\r\n", s[len - 1]))
		s[--len] = '\0';
	while (s[start] && strchr(" \t\r\n", s[start]))
		start++;
	memmove(s, s + start, len - start + 1);
}

char *ews_node_text(xmlNodePtr node, bool do_trim)
{
	xmlChar *c = node ? xmlNodeGetContent(node) : NULL;
	char *s = xstrdup(c ? (const char *)c : "");

	xmlFree(c);
	if (do_trim)
		trim(s);
	return s;
}

char *ews_attr_dup(xmlNodePtr node, const char *name)
{
	xmlChar *v = xmlGetNoNsProp(node, BAD_CAST name);
	char *s = v ? xstrdup((const char *)v) : NULL;

	xmlFree(v);
	return s;
}

bool ews_attr(xmlNodePtr node, const char *name, char *out, size_t outlen)
{
	char *v = ews_attr_dup(node, name);

	snprintf(out, outlen, "%s", v ? v : "");
	free(v);
	return v != NULL;
}

/* Copies the trimmed text of node into out: a server's words (codes, fault strings,
 * MessageText), which end up on terminals and in the store, so escaped, cut, and without the
 * credentials they may quote (common/redact.h). */
static void server_text_into(xmlNodePtr node, char *out, size_t outlen)
{
	char *s = ews_node_text(node, true);

	redact_text(out, outlen, s, strlen(s));
	free(s);
}

/* ---- the document ---- */

void ews_response_free(struct ews_response *r)
{
	if (r->doc)
		xmlFreeDoc(r->doc);
	memset(r, 0, sizeof(*r));
}

/* The value of <Value Name="name"> under a MessageXml element, or -1. */
static long message_xml_long(xmlNodePtr mxml, const char *name)
{
	for (xmlNodePtr v = mxml ? mxml->children : NULL; v; v = v->next) {
		char n[64];
		if (ews_is(v, EWS_NS_TYPES, "Value") && ews_attr(v, "Name", n, sizeof(n)) &&
		    strcmp(n, name) == 0) {
			char *s = ews_node_text(v, true);
			long val = strtol(s, NULL, 10);
			free(s);
			return val;
		}
	}
	return -1;
}

/* "... Suggested backoff time 5000 ms." when MessageXml is absent (the text reported in
 * https://github.com/mustang-im/mustang/issues/121). */
static int backoff_from_text(const char *text)
{
	const char *p = strstr(text, "Suggested backoff time ");

	return p ? atoi(p + strlen("Suggested backoff time ")) : 0;
}

/* Fault children: faultcode/faultstring/detail are unqualified, or SOAP-qualified in Exchange 2007.
 */
static xmlNodePtr fault_child(xmlNodePtr fault, const char *name)
{
	for (xmlNodePtr c = fault->children; c; c = c->next)
		if (ews_is(c, NULL, name) &&
		    (!c->ns || strcmp((const char *)c->ns->href, EWS_NS_SOAP) == 0))
			return c;
	return NULL;
}

static void parse_fault(xmlNodePtr fault, struct ews_response *r)
{
	xmlNodePtr detail = fault_child(fault, "detail");
	xmlNodePtr rc = ews_child(detail, EWS_NS_ERRORS, "ResponseCode");
	xmlNodePtr msg = ews_child(detail, EWS_NS_ERRORS, "Message");

	r->fault = true;
	if (rc) {
		server_text_into(rc, r->code, sizeof(r->code));
	} else {
		server_text_into(fault_child(fault, "faultcode"), r->code, sizeof(r->code));
		char *colon = strrchr(r->code, ':');
		if (colon)
			memmove(r->code, colon + 1, strlen(colon));
	}
	server_text_into(msg ? msg : fault_child(fault, "faultstring"), r->text, sizeof(r->text));
	/* In a fault MessageXml is in the types namespace
	 * (tests/data/ews/soapfault-errorserverbusy-backoff-response.xml). */
	long b =
	    message_xml_long(ews_child(detail, EWS_NS_TYPES, "MessageXml"), "BackOffMilliseconds");
	r->backoff_ms = b > 0 ? (int)(b > 86400000 ? 86400000 : b) : backoff_from_text(r->text);
}

static xmlDocPtr safe_parse(const char *body, size_t len, struct error *err)
{
	xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
	/* No XML_PARSE_NOENT (entities stay unexpanded), no DTDLOAD/DTDATTR (no external subset),
	 * NONET. */
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	xmlDocPtr doc = xmlCtxtReadMemory(ctxt, body, (int)len, "ews-response.xml", NULL, opts);

	if (!doc) {
		xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
		char msg[200] = "unknown error";
		if (e && e->message) {
			redact_text(msg, sizeof(msg), e->message, strlen(e->message));
			trim(msg);
		}
		error_set(err, "the EWS response is not well-formed XML (line %d: %s)",
		          e ? e->line : 0, msg);
	}
	xmlFreeParserCtxt(ctxt);
	if (doc && (doc->intSubset || doc->extSubset)) {
		xmlFreeDoc(doc);
		error_set(err,
		          "the EWS response carries a DOCTYPE (entity or DTD declarations), which "
		          "Exchange never sends; refused without expanding it");
		return NULL;
	}
	return doc;
}

int ews_response_parse(const char *body, size_t len, const char *expect_op, struct ews_response *r,
                       struct error *err)
{
	char want[64];

	memset(r, 0, sizeof(*r));
	if (!body || len == 0 || len > (size_t)1 << 30)
		return error_set(err, "the EWS response is empty");
	r->doc = safe_parse(body, len, err);
	if (!r->doc)
		return -1;
	snprintf(want, sizeof(want), "%sResponse", expect_op);
	xmlNodePtr root = xmlDocGetRootElement(r->doc);
	if (ews_is(root, EWS_NS_MESSAGES, want)) { /* a bare response element, without envelope */
		r->op = root;
		return 0;
	}
	if (ews_is(root, EWS_NS_SOAP_TYPO, "Envelope"))
		return error_set(
		    err,
		    "the SOAP envelope namespace is " EWS_NS_SOAP_TYPO
		    " (a typo of Microsoft's documentation samples); Exchange uses " EWS_NS_SOAP
		    ", so this is not a real EWS server's answer");
	if (!ews_is(root, EWS_NS_SOAP, "Envelope")) {
		char name[64], ns[160];
		const char *n = root ? (const char *)root->name : "?";
		const char *h = root && root->ns ? (const char *)root->ns->href : "(none)";

		return error_set(err,
		                 "the response's root element is <%s> in namespace %s, not a SOAP "
		                 "1.1 Envelope (%s)",
		                 redact_text(name, sizeof name, n, strlen(n)),
		                 redact_text(ns, sizeof ns, h, strlen(h)), EWS_NS_SOAP);
	}
	xmlNodePtr sbody = ews_child(root, EWS_NS_SOAP, "Body");
	if (!sbody)
		return error_set(err, "the SOAP envelope has no Body");
	xmlNodePtr fault = ews_child(sbody, EWS_NS_SOAP, "Fault");
	if (fault) {
		parse_fault(fault, r);
		return 0;
	}
	r->op = ews_child(sbody, EWS_NS_MESSAGES, want);
	if (!r->op) {
		xmlNodePtr first = sbody->children;
		while (first && first->type != XML_ELEMENT_NODE)
			first = first->next;
		return error_set(err, "the SOAP body holds <%s>, not m:%s",
		                 first ? (const char *)first->name : "nothing", want);
	}
	return 0;
}

/* ---- faults and messages onto statuses ---- */

/* "ErrorX: server text. Fix: ..." into out. */
static void describe(char *out, size_t outlen, const char *code, const char *text,
                     const struct ews_error_info *info)
{
	snprintf(out, outlen, "EWS %s: %s%s Fix: %s", code[0] ? code : "(no ResponseCode)",
	         text[0] ? text : info->meaning,
	         text[0] && text[strlen(text) - 1] == '.' ? "" : ".", info->fix);
}

enum be_status ews_fault_status(const struct ews_response *r, int *retry_after_ms,
                                struct error *err)
{
	const struct ews_error_info *info = ews_error_lookup(r->code);
	char msg[ERROR_MAX];

	describe(msg, sizeof(msg), r->code, r->text, info);
	error_set(err, "%s", msg);
	*retry_after_ms = info->status == BE_RETRY_LATER ? r->backoff_ms : 0;
	return info->status;
}

static bool is_response_message(xmlNodePtr c)
{
	size_t len;

	if (c->type != XML_ELEMENT_NODE || !c->ns ||
	    strcmp((const char *)c->ns->href, EWS_NS_MESSAGES) != 0)
		return false;
	len = strlen((const char *)c->name);
	return len > 15 && strcmp((const char *)c->name + len - 15, "ResponseMessage") == 0;
}

static void read_message(xmlNodePtr node, struct ews_message *m)
{
	char cls[32];
	xmlNodePtr mxml = ews_child(node, EWS_NS_MESSAGES, "MessageXml");

	memset(m, 0, sizeof(*m));
	m->node = node;
	ews_attr(node, "ResponseClass", cls, sizeof(cls));
	server_text_into(ews_child(node, EWS_NS_MESSAGES, "ResponseCode"), m->code,
	                 sizeof(m->code));
	server_text_into(ews_child(node, EWS_NS_MESSAGES, "MessageText"), m->text, sizeof(m->text));
	if (strcmp(cls, "Success") == 0 || strcmp(m->code, "NoError") == 0) {
		m->status = BE_OK;
		return;
	}
	/* ErrorInternalServerError may wrap the real code (InnerErrorResponseCode:
	 * tests/data/ews/deleteitem-error-internalservererror-inner-response.xml). */
	for (xmlNodePtr v = mxml ? mxml->children : NULL; v; v = v->next) {
		char n[64];
		if (ews_is(v, EWS_NS_TYPES, "Value") && ews_attr(v, "Name", n, sizeof(n)) &&
		    strcmp(n, "InnerErrorResponseCode") == 0 &&
		    strcmp(m->code, "ErrorInternalServerError") == 0)
			server_text_into(v, m->code, sizeof(m->code));
	}
	m->info = ews_error_lookup(m->code);
	m->status = m->info->status;
	long b = message_xml_long(mxml, "BackOffMilliseconds");
	m->backoff_ms = b > 0 ? (int)(b > 86400000 ? 86400000 : b) : backoff_from_text(m->text);
}

long ews_response_messages(const struct ews_response *r, struct ews_message **msgs,
                           struct error *err)
{
	xmlNodePtr rm = ews_child(r->op, EWS_NS_MESSAGES, "ResponseMessages");
	long n = 0;

	*msgs = NULL;
	if (!rm)
		return error_set(err, "the EWS response has no m:ResponseMessages");
	for (xmlNodePtr c = rm->children; c; c = c->next)
		if (is_response_message(c))
			n++;
	*msgs = xcalloc((size_t)n + 1, sizeof(**msgs));
	n = 0;
	for (xmlNodePtr c = rm->children; c; c = c->next)
		if (is_response_message(c))
			read_message(c, &(*msgs)[n++]);
	return n;
}

/* ---- write responses ---- */

static void item_set(struct be_item *it, enum be_status st, int retry_ms, const char *msg)
{
	it->status = st;
	it->retry_after_ms = st == BE_RETRY_LATER ? retry_ms : 0;
	snprintf(it->message, sizeof(it->message), "%s", st == BE_OK ? "" : msg);
}

static void items_set_all(struct be_item *const *items, size_t n, enum be_status st, int retry_ms,
                          const char *msg)
{
	for (size_t i = 0; i < n; i++)
		item_set(items[i], st, retry_ms, msg);
}

/* The ItemId of the first item under m:Items of a message. */
static xmlNodePtr message_item_id(xmlNodePtr msg)
{
	xmlNodePtr items = ews_child(msg, EWS_NS_MESSAGES, "Items");

	for (xmlNodePtr c = items ? items->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return ews_child(c, EWS_NS_TYPES, "ItemId");
	return NULL;
}

enum write_op { OP_CREATE, OP_UPDATE, OP_DELETE };

static void apply_success(struct be_item *it, xmlNodePtr msg, enum write_op op)
{
	if (op == OP_DELETE)
		return;
	xmlNodePtr id = message_item_id(msg);
	char *rid = id ? ews_attr_dup(id, "Id") : NULL;
	char *ck = id ? ews_attr_dup(id, "ChangeKey") : NULL;
	if ((rid && strlen(rid) > BE_MAX_ID_BYTES) || (ck && strlen(ck) > BE_MAX_ID_BYTES)) {
		char msg_text[256];
		bool id_long = rid && strlen(rid) > BE_MAX_ID_BYTES;

		/* The write may have happened: a create is looked up by its sync key next time. */
		snprintf(msg_text, sizeof(msg_text),
		         "EWS answered an ItemId %s of %zu bytes (the limit is %d; Exchange's are "
		         "about 150): a protocol error, not recorded",
		         id_long ? "Id" : "ChangeKey", strlen(id_long ? rid : ck), BE_MAX_ID_BYTES);
		item_set(it, BE_RETRY_NOW, 0, msg_text);
		free(rid);
		free(ck);
		return;
	}
	if (!rid && op == OP_CREATE) {
		/* Created, but we cannot know the id: the engine's lookup by sync key will adopt
		 * it. */
		item_set(
		    it, BE_RETRY_NOW, 0,
		    "EWS reported the item created but returned no ItemId; it will be looked up "
		    "by its sync key");
		free(ck);
		return;
	}
	free(it->new_change_key);
	it->new_change_key = ck;
	free(it->new_remote_id);
	it->new_remote_id = NULL;
	if (rid && (op == OP_CREATE || strcmp_null(rid, it->remote_id) != 0))
		it->new_remote_id = rid;
	else
		free(rid);
}

static enum be_status parse_write(const char *body, size_t len, const char *op_name,
                                  enum write_op op, struct be_item *const *items, size_t n,
                                  struct error *err)
{
	struct ews_response r;
	struct ews_message *msgs = NULL;
	enum be_status st = BE_RETRY_NOW;
	int retry = 0;

	if (ews_response_parse(body, len, op_name, &r, err) != 0)
		goto shared;
	if (r.fault) {
		st = ews_fault_status(&r, &retry, err);
		goto shared;
	}
	long got = ews_response_messages(&r, &msgs, err);
	if (got < 0)
		goto shared;
	if ((size_t)got != n) {
		error_set(
		    err,
		    "EWS answered %ld response messages for the %zu items of a %s request; the "
		    "results cannot be matched to the items, so all will be retried",
		    got, n, op_name);
		goto shared;
	}
	const struct ews_message *stopper = NULL; /* a mailbox-wide error that stopped the batch */
	for (size_t i = 0; i < n; i++) {
		char msg[512];
		const struct ews_message *m = &msgs[i];
		if (m->status == BE_OK) {
			item_set(items[i], BE_OK, 0, "");
			apply_success(items[i], m->node, op);
			continue;
		}
		if (m->info && (m->info->flags & EWS_ERR_MAILBOX))
			stopper = m;
		if (stopper && strcmp(m->code, "ErrorBatchProcessingStopped") == 0)
			m = stopper;
		describe(msg, sizeof(msg), m->code, m->text, m->info);
		item_set(items[i], m->status, m->backoff_ms, msg);
	}
	free(msgs);
	ews_response_free(&r);
	return BE_OK;
shared:
	items_set_all(items, n, st, retry, err->msg);
	free(msgs);
	ews_response_free(&r);
	return st;
}

enum be_status ews_parse_create_response(const char *body, size_t len, struct be_item *const *items,
                                         size_t n, struct error *err)
{
	return parse_write(body, len, "CreateItem", OP_CREATE, items, n, err);
}

enum be_status ews_parse_update_response(const char *body, size_t len, struct be_item *const *items,
                                         size_t n, struct error *err)
{
	return parse_write(body, len, "UpdateItem", OP_UPDATE, items, n, err);
}

enum be_status ews_parse_delete_response(const char *body, size_t len, struct be_item *const *items,
                                         size_t n, struct error *err)
{
	return parse_write(body, len, "DeleteItem", OP_DELETE, items, n, err);
}

/* ---- read responses ---- */

void ews_read_list_free(struct ews_read_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		remote_event_free(&l->v[i].re);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static struct ews_read_item *list_push(struct ews_read_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	struct ews_read_item *it = &l->v[l->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void read_item_into(xmlNodePtr item, struct ews_read_list *out)
{
	struct ews_read_item *it = list_push(out);
	struct error e = {{0}};

	if (ews_calendar_item_read(item, &it->re, &e) != 0) {
		it->status = BE_FINAL;
		snprintf(it->message, sizeof(it->message), "%s", e.msg);
	}
}

static int open_response(const char *body, size_t len, const char *op, struct ews_response *r,
                         enum be_status *st, struct error *err)
{
	int retry = 0;

	*st = BE_RETRY_NOW;
	if (ews_response_parse(body, len, op, r, err) != 0)
		return -1;
	if (r->fault) {
		*st = ews_fault_status(r, &retry, err);
		return -1;
	}
	return 0;
}

enum be_status ews_parse_get_response(const char *body, size_t len, size_t n,
                                      struct ews_read_list *out, struct error *err)
{
	struct ews_response r;
	struct ews_message *msgs = NULL;
	enum be_status st;

	if (open_response(body, len, "GetItem", &r, &st, err) != 0)
		goto fail;
	long got = ews_response_messages(&r, &msgs, err);
	if (got < 0)
		goto fail;
	if ((size_t)got != n) {
		error_set(err, "EWS answered %ld GetItem response messages for %zu ids", got, n);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].status != BE_OK) {
			struct ews_read_item *it = list_push(out);
			it->status = msgs[i].status;
			describe(it->message, sizeof(it->message), msgs[i].code, msgs[i].text,
			         msgs[i].info);
			continue;
		}
		xmlNodePtr items = ews_child(msgs[i].node, EWS_NS_MESSAGES, "Items");
		xmlNodePtr c = items ? items->children : NULL;
		while (c && c->type != XML_ELEMENT_NODE)
			c = c->next;
		if (c) {
			read_item_into(c, out);
		} else {
			struct ews_read_item *it = list_push(out);
			it->status = BE_GONE;
			snprintf(it->message, sizeof(it->message), "GetItem returned no item");
		}
	}
	free(msgs);
	ews_response_free(&r);
	return BE_OK;
fail:
	free(msgs);
	ews_response_free(&r);
	return st;
}

/* The single message of a FindItem/GetFolder response; BE_OK or its mapped status with err set. */
static enum be_status single_message(struct ews_response *r, struct ews_message **msgs,
                                     struct error *err)
{
	long got = ews_response_messages(r, msgs, err);

	if (got < 0)
		return BE_RETRY_NOW;
	if (got != 1) {
		error_set(err, "EWS answered %ld response messages to a single query", got);
		return BE_RETRY_NOW;
	}
	if ((*msgs)[0].status != BE_OK) {
		char msg[512];
		describe(msg, sizeof(msg), (*msgs)[0].code, (*msgs)[0].text, (*msgs)[0].info);
		error_set(err, "%s", msg);
	}
	return (*msgs)[0].status;
}

enum be_status ews_parse_find_response(const char *body, size_t len, struct ews_read_list *out,
                                       struct error *err)
{
	struct ews_response r;
	struct ews_message *msgs = NULL;
	enum be_status st;

	out->includes_last = true;
	out->total = out->next_offset = -1;
	if (open_response(body, len, "FindItem", &r, &st, err) != 0)
		goto done;
	st = single_message(&r, &msgs, err);
	if (st != BE_OK) {
		if (msgs)
			snprintf(out->error_code, sizeof(out->error_code), "%s", msgs[0].code);
		goto done;
	}
	xmlNodePtr root = ews_child(msgs[0].node, EWS_NS_MESSAGES, "RootFolder");
	if (!root) {
		error_set(err, "the FindItem response has no m:RootFolder");
		st = BE_RETRY_NOW;
		goto done;
	}
	char v[32];
	if (ews_attr(root, "IncludesLastItemInRange", v, sizeof(v)))
		out->includes_last = strcmp(v, "false") != 0;
	if (ews_attr(root, "TotalItemsInView", v, sizeof(v)))
		out->total = atol(v);
	if (ews_attr(root, "IndexedPagingOffset", v, sizeof(v)))
		out->next_offset = atol(v);
	xmlNodePtr items = ews_child(root, EWS_NS_TYPES, "Items");
	for (xmlNodePtr c = items ? items->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			read_item_into(c, out);
done:
	free(msgs);
	ews_response_free(&r);
	return st;
}

enum be_status ews_parse_get_folder_response(const char *body, size_t len, struct error *err)
{
	struct ews_response r;
	struct ews_message *msgs = NULL;
	enum be_status st;

	if (open_response(body, len, "GetFolder", &r, &st, err) == 0)
		st = single_message(&r, &msgs, err);
	free(msgs);
	ews_response_free(&r);
	return st;
}
