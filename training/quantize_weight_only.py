"""Weight-only 8-bit quantisation (MatMulNBits + GatherBlockQuantized), compared with dynamic int8.

Dynamic int8 (quantize_dynamic) quantises activations with one scale per tensor, computed over the
whole padded batch: a text's scores then depend on what it is batched with, and padding. Weight-only
quantisation keeps activations per row (accuracy_level 4 quantises them per block of each row), so
a result no longer depends on its batch. This script measures both on MASSIVE dev: agreement with
the fp32 graph, batch/padding drift, size, one-thread latency.

    python training/quantize_weight_only.py --fp32 training/work/onnx-l8/model.fp32.onnx \
        --tokenizer training/work/model-l8/tokenizer.json --out training/work/onnx-l8/model.w8.onnx
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnxruntime.quantization import matmul_nbits_quantizer as mnb
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(__file__))
from common import DEFAULT_DATA, LOCALES, load_split  # noqa: E402
from export_bundle import latency, onnx_predict, padding_check, session  # noqa: E402
from parlance_text import words  # noqa: E402


def items_for(tok, data):
    out = []
    for loc in LOCALES:
        for r in load_split(data, loc, "dev"):
            ws, _ = words(r["utt"], lowercase=True)
            e = tok.encode(ws, is_pretokenized=True)
            first, seen = [], set()
            for t, w in enumerate(e.word_ids):
                if w is not None and w not in seen:
                    seen.add(w)
                    first.append(t)
            out.append({"ids": e.ids[:64], "first": [f for f in first if f < 64], "n_words": len(ws)})
    return out


def weight_only(src, dst, block, level):
    model = onnx.load(src)
    cfg = mnb.DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=level,
                                           bits=8, op_types_to_quantize=("MatMul", "Gather"))
    q = mnb.MatMulNBitsQuantizer(model, algo_config=cfg)
    q.process()
    q.model.save_model_to_file(dst, use_external_data_format=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--compare", nargs="*", default=[], help="other quantised graphs to measure alongside")
    ap.add_argument("--out", required=True)
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--level", type=int, default=4)
    ap.add_argument("--data", default=DEFAULT_DATA)
    a = ap.parse_args()
    tok = Tokenizer.from_file(a.tokenizer)
    pad = tok.token_to_id("<pad>") if tok.token_to_id("<pad>") is not None else 1
    items = items_for(tok, a.data)
    weight_only(a.fp32, a.out, a.block, a.level)
    ref, _ = onnx_predict(session(a.fp32), items, pad)
    for path in [a.out] + a.compare:
        s = session(path)
        logits, _ = onnx_predict(s, items, pad)
        agree = float((logits.argmax(1) == ref.argmax(1)).mean())
        d_int, d_slot, same, n = padding_check(s, items, pad)
        lat = latency(path, tok)
        print(json.dumps({"graph": os.path.basename(path), "size_mb": round(os.path.getsize(path) / 1e6, 1),
                          "intent_agreement_with_fp32": round(agree, 4), "batch_drift_intent_logit": d_int,
                          "batch_drift_slot_logit": d_slot, "same_argmax_alone_vs_batched": f"{same}/{n}",
                          "latency_1_thread_ms": round(lat["median_ms"], 2)}), flush=True)


if __name__ == "__main__":
    main()
