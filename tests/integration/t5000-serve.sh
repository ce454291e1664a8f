#!/bin/sh
test_description='leavesync serve: an HR script pushes, cancels and queries leave over HTTPS with an API key'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-serve.sh"

cat >lv1.json <<'JSON'
{"mailbox": "alice@contoso.com", "kind": "Annual leave", "start": "2026-12-24", "end": "2026-12-31", "status": "approved", "revision": 1, "note": "NOTE-NEVER-LOGGED"}
JSON
sed 's/"approved", "revision": 1/"cancelled", "revision": 2/' lv1.json >lv1-cancel.json
cat >bad-batch.json <<'JSON'
[{"id": "B-1", "mailbox": "alice@contoso.com", "kind": "Annual leave", "start": "2027-01-04", "end": "2027-01-05", "status": "approved"},
 {"id": "B-2", "mailbox": "not-an-address", "kind": "Annual leave", "start": "2027-01-04", "end": "2027-01-02", "status": "approved"}]
JSON
cat >good.ndjson <<'JSON'
{"id": "N-1", "mailbox": "alice@contoso.com", "kind": "Annual leave", "start": "2027-05-03", "end": "2027-05-04", "status": "approved"}
{"id": "N-2", "mailbox": "bob@contoso.com", "kind": "Annual leave", "start": "2027-05-03", "end": "2027-05-04", "status": "approved"}
JSON

test_expect_success 'setup: simulator, store, three API keys' '
	sim_start && write_config ews && leavesync init &&
	leavesync apikey create --name hr-push >push.key 2>create.err &&
	leavesync apikey create --name hr-read --scope read >read.key &&
	leavesync apikey create --name ops --scope admin >admin.key &&
	test "$(wc -l <push.key)" = 1 && grep -q "^lsk_[A-Za-z0-9_-]\{43\}$" push.key &&
	test_grep "shown only now" create.err &&
	PUSH=$(cat push.key) READ=$(cat read.key) ADMIN=$(cat admin.key) &&
	leavesync apikey list >list.out && test_grep "^hr-read  *read" list.out &&
	test_grep "^ops  *admin" list.out &&
	! grep -q "$PUSH" list.out &&
	test "$(sqlite3 leavesync.db "select count(*) from api_key where hex(hash) like \"%\"")" = 3 &&
	! sqlite3 leavesync.db .dump | grep -q "$PUSH"
'

test_expect_success 'a second key with the same name is refused' '
	test_expect_code 2 leavesync apikey create --name hr-push >dup.out 2>dup.err &&
	test_grep "exists already" dup.err && test ! -s dup.out
'

test_expect_success 'plain HTTP on a non-loopback address is refused with the fix' '
	cp leavesync.conf plain.conf &&
	printf "\n[serve]\nlisten = 0.0.0.0:0\n" >>plain.conf &&
	test_expect_code 2 leavesync -c plain.conf serve >plain.out 2>plain.err &&
	test_grep "refusing plain HTTP on 0.0.0.0:0" plain.err && test_grep "tls_cert" plain.err
'

test_expect_success 'serve starts over HTTPS on a free loopback port' '
	serve_conf "sync_delay = 1" "poll_interval = 2" &&
	serve_start && echo "$SERVE_URL" | grep -q "^https://127.0.0.1:[0-9]*$"
'

test_expect_success 'TLS 1.1 is refused, TLS 1.2 works' '
	test_must_fail curl -sS --cacert tls/ca.pem --tlsv1.1 --tls-max 1.1 "$SERVE_URL/healthz" &&
	test "$(KEY=$READ req GET /healthz --tlsv1.2 --tls-max 1.2)" = 200
'

