#!/usr/bin/env bash
# The node's HTTP API, with curl against live nodes.  Nodes a, b and c
# form a cluster in namespace S (a serves HTTP, b HTTPS with a certificate
# made here, c joins through b's HTTPS bootstrap); l is a standalone node
# with small limits.  A client namespace C reaches S over a bridge, so its
# requests come from a non-loopback address.
#
# Loopback, with the node's token: listing (JSON checked with jq),
# download with checksums, Range, HEAD, If-None-Match, PUT of 100 MiB read
# back through b's mount, a file written on b downloaded from a (fetched
# on demand), DELETE, mkdir, keep-alive.  Refusals, each with its status
# and the tree unchanged: every method without the token on loopback too
# (whatever its Host or Origin), traversal, everything but / and
# /v1/bootstrap from C over plain HTTP (403, with the token too), a
# missing or bad token from C over HTTPS, a read-only token's writes,
# oversize and cut uploads, too many connections, the rate limit; an idle
# connection is closed after api-timeout.  HTTPS: curl with the test's
# CA, plain HTTP fails, the token honoured from C.  `oand status`, `oand
# nodes`, `oand transfers` and `oand token` work (they go over HTTP, and
# HTTPS on b).  c's server-address keeps its API off loopback: plain HTTP
# from its own host to that address takes the token, from C it does not.
. "$(dirname "$0")/lib.sh"
t_init
for t in jq curl openssl python3 nsenter getfattr; do
	command -v $t >/dev/null || t_die "$t is needed (make deps)"
done
P=oa$$
NET=10.$(( $$ % 200 + 20 )).79
t_bridged "$P" "$NET" s c	# $P-s: the nodes, $NET.1; $P-c: a client, $NET.2
S=$P-s
# In a namespace's network only (nsenter --net): "ip netns exec" would also
# give the command a copy of every mount, which keeps a FUSE mount alive
# after its unmount for as long as the command runs.
ins() { nsenter --net="/run/netns/$S" "$@"; }
inc() { nsenter --net="/run/netns/$P-c" "$@"; }
key=$("$OAND" genkey)
TLS="tls-cert = \"$T_DIR/cert.pem\"; tls-key = \"$T_DIR/key.pem\";"
common="cluster-key = \"$key\"; heartbeat-interval = 2; ipv6 = false; fetch-timeout = 30;
  replicas = 1; server-domain-name = \"127.0.0.1\"; bff-domain-name = \"127.0.0.1\";"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:$NET.1" \
	-keyout "$T_DIR/key.pem" -out "$T_DIR/cert.pem" 2>/dev/null || t_die "openssl req failed"
# c trusts b's self-signed certificate by its key (bff-pin).
PIN=sha256//$(openssl x509 -in "$T_DIR/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64) || t_die "the certificate's pin"
t_conf a "tox-port = 33445; server-port = 8181; bff-port = 8181;" "$common" >/dev/null
t_conf b "tox-port = 33446; server-port = 8182; bff-port = 8181;" "$common" "$TLS" >/dev/null
# c's HTTP is on $NET.1 only, where the others reach it too.
t_conf c "tox-port = 33447; server-port = 8183; bff-port = 8182; server-address = \"$NET.1\";" \
	"bff-pin = \"$PIN\";" \
	"${common/server-domain-name = \"127.0.0.1\"/server-domain-name = \"$NET.1\"}" >/dev/null
t_conf l "server-port = 8184; api-connections = 2; api-timeout = 2; api-rate-limit = 30;" \
	"api-max-upload = 1048576;" >/dev/null
# One key without the other: refused when the configuration is read.
t_conf bad "tls-cert = \"$T_DIR/cert.pem\";" >/dev/null
t_refused "tls-cert without tls-key" "tls-key" "$OAND" -c "$T_DIR/bad.conf" status
t_conf bad2 'server-address = "localhost";' >/dev/null
t_refused "server-address that is a name" "server-address.*IPv4 or IPv6" \
	"$OAND" -c "$T_DIR/bad2.conf" status

# The tokens, made before the node starts (it reads the read-only one then).
TOK=$("$OAND" -c "$T_DIR/a.conf" token) || t_die "oand token"
RO=$("$OAND" -c "$T_DIR/a.conf" token --read-only) || t_die "oand token --read-only"
BRO=$("$OAND" -c "$T_DIR/b.conf" token --read-only) || t_die "oand token --read-only for b"
t_check "the token is 64 hex digits" grep -Eqx '[0-9a-f]{64}' <<<"$TOK"
t_eq "$(cat "$T_DIR/a.data/api.token")" "$TOK" "oand token prints api.token"
t_eq "$(stat -c %a "$T_DIR/a.data/api.token")" 600 "api.token's mode"
t_check "the read-only token differs" [ "$RO" != "$TOK" ]
for n in a b c l; do t_start_mounted_ns "$S" $n || t_die "node $n did not start"; done
t_eq "$("$OAND" -c "$T_DIR/a.conf" token)" "$TOK" "the running node kept the token"
BTOK=$("$OAND" -c "$T_DIR/b.conf" token)
LTOK=$("$OAND" -c "$T_DIR/l.conf" token)

