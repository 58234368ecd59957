# bpfwatch — build, test, install.
#
#   make                 lib/libbpfwatch.{a,so}, daemon/bpfwatchd, daemon/bpfwatchctl
#   make check           install missing build/test packages, build, run every test
#   make check SANITIZE=1  the same with ASan+UBSan (objects in build-san/)
#   make check-unit      unit and daemon tests only: no network, no root, no apt
#   make bench           benchmarks (figures and ratios)
#   make fuzz [FUZZ_SECONDS=N]  build the libFuzzer targets (clang) and run each N s
#   make demo            boot the demo guest and watch its scheduler
#   make install / uninstall   DESTDIR= PREFIX= LIBDIR= SYSCONFDIR= UNITDIR= ...
#
# Package builds: CFLAGS, CPPFLAGS and LDFLAGS (dpkg-buildflags) are added
# to the project's own; WERROR=0 turns -Werror off.

VERSION := 0.1.0
SOVERSION := 0

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
SBINDIR ?= $(EXEC_PREFIX)/sbin
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/bpfwatch
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
# systemd's own directories are under /usr/lib (or /lib) whatever LIBDIR is.
SYSTEMD_LIBDIR ?= $(EXEC_PREFIX)/lib
UNITDIR ?= $(SYSTEMD_LIBDIR)/systemd/system
TMPFILESDIR ?= $(SYSTEMD_LIBDIR)/tmpfiles.d
SYSUSERSDIR ?= $(SYSTEMD_LIBDIR)/sysusers.d
# The daemon looks for its drop-ins in SYSCONFDIR/bpfwatch (compiled in).
SYSCONFDIR ?= /etc
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libbpf libelf libsystemd jansson
WERROR ?= 1

ifeq ($(FUZZ),1)
# The fuzz targets and everything they link, instrumented for libFuzzer.
CC := clang
O := build-fuzz
B := build-fuzz
SAN_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
OPT := -O1
else ifeq ($(SANITIZE),1)
O := build-san
B := build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
O := .
B := build
SAN_FLAGS :=
endif

WARN := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -Wno-missing-field-initializers
# pkg-config runs when a recipe first needs the flags, not when the Makefile
# is read: `make demo` and `make check` install the -dev packages first
# (tests/deps.sh) and build in a sub-make.  Each is computed once.
pkg_query = $(strip $(eval pkg_out := $(shell $(PKG_CONFIG) $(1) $(2) 2>/dev/null && echo @ok@)) \
	$(if $(filter @ok@,$(pkg_out)),$(filter-out @ok@,$(pkg_out)), \
	$(error $(PKG_CONFIG) $(1) $(2) failed: install the -dev packages (tests/deps.sh) or set PKG_CONFIG_PATH)))
