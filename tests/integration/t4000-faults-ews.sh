#!/bin/sh
test_description='EWS: sync and reconcile under throttling, 503 bursts, latency, drops, expiring tokens, damaged bodies and HTML'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE= THROTTLE_FAULT=ews_server_busy CREATED_COUNTER=ews.items.created
PERSIST_FAULT=http503 PERSIST_STATUS="HTTP 503" SERVICE_PATH=/EWS/Exchange.asmx
. "$TEST_DIR/lib-faults.sh"
test_done
