#!/usr/bin/env bash
# Runs redis-benchmark against `spool serve` and Debian's redis-server side by side, at the same
# durability (Redis with appendonly yes and the same appendfsync), and prints ratios.
#
#   Benchmarks/redis-benchmark-compare.sh [everysec|always ...]     (default: everysec always)
#
# Rows: XADD at pipeline 1 and 16, XRANGE COUNT 100 (redis-benchmark, requests/s), and the
# consumer-group loop XREADGROUP COUNT 100 + XACK of those IDs (group-load, entries/s). A last
# line gives the ceiling the client and the machine set: PING against redis-server, and
# redis-benchmark's own CPU for XRANGE.
# Environment: REQUESTS, CLIENTS, GROUP_ENTRIES (entries the group loop drains), SPOOL.
#
# Needs redis-server and redis-tools (apt-get install -y redis-server) and a release build of
# spool (built here if missing). Both servers bind 127.0.0.1 on free ports and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

POLICIES=("${@:-everysec}")
[ $# -eq 0 ] && POLICIES=(everysec always)
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
SPOOL=${SPOOL:-.build/release/spool}
REDIS_PORT=${REDIS_PORT:-16379}
SPOOL_PORT=${SPOOL_PORT:-16380}

command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
    echo "needs redis-server and redis-benchmark: apt-get install -y redis-server" >&2; exit 1; }
[ -x "$SPOOL" ] || swift build -c release --product spool
GROUP_ENTRIES=${GROUP_ENTRIES:-200000}
GROUP_LOAD=${GROUP_LOAD:-/tmp/spool-group-load}
[ "$GROUP_LOAD" -nt Benchmarks/Scripts/group-load.swift ] || swiftc -O Benchmarks/Scripts/group-load.swift -o "$GROUP_LOAD"

WORK=$(mktemp -d /tmp/spool-bench-XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "port $1 did not come up" >&2; exit 1; }

# rps <port> <redis-benchmark args...>: requests per second from --csv output.
rps() {
    local port=$1; shift
    redis-benchmark -p "$port" -c "$CLIENTS" --csv "$@" 2>/dev/null | tail -1 | awk -F'","' '{gsub(/"/,"",$2); print $2}'
}

start_servers() {
    local policy=$1
    rm -rf "$WORK/redis" "$WORK/spool"; mkdir -p "$WORK/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$WORK/redis" --save '' \
        --appendonly yes --appendfsync "$policy" --logfile "$WORK/redis.log" &
    PIDS+=($!); REDIS_PID=$!
    "$SPOOL" serve --bind 127.0.0.1 --port "$SPOOL_PORT" --dir "$WORK/spool" --appendfsync "$policy" 2>"$WORK/spool.log" &
    PIDS+=($!); SPOOL_PID=$!
    wait_port "$REDIS_PORT"; wait_port "$SPOOL_PORT"
}

stop_servers() {
    kill "$REDIS_PID" "$SPOOL_PID" 2>/dev/null || true
    wait "$REDIS_PID" "$SPOOL_PID" 2>/dev/null || true
}

row() {  # row <label> <redis-benchmark args...>
    local label=$1; shift
    local r s
    r=$(rps "$REDIS_PORT" "$@"); s=$(rps "$SPOOL_PORT" "$@")
    awk -v l="$label" -v r="$r" -v s="$s" 'BEGIN { printf "%-34s %12.0f %12.0f %8.2fx\n", l, r, s, (r > 0 ? s / r : 0) }'
}

for policy in "${POLICIES[@]}"; do
    start_servers "$policy"
    echo "appendfsync $policy, $CLIENTS clients, $REQUESTS requests"
    printf "%-34s %12s %12s %9s\n" "row" "redis/s" "spool/s" "ratio"
    row "XADD pipeline 1" -n "$REQUESTS" -P 1 XADD bench '*' f v
    row "XADD pipeline 16" -n "$REQUESTS" -P 16 XADD bench16 '*' f v
    for port in "$REDIS_PORT" "$SPOOL_PORT"; do
        redis-benchmark -p "$port" -c 1 -n 1000 -P 100 XADD range '*' field value >/dev/null 2>&1
    done
    row "XRANGE COUNT 100" -n $((REQUESTS / 10)) XRANGE range - + COUNT 100
    # XREADGROUP COUNT 100, then XACK of exactly those IDs, per client until the group has
    # delivered all GROUP_ENTRIES entries: redis-benchmark cannot chain the two, so group-load
    # (Benchmarks/Scripts/group-load.swift) runs the same loop against both servers.
    group_rate=()
    for port in "$REDIS_PORT" "$SPOOL_PORT"; do
        redis-benchmark -p "$port" -c 1 -n "$GROUP_ENTRIES" -P 100 XADD grp '*' field value >/dev/null 2>&1
        redis-cli -p "$port" XGROUP CREATE grp g 0 >/dev/null
        group_rate+=("$("$GROUP_LOAD" "$port" grp g "$CLIENTS" 100 | sed 's/.*entries_per_sec=//')")
    done
    awk -v l="XREADGROUP+XACK 100 (entries/s)" -v r="${group_rate[0]}" -v s="${group_rate[1]}" \
        'BEGIN { printf "%-34s %12.0f %12.0f %8.2fx\n", l, r, s, (r > 0 ? s / r : 0) }'
    # What no server can exceed with this client on this machine: redis-benchmark's PING (the
    # cheapest command) against redis-server, and the share of a core redis-benchmark itself
    # takes for XRANGE COUNT 100 (near 100 %: the client, not the server, sets that row).
    p1=$(rps "$REDIS_PORT" -n "$REQUESTS" -P 1 PING)
    p16=$(rps "$REDIS_PORT" -n "$REQUESTS" -P 16 PING)
    /usr/bin/time -o "$WORK/time" -f "%U %S %e" redis-benchmark -p "$REDIS_PORT" -c "$CLIENTS" -n $((REQUESTS / 10)) -q \
        XRANGE range - + COUNT 100 >/dev/null 2>&1
    xr_cpu=$(awk '{ printf "%.0f", ($1 + $2) / $3 * 100 }' "$WORK/time")
    printf "ceiling: PING %.0f/s at pipeline 1, %.0f/s at pipeline 16; redis-benchmark used %s%% of a core for XRANGE\n" \
        "$p1" "$p16" "$xr_cpu"
    stop_servers
    echo
done
