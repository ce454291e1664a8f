#!/bin/sh
# m365sim EWS: schema validation as Exchange does it, app-only OAuth with impersonation, calendar item
# operations with Exchange's semantics (change keys, batches, all-day and time zones, CalendarView limits,
# restrictions, sync states), every EWS error the simulator promises in the documented shape, and
# Debian's python3-exchangelib against it. Spec: Microsoft's EWS reference (the sources are cited in
# tools/m365sim/ews*.c), the schema in tools/m365sim/schema and the recorded requests and responses
# in tests/data/ews (tests/data/README.md). A request's validity is judged twice: by the simulator's
# own validation (m365sim --validate-ews, the code that answers live requests) and, independently, by
# python3-lxml (clients/ews_xsd_check.py) against the same schema files.
. "$(dirname "$0")/test-lib.sh"

EXAMPLES=$DATA_DIR/ews/examples
SAMPLES=$DATA_DIR/ews
EWS_XSD=$SRC_DIR/tools/m365sim/schema/libxml2/ews.xsd
VALIDATE=validate_ews
T=11111111-2222-3333-4444-555555555555
APP=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
SECRET='ews-secret~0123456789abcdefghijklmnop'
SCOPED=aaaaaaaa-0000-4000-8000-000000000002
NOEWS=aaaaaaaa-0000-4000-8000-000000000003
NOROLE=aaaaaaaa-0000-4000-8000-000000000004
KEYSET=6f1a3b52-9d4e-4c1a-8a57-3e2b1c0d9f11

cat >fixture.json <<EOF
{"tenants": [{"id": "$T", "domain": "contoso.onmicrosoft.com", "domains": ["contoso.com"]}],
 "apps": [
  {"client_id": "$APP", "tenant": "$T", "name": "full", "admin_consent": true, "ews_allowed": true,
   "secrets": [{"id": "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f01", "value": "$SECRET", "expires": "2099-12-31T00:00:00Z"}],
   "application_permissions": ["full_access_as_app", "Calendars.ReadWrite"]},
  {"client_id": "$SCOPED", "tenant": "$T", "name": "scoped", "admin_consent": true, "ews_allowed": true,
   "scoped_mailboxes": ["alice@contoso.com"],
   "secrets": [{"id": "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f02", "value": "$SECRET", "expires": "2099-12-31T00:00:00Z"}],
   "application_permissions": ["full_access_as_app"]},
  {"client_id": "$NOEWS", "tenant": "$T", "name": "ews off", "admin_consent": true, "ews_allowed": false,
   "secrets": [{"id": "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f03", "value": "$SECRET", "expires": "2099-12-31T00:00:00Z"}],
   "application_permissions": ["full_access_as_app"]},
  {"client_id": "$NOROLE", "tenant": "$T", "name": "graph only", "admin_consent": true, "ews_allowed": true,
   "secrets": [{"id": "0f0f0f0f-0f0f-0f0f-0f0f-0f0f0f0f0f04", "value": "$SECRET", "expires": "2099-12-31T00:00:00Z"}],
   "application_permissions": ["Calendars.ReadWrite"]}],
 "users": [
  {"upn": "alice@contoso.com", "display_name": "Alice Ahlberg", "time_zone": "W. Europe Standard Time",
   "aliases": ["a.ahlberg@contoso.com"]},
  {"upn": "bob@contoso.com", "display_name": "Bob Brown", "time_zone": "Pacific Standard Time"},
  {"upn": "carol@contoso.com", "display_name": "Carol Celmins", "time_zone": "FLE Standard Time",
   "delegates": ["alice@contoso.com"]}]}
EOF

# summary.py FILE: one line per fact of an EWS response (bodies are checked against messages.xsd
# all at once by respcheck.py at the end).
cat >summary.py <<'EOF'
import sys
from lxml import etree
S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
doc = etree.parse(sys.argv[1]).getroot()
fault = doc.find(f"{{{S}}}Body/{{{S}}}Fault")
if fault is not None:
    d = fault.find("detail")
    print("FAULT", fault.findtext("faultcode"), d.findtext(f"{{{E}}}ResponseCode").strip())
    print("faultstring", fault.findtext("faultstring"))
    for v in d.iter(f"{{{T}}}Value"):
        print("value", v.get("Name"), v.text)
    for tag in ("LineNumber", "Violation"):
        if d.find(f".//{{{T}}}{tag}") is not None:
            print(tag, d.findtext(f".//{{{T}}}{tag}"))
    sys.exit(0)
svi = doc.find(f"{{{S}}}Header/{{{T}}}ServerVersionInfo")
print("ServerVersionInfo", svi.get("MajorVersion"), svi.get("Version"))
op = doc.find(f"{{{S}}}Body")[0]
for msg in op.find(f"{{{M}}}ResponseMessages"):
    print("msg", msg.get("ResponseClass"), msg.findtext(f"{{{M}}}ResponseCode"),
          msg.findtext(f"{{{M}}}MessageText") or "", msg.findtext(f"{{{M}}}DescriptiveLinkKey") or "")
    for v in msg.iter(f"{{{T}}}Value"):
        print("value", v.get("Name"), v.text)
    for rf in msg.iter(f"{{{M}}}RootFolder"):
        print("root", rf.get("TotalItemsInView"), rf.get("IncludesLastItemInRange"), rf.get("IndexedPagingOffset"))
    ss = msg.find(f"{{{M}}}SyncState")
    if ss is not None:
        print("syncstate", ss.text or "")
        print("last", msg.findtext(f"{{{M}}}IncludesLastItemInRange"))
    for ch in msg.iter(f"{{{T}}}Create", f"{{{T}}}Update", f"{{{T}}}Delete"):
        print("change", etree.QName(ch).localname, ch.find(f".//{{{T}}}ItemId").get("Id"))
    for item in msg.iter(f"{{{T}}}CalendarItem"):
        iid = item.find(f"{{{T}}}ItemId")
        print("item", iid.get("Id"), iid.get("ChangeKey"))
        for child in item:
            name = etree.QName(child).localname
            if name == "ItemId":
                continue
            if name == "ExtendedProperty":
                print("  ExtendedProperty", child.findtext(f"{{{T}}}Value"))
            elif name.endswith("TimeZone"):
                print(" ", name, child.get("Id"))
            elif len(child):
                print(" ", name, ",".join(c.text or "" for c in child))
            else:
                print(" ", name, child.text or "")
