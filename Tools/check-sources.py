#!/usr/bin/env python3
"""Two checks of the sources that the compiler does not make (both in the README test command).

Imports: Package.swift tells the truth. Every module a target's sources import is one of its
declared direct dependencies, and every declared dependency is imported by some source of the
target (no dead edges). SwiftPM's `--explicit-target-dependency-import-check` catches imports of
modules outside a target's dependency closure; this catches the rest (an import satisfied only
transitively, a dependency nothing uses).

Pointers: untrusted bytes are read through one bounds-checked reader. In the modules that read
files (SpoolFormat, SpoolFiles, Spool, the tools) only SpoolFormat/ByteReader.swift slices a raw
buffer (`UnsafeRawBufferPointer(rebasing:)`) or loads from one at an offset
(`load(fromByteOffset:)`, `loadUnaligned(fromByteOffset:)`): the standard library checks those
only in debug builds, ByteReader checks them in release builds too. Everyone else calls
ByteReader's reads (which throw) or `checkedSlice` (for bytes Spool laid out itself; it traps).

    python3 Tools/check-sources.py        # exit status 1 and one line per problem

Modules of the platform and the toolchain (Glibc, Musl, Darwin, Foundation, Synchronization,
Testing, Dispatch) are not dependencies and are ignored.
"""
import json, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLATFORM = {"Glibc", "Musl", "Darwin", "Foundation", "Synchronization", "Testing", "Dispatch"}
IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+)?(?:public\s+|internal\s+|package\s+|private\s+|fileprivate\s+)?"
                    r"import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?([A-Za-z_][A-Za-z0-9_]*)")


POINTER_MODULES = ["Sources/SpoolFormat", "Sources/SpoolFiles", "Sources/Spool", "Tools/SpoolTools"]
POINTER_ALLOWED = {"Sources/SpoolFormat/ByteReader.swift"}
RAW_READ = re.compile(r"UnsafeRawBufferPointer\(\s*rebasing:|\.load(?:Unaligned)?\(\s*fromByteOffset:")


def pointer_problems():
    problems, files = [], 0
    for module in POINTER_MODULES:
        for base, _, names in os.walk(os.path.join(ROOT, module)):
            for f in names:
                if not f.endswith(".swift"):
                    continue
                path = os.path.join(base, f)
                rel = os.path.relpath(path, ROOT)
                files += 1
                if rel in POINTER_ALLOWED:
                    continue
                for n, line in enumerate(open(path, encoding="utf-8"), 1):
                    if RAW_READ.search(line.split("//")[0]):
                        problems.append(f"{rel}:{n} slices or loads a raw buffer outside ByteReader: {line.strip()}")
    return problems, files


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
    pointers, files = pointer_problems()
    problems += pointers
    for p in problems:
        print("check-sources: " + p)
    if problems:
        sys.exit(1)
    print(f"check-sources: {len(package['targets'])} targets, every import declared and every dependency imported; "
          f"{files} files that read file bytes, raw buffers sliced only in ByteReader")


main()
