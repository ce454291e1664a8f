#!/bin/sh
test_description='reconcile through Graph: the same scenarios (immutable ids: a move is not drift)'
. "$(dirname "$0")/test-lib.sh"
BACKEND=graph MODE=application MOVED=0
. "$TEST_DIR/lib-reconcile.sh"
test_done
