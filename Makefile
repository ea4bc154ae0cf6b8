# pyperf-merge - see README.md.
#   make                 build build/pyperf-merge
#   make check           install missing deps, build, run every test
#   make demo            install missing deps, build, record a demo, write its flamegraph
#   make install PREFIX=/usr/local
#   DEVELOPER=1          strict warnings as errors
#   SANITIZE=address,undefined   build with sanitizers
VERSION = 0.1.0
PREFIX ?= /usr/local
CC ?= cc
FUZZ_CC ?= clang
PKG_CONFIG ?= pkg-config
PKGS = libdw libelf libzstd libtraceevent
B ?= build

CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DPM_VERSION='"$(VERSION)"' -Iplugin \
	$(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null) $(CFLAGS)
LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lpthread -lm
ifdef DEVELOPER
ALL_CFLAGS += -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wmissing-prototypes -Wvla -Wno-unused-parameter
endif
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

LIB_SRCS = $(filter-out plugin/main.c,$(wildcard plugin/*.c))
LIB_OBJS = $(LIB_SRCS:plugin/%.c=$(B)/obj/%.o)
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)

.PHONY: all check demo install clean deps unit integration golden fuzz-replay bench tsan
all: $(B)/pyperf-merge

$(B)/obj/%.o: plugin/%.c $(wildcard plugin/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libpyperf.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/pyperf-merge: $(B)/obj/main.o $(B)/libpyperf.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/check.h tests/unit/selfstack.h $(B)/libpyperf.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(B)/libpyperf.a $(LIBS)

# libFuzzer targets, ASan + UBSan; `make fuzz-replay` runs them over their
# corpus and past crashers (each input once).
build-fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(wildcard plugin/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -DPM_VERSION='"$(VERSION)"' -Iplugin -g -O1 \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		$(shell $(PKG_CONFIG) --cflags $(PKGS)) -o $@ $< $(LIB_SRCS) $(LIBS)

# ThreadSanitizer over the pipeline's unit test (8 threads unwinding real
# samples of the test process), in its own build dir.
tsan:
	@$(MAKE) -s B=build-tsan CC=$(FUZZ_CC) CFLAGS='-O1 -g -fsanitize=thread' \
		LDFLAGS=-fsanitize=thread build-tsan/tests/test_pipeline
	@TSAN_OPTIONS=halt_on_error=1 tests/run-unit build-tsan/tests/test_pipeline

deps:
	@scripts/install-deps

unit: $(UNIT_BINS)
	@tests/run-unit $(UNIT_BINS)

integration: $(B)/pyperf-merge
	@for s in run record_tests stitch_tests jit_tests events_tests parallel_tests; do \
		python3 tests/integration/$$s.py || exit 1; done

golden: $(B)/pyperf-merge
	@tests/golden/run

fuzz-replay: $(FUZZ_BINS)
	@tests/fuzz/replay $(FUZZ_BINS)

check: deps
	$(MAKE) all $(UNIT_BINS)
	@tests/run-all

bench: $(B)/pyperf-merge
	@tests/bench/run.py

demo:
	@scripts/install-deps --demo
	$(MAKE) all
	@scripts/demo

install: $(B)/pyperf-merge
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -d $(DESTDIR)$(PREFIX)/lib/pyperf-merge
	install -m 755 $(B)/pyperf-merge $(DESTDIR)$(PREFIX)/bin/
	install -m 755 scripts/pyperf-record scripts/pyperf-maps $(DESTDIR)$(PREFIX)/lib/pyperf-merge/
	install -m 644 scripts/pyperf_perfdata.py $(DESTDIR)$(PREFIX)/lib/pyperf-merge/
	ln -sf ../lib/pyperf-merge/pyperf-record $(DESTDIR)$(PREFIX)/bin/pyperf-record
	ln -sf ../lib/pyperf-merge/pyperf-maps $(DESTDIR)$(PREFIX)/bin/pyperf-maps
	install -m 644 doc/pyperf-merge.1 doc/pyperf-record.1 doc/pyperf-maps.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build build-fuzz build-asan build-tsan build-dev
