#!/usr/bin/env bash
# Installs what building and testing Spool needs on a fresh Debian machine with the Swift
# toolchain: liblz4-dev (the LZ4 system library), pkg-config, redis-server/redis-tools (the
# oracle for interop tests and benchmarks) and redis-py (the client the interop tests use).
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
