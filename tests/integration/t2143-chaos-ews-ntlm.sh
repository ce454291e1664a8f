#!/bin/sh
test_description='issue 12, part 4, with issue 18: EWS on Exchange Server (NTLMv2 sign-in) under random kills, HR changes and faults'
. "$(dirname "$0")/test-lib.sh"

# One fixed seed (the NTLM variant of t2140): the connection-bound sign-in under drops, kills and
# slow answers; chaos.py prints a replay command on failure. CHAOS_SEEDS picks others.
for seed in ${CHAOS_SEEDS:-13}; do
	test_expect_success "ews-ntlm: seed $seed: every calendar ends equal to the store" '
		"$PY" "$TEST_DIR/clients/chaos.py" --build "$BUILD_DIR" --backend ews-ntlm --seeds '$seed' \
			--leave 80 --mailboxes 10 --rounds 6
	'
done

test_done
