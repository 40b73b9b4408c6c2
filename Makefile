# anyclaude: build and test.
#   make            build/anyclaude
#   make test       install what is missing, then every suite (see scripts/test.sh)
#   make unit       C unit tests (golden files, split-at-every-byte)
#   make asan       unit tests + gateway built with ASan+UBSan
#   make deps       install build/test dependencies (apt, pinned npm packages)
#   make format     clang-format the C sources (make format-check: only check)
#   make check-layout  no import cycles, a pure src/core/, no file over 1,000 lines
#   make install    build/anyclaude and its man page into $(PREFIX) (default
#                   /usr/local; PREFIX=$$HOME/.local needs no root; DESTDIR honoured)
#   make uninstall  remove exactly the files install put there
PKGS    := libevent libcurl libcjson
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
SAN     := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow

# The pure core (src/core/) is compiled with cJSON's include path only: it
# cannot include libevent or libcurl, so its purity is the compiler's to
# enforce. The shell (src/) sees both folders and every library.
CORE_PKG_CFLAGS = $(shell pkg-config --cflags libcjson)
CORE_C    := $(wildcard src/core/*.c)
SHELL_C   := $(wildcard src/*.c)
SRC       := $(CORE_C) $(SHELL_C)
LIB_SRC   := $(filter-out src/main.c,$(SRC))
UNIT_SRC  := $(wildcard tests/unit/*.c)
HDRS      := $(wildcard src/*.h) $(wildcard src/core/*.h) $(wildcard tests/unit/*.h)
INC       := -Isrc -Isrc/core

objname    = $(patsubst src/%.c,$(1)/%.o,$(2))
OBJ       := $(call objname,build/obj,$(SRC))
CORE_OBJ  := $(call objname,build/obj,$(LIB_SRC))
UNIT_OBJ  := $(patsubst tests/unit/%.c,build/obj/unit/%.o,$(UNIT_SRC))
ASAN_OBJ  := $(call objname,build/asan,$(SRC))
ASAN_CORE := $(call objname,build/asan,$(LIB_SRC))
ASAN_UNIT := $(patsubst tests/unit/%.c,build/asan/unit/%.o,$(UNIT_SRC))

.PHONY: all test unit asan deps format format-check clean check run install uninstall check-layout
all: build/anyclaude build/h1check

build/obj/core/%.o: src/core/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -Isrc/core $(CORE_PKG_CFLAGS) -c $< -o $@
build/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(INC) $(PKG_CFLAGS) -c $< -o $@
build/obj/unit/%.o: tests/unit/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) $(INC) $(PKG_CFLAGS) -c $< -o $@
build/asan/core/%.o: src/core/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) -Isrc/core $(CORE_PKG_CFLAGS) -c $< -o $@
build/asan/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(INC) $(PKG_CFLAGS) -c $< -o $@
build/asan/unit/%.o: tests/unit/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) -O1 -g $(SAN) $(INC) $(PKG_CFLAGS) -c $< -o $@

build/anyclaude: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(PKG_LIBS) -lm
build/unit_tests: $(CORE_OBJ) $(UNIT_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm
build/asan/anyclaude: $(ASAN_OBJ)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) -lm
build/asan/unit_tests: $(ASAN_CORE) $(ASAN_UNIT)
	$(CC) $(SAN) -o $@ $^ $(PKG_LIBS) -lm

# httpd's framing on stdin, for the differential test (tests/fault/framing.test.mjs)
build/h1check: tests/fault/h1check.c build/obj/core/h1.o build/obj/core/buf.o
	$(CC) $(WARN) $(CFLAGS) -Isrc/core -o $@ $^

unit: build/unit_tests
	./build/unit_tests
asan: build/asan/unit_tests build/asan/anyclaude
	./build/asan/unit_tests

deps:
	bash scripts/deps.sh

# Import cycles, core purity, file length (scripts/check-layout.py).
check-layout:
	python3 scripts/check-layout.py

test:
	bash scripts/deps.sh
	bash scripts/test.sh

FORMAT_FILES = src/*.c src/*.h src/core/*.c src/core/*.h tests/unit/*.c tests/unit/*.h
format:
	clang-format -i $(FORMAT_FILES)
# Every C file already as .clang-format writes it (run by make test).
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

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
FUZZ_TARGETS ?= request sse stream backend_error toolcall toolargs passthru h1 discover window jparse slotfiles
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) -Isrc/core $(shell pkg-config --cflags libcjson)
FUZZ_OBJ     := $(patsubst src/core/%.c,build/fuzz/obj/%.o,$(CORE_C))
FUZZ_BINS    := $(patsubst %,build/fuzz/fuzz_%,$(FUZZ_TARGETS))
VALGRIND     ?= valgrind
VALGRIND_FLAGS := -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --num-callers=30

.PHONY: fuzz fuzz-build fuzz-smoke valgrind
.SECONDARY: $(FUZZ_OBJ)
# src/core/ is built without -Werror here: a clang-only warning in code being
# edited should not stop the fuzzers (the harnesses keep -Werror).
build/fuzz/obj/%.o: src/core/%.c $(HDRS)
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
