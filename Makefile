# anyclaude: build and test.
#   make            build/anyclaude
#   make test       install what is missing, then every suite (see scripts/test.sh)
#   make unit       C unit tests (golden files, split-at-every-byte)
#   make asan       unit tests + gateway built with ASan+UBSan
#   make deps       install build/test dependencies (apt, pinned npm packages)
#   make format     clang-format the C sources
#   make install    build/anyclaude and its man page into $(PREFIX) (default
#                   /usr/local; PREFIX=$$HOME/.local needs no root; DESTDIR honoured)
#   make uninstall  remove exactly the files install put there
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

.PHONY: all test unit asan deps format clean check run install uninstall
all: build/anyclaude build/h1check

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

# httpd's framing on stdin, for the differential test (tests/fault/framing.test.mjs)
build/h1check: tests/fault/h1check.c build/obj/h1.o build/obj/buf.o
	$(CC) $(WARN) $(CFLAGS) -o $@ $^

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

# Install: the binary and the man page, nothing else (anyclaude reads no data
# files). uninstall removes those two files and leaves the directories.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
INSTALL ?= install
install: build/anyclaude
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1"
	$(INSTALL) -m 755 build/anyclaude "$(DESTDIR)$(BINDIR)/anyclaude"
	$(INSTALL) -m 644 docs/anyclaude.1 "$(DESTDIR)$(MANDIR)/man1/anyclaude.1"
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/anyclaude" "$(DESTDIR)$(MANDIR)/man1/anyclaude.1"

# Build (installing missing build dependencies, and Claude Code when no
# claude is on PATH) and start anyclaude:
#   make run ARGS="--mode llamacpp"
run:
	@bash scripts/deps.sh --run
	@$(MAKE) -s all
	./build/anyclaude $(ARGS)

# ---- fuzzing and valgrind (begin) -------------------------------------------
# libFuzzer targets for the pure core (tests/fuzz/fuzz_*.c, built with clang,
# ASan and UBSan into build/fuzz/), run by tests/fuzz/run.sh on corpora seeded
# from tests/golden (build/fuzz/corpus/TARGET) with tests/fuzz/TARGET.dict.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="stream sse"] [FUZZ_JOBS=2]
#   make fuzz-smoke      every target for 10 s (make test)
#   make valgrind        build/unit_tests under valgrind: fails on memory errors
#                        and definite/indirect leaks
# A crash is saved as build/fuzz/crashes/TARGET-crash-*; replay it with
#   ./build/fuzz/fuzz_TARGET build/fuzz/crashes/TARGET-crash-*
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= request sse stream backend_error toolcall toolargs passthru h1 discover window
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) $(shell pkg-config --cflags libcjson)
FUZZ_CORE    := buf sse anthropic affinity xlate_request xlate_stream toolargs toolcall_text argstream \
                passthru pool rendezvous routes config mode provenance servertools h1 discover window convstat
FUZZ_OBJ     := $(patsubst %,build/fuzz/obj/%.o,$(FUZZ_CORE))
FUZZ_BINS    := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
VALGRIND     ?= valgrind
VALGRIND_FLAGS := -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --num-callers=30

.PHONY: fuzz fuzz-build fuzz-smoke valgrind
.SECONDARY: $(FUZZ_OBJ)
# src/ is built without -Werror here: a clang-only warning in code being
# edited should not stop the fuzzers (the harnesses keep -Werror).
build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Werror,$(WARN)) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) \
		$(shell pkg-config --libs libcjson) -lm
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-smoke: fuzz-build
	bash tests/fuzz/run.sh 10 $(FUZZ_TARGETS)
valgrind: build/unit_tests
	$(VALGRIND) $(VALGRIND_FLAGS) ./build/unit_tests
# ---- fuzzing and valgrind (end) ---------------------------------------------
