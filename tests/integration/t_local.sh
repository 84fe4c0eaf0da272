#!/usr/bin/env bash
# A local user who is not the node's gets from it what the mount gives
# that user, and nothing for being on the same host.  One standalone node
# run by root (its mount with allow_other, so that other users see it at
# all) holds secret, a root file of mode 0600; user U is made here and
# removed at the end.
#
# The data dir: made 0700 with its files 0600 even under umask 000, and
# made so again at a restart after it was left 0755 with an oand.db of
# 0644; U reads none of oand.db, its WAL, api.token, node.key, sign.key.
# The control socket: 0600, U cannot reach it, and with the data dir
# opened up the node still answers U with a refusal only.
# The HTTP API from loopback: U without the token gets 401 for GET, PUT,
# DELETE, POST ?mkdir on /value and for /v1/*, and the tree is unchanged;
# U's `oand status` says it cannot read the token; root's goes over HTTP
# with the token.  `cat` of secret through the mount is refused to U too.
# A port that U took while no node ran gets no token from root's CLI.
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
for f in oand.db oand.db-wal node.key sign.key api.token lock; do
	t_eq "$(mode "$D/$f")" 600 "a new $f under umask 000"
done
t_stop n || t_die "the node did not stop"
# As an admin's mkdir or an older oand left them.
chmod 0755 "$D" "$D/objects"
chmod 0644 "$D/oand.db" "$D/sign.key"
t_start_fg n || t_die "the node did not start again"
t_eq "$(mode "$D")" 700 "the 0755 data dir after a restart"
t_eq "$(mode "$D/objects")" 700 "the 0755 objects/ after a restart"
for f in oand.db oand.db-wal node.key sign.key api.token lock; do
	[ -e "$D/$f" ] || printf 'x\n' > "$M/touch-$f"	# a write makes the WAL
	t_eq "$(mode "$D/$f")" 600 "$f after a restart"
done
t_eq "$(stat -c %U "$M/secret") $(mode "$M/secret")" "root 600" "secret is root's, 0600"
for f in oand.db oand.db-wal api.token node.key sign.key; do
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

# ---- 3. The HTTP API from loopback. ----
API=http://127.0.0.1:$PORT
TOK=$(cat "$D/api.token")
# uc CURL-ARGS...: curl as U; the status code, the body in $UD/body.
uc() { as_user curl -s --max-time 10 -o "$UD/body" -w '%{http_code}' "$@"; }
# rc CURL-ARGS...: the same as root, with the token.
rc() { curl -s --max-time 10 -o "$T_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $TOK" "$@"; }
snap() { (cd "$M" && find . -printf '%p %y %m %u %s %T@\n' | sort); }
printf 'from U\n' > "$UD/up"
before=$(snap)
t_eq "$(uc $API/)" 200 "GET / needs no token"
t_eq "$(uc "$API/value/secret")" 401 "U: GET /value/secret"
t_check "U got none of secret's bytes" sh -c "! grep -q 'top secret' '$UD/body'"
is_error() { jq -e '.error | type == "string"' "$1" >/dev/null 2>&1; }
t_check "the 401 is a JSON error" is_error "$UD/body"
t_eq "$(uc -I "$API/value/secret")" 401 "U: HEAD /value/secret"
t_eq "$(uc "$API/value/public")" 401 "U: GET /value/public"
t_eq "$(uc "$API/value/")" 401 "U: GET /value/ (the listing)"
t_eq "$(uc -T "$UD/up" "$API/value/fromu")" 401 "U: PUT /value/fromu"
t_eq "$(uc -T "$UD/up" "$API/value/secret")" 401 "U: PUT over secret"
t_eq "$(uc -X DELETE "$API/value/secret")" 401 "U: DELETE /value/secret"
t_eq "$(uc -X POST "$API/value/udir?mkdir")" 401 "U: POST /value/udir?mkdir"
for p in status nodes transfers; do
	t_eq "$(uc "$API/v1/$p")" 401 "U: GET /v1/$p"