test_expect_success 'without a key: 401 with WWW-Authenticate and problem+json' '
	test "$(KEY= req GET /v1/leave/LV-1)" = 401 &&
	test_grep "^WWW-Authenticate: Bearer realm" resp.head &&
	test_grep "^Content-Type: application/problem+json" resp.head &&
	jq -e ".status == 401 and .type == \"tag:leavesync,2026:problems/unauthorized\" and (.title | length > 0) and (.detail | length > 0)" resp.json &&
	test "$(KEY=lsk_wrongwrongwrongwrongwrongwrongwrongwrongwro req GET /v1/leave/LV-1)" = 401 &&
	test_grep "invalid_token" resp.head &&
	test "$(KEY= req GET /v1/leave/LV-1 -H "Authorization: Basic $PUSH")" = 401
'

test_expect_success 'PUT inserts (201, Location), the same PUT again changes nothing (200 unchanged)' '
	test "$(KEY=$PUSH req PUT /v1/leave/LV-1 -H "Content-Type: application/json" --data-binary @lv1.json)" = 201 &&
	jq -e ".id == \"LV-1\" and .result == \"inserted\"" resp.json &&
	test_grep "^Location: /v1/leave/LV-1" resp.head &&
	test "$(KEY=$PUSH req PUT /v1/leave/LV-1 -H "Content-Type: application/json" --data-binary @lv1.json)" = 200 &&
	jq -e ".result == \"unchanged\"" resp.json
'

test_expect_success 'the scheduler syncs it: GET shows synced, the event id and when it was written' '
	KEY=$READ wait_until 60 state_is LV-1 synced &&
	test "$(KEY=$READ req GET /v1/leave/LV-1)" = 200 &&
	jq -e ".state == \"synced\" and (.event_id | length > 10) and (.written_at | test(\"^20[0-9-]+T[0-9:]+Z$\")) and .leave.note == \"NOTE-NEVER-LOGGED\"" resp.json &&
	id=$(jq -r .event_id resp.json) &&
	calendar alice@contoso.com >cal.json && test "$(jq length cal.json)" = 1 &&
	jq -e --arg id "$id" ".[0].ews_id == \$id" cal.json
'

test_expect_success 'cancel: PUT with status cancelled; the event goes' '
	test "$(KEY=$PUSH req PUT /v1/leave/LV-1 -H "Content-Type: application/json" --data-binary @lv1-cancel.json)" = 200 &&
	jq -e ".result == \"updated\"" resp.json &&
	KEY=$READ wait_until 60 state_is LV-1 synced &&
	calendar alice@contoso.com >cal.json && test "$(jq length cal.json)" = 0
'

test_expect_success 'a stale revision is answered as such (409) and changes nothing' '
	test "$(KEY=$PUSH req PUT /v1/leave/LV-1 -H "Content-Type: application/json" --data-binary @lv1.json)" = 409 &&
	jq -e ".type | endswith(\"stale-revision\")" resp.json &&
	jq -e ".detail | test(\"revision 1 is older than stored 2\")" resp.json &&
	test "$(sqlite3 leavesync.db "select status from leave where id = \"LV-1\"")" = cancelled
'

test_expect_success 'bad input: 400 malformed JSON, 415 wrong type, 422 id mismatch' '
	test "$(KEY=$PUSH req PUT /v1/leave/X -H "Content-Type: application/json" --data "{oops")" = 400 &&
	jq -e ".detail | test(\"line 1\")" resp.json &&
	test "$(KEY=$PUSH req PUT /v1/leave/X -H "Content-Type: text/plain" --data-binary @lv1.json)" = 415 &&
	test "$(KEY=$PUSH req PUT /v1/leave/X -H "Content-Type: application/json" --data "{\"id\":\"Y\"}")" = 422 &&
	jq -e ".type | endswith(\"id-mismatch\")" resp.json &&
	big=$(head -c 20000 /dev/zero | tr "\0" a) &&
	test "$(KEY=$PUSH req GET /v1/leave/X -H "X-Big: $big")" = 431
'

test_expect_success 'a batch with problems: 422, every problem listed with record, field, reason; nothing written' '
	before=$(sqlite3 leavesync.db "select count(*) from leave") &&
	test "$(KEY=$PUSH req POST /v1/leave -H "Content-Type: application/json" --data-binary @bad-batch.json)" = 422 &&
	jq -e ".type | endswith(\"invalid-leave\")" resp.json &&
	jq -e "[.problems[] | select(.record == 2)] | length >= 2" resp.json &&
	jq -e "[.problems[] | .field] | index(\"mailbox\") != null" resp.json &&
	jq -e ".problems | all(.reason | length > 10)" resp.json &&
	test "$(sqlite3 leavesync.db "select count(*) from leave")" = "$before"
'

test_expect_success 'an NDJSON batch is written all at once; the same batch again is all unchanged' '
	test "$(KEY=$PUSH req POST /v1/leave -H "Content-Type: application/x-ndjson" --data-binary @good.ndjson)" = 200 &&
	jq -e ".records == 2 and .inserted == 2 and .format == \"ndjson\"" resp.json &&
	test "$(KEY=$PUSH req POST /v1/leave -H "Content-Type: application/x-ndjson" --data-binary @good.ndjson)" = 200 &&
	jq -e ".unchanged == 2 and .inserted == 0" resp.json
'

test_expect_success 'GET /v1/leave lists with filters and a cursor; bad queries are 400' '
	test "$(KEY=$READ req GET "/v1/leave?mailbox=BOB%40contoso.com")" = 200 &&
	jq -e "[.items[].id] == [\"N-2\"]" resp.json &&
	test "$(KEY=$READ req GET "/v1/leave?limit=1")" = 200 &&
	jq -e "(.items | length) == 1 and .next == \"LV-1\"" resp.json &&
	test "$(KEY=$READ req GET "/v1/leave?limit=5&after=LV-1")" = 200 &&
	jq -e "[.items[].id] == [\"N-1\", \"N-2\"] and .next == null" resp.json &&
	test "$(KEY=$READ req GET "/v1/leave?state=bogus")" = 400 &&
	test "$(KEY=$READ req GET "/v1/leave?stat=failed")" = 400 &&
	jq -e ".detail | test(\"stat\")" resp.json &&
	test "$(KEY=$READ req GET /v1/leave/NO-SUCH)" = 404
'

test_expect_success 'scopes: a read key cannot write (403), a push key cannot resync (403)' '
	test "$(KEY=$READ req PUT /v1/leave/LV-9 -H "Content-Type: application/json" --data-binary @lv1.json)" = 403 &&
	jq -e ".detail | test(\"scope push\")" resp.json &&
	test "$(KEY=$PUSH req POST /v1/resync -H "Content-Type: application/json" --data "{\"all\": true}")" = 403 &&
	test "$(KEY=$PUSH req DELETE /v1/leave/LV-1)" = 405 && test_grep "^Allow: PUT, GET" resp.head &&
	test "$(KEY=$PUSH req GET /v2/nothing)" = 404
'

test_expect_success 'resync and reconcile are queued (202 + Location) and reported by /v1/runs/{id}' '
	test "$(KEY=$ADMIN req POST /v1/resync -H "Content-Type: application/json" --data "{\"leave\": \"N-1\"}")" = 202 &&
	loc=$(sed -n "s/^[Ll]ocation: \([^\r]*\).*/\1/p" resp.head) && echo "$loc" | grep -q "^/v1/runs/[0-9]*$" &&
	jq -e ".state == \"queued\" or .state == \"running\" or .state == \"done\"" resp.json &&
	KEY=$READ wait_until 60 run_done "$loc" &&
	test "$(KEY=$READ req GET "$loc")" = 200 &&
	jq -e ".kind == \"resync\" and .result.outcome == \"ok\" and .result.updated + .result.created >= 1" resp.json &&
	test "$(KEY=$ADMIN req POST /v1/reconcile -H "Content-Type: application/json" --data "{\"dry_run\": true}")" = 202 &&
	loc=$(sed -n "s/^[Ll]ocation: \([^\r]*\).*/\1/p" resp.head) &&
	KEY=$READ wait_until 60 run_done "$loc" &&
	test "$(KEY=$READ req GET "$loc")" = 200 && jq -e ".result.dry_run == true and .result.mailboxes >= 1" resp.json &&
	test "$(KEY=$ADMIN req POST /v1/resync -H "Content-Type: application/json" --data "{\"leave\": \"NO-SUCH\"}")" = 404 &&
	test "$(KEY=$ADMIN req POST /v1/resync -H "Content-Type: application/json" --data "{\"all\": true, \"leave\": \"x\"}")" = 422 &&
	test "$(KEY=$READ req GET /v1/runs/999999)" = 404
'

test_expect_success 'Idempotency-Key: the same request gets the same answer; another body with the key is 422' '
	test "$(KEY=$PUSH req POST /v1/leave -H "Idempotency-Key: \"k-1\"" -H "Content-Type: application/json" --data "[]")" = 200 &&
	cp resp.json first.json &&
	test "$(KEY=$PUSH req POST /v1/leave -H "Idempotency-Key: \"k-1\"" -H "Content-Type: application/json" --data "[]")" = 200 &&
	test_cmp first.json resp.json && test_grep "^Idempotent-Replayed: true" resp.head &&
	test "$(KEY=$PUSH req POST /v1/leave -H "Idempotency-Key: \"k-1\"" -H "Content-Type: application/x-ndjson" --data-binary @good.ndjson)" = 422 &&
	jq -e ".type | endswith(\"idempotency-key-reused\")" resp.json &&
	test "$(KEY=$PUSH req POST /v1/leave -H "Idempotency-Key;" -H "Content-Type: application/json" --data "[]")" = 400
