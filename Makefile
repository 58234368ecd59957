# bpfwatch — build, test, install.
#
#   make                 lib/libbpfwatch.{a,so}, daemon/bpfwatchd, daemon/bpfwatchctl
#   make check           install missing build/test packages, build, run every test
#   make check SANITIZE=1  the same with ASan+UBSan (objects in build-san/)
#   make bench           benchmarks (figures and ratios)
#   make demo            boot the demo guest and watch its scheduler
#   make install DESTDIR= PREFIX=

PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKG_CONFIG ?= pkg-config
PKGS := libbpf libelf libsystemd jansson

ifeq ($(SANITIZE),1)
O := build-san
B := build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
O := .
B := build
SAN_FLAGS :=
endif

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lm
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
OPT ?= -O2
CFLAGS_ALL := -std=gnu11 -D_GNU_SOURCE $(OPT) -g -fPIC $(WARN) $(SAN_FLAGS) -Ilib $(PKG_CFLAGS) $(CFLAGS)
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

.PHONY: all check test deps bench demo install clean guest

all: $(LIB_A) $(LIB_SO) $(BPFWATCHD) $(if $(wildcard daemon/bpfwatchctl.c),$(BPFWATCHCTL))

$(B)/obj/%.o: %.c $(wildcard lib/*.h daemon/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -Idaemon -Itests/unit -c $< -o $@

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

deps:
	tests/deps.sh

# The test command of the README: dependencies first, then every suite.
check: deps
	$(MAKE) test

test: all $(UNIT_BINS) $(TOOL_BINS)
	O=$(O) B=$(B) SANITIZE=$(SANITIZE) tests/run-tests.sh

bench: deps
	$(MAKE) $(BENCH_BINS) all
	O=$(O) B=$(B) tests/run-bench.sh

guest: deps
	tests/guest/build-guest.sh

demo: deps all
	tests/guest/build-guest.sh
	O=$(O) B=$(B) tests/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib \
		$(DESTDIR)$(PREFIX)/include/bpfwatch
	install -m 0755 $(BPFWATCHD) $(DESTDIR)$(PREFIX)/sbin/bpfwatchd
	install -m 0755 $(BPFWATCHCTL) $(DESTDIR)$(PREFIX)/bin/bpfwatchctl
	install -m 0644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libbpfwatch.a
	install -m 0755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libbpfwatch.so.0
	ln -sf libbpfwatch.so.0 $(DESTDIR)$(PREFIX)/lib/libbpfwatch.so
	install -m 0644 lib/*.h $(DESTDIR)$(PREFIX)/include/bpfwatch/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 daemon/man/bpfwatchctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 daemon/man/bpfwatch.watch.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 daemon/man/bpfwatchd.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/tmpfiles.d \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/share/doc/bpfwatch/examples
	sed 's|/usr/sbin/bpfwatchd|$(PREFIX)/sbin/bpfwatchd|g' systemd/bpfwatchd@.service \
		>$(DESTDIR)$(PREFIX)/lib/systemd/system/bpfwatchd@.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/bpfwatchd@.service
	install -m 0644 systemd/bpfwatchd@.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 systemd/bpfwatch.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/bpfwatch.conf
	install -m 0644 systemd/bpfwatch.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/bpfwatch.conf
	sed 's|/usr/sbin/bpfwatchd|$(PREFIX)/sbin/bpfwatchd|g' systemd/memory-pid.conf.example \
		>$(DESTDIR)$(PREFIX)/share/doc/bpfwatch/examples/memory-pid.conf.example
	chmod 0644 $(DESTDIR)$(PREFIX)/share/doc/bpfwatch/examples/memory-pid.conf.example
	install -m 0644 conf/watch.d/*.watch conf/demo.watch.d/*.watch \
		$(DESTDIR)$(PREFIX)/share/doc/bpfwatch/examples/
	install -d $(DESTDIR)/etc/bpfwatch/watch.d
	install -m 0644 conf/bpfwatch.conf.example $(DESTDIR)/etc/bpfwatch/

clean:
	rm -rf build build-san lib/*.a lib/*.so daemon/bpfwatchd daemon/bpfwatchctl
.SECONDARY:
