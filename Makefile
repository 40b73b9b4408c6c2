# anyclaude: build and test.
#   make            build/anyclaude
#   make test       install what is missing, then every suite (see scripts/test.sh)
#   make unit       C unit tests (golden files, split-at-every-byte)
#   make asan       unit tests + gateway built with ASan+UBSan
#   make deps       install build/test dependencies (apt, pinned npm packages)
#   make format     clang-format the C sources
PKGS    := libevent libcurl libcjson
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRC       := $(wildcard src/*.c)
CORE_SRC  := $(filter-out src/main.c,$(SRC))
UNIT_SRC  := $(wildcard tests/unit/*.c)
HDRS      := $(wildcard src/*.h) $(wildcard tests/unit/*.h)

OBJ       := $(patsubst src/%.c,build/obj/%.o,$(SRC))
CORE_OBJ  := $(patsubst src/%.c,build/obj/%.o,$(CORE_SRC))
UNIT_OBJ  := $(patsubst tests/unit/%.c,build/obj/unit/%.o,$(UNIT_SRC))
ASAN_OBJ  := $(patsubst src/%.c,build/asan/%.o,$(SRC))
ASAN_CORE := $(patsubst src/%.c,build/asan/%.o,$(CORE_SRC))
ASAN_UNIT := $(patsubst tests/unit/%.c,build/asan/unit/%.o,$(UNIT_SRC))

.PHONY: all test unit asan deps format clean check run
all: build/anyclaude

build/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@
build/obj/unit/%.o: tests/unit/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@
build/asan/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(PKG_CFLAGS) -c $< -o $@
build/asan/unit/%.o: tests/unit/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(PKG_CFLAGS) -c $< -o $@

build/anyclaude: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(PKG_LIBS) -lm
build/unit_tests: $(CORE_OBJ) $(UNIT_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm
build/asan/anyclaude: $(ASAN_OBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) -lm
build/asan/unit_tests: $(ASAN_CORE) $(ASAN_UNIT)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) -lm

unit: build/unit_tests
	./build/unit_tests
asan: build/asan/unit_tests build/asan/anyclaude
	./build/asan/unit_tests

deps:
	bash scripts/deps.sh

test:
	bash scripts/deps.sh
	bash scripts/test.sh

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build

# Build (installing missing build dependencies) and start anyclaude:
#   make run ARGS="--mode llamacpp"
run:
	bash scripts/deps.sh --build-only
	$(MAKE) all
	./build/anyclaude $(ARGS)