# hc NS CURL-ARGS...: run curl in namespace $P-NS, print the status code;
# the body is in $T_DIR/body, the headers in $T_DIR/head.
hc() {
	local ns=$1; shift
	rm -f "$T_DIR/body" "$T_DIR/head"
	nsenter --net="/run/netns/$P-$ns" curl -s --path-as-is -o "$T_DIR/body" -D "$T_DIR/head" \
		-w '%{http_code}' "$@"
}
# ha, hb, hl CURL-ARGS...: hc in S with a's, b's or l's token.
ha() { hc s -H "Authorization: Bearer $TOK" "$@"; }
hb() { hc s -H "Authorization: Bearer $BTOK" "$@"; }
hl() { hc s -H "Authorization: Bearer $LTOK" "$@"; }
# hdr NAME: that header of the last reply ("" when absent).
hdr() {
	tr -d '\r' < "$T_DIR/head" 2>/dev/null |
		awk -v h="$1" 'index(tolower($0), tolower(h) ": ") == 1 { v = substr($0, length(h) + 3) } END { print v }'
}
# bodysize: the bytes of the last body (curl writes no file for none).
bodysize() { stat -c %s "$T_DIR/body" 2>/dev/null || echo 0; }
body_jq() { jq -r "$@" < "$T_DIR/body" 2>/dev/null; }
# An error reply: JSON with an "error" string.
is_error() { jq -e '.error | type == "string"' < "$T_DIR/body" >/dev/null 2>&1; }
sum() { sha256sum < "$1" | cut -d' ' -f1; }
# snap NAME: NAME's tree as its mount shows it (every entry's type, mode,
# size and mtime).
snap() { (cd "$T_DIR/$1.mnt" && find . -printf '%p %y %m %s %T@\n' | sort); }
oand_in() { local n=$1; shift; ins "$OAND" -c "$T_DIR/$n.conf" "$@"; }
nodes_json() { oand_in "$1" nodes --json 2>/dev/null; }
# online NAME COUNT: NAME's `oand nodes --json` lists COUNT nodes, all online.
online() {
	[ "$(nodes_json "$1" | jq '[.nodes[] | select(.state == "online")] | length')" = "$2" ] &&
		[ "$(nodes_json "$1" | jq '.nodes | length')" = "$2" ]
}
A=http://127.0.0.1:8181 B=https://127.0.0.1:8182 L=http://127.0.0.1:8184
RA=http://$NET.1:8181 RL=http://$NET.1:8184	# a and l, as C reaches them
CA=(--cacert "$T_DIR/cert.pem")

# ---- 1. The cluster forms; c joined through b's HTTPS bootstrap. ----
for n in a b c; do
	t_check "$n lists a, b and c online" t_wait 120 "$n to list 3 online" online $n 3
done
t_eq "$(nodes_json c | jq -r '.nodes[] | select(.name == "b") | .state')" online \
	"c (BFF b serves HTTPS) has b online"
t_check "a logged that it serves HTTP" grep -q "api: HTTP on port 8181" "$T_DIR/a.log"
t_check "b logged that it serves HTTPS" grep -q "api: HTTPS on port 8182" "$T_DIR/b.log"

# ---- 2. The command line, over HTTP and HTTPS. ----
# It comes to the control socket when nothing answers on server-port:
# moved aside meanwhile, so that these go over HTTP(S) or fail.
for n in a b; do mv "$T_DIR/$n.data/oand.sock" "$T_DIR/$n.data/oand.sock.away" || t_fail "hide $n's socket"; done
for n in a b; do
	t_eq "$(oand_in $n status --json | jq -r .name)" $n "oand status --json on $n"
	t_check "oand status on $n" grep -Eq "^node: +$n\$" <<<"$(oand_in $n status)"
	oand_in $n nodes > "$T_DIR/nodes.txt"
	t_check "oand nodes on $n lists a, b, c" sh -c "grep -qw a '$T_DIR/nodes.txt' &&
		grep -qw b '$T_DIR/nodes.txt' && grep -qw c '$T_DIR/nodes.txt'"
	t_eq "$(oand_in $n transfers --json | jq -r '.transfers | type')" array "oand transfers --json on $n"
	t_check "oand transfers on $n" grep -Eq '^(no transfers$|(in|out) )' <<<"$(oand_in $n transfers)"
done
for n in a b; do mv "$T_DIR/$n.data/oand.sock.away" "$T_DIR/$n.data/oand.sock"; done
t_eq "$(oand_in l status --json | jq -r '.name + " " + (.tox | tostring)')" "l null" "oand status on the standalone l"
t_refused "oand nodes on a standalone node" "standalone" ins "$OAND" -c "$T_DIR/l.conf" nodes

# ---- 3. Loopback: the tree through a's API. ----
t_eq "$(ha $A/)" 200 "GET /"
t_eq "$(body_jq -c .)" "{}" "GET / is {}"
t_eq "$(hdr X-RateLimit-Limit)" "" "loopback replies carry no rate limit"
t_eq "$(ha $A/v1/bootstrap)" 200 "GET /v1/bootstrap"
t_eq "$(body_jq .tox_id)" "$("$OAND" -c "$T_DIR/a.conf" id)" "bootstrap's tox_id"
t_eq "$(body_jq '.name + " " + (.udp_port | tostring)')" "a 33445" "bootstrap's name and port"
t_eq "$(ha -X POST "$A/value/docs?mkdir")" 201 "POST ?mkdir"
t_eq "$(body_jq -c .)" '{"path":"/docs","type":"folder"}' "POST ?mkdir's reply"
t_check "the folder shows in a's mount" test -d "$T_DIR/a.mnt/docs"
t_eq "$(ha -X POST "$A/value/docs/sub?mkdir")" 201 "POST ?mkdir of docs/sub"
before=$(snap a)
t_eq "$(ha -X POST "$A/value/docs?mkdir")" 409 "POST ?mkdir of an existing folder"
t_check "409 is an error" is_error
t_eq "$(ha -X POST "$A/value/no/such?mkdir")" 404 "POST ?mkdir, parent missing"
t_eq "$(ha -X POST "$A/value/docs/x")" 400 "POST without ?mkdir"
t_eq "$(snap a)" "$before" "a's tree after refused mkdirs"

