#!/usr/bin/env bash
# Interleaved A/B of `spool serve` builds: for each round, each build in turn on a fresh data
# directory, redis-benchmark XADD with 50 clients at pipeline 1 and 16; prints requests/s and
# the server's CPU per request (user + system, from /proc/<pid>/stat), then the means per build.
#
#   Benchmarks/Scripts/server-ab.sh BUILD... (copies of .build/release/spool, or wrappers)
#
# Environment: POLICY (everysec), ROUNDS (3), N1 (200000 requests at pipeline 1), N16 (1000000
# at pipeline 16), PORT (16403). Binds 127.0.0.1; every server is stopped before the next.
set -euo pipefail
set -f  # the '*' of XADD is an argument, not a glob
[ $# -ge 1 ] || { echo "usage: $0 BUILD..." >&2; exit 2; }
BINS=("$@")
POLICY=${POLICY:-everysec}; ROUNDS=${ROUNDS:-3}; N1=${N1:-200000}; N16=${N16:-1000000}; PORT=${PORT:-16403}
TICKS=$(getconf CLK_TCK)
DIR=$(mktemp -d /tmp/spool-ab-XXXXXX)
trap 'rm -rf "$DIR"' EXIT

for r in $(seq "$ROUNDS"); do
    for bin in "${BINS[@]}"; do
        rm -rf "$DIR/data"
        "$bin" serve --bind 127.0.0.1 --port "$PORT" --dir "$DIR/data" --appendfsync "$POLICY" 2>/dev/null &
        pid=$!
        for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
        line="$(basename "$bin")"
        for spec in "16 $N16" "1 $N1"; do
            read -r P N <<<"$spec"
            t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
            rps=$(redis-benchmark -p "$PORT" -c 50 -n "$N" -P "$P" --csv XADD b '*' f v 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
            t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
            line+=" P$P $(awk -v r="$rps" -v a="$t0" -v b="$t1" -v n="$N" -v t="$TICKS" 'BEGIN { printf "%.0f/s %.2f us/req", r, (b - a) / t * 1e6 / n }')"
        done
        echo "$line"
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done | awk '{ print; k = $1; r16[k] += $3; c16[k] += $4; r1[k] += $7; c1[k] += $8; n[k]++ }
    END { for (k in n) printf "mean %s P16 %.0f/s %.2f us/req P1 %.0f/s %.2f us/req\n", k, r16[k] / n[k], c16[k] / n[k], r1[k] / n[k], c1[k] / n[k] }'