EOF

# respcheck.py EWS_XSD FILE...: every non-fault response body validates against messages.xsd
# (python3-lxml, the schema files of tools/m365sim/schema/libxml2).
cat >respcheck.py <<'EOF'
import sys
from lxml import etree
S = "http://schemas.xmlsoap.org/soap/envelope/"
schema, bad, n = etree.XMLSchema(etree.parse(sys.argv[1])), 0, 0
for f in sys.argv[2:]:
    body = etree.parse(f).getroot().find(f"{{{S}}}Body")
    if body is None or body[0].tag == f"{{{S}}}Fault":
        continue
    n += 1
    if not schema.validate(body[0]):
        for e in schema.error_log:
            bad += 1
            print(f, "line", e.line, e.message)
print(n, "responses checked")
sys.exit(1 if bad or n == 0 else 0)
EOF

# token CLIENT [SCOPE]: an app-only token (client credentials) on stdout.
token() {
	curl -sS --cacert "$SIM_CA" "$SIM_URL/$T/oauth2/v2.0/token" -d grant_type=client_credentials \
		-d client_id="$1" --data-urlencode client_secret="$SECRET" \
		--data-urlencode scope="${2:-https://outlook.office365.com/.default}" | jq -r .access_token
}

# envelope MAILBOX VERSION [TZCONTEXT]: the SOAP envelope around the operation read from stdin.
envelope() {
	echo '<?xml version="1.0" encoding="utf-8"?>'
	echo '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
	echo '    xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"'
	echo '    xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">'
	echo "  <soap:Header><t:RequestServerVersion Version=\"$2\"/>"
	if [ -n "$1" ]; then
		echo "    <t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>$1</t:PrimarySmtpAddress>"
		echo "    </t:ConnectingSID></t:ExchangeImpersonation>"
	fi
	if [ -n "${3:-}" ]; then
		echo "    <t:TimeZoneContext><t:TimeZoneDefinition Id=\"$3\"/></t:TimeZoneContext>"
	fi
	echo '  </soap:Header>'
	echo '  <soap:Body>'
	cat
	echo '  </soap:Body>'
	echo '</soap:Envelope>'
}

# ews NAME [TOKEN]: POSTs NAME.xml; NAME.resp (body), NAME.status, NAME.headers, NAME.sum (summary.py).
ews() {
	curl -sS --cacert "$SIM_CA" -o "$1.resp" -D "$1.headers" -w '%{http_code}' \
		-H "Authorization: Bearer ${2:-$TOKEN}" -H 'Content-Type: text/xml; charset=utf-8' \
		-H 'X-AnchorMailbox: alice@contoso.com' --data-binary @"$1.xml" \
		"$SIM_URL/EWS/Exchange.asmx" >"$1.status" &&
	if [ -s "$1.resp" ]; then $PY summary.py "$1.resp" >"$1.sum"; else : >"$1.sum"; fi
}

# expect_fault NAME CODE: HTTP 500 with the SOAP fault of Exchange's shape for CODE.
expect_fault() {
	test "$(cat "$1.status")" = 500 || { echo "HTTP $(cat "$1.status")"; cat "$1.resp"; return 1; }
	test_grep "^FAULT a:$2 $2\$" "$1.sum" &&
	grep -q "<faultcode xmlns:a=\"http://schemas.microsoft.com/exchange/services/2006/types\">a:$2</faultcode>" "$1.resp"
}

# expect_ok NAME: HTTP 200 with ServerVersionInfo (the body's validity is checked at the end).
expect_ok() {
	test "$(cat "$1.status")" = 200 || { echo "HTTP $(cat "$1.status")"; cat "$1.resp"; return 1; }
	test_grep "^ServerVersionInfo 15 V2018_01_08" "$1.sum"
}

# msgs NAME: the "ResponseClass ResponseCode" of each response message, one per line.
msgs() {
	sed -n 's/^msg \([A-Za-z]*\) \([A-Za-z]*\).*/\1 \2/p' "$1.sum"
}

first_id() {
	sed -n 's/^item \([^ ]*\) .*/\1/p' "$1.sum" | head -n 1
}

first_ck() {
	sed -n 's/^item [^ ]* \(.*\)/\1/p' "$1.sum" | head -n 1
}

calitem() { # SUBJECT START END [extra elements after ReminderIsSet]
	cat <<EOF
      <t:CalendarItem>
        <t:Subject>$1</t:Subject>
        <t:Sensitivity>Private</t:Sensitivity>
        <t:Body BodyType="Text">Leave</t:Body>
        <t:Categories><t:String>Leave</t:String></t:Categories>
        <t:ReminderIsSet>false</t:ReminderIsSet>
        ${4:-}
        <t:Start>$2</t:Start>
        <t:End>$3</t:End>
        <t:IsAllDayEvent>false</t:IsAllDayEvent>
        <t:LegacyFreeBusyStatus>OOF</t:LegacyFreeBusyStatus>
      </t:CalendarItem>
EOF
}

keyprop() {
	echo "<t:ExtendedProperty><t:ExtendedFieldURI PropertySetId=\"$KEYSET\" PropertyName=\"LeaveSyncKey\" PropertyType=\"String\"/><t:Value>$1</t:Value></t:ExtendedProperty>"
}

create_req() { # NAME MAILBOX ITEMS...
	name=$1 mbx=$2
	shift 2
	{
		echo '<m:CreateItem SendMeetingInvitations="SendToNone">'
		echo '  <m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId>'
		echo '  <m:Items>'
		for item in "$@"; do echo "$item"; done
		echo '  </m:Items>'
		echo '</m:CreateItem>'
	} | envelope "$mbx" Exchange2016 >"$name.xml"
}

