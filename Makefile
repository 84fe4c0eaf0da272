# oand - peer-to-peer network filesystem
#
#   make              build oand and mount.oand
#   make check        unit tests (Check) and integration tests (real mounts)
#   make check-slow   the longer integration tests (tests/integration/s_*.sh: slow links)
#   make SAN=1 check  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make install      PREFIX=/usr/local DESTDIR= (make uninstall: the same)
#   make deps         install the Debian packages the build and tests need
#   make bench        benchmarks against the native filesystem and bare toxcore (BENCHMARKS.md)
#   make bench-cluster only the cluster ones against bare toxcore (bench/cluster)
#   make bench-share  only the shared-tree ones between mounted nodes (bench/share)
#   make bench-http   only the HTTP API against the mount and plain servers (bench/http)
#   make bench-sync   only the replication path without the network (bench/syncpath.c)
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
PKGS = fuse3 libsodium sqlite3 libconfig toxcore libmicrohttpd jansson gnutls

DEBIAN_DEPS = build-essential pkg-config libfuse3-dev fuse3 libtoxcore-dev libsodium-dev \
	libsqlite3-dev libconfig-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev check sqlite3 attr psmisc \
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

CORE = log hex deadline cfg path clock sha256 ident admit httparse httpc bff api db store ctl net node wire cluster rpc sync xfer replica
CORE_OBJ = $(CORE:%=$(B)/src/%.o)
FUSE_OBJ = $(B)/fuse/ops.o $(B)/fuse/serve.o $(B)/fuse/watch.o
UNIT = cfg path clock db store log node sha256 wire ident admit bff cluster rpc sync http xfer watch
UNIT_BIN = $(UNIT:%=$(B)/tests/check_%)

