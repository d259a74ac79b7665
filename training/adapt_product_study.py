#!/usr/bin/env python3
"""`parlance train --adapt` against the frozen encoder, through the product (issue 24 item 3).

The brief's protocol for real bots: MASSIVE (en-US, fr-FR), N examples per intent drawn from
train, a quarter of the intents (15 of 60) held out of training and used as off-topic messages.
MASSIVE dev: its even rows (in-scope, and the held-out intents' rows relabelled `out_of_scope`) are
`--dev` (threshold chosen there), its odd rows are scored by `parlance eval`. Both arms train on the
same files with the same binary; only `--adapt` differs. Prints one row per (locale, draw, arm) and
the means: served in-scope accuracy, in-scope rejected, off-topic recall, Matthews correlation,
intent accuracy on in-scope rows, training seconds. `parlance eval` runs each text alone
(`--max-batch-size 1`), as a lone request is served, so that a rerun gives the same numbers.

    cargo build --release && python3 training/adapt_product_study.py --per-intent 10 --seeds 0,1,2
    python3 training/adapt_product_study.py --per-intent 10 --oos-train 150   # off-topic trained as an intent
    # another binary (the one before a change) against this one, both frozen; chit-chat lines of
    # the locale (training/chitchat_background.py) as more off-topic messages of dev and test
    python3 training/adapt_product_study.py --baseline OLD/parlance --far /tmp/bg/background.jsonl [--holdout 0]
    # an owner without dev data: the held-out fifth of the training data chooses the threshold
    python3 training/adapt_product_study.py --baseline OLD/parlance --baseline-arm=--fast --no-dev
    # named arms of this binary (KEY=VALUE tokens go to the environment)
    python3 training/adapt_product_study.py --arm "default=" --arm "six-epochs=--adapt-epochs 6"

Needs the encoder's top layer (`make setup`). Stdlib only.
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def draw(data, locale, per, seed, work, oos_train=0, far=None, holdout=True, skew=None):
    train = read(os.path.join(data, f"{locale}.train.jsonl"))
    dev = read(os.path.join(data, f"{locale}.dev.jsonl"))
    intents = sorted({r["intent"] for r in train})
    rng = random.Random(seed)
    held = set(rng.sample(intents, len(intents) // 4 if holdout else 0))
    by = {}
    for r in train:
        by.setdefault(r["intent"], []).append(r)
    rows = []
    share = {}
    for r in dev:
        share[r["intent"]] = share.get(r["intent"], 0) + 1
    for name in intents:
        if name in held:
            continue
        pool = by[name][:]
        rng.shuffle(pool)
        n = per
        if skew == "random":
            # real bots: intents with two examples beside intents with many
            n = round(math.exp(math.log(2) + rng.random() * (math.log(per) - math.log(2))))
        elif skew == "traffic":
            # as many examples as the intent has traffic (its share of dev), from 2 to `per`
            n = min(per, max(2, round(per * share.get(name, 0) / max(share.values()))))
        rows += pool[:n]
    # off-topic examples trained as an intent (`out_of_scope`): rows of the held-out intents
    off = [dict(r, intent="out_of_scope", annot_utt=r["utt"]) for r in train if r["intent"] in held]
    rng.shuffle(off)
    rows += off[:oos_train]

    def relabel(r):
        if r["intent"] in held:
            # off-topic: no slots either
            return dict(r, intent="out_of_scope", annot_utt=r["utt"])
        return r

    dev = [relabel(r) for r in dev]
    if far:
        # far off-topic messages, alternating between the two halves like dev's own rows
        lines = [r for r in read(far) if r["locale"] == locale]
        dev = [x for pair in zip(dev[0::2], dev[1::2]) for x in pair] + [
            dict(id=f"far-{i}", locale=locale, intent="out_of_scope", utt=r["utt"], annot_utt=r["utt"], partition="far") for i, r in enumerate(lines)
        ]
    paths = {k: os.path.join(work, f"{locale}-{seed}-{k}.jsonl") for k in ("train", "dev", "test")}
    write(paths["train"], rows)
    write(paths["dev"], dev[0::2])
    write(paths["test"], dev[1::2])
    return paths, len(rows)


def run(binary, args, env=None):
    p = subprocess.run([binary] + args, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "massive"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "parlance"))
    ap.add_argument("--locales", default="en-US,fr-FR")
    ap.add_argument("--per-intent", type=int, default=10)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--oos-train", type=int, default=0, help="off-topic rows trained as out_of_scope")
    ap.add_argument("--baseline", help="another parlance binary: arms baseline (no flags) and --baseline-arm (this one) instead of frozen and adapt")
    ap.add_argument("--baseline-arm", default="--fast", help="this binary's options against --baseline (default --fast: both frozen for a binary before adaptation was the default)")
    ap.add_argument("--no-dev", action="store_true", help="train without --dev (the held-out split chooses the threshold, as an owner without dev data)")
    ap.add_argument("--far", help="JSONL of off-topic lines with a locale field (chit-chat), added to dev and test")
    ap.add_argument("--skew", choices=["random", "traffic"], help="examples per intent from 2 to --per-intent: log-uniform at random, or following the intent's share of dev")
    ap.add_argument("--holdout", type=int, default=1, help="0: no intent held out (off-topic: --far only)")
    ap.add_argument("--rank", type=int, help="--adapt-rank for the adapted arms (default: parlance's)")
    ap.add_argument("--arm", action="append", default=[], metavar="NAME=OPTIONS",
                    help="instead of the default arms: NAME trained with OPTIONS (KEY=VALUE tokens are set in the environment); repeatable")
    ap.add_argument("--layers", default="1", help="comma-separated --adapt-layers values: one adapted arm each (\"adapt\" for 1, \"adaptN\" else)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="adapt-study-")
    print("locale\tseed\tarm\texamples\tserved\trejected\trecall\tmcc\ttrain_s")
    means = {}
    for locale in args.locales.split(","):
        for seed in map(int, args.seeds.split(",")):
            paths, n = draw(args.data, locale, args.per_intent, seed, work, args.oos_train, args.far, args.holdout == 1, args.skew)
            arms = [("frozen", args.binary, ["--fast"])] + [
                ("adapt" if k == "1" else f"adapt{k}", args.binary, ["--adapt", "--adapt-epochs", str(args.epochs), "--adapt-layers", k]
                 + (["--adapt-rank", str(args.rank)] if args.rank is not None else []))
                for k in args.layers.split(",")]
            if args.baseline:
                arms = [("baseline", args.baseline, []), ("this", args.binary, args.baseline_arm.split())]
            if args.arm:
                arms = [(a.split("=", 1)[0], args.binary, a.split("=", 1)[1].split()) for a in args.arm]
            for arm, binary, extra in arms:
                env = dict(x.split("=", 1) for x in extra if "=" in x and x.split("=", 1)[0].isupper())
                extra = [x for x in extra if not ("=" in x and x.split("=", 1)[0].isupper())]
                out = os.path.join(work, f"bot-{locale}-{seed}-{arm}")
                t = time.time()
                dev = [] if args.no_dev else ["--dev", paths["dev"]]
                run(binary, ["train", "--data", paths["train"], "--out", out, "--json"] + dev + extra, env)
                secs = time.time() - t
                rep = json.loads(run(binary, ["eval", "--model", out, "--data", paths["test"], "--json", "--latency-samples", "0", "--max-batch-size", "1"]))
                o = rep["off_topic"]
                row = (100 * o["in_scope_accuracy"], 100 * o["in_scope_rejected"], 100 * (o["off_topic_recall"] or 0), 100 * o["mcc"], secs)
                means.setdefault((locale, arm), []).append(row)
                print(f"{locale}\t{seed}\t{arm}\t{n}\t" + "\t".join(f"{v:.2f}" for v in row[:4]) + f"\t{secs:.0f}", flush=True)
    print("\nmeans: locale\tarm\tserved\trejected\trecall\tmcc\ttrain_s")
    for (locale, arm), rows in means.items():
        m = [sum(r[i] for r in rows) / len(rows) for i in range(5)]
        print(f"{locale}\t{arm}\t" + "\t".join(f"{v:.2f}" for v in m[:4]) + f"\t{m[4]:.0f}")


if __name__ == "__main__":
    main()
