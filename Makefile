# minivmm: build, unit tests, nested test bed.
#   make               build build/minivmm
#   make check         unit tests (Check), then the nested scenarios (tests/nested)
#   make check-unit    unit tests only
#   make check-nested  nested scenarios only
#   make check-arm64   cross-build for arm64 and boot arm64 guests in an emulated host
#   make demo          boot the default guest (configs/default.ini)
#   make images        build the test-bed kernel and initramfs images (cached)
#   make check-asan    unit tests and fuzz regressions under ASan+UBSan (build-asan/)
#   make fuzz          libFuzzer targets (clang), FUZZ_SECONDS each (build-fuzz/)
#   make bench         minivmm next to QEMU in the nested bed (build/bench/results.csv)
#   make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
#                      cross-build build-arm64/minivmm (on an arm64 host, plain make)
# ARCH follows the machine this runs on unless given; a build for another architecture
# goes to build-ARCH, so that the native build/ is never mixed with it.
HOST_ARCH := $(patsubst aarch64,arm64,$(patsubst x86_64,x86,$(shell uname -m)))
ARCH    ?= $(HOST_ARCH)
ifeq ($(ARCH),$(HOST_ARCH))
BUILD   ?= build
else
BUILD   ?= build-$(ARCH)
endif
CC      ?= cc
# make's built-in CC is "cc"; a cross build wants the cross compiler unless CC is given.
ifneq ($(CROSS_COMPILE),)
ifeq ($(origin CC),default)
CC      := $(CROSS_COMPILE)gcc
endif
endif
CFLAGS  ?= -O2 -g
WARN    := -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers
CPPFLAGS += -I. -Iarch/$(ARCH) -I/usr/include/iniparser -D_GNU_SOURCE -MMD -MP
# A cross build links libfdt1:arm64 by soname (no libfdt-dev:arm64: see install-deps).
FDT_LIB := $(if $(CROSS_COMPILE),-l:libfdt.so.1,-lfdt)
LDLIBS  := -liniparser -lseccomp -ljansson -lz $(FDT_LIB) -lpthread
# Debian's multiarch -dev packages (libfoo-dev:arm64) put the target's .pc files here.
PKG_CONFIG ?= $(if $(CROSS_COMPILE),PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS_COMPILE:-=)/pkgconfig) pkg-config
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null || echo -lcheck)

