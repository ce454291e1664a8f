#!/bin/sh
test_description='leavesync serve /metrics: promtool check metrics, and a real Prometheus server scrapes it'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIR/lib-serve.sh"

PROM_PID=
prom_stop() {
	if [ -n "$PROM_PID" ]; then
		kill "$PROM_PID" 2>/dev/null
		wait "$PROM_PID" 2>/dev/null
		PROM_PID=
	fi
}
trap 'serve_kill_quiet; prom_stop; sim_stop' EXIT

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

test_expect_success 'setup: serve with /metrics and /healthz open, some traffic, one sync' '
	sim_start && write_config ews && leavesync init &&
	leavesync apikey create --name hr >hr.key 2>/dev/null && KEY=$(cat hr.key) &&
	serve_conf "sync_delay = 0" "public_metrics = yes" "public_health = yes" &&
	serve_start &&
	test "$(req PUT /v1/leave/M-1 -H "Content-Type: application/json" --data "{\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-01-04\",\"end\":\"2027-01-05\",\"status\":\"approved\"}")" = 201 &&
	test "$(req GET /v1/leave/NONE)" = 404 &&
	wait_until 60 state_is M-1 synced
'

test_expect_success '/metrics and /healthz answer without a key when configured; the rest still needs one' '
	test "$(KEY= req GET /metrics)" = 200 && cp resp.json metrics.txt &&
	test_grep "^Content-Type: text/plain; version=0.0.4" resp.head &&
	test "$(KEY= req GET /healthz)" = 200 && test "$(KEY= req GET /readyz)" = 200 &&
	test "$(KEY= req GET /v1/leave/M-1)" = 401
'

test_expect_success 'the exposition has what operations watch' '
	test_grep "^leavesync_targets{state=\"synced\"} 1$" metrics.txt &&
	test_grep "^leavesync_queue_depth{queue=\"target\"} 0$" metrics.txt &&
	test_grep "^leavesync_runs_total{command=\"sync\",outcome=\"ok\"} [1-9]" metrics.txt &&
	test_grep "^leavesync_http_requests_total{route=\"/v1/leave/{id}\",method=\"PUT\",status=\"201\"} 1$" metrics.txt &&
	test_grep "^leavesync_http_request_duration_seconds_bucket{route=\"/v1/leave/{id}\",method=\"GET\",le=\"+Inf\"} [1-9]" metrics.txt &&
	test_grep "^leavesync_backend_requests_total{backend=\"ews\",status=\"2xx\"} [1-9]" metrics.txt &&
	test_grep "^leavesync_token_requests_total [1-9]" metrics.txt &&
	test_grep "^leavesync_last_success_timestamp_seconds{command=\"sync\"} 1[0-9]*$" metrics.txt &&
	test_grep "^process_resident_memory_bytes [1-9]" metrics.txt
'

test_expect_success 'promtool check metrics finds no problem' '
	if ! command -v promtool >/dev/null; then echo "# SKIP promtool not installed (Debian package prometheus)"; return 0; fi
	promtool check metrics <metrics.txt >promtool.out 2>&1; rc=$?
	cat promtool.out && test $rc -eq 0 && test ! -s promtool.out
'

test_expect_success 'a real Prometheus server scrapes /metrics over HTTPS' '
	if ! command -v prometheus >/dev/null; then echo "# SKIP prometheus not installed (Debian package prometheus)"; return 0; fi
	port=$(free_port) || return 1
	target=${SERVE_URL#https://}
	cat >prometheus.yml <<-CONF
	global:
	  scrape_interval: 1s
	scrape_configs:
	  - job_name: leavesync
	    scheme: https
	    tls_config:
	      ca_file: $TRASH/tls/ca.pem
	    static_configs:
	      - targets: ["$target"]
	CONF
	prometheus --config.file=prometheus.yml --storage.tsdb.path=prom-data \
		--web.listen-address=127.0.0.1:$port >prom.log 2>&1 &
	PROM_PID=$!
	q="http://127.0.0.1:$port/api/v1/query"
	wait_until 90 sh -c "curl -sf \"$q?query=leavesync_build_info\" | jq -e \".data.result | length == 1\"" &&
	curl -sf "$q?query=up%7Bjob%3D%22leavesync%22%7D" | jq -e ".data.result[0].value[1] == \"1\"" &&
	curl -sf "$q?query=leavesync_targets%7Bstate%3D%22synced%22%7D" | jq -e ".data.result[0].value[1] == \"1\"" &&
	curl -sf "$q?query=leavesync_http_request_duration_seconds_count" | jq -e ".data.result | length >= 2" &&
	prom_stop
	test_grep "access key=- method=GET path=/metrics status=200" serve.err
'

test_expect_success 'stop' 'serve_stop'

test_done
