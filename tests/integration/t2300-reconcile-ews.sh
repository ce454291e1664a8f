#!/bin/sh
test_description='reconcile through EWS: missing, edited, moved, orphaned, duplicated; safety valve; from nothing'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE= MOVED=2
. "$TEST_DIR/lib-reconcile.sh"
test_done
