# guest: `make` builds build/guest; `make check` runs the tests (see README).
CC ?= gcc
CLANG ?= clang
CFLAGS_COMMON := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                 -Wno-missing-field-initializers -pthread -Isrc -MMD -MP
CFLAGS ?= -O2 -g
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# The shipped build is hardened (tests/hardening checks the binary): canaries,
# checked libc calls, a position-independent executable with read-only
# relocations bound at start, and CET's branch-tracking and shadow-stack marks.
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=3 -fstack-clash-protection \
          -fcf-protection=full -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now,-z,noexecstack
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)
# The display (src/ui): an SDL2 window, a VNC server, PNG screenshots.  Quiet
# when the packages are missing: `make deps` (run by `make run` and `make
# check` before they build) installs them.
UI_PACKAGES := sdl2 libvncserver libpng
UI_CFLAGS := $(shell pkg-config --cflags $(UI_PACKAGES) 2>/dev/null)
UI_LIBS := $(shell pkg-config --libs $(UI_PACKAGES) 2>/dev/null)
CFLAGS_COMMON += $(UI_CFLAGS)
# The user-mode network (src/net/slirp.c): libslirp, quiet when missing as above.
NET_PACKAGES := slirp
NET_CFLAGS := $(shell pkg-config --cflags $(NET_PACKAGES) 2>/dev/null)
NET_LIBS := $(shell pkg-config --libs $(NET_PACKAGES) 2>/dev/null)
CFLAGS_COMMON += $(NET_CFLAGS)
# The QMP control socket (src/control/qmp.c): json-c, quiet when missing as above.
CONTROL_PACKAGES := json-c
CONTROL_CFLAGS := $(shell pkg-config --cflags $(CONTROL_PACKAGES) 2>/dev/null)
CONTROL_LIBS := $(shell pkg-config --libs $(CONTROL_PACKAGES) 2>/dev/null)
CFLAGS_COMMON += $(CONTROL_CFLAGS)
# The sandbox (src/sandbox.c): libseccomp, required.
SANDBOX_LIBS := -lseccomp

# Everything but main.c goes in a library the tests link against.
LIB_SOURCES := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
MAIN_SOURCE := src/main.c

BUILD := build
OBJ := $(BUILD)/obj
ASAN_OBJ := $(BUILD)/asan-obj

lib_objects = $(patsubst src/%.c,$(1)/%.o,$(LIB_SOURCES))

.PHONY: all check unit ui-tests fuzz fuzz-seeds fuzz-long tsan integration hardening clean deps run guests soak net-soak chaos init-test
all: $(BUILD)/guest $(BUILD)/guest-asan $(BUILD)/kvm-speed $(BUILD)/zbi $(BUILD)/vnc-type $(BUILD)/bench-gfx guests

$(OBJ)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(HARDEN) -DGUEST_VERSION='"$(VERSION)"' -c $< -o $@

$(ASAN_OBJ)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC-ASAN $@"; $(CC) $(CFLAGS_COMMON) -O1 -g $(SANITIZE) -DGUEST_VERSION='"$(VERSION)"' -c $< -o $@

$(BUILD)/guest: $(call lib_objects,$(OBJ)) $(OBJ)/main.o $(OBJ)/exec_init_blob.o
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(HARDEN) $(HARDEN_LDFLAGS) $(filter %.o,$^) $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) -o $@

# The build the tests run: same code under AddressSanitizer and UBSan.
$(BUILD)/guest-asan: $(call lib_objects,$(ASAN_OBJ)) $(ASAN_OBJ)/main.o $(OBJ)/exec_init_blob.o
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(SANITIZE) $(filter %.o,$^) $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) -o $@

# The guest's /init for --exec (init/exec_init.c): a static program of its own, since the guest
# has no libc before the host's / is mounted.  Kept outside src/: the library, the unit tests and
# the fuzzers have no copy.  Built with the compiler's defaults plus size flags, not HARDEN: it
# runs as the guest's PID 1, not on the host.
INIT_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
               -Os -static -s -fno-asynchronous-unwind-tables -ffunction-sections -fdata-sections \
               -Wl,--gc-sections
$(BUILD)/exec-init: init/exec_init.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(INIT_CFLAGS) $< -o $@

