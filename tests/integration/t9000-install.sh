#!/bin/sh
# Deployment (issue 15): `make install` into a DESTDIR installs the binary, the man page, the
# systemd units (sync, reconcile, serve), the docs and the example config; the units pass `systemd-analyze verify` and rate
# at most 2.0 ("OK") on `systemd-analyze security`; docs/operations.md's recipe runs as written
# (in a private mount namespace over /etc, /var/lib and /usr/local, so the machine is left alone)
# and the service user then syncs.

. "$(dirname "$0")/test-lib.sh"

DEST=$TRASH/dest
UNITS="leavesync-sync.service leavesync-sync.timer leavesync-reconcile.service leavesync-reconcile.timer"
UNITS="$UNITS leavesync-serve.service leavesync-serve.socket"

# make_in_src ARGS...: make in the checkout, with the build the tests use, never rebuilding it
# (-o: other tests run the binary meanwhile, and a build dir made with SANITIZE=1 must not get
# objects built without it).
make_in_src() {
	make -s -C "$SRC_DIR" BUILD="$BUILD_DIR" -o "$BUILD_DIR/leavesync" "$@"
}

test_expect_success 'make install DESTDIR: binary, man page, units, docs, example config; nothing in /etc' '
	make_in_src install DESTDIR="$DEST" PREFIX=/usr/local >install.out 2>&1 &&
	(cd "$DEST" && find . -type f | sort) >files &&
	cat files &&
	test "$(stat -c %a "$DEST/usr/local/bin/leavesync")" = 755 &&
	test "$(stat -c %a "$DEST/usr/local/share/man/man1/leavesync.1")" = 644 &&
	for u in $UNITS; do
		test "$(stat -c %a "$DEST/usr/local/lib/systemd/system/$u")" = 644 || return 1
	done &&
	for d in README.md LICENSE operations.md config.md store.md json.md setup.md examples/leavesync.conf examples/leave.json; do
		test -f "$DEST/usr/local/share/doc/leavesync/$d" || { echo "missing doc $d"; return 1; }
	done &&
	grep -q "^ExecStart=/usr/local/bin/leavesync sync$" "$DEST/usr/local/lib/systemd/system/leavesync-sync.service" &&
	grep -q "^ExecStart=/usr/local/bin/leavesync serve$" "$DEST/usr/local/lib/systemd/system/leavesync-serve.service" &&
	test ! -e "$DEST/etc" &&
	"$DEST/usr/local/bin/leavesync" --version
'

test_expect_success 'another PREFIX is written into the units ExecStart' '
	make_in_src install DESTDIR="$TRASH/dest2" PREFIX=/opt/leavesync >/dev/null 2>&1 &&
	grep -q "^ExecStart=/opt/leavesync/bin/leavesync reconcile$" \
		"$TRASH/dest2/opt/leavesync/lib/systemd/system/leavesync-reconcile.service"
'

if ! command -v systemd-analyze >/dev/null 2>&1; then
	test_skip 'systemd-analyze verify passes on the installed units' 'systemd-analyze is not installed'
	test_skip 'systemd-analyze security rates each service 2.0 or less (OK)' 'systemd-analyze is not installed'
else
	test_expect_success 'systemd-analyze verify passes on the installed units' '
		units_dir="$DEST/usr/local/lib/systemd/system" &&
		if unshare -m true 2>/dev/null; then
			# the units name /usr/local/bin/leavesync: show them the installed tree there
			unshare -m sh -c "mount --make-rprivate / && mount --bind $DEST/usr/local /usr/local &&
				cd $units_dir && systemd-analyze verify $UNITS" >verify.out 2>&1
		else
			mkdir -p v && for u in $UNITS; do
				sed "s|/usr/local/bin/leavesync|$DEST/usr/local/bin/leavesync|" "$units_dir/$u" >v/$u
			done && (cd v && systemd-analyze verify $UNITS) >verify.out 2>&1
		fi; rc=$? &&
		cat verify.out && test $rc = 0 && test ! -s verify.out
	'

	if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
		test_expect_success 'systemd-analyze security rates each service 2.0 or less (OK)' '
			for u in leavesync-sync.service leavesync-reconcile.service leavesync-serve.service; do
				(cd "$DEST/usr/local/lib/systemd/system" &&
					systemd-analyze security --offline=true ./$u) >sec.out 2>&1
				tail -n 1 sec.out
				level=$(sed -n "s/.*Overall exposure level for $u: \([0-9.]*\) .*/\1/p" sec.out) &&
				test -n "$level" &&
				awk -v l="$level" "BEGIN { exit !(l <= 2.0) }" &&
				test_grep "OK" sec.out || return 1
			done
		'
	else
		test_skip 'systemd-analyze security rates each service 2.0 or less (OK)' \
			'this systemd-analyze has no --offline'
	fi
fi

# The recipe of docs/operations.md: the sh block after <!-- recipe -->.
awk '/<!-- recipe -->/ { on = 1; next } on && /^```sh/ { code = 1; next } code && /^```/ { exit } code' \
	"$SRC_DIR/docs/operations.md" >recipe.sh

