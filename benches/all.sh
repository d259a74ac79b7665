#!/usr/bin/env bash
# Every measurement of docs/performance.md, one after the other on a quiet machine. Writes to OUT
# (default target/perf): criterion output, the tuning table, the peer comparison, the open-loop check,
# the overload run and the latency sweep SVG.
#
#     bash benches/all.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/perf}
mkdir -p "$OUT"
make -s build >/dev/null
BIN=./target/release/parlance
{ echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/ {print $2}') GiB"
  echo "date: $(date -u +%FT%TZ)"; echo "commit: $(git rev-parse --short HEAD)"; } | tee "$OUT/machine.txt"

echo "== criterion"
cargo bench --locked --bench pipeline -- --warm-up-time 1 --measurement-time 4 2>&1 | grep -E "^[a-z_]+/|time:|thrpt:" | tee "$OUT/criterion.txt"

echo "== raw model throughput in process (2 threads)"
for b in 1 8 32; do $BIN bench --in-process --batch-size $b --duration 6 --intra-threads 2 --json; done | tee "$OUT/in_process.json"

echo "== tuning table"
bash benches/tune.sh 8 | tee "$OUT/tuning.md"

echo "== open loop at half the saturated throughput"
$BIN serve --port 18185 >"$OUT/server-open.log" 2>&1 & PID=$!
for _ in $(seq 150); do curl -sf http://127.0.0.1:18185/health/ready >/dev/null && break; sleep 0.2; done
URL=http://127.0.0.1:18185/v1/parse
$BIN bench --url $URL --concurrency 4 --duration 2 --json >/dev/null
$BIN bench --url $URL --concurrency 1 --duration 10 --json >"$OUT/c1.json"
$BIN bench --url $URL --concurrency 32 --duration 10 --json >"$OUT/saturated.json"
RATE=$(python3 -c "import json; print(json.load(open('$OUT/saturated.json'))['throughput_rps'] / 2)")
$BIN bench --url $URL --rate "$RATE" --duration 20 --json >"$OUT/half.json"
python3 - "$OUT" <<'PY'
import json, sys
d = sys.argv[1]
c1, sat, half = (json.load(open(f"{d}/{n}.json")) for n in ("c1", "saturated", "half"))
print(f"c=1 median {c1['latency']['p50_ms']:.2f} ms; saturated {sat['throughput_rps']:.0f} req/s; "
      f"open loop at {half['rate']:.0f} req/s: p50 {half['latency']['p50_ms']:.2f} ms, p99 {half['latency']['p99_ms']:.2f} ms "
      f"= {half['latency']['p99_ms'] / c1['latency']['p50_ms']:.2f} x the c=1 median (limit 4x); errors {half['errors']}")
PY
echo "== sweep"
$BIN bench --url $URL --concurrency 32 --duration 5 --sweep "$OUT/latency-sweep.svg" | tee "$OUT/sweep.txt"
kill $PID; wait $PID 2>/dev/null || true

echo "== peer"
bash benches/peer/compare.sh 15 | tee "$OUT/peer.txt"

echo "== scaling with cores (rewrites docs/performance.md's scaling block and docs/scaling.svg)"
SKIP_BUILD=1 bash benches/scaling.sh 10 | tee "$OUT/scaling.txt"

echo "== overload"
bash benches/overload.sh 60 | tee "$OUT/overload.txt"

echo "== reloads under load"
bash benches/reload.sh 30 20 | tee "$OUT/reload.txt"
