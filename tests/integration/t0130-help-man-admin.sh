#!/bin/sh
test_description='push, show and calendar: every option --help shows is in the man page and the README (issue 19)'
. "$(dirname "$0")/test-lib.sh"

MAN=$SRC_DIR/docs/leavesync.1
README=$SRC_DIR/README.md

# options CMD: the long options CMD --help lists, one per line, without the dashes.
options() {
	leavesync "$1" --help | grep -o -E -- "--[a-z][a-z-]+" | sed "s/^--//" | sort -u
}

for cmd in push show calendar; do
	test_expect_success "$cmd: every option of --help is documented in leavesync(1) and the README" '
		options '"$cmd"' >opts && test -s opts && cat opts | tr "\n" " " && echo &&
		missing=0 &&
		while read -r o; do
			test "$o" = help && continue
			grep -q -e "Fl -$o\\b" "$MAN" || { echo "not in the man page: --$o"; missing=1; }
			grep -q -e "--$o\\b" "$README" || { echo "not in README.md: --$o"; missing=1; }
		done <opts &&
		test $missing = 0
	'
	test_expect_success "$cmd: the command has its entry in leavesync(1), the README and leavesync --help" '
		grep -q "^\.It Cm '"$cmd"'\\b" "$MAN" &&
		grep -q "^  '"$cmd"' " "$README" &&
		leavesync --help | grep -q "^  '"$cmd"' "
	'
done

test_expect_success 'the man page renders without warnings' '
	LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$MAN" >man.txt 2>warn.txt &&
	! test -s warn.txt || { cat warn.txt; false; }
'

test_done
