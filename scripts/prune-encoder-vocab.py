#!/usr/bin/env python3
"""Writes a copy of a built encoder (scripts/build-encoder.py) whose vocabulary is cut to the pieces
of another XLM-R unigram tokenizer: by default models/default/tokenizer.json, the French/English
vocabulary of the default model (36,646 pieces, training/prune_vocab.py).

Kept: the word-embedding rows (emb.word.q, emb.word.scale: the Q4_0 blocks) of the pieces present in
both tokenizers, matched by piece string, in their original order (so <s>=0, <pad>=1, </s>=2,
<unk>=3 keep their ids); unigram scores are the source encoder's; the special tokens' ids in
added_tokens and the post-processor are remapped. Nothing else in the graph changes. Then parity:
pooled sentence vectors (mean of last_hidden_state, L2) of the pruned vs the source encoder on
MASSIVE en-US/fr-FR dev and on the Rasa projects' texts, with the count of texts that tokenize
differently (the same pieces, as strings). A separate script so that build-encoder.py, its hash
(which --verify checks) and the default build stay as they are.

  python scripts/prune-encoder-vocab.py --src models/encoders/e5-small --out /tmp/e5-pruned \
      [--vocab-from models/default/tokenizer.json] [--cased] [--data ../shared/data] [--no-parity]
"""
import argparse
import glob
import json
import os
import sys
import time

import build_encoder_module

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


BE = build_encoder_module.load()
sha256 = BE.sha256


def kept_ids(full_tok, vocab_tok, cased=False):
    """Ids (ascending) of the source pieces that the vocabulary tokenizer also holds (with `cased`,
    also each piece's capitalised form, "▁what" -> "▁What", where the source has it)."""
    want = {p for p, _ in vocab_tok["model"]["vocab"]}
    if cased:
        want |= {p[0] + p[1:2].upper() + p[2:] if p.startswith("\u2581") else p[:1].upper() + p[1:] for p in want}
        have = {p for p, _ in full_tok["model"]["vocab"]}
        want &= have | {a["content"] for a in vocab_tok.get("added_tokens", [])}
    want.update(a["content"] for a in vocab_tok.get("added_tokens", []))
    keep = [i for i, (p, _) in enumerate(full_tok["model"]["vocab"]) if p in want]
    missing = len(want - {p for p, _ in full_tok["model"]["vocab"]})
    return keep, missing


def prune_tokenizer(full_tok, keep):
    new_id = {old: new for new, old in enumerate(keep)}
    tok = dict(full_tok)
    model = dict(full_tok["model"])
    model["vocab"] = [full_tok["model"]["vocab"][i] for i in keep]
    model["unk_id"] = new_id[full_tok["model"]["unk_id"]]
    tok["model"] = model
    tok["added_tokens"] = [dict(a, id=new_id[a["id"]]) for a in full_tok["added_tokens"] if a["id"] in new_id]
    pp = json.loads(json.dumps(full_tok["post_processor"]))
    for spec in pp.get("special_tokens", {}).values():
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    tok["post_processor"] = pp
    return tok


def prune_model(src, dst, keep):
    import numpy as np
    import onnx
    from onnx import numpy_helper
    model = onnx.load(src)
    idx = np.asarray(keep, dtype=np.int64)
    done = []
    for init in model.graph.initializer:
        if init.name in ("emb.word.q", "emb.word.scale"):
            arr = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(arr[idx]), init.name))
            done.append(init.name)
    assert sorted(done) == ["emb.word.q", "emb.word.scale"], done
    onnx.save(model, dst)


