#!/usr/bin/env bash
# Many trained bots on one server (issue 15): resident memory per extra bot, and requests spread
# over every bot with their encoder batches shared (--encoder-queue shared, the default) against
# one queue per bot (--encoder-queue per-model), alternated in one run.
#   bash benches/bots.sh [BOTS=20] [SECONDS=15] [ROUNDS=2]
# Bots: tests/data/shop_nlu.yml trained frozen (--fast) with N different --c values (heads of their own) on
# models/encoders/e5-small-fren (the default encoder). Needs a release build (make build). BOTS_DIR=DIR keeps (and reuses)
# the trained bots there.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}; SECS=${2:-15}; ROUNDS=${3:-2}
BIN=./target/release/parlance
W=${BOTS_DIR:-$(mktemp -d)}
mkdir -p "$W"
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; [ -n "${BOTS_DIR:-}" ] || rm -rf "$W"' EXIT
echo "training $N bots"
for i in $(seq 1 "$N"); do
  [ -f "$W/bots/bot$i/parlance.json" ] || "$BIN" train --data tests/data/shop_nlu.yml --out "$W/bots/bot$i" --c "$i" --fast --json >/dev/null
done
config() {
  for i in $(seq 1 "$1"); do printf '[[models]]\nname = "bot%d"\npath = "%s/bots/bot%d"\n' "$i" "$W" "$i"; done >"$W/models-$1.toml"
}
start() { # port, args...
  local port=$1; shift
  local t0=$(date +%s.%N)
  "$BIN" serve --port "$port" "$@" >"$W/server.log" 2>&1 & PID=$!
  for _ in $(seq 3000); do
    if curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; then
      echo "  ready in $(echo "$(date +%s.%N) - $t0" | bc | xargs printf '%.1f') s: $*" >&2; return 0
    fi
    sleep 0.2
  done
  cat "$W/server.log"; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
# idle resident memory: one parse (so the worker has run), then past the worker's 2 s idle trim
rss_mb() {
  curl -sf -H 'Content-Type: application/json' -d '{"text": "where is my order"}' "http://127.0.0.1:$1/v1/models/bot1/parse" >/dev/null
  sleep 4; awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"
}
config 1; config "$N"
start 18411 --models-config "$W/models-1.toml"; one=$(rss_mb 18411); stop
start 18412 --models-config "$W/models-$N.toml"; many=$(rss_mb 18412); stop
echo "resident memory, idle: 1 bot $one MB, $N bots $many MB: $(echo "($many - $one) / ($N - 1)" | bc -l | xargs printf '%.2f') MB per extra bot"
URLS=()
for i in $(seq 1 "$N"); do URLS+=(--url "http://127.0.0.1:18413/v1/models/bot$i/parse"); done
for r in $(seq 1 "$ROUNDS"); do
  for q in shared per-model; do
    start 18413 --models-config "$W/models-$N.toml" --encoder-queue "$q"
    "$BIN" bench "${URLS[@]}" --data ../shared/data/massive/en-US.dev.jsonl --concurrency 16 --duration "$SECS" --json \
      | python3 -c "import json,sys; r=json.load(sys.stdin); l=r['latency']; print(f'round $r  $q: {r[\"throughput_rps\"]:.1f} req/s, p50 {l[\"p50_ms\"]:.1f} ms, p99 {l[\"p99_ms\"]:.1f} ms, errors {sum(r[\"errors\"].values())}')"
    stop
  done
done
