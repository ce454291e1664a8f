#!/bin/sh
test_description='reconcile through EWS: missing, edited, moved, orphaned, duplicated; safety valve; from nothing'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE= MOVED=2 SIM_ARGS="--record-ews $TRASH/requests"
. "$TEST_DIR/lib-reconcile.sh"

test_expect_success 'every EWS request of these reconciles passes the official schema' '
	n=$(ls requests | wc -l) && echo "$n requests recorded" && test "$n" -ge 20 &&
	validate_ews -q requests/*.xml && ews_xsd_check -q requests/*.xml
'

test_done