# The init embedded in build/guest and build/guest-asan (src/boot/exec_init_blob.h): its bytes
# through an .incbin in init/exec_init_blob.c, compiled with the VMM's flags for their notes.
$(OBJ)/exec_init_blob.o: init/exec_init_blob.c $(BUILD)/exec-init
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(HARDEN) \
	    -DEXEC_INIT_PATH='"$(BUILD)/exec-init"' -c $< -o $@

# exec-init outside a VM (not part of check): tests/init/run starts it as PID 1 of a user
# namespace, with the calls only a guest can make faked (tests/init/fake_guest.c), on images
# made as the VMM makes them (tests/init/image_tree.c).
$(BUILD)/exec-init-test: init/exec_init.c tests/init/fake_guest.c tests/init/fake_guest.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"; $(CC) $(INIT_CFLAGS) -include tests/init/fake_guest.h \
	    init/exec_init.c tests/init/fake_guest.c -o $@

$(BUILD)/exec-image-tree: tests/init/image_tree.c $(OBJ)/boot/exec_image.o $(OBJ)/boot/initramfs.o
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) -Itests/unit $(filter %.c %.o,$^) -o $@

init-test: $(BUILD)/exec-init-test $(BUILD)/exec-image-tree
	tests/init/run $(BUILD)

# Measures whether /dev/kvm runs guest code at hardware speed (test tooling).
$(BUILD)/kvm-speed: tests/host/kvm-speed.c $(call lib_objects,$(OBJ))
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(filter %.c %.o,$^) $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) -o $@

# Benchmark of the graphics path (virtio-gpu commands to a display), no VM.
$(BUILD)/bench-gfx: bench/gfx.c $(call lib_objects,$(OBJ))
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(filter %.c %.o,$^) $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) \
	    $(shell pkg-config --libs libvncclient) -o $@

# Test tooling: a VNC client that types into guest's VNC display.
$(BUILD)/vnc-type: tests/host/vnc-type.c
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $< $(shell pkg-config --libs libvncclient) -o $@

# The host tool that builds, lists and checks ZBI/bootdata containers: only
# the format code, none of the monitor.
$(BUILD)/zbi: tools/zbi.c $(OBJ)/boot/zbi.o $(OBJ)/boot/bootfs.o
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(filter %.c %.o,$^) -o $@

# The freestanding protocol probes (Zircon ZBI and multiboot test kernels)
# have their own Makefile: different compiler flags, no libc.
.PHONY: guests
guests: $(BUILD)/zbi
	@$(MAKE) --no-print-directory -C tests/guests BUILD=$(abspath $(BUILD))

# Unit tests: one program per tests/unit/*.c, linked with the sanitized library.
UNIT_SOURCES := $(wildcard tests/unit/test_*.c)
UNIT_PROGRAMS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SOURCES))

$(BUILD)/unit/%: tests/unit/%.c $(call lib_objects,$(ASAN_OBJ))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) -O1 -g $(SANITIZE) -Itests/unit $(filter %.c %.o,$^) -lcmocka $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) -o $@

unit: $(UNIT_PROGRAMS)
	@set -e; for test in $(UNIT_PROGRAMS); do echo "== $$test"; $$test; done

# Display tests that need no VM: a VNC client (libvncclient) against the
# display's server, over TCP and a Unix socket.
UI_TEST_SOURCES := $(wildcard tests/ui/test_*.c)
UI_TEST_PROGRAMS := $(patsubst tests/ui/%.c,$(BUILD)/ui/%,$(UI_TEST_SOURCES))

$(BUILD)/ui/%: tests/ui/%.c $(call lib_objects,$(ASAN_OBJ))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"; $(CC) $(CFLAGS_COMMON) -O1 -g $(SANITIZE) -Itests/unit $(filter %.c %.o,$^) \
	    -lcmocka $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) $(shell pkg-config --libs libvncclient 2>/dev/null) -o $@

ui-tests: $(UI_TEST_PROGRAMS)
	@set -e; for test in $(UI_TEST_PROGRAMS); do echo "== $$test"; $$test; done