PKG_CFLAGS = $(eval PKG_CFLAGS := $(call pkg_query,--cflags,$(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(call pkg_query,--libs,$(PKGS)) -lm)$(PKG_LIBS)
CHECK_CFLAGS = $(eval CHECK_CFLAGS := $(call pkg_query,--cflags,check))$(CHECK_CFLAGS)
CHECK_LIBS = $(eval CHECK_LIBS := $(call pkg_query,--libs,check))$(CHECK_LIBS)
OPT ?= -O2
CFLAGS_ALL = -std=gnu11 -D_GNU_SOURCE -DBW_VERSION='"$(VERSION)"' -DBW_SYSCONFDIR='"$(SYSCONFDIR)"' $(OPT) -g -fPIC $(WARN) $(SAN_FLAGS) \
	-Ilib $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS)

LIB_SRCS := $(sort $(wildcard lib/*.c))
LIB_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(LIB_SRCS))
LIB_A := $(O)/lib/libbpfwatch.a
LIB_SO := $(O)/lib/libbpfwatch.so

DAEMON_COMMON_SRCS := $(filter-out daemon/bpfwatchd.c daemon/bpfwatchctl.c,$(sort $(wildcard daemon/*.c)))
DAEMON_COMMON_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(DAEMON_COMMON_SRCS))
BPFWATCHD := $(O)/daemon/bpfwatchd
BPFWATCHCTL := $(O)/daemon/bpfwatchctl

TEST_UTIL_SRCS := $(sort $(wildcard tests/unit/util_*.c))
TEST_UTIL_OBJS := $(patsubst %.c,$(B)/obj/%.o,$(TEST_UTIL_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
TOOL_SRCS := $(sort $(wildcard tests/tools/*.c))
TOOL_BINS := $(patsubst tests/tools/%.c,$(B)/tests/tool_%,$(TOOL_SRCS))
BENCH_SRCS := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(B)/tests/%,$(BENCH_SRCS))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 30
# Every target also built with the ordinary compiler and a replay main, for make check.
REPLAY_BINS := $(patsubst tests/fuzz/fuzz_%.c,$(B)/tests/replay_%,$(FUZZ_SRCS))

.PHONY: all check check-unit test deps bench demo install uninstall clean guest fuzz fuzz-build \
	fuzz-bins

all: $(LIB_A) $(LIB_SO) $(BPFWATCHD) $(if $(wildcard daemon/bpfwatchctl.c),$(BPFWATCHCTL))

$(B)/obj/%.o: %.c $(wildcard lib/*.h daemon/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Idaemon -c $< -o $@

$(B)/obj/tests/%.o: tests/%.c $(wildcard lib/*.h daemon/*.h tests/unit/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -Idaemon -Itests/unit -Itests/fuzz -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS_ALL) -Wl,-soname,libbpfwatch.so.0 -o $@ $^ $(PKG_LIBS)

$(BPFWATCHD): $(B)/obj/daemon/bpfwatchd.o $(DAEMON_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BPFWATCHCTL): $(B)/obj/daemon/bpfwatchctl.o $(DAEMON_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(TEST_UTIL_OBJS) $(DAEMON_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

$(B)/tests/tool_%: $(B)/obj/tests/tools/%.o $(TEST_UTIL_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

$(B)/tests/bench_%: $(B)/obj/tests/bench/bench_%.o $(TEST_UTIL_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

# Targets may lay out guests with the unit tests' builders (tests/unit/util_*.c).
$(B)/fuzz/fuzz_%: $(B)/obj/tests/fuzz/fuzz_%.o $(TEST_UTIL_OBJS) $(DAEMON_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

$(B)/tests/replay_%: $(B)/obj/tests/fuzz/fuzz_%.o $(B)/obj/tests/fuzz/replay_main.o \
		$(TEST_UTIL_OBJS) $(DAEMON_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

$(B)/tests/make_seeds: $(B)/obj/tests/fuzz/make_seeds.o $(TEST_UTIL_OBJS) $(DAEMON_COMMON_OBJS) \
		$(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

$(B)/fuzz/make_seeds: $(B)/obj/tests/fuzz/make_seeds.o $(TEST_UTIL_OBJS) $(DAEMON_COMMON_OBJS) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS)

fuzz-bins: $(FUZZ_BINS) $(B)/fuzz/make_seeds

# The fuzz targets (clang, libFuzzer, ASan+UBSan in build-fuzz/).
fuzz-build: deps
	$(MAKE) FUZZ=1 fuzz-bins

# Each target for FUZZ_SECONDS from the seeds and regression inputs; any
# crash, leak, timeout or sanitizer report fails (tests/fuzz/run.sh).
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

deps:
	tests/deps.sh

# The test command of the README: dependencies first, then every suite.
# Everything after deps runs in a sub-make, which sees the packages deps
# installed.
check: deps
	$(MAKE) test

# For package builds: the unit and daemon suites only (no network, no root,
# no apt, no guest).
check-unit:
	$(MAKE) test BW_SUITES="unit daemon"

test: all $(UNIT_BINS) $(TOOL_BINS) $(REPLAY_BINS) $(B)/tests/make_seeds
	O=$(O) B=$(B) SANITIZE=$(SANITIZE) tests/run-tests.sh

bench: deps
	$(MAKE) $(BENCH_BINS) all
	O=$(O) B=$(B) tests/run-bench.sh

guest: deps
	tests/guest/build-guest.sh

demo: deps
	$(MAKE) all
	tests/guest/build-guest.sh
	O=$(O) B=$(B) tests/demo.sh

# What a program using libbpfwatch includes; the rest of lib/ is internal.
PUBLIC_HEADERS := error.h addrspace.h load.h ram_layout.h guest_ram.h symtab.h kernel.h xarray.h \
	bpf_inventory.h watch.h fold.h engine.h
MAN_PAGES := daemon/man/bpfwatchctl.1 daemon/man/bpfwatch.watch.5 daemon/man/bpfwatchd.8
EXAMPLE_WATCHES := $(notdir $(wildcard conf/watch.d/*.watch conf/demo.watch.d/*.watch))
# Installed files name the installed paths.
subst_paths = sed -e 's|/usr/sbin/bpfwatchd|$(SBINDIR)/bpfwatchd|g' \
	-e 's|/usr/bin/bpfwatchctl|$(BINDIR)/bpfwatchctl|g' -e 's|/etc/bpfwatch|$(SYSCONFDIR)/bpfwatch|g'

$(O)/lib/libbpfwatch.pc: lib/libbpfwatch.pc.in Makefile
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' $< >$@

install: all $(O)/lib/libbpfwatch.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR)/bpfwatch $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(BPFWATCHD) $(DESTDIR)$(SBINDIR)/bpfwatchd
	install -m 0755 $(BPFWATCHCTL) $(DESTDIR)$(BINDIR)/bpfwatchctl
	install -m 0644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libbpfwatch.a
	install -m 0755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/libbpfwatch.so.$(SOVERSION)
	ln -sf libbpfwatch.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libbpfwatch.so
	install -m 0644 $(addprefix lib/,$(PUBLIC_HEADERS)) $(DESTDIR)$(INCLUDEDIR)/bpfwatch/
	install -m 0644 $(O)/lib/libbpfwatch.pc $(DESTDIR)$(PKGCONFIGDIR)/libbpfwatch.pc
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 daemon/man/bpfwatchctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 daemon/man/bpfwatch.watch.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 daemon/man/bpfwatchd.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(DOCDIR)/examples
	$(subst_paths) systemd/bpfwatchd@.service >$(DESTDIR)$(UNITDIR)/bpfwatchd@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/bpfwatchd@.service
	$(subst_paths) systemd/bpfwatchd@.socket >$(DESTDIR)$(UNITDIR)/bpfwatchd@.socket
	chmod 0644 $(DESTDIR)$(UNITDIR)/bpfwatchd@.socket
	$(subst_paths) systemd/bpfwatch.tmpfiles >$(DESTDIR)$(TMPFILESDIR)/bpfwatch.conf
	chmod 0644 $(DESTDIR)$(TMPFILESDIR)/bpfwatch.conf
	install -m 0644 systemd/bpfwatch.sysusers $(DESTDIR)$(SYSUSERSDIR)/bpfwatch.conf
	$(subst_paths) systemd/memory-pid.conf.example >$(DESTDIR)$(DOCDIR)/examples/memory-pid.conf.example
	chmod 0644 $(DESTDIR)$(DOCDIR)/examples/memory-pid.conf.example
	install -m 0644 conf/watch.d/*.watch conf/demo.watch.d/*.watch $(DESTDIR)$(DOCDIR)/examples/
	install -d $(DESTDIR)$(SYSCONFDIR)/bpfwatch/watch.d
	install -m 0644 conf/bpfwatch.conf.example $(DESTDIR)$(SYSCONFDIR)/bpfwatch/

# Removes what install put there; the admin's configs and drop-ins in
# SYSCONFDIR/bpfwatch stay (rmdir only when empty).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/bpfwatchd $(DESTDIR)$(BINDIR)/bpfwatchctl \
		$(DESTDIR)$(LIBDIR)/libbpfwatch.a $(DESTDIR)$(LIBDIR)/libbpfwatch.so \
		$(DESTDIR)$(LIBDIR)/libbpfwatch.so.$(SOVERSION) $(DESTDIR)$(PKGCONFIGDIR)/libbpfwatch.pc \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/bpfwatch/,$(PUBLIC_HEADERS)) \
		$(DESTDIR)$(MANDIR)/man1/bpfwatchctl.1 $(DESTDIR)$(MANDIR)/man5/bpfwatch.watch.5 \
		$(DESTDIR)$(MANDIR)/man8/bpfwatchd.8 \
		$(DESTDIR)$(UNITDIR)/bpfwatchd@.service $(DESTDIR)$(UNITDIR)/bpfwatchd@.socket \
		$(DESTDIR)$(TMPFILESDIR)/bpfwatch.conf $(DESTDIR)$(SYSUSERSDIR)/bpfwatch.conf \
		$(DESTDIR)$(DOCDIR)/examples/memory-pid.conf.example \
		$(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(EXAMPLE_WATCHES)) \
		$(DESTDIR)$(SYSCONFDIR)/bpfwatch/bpfwatch.conf.example
	-rmdir $(DESTDIR)$(INCLUDEDIR)/bpfwatch $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(SYSCONFDIR)/bpfwatch/watch.d $(DESTDIR)$(SYSCONFDIR)/bpfwatch 2>/dev/null

clean:
	rm -rf build build-san build-fuzz lib/*.a lib/*.so lib/*.pc daemon/bpfwatchd daemon/bpfwatchctl
.SECONDARY:
