#!/bin/sh
test_description='instances through EWS: two stores on one tenant never touch each other, renaming'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE=
. "$TEST_DIR/lib-instances.sh"
test_done
