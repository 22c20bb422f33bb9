# The two entry points of the README: `make demo` and `make check`.
# Everything else here serves them.
JOBS ?= 2
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all deps build demo check check-asan check-tsan check-sanitize clean fuzz

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DAHTTP_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD)/async

check: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

check-asan: deps
	cmake -S . -B build-asan -DAHTTP_WERROR=ON -DAHTTP_SANITIZE=address -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS)

check-tsan: deps
	cmake -S . -B build-tsan -DAHTTP_WERROR=ON -DAHTTP_SANITIZE=thread -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build build-tsan -j $(JOBS)
	ctest --test-dir build-tsan --output-on-failure -j $(JOBS)

check-sanitize: check-asan check-tsan

# libFuzzer targets (fuzz/): each runs FUZZ_SECONDS with its seed corpus, or
# exactly FUZZ_RUNS executions when that is set; see fuzz/run.sh.
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= 0
fuzz: deps
	cmake -S . -B build-fuzz -DAHTTP_WERROR=ON -DAHTTP_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_RUNS)

# Benchmarks against curl, libcurl and wrk (bench/, issue 7). `make bench`
# is the real measurement (installs its peers, builds in Release into
# build-bench, about 15 minutes); bench-smoke runs every row once on tiny
# inputs and only checks that each program completes and prints its table.
.PHONY: bench bench-smoke
bench:
	bench/run.sh

bench-smoke: deps
	cmake -S bench -B build-bench-smoke -DAHTTP_WERROR=ON >/dev/null
	cmake --build build-bench-smoke -j $(JOBS)
	bench/smoke.sh build-bench-smoke/ahttp/async build-bench-smoke

# The soak run of issue 6 (tests/soak/soak.c): 1,000,000 sequential and
# 10,000 concurrent GETs against nginx with a resident-memory check (RSS
# within 5%), run twice, about 3 minutes each (2 of them waiting for nginx
# to close the idle connections):
#   1. with glibc's malloc as it comes (GLIBC_TUNABLES unset): the
#      criterion as the issue states it;
#   2. with GLIBC_TUNABLES=$(SOAK_TUNABLES): one arena and no per-thread
#      cache, so that freed memory goes back to the system and RSS growth
#      is memory the engine holds.
# soak.c says what each verdict measures. Request errors or RSS growth in
# either run fail the target. In run 1 glibc keeps freed pages of the I/O
# thread's arena resident (its tcache, an arena top that malloc_trim does
# not shrink) while the heap in use stays flat, and RSS ends 6% or more up:
# `make soak SOAK_STRICT=` still prints run 1's RSS verdict but fails the
# target only on its errors. SOAK_ARGS="SEQUENTIAL CONCURRENT PARALLEL"
# for a short run.
SOAK_ARGS ?=
SOAK_STRICT ?= 1
SOAK_TUNABLES ?= glibc.malloc.arena_max=1:glibc.malloc.tcache_count=0
.PHONY: soak
soak: deps
	cmake -S . -B build-soak -DAHTTP_WERROR=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-soak -j $(JOBS) --target ahttp_soak
	@echo "soak 1/2: glibc malloc as it comes"; \
	env -u GLIBC_TUNABLES build-soak/tests/ahttp_soak $(SOAK_ARGS); one=$$?; \
	echo "soak 2/2: GLIBC_TUNABLES=$(SOAK_TUNABLES)"; \
	GLIBC_TUNABLES=$(SOAK_TUNABLES) build-soak/tests/ahttp_soak $(SOAK_ARGS); \
	two=$$?; \
	echo "soak: exit status of run 1 $$one, of run 2 $$two" \
	  "(0 passed, 1 errors, 2 resident memory only)"; \
	case "$$one" in 0) ;; 2) [ -z "$(SOAK_STRICT)" ] || exit 1 ;; *) exit 1 ;; esac; \
	[ "$$two" -eq 0 ]

clean:
	rm -rf build build-asan build-tsan build-fuzz build-bench build-bench-smoke build-soak
