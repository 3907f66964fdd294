# minivmm: build, unit tests, nested test bed.
#   make               build build/minivmm
#   make check         unit tests (Check), then the nested scenarios (tests/nested)
#   make check-unit    unit tests only
#   make check-nested  nested scenarios only
#   make demo          boot the default guest (configs/default.ini)
#   make images        build the test-bed kernel and initramfs images (cached)
ARCH    ?= x86
BUILD   ?= build
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS += -I. -Iarch/$(ARCH) -I/usr/include/iniparser -D_GNU_SOURCE -MMD -MP
LDLIBS  := -liniparser -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)

SRCS     := $(wildcard vmm/*.c devices/*.c vfio/*.c arch/$(ARCH)/*.c)
OBJS     := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS := $(filter-out $(BUILD)/vmm/main.o,$(OBJS))
TEST_SRCS := $(wildcard tests/unit/*.c)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)

.PHONY: all check check-unit check-nested demo images deps clean format
all: $(BUILD)/minivmm

# Installs Debian packages when run as root and something is missing (no-op otherwise).
deps:
	@tests/install-deps.sh

$(BUILD)/minivmm: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# Every "Suite *NAME_suite(void)" in tests/unit/test_*.c is run; the list is generated.
$(BUILD)/tests/unit/suites.h: $(wildcard tests/unit/test_*.c)
	@mkdir -p $(dir $@)
	@sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void)$$/SUITE(\1)/p' $^ > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/unit/main.o: $(BUILD)/tests/unit/suites.h
$(BUILD)/tests/unit/%.o: CPPFLAGS += -I$(BUILD)/tests/unit

$(BUILD)/check_minivmm: $(TEST_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

check-unit: deps $(BUILD)/check_minivmm $(BUILD)/minivmm
	@$(BUILD)/check_minivmm
	@tests/bad-inputs/run

check-nested: deps $(BUILD)/minivmm
	@tests/nested/run

# Images first, so that the bad-input suite has a real kernel to try configs against.
check: deps
	@guest-images/build.sh >/dev/null
	@$(MAKE) --no-print-directory check-unit
	@tests/nested/run --from-make-check

images: deps
	@guest-images/build.sh

demo: deps $(BUILD)/minivmm
	@tests/demo.sh

format:
	clang-format -i $(SRCS) $(wildcard vmm/*.h devices/*.h vfio/*.h arch/*.h arch/$(ARCH)/*.h) $(TEST_SRCS)

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(TEST_OBJS:.o=.d)
