#!/usr/bin/env bash
# Convergence under partitions: three mounted nodes in network namespaces
# joined by a bridge.  Their links are cut (all three apart, then one)
# while every node creates, overwrites, renames and deletes files, and all
# three write the same files; a folder is deleted on one node while
# another adds to it.  After each healing the three trees are identical,
# every node's own files are as it left them, every node's last write of
# a shared file is there (at its path or as a conflict copy), and the
# deleted folder is back with the new file in it.  SEEDS="1 2 3 ..." picks
# the random runs (three by default).
. "$(dirname "$0")/lib.sh"
t_init
command -v jq >/dev/null || t_die "jq is needed (make deps)"
command -v nsenter >/dev/null || t_die "nsenter (util-linux) is needed"
P=oc$$
NET=10.$(( $$ % 200 + 20 )).78
t_bridged "$P" "$NET" a b c
key=$("$OAND" genkey)
i=0
for n in a b c; do
	i=$((i + 1))
	t_conf $n "tox-port = 33445; server-port = 8180; cluster-key = \"$key\";" \
		"heartbeat-interval = 2; ipv6 = false; fetch-timeout = 30;" \
		"server-domain-name = \"$NET.$i\"; bff-domain-name = \"$NET.1\"; bff-port = 8180;" >/dev/null
done
for n in a b c; do t_start_mounted_ns "$P-$n" $n || t_die "node $n did not start"; done
all_online() { t_all_online a 3 && t_all_online b 3 && t_all_online c 3; }
t_check "all three online" t_wait 180 "all to list 3 online" all_online
link_down() { for n in "$@"; do ip -n "$P-$n" link set eth0 down; done; }
heal() { for n in a b c; do ip -n "$P-$n" link set eth0 up; done; }
tree() {
	(cd "$T_DIR/$1.mnt/$2" && find . -type d -printf '%p d %m %T@ %C@\n' &&
		find . ! -type d -printf '%p %y %m %s %T@\n' && find . -type f -exec sha256sum {} +) | sort
}
same_trees() {
	tree a "$1" > "$T_DIR/tree.a" && tree b "$1" > "$T_DIR/tree.b" && tree c "$1" > "$T_DIR/tree.c" &&
		cmp -s "$T_DIR/tree.a" "$T_DIR/tree.b" && cmp -s "$T_DIR/tree.a" "$T_DIR/tree.c"
}
declare -A own		# NODE/PATH -> content, for every node's own files
declare -A last		# NODE/K -> that node's last write of shared-K

# ops NODE DIR COUNT: random changes to NODE's own files under DIR.
ops() {
	local n=$1 d=$2 count=$3 m=$T_DIR/$1.mnt/$2 k p q
	for _ in $(seq 1 "$count"); do
		local mine=()
		for k in "${!own[@]}"; do [[ $k == "$n/$d/"* ]] && mine+=("${k#"$n/$d/"}"); done
		case $(( ${#mine[@]} == 0 ? 0 : RANDOM % 5 )) in
		0)	p=own-$n-$RANDOM; own[$n/$d/$p]="$n $RANDOM $RANDOM"; echo "${own[$n/$d/$p]}" > "$m/$p" ;;
		1)	p=${mine[RANDOM % ${#mine[@]}]}; own[$n/$d/$p]="$n again $RANDOM"
			echo "${own[$n/$d/$p]}" > "$m/$p" ;;
		2)	p=${mine[RANDOM % ${#mine[@]}]}; q=$(dirname "$p")/moved-$n-$RANDOM; q=${q#./}
			mv "$m/$p" "$m/$q" && { own[$n/$d/$q]=${own[$n/$d/$p]}; unset "own[$n/$d/$p]"; } ;;
		3)	p=${mine[RANDOM % ${#mine[@]}]}; rm "$m/$p" && unset "own[$n/$d/$p]" ;;
		4)	q=dir-$n-$RANDOM; mkdir "$m/$q"; p=$q/f; own[$n/$d/$p]="$n in $q"
			echo "${own[$n/$d/$p]}" > "$m/$p" ;;
		esac || t_fail "an operation on $n failed"
	done
}
# shared NODE DIR: NODE writes some of the shared files.
shared() {
	local n=$1 d=$2 k
	for k in 1 2 3; do
		if (( RANDOM % 3 )); then
			last[$n/$d/$k]="shared-$k by $n $RANDOM"
			echo "${last[$n/$d/$k]}" > "$T_DIR/$n.mnt/$d/shared-$k" || t_fail "shared write on $n"
		fi
	done
}
check_seed() {
	local d=$1 k n content found f
	t_check "seed $seed: the trees are the same" same_trees "$d"
	same_trees "$d" || diff "$T_DIR/tree.a" "$T_DIR/tree.b" | head -20 >&2
	for k in "${!own[@]}"; do
		[[ $k == */$d/* ]] || continue
		t_eq "$(cat "$T_DIR/a.mnt/$d/${k#*/"$d"/}" 2>&1)" "${own[$k]}" "seed $seed: ${k%%/*}'s own file ${k#*/"$d"/} on a"
	done
	for k in "${!last[@]}"; do
		[[ $k == */$d/* ]] || continue
		n=${k%%/*}; content=${last[$k]}; found=0
		for f in "$T_DIR/b.mnt/$d/shared-${k##*/}"*; do
			[ "$(cat "$f")" = "$content" ] && found=1
		done
		t_check "seed $seed: $n's last write of shared-${k##*/} is kept" [ $found = 1 ]
	done
	t_check "seed $seed: the folder deleted on a is back" test -d "$T_DIR/c.mnt/$d/pd"
	t_eq "$(cat "$T_DIR/a.mnt/$d/pd/fromb" 2>&1)" "from b" "seed $seed: b's file in it"
	t_check "seed $seed: a's delete of pd/old stands" test ! -e "$T_DIR/c.mnt/$d/pd/old"
}

for seed in ${SEEDS:-1 2 3}; do
	RANDOM=$seed
	d=s$seed
	mkdir -p "$T_DIR/a.mnt/$d/pd" && echo old > "$T_DIR/a.mnt/$d/pd/old"
	for k in 1 2 3; do echo base > "$T_DIR/a.mnt/$d/shared-$k"; done
	for n in b c; do
		t_check "$n sees seed $seed's start" t_wait 60 "$n to see $d/shared-3" test -f "$T_DIR/$n.mnt/$d/shared-3"
		t_check "$n sees pd/old" t_wait 60 "$n to see $d/pd/old" test -f "$T_DIR/$n.mnt/$d/pd/old"
	done
	# All three apart: everyone changes its own files and the shared ones;
	# a deletes pd while b adds to it.
	link_down a b c
	for n in a b c; do ops $n "$d" 12; shared $n "$d"; done
	rm -r "$T_DIR/a.mnt/$d/pd" || t_fail "rm -r pd on a"
	echo "from b" > "$T_DIR/b.mnt/$d/pd/fromb" || t_fail "write in pd on b"
	heal
	t_check "seed $seed: all online after the first healing" t_wait 300 "all to list 3 online" all_online
	t_wait 120 "the trees to agree (seed $seed, first healing)" same_trees "$d"
	# c apart: all go on changing their own files.
	link_down c
	for n in a b c; do ops $n "$d" 8; done
	heal
	t_check "seed $seed: all online after the second healing" t_wait 300 "all to list 3 online" all_online
	t_check "seed $seed: the trees agree" t_wait 120 "the trees to agree (seed $seed)" same_trees "$d"
	check_seed "$d"
done
t_done
