#!/bin/sh
# Copies the engine (Package.swift, Sources, Tests of the enclosing repository) to a scratch
# directory and gives every target directory its manifest names but the tree lacks yet
# (targets still being written on other branches) a placeholder, so the benchmarks can build
# the `Spool` product against a tree whose manifest runs ahead of its sources.
# Prints the directory; use it as SPOOL_PACKAGE_PATH.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
stage=${1:-${TMPDIR:-/tmp}/spool-bench-engine/spool}
rm -rf "$stage"
mkdir -p "$stage"
(cd "$root" && tar -cf - Package.swift Sources Tests $(ls -d Tools 2>/dev/null)) | (cd "$stage" && tar -xf -)
for dir in Sources/SpoolServer Tools/SpoolTools Tests/SpoolFormatTests Tests/SpoolIndexTests \
           Tests/SpoolTests Tests/RESPTests Tests/SpoolServerTests Tests/SpoolToolsTests; do
    if [ ! -d "$stage/$dir" ]; then
        mkdir -p "$stage/$dir"
        echo "// placeholder written by Benchmarks/Scripts/stage-engine.sh" > "$stage/$dir/Placeholder.swift"
    fi
done
if [ ! -d "$stage/Sources/spool" ]; then
    mkdir -p "$stage/Sources/spool"
    echo "// placeholder written by Benchmarks/Scripts/stage-engine.sh" > "$stage/Sources/spool/main.swift"
fi
echo "$stage"
