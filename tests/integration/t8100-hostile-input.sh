#!/bin/sh
# t8100: hostile input, both backends against m365sim over HTTPS: XML/JSON metacharacters reach the
# calendar byte-identical; control characters, invalid UTF-8 and an oversized note are refused at
# push naming the record and field (docs/store.md); TLS with a wrong CA or hostname fails closed.
test_description='hostile leave fields and TLS failures'
. "$(dirname "$0")/test-lib.sh"

# Records whose kind (the subject, through subject = {kind}) and note (the body) carry XML and JSON
# metacharacters; the expected subject/body of each is kept in expect.json.
/usr/bin/python3 - <<'PY'
import json
kinds = ["<b>&amp; \"q\" 'a' \\ ]]> </t:Subject>",
         "{\"x\":1} \u00e9\u2603\U0001d11e [\"]}",
         "</t:Subject><t:Subject>evil</t:Subject>",
         "<!DOCTYPE x [<!ENTITY e \"boom\">]>&e;"]
notes = ["line1\n\tline2 <![CDATA[x]]> ]]> {\"x\":1} &e; &lt; &#0;",
         "</t:Body><t:Subject>evil</t:Subject> \\\" ' \\u0000",
         "tab\there\nnewline, \"quotes\" and 'apostrophes' & <tags/>",
         "{\"error\":{\"code\":\"ErrorAccessDenied\"}} ]]><x>"]
recs = []
for i, (k, n) in enumerate(zip(kinds, notes)):
    recs.append({"id": "H-%d" % (i + 1), "mailbox": "alice@contoso.com", "kind": k,
                 "start": "2027-01-%02d" % (4 + i), "end": "2027-01-%02d" % (4 + i),
                 "status": "approved", "revision": 1, "time_zone": "UTC", "note": n})
open("hostile.json", "w").write(json.dumps(recs))
open("expect.json", "w").write(json.dumps(sorted([[k, n] for k, n in zip(kinds, notes)])))
PY

# A leave with one field replaced by raw bytes, as NDJSON or CSV.
bad_record() { # FORMAT FIELD BYTES(printf)
	if [ "$1" = csv ]; then
		printf 'id,mailbox,kind,start,end,status,revision,time_zone,note\n'
		printf 'B-1,alice@contoso.com,Annual leave,2027-02-01,2027-02-01,approved,1,UTC,ok\n'
		case $2 in
		kind) printf "B-2,alice@contoso.com,$3,2027-02-02,2027-02-02,approved,1,UTC,ok\n" ;;
		note) printf "B-2,alice@contoso.com,Annual leave,2027-02-02,2027-02-02,approved,1,UTC,$3\n" ;;
		esac
	else
		printf '{"id":"B-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-02-01","end":"2027-02-01","status":"approved","revision":1,"time_zone":"UTC"}\n'
		case $2 in
		kind) printf "{\"id\":\"B-2\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"$3\",\"start\":\"2027-02-02\",\"end\":\"2027-02-02\",\"status\":\"approved\",\"revision\":1}\n" ;;
		note) printf "{\"id\":\"B-2\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-02-02\",\"end\":\"2027-02-02\",\"status\":\"approved\",\"revision\":1,\"note\":\"$3\"}\n" ;;
		esac
	fi
}

leave_count() {
	sqlite3 leavesync.db "select count(*) from leave"
}

for BACKEND in ews graph; do

test_expect_success "$BACKEND: setup" '
	sim_stop && rm -rf leavesync.db* &&
	sim_start &&
	write_config $BACKEND &&
	printf "\n[event]\nsubject = {kind}\ninclude_note = true\n" >>leavesync.conf &&
	leavesync init
'

test_expect_success "$BACKEND: metacharacters in subject and note arrive byte-identical" '
	leavesync push hostile.json &&
	leavesync sync >out 2>&1 &&
	test_grep "4 created" out &&
	calendar alice@contoso.com >cal.json &&
	jq -c "sort_by(.subject) | map([.subject, (.body // \"\")]) | sort" cal.json >actual &&
	jq -c . expect.json >expect &&
	test_cmp expect actual
'

test_expect_success "$BACKEND: a second sync finds nothing to rewrite" '
	leavesync sync >out 2>&1 &&
	test_grep "0 created, 0 updated, 0 deleted" out
'

# NDJSON carries control characters as JSON escapes (a raw one is malformed JSON, also refused);
# CSV carries them raw. The bad record is on line 2 of the NDJSON file, line 3 of the CSV file.
for fmt in ndjson csv; do
if [ $fmt = csv ]; then line=3 soh="\\001" bel="\\007"; else line=2 soh="\\\\u0001" bel="\\\\u0007"; fi
test_expect_success "$BACKEND: $fmt: a control character in kind is refused, naming record and field" '
	before=$(leave_count) &&
	bad_record $fmt kind "Annual${soh}leave" >bad.$fmt &&
	test_expect_code 2 leavesync push bad.$fmt 2>err &&
	test_grep "line $line: kind: contains a control character (U+0001" err &&
	test "$(leave_count)" = "$before"
'

test_expect_success "$BACKEND: $fmt: a control character other than tab/newline in a note is refused" '
	before=$(leave_count) &&
	bad_record $fmt note "ring${bel}bell" >bad.$fmt &&
	test_expect_code 2 leavesync push bad.$fmt 2>err &&
	test_grep "line $line: note: contains a control character (U+0007" err &&
	test_grep "only tab and newline are allowed in a note" err &&
	test "$(leave_count)" = "$before"