getitem_req() { # NAME MAILBOX SHAPE ID...
	name=$1 mbx=$2 shape=$3
	shift 3
	{
		echo "<m:GetItem><m:ItemShape><t:BaseShape>$shape</t:BaseShape><t:AdditionalProperties>"
		echo "<t:FieldURI FieldURI=\"calendar:StartTimeZone\"/><t:FieldURI FieldURI=\"calendar:IsAllDayEvent\"/>"
		echo "<t:ExtendedFieldURI PropertySetId=\"$KEYSET\" PropertyName=\"LeaveSyncKey\" PropertyType=\"String\"/>"
		echo "</t:AdditionalProperties></m:ItemShape><m:ItemIds>"
		for id in "$@"; do echo "<t:ItemId Id=\"$id\"/>"; done
		echo "</m:ItemIds></m:GetItem>"
	} | envelope "$mbx" Exchange2016 >"$name.xml"
}

update_req() { # NAME ID CHANGEKEY RESOLUTION SUBJECT
	envelope alice@contoso.com Exchange2016 >"$1.xml" <<EOF
<m:UpdateItem ConflictResolution="$4" SendMeetingInvitationsOrCancellations="SendToNone">
  <m:ItemChanges><t:ItemChange><t:ItemId Id="$2" ChangeKey="$3"/><t:Updates>
    <t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>$5</t:Subject></t:CalendarItem></t:SetItemField>
  </t:Updates></t:ItemChange></m:ItemChanges>
</m:UpdateItem>
EOF
}

delete_req() { # NAME TYPE ID...
	name=$1 type=$2
	shift 2
	{
		echo "<m:DeleteItem DeleteType=\"$type\" SendMeetingCancellations=\"SendToNone\"><m:ItemIds>"
		for id in "$@"; do echo "<t:ItemId Id=\"$id\"/>"; done
		echo "</m:ItemIds></m:DeleteItem>"
	} | envelope alice@contoso.com Exchange2016 >"$name.xml"
}

view_req() { # NAME MAILBOX START END [MAX]
	envelope "$2" Exchange2016 >"$1.xml" <<EOF
<m:FindItem Traversal="Shallow">
  <m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>
    <t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:End"/>
  </t:AdditionalProperties></m:ItemShape>
  <m:CalendarView MaxEntriesReturned="${5:-500}" StartDate="$3" EndDate="$4"/>
  <m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds>
</m:FindItem>
EOF
}

sync_req() { # NAME STATE MAX
	{
		echo '<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
		echo '<m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/></m:SyncFolderId>'
		if [ -n "$2" ]; then echo "<m:SyncState>$2</m:SyncState>"; fi
		echo "<m:MaxChangesReturned>$3</m:MaxChangesReturned></m:SyncFolderItems>"
	} | envelope alice@contoso.com Exchange2016 >"$1.xml"
}

test_expect_success 'the schema files are those tools/m365sim/schema/README.md describes' '
	S=$SRC_DIR/tools/m365sim/schema &&
	grep "^[0-9a-f]\{64\}  " "$S/README.md" >sums && test "$(wc -l <sums)" = 4 &&
	(cd "$S" && sha256sum --check --quiet) <sums &&
	cmp "$S/messages.xsd" "$S/libxml2/messages.xsd" &&
	{ diff "$S/types.xsd" "$S/libxml2/types.xsd" >types.diff; test $? = 1; } &&
	test "$(grep -c "^>" types.diff)" = 0 &&
	test "$(grep "^<" types.diff | grep -c "<xs:element ref=\"t:\(AbsoluteDate\|RecurringDay\|RecurringDate\)Transition\" minOccurs=\"0\" maxOccurs=\"unbounded\" />")" = 3 &&
	test "$(grep -c "^<" types.diff)" = 3
'

test_expect_success 'm365sim carries its schema (any directory); says at start, and exits 2, when a schema does not load' '
	(cd / && "$BUILD_DIR/m365sim" --validate-ews "$EXAMPLES/create-calendaritem.xml") >anydir.out &&
	test_grep "^OK  .*create-calendaritem.xml: m:CreateItem (headers: t:RequestServerVersion" anydir.out &&
	test_expect_code 2 "$BUILD_DIR/m365sim" --port 0 --ews-schema missing.xsd >nostart.out 2>nostart.err &&
	test_grep "^m365sim: EWS schema: cannot read --ews-schema missing.xsd" nostart.err && test ! -s nostart.out &&
	echo "<xs:schema" >broken.xsd &&
	test_expect_code 2 "$BUILD_DIR/m365sim" --port 0 --ews-schema broken.xsd >nostart.out 2>nostart.err &&
	test_grep "^m365sim: EWS schema: the EWS schema broken.xsd does not compile" nostart.err && test ! -s nostart.out &&
	test_expect_code 2 validate_ews missing.xml 2>err && test_grep "cannot read missing.xml" err &&
	test_expect_code 2 "$BUILD_DIR/m365sim" --validate-ews 2>err && test_grep "usage:" err
'

test_expect_success 'the simulator starts with a fixture and issues an EWS token' '
	sim_start --fixture fixture.json &&
	TOKEN=$(token $APP) && test -n "$TOKEN" && test "$TOKEN" != null &&
	echo "$TOKEN" >token
'
TOKEN=$(cat token 2>/dev/null)

test_expect_success 'the schema example CreateItem is accepted and answered in Exchange Online shape' '
	sed "s/alice@contoso.example/alice@contoso.com/" "$EXAMPLES/create-calendaritem.xml" >example.req.xml &&
	cp example.req.xml example.xml && ews example && expect_ok example &&
	test "$(msgs example)" = "Success NoError" &&
	grep -q "<m:CreateItemResponse xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">" example.resp &&
	test_grep "^item AAMk" example.sum &&
	grep -q "^request-id: " example.headers
'

test_expect_success 'a request without X-AnchorMailbox is still served (Exchange only serves it slower)' '
	curl -sS --cacert "$SIM_CA" -o noanchor.resp -w "%{http_code}" -H "Authorization: Bearer $TOKEN" \
		-H "Content-Type: text/xml; charset=utf-8" --data-binary @example.req.xml \
		"$SIM_URL/EWS/Exchange.asmx" >noanchor.status &&
	$PY summary.py noanchor.resp >noanchor.sum && expect_ok noanchor &&
	test "$(msgs noanchor)" = "Success NoError"
'

