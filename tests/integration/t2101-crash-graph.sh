#!/bin/sh
test_description='Graph: SIGKILL at random moments, dropped responses, throttling storm (429 in batches)'
. "$(dirname "$0")/test-lib.sh"
BACKEND=graph MODE=application STORM_FAULT=http429 CREATED_COUNTER="graph.items written"
. "$TEST_DIR/lib-crash.sh"
test_done
