#!/usr/bin/env bash
# Crash safety: kill -9 the node in the middle of writing large files,
# ROUNDS times.  After every restart each file reads back as one complete
# version that was written (old or new, never torn), the database passes
# PRAGMA integrity_check, and no staging file has been published.
. "$(dirname "$0")/lib.sh"
t_init
ROUNDS=${CRASH_ROUNDS:-20}
SIZE_MB=${CRASH_SIZE_MB:-24}
conf=$(t_conf n1)
data="$T_DIR/n1.data"
mnt="$T_DIR/n1.mnt"

# Versions of content, all of the same size so size alone says nothing.
for v in 0 1 2 3; do
	head -c $((SIZE_MB << 20)) /dev/urandom > "$T_DIR/v$v"
done
sha256sum "$T_DIR"/v? | awk '{print $1}' > "$T_DIR/valid"
# The empty file is a valid version too: a file is created empty before
# its first content is published.
printf '' | sha256sum | awk '{print $1}' >> "$T_DIR/valid"

staging_busy() {
	find "$data/staging" -type f -size +1M 2>/dev/null | grep -q .
}

check_files() {
	local f h
	for f in a b c; do
		[ -e "$mnt/$f" ] || continue
		if ! h=$(sha256sum < "$mnt/$f" | awk '{print $1}'); then
			t_fail "round $1: $f cannot be read"
			continue
		fi
		if grep -qx "$h" "$T_DIR/valid"; then t_pass; else
			t_fail "round $1: $f holds content that was never written whole ($h)"
		fi
	done
}

t_start n1 || t_die "node did not start"
for round in $(seq 1 "$ROUNDS"); do
	v=$((round % 4))
	# Overwrite (cp truncates) and create: both must be atomic.  The
	# writer goes on until the node dies, so a write is always under way
	# when the poll below looks (three copies alone can end between two
	# polls on a fast disk).
	( while :; do for f in a b c; do cp "$T_DIR/v$v" "$mnt/$f" || exit 1; done; done ) 2>/dev/null &
	writer=$!
	if ! t_wait 60 "a large staging file" staging_busy; then
		t_fail "round $round: no write reached the staging area"
	fi
	t_kill9 n1 || t_die "round $round: could not kill the node"
	wait "$writer" 2>/dev/null
	ic=$(sqlite3 "$data/oand.db" 'PRAGMA integrity_check' 2>&1)
	t_eq "$ic" "ok" "round $round: integrity_check"
	t_start n1 || t_die "round $round: node did not restart"
	left=$(find "$data/staging" -type f | wc -l)
	t_eq "$left" 0 "round $round: staging files left after restart"
	check_files "$round"
	# Nothing outside a, b, c was published (no staging names leaked).
	extra=$(find "$mnt" -mindepth 1 ! -name a ! -name b ! -name c | wc -l)
	t_eq "$extra" 0 "round $round: unexpected entries in the tree"
done
# Every blob in the store is a valid version, and every file is held.
for f in a b c; do
	[ -e "$mnt/$f" ] || continue
	h=$(getfattr --absolute-names --only-values -n user.oand.sha256 "$mnt/$f")
	t_eq "$h" "$(sha256sum < "$mnt/$f" | awk '{print $1}')" "final: $f sha256 xattr"
done
for blob in $(find "$data/objects" -type f); do
	h=$(sha256sum < "$blob" | awk '{print $1}')
	t_eq "$h" "$(basename "$blob")" "blob content matches its name"
done
t_stop n1 || t_fail "clean stop"
t_done
