"""Dev metrics: intent accuracy, seqeval-style span micro-F1 over words, exact match, ECE, temperature."""
import functools

import numpy as np


def spans(labels):
    """Entity spans (type, start, end) from BIO labels; an I-x after O or another type starts a
    new entity (seqeval's default, non-strict IOB2 behaviour)."""
    out, cur = set(), None
    for i, l in enumerate(list(labels) + ["O"]):
        if l == "O" or l.startswith("B-") or (l.startswith("I-") and (cur is None or cur[0] != l[2:])):
            if cur is not None:
                out.add((cur[0], cur[1], i))
                cur = None
            if l != "O":
                cur = (l[2:], i)
    return out


START = "<start>"


def transition_counts(label_rows):
    """Slot-tag bigram counts {from: {to: n}} over BIO label sequences (from = START for the
    first word): the `counts` of a bundle's slot_transitions.json (docs/bundle.md)."""
    out = {}
    for labels in label_rows:
        prev = START
        for l in labels:
            row = out.setdefault(prev, {})
            row[l] = row.get(l, 0) + 1
            prev = l
    return {f: dict(sorted(r.items())) for f, r in sorted(out.items())}


def transitions(slot_labels, counts=None, weight=0.0, smoothing=1.0):
    """[(K + 1) x K] additive transition scores, as src/decode.rs BioDecoder builds them: -inf
    where BIO forbids the pair (I-x only after B-x or I-x; row K is the start), else
    weight * ln P(to | from) with add-`smoothing` estimates from `counts` (0 without counts)."""
    k = len(slot_labels)
    index = {l: i for i, l in enumerate(slot_labels)}
    t = np.zeros((k + 1, k))
    if counts:
        c = np.zeros((k + 1, k))
        for f, row in counts.items():
            for to, n in row.items():
                c[k if f == START else index[f], index[to]] = n
        t = weight * np.log((c + smoothing) / (c.sum(1, keepdims=True) + smoothing * k))
    for j, l in enumerate(slot_labels):
        if l.startswith("I-"):
            ok = {j, index.get("B-" + l[2:], -1)}
            for f in range(k + 1):
                if f not in ok:
                    t[f, j] = -np.inf
    return t


@functools.lru_cache(maxsize=8)
def _valid_bio(slot_labels):
    """`transitions` without a prior, built once per label set (bio_path runs once per utterance)."""
    return transitions(list(slot_labels))


def bio_path(slot_logits, slot_labels, trans=None):
    """Slot label per word as the service decodes it (src/decode.rs, BioDecoder): the best
    sequence (Viterbi) of per-word log-probabilities plus transition scores `trans` (from
    `transitions`; default: valid BIO only, I-x only after B-x or I-x). Ties go to the lower
    label index. slot_logits: [n_words, n_labels]."""
    lg = np.asarray(slot_logits, dtype=np.float64)
    if len(lg) == 0:
        return []
    k = len(slot_labels)
    if trans is None:
        trans = _valid_bio(tuple(slot_labels))
    lp = lg - lg.max(-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    score = lp[0] + trans[k]
    back = []
    for row in lp[1:]:
        m = score[:, None] + trans[:k]
        prev = m.argmax(0)
        score = m[prev, np.arange(k)] + row
        back.append(prev)
    j = int(np.argmax(score))
    path = [j]
    for prev in reversed(back):
        j = int(prev[j])
        path.append(j)
    return path[::-1]


def softmax(x, T=1.0):
    z = x / T
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def ece(logits, gold, T=1.0, bins=15):
    p = softmax(np.asarray(logits, dtype=np.float64), T)
    conf, pred = p.max(-1), p.argmax(-1)
    acc = (pred == np.asarray(gold)).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    e = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            e += m.mean() * abs(acc[m].mean() - conf[m].mean())
    return float(e)


def fit_temperature(logits, gold):
    """Temperature minimising dev NLL (golden-section search on log T)."""
    x = np.asarray(logits, dtype=np.float64)
    g = np.asarray(gold)
    keep = g >= 0
    x, g = x[keep], g[keep]

    def nll(logt):
        z = x / np.exp(logt)
        z = z - z.max(-1, keepdims=True)
        return float(-(z[np.arange(len(g)), g] - np.log(np.exp(z).sum(-1))).mean())

    a, b = np.log(0.05), np.log(20.0)
    r = (np.sqrt(5) - 1) / 2
    c, d = b - r * (b - a), a + r * (b - a)
    for _ in range(80):
        if nll(c) < nll(d):
            b = d
        else:
            a = c
        c, d = b - r * (b - a), a + r * (b - a)
    return float(np.exp((a + b) / 2))


def score(rows, intent_logits, slot_preds, intents, slot_labels):
    """rows: dicts with intent, labels (gold BIO per word); slot_preds: label index per word."""
    tp = fp = fn = 0
    ok_int = ok_all = 0
    for r, lg, sp in zip(rows, intent_logits, slot_preds):
        pi = intents[int(np.argmax(lg))] == r["intent"]
        g = spans(r["labels"])
        p = spans([slot_labels[i] for i in sp])
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
        ok_int += pi
        ok_all += pi and g == p
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    n = len(rows)
    return {"intent_accuracy": ok_int / n, "slot_f1": f1, "exact_match": ok_all / n}