printf 'hello, world\n' > "$T_DIR/hello"
printf 'hello again\n' > "$T_DIR/hello2"
t_eq "$(ha -T "$T_DIR/hello" $A/value/docs/hello.txt)" 201 "PUT of a new file"
t_eq "$(body_jq -c .)" "{\"path\":\"/docs/hello.txt\",\"size\":13,\"sha256\":\"$(sum "$T_DIR/hello")\"}" "PUT's reply"
t_eq "$(ha -T "$T_DIR/hello2" $A/value/docs/hello.txt)" 200 "PUT replacing a file"
t_eq "$(body_jq .sha256)" "$(sum "$T_DIR/hello2")" "PUT's reply: the new sha256"
t_eq "$(cat "$T_DIR/a.mnt/docs/hello.txt")" "hello again" "the new content in a's mount"
# Loopback without the token: 401 for all but / and /v1/bootstrap, the
# tree unchanged.
before=$(snap a)
t_eq "$(hc s $A/value/docs/hello.txt)" 401 "loopback GET without the token"
t_check "401 is an error" is_error
t_check "401 says how to authenticate" grep -q Bearer <<<"$(hdr WWW-Authenticate)"
t_check "401 gave none of the file" sh -c "! grep -q 'hello again' '$T_DIR/body'"
t_eq "$(hc s -I $A/value/docs/hello.txt)" 401 "loopback HEAD without the token"
t_eq "$(hc s $A/value/)" 401 "loopback listing without the token"
t_eq "$(hc s -T "$T_DIR/hello" $A/value/docs/hello.txt)" 401 "loopback PUT over a file without the token"
t_eq "$(hc s -T "$T_DIR/hello" $A/value/docs/intruder)" 401 "loopback PUT of a new file without the token"
t_eq "$(hc s -X DELETE $A/value/docs/hello.txt)" 401 "loopback DELETE without the token"
t_eq "$(hc s -X POST "$A/value/docs/intruder?mkdir")" 401 "loopback POST ?mkdir without the token"
for p in status nodes transfers; do
	t_eq "$(hc s $A/v1/$p)" 401 "loopback GET /v1/$p without the token"
done
t_eq "$(hc s -X POST $A/v1/status)" 401 "loopback POST /v1/status without the token"
t_eq "$(hc s -H "Authorization: Bearer $(printf '%064d' 0)" $A/value/)" 401 "loopback with a bad token"
t_eq "$(hc s -H "Authorization: Bearer $RO" -X DELETE $A/value/docs/hello.txt)" 403 \
	"loopback DELETE with the read-only token"
t_eq "$(hc s -H "Authorization: Bearer $RO" $A/value/docs/hello.txt)" 200 "loopback GET with the read-only token"
t_eq "$(snap a)" "$before" "a's tree after the requests without the token"
t_eq "$(ha $A/value/docs/hello.txt)" 200 "GET of a file"
t_eq "$(cat "$T_DIR/body")" "hello again" "GET's bytes"
t_eq "$(hdr Content-Type)" "text/plain; charset=utf-8" "a .txt's Content-Type"
# a's own mount sees changes made through a's API at once (not after
# its kernel caches time out).
printf 'v1\n' > "$T_DIR/v1"
printf 'version two\n' > "$T_DIR/v2"
t_eq "$(ha -T "$T_DIR/v1" $A/value/docs/cached)" 201 "PUT of cached"
t_eq "$(stat -c %s "$T_DIR/a.mnt/docs/cached") $(cat "$T_DIR/a.mnt/docs/cached")" "3 v1" "cached read through a's mount"
t_eq "$(ha -T "$T_DIR/v2" $A/value/docs/cached)" 200 "PUT over cached"
t_eq "$(stat -c %s "$T_DIR/a.mnt/docs/cached") $(cat "$T_DIR/a.mnt/docs/cached")" "12 version two" \
	"a's mount sees the PUT at once"
ls "$T_DIR/a.mnt/docs" > /dev/null
stat "$T_DIR/a.mnt/docs/cached" > /dev/null
t_eq "$(ha -X DELETE $A/value/docs/cached)" 204 "DELETE of cached"
t_check "a's mount sees the DELETE at once" test ! -e "$T_DIR/a.mnt/docs/cached"
: > "$T_DIR/empty"
t_eq "$(ha -T "$T_DIR/empty" $A/value/docs/empty)" 201 "PUT of an empty file"
t_eq "$(ha $A/value/docs/empty)" 200 "GET of an empty file"
t_eq "$(bodysize)" 0 "an empty file's body"
ln -s hello.txt "$T_DIR/a.mnt/docs/link" || t_fail "symlink on a's mount"
before=$(snap a)
t_eq "$(ha -T "$T_DIR/hello" $A/value/nowhere/x)" 404 "PUT, parent missing"
t_eq "$(ha -T "$T_DIR/hello" $A/value/docs/sub)" 409 "PUT onto a folder"
t_eq "$(ha -T "$T_DIR/hello" $A/value/docs/hello.txt/x)" 409 "PUT under a file"
t_eq "$(ha $A/value/docs/link)" 409 "GET of a symlink"
t_eq "$(body_jq .target)" hello.txt "a symlink's target"
t_eq "$(ha $A/value/docs/none)" 404 "GET of a missing path"
t_check "404 is an error" is_error
t_eq "$(ha $A/nothing)" 404 "GET outside /value and /v1"
t_eq "$(ha -X PATCH $A/value/docs/hello.txt)" 405 "an unknown method"
t_check "405 names the methods" grep -q PUT <<<"$(hdr Allow)"
t_eq "$(ha -X DELETE $A/value/)" 409 "DELETE of the root"
t_eq "$(ha -X DELETE $A/value/docs)" 409 "DELETE of a folder not empty"
t_eq "$(ha -X DELETE $A/value/docs/none)" 404 "DELETE of a missing path"
t_eq "$(snap a)" "$before" "a's tree after refused PUTs and DELETEs"

# Names are %-decoded ("+" is a plus); too long a name is refused.
t_eq "$(ha -T "$T_DIR/hello" "$A/value/docs/a%20b%C3%A9+c.txt")" 201 "PUT of a %-encoded name"
t_eq "$(body_jq .path)" "/docs/a bé+c.txt" "the decoded path"
t_eq "$(cat "$T_DIR/a.mnt/docs/a bé+c.txt")" "hello, world" "the decoded name in a's mount"
t_eq "$(ha -X DELETE "$A/value/docs/a%20b%C3%A9+c.txt")" 204 "DELETE of a %-encoded name"
t_eq "$(ha -T "$T_DIR/hello" "$A/value/docs/$(printf 'n%.0s' $(seq 1 300))")" 400 "PUT of a 300-byte name"
t_eq "$(body_jq .error)" "name too long" "the 300-byte name's error"
# Headers beyond 64 KiB are refused, and the node goes on.
t_eq "$(ha -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" $A/value/)" 431 "100 KB of headers"
t_eq "$(ha $A/value/)" 200 "served after the big headers"
if ip -n "$S" -6 addr show dev lo 2>/dev/null | grep -q '::1/'; then
	t_eq "$(ha "http://[::1]:8181/value/")" 200 "::1 is loopback too"
