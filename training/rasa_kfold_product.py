#!/usr/bin/env python3
"""5-fold cross-validation on the Rasa example projects, through the product: `parlance train`
then `parlance eval` on every fold, one arm per set of `parlance train` options.

The projects of `encoder_study.py rasa` (../shared/data/rasa, intents with at least 5 examples,
files with at least 4 such intents; demo-rasa-multi-intent.yml is scored but left out of the total,
its examples being demo-rasa.yml's), annotations stripped to their text. Fold k holds every fifth
example of each intent from the k-th (stratified, no randomness); the others train (no `--dev`: the
held-out split of `parlance train` chooses the threshold, as a bot owner's run does). Prints, per
project and arm, the served intent accuracy on the held-out folds (a rejection by the bundle's own
threshold counts as wrong) and the share rejected, then the totals and the training seconds.

    .ort/test-venv/bin/python training/rasa_kfold_product.py --arms "fast=--fast" "default="

Needs numpy and PyYAML (the test venv, `make setup-test`) and `cargo build --release`.
"""
import argparse
import json
import os
import shlex
import tempfile
import time
from collections import Counter, defaultdict

from adapt_product_study import run  # stdlib only
from encoder_study import rasa_intent_examples as examples  # numpy, PyYAML (the test venv)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_FROM_TOTAL = {"demo-rasa-multi-intent.yml"}


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for t, intent in rows:
            f.write(json.dumps({"locale": "en-US", "intent": intent, "utt": t, "annot_utt": t.replace("[", "(").replace("]", ")")}, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "rasa"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "parlance"))
    ap.add_argument("--arms", nargs="+", default=["fast=--fast", "default="], help="NAME=OPTIONS of parlance train")
    ap.add_argument("--folds", type=int, default=5)
    a = ap.parse_args()
    arms = [(s.split("=", 1)[0], shlex.split(s.split("=", 1)[1])) for s in a.arms]
    work = tempfile.mkdtemp(prefix="rasa-kfold-")
    total = defaultdict(lambda: [0, 0, 0, 0.0])  # arm -> rejected, served right, n, seconds
    print("project\texamples\tintents\tarm\tserved %\trejected %\ttrain s")
    for fn in sorted(os.listdir(a.data)):
        ex = examples(os.path.join(a.data, fn)) if fn.endswith(".yml") else None
        if ex is None:
            continue
        count = Counter(i for _, i in ex)
        keep = [(t, i) for t, i in ex if count[i] >= 5]
        if len({i for _, i in keep}) < 4:
            continue
        seen = Counter()
        fold_of = []
        for _, i in keep:
            fold_of.append(seen[i] % a.folds)
            seen[i] += 1
        for arm, extra in arms:
            rejected = served = 0
            secs = 0.0
            for k in range(a.folds):
                d = os.path.join(work, f"{fn}-{arm}-{k}")
                os.makedirs(d)
                write(os.path.join(d, "train.jsonl"), [r for r, f in zip(keep, fold_of) if f != k])
                test = [r for r, f in zip(keep, fold_of) if f == k]
                write(os.path.join(d, "test.jsonl"), test)
                t = time.time()
                run(a.binary, ["train", "--data", os.path.join(d, "train.jsonl"), "--out", os.path.join(d, "bot"), "--json"] + extra)
                secs += time.time() - t
                rep = json.loads(run(a.binary, ["eval", "--model", os.path.join(d, "bot"), "--data", os.path.join(d, "test.jsonl"),
                                                "--json", "--latency-samples", "0", "--max-batch-size", "1"]))
                served += round(rep["overall"]["intent_accuracy"] * len(test))
                rejected += round(rep["off_topic"]["in_scope_rejected"] * len(test))
            n = len(keep)
            print(f"{fn}\t{n}\t{len({i for _, i in keep})}\t{arm}\t{100 * served / n:.1f}\t{100 * rejected / n:.1f}\t{secs:.0f}", flush=True)
            if fn not in SKIP_FROM_TOTAL:
                t_ = total[arm]
                t_[0] += rejected
                t_[1] += served
                t_[2] += n
                t_[3] += secs
    print("\nall projects: arm\texamples\tserved %\trejected %\ttrain s")
    for arm, (h, s, n, secs) in total.items():
        print(f"{arm}\t{n}\t{100 * s / n:.1f}\t{100 * h / n:.1f}\t{secs:.0f}")


if __name__ == "__main__":
    main()
