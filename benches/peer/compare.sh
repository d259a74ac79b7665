#!/usr/bin/env bash
# Parlance against the Python peer (benches/peer/server.py), same bundle, same machine, one run.
# Loads each with `parlance bench` (closed loop at concurrency 1 for latency, then saturated), and
# prints the ratios.
#
#     bash benches/peer/compare.sh [seconds per run, default 15]
#     PARLANCE_ARGS="--spinning false" bash benches/peer/compare.sh   # extra `parlance serve` flags
#     PEER_WORKERS=1 PEER_THREADS=2 bash benches/peer/compare.sh      # another peer layout
#
# The peer runs at its best layout for throughput (benches/scaling.sh, docs/performance.md "Scaling
# with cores"): one uvicorn worker per core, one onnxruntime thread each.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-15}
MODEL=${PARLANCE_MODEL:-models/default}
VENV=benches/peer/.venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r benches/peer/requirements.txt
fi
make -s build >/dev/null
BIN=./target/release/parlance
OUT=$(mktemp -d)
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; }
PIDS=()
trap cleanup EXIT

$BIN serve --model "$MODEL" --port 18181 ${PARLANCE_ARGS:-} >"$OUT/parlance.log" 2>&1 & PIDS+=($!)
"$VENV/bin/python" benches/peer/server.py --model "$MODEL" --port 18182 \
  --workers "${PEER_WORKERS:-$(nproc)}" --threads "${PEER_THREADS:-1}" >"$OUT/peer.log" 2>&1 & PIDS+=($!)
for port in 18181 18182; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.2; done
done

run() { # name port concurrency
  $BIN bench --url "http://127.0.0.1:$2/v1/parse" --concurrency "$3" --duration "$SECS" --json >"$OUT/$1-c$3.json"
}
for c in 1 32; do
  run parlance 18181 $c
  run peer 18182 $c
done
python3 - "$OUT" <<'PY'
import json, sys
d = sys.argv[1]
r = {f"{n}-c{c}": json.load(open(f"{d}/{n}-c{c}.json")) for n in ("parlance", "peer") for c in (1, 32)}
print(f"{'':22}{'parlance':>12}{'python peer':>14}{'ratio':>9}")
def row(label, key, f, better_high):
    a, b = f(r[f"parlance-{key}"]), f(r[f"peer-{key}"])
    ratio = a / b if better_high else b / a
    print(f"{label:22}{a:12.2f}{b:14.2f}{ratio:8.2f}x")
row("c=1 p50 latency ms", "c1", lambda x: x["latency"]["p50_ms"], False)
row("c=1 p99 latency ms", "c1", lambda x: x["latency"]["p99_ms"], False)
row("c=32 throughput req/s", "c32", lambda x: x["throughput_rps"], True)
row("c=32 p50 latency ms", "c32", lambda x: x["latency"]["p50_ms"], False)
for k, v in r.items():
    if v["errors"]:
        print(f"errors in {k}: {v['errors']}")
print("(ratio > 1: parlance better)")
PY
