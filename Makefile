# Thin wrapper over CMake. `make demo` and `make test` do all the set-up on Debian 12.
BUILD ?= build
JOBS ?= $(shell nproc)
DEMO_OUT ?= runs/demo

.PHONY: all build deps deps-test deps-demo demo test install bench clean asan clang

all: build

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@sh scripts/deps.sh build

deps-test:
	@sh scripts/deps.sh test

deps-demo:
	@sh scripts/deps.sh demo

# Train a small byte-level transformer LM on Debian's fortunes for about two minutes,
# evaluate bits per character on the held-out split, and print samples.
demo: deps-demo
	$(MAKE) build
	$(BUILD)/genc train lm --minutes 2 --out $(DEMO_OUT)
	$(BUILD)/genc eval $(DEMO_OUT)
	$(BUILD)/genc sample $(DEMO_OUT) --n 3 --len 200 --prompt "The "

# The whole suite twice: the optimised build, then an AddressSanitizer + UndefinedBehavior-
# Sanitizer build (leak checks on) of the same tests. In between, the whole tree is compiled
# (not run) with clang, warnings as errors, so the code stays C and not GCC's dialect.
test: deps-test
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900
	$(MAKE) clang
	$(MAKE) asan

# make install PREFIX=/opt/genc: the program, libgenc (static and shared), the headers and
# genc.pc (relocatable: pkg-config finds the prefix from the file's own place).
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: deps-test
	$(MAKE) build
	/usr/bin/python3 bench/bench_lm.py --genc $(BUILD)/genc

clang:
	cmake -S . -B build-clang -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-Werror
	cmake --build build-clang -j $(JOBS)

asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGENC_SANITIZE=ON -DGENC_NATIVE=ON
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 2 --timeout 1800

clean:
	rm -rf $(BUILD) build-asan build-clang
