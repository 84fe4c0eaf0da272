# oand - peer-to-peer network filesystem
#
#   make              build oand and mount.oand
#   make check        unit tests (Check) and integration tests (real mounts)
#   make check-layers no include up a layer, no frontend compiled against tox.h
#   make check-slow   the longer integration tests (tests/integration/s_*.sh: slow links)
#   make SAN=1 check  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make install      PREFIX=/usr/local DESTDIR= (make uninstall: the same)
#   make deps         install the Debian packages the build and tests need
#   make bench        benchmarks against the native filesystem and bare toxcore (BENCHMARKS.md)
#   make bench-cluster only the cluster ones against bare toxcore (bench/cluster)
#   make bench-share  only the shared-tree ones between mounted nodes (bench/share)
#   make bench-http   only the HTTP API against the mount and plain servers (bench/http)
#   make bench-sync   only the replication path without the network (bench/syncpath.c)
#   make bench-hash   only the content hash rate, oand's and libsodium's (bench/hashrate.c)
#   make bench-slowlink only replication and transfer on shaped links (bench/slowlink)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
DOCDIR ?= $(PREFIX)/share/doc/oand
# systemd's directory for the units of packages (Debian 12: /lib/systemd/system).
SYSTEMDUNITDIR ?= /lib/systemd/system
# mount(8) runs its helpers (mount.oand, mount.fuse.oand) only from /sbin:
# when SBINDIR is another directory, they are linked there.
MOUNTHELPERDIR ?= /sbin
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS = fuse3 libsodium sqlite3 libconfig toxcore libmicrohttpd jansson gnutls nettle libcurl

DEBIAN_DEPS = build-essential pkg-config libfuse3-dev fuse3 libtoxcore-dev libsodium-dev \
	libsqlite3-dev libconfig-dev libmicrohttpd-dev libgnutls28-dev nettle-dev libcurl4-gnutls-dev libjansson-dev check sqlite3 attr psmisc \
	procps iproute2 curl jq openssl python3 clang libclang-rt-14-dev dpkg-dev

ifeq ($(SAN),1)
B := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BIN := $(B)
else
B := build/obj
SANFLAGS :=
BIN := .
endif

# Debian's hardened build flags (stack protector, _FORTIFY_SOURCE, relro,
# now; hardening=+all) where dpkg-buildflags is, the same by hand
# elsewhere; CFLAGS, CPPFLAGS and LDFLAGS from the environment or the
# command line come after them, so they add to them instead of replacing
# them.  ASan and _FORTIFY_SOURCE get in each other's way (the checked
# __*_chk copies are not intercepted): SAN=1 builds go without it.
ifneq ($(shell command -v dpkg-buildflags 2>/dev/null),)
BUILDFLAGS = $(shell DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get $(1))
HARDEN_CFLAGS := $(call BUILDFLAGS,CPPFLAGS) $(call BUILDFLAGS,CFLAGS)
HARDEN_LDFLAGS := $(call BUILDFLAGS,LDFLAGS)
else
HARDEN_CFLAGS := -D_FORTIFY_SOURCE=2 -g -O2 -fstack-protector-strong -Wformat -Werror=format-security
HARDEN_LDFLAGS :=
endif
ifeq ($(SAN),1)
HARDEN_CFLAGS := $(filter-out -D_FORTIFY_SOURCE=%,$(HARDEN_CFLAGS))
endif
override CFLAGS := $(HARDEN_CFLAGS) $(CPPFLAGS) $(CFLAGS) \
	-std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -MMD -MP $(SANFLAGS) \
	$(shell $(PKG_CONFIG) --cflags $(PKGS))
override LDFLAGS := $(HARDEN_LDFLAGS) -Wl,-z,relro,-z,now $(LDFLAGS) $(SANFLAGS)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(PKGS)) -lpthread

