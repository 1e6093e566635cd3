# agentgov build. `make` builds build/agentgov, build/agentgovd (the daemon: `agentgov
# serve` runs it) and build/libagentgov.a; `make test` runs
# every test; `make check` adds sanitizers, the failing-allocator loop, valgrind,
# clang-format and cppcheck.
# Out-of-tree builds: `make BUILD=build-asan SAN=1` builds an ASan+UBSan variant,
# `make BUILD=build-tsan SAN=thread` a ThreadSanitizer one (`make tsan`).

BUILD ?= build
CC ?= cc
PKGS := sqlite3 jansson libfyaml libsodium libmicrohttpd libcurl hiredis libseccomp libcrypto

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT ?= -O2
# The stricter warnings are those of curl's picky set: format strings that are not
# literals, variable-length arrays, casts dropping const, functions without a prototype
# (a missing static or a missing #include of the declaring header), old-style
# declarations, and a switch case falling through without a /* fallthrough */ word.
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wshadow \
	-Wformat=2 -Wvla -Wcast-qual -Wmissing-prototypes -Wstrict-prototypes -Wimplicit-fallthrough \
	-Wno-missing-field-initializers -fno-strict-aliasing -pthread -Iinclude -Isrc $(PKG_CFLAGS)
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# SAN=thread: ThreadSanitizer (`make tsan`). It cannot be combined with ASan.
ifeq ($(SAN),thread)
CFLAGS_BASE += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif
# SAN=fuzz (clang only): the library instrumented for libFuzzer; `make fuzz` sets it.
ifeq ($(SAN),fuzz)
CFLAGS_BASE += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif
CFLAGS += $(CFLAGS_BASE)
LDLIBS := $(PKG_LIBS) -lpthread -lm
# The binaries link statically the libraries Debian ships as archives. They are built
# with BIND_NOW, so as shared objects they cost every cold process ~9000 symbol lookups
# before main (10M of the 13M instructions of one `agentgov hook` decision). Libraries
# without an archive (libc; libunistring and libp11-kit for agentgovd) stay shared. STATIC_DEPS=0 links
# everything dynamically; a missing archive falls back to that by itself.
#
# Two binaries: build/agentgovd is the whole program; build/agentgov is the same
# commands without the HTTP server, whose `serve` execs agentgovd from its own directory
# (src/cli/daemon_exec.c). libmicrohttpd brings GnuTLS, and GnuTLS's constructors and
# relocations were most of the start-up of every cold CLI process (a hook decision).
STATIC_DEPS ?= 1
STATIC_LEAN := sqlite3 jansson fyaml sodium hiredis seccomp crypto
STATIC_A := $(STATIC_LEAN) microhttpd gnutls hogweed nettle gmp tasn1 idn2
SERVER_LIBS := -lmicrohttpd -lcurl
STATIC_MISSING := $(strip $(if $(filter 1,$(STATIC_DEPS)),$(foreach f,$(STATIC_A:%=lib%.a) \
	libunistring.so.2 libp11-kit.so,$(if $(filter /%,$(shell $(CC) -print-file-name=$(f))),,$(f))),off))
ifeq ($(STATIC_MISSING),)
DAEMON_LDLIBS := -Wl,-Bstatic $(STATIC_A:%=-l%) -Wl,-Bdynamic \
	$(filter-out $(STATIC_A:%=-l%),$(PKG_LIBS)) -l:libunistring.so.2 -lp11-kit -latomic -ldl \
	-lpthread -lm
CLI_LDLIBS := -Wl,-Bstatic $(STATIC_LEAN:%=-l%) -Wl,-Bdynamic \
	$(filter-out $(STATIC_A:%=-l%) $(SERVER_LIBS),$(PKG_LIBS)) -ldl -lpthread -lm
else
DAEMON_LDLIBS := $(LDLIBS)
CLI_LDLIBS := $(filter-out $(SERVER_LIBS),$(LDLIBS))
endif
# build/agentgov goes further: static-pie, libc included. A hook is a process per tool
# call, and mapping libc.so and libm.so and binding their symbols took 0.5-0.8 ms of a
# 2.5 ms decision (bench/hook; docs/hooks.md). The link warns that getaddrinfo and dlopen
# (redis host names, SQLite's extension loader) load the NSS modules of the glibc it
# was built with at run time: true, and harmless for a binary built where it runs, so
# scripts/ld-static-note.awk drops that note (and only it) from the link's messages.
# Not under sanitizers (their runtimes
# are shared objects) nor with STATIC_DEPS=0. LEAN_STATIC_PIE=0 links it dynamically,
# e.g. to run the CLI under valgrind, which cannot follow malloc in a static binary.
LEAN_STATIC_PIE ?= 1
ifeq ($(LEAN_STATIC_PIE)$(STATIC_MISSING)$(SAN),1)
ifneq ($(filter /%,$(shell $(CC) -print-file-name=libc.a)),)
CLI_LDLIBS := -static-pie -Wl,-Bstatic $(STATIC_LEAN:%=-l%) -lpthread -lm
endif
endif
# Where the shipped policies are found when the binary does not sit next to them
# (src/policy/path.c tries <exe dir>/../policies first).
POLICY_DIR ?= $(CURDIR)/policies
$(BUILD)/obj/src/policy/path.o: CFLAGS += -DAG_POLICY_DIR='"$(POLICY_DIR)"'
# Where `agentgov demo --multi-agent` finds its shipped replay file.
EXAMPLES_DIR ?= $(CURDIR)/examples
$(BUILD)/obj/src/cli/cmd_orchestrate.o: CFLAGS += -DAG_EXAMPLES_DIR='"$(EXAMPLES_DIR)"'

