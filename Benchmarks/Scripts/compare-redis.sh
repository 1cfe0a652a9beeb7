#!/bin/bash
# The README's figures: Spool (Benchmarks/SpoolFigures, release) beside redis-server from Debian,
# measured in the same run, alternating, REPEATS times; medians and ratios as a markdown table.
#
#   Benchmarks/Scripts/compare-redis.sh [append|always|scan|10m ...]   (default: all four)
#
# Environment: REPEATS (3), SPOOL_BENCH_DIR (scratch, default /tmp; the disk measured),
# SPOOL_BENCH_10M (the reused 10M-entry store, default /tmp/spool-bench-10m),
# SPOOL_PACKAGE_PATH (engine checkout, see stage-engine.sh), REDIS_PORT (random private port).
# redis-server listens on 127.0.0.1 only, keeps its files in a temporary directory and is shut
# down on exit, also on error or ^C. Automatic AOF rewrites are off, so the AOF size is that of
# the command log (a rewrite would turn it into an RDB preamble).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
REPEATS=${REPEATS:-3}
PORT=${REDIS_PORT:-$((20000 + RANDOM % 20000))}
SCRATCH=${SPOOL_BENCH_DIR:-${TMPDIR:-/tmp}}
STORE10M=${SPOOL_BENCH_10M:-/tmp/spool-bench-10m}
export SPOOL_BENCH_DIR=$SCRATCH
WORK=$(mktemp -d "$SCRATCH/spool-redis-XXXXXX")
RESULTS=${RESULTS:-$SCRATCH/spool-compare-$(date +%Y%m%d-%H%M%S).txt}  # kept: raw samples
REDIS_PID=
phases=${*:-append always scan 10m}

command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
    apt-get install -y redis-server redis-tools

stop_redis() {
    if [ -n "$REDIS_PID" ]; then
        redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
    fi
}
cleanup() { stop_redis; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_redis <appendonly yes|no> <appendfsync> : a server over $WORK/redis; sets READY_S to the
# seconds from exec until it answers PING (it answers -LOADING until its RDB/AOF is loaded).
start_redis() {
    mkdir -p "$WORK/redis"
    local t0 t1
    t0=$(date +%s.%N)
    redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes --dir "$WORK/redis" \
        --save '' --appendonly "$1" --appendfsync "$2" --auto-aof-rewrite-percentage 0 --logfile "$WORK/redis.log" --daemonize no </dev/null >/dev/null 2>&1 &
    REDIS_PID=$!
    until [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; do
        kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log" >&2; exit 1; }
        sleep 0.005
    done
    t1=$(date +%s.%N)
    READY_S=$(echo "$t0 $t1" | awk '{ printf "%.3f\n", $2 - $1 }')
}

rec() { echo "$1 $2" >>"$RESULTS"; }
# median of every value recorded under a key
median() {
    awk -v k="$1" '$1 == k { print $2 }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# the value of key from SpoolFigures' output
field() { awk -v k="$2" '$1 == k { print $2 }' <<<"$1"; }
# requests/s and p50 (ms) from redis-benchmark --csv: "test","rps","avg","min","p50",…
rb_rps() { awk -F'"' 'NR == 2 { print $4 }' <<<"$1"; }
rb_p50() { awk -F'"' 'NR == 2 { print $10 }' <<<"$1"; }

ORDER=(orderId ord-7829 totalAmount 17.19 region us-east-1 eventType OrderPlaced timestamp 1699958537443)

echo "building SpoolFigures (release)…" >&2
swift build -c release --package-path "$here" --product SpoolFigures >&2
FIG=$(swift build -c release --package-path "$here" --show-bin-path)/SpoolFigures

for phase in $phases; do
case $phase in
append)
    start_redis no no
    for _ in $(seq "$REPEATS"); do
        out=$("$FIG" append-no 1000000 1)
        rec spool_append_no "$(field "$out" append_no_entries_per_s_median)"
        out=$(redis-benchmark -p "$PORT" -c 1 -P 64 -n 1000000 --csv XADD orders '*' "${ORDER[@]}")
        rec redis_append_p64 "$(rb_rps "$out")"
        redis-cli -p "$PORT" del orders >/dev/null
        out=$(redis-benchmark -p "$PORT" -c 50 -P 64 -n 1000000 --csv XADD orders '*' "${ORDER[@]}")
        rec redis_append_c50_p64 "$(rb_rps "$out")"
        redis-cli -p "$PORT" del orders >/dev/null
    done
    stop_redis
    ;;
always)
    for _ in $(seq "$REPEATS"); do
        out=$("$FIG" append-always 64 5)
        rec spool_always "$(field "$out" always_entries_per_s)"
        rec spool_always_p50_ms "$(field "$out" always_latency_p50_ns | awk '{ print $1 / 1e6 }')"
        rec fdatasync_p50_ms "$(field "$out" fdatasync_4k_p50_ns | awk '{ print $1 / 1e6 }')"
        out=$("$FIG" append-always-tasks 64 5)
        rec spool_always_tasks "$(field "$out" always_entries_per_s)"
        rec spool_always_tasks_p50_ms "$(field "$out" always_latency_p50_ns | awk '{ print $1 / 1e6 }')"
        rec fdatasync_p50_ms "$(field "$out" fdatasync_4k_p50_ns | awk '{ print $1 / 1e6 }')"
        rm -rf "$WORK/redis"
        start_redis yes always
        out=$(redis-benchmark -p "$PORT" -c 64 -n 20000 --csv XADD orders '*' "${ORDER[@]}")
        rec redis_always "$(rb_rps "$out")"
        rec redis_always_p50_ms "$(rb_p50 "$out")"
        stop_redis
        out=$("$FIG" fdatasync 200)
        rec fdatasync_p50_ms "$(field "$out" fdatasync_4k_p50_ns | awk '{ print $1 / 1e6 }')"
    done
    ;;
scan)
    rm -rf "$WORK/redis"
    start_redis no no
    "$FIG" resp 1000000 | redis-cli -p "$PORT" --pipe >/dev/null
    for _ in $(seq "$REPEATS"); do
        out=$("$FIG" scan 1000000 3)
        rec spool_scan "$(field "$out" scan_entries_per_s_median)"
        out=$("$FIG" scan-views 1000000 3)
        rec spool_scan_views "$(field "$out" scan_views_entries_per_s_median)"
        out=$(redis-benchmark -p "$PORT" -c 1 -n 300 --csv XRANGE orders - + COUNT 10000)
        rec redis_xrange "$(rb_rps "$out" | awk '{ print $1 * 10000 }')"
    done
    stop_redis
    ;;
