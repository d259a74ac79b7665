#!/usr/bin/env bash
# Creates .ort/test-venv, the pinned Python environment that builds and checks test fixtures
# (tests/fixtures/make_hf_export.py: a tiny optimum-layout BERT export with reference outputs).
# Idempotent: does nothing when the venv already imports everything it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.ort/test-venv
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import onnx, tokenizers, numpy, onnxruntime, yaml" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check \
  onnx==1.23.2 tokenizers==0.23.3 numpy==2.4.6 onnxruntime==1.31.1 pyyaml==6.0.3
echo "test venv ready: $VENV"
