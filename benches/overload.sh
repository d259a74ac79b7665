#!/usr/bin/env bash
# Overload: find Parlance's saturated throughput, then offer twice that rate (open loop) for
# DURATION seconds. Checks that it sheds load with 503 + Retry-After, keeps answering health probes,
# and that its peak memory stays within 1.5x the idle figure.
#
#     bash benches/overload.sh [DURATION seconds, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-60}
MODEL=${PARLANCE_MODEL:-models/default}
PORT=18183
make -s build >/dev/null
BIN=./target/release/parlance
OUT=$(mktemp -d)
$BIN serve --model "$MODEL" --port $PORT >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT/v1/parse"
rss() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
hwm() { awk '/^VmHWM/ {print $2}' /proc/$PID/status; }

# warm up, then idle memory
$BIN bench --url "$URL" --concurrency 2 --duration 3 --json >/dev/null
sleep 1
IDLE=$(rss)
SAT=$($BIN bench --url "$URL" --concurrency 32 --duration 10 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_rps"])')
RATE=$(python3 -c "print(round(2*$SAT))")
echo "idle RSS ${IDLE} kB; saturated throughput ${SAT} req/s; offering ${RATE} req/s for ${DURATION} s"

# a probe once a second during the overload: status and time of /health/live and /health/ready
( for _ in $(seq "$DURATION"); do
    for p in live ready; do
      curl -s -o /dev/null -m 2 -w "$p %{http_code} %{time_total}\n" "http://127.0.0.1:$PORT/health/$p" || echo "$p 000 2"
    done
    sleep 1
  done ) >"$OUT/probes.txt" &
PROBES=$!
PEAK=0
( while kill -0 $PID 2>/dev/null; do r=$(rss); [ "$r" -gt "$PEAK" ] && PEAK=$r; echo $PEAK >"$OUT/peak"; sleep 0.2; done ) &
WATCH=$!
$BIN bench --url "$URL" --rate "$RATE" --duration "$DURATION" --timeout 5 --json >"$OUT/overload.json"
wait $PROBES || true
kill $WATCH 2>/dev/null || true
python3 - "$OUT" "$IDLE" "$(cat $OUT/peak)" "$(hwm)" <<'PY'
import json, sys
out, idle, peak, hwm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = json.load(open(f"{out}/overload.json"))
probes = [l.split() for l in open(f"{out}/probes.txt")]
ok = sum(1 for p in probes if p[1] == "200")
print(f"offered {r['requests']} requests at {r['rate']:.0f} req/s: ok {r['ok']} ({r['throughput_rps']:.0f} req/s), errors {r['errors']}")
print(f"latency of answered requests ms: p50 {r['latency']['p50_ms']:.2f}, p99 {r['latency']['p99_ms']:.2f}")
print(f"health probes answered 200: {ok}/{len(probes)}, slowest {max(float(p[2]) for p in probes)*1000:.1f} ms")
print(f"memory: idle {idle/1024:.1f} MiB, peak sampled {peak/1024:.1f} MiB, kernel high-water mark {hwm/1024:.1f} MiB, ratio {max(peak, hwm)/idle:.2f}x (limit 1.5x)")
PY
