#!/bin/sh
test_description='EWS: SIGKILL at random moments, dropped responses, throttling storm'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE= STORM_FAULT=ews_server_busy CREATED_COUNTER=ews.items.created
. "$TEST_DIR/lib-crash.sh"
test_done
