# Build: `make` (release, -Werror), `make SAN=1` (ASan+UBSan into build-asan/).
# Layout (docs/architecture.md):
#   pure folders (no clock, no I/O; checked by check-core-purity) -> libiluvatar_core.a:
#     src/core src/worker src/controller src/api src/trace src/report src/policy/* src/backend/sim
#     and src/sim/sim_env.c (the discrete-event clock);
#   live folders (libevent, processes, files) -> libiluvatar_live.a:
#     src/os src/server src/backend/oci src/backend/registry.c src/loadgen src/sim (the drivers);
#   src/prog/*_main.c -> one thin binary each.
CC ?= cc
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT = -O1 -g
else
BUILD ?= build
SANFLAGS =
OPT = -O2 -g
endif

# `make fuzz`: tests/fuzz/fuzz_*.c as libFuzzer targets (clang, with ASan and
# UBSan) into build-fuzz/fuzz/; scripts/fuzz.sh runs them (docs/fuzzing.md).
ifeq ($(FUZZ),1)
CC = clang
BUILD = build-fuzz
SANFLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT = -O1 -g -Wno-unknown-warning-option
endif

PKGS = libevent jansson libcurl
CFLAGS += -std=gnu11 $(OPT) -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Wshadow -Wstrict-prototypes \
          -Isrc -D_GNU_SOURCE $(SANFLAGS) $(shell pkg-config --cflags $(PKGS))
LDFLAGS += $(SANFLAGS)
LDLIBS_CORE = -ljansson -lm
LDLIBS_LIVE = -levent -levent_pthreads -lpthread -ljansson -lm
LDLIBS_CLI = -lcurl -ljansson

PURE_DIRS = src/core src/worker src/controller src/api src/trace src/report src/policy/queue src/policy/keepalive \
            src/policy/lb src/backend/sim
