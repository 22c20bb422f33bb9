# The two entry points of the README: `make demo` and `make check`.
# Everything else here serves them.
JOBS ?= 2
BUILD ?= build
CMAKE_FLAGS ?=

.PHONY: all deps build demo check check-asan check-tsan check-sanitize clean

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

clean:
	rm -rf build build-asan build-tsan
