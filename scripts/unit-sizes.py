#!/usr/bin/env python3
"""Units a reader can hold: reports every C source file (.c, .h) of the tree
over 800 lines, and every function over 80 lines whose comment does not say
why ("Over 80 lines: <reason>" in the comment right above it). Exits 1 when
it reports anything.

  usage: unit-sizes.py [SOURCE_ROOT] [--exclude DIR/]...

A function is counted from its signature's first line to its closing brace,
in the house style (.clang-format: the opening brace of a function alone on
its line at column 0, the closing one too).
"""
import os
import re
import sys

FILE_MAX = 800
FUNC_MAX = 80
MARK = "Over 80 lines:"


def sources(root, excludes):
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = sorted(x for x in dirs if not x.startswith(".") and not x.startswith("build")
                         and x != "node_modules")
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                p = os.path.normpath(os.path.join(rel, f))
                if not any(p.startswith(e) for e in excludes):
                    yield p


def long_functions(lines):
    """(first line, length, signature, reason given) of each function over FUNC_MAX."""
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            j = i - 1
            while j > 0 and not re.match(r"[A-Za-z_]", lines[j]):
                j -= 1
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            n = k - j + 1
            if n > FUNC_MAX:
                c = j - 1
                comment = []
                while c >= 0 and (lines[c].startswith(("/*", " *", "//")) or lines[c].endswith("*/")):
                    comment.append(lines[c])
                    c -= 1
                yield j + 1, n, lines[j].strip(), any(MARK in x for x in comment)
            i = k
        i += 1


def main(argv):
    args = argv[1:]
    excludes = []
    root = "."
    while args:
        a = args.pop(0)
        if a == "--exclude" and args:
            excludes.append(os.path.normpath(args.pop(0)) + os.sep)
        else:
            root = a
    bad = 0
    for p in sources(root, excludes):
        with open(os.path.join(root, p), errors="replace") as f:
            lines = f.read().split("\n")
        n = len(lines) - (1 if lines and lines[-1] == "" else 0)
        if n > FILE_MAX:
            print(f"{p}: {n} lines (over {FILE_MAX}): split it by concern")
            bad += 1
        for at, length, sig, reason in long_functions(lines):
            if not reason:
                print(f"{p}:{at}: {sig[:60]}: {length} lines (over {FUNC_MAX}) "
                      f"and no \"{MARK} <reason>\" above it")
                bad += 1
    if excludes:
        print("not checked: " + ", ".join(excludes))
    print(f"{bad} unit(s) over their size" if bad else "every unit within its size")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