10m)
    # BUILT-2: built since checkpoints list the active segment's blocks (FORMAT.md §6, state v2).
    if [ ! -e "$STORE10M/BUILT-2" ]; then
        echo "building the 10M-entry store in $STORE10M (once)…" >&2
        rm -rf "$STORE10M"
        "$FIG" build "$STORE10M" 10000000 >&2
        touch "$STORE10M/BUILT-2"
    fi
    for _ in $(seq "$REPEATS"); do
        out=$("$FIG" open "$STORE10M")
        rec spool_ready_s "$(field "$out" open_ready_s)"
        rec spool_rss_anon_mb "$(field "$out" open_rss_anon_bytes | awk '{ print $1 / 1048576 }')"
        rec spool_rss_anon_delta_mb "$(field "$out" open_rss_anon_delta_bytes | awk '{ print $1 / 1048576 }')"
        rec spool_disk_per_entry "$(field "$out" disk_bytes_per_entry)"
        rec spool_index_kb "$(field "$out" open_index_bytes | awk '{ print $1 / 1024 }')"
    done
    out=$("$FIG" open "$STORE10M" --cold)
    rec spool_ready_cold_s "$(field "$out" open_ready_s)"

    rm -rf "$WORK/redis"
    start_redis yes no
    echo "loading 10M entries into redis-server…" >&2
    "$FIG" resp 10000000 | redis-cli -p "$PORT" --pipe >&2
    [ "$(redis-cli -p "$PORT" xlen orders)" = 10000000 ]
    rec redis_used_memory_mb "$(redis-cli -p "$PORT" info memory | awk -F: '/^used_memory:/ { print $2 / 1048576 }')"
    rec redis_rss_mb "$(redis-cli -p "$PORT" info memory | awk -F: '/^used_memory_rss:/ { print $2 / 1048576 }')"
    redis-cli -p "$PORT" save >/dev/null
    stop_redis
    rec redis_rdb_per_entry "$(stat -c %s "$WORK/redis/dump.rdb" | awk '{ print $1 / 1e7 }')"
    rec redis_aof_per_entry "$(du -b -s "$WORK/redis/appendonlydir" | awk '{ print $1 / 1e7 }')"
    for _ in $(seq "$REPEATS"); do
        start_redis no no
        rec redis_ready_rdb_s "$READY_S"
        stop_redis
    done
    start_redis yes no
    rec redis_ready_aof_s "$READY_S"
    stop_redis
    ;;
*) echo "unknown phase $phase (append always scan 10m)" >&2; exit 2 ;;
esac
done

# The table.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b == 0) print "–"; else printf "%.2f×\n", a / b }'; }
fmt() {
    if [ "$1" = nan ]; then echo "–"
    elif [ "${2:-0}" = 0 ]; then printf "%.0f\n" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
    else printf "%.${2}f\n" "$1"; fi
}
met() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { if (v == "nan") { print "–"; exit } ok = (op == ">=") ? v >= t : v <= t; print ok ? "yes" : "**no**" }'; }

