#!/usr/bin/env bash
# Many streams (issue 18): `spool serve` (release) beside redis-server in the same run, on the
# shapes the issue's targets name. For each server, on a fresh data directory:
#
#   feeds   STREAMS streams x ENTRIES feed events, written as ENTRIES passes over the keys
#           (each pass one XADD per stream, in order, CLIENTS clients at pipeline PIPELINE:
#           redis-benchmark's __rand_int__ with -r is random and would leave some keys empty),
#           then: XADD/s, streams held (DBSIZE), the server's anonymous memory (RssAnon) and
#           Redis's used_memory, descriptors held, bytes on disk (Spool: its data directory;
#           Redis: the RDB after SAVE; it runs with appendonly no), and the seconds from
#           exec to ready after a restart (Redis loads its RDB; a server answering -LOADING is
#           not ready), and the streams held after it.
#   queues  QUEUES streams under appendfsync always, 50 clients at pipeline 1, NQ XADDs over
#           random keys: XADD/s and p50 latency (redis-benchmark --csv).
#   workers QUEUES streams of JOBS entries each with a consumer group, under appendfsync
#           always; one consumer per queue (QUEUES connections) runs XREADGROUP COUNT 1 and
#           XACKs what it got until its queue is drained (Scripts/group-load.swift): entries
#           read and acknowledged per second, every delivery and acknowledgement durable.
#
#   Benchmarks/Scripts/many-streams.sh [feeds|queues|workers ...]   (default: feeds queues)
#
# Environment: SPOOL (release binary, default .build/release/spool), REDIS (redis-server on
# PATH; .build-oracle/redis-8.2/redis-server for 8.2), STREAMS (8000), ENTRIES (10), CLIENTS
# (20), PIPELINE (32), QUEUES (1000), NQ (70000), JOBS (20), NOFILE (the descriptor limit both servers
# run under, default 20000), PORT (private). Listens on 127.0.0.1 only; each server is
# stopped before the next, also on error or ^C.
set -euo pipefail
set -f  # the '*' of XADD is an argument, not a glob
here=$(cd "$(dirname "$0")/../.." && pwd)
SPOOL=${SPOOL:-$here/.build/release/spool}
REDIS=${REDIS:-redis-server}
STREAMS=${STREAMS:-8000}; ENTRIES=${ENTRIES:-10}; CLIENTS=${CLIENTS:-20}; PIPELINE=${PIPELINE:-32}
QUEUES=${QUEUES:-1000}; NQ=${NQ:-70000}; JOBS=${JOBS:-20}; NOFILE=${NOFILE:-20000}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
phases=${*:-feeds queues}
WORK=$(mktemp -d /tmp/spool-many-XXXXXX)
PID=

stop() {
    if [ -n "$PID" ]; then
        redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}
trap 'stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# start <spool|redis> <appendfsync>: a server over $WORK/<kind>, under ulimit -n $NOFILE; sets
# PID and READY_S (seconds from exec until PING answers PONG).
start() {
    local kind=$1 policy=$2 t0
    mkdir -p "$WORK/$kind"
    t0=$(date +%s.%N)
    if [ "$kind" = spool ]; then
        (ulimit -n "$NOFILE"; exec "$SPOOL" serve --bind 127.0.0.1 --port "$PORT" --dir "$WORK/spool/data" \
            --appendfsync "$policy" >"$WORK/spool.log" 2>&1) &
    else
        local aof=no; [ "$policy" = always ] && aof=yes
        (ulimit -n "$NOFILE"; exec "$REDIS" --bind 127.0.0.1 --port "$PORT" --dir "$WORK/redis" --save '' \
            --appendonly "$aof" --appendfsync "$policy" --auto-aof-rewrite-percentage 0 \
            --logfile "$WORK/redis.log" --daemonize no </dev/null >/dev/null 2>&1) &
    fi
    PID=$!
    until [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; do
        kill -0 "$PID" 2>/dev/null || { cat "$WORK/$kind.log" >&2; exit 1; }
        sleep 0.005
    done
    READY_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
}

rss_anon_mb() { awk '/^RssAnon:/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }
fds() { ls "/proc/$PID/fd" | wc -l; }
mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }

# One pass of XADDs, one per stream feed:0 .. feed:STREAMS-1 in order, sent by redis-cli --pipe
# over one connection (redis-benchmark 7.0 has no sequential key placeholder).
feed_pass() {
    awk -v n="$STREAMS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "feed:" i
            printf "*9\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n$5\r\nactor\r\n$8\r\nuser-123\r\n$4\r\nverb\r\n$5\r\nliked\r\n$6\r\nobject\r\n$8\r\npost-456\r\n", length(k), k
        } }' | redis-cli -p "$PORT" --pipe >/dev/null
}

