"""Static int8 (QDQ): activation scales calibrated once on MASSIVE train, fixed in the graph, so a
text's result never depends on what it is batched with (dynamic int8's per-batch scales do).

    python training/quantize_static.py --fp32 MODEL.fp32.onnx --tokenizer tokenizer.json --out MODEL.s8.onnx
"""
import argparse
import os
import random
import sys

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(__file__))
from common import DEFAULT_DATA, LOCALES, load_split  # noqa: E402
from parlance_text import words  # noqa: E402


PAD_TO = 32


class Reader(CalibrationDataReader):
    def __init__(self, tok, data, n, seed=13):
        pad_id = tok.token_to_id("<pad>") if tok.token_to_id("<pad>") is not None else 1
        rows = [r for loc in LOCALES for r in load_split(data, loc, "train")]
        random.Random(seed).shuffle(rows)
        self.feeds = []
        for r in rows[:n]:
            ws, _ = words(r["utt"], lowercase=True)
            enc = tok.encode(ws, is_pretokenized=True).ids[:PAD_TO]
            # one fixed shape: histogram calibrators (percentile, entropy) stack every feed
            ids = np.full((1, PAD_TO), pad_id, dtype=np.int64)
            mask = np.zeros((1, PAD_TO), dtype=np.int64)
            ids[0, :len(enc)] = enc
            mask[0, :len(enc)] = 1
            self.feeds.append({"input_ids": ids, "attention_mask": mask})
        self.it = iter(self.feeds)

    def get_next(self):
        return next(self.it, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fp32", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--calibration", type=int, default=300)
    ap.add_argument("--method", choices=["minmax", "percentile", "entropy"], default="percentile")
    ap.add_argument("--data", default=DEFAULT_DATA)
    a = ap.parse_args()
    tok = Tokenizer.from_file(a.tokenizer)
    pre = a.out + ".pre.onnx"
    quant_pre_process(a.fp32, pre, skip_optimization=False, skip_symbolic_shape=True)
    method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
              "entropy": CalibrationMethod.Entropy}[a.method]
    # Only products with a constant weight: attention's activation-by-activation MatMuls keep fp32
    # (quantising both of their inputs with fixed scales costs the most accuracy).
    g = onnx.load(pre).graph
    consts = {i.name for i in g.initializer}
    exclude = [n.name for n in g.node if n.op_type == "MatMul" and n.input[1] not in consts]
    quantize_static(pre, a.out, Reader(tok, a.data, a.calibration), quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=["MatMul", "Gather"], per_channel=True, nodes_to_exclude=exclude,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=method,
                    extra_options={"CalibPercentile": 99.99, "ActivationSymmetric": False, "WeightSymmetric": True})
    os.remove(pre)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