fi

# The listing, checked field by field.
touch -d "2001-02-03 04:05:06" "$T_DIR/a.mnt/docs/hello.txt"
chmod 640 "$T_DIR/a.mnt/docs/hello.txt"
t_eq "$(ha $A/value/docs)" 200 "GET of a folder"
t_eq "$(hdr Content-Type)" application/json "a listing's Content-Type"
t_eq "$(body_jq '.path + " " + .type')" "/docs folder" "the listing's path and type"
t_check "the listing's mtime" grep -Eqx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' <<<"$(body_jq .mtime)"
t_eq "$(body_jq '[.entries[].name] | sort | join(",")')" "empty,hello.txt,link,sub" "the listing's names"
t_eq "$(body_jq -c '.entries[] | select(.name == "hello.txt")')" \
	"{\"name\":\"hello.txt\",\"type\":\"file\",\"size\":12,\"mode\":\"0640\",\"mtime\":\"2001-02-03T04:05:06Z\",\"sha256\":\"$(sum "$T_DIR/hello2")\",\"holders\":[\"a\"]}" \
	"a file's entry"
t_eq "$(body_jq -c '.entries[] | select(.name == "sub") | [.type, .size, .mode, .sha256, .holders]')" \
	'["folder",null,"0755",null,null]' "a folder's entry"
t_eq "$(body_jq -c '.entries[] | select(.name == "link") | [.type, .size, .sha256, .holders]')" \
	'["symlink",9,null,null]' "a symlink's entry"
t_check "every entry's mtime" sh -c "jq -r '.entries[].mtime' < '$T_DIR/body' | grep -Evx '[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' | wc -l | grep -qx 0"
t_eq "$(ha $A/value)" 200 "GET /value, the root"
t_eq "$(body_jq '.path + " " + ([.entries[].name] | join(","))')" "/ docs" "the root's listing"
t_eq "$(ha $A/value/docs/)" 200 "a folder with a trailing slash"

# 100 MiB up to a, read back through b's mount; the transfer shows in
# `oand transfers` on b (HTTPS) while it runs.
BIG=$((100 << 20))
head -c $BIG /dev/urandom > "$T_DIR/big.src"
bigsum=$(sum "$T_DIR/big.src")
t0=$(date +%s%N)
t_eq "$(ha -T "$T_DIR/big.src" $A/value/docs/big)" 201 "PUT of 100 MiB"
t_log "PUT of 100 MiB: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t_eq "$(body_jq -c '[.size, .sha256]')" "[$BIG,\"$bigsum\"]" "PUT of 100 MiB: size and sha256"
sized() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]; }
t_check "b sees big" t_wait 60 "b to see docs/big" sized "$T_DIR/b.mnt/docs/big" $BIG
t_eq "$(getfattr --only-values -n user.oand.state "$T_DIR/b.mnt/docs/big" 2>/dev/null)" remote \
	"big on b before it is read"
t0=$(date +%s%N)
sha256sum < "$T_DIR/b.mnt/docs/big" > "$T_DIR/big.b" 2>&1 &
reader=$!
in_flight() {
	oand_in b transfers --json | jq -e '.transfers[] | select(.direction == "in" and .file == "/docs/big" and .peer == "a" and .size == '$BIG')' >/dev/null &&
		oand_in b transfers | grep -Eq '^in +/docs/big +a +[0-9.]+% [0-9]+/'$BIG' bytes(, .*)?$'
}
t_check "oand transfers on b shows big coming from a" t_wait 60 "b's transfer of big" in_flight
t_wait 120 "b's read of big" t_gone $reader
wait $reader
t_log "read of 100 MiB through b's mount: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t_eq "$(cut -d' ' -f1 "$T_DIR/big.b")" "$bigsum" "big read through b's mount"
no_transfers() { [ "$(oand_in b transfers)" = "no transfers" ]; }
t_check "no transfer left on b" t_wait 30 "b's transfers to end" no_transfers

# Download with checksums, Range, HEAD, If-None-Match.
t_eq "$(ha $A/value/docs/big)" 200 "GET of big"
t_eq "$(sum "$T_DIR/body")" "$bigsum" "GET of big: the bytes"
t_eq "$(hdr ETag)" "\"$bigsum\"" "GET of big: ETag"
t_eq "$(hdr Content-Length)" $BIG "GET of big: Content-Length"
t_eq "$(hdr Accept-Ranges)" bytes "GET of big: Accept-Ranges"
t_eq "$(ha $A/value/docs)" 200 "listing with big"
t_eq "$(body_jq -c '.entries[] | select(.name == "big") | [.size, .sha256]')" "[$BIG,\"$bigsum\"]" "big's entry"
two_holders() { ins curl -s -H "Authorization: Bearer $TOK" $A/value/docs | jq -e '.entries[] | select(.name == "big") | .holders | sort == ["a", "b"]' >/dev/null; }
t_check "b holds big too, says a" t_wait 30 "a to list b as a holder of big" two_holders
range_is() {	# FROM LEN: the body is those bytes of big.src
	cmp -s "$T_DIR/body" <(tail -c +$(($1 + 1)) "$T_DIR/big.src" | head -c "$2")
}
t_eq "$(ha -r 0-99 $A/value/docs/big)" 206 "Range 0-99"
t_eq "$(hdr Content-Range)" "bytes 0-99/$BIG" "Range 0-99: Content-Range"
t_check "Range 0-99: the bytes" range_is 0 100
t_eq "$(ha -r 50000000-50065535 $A/value/docs/big)" 206 "Range in the middle"
t_eq "$(hdr Content-Range)" "bytes 50000000-50065535/$BIG" "Range in the middle: Content-Range"
t_check "Range in the middle: the bytes" range_is 50000000 65536
t_eq "$(ha -r -100 $A/value/docs/big)" 206 "Range of the last 100 bytes"
t_eq "$(hdr Content-Range)" "bytes $((BIG - 100))-$((BIG - 1))/$BIG" "suffix Range: Content-Range"
t_check "suffix Range: the bytes" range_is $((BIG - 100)) 100
t_eq "$(ha -r $((BIG - 10))- $A/value/docs/big)" 206 "open Range"
t_check "open Range: the bytes" range_is $((BIG - 10)) 10
t_eq "$(ha -r $BIG- $A/value/docs/big)" 416 "Range past the end"
t_eq "$(hdr Content-Range)" "bytes */$BIG" "416: Content-Range"
t_eq "$(ha -I $A/value/docs/big)" 200 "HEAD of big"
t_eq "$(hdr Content-Length) $(hdr ETag)" "$BIG \"$bigsum\"" "HEAD: Content-Length and ETag"
t_eq "$(ins curl -s -I -H "Authorization: Bearer $TOK" -o /dev/null -w '%{size_download}' $A/value/docs/big)" 0 "HEAD: no body"
t_eq "$(ha -H "If-None-Match: \"$bigsum\"" $A/value/docs/big)" 304 "If-None-Match, same"
t_eq "$(bodysize)" 0 "304 has no body"
t_eq "$(hdr ETag)" "\"$bigsum\"" "304's ETag"
t_check "304's Content-Length, if any, is the file's ($(hdr Content-Length))" \
	grep -Eqx "($BIG)?" <<<"$(hdr Content-Length)"