done
t_eq "$(uc -X POST "$API/v1/status")" 401 "U: POST /v1/status"
t_eq "$(uc -H "Authorization: Bearer $(printf '%064d' 0)" "$API/value/secret")" 401 "U with a made-up token"
# Not a browser's request, not a foreign Host: loopback alone is nothing.
t_eq "$(uc -H 'Host: localhost' "$API/value/secret")" 401 "U with Host localhost"
t_eq "$(uc "http://[::1]:$PORT/value/secret")" 401 "U over ::1"
t_eq "$(snap)" "$before" "the tree after U's requests"
t_eq "$(cat "$M/secret")" "top secret" "secret after U's requests"
t_eq "$(rc "$API/value/secret")" 200 "root with the token: GET /value/secret"
t_eq "$(cat "$T_DIR/body")" "top secret" "root with the token: the bytes"

# The command line: U cannot read the token, and says so.
t_refused "U's oand status" "cannot read the node's token.*Permission denied" \
	as_user "$OAND" -c "$T_DIR/n.conf" status
# Root's goes over HTTP with the token (the control socket moved away).
mv "$D/oand.sock" "$D/oand.sock.away"
t_eq "$("$OAND" -c "$T_DIR/n.conf" status --json | jq -r .name)" n "root's oand status over HTTP"
t_eq "$("$OAND" -c "$T_DIR/n.conf" transfers --json | jq -c .)" '{"transfers":[]}' "root's oand transfers over HTTP"
mv "$D/oand.sock.away" "$D/oand.sock"

# ---- 4. The mount gives U the same answers. ----
t_check "U sees the mount (allow_other)" sh -c "setpriv --reuid=$U --regid=$U --init-groups -- ls '$M' | grep -qx secret"
t_eq "$(as_user cat "$M/public")" "for all" "U reads public through the mount"
t_refused "U: cat secret through the mount" "Permission denied" as_user cat "$M/secret"
t_refused "U: rm secret through the mount" "Permission denied" as_user rm -f "$M/secret"
t_refused "U: a file in the root's folder" "Permission denied" as_user sh -c "echo x > '$M/fromu'"

# ---- 5. A port U took while no node ran: root's CLI sends it no token. ----
SQ=$(t_free_port)
mkdir -p "$T_DIR/sq.mnt"
printf 'oand = { server-name = "sq"; data-dir = "%s/sq.data"; server-port = %s; };\n' \
	"$T_DIR" "$SQ" > "$T_DIR/sq.conf"
"$OAND" -c "$T_DIR/sq.conf" token >/dev/null || t_fail "oand token for sq"
cat > "$UD/squat.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(30)
with open(sys.argv[2], "ab") as out:
    while True:
        try:
            c, _ = s.accept()
        except OSError:
            break
        c.settimeout(2)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                out.write(d)
                out.flush()
        except OSError:
            pass
        c.close()
EOF
: > "$UD/squat.out"
chown "$U" "$UD/squat.out"
# Not through as_user: $! is then the listener itself, which the cleanup ends.
setpriv --reuid="$U" --regid="$U" --init-groups -- /usr/bin/python3 "$UD/squat.py" "$SQ" "$UD/squat.out" &
T_PIDS+=("$!")
listening() { ss -Hltn "( sport = :$1 )" | grep -q .; }
t_wait 10 "U to listen on $SQ" listening "$SQ" || t_fail "U's listener did not start"
t_refused "root's oand status with U on the port" "no node is running" "$OAND" -c "$T_DIR/sq.conf" status
t_check "U's listener got no token" sh -c "! grep -q \"\$(cat '$T_DIR/sq.data/api.token')\" '$UD/squat.out'"
t_check "U's listener got no request at all" test ! -s "$UD/squat.out"
t_done
