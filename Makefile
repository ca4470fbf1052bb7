# sockchat — the two commands a new user needs:
#   make run    build, then start the group chat server on 127.0.0.1:8000
#   make test   build, then run the whole test suite
#   make static one self-contained build-static/sockchat to hand out (no packages needed)
# Missing Debian packages are installed first (apt-get as root, sudo otherwise).

BUILD      ?= build
ASAN_BUILD ?= build-asan
STATIC_BUILD ?= build-static
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

# What building and testing need; the benchmark adds the anchor tools it compares with.
BUILD_PACKAGES = cmake make g++ libcli11-dev libfmt-dev catch2 nlohmann-json3-dev libssl-dev libicu-dev
TEST_PACKAGES  = python3 netcat-openbsd ncat socat iproute2 tmux nftables openssl
BENCH_PACKAGES = ncat nmap iperf3 socat netcat-openbsd python3 gnuplot-nox time openssl
# libFuzzer and the sanitizer runtimes come with Debian's clang (libclang-rt-dev: compiler-rt).
FUZZ_PACKAGES  = clang libclang-rt-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps test-deps build run test asan static fuzz install format format-check clean bench

all: build

# Install only what dpkg says is missing, so a machine that has everything runs no apt at all.
define install_missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing missing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PACKAGES))

test-deps: deps
	$(call install_missing,$(TEST_PACKAGES))

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	@echo "Starting the group chat on 127.0.0.1:8000 (Ctrl-C stops it)."
	@echo "Connect from another terminal:  $(BUILD)/sockchat connect 127.0.0.1 8000   (or: nc 127.0.0.1 8000)"
	$(BUILD)/sockchat serve-group --host 127.0.0.1 --port 8000

test: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSOCKCHAT_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# One sockchat file to hand out: runs on any x86-64 Linux (WSL2 too) with nothing installed.
# Only the sockchat target is built, then checked (no shared library, a chat on loopback).
# -O2 as the normal build (GCC 12's -O3 warns falsely in std::string: -Wrestrict); -s strips.
static: test-deps
	cmake -S . -B $(STATIC_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
	  -DCMAKE_EXE_LINKER_FLAGS_RELEASE=-s -DSOCKCHAT_STATIC=ON $(CMAKE_FLAGS)
	cmake --build $(STATIC_BUILD) -j $(JOBS) --target sockchat
	ctest --test-dir $(STATIC_BUILD) -L static --output-on-failure
	@echo "Hand out $(STATIC_BUILD)/sockchat: one file, no packages needed."

# Every parser of a peer's or a user's input under libFuzzer, ASan and UBSan, FUZZ_SECONDS
# each (FUZZ_TARGETS=NAME... for some). A separate clang build in $(FUZZ_BUILD); build/ stays
# g++. See docs/fuzzing.md.
fuzz: deps
	$(call install_missing,$(FUZZ_PACKAGES))
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug \
	  -DSOCKCHAT_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	$(call install_missing,clang-format)
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	$(call install_missing,clang-format)
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

bench: build
	$(call install_missing,$(BENCH_PACKAGES))
	tests/bench/run_all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(STATIC_BUILD) $(FUZZ_BUILD)
