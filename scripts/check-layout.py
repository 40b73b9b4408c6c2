#!/usr/bin/env python3
"""check-layout: the rules of the source tree that the compiler cannot see.

  python3 scripts/check-layout.py        (run by `make check-layout` and make test)

1. No import cycles. A module is a .c file and its .h; module A depends on
   module B when A.c or A.h includes "B.h". Every strongly connected
   component of that graph with more than one module is a cycle, printed
   with one include that closes it.
2. The pure core (src/core/) includes only core headers (the Makefile also
   builds it without the libevent and libcurl include paths).
3. No C file is over 1,000 lines, except the core's parsers listed in
   PARSERS (each a single state machine that reads one format).
Exits 1 and says which rule broke, 0 otherwise.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")
CORE = os.path.join(SRC, "core")
MAX_LINES = 1000
PARSERS = {"src/core/toolcall_text.c"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def files():
    for d in (SRC, CORE):
        for n in sorted(os.listdir(d)):
            if n.endswith((".c", ".h")):
                yield os.path.join(d, n)


def main():
    problems = []
    mods = {}       # module name -> folder ("core" or "shell")
    edges = {}      # module -> {module: "file includes header"}
    lines = {}
    for path in files():
        rel = os.path.relpath(path, ROOT)
        mod = os.path.splitext(os.path.basename(path))[0]
        where = "core" if os.path.dirname(path) == CORE else "shell"
        if mods.setdefault(mod, where) != where:
            problems.append(f"{mod} exists in both src/ and src/core/")
        text = open(path, encoding="utf-8").read()
        lines[rel] = text.count("\n")
        for h in INCLUDE.findall(text):
            dep = os.path.splitext(os.path.basename(h))[0]
            if dep == mod:
                continue
            edges.setdefault(mod, {}).setdefault(dep, f"{rel} includes \"{h}\"")
    for mod, deps in sorted(edges.items()):
        for dep, why in sorted(deps.items()):
            if dep not in mods:
                continue  # version.h and the like: a header without a module is still a module
            if mods.get(mod) == "core" and mods[dep] != "core":
                problems.append(f"core module {mod} depends on shell module {dep}: {why}")
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in mods:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(mods):
        if v not in index:
            visit(v)
    for comp in sccs:
        inside = [edges[a][b] for a in comp for b in sorted(edges.get(a, {})) if b in comp]
        problems.append("import cycle among " + ", ".join(comp) + ":\n    " + "\n    ".join(inside))
    for rel, n in sorted(lines.items()):
        if rel.endswith(".c") and n > MAX_LINES and rel not in PARSERS:
            problems.append(f"{rel} has {n} lines (limit {MAX_LINES}; split it by noun)")
    for p in problems:
        print("check-layout: " + p)
    ncore = sum(1 for m in mods.values() if m == "core")
    if problems:
        print(f"check-layout: {len(problems)} problem(s)")
        return 1
    print(f"check-layout: {len(mods)} modules ({ncore} core), no import cycles, no file over {MAX_LINES} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