def texts(data):
    """MASSIVE en-US/fr-FR dev utterances and every Rasa project's example texts."""
    import re
    out = {}
    for loc in ("en-US", "fr-FR"):
        path = os.path.join(data, "massive", f"{loc}.dev.jsonl")
        if os.path.exists(path):
            out[f"massive {loc} dev"] = [json.loads(l)["utt"] for l in open(path, encoding="utf-8") if l.strip()]
    rasa = []
    for path in sorted(glob.glob(os.path.join(data, "rasa", "*.yml"))):
        for line in open(path, encoding="utf-8"):
            m = re.match(r"^\s*- (.+)$", line)
            if m and not line.lstrip().startswith("- intent:"):
                # Rasa entity markup [text](entity) / [text]{...}: the text as the bot sees it
                rasa.append(re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", m.group(1)).strip().strip('"'))
    if rasa:
        out["rasa projects"] = rasa
    return out


def parity(src_dir, out_dir, data, threads=2):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer
    be = BE
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    runs = []
    for d in (src_dir, out_dir):
        runs.append((ort.InferenceSession(os.path.join(d, "model.onnx"), so, providers=["CPUExecutionProvider"]),
                     Tokenizer.from_file(os.path.join(d, "tokenizer.json"))))
    res = {}
    for name, ts in texts(data).items():
        ts = [f"query: {t}" for t in ts]
        (s0, t0), (s1, t1) = runs
        diff = sum(a.tokens != b.tokens for a, b in zip(t0.encode_batch(ts), t1.encode_batch(ts)))
        cos = (be.embed(s0, t0, ts, batch=32) * be.embed(s1, t1, ts, batch=32)).sum(1)
        res[name] = {"texts": len(ts), "tokenized_differently": diff,
                     "cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 5)}
        print(f"parity {name}: {len(ts)} texts, {diff} tokenized differently, "
              f"cosine mean {cos.mean():.5f} min {cos.min():.5f}")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=os.path.join(ROOT, "models", "encoders", "e5-small"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-from", default=os.path.join(ROOT, "models", "default", "tokenizer.json"))
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--cased", action="store_true",
                    help="also keep each kept piece's capitalised form (the default vocabulary is lowercase)")
    ap.add_argument("--no-parity", action="store_true")
    args = ap.parse_args()
    if os.path.abspath(args.out) == os.path.abspath(args.src):
        sys.exit("--out must differ from --src")
    t0 = time.time()
    meta = json.load(open(os.path.join(args.src, "encoder.json")))
    if meta["files"]["model"]["sha256"] != sha256(os.path.join(args.src, "model.onnx")):
        sys.exit(f"{args.src}/model.onnx does not match its encoder.json")
    full_tok = json.load(open(os.path.join(args.src, "tokenizer.json"), encoding="utf-8"))
    vocab_tok = json.load(open(args.vocab_from, encoding="utf-8"))
    keep, missing = kept_ids(full_tok, vocab_tok, args.cased)
    print(f"{len(keep)} of {len(full_tok['model']['vocab'])} pieces kept "
          f"({missing} of {args.vocab_from} not in the source)")
    os.makedirs(args.out, exist_ok=True)
    src_model = os.path.join(args.src, "model.onnx")
    model_path, tok_path = os.path.join(args.out, "model.onnx"), os.path.join(args.out, "tokenizer.json")
    prune_model(src_model, model_path, keep)
    with open(tok_path, "w", encoding="utf-8") as f:
        json.dump(prune_tokenizer(full_tok, keep), f, ensure_ascii=False)
    print(f"model.onnx: {os.path.getsize(model_path) / 1e6:.1f} MB (source {os.path.getsize(src_model) / 1e6:.1f} MB)")
    par = None if args.no_parity else parity(args.src, args.out, args.data)
    vocab_name = os.path.relpath(os.path.abspath(args.vocab_from), ROOT)
    meta["description"] = meta["description"].replace(
        "full XLM-R vocabulary", f"XLM-R vocabulary cut to the {len(keep)} pieces of {vocab_name}")
    meta["vocab_size"] = len(keep)
    meta["special_tokens"] = {k: keep.index(v) for k, v in meta["special_tokens"].items()}
    meta["files"] = {
        "model": {"path": "model.onnx", "sha256": sha256(model_path), "bytes": os.path.getsize(model_path)},
        "tokenizer": {"path": "tokenizer.json", "sha256": sha256(tok_path)}}
    meta["vocab_pruned"] = {
        "by": "scripts/prune-encoder-vocab.py", "by_sha256": sha256(os.path.abspath(__file__)),
        "vocab_from": vocab_name, "vocab_from_sha256": sha256(args.vocab_from),
        "source_model_sha256": sha256(src_model), "pieces": len(keep), "cased": args.cased,
        "parity_vs_source": par}
    with open(os.path.join(args.out, "encoder.json"), "w") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"encoder sha256 {meta['files']['model']['sha256']}; done in {time.time() - t0:.1f} s: {args.out}")


if __name__ == "__main__":
    main()
