"""Prune the XLM-R unigram vocabulary to the pieces French/English text needs.

Kept: every piece the MASSIVE en-US/fr-FR train+dev texts use (words per parlance_text, lowercased,
pre-tokenized), pieces of the wfrench/wamerican word lists (lowercased), all special tokens and every
single-character piece (with and without the '▁' word marker). The embedding matrix is remapped,
ids keep their original order (so <s>=0, <pad>=1, </s>=2, <unk>=3 are unchanged) and scores are kept.

Usage: python training/prune_vocab.py --src training/work/e5-fp32 --out training/work/e5-pruned
"""
import argparse
import copy
import json
import os
import shutil
import sys

import torch
from tokenizers import Tokenizer
from transformers import BertModel

from common import DEFAULT_DATA, LOCALES, load_split

WORDLISTS = ["/usr/share/dict/french", "/usr/share/dict/american-english"]


def piece_ids(tok, word_lists, batch=4096):
    used = set()
    for i in range(0, len(word_lists), batch):
        for enc in tok.encode_batch(word_lists[i:i + batch], is_pretokenized=True, add_special_tokens=False):
            used.update(enc.ids)
    return used


def unk_rate(tok, rows, unk_id):
    n = u = 0
    for enc in tok.encode_batch([r["words"] for r in rows], is_pretokenized=True, add_special_tokens=False):
        n += len(enc.ids)
        u += sum(1 for i in enc.ids if i == unk_id)
    return u, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=DEFAULT_DATA)
    args = ap.parse_args()

    tj = json.load(open(os.path.join(args.src, "tokenizer.json"), encoding="utf-8"))
    tok = Tokenizer.from_file(os.path.join(args.src, "tokenizer.json"))
    vocab = tj["model"]["vocab"]
    unk_id = tj["model"]["unk_id"]
    data = {(loc, sp): load_split(args.data, loc, sp) for loc in LOCALES for sp in ("train", "dev")}

    keep = set(a["id"] for a in tj["added_tokens"])
    keep.add(unk_id)
    for rows in data.values():
        keep |= piece_ids(tok, [r["words"] for r in rows])
    n_massive = len(keep)
    for path in WORDLISTS:
        if not os.path.exists(path):
            sys.exit(f"missing {path}: apt-get install -y wfrench wamerican")
        ws = sorted({w.strip().lower() for w in open(path, encoding="utf-8") if w.strip()})
        keep |= piece_ids(tok, [[w] for w in ws])
        print(f"{path}: {len(ws)} words -> {len(keep)} pieces kept so far")
    for i, (p, _) in enumerate(vocab):
        if len(p) == 1 or (len(p) == 2 and p[0] == "\u2581"):
            keep.add(i)
    old_ids = sorted(keep)
    remap = {o: n for n, o in enumerate(old_ids)}
    print(f"pieces: MASSIVE+specials {n_massive}, total kept {len(old_ids)} of {len(vocab)}")

    nj = copy.deepcopy(tj)
    nj["model"]["vocab"] = [vocab[o] for o in old_ids]
    nj["model"]["unk_id"] = remap[unk_id]
    for a in nj["added_tokens"]:
        a["id"] = remap[a["id"]]
    pp = nj["post_processor"]
    for k, v in pp.get("special_tokens", {}).items():
        v["ids"] = [remap[i] for i in v["ids"]]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(nj, f, ensure_ascii=False)
    ntok = Tokenizer.from_file(os.path.join(args.out, "tokenizer.json"))

    # consistency: every MASSIVE text tokenizes to the same pieces
    mism = 0
    for rows in data.values():
        a = tok.encode_batch([r["words"] for r in rows], is_pretokenized=True)
        b = ntok.encode_batch([r["words"] for r in rows], is_pretokenized=True)
        for x, y in zip(a, b):
            if [remap.get(i, -1) for i in x.ids] != y.ids:
                mism += 1
    print(f"MASSIVE train+dev texts tokenized differently after pruning: {mism}")
    for loc in LOCALES:
        u0, n0 = unk_rate(tok, data[(loc, "dev")], unk_id)
        u1, n1 = unk_rate(ntok, data[(loc, "dev")], remap[unk_id])
        print(f"{loc} dev unknown-token rate: before {u0}/{n0} = {u0 / n0:.5%}, after {u1}/{n1} = {u1 / n1:.5%}")
        assert u1 <= u0, "unknown rate rose"

    model = BertModel.from_pretrained(args.src, add_pooling_layer=False)
    emb = model.embeddings.word_embeddings.weight.data
    new = torch.nn.Embedding(len(old_ids), emb.shape[1])
    new.weight.data = emb[torch.tensor(old_ids)].clone()
    model.embeddings.word_embeddings = new
    model.config.vocab_size = len(old_ids)
    model.config.pad_token_id = ntok.token_to_id("<pad>")
    model.save_pretrained(args.out)
    print(f"saved pruned model ({len(old_ids)} x {emb.shape[1]}) to {args.out}")


if __name__ == "__main__":
    main()