PURE_FILES = src/sim/sim_env.c src/sim/sim_env.h
CORE_SRC = $(foreach d,$(PURE_DIRS),$(wildcard $(d)/*.c)) $(filter %.c,$(PURE_FILES))
LIVE_SRC = $(wildcard src/backend/*.c) $(wildcard src/backend/oci/*.c) $(wildcard src/server/*.c) \
           $(wildcard src/loadgen/*.c) $(wildcard src/os/*.c) $(filter-out $(PURE_FILES),$(wildcard src/sim/*.c))
CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
LIVE_OBJ = $(LIVE_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Unit tests of the live library (server, backend, load generator): tests/unit/live/test_*.c
LIVE_UNIT_SRC = $(wildcard tests/unit/live/test_*.c)
LIVE_UNIT_BIN = $(LIVE_UNIT_SRC:tests/unit/live/%.c=$(BUILD)/tests/live/%)
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# bench/*.c: one binary each; bench/worker/*.c: the one binary bench/bench_worker.
BENCH_SRC = $(wildcard bench/*.c)
BENCH_WORKER_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/worker/*.c))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%) $(BUILD)/bench/bench_worker

PROGS = $(BUILD)/iluvatar_worker $(BUILD)/iluvatar_worker_cli $(BUILD)/iluvatar_load_gen \
        $(BUILD)/iluvatar_controller

all: $(PROGS) $(UNIT_BIN) $(LIVE_UNIT_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libiluvatar_core.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/libiluvatar_live.a: $(LIVE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/iluvatar_worker: $(BUILD)/obj/src/prog/worker_main.o $(BUILD)/libiluvatar_live.a $(BUILD)/libiluvatar_core.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_LIVE)

$(BUILD)/iluvatar_load_gen: $(BUILD)/obj/src/prog/load_gen_main.o $(BUILD)/obj/src/prog/cmdline.o $(BUILD)/libiluvatar_live.a $(BUILD)/libiluvatar_core.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_LIVE)

$(BUILD)/iluvatar_controller: $(BUILD)/obj/src/prog/controller_main.o $(BUILD)/libiluvatar_live.a $(BUILD)/libiluvatar_core.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_LIVE) -lsqlite3

$(BUILD)/iluvatar_worker_cli: $(BUILD)/obj/src/prog/cli_main.o $(BUILD)/obj/src/prog/cmdline.o $(BUILD)/libiluvatar_core.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS_CLI)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libiluvatar_core.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ -lcmocka $(LDLIBS_CORE)

$(BUILD)/tests/live/%: $(BUILD)/obj/tests/unit/live/%.o $(BUILD)/libiluvatar_live.a $(BUILD)/libiluvatar_core.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ -lcmocka $(LDLIBS_LIVE) -lsqlite3

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libiluvatar_core.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ -lcurl -lpthread $(LDLIBS_CORE)

$(BUILD)/bench/bench_worker: $(BENCH_WORKER_OBJ) $(BUILD)/libiluvatar_core.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ -lcurl -lpthread $(LDLIBS_CORE)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/libiluvatar_live.a $(BUILD)/libiluvatar_core.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS_LIVE) -lsqlite3

fuzz:
	$(MAKE) FUZZ=1 fuzz-targets

fuzz-targets: $(FUZZ_BIN)

# The core must stay pure so the simulator can drive it (STYLE.md, rule 2).
check-core-purity:
	@! grep -nE '\b(clock_gettime|gettimeofday|time|socket|connect|epoll_[a-z_]+|fork|posix_spawn|fopen|open|getenv|event_base_[a-z_]+)[[:space:]]*\(' \
	    $(foreach d,$(PURE_DIRS),$(wildcard $(d)/*.[ch])) $(PURE_FILES) || (echo "core purity check failed" >&2; exit 1)

# Every symbol the libraries export carries its module's prefix (docs/architecture.md).
check-symbols: $(BUILD)/libiluvatar_core.a $(BUILD)/libiluvatar_live.a
	@bad=$$(nm -g --defined-only $^ | awk 'NF == 3 && $$2 ~ /[TDBR]/ {print $$3}' | grep -vE '^(ilu_|lg_|oci_)' | sort -u); \
	if [ -n "$$bad" ]; then echo "exported without a prefix (ilu_, lg_, oci_):" $$bad >&2; exit 1; fi

# The house format (.clang-format; clang-format 14 from Debian).
FORMAT_SRC = $(shell find src tests/unit tests/fuzz tests/manual bench -name '*.[ch]' 2>/dev/null)
check-format:
	@clang-format --dry-run -Werror $(FORMAT_SRC) || (echo "run: make format" >&2; exit 1)
format:
	clang-format -i $(FORMAT_SRC)

# Every function a header under src/ declares has a one-line contract.
check-contracts:
	@/usr/bin/python3 scripts/check_contracts.py

unit: $(UNIT_BIN) $(LIVE_UNIT_BIN)
	@set -e; for t in $(UNIT_BIN) $(LIVE_UNIT_BIN); do $$t; done

clean:
	rm -rf build build-asan build-fuzz

# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=$(PREFIX)/etc]:
# the programs to PREFIX/bin, what they run with (agent, bundled functions,
# scripts, tools) to PREFIX/share/iluvatar, where they find it
# (src/os/data_dir.h), and the default configs to SYSCONFDIR/iluvatar
# unless a config is there already. make uninstall removes them again
# (a config only while it is still the shipped one).
PREFIX ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
INSTALL_BIN = $(DESTDIR)$(PREFIX)/bin
INSTALL_SHARE = $(DESTDIR)$(PREFIX)/share/iluvatar
INSTALL_ETC = $(DESTDIR)$(SYSCONFDIR)/iluvatar
INSTALL_UNITS = $(DESTDIR)$(PREFIX)/lib/systemd/system
SHIPPED = agent functions scripts tools docs
# the paths the units and the service script are installed with
FILL_PATHS = sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
                 -e 's|@DATADIR@|$(PREFIX)/share/iluvatar|g'

install: $(PROGS)
	install -d $(INSTALL_BIN) $(INSTALL_SHARE) $(INSTALL_ETC)
	install -m 0755 $(PROGS) $(INSTALL_BIN)/
	tar -cf - --exclude=__pycache__ --exclude='*.pyc' $(SHIPPED) | tar -C $(INSTALL_SHARE) -xf - --no-same-owner
	chmod -R a+rX $(INSTALL_SHARE)
	install -d $(INSTALL_UNITS)
	for u in iluvatar-worker iluvatar-controller; do \
	    $(FILL_PATHS) deploy/systemd/$$u.service.in >$(INSTALL_UNITS)/$$u.service; chmod 0644 $(INSTALL_UNITS)/$$u.service; done
	$(FILL_PATHS) deploy/scripts/iluvatar-service.in >$(INSTALL_BIN)/iluvatar-service
	chmod 0755 $(INSTALL_BIN)/iluvatar-service
	@for c in worker controller; do \
	    if [ -e $(INSTALL_ETC)/$$c.json ]; then echo "install: keeping $(INSTALL_ETC)/$$c.json"; \
	    else install -m 0644 config/$$c.json $(INSTALL_ETC)/$$c.json; fi; done

uninstall:
	rm -f $(addprefix $(INSTALL_BIN)/,$(notdir $(PROGS))) $(INSTALL_BIN)/iluvatar-service
	rm -f $(INSTALL_UNITS)/iluvatar-worker.service $(INSTALL_UNITS)/iluvatar-controller.service
	rm -rf $(INSTALL_SHARE)
	@for c in worker controller; do \
	    if cmp -s config/$$c.json $(INSTALL_ETC)/$$c.json; then rm -f $(INSTALL_ETC)/$$c.json; \
	    elif [ -e $(INSTALL_ETC)/$$c.json ]; then echo "uninstall: keeping $(INSTALL_ETC)/$$c.json (changed)"; fi; done
	-rmdir $(INSTALL_ETC) 2>/dev/null

.PHONY: all unit clean install uninstall check-core-purity check-symbols check-format check-contracts format fuzz fuzz-targets
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
