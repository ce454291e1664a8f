#!/bin/sh
test_description='leavesync calendar and show through EWS: differences marked as reconcile does, nothing written; one leave'"'"'s story'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE=
. "$TEST_DIR/lib-admin.sh"
test_done