echo
echo "Spool vs redis-server $(redis-server --version | awk '{ print $3 }' | cut -d= -f2), $(nproc) cores, medians of $REPEATS runs, $(date -u +%F)"
echo
echo "| metric | Spool | Redis | Spool/Redis | target | met? |"
echo "|---|---:|---:|---:|---|---|"
for phase in $phases; do
case $phase in
append)
    s=$(median spool_append_no); r=$(median redis_append_p64); r50=$(median redis_append_c50_p64)
    echo "| append, policy no, 1 writer (entries/s) | $(fmt "$s") | $(fmt "$r") (1 client, -P 64); $(fmt "$r50") (50 clients, -P 64) | $(ratio "$s" "$r"); $(ratio "$s" "$r50") | ≥ 1,000,000 (goal 2,000,000) | $(met "$s" ">=" 1000000) |"
    ;;
always)
    s=$(median spool_always); r=$(median redis_always)
    sl=$(median spool_always_p50_ms); rl=$(median redis_always_p50_ms); f=$(median fdatasync_p50_ms)
    lr=$(awk -v a="$sl" -v b="$f" 'BEGIN { print a / b }')
    echo "| append, policy always, 64 appending threads (blocking \`append\`) (entries/s) | $(fmt "$s") | $(fmt "$r") (appendfsync always, -c 64) | $(ratio "$s" "$r") | ≥ 100,000 | $(met "$s" ">=" 100000) |"
    echo "| … median append latency (ms) | $(fmt "$sl" 3) | $(fmt "$rl" 3) | $(ratio "$sl" "$rl") | ≤ 1.5 × fdatasync 4 KiB ($(fmt "$f" 3) ms): $(fmt "$lr" 2)× | $(met "$lr" "<=" 1.5) |"
    s=$(median spool_always_tasks); sl=$(median spool_always_tasks_p50_ms)
    lr=$(awk -v a="$sl" -v b="$f" 'BEGIN { print a / b }')
    echo "| append, policy always, 64 appending tasks (\`try await append\`) (entries/s) | $(fmt "$s") | $(fmt "$r") (appendfsync always, -c 64) | $(ratio "$s" "$r") | ≥ 100,000 | $(met "$s" ">=" 100000) |"
    echo "| … median append latency (ms) | $(fmt "$sl" 3) | $(fmt "$rl" 3) | $(ratio "$sl" "$rl") | ≤ 1.5 × fdatasync 4 KiB ($(fmt "$f" 3) ms): $(fmt "$lr" 2)× | $(met "$lr" "<=" 1.5) |"
    ;;
scan)
    s=$(median spool_scan); r=$(median redis_xrange)
    echo "| range scan, page cache, \`scan\` (entries copied out) (entries/s) | $(fmt "$s") | $(fmt "$r") (XRANGE COUNT 10000 via redis-benchmark) | $(ratio "$s" "$r") | ≥ 5,000,000 | $(met "$s" ">=" 5000000) |"
    s=$(median spool_scan_views)
    echo "| range scan, page cache, \`scanViews\` (borrowed entries) (entries/s) | $(fmt "$s") | $(fmt "$r") | $(ratio "$s" "$r") | ≥ 5,000,000 | $(met "$s" ">=" 5000000) |"
    ;;
10m)
    s=$(median spool_ready_s); c=$(median spool_ready_cold_s); r=$(median redis_ready_rdb_s); a=$(median redis_ready_aof_s)
    echo "| 10M entries: ready after open (s) | $(fmt "$s" 3) warm, $(fmt "$c" 3) cold | $(fmt "$r" 2) (RDB), $(fmt "$a" 2) (AOF) | $(ratio "$s" "$r") | ≤ 0.15 | $(met "$s" "<=" 0.15) |"
    s=$(median spool_rss_anon_mb); d=$(median spool_rss_anon_delta_mb); r=$(median redis_used_memory_mb)
    t=$(awk -v r="$r" 'BEGIN { print r / 20 }')
    echo "| 10M entries: memory (MiB) | $(fmt "$s" 1) RssAnon ($(fmt "$d" 1) added by open) | $(fmt "$r" 1) used_memory | $(ratio "$s" "$r") | ≤ 1/20 of Redis ($(fmt "$t" 1)) | $(met "$s" "<=" "$t") |"
    s=$(median spool_disk_per_entry); r=$(median redis_rdb_per_entry); a=$(median redis_aof_per_entry)
    echo "| 10M entries: bytes on disk per entry | $(fmt "$s" 1) | $(fmt "$r" 1) (RDB), $(fmt "$a" 1) (AOF) | $(ratio "$s" "$r") | ≤ 24 | $(met "$s" "<=" 24) |"
    ;;
esac
done
echo
echo "raw samples ($RESULTS):"
sort "$RESULTS" | awk '{ a[$1] = a[$1] " " $2 } END { for (k in a) print "  " k ":" a[k] }' | sort
