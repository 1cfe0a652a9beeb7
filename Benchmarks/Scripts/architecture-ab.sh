#!/bin/bash
# Interleaved A/B of two engine checkouts ("base" and "new"): open of a 10M-entry store (warm
# and cold), append under `no`, scanViews, then `spool serve` XADD through server-ab.sh.
#
# Setup, once per pair of commits:
#   git worktree add /tmp/spool-base OLD; git worktree add /tmp/spool-new NEW
#   (cd /tmp/spool-base && swift build -c release --product spool); the same in /tmp/spool-new
#   SPOOL_PACKAGE_PATH=/tmp/spool-base swift build -c release --package-path Benchmarks \
#       --product SpoolFigures --scratch-path /tmp/bench-base-build   (and new → bench-new-build)
# The 10M store (/tmp/spool-bench-10m) is built once by the base build and read by both.
set -u
BASE=${BASE:-/tmp/bench-base-build/release/SpoolFigures}
NEW=${NEW:-/tmp/bench-new-build/release/SpoolFigures}
export SPOOL_BENCH_DIR=/tmp/spool-bench-scratch
mkdir -p $SPOOL_BENCH_DIR
echo "== build 10M store (base build) $(date)"
[ -d /tmp/spool-bench-10m ] || $BASE build /tmp/spool-bench-10m 10000000
echo "== open 10M, warm, 5 rounds"
for r in 1 2 3 4 5; do
  for b in base new; do bin=$BASE; [ $b = new ] && bin=$NEW
    echo "$b $($bin open /tmp/spool-bench-10m | grep -E 'open_ready_s|open_rss_anon_delta_bytes' | tr '\n' ' ')"
  done
done
echo "== open 10M, cold, 3 rounds"
for r in 1 2 3; do
  for b in base new; do bin=$BASE; [ $b = new ] && bin=$NEW
    echo "$b $($bin open /tmp/spool-bench-10m --cold | grep -E 'open_ready_s' | tr '\n' ' ')"
  done
done
echo "== append-no 1000000 3, 3 rounds"
for r in 1 2 3; do
  for b in base new; do bin=$BASE; [ $b = new ] && bin=$NEW
    echo "$b $($bin append-no 1000000 3 | grep -E 'median' | tr '\n' ' ')"
  done
done
echo "== scan-views 1000000 5, 3 rounds"
for r in 1 2 3; do
  for b in base new; do bin=$BASE; [ $b = new ] && bin=$NEW
    echo "$b $($bin scan-views 1000000 5 | grep -E 'median' | tr '\n' ' ')"
  done
done
echo "== server XADD P16 and P1 (server-ab.sh, 3 rounds)"
mkdir -p /tmp/ab-bins && cp /tmp/spool-base/.build/release/spool /tmp/ab-bins/base && cp /tmp/spool-new/.build/release/spool /tmp/ab-bins/new
ROUNDS=3 bash "$(dirname "$0")/server-ab.sh" /tmp/ab-bins/base /tmp/ab-bins/new
echo "== done $(date)"