# Fuzz harnesses (clang libFuzzer); `make fuzz` gives each a short run.
FUZZ_SOURCES := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_PROGRAMS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SOURCES))
FUZZ_SECONDS ?= 10
FUZZ_LIB_SOURCES := $(LIB_SOURCES)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SOURCES)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"; $(CLANG) -std=gnu11 -D_GNU_SOURCE -g -O1 -Isrc $(UI_CFLAGS) $(NET_CFLAGS) $(CONTROL_CFLAGS) -pthread \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(filter %.c,$^) \
	    $(UI_LIBS) $(NET_LIBS) $(CONTROL_LIBS) $(SANDBOX_LIBS) -o $@

fuzz-seeds: $(FUZZ_PROGRAMS)
	@$(CC) -std=gnu11 -Wall -Wextra -Werror -Itests/unit tests/fuzz/make_seeds.c \
	    -o $(BUILD)/fuzz/make-seeds && $(BUILD)/fuzz/make-seeds $(BUILD)/fuzz/seeds

fuzz: fuzz-seeds
	@set -e; for harness in $(FUZZ_PROGRAMS); do \
	    name=$$(basename $$harness); corpus=$(BUILD)/fuzz/corpus-$$name; mkdir -p $$corpus; \
	    log=$(BUILD)/fuzz/$$name.log; echo "== $$name ($(FUZZ_SECONDS) s)"; \
	    if ! $$harness -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=0 \
	        -artifact_prefix=$(BUILD)/fuzz/$$name- $$corpus \
	        $(BUILD)/fuzz/seeds/$${name#fuzz_} >$$log 2>&1; then \
	        tail -n 60 $$log; echo "$$name failed; the input is in $(BUILD)/fuzz/$$name-*"; exit 1; \
	    fi; tail -n 3 $$log; \
	done

# Long fuzzing, outside check: every harness for FUZZ_LONG_SECONDS (default 10 minutes), its
# corpus kept in the cache between runs; prints the executions each reached.
FUZZ_LONG_SECONDS ?= 600
fuzz-long: fuzz-seeds
	tests/fuzz/fuzz-long $(FUZZ_LONG_SECONDS) $(BUILD)

# ThreadSanitizer, outside check (clang; its own build directory): every unit test built and
# run with -fsanitize=thread, then Linux boots under a TSan build of the VMM on real KVM (two
# disks, each with its thread, beside the event loop's devices; virtio-console; the balloon),
# through tests/tsan/guest (its suppressions: guest memory is the guest's to order).  A race
# report makes a run exit 66, which fails its test.  The boots expect build/tsan: the default
# BUILD.
TSAN_BUILD := $(BUILD)/tsan
tsan: all
	@$(MAKE) --no-print-directory CC=$(CLANG) BUILD=$(TSAN_BUILD) \
	    SANITIZE="-fsanitize=thread -fno-omit-frame-pointer" unit $(TSAN_BUILD)/guest-asan
	GUEST_BINARY=tests/tsan/guest tests/run-integration two_disks_and_entropy \
	    virtio_console_shell disk_read_write balloon_returns_freed_memory

# The shipped binary carries its hardening (PIE, RELRO and BIND_NOW, canaries,
# fortified calls, CET marks, no executable stack).
hardening: $(BUILD)/guest
	tests/hardening $(BUILD)/guest

# Integration tests boot real guests on real KVM (directly or in the nested test host).
integration: all
	tests/run-integration

# Soak (not part of check): the same Debian boot N times under guest and under
# QEMU q35, interleaved, counting hangs and faults for each (tests/soak/boot-soak).
N ?= 200
soak: all
	tests/soak/boot-soak -n $(N)

# The same with 64 MiB sent from each guest through a restricted --net user hostfwd
# (one vCPU; QEMU with virtio-net-pci on its own user-mode network).
net-soak: all
	tests/soak/boot-soak -n $(N) -c 1 -t 240 -w net-up

# The chaos guest (not part of check): SECONDS of attacks from SEED, or runs of 60 s with
# fresh seeds, printed, when no SEED is given (tests/integration/chaos.sh).
SECONDS ?= 600
SEED ?=
chaos: all
	tests/integration/chaos.sh $(SECONDS) $(SEED)

# Installs missing Debian packages (apt-get) first: these two targets are the
# README's set-up commands.
deps:
	@scripts/install-deps

run: deps
	@$(MAKE) -s all
	@scripts/run-default

check: deps
	@$(MAKE) unit ui-tests init-test fuzz hardening integration

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
