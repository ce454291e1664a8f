#!/bin/sh
# t8000: every regression input found so far (tests/fuzz/regressions/) and a short libFuzzer run of
# every fuzz target, through tools/fuzz --smoke. Skipped without clang and libFuzzer.
test_description='fuzz targets: regression inputs and a short run of each'
. "$(dirname "$0")/test-lib.sh"

cc=${FUZZ_CC:-clang}
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' >probe.c
if ! command -v "$cc" >/dev/null 2>&1 ||
	! "$cc" -fsanitize=fuzzer,address,undefined -o probe probe.c >/dev/null 2>&1; then
	echo "1..0 # SKIP clang/libFuzzer missing"
	cd "$TEST_DIR" && rm -rf "$TRASH"
	exit 0
fi

targets=$(cd "$SRC_DIR" && for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)

test_expect_success 'there are fuzz targets for push, config, EWS, Autodiscover and Graph parsers, serve and redaction' '
	for t in fuzz_push_json fuzz_push_ndjson fuzz_push_csv fuzz_config fuzz_ews_response \
		fuzz_graph_response fuzz_redact fuzz_serve_parse fuzz_autodiscover; do
		echo "$targets" | grep -qx "$t" || { echo "missing $t"; return 1; }
	done
'

for t in $targets; do
	test_expect_success "$t: regression inputs replay, a short run finds no crash" '
		(cd "$SRC_DIR" && tools/fuzz --smoke '"$t"') >smoke.out 2>&1
		rc=$?
		cat smoke.out
		test $rc -eq 0 &&
		test_grep "^'"$t"': [0-9]* executions in .*no crash" smoke.out
	'
done

test_done