LIB_SRC := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC := $(sort $(filter-out src/cli/daemon_exec.c,$(wildcard src/cli/*.c)))
TEST_SUPPORT := $(sort $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c)))
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# The dashboard's files (src/server/ui/) compiled into the library as a C array.
UI_ASSETS := $(sort $(wildcard src/server/ui/*.html src/server/ui/*.js src/server/ui/*.css src/server/ui/*.svg))
LIB_OBJ += $(BUILD)/obj/gen/ui_assets.o
$(BUILD)/gen/ui_assets.c: $(UI_ASSETS) scripts/embed-assets.py
	@mkdir -p $(dir $@)
	$(Q)python3 scripts/embed-assets.py $@ $(UI_ASSETS)
$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
LEAN_OBJ := $(filter-out %/cmd_serve.o %/notify_test.o %/cmd_orchestrate.o %/cmd_mcp_serve.o %/https_get.o,$(CLI_OBJ)) \
	$(BUILD)/obj/src/cli/daemon_exec.o
SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

# The README's main command: the shipped policy walked, then a governed task end to end.
.DEFAULT_GOAL := all

demo: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/demo.sh $(BUILD)/agentgov

.PHONY: demo all deps test tests unit chaos faults load check layering fuzz fuzz-build bench bench-build clean format lint-format cppcheck valgrind asan tsan \
	failalloc check-size

all: $(BUILD)/agentgov $(BUILD)/agentgovd $(BUILD)/libagentgov.a

deps:
	@AGENTGOV_BUILD=$(BUILD) bash scripts/deps.sh

V ?= 0
ifeq ($(V),0)
Q := @
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libagentgov.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/agentgov: $(LEAN_OBJ) $(BUILD)/libagentgov.a
	$(CC) $(LDFLAGS) -o $@ $(LEAN_OBJ) $(BUILD)/libagentgov.a $(CLI_LDLIBS) 2>$@.ld; \
		st=$$?; awk -f scripts/ld-static-note.awk $@.ld >&2; rm -f $@.ld; exit $$st

$(BUILD)/agentgovd: $(CLI_OBJ) $(BUILD)/libagentgov.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libagentgov.a $(DAEMON_LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(BUILD)/libagentgov.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(SUPPORT_OBJ) $(BUILD)/libagentgov.a $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libagentgov.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libagentgov.a $(LDLIBS)

# libfyaml is linked statically into the fuzz targets when Debian ships its archive, so
# that its internal functions have names in sanitizer reports (tests/fuzz/lsan.supp
# suppresses one of its known leaks by name).
FUZZ_LDLIBS := $(if $(filter /%,$(shell $(CC) -print-file-name=libfyaml.a)),\
	$(patsubst -lfyaml,-l:libfyaml.a,$(LDLIBS)),$(LDLIBS))
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libagentgov.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/libagentgov.a $(FUZZ_LDLIBS)

tests: all $(TEST_BIN)
bench-build: all $(BENCH_BIN)

# Installs what the benchmarks need (wrk), builds them and runs every one (bench/all.sh;
# `make bench B="policy tail"` for some): minutes, so not part of make test.
bench: bench-build
	@bash scripts/deps.sh --bench
	@AGENTGOV_BUILD=$(BUILD) bash bench/all.sh $(B)

# The README's test command. Installs what is missing, builds, runs unit and
# integration tests; the runner's last line is "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory tests bench-build faults
	@AGENTGOV_BUILD=$(BUILD) bash tests/run.sh $(T)

# The chaos harness's test build ($(BUILD)/faults/): the same objects, but for the clock
# and a SQLite VFS that fail on demand (src/core/faults.c, -DAG_FAULTS), so only two files
# are compiled again. Never installed: the fault code is in no other binary.
FAULT_SRC := src/core/time.c src/core/faults.c
FAULT_OBJ := $(FAULT_SRC:%.c=$(BUILD)/faults/obj/%.o)
FAULT_LIB_OBJ := $(filter-out $(FAULT_SRC:%.c=$(BUILD)/obj/%.o),$(LIB_OBJ)) $(FAULT_OBJ)
$(BUILD)/faults/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (faults)")
	$(Q)$(CC) $(CFLAGS) -DAG_FAULTS -MMD -MP -c $< -o $@
$(BUILD)/faults/libagentgov.a: $(FAULT_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/faults/agentgov: $(LEAN_OBJ) $(BUILD)/faults/libagentgov.a
	$(CC) $(LDFLAGS) -o $@ $(LEAN_OBJ) $(BUILD)/faults/libagentgov.a $(CLI_LDLIBS) 2>$@.ld; \
		st=$$?; awk -f scripts/ld-static-note.awk $@.ld >&2; rm -f $@.ld; exit $$st
$(BUILD)/faults/agentgovd: $(CLI_OBJ) $(BUILD)/faults/libagentgov.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/faults/libagentgov.a $(DAEMON_LDLIBS)
faults: $(BUILD)/faults/agentgov $(BUILD)/faults/agentgovd

# The long chaos run (minutes): each fault 20 s under load; docs/chaos.md holds its figures.
chaos: all faults
	@python3 scripts/chaos.py --bin $(BUILD)/agentgov --fault-bin $(BUILD)/faults/agentgov \
		$(CHAOS_ARGS)

# N simulated agents (default 1,000) through whole lifecycles on each store backend:
# throughput and p99 per endpoint (scripts/load.py; docs/chaos.md).
load: all
	@python3 scripts/load.py --bin $(BUILD)/agentgov $(LOAD_ARGS)

unit: tests
	@AGENTGOV_BUILD=$(BUILD) AGENTGOV_ONLY_UNIT=1 bash tests/run.sh $(T)

# Sub-builds run on every CPU: `make check` must stay within ten minutes on two cores.
NPROC := $(shell nproc 2>/dev/null || echo 2)

asan:
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-asan SAN=1 tests
	@AGENTGOV_BUILD=build-asan AGENTGOV_ONLY_UNIT=1 ASAN_OPTIONS=detect_leaks=1 bash tests/run.sh $(T)

# The unit tests under ThreadSanitizer (build-tsan/); tests/tsan.supp holds the reports
# judged benign, each with its reason. Not part of `make check` (its time budget).
TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp
tsan:
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-tsan SAN=thread tests
	@AGENTGOV_BUILD=build-tsan AGENTGOV_ONLY_UNIT=1 TSAN_OPTIONS=$(TSAN_OPTIONS) bash tests/run.sh $(T)

# The failing-allocator loop (tests/failalloc/failalloc.c): every allocation of a few
# scenarios made to fail in turn, under ASan+UBSan. SQLite and jansson are linked from
# their static archives, so that -Wl,--wrap reaches their allocations too; libfyaml is
# linked shared, out of the wrap's reach: 0.7.12 dereferences NULL when one of its own
# allocations fails (fy_parse_input_append), which no caller can handle.
FAILALLOC_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup
FAILALLOC_LIBS := -Wl,-Bstatic -lsqlite3 -ljansson -Wl,-Bdynamic \
	$(filter-out $(SERVER_LIBS) -lsqlite3 -ljansson,$(PKG_LIBS)) -ldl -lpthread -lm
$(BUILD)/failalloc/failalloc: $(BUILD)/obj/tests/failalloc/failalloc.o $(BUILD)/libagentgov.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(FAILALLOC_WRAP) -o $@ $< $(BUILD)/libagentgov.a $(FAILALLOC_LIBS)

failalloc:
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-asan SAN=1 build-asan/failalloc/failalloc
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp \
		build-asan/failalloc/failalloc

# Every unit-test binary under valgrind, VALGRIND_JOBS (default: all CPUs) at a time.
valgrind:
	@$(MAKE) --no-print-directory -j$(NPROC) tests
	@AGENTGOV_BUILD=$(BUILD) bash tests/valgrind.sh $(T)

# libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang into build-fuzz/fuzz/, each
# run for FUZZ_SECONDS from a seed corpus (tests/fuzz/run.sh says which). Not part of
# `make test`: it is time-bounded exploration, not a pass/fail suite of fixed cases.
FUZZ_SECONDS ?= 20
fuzz-build:
	@$(MAKE) --no-print-directory -j$(NPROC) BUILD=build-fuzz SAN=fuzz CC=clang \
		$(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/fuzz/%)
# Keep the fuzz targets' objects (make would delete them as intermediates and relink).
.SECONDARY: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/obj/tests/fuzz/%.o)
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(T)

FORMAT_FILES = $(wildcard include/agentgov/*.h src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h bench/*.c bench/*.h \
	tests/failalloc/*.c \
	tests/fuzz/*.c)
lint-format:
	clang-format --dry-run -Werror $(FORMAT_FILES)
format:
	clang-format -i $(FORMAT_FILES)

cppcheck:
	cppcheck -j$(NPROC) --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -Iinclude -Isrc -Itests/unit -D_GNU_SOURCE \
		src tests/unit tests/fuzz bench

# The layering rule (scripts/check-layering.sh states the order): no module includes a
# header of a module above it; src/cli and src/server include only public headers.
layering:
	@bash scripts/check-layering.sh

# No source file over 1,000 lines (scripts/check-size.sh).
check-size:
	@bash scripts/check-size.sh src 1000

check: deps
	@bash scripts/deps.sh --all
	@$(MAKE) --no-print-directory layering check-size
	@$(MAKE) --no-print-directory lint-format cppcheck
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory failalloc
	@$(MAKE) --no-print-directory valgrind

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD)/obj $(BUILD)/faults/obj -name '*.d' 2>/dev/null)