test_expect_success 'the out-of-order example is refused with ErrorSchemaValidation naming the element and line' '
	cp "$EXAMPLES/create-calendaritem-out-of-order.xml" order.bad.xml && cp order.bad.xml order.xml &&
	ews order && expect_fault order ErrorSchemaValidation &&
	test_grep "^LineNumber 29$" order.sum &&
	test_grep "^Violation Element .t:Sensitivity.: This element is not expected" order.sum &&
	test_grep "^faultstring The request failed schema validation: Element .t:Sensitivity." order.sum
'

test_expect_success 'not well-formed XML, and (unlike lxml, like .NET) any DTD, are schema faults' '
	printf "<soap:Envelope" >broken.bad.xml && cp broken.bad.xml broken.xml && ews broken &&
	expect_fault broken ErrorSchemaValidation &&
	{ echo "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"; sed 1d example.req.xml; } >dtd.xml &&
	ews dtd && expect_fault dtd ErrorSchemaValidation &&
	test_grep "DTD is prohibited" dtd.sum && test_grep_not root: dtd.resp
'

test_expect_success 'RequestServerVersion Exchange2019 (exchangelib probe) gets ErrorInvalidRequest; V2018_01_08 is accepted' '
	sed "s/Exchange2016/Exchange2019/" example.req.xml >v2019.bad.xml && cp v2019.bad.xml v2019.xml &&
	ews v2019 && expect_fault v2019 ErrorInvalidRequest &&
	sed "s/Exchange2016/V2018_01_08/" example.req.xml >v2018.req.xml && cp v2018.req.xml v2018.xml &&
	ews v2018 && expect_ok v2018 && test "$(msgs v2018)" = "Success NoError"
'