feeds() {
    local kind=$1 t0 t1 rate mem disk ready after
    rm -rf "${WORK:?}/$kind"
    start "$kind" everysec
    t0=$(date +%s.%N)
    for _ in $(seq "$ENTRIES"); do feed_pass; done
    t1=$(date +%s.%N)
    rate=$(awk -v a="$t0" -v b="$t1" -v n=$((STREAMS * ENTRIES)) 'BEGIN { printf "%.0f", n / (b - a) }')
    local keys; keys=$(redis-cli -p "$PORT" dbsize)
    mem="rss_anon $(rss_anon_mb) MB"
    [ "$kind" = redis ] && mem+=", used_memory $(mb "$(redis-cli -p "$PORT" info memory | awk -F: '/^used_memory:/ { print $2 + 0 }')") MB"
    local nfd; nfd=$(fds)
    if [ "$kind" = redis ]; then
        redis-cli -p "$PORT" save >/dev/null
        disk="rdb $(mb "$(stat -c %s "$WORK/redis/dump.rdb")") MB"
        redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; wait "$PID" 2>/dev/null || true; PID=
        # Restart from the RDB (appendonly no, so the RDB is what loads).
        start redis everysec
    else
        redis-cli -p "$PORT" shutdown >/dev/null 2>&1 || true; wait "$PID" 2>/dev/null || true; PID=
        disk="data dir $(mb "$(du -sb "$WORK/spool/data" | cut -f1)") MB, $(find "$WORK/spool/data" -type f | wc -l) files"
        start spool everysec
    fi
    ready=$READY_S
    after=$(redis-cli -p "$PORT" dbsize)
    echo "feeds $kind: $((STREAMS * ENTRIES)) XADD over $STREAMS streams (c=1 pipe): $rate XADD/s; dbsize $keys; $mem; fds $nfd; $disk; ready after restart ${ready} s (dbsize $after)"
    stop
}

# The same shape through redis-benchmark with many clients and pipelining, which the pipe
# pass above does not exercise: -r STREAMS random keys.
feeds_bench() {
    local kind=$1 rps keys
    rm -rf "${WORK:?}/$kind"
    start "$kind" everysec
    rps=$(redis-benchmark -p "$PORT" -c "$CLIENTS" -P "$PIPELINE" -r "$STREAMS" -n $((STREAMS * ENTRIES)) --csv \
        XADD feed:__rand_int__ '*' actor user-123 verb liked object post-456 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
    keys=$(redis-cli -p "$PORT" dbsize)
    echo "feeds-bench $kind: -r $STREAMS -n $((STREAMS * ENTRIES)) -c $CLIENTS -P $PIPELINE: $rps XADD/s; dbsize $keys; rss_anon $(rss_anon_mb) MB; fds $(fds)"
    stop
}

queues() {
    local kind=$1 csv rps p50
    rm -rf "${WORK:?}/$kind"
    start "$kind" always
    csv=$(redis-benchmark -p "$PORT" -c 50 -P 1 -r "$QUEUES" -n "$NQ" --csv XADD q:__rand_int__ '*' job payload 2>/dev/null | tail -1)
    rps=$(echo "$csv" | cut -d, -f2 | tr -d '"')
    p50=$(echo "$csv" | cut -d, -f5 | tr -d '"')
    echo "queues $kind: always, $QUEUES streams, c=50 P1, $NQ XADD: $rps XADD/s, p50 $p50 ms; dbsize $(redis-cli -p "$PORT" dbsize); fds $(fds)"
    stop
}

workers() {
    local kind=$1 out
    rm -rf "${WORK:?}/$kind"
    [ -x "$WORK/group-load" ] || swiftc -O "$here/Benchmarks/Scripts/group-load.swift" -o "$WORK/group-load" 2>/dev/null
    start "$kind" always
    awk -v n="$QUEUES" -v m="$JOBS" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = "jobs:" i
            for (j = 0; j < m; j++)
                printf "*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n$3\r\njob\r\n$7\r\npayload\r\n", length(k), k
            printf "*5\r\n$6\r\nXGROUP\r\n$6\r\nCREATE\r\n$%d\r\n%s\r\n$7\r\nworkers\r\n$1\r\n0\r\n", length(k), k
        } }' | redis-cli -p "$PORT" --pipe >/dev/null
    out=$("$WORK/group-load" "$PORT" jobs: workers "$QUEUES" 1 "$QUEUES")
    echo "workers $kind: always, $QUEUES queues x $JOBS jobs, one consumer each, XREADGROUP COUNT 1 + XACK: $out; fds $(fds)"
    stop
}

echo "# many-streams $(date -u +%FT%TZ): spool $(git -C "$here" rev-parse --short HEAD), $("$REDIS" --version | awk '{ print $3 }'), ulimit -n $NOFILE"
for phase in $phases; do
    for kind in redis spool; do
        case $phase in
            feeds) feeds "$kind"; feeds_bench "$kind" ;;
            queues) queues "$kind" ;;
            workers) workers "$kind" ;;
            *) echo "unknown phase $phase" >&2; exit 2 ;;
        esac
    done
done
