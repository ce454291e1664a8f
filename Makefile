# leavesync — see README.md.  `make`, `make test`, `make test SANITIZE=1`, `make test VALGRIND=1`,
# `make bench`, `make bench-push`, `make fuzz`, `make soak SEEDS=N`, `make install PREFIX=/usr/local DESTDIR=`.

VERSION   = 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
TEST_JOBS ?= 2
PKGS      = libcurl libxml-2.0 jansson libical sqlite3 icu-uc icu-i18n inih libcrypto libmicrohttpd \
            gnutls
SIM_PKGS  = libmicrohttpd libxml-2.0 jansson libcrypto icu-uc icu-i18n krb5-gssapi

ifeq ($(SANITIZE),1)
BUILD    ?= build/asan
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS  =
endif

WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
            -Wno-format-nonliteral -Wno-format-truncation
CFLAGS   ?= -O2 -g
CPPFLAGS += -std=c11 -D_GNU_SOURCE -DLEAVESYNC_VERSION='"$(VERSION)"' -I. -MMD -MP
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) $(SANFLAGS) $(shell pkg-config --cflags $(PKGS) $(SIM_PKGS))
LIBS      = $(shell pkg-config --libs $(PKGS)) -lresolv -lpthread -lm
SIM_LIBS  = $(shell pkg-config --libs $(SIM_PKGS)) -lpthread -lm

# The sync core and its backends (a library the tests link); the command line lives in cli/.
LIB_SRC   = $(wildcard common/*.c store/*.c engine/*.c ews/*.c graph/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# leavesync serve (the HTTP front end; the sync core does not know it): a library of its own.
SERVE_SRC = $(wildcard serve/*.c)
SERVE_OBJ = $(SERVE_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC   = $(wildcard cli/*.c)
CLI_OBJ   = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SIM_SRC   = $(wildcard tools/m365sim/*.c) $(wildcard common/*.c)
# The EWS schema is assembled into m365sim (tools/m365sim/schema/README.md).
SIM_SCHEMA = $(wildcard tools/m365sim/schema/libxml2/*.xsd)
SIM_OBJ   = $(SIM_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/tools/m365sim/ews_schema_data.o
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC  = $(wildcard tools/*.c)
TOOL_BIN  = $(TOOL_SRC:tools/%.c=$(BUILD)/%)

all: $(BUILD)/leavesync $(BUILD)/m365sim $(TOOL_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tools/m365sim/ews_schema_data.o: tools/m365sim/ews_schema_data.S $(SIM_SCHEMA)
	@mkdir -p $(dir $@)
	$(CC) -I tools/m365sim/schema/libxml2 -c -o $@ $<

$(BUILD)/libleavesync.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libserve.a: $(SERVE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/leavesync: $(CLI_OBJ) $(BUILD)/libserve.a $(BUILD)/libleavesync.a
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/m365sim: $(SIM_OBJ)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(SIM_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libserve.a $(BUILD)/libleavesync.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%: $(BUILD)/obj/tools/%.o $(BUILD)/libserve.a $(BUILD)/libleavesync.a
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

check-build: all $(UNIT_BIN)

# Every test: C unit tests (TAP) and shell scenarios, through prove. Tests find their data
# (tests/data/, docs/) under LS_SRC_DIR, the source tree.
test: all $(UNIT_BIN)
	LS_SRC_DIR='$(CURDIR)' LS_BUILD=$(BUILD) VALGRIND=$(VALGRIND) prove -j$(TEST_JOBS) --exec '' $(UNIT_BIN) \
	    $(sort $(wildcard tests/integration/t[0-9]*.sh))

# The randomized crash and fault test over many seeds (tests/integration/clients/chaos.py), with
# totals: make soak SEEDS=200 [BACKENDS="ews ews-ntlm graph graph-delegated"] [SOAK_ARGS="--first 1"].
SEEDS    ?= 20
BACKENDS ?= ews ews-ntlm graph graph-delegated
soak: all
	tools/soak --build $(BUILD) --seeds $(SEEDS) --backends "$(BACKENDS)" $(SOAK_ARGS)

bench-push: all
	LS_BUILD=$(BUILD) tools/bench-push

bench: all
	LS_BUILD=$(BUILD) tools/bench $(BENCH_ARGS)
	LS_BUILD=$(BUILD) tools/bench-serve

bench-serve: all
	LS_BUILD=$(BUILD) tools/bench-serve $(BENCH_SERVE_ARGS)

# ---- fuzzing: libFuzzer targets tests/fuzz/fuzz_*.c, built with clang into build/fuzz/ (the library
# sources compiled again with -fsanitize=fuzzer-no-link,address,undefined). `make fuzz` runs each
# target for FUZZ_SECONDS; `tools/fuzz --smoke` (part of `make test`) runs each briefly.
FUZZ_CC      ?= clang
FUZZ_BUILD    = build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = $(CPPFLAGS) -O1 -g $(filter-out -Werror -Wno-format-truncation,$(WARN)) $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link $(shell pkg-config --cflags $(PKGS))
FUZZ_SRC      = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN      = $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_LIB_OBJ  = $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/serve/parse.o

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libleavesync.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/libleavesync.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_BIN)

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

format:
	clang-format -i $(wildcard */*.c */*.h tools/m365sim/*.c tools/m365sim/*.h)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem --suppress=unknownMacro -I. \
	    common store engine ews graph serve cli tools

# The binary, the man page, the systemd units (their ExecStart names $(PREFIX)/bin), the docs and
# the example config (to the doc directory: docs/operations.md copies it to /etc/leavesync only
# where none exists, so an install never overwrites a configuration).
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR  ?= $(PREFIX)/share/doc/leavesync
DOCS     = README.md LICENSE $(wildcard docs/*.md)

install: $(BUILD)/leavesync
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(BUILD)/leavesync $(DESTDIR)$(PREFIX)/bin/leavesync
	install -m 0644 docs/leavesync.1 $(DESTDIR)$(PREFIX)/share/man/man1/leavesync.1
	for u in dist/systemd/*; do \
	    sed 's|/usr/local/bin/leavesync|$(PREFIX)/bin/leavesync|g' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 docs/examples/leavesync.conf docs/examples/leave.json $(DESTDIR)$(DOCDIR)/examples/

clean:
	rm -rf build

.PHONY: all test check-build soak bench bench-serve bench-push fuzz fuzz-build format lint install clean
.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