test_expect_success 'every sample request: the simulator refuses exactly what lxml finds invalid' '
	test "$(ls "$SAMPLES"/*-request.xml | wc -l)" -ge 20 &&
	for f in "$SAMPLES"/*-request.xml; do
		n=sample-$(basename "$f" .xml)
		sed "1{/^<!--.*-->$/d}" "$f" >$n.xml
		sed "s#https://schemas.xmlsoap.org/soap/envelope/#http://schemas.xmlsoap.org/soap/envelope/#" $n.xml >$n-http.xml
	done &&
	ews_xsd_check sample-*.xml >verdicts.json; test -s verdicts.json &&
	$VALIDATE --json sample-*.xml >sim-verdicts.json; test -s sim-verdicts.json &&
	jq -r "\"\\(.file) \\(.valid)\"" verdicts.json >lxml.txt &&
	jq -r "\"\\(.file) \\(.valid)\"" sim-verdicts.json >sim.txt &&
	test_cmp lxml.txt sim.txt &&
	bad=0 &&
	for n in $(ls sample-*.xml | sed "s/\.xml$//"); do
		ews $n || bad=1
		if jq -e -s --arg f $n.xml "map(select(.file == \$f))[0].valid" verdicts.json >/dev/null; then
			test_grep_not ErrorSchemaValidation $n.sum || bad=1
		else
			expect_fault $n ErrorSchemaValidation || bad=1
		fi
	done &&
	test $bad = 0 && test $(jq -s "map(select(.valid)) | length" verdicts.json) -ge 15
'

test_expect_success '401 without a token, with a Graph token (2000003) and without full_access_as_app (2000008)' '
	curl -sS --cacert "$SIM_CA" -D none.h -o /dev/null -w "%{http_code}" --data-binary @example.req.xml \
		"$SIM_URL/EWS/Exchange.asmx" >none.status && test "$(cat none.status)" = 401 &&
	grep -qi "^WWW-Authenticate: Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\"" none.h &&
	cp example.req.xml graphtok.xml && ews graphtok "$(token $APP https://graph.microsoft.com/.default)" &&
	test "$(cat graphtok.status)" = 401 &&
	grep -qi "^x-ms-diagnostics: 2000003;reason=\"The audience claim value is invalid .aud.\.\";error_category=\"invalid_resource\"" graphtok.headers &&
	grep -qi "error=\"invalid_token\"" graphtok.headers &&
	cp example.req.xml norole.xml && ews norole "$(token $NOROLE)" && test "$(cat norole.status)" = 401 &&
	grep -qi "^x-ms-diagnostics: 2000008;.*error_category=\"invalid_grant\"" norole.headers
'

test_expect_success 'an expired token is 401 with 2000002 token_expired' '
	sim_ctl POST /_sim/faults "{\"kind\": \"token_expired\", \"next\": 1}" >/dev/null &&
	cp example.req.xml expired.xml && ews expired && test "$(cat expired.status)" = 401 &&
	grep -qi "^x-ms-diagnostics: 2000002;.*error_category=\"token_expired\"" expired.headers
'

test_expect_success 'an app without EWS allowed gets HTTP 403' '
	cp example.req.xml noews.xml && ews noews "$(token $NOEWS)" && test "$(cat noews.status)" = 403
'

test_expect_success 'ErrorNonExistentMailbox for an unknown impersonated mailbox' '
	sed "s/alice@contoso.com/nobody@contoso.com/" example.req.xml >nobody.req.xml && cp nobody.req.xml nobody.xml &&
	ews nobody && expect_fault nobody ErrorNonExistentMailbox &&
	test_grep "^faultstring The SMTP address has no mailbox associated with it.$" nobody.sum
'

test_expect_success 'an app-only token without ExchangeImpersonation is refused, as Exchange Online does' '
	echo "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"/></m:FolderIds></m:GetFolder>" |
		envelope "" Exchange2016 >noimp.req.xml && cp noimp.req.xml noimp.xml &&
	ews noimp && expect_fault noimp ErrorInvalidExchangeImpersonationHeaderData &&
	test_grep "^faultstring ExchangeImpersonation SOAP header must be present for this type of OAuth token.$" noimp.sum
'

test_expect_success 'PrimarySmtpAddress and a folder Mailbox take the primary address only; SmtpAddress any' '
	getfolder="<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"/></m:FolderIds></m:GetFolder>" &&
	echo "$getfolder" | envelope a.ahlberg@contoso.com Exchange2016 >alias1.req.xml && cp alias1.req.xml alias1.xml &&
	ews alias1 && expect_fault alias1 ErrorNonExistentMailbox &&
	sed "s/PrimarySmtpAddress/SmtpAddress/g" alias1.req.xml >alias2.req.xml && cp alias2.req.xml alias2.xml &&
	ews alias2 && expect_ok alias2 && test "$(msgs alias2)" = "Success NoError" &&
	sed "s#<t:DistinguishedFolderId Id=\"calendar\"/>#<t:DistinguishedFolderId Id=\"calendar\"><t:Mailbox><t:EmailAddress>a.ahlberg@contoso.com</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>#" \
		alias2.req.xml >alias3.req.xml && cp alias3.req.xml alias3.xml &&
	ews alias3 && test "$(msgs alias3)" = "Error ErrorNonExistentMailbox"
'

test_expect_success 'ErrorImpersonateUserDenied for a mailbox outside the app scope; in scope works' '
	SCOPED_TOKEN=$(token $SCOPED) &&
	sed "s/alice@contoso.com/bob@contoso.com/" example.req.xml >denied.req.xml && cp denied.req.xml denied.xml &&
	ews denied "$SCOPED_TOKEN" && expect_fault denied ErrorImpersonateUserDenied &&
	cp example.req.xml scoped.xml && ews scoped "$SCOPED_TOKEN" && expect_ok scoped
'

test_expect_success 'ErrorAccessDenied for a calendar not shared with the impersonated user; the batch stops' '
	{
		echo "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId>"
		echo "<t:DistinguishedFolderId Id=\"calendar\"><t:Mailbox><t:EmailAddress>alice@contoso.com</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"
		echo "</m:SavedItemFolderId><m:Items>"
		calitem one 2026-12-01T09:00:00Z 2026-12-01T10:00:00Z
		calitem two 2026-12-01T09:00:00Z 2026-12-01T10:00:00Z
		echo "</m:Items></m:CreateItem>"
	} | envelope bob@contoso.com Exchange2016 >access.req.xml && cp access.req.xml access.xml &&
	ews access && expect_ok access &&
	printf "Error ErrorAccessDenied\nWarning ErrorBatchProcessingStopped\n" >expect &&
	msgs access >actual && test_cmp expect actual &&
	test_grep "^msg Error ErrorAccessDenied Access is denied. Check credentials and try again. 0$" access.sum &&
	sed "s/bob@contoso.com/carol@contoso.com/" access.req.xml >shared.req.xml && cp shared.req.xml shared.xml &&
	ews shared && printf "Success NoError\nSuccess NoError\n" >expect && msgs shared >actual && test_cmp expect actual
'

test_expect_success 'a batch answers one message per item, in order, with per-item errors' '
	create_req batch.req alice@contoso.com \
		"$(calitem first 2026-11-02T08:00:00Z 2026-11-02T12:00:00Z "$(keyprop k-1)")" \
		"$(calitem backwards 2026-11-03T12:00:00Z 2026-11-03T08:00:00Z)" \
		"$(calitem toolong 2026-11-03T12:00:00Z 2032-11-03T08:00:00Z)" \
		"$(calitem third 2026-11-04T08:00:00Z 2026-11-04T12:00:00Z "$(keyprop k-3)")" &&
	cp batch.req.xml batch.xml && ews batch && expect_ok batch &&
	printf "%s\n" "Success NoError" "Error ErrorCalendarEndDateIsEarlierThanStartDate" \
		"Error ErrorCalendarDurationIsTooLong" "Success NoError" >expect &&
	msgs batch >actual && test_cmp expect actual &&
	test $(grep -c "^item " batch.sum) = 2 &&
	sim_ctl GET /_sim/counters >counters.json &&
	jq -e ".\"ews.CreateItem\" >= 1 and .\"ews.items.created\" >= 2" counters.json >/dev/null
'

test_expect_success 'GetItem returns the properties in schema order, times in UTC with Z' '
	ID1=$(sed -n "s/^item \([^ ]*\) .*/\1/p" batch.sum | head -n 1) && echo "$ID1" >id1 &&
	getitem_req get.req alice@contoso.com AllProperties "$ID1" && cp get.req.xml get.xml &&
	ews get && expect_ok get && test "$(msgs get)" = "Success NoError" &&
	test_grep "^  Subject first$" get.sum && test_grep "^  Start 2026-11-02T08:00:00Z$" get.sum &&
	test_grep "^  End 2026-11-02T12:00:00Z$" get.sum && test_grep "^  LegacyFreeBusyStatus OOF$" get.sum &&
	test_grep "^  Sensitivity Private$" get.sum && test_grep "^  Categories Leave$" get.sum &&
	test_grep "^  ReminderIsSet false$" get.sum && test_grep "^  ExtendedProperty k-1$" get.sum &&
	test_grep "^  StartTimeZone UTC$" get.sum && test_grep "^  Body Leave$" get.sum &&
	getitem_req idonly.req alice@contoso.com IdOnly "$ID1" && cp idonly.req.xml idonly.xml && ews idonly &&
	expect_ok idonly && test_grep_not "Subject" idonly.sum && test_grep "ExtendedProperty k-1" idonly.sum
'

test_expect_success 'a subject longer than 255 characters is kept cut to 255 ("The subject is limited to 255 characters")' '
	create_req long.req alice@contoso.com "$(calitem "$(printf "%0300d" 0 | tr 0 y)" 2027-05-05T08:00:00Z 2027-05-05T09:00:00Z)" &&
	cp long.req.xml long.xml && ews long && test "$(msgs long)" = "Success NoError" &&
	getitem_req long2.req alice@contoso.com AllProperties "$(first_id long)" && cp long2.req.xml long2.xml &&
	ews long2 && subject=$(sed -n "s/^  Subject //p" long2.sum) &&
	test "${#subject}" = 255 && case "$subject" in *yyy...) ;; *) false;; esac
'

test_expect_success 'ErrorInvalidIdMalformed for a malformed id, ErrorItemNotFound for an unknown one' '
	getitem_req bad.req alice@contoso.com IdOnly "AAMkA" "AAMkAGI2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" &&
	cp bad.req.xml bad.xml && ews bad && expect_ok bad &&
	printf "Error ErrorInvalidIdMalformed\nError ErrorItemNotFound\n" >expect && msgs bad >actual && test_cmp expect actual &&
	test_grep "^msg Error ErrorInvalidIdMalformed Id is malformed. 0$" bad.sum &&
	test_grep "^msg Error ErrorItemNotFound The specified object was not found in the store. 0$" bad.sum
