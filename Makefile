# corral — top-level build.  `make` builds, `make check` sets up and tests,
# `make demo` sets up and runs the main job on real servers.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
DESTDIR    ?=
BUILD      ?= build
SANITIZE   ?= 0
VERSION    := 0.1.0

PKGS       := libcurl libcjson libarchive libuv openssl libseccomp libgit2 cjose
CC         ?= cc
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS:= $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS     ?= -O2 -g
CFLAGS     += -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
              -D_GNU_SOURCE -DCORRAL_VERSION='"$(VERSION)"' -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP
LDLIBS     += $(PKG_LIBS)

ifeq ($(SANITIZE),1)
CFLAGS     += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=address,undefined
endif

LIB_SRCS   := $(sort $(wildcard src/*.c src/*/*.c resolvers/*.c resolvers/*/*.c))
LIB_SRCS   := $(filter-out src/main.c,$(LIB_SRCS)) sandbox/syscalls.c
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ   := $(BUILD)/obj/src/main.o
# corral-sandbox: the standalone launcher (sandbox/), with libseccomp and cJSON
# only; it shares no code with the daemon but the small util helpers.
SBX_SRCS   := $(sort $(wildcard sandbox/*.c))
SBX_OBJS   := $(SBX_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/src/util/alloc.o
SBX_LIBS   := $(shell pkg-config --libs libseccomp libcjson 2>/dev/null)
BINS       := $(BUILD)/corral $(if $(SBX_SRCS),$(BUILD)/corral-sandbox)
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps check check-unit check-integration check-asan demo install clean format
all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libcorral.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/corral: $(MAIN_OBJ) $(BUILD)/libcorral.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/corral-sandbox: $(SBX_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(SBX_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libcorral.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

# The syscall table test also links the launcher's seccomp compiler.
$(BUILD)/tests/test_syscalls: $(BUILD)/obj/tests/unit/test_syscalls.o $(BUILD)/obj/sandbox/seccomp.o \
		$(BUILD)/libcorral.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LDLIBS)

deps:
	@scripts/install-deps

# The whole suite: unit and integration tests on a normal build, then again
# under AddressSanitizer + UBSan.  Sets itself up first (packages, npm fixtures).
check: deps
	$(MAKE) --no-print-directory check-unit check-integration
	$(MAKE) --no-print-directory check-asan
	@echo "make check: all suites passed"

# The auth unit test runs a real authorization server from npm (a fixture).
check-unit: $(UNIT_BINS)
	@scripts/fetch-fixtures >/dev/null
	@scripts/run-unit $(UNIT_BINS)

check-integration: $(BINS)
	@CORRAL_BIN=$(abspath $(BUILD)/corral) CORRAL_SANITIZE=$(SANITIZE) scripts/run-integration

check-asan:
	CFLAGS="-O1 -g" $(MAKE) --no-print-directory BUILD=build/asan SANITIZE=1 check-unit check-integration

# The sub-make re-reads pkg-config after install-deps may have added packages.
demo: deps
	$(MAKE) --no-print-directory all
	@CORRAL_BIN=$(abspath $(BUILD)/corral) scripts/demo

install: $(BINS)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BUILD)/corral $(DESTDIR)$(BINDIR)/corral

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
