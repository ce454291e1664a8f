#!/bin/sh
test_description='instances through Graph: two stores on one tenant never touch each other, renaming'
. "$(dirname "$0")/test-lib.sh"
BACKEND=graph MODE=application
. "$TEST_DIR/lib-instances.sh"
test_done