'

test_expect_success 'an item id belongs to its mailbox: impersonating another one, it is not found (whatever X-AnchorMailbox says)' '
	getitem_req other.req bob@contoso.com IdOnly "$(cat id1)" && cp other.req.xml other.xml &&
	ews other && expect_ok other && test "$(msgs other)" = "Error ErrorItemNotFound"
'

test_expect_success 'UpdateItem: new change key; stale key fails with NeverOverwrite and AutoResolve, wins with AlwaysOverwrite' '
	ID1=$(cat id1) && CK0=$(sed -n "s/^item [^ ]* \(.*\)/\1/p" get.sum) &&
	update_req up1.req "$ID1" "$CK0" NeverOverwrite "renamed" && cp up1.req.xml up1.xml && ews up1 && expect_ok up1 &&
	test "$(msgs up1)" = "Success NoError" && CK1=$(first_ck up1) && test -n "$CK1" && test "$CK1" != "$CK0" &&
	test "$(first_id up1)" = "$ID1" &&
	update_req up2.req "$ID1" "$CK0" NeverOverwrite "stale" && cp up2.req.xml up2.xml && ews up2 &&
	test "$(msgs up2)" = "Error ErrorIrresolvableConflict" &&
	test_grep "^msg Error ErrorIrresolvableConflict The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item. 0$" up2.sum &&
	update_req up3.req "$ID1" "$CK0" AutoResolve "stale" && cp up3.req.xml up3.xml && ews up3 &&
	test "$(msgs up3)" = "Error ErrorIrresolvableConflict" &&
	update_req up4.req "$ID1" "$CK0" AlwaysOverwrite "overwritten" && cp up4.req.xml up4.xml && ews up4 &&
	test "$(msgs up4)" = "Success NoError" &&
	getitem_req get2.req alice@contoso.com Default "$ID1" && cp get2.req.xml get2.xml && ews get2 &&
	test_grep "^  Subject overwritten$" get2.sum
'

test_expect_success 'UpdateItem: a zone-less Start without TimeZoneContext is refused; with an offset it is placed' '
	ID1=$(cat id1) &&
	envelope alice@contoso.com Exchange2016 >up6.req.xml <<-EOF &&
	<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone">
	  <m:ItemChanges><t:ItemChange><t:ItemId Id="$ID1"/><t:Updates>
	    <t:SetItemField><t:FieldURI FieldURI="calendar:StartTimeZone"/><t:CalendarItem><t:StartTimeZone Id="FLE Standard Time"/></t:CalendarItem></t:SetItemField>
	    <t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2026-11-02T07:00:00</t:Start></t:CalendarItem></t:SetItemField>
	  </t:Updates></t:ItemChange></m:ItemChanges>
	</m:UpdateItem>
	EOF
	cp up6.req.xml up6.xml && ews up6 && test "$(msgs up6)" = "Error ErrorInvalidValueForProperty" &&
	sed "s#<t:Start>2026-11-02T07:00:00</t:Start>#<t:Start>2026-11-02T07:00:00+02:00</t:Start>#" up6.req.xml >up7.req.xml &&
	cp up7.req.xml up7.xml && ews up7 && test "$(msgs up7)" = "Success NoError" &&
	getitem_req get5.req alice@contoso.com AllProperties "$ID1" && cp get5.req.xml get5.xml && ews get5 &&
	test_grep "^  Start 2026-11-02T05:00:00Z$" get5.sum
'

test_expect_success 'UpdateItem sets and deletes an extended property and moves times with StartTimeZone' '
	ID1=$(cat id1) &&
	envelope alice@contoso.com Exchange2016 "W. Europe Standard Time" >up5.req.xml <<-EOF &&
	<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone">
	  <m:ItemChanges><t:ItemChange><t:ItemId Id="$ID1"/><t:Updates>
	    <t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2026-11-02T09:00:00</t:Start></t:CalendarItem></t:SetItemField>
	    <t:SetItemField><t:FieldURI FieldURI="calendar:StartTimeZone"/><t:CalendarItem><t:StartTimeZone Id="W. Europe Standard Time"/></t:CalendarItem></t:SetItemField>
	    <t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2026-11-02T17:00:00</t:End></t:CalendarItem></t:SetItemField>
	    <t:DeleteItemField><t:ExtendedFieldURI PropertySetId="$KEYSET" PropertyName="LeaveSyncKey" PropertyType="String"/></t:DeleteItemField>
	  </t:Updates></t:ItemChange></m:ItemChanges>
	</m:UpdateItem>
	EOF
	cp up5.req.xml up5.xml && ews up5 && test "$(msgs up5)" = "Success NoError" &&
	getitem_req get3.req alice@contoso.com AllProperties "$ID1" && cp get3.req.xml get3.xml && ews get3 &&
	test_grep "^  Start 2026-11-02T08:00:00Z$" get3.sum && test_grep "^  End 2026-11-02T16:00:00Z$" get3.sum &&
	test_grep "^  StartTimeZone W. Europe Standard Time$" get3.sum && test_grep_not ExtendedProperty get3.sum
'

