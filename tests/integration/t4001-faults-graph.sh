#!/bin/sh
test_description='Graph (app-only): sync and reconcile under throttling, 503 bursts, latency, drops, expiring tokens, damaged bodies and HTML'
. "$(dirname "$0")/test-lib.sh"
BACKEND=graph MODE=application THROTTLE_FAULT=graph_http429 CREATED_COUNTER="graph.items written"
PERSIST_FAULT=http429 PERSIST_STATUS="HTTP 429" SERVICE_PATH=/v1.0
. "$TEST_DIR/lib-faults.sh"
test_done
