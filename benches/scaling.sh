#!/usr/bin/env bash
# Scaling with cores (issue 25, item 6): Parlance with no flags and in hand-picked layouts, and the
# Python peer (benches/peer) in every uvicorn workers × onnxruntime threads layout that fills the
# cores, each pinned with `taskset` to 1, 2, 4, 8, 16 cores (those this machine has), loaded by
# `parlance bench` at concurrency 1 and saturated. Writes the table and docs/scaling.svg into
# docs/performance.md (between the "scaling" markers), and everything measured into $OUT.
#
#     bash benches/scaling.sh [seconds per run, default 10] [core counts, default "1 2 4 8 16"]
#     SKIP_BUILD=1 bash benches/scaling.sh 8 "1 2"
#
# The load generator runs on the cores left over when there are any, else beside the servers
# (the report says which). Every point is one run; compare ratios within one run of the script.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
WANT=${2:-"1 2 4 8 16"}
MODEL=${PARLANCE_MODEL:-models/default}
SAT=${SATURATED_CONCURRENCY:-64}
VENV=benches/peer/.venv
NPROC=$(nproc)
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r benches/peer/requirements.txt
fi
[ -n "${SKIP_BUILD:-}" ] || make -s build >/dev/null
BIN=./target/release/parlance
OUT=${OUT:-$(mktemp -d)}
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
PID=
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

wait_live() { # port
  for _ in $(seq 300); do curl -sf "http://127.0.0.1:$1/health/live" >/dev/null && return 0; sleep 0.2; done
  echo "server on port $1 did not come up" >&2; return 1
}

client_cpus() { # cores given to the server
  if [ "$1" -lt "$NPROC" ]; then echo "$1-$((NPROC - 1))"; else echo "0-$((NPROC - 1))"; fi
}

point() { # cores server layout command...
  local cores=$1 server=$2 layout=$3; shift 3
  local port=18400 name="$server-$cores-${layout// /_}"
  taskset -c "0-$((cores - 1))" "$@" --port $port >"$OUT/$name.log" 2>&1 &
  PID=$!
  wait_live $port
  local client; client=$(client_cpus "$cores")
  # a short warm-up, then c=1 and saturated
  taskset -c "$client" $BIN bench --url "http://127.0.0.1:$port/v1/parse" --concurrency 4 --duration 1 --json >/dev/null
  for c in 1 $SAT; do
    taskset -c "$client" $BIN bench --url "http://127.0.0.1:$port/v1/parse" --concurrency $c --duration "$SECS" --json >"$OUT/$name-c$c.json"
  done
  local rss; rss=$(ps -o rss= --ppid $PID --pid $PID | awk '{s+=$1} END {print s}')
  kill $PID; wait $PID 2>/dev/null || true; PID=
  python3 - "$OUT/$name" "$cores" "$server" "$layout" "$client" "$rss" "$SAT" >>"$RESULTS" <<'PY'
import json, sys
base, cores, server, layout, client, rss, sat = sys.argv[1:]
one, full = (json.load(open(f"{base}-c{c}.json")) for c in (1, sat))
print(json.dumps({"cores": int(cores), "server": server, "layout": layout, "client_cpus": client, "rss_mb": int(rss) / 1024,
    "c1_p50": one["latency"]["p50_ms"], "c1_p99": one["latency"]["p99_ms"], "sat_rps": full["throughput_rps"],
    "sat_p50": full["latency"]["p50_ms"], "errors": sum(one["errors"].values()) + sum(full["errors"].values())}))
PY
  echo "$cores cores, $server $layout: $(tail -1 "$RESULTS")"
}

for k in $WANT; do
  [ "$k" -le "$NPROC" ] || { echo "skipping $k cores: this machine has $NPROC"; continue; }
  point "$k" parlance "no flags" $BIN serve --model "$MODEL"
  point "$k" parlance "${k}x1, no lane" $BIN serve --model "$MODEL" --inference-workers "$k" --intra-threads 1 --lane-threads 0
  [ "$k" -eq 1 ] || point "$k" parlance "1x$k" $BIN serve --model "$MODEL" --inference-workers 1 --intra-threads "$k"
  for w in 1 2 4 8 16; do
    [ $((k % w)) -eq 0 ] && [ "$w" -le "$k" ] || continue
    point "$k" peer "${w}x$((k / w))" "$VENV/bin/python" benches/peer/server.py --model "$MODEL" --workers "$w" --threads $((k / w))
  done
done

python3 benches/scaling_report.py "$RESULTS" docs/performance.md docs/scaling.svg \
  "bash benches/scaling.sh $SECS \"$WANT\"" "$NPROC"
echo "results: $RESULTS"
