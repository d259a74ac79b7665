#!/usr/bin/env bash
# Reloads under load: `parlance bench` runs 8 closed-loop clients against the default model for
# DURATION seconds, once without reloads (baseline), then while the model is reloaded RELOADS times
# through POST /admin/models/default/reload; then a reload onto a broken bundle must be refused while
# the old model keeps answering. Prints both bench reports side by side, every reload's status and
# time, and the memory before and after.
#
#     bash benches/reload.sh [DURATION seconds, default 30] [RELOADS, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-30}
RELOADS=${2:-20}
PORT=18184
KEY=reload-bench-key
make -s build >/dev/null
BIN=./target/release/parlance
OUT=$(mktemp -d)
# a copy of the default bundle, so that it can be broken on purpose at the end
cp -r models/default "$OUT/bundle"
$BIN serve --model "$OUT/bundle" --port $PORT --admin-key "$KEY" >"$OUT/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT/v1/parse"
rss() { awk '/^VmRSS/ {print $2}' /proc/$PID/status; }
reload() { curl -s -o "$OUT/reload.json" -w "%{http_code} %{time_total}" -X POST -H "x-api-key: $KEY" \
  "http://127.0.0.1:$PORT/admin/models/default/reload"; }

$BIN bench --url "$URL" --concurrency 8 --duration 3 --json >/dev/null   # warm-up
echo "idle RSS before: $(rss) kB"
$BIN bench --url "$URL" --concurrency 8 --duration "$DURATION" --json >"$OUT/baseline.json"

$BIN bench --url "$URL" --concurrency 8 --duration "$DURATION" --json >"$OUT/reloading.json" &
BENCH=$!
sleep 1
GAP=$(python3 -c "print(max(0.0, ($DURATION - 3) / $RELOADS))")
for i in $(seq "$RELOADS"); do
  echo "reload $i: $(reload)" >>"$OUT/reloads.txt"
  sleep "$GAP"
done
wait $BENCH
sleep 1
echo "idle RSS after $RELOADS reloads: $(rss) kB"

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
a, b = (json.load(open(f"{out}/{n}.json")) for n in ("baseline", "reloading"))
print(f"{'':24}{'baseline':>12}{'reloading':>12}")
for label, get in [("requests", lambda r: r["requests"]), ("ok", lambda r: r["ok"]),
                   ("failed", lambda r: r["requests"] - r["ok"]), ("req/s", lambda r: round(r["throughput_rps"], 1)),
                   ("p50 ms", lambda r: round(r["latency"]["p50_ms"], 2)), ("p99 ms", lambda r: round(r["latency"]["p99_ms"], 2)),
                   ("max ms", lambda r: round(r["latency"]["max_ms"], 2))]:
    print(f"{label:24}{get(a):>12}{get(b):>12}")
print("errors during reloads:", b["errors"] or "none")
lines = open(f"{out}/reloads.txt").read().split("\n")
codes = [l.split(": ")[1].split() for l in lines if l]
times = sorted(float(t) * 1000 for _, t in codes)
print(f"reloads: {len(codes)}, status 200: {sum(c == '200' for c, _ in codes)}, "
      f"time median {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms")
PY

# a broken bundle is refused and the old model keeps answering
python3 - "$OUT/bundle/parlance.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["intents"] = m["intents"][:3]
json.dump(m, open(sys.argv[1], "w"))
PY
echo "reload onto a broken bundle: $(reload) $(python3 -c "import json; e=json.load(open('$OUT/reload.json'))['error']; print(e['code'], '-', e['problems'][0]['message'][:90])")"
curl -s "$URL" -H 'content-type: application/json' -d '{"text": "réveille-moi à sept heures"}' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("still answering:", r["intent"]["name"], "generation", end=" ")'
curl -s "http://127.0.0.1:$PORT/v1/models" | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["generation"])'
