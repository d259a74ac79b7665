#!/usr/bin/env bash
# Memory after heavy bursts: the default model is served, then hit BURSTS times by `parlance bench`
# with 64 closed-loop clients (MASSIVE dev texts) for SECONDS each, with a pause between
# bursts. Prints the resident size (VmRSS) idle before, right after each burst, and after IDLE
# seconds of idling at the end.
#
#     bash benches/bursts.sh [BURSTS, default 10] [SECONDS, default 5] [IDLE, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
BURSTS=${1:-10}
SECONDS_PER=${2:-5}
IDLE=${3:-10}
PORT=18185
make -s build >/dev/null
BIN=./target/release/parlance
OUT=$(mktemp -d)
$BIN serve --port $PORT >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
rss() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
URL="http://127.0.0.1:$PORT/v1/parse"
echo "idle RSS at start: $(rss) kB"
for i in $(seq "$BURSTS"); do
  $BIN bench --url "$URL" --concurrency 64 --duration "$SECONDS_PER" --json >"$OUT/b$i.json"
  ok=$(python3 -c "import json; print(json.load(open('$OUT/b$i.json'))['ok'])")
  echo "after burst $i ($ok answered): $(rss) kB"
  sleep 1
done
sleep "$IDLE"
echo "idle RSS ${IDLE} s after the last burst: $(rss) kB"