t_eq "$(ha -H "If-None-Match: \"$(sum "$T_DIR/hello")\"" $A/value/docs/hello.txt)" 200 "If-None-Match, other"
t_eq "$(cat "$T_DIR/body")" "hello again" "If-None-Match, other: the bytes"

# Written through b's mount, downloaded from a: fetched on demand.
head -c 5000000 /dev/urandom > "$T_DIR/fromb.src"
cp "$T_DIR/fromb.src" "$T_DIR/b.mnt/docs/fromb" || t_fail "write through b's mount"
listed_on_a() { ins curl -s -H "Authorization: Bearer $TOK" $A/value/docs | jq -e '.entries[] | select(.name == "fromb" and .size == 5000000)' >/dev/null; }
t_check "a lists fromb" t_wait 30 "a to list docs/fromb" listed_on_a
t_eq "$(getfattr --only-values -n user.oand.state "$T_DIR/a.mnt/docs/fromb" 2>/dev/null)" remote \
	"fromb on a before the GET"
t_eq "$(ha $A/value/docs)" 200 "listing with fromb"
t_eq "$(body_jq -c '.entries[] | select(.name == "fromb") | [.sha256, .holders]')" \
	"[\"$(sum "$T_DIR/fromb.src")\",[\"b\"]]" "fromb's entry on a: b holds it"
t_eq "$(ha $A/value/docs/fromb)" 200 "GET on a of b's file"
t_eq "$(sum "$T_DIR/body")" "$(sum "$T_DIR/fromb.src")" "GET on a of b's file: the bytes"
t_eq "$(hdr ETag)" "\"$(sum "$T_DIR/fromb.src")\"" "GET on a of b's file: ETag"
t_eq "$(getfattr --only-values -n user.oand.state "$T_DIR/a.mnt/docs/fromb" 2>/dev/null)" local \
	"fromb on a after the GET"

# Keep-alive: two requests, one connection.
t_eq "$(ins curl -s -H "Authorization: Bearer $TOK" -o /dev/null -o /dev/null -w '%{num_connects} ' $A/ $A/value/docs/hello.txt)" "1 0 " \
	"two requests over one connection"

# DELETE.
t_eq "$(ha -X DELETE $A/value/docs/fromb)" 204 "DELETE of a file"
t_eq "$(bodysize)" 0 "204 has no body"
t_eq "$(ha $A/value/docs/fromb)" 404 "GET after DELETE"
t_check "b sees the DELETE" t_wait 30 "fromb to go from b" test ! -e "$T_DIR/b.mnt/docs/fromb"
t_eq "$(ha -X DELETE $A/value/docs/sub)" 204 "DELETE of an empty folder"
t_check "the folder is gone from a's mount" test ! -e "$T_DIR/a.mnt/docs/sub"
t_eq "$(ha -X POST "$A/value/docs/sub?mkdir")" 201 "POST ?mkdir again"

# Traversal: refused whatever the method; nothing changes.
before=$(snap a)
for p in /value/../etc/passwd /value/docs/../docs/hello.txt /value/%2e%2e/x /value/docs/%2E%2E \
	/value/docs/%2e%2e%2fhello.txt /value//docs /value/docs//hello.txt /value/docs/%00x \
	/value/docs/x%00 /value/./docs /value/docs/. /value/docs/%2e /value// /value/docs/sub//; do
	t_eq "$(ha $A$p)" 400 "GET $p"
	t_check "GET $p: an error" is_error
	t_eq "$(ha -X PUT --data-binary @"$T_DIR/hello" $A$p)" 400 "PUT $p"
	t_eq "$(ha -X DELETE $A$p)" 400 "DELETE $p"
	t_eq "$(ha -X POST "$A$p?mkdir")" 400 "POST $p?mkdir"
done
t_eq "$(snap a)" "$before" "a's tree after traversal attempts"