test_expect_success 'all-day items: zone-less midnights in StartTimeZone, widened when not at midnight' '
	create_req allday.req alice@contoso.com "
	  <t:CalendarItem><t:Subject>Annual leave</t:Subject><t:Start>2026-12-21T00:00:00</t:Start>
	  <t:End>2026-12-24T00:00:00</t:End><t:IsAllDayEvent>true</t:IsAllDayEvent>
	  <t:LegacyFreeBusyStatus>OOF</t:LegacyFreeBusyStatus>
	  <t:StartTimeZone Id=\"W. Europe Standard Time\"/><t:EndTimeZone Id=\"W. Europe Standard Time\"/></t:CalendarItem>" "
	  <t:CalendarItem><t:Subject>Half</t:Subject><t:Start>2026-07-06T10:00:00</t:Start>
	  <t:End>2026-07-06T13:00:00</t:End><t:IsAllDayEvent>true</t:IsAllDayEvent></t:CalendarItem>" &&
	sed -i "s#<t:RequestServerVersion Version=\"Exchange2016\"/>#&<t:TimeZoneContext><t:TimeZoneDefinition Id=\"FLE Standard Time\"/></t:TimeZoneContext>#" allday.req.xml &&
	cp allday.req.xml allday.xml && ews allday && printf "Success NoError\nSuccess NoError\n" >expect &&
	msgs allday >actual && test_cmp expect actual &&
	getitem_req get4.req alice@contoso.com AllProperties $(sed -n "s/^item \([^ ]*\) .*/\1/p" allday.sum) &&
	cp get4.req.xml get4.xml && ews get4 &&
	sed -n "s/^  \(Start\|End\|StartTimeZone\) //p" get4.sum >actual &&
	printf "%s\n" 2026-12-20T23:00:00Z 2026-12-23T23:00:00Z "W. Europe Standard Time" \
		2026-07-05T21:00:00Z 2026-07-06T21:00:00Z "FLE Standard Time" >expect && test_cmp expect actual
'

test_expect_success 'calendar errors: unknown time zone, missing SendMeetingInvitations' '
	create_req badtz.req alice@contoso.com "<t:CalendarItem><t:Start>2026-12-21T00:00:00</t:Start><t:End>2026-12-22T00:00:00</t:End><t:StartTimeZone Id=\"Mars Standard Time\"/></t:CalendarItem>" &&
	cp badtz.req.xml badtz.xml && ews badtz && test "$(msgs badtz)" = "Error ErrorCalendarInvalidTimeZone" &&
	sed "s/ SendMeetingInvitations=\"SendToNone\"//" example.req.xml >noinv.req.xml && cp noinv.req.xml noinv.xml &&
	ews noinv && test "$(msgs noinv)" = "Error ErrorSendMeetingInvitationsRequired"
'

test_expect_success 'FindItem CalendarView: range, truncation, 2-year limit, restriction refused' '
	view_req view.req alice@contoso.com 2026-11-01T00:00:00Z 2026-11-30T00:00:00Z && cp view.req.xml view.xml &&
	ews view && expect_ok view && test_grep "^root 2 true None$" view.sum &&
	sed -n "s/^  Subject //p" view.sum >actual && printf "overwritten\nthird\n" >expect && test_cmp expect actual &&
	view_req view1.req alice@contoso.com 2026-11-01T00:00:00Z 2026-11-30T00:00:00Z 1 && cp view1.req.xml view1.xml &&
	ews view1 && test_grep "^root 2 false None$" view1.sum && test $(grep -c "^item " view1.sum) = 1 &&
	view_req big.req alice@contoso.com 2026-01-01T00:00:00Z 2028-06-01T00:00:00Z && cp big.req.xml big.xml &&
	ews big && test "$(msgs big)" = "Error ErrorCalendarViewRangeTooBig"
'

test_expect_success 'FindItem restriction on the extended property, with IndexedPageItemView paging' '
	envelope alice@contoso.com Exchange2016 >find.req.xml <<-EOF &&
	<m:FindItem Traversal="Shallow">
	  <m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>
	    <t:ExtendedFieldURI PropertySetId="$KEYSET" PropertyName="LeaveSyncKey" PropertyType="String"/>
	  </t:AdditionalProperties></m:ItemShape>
	  <m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/>
	  <m:Restriction><t:Or>
	    <t:IsEqualTo><t:ExtendedFieldURI PropertySetId="$KEYSET" PropertyName="LeaveSyncKey" PropertyType="String"/>
	      <t:FieldURIOrConstant><t:Constant Value="k-3"/></t:FieldURIOrConstant></t:IsEqualTo>
	    <t:And><t:Exists><t:ExtendedFieldURI PropertySetId="$KEYSET" PropertyName="LeaveSyncKey" PropertyType="String"/></t:Exists>
	      <t:IsEqualTo><t:FieldURI FieldURI="item:Subject"/><t:FieldURIOrConstant><t:Constant Value="nothing"/></t:FieldURIOrConstant></t:IsEqualTo></t:And>
	  </t:Or></m:Restriction>
	  <m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds>
	</m:FindItem>
	EOF
	cp find.req.xml find.xml && ews find && expect_ok find && test_grep "^root 1 true 1$" find.sum &&
	test_grep "^  ExtendedProperty k-3$" find.sum &&
	sed "s#</m:ItemShape>#</m:ItemShape>#; s#<m:IndexedPageItemView[^>]*/>#<m:CalendarView StartDate=\"2026-11-01T00:00:00Z\" EndDate=\"2026-12-01T00:00:00Z\"/>#" find.req.xml >findcv.req.xml &&
	cp findcv.req.xml findcv.xml && ews findcv && test "$(msgs findcv)" = "Error ErrorInvalidRestriction"
'

test_expect_success 'SyncFolderItems: creates, paging, updates and deletes; a bad state is ErrorInvalidSyncStateData' '
	sync_req s1.req "" 2 && cp s1.req.xml s1.xml && ews s1 && expect_ok s1 && test_grep "^last false$" s1.sum &&
	test $(grep -c "^change Create" s1.sum) = 2 && S1=$(sed -n "s/^syncstate //p" s1.sum) &&
	sync_req s2.req "$S1" 512 && cp s2.req.xml s2.xml && ews s2 && test_grep "^last true$" s2.sum &&
	test $(grep -c "^change " s2.sum) -ge 1 && test_grep_not "^change Update" s2.sum &&
	S2=$(sed -n "s/^syncstate //p" s2.sum) &&
	sync_req s3.req "$S2" 512 && cp s3.req.xml s3.xml && ews s3 && test_grep_not "^change" s3.sum &&
	ID1=$(cat id1) && update_req up6.req "$ID1" x AlwaysOverwrite "again" && sed -i "s/ ChangeKey=\"x\"//" up6.req.xml &&
	cp up6.req.xml up6.xml && ews up6 && test "$(msgs up6)" = "Success NoError" &&
	delete_req del0.req HardDelete "$(sed -n "s/^item \([^ ]*\) .*/\1/p" batch.sum | tail -n 1)" && cp del0.req.xml del0.xml && ews del0 &&
	sync_req s4.req "$S2" 512 && cp s4.req.xml s4.xml && ews s4 && expect_ok s4 &&
	test_grep "^change Update $ID1$" s4.sum && test $(grep -c "^change Delete" s4.sum) = 1 &&
	sync_req s5.req "H4sIAAAAAAAEAO29B2AcSZYlJi9tynt" 512 && cp s5.req.xml s5.xml && ews s5 &&
	test "$(msgs s5)" = "Error ErrorInvalidSyncStateData" && test_grep "^syncstate $" s5.sum &&
	test_grep "^msg Error ErrorInvalidSyncStateData Synchronization state data is corrupt or otherwise invalid. 0$" s5.sum
