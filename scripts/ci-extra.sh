#!/usr/bin/env bash
# The checks beyond `make test` that need a running server or extra tools, each bounded in time:
#   1. schemathesis against /openapi.json of a running server: no 5xx, no schema violation;
#   2. cargo fuzz on request decoding, text and entities, and the whole parse path;
#   3. the playground page in Debian's headless Chromium, leaving screenshots in target/browser/.
#   4. the Dockerfile: hadolint, and a compile from exactly the paths it copies.
# Installs what it needs: Python tools in .ort/ci-venv (pinned), chromium from Debian, cargo-fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-45}
VENV=.ort/ci-venv
if [ ! -x "$VENV/bin/schemathesis" ] || [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import selenium" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet schemathesis==4.32.5 selenium==4.51.0
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) >/dev/null
fi
cargo build --release --locked --bin parlance
BIN=./target/release/parlance
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
start() { # port, extra args...
  local port=$1; shift
  $BIN serve --port "$port" "$@" >"target/server-$port.log" 2>&1 & PIDS+=($!)
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return 0; sleep 0.2; done
  echo "server on $port did not start"; cat "target/server-$port.log"; return 1
}

echo "== schemathesis"
start 18301 --model tests/fixtures/tiny
"$VENV/bin/schemathesis" run http://127.0.0.1:18301/openapi.json \
  --checks all --max-examples 60 --max-failures 5 --request-timeout 10 --seed 7 --no-color

echo "== cargo fuzz (${FUZZ_SECONDS}s per target)"
if ! command -v cargo-fuzz >/dev/null; then
  cargo install --quiet cargo-fuzz --version 0.13.2 --locked
fi
for target in request_body text_and_entities parse_pipeline; do
  # stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags; no sanitizer is needed to
  # find panics in safe Rust.
  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none --release "$target" -- \
    -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 -print_final_stats=1 2>&1 | tail -n 4
done

echo "== browser test of the playground"
start 18302
start 18303 --models-config deploy/models.example.toml
TRAIN_DIR=$(mktemp -d)
start 18304 --admin-key browser-admin --models-dir "$TRAIN_DIR" --encoder tests/fixtures/tiny-encoder
mkdir -p target/browser
"$VENV/bin/python" tests/browser/playground_test.py http://127.0.0.1:18302 target/browser http://127.0.0.1:18303 http://127.0.0.1:18304
rm -rf "$TRAIN_DIR"

echo "== Dockerfile: hadolint and its build context"
./scripts/check-dockerfile.sh
