#!/bin/sh
test_description='leavesync calendar and show through Graph (app-only): the same scenarios'
. "$(dirname "$0")/test-lib.sh"
BACKEND=graph MODE=application
. "$TEST_DIR/lib-admin.sh"
test_done