'

test_expect_success 'DeleteItem: HardDelete, then ErrorItemNotFound; MoveToDeletedItems gives a new id' '
	ID1=$(cat id1) && delete_req del1.req HardDelete "$ID1" && cp del1.req.xml del1.xml && ews del1 &&
	expect_ok del1 && test "$(msgs del1)" = "Success NoError" &&
	cp del1.req.xml del2.xml && ews del2 && test "$(msgs del2)" = "Error ErrorItemNotFound" &&
	test_grep "^msg Error ErrorItemNotFound The specified object was not found in the store. 0$" del2.sum &&
	create_req one.req alice@contoso.com "$(calitem moved 2026-10-01T08:00:00Z 2026-10-01T09:00:00Z)" &&
	cp one.req.xml one.xml && ews one && ID2=$(first_id one) &&
	delete_req del3.req MoveToDeletedItems "$ID2" && cp del3.req.xml del3.xml && ews del3 &&
	test "$(msgs del3)" = "Success NoError" &&
	getitem_req get5.req alice@contoso.com IdOnly "$ID2" && cp get5.req.xml get5.xml && ews get5 &&
	test "$(msgs get5)" = "Error ErrorItemNotFound" &&
	sim_ctl GET /_sim/mailboxes/alice@contoso.com >dump.json &&
	jq -e "[.items[] | select(.subject == \"moved\")] | length == 1 and .[0].folder == \"deleteditems\" and .[0].ews_id != \"$ID2\"" dump.json >/dev/null
'

test_expect_success 'ErrorExceededFindCountLimit above 1000 items in a CalendarView' '
	items="" && for i in $(seq 1 50); do items="$items $(calitem bulk 2027-03-01T08:00:00Z 2027-03-01T09:00:00Z)"; done &&
	create_req bulk.req carol@contoso.com "$items" &&
	$VALIDATE -q bulk.req.xml && cp bulk.req.xml bulk.xml &&
	bad=0 && for i in $(seq 1 21); do ews bulk || bad=1; done && test $bad = 0 &&
	test $(grep -c "^msg Success" bulk.sum) = 50 &&
	view_req many.req carol@contoso.com 2027-03-01T00:00:00Z 2027-03-02T00:00:00Z 10 && cp many.req.xml many.xml &&
	ews many && expect_ok many && test "$(msgs many)" = "Error ErrorExceededFindCountLimit" &&
	test_grep "^value PolicyLimit 1000$" many.sum
'

test_expect_success 'ErrorServerBusy with BackOffMilliseconds when the control API arms it' '
	sim_ctl POST /_sim/faults "{\"kind\": \"ews_server_busy\", \"next\": 1, \"retry_after\": 2.5}" >/dev/null &&
	cp example.req.xml busy.xml && ews busy && expect_fault busy ErrorServerBusy &&
	test_grep "^value BackOffMilliseconds 2500$" busy.sum &&
	test_grep "^faultstring The server cannot service this request right now. Try again later.$" busy.sum &&
	cp example.req.xml after.xml && ews after && expect_ok after
'

test_expect_success 'an operation the simulator does not implement: ErrorAccessDenied, as Exchange answers a web method the caller may not use' '
	echo "<m:ResolveNames ReturnFullContactData=\"false\"><m:UnresolvedEntry>alice</m:UnresolvedEntry></m:ResolveNames>" |
		envelope alice@contoso.com Exchange2016 >unsupported.req.xml && cp unsupported.req.xml unsupported.xml &&
	ews unsupported && expect_fault unsupported ErrorAccessDenied &&
	test_grep "^faultstring The requested web method is unavailable to this caller or application.$" unsupported.sum &&
	before=$(sim_ctl GET /_sim/counters | jq ".\"ews.unsupported\" // 0") &&
	$PY "$TEST_DIR/clients/exchangelib_unsupported.py" "$SIM_URL" "$SIM_CA" $T $APP "$SECRET" alice@contoso.com \
		>xlu.out 2>&1 || { cat xlu.out; false; } &&
	test "$(cat xlu.out)" = ErrorAccessDenied &&
	test "$(sim_ctl GET /_sim/counters | jq ".\"ews.unsupported\"")" = $((before + 1))
'

test_expect_success 'GET on the endpoint is not allowed' '
	curl -sS --cacert "$SIM_CA" -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $TOKEN" \
		"$SIM_URL/EWS/Exchange.asmx" >get.status && test "$(cat get.status)" = 405
'

test_expect_success 'every request this test meant to be valid is valid; the bad ones are not (both opinions)' '
	$VALIDATE -q *.req.xml && ews_xsd_check -q *.req.xml &&
	bad=0 && for f in *.bad.xml; do
		test_expect_code 1 $VALIDATE -q $f >/dev/null || bad=1
		test_expect_code 1 ews_xsd_check $f >/dev/null || bad=1
	done && test $bad = 0
'

test_expect_success 'every response body the simulator sent validates against messages.xsd' '
	$PY respcheck.py "$EWS_XSD" $(for f in *.resp; do test -s $f && echo $f; done)
'

test_expect_success 'exchangelib creates, lists in a range, finds, updates and deletes calendar items' '
	$PY "$TEST_DIR/clients/exchangelib_check.py" "$SIM_URL" "$SIM_CA" $T $APP "$SECRET" bob@contoso.com >xl.out 2>&1 ||
		{ cat xl.out; false; } &&
	cat xl.out && test_grep_not "^not ok" xl.out && test $(grep -c "^ok" xl.out) = 13
'

test_done
