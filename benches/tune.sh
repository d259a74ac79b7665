#!/usr/bin/env bash
# The tuning table of docs/performance.md: Parlance's server under each setting, measured with
# `parlance bench` (closed loop): median and p99 latency at concurrency 1, and saturated throughput
# at concurrency 32. One server at a time, same machine, same utterances (MASSIVE dev).
#
#     bash benches/tune.sh [seconds per run, default 8] > table.md
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-8}
MODEL=${PARLANCE_MODEL:-models/default}
make -s build >/dev/null
BIN=./target/release/parlance
PORT=18190
URL="http://127.0.0.1:$PORT/v1/parse"

measure() { # label, serve flags...
  local label=$1; shift
  $BIN serve --model "$MODEL" --port $PORT "$@" >/tmp/parlance-tune.log 2>&1 &
  local pid=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
  $BIN bench --url "$URL" --concurrency 4 --duration 2 --json >/dev/null   # warm-up
  local c1 c32
  c1=$($BIN bench --url "$URL" --concurrency 1 --duration "$SECS" --json)
  c32=$($BIN bench --url "$URL" --concurrency 32 --duration "$SECS" --json)
  kill $pid; wait $pid 2>/dev/null || true
  python3 - "$label" "$c1" "$c32" <<'PY'
import json, sys
label, c1, c32 = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
errs = sum(c1["errors"].values()) + sum(c32["errors"].values())
print(f"| {label} | {c1['latency']['p50_ms']:.2f} | {c1['latency']['p99_ms']:.2f} | {c32['throughput_rps']:.0f} | {c32['latency']['p50_ms']:.1f} | {c32['latency']['p99_ms']:.1f} | {errs} |")
PY
}

echo "| setting | c=1 p50 ms | c=1 p99 ms | c=32 req/s | c=32 p50 ms | c=32 p99 ms | errors |"
echo "|---|---|---|---|---|---|---|"
measure "no flags (layout from the machine, docs/performance.md \"All cores, by default\")"
measure "1 session × 2 threads, spinning (the default before issue 25)" --inference-workers 1 --intra-threads 2 --spinning true
measure "2 sessions × 1 thread, spinning" --inference-workers 2 --intra-threads 1 --spinning true
measure "1 session × 1 thread, spinning" --inference-workers 1 --intra-threads 1 --spinning true
measure "1 session × 2 threads, no spinning" --inference-workers 1 --intra-threads 2 --spinning false
measure "2 sessions × 1 thread, no spinning" --inference-workers 2 --intra-threads 1 --spinning false
measure "graph optimisation level 1 (basic)" --inference-workers 1 --intra-threads 2 --graph-optimization 1
measure "no graph optimisation" --inference-workers 1 --intra-threads 2 --graph-optimization 0
measure "max batch 8" --inference-workers 1 --intra-threads 2 --max-batch-size 8
measure "max batch 64" --inference-workers 1 --intra-threads 2 --max-batch-size 64
measure "max batch 1 (no batching)" --inference-workers 1 --intra-threads 2 --max-batch-size 1
measure "max batch tokens 512" --inference-workers 1 --intra-threads 2 --max-batch-tokens 512
measure "1 HTTP worker" --inference-workers 1 --intra-threads 2 --http-workers 1