# ---- 4. From a non-loopback address (namespace C), plain HTTP: a token
# would cross the network in clear, so / and /v1/bootstrap only. ----
before=$(snap a)
t_eq "$(hc c $RA/)" 200 "GET / from C without a token"
t_eq "$(hdr X-RateLimit-Limit)" 600 "X-RateLimit-Limit"
r1=$(hdr X-RateLimit-Remaining)
t_eq "$(hc c $RA/v1/bootstrap)" 200 "GET /v1/bootstrap from C without a token"
t_eq "$(body_jq .name)" a "bootstrap from C"
r2=$(hdr X-RateLimit-Remaining)
t_check "X-RateLimit-Remaining goes down ($r1, $r2)" [ "$r2" -lt "$r1" ]
t_eq "$(hc c $RA/value/)" 403 "GET /value/ from C over HTTP, no token"
t_check "403 is an error" is_error
t_check "403 says HTTPS is needed ($(body_jq .error))" grep -q HTTPS <<<"$(body_jq .error)"
t_check "403 carries the rate limit" [ -n "$(hdr X-RateLimit-Remaining)" ]
t_eq "$(hc c $RA/v1/status)" 403 "GET /v1/status from C over HTTP, no token"
for tok in "$TOK" "$RO"; do
	w="with the ${tok:0:6}... token"
	t_eq "$(hc c -H "Authorization: Bearer $tok" $RA/value/docs/hello.txt)" 403 "GET from C over HTTP $w"
	t_check "403 gave none of the file" sh -c "! grep -q 'hello again' '$T_DIR/body'"
	t_eq "$(hc c -H "Authorization: Bearer $tok" -I $RA/value/docs/hello.txt)" 403 "HEAD from C over HTTP $w"
	t_eq "$(hc c -H "Authorization: Bearer $tok" $RA/v1/status)" 403 "/v1/status from C over HTTP $w"
	t_eq "$(hc c -H "Authorization: Bearer $tok" -T "$T_DIR/hello" $RA/value/docs/intruder)" 403 \
		"PUT from C over HTTP $w"
	t_eq "$(hc c -H "Authorization: Bearer $tok" -X DELETE $RA/value/docs/hello.txt)" 403 \
		"DELETE from C over HTTP $w"
	t_eq "$(hc c -H "Authorization: Bearer $tok" -X POST "$RA/value/docs/intruder?mkdir")" 403 \
		"POST from C over HTTP $w"
done
t_eq "$(snap a)" "$before" "a's tree after the requests from C over HTTP"
t_check "a warned that its token crossed the network in clear" \
	grep -q "sent this node's token over plain HTTP" "$T_DIR/a.log"

# ---- 5. HTTPS (b): the token is honoured from anywhere. ----
t_eq "$(hb "${CA[@]}" $B/)" 200 "HTTPS GET / with the test CA"
t_eq "$(hb "${CA[@]}" https://localhost:8182/v1/status)" 200 "HTTPS by name"
t_eq "$(body_jq .name)" b "HTTPS /v1/status"
t_eq "$(hb "${CA[@]}" $B/value/docs/big)" 200 "HTTPS GET of big"
t_eq "$(sum "$T_DIR/body")" "$bigsum" "HTTPS GET of big: the bytes"
t_eq "$(hb "${CA[@]}" -r 10-19 $B/value/docs/big)" 206 "HTTPS Range"
t_check "HTTPS Range: the bytes" range_is 10 10
t_eq "$(hb http://127.0.0.1:8182/)" 000 "plain HTTP to the HTTPS port"
t_eq "$(hb $B/)" 000 "HTTPS without the test CA"
t_eq "$(hc s "${CA[@]}" $B/value/docs)" 401 "HTTPS on loopback without a token"
RB=https://$NET.1:8182	# b, as C reaches it
hcb() { hc c "${CA[@]}" "$@"; }
before=$(snap b)
t_eq "$(hcb $RB/value/docs)" 401 "HTTPS from C without a token"
t_check "401 is an error" is_error
t_check "401 says how to authenticate" grep -q Bearer <<<"$(hdr WWW-Authenticate)"
t_check "401 carries the rate limit" [ -n "$(hdr X-RateLimit-Remaining)" ]
t_eq "$(hcb $RB/v1/status)" 401 "HTTPS GET /v1/status from C without a token"
t_eq "$(hcb -T "$T_DIR/hello" $RB/value/docs/intruder)" 401 "HTTPS PUT from C without a token"
t_eq "$(hcb -X DELETE $RB/value/docs/hello.txt)" 401 "HTTPS DELETE from C without a token"
t_eq "$(hcb -X POST "$RB/value/docs/intruder?mkdir")" 401 "HTTPS POST from C without a token"
bad=$(printf '%064d' 0)
t_eq "$(hcb -H "Authorization: Bearer $bad" $RB/value/)" 401 "HTTPS GET from C with a bad token"
t_eq "$(hcb -H "Authorization: Bearer $bad" -T "$T_DIR/hello" $RB/value/docs/intruder)" 401 \
	"HTTPS PUT from C with a bad token"
t_eq "$(hcb -H "Authorization: Bearer $bad" -X DELETE $RB/value/docs/hello.txt)" 401 \
	"HTTPS DELETE from C with a bad token"
t_eq "$(hcb -H "Authorization: Bearer ${BTOK:0:32}" $RB/value/)" 401 "half the token"
t_eq "$(hcb -H "Authorization: Basic $BTOK" $RB/value/)" 401 "the token, not as Bearer"
t_eq "$(hcb -H "Authorization: Bearer $TOK" $RB/value/)" 401 "another node's token"
t_eq "$(hcb -H "Authorization: Bearer $BRO" -T "$T_DIR/hello" $RB/value/docs/intruder)" 403 \
	"PUT with the read-only token"
t_check "403 is an error" is_error
t_eq "$(hcb -H "Authorization: Bearer $BRO" -X DELETE $RB/value/docs/hello.txt)" 403 \
	"DELETE with the read-only token"
t_eq "$(hcb -H "Authorization: Bearer $BRO" -X POST "$RB/value/docs/intruder?mkdir")" 403 \
	"POST with the read-only token"
t_eq "$(snap b)" "$before" "b's tree after the refusals from C"
t_eq "$(hcb -H "Authorization: Bearer $BRO" $RB/value/docs/hello.txt)" 200 "GET with the read-only token"
t_eq "$(cat "$T_DIR/body")" "hello again" "GET with the read-only token: the bytes"
t_eq "$(hcb -H "Authorization: Bearer $BRO" -I $RB/value/docs/big)" 200 "HEAD with the read-only token"
t_eq "$(hcb -H "Authorization: Bearer $BTOK" $RB/value/docs)" 200 "HTTPS GET from C with b's token"
t_eq "$(body_jq '.entries | length')" 5 "HTTPS listing from C"
t_eq "$(hcb -H "Authorization: Bearer $BTOK" $RB/v1/status)" 200 "HTTPS /v1/status from C with the token"
t_eq "$(body_jq .name)" b "HTTPS /v1/status from C"
t_eq "$(hcb -H "Authorization: Bearer $BTOK" -T "$T_DIR/hello" $RB/value/docs/fromc)" 201 \
	"HTTPS PUT from C with the token"
