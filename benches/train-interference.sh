#!/usr/bin/env bash
# Parsing while a bot trains over HTTP (issue 23): parse p50 / p99 and throughput of the default
# model, idle and then while a training run of the real encoder goes on, alternated in one run so
# the ratio is measured side by side. The run trains at nice 10 on --train-threads threads (default
# half the cores); the goal is parse p99 during a run <= 1.5x idle.
#   bash benches/train-interference.sh [SECONDS=10] [ROUNDS=2] [CONCURRENCY=4]
# Needs a release build and the encoder (make build).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}; ROUNDS=${2:-2}; CONC=${3:-4}
BIN=./target/release/parlance
W=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$W"' EXIT
PORT=18093
mkdir -p "$W/bots"
"$BIN" serve --port $PORT --admin-key k --models-dir "$W/bots" --train-timeout 3600 >"$W/server.log" 2>&1 & PID=$!
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
# a bot big enough to train for longer than one measurement: 10 intents x 400 examples
python3 - "$W/nlu.yml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("nlu:\n")
    for i in range(10):
        f.write(f"- intent: topic_{i}\n  examples: |\n")
        for j in range(400):
            f.write(f"    - question number {j} about subject {i} with a few more words\n")
EOF
bench() { "$BIN" bench --url "http://127.0.0.1:$PORT/v1/parse" --concurrency "$CONC" --duration "$SECS" --json; }
line() { python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency"]; print("%.1f %.2f %.2f" % (r["throughput_rps"], l["p50_ms"], l["p99_ms"]))'; }
echo "round state req/s p50_ms p99_ms"
for r in $(seq 1 "$ROUNDS"); do
  echo "$r idle $(bench | line)"
  curl -sf -X POST "http://127.0.0.1:$PORT/admin/models/bot$r/train" -H 'Authorization: Bearer k' \
       -H 'Content-Type: application/yaml' --data-binary @"$W/nlu.yml" >/dev/null
  sleep 1
  echo "$r training $(bench | line)"
  state=$(curl -sf "http://127.0.0.1:$PORT/admin/models/bot$r/train" -H 'Authorization: Bearer k' | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["state"], s["stage"], s["embedded"], "of", s["to_embed"], "embedded")')
  echo "  (the run was: $state at the end of the measurement)"
  curl -sf -X DELETE "http://127.0.0.1:$PORT/admin/models/bot$r/train" -H 'Authorization: Bearer k' >/dev/null || true
  for _ in $(seq 300); do
    s=$(curl -sf "http://127.0.0.1:$PORT/admin/models/bot$r/train" -H 'Authorization: Bearer k' | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')
    [ "$s" != running ] && break; sleep 0.2
  done
done
