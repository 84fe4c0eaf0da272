#!/usr/bin/env bash
# Close-to-open on one node: a reader never sees a writer's unpublished
# bytes, and sees the new version whole once the writer has closed, even
# when the old version was in the kernel's page cache.
. "$(dirname "$0")/lib.sh"
t_init
conf=$(t_conf n1)
mnt="$T_DIR/n1.mnt"
t_start n1 || t_die "node did not start"
for size in 8192 1048576; do
	head -c $size /dev/urandom > "$mnt/f$size" || t_die "write"
	cat "$mnt/f$size" > /dev/null	# the old version is now in the page cache
	t_check "close-to-open, $size bytes" "$OAND_TOOLS/c2o" "$mnt/f$size"
	t_eq "$(getfattr --absolute-names --only-values -n user.oand.sha256 "$mnt/f$size")" \
		"$(sha256sum < "$mnt/f$size" | cut -d' ' -f1)" "sha256 of the new version, $size"
done
t_stop n1 || t_fail "clean stop"
t_done
