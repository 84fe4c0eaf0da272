#!/usr/bin/env bash
# `oand status` tells the truth about reads that wait and what is stored.
#
# Two mounted nodes in a namespace; a holds a file's content, and a stops
# answering (SIGSTOP) before b reads it.  While b's read waits: b's
# status and `oand transfers` show the fetch with its file, its reader
# and how long it has waited, and the mount's request in flight; once it
# has waited longer than stuck-request, the request shows as stuck (JSON
# and text) and the log says so.  a goes on (SIGCONT): the read ends with
# the right bytes, and nothing waits any more.  "stored" counts what each
# node's disk holds: b holds nothing of the file before the read and all
# of it after, and a file's content named in the tree but not fetched is
# not counted on b.
. "$(dirname "$0")/lib.sh"
t_init
jqt() { jq -e "$@" >/dev/null; }
for t in jq nsenter; do command -v $t >/dev/null || t_die "$t is needed (make deps)"; done
NS=ost$$
t_netns "$NS"
key=$("$OAND" genkey)
common="cluster-key = \"$key\"; heartbeat-interval = 2; ipv6 = false; replicas = 1;
  server-domain-name = \"127.0.0.1\"; bff-domain-name = \"127.0.0.1\"; bff-port = 18190;
  fetch-timeout = 60; stuck-request = 2;"
t_conf a "tox-port = 33455; server-port = 18190;" "$common" >/dev/null
t_conf b "tox-port = 33456; server-port = 18191;" "$common" >/dev/null
A=$T_DIR/a.mnt B=$T_DIR/b.mnt
for n in a b; do t_start_mounted_ns "$NS" $n || t_die "node $n did not start"; done
linked() { "$OAND" -c "$T_DIR/b.conf" nodes --json 2>/dev/null |
	jqt '.nodes[] | select(.name == "a") | .direct' >/dev/null; }
t_check "b is linked to a" t_wait 120 "b to hear a directly" linked
st() { "$OAND" -c "$T_DIR/$1.conf" status --json 2>/dev/null; }

head -c $((3 << 20)) /dev/urandom > "$T_DIR/f.src"
cp "$T_DIR/f.src" "$A/f" || t_die "cannot write f on a"
head -c $((2 << 20)) /dev/urandom > "$A/g" || t_die "cannot write g on a"
sized() { [ "$(stat -c %s "$1" 2>/dev/null)" = "$2" ]; }
t_check "b sees f" t_wait 30 "b to see f" sized "$B/f" $((3 << 20))
t_check "b sees g" t_wait 30 "b to see g" sized "$B/g" $((2 << 20))
st b > "$T_DIR/st0"
t_check "b stores less than a file of it before reading ($(jq -c '[.bytes_stored, .bytes_named]' "$T_DIR/st0"))" \
	jqt '.bytes_stored < 1048576 and .bytes_named >= 5242880 and .partial_bytes == 0' "$T_DIR/st0"

apid=$(cat "$T_DIR/a.pid")
kill -STOP "$apid"
cat "$B/f" > "$T_DIR/f.got" 2> "$T_DIR/f.err" &
reader=$!
waiting() {
	st b > "$T_DIR/st1" &&
		jqt '.transfers[] | select(.direction == "in" and .file == "/f" and .readers == 1 and
			.waited_seconds >= 1)' "$T_DIR/st1" >/dev/null
}
t_check "b's status shows the read waiting for f" t_wait 20 "b's status to show the wait" waiting
t_check "oand transfers shows the reader waiting" sh -c \
	"'$OAND' -c '$T_DIR/b.conf' transfers | grep -Eq '^in +/f .*1 reader\(s\) waiting [0-9]+ s$'"
t_check "b's status shows the mount's request in flight ($(jq -c .fuse "$T_DIR/st1"))" \
	jqt '.fuse.in_flight >= 1' "$T_DIR/st1"
stuck() { st b > "$T_DIR/st2" && jqt '.fuse.stuck >= 1 and .fuse.oldest_ms >= 2000' "$T_DIR/st2" >/dev/null; }
t_check "after stuck-request, the request shows as stuck" t_wait 20 "a stuck request" stuck
t_check "the text status says STUCK" sh -c "'$OAND' -c '$T_DIR/b.conf' status | grep -q 'STUCK'"
t_check "the log says a request waits" t_wait 10 "the log line" grep -q "request has waited" "$T_DIR/b.log"
kill -CONT "$apid"
t_wait 90 "b's read to end" t_gone $reader
wait $reader
t_check "b's read ended well ($(head -c 200 "$T_DIR/f.err"))" [ $? -eq 0 ]
t_check "b read the right bytes" cmp -s "$T_DIR/f.src" "$T_DIR/f.got"
idle() { st b > "$T_DIR/st3" && jqt '.fuse.in_flight == 0 and .fuse.stuck == 0 and
	(.transfers | length) == 0' "$T_DIR/st3" >/dev/null; }
t_check "nothing waits on b any more" t_wait 20 "b to be idle" idle
t_check "the log says the request was answered" grep -q "request that waited is answered" "$T_DIR/b.log"
t_check "b stores f now, not g ($(jq -c '[.bytes_stored, .blobs_stored]' "$T_DIR/st3"))" \
	jqt '.bytes_stored >= 3145728 and .bytes_stored < 5242880' "$T_DIR/st3"
t_check "a stores both" sh -c "'$OAND' -c '$T_DIR/a.conf' status --json | jq -e '.bytes_stored >= 5242880' >/dev/null"
t_check "the text status says what is on this node" sh -c \
	"'$OAND' -c '$T_DIR/b.conf' status | grep -Eq '^stored: +[0-9]+ bytes in [0-9]+ blobs on this node'"
t_done