all: $(BIN)/oand $(BIN)/mount.oand

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BIN)/oand: $(B)/src/main.o $(FUSE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mount.oand: $(B)/fuse/mount.o $(FUSE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each unit test links only the modules it needs.
$(B)/tests/check_log: $(B)/tests/check_log.o $(B)/src/log.o
$(B)/tests/check_path: $(B)/tests/check_path.o $(B)/src/path.o
$(B)/tests/check_clock: $(B)/tests/check_clock.o $(B)/src/clock.o
$(B)/tests/check_cfg: $(B)/tests/check_cfg.o $(B)/src/cfg.o $(B)/src/hex.o $(B)/src/log.o
$(B)/tests/check_db: $(B)/tests/check_db.o $(B)/src/db.o $(B)/src/clock.o $(B)/src/path.o $(B)/src/log.o
$(B)/tests/check_store: $(B)/tests/check_store.o $(B)/src/store.o $(B)/src/sha256.o $(B)/src/log.o $(B)/src/deadline.o
$(B)/tests/check_sha256: $(B)/tests/check_sha256.o $(B)/src/sha256.o
$(B)/tests/check_node: $(B)/tests/check_node.o $(CORE_OBJ)
$(B)/tests/check_wire: $(B)/tests/check_wire.o $(B)/src/wire.o
$(B)/tests/check_admit: $(B)/tests/check_admit.o $(B)/src/admit.o
$(B)/tests/check_cluster: $(B)/tests/check_cluster.o $(B)/src/cluster.o
$(B)/tests/check_rpc: $(B)/tests/check_rpc.o $(B)/src/rpc.o
$(B)/tests/check_bff: $(B)/tests/check_bff.o $(B)/src/bff.o $(B)/src/hex.o $(B)/src/deadline.o \
	$(B)/src/httpc.o $(B)/src/httparse.o $(B)/src/path.o
$(B)/tests/check_http: $(B)/tests/check_http.o $(B)/src/httparse.o $(B)/src/httpc.o $(B)/src/path.o \
	$(B)/src/deadline.o
# check_sync and fuzz_sync link tests/net_stub.c instead of src/net.
$(B)/tests/check_sync: $(B)/tests/check_sync.o $(B)/tests/net_stub.o $(B)/src/sync.o $(B)/src/db.o \
	$(B)/src/clock.o $(B)/src/path.o $(B)/src/log.o $(B)/src/deadline.o $(B)/src/ident.o
# check_xfer plays c-toxcore's file calls itself (they come before -ltoxcore).
$(B)/tests/check_xfer: $(B)/tests/check_xfer.o $(B)/src/xfer.o $(B)/src/store.o $(B)/src/db.o \
	$(B)/src/clock.o $(B)/src/path.o $(B)/src/log.o $(B)/src/deadline.o $(B)/src/sha256.o
$(B)/tests/check_watch: $(B)/tests/check_watch.o $(B)/fuse/watch.o $(B)/src/log.o $(B)/src/deadline.o
# check_ident compares with toxcore's own idea of the address.
$(B)/tests/check_ident: $(B)/tests/check_ident.o $(B)/src/ident.o $(B)/src/log.o
$(UNIT_BIN):
	$(CC) $(LDFLAGS) -o $@ $^ $(shell $(PKG_CONFIG) --libs check) $(LDLIBS)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CK_DEFAULT_TIMEOUT=120 $$t; done

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
SAN_ENV = ASAN_OPTIONS=log_path=$(SAN_LOG):abort_on_error=1 \
	UBSAN_OPTIONS=log_path=$(SAN_LOG):print_stacktrace=1:halt_on_error=1
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
FUZZERS = wire admit bff cluster sync apply http
FUZZ_BIN = $(FUZZERS:%=build/fuzz/fuzz_%)
build/fuzz/fuzz_wire: tests/fuzz_wire.c src/wire.c src/wire.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_wire.c src/wire.c

build/fuzz/fuzz_admit: tests/fuzz_admit.c src/admit.c src/admit.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_admit.c src/admit.c -lsodium

build/fuzz/fuzz_bff: tests/fuzz_bff.c src/bff.c src/bff.h src/hex.c src/deadline.c src/httpc.c src/httparse.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_bff.c src/bff.c src/hex.c src/deadline.c src/httpc.c src/httparse.c src/path.c -ljansson -lgnutls

build/fuzz/fuzz_http: tests/fuzz_http.c src/httparse.c src/httparse.h src/path.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_http.c src/httparse.c src/path.c

build/fuzz/fuzz_cluster: tests/fuzz_cluster.c src/cluster.c src/cluster.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_cluster.c src/cluster.c

FUZZ_SYNC_SRC = tests/net_stub.c src/sync.c src/db.c src/clock.c src/path.c src/log.c src/deadline.c \
	src/ident.c
build/fuzz/fuzz_sync: tests/fuzz_sync.c $(FUZZ_SYNC_SRC) src/sync.h src/db.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_sync.c $(FUZZ_SYNC_SRC) -lsqlite3 -lsodium -lpthread

build/fuzz/fuzz_apply: tests/fuzz_apply.c $(FUZZ_SYNC_SRC) src/sync.h src/db.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz_apply.c $(FUZZ_SYNC_SRC) -lsqlite3 -lsodium -lpthread

fuzz: $(FUZZ_BIN)
	@python3 tests/fuzz-seeds/make-sync-seeds.py build/fuzz/corpus-fuzz_sync
	@python3 tests/fuzz-seeds/make-sync-seeds.py build/fuzz/corpus-fuzz_apply
	@for f in $(FUZZ_BIN); do c=build/fuzz/corpus-$$(basename $$f); mkdir -p $$c; \
		echo "== $$f ($(FUZZ_SECONDS) s)"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
			$$c > build/fuzz/$$(basename $$f).log 2>&1; then \
			tail -40 build/fuzz/$$(basename $$f).log; exit 1; fi; \
		grep -E "^(Done|stat::number_of_executed_units)" build/fuzz/$$(basename $$f).log; done

check: unit integration fuzz

# Bare c-toxcore in the shape of the cluster benchmarks, as their reference.
build/bench/toxref: bench/toxref.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror $< $(shell $(PKG_CONFIG) --cflags --libs toxcore) -o $@

# The load generator of bench/http.
build/bench/httpload: bench/httpload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -Wshadow -D_GNU_SOURCE $< -o $@ -lpthread

bench: all build/bench/toxref build/bench/httpload build/bench/syncpath
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
build/bench/syncpath: bench/syncpath.c $(B)/src/sync.o $(B)/src/db.o $(B)/src/ident.o $(B)/src/clock.o \
	$(B)/src/path.o $(B)/src/log.o $(B)/src/deadline.o $(B)/tests/net_stub.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-sync: build/bench/syncpath
	build/bench/syncpath

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

.PHONY: all unit integration check-slow fuzz check bench bench-cluster bench-share bench-slowlink bench-http bench-sync install uninstall deps man-check clean
-include $(shell find build -name '*.d' 2>/dev/null)