# The layers, lowest first (src/README: each folder includes only its
# own headers and those of the folders before it; the include paths below
# are what lets it, so a header from a higher layer does not compile).
# fuse/ (the mount) comes between core and front, which runs them all:
# util proto store net repl core fuse front.
DIRS = util proto store net repl core front
util_MODS = log hex deadline cfg path clock ident sha256 thread
proto_MODS = wire rpc admit cluster httparse syncwire nsrec
store_MODS = store db db_tree db_tree_rules db_tree_read
net_MODS = net net_send net_call net_svc net_peers net_join net_nodes net_files httpc bff
repl_MODS = sync sync_pull sync_msg xfer xfer_send replica
core_MODS = node node_ino node_ns nodestat
front_MODS = api api_tree ctl serve status
$(foreach d,$(DIRS),$(foreach m,$($(d)_MODS),$(eval DIR_$(m) := $(d))))
# $(call o,mods): their objects; $(call s,mods): their sources.
o = $(foreach m,$(1),$(B)/src/$(DIR_$(m))/$(m).o)
s = $(foreach m,$(1),src/$(DIR_$(m))/$(m).c)

# The folders each folder may include from.
INC_util = util
INC_proto = util proto
INC_store = util proto store
INC_net = util proto store net
INC_repl = util proto store net repl
INC_core = util proto store net repl core
# The frontends reach the rest through the node (src/core/node.h) only.
INC_fuse = util core fuse
INC_front = util proto core fuse front
# A file's own additions: oand's commands ask the running node's HTTP
# service as a client (httpc).
INC_FILE_src/front/main = net
INC_tests = $(DIRS) fuse tests/unit
INC_bench = $(DIRS)
iquote = $(foreach d,$(1),-iquote $(if $(filter fuse tests/%,$(d)),$(d),src/$(d)))
# The include flags of a source file by its folder (src/<layer>/, fuse/, tests/, bench/).
layer_of = $(if $(filter src,$(word 1,$(subst /, ,$(1)))),$(word 2,$(subst /, ,$(1))),$(word 1,$(subst /, ,$(1))))
inc_of = $(call iquote,$(INC_$(call layer_of,$(1))) $(INC_FILE_$(1)))

CORE = $(foreach d,util proto store net repl core,$($(d)_MODS))
CORE_OBJ = $(call o,$(CORE))
FUSE_OBJ = $(B)/fuse/ops.o $(B)/fuse/session.o $(B)/fuse/watch.o $(B)/fuse/notify.o
# The HTTP API, the control socket, and what runs a node with them and FUSE.
FRONT_OBJ = $(call o,$(front_MODS))
UNIT = cfg path clock db store log node sha256 wire ident admit bff cluster rpc sync http xfer watch nsrec tree
UNIT_BIN = $(UNIT:%=$(B)/tests/unit/check_%)

all: $(BIN)/oand $(BIN)/mount.oand

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call inc_of,$*) -c -o $@ $<