t_eq "$(cat "$T_DIR/b.mnt/docs/fromc")" "hello, world" "HTTPS PUT from C: the content"
t_eq "$(hcb -H "Authorization: Bearer $BTOK" -X DELETE $RB/value/docs/fromc)" 204 \
	"HTTPS DELETE from C with the token"
t_eq "$(hcb -H "Authorization: Bearer $BTOK" $RB/value/docs/fromc)" 404 "HTTPS GET from C after its DELETE"

# ---- 5b. server-address: c listens on $NET.1 only. ----
CTOK=$("$OAND" -c "$T_DIR/c.conf" token)
t_check "c logged its address" grep -q "api: HTTP on port 8183 ($NET.1)" "$T_DIR/c.log"
t_eq "$(ins ss -Hltn '( sport = :8183 )' | awk '{print $4}')" "$NET.1:8183" "c's only listening socket"
t_eq "$(hc s -H "Authorization: Bearer $CTOK" http://127.0.0.1:8183/v1/status)" 000 "c not on loopback"
t_eq "$(hc c http://$NET.1:8183/)" 200 "c's GET / from C"
t_eq "$(hc c -H "Authorization: Bearer $CTOK" http://$NET.1:8183/v1/status)" 403 \
	"c's /v1/status from C over HTTP, with the token"
# From c's own host, to its own address: no network crossed, plain HTTP will do.
t_eq "$(hc s -H "Authorization: Bearer $CTOK" http://$NET.1:8183/v1/status)" 200 \
	"c's /v1/status from its host, to $NET.1"
t_eq "$(body_jq .name)" c "c's /v1/status from its host"
t_eq "$(hc s http://$NET.1:8183/v1/status)" 401 "c's /v1/status from its host without the token"
mv "$T_DIR/c.data/oand.sock" "$T_DIR/c.data/oand.sock.away" || t_fail "hide c's socket"
t_eq "$(oand_in c status --json | jq -r .name)" c "oand status on c, over HTTP to $NET.1"
mv "$T_DIR/c.data/oand.sock.away" "$T_DIR/c.data/oand.sock"

# ---- 6. Limits (l: 2 connections, 2 s idle, 30 requests a minute, 1 MiB). ----
LB="$T_DIR/l.mnt"
head -c 1048576 /dev/urandom > "$T_DIR/1m"
head -c 2097152 /dev/urandom > "$T_DIR/2m"
t_eq "$(hl -T "$T_DIR/1m" $L/value/max)" 201 "PUT of api-max-upload bytes"
t_eq "$(hl -T "$T_DIR/hello" $L/value/keep)" 201 "PUT of keep"
staging_empty() { [ -z "$(ls -A "$T_DIR/l.data/staging")" ]; }
before=$(snap l)
t_eq "$(hl -T "$T_DIR/2m" $L/value/over)" 413 "PUT over api-max-upload"
t_check "413 is an error" is_error
t_eq "$(hl -H 'Expect:' -T "$T_DIR/2m" $L/value/over)" 413 "PUT over api-max-upload, no Expect"
t_eq "$(hl -H 'Transfer-Encoding: chunked' -T "$T_DIR/2m" $L/value/over)" 413 "chunked PUT over api-max-upload"
t_eq "$(hl -T "$T_DIR/2m" $L/value/keep)" 413 "PUT over api-max-upload onto a file"
t_eq "$(hl $L/value/over)" 404 "the oversize upload left nothing"
t_eq "$(sum "$LB/keep")" "$(sum "$T_DIR/hello")" "keep after the oversize upload"
t_eq "$(snap l)" "$before" "l's tree after oversize uploads"
t_check "no staged upload left" staging_empty

# Uploads cut in the middle: nothing appears, the old content stays.
cat > "$T_DIR/cut.py" <<'EOF'
import os, socket, sys
host, port, path, declared, sent, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
s = socket.create_connection((host, port), timeout=10)
s.sendall(b"PUT %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n" % (path.encode(), token.encode(), declared))
s.sendall(os.urandom(sent))
s.close()
EOF
cut_logged() { [ "$(grep -c "upload of $1 ended early" "$T_DIR/l.log")" -ge "$2" ]; }
ins python3 "$T_DIR/cut.py" 127.0.0.1 8184 /value/cut 1000000 500000 "$LTOK"
t_check "l saw the upload of cut end early" t_wait 20 "l to drop the cut upload" cut_logged /cut 1
t_eq "$(hl $L/value/cut)" 404 "a cut upload left nothing"
ins python3 "$T_DIR/cut.py" 127.0.0.1 8184 /value/keep 1000000 500000 "$LTOK"
t_check "l saw the upload of keep end early" t_wait 20 "l to drop the cut upload" cut_logged /keep 1
t_eq "$(hl $L/value/keep)" 200 "keep after a cut upload"
t_eq "$(sum "$T_DIR/body")" "$(sum "$T_DIR/hello")" "keep's content after a cut upload"
t_eq "$(snap l)" "$before" "l's tree after cut uploads"
t_check "no staged upload left after cut uploads" staging_empty

# Too many connections: hold some open (a header line every half second,
# never the end of the request), then ask.
cat > "$T_DIR/hold.py" <<'EOF'
import os, socket, sys, time
host, port, n, flag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
socks = [socket.create_connection((host, port), timeout=10) for _ in range(n)]
for s in socks:
    try:
        s.sendall(b"GET / HTTP/1.1\r\n")
    except OSError:	# refused by the node after the kernel took it
        pass
print("ready", flush=True)
end = time.monotonic() + 60
while os.path.exists(flag) and time.monotonic() < end:
    for s in socks:
        try:
            s.sendall(b"X-Wait: 1\r\n")
        except OSError:
            pass
    time.sleep(0.5)