SRCS     := $(wildcard vmm/*.c devices/*.c vfio/*.c arch/$(ARCH)/*.c)
OBJS     := $(SRCS:%.c=$(BUILD)/%.o)
LIB_OBJS := $(filter-out $(BUILD)/vmm/main.o,$(OBJS))
# arm64's device tree and Image header code is portable C: every build's unit tests
# run it, so that it is tested on x86 hosts too.
ARM64_PORTABLE := arch/arm64/devtree.c arch/arm64/image.c
# Unit tests of arch/x86 code or of x86 guests (real-mode payloads, ACPI, CPUID): x86
# builds only.
X86_TESTS := acpi aml boot cpuid kvm platform pvh state vmm
TEST_SRCS := $(filter-out $(if $(filter x86,$(ARCH)),,$(X86_TESTS:%=tests/unit/test_%.c)), \
	$(wildcard tests/unit/*.c))
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o) \
	$(patsubst %.c,$(BUILD)/%.o,$(filter-out $(SRCS),$(ARM64_PORTABLE)))

.PHONY: arm64-bins bench-arm64 all check check-unit check-nested check-arm64 demo images deps clean format \
	check-asan asan-bins fuzz fuzz-build fuzz-bins bench
all: $(BUILD)/minivmm $(BUILD)/minivmm-ctl

# Installs Debian packages when run as root and something is missing (no-op otherwise).
deps:
	@tests/install-deps.sh

$(BUILD)/minivmm: $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# The control API's command-line client.
$(BUILD)/minivmm-ctl: vmm/ctl/minivmm-ctl.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -o $@ $< -ljansson

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

# Every "Suite *NAME_suite(void)" in tests/unit/test_*.c is run; the list is generated.
$(BUILD)/tests/unit/suites.h: $(filter tests/unit/test_%,$(TEST_SRCS))
	@mkdir -p $(dir $@)
	@sed -n 's/^Suite \*\([a-z0-9_]*_suite\)(void)$$/SUITE(\1)/p' $^ > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/unit/main.o: $(BUILD)/tests/unit/suites.h
$(BUILD)/tests/unit/%.o: CPPFLAGS += -I$(BUILD)/tests/unit

$(BUILD)/check_minivmm: $(TEST_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(CHECK_LIBS)

# tests/include-cycles.sh: no new dependency cycle among the sources (the known ones are
# listed in tests/include-cycles.allow), and the checker itself on fake trees.
check-unit: deps $(BUILD)/check_minivmm $(BUILD)/minivmm $(BUILD)/minivmm-ctl
	@$(BUILD)/check_minivmm
	@tests/bad-inputs/run
	@tests/bench/selftest.sh
	@tests/include-cycles.sh --selftest
	@tests/include-cycles.sh

# The nested scenarios include the arm64 test bed (scenario arm64: its own emulated
# arm64 host, which runs the cross-built minivmm), so both builds come first.
check-nested: deps $(BUILD)/minivmm arm64-bins
	@tests/nested/run

# arm64 from an x86 host: cross-builds build-arm64/minivmm, then boots arm64 guests
# with it in an emulated arm64 host (tests/nested/arm64-smoke.sh; skips, exit 77,
# when the cross toolchain or qemu-system-aarch64 is missing). make check runs the
# same as the nested scenario arm64, beside the x86 ones.
arm64-bins: deps
	@$(MAKE) --no-print-directory ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
		build-arm64/minivmm build-arm64/minivmm-ctl

check-arm64: arm64-bins
	@tests/nested/arm64-smoke.sh; rc=$$?; [ $$rc = 0 ] || [ $$rc = 77 ]

# Images first, so that the bad-input suite has a real kernel to try configs against.
check: deps
	@guest-images/build.sh >/dev/null
	@$(MAKE) --no-print-directory check-unit
	@$(MAKE) --no-print-directory arm64-bins
	@tests/nested/run --from-make-check

images: deps
	@guest-images/build.sh

demo: deps $(BUILD)/minivmm
	@tests/demo.sh

# Benchmarks against QEMU and against native block I/O in the nested bed: one markdown
# table, CSV in build/bench/results.csv and a chart in build/bench/results.png
# (tests/bench/side-by-side.sh says what is measured; BENCH_RUNS=N for N rounds); then
# PCI hotplug latency, minivmm next to QEMU (tests/bench/hotplug.sh), virtio-fs
# (tests/bench/virtio-fs.sh), snapshot, restore and live migration next to QEMU's
# (tests/bench/migrate-bench.sh), and VM start with a 64 GiB BAR passed through next to
# QEMU's (tests/bench/large-bar.sh), and the boot cycle phase by phase next to kvmtool
# (built from its public source) and QEMU microvm (tests/bench/boot-cycle.sh); one bed
# at a time.
bench: deps $(BUILD)/minivmm $(BUILD)/minivmm-ctl
	@NESTED_JOBS=1 tests/bench/run side-by-side hotplug virtio-fs migrate-bench large-bar boot-cycle
	@$(MAKE) --no-print-directory bench-arm64

# arm64 boot cycles, minivmm next to kvmtool, in the emulated arm64 host (skips, exit
# 77, as check-arm64 does).
bench-arm64: deps
	@$(MAKE) --no-print-directory ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
		build-arm64/minivmm build-arm64/minivmm-ctl
	@tests/nested/arm64-smoke.sh --bench 5; rc=$$?; [ $$rc = 0 ] || [ $$rc = 77 ]

format:
	clang-format -i $(SRCS) $(wildcard vmm/*.h devices/*.h vfio/*.h arch/*.h arch/$(ARCH)/*.h) $(TEST_SRCS) \
		$(wildcard tests/fuzz/*.c tests/fuzz/*.h)

# ---- Sanitizers and fuzzing (tests/fuzz/) ----------------------------------------------
# Both rebuild everything in a folder of their own by calling this Makefile again with
# other BUILD, CC and CFLAGS, so the rules above serve all three builds.
FUZZ_TARGETS := virtqueue pci_cfg vfio_cfg bzimage pvh config api snapshot migrate \
	vhost_user frame_stream
# The CPU feature check is x86's (arch/x86/cpufeat.c).
FUZZ_TARGETS += $(if $(filter x86,$(ARCH)),cpufeat)
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
ASAN_BUILD   ?= build-asan
SAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang (14) only: x86.c embeds struct kvm_msrs (a flexible array) in a struct, a GNU
# extension gcc accepts silently.
CLANG_WARN   := -Wno-gnu-variable-sized-type-not-at-end
# gcc at -O1 with sanitizers guesses string lengths differently from -O2 and warns about
# snprintf truncations that the normal build does not see (and that are handled).
GCC_SAN_WARN := -Wno-format-truncation
LINK_CPPFLAGS = $(filter-out -MMD -MP,$(CPPFLAGS))

# Unit tests under ASan+UBSan (the tests that run the binary run build-asan/minivmm),
# then every fuzz target replays its regression inputs and seeds (replay.c, no clang).
# The VMM's seccomp filters (vmm/seccomp.c) kill the sanitizer runtime's sigaltstack
# (every thread) and LeakSanitizer's tracer at exit (clone + ptrace), so the binary runs
# without those two; the unit tests themselves keep leak detection.
ASAN_VMM := env ASAN_OPTIONS=use_sigaltstack=0:detect_leaks=0 $(ASAN_BUILD)/minivmm
check-asan: deps
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CFLAGS="-O1 -g $(SAN_FLAGS) $(GCC_SAN_WARN)" \
		asan-bins
	@UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 MINIVMM_BIN="$(ASAN_VMM)" \
		$(ASAN_BUILD)/check_minivmm
	@for t in $(FUZZ_TARGETS); do \
		log=$(ASAN_BUILD)/fuzz/replay_$$t.log; \
		if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(ASAN_BUILD)/fuzz/replay_$$t \
			tests/fuzz/corpus/$$t $$(ls -d tests/fuzz/regress/$$t 2>/dev/null) >$$log 2>&1; \
		then tail -1 $$log; \
		else tail -40 $$log; echo "check-asan: replay_$$t failed (log: $$log)"; exit 1; fi; \
	done

asan-bins: $(BUILD)/check_minivmm $(BUILD)/minivmm $(FUZZ_TARGETS:%=$(BUILD)/fuzz/replay_%)

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(LINK_CPPFLAGS) -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c \
		$(LIB_OBJS) $(LDLIBS)

# Builds the targets with clang (libFuzzer), replays tests/fuzz/regress/, runs each for
# FUZZ_SECONDS; a crash fails with its input saved (tests/fuzz/run says where).
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_CC=$(FUZZ_CC) \
		tests/fuzz/run $(FUZZ_TARGETS)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
		CFLAGS="-O1 -g $(SAN_FLAGS) -fsanitize=fuzzer-no-link $(CLANG_WARN)" fuzz-bins

fuzz-bins: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(LINK_CPPFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_OBJS) \
		$(LDLIBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

-include $(OBJS:.o=.d) $(TEST_OBJS:.o=.d)
