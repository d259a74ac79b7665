#!/usr/bin/env bash
# Resident memory of the server by inference workers (issue 25, item 2): idle after warm-up, and
# after a short load. One line per point: label workers idle_MB loaded_MB.
#
#     bash benches/memory.sh [workers, default "1 4 16"] [seconds of load, default 5]
#     BIN=path/to/parlance LABEL=before PARLANCE_SHARE_SESSIONS=0 bash benches/memory.sh
#     PARLANCE_MODEL=models/bots/NAME bash benches/memory.sh "1 4"
#
# Server: `parlance serve --inference-workers N --intra-threads 1 --lane-threads 0`; load:
# `parlance bench --concurrency 16` (MASSIVE dev en+fr). RSS is the server's VmRSS.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-"1 4 16"}
SECS=${2:-5}
BIN=${BIN:-./target/release/parlance}
MODEL=${PARLANCE_MODEL:-models/default}
LABEL=${LABEL:-$(basename "$BIN")}
PORT=${PORT:-18731}
PID=
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT
rss_mb() { awk '/VmRSS/ {printf "%d", $2 / 1000}' "/proc/$1/status"; }
for n in $WORKERS; do
  "$BIN" serve --model "$MODEL" --inference-workers "$n" --intra-threads 1 --lane-threads 0 --port "$PORT" >/dev/null 2>&1 &
  PID=$!
  for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
  sleep 3
  idle=$(rss_mb $PID)
  ./target/release/parlance bench --url "http://127.0.0.1:$PORT/v1/parse" --concurrency 16 --duration "$SECS" --json >/dev/null
  sleep 1
  loaded=$(rss_mb $PID)
  kill $PID; wait $PID 2>/dev/null || true; PID=
  echo "$LABEL $n $idle $loaded"
done
