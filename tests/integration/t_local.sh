#!/usr/bin/env bash
# A local user who is not the node's gets from it what the mount gives
# that user, and nothing for being on the same host.  One standalone node
# run by root (its mount with allow_other, so that other users see it at
# all) holds secret, a root file of mode 0600; user U is made here and
# removed at the end.
#
# The data dir: made 0700 with its files 0600 even under umask 000, and
# made so again at a restart after it was left 0755 with an oand.db of
# 0644; U reads none of oand.db, its WAL, api.token, node.key.
# The control socket: 0600, U cannot reach it, and with the data dir
# opened up the node still answers U with a refusal only.
. "$(dirname "$0")/lib.sh"
t_init
for t in curl jq setpriv useradd userdel ss /usr/bin/python3; do
	command -v $t >/dev/null || t_die "$t is needed"
done

U=oandt$$
useradd --no-create-home --user-group --shell /usr/sbin/nologin "$U" || t_die "useradd $U"
# U goes whatever happens, after the usual cleanup has ended its processes.
local_cleanup() {
	local rc=$?
	(exit $rc)
	t_cleanup
	rc=$?
	userdel "$U" || t_log "userdel $U failed"
	exit $rc
}
trap local_cleanup EXIT
as_user() { setpriv --reuid="$U" --regid="$U" --init-groups -- "$@"; }
# U walks T_DIR's paths (mktemp made it 0700) and writes only in $UD.
chmod 0755 "$T_DIR"
UD=$T_DIR/u
mkdir "$UD" && chown "$U:$U" "$UD"

D=$T_DIR/n.data
M=$T_DIR/n.mnt
PORT=$(t_free_port)
mkdir -p "$M"
cat > "$T_DIR/n.conf" <<EOF
oand = {
  server-name = "n";
  data-dir = "$D";
  server-port = $PORT;
  log-level = "info";
};
oan = {
  mount-point = "$M";
  mount-options = "allow_other";
};
EOF
# Readable, so that U's own command line gets as far as the node.
chmod 0644 "$T_DIR/n.conf"
mode() { stat -c %a "$1" 2>/dev/null; }

# ---- 1. The data dir, new (umask 000) and pre-existing (0755, oand.db 0644). ----
umask 000
t_start_fg n || t_die "the node did not start"
umask 022
printf 'top secret\n' > "$M/secret"
chmod 0600 "$M/secret"
printf 'for all\n' > "$M/public"
chmod 0644 "$M/public"
t_check "oand.db has a WAL while the node runs" test -f "$D/oand.db-wal"
t_eq "$(mode "$D")" 700 "a new data dir under umask 000"
for f in oand.db oand.db-wal node.key api.token lock; do
	t_eq "$(mode "$D/$f")" 600 "a new $f under umask 000"
done
t_stop n || t_die "the node did not stop"
# As an admin's mkdir or an older oand left them.
chmod 0755 "$D" "$D/objects"
chmod 0644 "$D/oand.db"
t_start_fg n || t_die "the node did not start again"
t_eq "$(mode "$D")" 700 "the 0755 data dir after a restart"
t_eq "$(mode "$D/objects")" 700 "the 0755 objects/ after a restart"
for f in oand.db oand.db-wal node.key api.token lock; do
	[ -e "$D/$f" ] || printf 'x\n' > "$M/touch-$f"	# a write makes the WAL
	t_eq "$(mode "$D/$f")" 600 "$f after a restart"
done
t_eq "$(stat -c %U "$M/secret") $(mode "$M/secret")" "root 600" "secret is root's, 0600"
for f in oand.db oand.db-wal api.token node.key; do
	t_refused "U reads $f" "Permission denied" as_user cat "$D/$f"
done
t_refused "U lists the data dir" "Permission denied" as_user ls "$D"

# ---- 2. The control socket. ----
cat > "$T_DIR/ctl.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    sys.exit("connect: %s" % e.strerror)
s.sendall(sys.argv[2].encode() + b"\n")
reply = b""
while True:
    more = s.recv(65536)
    if not more:
        break
    reply += more
print(reply.decode().strip())
EOF
chmod 0644 "$T_DIR/ctl.py"
t_eq "$(mode "$D/oand.sock")" 600 "the control socket's mode"
t_eq "$(/usr/bin/python3 "$T_DIR/ctl.py" "$D/oand.sock" status | jq -r .name)" n "root asks the control socket"
for req in status "nodes remove n"; do
	t_refused "U connects to the control socket ($req)" "Permission denied" \
		as_user /usr/bin/python3 "$T_DIR/ctl.py" "$D/oand.sock" "$req"
done
# Opened up by mistake: the node itself still tells U no.
chmod 0711 "$D"
chmod 0666 "$D/oand.sock"
out=$(as_user /usr/bin/python3 "$T_DIR/ctl.py" "$D/oand.sock" status 2>&1)
not_allowed() { jq -e '.error | test("not allowed")' <<<"$1" >/dev/null 2>&1; }
t_check "the node refuses U on an open socket ($out)" not_allowed "$out"
chmod 0700 "$D"
chmod 0600 "$D/oand.sock"

t_done
