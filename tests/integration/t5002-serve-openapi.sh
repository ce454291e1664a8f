#!/bin/sh
test_description='docs/openapi.yaml: valid OpenAPI 3 (JSON::Validator), and in step with the routes serve registers'
. "$(dirname "$0")/test-lib.sh"

SPEC=$SRC_DIR/docs/openapi.yaml

test_expect_success 'the file is valid OpenAPI 3.0 (Perl JSON::Validator, an independent validator)' '
	perl -MJSON::Validator::Schema::OpenAPIv3 -e "
		my \$s = JSON::Validator::Schema::OpenAPIv3->new(\$ARGV[0]);
		die qq(not OpenAPI 3: \$ARGV[0]\n) unless (\$s->data->{openapi} // q()) =~ /^3\./;
		my @e = @{\$s->errors}; print qq(\$_\n) for @e; exit(@e ? 1 : 0);" "$SPEC"
'

test_expect_success 'the validator is not a rubber stamp: a broken copy is refused' '
	sed "s/^        required: true$/        required: maybe/" "$SPEC" >broken.yaml &&
	! cmp -s broken.yaml "$SPEC" &&
	test_must_fail perl -MJSON::Validator::Schema::OpenAPIv3 -e "
		my @e = @{JSON::Validator::Schema::OpenAPIv3->new(\$ARGV[0])->errors};
		print qq(\$_\n) for @e; exit(@e ? 1 : 0);" broken.yaml
'

test_expect_success 'every route serve registers is in the file with its method, and vice versa' '
	leavesync serve --routes | sort >routes.txt &&
	test "$(wc -l <routes.txt)" -ge 10 &&
	$PY -c "
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
for path, item in spec[\"paths\"].items():
    for m in item:
        if m in (\"get\", \"put\", \"post\", \"delete\", \"patch\", \"head\", \"options\"):
            print(m.upper(), path)
" "$SPEC" | sort >spec.txt &&
	test_cmp routes.txt spec.txt
'

test_expect_success 'docs/api.md documents every route' '
	while read -r method path; do
		grep -qF "$method $path" "$SRC_DIR/docs/api.md" || { echo "docs/api.md lacks $method $path"; return 1; }
	done <routes.txt
'

test_done