'

test_expect_success 'SIGHUP reloads limits: body size (413), rate limit (429 with Retry-After)' '
	serve_reload "max_body_bytes = 2048" "rate_limit = 1" "rate_burst = 3" &&
	head -c 4096 /dev/zero | tr "\0" " " >big.json &&
	test "$(KEY=$ADMIN req POST /v1/leave -H "Content-Type: application/json" --data-binary @big.json)" = 413 &&
	codes="" &&
	for i in 1 2 3 4 5 6; do codes="$codes $(KEY=$READ req GET /healthz)"; done &&
	echo "codes:$codes" && echo "$codes" | grep -q 429 &&
	test_grep "^Retry-After: [0-9]" resp.head &&
	serve_reload "max_body_bytes = 8388608" "rate_limit = 1000" "rate_burst = 1000"
'

test_expect_success 'a reload with a broken config is refused and the old one stays in force' '
	n=$(grep -c "reload refused" serve.err || true) &&
	printf "threds = 4\n" >>leavesync.conf && kill -HUP "$SERVE_PID" &&
	wait_until 30 sh -c "test \$(grep -c \"reload refused\" serve.err) -gt $n" &&
	test_grep "reload refused.*unknown key \"threds\" in \[serve\]" serve.err &&
	test "$(KEY=$READ req GET /healthz)" = 200 &&
	sed -i "/^threds/d" leavesync.conf
'

test_expect_success 'HMAC signatures: required once configured; a right one passes' '
	serve_reload "hmac_secret = 0123456789abcdef0123456789abcdef" &&
	test "$(KEY=$PUSH req POST /v1/leave -H "Content-Type: application/json" --data "[]")" = 401 &&
	jq -e ".type | endswith(\"bad-signature\")" resp.json &&
	sig=$(printf "[]" | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef | sed "s/.*= //") &&
	test "$(KEY=$PUSH req POST /v1/leave -H "X-Signature: sha256=$sig" -H "Content-Type: application/json" --data "[]")" = 200 &&
	test "$(KEY=$PUSH req POST /v1/leave -H "X-Signature: sha256=$sig" -H "Content-Type: application/json" --data "[ ]")" = 401 &&
	test "$(KEY=$READ req GET /v1/leave/N-1)" = 200 &&
	! grep -q 0123456789abcdef0123456789abcdef serve.err