'
done

test_expect_success "$BACKEND: ndjson: a raw control character is malformed JSON, refused" '
	before=$(leave_count) &&
	bad_record ndjson kind "Annual\001leave" >bad.ndjson &&
	test_expect_code 2 leavesync push bad.ndjson 2>err &&
	test_grep "line 2: malformed JSON.*control character" err &&
	test "$(leave_count)" = "$before"
'

test_expect_success "$BACKEND: csv: invalid UTF-8 is refused, naming record and field" '
	before=$(leave_count) &&
	bad_record csv note "caf\351 \377" >bad.csv &&
	test_expect_code 2 leavesync push bad.csv 2>err &&
	test_grep "line 3" err && test_grep "note" err && test_grep "UTF-8" err &&
	bad_record csv kind "\300\257" >bad.csv &&
	test_expect_code 2 leavesync push bad.csv 2>err &&
	test_grep "line 3" err && test_grep "kind" err && test_grep "UTF-8" err &&
	test "$(leave_count)" = "$before"
'

test_expect_success "$BACKEND: ndjson: invalid UTF-8 is refused, naming the line" '
	before=$(leave_count) &&
	bad_record ndjson note "caf\351" >bad.ndjson &&
	test_expect_code 2 leavesync push bad.ndjson 2>err &&
	test_grep "line 2" err && test_grep "UTF-8" err &&
	test "$(leave_count)" = "$before"
'

test_expect_success "$BACKEND: a 1 MB note is refused by the documented 4096-byte limit" '
	before=$(leave_count) &&
	/usr/bin/python3 -c "import json; print(json.dumps([{\"id\":\"BIG\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-03-01\",\"end\":\"2027-03-01\",\"status\":\"approved\",\"revision\":1,\"note\":\"x\"*1048576}]))" >big.json &&
	test_expect_code 2 leavesync push big.json 2>err &&
	test_grep "note" err && test_grep "1048576 bytes" err && test_grep "4096" err &&
	test "$(leave_count)" = "$before" &&
	grep -q "note.*at most 4096 bytes" "$SRC_DIR/docs/store.md"
'

# Each TLS test first pushes a leave waiting to be written, so that the failure has something it must
# not write.
test_expect_success "$BACKEND: TLS with a CA that did not sign the server fails closed" '
	echo "{\"id\":\"T-1\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-04-01\",\"end\":\"2027-04-01\",\"status\":\"approved\",\"revision\":1}" | leavesync push - &&
	mkdir -p other &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" \
		-keyout other/ca.key -out other/ca.pem >/dev/null 2>&1 &&
	sed "s|^ca_file = .*|ca_file = $TRASH/other/ca.pem|" leavesync.conf >wrong-ca.conf &&
	chmod 600 wrong-ca.conf &&
	test_expect_code 1 leavesync -c wrong-ca.conf sync >out 2>&1 &&
	cat out &&
	grep -q "certificate not trusted: set \[tls\] ca_file" out &&
	test "$(calendar bob@contoso.com | jq length)" = 0 &&
	test "$(sqlite3 leavesync.db "select count(*) from target where state = \"synced\" and leave_id = \"T-1\"")" = 0
'

test_expect_success "$BACKEND: TLS with a certificate for another host name fails closed" '
	echo "{\"id\":\"T-2\",\"mailbox\":\"bob@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-04-02\",\"end\":\"2027-04-02\",\"status\":\"approved\",\"revision\":1}" | leavesync push - &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=wrong.example" \
		-keyout tls/wrong.key -out tls/wrong.csr >/dev/null 2>&1 &&
	printf "subjectAltName=DNS:wrong.example\nbasicConstraints=CA:FALSE\n" >tls/wrong.cnf &&
	openssl x509 -req -in tls/wrong.csr -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial \
		-days 2 -extfile tls/wrong.cnf -out tls/wrong.pem >/dev/null 2>&1 &&
	# (the loop runs this twice: remove the output of the first, or the wait below may read it before
	# the background shell truncates it)
	rm -f wrong-sim.out wrong-sim.pid &&
	{ "$BUILD_DIR/m365sim" --port 0 --tls-cert tls/wrong.pem --tls-key tls/wrong.key \
		>wrong-sim.out 2>wrong-sim.err & echo $! >wrong-sim.pid; } &&
	test_wait_for 60 grep -q "^listening on " wrong-sim.out &&
	wrong_url=$(sed -n "s/^listening on //p" wrong-sim.out | head -n 1) &&
	sed "s|$SIM_URL|$wrong_url|g" leavesync.conf >wrong-host.conf && chmod 600 wrong-host.conf &&
	test_expect_code 1 leavesync -c wrong-host.conf sync >out 2>&1
	rc=$?
	kill "$(cat wrong-sim.pid)"; wait "$(cat wrong-sim.pid)" 2>/dev/null
	cat out &&
	test $rc -eq 0 &&
	grep -q "host name does not match the server.s certificate" out &&
	test "$(calendar bob@contoso.com | jq length)" = 0
'

# A TLS failure is the setup's fault, not the items': they wait (blocked), and the next sync writes
# them once the configuration is fixed.
test_expect_success "$BACKEND: with the right CA, the next sync writes the waiting leave" '
	test "$(sqlite3 leavesync.db "select count(*) from target where leave_id like \"T-%\" and state = \"waiting\"")" = 2 &&
	leavesync sync >out 2>&1 &&
	test "$(calendar bob@contoso.com | jq length)" = 2
'

done

test_done
