#!/usr/bin/env python3
"""Checks that Package.swift tells the truth: every module a target's sources import is one of
its declared direct dependencies, and every declared dependency is imported by some source of
the target (no dead edges). SwiftPM's `--explicit-target-dependency-import-check` (also in the
README test command) catches imports of modules outside a target's dependency closure; this
catches the rest (an import satisfied only transitively, a dependency nothing uses).

    python3 Tools/check-imports.py        # exit status 1 and one line per problem

Modules of the platform and the toolchain (Glibc, Musl, Darwin, Foundation, Synchronization,
Testing, Dispatch) are not dependencies and are ignored.
"""
import json, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORM = {"Glibc", "Musl", "Darwin", "Foundation", "Synchronization", "Testing", "Dispatch"}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+)?(?:public\s+|internal\s+|package\s+|private\s+|fileprivate\s+)?"
                    r"import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?([A-Za-z_][A-Za-z0-9_]*)")


def main():
    out = subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    package = json.loads(out)
    problems = []
    for t in package["targets"]:
        if t["type"] == "system":
            continue
        name = t["name"]
        default = "Tests" if t["type"] == "test" else "Sources"
        path = os.path.join(ROOT, t.get("path") or os.path.join(default, name))
        declared = set()
        for d in t["dependencies"]:
            (kind, value), = d.items()
            # byName/target: [name, condition]; product: [name, package, moduleAliases, condition]
            declared.add(value[0])
        imported = set()
        for base, _, files in os.walk(path):
            for f in files:
                if f.endswith(".swift"):
                    for line in open(os.path.join(base, f), encoding="utf-8"):
                        m = IMPORT.match(line)
                        if m and m.group(1) not in PLATFORM:
                            imported.add(m.group(1))
        for m in sorted(imported - declared):
            problems.append(f"{name} imports {m} but does not declare it")
        for m in sorted(declared - imported):
            problems.append(f"{name} declares {m} but imports it nowhere")
    for p in problems:
        print("check-imports: " + p)
    if problems:
        sys.exit(1)
    print(f"check-imports: {len(package['targets'])} targets, every import declared and every dependency imported")


main()
