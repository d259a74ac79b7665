"""How fast can this CPU run the encoder's weight MatMuls alone, in int8, on one thread?

The shipped graph spends most of its time in MatMulInteger. This script times a graph that holds
*only* those MatMuls, with the encoder's shapes (per layer: Q, K, V and output 384x384, FFN
384x1536 and 1536x384), and nothing else: no attention, LayerNorm, GELU, quantise/dequantise or
embedding. Its median is a floor for the whole encoder on this CPU with onnxruntime's kernels:
a model with that many layers cannot parse faster than this.

    training/.venv/bin/python training/int8_floor.py [--tokens 14,20] [--layers 6,12] \
        [--model models/default/model.onnx]

With --model, that graph (inputs input_ids / attention_mask, one utterance of the same token
counts) is timed in the same run, after the floors, so the two can be compared on a noisy machine.

Needs only numpy, onnx and onnxruntime (the pins in requirements.txt).
"""
import argparse
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HIDDEN, FFN = 384, 1536
# (rows of the input, columns of the weight) of the six weight MatMuls of one BERT layer
LAYER_SHAPES = [(HIDDEN, HIDDEN)] * 4 + [(HIDDEN, FFN), (FFN, HIDDEN)]


def matmuls_only(layers, dtype):
    """One graph: `layers` x 6 independent MatMul(Integer)s with the encoder's weight shapes.
    Inputs are fed, not computed, so the timing is the GEMMs alone."""
    rng = np.random.default_rng(0)
    inputs, outputs, nodes, inits = [], [], [], []
    for k in ("a384", "a1536"):
        width = HIDDEN if k == "a384" else FFN
        elem = TensorProto.UINT8 if dtype == "int8" else TensorProto.FLOAT
        inputs.append(helper.make_tensor_value_info(k, elem, ["tokens", width]))
    if dtype == "int8":
        inits.append(numpy_helper.from_array(np.array(128, dtype=np.uint8), "zp"))
    for i in range(layers * len(LAYER_SHAPES)):
        rows, cols = LAYER_SHAPES[i % len(LAYER_SHAPES)]
        x = "a384" if rows == HIDDEN else "a1536"
        w = rng.standard_normal((rows, cols)).astype(np.float32)
        if dtype == "int8":
            inits.append(numpy_helper.from_array(np.clip(np.round(w * 30), -127, 127).astype(np.int8), f"w{i}"))
            nodes.append(helper.make_node("MatMulInteger", [x, f"w{i}", "zp"], [f"y{i}"]))
            outputs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.INT32, ["tokens", cols]))
        else:
            inits.append(numpy_helper.from_array(w, f"w{i}"))
            nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"y{i}"]))
            outputs.append(helper.make_tensor_value_info(f"y{i}", TensorProto.FLOAT, ["tokens", cols]))
    g = helper.make_graph(nodes, "matmuls_only", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(m)
    return m.SerializeToString()


def feed_for(tokens, kind):
    """Inputs for a MatMuls-only graph ("int8" / "fp32") or for a bundle's graph ("model")."""
    rng = np.random.default_rng(1)
    if kind == "int8":
        return {"a384": rng.integers(0, 256, (tokens, HIDDEN), dtype=np.uint8),
                "a1536": rng.integers(0, 256, (tokens, FFN), dtype=np.uint8)}
    if kind == "fp32":
        return {"a384": rng.standard_normal((tokens, HIDDEN)).astype(np.float32),
                "a1536": rng.standard_normal((tokens, FFN)).astype(np.float32)}
    ids = rng.integers(5, 1000, (1, tokens)).astype(np.int64)  # any in-vocabulary ids: the cost is the same
    return {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def median_ms(model, tokens, kind, runs, rounds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    feed = feed_for(tokens, kind)
    for _ in range(20):
        sess.run(None, feed)
    best = np.inf
    for _ in range(rounds):  # best of several rounds: the machine is shared
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            sess.run(None, feed)
            ts.append((time.perf_counter() - t) * 1000)
        best = min(best, float(np.median(ts)))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", default="14,20", help="token counts (10-word en / fr sentences: 14 / 20)")
    ap.add_argument("--layers", default="6,12")
    ap.add_argument("--model", default="", help="also time this whole graph (e.g. models/default/model.onnx)")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    macs_layer = sum(r * c for r, c in LAYER_SHAPES)
    print(f"onnxruntime {ort.__version__}, 1 thread; weight MatMuls only ({macs_layer:,} MACs per token per layer)")
    print("layers  tokens  dtype  median_ms  GMAC/s")
    for layers in [int(x) for x in args.layers.split(",")]:
        graphs = {d: matmuls_only(layers, d) for d in ("int8", "fp32")}
        for tokens in [int(x) for x in args.tokens.split(",")]:
            for dtype, g in graphs.items():
                ms = median_ms(g, tokens, dtype, args.runs, args.rounds)
                gmacs = layers * macs_layer * tokens / ms / 1e6
                print(f"{layers:6d}  {tokens:6d}  {dtype:5s}  {ms:9.2f}  {gmacs:6.1f}", flush=True)
    if args.model:
        for tokens in [int(x) for x in args.tokens.split(",")]:
            ms = median_ms(args.model, tokens, "model", args.runs, args.rounds)
            print(f"{args.model}: {tokens} tokens, whole graph {ms:.2f} ms", flush=True)


if __name__ == "__main__":
    main()