'

test_expect_success 'an HR script (python3-requests) pushes, cancels and polls until every leave reached its calendar' '
	sed -i "/^hmac_secret/d" leavesync.conf && serve_reload &&
	$PY "$TEST_DIR/clients/hr_client.py" "$SERVE_URL" tls/ca.pem push.key >hr.out &&
	cat hr.out && test "$(wc -l <hr.out)" = 3 &&
	jq -se "all(.state == \"synced\")" hr.out &&
	jq -se "map(select(.id == \"HR-3\"))[0] | .status == \"cancelled\" and .event_id == null" hr.out &&
	calendar bob@contoso.com >bob.json && test "$(jq length bob.json)" = 3 &&
	calendar carol@contoso.com >carol.json && test "$(jq length carol.json)" = 0
'

test_expect_success 'revoking a key takes effect at once' '
	leavesync apikey revoke hr-read &&
	test "$(KEY=$READ req GET /v1/leave/N-1)" = 401 &&
	test_expect_code 2 leavesync apikey revoke hr-read 2>revoke.err && test_grep "no key named" revoke.err
'

test_expect_success 'the access log has key name, method, path, status, duration; never a key or a body' '
	test_grep "access key=hr-push method=PUT path=/v1/leave/LV-1 status=201 duration_ms=[0-9.]*" serve.err &&
	test_grep "access key=- method=GET path=/v1/leave/LV-1 status=401" serve.err &&
	! grep -q "lsk_" serve.err && ! grep -q NOTE-NEVER-LOGGED serve.err &&
	for k in "$PUSH" "$READ" "$ADMIN"; do ! grep -qF "$k" serve.err || return 1; done
'

test_expect_success 'SIGTERM stops cleanly (exit 0) and the runs are in the history' '
	serve_stop && test_grep "stopped" serve.err &&
	leavesync status >status.out && test_grep "(leavesync serve)" status.out
'

test_expect_success 'systemd socket activation: serve answers on the socket it is given' '
	if ! command -v systemd-socket-activate >/dev/null; then
		echo "# SKIP systemd-socket-activate not installed"; return 0
	fi
	port=$($PY -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])") || return 1
	: >serve.out
	# (a separate line: "a && b &" would put the whole list, port= included, in the background)
	# (it passes only the environment it is told to, as a unit does with Environment=: the config
	# is never looked for in the current directory)
	systemd-socket-activate -l 127.0.0.1:$port -E LEAVESYNC_CONFIG="$LEAVESYNC_CONFIG" \
		"$BUILD_DIR/leavesync" serve >serve.out 2>>serve.err &
	SERVE_PID=$!
	# systemd-socket-activate starts the service at the first connection, as systemd does
	SERVE_URL=https://127.0.0.1:$port &&
	# (until systemd-socket-activate listens, the port refuses: retry those)
	test "$(KEY=$PUSH req GET /v1/leave/N-1 --retry 30 --retry-connrefused --retry-delay 1 --max-time 60)" = 200 &&
	test_grep "^listening on https://127.0.0.1:$port" serve.out && serve_stop
'

test_expect_success 'client certificates: required when [serve] client_ca is set' '
	openssl req -newkey rsa:2048 -nodes -subj "/CN=hr-system" -keyout tls/client.key -out tls/client.csr >/dev/null 2>&1 &&
	openssl x509 -req -in tls/client.csr -CA tls/ca.pem -CAkey tls/ca.key -CAcreateserial -days 2 -out tls/client.pem >/dev/null 2>&1 &&
	echo "client_ca = $TRASH/tls/ca.pem" >>leavesync.conf &&
	serve_start &&
	test "$(KEY=$PUSH req GET /v1/leave/N-1)" = 403 &&
	jq -e ".type | endswith(\"client-certificate-required\")" resp.json &&
	test "$(KEY=$PUSH req GET /v1/leave/N-1 --cert tls/client.pem --key tls/client.key)" = 200 &&
	serve_stop
'

test_done