overlays_work() {
	mkdir -p ovt/u ovt/w &&
	unshare -m sh -c "mount --make-rprivate / && mount -t overlay overlay -o lowerdir=/etc,upperdir=$TRASH/ovt/u,workdir=$TRASH/ovt/w /etc" 2>/dev/null
}

if ! command -v unshare >/dev/null 2>&1 || ! overlays_work; then
	test_skip 'docs/operations.md recipe runs as written; the service user syncs' \
		'unshare -m with an overlay mount is not available here (root and a kernel with overlayfs are needed)'
else
	test_expect_success 'docs/operations.md recipe runs as written; the service user syncs' '
		test -s recipe.sh && grep -q "^useradd" recipe.sh &&
		sim_start && write_config graph application &&
		awk "/^\[/ { skip = (\$0 == \"[store]\" || \$0 == \"[ews]\") } !skip" leavesync.conf >edited.conf &&
		sed -i "s/^\[sync\]$/[sync]\ntest_mailbox = alice@contoso.com/" edited.conf && chmod 644 edited.conf &&
		sed -n "1,/^# 4\./p" recipe.sh | sed "\$d" >recipe-a.sh &&
		sed -n "/^# 4\./,\$p" recipe.sh >recipe-b.sh &&
		test -s recipe-a.sh && test -s recipe-b.sh &&
		echo "{\"id\":\"I-1\",\"mailbox\":\"alice@contoso.com\",\"kind\":\"Annual leave\",\"start\":\"2027-11-01\",\"end\":\"2027-11-02\",\"status\":\"approved\",\"revision\":1,\"time_zone\":\"UTC\"}" >leave.ndjson &&
		chmod 644 leave.ndjson &&
		for d in etc varlib usrlocal; do mkdir -p ov/$d/u ov/$d/w; done &&
		cat >ns.sh <<-EOF &&
		set -e
		mount --make-rprivate /
		mount -t overlay overlay -o lowerdir=/etc,upperdir=$TRASH/ov/etc/u,workdir=$TRASH/ov/etc/w /etc
		mount -t overlay overlay -o lowerdir=/var/lib,upperdir=$TRASH/ov/varlib/u,workdir=$TRASH/ov/varlib/w /var/lib
		mount -t overlay overlay -o lowerdir=/usr/local,upperdir=$TRASH/ov/usrlocal/u,workdir=$TRASH/ov/usrlocal/w /usr/local
		unset LEAVESYNC_CONFIG LEAVESYNC_GRAPH_CLIENT_SECRET LEAVESYNC_EWS_CLIENT_SECRET XDG_CONFIG_HOME
		make() { command make -s -C "$SRC_DIR" BUILD="$BUILD_DIR" -o "$BUILD_DIR/leavesync" "\$@"; }
		SECRET='"'"'$DEMO_SECRET'"'"'
		cd /
		echo "== recipe steps 1-3"
		. $TRASH/recipe-a.sh
		echo "== the admin edits the config (docs/setup.md)"
		cat $TRASH/edited.conf >/etc/leavesync/leavesync.conf
		echo "== recipe steps 4-6"
		. $TRASH/recipe-b.sh
		echo "== as the service"
		stat -c "%n %U:%G %a" /etc/leavesync /etc/leavesync/leavesync.conf /etc/leavesync/secret.env \
			/var/lib/leavesync /var/lib/leavesync/leavesync.db /var/lib/leavesync/leavesync-secrets.db \
			>$TRASH/modes
		runuser -u leavesync -- leavesync push $TRASH/leave.ndjson
		env \$(cat /etc/leavesync/secret.env) runuser -u leavesync -- leavesync sync
		runuser -u leavesync -- leavesync status --check
		id leavesync >$TRASH/id.out
		EOF
		unshare -m sh ns.sh >recipe.out 2>&1; rc=$?; cat recipe.out; test $rc = 0 &&
		cat modes &&
		test_grep "^/etc/leavesync root:leavesync 750$" modes &&
		test_grep "^/etc/leavesync/leavesync.conf root:leavesync 640$" modes &&
		test_grep "^/etc/leavesync/secret.env root:root 600$" modes &&
		test_grep "^/var/lib/leavesync leavesync:leavesync 700$" modes &&
		test_grep "^/var/lib/leavesync/leavesync.db leavesync:leavesync 600$" modes &&
		test_grep "^/var/lib/leavesync/leavesync-secrets.db leavesync:leavesync 600$" modes &&
		test_grep "^sync: 1 created" recipe.out &&
		test_grep "^LEAVESYNC OK" recipe.out &&
		test_grep "✓ \[graph\] read the calendar of alice@contoso.com" recipe.out &&
		test "$(calendar alice@contoso.com | jq length)" = 1 &&
		! getent passwd leavesync >/dev/null && test ! -e /etc/leavesync
	'
fi

test_done
