#!/bin/sh
test_description='EWS: SIGKILL at random moments, dropped responses, throttling storm'
. "$(dirname "$0")/test-lib.sh"
BACKEND=ews MODE= STORM_FAULT=ews_server_busy CREATED_COUNTER=ews.items.created
SIM_ARGS="--record-ews $TRASH/requests"
. "$TEST_DIR/lib-crash.sh"

test_expect_success 'every EWS request sent through crashes and faults passes the official schema' '
	n=$(ls requests | wc -l) && echo "$n requests recorded" && test "$n" -ge 100 &&
	validate_ews -q requests/*.xml && ews_xsd_check -q requests/*.xml
'

test_done
