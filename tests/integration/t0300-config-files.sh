#!/bin/sh
# Where the config comes from and who creates stores (issue 15): -c, $LEAVESYNC_CONFIG, the user's
# $XDG_CONFIG_HOME file (not for root), /etc/leavesync/leavesync.conf; never the current directory.
# Without a config every command but --help/--version exits 2 naming the places searched; only
# init creates a store; the config parser reports every problem of the file.

. "$(dirname "$0")/test-lib.sh"

cat >leave.json <<'EOF2'
[{"id":"C-1","mailbox":"alice@contoso.com","kind":"Annual leave","start":"2027-01-04","end":"2027-01-05","status":"approved","revision":1,"time_zone":"UTC"}]
EOF2

# in_empty_dir CMD...: runs leavesync in a directory holding a leavesync.conf, with no
# $LEAVESYNC_CONFIG and a home without a config: nothing should be found.
in_empty_dir() {
	mkdir -p lost home && cp leavesync.conf lost/leavesync.conf &&
	(cd lost && env -u LEAVESYNC_CONFIG -u XDG_CONFIG_HOME HOME="$TRASH/home" \
		"$BUILD_DIR/leavesync" "$@")
}

test_expect_success 'no config found: push exits 2 naming the places searched, and writes no store' '
	if [ -e /etc/leavesync/leavesync.conf ]; then
		echo "this machine has /etc/leavesync/leavesync.conf: the test needs it absent"; return 1
	fi &&
	mkdir -p lost && cp leave.json lost/ &&
	test_expect_code 2 in_empty_dir push leave.json 2>err &&
	test_grep "no config file" err &&
	test_grep "/etc/leavesync/leavesync.conf" err &&
	test_grep "current directory is not searched" err &&
	test ! -e lost/leavesync.db && test ! -e leavesync.db
'

test_expect_success 'every command but --help and --version exits 2 without a config' '
	for cmd in init "push leave.json" sync "resync --all" reconcile status "status --json" export \
		"backup b.db" "auth list" doctor; do
		test_expect_code 2 in_empty_dir $cmd >out 2>err || { echo "$cmd"; return 1; }
		test_grep "no config file" err || { echo "$cmd"; return 1; }
	done &&
	in_empty_dir --help >out && test_grep "usage: leavesync" out &&
	in_empty_dir --version >out && test_grep "leavesync [0-9]" out &&
	in_empty_dir sync --help >out && test_grep "usage: leavesync sync" out &&
	test ! -e lost/leavesync.db
'

test_expect_success 'with a config but no store, only init creates one' '
	for cmd in "push leave.json" sync status export "auth list" "backup b.db"; do
		test_expect_code 2 leavesync $cmd >out 2>err || { echo "$cmd"; return 1; }
		test_grep "does not exist: run .leavesync init." err || { echo "$cmd"; return 1; }
		test ! -e leavesync.db || { echo "$cmd created the store"; return 1; }
	done &&
	leavesync init >out && test_grep "store $TRASH/leavesync.db ready" out &&
	test "$(stat -c %a leavesync.db)" = 600 &&
	test "$(stat -c %a leavesync-secrets.db)" = 600 &&
	leavesync push leave.json
'

test_expect_success 'a missing $LEAVESYNC_CONFIG or -c file is an error naming it' '
	test_expect_code 2 env LEAVESYNC_CONFIG=$TRASH/nope.conf "$BUILD_DIR/leavesync" status 2>err &&
	test_grep "nope.conf: no such config file (given in \$LEAVESYNC_CONFIG)" err &&
	test_expect_code 2 leavesync -c nope2.conf status 2>err &&
	test_grep "nope2.conf: no such config file (given with -c)" err
'

test_expect_success 'a non-root user finds $XDG_CONFIG_HOME/leavesync/leavesync.conf, not ./leavesync.conf' '
	mkdir -p user/xdg/leavesync user/work &&
	printf "[store]\npath = %s/user/user.db\n" "$TRASH" >user/xdg/leavesync/leavesync.conf &&
	printf "[store]\npath = %s/user/wrong.db\n" "$TRASH" >user/work/leavesync.conf &&
	chmod 600 user/xdg/leavesync/leavesync.conf && chown -R 65534:65534 user &&
	(cd user/work && env -u LEAVESYNC_CONFIG HOME="$TRASH/user" XDG_CONFIG_HOME="$TRASH/user/xdg" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD_DIR/leavesync" init) >out 2>err &&
	test_grep "store $TRASH/user/user.db ready" out &&
	test -e user/user.db && test ! -e user/wrong.db
'

test_expect_success 'without $XDG_CONFIG_HOME the user file is ~/.config/leavesync/leavesync.conf' '
	mkdir -p user/.config/leavesync &&
	cp user/xdg/leavesync/leavesync.conf user/.config/leavesync/ && chown -R 65534:65534 user &&
	(cd user/work && env -u LEAVESYNC_CONFIG -u XDG_CONFIG_HOME HOME="$TRASH/user" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD_DIR/leavesync" status) >out &&
	test_grep "leave entries: 0" out
'

if unshare -m true 2>/dev/null && mkdir -p ov/u ov/w &&
	unshare -m sh -c "mount --make-rprivate / && mount -t overlay overlay -o lowerdir=/etc,upperdir=$TRASH/ov/u,workdir=$TRASH/ov/w /etc" 2>/dev/null; then
	test_expect_success 'root reads /etc/leavesync/leavesync.conf (in a private mount namespace)' '
		rm -rf ov && mkdir -p ov/u ov/w &&
		unshare -m sh -c "mount --make-rprivate / &&
			mount -t overlay overlay -o lowerdir=/etc,upperdir=$TRASH/ov/u,workdir=$TRASH/ov/w /etc &&
			mkdir -p /etc/leavesync && cp $TRASH/leavesync.conf /etc/leavesync/leavesync.conf &&
			cd $TRASH/lost && env -u LEAVESYNC_CONFIG -u XDG_CONFIG_HOME HOME=$TRASH/home \
				$BUILD_DIR/leavesync status" >out 2>err &&
		test_grep "leave entries: 1" out &&
		test ! -e /etc/leavesync/leavesync.conf
	'
else
	test_skip 'root reads /etc/leavesync/leavesync.conf (in a private mount namespace)' \
		'unshare -m or an overlay mount is not available here'
fi

test_expect_success 'every problem of the config file is reported at once, each with FILE:LINE' '
	cp leavesync.conf bad.conf &&
	cat >>bad.conf <<-\EOF3 &&
	[sync]
	concurrency = 0
	backend = caldav
	instance = my_instance
	[event]
	show_as = away
	[stroe]
	path = x
	EOF3
	chmod 600 bad.conf &&
	test_expect_code 2 leavesync -c bad.conf sync 2>err &&
	test_grep "bad.conf:4: \[sync\] concurrency = 0" err &&
	test_grep "bad.conf:5: \[sync\] backend = caldav" err &&
	test_grep "bad.conf:6: \[sync\] instance = my_instance" err &&
	test_grep "bad.conf:8: \[event\] show_as = away" err &&
	test_grep "bad.conf:9: unknown section \[stroe\]" err &&
	test_grep "5 problems in the config file: nothing was done" err &&
	test "$(grep -c "bad.conf:" err)" = 5
'

test_done
