#!/bin/sh
test_description='sync through Microsoft Graph (app-only): the same scenarios as EWS'
. "$(dirname "$0")/test-lib.sh"
BACKEND=graph MODE=application
. "$TEST_DIR/lib-sync.sh"
test_done