$(BIN)/oand: $(B)/src/front/main.o $(FRONT_OBJ) $(FUSE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mount.oand: $(B)/src/front/mount.o $(FRONT_OBJ) $(FUSE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each unit test links only the modules it needs.
U = $(B)/tests/unit
$(U)/check_log: $(U)/check_log.o $(call o,log)
$(U)/check_path: $(U)/check_path.o $(call o,path)
$(U)/check_clock: $(U)/check_clock.o $(call o,clock)
$(U)/check_cfg: $(U)/check_cfg.o $(call o,cfg hex log)
$(U)/check_db: $(U)/check_db.o $(call o,db clock path log)
$(U)/check_store: $(U)/check_store.o $(call o,store sha256 log deadline hex)
$(U)/check_sha256: $(U)/check_sha256.o $(call o,sha256)
# check_node also checks the text of `oand status` (src/front/status).
$(U)/check_node: $(U)/check_node.o $(CORE_OBJ) $(call o,status)
$(U)/check_wire: $(U)/check_wire.o $(call o,wire)
$(U)/check_nsrec: $(U)/check_nsrec.o $(call o,nsrec)
# check_tree: the interpreter on its own schema-6 file; records made by hand.
$(U)/check_tree: $(U)/check_tree.o $(call o,db_tree db_tree_rules db_tree_read nsrec db clock path log)
$(U)/check_admit: $(U)/check_admit.o $(call o,admit)
$(U)/check_cluster: $(U)/check_cluster.o $(call o,cluster)
$(U)/check_rpc: $(U)/check_rpc.o $(call o,rpc)
# check_bff and check_http serve their client on loopback (tests/unit/http_stub.c).
$(U)/check_bff: $(U)/check_bff.o $(U)/http_stub.o $(call o,bff hex deadline httpc)
$(U)/check_http: $(U)/check_http.o $(U)/http_stub.o $(call o,httparse httpc path deadline)
# check_sync tests sync's messages (sync_msg): no thread, no network.
$(U)/check_sync: $(U)/check_sync.o $(call o,sync_msg syncwire db clock path log ident)
# check_xfer links tests/unit/net_stub.c instead of src/net.
# check_xfer plays c-toxcore's file calls itself (they come before -ltoxcore).
$(U)/check_xfer: $(U)/check_xfer.o $(U)/net_stub.o $(call o,xfer xfer_send store db clock path log deadline sha256 hex)
$(U)/check_watch: $(U)/check_watch.o $(B)/fuse/watch.o $(call o,log deadline)
# check_ident compares with toxcore's own idea of the address.
$(U)/check_ident: $(U)/check_ident.o $(call o,ident log)
$(UNIT_BIN):
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs check) $(LDLIBS)

# check_tree's convergence test runs 1,000 random seeds (about 80 s); the
# sanitized build, several times slower, runs 200 of them.
ifeq ($(SAN),1)
UNIT_ENV = TREE_SEEDS=200
endif
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $(UNIT_ENV) CK_DEFAULT_TIMEOUT=120 $$t; done

# Small C programs the integration tests use for syscalls shell tools lack.
TOOLS = $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(wildcard tests/tools/*.c))
$(B)/tests/tools/%: $(B)/tests/tools/%.o
	$(CC) $(LDFLAGS) -o $@ $^
# A hostile member: a real node whose answers are made to harm.
$(B)/tests/tools/evilpeer: $(B)/tests/tools/evilpeer.o $(CORE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

ifeq ($(SAN),1)
# A daemon's stderr is /dev/null: sanitizer reports go to files, and any
# report fails the run.
SAN_LOG = $(abspath $(B))/sanitizer
# t_openstate's fsxlite runs 20,000 of its 100,000 operations there.
SAN_ENV = ASAN_OPTIONS=log_path=$(SAN_LOG):abort_on_error=1 \
	UBSAN_OPTIONS=log_path=$(SAN_LOG):print_stacktrace=1:halt_on_error=1 FSX_OPS=20000
endif

integration: all $(TOOLS)
ifeq ($(SAN),1)
	@rm -f $(SAN_LOG).*
endif
	$(SAN_ENV) OAND_BIN=$(abspath $(BIN)) OAND_TOOLS=$(abspath $(B)/tests/tools) tests/integration/run-all
ifeq ($(SAN),1)
	@if ls $(SAN_LOG).* >/dev/null 2>&1; then echo "sanitizer reports:"; cat $(SAN_LOG).*; exit 1; fi
endif

# The longer integration tests: slow, shaped and cut links, big files
# (tests/integration/s_*.sh).  All at once: most of their time is spent
# waiting on shaped links, and they start their nodes with nsenter --net
# only (run-all, JOBS); about 6 minutes.
check-slow: all $(TOOLS)
	OAND_BIN=$(abspath $(BIN)) OAND_TOOLS=$(abspath $(B)/tests/tools) KIND=s JOBS=8 tests/integration/run-all

# libFuzzer targets for every decoder of network input (clang).
FUZZ_SECONDS ?= 20
FUZZ_CC ?= clang
FUZZERS = wire admit bff cluster sync apply http nsrec
FUZZ_BIN = $(FUZZERS:%=build/fuzz/fuzz_%)
# What each target links besides its own source, and with which libraries.
FUZZ_MODS_wire = wire
FUZZ_MODS_admit = admit
FUZZ_LIBS_admit = -lsodium
FUZZ_MODS_bff = bff hex deadline httpc
FUZZ_LIBS_bff = -ljansson -lcurl -lsodium
FUZZ_MODS_http = httparse path
FUZZ_MODS_cluster = cluster
FUZZ_MODS_nsrec = nsrec
FUZZ_LIBS_nsrec = -lsodium
FUZZ_MODS_sync = syncwire path
FUZZ_LIBS_sync = -lsodium
FUZZ_MODS_apply = sync_msg syncwire db clock path log ident
FUZZ_LIBS_apply = -lsqlite3 -lsodium -lpthread
.SECONDEXPANSION:
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(call s,$$(FUZZ_MODS_$$*)) $$(FUZZ_EXTRA_$$*) \
		$$(patsubst %.c,%.h,$$(call s,$$(FUZZ_MODS_$$*)))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE $(call inc_of,tests) -fsanitize=fuzzer,address,undefined \
		-o $@ $(filter %.c,$^) $(FUZZ_LIBS_$*)

fuzz: $(FUZZ_BIN)
	@python3 tests/fuzz/make-sync-seeds.py build/fuzz/corpus-fuzz_sync
	@python3 tests/fuzz/make-sync-seeds.py build/fuzz/corpus-fuzz_apply
	@python3 tests/fuzz/make-nsrec-seeds.py build/fuzz/corpus-fuzz_nsrec
	@for f in $(FUZZ_BIN); do c=build/fuzz/corpus-$$(basename $$f); mkdir -p $$c; \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
			$$c > build/fuzz/$$(basename $$f).log 2>&1; then \
			tail -40 build/fuzz/$$(basename $$f).log; exit 1; fi; \
		grep -E "^(Done|stat::number_of_executed_units)" build/fuzz/$$(basename $$f).log; done

# No include goes up a layer (tests/lint/layers.sh), and no frontend (the
# API, the control socket, the command line, FUSE) is compiled against
# Tox: only src/net and src/repl see tox.h.
FRONT_SRC = $(wildcard src/front/*.c fuse/*.c)
check-layers:
	@tests/lint/layers.sh
	@$(foreach f,$(FRONT_SRC),deps=$$($(CC) $(filter-out -MMD -MP,$(CFLAGS)) \
		$(call inc_of,$(basename $(f))) -M $(f)) || exit 1; if echo "$$deps" | \
		grep -q 'tox/tox\.h'; then echo "layers: $(f) is compiled against tox.h"; exit 1; fi;) \
		echo "layers: no frontend is compiled against tox.h ($(words $(FRONT_SRC)) sources)"

check: check-layers unit integration fuzz

# Bare c-toxcore in the shape of the cluster benchmarks, as their reference.
build/bench/toxref: bench/toxref.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror $< $(shell $(PKG_CONFIG) --cflags --libs toxcore) -o $@

# The load generator of bench/http.
build/bench/httpload: bench/httpload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -Wshadow -D_GNU_SOURCE $< -o $@ -lpthread

bench: all build/bench/toxref build/bench/httpload build/bench/syncpath build/bench/hashrate
	build/bench/hashrate
	bench/run
	bench/cluster
	bench/share
	bench/slowlink
	bench/http
	build/bench/syncpath

bench-cluster: all build/bench/toxref
	bench/cluster

bench-share: all build/bench/toxref
	bench/share

bench-slowlink: all
	bench/slowlink

bench-http: all build/bench/httpload
	bench/http

# The replication path without the network: answers, checks, applying.
build/bench/syncpath: bench/syncpath.c $(call o,sync_msg syncwire db ident clock path log)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call inc_of,bench) $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)

bench-sync: build/bench/syncpath
	build/bench/syncpath

# The content hash (src/util/sha256) in memory, libsodium's beside it.
build/bench/hashrate: bench/hashrate.c $(call o,sha256)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call inc_of,bench) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-hash: build/bench/hashrate
	build/bench/hashrate

# libfuse's passthrough_ll example, the reference of bench/ns.
PT_LL_SRC = /usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
build/bench/passthrough_ll: $(PT_LL_SRC)
	@mkdir -p $(dir $@)
	$(CC) -O2 $< $(shell $(PKG_CONFIG) --cflags --libs fuse3) -o $@

bench-ns: all build/bench/passthrough_ll
	bench/ns

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/init.d $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BIN)/oand $(BIN)/mount.oand $(DESTDIR)$(SBINDIR)/
	ln -sf mount.oand $(DESTDIR)$(SBINDIR)/mount.fuse.oand
	@# Not when MOUNTHELPERDIR is SBINDIR (PREFIX=/usr on a merged /usr).
	if [ "$(MOUNTHELPERDIR)" != "$(SBINDIR)" ] && \
		! [ "$(DESTDIR)$(MOUNTHELPERDIR)" -ef "$(DESTDIR)$(SBINDIR)" ]; then \
		install -d $(DESTDIR)$(MOUNTHELPERDIR) && \
		ln -sf $(SBINDIR)/mount.oand $(DESTDIR)$(MOUNTHELPERDIR)/mount.oand && \
		ln -sf $(SBINDIR)/mount.oand $(DESTDIR)$(MOUNTHELPERDIR)/mount.fuse.oand; fi
	install -m 0644 man/oand.8 man/mount.oand.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/oand.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 etc/oand.conf.example $(DESTDIR)$(DOCDIR)/
	install -m 0644 etc/oand.conf.example $(DESTDIR)$(SYSCONFDIR)/oand.conf.example
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/init.d/oand > $(DESTDIR)$(SYSCONFDIR)/init.d/oand
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/oand
	sed 's|@SBINDIR@|$(SBINDIR)|g' etc/oand.service > $(DESTDIR)$(SYSTEMDUNITDIR)/oand.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/oand.service

uninstall:
	@# The links of install only: on a merged /usr, /sbin/mount.oand is SBINDIR's.
	for h in mount.oand mount.fuse.oand; do \
		if [ "$$(readlink $(DESTDIR)$(MOUNTHELPERDIR)/$$h)" = "$(SBINDIR)/mount.oand" ]; then \
			rm -f $(DESTDIR)$(MOUNTHELPERDIR)/$$h; fi; done
	rm -f $(DESTDIR)$(SBINDIR)/oand $(DESTDIR)$(SBINDIR)/mount.oand \
		$(DESTDIR)$(SBINDIR)/mount.fuse.oand \
		$(DESTDIR)$(MANDIR)/man8/oand.8 $(DESTDIR)$(MANDIR)/man8/mount.oand.8 \
		$(DESTDIR)$(MANDIR)/man5/oand.conf.5 $(DESTDIR)$(SYSCONFDIR)/init.d/oand \
		$(DESTDIR)$(SYSCONFDIR)/oand.conf.example $(DESTDIR)$(SYSTEMDUNITDIR)/oand.service
	rm -rf $(DESTDIR)$(DOCDIR)

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEBIAN_DEPS)

man-check:
	@for m in man/*.[58]; do out=$$(groff -man -ww -z $$m 2>&1); \
		if [ -n "$$out" ]; then echo "$$m: $$out"; exit 1; fi; done; echo "man pages: clean"

clean:
	rm -rf build oand mount.oand

.PHONY: all unit integration check-slow fuzz check check-layers bench bench-cluster bench-share bench-slowlink bench-http bench-sync bench-hash bench-ns install uninstall deps man-check clean
-include $(shell find build -name '*.d' 2>/dev/null)