EOF
hold() {	# N: hold N connections to l until release
	touch "$T_DIR/hold.flag"
	: > "$T_DIR/hold.out"
	ins python3 "$T_DIR/hold.py" 127.0.0.1 8184 "$1" "$T_DIR/hold.flag" > "$T_DIR/hold.out" &
	holder=$!
	T_PIDS+=("$holder")
	t_wait 20 "$1 connections to be held" grep -q ready "$T_DIR/hold.out"
}
release() { rm -f "$T_DIR/hold.flag"; wait $holder; }
served() { [ "$(ins curl -s -o /dev/null -w '%{http_code}' $L/)" = 200 ]; }
hold 1
t_eq "$(hl $L/)" 200 "one connection held: served"
release
hold 2
t_eq "$(hl $L/)" 503 "two connections held (api-connections = 2): 503"
t_eq "$(body_jq .error)" "too many connections" "503's error"
t_eq "$(hl -T "$T_DIR/hello" $L/value/busy)" 503 "PUT while two connections are held"
release
t_check "served again once they are closed" t_wait 10 "l to serve again" served
t_eq "$(hl $L/value/busy)" 404 "the PUT refused with 503 left nothing"
hold 26
t_eq "$(hl $L/)" 000 "26 held (api-connections + 16 + 8 kept for loopback): closed without a reply"
release
t_check "served again after the hard cap" t_wait 10 "l to serve again" served
# Remote connections held at every slot a remote address can get: loopback
# (oand status) is still served, and the holder got no more than its share.
touch "$T_DIR/hold.flag"
: > "$T_DIR/hold.out"
inc python3 "$T_DIR/hold.py" "$NET.1" 8184 30 "$T_DIR/hold.flag" > "$T_DIR/hold.out" &
holder=$!
T_PIDS+=("$holder")
t_wait 20 "30 remote connections to be tried" grep -q ready "$T_DIR/hold.out"
t_eq "$(hl $L/)" 200 "loopback served while a remote address holds all it may"
t_eq "$(hc c $RL/)" 000 "the same remote address gets no more connections"
release
t_check "served again once the remote ones are closed" t_wait 10 "l to serve again" served
# Loopback is nothing: without the token, a browser's request (a hostile
# page's form, or its own name resolved to 127.0.0.1) gets no more than
# any other, and neither does one with the Host of loopback.
before=$(snap a)
t_eq "$(hc s -H 'Host: evil.example.com' $A/value/)" 401 "loopback with a foreign Host, no token"
t_eq "$(hc s -H 'Origin: http://evil.example.com' -X POST "$A/value/csrf?mkdir")" 401 \
	"loopback with an Origin, no token"
t_eq "$(hc s -H 'Host: localhost:8181' $A/value/)" 401 "loopback with Host localhost, no token"
t_eq "$(hc s -H 'Host: [::1]:8181' $A/value/)" 401 "loopback with Host [::1], no token"
t_eq "$(ha -H 'Host: evil.example.com' $A/value/)" 200 "the token with any Host"
t_eq "$(snap a)" "$before" "a's tree unchanged by requests without the token"

# An idle connection is closed after api-timeout (2 s).
cat > "$T_DIR/idle.py" <<'EOF'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
t0 = time.monotonic()
if sys.argv[3] == "partial":
    s.sendall(b"GET / HTTP/1.1\r\n")
elif sys.argv[3] == "after-a-reply":
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = b""
    while not reply.endswith(b"\r\n\r\n{}\n"):
        more = s.recv(4096)
        if not more:
            break
        reply += more
    t0 = time.monotonic()
try:
    d = s.recv(100)
except OSError:
    d = b"error"
print("%d %s" % (int(time.monotonic() - t0), "closed" if d == b"" else "not closed"))
EOF
for how in silent partial after-a-reply; do
	out=$(ins python3 "$T_DIR/idle.py" 127.0.0.1 8184 $how)
	t_check "a $how idle connection is closed after 1-6 s ($out)" \
		grep -Eqx '[1-6] closed' <<<"$out"
done

# The rate limit: 30 a minute from C; loopback is not limited.
before=$(snap l)
t0=$(date +%s%N)
codes=$(inc curl -s -w '%{http_code}\n' $(for _ in $(seq 1 40); do echo "-o /dev/null $RL/"; done))
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
n200=$(grep -c 200 <<<"$codes")
# (30 at once, then one every 2 s)
t_check "30 requests served from C before the limit ($n200 in $ms ms)" \
	test "$n200" -ge 30 -a "$n200" -le $((30 + 1 + ms / 2000))
t_check "the first 30 were served" [ "$(head -30 <<<"$codes" | sort -u)" = 200 ]
t_check "the last ones were refused with 429" [ "$(tail -5 <<<"$codes" | sort -u)" = 429 ]
t_eq "$(hc c $RL/)" 429 "429 from C"
t_check "429 is an error" is_error
t_check "429 says when to retry ($(hdr Retry-After))" grep -Eqx '[1-9][0-9]*' <<<"$(hdr Retry-After)"
t_eq "$(hdr X-RateLimit-Limit) $(hdr X-RateLimit-Remaining)" "30 0" "429's X-RateLimit headers"
t_eq "$(hc c -H "Authorization: Bearer $LTOK" -T "$T_DIR/hello" $RL/value/limited)" 429 "PUT from C while limited"
t_eq "$(hl $L/)" 200 "loopback is served while C is limited"
t_eq "$(snap l)" "$before" "l's tree after the 429s"
served_c() { [ "$(inc curl -s -o /dev/null -w '%{http_code}' $RL/)" = 200 ]; }
t_check "C is served again later" t_wait 10 "C to be served again" served_c

# Stopped, the node is no longer there for the command line.
lpid=$(cat "$T_DIR/l.pid")
kill -TERM "$lpid"
t_check "l stops" t_wait 30 "l to exit" t_gone "$lpid"
t_refused "oand status with no node" "no node is running" ins "$OAND" -c "$T_DIR/l.conf" status
t_done
