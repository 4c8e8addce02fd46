#!/usr/bin/env python3
"""Lists the functions of one binary that ran in a callgrind profile, costliest first.

    hot_symbols.py CALLGRIND_OUT BINARY_PATH > symbols.txt

The output is an lld `--symbol-ordering-file`: the functions a server actually runs are laid
out together at the start of .text, so the pages it touches (and the kernel's fault-around
neighbours) are few. Names are the raw (mangled) symbols; callgrind must run with
--demangle=no.
"""
import re
import subprocess
import sys
from collections import Counter

DISPATCH = re.compile(r"(_alt|_avx2|_avx512|_avx|_nohw|_hw|_ssse3|_shaext|_bmi2|_adx|_x86_64)+$")
RECURSION = re.compile(r"'\d+$")
NAME = re.compile(r"^(c?ob|c?fn|c?fi|c?fe|fl)=\((\d+)\)(?: (.*))?$")


def main(path: str, binary: str) -> None:
    objects: dict[str, str] = {}
    functions: dict[str, str] = {}
    current_object = ""
    current_function = ""
    cost: Counter[str] = Counter()
    skip_next = False
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            match = NAME.match(line)
            if match:
                kind, index, name = match.groups()
                if kind in ("ob", "cob"):
                    if name:
                        objects[index] = name
                    if kind == "ob":
                        current_object = objects[index]
                elif kind in ("fn", "cfn"):
                    if name:
                        functions[index] = name
                    if kind == "fn":
                        current_function = functions[index]
                        if current_object == binary:
                            cost[current_function] += 0
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            if not line or not (line[0].isdigit() or line[0] in "+-*"):
                continue
            if skip_next:
                skip_next = False
                continue
            if current_object == binary:
                fields = line.split()
                if len(fields) >= 2 and fields[1].isdigit():
                    cost[current_function] += int(fields[1])
    # Callgrind names a recursive function's inner levels `name'2`, `name'3`, …: one symbol.
    merged: Counter[str] = Counter()
    for name, spent in cost.items():
        merged[RECURSION.sub("", name)] += spent
    ranked = [
        name
        for name, _ in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))
        if not name.startswith(("0x", "("))
    ]
    # Assembly picked at run time by CPU features (aws-lc's `_alt`/`_avx2`/`_nohw` variants):
    # valgrind's CPU is not the server's, so every variant of a hot stem goes in.
    defined = subprocess.run(
        ["nm", "--defined-only", binary], capture_output=True, text=True, check=True
    ).stdout.split()
    variants: dict[str, list[str]] = {}
    for symbol in defined:
        variants.setdefault(stem(symbol), []).append(symbol)
    seen: set[str] = set()
    for name in ranked:
        for symbol in [name, *sorted(variants.get(stem(name), []))]:
            if symbol not in seen:
                seen.add(symbol)
                print(symbol)


def stem(symbol: str) -> str:
    """The symbol without a CPU-dispatch suffix (Rust symbols are left alone)."""
    if symbol.startswith("_ZN") or symbol.startswith("_R"):
        return symbol
    return DISPATCH.sub("", symbol)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
